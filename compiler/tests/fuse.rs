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
