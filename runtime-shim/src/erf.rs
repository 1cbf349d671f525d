//! The error function (f64): `erf`.
//!
//! Invariants: `no_std`, no allocation, no panics (table reads go through `get`), only IEEE
//! `+ - * /`, comparisons and bit manipulation, so results are bit-identical on every
//! target and for every Kiln backend.
//!
//! Algorithm (written for this crate; coefficients from tools/gen_coeffs.py):
//! - |x| <= 1/2: erf(x) = x + x Q(x^2), Q a near-minimax polynomial (relative error of the
//!   fit below 2^-62; |Q| <= 0.13, so its rounding errors hardly reach the result);
//! - 1/2 < |x| < 6: eleven intervals of width 1/2, each with a near-minimax polynomial in
//!   t = |x| - midpoint (absolute error below 2^-62); the constant term is kept as a
//!   double-double and c0 + c1 t is summed exactly, so only the small higher-order part
//!   and the final addition round;
//! - |x| >= 6: erf(x) = +-1 (1 - erf(6) < 2^-55, below half an ulp of 1).
//!
//! No exponential is evaluated, so erf is cheap and independent of `exp`.
//!
//! Accuracy (measured against a double-double reference, see tests/accuracy.rs): within
//! 1 ulp. erf(+-0) = +-0, erf(+-inf) = +-1, erf(NaN) = NaN.

use crate::coeffs::{ERF_MID, ERF_MID_LO, ERF_SMALL};
use crate::fp::{at, poly, two_prod, two_sum};

/// Error function erf(x) = 2/sqrt(pi) * integral_0^x e^(-t^2) dt.
pub fn erf(x: f64) -> f64 {
    if x.is_nan() {
        return x + x;
    }
    let a = x.abs();
    if a <= 0.5 {
        // also right for +-0 (keeps the sign) and subnormals
        return x + x * poly(x * x, &ERF_SMALL);
    }
    let r = if a < 6.0 {
        let i = ((a - 0.5) * 2.0) as usize; // 0..=10
        let t = a - (0.75 + 0.5 * i as f64);
        match ERF_MID.get(i) {
            Some([c0, c1, rest @ ..]) => {
                // c0 + c1 t exactly as a double-double; the rest is at most ~1/20 of it
                let (p, pe) = two_prod(*c1, t);
                let (s, se) = two_sum(*c0, p);
                s + (se + (pe + (at(&ERF_MID_LO, i) + t * t * poly(t, rest))))
            }
            None => 1.0,
        }
    } else {
        1.0 // also +-inf
    };
    r.copysign(x)
}
