//! `GraphProto` → `ir::Graph`: values, inputs with their types, initializers, nodes (after
//! inlining local functions) and outputs. Used for the main graph and, recursively, for
//! subgraph attributes (If/Loop/Scan bodies).
//!
//! A subgraph may use values of its enclosing graphs (defined before the node that owns it):
//! such a name becomes a value of the subgraph with no producer and no constant. Any other
//! name used before it is defined is an error, so node order is verified to be topological.

use super::attrs::{self, AttrSite};
use super::functions::{flatten, Functions};
use super::proto::{type_proto, GraphProto, ModelProto, ValueInfoProto};
use super::tensor::{tensor_from_proto_with, MAX_NUMEL};
use super::{norm_domain, Opsets};
use crate::error::{Error, Result};
use crate::ir::{Dim, Graph, Node, TensorType, ValueId};
use crate::limits::Limits;
use crate::tensor::DType;
use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::rc::Rc;

/// What every graph import of one model shares.
pub(crate) struct Ctx<'m> {
    pub ir_version: i64,
    pub model_dir: &'m Path,
    pub funcs: Functions<'m>,
    pub limits: Limits,
    /// Nodes that may still be created.
    pub budget: Cell<usize>,
}

impl<'m> Ctx<'m> {
    pub(crate) fn new(
        model: &'m ModelProto,
        model_dir: &'m Path,
        limits: Limits,
    ) -> Result<Ctx<'m>> {
        Ok(Ctx {
            ir_version: model.ir_version.unwrap_or(0),
            model_dir,
            funcs: Functions::new(model)?,
            budget: Cell::new(limits.max_nodes),
            limits,
        })
    }
}

/// The names visible in the enclosing graphs of a subgraph.
pub(crate) struct Scope<'s> {
    ids: &'s HashMap<String, ValueId>,
    parent: Option<&'s Scope<'s>>,
}

impl Scope<'_> {
    fn visible(&self, name: &str) -> bool {
        self.ids.contains_key(name) || self.parent.is_some_and(|p| p.visible(name))
    }
}

