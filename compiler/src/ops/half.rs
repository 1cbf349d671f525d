//! float16 and bfloat16 (and the float8 formats) in kir: conversions between their bit
//! patterns and f32/f64 values, written with integer and bit operations only, so that every
//! backend produces the same bits (kir has no half-precision type; such tensors are stored as
//! their bit patterns in `U16` buffers, see `DType::storage`).
//!
//! - bits → f32 is exact (subnormals, ±inf; NaN keeps its payload with the quiet bit set for
//!   float16; bfloat16 is the high half of an f32, NaN included).
//! - f32 or f64 → bits rounds once, to nearest with ties to even, straight from the source
//!   (f64 → float16 does not go through f32, which could round twice); values beyond the
//!   largest finite number become ±inf (or whatever the format's overflow rule says); NaN
//!   becomes a quiet NaN keeping the top payload bits and the sign.
//!
//! Other ops compute float16/bfloat16 tensors in f32 (`passes::infer` inserts the casts).

use crate::kir::build::{self, KernelBuilder};
use crate::kir::{BinOp, CmpOp, Expr, Lit, Scalar};
use crate::tensor::DType;

/// An integer literal of type `ty`.
pub fn k(ty: Scalar, v: u64) -> Expr {
    Expr::Imm(ty, Lit::Int(v as i64))
}
fn shr(a: Expr, ty: Scalar, n: u64) -> Expr {
    build::binary(BinOp::Shr, a, k(ty, n))
}
fn shl(a: Expr, ty: Scalar, n: u64) -> Expr {
    build::binary(BinOp::Shl, a, k(ty, n))
}
fn band(a: Expr, ty: Scalar, m: u64) -> Expr {
    build::and(a, k(ty, m))
}
fn eq(a: Expr, b: Expr) -> Expr {
    build::cmp(CmpOp::Eq, a, b)
}

/// A small binary floating-point format: `1 + ebits + mbits` bits, sign on top.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Format {
    pub ebits: u32,
    pub mbits: u32,
    pub bias: i64,
    /// Magnitude encoding of the largest finite value.
    pub max: u64,
    /// Magnitude encoding of infinity (None: the format has no infinity).
    pub inf: Option<u64>,
    /// Encoding of the (positive, quiet) NaN used for results, without payload.
    pub nan: u64,
    /// `true` for the FNUZ formats: no negative zero, and the one NaN is the pattern with only
    /// the sign bit set.
    pub uz: bool,
}

impl Format {
    pub const F16: Format = Format {
        ebits: 5,
        mbits: 10,
        bias: 15,
        max: 0x7bff,
        inf: Some(0x7c00),
        nan: 0x7e00,
        uz: false,
    };
    pub const BF16: Format = Format {
        ebits: 8,
        mbits: 7,
        bias: 127,
        max: 0x7f7f,
        inf: Some(0x7f80),
        nan: 0x7fc0,
        uz: false,
    };
    pub const F8E4M3FN: Format = Format {
        ebits: 4,
        mbits: 3,
        bias: 7,
        max: 0x7e,
        inf: None,
        nan: 0x7f,
        uz: false,
    };
    pub const F8E4M3FNUZ: Format = Format {
        ebits: 4,
        mbits: 3,
        bias: 8,
        max: 0x7f,
        inf: None,
        nan: 0x80,
        uz: true,
    };
    pub const F8E5M2: Format = Format {
        ebits: 5,
        mbits: 2,
        bias: 15,
        max: 0x7b,
        inf: Some(0x7c),
        nan: 0x7e,
        uz: false,
    };
    pub const F8E5M2FNUZ: Format = Format {
        ebits: 5,
        mbits: 2,
        bias: 16,
        max: 0x7f,
        inf: None,
        nan: 0x80,
        uz: true,
    };
    pub fn bits(self) -> u32 {
        1 + self.ebits + self.mbits
    }
    pub fn sign(self) -> u64 {
        1 << (self.bits() - 1)
    }
    /// The kir storage type of one element.
    pub fn storage(self) -> Scalar {
        if self.bits() <= 8 {
            Scalar::U8
        } else {
            Scalar::U16
        }
    }
    pub fn of(d: DType) -> Option<Format> {
        match d {
            DType::F16 => Some(Format::F16),
            DType::BF16 => Some(Format::BF16),
            DType::F8E4M3FN => Some(Format::F8E4M3FN),
            DType::F8E4M3FNUZ => Some(Format::F8E4M3FNUZ),
            DType::F8E5M2 => Some(Format::F8E5M2),
            DType::F8E5M2FNUZ => Some(Format::F8E5M2FNUZ),
            _ => None,
        }
    }
}

