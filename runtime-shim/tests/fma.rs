//! Fused multiply-add (`fmaf`, `fma` and their C exports) compared bit for bit against the
//! host's correctly rounded `f32::mul_add`/`f64::mul_add` (hardware FMA on x86_64, or the
//! C library's exact `fma`): millions of random operand triples in every exponent range
//! (raw bit patterns, subnormal and near-overflow results, cancellation c ~ -a b, f32
//! double-rounding halfway points, f64 exact ties), plus explicit IEEE-754 special cases
//! with literal expected values. NaN results only have to be NaN (payloads are not
//! compared); every other result must have the same bits, so signed zeros count.

use kiln_shim::{fma, fmaf, kiln_shim_fma, kiln_shim_fmaf};

/// Random triples per generator (each test prints how many it compared).
const N: usize = 1 << 20;

// ---------------------------------------------------------------- helpers

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in lo..=hi.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }
    fn coin(&mut self) -> bool {
        self.next() & 1 == 1
    }
}

fn same32(got: f32, want: f32) -> bool {
    (got.is_nan() && want.is_nan()) || got.to_bits() == want.to_bits()
}
fn same64(got: f64, want: f64) -> bool {
    (got.is_nan() && want.is_nan()) || got.to_bits() == want.to_bits()
}

#[track_caller]
fn check32(a: f32, b: f32, c: f32) {
    let want = a.mul_add(b, c);
    let got = fmaf(a, b, c);
    assert!(
        same32(got, want),
        "fmaf({a:e}, {b:e}, {c:e}) [{:#010x} {:#010x} {:#010x}] = {got:e} [{:#010x}], want {want:e} [{:#010x}]",
        a.to_bits(),
        b.to_bits(),
        c.to_bits(),
        got.to_bits(),
        want.to_bits()
    );
}

#[track_caller]
fn check64(a: f64, b: f64, c: f64) {
    let want = a.mul_add(b, c);
    let got = fma(a, b, c);
    assert!(
        same64(got, want),
        "fma({a:e}, {b:e}, {c:e}) [{:#018x} {:#018x} {:#018x}] = {got:e} [{:#018x}], want {want:e} [{:#018x}]",
        a.to_bits(),
        b.to_bits(),
        c.to_bits(),
        got.to_bits(),
        want.to_bits()
    );
}

/// A random significand pattern of `bits` bits: random, all ones, zero, one bit, only low
/// bits, or only high bits (the last ones exercise carries and exact cases).
fn frac_pattern(rng: &mut Rng, bits: u32) -> u64 {
    let all = (1u64 << bits) - 1;
    match rng.next() % 6 {
        0 => 0,
        1 => all,
        2 => 1u64 << (rng.next() % bits as u64),
        3 => rng.next() & ((1u64 << (rng.next() % (bits as u64 + 1))) - 1),
        4 => rng.next() & all & !((1u64 << (rng.next() % (bits as u64 + 1))) - 1),
        _ => rng.next() & all,
    }
}

/// An f32 with biased exponent `be` (0..=255), a random sign and significand pattern.
fn f32_with(rng: &mut Rng, be: i64) -> f32 {
    let sign = if rng.coin() { 1u32 << 31 } else { 0 };
    f32::from_bits(sign | ((be as u32) << 23) | frac_pattern(rng, 23) as u32)
}

/// An f64 with biased exponent `be` (0..=2047), a random sign and significand pattern.
fn f64_with(rng: &mut Rng, be: i64) -> f64 {
    let sign = if rng.coin() { 1u64 << 63 } else { 0 };
    f64::from_bits(sign | ((be as u64) << 52) | frac_pattern(rng, 52))
}

/// Biased exponents (x, y) in 1..=max with x + y == t for a random t in tlo..=thi
/// (2 <= tlo <= thi <= 2 max).
fn split_exp(rng: &mut Rng, tlo: i64, thi: i64, max: i64) -> (i64, i64) {
    let t = rng.range(tlo, thi);
    let x = rng.range((t - max).max(1), (t - 1).min(max));
    (x, t - x)
}

