//! The compiler driver: model file → optimised graph → memory plan → kir → artifact files.
//! The library API (`Compiler`) is what `kiln compile` and build scripts call.

use crate::backend;
use crate::error::{Error, Result};
use crate::ir::{Dim, Graph};
use crate::kir::Program;
use crate::limits::Limits;
use crate::passes::{self, plan::MemoryPlan, Model};
use crate::tensor::Tensor;
use kiln_targets::Target;
use std::path::{Path, PathBuf};

/// What to emit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Emit {
    /// `NAME.o` + `NAME.h`
    Object,
    /// `NAME.c` + `NAME.h`
    C,
    /// `NAME.rs` (+ `NAME.weights.bin`)
    Rust,
}

impl Emit {
    pub fn parse(s: &str) -> Result<Emit> {
        Ok(match s {
            "object" | "obj" | "o" => Emit::Object,
            "c" => Emit::C,
            "rust" | "rs" => Emit::Rust,
            _ => {
                return Err(Error::Usage(format!(
                    "unknown --emit '{s}' (object, c or rust)"
                )))
            }
        })
    }
}

#[derive(Clone, Debug)]
pub struct Options {
    /// Prefix of every exported symbol (a C identifier).
    pub name: String,
    /// Symbolic dims fixed at compile time.
    pub dims: Vec<(String, i64)>,
    /// Graph inputs whose values are fixed at compile time.
    pub binds: Vec<(String, Tensor)>,
    /// Passes turned off (`passes::PASSES`).
    pub disabled: Vec<String>,
    /// Keep graph inputs that have an initializer as a default (exporters write every weight
    /// so with `keep_initializers_as_inputs`) as inputs of the entry. By default their
    /// initializer is used as a constant, so they fold and need not be passed.
    pub keep_default_inputs: bool,
    /// Resource limits (`--max-tensor-bytes`, `--max-nodes`, `--max-depth`,
    /// `--max-fold-bytes`).
    pub limits: Limits,
    /// Bytes of unused guard after every scratch value (0: none; `--scratch-guard`). With a
    /// guard, the C backend's output marks the scratch it is not using at each moment as
    /// poisoned for AddressSanitizer (when compiled with it), so an overrun from one tensor
    /// into its neighbour inside the scratch area is reported. For testing, not production.
    pub scratch_guard: u64,
    /// Channels per block of the NCHWc layout convolutions compute on (`passes::layout`),
    /// or 0 for NCHW everywhere. `Options::new` gives 0; `for_target` the target's choice.
    pub nchwc_block: i64,
}

impl Options {
    /// The layout choices for `target`'s kernels (`passes::layout::block_for`).
    pub fn for_target(mut self, target: &Target) -> Options {
        self.nchwc_block = passes::layout::block_for(target);
        self
    }

    pub fn new(name: &str) -> Options {
        Options {
            name: name.to_string(),
            dims: vec![],
            binds: vec![],
            disabled: vec![],
            keep_default_inputs: false,
            limits: Limits::default(),
            scratch_guard: 0,
            nchwc_block: 0,
        }
    }
}

/// The result of compiling a model, before emission.
pub struct Compiled {
    pub model: Model,
    pub plan: MemoryPlan,
    pub program: Program,
}

/// Check that `name` is a valid C identifier.
pub fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "--name '{name}' must be a C identifier ([A-Za-z_][A-Za-z0-9_]*)"
        )))
    }
}

/// Load and import a model file.
pub fn load_graph(path: &Path) -> Result<Graph> {
    load_graph_with(path, &Limits::default())
}

/// `load_graph` with resource limits.
pub fn load_graph_with(path: &Path, limits: &Limits) -> Result<Graph> {
    let (model, dir) = crate::onnx::load(path)?;
    crate::onnx::import_with(&model, &dir, limits)
}

