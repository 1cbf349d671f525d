//! Translation of one kir kernel into one Cranelift function: statements, control flow,
//! variables and buffer addressing (expressions are in `expr.rs`).
//!
//! Invariants:
//! - the function has the kernel signature `(dims, inputs, outputs, scratch, lens, par) -> i32`;
//! - every `Dim`, `Len` and buffer base the kernel uses is computed once, in the entry block
//!   (in ascending id order), before any statement: they depend only on the arguments;
//! - a kir variable maps to one `cranelift_frontend::Variable`, declared on first definition;
//! - `Fail(s)` returns `s`; statements after it in the same list are unreachable and are not
//!   translated; a kernel that runs off its end returns 0;
//! - loops are `header: i < end ? body : exit`, with `end` evaluated once before the loop, as
//!   the interpreter does.

use std::collections::BTreeMap;
use std::collections::BTreeSet;

use cranelift_codegen::ir::{
    types, Endianness, FuncRef, Function, InstBuilder, MemFlagsData, StackSlotData, StackSlotKind,
    Type, Value,
};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use cranelift_module::{DataId, Module};

use super::{cl_type, Shims};
use crate::error::Error;
use crate::kir::{visit_expr, visit_stmts, BufId, BufKind, Expr, Kernel, MathFn, Program};
use crate::kir::{Scalar, Stmt, VarId};

/// Flags for buffer elements: in bounds (kir's invariant, enforced by the validation kernel),
/// aligned (ABI), little-endian on every target.
pub(super) fn data_flags() -> MemFlagsData {
    MemFlagsData::trusted().with_endianness(Endianness::Little)
}

/// Flags for `vec_loop`'s vector loads and stores: in bounds, but only element-aligned.
fn vec_flags() -> MemFlagsData {
    MemFlagsData::new()
        .with_notrap()
        .with_endianness(Endianness::Little)
}

/// Flags for the ABI's own arrays (`dims`, `lens`, the pointer tables): native-endian,
/// never written while a kernel runs.
fn abi_flags() -> MemFlagsData {
    MemFlagsData::trusted().with_readonly()
}

/// The entry arguments.
#[derive(Clone, Copy)]
pub(super) struct Args {
    pub dims: Value,
    pub inputs: Value,
    pub outputs: Value,
    pub scratch: Value,
    pub lens: Value,
    /// The caller's parallel-for or null, handed to the shim's GEMM kernel.
    pub par: Value,
}

/// State while translating one kernel.
pub(super) struct Cx<'a, 'f> {
    pub b: FunctionBuilder<'f>,
    pub m: &'a mut dyn Module,
    pub p: &'a Program,
    pub k: &'a Kernel,
    shims: &'a mut Shims,
    shim_refs: BTreeMap<(MathFn, Scalar), FuncRef>,
    weights: Option<DataId>,
    weights_base: Option<Value>,
    args: Args,
    vars: Vec<Option<Variable>>,
    dims: Vec<Option<Value>>,
    lens: Vec<Option<Value>>,
    bases: Vec<Option<Value>>,
    /// Variables whose `Let` value is pinned where it is computed (`anchor_lets`).
    anchored: Vec<bool>,
    /// While a `StripLoop`'s last pass is translated: its calls (by address), each with the
    /// address `base` such that the call's value for loop index `k` is the f32 at
    /// `base + 4 k`, and the loop variable.
    strips: Vec<(*const Expr, Value, VarId)>,
}

/// What a kernel reads: dims, lens and buffers, each in ascending order.
#[derive(Default)]
struct Uses {
    dims: BTreeSet<u32>,
    lens: BTreeSet<u32>,
    bufs: BTreeSet<u32>,
}

impl Uses {
    fn expr(&mut self, e: &Expr) {
        visit_expr(e, &mut |x| self.note(x));
    }
    fn note(&mut self, x: &Expr) {
        match x {
            Expr::Dim(s) => {
                self.dims.insert(s.0);
            }
            Expr::Len(i) => {
                self.lens.insert(*i);
            }
            Expr::Load(b, _) => {
                self.bufs.insert(b.0);
            }
            _ => {}
        }
    }
    fn stores(&mut self, body: &[Stmt]) {
        for s in body {
            match s {
                Stmt::Store { buf, .. } => {
                    self.bufs.insert(buf.0);
                }
                Stmt::Loop { body, .. } => self.stores(body),
                Stmt::If { then, els, .. } => {
                    self.stores(then);
                    self.stores(els);
                }
                // The fallback stores to C (and loads A, B): the call uses the same bases.
                Stmt::Gemm { fallback, .. } => self.stores(fallback),
                _ => {}
            }
        }
    }
    fn of(p: &Program, k: &Kernel) -> Uses {
        let mut u = Uses::default();
        visit_stmts(&k.body, &mut |x| u.note(x));
        u.stores(&k.body);
        // Scratch offsets are evaluated with the bases: their dims count as used.
        let bufs: Vec<u32> = u.bufs.iter().copied().collect();
        for b in bufs {
            if let Some(buf) = p.buffers.get(b as usize) {
                if let BufKind::Scratch { offset } = &buf.kind {
                    u.expr(offset);
                }
            }
        }
        u
    }
}