/// 2^k as an f32, -149 <= k <= 127.
fn pow2_32(k: i64) -> f32 {
    if k >= -126 {
        f32::from_bits(((k + 127) as u32) << 23)
    } else {
        f32::from_bits(1u32 << (k + 149))
    }
}

/// 2^k as an f64, -1074 <= k <= 1023.
fn pow2_64(k: i64) -> f64 {
    if k >= -1022 {
        f64::from_bits(((k + 1023) as u64) << 52)
    } else {
        f64::from_bits(1u64 << (k + 1074))
    }
}

/// Runs `n` triples from `gen` through `check`; returns n.
fn sweep<T: Copy>(
    seed: u64,
    n: usize,
    mut gen: impl FnMut(&mut Rng) -> (T, T, T),
    mut check: impl FnMut(T, T, T),
) -> usize {
    let mut rng = Rng(seed);
    for _ in 0..n {
        let (a, b, c) = gen(&mut rng);
        check(a, b, c);
    }
    n
}

fn report(what: &str, n: usize) {
    println!("{what}: {n} random cases identical to mul_add");
}

// ---------------------------------------------------------------- f32, random

#[test]
fn fmaf_random_bits() {
    let f = |r: &mut Rng| f32::from_bits(r.next() as u32);
    let n = sweep(1, N, |r| (f(r), f(r), f(r)), check32);
    let g = |r: &mut Rng| {
        let be = r.range(0, 255);
        f32_with(r, be)
    };
    let n = n + sweep(2, N, |r| (g(r), g(r), g(r)), check32);
    report("fmaf random bits / exponents", n);
}

#[test]
fn fmaf_random_cancellation() {
    // c = -RN32(a b), moved by up to 3 ulps and sometimes scaled by 2^+-1.
    let n = sweep(
        3,
        N,
        |r| {
            let (ea, eb) = split_exp(r, 130, 375, 254);
            let (a, b) = (f32_with(r, ea), f32_with(r, eb));
            let p = -((a as f64 * b as f64) as f32);
            let mut c = f32::from_bits(p.to_bits().wrapping_add(r.range(-3, 3) as u32));
            match r.next() % 4 {
                0 => c *= 2.0,
                1 => c *= 0.5,
                _ => {}
            }
            (a, b, c)
        },
        check32,
    );
    report("fmaf cancellation", n);
}

#[test]
fn fmaf_random_tiny_and_huge() {
    // products around the subnormal range with small or subnormal c
    let n = sweep(
        4,
        N,
        |r| {
            let (ea, eb) = split_exp(r, 90, 135, 254);
            let (mut a, b) = (f32_with(r, ea), f32_with(r, eb));
            if r.next() % 8 == 0 {
                a = f32_with(r, 0); // a subnormal operand
            }
            let ec = r.range(-4, 4).max(0); // c often subnormal
            (a, b, f32_with(r, ec))
        },
        check32,
    );
    // products around the overflow threshold with c near +-f32::MAX
    let n = n + sweep(
        5,
        N,
        |r| {
            let (ea, eb) = split_exp(r, 370, 384, 254);
            let (a, b) = (f32_with(r, ea), f32_with(r, eb));
            let ec = r.range(230, 254);
            (a, b, f32_with(r, ec))
        },
        check32,
    );
    report("fmaf tiny and huge", n);
}

/// (a, b) with a b = 1 + eta, |eta| < 2^-29, a in [1, 2) and b in (1/2, 1].
fn near_reciprocals(r: &mut Rng) -> (f32, f32) {
    if r.coin() {
        // (1 + i 2^-23)(1 - i 2^-23) / 2 = (1 - i^2 2^-46) / 2: eta < 0
        let i = r.range(1, 300) as f32;
        let e = f32::EPSILON;
        return (1.0 + i * e, 1.0 - i * e);
    }
    loop {
        let a = f32::from_bits(0x3f80_0000 | (r.next() as u32 & 0x7f_ffff));
        let b = 1.0 / a;
        if ((a as f64 * b as f64) - 1.0).abs() < 2f64.powi(-29) {
            return (a, b);
        }
    }
}

