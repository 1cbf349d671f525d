//! The Cranelift backend: translates a whole `kir::Program` into a `cranelift_module::Module`
//! through `&mut dyn Module`, so the same code feeds the JIT (`jit.rs`, tests and `kiln run`)
//! and object files (`object.rs`).
//!
//! Layout of the generated module (docs/abi.md):
//! - `NAME_k<i>` (local): kernel `i`, `(dims, inputs, outputs, scratch, lens, par) -> i32`,
//!   all arguments pointer-sized; returns 0 or the status of the `Fail` it ran;
//! - `NAME_run_parallel` (exported, platform C calling convention): calls the kernels in
//!   order with its six arguments and returns the first non-zero status;
//! - `NAME_run` (exported): the same with five arguments and a null `par`;
//! - `NAME_weights` (local, read-only, 64-byte aligned): the weight blob, omitted when empty;
//! - `kiln_shim_*` (imported): one declaration per (MathFn, type) the program calls.
//!
//! Invariants: the program is verified (`kir::verify`) before translation; declarations and
//! definitions happen in a fixed order (weights, kernels, entry; shims in first-use order) and
//! no hash-map order reaches the output, so objects are byte-identical across runs; buffer
//! elements are little-endian on every target (explicit memory-flag endianness), the ABI's
//! pointer and `dims`/`lens` arrays are native-endian.

mod expr;
mod hoist;
pub mod isa;
pub mod jit;
pub(crate) mod kernel;
pub mod object;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_native;
#[cfg(test)]
mod tests_ops;

use std::collections::BTreeMap;

use cranelift_codegen::ir::{types, AbiParam, InstBuilder, Signature, Type, UserFuncName};
use cranelift_codegen::CodegenError;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_module::{DataDescription, DataId, FuncId, Linkage, Module, ModuleError};

use crate::error::Error;
use crate::kir::{self, MathFn, Program, Scalar};

pub use isa::isa_for;
pub use jit::JitProgram;
pub use object::emit_object;

pub(crate) fn err(msg: impl Into<String>) -> Error {
    Error::Backend {
        backend: "cranelift",
        msg: msg.into(),
    }
}

/// A `ModuleError` as a backend error, saying what was being done.
pub(crate) fn module_err(what: &str, e: ModuleError) -> Error {
    match e {
        ModuleError::Compilation(CodegenError::Verifier(v)) => {
            err(format!("{what}: Cranelift verifier: {v}"))
        }
        e => err(format!("{what}: {e}")),
    }
}

/// What `define_program` declared in the module.
#[derive(Clone, Debug)]
pub struct Defined {
    /// `NAME_run`.
    pub entry: FuncId,
    /// `NAME_run_parallel`.
    pub entry_parallel: FuncId,
    /// `NAME_k<i>`, in program order.
    pub kernels: Vec<FuncId>,
    /// `NAME_weights`, if the blob is not empty.
    pub weights: Option<DataId>,
}

/// Symbol of the entry function.
pub fn entry_symbol(p: &Program) -> String {
    format!("{}_run", p.name)
}

/// Symbol of the entry function with a parallel-for.
pub fn entry_parallel_symbol(p: &Program) -> String {
    format!("{}_run_parallel", p.name)
}

/// Symbol of the weights data object.
pub fn weights_symbol(p: &Program) -> String {
    format!("{}_weights", p.name)
}

/// Symbol of kernel `i`.
pub fn kernel_symbol(p: &Program, i: usize) -> String {
    format!("{}_k{i}", p.name)
}

/// Cranelift type holding a kir scalar (Bool is an `i8` holding 0 or 1).
pub(crate) fn cl_type(t: Scalar) -> Type {
    match t {
        Scalar::Bool | Scalar::I8 | Scalar::U8 => types::I8,
        Scalar::I16 | Scalar::U16 => types::I16,
        Scalar::I32 | Scalar::U32 => types::I32,
        Scalar::I64 | Scalar::U64 => types::I64,
        Scalar::F32 => types::F32,
        Scalar::F64 => types::F64,
    }
}

/// Imported shim functions, declared on first use (so the order is the program's order).
#[derive(Default)]
pub(crate) struct Shims {
    ids: BTreeMap<(MathFn, Scalar), FuncId>,
    sgemm: Option<FuncId>,
    /// The vector functions (`VecFns`), by symbol.
    vfns: BTreeMap<&'static str, FuncId>,
}

