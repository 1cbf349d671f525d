//! Size (opset 1, 13, 19, 21): <https://onnx.ai/onnx/operators/onnx__Size.html>. The element
//! count of the input as an int64 scalar. Folded at compile time when every dim is known; with
//! symbolic dims a kernel computes the product of their run-time values. Later opsets only
//! widened the input types.

use crate::error::Result;
use crate::ir::{dim::numel, TensorType};
use crate::kir::Expr;
use crate::lower::LowerCx;
use crate::ops::{tt, Attrs, InferCx, Op};
use crate::tensor::{DType, Tensor};

#[derive(Debug)]
pub struct Size;

pub fn import(_a: &Attrs) -> Result<Box<dyn Op>> {
    Ok(Box::new(Size))
}

impl Op for Size {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        cx.ty(0)?;
        Ok(vec![tt(DType::I64, vec![])])
    }
    fn fold(&self, cx: &InferCx) -> Result<Option<Vec<Tensor>>> {
        Ok(numel(&cx.ty(0)?.shape)
            .as_known()
            .map(|n| vec![Tensor::from_i64(vec![], &[n])]))
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let y = cx.output(0)?;
        let n = numel(
            &cx.ins[0]
                .as_ref()
                .map(|t| t.shape.clone())
                .unwrap_or_default(),
        )
        .to_expr();
        cx.kb.store(y.buf, Expr::i64(0), n);
        Ok(())
    }
}
