//! Exponential, logarithms and power (f64): `exp`, `log`, `pow`, plus the internal
//! `log1p`, the exponential kernel shared with the hyperbolic functions and a
//! double-double logarithm used by `pow`.
//!
//! Invariants: `no_std`, no allocation, no panics, only IEEE `+ - * /`, comparisons and bit
//! manipulation, so results are bit-identical on every target and for every Kiln backend.
//!
//! Algorithms (written for this crate):
//! - exp: x = k ln2 + r with |r| <= ln2/2 (Cody-Waite, ln 2 in two parts, the rounding error
//!   of r carried as a correction), exp(r) = 1 + r + r^2 P(r) with the Taylor coefficients
//!   1/n! up to n = 14 (truncation < 2^-63), then an exact scaling by 2^k.
//! - log: x = 2^k m with m in [sqrt(2)/2, sqrt(2)), f = m - 1 (exact), s = f / (2 + f),
//!   log(1 + f) = 2 atanh(s) = f - f^2/2 + s (f^2/2 + R(s^2)) with R the atanh series
//!   (terms up to s^22, truncation < 2^-62).
//! - pow: |x|^y = exp(y log|x|) with log|x| computed in double-double (relative error about
//!   2^-70) and the product y log|x| kept as a double-double, so the final exp sees an
//!   argument error well below 2^-60 even when |y log x| is near 745.
//!
//! Accuracy (measured against the host libm, see tests/accuracy.rs): exp and log within
//! 1 ulp, pow within 1 ulp. C99 special cases are handled explicitly.

use crate::coeffs::{
    INV_LN2, LN2_DD_HI, LN2_DD_LO, LN2_HI, LN2_LO, TWO_FIFTHS, TWO_SEVENTHS, TWO_THIRDS,
};
use crate::fp::{
    biased_exp, dd_add, dd_mul, dd_mul_d, fast_two_sum, poly, round_i32, scale, two_prod, two_sum,
};

/// [1/2!, 1/3!, ..., 1/14!]: Taylor coefficients of (exp(r) - 1 - r) / r^2.
pub(crate) const EXP_P: [f64; 13] = inv_factorials::<13>(2, 1);

/// `N` values 1/n! for n = first, first + step, ...; the factorials are exact in f64 up
/// to 22!, so each entry is 1/n! correctly rounded.
pub(crate) const fn inv_factorials<const N: usize>(first: u32, step: u32) -> [f64; N] {
    let mut out = [0.0; N];
    let mut i = 0;
    while i < N {
        let n = first + step * i as u32;
        let mut f = 1.0;
        let mut j = 2;
        while j <= n {
            f *= j as f64;
            j += 1;
        }
        out[i] = 1.0 / f;
        i += 1;
    }
    out
}

/// 2/(2j+1) for j = 1..=11: the atanh series R(z) = z (2/3 + 2z/5 + ...).
const LOG_R: [f64; 11] = [
    2.0 / 3.0,
    2.0 / 5.0,
    2.0 / 7.0,
    2.0 / 9.0,
    2.0 / 11.0,
    2.0 / 13.0,
    2.0 / 15.0,
    2.0 / 17.0,
    2.0 / 19.0,
    2.0 / 21.0,
    2.0 / 23.0,
];

/// exp(hi + lo) = (yh + yl) * 2^k with yh in about [0.7, 1.42], for |hi| <= 746 and
/// |lo| <= 2^-40 |hi|. The double-double yh + yl has a relative error of about 2^-60 (so
/// yh + yl rounded is within 0.52 ulp); sinh, cosh and tanh use the low part.
pub(crate) fn exp_kernel(hi: f64, lo: f64) -> (f64, f64, i32) {
    let k = round_i32(hi * INV_LN2);
    let kd = k as f64;
    let rh = hi - kd * LN2_HI; // exact: k * LN2_HI is exact and rh is close to hi - k ln2
    let (r, c) = two_sum(rh, lo - kd * LN2_LO);
    // exp(r + c) ~ exp(r) (1 + c); exp(r) = 1 + r + r^2 P(r)
    let q = r * r * poly(r, &EXP_P) + c * (1.0 + r);
    let (s, se) = two_sum(r, q);
    let (yh, ye) = fast_two_sum(1.0, s);
    (yh, ye + se, k)
}

