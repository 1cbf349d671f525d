//! Constant (opset 1, 9, 11, 12, 13, 19, 21): one of `value` (tensor), `value_float(s)`,
//! `value_int(s)`, `value_string(s)`; `sparse_value` is rejected. Folded at compile time.

use super::{Attrs, InferCx, Op};
use crate::error::Result;
use crate::ir::{Dim, TensorType};
use crate::lower::LowerCx;
use crate::tensor::{DType, Tensor, TensorData};

#[derive(Debug)]
pub struct Constant(pub Tensor);

pub fn import(a: &Attrs) -> Result<Box<dyn Op>> {
    let mut found: Vec<Tensor> = vec![];
    if let Some(t) = a.tensor_opt("value")? {
        found.push(t);
    }
    if let Some(v) = a.float_opt("value_float")? {
        found.push(Tensor::from_f32(vec![], &[v]));
    }
    if let Some(v) = a.floats_opt("value_floats")? {
        found.push(Tensor::from_f32(vec![v.len() as u64], &v));
    }
    if let Some(v) = a.int_opt("value_int")? {
        found.push(Tensor::from_i64(vec![], &[v]));
    }
    if let Some(v) = a.ints_opt("value_ints")? {
        found.push(Tensor::from_i64(vec![v.len() as u64], &v));
    }
    if let Some(v) = a.string_opt("value_string")? {
        found.push(Tensor {
            dtype: DType::String,
            shape: vec![],
            data: TensorData::Strings(vec![v.into_bytes()]),
        });
    }
    if let Some(v) = a.strings_opt("value_strings")? {
        found.push(Tensor {
            dtype: DType::String,
            shape: vec![v.len() as u64],
            data: TensorData::Strings(v),
        });
    }
    if a.has("sparse_value") {
        return Err(a.err("sparse_value", "sparse constants are not supported"));
    }
    match found.len() {
        1 => Ok(Box::new(Constant(found.pop().expect("one value")))),
        0 => Err(a.err(
            "value",
            "Constant needs exactly one value attribute, got none",
        )),
        n => Err(a.err(
            "value",
            format!("Constant needs exactly one value attribute, got {n}"),
        )),
    }
}

impl Op for Constant {
    fn infer(&self, _cx: &InferCx) -> Result<Vec<TensorType>> {
        Ok(vec![TensorType {
            dtype: self.0.dtype,
            shape: self.0.shape.iter().map(|d| Dim::known(*d as i64)).collect(),
        }])
    }
    fn fold(&self, _cx: &InferCx) -> Result<Option<Vec<Tensor>>> {
        Ok(Some(vec![self.0.clone()]))
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        Err(cx.err("Constant is always folded"))
    }
}
