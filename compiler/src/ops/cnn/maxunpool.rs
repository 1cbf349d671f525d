//! MaxUnpool (opset 9, 11; 22 only adds bfloat16):
//! <https://onnx.ai/onnx/operators/onnx__MaxUnpool.html>
//!
//! Scatters `X` into zeros at the flattened positions `I` (int64, as MaxPool's Indices: over
//! the whole (N, C, spatial) tensor). The unpooled shape per spatial axis is
//! `(in - 1) * s - pb - pe + k`; with the optional third input `output_shape` (a compile-time
//! constant, every dim at least the unpooled one, same N and C) the unpooled tensor is placed
//! at the start of each axis of the larger output (as the reference implementation does).
//! Opset 11 only changed the text. Every index is checked (`BadIndex` outside
//! `[0, numel(unpooled))`); with duplicate indices the last element of X wins.

use super::window::const_strides;
use crate::error::Result;
use crate::ir::{dim::numel, Dim, TensorType};
use crate::kir::build;
use crate::kir::{CmpOp, Expr, Scalar, Status};
use crate::lower::LowerCx;
use crate::ops::{tt, Attrs, InferCx, Op, NUMERIC};
use crate::tensor::DType;

#[derive(Debug)]
pub struct MaxUnpool {
    pub kernel: Vec<i64>,
    pub pads: Option<Vec<i64>>,
    pub strides: Option<Vec<i64>>,
}

pub fn import(a: &Attrs) -> Result<Box<dyn Op>> {
    let kernel = a
        .ints_opt("kernel_shape")?
        .ok_or_else(|| a.err("kernel_shape", "required attribute missing"))?;
    let op = MaxUnpool {
        kernel,
        pads: a.ints_opt("pads")?,
        strides: a.ints_opt("strides")?,
    };
    for (name, v, min) in [
        ("kernel_shape", Some(&op.kernel), 1),
        ("pads", op.pads.as_ref(), 0),
        ("strides", op.strides.as_ref(), 1),
    ] {
        if let Some(x) = v.and_then(|v| v.iter().find(|x| **x < min)) {
            return Err(a.err(name, format!("value {x} must be at least {min}")));
        }
    }
    Ok(Box::new(op))
}

impl MaxUnpool {
    /// The unpooled shape of X.
    fn unpooled(&self, x: &[Dim]) -> std::result::Result<Vec<Dim>, String> {
        let n = self.kernel.len();
        if x.len() != n + 2 {
            return Err(format!(
                "X has rank {} but kernel_shape has {n} values",
                x.len()
            ));
        }
        let strides = self.strides.clone().unwrap_or_else(|| vec![1; n]);
        let pads = self.pads.clone().unwrap_or_else(|| vec![0; 2 * n]);
        if strides.len() != n || pads.len() != 2 * n {
            return Err(format!("strides must have {n} values and pads {}", 2 * n));
        }
        let mut out = x[..2].to_vec();
        for i in 0..n {
            let d = x[2 + i].scale(strides[i]).add(&Dim::known(
                self.kernel[i] - strides[i] - pads[i] - pads[n + i],
            ));
            if d.as_known().is_some_and(|v| v < 0) || !d.nonneg() {
                return Err(format!("spatial dim {i}: the unpooled size is negative"));
            }
            out.push(d);
        }
        Ok(out)
    }
}

impl Op for MaxUnpool {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let d = cx.expect_dtype(0, NUMERIC)?;
        cx.expect_dtype(1, &[DType::I64])?;
        let x = &cx.ty(0)?.shape;
        let i = &cx.ty(1)?.shape;
        if i != x {
            return Err(cx.err(format!(
                "I {} must have X's shape {}",
                cx.shape_str(i),
                cx.shape_str(x)
            )));
        }
        let un = self.unpooled(x).map_err(|e| cx.err(e))?;
        let out = if cx.has(2) {
            let os = cx.const_ints(2, "output_shape")?;
            if os.len() != un.len() {
                return Err(cx.err(format!(
                    "output_shape has {} values for rank {}",
                    os.len(),
                    un.len()
                )));
            }
            for (k, (o, u)) in os.iter().zip(&un).enumerate() {
                let ok = if k < 2 {
                    u.as_known() == Some(*o)
                } else {
                    u.as_known().is_some_and(|u| u <= *o)
                };
                if !ok {
                    return Err(cx.err(format!(
                        "output_shape {os:?} must keep N and C and not be smaller than the unpooled shape {}",
                        cx.shape_str(&un)
                    )));
                }
            }
            os.into_iter().map(Dim::known).collect()
        } else {
            un
        };
        Ok(vec![tt(d, out)])
    }

    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let ind = cx.input(1)?;
        let y = cx.output(0)?;
        let un = self.unpooled(&x.shape).map_err(|e| cx.err(e))?;
        let t = y.elem;
        let total = y.numel();
        cx.kb.loop_(Expr::i64(0), total, |kb, i| {
            kb.store(y.buf, i, Expr::imm(t, 0.0))
        });
        let limit = numel(&un).to_expr();
        let same = un == y.shape;
        let un_plane = numel(&un[2..]).to_expr();
        let out_plane = numel(&y.shape[2..]).to_expr();
        let un_sp: Vec<i64> = un[2..].iter().map(|d| d.as_known().unwrap_or(0)).collect();
        let un_strides = const_strides(&un_sp);
        let y_strides = build::strides(&y.dims()[2..]);
        cx.kb.loop_(Expr::i64(0), x.numel(), |kb, i| {
            let idx = kb.let_(Scalar::I64, ind.load(i.clone()));
            let bad = build::or(
                build::cmp(CmpOp::Lt, idx.clone(), Expr::i64(0)),
                build::cmp(CmpOp::Ge, idx.clone(), limit.clone()),
            );
            kb.if_(bad, |kb| kb.fail(Status::BadIndex), |_| {});
            let dst = if same {
                idx
            } else {
                // Unravel in the unpooled shape (known when output_shape was given), ravel in Y's.
                let nc = build::div(idx.clone(), un_plane.clone());
                let mut rest = kb.let_(Scalar::I64, build::rem(idx, un_plane.clone()));
                let mut off = build::mul(nc, out_plane.clone());
                for (us, ys) in un_strides.iter().zip(&y_strides) {
                    let q = build::div(rest.clone(), us.clone());
                    off = build::add(off, build::mul(q, ys.clone()));
                    rest = build::rem(rest, us.clone());
                }
                off
            };
            kb.store(y.buf, dst, x.load(i));
        });
        Ok(())
    }
}
