//! Cast: <https://onnx.ai/onnx/operators/onnx__Cast.html>
//!
//! Opset 6, 9, 13, 19 (`saturate`, for float8 targets), 21, 23 (`round_mode`, for float8e8m0
//! targets), 24, 25: element type conversion with kir's pinned semantics — float to int
//! saturates (NaN to 0), int to int wraps, to bool is `x != 0`. ONNX leaves out-of-range
//! float-to-int undefined; saturation is what a user would want and is the same on every
//! backend. Strings are not computed (a clear error).
//!
//! float16 and bfloat16 (stored as their bits, `ops::half`): a half source is widened to f32
//! exactly and then converted like an f32; a half target is rounded once to nearest even from
//! the f32/f64 source (f64 → float16 directly, not through f32); integers and bools go through
//! f64, which holds every value of up to 53 bits exactly (int64/uint64 beyond 2^53 to bfloat16
//! may round twice); overflow gives ±inf, NaN stays NaN (quiet).
//!
//! float8 (e4m3fn, e4m3fnuz, e5m2, e5m2fnuz; stored as bytes) work the same way, rounding to
//! nearest even; `saturate=1` (the default) turns out-of-range values and infinities into the
//! largest finite value, `saturate=0` into inf (e5m2) or NaN (the others), as the ONNX
//! reference (ml_dtypes) does. float8e8m0 follows the reference's `to_float8e8m0`: the f32
//! exponent (sign dropped; f64 sources go through f32), rounded by `round_mode` (up, down,
//! nearest) on the mantissa bits, saturating at 2^127 unless `saturate=0`. 4-bit and 2-bit
//! types are not supported (their tensors are packed).

use super::half::{self, E8m0Round, Format, Overflow};
use super::{tt, Attrs, InferCx, Op, ALL};
use crate::error::Result;
use crate::ir::TensorType;
use crate::kir::build::KernelBuilder;
use crate::kir::{build, Expr, Scalar};
use crate::lower::LowerCx;
use crate::tensor::DType;
use std::cell::Cell;

#[derive(Debug)]
pub struct Cast {
    pub to: DType,
    /// The source type, recorded by `infer` (a float16 source and a uint16 one share their
    /// kir storage, so `lower` cannot tell them apart from the buffer).
    pub from: Cell<Option<DType>>,
    pub mode: Mode,
}

/// The attributes that only concern float8 targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mode {
    /// `saturate` (float8 targets but float8e8m0): out-of-range values and infinities become
    /// the largest finite value instead of inf/NaN.
    pub saturate: bool,
    /// `round_mode` (float8e8m0 targets).
    pub round: E8m0Round,
}

impl Default for Mode {
    fn default() -> Self {
        Mode {
            saturate: true,
            round: E8m0Round::Up,
        }
    }
}

impl Mode {
    /// Read `saturate` (opset 19) and `round_mode` (opset 23) from a Cast/CastLike node.
    pub fn import(a: &Attrs) -> Result<Mode> {
        let mut m = Mode::default();
        if a.node().opset >= 19 {
            m.saturate = match a.int("saturate", 1)? {
                0 => false,
                1 => true,
                v => return Err(a.err("saturate", format!("must be 0 or 1, got {v}"))),
            };
        }
        if a.node().opset >= 23 {
            m.round = match a.string("round_mode", "up")?.as_str() {
                "up" => E8m0Round::Up,
                "down" => E8m0Round::Down,
                "nearest" => E8m0Round::Nearest,
                o => {
                    return Err(a.err(
                        "round_mode",
                        format!("'{o}' is not one of up, down, nearest"),
                    ))
                }
            };
        }
        Ok(m)
    }
}

impl Cast {
    pub fn new(from: Option<DType>, to: DType) -> Cast {
        Cast {
            to,
            from: Cell::new(from),
            mode: Mode::default(),
        }
    }
}

/// Every dtype Cast converts from and to.
pub fn castable() -> Vec<DType> {
    let mut v = ALL.to_vec();
    v.extend([
        DType::F16,
        DType::BF16,
        DType::F8E4M3FN,
        DType::F8E4M3FNUZ,
        DType::F8E5M2,
        DType::F8E5M2FNUZ,
        DType::F8E8M0,
    ]);
    v
}

pub fn import(a: &Attrs) -> Result<Box<dyn Op>> {
    let code = a.req_int("to")?;
    let to = DType::from_onnx(code as i32)
        .ok_or_else(|| a.err("to", format!("unknown element type {code}")))?;
    if !castable().contains(&to) {
        return Err(a.err("to", format!("casting to {to} is not supported")));
    }
    let mode = Mode::import(a)?;
    Ok(Box::new(Cast {
        mode,
        ..Cast::new(None, to)
    }))
}

impl Op for Cast {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let from = cx.expect_dtype(0, &castable())?;
        self.from.set(Some(from));
        Ok(vec![tt(self.to, cx.ty(0)?.shape.clone())])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let from = self
            .from
            .get()
            .ok_or_else(|| cx.err("Cast lowered before its types were inferred"))?;
        lower_cast(cx, from, self.to, self.mode)
    }
}

/// Convert input 0 (of dtype `from`) into output 0 (of dtype `to`), element by element.
pub fn lower_cast(cx: &mut LowerCx, from: DType, to: DType, mode: Mode) -> Result<()> {
    let x = cx.input(0)?;
    let y = cx.output(0)?;
    cx.kb.loop_(Expr::i64(0), y.numel(), |kb, i| {
        let v = convert(kb, x.load(i.clone()), from, to, mode);
        kb.store(y.buf, i, v);
    });
    Ok(())
}

/// One element of dtype `from` (in its storage type) as dtype `to` (in its storage type).
pub fn convert(kb: &mut KernelBuilder, v: Expr, from: DType, to: DType, mode: Mode) -> Expr {
    if from == to {
        return v;
    }
    // A stored-only float source becomes its exact f32 value first.
    let (v, from) = if from == DType::F8E8M0 {
        (half::e8m0_to_f32(kb, v), DType::F32)
    } else if let Some(f) = Format::of(from) {
        let x = if from.is_half() {
            half::half_to_f32(kb, from, v)
        } else {
            half::small_to_f32(kb, f, v)
        };
        (x, DType::F32)
    } else {
        (v, from)
    };
    if to == DType::F8E8M0 {
        // As the ONNX reference: from the f32 value.
        let x = match from {
            DType::F32 => v,
            _ => build::cast(Scalar::F32, v),
        };
        return half::f32_to_e8m0(kb, x, mode.round, mode.saturate);
    }
    if let Some(f) = Format::of(to) {
        let (v, src) = match from {
            DType::F32 => (v, Scalar::F32),
            DType::F64 => (v, Scalar::F64),
            // Integers and bools: exact in f64 up to 2^53.
            _ => (build::cast(Scalar::F64, v), Scalar::F64),
        };
        let ovf = if mode.saturate && !to.is_half() {
            Overflow::saturate(f)
        } else {
            Overflow::ieee(f)
        };
        return half::encode(kb, v, src, f, ovf);
    }
    let s = to.scalar().expect("a computed dtype");
    build::cast(s, v)
}
