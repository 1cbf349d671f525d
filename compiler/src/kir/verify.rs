//! The kir verifier: types, scopes, buffer kinds. Runs after lowering and after every kir
//! pass in debug and test builds; an error here is a bug in Kiln, never in the user's model.

use super::*;

/// The type of `e`, given variable and buffer tables.
pub fn type_of(vars: &[Scalar], bufs: &[Buffer], e: &Expr) -> Result<Scalar, String> {
    Ok(match e {
        Expr::Imm(t, lit) => {
            match (t.is_float(), lit) {
                (true, Lit::Float(_)) | (false, Lit::Int(_)) => {}
                _ => return Err(format!("literal {lit:?} does not match type {t}")),
            }
            *t
        }
        Expr::Var(v) => *vars
            .get(v.0 as usize)
            .ok_or_else(|| format!("unknown variable v{}", v.0))?,
        Expr::Dim(_) | Expr::Len(_) => Scalar::I64,
        Expr::Load(b, i) => {
            let it = type_of(vars, bufs, i)?;
            if it != Scalar::I64 {
                return Err(format!("load index of type {it}"));
            }
            bufs.get(b.0 as usize)
                .ok_or_else(|| format!("unknown buffer b{}", b.0))?
                .elem
        }
        Expr::Unary(op, a) => {
            let t = type_of(vars, bufs, a)?;
            let ok = match op {
                UnOp::Neg | UnOp::Abs => t != Scalar::Bool,
                UnOp::Not => !t.is_float(),
                UnOp::Sqrt | UnOp::Floor | UnOp::Ceil | UnOp::Trunc | UnOp::Round => t.is_float(),
            };
            if !ok {
                return Err(format!("{op:?} on {t}"));
            }
            t
        }
        Expr::Binary(op, a, b) => {
            let ta = type_of(vars, bufs, a)?;
            let tb = type_of(vars, bufs, b)?;
            if ta != tb {
                return Err(format!("{op:?} on {ta} and {tb}"));
            }
            let ok = match op {
                BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Min | BinOp::Max => {
                    ta != Scalar::Bool
                }
                BinOp::Rem | BinOp::Shl | BinOp::Shr => ta.is_int(),
                BinOp::And | BinOp::Or | BinOp::Xor => !ta.is_float(),
            };
            if !ok {
                return Err(format!("{op:?} on {ta}"));
            }
            ta
        }
        Expr::Fma(a, b, c) => {
            let t = type_of(vars, bufs, a)?;
            if !t.is_float() || type_of(vars, bufs, b)? != t || type_of(vars, bufs, c)? != t {
                return Err("fma operands must be floats of one type".into());
            }
            t
        }
        Expr::Cmp(op, a, b) => {
            let ta = type_of(vars, bufs, a)?;
            let tb = type_of(vars, bufs, b)?;
            if ta != tb {
                return Err(format!("{op:?} on {ta} and {tb}"));
            }
            Scalar::Bool
        }
        Expr::Select(c, a, b) => {
            if type_of(vars, bufs, c)? != Scalar::Bool {
                return Err("select condition must be bool".into());
            }
            let ta = type_of(vars, bufs, a)?;
            let tb = type_of(vars, bufs, b)?;
            if ta != tb {
                return Err(format!("select arms {ta} and {tb}"));
            }
            ta
        }
        Expr::Cast(t, a) => {
            type_of(vars, bufs, a)?;
            *t
        }
        Expr::Bitcast(t, a) => {
            let ta = type_of(vars, bufs, a)?;
            if ta.size() != t.size() || ta == Scalar::Bool || *t == Scalar::Bool {
                return Err(format!("bitcast {ta} to {t}"));
            }
            *t
        }
        Expr::Call(f, args) => {
            if args.len() != f.arity() {
                return Err(format!("{} takes {} arguments", f.name(), f.arity()));
            }
            let t = type_of(vars, bufs, &args[0])?;
            if !t.is_float() {
                return Err(format!("{} on {t}", f.name()));
            }
            for a in &args[1..] {
                if type_of(vars, bufs, a)? != t {
                    return Err(format!("{} arguments of different types", f.name()));
                }
            }
            t
        }
    })
}

/// Verify a whole program.
pub fn verify(p: &Program) -> Result<(), String> {
    for (i, b) in p.buffers.iter().enumerate() {
        let t = type_of(&[], &p.buffers, &b.len).map_err(|e| format!("buffer {i}: {e}"))?;
        if t != Scalar::I64 {
            return Err(format!("buffer {} length is {t}", b.name));
        }
        if let BufKind::Weight { offset } = &b.kind {
            let n = b
                .len
                .as_const_i64()
                .ok_or("weight length must be constant")?;
            let end = *offset as i64 + n * b.elem.size() as i64;
            if end as usize > p.weights.len() || offset % 64 != 0 {
                return Err(format!("weight buffer {} out of the blob", b.name));
            }
        }
    }
    for k in &p.kernels {
        let mut scope = vec![false; k.vars.len()];
        verify_block(p, k, &k.body, &mut scope).map_err(|e| format!("kernel {}: {e}", k.name))?;
    }
    Ok(())
}

