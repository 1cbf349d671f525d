//! Element-wise preprocessing ops of `ai.onnx.ml` (opset 1 each; no later versions):
//! - Scaler <https://onnx.ai/onnx/operators/onnx_aionnxml_Scaler.html>: `y = (x - offset) *
//!   scale` in float32 (as onnxruntime), `offset`/`scale` of length 1 or the last dim;
//!   output float32.
//! - Normalizer <https://onnx.ai/onnx/operators/onnx_aionnxml_Normalizer.html>: per row of
//!   a rank-1 or rank-2 input, MAX (`x / max(row)`), L1 (`x / sum|x|`), L2
//!   (`sign(x) * sqrt(x^2 / sum x^2)`, onnxruntime's formula); a zero divisor leaves the row
//!   unchanged (onnxruntime). Accumulation in float32, in index order; output float32.
//! - Binarizer <https://onnx.ai/onnx/operators/onnx_aionnxml_Binarizer.html>: `x > threshold ?
//!   1 : 0` in the input type (NaN gives 0); integer inputs compare in float64.
//! - Imputer <https://onnx.ai/onnx/operators/onnx_aionnxml_Imputer.html>: replaces
//!   `replaced_value_*` (for floats a NaN replaced value matches NaN) by `imputed_value_*`
//!   (length 1 or the last dim); float inputs use the float attributes, int64 the int ones.

use super::{imm, to};
use crate::error::Result;
use crate::ir::TensorType;
use crate::kir::build::{self, cmp, select};
use crate::kir::{BinOp, CmpOp, Expr, Scalar, UnOp};
use crate::lower::LowerCx;
use crate::ops::{tt, Attrs, InferCx, Op};
use crate::tensor::DType;

const IN_TYPES: &[DType] = &[DType::F32, DType::F64, DType::I64, DType::I32];

/// Check that a per-feature attribute has length 1 or the input's last dim.
fn per_feature(cx: &InferCx, len: usize, name: &str) -> Result<()> {
    let s = &cx.ty(0)?.shape;
    if len == 1 {
        return Ok(());
    }
    let last = s.last().and_then(|d| d.as_known());
    if last != Some(len as i64) {
        return Err(cx.err(format!(
            "attribute '{name}' has {len} values; it needs 1 or one per feature (last dim of \
             input {})",
            cx.shape_str(s)
        )));
    }
    Ok(())
}

/// Nested loops over `x`'s elements calling `f(kb, linear index, feature index)`.
fn each(
    kb: &mut build::KernelBuilder,
    dims: &[Expr],
    f: impl Fn(&mut build::KernelBuilder, Expr, Expr),
) {
    let c = dims.last().cloned().unwrap_or(Expr::i64(1));
    // A short, known feature count: rows loop, features unrolled, so each feature's constants
    // are immediates (no index remainder, no select chain per element).
    if let Some(cn) = c
        .as_const_i64()
        .filter(|&cn| (1..=UNROLL_FEATURES).contains(&cn))
    {
        let rows = dims[..dims.len().saturating_sub(1)]
            .iter()
            .cloned()
            .fold(Expr::i64(1), build::mul);
        kb.loop_(Expr::i64(0), rows, |kb, r| {
            let base = build::mul(r, Expr::i64(cn));
            for k in 0..cn {
                f(kb, build::add(base.clone(), Expr::i64(k)), Expr::i64(k));
            }
        });
        return;
    }
    let n = dims.iter().cloned().fold(Expr::i64(1), build::mul);
    kb.loop_(Expr::i64(0), n, |kb, i| {
        let j = build::rem(i.clone(), c);
        f(kb, i, j)
    });
}

/// Feature counts up to this are unrolled by `each`.
const UNROLL_FEATURES: i64 = 32;

