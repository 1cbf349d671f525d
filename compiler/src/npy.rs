//! NumPy `.npy` files ⇄ `Tensor`.
//!
//! Reads format versions 1.0, 2.0 and 3.0; writes 1.0 (2.0 only if the header would not fit
//! 1.0's 16-bit length). Element types: `f2 f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1 c8 c16` in
//! either byte order (big-endian data is converted to little-endian on read; `|`, `<`, `=`
//! and, for one-byte types, any order are accepted), and `S<n>` byte strings (trailing NULs
//! stripped, as NumPy does; written with the longest string's length). `fortran_order: True`
//! arrays are transposed to C order on read. Shape `()` is a scalar.
//!
//! Malformed input (bad magic, header, dtype, shape, truncated or trailing data) is an
//! `Error::Model` naming the problem; element counts are capped at `onnx::MAX_NUMEL` and data
//! is only copied after its size has been checked against the bytes present. Never panics.

use crate::error::{Error, Result};
use crate::onnx::MAX_NUMEL;
use crate::tensor::{DType, Tensor, TensorData};
use std::path::Path;

const MAGIC: &[u8] = b"\x93NUMPY";

/// Reads a `.npy` file.
pub fn read_npy(path: &Path) -> Result<Tensor> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse_npy(&bytes).map_err(|e| match e {
        Error::Model(m) => Error::Model(format!("{}: {m}", path.display())),
        e => e,
    })
}

/// Writes a tensor as a `.npy` file; an error for tensors NumPy cannot hold exactly (see
/// `try_to_npy_bytes`).
pub fn write_npy(path: &Path, t: &Tensor) -> Result<()> {
    let bytes = try_to_npy_bytes(t)?;
    crate::compile::write_atomic(path, &bytes)
}

fn bad(msg: impl std::fmt::Display) -> Error {
    Error::Model(format!("invalid .npy data: {msg}"))
}

