//! The f32 functions (`expf`, `logf`, ..., `fmodf`).
//!
//! Each one widens its arguments to f64 (exact), calls the f64 implementation of this
//! crate and rounds the result to f32 once. The f64 algorithms are accurate to about one
//! f64 ulp (2^-52 relative), 2^29 times finer than an f32 ulp, so the f32 results are the
//! correctly rounded ones except in astronomically rare double-rounding cases (then 1 ulp
//! off); fmodf is exact because the f64 remainder of two f32 values is representable in
//! f32. Overflow, underflow (to f32 subnormals or zero), NaN and signed-zero behaviour
//! follow from the f64 functions and the IEEE f64 -> f32 conversion.
//!
//! Invariants: `no_std`, no allocation, no panics, IEEE arithmetic only, so results are
//! bit-identical on every target and for every Kiln backend.
//!
//! Accuracy (measured against the host libm, see tests/accuracy.rs): every function within
//! 1 ulp of the correctly rounded result (0 ulp for fmodf).

/// e^x, the one exception to the module's scheme because it is hot (Softmax, Sigmoid,
/// GELU): computed in f64 from its own shorter kernel instead of the full f64 `exp`.
/// x = k ln2 + r (Cody-Waite, ln 2 in two parts so `k * LN2_HI` is exact, |r| <= 0.35),
/// e^r by its Taylor polynomial to degree 10 evaluated in Estrin form (truncation below
/// 2^-42 relative, f64 rounding about 2^-51), scaled by 2^k exactly and rounded once to f32.
/// The f64 value is within 2^-41 relative of e^x, so the f32 result is the correctly rounded
/// one unless e^x lies within 2^-41 relative of a rounding boundary (then it is the other
/// neighbour: under 1 ulp). About 4x faster than `exp(x as f64) as f32` (no double-double
/// steps, 3 levels of dependent multiply-adds instead of 13).
pub fn expf(x: f32) -> f32 {
    if x.is_nan() {
        return x + x;
    }
    if x > 89.0 {
        return f32::INFINITY;
    }
    if x < -104.0 {
        return 0.0;
    }
    let (k, r) = reduce(x as f64);
    let q = exp_taylor(r, false);
    crate::fp::scale(q, k) as f32
}
/// Natural logarithm.
pub fn logf(x: f32) -> f32 {
    crate::log(x as f64) as f32
}
/// Hyperbolic tangent: like `expf`, an exception to the module's scheme because it is hot
/// (GELU's tanh form, Mish, recurrent cells), computed in f64 without the double-double steps
/// of the f64 `tanh`:
/// - |x| <= 0.625: `a + a z P(z)`, z = a^2 (`TANH_P`, `tanh`'s own polynomial, 2^-56);
/// - |x| < 22: `1 - 2 / (e + 1)` with e = e^2|x| from `exp2a` (relative error below 2^-50;
///   2 / (e + 1) <= 0.45 there, so the subtraction at most doubles it);
/// - beyond: 1 (tanh(9.02) already rounds to 1 in f32);
///
/// then the sign of x and one rounding to f32. The f64 value is within 2^-49 relative of
/// tanh(x), so the f32 result is the correctly rounded one unless tanh(x) lies within 2^-49
/// relative of a rounding boundary (then it is the other neighbour: under 1 ulp). About 4x
/// faster than `tanh(x as f64) as f32`. tanhf(+-0) = +-0, tanhf(+-inf) = +-1, NaN -> NaN.
pub fn tanhf(x: f32) -> f32 {
    if x.is_nan() {
        return x + x;
    }
    let a = (x as f64).abs();
    let r = if a <= 0.625 {
        let z = a * a;
        a + a * z * crate::fp::poly(z, &crate::coeffs::TANH_P)
    } else if a < 22.0 {
        1.0 - 2.0 / (exp2a(a) + 1.0)
    } else {
        1.0
    };
    r.copysign(x as f64) as f32
}

