//! Tests of the C backend and the header on their own: literal printing, the weights string,
//! determinism, and the header used from C and C++ (`NAME_infer`, sizes, macros, several
//! headers together). Semantics are tested through `exec` (exec/tests.rs).

use super::expr::{hex_float, int_lit};
use super::*;
use crate::backend::exec::tests::{
    expected_text, flow_program, flow_requests, have_tools, memory_program, scratch_dir, tool,
    weird_program,
};
use crate::backend::header::emit_header;
use crate::backend::shim::cached_shim;
use std::process::Command;

#[test]
fn hex_floats_are_exact() {
    assert_eq!(hex_float(0.0), "0x0p+0");
    assert_eq!(hex_float(1.0), "0x1p+0");
    assert_eq!(hex_float(1.5), "0x1.8p+0");
    assert_eq!(hex_float(0.1), "0x1.999999999999ap-4");
    assert_eq!(hex_float(f64::MAX), "0x1.fffffffffffffp+1023");
    assert_eq!(hex_float(f64::MIN_POSITIVE), "0x1p-1022");
    assert_eq!(hex_float(5e-324), "0x0.0000000000001p-1022");
    assert_eq!(hex_float(f32::MIN_POSITIVE as f64 / 4.0), "0x1p-128");
    assert_eq!(int_lit(Scalar::I64, i64::MIN as i128), "(-INT64_MAX - 1)");
    assert_eq!(
        int_lit(Scalar::U64, u64::MAX as i128),
        "UINT64_C(18446744073709551615)"
    );
    assert_eq!(int_lit(Scalar::I8, -128), "((int8_t)-128)");
}

/// Decodes the C string literal lines `weights_literal` prints.
fn decode_literal(lit: &str) -> Vec<u8> {
    let mut out = vec![];
    for line in lit.lines() {
        let body = line
            .trim()
            .strip_prefix('"')
            .and_then(|l| l.strip_suffix('"'))
            .expect("quoted line");
        let b = body.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'\\' {
                let oct = std::str::from_utf8(&b[i + 1..i + 4]).expect("ascii");
                out.push(u8::from_str_radix(oct, 8).expect("three octal digits"));
                i += 4;
            } else {
                assert!(b[i] != b'"' && b[i] != b'?', "unescaped {}", b[i] as char);
                out.push(b[i]);
                i += 1;
            }
        }
    }
    out
}

#[test]
fn weights_literal_round_trips() {
    let mut bytes: Vec<u8> = (0..=255u8).rev().collect();
    bytes.extend_from_slice(b"\x0012\x07??=\"\\");
    let lit = weights_literal(&bytes);
    assert_eq!(decode_literal(&lit), bytes);
    assert!(lit.lines().all(|l| l.len() < 4 * 64 + 8));
    assert_eq!(weights_literal(&[]), "");
}

#[test]
fn output_is_deterministic() {
    for p in [flow_program(), memory_program(), weird_program()] {
        assert_eq!(emit_c(&p), emit_c(&p));
        assert_eq!(emit_header(&p), emit_header(&p));
        assert_eq!(
            crate::backend::rust::emit_rust(&p),
            crate::backend::rust::emit_rust(&p)
        );
    }
}