/// Parses the bytes of a `.npy` file.
pub fn parse_npy(bytes: &[u8]) -> Result<Tensor> {
    if bytes.len() < MAGIC.len() + 2 || &bytes[..MAGIC.len()] != MAGIC {
        return Err(bad("not a .npy file (bad magic)"));
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let (len_size, utf8) = match (major, minor) {
        (1, 0) => (2, false),
        (2, 0) => (4, false),
        (3, 0) => (4, true),
        _ => return Err(bad(format!("unsupported format version {major}.{minor}"))),
    };
    let len_end = 8 + len_size;
    let len_bytes = bytes
        .get(8..len_end)
        .ok_or_else(|| bad("truncated header"))?;
    let header_len = len_bytes
        .iter()
        .rev()
        .fold(0usize, |acc, &b| (acc << 8) | b as usize);
    let data_start = len_end
        .checked_add(header_len)
        .filter(|&e| e <= bytes.len())
        .ok_or_else(|| bad("truncated header"))?;
    let raw_header = &bytes[len_end..data_start];
    let header: String = if utf8 {
        std::str::from_utf8(raw_header)
            .map_err(|_| bad("header is not UTF-8"))?
            .to_string()
    } else {
        raw_header.iter().map(|&b| b as char).collect() // latin-1
    };
    let h = parse_header(&header)?;
    let dt = parse_descr(&h.descr)?;

    let mut numel: u64 = 1;
    let mut nonzero: u64 = 1;
    for &d in &h.shape {
        numel = numel.saturating_mul(d);
        if d != 0 {
            nonzero = nonzero.saturating_mul(d);
        }
        if d > MAX_NUMEL || nonzero > MAX_NUMEL {
            return Err(Error::Limit(format!(
                ".npy shape {:?} has more than 2^40 elements",
                h.shape
            )));
        }
    }
    let data = &bytes[data_start..];
    let expected = numel
        .checked_mul(dt.size as u64)
        .ok_or_else(|| Error::Limit(".npy data too large".into()))?;
    if (data.len() as u64) < expected {
        return Err(bad(format!(
            "truncated data: {} bytes, expected {expected}",
            data.len()
        )));
    }
    if data.len() as u64 > expected {
        return Err(bad(format!(
            "{} trailing bytes after the data",
            data.len() as u64 - expected
        )));
    }
    // Element bytes in C order, little-endian.
    let mut elems: Vec<u8> = if h.fortran_order && h.shape.len() > 1 {
        fortran_to_c(data, &h.shape, dt.size)
    } else {
        data.to_vec()
    };
    if dt.swap > 1 {
        for chunk in elems.chunks_exact_mut(dt.swap) {
            chunk.reverse();
        }
    }
    let tdata = match dt.dtype {
        DType::String => TensorData::Strings(
            elems
                .chunks(dt.size.max(1))
                .map(|s| {
                    let end = s.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
                    s[..end].to_vec()
                })
                .collect(),
        ),
        DType::Bool => {
            for b in &mut elems {
                *b = u8::from(*b != 0);
            }
            TensorData::Bytes(elems)
        }
        _ => TensorData::Bytes(elems),
    };
    Ok(Tensor {
        dtype: dt.dtype,
        shape: h.shape,
        data: tdata,
    })
}

/// Serializes a tensor as `.npy` bytes (format 1.0). Never fails: element types NumPy has no
/// dtype for are written as unsigned integers holding their bit patterns (bfloat16 → `<u2`,
/// float8 → `|u1`), 4-bit and 2-bit tensors as their packed bytes (`|u1`, shape `(nbytes,)`).
/// `try_to_npy_bytes` refuses those instead.
pub fn to_npy_bytes(t: &Tensor) -> Vec<u8> {
    let (descr, shape, payload) = layout(t, true).unwrap_or_else(|_| {
        // Unreachable with `lenient`; kept total rather than panicking.
        (
            "|u1".into(),
            vec![t.bytes().len() as u64],
            t.bytes().to_vec(),
        )
    });
    assemble(&descr, &shape, &payload)
}

/// Like `to_npy_bytes`, but an error for tensors NumPy cannot hold exactly (bfloat16, float8,
/// 4-bit and 2-bit types) or whose storage does not match their shape.
pub fn try_to_npy_bytes(t: &Tensor) -> Result<Vec<u8>> {
    let (descr, shape, payload) = layout(t, false)?;
    Ok(assemble(&descr, &shape, &payload))
}

/// The NumPy dtype of a Kiln element type, if NumPy has one.
fn numpy_descr(dt: DType) -> Option<&'static str> {
    Some(match dt {
        DType::F16 => "<f2",
        DType::F32 => "<f4",
        DType::F64 => "<f8",
        DType::I8 => "|i1",
        DType::I16 => "<i2",
        DType::I32 => "<i4",
        DType::I64 => "<i8",
        DType::U8 => "|u1",
        DType::U16 => "<u2",
        DType::U32 => "<u4",
        DType::U64 => "<u8",
        DType::Bool => "|b1",
        DType::Complex64 => "<c8",
        DType::Complex128 => "<c16",
        _ => return None,
    })
}

