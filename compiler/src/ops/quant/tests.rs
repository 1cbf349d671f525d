//! Unit tests of the quantization family and the misc ops: attribute errors (they must name
//! the node, op, opset and attribute), shape inference with symbolic dims, and small
//! lowerings run through `lower::eval_node` (the interpreter) against direct computations,
//! for behaviour the conformance cases do not reach (rounding ties, saturation, per-axis
//! parameters, int32 inputs, pivoting, opset-7 Upsample, GlobalLpPool).

use crate::ir::{AttrValue, Dim, Node, TensorType, ValueId};
use crate::kir::SymId;
use crate::ops::{import, InferCx};
use crate::tensor::{DType, Tensor};

fn node(op: &str, opset: i64, n_in: usize, n_out: usize, attrs: Vec<(&str, AttrValue)>) -> Node {
    Node {
        name: "n0".into(),
        op_type: op.into(),
        domain: String::new(),
        opset,
        inputs: (0..n_in).map(|i| Some(ValueId(i as u32))).collect(),
        outputs: (0..n_out).map(|i| Some(ValueId(100 + i as u32))).collect(),
        attrs: attrs.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
    }
}

fn import_err(n: &Node) -> String {
    match import(n) {
        Ok(op) => panic!("expected an error, got {op:?}"),
        Err(e) => e.to_string(),
    }
}

fn infer(n: &Node, tys: &[Option<TensorType>]) -> crate::error::Result<Vec<TensorType>> {
    let op = import(n)?;
    let syms = vec!["N".to_string()];
    let cx = InferCx {
        node: n,
        inputs: tys.iter().map(|t| t.as_ref()).collect(),
        consts: vec![None; tys.len()],
        syms: &syms,
    };
    op.infer(&cx)
}

fn eval(n: &Node, inputs: &[Option<&Tensor>]) -> Vec<Tensor> {
    let op = import(n).unwrap();
    let tys: Vec<Option<TensorType>> = inputs
        .iter()
        .map(|t| {
            t.map(|t| TensorType {
                dtype: t.dtype,
                shape: t.shape.iter().map(|d| Dim::known(*d as i64)).collect(),
            })
        })
        .collect();
    let cx = InferCx {
        node: n,
        inputs: tys.iter().map(|t| t.as_ref()).collect(),
        consts: inputs.to_vec(),
        syms: &[],
    };
    let out = op.infer(&cx).unwrap();
    crate::lower::eval_node(n, op.as_ref(), inputs, &out).unwrap()
}

fn vals(t: &Tensor) -> Vec<f64> {
    (0..t.numel() as usize).map(|i| t.get_f64(i)).collect()
}

fn f32s(shape: &[u64], v: &[f32]) -> Tensor {
    Tensor::from_f32(shape.to_vec(), v)
}

fn f64s(shape: &[u64], v: &[f64]) -> Tensor {
    let b = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    Tensor::from_bytes(DType::F64, shape.to_vec(), b)
}

fn ints(dtype: DType, shape: &[u64], v: &[i64]) -> Tensor {
    let size = dtype.size().unwrap();
    let b = v
        .iter()
        .flat_map(|x| x.to_le_bytes()[..size].to_vec())
        .collect();
    Tensor::from_bytes(dtype, shape.to_vec(), b)
}

fn tt(dtype: DType, shape: Vec<Dim>) -> Option<TensorType> {
    Some(TensorType { dtype, shape })
}

fn k(v: &[i64]) -> Vec<Dim> {
    v.iter().map(|x| Dim::known(*x)).collect()
}

#[test]
fn attribute_errors_name_node_op_and_attribute() {
    let check = |n: Node, attr: &str| {
        let e = import_err(&n);
        assert!(
            e.contains("n0") && e.contains(&n.op_type) && e.contains(attr),
            "{e}"
        );
    };
    check(
        node(
            "QuantizeLinear",
            21,
            2,
            1,
            vec![("output_dtype", AttrValue::Int(99))],
        ),
        "output_dtype",
    );
    check(
        node(
            "QuantizeLinear",
            23,
            2,
            1,
            vec![("precision", AttrValue::Int(10))],
        ),
        "precision",
    );
    check(
        node(
            "QuantizeLinear",
            21,
            2,
            1,
            vec![("block_size", AttrValue::Int(-1))],
        ),
        "block_size",
    );
    // `axis` only exists from opset 13: unread, so rejected.
    check(
        node(
            "DequantizeLinear",
            10,
            2,
            1,
            vec![("axis", AttrValue::Int(0))],
        ),
        "axis",
    );
    check(
        node(
            "NegativeLogLikelihoodLoss",
            13,
            2,
            1,
            vec![("reduction", AttrValue::String(b"avg".to_vec()))],
        ),
        "reduction",
    );
    check(
        node("GlobalLpPool", 2, 1, 1, vec![("p", AttrValue::Int(0))]),
        "'p'",
    );
    check(node("Upsample", 10, 2, 1, vec![]), "deprecated");
    check(
        node(
            "Upsample",
            7,
            1,
            1,
            vec![("mode", AttrValue::String(b"cubic".to_vec()))],
        ),
        "mode",
    );
    check(
        node("ConvInteger", 10, 2, 1, vec![("group", AttrValue::Int(0))]),
        "group",
    );
    check(
        node("EyeLike", 9, 1, 1, vec![("dtype", AttrValue::Int(8))]),
        "dtype",
    );
}

