//! Windowed pooling: MaxPool, AveragePool, LpPool.
//! <https://onnx.ai/onnx/operators/onnx__MaxPool.html>,
//! <https://onnx.ai/onnx/operators/onnx__AveragePool.html>,
//! <https://onnx.ai/onnx/operators/onnx__LpPool.html>
//!
//! Versions: MaxPool 1; 8 `storage_order` and the optional Indices output; 10 `ceil_mode`,
//! `dilations`; 11 (pads clarified); 12 int8/uint8 data; 22 bfloat16 only. AveragePool 1;
//! 7 `count_include_pad`; 10 `ceil_mode`; 11; 19 `dilations`; 22. LpPool 1 (`p` a float);
//! 2 (`p` an int); 11; 18 `ceil_mode`, `dilations`; 22. Geometry: `window.rs`.
//!
//! Semantics: padding is never read. MaxPool takes the max over the window's input elements
//! (NaN propagates through kir `Max`; with Indices, the first maximum in window order wins
//! and a NaN is never selected over an earlier value). Indices are flattened input positions
//! `(n * C + c) * prod(spatial) + p`, `p` row-major over the spatial dims, or column-major
//! (first spatial dim fastest) with `storage_order = 1`. AveragePool divides the window sum by
//! the number of input elements in it, or with `count_include_pad` by the number of window
//! positions inside the padded input (`-pb <= p < in + pe`; positions added by `ceil_mode`
//! past the end padding are not counted). LpPool is `(sum |x|^p)^(1/p)` over the input
//! elements (padding contributes 0); p = 1 and 2 avoid `pow`.

use super::window::{self, Axis, Range, WindowAttrs};
use crate::error::Result;
use crate::ir::{dim::numel, Dim, TensorType};
use crate::kir::build::{self, cast, unary, KernelBuilder};
use crate::kir::{BinOp, CmpOp, Expr, GemmCall, MathFn, Scalar, UnOp};
use crate::lower::{LowerCx, TensorRef};
use crate::ops::{tt, Attrs, InferCx, Op, FLOATS};
use crate::tensor::DType;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Max,
    Avg { count_include_pad: bool },
    Lp { p: i64 },
}

#[derive(Debug)]
pub struct Pool {
    pub kind: Kind,
    pub win: WindowAttrs,
    /// MaxPool: Indices column-major over the spatial dims.
    pub col_major: bool,
    /// MaxPool opset >= 12 also takes int8 / uint8.
    pub int8: bool,
}

pub fn import_max(a: &Attrs) -> Result<Box<dyn Op>> {
    let v = a.node().opset;
    let win = WindowAttrs::import(a, v >= 10, v >= 10)?;
    let so = if v >= 8 {
        a.int("storage_order", 0)?
    } else {
        0
    };
    if so != 0 && so != 1 {
        return Err(a.err("storage_order", format!("must be 0 or 1, got {so}")));
    }
    Ok(Box::new(Pool {
        kind: Kind::Max,
        win,
        col_major: so == 1,
        int8: v >= 12,
    }))
}

pub fn import_avg(a: &Attrs) -> Result<Box<dyn Op>> {
    let v = a.node().opset;
    let win = WindowAttrs::import(a, v >= 19, v >= 10)?;
    let cip = if v >= 7 {
        a.int("count_include_pad", 0)? != 0
    } else {
        false
    };
    Ok(Box::new(Pool {
        kind: Kind::Avg {
            count_include_pad: cip,
        },
        win,
        col_major: false,
        int8: false,
    }))
}

pub fn import_lp(a: &Attrs) -> Result<Box<dyn Op>> {
    let v = a.node().opset;
    let win = WindowAttrs::import(a, v >= 18, v >= 18)?;
    let p = if v >= 2 {
        a.int("p", 2)?
    } else {
        let f = a.float("p", 2.0)?;
        if f.fract() != 0.0 {
            return Err(a.err("p", format!("only integral p is supported, got {f}")));
        }
        f as i64
    };
    if p < 1 {
        return Err(a.err("p", format!("must be at least 1, got {p}")));
    }
    Ok(Box::new(Pool {
        kind: Kind::Lp { p },
        win,
        col_major: false,
        int8: false,
    }))
}

fn geometry(
    win: &WindowAttrs,
    x: &[Dim],
    syms: &[String],
) -> std::result::Result<Vec<Axis>, String> {
    if x.len() < 3 {
        return Err(format!(
            "X must have rank 3 or more (N, C, spatial...), got rank {}",
            x.len()
        ));
    }
    window::resolve(win, &x[2..], None, syms)
}

/// The smallest value of a type (the start of a max).
pub fn lowest(t: Scalar) -> Expr {
    match t.int_range() {
        Some((lo, _)) => Expr::imm(t, lo as f64),
        None => Expr::imm(t, f64::NEG_INFINITY),
    }
}

