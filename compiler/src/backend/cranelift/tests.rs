//! Tests of the Cranelift backend: programs built by hand, run through `kir::interp` (the
//! oracle) and the JIT, compared bit for bit; object emission for every supported object
//! format; refusal of unsupported targets; determinism. Operator coverage is in
//! `tests_ops.rs`, which uses the helpers here.

use kiln_targets::Target;

use super::jit::JitProgram;
use super::object::emit_object;
use crate::kir::build::{self, KernelBuilder};
use crate::kir::interp::{self, Memory, V};
use crate::kir::*;

/// Builds a `Program` for tests: kernel 0 is the validation kernel (empty unless set).
pub(super) struct Prog {
    pub p: Program,
    validation: Option<Kernel>,
}

impl Prog {
    pub fn new(name: &str) -> Prog {
        Prog {
            p: Program {
                name: name.into(),
                syms: vec![],
                buffers: vec![],
                kernels: vec![],
                weights: vec![],
                scratch_len: Expr::i64(0),
                inputs: vec![],
                outputs: vec![],
                strings: Default::default(),
                scratch_guard: 0,
            },
            validation: None,
        }
    }
    pub fn sym(&mut self, name: &str, max: i64) -> Expr {
        self.p.syms.push(SymInfo {
            name: name.into(),
            max,
        });
        Expr::Dim(SymId(self.p.syms.len() as u32 - 1))
    }
    fn buffer(&mut self, elem: Scalar, len: Expr, kind: BufKind) -> BufId {
        self.p.buffers.push(Buffer {
            name: format!("b{}", self.p.buffers.len()),
            elem,
            len,
            kind,
        });
        BufId(self.p.buffers.len() as u32 - 1)
    }
    pub fn input(&mut self, elem: Scalar, len: Expr) -> BufId {
        let i = self.p.inputs.len() as u32;
        let b = self.buffer(elem, len.clone(), BufKind::Input(i));
        self.p.inputs.push(IoInfo {
            name: format!("in{i}"),
            elem,
            buf: b,
            shape: vec![],
            len,
        });
        b
    }
    pub fn output(&mut self, elem: Scalar, len: Expr) -> BufId {
        let i = self.p.outputs.len() as u32;
        let b = self.buffer(elem, len.clone(), BufKind::Output(i));
        self.p.outputs.push(IoInfo {
            name: format!("out{i}"),
            elem,
            buf: b,
            shape: vec![],
            len,
        });
        b
    }
    /// A weight buffer holding `bytes` (appended at the next 64-byte boundary).
    pub fn weight(&mut self, elem: Scalar, bytes: &[u8]) -> BufId {
        let off = self.p.weights.len().div_ceil(64) * 64;
        self.p.weights.resize(off, 0);
        self.p.weights.extend_from_slice(bytes);
        let n = (bytes.len() / elem.size()) as i64;
        self.buffer(elem, Expr::i64(n), BufKind::Weight { offset: off as u64 })
    }
    pub fn scratch(&mut self, elem: Scalar, len: Expr, offset: Expr) -> BufId {
        self.buffer(elem, len, BufKind::Scratch { offset })
    }
    pub fn validation(&mut self, kb: KernelBuilder) {
        self.validation = Some(kb.finish("validate"));
    }
    pub fn kernel(&mut self, kb: KernelBuilder) {
        let n = self.p.kernels.len();
        self.p.kernels.push(kb.finish(format!("k{n}")));
    }
    pub fn finish(mut self, scratch_len: Expr) -> Program {
        let v = self
            .validation
            .take()
            .unwrap_or_else(|| KernelBuilder::new().finish("validate"));
        self.p.kernels.insert(0, v);
        self.p.scratch_len = scratch_len;
        verify::verify(&self.p).unwrap_or_else(|e| panic!("test program invalid: {e}"));
        self.p
    }
}

/// What a run produced.
#[derive(Debug, PartialEq)]
pub(super) struct Outcome {
    pub status: i32,
    pub outputs: Vec<Vec<u8>>,
    pub scratch: Vec<u8>,
}

/// Byte pattern outputs start with, so untouched bytes are compared too.
const FILL: u8 = 0xA5;

pub(super) fn lens_for(
    p: &Program,
    inputs: &[Vec<u8>],
    out_elems: &[usize],
    scratch: usize,
) -> Vec<u64> {
    // A case with the wrong number of buffers would make both runs fail the same way (or
    // zip away a buffer), so it is a harness error, not a result.
    assert_eq!(inputs.len(), p.inputs.len(), "{}: input buffers", p.name);
    assert_eq!(
        out_elems.len(),
        p.outputs.len(),
        "{}: output lengths",
        p.name
    );
    let mut lens: Vec<u64> = inputs
        .iter()
        .zip(&p.inputs)
        .map(|(x, io)| (x.len() / io.elem.size()) as u64)
        .collect();
    lens.extend(out_elems.iter().map(|n| *n as u64));
    lens.push(scratch as u64);
    lens
}

pub(super) fn run_interp(
    p: &Program,
    dims: &[i64],
    inputs: &[Vec<u8>],
    out_elems: &[usize],
    scratch: usize,
) -> Outcome {
    let lens = lens_for(p, inputs, out_elems, scratch);
    let mut outs: Vec<Vec<u8>> = out_elems
        .iter()
        .zip(&p.outputs)
        .map(|(n, io)| vec![FILL; n * io.elem.size()])
        .collect();
    let mut sc = vec![FILL; scratch];
    let mut mem = Memory {
        inputs: inputs.iter().map(|x| x.as_slice()).collect(),
        outputs: outs.iter_mut().map(|x| x.as_mut_slice()).collect(),
        scratch: &mut sc,
    };
    let st = interp::run(p, dims, &lens, &mut mem).unwrap_or_else(|f| panic!("{f}"));
    drop(mem);
    Outcome {
        status: st.code(),
        outputs: outs,
        scratch: sc,
    }
}

pub(super) fn run_jit_on(
    j: &JitProgram,
    dims: &[i64],
    inputs: &[Vec<u8>],
    out_elems: &[usize],
    scratch: usize,
) -> Outcome {
    let p = j.program();
    let lens = lens_for(p, inputs, out_elems, scratch);
    let mut outs: Vec<Vec<u8>> = out_elems
        .iter()
        .zip(&p.outputs)
        .map(|(n, io)| vec![FILL; n * io.elem.size()])
        .collect();
    let mut sc = vec![FILL; scratch];
    let ins: Vec<&[u8]> = inputs.iter().map(|x| x.as_slice()).collect();
    let mut o: Vec<&mut [u8]> = outs.iter_mut().map(|x| x.as_mut_slice()).collect();
    let status = j.run(dims, &ins, &mut o, &mut sc, &lens);
    Outcome {
        status,
        outputs: outs,
        scratch: sc,
    }
}

