//! C expressions for kir: one exhaustive visitor printing a typed kir expression as a C11
//! expression whose value is bit-for-bit the one `kir::interp` computes.
//!
//! Invariants of every string `ExprCx::expr` returns:
//! - it is atomic (an identifier, a call, an indexing, or fully parenthesized), so it can be
//!   used as an operand anywhere without further parentheses;
//! - its C type, after the usual conversions, is `c_type` of the kir type (`uint8_t` holding 0
//!   or 1 for `Bool`);
//! - it has no side effects and no undefined behaviour for any operand values: signed
//!   integer arithmetic is done in the unsigned type `u_type` (32-bit `unsigned int` for types
//!   of up to 32 bits, `uint64_t` for 64-bit ones) and converted back (the conversion is
//!   implementation-defined in C11; every supported compiler wraps modulo 2^N); operations
//!   that need an operand twice (division, min/max, signed shift right, float → int casts)
//!   go through `static inline` helpers, so every operand is evaluated once.
//!
//! The helpers are emitted by the caller from `ExprCx::helpers` (see `helper_defs`), named
//! with a prefix so that several generated files can be included together (`kiln_` in the
//! `.c`, `NAME_kiln_` in the header).

use crate::kir::{interp, verify, BinOp, BufKind, CmpOp, Expr, Lit, MathFn, Program, Scalar, UnOp};
use std::collections::BTreeSet;

/// The C type holding values of `t`.
pub fn c_type(t: Scalar) -> &'static str {
    match t {
        Scalar::Bool => "uint8_t",
        Scalar::I8 => "int8_t",
        Scalar::I16 => "int16_t",
        Scalar::I32 => "int32_t",
        Scalar::I64 => "int64_t",
        Scalar::U8 => "uint8_t",
        Scalar::U16 => "uint16_t",
        Scalar::U32 => "uint32_t",
        Scalar::U64 => "uint64_t",
        Scalar::F32 => "float",
        Scalar::F64 => "double",
    }
}

/// The unsigned type wrapping integer arithmetic on `t` is done in.
fn u_type(t: Scalar) -> &'static str {
    if t.bits() <= 32 {
        "uint32_t"
    } else {
        "uint64_t"
    }
}

/// Unsigned integer type of the same size as float `t` (for bit casts).
fn bits_type(t: Scalar) -> &'static str {
    if t == Scalar::F32 {
        "uint32_t"
    } else {
        "uint64_t"
    }
}

/// A `static inline` function the emitted expressions call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Helper {
    /// float from its bits (F32/F64). Listed first: other helpers use it.
    FromBits(Scalar),
    /// bits of a float (F32/F64).
    ToBits(Scalar),
    Div(Scalar),
    Rem(Scalar),
    /// Arithmetic shift right of a signed integer.
    Shr(Scalar),
    /// Wrapping absolute value of a signed integer.
    Abs(Scalar),
    Min(Scalar),
    Max(Scalar),
    /// Saturating float → integer conversion (from a `double`), NaN → 0.
    FToI(Scalar),
    /// floor/ceil/trunc/rint (`UnOp::Floor/Ceil/Trunc/Round`) of F32/F64, NaN quieted (C
    /// libraries differ on signaling NaNs).
    Rounding(UnOp, Scalar),
    /// Element `i` of a byte-addressed buffer (weights, scratch), via `memcpy`.
    Load(Scalar),
    Store(Scalar),
}

impl Helper {
    /// Sort key: definitions are emitted in this order (`FromBits` first: others use it).
    fn key(self) -> (u8, u8, Scalar) {
        match self {
            Helper::FromBits(t) => (0, 0, t),
            Helper::ToBits(t) => (1, 0, t),
            Helper::Div(t) => (2, 0, t),
            Helper::Rem(t) => (3, 0, t),
            Helper::Shr(t) => (4, 0, t),
            Helper::Abs(t) => (5, 0, t),
            Helper::Min(t) => (6, 0, t),
            Helper::Max(t) => (7, 0, t),
            Helper::FToI(t) => (8, 0, t),
            Helper::Rounding(op, t) => (9, op as u8, t),
            Helper::Load(t) => (10, 0, t),
            Helper::Store(t) => (11, 0, t),
        }
    }

