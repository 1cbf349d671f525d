//! The C backend: prints a kir `Program` as one self-contained C11 source file (`NAME.c`)
//! defining `NAME_run` with exactly the prototype `header::emit_header` declares (see
//! docs/abi.md).
//!
//! Decisions and invariants:
//! - The `.c` does not include `NAME.h`: it includes only `<stdint.h>`, `<string.h>` and
//!   `<math.h>` and declares what it uses itself (the `kiln_shim_*` prototypes included), so
//!   it compiles wherever it is put. Everything but `NAME_run` is `static`, so any number of
//!   generated files link into one program.
//! - Target assumptions, checked where the preprocessor can: little-endian (weights are
//!   stored little-endian and loaded with `memcpy`), IEEE-754 `float`/`double`, 8-bit bytes,
//!   32-bit `int`, and integer conversions that wrap modulo 2^N (implementation-defined in
//!   C11; gcc, clang and MSVC all wrap).
//! - Floating-point contraction is turned off in the file itself (`#pragma STDC FP_CONTRACT
//!   OFF` for clang, `#pragma GCC optimize ("fp-contract=off")` for gcc, `#pragma
//!   fp_contract (off)` for MSVC): only `Expr::Fma` fuses. Rounding mode must be the default.
//! - Output is deterministic: the same program gives the same text.
//! - Compiles warning-free with `-std=c11 -Wall -Wextra` (and `-fsanitize=address,undefined`
//!   finds nothing): unused values are consumed with `(void)`, tautological comparisons that
//!   literal folding can produce are silenced with a diagnostic pragma.
//! - Kernels are `static int32_t NAME_k<i>(dims, inputs, outputs, scratch, lens, par)`
//!   (`par`: the caller's parallel-for or null, handed to every shim GEMM call); variables
//!   are `v<id>` declared at their `Let`, buffers `b<id>` set up at kernel start (typed
//!   pointers for inputs and outputs, byte pointers used through `memcpy` helpers for weights
//!   and scratch, see `expr::BufAccess`). Loop bounds are evaluated once, before the loop.

pub mod expr;

use crate::kir::{visit_stmts, BufId, BufKind, Expr, Kernel, Program, Scalar, Stmt, VarId};
use expr::{buf_access, c_type, helper_defs, BufAccess, ExprCx, Helper};
use std::collections::BTreeSet;
use std::fmt::Write;

/// The parameter list every kernel takes (and, with `void *scratch`, the entry).
const KERNEL_PARAMS: &str =
    "const int64_t *dims, const void *const *inputs, void *const *outputs, \
                             uint8_t *scratch, const uint64_t *lens, const kiln_parallel *par";

/// The prototype of `NAME_run` (no trailing `;`), shared with the header.
pub fn run_prototype(name: &str) -> String {
    format!(
        "int32_t {name}_run(const int64_t *dims, const void *const *inputs, void *const *outputs, \
         void *scratch, const uint64_t *lens)"
    )
}

/// The prototype of `NAME_run_parallel` (no trailing `;`), shared with the header.
pub fn run_parallel_prototype(name: &str) -> String {
    format!(
        "int32_t {name}_run_parallel(const int64_t *dims, const void *const *inputs, \
         void *const *outputs, void *scratch, const uint64_t *lens, const kiln_parallel *par)"
    )
}

/// The C definition of `kiln_parallel` (the shim's `parallel::Parallel`), guarded so that
/// the shim's header and any number of model headers can be included together.
pub const PARALLEL_TYPEDEF: &str = "#ifndef KILN_PARALLEL_TYPE\n\
     #define KILN_PARALLEL_TYPE\n\
     typedef struct kiln_parallel {\n\
     \x20   void (*run)(void *ctx, uint32_t n, void (*task)(void *arg, uint32_t i), void *arg);\n\
     \x20   void *ctx;\n\
     \x20   uint32_t threads;\n\
     } kiln_parallel;\n\
     #endif\n";

