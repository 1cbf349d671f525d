//! Unit tests of the ai.onnx.ml ops for behaviour the conformance cases and the sample models
//! do not reach: attribute errors (naming node, op and attribute), Normalizer norms and zero
//! rows, Imputer with NaN, OneHotEncoder, linear binary classification, tree aggregation
//! functions, missing-value tracking, base values, the binary classifier rules and PROBIT.

use crate::ir::{AttrValue, Dim, Node, TensorType, ValueId};
use crate::ops::{import, InferCx};
use crate::tensor::Tensor;

fn node(op: &str, n_in: usize, n_out: usize, attrs: Vec<(&str, AttrValue)>) -> Node {
    Node {
        name: "n0".into(),
        op_type: op.into(),
        domain: "ai.onnx.ml".into(),
        opset: 3,
        inputs: (0..n_in).map(|i| Some(ValueId(i as u32))).collect(),
        outputs: (0..n_out).map(|i| Some(ValueId(100 + i as u32))).collect(),
        attrs: attrs.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
    }
}

fn s(v: &str) -> AttrValue {
    AttrValue::String(v.as_bytes().to_vec())
}
fn fl(v: &[f32]) -> AttrValue {
    AttrValue::Floats(v.to_vec())
}
fn is(v: &[i64]) -> AttrValue {
    AttrValue::Ints(v.to_vec())
}
fn ss(v: &[&str]) -> AttrValue {
    AttrValue::Strings(v.iter().map(|x| x.as_bytes().to_vec()).collect())
}

fn try_eval(n: &Node, inputs: &[&Tensor]) -> crate::error::Result<Vec<Tensor>> {
    let op = import(n)?;
    let tys: Vec<TensorType> = inputs
        .iter()
        .map(|t| TensorType {
            dtype: t.dtype,
            shape: t.shape.iter().map(|d| Dim::known(*d as i64)).collect(),
        })
        .collect();
    let ins: Vec<Option<&Tensor>> = inputs.iter().map(|t| Some(*t)).collect();
    let cx = InferCx {
        node: n,
        inputs: tys.iter().map(Some).collect(),
        consts: ins.clone(),
        syms: &[],
    };
    let out = op.infer(&cx)?;
    crate::lower::eval_node(n, op.as_ref(), &ins, &out)
}

fn eval(n: &Node, inputs: &[&Tensor]) -> Vec<Tensor> {
    try_eval(n, inputs).unwrap()
}

fn vals(t: &Tensor) -> Vec<f64> {
    (0..t.numel() as usize).map(|i| t.get_f64(i)).collect()
}

fn x(shape: &[u64], v: &[f32]) -> Tensor {
    Tensor::from_f32(shape.to_vec(), v)
}

fn close(a: &[f64], b: &[f64], tol: f64) {
    assert_eq!(a.len(), b.len(), "{a:?} vs {b:?}");
    for (p, q) in a.iter().zip(b) {
        assert!(
            (p - q).abs() <= tol * (1.0 + q.abs()) || (p.is_nan() && q.is_nan()),
            "{a:?} vs {b:?}"
        );
    }
}

#[test]
fn attribute_errors_name_node_op_and_attribute() {
    let check = |n: Node, attr: &str| {
        let e = match import(&n) {
            Ok(op) => panic!("expected an error, got {op:?}"),
            Err(e) => e.to_string(),
        };
        assert!(
            e.contains("n0") && e.contains(&n.op_type) && e.contains(attr),
            "{e}"
        );
    };
    check(node("Normalizer", 1, 1, vec![("norm", s("L3"))]), "norm");
    check(
        node(
            "LinearClassifier",
            1,
            2,
            vec![
                ("coefficients", fl(&[1.0, 2.0])),
                ("classlabels_ints", AttrValue::Ints(vec![0, 1])),
                ("classlabels_strings", ss(&["a", "b"])),
            ],
        ),
        "classlabels_strings",
    );
    check(
        node(
            "LinearRegressor",
            1,
            1,
            vec![("coefficients", fl(&[1.0])), ("post_transform", s("EXP"))],
        ),
        "post_transform",
    );
    check(
        node(
            "OneHotEncoder",
            1,
            1,
            vec![
                ("cats_int64s", AttrValue::Ints(vec![1])),
                ("cats_strings", ss(&["a"])),
            ],
        ),
        "cats_strings",
    );
    // A child id that does not exist in its tree.
    let mut t = stump("BRANCH_LEQ", 0);
    t.attrs[3].1 = is(&[7, 0, 0]);
    check(t, "nodes_truenodeids");
    // A weight on a node that is not a leaf.
    let mut t = stump("BRANCH_LEQ", 0);
    t.attrs
        .iter_mut()
        .find(|(n, _)| n == "target_nodeids")
        .unwrap()
        .1 = is(&[0, 2]);
    check(t, "target_nodeids");
}

