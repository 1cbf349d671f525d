//! Lowering: the optimised graph and its memory plan become a `kir::Program`. Every value gets
//! a buffer (graph inputs and outputs: the caller's; constants: the weight blob; the rest: the
//! scratch area at the planned offset; views: their root's buffer), kernel 0 validates the
//! caller's dims and lengths, then each node that is not a view lowers into one kernel.
//!
//! `eval_node` runs one node's lowering through `kir::interp`: constant folding uses it, so an
//! op's lowering is its only definition.

use crate::error::{Error, Result};
use crate::ir::{dim::numel, Dim, Graph, Node, ValueId};
use crate::kir::build::{self, KernelBuilder};
use crate::kir::{
    self, BufId, BufKind, Buffer, Expr, IoDim, IoInfo, Labels, Program, Scalar, Status, StringInfo,
    SymInfo,
};
use crate::ops::Op;
use crate::passes::plan::{MemoryPlan, Storage};
use crate::tensor::{Tensor, TensorData};
use std::collections::BTreeMap;

/// A tensor as a kernel sees it: a buffer, its element type and its shape.
#[derive(Clone, Debug)]
pub struct TensorRef {
    pub buf: BufId,
    pub elem: Scalar,
    pub shape: Vec<Dim>,
}

impl TensorRef {
    pub fn rank(&self) -> usize {
        self.shape.len()
    }
    /// Dims as I64 expressions.
    pub fn dims(&self) -> Vec<Expr> {
        self.shape.iter().map(|d| d.to_expr()).collect()
    }
    pub fn dim(&self, i: usize) -> Expr {
        self.shape[i].to_expr()
    }
    pub fn numel(&self) -> Expr {
        numel(&self.shape).to_expr()
    }
    pub fn strides(&self) -> Vec<Expr> {
        build::strides(&self.dims())
    }
    /// Load the element at a multi-index.
    pub fn at(&self, idx: &[Expr]) -> Expr {
        build::load(self.buf, build::linear(idx, &self.strides()))
    }
    /// Load the element at a linear index.
    pub fn load(&self, i: Expr) -> Expr {
        build::load(self.buf, i)
    }
}

/// What an op's `lower` works with.
pub struct LowerCx<'a> {
    pub node: &'a Node,
    pub kb: KernelBuilder,
    pub ins: Vec<Option<TensorRef>>,
    pub outs: Vec<Option<TensorRef>>,
    pub consts: Vec<Option<&'a Tensor>>,
    /// Constant arrays the op added with `weight` (appended to the weight blob after lowering).
    pub extra_weights: Vec<(String, Scalar, Vec<u8>)>,
    /// The `BufId` the first extra weight gets (the program's buffer count before this node).
    pub next_buf: u32,
    /// The model's string table (`ir::strings`).
    pub strings: &'a [Vec<u8>],
}

impl LowerCx<'_> {
    pub fn err(&self, msg: impl std::fmt::Display) -> Error {
        Error::Node(format!("{}: {msg}", self.node.describe()))
    }
    pub fn input(&self, i: usize) -> Result<TensorRef> {
        self.ins
            .get(i)
            .cloned()
            .flatten()
            .ok_or_else(|| self.err(format!("input {i} is required")))
    }
    pub fn output(&self, i: usize) -> Result<TensorRef> {
        self.outs
            .get(i)
            .cloned()
            .flatten()
            .ok_or_else(|| self.err(format!("output {i} is required")))
    }
    pub fn konst(&self, i: usize) -> Option<&Tensor> {
        self.consts.get(i).copied().flatten()
    }
    /// Add a read-only constant array (raw bytes, native layout of `elem`) to the weight blob
    /// and return its buffer. Lowerings use it for tables built at compile time (e.g. flat
    /// tree-ensemble node arrays).
    pub fn weight(&mut self, name: &str, elem: Scalar, bytes: Vec<u8>) -> BufId {
        debug_assert!(bytes.len().is_multiple_of(elem.size()));
        let id = BufId(self.next_buf + self.extra_weights.len() as u32);
        self.extra_weights
            .push((format!("{}_{name}", self.node.name), elem, bytes));
        id
    }
    /// The id of a string of the model's table (`ir::strings`); `what` names the attribute.
    pub fn string_id(&self, s: &[u8], what: &str) -> Result<i32> {
        crate::ir::strings::id_of(self.strings, s).ok_or_else(|| {
            self.err(format!(
                "{what}: string '{}' is not in the model's string table",
                String::from_utf8_lossy(s)
            ))
        })
    }
    /// Copy input 0 to output 0 element by element (views that cannot alias).
    pub fn copy_linear(&mut self) -> Result<()> {
        let x = self.input(0)?;
        let y = self.output(0)?;
        let n = y.numel();
        self.kb.loop_(Expr::i64(0), n, |kb, i| {
            kb.store(y.buf, i.clone(), x.load(i));
        });
        Ok(())
    }
}

