//! The activation functions of RNN, GRU and LSTM (`activations`, `activation_alpha`,
//! `activation_beta` attributes).
//!
//! Spec: <https://onnx.ai/onnx/operators/onnx__LSTM.html> (section "activation functions").
//!
//! - Names are matched case-insensitively (the spec writes `Sigmoid`, exporters write
//!   `sigmoid`, `tanh`...).
//! - Which alpha/beta goes to which function: when `activation_alpha` (or `_beta`) has exactly
//!   one entry per listed activation, entry `i` belongs to activation `i` (entries of functions
//!   without that parameter are unused); otherwise the entries are consumed in order by the
//!   functions that take the parameter (as onnxruntime does), and a function finding none left
//!   gets its default. Entries left over are an error.
//! - Defaults: LeakyRelu alpha 0.01, ThresholdedRelu alpha 1, HardSigmoid alpha 0.2 beta 0.5,
//!   Elu alpha 1, Affine alpha 1 beta 0, ScaledTanh alpha 1 beta 1.
//! - Formulas as the stand-alone ops: Sigmoid `1/(1+exp(-x))`; Softplus
//!   `max(x,0) + log(1+exp(-|x|))` (no overflow for large x); ThresholdedRelu `x > alpha ? x :
//!   0`; LeakyRelu / Elu select on `x < 0`; HardSigmoid `max(0, min(1, alpha*x+beta))`.

use crate::error::Result;
use crate::kir::build::{self, call, cmp, max, min, select, unary, KernelBuilder};
use crate::kir::{BinOp, CmpOp, Expr, MathFn, Scalar, UnOp};
use crate::ops::Attrs;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Act {
    Sigmoid,
    Tanh,
    Relu,
    Affine { alpha: f64, beta: f64 },
    LeakyRelu { alpha: f64 },
    ThresholdedRelu { alpha: f64 },
    ScaledTanh { alpha: f64, beta: f64 },
    HardSigmoid { alpha: f64, beta: f64 },
    Elu { alpha: f64 },
    Softsign,
    Softplus,
}

/// (takes alpha, takes beta) of a function name (lower case); None if unknown.
fn params(name: &str) -> Option<(bool, bool)> {
    Some(match name {
        "sigmoid" | "tanh" | "relu" | "softsign" | "softplus" => (false, false),
        "leakyrelu" | "thresholdedrelu" | "elu" => (true, false),
        "affine" | "scaledtanh" | "hardsigmoid" => (true, true),
        _ => return None,
    })
}

/// Hands out alpha (or beta) values to the activations in order (see the module doc).
struct Feed {
    vals: Vec<f32>,
    positional: bool,
    next: usize,
}

impl Feed {
    fn new(vals: Option<Vec<f32>>, n_acts: usize) -> Feed {
        let vals = vals.unwrap_or_default();
        Feed {
            positional: !vals.is_empty() && vals.len() == n_acts,
            vals,
            next: 0,
        }
    }
    fn take(&mut self, act_index: usize, uses: bool, default: f64) -> f64 {
        if self.positional {
            return if uses {
                self.vals[act_index] as f64
            } else {
                default
            };
        }
        if !uses {
            return default;
        }
        match self.vals.get(self.next) {
            Some(v) => {
                self.next += 1;
                *v as f64
            }
            None => default,
        }
    }
    fn leftover(&self) -> bool {
        !self.positional && self.next < self.vals.len()
    }
}

