//! Quantization ops (QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, MatMulInteger,
//! ConvInteger, QLinearMatMul, QLinearConv) and a few ops that were still missing from the
//! registry (Hardmax, CumProd, Scatter, Upsample, EyeLike, Det, GlobalLpPool,
//! MeanVarianceNormalization, NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss).
//!
//! Shared decisions: quantized values round half to even (`UnOp::Round`) and saturate to the
//! target type's range; 4-bit, 2-bit and float8/float4 types have no storage in Kiln yet and
//! are rejected with an error naming the type.

pub mod det;
pub mod eyelike;
pub mod hardmax;
pub mod legacy;
pub mod loss;
pub mod mvn;
pub mod qconv;
pub mod qmatmul;
pub mod quantize;

#[cfg(test)]
mod tests;

use crate::error::Result;
use crate::kir::build;
use crate::kir::{Expr, Scalar};
use crate::ops::InferCx;
use crate::tensor::DType;

crate::ops_table! { pub OPS:
    "" "ConvInteger" since 10 => qconv::import_integer,
    "" "CumProd" since 26 => crate::ops::tensor_ops::cumsum::import,
    "" "DequantizeLinear" since 10 => quantize::import_dequantize,
    "" "Det" since 11 => det::import,
    "" "DynamicQuantizeLinear" since 11 => quantize::import_dynamic,
    "" "EyeLike" since 9 => eyelike::import,
    "" "GlobalLpPool" since 1 => mvn::import_global_lp,
    "" "Hardmax" since 1 => hardmax::import,
    "" "MatMulInteger" since 10 => qmatmul::import_integer,
    "" "MeanVarianceNormalization" since 9 => mvn::import_mvn,
    "" "NegativeLogLikelihoodLoss" since 12 => loss::import_nll,
    "" "QLinearConv" since 10 => qconv::import_qlinear,
    "" "QLinearMatMul" since 10 => qmatmul::import_qlinear,
    "" "QuantizeLinear" since 10 => quantize::import_quantize,
    "" "Scatter" since 9 => legacy::import_scatter,
    "" "SoftmaxCrossEntropyLoss" since 12 => loss::import_sce,
    "" "Upsample" since 7 => legacy::import_upsample,
}

/// 8- and 16-bit integer types a quantized tensor can have.
pub const QINTS: &[DType] = &[DType::I8, DType::U8, DType::I16, DType::U16];

/// Quantized types the spec allows that Kiln cannot store yet.
pub fn no_storage(d: DType) -> bool {
    matches!(
        d,
        DType::F8E4M3FN
            | DType::F8E4M3FNUZ
            | DType::F8E5M2
            | DType::F8E5M2FNUZ
            | DType::F8E8M0
            | DType::F4E2M1
            | DType::U4
            | DType::I4
            | DType::U2
            | DType::I2
            | DType::F16
            | DType::BF16
    )
}

/// Require input `i` to be one of `allowed`, with a clear message for types without storage.
pub fn expect_q(cx: &InferCx, i: usize, allowed: &[DType], what: &str) -> Result<DType> {
    let d = cx.ty(i)?.dtype;
    if no_storage(d) {
        return Err(cx.err(format!(
            "{what} (input {i}) has element type {d}, which Kiln cannot store yet"
        )));
    }
    cx.expect_dtype(i, allowed)
}

/// Convert `e` (of type `from`) to `to` (no-op when equal).
pub fn conv(e: Expr, from: Scalar, to: Scalar) -> Expr {
    if from == to {
        e
    } else {
        build::cast(to, e)
    }
}

/// `min(max(v, lo), hi)` on I64.
pub fn clamp_i64(v: Expr, lo: i64, hi: i64) -> Expr {
    build::min(build::max(v, Expr::i64(lo)), Expr::i64(hi))
}

/// The integer range of a quantized type as i64.
pub fn qrange(t: Scalar) -> (i64, i64) {
    let (lo, hi) = t.int_range().unwrap_or((0, 0));
    (lo as i64, hi as i64)
}

/// The dims of `dims` that are kept (not reduced) and reduced.
pub fn split_dims(dims: &[Expr], reduced: &[bool]) -> (Vec<Expr>, Vec<Expr>) {
    let pick = |want: bool| {
        dims.iter()
            .zip(reduced)
            .filter(|(_, r)| **r == want)
            .map(|(d, _)| d.clone())
            .collect()
    };
    (pick(false), pick(true))
}

/// Full multi-index from a kept index and a reduced index.
pub fn merge_idx(kept: &[Expr], red: &[Expr], reduced: &[bool]) -> Vec<Expr> {
    let (mut k, mut r) = (kept.iter(), red.iter());
    reduced
        .iter()
        .map(|is_r| {
            if *is_r {
                r.next().cloned().unwrap_or(Expr::i64(0))
            } else {
                k.next().cloned().unwrap_or(Expr::i64(0))
            }
        })
        .collect()
}
