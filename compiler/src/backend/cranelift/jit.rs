//! In-process compilation with cranelift-jit, for `kiln run`/tests: a `JitProgram` is a kir
//! program compiled for the host (`Target::host()`, with the CPU features detected at run
//! time) and callable through a safe `run`.
//!
//! Invariants:
//! - the shim symbols resolve to `kiln_shim`'s own functions (one exhaustive match over
//!   `MathFn` × {f32, f64}); the libcalls Cranelift may emit when the host lacks an
//!   instruction (fma, floor, ceil, trunc, nearest) resolve to Rust functions in this file,
//!   never to whatever the process happens to export;
//! - `run` checks every count, length and dim against the program before calling native code,
//!   so safe callers cannot make the kernels read or write outside the slices they passed;
//!   misaligned buffers are copied to aligned temporaries (and outputs copied back);
//! - the JIT memory lives exactly as long as the `JitProgram` (freed in `Drop`).

use std::sync::Mutex;

use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::default_libcall_names;
use kiln_targets::Target;

use super::{define_program, err, isa::isa_for_jit, module_err};
use crate::error::Error;
use crate::kir::interp::{self, V};
use crate::kir::{BufKind, Expr, MathFn, Program, Scalar, Status};

type EntryFn =
    unsafe extern "C" fn(*const i64, *const *const u8, *const *mut u8, *mut u8, *const u64) -> i32;

/// A kir program compiled for the host. `Send + Sync`: the entry is re-entrant (docs/abi.md)
/// and the module is only touched again when dropped.
pub struct JitProgram {
    module: Option<Mutex<JITModule>>,
    entry: EntryFn,
    program: Program,
}

/// The address of the `kiln_shim` function for `f` on `ty` (F32 or F64).
pub fn shim_address(f: MathFn, ty: Scalar) -> *const u8 {
    use kiln_shim as s;
    macro_rules! pick {
        ($f32:ident, $f64:ident, 1) => {
            if ty == Scalar::F32 {
                s::$f32 as extern "C" fn(f32) -> f32 as *const u8
            } else {
                s::$f64 as extern "C" fn(f64) -> f64 as *const u8
            }
        };
        ($f32:ident, $f64:ident, 2) => {
            if ty == Scalar::F32 {
                s::$f32 as extern "C" fn(f32, f32) -> f32 as *const u8
            } else {
                s::$f64 as extern "C" fn(f64, f64) -> f64 as *const u8
            }
        };
    }
    match f {
        MathFn::Exp => pick!(kiln_shim_expf, kiln_shim_exp, 1),
        MathFn::Log => pick!(kiln_shim_logf, kiln_shim_log, 1),
        MathFn::Tanh => pick!(kiln_shim_tanhf, kiln_shim_tanh, 1),
        MathFn::Pow => pick!(kiln_shim_powf, kiln_shim_pow, 2),
        MathFn::Erf => pick!(kiln_shim_erff, kiln_shim_erf, 1),
        MathFn::Sin => pick!(kiln_shim_sinf, kiln_shim_sin, 1),
        MathFn::Cos => pick!(kiln_shim_cosf, kiln_shim_cos, 1),
        MathFn::Tan => pick!(kiln_shim_tanf, kiln_shim_tan, 1),
        MathFn::Asin => pick!(kiln_shim_asinf, kiln_shim_asin, 1),
        MathFn::Acos => pick!(kiln_shim_acosf, kiln_shim_acos, 1),
        MathFn::Atan => pick!(kiln_shim_atanf, kiln_shim_atan, 1),
        MathFn::Sinh => pick!(kiln_shim_sinhf, kiln_shim_sinh, 1),
        MathFn::Cosh => pick!(kiln_shim_coshf, kiln_shim_cosh, 1),
        MathFn::Asinh => pick!(kiln_shim_asinhf, kiln_shim_asinh, 1),
        MathFn::Acosh => pick!(kiln_shim_acoshf, kiln_shim_acosh, 1),
        MathFn::Atanh => pick!(kiln_shim_atanhf, kiln_shim_atanh, 1),
        MathFn::Fmod => pick!(kiln_shim_fmodf, kiln_shim_fmod, 2),
    }
}

