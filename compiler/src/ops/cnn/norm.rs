//! Normalisation ops over channel groups, vectors and channel windows.
//!
//! - InstanceNormalization (opset 1 `consumed_inputs`, 6; 22 bfloat16):
//!   <https://onnx.ai/onnx/operators/onnx__InstanceNormalization.html> —
//!   `Y = scale[c] * (X - mean) / sqrt(var + epsilon) + B[c]`, statistics per (n, c) over the
//!   spatial dims.
//! - GroupNormalization (opset 18, 21): <https://onnx.ai/onnx/operators/onnx__GroupNormalization.html>
//!   — statistics per (n, group of C / num_groups channels). Opset 18 takes scale and bias per
//!   group (shape `(num_groups)`), opset 21 per channel (shape `(C)`) and adds `stash_type`:
//!   the normalisation stage `(X - mean) / sqrt(var + epsilon)` runs in float (1) or double
//!   (11), then is cast back to X's type before the scale and bias.
//! - LpNormalization (opset 1; 22): <https://onnx.ai/onnx/operators/onnx__LpNormalization.html>
//!   — `X / ||X||_p` along `axis` (default -1), p = 1 (sum of |x|) or 2 (sqrt of the sum of
//!   squares); a zero norm gives 0 (as the reference implementation does), not NaN.
//! - LRN (opset 1, 13): <https://onnx.ai/onnx/operators/onnx__LRN.html> —
//!   `Y = X / (bias + alpha / size * sum_{c'} X[n, c', ...]^2)^beta` over the channels
//!   `c - floor((size-1)/2) ..= c + ceil((size-1)/2)` clipped to `[0, C)`.
//!
//! Statistics are two-pass (mean, then the biased variance `mean((x - mean)^2)`), summed in
//! index order. Any dim may be symbolic; the channel count must be known for the group ops.

use crate::error::Result;
use crate::ir::{dim::numel, Dim, TensorType};
use crate::kir::build::{self, cast, unary, KernelBuilder};
use crate::kir::{BinOp, CmpOp, Expr, MathFn, Scalar, UnOp};
use crate::lower::{LowerCx, TensorRef};
use crate::ops::{tt, Attrs, InferCx, Op, FLOATS};

fn add(a: Expr, b: Expr) -> Expr {
    build::binary(BinOp::Add, a, b)
}
fn sub(a: Expr, b: Expr) -> Expr {
    build::binary(BinOp::Sub, a, b)
}
fn mul(a: Expr, b: Expr) -> Expr {
    build::binary(BinOp::Mul, a, b)
}
fn div(a: Expr, b: Expr) -> Expr {
    build::binary(BinOp::Div, a, b)
}
/// `v` converted to type `t` (no-op when it already is).
fn to(t: Scalar, from: Scalar, v: Expr) -> Expr {
    if t == from {
        v
    } else {
        cast(t, v)
    }
}

/// InstanceNormalization and GroupNormalization.
#[derive(Debug)]
pub struct GroupNorm {
    pub epsilon: f32,
    /// None: InstanceNormalization (one group per channel).
    pub num_groups: Option<i64>,
    /// Scale and bias per group (GroupNormalization opset 18).
    pub per_group_params: bool,
    /// Type of the normalisation stage (None: X's type).
    pub stash: Option<Scalar>,
}

pub fn import_instance(a: &Attrs) -> Result<Box<dyn Op>> {
    if a.node().opset < 6 {
        a.ignore("consumed_inputs");
    }
    Ok(Box::new(GroupNorm {
        epsilon: a.float("epsilon", 1e-5)?,
        num_groups: None,
        per_group_params: false,
        stash: None,
    }))
}

pub fn import_group(a: &Attrs) -> Result<Box<dyn Op>> {
    let v = a.node().opset;
    let g = a.req_int("num_groups")?;
    if g < 1 {
        return Err(a.err("num_groups", format!("must be at least 1, got {g}")));
    }
    let stash = if v >= 21 {
        match a.int("stash_type", 1)? {
            1 => Some(Scalar::F32),
            11 => Some(Scalar::F64),
            o => {
                return Err(a.err(
                    "stash_type",
                    format!("must be 1 (float) or 11 (double), got {o}"),
                ))
            }
        }
    } else {
        None
    };
    Ok(Box::new(GroupNorm {
        epsilon: a.float("epsilon", 1e-5)?,
        num_groups: Some(g),
        per_group_params: v < 21,
        stash,
    }))
}

impl GroupNorm {
    fn groups(&self, c: &Dim) -> std::result::Result<(i64, i64), String> {
        let c = c
            .as_known()
            .ok_or("the channel dim (1) must be known at compile time")?;
        let g = self.num_groups.unwrap_or(c);
        if g == 0 || c % g != 0 {
            return Err(format!(
                "{c} channels cannot be split into num_groups = {g} groups"
            ));
        }
        Ok((c, g))
    }
}

