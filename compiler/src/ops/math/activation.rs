//! Activation functions with attributes (element-wise, float32/float64 unless noted).
//!
//! Specs: <https://onnx.ai/onnx/operators/onnx__Elu.html> (and `onnx__<Op>.html` for each op).
//!
//! - HardSigmoid (1, 6, 22; alpha 0.2, beta 0.5): `max(0, min(1, alpha*x + beta))`.
//! - HardSwish (14, 22): `x * max(0, min(1, x/6 + 0.5))`.
//! - LeakyRelu (1, 6, 16; alpha 0.01): `x < 0 ? alpha*x : x`.
//! - Selu (1, 6, 22; alpha 1.67326..., gamma 1.05070...): `x > 0 ? gamma*x : gamma*(alpha*exp(x) - alpha)`.
//! - Elu (1, 6, 22; alpha 1): `x < 0 ? alpha*(exp(x) - 1) : x`.
//! - Celu (12; alpha 1): `max(0, x) + min(0, alpha*(exp(x/alpha) - 1))`.
//! - Softplus (1, 22): `log(exp(x) + 1)`, computed as `max(x, 0) + log(1 + exp(-|x|))` so
//!   that large inputs give `x` instead of overflowing to +inf (the spec's literal formula does).
//! - Softsign (1, 22): `x / (1 + |x|)`.
//! - Mish (18, 22): `x * tanh(softplus(x))` (the same overflow-free softplus).
//! - ThresholdedRelu (10, 22; alpha 1): `x > alpha ? x : 0`.
//! - Shrink (9; bias 0, lambd 0.5): `x < -lambd ? x + bias : x > lambd ? x - bias : 0`, every
//!   numeric type; integers are computed in f64 and converted back (saturating).
//! - Gelu (20; approximate "none" | "tanh"): `0.5*x*(1 + erf(x/sqrt(2)))`, or
//!   `0.5*x*(1 + tanh(sqrt(2/pi)*(x + 0.044715*x^3)))`.
//!
//! Opset 1's `consumed_inputs` (a legacy in-place hint) is ignored; later versions only added
//! types. NaN inputs give NaN (comparisons with NaN are false, so the "else" arm runs on NaN,
//! and every arm propagates it), except ThresholdedRelu and Shrink, whose "else" arm is 0 —
//! as in the reference implementation.

use super::{imm, lower_inputs};
use crate::error::Result;
use crate::ir::TensorType;
use crate::kir::build::{add, call, cast, cmp, div, max, min, mul, select, sub, unary};
use crate::kir::{CmpOp, Expr, MathFn, Scalar, UnOp};
use crate::lower::LowerCx;
use crate::ops::{tt, Attrs, InferCx, Op, FLOATS, NUMERIC};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Act {
    HardSigmoid { alpha: f64, beta: f64 },
    HardSwish,
    LeakyRelu { alpha: f64 },
    Selu { alpha: f64, gamma: f64 },
    Elu { alpha: f64 },
    Celu { alpha: f64 },
    Softplus,
    Softsign,
    Mish,
    ThresholdedRelu { alpha: f64 },
    Shrink { bias: f64, lambd: f64 },
    Gelu { tanh: bool },
}

#[derive(Debug)]
pub struct Activation(pub Act);

pub fn import(a: &Attrs) -> Result<Box<dyn Op>> {
    let n = a.node();
    let f = |name: &str, d: f32| -> Result<f64> { Ok(a.float(name, d)? as f64) };
    if n.opset < 6 {
        a.ignore("consumed_inputs");
    }
    let act = match n.op_type.as_str() {
        "HardSigmoid" => Act::HardSigmoid {
            alpha: f("alpha", 0.2)?,
            beta: f("beta", 0.5)?,
        },
        "HardSwish" => Act::HardSwish,
        "LeakyRelu" => Act::LeakyRelu {
            alpha: f("alpha", 0.01)?,
        },
        "Selu" => Act::Selu {
            alpha: f("alpha", 1.673_263_2)?,
            gamma: f("gamma", 1.050_701)?,
        },
        "Elu" => Act::Elu {
            alpha: f("alpha", 1.0)?,
        },
        "Celu" => {
            let alpha = f("alpha", 1.0)?;
            if alpha == 0.0 {
                return Err(a.err("alpha", "must not be 0"));
            }
            Act::Celu { alpha }
        }
        "Softplus" => Act::Softplus,
        "Softsign" => Act::Softsign,
        "Mish" => Act::Mish,
        "ThresholdedRelu" => Act::ThresholdedRelu {
            alpha: f("alpha", 1.0)?,
        },
        "Shrink" => Act::Shrink {
            bias: f("bias", 0.0)?,
            lambd: f("lambd", 0.5)?,
        },
        "Gelu" => {
            let s = a.string("approximate", "none")?;
            let tanh = match s.as_str() {
                "none" => false,
                "tanh" => true,
                _ => {
                    return Err(a.err(
                        "approximate",
                        format!("must be \"none\" or \"tanh\", got \"{s}\""),
                    ))
                }
            };
            Act::Gelu { tanh }
        }
        other => return Err(a.err("op", format!("{other} is not an activation"))),
    };
    Ok(Box::new(Activation(act)))
}

