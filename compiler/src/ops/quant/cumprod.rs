//! CumProd (opset 26): <https://onnx.ai/onnx/operators/onnx__CumProd.html>. Running products
//! along `axis` (input 1, an int32/int64 scalar known at compile time; negative counts from
//! the end). `exclusive` leaves out the element itself (the first output is 1); `reverse`
//! multiplies from the end. Products run in the element type (integers wrap) in scan order.

use crate::error::Result;
use crate::ir::{dim::numel, TensorType};
use crate::kir::build;
use crate::kir::{BinOp, Expr};
use crate::lower::LowerCx;
use crate::ops::tensor_ops::{fix_axis, with_infer};
use crate::ops::{tt, Attrs, InferCx, Op, NUMERIC};

#[derive(Debug)]
pub struct CumProd {
    pub exclusive: bool,
    pub reverse: bool,
}

pub fn import(a: &Attrs) -> Result<Box<dyn Op>> {
    Ok(Box::new(CumProd {
        exclusive: a.int("exclusive", 0)? != 0,
        reverse: a.int("reverse", 0)? != 0,
    }))
}

impl CumProd {
    fn axis(&self, cx: &InferCx) -> Result<usize> {
        let v = cx.const_ints(1, "axis")?;
        if v.len() != 1 || cx.ty(1)?.shape.len() > 1 {
            return Err(cx.err("axis (input 1) must be a scalar"));
        }
        cx.axis(v[0], cx.ty(0)?.shape.len(), "axis")
    }
}

impl Op for CumProd {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let d = cx.expect_dtype(0, NUMERIC)?;
        if cx.ty(0)?.shape.is_empty() {
            return Err(cx.err("input must have rank >= 1"));
        }
        self.axis(cx)?;
        Ok(vec![tt(d, cx.ty(0)?.shape.clone())])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let y = cx.output(0)?;
        let ax = with_infer(cx, |icx| self.axis(icx))?;
        let ax = fix_axis(ax as i64, x.rank());
        let outer = numel(&x.shape[..ax]).to_expr();
        let inner = numel(&x.shape[ax + 1..]).to_expr();
        let n = x.dim(ax);
        let t = x.elem;
        let (excl, rev) = (self.exclusive, self.reverse);
        cx.kb.loop_(Expr::i64(0), outer, |kb, o| {
            kb.loop_(Expr::i64(0), inner.clone(), |kb, i| {
                let base = build::add(
                    build::mul(build::mul(o.clone(), n.clone()), inner.clone()),
                    i,
                );
                let acc = kb.let_mut(t, Expr::imm(t, 1.0));
                kb.loop_(Expr::i64(0), n.clone(), |kb, j| {
                    let k = if rev {
                        build::sub(build::sub(n.clone(), Expr::i64(1)), j)
                    } else {
                        j
                    };
                    let at = build::add(base.clone(), build::mul(k, inner.clone()));
                    let v = kb.let_(t, x.load(at.clone()));
                    if excl {
                        kb.store(y.buf, at.clone(), Expr::Var(acc));
                    }
                    kb.set(acc, build::binary(BinOp::Mul, Expr::Var(acc), v));
                    if !excl {
                        kb.store(y.buf, at, Expr::Var(acc));
                    }
                });
            });
        });
        Ok(())
    }
}
