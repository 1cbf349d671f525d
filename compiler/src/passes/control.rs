//! Static control flow: If, Loop and Scan nodes whose behaviour is known at compile time are
//! replaced by copies of their bodies (Kiln has no run-time control flow). Runs before op
//! import; the copied nodes are processed in turn, so nested control flow is handled too.
//!
//! Specs: <https://onnx.ai/onnx/operators/onnx__If.html>,
//! <https://onnx.ai/onnx/operators/onnx__Loop.html>,
//! <https://onnx.ai/onnx/operators/onnx__Scan.html>.
//!
//! - **If** (1, 11, 13, 16, 19, 21, 23): the condition must be known at compile time — an
//!   initializer, a bound input (`--bind`), or any value computable from constants: the nodes
//!   it depends on are type-inferred and constant-folded on the spot (`known`). The chosen
//!   branch is inlined; its outputs reach the If's outputs through Identity nodes.
//! - **Loop** (1, 11, 13, 16, 19, 21, 23): needs a known trip count `M` (no while loops). With
//!   a condition input, the initial condition and each iteration's `cond_out` must be known
//!   (they are evaluated after each copied iteration; a false one ends the loop). Without one,
//!   `cond_out` is ignored (a for loop). At most `MAX_UNROLL` iterations. Loop-carried values
//!   become the next copy's inputs; scan outputs are stacked with Unsqueeze + Concat on axis 0
//!   (a loop that runs zero times with scan outputs is an error: their shape is unknown).
//! - **Scan** (9, 11, 16, 19, 21, 23): the scanned axis of the scan inputs must have a known
//!   length (≤ `MAX_UNROLL`); each iteration's slice is a Gather with a constant index;
//!   `scan_input_axes`/`_directions` and `scan_output_axes`/`_directions` (negative axes
//!   allowed) are honoured; outputs are stacked with Unsqueeze + Concat. **Scan 8** (batch
//!   axis 0, `sequence_lens` input, `directions`): unrolled per batch entry too (a known batch
//!   size, batch × length ≤ `MAX_UNROLL`); `sequence_lens` must be absent or a constant equal
//!   to the full length for every entry.
//!
//! Copied values get fresh names `<node>/<iteration>/<name>`; outer-scope references of the
//! body (values with no producer) map to the enclosing graph's values of the same name, and
//! references from nested subgraphs are renamed along. After inlining, every RNN/GRU/LSTM
//! node gets all of its outputs (`ops::rnn::materialise_outputs`).

use crate::error::{Error, Result};
use crate::ir::{AttrValue, Graph, Node, TensorType, ValueId};
use crate::limits::Limits;
use crate::tensor::{DType, Tensor};
use std::collections::{HashMap, HashSet};

/// Most iterations (body copies) one Loop or Scan may unroll into.
pub const MAX_UNROLL: i64 = 64;
pub fn inline_static_control(g: &mut Graph) -> Result<()> {
    inline_static_control_with(g, &Limits::default())
}

/// `inline_static_control`, with at most `limits.max_nodes` nodes after unrolling.
pub fn inline_static_control_with(g: &mut Graph, limits: &Limits) -> Result<()> {
    let mut names = Names::new(g);
    let mut i = 0;
    while i < g.nodes.len() {
        let n = &g.nodes[i];
        let ai = n.domain.is_empty() || n.domain == "ai.onnx";
        if !ai || !matches!(n.op_type.as_str(), "If" | "Loop" | "Scan") {
            i += 1;
            continue;
        }
        let node = n.clone();
        let new = match node.op_type.as_str() {
            "If" => expand_if(g, i, &node, &mut names)?,
            "Loop" => expand_loop(g, i, &node, &mut names)?,
            _ => expand_scan(g, i, &node, &mut names)?,
        };
        g.nodes.splice(i..i + 1, new);
        if g.nodes.len() > limits.max_nodes {
            return Err(Error::Limit(format!(
                "{}: more than --max-nodes {} nodes after unrolling control flow",
                node.describe(),
                limits.max_nodes
            )));
        }
    }
    crate::ops::rnn::materialise_outputs(g);
    Ok(())
}

