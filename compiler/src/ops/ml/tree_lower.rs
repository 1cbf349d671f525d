//! Inference and lowering of the tree ensembles imported in `tree.rs` (see its header for the
//! semantics and the nested-`If` layout; `tree_flat.rs` holds the flat layout used for large
//! ensembles).

use super::tree::{Agg, Child, Kind, Mode, TreeEnsemble};
use super::{imm, logistic, post_transform, probit, to, Post};
use crate::error::Result;
use crate::ir::{Dim, TensorType};
use crate::kir::build::{self, cmp, or, select, KernelBuilder};
use crate::kir::{BinOp, CmpOp, Expr, Lit, Scalar, UnOp, VarId};
use crate::lower::LowerCx;
use crate::ops::{tt, InferCx, Op};
use crate::tensor::DType;
use std::collections::BTreeMap;

fn bool_lit(b: bool) -> Expr {
    Expr::Imm(Scalar::Bool, Lit::Int(b as i64))
}

/// Per-row state while emitting trees.
struct Row<'a> {
    e: &'a TreeEnsemble,
    xs: BTreeMap<usize, Expr>,
    s: Vec<VarId>,
    has: Vec<VarId>,
    ct: Scalar,
    at: Scalar,
}

impl Row<'_> {
    fn emit(&self, kb: &mut KernelBuilder, c: Child) {
        match c {
            Child::Leaf(l) => {
                // onnxruntime's single-target path gives every leaf one weight (0 if none).
                let zero = [(0usize, 0.0f64)];
                let ws: &[(usize, f64)] = match &self.e.leaves[l] {
                    v if v.is_empty() && self.e.n_targets == 1 => &zero,
                    v => v,
                };
                for &(k, w) in ws {
                    let (s, has) = (Expr::Var(self.s[k]), Expr::Var(self.has[k]));
                    let w = imm(self.at, w);
                    let v = match self.e.agg {
                        Agg::Sum | Agg::Average => build::binary(BinOp::Add, s, w),
                        Agg::Min | Agg::Max => {
                            let op = if self.e.agg == Agg::Min {
                                CmpOp::Lt
                            } else {
                                CmpOp::Gt
                            };
                            let take =
                                or(build::unary(UnOp::Not, has), cmp(op, w.clone(), s.clone()));
                            select(take, w, s)
                        }
                    };
                    kb.set(self.s[k], v);
                    kb.set(self.has[k], bool_lit(true));
                }
            }
            Child::Node(i) => {
                let b = &self.e.nodes[i];
                let x = self.xs[&b.feature].clone();
                let th = imm(self.ct, b.value);
                let mut cond = match b.mode {
                    Mode::Leq => cmp(CmpOp::Le, x.clone(), th),
                    Mode::Lt => cmp(CmpOp::Lt, x.clone(), th),
                    Mode::Gte => cmp(CmpOp::Ge, x.clone(), th),
                    Mode::Gt => cmp(CmpOp::Gt, x.clone(), th),
                    Mode::Eq => cmp(CmpOp::Eq, x.clone(), th),
                    Mode::Neq => cmp(CmpOp::Ne, x.clone(), th),
                    Mode::Member => b.members.iter().fold(bool_lit(false), |acc, &m| {
                        or(acc, cmp(CmpOp::Eq, x.clone(), imm(self.ct, m)))
                    }),
                };
                if b.nan_true {
                    cond = or(cond, cmp(CmpOp::Ne, x.clone(), x));
                }
                let (t, f) = (b.t, b.f);
                kb.if_(cond, |kb| self.emit(kb, t), |kb| self.emit(kb, f));
            }
        }
    }
}

