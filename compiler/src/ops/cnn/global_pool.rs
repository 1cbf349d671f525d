//! GlobalAveragePool and GlobalMaxPool (opset 1; 22 only adds bfloat16):
//! <https://onnx.ai/onnx/operators/onnx__GlobalAveragePool.html>,
//! <https://onnx.ai/onnx/operators/onnx__GlobalMaxPool.html>
//!
//! `Y[n, c, 1, ..., 1]` = mean / max of `X[n, c, ...]` over all spatial dims (rank ≥ 3; any
//! dim may be symbolic). The sum runs in index order and is divided once by the element
//! count; the max propagates NaN (kir `Max`). An empty plane gives NaN (mean) or -inf (max).

use super::pool::lowest;
use crate::error::Result;
use crate::ir::{dim::numel, Dim, TensorType};
use crate::kir::build::{self, cast};
use crate::kir::{BinOp, Expr, Scalar};
use crate::lower::LowerCx;
use crate::ops::{tt, Attrs, InferCx, Op, FLOATS};

#[derive(Debug)]
pub struct GlobalPool {
    pub max: bool,
}

pub fn import_avg(_: &Attrs) -> Result<Box<dyn Op>> {
    Ok(Box::new(GlobalPool { max: false }))
}

pub fn import_max(_: &Attrs) -> Result<Box<dyn Op>> {
    Ok(Box::new(GlobalPool { max: true }))
}

impl Op for GlobalPool {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let d = cx.expect_dtype(0, FLOATS)?;
        let x = &cx.ty(0)?.shape;
        if x.len() < 3 {
            return Err(cx.err(format!(
                "X must have rank 3 or more (N, C, spatial...), got rank {}",
                x.len()
            )));
        }
        let mut out = x[..2].to_vec();
        out.extend(x[2..].iter().map(|_| Dim::known(1)));
        Ok(vec![tt(d, out)])
    }

    fn flops(&self, inputs: &[Option<&TensorType>], _: &[&TensorType]) -> Dim {
        inputs
            .first()
            .copied()
            .flatten()
            .map_or(Dim::known(0), |x| numel(&x.shape))
    }

    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let y = cx.output(0)?;
        let t = y.elem;
        let plane = numel(&x.shape[2..]).to_expr();
        let nc = numel(&x.shape[..2]).to_expr();
        let max = self.max;
        cx.kb.loop_(Expr::i64(0), nc, |kb, c| {
            let base = kb.let_(Scalar::I64, build::mul(c.clone(), plane.clone()));
            let init = if max { lowest(t) } else { Expr::imm(t, 0.0) };
            let op = |a, b| {
                if max {
                    build::max(a, b)
                } else {
                    build::binary(BinOp::Add, a, b)
                }
            };
            let acc = kb.reduce(t, init, plane.clone(), op, |_, i| {
                x.load(build::add(base.clone(), i))
            });
            let v = if max {
                acc
            } else {
                build::binary(BinOp::Div, acc, cast(t, plane.clone()))
            };
            kb.store(y.buf, c, v);
        });
        Ok(())
    }
}
