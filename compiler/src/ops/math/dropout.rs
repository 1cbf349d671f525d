//! Dropout (inference): <https://onnx.ai/onnx/operators/onnx__Dropout.html>
//!
//! Opset 1 (`is_test`, `ratio`, `consumed_inputs`), 6 (`is_test`, `ratio`), 7 (`ratio`; the
//! optional mask has the input's type), 10 (bool mask), 12 (`ratio` and `training_mode` become
//! optional inputs, `seed` attribute), 13, 22 (more types).
//!
//! Kiln compiles for inference: the output is the input and the optional mask is all true (all
//! ones before opset 10). `ratio` and `seed` are accepted and unused; so is `is_test` (whose
//! default 0 would mean training in opsets 1 and 6 — such exports are inference graphs in
//! practice). A `training_mode` input must be absent or a constant false: training-mode
//! dropout (random) is rejected.

use crate::error::Result;
use crate::ir::TensorType;
use crate::kir::Expr;
use crate::lower::LowerCx;
use crate::ops::{tt, Attrs, InferCx, Op, FLOATS};
use crate::tensor::DType;

#[derive(Debug)]
pub struct Dropout {
    has_mask: bool,
}

pub fn import(a: &Attrs) -> Result<Box<dyn Op>> {
    let n = a.node();
    if n.opset < 12 {
        let ratio = a.float("ratio", 0.5)?;
        if !(0.0..1.0).contains(&ratio) {
            return Err(a.err("ratio", format!("must be in [0, 1), got {ratio}")));
        }
    } else {
        a.ignore("seed");
    }
    if n.opset < 7 {
        a.ignore("is_test");
    }
    if n.opset < 6 {
        a.ignore("consumed_inputs");
    }
    Ok(Box::new(Dropout {
        has_mask: n.output(1).is_some(),
    }))
}

impl Op for Dropout {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let d = cx.expect_dtype(0, FLOATS)?;
        if cx.has(1) {
            cx.expect_dtype(1, FLOATS)?;
        }
        if cx.has(2) {
            cx.expect_dtype(2, &[DType::Bool])?;
            match cx.konst(2) {
                Some(t) if t.numel() == 1 && t.get_i64(0) == 0 => {}
                Some(_) => {
                    return Err(cx.err(
                        "training_mode (input 2) is true: training-mode dropout is not supported",
                    ))
                }
                None => {
                    return Err(cx.err(
                        "training_mode (input 2) must be a constant false (Kiln compiles for \
                         inference)",
                    ))
                }
            }
        }
        let shape = cx.ty(0)?.shape.clone();
        let mask = if cx.node.opset >= 10 { DType::Bool } else { d };
        Ok(vec![tt(d, shape.clone()), tt(mask, shape)])
    }
    fn is_view(&self) -> bool {
        !self.has_mask
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        cx.copy_linear()?;
        if let Some(m) = cx.outs.get(1).cloned().flatten() {
            cx.kb.loop_(Expr::i64(0), m.numel(), |kb, i| {
                kb.store(m.buf, i, Expr::imm(m.elem, 1.0));
            });
        }
        Ok(())
    }
    fn flops(&self, _: &[Option<&TensorType>], _: &[&TensorType]) -> crate::ir::Dim {
        crate::ir::Dim::known(0)
    }
}
