//! QuantizeLinear, DequantizeLinear and DynamicQuantizeLinear.
//!
//! - QuantizeLinear <https://onnx.ai/onnx/operators/onnx__QuantizeLinear.html>:
//!   `y = saturate(round_half_even(x / y_scale) + y_zero_point)`. Opset 10: per-tensor scale
//!   and zero point (x float32 or int32). 13: `axis` (per-axis: 1-D scale of `x.shape[axis]`
//!   elements). 19: `saturate` (float8 only). 21: `block_size` (blocked: the scale has x's rank
//!   and `ceil(x.shape[axis] / block_size)` elements on `axis`), `output_dtype`, 4-bit types.
//!   23/24: `precision` (the type the division runs in). 25: 2-bit types.
//! - DequantizeLinear <https://onnx.ai/onnx/operators/onnx__DequantizeLinear.html>:
//!   `y = (x - x_zero_point) * x_scale`. 10, 13 (`axis`), 19 (output has the scale's type),
//!   21 (`block_size`), 23 (`output_dtype`), 24/25 (types only).
//! - DynamicQuantizeLinear <https://onnx.ai/onnx/operators/onnx__DynamicQuantizeLinear.html>
//!   (11): uint8 with `scale = (max(0, max x) - min(0, min x)) / 255` (1 when the range is
//!   empty), `zp = round(clamp(-min / scale, 0, 255))`, all in float32 as the reference does.
//!
//! Decisions (following the ONNX reference): the division runs in the scale's float type
//! (float64 when x is int32, as numpy promotes, or in `precision` when given); the rounded
//! value is converted to int64 (saturating; NaN gives 0), the zero point added and the result
//! clamped to the output type. Dequantization subtracts the zero point exactly in int64, then
//! converts to the scale's type (float64 for int32 inputs) and multiplies. Output types:
//! zero point's type, else `output_dtype`, else uint8. float8/int4/int2/float4 have no storage
//! in Kiln yet: rejected with a clear error.

use super::{clamp_i64, conv, expect_q, no_storage, qrange, QINTS};
use crate::error::Result;
use crate::ir::{dim::numel, Dim, TensorType};
use crate::kir::build::{self, cast, unary};
use crate::kir::{BinOp, CmpOp, Expr, Scalar, UnOp};
use crate::lower::{LowerCx, TensorRef};
use crate::ops::{tt, Attrs, InferCx, Op, FLOATS};
use crate::tensor::DType;

/// How a scale / zero point maps onto x.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Layout {
    Tensor,
    Axis(usize),
    Block(usize, i64),
}

/// The layout of parameter input `pi` (scale or zero point) against x's shape.
pub fn layout(cx: &InferCx, pi: usize, axis: i64, block: i64, per_axis_ok: bool) -> Result<Layout> {
    let x = &cx.ty(0)?.shape;
    let p = &cx.ty(pi)?.shape;
    if block > 0 {
        let ax = cx.axis(axis, x.len(), "axis")?;
        let ok = p.len() == x.len()
            && (0..x.len()).all(|i| {
                i == ax
                    || p[i] == x[i]
                    || (p[i].as_known() == Some(1) && x[i].as_known() == Some(1))
            });
        let xa = x[ax].as_known().ok_or_else(|| {
            cx.err(format!(
                "blocked quantization needs the value of dim {ax} (use --dim)"
            ))
        })?;
        let want = (xa + block - 1) / block;
        if !ok || p[ax].as_known() != Some(want) {
            return Err(cx.err(format!(
                "input {pi} has shape {}; blocked quantization of x {} with block_size {block} \
                 on axis {ax} needs x's shape with {want} on that axis",
                cx.shape_str(p),
                cx.shape_str(x)
            )));
        }
        return Ok(Layout::Block(ax, block));
    }
    if p.is_empty() || numel(p).as_known() == Some(1) && p.len() == 1 {
        return Ok(Layout::Tensor);
    }
    if per_axis_ok && p.len() == 1 && !x.is_empty() {
        let ax = cx.axis(axis, x.len(), "axis")?;
        if p[0] == x[ax] {
            return Ok(Layout::Axis(ax));
        }
    }
    Err(cx.err(format!(
        "input {pi} has shape {}; it must be a scalar{} for x of shape {}",
        cx.shape_str(p),
        if per_axis_ok {
            format!(" or a 1-D tensor of x.shape[axis={axis}] elements")
        } else {
            String::new()
        },
        cx.shape_str(x)
    )))
}

