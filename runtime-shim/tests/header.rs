//! Keeps `include/kiln_shim.h` in sync with the crate: the set of functions the header
//! declares, with their C signatures, must be exactly the set of `#[no_mangle] extern "C"`
//! functions in `src/*.rs` (parsed as text), and the ABI version macro must match
//! `KILN_SHIM_ABI_VERSION`. Link-support symbols of the staticlib build (`LINK_ONLY`) are
//! not part of the C API: they must be `#[cfg(kiln_shim_staticlib)]` and are not declared.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

/// (name, return type, parameter types), in C spelling.
type Sig = (String, String, Vec<String>);

/// `#[no_mangle]` functions that exist only to satisfy the linker in the staticlib build.
const LINK_ONLY: &[&str] = &["rust_eh_personality"];

fn c_type_of_rust(t: &str) -> String {
    match t.trim() {
        "f32" => "float",
        "f64" => "double",
        "u32" => "uint32_t",
        "i32" => "int32_t",
        "i64" => "int64_t",
        "*const f32" => "const float *",
        "*mut f32" => "float *",
        "*const i64" => "const int64_t *",
        "*const parallel::Parallel" => "const kiln_parallel *",
        other => panic!("no C spelling for Rust type `{other}` in an exported signature"),
    }
    .to_string()
}

/// Every `extern "C" fn` in the source text, checking it is `#[no_mangle] pub`.
fn rust_exports(src: &str, file: &str, out: &mut BTreeSet<Sig>) {
    let lines: Vec<&str> = src.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let Some(pos) = line.find("extern \"C\" fn ") else {
            continue;
        };
        let t = line.trim_start();
        if t.starts_with("//") {
            continue;
        }
        // A private callback passed by pointer (the parallel-for's task) is not exported.
        if !t.starts_with("pub ") && (i == 0 || lines[i - 1].trim() != "#[no_mangle]") {
            continue;
        }
        assert!(
            t.starts_with("pub extern \"C\" fn ") || t.starts_with("pub unsafe extern \"C\" fn "),
            "{file}:{}: exported function must be `pub (unsafe) extern \"C\" fn`",
            i + 1
        );
        assert!(
            i > 0 && lines[i - 1].trim() == "#[no_mangle]",
            "{file}:{}: extern \"C\" fn without #[no_mangle] on the line before",
            i + 1
        );
        let rest = &line[pos + "extern \"C\" fn ".len()..];
        let open = rest.find('(').expect("(");
        let close = rest.find(')').expect(")");
        let name = rest[..open].trim().to_string();
        if LINK_ONLY.contains(&name.as_str()) {
            assert!(
                i > 1 && lines[i - 2].trim() == "#[cfg(kiln_shim_staticlib)]",
                "{file}:{}: link-only `{name}` must be #[cfg(kiln_shim_staticlib)]",
                i + 1
            );
            continue;
        }
        let params: Vec<String> = rest[open + 1..close]
            .split(',')
            .filter(|p| !p.trim().is_empty())
            .map(|p| c_type_of_rust(p.split_once(':').expect("param type").1))
            .collect();
        let after = &rest[close + 1..];
        let ret = match after.split("->").nth(1) {
            Some(r) => c_type_of_rust(r.split('{').next().unwrap()),
            None => "void".to_string(),
        };
        out.insert((name, ret, params));
    }
}

/// Every `type kiln_shim_name(params);` prototype in the header.
fn header_decls(h: &str) -> BTreeSet<Sig> {
    let mut out = BTreeSet::new();
    for line in h.lines() {
        let t = line.trim();
        if !t.ends_with(");")
            || t.starts_with('#')
            || t.starts_with("/*")
            || t.starts_with('*')
            || t.contains("(*")
        {
            continue;
        }
        let open = t.find('(').unwrap();
        let head: Vec<&str> = t[..open].split_whitespace().collect();
        assert_eq!(head.len(), 2, "unexpected declaration `{t}`");
        let params_txt = &t[open + 1..t.len() - 2];
        let params: Vec<String> = if params_txt.trim() == "void" {
            Vec::new()
        } else {
            params_txt
                .split(',')
                .map(|p| p.trim().to_string())
                .collect()
        };
        assert!(
            head[1].starts_with("kiln_shim_"),
            "`{t}` is not a shim function"
        );
        assert!(
            out.insert((head[1].to_string(), head[0].to_string(), params)),
            "`{t}` declared twice"
        );
    }
    out
}

#[test]
fn header_matches_exports() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let header = fs::read_to_string(root.join("include/kiln_shim.h")).unwrap();
    let mut exports = BTreeSet::new();
    let mut files: Vec<_> = fs::read_dir(root.join("src"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    files.sort();
    for f in &files {
        let src = fs::read_to_string(f).unwrap();
        rust_exports(&src, &f.display().to_string(), &mut exports);
    }
    let decls = header_decls(&header);
    let only_rs: Vec<_> = exports.difference(&decls).collect();
    let only_h: Vec<_> = decls.difference(&exports).collect();
    assert!(
        only_rs.is_empty() && only_h.is_empty(),
        "header and crate disagree:\n  exported but not declared: {only_rs:?}\n  declared but not exported: {only_h:?}"
    );
    // 18 functions in two precisions, the version query, the three f32 GEMM kernels, the
    // vector exp, sigmoid, tanh and erf for AVX-512F, AVX2 and NEON
    assert_eq!(exports.len(), 57);
    assert!(header.contains("#ifndef KILN_SHIM_H") && header.contains("#define KILN_SHIM_H"));
    assert!(header.contains("#include <stdint.h>"));
}

#[test]
fn header_abi_version_matches() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let header = fs::read_to_string(root.join("include/kiln_shim.h")).unwrap();
    let line = header
        .lines()
        .find(|l| l.starts_with("#define KILN_SHIM_ABI_VERSION"))
        .expect("KILN_SHIM_ABI_VERSION macro");
    let v: u32 = line
        .split_whitespace()
        .nth(2)
        .unwrap()
        .trim_end_matches('u')
        .parse()
        .unwrap();
    assert_eq!(v, kiln_shim::KILN_SHIM_ABI_VERSION);
}