#[test]
fn shape_errors_and_symbolic_dims() {
    let n = Dim::sym(SymId(0));
    // Per-axis quantization with a symbolic batch dim.
    let q = node(
        "QuantizeLinear",
        13,
        3,
        1,
        vec![("axis", AttrValue::Int(1))],
    );
    let out = infer(
        &q,
        &[
            tt(DType::F32, vec![n.clone(), Dim::known(3)]),
            tt(DType::F32, k(&[3])),
            tt(DType::I8, k(&[3])),
        ],
    )
    .unwrap();
    assert_eq!(out[0].dtype, DType::I8);
    assert_eq!(out[0].shape, vec![n.clone(), Dim::known(3)]);
    // A scale of the wrong length names the input.
    let e = infer(
        &q,
        &[
            tt(DType::F32, vec![n.clone(), Dim::known(3)]),
            tt(DType::F32, k(&[4])),
            None,
        ],
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("QuantizeLinear") && e.contains("input 1"), "{e}");
    // Types without storage are named.
    let e = infer(
        &node("DequantizeLinear", 21, 2, 1, vec![]),
        &[tt(DType::I4, k(&[4])), tt(DType::F32, vec![])],
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("int4") && e.contains("cannot store"), "{e}");
    // MatMulInteger with a symbolic batch.
    let out = infer(
        &node("MatMulInteger", 10, 2, 1, vec![]),
        &[
            tt(DType::U8, vec![n.clone(), Dim::known(2), Dim::known(3)]),
            tt(DType::I8, k(&[3, 4])),
        ],
    )
    .unwrap();
    assert_eq!(out[0].dtype, DType::I32);
    assert_eq!(out[0].shape, vec![n.clone(), Dim::known(2), Dim::known(4)]);
    // Loss: target shape must match.
    let e = infer(
        &node("SoftmaxCrossEntropyLoss", 13, 2, 1, vec![]),
        &[tt(DType::F32, k(&[3, 5, 2])), tt(DType::I64, k(&[3]))],
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("target"), "{e}");
    // Det needs a known matrix size.
    let e = infer(
        &node("Det", 11, 1, 1, vec![]),
        &[tt(DType::F32, vec![n.clone(), n.clone()])],
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("--dim"), "{e}");
}

#[test]
fn quantize_rounds_half_even_and_saturates() {
    let x = f32s(
        &[8],
        &[0.5, 1.5, 2.5, -0.5, -1.5, 1000.0, -1000.0, f32::NAN],
    );
    let s = f32s(&[], &[1.0]);
    let z = ints(DType::I8, &[], &[1]);
    let q = node("QuantizeLinear", 10, 3, 1, vec![]);
    let y = eval(&q, &[Some(&x), Some(&s), Some(&z)]);
    assert_eq!(y[0].dtype, DType::I8);
    // round(v) + 1: 0, 2, 2, 0, -2 then +1; saturation; NaN rounds to 0.
    assert_eq!(
        vals(&y[0]),
        vec![1.0, 3.0, 3.0, 1.0, -1.0, 127.0, -128.0, 1.0]
    );
    // No zero point: uint8.
    let y = eval(&q, &[Some(&x), Some(&s), None]);
    assert_eq!(y[0].dtype, DType::U8);
    assert_eq!(vals(&y[0])[..6], [0.0, 2.0, 2.0, 0.0, 0.0, 255.0]);
    // int32 input at opset 10 (divided in float64).
    let xi = ints(DType::I32, &[3], &[7, -7, 300]);
    let s2 = f32s(&[], &[2.0]);
    let y = eval(&q, &[Some(&xi), Some(&s2), None]);
    assert_eq!(vals(&y[0]), vec![4.0, 0.0, 150.0]);
}

#[test]
fn per_axis_and_blocked_parameters() {
    // x [2, 3], per-axis on axis 1 (int16).
    let x = f32s(&[2, 3], &[1.0, 2.0, 3.0, -1.0, -2.0, -3.0]);
    let s = f32s(&[3], &[1.0, 0.5, 0.25]);
    let z = ints(DType::I16, &[3], &[0, 10, -10]);
    let q = node(
        "QuantizeLinear",
        13,
        3,
        1,
        vec![("axis", AttrValue::Int(1))],
    );
    let y = eval(&q, &[Some(&x), Some(&s), Some(&z)]);
    assert_eq!(vals(&y[0]), vec![1.0, 14.0, 2.0, -1.0, 6.0, -22.0]);
    // Dequantize it back, blocked on axis 1 with block 2 (scale [2, 2]).
    let xq = ints(DType::I32, &[2, 3], &[1, 2, 3, 4, 5, 6]);
    let sb = f64s(&[2, 2], &[1.0, 10.0, 2.0, 20.0]);
    let d = node(
        "DequantizeLinear",
        21,
        2,
        1,
        vec![
            ("axis", AttrValue::Int(1)),
            ("block_size", AttrValue::Int(2)),
        ],
    );
    let y = eval(&d, &[Some(&xq), Some(&sb)]);
    assert_eq!(y[0].dtype, DType::F64);
    assert_eq!(vals(&y[0]), vec![1.0, 2.0, 30.0, 8.0, 10.0, 120.0]);
}

