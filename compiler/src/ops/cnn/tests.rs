//! Unit tests of the CNN family: attribute and shape errors (they must name the node, op,
//! opset and attribute), symbolic dims in shape inference, and small lowerings run through
//! `lower::eval_node` (the interpreter) against direct computations.

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

fn ints(v: &[i64]) -> AttrValue {
    AttrValue::Ints(v.to_vec())
}

fn import_err(n: &Node) -> String {
    match import(n) {
        Ok(op) => panic!("expected an error, got {op:?}"),
        Err(e) => e.to_string(),
    }
}

fn f32t(shape: Vec<Dim>) -> TensorType {
    TensorType {
        dtype: DType::F32,
        shape,
    }
}

fn k(v: &[i64]) -> Vec<Dim> {
    v.iter().map(|x| Dim::known(*x)).collect()
}

fn infer(
    n: &Node,
    tys: &[TensorType],
    consts: &[Option<&Tensor>],
) -> crate::error::Result<Vec<TensorType>> {
    let op = import(n)?;
    let syms = vec!["N".to_string(), "H".to_string()];
    let cx = InferCx {
        node: n,
        inputs: tys.iter().map(Some).collect(),
        consts: (0..tys.len())
            .map(|i| consts.get(i).copied().flatten())
            .collect(),
        syms: &syms,
    };
    op.infer(&cx)
}

fn eval(n: &Node, inputs: &[&Tensor]) -> Vec<Tensor> {
    let op = import(n).unwrap();
    let tys: Vec<TensorType> = inputs
        .iter()
        .map(|t| TensorType {
            dtype: t.dtype,
            shape: t.shape.iter().map(|d| Dim::known(*d as i64)).collect(),
        })
        .collect();
    let consts: Vec<Option<&Tensor>> = inputs.iter().map(|t| Some(*t)).collect();
    let cx = InferCx {
        node: n,
        inputs: tys.iter().map(Some).collect(),
        consts: consts.clone(),
        syms: &[],
    };
    let out = op.infer(&cx).unwrap();
    crate::lower::eval_node(n, op.as_ref(), &consts, &out).unwrap()
}

fn vals(t: &Tensor) -> Vec<f64> {
    (0..t.numel() as usize).map(|i| t.get_f64(i)).collect()
}

#[test]
fn attribute_errors_name_node_op_and_attribute() {
    let e = import_err(&node(
        "Conv",
        11,
        2,
        1,
        vec![("auto_pad", AttrValue::String(b"SAME".to_vec()))],
    ));
    assert!(
        e.contains("n0") && e.contains("Conv") && e.contains("opset 11") && e.contains("auto_pad"),
        "{e}"
    );
    let e = import_err(&node("Conv", 11, 2, 1, vec![("strides", ints(&[1, 0]))]));
    assert!(e.contains("strides") && e.contains("at least 1"), "{e}");
    let e = import_err(&node("Conv", 11, 2, 1, vec![("group", AttrValue::Int(0))]));
    assert!(e.contains("group"), "{e}");
    // storage_order only exists from opset 8: unread, so rejected.
    let e = import_err(&node(
        "MaxPool",
        7,
        1,
        1,
        vec![
            ("kernel_shape", ints(&[2])),
            ("storage_order", AttrValue::Int(1)),
        ],
    ));
    assert!(e.contains("MaxPool") && e.contains("storage_order"), "{e}");
    let e = import_err(&node(
        "MaxPool",
        12,
        1,
        1,
        vec![
            ("kernel_shape", ints(&[2])),
            ("pads", ints(&[1, 1])),
            ("auto_pad", AttrValue::String(b"VALID".to_vec())),
        ],
    ));
    assert!(e.contains("pads"), "{e}");
    let e = import_err(&node(
        "BatchNormalization",
        9,
        5,
        1,
        vec![("spatial", AttrValue::Int(1))],
    ));
    assert!(
        e.contains("BatchNormalization") && e.contains("spatial"),
        "{e}"
    );
    let e = import_err(&node(
        "BatchNormalization",
        7,
        5,
        1,
        vec![("spatial", AttrValue::Int(0))],
    ));
    assert!(e.contains("spatial"), "{e}");
    let e = import_err(&node("BatchNormalization", 15, 5, 3, vec![]));
    assert!(e.contains("training_mode"), "{e}");
    let e = import_err(&node(
        "LpNormalization",
        1,
        1,
        1,
        vec![("p", AttrValue::Int(3))],
    ));
    assert!(e.contains("LpNormalization") && e.contains("'p'"), "{e}");
    let e = import_err(&node(
        "DepthToSpace",
        13,
        1,
        1,
        vec![
            ("blocksize", AttrValue::Int(2)),
            ("mode", AttrValue::String(b"XYZ".to_vec())),
        ],
    ));
    assert!(e.contains("mode"), "{e}");
    let e = import_err(&node(
        "GroupNormalization",
        21,
        3,
        1,
        vec![
            ("num_groups", AttrValue::Int(2)),
            ("stash_type", AttrValue::Int(10)),
        ],
    ));
    assert!(e.contains("stash_type"), "{e}");
    let e = import_err(&node("LRN", 13, 1, 1, vec![]));
    assert!(e.contains("size") && e.contains("required"), "{e}");
}

