//! Variadic element-wise Min, Max, Sum, Mean with multidirectional broadcasting across all
//! inputs.
//!
//! Specs: <https://onnx.ai/onnx/operators/onnx__Min.html>, `onnx__Max.html`, `onnx__Sum.html`,
//! `onnx__Mean.html`.
//!
//! Opset 1 (`consumed_inputs`, a legacy hint, ignored), 6 (equal shapes), 8 (broadcasting —
//! Kiln broadcasts for every version, a superset), 12 (Min/Max: every numeric type; before,
//! floats), 13 (bfloat16). Sum and Mean are float-only. One input is allowed (a copy).
//!
//! The inputs are combined in input order: `((x0 op x1) op x2) ...`; Mean divides the sum by
//! the number of inputs. Float Min/Max propagate NaN (kir semantics; numpy's `minimum` too).

use super::{bcast_shape, imm, lower_inputs, same_dtype};
use crate::error::Result;
use crate::ir::TensorType;
use crate::kir::build::{add, div, max, min};
use crate::lower::LowerCx;
use crate::ops::{tt, Attrs, InferCx, Op, FLOATS, NUMERIC};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Min,
    Max,
    Sum,
    Mean,
}

#[derive(Debug)]
pub struct Variadic(pub Kind);

pub fn import(a: &Attrs) -> Result<Box<dyn Op>> {
    let n = a.node();
    if n.opset < 6 {
        a.ignore("consumed_inputs");
    }
    let k = match n.op_type.as_str() {
        "Min" => Kind::Min,
        "Max" => Kind::Max,
        "Sum" => Kind::Sum,
        "Mean" => Kind::Mean,
        other => return Err(a.err("op", format!("{other} is not a variadic math op"))),
    };
    Ok(Box::new(Variadic(k)))
}

impl Op for Variadic {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let n = cx.inputs.len();
        if n == 0 {
            return Err(cx.err("needs at least one input"));
        }
        let ins: Vec<usize> = (0..n).collect();
        let allowed = match self.0 {
            Kind::Min | Kind::Max if cx.node.opset >= 12 => NUMERIC,
            _ => FLOATS,
        };
        let d = same_dtype(cx, &ins, allowed)?;
        Ok(vec![tt(d, bcast_shape(cx, &ins)?)])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let n = cx.ins.len();
        let t = cx.input(0)?.elem;
        let k = self.0;
        let ins: Vec<usize> = (0..n).collect();
        lower_inputs(cx, &ins, |_, v| {
            let mut acc = v[0].clone();
            for x in &v[1..] {
                acc = match k {
                    Kind::Min => min(acc, x.clone()),
                    Kind::Max => max(acc, x.clone()),
                    Kind::Sum | Kind::Mean => add(acc, x.clone()),
                };
            }
            if k == Kind::Mean {
                acc = div(acc, imm(t, n as f64));
            }
            acc
        })
    }
    fn flops(
        &self,
        _inputs: &[Option<&crate::ir::TensorType>],
        outputs: &[&crate::ir::TensorType],
    ) -> crate::ir::Dim {
        let n = _inputs.len().max(1) as i64;
        outputs.first().map_or(crate::ir::Dim::known(0), |t| {
            crate::ir::dim::numel(&t.shape).scale(n)
        })
    }
}
