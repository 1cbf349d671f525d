//! Conv (opset 1, 11; 22 only adds bfloat16):
//! <https://onnx.ai/onnx/operators/onnx__Conv.html>
//!
//! `Y[n, m, o...] = B[m] + sum_{ic, k...} X[n, g * C/G + ic, o * s - pb + k * d] * W[m, ic, k...]`
//! with `g = m / (M/G)`, for any number of spatial dims (1-D, 2-D, 3-D, ...). Opset 11 only
//! clarified the `auto_pad` / `pads` text; both versions share this implementation. The window
//! geometry (auto_pad, pads, strides, dilations) is in `window.rs`; `kernel_shape` is optional
//! and must agree with W when given.
//!
//! Decisions: W's shape must be known (it is a weight); the batch dim may be symbolic, spatial
//! dims when the output size stays a polynomial (stride 1). The sum runs in (ic, k...) order
//! with `Fma` (`gemm::mac`); the bias is added after the sum. Kernel positions outside the
//! input are skipped through per-output-position clamped ranges (computed once per output row
//! level), so padding is never read.

use super::window::{self, Axis, WindowAttrs};
use crate::error::Result;
use crate::ir::{dim::numel, Dim, TensorType};
use crate::kir::build::{self, KernelBuilder};
use crate::kir::{BinOp, Expr, GemmCall, Scalar};
use crate::lower::LowerCx;
use crate::ops::gemm::mac;
use crate::ops::{tt, Attrs, InferCx, Op, FLOATS};

#[derive(Debug)]
pub struct Conv {
    pub win: WindowAttrs,
    pub group: i64,
}

pub fn import(a: &Attrs) -> Result<Box<dyn Op>> {
    let win = WindowAttrs::import(a, true, false)?;
    let group = a.int("group", 1)?;
    if group < 1 {
        return Err(a.err("group", format!("value {group} must be at least 1")));
    }
    Ok(Box::new(Conv { win, group }))
}

/// Known dims of a weight shape, or None.
pub fn known_dims(s: &[Dim]) -> Option<Vec<i64>> {
    s.iter().map(|d| d.as_known()).collect()
}

impl Conv {
    /// (W's shape, spatial axes) from the input shapes.
    fn geometry(
        &self,
        x: &[Dim],
        w: &[Dim],
        syms: &[String],
    ) -> std::result::Result<(Vec<i64>, Vec<Axis>), String> {
        geometry(&self.win, self.group, x, w, syms)
    }
}

/// Shared by Conv and the integer convolutions: W's known shape and the spatial axes, from
/// X's and W's shapes, checking ranks, groups and channels.
pub(crate) fn geometry(
    win: &WindowAttrs,
    group: i64,
    x: &[Dim],
    w: &[Dim],
    syms: &[String],
) -> std::result::Result<(Vec<i64>, Vec<Axis>), String> {
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
    let (m, cg) = (wk[0], wk[1]);
    if m % group != 0 {
        return Err(format!(
            "W has {m} output channels, not divisible by group {}",
            group
        ));
    }
    if x[1] != Dim::known(cg * group) {
        return Err(format!(
            "X has {} channels but W expects {cg} per group x {} groups",
            x[1].show(syms),
            group
        ));
    }
    let axes = window::resolve(win, &x[2..], Some(&wk[2..]), syms)?;
    Ok((wk, axes))
}

