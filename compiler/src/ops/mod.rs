//! Ops: one file per ONNX op (or family of one-line element-wise ops), and the registry
//! table that maps `(domain, op_type)` to the op's importer.
//!
//! An op is imported from its node's attributes (typed, opset-aware, every attribute read or
//! rejected), then `infer`s its output types (all validation lives there), and `lower`s into
//! kir. Constant folding runs the op's own lowering through `kir::interp`, so there is no
//! second evaluator to keep in sync.

pub mod attn;
pub mod attrs;
pub mod bitcast;
pub mod broadcast;
pub mod cast;
pub mod cnn;
pub mod concat;
pub mod constant;
pub mod elementwise;
pub mod gather;
pub mod gemm;
pub mod half;
pub mod math;
pub mod matmul;
pub mod ml;
pub mod quant;
pub mod reshape;
pub mod rnn;
pub mod shape;
pub mod slice;
pub mod softmax;
pub mod tensor_ops;
pub mod transpose;

pub use attrs::Attrs;

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::ir::{Dim, Node, TensorType};
use crate::kir::Scalar;
use crate::lower::LowerCx;
use crate::tensor::{DType, Tensor};

/// What the compiler needs from an op.
pub trait Op: std::fmt::Debug {
    /// Output types from the inputs' types (and values, for inputs that are constants).
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>>;
    /// Emit the kernel body computing the outputs.
    fn lower(&self, cx: &mut LowerCx) -> Result<()>;
    /// Output 0 is input 0's elements in the same order (Reshape, Flatten, Squeeze,
    /// Unsqueeze, Identity): it shares the input's storage and needs no kernel.
    fn is_view(&self) -> bool {
        false
    }
    /// For Concat: the axis (normalised for `rank`) along which output 0 joins the inputs, so
    /// that the memory planner can have each input's producer write straight into its slice
    /// of the output (`passes::plan`, "concat in place").
    fn concat_axis(&self, _rank: usize) -> Option<usize> {
        None
    }
    /// Output values computed directly at compile time (Constant, Shape of known dims), when
    /// no lowering is needed.
    fn fold(&self, _cx: &InferCx) -> Result<Option<Vec<Tensor>>> {
        Ok(None)
    }
    /// Class labels of output 0's columns, for ZipMap (a view whose caller-side meaning is
    /// a map per row, `kir::StringInfo::labels`).
    fn class_labels(&self) -> Option<ClassLabels> {
        None
    }
    /// The op with `e` run on its output inside its kernel (`passes::fuse`), or None when it
    /// cannot take it.
    fn with_epilogue(&self, _e: &Epilogue) -> Option<Box<dyn Op>> {
        None
    }
    /// The op computing on the blocked NCHWc layout of `block` channels (`passes::layout`):
    /// its image inputs and outputs `[N, C / block, H, W, block]` instead of `[N, C, H, W]`;
    /// None when it has no such form.
    fn with_layout(&self, _block: i64) -> Option<Box<dyn Op>> {
        None
    }
    /// Floating-point (or integer) operations per run; by default one per output element.
    fn flops(&self, _inputs: &[Option<&TensorType>], outputs: &[&TensorType]) -> Dim {
        outputs
            .first()
            .map_or(Dim::known(0), |t| crate::ir::dim::numel(&t.shape))
    }
}

/// Work fused onto an op's f32 output (`passes::fuse`): `y = y + R` when `residual` (R is
/// the op's last input: of the output's type, or for MatMul and Gemm a row vector over the
/// output's last dim, `Epilogue::row_vector`, added to every row), then
/// `y = lo > y ? lo : y`, `y = hi < y ? hi : y`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Epilogue {
    pub residual: bool,
    pub lo: f32,
    pub hi: f32,
}

impl Default for Epilogue {
    fn default() -> Self {
        Epilogue {
            residual: false,
            lo: f32::NEG_INFINITY,
            hi: f32::INFINITY,
        }
    }
}

impl Epilogue {
    pub fn is_none(&self) -> bool {
        *self == Epilogue::default()
    }

