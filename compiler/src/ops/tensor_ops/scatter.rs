//! ScatterElements and ScatterND.
//!
//! ScatterElements (opset 11, 13, 16 `reduction` none/add/mul, 18 max/min):
//! <https://onnx.ai/onnx/operators/onnx__ScatterElements.html>. The output is a copy of `data`
//! in which, for each position `i` of `indices`, the element at `i` with `i[axis] = indices[i]`
//! is set to (or combined with) `updates[i]`.
//!
//! ScatterND (opset 11, 13, 16 add/mul, 18 max/min):
//! <https://onnx.ai/onnx/operators/onnx__ScatterND.html>. Each index tuple (the last dim `k` of
//! `indices`, known at compile time) addresses a slice `data.shape[k:]` that receives the
//! corresponding slice of `updates` (shape `indices.shape[:-1] + data.shape[k:]`).
//!
//! Updates are applied in index order, so with duplicate indices and no reduction the last
//! one wins (the spec leaves this undefined). Negative indices count from the end; anything
//! outside `[-dim, dim)` returns `BadIndex` before any out-of-range access. On bool, add is
//! or and mul is and.

use super::{checked_index, fix_axis, to_i64};
use crate::error::Result;
use crate::ir::TensorType;
use crate::kir::build::{self, and, or};
use crate::kir::{BinOp, Expr, Scalar};
use crate::lower::LowerCx;
use crate::ops::{tt, Attrs, InferCx, Op, ALL};
use crate::tensor::DType;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reduction {
    None,
    Add,
    Mul,
    Max,
    Min,
}

fn reduction(a: &Attrs) -> Result<Reduction> {
    let opset = a.node().opset;
    if opset < 16 {
        return Ok(Reduction::None);
    }
    let r = a.string("reduction", "none")?;
    Ok(match r.as_str() {
        "none" => Reduction::None,
        "add" => Reduction::Add,
        "mul" => Reduction::Mul,
        "max" if opset >= 18 => Reduction::Max,
        "min" if opset >= 18 => Reduction::Min,
        other => return Err(a.err("reduction", format!("unknown reduction '{other}'"))),
    })
}

fn combine(r: Reduction, t: Scalar, old: Expr, new: Expr) -> Expr {
    let b = t == Scalar::Bool;
    match r {
        Reduction::None => new,
        Reduction::Add if b => or(old, new),
        Reduction::Mul if b => and(old, new),
        Reduction::Max if b => or(old, new),
        Reduction::Min if b => and(old, new),
        Reduction::Add => build::binary(BinOp::Add, old, new),
        Reduction::Mul => build::binary(BinOp::Mul, old, new),
        Reduction::Max => build::max(old, new),
        Reduction::Min => build::min(old, new),
    }
}

#[derive(Debug)]
pub struct ScatterElements {
    pub axis: i64,
    pub reduction: Reduction,
}

pub fn import_elements(a: &Attrs) -> Result<Box<dyn Op>> {
    Ok(Box::new(ScatterElements {
        axis: a.int("axis", 0)?,
        reduction: reduction(a)?,
    }))
}

fn copy_data(cx: &mut LowerCx) -> Result<()> {
    cx.copy_linear()
}

impl Op for ScatterElements {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let d = cx.expect_dtype(0, ALL)?;
        cx.expect_dtype(1, &[DType::I32, DType::I64])?;
        let x = &cx.ty(0)?.shape;
        let ind = &cx.ty(1)?.shape;
        let upd = cx.ty(2)?;
        if upd.dtype != d || &upd.shape != ind {
            return Err(cx.err(format!(
                "updates ({} {}) must have data's type and the indices' shape {}",
                upd.dtype,
                cx.shape_str(&upd.shape),
                cx.shape_str(ind)
            )));
        }
        if x.is_empty() || ind.len() != x.len() {
            return Err(cx.err("data and indices must have the same rank >= 1"));
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
        Ok(vec![tt(d, x.clone())])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let y = cx.output(0)?;
        let ind = cx.input(1)?;
        let upd = cx.input(2)?;
        copy_data(cx)?;
        let ax = fix_axis(self.axis, y.rank());
        let ys = y.strides();
        let dim = y.dim(ax);
        let (red, t) = (self.reduction, y.elem);
        cx.kb.loops(&ind.dims(), |kb, idx| {
            let li = build::linear(idx, &ind.strides());
            let j = checked_index(kb, to_i64(ind.load(li.clone()), ind.elem), dim.clone());
            let mut dst = idx.to_vec();
            dst[ax] = j;
            let di = kb.let_(Scalar::I64, build::linear(&dst, &ys));
            let v = combine(red, t, y.load(di.clone()), upd.load(li));
            kb.store(y.buf, di, v);
        });
        Ok(())
    }
}

#[derive(Debug)]
pub struct ScatterNd {
    pub reduction: Reduction,
}

pub fn import_nd(a: &Attrs) -> Result<Box<dyn Op>> {
    Ok(Box::new(ScatterNd {
        reduction: reduction(a)?,
    }))
}

impl Op for ScatterNd {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let d = cx.expect_dtype(0, ALL)?;
        cx.expect_dtype(1, &[DType::I64])?;
        let x = &cx.ty(0)?.shape;
        let ind = &cx.ty(1)?.shape;
        let upd = cx.ty(2)?;
        if ind.is_empty() {
            return Err(cx.err("indices must have rank >= 1"));
        }
        let k = ind[ind.len() - 1]
            .as_known()
            .ok_or_else(|| cx.err("the last dim of indices must be known (use --dim)"))?
            as usize;
        if k > x.len() {
            return Err(cx.err(format!(
                "indices' last dim {k} exceeds data's rank {}",
                x.len()
            )));
        }
        let mut want = ind[..ind.len() - 1].to_vec();
        want.extend(x[k..].iter().cloned());
        if upd.dtype != d || upd.shape != want {
            return Err(cx.err(format!(
                "updates ({} {}) must be {d} {}",
                upd.dtype,
                cx.shape_str(&upd.shape),
                cx.shape_str(&want)
            )));
        }
        Ok(vec![tt(d, x.clone())])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let y = cx.output(0)?;
        let ind = cx.input(1)?;
        let upd = cx.input(2)?;
        copy_data(cx)?;
        let q = ind.rank();
        let k = ind.shape[q - 1].as_known().unwrap_or(0) as usize;
        let ys = y.strides();
        let is = ind.strides();
        let us = upd.strides();
        let outer: Vec<Expr> = ind.dims()[..q - 1].to_vec();
        let tail: Vec<Expr> = y.dims()[k..].to_vec();
        let (red, t) = (self.reduction, y.elem);
        cx.kb.loops(&outer, |kb, oidx| {
            let mut dst: Vec<Expr> = vec![];
            for j in 0..k {
                let mut ii = oidx.to_vec();
                ii.push(Expr::i64(j as i64));
                let raw = ind.load(build::linear(&ii, &is));
                dst.push(checked_index(kb, raw, y.dim(j)));
            }
            kb.loops(&tail, |kb, tidx| {
                let mut d = dst.clone();
                d.extend(tidx.iter().cloned());
                let mut u = oidx.to_vec();
                u.extend(tidx.iter().cloned());
                let di = kb.let_(Scalar::I64, build::linear(&d, &ys));
                let v = combine(red, t, y.load(di.clone()), upd.load(build::linear(&u, &us)));
                kb.store(y.buf, di, v);
            });
        });
        Ok(())
    }
}
