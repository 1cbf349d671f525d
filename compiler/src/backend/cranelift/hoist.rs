//! Loop-invariant code motion on kir, for the Cranelift backend only.
//!
//! Cranelift's egraph places every pure instruction at its uses and hoists it out of a loop
//! only when all its arguments are defined outside; but constants are rematerialised in the
//! block that uses them, and an instruction with a constant operand (`row * 64`,
//! `x / 64.0`) then counts as defined inside the innermost loop. Measured on Kiln's kernels,
//! nothing loop-invariant left an inner loop: a Transpose recomputed `i * 1024 + j * 64` per
//! element, LayerNorm its mean per element. (The C and Rust backends' compilers do this
//! themselves.)
//!
//! So before translation, every maximal loop-invariant pure subexpression of a loop body
//! (arithmetic on constants, dims, lengths and variables the loop does not define; no loads,
//! no calls) becomes a `Let` in front of the loop, innermost loops first, so that an
//! expression invariant in several levels moves all the way out. `Cx::stmt` pins such a
//! `Let` (a `Let` read by a later loop) through a stack slot, which the egraph cannot move
//! back in. Hoisting computes an expression even when the loop runs zero times, which kir's
//! semantics allow: its arithmetic never traps (integer division by zero has a defined
//! result, float operations are IEEE).

use crate::kir::{verify, Buffer, Expr, Kernel, Scalar, Stmt, VarId};
use std::collections::BTreeSet;

/// `k` with the invariant expressions of its loops hoisted (new variables appended).
pub(super) fn hoist(k: &Kernel, bufs: &[Buffer]) -> Kernel {
    let mut h = Hoister {
        vars: k.vars.clone(),
        bufs,
    };
    let body = h.block(&k.body);
    Kernel {
        name: k.name.clone(),
        vars: h.vars,
        body,
    }
}

struct Hoister<'a> {
    vars: Vec<Scalar>,
    bufs: &'a [Buffer],
}

impl Hoister<'_> {
    fn block(&mut self, stmts: &[Stmt]) -> Vec<Stmt> {
        let mut out = Vec::with_capacity(stmts.len());
        for s in stmts {
            match s {
                Stmt::Loop {
                    var,
                    start,
                    end,
                    body,
                } => {
                    let mut body = self.block(body);
                    let mut defined = BTreeSet::from([*var]);
                    defined_in(&body, &mut defined);
                    let mut lets: Vec<(Expr, VarId)> = vec![];
                    let mut order = vec![];
                    for st in body.iter_mut() {
                        self.stmt_exprs(st, &defined, &mut lets, &mut order);
                    }
                    for (v, e) in order {
                        out.push(Stmt::Let(v, e));
                    }
                    out.push(Stmt::Loop {
                        var: *var,
                        start: start.clone(),
                        end: end.clone(),
                        body,
                    });
                }
                Stmt::If { cond, then, els } => out.push(Stmt::If {
                    cond: cond.clone(),
                    then: self.block(then),
                    els: self.block(els),
                }),
                Stmt::Gemm { call, fallback } => out.push(Stmt::Gemm {
                    call: call.clone(),
                    fallback: self.block(fallback),
                }),
                other => out.push(other.clone()),
            }
        }
        out
    }

    /// Rewrites the expressions of `st` (recursively through nested statements), replacing
    /// each maximal invariant subexpression by a variable (`lets`, in `order` of creation).
    fn stmt_exprs(
        &mut self,
        st: &mut Stmt,
        defined: &BTreeSet<VarId>,
        lets: &mut Vec<(Expr, VarId)>,
        order: &mut Vec<(VarId, Expr)>,
    ) {
        let mut go = |e: &mut Expr, h: &mut Self| h.expr(e, defined, lets, order);
        match st {
            Stmt::Let(_, e) | Stmt::Set(_, e) => go(e, self),
            Stmt::Loop {
                start, end, body, ..
            } => {
                go(start, self);
                go(end, self);
                for s in body {
                    self.stmt_exprs(s, defined, lets, order);
                }
            }
            Stmt::Store { idx, val, .. } => {
                go(idx, self);
                go(val, self);
            }
            Stmt::If { cond, then, els } => {
                go(cond, self);
                for s in then.iter_mut().chain(els.iter_mut()) {
                    self.stmt_exprs(s, defined, lets, order);
                }
            }
            Stmt::Fail(_) => {}
            // The call's operands are evaluated once per call; its fallback loops are
            // handled when the backend translates them (no kernel call).
            Stmt::Gemm { fallback, .. } => {
                for s in fallback {
                    self.stmt_exprs(s, defined, lets, order);
                }
            }
        }
    }

    fn expr(
        &mut self,
        e: &mut Expr,
        defined: &BTreeSet<VarId>,
        lets: &mut Vec<(Expr, VarId)>,
        order: &mut Vec<(VarId, Expr)>,
    ) {
        if matches!(
            e,
            Expr::Imm(..) | Expr::Var(_) | Expr::Dim(_) | Expr::Len(_)
        ) {
            return;
        }
        if invariant(e, defined) {
            let Ok(ty) = verify::type_of(&self.vars, self.bufs, e) else {
                return;
            };
            let v = match lets.iter().find(|(x, _)| x == e) {
                Some((_, v)) => *v,
                None => {
                    self.vars.push(ty);
                    let v = VarId(self.vars.len() as u32 - 1);
                    lets.push((e.clone(), v));
                    order.push((v, e.clone()));
                    v
                }
            };
            *e = Expr::Var(v);
            return;
        }
        match e {
            Expr::Imm(..) | Expr::Var(_) | Expr::Dim(_) | Expr::Len(_) => {}
            Expr::Load(_, i) | Expr::Unary(_, i) | Expr::Cast(_, i) | Expr::Bitcast(_, i) => {
                self.expr(i, defined, lets, order)
            }
            Expr::Binary(_, a, b) | Expr::Cmp(_, a, b) => {
                self.expr(a, defined, lets, order);
                self.expr(b, defined, lets, order);
            }
            Expr::Fma(a, b, c) | Expr::Select(a, b, c) => {
                self.expr(a, defined, lets, order);
                self.expr(b, defined, lets, order);
                self.expr(c, defined, lets, order);
            }
            Expr::Call(_, args) => {
                for a in args {
                    self.expr(a, defined, lets, order);
                }
            }
        }
    }
}

