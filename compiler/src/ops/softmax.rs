//! Softmax and LogSoftmax. Opset < 13: the input is coerced to 2-D at `axis` (default 1) and
//! the op runs over each row of `prod(dims[axis..])` elements. Opset >= 13: over the single
//! dim `axis` (default -1). Computed stably: `m = max(x)`, `s = sum(exp(x - m))`, then
//! `exp(x - m) / s` or `x - m - log(s)`; the sum runs in index order.

use super::{tt, Attrs, InferCx, Op, FLOATS};
use crate::error::Result;
use crate::ir::{dim::numel, TensorType};
use crate::kir::build::{self, call};
use crate::kir::{BinOp, Expr, MathFn};
use crate::lower::LowerCx;

#[derive(Debug)]
pub struct Softmax {
    pub log: bool,
    pub axis: i64,
    pub legacy: bool,
}

pub fn import(a: &Attrs) -> Result<Box<dyn Op>> {
    let legacy = a.node().opset < 13;
    Ok(Box::new(Softmax {
        log: a.node().op_type == "LogSoftmax",
        axis: a.int("axis", if legacy { 1 } else { -1 })?,
        legacy,
    }))
}

impl Op for Softmax {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let d = cx.expect_dtype(0, FLOATS)?;
        let x = &cx.ty(0)?.shape;
        if x.is_empty() && !self.legacy {
            return Err(cx.err("input must have rank >= 1"));
        }
        if !(x.is_empty() && self.legacy) {
            cx.axis(self.axis, x.len(), "axis")?;
        }
        Ok(vec![tt(d, x.clone())])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let y = cx.output(0)?;
        let r = x.rank() as i64;
        // A legacy scalar keeps its default axis 1: clamp to the rank (one row of one).
        let ax = if self.axis < 0 {
            (self.axis + r).max(0)
        } else {
            self.axis.min(r)
        } as usize;
        // Rows of `n` elements at stride `inner`, `outer * inner` of them.
        let (outer, n, inner) = if self.legacy {
            (
                numel(&x.shape[..ax]),
                numel(&x.shape[ax..]),
                crate::ir::Dim::known(1),
            )
        } else {
            (
                numel(&x.shape[..ax]),
                x.shape[ax].clone(),
                numel(&x.shape[ax + 1..]),
            )
        };
        let (outer, n, inner) = (outer.to_expr(), n.to_expr(), inner.to_expr());
        let t = x.elem;
        let log = self.log;
        cx.kb.loop_(Expr::i64(0), outer, |kb, o| {
            kb.loop_(Expr::i64(0), inner.clone(), |kb, i| {
                let base = build::add(
                    build::mul(build::mul(o.clone(), n.clone()), inner.clone()),
                    i,
                );
                let at = |k: Expr| build::add(base.clone(), build::mul(k, inner.clone()));
                // kir's Max is associative and commutative (NaN wins, -0 < +0): the split
                // order gives the same bits as a chain.
                let m = kb.reduce(
                    t,
                    Expr::imm(t, f64::NEG_INFINITY),
                    n.clone(),
                    build::max,
                    |_, k| x.load(at(k)),
                );
                // Softmax keeps each exp in Y (one exp per element) from a loop of its own
                // (`y[k] = exp(x[k] - m)`, which the Cranelift backend runs as one vector
                // call of the shim where the target has one), then sums Y and divides in
                // place.
                let add = |a, b| build::binary(BinOp::Add, a, b);
                let exp_at = |k: Expr| {
                    call(
                        MathFn::Exp,
                        vec![build::binary(BinOp::Sub, x.load(at(k)), m.clone())],
                    )
                };
                if !log {
                    kb.loop_(Expr::i64(0), n.clone(), |kb, k| {
                        kb.store(y.buf, at(k.clone()), exp_at(k));
                    });
                }
                let s = kb.reduce(t, Expr::imm(t, 0.0), n.clone(), add, |_, k| {
                    if log {
                        exp_at(k)
                    } else {
                        build::load(y.buf, at(k))
                    }
                });
                if log {
                    let ls = kb.let_(t, call(MathFn::Log, vec![s.clone()]));
                    kb.loop_(Expr::i64(0), n.clone(), |kb, k| {
                        let v = build::binary(
                            BinOp::Sub,
                            build::binary(BinOp::Sub, x.load(at(k.clone())), m.clone()),
                            ls.clone(),
                        );
                        kb.store(y.buf, at(k), v);
                    });
                } else {
                    kb.loop_(Expr::i64(0), n.clone(), |kb, k| {
                        let e = build::load(y.buf, at(k.clone()));
                        kb.store(y.buf, at(k), build::binary(BinOp::Div, e, s.clone()));
                    });
                }
            });
        });
        Ok(())
    }
}
