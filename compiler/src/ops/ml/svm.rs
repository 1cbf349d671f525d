//! SVMClassifier <https://onnx.ai/onnx/operators/onnx_aionnxml_SVMClassifier.html> and
//! SVMRegressor <https://onnx.ai/onnx/operators/onnx_aionnxml_SVMRegressor.html> (ai.onnx.ml
//! opset 1; no later versions), following onnxruntime's `svmclassifier.cc` /
//! `svmregressor.cc`.
//!
//! The input is converted to float32. Kernels `k(x, v)`: LINEAR `x·v`, POLY
//! `(gamma x·v + coef0)^degree`, RBF `exp(-gamma |x - v|^2)`, SIGMOID `tanh(gamma x·v + coef0)`
//! (`kernel_params = [gamma, coef0, degree]`), dot products accumulated with `Fma` in feature
//! order. The support vectors and coefficients are compile-time constants, so every kernel is
//! unrolled over the features.
//!
//! SVMClassifier: with no support vectors (liblinear mode) the scores are `x·coef[c] + rho[0]`
//! per class, the label is the first maximal score's (two classes: onnxruntime's
//! `ChooseClass` thresholds). With support vectors (libsvm mode) every class pair (i, j) gets
//! `sum(coef[j-1][sv_i] k_i) + sum(coef[i][sv_j] k_j) + rho[pair]` (products in float32,
//! summed in float64), a vote goes to i when it is > 0, else to j, and the label is the first
//! class with the most votes. Scores: without `prob_a` the pair scores (two classes: `[-s, s]`
//! with post transform NONE, else `[1 - p, p]` with `p = logistic(s)` for LOGISTIC, else `s`); with `prob_a`/`prob_b` the pairwise
//! probabilities `1 - logistic(s a + b)` clipped to [1e-7, 1 - 1e-7] go through libsvm's
//! `multiclass_probability` (at most 100 iterations, stopping when the error is below
//! `0.005 / classes`; unrolled over the classes), then the post transform.
//!
//! SVMRegressor: `sum(coef_i k(x, sv_i)) + rho[0]` (or `k(x, coef) + rho[0]` without support
//! vectors); `one_class=1` maps it to +1 / -1 (`> 0`); only PROBIT transforms the single output.

use super::{imm, logistic, post_transform, probit, to, Post};
use crate::error::Result;
use crate::ir::{Dim, TensorType};
use crate::kir::build::{self, call, cmp, fma, select, KernelBuilder};
use crate::kir::{BinOp, CmpOp, Expr, Lit, MathFn, Scalar, UnOp};
use crate::lower::LowerCx;
use crate::ops::{tt, Attrs, InferCx, Op};
use crate::tensor::DType;

const IN_TYPES: &[DType] = &[DType::F32, DType::F64, DType::I64, DType::I32];
const T: Scalar = Scalar::F32;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kernel {
    Linear,
    Poly,
    Rbf,
    Sigmoid,
}

#[derive(Debug, Clone)]
struct Common {
    kernel: Kernel,
    gamma: f32,
    coef0: f32,
    degree: f32,
}

fn common(a: &Attrs) -> Result<Common> {
    let kernel = match a.string("kernel_type", "LINEAR")?.as_str() {
        "LINEAR" => Kernel::Linear,
        "POLY" => Kernel::Poly,
        "RBF" => Kernel::Rbf,
        "SIGMOID" => Kernel::Sigmoid,
        o => {
            return Err(a.err(
                "kernel_type",
                format!("unknown value '{o}' (LINEAR, POLY, RBF, SIGMOID)"),
            ))
        }
    };
    let p = a.floats_opt("kernel_params")?.unwrap_or_default();
    if !p.is_empty() && p.len() != 3 {
        return Err(a.err(
            "kernel_params",
            format!("needs [gamma, coef0, degree], got {} values", p.len()),
        ));
    }
    let g = |i: usize| p.get(i).copied().unwrap_or(0.0);
    Ok(Common {
        kernel,
        gamma: g(0),
        coef0: g(1),
        degree: g(2),
    })
}

