//! Cast (opset 6, 9, 13, 19 `saturate`, 21, 23, 24): element type conversion with kir's pinned
//! semantics — float to int saturates (NaN to 0), int to int wraps, to bool is `x != 0`.
//! ONNX leaves out-of-range float-to-int undefined; saturation is what a user would want and is
//! the same on every backend. Strings and float16 are not computed yet (a clear error).

use super::{tt, Attrs, InferCx, Op, ALL};
use crate::error::Result;
use crate::ir::TensorType;
use crate::kir::{build, Expr};
use crate::lower::LowerCx;
use crate::tensor::DType;

#[derive(Debug)]
pub struct Cast {
    pub to: DType,
}

pub fn import(a: &Attrs) -> Result<Box<dyn Op>> {
    let code = a.req_int("to")?;
    let to = DType::from_onnx(code as i32)
        .ok_or_else(|| a.err("to", format!("unknown element type {code}")))?;
    if to.scalar().is_none() {
        return Err(a.err("to", format!("casting to {to} is not supported")));
    }
    if a.node().opset >= 19 {
        // `saturate` only concerns float8 targets, which are rejected above.
        a.ignore("saturate");
    }
    if a.node().opset >= 23 {
        a.ignore("round_mode");
    }
    Ok(Box::new(Cast { to }))
}

impl Op for Cast {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        cx.expect_dtype(0, ALL)?;
        Ok(vec![tt(self.to, cx.ty(0)?.shape.clone())])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let y = cx.output(0)?;
        cx.kb.loop_(Expr::i64(0), y.numel(), |kb, i| {
            kb.store(y.buf, i.clone(), build::cast(y.elem, x.load(i)));
        });
        Ok(())
    }
}
