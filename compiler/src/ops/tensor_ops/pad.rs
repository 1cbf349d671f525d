//! Pad (opset 2, 11, 13, 18, 19, 21): <https://onnx.ai/onnx/operators/onnx__Pad.html>.
//! Opset 2: `pads` and `value` attributes; 11: `pads` (int64, known at compile time) and the
//! optional scalar `constant_value` as inputs (the value may be a run-time input); 18: optional
//! `axes` input naming the padded axes; 19: `wrap` mode. `pads` holds all begin values, then all
//! end values; negative pads crop. Modes: `constant`, `reflect` (mirror without repeating the
//! edge, repeatedly for pads wider than the dim), `edge` (clamp), `wrap` (periodic). Reflect,
//! edge and wrap need a non-empty dim. Symbolic dims can be padded (their size grows by the
//! pads).

use crate::error::Result;
use crate::ir::TensorType;
use crate::kir::build::{self, and, cmp, select};
use crate::kir::{CmpOp, Expr, Scalar};
use crate::lower::LowerCx;
use crate::ops::{tt, Attrs, InferCx, Op, ALL};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    Constant,
    Reflect,
    Edge,
    Wrap,
}

#[derive(Debug)]
pub struct Pad {
    pub mode: Mode,
    /// Opset 2: pads and value from attributes.
    pub attrs: Option<(Vec<i64>, f32)>,
}

pub fn import(a: &Attrs) -> Result<Box<dyn Op>> {
    let opset = a.node().opset;
    let m = a.string("mode", "constant")?;
    let mode = match m.as_str() {
        "constant" => Mode::Constant,
        "reflect" => Mode::Reflect,
        "edge" => Mode::Edge,
        "wrap" if opset >= 19 => Mode::Wrap,
        other => return Err(a.err("mode", format!("unknown mode '{other}'"))),
    };
    let attrs = if opset < 11 {
        let pads = a
            .ints_opt("pads")?
            .ok_or_else(|| a.err("pads", "required attribute missing"))?;
        Some((pads, a.float("value", 0.0)?))
    } else {
        None
    };
    Ok(Box::new(Pad { mode, attrs }))
}

impl Pad {
    /// (begin, end) pad of every axis.
    fn pads(&self, cx: &InferCx) -> Result<Vec<(i64, i64)>> {
        let r = cx.ty(0)?.shape.len();
        let pads = match &self.attrs {
            Some((p, _)) => p.clone(),
            None => cx.const_ints(1, "pads")?,
        };
        let axes: Vec<usize> = if self.attrs.is_none() && cx.has(3) {
            super::norm_axes(cx, &cx.const_ints(3, "axes")?, r, "axis")?
        } else {
            (0..r).collect()
        };
        if pads.len() != 2 * axes.len() {
            return Err(cx.err(format!(
                "pads has {} values; {} axes need {}",
                pads.len(),
                axes.len(),
                2 * axes.len()
            )));
        }
        let mut out = vec![(0, 0); r];
        let n = axes.len();
        for (k, a) in axes.iter().enumerate() {
            out[*a] = (pads[k], pads[k + n]);
        }
        Ok(out)
    }
}

impl Op for Pad {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let d = cx.expect_dtype(0, ALL)?;
        let x = &cx.ty(0)?.shape;
        let pads = self.pads(cx)?;
        if self.attrs.is_none() && cx.has(2) {
            let t = cx.ty(2)?;
            if t.dtype != d || crate::ir::dim::numel(&t.shape).as_known() != Some(1) {
                return Err(cx.err(format!(
                    "constant_value (input 2) must be one {d} element, got {} {}",
                    t.dtype,
                    cx.shape_str(&t.shape)
                )));
            }
        }
        let mut out = vec![];
        for (i, (dim, (b, e))) in x.iter().zip(&pads).enumerate() {
            let Some(be) = b.checked_add(*e) else {
                return Err(cx.err(format!("pads {b}, {e} of axis {i} overflow")));
            };
            let o = dim.add(&crate::ir::Dim::known(be));
            if let Some(v) = o.as_known() {
                if v < 0 {
                    return Err(cx.err(format!("pads {b}, {e} make axis {i} negative")));
                }
            }
            if self.mode != Mode::Constant && (*b > 0 || *e > 0) && dim.as_known() == Some(0) {
                return Err(cx.err(format!("cannot pad the empty axis {i} in this mode")));
            }
            out.push(o);
        }
        Ok(vec![tt(d, out)])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let y = cx.output(0)?;
        let pads = super::with_infer(cx, |icx| self.pads(icx))?;
        let t = x.elem;
        let value = match (&self.attrs, cx.ins.get(2).cloned().flatten()) {
            (Some((_, v)), _) => Expr::imm(t, *v as f64),
            (None, Some(c)) => cx.kb.let_(t, c.load(Expr::i64(0))),
            (None, None) => Expr::imm(t, 0.0),
        };
        let xs = x.strides();
        let xd = x.dims();
        let ys = y.strides();
        let mode = self.mode;
        cx.kb.loops(&y.dims(), |kb, idx| {
            let mut src = vec![];
            let mut inside: Option<Expr> = None;
            for (k, i) in idx.iter().enumerate() {
                let (b, _) = pads[k];
                let c = build::sub(i.clone(), Expr::i64(b));
                let d = xd[k].clone();
                let s = match mode {
                    Mode::Constant => {
                        if b > 0 || pads[k].1 > 0 {
                            let ok = and(
                                cmp(CmpOp::Ge, c.clone(), Expr::i64(0)),
                                cmp(CmpOp::Lt, c.clone(), d),
                            );
                            inside = Some(match inside.take() {
                                Some(p) => and(p, ok),
                                None => ok,
                            });
                        }
                        c
                    }
                    Mode::Edge => {
                        build::max(build::min(c, build::sub(d, Expr::i64(1))), Expr::i64(0))
                    }
                    Mode::Wrap => {
                        let m = build::rem(c, d.clone());
                        let m = kb.let_(Scalar::I64, m);
                        select(
                            cmp(CmpOp::Lt, m.clone(), Expr::i64(0)),
                            build::add(m.clone(), d),
                            m,
                        )
                    }
                    Mode::Reflect => {
                        // Period 2 * (d - 1); a dim of 1 reflects onto itself.
                        let p = kb.let_(
                            Scalar::I64,
                            build::mul(Expr::i64(2), build::sub(d.clone(), Expr::i64(1))),
                        );
                        let pp = build::max(p.clone(), Expr::i64(1));
                        let m = kb.let_(Scalar::I64, build::rem(c, pp.clone()));
                        let m = kb.let_(
                            Scalar::I64,
                            select(
                                cmp(CmpOp::Lt, m.clone(), Expr::i64(0)),
                                build::add(m.clone(), pp),
                                m,
                            ),
                        );
                        select(cmp(CmpOp::Lt, m.clone(), d), m.clone(), build::sub(p, m))
                    }
                };
                src.push(s);
            }
            let yi = build::linear(idx, &ys);
            match inside {
                Some(ok) => {
                    let si = build::linear(&src, &xs);
                    kb.if_(
                        ok,
                        |kb| kb.store(y.buf, yi.clone(), x.load(si)),
                        |kb| kb.store(y.buf, yi.clone(), value.clone()),
                    );
                }
                None => kb.store(y.buf, yi, x.load(build::linear(&src, &xs))),
            }
        });
        Ok(())
    }
}
