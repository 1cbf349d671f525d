//! Per-op tests: each op compiled from a small model, run on every backend and compared bit
//! for bit with kir::interp (0 ULP), and interp's result compared with a direct Rust
//! computation of the op's definition. Also attribute import and its errors per op.

mod common;
use common::*;
use kiln::tensor::{DType, Tensor};

fn close(got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len(), "lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * (1.0 + w.abs()) || (g.is_nan() && w.is_nan()),
            "element {i}: got {g}, want {w}"
        );
    }
}

fn unary_case(op: &str, f: fn(f32) -> f32, tol: f32) {
    let m = model(
        17,
        vec![vi("x", DType::F32, &[D::S("N"), D::K(7)])],
        vec![vi("y", DType::F32, &[D::S("N"), D::K(7)])],
        vec![node(op, "n", &["x"], &["y"], vec![])],
        vec![],
    );
    let c = compile(&m).unwrap_or_else(|e| panic!("{op}: {e}"));
    let x = f32s(&[3, 7], |i| rnd(i) * 3.0);
    let y = run_all(&c, std::slice::from_ref(&x));
    let want: Vec<f32> = to_f32(&x).into_iter().map(f).collect();
    close(&to_f32(&y[0]), &want, tol);
}

#[test]
fn unary_ops() {
    unary_case("Relu", |x| x.max(0.0), 0.0);
    unary_case("Neg", |x| -x, 0.0);
    unary_case("Abs", |x| x.abs(), 0.0);
    unary_case("Sqrt", |x| x.sqrt(), 0.0);
    unary_case("Exp", |x| x.exp(), 1e-6);
    unary_case("Log", |x| x.ln(), 1e-6);
    unary_case("Tanh", |x| x.tanh(), 1e-6);
    unary_case("Sigmoid", |x| 1.0 / (1.0 + (-x).exp()), 1e-6);
}

fn binary_case(op: &str, f: fn(f32, f32) -> f32, a_shape: &[u64], b_shape: &[u64]) {
    let dims = |s: &[u64]| s.iter().map(|d| D::K(*d as i64)).collect::<Vec<_>>();
    let out: Vec<u64> = {
        let r = a_shape.len().max(b_shape.len());
        (0..r)
            .map(|i| {
                let a = if i + a_shape.len() >= r {
                    a_shape[i + a_shape.len() - r]
                } else {
                    1
                };
                let b = if i + b_shape.len() >= r {
                    b_shape[i + b_shape.len() - r]
                } else {
                    1
                };
                a.max(b)
            })
            .collect()
    };
    let m = model(
        17,
        vec![
            vi("a", DType::F32, &dims(a_shape)),
            vi("b", DType::F32, &dims(b_shape)),
        ],
        vec![vi("y", DType::F32, &dims(&out))],
        vec![node(op, "n", &["a", "b"], &["y"], vec![])],
        vec![],
    );
    let c = compile(&m).unwrap_or_else(|e| panic!("{op}: {e}"));
    let a = f32s(a_shape, |i| rnd(i) + 2.5);
    let b = f32s(b_shape, |i| rnd(i + 1000) * 0.5 + 1.5);
    let y = run_all(&c, &[a.clone(), b.clone()]);
    // Reference: broadcast by index arithmetic.
    let (av, bv) = (to_f32(&a), to_f32(&b));
    let r = out.len();
    let idx_of = |shape: &[u64], oi: &[u64]| {
        let off = r - shape.len();
        let mut li = 0u64;
        for (k, d) in shape.iter().enumerate() {
            li = li * d + if *d == 1 { 0 } else { oi[off + k] };
        }
        li as usize
    };
    let n: u64 = out.iter().product();
    let mut want = vec![];
    for lin in 0..n {
        let mut oi = vec![0u64; r];
        let mut rem = lin;
        for k in (0..r).rev() {
            oi[k] = rem % out[k];
            rem /= out[k];
        }
        want.push(f(av[idx_of(a_shape, &oi)], bv[idx_of(b_shape, &oi)]));
    }
    close(&to_f32(&y[0]), &want, 1e-6);
}