impl Op for GroupNorm {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let d = cx.expect_dtype(0, FLOATS)?;
        let x = &cx.ty(0)?.shape;
        if x.len() < 2 {
            return Err(cx.err(format!(
                "X must have rank 2 or more (N, C, ...), got rank {}",
                x.len()
            )));
        }
        let (c, g) = self.groups(&x[1]).map_err(|e| cx.err(e))?;
        let plen = if self.per_group_params { g } else { c };
        for (i, what) in [(1, "scale"), (2, "B")] {
            let p = cx.ty(i)?;
            if p.dtype != d || p.shape != [Dim::known(plen)] {
                return Err(cx.err(format!(
                    "{what} (input {i}) must be a {d} tensor of shape ({plen}), got {} {}",
                    p.dtype,
                    cx.shape_str(&p.shape)
                )));
            }
        }
        Ok(vec![tt(d, x.clone())])
    }

    fn flops(&self, inputs: &[Option<&TensorType>], _: &[&TensorType]) -> Dim {
        inputs
            .first()
            .copied()
            .flatten()
            .map_or(Dim::known(0), |x| numel(&x.shape).scale(5))
    }

    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let scale = cx.input(1)?;
        let bias = cx.input(2)?;
        let y = cx.output(0)?;
        let (c, g) = self.groups(&x.shape[1]).map_err(|e| cx.err(e))?;
        let t = y.elem;
        let s = self.stash.unwrap_or(t);
        let cpg = c / g;
        let plane = numel(&x.shape[2..]).to_expr();
        let len = build::mul(plane.clone(), Expr::i64(cpg));
        let eps = self.epsilon as f64;
        let per_group = self.per_group_params;
        cx.kb.loop_(Expr::i64(0), x.dim(0), |kb, n| {
            kb.loop_(Expr::i64(0), Expr::i64(g), |kb, gi| {
                // The group's elements are contiguous: channels gi*cpg.. of sample n.
                let base = build::mul(
                    build::add(
                        build::mul(n.clone(), Expr::i64(c)),
                        build::mul(gi.clone(), Expr::i64(cpg)),
                    ),
                    plane.clone(),
                );
                let base = kb.let_(Scalar::I64, base);
                let load = |i: Expr| to(s, t, x.load(build::add(base.clone(), i)));
                let count = kb.let_(s, cast(s, len.clone()));
                let sum = kb.let_mut(s, Expr::imm(s, 0.0));
                kb.loop_(Expr::i64(0), len.clone(), |kb, i| {
                    kb.set(sum, add(Expr::Var(sum), load(i)))
                });
                let mean = kb.let_(s, div(Expr::Var(sum), count.clone()));
                let q = kb.let_mut(s, Expr::imm(s, 0.0));
                kb.loop_(Expr::i64(0), len.clone(), |kb, i| {
                    let dv = kb.let_(s, sub(load(i), mean.clone()));
                    kb.set(q, add(Expr::Var(q), mul(dv.clone(), dv)));
                });
                let var = div(Expr::Var(q), count);
                let den = kb.let_(s, unary(UnOp::Sqrt, add(var, Expr::imm(s, eps))));
                kb.loop_(Expr::i64(0), Expr::i64(cpg), |kb, ci| {
                    let ch = build::add(build::mul(gi.clone(), Expr::i64(cpg)), ci.clone());
                    let pi = if per_group { gi.clone() } else { ch };
                    let sc = kb.let_(t, scale.load(pi.clone()));
                    let b = kb.let_(t, bias.load(pi));
                    let cb = kb.let_(Scalar::I64, build::mul(ci, plane.clone()));
                    kb.loop_(Expr::i64(0), plane.clone(), |kb, i| {
                        let off = build::add(cb.clone(), i);
                        let xn = to(t, s, div(sub(load(off.clone()), mean.clone()), den.clone()));
                        kb.store(
                            y.buf,
                            build::add(base.clone(), off),
                            add(mul(sc.clone(), xn), b.clone()),
                        );
                    });
                });
            });
        });
        Ok(())
    }
}

#[derive(Debug)]
pub struct LpNorm {
    pub axis: i64,
    pub p: i64,
}

pub fn import_lp(a: &Attrs) -> Result<Box<dyn Op>> {
    let p = a.int("p", 2)?;
    if p != 1 && p != 2 {
        return Err(a.err("p", format!("must be 1 or 2, got {p}")));
    }
    Ok(Box::new(LpNorm {
        axis: a.int("axis", -1)?,
        p,
    }))
}

