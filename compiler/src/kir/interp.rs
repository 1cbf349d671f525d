//! The kir interpreter: the oracle. Runs a `Program` exactly as the semantics in `kir` say,
//! with every load and store bounds-checked (an out-of-bounds access is a Kiln bug and is
//! reported as a `Fault`, never performed). Also used by constant folding, so an op's lowering
//! is the only definition of what it computes.

use super::*;

/// A typed scalar value: `bits` holds the value's bit pattern, sign-extended for signed ints,
/// zero-extended for unsigned ints and bools, the IEEE bits for floats.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct V {
    pub t: Scalar,
    pub bits: u64,
}

impl V {
    pub fn f32(x: f32) -> V {
        V {
            t: Scalar::F32,
            bits: x.to_bits() as u64,
        }
    }
    pub fn f64(x: f64) -> V {
        V {
            t: Scalar::F64,
            bits: x.to_bits(),
        }
    }
    pub fn i64(x: i64) -> V {
        V {
            t: Scalar::I64,
            bits: x as u64,
        }
    }
    pub fn bool(b: bool) -> V {
        V {
            t: Scalar::Bool,
            bits: b as u64,
        }
    }
    pub fn as_f32(self) -> f32 {
        f32::from_bits(self.bits as u32)
    }
    pub fn as_f64(self) -> f64 {
        f64::from_bits(self.bits)
    }
    /// The integer value (ints and bools), exactly.
    pub fn int(self) -> i128 {
        if self.t.is_signed() {
            self.bits as i64 as i128
        } else {
            self.bits as i128
        }
    }
    pub fn as_i64(self) -> i64 {
        self.int() as i64
    }
    /// Float value widened to f64 (floats only).
    fn fl(self) -> f64 {
        if self.t == Scalar::F32 {
            self.as_f32() as f64
        } else {
            self.as_f64()
        }
    }
    /// Wrap an integer to type `t`'s width (`t` not a float).
    pub fn wrap(t: Scalar, v: i128) -> V {
        let bits = match t {
            Scalar::Bool => (v != 0) as u64,
            Scalar::I8 => v as i8 as i64 as u64,
            Scalar::I16 => v as i16 as i64 as u64,
            Scalar::I32 => v as i32 as i64 as u64,
            Scalar::I64 => v as i64 as u64,
            Scalar::U8 => v as u8 as u64,
            Scalar::U16 => v as u16 as u64,
            Scalar::U32 => v as u32 as u64,
            Scalar::U64 | Scalar::F32 | Scalar::F64 => v as u64,
        };
        V { t, bits }
    }
    /// A float of type `t` from an f64 computed value (rounded once for f32).
    fn float(t: Scalar, x: f64) -> V {
        if t == Scalar::F32 {
            V::f32(x as f32)
        } else {
            V::f64(x)
        }
    }
    pub fn from_lit(t: Scalar, l: Lit) -> V {
        match l {
            Lit::Float(_) if t.is_float() => V::float(t, l.as_f64()),
            Lit::Int(i) if !t.is_float() => V::wrap(t, i as i128),
            _ => cast(t, V::f64(l.as_f64())),
        }
    }
    fn truthy(self) -> bool {
        match self.t {
            Scalar::F32 => self.as_f32() != 0.0,
            Scalar::F64 => self.as_f64() != 0.0,
            _ => self.bits != 0,
        }
    }
}

/// Read an element of type `t` from little-endian bytes.
pub fn read(t: Scalar, b: &[u8]) -> V {
    let mut raw = [0u8; 8];
    raw[..t.size()].copy_from_slice(&b[..t.size()]);
    let u = u64::from_le_bytes(raw);
    match t {
        Scalar::I8 | Scalar::I16 | Scalar::I32 => {
            let sh = 64 - t.bits();
            V {
                t,
                bits: (((u << sh) as i64) >> sh) as u64,
            }
        }
        Scalar::Bool => V::bool(u != 0),
        _ => V { t, bits: u },
    }
}

/// Write `v` (of type `t`) as little-endian bytes.
pub fn write(v: V, b: &mut [u8]) {
    let n = v.t.size();
    b[..n].copy_from_slice(&v.bits.to_le_bytes()[..n]);
}

