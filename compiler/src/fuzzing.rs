//! Entry points of the fuzz targets (`fuzz/`, cargo fuzz). They live in the library so that
//! the crash inputs kept in `tests/fuzz-regressions/<target>/` replay through exactly the same
//! code in a plain `cargo test` (`compiler/tests/fuzz_regressions.rs`).
//!
//! Every entry point takes arbitrary bytes and may return normally for any input: a clear
//! `Error` is the expected outcome for a bad model. It panics only on a Kiln bug: a panic inside
//! Kiln, an `Error::Internal` (a verifier caught an inconsistency), or (differential target)
//! the JIT and `kir::interp` disagreeing.
//!
//! - [`onnx_load`]: bytes → `onnx::load_bytes` → `import` → the whole compile pipeline.
//! - [`mutate_compile`]: a valid model plus a mutation script (attributes, shapes, dtypes,
//!   initializer sizes, node wiring), then the compile pipeline to kir and `kir::verify`.
//! - [`jit_vs_interp`]: a random small graph of supported ops built from the bytes, compiled,
//!   run on the Cranelift JIT and on `kir::interp`, outputs compared bit for bit (any NaN
//!   equals any NaN: docs/kir.md leaves NaN payloads open).

use crate::compile::{compile_graph, Options};
use crate::error::Error;
use crate::limits::Limits;
use crate::onnx::proto::{
    attribute_proto::AttributeType, tensor_shape_proto, type_proto, AttributeProto, GraphProto,
    ModelProto, NodeProto, OperatorSetIdProto, TensorProto, TensorShapeProto, TypeProto,
    ValueInfoProto,
};
use crate::run::{self, Backend};
use crate::tensor::{DType, Tensor};
use prost::Message;
use std::path::Path;

/// The names of the fuzz targets, as in `fuzz/fuzz_targets/NAME.rs`.
pub const TARGETS: &[&str] = &["onnx_load", "mutate_compile", "jit_vs_interp"];

/// Runs the entry point of target `name` on `data`. Panics on an unknown name.
pub fn run_target(name: &str, data: &[u8]) {
    match name {
        "onnx_load" => onnx_load(data),
        "mutate_compile" => mutate_compile(data),
        "jit_vs_interp" => jit_vs_interp(data),
        _ => panic!("unknown fuzz target {name}"),
    }
}

/// Limits for fuzzing: small enough that no input can make one run allocate more than a few
/// hundred MiB (libFuzzer's default RSS limit is 2 GiB).
pub fn fuzz_limits() -> Limits {
    Limits {
        max_tensor_bytes: 1 << 24,
        max_nodes: 1 << 14,
        max_depth: 16,
        max_fold_bytes: 1 << 20,
    }
}

/// External data is resolved under this folder, which does not exist: fuzz inputs never read
/// the file system.
const NO_DIR: &str = "/nonexistent/kiln-fuzz";

/// Compiles `model` with the fuzz limits; panics on an internal error.
fn compile_checked(model: &ModelProto) {
    let limits = fuzz_limits();
    let g = match crate::onnx::import_with(model, Path::new(NO_DIR), &limits) {
        Ok(g) => g,
        Err(e) => return expect_clean(e),
    };
    let mut opts = Options::new("f");
    opts.limits = limits;
    match compile_graph(g, &opts) {
        Ok(c) => {
            if let Err(e) = crate::kir::verify::verify(&c.program) {
                panic!("kir::verify rejects the compiled program: {e}");
            }
        }
        Err(e) => expect_clean(e),
    }
}

fn expect_clean(e: Error) {
    if let Error::Internal(m) = e {
        panic!("internal error: {m}");
    }
    // Every other error must say something.
    assert!(!e.to_string().trim().is_empty(), "an empty error message");
}

/// Target `onnx_load`: arbitrary bytes as a model file.
pub fn onnx_load(data: &[u8]) {
    if let Ok(model) = crate::onnx::load_bytes(data) {
        compile_checked(&model);
    }
}

/// Reads fuzzer bytes as choices; past the end every choice is 0.
pub struct Bytes<'a> {
    data: &'a [u8],
}

