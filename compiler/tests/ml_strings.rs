//! String tensors, maps and the ai.onnx.ml ops that use them (LabelEncoder, CategoryMapper,
//! OneHotEncoder with cats_strings, classifiers with string labels, ZipMap, DictVectorizer,
//! CastMap, FeatureVectorizer), on every backend, against values computed here.

mod common;

use common::*;
use kiln::kir::Labels;
use kiln::onnx::proto::{
    attribute_proto::AttributeType, type_proto, AttributeProto, ModelProto, NodeProto,
    OperatorSetIdProto, TypeProto, ValueInfoProto,
};
use kiln::tensor::{DType, Tensor, TensorData};

fn strs(shape: &[u64], v: &[&str]) -> Tensor {
    Tensor {
        dtype: DType::String,
        shape: shape.to_vec(),
        data: TensorData::Strings(v.iter().map(|s| s.as_bytes().to_vec()).collect()),
    }
}

fn as_strs(t: &Tensor) -> Vec<String> {
    match &t.data {
        TensorData::Strings(v) => v
            .iter()
            .map(|s| String::from_utf8(s.clone()).unwrap())
            .collect(),
        _ => panic!("not a string tensor: {}", t.dtype),
    }
}

fn i64s(t: &Tensor) -> Vec<i64> {
    t.to_i64_vec()
}

/// A strings attribute.
fn ss(name: &str, v: &[&str]) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Strings as i32),
        strings: v.iter().map(|s| s.as_bytes().to_vec()).collect(),
        ..Default::default()
    }
}

/// An ai.onnx.ml node with extra (string) attributes.
fn ml(
    op: &str,
    ins: &[&str],
    outs: &[&str],
    attrs: Vec<(&str, A)>,
    extra: Vec<AttributeProto>,
) -> NodeProto {
    let mut n = node(op, &format!("{op}_0"), ins, outs, attrs);
    n.domain = Some("ai.onnx.ml".into());
    n.attribute.extend(extra);
    n
}

/// A model importing ai.onnx.ml at `ml_opset`.
fn ml_model(
    ml_opset: i64,
    inputs: Vec<ValueInfoProto>,
    outputs: Vec<ValueInfoProto>,
    nodes: Vec<NodeProto>,
) -> ModelProto {
    let mut m = model(17, inputs, outputs, nodes, vec![]);
    m.opset_import.push(OperatorSetIdProto {
        domain: Some("ai.onnx.ml".into()),
        version: Some(ml_opset),
    });
    m
}

fn map_vi(name: &str, k: DType, v: DType) -> ValueInfoProto {
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::MapType(Box::new(type_proto::Map {
                key_type: Some(k.to_onnx()),
                value_type: Some(Box::new(TypeProto {
                    value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                        elem_type: Some(v.to_onnx()),
                        shape: None,
                    })),
                    ..Default::default()
                })),
            }))),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// An output declared without a type (ZipMap's sequence of maps).
fn untyped(name: &str) -> ValueInfoProto {
    ValueInfoProto {
        name: Some(name.into()),
        ..Default::default()
    }
}