/// dtype, shape and data bytes to write. `lenient`: fall back to bit patterns / raw bytes
/// instead of failing.
fn layout(t: &Tensor, lenient: bool) -> Result<(String, Vec<u64>, Vec<u8>)> {
    let dt = t.dtype;
    let fits = |n: usize| t.shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d)) == Some(n as u64);
    match &t.data {
        TensorData::Strings(s) => {
            if (dt != DType::String || !fits(s.len())) && !lenient {
                return Err(Error::Internal(format!(
                    "{dt} tensor with {} strings",
                    s.len()
                )));
            }
            let width = s.iter().map(Vec::len).max().unwrap_or(0).max(1);
            let mut out = Vec::with_capacity(s.len() * width);
            for x in s {
                out.extend_from_slice(x);
                out.resize(out.len() + width - x.len(), 0);
            }
            let shape = if fits(s.len()) {
                t.shape.clone()
            } else {
                vec![s.len() as u64]
            };
            Ok((format!("|S{width}"), shape, out))
        }
        TensorData::Bytes(b) => {
            let sized = dt
                .size()
                .is_some_and(|sz| sz > 0 && b.len() % sz == 0 && fits(b.len() / sz));
            match numpy_descr(dt) {
                Some(d) if sized => return Ok((d.into(), t.shape.clone(), b.clone())),
                _ if !lenient => {
                    return Err(Error::Usage(format!(
                        "cannot write a {dt} tensor of shape {:?} ({} bytes) as .npy",
                        t.shape,
                        b.len()
                    )))
                }
                _ => {}
            }
            Ok(match dt.size() {
                Some(2) if sized => ("<u2".into(), t.shape.clone(), b.clone()),
                Some(1) if sized => ("|u1".into(), t.shape.clone(), b.clone()),
                _ => ("|u1".into(), vec![b.len() as u64], b.clone()),
            })
        }
    }
}

/// Header and data of a version 1.0 (2.0 for huge headers) file.
fn assemble(descr: &str, shape: &[u64], payload: &[u8]) -> Vec<u8> {
    let shape = match shape.len() {
        0 => "()".to_string(),
        1 => format!("({},)", shape[0]),
        _ => {
            let parts: Vec<String> = shape.iter().map(u64::to_string).collect();
            format!("({})", parts.join(", "))
        }
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    // Pad with spaces so the data starts on a 64-byte boundary; end with '\n'. Version 1.0
    // unless the header needs more than its 16-bit length.
    let padded = |prefix: usize| (prefix + header.len() + 1).div_ceil(64) * 64 - prefix;
    let v1 = padded(10) <= 65535;
    let prefix = if v1 { 10 } else { 12 };
    let total = prefix + padded(prefix);
    while prefix + header.len() + 1 < total {
        header.push(' ');
    }
    header.push('\n');
    let mut out = Vec::with_capacity(total + payload.len());
    out.extend_from_slice(MAGIC);
    if v1 {
        out.extend_from_slice(&[1, 0]);
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&[2, 0]);
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    }
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(payload);
    out
}

/// The header dict.
struct Header {
    descr: String,
    fortran_order: bool,
    shape: Vec<u64>,
}

/// A parsed dtype: element type, bytes per element, and the size of the units whose bytes
/// must be reversed to get little-endian (0 or 1: none).
struct Descr {
    dtype: DType,
    size: usize,
    swap: usize,
}

fn parse_descr(d: &str) -> Result<Descr> {
    let unsupported = || bad(format!("unsupported dtype '{d}'"));
    let (order, rest) = match d.chars().next() {
        Some(c @ ('<' | '>' | '|' | '=')) => (c, &d[1..]),
        _ => ('|', d),
    };
    let big = order == '>' || (order == '=' && cfg!(target_endian = "big"));
    if let Some(n) = rest.strip_prefix('S') {
        let size: usize = n.parse().map_err(|_| unsupported())?;
        if size == 0 || size > 1 << 20 {
            return Err(unsupported());
        }
        return Ok(Descr {
            dtype: DType::String,
            size,
            swap: 0,
        });
    }
    let (dtype, size, unit) = match rest {
        "f2" => (DType::F16, 2, 2),
        "f4" => (DType::F32, 4, 4),
        "f8" => (DType::F64, 8, 8),
        "i1" => (DType::I8, 1, 1),
        "i2" => (DType::I16, 2, 2),
        "i4" => (DType::I32, 4, 4),
        "i8" => (DType::I64, 8, 8),
        "u1" => (DType::U8, 1, 1),
        "u2" => (DType::U16, 2, 2),
        "u4" => (DType::U32, 4, 4),
        "u8" => (DType::U64, 8, 8),
        "b1" | "?" => (DType::Bool, 1, 1),
        "c8" => (DType::Complex64, 8, 4),
        "c16" => (DType::Complex128, 16, 8),
        _ => return Err(unsupported()),
    };
    if order == '|' && unit > 1 {
        return Err(bad(format!("dtype '{d}' has no byte order")));
    }
    Ok(Descr {
        dtype,
        size,
        swap: if big { unit } else { 0 },
    })
}

