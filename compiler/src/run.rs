//! Running a compiled program on concrete tensors, on any backend: binding symbolic dims from
//! the inputs' shapes (with a clear error for a wrong shape or dtype), computing buffer
//! lengths, and collecting outputs as tensors. Used by `kiln run`, `kiln check` and tests.

use crate::backend::exec::{self, NativeBackend, RunRequest, RunResult};
use crate::compile::Compiled;
use crate::error::{Error, Result};
use crate::kir::{self, IoDim, Program, Status};
use crate::tensor::{DType, Tensor};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Backend {
    Interp,
    Jit,
    Object,
    C,
    Rust,
}

impl Backend {
    pub const ALL: [Backend; 5] = [
        Backend::Interp,
        Backend::Jit,
        Backend::Object,
        Backend::C,
        Backend::Rust,
    ];
    pub fn parse_list(s: &str) -> Result<Vec<Backend>> {
        let mut v = vec![];
        for p in s.split(',') {
            match p.trim() {
                "all" => v.extend(Backend::ALL),
                "interp" => v.push(Backend::Interp),
                "jit" => v.push(Backend::Jit),
                "object" | "obj" => v.push(Backend::Object),
                "c" => v.push(Backend::C),
                "rust" => v.push(Backend::Rust),
                o => {
                    return Err(Error::Usage(format!(
                        "unknown backend '{o}' (interp, jit, object, c, rust, all)"
                    )))
                }
            }
        }
        v.sort();
        v.dedup();
        Ok(v)
    }
    pub fn name(self) -> &'static str {
        match self {
            Backend::Interp => "interp",
            Backend::Jit => "jit",
            Backend::Object => "object",
            Backend::C => "c",
            Backend::Rust => "rust",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A request prepared from input tensors: dims bound, lengths computed.
pub struct Prepared {
    pub req: RunRequest,
    pub out_shapes: Vec<Vec<u64>>,
    pub scratch_bytes: usize,
    /// Input strings that are not in the model's table: the k-th distinct one has id -2-k,
    /// so an unknown string that reaches an output (through Identity, Gather, ...) comes back.
    pub unknown_strings: Vec<Vec<u8>>,
}

/// The ONNX element types of a compiled model's inputs and outputs. The program only knows
/// its buffers' storage types, and float16/bfloat16 are stored as uint16.
pub struct IoTypes {
    pub inputs: Vec<DType>,
    pub outputs: Vec<DType>,
}

impl IoTypes {
    pub fn of(c: &Compiled) -> IoTypes {
        let g = &c.model.graph;
        let ty = |v: &crate::ir::ValueId| g.value(*v).ty.as_ref().map_or(DType::U8, |t| t.dtype);
        IoTypes {
            inputs: g.inputs.iter().map(ty).collect(),
            outputs: g.outputs.iter().map(ty).collect(),
        }
    }
}

/// `prepare` for a compiled model: input dtypes are checked exactly (float16 is not uint16).
pub fn prepare_compiled(c: &Compiled, inputs: &[Tensor]) -> Result<Prepared> {
    prepare_as(&c.program, Some(&IoTypes::of(c).inputs), inputs)
}

/// `outputs` for a compiled model: tensors get the graph's output dtypes.
pub fn outputs_compiled(c: &Compiled, prep: &Prepared, r: RunResult) -> Result<Vec<Tensor>> {
    outputs_as(&c.program, Some(&IoTypes::of(c).outputs), prep, r)
}

/// Bind dims from the inputs' shapes and check them against the program's inputs (dtypes by
/// their storage type: a float16 input takes a float16 tensor, or uint16 bits).
pub fn prepare(p: &Program, inputs: &[Tensor]) -> Result<Prepared> {
    prepare_as(p, None, inputs)
}

/// `prepare`, with the inputs' dtypes when known (then checked exactly).
pub fn prepare_as(p: &Program, dtypes: Option<&[DType]>, inputs: &[Tensor]) -> Result<Prepared> {
    if inputs.len() != p.inputs.len() {
        let names: Vec<&str> = p.inputs.iter().map(|i| i.name.as_str()).collect();
        return Err(Error::Usage(format!(
            "the model takes {} inputs ({}), got {}",
            p.inputs.len(),
            names.join(", "),
            inputs.len()
        )));
    }
    let mut dims: Vec<Option<i64>> = vec![None; p.syms.len()];
    let show = |io: &kir::IoInfo| -> String {
        let d: Vec<String> = io
            .shape
            .iter()
            .map(|d| match d {
                IoDim::Fixed(v) => v.to_string(),
                IoDim::Sym(s) => p.syms[s.0 as usize].name.clone(),
                IoDim::Expr(_, t) => t.clone(),
            })
            .collect();
        format!("({})", d.join(", "))
    };
    for (k, (io, t)) in p.inputs.iter().zip(inputs).enumerate() {
        let exact = dtypes.and_then(|d| d.get(k).copied());
        let want = exact.unwrap_or(DType::from_scalar(io.elem));
        let dtype_ok = match exact {
            Some(d) => t.dtype == d,
            None => t.dtype.storage() == Some(io.elem),
        };
        let bad_shape = || {
            Error::Usage(format!(
                "input '{}': expected {} {}, got {} {:?}",
                io.name,
                want,
                show(io),
                t.dtype,
                t.shape
            ))
        };
        if !dtype_ok || t.shape.len() != io.shape.len() {
            return Err(bad_shape());
        }
        for (d, v) in io.shape.iter().zip(&t.shape) {
            match d {
                IoDim::Fixed(f) if f != v => return Err(bad_shape()),
                IoDim::Sym(s) => {
                    let slot = &mut dims[s.0 as usize];
                    match slot {
                        Some(prev) if *prev != *v as i64 => {
                            return Err(Error::Usage(format!(
                                "input '{}': dim {} is {v} here but {prev} in an earlier input",
                                io.name, p.syms[s.0 as usize].name
                            )))
                        }
                        _ => *slot = Some(*v as i64),
                    }
                }
                _ => {}
            }
        }
    }
    // A dim no input mentions was specialised away (`--dim`): nothing reads it.
    let dims: Vec<i64> = dims.iter().map(|d| d.unwrap_or(0)).collect();
    for (s, v) in p.syms.iter().zip(&dims) {
        if *v > s.max {
            return Err(Error::Usage(format!(
                "dim {} = {v} is larger than this model supports ({})",
                s.name, s.max
            )));
        }
    }
    let eval = |e: &kir::Expr| {
        kir::eval_index(e, &dims).ok_or_else(|| Error::Internal("size does not evaluate".into()))
    };
    let mut lens = vec![];
    for io in &p.inputs {
        lens.push(eval(&io.len)? as u64);
    }
    let mut output_bytes = vec![];
    let mut out_shapes = vec![];
    for io in &p.outputs {
        let n = eval(&io.len)?;
        lens.push(n as u64);
        output_bytes.push(n as usize * io.elem.size());
        out_shapes.push(
            io.shape
                .iter()
                .map(|d| match d {
                    IoDim::Fixed(v) => Ok(*v),
                    IoDim::Sym(s) => Ok(dims[s.0 as usize] as u64),
                    IoDim::Expr(e, _) => eval(e).map(|v| v as u64),
                })
                .collect::<Result<_>>()?,
        );
    }
    let scratch_bytes = eval(&p.scratch_len)? as usize;
    lens.push(scratch_bytes as u64);
    let mut unknown_strings: Vec<Vec<u8>> = vec![];
    let inputs = inputs
        .iter()
        .map(|t| match &t.data {
            // String inputs are interned into the model's table (`ir::strings`); a string
            // outside it gets a negative id (-2-k, the same one for the same string).
            crate::tensor::TensorData::Strings(v) => v
                .iter()
                .map(|s| {
                    crate::ir::strings::id_of(&p.strings.table, s).unwrap_or_else(|| {
                        let k = match unknown_strings.iter().position(|u| u == s) {
                            Some(k) => k,
                            None => {
                                unknown_strings.push(s.clone());
                                unknown_strings.len() - 1
                            }
                        };
                        -2 - k as i32
                    })
                })
                .flat_map(|id| id.to_le_bytes())
                .collect(),
            _ => t.bytes().to_vec(),
        })
        .collect();
    Ok(Prepared {
        req: RunRequest {
            dims,
            inputs,
            output_bytes,
            lens,
        },
        out_shapes,
        scratch_bytes,
        unknown_strings,
    })
}

/// Compiled state for one backend, reusable across runs.
pub enum Loaded {
    Interp,
    Jit(Box<crate::backend::cranelift::jit::JitProgram>),
    Native(NativeBackend, Option<Vec<u8>>),
}

pub fn load(p: &Program, b: Backend) -> Result<Loaded> {
    Ok(match b {
        Backend::Interp => Loaded::Interp,
        Backend::Jit => {
            let t = exec::exec_target()?;
            if !t.is_host_triple() {
                return Err(Error::Usage(format!(
                    "the jit backend runs only on the host, not on {}: use interp, object, c or rust",
                    t.triple
                )));
            }
            Loaded::Jit(Box::new(crate::backend::cranelift::jit::JitProgram::new(
                p,
            )?))
        }
        Backend::Object => {
            // The host, or the cross target of `kiln check/run --target` (KILN_EXEC_TARGET).
            let obj = crate::backend::cranelift::object::emit_object(p, &exec::exec_target()?)?;
            Loaded::Native(NativeBackend::Object, Some(obj))
        }
        Backend::C => Loaded::Native(NativeBackend::C, None),
        Backend::Rust => Loaded::Native(NativeBackend::Rust, None),
    })
}

/// Run prepared requests.
pub fn execute(p: &Program, l: &Loaded, reqs: &[&Prepared]) -> Result<Vec<RunResult>> {
    match l {
        Loaded::Interp => reqs
            .iter()
            .map(|r| {
                let mut outs: Vec<Vec<u8>> =
                    r.req.output_bytes.iter().map(|n| vec![0u8; *n]).collect();
                let mut scratch = vec![0u8; r.scratch_bytes];
                let mut mem = kir::interp::Memory {
                    inputs: r.req.inputs.iter().map(|v| v.as_slice()).collect(),
                    outputs: outs.iter_mut().map(|v| v.as_mut_slice()).collect(),
                    scratch: &mut scratch,
                };
                let st = kir::interp::run(p, &r.req.dims, &r.req.lens, &mut mem)
                    .map_err(|f| Error::Internal(f.to_string()))?;
                Ok(RunResult {
                    status: st.code(),
                    outputs: outs,
                })
            })
            .collect(),
        Loaded::Jit(j) => reqs
            .iter()
            .map(|r| {
                let mut outs: Vec<Vec<u8>> =
                    r.req.output_bytes.iter().map(|n| vec![0u8; *n]).collect();
                let mut scratch = vec![0u8; r.scratch_bytes];
                let ins: Vec<&[u8]> = r.req.inputs.iter().map(|v| v.as_slice()).collect();
                let mut os: Vec<&mut [u8]> = outs.iter_mut().map(|v| v.as_mut_slice()).collect();
                let status = j.run(&r.req.dims, &ins, &mut os, &mut scratch, &r.req.lens);
                Ok(RunResult {
                    status,
                    outputs: outs,
                })
            })
            .collect(),
        Loaded::Native(nb, obj) => {
            let rs: Vec<RunRequest> = reqs.iter().map(|r| r.req.clone()).collect();
            exec::run_native(*nb, p, obj.as_deref(), &rs)
        }
    }
}

/// Outputs of a successful run as tensors; a non-zero status becomes an error. Their dtypes
/// are the buffers' (float16 outputs come back as uint16 bits: see `outputs_compiled`).
pub fn outputs(p: &Program, prep: &Prepared, r: RunResult) -> Result<Vec<Tensor>> {
    outputs_as(p, None, prep, r)
}

/// `outputs`, with the outputs' dtypes when known.
pub fn outputs_as(
    p: &Program,
    dtypes: Option<&[DType]>,
    prep: &Prepared,
    r: RunResult,
) -> Result<Vec<Tensor>> {
    if r.status != 0 {
        let what = Status::from_code(r.status).map_or("unknown status", |s| s.describe());
        return Err(Error::Usage(format!(
            "the model returned status {}: {what}",
            r.status
        )));
    }
    p.outputs
        .iter()
        .zip(&prep.out_shapes)
        .zip(r.outputs)
        .enumerate()
        .map(|(k, ((io, shape), bytes))| {
            let d = dtypes
                .and_then(|d| d.get(k).copied())
                .unwrap_or(DType::from_scalar(io.elem));
            if d != DType::String {
                return Ok(Tensor::from_bytes(d, shape.clone(), bytes));
            }
            // String ids back to the table's strings.
            let table = &p.strings.table;
            let strings = bytes
                .chunks_exact(4)
                .map(|c| {
                    let id = i32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                    let known = usize::try_from(id).ok().and_then(|i| table.get(i));
                    let unknown = usize::try_from(-2 - i64::from(id))
                        .ok()
                        .and_then(|k| prep.unknown_strings.get(k));
                    known.or(unknown).cloned().ok_or_else(|| {
                        Error::Usage(format!(
                            "output '{}': string id {id} is not in the string table",
                            io.name
                        ))
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(Tensor {
                dtype: DType::String,
                shape: shape.clone(),
                data: crate::tensor::TensorData::Strings(strings),
            })
        })
        .collect::<Result<_>>()
}