    /// Helpers this one calls.
    fn deps(self) -> Vec<Helper> {
        match self {
            Helper::Min(t) | Helper::Max(t) if t.is_float() => vec![Helper::FromBits(t)],
            _ => vec![],
        }
    }

    pub fn name(self, prefix: &str) -> String {
        let (op, t) = match self {
            Helper::FromBits(t) => ("from_bits", t),
            Helper::ToBits(t) => ("to_bits", t),
            Helper::Div(t) => ("div", t),
            Helper::Rem(t) => ("rem", t),
            Helper::Shr(t) => ("shr", t),
            Helper::Abs(t) => ("abs", t),
            Helper::Min(t) => ("min", t),
            Helper::Max(t) => ("max", t),
            Helper::FToI(t) => ("f2i", t),
            Helper::Rounding(op, t) => (rounding_fn(op), t),
            Helper::Load(t) => ("ld", t),
            Helper::Store(t) => ("st", t),
        };
        format!("{prefix}{op}_{}", t.name())
    }

    /// The C definition (one `static inline` function).
    pub fn def(self, prefix: &str) -> String {
        let name = self.name(prefix);
        let sig = |t: Scalar, params: &str| format!("static inline {} {name}({params})", c_type(t));
        match self {
            Helper::FromBits(t) => {
                let (ct, bt) = (c_type(t), bits_type(t));
                format!(
                    "{} {{ {ct} x; memcpy(&x, &u, sizeof x); return x; }}",
                    sig(t, &format!("{bt} u"))
                )
            }
            Helper::ToBits(t) => {
                let (ct, bt) = (c_type(t), bits_type(t));
                format!(
                    "static inline {bt} {name}({ct} x) {{ {bt} u; memcpy(&u, &x, sizeof u); return u; }}"
                )
            }
            Helper::Div(t) | Helper::Rem(t) => {
                let (ct, ut) = (c_type(t), u_type(t));
                let div = matches!(self, Helper::Div(_));
                let body = match (t.is_signed(), div) {
                    // MIN / -1 wraps to MIN (= 0 - MIN); MIN % -1 is 0.
                    (true, true) => format!(
                        "if (b == 0) return 0; if (b == -1) return ({ct})(({ut})0 - ({ut})a); \
                         return ({ct})(a / b);"
                    ),
                    (true, false) => {
                        format!("if (b == 0 || b == -1) return 0; return ({ct})(a % b);")
                    }
                    (false, true) => format!("if (b == 0) return 0; return ({ct})(a / b);"),
                    (false, false) => format!("if (b == 0) return 0; return ({ct})(a % b);"),
                };
                format!("{} {{ {body} }}", sig(t, &format!("{ct} a, {ct} b")))
            }
            Helper::Shr(t) => {
                let ct = c_type(t);
                // `>>` of a negative value is implementation-defined: shift the complement.
                format!(
                    "{} {{ unsigned s = (unsigned)b & {}u; return a < 0 ? ({ct})~(~a >> s) : ({ct})(a >> s); }}",
                    sig(t, &format!("{ct} a, {ct} b")),
                    t.bits() - 1
                )
            }
            Helper::Abs(t) => {
                let (ct, ut) = (c_type(t), u_type(t));
                format!(
                    "{} {{ return a < 0 ? ({ct})(({ut})0 - ({ut})a) : a; }}",
                    sig(t, &format!("{ct} a"))
                )
            }
            Helper::Min(t) | Helper::Max(t) => {
                let ct = c_type(t);
                let min = matches!(self, Helper::Min(_));
                let params = sig(t, &format!("{ct} a, {ct} b"));
                if t.is_float() {
                    // NaN if either is NaN (the canonical quiet NaN, as interp), -0 < +0.
                    let nan = float_bits_expr(t, canonical_nan(t), prefix);
                    let (zero_pick, cmp) = if min {
                        ("signbit(a) ? a : b", "a < b")
                    } else {
                        ("signbit(a) ? b : a", "a > b")
                    };
                    format!(
                        "{params} {{ if (a != a || b != b) return {nan}; if (a == b) return {zero_pick}; \
                         return {cmp} ? a : b; }}"
                    )
                } else {
                    let cmp = if min { "a < b" } else { "a > b" };
                    format!("{params} {{ return ({ct})({cmp} ? a : b); }}")
                }
            }
            Helper::FToI(t) => {
                let ct = c_type(t);
                let (lo, hi) = int_limits(t);
                format!(
                    "{} {{ if (x != x) return 0; if (x <= (double){lo}) return {lo}; \
                     if (x >= (double){hi}) return {hi}; return ({ct})x; }}",
                    sig(t, "double x")
                )
            }
            Helper::Rounding(op, t) => {
                let ct = c_type(t);
                let f = if t == Scalar::F32 { "f" } else { "" };
                // rint rounds ties to even under the default rounding mode, which generated
                // code never changes.
                format!(
                    "{} {{ return x != x ? x + x : {}{f}(x); }}",
                    sig(t, &format!("{ct} x")),
                    rounding_fn(op)
                )
            }
            Helper::Load(t) => {
                let ct = c_type(t);
                if t == Scalar::Bool {
                    format!(
                        "{} {{ return (uint8_t)(p[i] != 0); }}",
                        sig(t, "const uint8_t *p, int64_t i")
                    )
                } else {
                    format!(
                        "{} {{ {ct} v; memcpy(&v, p + i * (int64_t)sizeof v, sizeof v); return v; }}",
                        sig(t, "const uint8_t *p, int64_t i")
                    )
                }
            }
            Helper::Store(t) => {
                let ct = c_type(t);
                if t == Scalar::Bool {
                    format!("static inline void {name}(uint8_t *p, int64_t i, uint8_t v) {{ p[i] = v; }}")
                } else {
                    format!(
                        "static inline void {name}(uint8_t *p, int64_t i, {ct} v) \
                         {{ memcpy(p + i * (int64_t)sizeof v, &v, sizeof v); }}"
                    )
                }
            }
        }
    }
}

