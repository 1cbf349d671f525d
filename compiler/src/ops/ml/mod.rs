//! Traditional-ML ops of the `ai.onnx.ml` domain (spec index:
//! <https://onnx.ai/onnx/operators/index.html#ai-onnx-ml>): Scaler, Normalizer, Binarizer,
//! Imputer, ArrayFeatureExtractor, OneHotEncoder, LinearClassifier, LinearRegressor,
//! SVMClassifier, SVMRegressor,
//! TreeEnsembleClassifier, TreeEnsembleRegressor and TreeEnsemble; LabelEncoder,
//! CategoryMapper, ZipMap, DictVectorizer, CastMap and FeatureVectorizer (`strings`).
//!
//! Shared decisions:
//! - the reference is onnxruntime (the models' reference outputs come from it): scores are
//!   computed in float32 (as onnxruntime does) unless the op's values are double
//!   (`*_as_tensor` attributes, TreeEnsemble on double input); post transforms follow
//!   onnxruntime's `ml_common.h` (`ComputeLogistic`, `ComputeSoftmax`, `ComputeSoftmaxZero`);
//! - PROBIT is `sqrt(2) * erfinv(2x - 1)` with Giles' single-precision erfinv ("Approximating
//!   the erfinv function", GPU Computing Gems, 2011: two polynomials in `w = -log(1 - x^2)`,
//!   relative error below 4e-7 on (-1, 1)); onnxruntime uses Winitzki's cruder formula
//!   (relative error ~2e-3), so PROBIT outputs may differ from onnxruntime in the third digit;
//! - strings are int32 ids into the model's sorted string table (`ir::strings`); string
//!   class labels, categories and maps: `strings`.

pub mod feature;
pub mod linear;
pub mod preprocess;
pub mod strings;
pub mod svm;
pub mod tree;
pub mod tree_flat;
pub mod tree_lower;

#[cfg(test)]
mod tests;

use crate::error::Result;
use crate::ir::Dim;
use crate::kir::build::KernelBuilder;
use crate::kir::build::{self, call, cast, cmp, select};
use crate::kir::{BinOp, CmpOp, Expr, MathFn, Scalar, UnOp};
use crate::ops::{Attrs, InferCx};

crate::ops_table! { pub OPS:
    "ai.onnx.ml" "ArrayFeatureExtractor" since 1 => feature::import_afe,
    "ai.onnx.ml" "Binarizer" since 1 => preprocess::import_binarizer,
    "ai.onnx.ml" "CastMap" since 1 => strings::import_cast_map,
    "ai.onnx.ml" "CategoryMapper" since 1 => strings::import_category_mapper,
    "ai.onnx.ml" "DictVectorizer" since 1 => strings::import_dict_vectorizer,
    "ai.onnx.ml" "FeatureVectorizer" since 1 => strings::import_feature_vectorizer,
    "ai.onnx.ml" "LabelEncoder" since 1 => strings::import_label_encoder,
    "ai.onnx.ml" "Imputer" since 1 => preprocess::import_imputer,
    "ai.onnx.ml" "LinearClassifier" since 1 => linear::import_classifier,
    "ai.onnx.ml" "LinearRegressor" since 1 => linear::import_regressor,
    "ai.onnx.ml" "Normalizer" since 1 => preprocess::import_normalizer,
    "ai.onnx.ml" "OneHotEncoder" since 1 => feature::import_one_hot,
    "ai.onnx.ml" "SVMClassifier" since 1 => svm::import_classifier,
    "ai.onnx.ml" "SVMRegressor" since 1 => svm::import_regressor,
    "ai.onnx.ml" "Scaler" since 1 => preprocess::import_scaler,
    "ai.onnx.ml" "TreeEnsemble" since 5 => tree::import_ensemble5,
    "ai.onnx.ml" "TreeEnsembleClassifier" since 1 => tree::import_classifier,
    "ai.onnx.ml" "TreeEnsembleRegressor" since 1 => tree::import_regressor,
    "ai.onnx.ml" "ZipMap" since 1 => strings::import_zipmap,
}

/// Post-evaluation transform of scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Post {
    None,
    Logistic,
    Softmax,
    SoftmaxZero,
    Probit,
}

