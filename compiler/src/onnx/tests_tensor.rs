//! Tests of `TensorProto` conversion: every data field and type, inconsistent and absurd
//! tensors, external data (including paths escaping the model's folder).

use super::proto::{tensor_proto::Segment, StringStringEntryProto, TensorProto};
use super::tests::{err_of, graph, model, temp_dir, vi};
use super::*;
use crate::tensor::{DType, Tensor, TensorData};

// ---- tensors ----

fn raw(code: i32, dims: &[i64], raw: Vec<u8>) -> TensorProto {
    TensorProto {
        name: Some("t".into()),
        dims: dims.to_vec(),
        data_type: Some(code),
        raw_data: Some(raw),
        ..Default::default()
    }
}

fn typed(code: i32, dims: &[i64]) -> TensorProto {
    TensorProto {
        name: Some("t".into()),
        dims: dims.to_vec(),
        data_type: Some(code),
        ..Default::default()
    }
}

fn conv(t: &TensorProto) -> Result<Tensor> {
    tensor_from_proto(t, Path::new("."))
}

fn conv_bytes(t: &TensorProto) -> Vec<u8> {
    conv(t).unwrap().bytes().to_vec()
}

#[test]
fn raw_data_every_dtype_round_trips() {
    for code in 1..=26 {
        let dtype = DType::from_onnx(code).unwrap();
        if dtype == DType::String {
            continue;
        }
        let n = tensor::packed_len(dtype, 5).unwrap() as usize;
        let bytes: Vec<u8> = (0..n).map(|i| (i * 37 + 1) as u8).collect();
        let t = conv(&raw(code, &[5], bytes.clone())).unwrap();
        assert_eq!((t.dtype, t.shape.clone()), (dtype, vec![5]));
        assert_eq!(t.bytes(), &bytes[..], "{dtype}");
        let back = conv(&tensor_to_proto(&t)).unwrap();
        assert_eq!(back, t);
        // One byte too many or too few.
        let mut long = bytes.clone();
        long.push(0);
        assert!(err_of(conv(&raw(code, &[5], long))).contains("raw_data has"));
        assert!(conv(&raw(code, &[5], bytes[1..].to_vec())).is_err());
    }
}

