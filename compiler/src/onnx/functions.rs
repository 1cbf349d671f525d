//! Inlining of model-local functions (`ModelProto.functions`), at the protobuf level, before a
//! graph's nodes are imported.
//!
//! A node whose (domain, op_type, overload) names a local function is replaced by a copy of the
//! function body: formal inputs map to the caller's actual inputs (missing ones to "", i.e.
//! omitted), formal outputs to the caller's outputs, and every other name to a fresh one,
//! `<caller node name>/<body name>`, made unique within the graph. Attribute references
//! (`ref_attr_name`) take the caller's attribute, else the function's default
//! (`attribute_proto`), else the attribute is dropped. Copied nodes use the function's
//! `opset_import` (falling back to the caller's for domains it does not list); subgraphs in the
//! body are renamed and substituted too. Calls in the body are inlined recursively, up to
//! `MAX_CALL_DEPTH` (which also stops recursive functions) and `Limits::max_nodes` in total.
//!
//! Standard ONNX function ops (e.g. `Gelu` decompositions) are not expanded here.

use super::proto::{AttributeProto, FunctionProto, GraphProto, ModelProto, NodeProto};
use super::{norm_domain, parse_opsets, Opsets};
use crate::error::{Error, Result};
use std::borrow::Cow;
use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

/// Deepest nesting of function calls (a function calling a function ...).
pub(crate) const MAX_CALL_DEPTH: usize = 32;

/// The model's local functions by (domain, name, overload), with their opset imports.
pub(crate) struct Functions<'m> {
    map: HashMap<(String, String, String), (&'m FunctionProto, Opsets)>,
}

impl<'m> Functions<'m> {
    pub(crate) fn new(model: &'m ModelProto) -> Result<Functions<'m>> {
        let mut map = HashMap::new();
        for f in &model.functions {
            let name = f.name.as_deref().unwrap_or("");
            if name.is_empty() {
                return Err(Error::Model("a model-local function has no name".into()));
            }
            let domain = norm_domain(f.domain.as_deref().unwrap_or("")).to_string();
            let overload = f.overload.clone().unwrap_or_default();
            let opsets = parse_opsets(&f.opset_import, &format!("function '{name}'"))?;
            if map
                .insert((domain, name.to_string(), overload), (f, opsets))
                .is_some()
            {
                return Err(Error::Model(format!("function '{name}' is defined twice")));
            }
        }
        Ok(Functions { map })
    }

    fn lookup(&self, n: &NodeProto) -> Option<&(&'m FunctionProto, Opsets)> {
        if self.map.is_empty() {
            return None;
        }
        let key = (
            norm_domain(n.domain.as_deref().unwrap_or("")).to_string(),
            n.op_type.clone().unwrap_or_default(),
            n.overload.clone().unwrap_or_default(),
        );
        self.map.get(&key)
    }
}

/// A node ready for import.
pub(crate) struct FlatNode<'m> {
    pub node: Cow<'m, NodeProto>,
    /// The node's name: from the model, generated (`<op_type>_<index>`), or prefixed by the
    /// calling nodes' names when inlined.
    pub name: String,
    /// The opsets its domain's version comes from.
    pub opsets: Rc<Opsets>,
    /// Function-call nesting depth it came from (0 for the graph's own nodes).
    pub depth: usize,
}

/// Unique value names within one graph.
struct Names {
    used: HashSet<String>,
}

impl Names {
    fn fresh(&mut self, prefix: &str, orig: &str) -> String {
        let base = format!("{prefix}/{orig}");
        let mut name = base.clone();
        let mut k = 1u64;
        while self.used.contains(&name) {
            name = format!("{base}_{k}");
            k += 1;
        }
        self.used.insert(name.clone());
        name
    }
}

/// The graph's nodes with every local-function call inlined. `depth` is the call depth of the
/// node that owns this graph (0 for the main graph); `budget` counts nodes left.
pub(crate) fn flatten<'m>(
    g: &'m GraphProto,
    opsets: &Rc<Opsets>,
    funcs: &Functions<'m>,
    budget: &Cell<usize>,
    depth: usize,
) -> Result<Vec<FlatNode<'m>>> {
    let mut gen: Option<Names> = None;
    let mut out = Vec::with_capacity(g.node.len());
    for (i, n) in g.node.iter().enumerate() {
        let name = match n.name.as_deref() {
            Some(s) if !s.is_empty() => s.to_string(),
            _ => format!("{}_{i}", n.op_type.as_deref().unwrap_or("")),
        };
        // Fresh names are only needed (and the graph's names only collected) for calls.
        let names = if funcs.lookup(n).is_some() {
            Some(gen.get_or_insert_with(|| Names {
                used: graph_names(g),
            }))
        } else {
            None
        };
        expand(
            &mut out,
            Cow::Borrowed(n),
            name,
            opsets,
            funcs,
            names,
            budget,
            depth,
        )?;
    }
    Ok(out)
}