impl<'a> Bytes<'a> {
    pub fn new(data: &'a [u8]) -> Bytes<'a> {
        Bytes { data }
    }
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    /// A number in `0..n` (0 when `n == 0`).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        if n <= 256 {
            self.u8() as usize % n
        } else {
            self.u32() as usize % n
        }
    }
    pub fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }
    /// An integer attribute or dim: mostly small, sometimes a boundary value.
    pub fn int(&mut self) -> i64 {
        const EDGE: [i64; 12] = [
            0,
            1,
            -1,
            2,
            -2,
            i64::MAX,
            i64::MIN,
            i32::MAX as i64,
            i32::MIN as i64,
            1 << 32,
            1 << 40,
            -(1 << 40),
        ];
        match self.u8() % 4 {
            0 => EDGE[self.below(EDGE.len())],
            1 => self.u32() as i32 as i64,
            _ => (self.u8() % 8) as i64 - 2,
        }
    }
    pub fn float(&mut self) -> f32 {
        const EDGE: [f32; 8] = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            1e30,
        ];
        if self.bool() {
            EDGE[self.below(EDGE.len())]
        } else {
            f32::from_bits(self.u32())
        }
    }
}

/// Splits a `mutate_compile` input: `[script length: u16 LE][script][model bytes]`.
pub fn split_mutate_input(data: &[u8]) -> (&[u8], &[u8]) {
    if data.len() < 2 {
        return (data, &[]);
    }
    let n = (u16::from_le_bytes([data[0], data[1]]) as usize).min(data.len() - 2);
    (&data[2..2 + n], &data[2 + n..])
}

/// Builds a `mutate_compile` input from a script and a model (seeds the corpus).
pub fn join_mutate_input(script: &[u8], model: &[u8]) -> Vec<u8> {
    let n = script.len().min(u16::MAX as usize);
    let mut v = (n as u16).to_le_bytes().to_vec();
    v.extend_from_slice(&script[..n]);
    v.extend_from_slice(model);
    v
}

/// Target `mutate_compile`: a model (decoded with prost) mutated by the script, then compiled.
pub fn mutate_compile(data: &[u8]) {
    let (script, model) = split_mutate_input(data);
    let Ok(mut m) = ModelProto::decode(model) else {
        return;
    };
    let mut b = Bytes::new(script);
    let steps = 1 + b.below(8);
    for _ in 0..steps {
        if b.is_empty() {
            break;
        }
        if let Some(g) = m.graph.as_mut() {
            mutate_graph(g, &mut b);
        }
    }
    compile_checked(&m);
}

fn all_names(g: &GraphProto) -> Vec<String> {
    let mut v: Vec<String> = g.input.iter().filter_map(|i| i.name.clone()).collect();
    v.extend(g.initializer.iter().filter_map(|t| t.name.clone()));
    for n in &g.node {
        v.extend(n.output.iter().cloned());
    }
    v
}

const DTYPES: [i32; 12] = [1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 16, 0];

fn mutate_dims(dims: &mut Vec<tensor_shape_proto::Dimension>, b: &mut Bytes) {
    use tensor_shape_proto::dimension::Value;
    match b.below(4) {
        0 if !dims.is_empty() => {
            let k = b.below(dims.len());
            dims.remove(k);
        }
        1 => dims.push(tensor_shape_proto::Dimension {
            value: Some(Value::DimValue(b.int())),
            ..Default::default()
        }),
        2 if !dims.is_empty() => {
            let k = b.below(dims.len());
            dims[k].value = Some(Value::DimParam(format!("s{}", b.below(3))));
        }
        _ if !dims.is_empty() => {
            let k = b.below(dims.len());
            dims[k].value = Some(Value::DimValue(b.int()));
        }
        _ => {}
    }
}

fn mutate_value_info(v: &mut ValueInfoProto, b: &mut Bytes) {
    let Some(TypeProto {
        value: Some(type_proto::Value::TensorType(t)),
        ..
    }) = v.r#type.as_mut()
    else {
        return;
    };
    if b.bool() {
        t.elem_type = Some(DTYPES[b.below(DTYPES.len())]);
    } else {
        let s = t.shape.get_or_insert_with(TensorShapeProto::default);
        mutate_dims(&mut s.dim, b);
    }
}

