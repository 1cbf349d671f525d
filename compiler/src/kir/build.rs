//! Builders for kir: expression constructors that fold constant index arithmetic (so lowered
//! kir stays readable and backends get simple code), and `KernelBuilder`, which tracks
//! variables and nested statement lists while an op is lowered.

use super::*;

fn bin(op: BinOp, a: Expr, b: Expr) -> Expr {
    Expr::Binary(op, Box::new(a), Box::new(b))
}

/// `a + b`, folding I64 constants and `+ 0`.
pub fn add(a: Expr, b: Expr) -> Expr {
    match (a.as_const_i64(), b.as_const_i64()) {
        (Some(x), Some(y)) if is_i64(&a) => Expr::i64(x.wrapping_add(y)),
        (Some(0), _) if is_i64(&a) => b,
        (_, Some(0)) if is_i64(&b) => a,
        _ => bin(BinOp::Add, a, b),
    }
}

/// `a - b`, folding I64 constants and `- 0`.
pub fn sub(a: Expr, b: Expr) -> Expr {
    match (a.as_const_i64(), b.as_const_i64()) {
        (Some(x), Some(y)) if is_i64(&a) => Expr::i64(x.wrapping_sub(y)),
        (_, Some(0)) if is_i64(&b) => a,
        _ => bin(BinOp::Sub, a, b),
    }
}

/// `a * b`, folding I64 constants, `* 1` and `* 0`.
pub fn mul(a: Expr, b: Expr) -> Expr {
    match (a.as_const_i64(), b.as_const_i64()) {
        (Some(x), Some(y)) if is_i64(&a) => Expr::i64(x.wrapping_mul(y)),
        (Some(1), _) if is_i64(&a) => b,
        (_, Some(1)) if is_i64(&b) => a,
        (Some(0), _) if is_i64(&a) => Expr::i64(0),
        (_, Some(0)) if is_i64(&b) => Expr::i64(0),
        _ => bin(BinOp::Mul, a, b),
    }
}

/// `a / b` (integer division truncates; see kir semantics for zero divisors).
pub fn div(a: Expr, b: Expr) -> Expr {
    match (a.as_const_i64(), b.as_const_i64()) {
        (Some(x), Some(y)) if is_i64(&a) && y != 0 => Expr::i64(x.wrapping_div(y)),
        (_, Some(1)) if is_i64(&b) => a,
        _ => bin(BinOp::Div, a, b),
    }
}

pub fn rem(a: Expr, b: Expr) -> Expr {
    match (a.as_const_i64(), b.as_const_i64()) {
        (Some(x), Some(y)) if is_i64(&a) && y != 0 => Expr::i64(x.wrapping_rem(y)),
        (_, Some(1)) if is_i64(&b) => Expr::i64(0),
        _ => bin(BinOp::Rem, a, b),
    }
}

fn is_i64(e: &Expr) -> bool {
    matches!(e, Expr::Imm(Scalar::I64, _))
}

pub fn binary(op: BinOp, a: Expr, b: Expr) -> Expr {
    match op {
        BinOp::Add => add(a, b),
        BinOp::Sub => sub(a, b),
        BinOp::Mul => mul(a, b),
        BinOp::Div => div(a, b),
        BinOp::Rem => rem(a, b),
        _ => bin(op, a, b),
    }
}

pub fn min(a: Expr, b: Expr) -> Expr {
    bin(BinOp::Min, a, b)
}
pub fn max(a: Expr, b: Expr) -> Expr {
    bin(BinOp::Max, a, b)
}
pub fn unary(op: UnOp, a: Expr) -> Expr {
    Expr::Unary(op, Box::new(a))
}
pub fn cmp(op: CmpOp, a: Expr, b: Expr) -> Expr {
    Expr::Cmp(op, Box::new(a), Box::new(b))
}
pub fn select(c: Expr, a: Expr, b: Expr) -> Expr {
    Expr::Select(Box::new(c), Box::new(a), Box::new(b))
}
pub fn fma(a: Expr, b: Expr, c: Expr) -> Expr {
    Expr::Fma(Box::new(a), Box::new(b), Box::new(c))
}
pub fn cast(ty: Scalar, e: Expr) -> Expr {
    Expr::Cast(ty, Box::new(e))
}
pub fn bitcast(ty: Scalar, e: Expr) -> Expr {
    Expr::Bitcast(ty, Box::new(e))
}
pub fn load(b: BufId, idx: Expr) -> Expr {
    Expr::Load(b, Box::new(idx))
}
pub fn call(f: MathFn, args: Vec<Expr>) -> Expr {
    Expr::Call(f, args)
}
pub fn and(a: Expr, b: Expr) -> Expr {
    bin(BinOp::And, a, b)
}
pub fn or(a: Expr, b: Expr) -> Expr {
    bin(BinOp::Or, a, b)
}

