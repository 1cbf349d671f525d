//! MatMul (opset 1, 9, 13): numpy `matmul` — 1-D operands are promoted (a leading 1 for A, a
//! trailing 1 for B) and the promoted dim removed from the result; batch dims broadcast. Dot
//! products accumulate with `Fma` in k order.
//!
//! A fused epilogue (`passes::fuse`, f32): `Y + R` with R input 2, Y's type (laid out as Y)
//! or a row vector over Y's last dim (nn.Linear's bias: the GEMM's residual with row stride
//! 0; not with a 1-D B, whose Y ends in M), then the clamp, all in the GEMM's epilogue.

use super::broadcast;
use super::gemm::mac;
use super::{tt, Attrs, Epilogue, InferCx, Op, NUMERIC};
use crate::error::{Error, Result};
use crate::ir::{Dim, TensorType};
use crate::kir::build;
use crate::kir::{Expr, GemmCall, Scalar};
use crate::lower::{LowerCx, TensorRef};

#[derive(Clone, Debug, Default)]
pub struct MatMul {
    /// Fused residual and clamp (`passes::fuse`); the residual is input 2.
    pub epi: Epilogue,
}

pub fn import(_a: &Attrs) -> Result<Box<dyn Op>> {
    Ok(Box::new(MatMul::default()))
}

/// Shapes after promotion of 1-D operands.
pub(crate) fn promote(a: &[Dim], b: &[Dim]) -> (Vec<Dim>, Vec<Dim>) {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    if a.len() == 1 {
        a.insert(0, Dim::known(1));
    }
    if b.len() == 1 {
        b.push(Dim::known(1));
    }
    (a, b)
}

/// Output shape of `a @ b` for inputs `ia` and `ib` (numpy matmul: 1-D operands promoted and
/// the promoted dim dropped, batch dims broadcast).
pub(crate) fn matmul_shape(cx: &InferCx, ia: usize, ib: usize) -> Result<Vec<Dim>> {
    let (a0, b0) = (&cx.ty(ia)?.shape, &cx.ty(ib)?.shape);
    if a0.is_empty() || b0.is_empty() {
        return Err(cx.err("operands must have rank >= 1"));
    }
    let (a, b) = promote(a0, b0);
    let (ra, rb) = (a.len(), b.len());
    if a[ra - 1] != b[rb - 2] {
        return Err(cx.err(format!(
            "inner dims differ: A {} and B {}",
            cx.shape_str(a0),
            cx.shape_str(b0)
        )));
    }
    let mut out = broadcast::broadcast_shapes(cx, &[&a[..ra - 2], &b[..rb - 2]])?;
    if a0.len() > 1 {
        out.push(a[ra - 2].clone());
    }
    if b0.len() > 1 {
        out.push(b[rb - 1].clone());
    }
    Ok(out)
}

