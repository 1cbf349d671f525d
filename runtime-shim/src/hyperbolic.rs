//! Hyperbolic functions and their inverses (f64): `sinh`, `cosh`, `tanh`, `asinh`,
//! `acosh`, `atanh`.
//!
//! Invariants: `no_std`, no allocation, no panics, only IEEE `+ - * /`, comparisons and bit
//! manipulation, so results are bit-identical on every target and for every Kiln backend.
//!
//! Algorithms (written for this crate):
//! - sinh/cosh: Taylor series for |x| < 1 (terms to x^21 / x^22, truncation < 2^-70),
//!   (e^x -+ e^-x)/2 in double-double (e^x from the exp kernel with its low part) up to
//!   |x| = 22, then e^|x|/2 computed with a single final scaling so that results up to the
//!   overflow threshold (|x| ~ 710.475) stay finite.
//! - tanh: odd near-minimax polynomial for |x| <= 0.625 (coefficients from
//!   tools/gen_coeffs.py), 1 - 2/(e^2|x| + 1) in double-double below 22, +-1 beyond.
//! - asinh/atanh: odd near-minimax polynomials for |x| <= 1/2; asinh/acosh otherwise
//!   log(|x| + sqrt(x^2 +- 1)) with the argument kept as a double-double (log(2|x|) beyond
//!   2^28); atanh otherwise log1p(2|x|/(1 - |x|))/2, where 1 - |x| is exact.
//!
//! Accuracy (measured against exact values, see tests/accuracy.rs): within 1 ulp.
//! Special cases follow C99: odd functions keep the sign of zero, tanh(+-inf) = +-1,
//! acosh(x < 1) = NaN, atanh(+-1) = +-inf, atanh(|x| > 1) = NaN.

use crate::coeffs::{ASINH_P, ATANH_P, TANH_P};
use crate::exp_log::{exp_kernel, exp_scaled, inv_factorials, log1p, log_of_dd, log_scaled};
use crate::fp::{dd_add, dd_div, poly, pow2, sqrt, two_prod, two_sum};

/// e^x as a double-double for |x| < 45 (no overflow; relative error about 2^-60).
#[inline]
fn exp_dd(x: f64) -> (f64, f64) {
    let (yh, yl, k) = exp_kernel(x, 0.0);
    let s = pow2(k);
    (yh * s, yl * s)
}

/// sqrt(zh + zl) as a double-double for a positive normal double-double.
#[inline]
fn sqrt_of_dd(zh: f64, zl: f64) -> (f64, f64) {
    let sh = sqrt(zh);
    let (q, qe) = two_prod(sh, sh);
    (sh, (((zh - q) - qe) + zl) / (sh + sh))
}

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
        let (eh, el) = exp_dd(a);
        let (ih, il) = dd_div(1.0, 0.0, eh, el);
        let (dh, dl) = dd_add(eh, el, -ih, -il);
        0.5 * (dh + dl)
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
        let (eh, el) = exp_dd(a);
        let (ih, il) = dd_div(1.0, 0.0, eh, el);
        let (dh, dl) = dd_add(eh, el, ih, il);
        0.5 * (dh + dl)
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
        // 1 - 2 / (e^2a + 1) in double-double
        let (eh, el) = exp_dd(a + a);
        let (ph, pl) = dd_add(eh, el, 1.0, 0.0);
        let (qh, ql) = dd_div(2.0, 0.0, ph, pl);
        let (rh, rl) = dd_add(1.0, 0.0, -qh, -ql);
        rh + rl
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
        // 2^28: sqrt(a^2 + 1) = a to working precision; log(2a) without overflow
        log_scaled(a, 1)
    } else {
        // log(a + sqrt(a^2 + 1)) with every intermediate a double-double
        let (p, pe) = two_prod(a, a);
        let (zh, ze) = two_sum(p, 1.0);
        let (sh, sl) = sqrt_of_dd(zh, ze + pe);
        let (h, e) = two_sum(a, sh);
        log_of_dd(h, e + sl)
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
    if x == 1.0 {
        return 0.0;
    }
    if x > 268_435_456.0 {
        log_scaled(x, 1)
    } else {
        // log(x + sqrt(x^2 - 1)) with every intermediate a double-double (x^2 - 1 is exact,
        // which keeps the result accurate down to x = 1 + ulp)
        let (p, pe) = two_prod(x, x);
        let (zh, ze) = two_sum(p, -1.0);
        let (sh, sl) = sqrt_of_dd(zh, ze + pe);
        let (h, e) = two_sum(x, sh);
        log_of_dd(h, e + sl)
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