/// The C function of a rounding `UnOp`.
fn rounding_fn(op: UnOp) -> &'static str {
    match op {
        UnOp::Floor => "floor",
        UnOp::Ceil => "ceil",
        UnOp::Trunc => "trunc",
        _ => "rint",
    }
}

impl PartialOrd for Helper {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Helper {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

/// `<stdint.h>` limits of integer type `t` (for `Bool`: 0 and 1).
fn int_limits(t: Scalar) -> (&'static str, &'static str) {
    match t {
        Scalar::I8 => ("INT8_MIN", "INT8_MAX"),
        Scalar::I16 => ("INT16_MIN", "INT16_MAX"),
        Scalar::I32 => ("INT32_MIN", "INT32_MAX"),
        Scalar::I64 => ("INT64_MIN", "INT64_MAX"),
        Scalar::U8 => ("0", "UINT8_MAX"),
        Scalar::U16 => ("0", "UINT16_MAX"),
        Scalar::U32 => ("0", "UINT32_MAX"),
        Scalar::U64 => ("0", "UINT64_MAX"),
        Scalar::Bool | Scalar::F32 | Scalar::F64 => ("0", "1"),
    }
}

/// The NaN `interp` produces for min/max (`f64::NAN`, narrowed for f32).
fn canonical_nan(t: Scalar) -> u64 {
    if t == Scalar::F32 {
        0x7fc0_0000
    } else {
        0x7ff8_0000_0000_0000
    }
}

/// A float of type `t` with the given bits, via the `FromBits` helper.
fn float_bits_expr(t: Scalar, bits: u64, prefix: &str) -> String {
    let name = Helper::FromBits(t).name(prefix);
    if t == Scalar::F32 {
        format!("{name}(0x{bits:08x}u)")
    } else {
        format!("{name}(UINT64_C(0x{bits:016x}))")
    }
}

/// Definitions of `helpers` (and their dependencies), in a fixed order, one per line.
pub fn helper_defs(helpers: &BTreeSet<Helper>, prefix: &str) -> String {
    let mut all = helpers.clone();
    for h in helpers {
        all.extend(h.deps());
    }
    let mut s = String::new();
    for h in &all {
        s.push_str(&h.def(prefix));
        s.push('\n');
    }
    s
}

/// An exact C literal for the finite double `x` (hexadecimal, no suffix, no sign: `x ≥ 0`).
pub fn hex_float(x: f64) -> String {
    let bits = x.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i64;
    let mant = bits & ((1u64 << 52) - 1);
    let frac = |m: u64| {
        let s = format!("{m:013x}");
        let t = s.trim_end_matches('0');
        if t.is_empty() {
            String::new()
        } else {
            format!(".{t}")
        }
    };
    match (exp, mant) {
        (0, 0) => "0x0p+0".to_string(),
        (0, m) => format!("0x0{}p-1022", frac(m)),
        (e, m) => format!("0x1{}p{:+}", frac(m), e - 1023),
    }
}

/// A C expression for the float value of type `t` with bits `bits` (f32 bits in the low 32).
pub fn float_lit(t: Scalar, bits: u64, prefix: &str, helpers: &mut BTreeSet<Helper>) -> String {
    let x = if t == Scalar::F32 {
        f32::from_bits(bits as u32) as f64
    } else {
        f64::from_bits(bits)
    };
    if !x.is_finite() {
        helpers.insert(Helper::FromBits(t));
        return float_bits_expr(t, bits, prefix);
    }
    let suffix = if t == Scalar::F32 { "f" } else { "" };
    let mag = hex_float(x.abs());
    if x.is_sign_negative() {
        format!("(-{mag}{suffix})")
    } else {
        format!("{mag}{suffix}")
    }
}

/// A C expression of type `c_type(t)` for the integer (or bool) value `v` (in range of `t`).
pub fn int_lit(t: Scalar, v: i128) -> String {
    match t {
        Scalar::I64 if v == i64::MIN as i128 => "(-INT64_MAX - 1)".to_string(),
        Scalar::I64 => format!("INT64_C({v})"),
        Scalar::U64 => format!("UINT64_C({v})"),
        Scalar::I32 if v == i32::MIN as i128 => "(-INT32_MAX - 1)".to_string(),
        _ if t.is_signed() => format!("(({}){v})", c_type(t)),
        _ => format!("(({}){v}u)", c_type(t)),
    }
}

/// A literal of the unsigned arithmetic type of `t` with the low bits of `bits`.
fn u_lit(t: Scalar, bits: u64) -> String {
    if t.bits() <= 32 {
        format!("{}u", bits as u32)
    } else {
        format!("UINT64_C({bits})")
    }
}

/// How kernel code reaches a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BufAccess {
    /// `b<id>` is a typed pointer (`const float *`): the caller's inputs and outputs.
    Typed,
    /// `b<id>` is a byte pointer read and written with `memcpy` helpers (weights, scratch):
    /// those bytes may hold several types over a run, so typed access could break C's
    /// effective-type rules.
    Bytes,
}

pub fn buf_access(kind: &BufKind) -> BufAccess {
    match kind {
        BufKind::Input(_) | BufKind::Output(_) => BufAccess::Typed,
        BufKind::Weight { .. } | BufKind::Scratch { .. } => BufAccess::Bytes,
    }
}

/// Prints expressions of one kernel (or, with no variables, of size expressions).
pub struct ExprCx<'a> {
    pub p: &'a Program,
    pub vars: &'a [Scalar],
    /// Prefix of helper names.
    pub prefix: String,
    /// C expression of the `dims` array (`dims`).
    pub dims: String,
    pub helpers: BTreeSet<Helper>,
    /// Shim functions called, with their element type.
    pub shims: BTreeSet<(MathFn, Scalar)>,
    /// Set when a statement calls the shim's GEMM kernel.
    pub sgemm: bool,
    /// Set when a loop calls the shim's vector functions (`VEC_C` in c.rs).
    pub vfns: bool,
    /// Set when the expression used something unavailable here (a buffer or variable in a
    /// size expression): a Kiln bug, reported by the caller.
    pub unsupported: bool,
}

