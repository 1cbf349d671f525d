//! Hyperbolic functions and their inverses (f64): `sinh`, `cosh`, `tanh`, `asinh`,
//! `acosh`, `atanh`.
//!
//! Invariants: `no_std`, no allocation, no panics, only IEEE `+ - * /`, comparisons and bit
//! manipulation, so results are bit-identical on every target and for every Kiln backend.
//!
//! Algorithms (written for this crate):
//! - sinh/cosh: Taylor series for |x| < 1 (terms to x^21 / x^22, truncation < 2^-70),
//!   (e^x -+ e^-x)/2 up to |x| = 22, then e^|x|/2 computed with a single final scaling so
//!   that results up to the overflow threshold (|x| ~ 710.475) stay finite.
//! - tanh: odd near-minimax polynomial for |x| <= 0.625 (coefficients from
//!   tools/gen_coeffs.py), 1 - 2/(e^2|x| + 1) below 22, +-1 beyond.
//! - asinh/atanh: odd near-minimax polynomials for |x| <= 1/2; otherwise the log / log1p
//!   identities arranged to avoid cancellation. acosh: log / log1p identities.
//!
//! Accuracy (measured against the host libm, see tests/accuracy.rs): within 2 ulp.
//! Special cases follow C99: odd functions keep the sign of zero, tanh(+-inf) = +-1,
//! acosh(x < 1) = NaN, atanh(+-1) = +-inf, atanh(|x| > 1) = NaN.

use crate::coeffs::{ASINH_P, ATANH_P, LN2_DD_HI, TANH_P};
use crate::exp_log::{exp, exp_scaled, inv_factorials, log, log1p};
use crate::fp::{poly, sqrt};

/// [1/3!, 1/5!, ..., 1/21!]: sinh(x) = x + x^3 S(x^2).
const SINH_S: [f64; 10] = inv_factorials::<10>(3, 2);
/// [1/2!, 1/4!, ..., 1/22!]: cosh(x) = 1 + x^2 C(x^2).
const COSH_C: [f64; 11] = inv_factorials::<11>(2, 2);

/// Below this |x| the odd functions return x itself (the cubic term is < 2^-55 x).
const TINY: f64 = 7.450580596923828e-9; // 2^-27

/// Hyperbolic sine. sinh(+-0) = +-0, sinh(+-inf) = +-inf, overflow -> +-inf.
pub fn sinh(x: f64) -> f64 {
    if x.is_nan() || x.is_infinite() {
        return x + x;
    }
    let a = x.abs();
    if a < TINY {
        return x;
    }
    let r = if a < 1.0 {
        let z = a * a;
        a + a * z * poly(z, &SINH_S)
    } else if a < 22.0 {
        let e = exp(a);
        0.5 * e - 0.5 / e
    } else {
        exp_scaled(a, -1)
    };
    r.copysign(x)
}

/// Hyperbolic cosine. cosh(+-0) = 1, cosh(+-inf) = +inf, overflow -> +inf.
pub fn cosh(x: f64) -> f64 {
    if x.is_nan() {
        return x + x;
    }
    let a = x.abs();
    if a < TINY {
        return 1.0;
    }
    if a < 1.0 {
        let z = a * a;
        1.0 + z * poly(z, &COSH_C)
    } else if a < 22.0 {
        let e = exp(a);
        0.5 * e + 0.5 / e
    } else {
        exp_scaled(a, -1) // also +inf for a = +inf
    }
}

/// Hyperbolic tangent. tanh(+-0) = +-0, tanh(+-inf) = +-1.
pub fn tanh(x: f64) -> f64 {
    if x.is_nan() {
        return x + x;
    }
    let a = x.abs();
    if a < TINY {
        return x;
    }
    let r = if a <= 0.625 {
        let z = a * a;
        a + a * z * poly(z, &TANH_P)
    } else if a < 22.0 {
        1.0 - 2.0 / (exp(a + a) + 1.0)
    } else {
        1.0
    };
    r.copysign(x)
}

/// Inverse hyperbolic sine. asinh(+-0) = +-0, asinh(+-inf) = +-inf.
pub fn asinh(x: f64) -> f64 {
    if x.is_nan() || x.is_infinite() {
        return x + x;
    }
    let a = x.abs();
    if a < TINY {
        return x;
    }
    let r = if a <= 0.5 {
        let z = a * a;
        a + a * z * poly(z, &ASINH_P)
    } else if a > 268_435_456.0 {
        // 2^28: sqrt(a^2 + 1) = a to working precision
        log(a) + LN2_DD_HI
    } else if a > 2.0 {
        log(2.0 * a + 1.0 / (sqrt(a * a + 1.0) + a))
    } else {
        let t = a * a;
        log1p(a + t / (1.0 + sqrt(1.0 + t)))
    };
    r.copysign(x)
}

/// Inverse hyperbolic cosine. acosh(x < 1) = NaN, acosh(1) = +0, acosh(+inf) = +inf.
pub fn acosh(x: f64) -> f64 {
    if x.is_nan() {
        return x + x;
    }
    if x < 1.0 {
        return f64::NAN;
    }
    if x.is_infinite() {
        return x;
    }
    if x > 268_435_456.0 {
        log(x) + LN2_DD_HI
    } else if x > 2.0 {
        log(2.0 * x - 1.0 / (x + sqrt(x * x - 1.0)))
    } else {
        let t = x - 1.0; // exact
        log1p(t + sqrt(2.0 * t + t * t))
    }
}

/// Inverse hyperbolic tangent. atanh(+-0) = +-0, atanh(+-1) = +-inf, atanh(|x| > 1) = NaN.
pub fn atanh(x: f64) -> f64 {
    if x.is_nan() {
        return x + x;
    }
    let a = x.abs();
    if a > 1.0 {
        return f64::NAN;
    }
    if a == 1.0 {
        return f64::INFINITY.copysign(x);
    }
    if a < TINY {
        return x;
    }
    let r = if a <= 0.5 {
        let z = a * a;
        a + a * z * poly(z, &ATANH_P)
    } else {
        // 1 - a is exact for a in [1/2, 1]
        0.5 * log1p((a + a) / (1.0 - a))
    };
    r.copysign(x)
}
