//! Unary math ops without attributes (except IsInf's flags).
//!
//! Specs: <https://onnx.ai/onnx/operators/onnx__Sin.html> (and `onnx__<Op>.html` for each op).
//!
//! - Sin, Cos, Tan, Asin, Acos, Atan (opset 7, 22), Sinh, Cosh, Asinh, Acosh, Atanh (9, 22):
//!   float32/float64 through the shim (22 only added bfloat16). Out-of-domain inputs give NaN.
//! - Erf (9, 13): floats through the shim; opset 9 also allows integers: they are computed in
//!   f64 and converted back with kir's saturating cast (so the result is -1, 0 or 1). Opset 13
//!   is floats only.
//! - Floor, Ceil (1, 6, 13), Reciprocal (1, 6, 13): floats; opset 1's `consumed_inputs` is a
//!   legacy hint and is ignored. Reciprocal(0) = inf with the sign of the zero.
//! - Round (11, 22): ties to even (kir `Round`).
//! - Sign (9, 13): every numeric type; -1, 0 or 1, NaN stays NaN and zeros keep their sign.
//! - IsNaN (9, 13, 20), IsInf (10, 20: `detect_negative`, `detect_positive`): floats → bool.
//! - Not (1): bool. BitwiseNot (18): integers (all bits flipped).

use super::{imm, lower_inputs, INTS};
use crate::error::Result;
use crate::ir::TensorType;
use crate::kir::build::{self, cast, cmp, select, unary};
use crate::kir::{BinOp, CmpOp, Expr, MathFn, Scalar, UnOp};
use crate::lower::LowerCx;
use crate::ops::{tt, Attrs, InferCx, Op, FLOATS, NUMERIC};
use crate::tensor::DType;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fun {
    /// A shim function of one argument.
    Math(MathFn),
    Floor,
    Ceil,
    Round,
    Sign,
    Reciprocal,
    IsNaN,
    IsInf {
        neg: bool,
        pos: bool,
    },
    Not,
    BitwiseNot,
}

#[derive(Debug)]
pub struct Unary(pub Fun);

pub fn import(a: &Attrs) -> Result<Box<dyn Op>> {
    let n = a.node();
    if n.opset < 6 {
        // Legacy in-place hint of opset 1 (Floor, Ceil, Reciprocal).
        a.ignore("consumed_inputs");
    }
    let f = match n.op_type.as_str() {
        "Sin" => Fun::Math(MathFn::Sin),
        "Cos" => Fun::Math(MathFn::Cos),
        "Tan" => Fun::Math(MathFn::Tan),
        "Asin" => Fun::Math(MathFn::Asin),
        "Acos" => Fun::Math(MathFn::Acos),
        "Atan" => Fun::Math(MathFn::Atan),
        "Sinh" => Fun::Math(MathFn::Sinh),
        "Cosh" => Fun::Math(MathFn::Cosh),
        "Asinh" => Fun::Math(MathFn::Asinh),
        "Acosh" => Fun::Math(MathFn::Acosh),
        "Atanh" => Fun::Math(MathFn::Atanh),
        "Erf" => Fun::Math(MathFn::Erf),
        "Floor" => Fun::Floor,
        "Ceil" => Fun::Ceil,
        "Round" => Fun::Round,
        "Sign" => Fun::Sign,
        "Reciprocal" => Fun::Reciprocal,
        "IsNaN" => Fun::IsNaN,
        "IsInf" => Fun::IsInf {
            neg: flag(a, "detect_negative")?,
            pos: flag(a, "detect_positive")?,
        },
        "Not" => Fun::Not,
        "BitwiseNot" => Fun::BitwiseNot,
        other => return Err(a.err("op", format!("{other} is not a unary math op"))),
    };
    Ok(Box::new(Unary(f)))
}

/// A 0/1 attribute defaulting to 1.
fn flag(a: &Attrs, name: &str) -> Result<bool> {
    match a.int(name, 1)? {
        0 => Ok(false),
        1 => Ok(true),
        v => Err(a.err(name, format!("must be 0 or 1, got {v}"))),
    }
}

/// The scalar function on a value `x` of type `t`.
pub fn apply(f: Fun, t: Scalar, x: Expr) -> Expr {
    match f {
        Fun::Math(m) if t.is_float() => build::call(m, vec![x]),
        Fun::Math(m) => cast(t, build::call(m, vec![cast(Scalar::F64, x)])),
        Fun::Floor => unary(UnOp::Floor, x),
        Fun::Ceil => unary(UnOp::Ceil, x),
        Fun::Round => unary(UnOp::Round, x),
        Fun::Sign => select(
            cmp(CmpOp::Gt, x.clone(), imm(t, 0.0)),
            imm(t, 1.0),
            select(cmp(CmpOp::Lt, x.clone(), imm(t, 0.0)), imm(t, -1.0), x),
        ),
        Fun::Reciprocal => build::binary(BinOp::Div, imm(t, 1.0), x),
        Fun::IsNaN => cmp(CmpOp::Ne, x.clone(), x),
        Fun::IsInf { neg, pos } => {
            let mut r = Expr::imm(Scalar::Bool, 0.0);
            if pos {
                r = build::or(r, cmp(CmpOp::Eq, x.clone(), imm(t, f64::INFINITY)));
            }
            if neg {
                r = build::or(r, cmp(CmpOp::Eq, x, imm(t, f64::NEG_INFINITY)));
            }
            r
        }
        Fun::Not | Fun::BitwiseNot => unary(UnOp::Not, x),
    }
}

impl Op for Unary {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let allowed: &[DType] = match self.0 {
            Fun::Math(MathFn::Erf) if cx.node.opset < 13 => NUMERIC,
            Fun::Sign => NUMERIC,
            Fun::Not => &[DType::Bool],
            Fun::BitwiseNot => INTS,
            _ => FLOATS,
        };
        let d = cx.expect_dtype(0, allowed)?;
        let out = match self.0 {
            Fun::IsNaN | Fun::IsInf { .. } => DType::Bool,
            _ => d,
        };
        Ok(vec![tt(out, cx.ty(0)?.shape.clone())])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let t = cx.input(0)?.elem;
        let f = self.0;
        lower_inputs(cx, &[0], |_, a| apply(f, t, a[0].clone()))
    }
}