/// The shim's vector functions for one ISA (runtime-shim/src/vmath.rs), called for loops of
/// one such function and, in strips, for fused loops that call exp, tanh or erf
/// (`kernel::shim_loop`, `kernel::strip_loop`); the same bits as the scalar code.
pub struct VecFns {
    /// `y[k] = expf(x[k] - m)`: (x: ptr, y: ptr, n: i64, m: f32).
    pub exp_sub: &'static str,
    /// `y[k] = 1 / (1 + expf(-x[k]))`: (x: ptr, y: ptr, n: i64); also `tanh`, `erf`.
    pub sigmoid: &'static str,
    pub tanh: &'static str,
    pub erf: &'static str,
}

impl VecFns {
    /// The symbol of the function computing `f`.
    pub(crate) fn symbol(&self, f: &kernel::VecFn) -> &'static str {
        match f {
            kernel::VecFn::ExpSub(_) => self.exp_sub,
            kernel::VecFn::Sigmoid => self.sigmoid,
            kernel::VecFn::Tanh => self.tanh,
            kernel::VecFn::Erf => self.erf,
        }
    }
}

pub const VEC_AVX512: VecFns = VecFns {
    exp_sub: "kiln_shim_vexpf_sub_avx512",
    sigmoid: "kiln_shim_vsigmoidf_avx512",
    tanh: "kiln_shim_vtanhf_avx512",
    erf: "kiln_shim_verff_avx512",
};

pub const VEC_AVX2: VecFns = VecFns {
    exp_sub: "kiln_shim_vexpf_sub_avx2",
    sigmoid: "kiln_shim_vsigmoidf_avx2",
    tanh: "kiln_shim_vtanhf_avx2",
    erf: "kiln_shim_verff_avx2",
};

/// The four chosen at run time from CPUID (x86_64 targets without AVX2).
pub const VEC_X86_ANY: VecFns = VecFns {
    exp_sub: "kiln_shim_vexpf_sub_x86_any",
    sigmoid: "kiln_shim_vsigmoidf_x86_any",
    tanh: "kiln_shim_vtanhf_x86_any",
    erf: "kiln_shim_verff_x86_any",
};

pub const VEC_NEON: VecFns = VecFns {
    exp_sub: "kiln_shim_vexpf_sub_neon",
    sigmoid: "kiln_shim_vsigmoidf_neon",
    tanh: "kiln_shim_vtanhf_neon",
    erf: "kiln_shim_verff_neon",
};

/// The vector functions for the target: x86_64 with AVX-512F, or with AVX2 and FMA, other
/// x86_64 (chosen at run time) and aarch64 (the targets of the GEMM kernels); none
/// elsewhere.
pub(crate) fn vector_fns(isa: &dyn cranelift_codegen::isa::TargetIsa) -> Option<&'static VecFns> {
    match sgemm_kernel(isa) {
        Some(SGEMM_AVX512) => Some(&VEC_AVX512),
        Some(SGEMM_AVX2) => Some(&VEC_AVX2),
        Some(SGEMM_NEON) => Some(&VEC_NEON),
        Some(SGEMM_X86_ANY) => Some(&VEC_X86_ANY),
        _ => None,
    }
}

/// Whether `kernel::vec_loop`s run as 128-bit vectors: x86_64 with SSE4.1 (the lowering
/// of some vector operations needs it) and aarch64 (NEON is part of the base ISA).
pub(crate) fn has_simd(isa: &dyn cranelift_codegen::isa::TargetIsa) -> bool {
    use target_lexicon::Architecture;
    match isa.triple().architecture {
        Architecture::X86_64 => isa
            .isa_flags()
            .iter()
            .any(|v| v.name == "has_sse41" && v.as_bool().unwrap_or(false)),
        Architecture::Aarch64(_) => true,
        _ => false,
    }
}

/// The shim's f32 GEMM kernels (runtime-shim/src/gemm.rs).
pub const SGEMM_AVX512: &str = "kiln_shim_sgemm_avx512";
pub const SGEMM_AVX2: &str = "kiln_shim_sgemm_avx2";
pub const SGEMM_NEON: &str = "kiln_shim_sgemm_neon";
pub const SGEMM_X86_ANY: &str = "kiln_shim_sgemm_x86_any";

/// The shim kernel `Stmt::Gemm` calls for this ISA: the AVX-512 one on x86_64 with
/// AVX-512F, the AVX2 one with AVX2 and FMA, on other x86_64 CPUs the one that chooses
/// between them at run time, the NEON one on aarch64 (NEON is part of the base ISA of every
/// aarch64 target Cranelift supports); `None` (the fallback loops) otherwise.
pub(crate) fn sgemm_kernel(isa: &dyn cranelift_codegen::isa::TargetIsa) -> Option<&'static str> {
    use target_lexicon::Architecture;
    match isa.triple().architecture {
        Architecture::X86_64 => {}
        Architecture::Aarch64(_) => return Some(SGEMM_NEON),
        _ => return None,
    }
    let flags = isa.isa_flags();
    let on = |name: &str| {
        flags
            .iter()
            .any(|v| v.name == name && v.as_bool().unwrap_or(false))
    };
    if on("has_avx512f") {
        Some(SGEMM_AVX512)
    } else if on("has_avx2") && on("has_fma") {
        Some(SGEMM_AVX2)
    } else {
        Some(SGEMM_X86_ANY)
    }
}