/// Translate kernel `k` into `func` (whose signature is already set).
pub(super) fn translate(
    m: &mut dyn Module,
    p: &Program,
    k: &Kernel,
    func: &mut Function,
    fctx: &mut FunctionBuilderContext,
    weights: Option<DataId>,
    shims: &mut Shims,
) -> Result<(), Error> {
    let config = m.target_config();
    let mut b = FunctionBuilder::new(func, fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    let ps = b.block_params(entry).to_vec();
    let args = Args {
        dims: ps[0],
        inputs: ps[1],
        outputs: ps[2],
        scratch: ps[3],
        lens: ps[4],
        par: ps[5],
    };
    let mut cx = Cx {
        b,
        m,
        p,
        k,
        shims,
        shim_refs: BTreeMap::new(),
        weights,
        weights_base: None,
        args,
        vars: vec![None; k.vars.len()],
        dims: vec![None; p.syms.len()],
        lens: vec![None; p.inputs.len() + p.outputs.len() + 1],
        bases: vec![None; p.buffers.len()],
        anchored: vec![false; k.vars.len()],
        strips: vec![],
    };
    anchor_lets(&k.body, &mut cx.anchored);
    cx.preload()?;
    let done = cx.block(&k.body)?;
    if !done {
        let zero = cx.b.ins().iconst(types::I32, 0);
        cx.b.ins().return_(&[zero]);
    }
    cx.b.seal_all_blocks();
    cx.b.finalize(config);
    Ok(())
}

impl Cx<'_, '_> {
    /// Compute every dim, len and buffer base the kernel uses, in the entry block.
    fn preload(&mut self) -> Result<(), Error> {
        let u = Uses::of(self.p, self.k);
        for d in u.dims {
            self.dim(d);
        }
        for l in u.lens {
            self.len(l);
        }
        for b in u.bufs {
            self.base(BufId(b))?;
        }
        Ok(())
    }

    /// `dims[i]` (native-endian i64), loaded once.
    pub(super) fn dim(&mut self, i: u32) -> Value {
        if let Some(Some(v)) = self.dims.get(i as usize) {
            return *v;
        }
        let v = self
            .b
            .ins()
            .load(types::I64, abi_flags(), self.args.dims, i as i32 * 8);
        if let Some(slot) = self.dims.get_mut(i as usize) {
            *slot = Some(v);
        }
        v
    }

    /// `lens[i]` (native-endian u64, as i64), loaded once.
    pub(super) fn len(&mut self, i: u32) -> Value {
        if let Some(Some(v)) = self.lens.get(i as usize) {
            return *v;
        }
        let v = self
            .b
            .ins()
            .load(types::I64, abi_flags(), self.args.lens, i as i32 * 8);
        if let Some(slot) = self.lens.get_mut(i as usize) {
            *slot = Some(v);
        }
        v
    }

    fn ptr(&self) -> Type {
        self.m.target_config().pointer_type()
    }

    /// Base address of buffer `b`, computed once.
    fn base(&mut self, b: BufId) -> Result<Value, Error> {
        if let Some(Some(v)) = self.bases.get(b.0 as usize) {
            return Ok(*v);
        }
        let ptr = self.ptr();
        let psize = ptr.bytes() as i32;
        let buf = self.p.buffer(b);
        let v = match &buf.kind {
            BufKind::Input(i) => {
                self.b
                    .ins()
                    .load(ptr, abi_flags(), self.args.inputs, *i as i32 * psize)
            }
            BufKind::Output(i) => {
                self.b
                    .ins()
                    .load(ptr, abi_flags(), self.args.outputs, *i as i32 * psize)
            }
            BufKind::Weight { offset } => {
                let w = self.weights_base()?;
                self.b.ins().iadd_imm_s(w, *offset as i64)
            }
            BufKind::Scratch { offset } => {
                let (off, _) = self.expr(offset)?;
                self.b.ins().iadd(self.args.scratch, off)
            }
        };
        self.bases[b.0 as usize] = Some(v);
        Ok(v)
    }

    fn weights_base(&mut self) -> Result<Value, Error> {
        if let Some(v) = self.weights_base {
            return Ok(v);
        }
        let id = self
            .weights
            .ok_or_else(|| Error::Internal("weight buffer without a weight blob".into()))?;
        let gv = self.m.declare_data_in_func(id, self.b.func);
        let ptr = self.ptr();
        let v = self.b.ins().symbol_value(ptr, gv);
        self.weights_base = Some(v);
        Ok(v)
    }

    /// Address of element `idx` (i64) of buffer `b`.
    pub(super) fn addr(&mut self, b: BufId, idx: Value) -> Result<Value, Error> {
        let base = self.base(b)?;
        let size = self.p.buffer(b).elem.size();
        let off = if size == 1 {
            idx
        } else {
            self.b.ins().ishl_imm_u(idx, size.trailing_zeros() as i64)
        };
        Ok(self.b.ins().iadd(base, off))
    }

    /// The Cranelift function for shim `f` on `ty`, imported into this function once.
    pub(super) fn shim(&mut self, f: MathFn, ty: Scalar) -> Result<FuncRef, Error> {
        if let Some(r) = self.shim_refs.get(&(f, ty)) {
            return Ok(*r);
        }
        let id = self.shims.get(self.m, f, ty)?;
        let r = self.m.declare_func_in_func(id, self.b.func);
        self.shim_refs.insert((f, ty), r);
        Ok(r)
    }

    fn var(&mut self, v: crate::kir::VarId) -> Result<Variable, Error> {
        let i = v.0 as usize;
        let ty = *self
            .k
            .vars
            .get(i)
            .ok_or_else(|| Error::Internal(format!("unknown variable v{i}")))?;
        if let Some(var) = self.vars[i] {
            return Ok(var);
        }
        let var = self.b.declare_var(cl_type(ty));
        self.vars[i] = Some(var);
        Ok(var)
    }

    /// The value of variable `v`.
    pub(super) fn use_var(&mut self, v: crate::kir::VarId) -> Result<Value, Error> {
        let var = self.var(v)?;
        Ok(self.b.use_var(var))
    }

    /// Translate a statement list; true if it ended in `Fail` on every path.
    fn block(&mut self, body: &[Stmt]) -> Result<bool, Error> {
        for s in body {
            if self.stmt(s)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// `v = s; while cond(v) { v = body(v) }` for the Cranelift variable `v`: `body` returns
    /// the next value, or `None` when it ended in `Fail` on every path (no back edge then).
    #[allow(clippy::type_complexity)]
    fn emit_loop(
        &mut self,
        v: Variable,
        s: Value,
        cond: &mut dyn FnMut(&mut Self, Value) -> Value,
        body: &mut dyn FnMut(&mut Self, Value) -> Result<Option<Value>, Error>,
    ) -> Result<(), Error> {
        self.b.def_var(v, s);
        let header = self.b.create_block();
        let body_blk = self.b.create_block();
        let exit = self.b.create_block();
        self.b.ins().jump(header, &[]);
        self.b.switch_to_block(header);
        let i = self.b.use_var(v);
        let more = cond(self, i);
        self.b.ins().brif(more, body_blk, &[], exit, &[]);
        self.b.switch_to_block(body_blk);
        self.b.seal_block(body_blk);
        let i = self.b.use_var(v);
        if let Some(next) = body(self, i)? {
            self.b.def_var(v, next);
            self.b.ins().jump(header, &[]);
        }
        self.b.seal_block(header);
        self.b.switch_to_block(exit);
        self.b.seal_block(exit);
        Ok(())
    }

    /// `a < b` (signed).
    fn less(&mut self, a: Value, b: Value) -> Value {
        use cranelift_codegen::ir::condcodes::IntCC;
        self.b.ins().icmp(IntCC::SignedLessThan, a, b)
    }

    /// `for var in s..e { body }`, one iteration at a time.
    fn scalar_loop(
        &mut self,
        var: VarId,
        s: Value,
        e: Value,
        body: &[Stmt],
    ) -> Result<bool, Error> {
        let v = self.var(var)?;
        self.emit_loop(v, s, &mut |cx, i| cx.less(i, e), &mut |cx, i| {
            Ok((!cx.block(body)?).then(|| cx.b.ins().iadd_imm_s(i, 1)))
        })?;
        Ok(false)
    }

    /// The vector of lanes `i..i + lanes` of `e`, a `vec_loop` value over loop variable `k`.
    fn vexpr(&mut self, e: &Expr, k: VarId, i: Value, vty: Type) -> Result<Value, Error> {
        if let Some(base) = self.strip_base(e) {
            let off = self.b.ins().ishl_imm_u(i, 2);
            let a = self.b.ins().iadd(base, off);
            return Ok(self.b.ins().load(vty, vec_flags(), a, 0));
        }
        Ok(match e {
            Expr::Load(x, xi) => {
                let base = unit_index(xi, k)
                    .ok_or_else(|| Error::Internal("vector load off the unit stride".into()))?;
                let (b, _) = self.expr(base)?;
                let idx = self.b.ins().iadd(b, i);
                let a = self.addr(*x, idx)?;
                self.b.ins().load(vty, vec_flags(), a, 0)
            }
            e if invariant(e, k) => {
                let (x, _) = self.expr(e)?;
                self.b.ins().splat(vty, x)
            }
            Expr::Binary(op, a, b) => {
                let x = self.vexpr(a, k, i, vty)?;
                let y = self.vexpr(b, k, i, vty)?;
                let ins = self.b.ins();
                match op {
                    crate::kir::BinOp::Add => ins.fadd(x, y),
                    crate::kir::BinOp::Sub => ins.fsub(x, y),
                    crate::kir::BinOp::Mul => ins.fmul(x, y),
                    crate::kir::BinOp::Div => ins.fdiv(x, y),
                    _ => return Err(Error::Internal(format!("vector {op:?}"))),
                }
            }
            _ => return Err(Error::Internal("not a vector loop value".into())),
        })
    }

    /// The strip base of call `e` (see `strips`), if it is one of a strip's calls.
    fn strip_base(&self, e: &Expr) -> Option<Value> {
        self.strips
            .iter()
            .find(|(c, ..)| std::ptr::eq(*c, e))
            .map(|(_, b, _)| *b)
    }

    /// The f32 value of strip call `e` for the current loop index, if `e` is one.
    pub(super) fn strip_value(&mut self, e: &Expr) -> Result<Option<Value>, Error> {
        let Some(&(_, base, k)) = self.strips.iter().find(|(c, ..)| std::ptr::eq(*c, e)) else {
            return Ok(None);
        };
        let i = self.use_var(k)?;
        let off = self.b.ins().ishl_imm_u(i, 2);
        let a = self.b.ins().iadd(base, off);
        Ok(Some(self.b.ins().load(types::F32, data_flags(), a, 0)))
    }

    /// A `StripLoop` over `var` from `s` to `e` (see there).
    fn strip(&mut self, var: VarId, (s, e): (Value, Value), l: &StripLoop) -> Result<(), Error> {
        let slots: Vec<_> = l
            .calls
            .iter()
            .map(|_| {
                self.b.create_sized_stack_slot(StackSlotData::new(
                    StackSlotKind::ExplicitSlot,
                    4 * STRIP as u32,
                    6,
                ))
            })
            .collect();
        let simd = super::has_simd(self.m.isa());
        let calls: Vec<&Expr> = l.calls.iter().map(|c| c.0).collect();
        let vec_args = simd
            && l.calls
                .iter()
                .map(|c| c.1)
                .all(|a| vec_value(a, var, Scalar::F32, (None, a), &self.p.buffers, &[]));
        let vec_val = simd
            && vec_value(
                l.val,
                var,
                Scalar::F32,
                (Some(l.y), l.idx),
                &self.p.buffers,
                &calls,
            );
        let k0 = self.b.declare_var(types::I64);
        self.emit_loop(k0, s, &mut |cx, k0v| cx.less(k0v, e), &mut |cx, k0v| {
            cx.strip_body(var, (k0v, e), l, &slots, (vec_args, vec_val))
                .map(Some)
        })
    }

    /// One strip of `strip`, from `k0v`: returns where the next one starts.
    fn strip_body(
        &mut self,
        var: VarId,
        (k0v, e): (Value, Value),
        l: &StripLoop,
        slots: &[cranelift_codegen::ir::StackSlot],
        (vec_args, vec_val): (bool, bool),
    ) -> Result<Value, Error> {
        let ptr = self.ptr();
        let args: Vec<&Expr> = l.calls.iter().map(|c| c.1).collect();
        let calls: Vec<&Expr> = l.calls.iter().map(|c| c.0).collect();
        let rem = self.b.ins().isub(e, k0v);
        let cap = self.b.ins().iconst(types::I64, STRIP);
        let len = self.b.ins().smin(rem, cap);
        let k1 = self.b.ins().iadd(k0v, len);
        // base_i + 4 k is element k - k0 of strip i
        let k0x4 = self.b.ins().ishl_imm_u(k0v, 2);
        let mut addrs = vec![];
        let mut bases = vec![];
        for slot in slots {
            let a = self.b.ins().stack_addr(ptr, *slot, 0);
            addrs.push(a);
            bases.push(self.b.ins().isub(a, k0x4));
        }
        // 1: the arguments
        let store_args = |cx: &mut Self, i: Value, vector: bool| -> Result<(), Error> {
            let off = cx.b.ins().ishl_imm_u(i, 2);
            for (a, base) in args.iter().zip(&bases) {
                let x = if vector {
                    cx.vexpr(a, var, i, types::F32X4)?
                } else {
                    cx.expr(a)?.0
                };
                let at = cx.b.ins().iadd(*base, off);
                let flags = if vector { vec_flags() } else { data_flags() };
                cx.b.ins().store(flags, x, at, 0);
            }
            Ok(())
        };
        let mut from = k0v;
        if vec_args {
            from = self.each(var, (k0v, k1), 4, &mut |cx, i| store_args(cx, i, true))?;
        }
        self.each(var, (from, k1), 1, &mut |cx, i| store_args(cx, i, false))?;
        // 2: the vector functions, in place
        for ((_, _, f), a) in l.calls.iter().zip(&addrs) {
            self.vec_call(f, *a, *a, len)?;
        }
        // 3: the values, the calls read from the strips
        self.strips = calls
            .iter()
            .zip(&bases)
            .map(|(c, b)| (*c as *const Expr, *b, var))
            .collect();
        let mut from = k0v;
        if vec_val {
            let y_base = unit_index(l.idx, var)
                .ok_or_else(|| Error::Internal("strip store off the unit stride".into()))?;
            from = self.each(var, (k0v, k1), 4, &mut |cx, i| {
                let x = cx.vexpr(l.val, var, i, types::F32X4)?;
                let (yb, _) = cx.expr(y_base)?;
                let yi = cx.b.ins().iadd(yb, i);
                let ya = cx.addr(l.y, yi)?;
                cx.b.ins().store(vec_flags(), x, ya, 0);
                Ok(())
            })?;
        }
        let r = self.each(var, (from, k1), 1, &mut |cx, _| {
            cx.stmt(l.store).map(|_| ())
        });
        self.strips.clear();
        r?;
        Ok(k1)
    }

    /// Whether a loop over `var` with `body` runs as a shim loop, a strip loop or a vector
    /// loop on this target.
    fn fast_loop(&self, var: VarId, body: &[Stmt]) -> bool {
        let isa = self.m.isa();
        let bufs = &self.p.buffers;
        (super::vector_fns(isa).is_some()
            && (shim_loop(var, body, bufs).is_some()
                || strip_loop(var, body, self.k, bufs).is_some()))
            || (super::has_simd(isa) && vec_loop(var, body, bufs).is_some())
    }

    /// The shim's vector function `f` from `n` values at `px` to `py`.
    fn vec_call(&mut self, f: &VecFn, px: Value, py: Value, n: Value) -> Result<(), Error> {
        let fns = super::vector_fns(self.m.isa())
            .ok_or_else(|| Error::Internal("vector function on a target without them".into()))?;
        let (id, args) = match f {
            VecFn::ExpSub(m) => {
                let m = self.expr(m)?.0;
                (
                    self.shims.vfn(self.m, fns.exp_sub, true)?,
                    vec![px, py, n, m],
                )
            }
            VecFn::Sigmoid => (self.shims.vfn(self.m, fns.sigmoid, false)?, vec![px, py, n]),
            VecFn::Tanh => (self.shims.vfn(self.m, fns.tanh, false)?, vec![px, py, n]),
            VecFn::Erf => (self.shims.vfn(self.m, fns.erf, false)?, vec![px, py, n]),
        };
        let r = self.m.declare_func_in_func(id, self.b.func);
        self.b.ins().call(r, &args);
        Ok(())
    }

    /// `for k in s.. { body(k) }` in steps of `step` while `k + step <= e`, `k` the kir
    /// variable `var` (so expressions read it); returns where it stopped.
    fn each(
        &mut self,
        var: VarId,
        (s, e): (Value, Value),
        step: i64,
        body: &mut dyn FnMut(&mut Self, Value) -> Result<(), Error>,
    ) -> Result<Value, Error> {
        let v = self.var(var)?;
        self.emit_loop(
            v,
            s,
            &mut |cx, i| {
                use cranelift_codegen::ir::condcodes::IntCC;
                let last = cx.b.ins().iadd_imm_s(i, step);
                cx.b.ins().icmp(IntCC::SignedLessThanOrEqual, last, e)
            },
            &mut |cx, i| {
                body(cx, i)?;
                Ok(Some(cx.b.ins().iadd_imm_s(i, step)))
            },
        )?;
        Ok(self.b.use_var(v))
    }

    /// `for var in start..end { body }`: a shim loop, a strip loop or a vector loop where the
    /// target has them and the body is one, else one iteration at a time.
    fn loop_stmt(
        &mut self,
        var: VarId,
        start: &Expr,
        end: &Expr,
        body: &[Stmt],
    ) -> Result<bool, Error> {
        if body.len() > 1 {
            if let Some(flat) = flat_store(body).filter(|f| self.fast_loop(var, f)) {
                // `let v = ..; y[i] = f(v)`: the same loop with the lets written into the
                // store (they are pure), so the vector patterns see one store.
                return self.loop_stmt(var, start, end, &flat);
            }
        }
        let p = self.p;
        let (s, _) = self.expr(start)?;
        let (e, _) = self.expr(end)?;
        if super::vector_fns(self.m.isa()).is_some() {
            if let Some(l) = shim_loop(var, body, &p.buffers) {
                // `y[b + k] = f(x[a + k])` for a `VecFn` f: one call of the shim's vector
                // function (the same bits as the scalar loop, runtime-shim/src/vmath.rs).
                let n = self.b.ins().isub(e, s);
                let xo = self.expr(l.x_base)?.0;
                let xo = self.b.ins().iadd(xo, s);
                let px = self.addr(l.x, xo)?;
                let yo = self.expr(l.y_base)?.0;
                let yo = self.b.ins().iadd(yo, s);
                let py = self.addr(l.y, yo)?;
                self.vec_call(&l.f, px, py, n)?;
                return Ok(false);
            }
            if let Some(l) = strip_loop(var, body, self.k, &p.buffers) {
                self.strip(var, (s, e), &l)?;
                return Ok(false);
            }
        }
        if super::has_simd(self.m.isa()) {
            if let Some(l) = vec_loop(var, body, &p.buffers) {
                // `y[b + k] = f(x[a + k], ...)` (a copy, a fill, or float + - * /): 128-bit
                // vectors while a whole vector fits, then the scalar loop for the rest.
                // Lane for lane the same operations, so the same bits.
                let lanes = 16 / l.elem.size() as i64;
                let vty = cl_type(l.elem)
                    .by(lanes as u32)
                    .ok_or_else(|| Error::Internal(format!("no vector of {}", l.elem)))?;
                let rest = self.each(var, (s, e), lanes, &mut |cx, i| {
                    let x = cx.vexpr(l.val, var, i, vty)?;
                    let (yb, _) = cx.expr(l.y_base)?;
                    let yi = cx.b.ins().iadd(yb, i);
                    let ya = cx.addr(l.y, yi)?;
                    cx.b.ins().store(vec_flags(), x, ya, 0);
                    Ok(())
                })?;
                return self.scalar_loop(var, rest, e, body);
            }
        }
        self.scalar_loop(var, s, e, body)
    }

    fn stmt(&mut self, s: &Stmt) -> Result<bool, Error> {
        match s {
            Stmt::Let(v, e) if self.anchored.get(v.0 as usize) == Some(&true) => {
                // Stored to a stack slot and loaded back: Cranelift's egraph places pure
                // instructions at their uses and, as measured here, recomputes such values in
                // every iteration of the later loops that read them (LayerNorm's mean and
                // 1/sd per element). The load has a side effect, so it stays here.
                let (x, ty) = self.expr(e)?;
                let var = self.var(*v)?;
                let ct = cl_type(ty);
                let slot = self.b.create_sized_stack_slot(StackSlotData::new(
                    StackSlotKind::ExplicitSlot,
                    ct.bytes(),
                    ct.bytes().trailing_zeros() as u8,
                ));
                let ptr = self.m.target_config().pointer_type();
                self.b.ins().stack_store(ptr, x, slot, 0);
                let y = self.b.ins().stack_load(ptr, ct, slot, 0);
                self.b.def_var(var, y);
                Ok(false)
            }
            Stmt::Let(v, e) | Stmt::Set(v, e) => {
                let (x, _) = self.expr(e)?;
                let var = self.var(*v)?;
                self.b.def_var(var, x);
                Ok(false)
            }
            Stmt::Loop {
                var,
                start,
                end,
                body,
            } => self.loop_stmt(*var, start, end, body),
            Stmt::Store { buf, idx, val } => {
                let (i, _) = self.expr(idx)?;
                let (x, _) = self.expr(val)?;
                let a = self.addr(*buf, i)?;
                self.b.ins().store(data_flags(), x, a, 0);
                Ok(false)
            }
            Stmt::If { cond, then, els } => {
                let (c, _) = self.expr(cond)?;
                let then_blk = self.b.create_block();
                let else_blk = self.b.create_block();
                self.b.ins().brif(c, then_blk, &[], else_blk, &[]);
                self.b.seal_block(then_blk);
                self.b.seal_block(else_blk);
                let merge = self.b.create_block();
                self.b.switch_to_block(then_blk);
                let t_done = self.block(then)?;
                if !t_done {
                    self.b.ins().jump(merge, &[]);
                }
                self.b.switch_to_block(else_blk);
                let e_done = self.block(els)?;
                if !e_done {
                    self.b.ins().jump(merge, &[]);
                }
                self.b.seal_block(merge);
                if t_done && e_done {
                    // `merge` has no predecessors; leave it empty (Cranelift drops it).
                    self.b.switch_to_block(merge);
                    let zero = self.b.ins().iconst(types::I32, 0);
                    self.b.ins().return_(&[zero]);
                    return Ok(true);
                }
                self.b.switch_to_block(merge);
                Ok(false)
            }
            Stmt::Fail(st) => {
                let c = self.b.ins().iconst(types::I32, st.code() as i64);
                self.b.ins().return_(&[c]);
                Ok(true)
            }
            Stmt::Gemm { call, fallback } => {
                let Some(symbol) = super::sgemm_kernel(self.m.isa()) else {
                    return self.block(fallback);
                };
                let g = call.as_ref();
                let mut vals = vec![];
                for e in [&g.m, &g.n, &g.k] {
                    vals.push(self.expr(e)?.0);
                }
                let a_off = self.expr(&g.a_off)?.0;
                vals.push(self.addr(g.a, a_off)?);
                vals.push(self.expr(&g.a_rs)?.0);
                vals.push(self.expr(&g.a_cs)?.0);
                let b_off = self.expr(&g.b_off)?.0;
                vals.push(self.addr(g.b, b_off)?);
                vals.push(self.expr(&g.b_rs)?.0);
                vals.push(self.expr(&g.b_cs)?.0);
                let ptr = self.m.target_config().pointer_type();
                match &g.conv {
                    Some(cv) => {
                        // The geometry array in a stack slot of this kernel.
                        let geo = cv.abi();
                        let slot = self.b.create_sized_stack_slot(StackSlotData::new(
                            StackSlotKind::ExplicitSlot,
                            8 * geo.len() as u32,
                            3,
                        ));
                        for (i, v) in geo.iter().enumerate() {
                            let c = self.b.ins().iconst(types::I64, *v);
                            self.b.ins().stack_store(ptr, c, slot, 8 * i as i32);
                        }
                        vals.push(self.b.ins().stack_addr(ptr, slot, 0));
                    }
                    None => vals.push(self.b.ins().iconst(ptr, 0)),
                }
                let c_off = self.expr(&g.c_off)?.0;
                vals.push(self.addr(g.c, c_off)?);
                vals.push(self.expr(&g.c_rs)?.0);
                vals.push(self.b.ins().iconst(types::I32, g.accumulate as i64));
                match &g.bias {
                    Some((buf, off)) => {
                        let off = self.expr(off)?.0;
                        vals.push(self.addr(*buf, off)?);
                    }
                    None => vals.push(self.b.ins().iconst(ptr, 0)),
                }
                match &g.res {
                    Some((buf, off, rs)) => {
                        let off = self.expr(off)?.0;
                        vals.push(self.addr(*buf, off)?);
                        vals.push(self.expr(rs)?.0);
                    }
                    None => {
                        vals.push(self.b.ins().iconst(ptr, 0));
                        vals.push(self.b.ins().iconst(types::I64, 0));
                    }
                }
                vals.push(self.b.ins().f32const(g.lo));
                vals.push(self.b.ins().f32const(g.hi));
                for e in [&g.groups, &g.a_gs, &g.b_gs, &g.c_gs] {
                    vals.push(self.expr(e)?.0);
                }
                vals.push(self.b.ins().iconst(types::I32, g.max as i64));
                vals.push(self.b.ins().iconst(types::I64, g.a_panel));
                vals.push(self.args.par);
                let id = self.shims.sgemm(self.m, symbol)?;
                let r = self.m.declare_func_in_func(id, self.b.func);
                self.b.ins().call(r, &vals);
                Ok(false)
            }
        }
    }
}

/// Marks the variables of `Let`s that compute something (not a plain variable, constant, dim
/// or length) and are read inside a loop that comes later in the same statement list: their
/// values are pinned at the `Let` (see `Stmt::Let` in `Cx::stmt`).
fn anchor_lets(stmts: &[Stmt], out: &mut [bool]) {
    for (i, s) in stmts.iter().enumerate() {
        match s {
            Stmt::Let(v, e) => {
                let trivial = matches!(
                    e,
                    Expr::Var(_) | Expr::Imm(..) | Expr::Dim(_) | Expr::Len(_)
                );
                if !trivial {
                    let mut used = false;
                    for t in &stmts[i + 1..] {
                        if matches!(t, Stmt::Loop { .. } | Stmt::Gemm { .. }) {
                            crate::kir::visit_stmts(std::slice::from_ref(t), &mut |x| {
                                used |= *x == Expr::Var(*v);
                            });
                        }
                    }
                    if let Some(o) = out.get_mut(v.0 as usize) {
                        *o |= used;
                    }
                }
            }
            Stmt::Loop { body, .. } => anchor_lets(body, out),
            Stmt::If { then, els, .. } => {
                anchor_lets(then, out);
                anchor_lets(els, out);
            }
            Stmt::Gemm { fallback, .. } => anchor_lets(fallback, out),
            _ => {}
        }
    }
}

/// What a loop the shim's vector functions run computes per element.
pub(crate) enum VecFn<'a> {
    /// `exp(x - m)`, `m` free of `k` and of loads (`VecFns::exp_sub`).
    ExpSub(&'a Expr),
    /// `1 / (1 + exp(-x))`, kir's Sigmoid (`VecFns::sigmoid`).
    Sigmoid,
    /// `tanh(x)` (`VecFns::tanh`).
    Tanh,
    /// `erf(x)` (`VecFns::erf`).
    Erf,
}

impl VecFn<'_> {
    /// The vector function of a strip's call of `f` (f32), if the shim has one.
    fn of_call(f: MathFn) -> Option<VecFn<'static>> {
        match f {
            MathFn::Exp => Some(VecFn::ExpSub(&ZERO_F32)),
            MathFn::Tanh => Some(VecFn::Tanh),
            MathFn::Erf => Some(VecFn::Erf),
            _ => None,
        }
    }
}

/// A loop `for k { y[b + k] = f(x[a + k]) }` over f32 buffers for a `VecFn` f, with `a` and
/// `b` not reading `k` (nor any buffer: no loads in them), and `x` either another buffer
/// than `y` or the same one at the same index (so the vector call reads every value before
/// it writes it, as the loop does).
pub(crate) struct ShimLoop<'a> {
    pub x: crate::kir::BufId,
    pub x_base: &'a Expr,
    pub y: crate::kir::BufId,
    pub y_base: &'a Expr,
    pub f: VecFn<'a>,
}