/// The pinned `Cast` semantics.
pub fn cast(t: Scalar, v: V) -> V {
    if t == v.t {
        return v;
    }
    if t == Scalar::Bool {
        return V::bool(v.truthy());
    }
    match (v.t.is_float(), t.is_float()) {
        (true, true) => V::float(t, v.fl()),
        (false, true) => {
            // Round once, from the exact integer.
            let i = v.int();
            if t == Scalar::F32 {
                V::f32(if v.t.is_signed() {
                    i as i64 as f32
                } else {
                    i as u64 as f32
                })
            } else {
                V::f64(if v.t.is_signed() {
                    i as i64 as f64
                } else {
                    i as u64 as f64
                })
            }
        }
        (true, false) => {
            // Saturating, NaN -> 0 (Rust `as` semantics).
            let x = v.fl();
            let (lo, hi) = t.int_range().expect("int type");
            let i: i128 = if x.is_nan() {
                0
            } else if x <= lo as f64 {
                lo
            } else if x >= hi as f64 {
                hi
            } else {
                x as i128
            };
            V::wrap(t, i)
        }
        (false, false) => V::wrap(t, v.int()),
    }
}

fn fmin(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == b {
        // -0 < +0
        if a.is_sign_negative() {
            a
        } else {
            b
        }
    } else if a < b {
        a
    } else {
        b
    }
}

fn fmax(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == b {
        if a.is_sign_positive() {
            a
        } else {
            b
        }
    } else if a > b {
        a
    } else {
        b
    }
}

pub fn unary(op: UnOp, a: V) -> V {
    let t = a.t;
    if t.is_float() {
        let f32_ = t == Scalar::F32;
        return match op {
            UnOp::Neg => V {
                t,
                bits: a.bits ^ if f32_ { 1 << 31 } else { 1 << 63 },
            },
            UnOp::Abs => V {
                t,
                bits: a.bits & if f32_ { !(1 << 31) } else { !(1 << 63) },
            },
            UnOp::Sqrt => {
                if f32_ {
                    V::f32(a.as_f32().sqrt())
                } else {
                    V::f64(a.as_f64().sqrt())
                }
            }
            UnOp::Floor => V::float(t, a.fl().floor()),
            UnOp::Ceil => V::float(t, a.fl().ceil()),
            UnOp::Trunc => V::float(t, a.fl().trunc()),
            UnOp::Round => V::float(t, a.fl().round_ties_even()),
            UnOp::Not => a,
        };
    }
    let x = a.int();
    match op {
        UnOp::Neg => V::wrap(t, -x),
        UnOp::Abs => V::wrap(t, x.abs()),
        UnOp::Not if t == Scalar::Bool => V::bool(x == 0),
        UnOp::Not => V::wrap(t, !x),
        _ => a,
    }
}

pub fn binary(op: BinOp, a: V, b: V) -> V {
    let t = a.t;
    if t.is_float() {
        let (x, y) = (a.fl(), b.fl());
        if t == Scalar::F32 {
            let (x, y) = (a.as_f32(), b.as_f32());
            let r = match op {
                BinOp::Add => x + y,
                BinOp::Sub => x - y,
                BinOp::Mul => x * y,
                BinOp::Div => x / y,
                BinOp::Min => return V::float(t, fmin(x as f64, y as f64)),
                BinOp::Max => return V::float(t, fmax(x as f64, y as f64)),
                _ => f32::NAN,
            };
            return V::f32(r);
        }
        let r = match op {
            BinOp::Add => x + y,
            BinOp::Sub => x - y,
            BinOp::Mul => x * y,
            BinOp::Div => x / y,
            BinOp::Min => fmin(x, y),
            BinOp::Max => fmax(x, y),
            _ => f64::NAN,
        };
        return V::f64(r);
    }
    let (x, y) = (a.int(), b.int());
    let bits = t.bits() as i128;
    let (lo, _) = t.int_range().unwrap_or((0, 0));
    let r = match op {
        BinOp::Add => x + y,
        BinOp::Sub => x - y,
        BinOp::Mul => x.wrapping_mul(y),
        BinOp::Div => {
            if y == 0 {
                0
            } else if x == lo && y == -1 {
                lo
            } else {
                x / y
            }
        }
        BinOp::Rem => {
            if y == 0 || (x == lo && y == -1) {
                0
            } else {
                x % y
            }
        }
        BinOp::Min => x.min(y),
        BinOp::Max => x.max(y),
        BinOp::And => x & y,
        BinOp::Or => x | y,
        BinOp::Xor => x ^ y,
        BinOp::Shl => {
            let s = (y.rem_euclid(bits)) as u32;
            (a.bits << s) as i128
        }
        BinOp::Shr => {
            let s = (y.rem_euclid(bits)) as u32;
            if t.is_signed() {
                x >> s
            } else {
                (a.bits >> s) as i128
            }
        }
    };
    V::wrap(t, r)
}