/// Every value name a graph mentions at its top level.
fn graph_names(g: &GraphProto) -> HashSet<String> {
    let mut s = HashSet::new();
    for vi in g.input.iter().chain(&g.output) {
        s.extend(vi.name.clone());
    }
    for t in &g.initializer {
        s.extend(t.name.clone());
    }
    for n in &g.node {
        s.extend(n.input.iter().chain(&n.output).cloned());
    }
    s
}

#[allow(clippy::too_many_arguments)]
fn expand<'m>(
    out: &mut Vec<FlatNode<'m>>,
    node: Cow<'m, NodeProto>,
    name: String,
    opsets: &Rc<Opsets>,
    funcs: &Functions<'m>,
    names: Option<&mut Names>,
    budget: &Cell<usize>,
    depth: usize,
) -> Result<()> {
    let (Some((f, fopsets)), Some(names)) = (funcs.lookup(&node), names) else {
        let left = budget.get();
        if left == 0 {
            return Err(Error::Limit(format!(
                "node {name}: the model has more nodes than --max-nodes allows (after \
                 inlining functions)"
            )));
        }
        budget.set(left - 1);
        out.push(FlatNode {
            node,
            name,
            opsets: opsets.clone(),
            depth,
        });
        return Ok(());
    };
    let fname = f.name.as_deref().unwrap_or("");
    if depth >= MAX_CALL_DEPTH {
        return Err(Error::Limit(format!(
            "node {name}: function calls nested deeper than {MAX_CALL_DEPTH} (is function \
             '{fname}' recursive?)"
        )));
    }
    let mut merged = (**opsets).clone();
    merged.extend(fopsets.iter().map(|(k, v)| (k.clone(), *v)));
    let merged = Rc::new(merged);
    for (body_node, body_name) in instantiate(f, &node, &name, names)? {
        expand(
            out,
            Cow::Owned(body_node),
            body_name,
            &merged,
            funcs,
            Some(&mut *names),
            budget,
            depth + 1,
        )?;
    }
    Ok(())
}