static ZERO_I64: Expr = Expr::Imm(Scalar::I64, crate::kir::Lit::Int(0));
/// `x - 0` is `x` for every f32 (also -0 and NaN), so `exp(x) = ExpSub(x, 0)` bit for bit.
static ZERO_F32: Expr = Expr::Imm(Scalar::F32, crate::kir::Lit::Float(0));

/// `e` as `base + Var(k)` (or `Var(k)`, or `Var(k) + base`) with `base` free of `k` and of
/// loads.
fn unit_index(e: &Expr, k: VarId) -> Option<&Expr> {
    match e {
        Expr::Var(v) if *v == k => Some(&ZERO_I64),
        Expr::Binary(crate::kir::BinOp::Add, a, b) => match (&**a, &**b) {
            (base, Expr::Var(v)) | (Expr::Var(v), base) if *v == k && invariant(base, k) => {
                Some(base)
            }
            _ => None,
        },
        _ => None,
    }
}

/// `e` reads neither `k` nor any buffer, and calls nothing.
fn invariant(e: &Expr, k: VarId) -> bool {
    match e {
        Expr::Var(v) => *v != k,
        Expr::Imm(..) | Expr::Dim(_) | Expr::Len(_) => true,
        Expr::Load(..) | Expr::Call(..) => false,
        Expr::Unary(_, a) | Expr::Cast(_, a) | Expr::Bitcast(_, a) => invariant(a, k),
        Expr::Binary(_, a, b) | Expr::Cmp(_, a, b) => invariant(a, k) && invariant(b, k),
        Expr::Fma(a, b, c) | Expr::Select(a, b, c) => {
            invariant(a, k) && invariant(b, k) && invariant(c, k)
        }
    }
}

