//! Fused multiply-add, `a * b + c` with a single rounding: `fmaf` (f32) and `fma` (f64),
//! computed in software so every target and every Kiln backend gets the same bits
//! (stable `core` has no `mul_add`, and hardware FMA is not available everywhere).
//!
//! Invariants (as for the whole crate): `no_std`, no allocation, no panics (every shift
//! amount is range-checked, and every integer operation is bounded as commented), and only
//! IEEE-754 `+ - *`, comparisons, integer and bit manipulation.
//!
//! Algorithms (written for this crate):
//! - `fmaf`: the product of two f32 is exact in f64 (48 significant bits, exponents far
//!   inside f64's range), so `s = fl64(a b + c)` is the only rounding before the final
//!   conversion to f32. Rounding twice can only go wrong when `s` is exactly halfway
//!   between two f32 values (any other f32 midpoint between the exact value and `s` would
//!   be an f64 closer to the exact value than `s`); then the exact error of the f64 sum
//!   (Knuth's two-sum) says which way the exact value lies, and `s` is moved one f64 ulp
//!   that way before converting.
//! - `fma`: integer arithmetic. The 106-bit significand product (u128) and the 53-bit
//!   significand of `c` are placed with their leading bits at bit 124 or 125, the one with
//!   the smaller exponent is shifted right with a sticky bit, they are added or subtracted,
//!   and the sum is rounded to nearest-even at bit 53 (or at the 2^-1074 position for
//!   subnormal results) and packed, overflowing to infinity. A sticky bit is only ever
//!   produced when the exponents differ by more than 20, so the sum then still has its
//!   leading bit at 123 or above and the rounding position is more than 70 bits above the
//!   sticky bit; when the operands can cancel, no bit was shifted out and the sum is exact.
//!
//! Special values follow IEEE 754: NaN in, NaN out; inf * 0 + c = NaN; inf - inf = NaN;
//! a finite product plus an infinite `c` is `c` (even when the product would overflow);
//! an exactly-zero sum of non-zero terms is +0, a sum of two zeros is -0 only when both
//! are -0, and a non-zero exact result that rounds to zero keeps its sign.
//!
//! Accuracy: correctly rounded (round to nearest, ties to even) for every input; checked bit
//! for bit against the host's hardware FMA by `tests/fma.rs`.

use crate::fp::two_sum;

const FRAC_MASK: u64 = (1u64 << 52) - 1;

/// Whether the finite f64 `s` is exactly halfway between two adjacent f32 values (or
/// between 0 and the smallest f32 subnormal, or between `f32::MAX` and 2^128).
#[inline]
fn is_f32_midpoint(s: f64) -> bool {
    let bits = s.to_bits();
    let be = ((bits >> 52) & 0x7ff) as i32;
    if be == 0 {
        return false; // zero or an f64 subnormal: far below half the smallest f32 subnormal
    }
    let m = (bits & FRAC_MASK) | (1u64 << 52); // |s| = m 2^(e - 52)
    let e = be - 1023;
    // Number of low bits of m below the f32 rounding position: 52 - 23 for f32 normal
    // results; for f32 subnormal ones the f32 quantum is 2^-149, so -149 - (e - 52).
    let k = if e >= -126 { 29 } else { -97 - e };
    if k > 53 {
        return false; // |s| < 2^-150: rounds to zero, and so does the exact sum
    }
    let k = k as u32; // 29..=53
    m & ((1u64 << k) - 1) == 1u64 << (k - 1)
}

/// `a * b + c` with a single rounding (round to nearest, ties to even).
pub fn fmaf(a: f32, b: f32, c: f32) -> f32 {
    let p = a as f64 * b as f64; // exact (or inf/NaN for non-finite a, b)
    let cc = c as f64;
    let s = p + cc; // signed zeros, infinities and NaNs come out right here
    if !s.is_finite() || !is_f32_midpoint(s) {
        return s as f32;
    }
    // s is an f32 halfway point: decide by the exact rounding error of the f64 sum.
    let (_, err) = two_sum(p, cc);
    if err == 0.0 {
        return s as f32; // an exact tie: ties to even
    }
    // s != 0 (it is a midpoint) and finite, so its bits are neither 0 nor the largest.
    let bits = s.to_bits();
    let toward_larger_magnitude = (err > 0.0) == (s > 0.0);
    let nudged = if toward_larger_magnitude {
        bits.wrapping_add(1)
    } else {
        bits.wrapping_sub(1)
    };
    f64::from_bits(nudged) as f32
}

/// (significand with its leading bit at bit 52, exponent of its last bit) of a finite
/// non-zero |x|: |x| = m 2^e.
#[inline]
fn unpack(x: f64) -> (u64, i32) {
    let bits = x.to_bits();
    let be = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & FRAC_MASK;
    if be == 0 {
        // subnormal (frac != 0 as x != 0): leading_zeros in 12..=63, sh in 1..=52
        let sh = frac.leading_zeros().saturating_sub(11);
        (frac << sh, -1074 - sh as i32)
    } else {
        (frac | (1u64 << 52), be - 1075)
    }
}