/// a b + c within 2^-29 of a half unit of c's last place away from c: the f64 sum of the
/// exact product and c is then exactly an f32 halfway point (where the exact value isn't),
/// the case a naive f64 computation rounds twice.
fn halfway32(r: &mut Rng) -> (f32, f32, f32) {
    let (a, b) = near_reciprocals(r);
    let bec = r.range(0, 254);
    let c = f32_with(r, bec);
    let h = if bec == 0 { -150 } else { bec - 127 - 24 }; // half an ulp of c is 2^h
    let ka = r.range((h - 125).max(-126), (h + 125).min(127));
    let sa = if r.coin() { -1.0 } else { 1.0 };
    let sb = if r.coin() { -1.0 } else { 1.0 };
    (sa * a * pow2_32(ka), sb * b * pow2_32(h - ka), c)
}

#[test]
fn fmaf_random_halfway() {
    let mut traps = 0usize;
    let n = sweep(6, N, halfway32, |a, b, c| {
        check32(a, b, c);
        let naive = (a as f64 * b as f64 + c as f64) as f32;
        if naive.to_bits() != a.mul_add(b, c).to_bits() {
            traps += 1;
        }
    });
    report("fmaf halfway", n);
    println!("  of which the naive f64 computation rounds wrongly: {traps}");
    assert!(traps > n / 8, "only {traps} double-rounding cases");
}

// ---------------------------------------------------------------- f64, random

#[test]
fn fma_random_bits() {
    let f = |r: &mut Rng| f64::from_bits(r.next());
    let n = sweep(11, N, |r| (f(r), f(r), f(r)), check64);
    let g = |r: &mut Rng| {
        let be = r.range(0, 2047);
        f64_with(r, be)
    };
    let n = n + sweep(12, N, |r| (g(r), g(r), g(r)), check64);
    // operands of comparable size (the interesting alignments)
    let n = n + sweep(
        13,
        N,
        |r| {
            let (ea, eb) = split_exp(r, 1900, 2200, 2046);
            let ec = r
                .range(ea + eb - 1023 - 60, ea + eb - 1023 + 60)
                .clamp(0, 2046);
            (f64_with(r, ea), f64_with(r, eb), f64_with(r, ec))
        },
        check64,
    );
    report("fma random bits / exponents", n);
}

#[test]
fn fma_random_cancellation() {
    // c = -RN(a b) exactly (the result is the product's rounding error), moved by up to 3
    // ulps, or scaled by 2^+-1.
    let n = sweep(
        14,
        N,
        |r| {
            let (ea, eb) = split_exp(r, 1030, 3060, 2046);
            let (a, b) = (f64_with(r, ea), f64_with(r, eb));
            let p = -(a * b);
            let mut c = f64::from_bits(p.to_bits().wrapping_add(r.range(-3, 3) as u64));
            if r.coin() {
                c = p;
            }
            match r.next() % 5 {
                0 => c *= 2.0,
                1 => c *= 0.5,
                _ => {}
            }
            (a, b, c)
        },
        check64,
    );
    report("fma cancellation", n);
}