#[test]
fn qlinearconv_with_bias_and_per_channel_scales() {
    // x 1x1x2x2 (uint8, zp 1), w 2x1x1x1 (int8 per-channel zp), bias, per-channel w_scale.
    let x = ints(DType::U8, &[1, 1, 2, 2], &[1, 2, 3, 4]);
    let xs = f32s(&[], &[0.5]);
    let xz = ints(DType::U8, &[], &[1]);
    let w = ints(DType::I8, &[2, 1, 1, 1], &[3, -2]);
    let ws = f32s(&[2], &[1.0, 2.0]);
    let wz = ints(DType::I8, &[2], &[1, 0]);
    let ys = f32s(&[], &[1.0]);
    let yz = ints(DType::U8, &[], &[100]);
    let b = ints(DType::I32, &[2], &[1, -1]);
    let n = node("QLinearConv", 10, 9, 1, vec![]);
    let y = eval(
        &n,
        &[
            Some(&x),
            Some(&xs),
            Some(&xz),
            Some(&w),
            Some(&ws),
            Some(&wz),
            Some(&ys),
            Some(&yz),
            Some(&b),
        ],
    );
    let mut want = vec![];
    for (wv, wzv, sc, bv) in [(3i64, 1i64, 1.0f32, 1i64), (-2, 0, 2.0, -1)] {
        for xv in [1i64, 2, 3, 4] {
            let r = (xv - 1) * (wv - wzv) + bv;
            let d = (r as f64 * (0.5f32 * sc) as f64 + 100.0).round_ties_even();
            want.push(d.clamp(0.0, 255.0));
        }
    }
    assert_eq!(vals(&y[0]), want);
}

#[test]
fn det_pivots_and_handles_singular() {
    let a = [0.0, 2.0, 1.0, 1.0, 1.0, 1.0, 2.0, 1.0, 3.0];
    let direct = a[0] * (a[4] * a[8] - a[5] * a[7]) - a[1] * (a[3] * a[8] - a[5] * a[6])
        + a[2] * (a[3] * a[7] - a[4] * a[6]);
    let sing = [1.0, 2.0, 3.0, 2.0, 4.0, 6.0, 1.0, 0.0, 1.0];
    let mut v = a.to_vec();
    v.extend(sing);
    let x = f64s(&[2, 3, 3], &v);
    let y = eval(&node("Det", 11, 1, 1, vec![]), &[Some(&x)]);
    let got = vals(&y[0]);
    assert!((got[0] - direct).abs() < 1e-12, "{got:?} vs {direct}");
    assert_eq!(got[1], 0.0);
}

#[test]
fn global_lp_pool_matches_direct() {
    let x = f32s(&[1, 2, 2, 1], &[3.0, -4.0, 1.0, 2.0]);
    let y = eval(
        &node("GlobalLpPool", 2, 1, 1, vec![("p", AttrValue::Int(2))]),
        &[Some(&x)],
    );
    assert_eq!(y[0].shape, vec![1, 2, 1, 1]);
    let got = vals(&y[0]);
    assert!(
        (got[0] - 5.0).abs() < 1e-6 && (got[1] - 5f64.sqrt()).abs() < 1e-6,
        "{got:?}"
    );
    let y = eval(
        &node("GlobalLpPool", 1, 1, 1, vec![("p", AttrValue::Float(3.0))]),
        &[Some(&x)],
    );
    let got = vals(&y[0]);
    assert!((got[0] - 91f64.cbrt()).abs() < 1e-5, "{got:?}");
}

#[test]
fn upsample_opset7_attribute_and_legacy_hardmax() {
    let x = f32s(&[1, 1, 2, 2], &[1.0, 2.0, 3.0, 4.0]);
    let n = node(
        "Upsample",
        7,
        1,
        1,
        vec![("scales", AttrValue::Floats(vec![1.0, 1.0, 2.0, 1.5]))],
    );
    let y = eval(&n, &[Some(&x)]);
    assert_eq!(y[0].shape, vec![1, 1, 4, 3]);
    assert_eq!(
        vals(&y[0]),
        vec![1.0, 1.0, 2.0, 1.0, 1.0, 2.0, 3.0, 3.0, 4.0, 3.0, 3.0, 4.0]
    );
    // Opset 11 Hardmax coerces to 2-D at axis 1: one 1 per batch row.
    let x = f32s(&[2, 2, 2], &[1.0, 5.0, 5.0, 0.0, 9.0, 1.0, 2.0, 3.0]);
    let y = eval(&node("Hardmax", 11, 1, 1, vec![]), &[Some(&x)]);
    assert_eq!(vals(&y[0]), vec![0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]);
}