    /// Whether `r` is a row vector over the last dim of `out`: of rank at most `out`'s, every
    /// dim 1 but the last, which is `out`'s last (`[N]`, `[1, N]`, `[1, 1, N]`, ...), so that
    /// `out + r` adds the same vector to every row and keeps `out`'s shape.
    pub fn row_vector(r: &TensorType, out: &TensorType) -> bool {
        let (Some(last), Some(out_last)) = (r.shape.last(), out.shape.last()) else {
            return false;
        };
        r.dtype == out.dtype
            && r.shape.len() <= out.shape.len()
            && last == out_last
            && r.shape[..r.shape.len() - 1]
                .iter()
                .all(|d| *d == Dim::known(1))
    }

    /// Checks a fused residual (input `i`) against the op's output `out`: the output's type,
    /// or a row vector over its last dim when `row_ok`.
    pub fn check_residual(
        &self,
        cx: &InferCx,
        i: usize,
        out: &TensorType,
        row_ok: bool,
    ) -> Result<()> {
        if out.dtype != DType::F32 && !self.is_none() {
            return Err(cx.err(format!("a fused epilogue on a {} output", out.dtype)));
        }
        if !self.residual {
            return Ok(());
        }
        let r = cx.ty(i)?;
        if r == out || (row_ok && Epilogue::row_vector(r, out)) {
            return Ok(());
        }
        Err(cx.err(format!(
            "the fused residual is {} {}, not the output's {} {}{}",
            r.dtype,
            cx.shape_str(&r.shape),
            out.dtype,
            cx.shape_str(&out.shape),
            if row_ok {
                " or a row vector over its last dim"
            } else {
                ""
            }
        )))
    }
}

/// Class labels as an op holds them (strings are resolved to ids at lowering).
#[derive(Clone, Debug, PartialEq)]
pub enum ClassLabels {
    Strings(Vec<Vec<u8>>),
    Ints(Vec<i64>),
}

/// Inputs of a node during inference.
pub struct InferCx<'a> {
    pub node: &'a Node,
    /// Type of each input (None: the optional input is absent).
    pub inputs: Vec<Option<&'a TensorType>>,
    /// Value of each input that is a constant.
    pub consts: Vec<Option<&'a Tensor>>,
    pub syms: &'a [String],
}

impl InferCx<'_> {
    pub fn err(&self, msg: impl std::fmt::Display) -> Error {
        Error::Node(format!("{}: {msg}", self.node.describe()))
    }
    /// Type of a required input.
    pub fn ty(&self, i: usize) -> Result<&TensorType> {
        self.inputs
            .get(i)
            .copied()
            .flatten()
            .ok_or_else(|| self.err(format!("input {i} is required")))
    }
    pub fn has(&self, i: usize) -> bool {
        self.inputs.get(i).copied().flatten().is_some()
    }
    pub fn konst(&self, i: usize) -> Option<&Tensor> {
        self.consts.get(i).copied().flatten()
    }
    /// The kir element type of input `i` (errors for dtypes Kiln does not compute).
    pub fn scalar(&self, i: usize) -> Result<Scalar> {
        let t = self.ty(i)?;
        t.dtype.scalar().ok_or_else(|| {
            self.err(format!(
                "input {i}: element type {} is not supported",
                t.dtype
            ))
        })
    }
    /// Require input `i`'s dtype to be one of `allowed`.
    pub fn expect_dtype(&self, i: usize, allowed: &[DType]) -> Result<DType> {
        let d = self.ty(i)?.dtype;
        if allowed.contains(&d) {
            Ok(d)
        } else {
            let names: Vec<&str> = allowed.iter().map(|d| d.name()).collect();
            Err(self.err(format!(
                "input {i} has element type {d}; this op takes {}",
                names.join(", ")
            )))
        }
    }
    /// A constant integer tensor input (shapes, axes, pads), required to be known at compile
    /// time.
    pub fn const_ints(&self, i: usize, what: &str) -> Result<Vec<i64>> {
        match self.konst(i) {
            Some(t) if matches!(t.dtype, DType::I64 | DType::I32) => Ok(t.to_i64_vec()),
            Some(t) => Err(self.err(format!("{what} (input {i}) must be int64, got {}", t.dtype))),
            None => Err(self.need_const(i, what)),
        }
    }
    /// The error for an input whose value is needed at compile time but is not a constant.
    pub fn need_const(&self, i: usize, what: &str) -> Error {
        Error::NeedsValue {
            node: self.node.name.clone(),
            input: i,
            msg: format!(
                "{}: {what} (input {i}) must be known at compile time (a constant or \
                 initializer; bind a graph input with --bind NAME=FILE.npy)",
                self.node.describe()
            ),
        }
    }
    pub fn shape_str(&self, s: &[Dim]) -> String {
        let parts: Vec<String> = s.iter().map(|d| d.show(self.syms)).collect();
        format!("({})", parts.join(", "))
    }
    /// Normalise a possibly negative axis against `rank`.
    pub fn axis(&self, axis: i64, rank: usize, what: &str) -> Result<usize> {
        let r = rank as i64;
        if axis < -r || axis >= r.max(1) && !(r == 0 && axis == 0) {
            return Err(self.err(format!("{what} {axis} out of range for rank {rank}")));
        }
        Ok(if axis < 0 {
            (axis + r) as usize
        } else {
            axis as usize
        })
    }
}

