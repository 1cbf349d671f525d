//! kir: Kiln's loop IR. Buffers, kernels of loops, typed scalar expressions and calls to shim
//! math. It knows nothing of ONNX: every op lowers to kir once, and every backend (Cranelift,
//! C, Rust) is one exhaustive visitor over it. `interp` runs a program with bounds checks and is
//! the oracle every backend is compared with at 0 ULP.
//!
//! Invariants (checked by `verify`):
//! - every expression is typed; binary operands have equal types; indices are `I64`;
//! - a variable is declared (`Let` or loop var) before use and is in scope where used;
//! - loads and stores name buffers of the program, with the buffer's element type;
//! - stores never target `Input` or `Weight` buffers.
//!
//! Semantics are pinned here, not left to the backends (see docs/kir.md):
//! - integer `Add/Sub/Mul/Shl` wrap; `Div/Rem` by zero give 0 and `MIN / -1` gives `MIN`
//!   (`Rem` gives 0); shift amounts are taken modulo the bit width;
//! - float `Min/Max` propagate NaN (if either operand is NaN the result is NaN) and order
//!   -0 < +0;
//! - `Cast` float → int saturates to the target range and maps NaN to 0 (Rust `as`);
//!   int → float rounds to nearest-even; bool results are 0 or 1;
//! - only `Expr::Fma` fuses a multiply and an add; backends never contract;
//! - `Round` is ties-to-even;
//! - transcendental functions are calls to `kiln_shim`, so every backend agrees bit for bit.

pub mod build;
pub mod interp;
pub mod print;
pub mod simplify;
pub mod verify;

use std::fmt;

/// Scalar element types. `Bool` is stored as one byte holding 0 or 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scalar {
    Bool,
    I8,
    I16,
    I32,
    I64,
    U8,
    U16,
    U32,
    U64,
    F32,
    F64,
}

impl Scalar {
    pub const ALL: [Scalar; 11] = [
        Scalar::Bool,
        Scalar::I8,
        Scalar::I16,
        Scalar::I32,
        Scalar::I64,
        Scalar::U8,
        Scalar::U16,
        Scalar::U32,
        Scalar::U64,
        Scalar::F32,
        Scalar::F64,
    ];
    pub fn size(self) -> usize {
        match self {
            Scalar::Bool | Scalar::I8 | Scalar::U8 => 1,
            Scalar::I16 | Scalar::U16 => 2,
            Scalar::I32 | Scalar::U32 | Scalar::F32 => 4,
            Scalar::I64 | Scalar::U64 | Scalar::F64 => 8,
        }
    }
    pub fn bits(self) -> u32 {
        self.size() as u32 * 8
    }
    pub fn is_float(self) -> bool {
        matches!(self, Scalar::F32 | Scalar::F64)
    }
    pub fn is_int(self) -> bool {
        !self.is_float() && self != Scalar::Bool
    }
    /// Whether two little-endian arrays of this type are equal as kir defines results: bit
    /// for bit, except that any NaN equals any NaN (docs/kir.md leaves NaN payloads and sign
    /// open: which operand's NaN an `Add` of two NaNs returns depends on the operand order a
    /// code generator picks). `-0` and `+0` stay different.
    pub fn same_up_to_nan(self, a: &[u8], b: &[u8]) -> bool {
        if a.len() != b.len() {
            return false;
        }
        let n = self.size();
        let nan = |x: &[u8]| match self {
            Scalar::F32 => f32::from_le_bytes(x.try_into().unwrap()).is_nan(),
            Scalar::F64 => f64::from_le_bytes(x.try_into().unwrap()).is_nan(),
            _ => false,
        };
        a.chunks(n)
            .zip(b.chunks(n))
            .all(|(x, y)| x == y || (nan(x) && nan(y)))
    }
    pub fn is_signed(self) -> bool {
        matches!(
            self,
            Scalar::I8 | Scalar::I16 | Scalar::I32 | Scalar::I64 | Scalar::F32 | Scalar::F64
        )
    }
    /// Short name used in kir text, C type suffixes and Rust type names.
    pub fn name(self) -> &'static str {
        match self {
            Scalar::Bool => "bool",
            Scalar::I8 => "i8",
            Scalar::I16 => "i16",
            Scalar::I32 => "i32",
            Scalar::I64 => "i64",
            Scalar::U8 => "u8",
            Scalar::U16 => "u16",
            Scalar::U32 => "u32",
            Scalar::U64 => "u64",
            Scalar::F32 => "f32",
            Scalar::F64 => "f64",
        }
    }
    /// Integer range as i128 (None for floats).
    pub fn int_range(self) -> Option<(i128, i128)> {
        Some(match self {
            Scalar::Bool => (0, 1),
            Scalar::I8 => (i8::MIN as i128, i8::MAX as i128),
            Scalar::I16 => (i16::MIN as i128, i16::MAX as i128),
            Scalar::I32 => (i32::MIN as i128, i32::MAX as i128),
            Scalar::I64 => (i64::MIN as i128, i64::MAX as i128),
            Scalar::U8 => (0, u8::MAX as i128),
            Scalar::U16 => (0, u16::MAX as i128),
            Scalar::U32 => (0, u32::MAX as i128),
            Scalar::U64 => (0, u64::MAX as i128),
            Scalar::F32 | Scalar::F64 => return None,
        })
    }
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A literal. Integers are kept sign- or zero-extended to 64 bits as the type says (bit
/// pattern of the value in the low `bits` bits, extended); floats as the f64 bit pattern of an
/// f32 or f64 value (an f32 literal is exactly representable as f64).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lit {
    Int(i64),
    /// Bits of the f64 value (for F32 literals the f64 is the exact widening of the f32).
    Float(u64),
}