/// A loop `for k { y[b + k] = v }` that runs as 128-bit vectors: `v` is a load
/// `x[a + k]` of y's element type, a value free of `k` and of loads (a fill), or for f32
/// and f64 an expression of those with `+ - * /` (each lane computes exactly the scalar
/// operation). A loaded buffer is another than `y` or `y` at the same index, so the vector
/// code reads every value before it writes it, as the loop does.
pub(super) struct VecLoop<'a> {
    pub y: BufId,
    pub y_base: &'a Expr,
    pub val: &'a Expr,
    pub elem: Scalar,
}

pub(super) fn vec_loop<'a>(
    k: VarId,
    body: &'a [Stmt],
    bufs: &[crate::kir::Buffer],
) -> Option<VecLoop<'a>> {
    let [Stmt::Store { buf: y, idx, val }] = body else {
        return None;
    };
    let elem = bufs.get(y.0 as usize)?.elem;
    if !matches!(elem.size(), 1 | 2 | 4 | 8) {
        return None;
    }
    let y_base = unit_index(idx, k)?;
    if !vec_value(val, k, elem, (Some(*y), idx), bufs, &[]) {
        return None;
    }
    Some(VecLoop {
        y: *y,
        y_base,
        val,
        elem,
    })
}

/// Whether `Cx::vexpr` computes `e` for lanes `k..k + n`, in a loop over `k` that stores
/// to `y` at `idx` (`None`: to memory no buffer reads): `e` is a load `x[a + k]` of the
/// element type `elem`, a value free of `k` and of loads, a call in `strips` (read from its
/// strip), or for f32 and f64 an expression of those with `+ - * /` (each lane computes
/// exactly the scalar operation). A loaded buffer is another than `y` or `y` at the same
/// index, so the vector code reads every value before it writes it, as the loop does.
fn vec_value(
    e: &Expr,
    k: VarId,
    elem: Scalar,
    (y, idx): (Option<BufId>, &Expr),
    bufs: &[crate::kir::Buffer],
    strips: &[&Expr],
) -> bool {
    use crate::kir::BinOp;
    if strips.iter().any(|c| std::ptr::eq(*c, e)) {
        return true;
    }
    match e {
        Expr::Load(x, xi) => {
            bufs.get(x.0 as usize).is_some_and(|b| b.elem == elem)
                && unit_index(xi, k).is_some()
                && (Some(*x) != y || **xi == *idx)
        }
        e if invariant(e, k) => true,
        Expr::Binary(BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div, a, b)
            if matches!(elem, Scalar::F32 | Scalar::F64) =>
        {
            vec_value(a, k, elem, (y, idx), bufs, strips)
                && vec_value(b, k, elem, (y, idx), bufs, strips)
        }
        _ => false,
    }
}

