//! Sliding-window geometry shared by Conv, ConvTranspose and the pooling ops: the attributes
//! `auto_pad`, `kernel_shape`, `strides`, `dilations`, `pads` and `ceil_mode`, the output
//! size and padding of each spatial axis, and the kir loops that visit only the kernel
//! positions falling inside the input (so padding is never read, and no per-element `If`).
//!
//! Output size per spatial axis (span `dk = (k - 1) * d + 1`):
//! - `NOTSET` (explicit pads): `floor((in + pb + pe - dk) / s) + 1`, or with `ceil_mode`
//!   `ceil(..) + 1`, minus one when that last window would start at or past `in + pb` (the
//!   last window must start inside the input or the left padding);
//! - `VALID`: `floor((in - dk) / s) + 1`, no padding;
//! - `SAME_UPPER` / `SAME_LOWER`: `ceil(in / s)`, total padding
//!   `max(0, (out - 1) * s + dk - in)`, the odd element at the end (UPPER) or the beginning
//!   (LOWER). `ceil_mode` does not apply with `auto_pad`.
//!
//! Symbolic spatial dims work when the size stays a polynomial (stride 1); otherwise the
//! value is needed (`--dim`). Explicit `pads` with `auto_pad` other than NOTSET must be zeros.

use crate::error::Result;
use crate::ir::Dim;
use crate::kir::build::{self, KernelBuilder};
use crate::kir::{Expr, Scalar};
use crate::ops::Attrs;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoPad {
    NotSet,
    SameUpper,
    SameLower,
    Valid,
}

pub fn auto_pad(a: &Attrs) -> Result<AutoPad> {
    let s = a.string("auto_pad", "NOTSET")?;
    Ok(match s.as_str() {
        "NOTSET" | "" => AutoPad::NotSet,
        "SAME_UPPER" => AutoPad::SameUpper,
        "SAME_LOWER" => AutoPad::SameLower,
        "VALID" => AutoPad::Valid,
        o => {
            return Err(a.err(
                "auto_pad",
                format!("'{o}' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID"),
            ))
        }
    })
}

/// The window attributes of a node, as written (validated against the rank in `resolve`).
#[derive(Debug, Clone)]
pub struct WindowAttrs {
    pub auto_pad: AutoPad,
    pub kernel: Option<Vec<i64>>,
    pub strides: Option<Vec<i64>>,
    pub dilations: Option<Vec<i64>>,
    pub pads: Option<Vec<i64>>,
    pub ceil_mode: bool,
}

impl WindowAttrs {
    /// Read `auto_pad`, `kernel_shape`, `strides`, `pads`, and `dilations` / `ceil_mode` when
    /// the op has them at this opset (otherwise they stay unread, so the node is rejected).
    pub fn import(a: &Attrs, dilations: bool, ceil_mode: bool) -> Result<WindowAttrs> {
        let w = WindowAttrs {
            auto_pad: auto_pad(a)?,
            kernel: a.ints_opt("kernel_shape")?,
            strides: a.ints_opt("strides")?,
            dilations: if dilations {
                a.ints_opt("dilations")?
            } else {
                None
            },
            pads: a.ints_opt("pads")?,
            ceil_mode: if ceil_mode {
                a.int("ceil_mode", 0)? != 0
            } else {
                false
            },
        };
        for (name, v, min) in [
            ("kernel_shape", &w.kernel, 1),
            ("strides", &w.strides, 1),
            ("dilations", &w.dilations, 1),
            ("pads", &w.pads, 0),
        ] {
            if let Some(v) = v {
                if let Some(x) = v.iter().find(|x| **x < min) {
                    return Err(a.err(name, format!("value {x} must be at least {min}")));
                }
            }
        }
        if w.auto_pad != AutoPad::NotSet
            && w.pads.as_ref().is_some_and(|p| p.iter().any(|x| *x != 0))
        {
            return Err(a.err("pads", "explicit pads cannot be combined with auto_pad"));
        }
        Ok(w)
    }
}