impl Lit {
    pub fn f(v: f64) -> Lit {
        Lit::Float(v.to_bits())
    }
    pub fn as_f64(self) -> f64 {
        match self {
            Lit::Int(i) => i as f64,
            Lit::Float(b) => f64::from_bits(b),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VarId(pub u32);
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BufId(pub u32);
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SymId(pub u32);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnOp {
    /// Arithmetic negation (wrapping for ints).
    Neg,
    Abs,
    /// Bitwise not for ints; logical not for Bool.
    Not,
    Sqrt,
    Floor,
    Ceil,
    /// Toward zero.
    Trunc,
    /// Ties to even.
    Round,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    /// Integer remainder with the sign of the dividend (C `%`). Floats: not allowed (use
    /// `MathFn::Fmod`).
    Rem,
    Min,
    Max,
    And,
    Or,
    Xor,
    Shl,
    /// Arithmetic for signed types, logical for unsigned.
    Shr,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// Functions provided by `kiln_shim` (one f32 and one f64 variant each). Adding one is a
/// deliberate change: every backend's match is exhaustive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MathFn {
    Exp,
    Log,
    Tanh,
    Pow,
    Erf,
    Sin,
    Cos,
    Tan,
    Asin,
    Acos,
    Atan,
    Sinh,
    Cosh,
    Asinh,
    Acosh,
    Atanh,
    Fmod,
}

impl MathFn {
    pub const ALL: [MathFn; 17] = [
        MathFn::Exp,
        MathFn::Log,
        MathFn::Tanh,
        MathFn::Pow,
        MathFn::Erf,
        MathFn::Sin,
        MathFn::Cos,
        MathFn::Tan,
        MathFn::Asin,
        MathFn::Acos,
        MathFn::Atan,
        MathFn::Sinh,
        MathFn::Cosh,
        MathFn::Asinh,
        MathFn::Acosh,
        MathFn::Atanh,
        MathFn::Fmod,
    ];
    pub fn arity(self) -> usize {
        match self {
            MathFn::Pow | MathFn::Fmod => 2,
            _ => 1,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            MathFn::Exp => "exp",
            MathFn::Log => "log",
            MathFn::Tanh => "tanh",
            MathFn::Pow => "pow",
            MathFn::Erf => "erf",
            MathFn::Sin => "sin",
            MathFn::Cos => "cos",
            MathFn::Tan => "tan",
            MathFn::Asin => "asin",
            MathFn::Acos => "acos",
            MathFn::Atan => "atan",
            MathFn::Sinh => "sinh",
            MathFn::Cosh => "cosh",
            MathFn::Asinh => "asinh",
            MathFn::Acosh => "acosh",
            MathFn::Atanh => "atanh",
            MathFn::Fmod => "fmod",
        }
    }
    /// The exported C symbol of the shim function for this element type, e.g.
    /// `kiln_shim_expf` / `kiln_shim_exp`.
    pub fn symbol(self, ty: Scalar) -> String {
        match ty {
            Scalar::F32 => format!("kiln_shim_{}f", self.name()),
            _ => format!("kiln_shim_{}", self.name()),
        }
    }
}

/// A typed expression. Index arithmetic is `I64`.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Imm(Scalar, Lit),
    Var(VarId),
    /// The run-time value of a symbolic dimension (I64, ≥ 0, validated at entry): `dims[i]`.
    Dim(SymId),
    /// The caller-declared length of entry argument `i` (I64): `lens[i]`, where inputs come
    /// first, then outputs (element counts), then the scratch area (bytes).
    Len(u32),
    /// Element `idx` (I64, in elements) of a buffer; typed with the buffer's element type.
    Load(BufId, Box<Expr>),
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `a * b + c` with one rounding. Floats only.
    Fma(Box<Expr>, Box<Expr>, Box<Expr>),
    /// Bool result.
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    /// `cond` is Bool. Both arms are always evaluated (so neither may hold an access that is
    /// only valid when it is chosen: guard such loads with `Stmt::If`).
    Select(Box<Expr>, Box<Expr>, Box<Expr>),
    Cast(Scalar, Box<Expr>),
    /// Reinterpret bits between same-size types (e.g. f32 <-> u32).
    Bitcast(Scalar, Box<Expr>),
    Call(MathFn, Vec<Expr>),
}

/// A statement.
#[derive(Clone, Debug, PartialEq)]
pub enum Stmt {
    /// Declare a mutable variable and give it a value.
    Let(VarId, Expr),
    /// Assign a new value to a variable declared by `Let`.
    Set(VarId, Expr),
    /// `for var in start..end` (I64 bounds, step 1); the body may not assign `var`.
    Loop {
        var: VarId,
        start: Expr,
        end: Expr,
        body: Vec<Stmt>,
    },
    Store {
        buf: BufId,
        idx: Expr,
        val: Expr,
    },
    If {
        cond: Expr,
        then: Vec<Stmt>,
        els: Vec<Stmt>,
    },
    /// Return `status` (non-zero) from the kernel, and so from the entry.
    Fail(Status),
    /// An f32 matrix multiply (`GemmCall`) that a backend may run as a call to an optimised
    /// kernel of the runtime shim, or else as `fallback`: plain statements (built by
    /// `KernelBuilder::gemm`) that compute exactly the same bits. The interpreter and
    /// `verify` treat it as `fallback`.
    Gemm {
        call: Box<GemmCall>,
        fallback: Vec<Stmt>,
    },
}

/// `C[i, j] = (accumulate ? C[i, j] : +0)`, then `fma(A[i, p], B[p, j], C[i, j])` for
/// `p` in `0..k` in order, then the epilogue (`+ bias[i]`, `+ R[i, j]`, `lo > v ? lo : v`,
/// `hi < v ? hi : v`), for `i < m`, `j < n`, where `A[i, p] = a[a_off + i a_rs + p a_cs]`,
/// `C[i, j] = c[c_off + i c_rs + j]`, `R[i, j] = res[res_off + i res_rs + j]`, and
/// `B[p, j] = b[b_off + p b_rs + j b_cs]`, or with `conv` the patch element of the image at
/// `b_off` (`ConvGeom`; +0 in the padding). Element indices are I64 expressions. All
/// buffers are f32; `c` overlaps none of the others. The contract of `kiln_shim_sgemm_avx2`
/// (runtime-shim/src/gemm.rs).
#[derive(Clone, Debug, PartialEq)]
pub struct GemmCall {
    pub m: Expr,
    pub n: Expr,
    pub k: Expr,
    pub a: BufId,
    pub a_off: Expr,
    pub a_rs: Expr,
    pub a_cs: Expr,
    pub b: BufId,
    pub b_off: Expr,
    pub b_rs: Expr,
    pub b_cs: Expr,
    pub conv: Option<ConvGeom>,
    pub c: BufId,
    pub c_off: Expr,
    pub c_rs: Expr,
    pub accumulate: bool,
    /// Added per row of C after the sum: (buffer, offset of row 0).
    pub bias: Option<(BufId, Expr)>,
    /// Added after the bias: (buffer, offset of element (0, 0), row stride `res_rs`). A
    /// residual laid out as C has `res_rs` = `c_rs`; a row vector added to every row (the
    /// per-column bias of MatMul and Gemm) has `res_rs` = 0.
    pub res: Option<(BufId, Expr, Expr)>,
    /// Clamp bounds (-inf / +inf for none).
    pub lo: f32,
    pub hi: f32,
    /// A max-reduction over B instead of the product (max pooling): A is not read, the
    /// start is C or -inf, each step is `Max` (kir's), B is -inf outside a `conv` image.
    pub max: bool,
    /// Rows per panel when A is packed (0: the strided A): then
    /// `A[i, p] = a[a_off + (i / P) * P * k + p * P + i % P]` (`a_rs`, `a_cs` unused).
    pub a_panel: i64,
    /// Independent products (1 for one): product `g` advances A, B, C and the residual by
    /// `g` times `a_gs`, `b_gs`, `c_gs` (and `c_gs`, whatever `res_rs`: a grouped call's
    /// residual is laid out as C), and the bias by `g * m`.
    pub groups: Expr,
    pub a_gs: Expr,
    pub b_gs: Expr,
    pub c_gs: Expr,
}

/// A 2-D convolution's patch matrix as `GemmCall`'s B ("implicit im2col"): the image is
/// `c` planes of `h` x `w` at `b_off`; row `p = (ci * kh + ti) * kw + tj`, column
/// `j = oh * ow + oj` holds `x[ci, oh * sh - ph + ti * dh, oj * sw - pw + tj * dw]`, or +0
/// outside the image. With `blocked` = L > 0 the image, C and the residual are in the
/// blocked NCHWc layout of L channels: row `p = ((cb * kh + ti) * kw + tj) * L + l` holds
/// channel `ci = cb * L + l`, read at `((cb * h + ih) * w + iw) * L + l`, and `C[i, j]` is
/// at `c_off + (i / L) * c_rs + j * L + i % L` (the residual likewise with `res_rs`). Passed
/// to the shim as `[h, w, kh, kw, sh, sw, ph, pw, dh, dw, ow, blocked]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeom {
    pub c: i64,
    pub h: i64,
    pub w: i64,
    pub kh: i64,
    pub kw: i64,
    pub sh: i64,
    pub sw: i64,
    pub ph: i64,
    pub pw: i64,
    pub dh: i64,
    pub dw: i64,
    pub oh: i64,
    pub ow: i64,
    /// Channels per block of the blocked NCHWc layout, or 0 (NCHW).
    pub blocked: i64,
}

impl ConvGeom {
    /// The shim's geometry array.
    pub fn abi(&self) -> [i64; 12] {
        [
            self.h,
            self.w,
            self.kh,
            self.kw,
            self.sh,
            self.sw,
            self.ph,
            self.pw,
            self.dh,
            self.dw,
            self.ow,
            self.blocked,
        ]
    }
}

impl GemmCall {
    /// A product with no convolution and no epilogue.
    #[allow(clippy::too_many_arguments)]
    pub fn plain(
        (m, n, k): (Expr, Expr, Expr),
        (a, a_off, a_rs, a_cs): (BufId, Expr, Expr, Expr),
        (b, b_off, b_rs, b_cs): (BufId, Expr, Expr, Expr),
        (c, c_off, c_rs): (BufId, Expr, Expr),
        accumulate: bool,
    ) -> GemmCall {
        GemmCall {
            m,
            n,
            k,
            a,
            a_off,
            a_rs,
            a_cs,
            b,
            b_off,
            b_rs,
            b_cs,
            conv: None,
            c,
            c_off,
            c_rs,
            accumulate,
            bias: None,
            res: None,
            lo: f32::NEG_INFINITY,
            hi: f32::INFINITY,
            max: false,
            a_panel: 0,
            groups: Expr::i64(1),
            a_gs: Expr::i64(0),
            b_gs: Expr::i64(0),
            c_gs: Expr::i64(0),
        }
    }
    /// Every expression of the call.
    pub fn exprs(&self) -> Vec<&Expr> {
        let mut v = vec![
            &self.m,
            &self.n,
            &self.k,
            &self.a_off,
            &self.a_rs,
            &self.a_cs,
            &self.b_off,
            &self.b_rs,
            &self.b_cs,
            &self.c_off,
            &self.c_rs,
            &self.groups,
            &self.a_gs,
            &self.b_gs,
            &self.c_gs,
        ];
        v.extend(self.bias.iter().map(|(_, e)| e));
        v.extend(self.res.iter().flat_map(|(_, e, rs)| [e, rs]));
        v
    }
    /// Buffers the call reads (A, B, bias, residual).
    pub fn reads(&self) -> Vec<BufId> {
        let mut v = vec![self.a, self.b];
        v.extend(self.bias.iter().map(|(b, _)| *b));
        v.extend(self.res.iter().map(|(b, _, _)| *b));
        v
    }
    /// The same call with `f` applied to every expression.
    pub fn map_exprs(&self, f: &mut dyn FnMut(&Expr) -> Expr) -> GemmCall {
        GemmCall {
            m: f(&self.m),
            n: f(&self.n),
            k: f(&self.k),
            a: self.a,
            a_off: f(&self.a_off),
            a_rs: f(&self.a_rs),
            a_cs: f(&self.a_cs),
            b: self.b,
            b_off: f(&self.b_off),
            b_rs: f(&self.b_rs),
            b_cs: f(&self.b_cs),
            conv: self.conv,
            c: self.c,
            c_off: f(&self.c_off),
            c_rs: f(&self.c_rs),
            accumulate: self.accumulate,
            bias: self.bias.as_ref().map(|(b, e)| (*b, f(e))),
            res: self.res.as_ref().map(|(b, e, rs)| (*b, f(e), f(rs))),
            lo: self.lo,
            hi: self.hi,
            max: self.max,
            a_panel: self.a_panel,
            groups: f(&self.groups),
            a_gs: f(&self.a_gs),
            b_gs: f(&self.b_gs),
            c_gs: f(&self.c_gs),
        }
    }
}

/// Status codes returned by the entry (also listed in the generated header).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum Status {
    Ok = 0,
    /// A dimension value out of the range the model was compiled for.
    BadDim = 1,
    /// A buffer given by the caller is shorter than the model needs.
    BadLength = 2,
    /// An index taken from data is out of range.
    BadIndex = 3,
    /// Another run-time value made the computation impossible.
    BadValue = 4,
}