/// e^(2a) for 0.625 < a < 22 (tanhf): 2a = k ln2 + r (Cody-Waite as in `expf`, |r| <= 0.35),
/// e^r by its Taylor polynomial to degree 12 in Estrin form (truncation below 2^-52
/// relative), times 2^k (exact: 1 <= k <= 64). Relative error below 2^-50.
#[inline]
pub(crate) fn exp2a(a: f64) -> f64 {
    let (k, r) = reduce(a + a);
    exp_taylor(r, true) * crate::fp::pow2(k)
}

/// h = k ln2 + r with |r| <= 0.35 (Cody-Waite, ln 2 in two parts so `k * LN2_HI` is exact):
/// (k, r).
#[inline]
fn reduce(h: f64) -> (i32, f64) {
    use crate::coeffs::{INV_LN2, LN2_HI, LN2_LO};
    let k = crate::fp::round_i32(h * INV_LN2);
    let kd = k as f64;
    (k, (h - kd * LN2_HI) - kd * LN2_LO)
}

/// The Taylor polynomial of e^r to degree 10 (`expf`) or 12 (`exp2a`) in Estrin form:
/// pairs `c_i + r c_(i+1)`, combined by r^2, r^4 (and r^8).
#[inline]
fn exp_taylor(r: f64, deg12: bool) -> f64 {
    let r2 = r * r;
    let r4 = r2 * r2;
    let p01 = 1.0 + r;
    let p23 = 0.5 + r * (1.0 / 6.0);
    let p45 = 1.0 / 24.0 + r * (1.0 / 120.0);
    let p67 = 1.0 / 720.0 + r * (1.0 / 5040.0);
    let p89 = 1.0 / 40320.0 + r * (1.0 / 362880.0);
    if deg12 {
        let r8 = r4 * r4;
        let p1011 = 1.0 / 3628800.0 + r * (1.0 / 39916800.0);
        let p12 = 1.0 / 479001600.0;
        let lo = (p01 + r2 * p23) + r4 * (p45 + r2 * p67);
        let hi = (p89 + r2 * p1011) + r4 * p12;
        lo + r8 * hi
    } else {
        let p10 = 1.0 / 3628800.0;
        (p01 + r2 * p23) + r4 * ((p45 + r2 * p67) + r4 * (p89 + r2 * p10))
    }
}
/// x^y (C99 special cases).
pub fn powf(x: f32, y: f32) -> f32 {
    crate::pow(x as f64, y as f64) as f32
}
/// Error function.
pub fn erff(x: f32) -> f32 {
    crate::erf(x as f64) as f32
}
/// Sine.
pub fn sinf(x: f32) -> f32 {
    crate::sin(x as f64) as f32
}
/// Cosine.
pub fn cosf(x: f32) -> f32 {
    crate::cos(x as f64) as f32
}
/// Tangent.
pub fn tanf(x: f32) -> f32 {
    crate::tan(x as f64) as f32
}
/// Arc sine.
pub fn asinf(x: f32) -> f32 {
    crate::asin(x as f64) as f32
}
/// Arc cosine.
pub fn acosf(x: f32) -> f32 {
    crate::acos(x as f64) as f32
}
/// Arc tangent.
pub fn atanf(x: f32) -> f32 {
    crate::atan(x as f64) as f32
}
/// Hyperbolic sine.
pub fn sinhf(x: f32) -> f32 {
    crate::sinh(x as f64) as f32
}
/// Hyperbolic cosine.
pub fn coshf(x: f32) -> f32 {
    crate::cosh(x as f64) as f32
}
/// Inverse hyperbolic sine.
pub fn asinhf(x: f32) -> f32 {
    crate::asinh(x as f64) as f32
}
/// Inverse hyperbolic cosine.
pub fn acoshf(x: f32) -> f32 {
    crate::acosh(x as f64) as f32
}
/// Inverse hyperbolic tangent.
pub fn atanhf(x: f32) -> f32 {
    crate::atanh(x as f64) as f32
}
/// Floating-point remainder with the sign of x (exact).
pub fn fmodf(x: f32, y: f32) -> f32 {
    crate::fmod(x as f64, y as f64) as f32
}