/// Read the string attribute `post_transform` (default NONE).
pub fn post_attr(a: &Attrs) -> Result<Post> {
    let s = a.string("post_transform", "NONE")?;
    Ok(match s.as_str() {
        "NONE" => Post::None,
        "LOGISTIC" => Post::Logistic,
        "SOFTMAX" => Post::Softmax,
        "SOFTMAX_ZERO" => Post::SoftmaxZero,
        "PROBIT" => Post::Probit,
        o => {
            return Err(a.err(
                "post_transform",
                format!("unknown value '{o}' (NONE, LOGISTIC, SOFTMAX, SOFTMAX_ZERO, PROBIT)"),
            ))
        }
    })
}

/// Strings of an attribute (bytes each).
pub type StringList = Vec<Vec<u8>>;

/// A classifier's class labels: `ints_name` (int64) or `classlabels_strings`. String labels
/// come back as their positions (placeholders) plus the strings; `label_values` turns them
/// into string ids at lowering.
pub fn class_labels(a: &Attrs, ints_name: &str) -> Result<(Vec<i64>, Option<StringList>)> {
    let strings = a
        .strings_opt("classlabels_strings")?
        .filter(|v| !v.is_empty());
    let ints = a.ints_opt(ints_name)?.filter(|v| !v.is_empty());
    match (ints, strings) {
        (Some(_), Some(_)) => Err(a.err(
            "classlabels_strings",
            format!("only one of {ints_name} and classlabels_strings may be given"),
        )),
        (_, Some(s)) => Ok(((0..s.len() as i64).collect(), Some(s))),
        (i, None) => Ok((i.unwrap_or_default(), None)),
    }
}

/// The label values a classifier stores: its integer labels, or its string labels' ids.
pub fn label_values(
    cx: &crate::lower::LowerCx,
    ints: &[i64],
    strings: &Option<Vec<Vec<u8>>>,
) -> Result<Vec<i64>> {
    match strings {
        None => Ok(ints.to_vec()),
        Some(s) => s
            .iter()
            .map(|s| Ok(cx.string_id(s, "classlabels_strings")? as i64))
            .collect(),
    }
}

/// The label output's element type: string ids or int64.
pub fn label_dtype(strings: &Option<Vec<Vec<u8>>>) -> crate::tensor::DType {
    if strings.is_some() {
        crate::tensor::DType::String
    } else {
        crate::tensor::DType::I64
    }
}

/// The (rows, features) view of an input of rank 1 (one row) or 2.
pub fn rows_features(cx: &InferCx, i: usize) -> Result<(Dim, Dim)> {
    let s = &cx.ty(i)?.shape;
    match s.len() {
        1 => Ok((Dim::known(1), s[0].clone())),
        2 => Ok((s[0].clone(), s[1].clone())),
        r => Err(cx.err(format!("input {i} must have rank 1 or 2, got rank {r}"))),
    }
}

/// A known dim's value, or an error naming `what`.
pub fn known(cx: &InferCx, d: &Dim, what: &str) -> Result<i64> {
    d.as_known().ok_or_else(|| {
        cx.err(format!(
            "{what} is symbolic ({}); this op needs its value (use --dim)",
            d.show(cx.syms)
        ))
    })
}

pub fn imm(t: Scalar, v: f64) -> Expr {
    Expr::imm(t, v)
}

fn add(a: Expr, b: Expr) -> Expr {
    build::binary(BinOp::Add, a, b)
}
fn sub(a: Expr, b: Expr) -> Expr {
    build::binary(BinOp::Sub, a, b)
}
fn mul(a: Expr, b: Expr) -> Expr {
    build::binary(BinOp::Mul, a, b)
}
fn div(a: Expr, b: Expr) -> Expr {
    build::binary(BinOp::Div, a, b)
}

/// onnxruntime's `ComputeLogistic`: `v = 1 / (1 + exp(-|x|))`, `x < 0 ? 1 - v : v`.
pub fn logistic(kb: &mut KernelBuilder, t: Scalar, x: Expr) -> Expr {
    let x = kb.let_(t, x);
    let e = call(
        MathFn::Exp,
        vec![build::unary(UnOp::Neg, build::unary(UnOp::Abs, x.clone()))],
    );
    let v = kb.let_(t, div(imm(t, 1.0), add(imm(t, 1.0), e)));
    kb.let_(
        t,
        select(
            cmp(CmpOp::Lt, x, imm(t, 0.0)),
            sub(imm(t, 1.0), v.clone()),
            v,
        ),
    )
}

