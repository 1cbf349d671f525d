//! Gemm (opset 7, 9, 11 optional C, 13): `Y = alpha * A' * B' + beta * C`, with `A'` and `B'`
//! transposed when `transA` / `transB` are set and `C` broadcast to (M, N). The dot products
//! accumulate with `Fma` in k order; alpha and beta multiply only when they are not 1.
//!
//! f32 runs as one GEMM (`Stmt::Gemm`). With alpha = beta = 1 the addition of C is the
//! GEMM's epilogue (the same single f32 addition after the sum): C of shape [N] or [1, N] is
//! its row-vector residual (row stride 0), [M, N] its residual laid out as Y, [M, 1] its
//! per-row bias; otherwise a loop applies alpha and C after the GEMM. A fused epilogue
//! (`passes::fuse`: `+ R` with R input 3, then a clamp) joins the GEMM's when it fits
//! after C (at most a bias then a residual, the contract's order), else that loop runs it
//! with the unfused ops (`+`, then kir `Max`/`Min` as Relu and Clip compute).

use super::broadcast;
use super::{tt, Attrs, Epilogue, InferCx, Op, NUMERIC};
use crate::error::{Error, Result};
use crate::ir::{Dim, TensorType};
use crate::kir::build::{self, fma};
use crate::kir::{BinOp, Expr, GemmCall, Scalar};
use crate::lower::LowerCx;

#[derive(Clone, Debug)]
pub struct Gemm {
    pub alpha: f32,
    pub beta: f32,
    pub trans_a: bool,
    pub trans_b: bool,
    /// Fused residual and clamp (`passes::fuse`); the residual is input 3.
    pub epi: Epilogue,
}

/// Where an addend of the f32 product goes in the GEMM's epilogue.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Slot {
    /// Per row (shape [M, 1]): the GEMM's bias.
    Bias,
    /// One row vector for every row ([N], [1, N]): the residual with row stride 0.
    Row,
    /// Laid out as Y ([M, N]): the residual with row stride N.
    Full,
}

/// The slot of an addend of shape `s` over Y of `[m, n]`, if any.
fn slot(s: &[Dim], m: &Dim, n: &Dim) -> Option<Slot> {
    let one = Dim::known(1);
    match s {
        [a, b] if a == m && b == n => Some(Slot::Full),
        [b] if b == n => Some(Slot::Row),
        [a, b] if *a == one && b == n => Some(Slot::Row),
        [a, b] if a == m && *b == one => Some(Slot::Bias),
        _ => None,
    }
}

pub fn import(a: &Attrs) -> Result<Box<dyn Op>> {
    if a.node().opset < 7 {
        // Before opset 7 C broadcasts only with `broadcast=1`; numpy broadcasting (checked in
        // `infer`) accepts every shape the old rule did.
        a.ignore("broadcast");
    }
    Ok(Box::new(Gemm {
        alpha: a.float("alpha", 1.0)?,
        beta: a.float("beta", 1.0)?,
        trans_a: a.int("transA", 0)? != 0,
        trans_b: a.int("transB", 0)? != 0,
        epi: Epilogue::default(),
    }))
}

/// Multiply-accumulate in type `t`: `acc + a * b` (fused for floats).
pub fn mac(t: Scalar, a: Expr, b: Expr, acc: Expr) -> Expr {
    if t.is_float() {
        fma(a, b, acc)
    } else {
        build::binary(BinOp::Add, acc, build::binary(BinOp::Mul, a, b))
    }
}