/// The body of `f` for one call: renamed nodes with attribute references substituted.
fn instantiate(
    f: &FunctionProto,
    call: &NodeProto,
    call_name: &str,
    names: &mut Names,
) -> Result<Vec<(NodeProto, String)>> {
    let fname = f.name.as_deref().unwrap_or("");
    let err =
        |msg: String| Error::Model(format!("node {call_name} calls function '{fname}': {msg}"));
    if call.input.len() > f.input.len() || call.output.len() > f.output.len() {
        return Err(err(format!(
            "{} inputs and {} outputs given, the function has {} and {}",
            call.input.len(),
            call.output.len(),
            f.input.len(),
            f.output.len()
        )));
    }
    // Formal name → actual name.
    let mut map: HashMap<String, String> = HashMap::new();
    for (i, formal) in f.input.iter().enumerate() {
        if formal.is_empty() {
            return Err(err(format!("input #{i} has no name")));
        }
        let actual = call.input.get(i).cloned().unwrap_or_default();
        if map.insert(formal.clone(), actual).is_some() {
            return Err(err(format!("input '{formal}' is declared twice")));
        }
    }
    let mut passthrough = vec![];
    let mut outputs: HashSet<&str> = HashSet::new();
    for (i, formal) in f.output.iter().enumerate() {
        if formal.is_empty() || !outputs.insert(formal) {
            return Err(err(format!("output #{i} has no name or is declared twice")));
        }
        let actual = match call.output.get(i) {
            Some(a) if !a.is_empty() => a.clone(),
            _ => names.fresh(call_name, formal),
        };
        if let Some(input) = map.get(formal) {
            // The function returns one of its inputs unchanged.
            passthrough.push((input.clone(), actual));
        } else {
            map.insert(formal.clone(), actual);
        }
    }
    let formal_inputs: HashSet<&str> = f.input.iter().map(String::as_str).collect();
    let mut produced: HashSet<&str> = HashSet::new();
    let mut body = Vec::with_capacity(f.node.len() + passthrough.len());
    for (j, bn) in f.node.iter().enumerate() {
        let op_type = bn.op_type.clone().unwrap_or_default();
        let local = match bn.name.as_deref() {
            Some(s) if !s.is_empty() => s.to_string(),
            _ => format!("{op_type}_{j}"),
        };
        let mut input = Vec::with_capacity(bn.input.len());
        for x in &bn.input {
            if x.is_empty() {
                input.push(String::new());
            } else if let Some(a) = map.get(x) {
                input.push(a.clone());
            } else {
                return Err(err(format!(
                    "body node {local} uses '{x}', which is neither a function input nor an \
                     output of an earlier body node"
                )));
            }
        }
        let attribute = subst_attrs(&bn.attribute, call, f, &map)?;
        let mut output = Vec::with_capacity(bn.output.len());
        for y in &bn.output {
            if y.is_empty() {
                output.push(String::new());
            } else if formal_inputs.contains(y.as_str()) {
                return Err(err(format!("body node {local} redefines input '{y}'")));
            } else if let Some(a) = map.get(y) {
                output.push(a.clone());
            } else {
                let fresh = names.fresh(call_name, y);
                map.insert(y.clone(), fresh.clone());
                output.push(fresh);
            }
            produced.insert(y);
        }
        let node = NodeProto {
            input,
            output,
            name: Some(format!("{call_name}/{local}")),
            op_type: Some(op_type),
            domain: bn.domain.clone(),
            overload: bn.overload.clone(),
            attribute,
            ..Default::default()
        };
        body.push((node, format!("{call_name}/{local}")));
    }
    for formal in &f.output {
        if !produced.contains(formal.as_str()) && !formal_inputs.contains(formal.as_str()) {
            return Err(err(format!(
                "output '{formal}' is not computed by the body"
            )));
        }
    }
    for (k, (from, to)) in passthrough.into_iter().enumerate() {
        let name = format!("{call_name}/Identity_passthrough_{k}");
        let node = NodeProto {
            input: vec![from],
            output: vec![to],
            name: Some(name.clone()),
            op_type: Some("Identity".into()),
            ..Default::default()
        };
        body.push((node, name));
    }
    Ok(body)
}

/// Body attributes with `ref_attr_name` references resolved and names inside subgraphs mapped.
fn subst_attrs(
    attrs: &[AttributeProto],
    call: &NodeProto,
    f: &FunctionProto,
    map: &HashMap<String, String>,
) -> Result<Vec<AttributeProto>> {
    let mut out = Vec::with_capacity(attrs.len());
    for a in attrs {
        if let Some(r) = a.ref_attr_name.as_deref().filter(|r| !r.is_empty()) {
            let by_name = |x: &&AttributeProto| x.name.as_deref() == Some(r);
            let src = call
                .attribute
                .iter()
                .find(by_name)
                .or_else(|| f.attribute_proto.iter().find(by_name));
            if let Some(src) = src {
                if a.r#type.is_some() && src.r#type.is_some() && a.r#type != src.r#type {
                    return Err(Error::Model(format!(
                        "function '{}': attribute '{}' refers to '{r}' of another type",
                        f.name.as_deref().unwrap_or(""),
                        a.name.as_deref().unwrap_or("")
                    )));
                }
                let mut v = src.clone();
                v.name = a.name.clone();
                v.ref_attr_name = None;
                out.push(v);
            }
            continue;
        }
        let mut v = a.clone();
        if let Some(g) = &mut v.g {
            rewrite_graph(g, call, f, map)?;
        }
        for g in &mut v.graphs {
            rewrite_graph(g, call, f, map)?;
        }
        out.push(v);
    }
    Ok(out)
}

/// Maps the names a body subgraph shares with the body, and resolves attribute references in
/// its nodes.
fn rewrite_graph(
    g: &mut GraphProto,
    call: &NodeProto,
    f: &FunctionProto,
    map: &HashMap<String, String>,
) -> Result<()> {
    let rename = |s: &mut String| {
        if let Some(a) = map.get(s.as_str()) {
            *s = a.clone();
        }
    };
    for vi in g.input.iter_mut().chain(g.output.iter_mut()) {
        if let Some(n) = &mut vi.name {
            rename(n);
        }
    }
    for t in &mut g.initializer {
        if let Some(n) = &mut t.name {
            rename(n);
        }
    }
    for n in &mut g.node {
        n.input
            .iter_mut()
            .chain(n.output.iter_mut())
            .for_each(rename);
        n.attribute = subst_attrs(&n.attribute, call, f, map)?;
    }
    Ok(())
}