/// Describe the first difference between two outcomes (element-wise, with types).
/// Equal status and scratch, outputs equal up to NaN payloads (`Scalar::same_up_to_nan`).
fn same(p: &Program, a: &Outcome, b: &Outcome) -> bool {
    a.status == b.status
        && a.scratch == b.scratch
        && a.outputs.len() == b.outputs.len()
        && (a.outputs.iter().zip(&b.outputs))
            .zip(&p.outputs)
            .all(|((x, y), o)| o.elem.same_up_to_nan(x, y))
}

fn diff(p: &Program, a: &Outcome, b: &Outcome, what: &str) -> String {
    if a.status != b.status {
        return format!("{what}: status interp={} jit={}", a.status, b.status);
    }
    for (i, (x, y)) in a.outputs.iter().zip(&b.outputs).enumerate() {
        let t = p.outputs[i].elem;
        if !t.same_up_to_nan(x, y) {
            let n = t.size();
            for e in 0..x.len() / n {
                let (vx, vy) = (&x[e * n..(e + 1) * n], &y[e * n..(e + 1) * n]);
                if !t.same_up_to_nan(vx, vy) {
                    return format!(
                        "{what}: output {i} ({t}) element {e}: interp={:?} jit={:?}",
                        interp::read(t, vx),
                        interp::read(t, vy)
                    );
                }
            }
        }
    }
    format!("{what}: scratch differs")
}

/// The targets the JIT is tested with: the host with all its features and, on x86_64 Linux,
/// the baseline and x86_64-v2 levels (libcalls for rounding and fma, no SSE4.1).
pub(super) fn jit_targets() -> Vec<Target> {
    let host = Target::host();
    let mut out = vec![host.clone()];
    for name in ["x86_64-unknown-linux-gnu", "x86_64-v2", "x86_64-v3"] {
        if let Ok(t) = Target::parse(name) {
            if t.triple == host.triple && t.features.iter().all(|f| host.has_feature(f)) {
                out.push(t);
            }
        }
    }
    out
}

/// Run `p` in the interpreter and the JIT (for every `jit_targets()`); assert identical
/// status, outputs and scratch.
pub(super) fn check(
    p: &Program,
    dims: &[i64],
    inputs: &[Vec<u8>],
    out_elems: &[usize],
    scratch: usize,
    what: &str,
) -> Outcome {
    let a = run_interp(p, dims, inputs, out_elems, scratch);
    for t in jit_targets() {
        let what = format!("{what} [jit {}]", t.name);
        let j = JitProgram::with_target(p, &t).unwrap_or_else(|e| panic!("{what}: {e}"));
        let b = run_jit_on(&j, dims, inputs, out_elems, scratch);
        assert!(same(p, &a, &b), "{}", diff(p, &a, &b, &what));
    }
    a
}

/// Little-endian bytes of `vals`.
pub(super) fn enc(vals: &[V]) -> Vec<u8> {
    let mut out = vec![];
    for v in vals {
        let mut b = [0u8; 8];
        interp::write(*v, &mut b);
        out.extend_from_slice(&b[..v.t.size()]);
    }
    out
}

pub(super) fn dec(t: Scalar, bytes: &[u8]) -> Vec<V> {
    bytes.chunks(t.size()).map(|c| interp::read(t, c)).collect()
}

fn f32s(v: &[f32]) -> Vec<u8> {
    enc(&v.iter().map(|x| V::f32(*x)).collect::<Vec<_>>())
}

fn i64s(v: &[i64]) -> Vec<u8> {
    enc(&v.iter().map(|x| V::i64(*x)).collect::<Vec<_>>())
}

fn load(b: BufId, i: Expr) -> Expr {
    build::load(b, i)
}

/// Row sums and maxima over a symbolic n×m matrix, with nested loops, Let/Set, If/else,
/// Select, Len and a scratch buffer whose offset depends on a dim.
pub(super) fn matrix_program() -> Program {
    let mut pb = Prog::new("mat");
    let n = pb.sym("n", 100);
    let m = pb.sym("m", 100);
    let nm = build::mul(n.clone(), m.clone());
    let x = pb.input(Scalar::F32, nm.clone());
    let sums = pb.output(Scalar::F32, n.clone());
    let maxes = pb.output(Scalar::F32, n.clone());
    let info = pb.output(Scalar::I64, Expr::i64(4));
    let off = build::mul(n.clone(), Expr::i64(64));
    let sc = pb.scratch(Scalar::F32, n.clone(), off.clone());
    // Kernel 1: row sums into scratch; positives counted.
    let mut kb = KernelBuilder::new();
    let count = kb.let_mut(Scalar::I64, Expr::i64(0));
    kb.loop_(Expr::i64(0), n.clone(), |kb, i| {
        let acc = kb.let_mut(Scalar::F32, Expr::imm(Scalar::F32, 0.0));
        let mx = kb.let_mut(Scalar::F32, Expr::imm(Scalar::F32, f64::NEG_INFINITY));
        kb.loop_(Expr::i64(0), m.clone(), |kb, j| {
            let idx = build::add(build::mul(i.clone(), m.clone()), j);
            let v = kb.let_(Scalar::F32, load(x, idx));
            kb.set(acc, build::binary(BinOp::Add, Expr::Var(acc), v.clone()));
            kb.if_(
                build::cmp(CmpOp::Gt, v.clone(), Expr::Var(mx)),
                |kb| kb.set(mx, v.clone()),
                |_| {},
            );
            kb.if_(
                build::cmp(CmpOp::Gt, v.clone(), Expr::imm(Scalar::F32, 0.0)),
                |kb| kb.set(count, build::add(Expr::Var(count), Expr::i64(1))),
                |kb| kb.set(count, Expr::Var(count)),
            );
        });
        kb.store(sc, i.clone(), Expr::Var(acc));
        kb.store(maxes, i, Expr::Var(mx));
    });
    kb.store(info, Expr::i64(0), Expr::Var(count));
    kb.store(info, Expr::i64(1), Expr::Len(0));
    kb.store(info, Expr::i64(2), Expr::Len(3));
    kb.store(
        info,
        Expr::i64(3),
        build::select(
            build::cmp(CmpOp::Ge, n.clone(), m.clone()),
            n.clone(),
            m.clone(),
        ),
    );
    pb.kernel(kb);
    // Kernel 2: scratch to output, reversed.
    let mut kb = KernelBuilder::new();
    kb.loop_(Expr::i64(0), n.clone(), |kb, i| {
        let r = build::sub(build::sub(n.clone(), Expr::i64(1)), i.clone());
        kb.store(sums, r, load(sc, i));
    });
    pb.kernel(kb);
    let scratch_len = build::add(off, build::mul(n, Expr::i64(4)));
    pb.finish(scratch_len)
}

