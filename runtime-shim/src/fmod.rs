//! Floating-point remainder (f64): `fmod`, computed exactly.
//!
//! Invariants: `no_std`, no allocation, no panics (the integer remainder uses
//! `checked_rem`), only integer and bit manipulation, so results are bit-identical on every
//! target and for every Kiln backend.
//!
//! Algorithm (written for this crate): with |x| = mx 2^ex and |y| = my 2^ey (mx, my
//! integers below 2^53, ex >= ey when |x| > |y|), the remainder of mx 2^(ex - ey) by my is
//! computed by long division in steps of 11 bits (r < 2^53, so r 2^11 < 2^64 never
//! overflows), then scaled back by 2^ey, which is exact because the true remainder is
//! representable. No quotient is ever formed, so the result is exact for every input.
//!
//! Accuracy: exact (0 ulp). Special cases follow C99: fmod(x, +-0) = NaN, fmod(+-inf, y) =
//! NaN, fmod(x, +-inf) = x for finite x, the result has the sign of x (fmod(-0, y) = -0).

/// (integer significand, exponent of its last bit) of a finite non-zero |x|.
#[inline]
fn decompose(x: f64) -> (u64, i32) {
    let bits = x.to_bits();
    let be = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & 0x000f_ffff_ffff_ffff;
    if be == 0 {
        (frac, -1074)
    } else {
        (frac | (1u64 << 52), be - 1075)
    }
}

/// 2^e for -1074 <= e <= 1023 (subnormal powers included).
#[inline]
fn exact_pow2(e: i32) -> f64 {
    if e >= -1022 {
        crate::fp::pow2(e)
    } else {
        let sh = (e + 1074).clamp(0, 51) as u32;
        f64::from_bits(1u64 << sh)
    }
}

/// x - n y where n is x / y rounded toward zero, computed exactly; sign of x.
pub fn fmod(x: f64, y: f64) -> f64 {
    if x.is_nan() || y.is_nan() || x.is_infinite() || y == 0.0 {
        return f64::NAN;
    }
    if y.is_infinite() || x == 0.0 {
        return x;
    }
    let ax = x.abs();
    let ay = y.abs();
    if ax < ay {
        return x;
    }
    if ax == ay {
        return 0.0f64.copysign(x);
    }
    let (mx, ex) = decompose(ax);
    let (my, ey) = decompose(ay);
    let mut r = match mx.checked_rem(my) {
        Some(v) => v,
        None => return f64::NAN, // my != 0 always; unreachable
    };
    let mut d = ex - ey; // >= 0 because |x| > |y|
    while d > 0 && r != 0 {
        let s = if d > 11 { 11 } else { d };
        r = match (r << s).checked_rem(my) {
            Some(v) => v,
            None => return f64::NAN,
        };
        d -= s;
    }
    // r < my < 2^53 is exactly representable, and so is r 2^ey (|result| < |y|)
    ((r as f64) * exact_pow2(ey)).copysign(x)
}