/// Linear index into a parameter tensor `p` for x's multi-index `idx`.
pub fn param_index(l: Layout, p: &TensorRef, idx: &[Expr]) -> Expr {
    match l {
        Layout::Tensor => Expr::i64(0),
        Layout::Axis(a) => idx[a].clone(),
        Layout::Block(a, bs) => {
            let mut j = idx.to_vec();
            j[a] = build::div(j[a].clone(), Expr::i64(bs));
            build::linear(&j, &p.strides())
        }
    }
}

fn dtype_attr(a: &Attrs, name: &str) -> Result<Option<DType>> {
    match a.int_opt(name)? {
        None | Some(0) => Ok(None),
        Some(c) => DType::from_onnx(c as i32)
            .map(Some)
            .ok_or_else(|| a.err(name, format!("unknown element type {c}"))),
    }
}

#[derive(Debug)]
pub struct Quantize {
    pub axis: i64,
    pub block: i64,
    pub output_dtype: Option<DType>,
    pub precision: Option<DType>,
    pub opset: i64,
}

pub fn import_quantize(a: &Attrs) -> Result<Box<dyn Op>> {
    let opset = a.node().opset;
    let axis = if opset >= 13 { a.int("axis", 1)? } else { 1 };
    if opset >= 19 {
        // Only float8 outputs saturate optionally; they have no storage yet.
        a.int("saturate", 1)?;
    }
    let (block, output_dtype) = if opset >= 21 {
        (a.int("block_size", 0)?, dtype_attr(a, "output_dtype")?)
    } else {
        (0, None)
    };
    if block < 0 {
        return Err(a.err("block_size", format!("value {block} must be >= 0")));
    }
    let precision = if opset >= 23 {
        dtype_attr(a, "precision")?
    } else {
        None
    };
    if let Some(p) = precision {
        if !FLOATS.contains(&p) {
            return Err(a.err(
                "precision",
                format!("{p} is not supported (float32 and float64 are)"),
            ));
        }
    }
    Ok(Box::new(Quantize {
        axis,
        block,
        output_dtype,
        precision,
        opset,
    }))
}

impl Quantize {
    fn out_dtype(&self, cx: &InferCx) -> Result<DType> {
        let d = if cx.has(2) {
            let z = cx.ty(2)?.dtype;
            if let Some(o) = self.output_dtype {
                if o != z {
                    return Err(cx.err(format!(
                        "output_dtype {o} differs from the zero point's type {z}"
                    )));
                }
            }
            z
        } else {
            self.output_dtype.unwrap_or(DType::U8)
        };
        if no_storage(d) {
            return Err(cx.err(format!(
                "output element type {d} is not supported (Kiln cannot store it yet)"
            )));
        }
        if !QINTS.contains(&d) {
            return Err(cx.err(format!(
                "output element type {d} is not a quantized type (int8, uint8, int16, uint16)"
            )));
        }
        Ok(d)
    }
    fn layouts(&self, cx: &InferCx) -> Result<Layout> {
        let l = layout(cx, 1, self.axis, self.block, self.opset >= 13)?;
        if cx.has(2) && cx.ty(2)?.shape != cx.ty(1)?.shape {
            let l2 = layout(cx, 2, self.axis, self.block, self.opset >= 13)?;
            if l2 != l {
                return Err(cx.err("y_scale and y_zero_point must have the same shape"));
            }
        }
        Ok(l)
    }
}

