//! ONNX test data: the layout of the ONNX backend tests and of `../shared/models/*`
//! (`<case>/model.onnx`, `<case>/test_data_set_<k>/input_<i>.pb`, `output_<i>.pb`), and the
//! `.pb` values themselves.
//!
//! Most values are serialized `TensorProto`s. Non-tensor reference outputs (ZipMap's sequence
//! of maps, sequence ops, optionals) are `SequenceProto` / `MapProto` / `OptionalProto` from
//! `onnx-data.proto`; nothing in the file says which message it holds, and protobuf decoding is
//! lenient (unknown fields are skipped, a string parses as packed varints), so almost any bytes
//! decode as a `TensorProto`. `load_value_pb` therefore classifies by this rule:
//!
//! 1. If the bytes decode as a `TensorProto` that converts to a valid tensor (known data type,
//!    data consistent with its dims, no segment), it is a tensor — unless field 1 is
//!    length-delimited and the bytes are also a strictly valid `SequenceProto` or `MapProto`
//!    (next point). Field 1 is `dims` in a tensor, which every writer (protobuf C++/Python,
//!    prost) encodes as plain varints since it is a proto2 field without `packed`, while it is
//!    the (length-delimited) `name` in the containers; so a real tensor is never reclassified.
//! 2. Otherwise, if the bytes are a strictly valid `SequenceProto` it is `Other("sequence")`,
//!    if a strictly valid `MapProto` `Other("map")`. Strict means: every field has a number and
//!    wire type the message defines, `elem_type` (`key_type`) is set and valid, only the value
//!    field matching `elem_type` is used, and the elements are valid too (recursively; tensors
//!    must have a known data type).
//! 3. Otherwise it is an error (the tensor's error is reported).
//!
//! An `OptionalProto` holding a value is byte-for-byte a one-element `SequenceProto` (same
//! field numbers and types), so optionals are reported as `"sequence"` too.

use crate::error::{Error, Result};
use crate::onnx::proto::{MapProto, SequenceProto, TensorProto};
use crate::onnx::tensor_from_proto;
use crate::tensor::{DType, Tensor};
use prost::Message;
use std::path::{Path, PathBuf};

/// A reference value from a `.pb` file.
#[derive(Clone, Debug, PartialEq)]
pub enum TestValue {
    Tensor(Tensor),
    /// A map: its keys and its values (one element per key), each a rank-1 tensor.
    Map {
        keys: Tensor,
        values: Tensor,
    },
    /// A sequence of tensors or maps.
    Seq(Vec<TestValue>),
    /// A value Kiln does not compare yet: `"sequence"` (of sparse tensors or optionals) or
    /// `"map"` (of non-scalar values).
    Other(String),
}

impl TestValue {
    /// "tensor", "map", "sequence", or the `Other` kind.
    pub fn kind(&self) -> &str {
        match self {
            TestValue::Tensor(_) => "tensor",
            TestValue::Map { .. } => "map",
            TestValue::Seq(_) => "sequence",
            TestValue::Other(k) => k,
        }
    }
}

/// A decoded `SequenceProto` of tensors or maps (None for other element kinds).
fn decode_sequence(s: &SequenceProto, base: &Path) -> Result<Option<TestValue>> {
    let mut out = vec![];
    match s.elem_type {
        Some(1) => {
            for t in &s.tensor_values {
                out.push(TestValue::Tensor(tensor_from_proto(t, base)?));
            }
        }
        Some(4) => {
            for m in &s.map_values {
                match decode_map(m, base)? {
                    Some(v) => out.push(v),
                    None => return Ok(None),
                }
            }
        }
        Some(3) => {
            for q in &s.sequence_values {
                match decode_sequence(q, base)? {
                    Some(v) => out.push(v),
                    None => return Ok(None),
                }
            }
        }
        _ => return Ok(None),
    }
    Ok(Some(TestValue::Seq(out)))
}