/// What an out-of-range finite value or an infinity becomes (magnitude encodings, or None
/// for the format's NaN).
#[derive(Clone, Copy, Debug)]
pub struct Overflow {
    pub finite: Option<u64>,
    pub inf: Option<u64>,
}

impl Overflow {
    /// IEEE behaviour: both become infinity (NaN in a format without infinity).
    pub fn ieee(f: Format) -> Overflow {
        Overflow {
            finite: f.inf,
            inf: f.inf,
        }
    }
    /// ONNX `saturate=1` (float8 targets): both become the largest finite value.
    pub fn saturate(f: Format) -> Overflow {
        Overflow {
            finite: Some(f.max),
            inf: Some(f.max),
        }
    }
}

/// The bits of a small format `f` (in `f.storage()`) → the f32 value, exactly.
pub fn small_to_f32(kb: &mut KernelBuilder, f: Format, bits: Expr) -> Expr {
    let u = Scalar::U32;
    let x = kb.let_(u, build::cast(u, bits));
    let md = f.mbits as u64;
    let all_e = (1u64 << f.ebits) - 1;
    let e = kb.let_(u, band(shr(x.clone(), u, md), u, all_e));
    let m = kb.let_(u, band(x.clone(), u, (1 << md) - 1));
    let sign = shl(band(x.clone(), u, f.sign()), u, 32 - f.bits() as u64);
    let normal = build::add(
        shl(band(x.clone(), u, f.sign() - 1), u, 23 - md),
        k(u, ((127 - f.bias) as u64) << 23),
    );
    let unit = 2f64.powi(1 - f.bias as i32 - f.mbits as i32);
    let sub = build::bitcast(
        u,
        build::mul(
            build::cast(Scalar::F32, m.clone()),
            Expr::Imm(Scalar::F32, Lit::f(unit)),
        ),
    );
    let finite = build::select(eq(e.clone(), k(u, 0)), sub, normal);
    let mag = match f.inf {
        Some(_) => {
            let quiet = build::select(
                build::cmp(CmpOp::Ne, m.clone(), k(u, 0)),
                k(u, 0x40_0000),
                k(u, 0),
            );
            let infnan = build::or(build::or(k(u, 0x7f80_0000), shl(m, u, 23 - md)), quiet);
            build::select(eq(e, k(u, all_e)), infnan, finite)
        }
        None => {
            let is_nan = if f.uz {
                eq(x.clone(), k(u, f.nan))
            } else {
                eq(band(x.clone(), u, f.sign() - 1), k(u, f.nan))
            };
            build::select(is_nan, k(u, 0x7fc0_0000), finite)
        }
    };
    build::bitcast(Scalar::F32, build::or(sign, mag))
}

/// float8e8m0 bits (`U8`, the value 2^(b-127), 0xff NaN) → the f32 value, exactly.
pub fn e8m0_to_f32(kb: &mut KernelBuilder, bits: Expr) -> Expr {
    let u = Scalar::U32;
    let x = kb.let_(u, build::cast(u, bits));
    let v = build::select(
        eq(x.clone(), k(u, 0)),
        k(u, 0x40_0000),
        build::select(eq(x.clone(), k(u, 0xff)), k(u, 0x7fc0_0000), shl(x, u, 23)),
    );
    build::bitcast(Scalar::F32, v)
}

/// Rounding of `Cast` to float8e8m0 (`round_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum E8m0Round {
    Up,
    Down,
    Nearest,
}

