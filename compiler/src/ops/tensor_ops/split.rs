//! Split (opset 2, 11, 13, 18): <https://onnx.ai/onnx/operators/onnx__Split.html>.
//! Opset 2 and 11: `split` lengths as an attribute (11 allows a negative `axis`); 13: `split`
//! as an optional int64 input (known at compile time); 18: `num_outputs` attribute — without
//! `split`, the dim is cut into chunks of `ceil(dim / n)` with a smaller last chunk (before 18,
//! into equal parts, which must divide the dim exactly; a symbolic dim must divide exactly).
//! Lengths must be ≥ 0 and sum to the dim.

use super::fix_axis;
use crate::error::Result;
use crate::ir::{Dim, TensorType};
use crate::kir::build;
use crate::lower::LowerCx;
use crate::ops::{tt, Attrs, InferCx, Op, ALL};

#[derive(Debug)]
pub struct Split {
    pub axis: i64,
    pub split_attr: Option<Vec<i64>>,
    pub num_outputs: Option<i64>,
}

pub fn import(a: &Attrs) -> Result<Box<dyn Op>> {
    let opset = a.node().opset;
    let split_attr = if opset < 13 {
        a.ints_opt("split")?
    } else {
        None
    };
    let num_outputs = if opset >= 18 {
        a.int_opt("num_outputs")?
    } else {
        None
    };
    if let Some(n) = num_outputs {
        if n < 1 {
            return Err(a.err("num_outputs", format!("must be >= 1, got {n}")));
        }
        if n as usize != a.node().outputs.len() {
            return Err(a.err(
                "num_outputs",
                format!("is {n} but the node has {} outputs", a.node().outputs.len()),
            ));
        }
    }
    Ok(Box::new(Split {
        axis: a.int("axis", 0)?,
        split_attr,
        num_outputs,
    }))
}

impl Split {
    fn lengths(&self, cx: &InferCx) -> Result<Vec<Dim>> {
        let x = &cx.ty(0)?.shape;
        if x.is_empty() {
            return Err(cx.err("input must have rank >= 1"));
        }
        let ax = cx.axis(self.axis, x.len(), "axis")?;
        let d = &x[ax];
        let n = cx.node.outputs.len();
        let split = match &self.split_attr {
            Some(s) => Some(s.clone()),
            None if cx.has(1) => Some(cx.const_ints(1, "split")?),
            None => None,
        };
        if let Some(s) = split {
            if s.len() != n {
                return Err(cx.err(format!("split has {} lengths for {n} outputs", s.len())));
            }
            if let Some(v) = s.iter().find(|v| **v < 0) {
                return Err(cx.err(format!("split {s:?} has a negative length {v}")));
            }
            let total: i64 = s.iter().sum();
            if d.as_known() != Some(total) {
                return Err(cx.err(format!(
                    "split {s:?} sums to {total} but axis {ax} has {}",
                    d.show(cx.syms)
                )));
            }
            return Ok(s.into_iter().map(Dim::known).collect());
        }
        if self.num_outputs.is_some() {
            if let Some(k) = d.as_known() {
                let n = n as i64;
                let chunk = (k + n - 1) / n;
                let mut out = vec![];
                let mut left = k;
                for _ in 0..n {
                    let c = chunk.min(left).max(0);
                    out.push(Dim::known(c));
                    left -= c;
                }
                return Ok(out);
            }
        }
        let part = d.div_exact(&Dim::known(n as i64)).ok_or_else(|| {
            cx.err(format!(
                "axis {ax} of size {} cannot be split into {n} equal parts",
                d.show(cx.syms)
            ))
        })?;
        Ok(vec![part; n])
    }
}

impl Op for Split {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let dt = cx.expect_dtype(0, ALL)?;
        let x = &cx.ty(0)?.shape;
        let ax = cx.axis(self.axis, x.len(), "axis")?;
        Ok(self
            .lengths(cx)?
            .into_iter()
            .map(|l| {
                let mut s = x.clone();
                s[ax] = l;
                tt(dt, s)
            })
            .collect())
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let ax = fix_axis(self.axis, x.rank());
        let xs = x.strides();
        let lens = super::with_infer(cx, |icx| self.lengths(icx))?;
        let mut off = Dim::known(0);
        for (k, len) in lens.iter().enumerate() {
            if let Some(y) = cx.outs.get(k).cloned().flatten() {
                let o = off.to_expr();
                let ys = y.strides();
                cx.kb.loops(&y.dims(), |kb, idx| {
                    let mut src = idx.to_vec();
                    src[ax] = build::add(src[ax].clone(), o.clone());
                    kb.store(
                        y.buf,
                        build::linear(idx, &ys),
                        x.load(build::linear(&src, &xs)),
                    );
                });
            }
            off = off.add(len);
        }
        Ok(())
    }
}