#[test]
fn loops_with_symbolic_bounds() {
    let p = matrix_program();
    for (n, m) in [(0i64, 0i64), (1, 1), (3, 5), (7, 2), (4, 0), (0, 9)] {
        let vals: Vec<f32> = (0..n * m)
            .map(|k| ((k * 37 % 11) as f32 - 5.0) * 0.75)
            .collect();
        let scratch = (n * 64 + n * 4) as usize + 64;
        let o = check(
            &p,
            &[n, m],
            &[f32s(&vals)],
            &[n as usize, n as usize, 4],
            scratch,
            &format!("matrix {n}x{m}"),
        );
        assert_eq!(o.status, 0);
        let sums = dec(Scalar::F32, &o.outputs[0]);
        for r in 0..n as usize {
            let want: f32 = (0..m as usize).map(|c| vals[r * m as usize + c]).sum();
            assert_eq!(sums[n as usize - 1 - r].as_f32(), want);
        }
    }
}

/// Kernel 0 validates dims; later kernels fail in various positions.
pub(super) fn failing_program() -> Program {
    let mut pb = Prog::new("failing");
    let n = pb.sym("n", 1000);
    let x = pb.input(Scalar::I32, n.clone());
    let y = pb.output(Scalar::I32, n.clone());
    let flag = pb.output(Scalar::U8, Expr::i64(1));
    let mut v = KernelBuilder::new();
    v.if_(
        build::cmp(CmpOp::Gt, n.clone(), Expr::i64(50)),
        |kb| kb.fail(Status::BadDim),
        |_| {},
    );
    v.if_(
        build::cmp(CmpOp::Lt, Expr::Len(0), n.clone()),
        |kb| kb.fail(Status::BadLength),
        |_| {},
    );
    pb.validation(v);
    // Kernel 1: copy, failing with BadIndex on a negative element and BadValue above 500
    // (through an If whose arms both fail; the statements after a Fail are unreachable).
    let mut kb = KernelBuilder::new();
    kb.loop_(Expr::i64(0), n.clone(), |kb, i| {
        let v = kb.let_(Scalar::I32, load(x, i.clone()));
        kb.if_(
            build::cmp(CmpOp::Lt, v.clone(), Expr::imm(Scalar::I32, 0.0)),
            |kb| {
                kb.fail(Status::BadIndex);
                kb.store(y, i.clone(), Expr::imm(Scalar::I32, 99.0));
            },
            |kb| {
                kb.if_(
                    build::cmp(CmpOp::Gt, v.clone(), Expr::imm(Scalar::I32, 500.0)),
                    |kb| {
                        kb.if_(
                            build::cmp(CmpOp::Eq, v.clone(), Expr::imm(Scalar::I32, 1000.0)),
                            |kb| kb.fail(Status::BadValue),
                            |kb| kb.fail(Status::BadValue),
                        );
                        kb.store(y, i.clone(), Expr::imm(Scalar::I32, 98.0));
                    },
                    |kb| kb.store(y, i.clone(), v.clone()),
                );
            },
        );
    });
    kb.store(flag, Expr::i64(0), Expr::imm(Scalar::U8, 1.0));
    pb.kernel(kb);
    // Kernel 2: overwrites the flag, then fails if n > 0; only runs when kernel 1 succeeded.
    let mut kb = KernelBuilder::new();
    kb.store(flag, Expr::i64(0), Expr::imm(Scalar::U8, 2.0));
    kb.loop_(Expr::i64(0), n.clone(), |kb, _| kb.fail(Status::BadIndex));
    pb.kernel(kb);
    pb.finish(Expr::i64(0))
}

#[test]
fn fail_statuses() {
    let p = failing_program();
    let data = |v: &[i32]| {
        enc(&v
            .iter()
            .map(|x| V::wrap(Scalar::I32, *x as i128))
            .collect::<Vec<_>>())
    };
    // (n, data, status, flag)
    let cases: &[(i64, &[i32], i32, u8)] = &[
        (0, &[], 0, 2),
        (3, &[5, -1, 2], 3, FILL),
        (2, &[5, 600], 4, FILL),
        (2, &[1000, 600], 4, FILL),
        (2, &[1, 2], 3, 2),
        (60, &[0; 60], 1, FILL),
    ];
    for (n, v, want, flag) in cases {
        let what = format!("fail {v:?}");
        let o = check(&p, &[*n], &[data(v)], &[*n as usize, 1], 0, &what);
        assert_eq!(o.status, *want, "{what}");
        assert_eq!(o.outputs[1], vec![*flag], "{what}");
    }
    // Validation of lengths by the program itself: Len(0) < n.
    let o = check(&p, &[3], &[data(&[1, 2])], &[3, 1], 0, "short len");
    assert_eq!(o.status, 2);
}

/// Weights of three types (one Bool), two scratch buffers, two kernels.
pub(super) fn weights_program() -> Program {
    let mut pb = Prog::new("wts");
    let wf: Vec<f32> = vec![1.5, -2.25, f32::NAN, f32::INFINITY, -0.0, 3.0];
    let w1 = pb.weight(Scalar::F32, &f32s(&wf));
    let wb: Vec<u8> = vec![1, 0, 1, 1, 0];
    let w2 = pb.weight(Scalar::Bool, &wb);
    let wi = pb.weight(
        Scalar::I16,
        &enc(&[V::wrap(Scalar::I16, -300), V::wrap(Scalar::I16, 7)]),
    );
    let s1 = pb.scratch(Scalar::F64, Expr::i64(6), Expr::i64(0));
    let s2 = pb.scratch(Scalar::U16, Expr::i64(2), Expr::i64(64));
    let o1 = pb.output(Scalar::F64, Expr::i64(6));
    let o2 = pb.output(Scalar::Bool, Expr::i64(5));
    let o3 = pb.output(Scalar::I32, Expr::i64(2));
    let mut kb = KernelBuilder::new();
    kb.loop_(Expr::i64(0), Expr::i64(6), |kb, i| {
        kb.store(s1, i.clone(), build::cast(Scalar::F64, load(w1, i)));
    });
    kb.loop_(Expr::i64(0), Expr::i64(2), |kb, i| {
        kb.store(s2, i.clone(), build::cast(Scalar::U16, load(wi, i)));
    });
    pb.kernel(kb);
    let mut kb = KernelBuilder::new();
    kb.loop_(Expr::i64(0), Expr::i64(6), |kb, i| {
        kb.store(o1, i.clone(), load(s1, i));
    });
    kb.loop_(Expr::i64(0), Expr::i64(5), |kb, i| {
        kb.store(o2, i.clone(), build::unary(UnOp::Not, load(w2, i)));
    });
    kb.loop_(Expr::i64(0), Expr::i64(2), |kb, i| {
        kb.store(o3, i.clone(), build::cast(Scalar::I32, load(s2, i)));
    });
    pb.kernel(kb);
    pb.finish(Expr::i64(128))
}

