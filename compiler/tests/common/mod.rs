//! Test support: building ONNX models in Rust (no Python needed), compiling them, and running
//! the program on every backend.
#![allow(dead_code)]

use kiln::onnx::proto::{
    self, attribute_proto::AttributeType, tensor_shape_proto, type_proto, AttributeProto,
    GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorShapeProto, TypeProto,
    ValueInfoProto,
};
use kiln::run::{self, Backend};
use kiln::tensor::{DType, Tensor};
use prost::Message;

/// A dim of a declared input/output: known or symbolic.
#[derive(Clone)]
pub enum D {
    K(i64),
    S(&'static str),
}

pub fn vi(name: &str, dtype: DType, dims: &[D]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| tensor_shape_proto::Dimension {
            value: Some(match d {
                D::K(v) => tensor_shape_proto::dimension::Value::DimValue(*v),
                D::S(s) => tensor_shape_proto::dimension::Value::DimParam(s.to_string()),
            }),
            ..Default::default()
        })
        .collect();
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(dtype.to_onnx()),
                shape: Some(TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub enum A {
    I(i64),
    F(f32),
    Is(Vec<i64>),
    Fs(Vec<f32>),
    S(&'static str),
    T(Tensor),
    G(GraphProto),
}

pub fn node(op: &str, name: &str, ins: &[&str], outs: &[&str], attrs: Vec<(&str, A)>) -> NodeProto {
    NodeProto {
        input: ins.iter().map(|s| s.to_string()).collect(),
        output: outs.iter().map(|s| s.to_string()).collect(),
        name: Some(name.into()),
        op_type: Some(op.into()),
        attribute: attrs
            .into_iter()
            .map(|(n, a)| {
                let mut p = AttributeProto {
                    name: Some(n.into()),
                    ..Default::default()
                };
                match a {
                    A::I(v) => {
                        p.r#type = Some(AttributeType::Int as i32);
                        p.i = Some(v);
                    }
                    A::F(v) => {
                        p.r#type = Some(AttributeType::Float as i32);
                        p.f = Some(v);
                    }
                    A::Is(v) => {
                        p.r#type = Some(AttributeType::Ints as i32);
                        p.ints = v;
                    }
                    A::Fs(v) => {
                        p.r#type = Some(AttributeType::Floats as i32);
                        p.floats = v;
                    }
                    A::S(v) => {
                        p.r#type = Some(AttributeType::String as i32);
                        p.s = Some(v.as_bytes().to_vec());
                    }
                    A::T(t) => {
                        p.r#type = Some(AttributeType::Tensor as i32);
                        p.t = Some(kiln::onnx::tensor_to_proto(&t));
                    }
                    A::G(g) => {
                        p.r#type = Some(AttributeType::Graph as i32);
                        p.g = Some(g);
                    }
                }
                p
            })
            .collect(),
        ..Default::default()
    }
}

pub fn init(name: &str, t: &Tensor) -> proto::TensorProto {
    let mut p = kiln::onnx::tensor_to_proto(t);
    p.name = Some(name.into());
    p
}

pub fn model(
    opset: i64,
    inputs: Vec<ValueInfoProto>,
    outputs: Vec<ValueInfoProto>,
    nodes: Vec<NodeProto>,
    inits: Vec<proto::TensorProto>,
) -> ModelProto {
    ModelProto {
        ir_version: Some(8),
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(opset),
        }],
        graph: Some(GraphProto {
            name: Some("test".into()),
            node: nodes,
            input: inputs,
            output: outputs,
            initializer: inits,
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn bytes(m: &ModelProto) -> Vec<u8> {
    m.encode_to_vec()
}

/// Compile a model held in memory.
pub fn compile(m: &ModelProto) -> kiln::Result<kiln::compile::Compiled> {
    let g = kiln::onnx::import(m, std::path::Path::new("."))?;
    kiln::compile::compile_graph(g, &kiln::Options::new("t"))
}

/// Run on a backend; outputs as tensors.
pub fn run_on(
    c: &kiln::compile::Compiled,
    b: Backend,
    inputs: &[Tensor],
) -> kiln::Result<Vec<Tensor>> {
    let p = &c.program;
    let prep = run::prepare_compiled(c, inputs)?;
    let loaded = run::load(p, b)?;
    let r = run::execute(p, &loaded, &[&prep])?
        .pop()
        .expect("one result");
    run::outputs_compiled(c, &prep, r)
}

/// Backends compared with interp in every op test. The C and Rust backends are slower to
/// invoke (a compiler run each); set KILN_TEST_BACKENDS=interp,jit to skip them locally.
pub fn backends() -> Vec<Backend> {
    match std::env::var("KILN_TEST_BACKENDS") {
        Ok(s) => Backend::parse_list(&s).expect("KILN_TEST_BACKENDS"),
        Err(_) => Backend::ALL.to_vec(),
    }
}

/// Run on interp and every other backend; assert bit-identical outputs; return interp's.
pub fn run_all(c: &kiln::compile::Compiled, inputs: &[Tensor]) -> Vec<Tensor> {
    let reference = run_on(c, Backend::Interp, inputs).expect("interp runs");
    for b in backends() {
        if b == Backend::Interp {
            continue;
        }
        let got = run_on(c, b, inputs).unwrap_or_else(|e| panic!("{b}: {e}"));
        assert_eq!(got.len(), reference.len());
        for (k, (g, r)) in got.iter().zip(&reference).enumerate() {
            assert_eq!(g.shape, r.shape, "{b} output {k} shape");
            assert_eq!(g.dtype, r.dtype, "{b} output {k} dtype");
            if let kiln::tensor::TensorData::Strings(_) = &g.data {
                assert_eq!(g.data, r.data, "{b} output {k}");
                continue;
            }
            if g.bytes() != r.bytes() {
                // NaNs may differ in payload; compare element-wise treating NaN == NaN.
                for i in 0..g.numel() as usize {
                    let (x, y) = (g.get_f64(i), r.get_f64(i));
                    assert!(
                        x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
                        "{b} output {k} element {i}: {x} vs interp {y} (not bit-identical)"
                    );
                }
            }
        }
    }
    reference
}

pub fn f32s(shape: &[u64], f: impl Fn(usize) -> f32) -> Tensor {
    let n: u64 = shape.iter().product();
    let v: Vec<f32> = (0..n as usize).map(f).collect();
    Tensor::from_f32(shape.to_vec(), &v)
}

pub fn to_f32(t: &Tensor) -> Vec<f32> {
    (0..t.numel() as usize)
        .map(|i| t.get_f64(i) as f32)
        .collect()
}

/// A deterministic pseudo-random value in [-2, 2).
pub fn rnd(i: usize) -> f32 {
    let x = (i as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .rotate_left(17);
    ((x >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0
}
