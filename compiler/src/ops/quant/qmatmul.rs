//! MatMulInteger and QLinearMatMul.
//!
//! - MatMulInteger (10) <https://onnx.ai/onnx/operators/onnx__MatMulInteger.html>:
//!   `Y = (A - a_zero_point) @ (B - b_zero_point)` in int32, numpy `matmul` shapes (1-D
//!   operands promoted, batch dims broadcast). `a_zero_point` is a scalar or per row of A (1-D
//!   of M elements), `b_zero_point` a scalar or per column of B (1-D of N).
//! - QLinearMatMul (10, 21) <https://onnx.ai/onnx/operators/onnx__QLinearMatMul.html>: the
//!   same integer product, then `y = saturate(round_half_even(C * (a_scale * b_scale /
//!   y_scale)) + y_zero_point)`. Opset 21 only adds float8 and float16 scale types (no storage
//!   in Kiln yet). As in the ONNX reference, the scale ratio is computed in the scales' type
//!   and the int32 product is multiplied in float64 (numpy promotes int32 * float32 to
//!   float64), the zero point added, rounded half to even and clamped. The a/b parameters may
//!   be per row / per column like MatMulInteger's zero points.
//!
//! Integer products accumulate in int32 in k order (wrapping, as the spec's int32 output).

use super::{conv, expect_q, qrange};
use crate::error::Result;
use crate::ir::{Dim, TensorType};
use crate::kir::build::{self, cast, unary};
use crate::kir::{BinOp, Expr, Scalar, UnOp};
use crate::lower::{LowerCx, TensorRef};
use crate::ops::{broadcast, tt, Attrs, InferCx, Op, FLOATS};
use crate::tensor::DType;

const Q8: &[DType] = &[DType::I8, DType::U8];

use crate::ops::matmul::{matmul_shape, promote};

/// A per-tensor or per-row/column parameter: true when it is a vector along `d`.
fn vec_param(cx: &InferCx, i: usize, d: &Dim, what: &str) -> Result<bool> {
    let p = &cx.ty(i)?.shape;
    if p.is_empty() || (p.len() == 1 && p[0].as_known() == Some(1)) {
        return Ok(false);
    }
    if p.len() == 1 && &p[0] == d {
        return Ok(true);
    }
    Err(cx.err(format!(
        "{what} (input {i}) has shape {}; it must be a scalar or a 1-D tensor of {} elements",
        cx.shape_str(p),
        d.show(cx.syms)
    )))
}

/// M (rows of A) and N (columns of B) after promotion.
fn mn(a: &[Dim], b: &[Dim]) -> (Dim, Dim) {
    let (a, b) = promote(a, b);
    (a[a.len() - 2].clone(), b[b.len() - 1].clone())
}

/// A parameter input, loaded per row `i` or column `j` (or at 0).
#[derive(Clone)]
struct Param {
    t: TensorRef,
    vec: bool,
}

impl Param {
    fn at(&self, ij: &Expr) -> Expr {
        self.t
            .load(if self.vec { ij.clone() } else { Expr::i64(0) })
    }
}