/// Fresh value and node names.
struct Names {
    values: HashSet<String>,
    nodes: HashSet<String>,
    /// Value of each name in the graph being rewritten.
    ids: HashMap<String, ValueId>,
}

impl Names {
    fn new(g: &Graph) -> Names {
        Names {
            values: g.values.iter().map(|v| v.name.clone()).collect(),
            nodes: g.nodes.iter().map(|n| n.name.clone()).collect(),
            ids: g
                .values
                .iter()
                .enumerate()
                .map(|(i, v)| (v.name.clone(), ValueId(i as u32)))
                .collect(),
        }
    }
    fn fresh(set: &mut HashSet<String>, base: &str) -> String {
        let mut s = base.to_string();
        let mut k = 2;
        while set.contains(&s) {
            s = format!("{base}_{k}");
            k += 1;
        }
        set.insert(s.clone());
        s
    }
    fn value(&mut self, g: &mut Graph, base: &str) -> ValueId {
        let name = Self::fresh(&mut self.values, base);
        let v = g.add_value(name.clone());
        self.ids.insert(name, v);
        v
    }
    fn node(&mut self, base: &str) -> String {
        Self::fresh(&mut self.nodes, base)
    }
    fn konst(&mut self, g: &mut Graph, base: &str, t: Tensor) -> ValueId {
        let v = self.value(g, base);
        g.value_mut(v).konst = Some(t);
        v
    }
}

fn scalar_i64(v: i64) -> Tensor {
    Tensor::from_i64(vec![], &[v])
}

fn bool_scalar(b: bool) -> Tensor {
    Tensor::from_bytes(DType::Bool, vec![], vec![b as u8])
}

/// What is known of a value at compile time: its type, and its data when constant.
type Known = (Option<TensorType>, Option<Tensor>);

/// Type and value of `vals` given the nodes before the control node (`prefix`) and nodes
/// about to be added (`extra`): values that are not inputs or constants are computed by
/// inferring (and constant-folding) the nodes they depend on.
fn known(g: &Graph, prefix: &[Node], extra: &[Node], vals: &[ValueId]) -> Result<Vec<Known>> {
    let direct = |v: ValueId| -> Option<Known> {
        let val = g.value(v);
        if let Some(k) = &val.konst {
            return Some((Some(tensor_type(k)), Some(k.clone())));
        }
        if g.inputs.contains(&v) {
            return Some((val.ty.clone(), None));
        }
        None
    };
    if vals.iter().all(|v| direct(*v).is_some()) {
        return Ok(vals
            .iter()
            .map(|v| direct(*v).unwrap_or((None, None)))
            .collect());
    }
    // Ancestors of `vals`, in order.
    let all: Vec<&Node> = prefix.iter().chain(extra).collect();
    let mut need: HashSet<ValueId> = vals.iter().copied().collect();
    let mut keep = vec![false; all.len()];
    for (i, n) in all.iter().enumerate().rev() {
        if n.outputs.iter().flatten().any(|o| need.contains(o)) {
            keep[i] = true;
            need.extend(n.inputs.iter().flatten().copied());
        }
    }
    let mut t = Graph {
        name: g.name.clone(),
        values: g.values.clone(),
        nodes: all
            .iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|(n, _)| (*n).clone())
            .collect(),
        inputs: g.inputs.clone(),
        outputs: vec![],
        defaults: Default::default(),
        opsets: g.opsets.clone(),
        strings: g.strings.clone(),
        syms: g.syms.clone(),
    };
    crate::ops::rnn::materialise_outputs(&mut t);
    let m = super::infer(t, true)?;
    Ok(vals
        .iter()
        .map(|v| {
            let val = m.graph.value(*v);
            (val.ty.clone(), val.konst.clone())
        })
        .collect())
}

fn tensor_type(k: &Tensor) -> TensorType {
    TensorType {
        dtype: k.dtype,
        shape: k
            .shape
            .iter()
            .map(|d| crate::ir::Dim::known(*d as i64))
            .collect(),
    }
}