/// An f32 value → float8e8m0 bits (`U8`) as the ONNX reference does it: the exponent field of
/// the f32 (the sign is dropped), rounded by `mode` on the mantissa bits; inf and NaN give
/// 0xff (NaN); with `saturate` rounding never reaches 0xff.
pub fn f32_to_e8m0(kb: &mut KernelBuilder, x: Expr, mode: E8m0Round, saturate: bool) -> Expr {
    let u = Scalar::U32;
    let b = kb.let_(u, build::bitcast(u, x));
    let e = kb.let_(u, band(shr(b.clone(), u, 23), u, 0xff));
    let bit = |n: u64| eq(band(shr(b.clone(), u, n), u, 1), k(u, 1));
    let nonzero = |m: u64| build::cmp(CmpOp::Ne, band(b.clone(), u, m), k(u, 0));
    let up = match mode {
        E8m0Round::Down => Expr::Imm(Scalar::Bool, Lit::Int(0)),
        E8m0Round::Up => nonzero(0x7f_ffff),
        E8m0Round::Nearest => build::and(
            bit(22),
            build::or(
                build::or(bit(21), nonzero(0x1f_ffff)),
                build::cmp(CmpOp::Gt, e.clone(), k(u, 0)),
            ),
        ),
    };
    let up = if saturate {
        build::and(up, build::cmp(CmpOp::Ne, e.clone(), k(u, 0xfe)))
    } else {
        up
    };
    let r = build::select(
        eq(e.clone(), k(u, 0xff)),
        k(u, 0xff),
        build::add(e, build::cast(u, up)),
    );
    build::cast(Scalar::U8, r)
}

/// float16/bfloat16 bits (a `U16` expression) → the f32 value, exactly.
pub fn half_to_f32(kb: &mut KernelBuilder, d: DType, bits: Expr) -> Expr {
    let u = Scalar::U32;
    let x = kb.let_(u, build::cast(u, bits));
    match d {
        DType::BF16 => build::bitcast(Scalar::F32, shl(x, u, 16)),
        _ => {
            let e = kb.let_(u, band(shr(x.clone(), u, 10), u, 0x1f));
            let m = kb.let_(u, band(x.clone(), u, 0x3ff));
            let sign = shl(band(x.clone(), u, 0x8000), u, 16);
            let normal = build::add(shl(band(x, u, 0x7fff), u, 13), k(u, 112 << 23));
            let quiet = build::select(
                build::cmp(CmpOp::Ne, m.clone(), k(u, 0)),
                k(u, 0x40_0000),
                k(u, 0),
            );
            let infnan = build::or(build::or(k(u, 0x7f80_0000), shl(m.clone(), u, 13)), quiet);
            // m * 2^-24 is exact in f32 (m < 2^10, and the result is a normal f32).
            let sub = build::bitcast(
                u,
                build::mul(
                    build::cast(Scalar::F32, m),
                    Expr::Imm(Scalar::F32, Lit::f(1.0 / 16_777_216.0)),
                ),
            );
            let mag = build::select(
                eq(e.clone(), k(u, 0)),
                sub,
                build::select(eq(e, k(u, 31)), infnan, normal),
            );
            build::bitcast(Scalar::F32, build::or(sign, mag))
        }
    }
}

/// A float16/bfloat16 value (`U16` bits) as `to` (F32 or F64), exactly.
pub fn half_to_float(kb: &mut KernelBuilder, d: DType, bits: Expr, to: Scalar) -> Expr {
    let f = half_to_f32(kb, d, bits);
    build::cast(to, f)
}

