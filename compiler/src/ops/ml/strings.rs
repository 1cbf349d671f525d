//! The ai.onnx.ml ops of strings and maps: LabelEncoder (ml opsets 1, 2 and 4),
//! CategoryMapper, ZipMap, DictVectorizer, CastMap and FeatureVectorizer.
//!
//! A string element is an `int32` id into the model's sorted string table (`ir::strings`);
//! every string an attribute names is in the table, so a lookup is an id comparison. A
//! caller's string that is not in the table has a negative id and matches no key (it maps to
//! the default). A map graph input is two inputs, `<name>.keys` and `<name>.values`, of the
//! symbolic length `<name>_len` (`onnx::graph`). ZipMap is a view: its output is the [N, C]
//! probability array, and the class labels are in the artifact (`kir::StringInfo::labels`).
//!
//! Lookups are chains of comparisons in the generated code (one per key); NaN float keys
//! match NaN inputs (onnxruntime). Later duplicate keys are ignored (the first wins).

use crate::error::Result;
use crate::ir::{dim::numel, Dim, TensorType};
use crate::kir::build::{self, and, cmp, select};
use crate::kir::{CmpOp, Expr, Scalar, Status};
use crate::lower::LowerCx;
use crate::ops::{tt, Attrs, ClassLabels, InferCx, Op};
use crate::tensor::{DType, Tensor, TensorData};

/// Constants of one element type, from attributes.
#[derive(Debug, Clone, PartialEq)]
pub enum Consts {
    Ints(DType, Vec<i64>),
    Floats(DType, Vec<f64>),
    Strs(Vec<Vec<u8>>),
}

