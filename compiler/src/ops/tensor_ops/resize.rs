//! Resize (opset 10, 11, 13, 18, 19): <https://onnx.ai/onnx/operators/onnx__Resize.html>.
//! Opset 10: inputs X, scales; only `mode` (nearest uses `asymmetric` coordinates and rounds
//! down, as Upsample did). 11: `roi`, `scales`, `sizes` inputs and the attributes
//! `coordinate_transformation_mode` (half_pixel, pytorch_half_pixel, align_corners, asymmetric,
//! tf_crop_and_resize), `nearest_mode`, `cubic_coeff_a`, `exclude_outside`,
//! `extrapolation_value`. 13: scales/roi optional. 18: `antialias`, `axes`,
//! `keep_aspect_ratio_policy`. 19: `half_pixel_symmetric`.
//!
//! Scales, sizes and roi must be known at compile time, and so must the resized dims (other
//! dims may be symbolic). Output size: `floor(dim * scale)`, or `sizes` (with `not_larger` /
//! `not_smaller`, one scale for all axes and `round_half_up(scale * dim)`). The computation
//! follows the ONNX reference: per resized axis, the source coordinate `x` of an output index
//! (in float64), taps at `floor`-based positions clamped to the edge, weights from the kernel
//! (nearest: one tap chosen by `nearest_mode`; linear: triangle; cubic: Keys with
//! `cubic_coeff_a`); `antialias` widens the kernel by `1/scale` when downsampling and
//! normalises the weights; `exclude_outside` drops taps outside the input and renormalises.
//! The axes combine as a tensor product, accumulated in float64 in tap order, then converted to
//! the element type (float → int saturates). tf_crop_and_resize writes `extrapolation_value`
//! where a source coordinate falls outside the input.

