//! The static memory plan: where every value lives. Graph inputs and outputs live in the
//! caller's buffers, constants in the weight blob, views (reshape-like ops) in their root's
//! storage, and everything else in one scratch area, at 64-byte aligned offsets chosen so that
//! values live at the same time never overlap.
//!
//! Placement is greedy by size (largest first, each at the lowest offset that does not overlap
//! a placed value whose live range intersects), which stays close to the lower bound (the
//! largest total of values live at once). Sizes may be polynomials in symbolic dims: a gap
//! fits a value when its size dominates the value's for every dim value (see `Dim::dominates`),
//! so the plan is valid for every run-time value of the dims.

use crate::error::{Error, Result};
use crate::ir::{dim::numel, Dim, Graph, TensorType, ValueId};
use crate::ops::Op;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Debug, PartialEq)]
pub enum Storage {
    Input(u32),
    Output(u32),
    Weight,
    /// Byte offset and (aligned) byte size in the scratch area; live over nodes
    /// `first..=last`.
    Scratch {
        offset: Dim,
        size: Dim,
        first: usize,
        last: usize,
    },
    /// Shares the storage of another value (its root, never itself a view).
    View(ValueId),
    /// A contiguous part of a scratch value's storage, at a byte offset (a multiple of
    /// `ALIGN`): an input of a Concat whose producer writes straight into its slice of the
    /// Concat's output, so the Concat needs no kernel ("concat in place").
    Slice {
        of: ValueId,
        byte_offset: i64,
        bytes: i64,
    },
}

#[derive(Clone, Debug, Default)]
pub struct MemoryPlan {
    pub storage: BTreeMap<ValueId, Storage>,
    /// Value held in each graph output's buffer (a new value when a copy is needed).
    pub output_values: Vec<ValueId>,
    /// For outputs filled by a copy: the value copied.
    pub output_sources: Vec<Option<ValueId>>,
    /// Nodes that need no kernel (views that alias their input).
    pub aliased: BTreeSet<usize>,
    pub scratch_size: Dim,
    /// Largest total of scratch values live at once (bytes), when all sizes are known.
    pub lower_bound: Option<i64>,
    /// Bytes left unused after every scratch value (`Options::scratch_guard`), where a
    /// sanitizer build of the C output catches an overrun from one value into the next.
    pub guard: i64,
}

pub const ALIGN: i64 = 64;

fn byte_size(t: &TensorType) -> Dim {
    numel(&t.shape)
        .scale(t.dtype.storage().map_or(1, |e| e.size()) as i64)
        .round_up_coefs(ALIGN)
}

