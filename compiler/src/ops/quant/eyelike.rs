//! EyeLike (opset 9, 22): <https://onnx.ai/onnx/operators/onnx__EyeLike.html>. A 2-D tensor of
//! the input's shape with ones on the diagonal `j - i == k` and zeros elsewhere; `dtype`
//! (default: the input's type) chooses the output type. Opset 22 only widened the types.
//! Symbolic dims are fine (the input's values are never read).

use crate::error::Result;
use crate::ir::TensorType;
use crate::kir::build::{self, cmp, select};
use crate::kir::{CmpOp, Expr, Lit, Scalar};
use crate::lower::LowerCx;
use crate::ops::{tt, Attrs, InferCx, Op, ALL};
use crate::tensor::DType;

#[derive(Debug)]
pub struct EyeLike {
    pub dtype: Option<DType>,
    pub k: i64,
}

pub fn import(a: &Attrs) -> Result<Box<dyn Op>> {
    let dtype = match a.int_opt("dtype")? {
        None => None,
        Some(c) => {
            let d = DType::from_onnx(c as i32)
                .ok_or_else(|| a.err("dtype", format!("unknown element type {c}")))?;
            if !ALL.contains(&d) {
                return Err(a.err("dtype", format!("element type {d} is not supported")));
            }
            Some(d)
        }
    };
    Ok(Box::new(EyeLike {
        dtype,
        k: a.int("k", 0)?,
    }))
}

fn one(t: Scalar, on: bool) -> Expr {
    if t.is_float() {
        Expr::imm(t, if on { 1.0 } else { 0.0 })
    } else {
        Expr::Imm(t, Lit::Int(on as i64))
    }
}

impl Op for EyeLike {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let x = cx.ty(0)?;
        if x.shape.len() != 2 {
            return Err(cx.err(format!(
                "input must be 2-D, got shape {}",
                cx.shape_str(&x.shape)
            )));
        }
        let d = match self.dtype {
            Some(d) => d,
            None => cx.expect_dtype(0, ALL)?,
        };
        Ok(vec![tt(d, x.shape.clone())])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let y = cx.output(0)?;
        let t = y.elem;
        let k = self.k;
        let ys = y.strides();
        cx.kb.loops(&y.dims(), |kb, idx| {
            let on = cmp(
                CmpOp::Eq,
                build::sub(idx[1].clone(), idx[0].clone()),
                Expr::i64(k),
            );
            kb.store(
                y.buf,
                build::linear(idx, &ys),
                select(on, one(t, true), one(t, false)),
            );
        });
        Ok(())
    }
    fn flops(&self, _inputs: &[Option<&TensorType>], _outputs: &[&TensorType]) -> crate::ir::Dim {
        crate::ir::Dim::known(0)
    }
}
