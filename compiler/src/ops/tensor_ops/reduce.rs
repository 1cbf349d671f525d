//! Reductions and ArgMax / ArgMin.
//!
//! ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2, ReduceLogSum,
//! ReduceLogSumExp, ReduceSumSquare: <https://onnx.ai/onnx/operators/onnx__ReduceSum.html>
//! (and siblings). Opsets 1, 11 (negative axes), 13 (ReduceSum: `axes` becomes an optional
//! input, `noop_with_empty_axes`), 18 (the others: the same change), 20 (ReduceMax/Min: bool).
//! The axes input must be known at compile time. No axes (or an empty list) reduces every axis
//! unless `noop_with_empty_axes` is set, when the input is copied. `keepdims` (default 1) keeps
//! reduced axes as 1.
//!
//! Accumulation runs in index order in the element type (L2, LogSum and LogSumExp of integer
//! inputs compute in float64 and convert back; ReduceMean of integers divides the integer sum,
//! truncating). LogSumExp is `log(sum(exp(x)))` as the spec defines it (no max shift: large
//! inputs overflow exactly as the reference does). An empty reduction gives the identity:
//! 0 for sums (so -inf for LogSum/LogSumExp), 1 for Prod, -inf / the type's minimum for Max,
//! +inf / the maximum for Min, NaN for float Mean. Max/Min propagate NaN; on bool they are
//! or / and.
//!
//! ArgMax / ArgMin (opset 1, 11 negative axis, 12 `select_last_index`, 13): the int64 index of
//! the first (or, with `select_last_index`, the last) extreme value along `axis`; a NaN counts
//! as the extreme (numpy). A zero-length axis is an error (`BadValue` when only known at run
//! time).

use super::{fix_axis, norm_axes, type_max, type_min};
use crate::error::Result;
use crate::ir::{Dim, TensorType};
use crate::kir::build::{self, and, call, cast, cmp, or, unary};
use crate::kir::{BinOp, CmpOp, Expr, MathFn, Scalar, Status, UnOp};
use crate::lower::LowerCx;
use crate::ops::{tt, Attrs, InferCx, Op, NUMERIC};
use crate::tensor::DType;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Sum,
    Mean,
    Max,
    Min,
    Prod,
    L1,
    L2,
    LogSum,
    LogSumExp,
    SumSquare,
}

#[derive(Debug)]
pub struct Reduce {
    pub kind: Kind,
    /// Axes from the attribute (older opsets); `None` with `axes_input` = read input 1.
    pub axes_attr: Option<Vec<i64>>,
    pub axes_input: bool,
    pub keepdims: bool,
    pub noop_empty: bool,
}

pub fn import(a: &Attrs) -> Result<Box<dyn Op>> {
    let n = a.node();
    let kind = match n.op_type.as_str() {
        "ReduceSum" => Kind::Sum,
        "ReduceMean" => Kind::Mean,
        "ReduceMax" => Kind::Max,
        "ReduceMin" => Kind::Min,
        "ReduceProd" => Kind::Prod,
        "ReduceL1" => Kind::L1,
        "ReduceL2" => Kind::L2,
        "ReduceLogSum" => Kind::LogSum,
        "ReduceLogSumExp" => Kind::LogSumExp,
        "ReduceSumSquare" => Kind::SumSquare,
        other => return Err(a.err("op", format!("{other} is not a reduction"))),
    };
    let input_from = if kind == Kind::Sum { 13 } else { 18 };
    let axes_input = n.opset >= input_from;
    Ok(Box::new(Reduce {
        kind,
        axes_attr: if axes_input {
            None
        } else {
            a.ints_opt("axes")?
        },
        axes_input,
        keepdims: a.int("keepdims", 1)? != 0,
        noop_empty: if axes_input {
            a.int("noop_with_empty_axes", 0)? != 0
        } else {
            false
        },
    }))
}

