//! `kiln-shim`: the math runtime linked into every program Kiln compiles.
//!
//! Kiln's three backends (Cranelift machine code, emitted C, emitted Rust) never call a
//! platform libm for transcendental functions: they call the `kiln_shim_*` functions
//! exported here (C ABI, declared in `include/kiln_shim.h`), so all backends, on all
//! targets, produce bit-identical results. The same functions are available to Rust as
//! `exp`/`expf`, `log`/`logf`, ... , and exact fused multiply-add `fma`/`fmaf`.
//!
//! Invariants:
//! - `#![no_std]`, no allocation, no dependencies, no build script: the compiler also
//!   builds this crate directly with `rustc` (as an rlib, or as a staticlib with
//!   `--cfg kiln_shim_staticlib -C panic=abort`, which adds the panic handler and the
//!   `rust_eh_personality` stub below) for arbitrary targets.
//! - No function can panic: no fallible indexing, no unwrap, no integer overflow (checked
//!   in debug builds by the test-suite sweeps).
//! - Only IEEE-754 `+ - * /`, comparisons, integer and bit manipulation are used — no
//!   platform libm, no hardware fused multiply-add (`fma`/`fmaf` are computed exactly in
//!   software) — so a given input gives the same bits on every target.
//! - All algorithms (range reductions, series, fits) are written for this crate; the
//!   polynomial coefficients come from `tools/gen_coeffs.py`.
//!
//! Accuracy (measured by `tests/accuracy.rs` against exact values, the host libm and, for
//! erf, a double-double reference): every f32 function is within 1 ulp of the exact result
//! and in practice correctly rounded (it is computed in f64 and rounded once); every f64
//! function is within 1 ulp (measured maximum 0.78 ulp); fmod is exact; fma and fmaf are
//! correctly rounded (bit for bit equal to hardware FMA, `tests/fma.rs`). sin/cos/tan reduce
//! their argument exactly enough for every finite input (Payne-Hanek beyond 2^20). Special
//! values follow C99 Annex F (NaN propagation, signed zeros, infinities, pow's and fmod's
//! special cases); see `tests/special.rs`.

#![no_std]

mod coeffs;
#[cfg(target_arch = "x86_64")]
pub mod cpu;
mod erf;
mod exp_log;
mod fma;
mod fmod;
mod fp;
pub mod gemm;
mod hyperbolic;
mod invtrig;
mod math32;
pub mod parallel;
mod trig;
pub mod vmath;

pub use erf::erf;
pub use exp_log::{exp, log, pow};
pub use fma::{fma, fmaf};
pub use fmod::fmod;
pub use hyperbolic::{acosh, asinh, atanh, cosh, sinh, tanh};
pub use invtrig::{acos, asin, atan};
pub use math32::{
    acosf, acoshf, asinf, asinhf, atanf, atanhf, cosf, coshf, erff, expf, fmodf, logf, powf, sinf,
    sinhf, tanf, tanhf,
};
pub use trig::{cos, sin, tan};

/// Version of the C ABI below (bumped when a signature or a result changes).
pub const KILN_SHIM_ABI_VERSION: u32 = 10;

/// Panic handler for the standalone no_std staticlib build. Nothing in the crate panics;
/// this only satisfies the linker. The rlib has none (the final binary provides it).
#[cfg(kiln_shim_staticlib)]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}

/// Unwinding personality stub for the staticlib build. The archive bundles
/// `compiler_builtins`, which also defines C math symbols (`fmaf`, `floorf`, ...) and whose
/// objects refer to `rust_eh_personality`; when a C program links the archive before `-lm`
/// those symbols resolve to the bundled objects, and without this definition the link fails.
/// With `panic=abort` nothing unwinds, so it is never called. Not part of the C API (so
/// not in `kiln_shim.h`); the rlib has none (the final Rust binary provides it).
#[cfg(kiln_shim_staticlib)]
#[no_mangle]
pub extern "C" fn rust_eh_personality() {}

// ---- C ABI exports (one line per signature: tests/header.rs checks them against
// ---- include/kiln_shim.h) ----

