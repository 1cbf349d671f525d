//! Unit tests of the math ops: semantics on edge cases (evaluated through the op's own lowering
//! and `kir::interp`, as constant folding does), attribute and type errors, symbolic shapes.

use crate::error::Result;
use crate::ir::{AttrValue, Dim, Node, TensorType, ValueId};
use crate::kir::SymId;
use crate::lower::eval_node;
use crate::ops::{import, InferCx};
use crate::tensor::{DType, Tensor};

fn node(op: &str, opset: i64, n_in: usize, n_out: usize, attrs: Vec<(&str, AttrValue)>) -> Node {
    Node {
        name: "n".into(),
        op_type: op.into(),
        domain: String::new(),
        opset,
        inputs: (0..n_in).map(|i| Some(ValueId(i as u32))).collect(),
        outputs: (0..n_out)
            .map(|i| Some(ValueId((n_in + i) as u32)))
            .collect(),
        attrs: attrs.into_iter().map(|(n, v)| (n.to_string(), v)).collect(),
    }
}

fn ty(t: &Tensor) -> TensorType {
    TensorType {
        dtype: t.dtype,
        shape: t.shape.iter().map(|d| Dim::known(*d as i64)).collect(),
    }
}

/// Import, infer and evaluate one node on constant inputs.
fn eval_n(
    op: &str,
    opset: i64,
    attrs: Vec<(&str, AttrValue)>,
    ins: &[Tensor],
    n_out: usize,
) -> Result<Vec<Tensor>> {
    let n = node(op, opset, ins.len(), n_out, attrs);
    let o = import(&n)?;
    let tys: Vec<TensorType> = ins.iter().map(ty).collect();
    let cx = InferCx {
        node: &n,
        inputs: tys.iter().map(Some).collect(),
        consts: ins.iter().map(Some).collect(),
        syms: &[],
    };
    let outs = o.infer(&cx)?;
    let refs: Vec<Option<&Tensor>> = ins.iter().map(Some).collect();
    eval_node(&n, o.as_ref(), &refs, &outs[..n_out])
}

fn eval(op: &str, opset: i64, attrs: Vec<(&str, AttrValue)>, ins: &[Tensor]) -> Result<Tensor> {
    Ok(eval_n(op, opset, attrs, ins, 1)?.remove(0))
}

fn vals(t: &Tensor) -> Vec<f64> {
    (0..t.numel() as usize).map(|i| t.get_f64(i)).collect()
}

fn ints(t: &Tensor) -> Vec<i64> {
    t.to_i64_vec()
}

fn i32s(v: &[i32]) -> Tensor {
    Tensor::from_bytes(
        DType::I32,
        vec![v.len() as u64],
        v.iter().flat_map(|x| x.to_le_bytes()).collect(),
    )
}

fn f32s(v: &[f32]) -> Tensor {
    Tensor::from_f32(vec![v.len() as u64], v)
}

fn bools(shape: Vec<u64>, v: &[bool]) -> Tensor {
    Tensor::from_bytes(DType::Bool, shape, v.iter().map(|b| *b as u8).collect())
}

fn int(v: i64) -> AttrValue {
    AttrValue::Int(v)
}

fn s(v: &str) -> AttrValue {
    AttrValue::String(v.as_bytes().to_vec())
}

#[test]
fn mod_integer_floor_and_trunc() {
    let a = i32s(&[-7, 7, -7, 7, 5, 0]);
    let b = i32s(&[2, -2, -2, 2, 0, 3]);
    let y = eval("Mod", 13, vec![], &[a.clone(), b.clone()]).unwrap();
    assert_eq!(ints(&y), [1, -1, -1, 1, 0, 0]);
    let y = eval("Mod", 13, vec![("fmod", int(1))], &[a, b]).unwrap();
    assert_eq!(ints(&y), [-1, 1, -1, 1, 0, 0]);
}

