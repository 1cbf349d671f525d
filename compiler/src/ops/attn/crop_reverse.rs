//! CenterCropPad (opset 18): https://onnx.ai/onnx/operators/onnx__CenterCropPad.html and
//! ReverseSequence (opset 10): https://onnx.ai/onnx/operators/onnx__ReverseSequence.html
//!
//! - CenterCropPad: `shape` (input 1, compile-time int64) gives the target size of each axis
//!   in `axes` (default: all, negative allowed). A smaller target crops, a larger one pads with
//!   zeros, centred with the extra element at the end (offset `floor(diff / 2)`), as in the
//!   reference. The resized axes need known sizes; the others may be symbolic.
//! - ReverseSequence: for each batch index `b`, the first `sequence_lens[b]` steps along
//!   `time_axis` are reversed, the rest copied. Lengths are checked at run time (`0 <= len <=
//!   time dim`, else BadIndex).

use super::super::{tt, Attrs, InferCx, Op, ALL};
use crate::error::Result;
use crate::ir::{Dim, TensorType};
use crate::kir::build::{self, cmp};
use crate::kir::{CmpOp, Expr, Scalar, Status};
use crate::lower::LowerCx;
use crate::tensor::DType;

#[derive(Debug)]
pub struct CenterCropPad {
    axes: Option<Vec<i64>>,
}

pub fn import_crop(a: &Attrs) -> Result<Box<dyn Op>> {
    Ok(Box::new(CenterCropPad {
        axes: a.ints_opt("axes")?,
    }))
}

impl CenterCropPad {
    /// Per axis: (target size, source offset = crop_off - pad_off) for resized axes.
    fn plan(&self, cx: &InferCx) -> Result<Vec<Option<(i64, i64)>>> {
        let x = &cx.ty(0)?.shape;
        let r = x.len();
        let shape = cx.const_ints(1, "shape")?;
        let axes: Vec<usize> = match &self.axes {
            Some(a) => a
                .iter()
                .map(|&v| cx.axis(v, r, "axes"))
                .collect::<Result<_>>()?,
            None => (0..r).collect(),
        };
        if shape.len() != axes.len() {
            return Err(cx.err(format!(
                "shape (input 1) has {} values for {} axes",
                shape.len(),
                axes.len()
            )));
        }
        let mut out = vec![None; r];
        for (&ax, &sh) in axes.iter().zip(&shape) {
            if out[ax].is_some() {
                return Err(cx.err(format!("axis {ax} appears twice in axes")));
            }
            if sh < 0 {
                return Err(cx.err(format!("shape value {sh} for axis {ax} is negative")));
            }
            let dim = x[ax].as_known().ok_or_else(|| {
                cx.err(format!(
                    "axis {ax} is resized and needs its value (use --dim)"
                ))
            })?;
            let off = if sh <= dim {
                (dim - sh) / 2
            } else {
                -((sh - dim) / 2)
            };
            out[ax] = Some((sh, off));
        }
        Ok(out)
    }
}

impl Op for CenterCropPad {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let d = cx.expect_dtype(0, ALL)?;
        let x = &cx.ty(0)?.shape;
        let plan = self.plan(cx)?;
        let shape = x
            .iter()
            .zip(&plan)
            .map(|(d, p)| p.map_or(d.clone(), |(s, _)| Dim::known(s)))
            .collect();
        Ok(vec![tt(d, shape)])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let y = cx.output(0)?;
        // Offsets from the shapes (already validated by infer).
        let offs: Vec<i64> = x
            .shape
            .iter()
            .zip(&y.shape)
            .map(|(a, b)| match (a.as_known(), b.as_known()) {
                (Some(a), Some(b)) if a >= b => (a - b) / 2,
                (Some(a), Some(b)) => -((b - a) / 2),
                _ => 0,
            })
            .collect();
        let t = x.elem;
        cx.kb.loops(&y.dims(), |kb, idx| {
            let mut ok: Option<Expr> = None;
            let mut src = vec![];
            for (i, o) in idx.iter().enumerate() {
                let s = build::add(o.clone(), Expr::i64(offs[i]));
                if x.shape[i] != y.shape[i] {
                    let c = build::and(
                        cmp(CmpOp::Ge, s.clone(), Expr::i64(0)),
                        cmp(CmpOp::Lt, s.clone(), x.dim(i)),
                    );
                    ok = Some(match ok {
                        None => c,
                        Some(p) => build::and(p, c),
                    });
                }
                src.push(s);
            }
            let dst = build::linear(idx, &y.strides());
            match ok {
                None => kb.store(y.buf, dst, x.at(&src)),
                Some(c) => {
                    let v = kb.let_mut(t, Expr::imm(t, 0.0));
                    kb.if_(c, |kb| kb.set(v, x.at(&src)), |_| {});
                    kb.store(y.buf, dst, Expr::Var(v));
                }
            }
        });
        Ok(())
    }
}

#[derive(Debug)]
pub struct ReverseSequence {
    batch_axis: i64,
    time_axis: i64,
}

pub fn import_reverse(a: &Attrs) -> Result<Box<dyn Op>> {
    let batch_axis = a.int("batch_axis", 1)?;
    let time_axis = a.int("time_axis", 0)?;
    for (n, v) in [("batch_axis", batch_axis), ("time_axis", time_axis)] {
        if v != 0 && v != 1 {
            return Err(a.err(n, format!("must be 0 or 1, got {v}")));
        }
    }
    if batch_axis == time_axis {
        return Err(a.err("time_axis", "must differ from batch_axis"));
    }
    Ok(Box::new(ReverseSequence {
        batch_axis,
        time_axis,
    }))
}

impl Op for ReverseSequence {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let d = cx.expect_dtype(0, ALL)?;
        let x = &cx.ty(0)?.shape;
        if x.len() < 2 {
            return Err(cx.err("input must have rank >= 2"));
        }
        cx.expect_dtype(1, &[DType::I64])?;
        let l = &cx.ty(1)?.shape;
        if l.len() != 1 || l[0] != x[self.batch_axis as usize] {
            return Err(cx.err(format!(
                "sequence_lens (input 1) must be 1-D of the batch size {}, got {}",
                x[self.batch_axis as usize].show(cx.syms),
                cx.shape_str(l)
            )));
        }
        Ok(vec![tt(d, x.clone())])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let lens = cx.input(1)?;
        let y = cx.output(0)?;
        let (ba, ta) = (self.batch_axis as usize, self.time_axis as usize);
        let tdim = x.dim(ta);
        // Validate every length first.
        cx.kb.loop_(Expr::i64(0), x.dim(ba), |kb, b| {
            let l = kb.let_(Scalar::I64, lens.load(b));
            let bad = build::or(
                cmp(CmpOp::Lt, l.clone(), Expr::i64(0)),
                cmp(CmpOp::Gt, l, tdim.clone()),
            );
            kb.if_(bad, |kb| kb.fail(Status::BadIndex), |_| {});
        });
        cx.kb.loops(&y.dims(), |kb, idx| {
            let l = lens.load(idx[ba].clone());
            let tt_ = idx[ta].clone();
            let rev = build::sub(build::sub(l.clone(), Expr::i64(1)), tt_.clone());
            let st = kb.let_(
                Scalar::I64,
                build::select(cmp(CmpOp::Lt, tt_.clone(), l), rev, tt_),
            );
            let mut src = idx.to_vec();
            src[ta] = st;
            kb.store(y.buf, build::linear(idx, &y.strides()), x.at(&src));
        });
        Ok(())
    }
}