pub fn compare(op: CmpOp, a: V, b: V) -> V {
    use std::cmp::Ordering;
    let ord = if a.t.is_float() {
        a.fl().partial_cmp(&b.fl())
    } else {
        Some(a.int().cmp(&b.int()))
    };
    V::bool(match (op, ord) {
        (CmpOp::Ne, None) => true,
        (_, None) => false,
        (CmpOp::Eq, Some(o)) => o == Ordering::Equal,
        (CmpOp::Ne, Some(o)) => o != Ordering::Equal,
        (CmpOp::Lt, Some(o)) => o == Ordering::Less,
        (CmpOp::Le, Some(o)) => o != Ordering::Greater,
        (CmpOp::Gt, Some(o)) => o == Ordering::Greater,
        (CmpOp::Ge, Some(o)) => o != Ordering::Less,
    })
}

/// Shim math, called exactly as the backends call it.
pub fn math(f: MathFn, args: &[V]) -> V {
    use kiln_shim as s;
    let t = args[0].t;
    if t == Scalar::F32 {
        let x = args[0].as_f32();
        let y = args.get(1).map(|v| v.as_f32()).unwrap_or(0.0);
        V::f32(match f {
            MathFn::Exp => s::expf(x),
            MathFn::Log => s::logf(x),
            MathFn::Tanh => s::tanhf(x),
            MathFn::Pow => s::powf(x, y),
            MathFn::Erf => s::erff(x),
            MathFn::Sin => s::sinf(x),
            MathFn::Cos => s::cosf(x),
            MathFn::Tan => s::tanf(x),
            MathFn::Asin => s::asinf(x),
            MathFn::Acos => s::acosf(x),
            MathFn::Atan => s::atanf(x),
            MathFn::Sinh => s::sinhf(x),
            MathFn::Cosh => s::coshf(x),
            MathFn::Asinh => s::asinhf(x),
            MathFn::Acosh => s::acoshf(x),
            MathFn::Atanh => s::atanhf(x),
            MathFn::Fmod => s::fmodf(x, y),
        })
    } else {
        let x = args[0].as_f64();
        let y = args.get(1).map(|v| v.as_f64()).unwrap_or(0.0);
        V::f64(match f {
            MathFn::Exp => s::exp(x),
            MathFn::Log => s::log(x),
            MathFn::Tanh => s::tanh(x),
            MathFn::Pow => s::pow(x, y),
            MathFn::Erf => s::erf(x),
            MathFn::Sin => s::sin(x),
            MathFn::Cos => s::cos(x),
            MathFn::Tan => s::tan(x),
            MathFn::Asin => s::asin(x),
            MathFn::Acos => s::acos(x),
            MathFn::Atan => s::atan(x),
            MathFn::Sinh => s::sinh(x),
            MathFn::Cosh => s::cosh(x),
            MathFn::Asinh => s::asinh(x),
            MathFn::Acosh => s::acosh(x),
            MathFn::Atanh => s::atanh(x),
            MathFn::Fmod => s::fmod(x, y),
        })
    }
}

/// Why the interpreter stopped: a Kiln bug (lowering produced an invalid access).
#[derive(Debug, Clone, PartialEq)]
pub struct Fault(pub String);

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "kir interpreter fault: {}", self.0)
    }
}

#[derive(Clone, Copy)]
enum Region {
    Input(usize),
    Output(usize),
    Weight,
    Scratch,
}

