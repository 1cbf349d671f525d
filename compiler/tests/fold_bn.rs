//! Conv + BatchNormalization folding (`passes::bn`, `fold-bn`). The folded graph must have
//! lost exactly the BatchNormalization nodes that qualify (and a following Relu must still
//! fuse into the Conv), and its outputs must match the unfolded program's within a bound on
//! every backend (`run_all` also checks every backend bit-identical to interp), and a
//! reference computed here in f64.
//!
//! The bound. Folding is not bit-exact: the unfolded program rounds the convolution's sum
//! and then `(y - mean) * inv + b` (with `inv = scale / sqrt(var + eps)` itself rounded);
//! the folded one sums products with `W' = round(W * s)` and adds `B' = round((B - mean) *
//! s + bias)`. Both are within `gamma_{K+4} * M` of the exact value, where K is the number
//! of products per output (here at most 54), `gamma_n = n u / (1 - n u)`, u = 2^-24, and
//! `M = |s| * sum |W x| + |s (B - mean)| + |bias|` the sum of the magnitudes. So the two
//! differ by at most `2 gamma_58 M ~ 7e-6 M`. With the data here (|x| < 2, |W| < 0.25,
//! scale in [0.6, 1.4), var in [0.5, 2)) M stays below ~10 in the first layer, and the
//! rounding errors are random-signed, so their sum grows like sqrt(K) u M in practice (a few
//! 1e-7). `|a - b| <= 1e-5 * (1 + |b|)` therefore holds with a margin of >10x on the
//! observed differences (printed on failure) while a wrong fold (a misplaced channel, a
//! dropped bias or mean, a wrong epsilon: differences ~1e-3 and up) fails it. The f64
//! reference check uses the per-element bound `gamma_{K+4} M` itself (times 2 for slack).

mod common;
use common::*;
use kiln::onnx::proto::{ModelProto, TensorProto};
use kiln::tensor::{DType, Tensor};

fn weights(name: &str, shape: &[u64], seed: usize) -> TensorProto {
    init(name, &f32s(shape, |i| rnd(i * 7 + seed) * 0.125))
}

/// BatchNormalization parameters over `c` channels, `<prefix>_{scale,bias,mean,var}`:
/// scale in [0.6, 1.4), bias in [-1, 1), mean in [-0.6, 0.6), var in [0.5, 2).
fn bn_params(prefix: &str, c: u64, seed: usize) -> Vec<TensorProto> {
    let p = |what: &str, f: &dyn Fn(f32) -> f32, s: usize| {
        init(
            &format!("{prefix}_{what}"),
            &f32s(&[c], |i| f(rnd(i * 11 + seed * 5 + s))),
        )
    };
    vec![
        p("scale", &|r| 1.0 + 0.2 * r, 1),
        p("bias", &|r| 0.5 * r, 2),
        p("mean", &|r| 0.3 * r, 3),
        p("var", &|r| 1.25 + 0.375 * r, 4),
    ]
}

fn bn_ins(x: &str, prefix: &str) -> Vec<String> {
    let mut v = vec![x.to_string()];
    for w in ["scale", "bias", "mean", "var"] {
        v.push(format!("{prefix}_{w}"));
    }
    v
}

fn conv(name: &str, ins: &[&str], out: &str, k: i64, group: i64) -> kiln::onnx::proto::NodeProto {
    node(
        "Conv",
        name,
        ins,
        &[out],
        vec![
            ("kernel_shape", A::Is(vec![k, k])),
            ("pads", A::Is(vec![k / 2; 4])),
            ("group", A::I(group)),
        ],
    )
}

fn bn(
    name: &str,
    x: &str,
    prefix: &str,
    y: &str,
    attrs: Vec<(&str, A)>,
) -> kiln::onnx::proto::NodeProto {
    let ins = bn_ins(x, prefix);
    let ins: Vec<&str> = ins.iter().map(|s| s.as_str()).collect();
    node("BatchNormalization", name, &ins, &[y], attrs)
}

