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
use crate::kir::{BinOp, CmpOp, ConvGeom, Expr, GemmCall, Scalar};
use crate::lower::LowerCx;
use crate::ops::gemm::mac;
use crate::ops::{tt, Attrs, Epilogue, InferCx, Op, FLOATS};

#[derive(Clone, Debug)]
pub struct Conv {
    pub win: WindowAttrs,
    pub group: i64,
    /// Fused residual and clamp (`passes::fuse`); the residual is input 3.
    pub epi: Epilogue,
    /// Channels per block when X, Y and the residual are in the blocked NCHWc layout
    /// (`passes::layout`; `[N, C / L, H, W, L]`), else 0.
    pub blocked: i64,
}

pub fn import(a: &Attrs) -> Result<Box<dyn Op>> {
    let win = WindowAttrs::import(a, true, false)?;
    let group = a.int("group", 1)?;
    if group < 1 {
        return Err(a.err("group", format!("value {group} must be at least 1")));
    }
    Ok(Box::new(Conv {
        win,
        group,
        epi: Epilogue::default(),
        blocked: 0,
    }))
}

/// Known dims of a weight shape, or None.
pub fn known_dims(s: &[Dim]) -> Option<Vec<i64>> {
    s.iter().map(|d| d.as_known()).collect()
}

impl Conv {
    /// (W's shape, spatial axes) from the input shapes (X blocked when `blocked`).
    fn geometry(
        &self,
        x: &[Dim],
        w: &[Dim],
        syms: &[String],
    ) -> std::result::Result<(Vec<i64>, Vec<Axis>), String> {
        let x = self.unblocked(x)?;
        let (wk, axes) = geometry(&self.win, self.group, &x, w, syms)?;
        let l = self.blocked;
        if l > 0 && (wk[0] % l != 0 || axes.len() != 2 || self.group != 1) {
            return Err(format!(
                "the blocked layout of {l} channels needs a 2-D convolution of one group \
                 whose output channels ({}) are a multiple of {l}",
                wk[0]
            ));
        }
        Ok((wk, axes))
    }

    /// X's NCHW shape: `[N, C / L, H, W, L]` as `[N, C, H, W]` when blocked.
    fn unblocked(&self, x: &[Dim]) -> std::result::Result<Vec<Dim>, String> {
        let l = self.blocked;
        if l == 0 {
            return Ok(x.to_vec());
        }
        unblocked_shape(x, l).ok_or_else(|| {
            format!(
                "X must be blocked [N, C/{l}, H, W, {l}] with C known, got rank {}",
                x.len()
            )
        })
    }
}

/// The blocked layout `[N, C / L, H, W, L]` (C / L known) as `[N, C, H, W]`.
pub(crate) fn unblocked_shape(s: &[Dim], l: i64) -> Option<Vec<Dim>> {
    match s {
        [n, cb, h, w, lane] if *lane == Dim::known(l) => Some(vec![
            n.clone(),
            Dim::known(cb.as_known()? * l),
            h.clone(),
            w.clone(),
        ]),
        _ => None,
    }
}

/// `[N, C, H, W]` as its blocked layout `[N, C / L, H, W, L]` (C a multiple of L).
pub(crate) fn blocked_shape(s: &[Dim], l: i64) -> Option<Vec<Dim>> {
    let c = s.get(1)?.as_known()?;
    if s.len() != 4 || c % l != 0 {
        return None;
    }
    Some(vec![
        s[0].clone(),
        Dim::known(c / l),
        s[2].clone(),
        s[3].clone(),
        Dim::known(l),
    ])
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
        if self.blocked > 0 {
            out = blocked_shape(&out, self.blocked)
                .ok_or_else(|| cx.err(format!("the output is not blocked by {}", self.blocked)))?;
        }
        let out = tt(d, out);
        self.epi.check_residual(cx, 3, &out, false)?;
        Ok(vec![out])
    }

    fn with_epilogue(&self, e: &Epilogue) -> Option<Box<dyn Op>> {
        if !self.epi.is_none() {
            return None;
        }
        let mut c = self.clone();
        c.epi = *e;
        Some(Box::new(c))
    }

    fn with_layout(&self, block: i64) -> Option<Box<dyn Op>> {
        if self.group != 1 || self.blocked != 0 {
            return None;
        }
        let mut c = self.clone();
        c.blocked = block;
        Some(Box::new(c))
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
        let epi = self.epi;
        let res = if epi.residual {
            Some(cx.input(3)?)
        } else {
            None
        };
        if t == Scalar::F32 {
            if let Some(mut geo) = Conv2d::of(&wk, &axes, self.group) {
                geo.geom.blocked = self.blocked;
                return lower_gemm(cx, geo, &epi);
            }
        }
        if self.blocked > 0 {
            return Err(cx.err("the blocked layout needs an f32 convolution of known sizes"));
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
                            let at = kb.let_(Scalar::I64, build::add(yb.clone(), yo));
                            let v = epilogue(kb, &epi, res.as_ref(), at.clone(), v);
                            kb.store(y.buf, at, v);
                        },
                    );
                });
            });
        });
        Ok(())
    }
}