/// Declares the imported function `name` (no results) the first time; its id after that.
fn import_once(
    m: &mut dyn Module,
    slot: &mut Option<FuncId>,
    name: &str,
    params: &[types::Type],
) -> Result<FuncId, Error> {
    if let Some(id) = *slot {
        return Ok(id);
    }
    let mut sig = m.make_signature();
    for t in params {
        sig.params.push(AbiParam::new(*t));
    }
    let id = m
        .declare_function(name, Linkage::Import, &sig)
        .map_err(|e| module_err(&format!("declaring {name}"), e))?;
    *slot = Some(id);
    Ok(id)
}

impl Shims {
    /// The imported GEMM kernel: (m, n, k: i64, a: ptr, a_rs, a_cs: i64, b: ptr, b_rs, b_cs:
    /// i64, conv: ptr, c: ptr, c_rs: i64, accumulate: i32, bias: ptr, res: ptr, res_rs: i64,
    /// lo, hi: f32, groups, a_gs, b_gs, c_gs: i64, max: i32, a_panel: i64, par: ptr).
    pub(crate) fn sgemm(&mut self, m: &mut dyn Module, symbol: &str) -> Result<FuncId, Error> {
        if let Some(id) = self.sgemm {
            return Ok(id);
        }
        let ptr = m.target_config().pointer_type();
        let mut sig = m.make_signature();
        for t in [
            types::I64,
            types::I64,
            types::I64,
            ptr,
            types::I64,
            types::I64,
            ptr,
            types::I64,
            types::I64,
            ptr,
            ptr,
            types::I64,
            types::I32,
            ptr,
            ptr,
            types::I64,
            types::F32,
            types::F32,
            types::I64,
            types::I64,
            types::I64,
            types::I64,
            types::I32,
            types::I64,
            ptr,
        ] {
            sig.params.push(AbiParam::new(t));
        }
        let id = m
            .declare_function(symbol, Linkage::Import, &sig)
            .map_err(|e| module_err(&format!("declaring {symbol}"), e))?;
        self.sgemm = Some(id);
        Ok(id)
    }

    /// An imported vector function of `VecFns`: (x: ptr, y: ptr, n: i64), and `m: f32` for
    /// `exp_sub`.
    pub(crate) fn vfn(
        &mut self,
        m: &mut dyn Module,
        symbol: &'static str,
        with_m: bool,
    ) -> Result<FuncId, Error> {
        let ptr = m.target_config().pointer_type();
        let mut slot = self.vfns.get(symbol).copied();
        let params = [ptr, ptr, types::I64, types::F32];
        let id = import_once(m, &mut slot, symbol, &params[..3 + with_m as usize])?;
        self.vfns.insert(symbol, id);
        Ok(id)
    }

    pub(crate) fn get(
        &mut self,
        m: &mut dyn Module,
        f: MathFn,
        ty: Scalar,
    ) -> Result<FuncId, Error> {
        if let Some(id) = self.ids.get(&(f, ty)) {
            return Ok(*id);
        }
        let t = cl_type(ty);
        let mut sig = m.make_signature();
        for _ in 0..f.arity() {
            sig.params.push(AbiParam::new(t));
        }
        sig.returns.push(AbiParam::new(t));
        let name = f.symbol(ty);
        let id = m
            .declare_function(&name, Linkage::Import, &sig)
            .map_err(|e| module_err(&format!("declaring {name}"), e))?;
        self.ids.insert((f, ty), id);
        Ok(id)
    }
}

/// The signature of the entry (`params` = 5) and of kernels and the parallel entry
/// (`params` = 6, with `par`): pointers in, `i32` status out.
fn abi_signature(m: &dyn Module, params: usize) -> Signature {
    let ptr = m.target_config().pointer_type();
    let mut sig = m.make_signature();
    for _ in 0..params {
        sig.params.push(AbiParam::new(ptr));
    }
    sig.returns.push(AbiParam::new(types::I32));
    sig
}

