//! `fold-bn`: a BatchNormalization in inference mode that only normalises a Conv's output
//! is folded into the Conv's constant weights and bias:
//!
//! `s[m] = scale[m] / sqrt(var[m] + epsilon)`, `W'[m, ...] = W[m, ...] * s[m]`,
//! `B'[m] = (B[m] - mean[m]) * s[m] + bias[m]` (`B = 0` when the Conv has none),
//!
//! each computed in f64 from the f32 constants and rounded to f32 once. The folded Conv
//! writes the BatchNormalization's output and the BatchNormalization node is dropped, so a
//! following Relu/Clip/Add can then be fused into the Conv's epilogue (`fuse`).
//!
//! Unlike `fuse`, this is not bit-exact with the unfolded graph: the convolution sums
//! products of the rounded `W'` instead of scaling the rounded sum (see docs/decisions.md,
//! "Conv + BatchNormalization folding"); `--disable-pass fold-bn` keeps the exact
//! BatchNormalization. onnxruntime and other runtimes make the same fold.
//!
//! Only folded when: both nodes are in the default domain; the Conv's output is read by the
//! BatchNormalization alone and is not a graph output; the BatchNormalization has one
//! declared output (Y) and `training_mode` 0; W, B (if present) and the four parameters are
//! f32 constants, X and Y are f32; and the parameters have W's dim 0 channels. Any group
//! and any number of spatial dims. New constants are created for `W'` and `B'` (the
//! original ones may be shared with other nodes).

use super::{is_f32, only_reader, Model};
use crate::ir::{AttrValue, Graph, Node, TensorType, ValueId};
use crate::tensor::{DType, Tensor};
use std::collections::HashSet;

pub const NAME: &str = "fold-bn";

/// The f32 constant of `v`, if it is one.
fn const_f32(g: &Graph, v: ValueId) -> Option<&Tensor> {
    g.value(v).konst.as_ref().filter(|k| k.dtype == DType::F32)
}

fn float_attr(n: &Node, name: &str, default: f32) -> f32 {
    n.attrs
        .iter()
        .find(|(k, _)| k == name)
        .and_then(|(_, v)| match v {
            AttrValue::Float(f) => Some(*f),
            _ => None,
        })
        .unwrap_or(default)
}

fn int_attr(n: &Node, name: &str) -> Option<i64> {
    n.attrs
        .iter()
        .find(|(k, _)| k == name)
        .and_then(|(_, v)| match v {
            AttrValue::Int(i) => Some(*i),
            _ => None,
        })
}

/// The folded (W', B') of Conv node `conv` followed by BatchNormalization node `bn`, when
/// the pair satisfies the conditions above.
fn folded(g: &Graph, uses: &[u32], conv: &Node, bn: &Node) -> Option<(Tensor, Tensor)> {
    if !bn.domain.is_empty() || bn.op_type != "BatchNormalization" {
        return None;
    }
    // Inference mode: one declared output, no training_mode (opset < 7's is_test = 0 with
    // one output is inference too).
    if bn.outputs.len() != 1 || int_attr(bn, "training_mode").unwrap_or(0) != 0 {
        return None;
    }
    let y = bn.outputs[0]?;
    let x = conv.inputs.first().copied().flatten()?;
    let c_out = conv.outputs.first().copied().flatten()?;
    if bn.inputs.first().copied().flatten() != Some(c_out) || bn.inputs.len() != 5 {
        return None;
    }
    if uses[c_out.0 as usize] != 1 || g.outputs.contains(&c_out) {
        return None;
    }
    if !is_f32(g, x) || !is_f32(g, y) || g.value(y).ty != g.value(c_out).ty {
        return None;
    }
    let w = const_f32(g, conv.inputs.get(1).copied().flatten()?)?;
    let b = match conv.inputs.get(2).copied().flatten() {
        Some(b) => Some(const_f32(g, b)?),
        None => None,
    };
    let params: Vec<&Tensor> = bn.inputs[1..]
        .iter()
        .map(|v| const_f32(g, (*v)?))
        .collect::<Option<_>>()?;
    let m = *w.shape.first()? as usize;
    if params.iter().any(|p| p.shape != [m as u64]) || b.is_some_and(|b| b.shape != [m as u64]) {
        return None;
    }
    let eps = float_attr(bn, "epsilon", 1e-5) as f64;
    let per = (w.numel() as usize).checked_div(m).unwrap_or(0);
    let mut wf = Vec::with_capacity(w.numel() as usize);
    let mut bf = Vec::with_capacity(m);
    for c in 0..m {
        let [scale, bias, mean, var] = [0, 1, 2, 3].map(|i| params[i].get_f64(c));
        let s = scale / (var + eps).sqrt();
        for i in c * per..(c + 1) * per {
            wf.push((w.get_f64(i) * s) as f32);
        }
        let b0 = b.map_or(0.0, |b| b.get_f64(c));
        bf.push(((b0 - mean) * s + bias) as f32);
    }
    Some((
        Tensor::from_f32(w.shape.clone(), &wf),
        Tensor::from_f32(vec![m as u64], &bf),
    ))
}

/// A new constant value holding `t`, named after `base` (unique among the graph's names).
fn add_const(g: &mut Graph, names: &mut HashSet<String>, base: &str, t: Tensor) -> ValueId {
    let mut name = format!("{base}_bnfold");
    let mut k = 1;
    while names.contains(&name) {
        k += 1;
        name = format!("{base}_bnfold{k}");
    }
    names.insert(name.clone());
    let v = g.add_value(name);
    let val = g.value_mut(v);
    val.ty = Some(TensorType {
        dtype: t.dtype,
        shape: t
            .shape
            .iter()
            .map(|d| crate::ir::Dim::known(*d as i64))
            .collect(),
    });
    val.konst = Some(t);
    v
}

/// Fold every Conv -> BatchNormalization pair that qualifies.
pub fn fold(m: &mut Model) {
    let mut keep = vec![true; m.graph.nodes.len()];
    let mut names: HashSet<String> = m.graph.values.iter().map(|v| v.name.clone()).collect();
    for ci in 0..m.graph.nodes.len() {
        let conv = &m.graph.nodes[ci];
        if !conv.domain.is_empty() || conv.op_type != "Conv" {
            continue;
        }
        let Some(c_out) = conv.outputs.first().copied().flatten() else {
            continue;
        };
        let uses = m.graph.use_counts();
        let Some(bi) = only_reader(&m.graph, &uses, c_out) else {
            continue;
        };
        let Some((wf, bf)) = folded(&m.graph, &uses, conv, &m.graph.nodes[bi]) else {
            continue;
        };
        let y = m.graph.nodes[bi].outputs[0].expect("checked");
        let wname = m.graph.value(conv.inputs[1].expect("checked")).name.clone();
        let bname = format!("{}_bias", m.graph.nodes[bi].name);
        let wv = add_const(&mut m.graph, &mut names, &wname, wf);
        let bv = add_const(&mut m.graph, &mut names, &bname, bf);
        let conv = &mut m.graph.nodes[ci];
        conv.inputs[1] = Some(wv);
        conv.inputs.resize(conv.inputs.len().max(3), None);
        conv.inputs[2] = Some(bv);
        conv.outputs[0] = Some(y);
        keep[bi] = false;
    }
    super::retain_nodes(m, &keep);
}
