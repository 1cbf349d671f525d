//! Trigonometric functions (f64): `sin`, `cos`, `tan`, with argument reduction that is
//! accurate for every finite input.
//!
//! Invariants: `no_std`, no allocation, no panics (table reads go through `get`), only IEEE
//! `+ - * /`, comparisons, integer and bit manipulation, so results are bit-identical on
//! every target and for every Kiln backend.
//!
//! Algorithms (written for this crate):
//! - |x| <= pi/4: no reduction.
//! - |x| < 2^20: Cody-Waite with pi/2 in four parts (33 + 33 + 33 + 53 bits), accumulated
//!   in double-double: the reduced argument is correct to about 2^-130 absolute.
//! - otherwise (any finite x): Payne-Hanek. x = M 2^E (M a 53-bit integer); the 192 bits of
//!   2/pi that matter for x * 2/pi mod 4 are multiplied by M exactly in 64-bit limbs; the
//!   top 128 fraction bits give the reduced argument as a double-double.
//! - Kernels on the reduced argument a = ah + al (|a| <= pi/4 + tiny) produce sin(a) and
//!   cos(a) as double-doubles from their Taylor series (terms to a^17 / a^18, truncation
//!   < 2^-60); tan is their double-double quotient.
//!
//! Accuracy (measured against exact values and the host libm, see tests/accuracy.rs):
//! within 1 ulp (about 0.57 ulp measured) for all finite inputs. sin(+-0) = +-0, tan(+-0) = +-0,
//! sin/cos/tan(+-inf) = NaN, NaN -> NaN.

use crate::coeffs::{INV_PIO2, PIO2_1, PIO2_2, PIO2_3, PIO2_4, PIO2_HI, PIO2_LO, TWO_OVER_PI_BITS};
use crate::exp_log::inv_factorials;
use crate::fp::{dd_div, dd_mul, fast_two_sum, poly, pow2, two_prod, two_sum};

/// [1/3!, 1/5!, ..., 1/17!] (signs applied in the kernel): sin(a) = a - a^3 S(-a^2).
const SIN_S: [f64; 8] = inv_factorials::<8>(3, 2);
/// [1/4!, 1/6!, ..., 1/18!]: cos(a) = 1 - a^2/2 + a^4 C(-a^2).
const COS_C: [f64; 8] = inv_factorials::<8>(4, 2);

/// Below this |x|: sin(x) = tan(x) = x and cos(x) = 1 after rounding.
const TINY: f64 = 7.450580596923828e-9; // 2^-27

/// Alternating series sum_i (-z)^i c[i].
#[inline]
fn alt_poly(z: f64, c: &[f64]) -> f64 {
    poly(-z, c)
}

/// sin(ah + al) as a double-double, |ah| <= ~pi/4, |al| <= 2^-50 |ah|.
#[inline]
fn sin_dd(ah: f64, al: f64) -> (f64, f64) {
    let z = ah * ah;
    let t = -(ah * z) * alt_poly(z, &SIN_S);
    let (h, l) = fast_two_sum(ah, t);
    (h, l + al * (1.0 - 0.5 * z))
}

/// cos(ah + al) as a double-double, |ah| <= ~pi/4.
#[inline]
fn cos_dd(ah: f64, al: f64) -> (f64, f64) {
    let (zh, zl) = two_prod(ah, ah);
    let hz = 0.5 * zh;
    let w = 1.0 - hz; // hz <= 0.31: w in [0.69, 1]
    let tail = zh * zh * alt_poly(zh, &COS_C);
    let lo = ((1.0 - w) - hz) - 0.5 * zl + tail - ah * al;
    fast_two_sum(w, lo)
}

/// Reduces x (finite, |x| > pi/4) to (n, ah, al) with x = n pi/2 + (ah + al), |ah + al| <=
/// ~pi/4; only n mod 4 is meaningful.
fn reduce(x: f64) -> (u32, f64, f64) {
    if x.abs() < 1_048_576.0 {
        reduce_cody_waite(x)
    } else {
        reduce_payne_hanek(x)
    }
}

fn reduce_cody_waite(x: f64) -> (u32, f64, f64) {
    let k = crate::fp::round_i32(x * INV_PIO2);
    let kd = k as f64; // |k| < 2^20: every k * PIO2_{1,2,3} below is exact
    let t1 = x - kd * PIO2_1; // exact (Sterbenz)
    let (s, e) = two_sum(t1, -(kd * PIO2_2));
    let (s, e2) = two_sum(s, -(kd * PIO2_3));
    let lo = (e + e2) - kd * PIO2_4;
    let (ah, al) = two_sum(s, lo);
    ((k as u32) & 3, ah, al)
}

#[inline]
fn word(i: usize) -> u64 {
    match TWO_OVER_PI_BITS.get(i) {
        Some(w) => *w,
        None => 0,
    }
}