/// Text made safe for a `/* */` comment on one line.
pub fn comment_text(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        let c = if (' '..='~').contains(&c) { c } else { '_' };
        if c == '/' && out.ends_with('*') {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// The C source of `p`.
pub fn emit_c(p: &Program) -> String {
    let name = &p.name;
    let mut helpers = BTreeSet::new();
    let mut shims = BTreeSet::new();
    let mut kernels = String::new();
    let mut invalid = false;
    let mut sgemm = false;
    let mut vfns = false;
    for (i, k) in p.kernels.iter().enumerate() {
        let mut cx = ExprCx::new(p, &k.vars, "kiln_");
        emit_kernel(&mut cx, &mut kernels, i, k);
        helpers.append(&mut cx.helpers);
        shims.append(&mut cx.shims);
        invalid |= cx.unsupported;
        sgemm |= cx.sgemm;
        vfns |= cx.vfns;
    }
    // With a scratch guard: the scratch bytes the run needs (valid once kernel 0 has checked
    // dims and lens), poisoned for AddressSanitizer between kernels.
    let guard_len = if p.scratch_guard > 0 {
        let mut cx = ExprCx::new(p, &[], "kiln_");
        let (len, _) = cx.expr(&p.scratch_len);
        helpers.append(&mut cx.helpers);
        invalid |= cx.unsupported;
        Some(len)
    } else {
        None
    };

    let mut s = String::new();
    let _ = writeln!(
        s,
        "/* {name}.c: model \"{}\" compiled by Kiln. Generated: do not edit.\n\
         \x20* Entry: {name}_run (see {name}.h and the Kiln ABI). Self-contained C11: needs\n\
         \x20* neither {name}.h nor any Kiln file, only the kiln_shim library at link time and\n\
         \x20* the C math library (-lm).\n\
         \x20* Assumes a little-endian target with IEEE-754 float/double, 8-bit bytes, 32-bit int\n\
         \x20* and integer conversions that wrap (as gcc, clang and MSVC do), the default\n\
         \x20* floating-point rounding mode, and no floating-point contraction (set below). */",
        comment_text(name)
    );
    s.push_str(
        "#include <stdint.h>\n#include <string.h>\n#include <math.h>\n\n\
         #if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__\n\
         #error \"Kiln-generated C assumes a little-endian target\"\n\
         #endif\n\
         #if defined(__clang__)\n\
         #pragma STDC FP_CONTRACT OFF\n\
         #pragma clang diagnostic ignored \"-Wtautological-compare\"\n\
         #elif defined(__GNUC__)\n\
         #pragma GCC optimize (\"fp-contract=off\")\n\
         #pragma GCC diagnostic ignored \"-Wtype-limits\"\n\
         #elif defined(_MSC_VER)\n\
         #pragma fp_contract (off)\n\
         #endif\n\
         /* The ISA the shim's kernels are chosen for: gcc/clang or MSVC (not ARM64EC) names */\n\
         #if defined(__x86_64__) || (defined(_M_X64) && !defined(_M_ARM64EC))\n\
         #define KILN_X86_64 1\n\
         #endif\n\
         #if (defined(__aarch64__) && defined(__ARM_NEON)) || defined(_M_ARM64)\n\
         #define KILN_NEON 1\n\
         #endif\n\
         _Static_assert(sizeof(int) == 4 && sizeof(float) == 4 && sizeof(double) == 8, \
         \"Kiln-generated C assumes 32-bit int and IEEE-754 float and double\");\n\n",
    );
    s.push_str(PARALLEL_TYPEDEF);
    s.push('\n');
    if invalid {
        // Unverified kir reached the backend: a Kiln bug. Refuse to compile.
        s.push_str("#error \"Kiln: the program failed kir verification\"\n\n");
    }
    if guard_len.is_some() {
        s.push_str(ASAN_MACROS);
    }
    if !shims.is_empty() {
        s.push_str("/* kiln_shim math (exact, identical in every Kiln backend) */\n");
        for (f, t) in &shims {
            let ct = c_type(*t);
            let params = vec![ct; f.arity()].join(", ");
            let _ = writeln!(s, "{ct} {}({params});", f.symbol(*t));
        }
        s.push('\n');
    }
    if sgemm {
        let _ = writeln!(
            s,
            "/* kiln_shim f32 GEMM kernels (runtime-shim/src/gemm.rs): the same bits as the loops under #else */\n\
             void kiln_shim_sgemm_avx512(int64_t, int64_t, int64_t, const float *, int64_t, int64_t, \
             const float *, int64_t, int64_t, const int64_t *, float *, int64_t, int32_t, \
             const float *, const float *, int64_t, float, float, int64_t, int64_t, int64_t, int64_t, int32_t, int64_t, const kiln_parallel *);\n\
             void kiln_shim_sgemm_avx2(int64_t, int64_t, int64_t, const float *, int64_t, int64_t, \
             const float *, int64_t, int64_t, const int64_t *, float *, int64_t, int32_t, \
             const float *, const float *, int64_t, float, float, int64_t, int64_t, int64_t, int64_t, int32_t, int64_t, const kiln_parallel *);\n\
             void kiln_shim_sgemm_neon(int64_t, int64_t, int64_t, const float *, int64_t, int64_t, \
             const float *, int64_t, int64_t, const int64_t *, float *, int64_t, int32_t, \
             const float *, const float *, int64_t, float, float, int64_t, int64_t, int64_t, int64_t, int32_t, int64_t, const kiln_parallel *);\n\
             void kiln_shim_sgemm_x86_any(int64_t, int64_t, int64_t, const float *, int64_t, int64_t, \
             const float *, int64_t, int64_t, const int64_t *, float *, int64_t, int32_t, \
             const float *, const float *, int64_t, float, float, int64_t, int64_t, int64_t, int64_t, int32_t, int64_t, const kiln_parallel *);\n"
        );
    }
    if vfns {
        s.push_str(VEC_PROTOTYPES);
    }
    if !helpers.is_empty() {
        s.push_str(&helper_defs(&helpers, "kiln_"));
        s.push('\n');
    }
    if !p.weights.is_empty() {
        let _ = writeln!(
            s,
            "/* {} bytes of weights, little-endian */\nstatic const _Alignas(64) unsigned char {name}_weights[{}] =",
            p.weights.len(),
            p.weights.len()
        );
        s.push_str(&weights_literal(&p.weights));
        s.push_str(";\n\n");
    }
    s.push_str(&kernels);
    let (proto, pproto) = (run_prototype(name), run_parallel_prototype(name));
    let _ = writeln!(
        s,
        "{pproto};\n{proto};\n{proto} {{\n    return {name}_run_parallel(dims, inputs, outputs, \
         scratch, lens, (const kiln_parallel *)0);\n}}\n"
    );
    let _ = writeln!(s, "{pproto} {{");
    s.push_str("    int32_t status;\n    uint8_t *s = (uint8_t *)scratch;\n");
    if !p.weights.is_empty() {
        let _ = writeln!(s, "    (void){name}_weights;");
    }
    s.push_str("    (void)s;\n");
    if let Some(len) = &guard_len {
        // After kernel 0 has validated dims and lens, the whole scratch is poisoned; every
        // kernel unpoisons the scratch buffers it uses while it runs, and all of the scratch
        // is unpoisoned again before returning (on success or error).
        s.push_str("    int poisoned = 0;\n");
        for i in 0..p.kernels.len() {
            let _ = writeln!(
                s,
                "    if ((status = {name}_k{i}(dims, inputs, outputs, s, lens, par)) != 0) goto done;"
            );
            if i == 0 {
                let _ = writeln!(s, "    KILN_POISON(s, {len});\n    poisoned = 1;");
            }
        }
        let _ = writeln!(
            s,
            "done:\n    if (poisoned) KILN_UNPOISON(s, {len});\n    return status;\n}}"
        );
        return s;
    }
    for i in 0..p.kernels.len() {
        let _ = writeln!(
            s,
            "    if ((status = {name}_k{i}(dims, inputs, outputs, s, lens, par)) != 0) return status;"
        );
    }
    s.push_str("    (void)status;\n    return 0;\n}\n");
    s
}

/// When the C output calls the shim's GEMM kernels instead of their fallback loops: as the
/// Cranelift backend chooses, from what the C compiler targets (`-mavx512f`, `-march=...`;
/// MSVC's `/arch:AVX512` defines `__AVX512F__`, and an MSVC x86_64 build without it, which
/// defines no `__FMA__`, takes the run-time choice). `KILN_X86_64` and `KILN_NEON` are set
/// at the top of the file from gcc/clang's and MSVC's target macros.
/// `-DKILN_NO_SGEMM_KERNEL` keeps the loops.
const SGEMM_C_AVX512: &str =
    "defined(KILN_X86_64) && defined(__AVX512F__) && !defined(KILN_NO_SGEMM_KERNEL)";
const SGEMM_C_AVX2: &str =
    "defined(KILN_X86_64) && defined(__AVX2__) && defined(__FMA__) && !defined(KILN_NO_SGEMM_KERNEL)";
const SGEMM_C_NEON: &str = "defined(KILN_NEON) && !defined(KILN_NO_SGEMM_KERNEL)";
/// x86_64 built for neither (a default `cc -O2`): the shim chooses the kernel at run time
/// from CPUID. The loops are 100-200 times slower on a CNN (squeezenet1_1: 849.6 ms vs 4.2).
const SGEMM_C_X86_ANY: &str = "defined(KILN_X86_64) && !defined(KILN_NO_SGEMM_KERNEL)";

/// When a loop `y[b + k] = f(x[a + k])` calls the shim's vector function for `f` (exp,
/// sigmoid, tanh, erf: the same bits as the loop, runtime-shim/src/vmath.rs) instead of
/// the scalar function per value: the ISAs the Cranelift backend calls them for, from what
/// the C compiler targets (NEON on every aarch64 target; `-mavx2` or `-mavx512f` on
/// x86_64, else the functions that choose at run time from CPUID). `-DKILN_NO_VECTOR_MATH`
/// keeps the loops.
const VEC_C: [(&str, &crate::backend::cranelift::VecFns); 4] = [
    (
        "defined(KILN_X86_64) && defined(__AVX512F__) && !defined(KILN_NO_VECTOR_MATH)",
        &crate::backend::cranelift::VEC_AVX512,
    ),
    (
        "defined(KILN_X86_64) && defined(__AVX2__) && !defined(KILN_NO_VECTOR_MATH)",
        &crate::backend::cranelift::VEC_AVX2,
    ),
    (
        "defined(KILN_NEON) && !defined(KILN_NO_VECTOR_MATH)",
        &crate::backend::cranelift::VEC_NEON,
    ),
    (
        "defined(KILN_X86_64) && !defined(KILN_NO_VECTOR_MATH)",
        &crate::backend::cranelift::VEC_X86_ANY,
    ),
];

/// The prototypes of the vector functions `VEC_C` calls.
const VEC_PROTOTYPES: &str = "/* kiln_shim vector math (runtime-shim/src/vmath.rs): the same bits as the loops under #else */\n\
void kiln_shim_vexpf_sub_avx512(const float *, float *, int64_t, float);\n\
void kiln_shim_vsigmoidf_avx512(const float *, float *, int64_t);\n\
void kiln_shim_vtanhf_avx512(const float *, float *, int64_t);\n\
void kiln_shim_verff_avx512(const float *, float *, int64_t);\n\
void kiln_shim_vexpf_sub_avx2(const float *, float *, int64_t, float);\n\
void kiln_shim_vsigmoidf_avx2(const float *, float *, int64_t);\n\
void kiln_shim_vtanhf_avx2(const float *, float *, int64_t);\n\
void kiln_shim_verff_avx2(const float *, float *, int64_t);\n\
void kiln_shim_vexpf_sub_neon(const float *, float *, int64_t, float);\n\
void kiln_shim_vsigmoidf_neon(const float *, float *, int64_t);\n\
void kiln_shim_vtanhf_neon(const float *, float *, int64_t);\n\
void kiln_shim_verff_neon(const float *, float *, int64_t);\n\
void kiln_shim_vexpf_sub_x86_any(const float *, float *, int64_t, float);\n\
void kiln_shim_vsigmoidf_x86_any(const float *, float *, int64_t);\n\
void kiln_shim_vtanhf_x86_any(const float *, float *, int64_t);\n\
void kiln_shim_verff_x86_any(const float *, float *, int64_t);\n\n";

/// `bytes` as the lines of a C string literal initializer (exactly `bytes.len()` chars, no
/// terminating NUL is stored: legal C for an array of exactly that size). Printable ASCII is
/// kept (except `"`, `\` and `?`, against trigraphs); every other byte is a three-digit octal
/// escape, which can never absorb the character after it.
pub fn weights_literal(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for chunk in bytes.chunks(64) {
        s.push_str("    \"");
        for &b in chunk {
            if (0x20..0x7f).contains(&b) && !matches!(b, b'"' | b'\\' | b'?') {
                s.push(b as char);
            } else {
                let _ = write!(s, "\\{b:03o}");
            }
        }
        s.push_str("\"\n");
    }
    if s.ends_with('\n') {
        s.pop();
    }
    s
}

/// Buffers a kernel loads from or stores to, sorted.
fn used_buffers(k: &Kernel) -> BTreeSet<BufId> {
    let mut used = BTreeSet::new();
    visit_stmts(&k.body, &mut |e| {
        if let Expr::Load(b, _) = e {
            used.insert(*b);
        }
    });
    fn stores(body: &[Stmt], used: &mut BTreeSet<BufId>) {
        for s in body {
            match s {
                Stmt::Store { buf, .. } => {
                    used.insert(*buf);
                }
                Stmt::Loop { body, .. } => stores(body, used),
                Stmt::If { then, els, .. } => {
                    stores(then, used);
                    stores(els, used);
                }
                Stmt::Gemm { fallback, .. } => stores(fallback, used),
                _ => {}
            }
        }
    }
    stores(&k.body, &mut used);
    used
}

/// Variables whose value is read somewhere in the kernel.
fn read_vars(k: &Kernel) -> BTreeSet<VarId> {
    let mut read = BTreeSet::new();
    visit_stmts(&k.body, &mut |e| {
        if let Expr::Var(v) = e {
            read.insert(*v);
        }
    });
    read
}

fn emit_kernel(cx: &mut ExprCx, out: &mut String, index: usize, k: &Kernel) {
    let p = cx.p;
    let _ = writeln!(
        out,
        "/* kernel {index}: {} */\nstatic int32_t {}_k{index}({KERNEL_PARAMS}) {{",
        comment_text(&k.name),
        p.name
    );
    out.push_str(
        "    (void)dims; (void)inputs; (void)outputs; (void)scratch; (void)lens; (void)par;\n",
    );
    for b in used_buffers(k) {
        let Some(buf) = p.buffers.get(b.0 as usize) else {
            continue;
        };
        let ct = c_type(buf.elem);
        let decl = match (&buf.kind, buf_access(&buf.kind)) {
            (BufKind::Input(i), _) => format!("const {ct} *b{} = (const {ct} *)inputs[{i}];", b.0),
            (BufKind::Output(i), _) => format!("{ct} *b{} = ({ct} *)outputs[{i}];", b.0),
            (BufKind::Weight { offset }, _) => {
                format!("const uint8_t *b{} = {}_weights + {offset};", b.0, p.name)
            }
            (BufKind::Scratch { offset }, BufAccess::Bytes | BufAccess::Typed) => {
                let (o, _) = cx.expr(offset);
                format!("uint8_t *b{} = scratch + {o};", b.0)
            }
        };
        let _ = writeln!(
            out,
            "    {decl} /* {}: {} */",
            comment_text(&buf.name),
            buf.elem
        );
    }
    // Scratch guard: this kernel's scratch buffers are addressable while it runs, exactly
    // their bytes (not the alignment padding or the guard after them).
    let mut guarded = vec![];
    if p.scratch_guard > 0 && index > 0 {
        for b in used_buffers(k) {
            let Some(buf) = p.buffers.get(b.0 as usize) else {
                continue;
            };
            if let BufKind::Scratch { .. } = buf.kind {
                let (len, _) = cx.expr(&buf.len);
                let bytes = format!("(size_t)({len}) * {}", buf.elem.size());
                let _ = writeln!(out, "    KILN_UNPOISON(b{}, {bytes});", b.0);
                guarded.push(format!("    KILN_POISON(b{}, {bytes});\n", b.0));
            }
        }
    }
    let read = read_vars(k);
    let mut st = Stmts { cx, read: &read };
    st.block(out, &k.body, 1);
    for g in guarded {
        out.push_str(&g);
    }
    out.push_str("    return 0;\n}\n\n");
}

/// Declarations for `Program::scratch_guard`: AddressSanitizer's poisoning calls when the
/// file is compiled with it (gcc's `__SANITIZE_ADDRESS__`, clang's `__has_feature`), no-ops
/// otherwise.
const ASAN_MACROS: &str = "#include <stddef.h>\n\
#if defined(__SANITIZE_ADDRESS__)\n\
#define KILN_ASAN 1\n\
#elif defined(__has_feature)\n\
#if __has_feature(address_sanitizer)\n\
#define KILN_ASAN 1\n\
#endif\n\
#endif\n\
#ifdef KILN_ASAN\n\
void __asan_poison_memory_region(void const volatile *addr, size_t size);\n\
void __asan_unpoison_memory_region(void const volatile *addr, size_t size);\n\
#define KILN_POISON(p, n) __asan_poison_memory_region((p), (size_t)(n))\n\
#define KILN_UNPOISON(p, n) __asan_unpoison_memory_region((p), (size_t)(n))\n\
#else\n\
#define KILN_POISON(p, n) ((void)(p), (void)(n))\n\
#define KILN_UNPOISON(p, n) ((void)(p), (void)(n))\n\
#endif\n\n";

struct Stmts<'c, 'a> {
    cx: &'c mut ExprCx<'a>,
    read: &'c BTreeSet<VarId>,
}

impl Stmts<'_, '_> {
    fn var_type(&self, v: VarId) -> Scalar {
        self.cx
            .vars
            .get(v.0 as usize)
            .copied()
            .unwrap_or(Scalar::I64)
    }

    fn block(&mut self, out: &mut String, body: &[Stmt], depth: usize) {
        let ind = "    ".repeat(depth);
        for s in body {
            match s {
                Stmt::Let(v, e) => {
                    let (se, _) = self.cx.expr(e);
                    let _ = writeln!(out, "{ind}{} v{} = {se};", c_type(self.var_type(*v)), v.0);
                    if !self.read.contains(v) {
                        let _ = writeln!(out, "{ind}(void)v{};", v.0);
                    }
                }
                Stmt::Set(v, e) => {
                    let (se, _) = self.cx.expr(e);
                    let _ = writeln!(out, "{ind}v{} = {se};", v.0);
                }
                Stmt::Loop {
                    var,
                    start,
                    end,
                    body,
                } => {
                    let (ss, _) = self.cx.expr(start);
                    let (se, _) = self.cx.expr(end);
                    let p = self.cx.p;
                    let shim = crate::backend::cranelift::kernel::shim_loop(*var, body, &p.buffers);
                    if let Some(l) = &shim {
                        // One vector call for the run (none when it is empty); the loop
                        // below under #else.
                        self.cx.vfns = true;
                        let xb = self.cx.expr(l.x_base).0;
                        let yb = self.cx.expr(l.y_base).0;
                        let m = match &l.f {
                            crate::backend::cranelift::kernel::VecFn::ExpSub(m) => {
                                format!(", {}", self.cx.expr(m).0)
                            }
                            _ => String::new(),
                        };
                        let args = format!(
                            "(const float *)(const void *)b{} + ({xb}) + ({ss}), \
                             (float *)(void *)b{} + ({yb}) + ({ss}), ({se}) - ({ss}){m}",
                            l.x.0, l.y.0
                        );
                        for (i, (cond, fns)) in VEC_C.iter().enumerate() {
                            let kw = if i == 0 { "#if" } else { "#elif" };
                            let _ = writeln!(
                                out,
                                "{kw} {cond}\n{ind}if (({se}) > ({ss})) {}({args});",
                                fns.symbol(&l.f)
                            );
                        }
                        let _ = writeln!(out, "#else");
                    }
                    let v = var.0;
                    let _ = writeln!(
                        out,
                        "{ind}for (int64_t v{v} = {ss}, v{v}_end = {se}; v{v} < v{v}_end; v{v}++) {{"
                    );
                    if !self.read.contains(var) {
                        let _ = writeln!(out, "{ind}    (void)v{v};");
                    }
                    self.block(out, body, depth + 1);
                    let _ = writeln!(out, "{ind}}}");
                    if shim.is_some() {
                        let _ = writeln!(out, "#endif");
                    }
                }
                Stmt::Store { buf, idx, val } => {
                    let (si, _) = self.cx.expr(idx);
                    let (sv, _) = self.cx.expr(val);
                    let Some(b) = self.cx.p.buffers.get(buf.0 as usize) else {
                        self.cx.unsupported = true;
                        continue;
                    };
                    match buf_access(&b.kind) {
                        BufAccess::Typed => {
                            let _ = writeln!(out, "{ind}b{}[{si}] = {sv};", buf.0);
                        }
                        BufAccess::Bytes => {
                            let h = Helper::Store(b.elem);
                            self.cx.helpers.insert(h);
                            let _ =
                                writeln!(out, "{ind}{}(b{}, {si}, {sv});", h.name("kiln_"), buf.0);
                        }
                    }
                }
                Stmt::If { cond, then, els } => {
                    let (sc, _) = self.cx.expr(cond);
                    let _ = writeln!(out, "{ind}if ({sc}) {{");
                    self.block(out, then, depth + 1);
                    if els.is_empty() {
                        let _ = writeln!(out, "{ind}}}");
                    } else {
                        let _ = writeln!(out, "{ind}}} else {{");
                        self.block(out, els, depth + 1);
                        let _ = writeln!(out, "{ind}}}");
                    }
                }
                Stmt::Fail(status) => {
                    let _ = writeln!(out, "{ind}return {};", status.code());
                }
                Stmt::Gemm { call, fallback } => {
                    // The shim's kernel where the C compiler targets AVX2 + FMA; the same
                    // bits from the fallback loops elsewhere.
                    self.cx.sgemm = true;
                    let g = call.as_ref();
                    let mut e = |x: &Expr| self.cx.expr(x).0;
                    let args = [
                        e(&g.m),
                        e(&g.n),
                        e(&g.k),
                        format!(
                            "(const float *)(const void *)b{} + ({})",
                            g.a.0,
                            e(&g.a_off)
                        ),
                        e(&g.a_rs),
                        e(&g.a_cs),
                        format!(
                            "(const float *)(const void *)b{} + ({})",
                            g.b.0,
                            e(&g.b_off)
                        ),
                        e(&g.b_rs),
                        e(&g.b_cs),
                        match &g.conv {
                            Some(cv) => format!(
                                "(const int64_t[]){{{}}}",
                                cv.abi().map(|v| format!("INT64_C({v})")).join(", ")
                            ),
                            None => "(const int64_t *)0".to_string(),
                        },
                        format!("(float *)(void *)b{} + ({})", g.c.0, e(&g.c_off)),
                        e(&g.c_rs),
                        (g.accumulate as i32).to_string(),
                        match &g.bias {
                            Some((b, off)) => {
                                format!("(const float *)(const void *)b{} + ({})", b.0, e(off))
                            }
                            None => "(const float *)0".to_string(),
                        },
                        match &g.res {
                            Some((b, off, _)) => {
                                format!("(const float *)(const void *)b{} + ({})", b.0, e(off))
                            }
                            None => "(const float *)0".to_string(),
                        },
                        match &g.res {
                            Some((_, _, rs)) => e(rs),
                            None => e(&g.c_rs),
                        },
                        e(&Expr::imm(Scalar::F32, g.lo as f64)),
                        e(&Expr::imm(Scalar::F32, g.hi as f64)),
                        e(&g.groups),
                        e(&g.a_gs),
                        e(&g.b_gs),
                        e(&g.c_gs),
                        (g.max as i32).to_string(),
                        e(&Expr::i64(g.a_panel)),
                        "par".to_string(),
                    ];
                    let args = args.join(", ");
                    let _ = writeln!(out, "#if {SGEMM_C_AVX512}");
                    let _ = writeln!(out, "{ind}kiln_shim_sgemm_avx512({args});");
                    let _ = writeln!(out, "#elif {SGEMM_C_AVX2}");
                    let _ = writeln!(out, "{ind}kiln_shim_sgemm_avx2({args});");
                    let _ = writeln!(out, "#elif {SGEMM_C_NEON}");
                    let _ = writeln!(out, "{ind}kiln_shim_sgemm_neon({args});");
                    let _ = writeln!(out, "#elif {SGEMM_C_X86_ANY}");
                    let _ = writeln!(out, "{ind}kiln_shim_sgemm_x86_any({args});");
                    let _ = writeln!(out, "#else\n{ind}{{");
                    self.block(out, fallback, depth + 1);
                    let _ = writeln!(out, "{ind}}}\n#endif");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