impl Op for Pool {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let d = if self.kind == Kind::Max && self.int8 {
            cx.expect_dtype(0, &[DType::F32, DType::F64, DType::I8, DType::U8])?
        } else {
            cx.expect_dtype(0, FLOATS)?
        };
        let x = &cx.ty(0)?.shape;
        let axes = geometry(&self.win, x, cx.syms).map_err(|e| cx.err(e))?;
        let mut out = vec![x[0].clone(), x[1].clone()];
        out.extend(axes.iter().map(|a| a.out.clone()));
        let mut v = vec![tt(d, out.clone())];
        if self.kind == Kind::Max && cx.node.outputs.len() > 1 {
            v.push(tt(DType::I64, out));
        }
        Ok(v)
    }

    fn flops(&self, inputs: &[Option<&TensorType>], outputs: &[&TensorType]) -> Dim {
        let _ = inputs;
        let Some(y) = outputs.first() else {
            return Dim::known(0);
        };
        let k: i64 = self.win.kernel.as_ref().map_or(1, |k| k.iter().product());
        numel(&y.shape).scale(k)
    }

    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let y = cx.output(0)?;
        let ind = cx.outs.get(1).cloned().flatten();
        let axes = geometry(&self.win, &x.shape, &[]).map_err(|e| cx.err(e))?;
        if self.kind == Kind::Max && ind.is_none() && x.elem == Scalar::F32 {
            // 1-D and 2-D max pooling with known plane sizes: the shim's windowed
            // max-reduction (`GemmCall::max`), one group per (image, channel) plane.
            let mut wk = vec![1, 1];
            wk.extend(axes.iter().map(|a| a.k));
            if let Some(g) = super::conv::Conv2d::of(&wk, &axes, 1) {
                let cv = g.geom;
                let (plane_in, plane_out) = (cv.h * cv.w, cv.oh * cv.ow);
                let mut call = GemmCall::plain(
                    (Expr::i64(1), Expr::i64(plane_out), Expr::i64(cv.kh * cv.kw)),
                    (x.buf, Expr::i64(0), Expr::i64(0), Expr::i64(0)),
                    (x.buf, Expr::i64(0), Expr::i64(0), Expr::i64(0)),
                    (y.buf, Expr::i64(0), Expr::i64(plane_out)),
                    false,
                );
                call.max = true;
                call.conv = Some(cv);
                call.groups = numel(&x.shape[..2]).to_expr();
                call.b_gs = Expr::i64(plane_in);
                call.c_gs = Expr::i64(plane_out);
                cx.kb.gemm(call);
                return Ok(());
            }
        }
        let in_plane = numel(&x.shape[2..]).to_expr();
        let out_plane = numel(&y.shape[2..]).to_expr();
        let nc = numel(&x.shape[..2]).to_expr();
        let xs = build::strides(&x.dims()[2..]);
        let ys = build::strides(&y.dims()[2..]);
        let zero_ws: Vec<Expr> = axes.iter().map(|_| Expr::i64(0)).collect();
        let kind = self.kind;
        let col_major = self.col_major;
        cx.kb.loop_(Expr::i64(0), nc, |kb, c| {
            let xb = kb.let_(Scalar::I64, build::mul(c.clone(), in_plane.clone()));
            let yb = kb.let_(Scalar::I64, build::mul(c, out_plane.clone()));
            window::out_loops(
                kb,
                &axes,
                &mut |kb: &mut KernelBuilder, o: &[Expr], rs: &[Range]| {
                    let yo = build::add(yb.clone(), build::linear(o, &ys));
                    let env = Env {
                        axes: &axes,
                        rs,
                        xs: &xs,
                        zero_ws: &zero_ws,
                        xb: xb.clone(),
                        x: &x,
                    };
                    match kind {
                        Kind::Max => env.max(kb, &y, ind.as_ref(), yo, col_major),
                        Kind::Avg { count_include_pad } => env.avg(kb, &y, yo, count_include_pad),
                        Kind::Lp { p } => env.lp(kb, &y, yo, p),
                    }
                },
            );
        });
        Ok(())
    }
}

/// One output position's window.
struct Env<'a> {
    axes: &'a [Axis],
    rs: &'a [Range],
    xs: &'a [Expr],
    zero_ws: &'a [Expr],
    xb: Expr,
    x: &'a TensorRef,
}

