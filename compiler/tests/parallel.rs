//! `NAME_run_parallel` (ABI 7): a model run with the caller's parallel-for on 2 and 3
//! threads gives the interpreter's bits on the object, C and Rust backends (the drivers call
//! `run_parallel` with a thread pool when `KILN_EXEC_THREADS` is above 1). The model's
//! calls are large enough to be split every way the shim splits: a 3 x 3 convolution (by
//! output rows), a depthwise one (by groups), max pooling (by groups), a MatMul with a wide
//! B (by columns) and a Gemm with many weight rows (by rows). The shim's own tests check
//! that the parallel-for is really called and that every split of every kernel is exact
//! (`runtime-shim/tests/gemm.rs`). One test in this binary: it sets the environment.

mod common;
use common::*;
use kiln::run::Backend;
use kiln::tensor::DType;

fn split_model() -> kiln::onnx::proto::ModelProto {
    let w1 = f32s(&[32, 16, 3, 3], |i| rnd(i) * 0.2);
    let b1 = f32s(&[32], |i| rnd(i + 7));
    let wd = f32s(&[32, 1, 3, 3], |i| rnd(i + 11) * 0.5);
    let wm = f32s(&[40, 512], |i| rnd(i + 13) * 0.1);
    let wg = f32s(&[600, 256], |i| rnd(i + 17) * 0.05);
    let bg = f32s(&[600], |i| rnd(i + 19));
    let nodes = vec![
        node(
            "Conv",
            "conv",
            &["x", "w1", "b1"],
            &["c1"],
            vec![
                ("kernel_shape", A::Is(vec![3, 3])),
                ("pads", A::Is(vec![1, 1, 1, 1])),
            ],
        ),
        node("Relu", "relu", &["c1"], &["r1"], vec![]),
        node(
            "Conv",
            "dw",
            &["r1", "wd"],
            &["c2"],
            vec![
                ("kernel_shape", A::Is(vec![3, 3])),
                ("pads", A::Is(vec![1, 1, 1, 1])),
                ("group", A::I(32)),
            ],
        ),
        node(
            "MaxPool",
            "pool",
            &["c2"],
            &["p"],
            vec![
                ("kernel_shape", A::Is(vec![3, 3])),
                ("pads", A::Is(vec![1, 1, 1, 1])),
            ],
        ),
        // (1, 32, 40, 40) x (40, 512): 1280 rows of a wide product.
        node("MatMul", "mm", &["p", "wm"], &["m"], vec![]),
        // (4, 256) x (256, 600): many weight rows.
        node(
            "Gemm",
            "fc",
            &["z", "wg", "bg"],
            &["y"],
            vec![("transB", A::I(1))],
        ),
    ];
    model(
        13,
        vec![
            vi("x", DType::F32, &[D::K(1), D::K(16), D::K(40), D::K(40)]),
            vi("z", DType::F32, &[D::K(4), D::K(256)]),
        ],
        vec![
            vi("y", DType::F32, &[]),
            vi("m", DType::F32, &[]),
            vi("c1", DType::F32, &[]),
        ],
        nodes,
        vec![
            init("w1", &w1),
            init("b1", &b1),
            init("wd", &wd),
            init("wm", &wm),
            init("wg", &wg),
            init("bg", &bg),
        ],
    )
}

#[test]
fn run_parallel_equals_interp_bits() {
    let c = compile(&split_model()).expect("compiles");
    let xs = [
        f32s(&[1, 16, 40, 40], |i| rnd(i + 23)),
        f32s(&[4, 256], |i| rnd(i + 29)),
    ];
    let native: Vec<Backend> = backends()
        .into_iter()
        .filter(|b| matches!(b, Backend::Object | Backend::C | Backend::Rust))
        .collect();
    if native.is_empty() {
        eprintln!("no native backend in KILN_TEST_BACKENDS: skipped");
        return;
    }
    let reference = run_all(&c, &xs);
    for threads in ["2", "3"] {
        // SAFETY (edition 2024 wording): the only test of this binary; no other thread
        // reads the environment meanwhile.
        #[allow(unused_unsafe)]
        unsafe {
            std::env::set_var("KILN_EXEC_THREADS", threads)
        };
        for &b in &native {
            let got = run_on(&c, b, &xs).unwrap_or_else(|e| panic!("{b}: {e}"));
            assert_eq!(got.len(), reference.len());
            for (k, (g, r)) in got.iter().zip(&reference).enumerate() {
                assert_eq!(g.shape, r.shape);
                assert!(
                    g.bytes() == r.bytes(),
                    "{b} on {threads} threads: output {k} differs from the interpreter"
                );
            }
        }
    }
}