impl Reduce {
    /// Sorted reduced axes; None = copy (noop).
    fn axes(&self, cx: &InferCx) -> Result<Option<Vec<usize>>> {
        let r = cx.ty(0)?.shape.len();
        let axes = match &self.axes_attr {
            Some(a) => Some(a.clone()),
            None if self.axes_input && cx.has(1) => Some(cx.const_ints(1, "axes")?),
            None => None,
        };
        let axes = axes.unwrap_or_default();
        if axes.is_empty() {
            return Ok(if self.noop_empty {
                None
            } else {
                Some((0..r).collect())
            });
        }
        let mut v = norm_axes(cx, &axes, r, "axis")?;
        v.sort();
        Ok(Some(v))
    }
    /// Type the accumulation runs in.
    fn acc_type(&self, t: Scalar) -> Scalar {
        match self.kind {
            Kind::L2 | Kind::LogSum | Kind::LogSumExp if !t.is_float() => Scalar::F64,
            _ => t,
        }
    }
}

impl Op for Reduce {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let d = if matches!(self.kind, Kind::Max | Kind::Min) {
            let mut allowed = NUMERIC.to_vec();
            allowed.push(DType::Bool);
            cx.expect_dtype(0, &allowed)?
        } else {
            cx.expect_dtype(0, NUMERIC)?
        };
        let x = &cx.ty(0)?.shape;
        let Some(axes) = self.axes(cx)? else {
            return Ok(vec![tt(d, x.clone())]);
        };
        let mut out = vec![];
        for (i, dim) in x.iter().enumerate() {
            if !axes.contains(&i) {
                out.push(dim.clone());
            } else if self.keepdims {
                out.push(Dim::known(1));
            }
        }
        Ok(vec![tt(d, out)])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let y = cx.output(0)?;
        let Some(axes) = super::with_infer(cx, |icx| self.axes(icx))? else {
            return cx.copy_linear();
        };
        let r = x.rank();
        let kept: Vec<usize> = (0..r).filter(|i| !axes.contains(i)).collect();
        let kdims: Vec<Expr> = kept.iter().map(|i| x.dim(*i)).collect();
        let rdims: Vec<Expr> = axes.iter().map(|i| x.dim(*i)).collect();
        let count =
            crate::ir::dim::numel(&axes.iter().map(|i| x.shape[*i].clone()).collect::<Vec<_>>())
                .to_expr();
        let kstr = build::strides(&kdims);
        let xs = x.strides();
        let t = x.elem;
        let at = self.acc_type(t);
        let kind = self.kind;
        let init = match kind {
            Kind::Prod => Expr::imm(at, 1.0),
            Kind::Max => type_min(at),
            Kind::Min => type_max(at),
            _ => Expr::imm(at, 0.0),
        };
        cx.kb.loops(&kdims, |kb, kidx| {
            let acc = kb.let_mut(at, init.clone());
            kb.loops(&rdims, |kb, ridx| {
                let mut full = vec![Expr::i64(0); r];
                for (k, i) in kept.iter().enumerate() {
                    full[*i] = kidx[k].clone();
                }
                for (k, i) in axes.iter().enumerate() {
                    full[*i] = ridx[k].clone();
                }
                let mut v = x.load(build::linear(&full, &xs));
                if at != t {
                    v = cast(at, v);
                }
                let a = Expr::Var(acc);
                let add = |e: Expr| build::binary(BinOp::Add, a.clone(), e);
                let nv = match kind {
                    Kind::Sum | Kind::Mean | Kind::LogSum => add(v),
                    Kind::Prod => build::binary(BinOp::Mul, a.clone(), v),
                    Kind::Max if at == Scalar::Bool => or(a.clone(), v),
                    Kind::Min if at == Scalar::Bool => and(a.clone(), v),
                    Kind::Max => build::max(a.clone(), v),
                    Kind::Min => build::min(a.clone(), v),
                    Kind::L1 => add(if at.is_signed() {
                        unary(UnOp::Abs, v)
                    } else {
                        v
                    }),
                    Kind::L2 | Kind::SumSquare => {
                        let v = kb.let_(at, v);
                        add(build::binary(BinOp::Mul, v.clone(), v))
                    }
                    Kind::LogSumExp => add(call(MathFn::Exp, vec![v])),
                };
                kb.set(acc, nv);
            });
            let a = Expr::Var(acc);
            let res = match kind {
                Kind::Mean => {
                    let c = if at == Scalar::I64 {
                        count.clone()
                    } else {
                        cast(at, count.clone())
                    };
                    build::binary(BinOp::Div, a, c)
                }
                Kind::L2 => unary(UnOp::Sqrt, a),
                Kind::LogSum | Kind::LogSumExp => call(MathFn::Log, vec![a]),
                _ => a,
            };
            let res = if at != t { cast(t, res) } else { res };
            kb.store(y.buf, build::linear(kidx, &kstr), res);
        });
        Ok(())
    }
}