#[test]
fn fma_random_tiny_and_huge() {
    // products around the subnormal range with small or subnormal c
    let n = sweep(
        15,
        N,
        |r| {
            let (ea, eb) = split_exp(r, 950, 1030, 2046);
            let (mut a, b) = (f64_with(r, ea), f64_with(r, eb));
            if r.next() % 8 == 0 {
                a = f64_with(r, 0); // a subnormal operand
            }
            let ec = r.range(-4, 6).max(0); // c often subnormal
            (a, b, f64_with(r, ec))
        },
        check64,
    );
    // products around the overflow threshold with c near +-f64::MAX
    let n = n + sweep(
        16,
        N,
        |r| {
            let (ea, eb) = split_exp(r, 3060, 3076, 2046);
            let (a, b) = (f64_with(r, ea), f64_with(r, eb));
            let ec = r.range(2020, 2046);
            (a, b, f64_with(r, ec))
        },
        check64,
    );
    report("fma tiny and huge", n);
}

/// a b = j half-ulps of c (j odd, up to 2^20): a b + c is often exactly halfway between two
/// doubles (ties to even), including in the subnormal range.
fn tie64(r: &mut Rng) -> (f64, f64, f64) {
    let bec = r.range(0, 2046);
    let c = f64_with(r, bec);
    let h = if bec == 0 { -1075 } else { bec - 1023 - 53 }; // half an ulp of c is 2^h
    let bits = r.range(0, 20) as u32;
    let j = ((r.next() & ((1u64 << bits) - 1)) | 1) as f64;
    let ka = r.range((h - 1023).max(-1022), (h + 1074).min(1000));
    let sa = if r.coin() { -1.0 } else { 1.0 };
    let sb = if r.coin() { -1.0 } else { 1.0 };
    (sa * j * pow2_64(ka), sb * pow2_64(h - ka), c)
}

/// The inverse of an odd x modulo 2^64 (Newton's iteration).
fn inv_mod_2_64(x: u64) -> u64 {
    let mut y = x; // correct to 3 bits
    for _ in 0..5 {
        y = y.wrapping_mul(2u64.wrapping_sub(x.wrapping_mul(y)));
    }
    y
}

/// a b within 2^-21 of its rounding unit from a halfway point, and c = (that distance,
/// with extra bits more than 20 places below the product's last bit): a b + c is then
/// just above or below a halfway point, and only the sticky bit of the aligned c says
/// which (the exponents differ by so much that c's low bits are shifted out).
fn sticky64(r: &mut Rng) -> (f64, f64, f64) {
    let ma = (1u64 << 52) | (r.next() & ((1u64 << 52) - 1)) | 1;
    let eps = r.range(1, 1 << 30) as u64;
    let half = if r.coin() { 1u64 << 51 } else { 1u64 << 52 };
    let target = half.wrapping_sub(eps) & ((1u64 << 53) - 1);
    let mb = (target.wrapping_mul(inv_mod_2_64(ma)) & ((1u64 << 52) - 1)) | (1u64 << 52);
    let p = ma as u128 * mb as u128; // a b = p 2^-104 with a = ma 2^-52, b = mb 2^-52
    let unit: u128 = if p >> 105 != 0 { 1 << 53 } else { 1 << 52 };
    let c_units = (unit / 2) as i128 - (p % unit) as i128; // a b + c_units 2^-104 is a tie
    let m = r.range(21, 22) as u32; // c's last bit 2^-m below the product's
    let tail = if r.coin() { 1i128 } else { -1i128 };
    let cm = (c_units << m) + tail; // |cm| < 2^53
    let c = cm as f64 * pow2_64(-104 - m as i64); // exact
    let (ka, kb) = (r.range(-500, 500), r.range(-500, 500));
    let sa = if r.coin() { -1.0 } else { 1.0 };
    let sb = if r.coin() { -1.0 } else { 1.0 };
    let a = sa * ma as f64 * pow2_64(ka - 52);
    let b = sb * mb as f64 * pow2_64(kb - 52);
    // c scaled like the product (two exact steps; it may become subnormal)
    let c = c * sa * sb * pow2_64((ka + kb) / 2) * pow2_64(ka + kb - (ka + kb) / 2);
    (a, b, c)
}

