//! The flat layout of tree ensembles: the trees become constant node arrays in the weight
//! blob (feature id, threshold, mode, missing-value flag, children, member-set ranges) and leaf
//! arrays (target ids and weights, or ranges of them), walked by one small kir loop per tree;
//! the batch rows are the outer loop, the trees the next one. Code size no longer grows with
//! the node count, so big forests compile in a fraction of the time the nested-`If` layout
//! (`tree_lower.rs`) needs; small ensembles keep the nested form, which is faster to run (no
//! loads of node data, every threshold an immediate). See docs/decisions.md, "Tree ensembles:
//! flat node arrays above 2048 nodes".
//!
//! Encoding (all indices `i32`): branch node `i` is index `i`; leaf `l` is a pseudo-node
//! `n + l` (n = branch count) whose two children are itself, with feature 0 and no member set,
//! so a walk that reaches a leaf stays there and no step needs a branch: a step is
//! `cur = child[cur][cond ? 0 : 1]`. With f32 thresholds a node is one 16-byte record
//! `[feature, threshold bits, true child, false child]`; with f64 ones feature, threshold and
//! children are separate arrays. Trees are walked sixteen at a time (independent load chains
//! the processor overlaps; measured 23.7 ms with 4, 15 ms with 8, 13-14 ms with 16 on 1000 rows
//! of a 500x8 forest), the remainder four at a time, each group for the largest depth (longest
//! root-to-leaf path in branch nodes) of its trees, and the last few trees one at a time for
//! their own depth.
//! Leaf weights are then applied in tree order, so sums round exactly as in the nested layout.
//! Leaves: when every leaf has exactly one `(target, weight)`, one weight (and, with several
//! targets, one target id) per leaf; otherwise `[start, end)` ranges into target/weight arrays,
//! applied in order (so repeated targets in one leaf, and MIN/MAX, behave as in the nested
//! form). The target of a weight picks its score variable through a compare per target.
//!
//! Every array is built from the validated model: children and targets are in range, and the
//! feature ids were checked against the input width when the op's types were inferred, so no
//! value from the arrays indexes out of bounds.

use super::to;
use super::tree::{Agg, Child, Mode, TreeEnsemble};
use crate::error::Result;
use crate::kir::build::{self, cmp, or, select, KernelBuilder};
use crate::kir::{BinOp, BufId, CmpOp, Expr, Lit, Scalar, UnOp, VarId};
use crate::lower::{LowerCx, TensorRef};

/// Branch-node count above which the flat layout is chosen (measured, see the module header).
pub const FLAT_ABOVE_NODES: usize = 2048;

thread_local! {
    static FORCE: std::cell::Cell<Option<bool>> = const { std::cell::Cell::new(None) };
}

/// Run `f` with the layout forced on this thread (`Some(true)`: flat, `Some(false)`: nested);
/// tests use it to compare both layouts without touching the environment.
pub fn with_layout<R>(flat: Option<bool>, f: impl FnOnce() -> R) -> R {
    let old = FORCE.with(|c| c.replace(flat));
    let r = f();
    FORCE.with(|c| c.set(old));
    r
}

/// Which layout `lower` uses for an ensemble: `with_layout` on this thread, else
/// `KILN_TREE_LAYOUT=flat|nested`, else flat above `FLAT_ABOVE_NODES` branch nodes.
/// An ensemble without branch nodes (every tree a single leaf) always uses the nested form.
pub fn use_flat(e: &TreeEnsemble) -> Result<bool> {
    if e.nodes.is_empty() {
        return Ok(false);
    }
    if let Some(f) = FORCE.with(|c| c.get()) {
        return Ok(f);
    }
    match std::env::var("KILN_TREE_LAYOUT").ok().as_deref() {
        Some("flat") => return Ok(true),
        Some("nested") => return Ok(false),
        Some("") | None => {}
        Some(o) => {
            return Err(crate::error::Error::Usage(format!(
                "KILN_TREE_LAYOUT={o}: expected 'flat' or 'nested'"
            )))
        }
    }
    Ok(e.nodes.len() > FLAT_ABOVE_NODES)
}

fn bool_lit(b: bool) -> Expr {
    Expr::Imm(Scalar::Bool, Lit::Int(b as i64))
}

fn i32s(v: impl IntoIterator<Item = i64>) -> Vec<u8> {
    v.into_iter()
        .flat_map(|x| (x as i32).to_ne_bytes())
        .collect()
}

fn floats(ty: Scalar, v: impl IntoIterator<Item = f64>) -> Vec<u8> {
    v.into_iter()
        .flat_map(|x| match ty {
            Scalar::F32 => (x as f32).to_ne_bytes().to_vec(),
            _ => x.to_ne_bytes().to_vec(),
        })
        .collect()
}

