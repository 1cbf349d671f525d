//! `TensorProto` ⇄ `Tensor`.
//!
//! Reading accepts every ONNX data type Kiln's `DType` knows and every way ONNX stores data:
//! `raw_data` (little-endian), the typed fields (`float_data`, `int32_data` — which carries
//! one int8/uint8/int16/uint16/bool/float16/bfloat16/float8 element per entry, or one packed
//! byte of 4-bit / 2-bit elements —, `int64_data`, `double_data`, `uint64_data` for uint32 and
//! uint64, `string_data`) and external files. float16/bfloat16/float8 keep their bit patterns;
//! 4-bit and 2-bit types keep their packed bytes.
//!
//! Invariants: nothing is allocated from a size read from the file before that size has been
//! checked against data actually present (in the message or in the external file); element
//! counts are capped at `MAX_NUMEL`; exactly one data source is used and it must hold exactly
//! the element count of `dims`; external paths cannot leave the model's folder.

use super::proto::{tensor_proto::DataLocation, TensorProto};
use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::tensor::{DType, Tensor, TensorData};
use prost::Message;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path};

/// The largest element count (and the largest single dim) of any tensor Kiln accepts: 2^40.
pub const MAX_NUMEL: u64 = 1 << 40;

/// Converts a `TensorProto` to a `Tensor`. External data is looked up under `model_dir`.
pub fn tensor_from_proto(t: &TensorProto, model_dir: &Path) -> Result<Tensor> {
    tensor_from_proto_with(t, model_dir, &Limits::default())
}

/// `tensor_from_proto`, rejecting a tensor larger than `limits.max_tensor_bytes` before any of
/// its data is read.
pub fn tensor_from_proto_with(
    t: &TensorProto,
    model_dir: &Path,
    limits: &Limits,
) -> Result<Tensor> {
    let what = match t.name.as_deref() {
        Some(n) if !n.is_empty() => format!("tensor '{n}'"),
        _ => "tensor <unnamed>".to_string(),
    };
    let bad = |msg: String| Error::Model(format!("{what}: {msg}"));
    if t.segment.is_some() {
        return Err(bad("segmented tensors are not supported".into()));
    }
    let code = t.data_type.unwrap_or(0);
    let dtype = DType::from_onnx(code).ok_or_else(|| bad(format!("unknown data type {code}")))?;
    let (shape, numel) = checked_shape(&t.dims, &what)?;
    limits.check_tensor(&what, numel, dtype.size().unwrap_or(1) as u64)?;

    let typed = typed_fields(t);
    let external = match t.data_location.map(DataLocation::try_from) {
        None | Some(Ok(DataLocation::Default)) => false,
        Some(Ok(DataLocation::External)) => true,
        Some(Err(_)) => {
            return Err(bad(format!(
                "invalid data_location {}",
                t.data_location.unwrap_or(0)
            )))
        }
    };
    if external {
        if let Some(f) = typed.first().or(t.raw_data.as_ref().map(|_| &"raw_data")) {
            return Err(bad(format!("has external data and inline data ({f})")));
        }
        let Some(nbytes) = packed_len(dtype, numel) else {
            return Err(bad("string tensors cannot use external data".into()));
        };
        let bytes = read_external(t, &what, model_dir, nbytes)?;
        return Ok(bytes_tensor(dtype, shape, bytes));
    }

    if let Some(raw) = &t.raw_data {
        if let Some(f) = typed.first() {
            return Err(bad(format!("has both raw_data and {f}")));
        }
        let Some(nbytes) = packed_len(dtype, numel) else {
            return Err(bad("string tensors cannot use raw_data".into()));
        };
        if raw.len() as u64 != nbytes {
            return Err(bad(format!(
                "raw_data has {} bytes, expected {nbytes} ({numel} x {dtype})",
                raw.len()
            )));
        }
        return Ok(bytes_tensor(dtype, shape, raw.clone()));
    }

    let field = field_for(dtype);
    if let Some(f) = typed.iter().find(|f| **f != field) {
        return Err(bad(format!(
            "{dtype} data stored in {f} (expected {field})"
        )));
    }
    typed_data(t, dtype, shape, numel, &bad)
}

/// A tensor as a `TensorProto` in raw_data form (string_data for strings), without a name.
pub fn tensor_to_proto(t: &Tensor) -> TensorProto {
    let mut p = TensorProto {
        dims: t.shape.iter().map(|&d| d as i64).collect(),
        data_type: Some(t.dtype.to_onnx()),
        ..Default::default()
    };
    match &t.data {
        TensorData::Bytes(b) => p.raw_data = Some(b.clone()),
        TensorData::Strings(s) => p.string_data = s.clone(),
    }
    p
}

