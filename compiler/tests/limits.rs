//! Resource limits (`kiln::Limits`, `kiln compile --max-*`) and atomic output files: a model
//! declaring enormous tensors, too many nodes or too deep subgraphs, or initializers bigger
//! than its file gets a clear error naming the culprit before memory runs out.

mod common;
use common::*;
use kiln::onnx::proto::{tensor_proto::DataLocation, StringStringEntryProto, TensorProto};
use kiln::tensor::{DType, Tensor};
use kiln::{Error, Limits, Options};
use std::path::{Path, PathBuf};

fn tmp(name: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let k = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("kiln-limits-{}-{k}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn compile_with(
    m: &kiln::onnx::proto::ModelProto,
    limits: Limits,
) -> kiln::Result<kiln::compile::Compiled> {
    let g = kiln::onnx::import_with(m, Path::new("."), &limits)?;
    let mut o = Options::new("t");
    o.limits = limits;
    kiln::compile::compile_graph(g, &o)
}

fn limit_msg(r: kiln::Result<kiln::compile::Compiled>) -> String {
    match r {
        Err(Error::Limit(m)) => m,
        Err(e) => panic!("expected a limit error, got: {e}"),
        Ok(_) => panic!("expected a limit error, the model compiled"),
    }
}

/// y = x + w, with `w` a float initializer of `dims` holding `data` floats.
fn add_init(dims: Vec<i64>, data: usize) -> kiln::onnx::proto::ModelProto {
    let w = TensorProto {
        name: Some("w".into()),
        dims: dims.clone(),
        data_type: Some(DType::F32.to_onnx()),
        raw_data: Some(vec![0; data * 4]),
        ..Default::default()
    };
    let d: Vec<D> = dims.iter().map(|v| D::K(*v)).collect();
    model(
        17,
        vec![vi("x", DType::F32, &d)],
        vec![vi("y", DType::F32, &d)],
        vec![node("Add", "add", &["x", "w"], &["y"], vec![])],
        vec![w],
    )
}

#[test]
fn initializer_larger_than_the_limit_is_rejected_before_reading() {
    // 4 TiB declared, 16 bytes present: the size limit names the tensor.
    let m = add_init(vec![1 << 20, 1 << 20], 4);
    let msg = limit_msg(compile_with(&m, Limits::default()));
    assert!(
        msg.contains("'w'") && msg.contains("max-tensor-bytes"),
        "{msg}"
    );
    // Within the limit but bigger than the data the file holds: a model error.
    let m = add_init(vec![1 << 10, 1 << 10], 4);
    match compile_with(&m, Limits::default()) {
        Err(Error::Model(e)) => assert!(
            e.contains("'w'") && e.contains("raw_data has 16 bytes"),
            "{e}"
        ),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("compiled"),
    }
    // A lower limit rejects a tensor the default accepts.
    let m = add_init(vec![4, 4], 16);
    assert!(compile_with(&m, Limits::default()).is_ok());
    let small = Limits {
        max_tensor_bytes: 32,
        ..Limits::default()
    };
    let msg = limit_msg(compile_with(&m, small));
    assert!(msg.contains("64 bytes"), "{msg}");
}

#[test]
fn external_data_bigger_than_its_file_is_rejected() {
    let d = tmp("ext");
    std::fs::write(d.join("w.bin"), [0u8; 64]).unwrap();
    let mut m = add_init(vec![1024], 0);
    let w = &mut m.graph.as_mut().unwrap().initializer[0];
    w.raw_data = None;
    w.data_location = Some(DataLocation::External as i32);
    w.external_data = vec![StringStringEntryProto {
        key: Some("location".into()),
        value: Some("w.bin".into()),
    }];
    let e = kiln::onnx::import(&m, &d).unwrap_err().to_string();
    assert!(
        e.contains("'w'") && e.contains("64 bytes, expected 4096"),
        "{e}"
    );
    w_len(&mut m, "1000000000000");
    let e = kiln::onnx::import(&m, &d).unwrap_err().to_string();
    assert!(e.contains("'w'") && e.contains("past the end"), "{e}");
    std::fs::remove_dir_all(&d).unwrap();
}

fn w_len(m: &mut kiln::onnx::proto::ModelProto, len: &str) {
    let w = &mut m.graph.as_mut().unwrap().initializer[0];
    w.external_data.push(StringStringEntryProto {
        key: Some("length".into()),
        value: Some(len.into()),
    });
}

#[test]
fn huge_inputs_and_inferred_tensors_are_rejected() {
    // A declared input of 2^33 floats (32 GiB).
    let m = model(
        17,
        vec![vi("x", DType::F32, &[D::K(1 << 17), D::K(1 << 16)])],
        vec![vi("y", DType::F32, &[D::K(1 << 17), D::K(1 << 16)])],
        vec![node("Relu", "r", &["x"], &["y"], vec![])],
        vec![],
    );
    let msg = limit_msg(compile_with(&m, Limits::default()));
    assert!(
        msg.contains("input 'x'") && msg.contains("34359738368 bytes"),
        "{msg}"
    );
    // An inferred output: Expand of a small input to 2^32 x 4 floats.
    let shape = Tensor::from_i64(vec![2], &[1 << 32, 4]);
    let m = model(
        17,
        vec![vi("x", DType::F32, &[D::K(1), D::K(4)])],
        vec![vi("y", DType::F32, &[D::S("a"), D::S("b")])],
        vec![node("Expand", "grow", &["x", "s"], &["y"], vec![])],
        vec![init("s", &shape)],
    );
    let msg = limit_msg(compile_with(&m, Limits::default()));
    assert!(msg.contains("grow") && msg.contains("Expand"), "{msg}");
}

fn chain(n: usize) -> kiln::onnx::proto::ModelProto {
    let names: Vec<String> = (0..=n).map(|k| format!("v{k}")).collect();
    let nodes = (0..n)
        .map(|k| {
            node(
                "Neg",
                &format!("n{k}"),
                &[&names[k]],
                &[&names[k + 1]],
                vec![],
            )
        })
        .collect();
    model(
        17,
        vec![vi("v0", DType::F32, &[D::K(2)])],
        vec![vi(&names[n], DType::F32, &[D::K(2)])],
        nodes,
        vec![],
    )
}

#[test]
fn node_count_limit() {
    let m = chain(10);
    assert!(compile_with(&m, Limits::default()).is_ok());
    let l = Limits {
        max_nodes: 9,
        ..Limits::default()
    };
    let msg = limit_msg(compile_with(&m, l));
    assert!(msg.contains("max-nodes") && msg.contains("n9"), "{msg}");
}

/// `depth` Ifs nested in each other's then-branch; the innermost returns x.
fn nested_if(depth: usize) -> kiln::onnx::proto::ModelProto {
    use kiln::onnx::proto::GraphProto;
    let mut body = GraphProto {
        name: Some(format!("g{depth}")),
        node: vec![node("Identity", "id", &["x"], &["o"], vec![])],
        output: vec![vi("o", DType::F32, &[D::K(2)])],
        ..Default::default()
    };
    for k in (0..depth).rev() {
        let n = node(
            "If",
            &format!("if{k}"),
            &["c"],
            &["o"],
            vec![
                ("then_branch", A::G(body.clone())),
                ("else_branch", A::G(body)),
            ],
        );
        body = GraphProto {
            name: Some(format!("g{k}")),
            node: vec![n],
            output: vec![vi("o", DType::F32, &[D::K(2)])],
            ..Default::default()
        };
    }
    let mut m = model(
        17,
        vec![vi("x", DType::F32, &[D::K(2)]), vi("c", DType::Bool, &[])],
        vec![vi("o", DType::F32, &[D::K(2)])],
        body.node,
        vec![],
    );
    m.graph.as_mut().unwrap().name = Some("main".into());
    m
}

#[test]
fn subgraph_depth_limit() {
    let m = nested_if(4);
    let ok = Limits {
        max_depth: 4,
        ..Limits::default()
    };
    kiln::onnx::import_with(&m, Path::new("."), &ok).expect("4 levels import with --max-depth 4");
    let l = Limits {
        max_depth: 3,
        ..Limits::default()
    };
    match kiln::onnx::import_with(&m, Path::new("."), &l) {
        Err(Error::Limit(msg)) => {
            assert!(msg.contains("max-depth 3") && msg.contains("'g4'"), "{msg}")
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("imported"),
    }
}

#[test]
fn fold_limit_moves_big_constants_to_run_time() {
    // y = x + (c * 2) with c a 64-float constant: folded by default, computed at run time
    // under a 16-byte fold limit; both give the same result.
    let c = Tensor::from_f32(vec![64], &(0..64).map(|i| i as f32).collect::<Vec<_>>());
    let two = Tensor::from_f32(vec![], &[2.0]);
    let m = model(
        17,
        vec![vi("x", DType::F32, &[D::K(64)])],
        vec![vi("y", DType::F32, &[D::K(64)])],
        vec![
            node("Mul", "double", &["c", "two"], &["d"], vec![]),
            node("Add", "add", &["x", "d"], &["y"], vec![]),
        ],
        vec![init("c", &c), init("two", &two)],
    );
    let x = Tensor::from_f32(vec![64], &vec![0.5; 64]);
    let folded = compile_with(&m, Limits::default()).unwrap();
    let l = Limits {
        max_fold_bytes: 16,
        ..Limits::default()
    };
    let unfolded = compile_with(&m, l).unwrap();
    assert_eq!(folded.model.graph.nodes.len(), 1, "Mul folded by default");
    // Left to run time, where `fuse-elementwise` makes the Mul and the Add one node.
    let kinds: Vec<&str> = unfolded
        .model
        .graph
        .nodes
        .iter()
        .map(|n| n.op_type.as_str())
        .collect();
    assert_eq!(kinds, ["Mul+Add"], "Mul left to run time");
    let a = run_on(
        &folded,
        kiln::run::Backend::Interp,
        std::slice::from_ref(&x),
    )
    .unwrap();
    let b = run_on(&unfolded, kiln::run::Backend::Interp, &[x]).unwrap();
    assert_eq!(a, b);
    let want: Vec<f32> = (0..64).map(|i| 0.5 + 2.0 * i as f32).collect();
    assert_eq!(to_f32(&a[0]), want);
}

#[test]
fn cli_limit_flags() {
    let d = tmp("cli");
    let p = d.join("m.onnx");
    std::fs::write(&p, bytes(&add_init(vec![4, 4], 16))).unwrap();
    let run = |extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_kiln"))
            .arg("compile")
            .arg(&p)
            .args(["--emit", "c", "-o"])
            .arg(d.join("out"))
            .args(extra)
            .output()
            .unwrap()
    };
    let o = run(&["--max-tensor-bytes", "32"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("'w'") && err.contains("max-tensor-bytes 32"),
        "{err}"
    );
    assert!(!d.join("out/m.c").exists(), "no output after an error");
    let o = run(&["--max-tensor-bytes", "12Q"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--max-tensor-bytes"));
    let o = run(&[
        "--max-tensor-bytes",
        "1K",
        "--max-nodes",
        "8",
        "--max-fold-bytes",
        "1M",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(d.join("out/m.c").exists() && d.join("out/m.h").exists());
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn output_files_are_written_atomically() {
    let d = tmp("atomic");
    let files = vec![
        ("a.o".to_string(), vec![1u8; 1000]),
        ("a.h".to_string(), b"header".to_vec()),
    ];
    std::fs::write(d.join("a.o"), b"old").unwrap();
    kiln::compile::write_files(&d, &files).unwrap();
    assert_eq!(std::fs::read(d.join("a.o")).unwrap(), vec![1u8; 1000]);
    assert_eq!(std::fs::read(d.join("a.h")).unwrap(), b"header");
    // No temporary file is left behind.
    let mut names: Vec<String> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["a.h", "a.o"]);
    // A failed write (the target is a directory) leaves the target and no temporary file.
    std::fs::create_dir(d.join("dir.o")).unwrap();
    std::fs::write(d.join("dir.o/keep"), b"k").unwrap();
    assert!(kiln::compile::write_atomic(&d.join("dir.o"), b"new").is_err());
    assert_eq!(std::fs::read(d.join("dir.o/keep")).unwrap(), b"k");
    assert_eq!(std::fs::read_dir(&d).unwrap().count(), 3);
    // Concurrent writers of one file: every reader sees one whole version.
    let path = d.join("c.o");
    std::thread::scope(|s| {
        for k in 0..8u8 {
            let path = &path;
            s.spawn(move || {
                for _ in 0..20 {
                    kiln::compile::write_atomic(path, &vec![k; 4096]).unwrap();
                    let got = std::fs::read(path).unwrap();
                    assert_eq!(got.len(), 4096);
                    assert!(got.iter().all(|b| *b == got[0]), "a torn file");
                }
            });
        }
    });
    assert_eq!(
        std::fs::read_dir(&d).unwrap().count(),
        4,
        "temporary files left"
    );
    std::fs::remove_dir_all(&d).unwrap();
}
