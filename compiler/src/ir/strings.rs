//! The model's string table. A string element is an `int32` id: its index in one sorted,
//! model-wide table of every string the model mentions (string attributes of the ai.onnx.ml
//! ops, string tensors in attributes, initializers and constants). Sorted, so ids are
//! deterministic and a caller can intern by binary search; the caller interns its strings
//! before a run (an unknown string `i` becomes `-2 - i`, never a valid id, so distinct
//! unknown strings stay distinct), and string outputs are ids into the same table.

use super::{AttrValue, Graph};
use crate::tensor::TensorData;
use std::collections::BTreeSet;

/// Attributes (of any op) whose strings are data, not options.
pub const STRING_DATA_ATTRS: &[&str] = &[
    "classlabels_strings",
    "keys_strings",
    "values_strings",
    "cats_strings",
    "classes_strings",
    "default_string",
    "string_vocabulary",
    "value_string",
    "value_strings",
];

/// Every string the graph mentions, sorted and deduplicated.
pub fn collect(g: &Graph) -> Vec<Vec<u8>> {
    let mut set: BTreeSet<Vec<u8>> = BTreeSet::new();
    let tensor = |d: &TensorData, set: &mut BTreeSet<Vec<u8>>| {
        if let TensorData::Strings(v) = d {
            set.extend(v.iter().cloned());
        }
    };
    for v in &g.values {
        if let Some(k) = &v.konst {
            tensor(&k.data, &mut set);
        }
    }
    for t in g.defaults.values() {
        tensor(&t.data, &mut set);
    }
    for n in &g.nodes {
        // LabelEncoder's and CategoryMapper's default string when none is given.
        if matches!(n.op_type.as_str(), "LabelEncoder" | "CategoryMapper") {
            set.insert(crate::ops::ml::strings::UNUSED.to_vec());
        }
        for (name, a) in &n.attrs {
            match a {
                AttrValue::Tensor(t) => tensor(&t.data, &mut set),
                AttrValue::Tensors(ts) => ts.iter().for_each(|t| tensor(&t.data, &mut set)),
                AttrValue::Strings(v) if STRING_DATA_ATTRS.contains(&name.as_str()) => {
                    set.extend(v.iter().cloned())
                }
                AttrValue::String(v) if STRING_DATA_ATTRS.contains(&name.as_str()) => {
                    set.insert(v.clone());
                }
                _ => {}
            }
        }
    }
    set.into_iter().collect()
}

/// The id of `s` in a sorted table.
pub fn id_of(table: &[Vec<u8>], s: &[u8]) -> Option<i32> {
    table
        .binary_search_by(|t| t.as_slice().cmp(s))
        .ok()
        .map(|i| i as i32)
}
