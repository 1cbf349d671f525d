//! ConvInteger and QLinearConv.
//!
//! - ConvInteger (10) <https://onnx.ai/onnx/operators/onnx__ConvInteger.html>:
//!   `Y = conv(X - x_zero_point, W - w_zero_point)` in int32; `x_zero_point` is a scalar,
//!   `w_zero_point` a scalar or one per output channel.
//! - QLinearConv (10) <https://onnx.ai/onnx/operators/onnx__QLinearConv.html>: the same integer
//!   convolution plus the optional int32 bias `B`, then
//!   `y = saturate(round_half_even(R * (x_scale * w_scale / y_scale)) + y_zero_point)`, where
//!   `w_scale` may be per output channel. As in the ONNX reference the scale ratio is computed
//!   in the scales' type and the int32 result multiplied in float64.
//!
//! The window geometry (auto_pad, pads, strides, dilations, group) is `cnn::window`'s, as in
//! Conv. Padding holds `x_zero_point`, which contributes `0` to the sum, so padded positions
//! are skipped. Sums accumulate in int32 in (ic, k...) order.

use super::{conv, expect_q, qrange};
use crate::error::Result;
use crate::ir::{dim::numel, Dim, TensorType};
use crate::kir::build::{self, cast, unary, KernelBuilder};
use crate::kir::{BinOp, Expr, Scalar, UnOp};
use crate::lower::{LowerCx, TensorRef};
use crate::ops::cnn::conv as cnn_conv;
use crate::ops::cnn::window::{self, Axis, WindowAttrs};
use crate::ops::{tt, Attrs, InferCx, Op, FLOATS};
use crate::tensor::DType;

const Q8: &[DType] = &[DType::I8, DType::U8];

#[derive(Debug)]
pub struct QConv {
    pub win: WindowAttrs,
    pub group: i64,
    /// QLinearConv (else ConvInteger).
    pub qlinear: bool,
}

fn import(a: &Attrs, qlinear: bool) -> Result<Box<dyn Op>> {
    let win = WindowAttrs::import(a, true, false)?;
    let group = a.int("group", 1)?;
    if group < 1 {
        return Err(a.err("group", format!("value {group} must be at least 1")));
    }
    Ok(Box::new(QConv {
        win,
        group,
        qlinear,
    }))
}

pub fn import_integer(a: &Attrs) -> Result<Box<dyn Op>> {
    import(a, false)
}

pub fn import_qlinear(a: &Attrs) -> Result<Box<dyn Op>> {
    import(a, true)
}

/// Input positions: x, w, x_zero_point, w_zero_point, and for QLinearConv the scales.
struct Slots {
    x: usize,
    w: usize,
    xz: usize,
    wz: usize,
}