#[test]
fn label_encoder_string_to_int_and_back() {
    let keys = ["apple", "banana", "cherry"];
    let vals = [10i64, 20, 30];
    let m = ml_model(
        2,
        vec![vi("x", DType::String, &[D::S("N")])],
        vec![
            vi("y", DType::I64, &[D::S("N")]),
            vi("z", DType::String, &[D::S("N")]),
        ],
        vec![
            ml(
                "LabelEncoder",
                &["x"],
                &["y"],
                vec![
                    ("values_int64s", A::Is(vals.to_vec())),
                    ("default_int64", A::I(-7)),
                ],
                vec![ss("keys_strings", &keys)],
            ),
            {
                let mut n = ml(
                    "LabelEncoder",
                    &["y"],
                    &["z"],
                    vec![
                        ("keys_int64s", A::Is(vals.to_vec())),
                        ("default_string", A::S("none")),
                    ],
                    vec![ss("values_strings", &["A", "B", "C"])],
                );
                n.name = Some("LabelEncoder_1".into());
                n
            },
        ],
    );
    let c = compile(&m).unwrap();
    let input = ["banana", "kiwi", "apple", "", "cherry", "kiwi"];
    let out = run_all(&c, &[strs(&[6], &input)]);
    let want_y: Vec<i64> = input
        .iter()
        .map(|s| keys.iter().position(|k| k == s).map_or(-7, |i| vals[i]))
        .collect();
    assert_eq!(i64s(&out[0]), want_y);
    let names = ["A", "B", "C"];
    let want_z: Vec<String> = want_y
        .iter()
        .map(|v| {
            vals.iter()
                .position(|k| k == v)
                .map_or("none", |i| names[i])
                .to_string()
        })
        .collect();
    assert_eq!(as_strs(&out[1]), want_z);
    // The table holds every string the model names, sorted.
    let t = &c.program.strings.table;
    assert!(t.windows(2).all(|w| w[0] < w[1]));
    for s in keys.iter().chain(&names).chain(&["none"]) {
        assert!(t.contains(&s.as_bytes().to_vec()), "{s}");
    }
    assert_eq!(c.program.strings.inputs, vec![true]);
    assert_eq!(c.program.strings.outputs, vec![false, true]);
}

#[test]
fn label_encoder_opset1_and_tensor_forms() {
    // Opset 1: string -> index, with default_int64.
    let classes = ["x", "y", "z"];
    let m = ml_model(
        1,
        vec![vi("s", DType::String, &[D::K(2), D::K(2)])],
        vec![vi("i", DType::I64, &[D::K(2), D::K(2)])],
        vec![ml(
            "LabelEncoder",
            &["s"],
            &["i"],
            vec![("default_int64", A::I(42))],
            vec![ss("classes_strings", &classes)],
        )],
    );
    let c = compile(&m).unwrap();
    let out = run_all(&c, &[strs(&[2, 2], &["z", "q", "x", "y"])]);
    assert_eq!(i64s(&out[0]), vec![2, 42, 0, 1]);

    // Opset 4: float keys (NaN matching NaN) to string values, tensor attributes.
    let keys = Tensor::from_f32(vec![3], &[0.5, f32::NAN, -1.0]);
    let vals = strs(&[3], &["half", "nan", "minus one"]);
    let m = ml_model(
        4,
        vec![vi("f", DType::F32, &[D::K(5)])],
        vec![vi("o", DType::String, &[D::K(5)])],
        vec![ml(
            "LabelEncoder",
            &["f"],
            &["o"],
            vec![
                ("keys_tensor", A::T(keys)),
                ("values_tensor", A::T(vals)),
                ("default_tensor", A::T(strs(&[1], &["other"]))),
            ],
            vec![],
        )],
    );
    let c = compile(&m).unwrap();
    let x = Tensor::from_f32(vec![5], &[-1.0, 0.5, f32::NAN, 2.0, 0.0]);
    let out = run_all(&c, &[x]);
    assert_eq!(
        as_strs(&out[0]),
        vec!["minus one", "half", "nan", "other", "other"]
    );
}

#[test]
fn category_mapper_and_one_hot_strings() {
    let cats = ["red", "green", "blue"];
    let ints = vec![3i64, 5, 9];
    let m = ml_model(
        1,
        vec![
            vi("c", DType::String, &[D::K(4)]),
            vi("k", DType::I64, &[D::K(3)]),
        ],
        vec![
            vi("ci", DType::I64, &[D::K(4)]),
            vi("ks", DType::String, &[D::K(3)]),
            vi("oh", DType::F32, &[D::K(4), D::K(3)]),
        ],
        vec![
            ml(
                "CategoryMapper",
                &["c"],
                &["ci"],
                vec![
                    ("cats_int64s", A::Is(ints.clone())),
                    ("default_int64", A::I(-1)),
                ],
                vec![ss("cats_strings", &cats)],
            ),
            {
                let mut n = ml(
                    "CategoryMapper",
                    &["k"],
                    &["ks"],
                    vec![
                        ("cats_int64s", A::Is(ints.clone())),
                        ("default_string", A::S("??")),
                    ],
                    vec![ss("cats_strings", &cats)],
                );
                n.name = Some("CategoryMapper_1".into());
                n
            },
            ml(
                "OneHotEncoder",
                &["c"],
                &["oh"],
                vec![("zeros", A::I(1))],
                vec![ss("cats_strings", &cats)],
            ),
        ],
    );
    let c = compile(&m).unwrap();
    let input = ["blue", "pink", "red", "green"];
    let out = run_all(
        &c,
        &[strs(&[4], &input), Tensor::from_i64(vec![3], &[9, 4, 3])],
    );
    let want: Vec<i64> = input
        .iter()
        .map(|s| cats.iter().position(|c| c == s).map_or(-1, |i| ints[i]))
        .collect();
    assert_eq!(i64s(&out[0]), want);
    assert_eq!(as_strs(&out[1]), vec!["blue", "??", "red"]);
    let mut oh = vec![0f32; 12];
    for (r, s) in input.iter().enumerate() {
        if let Some(i) = cats.iter().position(|c| c == s) {
            oh[r * 3 + i] = 1.0;
        }
    }
    assert_eq!(to_f32(&out[2]), oh);
}

