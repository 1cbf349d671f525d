//! Lowering of RNN, GRU and LSTM (see `recurrent.rs` for the semantics).
//!
//! Loops: direction (unrolled at compile time) → batch entry → time step → hidden unit → the
//! gate dot products (`Fma` over the input, then over the previous hidden state, in index
//! order; the bias `Wb + Rb` is added after the two dot products).
//!
//! Storage: kir kernels have no local arrays, so the state lives in the op's outputs, which
//! `super::materialise_outputs` makes sure are all present (an output nobody reads is a scratch
//! value): `H_{t-1}` is read from `Y` at the previous step's position (or from `initial_h` /
//! zeros at the first step), so computing `H_t` never overwrites what it reads; the LSTM cell
//! state is updated in place in `Y_c` (its update is element-wise); GRU with
//! `linear_before_reset = 0` keeps `r ⊙ H_{t-1}` in `Y_h`, which receives its real value after
//! the last step.

use super::act::{self, Act};
use super::recurrent::{Kind, Recurrent, B, INIT_C, INIT_H, P, R, SEQ_LENS, W, X};
use crate::error::Result;
use crate::kir::build::{self, cast, cmp, fma, or, KernelBuilder};
use crate::kir::{BinOp, CmpOp, Expr, Scalar, Status};
use crate::lower::{LowerCx, TensorRef};

struct Cell<'a> {
    op: &'a Recurrent,
    t: Scalar,
    h: i64,
    x: TensorRef,
    w: TensorRef,
    r: TensorRef,
    b: Option<TensorRef>,
    ih: Option<TensorRef>,
    ic: Option<TensorRef>,
    p: Option<TensorRef>,
    y: TensorRef,
    yh: TensorRef,
    yc: Option<TensorRef>,
    seq: Expr,
    input: Expr,
}

fn add(a: Expr, b: Expr) -> Expr {
    build::binary(BinOp::Add, a, b)
}
fn sub(a: Expr, b: Expr) -> Expr {
    build::binary(BinOp::Sub, a, b)
}
fn mul(a: Expr, b: Expr) -> Expr {
    build::binary(BinOp::Mul, a, b)
}
fn i64c(v: i64) -> Expr {
    Expr::i64(v)
}

pub fn lower(op: &Recurrent, cx: &mut LowerCx) -> Result<()> {
    let missing = |cx: &LowerCx, i: usize| {
        cx.err(format!(
            "internal: output {i} is absent (ops::rnn::materialise_outputs must run before \
             import)"
        ))
    };
    let get_out = |cx: &LowerCx, i: usize| -> Result<TensorRef> {
        cx.outs
            .get(i)
            .cloned()
            .flatten()
            .ok_or_else(|| missing(cx, i))
    };
    let x = cx.input(X)?;
    let r = cx.input(R)?;
    let h = op
        .hidden_size(&r.shape)
        .ok_or_else(|| cx.err("hidden_size is unknown"))?;
    let opt = |i: usize| cx.ins.get(i).cloned().flatten();
    let c = Cell {
        op,
        t: x.elem,
        h,
        w: cx.input(W)?,
        b: opt(B),
        ih: opt(INIT_H),
        ic: opt(INIT_C),
        p: opt(P),
        y: get_out(cx, 0)?,
        yh: get_out(cx, 1)?,
        yc: if op.kind == Kind::Lstm {
            Some(get_out(cx, 2)?)
        } else {
            None
        },
        seq: if op.batch_first { x.dim(1) } else { x.dim(0) },
        input: x.dim(2),
        x,
        r,
    };
    let sl = opt(SEQ_LENS);
    let batch = if op.batch_first {
        c.x.dim(0)
    } else {
        c.x.dim(1)
    };
    for d in 0..op.num_directions {
        let reverse = op.reverse || d == 1;
        let d = i64c(d as i64);
        cx.kb.loop_(i64c(0), batch.clone(), |kb, bb| {
            let len = match &sl {
                Some(sl) => {
                    let len = kb.let_(Scalar::I64, cast(Scalar::I64, sl.load(bb.clone())));
                    let bad = or(
                        cmp(CmpOp::Lt, len.clone(), i64c(0)),
                        cmp(CmpOp::Gt, len.clone(), c.seq.clone()),
                    );
                    kb.if_(bad, |kb| kb.fail(Status::BadValue), |_| {});
                    len
                }
                None => c.seq.clone(),
            };
            c.run(kb, &d, &bb, &len, reverse);
        });
    }
    Ok(())
}

