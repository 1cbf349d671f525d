//! `sgemm_neon`: the contract of `gemm` with aarch64 NEON (Advanced SIMD, part of every
//! aarch64 application core), bit for bit the plain loops.
//!
//! Blocking: C is computed in column blocks of up to `NP` panels of `NR` = 8 columns (two
//! vectors); per k block of up to `KC` rows the block's B panels are packed on the stack
//! (the convolution patch matrix straight from the image, `pack_conv`, or a strided matrix),
//! then every row tile of C runs over all of them while they sit in L1. A tile is 12 rows
//! (24 accumulators, three A vectors and two B vectors per k step: 29 of the 32 vector
//! registers) or 4 rows (the bottom edge and matrix-vector products, 8 accumulators), each
//! k step an FMA by lane (`fmla v.4s, v.4s, v.s[l]`). Compile-time packed weights
//! (`a_panel` = 12) are read in place; any other A is copied into a 12 x KC (or 4 x KC)
//! tile first. Vectorised across columns, so every lane runs its own k-ordered chain of fused
//! multiply-adds: the contract holds exactly. Between k blocks the partial sums go through C
//! (an f32 store and load are exact); the epilogue (`Call::finish`) runs after the last.
//! Max pooling (`max`) and `k` = 0 run the plain loops. Stack use: about 45 KiB.

use super::{pack_conv, portable_one, Call};
use core::arch::aarch64::*;
use core::mem::MaybeUninit;

/// Columns per panel (two vectors).
const NR: usize = 8;
/// Panels per column block.
const NP: usize = 4;
/// Rows of the k block.
const KC: usize = 256;
/// Rows of the full tile (the compile-time A panel height).
const MR: usize = 12;
/// Rows of the small tile.
const MS: usize = 4;

#[repr(C, align(64))]
struct BBlock([f32; KC * NR * NP]);

#[repr(C, align(64))]
struct ATile([f32; KC * MR]);

/// The contract of `gemm` for `t` (every group).
///
/// # Safety
/// As `gemm::sgemm_portable`.
#[target_feature(enable = "neon")]
pub unsafe fn sgemm(t: &Call) {
    if t.blocked() > 0 {
        // The blocked NCHWc layout has no NEON kernel yet: the contract's loops.
        return super::sgemm_portable(t);
    }
    for g in 0..t.groups {
        one(&t.group(g));
    }
}

#[target_feature(enable = "neon")]
unsafe fn one(t: &Call) {
    if t.m == 0 || t.n == 0 {
        return;
    }
    if t.max || t.k == 0 {
        return portable_one(t);
    }
    let mut bb = MaybeUninit::<BBlock>::uninit();
    let bp = bb.as_mut_ptr() as *mut f32;
    let mut at = MaybeUninit::<ATile>::uninit();
    let ap = at.as_mut_ptr() as *mut f32;
    let mut j0 = 0;
    while j0 < t.n {
        let nb = (t.n - j0).min(NR * NP);
        let np = nb.div_ceil(NR);
        let mut k0 = 0;
        while k0 < t.k {
            let kc = (t.k - k0).min(KC);
            for q in 0..np {
                let jq = j0 + q * NR;
                let panel = bp.add(q * KC * NR);
                let nr = (t.n - jq).min(NR);
                match &t.conv {
                    Some(g) => pack_conv::<NR>(g, t.b, (k0, kc), (jq, nr), panel),
                    None => pack_b(t, (k0, kc), (jq, nr), panel),
                }
            }
            let st = Strip {
                first: k0 == 0,
                last: k0 + kc == t.k,
                k0,
                kc,
            };
            let mut i0 = 0;
            while i0 < t.m {
                if t.m - i0 >= MR {
                    row_tile::<MR>(t, (i0, MR), (j0, np), st, (bp, ap));
                } else {
                    // The bottom edge in tiles of 4 rows.
                    let mut r0 = i0;
                    while r0 < t.m {
                        row_tile::<MS>(t, (r0, (t.m - r0).min(MS)), (j0, np), st, (bp, ap));
                        r0 += MS;
                    }
                }
                i0 += MR;
            }
            k0 += kc;
        }
        j0 += nb;
    }
}

/// Rows `i0..i0 + mr` (at most R) of C over the `np` packed panels of the column block at
/// `j0` (in `bp`), k block `st`; `ap` is the A tile buffer.
#[target_feature(enable = "neon")]
unsafe fn row_tile<const R: usize>(
    t: &Call,
    (i0, mr): (usize, usize),
    (j0, np): (usize, usize),
    st: Strip,
    (bp, ap): (*const f32, *mut f32),
) {
    let a = a_tile::<R>(t, i0, st, ap);
    for q in 0..np {
        let jq = j0 + q * NR;
        let b = bp.add(q * KC * NR);
        tile::<R>(t, a, b, (i0, mr), (jq, (t.n - jq).min(NR)), st);
    }
}

/// The k block a tile works on: its first row `k0`, its length `kc`, and whether it is the
/// first (C or +0 starts the sums) and the last (the epilogue follows).
#[derive(Clone, Copy)]
struct Strip {
    first: bool,
    last: bool,
    k0: usize,
    kc: usize,
}

