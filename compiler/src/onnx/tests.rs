//! Tests of loading, import and tensor conversion (functions: `tests_functions`).

use super::proto::{
    attribute_proto::AttributeType, tensor_shape_proto::dimension, type_proto, AttributeProto,
    GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto, TensorShapeProto,
    TypeProto, ValueInfoProto,
};
use super::*;
use crate::ir::{AttrValue, Dim};
use crate::tensor::{DType, Tensor};
use std::sync::atomic::{AtomicUsize, Ordering};

// ---- builders (also used by tests_functions) ----

pub(super) fn opset(domain: &str, v: i64) -> OperatorSetIdProto {
    OperatorSetIdProto {
        domain: Some(domain.into()),
        version: Some(v),
    }
}

/// A tensor ValueInfo; dims: a number, "?" (unknown) or a symbol name.
pub(super) fn vi(name: &str, elem: i32, dims: &[&str]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| tensor_shape_proto::Dimension {
            value: match (*d, d.parse::<i64>()) {
                (_, Ok(v)) => Some(dimension::Value::DimValue(v)),
                ("?", _) => None,
                (p, _) => Some(dimension::Value::DimParam(p.into())),
            },
            ..Default::default()
        })
        .collect();
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(elem),
                shape: Some(TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}
use super::proto::tensor_shape_proto;

pub(super) fn node(op: &str, name: &str, inputs: &[&str], outputs: &[&str]) -> NodeProto {
    NodeProto {
        op_type: Some(op.into()),
        name: Some(name.into()),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

pub(super) fn attr(name: &str, ty: AttributeType) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(ty as i32),
        ..Default::default()
    }
}

pub(super) fn attr_i(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        i: Some(v),
        ..attr(name, AttributeType::Int)
    }
}

pub(super) fn attr_f(name: &str, v: f32) -> AttributeProto {
    AttributeProto {
        f: Some(v),
        ..attr(name, AttributeType::Float)
    }
}

pub(super) fn attr_g(name: &str, g: GraphProto) -> AttributeProto {
    AttributeProto {
        g: Some(g),
        ..attr(name, AttributeType::Graph)
    }
}

pub(super) fn f32_tensor(name: &str, dims: &[i64], v: &[f32]) -> TensorProto {
    TensorProto {
        name: Some(name.into()),
        dims: dims.to_vec(),
        data_type: Some(1),
        float_data: v.to_vec(),
        ..Default::default()
    }
}

pub(super) fn graph(
    nodes: Vec<NodeProto>,
    inputs: Vec<ValueInfoProto>,
    outputs: Vec<ValueInfoProto>,
) -> GraphProto {
    GraphProto {
        name: Some("g".into()),
        node: nodes,
        input: inputs,
        output: outputs,
        ..Default::default()
    }
}

pub(super) fn model(g: GraphProto) -> ModelProto {
    ModelProto {
        ir_version: Some(8),
        opset_import: vec![opset("", 17)],
        graph: Some(g),
        ..Default::default()
    }
}

pub(super) fn imp(m: &ModelProto) -> Result<Graph> {
    import(m, Path::new("."))
}

pub(super) fn err_of<T: std::fmt::Debug>(r: Result<T>) -> String {
    r.expect_err("expected an error").to_string()
}

/// A fresh empty folder under the system temp dir.
pub(super) fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "kiln-onnx-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn value_id(g: &Graph, name: &str) -> crate::ir::ValueId {
    crate::ir::ValueId(g.values.iter().position(|v| v.name == name).unwrap() as u32)
}