/// Imports one graph. `outer` is None for the main graph; `fn_depth` is the function-call depth
/// of the node owning this graph, `depth` the subgraph nesting depth.
pub(crate) fn import_graph(
    ctx: &Ctx<'_>,
    g: &GraphProto,
    opsets: &Rc<Opsets>,
    outer: Option<&Scope<'_>>,
    fn_depth: usize,
    depth: usize,
) -> Result<Graph> {
    let gname = g.name.clone().unwrap_or_default();
    if depth > ctx.limits.max_depth {
        return Err(Error::Limit(format!(
            "graph '{gname}': subgraphs nested deeper than --max-depth {}",
            ctx.limits.max_depth
        )));
    }
    let mut graph = Graph {
        name: gname.clone(),
        opsets: (**opsets).clone(),
        ..Default::default()
    };
    let in_graph = if depth == 0 {
        String::new()
    } else {
        format!(" of subgraph '{gname}'")
    };
    // Name → value, for every value defined so far.
    let mut ids: HashMap<String, ValueId> = HashMap::new();
    let mut unk = UnkNames::new(g);
    let mut produced: std::collections::HashSet<ValueId> = std::collections::HashSet::new();
    // Map inputs: name → (keys, values).
    let mut maps: HashMap<String, (ValueId, ValueId)> = HashMap::new();

    for (i, vi) in g.input.iter().enumerate() {
        let name = vi.name.as_deref().unwrap_or("");
        let what = format!("graph input '{name}'{in_graph}");
        if name.is_empty() {
            return Err(Error::Model(format!(
                "graph input #{i}{in_graph} has no name"
            )));
        }
        if ids.contains_key(name) {
            return Err(Error::Model(format!("{what} is declared twice")));
        }
        if let Some((kt, vt)) = map_type(vi, &what)? {
            // A map input is two inputs of one symbolic length `<name>_len`: its keys and its
            // values (docs/decisions.md, "Strings and maps").
            let len = Dim::sym(graph.sym(&format!("{name}_len")));
            let k = graph.add_value(format!("{name}.keys"));
            let v = graph.add_value(format!("{name}.values"));
            for (id, dtype) in [(k, kt), (v, vt)] {
                graph.inputs.push(id);
                graph.value_mut(id).ty = Some(TensorType {
                    dtype,
                    shape: vec![len.clone()],
                });
            }
            maps.insert(name.to_string(), (k, v));
            ids.insert(name.to_string(), k);
            continue;
        }
        let id = graph.add_value(name);
        ids.insert(name.to_string(), id);
        graph.inputs.push(id);
        let ty = value_type(&mut graph, vi, &what, &mut unk)?;
        graph.value_mut(id).ty = ty;
    }

    let mut initialized: HashSet<&str> = HashSet::new();
    for t in &g.initializer {
        let name = t.name.as_deref().unwrap_or("");
        if name.is_empty() {
            return Err(Error::Model(format!(
                "an initializer{in_graph} has no name"
            )));
        }
        if !initialized.insert(name) {
            return Err(Error::Model(format!(
                "initializer '{name}'{in_graph} is defined twice"
            )));
        }
        let tensor = tensor_from_proto_with(t, ctx.model_dir, &ctx.limits)?;
        match ids.get(name) {
            // IR ≥ 4: an initializer that is also an input is that input's default.
            Some(&id) if ctx.ir_version >= 4 => {
                graph.defaults.insert(id, tensor);
            }
            // IR 3 lists every initializer as an input too: they are the model's constants,
            // not inputs the caller provides.
            Some(&id) => {
                graph.inputs.retain(|&i| i != id);
                graph.value_mut(id).konst = Some(tensor);
            }
            None => {
                let id = graph.add_value(name);
                ids.insert(name.to_string(), id);
                graph.value_mut(id).konst = Some(tensor);
            }
        }
    }
    if let Some(s) = g.sparse_initializer.first() {
        let name = s
            .values
            .as_ref()
            .and_then(|v| v.name.as_deref())
            .unwrap_or("");
        return Err(Error::Model(format!(
            "sparse initializer '{name}'{in_graph}: sparse initializers are not supported"
        )));
    }

    let flat = flatten(g, opsets, &ctx.funcs, &ctx.budget, fn_depth)?;
    // Which node produces each name (the first, if several do: that is reported below).
    let mut producer: HashMap<&str, &str> = HashMap::new();
    for f in &flat {
        for o in f.node.output.iter().filter(|o| !o.is_empty()) {
            producer.entry(o.as_str()).or_insert(f.name.as_str());
        }
    }
    graph.nodes.reserve(flat.len());
    for f in &flat {
        let n = &*f.node;
        let op_type = n.op_type.clone().unwrap_or_default();
        let domain = norm_domain(n.domain.as_deref().unwrap_or("")).to_string();
        let shown = if domain.is_empty() {
            op_type.clone()
        } else {
            format!("{domain}::{op_type}")
        };
        if op_type.is_empty() {
            return Err(Error::Model(format!(
                "node {}{in_graph} has no op_type",
                f.name
            )));
        }
        let opset = *f.opsets.get(&domain).ok_or_else(|| {
            Error::Model(format!(
                "node {} ({shown}){in_graph}: domain '{}' is not imported by the model \
                 (no opset_import entry)",
                f.name,
                if domain.is_empty() {
                    "ai.onnx"
                } else {
                    &domain
                }
            ))
        })?;
        let mut node = Node {
            name: f.name.clone(),
            op_type,
            domain,
            opset,
            inputs: Vec::with_capacity(n.input.len()),
            outputs: Vec::with_capacity(n.output.len()),
            attrs: Vec::with_capacity(n.attribute.len()),
        };
        for inp in &n.input {
            if inp.is_empty() {
                node.inputs.push(None);
                continue;
            }
            let id = match ids.get(inp.as_str()) {
                Some(&id) => id,
                None if outer.is_some_and(|s| s.visible(inp))
                    && !producer.contains_key(inp.as_str()) =>
                {
                    // A value of an enclosing graph.
                    let id = graph.add_value(inp.as_str());
                    ids.insert(inp.clone(), id);
                    id
                }
                None => {
                    let why = match producer.get(inp.as_str()) {
                        Some(p) => format!(
                            " (nodes are not in topological order: node {p} produces it later)"
                        ),
                        None => String::new(),
                    };
                    return Err(Error::Node(format!(
                        "{}{in_graph}: input '{inp}' is not defined{why}",
                        node.describe()
                    )));
                }
            };
            node.inputs.push(Some(id));
            if let Some((_, v)) = maps.get(inp.as_str()) {
                node.inputs.push(Some(*v));
            }
        }
        {
            let scope = Scope {
                ids: &ids,
                parent: outer,
            };
            let desc = node.describe();
            let site = AttrSite {
                node: &desc,
                opsets: &f.opsets,
                scope: &scope,
                fn_depth: f.depth,
                depth,
            };
            for a in &n.attribute {
                let (name, v) = attrs::convert(ctx, a, &site)?;
                if node.attrs.iter().any(|(k, _)| *k == name) {
                    return Err(Error::Node(format!(
                        "{desc}{in_graph}: attribute '{name}' is given twice"
                    )));
                }
                node.attrs.push((name, v));
            }
        }
        for out in &n.output {
            if out.is_empty() {
                node.outputs.push(None);
                continue;
            }
            if ids.contains_key(out.as_str()) {
                let what = if initialized.contains(out.as_str()) {
                    "an initializer"
                } else if graph.inputs.iter().any(|i| graph.value(*i).name == *out) {
                    "a graph input"
                } else {
                    "already produced by an earlier node"
                };
                return Err(Error::Node(format!(
                    "{}{in_graph}: output '{out}' is {what}",
                    node.describe()
                )));
            }
            let id = graph.add_value(out.as_str());
            ids.insert(out.clone(), id);
            produced.insert(id);
            node.outputs.push(Some(id));
        }
        graph.nodes.push(node);
    }

    for (i, vi) in g.output.iter().enumerate() {
        let name = vi.name.as_deref().unwrap_or("");
        let what = format!("graph output '{name}'{in_graph}");
        if name.is_empty() {
            return Err(Error::Model(format!(
                "graph output #{i}{in_graph} has no name"
            )));
        }
        let id = match ids.get(name) {
            Some(&id) => id,
            None if outer.is_some_and(|s| s.visible(name)) => {
                let id = graph.add_value(name);
                ids.insert(name.to_string(), id);
                id
            }
            None => return Err(Error::Model(format!("{what} is not defined"))),
        };
        // A node's output gets its type from inference, so the model's declared type is not
        // needed at the top level; reading it would add its unnamed dims (converters leave the
        // batch dim unnamed) as symbols, i.e. dim parameters of the entry that nothing uses.
        if graph.value(id).ty.is_none() && (outer.is_some() || !produced.contains(&id)) {
            let ty = value_type(&mut graph, vi, &what, &mut unk)?;
            graph.value_mut(id).ty = ty;
        }
        graph.outputs.push(id);
    }
    Ok(graph)
}