fn reduce_payne_hanek(x: f64) -> (u32, f64, f64) {
    let bits = x.to_bits();
    let bexp = ((bits >> 52) & 0x7ff) as i32; // |x| >= 2^20: normal
    let m = (bits & 0x000f_ffff_ffff_ffff) | (1u64 << 52);
    let e = bexp - 1075; // |x| = m 2^e, e in [-32, 971]
                         // Bits of 2/pi with weight 2^-i for i <= e - 2 contribute multiples of 4: skip them.
                         // The window starts at i0 = e - 1, i.e. at padded bit position p0 = i0 + 63 >= 30.
    let p0 = (e + 62) as usize;
    let q = p0 / 64;
    let b = (p0 % 64) as u32;
    let cat = |i: usize| -> u64 {
        let two = ((word(i) as u128) << 64) | word(i + 1) as u128;
        (two >> (64 - b)) as u64 // b < 64, so the shift is in 1..=64
    };
    let (w2, w1, w0) = if b == 0 {
        (word(q), word(q + 1), word(q + 2))
    } else {
        (cat(q), cat(q + 1), cat(q + 2))
    };
    // P = m * (w2:w1:w0): 245 bits, 190 of them fractional (x * 2/pi mod 4 = P / 2^190)
    let t0 = (m as u128) * (w0 as u128);
    let t1 = (m as u128) * (w1 as u128) + (t0 >> 64);
    let t2 = (m as u128) * (w2 as u128) + (t1 >> 64);
    let p0w = t0 as u64;
    let p1w = t1 as u64;
    let p2w = t2 as u64;
    let int_part = ((p2w >> 62) & 3) as u32;
    // top 128 fraction bits (bits 189..62 of P) as a two's-complement fraction in [-1/2, 1/2)
    let frac = ((p2w as u128) << 66) | ((p1w as u128) << 2) | ((p0w >> 62) as u128);
    let n = int_part.wrapping_add((frac >> 127) as u32) & 3;
    let neg = (frac >> 127) != 0;
    let mag = if neg { frac.wrapping_neg() } else { frac };
    if mag == 0 {
        // not reachable for a finite double (pi is irrational); kept for totality
        return (if x < 0.0 { n.wrapping_neg() & 3 } else { n }, 0.0, 0.0);
    }
    let lz = mag.leading_zeros(); // < 128
    let norm = mag << lz; // top bit set
    let h = (norm >> 75) as u64; // 53 bits
    let l = ((norm >> 22) as u64) & ((1u64 << 53) - 1); // next 53 bits
                                                        // value = (h 2^75 + l 2^22) 2^-(128 + lz)
    let lzi = lz as i32;
    let rh = (h as f64) * pow2(75 - 128 - lzi);
    let rl = (l as f64) * pow2(22 - 128 - lzi);
    let (rh, rl) = fast_two_sum(rh, rl);
    // times pi/2
    let (ah, al) = dd_mul(rh, rl, PIO2_HI, PIO2_LO);
    let (ah, al) = if neg { (-ah, -al) } else { (ah, al) };
    // The above reduced |x|; x < 0 mirrors both the quadrant and the remainder.
    if x < 0.0 {
        (n.wrapping_neg() & 3, -ah, -al)
    } else {
        (n, ah, al)
    }
}

/// Sine. sin(+-0) = +-0; sin(+-inf) = NaN; accurate for every finite x.
pub fn sin(x: f64) -> f64 {
    if x.is_nan() {
        return x + x;
    }
    if x.is_infinite() {
        return f64::NAN;
    }
    let a = x.abs();
    if a < TINY {
        return x;
    }
    if a <= core::f64::consts::FRAC_PI_4 {
        let (h, l) = sin_dd(x, 0.0);
        return h + l;
    }
    let (n, ah, al) = reduce(x);
    let (h, l) = match n {
        0 => sin_dd(ah, al),
        1 => cos_dd(ah, al),
        2 => {
            let (h, l) = sin_dd(ah, al);
            (-h, -l)
        }
        _ => {
            let (h, l) = cos_dd(ah, al);
            (-h, -l)
        }
    };
    h + l
}

/// Cosine. cos(+-0) = 1; cos(+-inf) = NaN; accurate for every finite x.
pub fn cos(x: f64) -> f64 {
    if x.is_nan() {
        return x + x;
    }
    if x.is_infinite() {
        return f64::NAN;
    }
    let a = x.abs();
    if a < TINY {
        return 1.0;
    }
    if a <= core::f64::consts::FRAC_PI_4 {
        let (h, l) = cos_dd(x, 0.0);
        return h + l;
    }
    let (n, ah, al) = reduce(x);
    let (h, l) = match n {
        0 => cos_dd(ah, al),
        1 => {
            let (h, l) = sin_dd(ah, al);
            (-h, -l)
        }
        2 => {
            let (h, l) = cos_dd(ah, al);
            (-h, -l)
        }
        _ => sin_dd(ah, al),
    };
    h + l
}

/// Tangent. tan(+-0) = +-0; tan(+-inf) = NaN; accurate for every finite x.
pub fn tan(x: f64) -> f64 {
    if x.is_nan() {
        return x + x;
    }
    if x.is_infinite() {
        return f64::NAN;
    }
    let a = x.abs();
    if a < TINY {
        return x;
    }
    let (n, ah, al) = if a <= core::f64::consts::FRAC_PI_4 {
        (0, x, 0.0)
    } else {
        reduce(x)
    };
    let (sh, sl) = sin_dd(ah, al);
    let (ch, cl) = cos_dd(ah, al);
    let (h, l) = if n & 1 == 0 {
        dd_div(sh, sl, ch, cl)
    } else {
        let (h, l) = dd_div(ch, cl, sh, sl);
        (-h, -l)
    };
    h + l
}