/// Builds the `gemm::Call` of the C ABI's arguments (sizes below zero count as zero,
/// `accumulate` is 0 or 1, `conv` is null or `gemm::CONV2D_ABI_LEN` values).
#[rustfmt::skip]
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_call(m: i64, n: i64, k: i64, a: *const f32, a_rs: i64, a_cs: i64, b: *const f32, b_rs: i64, b_cs: i64, conv: *const i64, c: *mut f32, c_rs: i64, accumulate: i32, bias: *const f32, res: *const f32, res_rs: i64, lo: f32, hi: f32, groups: i64, a_gs: i64, b_gs: i64, c_gs: i64, max: i32, a_panel: i64) -> gemm::Call {
    gemm::Call {
        m: m.max(0) as usize, n: n.max(0) as usize, k: k.max(0) as usize,
        a, a_rs: a_rs as isize, a_cs: a_cs as isize,
        b, b_rs: b_rs as isize, b_cs: b_cs as isize,
        conv: if conv.is_null() { None } else { Some(gemm::Conv2d::from_abi(conv)) },
        c, c_rs: c_rs as isize, accumulate: accumulate != 0, bias, res, res_rs: res_rs as isize, lo, hi,
        max: max != 0, a_panel: a_panel.max(0) as usize, groups: groups.max(0) as usize, a_gs: a_gs as isize, b_gs: b_gs as isize, c_gs: c_gs as isize,
    }
}

/// (register tile rows, panel columns) of the AVX2 and AVX-512 GEMM kernels: the units
/// `parallel::run` splits their calls at (the plain loops in their place split alike).
const AVX2_TILE: (usize, usize) = (6, 16);
const AVX512_TILE: (usize, usize) = (12, 32);

/// The f32 GEMM of generated code (`gemm` module for the contract: a strided or
/// convolution-patch B, then bias, residual and clamp epilogue): AVX2 + FMA code on x86_64
/// (Kiln calls it only for targets with both), the plain loops elsewhere, with the same bits
/// either way. `conv` is null (B is the strided matrix) or points to
/// `[h, w, kh, kw, sh, sw, ph, pw, dh, dw, ow, blocked]` (`blocked`: channels per block of
/// the NCHWc layout, or 0); `bias` and `res` may be null, `res_rs` is the
/// residual's row stride (0: one row vector added to every row of C); `lo`/`hi` are
/// -inf/+inf for no clamp; `groups` products are computed, group `g` with the operands
/// advanced by `g` times the group strides; `max` (0 or 1) asks for the max-reduction
/// (max pooling) instead of the product; `a_panel` > 0 says A is packed in panels of that
/// many rows. `par` is null (run on the calling thread) or the caller's parallel-for
/// (`parallel` module; since ABI 7), over which a large call is split: the same bits either
/// way.
///
/// # Safety
/// As `gemm::sgemm_portable`; on x86_64 the CPU must have AVX2 and FMA; `par` as
/// `parallel::run`.
#[rustfmt::skip]
#[no_mangle]
pub unsafe extern "C" fn kiln_shim_sgemm_avx2(m: i64, n: i64, k: i64, a: *const f32, a_rs: i64, a_cs: i64, b: *const f32, b_rs: i64, b_cs: i64, conv: *const i64, c: *mut f32, c_rs: i64, accumulate: i32, bias: *const f32, res: *const f32, res_rs: i64, lo: f32, hi: f32, groups: i64, a_gs: i64, b_gs: i64, c_gs: i64, max: i32, a_panel: i64, par: *const parallel::Parallel) {
    let t = gemm_call(m, n, k, a, a_rs, a_cs, b, b_rs, b_cs, conv, c, c_rs, accumulate, bias, res, res_rs, lo, hi, groups, a_gs, b_gs, c_gs, max, a_panel);
    #[cfg(target_arch = "x86_64")]
    parallel::run(&t, par, gemm::sgemm_avx2, AVX2_TILE.0, AVX2_TILE.1);
    #[cfg(not(target_arch = "x86_64"))]
    parallel::run(&t, par, gemm::sgemm_portable, AVX2_TILE.0, AVX2_TILE.1);
}