/// Folds: conv1 (bias) -> bn1 -> relu1 (then fused into conv1); conv2 (no bias, 1x1) -> bn2
/// (epsilon 1e-3); depthwise dw (group 6) -> bn3. conv_shared reads conv1's W and B (which
/// must not change). Does not fold: conv4's output is also read by relu4; conv5's output is
/// a graph output; bn6's var is a graph input; bn7 is in training mode (Y only).
fn bn_model() -> ModelProto {
    let nodes = vec![
        conv("conv1", &["x", "w1", "b1"], "c1", 3, 1),
        bn("bn1", "c1", "p1", "y1", vec![]),
        node("Relu", "relu1", &["y1"], &["r1"], vec![]),
        conv("conv2", &["r1", "w2"], "c2", 1, 1),
        bn("bn2", "c2", "p2", "y2", vec![("epsilon", A::F(1e-3))]),
        conv("dw", &["y2", "wd"], "c3", 3, 6),
        bn("bn3", "c3", "p3", "y3", vec![]),
        conv("conv_shared", &["x", "w1", "b1"], "sh", 3, 1),
        conv("conv4", &["r1", "w4"], "c4", 1, 1),
        bn("bn4", "c4", "p4", "y4", vec![]),
        node("Relu", "relu4", &["c4"], &["z4"], vec![]),
        conv("conv5", &["r1", "w4"], "c5", 1, 1),
        bn("bn5", "c5", "p4", "y5", vec![]),
        conv("conv6", &["r1", "w4"], "c6", 1, 1),
        node(
            "BatchNormalization",
            "bn6",
            &["c6", "p4_scale", "p4_bias", "p4_mean", "var_in"],
            &["y6"],
            vec![],
        ),
        conv("conv7", &["r1", "w4"], "c7", 1, 1),
        bn("bn7", "c7", "p4", "y7", vec![("training_mode", A::I(1))]),
    ];
    let f = |name: &str| vi(name, DType::F32, &[]);
    let mut inits = vec![
        weights("w1", &[6, 4, 3, 3], 1),
        weights("b1", &[6], 2),
        weights("w2", &[6, 6, 1, 1], 3),
        weights("wd", &[6, 1, 3, 3], 4),
        weights("w4", &[5, 6, 1, 1], 5),
    ];
    inits.extend(bn_params("p1", 6, 1));
    inits.extend(bn_params("p2", 6, 2));
    inits.extend(bn_params("p3", 6, 3));
    inits.extend(bn_params("p4", 5, 4));
    model(
        15,
        vec![
            vi("x", DType::F32, &[D::S("N"), D::K(4), D::K(9), D::K(8)]),
            vi("var_in", DType::F32, &[D::K(5)]),
        ],
        ["r1", "y3", "sh", "y4", "z4", "c5", "y5", "y6", "y7"]
            .iter()
            .map(|n| f(n))
            .collect(),
        nodes,
        inits,
    )
}

/// Compiled with and without `fold-bn`, with the node names of each.
fn both(m: &ModelProto) -> [(kiln::compile::Compiled, Vec<String>); 2] {
    let g = kiln::onnx::import(m, std::path::Path::new(".")).unwrap();
    let folded = kiln::compile::compile_graph(g.clone(), &kiln::Options::new("t")).unwrap();
    let mut opts = kiln::Options::new("t");
    opts.disabled.push("fold-bn".into());
    let plain = kiln::compile::compile_graph(g, &opts).unwrap();
    let names = |c: &kiln::compile::Compiled| -> Vec<String> {
        c.model.graph.nodes.iter().map(|n| n.name.clone()).collect()
    };
    let (nf, np) = (names(&folded), names(&plain));
    [(folded, nf), (plain, np)]
}

