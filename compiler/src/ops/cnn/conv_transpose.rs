//! ConvTranspose (opset 1, 11; 22 only adds bfloat16):
//! <https://onnx.ai/onnx/operators/onnx__ConvTranspose.html>
//!
//! `Y[n, m, o] = B[m] + sum X[n, c, i] * W[c, m % (M/G), k]` over `c` in m's group and
//! `o = i * s - pb + k * d` (W has shape `(C, M/G, k...)`), any number of spatial dims.
//! Output size per axis: `s * (in - 1) + output_padding + (k - 1) * d + 1 - pb - pe`. With
//! `output_shape` (spatial dims, or all dims) and no `pads`, the total padding
//! `s * (in - 1) + output_padding + span - out` is split with the odd element at the end for
//! SAME_UPPER and at the beginning otherwise (as the spec and the reference implementation
//! do); with `pads` given too, both are used as given. SAME_UPPER / SAME_LOWER without
//! `output_shape` target `out = in * s`. Opset 11 only reworded the pads text.
//!
//! Lowering gathers per output position (no scatter): for each kernel position the input
//! position `(o + pb - k * d) / s` is used only when it divides exactly and is in range (an
//! `If` per kernel axis, outside the channel loop), so nothing out of range is read. The sum
//! runs in (k..., c) order with `Fma`; the bias is added after.

use super::conv::known_dims;
use super::window::{self, AutoPad};
use crate::error::Result;
use crate::ir::{dim::numel, Dim, TensorType};
use crate::kir::build::{self, KernelBuilder};
use crate::kir::{BinOp, CmpOp, Expr, Scalar};
use crate::lower::LowerCx;
use crate::ops::gemm::mac;
use crate::ops::{tt, Attrs, InferCx, Op, FLOATS};

#[derive(Debug)]
pub struct ConvTranspose {
    pub auto_pad: AutoPad,
    pub dilations: Option<Vec<i64>>,
    pub group: i64,
    pub kernel: Option<Vec<i64>>,
    pub output_padding: Option<Vec<i64>>,
    pub output_shape: Option<Vec<i64>>,
    pub pads: Option<Vec<i64>>,
    pub strides: Option<Vec<i64>>,
}

pub fn import(a: &Attrs) -> Result<Box<dyn Op>> {
    let op = ConvTranspose {
        auto_pad: window::auto_pad(a)?,
        dilations: a.ints_opt("dilations")?,
        group: a.int("group", 1)?,
        kernel: a.ints_opt("kernel_shape")?,
        output_padding: a.ints_opt("output_padding")?,
        output_shape: a.ints_opt("output_shape")?,
        pads: a.ints_opt("pads")?,
        strides: a.ints_opt("strides")?,
    };
    if op.group < 1 {
        return Err(a.err("group", format!("value {} must be at least 1", op.group)));
    }
    for (name, v, min) in [
        ("dilations", &op.dilations, 1),
        ("strides", &op.strides, 1),
        ("kernel_shape", &op.kernel, 1),
        ("output_padding", &op.output_padding, 0),
        ("output_shape", &op.output_shape, 0),
    ] {
        if let Some(x) = v.as_ref().and_then(|v| v.iter().find(|x| **x < min)) {
            return Err(a.err(name, format!("value {x} must be at least {min}")));
        }
    }
    Ok(Box::new(op))
}

/// One spatial axis: kernel, stride, dilation, padding at the beginning, input and output size.
#[derive(Debug, Clone)]
struct Ax {
    k: i64,
    s: i64,
    d: i64,
    pb: i64,
    inp: Dim,
    out: Dim,
}