fn exp(x: Expr) -> Expr {
    call(MathFn::Exp, vec![x])
}

/// The activation of a float `x` of type `t`.
pub(crate) fn apply(act: Act, t: Scalar, x: Expr) -> Expr {
    let c = |v: f64| imm(t, v);
    let lt0 = |x: &Expr| cmp(CmpOp::Lt, x.clone(), c(0.0));
    match act {
        Act::HardSigmoid { alpha, beta } => {
            max(c(0.0), min(c(1.0), add(mul(c(alpha), x), c(beta))))
        }
        Act::HardSwish => mul(
            x.clone(),
            max(c(0.0), min(c(1.0), add(mul(c(1.0 / 6.0), x), c(0.5)))),
        ),
        Act::LeakyRelu { alpha } => select(lt0(&x), mul(c(alpha), x.clone()), x),
        Act::Selu { alpha, gamma } => select(
            cmp(CmpOp::Gt, x.clone(), c(0.0)),
            mul(c(gamma), x.clone()),
            mul(c(gamma), sub(mul(c(alpha), exp(x)), c(alpha))),
        ),
        Act::Elu { alpha } => select(lt0(&x), mul(c(alpha), sub(exp(x.clone()), c(1.0))), x),
        Act::Celu { alpha } => add(
            max(c(0.0), x.clone()),
            min(c(0.0), mul(c(alpha), sub(exp(div(x, c(alpha))), c(1.0)))),
        ),
        Act::Softplus => softplus(t, x),
        Act::Softsign => div(x.clone(), add(c(1.0), unary(UnOp::Abs, x))),
        Act::Mish => mul(x.clone(), call(MathFn::Tanh, vec![softplus(t, x)])),
        Act::ThresholdedRelu { alpha } => select(cmp(CmpOp::Gt, x.clone(), c(alpha)), x, c(0.0)),
        Act::Shrink { bias, lambd } => select(
            cmp(CmpOp::Lt, x.clone(), c(-lambd)),
            add(x.clone(), c(bias)),
            select(cmp(CmpOp::Gt, x.clone(), c(lambd)), sub(x, c(bias)), c(0.0)),
        ),
        Act::Gelu { tanh: false } => mul(
            mul(c(0.5), x.clone()),
            add(
                c(1.0),
                call(
                    MathFn::Erf,
                    vec![mul(x, c(std::f64::consts::FRAC_1_SQRT_2))],
                ),
            ),
        ),
        Act::Gelu { tanh: true } => {
            let k = (2.0 / std::f64::consts::PI).sqrt();
            let cube = mul(mul(x.clone(), x.clone()), x.clone());
            let inner = mul(c(k), add(x.clone(), mul(c(0.044715), cube)));
            mul(mul(c(0.5), x), add(c(1.0), call(MathFn::Tanh, vec![inner])))
        }
    }
}

/// `log(1 + exp(x))` as `max(x, 0) + log(1 + exp(-|x|))`: the same function without the
/// overflow of `exp(x)` (so large `x` gives `x`, not +inf).
fn softplus(t: Scalar, x: Expr) -> Expr {
    let e = exp(unary(UnOp::Neg, unary(UnOp::Abs, x.clone())));
    add(
        max(x, imm(t, 0.0)),
        call(MathFn::Log, vec![add(imm(t, 1.0), e)]),
    )
}

impl Op for Activation {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let allowed = match self.0 {
            Act::Shrink { .. } => NUMERIC,
            _ => FLOATS,
        };
        let d = cx.expect_dtype(0, allowed)?;
        Ok(vec![tt(d, cx.ty(0)?.shape.clone())])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let t = cx.input(0)?.elem;
        let act = self.0;
        lower_inputs(cx, &[0], |kb, a| {
            if t.is_float() {
                apply(act, t, a[0].clone())
            } else {
                let xf = kb.let_(Scalar::F64, cast(Scalar::F64, a[0].clone()));
                cast(t, apply(act, Scalar::F64, xf))
            }
        })
    }
}