/// Largest `|a - b| / (1 + |b|)` over the elements where both are finite; panics past `tol`.
fn close(a: &[Tensor], b: &[Tensor], tol: f64, what: &str) -> f64 {
    assert_eq!(a.len(), b.len());
    let mut worst = 0.0f64;
    for (k, (a, b)) in a.iter().zip(b).enumerate() {
        assert_eq!(a.shape, b.shape, "{what} output {k}");
        for i in 0..a.numel() as usize {
            let (x, y) = (a.get_f64(i), b.get_f64(i));
            if !x.is_finite() || !y.is_finite() {
                continue;
            }
            let r = (x - y).abs() / (1.0 + y.abs());
            worst = worst.max(r);
            assert!(
                r <= tol,
                "{what} output {k} [{i}]: folded {x} vs unfolded {y} (relative {r:e} > {tol:e})"
            );
        }
    }
    worst
}

fn get(m: &ModelProto, name: &str) -> Vec<f64> {
    let g = kiln::onnx::import(m, std::path::Path::new(".")).unwrap();
    let v = g.values.iter().find(|v| v.name == name).unwrap();
    let t = v.konst.as_ref().unwrap();
    (0..t.numel() as usize).map(|i| t.get_f64(i)).collect()
}

/// relu(bn1(conv1(x))) in f64 with each element's magnitude M (see the top of the file).
fn reference_r1(m: &ModelProto, x: &Tensor) -> Vec<(f64, f64)> {
    let (w, b) = (get(m, "w1"), get(m, "b1"));
    let [scale, bias, mean, var] =
        ["scale", "bias", "mean", "var"].map(|p| get(m, &format!("p1_{p}")));
    let (n, c, h, wd) = (x.shape[0] as usize, 4, 9, 8);
    let mut out = vec![];
    for ni in 0..n {
        for mo in 0..6 {
            let s = scale[mo] / (var[mo] + 1e-5).sqrt();
            for oy in 0..h {
                for ox in 0..wd {
                    let (mut sum, mut mag) = (0.0f64, 0.0f64);
                    for ci in 0..c {
                        for ky in 0..3 {
                            for kx in 0..3 {
                                let (iy, ix) = (oy as i64 + ky - 1, ox as i64 + kx - 1);
                                if iy < 0 || ix < 0 || iy >= h as i64 || ix >= wd as i64 {
                                    continue;
                                }
                                let xv =
                                    x.get_f64(((ni * c + ci) * h + iy as usize) * wd + ix as usize);
                                let wv = w[((mo * c + ci) * 3 + ky as usize) * 3 + kx as usize];
                                sum += xv * wv;
                                mag += (xv * wv).abs();
                            }
                        }
                    }
                    let v = (sum + b[mo] - mean[mo]) * s + bias[mo];
                    let mag = s.abs() * (mag + (b[mo] - mean[mo]).abs()) + bias[mo].abs();
                    out.push((v.max(0.0), mag));
                }
            }
        }
    }
    out
}