/// Emit `y[..., i, j] = finish(kb, C, i, j)` with `C = sum_k (a - azp) * (b - bzp)` in int32.
fn int_matmul(
    cx: &mut LowerCx,
    azp: Option<Param>,
    bzp: Option<Param>,
    ia: usize,
    ib: usize,
    finish: &dyn Fn(&mut build::KernelBuilder, Expr, &Expr, &Expr) -> Expr,
) -> Result<()> {
    let a0 = cx.input(ia)?;
    let b0 = cx.input(ib)?;
    let y0 = cx.output(0)?;
    let (ash, bsh) = promote(&a0.shape, &b0.shape);
    let a = TensorRef { shape: ash, ..a0 };
    let b = TensorRef { shape: bsh, ..b0 };
    let (ra, rb) = (a.rank(), b.rank());
    let m = a.shape[ra - 2].clone();
    let k = a.shape[ra - 1].to_expr();
    let n = b.shape[rb - 1].clone();
    let batch_rank = (ra - 2).max(rb - 2);
    let mut yshape: Vec<Dim> = y0.shape[..batch_rank].to_vec();
    yshape.push(m);
    yshape.push(n);
    let y = TensorRef {
        shape: yshape,
        ..y0
    };
    let ab = TensorRef {
        shape: a.shape[..ra - 2].to_vec(),
        ..a.clone()
    };
    let bb = TensorRef {
        shape: b.shape[..rb - 2].to_vec(),
        ..b.clone()
    };
    let (mk, kn) = (
        build::mul(a.dim(ra - 2), k.clone()),
        build::mul(k.clone(), b.dim(rb - 1)),
    );
    let t = Scalar::I32;
    cx.kb.loops(&y.dims(), |kb, idx| {
        let bidx = &idx[..batch_rank];
        let (i, j) = (idx[batch_rank].clone(), idx[batch_rank + 1].clone());
        let abase = build::mul(broadcast::index(&ab, bidx), mk.clone());
        let bbase = build::mul(broadcast::index(&bb, bidx), kn.clone());
        let az = azp
            .as_ref()
            .map(|p| kb.let_(t, conv(p.at(&i), p.t.elem, t)));
        let bz = bzp
            .as_ref()
            .map(|p| kb.let_(t, conv(p.at(&j), p.t.elem, t)));
        let acc = kb.let_mut(t, Expr::imm(t, 0.0));
        kb.loop_(Expr::i64(0), k.clone(), |kb, kk| {
            let mut av = conv(
                a.load(build::add(
                    abase.clone(),
                    build::add(build::mul(i.clone(), k.clone()), kk.clone()),
                )),
                a.elem,
                t,
            );
            let mut bv = conv(
                b.load(build::add(
                    bbase.clone(),
                    build::add(build::mul(kk, b.dim(rb - 1)), j.clone()),
                )),
                b.elem,
                t,
            );
            if let Some(z) = &az {
                av = build::binary(BinOp::Sub, av, z.clone());
            }
            if let Some(z) = &bz {
                bv = build::binary(BinOp::Sub, bv, z.clone());
            }
            kb.set(
                acc,
                build::binary(
                    BinOp::Add,
                    Expr::Var(acc),
                    build::binary(BinOp::Mul, av, bv),
                ),
            );
        });
        let v = finish(kb, Expr::Var(acc), &i, &j);
        kb.store(y.buf, build::linear(idx, &y.strides()), v);
    });
    Ok(())
}

fn param(cx: &LowerCx, i: usize, vec: bool) -> Option<Param> {
    cx.ins.get(i).cloned().flatten().map(|t| Param { t, vec })
}

#[derive(Debug)]
pub struct MatMulInteger;

pub fn import_integer(_a: &Attrs) -> Result<Box<dyn Op>> {
    Ok(Box::new(MatMulInteger))
}

impl MatMulInteger {
    fn params(&self, cx: &InferCx) -> Result<(bool, bool)> {
        let (m, n) = mn(&cx.ty(0)?.shape, &cx.ty(1)?.shape);
        let mut r = (false, false);
        for (i, d, what, slot) in [
            (2, &m, "a_zero_point", &mut r.0),
            (3, &n, "b_zero_point", &mut r.1),
        ] {
            if cx.has(i) {
                if cx.ty(i)?.dtype != cx.ty(i - 2)?.dtype {
                    return Err(cx.err(format!("{what} must have the type of its operand")));
                }
                *slot = vec_param(cx, i, d, what)?;
            }
        }
        Ok(r)
    }
}

impl Op for MatMulInteger {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        expect_q(cx, 0, Q8, "A")?;
        expect_q(cx, 1, Q8, "B")?;
        let out = matmul_shape(cx, 0, 1)?;
        self.params(cx)?;
        Ok(vec![tt(DType::I32, out)])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let (av, bv) = crate::ops::tensor_ops::with_infer(cx, |icx| self.params(icx))?;
        let (az, bz) = (param(cx, 2, av), param(cx, 3, bv));
        int_matmul(cx, az, bz, 0, 1, &|_, c, _, _| c)
    }
}