impl Consts {
    pub fn dtype(&self) -> DType {
        match self {
            Consts::Ints(d, _) | Consts::Floats(d, _) => *d,
            Consts::Strs(_) => DType::String,
        }
    }
    pub fn len(&self) -> usize {
        match self {
            Consts::Ints(_, v) => v.len(),
            Consts::Floats(_, v) => v.len(),
            Consts::Strs(v) => v.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// From a tensor attribute (numeric or string).
    pub fn from_tensor(t: &Tensor) -> Option<Consts> {
        let n = t.numel() as usize;
        Some(match (&t.data, t.dtype) {
            (TensorData::Strings(v), _) => Consts::Strs(v.clone()),
            (_, d) if d.is_float() && d.scalar().is_some() => {
                Consts::Floats(d, (0..n).map(|i| t.get_f64(i)).collect())
            }
            (_, d) if d.scalar().is_some() && d != DType::Bool => {
                Consts::Ints(d, (0..n).map(|i| t.get_i64(i)).collect())
            }
            _ => return None,
        })
    }
    /// The constants as kir literals of their storage type (strings: their ids).
    pub fn exprs(&self, cx: &LowerCx, what: &str) -> Result<Vec<Expr>> {
        Ok(match self {
            Consts::Ints(d, v) => {
                let t = d.scalar().unwrap_or(Scalar::I64);
                v.iter()
                    .map(|x| Expr::Imm(t, crate::kir::Lit::Int(*x)))
                    .collect()
            }
            Consts::Floats(d, v) => {
                let t = d.scalar().unwrap_or(Scalar::F32);
                v.iter().map(|x| Expr::imm(t, *x)).collect()
            }
            Consts::Strs(v) => v
                .iter()
                .map(|s| {
                    Ok(Expr::Imm(
                        Scalar::I32,
                        crate::kir::Lit::Int(cx.string_id(s, what)? as i64),
                    ))
                })
                .collect::<Result<_>>()?,
        })
    }
}

/// `x == key`, with a NaN float key matching NaN.
fn key_hit(x: &Expr, key: &Expr, keys: &Consts, j: usize) -> Expr {
    if let Consts::Floats(_, v) = keys {
        if v[j].is_nan() {
            return cmp(CmpOp::Ne, x.clone(), x.clone());
        }
    }
    cmp(CmpOp::Eq, x.clone(), key.clone())
}

/// `y[i] = values[j]` for the first `keys[j] == x[i]`, else `default`.
fn lower_lookup(cx: &mut LowerCx, keys: &Consts, values: &Consts, default: &Consts) -> Result<()> {
    let ke = keys.exprs(cx, "keys")?;
    let ve = values.exprs(cx, "values")?;
    let de = default.exprs(cx, "default")?;
    let x = cx.input(0)?;
    let y = cx.output(0)?;
    let n = keys.len().min(values.len());
    cx.kb.loop_(Expr::i64(0), x.numel(), |kb, i| {
        let xv = kb.let_(x.elem, x.load(i.clone()));
        let mut acc = de[0].clone();
        for j in (0..n).rev() {
            let hit = key_hit(&xv, &ke[j], keys, j);
            acc = kb.let_(y.elem, select(hit, ve[j].clone(), acc));
        }
        kb.store(y.buf, i, acc);
    });
    Ok(())
}

fn default_for(d: DType, s: &[u8], i: i64, f: f64) -> Consts {
    match d {
        DType::String => Consts::Strs(vec![s.to_vec()]),
        d if d.is_float() => Consts::Floats(d, vec![f]),
        d => Consts::Ints(d, vec![i]),
    }
}

/// onnxruntime's default for a string value that no attribute gives.
pub const UNUSED: &[u8] = b"_Unused";

#[derive(Debug)]
pub enum LabelEncoder {
    /// ml opset 1: `classes_strings`; string → index or index → string, by input type.
    V1 {
        classes: Vec<Vec<u8>>,
        default_int: i64,
        default_str: Vec<u8>,
    },
    /// ml opset 2 and 4.
    Map {
        keys: Consts,
        values: Consts,
        default: Consts,
    },
}

/// One of the list forms (`<base>_strings`, `_int64s`, `_floats`, and in opset 4 `_tensor`).
fn list_attr(a: &Attrs, base: &str, tensor: bool) -> Result<Option<(String, Consts)>> {
    let mut found: Vec<(String, Consts)> = vec![];
    if let Some(v) = a.strings_opt(&format!("{base}_strings"))? {
        found.push((format!("{base}_strings"), Consts::Strs(v)));
    }
    if let Some(v) = a.ints_opt(&format!("{base}_int64s"))? {
        found.push((format!("{base}_int64s"), Consts::Ints(DType::I64, v)));
    }
    if let Some(v) = a.floats_opt(&format!("{base}_floats"))? {
        found.push((
            format!("{base}_floats"),
            Consts::Floats(DType::F32, v.iter().map(|x| *x as f64).collect()),
        ));
    }
    if tensor {
        let name = format!("{base}_tensor");
        if let Some(t) = a.tensor_opt(&name)? {
            let c = Consts::from_tensor(&t).ok_or_else(|| {
                a.err(&name, format!("element type {} is not supported", t.dtype))
            })?;
            found.push((name, c));
        }
    }
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop()),
        _ => Err(a.err(
            &found[1].0,
            format!("only one of the {base}_* attributes may be given"),
        )),
    }
}

pub fn import_label_encoder(a: &Attrs) -> Result<Box<dyn Op>> {
    let opset = a.node().opset;
    if opset < 2 {
        let classes = a.strings_opt("classes_strings")?.unwrap_or_default();
        return Ok(Box::new(LabelEncoder::V1 {
            classes,
            default_int: a.int("default_int64", -1)?,
            default_str: a.bytes_opt("default_string")?.unwrap_or(UNUSED.to_vec()),
        }));
    }
    let tensor = opset >= 4;
    let (kn, keys) = list_attr(a, "keys", tensor)?.ok_or_else(|| {
        a.err(
            "keys_*",
            "one of keys_strings, keys_int64s, keys_floats is required",
        )
    })?;
    let (vn, values) = list_attr(a, "values", tensor)?.ok_or_else(|| {
        a.err(
            "values_*",
            "one of values_strings, values_int64s, values_floats is required",
        )
    })?;
    if keys.len() != values.len() {
        return Err(a.err(
            &vn,
            format!("{} values for {} keys ({kn})", values.len(), keys.len()),
        ));
    }
    let ds = a.bytes_opt("default_string")?;
    let di = a.int_opt("default_int64")?;
    let df = a.float_opt("default_float")?;
    let dt = if tensor {
        a.tensor_opt("default_tensor")?
    } else {
        None
    };
    let default = match dt {
        Some(t) => {
            let c = Consts::from_tensor(&t)
                .filter(|c| c.len() == 1)
                .ok_or_else(|| {
                    a.err("default_tensor", "must hold one value of a supported type")
                })?;
            if c.dtype() != values.dtype() {
                return Err(a.err(
                    "default_tensor",
                    format!("has type {}, the values {}", c.dtype(), values.dtype()),
                ));
            }
            c
        }
        None => default_for(
            values.dtype(),
            ds.as_deref().unwrap_or(UNUSED),
            di.unwrap_or(-1),
            df.map_or(-0.0, |f| f as f64),
        ),
    };
    Ok(Box::new(LabelEncoder::Map {
        keys,
        values,
        default,
    }))
}