/// Trees walked together (see the module header): groups of 16 first, then of 4 for the rest,
/// then one at a time.
const GROUPS: [usize; 2] = [16, 4];

/// The group partition of `n_trees` trees: (group size, first tree, group count) per size.
fn partition(n_trees: usize) -> Vec<(usize, usize, usize)> {
    let mut t = 0;
    let mut out = vec![];
    for g in GROUPS {
        let k = (n_trees - t) / g;
        if k > 0 {
            out.push((g, t, k));
        }
        t += k * g;
    }
    out
}

/// A child as an index: branch nodes first, then one pseudo-node per leaf.
fn enc(n: usize, c: Child) -> i64 {
    match c {
        Child::Node(i) => i as i64,
        Child::Leaf(l) => (n + l) as i64,
    }
}

fn i64_of(e: Expr) -> Expr {
    build::cast(Scalar::I64, e)
}

/// How the leaves are stored.
enum Leaves {
    /// One weight per leaf; the target array is absent with a single target.
    One { tgt: Option<BufId>, w: BufId },
    /// `[start[l], end[l])` ranges into the target and weight arrays.
    Ranges {
        start: BufId,
        end: BufId,
        tgt: BufId,
        w: BufId,
    },
}

/// Feature, threshold and children of every node.
enum NodeArrays {
    /// f32 thresholds: one i32 record per node, `[feature, threshold bits, true, false]` (one
    /// cache line holds four nodes, and a step touches one record).
    Packed(BufId),
    /// f64 thresholds: separate arrays (`children[2 i]`, `children[2 i + 1]`).
    Split {
        feat: BufId,
        thr: BufId,
        children: BufId,
    },
}

/// The arrays of one ensemble and what the walk needs to know about them.
pub struct Flat {
    nodes: NodeArrays,
    /// Per-node mode codes (0 LEQ .. 6 MEMBER), only when the modes are mixed.
    modes: Option<BufId>,
    /// The one mode of every node when not mixed.
    mode: Mode,
    /// Per-node NaN-goes-true flags, only when some node has it.
    nan: Option<BufId>,
    /// Member-set ranges and values, only when some node is BRANCH_MEMBER.
    members: Option<(BufId, BufId, BufId)>,
    roots: BufId,
    depth: BufId,
    /// Per group size (see `partition`): the largest depth in each group.
    group_depth: Vec<(usize, usize, usize, BufId)>,
    /// Branch-node count (the first pseudo-node).
    n: usize,
    n_trees: usize,
    leaves: Leaves,
    ct: Scalar,
    at: Scalar,
}

fn mode_code(m: Mode) -> i64 {
    match m {
        Mode::Leq => 0,
        Mode::Lt => 1,
        Mode::Gte => 2,
        Mode::Gt => 3,
        Mode::Eq => 4,
        Mode::Neq => 5,
        Mode::Member => 6,
    }
}

/// Longest path (in branch nodes) from every node to a leaf; the graph is acyclic (checked at
/// import).
fn depths(e: &TreeEnsemble) -> Vec<usize> {
    let n = e.nodes.len();
    let mut d = vec![usize::MAX; n];
    for start in 0..n {
        if d[start] != usize::MAX {
            continue;
        }
        // Iterative post-order.
        let mut stack = vec![(start, false)];
        while let Some((i, done)) = stack.pop() {
            if d[i] != usize::MAX {
                continue;
            }
            let b = &e.nodes[i];
            let kids = [b.t, b.f];
            if done {
                let m = kids
                    .iter()
                    .map(|c| match c {
                        Child::Node(j) => d[*j],
                        Child::Leaf(_) => 0,
                    })
                    .max()
                    .unwrap_or(0);
                d[i] = m + 1;
            } else {
                stack.push((i, true));
                for c in kids {
                    if let Child::Node(j) = c {
                        if d[j] == usize::MAX {
                            stack.push((j, false));
                        }
                    }
                }
            }
        }
    }
    d
}