// Libcall targets (used only when the host lacks the instruction), computed exactly as
// `kir::interp` computes the operation (f32 rounding goes through f64 there).
extern "C" fn jit_fmaf(a: f32, b: f32, c: f32) -> f32 {
    a.mul_add(b, c)
}
extern "C" fn jit_fma(a: f64, b: f64, c: f64) -> f64 {
    a.mul_add(b, c)
}
extern "C" fn jit_floorf(x: f32) -> f32 {
    (x as f64).floor() as f32
}
extern "C" fn jit_floor(x: f64) -> f64 {
    x.floor()
}
extern "C" fn jit_ceilf(x: f32) -> f32 {
    (x as f64).ceil() as f32
}
extern "C" fn jit_ceil(x: f64) -> f64 {
    x.ceil()
}
extern "C" fn jit_truncf(x: f32) -> f32 {
    (x as f64).trunc() as f32
}
extern "C" fn jit_trunc(x: f64) -> f64 {
    x.trunc()
}
extern "C" fn jit_nearbyintf(x: f32) -> f32 {
    (x as f64).round_ties_even() as f32
}
extern "C" fn jit_nearbyint(x: f64) -> f64 {
    x.round_ties_even()
}

fn libcall_symbols() -> [(&'static str, *const u8); 10] {
    type F1 = extern "C" fn(f32) -> f32;
    type D1 = extern "C" fn(f64) -> f64;
    [
        (
            "fmaf",
            jit_fmaf as extern "C" fn(f32, f32, f32) -> f32 as *const u8,
        ),
        (
            "fma",
            jit_fma as extern "C" fn(f64, f64, f64) -> f64 as *const u8,
        ),
        ("floorf", jit_floorf as F1 as *const u8),
        ("floor", jit_floor as D1 as *const u8),
        ("ceilf", jit_ceilf as F1 as *const u8),
        ("ceil", jit_ceil as D1 as *const u8),
        ("truncf", jit_truncf as F1 as *const u8),
        ("trunc", jit_trunc as D1 as *const u8),
        ("nearbyintf", jit_nearbyintf as F1 as *const u8),
        ("nearbyint", jit_nearbyint as D1 as *const u8),
    ]
}

/// A 64-byte aligned block, for aligned temporaries.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Block([u8; 64]);

/// An aligned copy of `bytes` (at least `bytes.len()` bytes, zero-padded).
fn aligned_copy(bytes: &[u8]) -> Vec<Block> {
    let mut v = vec![Block([0; 64]); bytes.len().div_ceil(64)];
    as_bytes_mut(&mut v)[..bytes.len()].copy_from_slice(bytes);
    v
}

fn misaligned(p: *const u8, align: usize) -> bool {
    !(p as usize).is_multiple_of(align)
}

fn as_bytes_mut(v: &mut [Block]) -> &mut [u8] {
    // SAFETY: `Block` is 64 plain bytes with no padding.
    unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr() as *mut u8, v.len() * 64) }
}