/// A small valid model with an initializer, an attribute and an If subgraph.
pub(super) fn sample_model() -> ModelProto {
    let then_g = graph(
        vec![node("Relu", "r", &["y"], &["t"])],
        vec![],
        vec![vi("t", 1, &["N", "3"])],
    );
    let else_g = graph(
        vec![node("Neg", "n", &["y"], &["e"])],
        vec![],
        vec![vi("e", 1, &["N", "3"])],
    );
    let mut iff = node("If", "if", &["c"], &["z"]);
    iff.attribute = vec![attr_g("then_branch", then_g), attr_g("else_branch", else_g)];
    let mut add = node("Add", "add", &["x", "w"], &["y"]);
    add.attribute = vec![attr_i("dummy", 3), attr_f("alpha", 0.5)];
    let mut g = graph(
        vec![add, iff],
        vec![vi("x", 1, &["N", "3"]), vi("c", 9, &[])],
        vec![vi("z", 1, &["N", "3"])],
    );
    g.initializer = vec![f32_tensor("w", &[3], &[1.0, 2.0, 3.0])];
    model(g)
}

// ---- load ----

#[test]
fn load_missing_file_is_io_error() {
    let e = load(Path::new("/nonexistent/kiln/model.onnx")).unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e}");
}

#[test]
fn load_garbage_is_model_error() {
    let e = load_bytes(&[0xff, 0xff, 0xff, 0xff, 0x0f]).unwrap_err();
    assert!(
        matches!(&e, Error::Model(m) if m.contains("cannot decode")),
        "{e}"
    );
    let d = temp_dir("garbage");
    let p = d.join("model.onnx");
    std::fs::write(&p, b"\x0a\x05abc").unwrap(); // truncated field
    let e = load(&p).unwrap_err();
    assert!(
        matches!(&e, Error::Model(m) if m.contains("model.onnx")),
        "{e}"
    );
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn load_and_import_sample() {
    let d = temp_dir("sample");
    let p = d.join("model.onnx");
    std::fs::write(&p, sample_model().encode_to_vec()).unwrap();
    let (m, dir) = load(&p).unwrap();
    assert_eq!(dir, d);
    let g = import(&m, &dir).unwrap();
    assert_eq!(g.nodes.len(), 2);
    assert_eq!(g.inputs.len(), 2);
    assert_eq!(g.syms, vec!["N".to_string()]);
    let w = value_id(&g, "w");
    assert_eq!(
        g.value(w).konst,
        Some(Tensor::from_f32(vec![3], &[1.0, 2.0, 3.0]))
    );
    assert!(!g.inputs.contains(&w));
    let iff = &g.nodes[1];
    assert_eq!(iff.opset, 17);
    let Some((_, AttrValue::Graph(then_g))) = iff.attrs.first() else {
        panic!("no then_branch");
    };
    // The outer value `y` is a value of the subgraph with no producer.
    assert_eq!(then_g.nodes.len(), 1);
    let y = value_id(then_g, "y");
    assert_eq!(then_g.nodes[0].inputs, vec![Some(y)]);
    assert!(then_g.value(y).konst.is_none());
    assert!(matches!(g.nodes[0].attrs[0], (ref k, AttrValue::Int(3)) if k == "dummy"));
    assert!(
        matches!(g.nodes[0].attrs[1], (ref k, AttrValue::Float(v)) if k == "alpha" && v == 0.5)
    );
    std::fs::remove_dir_all(&d).unwrap();
}

// ---- import ----

fn relu_model() -> ModelProto {
    model(graph(
        vec![node("Relu", "r", &["x"], &["y"])],
        vec![vi("x", 1, &["N"])],
        vec![vi("y", 1, &["N"])],
    ))
}

#[test]
fn ir_versions() {
    for (v, ok) in [
        (None, false),
        (Some(0), false),
        (Some(2), false),
        (Some(3), true),
    ] {
        let mut m = relu_model();
        m.ir_version = v;
        assert_eq!(imp(&m).is_ok(), ok, "{v:?}");
    }
    for (v, ok) in [(Some(14), true), (Some(15), false), (Some(-1), false)] {
        let mut m = relu_model();
        m.ir_version = v;
        assert_eq!(imp(&m).is_ok(), ok, "{v:?}");
    }
    let mut m = relu_model();
    m.ir_version = None;
    assert!(err_of(imp(&m)).contains("no ir_version"));
    m.ir_version = Some(99);
    assert!(err_of(imp(&m)).contains("unsupported IR version 99"));
    m.ir_version = Some(8);
    m.graph = None;
    assert!(err_of(imp(&m)).contains("no graph"));
}

#[test]
fn opset_imports() {
    let mut m = relu_model();
    m.opset_import = vec![opset("ai.onnx", 13), opset("ai.onnx.ml", 3)];
    let g = imp(&m).unwrap();
    assert_eq!(g.opsets.get(""), Some(&13));
    assert_eq!(g.opsets.get("ai.onnx.ml"), Some(&3));
    assert_eq!(g.nodes[0].opset, 13);
    m.opset_import = vec![];
    assert!(err_of(imp(&m)).contains("imports no opset"));
    m.opset_import = vec![opset("", 13), opset("ai.onnx", 14)];
    assert!(err_of(imp(&m)).contains("twice"));
    m.opset_import = vec![opset("", 0)];
    assert!(err_of(imp(&m)).contains("invalid opset version"));
    // Only ai.onnx.ml imported: a default-domain node has no opset.
    m.opset_import = vec![opset("ai.onnx.ml", 1)];
    let e = err_of(imp(&m));
    assert!(
        e.contains("node r (Relu)") && e.contains("not imported"),
        "{e}"
    );
    // An ai.onnx.ml node with an ai.onnx.ml opset is fine.
    let mut m = relu_model();
    m.opset_import = vec![opset("ai.onnx.ml", 1)];
    m.graph.as_mut().unwrap().node[0].domain = Some("ai.onnx.ml".into());
    let g = imp(&m).unwrap();
    assert_eq!(
        (g.nodes[0].domain.as_str(), g.nodes[0].opset),
        ("ai.onnx.ml", 1)
    );
    // A node of an unknown domain.
    m.graph.as_mut().unwrap().node[0].domain = Some("com.example".into());
    let e = err_of(imp(&m));
    assert!(
        e.contains("node r (com.example::Relu)") && e.contains("'com.example'"),
        "{e}"
    );
}

#[test]
fn input_types() {
    let mut seq = vi("s", 1, &[]);
    seq.r#type = Some(TypeProto {
        value: Some(type_proto::Value::SequenceType(Box::new(
            type_proto::Sequence { elem_type: None },
        ))),
        ..Default::default()
    });
    let mut noshape = vi("ns", 1, &[]);
    if let Some(TypeProto {
        value: Some(type_proto::Value::TensorType(t)),
        ..
    }) = &mut noshape.r#type
    {
        t.shape = None;
    }
    let m = model(graph(
        vec![],
        vec![
            vi("a", 1, &["N", "?", "4", "?"]),
            vi("b", 7, &["unk__0", "N", "?"]),
            vi("u", 0, &["2"]),
            seq,
            noshape,
        ],
        vec![vi("a", 1, &["N", "?", "4", "?"])],
    ));
    let g = imp(&m).unwrap();
    assert_eq!(g.syms, vec!["N", "unk__1", "unk__2", "unk__0", "unk__3"]);
    let ty = g.value(g.inputs[0]).ty.clone().unwrap();
    assert_eq!(ty.dtype, DType::F32);
    let n = Dim::sym(crate::kir::SymId(0));
    assert_eq!(ty.shape[0], n);
    assert_eq!(ty.shape[1], Dim::sym(crate::kir::SymId(1)));
    assert_eq!(ty.shape[2], Dim::known(4));
    assert_eq!(g.value(g.inputs[1]).ty.as_ref().unwrap().dtype, DType::I64);
    for i in 2..5 {
        assert!(g.value(g.inputs[i]).ty.is_none(), "input {i}");
    }
    // Same input as output: one value, in both lists.
    assert_eq!(g.outputs, vec![g.inputs[0]]);
    assert_eq!(g.values.len(), 5);

    let bad = |v: ValueInfoProto| imp(&model(graph(vec![], vec![v], vec![])));
    let e = err_of(bad(vi("x", 99, &["1"])));
    assert!(
        e.contains("graph input 'x'") && e.contains("unknown element type 99"),
        "{e}"
    );
    let e = err_of(bad(vi("x", 1, &["-3"])));
    assert!(
        e.contains("graph input 'x'") && e.contains("negative"),
        "{e}"
    );
    let e = bad(vi("x", 1, &["1099511627777"])).unwrap_err();
    assert!(matches!(e, Error::Limit(_)), "{e}");
    let dup = model(graph(
        vec![],
        vec![vi("x", 1, &[]), vi("x", 1, &[])],
        vec![],
    ));
    assert!(err_of(imp(&dup)).contains("declared twice"));
}

