//! `kiln inspect`: the optimised graph as text (nodes, dtypes, shapes, FLOPs) with the memory
//! plan (scratch bytes against the lower bound, each value's place and live range), and as a
//! Graphviz picture.

use crate::compile::Compiled;
use crate::ir::{dim::numel, Dim, Graph, TensorType, ValueId};
use crate::passes::plan::Storage;
use std::fmt::Write;

fn ty_str(g: &Graph, v: ValueId) -> String {
    match &g.value(v).ty {
        Some(t) => format!("{}{}", t.dtype, g.shape_str(&t.shape)),
        None => "?".into(),
    }
}

pub fn report(c: &Compiled) -> String {
    let g = &c.model.graph;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "graph {} ({} nodes after optimisation)",
        c.program.name,
        g.nodes.len()
    );
    if !g.syms.is_empty() {
        let _ = writeln!(s, "symbolic dims: {}", g.syms.join(", "));
    }
    for v in &g.inputs {
        let _ = writeln!(s, "input  {}: {}", g.value(*v).name, ty_str(g, *v));
    }
    for v in &g.outputs {
        let _ = writeln!(s, "output {}: {}", g.value(*v).name, ty_str(g, *v));
    }
    let mut total = Dim::known(0);
    let _ = writeln!(s, "nodes:");
    for (n, op) in g.nodes.iter().zip(&c.model.ops) {
        let ins: Vec<Option<&TensorType>> = n
            .inputs
            .iter()
            .map(|v| v.and_then(|v| g.value(v).ty.as_ref()))
            .collect();
        let outs: Vec<&TensorType> = n
            .outputs
            .iter()
            .flatten()
            .filter_map(|v| g.value(*v).ty.as_ref())
            .collect();
        let f = op.flops(&ins, &outs);
        total = total.add(&f);
        let inn: Vec<String> = n
            .inputs
            .iter()
            .map(|v| {
                v.map_or("-".into(), |v| {
                    format!("{}:{}", g.value(v).name, ty_str(g, v))
                })
            })
            .collect();
        let outn: Vec<String> = n
            .outputs
            .iter()
            .flatten()
            .map(|v| format!("{}:{}", g.value(*v).name, ty_str(g, *v)))
            .collect();
        let _ = writeln!(
            s,
            "  {} {} ({}) -> ({})  flops {}",
            n.op_type,
            n.name,
            inn.join(", "),
            outn.join(", "),
            f.show(&g.syms)
        );
    }
    let _ = writeln!(s, "total flops: {}", total.show(&g.syms));
    let p = &c.plan;
    let _ = writeln!(s, "memory plan:");
    let _ = writeln!(s, "  scratch bytes: {}", p.scratch_size.show(&g.syms));
    if let Some(lb) = p.lower_bound {
        let _ = writeln!(s, "  lower bound (largest total live at once): {lb}");
    }
    let _ = writeln!(s, "  weight bytes: {}", c.program.weights.len());
    for (v, st) in &p.storage {
        let name = &g.value(*v).name;
        let line = match st {
            Storage::Input(i) => format!("input {i}"),
            Storage::Output(i) => format!("output {i}"),
            Storage::Weight => {
                let b = g.value(*v).ty.as_ref().map(|t| {
                    numel(&t.shape).scale(t.dtype.storage().map_or(1, |e| e.size()) as i64)
                });
                format!("weight {} bytes", b.map_or("?".into(), |b| b.show(&g.syms)))
            }
            Storage::Scratch {
                offset,
                size,
                first,
                last,
            } => format!(
                "scratch offset {} size {} live nodes {first}..={last}",
                offset.show(&g.syms),
                size.show(&g.syms)
            ),
            Storage::View(r) => format!("view of {}", g.value(*r).name),
            Storage::Slice {
                of,
                byte_offset,
                bytes,
            } => format!(
                "{bytes} bytes in {} at byte {byte_offset} (concat in place)",
                g.value(*of).name
            ),
        };
        let _ = writeln!(s, "  {name}: {line}");
    }
    s
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

pub fn dot(c: &Compiled) -> String {
    let g = &c.model.graph;
    let mut s = String::from("digraph kiln {\n  rankdir=TB;\n  node [fontname=\"monospace\"];\n");
    for v in &g.inputs {
        let _ = writeln!(
            s,
            "  \"v{}\" [shape=ellipse,label=\"{}\\n{}\"];",
            v.0,
            esc(&g.value(*v).name),
            esc(&ty_str(g, *v))
        );
    }
    let producers = g.producers();
    for (i, n) in g.nodes.iter().enumerate() {
        let _ = writeln!(
            s,
            "  \"n{i}\" [shape=box,label=\"{}\\n{}\"];",
            esc(&n.op_type),
            esc(&n.name)
        );
        for v in n.inputs.iter().flatten() {
            let from = match producers[v.0 as usize] {
                Some(p) => format!("n{}", p.0),
                None if g.inputs.contains(v) => format!("v{}", v.0),
                None => continue, // constants are not drawn
            };
            let _ = writeln!(
                s,
                "  \"{from}\" -> \"n{i}\" [label=\"{}\"];",
                esc(&ty_str(g, *v))
            );
        }
    }
    for (k, v) in g.outputs.iter().enumerate() {
        let _ = writeln!(
            s,
            "  \"out{k}\" [shape=ellipse,label=\"{}\"];",
            esc(&g.value(*v).name)
        );
        if let Some(p) = producers[v.0 as usize] {
            let _ = writeln!(
                s,
                "  \"n{}\" -> \"out{k}\" [label=\"{}\"];",
                p.0,
                esc(&ty_str(g, *v))
            );
        }
    }
    s.push_str("}\n");
    s
}
