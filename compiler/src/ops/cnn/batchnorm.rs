//! BatchNormalization: <https://onnx.ai/onnx/operators/onnx__BatchNormalization.html>
//!
//! Versions: 1 (`consumed_inputs`, `is_test`, `spatial`), 6 (no `consumed_inputs`), 7 (no
//! `is_test`: the mode follows the number of outputs), 9 (no `spatial`), 14 (`training_mode`,
//! outputs Y, running_mean, running_var), 15 (scale/bias and mean/var may have float types
//! other than X's: they are cast to X's type).
//!
//! Inference: `Y = (X - mean) * (scale / sqrt(var + epsilon)) + B` over channel dim 1 (the
//! per-channel factor is computed once). Training mode (opset ≥ 14, `training_mode = 1`) uses
//! the batch statistics over all dims but 1 — mean, then the biased variance
//! `mean((X - mean)^2)` (two passes, index order) — and outputs
//! `running_mean = mean_in * momentum + batch_mean * (1 - momentum)` (same for var).
//! `momentum` is read in every version (it only matters in training mode). `spatial = 0` and
//! the training-mode outputs of opsets < 14 (saved mean / var) are not supported: error.

use crate::error::Result;
use crate::ir::{dim::numel, TensorType};
use crate::kir::build::{self, cast, unary};
use crate::kir::{BinOp, Expr, Scalar, UnOp};
use crate::lower::{LowerCx, TensorRef};
use crate::ops::{tt, Attrs, InferCx, Op, FLOATS};

#[derive(Debug)]
pub struct BatchNorm {
    pub epsilon: f32,
    pub momentum: f32,
    pub training: bool,
}

pub fn import(a: &Attrs) -> Result<Box<dyn Op>> {
    let n = a.node();
    let v = n.opset;
    if v < 6 {
        a.ignore("consumed_inputs");
    }
    let epsilon = a.float("epsilon", 1e-5)?;
    let momentum = a.float("momentum", 0.9)?;
    let mut training = false;
    if v < 7 {
        let is_test = a.int("is_test", 0)?;
        if is_test == 0 && n.outputs.len() > 1 {
            return Err(a.err(
                "is_test",
                "training mode (is_test = 0 with the mean/var outputs) is not supported before opset 14",
            ));
        }
    } else if v < 14 && n.outputs.len() > 1 {
        return Err(crate::error::Error::Node(format!(
            "{}: training mode (the mean/var/saved outputs) is only supported from opset 14 \
             (training_mode)",
            n.describe()
        )));
    }
    if v < 9 {
        let spatial = a.int("spatial", 1)?;
        if spatial != 1 {
            return Err(a.err(
                "spatial",
                format!("only spatial = 1 is supported, got {spatial}"),
            ));
        }
    }
    if v >= 14 {
        let tm = a.int("training_mode", 0)?;
        if tm != 0 && tm != 1 {
            return Err(a.err("training_mode", format!("must be 0 or 1, got {tm}")));
        }
        training = tm == 1;
        if !training && n.outputs.len() > 1 {
            return Err(a.err(
                "training_mode",
                "the running_mean / running_var outputs need training_mode = 1",
            ));
        }
    }
    Ok(Box::new(BatchNorm {
        epsilon,
        momentum,
        training,
    }))
}