#[test]
fn shape_errors_and_symbolic_dims() {
    let n = Dim::sym(SymId(0));
    let h = Dim::sym(SymId(1));
    let conv = node("Conv", 11, 2, 1, vec![("pads", ints(&[1, 1, 1, 1]))]);
    // Symbolic batch and spatial dims with stride 1: a polynomial output.
    let x = f32t(vec![n.clone(), Dim::known(3), h.clone(), Dim::known(8)]);
    let w = f32t(k(&[4, 3, 3, 3]));
    let out = infer(&conv, &[x.clone(), w.clone()], &[]).unwrap();
    assert_eq!(
        out[0].shape,
        vec![n.clone(), Dim::known(4), h.clone(), Dim::known(8)]
    );
    // Stride 2 on a symbolic dim needs its value.
    let conv2 = node("Conv", 11, 2, 1, vec![("strides", ints(&[2, 2]))]);
    let e = infer(&conv2, &[x.clone(), w.clone()], &[])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("n0") && e.contains("--dim") && e.contains("H"),
        "{e}"
    );
    // Channel mismatch.
    let w2 = f32t(k(&[4, 2, 3, 3]));
    let e = infer(&conv, &[x.clone(), w2], &[]).unwrap_err().to_string();
    assert!(e.contains("channels"), "{e}");
    // SAME_UPPER with stride 1 keeps a symbolic dim.
    let mp = node(
        "MaxPool",
        12,
        1,
        1,
        vec![
            ("kernel_shape", ints(&[3, 3])),
            ("auto_pad", AttrValue::String(b"SAME_UPPER".to_vec())),
        ],
    );
    let out = infer(&mp, std::slice::from_ref(&x), &[]).unwrap();
    assert_eq!(
        out[0].shape,
        vec![n.clone(), Dim::known(3), h.clone(), Dim::known(8)]
    );
    // ConvTranspose: the output is a polynomial of a symbolic input dim.
    let ct = node("ConvTranspose", 11, 2, 1, vec![("strides", ints(&[2, 2]))]);
    let out = infer(&ct, &[x.clone(), f32t(k(&[3, 2, 3, 3]))], &[]).unwrap();
    assert_eq!(out[0].shape[2], h.scale(2).add(&Dim::known(1)));
    assert_eq!(out[0].shape[1], Dim::known(2));
}

