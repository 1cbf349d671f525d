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

/// No global mutable state in what users link: the object (Cranelift) and the C backend's
/// output (compiled with the system C compiler) hold code and read-only data only: no
/// `.data`/`.bss` symbols of any kind (nm types D, d, B, b, C, G, g, S, s, V).
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
        for emit in [kiln::Emit::Object, kiln::Emit::C] {
            let files = kiln::compile::emit(&c.program, emit, &target).unwrap();
            kiln::compile::write_files(&out, &files).unwrap();
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