/// The m with (2^53 - (2m - 1)) (2^52 + m) = 2^105 + L, 0 < L < 2^33: a product just
/// above a power of two, whose low bits (L) fall off when it is aligned to a c 2^53 times
/// larger.
fn near_pow2_products() -> Vec<u64> {
    let m0 = (2f64.powf(25.5)) as u64;
    (m0 - 200..m0 + 200)
        .filter(|&m| {
            let km = (2 * m - 1) as u128 * m as u128;
            km < 1 << 52 && (1u128 << 52) - km < 1 << 33
        })
        .collect()
}

/// c + half an ulp of c + L 2^-105 half-ulps (c's significand even, not a power of two):
/// just above a halfway point that ties to c, seen only through the sticky bit of the
/// aligned product. Both signs, so it also checks c - (half an ulp + a little).
fn sticky64_small_product(r: &mut Rng, ms: &[u64]) -> (f64, f64, f64) {
    let m = ms[(r.next() % ms.len() as u64) as usize];
    let (ma, mb) = ((1u64 << 53) - (2 * m - 1), (1u64 << 52) + m);
    let mc = (1u64 << 52) | (r.next() & ((1u64 << 52) - 2)) | 2;
    let (ka, kb) = (r.range(-480, 480), r.range(-480, 480));
    let sa = if r.coin() { -1.0 } else { 1.0 };
    let sb = if r.coin() { -1.0 } else { 1.0 };
    let sc = if r.coin() { -1.0 } else { 1.0 };
    let a = sa * ma as f64 * pow2_64(ka - 53);
    let b = sb * mb as f64 * pow2_64(kb - 52);
    // a b = (1 + L 2^-105) 2^(ka + kb): half an ulp of c = mc 2^(ka + kb + 1)
    let k = ka + kb + 1;
    let c = sc * mc as f64 * pow2_64(k / 2) * pow2_64(k - k / 2);
    (a, b, c)
}

#[test]
fn fma_random_sticky() {
    let n = sweep(18, N, sticky64, check64);
    let ms = near_pow2_products();
    assert!(ms.len() > 10, "{ms:?}");
    let n = n + sweep(19, N, |r| sticky64_small_product(r, &ms), check64);
    report("fma sticky", n);
}

#[test]
fn fma_random_ties() {
    let n = sweep(17, N, tie64, check64);
    report("fma ties", n);
}

// ---------------------------------------------------------------- special cases

const SPECIAL32: [f32; 18] = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    -1.5,
    3.0,
    f32::MIN_POSITIVE,
    -f32::MIN_POSITIVE,
    1e-45,
    -1e-45,
    f32::MAX,
    -f32::MAX,
    1.0 + f32::EPSILON,
    f32::INFINITY,
    f32::NEG_INFINITY,
    f32::NAN,
    1.8446744e19, // 2^64
];

const SPECIAL64: [f64; 18] = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    -1.5,
    3.0,
    f64::MIN_POSITIVE,
    -f64::MIN_POSITIVE,
    5e-324,
    -5e-324,
    f64::MAX,
    -f64::MAX,
    1.0 + f64::EPSILON,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
    1.3407807929942597e154, // 2^512
];

#[test]
fn special_value_grid_matches_mul_add() {
    for &a in &SPECIAL32 {
        for &b in &SPECIAL32 {
            for &c in &SPECIAL32 {
                check32(a, b, c);
            }
        }
    }
    for &a in &SPECIAL64 {
        for &b in &SPECIAL64 {
            for &c in &SPECIAL64 {
                check64(a, b, c);
            }
        }
    }
}

#[track_caller]
fn is32(got: f32, want: f32) {
    assert!(same32(got, want), "got {got:e}, want {want:e}");
}
#[track_caller]
fn is64(got: f64, want: f64) {
    assert!(same64(got, want), "got {got:e}, want {want:e}");
}