#[test]
fn mod_float() {
    let a = f32s(&[-4.5, 4.5, 0.0, 1.0, f32::INFINITY, -3.0]);
    let b = f32s(&[2.0, -2.0, -2.0, 0.0, 2.0, f32::INFINITY]);
    let y = vals(&eval("Mod", 13, vec![("fmod", int(1))], &[a.clone(), b.clone()]).unwrap());
    assert_eq!(&y[..3], &[-0.5, 0.5, 0.0]);
    assert!(y[3].is_nan() && y[4].is_nan());
    assert_eq!(y[5], -3.0);
    // fmod=0 on floats: an error before opset 28, the spec's special cases from 28.
    let e = eval("Mod", 13, vec![], &[a.clone(), b.clone()])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("node n (Mod, opset 13)") && e.contains("fmod"),
        "{e}"
    );
    let y = vals(&eval("Mod", 28, vec![], &[a, b]).unwrap());
    assert_eq!(&y[..2], &[1.5, -1.5]);
    assert!(
        y[2] == 0.0 && y[2].is_sign_negative(),
        "zero takes the divisor's sign"
    );
    assert!(y[3].is_nan() && y[4].is_nan());
    assert_eq!(y[5], f64::INFINITY);
    let e = eval(
        "Mod",
        13,
        vec![("fmod", int(2))],
        &[f32s(&[1.0]), f32s(&[1.0])],
    );
    assert!(e.unwrap_err().to_string().contains("attribute 'fmod'"));
}

#[test]
fn bitshift() {
    let u8s = |v: &[u8]| Tensor::from_bytes(DType::U8, vec![v.len() as u64], v.to_vec());
    let left = vec![("direction", s("LEFT"))];
    let y = eval(
        "BitShift",
        11,
        left.clone(),
        &[u8s(&[1, 3, 255, 1]), u8s(&[1, 2, 1, 8])],
    )
    .unwrap();
    assert_eq!(ints(&y), [2, 12, 254, 0]);
    let y = eval(
        "BitShift",
        28,
        vec![("direction", s("RIGHT"))],
        &[i32s(&[-8, 8, -1, -8]), i32s(&[1, 40, -3, 31])],
    )
    .unwrap();
    assert_eq!(ints(&y), [-4, 0, -1, -1]);
    // Signed types only from opset 28.
    let e = eval("BitShift", 11, left, &[i32s(&[1]), i32s(&[1])])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("BitShift, opset 11") && e.contains("int32"),
        "{e}"
    );
    let e = eval(
        "BitShift",
        11,
        vec![("direction", s("UP"))],
        &[u8s(&[1]), u8s(&[1])],
    );
    assert!(e.unwrap_err().to_string().contains("attribute 'direction'"));
}

#[test]
fn clip_versions() {
    let x = f32s(&[-3.0, -0.5, 0.5, 3.0, f32::NAN]);
    let y = vals(
        &eval(
            "Clip",
            6,
            vec![("min", AttrValue::Float(-1.0))],
            std::slice::from_ref(&x),
        )
        .unwrap(),
    );
    assert_eq!(&y[..4], &[-1.0, -0.5, 0.5, 3.0]);
    assert!(y[4].is_nan());
    let lo = Tensor::from_f32(vec![], &[1.0]);
    let hi = Tensor::from_f32(vec![], &[0.0]);
    let y = vals(&eval("Clip", 13, vec![], &[x.clone(), lo.clone(), hi]).unwrap());
    assert_eq!(&y[..4], &[0.0; 4], "min > max gives max");
    // An absent min: only the max bound.
    let n = node("Clip", 13, 3, 1, vec![]);
    let mut n2 = n.clone();
    n2.inputs[1] = None;
    let o = import(&n2).unwrap();
    let hi = Tensor::from_f32(vec![], &[0.0]);
    let (tx, th) = (ty(&x), ty(&hi));
    let cx = InferCx {
        node: &n2,
        inputs: vec![Some(&tx), None, Some(&th)],
        consts: vec![Some(&x), None, Some(&hi)],
        syms: &[],
    };
    let outs = o.infer(&cx).unwrap();
    let y = eval_node(&n2, o.as_ref(), &[Some(&x), None, Some(&hi)], &outs).unwrap();
    assert_eq!(&vals(&y[0])[..4], &[-3.0, -0.5, 0.0, 0.0]);
    // Bounds must be scalars of the input's type.
    let e = eval("Clip", 13, vec![], &[x, f32s(&[1.0, 2.0])])
        .unwrap_err()
        .to_string();
    assert!(e.contains("min (input 1) must be a scalar"), "{e}");
    let _ = lo;
}

#[test]
fn legacy_broadcast() {
    let a = Tensor::from_i64(vec![2, 3], &[1, 2, 3, 4, 5, 6]);
    let b = Tensor::from_i64(vec![2], &[1, 5]);
    let y = eval(
        "Equal",
        1,
        vec![("broadcast", int(1)), ("axis", int(0))],
        &[a.clone(), b.clone()],
    )
    .unwrap();
    assert_eq!(y.dtype, DType::Bool);
    assert_eq!(ints(&y), [1, 0, 0, 0, 1, 0]);
    let e = eval("Equal", 1, vec![], &[a, b]).unwrap_err().to_string();
    assert!(e.contains("'broadcast' is 0"), "{e}");
}