#[test]
fn initializers() {
    let mut g = graph(
        vec![node("Add", "add", &["x", "b"], &["y"])],
        vec![vi("x", 1, &["3"]), vi("b", 1, &["3"])],
        vec![vi("y", 1, &["3"])],
    );
    g.initializer = vec![
        f32_tensor("b", &[3], &[1.0, 2.0, 3.0]),
        f32_tensor("c", &[1], &[4.0]),
    ];
    let gr = imp(&model(g.clone())).unwrap();
    let b = value_id(&gr, "b");
    let c = value_id(&gr, "c");
    assert!(gr.inputs.contains(&b) && !gr.inputs.contains(&c));
    assert!(gr.value(b).konst.is_none());
    assert_eq!(
        gr.defaults.get(&b),
        Some(&Tensor::from_f32(vec![3], &[1.0, 2.0, 3.0]))
    );
    assert_eq!(gr.value(c).konst, Some(Tensor::from_f32(vec![1], &[4.0])));
    assert!(!gr.defaults.contains_key(&c));

    // IR 3: initializers listed as inputs are constants.
    let mut m3 = model(g.clone());
    m3.ir_version = Some(3);
    let gr = imp(&m3).unwrap();
    let b = value_id(&gr, "b");
    assert_eq!(gr.inputs, vec![value_id(&gr, "x")]);
    assert!(gr.defaults.is_empty());
    assert_eq!(
        gr.value(b).konst,
        Some(Tensor::from_f32(vec![3], &[1.0, 2.0, 3.0]))
    );

    let mut g2 = g.clone();
    g2.initializer.push(f32_tensor("c", &[1], &[5.0]));
    assert!(err_of(imp(&model(g2))).contains("initializer 'c' is defined twice"));
    let mut g2 = g.clone();
    g2.initializer[1].float_data.clear();
    assert!(err_of(imp(&model(g2))).contains("tensor 'c'"));
    let mut g2 = g.clone();
    g2.initializer[1].name = None;
    assert!(err_of(imp(&model(g2))).contains("no name"));
    let mut g2 = g;
    g2.sparse_initializer.push(Default::default());
    assert!(err_of(imp(&model(g2))).contains("sparse initializer"));
}