/// Select a per-feature value from a list (unrolled select chain for short lists).
fn feature_value(vals: &[f64], t: Scalar, j: Expr) -> Expr {
    if vals.len() == 1 {
        return imm(t, vals[0]);
    }
    if let Some(v) = j
        .as_const_i64()
        .and_then(|k| usize::try_from(k).ok())
        .and_then(|k| vals.get(k))
    {
        return imm(t, *v);
    }
    let mut e = imm(t, vals[vals.len() - 1]);
    for k in (0..vals.len() - 1).rev() {
        e = select(
            cmp(CmpOp::Eq, j.clone(), Expr::i64(k as i64)),
            imm(t, vals[k]),
            e,
        );
    }
    e
}

#[derive(Debug)]
pub struct Scaler {
    offset: Vec<f64>,
    scale: Vec<f64>,
}

pub fn import_scaler(a: &Attrs) -> Result<Box<dyn Op>> {
    let f = |n: &str| -> Result<Vec<f64>> {
        Ok(a.floats_opt(n)?
            .unwrap_or_default()
            .into_iter()
            .map(|v| v as f64)
            .collect())
    };
    let (offset, scale) = (f("offset")?, f("scale")?);
    Ok(Box::new(Scaler {
        offset: if offset.is_empty() { vec![0.0] } else { offset },
        scale: if scale.is_empty() { vec![1.0] } else { scale },
    }))
}

impl Op for Scaler {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        cx.expect_dtype(0, IN_TYPES)?;
        per_feature(cx, self.offset.len(), "offset")?;
        per_feature(cx, self.scale.len(), "scale")?;
        Ok(vec![tt(DType::F32, cx.ty(0)?.shape.clone())])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let y = cx.output(0)?;
        let t = Scalar::F32;
        each(&mut cx.kb, &x.dims(), |kb, i, j| {
            let v = to(t, x.elem, x.load(i.clone()));
            let v = build::binary(BinOp::Sub, v, feature_value(&self.offset, t, j.clone()));
            let v = build::binary(BinOp::Mul, v, feature_value(&self.scale, t, j));
            kb.store(y.buf, i, v);
        });
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Norm {
    Max,
    L1,
    L2,
}

#[derive(Debug)]
pub struct Normalizer {
    norm: Norm,
}

pub fn import_normalizer(a: &Attrs) -> Result<Box<dyn Op>> {
    let norm = match a.string("norm", "MAX")?.as_str() {
        "MAX" => Norm::Max,
        "L1" => Norm::L1,
        "L2" => Norm::L2,
        o => return Err(a.err("norm", format!("unknown value '{o}' (MAX, L1, L2)"))),
    };
    Ok(Box::new(Normalizer { norm }))
}

impl Op for Normalizer {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        cx.expect_dtype(0, IN_TYPES)?;
        super::rows_features(cx, 0)?;
        Ok(vec![tt(DType::F32, cx.ty(0)?.shape.clone())])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let y = cx.output(0)?;
        let t = Scalar::F32;
        let (n, c) = if x.rank() == 1 {
            (Expr::i64(1), x.dim(0))
        } else {
            (x.dim(0), x.dim(1))
        };
        let norm = self.norm;
        cx.kb.loop_(Expr::i64(0), n, |kb, r| {
            let base = build::mul(r, c.clone());
            let at = |k: Expr| build::add(base.clone(), k);
            let init = if norm == Norm::Max {
                -(f32::MAX as f64)
            } else {
                0.0
            };
            let acc = kb.let_mut(t, imm(t, init));
            kb.loop_(Expr::i64(0), c.clone(), |kb, k| {
                let v = to(t, x.elem, x.load(at(k)));
                let a = Expr::Var(acc);
                let nv = match norm {
                    Norm::Max => select(cmp(CmpOp::Gt, v.clone(), a.clone()), v, a),
                    Norm::L1 => build::binary(BinOp::Add, a, build::unary(UnOp::Abs, v)),
                    Norm::L2 => {
                        build::binary(BinOp::Add, a, build::binary(BinOp::Mul, v.clone(), v))
                    }
                };
                kb.set(acc, nv);
            });
            let nz = cmp(CmpOp::Ne, Expr::Var(acc), imm(t, 0.0));
            kb.loop_(Expr::i64(0), c.clone(), |kb, k| {
                let v = kb.let_(t, to(t, x.elem, x.load(at(k.clone()))));
                let out = match norm {
                    Norm::Max | Norm::L1 => build::binary(BinOp::Div, v.clone(), Expr::Var(acc)),
                    Norm::L2 => {
                        let q = build::unary(
                            UnOp::Sqrt,
                            build::binary(
                                BinOp::Div,
                                build::binary(BinOp::Mul, v.clone(), v.clone()),
                                Expr::Var(acc),
                            ),
                        );
                        let q = kb.let_(t, q);
                        select(
                            cmp(CmpOp::Lt, v.clone(), imm(t, 0.0)),
                            build::unary(UnOp::Neg, q.clone()),
                            q,
                        )
                    }
                };
                kb.store(y.buf, at(k), select(nz.clone(), out, v));
            });
        });
        Ok(())
    }
}

