//! Translation of kir expressions into Cranelift values, with kir's pinned semantics
//! (`kir/mod.rs`; the oracle is `kir::interp`, matched bit for bit):
//! - integers wrap; `Div`/`Rem` by 0 give 0, `MIN / -1` gives `MIN` and `MIN % -1` gives 0
//!   (divisors are made safe with selects; constant divisors other than 0 and -1 divide
//!   directly); shift amounts are taken modulo the width (Cranelift's own semantics);
//! - float `Min`/`Max` order -0 < +0 (Cranelift `fmin`/`fmax`) and return the canonical quiet
//!   NaN (`f32::NAN` / `f64::NAN` bits) when either operand is NaN, as the interpreter does;
//! - float → int casts saturate and map NaN to 0, also for 8/16-bit targets (saturate to
//!   i32, then clamp); int → float rounds once; `Cast` to Bool is `x != 0` (NaN is true);
//! - `Floor`/`Ceil`/`Trunc`/`Round` of a NaN give the input NaN (f64) or the input quieted
//!   (f32), as the interpreter does;
//! - Bool values are `i8` 0/1; a Bool loaded from memory is normalised with `!= 0`;
//! - `Select` evaluates both arms; `Fma` is Cranelift's fused `fma`; `Round` is `nearest`;
//! - literals are materialised from the interpreter's own `V::from_lit` bits.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Value};

use super::cl_type;
use super::kernel::{data_flags, Cx};
use crate::error::Error;
use crate::kir::interp::V;
use crate::kir::{BinOp, CmpOp, Expr, MathFn, Scalar, UnOp};

/// `v` truncated to the width of `t` (Cranelift wants zero-extended immediates).
fn mask(t: Scalar, v: i64) -> i64 {
    match t.bits() {
        64 => v,
        b => ((v as u64) & ((1u64 << b) - 1)) as i64,
    }
}

fn bad(what: String) -> Error {
    Error::Internal(format!("cranelift backend: {what}"))
}

impl Cx<'_, '_> {
    /// An integer constant of type `t` (value wrapped to the width).
    fn iconst(&mut self, t: Scalar, v: i64) -> Value {
        self.b.ins().iconst(cl_type(t), mask(t, v))
    }

    /// A float constant from raw bits.
    fn fbits(&mut self, t: Scalar, bits: u64) -> Value {
        if t == Scalar::F32 {
            self.b
                .ins()
                .f32const(cranelift_codegen::ir::immediates::Ieee32::with_bits(
                    bits as u32,
                ))
        } else {
            self.b
                .ins()
                .f64const(cranelift_codegen::ir::immediates::Ieee64::with_bits(bits))
        }
    }

    /// A constant holding exactly the interpreter's value `v`.
    fn konst(&mut self, v: V) -> Value {
        if v.t.is_float() {
            self.fbits(v.t, v.bits)
        } else {
            self.iconst(v.t, v.bits as i64)
        }
    }