#[test]
fn nodes_order_names_and_outputs() {
    // Unnamed node, omitted optional input and output.
    let mut clip = node("Clip", "", &["x", "", "hi"], &["y", ""]);
    clip.name = None;
    let mut g = graph(
        vec![node("Neg", "n", &["x"], &["hi"]), clip],
        vec![vi("x", 1, &["3"])],
        vec![vi("y", 1, &["3"])],
    );
    let gr = imp(&model(g.clone())).unwrap();
    assert_eq!(gr.nodes[1].name, "Clip_1");
    assert_eq!(gr.nodes[1].inputs[1], None);
    assert_eq!(gr.nodes[1].outputs, vec![Some(value_id(&gr, "y")), None]);
    assert_eq!(
        gr.producers()[value_id(&gr, "y").0 as usize],
        Some(crate::ir::NodeId(1))
    );

    // Not topologically sorted.
    g.node.swap(0, 1);
    let e = imp(&model(g.clone())).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, Error::Node(_)));
    assert!(
        msg.starts_with("node Clip_0 (Clip, opset 17): input 'hi' is not defined")
            && msg.contains("node n produces it later"),
        "{msg}"
    );
    // Not defined at all.
    let m = model(graph(
        vec![node("Relu", "n1", &["foo"], &["y"])],
        vec![],
        vec![vi("y", 1, &[])],
    ));
    assert_eq!(
        err_of(imp(&m)),
        "node n1 (Relu, opset 17): input 'foo' is not defined"
    );
    // Produced twice; shadowing an input or an initializer.
    let m = model(graph(
        vec![
            node("Relu", "a", &["x"], &["y"]),
            node("Neg", "b", &["x"], &["y"]),
        ],
        vec![vi("x", 1, &[])],
        vec![vi("y", 1, &[])],
    ));
    assert!(err_of(imp(&m)).contains("node b (Neg, opset 17): output 'y' is already produced"));
    let m = model(graph(
        vec![node("Relu", "a", &["x"], &["x"])],
        vec![vi("x", 1, &[])],
        vec![],
    ));
    assert!(err_of(imp(&m)).contains("output 'x' is a graph input"));
    let mut g = graph(
        vec![node("Relu", "a", &["x"], &["w"])],
        vec![vi("x", 1, &[])],
        vec![],
    );
    g.initializer.push(f32_tensor("w", &[], &[1.0]));
    assert!(err_of(imp(&model(g))).contains("output 'w' is an initializer"));
    // Undefined graph output; node without op_type.
    let m = model(graph(vec![], vec![], vec![vi("z", 1, &[])]));
    assert!(err_of(imp(&m)).contains("graph output 'z' is not defined"));
    let mut m = relu_model();
    m.graph.as_mut().unwrap().node[0].op_type = None;
    assert!(err_of(imp(&m)).contains("no op_type"));
}

