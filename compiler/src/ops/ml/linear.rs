//! LinearClassifier <https://onnx.ai/onnx/operators/onnx_aionnxml_LinearClassifier.html> and
//! LinearRegressor <https://onnx.ai/onnx/operators/onnx_aionnxml_LinearRegressor.html>
//! (ai.onnx.ml opset 1; no later versions).
//!
//! Scores are `x · coef[t] + intercept[t]` in float32 (the input is converted to float32 first,
//! as onnxruntime does), the dot product accumulated with `Fma` in feature order, then the
//! intercept added. Input rank 1 (one row) or 2.
//!
//! LinearClassifier follows onnxruntime: the class count is the number of intercepts; with one
//! score the label is `score > 0 ? labels[1] : labels[0]` (or 1 / 0 without two labels),
//! otherwise the first maximal score's label; with one score and two `classlabels_ints` the
//! score output gets two columns `[1 - p, p]` with `p = logistic(s)` for LOGISTIC and `p = s`
//! otherwise, except PROBIT, which writes `probit(s)` and 0 (onnxruntime leaves the second
//! column unwritten and misplaces the first for more than one row). With two or more scores the post transform applies to each row.
//! With `classlabels_strings` the label output holds string ids (`ir::strings`).
//!
//! LinearRegressor: `targets` outputs per row; a single target is only transformed by PROBIT
//! (onnxruntime's rule), two or more by every transform.

use super::{post_transform, probit, Post};
use crate::error::Result;
use crate::ir::{Dim, TensorType};
use crate::kir::build::{self, cmp, fma, select};
use crate::kir::{BinOp, CmpOp, Expr, Scalar};
use crate::lower::LowerCx;
use crate::ops::{tt, Attrs, InferCx, Op};
use crate::tensor::DType;

const IN_TYPES: &[DType] = &[DType::F32, DType::F64, DType::I64, DType::I32];

#[derive(Debug)]
pub struct Linear {
    coef: Vec<f32>,
    intercepts: Vec<f32>,
    targets: usize,
    post: Post,
    /// Classifier only: integer class labels (positions for string labels).
    labels: Option<Vec<i64>>,
    /// Classifier only: string class labels.
    strings: Option<Vec<Vec<u8>>>,
}

pub fn import_classifier(a: &Attrs) -> Result<Box<dyn Op>> {
    let (labels, strings) = super::class_labels(a, "classlabels_ints")?;
    // multi_class only selects how the model was trained; scoring is the same.
    let _ = a.int("multi_class", 0)?;
    let coef = a
        .floats_opt("coefficients")?
        .ok_or_else(|| a.err("coefficients", "required attribute missing"))?;
    let intercepts = a.floats_opt("intercepts")?.unwrap_or_default();
    let targets = if intercepts.is_empty() {
        labels.len().max(1)
    } else {
        intercepts.len()
    };
    if !intercepts.is_empty() && !coef.len().is_multiple_of(targets) {
        return Err(a.err(
            "coefficients",
            format!("{} values do not split into {targets} classes", coef.len()),
        ));
    }
    if targets > 1 && !labels.is_empty() && labels.len() != targets {
        return Err(a.err(
            "classlabels_ints",
            format!("{} labels for {targets} classes", labels.len()),
        ));
    }
    Ok(Box::new(Linear {
        coef,
        intercepts,
        targets,
        post: super::post_attr(a)?,
        labels: Some(labels),
        strings,
    }))
}

pub fn import_regressor(a: &Attrs) -> Result<Box<dyn Op>> {
    let targets = a.int("targets", 1)?;
    if targets < 1 {
        return Err(a.err("targets", format!("must be >= 1, got {targets}")));
    }
    let coef = a
        .floats_opt("coefficients")?
        .ok_or_else(|| a.err("coefficients", "required attribute missing"))?;
    let intercepts = a.floats_opt("intercepts")?.unwrap_or_default();
    if !intercepts.is_empty() && intercepts.len() != targets as usize {
        return Err(a.err(
            "intercepts",
            format!("{} values for {targets} targets", intercepts.len()),
        ));
    }
    Ok(Box::new(Linear {
        coef,
        intercepts,
        targets: targets as usize,
        post: super::post_attr(a)?,
        labels: None,
        strings: None,
    }))
}

impl Linear {
    /// Classifier with one score and two labels: two score columns.
    fn second_class(&self) -> bool {
        self.targets == 1 && self.labels.as_ref().is_some_and(|l| l.len() == 2)
    }
}