pub fn tt(dtype: DType, shape: Vec<Dim>) -> TensorType {
    TensorType { dtype, shape }
}

/// Float dtypes Kiln computes.
pub const FLOATS: &[DType] = &[DType::F32, DType::F64];
/// Numeric dtypes Kiln computes.
pub const NUMERIC: &[DType] = &[
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
];
/// Every dtype data-movement ops (views, Transpose, Concat, Gather, Slice, Expand, Tile)
/// take: `ALL` and strings (int32 ids, `ir::strings`).
pub const MOVABLE: &[DType] = &[
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
    DType::String,
];
/// Every dtype Kiln computes.
pub const ALL: &[DType] = &[
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
];

type Import = fn(&Attrs) -> Result<Box<dyn Op>>;

/// One registry line: domain, op, the first opset version handled, and the importer.
pub struct OpEntry {
    pub domain: &'static str,
    pub name: &'static str,
    pub since: i64,
    pub import: Import,
}

/// Builds a registry table: `domain "Name" since V => importer`.
#[macro_export]
macro_rules! ops_table {
    ($vis:vis $table:ident: $( $domain:literal $name:literal since $since:literal => $import:expr ),* $(,)?) => {
        $vis static $table: &[$crate::ops::OpEntry] = &[
            $( $crate::ops::OpEntry { domain: $domain, name: $name, since: $since, import: $import } ),*
        ];
    };
}

/// Every registry table: the core ops below, then one table per op family.
pub static TABLES: &[&[OpEntry]] = &[
    CORE,
    attn::OPS,
    cnn::OPS,
    math::OPS,
    tensor_ops::OPS,
    quant::OPS,
    rnn::OPS,
    ml::OPS,
];

/// Every supported op, sorted by domain and name.
pub fn registry() -> Vec<&'static OpEntry> {
    let mut v: Vec<&OpEntry> = TABLES.iter().flat_map(|t| t.iter()).collect();
    v.sort_by(|a, b| (a.domain, a.name, a.since).cmp(&(b.domain, b.name, b.since)));
    v
}

ops_table! { CORE:
    "" "Abs" since 6 => elementwise::import_unary,
    "" "Add" since 1 => elementwise::import_binary,
    "" "BitCast" since 26 => bitcast::import,
    "" "Cast" since 6 => cast::import,
    "" "Concat" since 4 => concat::import,
    "" "Constant" since 1 => constant::import,
    "" "Div" since 1 => elementwise::import_binary,
    "" "Exp" since 6 => elementwise::import_unary,
    "" "Flatten" since 1 => reshape::import_flatten,
    "" "Gather" since 1 => gather::import,
    "" "Gemm" since 1 => gemm::import,
    "" "Identity" since 1 => reshape::import_identity,
    "" "Log" since 6 => elementwise::import_unary,
    "" "LogSoftmax" since 1 => softmax::import,
    "" "MatMul" since 1 => matmul::import,
    "" "Mul" since 1 => elementwise::import_binary,
    "" "Neg" since 6 => elementwise::import_unary,
    "" "Pow" since 1 => elementwise::import_binary,
    "" "Relu" since 6 => elementwise::import_unary,
    "" "Reshape" since 5 => reshape::import_reshape,
    "" "Shape" since 1 => shape::import,
    "" "Sigmoid" since 6 => elementwise::import_unary,
    "" "Slice" since 1 => slice::import,
    "" "Softmax" since 1 => softmax::import,
    "" "Sqrt" since 6 => elementwise::import_unary,
    "" "Squeeze" since 1 => reshape::import_squeeze,
    "" "Sub" since 1 => elementwise::import_binary,
    "" "Tanh" since 6 => elementwise::import_unary,
    "" "Transpose" since 1 => transpose::import,
    "" "Unsqueeze" since 1 => reshape::import_unsqueeze,
}