/// Parses the Python dict literal of the header: `{'descr': '<f4', 'fortran_order': False,
/// 'shape': (2, 3), }`.
fn parse_header(h: &str) -> Result<Header> {
    let mut p = Lexer {
        s: h.as_bytes(),
        i: 0,
    };
    p.expect(b'{')?;
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    loop {
        if p.eat(b'}') {
            break;
        }
        let key = p.string()?;
        p.expect(b':')?;
        match key.as_str() {
            "descr" => {
                p.skip_ws();
                if p.peek() == Some(b'[') {
                    return Err(bad("structured dtypes are not supported"));
                }
                descr = Some(p.string()?);
            }
            "fortran_order" => fortran = Some(p.boolean()?),
            "shape" => shape = Some(p.tuple()?),
            k => return Err(bad(format!("unknown header key '{k}'"))),
        }
        if !p.eat(b',') {
            p.expect(b'}')?;
            break;
        }
    }
    p.skip_ws();
    if p.i != p.s.len() {
        return Err(bad("garbage after the header dict"));
    }
    Ok(Header {
        descr: descr.ok_or_else(|| bad("header has no 'descr'"))?,
        fortran_order: fortran.ok_or_else(|| bad("header has no 'fortran_order'"))?,
        shape: shape.ok_or_else(|| bad("header has no 'shape'"))?,
    })
}

struct Lexer<'a> {
    s: &'a [u8],
    i: usize,
}

impl Lexer<'_> {
    fn skip_ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn eat(&mut self, c: u8) -> bool {
        self.skip_ws();
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, c: u8) -> Result<()> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(bad(format!(
                "malformed header: expected '{}' at byte {}",
                c as char, self.i
            )))
        }
    }
    fn string(&mut self) -> Result<String> {
        self.skip_ws();
        let q = match self.peek() {
            Some(q @ (b'\'' | b'"')) => q,
            _ => {
                return Err(bad(format!(
                    "malformed header: expected a string at byte {}",
                    self.i
                )))
            }
        };
        let start = self.i + 1;
        let len = self.s[start..]
            .iter()
            .position(|&c| c == q)
            .ok_or_else(|| bad("malformed header: unterminated string"))?;
        self.i = start + len + 1;
        Ok(String::from_utf8_lossy(&self.s[start..start + len]).into_owned())
    }
    fn boolean(&mut self) -> Result<bool> {
        self.skip_ws();
        for (word, v) in [("True", true), ("False", false)] {
            if self.s[self.i..].starts_with(word.as_bytes()) {
                self.i += word.len();
                return Ok(v);
            }
        }
        Err(bad("malformed header: fortran_order is not True or False"))
    }
    fn tuple(&mut self) -> Result<Vec<u64>> {
        self.expect(b'(')?;
        let mut dims = vec![];
        loop {
            if self.eat(b')') {
                return Ok(dims);
            }
            self.skip_ws();
            let start = self.i;
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.i += 1;
            }
            let digits = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
            let d: u64 = digits
                .parse()
                .map_err(|_| bad(format!("malformed header: bad dim at byte {start}")))?;
            if self.peek() == Some(b'L') {
                self.i += 1; // Python 2 long
            }
            if dims.len() >= 64 {
                return Err(bad("more than 64 dimensions"));
            }
            dims.push(d);
            if !self.eat(b',') {
                self.expect(b')')?;
                return Ok(dims);
            }
        }
    }
}

