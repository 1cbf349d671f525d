//! Floating-point building blocks shared by every shim function: bit access, exact
//! power-of-two scaling, double-double (error-free) arithmetic, Horner evaluation and a
//! square root.
//!
//! Invariants (as for the whole crate): `no_std`, no allocation, no panics (no indexing,
//! no unchecked integer arithmetic that could overflow), and only IEEE-754 `+ - * /`,
//! comparisons and bit manipulation, so the results are bit-identical on every target and
//! for every Kiln backend (they all call these functions instead of a platform libm).
//! There is deliberately no fused multiply-add: `two_prod` uses Dekker's splitting, which
//! is exact as long as no intermediate overflows (|a|, |b| < 2^995).
//!
//! Accuracy: `two_sum`/`two_prod` are exact; the double-double operations are accurate to
//! about 2^-104 relative; `sqrt` is faithfully rounded (within 1 ulp, almost always
//! correctly rounded).

/// 2^n as an f64 for -1022 <= n <= 1023 (clamped into that range).
#[inline]
pub fn pow2(n: i32) -> f64 {
    let n = n.clamp(-1022, 1023);
    f64::from_bits(((n + 1023) as u64) << 52)
}

/// y * 2^k with a single rounding (y a normal number of magnitude about 1; k anything).
/// Overflows to infinity and underflows gracefully through the subnormals.
#[inline]
pub fn scale(y: f64, k: i32) -> f64 {
    if k > 1023 {
        let k2 = if k > 2046 { 2046 } else { k };
        y * pow2(1023) * pow2(k2 - 1023)
    } else if k < -1022 {
        // y * 2^(k+64) is still normal (y ~ 1, k >= -1086); the final multiply rounds once.
        let k2 = if k < -1086 { -1086 } else { k };
        y * pow2(k2 + 64) * pow2(-64)
    } else {
        y * pow2(k)
    }
}

/// Round to the nearest integer (halfway cases away from zero) and return it as i32
/// (saturating; only used on values far inside the i32 range).
#[inline]
pub fn round_i32(x: f64) -> i32 {
    if x < 0.0 {
        (x - 0.5) as i32
    } else {
        (x + 0.5) as i32
    }
}

/// Horner evaluation of c[0] + c[1] x + c[2] x^2 + ... (iterator based: cannot panic).
#[inline]
pub fn poly(x: f64, c: &[f64]) -> f64 {
    let mut it = c.iter().rev();
    let mut acc = match it.next() {
        Some(v) => *v,
        None => return 0.0,
    };
    for v in it {
        acc = acc * x + *v;
    }
    acc
}

/// Element `i` of a table, or 0.0 when out of range (callers never are; this keeps the
/// crate free of panicking index expressions).
#[inline]
pub fn at(t: &[f64], i: usize) -> f64 {
    match t.get(i) {
        Some(v) => *v,
        None => 0.0,
    }
}

/// s + e == a + b exactly, s = fl(a + b) (Knuth).
#[inline]
pub fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    let e = (a - (s - bb)) + (b - bb);
    (s, e)
}

/// s + e == a + b exactly, assuming |a| >= |b| or a == 0 (Dekker).
#[inline]
pub fn fast_two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let e = b - (s - a);
    (s, e)
}

/// Veltkamp split: hi + lo == a with hi holding the top 26 bits.
#[inline]
fn split(a: f64) -> (f64, f64) {
    let c = 134_217_729.0 * a; // 2^27 + 1
    let hi = c - (c - a);
    (hi, a - hi)
}

/// p + e == a * b exactly, p = fl(a * b) (Dekker; no FMA so every target agrees).
#[inline]
pub fn two_prod(a: f64, b: f64) -> (f64, f64) {
    let p = a * b;
    let (ah, al) = split(a);
    let (bh, bl) = split(b);
    let e = ((ah * bh - p) + ah * bl + al * bh) + al * bl;
    (p, e)
}

/// Double-double sum (ah + al) + (bh + bl), normalised.
#[inline]
pub fn dd_add(ah: f64, al: f64, bh: f64, bl: f64) -> (f64, f64) {
    let (s, e) = two_sum(ah, bh);
    let (t, f) = two_sum(al, bl);
    let (s, e) = fast_two_sum(s, e + t);
    fast_two_sum(s, e + f)
}

/// Double-double product (ah + al) * (bh + bl), normalised.
#[inline]
pub fn dd_mul(ah: f64, al: f64, bh: f64, bl: f64) -> (f64, f64) {
    let (p, e) = two_prod(ah, bh);
    fast_two_sum(p, e + (ah * bl + al * bh))
}

/// Double-double times double.
#[inline]
pub fn dd_mul_d(ah: f64, al: f64, b: f64) -> (f64, f64) {
    let (p, e) = two_prod(ah, b);
    fast_two_sum(p, e + al * b)
}

/// Double-double quotient (ah + al) / (bh + bl), normalised (bh != 0).
#[inline]
pub fn dd_div(ah: f64, al: f64, bh: f64, bl: f64) -> (f64, f64) {
    let q = ah / bh;
    let (p, e) = two_prod(q, bh);
    let r = (((ah - p) - e) + al) - q * bl;
    fast_two_sum(q, r / bh)
}

/// Biased exponent field of an f64.
#[inline]
pub fn biased_exp(x: f64) -> i32 {
    ((x.to_bits() >> 52) & 0x7ff) as i32
}

/// Square root, faithfully rounded, for any x (NaN for x < 0, as IEEE).
pub fn sqrt(x: f64) -> f64 {
    if x.is_nan() || x < 0.0 {
        return f64::NAN;
    }
    if x == 0.0 || x.is_infinite() {
        return x;
    }
    let (m, e) = sqrt_split(x);
    let y = sqrt_1_4(m);
    y * pow2(e)
}

/// Writes x (positive, finite, non-zero) as m * 2^(2e) with m in [1, 4).
#[inline]
fn sqrt_split(x: f64) -> (f64, i32) {
    let mut xx = x;
    let mut adj = 0;
    if biased_exp(xx) == 0 {
        xx *= pow2(108); // subnormal: make it normal (even power keeps the root exact)
        adj = -54;
    }
    let ex = biased_exp(xx) - 1023; // xx = 1.f * 2^ex
    let e = if ex >= 0 { ex / 2 } else { (ex - 1) / 2 }; // floor(ex / 2)
    let m = f64::from_bits((xx.to_bits() & 0x000f_ffff_ffff_ffff) | (1023u64 << 52)) // [1, 2)
        * if ex - 2 * e == 1 { 2.0 } else { 1.0 };
    (m, e + adj)
}

/// sqrt(m) for m in [1, 4): Newton from a linear guess, then one exact-residual correction.
#[inline]
fn sqrt_1_4(m: f64) -> f64 {
    let mut y = 0.6 + 0.4 * m; // within 10% on [1, 4]
    y = 0.5 * (y + m / y);
    y = 0.5 * (y + m / y);
    y = 0.5 * (y + m / y);
    y = 0.5 * (y + m / y);
    let (p, e) = two_prod(y, y);
    y + ((m - p) - e) / (y + y)
}

/// sqrt(z) as a double-double (sh + sl) for z > 0 finite normal.
#[inline]
pub fn sqrt_dd(z: f64) -> (f64, f64) {
    let sh = sqrt(z);
    let (p, e) = two_prod(sh, sh);
    (sh, ((z - p) - e) / (sh + sh))
}