impl<'a> ExprCx<'a> {
    pub fn new(p: &'a Program, vars: &'a [Scalar], prefix: &str) -> ExprCx<'a> {
        ExprCx {
            p,
            vars,
            prefix: prefix.to_string(),
            dims: "dims".to_string(),
            helpers: BTreeSet::new(),
            shims: BTreeSet::new(),
            sgemm: false,
            vfns: false,
            unsupported: false,
        }
    }

    /// The kir type of `e` (kir is verified before code generation; an ill-typed expression
    /// is printed as if it were I64, and marked unsupported).
    pub fn ty(&mut self, e: &Expr) -> Scalar {
        match verify::type_of(self.vars, &self.p.buffers, e) {
            Ok(t) => t,
            Err(_) => {
                self.unsupported = true;
                Scalar::I64
            }
        }
    }

    fn call(&mut self, h: Helper, args: &[&str]) -> String {
        self.helpers.insert(h);
        format!("{}({})", h.name(&self.prefix), args.join(", "))
    }

    /// `e` as a C expression (see the module invariants) and its kir type.
    pub fn expr(&mut self, e: &Expr) -> (String, Scalar) {
        match e {
            Expr::Imm(t, lit) => (self.imm(*t, *lit), *t),
            Expr::Var(v) => {
                let t = self.vars.get(v.0 as usize).copied().unwrap_or_else(|| {
                    self.unsupported = true;
                    Scalar::I64
                });
                (format!("v{}", v.0), t)
            }
            Expr::Dim(s) => (format!("{}[{}]", self.dims, s.0), Scalar::I64),
            Expr::Len(i) => (format!("((int64_t)lens[{i}])"), Scalar::I64),
            Expr::Load(b, idx) => {
                let (i, _) = self.expr(idx);
                let Some(buf) = self.p.buffers.get(b.0 as usize) else {
                    self.unsupported = true;
                    return ("0".into(), Scalar::I64);
                };
                let t = buf.elem;
                let s = match buf_access(&buf.kind) {
                    BufAccess::Typed if t == Scalar::Bool => {
                        format!("((uint8_t)(b{}[{i}] != 0))", b.0)
                    }
                    BufAccess::Typed => format!("b{}[{i}]", b.0),
                    BufAccess::Bytes => self.call(Helper::Load(t), &[&format!("b{}", b.0), &i]),
                };
                (s, t)
            }
            Expr::Unary(op, a) => self.unary(e, *op, a),
            Expr::Binary(op, a, b) => self.binary(e, *op, a, b),
            Expr::Fma(a, b, c) => {
                let (sa, t) = self.expr(a);
                let (sb, _) = self.expr(b);
                let (sc, _) = self.expr(c);
                let f = if t == Scalar::F32 { "fmaf" } else { "fma" };
                (format!("{f}({sa}, {sb}, {sc})"), t)
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
                (format!("((uint8_t)({sa} {o} {sb}))"), Scalar::Bool)
            }
            Expr::Select(c, a, b) => {
                let (sc, _) = self.expr(c);
                let (sa, t) = self.expr(a);
                let (sb, _) = self.expr(b);
                if t.is_float() {
                    (format!("({sc} ? {sa} : {sb})"), t)
                } else {
                    (format!("(({})({sc} ? {sa} : {sb}))", c_type(t)), t)
                }
            }
            Expr::Cast(t, a) => {
                let (sa, ta) = self.expr(a);
                (self.cast(*t, ta, sa), *t)
            }
            Expr::Bitcast(t, a) => {
                let (sa, ta) = self.expr(a);
                let t = *t;
                let s = if t == ta {
                    sa
                } else if ta.is_float() {
                    let bits = self.call(Helper::ToBits(ta), &[&sa]);
                    format!("(({}){bits})", c_type(t))
                } else if t.is_float() {
                    let arg = format!("(({}){sa})", bits_type(t));
                    self.call(Helper::FromBits(t), &[&arg])
                } else {
                    format!("(({}){sa})", c_type(t))
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
                self.shims.insert((*f, t));
                (format!("{}({})", f.symbol(t), parts.join(", ")), t)
            }
        }
    }

    fn imm(&mut self, t: Scalar, lit: Lit) -> String {
        let v = interp::V::from_lit(t, lit);
        if t.is_float() {
            float_lit(t, v.bits, &self.prefix, &mut self.helpers)
        } else {
            int_lit(t, v.int())
        }
    }

    /// Integer `e` of type `t` as an expression of type `u_type(t)` whose low `t.bits()` bits
    /// are `e`'s (higher bits are unspecified). Chains of wrapping ops stay unsigned.
    fn uexpr(&mut self, e: &Expr, t: Scalar) -> String {
        match e {
            Expr::Imm(_, lit) => u_lit(t, interp::V::from_lit(t, *lit).bits),
            Expr::Binary(
                op @ (BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::And | BinOp::Or | BinOp::Xor),
                a,
                b,
            ) => {
                let o = match op {
                    BinOp::Add => "+",
                    BinOp::Sub => "-",
                    BinOp::Mul => "*",
                    BinOp::And => "&",
                    BinOp::Or => "|",
                    _ => "^",
                };
                let (ua, ub) = (self.uexpr(a, t), self.uexpr(b, t));
                format!("({ua} {o} {ub})")
            }
            Expr::Binary(BinOp::Shl, a, b) => {
                let (ua, ub) = (self.uexpr(a, t), self.uexpr(b, t));
                format!("({ua} << ((unsigned){ub} & {}u))", t.bits() - 1)
            }
            Expr::Unary(UnOp::Neg, a) => format!("(0u - {})", self.uexpr(a, t)),
            Expr::Unary(UnOp::Not, a) => format!("(~{})", self.uexpr(a, t)),
            Expr::Len(i) if t.bits() == 64 => format!("lens[{i}]"),
            _ => {
                let (s, te) = self.expr(e);
                if u_type(t) == c_type(te) {
                    s
                } else {
                    format!("(({}){s})", u_type(t))
                }
            }
        }
    }

    /// `e` (a wrapping integer op of type `t`) computed in the unsigned type, converted back.
    fn wrapped(&mut self, e: &Expr, t: Scalar) -> String {
        let u = self.uexpr(e, t);
        if u_type(t) == c_type(t) {
            u
        } else {
            format!("(({}){u})", c_type(t))
        }
    }

    fn unary(&mut self, e: &Expr, op: UnOp, a: &Expr) -> (String, Scalar) {
        let t = self.ty(a);
        if t.is_float() {
            let (sa, _) = self.expr(a);
            let f = if t == Scalar::F32 { "f" } else { "" };
            let s = match op {
                UnOp::Neg => format!("(-{sa})"),
                UnOp::Abs => format!("fabs{f}({sa})"),
                UnOp::Not => sa,
                UnOp::Sqrt => format!("sqrt{f}({sa})"),
                UnOp::Floor => self.call(Helper::Rounding(UnOp::Floor, t), &[&sa]),
                UnOp::Ceil => self.call(Helper::Rounding(UnOp::Ceil, t), &[&sa]),
                UnOp::Trunc => self.call(Helper::Rounding(UnOp::Trunc, t), &[&sa]),
                UnOp::Round => self.call(Helper::Rounding(UnOp::Round, t), &[&sa]),
            };
            return (s, t);
        }
        if t == Scalar::Bool {
            let (sa, _) = self.expr(a);
            return match op {
                UnOp::Not => (format!("((uint8_t)!{sa})"), t),
                _ => {
                    self.unsupported = true;
                    (sa, t)
                }
            };
        }
        match op {
            UnOp::Neg | UnOp::Not => (self.wrapped(e, t), t),
            UnOp::Abs if t.is_signed() => {
                let (sa, _) = self.expr(a);
                (self.call(Helper::Abs(t), &[&sa]), t)
            }
            UnOp::Abs => self.expr(a),
            _ => {
                self.unsupported = true;
                self.expr(a)
            }
        }
    }

    fn binary(&mut self, e: &Expr, op: BinOp, a: &Expr, b: &Expr) -> (String, Scalar) {
        let t = self.ty(a);
        if t.is_float() || t == Scalar::Bool {
            let (sa, _) = self.expr(a);
            let (sb, _) = self.expr(b);
            let infix = |o: &str| format!("({sa} {o} {sb})");
            let s = match (op, t == Scalar::Bool) {
                (BinOp::Add, false) => infix("+"),
                (BinOp::Sub, false) => infix("-"),
                (BinOp::Mul, false) => infix("*"),
                (BinOp::Div, false) => infix("/"),
                (BinOp::Min, false) => self.call(Helper::Min(t), &[&sa, &sb]),
                (BinOp::Max, false) => self.call(Helper::Max(t), &[&sa, &sb]),
                (BinOp::And, true) => format!("((uint8_t)({sa} & {sb}))"),
                (BinOp::Or, true) => format!("((uint8_t)({sa} | {sb}))"),
                (BinOp::Xor, true) => format!("((uint8_t)({sa} ^ {sb}))"),
                _ => {
                    self.unsupported = true;
                    sa
                }
            };
            return (s, t);
        }
        let s = match op {
            BinOp::Add
            | BinOp::Sub
            | BinOp::Mul
            | BinOp::And
            | BinOp::Or
            | BinOp::Xor
            | BinOp::Shl => self.wrapped(e, t),
            BinOp::Shr if !t.is_signed() => {
                let (sa, _) = self.expr(a);
                let ub = self.uexpr(b, t);
                let (ct, ut) = (c_type(t), u_type(t));
                let ua = if ct == ut {
                    sa
                } else {
                    format!("(({ut}){sa})")
                };
                let shifted = format!("({ua} >> ((unsigned){ub} & {}u))", t.bits() - 1);
                if ct == ut {
                    shifted
                } else {
                    format!("(({ct}){shifted})")
                }
            }
            BinOp::Div | BinOp::Rem | BinOp::Min | BinOp::Max | BinOp::Shr => {
                let (sa, _) = self.expr(a);
                let (sb, _) = self.expr(b);
                let h = match op {
                    BinOp::Div => Helper::Div(t),
                    BinOp::Rem => Helper::Rem(t),
                    BinOp::Min => Helper::Min(t),
                    BinOp::Max => Helper::Max(t),
                    _ => Helper::Shr(t),
                };
                self.call(h, &[&sa, &sb])
            }
        };
        (s, t)
    }

    /// `sa` (of type `from`) converted to `to` as kir `Cast` does.
    fn cast(&mut self, to: Scalar, from: Scalar, sa: String) -> String {
        let ct = c_type(to);
        if to == from {
            sa
        } else if to == Scalar::Bool {
            format!("((uint8_t)({sa} != 0))")
        } else if from.is_float() && !to.is_float() {
            // float → int: saturating, NaN → 0 (C casts are undefined out of range).
            self.call(Helper::FToI(to), &[&sa])
        } else {
            // float ↔ float rounds to nearest; int → float rounds to nearest; int → int
            // wraps (implementation-defined for signed targets in C11: every supported
            // compiler wraps).
            format!("(({ct}){sa})")
        }
    }
}