/// `kiln_shim_sgemm_avx2` with AVX-512F code on x86_64 (Kiln calls it only for targets with
/// AVX-512F), the plain loops elsewhere; the same bits either way.
///
/// # Safety
/// As `gemm::sgemm_portable`; on x86_64 the CPU must have AVX-512F.
#[rustfmt::skip]
#[no_mangle]
pub unsafe extern "C" fn kiln_shim_sgemm_avx512(m: i64, n: i64, k: i64, a: *const f32, a_rs: i64, a_cs: i64, b: *const f32, b_rs: i64, b_cs: i64, conv: *const i64, c: *mut f32, c_rs: i64, accumulate: i32, bias: *const f32, res: *const f32, res_rs: i64, lo: f32, hi: f32, groups: i64, a_gs: i64, b_gs: i64, c_gs: i64, max: i32, a_panel: i64, par: *const parallel::Parallel) {
    let t = gemm_call(m, n, k, a, a_rs, a_cs, b, b_rs, b_cs, conv, c, c_rs, accumulate, bias, res, res_rs, lo, hi, groups, a_gs, b_gs, c_gs, max, a_panel);
    #[cfg(target_arch = "x86_64")]
    parallel::run(&t, par, gemm::sgemm_avx512, AVX512_TILE.0, AVX512_TILE.1);
    #[cfg(not(target_arch = "x86_64"))]
    parallel::run(&t, par, gemm::sgemm_portable, AVX512_TILE.0, AVX512_TILE.1);
}

/// `kiln_shim_sgemm_avx2` with NEON code on aarch64 (`gemm_neon.rs`; Kiln calls it for
/// aarch64 targets), the plain loops elsewhere; the same bits either way. Since ABI 5.
///
/// # Safety
/// As `gemm::sgemm_portable`.
#[rustfmt::skip]
#[no_mangle]
pub unsafe extern "C" fn kiln_shim_sgemm_neon(m: i64, n: i64, k: i64, a: *const f32, a_rs: i64, a_cs: i64, b: *const f32, b_rs: i64, b_cs: i64, conv: *const i64, c: *mut f32, c_rs: i64, accumulate: i32, bias: *const f32, res: *const f32, res_rs: i64, lo: f32, hi: f32, groups: i64, a_gs: i64, b_gs: i64, c_gs: i64, max: i32, a_panel: i64, par: *const parallel::Parallel) {
    let t = gemm_call(m, n, k, a, a_rs, a_cs, b, b_rs, b_cs, conv, c, c_rs, accumulate, bias, res, res_rs, lo, hi, groups, a_gs, b_gs, c_gs, max, a_panel);
    #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
    parallel::run(&t, par, gemm::sgemm_neon, 12, 8);
    #[cfg(not(all(target_arch = "aarch64", target_feature = "neon")))]
    parallel::run(&t, par, gemm::sgemm_portable, 12, 8);
}