fn need_value(node: &Node, input: usize, what: &str) -> Error {
    Error::NeedsValue {
        node: node.name.clone(),
        input,
        msg: format!(
            "{}: {what} (input {input}) must be known at compile time (Kiln has no run-time \
             control flow; bind a graph input with --bind NAME=FILE.npy)",
            node.describe()
        ),
    }
}

fn node_err(node: &Node, msg: impl std::fmt::Display) -> Error {
    Error::Node(format!("{}: {msg}", node.describe()))
}

/// A boolean (or numeric) one-element constant as a bool.
fn truth(node: &Node, t: &Tensor, what: &str) -> Result<bool> {
    if t.numel() != 1 {
        return Err(node_err(
            node,
            format!("{what} must have one element, got shape {:?}", t.shape),
        ));
    }
    Ok(t.get_f64(0) != 0.0)
}

fn graph_attr<'a>(node: &'a Node, name: &str) -> Result<&'a Graph> {
    match node.attrs.iter().find(|(n, _)| n == name) {
        Some((_, AttrValue::Graph(g))) => Ok(g),
        Some((_, v)) => Err(node_err(
            node,
            format!("attribute '{name}': expected graph, got {}", v.kind()),
        )),
        None => Err(node_err(
            node,
            format!("attribute '{name}': required attribute missing"),
        )),
    }
}

fn ints_attr(node: &Node, name: &str) -> Result<Option<Vec<i64>>> {
    match node.attrs.iter().find(|(n, _)| n == name) {
        Some((_, AttrValue::Ints(v))) => Ok(Some(v.clone())),
        Some((_, v)) => Err(node_err(
            node,
            format!("attribute '{name}': expected ints, got {}", v.kind()),
        )),
        None => Ok(None),
    }
}

fn check_attrs(node: &Node, allowed: &[&str]) -> Result<()> {
    for (n, _) in &node.attrs {
        if !allowed.contains(&n.as_str()) {
            return Err(node_err(
                node,
                format!("attribute '{n}': not supported by Kiln for this op"),
            ));
        }
    }
    Ok(())
}

/// Rename outer-scope references (values without producer, input or constant) of `sub` and
/// of the subgraphs nested in it by `map`.
fn rename_outer(sub: &mut Graph, map: &HashMap<String, String>) {
    let mut produced = vec![false; sub.values.len()];
    for n in &sub.nodes {
        for o in n.outputs.iter().flatten() {
            produced[o.0 as usize] = true;
        }
    }
    for (i, v) in sub.values.iter_mut().enumerate() {
        let id = ValueId(i as u32);
        if !produced[i] && v.konst.is_none() && !sub.inputs.contains(&id) {
            if let Some(new) = map.get(&v.name) {
                v.name = new.clone();
            }
        }
    }
    for n in &mut sub.nodes {
        for (_, a) in &mut n.attrs {
            match a {
                AttrValue::Graph(g) => rename_outer(g, map),
                AttrValue::Graphs(gs) => gs.iter_mut().for_each(|g| rename_outer(g, map)),
                _ => {}
            }
        }
    }
}

