//! Tests of the Rust backend's API and portability: the safe `run` API used from a program
//! (editions 2021 and 2024, generated files in another directory than the including one, so
//! `include_bytes!` of the weights is exercised), `no_std` library crates, clippy, and the
//! exactness of the prelude's software float functions against `std`. Semantics are tested
//! through `exec` (exec/tests.rs).

use super::expr::lit;
use super::prelude::RHelper;
use super::*;
use crate::backend::exec::tests::{
    expected_text, flow_program, flow_requests, have_tools, math_case, memory_program,
    memory_requests, scratch_dir, tool, weird_program,
};
use crate::backend::shim::{cached_shim, rustc};
use std::path::Path;
use std::process::Command;

/// Writes `NAME.rs` (and weights) of every program into `dir/gen`.
fn write_gen(dir: &Path, progs: &[Program]) {
    let gen = dir.join("gen");
    std::fs::create_dir_all(&gen).expect("gen dir");
    for p in progs {
        let (src, w) = emit_rust(p);
        std::fs::write(gen.join(format!("{}.rs", p.name)), src).expect("write rs");
        if let Some(w) = w {
            std::fs::write(gen.join(format!("{}.weights.bin", p.name)), w).expect("write weights");
        }
    }
}

const MAIN: &str = r#"
include!("gen/flow.rs");
include!("gen/memory.rs");
include!("gen/weird.rs");

fn hex(b: impl IntoIterator<Item = u8>) -> String {
    b.into_iter().map(|x| format!("{x:02x}")).collect()
}

fn code(r: Result<(), impl Into<i32>>) -> i32 {
    match r {
        Ok(()) => 0,
        Err(e) => e.into(),
    }
}

impl From<flow::Error> for i32 {
    fn from(e: flow::Error) -> i32 {
        e.code()
    }
}

impl From<memory::Error> for i32 {
    fn from(e: memory::Error) -> i32 {
        e.code()
    }
}

fn main() {
    let x: Vec<f32> = (0..15).map(|i| (i as f32 - 6.0) * 0.75).collect();
    let idx = [4i32, 0, 2, 2, 1];
    assert_eq!((flow::x_in_len(5, 3), flow::tri_len(5, 3), flow::scratch_blocks(5, 3)), (15, 25, 0));
    assert_eq!((flow::NUM_INPUTS, flow::NUM_OUTPUTS, flow::NUM_DIMS, flow::DIM_MAX_N), (2, 4, 2, 50));
    let (mut rows, mut gathered, mut count, mut tri) = ([0f32; 5], [0f32; 5], [0i64; 3], [0i32; 25]);
    let mut scratch = vec![flow::ScratchBlock::ZERO; flow::scratch_blocks(5, 3)];
    let r = flow::run(5, 3, &x, &idx, &mut rows, &mut gathered, &mut count, &mut tri, &mut scratch);
    println!("{}", code(r));
    println!("{}", hex(rows.iter().flat_map(|v| v.to_le_bytes())));
    println!("{}", hex(gathered.iter().flat_map(|v| v.to_le_bytes())));
    println!("{}", hex(count.iter().flat_map(|v| v.to_le_bytes())));
    println!("{}", hex(tri.iter().flat_map(|v| v.to_le_bytes())));
    let r = flow::run(51, 3, &x, &idx, &mut rows, &mut gathered, &mut count, &mut tri, &mut scratch);
    println!("{}", code(r));
    let e = flow::run(5, 3, &x[..14], &idx, &mut rows, &mut gathered, &mut count, &mut tri, &mut scratch);
    println!("{}", code(e));
    println!("{}", e.unwrap_err());

    let n = 20;
    let xm: Vec<f64> = (0..20).map(|i| (i as f64 - 7.5) * 1.25).collect();
    let mut bytes_out = vec![0u8; memory::bytes_out_len(n)];
    let mut floats_out = vec![0f32; memory::floats_out_len(n)];
    let mut shorts_out = vec![0i16; memory::shorts_out_len(n)];
    let mut flags_out = vec![false; memory::flags_out_len(n)];
    let (mut y, mut z, mut zb) = (vec![0f64; n], vec![0i16; n], vec![false; n]);
    let mut scratch = vec![memory::ScratchBlock::ZERO; memory::scratch_blocks(n)];
    assert!(scratch.len() > 0 && memory::scratch_blocks(65) == 0);
    let r = memory::run(
        n, &xm, &mut bytes_out, &mut floats_out, &mut shorts_out, &mut flags_out, &mut y, &mut z, &mut zb,
        &mut scratch,
    );
    println!("{}", code(r));
    println!("{}", hex(bytes_out.iter().copied()));
    println!("{}", hex(floats_out.iter().flat_map(|v| v.to_le_bytes())));
    println!("{}", hex(shorts_out.iter().flat_map(|v| v.to_le_bytes())));
    println!("{}", hex(flags_out.iter().map(|&b| b as u8)));
    println!("{}", hex(y.iter().flat_map(|v| v.to_le_bytes())));
    println!("{}", hex(z.iter().flat_map(|v| v.to_le_bytes())));
    println!("{}", hex(zb.iter().map(|&b| b as u8)));
    let short = scratch.len() - 1;
    let r = memory::run(
        n, &xm, &mut bytes_out, &mut floats_out, &mut shorts_out, &mut flags_out, &mut y, &mut z, &mut zb,
        &mut scratch[..short],
    );
    println!("{}", code(r));
    let _ = weird::run;
}
"#;