/// Partial results of `KernelBuilder::reduce` (a power of two).
pub const REDUCE_SPLIT: i64 = 8;

/// The body of `KernelBuilder::loops`, called once with the index variables.
type LoopBody<'a> = Box<dyn FnOnce(&mut KernelBuilder, &[Expr]) + 'a>;

/// Builds one kernel. Statements go to the innermost open block (loop or if body).
pub struct KernelBuilder {
    vars: Vec<Scalar>,
    blocks: Vec<Vec<Stmt>>,
}

impl Default for KernelBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl KernelBuilder {
    pub fn new() -> KernelBuilder {
        KernelBuilder {
            vars: vec![],
            blocks: vec![vec![]],
        }
    }
    fn push(&mut self, s: Stmt) {
        self.blocks.last_mut().expect("open block").push(s);
    }
    /// A fresh variable of type `ty` (not yet declared).
    pub fn new_var(&mut self, ty: Scalar) -> VarId {
        self.vars.push(ty);
        VarId(self.vars.len() as u32 - 1)
    }
    /// Declare a variable holding `e` (of type `ty`) and return it as an expression.
    pub fn let_(&mut self, ty: Scalar, e: Expr) -> Expr {
        let v = self.new_var(ty);
        self.push(Stmt::Let(v, e));
        Expr::Var(v)
    }
    /// Declare a mutable variable (returns its id for `set`).
    pub fn let_mut(&mut self, ty: Scalar, e: Expr) -> VarId {
        let v = self.new_var(ty);
        self.push(Stmt::Let(v, e));
        v
    }
    pub fn set(&mut self, v: VarId, e: Expr) {
        self.push(Stmt::Set(v, e));
    }
    pub fn store(&mut self, buf: BufId, idx: Expr, val: Expr) {
        self.push(Stmt::Store { buf, idx, val });
    }
    pub fn fail(&mut self, s: Status) {
        self.push(Stmt::Fail(s));
    }
    /// `for i in start..end { body(i) }`; a loop with constant bounds that runs zero times is
    /// dropped.
    pub fn loop_(&mut self, start: Expr, end: Expr, body: impl FnOnce(&mut Self, Expr)) {
        let var = self.new_var(Scalar::I64);
        self.blocks.push(vec![]);
        body(self, Expr::Var(var));
        let b = self.blocks.pop().expect("loop block");
        if let (Some(s), Some(e)) = (start.as_const_i64(), end.as_const_i64()) {
            if e <= s {
                return;
            }
        }
        self.push(Stmt::Loop {
            var,
            start,
            end,
            body: b,
        });
    }
    /// The reduction of `item(i)` for `i` in `0..n` with `op`, in the order this defines (so
    /// every backend computes the same bits): `REDUCE_SPLIT` partial results, partial `j`
    /// folding `init` with the items `j`, `j + S`, `j + 2S`, ... of the first `n - n % S`
    /// indices (independent chains, so the loop runs at the adder's throughput instead of its
    /// latency), the remaining items folded into partial 0 in index order, then the partials
    /// combined as a balanced tree, `((p0 op p1) op (p2 op p3)) op ((p4 op p5) op (p6 op p7))`.
    /// A known `n` below `2 * S` is one chain in index order. `item` may emit statements; it
    /// is called `S + 1` times (once per unrolled position and once for the remainder).
    pub fn reduce(
        &mut self,
        ty: Scalar,
        init: Expr,
        n: Expr,
        op: impl Fn(Expr, Expr) -> Expr,
        mut item: impl FnMut(&mut Self, Expr) -> Expr,
    ) -> Expr {
        const S: i64 = REDUCE_SPLIT;
        if n.as_const_i64().is_some_and(|c| c < 2 * S) {
            let acc = self.let_mut(ty, init);
            self.loop_(Expr::i64(0), n, |kb, i| {
                let v = item(kb, i);
                kb.set(acc, op(Expr::Var(acc), v));
            });
            return Expr::Var(acc);
        }
        let accs: Vec<VarId> = (0..S).map(|_| self.let_mut(ty, init.clone())).collect();
        let full = self.let_(Scalar::I64, mul(div(n.clone(), Expr::i64(S)), Expr::i64(S)));
        let q = div(full.clone(), Expr::i64(S));
        self.loop_(Expr::i64(0), q, |kb, qi| {
            let base = kb.let_(Scalar::I64, mul(qi, Expr::i64(S)));
            for (j, a) in accs.iter().enumerate() {
                let v = item(kb, add(base.clone(), Expr::i64(j as i64)));
                kb.set(*a, op(Expr::Var(*a), v));
            }
        });
        self.loop_(full, n, |kb, i| {
            let v = item(kb, i);
            kb.set(accs[0], op(Expr::Var(accs[0]), v));
        });
        let mut level: Vec<Expr> = accs.iter().map(|a| Expr::Var(*a)).collect();
        while level.len() > 1 {
            level = level
                .chunks(2)
                .map(|p| op(p[0].clone(), p[1].clone()))
                .collect();
        }
        self.let_(ty, level.pop().expect("one partial"))
    }
    /// Nested loops over `dims` (outermost first); `body` gets the index variables.
    pub fn loops(&mut self, dims: &[Expr], body: impl FnOnce(&mut Self, &[Expr])) {
        fn rec(
            kb: &mut KernelBuilder,
            dims: &[Expr],
            idx: &mut Vec<Expr>,
            body: &mut Option<LoopBody<'_>>,
        ) {
            if dims.is_empty() {
                if let Some(b) = body.take() {
                    b(kb, idx);
                }
                return;
            }
            kb.loop_(Expr::i64(0), dims[0].clone(), |kb, i| {
                idx.push(i);
                rec(kb, &dims[1..], idx, body);
                idx.pop();
            });
        }
        let mut b: Option<LoopBody<'_>> = Some(Box::new(body));
        rec(self, dims, &mut vec![], &mut b);
    }
    pub fn if_(&mut self, cond: Expr, then: impl FnOnce(&mut Self), els: impl FnOnce(&mut Self)) {
        self.blocks.push(vec![]);
        then(self);
        let t = self.blocks.pop().expect("then block");
        self.blocks.push(vec![]);
        els(self);
        let e = self.blocks.pop().expect("else block");
        self.push(Stmt::If {
            cond,
            then: t,
            els: e,
        });
    }
    /// `Stmt::Gemm` for `call`, with its fallback loops (the contract of `GemmCall`). A
    /// convolution's patch loops run over (channel, tap row, tap column) in the contract's
    /// order, loading the image only inside it and multiplying by +0 outside.
    pub fn gemm(&mut self, call: GemmCall) {
        self.blocks.push(vec![]);
        if call.groups == Expr::i64(1) {
            self.gemm_group(&call);
            let fallback = self.blocks.pop().expect("gemm block");
            self.push(Stmt::Gemm {
                call: Box::new(call),
                fallback,
            });
            return;
        }
        self.loop_(Expr::i64(0), call.groups.clone(), |kb, gi| {
            // This group's call: offsets advanced, one group.
            let at = |e: &Expr, s: &Expr| add(e.clone(), mul(gi.clone(), s.clone()));
            let mut g = call.clone();
            g.a_off = kb.let_(Scalar::I64, at(&call.a_off, &call.a_gs));
            g.b_off = kb.let_(Scalar::I64, at(&call.b_off, &call.b_gs));
            g.c_off = kb.let_(Scalar::I64, at(&call.c_off, &call.c_gs));
            if let Some((b, off)) = &call.bias {
                g.bias = Some((*b, kb.let_(Scalar::I64, at(off, &call.m))));
            }
            if let Some((b, off, rs)) = &call.res {
                g.res = Some((*b, kb.let_(Scalar::I64, at(off, &call.c_gs)), rs.clone()));
            }
            kb.gemm_group(&g);
        });
        let fallback = self.blocks.pop().expect("gemm block");
        self.push(Stmt::Gemm {
            call: Box::new(call),
            fallback,
        });
    }

