//! float16 and bfloat16 computed in f32 (part of `infer`).
//!
//! Kiln stores float16/bfloat16 tensors as their 16-bit patterns and only Cast and CastLike
//! convert them (`ops::half`). Any other node with a float16/bfloat16 input is rewritten
//! locally as it is met: each such input goes through a new `Cast(to=float32)` node, the op
//! runs in f32, and each output that the op computes in the input's float type (f32 now) goes
//! through a new `Cast` back to the half type. So results are computed in f32 and rounded once
//! to the half type per op, which is at least as accurate as rounding every intermediate step
//! (ONNX does not pin how a float16 op computes internally). Outputs whose type does not follow
//! the inputs (Shape, ArgMax, comparisons, an f32 `stash_type`...) are left as they are.
//!
//! To tell the two kinds of outputs apart the op is also inferred with the half inputs typed
//! as f64: an output that is f64 there follows the inputs. If the op does not take f64, every
//! f32 output is cast back.
//!
//! New values and nodes get deterministic names: `<node>/to_f32_<i>` (the cast of input `i`,
//! shared by every later reader of the same value) and `<node>/to_<f16|bf16>_<k>` (the cast
//! of output `k`, writing the original output value; the op's f32 result is
//! `<node>/f32_<k>`). The casts fold like any other node.

use super::{infer_node, infer_types, Model};
use crate::error::Result;
use crate::ir::{AttrValue, Node, TensorType, ValueId};
use crate::ops::cast::Cast;
use crate::ops::Op;
use crate::tensor::DType;
use std::collections::BTreeMap;

/// State across nodes: the f32 copy of every half value already converted.
#[derive(Default)]
pub struct HalfCx {
    widened: BTreeMap<ValueId, ValueId>,
}

/// Ops that handle float16/bfloat16 themselves (or never read element values).
fn native(node: &Node) -> bool {
    let d = node.domain.as_str();
    (d.is_empty() || d == "ai.onnx")
        && matches!(
            node.op_type.as_str(),
            "Cast" | "CastLike" | "Shape" | "Size"
        )
}

fn half_dtype(m: &Model, v: Option<ValueId>) -> Option<DType> {
    let t = m.graph.value(v?).ty.as_ref()?;
    t.dtype.is_half().then_some(t.dtype)
}

fn cast_node(m: &Model, name: String, from: ValueId, to_v: ValueId, to: DType) -> Node {
    Node {
        name,
        op_type: "Cast".into(),
        domain: String::new(),
        opset: m.graph.opsets.get("").copied().unwrap_or(21),
        inputs: vec![Some(from)],
        outputs: vec![Some(to_v)],
        attrs: vec![("to".into(), AttrValue::Int(to.to_onnx() as i64))],
    }
}

/// Infer `node` and append it to the model, computing it in f32 if it reads float16 or
/// bfloat16.
pub fn add_node(
    m: &mut Model,
    hx: &mut HalfCx,
    mut node: Node,
    op: Box<dyn Op>,
    fold: bool,
) -> Result<()> {
    let halves: Vec<(usize, DType)> = node
        .inputs
        .iter()
        .enumerate()
        .filter_map(|(i, v)| half_dtype(m, *v).map(|d| (i, d)))
        .collect();
    if halves.is_empty() || native(&node) {
        return infer_node(m, node, op, fold);
    }
    let back = halves[0].1;
    // Which outputs follow the inputs' float type: infer with the half inputs as f64.
    let probe = {
        // Each value once: a node may read the same value twice (Add(x, x)), and restoring
        // a second copy would put back the type and constant the first one had hidden.
        let mut saved: Vec<(ValueId, TensorType)> = vec![];
        for v in halves.iter().filter_map(|(i, _)| node.inputs[*i]) {
            if saved.iter().all(|(s, _)| *s != v) {
                saved.push((v, m.graph.value(v).ty.clone().expect("typed")));
            }
        }
        for (v, t) in &saved {
            m.graph.value_mut(*v).ty = Some(TensorType {
                dtype: DType::F64,
                shape: t.shape.clone(),
            });
        }
        // Constant values are not retyped: hide them during the probe.
        let konsts: Vec<_> = saved
            .iter()
            .map(|(v, _)| m.graph.value_mut(*v).konst.take())
            .collect();
        let r = infer_types(&m.graph, &node, op.as_ref()).ok();
        for ((v, t), k) in saved.into_iter().zip(konsts) {
            let val = m.graph.value_mut(v);
            val.ty = Some(t);
            val.konst = k;
        }
        r
    };
    // Inputs through Cast(to=float32).
    for (i, d) in &halves {
        let v = node.inputs[*i].expect("present");
        let w = match hx.widened.get(&v) {
            Some(w) => *w,
            None => {
                let name = format!("{}/to_f32_{i}", node.name);
                let w = m.graph.add_value(name.clone());
                let n = cast_node(m, name, v, w, DType::F32);
                infer_node(m, n, Box::new(Cast::new(Some(*d), DType::F32)), fold)?;
                hx.widened.insert(v, w);
                w
            }
        };
        node.inputs[*i] = Some(w);
    }
    let types = infer_types(&m.graph, &node, op.as_ref())?;
    // Outputs computed in f32 that follow the inputs: through Cast back.
    let mut backs = vec![];
    for (k, t) in types.iter().enumerate() {
        let Some(Some(o)) = node.outputs.get(k).copied() else {
            continue;
        };
        let follows = match &probe {
            Some(p) => p.get(k).is_some_and(|pt| pt.dtype == DType::F64),
            None => true,
        };
        if t.dtype != DType::F32 || !follows {
            continue;
        }
        let f = m.graph.add_value(format!("{}/f32_{k}", node.name));
        node.outputs[k] = Some(f);
        let tag = if back == DType::BF16 { "bf16" } else { "f16" };
        backs.push(cast_node(
            m,
            format!("{}/to_{tag}_{k}", node.name),
            f,
            o,
            back,
        ));
    }
    infer_node(m, node, op, fold)?;
    for n in backs {
        infer_node(m, n, Box::new(Cast::new(Some(DType::F32), back)), fold)?;
    }
    Ok(())
}
