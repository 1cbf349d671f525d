//! `layout`: layout selection. On targets whose convolution kernel works on the blocked
//! NCHWc layout (AVX-512: 16 channels, `runtime-shim/src/gemm_nchwc.rs`), the f32
//! convolutions that can take it compute on `[N, C / L, H, W, L]` images, read in place
//! with no packing at run time, and pass them on in that layout to the next such
//! convolution (directly, as a fused residual, or through a Concat of channels: the blocked
//! images joined along their channel blocks are the blocked image of the join). `Reorder`
//! nodes (`ops::cnn::reorder`) convert at the edges of these regions: into the layout
//! before the first convolution, back to NCHW before any other reader (pooling, a
//! flatten, a graph output).
//!
//! A convolution is a candidate when it is 2-D, of one group, f32, with constant weights,
//! known channels that are multiples of L, known spatial sizes, an output at least
//! `MIN_WIDTH` pixels wide, and its output is not a graph output. Candidates joined by
//! blocked values form regions; a region is converted only when one of its convolutions
//! has a window (a kernel larger than 1x1, a stride or padding): a 1x1 convolution of
//! stride 1 already reads its image in place as a plain matrix, so a region of those alone
//! would only add the reorders. Results differ from
//! the NCHW computation in rounding only (a blocked convolution sums its products in
//! (channel block, tap, lane) order, `kir::ConvGeom`); every backend computes the same bits.

use super::Model;
use crate::ir::{AttrValue, Node, TensorType, ValueId};
use crate::ops::cnn::conv::{blocked_shape, unblocked_shape};
use crate::ops::cnn::reorder::{self, Reorder};
use crate::ops::concat::Concat;
use crate::ops::Op;
use crate::tensor::DType;
use std::collections::HashMap;

pub const NAME: &str = "layout";

/// Channels per block of the layout the target's kernels compute on, or 0 for NCHW
/// everywhere: 16 on x86_64 with AVX-512F (the only blocked kernel so far).
pub fn block_for(t: &kiln_targets::Target) -> i64 {
    let x86 = matches!(
        t.triple.architecture,
        target_lexicon::Architecture::X86_64 | target_lexicon::Architecture::X86_64h
    );
    if x86 && t.has_feature("avx512f") {
        16
    } else {
        0
    }
}

/// Multiply-adds a region needs per element its reorders copy to be converted. The blocked
/// kernel saves the packing, about a tenth of a convolution's time at some 0.01 ns per
/// multiply-add, against about 1 ns per element for a reorder's scalar copy loop: about
/// 1000 multiply-adds per element (resnet18's one region has 7700 and ran 3% faster;
/// squeezenet1_1's fire modules between the poolings, with Concats, 1x1 convolutions of 16
/// outputs and no region above 150, ran 12% slower converted).
const MACS_PER_MOVED: f64 = 1000.0;

/// Narrowest output a blocked convolution computes: the kernel's tiles are up to 12 pixels
/// of one output row, so rows of 7 or 14 pixels give tiles of 7, and the NCHW kernel,
/// whose tiles take pixels across rows, is faster there (four 3x3 convolutions of 512
/// channels on 7x7: 7.29 ms blocked against 5.90 NCHW; of 256 on 14x14: 5.84 against 5.51).
const MIN_WIDTH: i64 = 16;

thread_local! {
    static LIMITS: std::cell::Cell<(f64, i64)> =
        const { std::cell::Cell::new((MACS_PER_MOVED, MIN_WIDTH)) };
}

/// Runs `f` with `ratio` instead of `MACS_PER_MOVED` and `width` instead of `MIN_WIDTH` on
/// this thread (tests convert small regions of small images with 0 and 0).
pub fn with_limits<T>(ratio: f64, width: i64, f: impl FnOnce() -> T) -> T {
    let old = LIMITS.with(|c| c.replace((ratio, width)));
    let r = f();
    LIMITS.with(|c| c.set(old));
    r
}

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

