//! CumSum (opset 11, 14): <https://onnx.ai/onnx/operators/onnx__CumSum.html> and CumProd
//! (opset 26): <https://onnx.ai/onnx/operators/onnx__CumProd.html>. Running sums (products)
//! along `axis` (input 1, an int32/int64 scalar known at compile time; negative counts from the
//! end). `exclusive` leaves out the element itself (the first output is 0, or 1 for products);
//! `reverse` scans from the end. They run in the element type (integers wrap) in scan order.
//! CumSum opset 14 only widened types.

use super::fix_axis;
use crate::error::Result;
use crate::ir::{dim::numel, TensorType};
use crate::kir::build;
use crate::kir::{BinOp, Expr};
use crate::lower::LowerCx;
use crate::ops::{tt, Attrs, InferCx, Op, NUMERIC};

#[derive(Debug)]
pub struct CumSum {
    pub exclusive: bool,
    pub reverse: bool,
    /// CumProd: multiply instead of add.
    pub product: bool,
}

/// Imports CumSum and CumProd.
pub fn import(a: &Attrs) -> Result<Box<dyn Op>> {
    Ok(Box::new(CumSum {
        exclusive: a.int("exclusive", 0)? != 0,
        reverse: a.int("reverse", 0)? != 0,
        product: a.node().op_type == "CumProd",
    }))
}

impl CumSum {
    fn axis(&self, cx: &InferCx) -> Result<usize> {
        let v = cx.const_ints(1, "axis")?;
        if v.len() != 1 || cx.ty(1)?.shape.len() > 1 {
            return Err(cx.err("axis (input 1) must be a scalar"));
        }
        cx.axis(v[0], cx.ty(0)?.shape.len(), "axis")
    }
}

impl Op for CumSum {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let d = cx.expect_dtype(0, NUMERIC)?;
        if cx.ty(0)?.shape.is_empty() {
            return Err(cx.err("input must have rank >= 1"));
        }
        self.axis(cx)?;
        Ok(vec![tt(d, cx.ty(0)?.shape.clone())])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let y = cx.output(0)?;
        let ax = super::with_infer(cx, |icx| self.axis(icx))?;
        let ax = fix_axis(ax as i64, x.rank());
        let outer = numel(&x.shape[..ax]).to_expr();
        let inner = numel(&x.shape[ax + 1..]).to_expr();
        let n = x.dim(ax);
        let t = x.elem;
        let (excl, rev) = (self.exclusive, self.reverse);
        let (init, op) = if self.product {
            (1.0, BinOp::Mul)
        } else {
            (0.0, BinOp::Add)
        };
        cx.kb.loop_(Expr::i64(0), outer, |kb, o| {
            kb.loop_(Expr::i64(0), inner.clone(), |kb, i| {
                let base = build::add(
                    build::mul(build::mul(o.clone(), n.clone()), inner.clone()),
                    i,
                );
                let acc = kb.let_mut(t, Expr::imm(t, init));
                kb.loop_(Expr::i64(0), n.clone(), |kb, j| {
                    let k = if rev {
                        build::sub(build::sub(n.clone(), Expr::i64(1)), j)
                    } else {
                        j
                    };
                    let at = build::add(base.clone(), build::mul(k, inner.clone()));
                    let v = kb.let_(t, x.load(at.clone()));
                    if excl {
                        kb.store(y.buf, at.clone(), Expr::Var(acc));
                    }
                    kb.set(acc, build::binary(op, Expr::Var(acc), v));
                    if !excl {
                        kb.store(y.buf, at, Expr::Var(acc));
                    }
                });
            });
        });
        Ok(())
    }
}
