//! Binary element-wise ops with multidirectional (numpy) broadcasting: comparisons, logical and
//! bitwise ops, Mod, BitShift and PRelu.
//!
//! Specs: <https://onnx.ai/onnx/operators/onnx__Equal.html> (and `onnx__<Op>.html` for each op).
//!
//! - Equal (1, 7, 11, 13, 19), Less, Greater (1, 7, 9, 13), LessOrEqual, GreaterOrEqual
//!   (12, 16): output bool. Equal takes every non-string type (strings are not computed by
//!   Kiln), the others every numeric type. Floats compare as IEEE (NaN is unequal to all).
//! - And, Or, Xor (1, 7): bool. BitwiseAnd, BitwiseOr, BitwiseXor (18): integers.
//! - Opset 1 of Equal/Less/Greater/And/Or/Xor has legacy broadcasting (`broadcast`, `axis`):
//!   with `broadcast=0` the shapes must be equal; with 1, B's shape is matched against A's
//!   starting at `axis` (default: the trailing dims), and the output has A's shape.
//! - Mod (10, 13, 28; `fmod`): `fmod=0` floors the quotient (Python `%`: the result has the
//!   sign of the divisor), `fmod=1` truncates it (C `%` / `fmod`: sign of the dividend).
//!   Integer divisor 0 gives 0 for both (kir `Rem`; the spec leaves it undefined). Floats need
//!   `fmod=1` before opset 28; from 28, `fmod=0` on floats follows the spec's special cases
//!   (`±0` results take the divisor's sign, `x % ±0` and `±inf % y` are NaN, a finite `x % ±inf`
//!   is `x` for equal signs and the infinity otherwise). Float `fmod=1` is the shim's exact
//!   `fmod`.
//! - BitShift (11, 28; `direction` LEFT|RIGHT): unsigned types, and from 28 signed types too
//!   (right shift is arithmetic). A shift amount that is negative or at least the bit width gives
//!   0, or -1 for a right shift of a negative value (the 28 spec; 11 left it undefined).
//! - PRelu (7, 9, 16): `x < 0 ? slope*x : x`, `slope` broadcast unidirectionally to X's shape;
//!   floats at 7, also int32/int64/uint32/uint64 from 9.

use super::{bcast_shape, imm, lower_map, same_dtype, INTS};
use crate::error::Result;
use crate::ir::{Dim, TensorType};
use crate::kir::build::KernelBuilder;
use crate::kir::build::{add, and, binary, call, cmp, mul, or, select};
use crate::kir::{BinOp, CmpOp, Expr, MathFn, Scalar};
use crate::lower::LowerCx;
use crate::ops::broadcast;
use crate::ops::{tt, Attrs, InferCx, Op, ALL, FLOATS, NUMERIC};
use crate::tensor::DType;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bin {
    Cmp(CmpOp),
    And,
    Or,
    Xor,
    BitAnd,
    BitOr,
    BitXor,
    Mod { fmod: bool },
    Shift { left: bool },
    PRelu,
}

/// Legacy (opset < 7) broadcasting: `Some(None)` when `broadcast=0` (equal shapes),
/// `Some(Some(axis))` when 1 (`axis` None: trailing alignment).
type Legacy = Option<Option<Option<i64>>>;

#[derive(Debug)]
pub struct Binary {
    pub op: Bin,
    legacy: Legacy,
}