#[derive(Debug)]
pub struct QLinearMatMul;

pub fn import_qlinear(_a: &Attrs) -> Result<Box<dyn Op>> {
    Ok(Box::new(QLinearMatMul))
}

/// Which parameters of QLinearMatMul are vectors: a_scale, a_zp, b_scale, b_zp.
fn ql_params(cx: &InferCx) -> Result<[bool; 4]> {
    let (m, n) = mn(&cx.ty(0)?.shape, &cx.ty(3)?.shape);
    Ok([
        vec_param(cx, 1, &m, "a_scale")?,
        cx.has(2) && vec_param(cx, 2, &m, "a_zero_point")?,
        vec_param(cx, 4, &n, "b_scale")?,
        cx.has(5) && vec_param(cx, 5, &n, "b_zero_point")?,
    ])
}

impl Op for QLinearMatMul {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        expect_q(cx, 0, Q8, "a")?;
        let sd = expect_q(cx, 1, FLOATS, "a_scale")?;
        expect_q(cx, 3, Q8, "b")?;
        for (i, what) in [(4, "b_scale"), (6, "y_scale")] {
            if expect_q(cx, i, FLOATS, what)? != sd {
                return Err(cx.err(format!("{what} must have a_scale's type {sd}")));
            }
        }
        for (i, of, what) in [(2, 0, "a_zero_point"), (5, 3, "b_zero_point")] {
            if cx.has(i) && cx.ty(i)?.dtype != cx.ty(of)?.dtype {
                return Err(cx.err(format!("{what} must have the type of its operand")));
            }
        }
        let yd = if cx.has(7) {
            expect_q(cx, 7, Q8, "y_zero_point")?
        } else {
            cx.ty(0)?.dtype
        };
        let out = matmul_shape(cx, 0, 3)?;
        ql_params(cx)?;
        for i in [6, 7] {
            if cx.has(i) && !matches!(cx.ty(i)?.shape.as_slice(), [] | [_])
                || cx.has(i) && crate::ir::dim::numel(&cx.ty(i)?.shape).as_known() != Some(1)
            {
                return Err(cx.err(format!("input {i} must be a scalar")));
            }
        }
        Ok(vec![tt(yd, out)])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let v = crate::ops::tensor_ops::with_infer(cx, ql_params)?;
        let (asc, bsc) = (param(cx, 1, v[0]), param(cx, 4, v[2]));
        let (az, bz) = (param(cx, 2, v[1]), param(cx, 5, v[3]));
        let ys = cx.input(6)?;
        let yz = cx.ins.get(7).cloned().flatten();
        let ye = cx.output(0)?.elem;
        let (Some(asc), Some(bsc)) = (asc, bsc) else {
            return Err(cx.err("scales are required"));
        };
        let st = ys.elem;
        let (lo, hi) = qrange(ye);
        let finish = move |kb: &mut build::KernelBuilder, c: Expr, i: &Expr, j: &Expr| {
            let ratio = build::binary(
                BinOp::Div,
                build::binary(BinOp::Mul, asc.at(i), bsc.at(j)),
                ys.load(Expr::i64(0)),
            );
            let f = Scalar::F64;
            let mut d = build::binary(BinOp::Mul, cast(f, c), conv(ratio, st, f));
            if let Some(z) = &yz {
                d = build::binary(BinOp::Add, d, cast(f, z.load(Expr::i64(0))));
            }
            let d = kb.let_(f, unary(UnOp::Round, d));
            let d = build::min(
                build::max(d, Expr::imm(f, lo as f64)),
                Expr::imm(f, hi as f64),
            );
            cast(ye, d)
        };
        int_matmul(cx, az, bz, 0, 3, &finish)
    }
}