/// Copy `body` into `g` with `bind` (body input position → value) for its inputs. Returns
/// the copied nodes and the values of the body's outputs.
fn inline(
    g: &mut Graph,
    names: &mut Names,
    owner: &Node,
    body: &Graph,
    bind: &[ValueId],
    tag: &str,
) -> Result<(Vec<Node>, Vec<ValueId>)> {
    if bind.len() != body.inputs.len() {
        return Err(node_err(
            owner,
            format!(
                "the body '{}' has {} inputs, expected {}",
                body.name,
                body.inputs.len(),
                bind.len()
            ),
        ));
    }
    let mut produced = vec![false; body.values.len()];
    for n in &body.nodes {
        for o in n.outputs.iter().flatten() {
            produced[o.0 as usize] = true;
        }
    }
    let mut map: Vec<Option<ValueId>> = vec![None; body.values.len()];
    for (k, v) in body.inputs.iter().enumerate() {
        map[v.0 as usize] = Some(bind[k]);
    }
    let mut rename: HashMap<String, String> = HashMap::new();
    for (i, val) in body.values.iter().enumerate() {
        if map[i].is_some() {
            continue;
        }
        let nv = if let Some(k) = &val.konst {
            names.konst(g, &format!("{tag}/{}", val.name), k.clone())
        } else if produced[i] {
            names.value(g, &format!("{tag}/{}", val.name))
        } else {
            // A value of an enclosing graph.
            *names.ids.get(&val.name).ok_or_else(|| {
                node_err(
                    owner,
                    format!(
                        "the body '{}' uses '{}', which is not defined",
                        body.name, val.name
                    ),
                )
            })?
        };
        map[i] = Some(nv);
    }
    for (i, val) in body.values.iter().enumerate() {
        if let Some(v) = map[i] {
            rename.insert(val.name.clone(), g.value(v).name.clone());
        }
    }
    let mv = |v: &ValueId| map[v.0 as usize].expect("mapped");
    let mut nodes = vec![];
    for n in &body.nodes {
        let mut c = n.clone();
        c.name = names.node(&format!("{tag}/{}", n.name));
        c.inputs = n.inputs.iter().map(|v| v.as_ref().map(mv)).collect();
        c.outputs = n.outputs.iter().map(|v| v.as_ref().map(mv)).collect();
        for (_, a) in &mut c.attrs {
            match a {
                AttrValue::Graph(sg) => rename_outer(sg, &rename),
                AttrValue::Graphs(gs) => gs.iter_mut().for_each(|sg| rename_outer(sg, &rename)),
                _ => {}
            }
        }
        nodes.push(c);
    }
    let outs = body.outputs.iter().map(mv).collect();
    Ok((nodes, outs))
}

/// A new ai.onnx node at the owner's opset.
fn mk(
    names: &mut Names,
    owner: &Node,
    op: &str,
    ins: Vec<ValueId>,
    out: ValueId,
    attrs: Vec<(&str, AttrValue)>,
) -> Node {
    Node {
        name: names.node(&format!("{}/{}", owner.name, op)),
        op_type: op.to_string(),
        domain: String::new(),
        opset: owner.opset,
        inputs: ins.into_iter().map(Some).collect(),
        outputs: vec![Some(out)],
        attrs: attrs.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
    }
}

/// `out = Concat(Unsqueeze(v, axis) for v in vals, axis)`.
fn stack(
    g: &mut Graph,
    names: &mut Names,
    owner: &Node,
    vals: &[ValueId],
    axis: i64,
    out: ValueId,
    nodes: &mut Vec<Node>,
) {
    let mut parts = vec![];
    for v in vals {
        let base = format!("{}/unsqueezed", g.value(*v).name);
        let u = names.value(g, &base);
        let n = if owner.opset >= 13 {
            let axes = names.konst(g, &format!("{}/axes", owner.name), {
                Tensor::from_i64(vec![1], &[axis])
            });
            mk(names, owner, "Unsqueeze", vec![*v, axes], u, vec![])
        } else {
            let a = vec![("axes", AttrValue::Ints(vec![axis]))];
            mk(names, owner, "Unsqueeze", vec![*v], u, a)
        };
        nodes.push(n);
        parts.push(u);
    }
    let a = vec![("axis", AttrValue::Int(axis))];
    nodes.push(mk(names, owner, "Concat", parts, out, a));
}

fn identity(names: &mut Names, owner: &Node, src: ValueId, out: ValueId) -> Node {
    mk(names, owner, "Identity", vec![src], out, vec![])
}