pub fn import(a: &Attrs) -> Result<Box<dyn Op>> {
    let n = a.node();
    let op = match n.op_type.as_str() {
        "Equal" => Bin::Cmp(CmpOp::Eq),
        "Less" => Bin::Cmp(CmpOp::Lt),
        "LessOrEqual" => Bin::Cmp(CmpOp::Le),
        "Greater" => Bin::Cmp(CmpOp::Gt),
        "GreaterOrEqual" => Bin::Cmp(CmpOp::Ge),
        "And" => Bin::And,
        "Or" => Bin::Or,
        "Xor" => Bin::Xor,
        "BitwiseAnd" => Bin::BitAnd,
        "BitwiseOr" => Bin::BitOr,
        "BitwiseXor" => Bin::BitXor,
        "Mod" => Bin::Mod {
            fmod: match a.int("fmod", 0)? {
                0 => false,
                1 => true,
                v => return Err(a.err("fmod", format!("must be 0 or 1, got {v}"))),
            },
        },
        "BitShift" => {
            let d = a
                .string_opt("direction")?
                .ok_or_else(|| a.err("direction", "required attribute missing"))?;
            Bin::Shift {
                left: match d.as_str() {
                    "LEFT" => true,
                    "RIGHT" => false,
                    _ => {
                        return Err(a.err(
                            "direction",
                            format!("must be \"LEFT\" or \"RIGHT\", got \"{d}\""),
                        ))
                    }
                },
            }
        }
        "PRelu" => Bin::PRelu,
        other => return Err(a.err("op", format!("{other} is not a binary math op"))),
    };
    let legacy_op = matches!(op, Bin::Cmp(_) | Bin::And | Bin::Or | Bin::Xor);
    if op == Bin::PRelu && n.opset < 7 {
        // Opsets 1 and 6: the slope is a scalar or one value per channel (axis 1).
        if n.opset < 6 {
            a.ignore("consumed_inputs");
        }
        return Ok(Box::new(Binary {
            op,
            legacy: Some(Some(Some(1))),
        }));
    }
    let legacy = if legacy_op && n.opset < 7 {
        match a.int("broadcast", 0)? {
            0 => {
                if a.has("axis") {
                    return Err(a.err("axis", "only allowed with broadcast=1"));
                }
                Some(None)
            }
            1 => Some(Some(a.int_opt("axis")?)),
            v => return Err(a.err("broadcast", format!("must be 0 or 1, got {v}"))),
        }
    } else {
        None
    };
    Ok(Box::new(Binary { op, legacy }))
}

/// B's shape for legacy broadcasting against A's (trailing 1s appended so numpy rules align it
/// at `axis`), or an error message.
pub(crate) fn legacy_b_shape(
    a: &[Dim],
    b: &[Dim],
    axis: Option<i64>,
) -> std::result::Result<Vec<Dim>, String> {
    let (ra, rb) = (a.len() as i64, b.len() as i64);
    let start = match axis {
        None => ra - rb,
        Some(ax) if ax < 0 => ax + ra,
        Some(ax) => ax,
    };
    if start < 0 || start + rb > ra {
        return Err(format!(
            "legacy broadcast: B (rank {rb}) does not fit in A (rank {ra}) at axis {start}"
        ));
    }
    let mut s = b.to_vec();
    s.extend(std::iter::repeat_n(
        Dim::known(1),
        (ra - start - rb) as usize,
    ));
    Ok(s)
}

impl Binary {
    fn allowed(&self, opset: i64) -> &'static [DType] {
        match self.op {
            Bin::Cmp(CmpOp::Eq) => ALL,
            Bin::Cmp(_) => NUMERIC,
            Bin::And | Bin::Or | Bin::Xor => &[DType::Bool],
            Bin::BitAnd | Bin::BitOr | Bin::BitXor => INTS,
            Bin::Mod { .. } => NUMERIC,
            Bin::Shift { .. } if opset >= 28 => INTS,
            Bin::Shift { .. } => &[DType::U8, DType::U16, DType::U32, DType::U64],
            Bin::PRelu if opset >= 9 => &[
                DType::F32,
                DType::F64,
                DType::I32,
                DType::I64,
                DType::U32,
                DType::U64,
            ],
            Bin::PRelu => FLOATS,
        }
    }
}