/// A loop `for k { y[b + k] = v }` over an f32 buffer whose value `v` calls exp, tanh or erf
/// or computes kir's Sigmoid (`vec_fn_of`; f32) on arguments that call nothing: on targets
/// with `VecFns` it runs in strips of
/// `STRIP` values, each strip in three passes: the calls' arguments into stack arrays, one
/// vector call per array (runtime-shim/src/vmath.rs), then `v` with the calls'
/// results read from the arrays. Each value is computed by the same operations as in the
/// loop, so the bits are the same. Passes reorder reads and writes across iterations, so
/// every load of `y` in `v` is at the store's own index (unit stride, so no iteration reads
/// what another writes), as for `vec_loop`.
pub(super) struct StripLoop<'a> {
    pub store: &'a Stmt,
    pub y: BufId,
    pub idx: &'a Expr,
    pub val: &'a Expr,
    /// The calls run as vector functions (by address in `val`) with their functions.
    pub calls: Vec<(&'a Expr, &'a Expr, VecFn<'static>)>,
}

/// Values per strip of a `StripLoop` (4 KiB of stack per call).
pub(super) const STRIP: i64 = 1024;

/// The `StripLoop` `body` (the body of a loop over `k` in `kernel`) is, if any.
pub(super) fn strip_loop<'a>(
    k: VarId,
    body: &'a [Stmt],
    kernel: &Kernel,
    bufs: &[crate::kir::Buffer],
) -> Option<StripLoop<'a>> {
    let [store @ Stmt::Store { buf: y, idx, val }] = body else {
        return None;
    };
    if bufs.get(y.0 as usize)?.elem != Scalar::F32 {
        return None;
    }
    unit_index(idx, k)?;
    let mut y_elsewhere = false;
    visit_expr(val, &mut |e| {
        y_elsewhere |= matches!(e, Expr::Load(b, i) if b == y && **i != *idx);
    });
    let mut calls = vec![];
    strip_calls(val, kernel, bufs, &mut calls);
    if y_elsewhere || calls.is_empty() {
        return None;
    }
    Some(StripLoop {
        store,
        y: *y,
        idx,
        val,
        calls,
    })
}

