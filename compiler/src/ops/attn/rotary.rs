//! RotaryEmbedding (opset 23): https://onnx.ai/onnx/operators/onnx__RotaryEmbedding.html
//!
//! Input `(batch, heads, seq, head_size)` or `(batch, seq, heads * head_size)` (then
//! `num_heads` is required); `cos_cache` / `sin_cache` are `(max_pos, rd/2)` indexed by
//! `position_ids` `(batch, seq)` (validated at run time: out-of-range ids fail with BadIndex),
//! or `(batch, seq, rd/2)` without position ids. `rd = rotary_embedding_dim` (0: head_size);
//! dims `>= rd` pass through. Pairs are `(d, d + rd/2)` or, with `interleaved`,
//! `(2k, 2k + 1)`: `real = cos*x1 - sin*x2`, `imag = sin*x1 + cos*x2` (products rounded, then
//! added: no fusion, as in the reference).

use super::super::{tt, Attrs, InferCx, Op, FLOATS};
use crate::error::Result;
use crate::ir::{Dim, TensorType};
use crate::kir::build::{self, cmp};
use crate::kir::{BinOp, CmpOp, Expr, Scalar, Status};
use crate::lower::LowerCx;
use crate::tensor::DType;

#[derive(Debug)]
pub struct Rotary {
    interleaved: bool,
    rotary_dim: i64,
    num_heads: Option<i64>,
}

pub fn import(a: &Attrs) -> Result<Box<dyn Op>> {
    let rotary_dim = a.int("rotary_embedding_dim", 0)?;
    if rotary_dim < 0 {
        return Err(a.err(
            "rotary_embedding_dim",
            format!("must be non-negative, got {rotary_dim}"),
        ));
    }
    let num_heads = a.int_opt("num_heads")?;
    if let Some(n) = num_heads {
        if n <= 0 {
            return Err(a.err("num_heads", format!("must be positive, got {n}")));
        }
    }
    Ok(Box::new(Rotary {
        interleaved: a.int("interleaved", 0)? != 0,
        rotary_dim,
        num_heads,
    }))
}

/// (batch, seq, heads, head_size, rd).
struct Geo {
    batch: Dim,
    seq: Dim,
    heads: Dim,
    hs: i64,
    rd: i64,
}

impl Rotary {
    fn geo(&self, x: &[Dim]) -> Result<Geo, String> {
        let (batch, seq, heads, hs) = match x.len() {
            4 => (x[0].clone(), x[2].clone(), x[1].clone(), x[3].clone()),
            3 => {
                let n = self
                    .num_heads
                    .ok_or("3-D input needs the num_heads attribute")?;
                let hs = x[2]
                    .div_exact(&Dim::known(n))
                    .ok_or(format!("hidden size is not a multiple of num_heads {n}"))?;
                (x[0].clone(), x[1].clone(), Dim::known(n), hs)
            }
            r => return Err(format!("input must be 3-D or 4-D, got rank {r}")),
        };
        let hs = hs
            .as_known()
            .ok_or("the head size needs its value (use --dim)")?;
        let rd = if self.rotary_dim == 0 {
            hs
        } else {
            self.rotary_dim
        };
        if rd > hs || rd % 2 != 0 {
            return Err(format!(
                "rotary_embedding_dim {rd} must be even and at most the head size {hs}"
            ));
        }
        Ok(Geo {
            batch,
            seq,
            heads,
            hs,
            rd,
        })
    }
}