impl Op for Quantize {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        expect_q(cx, 0, &[DType::F32, DType::F64, DType::I32], "x")?;
        expect_q(cx, 1, &[DType::F32, DType::F64, DType::I32], "y_scale")?;
        let d = self.out_dtype(cx)?;
        self.layouts(cx)?;
        Ok(vec![tt(d, cx.ty(0)?.shape.clone())])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let s = cx.input(1)?;
        let zp = cx.ins.get(2).cloned().flatten();
        let y = cx.output(0)?;
        let l = crate::ops::tensor_ops::with_infer(cx, |icx| self.layouts(icx))?;
        let ct = match self.precision {
            Some(p) => p.scalar().unwrap_or(Scalar::F64),
            None if x.elem == Scalar::F64 || s.elem == Scalar::F64 || !x.elem.is_float() => {
                Scalar::F64
            }
            None => Scalar::F32,
        };
        let (lo, hi) = qrange(y.elem);
        cx.kb.loops(&x.dims(), |kb, idx| {
            let pi = kb.let_(Scalar::I64, param_index(l, &s, idx));
            let q = build::binary(
                BinOp::Div,
                conv(x.at(idx), x.elem, ct),
                conv(s.load(pi.clone()), s.elem, ct),
            );
            let qi = clamp_i64(
                cast(Scalar::I64, unary(UnOp::Round, q)),
                -(1 << 40),
                1 << 40,
            );
            let qi = match &zp {
                Some(z) => build::add(qi, conv(z.load(pi), z.elem, Scalar::I64)),
                None => qi,
            };
            let v = cast(y.elem, clamp_i64(qi, lo, hi));
            kb.store(y.buf, build::linear(idx, &y.strides()), v);
        });
        Ok(())
    }
}

#[derive(Debug)]
pub struct Dequantize {
    pub axis: i64,
    pub block: i64,
    pub output_dtype: Option<DType>,
    pub opset: i64,
}

pub fn import_dequantize(a: &Attrs) -> Result<Box<dyn Op>> {
    let opset = a.node().opset;
    let axis = if opset >= 13 { a.int("axis", 1)? } else { 1 };
    let block = if opset >= 21 {
        a.int("block_size", 0)?
    } else {
        0
    };
    if block < 0 {
        return Err(a.err("block_size", format!("value {block} must be >= 0")));
    }
    let output_dtype = if opset >= 23 {
        dtype_attr(a, "output_dtype")?
    } else {
        None
    };
    if let Some(o) = output_dtype {
        if !FLOATS.contains(&o) {
            return Err(a.err(
                "output_dtype",
                format!("{o} is not supported (float32 and float64 are)"),
            ));
        }
    }
    Ok(Box::new(Dequantize {
        axis,
        block,
        output_dtype,
        opset,
    }))
}

impl Dequantize {
    fn layouts(&self, cx: &InferCx) -> Result<Layout> {
        let l = layout(cx, 1, self.axis, self.block, self.opset >= 13)?;
        if cx.has(2) && cx.ty(2)?.shape != cx.ty(1)?.shape {
            let l2 = layout(cx, 2, self.axis, self.block, self.opset >= 13)?;
            if l2 != l {
                return Err(cx.err("x_scale and x_zero_point must have the same shape"));
            }
        }
        Ok(l)
    }
}