/// An f32 or f64 value → the bits of format `f` (in `f.storage()`), rounded once to nearest
/// even, with `ovf` for out-of-range values and infinities.
pub fn encode(kb: &mut KernelBuilder, x: Expr, src: Scalar, f: Format, ovf: Overflow) -> Expr {
    let (u, w, ms, bs): (Scalar, u32, u32, i64) = match src {
        Scalar::F64 => (Scalar::U64, 64, 52, 1023),
        _ => (Scalar::U32, 32, 23, 127),
    };
    let md = f.mbits;
    let bd = f.bias;
    let xb = kb.let_(u, build::bitcast(u, x));
    let abs_mask = (1u64 << (w - 1)) - 1;
    let a = kb.let_(u, band(xb.clone(), u, abs_mask));
    let inf_src = ((1u64 << (w - 1 - ms)) - 1) << ms;
    let shift = (ms - md) as u64;
    // Normal results: round the mantissa, rebias the exponent (the carry of a rounding
    // overflow moves into the exponent, as it should).
    let lsb = band(shr(a.clone(), u, shift), u, 1);
    let r = build::add(build::add(a.clone(), k(u, (1 << (shift - 1)) - 1)), lsb);
    let h = kb.let_(
        u,
        build::sub(shr(r, u, shift), k(u, ((bs - bd) as u64) << md)),
    );
    let nmin = ((bs + 1 - bd) as u64) << ms;
    // Subnormal results: the significand shifted right by s, rounded to nearest even.
    let e = kb.let_(u, shr(a.clone(), u, ms as u64));
    let e0 = kb.let_(Scalar::Bool, eq(e.clone(), k(u, 0)));
    let e_eff = build::max(e, k(u, 1));
    let m = kb.let_(
        u,
        build::or(
            band(a.clone(), u, (1 << ms) - 1),
            build::select(e0, k(u, 0), k(u, 1 << ms)),
        ),
    );
    let c = (bs + ms as i64 + 1 - bd - md as i64) as u64;
    let s = kb.let_(
        u,
        build::min(build::sub(k(u, c), e_eff), k(u, ms as u64 + 2)),
    );
    let q = kb.let_(u, build::binary(BinOp::Shr, m.clone(), s.clone()));
    let one_s = build::binary(BinOp::Shl, k(u, 1), s.clone());
    let rem = kb.let_(u, build::and(m, build::sub(one_s, k(u, 1))));
    let halfv = kb.let_(
        u,
        build::binary(BinOp::Shl, k(u, 1), build::sub(s, k(u, 1))),
    );
    let up = build::or(
        build::cmp(CmpOp::Gt, rem.clone(), halfv.clone()),
        build::and(eq(rem, halfv), eq(band(q.clone(), u, 1), k(u, 1))),
    );
    let sub = build::add(q, build::cast(u, up));
    // NaN: quiet, keeping the top payload bits (IEEE formats); the format's NaN otherwise.
    let nan = if f.inf.is_some() {
        build::or(
            k(u, f.nan),
            band(shr(a.clone(), u, shift), u, (1 << md) - 1),
        )
    } else {
        k(u, f.nan)
    };
    let nan_enc = |e: Option<u64>| e.map_or(nan.clone(), |v| k(u, v));
    let finite = build::select(
        build::cmp(CmpOp::Ge, a.clone(), k(u, nmin)),
        build::select(
            build::cmp(CmpOp::Gt, h.clone(), k(u, f.max)),
            nan_enc(ovf.finite),
            h,
        ),
        sub,
    );
    let mag = kb.let_(
        u,
        build::select(
            build::cmp(CmpOp::Gt, a.clone(), k(u, inf_src)),
            nan.clone(),
            build::select(eq(a, k(u, inf_src)), nan_enc(ovf.inf), finite),
        ),
    );
    let sign = shl(shr(xb, u, (w - 1) as u64), u, (f.bits() - 1) as u64);
    let out = if f.uz {
        // No negative zero; the NaN pattern already has the sign bit.
        let is_nan = eq(mag.clone(), k(u, f.nan));
        let is_zero = eq(mag.clone(), k(u, 0));
        build::select(
            build::or(is_nan, is_zero),
            mag.clone(),
            build::or(sign, mag),
        )
    } else {
        build::or(sign, mag)
    };
    build::cast(f.storage(), out)
}

/// An f32/f64 value → float16/bfloat16 bits (`U16`), IEEE rounding and overflow.
pub fn float_to_half(kb: &mut KernelBuilder, x: Expr, src: Scalar, d: DType) -> Expr {
    let f = Format::of(d).expect("a half type");
    encode(kb, x, src, f, Overflow::ieee(f))
}

#[cfg(test)]
#[cfg(test)]
mod tests {
    //! The kir conversions against references written here in plain Rust (decoding by the
    //! format's definition, rounding by a nearest-value search), on the interpreter and the
    //! Cranelift JIT: every float16 and bfloat16 bit pattern, and many f32/f64 values.
    use super::*;
    use crate::kir::{self, BufId, BufKind, Buffer, IoInfo, Program, Status};