fn mutate_attr(a: &mut AttributeProto, b: &mut Bytes) {
    match b.below(8) {
        0 => {
            a.i = Some(b.int());
            a.r#type = Some(AttributeType::Int as i32);
        }
        1 => {
            let k = b.below(a.ints.len() + 1);
            if k < a.ints.len() {
                a.ints[k] = b.int();
            } else {
                a.ints.push(b.int());
            }
        }
        2 if !a.ints.is_empty() => {
            let k = b.below(a.ints.len());
            a.ints.remove(k);
        }
        3 => a.f = Some(b.float()),
        4 => {
            let k = b.below(a.floats.len() + 1);
            if k < a.floats.len() {
                a.floats[k] = b.float();
            } else {
                a.floats.push(b.float());
            }
        }
        5 => a.r#type = Some(b.below(16) as i32),
        6 => {
            if let Some(t) = a.t.as_mut() {
                mutate_tensor(t, b);
            } else if let Some(g) = a.g.as_mut() {
                mutate_graph(g, b);
            }
        }
        _ => {
            const STR: [&[u8]; 6] = [b"", b"NOTSET", b"SAME_UPPER", b"constant", b"xyz", b"\xff"];
            a.s = Some(STR[b.below(STR.len())].to_vec());
        }
    }
}

fn mutate_tensor(t: &mut TensorProto, b: &mut Bytes) {
    match b.below(6) {
        0 => t.data_type = Some(DTYPES[b.below(DTYPES.len())]),
        1 if !t.dims.is_empty() => {
            let k = b.below(t.dims.len());
            t.dims[k] = b.int();
        }
        2 => {
            if b.bool() && !t.dims.is_empty() {
                t.dims.pop();
            } else {
                t.dims.push(b.int());
            }
        }
        3 => {
            if let Some(r) = t.raw_data.as_mut() {
                let n = b.below(r.len() + 1);
                r.truncate(n);
            } else if !t.float_data.is_empty() {
                t.float_data.pop();
            } else if !t.int64_data.is_empty() {
                t.int64_data.pop();
            }
        }
        4 => {
            // Change one element of the data (an index, a shape, a value).
            if let Some(r) = t.raw_data.as_mut() {
                if !r.is_empty() {
                    let k = b.below(r.len());
                    r[k] = b.u8();
                }
            } else if !t.int64_data.is_empty() {
                let k = b.below(t.int64_data.len());
                t.int64_data[k] = b.int();
            } else if !t.float_data.is_empty() {
                let k = b.below(t.float_data.len());
                t.float_data[k] = b.float();
            }
        }
        _ => {
            t.raw_data = None;
            t.float_data.clear();
            t.int64_data.clear();
            t.int32_data.clear();
        }
    }
}

