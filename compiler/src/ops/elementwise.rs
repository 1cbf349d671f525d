//! Element-wise ops.
//!
//! Unary (opset 6, 13; 13 only widened types): Relu, Sigmoid, Tanh, Exp, Log, Sqrt, Neg, Abs.
//! <https://onnx.ai/onnx/operators/> — Relu(NaN) = NaN (kir `max` propagates NaN); Sigmoid is
//! `1 / (1 + exp(-x))`, which saturates to 0 and 1 without overflow traps; Exp, Log and Tanh
//! call the shim; Sqrt of a negative is NaN.
//!
//! Binary (opset 7, 13, 14): Add, Sub, Mul, Div, Pow with multidirectional broadcasting.
//! Integer Div truncates toward zero and gives 0 for a zero divisor (kir semantics; ONNX
//! leaves it undefined). Pow (opset 7, 12, 13, 15) allows an exponent of another numeric type:
//! it is cast to the base type; integer Pow computes in f64 and converts back (exact while the
//! result fits in 53 bits).

use super::broadcast;
use super::{tt, Attrs, InferCx, Op, FLOATS, NUMERIC};
use crate::error::Result;
use crate::ir::TensorType;
use crate::kir::build::{self, cast, unary};
use crate::kir::{BinOp, Expr, MathFn, Scalar, UnOp};
use crate::lower::LowerCx;
use crate::tensor::DType;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Unary {
    Relu,
    Sigmoid,
    Tanh,
    Exp,
    Log,
    Sqrt,
    Neg,
    Abs,
    /// Only in fused chains (`passes::eltwise`) of float values; the Erf op itself is
    /// `ops::math::unary`.
    Erf,
}

#[derive(Debug)]
pub struct UnaryOp(pub Unary);

pub fn import_unary(a: &Attrs) -> Result<Box<dyn Op>> {
    let n = a.node();
    if n.opset < 6 {
        // consumed_inputs (legacy) only existed before opset 6.
        a.ignore("consumed_inputs");
    }
    let u = match n.op_type.as_str() {
        "Relu" => Unary::Relu,
        "Sigmoid" => Unary::Sigmoid,
        "Tanh" => Unary::Tanh,
        "Exp" => Unary::Exp,
        "Log" => Unary::Log,
        "Sqrt" => Unary::Sqrt,
        "Neg" => Unary::Neg,
        "Abs" => Unary::Abs,
        other => return Err(a.err("op", format!("{other} is not a unary op"))),
    };
    Ok(Box::new(UnaryOp(u)))
}

/// The scalar function of a unary op on a value of type `t`.
pub fn apply_unary(u: Unary, t: Scalar, x: Expr) -> Expr {
    let zero = Expr::imm(t, 0.0);
    match u {
        Unary::Relu => build::max(x, zero),
        Unary::Sigmoid => {
            let one = Expr::imm(t, 1.0);
            build::binary(
                BinOp::Div,
                one.clone(),
                build::binary(
                    BinOp::Add,
                    one,
                    build::call(MathFn::Exp, vec![unary(UnOp::Neg, x)]),
                ),
            )
        }
        Unary::Tanh => build::call(MathFn::Tanh, vec![x]),
        Unary::Exp => build::call(MathFn::Exp, vec![x]),
        Unary::Log => build::call(MathFn::Log, vec![x]),
        Unary::Sqrt => unary(UnOp::Sqrt, x),
        Unary::Neg => unary(UnOp::Neg, x),
        Unary::Abs => unary(UnOp::Abs, x),
        Unary::Erf => build::call(MathFn::Erf, vec![x]),
    }
}

impl Op for UnaryOp {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let allowed: &[DType] = match self.0 {
            Unary::Relu | Unary::Neg | Unary::Abs => {
                if self.0 == Unary::Abs {
                    NUMERIC
                } else {
                    &[
                        DType::F32,
                        DType::F64,
                        DType::I8,
                        DType::I16,
                        DType::I32,
                        DType::I64,
                    ]
                }
            }
            _ => FLOATS,
        };
        let d = cx.expect_dtype(0, allowed)?;
        Ok(vec![tt(d, cx.ty(0)?.shape.clone())])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let y = cx.output(0)?;
        let u = self.0;
        cx.kb.loop_(Expr::i64(0), y.numel(), |kb, i| {
            let v = apply_unary(u, x.elem, x.load(i.clone()));
            kb.store(y.buf, i, v);
        });
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Binary {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
}

#[derive(Debug)]
pub struct BinaryOp(pub Binary, pub Legacy);

/// Opsets before 7: without `broadcast` the shapes must be equal; with `broadcast=1`, B is
/// broadcast to A with its dims aligned at `axis` (default: the trailing dims).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Legacy {
    No,
    Equal,
    Axis(Option<i64>),
}

