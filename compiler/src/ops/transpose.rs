//! Transpose (opset 1, 13, 21): `perm` defaults to reversing the dims; it must be a
//! permutation. Lowered as a loop nest over the output writing contiguously.

use super::{tt, Attrs, InferCx, Op, MOVABLE};
use crate::error::Result;
use crate::ir::TensorType;
use crate::kir::build;
use crate::lower::LowerCx;

#[derive(Debug)]
pub struct Transpose {
    pub perm: Option<Vec<i64>>,
}

pub fn import(a: &Attrs) -> Result<Box<dyn Op>> {
    Ok(Box::new(Transpose {
        perm: a.ints_opt("perm")?,
    }))
}

impl Transpose {
    fn perm(&self, rank: usize) -> Vec<usize> {
        match &self.perm {
            Some(p) => p.iter().map(|v| *v as usize).collect(),
            None => (0..rank).rev().collect(),
        }
    }
}

impl Op for Transpose {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let d = cx.expect_dtype(0, MOVABLE)?;
        let x = &cx.ty(0)?.shape;
        if let Some(p) = &self.perm {
            let mut seen = vec![false; x.len()];
            if p.len() != x.len() {
                return Err(cx.err(format!(
                    "perm {p:?} has {} entries, input rank is {}",
                    p.len(),
                    x.len()
                )));
            }
            for v in p {
                if *v < 0
                    || *v as usize >= x.len()
                    || std::mem::replace(&mut seen[*v as usize], true)
                {
                    return Err(
                        cx.err(format!("perm {p:?} is not a permutation of 0..{}", x.len()))
                    );
                }
            }
        }
        let perm = self.perm(x.len());
        Ok(vec![tt(d, perm.iter().map(|i| x[*i].clone()).collect())])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let y = cx.output(0)?;
        let perm = self.perm(x.rank());
        let xs = x.strides();
        let ys = y.strides();
        cx.kb.loops(&y.dims(), |kb, idx| {
            // Output dim k is input dim perm[k].
            let src = idx
                .iter()
                .zip(&perm)
                .fold(crate::kir::Expr::i64(0), |acc, (i, p)| {
                    build::add(acc, build::mul(i.clone(), xs[*p].clone()))
                });
            kb.store(y.buf, build::linear(idx, &ys), x.load(src));
        });
        Ok(())
    }
}
