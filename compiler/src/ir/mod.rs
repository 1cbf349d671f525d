//! Graph IR: values (tensors with a dtype, a shape of `Dim`s and, for constants, their data)
//! and nodes (ONNX ops with their attributes), in topological order.
//!
//! Import (`onnx::import`) builds it from a `ModelProto` with raw attributes; `ops::resolve`
//! attaches a typed op to every node (reporting every unsupported op at once); `infer` fills
//! in types; passes rewrite it. Ids are indices into `values` / `nodes`; removed nodes are
//! dropped by `compact`.

pub mod dim;
pub mod strings;

pub use dim::Dim;

use crate::tensor::{DType, Tensor};
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ValueId(pub u32);
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u32);

/// Type of a tensor value.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorType {
    pub dtype: DType,
    pub shape: Vec<Dim>,
}

#[derive(Clone, Debug)]
pub struct Value {
    pub name: String,
    /// Known after `infer` (graph inputs: from the model).
    pub ty: Option<TensorType>,
    /// Constant data (initializers, folded constants).
    pub konst: Option<Tensor>,
}

/// An ONNX attribute value as stored in the model.
#[derive(Clone, Debug)]
pub enum AttrValue {
    Float(f32),
    Int(i64),
    String(Vec<u8>),
    Tensor(Tensor),
    Floats(Vec<f32>),
    Ints(Vec<i64>),
    Strings(Vec<Vec<u8>>),
    Tensors(Vec<Tensor>),
    /// Subgraphs (If/Loop/Scan bodies) kept as the imported graph.
    Graph(Box<Graph>),
    Graphs(Vec<Graph>),
    /// Kinds Kiln does not interpret (sparse tensors, type protos): the ONNX type name.
    Other(&'static str),
}

impl AttrValue {
    pub fn kind(&self) -> &'static str {
        match self {
            AttrValue::Float(_) => "float",
            AttrValue::Int(_) => "int",
            AttrValue::String(_) => "string",
            AttrValue::Tensor(_) => "tensor",
            AttrValue::Floats(_) => "floats",
            AttrValue::Ints(_) => "ints",
            AttrValue::Strings(_) => "strings",
            AttrValue::Tensors(_) => "tensors",
            AttrValue::Graph(_) => "graph",
            AttrValue::Graphs(_) => "graphs",
            AttrValue::Other(k) => k,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Node {
    pub name: String,
    pub op_type: String,
    /// "" for the default ai.onnx domain.
    pub domain: String,
    /// The opset version of the node's domain imported by the model.
    pub opset: i64,
    /// `None` for an omitted optional input ("" in ONNX).
    pub inputs: Vec<Option<ValueId>>,
    pub outputs: Vec<Option<ValueId>>,
    /// In model order; names are unique.
    pub attrs: Vec<(String, AttrValue)>,
}

impl Node {
    /// `node NAME (OP, opset V)`, the prefix of every error about this node.
    pub fn describe(&self) -> String {
        let dom = if self.domain.is_empty() || self.domain == "ai.onnx" {
            String::new()
        } else {
            format!("{}::", self.domain)
        };
        format!(
            "node {} ({}{}, opset {})",
            self.name, dom, self.op_type, self.opset
        )
    }
    pub fn input(&self, i: usize) -> Option<ValueId> {
        self.inputs.get(i).copied().flatten()
    }
    pub fn output(&self, i: usize) -> Option<ValueId> {
        self.outputs.get(i).copied().flatten()
    }
}

#[derive(Clone, Debug, Default)]
pub struct Graph {
    pub name: String,
    pub values: Vec<Value>,
    pub nodes: Vec<Node>,
    /// Graph inputs the caller provides (initializers that are also inputs are included: the
    /// initializer is then only a default, kept in `defaults`).
    pub inputs: Vec<ValueId>,
    pub outputs: Vec<ValueId>,
    /// Defaults for inputs that are also initializers.
    pub defaults: BTreeMap<ValueId, Tensor>,
    /// Imported opsets: domain ("" = ai.onnx) → version.
    pub opsets: BTreeMap<String, i64>,
    /// Names of symbolic dimensions, indexed by `SymId`.
    pub syms: Vec<String>,
    /// The model's string table (`strings`): string elements are ids into it.
    pub strings: Vec<Vec<u8>>,
}

impl Graph {
    pub fn value(&self, v: ValueId) -> &Value {
        &self.values[v.0 as usize]
    }
    pub fn value_mut(&mut self, v: ValueId) -> &mut Value {
        &mut self.values[v.0 as usize]
    }
    pub fn add_value(&mut self, name: impl Into<String>) -> ValueId {
        let id = ValueId(self.values.len() as u32);
        self.values.push(Value {
            name: name.into(),
            ty: None,
            konst: None,
        });
        id
    }
    /// The symbol with this name, created if new.
    pub fn sym(&mut self, name: &str) -> crate::kir::SymId {
        if let Some(i) = self.syms.iter().position(|s| s == name) {
            return crate::kir::SymId(i as u32);
        }
        self.syms.push(name.to_string());
        crate::kir::SymId(self.syms.len() as u32 - 1)
    }
    /// Which node produces each value (None for inputs and constants).
    pub fn producers(&self) -> Vec<Option<NodeId>> {
        let mut p = vec![None; self.values.len()];
        for (i, n) in self.nodes.iter().enumerate() {
            for o in n.outputs.iter().flatten() {
                p[o.0 as usize] = Some(NodeId(i as u32));
            }
        }
        p
    }
    /// How many node inputs and graph outputs use each value.
    pub fn use_counts(&self) -> Vec<u32> {
        let mut c = vec![0u32; self.values.len()];
        for n in &self.nodes {
            for i in n.inputs.iter().flatten() {
                c[i.0 as usize] += 1;
            }
        }
        for o in &self.outputs {
            c[o.0 as usize] += 1;
        }
        c
    }
    pub fn shape_str(&self, shape: &[Dim]) -> String {
        let parts: Vec<String> = shape.iter().map(|d| d.show(&self.syms)).collect();
        format!("({})", parts.join(", "))
    }
}