/// `kiln_shim_sgemm_avx2` for any x86_64 CPU: the AVX-512F kernel, the AVX2 + FMA one or
/// the plain loops, chosen at run time from what this CPU and OS support (`cpu` module:
/// CPUID and XGETBV, read once); the plain loops on other architectures. The same bits
/// whichever runs. The C and Rust output call it on x86_64 when their compiler targets
/// neither AVX2 + FMA nor AVX-512F (a default `cc -O2`, a build.rs), the object backend for
/// x86_64 targets without them. Since ABI 9.
///
/// # Safety
/// As `gemm::sgemm_portable`; `par` as `parallel::run`.
#[rustfmt::skip]
#[no_mangle]
pub unsafe extern "C" fn kiln_shim_sgemm_x86_any(m: i64, n: i64, k: i64, a: *const f32, a_rs: i64, a_cs: i64, b: *const f32, b_rs: i64, b_cs: i64, conv: *const i64, c: *mut f32, c_rs: i64, accumulate: i32, bias: *const f32, res: *const f32, res_rs: i64, lo: f32, hi: f32, groups: i64, a_gs: i64, b_gs: i64, c_gs: i64, max: i32, a_panel: i64, par: *const parallel::Parallel) {
    let t = gemm_call(m, n, k, a, a_rs, a_cs, b, b_rs, b_cs, conv, c, c_rs, accumulate, bias, res, res_rs, lo, hi, groups, a_gs, b_gs, c_gs, max, a_panel);
    #[cfg(target_arch = "x86_64")]
    match cpu::x86_level() {
        cpu::X86Level::Avx512 => parallel::run(&t, par, gemm::sgemm_avx512, AVX512_TILE.0, AVX512_TILE.1),
        cpu::X86Level::Avx2 => parallel::run(&t, par, gemm::sgemm_avx2, AVX2_TILE.0, AVX2_TILE.1),
        cpu::X86Level::Base => parallel::run(&t, par, gemm::sgemm_portable, AVX2_TILE.0, AVX2_TILE.1),
    }
    #[cfg(not(target_arch = "x86_64"))]
    parallel::run(&t, par, gemm::sgemm_portable, AVX2_TILE.0, AVX2_TILE.1);
}

/// Returns `KILN_SHIM_ABI_VERSION`.
#[no_mangle]
pub extern "C" fn kiln_shim_abi_version() -> u32 {
    KILN_SHIM_ABI_VERSION
}

