//! kir simplification, run on every kernel after lowering: loops that run exactly once are
//! replaced by their body with the loop variable substituted, and I64 index arithmetic on
//! constants is folded (`x * 1`, `x + 0`, `2 * 3`). Semantics are unchanged: only loop
//! structure and integer index expressions on constants are touched.

use super::build;
use super::*;

/// Simplify a kernel in place.
pub fn kernel(k: &mut Kernel) {
    let body = std::mem::take(&mut k.body);
    k.body = block(body, &[]);
}

fn block(body: Vec<Stmt>, subst: &[(VarId, Expr)]) -> Vec<Stmt> {
    let mut out = Vec::with_capacity(body.len());
    for s in body {
        match s {
            Stmt::Let(v, e) => out.push(Stmt::Let(v, expr(e, subst))),
            Stmt::Set(v, e) => out.push(Stmt::Set(v, expr(e, subst))),
            Stmt::Store { buf, idx, val } => out.push(Stmt::Store {
                buf,
                idx: expr(idx, subst),
                val: expr(val, subst),
            }),
            Stmt::If { cond, then, els } => out.push(Stmt::If {
                cond: expr(cond, subst),
                then: block(then, subst),
                els: block(els, subst),
            }),
            Stmt::Fail(st) => out.push(Stmt::Fail(st)),
            Stmt::Gemm { call, fallback } => out.push(Stmt::Gemm {
                call: Box::new(call.map_exprs(&mut |e| expr(e.clone(), subst))),
                fallback: block(fallback, subst),
            }),
            Stmt::Loop {
                var,
                start,
                end,
                body,
            } => {
                let (start, end) = (expr(start, subst), expr(end, subst));
                match (start.as_const_i64(), end.as_const_i64()) {
                    (Some(s), Some(e)) if e <= s => {}
                    (Some(s), Some(e)) if e == s + 1 => {
                        let mut sub = subst.to_vec();
                        sub.push((var, Expr::i64(s)));
                        out.extend(block(body, &sub));
                    }
                    _ => out.push(Stmt::Loop {
                        var,
                        start,
                        end,
                        body: block(body, subst),
                    }),
                }
            }
        }
    }
    out
}

fn expr(e: Expr, subst: &[(VarId, Expr)]) -> Expr {
    match e {
        Expr::Var(v) => subst
            .iter()
            .rev()
            .find(|(w, _)| *w == v)
            .map(|(_, x)| x.clone())
            .unwrap_or(Expr::Var(v)),
        Expr::Imm(..) | Expr::Dim(_) | Expr::Len(_) => e,
        Expr::Load(b, i) => build::load(b, expr(*i, subst)),
        Expr::Unary(op, a) => build::unary(op, expr(*a, subst)),
        // `build::binary` folds I64 constants and identities; other types are rebuilt as is.
        Expr::Binary(op, a, b) => build::binary(op, expr(*a, subst), expr(*b, subst)),
        Expr::Fma(a, b, c) => build::fma(expr(*a, subst), expr(*b, subst), expr(*c, subst)),
        Expr::Cmp(op, a, b) => build::cmp(op, expr(*a, subst), expr(*b, subst)),
        Expr::Select(c, a, b) => build::select(expr(*c, subst), expr(*a, subst), expr(*b, subst)),
        Expr::Cast(t, a) => build::cast(t, expr(*a, subst)),
        Expr::Bitcast(t, a) => build::bitcast(t, expr(*a, subst)),
        Expr::Call(f, args) => Expr::Call(f, args.into_iter().map(|a| expr(a, subst)).collect()),
    }
}