/// Writes a tensor as a serialized `TensorProto` (the ONNX test-data `.pb` format).
pub fn save_tensor_pb(path: &Path, t: &Tensor) -> Result<()> {
    crate::compile::write_atomic(path, &tensor_to_proto(t).encode_to_vec())
}

/// Shape as `u64`s and element count, checked: every dim ≥ 0 and ≤ `MAX_NUMEL`, and the
/// product of the non-zero dims ≤ `MAX_NUMEL` (so any partial product fits in a u64, even when
/// a zero dim makes the tensor empty).
pub(crate) fn checked_shape(dims: &[i64], what: &str) -> Result<(Vec<u64>, u64)> {
    let mut shape = Vec::with_capacity(dims.len());
    let mut nonzero: u64 = 1;
    let mut empty = false;
    for &d in dims {
        if d < 0 {
            return Err(Error::Model(format!(
                "{what}: negative dim {d} in {dims:?}"
            )));
        }
        let d = d as u64;
        if d == 0 {
            empty = true;
        } else {
            nonzero = nonzero
                .checked_mul(d)
                .filter(|&n| n <= MAX_NUMEL)
                .ok_or_else(|| {
                    Error::Limit(format!(
                        "{what}: shape {dims:?} has more than 2^40 elements"
                    ))
                })?;
        }
        shape.push(d);
    }
    Ok((shape, if empty { 0 } else { nonzero }))
}

/// Bytes of `numel` packed elements; None for strings.
pub(crate) fn packed_len(dtype: DType, numel: u64) -> Option<u64> {
    match dtype {
        DType::String => None,
        DType::U4 | DType::I4 | DType::F4E2M1 => Some(numel.div_ceil(2)),
        DType::U2 | DType::I2 => Some(numel.div_ceil(4)),
        _ => dtype.size().map(|s| numel * s as u64),
    }
}

fn bytes_tensor(dtype: DType, shape: Vec<u64>, bytes: Vec<u8>) -> Tensor {
    // Built directly: `Tensor::from_bytes` does not know the packed sub-byte sizes.
    Tensor {
        dtype,
        shape,
        data: TensorData::Bytes(bytes),
    }
}

/// Names of the non-empty typed data fields.
fn typed_fields(t: &TensorProto) -> Vec<&'static str> {
    let mut v = vec![];
    if !t.float_data.is_empty() {
        v.push("float_data");
    }
    if !t.int32_data.is_empty() {
        v.push("int32_data");
    }
    if !t.string_data.is_empty() {
        v.push("string_data");
    }
    if !t.int64_data.is_empty() {
        v.push("int64_data");
    }
    if !t.double_data.is_empty() {
        v.push("double_data");
    }
    if !t.uint64_data.is_empty() {
        v.push("uint64_data");
    }
    v
}

/// The typed field that holds `dtype`'s elements.
fn field_for(dtype: DType) -> &'static str {
    match dtype {
        DType::F32 | DType::Complex64 => "float_data",
        DType::F64 | DType::Complex128 => "double_data",
        DType::I64 => "int64_data",
        DType::U32 | DType::U64 => "uint64_data",
        DType::String => "string_data",
        _ => "int32_data",
    }
}