/// A one-split regressor: x[feature] <mode> 0.5 ? 1.0 : 2.0 (one target).
fn stump(mode: &str, feature: i64) -> Node {
    node(
        "TreeEnsembleRegressor",
        1,
        1,
        vec![
            ("nodes_treeids", is(&[0, 0, 0])),
            ("nodes_nodeids", is(&[0, 1, 2])),
            ("nodes_featureids", is(&[feature, 0, 0])),
            ("nodes_truenodeids", is(&[1, 0, 0])),
            ("nodes_falsenodeids", is(&[2, 0, 0])),
            ("nodes_values", fl(&[0.5, 0.0, 0.0])),
            ("nodes_modes", ss(&[mode, "LEAF", "LEAF"])),
            ("target_treeids", is(&[0, 0])),
            ("target_nodeids", is(&[1, 2])),
            ("target_ids", is(&[0, 0])),
            ("target_weights", fl(&[1.0, 2.0])),
        ],
    )
}

#[test]
fn feature_id_out_of_range_is_a_compile_error() {
    let e = try_eval(&stump("BRANCH_LEQ", 5), &[&x(&[1, 2], &[0.0, 1.0])])
        .unwrap_err()
        .to_string();
    assert!(e.contains("nodes_featureids") && e.contains("n0"), "{e}");
}

#[test]
fn tree_modes_and_missing_values() {
    let xs = x(&[4, 1], &[0.0, 0.5, 1.0, f32::NAN]);
    let cases = [
        ("BRANCH_LEQ", [1.0, 1.0, 2.0, 2.0]),
        ("BRANCH_LT", [1.0, 2.0, 2.0, 2.0]),
        ("BRANCH_GTE", [2.0, 1.0, 1.0, 2.0]),
        ("BRANCH_GT", [2.0, 2.0, 1.0, 2.0]),
        ("BRANCH_EQ", [2.0, 1.0, 2.0, 2.0]),
        ("BRANCH_NEQ", [1.0, 2.0, 1.0, 1.0]),
    ];
    for (m, want) in cases {
        let y = eval(&stump(m, 0), &[&xs]);
        assert_eq!(vals(&y[0]), want, "{m}");
    }
    // NaN goes to the true branch when tracked.
    let mut n = stump("BRANCH_LEQ", 0);
    n.attrs
        .push(("nodes_missing_value_tracks_true".into(), is(&[1, 0, 0])));
    assert_eq!(vals(&eval(&n, &[&xs])[0]), [1.0, 1.0, 2.0, 1.0]);
}