impl ConvTranspose {
    /// (W's shape, axes) from X's and W's shapes.
    fn geometry(
        &self,
        x: &[Dim],
        w: &[Dim],
        syms: &[String],
    ) -> std::result::Result<(Vec<i64>, Vec<Ax>), String> {
        if x.len() < 3 {
            return Err(format!(
                "X must have rank 3 or more (N, C, spatial...), got rank {}",
                x.len()
            ));
        }
        if w.len() != x.len() {
            return Err(format!("W has rank {} but X has rank {}", w.len(), x.len()));
        }
        let wk = known_dims(w).ok_or("the shape of W must be known at compile time")?;
        if x[1] != Dim::known(wk[0]) || wk[0] % self.group != 0 {
            return Err(format!(
                "X has {} channels but W has {} input channels (group {})",
                x[1].show(syms),
                wk[0],
                self.group
            ));
        }
        let n = x.len() - 2;
        let kernel = wk[2..].to_vec();
        if let Some(k) = &self.kernel {
            if *k != kernel {
                return Err(format!(
                    "kernel_shape {k:?} does not match the weights' spatial shape {kernel:?}"
                ));
            }
        }
        let get = |v: &Option<Vec<i64>>,
                   name: &str,
                   len: usize,
                   def: i64|
         -> std::result::Result<Vec<i64>, String> {
            match v {
                None => Ok(vec![def; len]),
                Some(v) if v.len() == len => Ok(v.clone()),
                Some(v) => Err(format!(
                    "attribute '{name}' has {} values, expected {len}",
                    v.len()
                )),
            }
        };
        let strides = get(&self.strides, "strides", n, 1)?;
        let dil = get(&self.dilations, "dilations", n, 1)?;
        let opad = get(&self.output_padding, "output_padding", n, 0)?;
        let pads = get(&self.pads, "pads", 2 * n, 0)?;
        if pads.iter().any(|p| *p < 0) {
            return Err("pads must not be negative".into());
        }
        let oshape = match &self.output_shape {
            None => None,
            Some(v) if v.len() == n => Some(v.clone()),
            Some(v) if v.len() == n + 2 => Some(v[2..].to_vec()),
            Some(v) => {
                return Err(format!(
                    "output_shape has {} values for {n} spatial dims",
                    v.len()
                ))
            }
        };
        let mut axes = vec![];
        for i in 0..n {
            let (k, s, d) = (kernel[i], strides[i], dil[i]);
            if opad[i] >= s.max(d) {
                return Err(format!(
                    "output_padding {} must be smaller than the stride or the dilation of axis {i}",
                    opad[i]
                ));
            }
            let dk = (k - 1) * d + 1;
            let inp = x[2 + i].clone();
            // s * (in - 1) + op + dk: the full (unpadded) output extent.
            let full = inp.scale(s).add(&Dim::known(opad[i] + dk - s));
            let same = matches!(self.auto_pad, AutoPad::SameUpper | AutoPad::SameLower);
            let split = |total: i64| {
                if self.auto_pad == AutoPad::SameUpper {
                    total.div_euclid(2)
                } else {
                    total - total.div_euclid(2)
                }
            };
            let (pb, out) = if self.pads.is_some() || !(same || oshape.is_some()) {
                let out = match &oshape {
                    Some(o) => Dim::known(o[i]),
                    None => full.add(&Dim::known(-pads[i] - pads[n + i])),
                };
                (pads[i], out)
            } else {
                let out = match &oshape {
                    Some(o) => Dim::known(o[i]),
                    None => inp.scale(s),
                };
                let total = full.sub(&out).as_known().ok_or_else(|| {
                    format!(
                        "spatial dim {i} ({}) needs its value to derive the padding (use --dim)",
                        inp.show(syms)
                    )
                })?;
                (split(total), out)
            };
            if !out.nonneg() || out.as_known().is_some_and(|v| v < 0) {
                return Err(format!(
                    "spatial dim {i}: the output size {} is negative",
                    out.show(syms)
                ));
            }
            axes.push(Ax {
                k,
                s,
                d,
                pb,
                inp,
                out,
            });
        }
        Ok((wk, axes))
    }
}

