//! The C and Rust backends (and the object path, fed with the C backend's object code) run
//! natively through `exec` and compared bit for bit with `kir::interp`: every
//! Expr/Stmt/UnOp/BinOp/CmpOp/MathFn variant, every scalar type, casts between all pairs,
//! edge values (NaN payloads, infinities, ±0, MIN/-1, shifts ≥ width), symbolic loop bounds,
//! control flow, statuses, weights and scratch. Tests skip (with a note) without `cc`/`rustc`.

use super::*;
use crate::kir::build::{self as kb, KernelBuilder};
use crate::kir::interp::{self, Memory};
use crate::kir::*;

// ---------------------------------------------------------------- program building

pub(crate) struct Pb {
    pub p: Program,
    kernels: Vec<Kernel>,
}

impl Pb {
    pub fn new(name: &str) -> Pb {
        Pb {
            p: Program {
                name: name.into(),
                syms: vec![],
                buffers: vec![],
                kernels: vec![],
                weights: vec![],
                scratch_len: Expr::i64(0),
                inputs: vec![],
                outputs: vec![],
            },
            kernels: vec![],
        }
    }

    pub fn sym(&mut self, name: &str, max: i64) -> SymId {
        self.p.syms.push(SymInfo { name: name.into(), max });
        SymId(self.p.syms.len() as u32 - 1)
    }

    fn io(&mut self, output: bool, name: &str, elem: Scalar, shape: Vec<IoDim>) -> BufId {
        let len = shape.iter().fold(Expr::i64(1), |acc, d| {
            kb::mul(
                acc,
                match d {
                    IoDim::Fixed(n) => Expr::i64(*n as i64),
                    IoDim::Sym(s) => Expr::Dim(*s),
                    IoDim::Expr(e, _) => e.clone(),
                },
            )
        });
        let id = BufId(self.p.buffers.len() as u32);
        let kind = if output {
            BufKind::Output(self.p.outputs.len() as u32)
        } else {
            BufKind::Input(self.p.inputs.len() as u32)
        };
        self.p.buffers.push(Buffer {
            name: name.into(),
            elem,
            len: len.clone(),
            kind,
        });
        let info = IoInfo {
            name: name.into(),
            elem,
            buf: id,
            shape,
            len,
        };
        if output {
            self.p.outputs.push(info);
        } else {
            self.p.inputs.push(info);
        }
        id
    }

    pub fn input(&mut self, name: &str, elem: Scalar, shape: Vec<IoDim>) -> BufId {
        self.io(false, name, elem, shape)
    }

    pub fn output(&mut self, name: &str, elem: Scalar, shape: Vec<IoDim>) -> BufId {
        self.io(true, name, elem, shape)
    }

    pub fn weight(&mut self, name: &str, elem: Scalar, data: &[u8]) -> BufId {
        while self.p.weights.len() % 64 != 0 {
            self.p.weights.push(0xa5);
        }
        let offset = self.p.weights.len() as u64;
        self.p.weights.extend_from_slice(data);
        self.p.buffers.push(Buffer {
            name: name.into(),
            elem,
            len: Expr::i64((data.len() / elem.size()) as i64),
            kind: BufKind::Weight { offset },
        });
        BufId(self.p.buffers.len() as u32 - 1)
    }

    pub fn scratch(&mut self, name: &str, elem: Scalar, len: Expr) -> BufId {
        let offset = self.p.scratch_len.clone();
        let bytes = kb::mul(len.clone(), Expr::i64(elem.size() as i64));
        let rounded = kb::mul(kb::div(kb::add(bytes, Expr::i64(63)), Expr::i64(64)), Expr::i64(64));
        self.p.scratch_len = kb::add(offset.clone(), rounded);
        self.p.buffers.push(Buffer {
            name: name.into(),
            elem,
            len,
            kind: BufKind::Scratch { offset },
        });
        BufId(self.p.buffers.len() as u32 - 1)
    }

    pub fn kernel(&mut self, name: &str, f: impl FnOnce(&mut KernelBuilder)) {
        let mut k = KernelBuilder::new();
        f(&mut k);
        self.kernels.push(k.finish(name));
    }

    /// The program with a validation kernel first (dims in range, then every length).
    pub fn finish(mut self) -> Program {
        let mut k = KernelBuilder::new();
        for (i, s) in self.p.syms.iter().enumerate() {
            let d = Expr::Dim(SymId(i as u32));
            let bad = kb::or(
                kb::cmp(CmpOp::Lt, d.clone(), Expr::i64(0)),
                kb::cmp(CmpOp::Gt, d, Expr::i64(s.max)),
            );
            k.if_(bad, |k| k.fail(Status::BadDim), |_| {});
        }
        let ios: Vec<Expr> = self.p.inputs.iter().chain(&self.p.outputs).map(|io| io.len.clone()).collect();
        for (i, len) in ios.iter().enumerate() {
            let bad = kb::cmp(CmpOp::Lt, Expr::Len(i as u32), len.clone());
            k.if_(bad, |k| k.fail(Status::BadLength), |_| {});
        }
        let bad = kb::cmp(CmpOp::Lt, Expr::Len(ios.len() as u32), self.p.scratch_len.clone());
        k.if_(bad, |k| k.fail(Status::BadLength), |_| {});
        self.p.kernels.push(k.finish("validate"));
        self.p.kernels.append(&mut self.kernels);
        if let Err(e) = verify::verify(&self.p) {
            panic!("test program {} does not verify: {e}", self.p.name);
        }
        self.p
    }
}

