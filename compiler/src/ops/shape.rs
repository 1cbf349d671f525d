//! Shape (opset 1, 13, 15 `start`/`end`, 19, 21): the input's dims as int64. Folded at compile
//! time when the dims are known; with symbolic dims a kernel writes their run-time values.

use super::{tt, Attrs, InferCx, Op};
use crate::error::Result;
use crate::ir::{Dim, TensorType};
use crate::kir::Expr;
use crate::lower::LowerCx;
use crate::tensor::{DType, Tensor};

#[derive(Debug)]
pub struct Shape {
    pub start: i64,
    pub end: Option<i64>,
}

pub fn import(a: &Attrs) -> Result<Box<dyn Op>> {
    let (start, end) = if a.node().opset >= 15 {
        (a.int("start", 0)?, a.int_opt("end")?)
    } else {
        (0, None)
    };
    Ok(Box::new(Shape { start, end }))
}

impl Shape {
    fn range(&self, rank: usize) -> (usize, usize) {
        let r = rank as i64;
        let clamp = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
        let s = clamp(self.start);
        let e = clamp(self.end.unwrap_or(r));
        (s, e.max(s))
    }
    fn dims<'a>(&self, cx: &'a InferCx) -> Result<&'a [Dim]> {
        let x = &cx.ty(0)?.shape;
        let (s, e) = self.range(x.len());
        Ok(&x[s..e])
    }
}

impl Op for Shape {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let n = self.dims(cx)?.len();
        Ok(vec![tt(DType::I64, vec![Dim::known(n as i64)])])
    }
    fn fold(&self, cx: &InferCx) -> Result<Option<Vec<Tensor>>> {
        let d = self.dims(cx)?;
        let known: Option<Vec<i64>> = d.iter().map(|d| d.as_known()).collect();
        Ok(known.map(|k| vec![Tensor::from_i64(vec![k.len() as u64], &k)]))
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let y = cx.output(0)?;
        let (s, e) = self.range(x.rank());
        for (k, d) in x.shape[s..e].iter().enumerate() {
            cx.kb.store(y.buf, Expr::i64(k as i64), d.to_expr());
        }
        Ok(())
    }
}