#[test]
fn classifier_string_labels_and_zipmap() {
    // Three classes, two features: score_c = x . w_c + b_c; label = argmax.
    let w = [1.0f32, 0.0, 0.0, 1.0, -1.0, -1.0];
    let b = [0.0f32, 0.5, 0.0];
    let labels = ["setosa", "versicolor", "virginica"];
    let m = ml_model(
        1,
        vec![vi("x", DType::F32, &[D::S("N"), D::K(2)])],
        vec![vi("label", DType::String, &[D::S("N")]), untyped("probs")],
        vec![
            ml(
                "LinearClassifier",
                &["x"],
                &["label", "scores"],
                vec![
                    ("coefficients", A::Fs(w.to_vec())),
                    ("intercepts", A::Fs(b.to_vec())),
                    ("post_transform", A::S("SOFTMAX")),
                ],
                vec![ss("classlabels_strings", &labels)],
            ),
            ml(
                "ZipMap",
                &["scores"],
                &["probs"],
                vec![],
                vec![ss("classlabels_strings", &labels)],
            ),
        ],
    );
    let c = compile(&m).unwrap();
    let x = f32s(&[5, 2], rnd);
    let out = run_all(&c, std::slice::from_ref(&x));
    let xv = to_f32(&x);
    let probs = to_f32(&out[1]);
    assert_eq!(out[1].shape, vec![5, 3]);
    let got_labels = as_strs(&out[0]);
    for r in 0..5 {
        let s: Vec<f32> = (0..3)
            .map(|k| xv[r * 2] * w[k * 2] + xv[r * 2 + 1] * w[k * 2 + 1] + b[k])
            .collect();
        let best = (0..3).fold(0, |a, k| if s[k] > s[a] { k } else { a });
        assert_eq!(got_labels[r], labels[best], "row {r}");
        let m = s.iter().cloned().fold(f32::MIN, f32::max);
        let e: Vec<f32> = s.iter().map(|v| (v - m).exp()).collect();
        let sum: f32 = e.iter().sum();
        for k in 0..3 {
            assert!(
                (probs[r * 3 + k] - e[k] / sum).abs() < 1e-6,
                "row {r} class {k}"
            );
        }
    }
    // ZipMap's labels, in column order, as string ids.
    let si = &c.program.strings;
    let Some(Labels::Strings(ids)) = si.labels_of(1) else {
        panic!("no labels for the ZipMap output: {:?}", si.labels)
    };
    let names: Vec<&[u8]> = ids
        .iter()
        .map(|i| si.table[*i as usize].as_slice())
        .collect();
    assert_eq!(
        names,
        labels.iter().map(|s| s.as_bytes()).collect::<Vec<_>>()
    );
    // The header declares the string API and the label accessors.
    let h = kiln::backend::header::emit_header(&c.program);
    for needle in [
        "typedef struct kiln_str",
        "#define t_STRING_COUNT 3",
        "t_intern(const char *ptr, size_t len)",
        "t_intern_all(const kiln_str *in, size_t n, int32_t *ids)",
        "#define t_probs_LABEL_COUNT 3",
        "t_probs_label(size_t c)",
    ] {
        assert!(h.contains(needle), "header lacks {needle}:\n{h}");
    }
    let (rs, _) = kiln::backend::rust::emit_rust(&c.program);
    for needle in [
        "pub const STRINGS",
        "pub fn intern(",
        "pub fn label(",
        "pub const PROBS_LABELS",
    ] {
        assert!(rs.contains(needle), "Rust lacks {needle}");
    }
}