impl LabelEncoder {
    /// (keys, values, default) for an input of type `input`.
    fn table(&self, input: DType) -> Option<(Consts, Consts, Consts)> {
        match self {
            LabelEncoder::Map {
                keys,
                values,
                default,
            } => Some((keys.clone(), values.clone(), default.clone())),
            LabelEncoder::V1 {
                classes,
                default_int,
                default_str,
            } => {
                let idx = Consts::Ints(DType::I64, (0..classes.len() as i64).collect());
                let strs = Consts::Strs(classes.clone());
                match input {
                    DType::String => {
                        Some((strs, idx, Consts::Ints(DType::I64, vec![*default_int])))
                    }
                    DType::I64 => Some((idx, strs, Consts::Strs(vec![default_str.clone()]))),
                    _ => None,
                }
            }
        }
    }
}

impl Op for LabelEncoder {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let x = cx.ty(0)?;
        let (keys, values, _) = self.table(x.dtype).ok_or_else(|| {
            cx.err(format!(
                "input 0 has element type {}; this op takes string or int64",
                x.dtype
            ))
        })?;
        if keys.dtype() != x.dtype {
            return Err(cx.err(format!(
                "input 0 has element type {}, the keys {}",
                x.dtype,
                keys.dtype()
            )));
        }
        Ok(vec![tt(values.dtype(), x.shape.clone())])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?;
        let input = match (self, x.elem) {
            (LabelEncoder::V1 { .. }, Scalar::I32) => DType::String,
            (LabelEncoder::V1 { .. }, _) => DType::I64,
            (LabelEncoder::Map { keys, .. }, _) => keys.dtype(),
        };
        let (k, v, d) = self
            .table(input)
            .ok_or_else(|| cx.err("input type is not supported"))?;
        lower_lookup(cx, &k, &v, &d)
    }
}

/// CategoryMapper: string ↔ int64 through `cats_strings` / `cats_int64s` (paired).
#[derive(Debug)]
pub struct CategoryMapper {
    strs: Vec<Vec<u8>>,
    ints: Vec<i64>,
    default_int: i64,
    default_str: Vec<u8>,
}

pub fn import_category_mapper(a: &Attrs) -> Result<Box<dyn Op>> {
    let strs = a.strings_opt("cats_strings")?.unwrap_or_default();
    let ints = a.ints_opt("cats_int64s")?.unwrap_or_default();
    if strs.len() != ints.len() {
        return Err(a.err(
            "cats_int64s",
            format!("{} values for {} cats_strings", ints.len(), strs.len()),
        ));
    }
    Ok(Box::new(CategoryMapper {
        strs,
        ints,
        default_int: a.int("default_int64", -1)?,
        default_str: a.bytes_opt("default_string")?.unwrap_or(UNUSED.to_vec()),
    }))
}

impl CategoryMapper {
    fn table(&self, string_in: bool) -> (Consts, Consts, Consts) {
        let s = Consts::Strs(self.strs.clone());
        let i = Consts::Ints(DType::I64, self.ints.clone());
        if string_in {
            (s, i, Consts::Ints(DType::I64, vec![self.default_int]))
        } else {
            (i, s, Consts::Strs(vec![self.default_str.clone()]))
        }
    }
}

