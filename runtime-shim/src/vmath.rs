//! The shim's vector functions: `y[k] = f(x[k])` over a run of f32 values for Softmax's
//! `expf(x - m)`, Sigmoid's `1 / (1 + expf(-x))`, `tanhf` and `erff`. The Cranelift backend
//! calls them (`kiln_shim_v*_avx512` on targets with AVX-512F, `kiln_shim_v*_avx2` on
//! targets with AVX2 and FMA, `kiln_shim_v*_neon` on aarch64) instead of one scalar call
//! per value: for loops of one such call (`backend::cranelift`, the shim-loop pattern) and,
//! in strips, for fused element-wise loops that contain one.
//!
//! Bit for bit the scalar functions on every lane: the f64 algorithms of `math32::expf`,
//! `math32::tanhf` and `erf::erf` with the same operations in the same order, every branch
//! computed and the scalar code's branches taken as lane selects (a lane's result only ever
//! comes from the operations its scalar call would run). No FMA (Dekker products as in
//! `fp::two_prod`); `erf`'s per-interval coefficients come from a coefficient-major copy of
//! its table (a two-register permute with AVX-512, a gather with AVX2, lane loads with
//! NEON). Each step works on independent groups of f64 lanes (two groups of four with AVX2,
//! of eight with AVX-512, four groups of two with NEON: eight or sixteen f32 values):
//! the dependency chains are long, and the groups let the core overlap them. The algorithms
//! are written once (`algorithms!`) over each ISA's primitives (`set`, `add`, `pick`, ...).
//! The error bounds are the scalar functions' (`expf` within 2^-41 and `tanhf` within 2^-49
//! relative before their one rounding to f32, `erf` within 1 f64 ulp; tests/accuracy.rs),
//! and `tests/vmath.rs` checks equality with the scalar code on millions of inputs.

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

/// The plain loops under the ISA modules' names, for the targets without the ISA.
pub mod portable {
    pub use super::{
        erff_portable as erff, expf_sub_portable as expf_sub, sigmoidf_portable as sigmoidf,
        tanhf_portable as tanhf,
    };
}
#[cfg(not(target_arch = "x86_64"))]
pub use portable as avx512;
#[cfg(not(target_arch = "x86_64"))]
pub use portable as avx2;
#[cfg(not(all(target_arch = "aarch64", target_feature = "neon")))]
pub use portable as neon;

/// `ERF_MID` coefficient-major, each row padded to 16 intervals (the vector code looks up
/// row `j` at the lanes' interval numbers, modulo 16); row 16 is `ERF_MID_LO`.
#[cfg(any(
    target_arch = "x86_64",
    all(target_arch = "aarch64", target_feature = "neon")
))]
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

