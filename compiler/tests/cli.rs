//! The `kiln` binary on bad input: a clear one-line error, exit status 2, no panic, and no
//! output files left behind. Also the happy paths of compile, run, inspect and check on the
//! example models that ship in the repository.

mod common;
use common::*;
use kiln::tensor::{DType, Tensor};
use std::path::{Path, PathBuf};
use std::process::Command;

fn kiln() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kiln"))
}

fn tmp(name: &str) -> PathBuf {
    // Unique per call: tests run in parallel.
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let k = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("kiln-cli-{}-{k}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Run `kiln compile` on a model file; expect failure; return stderr.
fn compile_fails(model: &Path, extra: &[&str]) -> String {
    let out = tmp("out");
    let o = kiln()
        .arg("compile")
        .arg(model)
        .args(["-o", out.to_str().unwrap()])
        .args(extra)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("kiln: error: "), "{err}");
    let left: Vec<_> = std::fs::read_dir(&out).unwrap().collect();
    assert!(left.is_empty(), "files left behind: {left:?}");
    err
}

#[test]
fn missing_garbage_and_truncated_files() {
    let d = tmp("bad");
    let e = compile_fails(&d.join("nope.onnx"), &[]);
    assert!(e.contains("nope.onnx"), "{e}");
    std::fs::write(
        d.join("garbage.onnx"),
        b"\xff\xfe this is not protobuf \x00\x01\x02",
    )
    .unwrap();
    compile_fails(&d.join("garbage.onnx"), &[]);
    let good = std::fs::read(repo().join("examples/models/tiny_mlp/model.onnx")).unwrap();
    for cut in [1, 10, good.len() / 2, good.len() - 3] {
        std::fs::write(d.join("trunc.onnx"), &good[..cut]).unwrap();
        compile_fails(&d.join("trunc.onnx"), &[]);
    }
}

#[test]
fn unknown_dtype_negative_and_absurd_dims() {
    let d = tmp("dims");
    // A graph input with an unknown element type.
    let mut m = model(
        17,
        vec![vi("x", DType::F32, &[D::K(2)])],
        vec![vi("y", DType::F32, &[D::K(2)])],
        vec![node("Relu", "r", &["x"], &["y"], vec![])],
        vec![],
    );
    if let Some(kiln::onnx::proto::type_proto::Value::TensorType(t)) =
        m.graph.as_mut().unwrap().input[0]
            .r#type
            .as_mut()
            .unwrap()
            .value
            .as_mut()
    {
        t.elem_type = Some(77);
    }
    std::fs::write(d.join("m.onnx"), bytes(&m)).unwrap();
    let e = compile_fails(&d.join("m.onnx"), &[]);
    assert!(e.contains("77") || e.contains("type"), "{e}");
    // A negative input dim.
    let m = model(
        17,
        vec![vi("x", DType::F32, &[D::K(-3)])],
        vec![vi("y", DType::F32, &[])],
        vec![node("Relu", "r", &["x"], &["y"], vec![])],
        vec![],
    );
    std::fs::write(d.join("m.onnx"), bytes(&m)).unwrap();
    compile_fails(&d.join("m.onnx"), &[]);
    // A tensor of 2^40 elements from a Reshape of a broadcast... simplest: an initializer that
    // claims 2^40 elements but holds none.
    let mut big = kiln::onnx::tensor_to_proto(&Tensor::from_f32(vec![1], &[1.0]));
    big.dims = vec![1 << 20, 1 << 20];
    big.name = Some("w".into());
    let m = model(
        17,
        vec![vi("x", DType::F32, &[D::K(1)])],
        vec![vi("y", DType::F32, &[])],
        vec![node("Add", "a", &["x", "w"], &["y"], vec![])],
        vec![big],
    );
    std::fs::write(d.join("m.onnx"), bytes(&m)).unwrap();
    compile_fails(&d.join("m.onnx"), &[]);
    // Broadcasting to 2^40 elements from small inputs.
    let m = model(
        17,
        vec![
            vi("a", DType::F32, &[D::K(1 << 20), D::K(1)]),
            vi("b", DType::F32, &[D::K(1 << 20)]),
        ],
        vec![vi("y", DType::F32, &[])],
        vec![node("Add", "a", &["a", "b"], &["y"], vec![])],
        vec![],
    );
    std::fs::write(d.join("m.onnx"), bytes(&m)).unwrap();
    let e = compile_fails(&d.join("m.onnx"), &[]);
    assert!(e.contains("node a"), "{e}");
}

#[test]
fn unsupported_op_error_lists_nodes() {
    let d = tmp("unsup");
    let m = model(
        17,
        vec![vi("x", DType::F32, &[D::K(2)])],
        vec![vi("y", DType::F32, &[])],
        vec![node("NoSuchOp", "weird", &["x"], &["y"], vec![])],
        vec![],
    );
    std::fs::write(d.join("m.onnx"), bytes(&m)).unwrap();
    let e = compile_fails(&d.join("m.onnx"), &[]);
    assert!(e.contains("NoSuchOp") && e.contains("weird"), "{e}");
}

#[test]
fn bad_options() {
    let m = repo().join("examples/models/linreg/model.onnx");
    assert!(compile_fails(&m, &["--dim", "M=3"]).contains("no symbolic dim 'M'"));
    assert!(compile_fails(&m, &["--emit", "wasm"]).contains("--emit"));
    assert!(compile_fails(&m, &["--name", "1bad"]).contains("C identifier"));
    assert!(compile_fails(&m, &["--target", "no-such-triple-at-all"]).contains("no-such"));
}

#[test]
fn compile_every_backend_is_deterministic() {
    let m = repo().join("examples/models/tiny_mlp/model.onnx");
    for emit in ["object", "c", "rust"] {
        let mut outs = vec![];
        for k in 0..2 {
            let out = tmp(&format!("det-{emit}-{k}"));
            let o = kiln()
                .args([
                    "compile",
                    m.to_str().unwrap(),
                    "--emit",
                    emit,
                    "--name",
                    "mlp",
                    "-o",
                ])
                .arg(&out)
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&out)
                .unwrap()
                .map(|e| {
                    let e = e.unwrap();
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        std::fs::read(e.path()).unwrap(),
                    )
                })
                .collect();
            files.sort();
            outs.push(files);
        }
        assert!(!outs[0].is_empty());
        assert_eq!(outs[0], outs[1], "{emit} output differs between runs");
    }
}

