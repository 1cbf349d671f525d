//! Graph passes. Each has a `NAME` used by `--disable-pass`.
//!
//! - `infer` (always on): types and shapes of every value, node by node; nodes whose inputs
//!   are all constants are evaluated at compile time (`const-fold`, through `kir::interp`) as
//!   they are met, so that shape inputs computed in the graph are known to the nodes after.
//!   Nodes reading float16/bfloat16 are rewritten to compute in f32 (`half`).
//! - `dce`: nodes whose outputs nobody reads are dropped.
//! - `fold-bn`: a Conv followed by an inference-mode BatchNormalization with constant
//!   parameters becomes one Conv with rescaled constant weights and bias (`bn.rs`; not
//!   bit-exact: one f32 rounding of each folded weight and bias).
//! - `transpose-views`: Transposes that only move size-1 dims become views (`views.rs`).
//! - `fuse`: a Conv, MatMul or Gemm absorbs a following Add (a residual, or for MatMul and
//!   Gemm a row-vector bias) and Relu/Clip into its GEMM's epilogue (`fuse.rs`).
//! - `fuse-elementwise`: a chain of element-wise nodes, each value read only by the next,
//!   becomes one node computing the chain per element (`eltwise.rs`).
//! - `layout`: convolution regions compute on the blocked NCHWc layout where the target's
//!   kernel works on it (`layout.rs`; `Options::nchwc_block`).
//! - `plan`: the static memory plan (always on).

pub mod bn;
pub mod control;
pub mod eltwise;
pub mod fuse;
pub mod half;
pub mod layout;
pub mod plan;
pub mod views;

use crate::error::{Error, Result};
use crate::ir::{dim::numel, Graph, Node, TensorType, ValueId};
use crate::limits::Limits;
use crate::lower::eval_node;
use crate::ops::{self, InferCx, Op};

/// The single node reading `v` (none when a graph output or read twice or never).
pub(super) fn only_reader(g: &Graph, uses: &[u32], v: ValueId) -> Option<usize> {
    if uses[v.0 as usize] != 1 || g.outputs.contains(&v) {
        return None;
    }
    g.nodes
        .iter()
        .position(|n| n.inputs.iter().flatten().any(|i| *i == v))
}

/// Whether value `v` is typed f32.
pub(super) fn is_f32(g: &Graph, v: ValueId) -> bool {
    g.value(v)
        .ty
        .as_ref()
        .is_some_and(|t| t.dtype == crate::tensor::DType::F32)
}

/// A graph with the typed op of each node (parallel to `graph.nodes`).
pub struct Model {
    pub graph: Graph,
    pub ops: Vec<Box<dyn Op>>,
    /// The limits `infer` checked tensors and constant folding against.
    pub limits: Limits,
}

pub const CONST_FOLD: &str = "const-fold";
pub const DCE: &str = "dce";
pub const FOLD_BN: &str = bn::NAME;
pub const FUSE: &str = fuse::NAME;
pub const FUSE_ELEMENTWISE: &str = eltwise::NAME;
pub const TRANSPOSE_VIEWS: &str = views::NAME;
pub const LAYOUT: &str = layout::NAME;
pub const PASSES: &[&str] = &[
    CONST_FOLD,
    DCE,
    FOLD_BN,
    FUSE,
    FUSE_ELEMENTWISE,
    TRANSPOSE_VIEWS,
    LAYOUT,
];

/// Import ops, infer types and fold constants. Nodes computing on float16/bfloat16 are
/// rewritten to compute in f32 on the way (`half`).
pub fn infer(g: Graph, fold: bool) -> Result<Model> {
    infer_with(g, fold, &Limits::default())
}

/// `infer` with resource limits: every inferred tensor within `max_tensor_bytes`, folded
/// values within `max_fold_bytes`.
pub fn infer_with(mut g: Graph, fold: bool, limits: &Limits) -> Result<Model> {
    let ops = ops::import_all(&g.nodes)?;
    // Constants (initializers) carry their own type.
    for v in &mut g.values {
        if let Some(k) = &v.konst {
            v.ty = Some(TensorType {
                dtype: k.dtype,
                shape: k
                    .shape
                    .iter()
                    .map(|d| crate::ir::Dim::known(*d as i64))
                    .collect(),
            });
        }
    }
    let nodes = std::mem::take(&mut g.nodes);
    let mut m = Model {
        graph: g,
        ops: Vec::with_capacity(ops.len()),
        limits: *limits,
    };
    let mut hx = half::HalfCx::default();
    for (node, op) in nodes.into_iter().zip(ops) {
        half::add_node(&mut m, &mut hx, node, op, fold)?;
    }
    Ok(m)
}

/// The output types of `op` on `node`'s inputs as the graph types them now.
pub(crate) fn infer_types(g: &Graph, node: &Node, op: &dyn Op) -> Result<Vec<TensorType>> {
    with_cx(g, node, |cx| op.infer(cx))
}