#[test]
fn safe_api_from_a_program_in_both_editions() {
    if !have_tools() {
        return;
    }
    let shim = cached_shim(None).expect("shim");
    let (flow, memory) = (flow_program(), memory_program());
    let mut want = expected_text(&flow, &flow_requests(&flow)[0]);
    want.push_str("1\n2\na buffer is shorter than the model needs\n");
    want.push_str(&expected_text(&memory, &memory_requests(&memory)[0]));
    want.push_str("2\n");
    let dir = scratch_dir("rust-api");
    write_gen(&dir, &[flow, memory, weird_program()]);
    std::fs::write(dir.join("main.rs"), MAIN).expect("write main");
    for edition in ["2021", "2024"] {
        let bin = dir.join(format!("main{edition}"));
        tool(
            Command::new(rustc())
                .args([
                    "--edition",
                    edition,
                    "-D",
                    "warnings",
                    "-C",
                    "opt-level=1",
                    "main.rs",
                    "--extern",
                ])
                .arg(format!("kiln_shim={}", shim.rlib.display()))
                .arg("-o")
                .arg(&bin)
                .current_dir(&dir),
        );
        let got = tool(&mut Command::new(&bin));
        assert_eq!(got, want, "edition {edition}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn no_std_library_crates_compile_cleanly() {
    if !have_tools() {
        return;
    }
    let shim = cached_shim(None).expect("shim");
    let dir = scratch_dir("rust-nostd");
    let math = math_case(Scalar::F32).0;
    let mut keyword = flow_program();
    keyword.name = "match".into();
    let progs = [
        flow_program(),
        memory_program(),
        weird_program(),
        math,
        keyword,
    ];
    write_gen(&dir, &progs);
    let lib = "//! A `no_std` crate embedding Kiln models.\n#![no_std]\n#![warn(missing_docs)]\n\
               include!(\"gen/flow.rs\");\ninclude!(\"gen/memory.rs\");\ninclude!(\"gen/weird.rs\");\n\
               include!(\"gen/math_f32.rs\");\ninclude!(\"gen/match.rs\");\n\
               /// The keyword-named model's dim count.\n#[must_use]\npub fn f() -> usize {\n    r#match::NUM_DIMS\n}\n";
    std::fs::write(dir.join("lib.rs"), lib).expect("write lib");
    for edition in ["2021", "2024"] {
        tool(
            Command::new(rustc())
                .args([
                    "--edition",
                    edition,
                    "--crate-type",
                    "rlib",
                    "-D",
                    "warnings",
                    "lib.rs",
                    "--extern",
                ])
                .arg(format!("kiln_shim={}", shim.rlib.display()))
                .arg("-o")
                .arg(dir.join(format!("libmodels{edition}.rlib")))
                .current_dir(&dir),
        );
    }
    let clippy = Command::new("clippy-driver").arg("-V").output();
    if clippy.is_ok_and(|o| o.status.success()) {
        tool(
            Command::new("clippy-driver")
                .args([
                    "--edition",
                    "2021",
                    "--crate-type",
                    "rlib",
                    "-D",
                    "warnings",
                    "-W",
                    "clippy::pedantic",
                ])
                .args(["lib.rs", "--extern"])
                .arg(format!("kiln_shim={}", shim.rlib.display()))
                .arg("-o")
                .arg(dir.join("libmodels_clippy.rlib"))
                .current_dir(&dir),
        );
    } else {
        eprintln!("note: clippy-driver not found; skipping the clippy check");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

const SOFT_MAIN: &str = r#"
fn main() {
    let mut s: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let mut bad = 0u32;
    let mut same32 = |what: &str, x: f32, got: f32, want: f32| {
        if got.to_bits() != want.to_bits() && !(got.is_nan() && want.is_nan()) {
            if bad < 20 {
                eprintln!("{what}({x:e} = {:#x}): {:#x}, std {:#x}", x.to_bits(), got.to_bits(), want.to_bits());
            }
            bad += 1;
        }
    };
    let mut xs32: Vec<f32> = vec![0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, 2.5, -2.5, f32::MAX, f32::MIN_POSITIVE,
        f32::from_bits(1), f32::from_bits(0x007f_ffff), f32::INFINITY, f32::NEG_INFINITY, f32::NAN, 8388607.5,
        8388608.0, 4194304.5, -4194304.5, 0.49999997];
    for _ in 0..2_000_000 {
        let b = next();
        xs32.push(f32::from_bits(b as u32));
        xs32.push((b >> 32) as i32 as f32 / (1u32 << (b % 31)) as f32);
    }
    for &x in &xs32 {
        same32("sqrt_soft", x, kiln_sqrt_f32_soft(x), x.sqrt());
        same32("sqrt", x, kiln_sqrt_f32(x), x.sqrt());
        same32("floor", x, kiln_floor_f32(x), x.floor());
        same32("ceil", x, kiln_ceil_f32(x), x.ceil());
        same32("trunc", x, kiln_trunc_f32(x), x.trunc());
        same32("round", x, kiln_round_f32(x), x.round_ties_even());
    }
    let mut bad64 = 0u32;
    let mut same64 = |what: &str, x: f64, got: f64, want: f64| {
        if got.to_bits() != want.to_bits() && !(got.is_nan() && want.is_nan()) {
            if bad64 < 20 {
                eprintln!("{what}({x:e} = {:#x}): {:#x}, std {:#x}", x.to_bits(), got.to_bits(), want.to_bits());
            }
            bad64 += 1;
        }
    };
    let mut xs64: Vec<f64> = vec![0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, 2.5, -2.5, f64::MAX, f64::MIN_POSITIVE,
        f64::from_bits(1), f64::from_bits(0x000f_ffff_ffff_ffff), f64::INFINITY, f64::NEG_INFINITY, f64::NAN,
        4503599627370495.5, 4503599627370496.0, 2251799813685248.5, 0.49999999999999994, 2.0, 4.0, 0.25];
    for _ in 0..1_000_000 {
        let b = next();
        xs64.push(f64::from_bits(b));
        xs64.push(next() as i64 as f64 / (1u64 << (b % 63)) as f64);
    }
    for &x in &xs64 {
        same64("sqrt_soft", x, kiln_sqrt_f64_soft(x), x.sqrt());
        same64("sqrt", x, kiln_sqrt_f64(x), x.sqrt());
        same64("floor", x, kiln_floor_f64(x), x.floor());
        same64("ceil", x, kiln_ceil_f64(x), x.ceil());
        same64("trunc", x, kiln_trunc_f64(x), x.trunc());
        same64("round", x, kiln_round_f64(x), x.round_ties_even());
    }
    if bad + bad64 > 0 {
        eprintln!("{bad} f32 and {bad64} f64 mismatches");
        std::process::exit(1);
    }
}
"#;

#[test]
fn software_float_functions_match_std() {
    if !have_tools() {
        return;
    }
    let mut src = String::new();
    for t in [Scalar::F32, Scalar::F64] {
        for h in [
            RHelper::Sqrt(t),
            RHelper::Trunc(t),
            RHelper::Floor(t),
            RHelper::Ceil(t),
            RHelper::Round(t),
        ] {
            src.push_str(&h.def());
        }
    }
    src.push_str(SOFT_MAIN);
    let dir = scratch_dir("rust-soft");
    std::fs::write(dir.join("soft.rs"), src).expect("write");
    tool(
        Command::new(rustc())
            .args([
                "--edition",
                "2021",
                "-O",
                "-D",
                "warnings",
                "soft.rs",
                "-o",
                "soft",
            ])
            .current_dir(&dir),
    );
    tool(&mut Command::new(dir.join("soft")));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn literals_are_exact() {
    use crate::kir::Lit;
    assert_eq!(lit(Scalar::I8, Lit::Int(-128)), "i8::MIN");
    assert_eq!(lit(Scalar::I32, Lit::Int(-5)), "(-5i32)");
    assert_eq!(lit(Scalar::U64, Lit::Int(-1)), "18446744073709551615u64");
    assert_eq!(lit(Scalar::Bool, Lit::Int(1)), "true");
    assert_eq!(lit(Scalar::F32, Lit::f(0.1f32 as f64)), "0.1f32");
    assert_eq!(lit(Scalar::F64, Lit::f(-0.0)), "(-0.0f64)");
    assert_eq!(
        lit(Scalar::F64, Lit::f(f64::NEG_INFINITY)),
        "f64::NEG_INFINITY"
    );
    assert_eq!(
        lit(Scalar::F32, Lit::Float(0x7ff8_0000_2000_0000)),
        "f32::from_bits(0x7fc00001)"
    );
}