#[test]
fn dict_vectorizer_cast_map_feature_vectorizer() {
    // DictVectorizer over a string-keyed map input.
    let vocab = ["a", "b", "c", "d"];
    let m = ml_model(
        1,
        vec![map_vi("m", DType::String, DType::F32)],
        vec![vi("y", DType::F32, &[D::K(1), D::K(4)])],
        vec![ml(
            "DictVectorizer",
            &["m"],
            &["y"],
            vec![],
            vec![ss("string_vocabulary", &vocab)],
        )],
    );
    let c = compile(&m).unwrap();
    let names: Vec<&str> = c.program.inputs.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, vec!["m.keys", "m.values"]);
    let out = run_all(
        &c,
        &[
            strs(&[3], &["c", "zz", "a"]),
            Tensor::from_f32(vec![3], &[3.0, 9.0, 1.5]),
        ],
    );
    assert_eq!(to_f32(&out[0]), vec![1.5, 0.0, 3.0, 0.0]);

    // DictVectorizer with int64 keys and int64 values.
    let m = ml_model(
        1,
        vec![map_vi("m", DType::I64, DType::I64)],
        vec![vi("y", DType::I64, &[D::K(1), D::K(3)])],
        vec![ml(
            "DictVectorizer",
            &["m"],
            &["y"],
            vec![("int64_vocabulary", A::Is(vec![7, 1, 4]))],
            vec![],
        )],
    );
    let c = compile(&m).unwrap();
    let out = run_all(
        &c,
        &[
            Tensor::from_i64(vec![2], &[4, 7]),
            Tensor::from_i64(vec![2], &[-2, 5]),
        ],
    );
    assert_eq!(i64s(&out[0]), vec![5, 0, -2]);

    // CastMap DENSE: values in key order; SPARSE: by key up to max_map.
    for (form, want) in [
        ("DENSE", vec![2.0f32, 3.0, 1.0]),
        ("SPARSE", vec![0.0, 2.0, 0.0, 3.0, 0.0, 1.0]),
    ] {
        let n = if form == "DENSE" { 3 } else { 6 };
        let m = ml_model(
            1,
            vec![map_vi("m", DType::I64, DType::F32)],
            vec![vi("y", DType::F32, &[D::K(1), D::K(n)])],
            vec![ml(
                "CastMap",
                &["m"],
                &["y"],
                vec![
                    ("cast_to", A::S("TO_FLOAT")),
                    ("map_form", A::S(form)),
                    ("max_map", A::I(6)),
                ],
                vec![],
            )],
        );
        let c = compile(&m).unwrap();
        let out = run_all(
            &c,
            &[
                Tensor::from_i64(vec![3], &[5, 1, 3]),
                Tensor::from_f32(vec![3], &[1.0, 2.0, 3.0]),
            ],
        );
        assert_eq!(to_f32(&out[0]), want, "{form}");
    }

    // FeatureVectorizer: columns cut or zero-padded to inputdimensions.
    let m = ml_model(
        1,
        vec![
            vi("a", DType::I64, &[D::K(2), D::K(3)]),
            vi("b", DType::F64, &[D::K(2), D::K(1)]),
        ],
        vec![vi("y", DType::F32, &[D::K(2), D::K(4)])],
        vec![ml(
            "FeatureVectorizer",
            &["a", "b"],
            &["y"],
            vec![("inputdimensions", A::Is(vec![2, 2]))],
            vec![],
        )],
    );
    let c = compile(&m).unwrap();
    let b = Tensor::from_bytes(
        DType::F64,
        vec![2, 1],
        [0.5f64, -4.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect(),
    );
    let out = run_all(&c, &[Tensor::from_i64(vec![2, 3], &[1, 2, 3, 4, 5, 6]), b]);
    assert_eq!(
        to_f32(&out[0]),
        vec![1.0, 2.0, 0.5, 0.0, 4.0, 5.0, -4.0, 0.0]
    );
}