/// Select the layout of every convolution region (see the module) for blocks of `l`.
pub fn select(m: &mut Model, l: i64) {
    if l <= 0 {
        return;
    }
    let g = &m.graph;
    // A subgraph may read any outer value by name: leave such graphs in NCHW.
    let nested = g.nodes.iter().any(|node| {
        node.attrs
            .iter()
            .any(|(_, a)| matches!(a, AttrValue::Graph(_) | AttrValue::Graphs(_)))
    });
    if nested {
        return;
    }
    let n = g.nodes.len();
    let ty = |v: ValueId| g.value(v).ty.clone();
    let f32_4d = |v: ValueId| {
        ty(v).filter(|t| {
            t.dtype == DType::F32
                && t.shape.len() == 4
                && t.shape[1..].iter().all(|d| d.as_known().is_some())
        })
    };
    // Candidates, and whether each has a window.
    let mut cand = vec![false; n];
    let mut window = vec![false; n];
    for (i, node) in g.nodes.iter().enumerate() {
        if node.op_type != "Conv" || !node.domain.is_empty() {
            continue;
        }
        let (Some(Some(x)), Some(Some(w)), Some(Some(y))) = (
            node.inputs.first(),
            node.inputs.get(1),
            node.outputs.first(),
        ) else {
            continue;
        };
        let (Some(xt), Some(yt)) = (f32_4d(*x), f32_4d(*y)) else {
            continue;
        };
        let Some(wk) = g.value(*w).konst.as_ref() else {
            continue;
        };
        let c = xt.shape[1].as_known().unwrap_or(0);
        let mo = yt.shape[1].as_known().unwrap_or(0);
        let ow = yt.shape[3].as_known().unwrap_or(0);
        let ok = wk.dtype == DType::F32
            && ow >= LIMITS.with(|c| c.get().1)
            && wk.shape.len() == 4
            && wk.shape[1] as i64 == c
            && c % l == 0
            && mo % l == 0
            && !g.outputs.contains(y)
            && m.ops[i].with_layout(l).is_some();
        if ok {
            cand[i] = true;
            window[i] = !(wk.shape[2] == 1 && wk.shape[3] == 1 && xt.shape[2..] == yt.shape[2..]);
        }
    }
    // Members: candidates, and Concats along the channels (multiples of L) of members'
    // outputs. A member's blocked inputs: a convolution's image and residual, a Concat's
    // every input.
    let producers = g.producers();
    let mut member = cand.clone();
    let mut concat = vec![false; n];
    for (i, node) in g.nodes.iter().enumerate() {
        let ok = node.op_type == "Concat"
            && node.domain.is_empty()
            && m.ops[i].concat_axis(4) == Some(1)
            && node
                .outputs
                .first()
                .copied()
                .flatten()
                .is_some_and(|y| f32_4d(y).is_some() && !g.outputs.contains(&y))
            && !node.inputs.is_empty()
            && node.inputs.iter().all(|v| {
                v.is_some_and(|v| {
                    producers[v.0 as usize].is_some_and(|p| member[p.0 as usize])
                        && f32_4d(v).is_some_and(|t| t.shape[1].as_known().unwrap_or(1) % l == 0)
                })
            });
        if ok {
            member[i] = true;
            concat[i] = true;
        }
    }
    let blocked_inputs = |i: usize, node: &Node| -> Vec<ValueId> {
        if concat[i] {
            node.inputs.iter().flatten().copied().collect()
        } else {
            [0usize, 3]
                .iter()
                .filter_map(|&k| node.inputs.get(k).copied().flatten())
                .collect()
        }
    };
    let from_member = |v: ValueId| -> Option<usize> {
        let p = producers[v.0 as usize]?.0 as usize;
        member[p].then_some(p)
    };
    // Regions: members joined through their blocked inputs.
    let mut parent: Vec<usize> = (0..n).collect();
    for (i, node) in g.nodes.iter().enumerate() {
        if !member[i] {
            continue;
        }
        for v in blocked_inputs(i, node) {
            if let Some(p) = from_member(v) {
                let (a, b) = (find(&mut parent, i), find(&mut parent, p));
                parent[a] = b;
            }
        }
    }
    // Per region: whether a convolution has a window, its multiply-adds, and the elements
    // the reorders at its edges copy, per image (the batch may be symbolic; it scales both
    // sides alike).
    let numel = |v: ValueId| {
        ty(v).map_or(0.0, |t| {
            t.shape[1..]
                .iter()
                .map(|d| d.as_known().unwrap_or(0) as f64)
                .product()
        })
    };
    let roots: Vec<usize> = (0..n).map(|i| find(&mut parent, i)).collect();
    let (mut win, mut macs, mut moved) = (vec![false; n], vec![0f64; n], vec![0f64; n]);
    // How many times members read each value as a blocked input.
    let mut inside = vec![0u32; g.values.len()];
    for (i, node) in g.nodes.iter().enumerate() {
        if member[i] {
            for v in blocked_inputs(i, node) {
                inside[v.0 as usize] += 1;
            }
        }
    }
    let uses = g.use_counts();
    for (i, node) in g.nodes.iter().enumerate() {
        if !member[i] {
            continue;
        }
        let r = roots[i];
        win[r] |= window[i];
        let y = node.outputs[0].unwrap_or(ValueId(0));
        if cand[i] {
            let k = g
                .value(node.inputs[1].unwrap_or(ValueId(0)))
                .konst
                .as_ref()
                .map_or(0, |w| w.shape[1..].iter().product::<u64>()) as f64;
            macs[r] += numel(y) * k;
        }
        for v in blocked_inputs(i, node) {
            if from_member(v).is_none() {
                moved[r] += numel(v);
            }
        }
        // Read by anything but members: reordered back.
        if uses[y.0 as usize] > inside[y.0 as usize] {
            moved[r] += numel(y);
        }
    }
    let ratio = LIMITS.with(|c| c.get().0);
    let blocked_node: Vec<bool> = (0..n)
        .map(|i| {
            let r = roots[i];
            member[i] && win[r] && macs[r] >= ratio * moved[r]
        })
        .collect();
    if !blocked_node.iter().any(|b| *b) {
        return;
    }
    rewrite(m, l, &blocked_node, &concat);
}