impl Op for ConvTranspose {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let d = cx.expect_dtype(0, FLOATS)?;
        let x = &cx.ty(0)?.shape;
        let w = cx.ty(1)?;
        if w.dtype != d {
            return Err(cx.err(format!("W has element type {} but X has {d}", w.dtype)));
        }
        let (wk, axes) = self.geometry(x, &w.shape, cx.syms).map_err(|e| cx.err(e))?;
        let m = wk[1] * self.group;
        if cx.has(2) {
            let b = cx.ty(2)?;
            if b.dtype != d || b.shape != [Dim::known(m)] {
                return Err(cx.err(format!(
                    "B must be a 1-D {d} tensor of {m} elements, got {} {}",
                    b.dtype,
                    cx.shape_str(&b.shape)
                )));
            }
        }
        let mut out = vec![x[0].clone(), Dim::known(m)];
        out.extend(axes.iter().map(|a| a.out.clone()));
        Ok(vec![tt(d, out)])
    }

    fn flops(&self, inputs: &[Option<&TensorType>], _: &[&TensorType]) -> Dim {
        let (Some(x), Some(w)) = (
            inputs.first().copied().flatten(),
            inputs.get(1).copied().flatten(),
        ) else {
            return Dim::known(0);
        };
        numel(&x.shape).mul(&numel(&w.shape[1..])).scale(2)
    }

    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let w = cx.input(1)?;
        let b = cx.ins.get(2).cloned().flatten();
        let y = cx.output(0)?;
        let (wk, axes) = self
            .geometry(&x.shape, &w.shape, &[])
            .map_err(|e| cx.err(e))?;
        let t = y.elem;
        let g = self.group;
        let (c, mg) = (wk[0], wk[1]);
        let cg = c / g;
        let m = mg * g;
        let ksz: i64 = wk[2..].iter().product();
        let in_plane = numel(&x.shape[2..]).to_expr();
        let out_plane = numel(&y.shape[2..]).to_expr();
        let xs = build::strides(&x.dims()[2..]);
        let ks = window::const_strides(&wk[2..]);
        let ys = build::strides(&y.dims()[2..]);
        let out_dims: Vec<Expr> = axes.iter().map(|a| a.out.to_expr()).collect();
        cx.kb.loop_(Expr::i64(0), x.dim(0), |kb, n| {
            kb.loop_(Expr::i64(0), Expr::i64(g), |kb, gi| {
                kb.loop_(Expr::i64(0), Expr::i64(mg), |kb, oc| {
                    let mi = kb.let_(
                        Scalar::I64,
                        build::add(build::mul(gi.clone(), Expr::i64(mg)), oc.clone()),
                    );
                    let xg = build::mul(
                        build::add(
                            build::mul(n.clone(), Expr::i64(c)),
                            build::mul(gi.clone(), Expr::i64(cg)),
                        ),
                        in_plane.clone(),
                    );
                    let xg = kb.let_(Scalar::I64, xg);
                    // W[g * cg + ic, oc, k]: offset (g * cg * mg + oc) * ksz + ic * mg * ksz + k.
                    let wg = build::mul(
                        build::add(build::mul(gi.clone(), Expr::i64(cg * mg)), oc),
                        Expr::i64(ksz),
                    );
                    let wg = kb.let_(Scalar::I64, wg);
                    let yb = build::mul(
                        build::add(build::mul(n.clone(), Expr::i64(m)), mi.clone()),
                        out_plane.clone(),
                    );
                    let yb = kb.let_(Scalar::I64, yb);
                    let bias = b.as_ref().map(|b| kb.let_(t, b.load(mi.clone())));
                    kb.loops(&out_dims, |kb, o| {
                        let acc = kb.let_mut(t, Expr::imm(t, 0.0));
                        let mut body = |kb: &mut KernelBuilder, xo: Expr, ko: Expr| {
                            kb.loop_(Expr::i64(0), Expr::i64(cg), |kb, ic| {
                                let xi = build::add(
                                    xo.clone(),
                                    build::mul(ic.clone(), in_plane.clone()),
                                );
                                let wi =
                                    build::add(ko.clone(), build::mul(ic, Expr::i64(mg * ksz)));
                                kb.set(acc, mac(t, x.load(xi), w.load(wi), Expr::Var(acc)));
                            });
                        };
                        kernel_rec(kb, &axes, o, &xs, &ks, xg.clone(), wg.clone(), &mut body);
                        let mut v = Expr::Var(acc);
                        if let Some(bias) = &bias {
                            v = build::binary(BinOp::Add, v, bias.clone());
                        }
                        kb.store(y.buf, build::add(yb.clone(), build::linear(o, &ys)), v);
                    });
                });
            });
        });
        Ok(())
    }
}

type Body<'b> = dyn FnMut(&mut KernelBuilder, Expr, Expr) + 'b;

/// Nested kernel loops for output position `o`: on each axis, kernel index `k` contributes
/// when `t = o + pb - k * d` is a multiple of `s` with `0 <= t / s < in`; the input and
/// kernel offsets accumulate level by level.
#[allow(clippy::too_many_arguments)]
fn kernel_rec(
    kb: &mut KernelBuilder,
    axes: &[Ax],
    o: &[Expr],
    xs: &[Expr],
    ks: &[Expr],
    xo: Expr,
    ko: Expr,
    body: &mut Body,
) {
    let Some(ax) = axes.first() else {
        body(kb, xo, ko);
        return;
    };
    let base = build::add(o[0].clone(), Expr::i64(ax.pb));
    kb.loop_(Expr::i64(0), Expr::i64(ax.k), |kb, k| {
        let tpos = kb.let_(
            Scalar::I64,
            build::sub(base.clone(), build::mul(k.clone(), Expr::i64(ax.d))),
        );
        let lim = build::mul(ax.inp.to_expr(), Expr::i64(ax.s));
        let mut ok = build::and(
            build::cmp(CmpOp::Ge, tpos.clone(), Expr::i64(0)),
            build::cmp(CmpOp::Lt, tpos.clone(), lim),
        );
        if ax.s != 1 {
            let r = build::rem(tpos.clone(), Expr::i64(ax.s));
            ok = build::and(ok, build::cmp(CmpOp::Eq, r, Expr::i64(0)));
        }
        kb.if_(
            ok,
            |kb| {
                let i = build::div(tpos.clone(), Expr::i64(ax.s));
                let x2 = kb.let_(
                    Scalar::I64,
                    build::add(xo.clone(), build::mul(i, xs[0].clone())),
                );
                let k2 = kb.let_(
                    Scalar::I64,
                    build::add(ko.clone(), build::mul(k, ks[0].clone())),
                );
                kernel_rec(kb, &axes[1..], &o[1..], &xs[1..], &ks[1..], x2, k2, body);
            },
            |_| {},
        );
    });
}