impl Flat {
    /// Build the arrays into the weight blob. `ct` is the compare type, `at` the accumulator's.
    pub fn build(e: &TreeEnsemble, cx: &mut LowerCx, ct: Scalar, at: Scalar) -> Result<Flat> {
        let n = e.nodes.len();
        if n == 0 {
            return Err(cx.err("the flat layout needs at least one branch node"));
        }
        if n + e.leaves.len() >= i32::MAX as usize / 2 {
            return Err(cx.err("the tree ensemble has too many nodes for the flat layout"));
        }
        let nl = e.leaves.len();
        let pseudo = 0..nl;
        let feats = e
            .nodes
            .iter()
            .map(|b| b.feature as i64)
            .chain(pseudo.clone().map(|_| 0));
        let thrs = e
            .nodes
            .iter()
            .map(|b| b.value)
            .chain(pseudo.clone().map(|_| 0.0));
        let kids = e
            .nodes
            .iter()
            .map(|b| [enc(n, b.t), enc(n, b.f)])
            .chain(pseudo.clone().map(|l| [(n + l) as i64; 2]));
        let nodes = if ct == Scalar::F32 {
            let rec = feats
                .zip(thrs)
                .zip(kids)
                .flat_map(|((f, t), [a, b])| [f, (t as f32).to_bits() as i32 as i64, a, b]);
            NodeArrays::Packed(cx.weight("tree_nodes", Scalar::I32, i32s(rec)))
        } else {
            NodeArrays::Split {
                feat: cx.weight("tree_feature", Scalar::I32, i32s(feats)),
                thr: cx.weight("tree_threshold", ct, floats(ct, thrs)),
                children: cx.weight("tree_children", Scalar::I32, i32s(kids.flatten())),
            }
        };
        let first = e.nodes.first().map(|b| b.mode).unwrap_or(Mode::Leq);
        let mixed = e.nodes.iter().any(|b| b.mode != first);
        let modes = mixed.then(|| {
            cx.weight(
                "tree_mode",
                Scalar::I32,
                i32s(
                    e.nodes
                        .iter()
                        .map(|b| mode_code(b.mode))
                        .chain(pseudo.clone().map(|_| 0)),
                ),
            )
        });
        let nan = e.nodes.iter().any(|b| b.nan_true).then(|| {
            cx.weight(
                "tree_nan_true",
                Scalar::Bool,
                e.nodes
                    .iter()
                    .map(|b| b.nan_true as u8)
                    .chain(pseudo.clone().map(|_| 0))
                    .collect(),
            )
        });
        let members = if e.nodes.iter().any(|b| b.mode == Mode::Member) {
            let (mut st, mut en, mut vals) = (vec![], vec![], vec![]);
            for b in &e.nodes {
                st.push(vals.len() as i64);
                if b.mode == Mode::Member {
                    vals.extend_from_slice(&b.members);
                }
                en.push(vals.len() as i64);
            }
            st.extend(pseudo.clone().map(|_| 0));
            en.extend(pseudo.clone().map(|_| 0));
            if vals.is_empty() {
                vals.push(0.0); // keep the array non-empty; no range reads it
            }
            Some((
                cx.weight("tree_member_start", Scalar::I32, i32s(st)),
                cx.weight("tree_member_end", Scalar::I32, i32s(en)),
                cx.weight("tree_member_values", ct, floats(ct, vals)),
            ))
        } else {
            None
        };
        let d = depths(e);
        let tree_depth: Vec<i64> = e
            .roots
            .iter()
            .map(|r| match r {
                Child::Node(i) => d[*i] as i64,
                Child::Leaf(_) => 0,
            })
            .collect();
        let roots = cx.weight(
            "tree_roots",
            Scalar::I32,
            i32s(e.roots.iter().map(|&r| enc(n, r))),
        );
        let group_depth = partition(e.roots.len())
            .into_iter()
            .map(|(g, t0, k)| {
                let d = tree_depth[t0..t0 + g * k]
                    .chunks(g)
                    .map(|c| c.iter().copied().max().unwrap_or(0));
                let b = cx.weight(&format!("tree_group{g}_depth"), Scalar::I32, i32s(d));
                (g, t0, k, b)
            })
            .collect();
        let depth = cx.weight("tree_depth", Scalar::I32, i32s(tree_depth));
        // onnxruntime's single-target path gives every leaf one weight (0 if none), as in the
        // nested layout.
        let zero = vec![(0usize, 0.0f64)];
        let lv: Vec<&Vec<(usize, f64)>> = e
            .leaves
            .iter()
            .map(|v| {
                if v.is_empty() && e.n_targets == 1 {
                    &zero
                } else {
                    v
                }
            })
            .collect();
        let leaves = if !lv.is_empty() && lv.iter().all(|v| v.len() == 1) {
            let tgt = (e.n_targets > 1).then(|| {
                cx.weight(
                    "tree_leaf_target",
                    Scalar::I32,
                    i32s(lv.iter().map(|v| v[0].0 as i64)),
                )
            });
            let w = cx.weight(
                "tree_leaf_weight",
                at,
                floats(at, lv.iter().map(|v| v[0].1)),
            );
            Leaves::One { tgt, w }
        } else {
            let (mut st, mut en, mut tg, mut ws) = (vec![], vec![], vec![], vec![]);
            for v in &lv {
                st.push(tg.len() as i64);
                for &(t, w) in v.iter() {
                    tg.push(t as i64);
                    ws.push(w);
                }
                en.push(tg.len() as i64);
            }
            if tg.is_empty() {
                tg.push(0);
                ws.push(0.0);
            }
            if st.is_empty() {
                st.push(0);
                en.push(0);
            }
            Leaves::Ranges {
                start: cx.weight("tree_leaf_start", Scalar::I32, i32s(st)),
                end: cx.weight("tree_leaf_end", Scalar::I32, i32s(en)),
                tgt: cx.weight("tree_leaf_target", Scalar::I32, i32s(tg)),
                w: cx.weight("tree_leaf_weight", at, floats(at, ws)),
            }
        };
        Ok(Flat {
            nodes,
            modes,
            mode: first,
            nan,
            members,
            roots,
            depth,
            group_depth,
            n,
            n_trees: e.roots.len(),
            leaves,
            ct,
            at,
        })
    }

