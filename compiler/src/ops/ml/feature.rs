//! ArrayFeatureExtractor <https://onnx.ai/onnx/operators/onnx_aionnxml_ArrayFeatureExtractor.html>
//! and OneHotEncoder <https://onnx.ai/onnx/operators/onnx_aionnxml_OneHotEncoder.html>
//! (ai.onnx.ml opset 1; no later versions).
//!
//! ArrayFeatureExtractor: `Y[..., j] = X[..., indices[j]]` over the last axis, for every
//! numeric type; the indices (int64, any shape, taken flat) are checked at run time: one
//! outside `[0, last dim)` returns `BadIndex` before anything is read (onnxruntime rejects
//! negative indices too). A rank-1 X gives shape `(1, n)` (onnxruntime).
//!
//! OneHotEncoder: `cats_int64s`, or `cats_strings` for a string input (string ids); output
//! float32 of shape `X.shape + (ncats,)`; float inputs are converted to int64 first (saturating,
//! as onnxruntime truncates). A value not among the categories gives an all-zero row when
//! `zeros=1` (default) and `BadValue` at run time when `zeros=0`.

use crate::error::Result;
use crate::ir::{dim::numel, Dim, TensorType};
use crate::kir::build::{self, cmp, or, select};
use crate::kir::{CmpOp, Expr, Scalar, Status};
use crate::lower::LowerCx;
use crate::ops::{tt, Attrs, InferCx, Op, NUMERIC};
use crate::tensor::DType;

#[derive(Debug)]
pub struct ArrayFeatureExtractor;

pub fn import_afe(_a: &Attrs) -> Result<Box<dyn Op>> {
    Ok(Box::new(ArrayFeatureExtractor))
}

impl Op for ArrayFeatureExtractor {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        // Strings are int32 ids (`ir::strings`), so they move like any element.
        let d = cx.expect_dtype(0, &[NUMERIC, &[DType::String]].concat())?;
        cx.expect_dtype(1, &[DType::I64])?;
        let x = &cx.ty(0)?.shape;
        if x.is_empty() {
            return Err(cx.err("input 0 must have rank >= 1"));
        }
        let k = numel(&cx.ty(1)?.shape);
        let mut shape = if x.len() == 1 {
            vec![Dim::known(1)]
        } else {
            x[..x.len() - 1].to_vec()
        };
        shape.push(k);
        Ok(vec![tt(d, shape)])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let ind = cx.input(1)?;
        let y = cx.output(0)?;
        let c = x.dim(x.rank() - 1);
        let outer = numel(&x.shape[..x.rank() - 1]).to_expr();
        let k = ind.numel();
        // Validate every index first: nothing is written when one is bad.
        cx.kb.loop_(Expr::i64(0), k.clone(), |kb, j| {
            let v = kb.let_(Scalar::I64, ind.load(j));
            let bad = or(
                cmp(CmpOp::Lt, v.clone(), Expr::i64(0)),
                cmp(CmpOp::Ge, v, c.clone()),
            );
            kb.if_(bad, |kb| kb.fail(Status::BadIndex), |_| {});
        });
        cx.kb.loop_(Expr::i64(0), outer, |kb, o| {
            kb.loop_(Expr::i64(0), k.clone(), |kb, j| {
                let v = ind.load(j.clone());
                let src = build::add(build::mul(o.clone(), c.clone()), v);
                let dst = build::add(build::mul(o.clone(), k.clone()), j);
                kb.store(y.buf, dst, x.load(src));
            });
        });
        Ok(())
    }
}

#[derive(Debug)]
pub struct OneHotEncoder {
    cats: Vec<i64>,
    /// `cats_strings` (then `cats` is empty and the input holds string ids).
    strings: Option<Vec<Vec<u8>>>,
    zeros: bool,
}

pub fn import_one_hot(a: &Attrs) -> Result<Box<dyn Op>> {
    let strings = a.strings_opt("cats_strings")?.filter(|v| !v.is_empty());
    let cats = a.ints_opt("cats_int64s")?.unwrap_or_default();
    if strings.is_some() && !cats.is_empty() {
        return Err(a.err(
            "cats_strings",
            "only one of cats_int64s and cats_strings may be given",
        ));
    }
    if cats.is_empty() && strings.is_none() {
        return Err(a.err(
            "cats_int64s",
            "one of cats_int64s and cats_strings is required",
        ));
    }
    Ok(Box::new(OneHotEncoder {
        cats,
        strings,
        zeros: a.int("zeros", 1)? != 0,
    }))
}

impl Op for OneHotEncoder {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        if self.strings.is_some() {
            cx.expect_dtype(0, &[DType::String])?;
        } else {
            cx.expect_dtype(0, &[DType::I64, DType::I32, DType::F32, DType::F64])?;
        }
        let mut shape = cx.ty(0)?.shape.clone();
        let n = self.strings.as_ref().map_or(self.cats.len(), |s| s.len());
        shape.push(Dim::known(n as i64));
        Ok(vec![tt(DType::F32, shape)])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let y = cx.output(0)?;
        let cats = super::label_values(cx, &self.cats, &self.strings)?;
        let nc = cats.len() as i64;
        let zeros = self.zeros;
        cx.kb.loop_(Expr::i64(0), x.numel(), |kb, i| {
            let v = kb.let_(
                Scalar::I64,
                super::to(Scalar::I64, x.elem, x.load(i.clone())),
            );
            let mut found = Expr::Imm(Scalar::Bool, crate::kir::Lit::Int(0));
            for (c, &cat) in cats.iter().enumerate() {
                let hit = kb.let_(Scalar::Bool, cmp(CmpOp::Eq, v.clone(), Expr::i64(cat)));
                found = or(found, hit.clone());
                let dst = build::add(build::mul(i.clone(), Expr::i64(nc)), Expr::i64(c as i64));
                kb.store(
                    y.buf,
                    dst,
                    select(
                        hit,
                        Expr::imm(Scalar::F32, 1.0),
                        Expr::imm(Scalar::F32, 0.0),
                    ),
                );
            }
            if !zeros {
                kb.if_(
                    build::unary(crate::kir::UnOp::Not, found),
                    |kb| kb.fail(Status::BadValue),
                    |_| {},
                );
            }
        });
        Ok(())
    }
}
