//! Epilogue fusion (`passes::fuse`): a Conv absorbs a following residual Add and Relu/Clip
//! only where that keeps every bit. The fused and unfused programs are compared element by
//! element (NaN, infinities and signed zeros in the input) on every backend, and the fused
//! graph is checked to have lost exactly the absorbed nodes.

mod common;
use common::*;
use kiln::tensor::{DType, Tensor};

fn weights(name: &str, shape: &[u64], seed: usize) -> kiln::onnx::proto::TensorProto {
    init(name, &f32s(shape, |i| rnd(i * 7 + seed) * 0.5))
}

fn scalar(name: &str, v: f32) -> kiln::onnx::proto::TensorProto {
    init(name, &Tensor::from_f32(vec![], &[v]))
}

/// conv_a(x) + conv_b(x) (the residual computed after conv_a in node order) -> Relu ->
/// depthwise conv -> Clip(0, 6) -> MaxPool, plus a Conv whose output is also a graph output
/// and a Clip with a -0 bound (neither may fuse).
fn fuse_model() -> kiln::onnx::proto::ModelProto {
    let conv = |name: &str, ins: &[&str], out: &str, k: i64, pad: i64, group: i64| {
        node(
            "Conv",
            name,
            ins,
            &[out],
            vec![
                ("kernel_shape", A::Is(vec![k, k])),
                ("pads", A::Is(vec![pad; 4])),
                ("group", A::I(group)),
            ],
        )
    };
    let nodes = vec![
        conv("conv_a", &["x", "wa", "ba"], "a", 3, 1, 1),
        conv("conv_b", &["x", "wb"], "r", 1, 0, 1),
        node("Add", "add", &["a", "r"], &["s"], vec![]),
        node("Relu", "relu", &["s"], &["y"], vec![]),
        conv("dw", &["y", "wd", "bd"], "d", 3, 1, 6),
        node("Clip", "clip", &["d", "zero", "six"], &["z"], vec![]),
        node(
            "MaxPool",
            "pool",
            &["z"],
            &["p"],
            vec![
                ("kernel_shape", A::Is(vec![3, 3])),
                ("strides", A::Is(vec![2, 2])),
                ("pads", A::Is(vec![1; 4])),
            ],
        ),
        conv("conv_out", &["p", "wc"], "c", 1, 0, 1),
        node("Relu", "relu_out", &["c"], &["q"], vec![]),
        conv("conv_neg", &["p", "wc"], "e", 1, 0, 1),
        node("Clip", "clip_neg", &["e", "negzero", "six"], &["f"], vec![]),
    ];
    let n = D::S("N");
    model(
        13,
        vec![vi(
            "x",
            DType::F32,
            &[n.clone(), D::K(4), D::K(11), D::K(9)],
        )],
        vec![
            vi("q", DType::F32, &[]),
            vi("c", DType::F32, &[]),
            vi("f", DType::F32, &[]),
        ],
        nodes,
        vec![
            weights("wa", &[6, 4, 3, 3], 1),
            weights("ba", &[6], 2),
            weights("wb", &[6, 4, 1, 1], 3),
            weights("wd", &[6, 1, 3, 3], 4),
            weights("bd", &[6], 5),
            weights("wc", &[5, 6, 1, 1], 6),
            scalar("zero", 0.0),
            scalar("six", 6.0),
            scalar("negzero", -0.0),
        ],
    )
}