#[test]
fn attributes_every_type() {
    let sub = graph(
        vec![node("Identity", "i", &["x"], &["o"])],
        vec![],
        vec![vi("o", 1, &[])],
    );
    let t = f32_tensor("", &[1], &[2.0]);
    let a = |name: &str, ty: AttributeType| attr(name, ty);
    let attrs = vec![
        attr_f("f", 1.5),
        attr_i("i", -3),
        AttributeProto {
            s: Some(b"hi".to_vec()),
            ..a("s", AttributeType::String)
        },
        AttributeProto {
            t: Some(t.clone()),
            ..a("t", AttributeType::Tensor)
        },
        attr_g("g", sub.clone()),
        AttributeProto {
            floats: vec![1.0, 2.0],
            ..a("fs", AttributeType::Floats)
        },
        AttributeProto {
            ints: vec![1, 2, 3],
            ..a("is", AttributeType::Ints)
        },
        AttributeProto {
            strings: vec![b"a".to_vec()],
            ..a("ss", AttributeType::Strings)
        },
        AttributeProto {
            tensors: vec![t.clone(), t],
            ..a("ts", AttributeType::Tensors)
        },
        AttributeProto {
            graphs: vec![sub.clone(), sub],
            ..a("gs", AttributeType::Graphs)
        },
        a("sp", AttributeType::SparseTensor),
        a("sps", AttributeType::SparseTensors),
        a("tp", AttributeType::TypeProto),
        a("tps", AttributeType::TypeProtos),
        // No value: the type's default.
        a("i0", AttributeType::Int),
    ];
    let mut n = node("Custom", "c", &["x"], &["y"]);
    n.attribute = attrs;
    let mut m = model(graph(vec![n], vec![vi("x", 1, &[])], vec![vi("y", 1, &[])]));
    let g = imp(&m).unwrap();
    let kinds: Vec<(&str, &str)> = g.nodes[0]
        .attrs
        .iter()
        .map(|(k, v)| (k.as_str(), v.kind()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("f", "float"),
            ("i", "int"),
            ("s", "string"),
            ("t", "tensor"),
            ("g", "graph"),
            ("fs", "floats"),
            ("is", "ints"),
            ("ss", "strings"),
            ("ts", "tensors"),
            ("gs", "graphs"),
            ("sp", "sparse_tensor"),
            ("sps", "sparse_tensors"),
            ("tp", "type_proto"),
            ("tps", "type_protos"),
            ("i0", "int"),
        ]
    );
    let at = |k: &str| &g.nodes[0].attrs.iter().find(|(n, _)| n == k).unwrap().1;
    assert!(matches!(at("f"), AttrValue::Float(v) if *v == 1.5));
    assert!(matches!(at("i"), AttrValue::Int(-3)));
    assert!(matches!(at("s"), AttrValue::String(s) if s == b"hi"));
    assert!(matches!(at("t"), AttrValue::Tensor(t) if *t == Tensor::from_f32(vec![1], &[2.0])));
    assert!(matches!(at("is"), AttrValue::Ints(v) if *v == vec![1, 2, 3]));
    assert!(matches!(at("gs"), AttrValue::Graphs(v) if v.len() == 2 && v[1].nodes.len() == 1));
    assert!(matches!(at("i0"), AttrValue::Int(0)));

    let node_attrs = &mut m.graph.as_mut().unwrap().node[0].attribute;
    node_attrs.push(attr_i("i", 1));
    assert!(err_of(imp(&m)).contains("attribute 'i' is given twice"));
    let node_attrs = &mut m.graph.as_mut().unwrap().node[0].attribute;
    node_attrs.pop();
    node_attrs.push(attr("u", AttributeType::Undefined));
    assert!(err_of(imp(&m)).contains("node c (Custom, opset 17), attribute 'u'"));
    let node_attrs = &mut m.graph.as_mut().unwrap().node[0].attribute;
    node_attrs.pop();
    node_attrs.push(AttributeProto {
        r#type: Some(42),
        ..attr("u", AttributeType::Int)
    });
    assert!(err_of(imp(&m)).contains("unknown attribute type 42"));
    let node_attrs = &mut m.graph.as_mut().unwrap().node[0].attribute;
    node_attrs.pop();
    node_attrs.push(AttributeProto {
        ref_attr_name: Some("alpha".into()),
        ..attr("r", AttributeType::Float)
    });
    assert!(err_of(imp(&m)).contains("outside a function body"));
    let node_attrs = &mut m.graph.as_mut().unwrap().node[0].attribute;
    node_attrs.pop();
    node_attrs.push(a("t2", AttributeType::Tensor));
    assert!(err_of(imp(&m)).contains("TENSOR with no tensor"));
}

