//! Cast: <https://onnx.ai/onnx/operators/onnx__Cast.html>
//!
//! Opset 6, 9, 13, 19 (`saturate`, for float8 targets), 21, 23 (`round_mode`, for float8e8m0
//! targets), 24, 25: element type conversion with kir's pinned semantics — float to int
//! saturates (NaN to 0), int to int wraps, to bool is `x != 0`. ONNX leaves out-of-range
//! float-to-int undefined; saturation is what a user would want and is the same on every
//! backend. Strings are not computed (a clear error).
//!
//! float16 and bfloat16 (stored as their bits, `ops::half`): a half source is widened to f32
//! exactly and then converted like an f32; a half target is rounded once to nearest even from
//! the f32/f64 source (f64 → float16 directly, not through f32); integers and bools go through
//! f64, which holds every value of up to 53 bits exactly (int64/uint64 beyond 2^53 to bfloat16
//! may round twice); overflow gives ±inf, NaN stays NaN (quiet).

use super::half;
use super::{tt, Attrs, InferCx, Op, ALL};
use crate::error::Result;
use crate::ir::TensorType;
use crate::kir::build::KernelBuilder;
use crate::kir::{build, Expr, Scalar};
use crate::lower::LowerCx;
use crate::tensor::DType;
use std::cell::Cell;

#[derive(Debug)]
pub struct Cast {
    pub to: DType,
    /// The source type, recorded by `infer` (a float16 source and a uint16 one share their
    /// kir storage, so `lower` cannot tell them apart from the buffer).
    pub from: Cell<Option<DType>>,
}

impl Cast {
    pub fn new(from: Option<DType>, to: DType) -> Cast {
        Cast {
            to,
            from: Cell::new(from),
        }
    }
}

/// Every dtype Cast converts from and to.
pub fn castable() -> Vec<DType> {
    let mut v = ALL.to_vec();
    v.extend([DType::F16, DType::BF16]);
    v
}

pub fn import(a: &Attrs) -> Result<Box<dyn Op>> {
    let code = a.req_int("to")?;
    let to = DType::from_onnx(code as i32)
        .ok_or_else(|| a.err("to", format!("unknown element type {code}")))?;
    if !castable().contains(&to) {
        return Err(a.err("to", format!("casting to {to} is not supported")));
    }
    if a.node().opset >= 19 {
        // `saturate` only concerns float8 targets, which are rejected above.
        a.ignore("saturate");
    }
    if a.node().opset >= 23 {
        a.ignore("round_mode");
    }
    Ok(Box::new(Cast::new(None, to)))
}

impl Op for Cast {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let from = cx.expect_dtype(0, &castable())?;
        self.from.set(Some(from));
        Ok(vec![tt(self.to, cx.ty(0)?.shape.clone())])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let from = self
            .from
            .get()
            .ok_or_else(|| cx.err("Cast lowered before its types were inferred"))?;
        lower_cast(cx, from, self.to)
    }
}

/// Convert input 0 (of dtype `from`) into output 0 (of dtype `to`), element by element.
pub fn lower_cast(cx: &mut LowerCx, from: DType, to: DType) -> Result<()> {
    let x = cx.input(0)?;
    let y = cx.output(0)?;
    cx.kb.loop_(Expr::i64(0), y.numel(), |kb, i| {
        let v = convert(kb, x.load(i.clone()), from, to);
        kb.store(y.buf, i, v);
    });
    Ok(())
}

/// One element of dtype `from` (in its storage type) as dtype `to` (in its storage type).
pub fn convert(kb: &mut KernelBuilder, v: Expr, from: DType, to: DType) -> Expr {
    if from == to {
        return v;
    }
    // A half source becomes its exact f32 value first.
    let (v, from) = if from.is_half() {
        (half::half_to_f32(kb, from, v), DType::F32)
    } else {
        (v, from)
    };
    if to.is_half() {
        let (v, src) = match from {
            DType::F32 => (v, Scalar::F32),
            DType::F64 => (v, Scalar::F64),
            // Integers and bools: exact in f64 up to 2^53.
            _ => (build::cast(Scalar::F64, v), Scalar::F64),
        };
        return half::float_to_half(kb, v, src, to);
    }
    let s = to.scalar().expect("a computed dtype");
    build::cast(s, v)
}