/// Checks that make translation total: a verified program with a usable name, on a 64-bit
/// target.
fn check(m: &dyn Module, p: &Program) -> Result<(), Error> {
    kir::verify::verify(p).map_err(|e| Error::Internal(format!("kir: {e}")))?;
    if p.name.is_empty()
        || p.name.starts_with(|c: char| c.is_ascii_digit())
        || !p
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(err(format!(
            "program name {:?} is not a C identifier",
            p.name
        )));
    }
    if m.target_config().pointer_type() != types::I64 {
        return Err(err("only 64-bit targets are supported"));
    }
    Ok(())
}

/// Declare and define every function and data object of `p` in `m`.
pub fn define_program(m: &mut dyn Module, p: &Program) -> Result<Defined, Error> {
    check(m, p)?;
    let weights = if p.weights.is_empty() {
        None
    } else {
        let name = weights_symbol(p);
        let id = m
            .declare_data(&name, Linkage::Local, false, false)
            .map_err(|e| module_err(&format!("declaring {name}"), e))?;
        let mut d = DataDescription::new();
        d.define(p.weights.clone().into_boxed_slice());
        d.set_align(64);
        m.define_data(id, &d)
            .map_err(|e| module_err(&format!("defining {name}"), e))?;
        Some(id)
    };
    let sig = abi_signature(m, 6);
    let mut kernels = vec![];
    for i in 0..p.kernels.len() {
        let name = kernel_symbol(p, i);
        let id = m
            .declare_function(&name, Linkage::Local, &sig)
            .map_err(|e| module_err(&format!("declaring {name}"), e))?;
        kernels.push(id);
    }
    let entry_name = entry_symbol(p);
    let entry = m
        .declare_function(&entry_name, Linkage::Export, &abi_signature(m, 5))
        .map_err(|e| module_err(&format!("declaring {entry_name}"), e))?;
    let entry_parallel_name = entry_parallel_symbol(p);
    let entry_parallel = m
        .declare_function(&entry_parallel_name, Linkage::Export, &sig)
        .map_err(|e| module_err(&format!("declaring {entry_parallel_name}"), e))?;

    let mut shims = Shims::default();
    let mut fctx = FunctionBuilderContext::new();
    let mut ctx = m.make_context();
    for (i, (k, id)) in p.kernels.iter().zip(&kernels).enumerate() {
        ctx.func.signature = sig.clone();
        ctx.func.name = UserFuncName::user(0, id.as_u32());
        let k = &hoist::hoist(k, &p.buffers);
        kernel::translate(m, p, k, &mut ctx.func, &mut fctx, weights, &mut shims)?;
        let what = format!("compiling kernel {i} ({}) of {}", k.name, p.name);
        m.define_function(*id, &mut ctx)
            .map_err(|e| module_err(&what, e))?;
        m.clear_context(&mut ctx);
    }

    for (id, name, params) in [
        (entry, &entry_name, 5),
        (entry_parallel, &entry_parallel_name, 6),
    ] {
        ctx.func.signature = abi_signature(m, params);
        ctx.func.name = UserFuncName::user(0, id.as_u32());
        build_entry(m, &kernels, &mut ctx.func, &mut fctx);
        m.define_function(id, &mut ctx)
            .map_err(|e| module_err(&format!("compiling {name}"), e))?;
        m.clear_context(&mut ctx);
    }
    Ok(Defined {
        entry,
        entry_parallel,
        kernels,
        weights,
    })
}

/// `NAME_run` and `NAME_run_parallel`: call each kernel with the entry's arguments (and a
/// null `par` when the entry has five); return the first non-zero status.
fn build_entry(
    m: &mut dyn Module,
    kernels: &[FuncId],
    func: &mut cranelift_codegen::ir::Function,
    fctx: &mut FunctionBuilderContext,
) {
    let refs: Vec<_> = kernels
        .iter()
        .map(|id| m.declare_func_in_func(*id, func))
        .collect();
    let mut b = FunctionBuilder::new(func, fctx);
    let start = b.create_block();
    b.append_block_params_for_function_params(start);
    b.switch_to_block(start);
    let mut args: Vec<_> = b.block_params(start).to_vec();
    if args.len() == 5 {
        let ptr = m.target_config().pointer_type();
        args.push(b.ins().iconst(ptr, 0));
    }
    let fail = b.create_block();
    let status = b.append_block_param(fail, types::I32);
    for r in refs {
        let call = b.ins().call(r, &args);
        let s = b.inst_results(call)[0];
        let next = b.create_block();
        b.ins().brif(s, fail, &[s.into()], next, &[]);
        b.switch_to_block(next);
    }
    let zero = b.ins().iconst(types::I32, 0);
    b.ins().return_(&[zero]);
    b.switch_to_block(fail);
    b.set_cold_block(fail);
    b.ins().return_(&[status]);
    b.seal_all_blocks();
    b.finalize(m.target_config());
}