/// Evaluate one node on constant inputs through its lowering and `kir::interp`. Output types
/// must be known (all dims constant).
pub fn eval_node(
    node: &Node,
    op: &dyn Op,
    inputs: &[Option<&Tensor>],
    out_types: &[crate::ir::TensorType],
) -> Result<Vec<Tensor>> {
    let mut buffers = vec![];
    let mut ins = vec![];
    let mut in_bytes: Vec<&[u8]> = vec![];
    let mut ios = vec![];
    for t in inputs {
        match t {
            Some(t) => {
                let TensorData::Bytes(b) = &t.data else {
                    return Err(Error::Node(format!(
                        "{}: cannot fold string tensors",
                        node.describe()
                    )));
                };
                let elem = t.dtype.storage().ok_or_else(|| {
                    Error::Node(format!("{}: cannot compute {}", node.describe(), t.dtype))
                })?;
                let id = BufId(buffers.len() as u32);
                let shape: Vec<Dim> = t.shape.iter().map(|d| Dim::known(*d as i64)).collect();
                buffers.push(Buffer {
                    name: format!("in{}", ins.len()),
                    elem,
                    len: Expr::i64(t.numel() as i64),
                    kind: BufKind::Input(in_bytes.len() as u32),
                });
                ios.push(t.numel());
                in_bytes.push(b);
                ins.push(Some(TensorRef {
                    buf: id,
                    elem,
                    shape,
                }));
            }
            None => ins.push(None),
        }
    }
    let mut outs = vec![];
    let mut out_bufs = vec![];
    for (k, t) in out_types.iter().enumerate() {
        let n = numel(&t.shape).as_known().ok_or_else(|| {
            Error::Internal(format!("{}: folding a symbolic shape", node.describe()))
        })?;
        let elem = t.dtype.storage().ok_or_else(|| {
            Error::Node(format!("{}: cannot compute {}", node.describe(), t.dtype))
        })?;
        let id = BufId(buffers.len() as u32);
        buffers.push(Buffer {
            name: format!("out{k}"),
            elem,
            len: Expr::i64(n),
            kind: BufKind::Output(k as u32),
        });
        out_bufs.push(vec![0u8; n as usize * elem.size()]);
        ios.push(n as u64);
        outs.push(Some(TensorRef {
            buf: id,
            elem,
            shape: t.shape.clone(),
        }));
    }
    let mut cx = LowerCx {
        node,
        kb: KernelBuilder::new(),
        ins,
        outs,
        consts: inputs.to_vec(),
        extra_weights: vec![],
        next_buf: buffers.len() as u32,
        strings: &[],
    };
    op.lower(&mut cx)?;
    let mut weights = vec![];
    add_extra_weights(
        &mut buffers,
        &mut weights,
        std::mem::take(&mut cx.extra_weights),
    );
    let kernel = cx.kb.finish("fold");
    let n_in = in_bytes.len();
    let program = Program {
        name: "fold".into(),
        syms: vec![],
        buffers,
        kernels: vec![KernelBuilder::new().finish("check"), kernel],
        weights,
        scratch_len: Expr::i64(0),
        scratch_guard: 0,
        inputs: (0..n_in)
            .map(|i| IoInfo {
                name: format!("in{i}"),
                elem: Scalar::U8,
                buf: BufId(i as u32),
                shape: vec![],
                len: Expr::i64(0),
            })
            .collect(),
        outputs: vec![],
        strings: Default::default(),
    };
    if cfg!(debug_assertions) {
        kir::verify::verify(&program)
            .map_err(|e| Error::Internal(format!("{}: {e}", node.describe())))?;
    }
    let mut lens = ios.clone();
    lens.push(0);
    let mut mem = kir::interp::Memory {
        inputs: in_bytes,
        outputs: out_bufs.iter_mut().map(|b| b.as_mut_slice()).collect(),
        scratch: &mut [],
    };
    let st = kir::interp::run(&program, &[], &lens, &mut mem)
        .map_err(|f| Error::Internal(format!("{}: {f}", node.describe())))?;
    if st != Status::Ok {
        return Err(Error::Node(format!(
            "{}: {} (while evaluating at compile time)",
            node.describe(),
            st.describe()
        )));
    }
    Ok(out_bufs
        .into_iter()
        .zip(out_types)
        .map(|(b, t)| {
            Tensor::from_bytes(
                t.dtype,
                t.shape
                    .iter()
                    .map(|d| d.as_known().unwrap_or(0) as u64)
                    .collect(),
                b,
            )
        })
        .collect())
}

