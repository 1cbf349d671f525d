//! The Rust backend: prints a kir `Program` as `NAME.rs`, one `pub mod NAME { ... }` meant
//! for `include!(concat!(env!("OUT_DIR"), "/NAME.rs"))` (docs/abi.md), plus the bytes of
//! `NAME.weights.bin` when the program has weights.
//!
//! Decisions and invariants:
//! - `no_std` compatible: only `core::` paths, no allocation; transcendental functions and
//!   `Fma` call the `kiln_shim` crate (a dependency of the user's crate: `kiln_shim::expf`,
//!   `kiln_shim::fmaf`, ...). Float functions `core` lacks without `std` are private helpers
//!   of the module (see `prelude`): floor/ceil/trunc/round-ties-even by bit manipulation,
//!   sqrt by the SSE instruction on x86/x86_64 and an exact integer root elsewhere.
//! - Weights: `include_bytes!("NAME.weights.bin")`. A path in a macro written inside an
//!   `include!`d file resolves relative to that file, so the `.weights.bin` must sit beside
//!   the `.rs` (wherever that is: `OUT_DIR` or not). Stored little-endian, read with native
//!   loads: the module refuses to compile for a big-endian target.
//! - Semantics are kir's bit for bit: integer arithmetic with `wrapping_*`, float → int with
//!   `as` (saturating, NaN → 0, exactly kir's `Cast`), shifts with `wrapping_shl/shr`
//!   (amount modulo the width), `Bool` values as Rust `bool` (bytes 0/1 in buffers; a loaded
//!   byte is `!= 0`).
//! - Compiles warning-free under `-D warnings` in edition 2021 and 2024 crates (lints that
//!   generated code trips are allowed on the module; kernels wrap their bodies in `unsafe`).
//! - API: `run` (safe, typed slices), `run_raw` (the C ABI's semantics on raw pointers),
//!   `scratch_blocks`, `<io>_len`, `ScratchBlock`, `Error`, counts and dim maxima.
//!   Deterministic.

mod expr;
mod prelude;

use super::header::{dim_idents, io_idents};
use crate::kir::{visit_stmts, BufKind, Expr, IoDim, Kernel, Program, Scalar, Status, Stmt};
pub use expr::shim_fn;
use expr::{rty, RustCx};
use std::collections::BTreeSet;
use std::fmt::Write;

/// Rust keywords (strict, reserved, 2018+ and 2024) and names the generated `run` uses.
const RESERVED: &[&str] = &[
    "_",
    "as",
    "break",
    "const",
    "continue",
    "crate",
    "else",
    "enum",
    "extern",
    "false",
    "fn",
    "for",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "match",
    "mod",
    "move",
    "mut",
    "pub",
    "ref",
    "return",
    "self",
    "Self",
    "static",
    "struct",
    "super",
    "trait",
    "true",
    "type",
    "unsafe",
    "use",
    "where",
    "while",
    "async",
    "await",
    "dyn",
    "abstract",
    "become",
    "box",
    "do",
    "final",
    "macro",
    "override",
    "priv",
    "typeof",
    "unsized",
    "virtual",
    "yield",
    "try",
    "gen",
    // Weak keywords and names `run` uses (fine as module names).
    "union",
    "raw",
    "safe",
    "run_raw",
    "Error",
    "Ok",
    "Err",
    "Some",
    "None",
    "Result",
    "Option",
    "core",
    "ScratchBlock",
    "kiln_shim",
];

/// Rust element type of a buffer holding `t` (bools are bytes).
fn elem_ty(t: Scalar) -> &'static str {
    if t == Scalar::Bool {
        "u8"
    } else {
        t.name()
    }
}

/// Type of a slice element in the safe API.
fn slice_ty(t: Scalar) -> &'static str {
    rty(t)
}

