//! Slice (opset 1 attributes; 10 inputs starts/ends/axes/steps; 11 negative axes; 13).
//! Starts and ends are clamped as the spec says (to `[0, dim]` for positive steps, `[-1,
//! dim-1]` for negative ones); they must be known at compile time. A symbolic dim can only be
//! taken whole (start 0, end at or past its end, step 1).

use super::{tt, Attrs, InferCx, Op, MOVABLE};
use crate::error::Result;
use crate::ir::{Dim, TensorType};
use crate::kir::build;
use crate::kir::Expr;
use crate::lower::LowerCx;

/// Opset < 10 attributes: starts, ends and optional axes.
type SliceAttrs = (Vec<i64>, Vec<i64>, Option<Vec<i64>>);

#[derive(Debug)]
pub struct Slice {
    pub attrs: Option<SliceAttrs>,
}

pub fn import(a: &Attrs) -> Result<Box<dyn Op>> {
    if a.node().opset < 10 {
        let s = a
            .ints_opt("starts")?
            .ok_or_else(|| a.err("starts", "required attribute missing"))?;
        let e = a
            .ints_opt("ends")?
            .ok_or_else(|| a.err("ends", "required attribute missing"))?;
        return Ok(Box::new(Slice {
            attrs: Some((s, e, a.ints_opt("axes")?)),
        }));
    }
    Ok(Box::new(Slice { attrs: None }))
}

/// Per input axis: (start, step, output length) — identity for axes not sliced.
type Plan = Vec<(i64, i64, Dim)>;

impl Slice {
    fn plan(&self, cx: &InferCx) -> Result<Plan> {
        let x = &cx.ty(0)?.shape;
        let r = x.len();
        let (starts, ends, axes, steps) = match &self.attrs {
            Some((s, e, a)) => (s.clone(), e.clone(), a.clone(), None),
            None => (
                cx.const_ints(1, "starts")?,
                cx.const_ints(2, "ends")?,
                if cx.has(3) {
                    Some(cx.const_ints(3, "axes")?)
                } else {
                    None
                },
                if cx.has(4) {
                    Some(cx.const_ints(4, "steps")?)
                } else {
                    None
                },
            ),
        };
        let axes = axes.unwrap_or_else(|| (0..starts.len() as i64).collect());
        let steps = steps.unwrap_or_else(|| vec![1; starts.len()]);
        if ends.len() != starts.len() || axes.len() != starts.len() || steps.len() != starts.len() {
            return Err(cx.err("starts, ends, axes and steps must have the same length"));
        }
        let mut plan: Plan = x.iter().map(|d| (0, 1, d.clone())).collect();
        let mut seen = vec![false; r];
        for i in 0..starts.len() {
            if r == 0 {
                return Err(cx.err("cannot slice a scalar"));
            }
            let a = cx.axis(axes[i], r, "axis")?;
            if std::mem::replace(&mut seen[a], true) {
                return Err(cx.err(format!("axis {} repeated", axes[i])));
            }
            let step = steps[i];
            if step == 0 {
                return Err(cx.err("steps must not be 0"));
            }
            let Some(d) = x[a].as_known() else {
                if starts[i] == 0 && ends[i] >= i32::MAX as i64 && step == 1 {
                    continue;
                }
                return Err(cx.err(format!(
                    "slicing the symbolic dim {} of axis {a} needs its value (use --dim)",
                    x[a].show(cx.syms)
                )));
            };
            let fix = |v: i64| if v < 0 { v.saturating_add(d) } else { v };
            let (s, e) = if step > 0 {
                (fix(starts[i]).clamp(0, d), fix(ends[i]).clamp(0, d))
            } else {
                (
                    fix(starts[i]).clamp(-1, d - 1),
                    fix(ends[i]).clamp(-1, d - 1),
                )
            };
            let len = if step > 0 {
                if e > s {
                    (e - s + step - 1) / step
                } else {
                    0
                }
            } else if s > e {
                (s - e + (-step) - 1) / (-step)
            } else {
                0
            };
            plan[a] = (s, step, Dim::known(len));
        }
        Ok(plan)
    }
}

impl Op for Slice {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let d = cx.expect_dtype(0, MOVABLE)?;
        let plan = self.plan(cx)?;
        Ok(vec![tt(d, plan.into_iter().map(|p| p.2).collect())])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let y = cx.output(0)?;
        // Re-derive the plan from the output shape and the constant inputs.
        let infer_cx_types: Vec<Option<TensorType>> = cx
            .ins
            .iter()
            .map(|t| {
                t.as_ref().map(|t| TensorType {
                    dtype: crate::tensor::DType::from_scalar(t.elem),
                    shape: t.shape.clone(),
                })
            })
            .collect();
        let icx = InferCx {
            node: cx.node,
            inputs: infer_cx_types.iter().map(|t| t.as_ref()).collect(),
            consts: cx.consts.clone(),
            syms: &[],
        };
        let plan = self.plan(&icx)?;
        let xs = x.strides();
        let ys = y.strides();
        cx.kb.loops(&y.dims(), |kb, idx| {
            let src = idx.iter().zip(&plan).zip(&xs).fold(
                Expr::i64(0),
                |acc, ((i, (s, st, _)), stride)| {
                    let pos = build::add(Expr::i64(*s), build::mul(i.clone(), Expr::i64(*st)));
                    build::add(acc, build::mul(pos, stride.clone()))
                },
            );
            kb.store(y.buf, build::linear(idx, &ys), x.load(src));
        });
        Ok(())
    }
}
