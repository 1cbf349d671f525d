//! Private helper functions of generated Rust modules: integer division, NaN-propagating
//! min/max, and the float functions `core` lacks in `no_std` (floor, ceil, trunc,
//! round-ties-even by bit manipulation; sqrt by the SSE instruction on x86/x86_64 and an exact
//! integer square root elsewhere). Every one is exact, so results are bit-for-bit those of
//! `kir::interp`. Only helpers a program uses are emitted, in a fixed order.

use crate::kir::Scalar;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RHelper {
    Div(Scalar),
    Rem(Scalar),
    Min(Scalar),
    Max(Scalar),
    Trunc(Scalar),
    Floor(Scalar),
    Ceil(Scalar),
    Round(Scalar),
    Sqrt(Scalar),
}

impl RHelper {
    pub fn name(self) -> String {
        let (op, t) = match self {
            RHelper::Div(t) => ("div", t),
            RHelper::Rem(t) => ("rem", t),
            RHelper::Min(t) => ("min", t),
            RHelper::Max(t) => ("max", t),
            RHelper::Trunc(t) => ("trunc", t),
            RHelper::Floor(t) => ("floor", t),
            RHelper::Ceil(t) => ("ceil", t),
            RHelper::Round(t) => ("round", t),
            RHelper::Sqrt(t) => ("sqrt", t),
        };
        format!("kiln_{op}_{}", t.name())
    }

    pub fn deps(self) -> Vec<RHelper> {
        match self {
            RHelper::Floor(t) | RHelper::Ceil(t) => vec![RHelper::Trunc(t)],
            _ => vec![],
        }
    }

    /// The definition, indented for the module body.
    pub fn def(self) -> String {
        let name = self.name();
        let text = match self {
            RHelper::Div(t) => format!(
                "fn {name}(a: T, b: T) -> T {{ if b == 0 {{ 0 }} else {{ a.wrapping_div(b) }} }}"
            )
            .replace('T', t.name()),
            RHelper::Rem(t) => format!(
                "fn {name}(a: T, b: T) -> T {{ if b == 0 {{ 0 }} else {{ a.wrapping_rem(b) }} }}"
            )
            .replace('T', t.name()),
            RHelper::Min(t) | RHelper::Max(t) => {
                let (nan, sign, cmp) = match (self, t) {
                    (RHelper::Min(_), Scalar::F32) => ("0x7fc0_0000", "is_sign_negative", "<"),
                    (RHelper::Min(_), _) => ("0x7ff8_0000_0000_0000", "is_sign_negative", "<"),
                    (_, Scalar::F32) => ("0x7fc0_0000", "is_sign_positive", ">"),
                    _ => ("0x7ff8_0000_0000_0000", "is_sign_positive", ">"),
                };
                if t.is_float() {
                    format!(
                        "fn {name}(a: FT, b: FT) -> FT {{\n    \
                         if a.is_nan() || b.is_nan() {{ FT::from_bits({nan}) }}\n    \
                         else if a == b {{ if a.{sign}() {{ a }} else {{ b }} }}\n    \
                         else if a {cmp} b {{ a }} else {{ b }}\n}}"
                    )
                    .replace("FT", t.name())
                } else {
                    format!("fn {name}(a: T, b: T) -> T {{ if a {cmp} b {{ a }} else {{ b }} }}")
                        .replace('T', t.name())
                }
            }
            RHelper::Trunc(t) => float_template(
                t,
                "fn NAME(x: FT) -> FT {\n    \
                 let b = x.to_bits();\n    \
                 let e = ((b >> MBITS) & EMASK) as i32 - BIAS;\n    \
                 if e == BIAS + 1 { return x + x; }\n    \
                 if e >= MBITS { return x; }\n    \
                 if e < 0 { return FT::from_bits(b & SIGN); }\n    \
                 FT::from_bits(b & !(MMASK >> e))\n}",
                &name,
            ),
            RHelper::Floor(t) => format!(
                "fn {name}(x: FT) -> FT {{ let t = {}(x); if x < t {{ t - 1.0 }} else {{ t }} }}",
                RHelper::Trunc(t).name()
            )
            .replace("FT", t.name()),
            RHelper::Ceil(t) => format!(
                "fn {name}(x: FT) -> FT {{ let t = {}(x); if x > t {{ t + 1.0 }} else {{ t }} }}",
                RHelper::Trunc(t).name()
            )
            .replace("FT", t.name()),
            // |x| < 2^MBITS: adding 2^MBITS rounds to an integer, ties to even.
            RHelper::Round(t) => float_template(
                t,
                "fn NAME(x: FT) -> FT {\n    \
                 let b = x.to_bits();\n    \
                 let e = ((b >> MBITS) & EMASK) as i32 - BIAS;\n    \
                 if e == BIAS + 1 { return x + x; }\n    \
                 if e >= MBITS { return x; }\n    \
                 let a = FT::from_bits(b & !SIGN);\n    \
                 let r = (a + TWO_M) - TWO_M;\n    \
                 FT::from_bits(r.to_bits() | (b & SIGN))\n}",
                &name,
            ),
            RHelper::Sqrt(t) => sqrt_def(t, &name),
        };
        let mut out = String::from("    #[inline(always)]\n");
        for line in text.lines() {
            out.push_str("    ");
            out.push_str(line);
            out.push('\n');
        }
        out
    }
}