    /// The condition of one mode for feature value `xv` against threshold `th` at node `cur`.
    fn cond(&self, kb: &mut KernelBuilder, m: Mode, xv: &Expr, th: &Expr, cur: &Expr) -> Expr {
        let c = |op| cmp(op, xv.clone(), th.clone());
        match m {
            Mode::Leq => c(CmpOp::Le),
            Mode::Lt => c(CmpOp::Lt),
            Mode::Gte => c(CmpOp::Ge),
            Mode::Gt => c(CmpOp::Gt),
            Mode::Eq => c(CmpOp::Eq),
            Mode::Neq => c(CmpOp::Ne),
            Mode::Member => {
                let (st, en, vals) = self.members.expect("member arrays exist for member nodes");
                let hit = kb.let_mut(Scalar::Bool, bool_lit(false));
                let lo = i64_of(build::load(st, cur.clone()));
                let hi = i64_of(build::load(en, cur.clone()));
                kb.loop_(lo, hi, |kb, j| {
                    let eq = cmp(CmpOp::Eq, xv.clone(), build::load(vals, j));
                    kb.set(hit, or(Expr::Var(hit), eq));
                });
                Expr::Var(hit)
            }
        }
    }

    /// One step of the walk from node variable `cur` for the row at `base`.
    fn step(&self, kb: &mut KernelBuilder, x: &TensorRef, base: &Expr, cur: VarId) {
        let ct = self.ct;
        let c = Expr::Var(cur);
        let at = |k: i64| build::add(build::mul(c.clone(), Expr::i64(4)), Expr::i64(k));
        let (fi, th) = match self.nodes {
            NodeArrays::Packed(rec) => (
                i64_of(build::load(rec, at(0))),
                build::bitcast(Scalar::F32, build::load(rec, at(1))),
            ),
            NodeArrays::Split { feat, thr, .. } => (
                i64_of(build::load(feat, c.clone())),
                build::load(thr, c.clone()),
            ),
        };
        let xv = kb.let_(ct, to(ct, x.elem, x.load(build::add(base.clone(), fi))));
        let th = kb.let_(ct, th);
        let mut cond = match self.modes {
            None => self.cond(kb, self.mode, &xv, &th, &c),
            Some(mb) => {
                let code = kb.let_(Scalar::I32, build::load(mb, c.clone()));
                let mut acc = bool_lit(false);
                for m in [
                    Mode::Leq,
                    Mode::Lt,
                    Mode::Gte,
                    Mode::Gt,
                    Mode::Eq,
                    Mode::Neq,
                    Mode::Member,
                ] {
                    if m == Mode::Member && self.members.is_none() {
                        continue;
                    }
                    let is = cmp(
                        CmpOp::Eq,
                        code.clone(),
                        Expr::Imm(Scalar::I32, Lit::Int(mode_code(m))),
                    );
                    let v = self.cond(kb, m, &xv, &th, &c);
                    acc = or(acc, build::and(is, v));
                }
                acc
            }
        };
        if let Some(nb) = self.nan {
            let isnan = cmp(CmpOp::Ne, xv.clone(), xv.clone());
            cond = or(cond, build::and(build::load(nb, c.clone()), isnan));
        }
        let side = select(cond, Expr::i64(0), Expr::i64(1));
        let child = match self.nodes {
            NodeArrays::Packed(rec) => build::load(rec, build::add(at(2), side)),
            NodeArrays::Split { children, .. } => build::load(
                children,
                build::add(build::mul(c.clone(), Expr::i64(2)), side),
            ),
        };
        kb.set(cur, i64_of(child));
    }