fn expand_if(g: &mut Graph, at: usize, node: &Node, names: &mut Names) -> Result<Vec<Node>> {
    check_attrs(node, &["then_branch", "else_branch"])?;
    let cond = node
        .input(0)
        .ok_or_else(|| node_err(node, "input 0 (cond) is required"))?;
    let prefix = g.nodes[..at].to_vec();
    let k = known(g, &prefix, &[], &[cond])?;
    let Some(c) = &k[0].1 else {
        return expand_dynamic_if(g, node, cond, names);
    };
    let take_then = truth(node, c, "the condition")?;
    let branch = graph_attr(
        node,
        if take_then {
            "then_branch"
        } else {
            "else_branch"
        },
    )?
    .clone();
    let tag = format!("{}/{}", node.name, if take_then { "then" } else { "else" });
    let (mut nodes, outs) = inline(g, names, node, &branch, &[], &tag)?;
    if outs.len() != node.outputs.len() {
        return Err(node_err(
            node,
            format!(
                "the chosen branch has {} outputs, the node {}",
                outs.len(),
                node.outputs.len()
            ),
        ));
    }
    for (src, o) in outs.iter().zip(&node.outputs) {
        if let Some(o) = o {
            nodes.push(identity(names, node, *src, *o));
        }
    }
    Ok(nodes)
}

/// An If whose condition is only known at run time: both branches are inlined and every
/// output is `Where(cond, then, else)`. Both branches must give outputs of the same shape and
/// type (the Where's inference reports a mismatch on the node `<if>/Where`). Both branches run,
/// so a run-time error in the branch not taken (an out-of-range index) is still reported.
fn expand_dynamic_if(
    g: &mut Graph,
    node: &Node,
    cond: ValueId,
    names: &mut Names,
) -> Result<Vec<Node>> {
    let then_b = graph_attr(node, "then_branch")?.clone();
    let else_b = graph_attr(node, "else_branch")?.clone();
    let (mut nodes, then_outs) =
        inline(g, names, node, &then_b, &[], &format!("{}/then", node.name))?;
    let (else_nodes, else_outs) =
        inline(g, names, node, &else_b, &[], &format!("{}/else", node.name))?;
    nodes.extend(else_nodes);
    if then_outs.len() != node.outputs.len() || else_outs.len() != node.outputs.len() {
        return Err(node_err(
            node,
            format!(
                "the branches have {} and {} outputs, the node {}",
                then_outs.len(),
                else_outs.len(),
                node.outputs.len()
            ),
        ));
    }
    for ((t, e), o) in then_outs.iter().zip(&else_outs).zip(&node.outputs) {
        if let Some(o) = o {
            let mut w = mk(names, node, "Where", vec![cond, *t, *e], *o, vec![]);
            w.opset = w.opset.max(9);
            nodes.push(w);
        }
    }
    Ok(nodes)
}