impl Op for Conv {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let d = cx.expect_dtype(0, FLOATS)?;
        let x = &cx.ty(0)?.shape;
        let w = cx.ty(1)?;
        if w.dtype != d {
            return Err(cx.err(format!("W has element type {} but X has {d}", w.dtype)));
        }
        let (wk, axes) = self.geometry(x, &w.shape, cx.syms).map_err(|e| cx.err(e))?;
        if cx.has(2) {
            let b = cx.ty(2)?;
            if b.dtype != d || b.shape != [Dim::known(wk[0])] {
                return Err(cx.err(format!(
                    "B must be a 1-D {d} tensor of {} elements, got {} {}",
                    wk[0],
                    b.dtype,
                    cx.shape_str(&b.shape)
                )));
            }
        }
        let mut out = vec![x[0].clone(), Dim::known(wk[0])];
        out.extend(axes.iter().map(|a| a.out.clone()));
        Ok(vec![tt(d, out)])
    }

    fn flops(&self, inputs: &[Option<&TensorType>], outputs: &[&TensorType]) -> Dim {
        let (Some(w), Some(y)) = (inputs.get(1).copied().flatten(), outputs.first()) else {
            return Dim::known(0);
        };
        // Two per multiply-add: each output sums C/G * prod(kernel) products.
        numel(&y.shape).mul(&numel(&w.shape[1..])).scale(2)
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
        if t == Scalar::F32 && self.group == 1 {
            if let Some(geo) = Conv2d::of(&wk, &axes) {
                return lower_gemm(cx, geo);
            }
        }
        let g = self.group;
        let (m, cg) = (wk[0], wk[1]);
        let mg = m / g;
        let ksz: i64 = wk[2..].iter().product();
        let in_plane = numel(&x.shape[2..]).to_expr();
        let out_plane = numel(&y.shape[2..]).to_expr();
        let xs = build::strides(&x.dims()[2..]);
        let ws = window::const_strides(&wk[2..]);
        let c = Expr::i64(cg * g);
        let kb = &mut cx.kb;
        kb.loop_(Expr::i64(0), x.dim(0), |kb, n| {
            kb.loop_(Expr::i64(0), Expr::i64(g), |kb, gi| {
                kb.loop_(Expr::i64(0), Expr::i64(mg), |kb, oc| {
                    let mi = kb.let_(
                        Scalar::I64,
                        build::add(build::mul(gi.clone(), Expr::i64(mg)), oc),
                    );
                    // X plane of (n, first channel of the group); W block of m; Y plane of (n, m).
                    let xg = build::mul(
                        build::add(
                            build::mul(n.clone(), c.clone()),
                            build::mul(gi.clone(), Expr::i64(cg)),
                        ),
                        in_plane.clone(),
                    );
                    let xg = kb.let_(Scalar::I64, xg);
                    let wm = kb.let_(Scalar::I64, build::mul(mi.clone(), Expr::i64(cg * ksz)));
                    let yb = build::mul(
                        build::add(build::mul(n.clone(), Expr::i64(m)), mi.clone()),
                        out_plane.clone(),
                    );
                    let yb = kb.let_(Scalar::I64, yb);
                    let bias = b.as_ref().map(|b| kb.let_(t, b.load(mi.clone())));
                    let ys = y.strides();
                    window::out_loops(
                        kb,
                        &axes,
                        &mut |kb: &mut KernelBuilder, o: &[Expr], rs: &[window::Range]| {
                            let acc = kb.let_mut(t, Expr::imm(t, 0.0));
                            window::group_window_loops(
                                kb,
                                &axes,
                                rs,
                                &xs,
                                &ws,
                                (&xg, &wm, &in_plane),
                                (cg, ksz),
                                &mut |kb: &mut KernelBuilder, xo, wo| {
                                    kb.set(acc, mac(t, x.load(xo), w.load(wo), Expr::Var(acc)));
                                },
                            );
                            let mut v = Expr::Var(acc);
                            if let Some(bias) = &bias {
                                v = build::binary(BinOp::Add, v, bias.clone());
                            }
                            let yo = build::linear(o, &ys[2..]);
                            kb.store(y.buf, build::add(yb.clone(), yo), v);
                        },
                    );
                });
            });
        });
        Ok(())
    }
}

/// A 2-D, single-group convolution with every size known but the batch: it runs as GEMMs.
struct Conv2d {
    /// Output channels, input channels, kernel height and width.
    m: i64,
    c: i64,
    kh: i64,
    kw: i64,
    /// Input and output plane sizes.
    h: i64,
    w: i64,
    oh: i64,
    ow: i64,
    axes: [Axis; 2],
}

impl Conv2d {
    fn of(wk: &[i64], axes: &[Axis]) -> Option<Conv2d> {
        let [ah, aw] = axes else {
            return None;
        };
        Some(Conv2d {
            m: wk[0],
            c: wk[1],
            kh: wk[2],
            kw: wk[3],
            h: ah.inp.as_known()?,
            w: aw.inp.as_known()?,
            oh: ah.out.as_known()?,
            ow: aw.out.as_known()?,
            axes: [ah.clone(), aw.clone()],
        })
    }
}

/// Output positions `o` in `0..out` whose input position `o * s - pb + tap * d` is inside
/// `0..inp`, as a range.
fn valid_range(a: &Axis, inp: i64, out: i64, tap: i64) -> (i64, i64) {
    let shift = a.pb - tap * a.d; // o * s >= shift  and  o * s <= inp - 1 + shift
    let lo = if shift <= 0 {
        0
    } else {
        (shift + a.s - 1) / a.s
    };
    let hi_incl = inp - 1 + shift;
    let hi = if hi_incl < 0 { 0 } else { hi_incl / a.s + 1 };
    (lo.min(out), hi.min(out).max(lo.min(out)))
}