/// Evaluate an I64 expression over dims and lens only (buffer lengths, scratch offsets).
fn eval_dims(e: &Expr, dims: &[i64], lens: &[u64]) -> Option<V> {
    Some(match e {
        Expr::Imm(t, l) => V::from_lit(*t, *l),
        Expr::Dim(s) => V::i64(*dims.get(s.0 as usize)?),
        Expr::Len(i) => V::i64(*lens.get(*i as usize)? as i64),
        Expr::Unary(op, a) => interp::unary(*op, eval_dims(a, dims, lens)?),
        Expr::Binary(op, a, b) => {
            interp::binary(*op, eval_dims(a, dims, lens)?, eval_dims(b, dims, lens)?)
        }
        Expr::Cmp(op, a, b) => {
            interp::compare(*op, eval_dims(a, dims, lens)?, eval_dims(b, dims, lens)?)
        }
        Expr::Select(c, a, b) => {
            let (c, a, b) = (
                eval_dims(c, dims, lens)?,
                eval_dims(a, dims, lens)?,
                eval_dims(b, dims, lens)?,
            );
            if c.bits != 0 {
                a
            } else {
                b
            }
        }
        Expr::Cast(t, a) => interp::cast(*t, eval_dims(a, dims, lens)?),
        _ => return None,
    })
}

impl JitProgram {
    /// Compile `p` for the host, using every CPU feature it has.
    pub fn new(p: &Program) -> Result<JitProgram, Error> {
        Self::with_target(p, &Target::host())
    }

    /// Compile `p` for the host, using only the features of `t` (e.g. `x86_64-v2` on an
    /// x86_64 Linux host, to test the code older CPUs get). `t` must have the host's triple
    /// and no feature the host lacks.
    pub fn with_target(p: &Program, t: &Target) -> Result<JitProgram, Error> {
        let host = Target::host();
        if t.triple != host.triple {
            return Err(err(format!(
                "the JIT runs on the host ({}), not on {}",
                host.triple, t.triple
            )));
        }
        if let Some(f) = t.features.iter().find(|f| !host.has_feature(f)) {
            return Err(err(format!(
                "the host lacks CPU feature {f} of target {}",
                t.name
            )));
        }
        let isa = isa_for_jit(t)?;
        let mut jb = JITBuilder::with_isa(isa, default_libcall_names());
        for f in MathFn::ALL {
            for ty in [Scalar::F32, Scalar::F64] {
                jb.symbol(f.symbol(ty), shim_address(f, ty));
            }
        }
        for (name, ptr) in libcall_symbols() {
            jb.symbol(name, ptr);
        }
        // Only called when the ISA has their features (`sgemm_kernel`).
        jb.symbol(
            super::SGEMM_AVX2,
            kiln_shim::kiln_shim_sgemm_avx2 as *const u8,
        );
        jb.symbol(
            super::SGEMM_AVX512,
            kiln_shim::kiln_shim_sgemm_avx512 as *const u8,
        );
        jb.symbol(
            super::SGEMM_NEON,
            kiln_shim::kiln_shim_sgemm_neon as *const u8,
        );
        jb.symbol(
            super::SGEMM_X86_ANY,
            kiln_shim::kiln_shim_sgemm_x86_any as *const u8,
        );
        use kiln_shim as k;
        let vector: [(&super::VecFns, [*const u8; 4]); 4] = [
            (
                &super::VEC_AVX512,
                [
                    k::kiln_shim_vexpf_sub_avx512 as *const u8,
                    k::kiln_shim_vsigmoidf_avx512 as *const u8,
                    k::kiln_shim_vtanhf_avx512 as *const u8,
                    k::kiln_shim_verff_avx512 as *const u8,
                ],
            ),
            (
                &super::VEC_AVX2,
                [
                    k::kiln_shim_vexpf_sub_avx2 as *const u8,
                    k::kiln_shim_vsigmoidf_avx2 as *const u8,
                    k::kiln_shim_vtanhf_avx2 as *const u8,
                    k::kiln_shim_verff_avx2 as *const u8,
                ],
            ),
            (
                &super::VEC_NEON,
                [
                    k::kiln_shim_vexpf_sub_neon as *const u8,
                    k::kiln_shim_vsigmoidf_neon as *const u8,
                    k::kiln_shim_vtanhf_neon as *const u8,
                    k::kiln_shim_verff_neon as *const u8,
                ],
            ),
            (
                &super::VEC_X86_ANY,
                [
                    k::kiln_shim_vexpf_sub_x86_any as *const u8,
                    k::kiln_shim_vsigmoidf_x86_any as *const u8,
                    k::kiln_shim_vtanhf_x86_any as *const u8,
                    k::kiln_shim_verff_x86_any as *const u8,
                ],
            ),
        ];
        for (v, fns) in vector {
            for (name, f) in [v.exp_sub, v.sigmoid, v.tanh, v.erf].into_iter().zip(fns) {
                jb.symbol(name, f);
            }
        }
        let mut module = JITModule::new(jb);
        let defined = match define_program(&mut module, p) {
            Ok(d) => d,
            Err(e) => {
                // SAFETY: nothing from the module has been handed out.
                unsafe { module.free_memory() };
                return Err(e);
            }
        };
        if let Err(e) = module.finalize_definitions() {
            unsafe { module.free_memory() };
            return Err(module_err("linking JIT code", e));
        }
        let code = module.get_finalized_function(defined.entry);
        if code.is_null() {
            unsafe { module.free_memory() };
            return Err(err("JIT entry has no address"));
        }
        // SAFETY: `entry` was defined with the ABI signature `EntryFn` describes, in the
        // host's default calling convention (the C one).
        let entry = unsafe { std::mem::transmute::<*const u8, EntryFn>(code) };
        Ok(JitProgram {
            module: Some(Mutex::new(module)),
            entry,
            program: p.clone(),
        })
    }

