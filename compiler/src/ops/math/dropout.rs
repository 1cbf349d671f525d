//! Dropout (inference): <https://onnx.ai/onnx/operators/onnx__Dropout.html>
//!
//! Opset 1 (`is_test`, `ratio`, `consumed_inputs`), 6 (`is_test`, `ratio`), 7 (`ratio`; the
//! optional mask has the input's type), 10 (bool mask), 12 (`ratio` and `training_mode` become
//! optional inputs, `seed` attribute), 13, 22 (more types).
//!
//! Kiln compiles for inference: the output is the input and the optional mask is all true (all
//! ones before opset 10). `ratio` and `seed` are accepted and unused; so is `is_test` (whose
//! default 0 would mean training in opsets 1 and 6 — such exports are inference graphs in
//! practice). Training-mode dropout is random and is not supported, but the output is still
//! exact when the mode is off or the ratio is 0: a `training_mode` input that is a constant true
//! with a ratio known to be non-zero (a constant, or the default 0.5) is a compile-time error;
//! otherwise, when `training_mode` is not a constant false, the kernel checks at run time and
//! returns `BadValue` if the mode is on and the ratio is not 0.

use crate::error::Result;
use crate::ir::TensorType;
use crate::kir::build::{and, cmp};
use crate::kir::{CmpOp, Expr, Scalar, Status};
use crate::lower::LowerCx;
use crate::ops::{tt, Attrs, InferCx, Op, FLOATS};
use crate::tensor::DType;

#[derive(Debug)]
pub struct Dropout {
    has_mask: bool,
    /// A `training_mode` input is given (checked at compile time or run time).
    has_training: bool,
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
        has_training: n.input(2).is_some(),
    }))
}

impl Op for Dropout {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let d = cx.expect_dtype(0, FLOATS)?;
        if cx.has(1) {
            cx.expect_dtype(1, FLOATS)?;
        }
        if cx.has(1) {
            let n = crate::ir::dim::numel(&cx.ty(1)?.shape).as_known();
            if n != Some(1) {
                return Err(cx.err("ratio (input 1) must be a scalar"));
            }
        }
        if cx.has(2) {
            cx.expect_dtype(2, &[DType::Bool])?;
            let ratio = if cx.has(1) {
                cx.konst(1).map(|t| t.get_f64(0))
            } else {
                Some(0.5)
            };
            let training = cx.konst(2).map(|t| t.numel() == 1 && t.get_i64(0) != 0);
            if training == Some(true) && ratio.is_some_and(|r| r != 0.0) {
                return Err(cx.err(
                    "training_mode (input 2) is true with a non-zero ratio: training-mode \
                     (random) dropout is not supported",
                ));
            }
        }
        let shape = cx.ty(0)?.shape.clone();
        let mask = if cx.node.opset >= 10 { DType::Bool } else { d };
        Ok(vec![tt(d, shape.clone()), tt(mask, shape)])
    }
    fn is_view(&self) -> bool {
        !self.has_mask && !self.has_training
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let off = cx
            .konst(2)
            .is_some_and(|t| t.numel() == 1 && t.get_i64(0) == 0);
        if let (Some(t), false) = (cx.ins.get(2).cloned().flatten(), off) {
            let ratio = match cx.ins.get(1).cloned().flatten() {
                Some(r) => {
                    let v = r.load(Expr::i64(0));
                    cmp(CmpOp::Ne, v, Expr::imm(r.elem, 0.0))
                }
                None => Expr::imm(Scalar::Bool, 1.0),
            };
            let bad = and(t.load(Expr::i64(0)), ratio);
            cx.kb.if_(bad, |kb| kb.fail(Status::BadValue), |_| {});
        }
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
