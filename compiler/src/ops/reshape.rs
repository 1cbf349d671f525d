//! Ops that only reinterpret the shape of their input: Reshape (opset 5, 13, 14 `allowzero`,
//! 19, 21), Flatten (1, 9, 11, 13, 21), Squeeze / Unsqueeze (1, 11 negative axes, 13 axes as
//! an input, 21), Identity (1, 13, 14, 16, 19, 21). They are views: the output shares the
//! input's storage and needs no kernel (a copy is emitted only when the output is a graph
//! output).
//!
//! Reshape: a 0 copies the input dim at that position (unless `allowzero`=1), one -1 is
//! inferred from the element count (exactly, also with symbolic dims); the shape input must be
//! known at compile time. Squeeze without axes removes every dim known to be 1 (a symbolic dim
//! is not assumed to be 1).

use super::{Attrs, InferCx, Op, MOVABLE};
use crate::error::Result;
use crate::ir::{dim::numel, Dim, TensorType};
use crate::lower::LowerCx;
use crate::tensor::DType;

#[derive(Debug)]
pub enum ViewKind {
    Reshape {
        allowzero: bool,
    },
    Flatten {
        axis: i64,
    },
    Squeeze {
        axes: Option<Vec<i64>>,
    },
    Unsqueeze {
        axes: Option<Vec<i64>>,
    },
    Identity,
    /// A Transpose that only moves dims known to be 1 (`passes::views`): the output dims
    /// are the input's in this order.
    Transpose(Vec<usize>),
}

#[derive(Debug)]
pub struct View(pub ViewKind);

pub fn import_reshape(a: &Attrs) -> Result<Box<dyn Op>> {
    let allowzero = if a.node().opset >= 14 {
        a.int("allowzero", 0)? != 0
    } else {
        false
    };
    Ok(Box::new(View(ViewKind::Reshape { allowzero })))
}
pub fn import_flatten(a: &Attrs) -> Result<Box<dyn Op>> {
    Ok(Box::new(View(ViewKind::Flatten {
        axis: a.int("axis", 1)?,
    })))
}
pub fn import_squeeze(a: &Attrs) -> Result<Box<dyn Op>> {
    let axes = if a.node().opset < 13 {
        a.ints_opt("axes")?
    } else {
        None
    };
    Ok(Box::new(View(ViewKind::Squeeze { axes })))
}
pub fn import_unsqueeze(a: &Attrs) -> Result<Box<dyn Op>> {
    let axes = if a.node().opset < 13 {
        Some(
            a.ints_opt("axes")?
                .ok_or_else(|| a.err("axes", "required attribute missing"))?,
        )
    } else {
        None
    };
    Ok(Box::new(View(ViewKind::Unsqueeze { axes })))
}
pub fn import_identity(_a: &Attrs) -> Result<Box<dyn Op>> {
    Ok(Box::new(View(ViewKind::Identity)))
}

fn axes_input(cx: &InferCx, attr: &Option<Vec<i64>>) -> Result<Option<Vec<i64>>> {
    if let Some(a) = attr {
        return Ok(Some(a.clone()));
    }
    if cx.has(1) {
        return Ok(Some(cx.const_ints(1, "axes")?));
    }
    Ok(None)
}

fn norm_axes(cx: &InferCx, axes: &[i64], rank: usize) -> Result<Vec<usize>> {
    let mut out = vec![];
    for a in axes {
        if rank == 0 {
            return Err(cx.err(format!("axis {a} out of range for rank 0")));
        }
        let n = cx.axis(*a, rank, "axis")?;
        if out.contains(&n) {
            return Err(cx.err(format!("axis {a} repeated")));
        }
        out.push(n);
    }
    out.sort();
    Ok(out)
}

