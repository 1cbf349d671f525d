//! GatherElements and GatherND.
//!
//! GatherElements (opset 11, 13): <https://onnx.ai/onnx/operators/onnx__GatherElements.html>.
//! `out[i] = data[i with i[axis] = indices[i]]`; the output has the indices' shape (every other
//! dim of `indices` must not exceed data's). Opset 13 only widened types.
//!
//! GatherND (opset 11, 12 `batch_dims`, 13): <https://onnx.ai/onnx/operators/onnx__GatherND.html>.
//! The last dim of `indices` (`m`, known at compile time) indexes dims `b..b+m` of data after
//! `b = batch_dims` shared leading dims; output shape `indices.shape[:-1] + data.shape[b+m:]`.
//!
//! Indices come from data: negative ones count from the end, anything outside `[-dim, dim)`
//! returns `BadIndex` before any out-of-range access.

use super::{checked_index, fix_axis, to_i64};
use crate::error::Result;
use crate::ir::TensorType;
use crate::kir::build;
use crate::kir::Expr;
use crate::lower::LowerCx;
use crate::ops::{tt, Attrs, InferCx, Op, ALL};
use crate::tensor::DType;

#[derive(Debug)]
pub struct GatherElements {
    pub axis: i64,
}

pub fn import_elements(a: &Attrs) -> Result<Box<dyn Op>> {
    Ok(Box::new(GatherElements {
        axis: a.int("axis", 0)?,
    }))
}

impl Op for GatherElements {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let d = cx.expect_dtype(0, ALL)?;
        cx.expect_dtype(1, &[DType::I32, DType::I64])?;
        let x = &cx.ty(0)?.shape;
        let ind = &cx.ty(1)?.shape;
        if x.is_empty() || ind.len() != x.len() {
            return Err(cx.err(format!(
                "data {} and indices {} must have the same rank >= 1",
                cx.shape_str(x),
                cx.shape_str(ind)
            )));
        }
        let ax = cx.axis(self.axis, x.len(), "axis")?;
        for (i, (a, b)) in ind.iter().zip(x).enumerate() {
            if i != ax && a != b && a.as_known().zip(b.as_known()).is_none_or(|(a, b)| a > b) {
                return Err(cx.err(format!(
                    "indices {} exceed data {} on axis {i}",
                    cx.shape_str(ind),
                    cx.shape_str(x)
                )));
            }
        }
        Ok(vec![tt(d, ind.clone())])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let ind = cx.input(1)?;
        let y = cx.output(0)?;
        let ax = fix_axis(self.axis, x.rank());
        let xs = x.strides();
        let ys = y.strides();
        let dim = x.dim(ax);
        cx.kb.loops(&y.dims(), |kb, idx| {
            let li = build::linear(idx, &ys);
            let j = checked_index(kb, to_i64(ind.load(li.clone()), ind.elem), dim.clone());
            let mut src = idx.to_vec();
            src[ax] = j;
            kb.store(y.buf, li, x.load(build::linear(&src, &xs)));
        });
        Ok(())
    }
}

#[derive(Debug)]
pub struct GatherNd {
    pub batch_dims: usize,
}

pub fn import_nd(a: &Attrs) -> Result<Box<dyn Op>> {
    let b = if a.node().opset >= 12 {
        a.int("batch_dims", 0)?
    } else {
        0
    };
    if b < 0 {
        return Err(a.err("batch_dims", format!("must be >= 0, got {b}")));
    }
    Ok(Box::new(GatherNd {
        batch_dims: b as usize,
    }))
}

impl Op for GatherNd {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let d = cx.expect_dtype(0, ALL)?;
        cx.expect_dtype(1, &[DType::I64])?;
        let x = &cx.ty(0)?.shape;
        let ind = &cx.ty(1)?.shape;
        let b = self.batch_dims;
        if ind.is_empty() || x.is_empty() || b >= ind.len() || b >= x.len() {
            return Err(cx.err(format!(
                "data {} and indices {} need rank > batch_dims = {b}",
                cx.shape_str(x),
                cx.shape_str(ind)
            )));
        }
        let m = ind[ind.len() - 1]
            .as_known()
            .ok_or_else(|| cx.err("the last dim of indices must be known (use --dim)"))?
            as usize;
        if m < 1 || b + m > x.len() {
            return Err(cx.err(format!(
                "indices' last dim {m} must be in 1..={} (data rank {} - batch_dims {b})",
                x.len() - b,
                x.len()
            )));
        }
        if ind[..b] != x[..b] {
            return Err(cx.err(format!(
                "the first {b} (batch) dims of data {} and indices {} differ",
                cx.shape_str(x),
                cx.shape_str(ind)
            )));
        }
        let mut out = ind[..ind.len() - 1].to_vec();
        out.extend(x[b + m..].iter().cloned());
        Ok(vec![tt(d, out)])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let ind = cx.input(1)?;
        let y = cx.output(0)?;
        let b = self.batch_dims;
        let q = ind.rank();
        let m = ind.shape[q - 1].as_known().unwrap_or(0) as usize;
        let xs = x.strides();
        let is = ind.strides();
        let ys = y.strides();
        let outer: Vec<Expr> = ind.dims()[..q - 1].to_vec();
        let tail: Vec<Expr> = x.dims()[b + m..].to_vec();
        cx.kb.loops(&outer, |kb, oidx| {
            let mut src: Vec<Expr> = oidx[..b].to_vec();
            for k in 0..m {
                let mut ii = oidx.to_vec();
                ii.push(Expr::i64(k as i64));
                let raw = ind.load(build::linear(&ii, &is));
                src.push(checked_index(kb, raw, x.dim(b + k)));
            }
            kb.loops(&tail, |kb, tidx| {
                let mut s = src.clone();
                s.extend(tidx.iter().cloned());
                let mut o = oidx.to_vec();
                o.extend(tidx.iter().cloned());
                kb.store(
                    y.buf,
                    build::linear(&o, &ys),
                    x.load(build::linear(&s, &xs)),
                );
            });
        });
        Ok(())
    }
}
