//! Trilu (opset 14): <https://onnx.ai/onnx/operators/onnx__Trilu.html>. Keeps the upper
//! (`upper`=1, default: `j - i >= k`) or lower (`j - i <= k`) triangle of the last two dims and
//! zeroes the rest. `k` (optional int64 scalar input, default 0) may be a run-time value.

use crate::error::Result;
use crate::ir::TensorType;
use crate::kir::build::{self, cmp, select};
use crate::kir::{CmpOp, Expr, Scalar};
use crate::lower::LowerCx;
use crate::ops::{tt, Attrs, InferCx, Op, ALL};
use crate::tensor::DType;

#[derive(Debug)]
pub struct Trilu {
    pub upper: bool,
}

pub fn import(a: &Attrs) -> Result<Box<dyn Op>> {
    Ok(Box::new(Trilu {
        upper: a.int("upper", 1)? != 0,
    }))
}

impl Op for Trilu {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let d = cx.expect_dtype(0, ALL)?;
        let x = &cx.ty(0)?.shape;
        if x.len() < 2 {
            return Err(cx.err("input must have rank >= 2"));
        }
        if cx.has(1) {
            cx.expect_dtype(1, &[DType::I64])?;
            if crate::ir::dim::numel(&cx.ty(1)?.shape).as_known() != Some(1) {
                return Err(cx.err("k (input 1) must be a scalar"));
            }
        }
        Ok(vec![tt(d, x.clone())])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let y = cx.output(0)?;
        let r = x.rank();
        let k = match cx.ins.get(1).cloned().flatten() {
            Some(k) => cx.kb.let_(Scalar::I64, k.load(Expr::i64(0))),
            None => Expr::i64(0),
        };
        let upper = self.upper;
        let zero = Expr::imm(x.elem, 0.0);
        cx.kb.loop_(Expr::i64(0), y.numel(), |kb, l| {
            let n = x.dim(r - 1);
            let m = x.dim(r - 2);
            let j = build::rem(l.clone(), n.clone());
            let i = build::rem(build::div(l.clone(), n), m);
            let diff = build::sub(j, i);
            let keep = if upper {
                cmp(CmpOp::Ge, diff, k.clone())
            } else {
                cmp(CmpOp::Le, diff, k.clone())
            };
            kb.store(y.buf, l.clone(), select(keep, x.load(l), zero.clone()));
        });
        Ok(())
    }
}
