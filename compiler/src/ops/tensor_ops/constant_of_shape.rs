//! ConstantOfShape (opset 9, 20, 21): <https://onnx.ai/onnx/operators/onnx__ConstantOfShape.html>.
//! A tensor of the shape given by input 0 (int64, known at compile time), every element the
//! one-element `value` tensor (default float32 0). Opsets 20 and 21 only widened the allowed
//! types; float16/bfloat16 values are not computed by Kiln. An empty shape gives a scalar; a
//! negative dim is an error.

use super::lit_of;
use crate::error::Result;
use crate::ir::{Dim, TensorType};
use crate::kir::Expr;
use crate::lower::LowerCx;
use crate::ops::{tt, Attrs, InferCx, Op};
use crate::tensor::Tensor;

#[derive(Debug)]
pub struct ConstantOfShape {
    pub value: Tensor,
}

pub fn import(a: &Attrs) -> Result<Box<dyn Op>> {
    let value = match a.tensor_opt("value")? {
        Some(t) => {
            if t.numel() != 1 {
                return Err(a.err(
                    "value",
                    format!("must hold one element, got shape {:?}", t.shape),
                ));
            }
            if t.dtype.scalar().is_none() {
                return Err(a.err(
                    "value",
                    format!("element type {} is not supported", t.dtype),
                ));
            }
            t
        }
        None => Tensor::from_f32(vec![1], &[0.0]),
    };
    Ok(Box::new(ConstantOfShape { value }))
}

impl Op for ConstantOfShape {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let shape = cx.const_ints(0, "shape")?;
        if let Some(d) = shape.iter().find(|d| **d < 0) {
            return Err(cx.err(format!("shape {shape:?} has a negative dim {d}")));
        }
        if cx.ty(0)?.shape.len() > 1 {
            return Err(cx.err("shape (input 0) must be 1-D"));
        }
        Ok(vec![tt(
            self.value.dtype,
            shape.into_iter().map(Dim::known).collect(),
        )])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let y = cx.output(0)?;
        let v = lit_of(&self.value, 0, y.elem);
        cx.kb.loop_(Expr::i64(0), y.numel(), |kb, i| {
            kb.store(y.buf, i, v.clone())
        });
        Ok(())
    }
}
