//! Unit tests of the attn ops: attribute and shape errors, run-time index checks, and a few
//! semantic edge cases evaluated through the ops' own lowering and `kir::interp`.

use crate::error::Result;
use crate::ir::{AttrValue, Dim, Node, TensorType, ValueId};
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

fn vals(t: &Tensor) -> Vec<f64> {
    (0..t.numel() as usize).map(|i| t.get_f64(i)).collect()
}

fn f32s(shape: &[u64], f: impl Fn(usize) -> f32) -> Tensor {
    let n: u64 = shape.iter().product();
    let v: Vec<f32> = (0..n as usize).map(f).collect();
    Tensor::from_f32(shape.to_vec(), &v)
}

#[test]
fn attention_bad_mode_names_node_op_attribute() {
    let n = node(
        "Attention",
        23,
        3,
        1,
        vec![("qk_matmul_output_mode", AttrValue::Int(5))],
    );
    let e = import(&n).unwrap_err().to_string();
    assert!(
        e.contains("Attention") && e.contains("qk_matmul_output_mode"),
        "{e}"
    );
    assert!(e.contains("n"), "{e}");
}

#[test]
fn attention_3d_needs_heads() {
    let q = f32s(&[1, 2, 4], |i| i as f32);
    let e = eval_n("Attention", 23, vec![], &[q.clone(), q.clone(), q], 1)
        .unwrap_err()
        .to_string();
    assert!(e.contains("q_num_heads"), "{e}");
}

#[test]
fn attention_window_attrs_rejected_before_25() {
    let n = node(
        "Attention",
        24,
        3,
        1,
        vec![("left_window_size", AttrValue::Int(1))],
    );
    let e = crate::ops::import(&n).unwrap_err().to_string();
    assert!(e.contains("left_window_size"), "{e}");
}

#[test]
fn attention_fully_masked_row_is_zero_and_uniform_otherwise() {
    // One head, 2 queries, 2 keys; query 0 may see nothing, query 1 sees both.
    let q = f32s(&[1, 1, 2, 2], |_| 0.0);
    let k = f32s(&[1, 1, 2, 2], |i| i as f32);
    let v = f32s(&[1, 1, 2, 2], |i| (i + 1) as f32);
    let mask = Tensor::from_bytes(DType::Bool, vec![2, 2], vec![0, 0, 1, 1]);
    let y = eval_n("Attention", 23, vec![], &[q, k, v, mask], 1)
        .unwrap()
        .remove(0);
    assert_eq!(vals(&y), vec![0.0, 0.0, 2.0, 3.0]);
}

#[test]
fn rotary_bad_position_id_fails() {
    let x = f32s(&[1, 1, 1, 2], |i| i as f32);
    let c = f32s(&[2, 1], |_| 1.0);
    let pos = Tensor::from_i64(vec![1, 1], &[2]);
    let e = eval_n("RotaryEmbedding", 23, vec![], &[x, c.clone(), c, pos], 1)
        .unwrap_err()
        .to_string();
    assert!(e.contains("index"), "{e}");
}

#[test]
fn reverse_sequence_bad_length_fails() {
    let x = f32s(&[2, 2], |i| i as f32);
    let l = Tensor::from_i64(vec![2], &[1, 3]);
    let e = eval_n("ReverseSequence", 10, vec![], &[x, l], 1)
        .unwrap_err()
        .to_string();
    assert!(e.contains("index"), "{e}");
}

#[test]
fn swish_matches_definition() {
    let x = Tensor::from_f32(vec![3], &[-1.0, 0.0, 2.0]);
    let y = eval_n("Swish", 24, vec![("alpha", AttrValue::Float(0.5))], &[x], 1)
        .unwrap()
        .remove(0);
    for (xv, yv) in [-1.0f32, 0.0, 2.0].iter().zip(vals(&y)) {
        let want = xv * (1.0 / (1.0 + (-0.5 * xv).exp()));
        assert!((want as f64 - yv).abs() < 1e-6, "{want} {yv}");
    }
}