/// Packs the `kc` x `nr` block of a strided B at rows `k0..`, columns `j0..` into `panel`
/// (row stride `NR`, columns past `nr` +0); contiguous rows with vector copies.
#[target_feature(enable = "neon")]
unsafe fn pack_b(t: &Call, (k0, kc): (usize, usize), (j0, nr): (usize, usize), panel: *mut f32) {
    for p in 0..kc {
        let row =
            t.b.wrapping_offset(((k0 + p) as isize).wrapping_mul(t.b_rs));
        let dst = panel.add(p * NR);
        if t.b_cs == 1 && nr == NR {
            let s = row.wrapping_add(j0);
            vst1q_f32(dst, vld1q_f32(s));
            vst1q_f32(dst.add(4), vld1q_f32(s.add(4)));
            continue;
        }
        for jj in 0..NR {
            *dst.add(jj) = if jj < nr {
                *row.wrapping_offset(((j0 + jj) as isize).wrapping_mul(t.b_cs))
            } else {
                0.0
            };
        }
    }
}

/// The A of rows `i0..i0 + R`, k block `st`: (pointer to the values of its first k step,
/// elements between k steps). Compile-time packed weights in panels of 12 rows are read in
/// place when the tile's rows all exist; otherwise the rows are copied to `buf` (rows past
/// `m` as +0).
#[target_feature(enable = "neon")]
unsafe fn a_tile<const R: usize>(
    t: &Call,
    i0: usize,
    st: Strip,
    buf: *mut f32,
) -> (*const f32, usize) {
    if t.a_panel == MR && i0 % MR + R <= MR && i0 + R <= t.m {
        let a = t.a.add((i0 / MR) * MR * t.k + st.k0 * MR + i0 % MR);
        return (a, MR);
    }
    for p in 0..st.kc {
        for r in 0..R {
            *buf.add(p * R + r) = if i0 + r < t.m {
                t.a_at(i0 + r, st.k0 + p)
            } else {
                0.0
            };
        }
    }
    (buf, R)
}

/// One R x 8 tile of C: rows `i0..i0 + mr`, columns `j0..j0 + nr`, over the k block `st`,
/// with A as `a_tile` gives it and B one packed panel.
#[target_feature(enable = "neon")]
unsafe fn tile<const R: usize>(
    t: &Call,
    (a, a_st): (*const f32, usize),
    b: *const f32,
    (i0, mr): (usize, usize),
    (j0, nr): (usize, usize),
    st: Strip,
) {
    let mut acc = [0f32; MR * NR];
    if !st.first || t.accumulate {
        for r in 0..mr {
            let c =
                t.c.wrapping_offset(((i0 + r) as isize).wrapping_mul(t.c_rs));
            for j in 0..nr {
                acc[r * NR + j] = *c.wrapping_add(j0 + j);
            }
        }
    }
    kernel::<R>(st.kc, a, a_st, b, acc.as_mut_ptr());
    for r in 0..mr {
        let c =
            t.c.wrapping_offset(((i0 + r) as isize).wrapping_mul(t.c_rs));
        for j in 0..nr {
            let v = acc[r * NR + j];
            *c.wrapping_add(j0 + j) = if st.last {
                t.finish(i0 + r, j0 + j, v)
            } else {
                v
            };
        }
    }
}

/// `acc = fma(a[l], b, acc)` lane by lane (one rounding: `fmla` by element).
#[inline(always)]
unsafe fn fma_lane(acc: float32x4_t, b: float32x4_t, a: float32x4_t, l: usize) -> float32x4_t {
    match l {
        0 => vfmaq_laneq_f32::<0>(acc, b, a),
        1 => vfmaq_laneq_f32::<1>(acc, b, a),
        2 => vfmaq_laneq_f32::<2>(acc, b, a),
        _ => vfmaq_laneq_f32::<3>(acc, b, a),
    }
}

/// The R x 8 micro-kernel (R = 12 or 4): `acc[r * 8 + j] = fma(A[r, p], B[p, j],
/// acc[r * 8 + j])` for `p` in order, A's k step `p` at `a + p * a_st` (R values), B's at
/// `b + p * 8`. Not inlined, so its accumulators (24 for R = 12) stay in registers across the
/// loop.
#[inline(never)]
#[target_feature(enable = "neon")]
unsafe fn kernel<const R: usize>(
    kc: usize,
    a: *const f32,
    a_st: usize,
    b: *const f32,
    acc: *mut f32,
) {
    let mut c = [[vdupq_n_f32(0.0); 2]; R];
    for (r, cr) in c.iter_mut().enumerate() {
        cr[0] = vld1q_f32(acc.add(r * NR));
        cr[1] = vld1q_f32(acc.add(r * NR + 4));
    }
    for p in 0..kc {
        let bp = b.add(p * NR);
        let (b0, b1) = (vld1q_f32(bp), vld1q_f32(bp.add(4)));
        let ap = a.add(p * a_st);
        let mut av = [vdupq_n_f32(0.0); MR / 4];
        for (q, v) in av.iter_mut().enumerate().take(R / 4) {
            *v = vld1q_f32(ap.add(4 * q));
        }
        for (r, cr) in c.iter_mut().enumerate() {
            cr[0] = fma_lane(cr[0], b0, av[r / 4], r % 4);
            cr[1] = fma_lane(cr[1], b1, av[r / 4], r % 4);
        }
    }
    for (r, cr) in c.iter().enumerate() {
        vst1q_f32(acc.add(r * NR), cr[0]);
        vst1q_f32(acc.add(r * NR + 4), cr[1]);
    }
}
