//! f32 matrix multiply kernels that generated code calls for MatMul, Gemm and convolutions
//! (`kir::Stmt::Gemm`).
//!
//! Contract (every variant, bit for bit): for `i < m`, `j < n`,
//! `acc = accumulate ? C[i, j] : +0.0`, then `acc = fma(A[i, p], B[p, j], acc)` for
//! `p = 0, 1, ..., k - 1` in that order, then `C[i, j] = acc`, where
//! `A[i, p] = a[i * a_rs + p * a_cs]`, `B[p, j] = b[p * b_rs + j * b_cs]` and
//! `C[i, j] = c[i * c_rs + j]`. Each step is one correctly rounded fused multiply-add, so
//! the result is exactly that of the plain loops every Kiln backend emits when it does not
//! call a kernel (`Stmt::Gemm`'s fallback): choosing the kernel never changes a bit.
//! `C` must not overlap `A` or `B`.
//!
//! Variants:
//! - `sgemm_avx2` (x86_64 with AVX2 and FMA, `#[target_feature]`): register-blocked
//!   6 x 16 micro-kernel (12 ymm accumulators, two B vectors and one broadcast A value per
//!   step), B packed into a 256 x 16 panel on the stack (16 KiB) so the inner loop reads it
//!   contiguously from L1, or read in place when it is already contiguous and few rows
//!   use it. Vectorised across columns, so every lane still runs its own k-ordered chain of
//!   FMAs: the contract holds exactly.
//! - `sgemm_avx512` (x86_64 with AVX-512F): the same with zmm registers, a 12 x 32 tile
//!   (24 accumulators of 32) and a 128 x 32 panel.
//! - `sgemm_portable`: the plain loops, with the crate's exact software `fmaf`. Exported on
//!   every target under the AVX2 name too, so the C header is the same everywhere; Kiln only
//!   calls the AVX2 symbol for targets that have AVX2 and FMA.
//!
//! Safety: the caller guarantees that every element the contract names is inside its
//! buffer (Kiln's lowering checks shapes; the interpreter runs the fallback with every
//! access bounds-checked). No allocation, no panics (offsets use wrapping arithmetic).

use crate::fma::fmaf;

/// The contract above with plain loops (any target).
///
/// # Safety
/// Every element named by the contract must be valid to read (A, B, and C when
/// `accumulate`) and write (C), and C must not overlap A or B.
#[allow(clippy::too_many_arguments)]
pub unsafe fn sgemm_portable(
    m: usize,
    n: usize,
    k: usize,
    a: *const f32,
    a_rs: isize,
    a_cs: isize,
    b: *const f32,
    b_rs: isize,
    b_cs: isize,
    c: *mut f32,
    c_rs: isize,
    accumulate: bool,
) {
    for i in 0..m {
        for j in 0..n {
            let cp = c.wrapping_offset((i as isize).wrapping_mul(c_rs).wrapping_add(j as isize));
            let mut acc = if accumulate { *cp } else { 0.0 };
            for p in 0..k {
                let av = *a.wrapping_offset(
                    (i as isize)
                        .wrapping_mul(a_rs)
                        .wrapping_add((p as isize).wrapping_mul(a_cs)),
                );
                let bv = *b.wrapping_offset(
                    (p as isize)
                        .wrapping_mul(b_rs)
                        .wrapping_add((j as isize).wrapping_mul(b_cs)),
                );
                acc = fmaf(av, bv, acc);
            }
            *cp = acc;
        }
    }
}

#[cfg(target_arch = "x86_64")]
pub use avx2::sgemm as sgemm_avx2;
#[cfg(target_arch = "x86_64")]
pub use avx512::sgemm as sgemm_avx512;

