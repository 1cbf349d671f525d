//! Tests of model-local function inlining.

use super::proto::{attribute_proto::AttributeType, AttributeProto, FunctionProto, ModelProto};
use super::tests::{attr, attr_f, attr_g, err_of, graph, imp, model, node, opset, vi};
use crate::error::Error;
use crate::ir::{AttrValue, Graph};

/// `y = LeakyRelu(Add(x, b), alpha=@alpha)`, in domain "local", importing ai.onnx 13.
fn add_leaky() -> FunctionProto {
    let mut leaky = node("LeakyRelu", "lr", &["s"], &["y"]);
    leaky.attribute = vec![AttributeProto {
        ref_attr_name: Some("alpha".into()),
        ..attr("alpha", AttributeType::Float)
    }];
    FunctionProto {
        name: Some("AddLeaky".into()),
        domain: Some("local".into()),
        input: vec!["x".into(), "b".into()],
        output: vec!["y".into()],
        attribute: vec!["alpha".into()],
        node: vec![node("Add", "add", &["x", "b"], &["s"]), leaky],
        opset_import: vec![opset("", 13)],
        ..Default::default()
    }
}

fn call(f: &str, name: &str, inputs: &[&str], outputs: &[&str]) -> super::proto::NodeProto {
    let mut n = node(f, name, inputs, outputs);
    n.domain = Some("local".into());
    n
}

fn with_functions(nodes: Vec<super::proto::NodeProto>, fs: Vec<FunctionProto>) -> ModelProto {
    let mut m = model(graph(
        nodes,
        vec![vi("a", 1, &["3"]), vi("c", 1, &["3"])],
        vec![vi("out", 1, &["3"])],
    ));
    m.functions = fs;
    m
}

fn names(g: &Graph) -> Vec<(String, String, i64)> {
    g.nodes
        .iter()
        .map(|n| (n.name.clone(), n.op_type.clone(), n.opset))
        .collect()
}

fn vname(g: &Graph, v: Option<crate::ir::ValueId>) -> &str {
    &g.value(v.unwrap()).name
}

fn alpha(g: &Graph, i: usize) -> Option<f32> {
    g.nodes[i].attrs.iter().find_map(|(k, v)| match v {
        AttrValue::Float(f) if k == "alpha" => Some(*f),
        _ => None,
    })
}

#[test]
fn inlines_with_renaming_opsets_and_attribute_refs() {
    let mut c = call("AddLeaky", "f1", &["a", "c"], &["out"]);
    c.attribute = vec![attr_f("alpha", 0.25)];
    let g = imp(&with_functions(vec![c], vec![add_leaky()])).unwrap();
    assert_eq!(
        names(&g),
        vec![
            ("f1/add".into(), "Add".into(), 13),
            ("f1/lr".into(), "LeakyRelu".into(), 13)
        ]
    );
    let (add, lr) = (&g.nodes[0], &g.nodes[1]);
    assert_eq!(vname(&g, add.inputs[0]), "a");
    assert_eq!(vname(&g, add.inputs[1]), "c");
    assert_eq!(vname(&g, add.outputs[0]), "f1/s");
    assert_eq!(lr.inputs[0], add.outputs[0]);
    assert_eq!(vname(&g, lr.outputs[0]), "out");
    assert_eq!(g.outputs, vec![lr.outputs[0].unwrap()]);
    assert_eq!(alpha(&g, 1), Some(0.25));
    // The model's own opset stays 17; the function domain need not be imported.
    assert_eq!(g.opsets.get(""), Some(&17));
    assert!(!g.opsets.contains_key("local"));
}