impl Common {
    /// `k(x, v)` with onnxruntime's GEMM form `alpha x·v + c`; `c` is `scalar_c` for LINEAR.
    fn kernel(&self, kb: &mut KernelBuilder, xs: &[Expr], v: &[f32], scalar_c: f32) -> Expr {
        if self.kernel == Kernel::Rbf {
            let mut sum = imm(T, 0.0);
            for (x, &w) in xs.iter().zip(v) {
                let d = kb.let_(T, build::binary(BinOp::Sub, x.clone(), imm(T, w as f64)));
                sum = kb.let_(T, fma(d.clone(), d, sum));
            }
            let e = build::binary(BinOp::Mul, imm(T, -(self.gamma as f64)), sum);
            return kb.let_(T, call(MathFn::Exp, vec![e]));
        }
        let mut dot = imm(T, 0.0);
        for (x, &w) in xs.iter().zip(v) {
            dot = kb.let_(T, fma(x.clone(), imm(T, w as f64), dot));
        }
        let (alpha, c) = if self.kernel == Kernel::Linear {
            (1.0, scalar_c)
        } else {
            (self.gamma, self.coef0)
        };
        let mut g = dot;
        if alpha != 1.0 {
            g = build::binary(BinOp::Mul, imm(T, alpha as f64), g);
        }
        if c != 0.0 {
            g = build::binary(BinOp::Add, g, imm(T, c as f64));
        }
        let g = kb.let_(T, g);
        match self.kernel {
            Kernel::Poly => {
                let mul = |a: Expr, b: Expr| build::binary(BinOp::Mul, a, b);
                if self.degree == 2.0 {
                    kb.let_(T, mul(g.clone(), g))
                } else if self.degree == 3.0 {
                    kb.let_(T, mul(mul(g.clone(), g.clone()), g))
                } else {
                    kb.let_(T, call(MathFn::Pow, vec![g, imm(T, self.degree as f64)]))
                }
            }
            Kernel::Sigmoid => kb.let_(T, call(MathFn::Tanh, vec![g])),
            _ => g,
        }
    }
}

/// Row `r`'s features as float32 variables.
fn load_row(
    kb: &mut KernelBuilder,
    cx_x: &crate::lower::TensorRef,
    r: &Expr,
    f: usize,
) -> Vec<Expr> {
    let base = build::mul(r.clone(), Expr::i64(f as i64));
    (0..f)
        .map(|j| {
            let v = cx_x.load(build::add(base.clone(), Expr::i64(j as i64)));
            kb.let_(T, to(T, cx_x.elem, v))
        })
        .collect()
}

fn features(cx: &InferCx) -> Result<(Dim, usize)> {
    cx.expect_dtype(0, IN_TYPES)?;
    let (n, f) = super::rows_features(cx, 0)?;
    let f = super::known(cx, &f, "the feature count")? as usize;
    Ok((n, f))
}

#[derive(Debug)]
pub struct SvmClassifier {
    k: Common,
    labels: Vec<i64>,
    /// String class labels (`labels` then holds their positions).
    strings: Option<Vec<Vec<u8>>>,
    coef: Vec<f32>,
    rho: Vec<f32>,
    prob_a: Vec<f32>,
    prob_b: Vec<f32>,
    sv: Vec<f32>,
    per_class: Vec<usize>,
    post: Post,
}

