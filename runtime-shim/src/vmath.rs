//! `y[k] = tanhf(x[k])` and `y[k] = erff(x[k])` over a run of values with AVX-512F: the
//! loops the Cranelift backend hands to `kiln_shim_vtanhf_avx512` / `kiln_shim_verff_avx512`
//! instead of calling the scalar functions one value at a time (`backend::cranelift`, the
//! shim-loop pattern, and fused element-wise loops that contain the call).
//!
//! Bit for bit `crate::tanhf` and `crate::erff` on every lane: the f64 algorithms of
//! `hyperbolic::tanh` and `erf::erf` with the same operations in the same order, eight lanes
//! per vector, every branch computed and the scalar code's branches taken as lane selects
//! (a lane's result only ever comes from the operations its scalar call would run). No FMA
//! (Dekker products as in `fp::two_prod`); `erf`'s per-interval coefficients come from a
//! coefficient-major copy of the table through a two-register permute. The error bounds are
//! the scalar functions' (within 1 ulp in f64, then one rounding to f32; tests/accuracy.rs),
//! and `tests/vmath.rs` checks equality with the scalar code on millions of inputs.

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
    use super::ERF_BY_COEF;
    use crate::coeffs::{ERF_SMALL, INV_LN2, LN2_HI, LN2_LO, TANH_P};
    use crate::vexp::avx512::map8;
    use core::arch::x86_64::*;

    type D = __m512d;

    // Eight-lane forms of the scalar helpers of `fp.rs` (same operations, same order).

    #[inline]
    #[target_feature(enable = "avx512f")]
    fn set(v: f64) -> D {
        _mm512_set1_pd(v)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn add(a: D, b: D) -> D {
        _mm512_add_pd(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn sub(a: D, b: D) -> D {
        _mm512_sub_pd(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn mul(a: D, b: D) -> D {
        _mm512_mul_pd(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn div(a: D, b: D) -> D {
        _mm512_div_pd(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn neg(a: D) -> D {
        _mm512_castsi512_pd(_mm512_xor_si512(
            _mm512_castpd_si512(a),
            _mm512_set1_epi64(i64::MIN),
        ))
    }
    /// `fp::two_sum`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn two_sum(a: D, b: D) -> (D, D) {
        let s = add(a, b);
        let bb = sub(s, a);
        (s, add(sub(a, sub(s, bb)), sub(b, bb)))
    }
    /// `fp::fast_two_sum`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn fast_two_sum(a: D, b: D) -> (D, D) {
        let s = add(a, b);
        (s, sub(b, sub(s, a)))
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
    /// `fp::dd_add`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn dd_add(ah: D, al: D, bh: D, bl: D) -> (D, D) {
        let (s, e) = two_sum(ah, bh);
        let (t, f) = two_sum(al, bl);
        let (s, e) = fast_two_sum(s, add(e, t));
        fast_two_sum(s, add(e, f))
    }
    /// `fp::dd_div`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn dd_div(ah: D, al: D, bh: D, bl: D) -> (D, D) {
        let q = div(ah, bh);
        let (p, e) = two_prod(q, bh);
        let r = sub(add(sub(sub(ah, p), e), al), mul(q, bl));
        fast_two_sum(q, div(r, bh))
    }
    /// `fp::poly` (Horner, a multiply and an add per step).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn poly(x: D, c: &[f64]) -> D {
        let mut it = c.iter().rev();
        let mut acc = match it.next() {
            Some(v) => set(*v),
            None => return _mm512_setzero_pd(),
        };
        for v in it {
            acc = add(mul(acc, x), set(*v));
        }
        acc
    }
    /// `fp::round_i32` for |x| < 2^31: (x - 0.5) or (x + 0.5) truncated.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn round_i32(x: D) -> __m256i {
        let neg = _mm512_cmp_pd_mask::<_CMP_LT_OQ>(x, _mm512_setzero_pd());
        let half = _mm512_mask_blend_pd(neg, set(0.5), set(-0.5));
        _mm512_cvttpd_epi32(add(x, half))
    }
    /// 2^k for -1022 <= k <= 1023 (`fp::pow2` without its clamp: lanes outside are discarded).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn pow2(k: __m256i) -> D {
        _mm512_castsi512_pd(_mm512_slli_epi64::<52>(_mm512_add_epi64(
            _mm512_cvtepi32_epi64(k),
            _mm512_set1_epi64(1023),
        )))
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn abs(x: D) -> D {
        _mm512_castsi512_pd(_mm512_and_si512(
            _mm512_castpd_si512(x),
            _mm512_set1_epi64(i64::MAX),
        ))
    }
    /// `r.copysign(x)` for r >= 0.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn with_sign_of(r: D, x: D) -> D {
        _mm512_castsi512_pd(_mm512_or_si512(
            _mm512_castpd_si512(r),
            _mm512_and_si512(_mm512_castpd_si512(x), _mm512_set1_epi64(i64::MIN)),
        ))
    }

    /// `exp_log::exp_kernel(hi, 0.0)` scaled as `hyperbolic::exp_dd`: e^hi as a
    /// double-double, for lanes with |hi| < 45.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn exp_dd(hi: D) -> (D, D) {
        let k = round_i32(mul(hi, set(INV_LN2)));
        let kd = _mm512_cvtepi32_pd(k);
        let rh = sub(hi, mul(kd, set(LN2_HI)));
        let (r, c) = two_sum(rh, sub(_mm512_setzero_pd(), mul(kd, set(LN2_LO))));
        let q = add(
            mul(mul(r, r), poly(r, &crate::exp_log::EXP_P)),
            mul(c, add(set(1.0), r)),
        );
        let (s, se) = two_sum(r, q);
        let (yh, ye) = fast_two_sum(set(1.0), s);
        let yl = add(ye, se);
        let s = pow2(k);
        (mul(yh, s), mul(yl, s))
    }

    /// `hyperbolic::tanh` on eight f64 lanes (the f32 inputs widened), rounded to f32.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn tanh8(x: __m256) -> __m256 {
        let xd = _mm512_cvtps_pd(x);
        let a = abs(xd);
        // |x| <= 0.625: a + a z P(z), z = a^2
        let z = mul(a, a);
        let small = add(a, mul(mul(a, z), poly(z, &TANH_P)));
        // |x| < 22: 1 - 2 / (e^2a + 1) in double-double
        let (eh, el) = exp_dd(add(a, a));
        let zero = _mm512_setzero_pd();
        let (ph, pl) = dd_add(eh, el, set(1.0), zero);
        let (qh, ql) = dd_div(set(2.0), zero, ph, pl);
        let (rh, rl) = dd_add(set(1.0), zero, neg(qh), neg(ql));
        let mid = add(rh, rl);
        let is_small = _mm512_cmp_pd_mask::<_CMP_LE_OQ>(a, set(0.625));
        let is_mid = _mm512_cmp_pd_mask::<_CMP_LT_OQ>(a, set(22.0));
        let r = _mm512_mask_blend_pd(is_mid, set(1.0), mid);
        let r = with_sign_of(_mm512_mask_blend_pd(is_small, r, small), xd);
        // |x| < 2^-27: x itself; NaN: x + x
        let tiny = _mm512_cmp_pd_mask::<_CMP_LT_OQ>(a, set(7.450580596923828e-9));
        let r = _mm512_mask_blend_pd(tiny, r, xd);
        let nan = _mm512_cmp_pd_mask::<_CMP_UNORD_Q>(xd, xd);
        _mm512_cvtpd_ps(_mm512_mask_blend_pd(nan, r, add(xd, xd)))
    }

    /// `erf::erf` on eight f64 lanes (the f32 inputs widened), rounded to f32.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn erf8(x: __m256) -> __m256 {
        let xd = _mm512_cvtps_pd(x);
        let a = abs(xd);
        // |x| <= 1/2: x + x Q(x^2)
        let small = add(xd, mul(xd, poly(mul(xd, xd), &ERF_SMALL)));
        // 1/2 < |x| < 6: interval i = trunc((a - 1/2) 2), t = a - (3/4 + i/2)
        let i32s = _mm512_cvttpd_epi32(mul(sub(a, set(0.5)), set(2.0)));
        let t = sub(a, add(set(0.75), mul(set(0.5), _mm512_cvtepi32_pd(i32s))));
        // lanes outside 0..=10 read padding (only the index's low four bits are used)
        let idx = _mm512_cvtepi32_epi64(i32s);
        let coef = |j: usize| {
            let row = &ERF_BY_COEF[j];
            // SAFETY: each row holds 16 values; the loads read [0, 8) and [8, 16).
            let (lo, hi) = unsafe {
                (
                    _mm512_loadu_pd(row.as_ptr()),
                    _mm512_loadu_pd(row.as_ptr().add(8)),
                )
            };
            _mm512_permutex2var_pd(lo, idx, hi)
        };
        // Horner over coefficients 15 down to 2 (the `rest` of the scalar code)
        let mut acc = coef(15);
        for j in (2..15).rev() {
            acc = add(mul(acc, t), coef(j));
        }
        let (p, pe) = two_prod(coef(1), t);
        let (s, se) = two_sum(coef(0), p);
        let mid = add(s, add(se, add(pe, add(coef(16), mul(mul(t, t), acc)))));
        let is_mid = _mm512_cmp_pd_mask::<_CMP_LT_OQ>(a, set(6.0));
        let r = with_sign_of(_mm512_mask_blend_pd(is_mid, set(1.0), mid), xd);
        let is_small = _mm512_cmp_pd_mask::<_CMP_LE_OQ>(a, set(0.5));
        let r = _mm512_mask_blend_pd(is_small, r, small);
        let nan = _mm512_cmp_pd_mask::<_CMP_UNORD_Q>(xd, xd);
        _mm512_cvtpd_ps(_mm512_mask_blend_pd(nan, r, add(xd, xd)))
    }

    /// `y[k] = tanhf(x[k])` for `k < n`, eight at a time.
    ///
    /// # Safety
    /// As `tanhf_portable`; the CPU has AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn tanhf(x: *const f32, y: *mut f32, n: usize) {
        map8(x, y, n, |v| tanh8(v));
    }

    /// `y[k] = erff(x[k])` for `k < n`, eight at a time.
    ///
    /// # Safety
    /// As `erff_portable`; the CPU has AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn erff(x: *const f32, y: *mut f32, n: usize) {
        map8(x, y, n, |v| erf8(v));
    }
}