impl Op for CategoryMapper {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let d = cx.expect_dtype(0, &[DType::String, DType::I64])?;
        let out = if d == DType::String {
            DType::I64
        } else {
            DType::String
        };
        Ok(vec![tt(out, cx.ty(0)?.shape.clone())])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let string_in = cx.input(0)?.elem == Scalar::I32;
        let (k, v, d) = self.table(string_in);
        lower_lookup(cx, &k, &v, &d)
    }
}

/// ZipMap: a view on the [N, C] probabilities, with its class labels.
#[derive(Debug)]
pub struct ZipMap {
    labels: ClassLabels,
}

pub fn import_zipmap(a: &Attrs) -> Result<Box<dyn Op>> {
    let s = a.strings_opt("classlabels_strings")?;
    let i = a.ints_opt("classlabels_int64s")?;
    let labels = match (s, i) {
        (Some(s), None) => ClassLabels::Strings(s),
        (None, Some(i)) => ClassLabels::Ints(i),
        _ => {
            return Err(a.err(
                "classlabels_strings",
                "exactly one of classlabels_strings and classlabels_int64s is required",
            ))
        }
    };
    Ok(Box::new(ZipMap { labels }))
}

impl Op for ZipMap {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        cx.expect_dtype(0, &[DType::F32])?;
        let x = cx.ty(0)?;
        let n = match &self.labels {
            ClassLabels::Strings(v) => v.len(),
            ClassLabels::Ints(v) => v.len(),
        };
        let c = match x.shape.len() {
            1 | 2 => x.shape[x.shape.len() - 1].clone(),
            r => return Err(cx.err(format!("input 0 must have rank 1 or 2, got rank {r}"))),
        };
        if c.as_known().is_some_and(|c| c != n as i64) {
            return Err(cx.err(format!(
                "input 0 has {} columns but there are {n} class labels",
                c.show(cx.syms)
            )));
        }
        Ok(vec![x.clone()])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        cx.copy_linear()
    }
    fn is_view(&self) -> bool {
        true
    }
    fn class_labels(&self) -> Option<ClassLabels> {
        Some(self.labels.clone())
    }
}

/// DictVectorizer: a map (keys, values inputs) to a [1, vocabulary] row.
#[derive(Debug)]
pub struct DictVectorizer {
    vocab: Consts,
}

pub fn import_dict_vectorizer(a: &Attrs) -> Result<Box<dyn Op>> {
    let s = a.strings_opt("string_vocabulary")?;
    let i = a.ints_opt("int64_vocabulary")?;
    let vocab = match (s, i) {
        (Some(s), None) => Consts::Strs(s),
        (None, Some(i)) => Consts::Ints(DType::I64, i),
        _ => {
            return Err(a.err(
                "string_vocabulary",
                "exactly one of string_vocabulary and int64_vocabulary is required",
            ))
        }
    };
    Ok(Box::new(DictVectorizer { vocab }))
}

/// The (keys, values) inputs of a map operand.
fn map_inputs<'a>(cx: &'a InferCx) -> Result<(&'a TensorType, &'a TensorType)> {
    if cx.inputs.len() != 2 {
        return Err(cx.err(
            "input 0 must be a map graph input (Kiln passes maps as <name>.keys and <name>.values)",
        ));
    }
    let (k, v) = (cx.ty(0)?, cx.ty(1)?);
    if k.shape.len() != 1 || v.shape != k.shape {
        return Err(cx.err("the map's keys and values must be rank-1 of one length"));
    }
    Ok((k, v))
}