pub fn import_classifier(a: &Attrs) -> Result<Box<dyn Op>> {
    let (labels, strings) = super::class_labels(a, "classlabels_ints")?;
    if labels.len() < 2 {
        return Err(a.err(
            "classlabels_ints",
            format!("needs at least 2 class labels, got {}", labels.len()),
        ));
    }
    let f = |n: &str| -> Result<Vec<f32>> { Ok(a.floats_opt(n)?.unwrap_or_default()) };
    let per_class: Vec<usize> = a
        .ints_opt("vectors_per_class")?
        .unwrap_or_default()
        .iter()
        .map(|&v| usize::try_from(v).map_err(|_| a.err("vectors_per_class", "negative count")))
        .collect::<Result<_>>()?;
    let mut k = common(a)?;
    let e = SvmClassifier {
        coef: f("coefficients")?,
        rho: f("rho")?,
        prob_a: f("prob_a")?,
        prob_b: f("prob_b")?,
        sv: f("support_vectors")?,
        post: super::post_attr(a)?,
        k: k.clone(),
        labels,
        strings,
        per_class,
    };
    let cc = e.labels.len();
    let nsv: usize = e.per_class.iter().sum();
    let pairs = cc * (cc - 1) / 2;
    if e.coef.is_empty() {
        return Err(a.err("coefficients", "required attribute missing"));
    }
    if e.prob_a.len() != e.prob_b.len() {
        return Err(a.err("prob_b", "prob_a and prob_b must have the same length"));
    }
    if nsv > 0 {
        if e.per_class.len() != cc {
            return Err(a.err(
                "vectors_per_class",
                format!("{} counts for {cc} classes", e.per_class.len()),
            ));
        }
        if !e.sv.len().is_multiple_of(nsv) {
            return Err(a.err(
                "support_vectors",
                format!("{} values do not split into {nsv} vectors", e.sv.len()),
            ));
        }
        if e.coef.len() < (cc - 1) * nsv {
            return Err(a.err(
                "coefficients",
                format!(
                    "{} values; {} classes x {nsv} vectors need {}",
                    e.coef.len(),
                    cc - 1,
                    (cc - 1) * nsv
                ),
            ));
        }
        if e.rho.len() < pairs {
            return Err(a.err(
                "rho",
                format!("{} values for {pairs} class pairs", e.rho.len()),
            ));
        }
        if !e.prob_a.is_empty() && e.prob_a.len() < pairs {
            return Err(a.err(
                "prob_a",
                format!("{} values for {pairs} class pairs", e.prob_a.len()),
            ));
        }
    } else {
        if e.rho.is_empty() {
            return Err(a.err("rho", "required attribute missing"));
        }
        k.kernel = Kernel::Linear;
    }
    Ok(Box::new(SvmClassifier { k, ..e }))
}

impl SvmClassifier {
    fn nsv(&self) -> usize {
        self.per_class.iter().sum()
    }
    fn score_cols(&self) -> usize {
        let cc = self.labels.len();
        if self.nsv() > 0 && self.prob_a.is_empty() {
            if cc > 2 {
                cc * (cc - 1) / 2
            } else {
                2
            }
        } else {
            cc
        }
    }
}

