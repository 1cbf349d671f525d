//! Element-wise chain fusion (`passes::eltwise`, pass `fuse-elementwise`): chains whose
//! intermediate values are read once become one node, and the fused program has exactly the
//! unfused bits (NaN, infinities, signed zeros and denormals in the inputs) on every backend.

mod common;
use common::*;
use kiln::tensor::{DType, Tensor};

/// (x - mean[C,1,1]) / sd[C,1,1] -> Mul(z, .) (chain on the right) -> Relu -> Neg ->
/// Add(., 0.5); Sigmoid(x) read twice by one Add -> Tanh; Exp(x) -> Abs, whose Exp output
/// is also a graph output (no chain through it) -> Erf -> Sqrt; and an i64 chain Add -> Relu.
fn chain_model() -> kiln::onnx::proto::ModelProto {
    let nodes = vec![
        node("Sub", "sub", &["x", "mean"], &["a"], vec![]),
        node("Sigmoid", "sig", &["x"], &["s"], vec![]),
        node("Div", "div", &["a", "sd"], &["b"], vec![]),
        node("Mul", "mul", &["z", "b"], &["c"], vec![]),
        node("Relu", "relu", &["c"], &["d"], vec![]),
        node("Add", "twice", &["s", "s"], &["s2"], vec![]),
        node("Neg", "neg", &["d"], &["e"], vec![]),
        node("Add", "add", &["e", "half"], &["y1"], vec![]),
        node("Tanh", "tanh", &["s2"], &["y2"], vec![]),
        node("Exp", "exp", &["x"], &["ex"], vec![]),
        node("Abs", "abs", &["ex"], &["ab"], vec![]),
        node("Erf", "erf", &["ab"], &["er"], vec![]),
        node("Sqrt", "sqrt", &["er"], &["y3"], vec![]),
        node("Add", "iadd", &["i", "ione"], &["ia"], vec![]),
        node("Relu", "irelu", &["ia"], &["y4"], vec![]),
    ];
    let n = D::S("N");
    let shape = [n.clone(), D::K(3), D::K(4), D::K(5)];
    model(
        14,
        vec![
            vi("x", DType::F32, &shape),
            vi("z", DType::F32, &shape),
            vi("i", DType::I64, &[D::K(7)]),
        ],
        vec![
            vi("y1", DType::F32, &[]),
            vi("y2", DType::F32, &[]),
            vi("y3", DType::F32, &[]),
            vi("ex", DType::F32, &[]),
            vi("y4", DType::I64, &[]),
        ],
        nodes,
        vec![
            init("mean", &f32s(&[3, 1, 1], |i| [0.25, -0.0, 1e-40][i])),
            init("sd", &f32s(&[3, 1, 1], |i| [2.0, -0.0, 3e-39][i])),
            init("half", &Tensor::from_f32(vec![], &[0.5])),
            init("ione", &Tensor::from_i64(vec![1], &[-3])),
        ],
    )
}

#[test]
fn fused_chains_keep_every_bit() {
    let m = chain_model();
    let g = kiln::onnx::import(&m, std::path::Path::new(".")).unwrap();
    let fused = kiln::compile::compile_graph(g.clone(), &kiln::Options::new("t")).unwrap();
    let mut opts = kiln::Options::new("t");
    opts.disabled.push("fuse-elementwise".into());
    let plain = kiln::compile::compile_graph(g, &opts).unwrap();
    let ops = |c: &kiln::compile::Compiled| -> Vec<String> {
        c.model
            .graph
            .nodes
            .iter()
            .map(|n| n.op_type.clone())
            .collect()
    };
    assert_eq!(ops(&plain).len(), 15);
    // Each chain sits at its last node's place; Sigmoid (read twice) and Exp (a graph
    // output) end their chains.
    assert_eq!(
        ops(&fused),
        [
            "Sigmoid",
            "Sub+Div+Mul+Relu+Neg+Add",
            "Add+Tanh",
            "Exp",
            "Abs+Erf+Sqrt",
            "Add+Relu"
        ]
    );
    for n in [1u64, 2] {
        let special = |i: usize, s: usize| match (i * 7 + s) % 29 {
            0 => f32::NAN,
            3 => f32::INFINITY,
            5 => -0.0,
            8 => 0.0,
            11 => f32::NEG_INFINITY,
            14 => 1e-41,
            _ => rnd(i + s) * 4.0,
        };
        let x = f32s(&[n, 3, 4, 5], |i| special(i, 0));
        let z = f32s(&[n, 3, 4, 5], |i| special(i, 5));
        let iv: Vec<i64> = vec![i64::MAX, -2, 0, 5, i64::MIN, 3, 1];
        let i = Tensor::from_i64(vec![7], &iv);
        let inputs = [x, z, i];
        let a = run_all(&fused, &inputs);
        let b = run_all(&plain, &inputs);
        assert_eq!(a.len(), b.len());
        for (k, (a, b)) in a.iter().zip(&b).enumerate() {
            assert_eq!(a.shape, b.shape);
            assert_eq!(a.dtype, b.dtype);
            for j in 0..a.numel() as usize {
                let (x, y) = (a.get_f64(j), b.get_f64(j));
                assert!(
                    x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
                    "batch {n} output {k} [{j}]: fused {x} vs unfused {y}"
                );
            }
        }
    }
}