impl Op for TreeEnsemble {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let d = match self.split_dtype {
            Some(sd) => {
                let d = cx.expect_dtype(0, &[DType::F32, DType::F64])?;
                if d != sd {
                    return Err(cx.err(format!(
                        "input X is {d} but attribute 'nodes_splits' is {sd}; they must match"
                    )));
                }
                d
            }
            None => cx.expect_dtype(0, &[DType::F32, DType::F64, DType::I64, DType::I32])?,
        };
        let (n, f) = super::rows_features(cx, 0)?;
        let fk = super::known(cx, &f, "the feature count (last dim of X)")?;
        if let Some(m) = self.max_feature {
            if m as i64 >= fk {
                return Err(cx.err(format!(
                    "attribute 'nodes_featureids': feature id {m} out of range for {fk} features"
                )));
            }
        }
        let k = Dim::known(self.n_targets as i64);
        Ok(match &self.kind {
            Kind::Classifier { strings, .. } => {
                let l = super::label_dtype(strings);
                vec![tt(l, vec![n.clone()]), tt(DType::F32, vec![n, k])]
            }
            Kind::Regressor => vec![tt(DType::F32, vec![n, k])],
            Kind::Ensemble => vec![tt(d, vec![n, k])],
        })
    }
    fn flops(&self, inputs: &[Option<&TensorType>], _: &[&TensorType]) -> Dim {
        let rows = inputs
            .first()
            .copied()
            .flatten()
            .and_then(|t| t.shape.first().cloned())
            .unwrap_or(Dim::known(1));
        rows.scale(self.roots.len().max(1) as i64)
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let string_ids = match &self.kind {
            Kind::Classifier {
                labels,
                strings: strings @ Some(_),
                ..
            } => Some(super::label_values(cx, labels, strings)?),
            _ => None,
        };
        let x = cx.input(0)?;
        let wide = self.wide || x.elem == Scalar::F64;
        let ct = if wide { Scalar::F64 } else { Scalar::F32 };
        let at = if self.wide || (matches!(self.kind, Kind::Ensemble) && x.elem == Scalar::F64) {
            Scalar::F64
        } else {
            Scalar::F32
        };
        let (n, f) = if x.rank() == 1 {
            (Expr::i64(1), x.dim(0))
        } else {
            (x.dim(0), x.dim(1))
        };
        let outs: Vec<_> = cx.outs.clone();
        let features: std::collections::BTreeSet<usize> =
            self.nodes.iter().map(|b| b.feature).collect();
        let nt = self.n_targets;
        let flat = if super::tree_flat::use_flat(self)? {
            Some(super::tree_flat::Flat::build(self, cx, ct, at)?)
        } else {
            None
        };
        cx.kb.loop_(Expr::i64(0), n, |kb, r| {
            let base = build::mul(r.clone(), f.clone());
            let mut xs = BTreeMap::new();
            // The nested layout loads every feature it uses once per row.
            for &fi in features.iter().filter(|_| flat.is_none()) {
                let v = to(
                    ct,
                    x.elem,
                    x.load(build::add(base.clone(), Expr::i64(fi as i64))),
                );
                xs.insert(fi, kb.let_(ct, v));
            }
            let s: Vec<VarId> = (0..nt).map(|_| kb.let_mut(at, imm(at, 0.0))).collect();
            let has: Vec<VarId> = (0..nt)
                .map(|_| kb.let_mut(Scalar::Bool, bool_lit(false)))
                .collect();
            let row = Row {
                e: self,
                xs,
                s,
                has,
                ct,
                at,
            };
            match &flat {
                Some(fl) => fl.emit(kb, &x, &base, self.agg, &row.s, &row.has),
                None => {
                    for &root in &self.roots {
                        row.emit(kb, root);
                    }
                }
            }
            let sv: Vec<Expr> = row.s.iter().map(|v| Expr::Var(*v)).collect();
            let hv: Vec<Expr> = row.has.iter().map(|v| Expr::Var(*v)).collect();
            let store = |kb: &mut KernelBuilder, o: usize, vals: &[Expr]| {
                if let Some(Some(z)) = outs.get(o) {
                    for (c, v) in vals.iter().enumerate() {
                        let i = build::add(
                            build::mul(r.clone(), Expr::i64(vals.len() as i64)),
                            Expr::i64(c as i64),
                        );
                        kb.store(z.buf, i, to(z.elem, at, v.clone()));
                    }
                }
            };
            match &self.kind {
                Kind::Regressor | Kind::Ensemble => {
                    let mut v = vec![];
                    for k in 0..nt {
                        let mut e = select(hv[k].clone(), sv[k].clone(), imm(at, 0.0));
                        if self.agg == Agg::Average {
                            e = build::binary(BinOp::Div, e, imm(at, self.roots.len() as f64));
                        }
                        if self.base.len() == nt {
                            e = build::binary(BinOp::Add, e, imm(at, self.base[k]));
                        }
                        v.push(kb.let_(at, e));
                    }
                    let v = if nt >= 2 {
                        post_transform(kb, at, self.post, &v)
                    } else if self.post == Post::Probit {
                        vec![probit(kb, at, v[0].clone())]
                    } else {
                        v
                    };
                    store(kb, 0, &v);
                }
                Kind::Classifier {
                    labels,
                    binary_case,
                    all_positive,
                    ..
                } => {
                    let labels = string_ids.as_ref().unwrap_or(labels);
                    let yl = outs.first().cloned().flatten();
                    let put_label = |kb: &mut KernelBuilder, l: Expr| {
                        if let Some(yl) = &yl {
                            kb.store(yl.buf, r.clone(), super::to(yl.elem, Scalar::I64, l));
                        }
                    };
                    if nt > 2 {
                        let mut s2 = vec![];
                        let mut h2 = vec![];
                        for k in 0..nt {
                            match self.base.get(k) {
                                Some(&b) => {
                                    s2.push(kb.let_(
                                        at,
                                        build::binary(BinOp::Add, sv[k].clone(), imm(at, b)),
                                    ));
                                    h2.push(bool_lit(true));
                                }
                                None => {
                                    s2.push(sv[k].clone());
                                    h2.push(hv[k].clone());
                                }
                            }
                        }
                        // First class with the largest score among those with a score.
                        let mut any = bool_lit(false);
                        let mut best = imm(at, 0.0);
                        let mut arg = Expr::i64(labels[0]);
                        for k in 0..nt {
                            let take = kb.let_(
                                Scalar::Bool,
                                build::and(
                                    h2[k].clone(),
                                    or(
                                        build::unary(UnOp::Not, any.clone()),
                                        cmp(CmpOp::Gt, s2[k].clone(), best.clone()),
                                    ),
                                ),
                            );
                            best = kb.let_(at, select(take.clone(), s2[k].clone(), best));
                            arg = kb.let_(Scalar::I64, select(take, Expr::i64(labels[k]), arg));
                            any = kb.let_(Scalar::Bool, or(any, h2[k].clone()));
                        }
                        put_label(kb, arg);
                        let z = post_transform(kb, at, self.post, &s2);
                        store(kb, 1, &z);
                    } else {
                        self.binary(
                            kb,
                            at,
                            &sv,
                            &hv,
                            labels,
                            *binary_case,
                            *all_positive,
                            &put_label,
                            &|kb, v| store(kb, 1, v),
                        );
                    }
                }
            }
        });
        Ok(())
    }
}