    /// Apply the leaf that walk variable `cur` ended on.
    fn leaf(&self, kb: &mut KernelBuilder, agg: Agg, s: &[VarId], has: &[VarId], cur: VarId) {
        let at = self.at;
        let leaf = kb.let_(
            Scalar::I64,
            build::sub(Expr::Var(cur), Expr::i64(self.n as i64)),
        );
        match self.leaves {
            Leaves::One { tgt, w } => {
                let wv = kb.let_(at, build::load(w, leaf.clone()));
                let tv = tgt.map(|tb| kb.let_(Scalar::I32, build::load(tb, leaf)));
                accumulate(kb, agg, s, has, tv, wv);
            }
            Leaves::Ranges { start, end, tgt, w } => {
                let lo = i64_of(build::load(start, leaf.clone()));
                let hi = i64_of(build::load(end, leaf));
                kb.loop_(lo, hi, |kb, j| {
                    let wv = kb.let_(at, build::load(w, j.clone()));
                    let tv = (s.len() > 1).then(|| kb.let_(Scalar::I32, build::load(tgt, j)));
                    accumulate(kb, agg, s, has, tv, wv);
                });
            }
        }
    }

    /// Walk every tree for the row whose features start at `base` in `x`, accumulating into
    /// the per-target scores `s` and "got a score" flags `has` with `agg`.
    pub fn emit(
        &self,
        kb: &mut KernelBuilder,
        x: &TensorRef,
        base: &Expr,
        agg: Agg,
        s: &[VarId],
        has: &[VarId],
    ) {
        let mut rest = 0;
        for &(size, t_first, groups, depth_buf) in &self.group_depth {
            kb.loop_(Expr::i64(0), Expr::i64(groups as i64), |kb, g| {
                let t0 = build::add(
                    Expr::i64(t_first as i64),
                    build::mul(g.clone(), Expr::i64(size as i64)),
                );
                let curs: Vec<VarId> = (0..size)
                    .map(|j| {
                        let t = build::add(t0.clone(), Expr::i64(j as i64));
                        kb.let_mut(Scalar::I64, i64_of(build::load(self.roots, t)))
                    })
                    .collect();
                let steps = i64_of(build::load(depth_buf, g));
                kb.loop_(Expr::i64(0), steps, |kb, _| {
                    for &c in &curs {
                        self.step(kb, x, base, c);
                    }
                });
                for &c in &curs {
                    self.leaf(kb, agg, s, has, c);
                }
            });
            rest = t_first + groups * size;
        }
        if rest < self.n_trees {
            kb.loop_(
                Expr::i64(rest as i64),
                Expr::i64(self.n_trees as i64),
                |kb, t| {
                    let cur = kb.let_mut(Scalar::I64, i64_of(build::load(self.roots, t.clone())));
                    let steps = i64_of(build::load(self.depth, t));
                    kb.loop_(Expr::i64(0), steps, |kb, _| self.step(kb, x, base, cur));
                    self.leaf(kb, agg, s, has, cur);
                },
            );
        }
    }
}

/// Add weight `w` for target `tgt` (None: the only target) into the scores as `agg` says; the
/// same arithmetic as the nested layout's leaves.
fn accumulate(
    kb: &mut KernelBuilder,
    agg: Agg,
    s: &[VarId],
    has: &[VarId],
    tgt: Option<Expr>,
    w: Expr,
) {
    for k in 0..s.len() {
        let hit = match &tgt {
            None => bool_lit(true),
            Some(t) => cmp(
                CmpOp::Eq,
                t.clone(),
                Expr::Imm(Scalar::I32, Lit::Int(k as i64)),
            ),
        };
        let (sv, hv) = (Expr::Var(s[k]), Expr::Var(has[k]));
        let new = match agg {
            Agg::Sum | Agg::Average => build::binary(BinOp::Add, sv.clone(), w.clone()),
            Agg::Min | Agg::Max => {
                let op = if agg == Agg::Min {
                    CmpOp::Lt
                } else {
                    CmpOp::Gt
                };
                let take = or(
                    build::unary(UnOp::Not, hv.clone()),
                    cmp(op, w.clone(), sv.clone()),
                );
                select(take, w.clone(), sv.clone())
            }
        };
        if tgt.is_none() {
            kb.set(s[k], new);
            kb.set(has[k], bool_lit(true));
        } else {
            let hit = kb.let_(Scalar::Bool, hit);
            kb.set(s[k], select(hit.clone(), new, sv));
            kb.set(has[k], or(hv, hit));
        }
    }
}
