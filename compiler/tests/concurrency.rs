//! Re-entrancy: generated code keeps no global mutable state, so one compiled model runs
//! from many threads at once, each with its own inputs, outputs and scratch, and every result
//! equals the interpreter's for the same inputs.

mod common;
use common::*;
use kiln::run::{self, Backend};
use std::path::Path;

#[test]
fn one_jit_program_many_threads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/models/tiny_mlp/model.onnx");
    let c = kiln::compile::compile_file(&path, &kiln::Options::new("m")).unwrap();
    let p = &c.program;
    let jit = run::load(p, Backend::Jit).unwrap();
    let interp = run::load(p, Backend::Interp).unwrap();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let (jit, interp) = (&jit, &interp);
                s.spawn(move || {
                    for round in 0..50 {
                        let batch = 1 + (t + round) % 7;
                        let x = f32s(&[batch as u64, 8], |i| rnd(i + 1000 * t + 7 * round));
                        let prep = run::prepare(p, std::slice::from_ref(&x)).unwrap();
                        let got = run::execute(p, jit, &[&prep]).unwrap().pop().unwrap();
                        let got = run::outputs(p, &prep, got).unwrap();
                        let want = run::execute(p, interp, &[&prep]).unwrap().pop().unwrap();
                        let want = run::outputs(p, &prep, want).unwrap();
                        assert_eq!(got[0].bytes(), want[0].bytes(), "thread {t} round {round}");
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    });
}