#[test]
fn typed_fields_every_form() {
    let mut t = typed(1, &[2]);
    t.float_data = vec![1.5, -2.0];
    assert_eq!(conv(&t).unwrap(), Tensor::from_f32(vec![2], &[1.5, -2.0]));
    let mut t = typed(14, &[2]); // complex64: 2 floats each
    t.float_data = vec![1.0, 2.0, 3.0, 4.0];
    assert_eq!(conv_bytes(&t).len(), 16);
    t.float_data.pop();
    assert!(err_of(conv(&t)).contains("expected 4"));
    let mut t = typed(11, &[2]);
    t.double_data = vec![0.25, -8.0];
    assert_eq!(
        conv_bytes(&t),
        [0.25f64.to_le_bytes(), (-8.0f64).to_le_bytes()].concat()
    );
    let mut t = typed(15, &[1]); // complex128
    t.double_data = vec![1.0, 2.0];
    assert_eq!(conv_bytes(&t).len(), 16);
    let mut t = typed(7, &[2]);
    t.int64_data = vec![-1, 5];
    assert_eq!(conv(&t).unwrap(), Tensor::from_i64(vec![2], &[-1, 5]));
    let mut t = typed(13, &[2]);
    t.uint64_data = vec![u64::MAX, 1];
    assert_eq!(
        conv_bytes(&t),
        [u64::MAX.to_le_bytes(), 1u64.to_le_bytes()].concat()
    );
    let mut t = typed(12, &[2]); // uint32 in uint64_data
    t.uint64_data = vec![u32::MAX as u64, 7];
    assert_eq!(
        conv_bytes(&t),
        [u32::MAX.to_le_bytes(), 7u32.to_le_bytes()].concat()
    );
    t.uint64_data[1] = 1 << 32;
    assert!(err_of(conv(&t)).contains("out of range"));
    let mut t = typed(6, &[2]);
    t.int32_data = vec![-7, 9];
    assert_eq!(
        conv_bytes(&t),
        [(-7i32).to_le_bytes(), 9i32.to_le_bytes()].concat()
    );

    // int32_data carrying narrower types: (code, values, expected bytes, an out-of-range value)
    type Case = (i32, Vec<i32>, Vec<u8>, Option<i32>);
    let cases: Vec<Case> = vec![
        (
            5,
            vec![-32768, 32767],
            vec![0x00, 0x80, 0xff, 0x7f],
            Some(32768),
        ), // int16
        (4, vec![65535, 1], vec![0xff, 0xff, 1, 0], Some(-1)), // uint16
        (
            10,
            vec![0x3c00, 0xbc00],
            vec![0x00, 0x3c, 0x00, 0xbc],
            Some(65536),
        ), // float16
        (16, vec![0x3f80, 0], vec![0x80, 0x3f, 0, 0], Some(-40000)), // bfloat16
        (3, vec![-128, 127], vec![0x80, 0x7f], Some(128)),     // int8
        (2, vec![255, 0], vec![255, 0], Some(256)),            // uint8
        (9, vec![0, 1], vec![0, 1], None),                     // bool
        (17, vec![0x38, 0x7f], vec![0x38, 0x7f], Some(300)),   // float8e4m3fn
        (18, vec![1, 2], vec![1, 2], None),
        (19, vec![1, 2], vec![1, 2], None),
        (20, vec![1, 2], vec![1, 2], None),
        (24, vec![127, 128], vec![127, 128], None), // float8e8m0
    ];
    for (code, vals, want, bad) in cases {
        let mut t = typed(code, &[2]);
        t.int32_data = vals;
        assert_eq!(conv_bytes(&t), want, "code {code}");
        if let Some(b) = bad {
            t.int32_data[0] = b;
            assert!(err_of(conv(&t)).contains("out of range"), "code {code}");
        }
        t.int32_data.push(0);
        assert!(err_of(conv(&t)).contains("entries"), "code {code}");
    }
    // Bool: any non-zero is true.
    let mut t = typed(9, &[3]);
    t.int32_data = vec![0, 5, -1];
    assert_eq!(conv_bytes(&t), vec![0, 1, 1]);

    // Packed sub-byte types: one int32 per packed byte.
    for (code, n, packed) in [(21, 3, 2), (22, 3, 2), (23, 4, 2), (25, 5, 2), (26, 4, 1)] {
        let mut t = typed(code, &[n]);
        t.int32_data = (0..packed).map(|i| 0x21 + i).collect();
        let tensor = conv(&t).unwrap();
        assert_eq!(tensor.shape, vec![n as u64]);
        assert_eq!(
            tensor.bytes(),
            &(0..packed).map(|i| 0x21 + i as u8).collect::<Vec<_>>()[..]
        );
        t.int32_data.push(0);
        assert!(conv(&t).is_err(), "code {code}");
    }

    let mut t = typed(8, &[2]);
    t.string_data = vec![b"ab".to_vec(), vec![]];
    let s = conv(&t).unwrap();
    assert_eq!(s.data, TensorData::Strings(vec![b"ab".to_vec(), vec![]]));
    assert_eq!(conv(&tensor_to_proto(&s)).unwrap(), s);
    t.raw_data = Some(vec![]);
    assert!(conv(&t).is_err());

    // A scalar and an empty tensor.
    let mut t = typed(1, &[]);
    t.float_data = vec![3.0];
    assert_eq!(conv(&t).unwrap(), Tensor::from_f32(vec![], &[3.0]));
    let t = conv(&typed(1, &[0, 3])).unwrap();
    assert_eq!((t.shape.clone(), t.bytes().len()), (vec![0, 3], 0));
}