/// One spatial axis of a window op.
#[derive(Debug, Clone)]
pub struct Axis {
    /// Kernel size, stride, dilation, padding at the beginning and the end.
    pub k: i64,
    pub s: i64,
    pub d: i64,
    pub pb: i64,
    pub pe: i64,
    /// Input size.
    pub inp: Dim,
    /// Output size.
    pub out: Dim,
}

impl Axis {
    /// Extent of the dilated kernel.
    pub fn span(&self) -> i64 {
        (self.k - 1) * self.d + 1
    }
    /// True when some window reaches past the end of the input (its range must be clamped).
    fn clips_end(&self) -> bool {
        // Last window ends (exclusive) at (out - 1) * s - pb + span.
        let end = self
            .out
            .scale(self.s)
            .add(&Dim::known(self.span() - self.s - self.pb));
        !self.inp.dominates(&end)
    }
}

fn ceil_div(a: i64, b: i64) -> i64 {
    (a + b - 1).div_euclid(b)
}

/// Resolve the geometry of every spatial axis of input spatial dims `inp`. `kernel_default`
/// is the kernel from the weights (Conv), used when `kernel_shape` is absent (which must then
/// agree). Errors are plain messages; the caller adds the node.
pub fn resolve(
    w: &WindowAttrs,
    inp: &[Dim],
    kernel_default: Option<&[i64]>,
    syms: &[String],
) -> std::result::Result<Vec<Axis>, String> {
    let n = inp.len();
    let kernel = match (&w.kernel, kernel_default) {
        (Some(k), Some(d)) if k.as_slice() != d => {
            return Err(format!(
                "kernel_shape {k:?} does not match the weights' spatial shape {d:?}"
            ))
        }
        (Some(k), _) => k.clone(),
        (None, Some(d)) => d.to_vec(),
        (None, None) => return Err("attribute 'kernel_shape' is required".into()),
    };
    if kernel.len() != n {
        return Err(format!(
            "kernel_shape has {} values for {n} spatial dims",
            kernel.len()
        ));
    }
    if let Some(x) = kernel.iter().find(|x| **x < 1) {
        return Err(format!("kernel_shape value {x} must be at least 1"));
    }
    let strides = w.strides.clone().unwrap_or_else(|| vec![1; n]);
    let dil = w.dilations.clone().unwrap_or_else(|| vec![1; n]);
    let pads = w.pads.clone().unwrap_or_else(|| vec![0; 2 * n]);
    if strides.len() != n {
        return Err(format!(
            "attribute 'strides' has {} values for {n} spatial dims",
            strides.len()
        ));
    }
    if dil.len() != n {
        return Err(format!(
            "attribute 'dilations' has {} values for {n} spatial dims",
            dil.len()
        ));
    }
    if pads.len() != 2 * n {
        return Err(format!(
            "attribute 'pads' has {} values for {n} spatial dims (needs {})",
            pads.len(),
            2 * n
        ));
    }
    let mut axes = vec![];
    for i in 0..n {
        let (k, s, d) = (kernel[i], strides[i], dil[i]);
        let dk = (k - 1) * d + 1;
        let inp_i = &inp[i];
        let known = inp_i.as_known();
        let need = || {
            format!(
                "spatial dim {i} ({}) needs its value for this window geometry (use --dim)",
                inp_i.show(syms)
            )
        };
        let (pb, pe, out) = match w.auto_pad {
            AutoPad::NotSet | AutoPad::Valid => {
                let (pb, pe) = if w.auto_pad == AutoPad::Valid {
                    (0, 0)
                } else {
                    (pads[i], pads[n + i])
                };
                let ceil = w.ceil_mode && w.auto_pad == AutoPad::NotSet;
                match known {
                    Some(v) => {
                        let num = v + pb + pe - dk;
                        if num < 0 {
                            return Err(format!(
                                "spatial dim {i}: the window (extent {dk}) is larger than the padded input ({})",
                                v + pb + pe
                            ));
                        }
                        let mut o = if ceil {
                            ceil_div(num, s) + 1
                        } else {
                            num / s + 1
                        };
                        if ceil && (o - 1) * s >= v + pb {
                            o -= 1;
                        }
                        (pb, pe, Dim::known(o))
                    }
                    None if s == 1 && !(ceil && pe >= dk) => {
                        (pb, pe, inp_i.add(&Dim::known(pb + pe - dk + 1)))
                    }
                    None => return Err(need()),
                }
            }
            AutoPad::SameUpper | AutoPad::SameLower => {
                let (out, total) = match known {
                    Some(v) => {
                        let o = ceil_div(v, s);
                        (Dim::known(o), ((o - 1) * s + dk - v).max(0))
                    }
                    None if s == 1 => (inp_i.clone(), dk - 1),
                    None => return Err(need()),
                };
                let (pb, pe) = if w.auto_pad == AutoPad::SameUpper {
                    (total / 2, total - total / 2)
                } else {
                    (total - total / 2, total / 2)
                };
                (pb, pe, out)
            }
        };
        axes.push(Axis {
            k,
            s,
            d,
            pb,
            pe,
            inp: inp_i.clone(),
            out,
        });
    }
    Ok(axes)
}