/// What users link, run from many threads in one process: the Cranelift object and the C
/// backend's output of one model, linked into one C program with the shim, 8 threads x 200
/// cases each with its own buffers (`concurrency/threads.c`). Every threaded result must equal
/// the single-threaded pass bit for bit, and that pass must equal Kiln's interpreter (the
/// object bit for bit, the C output within 1e-6). Where the C compiler supports it, the same
/// program runs again under ThreadSanitizer, which fails on any data race in generated code.
#[test]
fn native_artifacts_many_threads() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = std::env::temp_dir().join(format!("kiln-threads-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    let model = root.join("examples/models/tiny_mlp/model.onnx");
    let target = kiln_targets::Target::host();
    let mut program = None;
    for (name, emit) in [("mo", kiln::Emit::Object), ("mc", kiln::Emit::C)] {
        let c = kiln::compile::compile_file(&model, &kiln::Options::new(name)).unwrap();
        let files = kiln::compile::emit(&c.program, emit, &target).unwrap();
        kiln::compile::write_files(&out, &files).unwrap();
        program = Some(c.program);
    }
    let p = program.unwrap();
    let shim = kiln::backend::shim::cached_shim(None).unwrap();
    let build = |exe: &str, extra: &[&str]| -> bool {
        std::process::Command::new("cc")
            .args(["-O1", "-g", "-pthread"])
            .args(extra)
            .arg("-I")
            .arg(&out)
            .arg("-I")
            .arg(root.join("runtime-shim/include"))
            .arg(root.join("compiler/tests/concurrency/threads.c"))
            .arg(out.join("mo.o"))
            .arg(out.join("mc.c"))
            .arg(&shim.staticlib)
            .args(["-lm", "-o"])
            .arg(out.join(exe))
            .status()
            .unwrap()
            .success()
    };
    let run = |exe: &str, refs: &str| -> std::process::Output {
        std::process::Command::new(out.join(exe))
            .arg(out.join(refs))
            .output()
            .unwrap()
    };
    assert!(build("threads", &[]), "cc threads.c");
    let o = run("threads", "refs.bin");
    assert!(
        o.status.success(),
        "threads: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    println!("{}", String::from_utf8_lossy(&o.stdout).trim());

    // The single-threaded pass against the interpreter.
    let interp = run::load(&p, Backend::Interp).unwrap();
    let refs = std::fs::read(out.join("refs.bin")).unwrap();
    let f32s_at = |at: &mut usize, n: usize| -> Vec<f32> {
        let v = refs[*at..*at + 4 * n]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        *at += 4 * n;
        v
    };
    let (mut at, mut cases) = (0usize, 0);
    while at < refs.len() {
        let b = i64::from_le_bytes(refs[at..at + 8].try_into().unwrap()) as usize;
        at += 8;
        let x = f32s_at(&mut at, b * 8);
        let (po, pc) = (f32s_at(&mut at, b * 4), f32s_at(&mut at, b * 4));
        let x = kiln::tensor::Tensor::from_f32(vec![b as u64, 8], &x);
        let prep = run::prepare(&p, std::slice::from_ref(&x)).unwrap();
        let want = run::execute(&p, &interp, &[&prep]).unwrap().pop().unwrap();
        let want = to_f32(&run::outputs(&p, &prep, want).unwrap()[0]);
        for i in 0..want.len() {
            assert_eq!(
                want[i].to_bits(),
                po[i].to_bits(),
                "case {cases} [{i}]: object vs interp"
            );
            assert!(
                (want[i] - pc[i]).abs() <= 1e-6,
                "case {cases} [{i}]: C {} vs interp {}",
                pc[i],
                want[i]
            );
        }
        cases += 1;
    }
    assert_eq!(cases, 8 * 200);

    // Under ThreadSanitizer, where the toolchain has it (a trivial program is tried first).
    let probe = out.join("probe.c");
    std::fs::write(&probe, "int main(void) { return 0; }\n").unwrap();
    let tsan_ok = std::process::Command::new("cc")
        .args(["-fsanitize=thread", "-o"])
        .arg(out.join("probe"))
        .arg(&probe)
        .status()
        .is_ok_and(|s| s.success())
        && std::process::Command::new(out.join("probe"))
            .status()
            .is_ok_and(|s| s.success());
    if tsan_ok {
        assert!(
            build("threads-tsan", &["-fsanitize=thread"]),
            "cc -fsanitize=thread threads.c"
        );
        let o = run("threads-tsan", "refs-tsan.bin");
        assert!(
            o.status.success(),
            "threads under ThreadSanitizer: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        println!("ThreadSanitizer: clean");
    } else {
        println!("ThreadSanitizer: not available with this C compiler; ran without it");
    }
    std::fs::remove_dir_all(&out).unwrap();
}

/// No global mutable state in what users link: the object (Cranelift) and the C backend's
/// output (compiled with the system C compiler) hold code and read-only data only: no
/// `.data`/`.bss` symbols of any kind (nm types D, d, B, b, C, G, g, S, s, V); the Rust
/// backend's output declares no mutable or interior-mutable statics.
#[test]
fn artifacts_have_no_writable_data() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = std::env::temp_dir().join(format!("kiln-conc-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    let mut models: Vec<_> = std::fs::read_dir(root.join("examples/models"))
        .unwrap()
        .map(|e| e.unwrap().path().join("model.onnx"))
        .filter(|p| p.exists())
        .collect();
    models.sort();
    assert!(!models.is_empty());
    let target = kiln_targets::Target::host();
    for (k, m) in models.iter().enumerate() {
        let name = format!("m{k}");
        let c = kiln::compile::compile_file(m, &kiln::Options::new(&name)).unwrap();
        let mut objs = vec![];
        for emit in [kiln::Emit::Object, kiln::Emit::C, kiln::Emit::Rust] {
            let files = kiln::compile::emit(&c.program, emit, &target).unwrap();
            kiln::compile::write_files(&out, &files).unwrap();
        }
        // The Rust output: no mutable statics, thread-locals, atomics or interior mutability.
        let rs = std::fs::read_to_string(out.join(format!("{name}.rs"))).unwrap();
        for bad in [
            "static mut",
            "thread_local",
            "Atomic",
            "Cell<",
            "UnsafeCell",
            "OnceLock",
        ] {
            assert!(
                !rs.contains(bad),
                "{name}.rs ({}) contains `{bad}`",
                m.display()
            );
        }
        objs.push(out.join(format!("{name}.o")));
        let c_obj = out.join(format!("{name}_c.o"));
        let st = std::process::Command::new("cc")
            .args(["-c", "-O1", "-I"])
            .arg(root.join("runtime-shim/include"))
            .arg(out.join(format!("{name}.c")))
            .arg("-o")
            .arg(&c_obj)
            .status()
            .unwrap();
        assert!(st.success(), "cc {}", m.display());
        objs.push(c_obj);
        for o in objs {
            let nm = std::process::Command::new("nm").arg(&o).output().unwrap();
            assert!(nm.status.success(), "nm {}", o.display());
            let text = String::from_utf8_lossy(&nm.stdout).to_string();
            let mut syms = 0;
            for line in text.lines() {
                let f: Vec<&str> = line.split_whitespace().collect();
                let ty = f[f.len() - 2];
                syms += 1;
                assert!(
                    !matches!(
                        ty,
                        "D" | "d" | "B" | "b" | "C" | "G" | "g" | "S" | "s" | "V"
                    ),
                    "{} ({}): writable symbol: {line}",
                    o.display(),
                    m.display()
                );
            }
            assert!(syms > 0, "{}: no symbols", o.display());
        }
    }
    std::fs::remove_dir_all(&out).unwrap();
}