pub fn import_binary(a: &Attrs) -> Result<Box<dyn Op>> {
    let b = match a.node().op_type.as_str() {
        "Add" => Binary::Add,
        "Sub" => Binary::Sub,
        "Mul" => Binary::Mul,
        "Div" => Binary::Div,
        "Pow" => Binary::Pow,
        other => return Err(a.err("op", format!("{other} is not a binary op"))),
    };
    let opset = a.node().opset;
    if opset < 6 {
        a.ignore("consumed_inputs");
    }
    let legacy = if opset < 7 {
        match a.int("broadcast", 0)? {
            0 if a.has("axis") => return Err(a.err("axis", "only allowed with broadcast=1")),
            0 => Legacy::Equal,
            1 => Legacy::Axis(a.int_opt("axis")?),
            v => return Err(a.err("broadcast", format!("must be 0 or 1, got {v}"))),
        }
    } else {
        Legacy::No
    };
    Ok(Box::new(BinaryOp(b, legacy)))
}

/// The scalar function of a binary op on values of type `t`.
pub fn apply_binary(b: Binary, t: Scalar, x: Expr, y: Expr) -> Expr {
    match b {
        Binary::Add => build::binary(BinOp::Add, x, y),
        Binary::Sub => build::binary(BinOp::Sub, x, y),
        Binary::Mul => build::binary(BinOp::Mul, x, y),
        Binary::Div => build::binary(BinOp::Div, x, y),
        Binary::Pow if t.is_float() => build::call(MathFn::Pow, vec![x, y]),
        Binary::Pow => cast(
            t,
            build::call(
                MathFn::Pow,
                vec![cast(Scalar::F64, x), cast(Scalar::F64, y)],
            ),
        ),
    }
}

impl Op for BinaryOp {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let allowed: &[DType] = match self.0 {
            Binary::Pow => &[DType::F32, DType::F64, DType::I32, DType::I64],
            _ => NUMERIC,
        };
        let d = cx.expect_dtype(0, allowed)?;
        if self.0 == Binary::Pow {
            cx.expect_dtype(1, NUMERIC)?;
        } else if cx.ty(1)?.dtype != d {
            return Err(cx.err(format!(
                "inputs have different element types ({d} and {})",
                cx.ty(1)?.dtype
            )));
        }
        let (sa, sb) = (&cx.ty(0)?.shape, &cx.ty(1)?.shape);
        let shape = match self.1 {
            Legacy::No => broadcast::broadcast_shapes(cx, &[sa, sb])?,
            Legacy::Equal if sa == sb => sa.clone(),
            Legacy::Equal => {
                return Err(cx.err(format!(
                    "attribute 'broadcast' is 0 but the shapes {} and {} differ",
                    cx.shape_str(sa),
                    cx.shape_str(sb)
                )))
            }
            Legacy::Axis(axis) => {
                let pb = crate::ops::math::binary::legacy_b_shape(sa, sb, axis)
                    .map_err(|m| cx.err(m))?;
                let s = broadcast::broadcast_shapes(cx, &[sa, &pb])?;
                if &s != sa {
                    return Err(cx.err(format!(
                        "legacy broadcast: B {} cannot be broadcast to A {}",
                        cx.shape_str(sb),
                        cx.shape_str(sa)
                    )));
                }
                s
            }
        };
        Ok(vec![tt(d, shape)])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let a = cx.input(0)?;
        let mut b = cx.input(1)?;
        if let Legacy::Axis(axis) = self.1 {
            b.shape = crate::ops::math::binary::legacy_b_shape(&a.shape, &b.shape, axis)
                .map_err(|m| cx.err(m))?;
        }
        let y = cx.output(0)?;
        let op = self.0;
        // f32 x^2 and x^3 with a constant exponent (GPT-2's GELU, variances): x * x (* x) in
        // f64, where x * x is exact and x^3 rounds once, then one rounding to f32 -- what the
        // pow call computes when its f64 result is correctly rounded, at the cost of two
        // multiplies. Every special case agrees (signed zeros, infinities, NaN; no f64
        // overflow or underflow from an f32).
        let cube = match cx.konst(1) {
            Some(e) if op == Binary::Pow && a.elem == Scalar::F32 && e.numel() == 1 => {
                match e.get_f64(0) {
                    2.0 => Some(false),
                    3.0 => Some(true),
                    _ => None,
                }
            }
            _ => None,
        };
        cx.kb.loops(&y.dims(), |kb, idx| {
            let xa = broadcast::load(&a, idx);
            let mut xb = broadcast::load(&b, idx);
            if b.elem != a.elem {
                xb = cast(a.elem, xb);
            }
            let v = match cube {
                Some(cube) => {
                    let xd = cast(Scalar::F64, xa);
                    let mut p = build::binary(BinOp::Mul, xd.clone(), xd.clone());
                    if cube {
                        p = build::binary(BinOp::Mul, p, xd);
                    }
                    cast(Scalar::F32, p)
                }
                None => apply_binary(op, a.elem, xa, xb),
            };
            kb.store(y.buf, build::linear(idx, &y.strides()), v);
        });
        Ok(())
    }
}