impl Status {
    pub fn code(self) -> i32 {
        self as i32
    }
    pub fn from_code(c: i32) -> Option<Status> {
        Some(match c {
            0 => Status::Ok,
            1 => Status::BadDim,
            2 => Status::BadLength,
            3 => Status::BadIndex,
            4 => Status::BadValue,
            _ => return None,
        })
    }
    pub fn describe(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::BadDim => "a dimension value is out of the supported range",
            Status::BadLength => "a buffer is shorter than the model needs",
            Status::BadIndex => "an index from the data is out of range",
            Status::BadValue => "a run-time value is invalid",
        }
    }
}

/// Where a buffer lives.
#[derive(Clone, Debug, PartialEq)]
pub enum BufKind {
    /// The caller's `inputs[i]`.
    Input(u32),
    /// The caller's `outputs[i]`.
    Output(u32),
    /// Read-only bytes in the program's weight blob, at a byte offset (64-byte aligned).
    Weight { offset: u64 },
    /// In the caller's scratch area, at a byte offset (64-byte aligned) that may depend on
    /// symbolic dims.
    Scratch { offset: Expr },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Buffer {
    pub name: String,
    pub elem: Scalar,
    /// Number of elements (I64 expression over dims).
    pub len: Expr,
    pub kind: BufKind,
}

/// One generated function: runs its body, returns 0 unless a `Fail` ran.
#[derive(Clone, Debug, PartialEq)]
pub struct Kernel {
    pub name: String,
    /// Type of every variable used in the body, indexed by `VarId`.
    pub vars: Vec<Scalar>,
    pub body: Vec<Stmt>,
}

/// A whole model. The entry, `int32_t <name>_run(const int64_t *dims, const void *const *inputs,
/// void *const *outputs, void *scratch, const uint64_t *lens)`, calls `kernels` in order and
/// returns the first non-zero status. Every kernel takes the same five arguments. The first
/// kernel (built by lowering, not by the backends) validates dims and `lens`.
#[derive(Clone, Debug, PartialEq)]
pub struct Program {
    /// Prefix of every exported symbol.
    pub name: String,
    /// Symbolic dimension names, indexed by `SymId`, with the largest value each accepts.
    pub syms: Vec<SymInfo>,
    pub buffers: Vec<Buffer>,
    pub kernels: Vec<Kernel>,
    pub weights: Vec<u8>,
    /// Scratch bytes needed (I64 expression over dims).
    pub scratch_len: Expr,
    pub inputs: Vec<IoInfo>,
    pub outputs: Vec<IoInfo>,
    /// String elements and class labels (empty for models without strings or ZipMap).
    pub strings: StringInfo,
    /// Guard bytes after every scratch buffer (`Options::scratch_guard`); when non-zero the
    /// C backend emits AddressSanitizer poisoning of the scratch not in use.
    pub scratch_guard: u64,
}

/// What the caller needs to use string ids and class labels (`ir::strings`): the model's
/// sorted string table, which inputs and outputs hold string ids, and the class labels of
/// outputs that are ZipMap probability arrays.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct StringInfo {
    pub table: Vec<Vec<u8>>,
    /// Input k holds string ids.
    pub inputs: Vec<bool>,
    /// Output k holds string ids.
    pub outputs: Vec<bool>,
    /// (output index, labels of its columns) for ZipMap outputs.
    pub labels: Vec<(u32, Labels)>,
}