#[test]
fn fused_epilogues_keep_every_bit() {
    let m = fuse_model();
    let g = kiln::onnx::import(&m, std::path::Path::new(".")).unwrap();
    let fused = kiln::compile::compile_graph(g.clone(), &kiln::Options::new("t")).unwrap();
    let mut opts = kiln::Options::new("t");
    opts.disabled.push("fuse".into());
    opts.disabled.push("fuse-elementwise".into());
    let plain = kiln::compile::compile_graph(g, &opts).unwrap();
    let ops = |c: &kiln::compile::Compiled| -> Vec<String> {
        c.model.graph.nodes.iter().map(|n| n.name.clone()).collect()
    };
    // add + relu fold into conv_a, clip into dw; conv_out's output is a graph output and
    // clip_neg has a -0 bound, so those stay.
    assert_eq!(
        ops(&plain),
        [
            "conv_a", "conv_b", "add", "relu", "dw", "clip", "pool", "conv_out", "relu_out",
            "conv_neg", "clip_neg"
        ]
    );
    assert_eq!(
        ops(&fused),
        ["conv_b", "conv_a", "dw", "pool", "conv_out", "relu_out", "conv_neg", "clip_neg"]
    );
    for n in [1u64, 2] {
        let x = f32s(&[n, 4, 11, 9], |i| match i % 41 {
            0 => f32::NAN,
            7 => f32::INFINITY,
            13 => -0.0,
            19 => 0.0,
            23 => f32::NEG_INFINITY,
            _ => rnd(i) * 3.0,
        });
        let a = run_all(&fused, std::slice::from_ref(&x));
        let b = run_all(&plain, std::slice::from_ref(&x));
        assert_eq!(a.len(), b.len());
        for (k, (a, b)) in a.iter().zip(&b).enumerate() {
            assert_eq!(a.shape, b.shape);
            for i in 0..a.numel() as usize {
                let (x, y) = (a.get_f64(i), b.get_f64(i));
                assert!(
                    x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
                    "batch {n} output {k} [{i}]: fused {x} vs unfused {y}"
                );
            }
        }
    }
}

/// Every fused output against the unfused program, element by element (NaN equal to NaN).
fn same_bits(a: &[Tensor], b: &[Tensor], what: &str) {
    assert_eq!(a.len(), b.len());
    for (k, (a, b)) in a.iter().zip(b).enumerate() {
        assert_eq!(a.shape, b.shape);
        for i in 0..a.numel() as usize {
            let (x, y) = (a.get_f64(i), b.get_f64(i));
            assert!(
                x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
                "{what} output {k} [{i}]: fused {x} vs unfused {y}"
            );
        }
    }
}

/// Compiled with and without `fuse`, with the node names of each.
fn both(m: &kiln::onnx::proto::ModelProto) -> [(kiln::compile::Compiled, Vec<String>); 2] {
    let g = kiln::onnx::import(m, std::path::Path::new(".")).unwrap();
    let fused = kiln::compile::compile_graph(g.clone(), &kiln::Options::new("t")).unwrap();
    let mut opts = kiln::Options::new("t");
    opts.disabled.push("fuse".into());
    opts.disabled.push("fuse-elementwise".into());
    let plain = kiln::compile::compile_graph(g, &opts).unwrap();
    let names = |c: &kiln::compile::Compiled| -> Vec<String> {
        c.model.graph.nodes.iter().map(|n| n.name.clone()).collect()
    };
    let (nf, np) = (names(&fused), names(&plain));
    [(fused, nf), (plain, np)]
}

/// Weights with signed zeros among the values, and a few infinities when `inf` (biases whose
/// infinities do not flow into later products and turn everything into NaN).
fn special_weights(
    name: &str,
    shape: &[u64],
    seed: usize,
    inf: bool,
) -> kiln::onnx::proto::TensorProto {
    init(
        name,
        &f32s(shape, |i| match (i * 13 + seed) % 53 {
            0 => -0.0,
            1 => 0.0,
            2 if inf => f32::INFINITY,
            _ => rnd(i * 7 + seed) * 0.5,
        }),
    )
}

