//! Tree ensembles: TreeEnsembleClassifier
//! <https://onnx.ai/onnx/operators/onnx_aionnxml_TreeEnsembleClassifier.html> and
//! TreeEnsembleRegressor <https://onnx.ai/onnx/operators/onnx_aionnxml_TreeEnsembleRegressor.html>
//! (ai.onnx.ml opset 1; opset 3 adds the `*_as_tensor` attributes holding double values), and
//! TreeEnsemble <https://onnx.ai/onnx/operators/onnx_aionnxml_TreeEnsemble.html> (opset 5:
//! node/leaf arrays, integer modes with BRANCH_MEMBER and `membership_values`, integer
//! aggregate function and post transform, output of the input's type).
//!
//! Import turns every form into one model: branch nodes (feature, mode, threshold or member
//! set, NaN-goes-true flag, two children) and leaves (list of `(target, weight)`), trees in the
//! order their ids first appear (TreeEnsemble: `tree_roots` order). Every reference (child ids,
//! target/class ids, feature ids against the input width) is validated at compile time, and
//! each tree is checked to be acyclic; errors name the attribute.
//!
//! Layouts (see docs/decisions.md): up to `tree_flat::FLAT_ABOVE_NODES` branch nodes each tree
//! is compiled to nested `If` statements (`tree_lower.rs`: the model is a compile-time
//! constant; every branch is one compare of a feature loaded once per row; rows are the outer
//! loop; per-target scores and "has a score" flags are kernel variables; code size is linear in
//! the node count, and an emitted-node cap rejects shared-subtree blow-up). Larger ensembles
//! become node arrays in the weight blob walked by a loop per tree (`tree_flat.rs`).
//!
//! Semantics follow onnxruntime's `tree_ensemble_aggregator.h`: comparisons in float32 unless
//! the input or the thresholds are double; a NaN feature goes to the true child when
//! `nodes_missing_value_tracks_true` is set (otherwise the comparison decides: false except
//! for NEQ); SUM/AVERAGE add in tree order (AVERAGE divides by the tree count), MIN/MAX keep the
//! first leaf's value then compare; targets no leaf reached count as 0; base values are added
//! when there is one per target; a single regression target is transformed only by PROBIT.
//! Classifiers: more than two classes: base values added, label = first class with the largest
//! score among those that got one; two classes: onnxruntime's binary rules (binary case when
//! all weights are for one class: score `s` becomes `[1 - s, s]` when all weights are >= 0 and
//! the label is `s > 0.5`, else `[-s, s]` or `[logistic(-s), logistic(s)]` and the label is
//! `s > 0`), see `lower_classifier`.

use super::Post;
use crate::error::Result;
use crate::ops::{Attrs, Op};
use crate::tensor::Tensor;
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Leq,
    Lt,
    Gte,
    Gt,
    Eq,
    Neq,
    Member,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Child {
    Node(usize),
    Leaf(usize),
}

