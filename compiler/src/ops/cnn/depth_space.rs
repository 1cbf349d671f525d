//! DepthToSpace and SpaceToDepth: moving `blocksize x blocksize` spatial blocks between the
//! channel dim and H, W of a 4-D (N, C, H, W) tensor.
//! <https://onnx.ai/onnx/operators/onnx__DepthToSpace.html>,
//! <https://onnx.ai/onnx/operators/onnx__SpaceToDepth.html>
//!
//! Versions: DepthToSpace 1, 11 (`mode`: DCR default, CRD), 13 (more types); SpaceToDepth 1,
//! 13 (more types), 28 (`mode`: DCR default, CRD). Any element type.
//!
//! With block offsets (bh, bw) and `C` the channel count on the depth side divided by bs²:
//! DCR channel `(bh * bs + bw) * C + c`, CRD channel `c * bs * bs + bh * bs + bw`; the
//! spatial position is `(h * bs + bh, w * bs + bw)`. Lowered as one copy loop nest in the
//! output's index order (no division). SpaceToDepth needs H and W divisible by the block size
//! (a symbolic H or W must be divisible as a polynomial).

use crate::error::Result;
use crate::ir::{Dim, TensorType};
use crate::kir::build;
use crate::kir::Expr;
use crate::lower::LowerCx;
use crate::ops::{tt, Attrs, InferCx, Op, ALL};

#[derive(Debug)]
pub struct DepthSpace {
    /// true: DepthToSpace; false: SpaceToDepth.
    pub to_space: bool,
    pub bs: i64,
    pub crd: bool,
}

fn mode(a: &Attrs, has: bool) -> Result<bool> {
    if !has {
        return Ok(false);
    }
    match a.string("mode", "DCR")?.as_str() {
        "DCR" => Ok(false),
        "CRD" => Ok(true),
        o => Err(a.err("mode", format!("'{o}' is not DCR or CRD"))),
    }
}

fn blocksize(a: &Attrs) -> Result<i64> {
    let bs = a.req_int("blocksize")?;
    if bs < 1 {
        return Err(a.err("blocksize", format!("must be at least 1, got {bs}")));
    }
    Ok(bs)
}

pub fn import_d2s(a: &Attrs) -> Result<Box<dyn Op>> {
    Ok(Box::new(DepthSpace {
        to_space: true,
        bs: blocksize(a)?,
        crd: mode(a, a.node().opset >= 11)?,
    }))
}

pub fn import_s2d(a: &Attrs) -> Result<Box<dyn Op>> {
    Ok(Box::new(DepthSpace {
        to_space: false,
        bs: blocksize(a)?,
        crd: mode(a, a.node().opset >= 28)?,
    }))
}

impl Op for DepthSpace {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let d = cx.expect_dtype(0, ALL)?;
        let x = &cx.ty(0)?.shape;
        if x.len() != 4 {
            return Err(cx.err(format!("X must be 4-D (N, C, H, W), got rank {}", x.len())));
        }
        let bs = self.bs;
        let b2 = Dim::known(bs * bs);
        let out = if self.to_space {
            let c = x[1].div_exact(&b2).ok_or_else(|| {
                cx.err(format!(
                    "channels {} are not divisible by blocksize² = {}",
                    x[1].show(cx.syms),
                    bs * bs
                ))
            })?;
            vec![x[0].clone(), c, x[2].scale(bs), x[3].scale(bs)]
        } else {
            let mut sp = vec![];
            for i in [2, 3] {
                sp.push(x[i].div_exact(&Dim::known(bs)).ok_or_else(|| {
                    cx.err(format!(
                        "spatial dim {i} ({}) is not divisible by blocksize {bs}",
                        x[i].show(cx.syms)
                    ))
                })?);
            }
            vec![x[0].clone(), x[1].mul(&b2), sp[0].clone(), sp[1].clone()]
        };
        Ok(vec![tt(d, out)])
    }

    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let y = cx.output(0)?;
        let bs = Expr::i64(self.bs);
        let crd = self.crd;
        // Depth side (channels c * bs²) and space side (channels c).
        let (deep, flat) = if self.to_space { (&x, &y) } else { (&y, &x) };
        let c = flat.dim(1);
        let (h, w) = (deep.dim(2), deep.dim(3));
        let deep_ch = |c: &Expr, bh: &Expr, bw: &Expr| {
            let blk = build::add(build::mul(bh.clone(), bs.clone()), bw.clone());
            if crd {
                build::add(
                    build::mul(c.clone(), build::mul(bs.clone(), bs.clone())),
                    blk,
                )
            } else {
                build::add(build::mul(blk, flat.dim(1)), c.clone())
            }
        };
        let to_space = self.to_space;
        let dims = if to_space {
            // y order: n, c, h, bh, w, bw.
            vec![
                x.dim(0),
                c.clone(),
                h.clone(),
                bs.clone(),
                w.clone(),
                bs.clone(),
            ]
        } else if crd {
            // y order: n, c, bh, bw, h, w.
            vec![
                x.dim(0),
                c.clone(),
                bs.clone(),
                bs.clone(),
                h.clone(),
                w.clone(),
            ]
        } else {
            // y order: n, bh, bw, c, h, w.
            vec![
                x.dim(0),
                bs.clone(),
                bs.clone(),
                c.clone(),
                h.clone(),
                w.clone(),
            ]
        };
        let ys = y.strides();
        cx.kb.loops(&dims, |kb, i| {
            let (n, ci, hi, bh, wi, bw) = if to_space || crd {
                if to_space {
                    (&i[0], &i[1], &i[2], &i[3], &i[4], &i[5])
                } else {
                    (&i[0], &i[1], &i[4], &i[2], &i[5], &i[3])
                }
            } else {
                (&i[0], &i[3], &i[4], &i[1], &i[5], &i[2])
            };
            let sh = build::add(build::mul(hi.clone(), bs.clone()), bh.clone());
            let sw = build::add(build::mul(wi.clone(), bs.clone()), bw.clone());
            let dc = deep_ch(ci, bh, bw);
            let deep_idx = [n.clone(), dc, hi.clone(), wi.clone()];
            let flat_idx = [n.clone(), ci.clone(), sh, sw];
            let (src, dst) = if to_space {
                (deep_idx, flat_idx)
            } else {
                (flat_idx, deep_idx)
            };
            kb.store(y.buf, build::linear(&dst, &ys), x.at(&src));
        });
        Ok(())
    }
}