/// nn.Linear-style chains into MatMul and Gemm: MatMul (3-D A, constant 2-D B: one GEMM over
/// all rows) -> Add(bias [N]) -> Relu; MatMul -> Add(same-shaped residual, operands swapped);
/// a batched MatMul (one GEMM per batch index) -> Add(bias [1, 1, N]) -> Clip; Gemm(transB,
/// C = [N]) -> Relu; Gemm(alpha, beta, C = [1, N]: its loop after the GEMM) -> Add([N]) ->
/// Clip; Gemm(C = [M, 1]: the GEMM's per-row bias) -> Add(residual); Gemm without C ->
/// Add([N]) -> Relu; and a MatMul with a 1-D B whose Add of a [M] vector must stay.
fn linear_model() -> kiln::onnx::proto::ModelProto {
    let nd = node;
    let nodes = vec![
        nd("MatMul", "mm1", &["x", "w1"], &["m1"], vec![]),
        nd("Add", "add1", &["m1", "b1"], &["a1"], vec![]),
        nd("Relu", "relu1", &["a1"], &["h"], vec![]),
        nd("MatMul", "mm2", &["h", "w2"], &["m2"], vec![]),
        nd("Add", "add2", &["h", "m2"], &["s2"], vec![]),
        nd("MatMul", "mm3", &["s2", "y"], &["m3"], vec![]),
        nd("Add", "add3", &["m3", "b3"], &["a3"], vec![]),
        nd("Clip", "clip3", &["a3", "neg1", "one"], &["o1"], vec![]),
        nd("MatMul", "mm4", &["s2", "v"], &["m4"], vec![]),
        nd("Add", "add4", &["m4", "c5"], &["o2"], vec![]),
        nd(
            "Gemm",
            "gemm1",
            &["z", "wg1", "cg1"],
            &["g1"],
            vec![("transB", A::I(1))],
        ),
        nd("Relu", "relu_g1", &["g1"], &["q1"], vec![]),
        nd(
            "Gemm",
            "gemm2",
            &["z", "wg2", "cg2"],
            &["g2"],
            vec![("alpha", A::F(0.5)), ("beta", A::F(2.0))],
        ),
        nd("Add", "add_g2", &["g2", "bg"], &["g2a"], vec![]),
        nd("Clip", "clip_g2", &["g2a", "zero", "six"], &["o3"], vec![]),
        nd("Gemm", "gemm3", &["z", "wg2", "cm"], &["g3"], vec![]),
        nd("Add", "add_g3", &["q1", "g3"], &["o4"], vec![]),
        nd(
            "Gemm",
            "gemm4",
            &["z", "wg1"],
            &["g4"],
            vec![("transB", A::I(1))],
        ),
        nd("Add", "add_g4", &["g4", "bg"], &["g4a"], vec![]),
        nd("Relu", "relu_g4", &["g4a"], &["o5"], vec![]),
    ];
    let b = D::S("N");
    let f = |name: &str, dims: &[D]| vi(name, DType::F32, dims);
    model(
        13,
        vec![
            f("x", &[b.clone(), D::K(5), D::K(24)]),
            f("y", &[b.clone(), D::K(40), D::K(8)]),
            f("z", &[D::K(3), D::K(24)]),
        ],
        vec![
            f("o1", &[]),
            f("o2", &[]),
            f("q1", &[]),
            f("o3", &[]),
            f("o4", &[]),
            f("o5", &[]),
        ],
        nodes,
        vec![
            special_weights("w1", &[24, 40], 1, false),
            special_weights("b1", &[40], 2, false),
            special_weights("w2", &[40, 40], 3, false),
            special_weights("b3", &[1, 1, 8], 4, true),
            special_weights("v", &[40], 5, false),
            special_weights("c5", &[5], 6, true),
            special_weights("wg1", &[16, 24], 7, false),
            special_weights("cg1", &[16], 8, true),
            special_weights("wg2", &[24, 16], 9, false),
            special_weights("cg2", &[1, 16], 10, true),
            special_weights("bg", &[16], 11, true),
            special_weights("cm", &[3, 1], 12, true),
            scalar("neg1", -1.0),
            scalar("one", 1.0),
            scalar("zero", 0.0),
            scalar("six", 6.0),
        ],
    )
}