/// The vector function `e` computes on an f32 argument, with the argument: a call of exp,
/// tanh or erf, or kir's Sigmoid `1 / (1 + exp(-a))`.
fn vec_fn_of(e: &Expr) -> Option<(&Expr, VecFn<'static>)> {
    use crate::kir::{BinOp, UnOp};
    let one = |e: &Expr| matches!(e, Expr::Imm(Scalar::F32, l) if l.as_f64() == 1.0);
    match e {
        Expr::Call(f, args) => match &args[..] {
            [a] => Some((a, VecFn::of_call(*f)?)),
            _ => None,
        },
        Expr::Binary(BinOp::Div, n, d) if one(n) => {
            let Expr::Binary(BinOp::Add, d1, e) = &**d else {
                return None;
            };
            let Expr::Call(MathFn::Exp, args) = &**e else {
                return None;
            };
            let [Expr::Unary(UnOp::Neg, a)] = &args[..] else {
                return None;
            };
            one(d1).then_some((&**a, VecFn::Sigmoid))
        }
        _ => None,
    }
}

/// The outermost subexpressions of `e` that a vector function computes from an f32
/// argument that calls nothing (`vec_fn_of`): (node, argument, function).
fn strip_calls<'a>(
    e: &'a Expr,
    kernel: &Kernel,
    bufs: &[crate::kir::Buffer],
    out: &mut Vec<(&'a Expr, &'a Expr, VecFn<'static>)>,
) {
    if let Some((a, f)) = vec_fn_of(e) {
        let mut nested = false;
        visit_expr(a, &mut |x| nested |= matches!(x, Expr::Call(..)));
        if !nested && crate::kir::verify::type_of(&kernel.vars, bufs, a) == Ok(Scalar::F32) {
            out.push((e, a, f));
            return;
        }
    }
    match e {
        Expr::Imm(..) | Expr::Var(_) | Expr::Dim(_) | Expr::Len(_) => {}
        Expr::Load(_, a) | Expr::Unary(_, a) | Expr::Cast(_, a) | Expr::Bitcast(_, a) => {
            strip_calls(a, kernel, bufs, out)
        }
        Expr::Binary(_, a, b) | Expr::Cmp(_, a, b) => {
            strip_calls(a, kernel, bufs, out);
            strip_calls(b, kernel, bufs, out);
        }
        Expr::Fma(a, b, c) | Expr::Select(a, b, c) => {
            for x in [a, b, c] {
                strip_calls(x, kernel, bufs, out);
            }
        }
        Expr::Call(_, args) => {
            for a in args {
                strip_calls(a, kernel, bufs, out);
            }
        }
    }
}