fn typed_data(
    t: &TensorProto,
    dtype: DType,
    shape: Vec<u64>,
    numel: u64,
    bad: &dyn Fn(String) -> Error,
) -> Result<Tensor> {
    // How many entries the field must hold.
    let entries = match dtype {
        DType::Complex64 | DType::Complex128 => numel * 2,
        DType::U4 | DType::I4 | DType::F4E2M1 | DType::U2 | DType::I2 => {
            packed_len(dtype, numel).unwrap_or(0)
        }
        _ => numel,
    };
    let count = |n: usize| -> Result<()> {
        if n as u64 != entries {
            return Err(bad(format!(
                "{} has {n} entries, expected {entries} ({numel} x {dtype})",
                field_for(dtype)
            )));
        }
        Ok(())
    };
    let bytes: Vec<u8> = match dtype {
        DType::String => {
            count(t.string_data.len())?;
            return Ok(Tensor {
                dtype,
                shape,
                data: TensorData::Strings(t.string_data.clone()),
            });
        }
        DType::F32 | DType::Complex64 => {
            count(t.float_data.len())?;
            t.float_data.iter().flat_map(|x| x.to_le_bytes()).collect()
        }
        DType::F64 | DType::Complex128 => {
            count(t.double_data.len())?;
            t.double_data.iter().flat_map(|x| x.to_le_bytes()).collect()
        }
        DType::I64 => {
            count(t.int64_data.len())?;
            t.int64_data.iter().flat_map(|x| x.to_le_bytes()).collect()
        }
        DType::U64 => {
            count(t.uint64_data.len())?;
            t.uint64_data.iter().flat_map(|x| x.to_le_bytes()).collect()
        }
        DType::U32 => {
            count(t.uint64_data.len())?;
            let mut b = Vec::with_capacity(t.uint64_data.len() * 4);
            for &x in &t.uint64_data {
                let x =
                    u32::try_from(x).map_err(|_| bad(format!("uint32 value {x} out of range")))?;
                b.extend_from_slice(&x.to_le_bytes());
            }
            b
        }
        DType::I32 => {
            count(t.int32_data.len())?;
            t.int32_data.iter().flat_map(|x| x.to_le_bytes()).collect()
        }
        _ => {
            count(t.int32_data.len())?;
            // Accepted range of each int32_data entry, and bytes per element.
            let (lo, hi, width): (i32, i32, usize) = match dtype {
                DType::I8 => (-128, 127, 1),
                DType::U8 => (0, 255, 1),
                DType::I16 => (-32768, 32767, 2),
                DType::U16 => (0, 65535, 2),
                // Bit patterns: written unsigned by ONNX, accepted as signed too.
                DType::F16 | DType::BF16 => (-32768, 65535, 2),
                DType::Bool => (i32::MIN, i32::MAX, 1),
                _ => (-128, 255, 1), // float8 patterns, packed 4-bit / 2-bit bytes
            };
            let mut b = Vec::with_capacity(t.int32_data.len() * width);
            for &x in &t.int32_data {
                if x < lo || x > hi {
                    return Err(bad(format!("{dtype} value {x} in int32_data out of range")));
                }
                if dtype == DType::Bool {
                    b.push(u8::from(x != 0));
                } else if width == 2 {
                    b.extend_from_slice(&(x as u16).to_le_bytes());
                } else {
                    b.push(x as u8);
                }
            }
            b
        }
    };
    Ok(bytes_tensor(dtype, shape, bytes))
}

/// Reads `nbytes` of external data for `t`, resolved under `model_dir`.
fn read_external(t: &TensorProto, what: &str, model_dir: &Path, nbytes: u64) -> Result<Vec<u8>> {
    let bad = |msg: String| Error::Model(format!("{what}: external data: {msg}"));
    let key = |k: &str| {
        t.external_data
            .iter()
            .rev()
            .find(|e| e.key.as_deref() == Some(k))
            .and_then(|e| e.value.as_deref())
    };
    let num = |k: &str| -> Result<Option<u64>> {
        key(k)
            .map(|v| {
                v.trim()
                    .parse::<u64>()
                    .map_err(|_| bad(format!("invalid {k} '{v}'")))
            })
            .transpose()
    };
    let location = key("location")
        .filter(|l| !l.is_empty())
        .ok_or_else(|| bad("no location".into()))?;
    let rel = Path::new(location);
    if rel.is_absolute() || location.starts_with('/') || location.starts_with('\\') {
        return Err(bad(format!(
            "absolute location '{location}' is not allowed"
        )));
    }
    if !rel
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(bad(format!(
            "location '{location}' leaves the model directory ('..' or a root)"
        )));
    }
    let offset = num("offset")?.unwrap_or(0);
    let length = num("length")?;

    let dir = model_dir
        .canonicalize()
        .map_err(|e| Error::io(model_dir, format!("{what}: model directory: {e}")))?;
    let full = dir.join(rel);
    let real = full
        .canonicalize()
        .map_err(|e| Error::io(&full, format!("{what}: external data: {e}")))?;
    if !real.starts_with(&dir) {
        return Err(bad(format!(
            "location '{location}' resolves outside the model directory (symlink?)"
        )));
    }
    let io = |e: std::io::Error| Error::io(&full, format!("{what}: external data: {e}"));
    let mut f = std::fs::File::open(&real).map_err(io)?;
    let meta = f.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(bad(format!("'{location}' is not a regular file")));
    }
    let avail = meta.len().checked_sub(offset).ok_or_else(|| {
        bad(format!(
            "offset {offset} is past the end of '{location}' ({} bytes)",
            meta.len()
        ))
    })?;
    let len = length.unwrap_or(avail);
    if len > avail {
        return Err(bad(format!(
            "offset {offset} + length {len} is past the end of '{location}' ({} bytes)",
            meta.len()
        )));
    }
    if len != nbytes {
        return Err(bad(format!("{len} bytes, expected {nbytes}")));
    }
    // `len` is now bounded by the file's actual size.
    let len = usize::try_from(len).map_err(|_| Error::Limit(format!("{what}: too large")))?;
    f.seek(SeekFrom::Start(offset)).map_err(io)?;
    let mut buf = vec![0u8; len];
    f.read_exact(&mut buf).map_err(io)?;
    Ok(buf)
}