#[test]
fn weights_and_scratch() {
    let p = weights_program();
    assert_eq!(p.weights.len(), 128 + 4);
    let o = check(&p, &[], &[], &[6, 5, 2], 128, "weights");
    assert_eq!(o.status, 0);
    assert_eq!(o.outputs[1], vec![0, 1, 0, 0, 1]);
    assert_eq!(
        dec(Scalar::I32, &o.outputs[2])
            .iter()
            .map(|v| v.as_i64())
            .collect::<Vec<_>>(),
        vec![65236, 7]
    );
}

#[test]
fn first_nonzero_status_wins() {
    let mut pb = Prog::new("order");
    let out = pb.output(Scalar::I64, Expr::i64(1));
    let mut kb = KernelBuilder::new();
    kb.store(out, Expr::i64(0), Expr::i64(1));
    pb.kernel(kb);
    let mut kb = KernelBuilder::new();
    kb.fail(Status::BadValue);
    pb.kernel(kb);
    let mut kb = KernelBuilder::new();
    kb.store(out, Expr::i64(0), Expr::i64(3));
    kb.fail(Status::BadIndex);
    pb.kernel(kb);
    let p = pb.finish(Expr::i64(0));
    let o = check(&p, &[], &[], &[1], 0, "order");
    assert_eq!(o.status, 4);
    assert_eq!(o.outputs[0], i64s(&[1]));
}

#[test]
fn jit_run_checks_arguments() {
    let p = matrix_program();
    let j = JitProgram::new(&p).unwrap();
    let (n, m) = (3i64, 4i64);
    let x = f32s(&(0..12).map(|k| k as f32).collect::<Vec<_>>());
    let mut o0 = vec![0u8; 12];
    let mut o1 = vec![0u8; 12];
    let mut o2 = vec![0u8; 32];
    let mut sc = vec![0u8; 256];
    let good_lens = [12u64, 3, 3, 4, 204];
    let mut run = |dims: &[i64], ins: &[&[u8]], lens: &[u64], sc: &mut [u8]| {
        let mut outs: Vec<&mut [u8]> = vec![&mut o0, &mut o1, &mut o2];
        j.run(dims, ins, &mut outs, sc, lens)
    };
    assert_eq!(run(&[n, m], &[&x], &good_lens, &mut sc), 0);
    // Wrong input count, short input, lying lens, short scratch, bad dims.
    assert_eq!(run(&[n, m], &[], &good_lens, &mut sc), 2);
    assert_eq!(run(&[n, m], &[&x[..40]], &good_lens, &mut sc), 2);
    assert_eq!(run(&[n, m], &[&x], &[13, 3, 3, 4, 204], &mut sc), 2);
    assert_eq!(run(&[n, m], &[&x], &[12, 3, 3, 4], &mut sc), 2);
    assert_eq!(run(&[n, m], &[&x], &good_lens, &mut sc[..100]), 2);
    assert_eq!(run(&[n, m], &[&x], &[12, 3, 3, 4, 1000], &mut sc), 2);
    assert_eq!(run(&[4, m], &[&x], &good_lens, &mut sc), 2);
    assert_eq!(run(&[-1, m], &[&x], &good_lens, &mut sc), 1);
    assert_eq!(run(&[n, 101], &[&x], &good_lens, &mut sc), 1);
    assert_eq!(run(&[n], &[&x], &good_lens, &mut sc), 1);
}

#[test]
fn jit_copes_with_misaligned_buffers() {
    let p = matrix_program();
    let j = JitProgram::new(&p).unwrap();
    let vals: Vec<f32> = (0..6).map(|k| k as f32 * 1.25 - 2.0).collect();
    let x = f32s(&vals);
    let want = run_interp(&p, &[2, 3], std::slice::from_ref(&x), &[2, 2, 4], 136);
    // Misalign every buffer by one byte inside larger allocations.
    let mut xb = vec![0u8; x.len() + 1];
    xb[1..].copy_from_slice(&x);
    let mut ob: Vec<Vec<u8>> = [8usize, 8, 32].iter().map(|n| vec![FILL; n + 1]).collect();
    let mut sb = [FILL; 136 + 1];
    let lens = [6u64, 2, 2, 4, 136];
    let status = {
        let mut outs: Vec<&mut [u8]> = ob.iter_mut().map(|v| &mut v[1..]).collect();
        j.run(&[2, 3], &[&xb[1..]], &mut outs, &mut sb[1..], &lens)
    };
    assert_eq!(status, want.status);
    for (o, w) in ob.iter().zip(&want.outputs) {
        assert_eq!(&o[1..], &w[..]);
    }
    assert_eq!(&sb[1..], &want.scratch[..]);
}

#[test]
fn jit_programs_are_send_and_sync() {
    fn is<T: Send + Sync>() {}
    is::<JitProgram>();
    let j = JitProgram::new(&failing_program()).unwrap();
    std::thread::scope(|s| {
        for k in 0..4 {
            let j = &j;
            s.spawn(move || {
                let x = enc(&[V::wrap(Scalar::I32, 600 + k)]);
                assert_eq!(run_jit_on(j, &[1], &[x], &[1, 1], 0).status, 4);
            });
        }
    });
}

#[test]
fn many_jit_programs_are_freed() {
    let p = failing_program();
    for _ in 0..50 {
        let j = JitProgram::new(&p).unwrap();
        let o = run_jit_on(&j, &[1], &[i64s(&[0])[..4].to_vec()], &[1, 1], 0);
        assert_eq!(o.status, 3);
    }
}

#[test]
fn jit_tests_cover_feature_levels() {
    let t = jit_targets();
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    assert!(t.len() >= 2, "baseline x86_64 JIT not exercised");
    assert_eq!(t[0], Target::host());
    // A target the host cannot run is refused.
    let p = failing_program();
    assert!(
        JitProgram::with_target(&p, &Target::parse("s390x-unknown-linux-gnu").unwrap()).is_err()
    );
}

