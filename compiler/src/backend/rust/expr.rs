//! Rust expressions for kir: one exhaustive visitor printing a typed kir expression as a
//! Rust expression with the value `kir::interp` computes, bit for bit.
//!
//! Invariants of every string `RustCx::expr` returns: it is atomic (usable as a method
//! receiver or an operand without more parentheses: literals, paths, calls, method calls or
//! parenthesized), has the Rust type `rty` of its kir type, has no side effects and cannot
//! panic (integer arithmetic is `wrapping_*`, division goes through helpers that handle 0
//! and MIN / -1, float → int uses `as`, which saturates).

use super::prelude::RHelper;
use crate::kir::{interp, BinOp, CmpOp, Expr, Lit, MathFn, Program, Scalar, UnOp};
use std::collections::BTreeSet;

/// Rust name of a kir scalar type.
pub fn rty(t: Scalar) -> &'static str {
    if t == Scalar::Bool {
        "bool"
    } else {
        t.name()
    }
}

/// A Rust literal of type `t` with the value of kir literal `lit`.
pub fn lit(t: Scalar, l: Lit) -> String {
    let v = interp::V::from_lit(t, l);
    match t {
        Scalar::Bool => (v.bits != 0).to_string(),
        Scalar::F32 => {
            let x = v.as_f32();
            if x.is_nan() {
                format!("f32::from_bits(0x{:08x})", x.to_bits())
            } else if x.is_infinite() {
                (if x > 0.0 {
                    "f32::INFINITY"
                } else {
                    "f32::NEG_INFINITY"
                })
                .to_string()
            } else if x.is_sign_negative() {
                format!("(-{:?}f32)", -x)
            } else {
                format!("{x:?}f32")
            }
        }
        Scalar::F64 => {
            let x = v.as_f64();
            if x.is_nan() {
                format!("f64::from_bits(0x{:016x})", x.to_bits())
            } else if x.is_infinite() {
                (if x > 0.0 {
                    "f64::INFINITY"
                } else {
                    "f64::NEG_INFINITY"
                })
                .to_string()
            } else if x.is_sign_negative() {
                format!("(-{:?}f64)", -x)
            } else {
                format!("{x:?}f64")
            }
        }
        _ => {
            let i = v.int();
            let (lo, _) = t.int_range().unwrap_or((0, 0));
            if t.is_signed() && i == lo {
                format!("{}::MIN", t.name())
            } else if i < 0 {
                format!("({i}{})", t.name())
            } else {
                format!("{i}{}", t.name())
            }
        }
    }
}

/// Prints kir expressions as Rust expressions that are atomic (usable as a method receiver
/// or operand without more parentheses) and have the Rust type `rty` of their kir type.
pub struct RustCx<'a> {
    pub p: &'a Program,
    pub vars: &'a [Scalar],
    pub helpers: BTreeSet<RHelper>,
    /// How `Expr::Dim(i)` reads: `(*dims.add(i))` in kernels, `kiln_dims[i]` in safe code.
    pub safe_dims: bool,
    pub unsupported: bool,
}