#[test]
fn strings_pass_through_views() {
    let m = ml_model(
        2,
        vec![vi("x", DType::String, &[D::K(2), D::K(2)])],
        vec![vi("y", DType::I64, &[D::K(4)])],
        vec![
            node("Reshape", "r", &["x", "shape"], &["flat"], vec![]),
            node("Identity", "i", &["flat"], &["flat2"], vec![]),
            ml(
                "LabelEncoder",
                &["flat2"],
                &["y"],
                vec![("values_int64s", A::Is(vec![1, 2]))],
                vec![ss("keys_strings", &["p", "q"])],
            ),
        ],
    );
    let mut m = m;
    m.graph
        .as_mut()
        .unwrap()
        .initializer
        .push(init("shape", &Tensor::from_i64(vec![1], &[4])));
    let c = compile(&m).unwrap();
    let out = run_all(&c, &[strs(&[2, 2], &["q", "p", "r", "q"])]);
    assert_eq!(i64s(&out[0]), vec![2, 1, -1, 2]);
}

#[test]
fn unsupported_forms_are_clear_errors() {
    let m = ml_model(
        1,
        vec![map_vi("m", DType::I64, DType::F32)],
        vec![vi("y", DType::String, &[D::K(1), D::K(1)])],
        vec![ml(
            "CastMap",
            &["m"],
            &["y"],
            vec![("cast_to", A::S("TO_STRING"))],
            vec![],
        )],
    );
    let e = compile(&m).err().expect("TO_STRING is refused").to_string();
    assert!(
        e.contains("CastMap_0") && e.contains("CastMap") && e.contains("cast_to"),
        "{e}"
    );

    let m = ml_model(
        2,
        vec![vi("x", DType::String, &[D::K(1)])],
        vec![vi("y", DType::I64, &[D::K(1)])],
        vec![ml(
            "LabelEncoder",
            &["x"],
            &["y"],
            vec![("values_int64s", A::Is(vec![1]))],
            vec![],
        )],
    );
    let e = compile(&m).err().expect("keys are required").to_string();
    assert!(e.contains("LabelEncoder_0") && e.contains("keys"), "{e}");

    // Keys of the wrong type for the input.
    let m = ml_model(
        2,
        vec![vi("x", DType::I64, &[D::K(1)])],
        vec![vi("y", DType::I64, &[D::K(1)])],
        vec![ml(
            "LabelEncoder",
            &["x"],
            &["y"],
            vec![("values_int64s", A::Is(vec![1]))],
            vec![ss("keys_strings", &["a"])],
        )],
    );
    let e = compile(&m).err().expect("key type mismatch").to_string();
    assert!(e.contains("LabelEncoder_0") && e.contains("keys"), "{e}");
}

fn scalar_f32(v: f32) -> kiln::onnx::proto::TensorProto {
    kiln::onnx::tensor_to_proto(&Tensor::from_f32(vec![], &[v]))
}