/// A request with the right output sizes and lens for `dims`.
pub(crate) fn request(p: &Program, dims: &[i64], inputs: Vec<Vec<u8>>) -> RunRequest {
    let mut lens = vec![];
    for (io, data) in p.inputs.iter().zip(&inputs) {
        lens.push((data.len() / io.elem.size()) as u64);
    }
    let mut output_bytes = vec![];
    for io in &p.outputs {
        let n = eval_index(&io.len, dims).unwrap_or(0).max(0) as usize;
        lens.push(n as u64);
        output_bytes.push(n * io.elem.size());
    }
    lens.push(eval_index(&p.scratch_len, dims).unwrap_or(0).max(0) as u64);
    RunRequest {
        dims: dims.to_vec(),
        inputs,
        output_bytes,
        lens,
    }
}

fn interp_run(p: &Program, r: &RunRequest) -> RunResult {
    let mut outs: Vec<Vec<u8>> = r.output_bytes.iter().map(|&n| vec![0u8; n]).collect();
    let mut scratch = vec![0u8; r.lens.last().copied().unwrap_or(0) as usize];
    let mut mem = Memory {
        inputs: r.inputs.iter().map(|v| v.as_slice()).collect(),
        outputs: outs.iter_mut().map(|v| v.as_mut_slice()).collect(),
        scratch: &mut scratch,
    };
    let st = interp::run(p, &r.dims, &r.lens, &mut mem).unwrap_or_else(|e| panic!("{}: {e}", p.name));
    RunResult {
        status: st.code(),
        outputs: outs,
    }
}

pub(crate) fn have_tools() -> bool {
    let ok = |c: &str, a: &str| Command::new(c).arg(a).output().is_ok_and(|o| o.status.success());
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    if ok(&cc, "--version") && ok(&rustc(), "-V") {
        true
    } else {
        eprintln!("note: cc or rustc missing; skipping native backend test");
        false
    }
}

/// Whether the shim has exact fused multiply-add (`kiln_shim::fmaf`/`fma`).
fn shim_has_fma() -> bool {
    super::super::shim::shim_sources()
        .iter()
        .any(|(_, t)| t.contains("fn fmaf(") && t.contains("fn fma("))
}

fn describe_diff(p: &Program, k: usize, want: &RunResult, got: &RunResult) -> Option<String> {
    if want.status != got.status {
        return Some(format!("request {k}: status {} (interp {})", got.status, want.status));
    }
    if want.status != 0 {
        // Outputs are unspecified after a failure.
        return None;
    }
    for (o, (w, g)) in want.outputs.iter().zip(&got.outputs).enumerate() {
        if w != g {
            let io = &p.outputs[o];
            let sz = io.elem.size();
            let i = (0..w.len().min(g.len())).find(|&i| w[i] != g[i]).unwrap_or(0) / sz;
            let bits = |b: &[u8]| {
                let mut raw = [0u8; 8];
                raw[..sz].copy_from_slice(&b[i * sz..(i + 1) * sz]);
                u64::from_le_bytes(raw)
            };
            return Some(format!(
                "request {k}: output {} ({}) element {i}: got 0x{:x}, interp 0x{:x}",
                io.name,
                io.elem,
                bits(g),
                bits(w)
            ));
        }
    }
    None
}