/// C ABI export of [`expf`].
#[no_mangle]
pub extern "C" fn kiln_shim_expf(x: f32) -> f32 {
    expf(x)
}
/// C ABI export of [`exp`].
#[no_mangle]
pub extern "C" fn kiln_shim_exp(x: f64) -> f64 {
    exp(x)
}
/// C ABI export of [`logf`].
#[no_mangle]
pub extern "C" fn kiln_shim_logf(x: f32) -> f32 {
    logf(x)
}
/// C ABI export of [`log`].
#[no_mangle]
pub extern "C" fn kiln_shim_log(x: f64) -> f64 {
    log(x)
}
/// C ABI export of [`tanhf`].
#[no_mangle]
pub extern "C" fn kiln_shim_tanhf(x: f32) -> f32 {
    tanhf(x)
}
/// C ABI export of [`tanh`].
#[no_mangle]
pub extern "C" fn kiln_shim_tanh(x: f64) -> f64 {
    tanh(x)
}
/// C ABI export of [`powf`].
#[no_mangle]
pub extern "C" fn kiln_shim_powf(x: f32, y: f32) -> f32 {
    powf(x, y)
}
/// C ABI export of [`pow`].
#[no_mangle]
pub extern "C" fn kiln_shim_pow(x: f64, y: f64) -> f64 {
    pow(x, y)
}
/// C ABI export of [`erff`].
#[no_mangle]
pub extern "C" fn kiln_shim_erff(x: f32) -> f32 {
    erff(x)
}
/// C ABI export of [`erf`].
#[no_mangle]
pub extern "C" fn kiln_shim_erf(x: f64) -> f64 {
    erf(x)
}
/// C ABI export of [`sinf`].
#[no_mangle]
pub extern "C" fn kiln_shim_sinf(x: f32) -> f32 {
    sinf(x)
}
/// C ABI export of [`sin`].
#[no_mangle]
pub extern "C" fn kiln_shim_sin(x: f64) -> f64 {
    sin(x)
}
/// C ABI export of [`cosf`].
#[no_mangle]
pub extern "C" fn kiln_shim_cosf(x: f32) -> f32 {
    cosf(x)
}
/// C ABI export of [`cos`].
#[no_mangle]
pub extern "C" fn kiln_shim_cos(x: f64) -> f64 {
    cos(x)
}
/// C ABI export of [`tanf`].
#[no_mangle]
pub extern "C" fn kiln_shim_tanf(x: f32) -> f32 {
    tanf(x)
}
/// C ABI export of [`tan`].
#[no_mangle]
pub extern "C" fn kiln_shim_tan(x: f64) -> f64 {
    tan(x)
}
/// C ABI export of [`asinf`].
#[no_mangle]
pub extern "C" fn kiln_shim_asinf(x: f32) -> f32 {
    asinf(x)
}
/// C ABI export of [`asin`].
#[no_mangle]
pub extern "C" fn kiln_shim_asin(x: f64) -> f64 {
    asin(x)
}
/// C ABI export of [`acosf`].
#[no_mangle]
pub extern "C" fn kiln_shim_acosf(x: f32) -> f32 {
    acosf(x)
}
/// C ABI export of [`acos`].
#[no_mangle]
pub extern "C" fn kiln_shim_acos(x: f64) -> f64 {
    acos(x)
}
/// C ABI export of [`atanf`].
#[no_mangle]
pub extern "C" fn kiln_shim_atanf(x: f32) -> f32 {
    atanf(x)
}
/// C ABI export of [`atan`].
#[no_mangle]
pub extern "C" fn kiln_shim_atan(x: f64) -> f64 {
    atan(x)
}
/// C ABI export of [`sinhf`].
#[no_mangle]
pub extern "C" fn kiln_shim_sinhf(x: f32) -> f32 {
    sinhf(x)
}
/// C ABI export of [`sinh`].
#[no_mangle]
pub extern "C" fn kiln_shim_sinh(x: f64) -> f64 {
    sinh(x)
}
/// C ABI export of [`coshf`].
#[no_mangle]
pub extern "C" fn kiln_shim_coshf(x: f32) -> f32 {
    coshf(x)
}
/// C ABI export of [`cosh`].
#[no_mangle]
pub extern "C" fn kiln_shim_cosh(x: f64) -> f64 {
    cosh(x)
}
/// C ABI export of [`asinhf`].
#[no_mangle]
pub extern "C" fn kiln_shim_asinhf(x: f32) -> f32 {
    asinhf(x)
}
/// C ABI export of [`asinh`].
#[no_mangle]
pub extern "C" fn kiln_shim_asinh(x: f64) -> f64 {
    asinh(x)
}
/// C ABI export of [`acoshf`].
#[no_mangle]
pub extern "C" fn kiln_shim_acoshf(x: f32) -> f32 {
    acoshf(x)
}
/// C ABI export of [`acosh`].
#[no_mangle]
pub extern "C" fn kiln_shim_acosh(x: f64) -> f64 {
    acosh(x)
}
/// C ABI export of [`atanhf`].
#[no_mangle]
pub extern "C" fn kiln_shim_atanhf(x: f32) -> f32 {
    atanhf(x)
}
/// C ABI export of [`atanh`].
#[no_mangle]
pub extern "C" fn kiln_shim_atanh(x: f64) -> f64 {
    atanh(x)
}
/// C ABI export of [`fmodf`].
#[no_mangle]
pub extern "C" fn kiln_shim_fmodf(x: f32, y: f32) -> f32 {
    fmodf(x, y)
}
/// C ABI export of [`fmod`].
#[no_mangle]
pub extern "C" fn kiln_shim_fmod(x: f64, y: f64) -> f64 {
    fmod(x, y)
}
/// C ABI export of [`fmaf`].
#[no_mangle]
pub extern "C" fn kiln_shim_fmaf(a: f32, b: f32, c: f32) -> f32 {
    fmaf(a, b, c)
}
/// C ABI export of [`fma`].
#[no_mangle]
pub extern "C" fn kiln_shim_fma(a: f64, b: f64, c: f64) -> f64 {
    fma(a, b, c)
}

/// A run length from the C ABI (below zero counts as zero).
fn count(n: i64) -> usize {
    if n < 0 {
        0
    } else {
        n as usize
    }
}

// The vector functions (`vmath`): Kiln calls the `_avx512` ones only for targets with
// AVX-512F, the `_avx2` ones only for targets with AVX2 and the `_neon` ones for aarch64;
// on other architectures they are the plain loops. `x` and `y` may be the same buffer.

