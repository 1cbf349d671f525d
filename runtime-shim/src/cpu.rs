//! What the x86_64 CPU (and its OS) supports, read at run time: for
//! `kiln_shim_sgemm_x86_any`, the GEMM entry of C and Rust output built without AVX2 or
//! AVX-512 flags (a default `cc -O2`, a build.rs).
//!
//! CPUID costs about 1 us in a virtual machine (it traps to the hypervisor), so the answer
//! is kept in one atomic byte: the only mutable static of the shim. It caches a fact about
//! the machine, every thread computes the same value, and a race only repeats the reads,
//! so it adds no state a caller could observe, order or reset.

use core::arch::x86_64::{__cpuid, __cpuid_count, _xgetbv};
use core::sync::atomic::{AtomicU8, Ordering};

/// The widest f32 GEMM kernel this CPU and OS can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum X86Level {
    /// Neither of the below: the plain loops.
    Base,
    /// AVX2 and FMA, with the OS saving ymm state.
    Avx2,
    /// AVX-512F (and AVX2 + FMA), with the OS saving zmm and opmask state.
    Avx512,
}

/// 0 until read, else `X86Level as u8 + 1`.
static LEVEL: AtomicU8 = AtomicU8::new(0);

/// This CPU's `X86Level` (read once, then from the cache).
pub fn x86_level() -> X86Level {
    let v = match LEVEL.load(Ordering::Relaxed) {
        0 => {
            let v = detect() as u8 + 1;
            LEVEL.store(v, Ordering::Relaxed);
            v
        }
        v => v,
    };
    match v {
        3 => X86Level::Avx512,
        2 => X86Level::Avx2,
        _ => X86Level::Base,
    }
}

/// CPUID leaves 1 and 7 for the instruction sets, XGETBV for the register state the OS
/// saves (a CPU may have AVX-512 that the OS has not enabled).
fn detect() -> X86Level {
    #[allow(unused_unsafe)]
    let (max, l1) = unsafe { (__cpuid(0).eax, __cpuid(1)) };
    let bit = |r: u32, b: u32| r >> b & 1 == 1;
    // FMA (ecx 12), OSXSAVE (ecx 27), AVX (ecx 28).
    if max < 7 || !bit(l1.ecx, 27) || !bit(l1.ecx, 28) {
        return X86Level::Base;
    }
    // SAFETY: OSXSAVE is set, so XGETBV exists and XCR0 is readable.
    let xcr0 = unsafe { xcr0() };
    let ymm = xcr0 & 0b110 == 0b110; // SSE and AVX state
    let zmm = xcr0 & 0b1110_0110 == 0b1110_0110; // and opmask, ZMM_Hi256, Hi16_ZMM
    #[allow(unused_unsafe)]
    let l7 = unsafe { __cpuid_count(7, 0) };
    // AVX2 (ebx 5), AVX-512F (ebx 16).
    let avx2 = ymm && bit(l7.ebx, 5) && bit(l1.ecx, 12);
    if avx2 && zmm && bit(l7.ebx, 16) {
        X86Level::Avx512
    } else if avx2 {
        X86Level::Avx2
    } else {
        X86Level::Base
    }
}

/// # Safety
/// The CPU must support XGETBV (CPUID.1:ECX.OSXSAVE).
#[target_feature(enable = "xsave")]
unsafe fn xcr0() -> u64 {
    _xgetbv(0)
}