impl Op for SvmClassifier {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let (n, f) = features(cx)?;
        let nsv = self.nsv();
        let want = self
            .sv
            .len()
            .checked_div(nsv)
            .unwrap_or(self.coef.len() / self.labels.len());
        if f != want || (nsv == 0 && self.coef.len() != f * self.labels.len()) {
            return Err(cx.err(format!(
                "input has {f} features; the model's support vectors / coefficients have {want}"
            )));
        }
        Ok(vec![
            tt(super::label_dtype(&self.strings), vec![n.clone()]),
            tt(DType::F32, vec![n, Dim::known(self.score_cols() as i64)]),
        ])
    }
    #[allow(clippy::needless_range_loop)] // matrix index math over classes
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let labels = super::label_values(cx, &self.labels, &self.strings)?;
        let x = cx.input(0)?;
        let yl = cx.outs.first().cloned().flatten();
        let z = cx.output(1)?;
        let n = if x.rank() == 1 {
            Expr::i64(1)
        } else {
            x.dim(0)
        };
        let f = *x
            .shape
            .last()
            .and_then(|d| d.as_known())
            .as_ref()
            .unwrap_or(&0) as usize;
        let cc = self.labels.len();
        let nsv = self.nsv();
        let cols = self.score_cols();
        cx.kb.loop_(Expr::i64(0), n, |kb, r| {
            let xs = load_row(kb, &x, &r, f);
            let store_z = |kb: &mut KernelBuilder, v: &[Expr]| {
                for (c, e) in v.iter().enumerate() {
                    let i = build::add(
                        build::mul(r.clone(), Expr::i64(cols as i64)),
                        Expr::i64(c as i64),
                    );
                    kb.store(z.buf, i, e.clone());
                }
            };
            let label = |kb: &mut KernelBuilder, l: Expr| {
                if let Some(yl) = &yl {
                    kb.store(yl.buf, r.clone(), super::to(yl.elem, Scalar::I64, l));
                }
            };
            if nsv == 0 {
                let s: Vec<Expr> = (0..cc)
                    .map(|c| {
                        self.k
                            .kernel(kb, &xs, &self.coef[c * f..(c + 1) * f], self.rho[0])
                    })
                    .collect();
                // First maximal score.
                let mut best = s[0].clone();
                let mut arg = Expr::i64(0);
                for (c, sc) in s.iter().enumerate().skip(1) {
                    let gt = kb.let_(Scalar::Bool, cmp(CmpOp::Gt, sc.clone(), best.clone()));
                    arg = kb.let_(Scalar::I64, select(gt.clone(), Expr::i64(c as i64), arg));
                    best = kb.let_(T, select(gt, sc.clone(), best));
                }
                let lab = kb.let_(Scalar::I64, label_of(&labels, arg));
                let l = if cc == 2 {
                    let all_pos = self.coef.iter().all(|&w| w >= 0.0);
                    let th = if all_pos {
                        cmp(CmpOp::Ge, best, imm(T, 0.5))
                    } else {
                        cmp(CmpOp::Gt, best, imm(T, 0.0))
                    };
                    select(th, Expr::i64(labels[1]), lab)
                } else {
                    lab
                };
                label(kb, l);
                let out = post_transform(kb, T, self.post, &s);
                store_z(kb, &out);
                return;
            }
            // libsvm mode.
            let kern: Vec<Expr> = (0..nsv)
                .map(|v| self.k.kernel(kb, &xs, &self.sv[v * f..(v + 1) * f], 0.0))
                .collect();
            let start: Vec<usize> = self
                .per_class
                .iter()
                .scan(0, |acc, &c| {
                    let s = *acc;
                    *acc += c;
                    Some(s)
                })
                .collect();
            let mut votes: Vec<Expr> = vec![Expr::i64(0); cc];
            let mut pair = vec![];
            let mut idx = 0;
            for i in 0..cc - 1 {
                for j in i + 1..cc {
                    let mut sum = Expr::imm(Scalar::F64, 0.0);
                    for (cls, row) in [(i, j - 1), (j, i)] {
                        for m in 0..self.per_class[cls] {
                            let v = start[cls] + m;
                            let p = build::binary(
                                BinOp::Mul,
                                imm(T, self.coef[row * nsv + v] as f64),
                                kern[v].clone(),
                            );
                            sum = kb.let_(
                                Scalar::F64,
                                build::binary(BinOp::Add, sum, build::cast(Scalar::F64, p)),
                            );
                        }
                    }
                    let sum = kb.let_(
                        Scalar::F64,
                        build::binary(
                            BinOp::Add,
                            sum,
                            Expr::imm(Scalar::F64, self.rho[idx] as f64),
                        ),
                    );
                    let pos = kb.let_(
                        Scalar::Bool,
                        cmp(CmpOp::Gt, sum.clone(), Expr::imm(Scalar::F64, 0.0)),
                    );
                    let one = |b: Expr| select(b, Expr::i64(1), Expr::i64(0));
                    votes[i] = kb.let_(Scalar::I64, build::add(votes[i].clone(), one(pos.clone())));
                    votes[j] = kb.let_(
                        Scalar::I64,
                        build::add(votes[j].clone(), one(build::unary(UnOp::Not, pos))),
                    );
                    pair.push(kb.let_(T, build::cast(T, sum)));
                    idx += 1;
                }
            }
            let mut best = votes[0].clone();
            let mut arg = Expr::i64(0);
            for (c, v) in votes.iter().enumerate().skip(1) {
                let gt = kb.let_(Scalar::Bool, cmp(CmpOp::Gt, v.clone(), best.clone()));
                arg = kb.let_(Scalar::I64, select(gt.clone(), Expr::i64(c as i64), arg));
                best = kb.let_(Scalar::I64, select(gt, v.clone(), best));
            }
            let l = kb.let_(Scalar::I64, label_of(&labels, arg));
            label(kb, l);
            if self.prob_a.is_empty() {
                let out = if cc > 2 {
                    post_transform(kb, T, self.post, &pair)
                } else if self.post == Post::Probit {
                    vec![probit(kb, T, pair[0].clone()), imm(T, 0.0)]
                } else if self.post == Post::None {
                    vec![build::unary(UnOp::Neg, pair[0].clone()), pair[0].clone()]
                } else {
                    let p = if self.post == Post::Logistic {
                        logistic(kb, T, pair[0].clone())
                    } else {
                        pair[0].clone()
                    };
                    vec![build::binary(BinOp::Sub, imm(T, 1.0), p.clone()), p]
                };
                store_z(kb, &out);
            } else {
                let mut rm = vec![vec![imm(T, 0.0); cc]; cc];
                let mut k = 0;
                for i in 0..cc - 1 {
                    for j in i + 1..cc {
                        let v = build::binary(
                            BinOp::Add,
                            build::binary(
                                BinOp::Mul,
                                pair[k].clone(),
                                imm(T, self.prob_a[k] as f64),
                            ),
                            imm(T, self.prob_b[k] as f64),
                        );
                        let l = logistic(kb, T, v);
                        let p = build::binary(BinOp::Sub, imm(T, 1.0), l);
                        let p = build::binary(BinOp::Max, p, imm(T, 1.0e-7));
                        let p = kb.let_(T, build::binary(BinOp::Min, p, imm(T, 1.0 - 1.0e-7)));
                        rm[j][i] = kb.let_(T, build::binary(BinOp::Sub, imm(T, 1.0), p.clone()));
                        rm[i][j] = p;
                        k += 1;
                    }
                }
                let p = multiclass_probability(kb, cc, &rm);
                let out = post_transform(kb, T, self.post, &p);
                store_z(kb, &out);
            }
        });
        Ok(())
    }
}