fn mutate_graph(g: &mut GraphProto, b: &mut Bytes) {
    match b.below(10) {
        // An attribute.
        0 | 1 if !g.node.is_empty() => {
            let n = b.below(g.node.len());
            let node = &mut g.node[n];
            if node.attribute.is_empty() || b.below(4) == 0 {
                const NAMES: [&str; 10] = [
                    "axis",
                    "axes",
                    "perm",
                    "keepdims",
                    "pads",
                    "strides",
                    "group",
                    "to",
                    "alpha",
                    "kernel_shape",
                ];
                node.attribute.push(AttributeProto {
                    name: Some(NAMES[b.below(NAMES.len())].into()),
                    r#type: Some(AttributeType::Int as i32),
                    i: Some(b.int()),
                    ..Default::default()
                });
            } else {
                let k = b.below(node.attribute.len());
                if b.below(5) == 0 {
                    node.attribute.remove(k);
                } else {
                    mutate_attr(&mut node.attribute[k], b);
                }
            }
        }
        // An input or output type.
        2 | 3 => {
            let (ni, no) = (g.input.len(), g.output.len());
            let k = b.below(ni + no);
            if k < ni {
                mutate_value_info(&mut g.input[k], b);
            } else if k - ni < no {
                mutate_value_info(&mut g.output[k - ni], b);
            }
        }
        // An initializer.
        4 if !g.initializer.is_empty() => {
            let k = b.below(g.initializer.len());
            mutate_tensor(&mut g.initializer[k], b);
        }
        // Wiring: a node input or output renamed to another value (or to "").
        5 | 6 if !g.node.is_empty() => {
            let names = all_names(g);
            let n = b.below(g.node.len());
            let node = &mut g.node[n];
            let pick = |b: &mut Bytes| {
                if names.is_empty() || b.below(8) == 0 {
                    String::new()
                } else {
                    names[b.below(names.len())].clone()
                }
            };
            match b.below(4) {
                0 => {
                    let s = pick(b);
                    node.input.push(s);
                }
                1 if !node.input.is_empty() => {
                    let k = b.below(node.input.len());
                    node.input.remove(k);
                }
                2 if !node.output.is_empty() => {
                    let k = b.below(node.output.len());
                    node.output[k] = pick(b);
                }
                _ if !node.input.is_empty() => {
                    let k = b.below(node.input.len());
                    node.input[k] = pick(b);
                }
                _ => {}
            }
        }
        // Node order and count.
        7 if g.node.len() > 1 => {
            let (i, j) = (b.below(g.node.len()), b.below(g.node.len()));
            g.node.swap(i, j);
        }
        8 if !g.node.is_empty() => {
            let k = b.below(g.node.len());
            if b.bool() {
                g.node.remove(k);
            } else {
                let n = g.node[k].clone();
                g.node.insert(k, n);
            }
        }
        // The op type, among those of the model and a few more.
        _ if !g.node.is_empty() => {
            const OPS: [&str; 8] = [
                "Reshape", "Gather", "Expand", "Tile", "Slice", "Pad", "Concat", "Resize",
            ];
            let k = b.below(g.node.len());
            let j = b.below(g.node.len() + OPS.len());
            let op = if j < g.node.len() {
                g.node[j].op_type.clone()
            } else {
                Some(OPS[j - g.node.len()].to_string())
            };
            g.node[k].op_type = op;
        }
        _ => {}
    }
}

// ---- the differential target -------------------------------------------------------------

/// A value of the random graph.
#[derive(Clone)]
struct Val {
    name: String,
    dtype: DType,
    shape: Vec<i64>,
}

struct GraphGen {
    inputs: Vec<(Val, Tensor)>,
    nodes: Vec<NodeProto>,
    vals: Vec<Val>,
    next: usize,
}

fn attr_i(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Int as i32),
        i: Some(v),
        ..Default::default()
    }
}

fn attr_is(name: &str, v: Vec<i64>) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Ints as i32),
        ints: v,
        ..Default::default()
    }
}

fn attr_f(name: &str, v: f32) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Float as i32),
        f: Some(v),
        ..Default::default()
    }
}