/// Plan `g` (whose nodes are in execution order). May add values for outputs that need a copy.
/// `guard` bytes (rounded up to `ALIGN`) follow every scratch value, unused by any other.
pub fn plan(g: &mut Graph, ops: &[Box<dyn Op>], guard: u64) -> Result<MemoryPlan> {
    let mut p = MemoryPlan::default();
    let guard = u64::checked_next_multiple_of(guard, ALIGN as u64)
        .and_then(|b| i64::try_from(b).ok())
        .filter(|b| *b <= 1 << 30)
        .ok_or_else(|| Error::Usage(format!("scratch guard of {guard} bytes is too large")))?;
    p.guard = guard;
    for (i, v) in g.inputs.iter().enumerate() {
        p.storage.insert(*v, Storage::Input(i as u32));
    }
    let producers = g.producers();
    // Outputs: computed in place unless the value is an input, a constant, or listed twice.
    let mut seen = BTreeSet::new();
    let outputs = g.outputs.clone();
    for (k, v) in outputs.iter().enumerate() {
        let needs_copy = producers[v.0 as usize].is_none() || !seen.insert(*v);
        if needs_copy {
            let name = format!("{}__output{k}", g.value(*v).name);
            let nv = g.add_value(name);
            g.value_mut(nv).ty = g.value(*v).ty.clone();
            p.storage.insert(nv, Storage::Output(k as u32));
            p.output_values.push(nv);
            p.output_sources.push(Some(*v));
        } else {
            p.storage.insert(*v, Storage::Output(k as u32));
            p.output_values.push(*v);
            p.output_sources.push(None);
        }
    }
    // Views alias their input unless their output is a graph output.
    for (ni, (n, op)) in g.nodes.iter().zip(ops).enumerate() {
        if !op.is_view() {
            continue;
        }
        let (Some(x), Some(y)) = (n.input(0), n.output(0)) else {
            continue;
        };
        if p.storage.contains_key(&y) {
            continue;
        }
        let root = match p.storage.get(&x) {
            Some(Storage::View(r)) => *r,
            _ => x,
        };
        p.storage.insert(y, Storage::View(root));
        p.aliased.insert(ni);
    }
    // Live ranges of the scratch values (by root).
    let mut first: BTreeMap<ValueId, usize> = BTreeMap::new();
    let mut last: BTreeMap<ValueId, usize> = BTreeMap::new();
    let root_of = |p: &MemoryPlan, v: ValueId| match p.storage.get(&v) {
        Some(Storage::View(r)) => *r,
        _ => v,
    };
    for (ni, n) in g.nodes.iter().enumerate() {
        if p.aliased.contains(&ni) {
            continue;
        }
        for v in n.outputs.iter().flatten() {
            if !p.storage.contains_key(v) {
                first.insert(*v, ni);
                last.insert(*v, ni);
            }
        }
        for v in n.inputs.iter().flatten() {
            let r = root_of(&p, *v);
            if let Some(l) = last.get_mut(&r) {
                *l = (*l).max(ni);
            }
        }
    }
    for src in p.output_sources.iter().flatten() {
        let r = root_of(&p, *src);
        if let Some(l) = last.get_mut(&r) {
            *l = g.nodes.len();
        }
    }
    concat_in_place(g, ops, &mut p, &mut first, &mut last);
    // Constants read by kernels.
    for (ni, n) in g.nodes.iter().enumerate() {
        if p.aliased.contains(&ni) {
            continue;
        }
        // A view of a constant (a Reshape or Identity that was not folded) reads its root.
        for v in n.inputs.iter().flatten() {
            let r = root_of(&p, *v);
            if g.value(r).konst.is_some() && !p.storage.contains_key(&r) {
                p.storage.insert(r, Storage::Weight);
            }
        }
    }
    for src in p.output_sources.iter().flatten() {
        let r = root_of(&p, *src);
        if g.value(r).konst.is_some() && !p.storage.contains_key(&r) {
            p.storage.insert(r, Storage::Weight);
        }
    }
    // Place scratch values: largest first (sizes compared at a large dim value), then by
    // first use, then id, for determinism.
    let mut items: Vec<(ValueId, Dim, usize, usize)> = vec![];
    for (v, f) in &first {
        let t =
            g.value(*v).ty.as_ref().ok_or_else(|| {
                Error::Internal(format!("value {} has no type", g.value(*v).name))
            })?;
        items.push((*v, byte_size(t).add(&Dim::known(guard)), *f, last[v]));
    }
    let probe = |d: &Dim| d.eval(&|_| 1 << 16).unwrap_or(i64::MAX);
    items.sort_by(|a, b| {
        probe(&b.1)
            .cmp(&probe(&a.1))
            .then(a.2.cmp(&b.2))
            .then(a.0.cmp(&b.0))
    });
    let mut placed: Vec<(Dim, Dim, usize, usize)> = vec![]; // offset, size, first, last
    let mut top = Dim::known(0);
    for (v, size, f, l) in items {
        let mut overlapping: Vec<&(Dim, Dim, usize, usize)> = placed
            .iter()
            .filter(|(_, _, pf, pl)| *pf <= l && f <= *pl)
            .collect();
        overlapping.sort_by_key(|a| probe(&a.0));
        // Lowest gap that fits for every dim value.
        let mut cand = Dim::known(0);
        for (o, s, _, _) in &overlapping {
            if o.sub(&cand).dominates(&size) {
                break;
            }
            let end = o.add(s);
            if end.dominates(&cand) {
                cand = end;
            } else if !cand.dominates(&end) {
                // Not comparable for all dim values: place after both.
                cand = cand.add(&end);
            }
        }
        // The candidate must not overlap any other placed value (the scan above assumed
        // sorted, non-overlapping order, which symbolic sizes may break): check all.
        let ok = overlapping
            .iter()
            .all(|(o, s, _, _)| o.dominates(&cand.add(&size)) || cand.dominates(&o.add(s)));
        if !ok {
            cand = top.clone();
        }
        let end = cand.add(&size);
        if !top.dominates(&end) {
            top = if end.dominates(&top) {
                end
            } else {
                top.add(&size)
            };
        }
        p.storage.insert(
            v,
            Storage::Scratch {
                offset: cand.clone(),
                size: size.clone(),
                first: f,
                last: l,
            },
        );
        placed.push((cand, size, f, l));
    }
    p.scratch_size = top;
    // Lower bound: the largest total live at one node (known sizes only).
    let n = g.nodes.len() + 1;
    let mut best = Some(0i64);
    for t in 0..n {
        let mut tot = Some(0i64);
        for (_, s, f, l) in &placed {
            if *f <= t && t <= *l {
                tot = tot.zip(s.as_known()).map(|(a, b)| a + b);
            }
        }
        best = best.zip(tot).map(|(a, b)| a.max(b));
    }
    p.lower_bound = best;
    Ok(p)
}

