//! NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss.
//!
//! - NegativeLogLikelihoodLoss (opset 12, 13, 22):
//!   <https://onnx.ai/onnx/operators/onnx__NegativeLogLikelihoodLoss.html>. Input `[N, C,
//!   d...]`, target `[N, d...]` (int32/int64), optional weight `[C]`:
//!   `loss[n, d] = -input[n, target[n, d], d] * weight[target[n, d]]`, 0 where
//!   `target == ignore_index`. 13 and 22 only changed types.
//! - SoftmaxCrossEntropyLoss (opset 12, 13):
//!   <https://onnx.ai/onnx/operators/onnx__SoftmaxCrossEntropyLoss.html>. The same loss on
//!   `log(softmax(scores, axis=1))` (computed as the reference does: `log(exp(x - max) /
//!   sum)`), with the log-probabilities as the optional second output.
//!
//! `reduction`: `none` (the per-element loss, target's shape), `sum`, or `mean` (default):
//! `sum(loss) / sum(weight[target])` over the elements not ignored (the weight is 1 without
//! a weight input), so all-ignored gives NaN as in the reference. Sums run in index order. A
//! target outside `[0, C)` that is not `ignore_index` returns `BadIndex`.

use crate::error::Result;
use crate::ir::{dim::numel, TensorType};
use crate::kir::build::{self, call, cmp, or};
use crate::kir::{BinOp, CmpOp, Expr, MathFn, Scalar, Status};
use crate::lower::LowerCx;
use crate::ops::tensor_ops::to_i64;
use crate::ops::{tt, Attrs, InferCx, Op, FLOATS};
use crate::tensor::DType;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reduction {
    None,
    Sum,
    Mean,
}

#[derive(Debug)]
pub struct Loss {
    pub reduction: Reduction,
    pub ignore_index: Option<i64>,
    /// SoftmaxCrossEntropyLoss (else NegativeLogLikelihoodLoss).
    pub softmax: bool,
}

fn import(a: &Attrs, softmax: bool) -> Result<Box<dyn Op>> {
    let reduction = match a.string("reduction", "mean")?.as_str() {
        "none" => Reduction::None,
        "sum" => Reduction::Sum,
        "mean" => Reduction::Mean,
        o => return Err(a.err("reduction", format!("'{o}' is not one of none, sum, mean"))),
    };
    Ok(Box::new(Loss {
        reduction,
        ignore_index: a.int_opt("ignore_index")?,
        softmax,
    }))
}

pub fn import_nll(a: &Attrs) -> Result<Box<dyn Op>> {
    import(a, false)
}

pub fn import_sce(a: &Attrs) -> Result<Box<dyn Op>> {
    import(a, true)
}