#[derive(Debug, Clone)]
pub struct Branch {
    pub feature: usize,
    pub mode: Mode,
    pub value: f64,
    pub members: Vec<f64>,
    pub nan_true: bool,
    pub t: Child,
    pub f: Child,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agg {
    Sum,
    Average,
    Min,
    Max,
}

#[derive(Debug, Clone)]
pub enum Kind {
    /// TreeEnsembleRegressor (float32 output).
    Regressor,
    /// TreeEnsemble opset 5 (output of the input's type).
    Ensemble,
    Classifier {
        labels: Vec<i64>,
        /// `classlabels_strings` (`labels` then holds their positions).
        strings: Option<Vec<Vec<u8>>>,
        /// Two classes and every weight for the same class.
        binary_case: bool,
        all_positive: bool,
    },
}

#[derive(Debug)]
pub struct TreeEnsemble {
    pub nodes: Vec<Branch>,
    pub leaves: Vec<Vec<(usize, f64)>>,
    pub roots: Vec<Child>,
    pub n_targets: usize,
    pub agg: Agg,
    pub post: Post,
    pub base: Vec<f64>,
    /// Thresholds/weights given as doubles: compute in f64.
    pub wide: bool,
    pub kind: Kind,
    /// Largest feature id used (validated against the input in `infer`).
    pub max_feature: Option<usize>,
    /// TreeEnsemble 5: the dtype of the splits (must match the input).
    pub split_dtype: Option<crate::tensor::DType>,
}

/// Most nested-if nodes emitted for one op (shared subtrees are emitted once per path).
const MAX_EMITTED: usize = 1 << 22;

fn ints(a: &Attrs, name: &str) -> Result<Vec<i64>> {
    Ok(a.ints_opt(name)?.unwrap_or_default())
}

/// Floats from `name` or (opset >= 3) doubles from `name_as_tensor`; returns (values, wide).
fn floats_or_tensor(a: &Attrs, name: &str) -> Result<(Vec<f64>, bool)> {
    let f = a.floats_opt(name)?;
    let t = if a.node().opset >= 3 {
        a.tensor_opt(&format!("{name}_as_tensor"))?
    } else {
        None
    };
    match (f, t) {
        (Some(_), Some(_)) => Err(a.err(
            name,
            format!("both '{name}' and '{name}_as_tensor' are given"),
        )),
        (Some(v), None) => Ok((v.into_iter().map(|x| x as f64).collect(), false)),
        (None, Some(t)) => Ok((tensor_f64(&t), t.dtype == crate::tensor::DType::F64)),
        (None, None) => Ok((vec![], false)),
    }
}

fn tensor_f64(t: &Tensor) -> Vec<f64> {
    (0..t.numel() as usize).map(|i| t.get_f64(i)).collect()
}

fn check_len(a: &Attrs, name: &str, len: usize, want: usize) -> Result<()> {
    if len != want {
        return Err(a.err(
            name,
            format!("has {len} values; the node list needs {want}"),
        ));
    }
    Ok(())
}

fn feature_ids(a: &Attrs, name: &str, v: &[i64]) -> Result<Vec<usize>> {
    v.iter()
        .map(|&f| usize::try_from(f).map_err(|_| a.err(name, format!("negative feature id {f}"))))
        .collect()
}

fn agg_from_str(a: &Attrs) -> Result<Agg> {
    Ok(match a.string("aggregate_function", "SUM")?.as_str() {
        "SUM" => Agg::Sum,
        "AVERAGE" => Agg::Average,
        "MIN" => Agg::Min,
        "MAX" => Agg::Max,
        o => {
            return Err(a.err(
                "aggregate_function",
                format!("unknown value '{o}' (SUM, AVERAGE, MIN, MAX)"),
            ))
        }
    })
}

/// Branches, leaves, roots, and whether the values / the weights were doubles.
type Classic = (Vec<Branch>, Vec<Vec<(usize, f64)>>, Vec<Child>, bool, bool);

/// The classic (opset 1/3) node arrays into branches and leaves; `weights` are
/// `(treeid, nodeid, target, weight)` with the attribute names for errors.
fn classic(a: &Attrs, weights_prefix: &str, n_targets: usize) -> Result<Classic> {
    let tree = ints(a, "nodes_treeids")?;
    let id = ints(a, "nodes_nodeids")?;
    let n = tree.len();
    let feat = ints(a, "nodes_featureids")?;
    let tr = ints(a, "nodes_truenodeids")?;
    let fa = ints(a, "nodes_falsenodeids")?;
    let miss = ints(a, "nodes_missing_value_tracks_true")?;
    let modes = a.strings_opt("nodes_modes")?.unwrap_or_default();
    let (vals, wide_v) = floats_or_tensor(a, "nodes_values")?;
    let _ = floats_or_tensor(a, "nodes_hitrates")?;
    check_len(a, "nodes_nodeids", id.len(), n)?;
    check_len(a, "nodes_modes", modes.len(), n)?;
    check_len(a, "nodes_featureids", feat.len(), n)?;
    check_len(a, "nodes_truenodeids", tr.len(), n)?;
    check_len(a, "nodes_falsenodeids", fa.len(), n)?;
    if !vals.is_empty() {
        check_len(a, "nodes_values", vals.len(), n)?;
    }
    if !miss.is_empty() {
        check_len(a, "nodes_missing_value_tracks_true", miss.len(), n)?;
    }
    let feat = feature_ids(a, "nodes_featureids", &feat)?;
    // Index of every (tree, node) pair; leaves get leaf indices.
    let mut at: HashMap<(i64, i64), Child> = HashMap::new();
    let mut nodes = vec![];
    let mut leaves: Vec<Vec<(usize, f64)>> = vec![];
    let mut mode_of = vec![];
    for i in 0..n {
        let m = match modes[i].as_slice() {
            b"BRANCH_LEQ" => Some(Mode::Leq),
            b"BRANCH_LT" => Some(Mode::Lt),
            b"BRANCH_GTE" => Some(Mode::Gte),
            b"BRANCH_GT" => Some(Mode::Gt),
            b"BRANCH_EQ" => Some(Mode::Eq),
            b"BRANCH_NEQ" => Some(Mode::Neq),
            b"LEAF" => None,
            o => {
                return Err(a.err(
                    "nodes_modes",
                    format!("unknown mode '{}'", String::from_utf8_lossy(o)),
                ))
            }
        };
        let c = match m {
            Some(_) => {
                nodes.push(i);
                Child::Node(nodes.len() - 1)
            }
            None => {
                leaves.push(vec![]);
                Child::Leaf(leaves.len() - 1)
            }
        };
        if at.insert((tree[i], id[i]), c).is_some() {
            return Err(a.err(
                "nodes_nodeids",
                format!("node {} of tree {} appears twice", id[i], tree[i]),
            ));
        }
        mode_of.push(m);
    }
    let mut children = std::collections::HashSet::new();
    let mut branches = vec![];
    for &i in &nodes {
        let child = |name: &str, v: i64| -> Result<Child> {
            at.get(&(tree[i], v)).copied().ok_or_else(|| {
                a.err(
                    name,
                    format!(
                        "node {} of tree {} names child {v}, which does not exist",
                        id[i], tree[i]
                    ),
                )
            })
        };
        let t = child("nodes_truenodeids", tr[i])?;
        let f = child("nodes_falsenodeids", fa[i])?;
        children.insert(t);
        children.insert(f);
        branches.push(Branch {
            feature: feat[i],
            mode: mode_of[i].unwrap_or(Mode::Leq),
            value: vals.get(i).copied().unwrap_or(0.0),
            members: vec![],
            nan_true: miss.get(i).copied().unwrap_or(0) != 0,
            t,
            f,
        });
    }
    // Roots: per tree in order of first appearance, the first node no other node points to.
    let mut roots = vec![];
    let mut seen = std::collections::HashSet::new();
    for i in 0..n {
        if seen.contains(&tree[i]) {
            continue;
        }
        let c = at[&(tree[i], id[i])];
        if !children.contains(&c) {
            seen.insert(tree[i]);
            roots.push(c);
        }
    }
    let tree_set: std::collections::HashSet<i64> = tree.iter().copied().collect();
    if seen.len() != tree_set.len() {
        return Err(a.err(
            "nodes_truenodeids",
            "a tree has no root (its nodes form a cycle)",
        ));
    }
    // Weights.
    let p = weights_prefix;
    let wt = ints(a, &format!("{p}_treeids"))?;
    let wn = ints(a, &format!("{p}_nodeids"))?;
    let wi = ints(a, &format!("{p}_ids"))?;
    let (ww, wide_w) = floats_or_tensor(a, &format!("{p}_weights"))?;
    let m = wt.len();
    check_len(a, &format!("{p}_nodeids"), wn.len(), m)?;
    check_len(a, &format!("{p}_ids"), wi.len(), m)?;
    check_len(a, &format!("{p}_weights"), ww.len(), m)?;
    for k in 0..m {
        let Some(Child::Leaf(l)) = at.get(&(wt[k], wn[k])).copied() else {
            return Err(a.err(
                &format!("{p}_nodeids"),
                format!(
                    "weight {k} names node {} of tree {}, which is not a leaf",
                    wn[k], wt[k]
                ),
            ));
        };
        if wi[k] < 0 || wi[k] as usize >= n_targets {
            return Err(a.err(
                &format!("{p}_ids"),
                format!(
                    "weight {k} is for target/class {}, out of range [0, {n_targets})",
                    wi[k]
                ),
            ));
        }
        leaves[l].push((wi[k] as usize, ww[k]));
    }
    Ok((branches, leaves, roots, wide_v, wide_w))
}

pub fn import_regressor(a: &Attrs) -> Result<Box<dyn Op>> {
    let n_targets = a.int("n_targets", 1)?;
    if n_targets < 1 {
        return Err(a.err("n_targets", format!("must be >= 1, got {n_targets}")));
    }
    let n_targets = n_targets as usize;
    let (nodes, leaves, roots, wv, ww) = classic(a, "target", n_targets)?;
    let (base, wb) = floats_or_tensor(a, "base_values")?;
    let e = TreeEnsemble {
        nodes,
        leaves,
        roots,
        n_targets,
        agg: agg_from_str(a)?,
        post: super::post_attr(a)?,
        base,
        wide: wv || ww || wb,
        kind: Kind::Regressor,
        max_feature: None,
        split_dtype: None,
    };
    finish(a, e)
}

pub fn import_classifier(a: &Attrs) -> Result<Box<dyn Op>> {
    let (labels, strings) = super::class_labels(a, "classlabels_int64s")?;
    if labels.len() < 2 {
        return Err(a.err(
            "classlabels_int64s",
            format!("needs at least 2 class labels, got {}", labels.len()),
        ));
    }
    let (nodes, leaves, roots, wv, ww) = classic(a, "class", labels.len())?;
    let (base, wb) = floats_or_tensor(a, "base_values")?;
    let ids: std::collections::HashSet<usize> = leaves.iter().flatten().map(|(c, _)| *c).collect();
    let all_positive = leaves.iter().flatten().all(|(_, w)| *w >= 0.0);
    let e = TreeEnsemble {
        nodes,
        leaves,
        roots,
        n_targets: labels.len(),
        agg: Agg::Sum,
        post: super::post_attr(a)?,
        base,
        wide: wv || ww || wb,
        kind: Kind::Classifier {
            binary_case: labels.len() == 2 && ids.len() == 1,
            labels,
            strings,
            all_positive,
        },
        max_feature: None,
        split_dtype: None,
    };
    finish(a, e)
}

pub fn import_ensemble5(a: &Attrs) -> Result<Box<dyn Op>> {
    let req_t = |n: &str| -> Result<Tensor> {
        a.tensor_opt(n)?
            .ok_or_else(|| a.err(n, "required attribute missing"))
    };
    let n_targets = a.req_int("n_targets")?;
    if n_targets < 1 {
        return Err(a.err("n_targets", format!("must be >= 1, got {n_targets}")));
    }
    let n_targets = n_targets as usize;
    let feat = feature_ids(a, "nodes_featureids", &ints(a, "nodes_featureids")?)?;
    let n = feat.len();
    let splits_t = req_t("nodes_splits")?;
    let splits = tensor_f64(&splits_t);
    let modes = req_t("nodes_modes")?.to_i64_vec();
    let tr = ints(a, "nodes_truenodeids")?;
    let fa = ints(a, "nodes_falsenodeids")?;
    let tl = ints(a, "nodes_trueleafs")?;
    let fl = ints(a, "nodes_falseleafs")?;
    let miss = ints(a, "nodes_missing_value_tracks_true")?;
    let _ = a.tensor_opt("nodes_hitrates")?;
    let members = a.tensor_opt("membership_values")?.map(|t| tensor_f64(&t));
    let lt = ints(a, "leaf_targetids")?;
    let lw = tensor_f64(&req_t("leaf_weights")?);
    let roots_a = ints(a, "tree_roots")?;
    for (name, len) in [
        ("nodes_splits", splits.len()),
        ("nodes_modes", modes.len()),
        ("nodes_truenodeids", tr.len()),
        ("nodes_falsenodeids", fa.len()),
        ("nodes_trueleafs", tl.len()),
        ("nodes_falseleafs", fl.len()),
    ] {
        check_len(a, name, len, n)?;
    }
    if !miss.is_empty() {
        check_len(a, "nodes_missing_value_tracks_true", miss.len(), n)?;
    }
    if lw.len() != lt.len() {
        return Err(a.err(
            "leaf_weights",
            format!("has {} values for {} leaves", lw.len(), lt.len()),
        ));
    }
    let mut leaves = vec![];
    for (k, &t) in lt.iter().enumerate() {
        if t < 0 || t as usize >= n_targets {
            return Err(a.err(
                "leaf_targetids",
                format!("leaf {k} is for target {t}, out of range [0, {n_targets})"),
            ));
        }
        leaves.push(vec![(t as usize, lw[k])]);
    }
    // Member sets, in order of the BRANCH_MEMBER nodes, separated by NaN.
    let mut sets: Vec<Vec<f64>> = vec![];
    if let Some(m) = &members {
        let mut cur = vec![];
        for &v in m {
            if v.is_nan() {
                sets.push(std::mem::take(&mut cur));
            } else {
                cur.push(v);
            }
        }
        if !cur.is_empty() {
            sets.push(cur);
        }
    }
    let mut next_set = 0;
    let child = |name: &str, i: usize, v: i64, leaf: bool| -> Result<Child> {
        let lim = if leaf { leaves.len() } else { n };
        if v < 0 || v as usize >= lim {
            return Err(a.err(
                name,
                format!(
                    "node {i} names {} {v}, out of range [0, {lim})",
                    if leaf { "leaf" } else { "node" }
                ),
            ));
        }
        Ok(if leaf {
            Child::Leaf(v as usize)
        } else {
            Child::Node(v as usize)
        })
    };
    let mut nodes = vec![];
    for i in 0..n {
        let mode = match modes[i] {
            0 => Mode::Leq,
            1 => Mode::Lt,
            2 => Mode::Gte,
            3 => Mode::Gt,
            4 => Mode::Eq,
            5 => Mode::Neq,
            6 => Mode::Member,
            o => return Err(a.err("nodes_modes", format!("node {i}: unknown mode {o} (0..=6)"))),
        };
        let members = if mode == Mode::Member {
            let s = sets.get(next_set).cloned().ok_or_else(|| {
                a.err(
                    "membership_values",
                    format!("no member set for BRANCH_MEMBER node {i}"),
                )
            })?;
            next_set += 1;
            s
        } else {
            vec![]
        };
        nodes.push(Branch {
            feature: feat[i],
            mode,
            value: splits[i],
            members,
            nan_true: miss.get(i).copied().unwrap_or(0) != 0,
            t: child("nodes_truenodeids", i, tr[i], tl[i] != 0)?,
            f: child("nodes_falsenodeids", i, fa[i], fl[i] != 0)?,
        });
    }
    let roots = roots_a
        .iter()
        .map(|&r| child("tree_roots", 0, r, false))
        .collect::<Result<Vec<_>>>()?;
    let agg = match a.int("aggregate_function", 1)? {
        0 => Agg::Average,
        1 => Agg::Sum,
        2 => Agg::Min,
        3 => Agg::Max,
        o => return Err(a.err("aggregate_function", format!("unknown value {o} (0..=3)"))),
    };
    let post = match a.int("post_transform", 0)? {
        0 => Post::None,
        1 => Post::Softmax,
        2 => Post::Logistic,
        3 => Post::SoftmaxZero,
        4 => Post::Probit,
        o => return Err(a.err("post_transform", format!("unknown value {o} (0..=4)"))),
    };
    let e = TreeEnsemble {
        nodes,
        leaves,
        roots,
        n_targets,
        agg,
        post,
        base: vec![],
        wide: splits_t.dtype == crate::tensor::DType::F64,
        kind: Kind::Ensemble,
        max_feature: None,
        split_dtype: Some(splits_t.dtype),
    };
    finish(a, e)
}

/// Check every tree is acyclic and not too large to emit; record the largest feature id.
fn finish(a: &Attrs, mut e: TreeEnsemble) -> Result<Box<dyn Op>> {
    let n = e.nodes.len();
    let mut emitted = 0usize;
    for &r in &e.roots {
        // Depth-first over paths; a path longer than the node count is a cycle.
        let mut stack = vec![(r, 0usize)];
        while let Some((c, d)) = stack.pop() {
            emitted += 1;
            if emitted > MAX_EMITTED {
                return Err(a.err(
                    "nodes_truenodeids",
                    format!("the trees expand to more than {MAX_EMITTED} nodes (shared subtrees)"),
                ));
            }
            if let Child::Node(i) = c {
                if d > n {
                    return Err(a.err("nodes_truenodeids", "the trees contain a cycle"));
                }
                stack.push((e.nodes[i].t, d + 1));
                stack.push((e.nodes[i].f, d + 1));
            }
        }
    }
    e.max_feature = e.nodes.iter().map(|b| b.feature).max();
    Ok(Box::new(e))
}