#[test]
fn where_broadcasts_three_inputs() {
    let c = bools(vec![2, 1], &[true, false]);
    let x = f32s(&[1.0, 2.0, 3.0]);
    let y = Tensor::from_f32(vec![], &[9.0]);
    let out = eval("Where", 16, vec![], &[c, x, y]).unwrap();
    assert_eq!(out.shape, vec![2, 3]);
    assert_eq!(vals(&out), [1.0, 2.0, 3.0, 9.0, 9.0, 9.0]);
}

#[test]
fn unary_edge_cases() {
    let x = f32s(&[0.5, 1.5, 2.5, -0.5, -2.5]);
    assert_eq!(
        vals(&eval("Round", 11, vec![], &[x]).unwrap()),
        [0.0, 2.0, 2.0, -0.0, -2.0]
    );
    let x = f32s(&[-2.0, 0.0, 3.0, f32::NAN]);
    let y = vals(&eval("Sign", 13, vec![], &[x]).unwrap());
    assert_eq!(&y[..3], &[-1.0, 0.0, 1.0]);
    assert!(y[3].is_nan());
    let x = f32s(&[f32::INFINITY, f32::NEG_INFINITY, 1.0, f32::NAN]);
    let y = eval(
        "IsInf",
        20,
        vec![("detect_positive", int(0))],
        std::slice::from_ref(&x),
    )
    .unwrap();
    assert_eq!(ints(&y), [0, 1, 0, 0]);
    assert_eq!(
        ints(&eval("IsNaN", 20, vec![], &[x]).unwrap()),
        [0, 0, 0, 1]
    );
    let e = eval(
        "IsInf",
        20,
        vec![("detect_negative", int(3))],
        &[f32s(&[1.0])],
    );
    assert!(e
        .unwrap_err()
        .to_string()
        .contains("attribute 'detect_negative'"));
    let y = eval("BitwiseNot", 18, vec![], &[i32s(&[0, -1, 5])]).unwrap();
    assert_eq!(ints(&y), [-1, 0, -6]);
    let y = eval("Sign", 13, vec![], &[i32s(&[-5, 0, 7])]).unwrap();
    assert_eq!(ints(&y), [-1, 0, 1]);
    // Floats only where the spec says so.
    let e = eval("Sin", 7, vec![], &[i32s(&[1])])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("node n (Sin, opset 7)") && e.contains("int32"),
        "{e}"
    );
}

#[test]
fn variadic_broadcast_and_order() {
    let a = f32s(&[1.0, 5.0]);
    let b = Tensor::from_f32(vec![2, 1], &[3.0, 4.0]);
    let c = Tensor::from_f32(vec![], &[0.5]);
    let ins = [a, b, c];
    let y = eval("Max", 13, vec![], &ins).unwrap();
    assert_eq!(y.shape, vec![2, 2]);
    assert_eq!(vals(&y), [3.0, 5.0, 4.0, 5.0]);
    assert_eq!(vals(&eval("Min", 13, vec![], &ins).unwrap()), [0.5; 4]);
    assert_eq!(
        vals(&eval("Sum", 13, vec![], &ins).unwrap()),
        [4.5, 8.5, 5.5, 9.5]
    );
    assert_eq!(
        vals(&eval("Mean", 13, vec![], &ins).unwrap()),
        [1.5, 8.5 / 3.0, 5.5 / 3.0, 9.5 / 3.0].map(|v: f64| v as f32 as f64)
    );
    // Integer Max only from opset 12.
    assert!(eval("Max", 8, vec![], &[i32s(&[1])]).is_err());
    assert_eq!(
        ints(&eval("Max", 12, vec![], &[i32s(&[1, 4]), i32s(&[3, 2])]).unwrap()),
        [3, 4]
    );
}

