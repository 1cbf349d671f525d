//! Test harness: the C and Rust backends (and the object path, fed with the C backend's
//! object code) run natively through `exec` and compared bit for bit with `kir::interp`
//! (cases in `ops` and `programs`): every Expr/Stmt/UnOp/BinOp/CmpOp/MathFn variant, every
//! scalar type, casts between all pairs, edge and pseudo-random values (NaN payloads,
//! infinities, ±0, MIN/-1, shifts ≥ width), symbolic loop bounds, control flow, statuses,
//! weights and scratch. Tests skip (with a note) without `cc`/`rustc`.
//!
//! One tolerance: a NaN matches any NaN. Payloads are not pinned: a C compiler may commute
//! the operands of `+`/`*` (which NaN propagates), and the host libm behind interp's f64
//! floor/ceil/trunc/round passes signaling NaNs through while the backends quiet them. Set
//! `KILN_TEST_STRICT_NAN` to see those differences.

use super::*;
use crate::kir::build::{self as kb, KernelBuilder};
use crate::kir::interp::{self, Memory};
use crate::kir::*;

mod ops;
mod programs;

pub(crate) use ops::math_case;
pub(crate) use programs::{
    flow_program, flow_requests, memory_program, memory_requests, weird_program,
};

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
                strings: Default::default(),
                scratch_guard: 0,
            },
            kernels: vec![],
        }
    }

    pub fn sym(&mut self, name: &str, max: i64) -> SymId {
        self.p.syms.push(SymInfo {
            name: name.into(),
            max,
        });
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
        while !self.p.weights.len().is_multiple_of(64) {
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
        let rounded = kb::mul(
            kb::div(kb::add(bytes, Expr::i64(63)), Expr::i64(64)),
            Expr::i64(64),
        );
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
        let ios: Vec<Expr> = self
            .p
            .inputs
            .iter()
            .chain(&self.p.outputs)
            .map(|io| io.len.clone())
            .collect();
        for (i, len) in ios.iter().enumerate() {
            let bad = kb::cmp(CmpOp::Lt, Expr::Len(i as u32), len.clone());
            k.if_(bad, |k| k.fail(Status::BadLength), |_| {});
        }
        let bad = kb::cmp(
            CmpOp::Lt,
            Expr::Len(ios.len() as u32),
            self.p.scratch_len.clone(),
        );
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

pub(crate) fn interp_run(p: &Program, r: &RunRequest) -> RunResult {
    let mut outs: Vec<Vec<u8>> = r.output_bytes.iter().map(|&n| vec![0u8; n]).collect();
    let mut scratch = vec![0u8; r.lens.last().copied().unwrap_or(0) as usize];
    let mut mem = Memory {
        inputs: r.inputs.iter().map(|v| v.as_slice()).collect(),
        outputs: outs.iter_mut().map(|v| v.as_mut_slice()).collect(),
        scratch: &mut scratch,
    };
    let st =
        interp::run(p, &r.dims, &r.lens, &mut mem).unwrap_or_else(|e| panic!("{}: {e}", p.name));
    RunResult {
        status: st.code(),
        outputs: outs,
    }
}

pub(crate) fn have_tools() -> bool {
    let ok = |c: &str, a: &str| {
        Command::new(c)
            .arg(a)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    if ok(&cc, "--version") && ok(&rustc(), "-V") {
        true
    } else {
        eprintln!("note: cc or rustc missing; skipping native backend test");
        false
    }
}

/// Whether the shim has exact fused multiply-add (`kiln_shim::fmaf`/`fma`).
pub(crate) fn shim_has_fma() -> bool {
    super::super::shim::shim_sources()
        .iter()
        .any(|(_, t)| t.contains("fn fmaf(") && t.contains("fn fma("))
}

fn describe_diff(p: &Program, k: usize, want: &RunResult, got: &RunResult) -> Option<String> {
    if want.status != got.status {
        return Some(format!(
            "request {k}: status {} (interp {})",
            got.status, want.status
        ));
    }
    if want.status != 0 {
        // Outputs are unspecified after a failure.
        return None;
    }
    for (o, (w, g)) in want.outputs.iter().zip(&got.outputs).enumerate() {
        let io = &p.outputs[o];
        let sz = io.elem.size();
        if w.len() != g.len() {
            return Some(format!(
                "request {k}: output {} has {} bytes, not {}",
                io.name,
                g.len(),
                w.len()
            ));
        }
        let bits = |b: &[u8], i: usize| {
            let mut raw = [0u8; 8];
            raw[..sz].copy_from_slice(&b[i * sz..(i + 1) * sz]);
            u64::from_le_bytes(raw)
        };
        let nan = |x: u64| match io.elem {
            Scalar::F32 => f32::from_bits(x as u32).is_nan(),
            Scalar::F64 => f64::from_bits(x).is_nan(),
            _ => false,
        };
        let mut diffs = vec![];
        for i in 0..w.len() / sz {
            let (wb, gb) = (bits(w, i), bits(g, i));
            // NaN payloads are not pinned: a C compiler may commute the operands of `+`
            // and `*`, and C libraries differ on signaling NaNs.
            if wb != gb
                && !(nan(wb) && nan(gb) && std::env::var_os("KILN_TEST_STRICT_NAN").is_none())
            {
                diffs.push(format!("[{i}] got 0x{gb:x}, interp 0x{wb:x}"));
            }
        }
        if !diffs.is_empty() {
            let n = diffs.len();
            diffs.truncate(4);
            return Some(format!(
                "request {k}: output {} ({}): {n} elements differ: {}",
                io.name,
                io.elem,
                diffs.join(", ")
            ));
        }
    }
    None
}

/// Runs every case on the given backends and compares with interp.
pub(crate) fn check_cases(
    cases: &[(Program, Vec<RunRequest>)],
    backends: &[NativeBackend],
    opts: &ExecOptions,
) {
    if !have_tools() {
        return;
    }
    let expected: Vec<Vec<RunResult>> = cases
        .iter()
        .map(|(p, rs)| rs.iter().map(|r| interp_run(p, r)).collect())
        .collect();
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
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn check(cases: &[(Program, Vec<RunRequest>)]) {
    check_cases(
        cases,
        &[NativeBackend::C, NativeBackend::Rust],
        &ExecOptions::from_env(),
    );
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
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&o).expect("read object");
    let _ = std::fs::remove_dir_all(&dir);
    bytes
}

// ---------------------------------------------------------------- helpers for API tests

/// A fresh directory for a test (the caller removes it).
pub(crate) fn scratch_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kiln-test-{tag}-{}", unique_suffix()));
    std::fs::create_dir_all(&d).expect("create test dir");
    d
}

/// Runs a command that must succeed; its stdout.
pub(crate) fn tool(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// What the API test programs print for a run: the status, then every output in hex.
pub(crate) fn expected_text(p: &Program, r: &RunRequest) -> String {
    let res = interp_run(p, r);
    let mut s = format!("{}\n", res.status);
    for o in &res.outputs {
        s.push_str(&hex(o));
        s.push('\n');
    }
    s
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
        let items: Vec<BatchItem> = vec![
            (&good, None, &reqs),
            (&bad, None, &reqs),
            (&good, None, &reqs),
        ];
        let r = run_native_batch(backend, &items).expect("infrastructure");
        assert!(
            r[0].is_ok() && r[2].is_ok(),
            "{backend:?}: {:?}",
            r.iter().map(|x| x.is_ok()).collect::<Vec<_>>()
        );
        let e = r[1]
            .as_ref()
            .expect_err("bad program must fail")
            .to_string();
        assert!(e.contains("verification"), "{e}");
    }
}

#[test]
fn bad_requests_are_reported() {
    let p = flow_program();
    let mut r = flow_requests(&p).remove(0);
    r.inputs.pop();
    assert!(matches!(
        run_native(NativeBackend::C, &p, None, &[r]),
        Err(Error::Internal(_))
    ));
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
    assert_eq!(
        u32::from_ne_bytes(enc[8..12].try_into().unwrap_or_default()),
        7
    );
    let mut resp = b"KILNRS01".to_vec();
    resp.extend(3i32.to_ne_bytes());
    resp.extend(2u32.to_ne_bytes());
    resp.extend(2u64.to_ne_bytes());
    resp.extend([9, 8]);
    resp.extend(0u64.to_ne_bytes());
    let (res, complete) = decode_responses(&resp, &reqs);
    assert!(complete);
    assert_eq!(
        res,
        vec![RunResult {
            status: 3,
            outputs: vec![vec![9, 8], vec![]]
        }]
    );
    let (res, complete) = decode_responses(&resp[..resp.len() - 9], &reqs);
    assert!(!complete && res.is_empty());
}

/// `Program::scratch_guard`: a kernel that writes one element past its scratch tensor, into
/// the neighbour that starts right after it in the same scratch area. ASan sees nothing
/// without the guard (the driver allocates the scratch as one block); with it (guard bytes
/// between the tensors, as the planner leaves them, and the C output poisoning all scratch
/// but the bytes of the tensors the running kernel uses) the write is reported. The
/// interpreter catches it too.
#[test]
fn scratch_guard_reports_an_overrun_under_asan() {
    if !have_tools() {
        return;
    }
    use ops::fixed;
    let build = |guard: u64| {
        let mut pb = Pb::new(if guard > 0 { "guarded" } else { "plain" });
        let x = pb.input("x", Scalar::F32, fixed(16));
        let a = pb.scratch("a", Scalar::F32, Expr::i64(16));
        if guard > 0 {
            // What the planner leaves after every value: bytes no buffer uses.
            pb.scratch("guard", Scalar::U8, Expr::i64(guard as i64));
        }
        let b = pb.scratch("b", Scalar::F32, Expr::i64(16));
        let y = pb.output("y", Scalar::F32, fixed(16));
        pb.kernel("overrun", |k| {
            k.loop_(Expr::i64(0), Expr::i64(16), |k, i| {
                k.store(b, i.clone(), kb::load(x, i))
            });
            // a[16] is b[0]: 17 stores into a tensor of 16.
            k.loop_(Expr::i64(0), Expr::i64(17), |k, i| {
                k.store(a, i, Expr::imm(Scalar::F32, 1.0))
            });
        });
        pb.kernel("copy", |k| {
            k.loop_(Expr::i64(0), Expr::i64(16), |k, i| {
                k.store(y, i.clone(), kb::load(b, i))
            });
        });
        let mut p = pb.finish();
        p.scratch_guard = guard;
        p
    };
    let x: Vec<u8> = (0..16).flat_map(|i| (i as f32).to_le_bytes()).collect();
    let opts = ExecOptions {
        cflags: vec![
            "-fsanitize=address".into(),
            "-fno-omit-frame-pointer".into(),
        ],
        ..ExecOptions::from_env()
    };
    let plain = build(0);
    let req = request(&plain, &[], vec![x.clone()]);
    let mut out = vec![0u8; 64];
    let mut scratch = vec![0u8; req.lens[2] as usize];
    let mut mem = Memory {
        inputs: vec![&req.inputs[0]],
        outputs: vec![&mut out],
        scratch: &mut scratch,
    };
    assert!(
        interp::run(&plain, &req.dims, &req.lens, &mut mem).is_err(),
        "the interpreter checks every access against its own buffer"
    );
    let run = |p: &Program| {
        let req = request(p, &[], vec![x.clone()]);
        run_native_batch_with(
            NativeBackend::C,
            &[(p, None, std::slice::from_ref(&req))],
            &opts,
        )
        .unwrap()
        .pop()
        .unwrap()
    };
    // Without the guard the store lands in b (b[0] becomes 1.0) and nothing is reported.
    let r = run(&plain).unwrap_or_else(|e| panic!("no ASan report expected: {e}"));
    assert_eq!(&r[0].outputs[0][..4], &1.0f32.to_le_bytes());
    let e = run(&build(64)).expect_err("ASan must report the overrun");
    assert!(e.to_string().contains("use-after-poison"), "{e}");
}