/// Parse the activation attributes. `defaults` are the functions of one direction;
/// the result has `defaults.len() * num_directions` entries (direction-major). A list of one
/// direction's functions given for a bidirectional op is used for both directions.
pub fn parse(a: &Attrs, defaults: &[Act], num_directions: usize) -> Result<Vec<Act>> {
    let names = a.strings_opt("activations")?;
    let alphas = a.floats_opt("activation_alpha")?;
    let betas = a.floats_opt("activation_beta")?;
    let per_dir = defaults.len();
    let Some(names) = names else {
        if alphas.is_some() || betas.is_some() {
            // Parameters of the default functions (which take none): nothing to apply them to.
            let which = if alphas.is_some() {
                "activation_alpha"
            } else {
                "activation_beta"
            };
            return Err(a.err(which, "given without 'activations'"));
        }
        return Ok(defaults
            .iter()
            .cycle()
            .take(per_dir * num_directions)
            .copied()
            .collect());
    };
    let names: Vec<String> = names
        .iter()
        .map(|n| String::from_utf8_lossy(n).to_ascii_lowercase())
        .collect();
    if names.len() != per_dir * num_directions && names.len() != per_dir {
        return Err(a.err(
            "activations",
            format!(
                "expected {} functions ({per_dir} per direction), got {}",
                per_dir * num_directions,
                names.len()
            ),
        ));
    }
    let n = names.len();
    let mut fa = Feed::new(alphas, n);
    let mut fb = Feed::new(betas, n);
    let mut out = vec![];
    for (i, name) in names.iter().enumerate() {
        let Some((ua, ub)) = params(name) else {
            return Err(a.err(
                "activations",
                format!(
                    "unknown activation function '{name}' (supported: Sigmoid, Tanh, Relu, \
                     Affine, LeakyRelu, ThresholdedRelu, ScaledTanh, HardSigmoid, Elu, \
                     Softsign, Softplus)"
                ),
            ));
        };
        let (da, db) = match name.as_str() {
            "leakyrelu" => (0.01, 0.0),
            "hardsigmoid" => (0.2, 0.5),
            "scaledtanh" => (1.0, 1.0),
            _ => (1.0, 0.0),
        };
        let alpha = fa.take(i, ua, da);
        let beta = fb.take(i, ub, db);
        out.push(match name.as_str() {
            "sigmoid" => Act::Sigmoid,
            "tanh" => Act::Tanh,
            "relu" => Act::Relu,
            "softsign" => Act::Softsign,
            "softplus" => Act::Softplus,
            "leakyrelu" => Act::LeakyRelu { alpha },
            "thresholdedrelu" => Act::ThresholdedRelu { alpha },
            "elu" => Act::Elu { alpha },
            "affine" => Act::Affine { alpha, beta },
            "scaledtanh" => Act::ScaledTanh { alpha, beta },
            _ => Act::HardSigmoid { alpha, beta },
        });
    }
    if fa.leftover() {
        return Err(a.err(
            "activation_alpha",
            "more values than the listed activations take",
        ));
    }
    if fb.leftover() {
        return Err(a.err(
            "activation_beta",
            "more values than the listed activations take",
        ));
    }
    if out.len() != per_dir * num_directions {
        out = out
            .iter()
            .cycle()
            .take(per_dir * num_directions)
            .copied()
            .collect();
    }
    Ok(out)
}

fn bin(op: BinOp, a: Expr, b: Expr) -> Expr {
    build::binary(op, a, b)
}

/// `f(x)` in type `t`; `x` is bound to a variable first when the formula uses it twice.
pub fn apply(kb: &mut KernelBuilder, act: Act, x: Expr, t: Scalar) -> Expr {
    let c = |v: f64| Expr::imm(t, v);
    let one = c(1.0);
    match act {
        Act::Sigmoid => bin(
            BinOp::Div,
            one.clone(),
            bin(
                BinOp::Add,
                one,
                call(MathFn::Exp, vec![unary(UnOp::Neg, x)]),
            ),
        ),
        Act::Tanh => call(MathFn::Tanh, vec![x]),
        Act::Relu => max(x, c(0.0)),
        Act::Affine { alpha, beta } => bin(BinOp::Add, bin(BinOp::Mul, c(alpha), x), c(beta)),
        Act::LeakyRelu { alpha } => {
            let x = kb.let_(t, x);
            select(
                cmp(CmpOp::Lt, x.clone(), c(0.0)),
                bin(BinOp::Mul, c(alpha), x.clone()),
                x,
            )
        }
        Act::ThresholdedRelu { alpha } => {
            let x = kb.let_(t, x);
            select(cmp(CmpOp::Gt, x.clone(), c(alpha)), x, c(0.0))
        }
        Act::ScaledTanh { alpha, beta } => bin(
            BinOp::Mul,
            c(alpha),
            call(MathFn::Tanh, vec![bin(BinOp::Mul, c(beta), x)]),
        ),
        Act::HardSigmoid { alpha, beta } => max(
            c(0.0),
            min(one, bin(BinOp::Add, bin(BinOp::Mul, c(alpha), x), c(beta))),
        ),
        Act::Elu { alpha } => {
            let x = kb.let_(t, x);
            let e = bin(
                BinOp::Mul,
                c(alpha),
                bin(BinOp::Sub, call(MathFn::Exp, vec![x.clone()]), one),
            );
            select(cmp(CmpOp::Lt, x.clone(), c(0.0)), e, x)
        }
        Act::Softsign => {
            let x = kb.let_(t, x);
            bin(
                BinOp::Div,
                x.clone(),
                bin(BinOp::Add, one, unary(UnOp::Abs, x)),
            )
        }
        Act::Softplus => {
            let x = kb.let_(t, x);
            let e = call(
                MathFn::Exp,
                vec![unary(UnOp::Neg, unary(UnOp::Abs, x.clone()))],
            );
            bin(
                BinOp::Add,
                max(x, c(0.0)),
                call(MathFn::Log, vec![bin(BinOp::Add, one, e)]),
            )
        }
    }
}