/// Rows per panel of packed convolution weights: a multiple of every kernel's tile height
/// (12 for AVX-512, 6 for AVX2).
const A_PANEL: usize = 12;

/// Output channels per panel of a blocked convolution's packed weights: the AVX-512 direct
/// kernel's two vectors of 16 (`runtime-shim/src/gemm_nchwc.rs`).
const BLOCKED_PANEL: usize = 32;

/// The epilogue of a fused convolution on one output value (f32) at `at` of Y.
fn epilogue(
    kb: &mut KernelBuilder,
    e: &Epilogue,
    res: Option<&crate::lower::TensorRef>,
    at: Expr,
    mut v: Expr,
) -> Expr {
    if let Some(r) = res {
        v = build::binary(BinOp::Add, v, r.load(at));
    }
    if e.lo != f32::NEG_INFINITY {
        let x = kb.let_(Scalar::F32, v);
        let lo = Expr::imm(Scalar::F32, e.lo as f64);
        v = build::select(build::cmp(CmpOp::Gt, lo.clone(), x.clone()), lo, x);
    }
    if e.hi != f32::INFINITY {
        let x = kb.let_(Scalar::F32, v);
        let hi = Expr::imm(Scalar::F32, e.hi as f64);
        v = build::select(build::cmp(CmpOp::Lt, hi.clone(), x.clone()), hi, x);
    }
    v
}

/// A 1-D or 2-D convolution with every size known but the batch: it runs as one GEMM per
/// image and group (a 1-D one as 2-D with one row).
pub(crate) struct Conv2d {
    group: i64,
    /// Output channels, input channels (per group), and the patch geometry.
    m: i64,
    pub(crate) geom: ConvGeom,
}

impl Conv2d {
    pub(crate) fn of(wk: &[i64], axes: &[Axis], group: i64) -> Option<Conv2d> {
        let (ah, aw, kh) = match axes {
            [ah, aw] => (Some(ah), aw, wk[2]),
            [aw] => (None, aw, 1),
            _ => return None,
        };
        let kw = *wk.last()?;
        let vert = |f: fn(&Axis) -> Option<i64>, one: i64| match ah {
            Some(a) => f(a),
            None => Some(one),
        };
        Some(Conv2d {
            group,
            m: wk[0],
            geom: ConvGeom {
                c: wk[1],
                h: vert(|a| a.inp.as_known(), 1)?,
                w: aw.inp.as_known()?,
                kh,
                kw,
                sh: vert(|a| Some(a.s), 1)?,
                sw: aw.s,
                ph: vert(|a| Some(a.pb), 0)?,
                pw: aw.pb,
                dh: vert(|a| Some(a.d), 1)?,
                dw: aw.d,
                oh: vert(|a| a.out.as_known(), 1)?,
                ow: aw.out.as_known()?,
                blocked: 0,
            },
        })
    }
}