impl QConv {
    fn slots(&self) -> Slots {
        if self.qlinear {
            Slots {
                x: 0,
                w: 3,
                xz: 2,
                wz: 5,
            }
        } else {
            Slots {
                x: 0,
                w: 1,
                xz: 2,
                wz: 3,
            }
        }
    }
    fn geometry(
        &self,
        x: &[Dim],
        w: &[Dim],
        syms: &[String],
    ) -> std::result::Result<(Vec<i64>, Vec<Axis>), String> {
        cnn_conv::geometry(&self.win, self.group, x, w, syms)
    }
    /// Whether input `i` is per output channel (else a scalar).
    fn per_channel(cx: &InferCx, i: usize, m: i64, what: &str) -> Result<bool> {
        let p = &cx.ty(i)?.shape;
        let n = numel(p).as_known();
        if p.len() <= 1 && n == Some(1) {
            return Ok(false);
        }
        if p.len() == 1 && n == Some(m) {
            return Ok(true);
        }
        Err(cx.err(format!(
            "{what} (input {i}) has shape {}; it must be a scalar or have one value per \
             output channel ({m})",
            cx.shape_str(p)
        )))
    }
    fn scalar_only(cx: &InferCx, i: usize, what: &str) -> Result<()> {
        let p = &cx.ty(i)?.shape;
        if p.len() <= 1 && numel(p).as_known() == Some(1) {
            Ok(())
        } else {
            Err(cx.err(format!(
                "{what} (input {i}) must be a scalar, got shape {}",
                cx.shape_str(p)
            )))
        }
    }
    /// Validates everything; returns (W shape, axes, w_zero_point per channel, w_scale per
    /// channel).
    fn check(&self, cx: &InferCx) -> Result<(Vec<i64>, Vec<Axis>, bool, bool)> {
        let s = self.slots();
        let xd = expect_q(cx, s.x, Q8, "x")?;
        let wd = expect_q(cx, s.w, Q8, "w")?;
        let (wk, axes) = self
            .geometry(&cx.ty(s.x)?.shape, &cx.ty(s.w)?.shape, cx.syms)
            .map_err(|e| cx.err(e))?;
        let m = wk[0];
        if cx.has(s.xz) {
            if cx.ty(s.xz)?.dtype != xd {
                return Err(cx.err("x_zero_point must have x's type"));
            }
            Self::scalar_only(cx, s.xz, "x_zero_point")?;
        }
        let wz = if cx.has(s.wz) {
            if cx.ty(s.wz)?.dtype != wd {
                return Err(cx.err("w_zero_point must have w's type"));
            }
            Self::per_channel(cx, s.wz, m, "w_zero_point")?
        } else {
            false
        };
        let mut ws = false;
        if self.qlinear {
            let sd = expect_q(cx, 1, FLOATS, "x_scale")?;
            for (i, what) in [(4, "w_scale"), (6, "y_scale")] {
                if expect_q(cx, i, FLOATS, what)? != sd {
                    return Err(cx.err(format!("{what} must have x_scale's type {sd}")));
                }
            }
            Self::scalar_only(cx, 1, "x_scale")?;
            Self::scalar_only(cx, 6, "y_scale")?;
            ws = Self::per_channel(cx, 4, m, "w_scale")?;
            if cx.has(7) {
                expect_q(cx, 7, Q8, "y_zero_point")?;
                Self::scalar_only(cx, 7, "y_zero_point")?;
            }
            if cx.has(8) {
                let b = cx.ty(8)?;
                if b.dtype != DType::I32 || b.shape != [Dim::known(m)] {
                    return Err(cx.err(format!(
                        "B must be a 1-D int32 tensor of {m} elements, got {} {}",
                        b.dtype,
                        cx.shape_str(&b.shape)
                    )));
                }
            }
        }
        Ok((wk, axes, wz, ws))
    }
}