impl StringInfo {
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
            && self.labels.is_empty()
            && !self.inputs.iter().chain(&self.outputs).any(|b| *b)
    }
    pub fn labels_of(&self, output: usize) -> Option<&Labels> {
        self.labels
            .iter()
            .find(|(k, _)| *k as usize == output)
            .map(|(_, l)| l)
    }
}

/// Class labels: string ids or integers.
#[derive(Clone, Debug, PartialEq)]
pub enum Labels {
    Strings(Vec<i32>),
    Ints(Vec<i64>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct SymInfo {
    pub name: String,
    /// Largest accepted value (chosen at compile time so that no size computation overflows).
    pub max: i64,
}

/// An input or output of the entry, as the caller sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct IoInfo {
    pub name: String,
    pub elem: Scalar,
    pub buf: BufId,
    /// Each dimension: a constant, a symbol, or (outputs only) an expression over symbols.
    pub shape: Vec<IoDim>,
    /// Element count (I64 expression over dims).
    pub len: Expr,
}

#[derive(Clone, Debug, PartialEq)]
pub enum IoDim {
    Fixed(u64),
    Sym(SymId),
    /// An output dim computed from symbols, e.g. `2*N`: the I64 expression and its text.
    Expr(Expr, String),
}

impl Expr {
    pub fn i64(v: i64) -> Expr {
        Expr::Imm(Scalar::I64, Lit::Int(v))
    }
    pub fn imm(ty: Scalar, v: f64) -> Expr {
        if ty.is_float() {
            let v = if ty == Scalar::F32 {
                v as f32 as f64
            } else {
                v
            };
            Expr::Imm(ty, Lit::f(v))
        } else {
            Expr::Imm(ty, Lit::Int(v as i64))
        }
    }
    pub fn as_const_i64(&self) -> Option<i64> {
        match self {
            Expr::Imm(t, Lit::Int(v)) if t.is_int() => Some(*v),
            _ => None,
        }
    }
}

impl Program {
    pub fn buffer(&self, b: BufId) -> &Buffer {
        &self.buffers[b.0 as usize]
    }
    /// Names of the shim functions the program calls, sorted, deduplicated.
    pub fn shim_calls(&self) -> Vec<(MathFn, Scalar)> {
        let mut out = std::collections::BTreeSet::new();
        for k in &self.kernels {
            visit_stmts(&k.body, &mut |e| {
                if let Expr::Call(f, args) = e {
                    if let Some(ty) = args.first().and_then(|a| type_hint(k, self, a)) {
                        out.insert((*f, ty));
                    }
                }
            });
        }
        out.into_iter().collect()
    }
}

/// The type of an expression within a kernel (None if ill-formed; `verify` reports why).
pub fn type_hint(k: &Kernel, p: &Program, e: &Expr) -> Option<Scalar> {
    verify::type_of(&k.vars, &p.buffers, e).ok()
}

/// Calls `f` on every expression (pre-order) in a statement list.
pub fn visit_stmts(stmts: &[Stmt], f: &mut dyn FnMut(&Expr)) {
    for s in stmts {
        match s {
            Stmt::Let(_, e) | Stmt::Set(_, e) => visit_expr(e, f),
            Stmt::Loop {
                start, end, body, ..
            } => {
                visit_expr(start, f);
                visit_expr(end, f);
                visit_stmts(body, f);
            }
            Stmt::Store { idx, val, .. } => {
                visit_expr(idx, f);
                visit_expr(val, f);
            }
            Stmt::If { cond, then, els } => {
                visit_expr(cond, f);
                visit_stmts(then, f);
                visit_stmts(els, f);
            }
            Stmt::Fail(_) => {}
            Stmt::Gemm { call, fallback } => {
                for e in call.exprs() {
                    visit_expr(e, f);
                }
                visit_stmts(fallback, f);
            }
        }
    }
}

pub fn visit_expr(e: &Expr, f: &mut dyn FnMut(&Expr)) {
    f(e);
    match e {
        Expr::Imm(..) | Expr::Var(_) | Expr::Dim(_) | Expr::Len(_) => {}
        Expr::Load(_, i) | Expr::Unary(_, i) | Expr::Cast(_, i) | Expr::Bitcast(_, i) => {
            visit_expr(i, f)
        }
        Expr::Binary(_, a, b) | Expr::Cmp(_, a, b) => {
            visit_expr(a, f);
            visit_expr(b, f);
        }
        Expr::Fma(a, b, c) | Expr::Select(a, b, c) => {
            visit_expr(a, f);
            visit_expr(b, f);
            visit_expr(c, f);
        }
        Expr::Call(_, args) => args.iter().for_each(|a| visit_expr(a, f)),
    }
}

/// Evaluate an index expression (I64 arithmetic over dims and constants) on the host, as the
/// generated code would; None if it holds anything else or overflows.
pub fn eval_index(e: &Expr, dims: &[i64]) -> Option<i64> {
    Some(match e {
        Expr::Imm(_, Lit::Int(v)) => *v,
        Expr::Dim(s) => *dims.get(s.0 as usize)?,
        Expr::Binary(op, a, b) => {
            let (a, b) = (eval_index(a, dims)?, eval_index(b, dims)?);
            match op {
                BinOp::Add => a.checked_add(b)?,
                BinOp::Sub => a.checked_sub(b)?,
                BinOp::Mul => a.checked_mul(b)?,
                BinOp::Div => a.checked_div(b)?,
                BinOp::Rem => a.checked_rem(b)?,
                BinOp::Min => a.min(b),
                BinOp::Max => a.max(b),
                _ => return None,
            }
        }
        _ => return None,
    })
}
