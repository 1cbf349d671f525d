//! The staticlib form of the shim (built the way the compiler builds it: `rustc
//! --crate-type staticlib -C panic=abort --cfg kiln_shim_staticlib`) links into a C program
//! that also uses libm, with the archive before `-lm`: the C library's `fmaf`/`floorf` then
//! resolve to the `compiler_builtins` objects bundled in the archive, which refer to
//! `rust_eh_personality` (provided by the shim's stub). Skipped when `cc` is missing.

use std::path::Path;
use std::process::Command;

const PROG: &str = r#"
#include <math.h>
#include <stdio.h>
#include "kiln_shim.h"
int main(int argc, char **argv) {
    (void)argv;
    volatile float a = 1.5f + (float)argc, b = 2.25f, c = -0.125f;
    float x = 1.0f + 0x1p-23f, y = (1.0f - 0x1p-23f) * 0x1p-24f;
    printf("%a %a %a %a %a %u\n", fmaf(a, b, c), floorf(a * b), kiln_shim_expf(0.0f),
           kiln_shim_fmaf(x, y, x), kiln_shim_fma(0x1p-53, 3.0, 1.0),
           kiln_shim_abi_version());
    return 0;
}
"#;

fn ok(cmd: &str, arg: &str) -> bool {
    Command::new(cmd)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn staticlib_links_before_libm() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    if !ok(&cc, "--version") || !ok(&rustc, "-V") {
        eprintln!("note: cc or rustc missing; skipping");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("kiln-shim-staticlib-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let lib = dir.join("libkiln_shim.a");
    let out = Command::new(&rustc)
        .args(["--edition", "2021", "--crate-type", "staticlib"])
        .args(["--crate-name", "kiln_shim", "-C", "opt-level=3"])
        .args(["-C", "panic=abort", "--cfg", "kiln_shim_staticlib", "-o"])
        .arg(&lib)
        .arg(root.join("src/lib.rs"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let src = dir.join("prog.c");
    std::fs::write(&src, PROG).unwrap();
    let exe = dir.join("prog");
    let out = Command::new(&cc)
        .arg("-I")
        .arg(root.join("include"))
        .arg(&src)
        .arg(&lib)
        .arg("-lm")
        .arg("-o")
        .arg(&exe)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "linking failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(&exe).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    // 2.5 * 2.25 - 0.125 = 5.5, floor(5.625) = 5, exp(0) = 1, the f32 double-rounding
    // trap rounds to 1 + 2^-23, and 1 + 3 2^-53 ties to 1 + 2^-51; ABI version 10.
    assert_eq!(
        text.trim(),
        "0x1.6p+2 0x1.4p+2 0x1p+0 0x1.000002p+0 0x1.0000000000002p+0 10"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