    /// Run `f` on every element of `input` (of type `ie`), giving `oe` elements, on interp
    /// and the JIT; both must agree bit for bit.
    fn run(
        ie: Scalar,
        oe: Scalar,
        input: &[u8],
        f: impl Fn(&mut KernelBuilder, Expr) -> Expr,
    ) -> Vec<u8> {
        let n = (input.len() / ie.size()) as i64;
        let mut kb = KernelBuilder::new();
        kb.loop_(Expr::i64(0), Expr::i64(n), |kb, i| {
            let v = f(kb, build::load(BufId(0), i.clone()));
            kb.store(BufId(1), i, v);
        });
        let io = |name: &str, elem, b| IoInfo {
            name: name.into(),
            elem,
            buf: BufId(b),
            shape: vec![kir::IoDim::Fixed(n as u64)],
            len: Expr::i64(n),
        };
        let p = Program {
            name: "half_test".into(),
            syms: vec![],
            buffers: vec![
                Buffer {
                    name: "x".into(),
                    elem: ie,
                    len: Expr::i64(n),
                    kind: BufKind::Input(0),
                },
                Buffer {
                    name: "y".into(),
                    elem: oe,
                    len: Expr::i64(n),
                    kind: BufKind::Output(0),
                },
            ],
            kernels: vec![KernelBuilder::new().finish("check"), kb.finish("conv")],
            weights: vec![],
            scratch_len: Expr::i64(0),
            inputs: vec![io("x", ie, 0)],
            outputs: vec![io("y", oe, 1)],
            strings: Default::default(),
            scratch_guard: 0,
        };
        kir::verify::verify(&p).unwrap();
        let lens = [n as u64, n as u64, 0];
        let mut out = vec![0u8; n as usize * oe.size()];
        let mut mem = kir::interp::Memory {
            inputs: vec![input],
            outputs: vec![out.as_mut_slice()],
            scratch: &mut [],
        };
        let st = kir::interp::run(&p, &[], &lens, &mut mem).unwrap();
        assert_eq!(st, Status::Ok);
        let j = crate::backend::cranelift::jit::JitProgram::new(&p).unwrap();
        let mut out2 = vec![0u8; out.len()];
        let st = j.run(&[], &[input], &mut [out2.as_mut_slice()], &mut [], &lens);
        assert_eq!(st, 0);
        assert!(out == out2, "jit differs from interp");
        out
    }

    /// float16 by its definition.
    fn ref_f16(h: u16) -> f64 {
        let s = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
        let e = ((h >> 10) & 0x1f) as i32;
        let m = (h & 0x3ff) as f64;
        match e {
            0 => s * m * 2f64.powi(-24),
            31 if m == 0.0 => s * f64::INFINITY,
            31 => f64::NAN,
            _ => s * (1.0 + m / 1024.0) * 2f64.powi(e - 15),
        }
    }
    fn ref_bf16(h: u16) -> f64 {
        let s = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
        let e = ((h >> 7) & 0xff) as i32;
        let m = (h & 0x7f) as f64;
        match e {
            0 => s * m * 2f64.powi(-133),
            255 if m == 0.0 => s * f64::INFINITY,
            255 => f64::NAN,
            _ => s * (1.0 + m / 128.0) * 2f64.powi(e - 127),
        }
    }

    /// Round `x` to the format whose non-negative finite values are `table` (ascending, the
    /// encoding is the index), ties to the even encoding, beyond the largest to `inf`.
    fn ref_round(x: f64, table: &[f64], above: f64, inf: u16, sign: u16) -> Option<u16> {
        if x.is_nan() {
            return None;
        }
        let s = if x.is_sign_negative() { sign } else { 0 };
        let a = x.abs();
        let i = table.partition_point(|v| *v <= a) - 1;
        let lo = table[i];
        let hi = table.get(i + 1).copied().unwrap_or(above);
        let mid = (lo + hi) / 2.0;
        let j = if a < mid || a == lo || (a == mid && i % 2 == 0) {
            i
        } else {
            i + 1
        };
        Some(s | if j >= table.len() { inf } else { j as u16 })
    }