/// `y[k] = expf(x[k] - m)` for `k < n` (Softmax's exps), bit for bit [`expf`] after the f32
/// subtraction, with AVX-512F code on x86_64.
///
/// # Safety
/// `x` and `y` hold `n` values; on x86_64 the CPU has the ISA's features.
#[no_mangle]
pub unsafe extern "C" fn kiln_shim_vexpf_sub_avx512(x: *const f32, y: *mut f32, n: i64, m: f32) {
    vmath::avx512::expf_sub(x, y, count(n), m);
}

/// `y[k] = 1 / (1 + expf(-x[k]))` for `k < n` (Sigmoid), bit for bit the scalar operations
/// (f32 negation, [`expf`], f32 addition and division), with AVX-512F code on x86_64. Since
/// ABI 5.
///
/// # Safety
/// `x` and `y` hold `n` values; on x86_64 the CPU has the ISA's features.
#[no_mangle]
pub unsafe extern "C" fn kiln_shim_vsigmoidf_avx512(x: *const f32, y: *mut f32, n: i64) {
    vmath::avx512::sigmoidf(x, y, count(n));
}

/// `y[k] = tanhf(x[k])` for `k < n`, bit for bit [`tanhf`], with AVX-512F code on x86_64.
/// Since ABI 6.
///
/// # Safety
/// `x` and `y` hold `n` values; on x86_64 the CPU has the ISA's features.
#[no_mangle]
pub unsafe extern "C" fn kiln_shim_vtanhf_avx512(x: *const f32, y: *mut f32, n: i64) {
    vmath::avx512::tanhf(x, y, count(n));
}

/// `y[k] = erff(x[k])` for `k < n`, bit for bit [`erff`], with AVX-512F code on x86_64.
/// Since ABI 6.
///
/// # Safety
/// `x` and `y` hold `n` values; on x86_64 the CPU has the ISA's features.
#[no_mangle]
pub unsafe extern "C" fn kiln_shim_verff_avx512(x: *const f32, y: *mut f32, n: i64) {
    vmath::avx512::erff(x, y, count(n));
}

/// `kiln_shim_vexpf_sub_avx512` with AVX2 code on x86_64. Since ABI 6.
///
/// # Safety
/// `x` and `y` hold `n` values; on x86_64 the CPU has the ISA's features.
#[no_mangle]
pub unsafe extern "C" fn kiln_shim_vexpf_sub_avx2(x: *const f32, y: *mut f32, n: i64, m: f32) {
    vmath::avx2::expf_sub(x, y, count(n), m);
}

/// `kiln_shim_vsigmoidf_avx512` with AVX2 code on x86_64. Since ABI 6.
///
/// # Safety
/// `x` and `y` hold `n` values; on x86_64 the CPU has the ISA's features.
#[no_mangle]
pub unsafe extern "C" fn kiln_shim_vsigmoidf_avx2(x: *const f32, y: *mut f32, n: i64) {
    vmath::avx2::sigmoidf(x, y, count(n));
}

/// `kiln_shim_vtanhf_avx512` with AVX2 code on x86_64. Since ABI 6.
///
/// # Safety
/// `x` and `y` hold `n` values; on x86_64 the CPU has the ISA's features.
#[no_mangle]
pub unsafe extern "C" fn kiln_shim_vtanhf_avx2(x: *const f32, y: *mut f32, n: i64) {
    vmath::avx2::tanhf(x, y, count(n));
}

/// `kiln_shim_verff_avx512` with AVX2 code on x86_64. Since ABI 6.
///
/// # Safety
/// `x` and `y` hold `n` values; on x86_64 the CPU has the ISA's features.
#[no_mangle]
pub unsafe extern "C" fn kiln_shim_verff_avx2(x: *const f32, y: *mut f32, n: i64) {
    vmath::avx2::erff(x, y, count(n));
}

