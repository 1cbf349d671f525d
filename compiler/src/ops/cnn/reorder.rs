//! Reorder (Kiln's own, inserted by `passes::layout`): an f32 image between NCHW
//! `[N, C, H, W]` and the blocked NCHWc layout `[N, C / L, H, W, L]` of L channels, where
//! channel `c` of pixel `(h, w)` is at `[n, c / L, h, w, c % L]`. C must be a multiple of L.
//! One copy loop nest in the blocked side's order.

use super::conv::{blocked_shape, unblocked_shape};
use crate::error::Result;
use crate::ir::TensorType;
use crate::kir::{build, Expr};
use crate::lower::LowerCx;
use crate::ops::{tt, InferCx, Op};

#[derive(Debug)]
pub struct Reorder {
    /// Channels per block.
    pub block: i64,
    /// true: NCHW to blocked; false: blocked to NCHW.
    pub to_blocked: bool,
}

/// The op type the layout pass gives a Reorder node (in Kiln's own domain).
pub const OP_TYPE: &str = "Reorder";
/// Kiln's domain for nodes that only passes create.
pub const DOMAIN: &str = "kiln";

impl Op for Reorder {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let t = cx.ty(0)?;
        let l = self.block;
        let out = if self.to_blocked {
            blocked_shape(&t.shape, l)
        } else {
            unblocked_shape(&t.shape, l)
        };
        let out = out.ok_or_else(|| {
            cx.err(format!(
                "cannot reorder {} {} by blocks of {l} channels",
                t.dtype,
                cx.shape_str(&t.shape)
            ))
        })?;
        Ok(vec![tt(t.dtype, out)])
    }

    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let y = cx.output(0)?;
        let (flat, blk) = if self.to_blocked { (&x, &y) } else { (&y, &x) };
        let l = self.block;
        // Pixel outside, lane inside: the blocked side is walked in order, the NCHW side as
        // L streams one plane apart, each advancing one element per pixel (both stay in L1).
        let plane = build::mul(flat.dim(2), flat.dim(3));
        let dims = [flat.dim(0), blk.dim(1), plane.clone(), Expr::i64(l)];
        let to_blocked = self.to_blocked;
        let (fs, bs) = (flat.strides(), blk.strides());
        cx.kb.loops(&dims, |kb, i| {
            let (n, cb, q, lane) = (&i[0], &i[1], &i[2], &i[3]);
            let c = build::add(build::mul(cb.clone(), Expr::i64(l)), lane.clone());
            // The plane offset q is h * W + w in both layouts (scaled by L when blocked).
            let f = build::add(
                build::add(
                    build::mul(n.clone(), fs[0].clone()),
                    build::mul(c, plane.clone()),
                ),
                q.clone(),
            );
            let b = build::add(
                build::add(
                    build::mul(n.clone(), bs[0].clone()),
                    build::mul(cb.clone(), bs[1].clone()),
                ),
                build::add(build::mul(q.clone(), Expr::i64(l)), lane.clone()),
            );
            let (src, dst) = if to_blocked { (f, b) } else { (b, f) };
            kb.store(y.buf, dst, build::load(x.buf, src));
        });
        Ok(())
    }
}
