//! kir as text: used by `--dump-after`, snapshots and error messages. One statement a line,
//! loops and ifs indented. The format is for people; nothing parses it.

use super::*;
use std::fmt::Write;

pub fn program(p: &Program) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "program {}", p.name);
    for (i, sy) in p.syms.iter().enumerate() {
        let _ = writeln!(s, "  dim d{i} = {} (max {})", sy.name, sy.max);
    }
    for (i, b) in p.buffers.iter().enumerate() {
        let kind = match &b.kind {
            BufKind::Input(n) => format!("input {n}"),
            BufKind::Output(n) => format!("output {n}"),
            BufKind::Weight { offset } => format!("weight @{offset}"),
            BufKind::Scratch { offset } => format!("scratch @{}", expr(offset)),
        };
        let _ = writeln!(
            s,
            "  buf b{i} {}: {}[{}] {kind}",
            b.name,
            b.elem,
            expr(&b.len)
        );
    }
    let _ = writeln!(s, "  scratch {} bytes", expr(&p.scratch_len));
    let _ = writeln!(s, "  weights {} bytes", p.weights.len());
    for k in &p.kernels {
        s.push_str(&kernel(k));
    }
    s
}

pub fn kernel(k: &Kernel) -> String {
    let mut s = format!("kernel {} {{\n", k.name);
    block(&mut s, k, &k.body, 1);
    s.push_str("}\n");
    s
}

fn block(s: &mut String, k: &Kernel, body: &[Stmt], depth: usize) {
    let ind = "  ".repeat(depth);
    for st in body {
        match st {
            Stmt::Let(v, e) => {
                let _ = writeln!(
                    s,
                    "{ind}let v{}: {} = {}",
                    v.0,
                    k.vars[v.0 as usize],
                    expr(e)
                );
            }
            Stmt::Set(v, e) => {
                let _ = writeln!(s, "{ind}v{} = {}", v.0, expr(e));
            }
            Stmt::Loop {
                var,
                start,
                end,
                body,
            } => {
                let _ = writeln!(
                    s,
                    "{ind}for v{} in {}..{} {{",
                    var.0,
                    expr(start),
                    expr(end)
                );
                block(s, k, body, depth + 1);
                let _ = writeln!(s, "{ind}}}");
            }
            Stmt::Store { buf, idx, val } => {
                let _ = writeln!(s, "{ind}b{}[{}] = {}", buf.0, expr(idx), expr(val));
            }
            Stmt::If { cond, then, els } => {
                let _ = writeln!(s, "{ind}if {} {{", expr(cond));
                block(s, k, then, depth + 1);
                if !els.is_empty() {
                    let _ = writeln!(s, "{ind}}} else {{");
                    block(s, k, els, depth + 1);
                }
                let _ = writeln!(s, "{ind}}}");
            }
            Stmt::Fail(st) => {
                let _ = writeln!(s, "{ind}fail {st:?}");
            }
            Stmt::Gemm { call: g, fallback } => {
                let _ = writeln!(
                    s,
                    "{ind}gemm m={} n={} k={} a=b{}[{} + i*{} + p*{}] b=b{}[{} + p*{} + j*{}] c=b{}[{} + i*{} + j]{} else {{",
                    expr(&g.m),
                    expr(&g.n),
                    expr(&g.k),
                    g.a.0,
                    expr(&g.a_off),
                    expr(&g.a_rs),
                    expr(&g.a_cs),
                    g.b.0,
                    expr(&g.b_off),
                    expr(&g.b_rs),
                    expr(&g.b_cs),
                    g.c.0,
                    expr(&g.c_off),
                    expr(&g.c_rs),
                    if g.accumulate { " accumulate" } else { "" }
                );
                if let Some(cv) = &g.conv {
                    let _ = writeln!(s, "{ind}  conv {:?}", cv.abi());
                }
                if let Some((b, off)) = &g.bias {
                    let _ = writeln!(s, "{ind}  bias b{}[{} + i]", b.0, expr(off));
                }
                if let Some((b, off, rs)) = &g.res {
                    let _ = writeln!(s, "{ind}  res b{}[{} + i*{} + j]", b.0, expr(off), expr(rs));
                }
                if g.a_panel > 0 {
                    let _ = writeln!(s, "{ind}  a in panels of {}", g.a_panel);
                }
                if g.max {
                    let _ = writeln!(s, "{ind}  max-reduction");
                }
                if g.groups != Expr::i64(1) {
                    let _ = writeln!(
                        s,
                        "{ind}  groups {} a+={} b+={} c+={}",
                        expr(&g.groups),
                        expr(&g.a_gs),
                        expr(&g.b_gs),
                        expr(&g.c_gs)
                    );
                }
                if g.lo != f32::NEG_INFINITY || g.hi != f32::INFINITY {
                    let _ = writeln!(s, "{ind}  clamp {:?} {:?}", g.lo, g.hi);
                }
                block(s, k, fallback, depth + 1);
                let _ = writeln!(s, "{ind}}}");
            }
        }
    }
}

pub fn expr(e: &Expr) -> String {
    match e {
        Expr::Imm(t, Lit::Int(v)) => format!("{v}{t}"),
        Expr::Imm(t, Lit::Float(b)) => format!("{:?}{t}", f64::from_bits(*b)),
        Expr::Var(v) => format!("v{}", v.0),
        Expr::Dim(d) => format!("d{}", d.0),
        Expr::Len(i) => format!("len{i}"),
        Expr::Load(b, i) => format!("b{}[{}]", b.0, expr(i)),
        Expr::Unary(op, a) => format!("{op:?}({})", expr(a)).to_lowercase(),
        Expr::Binary(op, a, b) => {
            let sym = match op {
                BinOp::Add => "+",
                BinOp::Sub => "-",
                BinOp::Mul => "*",
                BinOp::Div => "/",
                BinOp::Rem => "%",
                BinOp::And => "&",
                BinOp::Or => "|",
                BinOp::Xor => "^",
                BinOp::Shl => "<<",
                BinOp::Shr => ">>",
                BinOp::Min => return format!("min({}, {})", expr(a), expr(b)),
                BinOp::Max => return format!("max({}, {})", expr(a), expr(b)),
            };
            format!("({} {sym} {})", expr(a), expr(b))
        }
        Expr::Fma(a, b, c) => format!("fma({}, {}, {})", expr(a), expr(b), expr(c)),
        Expr::Cmp(op, a, b) => {
            let sym = match op {
                CmpOp::Eq => "==",
                CmpOp::Ne => "!=",
                CmpOp::Lt => "<",
                CmpOp::Le => "<=",
                CmpOp::Gt => ">",
                CmpOp::Ge => ">=",
            };
            format!("({} {sym} {})", expr(a), expr(b))
        }
        Expr::Select(c, a, b) => format!("select({}, {}, {})", expr(c), expr(a), expr(b)),
        Expr::Cast(t, a) => format!("{t}({})", expr(a)),
        Expr::Bitcast(t, a) => format!("bitcast<{t}>({})", expr(a)),
        Expr::Call(f, args) => {
            let a: Vec<String> = args.iter().map(expr).collect();
            format!("{}({})", f.name(), a.join(", "))
        }
    }
}