use crate::error::Result;
use crate::ir::{Dim, TensorType};
use crate::kir::build::{self, and, cast, cmp, or, select, unary};
use crate::kir::{BinOp, CmpOp, Expr, Scalar, UnOp};
use crate::lower::LowerCx;
use crate::ops::{tt, Attrs, InferCx, Op, NUMERIC};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    Nearest,
    Linear,
    Cubic,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Coord {
    HalfPixel,
    HalfPixelSymmetric,
    PytorchHalfPixel,
    AlignCorners,
    Asymmetric,
    TfCropAndResize,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Nearest {
    RoundPreferFloor,
    RoundPreferCeil,
    Floor,
    Ceil,
}

#[derive(Debug)]
pub struct Resize {
    pub opset: i64,
    pub mode: Mode,
    pub coord: Coord,
    pub nearest: Nearest,
    pub cubic_a: f64,
    pub exclude_outside: bool,
    pub extrapolation: f64,
    pub antialias: bool,
    pub axes: Option<Vec<i64>>,
    /// 0 stretch, 1 not_larger, 2 not_smaller.
    pub policy: u8,
}

pub fn import(a: &Attrs) -> Result<Box<dyn Op>> {
    let opset = a.node().opset;
    let mode = match a.string("mode", "nearest")?.as_str() {
        "nearest" => Mode::Nearest,
        "linear" | "bilinear" | "trilinear" => Mode::Linear,
        "cubic" | "bicubic" if opset >= 11 => Mode::Cubic,
        other => return Err(a.err("mode", format!("unknown mode '{other}'"))),
    };
    let mut r = Resize {
        opset,
        mode,
        coord: Coord::Asymmetric,
        nearest: Nearest::Floor,
        cubic_a: -0.75,
        exclude_outside: false,
        extrapolation: 0.0,
        antialias: false,
        axes: None,
        policy: 0,
    };
    if opset >= 11 {
        r.coord = match a
            .string("coordinate_transformation_mode", "half_pixel")?
            .as_str()
        {
            "half_pixel" => Coord::HalfPixel,
            "half_pixel_symmetric" if opset >= 19 => Coord::HalfPixelSymmetric,
            "pytorch_half_pixel" => Coord::PytorchHalfPixel,
            "align_corners" => Coord::AlignCorners,
            "asymmetric" => Coord::Asymmetric,
            "tf_crop_and_resize" => Coord::TfCropAndResize,
            other => {
                return Err(a.err(
                    "coordinate_transformation_mode",
                    format!("unknown mode '{other}'"),
                ))
            }
        };
        r.nearest = match a.string("nearest_mode", "round_prefer_floor")?.as_str() {
            "round_prefer_floor" => Nearest::RoundPreferFloor,
            "round_prefer_ceil" => Nearest::RoundPreferCeil,
            "floor" => Nearest::Floor,
            "ceil" => Nearest::Ceil,
            other => return Err(a.err("nearest_mode", format!("unknown mode '{other}'"))),
        };
        r.cubic_a = a.float("cubic_coeff_a", -0.75)? as f64;
        r.exclude_outside = a.int("exclude_outside", 0)? != 0;
        r.extrapolation = a.float("extrapolation_value", 0.0)? as f64;
    }
    if opset >= 18 {
        r.antialias = a.int("antialias", 0)? != 0;
        r.axes = a.ints_opt("axes")?;
        r.policy = match a.string("keep_aspect_ratio_policy", "stretch")?.as_str() {
            "stretch" => 0,
            "not_larger" => 1,
            "not_smaller" => 2,
            other => {
                return Err(a.err(
                    "keep_aspect_ratio_policy",
                    format!("unknown policy '{other}'"),
                ))
            }
        };
        if r.antialias && mode == Mode::Nearest {
            return Err(a.err("antialias", "is not defined for mode nearest"));
        }
    }
    Ok(Box::new(r))
}

/// Per resized axis: everything the kernel needs.
#[derive(Debug, Clone)]
struct AxisPlan {
    axis: usize,
    in_w: i64,
    out_w: i64,
    scale: f64,
    roi: (f64, f64),
}

struct Plan {
    out: Vec<Dim>,
    axes: Vec<AxisPlan>,
}

fn const_floats(cx: &InferCx, i: usize, what: &str) -> Result<Option<Vec<f64>>> {
    if !cx.has(i) {
        return Ok(None);
    }
    let t = cx.konst(i).ok_or_else(|| cx.need_const(i, what))?;
    if t.numel() == 0 {
        return Ok(None);
    }
    Ok(Some(
        (0..t.numel() as usize).map(|k| t.get_f64(k)).collect(),
    ))
}

impl Resize {
    fn plan(&self, cx: &InferCx) -> Result<Plan> {
        let x = &cx.ty(0)?.shape;
        let r = x.len();
        let axes: Vec<usize> = match &self.axes {
            Some(a) => super::norm_axes(cx, a, r, "axis")?,
            None => (0..r).collect(),
        };
        let n = axes.len();
        let (roi, scales, sizes) = if self.opset < 11 {
            (None, const_floats(cx, 1, "scales")?, None)
        } else {
            let sizes = if cx.has(3) {
                Some(cx.const_ints(3, "sizes")?).filter(|s| !s.is_empty())
            } else {
                None
            };
            let roi = if self.coord == Coord::TfCropAndResize {
                const_floats(cx, 1, "roi")?
            } else {
                None
            };
            (roi, const_floats(cx, 2, "scales")?, sizes)
        };
        let known = |a: usize| -> Result<i64> {
            x[a].as_known().ok_or_else(|| {
                cx.err(format!(
                    "resizing the symbolic dim {} of axis {a} needs its value (use --dim)",
                    x[a].show(cx.syms)
                ))
            })
        };
        let mut out = x.clone();
        let mut plans = vec![];
        let mut scale_of = vec![1.0f64; n];
        let mut out_of = vec![0i64; n];
        match (&scales, &sizes) {
            (Some(_), Some(_)) => return Err(cx.err("only one of scales and sizes may be given")),
            (None, None) => return Err(cx.err("one of scales and sizes is required")),
            (Some(s), None) => {
                if s.len() != n {
                    return Err(cx.err(format!("scales has {} values for {n} axes", s.len())));
                }
                for (k, a) in axes.iter().enumerate() {
                    if s[k].is_nan() || s[k] <= 0.0 {
                        return Err(cx.err(format!("scales must be > 0, got {}", s[k])));
                    }
                    let w = known(*a)?;
                    scale_of[k] = s[k];
                    out_of[k] = (s[k] * w as f64) as i64;
                }
            }
            (None, Some(s)) => {
                if s.len() != n {
                    return Err(cx.err(format!("sizes has {} values for {n} axes", s.len())));
                }
                for (k, a) in axes.iter().enumerate() {
                    let w = known(*a)?;
                    if s[k] < 0 || w == 0 {
                        return Err(
                            cx.err(format!("cannot resize axis {a} of size {w} to {}", s[k]))
                        );
                    }
                    scale_of[k] = s[k] as f64 / w as f64;
                    out_of[k] = s[k];
                }
                if self.policy != 0 && n > 0 {
                    let sc = if self.policy == 1 {
                        scale_of.iter().copied().fold(f64::INFINITY, f64::min)
                    } else {
                        scale_of.iter().copied().fold(f64::NEG_INFINITY, f64::max)
                    };
                    for (k, a) in axes.iter().enumerate() {
                        scale_of[k] = sc;
                        out_of[k] = (sc * known(*a)? as f64 + 0.5) as i64;
                    }
                }
            }
        }
        if let Some(roi) = &roi {
            if roi.len() != 2 * n {
                return Err(cx.err(format!("roi has {} values for {n} axes", roi.len())));
            }
        }
        for (k, a) in axes.iter().enumerate() {
            out[*a] = Dim::known(out_of[k]);
            let in_w = known(*a)?;
            let roi = roi.as_ref().map_or((0.0, 1.0), |r| (r[k], r[k + n]));
            let identity = scale_of[k] == 1.0
                && out_of[k] == in_w
                && (self.coord != Coord::TfCropAndResize || roi == (0.0, 1.0));
            if !identity {
                plans.push(AxisPlan {
                    axis: *a,
                    in_w,
                    out_w: out_of[k],
                    scale: scale_of[k],
                    roi,
                });
            }
        }
        Ok(Plan { out, axes: plans })
    }

    /// Kernel support (1 linear, 2 cubic) and the first tap offset and tap count.
    fn taps(&self, p: &AxisPlan) -> (f64, i64, i64) {
        let support = if self.mode == Mode::Cubic { 2.0 } else { 1.0 };
        let s = if self.antialias {
            p.scale.min(1.0)
        } else {
            1.0
        };
        let start = (-support / s).floor() as i64 + 1;
        (s, start, 2 - 2 * start)
    }

    /// Kernel weight at distance `d` (F64, already scaled).
    fn kernel(&self, d: Expr) -> Expr {
        let f = |v: f64| Expr::imm(Scalar::F64, v);
        let mul = |a: Expr, b: Expr| build::binary(BinOp::Mul, a, b);
        let add = |a: Expr, b: Expr| build::binary(BinOp::Add, a, b);
        let sub = |a: Expr, b: Expr| build::binary(BinOp::Sub, a, b);
        let x = unary(UnOp::Abs, d);
        match self.mode {
            Mode::Cubic => {
                let a = self.cubic_a;
                let x2 = mul(x.clone(), x.clone());
                let x3 = mul(x2.clone(), x.clone());
                let near = add(
                    sub(mul(f(a + 2.0), x3.clone()), mul(f(a + 3.0), x2.clone())),
                    f(1.0),
                );
                let far = sub(
                    add(
                        sub(mul(f(a), x3), mul(f(5.0 * a), x2)),
                        mul(f(8.0 * a), x.clone()),
                    ),
                    f(4.0 * a),
                );
                select(
                    cmp(CmpOp::Le, x.clone(), f(1.0)),
                    near,
                    select(cmp(CmpOp::Lt, x, f(2.0)), far, f(0.0)),
                )
            }
            _ => build::max(sub(f(1.0), x), f(0.0)),
        }
    }
}

/// A resized axis while lowering: plan, base index, ratio, kernel scale, first tap, tap
/// count, normaliser.
type TapAxis = (AxisPlan, Expr, Expr, f64, i64, i64, Option<Expr>);

/// Source coordinate (F64) of output index `o` (I64) along one axis.
fn source_coord(coord: Coord, p: &AxisPlan, o: Expr) -> Expr {
    let f = |v: f64| Expr::imm(Scalar::F64, v);
    let y = cast(Scalar::F64, o);
    let in_w = p.in_w as f64;
    let out_w = p.scale * in_w;
    let add = |a: Expr, b: Expr| build::binary(BinOp::Add, a, b);
    let sub = |a: Expr, b: Expr| build::binary(BinOp::Sub, a, b);
    let mul = |a: Expr, b: Expr| build::binary(BinOp::Mul, a, b);
    let div = |a: Expr, b: Expr| build::binary(BinOp::Div, a, b);
    let half_pixel = |y: Expr| sub(div(add(y, f(0.5)), f(p.scale)), f(0.5));
    match coord {
        Coord::AlignCorners => {
            if out_w == 1.0 {
                f(0.0)
            } else {
                div(mul(y, f(in_w - 1.0)), f(out_w - 1.0))
            }
        }
        Coord::Asymmetric => div(y, f(p.scale)),
        Coord::TfCropAndResize => {
            let (r0, r1) = p.roi;
            let base = if out_w == 1.0 {
                f((r1 - r0) * (in_w - 1.0) / 2.0)
            } else {
                div(mul(mul(y, f(r1 - r0)), f(in_w - 1.0)), f(out_w - 1.0))
            };
            add(base, f(r0 * (in_w - 1.0)))
        }
        Coord::PytorchHalfPixel => {
            if out_w == 1.0 {
                f(-0.5)
            } else {
                half_pixel(y)
            }
        }
        Coord::HalfPixel => half_pixel(y),
        Coord::HalfPixelSymmetric => {
            let adjustment = p.out_w as f64 / out_w;
            let center = in_w / 2.0;
            let offset = center * (1.0 - adjustment);
            add(f(offset), half_pixel(y))
        }
    }
}

impl Op for Resize {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let d = cx.expect_dtype(0, NUMERIC)?;
        let p = self.plan(cx)?;
        Ok(vec![tt(d, p.out)])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let y = cx.output(0)?;
        let plan = super::with_infer(cx, |icx| self.plan(icx))?;
        let xs = x.strides();
        let ys = y.strides();
        let t = x.elem;
        let f = |v: f64| Expr::imm(Scalar::F64, v);
        cx.kb.loops(&y.dims(), |kb, idx| {
            let yi = build::linear(idx, &ys);
            let mut src: Vec<Expr> = idx.to_vec();
            let mut extrap: Option<Expr> = None;
            // Per axis: base index (I64), ratio (F64), normaliser (F64).
            let mut per_axis = vec![];
            for p in &plan.axes {
                let xo = kb.let_(
                    Scalar::F64,
                    source_coord(self.coord, p, idx[p.axis].clone()),
                );
                if self.coord == Coord::TfCropAndResize {
                    let out = or(
                        cmp(CmpOp::Lt, xo.clone(), f(0.0)),
                        cmp(CmpOp::Gt, xo.clone(), f(p.in_w as f64 - 1.0)),
                    );
                    extrap = Some(match extrap.take() {
                        Some(e) => or(e, out),
                        None => out,
                    });
                }
                let fl = kb.let_(Scalar::F64, unary(UnOp::Floor, xo.clone()));
                let is_int = cmp(CmpOp::Eq, xo.clone(), fl.clone());
                let ratio = kb.let_(
                    Scalar::F64,
                    select(
                        is_int.clone(),
                        f(1.0),
                        build::binary(BinOp::Sub, xo.clone(), fl.clone()),
                    ),
                );
                // base = x - ratio (an integer): floor(x), or x - 1 when x is an integer.
                let base = kb.let_(
                    Scalar::I64,
                    build::sub(
                        cast(Scalar::I64, fl),
                        select(is_int, Expr::i64(1), Expr::i64(0)),
                    ),
                );
                per_axis.push((p.clone(), base, ratio));
            }
            let clamp = |e: Expr, w: i64| build::max(build::min(e, Expr::i64(w - 1)), Expr::i64(0));
            let write = |kb: &mut build::KernelBuilder, v: Expr| match &extrap {
                Some(e) => kb.store(
                    y.buf,
                    yi.clone(),
                    select(e.clone(), Expr::imm(t, self.extrapolation), v),
                ),
                None => kb.store(y.buf, yi.clone(), v),
            };
            if self.mode == Mode::Nearest {
                for (p, base, ratio) in &per_axis {
                    let r = ratio.clone();
                    let not_int = cmp(CmpOp::Ne, r.clone(), f(1.0));
                    let first = match self.nearest {
                        Nearest::RoundPreferFloor => and(not_int, cmp(CmpOp::Le, r, f(0.5))),
                        Nearest::RoundPreferCeil => and(not_int, cmp(CmpOp::Lt, r, f(0.5))),
                        Nearest::Floor => not_int,
                        Nearest::Ceil => Expr::imm(Scalar::Bool, 0.0),
                    };
                    let i = build::add(base.clone(), select(first, Expr::i64(0), Expr::i64(1)));
                    src[p.axis] = clamp(i, p.in_w);
                }
                let v = x.load(build::linear(&src, &xs));
                write(kb, v);
                return;
            }
            // Normalisers (antialias, exclude_outside).
            let mut axes_full = vec![];
            for (p, base, ratio) in &per_axis {
                let (s, start, n) = self.taps(p);
                let weight = |i: Expr, tap: Expr| -> Expr {
                    let d = build::binary(
                        BinOp::Mul,
                        build::binary(BinOp::Sub, cast(Scalar::F64, i), ratio.clone()),
                        f(s),
                    );
                    let w = self.kernel(d);
                    if self.exclude_outside {
                        let pos = build::add(base.clone(), tap);
                        let inside = and(
                            cmp(CmpOp::Ge, pos.clone(), Expr::i64(0)),
                            cmp(CmpOp::Lt, pos, Expr::i64(p.in_w)),
                        );
                        select(inside, w, f(0.0))
                    } else {
                        w
                    }
                };
                let norm = if self.antialias || self.exclude_outside {
                    let sum = kb.let_mut(Scalar::F64, f(0.0));
                    kb.loop_(Expr::i64(start), Expr::i64(start + n), |kb, i| {
                        let w = weight(i.clone(), i);
                        kb.set(sum, build::binary(BinOp::Add, Expr::Var(sum), w));
                    });
                    let s = Expr::Var(sum);
                    Some(kb.let_(
                        Scalar::F64,
                        select(cmp(CmpOp::Eq, s.clone(), f(0.0)), f(1.0), s),
                    ))
                } else {
                    None
                };
                axes_full.push((p.clone(), base.clone(), ratio.clone(), s, start, n, norm));
            }
            let acc = kb.let_mut(Scalar::F64, f(0.0));
            // Nested tap loops over the resized axes.
            fn rec(
                r: &Resize,
                kb: &mut build::KernelBuilder,
                axes: &[TapAxis],
                src: &mut Vec<Expr>,
                w: Expr,
                body: &mut dyn FnMut(&mut build::KernelBuilder, &[Expr], Expr),
            ) {
                let Some(((p, base, ratio, s, start, n, norm), rest)) = axes.split_first() else {
                    body(kb, src, w);
                    return;
                };
                kb.loop_(Expr::i64(*start), Expr::i64(start + n), |kb, i| {
                    let d = build::binary(
                        BinOp::Mul,
                        build::binary(BinOp::Sub, cast(Scalar::F64, i.clone()), ratio.clone()),
                        Expr::imm(Scalar::F64, *s),
                    );
                    let mut wi = r.kernel(d);
                    let pos = kb.let_(Scalar::I64, build::add(base.clone(), i));
                    if r.exclude_outside {
                        let inside = and(
                            cmp(CmpOp::Ge, pos.clone(), Expr::i64(0)),
                            cmp(CmpOp::Lt, pos.clone(), Expr::i64(p.in_w)),
                        );
                        wi = select(inside, wi, Expr::imm(Scalar::F64, 0.0));
                    }
                    if let Some(nm) = norm {
                        wi = build::binary(BinOp::Div, wi, nm.clone());
                    }
                    let wv = kb.let_(Scalar::F64, build::binary(BinOp::Mul, w.clone(), wi));
                    let old = std::mem::replace(
                        &mut src[p.axis],
                        build::max(build::min(pos, Expr::i64(p.in_w - 1)), Expr::i64(0)),
                    );
                    rec(r, kb, rest, src, wv, body);
                    src[p.axis] = old;
                });
            }
            let mut body = |kb: &mut build::KernelBuilder, s: &[Expr], w: Expr| {
                let v = x.load(build::linear(s, &xs));
                let v = if t == Scalar::F64 {
                    v
                } else {
                    cast(Scalar::F64, v)
                };
                kb.set(
                    acc,
                    build::binary(BinOp::Add, Expr::Var(acc), build::binary(BinOp::Mul, w, v)),
                );
            };
            rec(self, kb, &axes_full, &mut src, f(1.0), &mut body);
            let a = Expr::Var(acc);
            let v = if t == Scalar::F64 { a } else { cast(t, a) };
            write(kb, v);
        });
        Ok(())
    }
}