/// Concat in place: when a Concat's output `y` is a scratch value, its inputs are contiguous
/// slices of it (every dim before the axis is 1, all sizes known, every slice starting at a
/// multiple of `ALIGN` bytes), and each input is a scratch value of its own that appears once
/// in the Concat and has no other storage yet, each input becomes a `Storage::Slice` of `y`:
/// its producer writes its part of `y` directly, other readers read it there, and the Concat
/// node needs no kernel. `y` then lives from the first input's producer to the last reader of
/// `y` or of any input.
fn concat_in_place(
    g: &Graph,
    ops: &[Box<dyn Op>],
    p: &mut MemoryPlan,
    first: &mut BTreeMap<ValueId, usize>,
    last: &mut BTreeMap<ValueId, usize>,
) {
    for (ni, (n, op)) in g.nodes.iter().zip(ops).enumerate() {
        if p.aliased.contains(&ni) {
            continue;
        }
        let Some(y) = n.output(0) else { continue };
        let Some(yt) = g.value(y).ty.as_ref() else {
            continue;
        };
        let Some(ax) = op.concat_axis(yt.shape.len()) else {
            continue;
        };
        if !first.contains_key(&y) || p.storage.contains_key(&y) {
            continue;
        }
        let Some(esize) = yt.dtype.storage().map(|e| e.size() as i64) else {
            continue;
        };
        if !yt.shape[..ax].iter().all(|d| d.as_known() == Some(1)) {
            continue;
        }
        // Byte offset of each input's slice; None when any input does not qualify.
        let mut slices = vec![];
        let mut offset = 0i64;
        let mut seen = BTreeSet::new();
        for x in &n.inputs {
            let Some(x) = *x else {
                slices.clear();
                break;
            };
            let numel = g.value(x).ty.as_ref().and_then(|t| {
                t.shape
                    .iter()
                    .map(|d| d.as_known())
                    .product::<Option<i64>>()
            });
            let ok = seen.insert(x)
                && first.contains_key(&x)
                && !p.storage.contains_key(&x)
                && offset % ALIGN == 0
                && numel.is_some();
            if !ok {
                slices.clear();
                break;
            }
            let bytes = numel.unwrap_or(0) * esize;
            slices.push((x, offset, bytes));
            offset += bytes;
        }
        if slices.is_empty() {
            continue;
        }
        let (mut f, mut l) = (first[&y], last[&y]);
        for (x, byte_offset, bytes) in slices {
            f = f.min(first.remove(&x).unwrap_or(f));
            l = l.max(last.remove(&x).unwrap_or(l));
            p.storage.insert(
                x,
                Storage::Slice {
                    of: y,
                    byte_offset,
                    bytes,
                },
            );
        }
        first.insert(y, f);
        last.insert(y, l);
        p.aliased.insert(ni);
    }
}

/// Check that scratch values live at the same time never overlap, for the given dim values.
pub fn check_no_overlap(
    p: &MemoryPlan,
    dims: &dyn Fn(crate::kir::SymId) -> i64,
) -> Result<(), String> {
    let mut spans = vec![];
    for (v, s) in &p.storage {
        if let Storage::Scratch {
            offset,
            size,
            first,
            last,
        } = s
        {
            let o = offset.eval(dims).ok_or("overflow")?;
            let z = size.eval(dims).ok_or("overflow")?;
            let total = p.scratch_size.eval(dims).ok_or("overflow")?;
            if o % ALIGN != 0 || o < 0 || o + z > total {
                return Err(format!("value {} misplaced", v.0));
            }
            spans.push((*v, o, o + z, *first, *last));
        }
    }
    // A slice lies inside its root (followed along the chain of slices).
    for (v, s) in &p.storage {
        let Storage::Slice { bytes: size, .. } = s else {
            continue;
        };
        let (mut at, mut r, mut hops) = (0i64, *v, 0);
        while let Some(Storage::Slice {
            of, byte_offset, ..
        }) = p.storage.get(&r)
        {
            at += byte_offset;
            r = *of;
            hops += 1;
            if hops > p.storage.len() {
                return Err(format!("value {}: slices form a cycle", v.0));
            }
        }
        let Some((_, o, end, _, _)) = spans.iter().find(|s| s.0 == r) else {
            return Err(format!("value {}: slice of a value not in scratch", v.0));
        };
        if at % ALIGN != 0 || at < 0 || o + at + size > *end {
            return Err(format!("value {}: slice outside its root {}", v.0, r.0));
        }
    }
    for (i, a) in spans.iter().enumerate() {
        for b in &spans[i + 1..] {
            let time = a.3 <= b.4 && b.3 <= a.4;
            let space = a.1 < b.2 && b.1 < a.2;
            if time && space {
                return Err(format!("values {} and {} overlap", a.0 .0, b.0 .0));
            }
        }
    }
    Ok(())
}