#[test]
fn subgraph_scopes() {
    // The subgraph may use x (input) and a (produced before the If), not b (produced after).
    let body = |used: &str| {
        graph(
            vec![node("Add", "s", &["x", used], &["o"])],
            vec![],
            vec![vi("o", 1, &[])],
        )
    };
    let make = |used: &str| {
        let mut iff = node("If", "if", &["c"], &["r"]);
        iff.attribute = vec![
            attr_g("then_branch", body(used)),
            attr_g("else_branch", body("x")),
        ];
        model(graph(
            vec![
                node("Neg", "n", &["x"], &["a"]),
                iff,
                node("Neg", "m", &["x"], &["b"]),
            ],
            vec![vi("x", 1, &[]), vi("c", 9, &[])],
            vec![vi("r", 1, &[]), vi("b", 1, &[])],
        ))
    };
    let g = imp(&make("a")).unwrap();
    let AttrValue::Graph(sub) = &g.nodes[1].attrs[0].1 else {
        panic!()
    };
    assert_eq!(
        sub.values
            .iter()
            .map(|v| v.name.as_str())
            .collect::<Vec<_>>(),
        ["x", "a", "o"]
    );
    assert!(sub.inputs.is_empty() && sub.producers()[1].is_none());
    let e = err_of(imp(&make("b")));
    assert!(
        e.contains("input 'b' is not defined") && e.contains("subgraph 'g'"),
        "{e}"
    );
    assert!(err_of(imp(&make("nowhere"))).contains("input 'nowhere' is not defined"));
    // A subgraph output that is an outer value.
    let mut iff = node("If", "if", &["c"], &["r"]);
    let pass = graph(vec![], vec![], vec![vi("x", 1, &[])]);
    iff.attribute = vec![
        attr_g("then_branch", pass.clone()),
        attr_g("else_branch", pass),
    ];
    let m = model(graph(
        vec![iff],
        vec![vi("x", 1, &[]), vi("c", 9, &[])],
        vec![vi("r", 1, &[])],
    ));
    assert!(imp(&m).is_ok());
}