#[test]
fn ieee_special_cases() {
    let (inf, nan) = (f64::INFINITY, f64::NAN);
    for (a, b, c, want) in [
        // signed zeros: a sum of zeros is -0 only when both are -0; an exact zero sum of
        // non-zero terms is +0
        (0.0, -1.0, 0.0, 0.0),
        (0.0, -1.0, -0.0, -0.0),
        (-0.0, -1.0, -0.0, 0.0),
        (-0.0, 1.0, -0.0, -0.0),
        (0.0, 0.0, -0.0, 0.0),
        (1.0, -1.0, 1.0, 0.0),
        (-2.0, 3.0, 6.0, 0.0),
        (2.0, 3.0, -0.0, 6.0),
        (0.0, 5.0, -7.0, -7.0),
        // infinities and NaN
        (inf, 0.0, 1.0, nan),
        (0.0, -inf, 1.0, nan),
        (inf, 0.0, nan, nan),
        (inf, 1.0, -inf, nan),
        (-inf, 1.0, -inf, -inf),
        (inf, -2.0, 1e30, -inf),
        (1.0, 1.0, inf, inf),
        (nan, 0.0, 1.0, nan),
        (1.0, nan, 1.0, nan),
        (1.0, 1.0, nan, nan),
        (0.0, 0.0, nan, nan),
    ] {
        is64(fma(a, b, c), want);
        is32(fmaf(a as f32, b as f32, c as f32), want as f32);
    }
    // a finite product plus an infinity is the infinity, even if the rounded product
    // would overflow (a naive a * b + c gives NaN)
    is64(fma(f64::MAX, 2.0, -inf), -inf);
    is32(fmaf(f32::MAX, f32::MAX, -f32::INFINITY), -f32::INFINITY);
    // no intermediate overflow: 2 MAX - MAX = MAX
    is64(fma(f64::MAX, 2.0, -f64::MAX), f64::MAX);
    is64(fma(f64::MAX, -2.0, f64::MAX), -f64::MAX);
    is32(fmaf(f32::MAX, 2.0, -f32::MAX), f32::MAX);
    // and no intermediate underflow: the exact tiny product counts
    is64(fma(1e-200, 1e-200, 1.0), 1.0);
    is64(fma(5e-324, 0.5, 0.0), 0.0); // 2^-1075 ties to even (zero)
    is64(fma(5e-324, -0.5, 0.0), -0.0); // non-zero exact result keeps its sign
    is64(fma(5e-324, 0.75, -0.0), 5e-324);
    is64(fma(-5e-324, 0.75, 0.0), -5e-324);
    is64(fma(5e-324, 1.5, 0.0), 1e-323); // 1.5 ulps ties to even: 2
    is64(fma(5e-324, 2.5, 0.0), 1e-323);
    is64(fma(1.0, 1.0, -1.0 + f64::EPSILON / 2.0), f64::EPSILON / 2.0);
    is32(fmaf(1e-45, 0.5, 0.0), 0.0);
    is32(fmaf(1e-45, -0.5, 0.0), -0.0);
    is32(fmaf(1e-45, 0.5001, 0.0), 1e-45);
}