    fn check_decode(d: DType, reference: fn(u16) -> f64) {
        let all: Vec<u8> = (0..=u16::MAX).flat_map(|h| h.to_le_bytes()).collect();
        let out = run(Scalar::U16, Scalar::F32, &all, |kb, v| {
            half_to_f32(kb, d, v)
        });
        for h in 0..=u16::MAX {
            let i = h as usize * 4;
            let got = f32::from_le_bytes(out[i..i + 4].try_into().unwrap());
            let want = reference(h);
            if want.is_nan() {
                assert!(got.is_nan(), "{d} {h:#06x}: got {got}");
                assert_eq!(got.is_sign_negative(), h & 0x8000 != 0, "{d} {h:#06x}");
                // Quiet, payload kept.
                let payload = if d == DType::F16 {
                    (h & 0x3ff) as u32
                } else {
                    (h & 0x7f) as u32
                };
                let sh = if d == DType::F16 { 13 } else { 16 };
                assert_eq!(
                    got.to_bits() & (payload << sh),
                    payload << sh,
                    "{d} {h:#06x}"
                );
            } else {
                assert_eq!(got as f64, want, "{d} {h:#06x}");
                assert_eq!(got.is_sign_negative(), want.is_sign_negative());
            }
            // The crate's host-side decoding agrees.
            let host = if d == DType::F16 {
                crate::tensor::f16_to_f32(h)
            } else {
                crate::tensor::bf16_to_f32(h)
            };
            assert!(host.to_bits() == got.to_bits() || (host.is_nan() && got.is_nan()));
        }
    }

    #[test]
    fn f16_decode_exhaustive() {
        check_decode(DType::F16, ref_f16);
    }

    #[test]
    fn bf16_decode_exhaustive() {
        check_decode(DType::BF16, ref_bf16);
    }

    /// Edge values of a format (every finite value, the midpoints between neighbours and the
    /// values just around them in the source precision) plus pseudo-random ones.
    fn samples(table: &[f64], above: f64, f64_src: bool) -> Vec<f64> {
        let mut v = vec![
            0.0,
            f64::INFINITY,
            f64::NAN,
            1e-300,
            1e300,
            f64::MIN_POSITIVE,
        ];
        v.extend([f32::MAX as f64, f32::MIN_POSITIVE as f64, 1e-45, 3e38]);
        let step = |x: f64, up: bool| {
            if f64_src {
                let b = x.to_bits();
                f64::from_bits(if up { b + 1 } else { b.saturating_sub(1) })
            } else {
                let b = (x as f32).to_bits();
                f32::from_bits(if up { b + 1 } else { b.saturating_sub(1) }) as f64
            }
        };
        let mut pts: Vec<f64> = table.to_vec();
        pts.push(above);
        for w in pts.windows(2) {
            let mid = (w[0] + w[1]) / 2.0;
            for x in [w[0], mid, w[1]] {
                v.extend([x, step(x, true), step(x, false)]);
            }
        }
        let mut s: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..200_000 {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            v.push(if f64_src {
                f64::from_bits(s)
            } else {
                f32::from_bits(s as u32) as f64
            });
        }
        let mut out = vec![];
        for x in v {
            out.push(x);
            out.push(-x);
        }
        out
    }

    fn check_encode(d: DType, src: Scalar) {
        let (reference, inf): (fn(u16) -> f64, u16) = match d {
            DType::F16 => (ref_f16, 0x7c00),
            _ => (ref_bf16, 0x7f80),
        };
        let table: Vec<f64> = (0..inf).map(reference).collect();
        let above =
            reference(inf - 1) * 2.0 / (2.0 - 2f64.powi(-(Format::of(d).unwrap().mbits as i32)));
        let xs = samples(&table, above, src == Scalar::F64);
        let bytes: Vec<u8> = xs
            .iter()
            .flat_map(|x| {
                if src == Scalar::F64 {
                    x.to_le_bytes().to_vec()
                } else {
                    (*x as f32).to_le_bytes().to_vec()
                }
            })
            .collect();
        let out = run(src, Scalar::U16, &bytes, |kb, v| {
            float_to_half(kb, v, src, d)
        });
        for (i, x) in xs.iter().enumerate() {
            let got = u16::from_le_bytes([out[2 * i], out[2 * i + 1]]);
            match ref_round(*x, &table, above, inf, 0x8000) {
                None => {
                    assert!(
                        reference(got).is_nan(),
                        "{d} from {src}: {x:e} gave {got:#06x}"
                    );
                    assert_eq!(got & 0x8000 != 0, x.is_sign_negative());
                    // Quiet.
                    let q = if d == DType::F16 { 0x200 } else { 0x40 };
                    assert_eq!(got & q, q);
                }
                Some(w) => assert_eq!(got, w, "{d} from {src}: {x:e} ({:#x})", x.to_bits()),
            }
        }
    }

