//! The C header `NAME.h` of an artifact (docs/abi.md): status codes, counts, symbolic dims
//! and their maxima, `static inline` size functions, the `NAME_run` prototype and the typed
//! wrapper `NAME_infer`. The same header serves the object, C and (for C callers) every
//! other backend's artifact.
//!
//! Invariants: valid C99/C11 and C++ (`extern "C"`), warning-free with `-Wall -Wextra`;
//! every identifier it defines starts with `NAME_` (or is `KILN_OK`/`KILN_ERR_*`, guarded by
//! `KILN_STATUS_CODES`), so headers of several models can be included together; parameter
//! names of `NAME_infer` are made from ONNX names, unique, and never a C/C++ keyword or a
//! macro this header defines. Deterministic. Booleans are `uint8_t` holding 0 or 1.

use super::c::expr::{c_type, helper_defs, ExprCx};
use super::c::{comment_text, run_parallel_prototype, run_prototype, PARALLEL_TYPEDEF};
use super::unique_idents;
use crate::kir::{IoDim, IoInfo, Program, Scalar};
use std::fmt::Write;

/// C and C++ keywords (and `NULL`), which cannot be parameter names.
const RESERVED: &[&str] = &[
    "auto",
    "break",
    "case",
    "char",
    "const",
    "continue",
    "default",
    "do",
    "double",
    "else",
    "enum",
    "extern",
    "float",
    "for",
    "goto",
    "if",
    "inline",
    "int",
    "long",
    "register",
    "restrict",
    "return",
    "short",
    "signed",
    "sizeof",
    "static",
    "struct",
    "switch",
    "typedef",
    "union",
    "unsigned",
    "void",
    "volatile",
    "while",
    "_Alignas",
    "_Alignof",
    "_Atomic",
    "_Bool",
    "_Complex",
    "_Generic",
    "_Imaginary",
    "_Noreturn",
    "_Static_assert",
    "_Thread_local",
    "alignas",
    "alignof",
    "and",
    "and_eq",
    "asm",
    "bitand",
    "bitor",
    "bool",
    "catch",
    "char8_t",
    "char16_t",
    "char32_t",
    "class",
    "compl",
    "concept",
    "const_cast",
    "consteval",
    "constexpr",
    "constinit",
    "co_await",
    "co_return",
    "co_yield",
    "decltype",
    "delete",
    "dynamic_cast",
    "explicit",
    "export",
    "false",
    "friend",
    "module",
    "import",
    "mutable",
    "namespace",
    "new",
    "noexcept",
    "not",
    "not_eq",
    "nullptr",
    "operator",
    "or",
    "or_eq",
    "private",
    "protected",
    "public",
    "reinterpret_cast",
    "requires",
    "static_assert",
    "static_cast",
    "template",
    "this",
    "thread_local",
    "throw",
    "true",
    "try",
    "typeid",
    "typename",
    "using",
    "virtual",
    "wchar_t",
    "xor",
    "xor_eq",
    "NULL",
];

/// C identifiers of the symbolic dims (unique among themselves).
pub fn dim_idents(p: &Program) -> Vec<String> {
    unique_idents(&p.syms.iter().map(|s| s.name.clone()).collect::<Vec<_>>())
}

/// C identifiers of the inputs then outputs (unique among themselves), as used in
/// `NAME_<io>_len`.
pub fn io_idents(p: &Program) -> Vec<String> {
    let names: Vec<String> = p
        .inputs
        .iter()
        .chain(&p.outputs)
        .map(|io| io.name.clone())
        .collect();
    unique_idents(&names)
}

/// Names made unique with `_2`, `_3`, ... avoiding `taken` and keywords; a taken or
/// reserved name first gets a `_` suffix.
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
        while used.contains(&cand) {
            cand = format!("{base}_{k}");
            k += 1;
        }
        used.push(cand.clone());
        out.push(cand);
    }
    out
}

fn shape_text(p: &Program, io: &IoInfo) -> String {
    let dims: Vec<String> = io
        .shape
        .iter()
        .map(|d| match d {
            IoDim::Fixed(n) => n.to_string(),
            IoDim::Sym(s) => p
                .syms
                .get(s.0 as usize)
                .map_or_else(|| format!("?{}", s.0), |x| x.name.clone()),
            IoDim::Expr(_, text) => text.clone(),
        })
        .collect();
    format!("[{}]", dims.join(", "))
}