impl Op for DictVectorizer {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let (k, v) = map_inputs(cx)?;
        if k.dtype != self.vocab.dtype() {
            return Err(cx.err(format!(
                "the map's keys are {}, the vocabulary {}",
                k.dtype,
                self.vocab.dtype()
            )));
        }
        if !matches!(v.dtype, DType::F32 | DType::F64 | DType::I64) {
            // String values would need an "empty" id for the missing entries.
            return Err(cx.err(format!(
                "map values of type {} are not supported (float, double, int64)",
                v.dtype
            )));
        }
        Ok(vec![tt(
            v.dtype,
            vec![Dim::known(1), Dim::known(self.vocab.len() as i64)],
        )])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let voc = self.vocab.exprs(cx, "vocabulary")?;
        let k = cx.input(0)?;
        let v = cx.input(1)?;
        let y = cx.output(0)?;
        let zero = Expr::imm(y.elem, 0.0);
        cx.kb.loop_(Expr::i64(0), y.numel(), |kb, j| {
            kb.store(y.buf, j, zero.clone());
        });
        cx.kb.loop_(Expr::i64(0), k.numel(), |kb, i| {
            let key = kb.let_(k.elem, k.load(i.clone()));
            let val = kb.let_(v.elem, v.load(i));
            for (j, w) in voc.iter().enumerate() {
                let hit = cmp(CmpOp::Eq, key.clone(), w.clone());
                kb.if_(
                    hit,
                    |kb| kb.store(y.buf, Expr::i64(j as i64), val.clone()),
                    |_| {},
                );
            }
        });
        Ok(())
    }
    fn flops(&self, _: &[Option<&TensorType>], _: &[&TensorType]) -> Dim {
        Dim::known(self.vocab.len() as i64)
    }
}

/// CastMap: a map int64 → float to a tensor (DENSE: values in key order; SPARSE: by key).
#[derive(Debug)]
pub struct CastMap {
    to: DType,
    sparse: bool,
    max_map: i64,
}

pub fn import_cast_map(a: &Attrs) -> Result<Box<dyn Op>> {
    let to = match a.string("cast_to", "TO_FLOAT")?.as_str() {
        "TO_FLOAT" => DType::F32,
        "TO_INT64" => DType::I64,
        "TO_STRING" => {
            return Err(a.err(
                "cast_to",
                "TO_STRING is not supported by Kiln (numbers printed as strings have no fixed \
                 string table)",
            ))
        }
        o => return Err(a.err("cast_to", format!("unknown value '{o}'"))),
    };
    let sparse = match a.string("map_form", "DENSE")?.as_str() {
        "DENSE" => false,
        "SPARSE" => true,
        o => return Err(a.err("map_form", format!("unknown value '{o}' (DENSE, SPARSE)"))),
    };
    let max_map = a.int("max_map", 1)?;
    if sparse && max_map < 1 {
        return Err(a.err("max_map", format!("must be >= 1 for SPARSE, got {max_map}")));
    }
    Ok(Box::new(CastMap {
        to,
        sparse,
        max_map,
    }))
}

impl Op for CastMap {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let (k, v) = map_inputs(cx)?;
        if k.dtype != DType::I64 {
            return Err(cx.err(format!("the map's keys must be int64, got {}", k.dtype)));
        }
        if v.dtype != DType::F32 {
            return Err(cx.err(format!(
                "map values of type {} are not supported (float only: string values would \
                 need parsing)",
                v.dtype
            )));
        }
        let n = if self.sparse {
            Dim::known(self.max_map)
        } else {
            k.shape[0].clone()
        };
        Ok(vec![tt(self.to, vec![Dim::known(1), n])])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let k = cx.input(0)?;
        let v = cx.input(1)?;
        let y = cx.output(0)?;
        let n = k.numel();
        let conv = |e: Expr| super::to(y.elem, Scalar::F32, e);
        if self.sparse {
            let m = Expr::i64(self.max_map);
            cx.kb.loop_(Expr::i64(0), m.clone(), |kb, j| {
                kb.store(y.buf, j, Expr::imm(y.elem, 0.0));
            });
            cx.kb.loop_(Expr::i64(0), n, |kb, i| {
                let key = kb.let_(Scalar::I64, k.load(i.clone()));
                let ok = and(
                    cmp(CmpOp::Ge, key.clone(), Expr::i64(0)),
                    cmp(CmpOp::Lt, key.clone(), m.clone()),
                );
                let val = conv(v.load(i));
                kb.if_(
                    ok,
                    |kb| kb.store(y.buf, key, val),
                    |kb| kb.fail(Status::BadIndex),
                );
            });
        } else {
            // Rank of each key among the keys (keys of a map are distinct): its position in
            // key order.
            cx.kb.loop_(Expr::i64(0), n.clone(), |kb, i| {
                let key = kb.let_(Scalar::I64, k.load(i.clone()));
                let r = kb.let_mut(Scalar::I64, Expr::i64(0));
                kb.loop_(Expr::i64(0), n.clone(), |kb, j| {
                    let less = cmp(CmpOp::Lt, k.load(j), key.clone());
                    kb.set(
                        r,
                        build::add(Expr::Var(r), select(less, Expr::i64(1), Expr::i64(0))),
                    );
                });
                kb.store(y.buf, Expr::Var(r), conv(v.load(i)));
            });
        }
        Ok(())
    }
}

