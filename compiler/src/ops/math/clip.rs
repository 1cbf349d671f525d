//! Clip: <https://onnx.ai/onnx/operators/onnx__Clip.html>
//!
//! - Opset 1: bounds are the float attributes `min`, `max` (either may be absent: no bound);
//!   `consumed_inputs` (legacy hint) is ignored.
//! - Opset 6: the same attributes, defaulting to the lowest / largest float32.
//! - Opset 11: the bounds are optional scalar inputs 1 and 2 (an empty name: no bound), floats.
//! - Opset 12, 13: every numeric type.
//!
//! `y = min(max(x, min), max)` — as numpy's `clip`, so `min > max` gives `max` everywhere. NaN
//! inputs stay NaN (kir `Min`/`Max` propagate NaN). Bound inputs need not be constants: they
//! are read once per run. A bound tensor must hold exactly one element.

use crate::error::Result;
use crate::ir::TensorType;
use crate::kir::build::{max, min};
use crate::kir::Expr;
use crate::lower::LowerCx;
use crate::ops::{tt, Attrs, InferCx, Op, FLOATS, NUMERIC};

#[derive(Debug)]
pub struct Clip {
    /// Attribute bounds (opset < 11).
    attr: Option<(Option<f64>, Option<f64>)>,
}

pub fn import(a: &Attrs) -> Result<Box<dyn Op>> {
    let n = a.node();
    let attr = if n.opset < 11 {
        if n.opset < 6 {
            a.ignore("consumed_inputs");
        }
        let lo = a.float_opt("min")?.map(|v| v as f64);
        let hi = a.float_opt("max")?.map(|v| v as f64);
        if n.opset >= 6 {
            Some((
                Some(lo.unwrap_or(f32::MIN as f64)),
                Some(hi.unwrap_or(f32::MAX as f64)),
            ))
        } else {
            Some((lo, hi))
        }
    } else {
        None
    };
    Ok(Box::new(Clip { attr }))
}

impl Op for Clip {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let allowed = if cx.node.opset >= 12 { NUMERIC } else { FLOATS };
        let d = cx.expect_dtype(0, allowed)?;
        if self.attr.is_none() {
            for (i, what) in [(1, "min"), (2, "max")] {
                if !cx.has(i) {
                    continue;
                }
                let t = cx.ty(i)?;
                if t.dtype != d {
                    return Err(cx.err(format!(
                        "{what} (input {i}) has element type {}, input 0 has {d}",
                        t.dtype
                    )));
                }
                let n = crate::ir::dim::numel(&t.shape).as_known();
                if n != Some(1) {
                    return Err(cx.err(format!(
                        "{what} (input {i}) must be a scalar, got shape {}",
                        cx.shape_str(&t.shape)
                    )));
                }
            }
        }
        Ok(vec![tt(d, cx.ty(0)?.shape.clone())])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let y = cx.output(0)?;
        let t = x.elem;
        let (lo, hi) = match self.attr {
            Some((lo, hi)) => (lo.map(|v| Expr::imm(t, v)), hi.map(|v| Expr::imm(t, v))),
            None => {
                let mut bound = |i: usize| -> Option<Expr> {
                    let b = cx.ins.get(i).cloned().flatten()?;
                    Some(cx.kb.let_(t, b.load(Expr::i64(0))))
                };
                (bound(1), bound(2))
            }
        };
        cx.kb.loop_(Expr::i64(0), y.numel(), |kb, i| {
            let mut v = x.load(i.clone());
            if let Some(lo) = &lo {
                v = max(v, lo.clone());
            }
            if let Some(hi) = &hi {
                v = min(v, hi.clone());
            }
            kb.store(y.buf, i, v);
        });
        Ok(())
    }
}