/// Converts the nodes marked in `blocked` and inserts the reorders.
fn rewrite(m: &mut Model, l: i64, blocked: &[bool], concat: &[bool]) {
    let nodes = std::mem::take(&mut m.graph.nodes);
    let ops = std::mem::take(&mut m.ops);
    let mut is_blocked: HashMap<ValueId, bool> = HashMap::new();
    // Memoised reorders: value -> its other layout.
    let mut to_blk: HashMap<ValueId, ValueId> = HashMap::new();
    let mut to_flat: HashMap<ValueId, ValueId> = HashMap::new();
    let mut out_nodes = vec![];
    let mut out_ops: Vec<Box<dyn Op>> = vec![];
    for (i, (mut node, op)) in nodes.into_iter().zip(ops).enumerate() {
        let want_blocked = |k: usize| blocked[i] && (concat[i] || k == 0 || k == 3);
        for k in 0..node.inputs.len() {
            let Some(v) = node.inputs[k] else { continue };
            let have = is_blocked.get(&v).copied().unwrap_or(false);
            let want = want_blocked(k);
            if have == want {
                continue;
            }
            let memo = if want { &mut to_blk } else { &mut to_flat };
            let nv = match memo.get(&v) {
                Some(nv) => *nv,
                None => {
                    let g = &mut m.graph;
                    let old = g.value(v).clone();
                    let suffix = if want {
                        format!("nchwc{l}")
                    } else {
                        "nchw".into()
                    };
                    let nv = g.add_value(format!("{}.{suffix}", old.name));
                    let r = Reorder {
                        block: l,
                        to_blocked: want,
                    };
                    let shape = old.ty.as_ref().map(|t| t.shape.clone()).unwrap_or_default();
                    let other = if want {
                        blocked_shape(&shape, l)
                    } else {
                        unblocked_shape(&shape, l)
                    };
                    let shape = other.unwrap_or(shape);
                    g.value_mut(nv).ty = Some(TensorType {
                        dtype: DType::F32,
                        shape,
                    });
                    out_nodes.push(Node {
                        name: format!("{}.{suffix}", old.name),
                        op_type: reorder::OP_TYPE.into(),
                        domain: reorder::DOMAIN.into(),
                        opset: 1,
                        inputs: vec![Some(v)],
                        outputs: vec![Some(nv)],
                        attrs: vec![],
                    });
                    out_ops.push(Box::new(r));
                    is_blocked.insert(nv, want);
                    memo.insert(v, nv);
                    nv
                }
            };
            node.inputs[k] = Some(nv);
        }
        let op: Box<dyn Op> = if blocked[i] {
            if let Some(y) = node.outputs.first().copied().flatten() {
                let g = &mut m.graph;
                if let Some(t) = g.value_mut(y).ty.as_mut() {
                    if let Some(s) = blocked_shape(&t.shape, l) {
                        t.shape = s;
                    }
                }
                is_blocked.insert(y, true);
            }
            if concat[i] {
                // The blocked images joined along their channel blocks.
                Box::new(Concat { axis: 1 })
            } else {
                op.with_layout(l).unwrap_or(op)
            }
        } else {
            op
        };
        out_nodes.push(node);
        out_ops.push(op);
    }
    m.graph.nodes = out_nodes;
    m.ops = out_ops;
}