#[test]
fn inconsistent_tensors_rejected() {
    // Data in the wrong field, or in two fields.
    let mut t = typed(1, &[1]);
    t.int64_data = vec![1];
    assert!(err_of(conv(&t)).contains("int64_data"));
    let mut t = typed(1, &[1]);
    t.float_data = vec![1.0];
    t.raw_data = Some(vec![0; 4]);
    assert!(err_of(conv(&t)).contains("both raw_data and float_data"));
    // No data at all for a non-empty tensor.
    assert!(err_of(conv(&typed(1, &[2]))).contains("0 entries"));
    // Unknown data types.
    for code in [0, 27, 99, -1] {
        assert!(err_of(conv(&typed(code, &[]))).contains("unknown data type"));
    }
    let mut t = typed(1, &[1]);
    t.float_data = vec![1.0];
    t.segment = Some(Segment {
        begin: Some(0),
        end: Some(1),
    });
    assert!(err_of(conv(&t)).contains("segmented tensors are not supported"));
    let mut t = typed(1, &[0]);
    t.data_location = Some(7);
    assert!(err_of(conv(&t)).contains("data_location"));
}

#[test]
fn absurd_dims_rejected() {
    let e = conv(&typed(1, &[2, -1])).unwrap_err();
    assert!(
        matches!(&e, Error::Model(m) if m.contains("negative") && m.contains("'t'")),
        "{e}"
    );
    for dims in [
        vec![1 << 21, 1 << 21],
        vec![1 << 62, 1 << 62, 0],
        vec![i64::MAX],
        vec![(1 << 40) + 1],
    ] {
        let e = conv(&raw(1, &dims, vec![])).unwrap_err();
        assert!(
            matches!(&e, Error::Limit(m) if m.contains("'t'")),
            "{dims:?}: {e}"
        );
    }
    // At the element limit: over the default --max-tensor-bytes (16 GiB), refused before
    // any data is looked at.
    let e = conv(&raw(1, &[1 << 40], vec![0; 4])).unwrap_err();
    assert!(
        matches!(&e, Error::Limit(m) if m.contains("max-tensor-bytes")),
        "{e}"
    );
    // Within the limits (4 GiB): refused for lack of data, without allocating it.
    let e = conv(&raw(1, &[1 << 30], vec![0; 4])).unwrap_err();
    assert!(matches!(e, Error::Model(_)), "{e}");
    let e = conv(&typed(1, &[1 << 15, 1 << 15])).unwrap_err();
    assert!(matches!(e, Error::Model(_)), "{e}");
}

// ---- external data ----

fn ext(loc: &str, offset: Option<&str>, length: Option<&str>) -> TensorProto {
    let kv = |k: &str, v: &str| StringStringEntryProto {
        key: Some(k.into()),
        value: Some(v.into()),
    };
    let mut t = typed(1, &[3]);
    t.data_location = Some(1);
    t.external_data.push(kv("location", loc));
    if let Some(o) = offset {
        t.external_data.push(kv("offset", o));
    }
    if let Some(l) = length {
        t.external_data.push(kv("length", l));
    }
    t
}