/// The kernel positions of one axis's window at output position `o` that fall inside the
/// input: `k in lo..hi`, input position `start + k * d`.
#[derive(Debug, Clone)]
pub struct Range {
    pub start: Expr,
    pub lo: Expr,
    pub hi: Expr,
}

/// `ceil(max(x, 0) / d)` for I64 `x` and a constant `d ≥ 1`.
fn ceil_div_pos(x: Expr, d: i64) -> Expr {
    let x = build::max(x, Expr::i64(0));
    if d == 1 {
        x
    } else {
        build::div(build::add(x, Expr::i64(d - 1)), Expr::i64(d))
    }
}

/// Declare the window range of axis `ax` at output position `o`.
pub fn range(kb: &mut KernelBuilder, ax: &Axis, o: &Expr) -> Range {
    let start = build::sub(build::mul(o.clone(), Expr::i64(ax.s)), Expr::i64(ax.pb));
    let start = if start.as_const_i64().is_some() {
        start
    } else {
        kb.let_(Scalar::I64, start)
    };
    let lo = if ax.pb == 0 {
        Expr::i64(0)
    } else {
        kb.let_(
            Scalar::I64,
            ceil_div_pos(build::sub(Expr::i64(0), start.clone()), ax.d),
        )
    };
    let hi = if ax.clips_end() {
        let left = build::sub(ax.inp.to_expr(), start.clone());
        kb.let_(
            Scalar::I64,
            build::min(Expr::i64(ax.k), ceil_div_pos(left, ax.d)),
        )
    } else {
        Expr::i64(ax.k)
    };
    Range { start, lo, hi }
}

/// The number of kernel positions of `ax`'s window that fall in the padded input
/// (`-pb <= p < in + pe`; AveragePool with `count_include_pad`).
pub fn padded_count(ax: &Axis, r: &Range) -> Expr {
    let left = build::sub(
        build::add(ax.inp.to_expr(), Expr::i64(ax.pe)),
        r.start.clone(),
    );
    build::min(Expr::i64(ax.k), ceil_div_pos(left, ax.d))
}

type OutBody<'b> = dyn FnMut(&mut KernelBuilder, &[Expr], &[Range]) + 'b;

/// Nested loops over the output positions of `axes` (outermost first), each axis's window
/// range declared once at its own loop level. `body` gets the output indices and ranges.
pub fn out_loops(kb: &mut KernelBuilder, axes: &[Axis], body: &mut OutBody) {
    fn rec(
        kb: &mut KernelBuilder,
        axes: &[Axis],
        idx: &mut Vec<Expr>,
        rs: &mut Vec<Range>,
        body: &mut OutBody,
    ) {
        let Some(ax) = axes.first() else {
            body(kb, idx, rs);
            return;
        };
        kb.loop_(Expr::i64(0), ax.out.to_expr(), |kb, o| {
            let r = range(kb, ax, &o);
            idx.push(o);
            rs.push(r);
            rec(kb, &axes[1..], idx, rs, body);
            idx.pop();
            rs.pop();
        });
    }
    rec(kb, axes, &mut vec![], &mut vec![], body)
}

