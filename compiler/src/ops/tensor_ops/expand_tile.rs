//! Expand and Tile.
//!
//! Expand (opset 8, 13): <https://onnx.ai/onnx/operators/onnx__Expand.html>. The input is
//! broadcast (numpy rules, both ways) with the shape given by input 1, which must be known at
//! compile time; a 1 in that shape keeps the input's dim (also a symbolic one). Opset 13 only
//! widened the types.
//!
//! Tile (opset 6, 13): <https://onnx.ai/onnx/operators/onnx__Tile.html>. `repeats` (input 1,
//! int64, one per axis, ≥ 0, known at compile time) multiplies each dim; element
//! `y[i] = x[i % dim]` per axis. Symbolic dims tile fine. (Opset 1's `tiles`/`axis` form is
//! not supported.)

use crate::error::Result;
use crate::ir::{Dim, TensorType};
use crate::kir::build;
use crate::lower::LowerCx;
use crate::ops::{broadcast, tt, Attrs, InferCx, Op, MOVABLE};

#[derive(Debug)]
pub struct Expand;

pub fn import_expand(_a: &Attrs) -> Result<Box<dyn Op>> {
    Ok(Box::new(Expand))
}

impl Op for Expand {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let d = cx.expect_dtype(0, MOVABLE)?;
        let shape = cx.const_ints(1, "shape")?;
        if let Some(v) = shape.iter().find(|v| **v < 0) {
            return Err(cx.err(format!("shape {shape:?} has a negative dim {v}")));
        }
        let s: Vec<Dim> = shape.into_iter().map(Dim::known).collect();
        let out = broadcast::broadcast_shapes(cx, &[&cx.ty(0)?.shape, &s])?;
        Ok(vec![tt(d, out)])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let y = cx.output(0)?;
        let ys = y.strides();
        cx.kb.loops(&y.dims(), |kb, idx| {
            kb.store(y.buf, build::linear(idx, &ys), broadcast::load(&x, idx));
        });
        Ok(())
    }
}

#[derive(Debug)]
pub struct Tile;

pub fn import_tile(_a: &Attrs) -> Result<Box<dyn Op>> {
    Ok(Box::new(Tile))
}

impl Op for Tile {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let d = cx.expect_dtype(0, MOVABLE)?;
        let x = &cx.ty(0)?.shape;
        let reps = cx.const_ints(1, "repeats")?;
        if reps.len() != x.len() {
            return Err(cx.err(format!(
                "repeats has {} values for an input of rank {}",
                reps.len(),
                x.len()
            )));
        }
        if let Some(r) = reps.iter().find(|r| **r < 0) {
            return Err(cx.err(format!("repeats {reps:?} has a negative value {r}")));
        }
        Ok(vec![tt(
            d,
            x.iter().zip(&reps).map(|(d, r)| d.scale(*r)).collect(),
        )])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let y = cx.output(0)?;
        let ys = y.strides();
        let xd = x.dims();
        let xs = x.strides();
        cx.kb.loops(&y.dims(), |kb, idx| {
            let src: Vec<_> = idx
                .iter()
                .zip(&xd)
                .zip(&x.shape)
                .map(|((i, d), sd)| {
                    if sd.as_known() == Some(1) {
                        crate::kir::Expr::i64(0)
                    } else {
                        build::rem(i.clone(), d.clone())
                    }
                })
                .collect();
            kb.store(
                y.buf,
                build::linear(idx, &ys),
                x.load(build::linear(&src, &xs)),
            );
        });
        Ok(())
    }
}