/// v / 2^d truncated, with bit 0 set when any non-zero bit was shifted out (d >= 1).
#[inline]
fn shr_sticky(v: u128, d: i32) -> u128 {
    if d <= 0 {
        return v;
    }
    if d >= 128 {
        return (v != 0) as u128;
    }
    let d = d as u32;
    let lost = v & ((1u128 << d) - 1);
    (v >> d) | (lost != 0) as u128
}

/// The f64 nearest to (-1)^neg r 2^e (ties to even), for 0 < r < 2^127; overflows to
/// infinity and rounds through the subnormals (to a signed zero when tiny).
#[inline]
fn round_pack(r: u128, e: i32, neg: bool) -> f64 {
    let sign = if neg { 1u64 << 63 } else { 0 };
    let top = 127 - r.leading_zeros() as i32; // r has its leading bit at `top` (0..=126)
                                              // Bits to drop: keep 53 significant bits, but nothing below 2^-1074.
    let shift = (top - 52).max(-1074 - e);
    let q: u64 = if shift <= 0 {
        // exact; -shift <= 52 - top, so q < 2^53
        (r << (-shift) as u32) as u64
    } else if shift >= 128 {
        0 // r < 2^127 <= half a unit in the last place: rounds to zero
    } else {
        let sh = shift as u32;
        let q0 = r >> sh; // < 2^53
        let rem = r & ((1u128 << sh) - 1);
        let half = 1u128 << (sh - 1);
        let up = rem > half || (rem == half && q0 & 1 == 1);
        (q0 as u64) + up as u64 // <= 2^53
    };
    // value = q 2^t with t = e + shift >= -1074 and q <= 2^53. For a normal result
    // q = 2^52 + fraction and t + 1074 is the biased exponent minus one, so adding q
    // supplies the exponent's missing one (and a rounding carry to 2^53 adds one more);
    // for a subnormal result t + 1074 = 0 and q < 2^52 (or exactly 2^52: the smallest
    // normal). Either way the sum is the result's bit pattern.
    let biased = e + shift + 1074;
    if biased > 2046 {
        return f64::from_bits(sign | 0x7ff0_0000_0000_0000);
    }
    let bits = ((biased.max(0) as u64) << 52) + q; // < 2^11 2^52 + 2^53: no overflow
    if bits >= 0x7ff0_0000_0000_0000 {
        return f64::from_bits(sign | 0x7ff0_0000_0000_0000);
    }
    f64::from_bits(sign | bits)
}

/// `a * b + c` with a single rounding (round to nearest, ties to even).
pub fn fma(a: f64, b: f64, c: f64) -> f64 {
    if !a.is_finite() || !b.is_finite() {
        return a * b + c; // NaN, inf * 0 = NaN, or an infinite product (inf - inf = NaN)
    }
    if !c.is_finite() {
        return c + c; // the exact product is finite: c itself (a NaN is quieted)
    }
    if a == 0.0 || b == 0.0 {
        return a * b + c; // an exact signed zero plus c: IEEE's signed-zero sum rules
    }
    if c == 0.0 {
        // The exact result a*b is non-zero: one rounding, keeping its sign on underflow.
        return a * b;
    }
    let (ma, ea) = unpack(a);
    let (mb, eb) = unpack(b);
    let (mc, ec) = unpack(c);
    let neg_p = (a.to_bits() ^ b.to_bits()) >> 63 != 0;
    let neg_c = c.to_bits() >> 63 != 0;
    // ma mb is in [2^104, 2^106): shifted by 20 its leading bit is at 124 or 125 and it has
    // 20 zero bits at the bottom. mc << 73 has its leading bit at 125 and 73 zero bits.
    // Exponents: ea, eb, ec are in [-1126, 971], so nothing here overflows an i32.
    let x = ((ma as u128) * (mb as u128)) << 20;
    let ex = ea + eb - 20;
    let y = (mc as u128) << 73;
    let ey = ec - 73;
    let (x, y, e) = if ex >= ey {
        (x, shr_sticky(y, ex - ey), ex)
    } else {
        (shr_sticky(x, ey - ex), y, ey)
    };
    // Both are below 2^126, so the sum is below 2^127.
    let (r, neg) = if neg_p == neg_c {
        (x + y, neg_p)
    } else if x >= y {
        (x - y, neg_p)
    } else {
        (y - x, neg_c)
    };
    if r == 0 {
        // Exact cancellation (a sticky bit would make x != y): +0 when rounding to nearest.
        return 0.0;
    }
    round_pack(r, e, neg)
}