/// Apply `--dim` and `--bind` to a graph.
pub fn specialise(g: &mut Graph, opts: &Options) -> Result<()> {
    for (name, value) in &opts.dims {
        let Some(i) = g.syms.iter().position(|s| s == name) else {
            return Err(Error::Usage(format!(
                "--dim {name}: the model has no symbolic dim '{name}' (it has: {})",
                if g.syms.is_empty() {
                    "none".to_string()
                } else {
                    g.syms.join(", ")
                }
            )));
        };
        if *value < 0 {
            return Err(Error::Usage(format!("--dim {name}={value}: must be >= 0")));
        }
        let sym = crate::kir::SymId(i as u32);
        for v in &g.inputs.clone() {
            if let Some(t) = &mut g.value_mut(*v).ty {
                for d in &mut t.shape {
                    if d.as_sym() == Some(sym) {
                        *d = Dim::known(*value);
                    }
                }
            }
        }
    }
    for (name, t) in &opts.binds {
        let Some(pos) = g.inputs.iter().position(|v| g.value(*v).name == *name) else {
            return Err(Error::Usage(format!(
                "--bind {name}: the model has no input '{name}'"
            )));
        };
        let v = g.inputs[pos];
        if let Some(ty) = &g.value(v).ty {
            if ty.dtype != t.dtype || ty.shape.len() != t.shape.len() {
                return Err(Error::Usage(format!(
                    "--bind {name}: the model declares {} {}, the file holds {} {:?}",
                    ty.dtype,
                    g.shape_str(&ty.shape),
                    t.dtype,
                    t.shape
                )));
            }
        }
        g.value_mut(v).ty = Some(crate::ir::TensorType {
            dtype: t.dtype,
            shape: t.shape.iter().map(|d| Dim::known(*d as i64)).collect(),
        });
        g.value_mut(v).konst = Some(t.clone());
        g.inputs.remove(pos);
    }
    // Inputs with a default (an initializer of the same name) become constants unless asked
    // to stay inputs.
    if !opts.keep_default_inputs {
        let defaults = std::mem::take(&mut g.defaults);
        for (v, t) in defaults {
            if let Some(pos) = g.inputs.iter().position(|i| *i == v) {
                g.inputs.remove(pos);
                g.value_mut(v).konst = Some(t);
            }
        }
    }
    for v in &g.inputs {
        let val = g.value(*v);
        let Some(t) = &val.ty else {
            return Err(Error::Model(format!(
                "input '{}' has no tensor type and shape",
                val.name
            )));
        };
        if let Some(n) = crate::ir::dim::numel(&t.shape).as_known() {
            if n >= passes::MAX_ELEMENTS {
                return Err(Error::Limit(format!(
                    "input '{}' has {n} elements (the limit is 2^40 - 1)",
                    val.name
                )));
            }
            let size = t.dtype.size().unwrap_or(1) as u64;
            opts.limits
                .check_tensor(&format!("input '{}'", val.name), n as u64, size)?;
        }
    }
    Ok(())
}

/// Compile an imported graph.
pub fn compile_graph(mut g: Graph, opts: &Options) -> Result<Compiled> {
    check_name(&opts.name)?;
    for d in &opts.disabled {
        if !passes::PASSES.contains(&d.as_str()) {
            return Err(Error::Usage(format!(
                "--disable-pass {d}: unknown pass (known: {})",
                passes::PASSES.join(", ")
            )));
        }
    }
    specialise(&mut g, opts)?;
    passes::control::inline_static_control_with(&mut g, &opts.limits)?;
    let fold = !opts.disabled.iter().any(|d| d == passes::CONST_FOLD);
    let mut model = passes::infer_with(g, fold, &opts.limits)?;
    for o in &model.graph.outputs {
        if model.graph.value(*o).ty.is_none() {
            return Err(Error::Model(format!(
                "output '{}' is not computed by any node",
                model.graph.value(*o).name
            )));
        }
    }
    if !opts.disabled.iter().any(|d| d == passes::DCE) {
        passes::dce(&mut model);
    }
    if !opts.disabled.iter().any(|d| d == passes::FOLD_BN) {
        passes::bn::fold(&mut model);
    }
    if !opts.disabled.iter().any(|d| d == passes::TRANSPOSE_VIEWS) {
        passes::views::transposes(&mut model);
    }
    if !opts.disabled.iter().any(|d| d == passes::FUSE) {
        passes::fuse::fuse(&mut model);
    }
    if !opts.disabled.iter().any(|d| d == passes::FUSE_ELEMENTWISE) {
        passes::eltwise::fuse(&mut model);
    }
    if !opts.disabled.iter().any(|d| d == passes::LAYOUT) {
        passes::layout::select(&mut model, opts.nchwc_block);
    }
    let plan = passes::plan::plan(&mut model.graph, &model.ops, opts.scratch_guard)?;
    let program = crate::lower::lower(&opts.name, &model.graph, &model.ops, &plan)?;
    Ok(Compiled {
        model,
        plan,
        program,
    })
}

/// Compile a model file.
pub fn compile_file(path: &Path, opts: &Options) -> Result<Compiled> {
    compile_graph(load_graph_with(path, &opts.limits)?, opts)
}

/// The files of an artifact: (file name, contents).
pub fn emit(p: &Program, emit: Emit, target: &Target) -> Result<Vec<(String, Vec<u8>)>> {
    let name = &p.name;
    let header = (
        format!("{name}.h"),
        backend::header::emit_header(p).into_bytes(),
    );
    Ok(match emit {
        Emit::Object => {
            let obj = backend::cranelift::object::emit_object(p, target)?;
            vec![(format!("{name}.o"), obj), header]
        }
        Emit::C => vec![
            (format!("{name}.c"), backend::c::emit_c(p).into_bytes()),
            header,
        ],
        Emit::Rust => {
            let (src, weights) = backend::rust::emit_rust(p);
            let mut v = vec![(format!("{name}.rs"), src.into_bytes())];
            if let Some(w) = weights {
                v.push((format!("{name}.weights.bin"), w));
            }
            v
        }
    })
}