/// Two stumps on feature 0: tree 0 gives (1 | 2), tree 1 gives (4 | 8); plus base values.
fn forest(agg: &str, base: Option<f32>) -> Node {
    let mut attrs = vec![
        ("nodes_treeids", is(&[0, 0, 0, 1, 1, 1])),
        ("nodes_nodeids", is(&[0, 1, 2, 0, 1, 2])),
        ("nodes_featureids", is(&[0, 0, 0, 0, 0, 0])),
        ("nodes_truenodeids", is(&[1, 0, 0, 1, 0, 0])),
        ("nodes_falsenodeids", is(&[2, 0, 0, 2, 0, 0])),
        ("nodes_values", fl(&[0.5, 0.0, 0.0, 1.5, 0.0, 0.0])),
        (
            "nodes_modes",
            ss(&["BRANCH_LEQ", "LEAF", "LEAF", "BRANCH_LEQ", "LEAF", "LEAF"]),
        ),
        ("target_treeids", is(&[0, 0, 1, 1])),
        ("target_nodeids", is(&[1, 2, 1, 2])),
        ("target_ids", is(&[0, 0, 0, 0])),
        ("target_weights", fl(&[1.0, 2.0, 4.0, 8.0])),
        ("aggregate_function", s(agg)),
    ];
    if let Some(b) = base {
        attrs.push(("base_values", fl(&[b])));
    }
    node("TreeEnsembleRegressor", 1, 1, attrs)
}

#[test]
fn tree_aggregation_functions() {
    let xs = x(&[3, 1], &[0.0, 1.0, 2.0]);
    let run = |agg, base| vals(&eval(&forest(agg, base), &[&xs])[0]);
    assert_eq!(run("SUM", None), [5.0, 6.0, 10.0]);
    assert_eq!(run("SUM", Some(0.5)), [5.5, 6.5, 10.5]);
    assert_eq!(run("AVERAGE", None), [2.5, 3.0, 5.0]);
    assert_eq!(run("AVERAGE", Some(1.0)), [3.5, 4.0, 6.0]);
    assert_eq!(run("MIN", None), [1.0, 2.0, 2.0]);
    assert_eq!(run("MAX", Some(1.0)), [5.0, 5.0, 9.0]);
}

/// A binary classifier with one stump whose leaves carry weights for class 1 only.
fn binary_clf(w: [f32; 2], post: &str) -> Node {
    node(
        "TreeEnsembleClassifier",
        1,
        2,
        vec![
            ("nodes_treeids", is(&[0, 0, 0])),
            ("nodes_nodeids", is(&[0, 1, 2])),
            ("nodes_featureids", is(&[0, 0, 0])),
            ("nodes_truenodeids", is(&[1, 0, 0])),
            ("nodes_falsenodeids", is(&[2, 0, 0])),
            ("nodes_values", fl(&[0.5, 0.0, 0.0])),
            ("nodes_modes", ss(&["BRANCH_LEQ", "LEAF", "LEAF"])),
            ("class_treeids", is(&[0, 0])),
            ("class_nodeids", is(&[1, 2])),
            ("class_ids", is(&[1, 1])),
            ("class_weights", fl(&w)),
            ("classlabels_int64s", is(&[10, 20])),
            ("post_transform", s(post)),
        ],
    )
}

#[test]
fn tree_binary_classifier_rules() {
    let xs = x(&[2, 1], &[0.0, 1.0]);
    // All weights positive and for class 1: class 1 has a score, so both scores remain and
    // only the post transform applies; the label is s1 > 0.5.
    let y = eval(&binary_clf([0.25, 0.75], "NONE"), &[&xs]);
    assert_eq!(vals(&y[0]), [10.0, 20.0]);
    assert_eq!(vals(&y[1]), [0.0, 0.25, 0.0, 0.75]);
    // Mixed signs with LOGISTIC: label by s1 > 0.
    let y = eval(&binary_clf([-1.0, 2.0], "LOGISTIC"), &[&xs]);
    assert_eq!(vals(&y[0]), [10.0, 20.0]);
    let l = |v: f64| 1.0 / (1.0 + (-v).exp());
    close(&vals(&y[1]), &[0.5, l(-1.0), 0.5, l(2.0)], 1e-6);
    // Weights for class 0 only (all positive): one score s remains, written as [1 - s, s],
    // label s > 0.5.
    let mut n = binary_clf([0.25, 0.75], "NONE");
    n.attrs
        .iter_mut()
        .find(|(k, _)| k == "class_ids")
        .unwrap()
        .1 = is(&[0, 0]);
    let y = eval(&n, &[&xs]);
    assert_eq!(vals(&y[0]), [10.0, 20.0]);
    assert_eq!(vals(&y[1]), [0.75, 0.25, 0.25, 0.75]);
}