#[test]
fn conv_bn_folds_within_the_bound() {
    let m = bn_model();
    let [(folded, nf), (plain, np)] = both(&m);
    // Unfolded, bn1 sits between conv1 and relu1, so nothing fuses.
    assert_eq!(
        np,
        [
            "conv1",
            "bn1",
            "relu1",
            "conv2",
            "bn2",
            "dw",
            "bn3",
            "conv_shared",
            "conv4",
            "bn4",
            "relu4",
            "conv5",
            "bn5",
            "conv6",
            "bn6",
            "conv7",
            "bn7"
        ]
    );
    // bn1, bn2, bn3 fold; relu1 then fuses into conv1 (taking relu1's place).
    assert_eq!(
        nf,
        [
            "conv1",
            "conv2",
            "dw",
            "conv_shared",
            "conv4",
            "bn4",
            "relu4",
            "conv5",
            "bn5",
            "conv6",
            "bn6",
            "conv7",
            "bn7"
        ]
    );
    let var_in = Tensor::from_f32(vec![5], &[0.5, 1.0, 1.5, 2.0, 0.75]);
    let mut worst = 0.0f64;
    for n in [1u64, 2] {
        let x = f32s(&[n, 4, 9, 8], |i| rnd(i * 3 + 1));
        let ins = [x.clone(), var_in.clone()];
        let a = run_all(&folded, &ins);
        let b = run_all(&plain, &ins);
        worst = worst.max(close(&a, &b, 1e-5, &format!("batch {n}")));
        // conv_shared reads conv1's W and B: they must be left as they were.
        assert_eq!(a[2].bytes(), b[2].bytes(), "batch {n}: conv_shared changed");
        // Against the f64 reference, both within gamma_{K+4} M (x2): K = 36 here.
        let r = reference_r1(&m, &x);
        let u = f64::powi(2.0, -24);
        let g = 40.0 * u / (1.0 - 40.0 * u);
        for (what, t) in [("folded", &a[0]), ("unfolded", &b[0])] {
            assert_eq!(t.numel() as usize, r.len());
            for (i, (v, mag)) in r.iter().enumerate() {
                let got = t.get_f64(i);
                assert!(
                    (got - v).abs() <= 2.0 * g * mag,
                    "batch {n} {what} r1[{i}]: {got} vs f64 {v} (bound {:e})",
                    2.0 * g * mag
                );
            }
        }
        // The outputs mean something: mostly non-zero.
        let live = to_f32(&a[1]).iter().filter(|v| **v != 0.0).count();
        assert!(live * 2 >= a[1].numel() as usize);
    }
    eprintln!("largest |folded - unfolded| / (1 + |unfolded|): {worst:e}");
    // Non-finite inputs: no panic anywhere; finite elements still within the bound.
    let x = f32s(&[2, 4, 9, 8], |i| match i % 37 {
        0 => f32::NAN,
        7 => f32::INFINITY,
        13 => -0.0,
        23 => f32::NEG_INFINITY,
        _ => rnd(i * 3 + 1),
    });
    let ins = [x, var_in];
    let a = run_all(&folded, &ins);
    let b = run_all(&plain, &ins);
    close(&a, &b, 1e-5, "non-finite inputs");
}

/// 1-D and 3-D convolutions (any spatial rank) and opset 9's BatchNormalization (no
/// training_mode).
#[test]
fn conv_bn_folds_any_rank() {
    let conv_nd = |name: &str, ins: &[&str], out: &str, k: i64, rank: usize| {
        node(
            "Conv",
            name,
            ins,
            &[out],
            vec![
                ("kernel_shape", A::Is(vec![k; rank])),
                ("pads", A::Is(vec![k / 2; 2 * rank])),
            ],
        )
    };
    let nodes = vec![
        conv_nd("c1d", &["x1", "w1", "b1"], "a", 3, 1),
        bn("bn1d", "a", "p1", "y1", vec![]),
        conv_nd("c3d", &["x3", "w3"], "b", 3, 3),
        bn("bn3d", "b", "p3", "y3", vec![("epsilon", A::F(1e-2))]),
    ];
    let mut inits = vec![
        weights("w1", &[4, 3, 3], 1),
        weights("b1", &[4], 2),
        weights("w3", &[2, 2, 3, 3, 3], 3),
    ];
    inits.extend(bn_params("p1", 4, 1));
    inits.extend(bn_params("p3", 2, 3));
    let m = model(
        9,
        vec![
            vi("x1", DType::F32, &[D::K(2), D::K(3), D::K(10)]),
            vi(
                "x3",
                DType::F32,
                &[D::K(1), D::K(2), D::K(4), D::K(5), D::K(3)],
            ),
        ],
        vec![vi("y1", DType::F32, &[]), vi("y3", DType::F32, &[])],
        nodes,
        inits,
    );
    let [(folded, nf), (plain, np)] = both(&m);
    assert_eq!(np, ["c1d", "bn1d", "c3d", "bn3d"]);
    assert_eq!(nf, ["c1d", "c3d"]);
    let ins = [
        f32s(&[2, 3, 10], |i| rnd(i + 5)),
        f32s(&[1, 2, 4, 5, 3], |i| rnd(i + 9)),
    ];
    let a = run_all(&folded, &ins);
    let b = run_all(&plain, &ins);
    let worst = close(&a, &b, 1e-5, "1-D / 3-D");
    eprintln!("largest |folded - unfolded| / (1 + |unfolded|): {worst:e}");
}