fn check_expr(p: &Program, k: &Kernel, e: &Expr, scope: &[bool]) -> Result<Scalar, String> {
    let mut err = None;
    visit_expr(e, &mut |x| match x {
        Expr::Var(v) if !scope.get(v.0 as usize).copied().unwrap_or(false) => {
            err = Some(format!("variable v{} used out of scope", v.0))
        }
        Expr::Dim(s) if s.0 as usize >= p.syms.len() => err = Some(format!("unknown dim {}", s.0)),
        Expr::Len(i) if *i as usize > p.inputs.len() + p.outputs.len() => {
            err = Some(format!("unknown length {i}"))
        }
        _ => {}
    });
    if let Some(e) = err {
        return Err(e);
    }
    type_of(&k.vars, &p.buffers, e)
}

fn verify_block(
    p: &Program,
    k: &Kernel,
    body: &[Stmt],
    scope: &mut Vec<bool>,
) -> Result<(), String> {
    let mut declared = vec![];
    for s in body {
        match s {
            Stmt::Let(v, e) => {
                let t = check_expr(p, k, e, scope)?;
                let vt = k.vars.get(v.0 as usize).ok_or("unknown variable")?;
                if *vt != t {
                    return Err(format!("let v{} : {vt} = {t}", v.0));
                }
                if scope[v.0 as usize] {
                    return Err(format!("v{} declared twice", v.0));
                }
                scope[v.0 as usize] = true;
                declared.push(*v);
            }
            Stmt::Set(v, e) => {
                let t = check_expr(p, k, e, scope)?;
                if !scope.get(v.0 as usize).copied().unwrap_or(false) {
                    return Err(format!("set of undeclared v{}", v.0));
                }
                if k.vars[v.0 as usize] != t {
                    return Err(format!("set v{} : {} = {t}", v.0, k.vars[v.0 as usize]));
                }
            }
            Stmt::Loop {
                var,
                start,
                end,
                body,
            } => {
                for b in [start, end] {
                    if check_expr(p, k, b, scope)? != Scalar::I64 {
                        return Err("loop bound not i64".into());
                    }
                }
                if k.vars.get(var.0 as usize) != Some(&Scalar::I64) || scope[var.0 as usize] {
                    return Err(format!("bad loop variable v{}", var.0));
                }
                scope[var.0 as usize] = true;
                let mut assigned = false;
                visit_sets(body, &mut |v| assigned |= v == *var);
                if assigned {
                    return Err(format!("loop variable v{} assigned in body", var.0));
                }
                verify_block(p, k, body, scope)?;
                scope[var.0 as usize] = false;
            }
            Stmt::Store { buf, idx, val } => {
                let b = p.buffers.get(buf.0 as usize).ok_or("unknown buffer")?;
                if matches!(b.kind, BufKind::Input(_) | BufKind::Weight { .. }) {
                    return Err(format!("store to read-only buffer {}", b.name));
                }
                if check_expr(p, k, idx, scope)? != Scalar::I64 {
                    return Err("store index not i64".into());
                }
                let t = check_expr(p, k, val, scope)?;
                if t != b.elem {
                    return Err(format!("store of {t} into {} buffer {}", b.elem, b.name));
                }
            }
            Stmt::If { cond, then, els } => {
                if check_expr(p, k, cond, scope)? != Scalar::Bool {
                    return Err("if condition not bool".into());
                }
                verify_block(p, k, then, scope)?;
                verify_block(p, k, els, scope)?;
            }
            Stmt::Fail(s) => {
                if *s == Status::Ok {
                    return Err("fail with status ok".into());
                }
            }
            Stmt::Gemm { call, fallback } => {
                for e in call.exprs() {
                    if check_expr(p, k, e, scope)? != Scalar::I64 {
                        return Err("gemm size, offset or stride not i64".into());
                    }
                }
                let mut bufs = call.reads();
                bufs.push(call.c);
                for &b in &bufs {
                    let buf = p.buffers.get(b.0 as usize).ok_or("unknown gemm buffer")?;
                    if buf.elem != Scalar::F32 {
                        return Err(format!("gemm on {} buffer {}", buf.elem, buf.name));
                    }
                }
                if call.reads().contains(&call.c) {
                    return Err("gemm output is also an operand".into());
                }
                let c = &p.buffers[call.c.0 as usize];
                if matches!(c.kind, BufKind::Input(_) | BufKind::Weight { .. }) {
                    return Err(format!("gemm into read-only buffer {}", c.name));
                }
                verify_block(p, k, fallback, scope)?;
            }
        }
    }
    for v in declared {
        scope[v.0 as usize] = false;
    }
    Ok(())
}

fn visit_sets(body: &[Stmt], f: &mut dyn FnMut(VarId)) {
    for s in body {
        match s {
            Stmt::Set(v, _) => f(*v),
            Stmt::Loop { body, .. } => visit_sets(body, f),
            Stmt::If { then, els, .. } => {
                visit_sets(then, f);
                visit_sets(els, f);
            }
            Stmt::Gemm { fallback, .. } => visit_sets(fallback, f),
            _ => {}
        }
    }
}