    #[test]
    fn f32_to_f16() {
        check_encode(DType::F16, Scalar::F32);
    }
    #[test]
    fn f64_to_f16() {
        check_encode(DType::F16, Scalar::F64);
    }
    #[test]
    fn f32_to_bf16() {
        check_encode(DType::BF16, Scalar::F32);
    }
    #[test]
    fn f64_to_bf16() {
        check_encode(DType::BF16, Scalar::F64);
    }

    const F8: [(DType, Format); 4] = [
        (DType::F8E4M3FN, Format::F8E4M3FN),
        (DType::F8E4M3FNUZ, Format::F8E4M3FNUZ),
        (DType::F8E5M2, Format::F8E5M2),
        (DType::F8E5M2FNUZ, Format::F8E5M2FNUZ),
    ];

    #[test]
    fn f8_decode_exhaustive() {
        let all: Vec<u8> = (0..=255u8).collect();
        for (d, f) in F8 {
            let out = run(Scalar::U8, Scalar::F32, &all, |kb, v| {
                small_to_f32(kb, f, v)
            });
            for b in 0..=255u8 {
                let i = b as usize * 4;
                let got = f32::from_le_bytes(out[i..i + 4].try_into().unwrap()) as f64;
                let want = crate::tensor::f8_to_f64(d, b);
                assert!(got == want || got.is_nan() && want.is_nan(), "{d} {b:#04x}");
            }
        }
        let out = run(Scalar::U8, Scalar::F32, &all, e8m0_to_f32);
        for b in 0..=255u8 {
            let i = b as usize * 4;
            let got = f32::from_le_bytes(out[i..i + 4].try_into().unwrap()) as f64;
            let want = crate::tensor::f8_to_f64(DType::F8E8M0, b);
            assert!(
                got == want || got.is_nan() && want.is_nan(),
                "e8m0 {b:#04x}"
            );
        }
    }

    /// f32 → float8, saturating or not, against a nearest-value search.
    #[test]
    fn f32_to_f8() {
        for (d, f) in F8 {
            let decode = |b: u8| crate::tensor::f8_to_f64(d, b);
            let table: Vec<f64> = (0..=f.max as u8).map(decode).collect();
            let max = table[table.len() - 1];
            // The next value the exponent range would give after the largest finite one.
            let above = max + (max - table[table.len() - 2]);
            let xs = samples(&table, above, false);
            let bytes: Vec<u8> = xs.iter().flat_map(|x| (*x as f32).to_le_bytes()).collect();
            for sat in [true, false] {
                let ovf = if sat {
                    Overflow::saturate(f)
                } else {
                    Overflow::ieee(f)
                };
                let out = run(Scalar::F32, Scalar::U8, &bytes, |kb, v| {
                    encode(kb, v, Scalar::F32, f, ovf)
                });
                for (x, got) in xs.iter().zip(&out) {
                    let got_v = decode(*got);
                    let overflow = if sat {
                        max
                    } else if f.inf.is_some() {
                        f64::INFINITY
                    } else {
                        f64::NAN
                    };
                    let mag = match ref_round(x.abs(), &table, above, u16::MAX, 0) {
                        None => f64::NAN,
                        _ if x.is_infinite() => overflow,
                        Some(u16::MAX) => overflow,
                        Some(w) => decode(w as u8),
                    };
                    let want = if mag == 0.0 && f.uz {
                        0.0
                    } else {
                        mag.copysign(*x)
                    };
                    assert!(
                        got_v.to_bits() == want.to_bits() || got_v.is_nan() && want.is_nan(),
                        "{d} sat={sat}: {x:e} gave {got:#04x} = {got_v}, want {want}"
                    );
                }
            }
        }
    }
}