    /// Translate `e`; returns its value and kir type.
    pub(super) fn expr(&mut self, e: &Expr) -> Result<(Value, Scalar), Error> {
        if let Some(v) = self.strip_value(e)? {
            return Ok((v, Scalar::F32));
        }
        Ok(match e {
            Expr::Imm(t, l) => (self.konst(V::from_lit(*t, *l)), *t),
            Expr::Var(v) => {
                let t = self.k.vars[v.0 as usize];
                (self.use_var(*v)?, t)
            }
            Expr::Dim(s) => (self.dim(s.0), Scalar::I64),
            Expr::Len(i) => (self.len(*i), Scalar::I64),
            Expr::Load(b, idx) => {
                let (i, _) = self.expr(idx)?;
                let t = self.p.buffer(*b).elem;
                let a = self.addr(*b, i)?;
                let x = self.b.ins().load(cl_type(t), data_flags(), a, 0);
                let x = if t == Scalar::Bool {
                    self.b.ins().icmp_imm_u(IntCC::NotEqual, x, 0)
                } else {
                    x
                };
                (x, t)
            }
            Expr::Unary(op, a) => {
                let (x, t) = self.expr(a)?;
                (self.unary(*op, x, t), t)
            }
            Expr::Binary(op, a, b) => {
                let (x, t) = self.expr(a)?;
                let r = if t.is_int() && matches!(op, BinOp::Div | BinOp::Rem) {
                    if let Expr::Imm(bt, bl) = &**b {
                        let d = V::from_lit(*bt, *bl);
                        self.div_const(*op, x, t, d.int())
                    } else {
                        let (y, _) = self.expr(b)?;
                        self.div(*op, x, y, t)
                    }
                } else {
                    let (y, _) = self.expr(b)?;
                    self.binary(*op, x, y, t)?
                };
                (r, t)
            }
            Expr::Fma(a, b, c) => {
                let (x, t) = self.expr(a)?;
                let (y, _) = self.expr(b)?;
                let (z, _) = self.expr(c)?;
                (self.b.ins().fma(x, y, z), t)
            }
            Expr::Cmp(op, a, b) => {
                let (x, t) = self.expr(a)?;
                let (y, _) = self.expr(b)?;
                (self.cmp(*op, x, y, t), Scalar::Bool)
            }
            Expr::Select(c, a, b) => {
                let (c, _) = self.expr(c)?;
                let (x, t) = self.expr(a)?;
                let (y, _) = self.expr(b)?;
                (self.b.ins().select(c, x, y), t)
            }
            Expr::Cast(to, a) => {
                let (x, from) = self.expr(a)?;
                (self.cast(*to, x, from), *to)
            }
            Expr::Bitcast(to, a) => {
                let (x, from) = self.expr(a)?;
                if from.size() != to.size() {
                    return Err(bad(format!("bitcast {from} to {to}")));
                }
                let r = if cl_type(from) == cl_type(*to) {
                    x
                } else {
                    self.b.ins().bitcast(cl_type(*to), MemFlagsData::new(), x)
                };
                (r, *to)
            }
            Expr::Call(f, args) => {
                let mut vals = Vec::with_capacity(args.len());
                let mut ty = Scalar::F32;
                for a in args {
                    let (v, t) = self.expr(a)?;
                    vals.push(v);
                    ty = t;
                }
                if *f == MathFn::Exp && ty == Scalar::F32 {
                    return Ok((self.expf(vals[0]), ty));
                }
                let r = self.shim(*f, ty)?;
                let call = self.b.ins().call(r, &vals);
                (self.b.inst_results(call)[0], ty)
            }
        })
    }