/// The memory a program runs on; lengths in bytes.
pub struct Memory<'a> {
    pub inputs: Vec<&'a [u8]>,
    pub outputs: Vec<&'a mut [u8]>,
    pub scratch: &'a mut [u8],
}

struct Ctx<'a, 'm> {
    p: &'a Program,
    dims: &'a [i64],
    lens: &'a [u64],
    mem: &'a mut Memory<'m>,
    /// Per buffer: region, byte offset, element count (after validation).
    bufs: Vec<(Region, usize, usize)>,
    vars: Vec<V>,
}

enum Flow {
    Next,
    Fail(Status),
}

/// Run `p` on `mem`. `lens` as in the entry ABI (inputs, outputs as element counts, then
/// scratch bytes). Returns the status the entry would return.
pub fn run(p: &Program, dims: &[i64], lens: &[u64], mem: &mut Memory<'_>) -> Result<Status, Fault> {
    if dims.len() < p.syms.len() || lens.len() < p.inputs.len() + p.outputs.len() + 1 {
        return Err(Fault("too few dims or lens".into()));
    }
    let mut ctx = Ctx {
        p,
        dims,
        lens,
        mem,
        bufs: vec![],
        vars: vec![],
    };
    // The first kernel validates dims and lengths; buffer extents are computed after it.
    for (ki, k) in p.kernels.iter().enumerate() {
        if ki == 1 {
            ctx.resolve_buffers()?;
        }
        ctx.vars = k.vars.iter().map(|t| V { t: *t, bits: 0 }).collect();
        if let Flow::Fail(s) = ctx.block(&k.body)? {
            return Ok(s);
        }
    }
    Ok(Status::Ok)
}

impl Ctx<'_, '_> {
    fn resolve_buffers(&mut self) -> Result<(), Fault> {
        let mut bufs = vec![];
        for b in &self.p.buffers {
            let len = self.eval(&b.len)?.as_i64();
            if len < 0 {
                return Err(Fault(format!("buffer {} has negative length", b.name)));
            }
            let (region, off) = match &b.kind {
                BufKind::Input(i) => (Region::Input(*i as usize), 0),
                BufKind::Output(i) => (Region::Output(*i as usize), 0),
                BufKind::Weight { offset } => (Region::Weight, *offset as usize),
                BufKind::Scratch { offset } => {
                    (Region::Scratch, self.eval(offset)?.as_i64() as usize)
                }
            };
            bufs.push((region, off, len as usize));
        }
        self.bufs = bufs;
        Ok(())
    }

    /// Byte range of element `idx` of buffer `b`, checked against the buffer and its region.
    fn locate(&self, b: BufId, idx: i64) -> Result<(Region, usize, usize), Fault> {
        let buf = &self.p.buffers[b.0 as usize];
        let (region, off, len) = *self
            .bufs
            .get(b.0 as usize)
            .ok_or_else(|| Fault(format!("buffer {} used before validation", buf.name)))?;
        if idx < 0 || idx as usize >= len {
            return Err(Fault(format!(
                "index {idx} out of bounds of buffer {} (length {len})",
                buf.name
            )));
        }
        let start = off + idx as usize * buf.elem.size();
        let region_len = match region {
            Region::Input(i) => self.mem.inputs.get(i).map_or(0, |x| x.len()),
            Region::Output(i) => self.mem.outputs.get(i).map_or(0, |x| x.len()),
            Region::Weight => self.p.weights.len(),
            Region::Scratch => self.mem.scratch.len(),
        };
        if start + buf.elem.size() > region_len {
            return Err(Fault(format!(
                "buffer {} extends beyond its memory",
                buf.name
            )));
        }
        Ok((region, start, start + buf.elem.size()))
    }

    fn load(&self, b: BufId, idx: i64) -> Result<V, Fault> {
        let (region, s, e) = self.locate(b, idx)?;
        let bytes: &[u8] = match region {
            Region::Input(i) => &self.mem.inputs[i][s..e],
            Region::Output(i) => &self.mem.outputs[i][s..e],
            Region::Weight => &self.p.weights[s..e],
            Region::Scratch => &self.mem.scratch[s..e],
        };
        Ok(read(self.p.buffers[b.0 as usize].elem, bytes))
    }