/// The scratch byte offset of a `Storage::Slice` value: its root's offset plus the slice
/// offsets along the chain (a slice of a Concat output that is itself a slice of another).
fn slice_offset(plan: &MemoryPlan, mut v: ValueId) -> Option<Dim> {
    let mut add = 0i64;
    for _ in 0..=plan.storage.len() {
        match plan.storage.get(&v)? {
            Storage::Slice {
                of, byte_offset, ..
            } => {
                add += byte_offset;
                v = *of;
            }
            Storage::Scratch { offset, .. } => return Some(offset.add(&Dim::known(add))),
            _ => return None,
        }
    }
    None
}

/// Lower a planned graph into a program.
pub fn lower(name: &str, g: &Graph, ops: &[Box<dyn Op>], plan: &MemoryPlan) -> Result<Program> {
    let mut buffers: Vec<Buffer> = vec![];
    let mut weights: Vec<u8> = vec![];
    let mut buf_of: BTreeMap<ValueId, BufId> = BTreeMap::new();
    let ty_of = |v: ValueId| -> Result<&crate::ir::TensorType> {
        g.value(v)
            .ty
            .as_ref()
            .ok_or_else(|| Error::Internal(format!("value {} has no type", g.value(v).name)))
    };
    // Buffers for every planned value, in value order (deterministic).
    for (v, st) in &plan.storage {
        let t = ty_of(*v)?;
        let elem = t.dtype.storage().ok_or_else(|| {
            Error::Node(format!(
                "value {}: element type {} is not supported",
                g.value(*v).name,
                t.dtype
            ))
        })?;
        let len = numel(&t.shape).to_expr();
        let kind = match st {
            Storage::Input(i) => BufKind::Input(*i),
            Storage::Output(i) => BufKind::Output(*i),
            Storage::Weight => {
                let k = g.value(*v).konst.as_ref().ok_or_else(|| {
                    Error::Internal(format!("weight {} has no value", g.value(*v).name))
                })?;
                while !weights.len().is_multiple_of(64) {
                    weights.push(0);
                }
                let offset = weights.len() as u64;
                if let TensorData::Strings(ss) = &k.data {
                    for s in ss {
                        let id = crate::ir::strings::id_of(&g.strings, s).ok_or_else(|| {
                            Error::Internal(format!(
                                "a string of {} is not in the table",
                                g.value(*v).name
                            ))
                        })?;
                        weights.extend_from_slice(&id.to_le_bytes());
                    }
                } else {
                    weights.extend_from_slice(k.bytes());
                }
                BufKind::Weight { offset }
            }
            Storage::Scratch { offset, .. } => BufKind::Scratch {
                offset: offset.to_expr(),
            },
            Storage::Slice { .. } => BufKind::Scratch {
                offset: slice_offset(plan, *v)
                    .ok_or_else(|| {
                        Error::Internal(format!("slice {} has no scratch root", g.value(*v).name))
                    })?
                    .to_expr(),
            },
            Storage::View(_) => continue,
        };
        buf_of.insert(*v, BufId(buffers.len() as u32));
        buffers.push(Buffer {
            name: g.value(*v).name.clone(),
            elem,
            len,
            kind,
        });
    }
    for (v, st) in &plan.storage {
        if let Storage::View(root) = st {
            let b = *buf_of
                .get(root)
                .ok_or_else(|| Error::Internal(format!("view root of {}", g.value(*v).name)))?;
            buf_of.insert(*v, b);
        }
    }
    while !weights.len().is_multiple_of(64) {
        weights.push(0);
    }
    let tref = |v: ValueId| -> Result<TensorRef> {
        let t = ty_of(v)?;
        Ok(TensorRef {
            buf: *buf_of
                .get(&v)
                .ok_or_else(|| Error::Internal(format!("no buffer for {}", g.value(v).name)))?,
            elem: t.dtype.storage().unwrap_or(Scalar::U8),
            shape: t.shape.clone(),
        })
    };

    // I/O descriptions.
    let io = |v: ValueId, name: &str| -> Result<IoInfo> {
        let t = ty_of(v)?;
        Ok(IoInfo {
            name: name.to_string(),
            elem: t.dtype.storage().unwrap_or(Scalar::U8),
            buf: buf_of[&v],
            shape: t
                .shape
                .iter()
                .map(|d| match (d.as_known(), d.as_sym()) {
                    (Some(k), _) => IoDim::Fixed(k as u64),
                    (_, Some(s)) => IoDim::Sym(s),
                    _ => IoDim::Expr(d.to_expr(), d.show(&g.syms)),
                })
                .collect(),
            len: numel(&t.shape).to_expr(),
        })
    };
    let inputs: Vec<IoInfo> = g
        .inputs
        .iter()
        .map(|v| io(*v, &g.value(*v).name))
        .collect::<Result<_>>()?;
    let outputs: Vec<IoInfo> = plan
        .output_values
        .iter()
        .zip(&g.outputs)
        .map(|(ov, gv)| io(*ov, &g.value(*gv).name))
        .collect::<Result<_>>()?;

    // Largest dim values such that no size computation overflows.
    let syms = sym_limits(g, plan, &buffers);

    // Kernel 0: validate dims and lengths.
    let mut kb = KernelBuilder::new();
    for (i, s) in syms.iter().enumerate() {
        let d = Expr::Dim(kir::SymId(i as u32));
        let bad = build::or(
            build::cmp(kir::CmpOp::Lt, d.clone(), Expr::i64(0)),
            build::cmp(kir::CmpOp::Gt, d, Expr::i64(s.max)),
        );
        kb.if_(bad, |kb| kb.fail(Status::BadDim), |_| {});
    }
    let scratch_len = plan.scratch_size.to_expr();
    let mut need: Vec<Expr> = inputs
        .iter()
        .chain(&outputs)
        .map(|io| io.len.clone())
        .collect();
    need.push(scratch_len.clone());
    for (i, n) in need.into_iter().enumerate() {
        if n.as_const_i64() == Some(0) {
            continue;
        }
        let bad = build::cmp(kir::CmpOp::Lt, Expr::Len(i as u32), n);
        kb.if_(bad, |kb| kb.fail(Status::BadLength), |_| {});
    }
    let mut kernels = vec![kb.finish(format!("{name}_check"))];

    // One kernel per node that computes something.
    let mut used_names: Vec<String> = vec![];
    for (ni, (node, op)) in g.nodes.iter().zip(ops).enumerate() {
        if plan.aliased.contains(&ni) {
            continue;
        }
        let mut cx = LowerCx {
            node,
            kb: KernelBuilder::new(),
            ins: node
                .inputs
                .iter()
                .map(|v| v.map(tref).transpose())
                .collect::<Result<_>>()?,
            outs: node
                .outputs
                .iter()
                .map(|v| v.map(tref).transpose())
                .collect::<Result<_>>()?,
            consts: node
                .inputs
                .iter()
                .map(|v| v.and_then(|v| g.value(v).konst.as_ref()))
                .collect(),
            extra_weights: vec![],
            next_buf: buffers.len() as u32,
            strings: &g.strings,
        };
        if op.is_view() {
            cx.copy_linear()?;
        } else {
            op.lower(&mut cx)?;
        }
        add_extra_weights(
            &mut buffers,
            &mut weights,
            std::mem::take(&mut cx.extra_weights),
        );
        let kname = unique(
            &mut used_names,
            &format!("{}_{}", ni, crate::backend::ident(&node.name)),
        );
        let mut k = cx.kb.finish(kname);
        kir::simplify::kernel(&mut k);
        kernels.push(k);
    }
    // Copies into outputs that could not be computed in place.
    for (k, (ov, src)) in plan
        .output_values
        .iter()
        .zip(&plan.output_sources)
        .enumerate()
    {
        if let Some(src) = src {
            let x = tref(*src)?;
            let y = tref(*ov)?;
            let mut kb = KernelBuilder::new();
            kb.loop_(Expr::i64(0), y.numel(), |kb, i| {
                kb.store(y.buf, i.clone(), x.load(i))
            });
            kernels.push(kb.finish(format!("copy_output_{k}")));
        }
    }
    let is_string = |v: &ValueId| {
        g.value(*v)
            .ty
            .as_ref()
            .is_some_and(|t| t.dtype == crate::tensor::DType::String)
    };
    let producers = g.producers();
    let mut labels = vec![];
    for (k, o) in g.outputs.iter().enumerate() {
        let Some(n) = producers[o.0 as usize] else {
            continue;
        };
        let node = &g.nodes[n.0 as usize];
        match ops[n.0 as usize].class_labels() {
            Some(crate::ops::ClassLabels::Ints(v)) => labels.push((k as u32, Labels::Ints(v))),
            Some(crate::ops::ClassLabels::Strings(v)) => {
                let ids = v
                    .iter()
                    .map(|s| {
                        crate::ir::strings::id_of(&g.strings, s).ok_or_else(|| {
                            Error::Internal(format!("{}: label not in the table", node.describe()))
                        })
                    })
                    .collect::<Result<_>>()?;
                labels.push((k as u32, Labels::Strings(ids)));
            }
            None => {}
        }
    }
    let weights = compact_weights(&mut buffers, &weights, &kernels);
    let strings = StringInfo {
        table: g.strings.clone(),
        inputs: g.inputs.iter().map(is_string).collect(),
        outputs: g.outputs.iter().map(is_string).collect(),
        labels,
    };
    let p = Program {
        name: name.to_string(),
        syms,
        buffers,
        kernels,
        weights,
        scratch_len,
        inputs,
        outputs,
        strings,
        scratch_guard: plan.guard as u64,
    };
    if cfg!(debug_assertions) {
        kir::verify::verify(&p).map_err(Error::Internal)?;
    }
    Ok(p)
}

