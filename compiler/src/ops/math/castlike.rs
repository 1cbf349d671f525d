//! CastLike: <https://onnx.ai/onnx/operators/onnx__CastLike.html>
//!
//! Opset 15, 19 (`saturate`, which only concerns float8 targets), 21, 23, 24, 25
//! (`round_mode`, which only concerns float8/float4 targets; more types each time): input 0
//! converted to the element type of input 1 (whose values are not read). Semantics are core
//! Cast's (`crate::ops::cast`): float → int saturates (NaN → 0), int → int wraps, → bool is
//! `x != 0`. Types Kiln does not compute (strings, float16, float8, 4-bit...) are errors.

use crate::error::Result;
use crate::ir::TensorType;
use crate::lower::LowerCx;
use crate::ops::cast::Cast;
use crate::ops::{tt, Attrs, InferCx, Op, ALL};

#[derive(Debug)]
pub struct CastLike;

pub fn import(a: &Attrs) -> Result<Box<dyn Op>> {
    let n = a.node();
    if n.opset >= 19 {
        // Only meaningful for float8 targets, which Kiln rejects in `infer`.
        let _ = a.int("saturate", 1)?;
    }
    if n.opset >= 23 {
        // Only meaningful for float8/float4 targets, rejected in `infer`.
        let _ = a.string("round_mode", "up")?;
    }
    Ok(Box::new(CastLike))
}

impl Op for CastLike {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        cx.expect_dtype(0, ALL)?;
        let to = cx.expect_dtype(1, ALL)?;
        Ok(vec![tt(to, cx.ty(0)?.shape.clone())])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let to = crate::tensor::DType::from_scalar(cx.output(0)?.elem);
        Cast { to }.lower(cx)
    }
}