/// e^x * 2^extra with one final rounding (used by cosh/sinh near overflow).
pub(crate) fn exp_scaled(x: f64, extra: i32) -> f64 {
    if x.is_nan() {
        return x + x;
    }
    if x > 712.0 {
        return f64::INFINITY;
    }
    if x < -746.0 {
        return 0.0;
    }
    let (yh, yl, k) = exp_kernel(x, 0.0);
    scale(yh + yl, k + extra)
}

/// e^x. exp(NaN) = NaN, exp(+inf) = +inf, exp(-inf) = +0, overflow -> +inf, underflow ->
/// subnormal or +0.
pub fn exp(x: f64) -> f64 {
    exp_scaled(x, 0)
}

/// log(1 + f) + k ln 2 + c for f in [sqrt(2)/2 - 1, sqrt(2) - 1] (c a small correction).
#[inline]
fn log_kernel(k: i32, f: f64, c: f64) -> f64 {
    let kd = k as f64;
    let s = f / (2.0 + f);
    let z = s * s;
    let hfsq = 0.5 * f * f;
    let r = z * poly(z, &LOG_R);
    kd * LN2_HI - ((hfsq - (s * (hfsq + r) + (kd * LN2_LO + c))) - f)
}

/// Splits a positive finite normal-or-subnormal x into (k, m) with x = m 2^k and m in
/// [sqrt(2)/2, sqrt(2)).
#[inline]
fn log_reduce(x: f64) -> (i32, f64) {
    let mut xx = x;
    let mut k = 0;
    if biased_exp(xx) == 0 {
        xx *= crate::fp::pow2(54);
        k = -54;
    }
    let bits = xx.to_bits();
    let mut e = ((bits >> 52) & 0x7ff) as i32 - 1023;
    let mant = bits & 0x000f_ffff_ffff_ffff;
    // m in [1, 2); if m >= sqrt(2) use m / 2 instead
    let mut m = f64::from_bits(mant | (1023u64 << 52));
    if m > core::f64::consts::SQRT_2 {
        m *= 0.5;
        e += 1;
    }
    (k + e, m)
}

/// Natural logarithm. log(x < 0) = NaN, log(+-0) = -inf, log(+inf) = +inf, log(1) = +0.
pub fn log(x: f64) -> f64 {
    if x.is_nan() {
        return x + x;
    }
    if x < 0.0 {
        return f64::NAN;
    }
    if x == 0.0 {
        return f64::NEG_INFINITY;
    }
    if x.is_infinite() {
        return x;
    }
    let (k, m) = log_reduce(x);
    log_kernel(k, m - 1.0, 0.0)
}

/// log(x * 2^extra) for positive finite x, with a single final rounding (asinh and acosh
/// use it for log(2x) when 2x could overflow).
pub(crate) fn log_scaled(x: f64, extra: i32) -> f64 {
    let (k, m) = log_reduce(x);
    log_kernel(k + extra, m - 1.0, 0.0)
}

/// log(h + l) for a positive finite double-double (|l| <= ulp(h)).
pub(crate) fn log_of_dd(h: f64, l: f64) -> f64 {
    let (k, m) = log_reduce(h);
    // log(h + l) = log(h) + log(1 + l/h); m = h 2^-k
    log_kernel(k, m - 1.0, l / h)
}

/// log(1 + x), accurate also for tiny x. log1p(-1) = -inf, log1p(x < -1) = NaN.
pub(crate) fn log1p(x: f64) -> f64 {
    if x.is_nan() {
        return x + x;
    }
    if x < -1.0 {
        return f64::NAN;
    }
    if x == -1.0 {
        return f64::NEG_INFINITY;
    }
    if x.is_infinite() {
        return x;
    }
    let ax = x.abs();
    if ax < 1.0e-17 {
        return x; // log1p(x) = x - x^2/2 rounds to x (also keeps -0)
    }
    let (u, err) = two_sum(1.0, x); // 1 + x == u + err exactly
    let (k, m) = log_reduce(u);
    // log(1 + x) = log(u) + log(1 + err/u) ~ log(u) + err/u
    log_kernel(k, m - 1.0, err / u)
}

/// 2/(2j+1) for j = 4..=12, the tail of the atanh series in the double-double log.
const LOG_DD_TAIL: [f64; 9] = [
    2.0 / 9.0,
    2.0 / 11.0,
    2.0 / 13.0,
    2.0 / 15.0,
    2.0 / 17.0,
    2.0 / 19.0,
    2.0 / 21.0,
    2.0 / 23.0,
    2.0 / 25.0,
];