    /// The fallback loops of one group of a `GemmCall`.
    fn gemm_group(&mut self, g: &GemmCall) {
        self.loop_(Expr::i64(0), g.m.clone(), |kb, i| {
            kb.loop_(Expr::i64(0), g.n.clone(), |kb, j| {
                // C's (and R's) element (i, j) at `off`, row stride `rs`: blocked by L rows
                // at `(i / L) * rs + j * L + i % L`.
                let lb = g.conv.map_or(0, |cv| cv.blocked);
                let elem = |off: &Expr, rs: &Expr| {
                    if lb > 0 {
                        let l = Expr::i64(lb);
                        let blk = mul(div(i.clone(), l.clone()), rs.clone());
                        let inner = add(mul(j.clone(), l.clone()), rem(i.clone(), l));
                        add(off.clone(), add(blk, inner))
                    } else {
                        add(off.clone(), add(mul(i.clone(), rs.clone()), j.clone()))
                    }
                };
                let ci = kb.let_(Scalar::I64, elem(&g.c_off, &g.c_rs));
                // Products start from +0 and pad with +0; max pooling uses -inf for both.
                let none = Expr::imm(Scalar::F32, if g.max { f64::NEG_INFINITY } else { 0.0 });
                let step = |a: Expr, b: Expr, acc: Expr| {
                    if g.max {
                        max(acc, b)
                    } else {
                        fma(a, b, acc)
                    }
                };
                let init = if g.accumulate {
                    load(g.c, ci.clone())
                } else {
                    none.clone()
                };
                let acc = kb.let_mut(Scalar::F32, init);
                let (a_row, a_cs) = if g.a_panel > 0 {
                    let pn = Expr::i64(g.a_panel);
                    let panel = mul(mul(div(i.clone(), pn.clone()), pn.clone()), g.k.clone());
                    let row = add(g.a_off.clone(), add(panel, rem(i.clone(), pn.clone())));
                    (kb.let_(Scalar::I64, row), pn)
                } else {
                    let row = add(g.a_off.clone(), mul(i.clone(), g.a_rs.clone()));
                    (kb.let_(Scalar::I64, row), g.a_cs.clone())
                };
                let a_at = |p: Expr| load(g.a, add(a_row.clone(), mul(p, a_cs.clone())));
                match &g.conv {
                    None => kb.loop_(Expr::i64(0), g.k.clone(), |kb, p| {
                        let bv = load(
                            g.b,
                            add(
                                g.b_off.clone(),
                                add(
                                    mul(p.clone(), g.b_rs.clone()),
                                    mul(j.clone(), g.b_cs.clone()),
                                ),
                            ),
                        );
                        kb.set(acc, step(a_at(p), bv, Expr::Var(acc)));
                    }),
                    Some(cv) => {
                        let cv = *cv;
                        let ih0 = kb.let_(
                            Scalar::I64,
                            sub(
                                mul(div(j.clone(), Expr::i64(cv.ow)), Expr::i64(cv.sh)),
                                Expr::i64(cv.ph),
                            ),
                        );
                        let iw0 = kb.let_(
                            Scalar::I64,
                            sub(
                                mul(rem(j.clone(), Expr::i64(cv.ow)), Expr::i64(cv.sw)),
                                Expr::i64(cv.pw),
                            ),
                        );
                        // One k step: channel (block) `c`, tap (`ti`, `tj`), lane `l` of the
                        // block when blocked.
                        let lb = cv.blocked.max(1);
                        let tap = |kb: &mut KernelBuilder,
                                   c: Expr,
                                   ti: Expr,
                                   tj: Expr,
                                   l: Option<Expr>| {
                            let ih = kb.let_(
                                Scalar::I64,
                                add(ih0.clone(), mul(ti.clone(), Expr::i64(cv.dh))),
                            );
                            let iw = kb.let_(
                                Scalar::I64,
                                add(iw0.clone(), mul(tj.clone(), Expr::i64(cv.dw))),
                            );
                            let inside = and(
                                and(
                                    cmp(CmpOp::Ge, ih.clone(), Expr::i64(0)),
                                    cmp(CmpOp::Lt, ih.clone(), Expr::i64(cv.h)),
                                ),
                                and(
                                    cmp(CmpOp::Ge, iw.clone(), Expr::i64(0)),
                                    cmp(CmpOp::Lt, iw.clone(), Expr::i64(cv.w)),
                                ),
                            );
                            let bv = kb.let_mut(Scalar::F32, none.clone());
                            kb.if_(
                                inside,
                                |kb| {
                                    let px = add(
                                        mul(
                                            add(mul(c.clone(), Expr::i64(cv.h)), ih),
                                            Expr::i64(cv.w),
                                        ),
                                        iw,
                                    );
                                    let px = match &l {
                                        Some(l) => add(mul(px, Expr::i64(lb)), l.clone()),
                                        None => px,
                                    };
                                    kb.set(bv, load(g.b, add(g.b_off.clone(), px)));
                                },
                                |_| {},
                            );
                            let p =
                                add(mul(add(mul(c, Expr::i64(cv.kh)), ti), Expr::i64(cv.kw)), tj);
                            let p = match l {
                                Some(l) => add(mul(p, Expr::i64(lb)), l),
                                None => p,
                            };
                            kb.set(acc, step(a_at(p), Expr::Var(bv), Expr::Var(acc)));
                        };
                        kb.loop_(Expr::i64(0), Expr::i64(cv.c / lb), |kb, c| {
                            kb.loop_(Expr::i64(0), Expr::i64(cv.kh), |kb, ti| {
                                kb.loop_(Expr::i64(0), Expr::i64(cv.kw), |kb, tj| {
                                    if lb > 1 {
                                        kb.loop_(Expr::i64(0), Expr::i64(lb), |kb, l| {
                                            tap(kb, c.clone(), ti.clone(), tj.clone(), Some(l))
                                        });
                                    } else {
                                        tap(kb, c.clone(), ti.clone(), tj.clone(), None);
                                    }
                                });
                            });
                        });
                    }
                }
                let mut v = Expr::Var(acc);
                if let Some((b, off)) = &g.bias {
                    v = add(v, load(*b, add(off.clone(), i.clone())));
                }
                if let Some((r, off, rs)) = &g.res {
                    v = add(v, load(*r, elem(off, rs)));
                }
                if g.lo != f32::NEG_INFINITY {
                    let v1 = kb.let_(Scalar::F32, v);
                    let lo = Expr::imm(Scalar::F32, g.lo as f64);
                    v = select(cmp(CmpOp::Gt, lo.clone(), v1.clone()), lo, v1);
                }
                if g.hi != f32::INFINITY {
                    let v1 = kb.let_(Scalar::F32, v);
                    let hi = Expr::imm(Scalar::F32, g.hi as f64);
                    v = select(cmp(CmpOp::Lt, hi.clone(), v1.clone()), hi, v1);
                }
                kb.store(g.c, ci, v);
            });
        });
    }
    pub fn is_empty(&self) -> bool {
        self.blocks.len() == 1 && self.blocks[0].is_empty()
    }
    pub fn finish(mut self, name: impl Into<String>) -> Kernel {
        Kernel {
            name: name.into(),
            vars: self.vars,
            body: self.blocks.pop().unwrap_or_default(),
        }
    }
}

/// Row-major strides of a shape (as I64 expressions).
pub fn strides(shape: &[Expr]) -> Vec<Expr> {
    let mut s = vec![Expr::i64(1); shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = mul(s[i + 1].clone(), shape[i + 1].clone());
    }
    s
}

/// Linear index `sum(idx[i] * strides[i])`.
pub fn linear(idx: &[Expr], strides: &[Expr]) -> Expr {
    idx.iter().zip(strides).fold(Expr::i64(0), |acc, (i, s)| {
        add(acc, mul(i.clone(), s.clone()))
    })
}