    /// The program this was compiled from.
    pub fn program(&self) -> &Program {
        &self.program
    }

    /// Check the arguments against the program; `Err(status)` if they cannot be run safely.
    fn check(
        &self,
        dims: &[i64],
        inputs: &[&[u8]],
        outputs: &[&mut [u8]],
        scratch: &[u8],
        lens: &[u64],
    ) -> Result<(), Status> {
        let p = &self.program;
        if dims.len() < p.syms.len() {
            return Err(Status::BadDim);
        }
        for (d, s) in dims.iter().zip(&p.syms) {
            if *d < 0 || *d > s.max {
                return Err(Status::BadDim);
            }
        }
        let (ni, no) = (p.inputs.len(), p.outputs.len());
        if inputs.len() != ni || outputs.len() != no || lens.len() < ni + no + 1 {
            return Err(Status::BadLength);
        }
        let fits = |n: u64, size: usize, have: usize| {
            n.checked_mul(size as u64).is_some_and(|b| b <= have as u64)
        };
        for (i, io) in p.inputs.iter().enumerate() {
            if !fits(lens[i], io.elem.size(), inputs[i].len()) {
                return Err(Status::BadLength);
            }
        }
        for (i, io) in p.outputs.iter().enumerate() {
            if !fits(lens[ni + i], io.elem.size(), outputs[i].len()) {
                return Err(Status::BadLength);
            }
        }
        if lens[ni + no] > scratch.len() as u64 {
            return Err(Status::BadLength);
        }
        // Every buffer the program declares must lie inside the memory passed, whatever the
        // validation kernel checks: this makes `run` memory-safe on its own.
        for b in &p.buffers {
            let n = eval_dims(&b.len, dims, lens)
                .map(|v| v.as_i64())
                .ok_or(Status::BadLength)?;
            let n = u64::try_from(n).map_err(|_| Status::BadLength)?;
            let ok = match &b.kind {
                BufKind::Input(i) => inputs
                    .get(*i as usize)
                    .is_some_and(|s| fits(n, b.elem.size(), s.len())),
                BufKind::Output(i) => outputs
                    .get(*i as usize)
                    .is_some_and(|s| fits(n, b.elem.size(), s.len())),
                BufKind::Weight { offset } => n
                    .checked_mul(b.elem.size() as u64)
                    .and_then(|x| x.checked_add(*offset))
                    .is_some_and(|end| end <= p.weights.len() as u64),
                BufKind::Scratch { offset } => {
                    let off = eval_dims(offset, dims, lens)
                        .map(|v| v.as_i64())
                        .ok_or(Status::BadLength)?;
                    let off = u64::try_from(off).map_err(|_| Status::BadLength)?;
                    n.checked_mul(b.elem.size() as u64)
                        .and_then(|x| x.checked_add(off))
                        .is_some_and(|end| end <= scratch.len() as u64)
                        && off.is_multiple_of(64)
                }
            };
            if !ok {
                return Err(Status::BadLength);
            }
        }
        Ok(())
    }