/// The weight blob with only the weight buffers some kernel reads (64-byte aligned, in
/// buffer order), moving their offsets. Constants that were only needed at compile time (a
/// Reshape's shape, Slice bounds) or that a lowering replaced with its own layout (a Gemm's
/// B pre-transposed) are dropped: their buffers become empty.
fn compact_weights(buffers: &mut [Buffer], weights: &[u8], kernels: &[kir::Kernel]) -> Vec<u8> {
    use kir::Stmt;
    let mut used = vec![false; buffers.len()];
    fn stores(body: &[Stmt], used: &mut [bool]) {
        for s in body {
            match s {
                Stmt::Store { buf, .. } => used[buf.0 as usize] = true,
                Stmt::Loop { body, .. } => stores(body, used),
                Stmt::If { then, els, .. } => {
                    stores(then, used);
                    stores(els, used);
                }
                Stmt::Gemm { fallback, .. } => stores(fallback, used),
                _ => {}
            }
        }
    }
    for k in kernels {
        kir::visit_stmts(&k.body, &mut |e| {
            if let Expr::Load(b, _) = e {
                if let Some(u) = used.get_mut(b.0 as usize) {
                    *u = true;
                }
            }
        });
        stores(&k.body, &mut used);
    }
    let mut out = vec![];
    for (b, u) in buffers.iter_mut().zip(used) {
        let BufKind::Weight { offset } = b.kind else {
            continue;
        };
        let bytes = b.len.as_const_i64().unwrap_or(0).max(0) as usize * b.elem.size();
        let start = offset as usize;
        match weights.get(start..start + bytes) {
            Some(data) if u => {
                while !out.len().is_multiple_of(64) {
                    out.push(0);
                }
                b.kind = BufKind::Weight {
                    offset: out.len() as u64,
                };
                out.extend_from_slice(data);
            }
            _ => {
                b.kind = BufKind::Weight { offset: 0 };
                b.len = Expr::i64(0);
            }
        }
    }
    while !out.len().is_multiple_of(64) {
        out.push(0);
    }
    out
}