impl Op for LpNorm {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let d = cx.expect_dtype(0, FLOATS)?;
        let x = &cx.ty(0)?.shape;
        if x.is_empty() {
            return Err(cx.err("X must have rank 1 or more"));
        }
        cx.axis(self.axis, x.len(), "axis")?;
        Ok(vec![tt(d, x.clone())])
    }

    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let y = cx.output(0)?;
        let r = x.rank() as i64;
        let ax = if self.axis < 0 {
            self.axis + r
        } else {
            self.axis
        } as usize;
        let outer = numel(&x.shape[..ax]).to_expr();
        let n = x.shape[ax].to_expr();
        let inner = numel(&x.shape[ax + 1..]).to_expr();
        let t = x.elem;
        let p = self.p;
        cx.kb.loop_(Expr::i64(0), outer, |kb, o| {
            kb.loop_(Expr::i64(0), inner.clone(), |kb, i| {
                let base = build::add(
                    build::mul(build::mul(o.clone(), n.clone()), inner.clone()),
                    i,
                );
                let base = kb.let_(Scalar::I64, base);
                let at = |k: Expr| build::add(base.clone(), build::mul(k, inner.clone()));
                let acc = kb.let_mut(t, Expr::imm(t, 0.0));
                kb.loop_(Expr::i64(0), n.clone(), |kb, k| {
                    let v = kb.let_(t, x.load(at(k)));
                    let term = if p == 1 {
                        unary(UnOp::Abs, v)
                    } else {
                        mul(v.clone(), v)
                    };
                    kb.set(acc, add(Expr::Var(acc), term));
                });
                let norm = if p == 1 {
                    Expr::Var(acc)
                } else {
                    unary(UnOp::Sqrt, Expr::Var(acc))
                };
                let norm = kb.let_(t, norm);
                let zero = kb.let_(
                    Scalar::Bool,
                    build::cmp(CmpOp::Eq, norm.clone(), Expr::imm(t, 0.0)),
                );
                kb.loop_(Expr::i64(0), n.clone(), |kb, k| {
                    let v = div(x.load(at(k.clone())), norm.clone());
                    kb.store(
                        y.buf,
                        at(k),
                        build::select(zero.clone(), Expr::imm(t, 0.0), v),
                    );
                });
            });
        });
        Ok(())
    }
}

#[derive(Debug)]
pub struct Lrn {
    pub alpha: f32,
    pub beta: f32,
    pub bias: f32,
    pub size: i64,
}

pub fn import_lrn(a: &Attrs) -> Result<Box<dyn Op>> {
    let size = a.req_int("size")?;
    if size < 1 {
        return Err(a.err("size", format!("must be at least 1, got {size}")));
    }
    Ok(Box::new(Lrn {
        alpha: a.float("alpha", 1e-4)?,
        beta: a.float("beta", 0.75)?,
        bias: a.float("bias", 1.0)?,
        size,
    }))
}

impl Op for Lrn {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let d = cx.expect_dtype(0, FLOATS)?;
        let x = &cx.ty(0)?.shape;
        if x.len() < 3 {
            return Err(cx.err(format!(
                "X must have rank 3 or more (N, C, spatial...), got rank {}",
                x.len()
            )));
        }
        Ok(vec![tt(d, x.clone())])
    }

    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let y = cx.output(0)?;
        lrn(&mut cx.kb, &x, &y, self);
        Ok(())
    }
}

fn lrn(kb: &mut KernelBuilder, x: &TensorRef, y: &TensorRef, op: &Lrn) {
    let t = x.elem;
    let c = x.dim(1);
    let plane = numel(&x.shape[2..]).to_expr();
    let before = (op.size - 1) / 2;
    let after = (op.size - 1) - before; // ceil((size - 1) / 2)
    let coef = Expr::imm(t, op.alpha as f64 / op.size as f64);
    let (bias, beta) = (Expr::imm(t, op.bias as f64), Expr::imm(t, op.beta as f64));
    kb.loop_(Expr::i64(0), x.dim(0), |kb, n| {
        kb.loop_(Expr::i64(0), c.clone(), |kb, ci| {
            let lo = kb.let_(
                Scalar::I64,
                build::max(build::sub(ci.clone(), Expr::i64(before)), Expr::i64(0)),
            );
            let hi = build::min(build::add(ci.clone(), Expr::i64(after + 1)), c.clone());
            let hi = kb.let_(Scalar::I64, hi);
            let nb = kb.let_(
                Scalar::I64,
                build::mul(build::mul(n.clone(), c.clone()), plane.clone()),
            );
            kb.loop_(Expr::i64(0), plane.clone(), |kb, i| {
                let acc = kb.let_mut(t, Expr::imm(t, 0.0));
                kb.loop_(lo.clone(), hi.clone(), |kb, cj| {
                    let v = x.load(build::add(
                        build::add(nb.clone(), build::mul(cj, plane.clone())),
                        i.clone(),
                    ));
                    let v = kb.let_(t, v);
                    kb.set(acc, add(Expr::Var(acc), mul(v.clone(), v)));
                });
                let den = build::call(
                    MathFn::Pow,
                    vec![
                        add(bias.clone(), mul(coef.clone(), Expr::Var(acc))),
                        beta.clone(),
                    ],
                );
                let idx = build::add(
                    build::add(nb.clone(), build::mul(ci.clone(), plane.clone())),
                    i,
                );
                kb.store(y.buf, idx.clone(), div(x.load(idx), den));
            });
        });
    });
}