#[derive(Debug)]
pub struct Arg {
    pub max: bool,
    pub axis: i64,
    pub keepdims: bool,
    pub last: bool,
}

pub fn import_arg(a: &Attrs) -> Result<Box<dyn Op>> {
    Ok(Box::new(Arg {
        max: a.node().op_type == "ArgMax",
        axis: a.int("axis", 0)?,
        keepdims: a.int("keepdims", 1)? != 0,
        last: if a.node().opset >= 12 {
            a.int("select_last_index", 0)? != 0
        } else {
            false
        },
    }))
}

impl Op for Arg {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        cx.expect_dtype(0, NUMERIC)?;
        let x = &cx.ty(0)?.shape;
        let ax = cx.axis(self.axis, x.len(), "axis")?;
        if x.is_empty() {
            return Err(cx.err("input must have rank >= 1"));
        }
        if x[ax].as_known() == Some(0) {
            return Err(cx.err(format!("axis {ax} has length 0: no element to select")));
        }
        let mut out = x.clone();
        if self.keepdims {
            out[ax] = Dim::known(1);
        } else {
            out.remove(ax);
        }
        Ok(vec![tt(DType::I64, out)])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let y = cx.output(0)?;
        let r = x.rank();
        let ax = fix_axis(self.axis, r);
        let n = x.dim(ax);
        let mut odims = x.dims();
        odims[ax] = Expr::i64(1);
        let ostr = build::strides(&odims);
        let xs = x.strides();
        let t = x.elem;
        let (max, last) = (self.max, self.last);
        if !x.shape[ax].is_known() {
            let bad = cmp(CmpOp::Le, n.clone(), Expr::i64(0));
            cx.kb.if_(bad, |kb| kb.fail(Status::BadValue), |_| {});
        }
        cx.kb.loops(&odims, |kb, idx| {
            let at = |k: Expr| {
                let mut full = idx.to_vec();
                full[ax] = k;
                x.load(build::linear(&full, &xs))
            };
            let best = kb.let_mut(t, at(Expr::i64(0)));
            let bi = kb.let_mut(Scalar::I64, Expr::i64(0));
            kb.loop_(Expr::i64(1), n.clone(), |kb, k| {
                let v = kb.let_(t, at(k.clone()));
                let b = Expr::Var(best);
                let op = match (max, last) {
                    (true, false) => CmpOp::Gt,
                    (true, true) => CmpOp::Ge,
                    (false, false) => CmpOp::Lt,
                    (false, true) => CmpOp::Le,
                };
                let mut better = cmp(op, v.clone(), b.clone());
                if t.is_float() {
                    let v_nan = cmp(CmpOp::Ne, v.clone(), v.clone());
                    let b_num = cmp(CmpOp::Eq, b.clone(), b);
                    better = or(better, if last { v_nan } else { and(v_nan, b_num) });
                }
                kb.if_(
                    better,
                    |kb| {
                        kb.set(best, v);
                        kb.set(bi, k);
                    },
                    |_| {},
                );
            });
            kb.store(y.buf, build::linear(idx, &ostr), Expr::Var(bi));
        });
        Ok(())
    }
}