/// A loop body `let v1 = e1; ...; let vn = en; y[i] = x` as the one store with every `vj`
/// replaced by its value (the lets are pure, so the store computes the same values).
fn flat_store(body: &[Stmt]) -> Option<Vec<Stmt>> {
    let (Stmt::Store { buf, idx, val }, lets) = body.split_last()? else {
        return None;
    };
    let mut env: Vec<(VarId, Expr)> = vec![];
    for s in lets {
        let Stmt::Let(v, e) = s else {
            return None;
        };
        let e = with_vars(e, &env);
        env.push((*v, e));
    }
    Some(vec![Stmt::Store {
        buf: *buf,
        idx: with_vars(idx, &env),
        val: with_vars(val, &env),
    }])
}

/// `e` with the variables of `env` replaced by their values.
fn with_vars(e: &Expr, env: &[(VarId, Expr)]) -> Expr {
    let w = |a: &Expr| Box::new(with_vars(a, env));
    match e {
        Expr::Var(v) => match env.iter().rev().find(|(u, _)| u == v) {
            Some((_, x)) => x.clone(),
            None => e.clone(),
        },
        Expr::Imm(..) | Expr::Dim(_) | Expr::Len(_) => e.clone(),
        Expr::Load(b, i) => Expr::Load(*b, w(i)),
        Expr::Unary(op, a) => Expr::Unary(*op, w(a)),
        Expr::Cast(t, a) => Expr::Cast(*t, w(a)),
        Expr::Bitcast(t, a) => Expr::Bitcast(*t, w(a)),
        Expr::Binary(op, a, b) => Expr::Binary(*op, w(a), w(b)),
        Expr::Cmp(op, a, b) => Expr::Cmp(*op, w(a), w(b)),
        Expr::Fma(a, b, c) => Expr::Fma(w(a), w(b), w(c)),
        Expr::Select(a, b, c) => Expr::Select(w(a), w(b), w(c)),
        Expr::Call(f, args) => Expr::Call(*f, args.iter().map(|a| with_vars(a, env)).collect()),
    }
}