/// Runs every case on the given backends and compares with interp.
pub(crate) fn check_cases(cases: &[(Program, Vec<RunRequest>)], backends: &[NativeBackend], opts: &ExecOptions) {
    if !have_tools() {
        return;
    }
    let expected: Vec<Vec<RunResult>> =
        cases.iter().map(|(p, rs)| rs.iter().map(|r| interp_run(p, r)).collect()).collect();
    let mut failures = vec![];
    for &backend in backends {
        let objects: Vec<Option<Vec<u8>>> = cases
            .iter()
            .map(|(p, _)| (backend == NativeBackend::Object).then(|| c_object(p)))
            .collect();
        let items: Vec<BatchItem> = cases
            .iter()
            .zip(&objects)
            .map(|((p, rs), o)| (p, o.as_deref(), rs.as_slice()))
            .collect();
        let got = run_native_batch_with(backend, &items, opts).expect("exec infrastructure");
        for (((p, _), want), got) in cases.iter().zip(&expected).zip(&got) {
            match got {
                Err(e) => failures.push(format!("{backend:?} {}: {e}", p.name)),
                Ok(got) => {
                    assert_eq!(got.len(), want.len());
                    for (k, (w, g)) in want.iter().zip(got).enumerate() {
                        if let Some(d) = describe_diff(p, k, w, g) {
                            failures.push(format!("{backend:?} {}: {d}", p.name));
                        }
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

fn check(cases: &[(Program, Vec<RunRequest>)]) {
    check_cases(cases, &[NativeBackend::C, NativeBackend::Rust], &ExecOptions::from_env());
}

/// An object file of `p` made by compiling the C backend's output (stands in for Cranelift's).
fn c_object(p: &Program) -> Vec<u8> {
    let dir = std::env::temp_dir().join(format!("kiln-test-obj-{}", unique_suffix()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let c = dir.join("m.c");
    std::fs::write(&c, c::emit_c(p)).expect("write c");
    let o = dir.join("m.o");
    let out = Command::new("cc")
        .args(["-O1", "-std=c11", "-c", "-o"])
        .arg(&o)
        .arg(&c)
        .output()
        .expect("cc");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let bytes = std::fs::read(&o).expect("read object");
    let _ = std::fs::remove_dir_all(&dir);
    bytes
}

// ---------------------------------------------------------------- values

fn int_values(t: Scalar) -> Vec<i128> {
    let (lo, hi) = t.int_range().expect("int type");
    let mut v: Vec<i128> = vec![
        lo,
        lo + 1,
        lo / 2,
        -100,
        -33,
        -32,
        -9,
        -8,
        -7,
        -2,
        -1,
        0,
        1,
        2,
        3,
        5,
        7,
        8,
        9,
        15,
        16,
        31,
        32,
        33,
        63,
        64,
        65,
        127,
        128,
        255,
        256,
        hi / 2,
        hi - 1,
        hi,
    ];
    v.retain(|x| (lo..=hi).contains(x));
    v.sort();
    v.dedup();
    v
}

fn f32_values() -> Vec<u64> {
    let mut v: Vec<u64> = [
        0x7fc0_0000u32,
        0xffc0_0000,
        0x7fc0_0123,
        0x7f80_0001,
        0x7f80_0000,
        0xff80_0000,
        0x0000_0001,
        0x8000_0003,
        0x0080_0000,
        0x7f7f_ffff,
        0xff7f_ffff,
    ]
    .iter()
    .map(|&b| b as u64)
    .collect();
    for x in [
        0.0f32,
        -0.0,
        1.0,
        -1.0,
        0.5,
        -0.5,
        1.5,
        -1.5,
        2.5,
        -2.5,
        3.5,
        1.0 / 3.0,
        -7.25,
        0.499_999_97,
        1e10,
        -1e10,
        2147483648.0,
        -2147483648.0,
        2147483520.0,
        -2147483904.0,
        4294967296.0,
        4294967040.0,
        9.223372e18,
        -9.223372e18,
        1.8446744e19,
        65535.5,
        65536.0,
        255.5,
        256.0,
        -128.5,
        -129.0,
        127.5,
        -32768.5,
        32767.5,
        4194304.5,
        8388607.5,
        16777215.0,
    ] {
        v.push(x.to_bits() as u64);
    }
    v
}

fn f64_values() -> Vec<u64> {
    let mut v: Vec<u64> = vec![
        0x7ff8_0000_0000_0000,
        0xfff8_0000_0000_0000,
        0x7ff8_0000_0000_0123,
        0x7ff0_0000_0000_0001,
        0x7ff0_0000_0000_0000,
        0xfff0_0000_0000_0000,
        1,
        0x8000_0000_0000_0003,
        0x0010_0000_0000_0000,
        0x7fef_ffff_ffff_ffff,
    ];
    for x in [
        0.0f64,
        -0.0,
        1.0,
        -1.0,
        0.5,
        -0.5,
        1.5,
        -1.5,
        2.5,
        -2.5,
        3.5,
        1.0 / 3.0,
        -7.25,
        0.499_999_999_999_999_94,
        1e300,
        -1e300,
        2147483648.0,
        2147483647.5,
        -2147483648.5,
        -2147483649.0,
        4294967296.0,
        4294967295.5,
        9223372036854775808.0,
        9223372036854774784.0,
        -9223372036854775808.0,
        -9223372036854777856.0,
        18446744073709551616.0,
        18446744073709549568.0,
        65535.9,
        255.9,
        -128.9,
        127.9,
        4503599627370497.0,
        4503599627370495.5,
        1e-310,
    ] {
        v.push(x.to_bits());
    }
    v
}

/// Bit patterns of interesting values of `t` (bool: also bytes that are not 0/1).
fn values(t: Scalar) -> Vec<u64> {
    match t {
        Scalar::Bool => vec![0, 1, 2, 255],
        Scalar::F32 => f32_values(),
        Scalar::F64 => f64_values(),
        _ => int_values(t).into_iter().map(|x| x as u64).collect(),
    }
}

fn encode(t: Scalar, vals: &[u64]) -> Vec<u8> {
    vals.iter().flat_map(|v| v.to_le_bytes()[..t.size()].to_vec()).collect()
}

fn fixed(n: usize) -> Vec<IoDim> {
    vec![IoDim::Fixed(n as u64)]
}

fn load_i(b: BufId, i: &Expr) -> Expr {
    kb::load(b, i.clone())
}

// ---------------------------------------------------------------- operators

type Op = (String, Box<dyn Fn(Expr, Expr) -> Expr>);

fn ops_for(t: Scalar) -> Vec<Op> {
    let mut ops: Vec<Op> = vec![];
    let bin = |op: BinOp| -> Box<dyn Fn(Expr, Expr) -> Expr> { Box::new(move |a, b| Expr::Binary(op, Box::new(a), Box::new(b))) };
    let mut binops = vec![];
    if t != Scalar::Bool {
        binops.extend([BinOp::Add, BinOp::Sub, BinOp::Mul, BinOp::Div, BinOp::Min, BinOp::Max]);
    }
    if t.is_int() {
        binops.extend([BinOp::Rem, BinOp::Shl, BinOp::Shr]);
    }
    if !t.is_float() {
        binops.extend([BinOp::And, BinOp::Or, BinOp::Xor]);
    }
    for op in binops {
        ops.push((format!("{op:?}"), bin(op)));
    }
    for op in [CmpOp::Eq, CmpOp::Ne, CmpOp::Lt, CmpOp::Le, CmpOp::Gt, CmpOp::Ge] {
        ops.push((format!("{op:?}"), Box::new(move |a, b| kb::cmp(op, a, b))));
    }
    let mut unops = vec![];
    if t != Scalar::Bool {
        unops.extend([UnOp::Neg, UnOp::Abs]);
    }
    if !t.is_float() {
        unops.push(UnOp::Not);
    }
    if t.is_float() {
        unops.extend([UnOp::Sqrt, UnOp::Floor, UnOp::Ceil, UnOp::Trunc, UnOp::Round]);
    }
    for op in unops {
        ops.push((format!("{op:?}"), Box::new(move |a, _| kb::unary(op, a))));
    }
    ops.push((
        "select".into(),
        Box::new(|a: Expr, b: Expr| kb::select(kb::cmp(CmpOp::Lt, a.clone(), b.clone()), a, b)),
    ));
    if t.is_int() {
        // Chains that stay in the unsigned domain, then leave it.
        ops.push((
            "chain".into(),
            Box::new(move |a: Expr, b: Expr| {
                let m = Expr::Binary(BinOp::Mul, Box::new(a.clone()), Box::new(b.clone()));
                let s = Expr::Binary(BinOp::Add, Box::new(m), Box::new(kb::unary(UnOp::Neg, a.clone())));
                let sh = Expr::Binary(BinOp::Shl, Box::new(s), Box::new(b.clone()));
                let x = Expr::Binary(BinOp::Xor, Box::new(sh), Box::new(kb::unary(UnOp::Not, b.clone())));
                Expr::Binary(BinOp::Shr, Box::new(x), Box::new(a))
            }),
        ));
        let (lo, hi) = t.int_range().unwrap_or((0, 0));
        for (name, c) in [("min", lo), ("max", hi), ("m1", if t.is_signed() { -1 } else { 3 }), ("zero", 0)] {
            let imm = Expr::Imm(t, Lit::Int(c as i64));
            let imm2 = imm.clone();
            ops.push((format!("div_imm_{name}"), Box::new(move |a, _| kb::binary(BinOp::Div, a, imm.clone()))));
            ops.push((
                format!("imm_{name}_rem"),
                Box::new(move |_, b| Expr::Binary(BinOp::Rem, Box::new(imm2.clone()), Box::new(b))),
            ));
        }
        let i5 = Expr::Imm(t, Lit::Int(5));
        ops.push((
            "add_imm".into(),
            Box::new(move |a, _| Expr::Binary(BinOp::Add, Box::new(a), Box::new(i5.clone()))),
        ));
        ops.push((
            "ge_zero".into(),
            Box::new(move |a, _| kb::cmp(CmpOp::Ge, a, Expr::Imm(t, Lit::Int(0)))),
        ));
    }
    if t.is_float() {
        let h = Expr::imm(t, 0.5);
        ops.push((
            "mul_add_unfused".into(),
            Box::new(move |a: Expr, b: Expr| {
                let m = Expr::Binary(BinOp::Mul, Box::new(a), Box::new(b.clone()));
                Expr::Binary(BinOp::Add, Box::new(m), Box::new(Expr::Binary(BinOp::Mul, Box::new(b), Box::new(h.clone()))))
            }),
        ));
    }
    ops
}

fn result_type(t: Scalar, e: &Expr) -> Scalar {
    verify::type_of(&[t, t], &[], e).expect("op type")
}

/// Every operator on every pair of interesting values of `t`.
fn op_case(t: Scalar) -> (Program, Vec<RunRequest>) {
    let vals = values(t);
    let n = vals.len() * vals.len();
    let mut pb = Pb::new(&format!("ops_{}", t.name()));
    let a = pb.input("a", t, fixed(n));
    let b = pb.input("b", t, fixed(n));
    let ops = ops_for(t);
    let mut outs = vec![];
    for (name, f) in &ops {
        let rt = result_type(t, &f(Expr::Var(VarId(0)), Expr::Var(VarId(1))));
        outs.push((pb.output(name, rt, fixed(n)), rt));
    }
    pb.kernel("ops", |k| {
        k.loop_(Expr::i64(0), Expr::i64(n as i64), |k, i| {
            let x = k.let_(t, load_i(a, &i));
            let y = k.let_(t, load_i(b, &i));
            for ((_, f), (o, _)) in ops.iter().zip(&outs) {
                k.store(*o, i.clone(), f(x.clone(), y.clone()));
            }
        });
    });
    let p = pb.finish();
    let mut xa = vec![];
    let mut xb = vec![];
    for &x in &vals {
        for &y in &vals {
            xa.push(x);
            xb.push(y);
        }
    }
    let r = request(&p, &[], vec![encode(t, &xa), encode(t, &xb)]);
    (p, vec![r])
}

#[test]
fn operators_int_types() {
    let cases: Vec<_> = [Scalar::I8, Scalar::I16, Scalar::I32, Scalar::I64, Scalar::U8, Scalar::U16, Scalar::U32, Scalar::U64]
        .into_iter()
        .map(op_case)
        .collect();
    check(&cases);
}

#[test]
fn operators_float_and_bool() {
    let cases: Vec<_> = [Scalar::Bool, Scalar::F32, Scalar::F64].into_iter().map(op_case).collect();
    check(&cases);
}

// ---------------------------------------------------------------- casts

fn cast_case(from: Scalar) -> (Program, Vec<RunRequest>) {
    let vals = values(from);
    let n = vals.len();
    let mut pb = Pb::new(&format!("cast_from_{}", from.name()));
    let a = pb.input("a", from, fixed(n));
    let mut outs = vec![];
    for to in Scalar::ALL {
        outs.push((pb.output(&format!("to_{}", to.name()), to, fixed(n)), to, false));
    }
    for to in Scalar::ALL {
        if to != Scalar::Bool && from != Scalar::Bool && to.size() == from.size() {
            outs.push((pb.output(&format!("bits_{}", to.name()), to, fixed(n)), to, true));
        }
    }
    pb.kernel("casts", |k| {
        k.loop_(Expr::i64(0), Expr::i64(n as i64), |k, i| {
            let x = k.let_(from, load_i(a, &i));
            for (o, to, bits) in &outs {
                let e = if *bits { kb::bitcast(*to, x.clone()) } else { kb::cast(*to, x.clone()) };
                k.store(*o, i.clone(), e);
            }
        });
    });
    let p = pb.finish();
    let r = request(&p, &[], vec![encode(from, &vals)]);
    (p, vec![r])
}

#[test]
fn casts_between_all_types() {
    let cases: Vec<_> = Scalar::ALL.into_iter().map(cast_case).collect();
    check(&cases);
}

// ---------------------------------------------------------------- literals

#[test]
fn literals_of_every_type() {
    let mut pb = Pb::new("literals");
    let mut lits: Vec<(Scalar, Vec<Lit>)> = vec![];
    for t in Scalar::ALL {
        let l: Vec<Lit> = match t {
            Scalar::F32 => f32_values()
                .into_iter()
                .map(|b| Lit::Float((f32::from_bits(b as u32) as f64).to_bits()))
                // Narrowing the widened NaN keeps its payload (quieted).
                .collect(),
            Scalar::F64 => f64_values().into_iter().map(Lit::Float).collect(),
            Scalar::Bool => vec![Lit::Int(0), Lit::Int(1)],
            _ => int_values(t).into_iter().map(|x| Lit::Int(x as i64)).collect(),
        };
        lits.push((t, l));
    }
    let outs: Vec<BufId> = lits
        .iter()
        .map(|(t, l)| pb.output(&format!("lit_{}", t.name()), *t, fixed(l.len())))
        .collect();
    pb.kernel("lits", |k| {
        for ((t, l), o) in lits.iter().zip(&outs) {
            for (i, lit) in l.iter().enumerate() {
                k.store(*o, Expr::i64(i as i64), Expr::Imm(*t, *lit));
            }
        }
    });
    let p = pb.finish();
    let r = request(&p, &[], vec![]);
    check(&[(p, vec![r])]);
}

// ---------------------------------------------------------------- math

fn math_case(t: Scalar) -> (Program, Vec<RunRequest>) {
    let mut vals = values(t);
    for x in [0.1f64, -0.3, 0.75, -0.99, 0.999, 1.0001, 2.0, 10.0, -10.0, 88.5, -100.0, 710.0, 1e-8] {
        vals.push(if t == Scalar::F32 {
            (x as f32).to_bits() as u64
        } else {
            x.to_bits()
        });
    }
    let n = vals.len();
    // Pairs for the binary functions: every value with a few others.
    let ys: Vec<u64> = vals.iter().rev().copied().collect();
    let mut pb = Pb::new(&format!("math_{}", t.name()));
    let a = pb.input("a", t, fixed(n));
    let b = pb.input("b", t, fixed(n));
    let outs: Vec<(MathFn, BufId)> =
        MathFn::ALL.iter().map(|f| (*f, pb.output(f.name(), t, fixed(n)))).collect();
    pb.kernel("math", |k| {
        k.loop_(Expr::i64(0), Expr::i64(n as i64), |k, i| {
            let x = k.let_(t, load_i(a, &i));
            let y = k.let_(t, load_i(b, &i));
            for (f, o) in &outs {
                let args = if f.arity() == 2 { vec![x.clone(), y.clone()] } else { vec![x.clone()] };
                k.store(*o, i.clone(), kb::call(*f, args));
            }
        });
    });
    let p = pb.finish();
    let r = request(&p, &[], vec![encode(t, &vals), encode(t, &ys)]);
    (p, vec![r])
}

#[test]
fn shim_math_functions() {
    check(&[math_case(Scalar::F32), math_case(Scalar::F64)]);
}

fn fma_case(t: Scalar) -> (Program, Vec<RunRequest>) {
    let vals = values(t);
    let n = vals.len() * vals.len();
    let mut pb = Pb::new(&format!("fma_{}", t.name()));
    let a = pb.input("a", t, fixed(n));
    let b = pb.input("b", t, fixed(n));
    let o = pb.output("fma", t, fixed(n));
    let o2 = pb.output("fma_lit", t, fixed(n));
    pb.kernel("fma", |k| {
        k.loop_(Expr::i64(0), Expr::i64(n as i64), |k, i| {
            let x = k.let_(t, load_i(a, &i));
            let y = k.let_(t, load_i(b, &i));
            k.store(o, i.clone(), kb::fma(x.clone(), y.clone(), kb::unary(UnOp::Neg, x.clone())));
            // 1/3 * 3 - 1 shows fusion: the unfused result is 0.
            let third = Expr::imm(t, 1.0 / 3.0);
            k.store(o2, i.clone(), kb::fma(third, Expr::imm(t, 3.0), kb::binary(BinOp::Sub, y, Expr::imm(t, 1.0))));
        });
    });
    let p = pb.finish();
    let (mut xa, mut xb) = (vec![], vec![]);
    for &x in &vals {
        for &y in &vals {
            xa.push(x);
            xb.push(y);
        }
    }
    let r = request(&p, &[], vec![encode(t, &xa), encode(t, &xb)]);
    (p, vec![r])
}

#[test]
fn fused_multiply_add() {
    let cases = [fma_case(Scalar::F32), fma_case(Scalar::F64)];
    if shim_has_fma() {
        check(&cases);
    } else {
        eprintln!("note: kiln_shim has no fmaf/fma yet: checking Fma on the C backend only");
        check_cases(&cases, &[NativeBackend::C], &ExecOptions::from_env());
    }
}

// ---------------------------------------------------------------- control flow, dims, statuses

/// Rows summed with symbolic loop bounds, a gather with an index check, a counter kept with
/// `Set`, `Len` values, `If` with and without `else`, and `Fail` statuses.
pub(crate) fn flow_program() -> Program {
    let mut pb = Pb::new("flow");
    let n = pb.sym("N", 50);
    let m = pb.sym("M", 8);
    let (dn, dm) = (Expr::Dim(n), Expr::Dim(m));
    let x = pb.input("x.in", Scalar::F32, vec![IoDim::Sym(n), IoDim::Sym(m)]);
    let idx = pb.input("idx", Scalar::I32, vec![IoDim::Sym(n)]);
    let rows = pb.output("rows", Scalar::F32, vec![IoDim::Sym(n)]);
    let gathered = pb.output("gathered", Scalar::F32, vec![IoDim::Sym(n)]);
    let count = pb.output("count", Scalar::I64, vec![IoDim::Fixed(3)]);
    let tri = pb.output("tri", Scalar::I32, vec![IoDim::Expr(kb::mul(dn.clone(), dn.clone()), "N*N".into())]);
    pb.kernel("rows", |k| {
        k.loop_(Expr::i64(0), dn.clone(), |k, i| {
            let acc = k.let_mut(Scalar::F32, Expr::imm(Scalar::F32, 0.0));
            k.loop_(Expr::i64(0), dm.clone(), |k, j| {
                let v = kb::load(x, kb::add(kb::mul(i.clone(), dm.clone()), j));
                k.set(acc, kb::binary(BinOp::Add, Expr::Var(acc), v));
            });
            let pos = kb::cmp(CmpOp::Gt, Expr::Var(acc), Expr::imm(Scalar::F32, 0.0));
            k.if_(
                pos,
                |k| k.store(rows, i.clone(), Expr::Var(acc)),
                |k| k.store(rows, i.clone(), kb::unary(UnOp::Neg, Expr::Var(acc))),
            );
        });
    });
    pb.kernel("gather", |k| {
        k.loop_(Expr::i64(0), dn.clone(), |k, i| {
            let j = k.let_(Scalar::I64, kb::cast(Scalar::I64, kb::load(idx, i.clone())));
            let bad = kb::or(
                kb::cmp(CmpOp::Lt, j.clone(), Expr::i64(0)),
                kb::cmp(CmpOp::Ge, j.clone(), dn.clone()),
            );
            k.if_(bad, |k| k.fail(Status::BadIndex), |_| {});
            let v = kb::load(rows, j);
            let nan = kb::cmp(CmpOp::Ne, v.clone(), v.clone());
            k.if_(nan, |k| k.fail(Status::BadValue), |_| {});
            k.store(gathered, i, v);
        });
    });
    pb.kernel("count", |k| {
        let c = k.let_mut(Scalar::I64, Expr::i64(0));
        // A loop starting above zero whose end is evaluated once although the body
        // changes what it reads.
        k.loop_(Expr::i64(1), kb::sub(dn.clone(), Expr::i64(1)), |k, i| {
            let big = kb::cmp(CmpOp::Gt, kb::load(rows, i), Expr::imm(Scalar::F32, 1.0));
            k.if_(big, |k| k.set(c, kb::add(Expr::Var(c), Expr::i64(1))), |_| {});
        });
        k.store(count, Expr::i64(0), Expr::Var(c));
        k.store(count, Expr::i64(1), kb::add(Expr::Len(0), kb::mul(Expr::Len(4), Expr::i64(1000))));
        k.store(count, Expr::i64(2), kb::add(dn.clone(), kb::mul(dm.clone(), Expr::i64(100))));
    });
    pb.kernel("triangle", |k| {
        k.loop_(Expr::i64(0), dn.clone(), |k, i| {
            k.loop_(Expr::i64(0), dn.clone(), |k, j| {
                let below = kb::cmp(CmpOp::Le, j.clone(), i.clone());
                let v = kb::select(below, Expr::Imm(Scalar::I32, Lit::Int(1)), Expr::Imm(Scalar::I32, Lit::Int(-1)));
                k.store(tri, kb::add(kb::mul(i.clone(), dn.clone()), j), v);
            });
        });
    });
    pb.finish()
}

fn f32s(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn i32s(v: &[i32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub(crate) fn flow_requests(p: &Program) -> Vec<RunRequest> {
    let x: Vec<f32> = (0..15).map(|i| (i as f32 - 6.0) * 0.75).collect();
    let ok = request(p, &[5, 3], vec![f32s(&x), i32s(&[4, 0, 2, 2, 1])]);
    let mut reqs = vec![ok.clone()];
    reqs.push(request(p, &[0, 3], vec![vec![], vec![]]));
    reqs.push(request(p, &[1, 0], vec![vec![], i32s(&[0])]));
    let mut big = ok.clone();
    big.dims = vec![51, 3];
    reqs.push(big);
    let mut neg = ok.clone();
    neg.dims = vec![5, -1];
    reqs.push(neg);
    let mut short = ok.clone();
    short.lens[3] -= 1;
    reqs.push(short);
    let mut short_scratch = ok.clone();
    short_scratch.lens[1] = 4;
    reqs.push(short_scratch);
    reqs.push(request(p, &[5, 3], vec![f32s(&x), i32s(&[4, 0, 5, 2, 1])]));
    reqs.push(request(p, &[5, 3], vec![f32s(&x), i32s(&[4, 0, -1, 2, 1])]));
    let mut xn = x.clone();
    xn[4] = f32::NAN;
    reqs.push(request(p, &[5, 3], vec![f32s(&xn), i32s(&[4, 0, 1, 2, 1])]));
    reqs
}

#[test]
fn control_flow_dims_and_statuses() {
    let p = flow_program();
    let reqs = flow_requests(&p);
    // The statuses themselves, not only agreement with interp.
    let want: Vec<i32> = vec![0, 0, 0, 1, 1, 2, 2, 3, 3, 4];
    let got: Vec<i32> = reqs.iter().map(|r| interp_run(&p, r).status).collect();
    assert_eq!(got, want);
    check(&[(p, reqs)]);
}

#[test]
fn object_path_links_and_runs() {
    let p = flow_program();
    let reqs = flow_requests(&p);
    check_cases(&[(p, reqs)], &[NativeBackend::Object], &ExecOptions::from_env());
}

// ---------------------------------------------------------------- weights and scratch

pub(crate) fn memory_program() -> Program {
    let mut pb = Pb::new("memory");
    let n = pb.sym("n", 64);
    let dn = Expr::Dim(n);
    // Every byte value, and sequences that trip naive string literals: an escape followed
    // by digits, trigraphs, quotes, backslashes.
    let mut bytes: Vec<u8> = (0..=255u8).collect();
    bytes.extend_from_slice(b"\x01234\x007\"\\??=??/??'\x1b[0m\r\n\t7\xff");
    let wb = pb.weight("bytes", Scalar::U8, &bytes);
    let wf: Vec<u8> = [1.5f32, -2.0, f32::NAN, 0.1, -0.0, f32::INFINITY, 3.0, 1e-40]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let wf = pb.weight("floats", Scalar::F32, &wf);
    let wi: Vec<u8> = [-32768i16, -1, 0, 1, 32767, 1234].iter().flat_map(|x| x.to_le_bytes()).collect();
    let wi = pb.weight("shorts", Scalar::I16, &wi);
    let wbool = pb.weight("flags", Scalar::Bool, &[0, 1, 1, 0, 2]);
    let x = pb.input("x", Scalar::F64, vec![IoDim::Sym(n)]);
    let t1 = pb.scratch("t1", Scalar::F64, dn.clone());
    let t2 = pb.scratch("t2", Scalar::I16, kb::mul(dn.clone(), Expr::i64(3)));
    let t3 = pb.scratch("t3", Scalar::Bool, dn.clone());
    let ob = pb.output("bytes_out", Scalar::U8, fixed(bytes.len()));
    let of = pb.output("floats_out", Scalar::F32, fixed(8));
    let oi = pb.output("shorts_out", Scalar::I16, fixed(6));
    let obool = pb.output("flags_out", Scalar::Bool, fixed(5));
    let y = pb.output("y", Scalar::F64, vec![IoDim::Sym(n)]);
    let z = pb.output("z", Scalar::I16, vec![IoDim::Sym(n)]);
    let zb = pb.output("zb", Scalar::Bool, vec![IoDim::Sym(n)]);
    pb.kernel("copy_weights", |k| {
        k.loop_(Expr::i64(0), Expr::i64(bytes.len() as i64), |k, i| k.store(ob, i.clone(), kb::load(wb, i)));
        k.loop_(Expr::i64(0), Expr::i64(8), |k, i| k.store(of, i.clone(), kb::load(wf, i)));
        k.loop_(Expr::i64(0), Expr::i64(6), |k, i| k.store(oi, i.clone(), kb::load(wi, i)));
        k.loop_(Expr::i64(0), Expr::i64(5), |k, i| k.store(obool, i.clone(), kb::load(wbool, i)));
    });
    pb.kernel("fill_scratch", |k| {
        k.loop_(Expr::i64(0), dn.clone(), |k, i| {
            let w = kb::cast(Scalar::F64, kb::load(wf, kb::rem(i.clone(), Expr::i64(8))));
            k.store(t1, i.clone(), kb::binary(BinOp::Mul, kb::load(x, i.clone()), w));
            for c in 0..3 {
                let at = kb::add(kb::mul(i.clone(), Expr::i64(3)), Expr::i64(c));
                let v = kb::binary(
                    BinOp::Mul,
                    kb::load(wi, kb::rem(kb::add(i.clone(), Expr::i64(c)), Expr::i64(6))),
                    kb::cast(Scalar::I16, i.clone()),
                );
                k.store(t2, at, v);
            }
            k.store(t3, i.clone(), kb::cmp(CmpOp::Gt, kb::load(x, i.clone()), Expr::imm(Scalar::F64, 0.0)));
        });
    });
    pb.kernel("read_scratch", |k| {
        k.loop_(Expr::i64(0), dn.clone(), |k, i| {
            let s = kb::binary(BinOp::Add, kb::load(t1, i.clone()), Expr::imm(Scalar::F64, 0.25));
            k.store(y, i.clone(), s);
            let acc = k.let_mut(Scalar::I16, Expr::Imm(Scalar::I16, Lit::Int(0)));
            k.loop_(Expr::i64(0), Expr::i64(3), |k, c| {
                let v = kb::load(t2, kb::add(kb::mul(i.clone(), Expr::i64(3)), c));
                k.set(acc, kb::binary(BinOp::Add, Expr::Var(acc), v));
            });
            k.store(z, i.clone(), Expr::Var(acc));
            k.store(zb, i.clone(), kb::unary(UnOp::Not, kb::load(t3, i)));
        });
    });
    pb.finish()
}

pub(crate) fn memory_requests(p: &Program) -> Vec<RunRequest> {
    let x: Vec<u8> = (0..20).flat_map(|i| ((i as f64 - 7.5) * 1.25).to_le_bytes()).collect();
    vec![request(p, &[20], vec![x]), request(p, &[0], vec![vec![]])]
}

#[test]
fn weights_and_scratch() {
    let p = memory_program();
    let reqs = memory_requests(&p);
    check(&[(p, reqs)]);
}

#[test]
fn sanitizers_find_nothing() {
    if !have_tools() {
        return;
    }
    let mut opts = ExecOptions::from_env();
    opts.cflags.extend(["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g"].map(String::from));
    let cases = vec![
        (memory_program(), memory_requests(&memory_program())),
        (flow_program(), flow_requests(&flow_program())),
        op_case(Scalar::I32),
        op_case(Scalar::I8),
        cast_case(Scalar::F32),
        cast_case(Scalar::F64),
    ];
    check_cases(&cases, &[NativeBackend::C], &opts);
}

// ---------------------------------------------------------------- exec itself

#[test]
fn batch_isolates_a_bad_program() {
    let good = flow_program();
    let mut bad = flow_program();
    bad.name = "bad".into();
    // Unverifiable kir (a load of an unknown buffer) makes the backends refuse it.
    bad.kernels[1].body.push(Stmt::Store {
        buf: BufId(2),
        idx: Expr::i64(0),
        val: kb::load(BufId(99), Expr::i64(0)),
    });
    if !have_tools() {
        return;
    }
    let reqs = flow_requests(&good);
    for backend in [NativeBackend::C, NativeBackend::Rust] {
        let items: Vec<BatchItem> = vec![(&good, None, &reqs), (&bad, None, &reqs), (&good, None, &reqs)];
        let r = run_native_batch(backend, &items).expect("infrastructure");
        assert!(r[0].is_ok() && r[2].is_ok(), "{backend:?}: {:?}", r.iter().map(|x| x.is_ok()).collect::<Vec<_>>());
        let e = r[1].as_ref().expect_err("bad program must fail").to_string();
        assert!(e.contains("verification"), "{e}");
    }
}

#[test]
fn bad_requests_are_reported() {
    let p = flow_program();
    let mut r = flow_requests(&p).remove(0);
    r.inputs.pop();
    assert!(matches!(run_native(NativeBackend::C, &p, None, &[r]), Err(Error::Internal(_))));
    assert!(run_native(NativeBackend::Object, &p, None, &[]).is_err());
}

#[test]
fn request_files_round_trip() {
    let reqs = vec![RunRequest {
        dims: vec![1],
        inputs: vec![vec![1, 2, 3]],
        output_bytes: vec![2, 0],
        lens: vec![3, 1, 0, 64],
    }];
    let enc = encode_requests(7, &reqs);
    assert_eq!(&enc[..8], b"KILNRQ01");
    assert_eq!(u32::from_ne_bytes(enc[8..12].try_into().unwrap_or_default()), 7);
    let mut resp = b"KILNRS01".to_vec();
    resp.extend(3i32.to_ne_bytes());
    resp.extend(2u32.to_ne_bytes());
    resp.extend(2u64.to_ne_bytes());
    resp.extend([9, 8]);
    resp.extend(0u64.to_ne_bytes());
    let (res, complete) = decode_responses(&resp, &reqs);
    assert!(complete);
    assert_eq!(res, vec![RunResult { status: 3, outputs: vec![vec![9, 8], vec![]] }]);
    let (res, complete) = decode_responses(&resp[..resp.len() - 9], &reqs);
    assert!(!complete && res.is_empty());
}