#[test]
fn binary_ops_broadcast() {
    binary_case("Add", |a, b| a + b, &[2, 3, 4], &[4]);
    binary_case("Sub", |a, b| a - b, &[3, 1], &[1, 5]);
    binary_case("Mul", |a, b| a * b, &[2, 3], &[2, 3]);
    binary_case("Div", |a, b| a / b, &[4, 1, 3], &[2, 1]);
    binary_case("Pow", |a, b| a.powf(b), &[6], &[1]);
}

#[test]
fn matmul_batched_broadcast_and_1d() {
    for (ash, bsh) in [
        (vec![2u64, 3, 4], vec![4u64, 5]),
        // Batches of single rows over a shared B (one GEMM over all rows).
        (vec![3u64, 1, 4], vec![4u64, 5]),
        (vec![2u64, 2, 2, 4], vec![4u64, 3]),
        (vec![4], vec![4, 3]),
        (vec![2, 1, 3, 4], vec![5, 4, 2]),
        (vec![3, 4], vec![4]),
    ] {
        let dims = |s: &[u64]| s.iter().map(|d| D::K(*d as i64)).collect::<Vec<_>>();
        let m = model(
            13,
            vec![
                vi("a", DType::F32, &dims(&ash)),
                vi("b", DType::F32, &dims(&bsh)),
            ],
            vec![vi("y", DType::F32, &[])],
            vec![node("MatMul", "mm", &["a", "b"], &["y"], vec![])],
            vec![],
        );
        let c = compile(&m).unwrap();
        let a = f32s(&ash, rnd);
        let b = f32s(&bsh, |i| rnd(i + 77));
        let y = run_all(&c, &[a.clone(), b.clone()]);
        // Reference where B is 2-D or 1-D (A's batches stacked as rows); the batched Bs
        // are covered by interp==backends.
        if bsh.len() <= 2 {
            let (av, bv) = (to_f32(&a), to_f32(&b));
            let (m_, k) = if ash.len() >= 2 {
                let rows: u64 = ash[..ash.len() - 1].iter().product();
                (rows as usize, ash[ash.len() - 1] as usize)
            } else {
                (1, ash[0] as usize)
            };
            let n = if bsh.len() == 2 { bsh[1] as usize } else { 1 };
            let mut want = vec![0f32; m_ * n];
            for i in 0..m_ {
                for j in 0..n {
                    let mut s = 0f64;
                    for kk in 0..k {
                        s += av[i * k + kk] as f64 * bv[kk * n + j] as f64;
                    }
                    want[i * n + j] = s as f32;
                }
            }
            close(&to_f32(&y[0]), &want, 1e-5);
        }
    }
}

#[test]
fn gemm_attributes() {
    let a = f32s(&[4, 3], rnd);
    let b = f32s(&[5, 4], |i| rnd(i + 9));
    let cc = f32s(&[5], |i| rnd(i + 50));
    let m = model(
        13,
        vec![vi("a", DType::F32, &[D::K(4), D::K(3)])],
        vec![vi("y", DType::F32, &[D::K(3), D::K(5)])],
        vec![node(
            "Gemm",
            "g",
            &["a", "b", "c"],
            &["y"],
            vec![
                ("alpha", A::F(0.5)),
                ("beta", A::F(2.0)),
                ("transA", A::I(1)),
                ("transB", A::I(1)),
            ],
        )],
        vec![init("b", &b), init("c", &cc)],
    );
    let c = compile(&m).unwrap();
    let y = run_all(&c, std::slice::from_ref(&a));
    let (av, bv, cv) = (to_f32(&a), to_f32(&b), to_f32(&cc));
    let mut want = vec![];
    for i in 0..3 {
        for j in 0..5 {
            let s: f32 = (0..4).map(|k| av[k * 3 + i] * bv[j * 4 + k]).sum();
            want.push(0.5 * s + 2.0 * cv[j]);
        }
    }
    close(&to_f32(&y[0]), &want, 1e-5);
}

