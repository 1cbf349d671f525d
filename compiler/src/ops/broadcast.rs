//! Multidirectional (numpy) broadcasting: the output shape of several inputs, and the linear
//! index into one input for an output multi-index. A symbolic dim broadcasts only against an
//! equal dim or a known 1 (a dim that might be 1 at run time is not guessed at).

use super::InferCx;
use crate::error::Result;
use crate::ir::Dim;
use crate::kir::build;
use crate::kir::Expr;
use crate::lower::TensorRef;

pub fn broadcast_shapes(cx: &InferCx, shapes: &[&[Dim]]) -> Result<Vec<Dim>> {
    let rank = shapes.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut out = vec![Dim::known(1); rank];
    for s in shapes {
        let off = rank - s.len();
        for (i, d) in s.iter().enumerate() {
            let o = &mut out[off + i];
            if d == o || d.as_known() == Some(1) {
                continue;
            }
            if o.as_known() == Some(1) {
                *o = d.clone();
                continue;
            }
            let names: Vec<String> = shapes.iter().map(|s| cx.shape_str(s)).collect();
            return Err(cx.err(format!(
                "shapes {} cannot be broadcast together",
                names.join(" and ")
            )));
        }
    }
    Ok(out)
}

/// Linear index into `x` (broadcast to `out_rank` dims) for the output index `idx`.
pub fn index(x: &TensorRef, idx: &[Expr]) -> Expr {
    let off = idx.len() - x.rank();
    let strides = x.strides();
    let mut acc = Expr::i64(0);
    for (i, d) in x.shape.iter().enumerate() {
        if d.as_known() == Some(1) {
            continue;
        }
        acc = build::add(acc, build::mul(idx[off + i].clone(), strides[i].clone()));
    }
    acc
}

/// Load `x` broadcast at output index `idx`.
pub fn load(x: &TensorRef, idx: &[Expr]) -> Expr {
    x.load(index(x, idx))
}