/// A decoded `MapProto` whose values are one-element tensors (None otherwise).
fn decode_map(m: &MapProto, base: &Path) -> Result<Option<TestValue>> {
    let kt = m.key_type.and_then(DType::from_onnx);
    let keys = match kt {
        Some(DType::String) => Tensor {
            dtype: DType::String,
            shape: vec![m.string_keys.len() as u64],
            data: crate::tensor::TensorData::Strings(m.string_keys.clone()),
        },
        Some(DType::I64) => Tensor::from_i64(vec![m.keys.len() as u64], &m.keys),
        _ => return Ok(None),
    };
    let Some(vs) = &m.values else {
        return Ok(None);
    };
    if vs.elem_type != Some(1) {
        return Ok(None);
    }
    let mut dtype = None;
    let mut bytes = vec![];
    for t in &vs.tensor_values {
        let t = tensor_from_proto(t, base)?;
        if t.numel() != 1 || dtype.is_some_and(|d| d != t.dtype) || t.dtype == DType::String {
            return Ok(None);
        }
        dtype = Some(t.dtype);
        bytes.extend_from_slice(t.bytes());
    }
    let n = vs.tensor_values.len() as u64;
    if n != keys.numel() {
        return Ok(None);
    }
    let values = Tensor::from_bytes(dtype.unwrap_or(DType::F32), vec![n], bytes);
    Ok(Some(TestValue::Map { keys, values }))
}

/// One test case: a model and its data sets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    pub dir: PathBuf,
    pub model: PathBuf,
    /// Sorted by their number.
    pub data_sets: Vec<DataSet>,
}

/// One `test_data_set_<k>` folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataSet {
    pub dir: PathBuf,
    /// `input_<i>.pb` sorted by `i`.
    pub inputs: Vec<PathBuf>,
    /// `output_<i>.pb` sorted by `i`.
    pub outputs: Vec<PathBuf>,
}

/// Deepest folder nesting `find_cases` descends into.
const MAX_DEPTH: usize = 32;

/// Reads a `.pb` file holding a serialized `TensorProto`.
pub fn load_tensor_pb(path: &Path) -> Result<Tensor> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let t = TensorProto::decode(bytes.as_slice()).map_err(|e| {
        Error::Model(format!(
            "{}: cannot decode a TensorProto: {e}",
            path.display()
        ))
    })?;
    tensor_from_proto(&t, base_dir(path)).map_err(|e| in_file(e, path))
}

/// Reads a `.pb` reference value: a tensor, or a sequence / map (see the module doc for how
/// they are told apart).
pub fn load_value_pb(path: &Path) -> Result<TestValue> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse_value_pb(&bytes, base_dir(path)).map_err(|e| in_file(e, path))
}

fn base_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// The error with the file named (I/O errors name their own path).
fn in_file(e: Error, path: &Path) -> Error {
    match e {
        e @ Error::Io { .. } => e,
        e => crate::onnx::with_context(e, &path.display().to_string()),
    }
}

/// `load_value_pb` on in-memory bytes; `base` is the folder external data is relative to.
pub fn parse_value_pb(bytes: &[u8], base: &Path) -> Result<TestValue> {
    let Some(top) = wire_fields(bytes) else {
        return Err(Error::Model("not a protobuf message".into()));
    };
    let packed_dims = top
        .iter()
        .any(|(f, w)| *f == 1 && matches!(w, Wire::Len(_)));
    let tensor = TensorProto::decode(bytes)
        .map_err(|e| Error::Model(format!("cannot decode a TensorProto: {e}")))
        .and_then(|t| tensor_from_proto(&t, base));
    if let (Ok(_), false) = (&tensor, packed_dims) {
        return tensor.map(TestValue::Tensor);
    }
    if is_sequence(bytes, 0) {
        let s = SequenceProto::decode(bytes)
            .map_err(|e| Error::Model(format!("cannot decode a SequenceProto: {e}")))?;
        Ok(decode_sequence(&s, base)?.unwrap_or(TestValue::Other("sequence".into())))
    } else if is_map(bytes, 0) {
        let m = MapProto::decode(bytes)
            .map_err(|e| Error::Model(format!("cannot decode a MapProto: {e}")))?;
        Ok(decode_map(&m, base)?.unwrap_or(TestValue::Other("map".into())))
    } else {
        tensor.map(TestValue::Tensor)
    }
}