fn with_cx<T>(g: &Graph, node: &Node, f: impl FnOnce(&InferCx) -> Result<T>) -> Result<T> {
    let mut inputs = vec![];
    let mut consts = vec![];
    for v in &node.inputs {
        match v {
            Some(v) => {
                let val = g.value(*v);
                if val.ty.is_none() {
                    return Err(Error::Node(format!(
                        "{}: the type of input '{}' is unknown",
                        node.describe(),
                        val.name
                    )));
                }
                inputs.push(val.ty.as_ref());
                consts.push(val.konst.as_ref());
            }
            None => {
                inputs.push(None);
                consts.push(None);
            }
        }
    }
    let cx = InferCx {
        node,
        inputs,
        consts,
        syms: &g.syms,
    };
    f(&cx)
}

/// Infer one node's output types, fold it when its inputs are constants, and append it to
/// the model unless it was folded away.
pub(crate) fn infer_node(m: &mut Model, node: Node, op: Box<dyn Op>, fold: bool) -> Result<()> {
    let limits = m.limits;
    let (out_types, values) = with_cx(&m.graph, &node, |cx| {
        let out_types = op.infer(cx)?;
        let declared = node.outputs.iter().flatten().count();
        if out_types.len() < declared {
            // A model may list more outputs than the op has (the op has a fixed count).
            return Err(Error::Node(format!(
                "{}: the node has {declared} outputs, the op produces {}",
                node.describe(),
                out_types.len()
            )));
        }
        for t in &out_types {
            check_shape(&node, t, &limits)?;
        }
        // Fold: direct values, or the lowering on constant inputs.
        let all_const = cx
            .inputs
            .iter()
            .zip(&cx.consts)
            .all(|(t, c)| t.is_none() || c.is_some());
        let small = out_types.iter().all(|t| {
            let size = t.dtype.size().unwrap_or(1) as u64;
            numel(&t.shape)
                .as_known()
                .and_then(|n| (n as u64).checked_mul(size))
                .is_some_and(|n| n <= limits.max_fold_bytes)
        });
        let mut values = op.fold(cx)?;
        // String ids are only meaningful with the model's table: no folding of strings.
        let strings = cx
            .inputs
            .iter()
            .flatten()
            .map(|t| t.dtype)
            .chain(out_types.iter().map(|t| t.dtype))
            .any(|d| d == crate::tensor::DType::String);
        if values.is_none() && fold && all_const && small && !strings && !node.outputs.is_empty() {
            values = Some(eval_node(&node, op.as_ref(), &cx.consts, &out_types)?);
        }
        Ok((out_types, values))
    })?;
    let folded = values.is_some();
    let mut vals = values.map(|v| v.into_iter());
    for (o, t) in node.outputs.iter().zip(out_types) {
        let v = vals.as_mut().and_then(|it| it.next());
        if let Some(o) = o {
            let val = m.graph.value_mut(*o);
            val.ty = Some(t);
            if let Some(v) = v {
                val.konst = Some(v);
            }
        }
    }
    if !folded {
        m.graph.nodes.push(node);
        m.ops.push(op);
    }
    Ok(())
}

/// The largest tensor Kiln accepts, in elements (exclusive).
pub const MAX_ELEMENTS: i64 = 1 << 40;

/// Reject shapes with negative or absurd dims, and tensors larger than the limit.
fn check_shape(node: &crate::ir::Node, t: &TensorType, limits: &Limits) -> Result<()> {
    for d in &t.shape {
        if !d.nonneg() {
            return Err(Error::Node(format!(
                "{}: inferred a negative dimension ({:?})",
                node.describe(),
                d
            )));
        }
    }
    if let Some(n) = numel(&t.shape).as_known() {
        if n >= MAX_ELEMENTS {
            return Err(Error::Limit(format!(
                "{}: a tensor of {n} elements (the limit is 2^40 - 1)",
                node.describe()
            )));
        }
        let size = t.dtype.size().unwrap_or(1) as u64;
        limits.check_tensor(&format!("{}: output", node.describe()), n as u64, size)?;
    }
    Ok(())
}

fn retain_nodes(m: &mut Model, keep: &[bool]) {
    let mut i = 0;
    m.graph.nodes.retain(|_| {
        i += 1;
        keep[i - 1]
    });
    let mut i = 0;
    m.ops.retain(|_| {
        i += 1;
        keep[i - 1]
    });
}

/// Drop nodes none of whose outputs are used.
pub fn dce(m: &mut Model) {
    loop {
        let uses = m.graph.use_counts();
        let keep: Vec<bool> = m
            .graph
            .nodes
            .iter()
            .map(|n| n.outputs.iter().flatten().any(|o| uses[o.0 as usize] > 0))
            .collect();
        if keep.iter().all(|k| *k) {
            return;
        }
        retain_nodes(m, &keep);
    }
}