impl Op for Rotary {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let d = cx.expect_dtype(0, FLOATS)?;
        let x = &cx.ty(0)?.shape;
        let g = self.geo(x).map_err(|e| cx.err(e))?;
        let half = Dim::known(g.rd / 2);
        for i in [1, 2] {
            let c = cx.ty(i)?;
            if c.dtype != d {
                return Err(cx.err(format!("input {i} must have the input's element type {d}")));
            }
            let ok = if cx.has(3) {
                c.shape.len() == 2 && c.shape[1] == half
            } else {
                c.shape == [g.batch.clone(), g.seq.clone(), half.clone()]
            };
            if !ok {
                return Err(cx.err(format!(
                    "cache (input {i}) has shape {}; expected {} (rotary_embedding_dim/2 = {})",
                    cx.shape_str(&c.shape),
                    if cx.has(3) {
                        "(max_position, rd/2)"
                    } else {
                        "(batch, seq, rd/2)"
                    },
                    g.rd / 2
                )));
            }
        }
        if cx.ty(1)?.shape != cx.ty(2)?.shape {
            return Err(cx.err("cos_cache and sin_cache must have the same shape"));
        }
        if cx.has(3) {
            cx.expect_dtype(3, &[DType::I64])?;
            let p = &cx.ty(3)?.shape;
            if *p != [g.batch.clone(), g.seq.clone()] {
                return Err(cx.err(format!(
                    "position_ids (input 3) must be (batch, seq), got {}",
                    cx.shape_str(p)
                )));
            }
        }
        Ok(vec![tt(d, x.clone())])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let cos = cx.input(1)?;
        let sin = cx.input(2)?;
        let pos = cx.ins.get(3).cloned().flatten();
        let y = cx.output(0)?;
        let g = self.geo(&x.shape).map_err(|e| cx.err(e))?;
        let rank4 = x.rank() == 4;
        let hs = g.hs;
        let half = g.rd / 2;
        let t = x.elem;
        let interleaved = self.interleaved;
        let dims = [g.batch.to_expr(), g.seq.to_expr(), g.heads.to_expr()];
        cx.kb.loops(&dims, |kb, ix| {
            let (b, s, n) = (&ix[0], &ix[1], &ix[2]);
            // Linear index of element d of this (b, s, n) head.
            let base = if rank4 {
                build::linear(
                    &[b.clone(), n.clone(), s.clone(), Expr::i64(0)],
                    &x.strides(),
                )
            } else {
                build::linear(
                    &[b.clone(), s.clone(), build::mul(n.clone(), Expr::i64(hs))],
                    &x.strides(),
                )
            };
            let base = kb.let_(Scalar::I64, base);
            let at = |d: Expr| build::add(base.clone(), d);
            // Cache row.
            let row = match &pos {
                Some(p) => {
                    let id = kb.let_(Scalar::I64, p.at(&[b.clone(), s.clone()]));
                    let bad = build::or(
                        cmp(CmpOp::Lt, id.clone(), Expr::i64(0)),
                        cmp(CmpOp::Ge, id.clone(), cos.dim(0)),
                    );
                    kb.if_(bad, |kb| kb.fail(Status::BadIndex), |_| {});
                    build::mul(id, Expr::i64(half))
                }
                None => build::mul(
                    build::add(build::mul(b.clone(), g.seq.to_expr()), s.clone()),
                    Expr::i64(half),
                ),
            };
            let row = kb.let_(Scalar::I64, row);
            kb.loop_(Expr::i64(0), Expr::i64(half), |kb, k| {
                let ci = build::add(row.clone(), k.clone());
                let c = kb.let_(t, cos.load(ci.clone()));
                let sn = kb.let_(t, sin.load(ci));
                let (i1, i2) = if interleaved {
                    let e = build::mul(k.clone(), Expr::i64(2));
                    (e.clone(), build::add(e, Expr::i64(1)))
                } else {
                    (k.clone(), build::add(k.clone(), Expr::i64(half)))
                };
                let x1 = kb.let_(t, x.load(at(i1.clone())));
                let x2 = kb.let_(t, x.load(at(i2.clone())));
                let mul = |a: &Expr, b: &Expr| build::binary(BinOp::Mul, a.clone(), b.clone());
                let real = build::binary(BinOp::Sub, mul(&c, &x1), mul(&sn, &x2));
                let imag = build::binary(BinOp::Add, mul(&sn, &x1), mul(&c, &x2));
                kb.store(y.buf, at(i1), real);
                kb.store(y.buf, at(i2), imag);
            });
            kb.loop_(Expr::i64(g.rd), Expr::i64(hs), |kb, d| {
                kb.store(y.buf, at(d.clone()), x.load(at(d)));
            });
        });
        Ok(())
    }
}