#[test]
fn fused_matmul_and_gemm_epilogues_keep_every_bit() {
    let [(fused, nf), (plain, np)] = both(&linear_model());
    assert_eq!(
        np,
        [
            "mm1", "add1", "relu1", "mm2", "add2", "mm3", "add3", "clip3", "mm4", "add4", "gemm1",
            "relu_g1", "gemm2", "add_g2", "clip_g2", "gemm3", "add_g3", "gemm4", "add_g4",
            "relu_g4"
        ]
    );
    // mm4's B is 1-D (its output ends in M), so its Add of a [5] vector stays.
    assert_eq!(
        nf,
        ["mm1", "mm2", "mm3", "mm4", "add4", "gemm1", "gemm2", "gemm3", "gemm4"]
    );
    let special = |i: usize, seed: usize, scale: f32| match (i * 7 + seed) % 37 {
        0 => f32::NAN,
        5 => f32::INFINITY,
        11 => -0.0,
        17 => 0.0,
        23 => f32::NEG_INFINITY,
        29 => -1e-45,
        _ => rnd(i * 3 + seed) * scale,
    };
    for n in [1u64, 2, 3] {
        let x = f32s(&[n, 5, 24], |i| special(i, 1, 2.0));
        let y = f32s(&[n, 40, 8], |i| special(i, 2, 0.5));
        let z = f32s(&[3, 24], |i| special(i, n as usize, 2.0));
        let ins = [x, y, z];
        let a = run_all(&fused, &ins);
        let b = run_all(&plain, &ins);
        same_bits(&a, &b, &format!("batch {n}"));
    }
    // The same with ordinary values only: the fused outputs must be mostly finite (the
    // special values above make many outputs NaN), so the bits compared mean something.
    let x = f32s(&[2, 5, 24], |i| rnd(i) * 2.0);
    let y = f32s(&[2, 40, 8], |i| rnd(i + 9) * 0.5);
    let z = f32s(&[3, 24], |i| rnd(i + 5) * 2.0);
    let ins = [x, y, z];
    let a = run_all(&fused, &ins);
    let b = run_all(&plain, &ins);
    same_bits(&a, &b, "plain values");
    for (k, t) in a.iter().enumerate() {
        let live = to_f32(t)
            .iter()
            .filter(|v| v.is_finite() && **v != 0.0)
            .count();
        assert!(
            live * 4 >= t.numel() as usize,
            "output {k}: {live} finite non-zero"
        );
    }
}

/// Clip before opset 11 bounds an absent min / max by the lowest / largest float, not by
/// -inf / +inf: fused, a -inf sum still comes out as the lowest float.
#[test]
fn fused_clip_attribute_defaults_keep_every_bit() {
    let nodes = vec![
        node("MatMul", "mm", &["x", "w"], &["m"], vec![]),
        node("Clip", "clip", &["m"], &["c"], vec![("max", A::F(6.0))]),
    ];
    let m = model(
        10,
        vec![vi("x", DType::F32, &[D::K(2), D::K(3)])],
        vec![vi("c", DType::F32, &[])],
        nodes,
        vec![init("w", &Tensor::from_f32(vec![3, 2], &[1.0; 6]))],
    );
    let [(fused, nf), (plain, np)] = both(&m);
    assert_eq!(np, ["mm", "clip"]);
    assert_eq!(nf, ["mm"]);
    let x = Tensor::from_f32(vec![2, 3], &[f32::NEG_INFINITY, 1.0, 2.0, 1.0, 2.0, 4.0]);
    let a = run_all(&fused, std::slice::from_ref(&x));
    let b = run_all(&plain, std::slice::from_ref(&x));
    same_bits(&a, &b, "clip defaults");
    assert_eq!(to_f32(&b[0]), [f32::MIN, f32::MIN, 6.0, 6.0]);
}