impl Cell<'_> {
    fn zero(&self) -> Expr {
        Expr::imm(self.t, 0.0)
    }
    fn act(&self, d: &Expr, k: usize) -> Act {
        let per = self.op.acts.len() / self.op.num_directions;
        let d = d.as_const_i64().unwrap_or(0) as usize;
        self.op.acts[d * per + k]
    }
    fn y_idx(&self, t: &Expr, d: &Expr, b: &Expr, j: &Expr) -> Expr {
        let idx = if self.op.batch_first {
            [b.clone(), t.clone(), d.clone(), j.clone()]
        } else {
            [t.clone(), d.clone(), b.clone(), j.clone()]
        };
        build::linear(&idx, &self.y.strides())
    }
    /// Index into a state tensor (`initial_h`, `initial_c`, `Y_h`, `Y_c`).
    fn st_idx(&self, d: &Expr, b: &Expr, j: &Expr) -> Expr {
        let idx = if self.op.batch_first {
            [b.clone(), d.clone(), j.clone()]
        } else {
            [d.clone(), b.clone(), j.clone()]
        };
        build::linear(&idx, &self.yh.strides())
    }
    fn x_at(&self, t: &Expr, b: &Expr, k: &Expr) -> Expr {
        if self.op.batch_first {
            self.x.at(&[b.clone(), t.clone(), k.clone()])
        } else {
            self.x.at(&[t.clone(), b.clone(), k.clone()])
        }
    }
    /// `H_{t-1}[k]`: from `Y` at position `tp`, or the initial state.
    fn hprev(&self, d: &Expr, b: &Expr, tp: Option<&Expr>, k: &Expr) -> Expr {
        match (tp, &self.ih) {
            (Some(tp), _) => self.y.load(self.y_idx(tp, d, b, k)),
            (None, Some(ih)) => ih.load(self.st_idx(d, b, k)),
            (None, None) => self.zero(),
        }
    }
    /// `sum_k X[t, b, k] * W[d, row, k]`.
    fn dot_x(&self, kb: &mut KernelBuilder, d: &Expr, b: &Expr, t: &Expr, row: &Expr) -> Expr {
        let acc = kb.let_mut(self.t, self.zero());
        kb.loop_(i64c(0), self.input.clone(), |kb, k| {
            let v = fma(
                self.x_at(t, b, &k),
                self.w.at(&[d.clone(), row.clone(), k.clone()]),
                Expr::Var(acc),
            );
            kb.set(acc, v);
        });
        Expr::Var(acc)
    }
    /// `sum_k src(k) * R[d, row, k]`.
    fn dot_h(
        &self,
        kb: &mut KernelBuilder,
        d: &Expr,
        row: &Expr,
        src: &dyn Fn(&Expr) -> Expr,
    ) -> Expr {
        let acc = kb.let_mut(self.t, self.zero());
        kb.loop_(i64c(0), i64c(self.h), |kb, k| {
            let v = fma(
                src(&k),
                self.r.at(&[d.clone(), row.clone(), k.clone()]),
                Expr::Var(acc),
            );
            kb.set(acc, v);
        });
        Expr::Var(acc)
    }
    /// `Wb[row]` and `Rb[row]` (zeros without `B`).
    fn bias(&self, d: &Expr, row: &Expr) -> (Expr, Expr) {
        match &self.b {
            Some(b) => {
                let off = i64c(self.op.kind.gates() * self.h);
                (
                    b.at(&[d.clone(), row.clone()]),
                    b.at(&[d.clone(), build::add(off, row.clone())]),
                )
            }
            None => (self.zero(), self.zero()),
        }
    }
    /// Row of gate `g` for hidden unit `j`.
    fn row(&self, g: i64, j: &Expr) -> Expr {
        build::add(i64c(g * self.h), j.clone())
    }
    /// `(x·W_row + H·R_row) + (Wb_row + Rb_row)`, bound to a variable.
    #[allow(clippy::too_many_arguments)]
    fn gate(
        &self,
        kb: &mut KernelBuilder,
        d: &Expr,
        b: &Expr,
        t: &Expr,
        tp: Option<&Expr>,
        g: i64,
        j: &Expr,
    ) -> Expr {
        let row = self.row(g, j);
        let xa = self.dot_x(kb, d, b, t, &row);
        let ha = self.dot_h(kb, d, &row, &|k| self.hprev(d, b, tp, k));
        let (wb, rb) = self.bias(d, &row);
        kb.let_(self.t, add(add(xa, ha), add(wb, rb)))
    }
    fn clip(&self, kb: &mut KernelBuilder, v: Expr) -> Expr {
        match self.op.clip {
            Some(c) => {
                let v = kb.let_(self.t, v);
                build::min(build::max(v, Expr::imm(self.t, -c)), Expr::imm(self.t, c))
            }
            None => v,
        }
    }
    /// `f(clip(v))` bound to a variable.
    fn activate(&self, kb: &mut KernelBuilder, d: &Expr, k: usize, v: Expr) -> Expr {
        let v = self.clip(kb, v);
        let e = act::apply(kb, self.act(d, k), v, self.t);
        kb.let_(self.t, e)
    }

    /// One batch entry of one direction: all steps, the zero padding beyond `len`, `Y_h`.
    fn run(&self, kb: &mut KernelBuilder, d: &Expr, b: &Expr, len: &Expr, reverse: bool) {
        let hdim = i64c(self.h);
        if let Some(yc) = &self.yc {
            kb.loop_(i64c(0), hdim.clone(), |kb, j| {
                let v = match &self.ic {
                    Some(ic) => ic.load(self.st_idx(d, b, &j)),
                    None => self.zero(),
                };
                kb.store(yc.buf, self.st_idx(d, b, &j), v);
            });
        }
        let nonempty = cmp(CmpOp::Gt, len.clone(), i64c(0));
        let known_nonempty = len.as_const_i64().map(|l| l > 0);
        // First step, from the initial state.
        let first = |kb: &mut KernelBuilder| {
            let t0 = if reverse {
                build::sub(len.clone(), i64c(1))
            } else {
                i64c(0)
            };
            self.step(kb, d, b, &t0, None);
        };
        match known_nonempty {
            Some(true) => first(kb),
            Some(false) => {}
            None => kb.if_(nonempty.clone(), first, |_| {}),
        }
        kb.loop_(i64c(1), len.clone(), |kb, s| {
            let (t, tp) = if reverse {
                let t = build::sub(build::sub(len.clone(), i64c(1)), s);
                (t.clone(), build::add(t, i64c(1)))
            } else {
                (s.clone(), build::sub(s, i64c(1)))
            };
            let t = kb.let_(Scalar::I64, t);
            let tp = kb.let_(Scalar::I64, tp);
            self.step(kb, d, b, &t, Some(&tp));
        });
        // Positions beyond the sequence's length.
        if len != &self.seq {
            kb.loop_(len.clone(), self.seq.clone(), |kb, t| {
                kb.loop_(i64c(0), hdim.clone(), |kb, j| {
                    kb.store(self.y.buf, self.y_idx(&t, d, b, &j), self.zero());
                });
            });
        }
        // Y_h: the state after the last valid step.
        let last = |kb: &mut KernelBuilder| {
            let tl = if reverse {
                i64c(0)
            } else {
                build::sub(len.clone(), i64c(1))
            };
            kb.loop_(i64c(0), hdim.clone(), |kb, j| {
                let v = self.y.load(self.y_idx(&tl, d, b, &j));
                kb.store(self.yh.buf, self.st_idx(d, b, &j), v);
            });
        };
        let initial = |kb: &mut KernelBuilder| {
            kb.loop_(i64c(0), hdim.clone(), |kb, j| {
                let v = self.hprev(d, b, None, &j);
                kb.store(self.yh.buf, self.st_idx(d, b, &j), v);
            });
        };
        match known_nonempty {
            Some(true) => last(kb),
            Some(false) => initial(kb),
            None => kb.if_(nonempty, last, initial),
        }
    }

    /// One time step at position `t`; `tp` is the previous step's position (None: the
    /// first step, which reads the initial state).
    fn step(&self, kb: &mut KernelBuilder, d: &Expr, b: &Expr, t: &Expr, tp: Option<&Expr>) {
        let hdim = i64c(self.h);
        let ty = self.t;
        match self.op.kind {
            Kind::Rnn => kb.loop_(i64c(0), hdim, |kb, j| {
                let v = self.gate(kb, d, b, t, tp, 0, &j);
                let hn = self.activate(kb, d, 0, v);
                kb.store(self.y.buf, self.y_idx(t, d, b, &j), hn);
            }),
            Kind::Gru => {
                let lbr = self.op.linear_before_reset;
                if !lbr {
                    // r ⊙ H_{t-1} into Y_h (scratch until the last step).
                    kb.loop_(i64c(0), hdim.clone(), |kb, k| {
                        let v = self.gate(kb, d, b, t, tp, 1, &k);
                        let rv = self.activate(kb, d, 0, v);
                        let hp = self.hprev(d, b, tp, &k);
                        kb.store(self.yh.buf, self.st_idx(d, b, &k), mul(rv, hp));
                    });
                }
                kb.loop_(i64c(0), hdim, |kb, j| {
                    let zv = self.gate(kb, d, b, t, tp, 0, &j);
                    let z = self.activate(kb, d, 0, zv);
                    let row = self.row(2, &j);
                    let (wb, rb) = self.bias(d, &row);
                    let xa = self.dot_x(kb, d, b, t, &row);
                    let pre = if lbr {
                        let rv = self.gate(kb, d, b, t, tp, 1, &j);
                        let r = self.activate(kb, d, 0, rv);
                        let ha = self.dot_h(kb, d, &row, &|k| self.hprev(d, b, tp, k));
                        add(add(xa, mul(r, add(ha, rb))), wb)
                    } else {
                        let ha = self.dot_h(kb, d, &row, &|k| self.yh.load(self.st_idx(d, b, k)));
                        add(add(add(xa, ha), rb), wb)
                    };
                    let hh = self.activate(kb, d, 1, pre);
                    let hp = self.hprev(d, b, tp, &j);
                    let one = Expr::imm(ty, 1.0);
                    let hn = add(mul(sub(one, z.clone()), hh), mul(z, hp));
                    kb.store(self.y.buf, self.y_idx(t, d, b, &j), hn);
                });
            }
            Kind::Lstm => {
                let yc = self.yc.as_ref().expect("LSTM has Y_c");
                kb.loop_(i64c(0), hdim, |kb, j| {
                    let sidx = self.st_idx(d, b, &j);
                    let cprev = kb.let_(ty, yc.load(sidx.clone()));
                    let peep = |k: i64| -> Option<Expr> {
                        self.p
                            .as_ref()
                            .map(|p| p.at(&[d.clone(), build::add(i64c(k * self.h), j.clone())]))
                    };
                    let mut iv = self.gate(kb, d, b, t, tp, 0, &j);
                    let mut ov = self.gate(kb, d, b, t, tp, 1, &j);
                    let mut fv = self.gate(kb, d, b, t, tp, 2, &j);
                    let cv = self.gate(kb, d, b, t, tp, 3, &j);
                    if let Some(pi) = peep(0) {
                        iv = add(iv, mul(pi, cprev.clone()));
                    }
                    if let Some(pf) = peep(2) {
                        fv = add(fv, mul(pf, cprev.clone()));
                    }
                    let i = self.activate(kb, d, 0, iv);
                    let f = if self.op.input_forget {
                        kb.let_(ty, sub(Expr::imm(ty, 1.0), i.clone()))
                    } else {
                        self.activate(kb, d, 0, fv)
                    };
                    let c = self.activate(kb, d, 1, cv);
                    let cn = kb.let_(ty, add(mul(f, cprev), mul(i, c)));
                    kb.store(yc.buf, sidx, cn.clone());
                    if let Some(po) = peep(1) {
                        ov = add(ov, mul(po, cn.clone()));
                    }
                    let o = self.activate(kb, d, 0, ov);
                    let hc = act::apply(kb, self.act(d, 2), cn, ty);
                    kb.store(self.y.buf, self.y_idx(t, d, b, &j), mul(o, hc));
                });
            }
        }
    }
}
