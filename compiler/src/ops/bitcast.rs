//! BitCast (opset 26): reinterpret each element's bits as another type of the same width;
//! the shape is unchanged. Bool ↔ 8-bit ints copies the byte (a bool input holds 0 or 1, so
//! the result is 0 or 1; an 8-bit value other than 0 or 1 cast to bool keeps its byte as the
//! spec asks, which Kiln reads as true).

use super::{tt, Attrs, InferCx, Op, ALL};
use crate::error::Result;
use crate::ir::TensorType;
use crate::kir::{build, Expr, Scalar};
use crate::lower::LowerCx;
use crate::tensor::DType;

#[derive(Debug)]
pub struct BitCast {
    pub to: DType,
}

pub fn import(a: &Attrs) -> Result<Box<dyn Op>> {
    let code = a.req_int("to")?;
    let to = DType::from_onnx(code as i32)
        .ok_or_else(|| a.err("to", format!("unknown element type {code}")))?;
    if to.scalar().is_none() {
        return Err(a.err("to", format!("bit casts to {to} are not supported")));
    }
    Ok(Box::new(BitCast { to }))
}

impl Op for BitCast {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let d = cx.expect_dtype(0, ALL)?;
        if d.size() != self.to.size() {
            return Err(cx.err(format!("{d} and {} have different bit widths", self.to)));
        }
        Ok(vec![tt(self.to, cx.ty(0)?.shape.clone())])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let y = cx.output(0)?;
        // Bool is a byte holding 0 or 1 in kir: go through u8 for bool on either side.
        let via = |s: Scalar| if s == Scalar::Bool { Scalar::U8 } else { s };
        let (from, to) = (x.elem, y.elem);
        cx.kb.loop_(Expr::i64(0), y.numel(), |kb, i| {
            let mut v = x.load(i.clone());
            if from == Scalar::Bool {
                v = build::cast(Scalar::U8, v);
            }
            if via(from) != via(to) {
                v = build::bitcast(via(to), v);
            }
            if to == Scalar::Bool {
                v = build::cast(Scalar::Bool, v);
            }
            kb.store(y.buf, i, v);
        });
        Ok(())
    }
}
