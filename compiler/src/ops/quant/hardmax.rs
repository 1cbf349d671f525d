//! Hardmax (opset 1, 11, 13): <https://onnx.ai/onnx/operators/onnx__Hardmax.html>.
//! Opset < 13: the input is coerced to 2-D at `axis` (default 1) and each row of
//! `prod(dims[axis..])` elements gets a 1 at its first maximum (11 only allowed negative
//! axes); opset >= 13: along the single dim `axis` (default -1). Ties take the first
//! occurrence and a NaN counts as the maximum (first NaN wins), as `numpy.argmax` does.

use crate::error::Result;
use crate::ir::{dim::numel, Dim, TensorType};
use crate::kir::build::{self, and, cmp, or, select};
use crate::kir::{CmpOp, Expr, Scalar};
use crate::lower::LowerCx;
use crate::ops::{tt, Attrs, InferCx, Op, FLOATS};

#[derive(Debug)]
pub struct Hardmax {
    pub axis: i64,
    pub legacy: bool,
}

pub fn import(a: &Attrs) -> Result<Box<dyn Op>> {
    let legacy = a.node().opset < 13;
    Ok(Box::new(Hardmax {
        axis: a.int("axis", if legacy { 1 } else { -1 })?,
        legacy,
    }))
}

impl Op for Hardmax {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let d = cx.expect_dtype(0, FLOATS)?;
        let x = &cx.ty(0)?.shape;
        if x.is_empty() {
            return Err(cx.err("input must have rank >= 1"));
        }
        if self.legacy && self.axis == x.len() as i64 {
            // A coerced 2-D shape (N, 1): allowed by the old definition.
        } else {
            cx.axis(self.axis, x.len(), "axis")?;
        }
        Ok(vec![tt(d, x.clone())])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let y = cx.output(0)?;
        let r = x.rank() as i64;
        let ax = if self.axis < 0 {
            (self.axis + r).max(0)
        } else {
            self.axis.min(r)
        } as usize;
        let (outer, n, inner) = if self.legacy {
            (numel(&x.shape[..ax]), numel(&x.shape[ax..]), Dim::known(1))
        } else {
            (
                numel(&x.shape[..ax]),
                x.shape[ax].clone(),
                numel(&x.shape[ax + 1..]),
            )
        };
        let (outer, n, inner) = (outer.to_expr(), n.to_expr(), inner.to_expr());
        let t = x.elem;
        cx.kb.loop_(Expr::i64(0), outer, |kb, o| {
            kb.loop_(Expr::i64(0), inner.clone(), |kb, i| {
                let base = build::add(
                    build::mul(build::mul(o.clone(), n.clone()), inner.clone()),
                    i,
                );
                let base = kb.let_(Scalar::I64, base);
                let at = |k: Expr| build::add(base.clone(), build::mul(k, inner.clone()));
                let best = kb.let_mut(t, Expr::imm(t, f64::NEG_INFINITY));
                let bi = kb.let_mut(Scalar::I64, Expr::i64(-1));
                kb.loop_(Expr::i64(0), n.clone(), |kb, k| {
                    let v = kb.let_(t, x.load(at(k.clone())));
                    let b = Expr::Var(best);
                    let first = cmp(CmpOp::Lt, Expr::Var(bi), Expr::i64(0));
                    let better = or(
                        cmp(CmpOp::Gt, v.clone(), b.clone()),
                        and(
                            cmp(CmpOp::Ne, v.clone(), v.clone()),
                            cmp(CmpOp::Eq, b.clone(), b.clone()),
                        ),
                    );
                    let take = kb.let_(Scalar::Bool, or(first, better));
                    kb.set(best, select(take.clone(), v, b));
                    kb.set(bi, select(take, k, Expr::Var(bi)));
                });
                kb.loop_(Expr::i64(0), n.clone(), |kb, k| {
                    let one = cmp(CmpOp::Eq, k.clone(), Expr::Var(bi));
                    kb.store(
                        y.buf,
                        at(k),
                        select(one, Expr::imm(t, 1.0), Expr::imm(t, 0.0)),
                    );
                });
            });
        });
        Ok(())
    }
}