#[test]
fn conv_with_groups_padding_and_dilation_matches_direct() {
    // X (1, 2, 5, 4), W (4, 1, 2, 3): groups 2, pads, strides, dilations.
    let xs: Vec<f32> = (0..40).map(|i| ((i * 7 % 11) as f32) - 5.0).collect();
    let ws: Vec<f32> = (0..24).map(|i| ((i * 5 % 7) as f32) * 0.5 - 1.0).collect();
    let bs = [0.5f32, -1.0, 2.0, 0.25];
    let x = Tensor::from_f32(vec![1, 2, 5, 4], &xs);
    let w = Tensor::from_f32(vec![4, 1, 2, 3], &ws);
    let b = Tensor::from_f32(vec![4], &bs);
    let (pads, strides, dil) = ([1i64, 2, 0, 1], [2i64, 1], [2i64, 1]);
    let n = node(
        "Conv",
        11,
        3,
        1,
        vec![
            ("group", AttrValue::Int(2)),
            ("pads", ints(&pads)),
            ("strides", ints(&strides)),
            ("dilations", ints(&dil)),
        ],
    );
    let y = &eval(&n, &[&x, &w, &b])[0];
    // Direct definition.
    let (h, wd, kh, kw) = (5i64, 4i64, 2i64, 3i64);
    let oh = (h + pads[0] + pads[2] - ((kh - 1) * dil[0] + 1)) / strides[0] + 1;
    let ow = (wd + pads[1] + pads[3] - ((kw - 1) * dil[1] + 1)) / strides[1] + 1;
    assert_eq!(y.shape, vec![1, 4, oh as u64, ow as u64]);
    let got = vals(y);
    for m in 0..4 {
        let c = m / 2;
        for i in 0..oh {
            for j in 0..ow {
                let mut acc = 0f64;
                for a in 0..kh {
                    for bb in 0..kw {
                        let (p, q) = (
                            i * strides[0] - pads[0] + a * dil[0],
                            j * strides[1] - pads[1] + bb * dil[1],
                        );
                        if p >= 0 && p < h && q >= 0 && q < wd {
                            acc += xs[(c * 20 + p * 4 + q) as usize] as f64
                                * ws[(m * 6 + a * 3 + bb) as usize] as f64;
                        }
                    }
                }
                let want = acc + bs[m as usize] as f64;
                let g = got[(m * oh * ow + i * ow + j) as usize];
                assert!((g - want).abs() < 1e-4, "m {m} ({i}, {j}): {g} vs {want}");
            }
        }
    }
}

#[test]
fn maxpool_indices_and_avgpool_counts() {
    let xs: Vec<f32> = (0..25).map(|i| (i * 13 % 17) as f32).collect();
    let x = Tensor::from_f32(vec![1, 1, 5, 5], &xs);
    for so in [0i64, 1] {
        let n = node(
            "MaxPool",
            12,
            1,
            2,
            vec![
                ("kernel_shape", ints(&[3, 3])),
                ("strides", ints(&[2, 2])),
                ("pads", ints(&[1, 1, 1, 1])),
                ("storage_order", AttrValue::Int(so)),
            ],
        );
        let out = eval(&n, &[&x]);
        let (y, ind) = (vals(&out[0]), out[1].to_i64_vec());
        for oi in 0..3i64 {
            for oj in 0..3i64 {
                let (mut best, mut at) = (f64::NEG_INFINITY, (0, 0));
                for a in 0..3 {
                    for b in 0..3 {
                        let (p, q) = (oi * 2 - 1 + a, oj * 2 - 1 + b);
                        if (0..5).contains(&p)
                            && (0..5).contains(&q)
                            && xs[(p * 5 + q) as usize] as f64 > best
                        {
                            best = xs[(p * 5 + q) as usize] as f64;
                            at = (p, q);
                        }
                    }
                }
                let o = (oi * 3 + oj) as usize;
                assert_eq!(y[o], best);
                let want = if so == 0 {
                    at.0 * 5 + at.1
                } else {
                    at.1 * 5 + at.0
                };
                assert_eq!(ind[o], want);
            }
        }
    }
    // count_include_pad: the corner window (pads 1) covers 4 inputs and 9 padded positions.
    for (cip, div) in [(0i64, 4.0), (1, 9.0)] {
        let n = node(
            "AveragePool",
            19,
            1,
            1,
            vec![
                ("kernel_shape", ints(&[3, 3])),
                ("pads", ints(&[1, 1, 1, 1])),
                ("count_include_pad", AttrValue::Int(cip)),
            ],
        );
        let y = vals(&eval(&n, &[&x])[0]);
        let want = (xs[0] + xs[1] + xs[5] + xs[6]) as f64 / div;
        assert!((y[0] - want).abs() < 1e-5, "{} vs {want}", y[0]);
    }
}
