//! `transpose-views`: a Transpose that only moves dims of size 1 keeps every element at its
//! linear position (the order of the other dims is unchanged), so it is a reshape: it
//! becomes a view (`ViewKind::Transpose`), which the memory planner aliases to its input
//! instead of running a copy kernel. PyTorch's exported attention is full of them
//! (`(1, 16, 64)` <-> `(16, 1, 64)` around every `nn.MultiheadAttention`). A dim counts as
//! size 1 only when it is known to be 1 (a symbolic dim may be anything).

use super::Model;
use crate::ir::{AttrValue, Dim};
use crate::ops::reshape::{View, ViewKind};

pub const NAME: &str = "transpose-views";

/// Whether `perm` keeps the relative order of the dims of `shape` that are not known 1.
pub fn order_preserving(shape: &[Dim], perm: &[usize]) -> bool {
    let mut last = None;
    for &p in perm {
        if shape.get(p).is_none() {
            return false;
        }
        if shape[p] == Dim::known(1) {
            continue;
        }
        if last.is_some_and(|l| p < l) {
            return false;
        }
        last = Some(p);
    }
    true
}

/// Turn every order-preserving Transpose of the default domain into a view.
pub fn transposes(m: &mut Model) {
    for i in 0..m.graph.nodes.len() {
        let n = &m.graph.nodes[i];
        if !n.domain.is_empty() || n.op_type != "Transpose" {
            continue;
        }
        let Some(x) = n.input(0) else {
            continue;
        };
        let Some(ty) = m.graph.values[x.0 as usize].ty.as_ref() else {
            continue;
        };
        let rank = ty.shape.len();
        let perm: Vec<usize> = match n.attrs.iter().find(|(k, _)| k == "perm") {
            Some((_, AttrValue::Ints(p))) => {
                if p.iter().any(|v| *v < 0 || *v as usize >= rank) {
                    continue;
                }
                p.iter().map(|v| *v as usize).collect()
            }
            Some(_) => continue,
            None => (0..rank).rev().collect(),
        };
        if perm.len() != rank || !order_preserving(&ty.shape, &perm) {
            continue;
        }
        m.ops[i] = Box::new(View(ViewKind::Transpose(perm)));
    }
}
