//! Tensors as Kiln holds them: an ONNX element type, a shape, and little-endian element bytes
//! (or byte strings for string tensors). Used for initializers, Constant values, test data and
//! `.npy` files. Nothing here knows about protobuf.

use crate::kir::Scalar;
use std::fmt;

/// ONNX `TensorProto.DataType`, all of them (so loading never fails on an unknown-but-valid
/// type; ops reject what they do not support).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DType {
    F32,
    U8,
    I8,
    U16,
    I16,
    I32,
    I64,
    String,
    Bool,
    F16,
    F64,
    U32,
    U64,
    Complex64,
    Complex128,
    BF16,
    F8E4M3FN,
    F8E4M3FNUZ,
    F8E5M2,
    F8E5M2FNUZ,
    U4,
    I4,
    F4E2M1,
    F8E8M0,
    U2,
    I2,
}

impl DType {
    /// From the ONNX enum value.
    pub fn from_onnx(code: i32) -> Option<DType> {
        Some(match code {
            1 => DType::F32,
            2 => DType::U8,
            3 => DType::I8,
            4 => DType::U16,
            5 => DType::I16,
            6 => DType::I32,
            7 => DType::I64,
            8 => DType::String,
            9 => DType::Bool,
            10 => DType::F16,
            11 => DType::F64,
            12 => DType::U32,
            13 => DType::U64,
            14 => DType::Complex64,
            15 => DType::Complex128,
            16 => DType::BF16,
            17 => DType::F8E4M3FN,
            18 => DType::F8E4M3FNUZ,
            19 => DType::F8E5M2,
            20 => DType::F8E5M2FNUZ,
            21 => DType::U4,
            22 => DType::I4,
            23 => DType::F4E2M1,
            24 => DType::F8E8M0,
            25 => DType::U2,
            26 => DType::I2,
            _ => return None,
        })
    }
    pub fn to_onnx(self) -> i32 {
        match self {
            DType::F32 => 1,
            DType::U8 => 2,
            DType::I8 => 3,
            DType::U16 => 4,
            DType::I16 => 5,
            DType::I32 => 6,
            DType::I64 => 7,
            DType::String => 8,
            DType::Bool => 9,
            DType::F16 => 10,
            DType::F64 => 11,
            DType::U32 => 12,
            DType::U64 => 13,
            DType::Complex64 => 14,
            DType::Complex128 => 15,
            DType::BF16 => 16,
            DType::F8E4M3FN => 17,
            DType::F8E4M3FNUZ => 18,
            DType::F8E5M2 => 19,
            DType::F8E5M2FNUZ => 20,
            DType::U4 => 21,
            DType::I4 => 22,
            DType::F4E2M1 => 23,
            DType::F8E8M0 => 24,
            DType::U2 => 25,
            DType::I2 => 26,
        }
    }
    /// The kir element type that computes this dtype, if Kiln computes it.
    pub fn scalar(self) -> Option<Scalar> {
        Some(match self {
            DType::F32 => Scalar::F32,
            DType::F64 => Scalar::F64,
            DType::I8 => Scalar::I8,
            DType::I16 => Scalar::I16,
            DType::I32 => Scalar::I32,
            DType::I64 => Scalar::I64,
            DType::U8 => Scalar::U8,
            DType::U16 => Scalar::U16,
            DType::U32 => Scalar::U32,
            DType::U64 => Scalar::U64,
            DType::Bool => Scalar::Bool,
            _ => return None,
        })
    }
    /// The kir element type of this dtype's buffers: `scalar()`, plus float16 and bfloat16,
    /// stored as their 16-bit patterns (`U16`), and the float8 types (`U8`); kir converts them
    /// (`ops::half`).
    pub fn storage(self) -> Option<Scalar> {
        match self {
            DType::F16 | DType::BF16 => Some(Scalar::U16),
            DType::F8E4M3FN
            | DType::F8E4M3FNUZ
            | DType::F8E5M2
            | DType::F8E5M2FNUZ
            | DType::F8E8M0 => Some(Scalar::U8),
            // A string element is an int32 id into the model's string table (`ir::strings`).
            DType::String => Some(Scalar::I32),
            _ => self.scalar(),
        }
    }
    /// A floating-point type (computed or stored).
    pub fn is_float(self) -> bool {
        matches!(
            self,
            DType::F32
                | DType::F64
                | DType::F16
                | DType::BF16
                | DType::F8E4M3FN
                | DType::F8E4M3FNUZ
                | DType::F8E5M2
                | DType::F8E5M2FNUZ
                | DType::F8E8M0
        )
    }
    /// float16 or bfloat16.
    pub fn is_half(self) -> bool {
        matches!(self, DType::F16 | DType::BF16)
    }
    pub fn from_scalar(s: Scalar) -> DType {
        match s {
            Scalar::Bool => DType::Bool,
            Scalar::I8 => DType::I8,
            Scalar::I16 => DType::I16,
            Scalar::I32 => DType::I32,
            Scalar::I64 => DType::I64,
            Scalar::U8 => DType::U8,
            Scalar::U16 => DType::U16,
            Scalar::U32 => DType::U32,
            Scalar::U64 => DType::U64,
            Scalar::F32 => DType::F32,
            Scalar::F64 => DType::F64,
        }
    }
    /// Bytes per element in Kiln's packed little-endian form (None for strings and sub-byte
    /// types).
    pub fn size(self) -> Option<usize> {
        Some(match self {
            DType::U8 | DType::I8 | DType::Bool => 1,
            DType::F8E4M3FN | DType::F8E4M3FNUZ | DType::F8E5M2 | DType::F8E5M2FNUZ => 1,
            DType::F8E8M0 => 1,
            DType::U16 | DType::I16 | DType::F16 | DType::BF16 => 2,
            DType::F32 | DType::I32 | DType::U32 => 4,
            DType::F64 | DType::I64 | DType::U64 | DType::Complex64 => 8,
            DType::Complex128 => 16,
            DType::String | DType::U4 | DType::I4 | DType::F4E2M1 | DType::U2 | DType::I2 => {
                return None;
            }
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "float32",
            DType::U8 => "uint8",
            DType::I8 => "int8",
            DType::U16 => "uint16",
            DType::I16 => "int16",
            DType::I32 => "int32",
            DType::I64 => "int64",
            DType::String => "string",
            DType::Bool => "bool",
            DType::F16 => "float16",
            DType::F64 => "float64",
            DType::U32 => "uint32",
            DType::U64 => "uint64",
            DType::Complex64 => "complex64",
            DType::Complex128 => "complex128",
            DType::BF16 => "bfloat16",
            DType::F8E4M3FN => "float8e4m3fn",
            DType::F8E4M3FNUZ => "float8e4m3fnuz",
            DType::F8E5M2 => "float8e5m2",
            DType::F8E5M2FNUZ => "float8e5m2fnuz",
            DType::U4 => "uint4",
            DType::I4 => "int4",
            DType::F4E2M1 => "float4e2m1",
            DType::F8E8M0 => "float8e8m0",
            DType::U2 => "uint2",
            DType::I2 => "int2",
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Element storage.
#[derive(Clone, Debug, PartialEq)]
pub enum TensorData {
    /// Packed little-endian elements, `numel * dtype.size()` bytes. Bool is one byte 0/1.
    Bytes(Vec<u8>),
    /// One byte string per element.
    Strings(Vec<Vec<u8>>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub dtype: DType,
    pub shape: Vec<u64>,
    pub data: TensorData,
}

impl Tensor {
    pub fn numel(&self) -> u64 {
        self.shape.iter().product()
    }
    pub fn bytes(&self) -> &[u8] {
        match &self.data {
            TensorData::Bytes(b) => b,
            TensorData::Strings(_) => &[],
        }
    }
    /// A tensor from packed little-endian bytes (length must match).
    pub fn from_bytes(dtype: DType, shape: Vec<u64>, bytes: Vec<u8>) -> Tensor {
        debug_assert_eq!(
            Some(bytes.len() as u64),
            dtype
                .size()
                .map(|s| s as u64 * shape.iter().product::<u64>())
        );
        Tensor {
            dtype,
            shape,
            data: TensorData::Bytes(bytes),
        }
    }
    pub fn from_f32(shape: Vec<u64>, v: &[f32]) -> Tensor {
        Tensor::from_bytes(
            DType::F32,
            shape,
            v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        )
    }
    pub fn from_i64(shape: Vec<u64>, v: &[i64]) -> Tensor {
        Tensor::from_bytes(
            DType::I64,
            shape,
            v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        )
    }
    /// Element `i` widened to f64 (numeric dtypes Kiln computes; others give NaN).
    pub fn get_f64(&self, i: usize) -> f64 {
        let b = self.bytes();
        let Some(sz) = self.dtype.size() else {
            return f64::NAN;
        };
        let e = &b[i * sz..(i + 1) * sz];
        match self.dtype {
            DType::F32 => f32::from_le_bytes(e.try_into().unwrap()) as f64,
            DType::F64 => f64::from_le_bytes(e.try_into().unwrap()),
            DType::I8 => e[0] as i8 as f64,
            DType::U8 | DType::Bool => e[0] as f64,
            DType::I16 => i16::from_le_bytes(e.try_into().unwrap()) as f64,
            DType::U16 => u16::from_le_bytes(e.try_into().unwrap()) as f64,
            DType::I32 => i32::from_le_bytes(e.try_into().unwrap()) as f64,
            DType::U32 => u32::from_le_bytes(e.try_into().unwrap()) as f64,
            DType::I64 => i64::from_le_bytes(e.try_into().unwrap()) as f64,
            DType::U64 => u64::from_le_bytes(e.try_into().unwrap()) as f64,
            DType::F16 => f16_to_f32(u16::from_le_bytes(e.try_into().unwrap())) as f64,
            DType::BF16 => bf16_to_f32(u16::from_le_bytes(e.try_into().unwrap())) as f64,
            DType::F8E4M3FN
            | DType::F8E4M3FNUZ
            | DType::F8E5M2
            | DType::F8E5M2FNUZ
            | DType::F8E8M0 => f8_to_f64(self.dtype, e[0]),
            _ => f64::NAN,
        }
    }
    /// Element `i` as i64 (integer and bool dtypes; floats truncate).
    pub fn get_i64(&self, i: usize) -> i64 {
        let b = self.bytes();
        let Some(sz) = self.dtype.size() else {
            return 0;
        };
        let e = &b[i * sz..(i + 1) * sz];
        match self.dtype {
            DType::I64 => i64::from_le_bytes(e.try_into().unwrap()),
            DType::U64 => u64::from_le_bytes(e.try_into().unwrap()) as i64,
            DType::I32 => i32::from_le_bytes(e.try_into().unwrap()) as i64,
            DType::U32 => u32::from_le_bytes(e.try_into().unwrap()) as i64,
            DType::I16 => i16::from_le_bytes(e.try_into().unwrap()) as i64,
            DType::U16 => u16::from_le_bytes(e.try_into().unwrap()) as i64,
            DType::I8 => e[0] as i8 as i64,
            DType::U8 | DType::Bool => e[0] as i64,
            _ => self.get_f64(i) as i64,
        }
    }
    /// All elements as i64 (for shape-like tensors).
    pub fn to_i64_vec(&self) -> Vec<i64> {
        (0..self.numel() as usize)
            .map(|i| self.get_i64(i))
            .collect()
    }
}

/// The value of float16 bits (exact; NaN payloads are kept, with the quiet bit set).
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h as u32) & 0x8000) << 16;
    let e = ((h >> 10) & 0x1f) as u32;
    let m = (h & 0x3ff) as u32;
    let mag = match e {
        0 => (m as f32 * (1.0 / 16_777_216.0)).to_bits(),
        31 if m == 0 => 0x7f80_0000,
        31 => 0x7fc0_0000 | (m << 13),
        _ => ((e + 112) << 23) | (m << 13),
    };
    f32::from_bits(sign | mag)
}

/// The value of bfloat16 bits (exact: the high half of an f32).
pub fn bf16_to_f32(h: u16) -> f32 {
    f32::from_bits((h as u32) << 16)
}

/// The value of float8 bits (`dtype` one of the float8 types; NaN for others).
pub fn f8_to_f64(dtype: DType, b: u8) -> f64 {
    let (ebits, bias, uz) = match dtype {
        DType::F8E4M3FN => (4, 7, false),
        DType::F8E4M3FNUZ => (4, 8, true),
        DType::F8E5M2 => (5, 15, false),
        DType::F8E5M2FNUZ => (5, 16, true),
        DType::F8E8M0 => {
            return if b == 0xff {
                f64::NAN
            } else {
                2f64.powi(b as i32 - 127)
            };
        }
        _ => return f64::NAN,
    };
    let mbits = 7 - ebits;
    let sign = if b & 0x80 != 0 { -1.0 } else { 1.0 };
    let e = ((b & 0x7f) >> mbits) as i32;
    let m = (b & ((1 << mbits) - 1)) as f64;
    let scale = (1u32 << mbits) as f64;
    if uz && b == 0x80 {
        return f64::NAN;
    }
    match (dtype, e) {
        (DType::F8E4M3FN, 15) if m == 7.0 => f64::NAN,
        (DType::F8E5M2, 31) if m == 0.0 => sign * f64::INFINITY,
        (DType::F8E5M2, 31) => f64::NAN,
        (_, 0) => sign * m / scale * 2f64.powi(1 - bias),
        _ => sign * (1.0 + m / scale) * 2f64.powi(e - bias),
    }
}