impl Op for MatMul {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let d = cx.expect_dtype(0, NUMERIC)?;
        if cx.ty(1)?.dtype != d {
            return Err(cx.err("A and B must have the same element type"));
        }
        let out = tt(d, matmul_shape(cx, 0, 1)?);
        // A row vector must run over N: not with a 1-D B, whose output's last dim is M.
        self.epi
            .check_residual(cx, 2, &out, cx.ty(1)?.shape.len() >= 2)?;
        Ok(vec![out])
    }
    fn with_epilogue(&self, e: &Epilogue) -> Option<Box<dyn Op>> {
        if !self.epi.is_none() {
            return None;
        }
        Some(Box::new(MatMul { epi: *e }))
    }
    fn flops(&self, inputs: &[Option<&TensorType>], outputs: &[&TensorType]) -> crate::ir::Dim {
        let (Some(a), Some(y)) = (inputs.first().copied().flatten(), outputs.first()) else {
            return crate::ir::Dim::known(0);
        };
        if a.shape.is_empty() {
            return crate::ir::Dim::known(0);
        }
        let k = &a.shape[a.shape.len() - 1];
        crate::ir::dim::numel(&y.shape).mul(k).scale(2)
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let a0 = cx.input(0)?;
        let b0 = cx.input(1)?;
        let y0 = cx.output(0)?;
        let (ash, bsh) = promote(&a0.shape, &b0.shape);
        let a = TensorRef { shape: ash, ..a0 };
        let b = TensorRef { shape: bsh, ..b0 };
        let (ra, rb) = (a.rank(), b.rank());
        let m = a.shape[ra - 2].clone();
        let k = a.shape[ra - 1].to_expr();
        let n = b.shape[rb - 1].clone();
        // The output with the promoted dims kept: batch..., M, N.
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
        let t = y.elem;
        let r = if self.epi.residual {
            Some(cx.input(2)?)
        } else {
            None
        };
        if t != Scalar::F32 && !self.epi.is_none() {
            return Err(Error::Internal(format!("MatMul: a fused epilogue on {t}")));
        }
        // The residual of the GEMM writing Y from offset c_off: laid out as Y, or one row
        // vector (row stride 0) for every row.
        let res = |c_off: &Expr| {
            r.as_ref().map(|r| {
                if r.shape == y0.shape {
                    (r.buf, c_off.clone(), b.dim(rb - 1))
                } else {
                    (r.buf, Expr::i64(0), Expr::i64(0))
                }
            })
        };
        let (mk, kn) = (
            build::mul(a.dim(ra - 2), k.clone()),
            build::mul(k.clone(), b.dim(rb - 1)),
        );
        if t == Scalar::F32 {
            // One GEMM per batch index (same bits as the loops below: k-ordered Fma from +0).
            let call = |m: Expr, (a_off, b_off, c_off): (Expr, Expr, Expr)| GemmCall {
                res: res(&c_off),
                m,
                n: b.dim(rb - 1),
                k: k.clone(),
                a: a.buf,
                a_off,
                a_rs: k.clone(),
                a_cs: Expr::i64(1),
                b: b.buf,
                b_off,
                b_rs: b.dim(rb - 1),
                b_cs: Expr::i64(1),
                conv: None,
                c: y.buf,
                c_off,
                c_rs: b.dim(rb - 1),
                accumulate: false,
                bias: None,
                lo: self.epi.lo,
                hi: self.epi.hi,
                max: false,
                a_panel: 0,
                groups: Expr::i64(1),
                a_gs: Expr::i64(0),
                b_gs: Expr::i64(0),
                c_gs: Expr::i64(0),
            };
            // B the same for every batch index and A not broadcast: the batches' rows of A
            // and of Y are consecutive, so one GEMM over all of them (B packed once; a
            // batch of single rows is a matrix product, not many matrix-vector ones).
            let b_shared = bb.shape.iter().all(|d| *d == Dim::known(1));
            if batch_rank > 0 && b_shared && ab.shape[..] == y.shape[..batch_rank] {
                let rows = build::mul(
                    crate::ir::dim::numel(&y.shape[..batch_rank]).to_expr(),
                    a.dim(ra - 2),
                );
                let zero = || Expr::i64(0);
                cx.kb.gemm(call(rows, (zero(), zero(), zero())));
                return Ok(());
            }
            let ys = y.strides();
            let mn = build::mul(a.dim(ra - 2), b.dim(rb - 1));
            cx.kb.loops(&y.dims()[..batch_rank], |kb, bidx| {
                let a_off = build::mul(broadcast::index(&ab, bidx), mk.clone());
                let b_off = build::mul(broadcast::index(&bb, bidx), kn.clone());
                let c_off = if batch_rank == 0 {
                    Expr::i64(0)
                } else {
                    build::mul(
                        build::linear(bidx, &build::strides(&y.dims()[..batch_rank])),
                        mn.clone(),
                    )
                };
                debug_assert_eq!(ys.len(), batch_rank + 2);
                kb.gemm(call(a.dim(ra - 2), (a_off, b_off, c_off)));
            });
            return Ok(());
        }
        cx.kb.loops(&y.dims(), |kb, idx| {
            let bidx = &idx[..batch_rank];
            let (i, j) = (idx[batch_rank].clone(), idx[batch_rank + 1].clone());
            let abase = build::mul(broadcast::index(&ab, bidx), mk.clone());
            let bbase = build::mul(broadcast::index(&bb, bidx), kn.clone());
            let acc = kb.let_mut(t, Expr::imm(t, 0.0));
            kb.loop_(Expr::i64(0), k.clone(), |kb, kk| {
                let av = a.load(build::add(
                    abase.clone(),
                    build::add(build::mul(i.clone(), k.clone()), kk.clone()),
                ));
                let bv = b.load(build::add(
                    bbase.clone(),
                    build::add(build::mul(kk, b.dim(rb - 1)), j.clone()),
                ));
                kb.set(acc, mac(t, av, bv, Expr::Var(acc)));
            });
            kb.store(y.buf, build::linear(idx, &y.strides()), Expr::Var(acc));
        });
        Ok(())
    }
}
