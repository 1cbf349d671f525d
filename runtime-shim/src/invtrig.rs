//! Inverse trigonometric functions (f64): `asin`, `acos`, `atan`.
//!
//! Invariants: `no_std`, no allocation, no panics (table reads go through `get`), only IEEE
//! `+ - * /`, comparisons and bit manipulation, so results are bit-identical on every
//! target and for every Kiln backend.
//!
//! Algorithms (written for this crate):
//! - atan: |x| > 1 uses atan(x) = pi/2 - atan(1/x) (1/x kept as a double-double); then
//!   with c = j/8 nearest to y in [0, 1], atan(y) = atan(c) + atan(t), t = (y - c)/(1 + y c)
//!   (|t| <= 1/16, computed in double-double), atan(t) by its Taylor series to t^17, and
//!   atan(j/8) from a table of double-doubles.
//! - asin: |x| <= 1/2 an odd near-minimax polynomial x + x^3 P(x^2); above, asin(x) =
//!   pi/2 - 2 asin(sqrt((1 - x)/2)) where (1 - x)/2 is exact and the root is a double-double.
//! - acos: the same pieces: pi/2 - asin(x) for |x| <= 1/2, 2 asin(sqrt((1 - x)/2)) above,
//!   pi - 2 asin(sqrt((1 + x)/2)) below -1/2.
//!
//! Accuracy (measured against the host libm, see tests/accuracy.rs): within 1 ulp.
//! Special cases follow C99: asin/atan keep the sign of zero, asin/acos(|x| > 1) = NaN,
//! atan(+-inf) = +-pi/2.

use crate::coeffs::{ASIN_P, ATAN_HI, ATAN_LO, PIO2_HI, PIO2_LO, PI_HI, PI_LO};
use crate::fp::{at, fast_two_sum, poly, sqrt_dd, two_prod, two_sum};

/// [1/3, 1/5, ..., 1/17]: atan(t) = t - t^3 (1/3 - t^2/5 + t^4/7 - ...).
const ATAN_Q: [f64; 8] = [
    1.0 / 3.0,
    1.0 / 5.0,
    1.0 / 7.0,
    1.0 / 9.0,
    1.0 / 11.0,
    1.0 / 13.0,
    1.0 / 15.0,
    1.0 / 17.0,
];

/// Below this |x|: asin(x) = atan(x) = x after rounding.
const TINY: f64 = 7.450580596923828e-9; // 2^-27

/// atan(y + yl) as a double-double for y in [0, 1], |yl| <= ulp(y).
fn atan_dd(y: f64, yl: f64) -> (f64, f64) {
    let j = (y * 8.0 + 0.5) as usize; // 0..=8
    let c = j as f64 * 0.125;
    let num = y - c; // exact (Sterbenz, or c = 0)
                     // den = 1 + y c as a double-double
    let (p, pe) = two_prod(y, c);
    let (dh, de) = two_sum(1.0, p);
    let dl = de + pe + yl * c;
    // t = (num + yl) / den
    let t = num / dh;
    let (q, qe) = two_prod(t, dh);
    let tl = ((((num - q) - qe) + yl) - t * dl) / dh;
    let z = t * t;
    let tail = -(t * z) * poly(-z, &ATAN_Q);
    let (vh, ve) = two_sum(at(&ATAN_HI, j), t);
    (vh, ve + (at(&ATAN_LO, j) + tl + tail))
}

/// Arc tangent, in [-pi/2, pi/2]. atan(+-0) = +-0, atan(+-inf) = +-pi/2.
pub fn atan(x: f64) -> f64 {
    if x.is_nan() {
        return x + x;
    }
    let a = x.abs();
    if a < TINY {
        return x;
    }
    let r = if a <= 1.0 {
        let (h, l) = atan_dd(a, 0.0);
        h + l
    } else if a < 1.152921504606847e18 {
        // 2^60; y + yl = 1/a
        let y = 1.0 / a;
        let (p, pe) = two_prod(y, a);
        let yl = ((1.0 - p) - pe) / a;
        let (vh, vl) = atan_dd(y, yl);
        let (s, e) = two_sum(PIO2_HI, -vh);
        s + (e + (PIO2_LO - vl))
    } else {
        PIO2_HI // also +-inf
    };
    r.copysign(x)
}

/// asin(s) - s for s = sqrt(z), i.e. s z P(z), for z <= 1/4.
#[inline]
fn asin_tail(s: f64, z: f64) -> f64 {
    s * z * poly(z, &ASIN_P)
}

/// Arc sine, in [-pi/2, pi/2]. asin(+-0) = +-0, asin(|x| > 1) = NaN.
pub fn asin(x: f64) -> f64 {
    if x.is_nan() {
        return x + x;
    }
    let a = x.abs();
    if a > 1.0 {
        return f64::NAN;
    }
    if a < TINY {
        return x;
    }
    let r = if a <= 0.5 {
        a + asin_tail(a, a * a)
    } else if a == 1.0 {
        PIO2_HI
    } else {
        let z = (1.0 - a) * 0.5; // exact
        let (sh, sl) = sqrt_dd(z);
        // pi/2 - 2 (sh + sl + tail)
        let (h, e) = two_sum(PIO2_HI, -2.0 * sh);
        h + (e + (PIO2_LO - 2.0 * (sl + asin_tail(sh, z))))
    };
    r.copysign(x)
}

/// Arc cosine, in [0, pi]. acos(1) = +0, acos(|x| > 1) = NaN.
pub fn acos(x: f64) -> f64 {
    if x.is_nan() {
        return x + x;
    }
    let a = x.abs();
    if a > 1.0 {
        return f64::NAN;
    }
    if a <= 0.5 {
        // pi/2 - (x + tail)
        let (h, e) = two_sum(PIO2_HI, -x);
        h + (e + (PIO2_LO - asin_tail(x, x * x)))
    } else if x == 1.0 {
        0.0
    } else if x == -1.0 {
        PI_HI
    } else if x > 0.0 {
        let z = (1.0 - x) * 0.5; // exact
        let (sh, sl) = sqrt_dd(z);
        let (h, l) = fast_two_sum(2.0 * sh, 2.0 * (sl + asin_tail(sh, z)));
        h + l
    } else {
        let z = (1.0 + x) * 0.5; // exact
        let (sh, sl) = sqrt_dd(z);
        let (h, e) = two_sum(PI_HI, -2.0 * sh);
        h + (e + (PI_LO - 2.0 * (sl + asin_tail(sh, z))))
    }
}