/// Giles' single-precision erfinv (see the module header); NaN outside [-1, 1], ±inf at ±1.
pub fn erfinv(kb: &mut KernelBuilder, t: Scalar, x: Expr) -> Expr {
    let x = kb.let_(t, x);
    let w = kb.let_(
        t,
        build::unary(
            UnOp::Neg,
            call(
                MathFn::Log,
                vec![mul(
                    sub(imm(t, 1.0), x.clone()),
                    add(imm(t, 1.0), x.clone()),
                )],
            ),
        ),
    );
    let horner = |kb: &mut KernelBuilder, z: Expr, c: &[f64]| -> Expr {
        let mut p = imm(t, c[0]);
        for &k in &c[1..] {
            p = kb.let_(t, add(imm(t, k), mul(p, z.clone())));
        }
        p
    };
    let z1 = kb.let_(t, sub(w.clone(), imm(t, 2.5)));
    let p1 = horner(
        kb,
        z1,
        &[
            2.810_226_36e-08,
            3.432_739_39e-07,
            -3.523_387_7e-06,
            -4.391_506_54e-06,
            0.000_218_580_87,
            -0.001_253_725_03,
            -0.004_177_681_64,
            0.246_640_727,
            1.501_409_41,
        ],
    );
    let z2 = kb.let_(t, sub(build::unary(UnOp::Sqrt, w.clone()), imm(t, 3.0)));
    let p2 = horner(
        kb,
        z2,
        &[
            -0.000_200_214_257,
            0.000_100_950_558,
            0.001_349_343_22,
            -0.003_673_428_44,
            0.005_739_507_73,
            -0.007_622_461_3,
            0.009_438_870_47,
            1.001_674_06,
            2.832_976_82,
        ],
    );
    let p = select(cmp(CmpOp::Lt, w, imm(t, 5.0)), p1, p2);
    kb.let_(t, mul(p, x))
}

/// `sqrt(2) * erfinv(2x - 1)`.
pub fn probit(kb: &mut KernelBuilder, t: Scalar, x: Expr) -> Expr {
    let y = erfinv(kb, t, sub(mul(imm(t, 2.0), x), imm(t, 1.0)));
    kb.let_(t, mul(imm(t, std::f64::consts::SQRT_2), y))
}

/// Apply a post transform to a vector of scores of type `t` (onnxruntime's `write_scores` for
/// two or more scores). Returns the transformed values (bound to variables).
pub fn post_transform(kb: &mut KernelBuilder, t: Scalar, post: Post, s: &[Expr]) -> Vec<Expr> {
    match post {
        Post::None => s.to_vec(),
        Post::Logistic => s.iter().map(|x| logistic(kb, t, x.clone())).collect(),
        Post::Probit => s.iter().map(|x| probit(kb, t, x.clone())).collect(),
        Post::Softmax | Post::SoftmaxZero => {
            let lowest = if t == Scalar::F32 {
                -(f32::MAX as f64)
            } else {
                -f64::MAX
            };
            let mut m = imm(t, lowest);
            for x in s {
                m = kb.let_(
                    t,
                    select(cmp(CmpOp::Gt, x.clone(), m.clone()), x.clone(), m),
                );
            }
            let mut sum = imm(t, 0.0);
            let mut e = vec![];
            // exp(-max) scales the zero entries of SOFTMAX_ZERO; plain SOFTMAX never needs it
            // (and a call to the shim is not removed as dead code by every backend).
            let zero_factor = (post == Post::SoftmaxZero).then(|| {
                kb.let_(
                    t,
                    call(MathFn::Exp, vec![build::unary(UnOp::Neg, m.clone())]),
                )
            });
            for x in s {
                let ex = kb.let_(t, call(MathFn::Exp, vec![sub(x.clone(), m.clone())]));
                if let Some(zf) = &zero_factor {
                    let eps = imm(t, 0.000_000_1);
                    let nz = build::or(
                        cmp(CmpOp::Gt, x.clone(), eps.clone()),
                        cmp(CmpOp::Lt, x.clone(), build::unary(UnOp::Neg, eps)),
                    );
                    let nz = kb.let_(Scalar::Bool, nz);
                    e.push(kb.let_(
                        t,
                        select(nz.clone(), ex.clone(), mul(x.clone(), zf.clone())),
                    ));
                    sum = kb.let_(t, select(nz, add(sum.clone(), ex), sum));
                } else {
                    e.push(ex.clone());
                    sum = kb.let_(t, add(sum, ex));
                }
            }
            e.into_iter()
                .map(|v| kb.let_(t, div(v, sum.clone())))
                .collect()
        }
    }
}

/// Convert a value to `t` (no-op when it already has that type).
pub fn to(t: Scalar, from: Scalar, e: Expr) -> Expr {
    if t == from {
        e
    } else {
        cast(t, e)
    }
}
