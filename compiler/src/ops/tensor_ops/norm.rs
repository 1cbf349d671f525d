//! LayerNormalization and RMSNormalization.
//!
//! LayerNormalization (opset 17): <https://onnx.ai/onnx/operators/onnx__LayerNormalization.html>.
//! Each row of `prod(dims[axis..])` elements is normalised: `mean = sum(x) / n`,
//! `var = sum((x - mean)^2) / n`, `inv = 1 / sqrt(var + epsilon)`, `y = (x - mean) * inv *
//! scale + bias` (`scale` and the optional `B` broadcast against `dims[axis..]`). The
//! optional outputs `Mean` and `InvStdDev` have the input's shape with `dims[axis..]` set to 1.
//! `stash_type` picks the precision of the computation and of Mean/InvStdDev (1: float32,
//! 11: float64); Y is converted back to the input type. Sums run in `KernelBuilder::reduce`'s
//! order (eight interleaved partial sums combined as a tree).
//!
//! RMSNormalization (opset 23): <https://onnx.ai/onnx/operators/onnx__RMSNormalization.html>.
//! `y = x / sqrt(sum(x^2) / n + epsilon) * scale`, same row definition and `stash_type`.

use super::fix_axis;
use crate::error::Result;
use crate::ir::{dim::numel, Dim, TensorType};
use crate::kir::build::{self, cast, unary};
use crate::kir::{BinOp, Expr, Scalar, UnOp};
use crate::lower::{LowerCx, TensorRef};
use crate::ops::{broadcast, tt, Attrs, InferCx, Op, FLOATS};

/// Float addition as `KernelBuilder::reduce`'s operator.
fn add(a: Expr, b: Expr) -> Expr {
    build::binary(BinOp::Add, a, b)
}
use crate::tensor::DType;

#[derive(Debug)]
pub struct Norm {
    pub rms: bool,
    pub axis: i64,
    pub epsilon: f32,
    pub stash: Scalar,
}

fn import(a: &Attrs, rms: bool) -> Result<Box<dyn Op>> {
    let stash = match a.int("stash_type", 1)? {
        1 => Scalar::F32,
        11 => Scalar::F64,
        v => {
            return Err(a.err(
                "stash_type",
                format!("must be 1 (float) or 11 (double), got {v}"),
            ));
        }
    };
    Ok(Box::new(Norm {
        rms,
        axis: a.int("axis", -1)?,
        epsilon: a.float("epsilon", 1e-5)?,
        stash,
    }))
}

pub fn import_layer(a: &Attrs) -> Result<Box<dyn Op>> {
    import(a, false)
}
pub fn import_rms(a: &Attrs) -> Result<Box<dyn Op>> {
    import(a, true)
}

fn conv(e: Expr, from: Scalar, to: Scalar) -> Expr {
    if from == to {
        e
    } else {
        cast(to, e)
    }
}

impl Op for Norm {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let d = cx.expect_dtype(0, FLOATS)?;
        let x = &cx.ty(0)?.shape;
        let ax = cx.axis(self.axis, x.len(), "axis")?;
        let nshape = &x[ax..];
        let n_params = if self.rms { 2 } else { 3 };
        for i in 1..n_params {
            if !cx.has(i) {
                if i == 1 {
                    return Err(cx.err("Scale (input 1) is required"));
                }
                continue;
            }
            let t = cx.ty(i)?;
            if t.dtype != d {
                return Err(cx.err(format!("input {i} has element type {}, X {d}", t.dtype)));
            }
            let out = broadcast::broadcast_shapes(cx, &[nshape, &t.shape])?;
            if out != nshape {
                return Err(cx.err(format!(
                    "input {i} of shape {} does not broadcast to the normalised shape {}",
                    cx.shape_str(&t.shape),
                    cx.shape_str(nshape)
                )));
            }
        }
        let mut outs = vec![tt(d, x.clone())];
        if !self.rms {
            let mut s = x[..ax].to_vec();
            s.extend(std::iter::repeat_n(Dim::known(1), x.len() - ax));
            let sd = DType::from_scalar(self.stash);
            outs.push(tt(sd, s.clone()));
            outs.push(tt(sd, s));
        }
        Ok(outs)
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let y = cx.output(0)?;
        let scale = cx.input(1)?;
        let bias = if self.rms {
            None
        } else {
            cx.ins.get(2).cloned().flatten()
        };
        let mean_out = cx.outs.get(1).cloned().flatten();
        let inv_out = cx.outs.get(2).cloned().flatten();
        let r = x.rank();
        let ax = fix_axis(self.axis, r);
        let outer = numel(&x.shape[..ax]).to_expr();
        let ndims: Vec<Expr> = x.shape[ax..].iter().map(|d| d.to_expr()).collect();
        let n = numel(&x.shape[ax..]).to_expr();
        let nstr = build::strides(&ndims);
        let (xt, st) = (x.elem, self.stash);
        let eps = Expr::imm(st, self.epsilon as f64);
        let rms = self.rms;
        let param = |p: &TensorRef, idx: &[Expr]| -> Expr {
            let mut full = vec![Expr::i64(0); ax];
            full.extend(idx.iter().cloned());
            conv(broadcast::load(p, &full), xt, st)
        };
        cx.kb.loop_(Expr::i64(0), outer, |kb, o| {
            let base = kb.let_(Scalar::I64, build::mul(o.clone(), n.clone()));
            let at = |i: Expr| build::add(base.clone(), i);
            let cnt = kb.let_(st, cast(st, n.clone()));
            let mean = if rms {
                None
            } else {
                let s = kb.reduce(st, Expr::imm(st, 0.0), n.clone(), add, |_, i| {
                    conv(x.load(at(i)), xt, st)
                });
                Some(kb.let_(st, build::binary(BinOp::Div, s, cnt.clone())))
            };
            let centred = |v: Expr| match &mean {
                Some(m) => build::binary(BinOp::Sub, v, m.clone()),
                None => v,
            };
            let ss = kb.reduce(st, Expr::imm(st, 0.0), n.clone(), add, |kb, i| {
                let dv = kb.let_(st, centred(conv(x.load(at(i)), xt, st)));
                build::binary(BinOp::Mul, dv.clone(), dv)
            });
            let var = build::binary(BinOp::Div, ss, cnt.clone());
            let sd = kb.let_(
                st,
                unary(UnOp::Sqrt, build::binary(BinOp::Add, var, eps.clone())),
            );
            let inv = kb.let_(
                st,
                build::binary(BinOp::Div, Expr::imm(st, 1.0), sd.clone()),
            );
            if let (Some(mo), Some(m)) = (&mean_out, &mean) {
                kb.store(mo.buf, o.clone(), m.clone());
            }
            if let Some(io) = &inv_out {
                kb.store(io.buf, o.clone(), inv.clone());
            }
            kb.loops(&ndims, |kb, idx| {
                let li = build::linear(idx, &nstr);
                let xv = conv(x.load(at(li.clone())), xt, st);
                let normed = if rms {
                    build::binary(BinOp::Div, xv, sd.clone())
                } else {
                    build::binary(BinOp::Mul, centred(xv), inv.clone())
                };
                let mut v = build::binary(BinOp::Mul, normed, param(&scale, idx));
                if let Some(b) = &bias {
                    v = build::binary(BinOp::Add, v, param(b, idx));
                }
                kb.store(y.buf, at(li), conv(v, st, xt));
            });
        });
        Ok(())
    }
}
