//! `y[k] = expf(x[k] - m)` over a run of values with AVX-512F: Softmax's exps, which the
//! Cranelift backend hands to `kiln_shim_vexpf_sub_avx512` instead of running them one
//! scalar call at a time (`backend::cranelift`, the exp-loop pattern); and Sigmoid's
//! `y[k] = 1 / (1 + expf(-x[k]))` the same way (`kiln_shim_vsigmoidf_avx512`).
//!
//! Bit for bit `crate::expf` on every lane: the same f64 operations in the same order
//! (`math32::expf`), eight lanes per vector, with the scalar code's branches as lane
//! selects. No FMA is used (each multiply and add rounds, as in the scalar code), the
//! subtraction `x - m` rounds in f32 first (kir's `Sub`), and the f64 -> f32 conversion
//! rounds to nearest like `as f32`. `tests/vexp.rs` compares the two on millions of inputs.

/// The plain loop (every target): `y[k] = expf(x[k] - m)` for `k < n`.
///
/// # Safety
/// `x` and `y` hold `n` values (they may be the same buffer).
pub unsafe fn expf_sub_portable(x: *const f32, y: *mut f32, n: usize, m: f32) {
    for k in 0..n {
        *y.add(k) = crate::expf(*x.add(k) - m);
    }
}

/// The plain loop (every target): `y[k] = 1 / (1 + expf(-x[k]))` for `k < n` (kir's
/// Sigmoid: f32 negation, `expf`, f32 addition and division).
///
/// # Safety
/// `x` and `y` hold `n` values (they may be the same buffer).
pub unsafe fn sigmoidf_portable(x: *const f32, y: *mut f32, n: usize) {
    for k in 0..n {
        *y.add(k) = 1.0 / (1.0 + crate::expf(-*x.add(k)));
    }
}

#[cfg(target_arch = "x86_64")]
pub use avx512::expf_sub as expf_sub_avx512;
#[cfg(target_arch = "x86_64")]
pub use avx512::sigmoidf as sigmoidf_avx512;

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512 {
    use crate::coeffs::{INV_LN2, LN2_HI, LN2_LO};
    use core::arch::x86_64::*;

    /// `math32::expf` on eight f64 lanes (the f32 inputs widened); returns the eight f32
    /// results.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn exp8(x: __m256) -> __m256 {
        let xd = _mm512_cvtps_pd(x);
        let set = |v: f64| _mm512_set1_pd(v);
        // k = round_i32(xd * INV_LN2): (t - 0.5) or (t + 0.5) truncated.
        let t = _mm512_mul_pd(xd, set(INV_LN2));
        let neg = _mm512_cmp_pd_mask::<_CMP_LT_OQ>(t, _mm512_setzero_pd());
        let half = _mm512_mask_blend_pd(neg, set(0.5), set(-0.5));
        let k = _mm512_cvttpd_epi32(_mm512_add_pd(t, half));
        let kd = _mm512_cvtepi32_pd(k);
        let r = _mm512_sub_pd(
            _mm512_sub_pd(xd, _mm512_mul_pd(kd, set(LN2_HI))),
            _mm512_mul_pd(kd, set(LN2_LO)),
        );
        let r2 = _mm512_mul_pd(r, r);
        let r4 = _mm512_mul_pd(r2, r2);
        let pair = |c0: f64, c1: f64| _mm512_add_pd(set(c0), _mm512_mul_pd(r, set(c1)));
        let p01 = _mm512_add_pd(set(1.0), r);
        let p23 = pair(0.5, 1.0 / 6.0);
        let p45 = pair(1.0 / 24.0, 1.0 / 120.0);
        let p67 = pair(1.0 / 720.0, 1.0 / 5040.0);
        let p89 = pair(1.0 / 40320.0, 1.0 / 362880.0);
        let p10 = set(1.0 / 3628800.0);
        // q = (p01 + r2 * p23) + r4 * ((p45 + r2 * p67) + r4 * (p89 + r2 * p10))
        let a = _mm512_add_pd(p01, _mm512_mul_pd(r2, p23));
        let c = _mm512_add_pd(p45, _mm512_mul_pd(r2, p67));
        let d = _mm512_add_pd(p89, _mm512_mul_pd(r2, p10));
        let c = _mm512_add_pd(c, _mm512_mul_pd(r4, d));
        let q = _mm512_add_pd(a, _mm512_mul_pd(r4, c));
        // scale(q, k) = q * 2^k for the k of the lanes kept (-151 <= k <= 129).
        let e = _mm512_slli_epi64::<52>(_mm512_add_epi64(
            _mm512_cvtepi32_epi64(k),
            _mm512_set1_epi64(1023),
        ));
        let y = _mm256_castps_si256(_mm512_cvtpd_ps(_mm512_mul_pd(q, _mm512_castsi512_pd(e))));
        let y = _mm256_castsi256_ps(y);
        // x < -104: +0; x > 89: +inf; NaN: x + x.
        let xs = x;
        let under = _mm256_cmp_ps::<_CMP_LT_OQ>(xs, _mm256_set1_ps(-104.0));
        let over = _mm256_cmp_ps::<_CMP_GT_OQ>(xs, _mm256_set1_ps(89.0));
        let nan = _mm256_cmp_ps::<_CMP_UNORD_Q>(xs, xs);
        let y = _mm256_blendv_ps(y, _mm256_setzero_ps(), under);
        let y = _mm256_blendv_ps(y, _mm256_set1_ps(f32::INFINITY), over);
        _mm256_blendv_ps(y, _mm256_add_ps(xs, xs), nan)
    }

    /// `y[k] = f(x[k])` for `k < n`, eight at a time (the last group through a zero-padded
    /// copy, only its first `n % 8` results stored).
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(crate) unsafe fn map8(x: *const f32, y: *mut f32, n: usize, f: impl Fn(__m256) -> __m256) {
        let mut k = 0;
        while k + 8 <= n {
            _mm256_storeu_ps(y.add(k), f(_mm256_loadu_ps(x.add(k))));
            k += 8;
        }
        if k < n {
            let mut tmp = [0f32; 8];
            for (i, t) in tmp.iter_mut().enumerate().take(n - k) {
                *t = *x.add(k + i);
            }
            let mut out = [0f32; 8];
            _mm256_storeu_ps(out.as_mut_ptr(), f(_mm256_loadu_ps(tmp.as_ptr())));
            for (i, o) in out.iter().enumerate().take(n - k) {
                *y.add(k + i) = *o;
            }
        }
    }

    /// `y[k] = 1 / (1 + expf(-x[k]))` for `k < n`, eight at a time: the negation flips the
    /// sign bit (as `-x` does), then `exp8` and one f32 addition and division per lane, the
    /// scalar code's operations.
    ///
    /// # Safety
    /// As `sigmoidf_portable`; the CPU has AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn sigmoidf(x: *const f32, y: *mut f32, n: usize) {
        let one = _mm256_set1_ps(1.0);
        let sign = _mm256_set1_ps(-0.0);
        map8(x, y, n, |v| {
            let e = exp8(_mm256_xor_ps(v, sign));
            _mm256_div_ps(one, _mm256_add_ps(one, e))
        });
    }

    /// `y[k] = expf(x[k] - m)` for `k < n`, eight at a time (the f32 subtraction in the
    /// vector, as the scalar code rounds it).
    ///
    /// # Safety
    /// As `expf_sub_portable`; the CPU has AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn expf_sub(x: *const f32, y: *mut f32, n: usize, m: f32) {
        let mv = _mm256_set1_ps(m);
        map8(x, y, n, |v| exp8(_mm256_sub_ps(v, mv)));
    }
}
