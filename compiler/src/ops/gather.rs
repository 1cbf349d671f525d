//! Gather (opset 1, 11 negative indices, 13): `out = data.take(indices, axis)`. Negative
//! indices count from the end; an index outside `[-dim, dim)` makes the entry return
//! `KILN_ERR_INDEX` before anything is read out of bounds.

use super::{tt, Attrs, InferCx, Op, MOVABLE};
use crate::error::Result;
use crate::ir::{dim::numel, TensorType};
use crate::kir::build::{self, cast, cmp, or, select};
use crate::kir::{BinOp, CmpOp, Expr, Scalar, Status};
use crate::lower::LowerCx;
use crate::tensor::DType;

#[derive(Debug)]
pub struct Gather {
    pub axis: i64,
}

pub fn import(a: &Attrs) -> Result<Box<dyn Op>> {
    Ok(Box::new(Gather {
        axis: a.int("axis", 0)?,
    }))
}

impl Op for Gather {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let d = cx.expect_dtype(0, MOVABLE)?;
        cx.expect_dtype(1, &[DType::I32, DType::I64])?;
        let x = &cx.ty(0)?.shape;
        if x.is_empty() {
            return Err(cx.err("data must have rank >= 1"));
        }
        let ax = cx.axis(self.axis, x.len(), "axis")?;
        let mut shape = x[..ax].to_vec();
        shape.extend(cx.ty(1)?.shape.iter().cloned());
        shape.extend(x[ax + 1..].iter().cloned());
        Ok(vec![tt(d, shape)])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let ind = cx.input(1)?;
        let y = cx.output(0)?;
        let ax = if self.axis < 0 {
            (self.axis + x.rank() as i64) as usize
        } else {
            self.axis as usize
        };
        let outer = numel(&x.shape[..ax]).to_expr();
        let inner = numel(&x.shape[ax + 1..]).to_expr();
        let dim = x.dim(ax);
        let nidx = ind.numel();
        cx.kb.loop_(Expr::i64(0), outer, |kb, o| {
            kb.loop_(Expr::i64(0), nidx.clone(), |kb, j| {
                let raw = kb.let_(Scalar::I64, cast(Scalar::I64, ind.load(j.clone())));
                let fixed = kb.let_(
                    Scalar::I64,
                    select(
                        cmp(CmpOp::Lt, raw.clone(), Expr::i64(0)),
                        build::binary(BinOp::Add, raw.clone(), dim.clone()),
                        raw,
                    ),
                );
                let bad = or(
                    cmp(CmpOp::Lt, fixed.clone(), Expr::i64(0)),
                    cmp(CmpOp::Ge, fixed.clone(), dim.clone()),
                );
                kb.if_(bad, |kb| kb.fail(Status::BadIndex), |_| {});
                let src_base = build::mul(
                    build::add(build::mul(o.clone(), dim.clone()), fixed),
                    inner.clone(),
                );
                let dst_base = build::mul(
                    build::add(build::mul(o.clone(), nidx.clone()), j),
                    inner.clone(),
                );
                kb.loop_(Expr::i64(0), inner.clone(), |kb, i| {
                    kb.store(
                        y.buf,
                        build::add(dst_base.clone(), i.clone()),
                        x.load(build::add(src_base.clone(), i)),
                    );
                });
            });
        });
        Ok(())
    }
}
