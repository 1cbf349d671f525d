//! Layout selection (`passes::layout`): convolution regions on the blocked NCHWc16 layout.
//! A chain with a residual, strides, 1x1 and 3x3 kernels, a pooling in the middle and a
//! graph output is compiled with blocks of 16: the reorders sit at the region edges, every
//! backend gives the interpreter's bits, and the results equal the NCHW program's up to
//! the rounding of the blocked summation order. Convolutions that cannot take the layout
//! (grouped, channels not a multiple of 16) and regions too small to pay for their
//! reorders stay NCHW.

mod common;
use common::*;
use kiln::passes::layout::with_limits;
use kiln::tensor::DType;

fn conv(
    name: &str,
    ins: &[&str],
    out: &str,
    k: i64,
    s: i64,
    group: i64,
) -> kiln::onnx::proto::NodeProto {
    node(
        "Conv",
        name,
        ins,
        &[out],
        vec![
            ("kernel_shape", A::Is(vec![k, k])),
            ("strides", A::Is(vec![s, s])),
            ("pads", A::Is(vec![k / 2; 4])),
            ("group", A::I(group)),
        ],
    )
}

fn weights(name: &str, shape: &[u64], seed: usize) -> kiln::onnx::proto::TensorProto {
    init(name, &f32s(shape, |i| rnd(i * 7 + seed) * 0.2))
}

/// x [N, 16, 11, 9] -> a: 3x3 16->32 + bias, Relu -> b: 3x3 s2 32->32 -> c: 1x1 32->32 +
/// b (residual), Relu; k: 3x3 32->16 from b; Concat(c, k) -> g: 1x1 48->32 -> Sigmoid, and
/// -> MaxPool -> d: 3x3 48->48 (graph output) and e: grouped 3x3 -> f: 3x3 48->16 from d ->
/// Sigmoid.
fn chain() -> kiln::onnx::proto::ModelProto {
    let nodes = vec![
        conv("a", &["x", "wa", "ba"], "a", 3, 1, 1),
        node("Relu", "ra", &["a"], &["a1"], vec![]),
        conv("b", &["a1", "wb"], "b", 3, 2, 1),
        conv("c", &["b", "wc"], "c", 1, 1, 1),
        node("Add", "add", &["c", "b"], &["s"], vec![]),
        node("Relu", "rs", &["s"], &["s1"], vec![]),
        conv("k", &["b", "wk"], "kk", 3, 1, 1),
        node(
            "Concat",
            "cat",
            &["s1", "kk"],
            &["cat"],
            vec![("axis", A::I(-3))],
        ),
        node(
            "MaxPool",
            "pool",
            &["cat"],
            &["p"],
            vec![("kernel_shape", A::Is(vec![2, 2]))],
        ),
        conv("g", &["cat", "wg"], "g", 1, 1, 1),
        node("Sigmoid", "sg", &["g"], &["gs"], vec![]),
        conv("d", &["p", "wd"], "d", 3, 1, 1),
        conv("e", &["p", "we"], "e", 3, 1, 2),
        conv("f", &["d", "wf", "bf"], "f", 3, 1, 1),
        node("Sigmoid", "sig", &["f"], &["h"], vec![]),
    ];
    model(
        13,
        vec![vi(
            "x",
            DType::F32,
            &[D::S("N"), D::K(16), D::K(11), D::K(9)],
        )],
        vec![
            vi("d", DType::F32, &[]),
            vi("e", DType::F32, &[]),
            vi("h", DType::F32, &[]),
            vi("gs", DType::F32, &[]),
        ],
        nodes,
        vec![
            weights("wa", &[32, 16, 3, 3], 1),
            weights("ba", &[32], 2),
            weights("wb", &[32, 32, 3, 3], 3),
            weights("wc", &[32, 32, 1, 1], 4),
            weights("wk", &[16, 32, 3, 3], 9),
            weights("wg", &[32, 48, 1, 1], 10),
            weights("wd", &[48, 48, 3, 3], 5),
            weights("we", &[32, 24, 3, 3], 6),
            weights("wf", &[16, 48, 3, 3], 7),
            weights("bf", &[16], 8),
        ],
    )
}