#[test]
fn attribute_defaults_and_absent_refs() {
    let c = || call("AddLeaky", "f1", &["a", "c"], &["out"]);
    // No caller attribute, no default: dropped.
    let g = imp(&with_functions(vec![c()], vec![add_leaky()])).unwrap();
    assert_eq!(alpha(&g, 1), None);
    // Default from attribute_proto.
    let mut f = add_leaky();
    f.attribute.clear();
    f.attribute_proto = vec![attr_f("alpha", 0.5)];
    let g = imp(&with_functions(vec![c()], vec![f.clone()])).unwrap();
    assert_eq!(alpha(&g, 1), Some(0.5));
    // The caller wins over the default.
    let mut c2 = c();
    c2.attribute = vec![attr_f("alpha", 0.75)];
    let g = imp(&with_functions(vec![c2], vec![f.clone()])).unwrap();
    assert_eq!(alpha(&g, 1), Some(0.75));
    // Of the wrong type.
    let mut c3 = c();
    c3.attribute = vec![super::tests::attr_i("alpha", 1)];
    assert!(err_of(imp(&with_functions(vec![c3], vec![f]))).contains("of another type"));
}

#[test]
fn two_calls_get_distinct_names_and_nested_calls_inline() {
    // Outer(x, b) = AddLeaky(AddLeaky(x, b), b), importing ai.onnx 15.
    let outer = FunctionProto {
        name: Some("Outer".into()),
        domain: Some("local".into()),
        input: vec!["x".into(), "b".into()],
        output: vec!["y".into()],
        node: vec![
            call("AddLeaky", "", &["x", "b"], &["t"]),
            call("AddLeaky", "", &["t", "b"], &["y"]),
        ],
        opset_import: vec![opset("", 15), opset("local", 1)],
        ..Default::default()
    };
    let nodes = vec![
        call("Outer", "o", &["a", "c"], &["m"]),
        call("AddLeaky", "", &["m", "c"], &["out"]),
    ];
    let g = imp(&with_functions(nodes, vec![add_leaky(), outer])).unwrap();
    let got: Vec<String> = g.nodes.iter().map(|n| n.name.clone()).collect();
    assert_eq!(
        got,
        [
            "o/AddLeaky_0/add",
            "o/AddLeaky_0/lr",
            "o/AddLeaky_1/add",
            "o/AddLeaky_1/lr",
            "AddLeaky_1/add",
            "AddLeaky_1/lr"
        ]
    );
    // AddLeaky's own opset import (13) wins over Outer's (15).
    assert!(g.nodes.iter().all(|n| n.opset == 13));
    let outs: Vec<&str> = g.nodes.iter().map(|n| vname(&g, n.outputs[0])).collect();
    assert_eq!(
        outs,
        [
            "o/AddLeaky_0/s",
            "o/t",
            "o/AddLeaky_1/s",
            "m",
            "AddLeaky_1/s",
            "out"
        ]
    );
}

#[test]
fn recursion_is_an_error() {
    let mut f = add_leaky();
    f.node.push(call("AddLeaky", "again", &["y", "b"], &["z"]));
    let e = imp(&with_functions(
        vec![call("AddLeaky", "f", &["a", "c"], &["out"])],
        vec![f],
    ))
    .unwrap_err();
    assert!(
        matches!(&e, Error::Limit(m) if m.contains("recursive")),
        "{e}"
    );
}

#[test]
fn missing_inputs_outputs_and_passthrough() {
    // Id(x, opt) returns (x, Neg(opt)); called with one input and only the first output.
    let f = FunctionProto {
        name: Some("Id".into()),
        domain: Some("local".into()),
        input: vec!["x".into(), "opt".into()],
        output: vec!["x".into(), "n".into()],
        node: vec![node("Neg", "neg", &["opt"], &["n"])],
        opset_import: vec![opset("", 17)],
        ..Default::default()
    };
    let g = imp(&with_functions(
        vec![call("Id", "i", &["a"], &["out"])],
        vec![f],
    ))
    .unwrap();
    assert_eq!(names(&g)[0].1, "Neg");
    assert_eq!(g.nodes[0].inputs, vec![None]);
    assert_eq!(vname(&g, g.nodes[0].outputs[0]), "i/n");
    assert_eq!(g.nodes[1].op_type, "Identity");
    assert_eq!(vname(&g, g.nodes[1].inputs[0]), "a");
    assert_eq!(vname(&g, g.nodes[1].outputs[0]), "out");
}