/// A `MapProto` string → float with these entries.
fn map_proto(entries: &[(&str, f32)]) -> kiln::onnx::proto::MapProto {
    use kiln::onnx::proto::{MapProto, SequenceProto};
    MapProto {
        key_type: Some(DType::String.to_onnx()),
        string_keys: entries.iter().map(|(k, _)| k.as_bytes().to_vec()).collect(),
        values: Some(SequenceProto {
            elem_type: Some(1),
            tensor_values: entries.iter().map(|(_, v)| scalar_f32(*v)).collect(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// `kiln check` reads string tensors, map inputs and sequence-of-map (ZipMap) references from
/// `.pb` test data and compares them on every backend.
#[test]
fn check_compares_strings_maps_and_zipmap_references() {
    use kiln::onnx::proto::SequenceProto;
    use prost::Message;
    let dir = std::env::temp_dir().join(format!("kiln-ml-strings-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let labels = ["b", "a", "c"];
    // DictVectorizer(map) -> LinearClassifier(string labels, SOFTMAX) -> ZipMap.
    let w = [1.0f32, -1.0, 0.5, 0.0, 2.0, -0.5, -1.0, 0.25, 1.0];
    let m = ml_model(
        1,
        vec![map_vi("m", DType::String, DType::F32)],
        vec![vi("label", DType::String, &[D::K(1)]), untyped("probs")],
        vec![
            ml(
                "DictVectorizer",
                &["m"],
                &["x"],
                vec![],
                vec![ss("string_vocabulary", &["u", "v", "w"])],
            ),
            ml(
                "LinearClassifier",
                &["x"],
                &["label", "scores"],
                vec![
                    ("coefficients", A::Fs(w.to_vec())),
                    ("intercepts", A::Fs(vec![0.0, 0.1, -0.1])),
                    ("post_transform", A::S("SOFTMAX")),
                ],
                vec![ss("classlabels_strings", &labels)],
            ),
            ml(
                "ZipMap",
                &["scores"],
                &["probs"],
                vec![],
                vec![ss("classlabels_strings", &labels)],
            ),
        ],
    );
    let ds = dir.join("test_data_set_0");
    std::fs::create_dir_all(&ds).unwrap();
    std::fs::write(dir.join("model.onnx"), bytes(&m)).unwrap();
    let input = [("w", 2.0f32), ("u", 0.5), ("zz", 7.0)];
    std::fs::write(ds.join("input_0.pb"), map_proto(&input).encode_to_vec()).unwrap();
    // The expected values, computed here.
    let x = [0.5f32, 0.0, 2.0];
    let s: Vec<f32> = (0..3)
        .map(|k| (0..3).map(|j| x[j] * w[k * 3 + j]).sum::<f32>() + [0.0, 0.1, -0.1][k])
        .collect();
    let best = (0..3).fold(0, |a, k| if s[k] > s[a] { k } else { a });
    let mx = s.iter().cloned().fold(f32::MIN, f32::max);
    let e: Vec<f32> = s.iter().map(|v| (v - mx).exp()).collect();
    let sum: f32 = e.iter().sum();
    let label = strs(&[1], &[labels[best]]);
    let mut lp = kiln::onnx::tensor_to_proto(&label);
    lp.name = Some("label".into());
    std::fs::write(ds.join("output_0.pb"), lp.encode_to_vec()).unwrap();
    // The map's keys in another order than the model's columns.
    let entries: Vec<(&str, f32)> = [2usize, 0, 1]
        .iter()
        .map(|&k| (labels[k], e[k] / sum))
        .collect();
    let seq = SequenceProto {
        name: Some("probs".into()),
        elem_type: Some(4),
        map_values: vec![map_proto(&entries)],
        ..Default::default()
    };
    std::fs::write(ds.join("output_1.pb"), seq.encode_to_vec()).unwrap();

    let cases = kiln::testdata::find_cases(&dir).unwrap();
    assert_eq!(cases.len(), 1);
    let results = kiln::check::run_case(
        &cases[0],
        "strings",
        &backends(),
        kiln::check::Tolerance::default(),
        false,
        0,
    );
    for r in &results {
        assert!(
            matches!(r.outcome, kiln::check::Outcome::Pass { .. }),
            "{}: {:?}",
            r.backend,
            r.outcome
        );
    }
    // A wrong label is reported as a mismatch.
    let wrong = strs(&[1], &[labels[(best + 1) % 3]]);
    std::fs::write(
        ds.join("output_0.pb"),
        kiln::onnx::tensor_to_proto(&wrong).encode_to_vec(),
    )
    .unwrap();
    let results = kiln::check::run_case(
        &cases[0],
        "strings",
        &[kiln::run::Backend::Interp],
        kiln::check::Tolerance::default(),
        false,
        0,
    );
    match &results[0].outcome {
        kiln::check::Outcome::Fail(m) => assert!(m.contains("output 0"), "{m}"),
        o => panic!("expected a mismatch, got {o:?}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The header's string API, compiled and run by a C compiler (`-Wall -Wextra -Werror`).
#[test]
fn c_header_string_api_works() {
    let labels = ["versicolor", "setosa", "virginica"];
    let m = ml_model(
        1,
        vec![vi("x", DType::F32, &[D::S("N"), D::K(1)])],
        vec![vi("label", DType::String, &[D::S("N")]), untyped("probs")],
        vec![
            ml(
                "LinearClassifier",
                &["x"],
                &["label", "scores"],
                vec![("coefficients", A::Fs(vec![1.0, 2.0, 3.0]))],
                vec![ss("classlabels_strings", &labels)],
            ),
            ml(
                "ZipMap",
                &["scores"],
                &["probs"],
                vec![],
                vec![ss("classlabels_strings", &labels)],
            ),
        ],
    );
    let c = compile(&m).unwrap();
    let dir = std::env::temp_dir().join(format!("kiln-ml-strings-c-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("t.h"),
        kiln::backend::header::emit_header(&c.program),
    )
    .unwrap();
    // The table is sorted: setosa 0, versicolor 1, virginica 2; ZipMap's columns follow the
    // attribute's order.
    let main = r#"
#include "t.h"
#include <stdio.h>
#include <string.h>
static int eq(int32_t id, const char *s) {
    return t_string(id) && t_string_len(id) == strlen(s) && memcmp(t_string(id), s, strlen(s)) == 0;
}
int main(void) {
    kiln_str in[4] = {{"virginica", 9}, {"nope", 4}, {"setosa", 6}, {"virginic", 8}};
    int32_t ids[4];
    if (t_STRING_COUNT != 3) return 1;
    if (t_intern("versicolor", 10) != 1 || t_intern("", 0) != t_STRING_UNKNOWN) return 2;
    if (t_intern("virginicaa", 10) != t_STRING_UNKNOWN) return 3;
    t_intern_all(in, 4, ids);
    if (ids[0] != 2 || ids[1] != -3 || ids[2] != 0 || ids[3] != -5) return 4;
    if (!eq(0, "setosa") || !eq(2, "virginica") || t_string(3) != 0 || t_string(-2) != 0) return 5;
    if (t_probs_LABEL_COUNT != 3) return 6;
    if (!eq(t_probs_label(0), "versicolor") || !eq(t_probs_label(1), "setosa")) return 7;
    if (!eq(t_probs_label(2), "virginica") || t_probs_label(3) != t_STRING_UNKNOWN) return 8;
    puts("ok");
    return 0;
}
"#;
    std::fs::write(dir.join("main.c"), main).unwrap();
    let cc = std::env::var("CC")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "cc".into());
    let bin = dir.join("main");
    let out = std::process::Command::new(cc)
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&bin)
        .arg(dir.join("main.c"))
        .output()
        .expect("cc runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = std::process::Command::new(&bin).output().unwrap();
    assert!(run.status.success(), "exit {:?}", run.status.code());
    assert_eq!(String::from_utf8_lossy(&run.stdout).trim(), "ok");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Converters leave every input's batch dim unnamed, so FeatureVectorizer's inputs carry
/// different row symbols: equal counts run, unequal ones return a status on every backend.
#[test]
fn feature_vectorizer_rows_checked_at_run_time() {
    let m = ml_model(
        1,
        vec![
            vi("a", DType::F32, &[D::S("n"), D::K(2)]),
            vi("b", DType::F32, &[D::S("m"), D::K(1)]),
        ],
        vec![vi("y", DType::F32, &[D::S("n"), D::K(3)])],
        vec![ml(
            "FeatureVectorizer",
            &["a", "b"],
            &["y"],
            vec![("inputdimensions", A::Is(vec![2, 1]))],
            vec![],
        )],
    );
    let c = compile(&m).unwrap();
    let a = Tensor::from_f32(vec![2, 2], &[1.0, 2.0, 3.0, 4.0]);
    let out = run_all(&c, &[a.clone(), Tensor::from_f32(vec![2, 1], &[5.0, 6.0])]);
    assert_eq!(to_f32(&out[0]), vec![1.0, 2.0, 5.0, 3.0, 4.0, 6.0]);
    for b in backends() {
        let e = run_on(
            &c,
            b,
            &[a.clone(), Tensor::from_f32(vec![3, 1], &[5.0, 6.0, 7.0])],
        )
        .expect_err("3 rows against 2 must fail");
        assert!(e.to_string().contains("dimension"), "{b}: {e}");
    }
}