#[test]
fn rounding_edge_cases() {
    let e32 = f32::EPSILON; // 2^-23
    let p2 = pow2_64;
    let q2 = pow2_32;
    // f32 double rounding: (1 + 2^-23) + 2^-24 (1 - 2^-46) is just below the halfway point
    // 1 + 2^-23 + 2^-24, which the f64 sum lands on exactly; ties-to-even would give 1 + 2^-22.
    let (a, b, c) = (1.0 + e32, (1.0 - e32) * q2(-24), 1.0 + e32);
    assert_eq!((a as f64 * b as f64 + c as f64) as f32, 1.0 + 2.0 * e32);
    is32(fmaf(a, b, c), 1.0 + e32);
    // mirrored: just above the halfway point 1 + 2^-22 + 2^-24, which ties to 1 + 2^-22
    let c3 = 1.0 + 3.0 * e32;
    assert_eq!((-a as f64 * b as f64 + c3 as f64) as f32, 1.0 + 2.0 * e32);
    is32(fmaf(-a, b, c3), c3);
    is32(fmaf(a, -b, -1.0 - e32), -1.0 - e32);
    // the same in the f32 subnormal range: 2^-127 + 2^-149 + 2^-150 (1 - 2^-46)
    let (a, b) = (1.0 + e32, (1.0 - e32));
    let (a, b) = (a * q2(-75), b * q2(-75));
    let c = (p2(-127) + p2(-149)) as f32;
    assert_eq!(
        (a as f64 * b as f64 + c as f64) as f32,
        (p2(-127) + p2(-148)) as f32
    );
    is32(fmaf(a, b, c), c);
    // the smallest f32 subnormal: 2^-150 ties to 0, a hair more rounds up
    is32(fmaf(q2(-75), q2(-75), 0.0), 0.0);
    is32(fmaf(q2(-75), q2(-75) * (1.0 + e32), 0.0), 1e-45);
    is32(fmaf(-(q2(-75)), q2(-75) * (1.0 + e32), -0.0), -1e-45);
    // f32 overflow: MAX + 2^103 (1 - 2^-46) is below the overflow threshold MAX + 2^103,
    // where the f64 sum lands (a naive computation gives inf)
    let (a, b) = ((1.0 + e32) * q2(52), (1.0 - e32) * q2(51));
    assert_eq!(
        (a as f64 * b as f64 + f32::MAX as f64) as f32,
        f32::INFINITY
    );
    is32(fmaf(a, b, f32::MAX), f32::MAX);
    is32(fmaf(-a, b, -f32::MAX), -f32::MAX);
    is32(fmaf(q2(52), q2(51), f32::MAX), f32::INFINITY); // exact tie: even
                                                         // f64 overflow: MAX + half an ulp ties to even (infinity); a little less stays MAX
    is64(fma(p2(970), 1.0, f64::MAX), f64::INFINITY);
    is64(fma(p2(970), 1.0 - f64::EPSILON, f64::MAX), f64::MAX);
    is64(
        fma(-p2(970), 1.0 - f64::EPSILON / 2.0, -f64::MAX),
        -f64::MAX,
    );
    is64(fma(p2(600), p2(500), 0.0), f64::INFINITY);
    // f64 ties: 1 + 2^-53 ties to 1, 1 + 3 2^-53 ties to 1 + 2^-51
    is64(fma(p2(-53), 1.0, 1.0), 1.0);
    is64(fma(3.0, p2(-53), 1.0), 1.0 + p2(-51));
    is64(fma(1.0 + f64::EPSILON, p2(-53), 1.0), 1.0 + f64::EPSILON);
    // the product's low half decides: (1 + 2^-52)^2 - 1 - 2^-51 = 2^-104 exactly
    let x = 1.0 + f64::EPSILON;
    is64(fma(x, x, -(1.0 + p2(-51))), p2(-104));
    // subnormal results from normal operands
    is64(fma(3.0 * p2(-600), p2(-474), -5e-324), 1e-323);
    is64(fma(3.0 * p2(-600), p2(-475), 0.0), 1e-323); // 1.5 quanta: ties to 2
    is64(fma(p2(-1000), p2(-74), p2(-1074)), p2(-1073));
}

#[test]
fn c_exports_match() {
    let mut rng = Rng(99);
    for _ in 0..10_000 {
        let (a, b, c) = (rng.next(), rng.next(), rng.next());
        let (x, y, z) = (f64::from_bits(a), f64::from_bits(b), f64::from_bits(c));
        assert!(same64(kiln_shim_fma(x, y, z), fma(x, y, z)));
        let (x, y, z) = (
            f32::from_bits(a as u32),
            f32::from_bits(b as u32),
            f32::from_bits(c as u32),
        );
        assert!(same32(kiln_shim_fmaf(x, y, z), fmaf(x, y, z)));
    }
}