#[test]
fn invalid_programs_are_errors() {
    let mut p = failing_program();
    p.name = "1bad name".into();
    assert!(JitProgram::new(&p).is_err());
    let mut p = failing_program();
    p.kernels[1].body.push(Stmt::Set(VarId(999), Expr::i64(0)));
    assert!(matches!(
        JitProgram::new(&p),
        Err(crate::Error::Internal(_))
    ));
}

// ---- objects ----

fn magic_ok(bytes: &[u8], fmt: kiln_targets::ObjectFormat) -> bool {
    use kiln_targets::ObjectFormat::*;
    match fmt {
        Elf => bytes.starts_with(b"\x7fELF"),
        MachO => bytes.starts_with(&[0xcf, 0xfa, 0xed, 0xfe]),
        // COFF objects start with the machine field (x86_64: 0x8664, little-endian).
        Coff => bytes.starts_with(&[0x64, 0x86]),
        None => false,
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// ELF `e_machine`, read with the file's own endianness.
fn elf_machine(b: &[u8]) -> u16 {
    if b[5] == 2 {
        u16::from_be_bytes([b[18], b[19]])
    } else {
        u16::from_le_bytes([b[18], b[19]])
    }
}

#[test]
fn objects_for_every_format() {
    let mut p = matrix_program();
    p.name = "demo".into();
    let cases = [
        ("x86_64-unknown-linux-gnu", Some(62u16)),
        ("x86_64-v3", Some(62)),
        ("aarch64-unknown-linux-gnu", Some(183)),
        ("aarch64-linux-android", Some(183)),
        ("riscv64gc-unknown-linux-gnu", Some(243)),
        ("s390x-unknown-linux-gnu", Some(22)),
        ("x86_64-apple-darwin", None),
        ("aarch64-apple-darwin", None),
        ("aarch64-apple-ios", None),
        ("aarch64-apple-ios-sim", None),
        ("x86_64-pc-windows-msvc", None),
    ];
    for (name, machine) in cases {
        let t = Target::parse(name).unwrap();
        let o = emit_object(&p, &t).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(magic_ok(&o, t.object_format), "{name}: bad magic");
        if let Some(m) = machine {
            assert_eq!(elf_machine(&o), m, "{name}");
        }
        assert!(contains(&o, b"demo_run"), "{name}: entry symbol");
        assert!(!contains(&o, b"demo_weights"), "{name}: no weights object");
        if t.object_format == kiln_targets::ObjectFormat::MachO {
            assert!(contains(&o, b"_demo_run"), "{name}: Mach-O symbols get _");
        }
    }
    let host = Target::host();
    if host.cranelift {
        let o = emit_object(&p, &host).unwrap();
        assert!(magic_ok(&o, host.object_format));
    }
}

/// (platform, minos) of the Mach-O `LC_BUILD_VERSION` load command.
fn macho_build_version(b: &[u8]) -> Option<(u32, u32)> {
    let u32_at = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
    let ncmds = u32_at(16) as usize;
    let mut off = 32;
    for _ in 0..ncmds {
        let (cmd, size) = (u32_at(off), u32_at(off + 4) as usize);
        if cmd == 0x32 {
            return Some((u32_at(off + 8), u32_at(off + 12)));
        }
        off += size;
    }
    None
}

#[test]
fn macho_objects_name_platform_and_minimum_os() {
    let p = matrix_program();
    let cases = [
        ("aarch64-apple-darwin", 1, 11 << 16),
        ("x86_64-apple-darwin", 1, (10 << 16) | (12 << 8)),
        ("aarch64-apple-ios", 2, 10 << 16),
        ("aarch64-apple-ios-sim", 7, 14 << 16),
        ("aarch64-apple-ios17.2", 2, (17 << 16) | (2 << 8)),
        ("x86_64-apple-ios", 7, 10 << 16),
    ];
    for (name, platform, minos) in cases {
        let t = Target::parse(name).unwrap();
        let o = emit_object(&p, &t).unwrap();
        assert_eq!(macho_build_version(&o), Some((platform, minos)), "{name}");
    }
    // No unwind tables: their absolute relocations would make PIE links use text relocations.
    let o = emit_object(&p, &Target::parse("x86_64-v3").unwrap()).unwrap();
    assert!(!contains(&o, b".eh_frame"));
}

#[test]
fn loop_bounds_edge_cases() {
    // out = [iterations, sum of i] of `for i in (a - 3)..b`, for dims a, b.
    let mut pb = Prog::new("bounds");
    let a = pb.sym("a", 100);
    let b = pb.sym("b", 100);
    let out = pb.output(Scalar::I64, Expr::i64(2));
    let mut kb = KernelBuilder::new();
    let count = kb.let_mut(Scalar::I64, Expr::i64(0));
    let sum = kb.let_mut(Scalar::I64, Expr::i64(0));
    kb.loop_(build::sub(a, Expr::i64(3)), b, |kb, i| {
        kb.set(count, build::add(Expr::Var(count), Expr::i64(1)));
        kb.set(sum, build::add(Expr::Var(sum), i));
    });
    kb.store(out, Expr::i64(0), Expr::Var(count));
    kb.store(out, Expr::i64(1), Expr::Var(sum));
    pb.kernel(kb);
    let p = pb.finish(Expr::i64(0));
    for (a, b) in [(0, 0), (0, 5), (3, 3), (10, 2), (2, 2), (50, 100), (0, 1)] {
        let o = check(&p, &[a, b], &[], &[2], 0, &format!("bounds {a} {b}"));
        let n = (b - (a - 3)).max(0);
        assert_eq!(o.outputs[0], i64s(&[n, (a - 3..b).sum::<i64>()]));
    }
}

#[test]
fn object_with_weights_and_shims() {
    let mut pb = Prog::new("wmod");
    let w = pb.weight(Scalar::F32, &f32s(&[1.0, 2.0]));
    let o = pb.output(Scalar::F32, Expr::i64(2));
    let mut kb = KernelBuilder::new();
    kb.loop_(Expr::i64(0), Expr::i64(2), |kb, i| {
        // (f32 Exp is computed inline, not called: see `Cx::expf`.)
        kb.store(o, i.clone(), build::call(MathFn::Log, vec![load(w, i)]));
    });
    pb.kernel(kb);
    let p = pb.finish(Expr::i64(0));
    for name in [
        "x86_64-unknown-linux-gnu",
        "aarch64-apple-darwin",
        "x86_64-pc-windows-msvc",
    ] {
        let t = Target::parse(name).unwrap();
        let obj = emit_object(&p, &t).unwrap();
        assert!(contains(&obj, b"wmod_weights"), "{name}");
        assert!(contains(&obj, b"kiln_shim_logf"), "{name}");
    }
}

#[test]
fn objects_are_deterministic() {
    let p = matrix_program();
    for name in [
        "x86_64-v3",
        "aarch64-apple-darwin",
        "x86_64-pc-windows-msvc",
    ] {
        let t = Target::parse(name).unwrap();
        let a = emit_object(&p, &t).unwrap();
        let b = emit_object(&p.clone(), &Target::parse(name).unwrap()).unwrap();
        assert_eq!(a, b, "{name}");
    }
}

#[test]
fn unsupported_targets_are_errors_not_panics() {
    let p = matrix_program();
    for name in [
        "armv7-unknown-linux-gnueabihf",
        "thumbv7em-none-eabihf",
        "i686-unknown-linux-gnu",
        "riscv32imac-unknown-none-elf",
        "riscv64imac-unknown-none-elf",
        "wasm32-unknown-unknown",
        "aarch64-pc-windows-msvc",
        "aarch64_be-unknown-linux-gnu",
        "powerpc64le-unknown-linux-gnu",
        "x86_64-unknown-uefi",
    ] {
        let t = Target::parse(name).unwrap();
        let e = emit_object(&p, &t).expect_err(name).to_string();
        assert!(e.contains("--emit c"), "{name}: {e}");
        let mut forced = t.clone();
        forced.cranelift = true;
        assert!(emit_object(&p, &forced).is_err(), "{name} forced");
    }
}

/// The shim-loop patterns (`kernel::shim_loop`) run as one call of the shim's vector
/// function on AVX-512F targets (the host here, when it has it; the other `jit_targets` run
/// them scalar): the same bits as the interpreter for a whole run with special values,
/// offset indices with a tail, a loop in place, an empty loop, and a loop over one buffer at
/// two indices (which must stay scalar: it reads values it wrote). `f(x, m)` is the loop's
/// value for the load `x` and a loop-invariant `m` (a variable or a constant).
fn shim_loops_equal_interp(
    name: &str,
    symbol: fn(&super::VecFns) -> &'static str,
    f: impl Fn(Expr, Expr) -> Expr,
) {
    let mut vals: Vec<f32> = vec![
        0.0,
        -0.0,
        1.0,
        -1.0,
        88.7,
        89.5,
        -88.7,
        -89.5,
        103.9,
        104.5,
        -103.9,
        -104.5,
        f32::NAN,
        -f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::MAX,
        f32::MIN_POSITIVE,
        1e-45,
    ];
    vals.extend((0..83).map(|i| (i as f32 - 41.0) * 0.77));
    let n = vals.len() as i64;
    let mut pb = Prog::new(name);
    let x = pb.input(Scalar::F32, Expr::i64(n));
    let o1 = pb.output(Scalar::F32, Expr::i64(n));
    let o2 = pb.output(Scalar::F32, Expr::i64(n));
    let o3 = pb.output(Scalar::F32, Expr::i64(n));
    let o4 = pb.output(Scalar::F32, Expr::i64(n));
    let mut kb = KernelBuilder::new();
    let m = kb.let_(Scalar::F32, load(x, Expr::i64(20)));
    // Whole run.
    kb.loop_(Expr::i64(0), Expr::i64(n), |kb, k| {
        kb.store(o1, k.clone(), f(load(x, k), m.clone()));
    });
    // y[1 + k] = f(x[k - 1], 0.25) for k in 2..n-1; the rest of o2 zero.
    kb.loop_(Expr::i64(0), Expr::i64(n), |kb, k| {
        kb.store(o2, k, Expr::imm(Scalar::F32, 0.0));
    });
    kb.loop_(Expr::i64(2), Expr::i64(n - 1), |kb, k| {
        let xi = build::add(k.clone(), Expr::i64(-1));
        let yi = build::add(Expr::i64(1), k);
        kb.store(o2, yi, f(load(x, xi), Expr::imm(Scalar::F32, 0.25)));
    });
    // In place, then an empty loop.
    kb.loop_(Expr::i64(0), Expr::i64(n), |kb, k| {
        kb.store(o3, k.clone(), load(x, k));
    });
    kb.loop_(Expr::i64(0), Expr::i64(n), |kb, k| {
        kb.store(o3, k.clone(), f(load(o3, k), Expr::imm(Scalar::F32, -0.5)));
    });
    kb.loop_(Expr::i64(5), Expr::i64(3), |kb, k| {
        kb.store(o3, k.clone(), f(load(x, k), m.clone()));
    });
    // One buffer at two indices: o4[k] = f(o4[k + 1], m), scalar.
    kb.loop_(Expr::i64(0), Expr::i64(n), |kb, k| {
        kb.store(o4, k.clone(), load(x, k));
    });
    kb.loop_(Expr::i64(0), Expr::i64(n - 1), |kb, k| {
        let next = build::add(k.clone(), Expr::i64(1));
        kb.store(o4, k, f(load(o4, next), m.clone()));
    });
    pb.kernel(kb);
    let p = pb.finish(Expr::i64(0));
    let lens = vec![vals.len(); 4];
    check(&p, &[], &[f32s(&vals)], &lens, 0, name);
    // The pattern is recognised: the host object calls the AVX-512 function when it has
    // AVX-512F, an x86_64-v3 object calls the AVX2 one, and an x86_64-v2 object neither but
    // the one that chooses at run time.
    let (v512, v2) = (symbol(&super::VEC_AVX512), symbol(&super::VEC_AVX2));
    let host = Target::host();
    assert_eq!(
        contains(&emit_object(&p, &host).unwrap(), v512.as_bytes()),
        host.has_feature("avx512f"),
        "{name}: {}",
        host.name
    );
    let v3 = emit_object(&p, &Target::parse("x86_64-v3").unwrap()).unwrap();
    assert!(
        contains(&v3, v2.as_bytes()) && !contains(&v3, v512.as_bytes()),
        "{name}"
    );
    let old = emit_object(&p, &Target::parse("x86_64-v2").unwrap()).unwrap();
    assert!(
        !contains(&old, v2.as_bytes())
            && !contains(&old, v512.as_bytes())
            && contains(&old, symbol(&super::VEC_X86_ANY).as_bytes()),
        "{name}"
    );
    // aarch64 objects call the NEON one (run under qemu by scripts/cross.sh), riscv64 none.
    let neon = symbol(&super::VEC_NEON);
    let arm = emit_object(&p, &Target::parse("aarch64-unknown-linux-gnu").unwrap()).unwrap();
    assert!(contains(&arm, neon.as_bytes()), "{name}");
    let rv = emit_object(&p, &Target::parse("riscv64gc-unknown-linux-gnu").unwrap()).unwrap();
    assert!(
        !contains(&rv, neon.as_bytes()) && !contains(&rv, v2.as_bytes()),
        "{name}"
    );
    // The C and Rust backends call them too for shim loops (not strips), where their
    // compiler targets the ISA (NEON on aarch64: scripts/cross.sh): built here for
    // AVX-512F and for AVX2 when this CPU has them, by default (the run-time choice on
    // x86_64) and with `-DKILN_NO_VECTOR_MATH` / `--cfg kiln_no_vector_math` (the loops):
    // each the same bits as the interpreter.
    let shim_loops = p.kernels.iter().flat_map(|k| &k.body).any(|st| {
        matches!(st, Stmt::Loop { var, body, .. }
            if super::kernel::shim_loop(*var, body, &p.buffers).is_some())
    });
    if !shim_loops {
        return;
    }
    let c = crate::backend::c::emit_c(&p);
    let rs = crate::backend::rust::emit_rust(&p).0;
    for v in [
        &super::VEC_AVX512,
        &super::VEC_AVX2,
        &super::VEC_NEON,
        &super::VEC_X86_ANY,
    ] {
        assert!(
            c.contains(symbol(v)) && rs.contains(symbol(v)),
            "{name}: C/Rust"
        );
    }
    use crate::backend::exec::{tests as exec_tests, ExecOptions, NativeBackend};
    let req = exec_tests::request(&p, &[], vec![f32s(&vals)]);
    for no_vector in [false, true] {
        let mut opts = ExecOptions::from_env();
        if no_vector {
            opts.cflags.push("-DKILN_NO_VECTOR_MATH".into());
            opts.rustflags
                .extend(["--cfg".into(), "kiln_no_vector_math".into()]);
        }
        exec_tests::check_cases(
            &[(p.clone(), vec![req.clone()])],
            &[NativeBackend::C, NativeBackend::Rust],
            &opts,
        );
    }
    for (feat, cflag) in [("avx512f", "-mavx512f"), ("avx2", "-mavx2")] {
        if !host.has_feature(feat) {
            continue;
        }
        let mut opts = ExecOptions::from_env();
        opts.cflags.push(cflag.into());
        opts.rustflags.push(format!("-Ctarget-feature=+{feat}"));
        exec_tests::check_cases(
            &[(p.clone(), vec![req.clone()])],
            &[NativeBackend::C, NativeBackend::Rust],
            &opts,
        );
    }
}

/// `y[b + k] = exp(x[a + k] - m)` (Softmax's exps).
#[test]
fn exp_loops_equal_interp() {
    shim_loops_equal_interp(
        "vexp",
        |v| v.exp_sub,
        |x, m| {
            build::call(
                MathFn::Exp,
                vec![build::binary(crate::kir::BinOp::Sub, x, m)],
            )
        },
    );
}

/// `y[b + k] = 1 / (1 + exp(-x[a + k]))`, built by the Sigmoid op's own lowering.
#[test]
fn sigmoid_loops_equal_interp() {
    use crate::ops::elementwise::{apply_unary, Unary};
    shim_loops_equal_interp(
        "vsig",
        |v| v.sigmoid,
        |x, _| apply_unary(Unary::Sigmoid, Scalar::F32, x),
    );
}

/// `y[b + k] = tanh(x[a + k])` and `erf(x[a + k])`.
#[test]
fn tanh_erf_loops_equal_interp() {
    shim_loops_equal_interp(
        "vtanh",
        |v| v.tanh,
        |x, _| build::call(MathFn::Tanh, vec![x]),
    );
    shim_loops_equal_interp("verf", |v| v.erf, |x, _| build::call(MathFn::Erf, vec![x]));
}

/// GELU (erf form) of `x + m`, as the fused element-wise kernels compute it.
fn gelu(x: Expr, m: Expr) -> Expr {
    use crate::kir::BinOp::{Add, Mul};
    let c = |v: f64| Expr::imm(Scalar::F32, v);
    let h = build::binary(Add, x, m);
    let e = build::call(
        MathFn::Erf,
        vec![build::binary(
            Mul,
            h.clone(),
            c(std::f64::consts::FRAC_1_SQRT_2),
        )],
    );
    build::binary(
        Mul,
        build::binary(Mul, c(0.5), h),
        build::binary(Add, c(1.0), e),
    )
}

/// Loops whose value calls exp, tanh or erf among other operations (`kernel::strip_loop`)
/// run in strips through the shim's vector functions (AVX-512F, AVX2): the same bits as
/// the interpreter, with the cases of `shim_loops_equal_interp` (including the loop over one
/// buffer at two indices, which stays scalar), for GELU (erf), SiLU (x times kir's Sigmoid,
/// which runs as the vector sigmoid), Mish (tanh of softplus: the exp inside runs as a
/// strip, the log and tanh around it stay scalar), GELU's tanh form,
/// and a loop of several strips whose body starts with a `let`.
#[test]
fn strip_loops_equal_interp() {
    use crate::kir::BinOp::{Add, Mul};
    use crate::ops::math::activation::{apply, Act};
    shim_loops_equal_interp("sgelu", |v| v.erf, gelu);
    shim_loops_equal_interp(
        "smish",
        |v| v.exp_sub,
        |x, m| apply(Act::Mish, Scalar::F32, build::binary(Add, x, m)),
    );
    shim_loops_equal_interp(
        "sgelut",
        |v| v.tanh,
        |x, m| {
            apply(
                Act::Gelu { tanh: true },
                Scalar::F32,
                build::binary(Mul, x, m),
            )
        },
    );
    let n = 2 * super::kernel::STRIP as usize + 37;
    let vals: Vec<f32> = (0..n).map(|i| (i as f32 - 1000.0) * 0.0123).collect();
    let mut pb = Prog::new("strips");
    let x = pb.input(Scalar::F32, Expr::i64(n as i64));
    let y = pb.output(Scalar::F32, Expr::i64(n as i64));
    let mut kb = KernelBuilder::new();
    kb.loop_(Expr::i64(0), Expr::i64(n as i64), |kb, k| {
        let v = kb.let_(Scalar::F32, load(x, k.clone()));
        kb.store(y, k, gelu(v, Expr::imm(Scalar::F32, 0.125)));
    });
    pb.kernel(kb);
    let p = pb.finish(Expr::i64(0));
    check(&p, &[], &[f32s(&vals)], &[n], 0, "strips");
    let host = Target::host();
    assert_eq!(
        contains(&emit_object(&p, &host).unwrap(), b"kiln_shim_verff_avx512"),
        host.has_feature("avx512f"),
    );
}

/// The vector-loop pattern (`kernel::vec_loop`: `y[b + k] = v` with `v` a unit-stride load,
/// a fill, or float `+ - * /` of those) runs in 128-bit vectors on SIMD targets: the same
/// bits as the interpreter for copies of f32, i64 and u8 (16 lanes) with tails, float
/// arithmetic with special values, f64, a loop in place, an empty loop, and loops that must
/// stay scalar (one buffer at two indices, integer arithmetic, a strided load).
#[test]
fn vec_loops_equal_interp() {
    let mut vals: Vec<f32> = vec![
        0.0,
        -0.0,
        1.0,
        -1.0,
        f32::NAN,
        -f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::MAX,
        f32::MIN_POSITIVE,
        1e-45,
        -3e-39,
    ];
    vals.extend((0..71).map(|i| (i as f32 - 35.0) * 0.37));
    let n = vals.len() as i64;
    let dvals: Vec<f64> = vals.iter().map(|v| *v as f64 * 1.000001).collect();
    let ivals: Vec<i64> = (0..n).map(|i| i * 0x1_0000_0001 - 40).collect();
    let bvals: Vec<u8> = (0..n).map(|i| (i * 37 % 256) as u8).collect();
    let mut pb = Prog::new("vloop");
    let x = pb.input(Scalar::F32, Expr::i64(n));
    let xd = pb.input(Scalar::F64, Expr::i64(n));
    let xi = pb.input(Scalar::I64, Expr::i64(n));
    let xb = pb.input(Scalar::U8, Expr::i64(n));
    let o1 = pb.output(Scalar::F32, Expr::i64(n));
    let o2 = pb.output(Scalar::F32, Expr::i64(n));
    let od = pb.output(Scalar::F64, Expr::i64(n));
    let oi = pb.output(Scalar::I64, Expr::i64(n));
    let ob = pb.output(Scalar::U8, Expr::i64(n));
    let o3 = pb.output(Scalar::F32, Expr::i64(n));
    let o4 = pb.output(Scalar::F32, Expr::i64(n));
    let o5 = pb.output(Scalar::I64, Expr::i64(n));
    let f = |v: f64| Expr::imm(Scalar::F32, v);
    let bin = build::binary;
    use crate::kir::BinOp::{Add, Div, Mul, Sub};
    let mut kb = KernelBuilder::new();
    let s = kb.let_(Scalar::F32, load(x, Expr::i64(20)));
    // A copy (vectorised).
    kb.loop_(Expr::i64(0), Expr::i64(n), |kb, k| {
        kb.store(o1, k.clone(), load(x, k));
    });
    // A fill, then arithmetic at offsets with a tail (both vectorised).
    kb.loop_(Expr::i64(0), Expr::i64(n), |kb, k| kb.store(o2, k, f(1.5)));
    kb.loop_(Expr::i64(0), Expr::i64(n - 3), |kb, k| {
        let x1 = load(x, build::add(k.clone(), Expr::i64(1)));
        let x2 = load(x, build::add(Expr::i64(2), k.clone()));
        let v = bin(
            Sub,
            bin(
                Add,
                bin(Mul, x1, s.clone()),
                bin(Div, load(x, k.clone()), x2),
            ),
            f(0.5),
        );
        kb.store(o2, build::add(k, Expr::i64(3)), v);
    });
    // f64 arithmetic.
    kb.loop_(Expr::i64(0), Expr::i64(n), |kb, k| {
        let v = bin(
            Sub,
            load(xd, k.clone()),
            bin(Mul, load(xd, k.clone()), Expr::imm(Scalar::F64, 2.0)),
        );
        kb.store(od, k, v);
    });
    // i64: a fill of one element and a shifted copy.
    kb.loop_(Expr::i64(0), Expr::i64(1), |kb, k| {
        kb.store(oi, k, Expr::i64(7))
    });
    kb.loop_(Expr::i64(0), Expr::i64(n - 1), |kb, k| {
        kb.store(oi, build::add(k.clone(), Expr::i64(1)), load(xi, k));
    });
    // u8, 16 lanes, then a scalar tail.
    kb.loop_(Expr::i64(0), Expr::i64(n), |kb, k| {
        kb.store(ob, k.clone(), load(xb, k));
    });
    // In place (vectorised), and an empty loop.
    kb.loop_(Expr::i64(0), Expr::i64(n), |kb, k| {
        kb.store(o3, k.clone(), load(x, k));
    });
    kb.loop_(Expr::i64(0), Expr::i64(n), |kb, k| {
        let v = bin(
            Add,
            bin(Mul, load(o3, k.clone()), f(2.0)),
            load(x, k.clone()),
        );
        kb.store(o3, k, v);
    });
    kb.loop_(Expr::i64(9), Expr::i64(2), |kb, k| {
        kb.store(o3, k.clone(), load(x, k));
    });
    // One buffer at two indices: o4[k + 1] = o4[k] + 1 must see its own writes (scalar).
    kb.loop_(Expr::i64(0), Expr::i64(n), |kb, k| {
        kb.store(o4, k.clone(), load(x, k));
    });
    kb.loop_(Expr::i64(0), Expr::i64(n - 1), |kb, k| {
        let v = bin(Add, load(o4, k.clone()), f(1.0));
        kb.store(o4, build::add(k, Expr::i64(1)), v);
    });
    // Integer arithmetic and a strided load stay scalar.
    kb.loop_(Expr::i64(0), Expr::i64(n / 2), |kb, k| {
        let v = bin(
            Add,
            load(xi, bin(Mul, k.clone(), Expr::i64(2))),
            Expr::i64(3),
        );
        kb.store(o5, k, v);
    });
    kb.loop_(Expr::i64(n / 2), Expr::i64(n), |kb, k| {
        kb.store(o5, k, Expr::i64(-1))
    });
    pb.kernel(kb);
    let p = pb.finish(Expr::i64(0));
    let inputs = [
        f32s(&vals),
        enc(&dvals.iter().map(|v| V::f64(*v)).collect::<Vec<_>>()),
        i64s(&ivals),
        bvals.clone(),
    ];
    let lens = vec![vals.len(); 8];
    check(&p, &[], &inputs, &lens, 0, "vector loops");
    // Which loops the pattern takes: all but the two-index one and the integer sum (the
    // builder drops the empty loop).
    let k = &p.kernels[1];
    let taken: Vec<bool> = k
        .body
        .iter()
        .filter_map(|s| match s {
            Stmt::Loop { var, body, .. } => {
                Some(super::kernel::vec_loop(*var, body, &p.buffers).is_some())
            }
            _ => None,
        })
        .collect();
    let mut want = vec![true; 13];
    want[10] = false;
    want[11] = false;
    assert_eq!(taken, want);
}