/// Conv as GEMMs (`Stmt::Gemm`): per image and group, `Y[n, g]` (M/G x OH*OW) is
/// `W[g]` (M/G x C/G*KH*KW, the weight as stored) times the image's patch matrix, which the
/// kernel packs straight from the image (`kir::ConvGeom`; never materialised), with the bias,
/// a fused residual and clamp as the epilogue. A 1x1 convolution with stride 1 and no
/// padding reads the image as a plain matrix. Each output is the k-ordered Fma chain over
/// (channel, tap row, tap column) — the loop lowering's order, with padding taps multiplying
/// +0 instead of being skipped — then `+ bias`, `+ residual`, clamp.
fn lower_gemm(cx: &mut LowerCx, g: Conv2d, e: &Epilogue) -> Result<()> {
    let x = cx.input(0)?;
    let w = cx.input(1)?;
    let b = cx.ins.get(2).cloned().flatten();
    let r = if e.residual { Some(cx.input(3)?) } else { None };
    let y = cx.output(0)?;
    let cv = g.geom;
    let (plane_in, plane_out) = (cv.h * cv.w, cv.oh * cv.ow);
    let mg = g.m / g.group;
    let k = cv.c * cv.kh * cv.kw;
    let whole = cv.kh == 1
        && cv.kw == 1
        && cv.sh == 1
        && cv.sw == 1
        && cv.ph == 0
        && cv.pw == 0
        && cv.h == cv.oh
        && cv.w == cv.ow;
    // One group's constant weights are packed at compile time into panels of
    // `A_PANEL` output channels (k-major within a panel), so the kernel's broadcasts of
    // one k step read consecutive values; the original W is dropped from the blob.
    let mut a_buf = w.buf;
    let mut a_panel = 0;
    let lb = cv.blocked;
    if lb > 0 {
        // Blocked: panels of `BLOCKED_PANEL` output channels, k in (channel block, tap,
        // lane) order (`kir::ConvGeom`), zero rows past m.
        let wt = cx
            .konst(1)
            .ok_or_else(|| cx.err("the blocked layout needs constant weights"))?;
        let (m, kk, taps, l) = (
            g.m as usize,
            k as usize,
            (cv.kh * cv.kw) as usize,
            lb as usize,
        );
        let src = wt.bytes();
        if src.len() != m * kk * 4 {
            return Err(cx.err("the blocked layout needs f32 weights"));
        }
        let pn = BLOCKED_PANEL;
        let mut packed = vec![0u8; m.div_ceil(pn) * pn * kk * 4];
        for i in 0..m {
            for ci in 0..cv.c as usize {
                for tap in 0..taps {
                    let p = ((ci / l) * taps + tap) * l + ci % l;
                    let d = ((i / pn) * pn * kk + p * pn + i % pn) * 4;
                    let s = ((i * cv.c as usize + ci) * taps + tap) * 4;
                    packed[d..d + 4].copy_from_slice(&src[s..s + 4]);
                }
            }
        }
        a_buf = cx.weight("w_blocked", Scalar::F32, packed);
        a_panel = pn as i64;
    } else if let (1, Some(wt)) = (g.group, cx.konst(1)) {
        let (m, kk) = (g.m as usize, k as usize);
        let src = wt.bytes();
        if src.len() == m * kk * 4 && m > 1 {
            let panels = m.div_ceil(A_PANEL);
            let mut packed = vec![0u8; panels * A_PANEL * kk * 4];
            for i in 0..m {
                for p in 0..kk {
                    let d = ((i / A_PANEL) * A_PANEL * kk + p * A_PANEL + i % A_PANEL) * 4;
                    packed[d..d + 4].copy_from_slice(&src[(i * kk + p) * 4..(i * kk + p) * 4 + 4]);
                }
            }
            a_buf = cx.weight("w_panels", Scalar::F32, packed);
            a_panel = A_PANEL as i64;
        }
    }
    let kb = &mut cx.kb;
    kb.loop_(Expr::i64(0), x.dim(0), |kb, n| {
        let x_off = kb.let_(
            Scalar::I64,
            build::mul(n.clone(), Expr::i64(g.group * cv.c * plane_in)),
        );
        let y_off = kb.let_(
            Scalar::I64,
            build::mul(n, Expr::i64(g.group * mg * plane_out)),
        );
        let mut call = GemmCall::plain(
            (Expr::i64(mg), Expr::i64(plane_out), Expr::i64(k)),
            (a_buf, Expr::i64(0), Expr::i64(k), Expr::i64(1)),
            (x.buf, x_off, Expr::i64(plane_in), Expr::i64(1)),
            (y.buf, y_off.clone(), Expr::i64(plane_out)),
            false,
        );
        // A blocked C's row stride is that of a block of L rows.
        let c_rs = Expr::i64(plane_out * lb.max(1));
        call.c_rs = c_rs.clone();
        if !whole || lb > 0 {
            call.conv = Some(cv);
        }
        call.bias = b.as_ref().map(|b| (b.buf, Expr::i64(0)));
        // The residual is laid out as Y (row stride `c_rs`).
        call.res = r.as_ref().map(|r| (r.buf, y_off, c_rs));
        (call.lo, call.hi) = (e.lo, e.hi);
        call.a_panel = a_panel;
        call.groups = Expr::i64(g.group);
        call.a_gs = Expr::i64(mg * k);
        call.b_gs = Expr::i64(cv.c * plane_in);
        call.c_gs = Expr::i64(mg * plane_out);
        kb.gemm(call);
    });
    Ok(())
}