/// Element bytes in Fortran order → C order.
fn fortran_to_c(data: &[u8], shape: &[u64], size: usize) -> Vec<u8> {
    let numel = data.len() / size.max(1);
    let rank = shape.len();
    // Fortran strides (in elements): the first index varies fastest.
    let mut fstride = vec![0usize; rank];
    let mut acc = 1usize;
    for k in 0..rank {
        fstride[k] = acc;
        acc = acc.saturating_mul(shape[k] as usize);
    }
    let mut out = Vec::with_capacity(data.len());
    let mut idx = vec![0usize; rank];
    for _ in 0..numel {
        let off: usize = idx.iter().zip(&fstride).map(|(i, s)| i * s).sum();
        out.extend_from_slice(&data[off * size..(off + 1) * size]);
        // Advance the C-order index (last varies fastest).
        for k in (0..rank).rev() {
            idx[k] += 1;
            if (idx[k] as u64) < shape[k] {
                break;
            }
            idx[k] = 0;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A .npy file with the given header dict and data (version 1.0, unpadded).
    fn file(header: &str, data: &[u8]) -> Vec<u8> {
        let mut v = MAGIC.to_vec();
        v.extend_from_slice(&[1, 0]);
        v.extend_from_slice(&(header.len() as u16).to_le_bytes());
        v.extend_from_slice(header.as_bytes());
        v.extend_from_slice(data);
        v
    }

    fn err(b: &[u8]) -> String {
        parse_npy(b).expect_err("expected an error").to_string()
    }

    #[test]
    fn round_trips_every_dtype() {
        let all = [
            DType::F16,
            DType::F32,
            DType::F64,
            DType::I8,
            DType::I16,
            DType::I32,
            DType::I64,
            DType::U8,
            DType::U16,
            DType::U32,
            DType::U64,
            DType::Bool,
            DType::Complex64,
            DType::Complex128,
        ];
        for dtype in all {
            for shape in [vec![], vec![0], vec![3], vec![2, 3], vec![1, 2, 0, 4]] {
                let n: u64 = shape.iter().product();
                let size = dtype.size().unwrap();
                let bytes: Vec<u8> = (0..n as usize * size)
                    .map(|i| {
                        if dtype == DType::Bool {
                            (i % 2) as u8
                        } else {
                            (i * 7 + 3) as u8
                        }
                    })
                    .collect();
                let t = Tensor {
                    dtype,
                    shape: shape.clone(),
                    data: TensorData::Bytes(bytes),
                };
                let b = try_to_npy_bytes(&t).unwrap();
                let hlen = u16::from_le_bytes([b[8], b[9]]) as usize;
                assert_eq!((10 + hlen) % 64, 0);
                assert_eq!(b[10 + hlen - 1], b'\n');
                assert_eq!(parse_npy(&b).unwrap(), t, "{dtype} {shape:?}");
            }
        }
        let s = Tensor {
            dtype: DType::String,
            shape: vec![3],
            data: TensorData::Strings(vec![b"ab".to_vec(), vec![], b"xyz".to_vec()]),
        };
        assert_eq!(parse_npy(&to_npy_bytes(&s)).unwrap(), s);
    }

    #[test]
    fn writes_numpy_header() {
        let t = Tensor::from_f32(vec![2, 3], &[0.0; 6]);
        let b = try_to_npy_bytes(&t).unwrap();
        let h = std::str::from_utf8(&b[10..128]).unwrap();
        assert!(h.starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"));
        assert_eq!(b.len(), 128 + 24);
        let one = to_npy_bytes(&Tensor::from_i64(vec![1], &[5]));
        assert!(String::from_utf8_lossy(&one).contains("'shape': (1,)"));
        let bf = Tensor {
            dtype: DType::BF16,
            shape: vec![1],
            data: TensorData::Bytes(vec![0, 0]),
        };
        assert!(try_to_npy_bytes(&bf).is_err());
        assert!(write_npy(Path::new("/nonexistent/x.npy"), &bf).is_err());
        // The lenient form keeps the bits.
        let back = parse_npy(&to_npy_bytes(&bf)).unwrap();
        assert_eq!(
            (back.dtype, back.shape, back.data),
            (DType::U16, vec![1], bf.data.clone())
        );
        let i4 = Tensor {
            dtype: DType::I4,
            shape: vec![3],
            data: TensorData::Bytes(vec![0x21, 0x03]),
        };
        assert!(try_to_npy_bytes(&i4).is_err());
        let back = parse_npy(&to_npy_bytes(&i4)).unwrap();
        assert_eq!((back.dtype, &back.shape), (DType::U8, &vec![2]));
        assert_eq!(back.bytes(), &[0x21, 0x03]);
        // Inconsistent storage: an error, or raw bytes.
        let bad = Tensor {
            dtype: DType::F32,
            shape: vec![2],
            data: TensorData::Bytes(vec![0; 3]),
        };
        assert!(try_to_npy_bytes(&bad).is_err());
        assert_eq!(parse_npy(&to_npy_bytes(&bad)).unwrap().shape, vec![3]);
    }

    #[test]
    fn reads_variants() {
        let c: Vec<f32> = (0..6).map(|i| i as f32).collect();
        let want = Tensor::from_f32(vec![2, 3], &c);
        // Fortran order: column-major data.
        let f: Vec<u8> = [0.0f32, 3.0, 1.0, 4.0, 2.0, 5.0]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        let h = "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }";
        assert_eq!(parse_npy(&file(h, &f)).unwrap(), want);
        // 3-d Fortran order.
        let mut f3 = vec![];
        for k in 0..2u8 {
            for j in 0..3u8 {
                for i in 0..2u8 {
                    f3.push(i * 6 + j * 2 + k);
                }
            }
        }
        let h = "{'descr': '|u1', 'fortran_order': True, 'shape': (2, 3, 2)}";
        assert_eq!(
            parse_npy(&file(h, &f3)).unwrap().bytes(),
            &(0..12).collect::<Vec<u8>>()[..]
        );
        // Big-endian.
        let be: Vec<u8> = c.iter().flat_map(|x| x.to_be_bytes()).collect();
        let h = "{\"descr\": \">f4\", \"fortran_order\": False, \"shape\": (2,3)}";
        assert_eq!(parse_npy(&file(h, &be)).unwrap(), want);
        let h = "{'descr': '>c8', 'fortran_order': False, 'shape': (1,), }";
        let z = [1.0f32.to_be_bytes(), 2.0f32.to_be_bytes()].concat();
        let zl = [1.0f32.to_le_bytes(), 2.0f32.to_le_bytes()].concat();
        assert_eq!(parse_npy(&file(h, &z)).unwrap().bytes(), &zl[..]);
        // Scalar, bool normalisation, Python 2 longs, byte strings.
        let h = "{'descr': '<i8', 'fortran_order': False, 'shape': (), }";
        assert_eq!(
            parse_npy(&file(h, &7i64.to_le_bytes())).unwrap(),
            Tensor::from_i64(vec![], &[7])
        );
        let h = "{'descr': '|b1', 'fortran_order': False, 'shape': (3L,), }";
        assert_eq!(parse_npy(&file(h, &[0, 1, 2])).unwrap().bytes(), &[0, 1, 1]);
        let h = "{'descr': '|S3', 'fortran_order': False, 'shape': (2,), }";
        let t = parse_npy(&file(h, b"ab\0xyz")).unwrap();
        assert_eq!(
            t.data,
            TensorData::Strings(vec![b"ab".to_vec(), b"xyz".to_vec()])
        );
        // Versions 2.0 and 3.0 (4-byte header length; 3.0 is UTF-8).
        for version in [2u8, 3] {
            let h = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n";
            let mut b = MAGIC.to_vec();
            b.extend_from_slice(&[version, 0]);
            b.extend_from_slice(&(h.len() as u32).to_le_bytes());
            b.extend_from_slice(h.as_bytes());
            b.extend(c.iter().flat_map(|x| x.to_le_bytes()));
            assert_eq!(parse_npy(&b).unwrap(), want);
        }
    }

    #[test]
    fn malformed_rejected() {
        let h = |s: &str| format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {s}, }}");
        let four = [0u8; 4];
        assert!(err(b"").contains("bad magic"));
        assert!(err(b"\x93NUMPX\x01\x00\x00\x00").contains("bad magic"));
        let mut v4 = file(&h("(1,)"), &four);
        v4[6] = 4;
        assert!(err(&v4).contains("version 4.0"));
        let mut long = file(&h("(1,)"), &four);
        long[8] = 0xff;
        long[9] = 0xff;
        assert!(err(&long).contains("truncated header"));
        assert!(err(&file(&h("(2,)"), &four)).contains("truncated data"));
        assert!(err(&file(&h("(1,)"), &[0; 5])).contains("trailing"));
        assert!(err(&file(&h("(-1,)"), &four)).contains("bad dim"));
        assert!(err(&file(&h("(1"), &four)).contains("malformed"));
        assert!(err(&file("{'descr': '<f4', 'shape': (1,)}", &four)).contains("fortran_order"));
        assert!(err(&file(
            "{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}",
            &four
        ))
        .contains("True or False"));
        assert!(err(&file(&(h("(1,)") + "x"), &four)).contains("garbage"));
        let extra = "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}";
        assert!(err(&file(extra, &four)).contains("unknown header key"));
        for d in ["<U3", "|O", "<f16", "|f4", "S0", "<S"] {
            let hd = format!("{{'descr': '{d}', 'fortran_order': False, 'shape': (1,)}}");
            assert!(err(&file(&hd, &four)).contains("dtype"), "{d}");
        }
        let st = "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}";
        assert!(err(&file(st, &four)).contains("structured"));
        for s in [
            "(2199023255552,)",
            "(1099511627776, 1099511627776, 0)",
            "(99999999999999999999,)",
        ] {
            let e = parse_npy(&file(&h(s), &four)).unwrap_err();
            assert!(!matches!(e, Error::Io { .. }), "{s}: {e}");
        }
        let e = parse_npy(&file(&h("(1099511627776, 2)"), &four)).unwrap_err();
        assert!(matches!(e, Error::Limit(_)), "{e}");
    }

    #[test]
    fn fuzz_no_panic() {
        let t = Tensor::from_f32(vec![2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let good = try_to_npy_bytes(&t).unwrap();
        let mut fort = file(
            "{'descr': '>i2', 'fortran_order': True, 'shape': (2, 3), }",
            &[0; 12],
        );
        fort.extend_from_slice(&[]);
        for base in [good, fort] {
            for n in 0..base.len() {
                let _ = parse_npy(&base[..n]);
            }
            for i in 0..base.len() {
                for bit in 0..8 {
                    let mut b = base.clone();
                    b[i] ^= 1 << bit;
                    let _ = parse_npy(&b);
                }
            }
        }
    }

    #[test]
    fn files() {
        let d = std::env::temp_dir().join(format!("kiln-npy-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let p = d.join("t.npy");
        let t = Tensor::from_i64(vec![2], &[1, -1]);
        write_npy(&p, &t).unwrap();
        assert_eq!(read_npy(&p).unwrap(), t);
        std::fs::write(&p, b"junk").unwrap();
        assert!(read_npy(&p).unwrap_err().to_string().contains("t.npy"));
        std::fs::remove_dir_all(&d).unwrap();
        assert!(matches!(read_npy(&p), Err(Error::Io { .. })));
    }
}