fn expand_loop(g: &mut Graph, at: usize, node: &Node, names: &mut Names) -> Result<Vec<Node>> {
    check_attrs(node, &["body"])?;
    let body = graph_attr(node, "body")?.clone();
    let prefix = g.nodes[..at].to_vec();
    let Some(m) = node.input(0) else {
        return Err(node_err(
            node,
            "a Loop without a trip count (a while loop) cannot be unrolled",
        ));
    };
    let cond = node.input(1);
    let mut want = vec![m];
    want.extend(cond);
    let k = known(g, &prefix, &[], &want)?;
    let Some(mt) = &k[0].1 else {
        return Err(need_value(node, 0, "the trip count M"));
    };
    if mt.numel() != 1 {
        return Err(node_err(node, "the trip count M must have one element"));
    }
    let trip = mt.get_i64(0);
    let mut go = match cond {
        Some(_) => match &k[1].1 {
            Some(c) => truth(node, c, "the condition")?,
            None => return Err(need_value(node, 1, "the condition")),
        },
        None => true,
    };
    let n_carried = node.inputs.len().saturating_sub(2);
    let n_scan = body.outputs.len().saturating_sub(1 + n_carried);
    if body.outputs.len() < 1 + n_carried || node.outputs.len() > n_carried + n_scan {
        return Err(node_err(
            node,
            format!(
                "the body has {} outputs for {n_carried} loop-carried values and the node {} \
                 outputs",
                body.outputs.len(),
                node.outputs.len()
            ),
        ));
    }
    let mut carried: Vec<ValueId> = (0..n_carried)
        .map(|i| {
            node.input(2 + i)
                .ok_or_else(|| node_err(node, format!("loop-carried input {} is absent", 2 + i)))
        })
        .collect::<Result<_>>()?;
    let mut scans: Vec<Vec<ValueId>> = vec![vec![]; n_scan];
    let mut nodes: Vec<Node> = vec![];
    let mut it = 0i64;
    while it < trip && go {
        if it >= MAX_UNROLL {
            return Err(node_err(
                node,
                format!("unrolling is limited to {MAX_UNROLL} iterations (trip count {trip})"),
            ));
        }
        let tag = format!("{}/{it}", node.name);
        let iv = names.konst(g, &format!("{tag}/iter"), scalar_i64(it));
        let cv = names.konst(g, &format!("{tag}/cond"), bool_scalar(true));
        let mut bind = vec![iv, cv];
        bind.extend(&carried);
        let (new, outs) = inline(g, names, node, &body, &bind, &tag)?;
        nodes.extend(new);
        carried = outs[1..1 + n_carried].to_vec();
        for (s, v) in scans.iter_mut().zip(&outs[1 + n_carried..]) {
            s.push(*v);
        }
        it += 1;
        if cond.is_some() && it < trip {
            let k = known(g, &prefix, &nodes, &[outs[0]])?;
            go = match &k[0].1 {
                Some(c) => truth(node, c, "the body's condition output")?,
                None => {
                    return Err(node_err(
                        node,
                        format!(
                            "the body's condition output is not known at compile time after \
                             iteration {}: the loop cannot be unrolled",
                            it - 1
                        ),
                    ))
                }
            };
        }
    }
    for (i, o) in node.outputs.iter().enumerate() {
        let Some(o) = o else { continue };
        if i < n_carried {
            nodes.push(identity(names, node, carried[i], *o));
        } else if scans[i - n_carried].is_empty() {
            return Err(node_err(
                node,
                format!("scan output {i} of a loop that runs zero times has an unknown shape"),
            ));
        } else {
            let vals = scans[i - n_carried].clone();
            stack(g, names, node, &vals, 0, *o, &mut nodes);
        }
    }
    Ok(nodes)
}

/// One scanned input: its value, the scanned axis (normalised) and direction.
struct ScanIn {
    v: ValueId,
    axis: i64,
    reverse: bool,
}

/// Unroll a Scan body `len` times. Returns the final states and, per scan output, the
/// per-iteration values in iteration order.
#[allow(clippy::too_many_arguments)]
fn unroll_scan(
    g: &mut Graph,
    names: &mut Names,
    node: &Node,
    body: &Graph,
    states: &[ValueId],
    scans: &[ScanIn],
    len: i64,
    tag: &str,
    nodes: &mut Vec<Node>,
) -> Result<(Vec<ValueId>, Vec<Vec<ValueId>>)> {
    let n_out = body.outputs.len().saturating_sub(states.len());
    let mut st = states.to_vec();
    let mut outs: Vec<Vec<ValueId>> = vec![vec![]; n_out];
    for t in 0..len {
        let itag = format!("{tag}/{t}");
        let mut bind = st.clone();
        for s in scans {
            let i = if s.reverse { len - 1 - t } else { t };
            let idx = names.konst(g, &format!("{itag}/index"), scalar_i64(i));
            let base = format!("{}/{}", itag, g.value(s.v).name);
            let sl = names.value(g, &base);
            let a = vec![("axis", AttrValue::Int(s.axis))];
            nodes.push(mk(names, node, "Gather", vec![s.v, idx], sl, a));
            bind.push(sl);
        }
        let (new, o) = inline(g, names, node, body, &bind, &itag)?;
        nodes.extend(new);
        st = o[..states.len()].to_vec();
        for (acc, v) in outs.iter_mut().zip(&o[states.len()..]) {
            acc.push(*v);
        }
    }
    Ok((st, outs))
}