/// `kiln_shim_vexpf_sub_avx512` with NEON code on aarch64 (the plain loop elsewhere). Since
/// ABI 8.
///
/// # Safety
/// `x` and `y` hold `n` values.
#[no_mangle]
pub unsafe extern "C" fn kiln_shim_vexpf_sub_neon(x: *const f32, y: *mut f32, n: i64, m: f32) {
    vmath::neon::expf_sub(x, y, count(n), m);
}

/// `kiln_shim_vsigmoidf_avx512` with NEON code on aarch64. Since ABI 8.
///
/// # Safety
/// `x` and `y` hold `n` values.
#[no_mangle]
pub unsafe extern "C" fn kiln_shim_vsigmoidf_neon(x: *const f32, y: *mut f32, n: i64) {
    vmath::neon::sigmoidf(x, y, count(n));
}

/// `kiln_shim_vtanhf_avx512` with NEON code on aarch64. Since ABI 8.
///
/// # Safety
/// `x` and `y` hold `n` values.
#[no_mangle]
pub unsafe extern "C" fn kiln_shim_vtanhf_neon(x: *const f32, y: *mut f32, n: i64) {
    vmath::neon::tanhf(x, y, count(n));
}

/// `kiln_shim_verff_avx512` with NEON code on aarch64. Since ABI 8.
///
/// # Safety
/// `x` and `y` hold `n` values.
#[no_mangle]
pub unsafe extern "C" fn kiln_shim_verff_neon(x: *const f32, y: *mut f32, n: i64) {
    vmath::neon::erff(x, y, count(n));
}

/// Calls `vmath::$isa::$f(args)` for the ISA this x86_64 CPU supports (`cpu::x86_level`),
/// the portable loop elsewhere.
macro_rules! x86_any {
    ($f:ident($($a:expr),*)) => {{
        #[cfg(target_arch = "x86_64")]
        match cpu::x86_level() {
            cpu::X86Level::Avx512 => vmath::avx512::$f($($a),*),
            cpu::X86Level::Avx2 => vmath::avx2::$f($($a),*),
            cpu::X86Level::Base => vmath::portable::$f($($a),*),
        }
        #[cfg(not(target_arch = "x86_64"))]
        vmath::portable::$f($($a),*)
    }};
}

/// `kiln_shim_vexpf_sub_avx512` for any x86_64 CPU: AVX-512F, AVX2 or the plain loop,
/// chosen at run time (`cpu` module); the plain loop elsewhere. For C and Rust output built
/// without AVX flags and objects for baseline x86_64. Since ABI 9.
///
/// # Safety
/// `x` and `y` hold `n` values.
#[no_mangle]
pub unsafe extern "C" fn kiln_shim_vexpf_sub_x86_any(x: *const f32, y: *mut f32, n: i64, m: f32) {
    x86_any!(expf_sub(x, y, count(n), m))
}

/// `kiln_shim_vsigmoidf_avx512` chosen at run time as `kiln_shim_vexpf_sub_x86_any`. Since
/// ABI 9.
///
/// # Safety
/// `x` and `y` hold `n` values.
#[no_mangle]
pub unsafe extern "C" fn kiln_shim_vsigmoidf_x86_any(x: *const f32, y: *mut f32, n: i64) {
    x86_any!(sigmoidf(x, y, count(n)))
}

/// `kiln_shim_vtanhf_avx512` chosen at run time as `kiln_shim_vexpf_sub_x86_any`. Since ABI
/// 9.
///
/// # Safety
/// `x` and `y` hold `n` values.
#[no_mangle]
pub unsafe extern "C" fn kiln_shim_vtanhf_x86_any(x: *const f32, y: *mut f32, n: i64) {
    x86_any!(tanhf(x, y, count(n)))
}

/// `kiln_shim_verff_avx512` chosen at run time as `kiln_shim_vexpf_sub_x86_any`. Since ABI
/// 9.
///
/// # Safety
/// `x` and `y` hold `n` values.
#[no_mangle]
pub unsafe extern "C" fn kiln_shim_verff_x86_any(x: *const f32, y: *mut f32, n: i64) {
    x86_any!(erff(x, y, count(n)))
}