impl Op for View {
    fn is_view(&self) -> bool {
        true
    }
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let x = cx.ty(0)?;
        let dtype: DType = if matches!(self.0, ViewKind::Identity) {
            x.dtype
        } else {
            cx.expect_dtype(0, MOVABLE)?
        };
        let shape = match &self.0 {
            ViewKind::Identity => x.shape.clone(),
            ViewKind::Transpose(perm) => {
                if perm.len() != x.shape.len()
                    || !crate::passes::views::order_preserving(&x.shape, perm)
                {
                    return Err(cx.err(format!(
                        "internal: transpose view {perm:?} does not fit {}",
                        cx.shape_str(&x.shape)
                    )));
                }
                perm.iter().map(|p| x.shape[*p].clone()).collect()
            }
            ViewKind::Reshape { allowzero } => {
                let spec = cx.const_ints(1, "shape")?;
                let mut out: Vec<Option<Dim>> = vec![];
                let mut infer_at = None;
                for (i, s) in spec.iter().enumerate() {
                    match *s {
                        -1 => {
                            if infer_at.replace(i).is_some() {
                                return Err(cx.err("shape has more than one -1"));
                            }
                            out.push(None);
                        }
                        0 if !allowzero => {
                            let d = x.shape.get(i).ok_or_else(|| {
                                cx.err(format!(
                                    "shape[{i}] = 0 but the input has rank {}",
                                    x.shape.len()
                                ))
                            })?;
                            out.push(Some(d.clone()));
                        }
                        v if v >= 0 => out.push(Some(Dim::known(v))),
                        v => return Err(cx.err(format!("shape[{i}] = {v} is invalid"))),
                    }
                }
                let total = numel(&x.shape);
                if let Some(at) = infer_at {
                    let known = out.iter().flatten().fold(Dim::known(1), |a, d| a.mul(d));
                    let d = total.div_exact(&known).ok_or_else(|| {
                        cx.err(format!(
                            "cannot reshape {} to {:?}: {} elements do not divide",
                            cx.shape_str(&x.shape),
                            spec,
                            total.show(cx.syms)
                        ))
                    })?;
                    out[at] = Some(d);
                }
                let out: Vec<Dim> = out.into_iter().flatten().collect();
                if numel(&out) != total {
                    return Err(cx.err(format!(
                        "cannot reshape {} ({} elements) to {}",
                        cx.shape_str(&x.shape),
                        total.show(cx.syms),
                        cx.shape_str(&out)
                    )));
                }
                out
            }
            ViewKind::Flatten { axis } => {
                let r = x.shape.len();
                let a = if *axis == r as i64 {
                    r
                } else {
                    cx.axis(*axis, r, "axis")?
                };
                vec![numel(&x.shape[..a]), numel(&x.shape[a..])]
            }
            ViewKind::Squeeze { axes } => {
                let axes = axes_input(cx, axes)?;
                let r = x.shape.len();
                match axes {
                    Some(axes) => {
                        let ax = norm_axes(cx, &axes, r)?;
                        for a in &ax {
                            if x.shape[*a].as_known() != Some(1) {
                                return Err(cx.err(format!(
                                    "cannot squeeze axis {a} of shape {}: not 1",
                                    cx.shape_str(&x.shape)
                                )));
                            }
                        }
                        (0..r)
                            .filter(|i| !ax.contains(i))
                            .map(|i| x.shape[i].clone())
                            .collect()
                    }
                    None => x
                        .shape
                        .iter()
                        .filter(|d| d.as_known() != Some(1))
                        .cloned()
                        .collect(),
                }
            }
            ViewKind::Unsqueeze { axes } => {
                let axes =
                    axes_input(cx, axes)?.ok_or_else(|| cx.err("axes (input 1) is required"))?;
                let r = x.shape.len() + axes.len();
                let ax = norm_axes(cx, &axes, r)?;
                let mut it = x.shape.iter();
                (0..r)
                    .map(|i| {
                        if ax.contains(&i) {
                            Dim::known(1)
                        } else {
                            it.next().cloned().unwrap_or_default()
                        }
                    })
                    .collect()
            }
        };
        Ok(vec![TensorType { dtype, shape }])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        cx.copy_linear()
    }
}