impl TreeEnsemble {
    /// onnxruntime's two-class finalisation (`TreeAggregatorClassifier::FinalizeScores` then
    /// `write_scores`). Whether class 1 got a score decides, at run time, if one or two scores
    /// remain.
    #[allow(clippy::too_many_arguments)]
    fn binary(
        &self,
        kb: &mut KernelBuilder,
        at: Scalar,
        sv: &[Expr],
        hv: &[Expr],
        labels: &[i64],
        binary_case: bool,
        all_positive: bool,
        put_label: &dyn Fn(&mut KernelBuilder, Expr),
        store: &dyn Fn(&mut KernelBuilder, &[Expr]),
    ) {
        let b = &self.base;
        let add = |e: Expr, v: f64| build::binary(BinOp::Add, e, imm(at, v));
        let label_of = |kb: &mut KernelBuilder, pos: Expr| -> Expr {
            let (th, hi, lo) = if binary_case {
                (if all_positive { 0.5 } else { 0.0 }, labels[1], labels[0])
            } else {
                (0.0, 1, 0)
            };
            kb.let_(
                Scalar::I64,
                select(
                    cmp(CmpOp::Gt, pos, imm(at, th)),
                    Expr::i64(hi),
                    Expr::i64(lo),
                ),
            )
        };
        let post = self.post;
        // onnxruntime writes a score that never got a value (and was not reassigned by a
        // transform) as 0.
        let mask = |v: Expr, has: Expr| {
            if post == Post::None {
                select(has, v, imm(at, 0.0))
            } else {
                v
            }
        };
        let one = |kb: &mut KernelBuilder, s: Expr| -> Vec<Expr> {
            // write_scores with a single score.
            if post == Post::Probit {
                return vec![probit(kb, at, s), imm(at, 0.0)];
            }
            let mixed = (binary_case && !all_positive) || (!binary_case && b.is_empty());
            if binary_case && all_positive {
                let p = if post == Post::Logistic {
                    logistic(kb, at, s)
                } else {
                    s
                };
                vec![build::binary(BinOp::Sub, imm(at, 1.0), p.clone()), p]
            } else if mixed {
                if post == Post::Logistic {
                    let neg = build::unary(UnOp::Neg, s.clone());
                    vec![logistic(kb, at, neg), logistic(kb, at, s)]
                } else {
                    vec![build::unary(UnOp::Neg, s.clone()), s]
                }
            } else {
                vec![s, imm(at, 0.0)]
            }
        };
        kb.if_(
            hv[1].clone(),
            |kb| {
                // Class 1 has a score: two scores remain.
                let (s0, s1) = match b.len() {
                    2 => {
                        let s1 = kb.let_(at, add(sv[0].clone(), b[1]));
                        (kb.let_(at, build::unary(UnOp::Neg, s1.clone())), s1)
                    }
                    1 => (kb.let_(at, add(sv[0].clone(), b[0])), sv[1].clone()),
                    _ => (sv[0].clone(), sv[1].clone()),
                };
                let l = label_of(kb, s1.clone());
                put_label(kb, l);
                let z = post_transform(kb, at, post, &[s0, s1]);
                let z = [mask(z[0].clone(), hv[0].clone()), z[1].clone()];
                store(kb, &z);
            },
            |kb| {
                let pos0 = |kb: &mut KernelBuilder, s0: Expr| {
                    let pos = select(hv[0].clone(), s0, imm(at, 0.0));
                    let l = label_of(kb, pos);
                    put_label(kb, l);
                };
                match b.len() {
                    2 => {
                        let s1 = kb.let_(at, add(sv[1].clone(), b[1]));
                        let s0 = kb.let_(at, add(sv[0].clone(), b[0]));
                        pos0(kb, s0.clone());
                        let z = post_transform(kb, at, post, &[s0, s1]);
                        let z = [
                            mask(z[0].clone(), hv[0].clone()),
                            mask(z[1].clone(), bool_lit(false)),
                        ];
                        store(kb, &z);
                    }
                    0 | 1 => {
                        let s0 = if b.len() == 1 {
                            kb.let_(at, add(sv[0].clone(), b[0]))
                        } else {
                            sv[0].clone()
                        };
                        pos0(kb, s0.clone());
                        let z = one(kb, s0);
                        store(kb, &z);
                    }
                    _ => {
                        pos0(kb, sv[0].clone());
                        let z = post_transform(kb, at, post, &[sv[0].clone(), sv[1].clone()]);
                        let z = [
                            mask(z[0].clone(), hv[0].clone()),
                            mask(z[1].clone(), bool_lit(false)),
                        ];
                        store(kb, &z);
                    }
                }
            },
        );
    }
}