#[test]
fn header_compiles_in_c_and_cpp_with_several_models() {
    if !have_tools() {
        return;
    }
    let dir = scratch_dir("header");
    let progs = [flow_program(), memory_program(), weird_program()];
    let mut inc = String::new();
    for p in &progs {
        std::fs::write(dir.join(format!("{}.h", p.name)), emit_header(p)).expect("write header");
        inc.push_str(&format!("#include \"{0}.h\"\n#include \"{0}.h\"\n", p.name));
    }
    inc.push_str("int main(void) { return weird_NUM_INPUTS + flow_NUM_DIMS - 11; }\n");
    std::fs::write(dir.join("all.c"), &inc).expect("write");
    tool(
        Command::new("cc")
            .args([
                "-std=c11",
                "-Wall",
                "-Wextra",
                "-Werror",
                "-pedantic",
                "-c",
                "all.c",
            ])
            .current_dir(&dir),
    );
    tool(
        Command::new("cc")
            .args([
                "-std=c99", "-Wall", "-Wextra", "-Werror", "-c", "all.c", "-o", "all99.o",
            ])
            .current_dir(&dir),
    );
    if Command::new("g++").arg("--version").output().is_ok() {
        tool(
            Command::new("g++")
                .args([
                    "-std=c++17",
                    "-Wall",
                    "-Wextra",
                    "-Werror",
                    "-x",
                    "c++",
                    "-c",
                    "all.c",
                    "-o",
                    "allxx.o",
                ])
                .current_dir(&dir),
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

const FLOW_MAIN: &str = r#"
#include <stdio.h>
#include <string.h>
#include "flow.h"
static void dump(const void *p, size_t n) {
    const unsigned char *b = (const unsigned char *)p;
    size_t i;
    for (i = 0; i < n; i++) printf("%02x", b[i]);
    printf("\n");
}
int main(void) {
    const int64_t dims[2] = {5, 3};
    float x[15];
    const int32_t idx[5] = {4, 0, 2, 2, 1};
    float rows[5], gathered[5];
    int64_t count[3];
    int32_t tri[25];
    int32_t st;
    int i;
    for (i = 0; i < 15; i++) x[i] = ((float)i - 6.0f) * 0.75f;
    memset(rows, 0, sizeof rows);
    memset(gathered, 0, sizeof gathered);
    memset(count, 0, sizeof count);
    memset(tri, 0, sizeof tri);
    if (flow_x_in_len(dims) != 15 || flow_idx_len(dims) != 5 || flow_tri_len(dims) != 25 || flow_count_len(dims) != 3
        || flow_scratch_size(dims) != 0) {
        printf("bad sizes\n");
        return 1;
    }
    if (flow_NUM_INPUTS != 2 || flow_NUM_OUTPUTS != 4 || flow_NUM_DIMS != 2 || flow_DIM_N != 0 || flow_DIM_M != 1
        || flow_DIM_MAX_N != 50 || flow_DIM_MAX_M != 8 || flow_SCRATCH_ALIGN != 64 || KILN_OK != 0) {
        printf("bad macros\n");
        return 1;
    }
    st = flow_infer(5, 3, x, 15, idx, 5, rows, 5, gathered, 5, count, 3, tri, 25, NULL, 0);
    printf("%d\n", (int)st);
    dump(rows, sizeof rows);
    dump(gathered, sizeof gathered);
    dump(count, sizeof count);
    dump(tri, sizeof tri);
    printf("%d\n", (int)flow_infer(51, 3, x, 15, idx, 5, rows, 5, gathered, 5, count, 3, tri, 25, NULL, 0));
    printf("%d\n", (int)flow_infer(5, 3, x, 14, idx, 5, rows, 5, gathered, 5, count, 3, tri, 25, NULL, 0));
    return 0;
}
"#;

#[test]
fn infer_wrapper_runs_from_c_and_cpp() {
    if !have_tools() {
        return;
    }
    let shim = cached_shim(None).expect("shim");
    let p = flow_program();
    let r = flow_requests(&p).remove(0);
    let mut want = expected_text(&p, &r);
    want.push_str("1\n2\n");
    let dir = scratch_dir("infer");
    std::fs::write(dir.join("flow.c"), emit_c(&p)).expect("write");
    std::fs::write(dir.join("flow.h"), emit_header(&p)).expect("write");
    std::fs::write(dir.join("main.c"), FLOW_MAIN).expect("write");
    let warn = ["-Wall", "-Wextra", "-Werror"];
    tool(
        Command::new("cc")
            .args(["-O2", "-std=c11", "-c", "flow.c"])
            .args(warn)
            .current_dir(&dir),
    );
    tool(
        Command::new("cc")
            .args(["-O2", "-std=c11", "main.c", "flow.o", "-lm"])
            .arg(&shim.staticlib)
            .args(["-lm", "-o", "main_c"])
            .args(warn)
            .current_dir(&dir),
    );
    let got = tool(Command::new(dir.join("main_c")).current_dir(&dir));
    assert_eq!(got, want, "C");
    if Command::new("g++").arg("--version").output().is_ok() {
        tool(
            Command::new("g++")
                .args([
                    "-O2",
                    "-std=c++17",
                    "-x",
                    "c++",
                    "main.c",
                    "-x",
                    "none",
                    "flow.o",
                    "-lm",
                ])
                .arg(&shim.staticlib)
                .args(["-lm", "-o", "main_cxx"])
                .args(warn)
                .current_dir(&dir),
        );
        let got = tool(Command::new(dir.join("main_cxx")).current_dir(&dir));
        assert_eq!(got, want, "C++");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
