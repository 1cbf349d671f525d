//! Element-wise math, comparison, logical, bitwise and activation ops.
//!
//! Every op here is "broadcast some inputs and apply a scalar function": `infer_map` checks the
//! inputs and computes the broadcast output shape, `lower_map` emits the loop nest that loads
//! each input (broadcast, bound to a variable so it is read once) and stores the function's
//! value. Each op file only says which types it takes and what its scalar function is.

pub mod activation;
pub mod binary;
pub mod castlike;
pub mod clip;
pub mod dropout;
pub mod unary;
pub mod variadic;
pub mod where_op;

use super::broadcast;
use super::InferCx;
use crate::error::Result;
use crate::ir::Dim;
use crate::kir::build::{self, KernelBuilder};
use crate::kir::{Expr, Scalar};
use crate::lower::{LowerCx, TensorRef};
use crate::tensor::DType;

crate::ops_table! { pub OPS:
    "" "Acos" since 7 => unary::import,
    "" "Acosh" since 9 => unary::import,
    "" "And" since 1 => binary::import,
    "" "Asin" since 7 => unary::import,
    "" "Asinh" since 9 => unary::import,
    "" "Atan" since 7 => unary::import,
    "" "Atanh" since 9 => unary::import,
    "" "BitShift" since 11 => binary::import,
    "" "BitwiseAnd" since 18 => binary::import,
    "" "BitwiseNot" since 18 => unary::import,
    "" "BitwiseOr" since 18 => binary::import,
    "" "BitwiseXor" since 18 => binary::import,
    "" "CastLike" since 15 => castlike::import,
    "" "Ceil" since 1 => unary::import,
    "" "Celu" since 12 => activation::import,
    "" "Clip" since 1 => clip::import,
    "" "Cos" since 7 => unary::import,
    "" "Cosh" since 9 => unary::import,
    "" "Dropout" since 1 => dropout::import,
    "" "Elu" since 1 => activation::import,
    "" "Equal" since 1 => binary::import,
    "" "Erf" since 9 => unary::import,
    "" "Floor" since 1 => unary::import,
    "" "Gelu" since 20 => activation::import,
    "" "Greater" since 1 => binary::import,
    "" "GreaterOrEqual" since 12 => binary::import,
    "" "HardSigmoid" since 1 => activation::import,
    "" "HardSwish" since 14 => activation::import,
    "" "IsInf" since 10 => unary::import,
    "" "IsNaN" since 9 => unary::import,
    "" "LeakyRelu" since 1 => activation::import,
    "" "Less" since 1 => binary::import,
    "" "LessOrEqual" since 12 => binary::import,
    "" "Max" since 1 => variadic::import,
    "" "Mean" since 1 => variadic::import,
    "" "Min" since 1 => variadic::import,
    "" "Mish" since 18 => activation::import,
    "" "Mod" since 10 => binary::import,
    "" "Not" since 1 => unary::import,
    "" "Or" since 1 => binary::import,
    "" "PRelu" since 1 => binary::import,
    "" "Reciprocal" since 1 => unary::import,
    "" "Round" since 11 => unary::import,
    "" "Selu" since 1 => activation::import,
    "" "Shrink" since 9 => activation::import,
    "" "Sign" since 9 => unary::import,
    "" "Sin" since 7 => unary::import,
    "" "Sinh" since 9 => unary::import,
    "" "Softplus" since 1 => activation::import,
    "" "Softsign" since 1 => activation::import,
    "" "Sum" since 1 => variadic::import,
    "" "Tan" since 7 => unary::import,
    "" "ThresholdedRelu" since 10 => activation::import,
    "" "Where" since 9 => where_op::import,
    "" "Xor" since 1 => binary::import,
}

/// Signed integer dtypes.
pub const SIGNED_INTS: &[DType] = &[DType::I8, DType::I16, DType::I32, DType::I64];
/// Integer dtypes (signed and unsigned).
pub const INTS: &[DType] = &[
    DType::I8,
    DType::I16,
    DType::I32,
    DType::I64,
    DType::U8,
    DType::U16,
    DType::U32,
    DType::U64,
];

/// Input `ins[0]` must have a dtype in `allowed`; every other input in `ins` the same dtype.
pub fn same_dtype(cx: &InferCx, ins: &[usize], allowed: &[DType]) -> Result<DType> {
    let d = cx.expect_dtype(ins[0], allowed)?;
    for &i in &ins[1..] {
        let di = cx.ty(i)?.dtype;
        if di != d {
            return Err(cx.err(format!(
                "input {i} has element type {di}, input {} has {d}; they must be equal",
                ins[0]
            )));
        }
    }
    Ok(d)
}

/// The broadcast shape of inputs `ins` (all required).
pub fn bcast_shape(cx: &InferCx, ins: &[usize]) -> Result<Vec<Dim>> {
    let shapes: Vec<&[Dim]> = ins
        .iter()
        .map(|&i| cx.ty(i).map(|t| t.shape.as_slice()))
        .collect::<Result<_>>()?;
    broadcast::broadcast_shapes(cx, &shapes)
}

/// Emit `out[idx] = f(in_0[idx], in_1[idx], ...)` over the output's shape, every input
/// broadcast to it. Each input element is loaded once into a variable before `f` runs, so `f`
/// may use its arguments several times (and may declare more variables with `kb.let_`).
pub fn lower_map(
    kb: &mut KernelBuilder,
    ins: &[TensorRef],
    out: &TensorRef,
    f: impl Fn(&mut KernelBuilder, &[Expr]) -> Expr,
) {
    kb.loops(&out.dims(), |kb, idx| {
        let args: Vec<Expr> = ins
            .iter()
            .map(|x| {
                let v = broadcast::load(x, idx);
                kb.let_(x.elem, v)
            })
            .collect();
        let v = f(kb, &args);
        kb.store(out.buf, build::linear(idx, &out.strides()), v);
    });
}

/// `lower_map` over the inputs `ins` of the node and its output 0.
pub fn lower_inputs(
    cx: &mut LowerCx,
    ins: &[usize],
    f: impl Fn(&mut KernelBuilder, &[Expr]) -> Expr,
) -> Result<()> {
    let xs: Vec<TensorRef> = ins.iter().map(|&i| cx.input(i)).collect::<Result<_>>()?;
    let y = cx.output(0)?;
    lower_map(&mut cx.kb, &xs, &y, f);
    Ok(())
}

/// A literal of type `t`.
pub fn imm(t: Scalar, v: f64) -> Expr {
    Expr::imm(t, v)
}

#[cfg(test)]
mod tests;