/// Pure arithmetic (no load, no call) over constants, dims, lengths and variables not in
/// `defined`.
fn invariant(e: &Expr, defined: &BTreeSet<VarId>) -> bool {
    match e {
        Expr::Imm(..) | Expr::Dim(_) | Expr::Len(_) => true,
        Expr::Var(v) => !defined.contains(v),
        Expr::Load(..) | Expr::Call(..) => false,
        Expr::Unary(_, i) | Expr::Cast(_, i) | Expr::Bitcast(_, i) => invariant(i, defined),
        Expr::Binary(_, a, b) | Expr::Cmp(_, a, b) => {
            invariant(a, defined) && invariant(b, defined)
        }
        Expr::Fma(a, b, c) | Expr::Select(a, b, c) => {
            invariant(a, defined) && invariant(b, defined) && invariant(c, defined)
        }
    }
}

/// Variables given a value (`Let`, `Set`, loop variables) anywhere in `stmts`.
fn defined_in(stmts: &[Stmt], out: &mut BTreeSet<VarId>) {
    for s in stmts {
        match s {
            Stmt::Let(v, _) | Stmt::Set(v, _) => {
                out.insert(*v);
            }
            Stmt::Loop { var, body, .. } => {
                out.insert(*var);
                defined_in(body, out);
            }
            Stmt::If { then, els, .. } => {
                defined_in(then, out);
                defined_in(els, out);
            }
            Stmt::Gemm { fallback, .. } => defined_in(fallback, out),
            Stmt::Store { .. } | Stmt::Fail(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::cranelift::tests::Prog;
    use crate::kir::build::{self, KernelBuilder};

    /// `y[i * 64 + j] = x[j * 3 + i] * (i * 2.5 + 1)`: the products of `i` leave the inner
    /// loop; `j * 3 + i` and the load stay.
    #[test]
    fn invariant_expressions_leave_the_inner_loop() {
        let mut pb = Prog::new("h");
        let x = pb.input(Scalar::F32, Expr::i64(192));
        let y = pb.output(Scalar::F32, Expr::i64(192));
        let mut kb = KernelBuilder::new();
        kb.loop_(Expr::i64(0), Expr::i64(3), |kb, i| {
            kb.loop_(Expr::i64(0), Expr::i64(64), |kb, j| {
                let scale = build::add(
                    build::mul(
                        build::cast(Scalar::F32, i.clone()),
                        Expr::imm(Scalar::F32, 2.5),
                    ),
                    Expr::imm(Scalar::F32, 1.0),
                );
                let at = build::add(build::mul(j.clone(), Expr::i64(3)), i.clone());
                let v = build::mul(build::load(x, at), scale);
                kb.store(y, build::add(build::mul(i.clone(), Expr::i64(64)), j), v);
            });
        });
        pb.kernel(kb);
        let p = pb.finish(Expr::i64(0));
        let k = p.kernels.last().expect("kernel");
        let h = hoist(k, &p.buffers);
        let Stmt::Loop { body: outer, .. } = &h.body[0] else {
            panic!("{:?}", h.body)
        };
        // Two Lets (i * 64 and the scale) in front of the inner loop, which is last.
        let lets = outer.iter().filter(|s| matches!(s, Stmt::Let(..))).count();
        assert_eq!(lets, 2, "{outer:?}");
        let Some(Stmt::Loop { body: inner, .. }) = outer.last() else {
            panic!("{outer:?}")
        };
        let Stmt::Store { idx, val, .. } = &inner[0] else {
            panic!("{inner:?}")
        };
        // The index is `hoisted + j`, the value `load * hoisted`.
        assert!(
            matches!(idx, Expr::Binary(_, a, _) if matches!(**a, Expr::Var(_))),
            "{idx:?}"
        );
        assert!(
            matches!(val, Expr::Binary(_, _, b) if matches!(**b, Expr::Var(_))),
            "{val:?}"
        );
        assert!(h.vars.len() == k.vars.len() + 2);
    }
}
