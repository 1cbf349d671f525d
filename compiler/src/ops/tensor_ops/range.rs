//! Range (opset 11): <https://onnx.ai/onnx/operators/onnx__Range.html>. `start`, `limit` and
//! `delta` are scalars of one type (float, double, int16, int32, int64); the element count
//! `max(ceil((limit - start) / delta), 0)` is the output shape, so all three must be known at
//! compile time. Element `i` is `start + i * delta` computed in the element type (for floats
//! this is numpy `arange`; the spec's loop of repeated additions can differ in the last bits).
//! A zero delta is an error.

use super::const_scalar_f64;
use crate::error::Result;
use crate::ir::{Dim, TensorType};
use crate::kir::build::{self, cast};
use crate::kir::{BinOp, Expr, Scalar};
use crate::lower::LowerCx;
use crate::ops::{tt, Attrs, InferCx, Op};
use crate::tensor::DType;

#[derive(Debug)]
pub struct Range;

pub fn import(_a: &Attrs) -> Result<Box<dyn Op>> {
    Ok(Box::new(Range))
}

const TYPES: &[DType] = &[DType::F32, DType::F64, DType::I16, DType::I32, DType::I64];

impl Op for Range {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let d = cx.expect_dtype(0, TYPES)?;
        for i in 1..3 {
            if cx.ty(i)?.dtype != d {
                return Err(cx.err(format!(
                    "input {i} has element type {}, input 0 {d}",
                    cx.ty(i)?.dtype
                )));
            }
        }
        let n = if d.scalar().is_some_and(|s| s.is_float()) {
            let s = const_scalar_f64(cx, 0, "start")?;
            let l = const_scalar_f64(cx, 1, "limit")?;
            let dl = const_scalar_f64(cx, 2, "delta")?;
            if dl == 0.0 {
                return Err(cx.err("delta must not be 0"));
            }
            let n = ((l - s) / dl).ceil();
            if !n.is_finite() {
                return Err(cx.err("the element count is not finite"));
            }
            n.max(0.0) as i64
        } else {
            let one = |i: usize, w: &str| -> Result<i64> {
                let v = cx.const_ints(i, w)?;
                v.first()
                    .copied()
                    .filter(|_| v.len() == 1)
                    .ok_or_else(|| cx.err(format!("{w} must be a scalar")))
            };
            let (s, l, dl) = (
                one(0, "start")? as i128,
                one(1, "limit")? as i128,
                one(2, "delta")? as i128,
            );
            if dl == 0 {
                return Err(cx.err("delta must not be 0"));
            }
            let num = l - s;
            // ceil division for any signs
            let q = num / dl;
            let q = if (num % dl != 0) && ((num < 0) == (dl < 0)) {
                q + 1
            } else {
                q
            };
            q.max(0) as i64
        };
        Ok(vec![tt(d, vec![Dim::known(n)])])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let s = cx.input(0)?;
        let dl = cx.input(2)?;
        let y = cx.output(0)?;
        let t = y.elem;
        let start = cx.kb.let_(t, s.load(Expr::i64(0)));
        let delta = cx.kb.let_(t, dl.load(Expr::i64(0)));
        cx.kb.loop_(Expr::i64(0), y.numel(), |kb, i| {
            let v = build::binary(
                BinOp::Add,
                start.clone(),
                build::binary(
                    BinOp::Mul,
                    if t == Scalar::I64 {
                        i.clone()
                    } else {
                        cast(t, i.clone())
                    },
                    delta.clone(),
                ),
            );
            kb.store(y.buf, i, v);
        });
        Ok(())
    }
}