    /// `kiln_shim_expf(x)` inline, bit for bit: the shim's algorithm
    /// (runtime-shim/src/math32.rs, `expf`) as the same f64 operations in the same order,
    /// with its branches as selects. Softmax, Sigmoid and GELU call exp per element; a call
    /// costs more than the function (every float register is caller-saved, so the loop
    /// spills around it), and inline the loop's iterations overlap. The C and Rust backends
    /// call the shim; `tests_ops::inline_expf_equals_shim` checks the two agree.
    fn expf(&mut self, x: Value) -> Value {
        // The shim's constants (runtime-shim/src/coeffs.rs).
        const INV_LN2: f64 = std::f64::consts::LOG2_E; // 1.4426950408889634, as the shim
        const LN2_HI: f64 = 0.6931471803691238;
        const LN2_LO: f64 = 1.9082149292705877e-10;
        let f = |c: &mut Self, v: f64| c.fbits(Scalar::F64, v.to_bits());
        let xd = self.b.ins().fpromote(types::F64, x);
        // k = round_i32(xd * INV_LN2): (t - 0.5) or (t + 0.5) truncated (saturating), then
        // as f64.
        let inv = f(self, INV_LN2);
        let t = self.b.ins().fmul(xd, inv);
        let zero = f(self, 0.0);
        let neg = self.b.ins().fcmp(FloatCC::LessThan, t, zero);
        let (mh, ph) = (f(self, -0.5), f(self, 0.5));
        let half = self.b.ins().select(neg, mh, ph);
        let t = self.b.ins().fadd(t, half);
        let k = self.b.ins().fcvt_to_sint_sat(types::I32, t);
        let kd = self.b.ins().fcvt_from_sint(types::F64, k);
        // r = (xd - kd * LN2_HI) - kd * LN2_LO
        let hi = f(self, LN2_HI);
        let lo = f(self, LN2_LO);
        let khi = self.b.ins().fmul(kd, hi);
        let r = self.b.ins().fsub(xd, khi);
        let klo = self.b.ins().fmul(kd, lo);
        let r = self.b.ins().fsub(r, klo);
        let r2 = self.b.ins().fmul(r, r);
        let r4 = self.b.ins().fmul(r2, r2);
        // c0 + r * c1, as the shim writes each pair.
        let pair = |c: &mut Self, c0: f64, c1: f64| {
            let c1 = f(c, c1);
            let m = c.b.ins().fmul(r, c1);
            let c0 = f(c, c0);
            c.b.ins().fadd(c0, m)
        };
        let one = f(self, 1.0);
        let p01 = self.b.ins().fadd(one, r);
        let p23 = pair(self, 0.5, 1.0 / 6.0);
        let p45 = pair(self, 1.0 / 24.0, 1.0 / 120.0);
        let p67 = pair(self, 1.0 / 720.0, 1.0 / 5040.0);
        let p89 = pair(self, 1.0 / 40320.0, 1.0 / 362880.0);
        let p10 = f(self, 1.0 / 3628800.0);
        // q = (p01 + r2 * p23) + r4 * ((p45 + r2 * p67) + r4 * (p89 + r2 * p10))
        let a = self.b.ins().fmul(r2, p23);
        let a = self.b.ins().fadd(p01, a);
        let c = self.b.ins().fmul(r2, p67);
        let c = self.b.ins().fadd(p45, c);
        let d = self.b.ins().fmul(r2, p10);
        let d = self.b.ins().fadd(p89, d);
        let d = self.b.ins().fmul(r4, d);
        let c = self.b.ins().fadd(c, d);
        let c = self.b.ins().fmul(r4, c);
        let q = self.b.ins().fadd(a, c);
        // scale(q, k) for the k of |x| <= 104 (-151 <= k <= 129): q * 2^k, 2^k from its
        // bits ((k + 1023) << 52); other k are selected away below.
        let k64 = self.b.ins().sextend(types::I64, k);
        let e = self.b.ins().iadd_imm_s(k64, 1023);
        let e = self.b.ins().ishl_imm_u(e, 52);
        let p2 = self.b.ins().bitcast(types::F64, MemFlagsData::new(), e);
        let y = self.b.ins().fmul(q, p2);
        let y = self.b.ins().fdemote(types::F32, y);
        // x < -104: +0; x > 89: +inf; NaN: x + x (compared on x: false for NaN).
        let x_lo = self.fbits(Scalar::F32, (-104.0f32).to_bits() as u64);
        let x_hi = self.fbits(Scalar::F32, 89.0f32.to_bits() as u64);
        let zero32 = self.fbits(Scalar::F32, 0);
        let inf = self.fbits(Scalar::F32, f32::INFINITY.to_bits() as u64);
        let under = self.b.ins().fcmp(FloatCC::LessThan, x, x_lo);
        let y = self.b.ins().select(under, zero32, y);
        let over = self.b.ins().fcmp(FloatCC::GreaterThan, x, x_hi);
        let y = self.b.ins().select(over, inf, y);
        let nan = self.b.ins().fcmp(FloatCC::Unordered, x, x);
        let xx = self.b.ins().fadd(x, x);
        self.b.ins().select(nan, xx, y)
    }

    fn unary(&mut self, op: UnOp, x: Value, t: Scalar) -> Value {
        let ins = self.b.ins();
        if t.is_float() {
            let r = match op {
                UnOp::Neg => return ins.fneg(x),
                UnOp::Abs => return ins.fabs(x),
                UnOp::Sqrt => return ins.sqrt(x),
                // Not on floats is rejected by the verifier; the interpreter returns `x`.
                UnOp::Not => return x,
                UnOp::Floor => ins.floor(x),
                UnOp::Ceil => ins.ceil(x),
                UnOp::Trunc => ins.trunc(x),
                UnOp::Round => ins.nearest(x),
            };
            // Rounding a NaN: the interpreter returns the input NaN itself for f64 (software
            // rounding) and the input quieted for f32 (it rounds through f64). Instructions
            // and libm calls differ on signalling NaNs, so pin the result explicitly.
            let is_nan = self.b.ins().fcmp(FloatCC::Unordered, x, x);
            let nan = if t == Scalar::F32 {
                self.b.ins().fadd(x, x)
            } else {
                x
            };
            return self.b.ins().select(is_nan, nan, r);
        }
        match op {
            UnOp::Neg => ins.ineg(x),
            UnOp::Abs if t.is_signed() => ins.iabs(x),
            UnOp::Not if t == Scalar::Bool => ins.bxor_imm_u(x, 1),
            UnOp::Not => ins.bnot(x),
            // Abs of unsigned (and Bool) values, and float-only ops on ints (rejected by the
            // verifier), leave the value unchanged, as in the interpreter.
            _ => x,
        }
    }