#[derive(Debug)]
pub struct Binarizer {
    threshold: f64,
}

pub fn import_binarizer(a: &Attrs) -> Result<Box<dyn Op>> {
    Ok(Box::new(Binarizer {
        threshold: a.float("threshold", 0.0)? as f64,
    }))
}

impl Op for Binarizer {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let d = cx.expect_dtype(0, IN_TYPES)?;
        Ok(vec![tt(d, cx.ty(0)?.shape.clone())])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let y = cx.output(0)?;
        let t = x.elem;
        let ct = if t.is_float() { t } else { Scalar::F64 };
        let th = self.threshold;
        cx.kb.loop_(Expr::i64(0), x.numel(), |kb, i| {
            let v = to(ct, t, x.load(i.clone()));
            let b = cmp(CmpOp::Gt, v, imm(ct, th));
            kb.store(y.buf, i, select(b, imm(t, 1.0), imm(t, 0.0)));
        });
        Ok(())
    }
}

#[derive(Debug)]
pub struct Imputer {
    floats: Vec<f64>,
    ints: Vec<i64>,
    replaced_f: f64,
    replaced_i: i64,
}

pub fn import_imputer(a: &Attrs) -> Result<Box<dyn Op>> {
    Ok(Box::new(Imputer {
        floats: a
            .floats_opt("imputed_value_floats")?
            .unwrap_or_default()
            .into_iter()
            .map(|v| v as f64)
            .collect(),
        ints: a.ints_opt("imputed_value_int64s")?.unwrap_or_default(),
        replaced_f: a.float("replaced_value_float", 0.0)? as f64,
        replaced_i: a.int("replaced_value_int64", 0)?,
    }))
}

impl Op for Imputer {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let d = cx.expect_dtype(0, IN_TYPES)?;
        let n = if matches!(d, DType::F32 | DType::F64) {
            if self.floats.is_empty() {
                return Err(
                    cx.err("attribute 'imputed_value_floats' is required for a float input")
                );
            }
            self.floats.len()
        } else {
            if self.ints.is_empty() {
                return Err(
                    cx.err("attribute 'imputed_value_int64s' is required for an integer input")
                );
            }
            self.ints.len()
        };
        per_feature(cx, n, "imputed_value_*")?;
        Ok(vec![tt(d, cx.ty(0)?.shape.clone())])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let y = cx.output(0)?;
        let t = x.elem;
        let (vals, rep): (Vec<f64>, f64) = if t.is_float() {
            (self.floats.clone(), self.replaced_f)
        } else {
            (
                self.ints.iter().map(|&v| v as f64).collect(),
                self.replaced_i as f64,
            )
        };
        each(&mut cx.kb, &x.dims(), |kb, i, j| {
            let v = kb.let_(t, x.load(i.clone()));
            let hit = if t.is_float() && rep.is_nan() {
                cmp(CmpOp::Ne, v.clone(), v.clone())
            } else {
                cmp(CmpOp::Eq, v.clone(), imm(t, rep))
            };
            kb.store(y.buf, i, select(hit, feature_value(&vals, t, j), v));
        });
        Ok(())
    }
}