#[test]
fn softmax_old_and_new_semantics() {
    let x = f32s(&[2, 3, 4], |i| rnd(i) * 4.0);
    let xv = to_f32(&x);
    for (opset, op) in [
        (11, "Softmax"),
        (13, "Softmax"),
        (11, "LogSoftmax"),
        (13, "LogSoftmax"),
    ] {
        let m = model(
            opset,
            vec![vi("x", DType::F32, &[D::K(2), D::K(3), D::K(4)])],
            vec![vi("y", DType::F32, &[D::K(2), D::K(3), D::K(4)])],
            vec![node(op, "s", &["x"], &["y"], vec![("axis", A::I(1))])],
            vec![],
        );
        let c = compile(&m).unwrap();
        let y = to_f32(&run_all(&c, std::slice::from_ref(&x))[0]);
        // Rows: opset 11 coerces to 2-D at axis 1 (rows of 12); opset 13 runs along axis 1
        // (rows of 3 at stride 4).
        let rows: Vec<Vec<usize>> = if opset < 13 {
            (0..2)
                .map(|o| (0..12).map(|k| o * 12 + k).collect())
                .collect()
        } else {
            (0..2)
                .flat_map(|o| (0..4).map(move |i| (0..3).map(|k| o * 12 + k * 4 + i).collect()))
                .collect()
        };
        let mut want = vec![0f32; 24];
        for r in rows {
            let m = r.iter().map(|&i| xv[i]).fold(f32::MIN, f32::max);
            let s: f32 = r.iter().map(|&i| (xv[i] - m).exp()).sum();
            for &i in &r {
                want[i] = if op == "Softmax" {
                    (xv[i] - m).exp() / s
                } else {
                    xv[i] - m - s.ln()
                };
            }
        }
        close(&y, &want, 1e-5);
    }
}

#[test]
fn shape_ops_reshape_transpose_concat_slice_gather() {
    // x (2,3,4) -> Transpose(perm 2,0,1) -> Reshape(4,-1) -> Slice rows 1..3, cols step 2
    // -> Concat with itself on axis 0 -> Gather cols [2, -1] -> Unsqueeze(0) -> Flatten(1) ->
    // Squeeze(0): 8 values.
    let x = f32s(&[2, 3, 4], |i| i as f32);
    let i64t = |v: &[i64]| Tensor::from_i64(vec![v.len() as u64], v);
    let m = model(
        13,
        vec![vi("x", DType::F32, &[D::K(2), D::K(3), D::K(4)])],
        vec![vi("out", DType::F32, &[])],
        vec![
            node(
                "Transpose",
                "t",
                &["x"],
                &["xt"],
                vec![("perm", A::Is(vec![2, 0, 1]))],
            ),
            node("Reshape", "r", &["xt", "shape"], &["xr"], vec![]),
            node(
                "Slice",
                "s",
                &["xr", "st", "en", "ax", "sp"],
                &["xs"],
                vec![],
            ),
            node(
                "Concat",
                "c",
                &["xs", "xs"],
                &["xc"],
                vec![("axis", A::I(0))],
            ),
            node(
                "Gather",
                "g",
                &["xc", "gi"],
                &["xg"],
                vec![("axis", A::I(1))],
            ),
            node("Unsqueeze", "u", &["xg", "ua"], &["xu"], vec![]),
            node("Flatten", "f", &["xu"], &["xf"], vec![("axis", A::I(1))]),
            node("Squeeze", "q", &["xf", "qa"], &["out"], vec![]),
        ],
        vec![
            init("shape", &i64t(&[4, -1])),
            init("st", &i64t(&[1, 0])),
            init("en", &i64t(&[3, 100])),
            init("ax", &i64t(&[0, 1])),
            init("sp", &i64t(&[1, 2])),
            init("gi", &i64t(&[2, -1])),
            init("ua", &i64t(&[0])),
            init("qa", &i64t(&[0])),
        ],
    );
    let c = compile(&m).unwrap();
    let y = run_all(&c, std::slice::from_ref(&x));
    // Reference: transpose -> xt[k][i][j] = x[i][j][k]; reshape (4, 6): row k = [x[i][j][k] for i, j]
    let xv = to_f32(&x);
    let row = |k: usize| -> Vec<f32> {
        let mut r = vec![];
        for i in 0..2 {
            for j in 0..3 {
                r.push(xv[i * 12 + j * 4 + k]);
            }
        }
        r
    };
    let sliced: Vec<Vec<f32>> = (1..3)
        .map(|k| row(k).into_iter().step_by(2).collect())
        .collect(); // (2, 3)
    let cat: Vec<Vec<f32>> = sliced.iter().chain(&sliced).cloned().collect(); // (4, 3)
    let gathered: Vec<f32> = cat.iter().flat_map(|r| vec![r[2], r[2]]).collect(); // cols [2, -1=2]
    assert_eq!(y[0].shape, vec![8]);
    close(&to_f32(&y[0]), &gathered, 0.0);
}