    fn binary(&mut self, op: BinOp, x: Value, y: Value, t: Scalar) -> Result<Value, Error> {
        if t.is_float() {
            let ins = self.b.ins();
            return Ok(match op {
                BinOp::Add => ins.fadd(x, y),
                BinOp::Sub => ins.fsub(x, y),
                BinOp::Mul => ins.fmul(x, y),
                BinOp::Div => ins.fdiv(x, y),
                BinOp::Min | BinOp::Max => {
                    let r = if op == BinOp::Min {
                        ins.fmin(x, y)
                    } else {
                        ins.fmax(x, y)
                    };
                    let uno = self.b.ins().fcmp(FloatCC::Unordered, x, y);
                    let nan = if t == Scalar::F32 {
                        f32::NAN.to_bits() as u64
                    } else {
                        f64::NAN.to_bits()
                    };
                    let nan = self.fbits(t, nan);
                    self.b.ins().select(uno, nan, r)
                }
                _ => return Err(bad(format!("{op:?} on {t}"))),
            });
        }
        let ins = self.b.ins();
        let signed = t.is_signed();
        Ok(match op {
            BinOp::Add => ins.iadd(x, y),
            BinOp::Sub => ins.isub(x, y),
            BinOp::Mul => ins.imul(x, y),
            BinOp::Div | BinOp::Rem => self.div(op, x, y, t),
            BinOp::Min if signed => ins.smin(x, y),
            BinOp::Min => ins.umin(x, y),
            BinOp::Max if signed => ins.smax(x, y),
            BinOp::Max => ins.umax(x, y),
            BinOp::And => ins.band(x, y),
            BinOp::Or => ins.bor(x, y),
            BinOp::Xor => ins.bxor(x, y),
            BinOp::Shl => ins.ishl(x, y),
            BinOp::Shr if signed => ins.sshr(x, y),
            BinOp::Shr => ins.ushr(x, y),
        })
    }

    /// Integer `Div`/`Rem` by a run-time divisor, made total.
    fn div(&mut self, op: BinOp, x: Value, y: Value, t: Scalar) -> Value {
        let zero = self.iconst(t, 0);
        let one = self.iconst(t, 1);
        let is_zero = self.b.ins().icmp(IntCC::Equal, y, zero);
        if !t.is_signed() {
            let safe = self.b.ins().select(is_zero, one, y);
            let r = if op == BinOp::Div {
                self.b.ins().udiv(x, safe)
            } else {
                self.b.ins().urem(x, safe)
            };
            return self.b.ins().select(is_zero, zero, r);
        }
        let m1 = self.iconst(t, -1);
        let is_m1 = self.b.ins().icmp(IntCC::Equal, y, m1);
        let bad = self.b.ins().bor(is_zero, is_m1);
        let safe = self.b.ins().select(bad, one, y);
        if op == BinOp::Div {
            let q = self.b.ins().sdiv(x, safe);
            // x / -1 == -x (wrapping: MIN / -1 == MIN).
            let neg = self.b.ins().ineg(x);
            let q = self.b.ins().select(is_m1, neg, q);
            self.b.ins().select(is_zero, zero, q)
        } else {
            let r = self.b.ins().srem(x, safe);
            self.b.ins().select(bad, zero, r)
        }
    }

    /// Integer `Div`/`Rem` by the constant `d` (its value as the type reads it).
    fn div_const(&mut self, op: BinOp, x: Value, t: Scalar, d: i128) -> Value {
        if d == 0 || (op == BinOp::Rem && t.is_signed() && d == -1) {
            return self.iconst(t, 0);
        }
        if t.is_signed() && d == -1 {
            return self.b.ins().ineg(x);
        }
        let y = self.iconst(t, d as i64);
        let ins = self.b.ins();
        match (op, t.is_signed()) {
            (BinOp::Div, true) => ins.sdiv(x, y),
            (BinOp::Div, false) => ins.udiv(x, y),
            (_, true) => ins.srem(x, y),
            (_, false) => ins.urem(x, y),
        }
    }