/// log(x) as a double-double (relative error about 2^-70) for positive finite x.
pub(crate) fn log_dd(x: f64) -> (f64, f64) {
    let (k, m) = log_reduce(x);
    let f = m - 1.0; // exact
                     // s = f / (2 + f) in double-double
    let (dh, dl) = two_sum(2.0, f);
    let sh = f / dh;
    let (p, pe) = two_prod(sh, dh);
    let sl = (((f - p) - pe) - sh * dl) / dh;
    // z = s^2
    let (zh, ze) = two_prod(sh, sh);
    let zl = ze + 2.0 * sh * sl;
    // log(1+f) = 2s + s z (2/3 + z (2/5 + z (2/7 + z W(z))))
    let w = poly(zh, &LOG_DD_TAIL);
    let (ah, al) = dd_add(TWO_SEVENTHS.0, TWO_SEVENTHS.1, zh * w, 0.0);
    let (ah, al) = dd_mul(zh, zl, ah, al);
    let (ah, al) = dd_add(TWO_FIFTHS.0, TWO_FIFTHS.1, ah, al);
    let (ah, al) = dd_mul(zh, zl, ah, al);
    let (ah, al) = dd_add(TWO_THIRDS.0, TWO_THIRDS.1, ah, al);
    let (szh, szl) = dd_mul(sh, sl, zh, zl);
    let (ch, cl) = dd_mul(szh, szl, ah, al);
    let (lh, ll) = dd_add(2.0 * sh, 2.0 * sl, ch, cl);
    // + k ln 2
    let kd = k as f64;
    let (kh, ke) = two_prod(kd, LN2_DD_HI);
    let (kh, kl) = fast_two_sum(kh, ke + kd * LN2_DD_LO);
    dd_add(kh, kl, lh, ll)
}

/// Classifies y: 0 = not an integer, 1 = odd integer, 2 = even integer (y finite).
#[inline]
pub(crate) fn int_class(y: f64) -> u32 {
    let e = biased_exp(y) - 1023;
    if e < 0 {
        return if y == 0.0 { 2 } else { 0 };
    }
    if e >= 53 {
        return 2;
    }
    let sig = (y.to_bits() & 0x000f_ffff_ffff_ffff) | (1u64 << 52);
    let fracbits = (52 - e) as u32; // 0..=52
    let frac_mask = (1u64 << fracbits) - 1;
    if sig & frac_mask != 0 {
        0
    } else if (sig >> fracbits) & 1 == 1 {
        1
    } else {
        2
    }
}

/// x^y following C99 Annex F: pow(x, +-0) = 1 (even for NaN x), pow(1, y) = 1 (even for NaN
/// y), pow(-1, +-inf) = 1, pow(+-0, y<0) = +inf (or +-inf for odd integer y), negative x
/// with non-integer y -> NaN, negative x with integer y -> sign by parity, overflow -> inf,
/// underflow -> 0.
pub fn pow(x: f64, y: f64) -> f64 {
    if y == 0.0 || x == 1.0 {
        return 1.0;
    }
    if x.is_nan() || y.is_nan() {
        return x + y;
    }
    let ax = x.abs();
    if y.is_infinite() {
        return if ax == 1.0 {
            1.0
        } else if (ax < 1.0) == (y < 0.0) {
            f64::INFINITY
        } else {
            0.0
        };
    }
    let yc = int_class(y);
    let odd = yc == 1;
    if x == 0.0 {
        return if y < 0.0 {
            if odd {
                1.0 / x // +-inf with the sign of x
            } else {
                f64::INFINITY
            }
        } else if odd {
            x
        } else {
            0.0
        };
    }
    if x.is_infinite() {
        let mag = if y < 0.0 { 0.0 } else { f64::INFINITY };
        return if x < 0.0 && odd { -mag } else { mag };
    }
    let sign = if x < 0.0 {
        if yc == 0 {
            return f64::NAN;
        }
        if odd {
            -1.0
        } else {
            1.0
        }
    } else {
        1.0
    };
    if ax == 1.0 {
        return sign; // x = -1 with an integer y (huge y would overflow the splitting below)
    }
    let (lh, ll) = log_dd(ax);
    let est = y * lh;
    if est > 710.0 {
        return sign * f64::INFINITY;
    }
    if est < -746.0 {
        return sign * 0.0;
    }
    let (th, tl) = dd_mul_d(lh, ll, y);
    let (yh, yl, k) = exp_kernel(th, tl);
    sign * scale(yh + yl, k)
}