impl Op for Binary {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let opset = cx.node.opset;
        let d = same_dtype(cx, &[0, 1], self.allowed(opset))?;
        if let Bin::Mod { fmod: false } = self.op {
            if d.scalar().is_some_and(|s| s.is_float()) && opset < 28 {
                return Err(cx.err(format!(
                    "attribute 'fmod': floating-point inputs ({d}) need fmod=1 before opset 28"
                )));
            }
        }
        let (sa, sb) = (&cx.ty(0)?.shape, &cx.ty(1)?.shape);
        let shape = match self.legacy {
            Some(None) => {
                if sa != sb {
                    return Err(cx.err(format!(
                        "attribute 'broadcast' is 0 but the shapes {} and {} differ",
                        cx.shape_str(sa),
                        cx.shape_str(sb)
                    )));
                }
                sa.clone()
            }
            Some(Some(axis)) => {
                let pb = legacy_b_shape(sa, sb, axis).map_err(|m| cx.err(m))?;
                let s = broadcast::broadcast_shapes(cx, &[sa, &pb])?;
                if &s != sa {
                    return Err(cx.err(format!(
                        "legacy broadcast: B {} cannot be broadcast to A {}",
                        cx.shape_str(sb),
                        cx.shape_str(sa)
                    )));
                }
                s
            }
            None => bcast_shape(cx, &[0, 1])?,
        };
        if self.op == Bin::PRelu && &shape != sa {
            return Err(cx.err(format!(
                "slope {} cannot be broadcast to X {} (unidirectional)",
                cx.shape_str(sb),
                cx.shape_str(sa)
            )));
        }
        let out = match self.op {
            Bin::Cmp(_) => DType::Bool,
            _ => d,
        };
        Ok(vec![tt(out, shape)])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let a = cx.input(0)?;
        let mut b = cx.input(1)?;
        if let Some(Some(axis)) = self.legacy {
            b.shape = legacy_b_shape(&a.shape, &b.shape, axis).map_err(|m| cx.err(m))?;
        }
        let y = cx.output(0)?;
        let t = a.elem;
        let op = self.op;
        lower_map(&mut cx.kb, &[a, b], &y, |kb, v| {
            apply(kb, op, t, v[0].clone(), v[1].clone())
        });
        Ok(())
    }
}

fn apply(kb: &mut KernelBuilder, op: Bin, t: Scalar, x: Expr, y: Expr) -> Expr {
    let c = |v: f64| imm(t, v);
    match op {
        Bin::Cmp(o) => cmp(o, x, y),
        Bin::And | Bin::BitAnd => and(x, y),
        Bin::Or | Bin::BitOr => or(x, y),
        Bin::Xor | Bin::BitXor => binary(BinOp::Xor, x, y),
        Bin::Mod { fmod: true } if t.is_float() => call(MathFn::Fmod, vec![x, y]),
        Bin::Mod { fmod: true } => binary(BinOp::Rem, x, y),
        Bin::Mod { fmod: false } if t.is_float() => {
            let r = kb.let_(t, call(MathFn::Fmod, vec![x, y.clone()]));
            let ylt0 = cmp(CmpOp::Lt, y.clone(), c(0.0));
            let fix = and(
                cmp(CmpOp::Ne, r.clone(), c(0.0)),
                cmp(CmpOp::Ne, cmp(CmpOp::Lt, r.clone(), c(0.0)), ylt0.clone()),
            );
            let signed_zero = select(ylt0, c(-0.0), c(0.0));
            select(
                cmp(CmpOp::Eq, r.clone(), c(0.0)),
                signed_zero,
                select(fix, add(r.clone(), y), r),
            )
        }
        Bin::Mod { fmod: false } if t.is_signed() => {
            let r = kb.let_(t, binary(BinOp::Rem, x, y.clone()));
            let fix = and(
                cmp(CmpOp::Ne, r.clone(), c(0.0)),
                cmp(
                    CmpOp::Ne,
                    cmp(CmpOp::Lt, r.clone(), c(0.0)),
                    cmp(CmpOp::Lt, y.clone(), c(0.0)),
                ),
            );
            select(fix, add(r.clone(), y), r)
        }
        Bin::Mod { fmod: false } => binary(BinOp::Rem, x, y),
        Bin::Shift { left } => {
            let in_range = and(
                cmp(CmpOp::Ge, y.clone(), c(0.0)),
                cmp(CmpOp::Lt, y.clone(), c(t.bits() as f64)),
            );
            let shifted = binary(if left { BinOp::Shl } else { BinOp::Shr }, x.clone(), y);
            let fill = if !left && t.is_signed() {
                select(cmp(CmpOp::Lt, x, c(0.0)), c(-1.0), c(0.0))
            } else {
                c(0.0)
            };
            select(in_range, shifted, fill)
        }
        Bin::PRelu => select(cmp(CmpOp::Lt, x.clone(), c(0.0)), mul(y, x.clone()), x),
    }
}