/// The `ShimLoop` `body` (the body of a loop over `k`) is, if any.
pub(crate) fn shim_loop<'a>(
    k: VarId,
    body: &'a [Stmt],
    bufs: &[crate::kir::Buffer],
) -> Option<ShimLoop<'a>> {
    use crate::kir::BinOp;
    let [Stmt::Store { buf: y, idx, val }] = body else {
        return None;
    };
    let (xl, f) = match val {
        Expr::Call(MathFn::Exp, args) => {
            let [Expr::Binary(BinOp::Sub, xl, m)] = &args[..] else {
                return None;
            };
            if !invariant(m, k) {
                return None;
            }
            (&**xl, VecFn::ExpSub(m))
        }
        _ => vec_fn_of(val)?,
    };
    let Expr::Load(x, xi) = xl else {
        return None;
    };
    let f32_buf = |b: crate::kir::BufId| {
        bufs.get(b.0 as usize)
            .is_some_and(|b| b.elem == Scalar::F32)
    };
    if !f32_buf(*x) || !f32_buf(*y) {
        return None;
    }
    let x_base = unit_index(xi, k)?;
    let y_base = unit_index(idx, k)?;
    if x == y && **xi != *idx {
        return None;
    }
    Some(ShimLoop {
        x: *x,
        x_base,
        y: *y,
        y_base,
        f,
    })
}