/// Generator of `unk__<k>` symbol names that no `dim_param` of the graph uses.
struct UnkNames {
    taken: HashSet<String>,
    next: u64,
}

impl UnkNames {
    fn new(g: &GraphProto) -> UnkNames {
        let mut taken = HashSet::new();
        for vi in g.input.iter().chain(&g.output) {
            if let Some(type_proto::Value::TensorType(t)) =
                vi.r#type.as_ref().and_then(|t| t.value.as_ref())
            {
                for d in t.shape.iter().flat_map(|s| &s.dim) {
                    if let Some(super::proto::tensor_shape_proto::dimension::Value::DimParam(p)) =
                        &d.value
                    {
                        taken.insert(p.clone());
                    }
                }
            }
        }
        UnkNames { taken, next: 0 }
    }
    fn fresh(&mut self) -> String {
        loop {
            let s = format!("unk__{}", self.next);
            self.next += 1;
            if !self.taken.contains(&s) {
                return s;
            }
        }
    }
}

/// The (key, value) element types of a `ValueInfo` that declares a map of tensor values.
fn map_type(vi: &ValueInfoProto, what: &str) -> Result<Option<(DType, DType)>> {
    let Some(type_proto::Value::MapType(m)) = vi.r#type.as_ref().and_then(|t| t.value.as_ref())
    else {
        return Ok(None);
    };
    let k = m.key_type.and_then(DType::from_onnx);
    let v = match m.value_type.as_ref().and_then(|t| t.value.as_ref()) {
        Some(type_proto::Value::TensorType(t)) => t.elem_type.and_then(DType::from_onnx),
        _ => None,
    };
    match (k, v) {
        (Some(k), Some(v)) => Ok(Some((k, v))),
        _ => Err(Error::Model(format!(
            "{what}: a map must have a known key type and tensor values"
        ))),
    }
}

/// The tensor type a `ValueInfo` declares; None when it declares no tensor type with a shape
/// (no type, sequence/map/optional types, unknown rank, elem_type UNDEFINED).
fn value_type(
    graph: &mut Graph,
    vi: &ValueInfoProto,
    what: &str,
    unk: &mut UnkNames,
) -> Result<Option<TensorType>> {
    use super::proto::tensor_shape_proto::dimension::Value as D;
    let Some(type_proto::Value::TensorType(t)) = vi.r#type.as_ref().and_then(|t| t.value.as_ref())
    else {
        return Ok(None);
    };
    let code = t.elem_type.unwrap_or(0);
    if code == 0 {
        return Ok(None);
    }
    let dtype = DType::from_onnx(code)
        .ok_or_else(|| Error::Model(format!("{what}: unknown element type {code}")))?;
    let Some(shape) = &t.shape else {
        return Ok(None);
    };
    let mut dims = Vec::with_capacity(shape.dim.len());
    for d in &shape.dim {
        dims.push(match &d.value {
            Some(D::DimValue(v)) if *v < 0 => {
                return Err(Error::Model(format!("{what}: negative dim {v}")));
            }
            Some(D::DimValue(v)) if *v as u64 > MAX_NUMEL => {
                return Err(Error::Limit(format!("{what}: dim {v} is larger than 2^40")));
            }
            Some(D::DimValue(v)) => Dim::known(*v),
            Some(D::DimParam(p)) if !p.is_empty() => Dim::sym(graph.sym(p)),
            _ => {
                let s = unk.fresh();
                Dim::sym(graph.sym(&s))
            }
        });
    }
    Ok(Some(TensorType { dtype, shape: dims }))
}