/// FeatureVectorizer: inputs' columns side by side, each cut or zero-padded to its
/// `inputdimensions` entry, as float.
#[derive(Debug)]
pub struct FeatureVectorizer {
    dims: Vec<i64>,
}

pub fn import_feature_vectorizer(a: &Attrs) -> Result<Box<dyn Op>> {
    let dims = a.ints_opt("inputdimensions")?.unwrap_or_default();
    if dims.iter().any(|d| *d < 0) {
        return Err(a.err("inputdimensions", "must be >= 0"));
    }
    Ok(Box::new(FeatureVectorizer { dims }))
}

impl Op for FeatureVectorizer {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        if cx.inputs.len() != self.dims.len() {
            return Err(cx.err(format!(
                "{} inputs but inputdimensions has {} entries",
                cx.inputs.len(),
                self.dims.len()
            )));
        }
        let mut rows: Option<Dim> = None;
        for i in 0..cx.inputs.len() {
            cx.expect_dtype(i, &[DType::I32, DType::I64, DType::F32, DType::F64])?;
            let (n, _) = super::rows_features(cx, i)?;
            match &rows {
                // Two known row counts must agree now; a symbolic one (converters leave the
                // batch dim of every input unnamed, so each gets its own symbol) is checked
                // against input 0's at run time (`BadDim`).
                Some(r) if *r != n && r.as_known().is_some() && n.as_known().is_some() => {
                    return Err(cx.err(format!(
                        "input {i} has {} rows, input 0 {}",
                        n.show(cx.syms),
                        r.show(cx.syms)
                    )))
                }
                Some(_) => {}
                None => rows = Some(n),
            }
        }
        let total: i64 = self.dims.iter().sum();
        Ok(vec![tt(
            DType::F32,
            vec![rows.unwrap_or(Dim::known(1)), Dim::known(total)],
        )])
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let y = cx.output(0)?;
        let total: i64 = self.dims.iter().sum();
        let rows = y.dim(0);
        for i in 1..self.dims.len() {
            let x = cx.input(i)?;
            let xr = if x.rank() == 2 {
                x.dim(0)
            } else {
                Expr::i64(1)
            };
            if xr != rows {
                let bad = cmp(CmpOp::Ne, xr, rows.clone());
                cx.kb.if_(bad, |kb| kb.fail(Status::BadDim), |_| {});
            }
        }
        let mut off = 0i64;
        for (i, &d) in self.dims.iter().enumerate() {
            let x = cx.input(i)?;
            let c = x.dim(x.rank() - 1);
            cx.kb.loop_(Expr::i64(0), rows.clone(), |kb, r| {
                kb.loop_(Expr::i64(0), Expr::i64(d), |kb, j| {
                    let inside = cmp(CmpOp::Lt, j.clone(), c.clone());
                    let src = build::add(build::mul(r.clone(), c.clone()), j.clone());
                    let dst = build::add(
                        build::mul(r.clone(), Expr::i64(total)),
                        build::add(Expr::i64(off), j),
                    );
                    kb.if_(
                        inside,
                        |kb| {
                            kb.store(
                                y.buf,
                                dst.clone(),
                                super::to(Scalar::F32, x.elem, x.load(src)),
                            )
                        },
                        |kb| kb.store(y.buf, dst.clone(), Expr::imm(Scalar::F32, 0.0)),
                    );
                });
            });
            off += d;
        }
        Ok(())
    }
    fn flops(&self, _: &[Option<&TensorType>], outputs: &[&TensorType]) -> Dim {
        outputs.first().map_or(Dim::known(0), |t| numel(&t.shape))
    }
}