/// One x86_64 variant: the blocking below with the given vector type and intrinsics. `MR`
/// rows x `NR` columns (two vectors) of C live in registers; B is packed into a `KC` x `NR`
/// panel, or read in place when it is contiguous and at most `DIRECT_ROWS` rows use it.
#[cfg(target_arch = "x86_64")]
macro_rules! x86_variant {
    ($module:ident, $feature:literal, $vec:ty, $lanes:literal, $mr:literal, $kc:literal,
     $zero:ident, $load:ident, $store:ident, $set1:ident, $fma:ident) => {
        mod $module {
            use core::arch::x86_64::*;

            const MR: usize = $mr;
            const LANES: usize = $lanes;
            const NR: usize = 2 * LANES;
            const KC: usize = $kc;
            const DIRECT_ROWS: usize = 2 * MR;

            /// The contract of the module.
            ///
            /// # Safety
            /// As `sgemm_portable`, and the CPU must have the variant's features.
            #[allow(clippy::too_many_arguments)]
            #[target_feature(enable = $feature)]
            pub unsafe fn sgemm(
                m: usize,
                n: usize,
                k: usize,
                a: *const f32,
                a_rs: isize,
                a_cs: isize,
                b: *const f32,
                b_rs: isize,
                b_cs: isize,
                c: *mut f32,
                c_rs: isize,
                accumulate: bool,
            ) {
                let mut panel = [0f32; KC * NR];
                let mut j0 = 0usize;
                while j0 < n {
                    let nr = if n - j0 < NR { n - j0 } else { NR };
                    let mut k0 = 0usize;
                    // At least once, so that k == 0 still writes C (zeros, or C itself).
                    loop {
                        let kc = if k - k0 < KC { k - k0 } else { KC };
                        let direct = b_cs == 1 && nr == NR && m <= DIRECT_ROWS;
                        let (bp, bstride) = if direct {
                            let off = (k0 as isize).wrapping_mul(b_rs).wrapping_add(j0 as isize);
                            (b.wrapping_offset(off), b_rs)
                        } else {
                            for p in 0..kc {
                                let row = ((k0 + p) as isize).wrapping_mul(b_rs);
                                for jj in 0..NR {
                                    let v =
                                        if jj < nr {
                                            *b.wrapping_offset(row.wrapping_add(
                                                ((j0 + jj) as isize).wrapping_mul(b_cs),
                                            ))
                                        } else {
                                            0.0
                                        };
                                    *panel.as_mut_ptr().add(p * NR + jj) = v;
                                }
                            }
                            (panel.as_ptr(), NR as isize)
                        };
                        let first = k0 == 0 && !accumulate;
                        let mut i0 = 0usize;
                        while i0 < m {
                            let mr = if m - i0 < MR { m - i0 } else { MR };
                            let t = Tile {
                                kc,
                                a: a.wrapping_offset(
                                    (i0 as isize)
                                        .wrapping_mul(a_rs)
                                        .wrapping_add((k0 as isize).wrapping_mul(a_cs)),
                                ),
                                a_rs,
                                a_cs,
                                b: bp,
                                b_stride: bstride,
                                c: c.wrapping_offset(
                                    (i0 as isize).wrapping_mul(c_rs).wrapping_add(j0 as isize),
                                ),
                                c_rs,
                                nr,
                                first,
                            };
                            match mr {
                                12 => tile::<12>(&t),
                                11 => tile::<11>(&t),
                                10 => tile::<10>(&t),
                                9 => tile::<9>(&t),
                                8 => tile::<8>(&t),
                                7 => tile::<7>(&t),
                                6 => tile::<6>(&t),
                                5 => tile::<5>(&t),
                                4 => tile::<4>(&t),
                                3 => tile::<3>(&t),
                                2 => tile::<2>(&t),
                                _ => tile::<1>(&t),
                            }
                            i0 += mr;
                        }
                        k0 += kc;
                        if k0 >= k {
                            break;
                        }
                    }
                    j0 += nr;
                }
            }

            struct Tile {
                kc: usize,
                a: *const f32,
                a_rs: isize,
                a_cs: isize,
                /// B rows of this k block and column block: `b[p * b_stride + jj]`.
                b: *const f32,
                b_stride: isize,
                c: *mut f32,
                c_rs: isize,
                /// Valid columns (the rest are computed from zero padding and dropped).
                nr: usize,
                /// Start from +0 instead of loading C.
                first: bool,
            }

            /// R rows x NR columns of C over one k block.
            #[inline]
            #[target_feature(enable = $feature)]
            unsafe fn tile<const R: usize>(t: &Tile) {
                let mut lo: [$vec; R] = [$zero(); R];
                let mut hi: [$vec; R] = [$zero(); R];
                if !t.first {
                    for r in 0..R {
                        let row = t.c.wrapping_offset((r as isize).wrapping_mul(t.c_rs));
                        if t.nr == NR {
                            lo[r] = $load(row);
                            hi[r] = $load(row.add(LANES));
                        } else {
                            let mut tmp = [0f32; NR];
                            for (jj, v) in tmp.iter_mut().enumerate().take(t.nr) {
                                *v = *row.add(jj);
                            }
                            lo[r] = $load(tmp.as_ptr());
                            hi[r] = $load(tmp.as_ptr().add(LANES));
                        }
                    }
                }
                let mut ap = t.a;
                let mut bp = t.b;
                for _ in 0..t.kc {
                    let b0 = $load(bp);
                    let b1 = $load(bp.add(LANES));
                    for r in 0..R {
                        let av = $set1(*ap.wrapping_offset((r as isize).wrapping_mul(t.a_rs)));
                        lo[r] = $fma(av, b0, lo[r]);
                        hi[r] = $fma(av, b1, hi[r]);
                    }
                    ap = ap.wrapping_offset(t.a_cs);
                    bp = bp.wrapping_offset(t.b_stride);
                }
                for r in 0..R {
                    let row = t.c.wrapping_offset((r as isize).wrapping_mul(t.c_rs));
                    if t.nr == NR {
                        $store(row, lo[r]);
                        $store(row.add(LANES), hi[r]);
                    } else {
                        let mut tmp = [0f32; NR];
                        $store(tmp.as_mut_ptr(), lo[r]);
                        $store(tmp.as_mut_ptr().add(LANES), hi[r]);
                        for (jj, v) in tmp.iter().enumerate().take(t.nr) {
                            *row.add(jj) = *v;
                        }
                    }
                }
            }
        }
    };
}

// AVX2 + FMA: 16 ymm registers, 6 x 16 tile (12 accumulators), 256 x 16 panel (16 KiB).
#[cfg(target_arch = "x86_64")]
x86_variant!(
    avx2,
    "avx2,fma",
    __m256,
    8,
    6,
    256,
    _mm256_setzero_ps,
    _mm256_loadu_ps,
    _mm256_storeu_ps,
    _mm256_set1_ps,
    _mm256_fmadd_ps
);

// AVX-512F: 32 zmm registers, 12 x 32 tile (24 accumulators), 128 x 32 panel (16 KiB).
#[cfg(target_arch = "x86_64")]
x86_variant!(
    avx512,
    "avx512f",
    __m512,
    16,
    12,
    128,
    _mm512_setzero_ps,
    _mm512_loadu_ps,
    _mm512_storeu_ps,
    _mm512_set1_ps,
    _mm512_fmadd_ps
);