/// The header of `p`.
pub fn emit_header(p: &Program) -> String {
    let name = &p.name;
    let dims = dim_idents(p);
    let ios = io_idents(p);
    let (n_in, n_out) = (p.inputs.len(), p.outputs.len());
    let mut s = String::new();
    let _ = writeln!(
        s,
        "/* {name}.h: C interface of model \"{}\", compiled by Kiln. Generated: do not edit.\n\
         \x20*\n\
         \x20* int32_t {name}_run(dims, inputs, outputs, scratch, lens) runs the model: dims holds the\n\
         \x20* {n} symbolic dimension values (may be NULL if there are none), inputs and outputs the\n\
         \x20* buffers (row-major, aligned to their element type), scratch {name}_scratch_size(dims)\n\
         \x20* bytes aligned to {name}_SCRATCH_ALIGN, lens the element count of every input then every\n\
         \x20* output, then the scratch size in bytes. It returns KILN_OK or a KILN_ERR_* status (then\n\
         \x20* the outputs are unspecified), after validating dims, then lengths, before computing.\n\
         \x20* It is re-entrant and thread-safe and allocates nothing. Booleans are uint8_t holding\n\
         \x20* 0 or 1.\n\
         \x20*\n\
         \x20* {name}_run_parallel(dims, inputs, outputs, scratch, lens, par) is the same with the\n\
         \x20* caller's parallel-for (kiln_parallel below; NULL runs on the calling thread): large\n\
         \x20* matrix products and convolutions are split over par->threads parts that par->run\n\
         \x20* may run on other threads (each needs about 70 KiB of stack). The results are the same\n\
         \x20* bits for every thread count. */",
        comment_text(name),
        n = p.syms.len()
    );
    let _ = writeln!(
        s,
        "#ifndef KILN_H_{name}\n#define KILN_H_{name}\n\n#include <stdint.h>\n"
    );
    let _ = writeln!(
        s,
        "/* The caller's parallel-for: run(ctx, n, task, arg) calls task(arg, i) exactly once for\n\
         \x20* every i in [0, n), on any threads and in any order, and returns when all have\n\
         \x20* returned (a plain loop is valid); threads is the most parts a call is split into. */\n\
         {PARALLEL_TYPEDEF}"
    );
    if !p.strings.is_empty() {
        s.push_str("#include <stddef.h>\n\n");
    }
    s.push_str("#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n");
    s.push_str(
        "#ifndef KILN_STATUS_CODES\n#define KILN_STATUS_CODES\n\
         #define KILN_OK 0         /* success */\n\
         #define KILN_ERR_DIM 1    /* a dim value is negative or above its NAME_DIM_MAX_<dim> */\n\
         #define KILN_ERR_LENGTH 2 /* a buffer is shorter than the model needs */\n\
         #define KILN_ERR_INDEX 3  /* an index taken from the data is out of range */\n\
         #define KILN_ERR_VALUE 4  /* another run-time value made the computation impossible */\n\
         #endif\n\n",
    );
    let mut macros = vec![];
    let mut define = |s: &mut String, m: String, v: String, comment: String| {
        let _ = writeln!(s, "#define {m} {v}{comment}");
        macros.push(m);
    };
    define(
        &mut s,
        format!("{name}_NUM_INPUTS"),
        n_in.to_string(),
        String::new(),
    );
    define(
        &mut s,
        format!("{name}_NUM_OUTPUTS"),
        n_out.to_string(),
        String::new(),
    );
    define(
        &mut s,
        format!("{name}_NUM_DIMS"),
        p.syms.len().to_string(),
        String::new(),
    );
    define(
        &mut s,
        format!("{name}_SCRATCH_ALIGN"),
        "64".into(),
        String::new(),
    );
    for (i, (d, sym)) in dims.iter().zip(&p.syms).enumerate() {
        let c = format!(" /* symbolic dim \"{}\" */", comment_text(&sym.name));
        define(&mut s, format!("{name}_DIM_{d}"), i.to_string(), c);
        define(
            &mut s,
            format!("{name}_DIM_MAX_{d}"),
            format!("INT64_C({})", sym.max),
            String::new(),
        );
    }
    s.push('\n');

    // Size functions: kir expressions printed with header-local helpers.
    let prefix = format!("{name}_kiln_");
    let mut cx = ExprCx::new(p, &[], &prefix);
    let mut funcs = String::new();
    for (i, io) in p.inputs.iter().chain(&p.outputs).enumerate() {
        let kind = if i < n_in {
            format!("input {i}")
        } else {
            format!("output {}", i - n_in)
        };
        let (len, ty) = cx.expr(&io.len);
        cx.unsupported |= ty != Scalar::I64;
        let _ = writeln!(
            funcs,
            "/* {kind}: \"{}\", {} ({}), shape {}: {name}_{}_len(dims) elements */\n\
             static inline uint64_t {name}_{}_len(const int64_t *dims) {{\n    (void)dims;\n    return (uint64_t){len};\n}}",
            comment_text(&io.name),
            c_type(io.elem),
            io.elem,
            comment_text(&shape_text(p, io)),
            ios[i],
            ios[i],
        );
    }
    let (size, ty) = cx.expr(&p.scratch_len);
    cx.unsupported |= ty != Scalar::I64;
    let _ = writeln!(
        funcs,
        "/* bytes of scratch needed (for dims in range) */\n\
         static inline uint64_t {name}_scratch_size(const int64_t *dims) {{\n    (void)dims;\n    \
         return (uint64_t){size};\n}}\n"
    );
    if cx.unsupported || !cx.shims.is_empty() {
        s.push_str("#error \"Kiln: unsupported size expression\"\n");
    }
    if !cx.helpers.is_empty() {
        s.push_str(&helper_defs(&cx.helpers, &prefix));
        s.push('\n');
    }
    s.push_str(&funcs);

    let _ = writeln!(
        s,
        "{};\n{};\n",
        run_prototype(name),
        run_parallel_prototype(name)
    );
    s.push_str(&super::strings::c_section(p, &ios[n_in..]));

    // The typed wrapper.
    let mut pnames: Vec<String> = dims.clone();
    for id in &ios {
        pnames.push(id.clone());
        pnames.push(format!("{id}_len"));
    }
    pnames.push("scratch".into());
    pnames.push("scratch_len".into());
    let mut taken: Vec<String> = ["kiln_dims", "kiln_inputs", "kiln_outputs", "kiln_lens"]
        .iter()
        .map(|x| x.to_string())
        .collect();
    taken.extend(macros);
    // `scratch` and `scratch_len` keep their names: give them priority.
    let n = pnames.len();
    let mut ordered = pnames[n - 2..].to_vec();
    ordered.extend_from_slice(&pnames[..n - 2]);
    let fresh = fresh_names(&ordered, &taken);
    let (scratch_names, rest) = fresh.split_at(2);
    let dim_params = &rest[..dims.len()];
    let io_params = &rest[dims.len()..];
    let mut params = vec![];
    for d in dim_params {
        params.push(format!("int64_t {d}"));
    }
    for (i, io) in p.inputs.iter().chain(&p.outputs).enumerate() {
        let ct = c_type(io.elem);
        let cq = if i < n_in { "const " } else { "" };
        params.push(format!("{cq}{ct} *{}", io_params[2 * i]));
        params.push(format!("uint64_t {}", io_params[2 * i + 1]));
    }
    params.push(format!("void *{}", scratch_names[0]));
    params.push(format!("uint64_t {}", scratch_names[1]));
    let _ = writeln!(
        s,
        "/* {name}_run with one argument per dim, buffer and length. */\n\
         static inline int32_t {name}_infer({}) {{",
        params.join(", ")
    );
    if dims.is_empty() {
        s.push_str("    const int64_t *kiln_dims = 0;\n");
    } else {
        let _ = writeln!(
            s,
            "    const int64_t kiln_dims[{}] = {{{}}};",
            dims.len(),
            dim_params.join(", ")
        );
    }
    let data = |i: usize| io_params[2 * i].clone();
    if n_in == 0 {
        s.push_str("    const void *const *kiln_inputs = 0;\n");
    } else {
        let v: Vec<String> = (0..n_in).map(data).collect();
        let _ = writeln!(
            s,
            "    const void *const kiln_inputs[{n_in}] = {{{}}};",
            v.join(", ")
        );
    }
    if n_out == 0 {
        s.push_str("    void *const *kiln_outputs = 0;\n");
    } else {
        let v: Vec<String> = (n_in..n_in + n_out).map(data).collect();
        let _ = writeln!(
            s,
            "    void *const kiln_outputs[{n_out}] = {{{}}};",
            v.join(", ")
        );
    }
    let mut lens: Vec<String> = (0..n_in + n_out)
        .map(|i| io_params[2 * i + 1].clone())
        .collect();
    lens.push(scratch_names[1].clone());
    let _ = writeln!(
        s,
        "    const uint64_t kiln_lens[{}] = {{{}}};",
        lens.len(),
        lens.join(", ")
    );
    let _ = writeln!(
        s,
        "    return {name}_run(kiln_dims, kiln_inputs, kiln_outputs, {}, kiln_lens);\n}}\n",
        scratch_names[0]
    );
    s.push_str("#ifdef __cplusplus\n}\n#endif\n\n");
    let _ = writeln!(s, "#endif /* KILN_H_{name} */");
    s
}
