//! Where: <https://onnx.ai/onnx/operators/onnx__Where.html>
//!
//! Opset 9, 16 (16 only added bfloat16): `condition ? X : Y` element-wise, the three inputs
//! broadcast together (numpy rules). X and Y may have any type Kiln computes (strings and
//! complex numbers are not); both are read, only the chosen one is stored.

use super::{bcast_shape, lower_inputs, same_dtype};
use crate::error::Result;
use crate::ir::TensorType;
use crate::kir::build::select;
use crate::lower::LowerCx;
use crate::ops::{tt, Attrs, InferCx, Op, ALL};
use crate::tensor::DType;

#[derive(Debug)]
pub struct Where;

pub fn import(_a: &Attrs) -> Result<Box<dyn Op>> {
    Ok(Box::new(Where))
}

impl Op for Where {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        cx.expect_dtype(0, &[DType::Bool])?;
        let d = same_dtype(cx, &[1, 2], ALL)?;
        Ok(vec![tt(d, bcast_shape(cx, &[0, 1, 2])?)])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        lower_inputs(cx, &[0, 1, 2], |_, v| {
            select(v[0].clone(), v[1].clone(), v[2].clone())
        })
    }
}