fn value_info(v: &Val) -> ValueInfoProto {
    ValueInfoProto {
        name: Some(v.name.clone()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(v.dtype.to_onnx()),
                shape: Some(TensorShapeProto {
                    dim: v
                        .shape
                        .iter()
                        .map(|d| tensor_shape_proto::Dimension {
                            value: Some(tensor_shape_proto::dimension::Value::DimValue(*d)),
                            ..Default::default()
                        })
                        .collect(),
                }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Broadcast of two shapes (None when incompatible).
fn broadcast(a: &[i64], b: &[i64]) -> Option<Vec<i64>> {
    let r = a.len().max(b.len());
    let mut out = vec![0; r];
    for k in 0..r {
        let x = if k + a.len() >= r {
            a[k + a.len() - r]
        } else {
            1
        };
        let y = if k + b.len() >= r {
            b[k + b.len() - r]
        } else {
            1
        };
        out[k] = if x == y || y == 1 {
            x
        } else if x == 1 {
            y
        } else {
            return None;
        };
    }
    Some(out)
}

impl GraphGen {
    fn fresh(&mut self) -> String {
        self.next += 1;
        format!("v{}", self.next)
    }

    /// A new graph input of `dtype` and `shape` with data from the bytes.
    fn input(&mut self, b: &mut Bytes, dtype: DType, shape: Vec<i64>) -> Val {
        let n: i64 = shape.iter().product();
        let ushape: Vec<u64> = shape.iter().map(|d| *d as u64).collect();
        let t = match dtype {
            DType::F32 => {
                let v: Vec<f32> = (0..n)
                    .map(|_| match b.below(4) {
                        0 => b.float(),
                        _ => (b.u8() as i8) as f32 / 16.0,
                    })
                    .collect();
                Tensor::from_f32(ushape, &v)
            }
            DType::I64 => {
                let v: Vec<i64> = (0..n).map(|_| b.int()).collect();
                Tensor::from_i64(ushape, &v)
            }
            _ => {
                let size = dtype.size().unwrap_or(1);
                let bytes: Vec<u8> = (0..n as usize * size).map(|_| b.u8()).collect();
                Tensor::from_bytes(dtype, ushape, bytes)
            }
        };
        let v = Val {
            name: format!("in{}", self.inputs.len()),
            dtype,
            shape,
        };
        self.inputs.push((v.clone(), t));
        self.vals.push(v.clone());
        v
    }

    fn node(&mut self, op: &str, ins: &[&Val], attrs: Vec<AttributeProto>, out: (DType, Vec<i64>)) {
        let name = self.fresh();
        self.nodes.push(NodeProto {
            input: ins.iter().map(|v| v.name.clone()).collect(),
            output: vec![name.clone()],
            name: Some(format!("n{}", self.nodes.len())),
            op_type: Some(op.into()),
            attribute: attrs,
            ..Default::default()
        });
        self.vals.push(Val {
            name,
            dtype: out.0,
            shape: out.1,
        });
    }

    /// A value of one of `dtypes`, or a new input of `dtype[0]`.
    fn pick(&mut self, b: &mut Bytes, dtypes: &[DType]) -> Val {
        let ok: Vec<usize> = (0..self.vals.len())
            .filter(|k| dtypes.contains(&self.vals[*k].dtype))
            .collect();
        if ok.is_empty() || b.below(6) == 0 {
            let shape = self.shape(b);
            return self.input(b, dtypes[0], shape);
        }
        self.vals[ok[b.below(ok.len())]].clone()
    }

    fn shape(&mut self, b: &mut Bytes) -> Vec<i64> {
        let r = b.below(4);
        (0..r).map(|_| 1 + b.below(4) as i64).collect()
    }

    /// A shape broadcastable with `s`: some dims set to 1, maybe fewer dims.
    fn bshape(&mut self, b: &mut Bytes, s: &[i64]) -> Vec<i64> {
        let drop = b.below(s.len() + 1);
        s[drop..]
            .iter()
            .map(|d| if b.below(3) == 0 { 1 } else { *d })
            .collect()
    }

    fn step(&mut self, b: &mut Bytes) {
        const UNARY: [&str; 18] = [
            "Abs",
            "Neg",
            "Exp",
            "Log",
            "Sqrt",
            "Relu",
            "Sigmoid",
            "Tanh",
            "Floor",
            "Ceil",
            "Reciprocal",
            "Sin",
            "Cos",
            "Erf",
            "Round",
            "Sign",
            "Softplus",
            "Identity",
        ];
        const BINARY: [&str; 7] = ["Add", "Sub", "Mul", "Div", "Min", "Max", "Pow"];
        const INT_BINARY: [&str; 6] = ["Add", "Sub", "Mul", "Div", "Min", "Max"];
        const CMP: [&str; 4] = ["Less", "Greater", "Equal", "LessOrEqual"];
        const REDUCE: [&str; 5] = [
            "ReduceMax",
            "ReduceMin",
            "ReduceMean",
            "ReduceProd",
            "ReduceSumSquare",
        ];
        let f = DType::F32;
        match b.below(12) {
            0..=2 => {
                let a = self.pick(b, &[f]);
                let op = UNARY[b.below(UNARY.len())];
                self.node(op, &[&a], vec![], (f, a.shape.clone()));
            }
            3 | 4 => {
                let a = self.pick(b, &[f]);
                let bs = self.bshape(b, &a.shape);
                let y = if b.bool() {
                    self.input(b, f, bs)
                } else {
                    self.pick(b, &[f])
                };
                if let Some(s) = broadcast(&a.shape, &y.shape) {
                    let op = BINARY[b.below(BINARY.len())];
                    let (x, y) = if b.bool() { (&a, &y) } else { (&y, &a) };
                    self.node(op, &[x, y], vec![], (f, s));
                }
            }
            5 => {
                // Integers: Cast to int32/int64, arithmetic, Cast back.
                let to = if b.bool() { DType::I32 } else { DType::I64 };
                let a = self.pick(b, &[f]);
                self.node(
                    "Cast",
                    &[&a],
                    vec![attr_i("to", to.to_onnx() as i64)],
                    (to, a.shape.clone()),
                );
                let x = self.vals.last().unwrap().clone();
                let bs = self.bshape(b, &x.shape);
                let y = self.input(b, to, bs);
                if let Some(s) = broadcast(&x.shape, &y.shape) {
                    let op = INT_BINARY[b.below(INT_BINARY.len())];
                    self.node(op, &[&x, &y], vec![], (to, s.clone()));
                    let z = self.vals.last().unwrap().clone();
                    self.node("Cast", &[&z], vec![attr_i("to", 1)], (f, s));
                }
            }
            6 => {
                // Where(cmp(a, b), x, y)
                let a = self.pick(b, &[f]);
                let c = self.pick(b, &[f]);
                let Some(s) = broadcast(&a.shape, &c.shape) else {
                    return;
                };
                let op = CMP[b.below(CMP.len())];
                self.node(op, &[&a, &c], vec![], (DType::Bool, s.clone()));
                let cond = self.vals.last().unwrap().clone();
                let x = self.pick(b, &[f]);
                if let Some(s2) = broadcast(&s, &x.shape) {
                    self.node(
                        "Where",
                        &[&cond, &x, &a],
                        vec![],
                        (f, broadcast(&s2, &a.shape).unwrap()),
                    );
                }
            }
            7 => {
                let a = self.pick(b, &[f]);
                if a.shape.is_empty() {
                    return;
                }
                let r = a.shape.len() as i64;
                let axis = b.below(a.shape.len()) as i64 - if b.bool() { r } else { 0 };
                let keep = b.bool();
                let op = REDUCE[b.below(REDUCE.len())];
                let ax = axis.rem_euclid(r) as usize;
                let mut s = a.shape.clone();
                if keep {
                    s[ax] = 1;
                } else {
                    s.remove(ax);
                }
                self.node(
                    op,
                    &[&a],
                    vec![attr_is("axes", vec![axis]), attr_i("keepdims", keep as i64)],
                    (f, s),
                );
            }
            8 => {
                let a = self.pick(b, &[f]);
                let mut perm: Vec<i64> = (0..a.shape.len() as i64).collect();
                for k in (1..perm.len()).rev() {
                    let j = b.below(k + 1);
                    perm.swap(k, j);
                }
                let s = perm.iter().map(|p| a.shape[*p as usize]).collect();
                self.node("Transpose", &[&a], vec![attr_is("perm", perm)], (f, s));
            }
            9 => {
                let a = self.pick(b, &[f]);
                if a.shape.is_empty() {
                    return;
                }
                let axis = b.below(a.shape.len()) as i64;
                let op = ["Softmax", "LogSoftmax"][b.below(2)];
                self.node(op, &[&a], vec![attr_i("axis", axis)], (f, a.shape.clone()));
            }
            10 => {
                let a = self.pick(b, &[f]);
                if a.shape.is_empty() {
                    return;
                }
                let k = *a.shape.last().unwrap();
                let n = 1 + b.below(4) as i64;
                let w = self.input(b, f, vec![k, n]);
                let mut s = a.shape.clone();
                *s.last_mut().unwrap() = n;
                self.node("MatMul", &[&a, &w], vec![], (f, s));
            }
            _ => {
                let a = self.pick(b, &[f]);
                if b.bool() {
                    self.node(
                        "LeakyRelu",
                        &[&a],
                        vec![attr_f("alpha", b.float())],
                        (f, a.shape.clone()),
                    );
                } else {
                    let lo = self.input(b, f, vec![]);
                    let hi = self.input(b, f, vec![]);
                    self.node("Clip", &[&a, &lo, &hi], vec![], (f, a.shape.clone()));
                }
            }
        }
    }
}

/// Builds the random graph of `jit_vs_interp`: the model and its input tensors.
pub fn random_graph(data: &[u8]) -> (ModelProto, Vec<Tensor>) {
    let mut b = Bytes::new(data);
    let mut gen = GraphGen {
        inputs: vec![],
        nodes: vec![],
        vals: vec![],
        next: 0,
    };
    let steps = 1 + b.below(8);
    for _ in 0..steps {
        gen.step(&mut b);
    }
    if gen.nodes.is_empty() {
        let a = gen.pick(&mut b, &[DType::F32]);
        gen.node("Neg", &[&a], vec![], (DType::F32, a.shape.clone()));
    }
    // The last value is an output; so is, sometimes, an earlier node's.
    let mut outs = vec![gen.vals.last().unwrap().clone()];
    let produced: Vec<Val> = gen
        .vals
        .iter()
        .filter(|v| v.name.starts_with('v') && v.name != outs[0].name)
        .cloned()
        .collect();
    if !produced.is_empty() && b.bool() {
        outs.push(produced[b.below(produced.len())].clone());
    }
    let model = ModelProto {
        ir_version: Some(8),
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(17),
        }],
        graph: Some(GraphProto {
            name: Some("fuzz".into()),
            node: gen.nodes,
            input: gen.inputs.iter().map(|(v, _)| value_info(v)).collect(),
            output: outs.iter().map(value_info).collect(),
            ..Default::default()
        }),
        ..Default::default()
    };
    (model, gen.inputs.into_iter().map(|(_, t)| t).collect())
}

/// Target `jit_vs_interp`: a random graph on the JIT and on the interpreter, bit for bit.
pub fn jit_vs_interp(data: &[u8]) {
    let (model, inputs) = random_graph(data);
    let g = crate::onnx::import(&model, Path::new(NO_DIR))
        .unwrap_or_else(|e| panic!("the generated graph does not import: {e}"));
    let mut opts = Options::new("f");
    // Without constant folding, the ops run on both backends and not in the folder only.
    opts.disabled.push(crate::passes::CONST_FOLD.to_string());
    let c = match compile_graph(g, &opts) {
        Ok(c) => c,
        Err(e) => panic!("the generated graph does not compile: {e}"),
    };
    let run = |be: Backend| -> Result<Vec<Tensor>, String> {
        let prep = run::prepare_compiled(&c, &inputs).map_err(|e| e.to_string())?;
        let loaded = run::load(&c.program, be).map_err(|e| format!("load: {e}"))?;
        let r = run::execute(&c.program, &loaded, &[&prep])
            .map_err(|e| e.to_string())?
            .pop()
            .expect("one result");
        run::outputs_compiled(&c, &prep, r).map_err(|e| e.to_string())
    };
    let want = run(Backend::Interp);
    let got = run(Backend::Jit);
    match (&want, &got) {
        (Ok(w), Ok(g)) => compare(w, g),
        (Err(w), Err(g)) if w == g => {}
        _ => panic!(
            "interp and jit disagree:\n interp: {:?}\n jit: {:?}",
            want.map(|_| "ok"),
            got.map(|_| "ok")
        ),
    }
}

fn compare(want: &[Tensor], got: &[Tensor]) {
    assert_eq!(want.len(), got.len(), "number of outputs");
    for (k, (w, g)) in want.iter().zip(got).enumerate() {
        assert_eq!(w.shape, g.shape, "output {k} shape");
        assert_eq!(w.dtype, g.dtype, "output {k} dtype");
        if w.bytes() == g.bytes() {
            continue;
        }
        for i in 0..w.numel() as usize {
            let (x, y) = (w.get_f64(i), g.get_f64(i));
            assert!(
                x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
                "output {k} element {i}: interp {x:e} ({:#x}) vs jit {y:e} ({:#x})",
                x.to_bits(),
                y.to_bits()
            );
        }
    }
}