/// Conv as GEMMs (`Stmt::Gemm`), one kernel tap at a time: `Y[n]` (M x OH*OW) starts at 0
/// and each tap (i, j) adds `W[:, :, i, j]` (M x C) times the input plane rows it reaches,
/// for the output positions whose input is inside the image (padding is never read). A 1x1
/// convolution with stride 1 and no padding is one GEMM per image over the whole plane;
/// otherwise one per output row, columns strided by the horizontal stride. The bias is added
/// last. Each output element is a k-ordered Fma chain over (tap, channel): the order differs
/// from the loop lowering's (channel, tap), so results may differ from it in the last bits,
/// but every backend and the interpreter compute the same chain.
fn lower_gemm(cx: &mut LowerCx, g: Conv2d) -> Result<()> {
    let x = cx.input(0)?;
    let w = cx.input(1)?;
    let b = cx.ins.get(2).cloned().flatten();
    let y = cx.output(0)?;
    let [ah, aw] = &g.axes;
    let (plane_in, plane_out) = (g.h * g.w, g.oh * g.ow);
    let taps = g.kh * g.kw;
    let kb = &mut cx.kb;
    let whole = taps == 1
        && ah.s == 1
        && aw.s == 1
        && ah.pb == 0
        && aw.pb == 0
        && g.h == g.oh
        && g.w == g.ow;
    kb.loop_(Expr::i64(0), x.dim(0), |kb, n| {
        let x_n = kb.let_(
            Scalar::I64,
            build::mul(n.clone(), Expr::i64(g.c * plane_in)),
        );
        let y_n = kb.let_(Scalar::I64, build::mul(n, Expr::i64(g.m * plane_out)));
        if whole {
            kb.gemm(GemmCall {
                m: Expr::i64(g.m),
                n: Expr::i64(plane_out),
                k: Expr::i64(g.c),
                a: w.buf,
                a_off: Expr::i64(0),
                a_rs: Expr::i64(g.c),
                a_cs: Expr::i64(1),
                b: x.buf,
                b_off: x_n,
                b_rs: Expr::i64(plane_in),
                b_cs: Expr::i64(1),
                c: y.buf,
                c_off: y_n.clone(),
                c_rs: Expr::i64(plane_out),
                accumulate: false,
            });
        } else {
            kb.loop_(Expr::i64(0), Expr::i64(g.m * plane_out), |kb, i| {
                kb.store(
                    y.buf,
                    build::add(y_n.clone(), i),
                    Expr::imm(Scalar::F32, 0.0),
                );
            });
            for ti in 0..g.kh {
                let (oh_lo, oh_hi) = valid_range(ah, g.h, g.oh, ti);
                for tj in 0..g.kw {
                    let (ow_lo, ow_hi) = valid_range(aw, g.w, g.ow, tj);
                    if oh_lo >= oh_hi || ow_lo >= ow_hi {
                        continue;
                    }
                    let iw_lo = ow_lo * aw.s - aw.pb + tj * aw.d;
                    kb.loop_(Expr::i64(oh_lo), Expr::i64(oh_hi), |kb, oh| {
                        // Input row oh * s - pb + ti * d.
                        let ih = build::add(
                            build::mul(oh.clone(), Expr::i64(ah.s)),
                            Expr::i64(ti * ah.d - ah.pb),
                        );
                        let b_off = build::add(
                            x_n.clone(),
                            build::add(build::mul(ih, Expr::i64(g.w)), Expr::i64(iw_lo)),
                        );
                        let c_off = build::add(
                            y_n.clone(),
                            build::add(build::mul(oh, Expr::i64(g.ow)), Expr::i64(ow_lo)),
                        );
                        kb.gemm(GemmCall {
                            m: Expr::i64(g.m),
                            n: Expr::i64(ow_hi - ow_lo),
                            k: Expr::i64(g.c),
                            a: w.buf,
                            a_off: Expr::i64(ti * g.kw + tj),
                            a_rs: Expr::i64(g.c * taps),
                            a_cs: Expr::i64(taps),
                            b: x.buf,
                            b_off,
                            b_rs: Expr::i64(plane_in),
                            b_cs: Expr::i64(aw.s),
                            c: y.buf,
                            c_off,
                            c_rs: Expr::i64(plane_out),
                            accumulate: true,
                        });
                    });
                }
            }
        }
        if let Some(b) = &b {
            kb.loop_(Expr::i64(0), Expr::i64(g.m), |kb, mi| {
                let bias = kb.let_(Scalar::F32, b.load(mi.clone()));
                let base = kb.let_(
                    Scalar::I64,
                    build::add(y_n.clone(), build::mul(mi, Expr::i64(plane_out))),
                );
                kb.loop_(Expr::i64(0), Expr::i64(plane_out), |kb, p| {
                    let at = build::add(base.clone(), p);
                    let v = build::binary(BinOp::Add, build::load(y.buf, at.clone()), bias.clone());
                    kb.store(y.buf, at, v);
                });
            });
        }
    });
    Ok(())
}