#[test]
fn cast_and_shape_int_types() {
    let m = model(
        15,
        vec![vi("x", DType::F32, &[D::S("N"), D::K(3)])],
        vec![
            vi("i", DType::I32, &[]),
            vi("s", DType::I64, &[]),
            vi("b", DType::Bool, &[]),
        ],
        vec![
            node("Cast", "c", &["x"], &["i"], vec![("to", A::I(6))]),
            node("Shape", "sh", &["x"], &["s"], vec![]),
            node("Cast", "cb", &["x"], &["b"], vec![("to", A::I(9))]),
        ],
        vec![],
    );
    let c = compile(&m).unwrap();
    let vals = [
        0.0f32,
        -0.0,
        1.5,
        -2.7,
        3e9,
        -3e9,
        f32::NAN,
        f32::INFINITY,
        0.4,
    ];
    let x = Tensor::from_f32(vec![3, 3], &vals);
    let y = run_all(&c, &[x]);
    let want_i: Vec<i64> = vals.iter().map(|v| *v as i32 as i64).collect(); // Rust `as` saturates
    assert_eq!(y[0].to_i64_vec(), want_i);
    assert_eq!(y[1].to_i64_vec(), vec![3, 3]);
    let want_b: Vec<i64> = vals.iter().map(|v| (*v != 0.0) as i64).collect();
    assert_eq!(y[2].to_i64_vec(), want_b);
}

#[test]
fn gather_out_of_range_index_is_a_status() {
    let m = model(
        13,
        vec![
            vi("x", DType::F32, &[D::K(4)]),
            vi("i", DType::I64, &[D::K(2)]),
        ],
        vec![vi("y", DType::F32, &[D::K(2)])],
        vec![node("Gather", "g", &["x", "i"], &["y"], vec![])],
        vec![],
    );
    let c = compile(&m).unwrap();
    let x = f32s(&[4], |i| i as f32);
    for b in backends() {
        let ok = run_on(&c, b, &[x.clone(), Tensor::from_i64(vec![2], &[-4, 3])]).unwrap();
        assert_eq!(to_f32(&ok[0]), vec![0.0, 3.0], "{b}");
        for bad in [[4i64, 0], [0, -5]] {
            let e = run_on(&c, b, &[x.clone(), Tensor::from_i64(vec![2], &bad)]).unwrap_err();
            assert!(e.to_string().contains("status 3"), "{b}: {e}");
        }
    }
}

