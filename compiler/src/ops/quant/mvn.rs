//! MeanVarianceNormalization and GlobalLpPool.
//!
//! - MeanVarianceNormalization (opset 9, 13):
//!   <https://onnx.ai/onnx/operators/onnx__MeanVarianceNormalization.html>. Over the axes
//!   `axes` (default `[0, 2, 3]`): `(X - E[X]) / (sqrt(E[X^2] - E[X]^2) + 1e-9)`, exactly the
//!   op's function body (opset 13 only added bfloat16). Sums run in index order.
//! - GlobalLpPool (opset 1 float `p`, 2 int `p`):
//!   <https://onnx.ai/onnx/operators/onnx__GlobalLpPool.html>. `Y[n, c, 1...] =
//!   (sum |X[n, c, ...]|^p)^(1/p)` with `Pow` for both powers, as the reference does.

use super::{merge_idx, split_dims};
use crate::error::Result;
use crate::ir::{dim::numel, Dim, TensorType};
use crate::kir::build::{self, call, cast, unary};
use crate::kir::{BinOp, Expr, MathFn, Scalar, UnOp};
use crate::lower::LowerCx;
use crate::ops::tensor_ops::norm_axes;
use crate::ops::{tt, Attrs, InferCx, Op, FLOATS};

#[derive(Debug)]
pub struct Mvn {
    pub axes: Vec<i64>,
}

pub fn import_mvn(a: &Attrs) -> Result<Box<dyn Op>> {
    Ok(Box::new(Mvn {
        axes: a.ints_opt("axes")?.unwrap_or_else(|| vec![0, 2, 3]),
    }))
}

impl Mvn {
    fn mask(&self, cx: &InferCx) -> Result<Vec<bool>> {
        let r = cx.ty(0)?.shape.len();
        let ax = norm_axes(cx, &self.axes, r, "axes")?;
        Ok((0..r).map(|i| ax.contains(&i)).collect())
    }
}

impl Op for Mvn {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let d = cx.expect_dtype(0, FLOATS)?;
        self.mask(cx)?;
        Ok(vec![tt(d, cx.ty(0)?.shape.clone())])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let y = cx.output(0)?;
        let mask = crate::ops::tensor_ops::with_infer(cx, |icx| self.mask(icx))?;
        let dims = x.dims();
        let (kept, red) = split_dims(&dims, &mask);
        let count: Vec<Dim> = x
            .shape
            .iter()
            .zip(&mask)
            .filter(|(_, m)| **m)
            .map(|(d, _)| d.clone())
            .collect();
        let count = numel(&count).to_expr();
        let t = x.elem;
        let xs = x.strides();
        let bin = build::binary;
        cx.kb.loops(&kept, |kb, ki| {
            let s = kb.let_mut(t, Expr::imm(t, 0.0));
            let s2 = kb.let_mut(t, Expr::imm(t, 0.0));
            kb.loops(&red, |kb, ri| {
                let i = build::linear(&merge_idx(ki, ri, &mask), &xs);
                let v = kb.let_(t, x.load(i));
                kb.set(s, bin(BinOp::Add, Expr::Var(s), v.clone()));
                kb.set(
                    s2,
                    bin(BinOp::Add, Expr::Var(s2), bin(BinOp::Mul, v.clone(), v)),
                );
            });
            let n = kb.let_(t, cast(t, count.clone()));
            let mean = kb.let_(t, bin(BinOp::Div, Expr::Var(s), n.clone()));
            let msq = bin(BinOp::Div, Expr::Var(s2), n);
            let var = bin(BinOp::Sub, msq, bin(BinOp::Mul, mean.clone(), mean.clone()));
            let den = kb.let_(
                t,
                bin(BinOp::Add, unary(UnOp::Sqrt, var), Expr::imm(t, 1e-9)),
            );
            kb.loops(&red, |kb, ri| {
                let i = kb.let_(Scalar::I64, build::linear(&merge_idx(ki, ri, &mask), &xs));
                let v = bin(
                    BinOp::Div,
                    bin(BinOp::Sub, x.load(i.clone()), mean.clone()),
                    den.clone(),
                );
                kb.store(y.buf, i, v);
            });
        });
        Ok(())
    }
}

#[derive(Debug)]
pub struct GlobalLp {
    pub p: f64,
}

pub fn import_global_lp(a: &Attrs) -> Result<Box<dyn Op>> {
    let p = a.float("p", 2.0)? as f64;
    if p <= 0.0 {
        return Err(a.err("p", format!("value {p} must be positive")));
    }
    Ok(Box::new(GlobalLp { p }))
}

impl Op for GlobalLp {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let d = cx.expect_dtype(0, FLOATS)?;
        let x = &cx.ty(0)?.shape;
        if x.len() < 2 {
            return Err(cx.err("input must have rank >= 2 (N, C, spatial...)"));
        }
        let mut out = x[..2].to_vec();
        out.extend((2..x.len()).map(|_| Dim::known(1)));
        Ok(vec![tt(d, out)])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let y = cx.output(0)?;
        let t = x.elem;
        let outer = numel(&x.shape[..2]).to_expr();
        let plane = numel(&x.shape[2..]).to_expr();
        let p = Expr::imm(t, self.p);
        let inv = Expr::imm(t, 1.0 / self.p);
        cx.kb.loop_(Expr::i64(0), outer, |kb, o| {
            let base = kb.let_(Scalar::I64, build::mul(o.clone(), plane.clone()));
            let s = kb.let_mut(t, Expr::imm(t, 0.0));
            kb.loop_(Expr::i64(0), plane.clone(), |kb, i| {
                let v = x.load(build::add(base.clone(), i));
                let pw = call(MathFn::Pow, vec![unary(UnOp::Abs, v), p.clone()]);
                kb.set(s, build::binary(BinOp::Add, Expr::Var(s), pw));
            });
            kb.store(y.buf, o, call(MathFn::Pow, vec![Expr::Var(s), inv.clone()]));
        });
        Ok(())
    }
}
