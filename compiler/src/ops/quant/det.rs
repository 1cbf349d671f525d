//! Det (opset 11, 22): <https://onnx.ai/onnx/operators/onnx__Det.html>. The determinant of
//! each square matrix in the last two dims of `X` (shape `[*, M, M]`, output `[*]`); opset 22
//! only widened the types.
//!
//! Computed by Gaussian elimination with partial pivoting (the row with the largest
//! magnitude, first on ties, as LAPACK `getrf`), unrolled over the matrix held in kir
//! variables: `M` must be known at compile time and at most 8 (kir has no per-kernel scratch
//! arrays). The result is `sign * prod(diag(U))` in index order (numpy computes
//! `sign * exp(sum(log|u_ii|))`, which can differ in the last bits); a zero pivot gives 0.

use crate::error::Result;
use crate::ir::{dim::numel, TensorType};
use crate::kir::build::{self, cmp, or, select, unary};
use crate::kir::{BinOp, CmpOp, Expr, Lit, Scalar, UnOp, VarId};
use crate::lower::LowerCx;
use crate::ops::{tt, Attrs, InferCx, Op, FLOATS};

/// Largest matrix size unrolled.
pub const MAX_M: i64 = 8;

#[derive(Debug)]
pub struct Det;

pub fn import(_a: &Attrs) -> Result<Box<dyn Op>> {
    Ok(Box::new(Det))
}

impl Op for Det {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let d = cx.expect_dtype(0, FLOATS)?;
        let x = &cx.ty(0)?.shape;
        let r = x.len();
        if r < 2 || x[r - 1] != x[r - 2] {
            return Err(cx.err(format!(
                "input must have shape [*, M, M], got {}",
                cx.shape_str(x)
            )));
        }
        match x[r - 1].as_known() {
            Some(m) if m <= MAX_M => {}
            Some(m) => {
                return Err(cx.err(format!(
                    "matrices of size {m} are not supported (at most {MAX_M})"
                )))
            }
            None => {
                return Err(cx.err(format!(
                    "the matrix size {} needs its value (use --dim)",
                    x[r - 1].show(cx.syms)
                )))
            }
        }
        Ok(vec![tt(d, x[..r - 2].to_vec())])
    }
    fn flops(&self, inputs: &[Option<&TensorType>], _outputs: &[&TensorType]) -> crate::ir::Dim {
        match inputs.first().copied().flatten() {
            Some(x) => numel(&x.shape),
            None => crate::ir::Dim::known(0),
        }
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let y = cx.output(0)?;
        let r = x.rank();
        let m = x.shape[r - 1]
            .as_known()
            .ok_or_else(|| cx.err("matrix size unknown"))? as usize;
        let t = x.elem;
        let mm = (m * m) as i64;
        let batch = numel(&x.shape[..r - 2]).to_expr();
        cx.kb.loop_(Expr::i64(0), batch, |kb, b| {
            let base = kb.let_(Scalar::I64, build::mul(b.clone(), Expr::i64(mm)));
            let a: Vec<Vec<VarId>> = (0..m)
                .map(|i| {
                    (0..m)
                        .map(|j| {
                            let at = build::add(base.clone(), Expr::i64((i * m + j) as i64));
                            kb.let_mut(t, x.load(at))
                        })
                        .collect()
                })
                .collect();
            let v = |id: VarId| Expr::Var(id);
            let sign = kb.let_mut(t, Expr::imm(t, 1.0));
            let zero = kb.let_mut(Scalar::Bool, Expr::Imm(Scalar::Bool, Lit::Int(0)));
            for k in 0..m {
                // Pivot: the first row with the largest magnitude in column k.
                let best = kb.let_mut(t, unary(UnOp::Abs, v(a[k][k])));
                let p = kb.let_mut(Scalar::I64, Expr::i64(k as i64));
                for (rr, row) in a.iter().enumerate().skip(k + 1) {
                    let mag = kb.let_(t, unary(UnOp::Abs, v(row[k])));
                    let take = kb.let_(Scalar::Bool, cmp(CmpOp::Gt, mag.clone(), v(best)));
                    kb.set(best, select(take.clone(), mag, v(best)));
                    kb.set(p, select(take, Expr::i64(rr as i64), v(p)));
                }
                // Swap rows k and p.
                for (rr, row) in a.iter().enumerate().skip(k + 1) {
                    let is = kb.let_(Scalar::Bool, cmp(CmpOp::Eq, v(p), Expr::i64(rr as i64)));
                    for c in k..m {
                        let old = kb.let_(t, v(a[k][c]));
                        kb.set(a[k][c], select(is.clone(), v(row[c]), old.clone()));
                        kb.set(row[c], select(is.clone(), old, v(row[c])));
                    }
                }
                let moved = cmp(CmpOp::Ne, v(p), Expr::i64(k as i64));
                kb.set(sign, select(moved, unary(UnOp::Neg, v(sign)), v(sign)));
                let piv = kb.let_(t, v(a[k][k]));
                kb.set(
                    zero,
                    or(v(zero), cmp(CmpOp::Eq, piv.clone(), Expr::imm(t, 0.0))),
                );
                for row in a.iter().skip(k + 1) {
                    let l = kb.let_(t, build::binary(BinOp::Div, v(row[k]), piv.clone()));
                    for c in k + 1..m {
                        let prod = build::binary(BinOp::Mul, l.clone(), v(a[k][c]));
                        kb.set(row[c], build::binary(BinOp::Sub, v(row[c]), prod));
                    }
                }
            }
            let mut d = v(sign);
            for (k, row) in a.iter().enumerate() {
                d = build::binary(BinOp::Mul, d, v(row[k]));
            }
            let d = select(v(zero), Expr::imm(t, 0.0), d);
            kb.store(y.buf, b, d);
        });
        Ok(())
    }
}