impl Env<'_> {
    fn each(&self, kb: &mut KernelBuilder, f: &mut dyn FnMut(&mut KernelBuilder, Expr, &[Expr])) {
        window::kernel_loops(
            kb,
            self.axes,
            self.rs,
            self.xs,
            self.zero_ws,
            self.xb.clone(),
            Expr::i64(0),
            &mut |kb: &mut KernelBuilder, xo, _, k: &[Expr]| f(kb, xo, k),
        );
    }

    fn max(
        &self,
        kb: &mut KernelBuilder,
        y: &TensorRef,
        ind: Option<&TensorRef>,
        yo: Expr,
        col_major: bool,
    ) {
        let t = y.elem;
        let acc = kb.let_mut(t, lowest(t));
        let x = self.x;
        match ind {
            None => self.each(kb, &mut |kb, xo, _| {
                kb.set(acc, build::max(Expr::Var(acc), x.load(xo)));
            }),
            Some(ind) => {
                // Index of the first element (the window start clamped into the input).
                let first = self.first_index(col_major);
                let best = kb.let_mut(Scalar::I64, first);
                self.each(kb, &mut |kb, xo, k| {
                    let v = kb.let_(t, x.load(xo.clone()));
                    let idx = if col_major {
                        self.col_major_index(k)
                    } else {
                        xo
                    };
                    kb.if_(
                        build::cmp(CmpOp::Gt, v.clone(), Expr::Var(acc)),
                        |kb| {
                            kb.set(acc, v.clone());
                            kb.set(best, idx);
                        },
                        |_| {},
                    );
                });
                kb.store(ind.buf, yo.clone(), Expr::Var(best));
            }
        }
        kb.store(y.buf, yo, Expr::Var(acc));
    }

    /// Input position of kernel index `k` on each axis.
    fn pos(&self, i: usize, k: &Expr) -> Expr {
        build::add(
            self.rs[i].start.clone(),
            build::mul(k.clone(), Expr::i64(self.axes[i].d)),
        )
    }

    /// Column-major flattened index: plane base + sum pos_i * (prod of dims before i).
    fn col_major_index(&self, k: &[Expr]) -> Expr {
        let mut acc = self.xb.clone();
        let mut stride = Expr::i64(1);
        for (i, ki) in k.iter().enumerate() {
            acc = build::add(acc, build::mul(self.pos(i, ki), stride.clone()));
            stride = build::mul(stride, self.axes[i].inp.to_expr());
        }
        acc
    }

    /// The index reported when no element beats the initial value (first valid position).
    fn first_index(&self, col_major: bool) -> Expr {
        let k: Vec<Expr> = self.rs.iter().map(|r| r.lo.clone()).collect();
        if col_major {
            self.col_major_index(&k)
        } else {
            let mut acc = self.xb.clone();
            for (i, ki) in k.iter().enumerate() {
                acc = build::add(acc, build::mul(self.pos(i, ki), self.xs[i].clone()));
            }
            acc
        }
    }

    fn avg(&self, kb: &mut KernelBuilder, y: &TensorRef, yo: Expr, count_include_pad: bool) {
        let t = y.elem;
        let acc = kb.let_mut(t, Expr::imm(t, 0.0));
        let x = self.x;
        self.each(kb, &mut |kb, xo, _| {
            kb.set(acc, build::binary(BinOp::Add, Expr::Var(acc), x.load(xo)));
        });
        let mut count = Expr::i64(1);
        for (ax, r) in self.axes.iter().zip(self.rs) {
            let c = if count_include_pad {
                window::padded_count(ax, r)
            } else {
                build::max(build::sub(r.hi.clone(), r.lo.clone()), Expr::i64(0))
            };
            count = build::mul(count, c);
        }
        let v = build::binary(BinOp::Div, Expr::Var(acc), cast(t, count));
        kb.store(y.buf, yo, v);
    }

    fn lp(&self, kb: &mut KernelBuilder, y: &TensorRef, yo: Expr, p: i64) {
        let t = y.elem;
        let acc = kb.let_mut(t, Expr::imm(t, 0.0));
        let x = self.x;
        self.each(kb, &mut |kb, xo, _| {
            let v = x.load(xo);
            let term = match p {
                1 => unary(UnOp::Abs, v),
                2 => {
                    let v = kb.let_(t, v);
                    build::binary(BinOp::Mul, v.clone(), v)
                }
                _ => build::call(
                    MathFn::Pow,
                    vec![unary(UnOp::Abs, v), Expr::imm(t, p as f64)],
                ),
            };
            kb.set(acc, build::binary(BinOp::Add, Expr::Var(acc), term));
        });
        let v = match p {
            1 => Expr::Var(acc),
            2 => unary(UnOp::Sqrt, Expr::Var(acc)),
            _ => build::call(
                MathFn::Pow,
                vec![Expr::Var(acc), Expr::imm(t, 1.0 / p as f64)],
            ),
        };
        kb.store(y.buf, yo, v);
    }
}
