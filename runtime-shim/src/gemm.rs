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
pub use avx2::sgemm_avx2;

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use core::arch::x86_64::*;

    const MR: usize = 6;
    const NR: usize = 16;
    const KC: usize = 256;
    /// Up to this many rows read B in place when it is already contiguous (packing would
    /// cost about as much as the multiply).
    const DIRECT_ROWS: usize = 12;

    /// The contract of the module with AVX2 + FMA.
    ///
    /// # Safety
    /// As `sgemm_portable`, and the CPU must have AVX2 and FMA.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn sgemm_avx2(
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
                            let v = if jj < nr {
                                *b.wrapping_offset(
                                    row.wrapping_add(((j0 + jj) as isize).wrapping_mul(b_cs)),
                                )
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
                    let at = a.wrapping_offset(
                        (i0 as isize)
                            .wrapping_mul(a_rs)
                            .wrapping_add((k0 as isize).wrapping_mul(a_cs)),
                    );
                    let ct = c.wrapping_offset(
                        (i0 as isize).wrapping_mul(c_rs).wrapping_add(j0 as isize),
                    );
                    let t = Tile {
                        kc,
                        a: at,
                        a_rs,
                        a_cs,
                        b: bp,
                        b_stride: bstride,
                        c: ct,
                        c_rs,
                        nr,
                        first,
                    };
                    match mr {
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
        /// B rows of this k block and column block: `b[p * b_stride + jj]`, 16 columns.
        b: *const f32,
        b_stride: isize,
        c: *mut f32,
        c_rs: isize,
        /// Valid columns (the rest of the 16 are computed from zero padding and dropped).
        nr: usize,
        /// Start from +0 instead of loading C.
        first: bool,
    }

    /// R rows x 16 columns of C over one k block.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn tile<const R: usize>(t: &Tile) {
        let mut lo = [_mm256_setzero_ps(); R];
        let mut hi = [_mm256_setzero_ps(); R];
        if !t.first {
            for r in 0..R {
                let row = t.c.wrapping_offset((r as isize).wrapping_mul(t.c_rs));
                if t.nr == NR {
                    lo[r] = _mm256_loadu_ps(row);
                    hi[r] = _mm256_loadu_ps(row.add(8));
                } else {
                    let mut tmp = [0f32; NR];
                    for (jj, v) in tmp.iter_mut().enumerate().take(t.nr) {
                        *v = *row.add(jj);
                    }
                    lo[r] = _mm256_loadu_ps(tmp.as_ptr());
                    hi[r] = _mm256_loadu_ps(tmp.as_ptr().add(8));
                }
            }
        }
        let mut ap = t.a;
        let mut bp = t.b;
        for _ in 0..t.kc {
            let b0 = _mm256_loadu_ps(bp);
            let b1 = _mm256_loadu_ps(bp.add(8));
            for r in 0..R {
                let av = _mm256_set1_ps(*ap.wrapping_offset((r as isize).wrapping_mul(t.a_rs)));
                lo[r] = _mm256_fmadd_ps(av, b0, lo[r]);
                hi[r] = _mm256_fmadd_ps(av, b1, hi[r]);
            }
            ap = ap.wrapping_offset(t.a_cs);
            bp = bp.wrapping_offset(t.b_stride);
        }
        for r in 0..R {
            let row = t.c.wrapping_offset((r as isize).wrapping_mul(t.c_rs));
            if t.nr == NR {
                _mm256_storeu_ps(row, lo[r]);
                _mm256_storeu_ps(row.add(8), hi[r]);
            } else {
                let mut tmp = [0f32; NR];
                _mm256_storeu_ps(tmp.as_mut_ptr(), lo[r]);
                _mm256_storeu_ps(tmp.as_mut_ptr().add(8), hi[r]);
                for (jj, v) in tmp.iter().enumerate().take(t.nr) {
                    *row.add(jj) = *v;
                }
            }
        }
    }
}