impl Op for Linear {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        cx.expect_dtype(0, IN_TYPES)?;
        let (n, f) = super::rows_features(cx, 0)?;
        let f = super::known(cx, &f, "the feature count")? as usize;
        if self.coef.len() != f * self.targets {
            return Err(cx.err(format!(
                "attribute 'coefficients' has {} values; {} targets x {f} features need {}",
                self.coef.len(),
                self.targets,
                f * self.targets
            )));
        }
        let cols = if self.second_class() { 2 } else { self.targets };
        let z = tt(DType::F32, vec![n.clone(), Dim::known(cols as i64)]);
        Ok(match self.labels {
            Some(_) => vec![tt(super::label_dtype(&self.strings), vec![n]), z],
            None => vec![z],
        })
    }
    fn flops(&self, inputs: &[Option<&TensorType>], _: &[&TensorType]) -> Dim {
        inputs
            .first()
            .copied()
            .flatten()
            .map_or(Dim::known(0), |t| {
                crate::ir::dim::numel(&t.shape).scale(2 * self.targets as i64)
            })
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let classifier = self.labels.is_some();
        let labels = match &self.labels {
            Some(l) => Some(super::label_values(cx, l, &self.strings)?),
            None => None,
        };
        let (yl, z) = if classifier {
            (cx.outs.first().cloned().flatten(), cx.output(1)?)
        } else {
            (None, cx.output(0)?)
        };
        let t = Scalar::F32;
        let (n, f) = if x.rank() == 1 {
            (Expr::i64(1), x.shape[0].as_known().unwrap_or(0))
        } else {
            (x.dim(0), x.shape[1].as_known().unwrap_or(0))
        };
        let k = self.targets;
        let cols = if self.second_class() { 2 } else { k };
        cx.kb.loop_(Expr::i64(0), n, |kb, r| {
            let base = build::mul(r.clone(), Expr::i64(f));
            let mut s = vec![];
            for c in 0..k {
                let acc = kb.let_mut(t, Expr::imm(t, 0.0));
                for j in 0..f as usize {
                    let xv = super::to(
                        t,
                        x.elem,
                        x.load(build::add(base.clone(), Expr::i64(j as i64))),
                    );
                    let w = Expr::imm(t, self.coef[c * f as usize + j] as f64);
                    kb.set(acc, fma(xv, w, Expr::Var(acc)));
                }
                let b = self.intercepts.get(c).copied().unwrap_or(0.0) as f64;
                s.push(kb.let_(
                    t,
                    build::binary(BinOp::Add, Expr::Var(acc), Expr::imm(t, b)),
                ));
            }
            if let (Some(yl), Some(labels)) = (&yl, &labels) {
                let label = if k == 1 {
                    let (pos, neg) = if labels.len() == 2 {
                        (labels[1], labels[0])
                    } else {
                        (1, 0)
                    };
                    select(
                        cmp(CmpOp::Gt, s[0].clone(), Expr::imm(t, 0.0)),
                        Expr::i64(pos),
                        Expr::i64(neg),
                    )
                } else {
                    let mut best = s[0].clone();
                    let mut arg = Expr::i64(labels.first().copied().unwrap_or(0));
                    for (c, sc) in s.iter().enumerate().skip(1) {
                        let gt = kb.let_(Scalar::Bool, cmp(CmpOp::Gt, sc.clone(), best.clone()));
                        let lab = labels.get(c).copied().unwrap_or(c as i64);
                        arg = kb.let_(Scalar::I64, select(gt.clone(), Expr::i64(lab), arg));
                        best = kb.let_(t, select(gt, sc.clone(), best));
                    }
                    arg
                };
                kb.store(yl.buf, r.clone(), super::to(yl.elem, Scalar::I64, label));
            }
            let out: Vec<Expr> = if k >= 2 {
                post_transform(kb, t, self.post, &s)
            } else if self.post == Post::Probit {
                let p = probit(kb, t, s[0].clone());
                if cols == 2 {
                    vec![p, Expr::imm(t, 0.0)]
                } else {
                    vec![p]
                }
            } else if cols == 2 {
                let p = if self.post == Post::Logistic {
                    super::logistic(kb, t, s[0].clone())
                } else {
                    s[0].clone()
                };
                vec![build::binary(BinOp::Sub, Expr::imm(t, 1.0), p.clone()), p]
            } else {
                s
            };
            for (c, v) in out.into_iter().enumerate() {
                let i = build::add(
                    build::mul(r.clone(), Expr::i64(cols as i64)),
                    Expr::i64(c as i64),
                );
                kb.store(z.buf, i, v);
            }
        });
        Ok(())
    }
}
