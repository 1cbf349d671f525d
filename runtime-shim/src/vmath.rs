//! `y[k] = tanhf(x[k])` and `y[k] = erff(x[k])` over a run of values with AVX-512F: the
//! loops the Cranelift backend hands to `kiln_shim_vtanhf_avx512` / `kiln_shim_verff_avx512`
//! instead of calling the scalar functions one value at a time (`backend::cranelift`, the
//! shim-loop pattern, and fused element-wise loops that contain the call).
//!
//! Bit for bit `crate::tanhf` and `crate::erff` on every lane: the f64 algorithms of
//! `math32::tanhf` and `erf::erf` with the same operations in the same order, sixteen lanes
//! per step, every branch computed and the scalar code's branches taken as lane selects
//! (a lane's result only ever comes from the operations its scalar call would run). No FMA
//! (Dekker products as in `fp::two_prod`); `erf`'s per-interval coefficients come from a
//! coefficient-major copy of the table through a two-register permute. The error bounds are
//! the scalar functions' (`erf` within 1 ulp in f64; `tanhf` within 2^-49 relative before
//! its one rounding to f32; tests/accuracy.rs), and `tests/vexp.rs` checks equality with
//! the scalar code on millions of inputs.

/// The plain loop (every target): `y[k] = tanhf(x[k])` for `k < n`.
///
/// # Safety
/// `x` and `y` hold `n` values (they may be the same buffer).
pub unsafe fn tanhf_portable(x: *const f32, y: *mut f32, n: usize) {
    for k in 0..n {
        *y.add(k) = crate::tanhf(*x.add(k));
    }
}

/// The plain loop (every target): `y[k] = erff(x[k])` for `k < n`.
///
/// # Safety
/// `x` and `y` hold `n` values (they may be the same buffer).
pub unsafe fn erff_portable(x: *const f32, y: *mut f32, n: usize) {
    for k in 0..n {
        *y.add(k) = crate::erff(*x.add(k));
    }
}

#[cfg(target_arch = "x86_64")]
pub use avx512::erff as erff_avx512;
#[cfg(target_arch = "x86_64")]
pub use avx512::tanhf as tanhf_avx512;

/// `ERF_MID` coefficient-major, each row padded to 16 intervals (the vector code looks up
/// row `j` at the lanes' interval numbers); row 16 is `ERF_MID_LO`.
#[cfg(target_arch = "x86_64")]
static ERF_BY_COEF: [[f64; 16]; 17] = {
    use crate::coeffs::{ERF_MID, ERF_MID_LO};
    let mut t = [[0.0; 16]; 17];
    let mut i = 0;
    while i < ERF_MID.len() {
        let mut j = 0;
        while j < 16 {
            t[j][i] = ERF_MID[i][j];
            j += 1;
        }
        t[16][i] = ERF_MID_LO[i];
        i += 1;
    }
    t
};

#[cfg(target_arch = "x86_64")]
mod avx512 {
    //! Two independent groups of eight f64 lanes per step: each function's dependency chain
    //! (two polynomials of degree 12 by Horner, the double-double steps) is long, and with
    //! one group the core waits on latency; two interleaved groups halve the time.
    use super::ERF_BY_COEF;
    use crate::coeffs::{ERF_SMALL, INV_LN2, LN2_HI, LN2_LO, TANH_P};
    use core::arch::x86_64::*;

    /// Two groups of eight f64 lanes.
    type D = [__m512d; 2];
    /// Their lane masks.
    type M = [__mmask8; 2];
    /// Two groups of eight f32 lanes.
    type F = [__m256; 2];

    // Two-group forms of the scalar helpers of `fp.rs` (same operations, same order).

