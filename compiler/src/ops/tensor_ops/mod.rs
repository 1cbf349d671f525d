//! Shape and data-movement ops, reductions and indexing ops.
//!
//! Helpers shared by the files of this family live here: re-deriving an `InferCx` during
//! lowering (so `lower` sees the same plan `infer` validated), data-index wrapping with
//! `Fail(BadIndex)`, axis lists, and literals from constant tensors.

pub mod constant_of_shape;
pub mod cumsum;
pub mod einsum;
pub mod expand_tile;
pub mod gather_nd;
pub mod norm;
pub mod onehot;
pub mod pad;
pub mod range;
pub mod reduce;
pub mod resize;
pub mod scatter;
pub mod size;
pub mod split;
pub mod topk;
pub mod trilu;

use super::InferCx;
use crate::error::Result;
use crate::ir::TensorType;
use crate::kir::build::{self, cast, cmp, or, select};
use crate::kir::{CmpOp, Expr, Lit, Scalar, Status};
use crate::lower::LowerCx;
use crate::tensor::{DType, Tensor};

crate::ops_table! { pub OPS:
    "" "ArgMax" since 1 => reduce::import_arg,
    "" "ArgMin" since 1 => reduce::import_arg,
    "" "ConstantOfShape" since 9 => constant_of_shape::import,
    "" "CumSum" since 11 => cumsum::import,
    "" "Einsum" since 12 => einsum::import,
    "" "Expand" since 8 => expand_tile::import_expand,
    "" "GatherElements" since 11 => gather_nd::import_elements,
    "" "GatherND" since 11 => gather_nd::import_nd,
    "" "LayerNormalization" since 17 => norm::import_layer,
    "" "OneHot" since 9 => onehot::import,
    "" "Pad" since 2 => pad::import,
    "" "RMSNormalization" since 23 => norm::import_rms,
    "" "Range" since 11 => range::import,
    "" "ReduceL1" since 1 => reduce::import,
    "" "ReduceL2" since 1 => reduce::import,
    "" "ReduceLogSum" since 1 => reduce::import,
    "" "ReduceLogSumExp" since 1 => reduce::import,
    "" "ReduceMax" since 1 => reduce::import,
    "" "ReduceMean" since 1 => reduce::import,
    "" "ReduceMin" since 1 => reduce::import,
    "" "ReduceProd" since 1 => reduce::import,
    "" "ReduceSum" since 1 => reduce::import,
    "" "ReduceSumSquare" since 1 => reduce::import,
    "" "Resize" since 10 => resize::import,
    "" "ScatterElements" since 11 => scatter::import_elements,
    "" "ScatterND" since 11 => scatter::import_nd,
    "" "Size" since 1 => size::import,
    "" "Split" since 2 => split::import,
    "" "Tile" since 6 => expand_tile::import_tile,
    "" "TopK" since 1 => topk::import,
    "" "Trilu" since 14 => trilu::import,
}

/// The input types of a lowering, to rebuild an `InferCx` (see `with_infer`).
pub(crate) fn lower_types(cx: &LowerCx) -> Vec<Option<TensorType>> {
    cx.ins
        .iter()
        .map(|t| {
            t.as_ref().map(|t| TensorType {
                dtype: DType::from_scalar(t.elem),
                shape: t.shape.clone(),
            })
        })
        .collect()
}

/// Run `f` on an `InferCx` equivalent to the one `infer` saw (same types and constants).
pub(crate) fn with_infer<R>(cx: &LowerCx, f: impl FnOnce(&InferCx) -> R) -> R {
    let tys = lower_types(cx);
    let icx = InferCx {
        node: cx.node,
        inputs: tys.iter().map(|t| t.as_ref()).collect(),
        consts: cx.consts.clone(),
        syms: &[],
    };
    f(&icx)
}

/// Normalise a list of axes against `rank`, rejecting repeats (kept in the given order).
pub(crate) fn norm_axes(cx: &InferCx, axes: &[i64], rank: usize, what: &str) -> Result<Vec<usize>> {
    let mut out = vec![];
    for a in axes {
        // `cx.axis` lets axis 0 name a scalar (for ops that treat it as one element); a list
        // of axes to remove or reduce cannot.
        if rank == 0 {
            return Err(cx.err(format!("{what} {a} out of range for rank 0")));
        }
        let n = cx.axis(*a, rank, what)?;
        if out.contains(&n) {
            return Err(cx.err(format!("{what} {a} repeated")));
        }
        out.push(n);
    }
    Ok(out)
}

/// Normalise an axis already validated by `infer`.
pub(crate) fn fix_axis(axis: i64, rank: usize) -> usize {
    if axis < 0 {
        (axis + rank as i64).max(0) as usize
    } else {
        axis as usize
    }
}

/// An integer expression widened (or narrowed) to I64.
pub(crate) fn to_i64(e: Expr, elem: Scalar) -> Expr {
    if elem == Scalar::I64 {
        e
    } else {
        cast(Scalar::I64, e)
    }
}

/// A data index `raw` (I64) into a dim of size `dim`: negative values count from the end;
/// anything outside `[-dim, dim)` fails with `BadIndex` before it is used. Returns the
/// variable holding the index in `[0, dim)`.
pub(crate) fn checked_index(kb: &mut build::KernelBuilder, raw: Expr, dim: Expr) -> Expr {
    let raw = kb.let_(Scalar::I64, raw);
    let fixed = kb.let_(
        Scalar::I64,
        select(
            cmp(CmpOp::Lt, raw.clone(), Expr::i64(0)),
            build::add(raw.clone(), dim.clone()),
            raw,
        ),
    );
    let bad = or(
        cmp(CmpOp::Lt, fixed.clone(), Expr::i64(0)),
        cmp(CmpOp::Ge, fixed.clone(), dim),
    );
    kb.if_(bad, |kb| kb.fail(Status::BadIndex), |_| {});
    fixed
}

/// Element `i` of a constant tensor as a kir literal of type `ty` (ints keep all 64 bits).
pub(crate) fn lit_of(t: &Tensor, i: usize, ty: Scalar) -> Expr {
    if ty.is_float() {
        Expr::imm(ty, t.get_f64(i))
    } else {
        Expr::Imm(ty, Lit::Int(t.get_i64(i)))
    }
}

/// The lowest / highest value of a type (-inf / +inf for floats; false / true for bool).
pub(crate) fn type_min(ty: Scalar) -> Expr {
    match ty.int_range() {
        Some((lo, _)) => Expr::Imm(ty, Lit::Int(lo as i64)),
        None => Expr::imm(ty, f64::NEG_INFINITY),
    }
}
pub(crate) fn type_max(ty: Scalar) -> Expr {
    match ty.int_range() {
        // u64::MAX as i64 is -1: the all-ones bit pattern, as Lit expects.
        Some((_, hi)) => Expr::Imm(ty, Lit::Int(hi as u64 as i64)),
        None => Expr::imm(ty, f64::INFINITY),
    }
}

/// A scalar numeric constant input as f64 (any numeric dtype), required at compile time.
pub(crate) fn const_scalar_f64(cx: &InferCx, i: usize, what: &str) -> Result<f64> {
    match cx.konst(i) {
        Some(t) if t.numel() == 1 && t.dtype.scalar().is_some() => Ok(t.get_f64(0)),
        Some(t) => Err(cx.err(format!(
            "{what} (input {i}) must be a single number, got {} of shape {:?}",
            t.dtype, t.shape
        ))),
        None => Err(cx.need_const(i, what)),
    }
}