/// `labels[arg]` for a run-time class index (select chain).
fn label_of(labels: &[i64], arg: Expr) -> Expr {
    let mut e = Expr::i64(labels[labels.len() - 1]);
    for c in (0..labels.len() - 1).rev() {
        e = select(
            cmp(CmpOp::Eq, arg.clone(), Expr::i64(c as i64)),
            Expr::i64(labels[c]),
            e,
        );
    }
    e
}

/// libsvm's `multiclass_probability` (onnxruntime's float32 version), `r[i][j]` the pairwise
/// probabilities; the iteration loop runs at most 100 times and stops (a flag) once converged.
#[allow(clippy::needless_range_loop)] // matrix index math over classes
fn multiclass_probability(kb: &mut KernelBuilder, k: usize, r: &[Vec<Expr>]) -> Vec<Expr> {
    let (add, sub, mul, div) = (
        |a: Expr, b: Expr| build::binary(BinOp::Add, a, b),
        |a: Expr, b: Expr| build::binary(BinOp::Sub, a, b),
        |a: Expr, b: Expr| build::binary(BinOp::Mul, a, b),
        |a: Expr, b: Expr| build::binary(BinOp::Div, a, b),
    );
    let mut q = vec![vec![imm(T, 0.0); k]; k];
    for i in 0..k {
        let mut d = imm(T, 0.0);
        for j in 0..k {
            if j != i {
                d = kb.let_(T, add(d, mul(r[j][i].clone(), r[j][i].clone())));
            }
        }
        q[i][i] = d;
    }
    for i in 0..k {
        for j in i + 1..k {
            let v = kb.let_(
                T,
                mul(build::unary(UnOp::Neg, r[j][i].clone()), r[i][j].clone()),
            );
            q[i][j] = v.clone();
            q[j][i] = v;
        }
    }
    let p: Vec<_> = (0..k)
        .map(|_| kb.let_mut(T, imm(T, 1.0 / k as f32 as f64)))
        .collect();
    let qp: Vec<_> = (0..k).map(|_| kb.let_mut(T, imm(T, 0.0))).collect();
    let done = kb.let_mut(Scalar::Bool, Expr::Imm(Scalar::Bool, Lit::Int(0)));
    let eps = 0.005f32 / k as f32;
    kb.loop_(Expr::i64(0), Expr::i64(100), |kb, _| {
        kb.if_(
            build::unary(UnOp::Not, Expr::Var(done)),
            |kb| {
                let pqp = kb.let_mut(T, imm(T, 0.0));
                for i in 0..k {
                    let mut s = imm(T, 0.0);
                    for j in 0..k {
                        s = kb.let_(T, add(s, mul(q[i][j].clone(), Expr::Var(p[j]))));
                    }
                    kb.set(qp[i], s);
                    kb.set(
                        pqp,
                        add(Expr::Var(pqp), mul(Expr::Var(p[i]), Expr::Var(qp[i]))),
                    );
                }
                let mut maxe = imm(T, 0.0);
                for i in 0..k {
                    let e = kb.let_(
                        T,
                        build::unary(UnOp::Abs, sub(Expr::Var(qp[i]), Expr::Var(pqp))),
                    );
                    maxe = kb.let_(T, select(cmp(CmpOp::Gt, e.clone(), maxe.clone()), e, maxe));
                }
                kb.if_(
                    cmp(CmpOp::Lt, maxe, imm(T, eps as f64)),
                    |kb| kb.set(done, Expr::Imm(Scalar::Bool, Lit::Int(1))),
                    |kb| {
                        for i in 0..k {
                            let diff = kb.let_(
                                T,
                                div(sub(Expr::Var(pqp), Expr::Var(qp[i])), q[i][i].clone()),
                            );
                            kb.set(p[i], add(Expr::Var(p[i]), diff.clone()));
                            let one_d = kb.let_(T, add(imm(T, 1.0), diff.clone()));
                            let inner = add(
                                mul(diff.clone(), q[i][i].clone()),
                                mul(imm(T, 2.0), Expr::Var(qp[i])),
                            );
                            kb.set(
                                pqp,
                                div(
                                    div(
                                        add(Expr::Var(pqp), mul(diff.clone(), inner)),
                                        one_d.clone(),
                                    ),
                                    one_d.clone(),
                                ),
                            );
                            for j in 0..k {
                                kb.set(
                                    qp[j],
                                    div(
                                        add(Expr::Var(qp[j]), mul(diff.clone(), q[i][j].clone())),
                                        one_d.clone(),
                                    ),
                                );
                                kb.set(p[j], div(Expr::Var(p[j]), one_d.clone()));
                            }
                        }
                    },
                );
            },
            |_| {},
        );
    });
    p.iter().map(|v| kb.let_(T, Expr::Var(*v))).collect()
}