    #[inline]
    #[target_feature(enable = "avx512f")]
    fn set(v: f64) -> D {
        [_mm512_set1_pd(v); 2]
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn add(a: D, b: D) -> D {
        [_mm512_add_pd(a[0], b[0]), _mm512_add_pd(a[1], b[1])]
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn sub(a: D, b: D) -> D {
        [_mm512_sub_pd(a[0], b[0]), _mm512_sub_pd(a[1], b[1])]
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn mul(a: D, b: D) -> D {
        [_mm512_mul_pd(a[0], b[0]), _mm512_mul_pd(a[1], b[1])]
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn div(a: D, b: D) -> D {
        [_mm512_div_pd(a[0], b[0]), _mm512_div_pd(a[1], b[1])]
    }
    /// The sign bit of every lane and-ed with `and`, then or-ed with `or` (as bits).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn bits(a: D, and: i64, or: D) -> D {
        let m = _mm512_set1_epi64(and);
        let f = |a: __m512d, o: __m512d| {
            _mm512_castsi512_pd(_mm512_or_si512(
                _mm512_and_si512(_mm512_castpd_si512(a), m),
                _mm512_castpd_si512(o),
            ))
        };
        [f(a[0], or[0]), f(a[1], or[1])]
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn abs(x: D) -> D {
        bits(x, i64::MAX, set(0.0))
    }
    /// `r.copysign(x)` for r >= 0.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn with_sign_of(r: D, x: D) -> D {
        bits(x, i64::MIN, r)
    }
    /// Lanes where `a < b` (ordered).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn lt(a: D, b: D) -> M {
        [
            _mm512_cmp_pd_mask::<_CMP_LT_OQ>(a[0], b[0]),
            _mm512_cmp_pd_mask::<_CMP_LT_OQ>(a[1], b[1]),
        ]
    }
    /// Lanes where `a <= b` (ordered).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn le(a: D, b: D) -> M {
        [
            _mm512_cmp_pd_mask::<_CMP_LE_OQ>(a[0], b[0]),
            _mm512_cmp_pd_mask::<_CMP_LE_OQ>(a[1], b[1]),
        ]
    }
    /// `m ? t : f` per lane.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn pick(m: M, t: D, f: D) -> D {
        [
            _mm512_mask_blend_pd(m[0], f[0], t[0]),
            _mm512_mask_blend_pd(m[1], f[1], t[1]),
        ]
    }
    /// `fp::two_sum`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn two_sum(a: D, b: D) -> (D, D) {
        let s = add(a, b);
        let bb = sub(s, a);
        (s, add(sub(a, sub(s, bb)), sub(b, bb)))
    }
    /// `fp::split`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn split(a: D) -> (D, D) {
        let c = mul(set(134_217_729.0), a);
        let hi = sub(c, sub(c, a));
        (hi, sub(a, hi))
    }
    /// `fp::two_prod` (Dekker, no FMA).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn two_prod(a: D, b: D) -> (D, D) {
        let p = mul(a, b);
        let (ah, al) = split(a);
        let (bh, bl) = split(b);
        let e = add(
            add(add(sub(mul(ah, bh), p), mul(ah, bl)), mul(al, bh)),
            mul(al, bl),
        );
        (p, e)
    }
    /// `fp::poly` (Horner, a multiply and an add per step).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn poly(x: D, c: &[f64]) -> D {
        let mut it = c.iter().rev();
        let mut acc = match it.next() {
            Some(v) => set(*v),
            None => return set(0.0),
        };
        for v in it {
            acc = add(mul(acc, x), set(*v));
        }
        acc
    }
    /// Lanes as i32: `(x - 0.5)` or `(x + 0.5)` truncated for `round_i32` (`fp::round_i32`,
    /// |x| < 2^31), or `x` truncated.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn trunc_i32(x: D) -> [__m256i; 2] {
        [_mm512_cvttpd_epi32(x[0]), _mm512_cvttpd_epi32(x[1])]
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn round_i32(x: D) -> [__m256i; 2] {
        let half = pick(lt(x, set(0.0)), set(-0.5), set(0.5));
        trunc_i32(add(x, half))
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn to_f64(k: [__m256i; 2]) -> D {
        [_mm512_cvtepi32_pd(k[0]), _mm512_cvtepi32_pd(k[1])]
    }
    /// 2^k for -1022 <= k <= 1023 (`fp::pow2` without its clamp: lanes outside are discarded).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn pow2(k: [__m256i; 2]) -> D {
        let f = |k: __m256i| {
            _mm512_castsi512_pd(_mm512_slli_epi64::<52>(_mm512_add_epi64(
                _mm512_cvtepi32_epi64(k),
                _mm512_set1_epi64(1023),
            )))
        };
        [f(k[0]), f(k[1])]
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn widen(x: F) -> D {
        [_mm512_cvtps_pd(x[0]), _mm512_cvtps_pd(x[1])]
    }
    /// The lanes rounded to f32 (to nearest, as `as f32`); NaN lanes `x + x` (`nan_of`).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn narrow(r: D, xd: D) -> F {
        let f = |r: __m512d, x: __m512d| {
            let nan = _mm512_cmp_pd_mask::<_CMP_UNORD_Q>(x, x);
            _mm512_cvtpd_ps(_mm512_mask_blend_pd(nan, r, _mm512_add_pd(x, x)))
        };
        [f(r[0], xd[0]), f(r[1], xd[1])]
    }

    /// `math32::exp2a`: e^(2a) for lanes with 0.625 < a < 22.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn exp2a(a: D) -> D {
        let h = add(a, a);
        let k = round_i32(mul(h, set(INV_LN2)));
        let kd = to_f64(k);
        let r = sub(sub(h, mul(kd, set(LN2_HI))), mul(kd, set(LN2_LO)));
        let r2 = mul(r, r);
        let r4 = mul(r2, r2);
        let r8 = mul(r4, r4);
        let pair = |c0: f64, c1: f64| add(set(c0), mul(r, set(c1)));
        let p01 = add(set(1.0), r);
        let p23 = pair(0.5, 1.0 / 6.0);
        let p45 = pair(1.0 / 24.0, 1.0 / 120.0);
        let p67 = pair(1.0 / 720.0, 1.0 / 5040.0);
        let p89 = pair(1.0 / 40320.0, 1.0 / 362880.0);
        let p1011 = pair(1.0 / 3628800.0, 1.0 / 39916800.0);
        let p12 = set(1.0 / 479001600.0);
        let lo = add(add(p01, mul(r2, p23)), mul(r4, add(p45, mul(r2, p67))));
        let hi = add(add(p89, mul(r2, p1011)), mul(r4, p12));
        mul(add(lo, mul(r8, hi)), pow2(k))
    }

    /// `math32::tanhf` on sixteen lanes (the f32 inputs widened to f64).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn tanh16(x: F) -> F {
        let xd = widen(x);
        let a = abs(xd);
        // |x| <= 0.625: a + a z P(z), z = a^2
        let z = mul(a, a);
        let small = add(a, mul(mul(a, z), poly(z, &TANH_P)));
        // |x| < 22: 1 - 2 / (e^2a + 1)
        let mid = sub(set(1.0), div(set(2.0), add(exp2a(a), set(1.0))));
        let r = pick(lt(a, set(22.0)), mid, set(1.0));
        narrow(with_sign_of(pick(le(a, set(0.625)), small, r), xd), xd)
    }

    /// `erf::erf` on sixteen f64 lanes (the f32 inputs widened), rounded to f32.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn erf16(x: F) -> F {
        let xd = widen(x);
        let a = abs(xd);
        // |x| <= 1/2: x + x Q(x^2)
        let small = add(xd, mul(xd, poly(mul(xd, xd), &ERF_SMALL)));
        // 1/2 < |x| < 6: interval i = trunc((a - 1/2) 2), t = a - (3/4 + i/2)
        let i = trunc_i32(mul(sub(a, set(0.5)), set(2.0)));
        let t = sub(a, add(set(0.75), mul(set(0.5), to_f64(i))));
        // lanes outside 0..=10 read padding (only the index's low four bits are used)
        let idx = [_mm512_cvtepi32_epi64(i[0]), _mm512_cvtepi32_epi64(i[1])];
        let coef = |j: usize| -> D {
            let row = &ERF_BY_COEF[j];
            // SAFETY: each row holds 16 values; the loads read [0, 8) and [8, 16).
            let (lo, hi) = unsafe {
                (
                    _mm512_loadu_pd(row.as_ptr()),
                    _mm512_loadu_pd(row.as_ptr().add(8)),
                )
            };
            [
                _mm512_permutex2var_pd(lo, idx[0], hi),
                _mm512_permutex2var_pd(lo, idx[1], hi),
            ]
        };
        // Horner over coefficients 15 down to 2 (the `rest` of the scalar code)
        let mut acc = coef(15);
        for j in (2..15).rev() {
            acc = add(mul(acc, t), coef(j));
        }
        let (p, pe) = two_prod(coef(1), t);
        let (s, se) = two_sum(coef(0), p);
        let mid = add(s, add(se, add(pe, add(coef(16), mul(mul(t, t), acc)))));
        let r = with_sign_of(pick(lt(a, set(6.0)), mid, set(1.0)), xd);
        narrow(pick(le(a, set(0.5)), small, r), xd)
    }

    /// `y[k] = f(x[k])` for `k < n`, sixteen at a time (the last group through a
    /// zero-padded copy, only its first `n % 16` results stored).
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn map16(x: *const f32, y: *mut f32, n: usize, f: impl Fn(F) -> F) {
        let mut k = 0;
        while k + 16 <= n {
            let r = f([_mm256_loadu_ps(x.add(k)), _mm256_loadu_ps(x.add(k + 8))]);
            _mm256_storeu_ps(y.add(k), r[0]);
            _mm256_storeu_ps(y.add(k + 8), r[1]);
            k += 16;
        }
        if k < n {
            let mut tmp = [0f32; 16];
            for (i, t) in tmp.iter_mut().enumerate().take(n - k) {
                *t = *x.add(k + i);
            }
            let r = f([
                _mm256_loadu_ps(tmp.as_ptr()),
                _mm256_loadu_ps(tmp.as_ptr().add(8)),
            ]);
            let mut out = [0f32; 16];
            _mm256_storeu_ps(out.as_mut_ptr(), r[0]);
            _mm256_storeu_ps(out.as_mut_ptr().add(8), r[1]);
            for (i, o) in out.iter().enumerate().take(n - k) {
                *y.add(k + i) = *o;
            }
        }
    }

    /// `y[k] = tanhf(x[k])` for `k < n`, sixteen at a time.
    ///
    /// # Safety
    /// As `tanhf_portable`; the CPU has AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn tanhf(x: *const f32, y: *mut f32, n: usize) {
        map16(x, y, n, |v| tanh16(v));
    }

    /// `y[k] = erff(x[k])` for `k < n`, sixteen at a time.
    ///
    /// # Safety
    /// As `erff_portable`; the CPU has AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn erff(x: *const f32, y: *mut f32, n: usize) {
        map16(x, y, n, |v| erf16(v));
    }
}
