//! `fuse`: epilogue fusion. A Conv, MatMul or Gemm whose only reader is an Add of a
//! same-shaped tensor (a residual connection) or, for MatMul and Gemm, of a row vector over
//! the output's last dim (nn.Linear's bias, `[N]`, `[1, N]`, ...), and/or a Relu or a Clip
//! with constant bounds absorbs them: the GEMM kernel adds the residual and clamps while its
//! sums are still in registers (`kir::GemmCall`'s epilogue), so the intermediate tensors are
//! never written or read and need no scratch. Only f32, and only where the fused result has
//! exactly the unfused bits:
//! - the epilogue is the same single f32 addition (`y + r`; `r + y` only differs in which
//!   NaN's payload survives);
//! - the clamp `lo > v ? lo : v`, `hi < v ? hi : v` equals Relu's and Clip's kir
//!   `Max`/`Min` (NaN-propagating, -0 below +0) unless a zero meets a zero of the other
//!   sign. A bound of -0 (or NaN) is not fused, and the fused value is never -0: the GEMM's
//!   sum starts from +0 (it never accumulates into C here) and a round-to-nearest sum is -0
//!   only when both operands are, so neither the sum nor sum + r nor sum + bias is -0;
//! - a Gemm whose alpha or C keeps its loop after the GEMM runs the absorbed Add and clamp
//!   in that loop with the unfused ops themselves (`ops::gemm`).

use super::{is_f32, only_reader, Model};
use crate::ir::{AttrValue, Graph, Node, ValueId};
use crate::ops::Epilogue;
use crate::tensor::DType;

pub const NAME: &str = "fuse";

/// A constant scalar bound of Clip, `Some(None)` when absent, `None` when not constant.
fn const_bound(g: &Graph, n: &Node, input: usize, attr: &str) -> Option<Option<f32>> {
    if n.opset < 11 {
        return Some(
            n.attrs
                .iter()
                .find(|(k, _)| k == attr)
                .and_then(|(_, v)| match v {
                    AttrValue::Float(f) => Some(*f),
                    _ => None,
                }),
        );
    }
    match n.inputs.get(input).copied().flatten() {
        None => Some(None),
        Some(v) => {
            let k = g.values[v.0 as usize].konst.as_ref()?;
            if k.dtype != DType::F32 || k.numel() != 1 {
                return None;
            }
            Some(Some(k.get_f64(0) as f32))
        }
    }
}

/// The clamp of an activation node, if it is one the epilogue can run exactly.
fn clamp_of(g: &Graph, n: &Node) -> Option<(f32, f32)> {
    if !n.domain.is_empty() {
        return None;
    }
    // Clip 6 to 10 defaults an absent bound to the lowest / largest float (`ops::math::clip`),
    // which -inf and +inf do not pass; before 6 and from 11 an absent bound is none.
    let (no_lo, no_hi) = if (6..11).contains(&n.opset) {
        (f32::MIN, f32::MAX)
    } else {
        (f32::NEG_INFINITY, f32::INFINITY)
    };
    let (lo, hi) = match n.op_type.as_str() {
        "Relu" => (0.0, f32::INFINITY),
        "Clip" => (
            const_bound(g, n, 1, "min")?.unwrap_or(no_lo),
            const_bound(g, n, 2, "max")?.unwrap_or(no_hi),
        ),
        _ => return None,
    };
    let bad = |v: f32| v.is_nan() || v.to_bits() == (-0.0f32).to_bits();
    if bad(lo) || bad(hi) {
        return None;
    }
    Some((lo, hi))
}

/// The input index an op takes a fused residual at (after its optional inputs), and
/// whether the residual may be a row vector over the output's last dim.
fn residual_input(g: &Graph, n: &Node) -> Option<(usize, bool)> {
    if !n.domain.is_empty() {
        return None;
    }
    match n.op_type.as_str() {
        "Conv" => Some((3, false)),
        "Gemm" => Some((3, true)),
        // A 1-D B's output ends in M, not N: only a same-shaped residual.
        "MatMul" => {
            let b = n.inputs.get(1).copied().flatten()?;
            let rank = g.values[b.0 as usize].ty.as_ref()?.shape.len();
            Some((2, rank >= 2))
        }
        _ => None,
    }
}

/// Fuse every Conv | MatMul | Gemm [-> Add] [-> Relu | Clip] chain it can.
pub fn fuse(m: &mut Model) {
    let mut keep = vec![true; m.graph.nodes.len()];
    for ci in 0..m.graph.nodes.len() {
        let n = &m.graph.nodes[ci];
        if !keep[ci] {
            continue;
        }
        let Some((slot, row_ok)) = residual_input(&m.graph, n) else {
            continue;
        };
        let Some(Some(mut out)) = n.outputs.first().copied() else {
            continue;
        };
        if !is_f32(&m.graph, out) {
            continue;
        }
        let mut epi = Epilogue::default();
        let mut gone = vec![];
        let mut residual = None;
        let uses = m.graph.use_counts();
        // X -> Add(X, r) or Add(r, X), r of X's type (or a row vector over its last dim),
        // the sum of X's type.
        if let Some(ai) = only_reader(&m.graph, &uses, out) {
            let a = &m.graph.nodes[ai];
            let ins: Vec<_> = a.inputs.iter().flatten().copied().collect();
            if a.domain.is_empty() && a.op_type == "Add" && ins.len() == 2 && ins[0] != ins[1] {
                let r = if ins[0] == out { ins[1] } else { ins[0] };
                let ty = |v: ValueId| m.graph.values[v.0 as usize].ty.as_ref();
                let ok = match (ty(r), ty(out), a.outputs.first().copied().flatten()) {
                    (Some(rt), Some(xt), Some(ao)) => {
                        ty(ao) == Some(xt) && (rt == xt || (row_ok && Epilogue::row_vector(rt, xt)))
                    }
                    _ => false,
                };
                if let (true, Some(Some(ao))) = (ok, a.outputs.first().copied()) {
                    residual = Some(r);
                    gone.push(ai);
                    out = ao;
                }
            }
        }
        if let Some(ri) = only_reader(&m.graph, &uses, out) {
            if let Some((lo, hi)) = clamp_of(&m.graph, &m.graph.nodes[ri]) {
                if m.graph.nodes[ri].inputs.first().copied().flatten() == Some(out) {
                    if let Some(Some(ro)) = m.graph.nodes[ri].outputs.first().copied() {
                        (epi.lo, epi.hi) = (lo, hi);
                        gone.push(ri);
                        out = ro;
                    }
                }
            }
        }
        if gone.is_empty() {
            continue;
        }
        epi.residual = residual.is_some();
        let Some(op) = m.ops[ci].with_epilogue(&epi) else {
            continue;
        };
        // The fused node takes the place of the last node it absorbs: the residual may be
        // computed after the convolution in node order.
        let at = *gone.iter().max().expect("fused nodes");
        let mut n = m.graph.nodes[ci].clone();
        if let Some(r) = residual {
            n.inputs.resize(slot, None);
            n.inputs.push(Some(r));
        }
        n.outputs[0] = Some(out);
        m.graph.nodes[at] = n;
        m.ops[at] = op;
        for g in gone.iter().filter(|g| **g != at) {
            keep[*g] = false;
        }
        keep[ci] = false;
    }
    super::retain_nodes(m, &keep);
}
