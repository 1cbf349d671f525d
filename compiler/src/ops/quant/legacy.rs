//! Deprecated ops that map onto their successors.
//!
//! - Scatter (opset 9, 11; deprecated in favour of ScatterElements):
//!   <https://onnx.ai/onnx/operators/onnx__Scatter.html>. Exactly ScatterElements without
//!   `reduction` (tensor_ops::scatter), negative indices allowed (11 made that official).
//! - Upsample (opset 7: `scales` attribute; 9: `scales` input; deprecated in 10):
//!   <https://onnx.ai/onnx/operators/onnx__Upsample.html>. `mode` nearest or linear, output
//!   `floor(dim * scale)`, source coordinate `out / scale` (asymmetric), nearest rounding
//!   down: exactly Resize at opset 10 (tensor_ops::resize), which this delegates to. The opset
//!   7 attribute is passed to Resize as a constant `scales` input.

use crate::error::Result;
use crate::ir::{Dim, TensorType};
use crate::kir::Scalar;
use crate::lower::{LowerCx, TensorRef};
use crate::ops::tensor_ops::resize::{Coord, Mode, Nearest, Resize};
use crate::ops::tensor_ops::scatter;
use crate::ops::{tt, Attrs, InferCx, Op};
use crate::tensor::{DType, Tensor};

pub fn import_scatter(a: &Attrs) -> Result<Box<dyn Op>> {
    scatter::import_elements(a)
}

#[derive(Debug)]
pub struct Upsample {
    pub inner: Resize,
    /// Opset 7: the `scales` attribute.
    pub scales: Option<Tensor>,
}

pub fn import_upsample(a: &Attrs) -> Result<Box<dyn Op>> {
    let opset = a.node().opset;
    if opset >= 10 {
        return Err(crate::error::Error::Node(format!(
            "{}: Upsample is deprecated since opset 10 (use Resize)",
            a.node().describe()
        )));
    }
    let mode = match a.string("mode", "nearest")?.as_str() {
        "nearest" => Mode::Nearest,
        "linear" | "bilinear" => Mode::Linear,
        o => return Err(a.err("mode", format!("'{o}' is not one of nearest, linear"))),
    };
    let scales = if opset < 9 {
        let s = a
            .floats_opt("scales")?
            .ok_or_else(|| a.err("scales", "required attribute missing"))?;
        if let Some(v) = s.iter().find(|v| **v < 1.0) {
            return Err(a.err("scales", format!("value {v} must be >= 1")));
        }
        Some(Tensor::from_f32(vec![s.len() as u64], &s))
    } else {
        None
    };
    Ok(Box::new(Upsample {
        inner: Resize {
            opset: 10,
            mode,
            coord: Coord::Asymmetric,
            nearest: Nearest::Floor,
            cubic_a: -0.75,
            exclude_outside: false,
            extrapolation: 0.0,
            antialias: false,
            axes: None,
            policy: 0,
        },
        scales,
    }))
}

impl Op for Upsample {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        match &self.scales {
            None => self.inner.infer(cx),
            Some(s) => {
                let sty = tt(DType::F32, vec![Dim::known(s.numel() as i64)]);
                let icx = InferCx {
                    node: cx.node,
                    inputs: vec![cx.inputs.first().copied().flatten(), Some(&sty)],
                    consts: vec![None, Some(s)],
                    syms: cx.syms,
                };
                self.inner.infer(&icx)
            }
        }
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let Some(s) = &self.scales else {
            return self.inner.lower(cx);
        };
        let x = cx.input(0)?;
        let fake = TensorRef {
            buf: x.buf,
            elem: Scalar::F32,
            shape: vec![Dim::known(s.numel() as i64)],
        };
        let mut l = LowerCx {
            node: cx.node,
            kb: std::mem::take(&mut cx.kb),
            ins: vec![Some(x), Some(fake)],
            outs: cx.outs.clone(),
            consts: vec![None, Some(s)],
            extra_weights: std::mem::take(&mut cx.extra_weights),
            next_buf: cx.next_buf,
            strings: cx.strings,
        };
        let r = self.inner.lower(&mut l);
        cx.kb = l.kb;
        cx.extra_weights = l.extra_weights;
        r
    }
}