fn fresh_names(names: &[String], taken: &[String]) -> Vec<String> {
    let mut used: Vec<String> = taken.to_vec();
    let mut out = vec![];
    for n in names {
        let base = if RESERVED.contains(&n.as_str()) {
            format!("{n}_")
        } else {
            n.clone()
        };
        let mut cand = base.clone();
        let mut k = 2;
        while used.contains(&cand) || RESERVED.contains(&cand.as_str()) {
            cand = format!("{base}_{k}");
            k += 1;
        }
        used.push(cand.clone());
        out.push(cand);
    }
    out
}

/// The module's name: `name`, as a raw identifier if it is a Rust keyword (`crate`, `self`,
/// `Self`, `super` and `_` cannot be module names at all: the CLI must reject them).
fn module_name(name: &str) -> String {
    let n = RESERVED.iter().position(|k| *k == "union").unwrap_or(0);
    if RESERVED[..n].contains(&name) && !matches!(name, "crate" | "self" | "Self" | "super" | "_") {
        format!("r#{name}")
    } else {
        name.to_string()
    }
}

/// Text safe for a `//` or `///` comment line.
fn doc_text(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn used_buffers(k: &Kernel) -> BTreeSet<u32> {
    let mut used = BTreeSet::new();
    visit_stmts(&k.body, &mut |e| {
        if let Expr::Load(b, _) = e {
            used.insert(b.0);
        }
    });
    fn stores(body: &[Stmt], used: &mut BTreeSet<u32>) {
        for s in body {
            match s {
                Stmt::Store { buf, .. } => {
                    used.insert(buf.0);
                }
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
    stores(&k.body, &mut used);
    used
}

/// The parameters of `run_raw`.
const ENTRY_PARAMS: &str =
    "dims: *const i64, inputs: *const *const u8, outputs: *const *mut u8, scratch: *mut u8, lens: *const u64";
/// The parameters of kernels and of `run_parallel_raw`: the entry's and the caller's
/// parallel-for (or null), handed to every shim GEMM call.
const KERNEL_PARAMS: &str =
    "dims: *const i64, inputs: *const *const u8, outputs: *const *mut u8, scratch: *mut u8, lens: *const u64, \
     par: *const kiln_shim::parallel::Parallel";

fn emit_kernel(cx: &mut RustCx, out: &mut String, index: usize, k: &Kernel) {
    let p = cx.p;
    let _ = writeln!(
        out,
        "    // kernel {index}: {}\n    unsafe fn kiln_k{index}({KERNEL_PARAMS}) -> i32 {{\n        unsafe {{",
        doc_text(&k.name)
    );
    for b in used_buffers(k) {
        let Some(buf) = p.buffers.get(b as usize) else {
            cx.unsupported = true;
            continue;
        };
        let et = elem_ty(buf.elem);
        let init = match &buf.kind {
            BufKind::Input(i) => format!("(*inputs.add({i})) as *const {et}"),
            BufKind::Output(i) => format!("(*outputs.add({i})) as *mut {et}"),
            BufKind::Weight { offset } => {
                format!("KILN_WEIGHTS.0.as_ptr().add({offset}) as *const {et}")
            }
            BufKind::Scratch { offset } => {
                let (o, _) = cx.expr(offset);
                format!("scratch.add({o} as usize) as *mut {et}")
            }
        };
        let _ = writeln!(
            out,
            "            let b{b} = {init}; // {}",
            doc_text(&buf.name)
        );
    }
    block(cx, out, &k.body, 3);
    out.push_str("            0\n        }\n    }\n\n");
}

fn block(cx: &mut RustCx, out: &mut String, body: &[Stmt], depth: usize) {
    let ind = "    ".repeat(depth);
    for s in body {
        match s {
            Stmt::Let(v, e) => {
                let (se, _) = cx.expr(e);
                let t = cx.vars.get(v.0 as usize).copied().unwrap_or(Scalar::I64);
                let _ = writeln!(out, "{ind}let mut v{}: {} = {se};", v.0, rty(t));
            }
            Stmt::Set(v, e) => {
                let (se, _) = cx.expr(e);
                let _ = writeln!(out, "{ind}v{} = {se};", v.0);
            }
            Stmt::Loop {
                var,
                start,
                end,
                body,
            } => {
                let (ss, _) = cx.expr(start);
                let (se, _) = cx.expr(end);
                let p = cx.p;
                let shim = crate::backend::cranelift::kernel::shim_loop(*var, body, &p.buffers);
                let mut ind_loop = ind.clone();
                if let Some(l) = &shim {
                    // One call of the shim's vector function where the crate is built for
                    // its ISA (the same bits as the loop, runtime-shim/src/vmath.rs).
                    let xb = cx.expr(l.x_base).0;
                    let yb = cx.expr(l.y_base).0;
                    let m = match &l.f {
                        crate::backend::cranelift::kernel::VecFn::ExpSub(m) => {
                            format!(", {}", cx.expr(m).0)
                        }
                        _ => String::new(),
                    };
                    let args = format!(
                        "(b{} as *const f32).wrapping_offset(({xb}).wrapping_add({ss}) as isize), \
                         (b{} as *mut f32).wrapping_offset(({yb}).wrapping_add({ss}) as isize), \
                         ({se}).wrapping_sub({ss}){m}",
                        l.x.0, l.y.0
                    );
                    use crate::backend::cranelift::{VEC_AVX2, VEC_AVX512, VEC_NEON, VEC_X86_ANY};
                    let _ = writeln!(
                        out,
                        "{ind}if cfg!(all(target_arch = \"x86_64\", target_feature = \"avx512f\", not(kiln_no_vector_math))) {{\n\
                         {ind}    kiln_shim::{}({args});\n\
                         {ind}}} else if cfg!(all(target_arch = \"x86_64\", target_feature = \"avx2\", not(kiln_no_vector_math))) {{\n\
                         {ind}    kiln_shim::{}({args});\n\
                         {ind}}} else if cfg!(all(target_arch = \"aarch64\", target_feature = \"neon\", not(kiln_no_vector_math))) {{\n\
                         {ind}    kiln_shim::{}({args});\n\
                         {ind}}} else if cfg!(all(target_arch = \"x86_64\", not(kiln_no_vector_math))) {{\n\
                         {ind}    kiln_shim::{}({args});\n{ind}}} else {{",
                        VEC_AVX512.symbol(&l.f),
                        VEC_AVX2.symbol(&l.f),
                        VEC_NEON.symbol(&l.f),
                        VEC_X86_ANY.symbol(&l.f),
                    );
                    ind_loop.push_str("    ");
                }
                let _ = writeln!(out, "{ind_loop}for v{} in {ss}..{se} {{", var.0);
                block(cx, out, body, depth + 1 + shim.is_some() as usize);
                let _ = writeln!(out, "{ind_loop}}}");
                if shim.is_some() {
                    let _ = writeln!(out, "{ind}}}");
                }
            }
            Stmt::Store { buf, idx, val } => {
                let (si, _) = cx.expr(idx);
                let (sv, _) = cx.expr(val);
                let is_bool =
                    cx.p.buffers
                        .get(buf.0 as usize)
                        .is_some_and(|b| b.elem == Scalar::Bool);
                let sv = if is_bool { format!("({sv} as u8)") } else { sv };
                let _ = writeln!(out, "{ind}*b{}.add({si} as usize) = {sv};", buf.0);
            }
            Stmt::If { cond, then, els } => {
                let (sc, _) = cx.expr(cond);
                let _ = writeln!(out, "{ind}if {sc} {{");
                block(cx, out, then, depth + 1);
                if els.is_empty() {
                    let _ = writeln!(out, "{ind}}}");
                } else {
                    let _ = writeln!(out, "{ind}}} else {{");
                    block(cx, out, els, depth + 1);
                    let _ = writeln!(out, "{ind}}}");
                }
            }
            Stmt::Fail(st) => {
                let _ = writeln!(out, "{ind}return {};", st.code());
            }
            Stmt::Gemm { call, fallback } => {
                // The shim's kernel when the crate is built for AVX2 + FMA; the same bits from
                // the fallback loops otherwise.
                let g = call.as_ref();
                let mut e = |x: &Expr| cx.expr(x).0;
                let args = [
                    e(&g.m),
                    e(&g.n),
                    e(&g.k),
                    format!(
                        "(b{} as *const f32).wrapping_offset(({}) as isize)",
                        g.a.0,
                        e(&g.a_off)
                    ),
                    e(&g.a_rs),
                    e(&g.a_cs),
                    format!(
                        "(b{} as *const f32).wrapping_offset(({}) as isize)",
                        g.b.0,
                        e(&g.b_off)
                    ),
                    e(&g.b_rs),
                    e(&g.b_cs),
                    match &g.conv {
                        Some(cv) => format!(
                            "[{}i64].as_ptr()",
                            cv.abi().map(|v| v.to_string()).join("i64, ")
                        ),
                        None => "core::ptr::null()".to_string(),
                    },
                    format!(
                        "(b{} as *mut f32).wrapping_offset(({}) as isize)",
                        g.c.0,
                        e(&g.c_off)
                    ),
                    e(&g.c_rs),
                    format!("{}i32", g.accumulate as i32),
                    match &g.bias {
                        Some((b, off)) => format!(
                            "(b{} as *const f32).wrapping_offset(({}) as isize)",
                            b.0,
                            e(off)
                        ),
                        None => "core::ptr::null()".to_string(),
                    },
                    match &g.res {
                        Some((b, off, _)) => format!(
                            "(b{} as *const f32).wrapping_offset(({}) as isize)",
                            b.0,
                            e(off)
                        ),
                        None => "core::ptr::null()".to_string(),
                    },
                    match &g.res {
                        Some((_, _, rs)) => e(rs),
                        None => e(&g.c_rs),
                    },
                    e(&Expr::imm(Scalar::F32, g.lo as f64)),
                    e(&Expr::imm(Scalar::F32, g.hi as f64)),
                    e(&g.groups),
                    e(&g.a_gs),
                    e(&g.b_gs),
                    e(&g.c_gs),
                    format!("{}i32", g.max as i32),
                    e(&Expr::i64(g.a_panel)),
                    "par".to_string(),
                ];
                let args = args.join(", ");
                let _ = writeln!(
                    out,
                    "{ind}if cfg!(all(target_arch = \"x86_64\", target_feature = \"avx512f\", not(kiln_no_sgemm_kernel))) {{\n\
                     {ind}    kiln_shim::kiln_shim_sgemm_avx512({args});\n\
                     {ind}}} else if cfg!(all(target_arch = \"x86_64\", target_feature = \"avx2\", target_feature = \"fma\", not(kiln_no_sgemm_kernel))) {{\n\
                     {ind}    kiln_shim::kiln_shim_sgemm_avx2({args});\n\
                     {ind}}} else if cfg!(all(target_arch = \"aarch64\", target_feature = \"neon\", not(kiln_no_sgemm_kernel))) {{\n\
                     {ind}    kiln_shim::kiln_shim_sgemm_neon({args});\n\
                     {ind}}} else if cfg!(all(target_arch = \"x86_64\", not(kiln_no_sgemm_kernel))) {{\n\
                     {ind}    kiln_shim::kiln_shim_sgemm_x86_any({args});\n{ind}}} else {{"
                );
                block(cx, out, fallback, depth + 1);
                let _ = writeln!(out, "{ind}}}");
            }
        }
    }
}

/// Lints generated code may trip, allowed on the module.
const ALLOWS: &str = "#[allow(unused, dead_code, unreachable_code, unused_parens, unused_braces, \
                      unused_unsafe, unused_mut, unused_comparisons, non_snake_case, non_upper_case_globals, \
                      non_camel_case_types, missing_docs, unsafe_op_in_unsafe_fn, unexpected_cfgs, \
                      clippy::all, clippy::pedantic, clippy::nursery, clippy::restriction, \
                      clippy::cargo)]";

/// `NAME.rs` and, if the program has weights, the contents of `NAME.weights.bin`.
pub fn emit_rust(p: &Program) -> (String, Option<Vec<u8>>) {
    let name = &p.name;
    let mut kernels = String::new();
    let mut helpers = BTreeSet::new();
    let mut invalid = false;
    for (i, k) in p.kernels.iter().enumerate() {
        let mut cx = RustCx {
            p,
            vars: &k.vars,
            helpers: BTreeSet::new(),
            safe_dims: false,
            unsupported: false,
        };
        emit_kernel(&mut cx, &mut kernels, i, k);
        helpers.append(&mut cx.helpers);
        invalid |= cx.unsupported;
    }
    // Scratch size, in safe code.
    let mut cx = RustCx {
        p,
        vars: &[],
        helpers: BTreeSet::new(),
        safe_dims: true,
        unsupported: false,
    };
    let (scratch_bytes, st) = cx.expr(&p.scratch_len);
    let mut io_lens = vec![];
    for io in p.inputs.iter().chain(&p.outputs) {
        let (len, lt) = cx.expr(&io.len);
        invalid |= lt != Scalar::I64;
        io_lens.push(len);
    }
    helpers.append(&mut cx.helpers);
    invalid |= cx.unsupported || st != Scalar::I64;

    let dims = dim_idents(p);
    let ios = io_idents(p);
    let (n_in, n_out) = (p.inputs.len(), p.outputs.len());
    let n_dims = p.syms.len();

    let mut s = String::new();
    let _ = writeln!(
        s,
        "// {name}.rs: model \"{}\" compiled by Kiln. Generated: do not edit.\n\
         // Use with `include!(concat!(env!(\"OUT_DIR\"), \"/{name}.rs\"));` in a crate depending on\n\
         // `kiln_shim`; {name}.weights.bin (if any) must be in the same directory as this file.\n",
        doc_text(name)
    );
    let _ = writeln!(
        s,
        "/// Model `{name}` compiled by Kiln: `run` computes it (`no_std`, no allocation).\n{ALLOWS}\npub mod {} {{",
        module_name(name)
    );
    if invalid {
        s.push_str("    compile_error!(\"Kiln: the program failed kir verification\");\n");
    }
    s.push_str(
        "    #[cfg(target_endian = \"big\")]\n    \
         compile_error!(\"Kiln-generated Rust stores weights little-endian: big-endian targets are not supported\");\n\n",
    );
    let _ = writeln!(
        s,
        "    /// Number of inputs.\n    pub const NUM_INPUTS: usize = {n_in};\n    \
         /// Number of outputs.\n    pub const NUM_OUTPUTS: usize = {n_out};\n    \
         /// Number of symbolic dimensions.\n    pub const NUM_DIMS: usize = {n_dims};\n    \
         /// Alignment of the scratch area (the size of a `ScratchBlock`).\n    pub const SCRATCH_ALIGN: usize = 64;"
    );
    for (d, sym) in dims.iter().zip(&p.syms) {
        let _ = writeln!(
            s,
            "    /// Largest accepted value of symbolic dimension \"{}\".\n    pub const DIM_MAX_{d}: usize = {};",
            doc_text(&sym.name),
            sym.max.max(0)
        );
    }
    s.push('\n');
    s.push_str(&super::strings::rust_section(p, &ios[n_in..]));

    // Public types.
    s.push_str(
        "    /// One 64-byte aligned block of scratch memory; `scratch_blocks` says how many `run` needs.\n    \
         #[repr(C, align(64))]\n    #[derive(Clone, Copy, Debug)]\n    pub struct ScratchBlock(pub [u8; 64]);\n\n    \
         impl ScratchBlock {\n        /// A zeroed block.\n        pub const ZERO: ScratchBlock = ScratchBlock([0; 64]);\n    }\n\n",
    );
    s.push_str("    /// Why `run` failed (the outputs are then unspecified).\n");
    s.push_str("    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]\n    pub enum Error {\n");
    let statuses = [
        Status::BadDim,
        Status::BadLength,
        Status::BadIndex,
        Status::BadValue,
    ];
    let variant = |st: Status| format!("{st:?}");
    for st in statuses {
        let _ = writeln!(
            s,
            "        /// {} (status {}).\n        {},",
            st.describe(),
            st.code(),
            variant(st)
        );
    }
    s.push_str("    }\n\n    impl Error {\n        /// The C ABI status code.\n        pub fn code(self) -> i32 {\n            match self {\n");
    for st in statuses {
        let _ = writeln!(
            s,
            "                Error::{} => {},",
            variant(st),
            st.code()
        );
    }
    s.push_str(
        "            }\n        }\n        /// The error of a non-zero status code (an unknown code is `BadValue`), `None` for 0.\n        \
         pub fn from_code(code: i32) -> Option<Error> {\n            match code {\n                0 => None,\n",
    );
    for st in statuses {
        let _ = writeln!(
            s,
            "                {} => Some(Error::{}),",
            st.code(),
            variant(st)
        );
    }
    s.push_str("                _ => Some(Error::BadValue),\n            }\n        }\n    }\n\n");
    s.push_str(
        "    impl core::fmt::Display for Error {\n        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {\n            \
         f.write_str(match self {\n",
    );
    for st in statuses {
        let _ = writeln!(
            s,
            "                Error::{} => \"{}\",",
            variant(st),
            st.describe()
        );
    }
    s.push_str("            })\n        }\n    }\n\n    impl core::error::Error for Error {}\n\n");

    // Names of the safe API's parameters.
    let mut names: Vec<String> = vec!["scratch".into(), "par".into()];
    names.extend(dims.iter().cloned());
    names.extend(ios.iter().cloned());
    let mut taken: Vec<String> = [
        "kiln_dims",
        "kiln_inputs",
        "kiln_outputs",
        "kiln_lens",
        "kiln_run",
        "kiln_status",
        "kiln_dim",
        "kiln_bytes",
        "NUM_INPUTS",
        "NUM_OUTPUTS",
        "NUM_DIMS",
        "SCRATCH_ALIGN",
        "KILN_WEIGHTS",
        "KilnAligned",
    ]
    .iter()
    .map(|x| x.to_string())
    .collect();
    taken.extend(dims.iter().map(|d| format!("DIM_MAX_{d}")));
    let fresh = fresh_names(&names, &taken);
    let scratch_param = &fresh[0];
    let par_param = &fresh[1];
    let dim_params = &fresh[2..2 + n_dims];
    let io_params = &fresh[2 + n_dims..];
    let dim_list: Vec<String> = dim_params.iter().map(|d| format!("{d}: usize")).collect();
    let dim_array = format!(
        "let kiln_dims: [i64; {n_dims}] = [{}];",
        dim_params
            .iter()
            .map(|d| format!("kiln_dim({d})"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    s.push_str(
        "    /// A dimension value as the ABI's `i64` (-1, always rejected, if it does not fit).\n    \
         fn kiln_dim(d: usize) -> i64 {\n        if d > i64::MAX as usize { -1 } else { d as i64 }\n    }\n\n",
    );

    // Element counts.
    for (i, (io, len)) in p.inputs.iter().chain(&p.outputs).zip(&io_lens).enumerate() {
        let kind = if i < n_in { "input" } else { "output" };
        let _ = writeln!(
            s,
            "    /// Element count of {kind} \"{}\" ({}, shape {}).\n    pub fn {}_len({}) -> usize {{\n        \
             {dim_array}\n        {len} as usize\n    }}\n",
            doc_text(&io.name),
            io.elem,
            doc_text(&shape_of(p, &io.shape)),
            ios[i],
            dim_list.join(", ")
        );
    }

    // Scratch.
    let max_checks: Vec<String> = dims
        .iter()
        .enumerate()
        .map(|(i, d)| format!("kiln_dims[{i}] < 0 || kiln_dims[{i}] > DIM_MAX_{d} as i64"))
        .collect();
    let range_check = if max_checks.is_empty() {
        String::new()
    } else {
        format!(
            "if {} {{\n            return 0;\n        }}\n        ",
            max_checks.join(" || ")
        )
    };
    let _ = writeln!(
        s,
        "    /// Number of `ScratchBlock`s `run` needs (0 if a dim is out of range: `run` rejects it).\n    \
         pub fn scratch_blocks({}) -> usize {{\n        {dim_array}\n        {range_check}\
         let kiln_bytes: i64 = {scratch_bytes};\n        \
         if kiln_bytes <= 0 {{ 0 }} else {{ (kiln_bytes as u64).div_ceil(64) as usize }}\n    }}\n",
        dim_list.join(", "),
    );

    // Safe entry.
    let mut params = dim_list.clone();
    for (i, io) in p.inputs.iter().chain(&p.outputs).enumerate() {
        let r = if i < n_in { "&" } else { "&mut " };
        params.push(format!("{}: {r}[{}]", io_params[i], slice_ty(io.elem)));
    }
    params.push(format!("{scratch_param}: &mut [ScratchBlock]"));
    let mut doc = String::from("    /// Runs the model: dims, then inputs, then outputs (row-major), then scratch (at least\n    /// `scratch_blocks(dims)` blocks). Validates everything before computing.\n");
    for (i, io) in p.inputs.iter().chain(&p.outputs).enumerate() {
        let _ = writeln!(
            doc,
            "    /// - `{}`: {} \"{}\", {}, shape {}",
            io_params[i],
            if i < n_in { "input" } else { "output" },
            doc_text(&io.name),
            io.elem,
            doc_text(&shape_of(p, &io.shape))
        );
    }
    s.push_str(&doc);
    let args: Vec<&str> = dim_params
        .iter()
        .chain(io_params)
        .chain([scratch_param])
        .map(|x| x.as_str())
        .collect();
    let args = args.join(", ");
    let _ = writeln!(
        s,
        "    pub fn run({}) -> Result<(), Error> {{\n        \
         // SAFETY: a null parallel-for runs everything on this thread.\n        \
         unsafe {{ kiln_run(core::ptr::null(), {args}) }}\n    }}\n",
        params.join(", ")
    );
    let _ = writeln!(
        s,
        "    /// `run` with the caller's parallel-for (`kiln_shim::parallel::Parallel`): large matrix\n    \
         /// products and convolutions are split into at most `{par_param}.threads` parts that\n    \
         /// `{par_param}.run` may run on other threads (each needs about 70 KiB of stack). The\n    \
         /// results are the same bits for every thread count.\n    \
         ///\n    /// # Safety\n    /// `{par_param}.run` calls `task(arg, i)` exactly once for every `i` in `0..n`, and returns\n    \
         /// only when every call has returned; `{par_param}.ctx` is what it expects.\n    \
         pub unsafe fn run_parallel({}, {par_param}: &kiln_shim::parallel::Parallel) -> Result<(), Error> {{\n        \
         // SAFETY: as the caller promises.\n        \
         unsafe {{ kiln_run({par_param}, {args}) }}\n    }}\n",
        params.join(", ")
    );
    let _ = writeln!(
        s,
        "    unsafe fn kiln_run({par_param}: *const kiln_shim::parallel::Parallel, {}) -> Result<(), Error> {{",
        params.join(", ")
    );
    let _ = writeln!(s, "        {dim_array}");
    let ins: Vec<String> = (0..n_in)
        .map(|i| format!("{}.as_ptr() as *const u8", io_params[i]))
        .collect();
    let outs: Vec<String> = (n_in..n_in + n_out)
        .map(|i| format!("{}.as_mut_ptr() as *mut u8", io_params[i]))
        .collect();
    let mut lens: Vec<String> = (0..n_in + n_out)
        .map(|i| format!("{}.len() as u64", io_params[i]))
        .collect();
    lens.push(format!("({scratch_param}.len() as u64).saturating_mul(64)"));
    let _ = writeln!(
        s,
        "        let kiln_inputs: [*const u8; {n_in}] = [{}];",
        ins.join(", ")
    );
    let _ = writeln!(
        s,
        "        let kiln_outputs: [*mut u8; {n_out}] = [{}];",
        outs.join(", ")
    );
    let _ = writeln!(
        s,
        "        let kiln_lens: [u64; {}] = [{}];",
        lens.len(),
        lens.join(", ")
    );
    let _ = writeln!(
        s,
        "        // SAFETY: every pointer comes from a live slice whose length is in `kiln_lens`; the\n        \
         // first kernel validates dims and lengths before anything is read or written.\n        \
         let kiln_status = unsafe {{\n            run_parallel_raw(kiln_dims.as_ptr(), kiln_inputs.as_ptr(), kiln_outputs.as_ptr(), \
         {scratch_param}.as_mut_ptr() as *mut u8, kiln_lens.as_ptr(), {par_param})\n        }};\n        \
         match Error::from_code(kiln_status) {{\n            None => Ok(()),\n            Some(e) => Err(e),\n        }}\n    }}\n"
    );

    // Raw entry.
    s.push_str(
        "    /// Runs the model with the C ABI's semantics (docs/abi.md): returns 0 or a status code.\n    \
         ///\n    /// # Safety\n    /// `dims` points to `NUM_DIMS` values (may dangle if there are none); `inputs` and\n    \
         /// `outputs` to `NUM_INPUTS` and `NUM_OUTPUTS` pointers to buffers aligned to their element\n    \
         /// type and at least as long as `lens` says (element counts of every input then every\n    \
         /// output, then the scratch size in bytes); `scratch` is 64-byte aligned; outputs and\n    \
         /// scratch do not overlap anything else.\n",
    );
    let _ = writeln!(
        s,
        "    pub unsafe fn run_raw({ENTRY_PARAMS}) -> i32 {{\n        \
         unsafe {{ run_parallel_raw(dims, inputs, outputs, scratch, lens, core::ptr::null()) }}\n    }}\n\n    \
         /// `run_raw` with the caller's parallel-for, or null (as `run_parallel`).\n    \
         ///\n    /// # Safety\n    /// As `run_raw` and `run_parallel`.\n    \
         pub unsafe fn run_parallel_raw({KERNEL_PARAMS}) -> i32 {{\n        unsafe {{"
    );
    for i in 0..p.kernels.len() {
        let _ = writeln!(
            s,
            "            let kiln_status = kiln_k{i}(dims, inputs, outputs, scratch, lens, par);\n            \
             if kiln_status != 0 {{\n                return kiln_status;\n            }}"
        );
    }
    s.push_str("            0\n        }\n    }\n\n");

    // Weights.
    let weights = if p.weights.is_empty() {
        None
    } else {
        let _ = writeln!(
            s,
            "    #[repr(C, align(64))]\n    struct KilnAligned<T: ?Sized>(T);\n    \
             /// {} bytes of weights, little-endian.\n    \
             static KILN_WEIGHTS: KilnAligned<[u8; {}]> = KilnAligned(*include_bytes!(\"{name}.weights.bin\"));\n",
            p.weights.len(),
            p.weights.len()
        );
        Some(p.weights.clone())
    };

    // Helpers.
    let mut all = helpers.clone();
    for h in &helpers {
        all.extend(h.deps());
    }
    for h in &all {
        s.push_str(&h.def());
    }
    if !all.is_empty() {
        s.push('\n');
    }
    s.push_str(&kernels);
    while s.ends_with("\n\n") {
        s.pop();
    }
    s.push_str("}\n");
    (s, weights)
}

fn shape_of(p: &Program, shape: &[IoDim]) -> String {
    let parts: Vec<String> = shape
        .iter()
        .map(|d| match d {
            IoDim::Fixed(n) => n.to_string(),
            IoDim::Sym(s) => p
                .syms
                .get(s.0 as usize)
                .map_or_else(|| "?".into(), |x| x.name.clone()),
            IoDim::Expr(_, text) => text.clone(),
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

#[cfg(test)]
mod tests;