    fn cmp(&mut self, op: CmpOp, x: Value, y: Value, t: Scalar) -> Value {
        if t.is_float() {
            let cc = match op {
                CmpOp::Eq => FloatCC::Equal,
                CmpOp::Ne => FloatCC::NotEqual,
                CmpOp::Lt => FloatCC::LessThan,
                CmpOp::Le => FloatCC::LessThanOrEqual,
                CmpOp::Gt => FloatCC::GreaterThan,
                CmpOp::Ge => FloatCC::GreaterThanOrEqual,
            };
            return self.b.ins().fcmp(cc, x, y);
        }
        let s = t.is_signed();
        let cc = match op {
            CmpOp::Eq => IntCC::Equal,
            CmpOp::Ne => IntCC::NotEqual,
            CmpOp::Lt if s => IntCC::SignedLessThan,
            CmpOp::Lt => IntCC::UnsignedLessThan,
            CmpOp::Le if s => IntCC::SignedLessThanOrEqual,
            CmpOp::Le => IntCC::UnsignedLessThanOrEqual,
            CmpOp::Gt if s => IntCC::SignedGreaterThan,
            CmpOp::Gt => IntCC::UnsignedGreaterThan,
            CmpOp::Ge if s => IntCC::SignedGreaterThanOrEqual,
            CmpOp::Ge => IntCC::UnsignedGreaterThanOrEqual,
        };
        self.b.ins().icmp(cc, x, y)
    }

    fn cast(&mut self, to: Scalar, x: Value, from: Scalar) -> Value {
        if to == from {
            return x;
        }
        if to == Scalar::Bool {
            return if from.is_float() {
                let z = self.fbits(from, 0);
                self.b.ins().fcmp(FloatCC::NotEqual, x, z)
            } else {
                self.b.ins().icmp_imm_u(IntCC::NotEqual, x, 0)
            };
        }
        let ty = cl_type(to);
        match (from.is_float(), to.is_float()) {
            (true, true) => {
                if to == Scalar::F64 {
                    self.b.ins().fpromote(ty, x)
                } else {
                    self.b.ins().fdemote(ty, x)
                }
            }
            (false, true) => match from {
                Scalar::U64 => self.b.ins().fcvt_from_uint(ty, x),
                Scalar::I64 | Scalar::I32 => self.b.ins().fcvt_from_sint(ty, x),
                // Narrower types: widen exactly, then convert (one rounding).
                Scalar::I8 | Scalar::I16 => {
                    let w = self.b.ins().sextend(types::I32, x);
                    self.b.ins().fcvt_from_sint(ty, w)
                }
                Scalar::Bool | Scalar::U8 | Scalar::U16 => {
                    let w = self.b.ins().uextend(types::I32, x);
                    self.b.ins().fcvt_from_sint(ty, w)
                }
                _ => {
                    let w = self.b.ins().uextend(types::I64, x);
                    self.b.ins().fcvt_from_sint(ty, w)
                }
            },
            (true, false) => self.float_to_int(to, x),
            (false, false) => {
                let (fb, tb) = (from.bits(), to.bits());
                if tb > fb {
                    if from.is_signed() {
                        self.b.ins().sextend(ty, x)
                    } else {
                        self.b.ins().uextend(ty, x)
                    }
                } else if tb < fb {
                    self.b.ins().ireduce(ty, x)
                } else {
                    x
                }
            }
        }
    }

    /// Saturating float → int (NaN → 0), also for 8- and 16-bit targets.
    fn float_to_int(&mut self, to: Scalar, x: Value) -> Value {
        match to {
            Scalar::I32 | Scalar::I64 => self.b.ins().fcvt_to_sint_sat(cl_type(to), x),
            Scalar::U32 | Scalar::U64 => self.b.ins().fcvt_to_uint_sat(cl_type(to), x),
            Scalar::I8 | Scalar::I16 => {
                let (lo, hi) = to.int_range().unwrap_or((0, 0));
                let w = self.b.ins().fcvt_to_sint_sat(types::I32, x);
                let lo = self
                    .b
                    .ins()
                    .iconst(types::I32, mask(Scalar::I32, lo as i64));
                let hi = self.b.ins().iconst(types::I32, hi as i64);
                let w = self.b.ins().smax(w, lo);
                let w = self.b.ins().smin(w, hi);
                self.b.ins().ireduce(cl_type(to), w)
            }
            _ => {
                // U8, U16 (Bool is handled by the caller).
                let (_, hi) = to.int_range().unwrap_or((0, 0));
                let w = self.b.ins().fcvt_to_uint_sat(types::I32, x);
                let hi = self.b.ins().iconst(types::I32, hi as i64);
                let w = self.b.ins().umin(w, hi);
                self.b.ins().ireduce(cl_type(to), w)
            }
        }
    }
}
