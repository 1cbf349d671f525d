//! `AttributeProto` → `AttrValue`, by the attribute's `type` field. Tensors are converted and
//! validated (`tensor`), subgraphs imported recursively (`graph`); sparse tensors and type
//! protos are kept as `AttrValue::Other(kind)` for ops to reject if they need them.
//!
//! Attribute references (`ref_attr_name`) are only valid inside function bodies, where
//! `functions` resolves them before import; one reaching here is an error.

use super::graph::{import_graph, Ctx, Scope};
use super::proto::{attribute_proto::AttributeType, AttributeProto};
use super::tensor::tensor_from_proto_with;
use super::Opsets;
use crate::error::{Error, Result};
use crate::ir::AttrValue;
use std::rc::Rc;

/// Where an attribute is, for subgraph import and errors.
pub(crate) struct AttrSite<'s, 'p> {
    /// `node NAME (OP, opset V)`.
    pub node: &'s str,
    pub opsets: &'s Rc<Opsets>,
    pub scope: &'s Scope<'p>,
    /// Function-call depth of the node.
    pub fn_depth: usize,
    /// Subgraph nesting depth of the node's graph.
    pub depth: usize,
}

/// The attribute's name and value.
pub(crate) fn convert(
    ctx: &Ctx<'_>,
    a: &AttributeProto,
    site: &AttrSite<'_, '_>,
) -> Result<(String, AttrValue)> {
    let name = a.name.clone().unwrap_or_default();
    let err = |msg: String| Error::Node(format!("{}, attribute '{name}': {msg}", site.node));
    if name.is_empty() {
        return Err(err("attribute has no name".into()));
    }
    if let Some(r) = a.ref_attr_name.as_deref().filter(|r| !r.is_empty()) {
        return Err(err(format!(
            "refers to function attribute '{r}' outside a function body"
        )));
    }
    let code = a.r#type.unwrap_or(0);
    let tensor = |t: &super::proto::TensorProto| {
        tensor_from_proto_with(t, ctx.model_dir, &ctx.limits)
            .map_err(|e| super::with_context(e, &format!("{}, attribute '{name}'", site.node)))
    };
    let graph = |g| {
        import_graph(
            ctx,
            g,
            site.opsets,
            Some(site.scope),
            site.fn_depth,
            site.depth + 1,
        )
    };
    let Ok(ty) = AttributeType::try_from(code) else {
        return Err(err(format!("unknown attribute type {code}")));
    };
    let v = match ty {
        AttributeType::Undefined => return Err(err("attribute has no type".into())),
        AttributeType::Float => AttrValue::Float(a.f.unwrap_or(0.0)),
        AttributeType::Int => AttrValue::Int(a.i.unwrap_or(0)),
        AttributeType::String => AttrValue::String(a.s.clone().unwrap_or_default()),
        AttributeType::Tensor => {
            let t =
                a.t.as_ref()
                    .ok_or_else(|| err("TENSOR with no tensor".into()))?;
            AttrValue::Tensor(tensor(t)?)
        }
        AttributeType::Graph => {
            let g =
                a.g.as_ref()
                    .ok_or_else(|| err("GRAPH with no graph".into()))?;
            AttrValue::Graph(Box::new(graph(g)?))
        }
        AttributeType::Floats => AttrValue::Floats(a.floats.clone()),
        AttributeType::Ints => AttrValue::Ints(a.ints.clone()),
        AttributeType::Strings => AttrValue::Strings(a.strings.clone()),
        AttributeType::Tensors => {
            AttrValue::Tensors(a.tensors.iter().map(tensor).collect::<Result<_>>()?)
        }
        AttributeType::Graphs => {
            AttrValue::Graphs(a.graphs.iter().map(graph).collect::<Result<_>>()?)
        }
        AttributeType::SparseTensor => AttrValue::Other("sparse_tensor"),
        AttributeType::SparseTensors => AttrValue::Other("sparse_tensors"),
        AttributeType::TypeProto => AttrValue::Other("type_proto"),
        AttributeType::TypeProtos => AttrValue::Other("type_protos"),
    };
    Ok((name, v))
}