fn norm_domain(d: &str) -> &str {
    if d == "ai.onnx" {
        ""
    } else {
        d
    }
}

/// The registry entry for a node, if Kiln supports its op at its opset (the entry with the
/// highest `since` not above the node's opset).
pub fn lookup(node: &Node) -> Option<&'static OpEntry> {
    // Every (domain, op) maps to its entries, newest `since` first; built once. A linear scan
    // of the ~400 entries per node was a fifth of the time of a small compile.
    static INDEX: std::sync::OnceLock<
        HashMap<(&'static str, &'static str), Vec<&'static OpEntry>>,
    > = std::sync::OnceLock::new();
    let index = INDEX.get_or_init(|| {
        let mut m: HashMap<(&'static str, &'static str), Vec<&'static OpEntry>> = HashMap::new();
        for e in TABLES.iter().flat_map(|t| t.iter()) {
            m.entry((e.domain, e.name)).or_default().push(e);
        }
        for v in m.values_mut() {
            v.sort_by_key(|e| std::cmp::Reverse(e.since));
        }
        m
    });
    index
        .get(&(norm_domain(&node.domain), node.op_type.as_str()))?
        .iter()
        .copied()
        .find(|e| node.opset >= e.since)
}

/// Import the typed op of a node (all attributes read or rejected).
pub fn import(node: &Node) -> Result<Box<dyn Op>> {
    let e = lookup(node).ok_or_else(|| Error::Unsupported(node.describe()))?;
    let a = Attrs::new(node);
    let op = (e.import)(&a)?;
    a.finish()?;
    Ok(op)
}

/// Import every node's op; an error lists every unsupported op (not just the first).
pub fn import_all(nodes: &[Node]) -> Result<Vec<Box<dyn Op>>> {
    let mut missing: Vec<String> = vec![];
    for n in nodes {
        if lookup(n).is_none() {
            missing.push(format!("{} (node {})", op_label(n), n.name));
        }
    }
    if !missing.is_empty() {
        return Err(Error::Unsupported(missing.join(", ")));
    }
    nodes.iter().map(import).collect()
}

/// Ops whose output shape depends on input values. An ahead-of-time compiler with a static
/// memory plan cannot size their outputs; see docs/conformance.md ("Data-dependent shapes").
const DATA_DEPENDENT: &[&str] = &[
    "NonZero",
    "Unique",
    "NonMaxSuppression",
    "Compress",
    "StringSplit",
    "TfIdfVectorizer",
];

fn op_label(n: &Node) -> String {
    if norm_domain(&n.domain).is_empty() && DATA_DEPENDENT.contains(&n.op_type.as_str()) {
        return format!(
            "{} (opset {}: its output shape depends on input values, which a static memory plan cannot size)",
            n.op_type, n.opset
        );
    }
    let d = norm_domain(&n.domain);
    if d.is_empty() {
        format!("{} (opset {})", n.op_type, n.opset)
    } else {
        format!("{d}::{} (opset {})", n.op_type, n.opset)
    }
}

#[cfg(test)]
mod registry_tests {
    use super::*;

    /// `lookup` picks the newest entry not above the node's opset; two entries with the same
    /// (domain, op, since) would make that choice arbitrary.
    #[test]
    fn entries_are_unique() {
        let r = registry();
        for w in r.windows(2) {
            assert!(
                (w[0].domain, w[0].name, w[0].since) != (w[1].domain, w[1].name, w[1].since),
                "{}::{} since {} registered twice",
                w[0].domain,
                w[0].name,
                w[0].since
            );
        }
    }
}