impl Op for Dequantize {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let xd = expect_q(
            cx,
            0,
            &[DType::I8, DType::U8, DType::I16, DType::U16, DType::I32],
            "x",
        )?;
        let sd = expect_q(cx, 1, FLOATS, "x_scale")?;
        if cx.has(2) && cx.ty(2)?.dtype != xd {
            return Err(cx.err(format!(
                "x_zero_point has element type {} but x has {xd}",
                cx.ty(2)?.dtype
            )));
        }
        self.layouts(cx)?;
        let d = self.output_dtype.unwrap_or(sd);
        Ok(vec![tt(d, cx.ty(0)?.shape.clone())])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let s = cx.input(1)?;
        let zp = cx.ins.get(2).cloned().flatten();
        let y = cx.output(0)?;
        let l = crate::ops::tensor_ops::with_infer(cx, |icx| self.layouts(icx))?;
        let ct = if x.elem == Scalar::I32 {
            Scalar::F64
        } else {
            s.elem
        };
        cx.kb.loops(&x.dims(), |kb, idx| {
            let pi = kb.let_(Scalar::I64, param_index(l, &s, idx));
            let mut d = conv(x.at(idx), x.elem, Scalar::I64);
            if let Some(z) = &zp {
                d = build::sub(d, conv(z.load(pi.clone()), z.elem, Scalar::I64));
            }
            let v = build::binary(
                BinOp::Mul,
                conv(d, Scalar::I64, ct),
                conv(s.load(pi), s.elem, ct),
            );
            kb.store(y.buf, build::linear(idx, &y.strides()), conv(v, ct, y.elem));
        });
        Ok(())
    }
}

#[derive(Debug)]
pub struct DynamicQuantize;

pub fn import_dynamic(_a: &Attrs) -> Result<Box<dyn Op>> {
    Ok(Box::new(DynamicQuantize))
}

impl Op for DynamicQuantize {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        expect_q(cx, 0, &[DType::F32], "x")?;
        let x = cx.ty(0)?.shape.clone();
        Ok(vec![
            tt(DType::U8, x),
            tt(DType::F32, vec![]),
            tt(DType::U8, Vec::<Dim>::new()),
        ])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let y = cx.output(0)?;
        let ys = cx.outs.get(1).cloned().flatten();
        let yz = cx.outs.get(2).cloned().flatten();
        let t = Scalar::F32;
        let f = |v: f64| Expr::imm(t, v);
        let n = x.numel();
        let kb = &mut cx.kb;
        let mx = kb.let_mut(t, f(0.0));
        let mn = kb.let_mut(t, f(0.0));
        kb.loop_(Expr::i64(0), n.clone(), |kb, i| {
            let v = kb.let_(t, x.load(i));
            kb.set(mx, build::max(Expr::Var(mx), v.clone()));
            kb.set(mn, build::min(Expr::Var(mn), v));
        });
        let (mx, mn) = (Expr::Var(mx), Expr::Var(mn));
        let scale = kb.let_(
            t,
            build::select(
                build::cmp(CmpOp::Eq, mx.clone(), mn.clone()),
                f(1.0),
                build::binary(
                    BinOp::Div,
                    build::binary(BinOp::Sub, mx, mn.clone()),
                    f(255.0),
                ),
            ),
        );
        let z0 = build::binary(
            BinOp::Sub,
            f(0.0),
            build::binary(BinOp::Div, mn, scale.clone()),
        );
        // max(qmin, min(qmax, z0)) as Python's builtins do (NaN compares false).
        let z = kb.let_(t, build::max(f(0.0), build::min(f(255.0), z0)));
        let zr = kb.let_(t, unary(UnOp::Round, z));
        kb.loop_(Expr::i64(0), n, |kb, i| {
            let q = build::binary(
                BinOp::Add,
                unary(
                    UnOp::Round,
                    build::binary(BinOp::Div, x.load(i.clone()), scale.clone()),
                ),
                zr.clone(),
            );
            let q = build::min(build::max(q, f(0.0)), f(255.0));
            kb.store(y.buf, i, cast(Scalar::U8, q));
        });
        if let Some(o) = ys {
            kb.store(o.buf, Expr::i64(0), scale);
        }
        if let Some(o) = yz {
            kb.store(o.buf, Expr::i64(0), cast(Scalar::U8, zr));
        }
        Ok(())
    }
}