#[test]
fn run_writes_npy_and_rejects_wrong_shapes() {
    let d = tmp("run");
    let m = repo().join("examples/models/linreg/model.onnx");
    let x = Tensor::from_f32(vec![3, 2], &[0.0, 0.0, 1.0, 1.0, 2.0, 2.0]);
    std::fs::write(d.join("x.npy"), kiln::npy::to_npy_bytes(&x)).unwrap();
    let o = kiln()
        .args(["run", m.to_str().unwrap(), "--input"])
        .arg(format!("X={}", d.join("x.npy").display()))
        .arg("-o")
        .arg(d.join("out"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let y = kiln::npy::read_npy(&d.join("out/y.npy")).unwrap();
    assert_eq!(y.shape, vec![3]);
    assert_eq!(to_f32(&y), vec![1.0, 2.0, 3.0]);
    // Wrong shape: names the input and what was expected.
    let bad = Tensor::from_f32(vec![2, 3], &[0.0; 6]);
    std::fs::write(d.join("bad.npy"), kiln::npy::to_npy_bytes(&bad)).unwrap();
    let o = kiln()
        .args(["run", m.to_str().unwrap(), "--input"])
        .arg(format!("X={}", d.join("bad.npy").display()))
        .arg("-o")
        .arg(d.join("out2"))
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(e.contains("input 'X'") && e.contains("(N, 2)"), "{e}");
}

#[test]
fn inspect_prints_graph_and_plan() {
    let d = tmp("inspect");
    let m = repo().join("examples/models/tiny_mlp/model.onnx");
    let o = kiln()
        .args(["inspect", m.to_str().unwrap(), "--dot"])
        .arg(d.join("g.dot"))
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for want in [
        "Gemm",
        "Softmax",
        "flops",
        "scratch bytes",
        "live nodes",
        "batch",
    ] {
        assert!(s.contains(want), "missing {want} in:\n{s}");
    }
    assert!(std::fs::read_to_string(d.join("g.dot"))
        .unwrap()
        .starts_with("digraph"));
}

#[test]
fn check_reports_pass_lines_and_summary() {
    let o = kiln()
        .args(["check"])
        .arg(repo().join("examples/models"))
        .args(["--backend", "interp,jit"])
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{s}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(s.contains("PASS") && s.contains("[jit]"), "{s}");
    assert_eq!(
        s.trim().lines().last().unwrap(),
        "4 passed, 0 failed",
        "{s}"
    );
}

#[test]
fn dim_specialises_and_symbolic_scratch_is_a_function_of_n() {
    let m = repo().join("examples/models/linreg/model.onnx");
    let sym = tmp("sym");
    let o = kiln()
        .args([
            "compile",
            m.to_str().unwrap(),
            "--emit",
            "c",
            "--name",
            "lr",
            "-o",
        ])
        .arg(&sym)
        .output()
        .unwrap();
    assert!(o.status.success());
    let h = std::fs::read_to_string(sym.join("lr.h")).unwrap();
    assert!(
        h.contains("#define lr_NUM_DIMS 1") && h.contains("lr_scratch_size(const int64_t *dims)"),
        "{h}"
    );
    assert!(h.contains("dims[0]"), "scratch size depends on N:\n{h}");
    let fixed = tmp("fixed");
    let o = kiln()
        .args([
            "compile",
            m.to_str().unwrap(),
            "--emit",
            "c",
            "--name",
            "lr",
            "--dim",
            "N=3",
            "-o",
        ])
        .arg(&fixed)
        .output()
        .unwrap();
    assert!(o.status.success());
    let h = std::fs::read_to_string(fixed.join("lr.h")).unwrap();
    assert!(
        !h.contains("dims[0]"),
        "specialised header still reads dims:\n{h}"
    );
    assert!(h.contains("shape [3, 2]"), "{h}");
}