#[test]
fn normalizer_norms() {
    let xs = x(&[2, 3], &[3.0, -4.0, 0.0, 0.0, 0.0, 0.0]);
    let run = |norm| vals(&eval(&node("Normalizer", 1, 1, vec![("norm", s(norm))]), &[&xs])[0]);
    close(
        &run("L1"),
        &[3.0 / 7.0, -4.0 / 7.0, 0.0, 0.0, 0.0, 0.0],
        1e-7,
    );
    close(&run("L2"), &[0.6, -0.8, 0.0, 0.0, 0.0, 0.0], 1e-7);
    close(&run("MAX"), &[1.0, -4.0 / 3.0, 0.0, 0.0, 0.0, 0.0], 1e-7);
}

#[test]
fn scaler_imputer_binarizer() {
    let xs = x(&[2, 2], &[1.0, f32::NAN, 3.0, 4.0]);
    let n = node(
        "Scaler",
        1,
        1,
        vec![("offset", fl(&[1.0, 2.0])), ("scale", fl(&[2.0, 0.5]))],
    );
    let y = vals(&eval(&n, &[&xs])[0]);
    assert_eq!(y[0], 0.0);
    assert!(y[1].is_nan());
    assert_eq!(&y[2..], [4.0, 1.0]);
    let n = node(
        "Imputer",
        1,
        1,
        vec![
            ("imputed_value_floats", fl(&[7.0, 9.0])),
            ("replaced_value_float", AttrValue::Float(f32::NAN)),
        ],
    );
    assert_eq!(vals(&eval(&n, &[&xs])[0]), [1.0, 9.0, 3.0, 4.0]);
    let n = node(
        "Binarizer",
        1,
        1,
        vec![("threshold", AttrValue::Float(2.0))],
    );
    assert_eq!(vals(&eval(&n, &[&xs])[0]), [0.0, 0.0, 1.0, 1.0]);
}

#[test]
fn one_hot_encoder() {
    let xs = Tensor::from_i64(vec![3], &[3, 1, 5]);
    let n = node("OneHotEncoder", 1, 1, vec![("cats_int64s", is(&[1, 3]))]);
    assert_eq!(vals(&eval(&n, &[&xs])[0]), [0.0, 1.0, 1.0, 0.0, 0.0, 0.0]);
    let n = node(
        "OneHotEncoder",
        1,
        1,
        vec![("cats_int64s", is(&[1, 3])), ("zeros", AttrValue::Int(0))],
    );
    assert!(try_eval(&n, &[&xs]).is_err());
}

#[test]
fn linear_binary_classifier_and_probit() {
    let xs = x(&[2, 2], &[1.0, 1.0, -1.0, 0.0]);
    let n = node(
        "LinearClassifier",
        1,
        2,
        vec![
            ("coefficients", fl(&[0.5, 0.25])),
            ("intercepts", fl(&[0.0])),
            ("classlabels_ints", is(&[3, 7])),
        ],
    );
    let y = eval(&n, &[&xs]);
    assert_eq!(vals(&y[0]), [7.0, 3.0]);
    assert_eq!(vals(&y[1]), [0.25, 0.75, 1.5, -0.5]);
    // PROBIT of a single regression target: sqrt(2) * erfinv(2p - 1).
    for (p, z) in [
        (0.975, 1.959_963_984_540_054),
        (0.5, 0.0),
        (0.1, -1.281_551_565_544_600_5),
        (0.999, 3.090_232_306_167_813),
    ] {
        let n = node(
            "LinearRegressor",
            1,
            1,
            vec![
                ("coefficients", fl(&[0.0])),
                ("intercepts", fl(&[p as f32])),
                ("post_transform", s("PROBIT")),
            ],
        );
        let y = vals(&eval(&n, &[&x(&[1, 1], &[0.0])])[0]);
        // The intercept is rounded to f32 first: compare with a loose tolerance.
        close(&y, &[z], 2e-5);
    }
}