type KBody<'b> = dyn FnMut(&mut KernelBuilder, Expr, Expr, &[Expr]) + 'b;

/// Nested loops over the valid kernel positions of one window (ranges `rs`), accumulating two
/// offsets level by level: the input offset `xb + sum (start_i + k_i * d_i) * xs_i` and a
/// kernel offset `wb + sum k_i * ws_i`. `body` gets both and the kernel indices.
#[allow(clippy::too_many_arguments)]
pub fn kernel_loops(
    kb: &mut KernelBuilder,
    axes: &[Axis],
    rs: &[Range],
    xs: &[Expr],
    ws: &[Expr],
    xb: Expr,
    wb: Expr,
    body: &mut KBody,
) {
    #[allow(clippy::too_many_arguments)]
    fn rec(
        kb: &mut KernelBuilder,
        axes: &[Axis],
        rs: &[Range],
        xs: &[Expr],
        ws: &[Expr],
        xb: Expr,
        wb: Expr,
        kidx: &mut Vec<Expr>,
        body: &mut KBody,
    ) {
        let Some(ax) = axes.first() else {
            body(kb, xb, wb, kidx);
            return;
        };
        let r = &rs[0];
        let last = axes.len() == 1;
        kb.loop_(r.lo.clone(), r.hi.clone(), |kb, k| {
            let pos = build::add(r.start.clone(), build::mul(k.clone(), Expr::i64(ax.d)));
            let mut x2 = build::add(xb.clone(), build::mul(pos, xs[0].clone()));
            let mut w2 = build::add(wb.clone(), build::mul(k.clone(), ws[0].clone()));
            if !last {
                x2 = kb.let_(Scalar::I64, x2);
                w2 = kb.let_(Scalar::I64, w2);
            }
            kidx.push(k);
            rec(
                kb,
                &axes[1..],
                &rs[1..],
                &xs[1..],
                &ws[1..],
                x2,
                w2,
                kidx,
                body,
            );
            kidx.pop();
        });
    }
    rec(kb, axes, rs, xs, ws, xb, wb, &mut vec![], body)
}

/// Row-major strides of known sizes as expressions.
pub fn const_strides(shape: &[i64]) -> Vec<Expr> {
    let mut s = vec![1i64; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s.into_iter().map(Expr::i64).collect()
}

/// The reduction of one output position of a convolution: over the `cg` input channels of
/// the group (channel `ic` starts at `xg + ic * in_plane` in X and `wm + ic * ksz` in W), then
/// the kernel window. `mac(kb, x_offset, w_offset)` emits one multiply-accumulate, in order.
#[allow(clippy::too_many_arguments)]
pub(crate) fn group_window_loops(
    kb: &mut KernelBuilder,
    axes: &[Axis],
    rs: &[Range],
    xs: &[Expr],
    ws: &[Expr],
    (xg, wm, in_plane): (&Expr, &Expr, &Expr),
    (cg, ksz): (i64, i64),
    mac: &mut dyn FnMut(&mut KernelBuilder, Expr, Expr),
) {
    kb.loop_(Expr::i64(0), Expr::i64(cg), |kb, ic| {
        let xc = build::add(xg.clone(), build::mul(ic.clone(), in_plane.clone()));
        let wc = build::add(wm.clone(), build::mul(ic, Expr::i64(ksz)));
        let (xc, wc) = if cg == 1 {
            (xc, wc)
        } else {
            (kb.let_(Scalar::I64, xc), kb.let_(Scalar::I64, wc))
        };
        kernel_loops(
            kb,
            axes,
            rs,
            xs,
            ws,
            xc,
            wc,
            &mut |kb: &mut KernelBuilder, xo, wo, _: &[Expr]| mac(kb, xo, wo),
        );
    });
}