fn import_err(op: &str, attrs: Vec<(&str, A)>, n_in: usize) -> String {
    let names = ["a", "b", "c"];
    let m = model(
        17,
        names[..n_in]
            .iter()
            .map(|n| vi(n, DType::F32, &[D::K(2), D::K(2)]))
            .collect(),
        vec![vi("y", DType::F32, &[])],
        vec![node(op, "the_node", &names[..n_in], &["y"], attrs)],
        vec![],
    );
    match compile(&m) {
        Ok(_) => panic!("{op}: expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn attribute_errors_name_node_op_and_attribute() {
    type Case<'a> = (&'a str, Vec<(&'a str, A)>, usize, &'a str);
    let cases: Vec<Case> = vec![
        ("Relu", vec![("alpha", A::F(1.0))], 1, "'alpha'"),
        ("Add", vec![("broadcast", A::I(1))], 2, "'broadcast'"),
        (
            "Gemm",
            vec![("alpha", A::S("x"))],
            2,
            "'alpha': expected float",
        ),
        ("Softmax", vec![("axis", A::I(5))], 1, "axis 5 out of range"),
        (
            "Transpose",
            vec![("perm", A::Is(vec![0, 0]))],
            1,
            "not a permutation",
        ),
        ("Concat", vec![], 2, "'axis': required"),
        (
            "Cast",
            vec![("to", A::I(99))],
            1,
            "'to': unknown element type 99",
        ),
        ("Cast", vec![("to", A::I(8))], 1, "'to': casting to string"),
        (
            "Flatten",
            vec![("axis", A::I(-9))],
            1,
            "axis -9 out of range",
        ),
        (
            "Gather",
            vec![("axis", A::I(0))],
            2,
            "input 1 has element type float32",
        ),
        ("MatMul", vec![("transA", A::I(1))], 2, "'transA'"),
        ("Squeeze", vec![("axes", A::Is(vec![0]))], 1, "'axes'"),
        ("Sigmoid", vec![("x", A::Fs(vec![1.0]))], 1, "'x'"),
    ];
    for (op, attrs, n, want) in cases {
        let e = import_err(op, attrs, n);
        assert!(e.contains("node the_node"), "{op}: {e}");
        assert!(e.contains(op), "{op}: {e}");
        assert!(e.contains(want), "{op}: expected '{want}' in: {e}");
    }
}

#[test]
fn unsupported_ops_are_all_listed() {
    let m = model(
        17,
        vec![vi("x", DType::F32, &[D::K(2)])],
        vec![vi("z", DType::F32, &[])],
        vec![
            node("Foo", "first", &["x"], &["y"], vec![]),
            node("Relu", "ok", &["y"], &["y2"], vec![]),
            node("Bar", "second", &["y2"], &["z"], vec![]),
        ],
        vec![],
    );
    let e = compile(&m).err().expect("unsupported").to_string();
    assert!(e.contains("Foo") && e.contains("first"), "{e}");
    assert!(e.contains("Bar") && e.contains("second"), "{e}");
}

#[test]
fn integer_arithmetic_semantics() {
    // Int Div by zero gives 0 and INT_MIN / -1 wraps, on every backend.
    let m = model(
        17,
        vec![
            vi("a", DType::I32, &[D::K(4)]),
            vi("b", DType::I32, &[D::K(4)]),
        ],
        vec![
            vi("q", DType::I32, &[D::K(4)]),
            vi("p", DType::I32, &[D::K(4)]),
        ],
        vec![
            node("Div", "d", &["a", "b"], &["q"], vec![]),
            node("Mul", "m", &["a", "b"], &["p"], vec![]),
        ],
        vec![],
    );
    let c = compile(&m).unwrap();
    let i32t = |v: &[i32]| {
        Tensor::from_bytes(
            DType::I32,
            vec![4],
            v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        )
    };
    let y = run_all(&c, &[i32t(&[7, -7, 5, i32::MIN]), i32t(&[2, 2, 0, -1])]);
    assert_eq!(y[0].to_i64_vec(), vec![3, -3, 0, i32::MIN as i64]);
    assert_eq!(y[1].to_i64_vec(), vec![14, -14, 0, i32::MIN as i64]);
}

#[test]
fn if_with_a_run_time_condition_selects_the_branch() {
    // y = cond ? x + 1 : x * 2, with cond a graph input.
    let branch = |op: &str, c: f32| kiln::onnx::proto::GraphProto {
        name: Some(op.into()),
        node: vec![node(op, op, &["x", "k"], &["out"], vec![])],
        initializer: vec![init("k", &Tensor::from_f32(vec![], &[c]))],
        output: vec![vi("out", DType::F32, &[D::S("N")])],
        ..Default::default()
    };
    let m = model(
        16,
        vec![
            vi("cond", DType::Bool, &[]),
            vi("x", DType::F32, &[D::S("N")]),
        ],
        vec![vi("y", DType::F32, &[D::S("N")])],
        vec![node(
            "If",
            "if",
            &["cond"],
            &["y"],
            vec![
                ("then_branch", A::G(branch("Add", 1.0))),
                ("else_branch", A::G(branch("Mul", 2.0))),
            ],
        )],
        vec![],
    );
    let c = compile(&m).unwrap();
    let x = f32s(&[5], |i| i as f32);
    for (flag, want) in [
        (1u8, [1.0f32, 2.0, 3.0, 4.0, 5.0]),
        (0u8, [0.0, 2.0, 4.0, 6.0, 8.0]),
    ] {
        let cond = Tensor::from_bytes(DType::Bool, vec![], vec![flag]);
        let y = run_all(&c, &[cond, x.clone()]);
        assert_eq!(to_f32(&y[0]), want.to_vec(), "cond {flag}");
    }
}

/// A float16 value read twice by one node (Add(c, c), Mul(x, x)) is widened once; the
/// constant keeps its value through the widening (the fuzzer found it dropped once).
#[test]
fn half_value_read_twice_by_one_node() {
    // float16 bit patterns: 1.5 = 0x3E00, -0.25 = 0xB400, 3.0 = 0x4200.
    let h = |v: &[u16]| {
        Tensor::from_bytes(
            DType::F16,
            vec![v.len() as u64],
            v.iter().flat_map(|b| b.to_le_bytes()).collect(),
        )
    };
    let m = model(
        13,
        vec![vi("x", DType::F16, &[D::K(2)])],
        vec![vi("y", DType::F16, &[]), vi("z", DType::F16, &[])],
        vec![
            node("Add", "twice", &["c", "c"], &["y"], vec![]),
            node("Mul", "square", &["x", "x"], &["z"], vec![]),
        ],
        vec![init("c", &h(&[0x3E00, 0xB400]))],
    );
    let c = compile(&m).unwrap();
    let y = run_all(&c, &[h(&[0x4200, 0xB400])]);
    assert_eq!(to_f32(&y[0]), [3.0, -0.5]);
    assert_eq!(to_f32(&y[1]), [9.0, 0.0625]);
}

/// Pow of f32 by a constant 2 or 3 (f32 or i64 exponent) is computed by multiplication in
/// f64 (`ops::elementwise`): the f64 product of x*x (exact) and *x (one rounding), rounded to
/// f32, on every backend, with special values; the pow call's result for the same inputs
/// agrees within one f32 ulp. Another exponent (2.5) still calls pow.
#[test]
fn pow_by_constant_two_or_three() {
    let xs = [
        0.0f32,
        -0.0,
        1.5,
        -1.5,
        3.0e-39,
        -1e-45,
        1e13,
        -1e13,
        f32::MAX,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        0.1,
        -7.25,
        1.0000001,
    ];
    let x = Tensor::from_f32(vec![xs.len() as u64], &xs);
    for (e, t, n) in [
        (Tensor::from_f32(vec![], &[2.0]), "f32 2", 2),
        (Tensor::from_f32(vec![], &[3.0]), "f32 3", 3),
        (Tensor::from_i64(vec![1], &[3]), "i64 3", 3),
        (Tensor::from_f32(vec![], &[2.5]), "f32 2.5", 0),
    ] {
        let m = model(
            17,
            vec![vi("x", DType::F32, &[D::K(xs.len() as i64)])],
            vec![vi("y", DType::F32, &[D::K(xs.len() as i64)])],
            vec![node("Pow", "p", &["x", "e"], &["y"], vec![])],
            vec![init("e", &e)],
        );
        let c = compile(&m).unwrap_or_else(|err| panic!("{t}: {err}"));
        let y = to_f32(&run_all(&c, std::slice::from_ref(&x))[0]);
        for (i, (&x, &y)) in xs.iter().zip(&y).enumerate() {
            let d = x as f64;
            let want = match n {
                2 => (d * d) as f32,
                3 => (d * d * d) as f32,
                _ => kiln_shim::powf(x, 2.5),
            };
            assert!(
                y.to_bits() == want.to_bits() || (y.is_nan() && want.is_nan()),
                "{t} [{i}]: pow({x:e}) = {y:e}, want {want:e}"
            );
            let p = kiln_shim::powf(x, n.max(2) as f32);
            if n > 0 && p.is_finite() {
                assert!(
                    (y.to_bits() as i64 - p.to_bits() as i64).abs() <= 1,
                    "{t} [{i}]: {y:e} vs powf {p:e}"
                );
            }
        }
    }
}