/// Fill a float template: FT type, MBITS mantissa bits, EMASK exponent mask, BIAS, SIGN
/// mask, MMASK mantissa mask, TWO_M 2^MBITS.
fn float_template(t: Scalar, text: &str, name: &str) -> String {
    let (mbits, emask, bias, sign, mmask, two_m) = if t == Scalar::F32 {
        (
            "23",
            "0xff",
            "127",
            "0x8000_0000u32",
            "0x007f_ffffu32",
            "8388608.0",
        )
    } else {
        (
            "52",
            "0x7ff",
            "1023",
            "0x8000_0000_0000_0000u64",
            "0x000f_ffff_ffff_ffffu64",
            "4503599627370496.0",
        )
    };
    text.replace("NAME", name)
        .replace("FT", t.name())
        .replace("MBITS", mbits)
        .replace("EMASK", emask)
        .replace("BIAS", bias)
        .replace("SIGN", sign)
        .replace("MMASK", mmask)
        .replace("TWO_M", two_m)
}

/// Correctly rounded square root: the SSE instruction where it is part of the target, an
/// exact integer square root of the scaled significand elsewhere. NaN in gives NaN (quieted),
/// a negative number the target's default NaN (`(x - x) / (x - x)`), as the hardware does.
fn sqrt_def(t: Scalar, name: &str) -> String {
    let (hw, soft) = if t == Scalar::F32 {
        (
            "sse",
            "    let mut m = (b & 0x007f_ffff) as u64;\n    \
             let mut q = ((b >> 23) & 0xff) as i32;\n    \
             if q == 0 { let s = m.leading_zeros() as i32 - 40; m <<= s; q = 1 - s; } else { m |= 1 << 23; }\n    \
             q -= 150;\n    \
             // x = m * 2^q, m in [2^23, 2^24): make q even and m in [2^24, 2^26).\n    \
             if q & 1 != 0 { m <<= 1; q -= 1; } else { m <<= 2; q -= 2; }\n    \
             let r = (m << 24).isqrt(); // in [2^24, 2^25): 24 bits and a rounding bit\n    \
             let mant = (r >> 1) + (r & 1); // never a tie: r odd means an inexact root\n    \
             let e = (q - 24) / 2 + 1;\n    \
             f32::from_bits((((e + 149) as u32) << 23).wrapping_add(mant as u32))\n",
        )
    } else {
        (
            "sse2",
            "    let mut m = (b & 0x000f_ffff_ffff_ffff) as u128;\n    \
             let mut q = ((b >> 52) & 0x7ff) as i32;\n    \
             if q == 0 { let s = m.leading_zeros() as i32 - 75; m <<= s; q = 1 - s; } else { m |= 1 << 52; }\n    \
             q -= 1075;\n    \
             // x = m * 2^q, m in [2^52, 2^53): make q even and m in [2^52, 2^54).\n    \
             if q & 1 != 0 { m <<= 1; q -= 1; }\n    \
             let r = (m << 54).isqrt(); // in [2^53, 2^54): 53 bits and a rounding bit\n    \
             let mant = (r >> 1) + (r & 1); // never a tie: r odd means an inexact root\n    \
             let e = (q - 54) / 2 + 1;\n    \
             f64::from_bits((((e + 1074) as u64) << 52).wrapping_add(mant as u64))\n",
        )
    };
    let hw_expr = if t == Scalar::F32 {
        "a::_mm_cvtss_f32(a::_mm_sqrt_ss(a::_mm_set_ss(x)))"
    } else {
        "a::_mm_cvtsd_f64(a::_mm_sqrt_pd(a::_mm_set_sd(x)))"
    };
    let ft = t.name();
    let cfg = format!(
        "all(any(target_arch = \"x86\", target_arch = \"x86_64\"), target_feature = \"{hw}\")"
    );
    format!(
        "fn {name}(x: {ft}) -> {ft} {{\n    \
         #[cfg({cfg})]\n    \
         {{\n        \
         #[cfg(target_arch = \"x86\")]\n        use core::arch::x86 as a;\n        \
         #[cfg(target_arch = \"x86_64\")]\n        use core::arch::x86_64 as a;\n        \
         unsafe {{ {hw_expr} }}\n    }}\n    \
         #[cfg(not({cfg}))]\n    \
         {{ {name}_soft(x) }}\n}}\n\
         fn {name}_soft(x: {ft}) -> {ft} {{\n    \
         if x.is_nan() {{ return x + x; }}\n    \
         if x == 0.0 || x == {ft}::INFINITY {{ return x; }}\n    \
         if x < 0.0 {{ return (x - x) / (x - x); }}\n    \
         let b = x.to_bits();\n{soft}}}"
    )
}
