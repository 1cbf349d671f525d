//! CastLike: <https://onnx.ai/onnx/operators/onnx__CastLike.html>
//!
//! Opset 15, 19 (`saturate`, which only concerns float8 targets), 21, 23, 24, 25
//! (`round_mode`, which only concerns float8/float4 targets; more types each time): input 0
//! converted to the element type of input 1 (whose values are not read). Semantics are core
//! Cast's (`crate::ops::cast`): float → int saturates (NaN → 0), int → int wraps, → bool is
//! `x != 0`; float16/bfloat16/float8 as Cast converts them (exact widening, one rounding to
//! nearest even, `saturate` and `round_mode` for float8 targets). Types Kiln does not handle
//! (strings, 4-bit and 2-bit types) are errors.

use crate::error::Result;
use crate::ir::TensorType;
use crate::lower::LowerCx;
use crate::ops::cast::{castable, lower_cast, Mode};
use crate::ops::{tt, Attrs, InferCx, Op};
use crate::tensor::DType;
use std::cell::Cell;

#[derive(Debug)]
pub struct CastLike {
    /// `saturate` and `round_mode` (float8 targets).
    mode: Mode,
    /// (from, to), recorded by `infer` (float16 and uint16 share their kir storage).
    types: Cell<Option<(DType, DType)>>,
}

pub fn import(a: &Attrs) -> Result<Box<dyn Op>> {
    Ok(Box::new(CastLike {
        mode: Mode::import(a)?,
        types: Cell::new(None),
    }))
}

impl Op for CastLike {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let from = cx.expect_dtype(0, &castable())?;
        let to = cx.expect_dtype(1, &castable())?;
        self.types.set(Some((from, to)));
        Ok(vec![tt(to, cx.ty(0)?.shape.clone())])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let (from, to) = self
            .types
            .get()
            .ok_or_else(|| cx.err("CastLike lowered before its types were inferred"))?;
        lower_cast(cx, from, to, self.mode)
    }
}