/// Write files into `dir` atomically: each is written to a temporary name and renamed, so an
/// interrupted run never leaves a half-written artifact.
pub fn write_files(dir: &Path, files: &[(String, Vec<u8>)]) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut written = vec![];
    for (name, bytes) in files {
        let path = dir.join(name);
        write_atomic(&path, bytes)?;
        written.push(path);
    }
    Ok(written)
}

/// Writes `bytes` to `path` atomically: into a temporary file in the same folder (unique per
/// process and call, so concurrent writers never share one), flushed to disk, then renamed
/// over `path`. Readers see the old file or the whole new one, never a part; on any error the
/// temporary file is removed and `path` is untouched.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| Error::io(path, "not a file name"))?
        .to_string_lossy();
    let tmp = dir.join(format!(
        ".{name}.tmp{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, e)
    })
}

/// The build-script API: compile a model into `OUT_DIR` for cargo's `TARGET`.
///
/// ```no_run
/// // build.rs
/// kiln::Builder::new("model.onnx", "mymodel").build().unwrap();
/// // main.rs: include!(concat!(env!("OUT_DIR"), "/mymodel.rs"));
/// ```
pub struct Builder {
    model: PathBuf,
    opts: Options,
    emit: Emit,
    out_dir: Option<PathBuf>,
    target: Option<String>,
}

impl Builder {
    pub fn new(model: impl Into<PathBuf>, name: &str) -> Builder {
        Builder {
            model: model.into(),
            opts: Options::new(name),
            emit: Emit::Rust,
            out_dir: None,
            target: None,
        }
    }
    pub fn emit(mut self, e: Emit) -> Self {
        self.emit = e;
        self
    }
    pub fn dim(mut self, name: &str, value: i64) -> Self {
        self.opts.dims.push((name.to_string(), value));
        self
    }
    pub fn bind(mut self, name: &str, value: Tensor) -> Self {
        self.opts.binds.push((name.to_string(), value));
        self
    }
    pub fn out_dir(mut self, d: impl Into<PathBuf>) -> Self {
        self.out_dir = Some(d.into());
        self
    }
    pub fn target(mut self, t: &str) -> Self {
        self.target = Some(t.to_string());
        self
    }
    /// Compile and write the files; returns their paths. Uses `OUT_DIR` and `TARGET` from the
    /// environment (as cargo sets them for build scripts) unless given.
    pub fn build(self) -> Result<Vec<PathBuf>> {
        let out = match self.out_dir {
            Some(d) => d,
            None => PathBuf::from(std::env::var_os("OUT_DIR").ok_or_else(|| {
                Error::Usage("OUT_DIR is not set (not in a build script?): call out_dir()".into())
            })?),
        };
        let target = match self.target.or_else(|| std::env::var("TARGET").ok()) {
            Some(t) => Target::parse(&t).map_err(Error::Usage)?,
            None => Target::host(),
        };
        println!("cargo:rerun-if-changed={}", self.model.display());
        let c = compile_file(&self.model, &self.opts.clone().for_target(&target))?;
        let files = emit(&c.program, self.emit, &target)?;
        write_files(&out, &files)
    }
}

/// Compile `g` with the values of the inputs it needs at compile time bound from `inputs`
/// (one tensor per graph input, in order): each `NeedsValue` error names a node input; when it
/// is a graph input it is bound and compilation retried. If the needed value is computed from
/// graph inputs, every input of rank ≤ 1 is bound at once. Returns the program and which graph
/// inputs were bound (`None` when nothing needed binding).
pub fn compile_binding(
    g: &Graph,
    inputs: &[Tensor],
    base: &Options,
) -> Result<(Compiled, Option<Vec<bool>>)> {
    let mut bound = vec![false; g.inputs.len()];
    let mut widened = false;
    for _ in 0..=g.inputs.len() {
        let mut opts = base.clone();
        for (k, b) in bound.iter().enumerate() {
            if *b {
                let name = g.value(g.inputs[k]).name.clone();
                let t = inputs
                    .get(k)
                    .ok_or_else(|| Error::Usage(format!("no value for input {name}")))?;
                opts.binds.push((name, t.clone()));
            }
        }
        match compile_graph(g.clone(), &opts) {
            Ok(c) => return Ok((c, bound.iter().any(|b| *b).then_some(bound))),
            Err(Error::NeedsValue { node, input, msg }) => {
                let v = g
                    .nodes
                    .iter()
                    .find(|n| n.name == node)
                    .and_then(|n| n.input(input));
                match v.and_then(|v| g.inputs.iter().position(|i| *i == v)) {
                    Some(k) if !bound[k] => bound[k] = true,
                    _ if !widened => {
                        widened = true;
                        for (k, t) in inputs.iter().enumerate().take(bound.len()) {
                            if t.shape.len() <= 1 {
                                bound[k] = true;
                            }
                        }
                    }
                    _ => return Err(Error::Usage(msg)),
                }
            }
            Err(e) => return Err(e),
        }
    }
    Err(Error::Usage("binding inputs did not converge".into()))
}