fn expand_scan(g: &mut Graph, at: usize, node: &Node, names: &mut Names) -> Result<Vec<Node>> {
    let v8 = node.opset < 9;
    if v8 {
        check_attrs(node, &["body", "num_scan_inputs", "directions"])?;
    } else {
        check_attrs(
            node,
            &[
                "body",
                "num_scan_inputs",
                "scan_input_axes",
                "scan_input_directions",
                "scan_output_axes",
                "scan_output_directions",
            ],
        )?;
    }
    let body = graph_attr(node, "body")?.clone();
    let m = match node.attrs.iter().find(|(n, _)| n == "num_scan_inputs") {
        Some((_, AttrValue::Int(m))) if *m >= 1 => *m as usize,
        _ => {
            return Err(node_err(
                node,
                "attribute 'num_scan_inputs': required, a positive int",
            ))
        }
    };
    let first = usize::from(v8);
    let ins: Vec<ValueId> = node.inputs[first.min(node.inputs.len())..]
        .iter()
        .map(|v| v.ok_or_else(|| node_err(node, "state and scan inputs may not be omitted")))
        .collect::<Result<_>>()?;
    if ins.len() < m {
        return Err(node_err(
            node,
            format!(
                "num_scan_inputs is {m} but the node has {} inputs",
                ins.len()
            ),
        ));
    }
    let n_state = ins.len() - m;
    let n_out = body.outputs.len().saturating_sub(n_state);
    if node.outputs.len() > n_state + n_out {
        return Err(node_err(node, "more outputs than the body produces"));
    }
    let dirs = |name: &str, n: usize| -> Result<Vec<bool>> {
        let v = ints_attr(node, name)?.unwrap_or_else(|| vec![0; n]);
        if v.len() != n || v.iter().any(|d| *d != 0 && *d != 1) {
            return Err(node_err(
                node,
                format!("attribute '{name}': expected {n} values of 0 or 1"),
            ));
        }
        Ok(v.iter().map(|d| *d == 1).collect())
    };
    let prefix = g.nodes[..at].to_vec();
    let types = known(g, &prefix, &[], &ins[n_state..])?;
    let rank = |k: usize| -> Result<usize> {
        types[k]
            .0
            .as_ref()
            .map(|t| t.shape.len())
            .ok_or_else(|| node_err(node, format!("the type of scan input {k} is unknown")))
    };
    let dim = |k: usize, axis: usize| -> Result<i64> {
        let t = types[k].0.as_ref().expect("typed");
        t.shape
            .get(axis)
            .ok_or_else(|| node_err(node, format!("scan input {k} has no axis {axis}")))?
            .as_known()
            .ok_or_else(|| {
                node_err(
                    node,
                    format!(
                        "the scanned axis of scan input {k} is symbolic: unrolling needs its \
                         value (use --dim)"
                    ),
                )
            })
    };
    let mut nodes = vec![];
    if !v8 {
        let in_axes = ints_attr(node, "scan_input_axes")?.unwrap_or_else(|| vec![0; m]);
        let in_dirs = dirs("scan_input_directions", m)?;
        let out_axes = ints_attr(node, "scan_output_axes")?.unwrap_or_else(|| vec![0; n_out]);
        let out_dirs = dirs("scan_output_directions", n_out)?;
        if in_axes.len() != m || out_axes.len() != n_out {
            return Err(node_err(
                node,
                "scan_input_axes / scan_output_axes: wrong length",
            ));
        }
        let mut scans = vec![];
        let mut len = None;
        for k in 0..m {
            let r = rank(k)? as i64;
            let a = in_axes[k];
            if a < -r || a >= r {
                return Err(node_err(
                    node,
                    format!("scan_input_axes: axis {a} out of range for rank {r}"),
                ));
            }
            let a = if a < 0 { a + r } else { a };
            let l = dim(k, a as usize)?;
            if len.is_some_and(|x| x != l) {
                return Err(node_err(node, "scan inputs have different lengths"));
            }
            len = Some(l);
            scans.push(ScanIn {
                v: ins[n_state + k],
                axis: a,
                reverse: in_dirs[k],
            });
        }
        let len = len.unwrap_or(0);
        if len > MAX_UNROLL {
            return Err(node_err(
                node,
                format!("unrolling is limited to {MAX_UNROLL} iterations (sequence length {len})"),
            ));
        }
        if len == 0 && n_out > 0 {
            return Err(node_err(
                node,
                "a scan of length 0 has outputs of unknown shape",
            ));
        }
        let (st, outs) = unroll_scan(
            g,
            names,
            node,
            &body,
            &ins[..n_state],
            &scans,
            len,
            &node.name,
            &mut nodes,
        )?;
        for (i, o) in node.outputs.iter().enumerate() {
            let Some(o) = o else { continue };
            if i < n_state {
                nodes.push(identity(names, node, st[i], *o));
            } else {
                let j = i - n_state;
                let mut vals = outs[j].clone();
                if out_dirs[j] {
                    vals.reverse();
                }
                stack(g, names, node, &vals, out_axes[j], *o, &mut nodes);
            }
        }
        return Ok(nodes);
    }
    // Scan 8: batch axis 0, scanned axis 1.
    let in_dirs = dirs("directions", m)?;
    let mut len = None;
    let mut batch = None;
    for k in 0..m {
        if rank(k)? < 2 {
            return Err(node_err(node, format!("scan input {k} must have rank ≥ 2")));
        }
        let (b, l) = (dim(k, 0)?, dim(k, 1)?);
        if len.is_some_and(|x| x != l) || batch.is_some_and(|x| x != b) {
            return Err(node_err(
                node,
                "scan inputs have different batch sizes or lengths",
            ));
        }
        len = Some(l);
        batch = Some(b);
    }
    let (len, batch) = (len.unwrap_or(0), batch.unwrap_or(0));
    if len * batch > MAX_UNROLL {
        return Err(node_err(
            node,
            format!(
                "unrolling is limited to {MAX_UNROLL} iterations (batch {batch} × length {len})"
            ),
        ));
    }
    if len == 0 || batch == 0 {
        return Err(node_err(
            node,
            "a scan of length 0 has outputs of unknown shape",
        ));
    }
    if let Some(sl) = node.input(0) {
        let k = known(g, &prefix, &[], &[sl])?;
        let ok = k[0]
            .1
            .as_ref()
            .is_some_and(|t| t.to_i64_vec().iter().all(|v| *v == len));
        if !ok {
            return Err(node_err(
                node,
                "sequence_lens must be absent or a constant equal to the full length",
            ));
        }
    }
    let mut finals: Vec<Vec<ValueId>> = vec![vec![]; n_state];
    let mut outs_b: Vec<Vec<ValueId>> = vec![vec![]; n_out];
    for b in 0..batch {
        let btag = format!("{}/b{b}", node.name);
        let mut pick = |v: ValueId, nodes: &mut Vec<Node>| -> ValueId {
            let idx = names.konst(g, &format!("{btag}/index"), scalar_i64(b));
            let base = format!("{btag}/{}", g.value(v).name);
            let sl = names.value(g, &base);
            let a = vec![("axis", AttrValue::Int(0))];
            nodes.push(mk(names, node, "Gather", vec![v, idx], sl, a));
            sl
        };
        let states: Vec<ValueId> = ins[..n_state]
            .iter()
            .map(|v| pick(*v, &mut nodes))
            .collect();
        let scans: Vec<ScanIn> = (0..m)
            .map(|k| ScanIn {
                v: pick(ins[n_state + k], &mut nodes),
                axis: 0,
                reverse: in_dirs[k],
            })
            .collect();
        let (st, outs) = unroll_scan(
            g, names, node, &body, &states, &scans, len, &btag, &mut nodes,
        )?;
        for (f, v) in finals.iter_mut().zip(st) {
            f.push(v);
        }
        for (j, vals) in outs.into_iter().enumerate() {
            let o = names.value(g, &format!("{btag}/scan_output{j}"));
            stack(g, names, node, &vals, 0, o, &mut nodes);
            outs_b[j].push(o);
        }
    }
    for (i, o) in node.outputs.iter().enumerate() {
        let Some(o) = o else { continue };
        let vals = if i < n_state {
            finals[i].clone()
        } else {
            outs_b[i - n_state].clone()
        };
        stack(g, names, node, &vals, 0, *o, &mut nodes);
    }
    Ok(nodes)
}