#[test]
fn bad_bodies_are_errors() {
    let run = |f: FunctionProto| {
        err_of(imp(&with_functions(
            vec![call("AddLeaky", "f", &["a", "c"], &["out"])],
            vec![f],
        )))
    };
    let mut f = add_leaky();
    f.node[0].input[1] = "outer".into();
    assert!(run(f).contains("uses 'outer'"));
    let mut f = add_leaky();
    f.node.pop();
    assert!(run(f).contains("output 'y' is not computed"));
    let mut f = add_leaky();
    f.node[0].output[0] = "x".into();
    assert!(run(f).contains("redefines input 'x'"));
    let e = err_of(imp(&with_functions(
        vec![call("AddLeaky", "f", &["a", "c", "a"], &["out"])],
        vec![add_leaky()],
    )));
    assert!(e.contains("3 inputs"), "{e}");
    let e = err_of(imp(&with_functions(
        vec![call("AddLeaky", "f", &["a", "c"], &["out"])],
        vec![add_leaky(), add_leaky()],
    )));
    assert!(e.contains("defined twice"), "{e}");
}

#[test]
fn body_subgraphs_are_renamed_and_substituted() {
    // F(x, c) = If(c) then Mul(x, s) else Identity(x), s = Neg(x); attribute refs inside the
    // branches resolve too.
    let mut mul = node("Mul", "m", &["x", "s"], &["o1"]);
    mul.attribute = vec![AttributeProto {
        ref_attr_name: Some("k".into()),
        ..attr("k", AttributeType::Int)
    }];
    let then_g = graph(vec![mul], vec![], vec![vi("o1", 1, &[])]);
    let else_g = graph(vec![], vec![], vec![vi("x", 1, &[])]);
    let mut iff = node("If", "if", &["c"], &["y"]);
    iff.attribute = vec![attr_g("then_branch", then_g), attr_g("else_branch", else_g)];
    let f = FunctionProto {
        name: Some("F".into()),
        domain: Some("local".into()),
        input: vec!["x".into(), "c".into()],
        output: vec!["y".into()],
        node: vec![node("Neg", "n", &["x"], &["s"]), iff],
        opset_import: vec![opset("", 17)],
        ..Default::default()
    };
    let mut c = call("F", "call", &["a", "cond"], &["out"]);
    c.attribute = vec![super::tests::attr_i("k", 7)];
    let mut m = with_functions(vec![c], vec![f]);
    m.graph.as_mut().unwrap().input.push(vi("cond", 9, &[]));
    let g = imp(&m).unwrap();
    let AttrValue::Graph(then_g) = &g.nodes[1].attrs[0].1 else {
        panic!("no then branch")
    };
    let mul = &then_g.nodes[0];
    assert_eq!(vname(then_g, mul.inputs[0]), "a");
    assert_eq!(vname(then_g, mul.inputs[1]), "call/s");
    assert!(matches!(mul.attrs[0], (ref k, AttrValue::Int(7)) if k == "k"));
    let AttrValue::Graph(else_g) = &g.nodes[1].attrs[1].1 else {
        panic!("no else branch")
    };
    assert_eq!(else_g.value(else_g.outputs[0]).name, "a");
}

#[test]
fn fresh_names_avoid_existing_ones() {
    // The graph already uses "f1/s": the inlined temporary gets another name.
    let mut c = call("AddLeaky", "f1", &["a", "c"], &["f1/s"]);
    c.attribute = vec![attr_f("alpha", 0.1)];
    let mut m = with_functions(
        vec![c, node("Neg", "n", &["f1/s"], &["out"])],
        vec![add_leaky()],
    );
    m.graph.as_mut().unwrap().output = vec![vi("out", 1, &["3"])];
    let g = imp(&m).unwrap();
    assert_eq!(vname(&g, g.nodes[0].outputs[0]), "f1/s_1");
    assert_eq!(vname(&g, g.nodes[1].outputs[0]), "f1/s");
}