#[test]
fn activations() {
    let x = f32s(&[-2.0, 0.0, 2.0]);
    let y = vals(
        &eval(
            "LeakyRelu",
            16,
            vec![("alpha", AttrValue::Float(0.5))],
            std::slice::from_ref(&x),
        )
        .unwrap(),
    );
    assert_eq!(y, [-1.0, 0.0, 2.0]);
    let y = vals(&eval("ThresholdedRelu", 10, vec![], std::slice::from_ref(&x)).unwrap());
    assert_eq!(y, [0.0, 0.0, 2.0]);
    let y = vals(&eval("HardSigmoid", 6, vec![], std::slice::from_ref(&x)).unwrap());
    let hs = |x: f32| (0.2f32 * x + 0.5).clamp(0.0, 1.0) as f64;
    assert_eq!(y, [hs(-2.0), 0.5, hs(2.0)]);
    let y = vals(
        &eval(
            "Shrink",
            9,
            vec![("bias", AttrValue::Float(1.0))],
            &[i32s(&[-3, 0, 3])],
        )
        .unwrap(),
    );
    assert_eq!(y, [-2.0, 0.0, 2.0]);
    let y = vals(&eval("Gelu", 20, vec![], std::slice::from_ref(&x)).unwrap());
    assert!((y[2] - 1.954_499_7).abs() < 1e-5, "{y:?}");
    let e = eval(
        "Gelu",
        20,
        vec![("approximate", s("fast"))],
        std::slice::from_ref(&x),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("node n (Gelu, opset 20), attribute 'approximate'"),
        "{e}"
    );
    let e = eval("Elu", 6, vec![("beta", AttrValue::Float(1.0))], &[x])
        .unwrap_err()
        .to_string();
    assert!(e.contains("attribute 'beta'"), "{e}");
    // Softplus does not overflow for large inputs.
    let y = vals(&eval("Softplus", 1, vec![], &[f32s(&[100.0, -100.0, 0.0])]).unwrap());
    assert_eq!(&y[..2], &[100.0, 0.0]);
    assert!((y[2] - std::f64::consts::LN_2).abs() < 1e-6);
    let slope = f32s(&[0.25]);
    let y = vals(&eval("PRelu", 16, vec![], &[f32s(&[-4.0, 4.0]), slope.clone()]).unwrap());
    assert_eq!(y, [-1.0, 4.0]);
    // The slope broadcasts to X, never X to the slope.
    let e = eval("PRelu", 16, vec![], &[slope, f32s(&[1.0, 2.0])])
        .unwrap_err()
        .to_string();
    assert!(e.contains("unidirectional"), "{e}");
}

#[test]
fn castlike_and_dropout() {
    let x = f32s(&[-1.5, 300.0, f32::NAN]);
    let like = Tensor::from_bytes(DType::U8, vec![0], vec![]);
    let y = eval("CastLike", 21, vec![], &[x.clone(), like]).unwrap();
    assert_eq!(y.dtype, DType::U8);
    assert_eq!(ints(&y), [0, 255, 0]);
    let out = eval_n(
        "Dropout",
        13,
        vec![("seed", int(3))],
        std::slice::from_ref(&x),
        2,
    )
    .unwrap();
    assert_eq!(out[0].bytes(), x.bytes());
    assert_eq!(out[1].dtype, DType::Bool);
    assert_eq!(ints(&out[1]), [1, 1, 1]);
    let r = Tensor::from_f32(vec![], &[0.5]);
    let yes = bools(vec![], &[true]);
    let e = eval("Dropout", 13, vec![], &[x.clone(), r, yes.clone()])
        .unwrap_err()
        .to_string();
    assert!(e.contains("training_mode"), "{e}");
    // Training mode with ratio 0 is the identity.
    let r0 = Tensor::from_f32(vec![], &[0.0]);
    let out = eval_n("Dropout", 13, vec![], &[x.clone(), r0, yes], 2).unwrap();
    assert_eq!(out[0].bytes(), x.bytes());
    assert_eq!(ints(&out[1]), [1, 1, 1]);
}

#[test]
fn symbolic_batch_dims() {
    let n = node("Less", 13, 2, 1, vec![]);
    let o = import(&n).unwrap();
    let a = TensorType {
        dtype: DType::F32,
        shape: vec![Dim::sym(SymId(0)), Dim::known(3)],
    };
    let b = TensorType {
        dtype: DType::F32,
        shape: vec![Dim::known(3)],
    };
    let syms = vec!["N".to_string()];
    let cx = InferCx {
        node: &n,
        inputs: vec![Some(&a), Some(&b)],
        consts: vec![None, None],
        syms: &syms,
    };
    let out = o.infer(&cx).unwrap();
    assert_eq!(out[0].dtype, DType::Bool);
    assert_eq!(out[0].shape, a.shape);
}
