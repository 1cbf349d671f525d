//! Concat (opset 4, 11 negative axis, 13): joins inputs along `axis`; all other dims must be
//! equal. Each input is copied into its slice of the output by its own loop nest.

use super::{tt, Attrs, InferCx, Op, MOVABLE};
use crate::error::Result;
use crate::ir::{Dim, TensorType};
use crate::kir::build;
use crate::kir::Expr;
use crate::lower::LowerCx;

#[derive(Debug)]
pub struct Concat {
    pub axis: i64,
}

pub fn import(a: &Attrs) -> Result<Box<dyn Op>> {
    Ok(Box::new(Concat {
        axis: a.req_int("axis")?,
    }))
}

impl Concat {
    fn axis(&self, cx: &InferCx) -> Result<usize> {
        cx.axis(self.axis, cx.ty(0)?.shape.len(), "axis")
    }
}

impl Op for Concat {
    fn concat_axis(&self, rank: usize) -> Option<usize> {
        let r = rank as i64;
        let ax = if self.axis < 0 {
            self.axis + r
        } else {
            self.axis
        };
        (0..r).contains(&ax).then_some(ax as usize)
    }
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let d = cx.expect_dtype(0, MOVABLE)?;
        let first = cx.ty(0)?;
        if first.shape.is_empty() {
            return Err(cx.err("inputs must have rank >= 1 (input 0 is a scalar)"));
        }
        let ax = self.axis(cx)?;
        let mut shape = first.shape.clone();
        shape[ax] = Dim::known(0);
        for i in 0..cx.inputs.len() {
            let t = cx.ty(i)?;
            if t.dtype != d || t.shape.len() != first.shape.len() {
                return Err(cx.err(format!(
                    "input {i} ({} {}) does not match input 0 ({d} {})",
                    t.dtype,
                    cx.shape_str(&t.shape),
                    cx.shape_str(&first.shape)
                )));
            }
            for (k, (a, b)) in t.shape.iter().zip(&first.shape).enumerate() {
                if k != ax && a != b {
                    return Err(cx.err(format!(
                        "input {i} has shape {}, input 0 {}: dims other than the axis must match",
                        cx.shape_str(&t.shape),
                        cx.shape_str(&first.shape)
                    )));
                }
            }
            shape[ax] = shape[ax].add(&t.shape[ax]);
        }
        Ok(vec![tt(d, shape)])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let y = cx.output(0)?;
        let r = y.rank() as i64;
        let ax = if self.axis < 0 {
            (self.axis + r) as usize
        } else {
            self.axis as usize
        };
        let ys = y.strides();
        let mut offset = Dim::known(0);
        for i in 0..cx.ins.len() {
            let x = cx.input(i)?;
            let off = offset.to_expr();
            cx.kb.loops(&x.dims(), |kb, idx| {
                let mut oidx = idx.to_vec();
                oidx[ax] = build::add(oidx[ax].clone(), off.clone());
                kb.store(y.buf, build::linear(&oidx, &ys), x.at(idx));
            });
            offset = offset.add(&x.shape[ax]);
        }
        let _ = Expr::i64(0);
        Ok(())
    }
}