impl RustCx<'_> {
    fn call(&mut self, h: RHelper, args: &[&str]) -> String {
        self.helpers.insert(h);
        format!("{}({})", h.name(), args.join(", "))
    }

    pub fn expr(&mut self, e: &Expr) -> (String, Scalar) {
        match e {
            Expr::Imm(t, l) => (lit(*t, *l), *t),
            Expr::Var(v) => {
                let t = self.vars.get(v.0 as usize).copied().unwrap_or_else(|| {
                    self.unsupported = true;
                    Scalar::I64
                });
                (format!("v{}", v.0), t)
            }
            Expr::Dim(s) => {
                let s = if self.safe_dims {
                    format!("kiln_dims[{}]", s.0)
                } else {
                    format!("(*dims.add({}))", s.0)
                };
                (s, Scalar::I64)
            }
            Expr::Len(i) => (format!("(*lens.add({i}) as i64)"), Scalar::I64),
            Expr::Load(b, idx) => {
                let (i, _) = self.expr(idx);
                let Some(buf) = self.p.buffers.get(b.0 as usize) else {
                    self.unsupported = true;
                    return ("0i64".into(), Scalar::I64);
                };
                let s = if buf.elem == Scalar::Bool {
                    format!("(*b{}.add({i} as usize) != 0)", b.0)
                } else {
                    format!("(*b{}.add({i} as usize))", b.0)
                };
                (s, buf.elem)
            }
            Expr::Unary(op, a) => {
                let (sa, t) = self.expr(a);
                let s = match (op, t) {
                    (UnOp::Neg, _) if t.is_float() => format!("(-{sa})"),
                    (UnOp::Abs, _) if t.is_float() => format!("{sa}.abs()"),
                    (UnOp::Sqrt, _) if t.is_float() => self.call(RHelper::Sqrt(t), &[&sa]),
                    (UnOp::Floor, _) if t.is_float() => self.call(RHelper::Floor(t), &[&sa]),
                    (UnOp::Ceil, _) if t.is_float() => self.call(RHelper::Ceil(t), &[&sa]),
                    (UnOp::Trunc, _) if t.is_float() => self.call(RHelper::Trunc(t), &[&sa]),
                    (UnOp::Round, _) if t.is_float() => self.call(RHelper::Round(t), &[&sa]),
                    (UnOp::Not, _) if !t.is_float() => format!("(!{sa})"),
                    (UnOp::Neg, _) if t.is_int() => format!("{sa}.wrapping_neg()"),
                    (UnOp::Abs, _) if t.is_int() && t.is_signed() => format!("{sa}.wrapping_abs()"),
                    (UnOp::Abs, _) if t.is_int() => sa,
                    _ => {
                        self.unsupported = true;
                        sa
                    }
                };
                (s, t)
            }
            Expr::Binary(op, a, b) => {
                let (sa, t) = self.expr(a);
                let (sb, _) = self.expr(b);
                let infix = |o: &str| format!("({sa} {o} {sb})");
                let s = match op {
                    BinOp::And => infix("&"),
                    BinOp::Or => infix("|"),
                    BinOp::Xor => infix("^"),
                    _ if t.is_float() => match op {
                        BinOp::Add => infix("+"),
                        BinOp::Sub => infix("-"),
                        BinOp::Mul => infix("*"),
                        BinOp::Div => infix("/"),
                        BinOp::Min => self.call(RHelper::Min(t), &[&sa, &sb]),
                        BinOp::Max => self.call(RHelper::Max(t), &[&sa, &sb]),
                        _ => {
                            self.unsupported = true;
                            sa
                        }
                    },
                    _ if t.is_int() => match op {
                        BinOp::Add => format!("{sa}.wrapping_add({sb})"),
                        BinOp::Sub => format!("{sa}.wrapping_sub({sb})"),
                        BinOp::Mul => format!("{sa}.wrapping_mul({sb})"),
                        BinOp::Div => self.call(RHelper::Div(t), &[&sa, &sb]),
                        BinOp::Rem => self.call(RHelper::Rem(t), &[&sa, &sb]),
                        BinOp::Min => self.call(RHelper::Min(t), &[&sa, &sb]),
                        BinOp::Max => self.call(RHelper::Max(t), &[&sa, &sb]),
                        BinOp::Shl => format!("{sa}.wrapping_shl({sb} as u32)"),
                        BinOp::Shr => format!("{sa}.wrapping_shr({sb} as u32)"),
                        _ => {
                            self.unsupported = true;
                            sa
                        }
                    },
                    _ => {
                        self.unsupported = true;
                        sa
                    }
                };
                (s, t)
            }
            Expr::Fma(a, b, c) => {
                let (sa, t) = self.expr(a);
                let (sb, _) = self.expr(b);
                let (sc, _) = self.expr(c);
                let f = if t == Scalar::F32 { "fmaf" } else { "fma" };
                (format!("kiln_shim::{f}({sa}, {sb}, {sc})"), t)
            }
            Expr::Cmp(op, a, b) => {
                let (sa, _) = self.expr(a);
                let (sb, _) = self.expr(b);
                let o = match op {
                    CmpOp::Eq => "==",
                    CmpOp::Ne => "!=",
                    CmpOp::Lt => "<",
                    CmpOp::Le => "<=",
                    CmpOp::Gt => ">",
                    CmpOp::Ge => ">=",
                };
                (format!("({sa} {o} {sb})"), Scalar::Bool)
            }
            Expr::Select(c, a, b) => {
                let (sc, _) = self.expr(c);
                let (sa, t) = self.expr(a);
                let (sb, _) = self.expr(b);
                (format!("(if {sc} {{ {sa} }} else {{ {sb} }})"), t)
            }
            Expr::Cast(t, a) => {
                let (sa, ta) = self.expr(a);
                let t = *t;
                let s = if t == ta {
                    sa
                } else if t == Scalar::Bool {
                    if ta.is_float() {
                        format!("({sa} != 0.0)")
                    } else {
                        format!("({sa} != 0)")
                    }
                } else if ta == Scalar::Bool && t.is_float() {
                    format!("({sa} as u8 as {})", rty(t))
                } else {
                    // Rust `as` is kir's Cast: wraps int → int, rounds to nearest into floats,
                    // saturates float → int with NaN → 0.
                    format!("({sa} as {})", rty(t))
                };
                (s, t)
            }
            Expr::Bitcast(t, a) => {
                let (sa, ta) = self.expr(a);
                let t = *t;
                let s = if t == ta {
                    sa
                } else if ta.is_float() {
                    format!("({sa}.to_bits() as {})", rty(t))
                } else if t.is_float() {
                    let bits = if t == Scalar::F32 { "u32" } else { "u64" };
                    format!("{}::from_bits({sa} as {bits})", rty(t))
                } else {
                    format!("({sa} as {})", rty(t))
                };
                (s, t)
            }
            Expr::Call(f, args) => {
                let mut parts = vec![];
                let mut t = Scalar::F32;
                for (i, a) in args.iter().enumerate() {
                    let (s, ta) = self.expr(a);
                    if i == 0 {
                        t = ta;
                    }
                    parts.push(s);
                }
                (
                    format!("kiln_shim::{}({})", shim_fn(*f, t), parts.join(", ")),
                    t,
                )
            }
        }
    }
}

/// Name of the `kiln_shim` Rust function for `f` on `t` (`expf`, `exp`, ...).
pub fn shim_fn(f: MathFn, t: Scalar) -> String {
    if t == Scalar::F32 {
        format!("{}f", f.name())
    } else {
        f.name().to_string()
    }
}