impl Op for Gemm {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let d = cx.expect_dtype(0, NUMERIC)?;
        let a = &cx.ty(0)?.shape;
        let b = &cx.ty(1)?.shape;
        if cx.ty(1)?.dtype != d || a.len() != 2 || b.len() != 2 {
            return Err(cx.err("A and B must be 2-D and of the same element type"));
        }
        let (m, ka) = if self.trans_a {
            (&a[1], &a[0])
        } else {
            (&a[0], &a[1])
        };
        let (kb, n) = if self.trans_b {
            (&b[1], &b[0])
        } else {
            (&b[0], &b[1])
        };
        if ka != kb {
            return Err(cx.err(format!(
                "inner dims differ: A {} and B {}",
                cx.shape_str(a),
                cx.shape_str(b)
            )));
        }
        let out = vec![m.clone(), n.clone()];
        if cx.has(2) {
            if cx.ty(2)?.dtype != d {
                return Err(cx.err(format!(
                    "C is {}, A and B are {d}: all three must have one element type",
                    cx.ty(2)?.dtype
                )));
            }
            let c = &cx.ty(2)?.shape;
            let bc = broadcast::broadcast_shapes(cx, &[&out, c])?;
            if bc != out {
                return Err(cx.err(format!(
                    "C {} does not broadcast to {}",
                    cx.shape_str(c),
                    cx.shape_str(&out)
                )));
            }
        }
        let out = tt(d, out);
        self.epi.check_residual(cx, 3, &out, true)?;
        Ok(vec![out])
    }
    fn with_epilogue(&self, e: &Epilogue) -> Option<Box<dyn Op>> {
        if !self.epi.is_none() {
            return None;
        }
        let mut g = self.clone();
        g.epi = *e;
        Some(Box::new(g))
    }
    fn flops(&self, inputs: &[Option<&TensorType>], outputs: &[&TensorType]) -> crate::ir::Dim {
        let (Some(a), Some(y)) = (inputs.first().copied().flatten(), outputs.first()) else {
            return crate::ir::Dim::known(0);
        };
        if a.shape.is_empty() {
            return crate::ir::Dim::known(0);
        }
        let k = if self.trans_a {
            &a.shape[0]
        } else {
            &a.shape[1]
        };
        crate::ir::dim::numel(&y.shape).mul(k).scale(2)
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let a = cx.input(0)?;
        let b = cx.input(1)?;
        let c = cx.ins.get(2).cloned().flatten();
        let y = cx.output(0)?;
        let t = y.elem;
        let k_dim = if self.trans_a { a.dim(0) } else { a.dim(1) };
        let (ta, tb) = (self.trans_a, self.trans_b);
        let (alpha, beta) = (self.alpha as f64, self.beta as f64);
        let r = if self.epi.residual {
            Some(cx.input(3)?)
        } else {
            None
        };
        if t != Scalar::F32 && !self.epi.is_none() {
            return Err(Error::Internal(format!("Gemm: a fused epilogue on {t}")));
        }
        if t == Scalar::F32 {
            // The product through a GEMM (same bits as the loops below), then alpha and C.
            let (a1, b1) = (a.dim(1), b.dim(1));
            let one = || Expr::i64(1);
            let (a_rs, a_cs) = if ta { (one(), a1) } else { (a1, one()) };
            let (mut b_buf, (mut b_rs, mut b_cs)) =
                (b.buf, if tb { (one(), b1) } else { (b1, one()) });
            // A constant B stored [N, K] (transB, as nn.Linear exports it) is transposed at
            // compile time, so the kernel reads its rows in place instead of packing them on
            // every call. The original is dropped from the blob (`compact_weights`).
            if let (true, Some(w)) = (tb, cx.konst(1)) {
                if let [n, k] = w.shape[..] {
                    let (n, k) = (n as usize, k as usize);
                    let src = w.bytes();
                    let mut bt = vec![0u8; src.len()];
                    for j in 0..n {
                        for p in 0..k {
                            let (s, d) = ((j * k + p) * 4, (p * n + j) * 4);
                            bt[d..d + 4].copy_from_slice(&src[s..s + 4]);
                        }
                    }
                    b_buf = cx.weight("b_t", Scalar::F32, bt);
                    (b_rs, b_cs) = (Expr::i64(n as i64), one());
                }
            }
            // The additions after the sum, in order (`C * beta`, then the fused residual),
            // as GEMM epilogue slots when alpha is 1 and C needs no multiply.
            let (ym, yn) = (&y.shape[0], &y.shape[1]);
            let mut adds = vec![];
            if let Some(c) = &c {
                adds.push((c, (beta == 1.0).then(|| slot(&c.shape, ym, yn)).flatten()));
            }
            if let Some(r) = &r {
                adds.push((r, slot(&r.shape, ym, yn)));
            }
            let mut bias = None;
            let mut res = None;
            let mut in_gemm = alpha == 1.0;
            for (x, s) in &adds {
                match s {
                    // The bias comes before the residual in the contract.
                    Some(Slot::Bias) if bias.is_none() && res.is_none() => {
                        bias = Some((x.buf, Expr::i64(0)))
                    }
                    Some(Slot::Row) if res.is_none() => {
                        res = Some((x.buf, Expr::i64(0), Expr::i64(0)))
                    }
                    Some(Slot::Full) if res.is_none() => {
                        res = Some((x.buf, Expr::i64(0), y.dim(1)))
                    }
                    _ => in_gemm = false,
                }
            }
            if !in_gemm {
                (bias, res) = (None, None);
            }
            let (lo, hi) = if in_gemm {
                (self.epi.lo, self.epi.hi)
            } else {
                (f32::NEG_INFINITY, f32::INFINITY)
            };
            cx.kb.gemm(GemmCall {
                m: y.dim(0),
                n: y.dim(1),
                k: k_dim,
                a: a.buf,
                a_off: Expr::i64(0),
                a_rs,
                a_cs,
                b: b_buf,
                b_off: Expr::i64(0),
                b_rs,
                b_cs,
                conv: None,
                c: y.buf,
                c_off: Expr::i64(0),
                c_rs: y.dim(1),
                accumulate: false,
                bias,
                res,
                lo,
                hi,
                max: false,
                a_panel: 0,
                groups: Expr::i64(1),
                a_gs: Expr::i64(0),
                b_gs: Expr::i64(0),
                c_gs: Expr::i64(0),
            });
            if !in_gemm {
                // The unfused ops, in their order: alpha, C, the residual (Add), the clamp
                // (Relu as `Max` with +0, Clip as `Max` then `Min`).
                let epi = self.epi;
                cx.kb.loops(&y.dims(), |kb, idx| {
                    let at = build::linear(idx, &y.strides());
                    let mut v = build::load(y.buf, at.clone());
                    if alpha != 1.0 {
                        v = build::binary(BinOp::Mul, v, Expr::imm(t, alpha));
                    }
                    if let Some(c) = &c {
                        let mut cv = broadcast::load(c, idx);
                        if beta != 1.0 {
                            cv = build::binary(BinOp::Mul, cv, Expr::imm(t, beta));
                        }
                        v = build::binary(BinOp::Add, v, cv);
                    }
                    if let Some(r) = &r {
                        v = build::binary(BinOp::Add, v, broadcast::load(r, idx));
                    }
                    if epi.lo != f32::NEG_INFINITY {
                        v = build::max(v, Expr::imm(t, epi.lo as f64));
                    }
                    if epi.hi != f32::INFINITY {
                        v = build::min(v, Expr::imm(t, epi.hi as f64));
                    }
                    kb.store(y.buf, at, v);
                });
            }
            return Ok(());
        }
        cx.kb.loops(&y.dims(), |kb, idx| {
            let (m, n) = (idx[0].clone(), idx[1].clone());
            let acc = kb.let_mut(t, Expr::imm(t, 0.0));
            kb.loop_(Expr::i64(0), k_dim.clone(), |kb, k| {
                let av = if ta {
                    a.at(&[k.clone(), m.clone()])
                } else {
                    a.at(&[m.clone(), k.clone()])
                };
                let bv = if tb {
                    b.at(&[n.clone(), k.clone()])
                } else {
                    b.at(&[k, n.clone()])
                };
                kb.set(acc, mac(t, av, bv, Expr::Var(acc)));
            });
            let mut v = Expr::Var(acc);
            if alpha != 1.0 {
                v = build::binary(BinOp::Mul, v, Expr::imm(t, alpha));
            }
            if let Some(c) = &c {
                let mut cv = broadcast::load(c, idx);
                if beta != 1.0 {
                    cv = build::binary(BinOp::Mul, cv, Expr::imm(t, beta));
                }
                v = build::binary(BinOp::Add, v, cv);
            }
            kb.store(y.buf, build::linear(idx, &y.strides()), v);
        });
        Ok(())
    }
}