impl Op for Loss {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let d = cx.expect_dtype(0, FLOATS)?;
        cx.expect_dtype(1, &[DType::I32, DType::I64])?;
        let x = &cx.ty(0)?.shape;
        let t = &cx.ty(1)?.shape;
        if x.len() < 2 {
            return Err(cx.err("input must have rank >= 2 (N, C, d...)"));
        }
        let mut want = vec![x[0].clone()];
        want.extend(x[2..].iter().cloned());
        if *t != want {
            return Err(cx.err(format!(
                "target has shape {}; input {} needs {}",
                cx.shape_str(t),
                cx.shape_str(x),
                cx.shape_str(&want)
            )));
        }
        if cx.has(2) {
            let w = cx.ty(2)?;
            if w.dtype != d || w.shape != [x[1].clone()] {
                return Err(cx.err(format!(
                    "weight must be a 1-D {d} tensor of C = {} elements, got {} {}",
                    x[1].show(cx.syms),
                    w.dtype,
                    cx.shape_str(&w.shape)
                )));
            }
        }
        let loss = if self.reduction == Reduction::None {
            t.clone()
        } else {
            vec![]
        };
        let mut out = vec![tt(d, loss)];
        if self.softmax {
            out.push(tt(d, x.clone()));
        }
        Ok(out)
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let tg = cx.input(1)?;
        let w = cx.ins.get(2).cloned().flatten();
        let y = cx.output(0)?;
        let lp = if self.softmax {
            cx.outs.get(1).cloned().flatten()
        } else {
            None
        };
        let t = x.elem;
        let n = x.dim(0);
        let c = x.dim(1);
        let d = numel(&x.shape[2..]).to_expr();
        let bin = build::binary;
        let (red, ii, softmax) = (self.reduction, self.ignore_index, self.softmax);
        let weighted = w.is_some() || ii.is_some();
        let kb = &mut cx.kb;
        let acc = kb.let_mut(t, Expr::imm(t, 0.0));
        let wsum = kb.let_mut(t, Expr::imm(t, 0.0));
        kb.loop_(Expr::i64(0), n, |kb, ni| {
            // Base of input row (n, 0, 0): channel c at + c * D.
            let xb = kb.let_(
                Scalar::I64,
                build::mul(build::mul(ni.clone(), c.clone()), d.clone()),
            );
            kb.loop_(Expr::i64(0), d.clone(), |kb, di| {
                let xd = kb.let_(Scalar::I64, build::add(xb.clone(), di.clone()));
                let at = |k: Expr| build::add(xd.clone(), build::mul(k, d.clone()));
                let ti = kb.let_(
                    Scalar::I64,
                    build::add(build::mul(ni.clone(), d.clone()), di.clone()),
                );
                // Log-probabilities of this position (softmax over C).
                let sm = if softmax {
                    let m = kb.let_mut(t, Expr::imm(t, f64::NEG_INFINITY));
                    kb.loop_(Expr::i64(0), c.clone(), |kb, k| {
                        kb.set(m, build::max(Expr::Var(m), x.load(at(k))));
                    });
                    let s = kb.let_mut(t, Expr::imm(t, 0.0));
                    kb.loop_(Expr::i64(0), c.clone(), |kb, k| {
                        let e = call(
                            MathFn::Exp,
                            vec![bin(BinOp::Sub, x.load(at(k)), Expr::Var(m))],
                        );
                        kb.set(s, bin(BinOp::Add, Expr::Var(s), e));
                    });
                    let (m, s) = (Expr::Var(m), Expr::Var(s));
                    if let Some(lp) = &lp {
                        kb.loop_(Expr::i64(0), c.clone(), |kb, k| {
                            let e = call(
                                MathFn::Exp,
                                vec![bin(BinOp::Sub, x.load(at(k.clone())), m.clone())],
                            );
                            let v = call(MathFn::Log, vec![bin(BinOp::Div, e, s.clone())]);
                            kb.store(lp.buf, at(k), v);
                        });
                    }
                    Some((m, s))
                } else {
                    None
                };
                let tv = kb.let_(Scalar::I64, to_i64(tg.load(ti.clone()), tg.elem));
                let lv = kb.let_mut(t, Expr::imm(t, 0.0));
                let wv = kb.let_mut(t, Expr::imm(t, 0.0));
                let body = |kb: &mut build::KernelBuilder| {
                    let bad = or(
                        cmp(CmpOp::Lt, tv.clone(), Expr::i64(0)),
                        cmp(CmpOp::Ge, tv.clone(), c.clone()),
                    );
                    kb.if_(bad, |kb| kb.fail(Status::BadIndex), |_| {});
                    let xv = x.load(at(tv.clone()));
                    let inp = match &sm {
                        Some((m, s)) => {
                            let e = call(MathFn::Exp, vec![bin(BinOp::Sub, xv, m.clone())]);
                            call(MathFn::Log, vec![bin(BinOp::Div, e, s.clone())])
                        }
                        None => xv,
                    };
                    let neg = build::unary(crate::kir::UnOp::Neg, inp);
                    match &w {
                        Some(w) => {
                            let wt = kb.let_(t, w.load(tv.clone()));
                            kb.set(lv, bin(BinOp::Mul, wt.clone(), neg));
                            kb.set(wv, wt);
                        }
                        None => {
                            kb.set(lv, neg);
                            kb.set(wv, Expr::imm(t, 1.0));
                        }
                    }
                };
                match ii {
                    Some(ii) => {
                        let keep = cmp(CmpOp::Ne, tv.clone(), Expr::i64(ii));
                        kb.if_(keep, body, |_| {});
                    }
                    None => body(kb),
                }
                match red {
                    Reduction::None => kb.store(y.buf, ti, Expr::Var(lv)),
                    _ => {
                        kb.set(acc, bin(BinOp::Add, Expr::Var(acc), Expr::Var(lv)));
                        kb.set(wsum, bin(BinOp::Add, Expr::Var(wsum), Expr::Var(wv)));
                    }
                }
            });
        });
        match red {
            Reduction::None => {}
            Reduction::Sum => kb.store(y.buf, Expr::i64(0), Expr::Var(acc)),
            Reduction::Mean => {
                let _ = weighted;
                kb.store(
                    y.buf,
                    Expr::i64(0),
                    bin(BinOp::Div, Expr::Var(acc), Expr::Var(wsum)),
                )
            }
        }
        Ok(())
    }
}