#[test]
fn external_data() {
    let d = temp_dir("ext");
    let vals: Vec<u8> = [1.0f32, 2.0, 3.0]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let mut file = vec![0xaa; 16];
    file.extend_from_slice(&vals);
    std::fs::write(d.join("weights.bin"), &file).unwrap();
    std::fs::create_dir(d.join("sub")).unwrap();
    std::fs::write(d.join("sub/w.bin"), &vals).unwrap();
    let want = Tensor::from_f32(vec![3], &[1.0, 2.0, 3.0]);
    let get = |t: &TensorProto| tensor_from_proto(t, &d);

    assert_eq!(
        get(&ext("weights.bin", Some("16"), Some("12"))).unwrap(),
        want
    );
    assert_eq!(get(&ext("weights.bin", Some("16"), None)).unwrap(), want);
    assert_eq!(get(&ext("./sub/w.bin", None, None)).unwrap(), want);
    assert!(err_of(get(&ext("weights.bin", None, None))).contains("28 bytes, expected 12"));
    assert!(err_of(get(&ext("weights.bin", Some("16"), Some("8")))).contains("expected 12"));
    assert!(err_of(get(&ext("weights.bin", Some("100"), None))).contains("past the end"));
    assert!(err_of(get(&ext("weights.bin", Some("20"), Some("12")))).contains("past the end"));
    assert!(err_of(get(&ext("weights.bin", Some("x"), None))).contains("invalid offset"));
    assert!(err_of(get(&ext("sub", None, None))).contains("not a regular file"));
    for bad in [
        "../weights.bin",
        "sub/../weights.bin",
        "sub/../../etc/passwd",
    ] {
        let e = err_of(get(&ext(bad, None, None)));
        assert!(
            e.contains("leaves the model directory") && e.contains("'t'"),
            "{bad}: {e}"
        );
    }
    for bad in ["/etc/passwd", "\\etc\\passwd"] {
        assert!(
            err_of(get(&ext(bad, None, None))).contains("absolute"),
            "{bad}"
        );
    }
    let e = get(&ext("missing.bin", None, None)).unwrap_err();
    assert!(
        matches!(&e, Error::Io { msg, .. } if msg.contains("'t'")),
        "{e}"
    );
    let mut t = ext("weights.bin", Some("16"), None);
    t.raw_data = Some(vals.clone());
    assert!(err_of(get(&t)).contains("inline data"));
    let mut t = ext("weights.bin", Some("16"), None);
    t.external_data
        .retain(|e| e.key.as_deref() != Some("location"));
    assert!(err_of(get(&t)).contains("no location"));

    // Through a model file: the model's folder is the base.
    let mut g = graph(vec![], vec![], vec![vi("w", 1, &["3"])]);
    let mut w = ext("weights.bin", Some("16"), Some("12"));
    w.name = Some("w".into());
    g.initializer.push(w);
    std::fs::write(d.join("model.onnx"), model(g).encode_to_vec()).unwrap();
    let (m, dir) = load(&d.join("model.onnx")).unwrap();
    let g = import(&m, &dir).unwrap();
    assert_eq!(g.value(g.outputs[0]).konst, Some(want));
    std::fs::remove_dir_all(&d).unwrap();
}

#[cfg(unix)]
#[test]
fn external_data_symlink_out_of_model_dir() {
    let d = temp_dir("ext-link");
    let outside = temp_dir("ext-outside");
    let vals: Vec<u8> = [1.0f32, 2.0, 3.0]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    std::fs::write(outside.join("secret.bin"), &vals).unwrap();
    std::os::unix::fs::symlink(outside.join("secret.bin"), d.join("link.bin")).unwrap();
    std::os::unix::fs::symlink(&outside, d.join("dirlink")).unwrap();
    for loc in ["link.bin", "dirlink/secret.bin"] {
        let e = err_of(tensor_from_proto(&ext(loc, None, None), &d));
        assert!(e.contains("outside the model directory"), "{loc}: {e}");
    }
    // A symlink that stays inside is fine.
    std::fs::write(d.join("real.bin"), &vals).unwrap();
    std::os::unix::fs::symlink(d.join("real.bin"), d.join("inside.bin")).unwrap();
    assert!(tensor_from_proto(&ext("inside.bin", None, None), &d).is_ok());
    std::fs::remove_dir_all(&d).unwrap();
    std::fs::remove_dir_all(&outside).unwrap();
}

#[test]
fn save_tensor_pb_round_trips() {
    let d = temp_dir("pb");
    let t = Tensor::from_i64(vec![2, 2], &[1, -2, 3, -4]);
    let p = d.join("t.pb");
    save_tensor_pb(&p, &t).unwrap();
    let back = TensorProto::decode(std::fs::read(&p).unwrap().as_slice()).unwrap();
    assert_eq!(tensor_from_proto(&back, &d).unwrap(), t);
    std::fs::remove_dir_all(&d).unwrap();
}