    /// Run the program. `lens` as in the ABI (element counts of inputs then outputs, then
    /// scratch bytes). Returns the entry's status (0 = ok); arguments inconsistent with the
    /// program give `KILN_ERR_DIM`/`KILN_ERR_LENGTH` without running anything.
    pub fn run(
        &self,
        dims: &[i64],
        inputs: &[&[u8]],
        outputs: &mut [&mut [u8]],
        scratch: &mut [u8],
        lens: &[u64],
    ) -> i32 {
        if let Err(s) = self.check(dims, inputs, outputs, scratch, lens) {
            return s.code();
        }
        let p = &self.program;
        // Aligned temporaries for misaligned buffers (inputs/outputs: element alignment;
        // scratch: 64 bytes).
        let mut in_tmp: Vec<Option<Vec<Block>>> = vec![];
        for (i, x) in inputs.iter().enumerate() {
            let align = p.inputs[i].elem.size();
            in_tmp.push(misaligned(x.as_ptr(), align).then(|| aligned_copy(x)));
        }
        let mut out_tmp: Vec<Option<Vec<Block>>> = vec![];
        for (i, x) in outputs.iter().enumerate() {
            let align = p.outputs[i].elem.size();
            out_tmp.push(misaligned(x.as_ptr(), align).then(|| aligned_copy(x)));
        }
        let mut scratch_tmp = misaligned(scratch.as_ptr(), 64).then(|| aligned_copy(scratch));

        let in_ptrs: Vec<*const u8> = inputs
            .iter()
            .zip(in_tmp.iter())
            .map(|(x, t)| match t {
                Some(t) => t.as_ptr() as *const u8,
                None => x.as_ptr(),
            })
            .collect();
        let out_ptrs: Vec<*mut u8> = outputs
            .iter_mut()
            .zip(out_tmp.iter_mut())
            .map(|(x, t)| match t {
                Some(t) => t.as_mut_ptr() as *mut u8,
                None => x.as_mut_ptr(),
            })
            .collect();
        let scratch_ptr = match &mut scratch_tmp {
            Some(t) => t.as_mut_ptr() as *mut u8,
            None => scratch.as_mut_ptr(),
        };
        // SAFETY: `check` established that every buffer the program addresses lies within
        // the memory passed (or its aligned copy, which is at least as long); the kernels
        // access only those buffers, within their lengths (kir's invariant); pointers are
        // aligned as the ABI requires.
        let status = unsafe {
            (self.entry)(
                dims.as_ptr(),
                in_ptrs.as_ptr(),
                out_ptrs.as_ptr(),
                scratch_ptr,
                lens.as_ptr(),
            )
        };
        for (x, t) in outputs.iter_mut().zip(out_tmp.iter_mut()) {
            if let Some(t) = t {
                let n = x.len();
                x.copy_from_slice(&as_bytes_mut(t)[..n]);
            }
        }
        if let Some(t) = &mut scratch_tmp {
            let n = scratch.len();
            scratch.copy_from_slice(&as_bytes_mut(t)[..n]);
        }
        status
    }
}

impl Drop for JitProgram {
    fn drop(&mut self) {
        if let Some(m) = self.module.take() {
            let m = m
                .into_inner()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            // SAFETY: the only pointer into the module is `entry`, which dies with `self`,
            // and `run` borrows `self`, so no call is in progress.
            unsafe { m.free_memory() };
        }
    }
}