impl Op for BatchNorm {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let d = cx.expect_dtype(0, FLOATS)?;
        let x = &cx.ty(0)?.shape;
        if x.len() < 2 {
            return Err(cx.err(format!(
                "X must have rank 2 or more (N, C, ...), got rank {}",
                x.len()
            )));
        }
        for (i, what) in [(1, "scale"), (2, "B"), (3, "mean"), (4, "var")] {
            cx.expect_dtype(i, FLOATS)?;
            let s = &cx.ty(i)?.shape;
            if s.len() != 1 || s[0] != x[1] {
                return Err(cx.err(format!(
                    "{what} (input {i}) must have shape ({}), got {}",
                    x[1].show(cx.syms),
                    cx.shape_str(s)
                )));
            }
        }
        let mut v = vec![tt(d, x.clone())];
        if self.training {
            let dm = cx.ty(3)?.dtype;
            v.push(tt(dm, vec![x[1].clone()]));
            v.push(tt(cx.ty(4)?.dtype, vec![x[1].clone()]));
        }
        Ok(v)
    }

    fn flops(&self, inputs: &[Option<&TensorType>], _: &[&TensorType]) -> crate::ir::Dim {
        inputs
            .first()
            .copied()
            .flatten()
            .map_or(crate::ir::Dim::known(0), |x| numel(&x.shape).scale(2))
    }

    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let p: Vec<TensorRef> = (1..5).map(|i| cx.input(i)).collect::<Result<_>>()?;
        let y = cx.output(0)?;
        let outs = [
            cx.outs.get(1).cloned().flatten(),
            cx.outs.get(2).cloned().flatten(),
        ];
        let t = y.elem;
        let n = x.dim(0);
        let c_dim = x.dim(1);
        let plane = numel(&x.shape[2..]).to_expr();
        let (eps, mom) = (self.epsilon as f64, self.momentum as f64);
        let training = self.training;
        // A parameter at channel c, in X's type.
        let param = |i: usize, c: &Expr| {
            let v = p[i].load(c.clone());
            if p[i].elem == t {
                v
            } else {
                cast(t, v)
            }
        };
        let add = |a, b| build::binary(BinOp::Add, a, b);
        let sub = |a, b| build::binary(BinOp::Sub, a, b);
        let mul = |a, b| build::binary(BinOp::Mul, a, b);
        let div = |a, b| build::binary(BinOp::Div, a, b);
        cx.kb.loop_(Expr::i64(0), c_dim.clone(), |kb, c| {
            // Offset of (n, c, 0...).
            let at = |n: &Expr| {
                build::mul(
                    build::add(build::mul(n.clone(), c_dim.clone()), c.clone()),
                    plane.clone(),
                )
            };
            let (mean, var) = if training {
                let count = cast(t, build::mul(n.clone(), plane.clone()));
                let count = kb.let_(t, count);
                let s = kb.let_mut(t, Expr::imm(t, 0.0));
                kb.loop_(Expr::i64(0), n.clone(), |kb, ni| {
                    let base = kb.let_(Scalar::I64, at(&ni));
                    kb.loop_(Expr::i64(0), plane.clone(), |kb, i| {
                        kb.set(s, add(Expr::Var(s), x.load(build::add(base.clone(), i))));
                    });
                });
                let mean = kb.let_(t, div(Expr::Var(s), count.clone()));
                let q = kb.let_mut(t, Expr::imm(t, 0.0));
                kb.loop_(Expr::i64(0), n.clone(), |kb, ni| {
                    let base = kb.let_(Scalar::I64, at(&ni));
                    kb.loop_(Expr::i64(0), plane.clone(), |kb, i| {
                        let dv = kb.let_(t, sub(x.load(build::add(base.clone(), i)), mean.clone()));
                        kb.set(q, add(Expr::Var(q), mul(dv.clone(), dv)));
                    });
                });
                let var = kb.let_(t, div(Expr::Var(q), count));
                for (k, (o, stat)) in outs.iter().zip([&mean, &var]).enumerate() {
                    if let Some(o) = o {
                        let ot = o.elem;
                        let running = p[2 + k].load(c.clone());
                        let stat = if ot == t {
                            stat.clone()
                        } else {
                            cast(ot, stat.clone())
                        };
                        let v = add(
                            mul(running, Expr::imm(ot, mom)),
                            mul(stat, Expr::imm(ot, 1.0 - mom)),
                        );
                        kb.store(o.buf, c.clone(), v);
                    }
                }
                (mean, var)
            } else {
                (kb.let_(t, param(2, &c)), param(3, &c))
            };
            let den = unary(UnOp::Sqrt, add(var, Expr::imm(t, eps)));
            let inv = kb.let_(t, div(param(0, &c), den));
            let b = kb.let_(t, param(1, &c));
            kb.loop_(Expr::i64(0), n.clone(), |kb, ni| {
                let base = kb.let_(Scalar::I64, at(&ni));
                kb.loop_(Expr::i64(0), plane.clone(), |kb, i| {
                    let idx = build::add(base.clone(), i);
                    let v = add(
                        mul(sub(x.load(idx.clone()), mean.clone()), inv.clone()),
                        b.clone(),
                    );
                    kb.store(y.buf, idx, v);
                });
            });
        });
        Ok(())
    }
}