/// A protobuf wire-format field value.
enum Wire<'a> {
    Varint,
    Fixed64,
    Len(&'a [u8]),
    Fixed32,
}

fn varint(b: &[u8], i: &mut usize) -> Option<u64> {
    let mut v: u64 = 0;
    for k in 0..10 {
        let byte = *b.get(*i)?;
        *i += 1;
        v |= u64::from(byte & 0x7f) << (7 * k);
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// The top-level fields of a message, or None if it is not well-formed wire data (groups are
/// rejected: ONNX uses none).
fn wire_fields(b: &[u8]) -> Option<Vec<(u64, Wire<'_>)>> {
    let mut out = vec![];
    let mut i = 0;
    while i < b.len() {
        let tag = varint(b, &mut i)?;
        let field = tag >> 3;
        if field == 0 || field > 536_870_911 {
            return None;
        }
        let w = match tag & 7 {
            0 => {
                varint(b, &mut i)?;
                Wire::Varint
            }
            1 => {
                i = i.checked_add(8).filter(|&e| e <= b.len())?;
                Wire::Fixed64
            }
            2 => {
                let len = usize::try_from(varint(b, &mut i)?).ok()?;
                let end = i.checked_add(len).filter(|&e| e <= b.len())?;
                let s = &b[i..end];
                i = end;
                Wire::Len(s)
            }
            5 => {
                i = i.checked_add(4).filter(|&e| e <= b.len())?;
                Wire::Fixed32
            }
            _ => return None,
        };
        out.push((field, w));
    }
    Some(out)
}

/// Nesting limit of the strict checks (prost's own decode limit is 100).
const MAX_NEST: usize = 64;

/// Strictly a `SequenceProto`.
fn is_sequence(b: &[u8], depth: usize) -> bool {
    if depth > MAX_NEST {
        return false;
    }
    let Some(fields) = wire_fields(b) else {
        return false;
    };
    let Ok(s) = SequenceProto::decode(b) else {
        return false;
    };
    // SequenceProto.DataType: TENSOR 1, SPARSE_TENSOR 2, SEQUENCE 3, MAP 4, OPTIONAL 5; the
    // values of each live in field elem_type + 2.
    let elem = match s.elem_type {
        Some(e @ 1..=5) => u64::try_from(e).unwrap_or(0),
        _ => return false,
    };
    fields.iter().all(|(f, w)| match (f, w) {
        (1, Wire::Len(_)) | (2, Wire::Varint) => true,
        (3..=7, Wire::Len(sub)) if *f == elem + 2 => match f {
            3 => TensorProto::decode(*sub)
                .is_ok_and(|t| DType::from_onnx(t.data_type.unwrap_or(0)).is_some()),
            5 => is_sequence(sub, depth + 1),
            6 => is_map(sub, depth + 1),
            7 => is_optional(sub, depth + 1),
            _ => true, // sparse tensors: decoded by prost above
        },
        _ => false,
    })
}

/// Strictly an `OptionalProto` (only used for elements of sequences): same field numbers and
/// wire types as a `SequenceProto` with at most one value, or empty (no value).
fn is_optional(b: &[u8], depth: usize) -> bool {
    b.is_empty() || is_sequence(b, depth)
}

/// Strictly a `MapProto`.
fn is_map(b: &[u8], depth: usize) -> bool {
    if depth > MAX_NEST {
        return false;
    }
    let Some(fields) = wire_fields(b) else {
        return false;
    };
    let Ok(m) = MapProto::decode(b) else {
        return false;
    };
    // Keys: an integer type or string.
    if !matches!(m.key_type, Some(2..=8 | 12 | 13)) {
        return false;
    }
    let wire_ok = fields.iter().all(|(f, w)| match (f, w) {
        (1 | 4, Wire::Len(_)) | (2 | 3, Wire::Varint) | (3, Wire::Len(_)) => true,
        (5, Wire::Len(sub)) => is_sequence(sub, depth + 1),
        _ => false,
    });
    let n_keys = if m.key_type == Some(8) {
        m.string_keys.len()
    } else {
        m.keys.len()
    };
    let n_values = m.values.as_ref().map_or(0, |v| {
        v.tensor_values.len()
            + v.sparse_tensor_values.len()
            + v.sequence_values.len()
            + v.map_values.len()
            + v.optional_values.len()
    });
    wire_ok && n_keys == n_values
}

/// The cases under `root`: `root` itself if it holds `model.onnx`, else every case found in its
/// subfolders (visited in name order).
pub fn find_cases(root: &Path) -> Result<Vec<Case>> {
    if !root.is_dir() {
        return Err(Error::io(root, "not a folder"));
    }
    let mut out = vec![];
    walk(root, 0, &mut out)?;
    Ok(out)
}

fn walk(dir: &Path, depth: usize, out: &mut Vec<Case>) -> Result<()> {
    let model = dir.join("model.onnx");
    if model.is_file() {
        let mut sets: Vec<(u64, PathBuf)> = numbered(dir, "test_data_set_", "", true)?;
        sets.sort();
        let mut data_sets = Vec::with_capacity(sets.len());
        for (_, d) in sets {
            let mut inputs = numbered(&d, "input_", ".pb", false)?;
            let mut outputs = numbered(&d, "output_", ".pb", false)?;
            inputs.sort();
            outputs.sort();
            data_sets.push(DataSet {
                dir: d,
                inputs: inputs.into_iter().map(|(_, p)| p).collect(),
                outputs: outputs.into_iter().map(|(_, p)| p).collect(),
            });
        }
        out.push(Case {
            dir: dir.to_path_buf(),
            model,
            data_sets,
        });
        return Ok(());
    }
    if depth >= MAX_DEPTH {
        return Ok(());
    }
    let mut subdirs: Vec<PathBuf> = entries(dir)?.into_iter().filter(|p| p.is_dir()).collect();
    subdirs.sort();
    for d in subdirs {
        walk(&d, depth + 1, out)?;
    }
    Ok(())
}

fn entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let rd = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut v = vec![];
    for e in rd {
        v.push(e.map_err(|e| Error::io(dir, e))?.path());
    }
    Ok(v)
}

/// Entries of `dir` named `<prefix><number><suffix>` (folders if `dirs`, else files), with
/// their number.
fn numbered(dir: &Path, prefix: &str, suffix: &str, dirs: bool) -> Result<Vec<(u64, PathBuf)>> {
    let mut v = vec![];
    for p in entries(dir)? {
        if p.is_dir() != dirs {
            continue;
        }
        let Some(name) = p.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let num = name
            .strip_prefix(prefix)
            .and_then(|r| r.strip_suffix(suffix))
            .filter(|r| !r.is_empty() && r.bytes().all(|c| c.is_ascii_digit()))
            .and_then(|r| r.parse::<u64>().ok());
        if let Some(n) = num {
            v.push((n, p));
        }
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx::proto::{OptionalProto, SequenceProto};
    use crate::onnx::{save_tensor_pb, tensor_to_proto};

    fn temp_dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("kiln-testdata-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn classify(b: &[u8]) -> Result<TestValue> {
        parse_value_pb(b, Path::new("."))
    }

    fn named(t: &Tensor, name: &str) -> TensorProto {
        TensorProto {
            name: Some(name.into()),
            ..tensor_to_proto(t)
        }
    }

    fn zipmap(name: &str, n: usize) -> SequenceProto {
        let map = MapProto {
            key_type: Some(7),
            keys: vec![0, 1],
            values: Some(SequenceProto {
                elem_type: Some(1),
                tensor_values: vec![
                    tensor_to_proto(&Tensor::from_f32(vec![], &[0.25])),
                    tensor_to_proto(&Tensor::from_f32(vec![], &[0.75])),
                ],
                ..Default::default()
            }),
            ..Default::default()
        };
        SequenceProto {
            name: Some(name.into()),
            elem_type: Some(4),
            map_values: vec![map; n],
            ..Default::default()
        }
    }

    #[test]
    fn tensors_are_tensors() {
        let cases = [
            Tensor::from_f32(vec![2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
            Tensor::from_f32(vec![], &[1.0]),
            Tensor::from_f32(vec![0], &[]),
            Tensor::from_i64(vec![1], &[-5]),
            Tensor {
                dtype: DType::Bool,
                shape: vec![2],
                data: crate::tensor::TensorData::Bytes(vec![1, 0]),
            },
            Tensor {
                dtype: DType::String,
                shape: vec![2],
                data: crate::tensor::TensorData::Strings(vec![b"a".to_vec(), b"bc".to_vec()]),
            },
        ];
        for t in cases {
            for name in ["", "output_label", "x"] {
                let b = named(&t, name).encode_to_vec();
                assert_eq!(
                    classify(&b).unwrap(),
                    TestValue::Tensor(t.clone()),
                    "{name}"
                );
            }
        }
        // Typed-field int8 (negative values are 10-byte varints).
        let t = TensorProto {
            dims: vec![3],
            data_type: Some(3),
            int32_data: vec![1, -2, 3],
            name: Some("i8".into()),
            ..Default::default()
        };
        let TestValue::Tensor(t) = classify(&t.encode_to_vec()).unwrap() else {
            panic!()
        };
        assert_eq!(t.bytes(), &[1, 0xfe, 3]);
    }

    #[test]
    fn containers_are_recognised() {
        let seq = |s: SequenceProto| classify(&s.encode_to_vec()).unwrap().kind().to_string();
        let sequence = "sequence".to_string();
        for name in ["output_probability", "", "x"] {
            assert_eq!(seq(zipmap(name, 3)), sequence, "{name}");
            assert_eq!(seq(zipmap(name, 0)), sequence, "{name}");
        }
        let tensors = SequenceProto {
            name: Some("s".into()),
            elem_type: Some(1),
            tensor_values: vec![tensor_to_proto(&Tensor::from_f32(vec![2], &[1.0, 2.0]))],
            ..Default::default()
        };
        assert_eq!(seq(tensors.clone()), sequence);
        let nested = SequenceProto {
            name: Some("ab".into()),
            elem_type: Some(3),
            sequence_values: vec![tensors.clone(), tensors],
            ..Default::default()
        };
        assert_eq!(seq(nested), sequence);
        let opt = OptionalProto {
            name: Some("o".into()),
            elem_type: Some(1),
            tensor_value: Some(tensor_to_proto(&Tensor::from_f32(vec![1], &[1.0]))),
            ..Default::default()
        };
        assert_eq!(classify(&opt.encode_to_vec()).unwrap().kind(), sequence);
        let map = zipmap("", 1).map_values.remove(0);
        assert_eq!(classify(&map.encode_to_vec()).unwrap().kind(), "map");
    }

    #[test]
    fn garbage_is_an_error() {
        for b in [&b""[..], b"\xff\xff", b"\x0a\x05ab", b"\x10\x63"] {
            assert!(classify(b).is_err(), "{b:?}");
        }
        // A sequence whose elem_type does not match its values.
        let mut s = zipmap("", 1);
        s.elem_type = Some(1);
        assert!(classify(&s.encode_to_vec()).is_err());
        // Fuzz: no panic.
        let good = zipmap("p", 2).encode_to_vec();
        for n in 0..good.len() {
            let _ = classify(&good[..n]);
        }
        for i in 0..good.len() {
            for bit in 0..8 {
                let mut b = good.clone();
                b[i] ^= 1 << bit;
                let _ = classify(&b);
            }
        }
    }

    #[test]
    fn files_and_cases() {
        let root = temp_dir("cases");
        // root/b/case2 and root/a/case1 (with sets 10, 2 and files 10, 2, 0).
        let c1 = root.join("a/case1");
        let c2 = root.join("b/case2");
        for c in [&c1, &c2] {
            std::fs::create_dir_all(c).unwrap();
            std::fs::write(c.join("model.onnx"), b"").unwrap();
        }
        let t = Tensor::from_f32(vec![2], &[1.0, 2.0]);
        for set in ["test_data_set_10", "test_data_set_2"] {
            let d = c1.join(set);
            std::fs::create_dir_all(&d).unwrap();
            for f in [
                "input_10.pb",
                "input_2.pb",
                "input_0.pb",
                "output_0.pb",
                "notes.txt",
            ] {
                save_tensor_pb(&d.join(f), &t).unwrap();
            }
        }
        std::fs::write(c2.join("test_data_set_0x"), b"").unwrap();
        let cases = find_cases(&root).unwrap();
        assert_eq!(cases.len(), 2);
        assert_eq!(
            (cases[0].dir.clone(), cases[1].dir.clone()),
            (c1.clone(), c2.clone())
        );
        assert_eq!(cases[0].model, c1.join("model.onnx"));
        let sets: Vec<&Path> = cases[0].data_sets.iter().map(|s| s.dir.as_path()).collect();
        assert_eq!(
            sets,
            [c1.join("test_data_set_2"), c1.join("test_data_set_10")]
        );
        let ins: Vec<String> = cases[0].data_sets[0]
            .inputs
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(ins, ["input_0.pb", "input_2.pb", "input_10.pb"]);
        assert_eq!(cases[0].data_sets[0].outputs.len(), 1);
        assert!(cases[1].data_sets.is_empty());
        // A case folder itself.
        assert_eq!(find_cases(&c1).unwrap().len(), 1);
        assert!(find_cases(&root.join("missing")).is_err());

        let p = &cases[0].data_sets[0].inputs[0];
        assert_eq!(load_tensor_pb(p).unwrap(), t);
        assert_eq!(load_value_pb(p).unwrap(), TestValue::Tensor(t));
        let z = root.join("zip.pb");
        std::fs::write(&z, zipmap("p", 1).encode_to_vec()).unwrap();
        assert_eq!(load_value_pb(&z).unwrap().kind(), "sequence");
        assert!(load_tensor_pb(&z)
            .unwrap_err()
            .to_string()
            .contains("zip.pb"));
        assert!(matches!(
            load_tensor_pb(&root.join("none.pb")),
            Err(Error::Io { .. })
        ));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn real_models_test_data() {
        let root = match std::env::var_os("KILN_MODELS") {
            Some(p) => PathBuf::from(p),
            None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/models"),
        };
        if !root.is_dir() {
            println!("skipped: ../shared/models absent");
            return;
        }
        let cases = find_cases(&root).unwrap();
        assert!(!cases.is_empty());
        for c in &cases {
            assert!(!c.data_sets.is_empty(), "{}", c.dir.display());
            for s in &c.data_sets {
                assert!(!s.inputs.is_empty() && !s.outputs.is_empty());
                for p in s.inputs.iter().chain(&s.outputs) {
                    let v = load_value_pb(p).unwrap_or_else(|e| panic!("{e}"));
                    assert!(matches!(v, TestValue::Tensor(_)), "{}", p.display());
                }
            }
        }
    }
}
