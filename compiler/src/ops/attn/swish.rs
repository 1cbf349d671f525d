//! Swish (opset 24): https://onnx.ai/onnx/operators/onnx__Swish.html and SwiGLU (opset 28):
//! https://onnx.ai/onnx/operators/onnx__SwiGLU.html
//!
//! - Swish: `y = x * sigmoid(alpha * x)` (alpha default 1.0), computed as the reference does:
//!   `x * (1 / (1 + exp((-alpha) * x)))` in the input's float type.
//! - SwiGLU: `y = swish_alpha(a) * b` with A and B of identical shape and type (no
//!   broadcasting, as the spec requires).

use super::super::{tt, Attrs, InferCx, Op, FLOATS};
use crate::error::Result;
use crate::ir::TensorType;
use crate::kir::build::{self, call};
use crate::kir::{BinOp, Expr, MathFn, Scalar};
use crate::lower::LowerCx;

#[derive(Debug)]
pub struct Swish {
    alpha: f32,
    glu: bool,
}

pub fn import(a: &Attrs) -> Result<Box<dyn Op>> {
    Ok(Box::new(Swish {
        alpha: a.float("alpha", 1.0)?,
        glu: a.node().op_type == "SwiGLU",
    }))
}

/// `x * (1 / (1 + exp(-alpha * x)))` in type `t`.
pub fn swish(t: Scalar, alpha: f32, x: Expr) -> Expr {
    let one = Expr::imm(t, 1.0);
    let ax = build::binary(BinOp::Mul, Expr::imm(t, -(alpha as f64)), x.clone());
    let e = call(MathFn::Exp, vec![ax]);
    let sig = build::binary(BinOp::Div, one.clone(), build::binary(BinOp::Add, one, e));
    build::binary(BinOp::Mul, x, sig)
}

impl Op for Swish {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let d = cx.expect_dtype(0, FLOATS)?;
        let s = cx.ty(0)?.shape.clone();
        if self.glu {
            let b = cx.ty(1)?;
            if b.dtype != d || b.shape != s {
                return Err(cx.err(format!(
                    "A {} {} and B {} {} must have the same shape and element type",
                    d,
                    cx.shape_str(&s),
                    b.dtype,
                    cx.shape_str(&b.shape)
                )));
            }
        }
        Ok(vec![tt(d, s)])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let b = if self.glu { Some(cx.input(1)?) } else { None };
        let y = cx.output(0)?;
        let t = x.elem;
        let alpha = self.alpha;
        cx.kb.loop_(Expr::i64(0), y.numel(), |kb, i| {
            let xv = kb.let_(t, x.load(i.clone()));
            let mut v = swish(t, alpha, xv);
            if let Some(b) = &b {
                v = build::binary(BinOp::Mul, v, b.load(i.clone()));
            }
            kb.store(y.buf, i, v);
        });
        Ok(())
    }
}