#[derive(Debug)]
pub struct SvmRegressor {
    k: Common,
    coef: Vec<f32>,
    rho: f32,
    sv: Vec<f32>,
    n_supports: usize,
    one_class: bool,
    post: Post,
}

pub fn import_regressor(a: &Attrs) -> Result<Box<dyn Op>> {
    let mut k = common(a)?;
    let n_supports = a.int("n_supports", 0)?;
    let n_supports = usize::try_from(n_supports)
        .map_err(|_| a.err("n_supports", format!("negative value {n_supports}")))?;
    let coef = a.floats_opt("coefficients")?.unwrap_or_default();
    let sv = a.floats_opt("support_vectors")?.unwrap_or_default();
    let rho = a.floats_opt("rho")?.unwrap_or_default();
    if rho.is_empty() {
        return Err(a.err("rho", "required attribute missing"));
    }
    if n_supports > 0 {
        if coef.len() < n_supports || !sv.len().is_multiple_of(n_supports) {
            return Err(a.err(
                "support_vectors",
                format!(
                    "{} coefficients and {} support vector values for {n_supports} vectors",
                    coef.len(),
                    sv.len()
                ),
            ));
        }
    } else {
        k.kernel = Kernel::Linear;
    }
    Ok(Box::new(SvmRegressor {
        k,
        coef,
        rho: rho[0],
        sv,
        n_supports,
        one_class: a.int("one_class", 0)? != 0,
        post: super::post_attr(a)?,
    }))
}

impl Op for SvmRegressor {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let (n, f) = features(cx)?;
        let want = self
            .sv
            .len()
            .checked_div(self.n_supports)
            .unwrap_or(self.coef.len());
        if f != want {
            return Err(cx.err(format!(
                "input has {f} features; the model's support vectors / coefficients have {want}"
            )));
        }
        Ok(vec![tt(DType::F32, vec![n, Dim::known(1)])])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let y = cx.output(0)?;
        let n = if x.rank() == 1 {
            Expr::i64(1)
        } else {
            x.dim(0)
        };
        let f = x.shape.last().and_then(|d| d.as_known()).unwrap_or(0) as usize;
        cx.kb.loop_(Expr::i64(0), n, |kb, r| {
            let xs = load_row(kb, &x, &r, f);
            let mut s = if self.n_supports > 0 {
                let mut acc = imm(T, 0.0);
                for v in 0..self.n_supports {
                    let kv = self.k.kernel(kb, &xs, &self.sv[v * f..(v + 1) * f], 0.0);
                    acc = kb.let_(T, fma(kv, imm(T, self.coef[v] as f64), acc));
                }
                kb.let_(T, build::binary(BinOp::Add, acc, imm(T, self.rho as f64)))
            } else {
                self.k.kernel(kb, &xs, &self.coef, self.rho)
            };
            if self.one_class {
                s = kb.let_(
                    T,
                    select(cmp(CmpOp::Gt, s, imm(T, 0.0)), imm(T, 1.0), imm(T, -1.0)),
                );
            }
            if self.post == Post::Probit {
                s = probit(kb, T, s);
            }
            kb.store(y.buf, r, s);
        });
        Ok(())
    }
}