/// The vector algorithms, for the primitives of the module that expands it (types `D`: two
/// groups of f64 lanes, `F`: the f32 lanes of the same count, `M`: lane masks, `I`: i32
/// lanes) and the target feature `$feat`.
#[cfg(any(
    target_arch = "x86_64",
    all(target_arch = "aarch64", target_feature = "neon")
))]
macro_rules! algorithms {
    ($feat:literal) => {
        #[inline]
        #[target_feature(enable = $feat)]
        fn abs(x: D) -> D {
            bits(x, i64::MAX, set(0.0))
        }
        /// `r.copysign(x)` for r >= 0.
        #[inline]
        #[target_feature(enable = $feat)]
        fn with_sign_of(r: D, x: D) -> D {
            bits(x, i64::MIN, r)
        }
        /// `fp::two_sum`.
        #[inline]
        #[target_feature(enable = $feat)]
        fn two_sum(a: D, b: D) -> (D, D) {
            let s = add(a, b);
            let bb = sub(s, a);
            (s, add(sub(a, sub(s, bb)), sub(b, bb)))
        }
        /// `fp::split`.
        #[inline]
        #[target_feature(enable = $feat)]
        fn split(a: D) -> (D, D) {
            let c = mul(set(134_217_729.0), a);
            let hi = sub(c, sub(c, a));
            (hi, sub(a, hi))
        }
        /// `fp::two_prod` (Dekker, no FMA).
        #[inline]
        #[target_feature(enable = $feat)]
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
        #[target_feature(enable = $feat)]
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
        /// `fp::round_i32` for |x| < 2^31: (x - 0.5) or (x + 0.5) truncated.
        #[inline]
        #[target_feature(enable = $feat)]
        fn round_i32(x: D) -> I {
            let half = pick(lt(x, set(0.0)), set(-0.5), set(0.5));
            trunc_i32(add(x, half))
        }
        /// The Taylor polynomial of e^r, `lo + r^8 hi` in Estrin form from degree 0 to
        /// `deg` (10 or 12), as `math32::expf` and `math32::exp2a` evaluate it.
        #[inline]
        #[target_feature(enable = $feat)]
        fn exp_taylor(r: D, deg12: bool) -> D {
            let r2 = mul(r, r);
            let r4 = mul(r2, r2);
            let pair = |c0: f64, c1: f64| add(set(c0), mul(r, set(c1)));
            let p01 = add(set(1.0), r);
            let p23 = pair(0.5, 1.0 / 6.0);
            let p45 = pair(1.0 / 24.0, 1.0 / 120.0);
            let p67 = pair(1.0 / 720.0, 1.0 / 5040.0);
            let p89 = pair(1.0 / 40320.0, 1.0 / 362880.0);
            if deg12 {
                let r8 = mul(r4, r4);
                let p1011 = pair(1.0 / 3628800.0, 1.0 / 39916800.0);
                let p12 = set(1.0 / 479001600.0);
                let lo = add(add(p01, mul(r2, p23)), mul(r4, add(p45, mul(r2, p67))));
                let hi = add(add(p89, mul(r2, p1011)), mul(r4, p12));
                add(lo, mul(r8, hi))
            } else {
                // (p01 + r2 p23) + r4 ((p45 + r2 p67) + r4 (p89 + r2 p10))
                let p10 = set(1.0 / 3628800.0);
                let a = add(p01, mul(r2, p23));
                let c = add(p45, mul(r2, p67));
                let d = add(p89, mul(r2, p10));
                add(a, mul(r4, add(c, mul(r4, d))))
            }
        }
        /// `h = k ln2 + r` (Cody-Waite as in `math32::expf`): (k, r).
        #[inline]
        #[target_feature(enable = $feat)]
        fn reduce(h: D) -> (I, D) {
            let k = round_i32(mul(h, set(INV_LN2)));
            let kd = to_f64(k);
            (k, sub(sub(h, mul(kd, set(LN2_HI))), mul(kd, set(LN2_LO))))
        }
        /// `math32::expf` on the lanes of `x`.
        #[inline]
        #[target_feature(enable = $feat)]
        fn exp_lanes(x: F) -> F {
            let xd = widen(x);
            let (k, r) = reduce(xd);
            // scale(q, k) = q * 2^k for the k of the lanes kept (-151 <= k <= 129)
            let y = mul(exp_taylor(r, false), pow2(k));
            // x < -104: +0; x > 89: +inf; NaN: x + x
            let y = pick(lt(xd, set(-104.0)), set(0.0), y);
            let y = pick(lt(set(89.0), xd), set(f64::INFINITY), y);
            narrow(y, xd)
        }
        /// `math32::tanhf` on the lanes of `x`.
        #[inline]
        #[target_feature(enable = $feat)]
        fn tanh_lanes(x: F) -> F {
            let xd = widen(x);
            let a = abs(xd);
            // |x| <= 0.625: a + a z P(z), z = a^2
            let z = mul(a, a);
            let small = add(a, mul(mul(a, z), poly(z, &TANH_P)));
            // |x| < 22: 1 - 2 / (e^2a + 1), e^2a by `math32::exp2a`
            let (k, r) = reduce(add(a, a));
            let e = mul(exp_taylor(r, true), pow2(k));
            let mid = sub(set(1.0), div(set(2.0), add(e, set(1.0))));
            let r = pick(lt(a, set(22.0)), mid, set(1.0));
            narrow(with_sign_of(pick(le(a, set(0.625)), small, r), xd), xd)
        }
        /// `erf::erf` on the lanes of `x`.
        #[inline]
        #[target_feature(enable = $feat)]
        fn erf_lanes(x: F) -> F {
            let xd = widen(x);
            let a = abs(xd);
            // |x| <= 1/2: x + x Q(x^2)
            let small = add(xd, mul(xd, poly(mul(xd, xd), &ERF_SMALL)));
            // 1/2 < |x| < 6: interval i = trunc((a - 1/2) 2), t = a - (3/4 + i/2); lanes
            // outside 0..=10 read padding or other rows (the index is taken modulo 16)
            let i = trunc_i32(mul(sub(a, set(0.5)), set(2.0)));
            let t = sub(a, add(set(0.75), mul(set(0.5), to_f64(i))));
            let coef = |j: usize| coef_at(&ERF_BY_COEF[j], i);
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

        /// `y[k] = f(x[k])` for `k < n`, `LANES` at a time (the last group through a
        /// zero-padded copy, only its first `n % LANES` results stored).
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn map(x: *const f32, y: *mut f32, n: usize, f: impl Fn(F) -> F) {
            let mut k = 0;
            while k + LANES <= n {
                store(y.add(k), f(load(x.add(k))));
                k += LANES;
            }
            if k < n {
                let mut tmp = [0f32; LANES];
                for (i, t) in tmp.iter_mut().enumerate().take(n - k) {
                    *t = *x.add(k + i);
                }
                let mut out = [0f32; LANES];
                store(out.as_mut_ptr(), f(load(tmp.as_ptr())));
                for (i, o) in out.iter().enumerate().take(n - k) {
                    *y.add(k + i) = *o;
                }
            }
        }

        /// `y[k] = expf(x[k] - m)` for `k < n` (the f32 subtraction first, as kir's `Sub`).
        ///
        /// # Safety
        /// As `expf_sub_portable`; the CPU has the module's features.
        #[target_feature(enable = $feat)]
        pub unsafe fn expf_sub(x: *const f32, y: *mut f32, n: usize, m: f32) {
            map(x, y, n, |v| exp_lanes(fsub(v, fsplat(m))));
        }
        /// `y[k] = 1 / (1 + expf(-x[k]))` for `k < n`: the negation flips the sign bit (as
        /// `-x` does), then one f32 addition and division per lane, the scalar operations.
        ///
        /// # Safety
        /// As `sigmoidf_portable`; the CPU has the module's features.
        #[target_feature(enable = $feat)]
        pub unsafe fn sigmoidf(x: *const f32, y: *mut f32, n: usize) {
            map(x, y, n, |v| {
                let e = exp_lanes(fneg(v));
                fdiv(fsplat(1.0), fadd(fsplat(1.0), e))
            });
        }
        /// `y[k] = tanhf(x[k])` for `k < n`.
        ///
        /// # Safety
        /// As `tanhf_portable`; the CPU has the module's features.
        #[target_feature(enable = $feat)]
        pub unsafe fn tanhf(x: *const f32, y: *mut f32, n: usize) {
            map(x, y, n, |v| tanh_lanes(v));
        }
        /// `y[k] = erff(x[k])` for `k < n`.
        ///
        /// # Safety
        /// As `erff_portable`; the CPU has the module's features.
        #[target_feature(enable = $feat)]
        pub unsafe fn erff(x: *const f32, y: *mut f32, n: usize) {
            map(x, y, n, |v| erf_lanes(v));
        }
    };
}

#[cfg(target_arch = "x86_64")]
pub mod avx512 {
    //! AVX-512F: two groups of eight f64 lanes, sixteen f32 values per step.
    use super::ERF_BY_COEF;
    use crate::coeffs::{ERF_SMALL, INV_LN2, LN2_HI, LN2_LO, TANH_P};
    use core::arch::x86_64::*;

    type D = [__m512d; 2];
    type M = [__mmask8; 2];
    type F = [__m256; 2];
    type I = [__m256i; 2];

    /// Applies an intrinsic to both groups.
    macro_rules! both {
        ($f:ident($($a:ident),*)) => {
            [$f($($a[0]),*), $f($($a[1]),*)]
        };
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    fn set(v: f64) -> D {
        [_mm512_set1_pd(v); 2]
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn add(a: D, b: D) -> D {
        both!(_mm512_add_pd(a, b))
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn sub(a: D, b: D) -> D {
        both!(_mm512_sub_pd(a, b))
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn mul(a: D, b: D) -> D {
        both!(_mm512_mul_pd(a, b))
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn div(a: D, b: D) -> D {
        both!(_mm512_div_pd(a, b))
    }
    /// `(a & and) | or` on the bits of each lane.
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
    /// Lanes where `a < b` (ordered).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn lt(a: D, b: D) -> M {
        let f = |a, b| _mm512_cmp_pd_mask::<_CMP_LT_OQ>(a, b);
        [f(a[0], b[0]), f(a[1], b[1])]
    }
    /// Lanes where `a <= b` (ordered).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn le(a: D, b: D) -> M {
        let f = |a, b| _mm512_cmp_pd_mask::<_CMP_LE_OQ>(a, b);
        [f(a[0], b[0]), f(a[1], b[1])]
    }
    /// `m ? t : f` per lane.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn pick(m: M, t: D, f: D) -> D {
        let g = |m, t, f| _mm512_mask_blend_pd(m, f, t);
        [g(m[0], t[0], f[0]), g(m[1], t[1], f[1])]
    }
    /// The lanes truncated to i32 (|x| < 2^31 where kept).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn trunc_i32(x: D) -> I {
        both!(_mm512_cvttpd_epi32(x))
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn to_f64(k: I) -> D {
        both!(_mm512_cvtepi32_pd(k))
    }
    /// 2^k for -1022 <= k <= 1023 (`fp::pow2` without its clamp: lanes outside are discarded).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn pow2(k: I) -> D {
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
        both!(_mm512_cvtps_pd(x))
    }
    /// The lanes rounded to f32 (to nearest, as `as f32`); NaN lanes of `xd` give `xd + xd`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn narrow(r: D, xd: D) -> F {
        let f = |r: __m512d, x: __m512d| {
            let nan = _mm512_cmp_pd_mask::<_CMP_UNORD_Q>(x, x);
            _mm512_cvtpd_ps(_mm512_mask_blend_pd(nan, r, _mm512_add_pd(x, x)))
        };
        [f(r[0], xd[0]), f(r[1], xd[1])]
    }
    /// `row[i & 15]` per lane (a two-register permute).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn coef_at(row: &[f64; 16], i: I) -> D {
        // SAFETY: `row` holds 16 values; the loads read [0, 8) and [8, 16).
        let (lo, hi) = unsafe {
            (
                _mm512_loadu_pd(row.as_ptr()),
                _mm512_loadu_pd(row.as_ptr().add(8)),
            )
        };
        let f = |i: __m256i| _mm512_permutex2var_pd(lo, _mm512_cvtepi32_epi64(i), hi);
        [f(i[0]), f(i[1])]
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn fsplat(v: f32) -> F {
        [_mm256_set1_ps(v); 2]
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn fadd(a: F, b: F) -> F {
        both!(_mm256_add_ps(a, b))
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn fsub(a: F, b: F) -> F {
        both!(_mm256_sub_ps(a, b))
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn fdiv(a: F, b: F) -> F {
        both!(_mm256_div_ps(a, b))
    }
    /// The sign bit flipped.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn fneg(a: F) -> F {
        let s = fsplat(-0.0);
        both!(_mm256_xor_ps(a, s))
    }

    /// f32 values per step.
    const LANES: usize = 16;
    /// `LANES` values from `p` (unaligned).
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn load(p: *const f32) -> F {
        [_mm256_loadu_ps(p), _mm256_loadu_ps(p.add(8))]
    }
    /// `LANES` values to `p` (unaligned).
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn store(p: *mut f32, v: F) {
        _mm256_storeu_ps(p, v[0]);
        _mm256_storeu_ps(p.add(8), v[1]);
    }

    algorithms!("avx512f");
}

#[cfg(target_arch = "x86_64")]
pub mod avx2 {
    //! AVX2: two groups of four f64 lanes, eight f32 values per step.
    use super::ERF_BY_COEF;
    use crate::coeffs::{ERF_SMALL, INV_LN2, LN2_HI, LN2_LO, TANH_P};
    use core::arch::x86_64::*;

    type D = [__m256d; 2];
    type M = [__m256d; 2];
    type F = [__m128; 2];
    type I = [__m128i; 2];

    /// Applies an intrinsic to both groups.
    macro_rules! both {
        ($f:ident($($a:ident),*)) => {
            [$f($($a[0]),*), $f($($a[1]),*)]
        };
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn set(v: f64) -> D {
        [_mm256_set1_pd(v); 2]
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    fn add(a: D, b: D) -> D {
        both!(_mm256_add_pd(a, b))
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    fn sub(a: D, b: D) -> D {
        both!(_mm256_sub_pd(a, b))
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    fn mul(a: D, b: D) -> D {
        both!(_mm256_mul_pd(a, b))
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    fn div(a: D, b: D) -> D {
        both!(_mm256_div_pd(a, b))
    }
    /// `(a & and) | or` on the bits of each lane.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn bits(a: D, and: i64, or: D) -> D {
        let m = _mm256_castsi256_pd(_mm256_set1_epi64x(and));
        let f = |a, o| _mm256_or_pd(_mm256_and_pd(a, m), o);
        [f(a[0], or[0]), f(a[1], or[1])]
    }
    /// Lanes where `a < b` (ordered).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn lt(a: D, b: D) -> M {
        let f = |a, b| _mm256_cmp_pd::<_CMP_LT_OQ>(a, b);
        [f(a[0], b[0]), f(a[1], b[1])]
    }
    /// Lanes where `a <= b` (ordered).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn le(a: D, b: D) -> M {
        let f = |a, b| _mm256_cmp_pd::<_CMP_LE_OQ>(a, b);
        [f(a[0], b[0]), f(a[1], b[1])]
    }
    /// `m ? t : f` per lane.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn pick(m: M, t: D, f: D) -> D {
        let g = |m, t, f| _mm256_blendv_pd(f, t, m);
        [g(m[0], t[0], f[0]), g(m[1], t[1], f[1])]
    }
    /// The lanes truncated to i32 (|x| < 2^31 where kept).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn trunc_i32(x: D) -> I {
        both!(_mm256_cvttpd_epi32(x))
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    fn to_f64(k: I) -> D {
        both!(_mm256_cvtepi32_pd(k))
    }
    /// 2^k for -1022 <= k <= 1023 (`fp::pow2` without its clamp: lanes outside are discarded).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn pow2(k: I) -> D {
        let f = |k: __m128i| {
            _mm256_castsi256_pd(_mm256_slli_epi64::<52>(_mm256_add_epi64(
                _mm256_cvtepi32_epi64(k),
                _mm256_set1_epi64x(1023),
            )))
        };
        [f(k[0]), f(k[1])]
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    fn widen(x: F) -> D {
        both!(_mm256_cvtps_pd(x))
    }
    /// The lanes rounded to f32 (to nearest, as `as f32`); NaN lanes of `xd` give `xd + xd`.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn narrow(r: D, xd: D) -> F {
        let f = |r: __m256d, x: __m256d| {
            let nan = _mm256_cmp_pd::<_CMP_UNORD_Q>(x, x);
            _mm256_cvtpd_ps(_mm256_blendv_pd(r, _mm256_add_pd(x, x), nan))
        };
        [f(r[0], xd[0]), f(r[1], xd[1])]
    }
    /// `row[i & 15]` per lane (a gather; the mask keeps every read inside `row`).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn coef_at(row: &[f64; 16], i: I) -> D {
        let f = |i: __m128i| {
            let i = _mm_and_si128(i, _mm_set1_epi32(15));
            // SAFETY: every index is in 0..16, inside `row`.
            unsafe { _mm256_i32gather_pd::<8>(row.as_ptr(), i) }
        };
        [f(i[0]), f(i[1])]
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    fn fsplat(v: f32) -> F {
        [_mm_set1_ps(v); 2]
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    fn fadd(a: F, b: F) -> F {
        both!(_mm_add_ps(a, b))
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    fn fsub(a: F, b: F) -> F {
        both!(_mm_sub_ps(a, b))
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    fn fdiv(a: F, b: F) -> F {
        both!(_mm_div_ps(a, b))
    }
    /// The sign bit flipped.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn fneg(a: F) -> F {
        let s = fsplat(-0.0);
        both!(_mm_xor_ps(a, s))
    }

    /// f32 values per step.
    const LANES: usize = 8;
    /// `LANES` values from `p` (unaligned).
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn load(p: *const f32) -> F {
        [_mm_loadu_ps(p), _mm_loadu_ps(p.add(4))]
    }
    /// `LANES` values to `p` (unaligned).
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn store(p: *mut f32, v: F) {
        _mm_storeu_ps(p, v[0]);
        _mm_storeu_ps(p.add(4), v[1]);
    }

    algorithms!("avx2");
}

#[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
pub mod neon {
    //! NEON (aarch64): four groups of two f64 lanes, eight f32 values per step (the f64
    //! vectors are 128 bits; four independent groups keep a wide core's FP pipes busy).
    use super::ERF_BY_COEF;
    use crate::coeffs::{ERF_SMALL, INV_LN2, LN2_HI, LN2_LO, TANH_P};
    use core::arch::aarch64::*;

    type D = [float64x2_t; 4];
    type M = [uint64x2_t; 4];
    type F = [float32x4_t; 2];
    /// The truncated lanes as i64 (the algorithms keep only lanes with |k| < 2^31).
    type I = [int64x2_t; 4];

    /// Applies an intrinsic to the four groups.
    macro_rules! four {
        ($f:ident($($a:ident),*)) => {
            [$f($($a[0]),*), $f($($a[1]),*), $f($($a[2]),*), $f($($a[3]),*)]
        };
    }

    #[inline]
    #[target_feature(enable = "neon")]
    fn set(v: f64) -> D {
        [vdupq_n_f64(v); 4]
    }
    #[inline]
    #[target_feature(enable = "neon")]
    fn add(a: D, b: D) -> D {
        four!(vaddq_f64(a, b))
    }
    #[inline]
    #[target_feature(enable = "neon")]
    fn sub(a: D, b: D) -> D {
        four!(vsubq_f64(a, b))
    }
    #[inline]
    #[target_feature(enable = "neon")]
    fn mul(a: D, b: D) -> D {
        four!(vmulq_f64(a, b))
    }
    #[inline]
    #[target_feature(enable = "neon")]
    fn div(a: D, b: D) -> D {
        four!(vdivq_f64(a, b))
    }
    /// `(a & and) | or` on the bits of each lane.
    #[inline]
    #[target_feature(enable = "neon")]
    fn bits(a: D, and: i64, or: D) -> D {
        let m = vdupq_n_u64(and as u64);
        let f = |a: float64x2_t, o: float64x2_t| {
            vreinterpretq_f64_u64(vorrq_u64(
                vandq_u64(vreinterpretq_u64_f64(a), m),
                vreinterpretq_u64_f64(o),
            ))
        };
        [
            f(a[0], or[0]),
            f(a[1], or[1]),
            f(a[2], or[2]),
            f(a[3], or[3]),
        ]
    }
    /// Lanes where `a < b` (ordered: false with a NaN).
    #[inline]
    #[target_feature(enable = "neon")]
    fn lt(a: D, b: D) -> M {
        four!(vcltq_f64(a, b))
    }
    /// Lanes where `a <= b` (ordered).
    #[inline]
    #[target_feature(enable = "neon")]
    fn le(a: D, b: D) -> M {
        four!(vcleq_f64(a, b))
    }
    /// `m ? t : f` per lane.
    #[inline]
    #[target_feature(enable = "neon")]
    fn pick(m: M, t: D, f: D) -> D {
        four!(vbslq_f64(m, t, f))
    }
    /// The lanes truncated toward zero (saturating; |x| < 2^31 where kept).
    #[inline]
    #[target_feature(enable = "neon")]
    fn trunc_i32(x: D) -> I {
        four!(vcvtq_s64_f64(x))
    }
    #[inline]
    #[target_feature(enable = "neon")]
    fn to_f64(k: I) -> D {
        four!(vcvtq_f64_s64(k))
    }
    /// 2^k for -1022 <= k <= 1023 (`fp::pow2` without its clamp: lanes outside are discarded).
    #[inline]
    #[target_feature(enable = "neon")]
    fn pow2(k: I) -> D {
        let f = |k: int64x2_t| {
            vreinterpretq_f64_s64(vshlq_n_s64::<52>(vaddq_s64(k, vdupq_n_s64(1023))))
        };
        [f(k[0]), f(k[1]), f(k[2]), f(k[3])]
    }
    #[inline]
    #[target_feature(enable = "neon")]
    fn widen(x: F) -> D {
        [
            vcvt_f64_f32(vget_low_f32(x[0])),
            vcvt_high_f64_f32(x[0]),
            vcvt_f64_f32(vget_low_f32(x[1])),
            vcvt_high_f64_f32(x[1]),
        ]
    }
    /// The lanes rounded to f32 (to nearest, as `as f32`); NaN lanes of `xd` give `xd + xd`.
    #[inline]
    #[target_feature(enable = "neon")]
    fn narrow(r: D, xd: D) -> F {
        let f = |r: float64x2_t, x: float64x2_t| {
            let num = vceqq_f64(x, x);
            vbslq_f64(num, r, vaddq_f64(x, x))
        };
        let v = [
            f(r[0], xd[0]),
            f(r[1], xd[1]),
            f(r[2], xd[2]),
            f(r[3], xd[3]),
        ];
        [
            vcvt_high_f32_f64(vcvt_f32_f64(v[0]), v[1]),
            vcvt_high_f32_f64(vcvt_f32_f64(v[2]), v[3]),
        ]
    }
    /// `row[i & 15]` per lane (two scalar loads per group: NEON has no f64 gather).
    #[inline]
    #[target_feature(enable = "neon")]
    fn coef_at(row: &[f64; 16], i: I) -> D {
        let f = |i: int64x2_t| {
            let lo = row[(vgetq_lane_s64::<0>(i) & 15) as usize];
            let hi = row[(vgetq_lane_s64::<1>(i) & 15) as usize];
            vsetq_lane_f64::<1>(hi, vdupq_n_f64(lo))
        };
        [f(i[0]), f(i[1]), f(i[2]), f(i[3])]
    }
    #[inline]
    #[target_feature(enable = "neon")]
    fn fsplat(v: f32) -> F {
        [vdupq_n_f32(v); 2]
    }
    #[inline]
    #[target_feature(enable = "neon")]
    fn fadd(a: F, b: F) -> F {
        [vaddq_f32(a[0], b[0]), vaddq_f32(a[1], b[1])]
    }
    #[inline]
    #[target_feature(enable = "neon")]
    fn fsub(a: F, b: F) -> F {
        [vsubq_f32(a[0], b[0]), vsubq_f32(a[1], b[1])]
    }
    #[inline]
    #[target_feature(enable = "neon")]
    fn fdiv(a: F, b: F) -> F {
        [vdivq_f32(a[0], b[0]), vdivq_f32(a[1], b[1])]
    }
    /// The sign bit flipped (`fneg`, as `-x`).
    #[inline]
    #[target_feature(enable = "neon")]
    fn fneg(a: F) -> F {
        [vnegq_f32(a[0]), vnegq_f32(a[1])]
    }

    /// f32 values per step.
    const LANES: usize = 8;
    /// `LANES` values from `p` (unaligned).
    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn load(p: *const f32) -> F {
        [vld1q_f32(p), vld1q_f32(p.add(4))]
    }
    /// `LANES` values to `p` (unaligned).
    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn store(p: *mut f32, v: F) {
        vst1q_f32(p, v[0]);
        vst1q_f32(p.add(4), v[1]);
    }

    algorithms!("neon");
}