#[test]
fn deep_subgraph_nesting_is_limited() {
    let mut g = graph(vec![], vec![], vec![]);
    for _ in 0..80 {
        let mut n = node("Loop", "l", &[], &[]);
        n.attribute = vec![attr_g("body", g)];
        g = graph(vec![n], vec![], vec![]);
    }
    let m = model(g);
    // Too deep for prost to decode, or for import to accept: an error either way.
    match load_bytes(&m.encode_to_vec()) {
        Ok(m2) => assert!(matches!(imp(&m2), Err(Error::Limit(_)))),
        Err(e) => assert!(matches!(e, Error::Model(_))),
    }
    assert!(matches!(imp(&m), Err(Error::Limit(_))));
}

// ---- robustness ----

/// Decodes and imports arbitrary bytes; only errors are acceptable, never a panic.
fn try_bytes(b: &[u8], dir: &Path) -> bool {
    match load_bytes(b) {
        Ok(m) => import(&m, dir).is_ok(),
        Err(_) => false,
    }
}

#[test]
fn fuzz_truncated_and_bit_flipped_models() {
    let dir = temp_dir("fuzz");
    let good = sample_model().encode_to_vec();
    assert!(try_bytes(&good, &dir));
    for n in 0..good.len() {
        try_bytes(&good[..n], &dir);
    }
    for i in 0..good.len() {
        for bit in 0..8 {
            let mut b = good.clone();
            b[i] ^= 1 << bit;
            try_bytes(&b, &dir);
        }
    }
    // Random multi-byte corruption (deterministic LCG).
    let mut s: u64 = 0x9e3779b97f4a7c15;
    let mut next = || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 33) as usize
    };
    for _ in 0..3000 {
        let mut b = good.clone();
        for _ in 0..1 + next() % 4 {
            let i = next() % b.len();
            b[i] = next() as u8;
        }
        let cut = b.len() - next() % 3;
        try_bytes(&b[..cut], &dir);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `KILN_MODELS`, or `<workspace>/../shared/models`.
pub(crate) fn models_dir() -> PathBuf {
    match std::env::var_os("KILN_MODELS") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/models"),
    }
}

#[test]
fn real_models_load_and_import() {
    let root = models_dir();
    if !root.is_dir() {
        println!("skipped: ../shared/models absent");
        return;
    }
    let mut n = 0;
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    for d in dirs {
        let p = d.join("model.onnx");
        if !p.is_file() {
            continue;
        }
        let (m, dir) = load(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let g = import(&m, &dir).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert!(!g.nodes.is_empty() && !g.inputs.is_empty() && !g.outputs.is_empty());
        for &i in &g.inputs {
            assert!(
                g.value(i).ty.is_some(),
                "{}: input without type",
                p.display()
            );
        }
        n += 1;
    }
    println!("imported {n} models");
}