/// Append arrays added through `LowerCx::weight` to the weight blob (64-byte aligned).
fn add_extra_weights(
    buffers: &mut Vec<Buffer>,
    weights: &mut Vec<u8>,
    extra: Vec<(String, Scalar, Vec<u8>)>,
) {
    for (name, elem, bytes) in extra {
        while !weights.len().is_multiple_of(64) {
            weights.push(0);
        }
        let offset = weights.len() as u64;
        weights.extend_from_slice(&bytes);
        buffers.push(Buffer {
            name,
            elem,
            len: Expr::i64((bytes.len() / elem.size()) as i64),
            kind: BufKind::Weight { offset },
        });
    }
    while !weights.len().is_multiple_of(64) {
        weights.push(0);
    }
}

fn unique(used: &mut Vec<String>, base: &str) -> String {
    let mut c = base.to_string();
    let mut k = 2;
    while used.contains(&c) {
        c = format!("{base}_{k}");
        k += 1;
    }
    used.push(c.clone());
    c
}

/// The largest value each symbol may take: every buffer's byte size, and the scratch size,
/// stay below 2^62 with all symbols at their limits (so no size or index computation in the
/// generated code can overflow), capped at 2^31 - 1.
fn sym_limits(g: &Graph, plan: &MemoryPlan, buffers: &[Buffer]) -> Vec<SymInfo> {
    let _ = buffers;
    let mut sizes: Vec<Dim> = vec![plan.scratch_size.clone()];
    for v in plan.storage.keys() {
        if let Some(t) = &g.value(*v).ty {
            let es = t.dtype.storage().map_or(1, |e| e.size()) as i64;
            sizes.push(numel(&t.shape).scale(es));
        }
    }
    let limit: i64 = 1 << 62;
    let fits = |b: i64| {
        sizes
            .iter()
            .all(|s| s.eval(&|_| b).is_some_and(|v| v < limit))
    };
    let (mut lo, mut hi) = (0i64, (1i64 << 31) - 1);
    if fits(hi) {
        lo = hi;
    }
    while lo < hi {
        let mid = lo + (hi - lo + 1) / 2;
        if fits(mid) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    g.syms
        .iter()
        .map(|n| SymInfo {
            name: n.clone(),
            max: lo,
        })
        .collect()
}