impl Op for QConv {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let (wk, axes, _, _) = self.check(cx)?;
        let x = &cx.ty(0)?.shape;
        let d = if !self.qlinear {
            DType::I32
        } else if cx.has(7) {
            cx.ty(7)?.dtype
        } else {
            cx.ty(0)?.dtype
        };
        let mut out = vec![x[0].clone(), Dim::known(wk[0])];
        out.extend(axes.iter().map(|a| a.out.clone()));
        Ok(vec![tt(d, out)])
    }

    fn flops(&self, inputs: &[Option<&TensorType>], outputs: &[&TensorType]) -> Dim {
        let w = self.slots().w;
        let (Some(w), Some(y)) = (inputs.get(w).copied().flatten(), outputs.first()) else {
            return Dim::known(0);
        };
        numel(&y.shape).mul(&numel(&w.shape[1..])).scale(2)
    }

    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let (wk, axes, wz_vec, ws_vec) =
            crate::ops::tensor_ops::with_infer(cx, |icx| self.check(icx))?;
        let s = self.slots();
        let x = cx.input(s.x)?;
        let w = cx.input(s.w)?;
        let opt = |i: usize| -> Option<TensorRef> { cx.ins.get(i).cloned().flatten() };
        let (xz, wz) = (opt(s.xz), opt(s.wz));
        let q = if self.qlinear {
            Some((cx.input(1)?, cx.input(4)?, cx.input(6)?, opt(7), opt(8)))
        } else {
            None
        };
        let y = cx.output(0)?;
        let t = Scalar::I32;
        let g = self.group;
        let (m, cg) = (wk[0], wk[1]);
        let mg = m / g;
        let ksz: i64 = wk[2..].iter().product();
        let in_plane = numel(&x.shape[2..]).to_expr();
        let out_plane = numel(&y.shape[2..]).to_expr();
        let xs = build::strides(&x.dims()[2..]);
        let ws = window::const_strides(&wk[2..]);
        let c = Expr::i64(cg * g);
        let ye = y.elem;
        let kb = &mut cx.kb;
        let xzv = xz.map(|z| kb.let_(t, conv(z.load(Expr::i64(0)), z.elem, t)));
        kb.loop_(Expr::i64(0), x.dim(0), |kb, n| {
            kb.loop_(Expr::i64(0), Expr::i64(g), |kb, gi| {
                kb.loop_(Expr::i64(0), Expr::i64(mg), |kb, oc| {
                    let mi = kb.let_(
                        Scalar::I64,
                        build::add(build::mul(gi.clone(), Expr::i64(mg)), oc),
                    );
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
                    let wzv = wz.as_ref().map(|z| {
                        let i = if wz_vec { mi.clone() } else { Expr::i64(0) };
                        kb.let_(t, conv(z.load(i), z.elem, t))
                    });
                    // Per output channel: the scale ratio and the bias.
                    let qv = q.as_ref().map(|(xsc, wsc, ysc, yz, b)| {
                        let st = ysc.elem;
                        let wi = if ws_vec { mi.clone() } else { Expr::i64(0) };
                        let ratio = build::binary(
                            BinOp::Div,
                            build::binary(BinOp::Mul, xsc.load(Expr::i64(0)), wsc.load(wi)),
                            ysc.load(Expr::i64(0)),
                        );
                        let ratio = kb.let_(Scalar::F64, conv(ratio, st, Scalar::F64));
                        let yzv = yz.as_ref().map(|z| cast(Scalar::F64, z.load(Expr::i64(0))));
                        let bias = b.as_ref().map(|b| kb.let_(t, b.load(mi.clone())));
                        (ratio, yzv, bias)
                    });
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
                                    let mut xv = conv(x.load(xo), x.elem, t);
                                    let mut wv = conv(w.load(wo), w.elem, t);
                                    if let Some(z) = &xzv {
                                        xv = build::binary(BinOp::Sub, xv, z.clone());
                                    }
                                    if let Some(z) = &wzv {
                                        wv = build::binary(BinOp::Sub, wv, z.clone());
                                    }
                                    kb.set(
                                        acc,
                                        build::binary(
                                            BinOp::Add,
                                            Expr::Var(acc),
                                            build::binary(BinOp::Mul, xv, wv),
                                        ),
                                    );
                                },
                            );
                            let mut v = Expr::Var(acc);
                            if let Some((ratio, yzv, bias)) = &qv {
                                if let Some(b) = bias {
                                    v = build::binary(BinOp::Add, v, b.clone());
                                }
                                let f = Scalar::F64;
                                let mut d = build::binary(BinOp::Mul, cast(f, v), ratio.clone());
                                if let Some(z) = yzv {
                                    d = build::binary(BinOp::Add, d, z.clone());
                                }
                                let d = kb.let_(f, unary(UnOp::Round, d));
                                let (lo, hi) = qrange(ye);
                                v = cast(
                                    ye,
                                    build::min(
                                        build::max(d, Expr::imm(f, lo as f64)),
                                        Expr::imm(f, hi as f64),
                                    ),
                                );
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