fn compiled(block: i64, ratio: f64, width: i64) -> kiln::compile::Compiled {
    let g = kiln::onnx::import(&chain(), std::path::Path::new(".")).unwrap();
    let mut o = kiln::Options::new("t");
    o.nchwc_block = block;
    with_limits(ratio, width, || {
        kiln::compile::compile_graph(g, &o).unwrap()
    })
}

fn ops(c: &kiln::compile::Compiled) -> Vec<String> {
    c.model
        .graph
        .nodes
        .iter()
        .map(|n| format!("{}:{}", n.op_type, n.name))
        .collect()
}

#[test]
fn blocked_regions_match_nchw_on_every_backend() {
    let blocked = compiled(16, 0.0, 0);
    let plain = compiled(0, 0.0, 0);
    // a, b, c (with its residual and Relu fused), k, the Concat of c's and k's outputs
    // (axis -3) and g form one region, f another (d is a graph output; e is grouped);
    // reorders at their edges.
    let got = ops(&blocked);
    assert_eq!(
        got,
        [
            "Reorder:x.nchwc16",
            "Conv:a",
            "Conv:b",
            "Conv:c",
            "Conv:k",
            "Concat:cat",
            "Reorder:cat.nchw",
            "MaxPool:pool",
            "Conv:g",
            "Reorder:g.nchw",
            "Sigmoid:sg",
            "Conv:d",
            "Conv:e",
            "Reorder:d.nchwc16",
            "Conv:f",
            "Reorder:f.nchw",
            "Sigmoid:sig",
        ],
        "{got:?}"
    );
    let f_out = |c: &kiln::compile::Compiled| c.model.graph.outputs.len();
    assert_eq!(f_out(&blocked), 4);
    for n in [1u64, 2] {
        let x = f32s(&[n, 16, 11, 9], |i| rnd(i) * 2.0);
        // Every backend against the interpreter, bit for bit, for each program.
        let a = run_all(&blocked, std::slice::from_ref(&x));
        let b = run_all(&plain, std::slice::from_ref(&x));
        for (k, (a, b)) in a.iter().zip(&b).enumerate() {
            assert_eq!(a.shape, b.shape, "output {k}");
            let (a, b) = (to_f32(a), to_f32(b));
            // Rounding of the blocked order, through the chain: far below the outputs'
            // scale (a wrong index is off by about the scale).
            let scale = b.iter().map(|y| y.abs()).fold(0f32, f32::max);
            for (i, (x, y)) in a.iter().zip(&b).enumerate() {
                assert!(
                    (x - y).abs() <= 1e-4 * scale.max(1.0),
                    "batch {n} output {k} [{i}]: blocked {x} vs NCHW {y}"
                );
            }
        }
    }
}

#[test]
fn small_regions_and_other_targets_stay_nchw() {
    // The default cost rule: these regions copy more than they save.
    let c = compiled(16, 1000.0, 0);
    assert!(
        !ops(&c).iter().any(|o| o.starts_with("Reorder")),
        "{:?}",
        ops(&c)
    );
    // The default width rule: outputs 9 and 5 pixels wide stay NCHW.
    let c = compiled(16, 0.0, 16);
    assert!(
        !ops(&c).iter().any(|o| o.starts_with("Reorder")),
        "{:?}",
        ops(&c)
    );
    // No blocked kernel for the target: nothing changes.
    let c = compiled(0, 0.0, 0);
    assert!(!ops(&c).iter().any(|o| o.starts_with("Reorder")));
    let t = |s: &str| kiln_targets::Target::parse(s).unwrap();
    assert_eq!(
        kiln::passes::layout::block_for(&t("x86_64-unknown-linux-gnu+avx512f")),
        16
    );
    assert_eq!(
        kiln::passes::layout::block_for(&t("x86_64-unknown-linux-gnu+avx2")),
        0
    );
    assert_eq!(
        kiln::passes::layout::block_for(&t("aarch64-unknown-linux-gnu")),
        0
    );
}
