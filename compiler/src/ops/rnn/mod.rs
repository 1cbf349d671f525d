//! Recurrent ops: RNN, GRU and LSTM (`recurrent.rs` imports and infers, `cell.rs` lowers,
//! `act.rs` holds their activation functions).
//!
//! The lowering keeps the recurrent state in the op's own outputs (kir kernels have no local
//! arrays and ops get no workspace): `materialise_outputs` gives every RNN/GRU/LSTM node all of
//! its outputs before import, so an optional output the model omits becomes a scratch value
//! nobody reads. It is called by `passes::control::inline_static_control` (after control flow
//! is inlined, so nodes from If/Loop/Scan bodies are covered too).

pub mod act;
pub mod cell;
pub mod recurrent;

#[cfg(test)]
mod tests;

use crate::ir::Graph;

crate::ops_table! { pub OPS:
    "" "GRU" since 1 => recurrent::import,
    "" "LSTM" since 1 => recurrent::import,
    "" "RNN" since 1 => recurrent::import,
}

/// Give every RNN/GRU/LSTM node of `g` (ai.onnx domain) all of its outputs: omitted ones get
/// fresh values named `<node>__<output>`, which the lowering uses as state storage.
pub fn materialise_outputs(g: &mut Graph) {
    let mut names: std::collections::HashSet<String> =
        g.values.iter().map(|v| v.name.clone()).collect();
    for ni in 0..g.nodes.len() {
        let n = &g.nodes[ni];
        let dom = n.domain.as_str();
        if !(dom.is_empty() || dom == "ai.onnx") {
            continue;
        }
        let outs: &[&str] = match n.op_type.as_str() {
            "RNN" | "GRU" => &["Y", "Y_h"],
            "LSTM" => &["Y", "Y_h", "Y_c"],
            _ => continue,
        };
        for (k, oname) in outs.iter().enumerate() {
            let n = &g.nodes[ni];
            if n.outputs.get(k).copied().flatten().is_some() {
                continue;
            }
            let mut name = format!("{}__{oname}", n.name);
            let mut c = 2;
            while names.contains(&name) {
                name = format!("{}__{oname}_{c}", n.name);
                c += 1;
            }
            names.insert(name.clone());
            let v = g.add_value(name);
            let n = &mut g.nodes[ni];
            while n.outputs.len() <= k {
                n.outputs.push(None);
            }
            n.outputs[k] = Some(v);
        }
    }
}