    fn store(&mut self, b: BufId, idx: i64, v: V) -> Result<(), Fault> {
        let (region, s, e) = self.locate(b, idx)?;
        let bytes: &mut [u8] = match region {
            Region::Output(i) => &mut self.mem.outputs[i][s..e],
            Region::Scratch => &mut self.mem.scratch[s..e],
            Region::Input(_) | Region::Weight => {
                return Err(Fault("store to read-only memory".into()));
            }
        };
        write(v, bytes);
        Ok(())
    }

    fn block(&mut self, body: &[Stmt]) -> Result<Flow, Fault> {
        for s in body {
            match s {
                Stmt::Let(v, e) | Stmt::Set(v, e) => {
                    let x = self.eval(e)?;
                    self.vars[v.0 as usize] = x;
                }
                Stmt::Loop {
                    var,
                    start,
                    end,
                    body,
                } => {
                    let s = self.eval(start)?.as_i64();
                    let e = self.eval(end)?.as_i64();
                    let mut i = s;
                    while i < e {
                        self.vars[var.0 as usize] = V::i64(i);
                        if let Flow::Fail(st) = self.block(body)? {
                            return Ok(Flow::Fail(st));
                        }
                        i += 1;
                    }
                }
                Stmt::Store { buf, idx, val } => {
                    let i = self.eval(idx)?.as_i64();
                    let v = self.eval(val)?;
                    self.store(*buf, i, v)?;
                }
                Stmt::If { cond, then, els } => {
                    let f = if self.eval(cond)?.truthy() {
                        self.block(then)?
                    } else {
                        self.block(els)?
                    };
                    if let Flow::Fail(st) = f {
                        return Ok(Flow::Fail(st));
                    }
                }
                Stmt::Fail(st) => return Ok(Flow::Fail(*st)),
                // The fallback is the definition (every access bounds-checked).
                Stmt::Gemm { fallback, .. } => {
                    if let Flow::Fail(st) = self.block(fallback)? {
                        return Ok(Flow::Fail(st));
                    }
                }
            }
        }
        Ok(Flow::Next)
    }

    fn eval(&self, e: &Expr) -> Result<V, Fault> {
        Ok(match e {
            Expr::Imm(t, l) => V::from_lit(*t, *l),
            Expr::Var(v) => self.vars[v.0 as usize],
            Expr::Dim(s) => V::i64(self.dims[s.0 as usize]),
            Expr::Len(i) => V::i64(self.lens[*i as usize] as i64),
            Expr::Load(b, i) => {
                let i = self.eval(i)?.as_i64();
                self.load(*b, i)?
            }
            Expr::Unary(op, a) => unary(*op, self.eval(a)?),
            Expr::Binary(op, a, b) => binary(*op, self.eval(a)?, self.eval(b)?),
            Expr::Fma(a, b, c) => {
                let (a, b, c) = (self.eval(a)?, self.eval(b)?, self.eval(c)?);
                if a.t == Scalar::F32 {
                    V::f32(a.as_f32().mul_add(b.as_f32(), c.as_f32()))
                } else {
                    V::f64(a.as_f64().mul_add(b.as_f64(), c.as_f64()))
                }
            }
            Expr::Cmp(op, a, b) => compare(*op, self.eval(a)?, self.eval(b)?),
            Expr::Select(c, a, b) => {
                // Both arms are evaluated, as in every backend (Cranelift `select`): an arm
                // may not hold an access that is only valid when the arm is chosen.
                let (c, a, b) = (self.eval(c)?, self.eval(a)?, self.eval(b)?);
                if c.truthy() {
                    a
                } else {
                    b
                }
            }
            Expr::Cast(t, a) => cast(*t, self.eval(a)?),
            Expr::Bitcast(t, a) => {
                let v = self.eval(a)?;
                let mask = if t.size() == 8 {
                    u64::MAX
                } else {
                    (1u64 << t.bits()) - 1
                };
                read(*t, &(v.bits & mask).to_le_bytes())
            }
            Expr::Call(f, args) => {
                let mut vs = [V::i64(0); 2];
                for (i, a) in args.iter().enumerate().take(2) {
                    vs[i] = self.eval(a)?;
                }
                math(*f, &vs[..args.len().min(2)])
            }
        })
    }
}
