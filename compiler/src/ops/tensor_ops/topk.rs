//! TopK (opset 1, 10, 11): <https://onnx.ai/onnx/operators/onnx__TopK.html>. Opset 1: `k` as an
//! attribute; 10: `k` as an int64 input (known at compile time, it is a dim of the outputs);
//! 11: `largest` (default 1) and `sorted` (default 1). Outputs the k largest (smallest) values
//! along `axis` and their int64 indices, always sorted (also for `sorted`=0, which leaves the
//! order unspecified), equal values ordered by lower index first. NaN counts as larger than
//! every number (numpy's sort order), so it comes first for `largest` and last otherwise.
//!
//! Lowering: each element's rank is the number of elements that precede it in that order
//! (O(n²) per slice, no scratch memory); an element with rank < k is written at its rank.

use super::fix_axis;
use crate::error::Result;
use crate::ir::{Dim, TensorType};
use crate::kir::build::{self, and, cmp, or};
use crate::kir::{BinOp, CmpOp, Expr, Scalar};
use crate::lower::LowerCx;
use crate::ops::{tt, Attrs, InferCx, Op, NUMERIC};
use crate::tensor::DType;

#[derive(Debug)]
pub struct TopK {
    pub axis: i64,
    pub k_attr: Option<i64>,
    pub largest: bool,
}

pub fn import(a: &Attrs) -> Result<Box<dyn Op>> {
    let opset = a.node().opset;
    let k_attr = if opset < 10 {
        Some(a.req_int("k")?)
    } else {
        None
    };
    let (largest, _sorted) = if opset >= 11 {
        (a.int("largest", 1)? != 0, a.int("sorted", 1)? != 0)
    } else {
        (true, true)
    };
    Ok(Box::new(TopK {
        axis: a.int("axis", -1)?,
        k_attr,
        largest,
    }))
}

impl TopK {
    fn k(&self, cx: &InferCx) -> Result<i64> {
        let k = match self.k_attr {
            Some(k) => k,
            None => {
                let v = cx.const_ints(1, "k")?;
                if v.len() != 1 {
                    return Err(cx.err("k (input 1) must hold one value"));
                }
                v[0]
            }
        };
        if k < 0 {
            return Err(cx.err(format!("k must be >= 0, got {k}")));
        }
        Ok(k)
    }
}

/// `a` comes before `b` in the order (`largest`: descending, NaN first).
fn before(t: Scalar, largest: bool, a: Expr, b: Expr) -> Expr {
    let op = if largest { CmpOp::Gt } else { CmpOp::Lt };
    let c = cmp(op, a.clone(), b.clone());
    if !t.is_float() {
        return c;
    }
    let a_nan = cmp(CmpOp::Ne, a.clone(), a);
    let b_nan = cmp(CmpOp::Ne, b.clone(), b);
    if largest {
        or(c, and(a_nan, build::unary(crate::kir::UnOp::Not, b_nan)))
    } else {
        or(c, and(b_nan, build::unary(crate::kir::UnOp::Not, a_nan)))
    }
}

impl Op for TopK {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let d = cx.expect_dtype(0, NUMERIC)?;
        let x = &cx.ty(0)?.shape;
        if x.is_empty() {
            return Err(cx.err("input must have rank >= 1"));
        }
        let ax = cx.axis(self.axis, x.len(), "axis")?;
        let k = self.k(cx)?;
        match x[ax].as_known() {
            Some(n) if k > n => {
                return Err(cx.err(format!("k = {k} is larger than axis {ax} ({n})")));
            }
            Some(_) => {}
            None => {
                return Err(cx.err(format!(
                    "TopK along the symbolic dim {} needs its value (use --dim)",
                    x[ax].show(cx.syms)
                )))
            }
        }
        let mut out = x.clone();
        out[ax] = Dim::known(k);
        Ok(vec![tt(d, out.clone()), tt(DType::I64, out)])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let vals = cx.outs.first().cloned().flatten();
        let inds = cx.outs.get(1).cloned().flatten();
        let r = x.rank();
        let ax = fix_axis(self.axis, r);
        let k = super::with_infer(cx, |icx| self.k(icx))?;
        let n = x.dim(ax);
        let xs = x.strides();
        let mut odims = x.dims();
        odims[ax] = Expr::i64(k);
        let os = build::strides(&odims);
        let mut sdims = x.dims();
        sdims[ax] = Expr::i64(1);
        let t = x.elem;
        let largest = self.largest;
        cx.kb.loops(&sdims, |kb, idx| {
            let at = |j: Expr| {
                let mut f = idx.to_vec();
                f[ax] = j;
                build::linear(&f, &xs)
            };
            kb.loop_(Expr::i64(0), n.clone(), |kb, i| {
                let v = kb.let_(t, x.load(at(i.clone())));
                let rank = kb.let_mut(Scalar::I64, Expr::i64(0));
                kb.loop_(Expr::i64(0), n.clone(), |kb, j| {
                    let w = kb.let_(t, x.load(at(j.clone())));
                    // w precedes v: strictly before, or equal with a lower index.
                    let eq = and(
                        build::unary(
                            crate::kir::UnOp::Not,
                            before(t, largest, v.clone(), w.clone()),
                        ),
                        build::unary(
                            crate::kir::UnOp::Not,
                            before(t, largest, w.clone(), v.clone()),
                        ),
                    );
                    let prec = or(
                        before(t, largest, w, v.clone()),
                        and(eq, cmp(CmpOp::Lt, j, i.clone())),
                    );
                    kb.if_(
                        prec,
                        |kb| {
                            kb.set(
                                rank,
                                build::binary(BinOp::Add, Expr::Var(rank), Expr::i64(1)),
                            )
                        },
                        |_| {},
                    );
                });
                kb.if_(
                    cmp(CmpOp::Lt, Expr::Var(rank), Expr::i64(k)),
                    |kb| {
                        let mut f = idx.to_vec();
                        f[ax] = Expr::Var(rank);
                        let o = build::linear(&f, &os);
                        if let Some(vy) = &vals {
                            kb.store(vy.buf, o.clone(), v.clone());
                        }
                        if let Some(iy) = &inds {
                            kb.store(iy.buf, o, i.clone());
                        }
                    },
                    |_| {},
                );
            });
        });
        Ok(())
    }
}
