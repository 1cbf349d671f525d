//! OneHot (opset 9, 11): <https://onnx.ai/onnx/operators/onnx__OneHot.html>. Output shape: the
//! indices' shape with `depth` inserted at `axis` (default -1, counted in the output's rank);
//! `depth` (any numeric scalar, known at compile time; floats truncate) must be ≥ 1. Values
//! `[off, on]` give the output type. Indices of any numeric type (floats truncate toward zero);
//! opset 11 counts negative indices from the end (`i + depth`); an index outside
//! `[-depth, depth)` gives a row of all `off` (spec), not an error.

use super::{const_scalar_f64, fix_axis};
use crate::error::Result;
use crate::ir::{Dim, TensorType};
use crate::kir::build::{self, cast, cmp, select};
use crate::kir::{CmpOp, Expr, Scalar};
use crate::lower::LowerCx;
use crate::ops::{tt, Attrs, InferCx, Op, ALL, NUMERIC};

#[derive(Debug)]
pub struct OneHot {
    pub axis: i64,
    pub negative: bool,
}

pub fn import(a: &Attrs) -> Result<Box<dyn Op>> {
    Ok(Box::new(OneHot {
        axis: a.int("axis", -1)?,
        negative: a.node().opset >= 11,
    }))
}

impl OneHot {
    fn depth(&self, cx: &InferCx) -> Result<i64> {
        let d = const_scalar_f64(cx, 1, "depth")?.trunc();
        if !(d >= 1.0 && d < i64::MAX as f64) {
            return Err(cx.err(format!("depth must be >= 1, got {d}")));
        }
        Ok(d as i64)
    }
}

impl Op for OneHot {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        cx.expect_dtype(0, NUMERIC)?;
        let vt = cx.expect_dtype(2, ALL)?;
        if crate::ir::dim::numel(&cx.ty(2)?.shape).as_known() != Some(2) {
            return Err(cx.err("values (input 2) must hold 2 elements [off, on]"));
        }
        let depth = self.depth(cx)?;
        let ind = &cx.ty(0)?.shape;
        let ax = cx.axis(self.axis, ind.len() + 1, "axis")?;
        let mut out = ind.clone();
        out.insert(ax, Dim::known(depth));
        Ok(vec![tt(vt, out)])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let ind = cx.input(0)?;
        let vals = cx.input(2)?;
        let y = cx.output(0)?;
        let depth = super::with_infer(cx, |icx| self.depth(icx))?;
        let ax = fix_axis(self.axis, y.rank());
        let off = cx.kb.let_(y.elem, vals.load(Expr::i64(0)));
        let on = cx.kb.let_(y.elem, vals.load(Expr::i64(1)));
        let ys = y.strides();
        let neg = self.negative;
        cx.kb.loops(&y.dims(), |kb, idx| {
            let mut iidx = idx.to_vec();
            let j = iidx.remove(ax);
            let raw = ind.at(&iidx);
            let raw = if ind.elem == Scalar::I64 {
                raw
            } else {
                cast(Scalar::I64, raw)
            };
            let v = kb.let_(Scalar::I64, raw);
            let v = if neg {
                select(
                    cmp(CmpOp::Lt, v.clone(), Expr::i64(0)),
                    build::add(v.clone(), Expr::i64(depth)),
                    v,
                )
            } else {
                v
            };
            let hot = cmp(CmpOp::Eq, v, j);
            kb.store(
                y.buf,
                build::linear(idx, &ys),
                select(hot, on.clone(), off.clone()),
            );
        });
        Ok(())
    }
}
