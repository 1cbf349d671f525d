//! Every input the fuzzers found a bug with (tests/fuzz-regressions/TARGET/*) replayed through
//! the same entry point the fuzz target calls (`kiln::fuzzing`), so they run in plain
//! `cargo test`. An entry point panics on a Kiln bug; a clear error is fine.

use std::path::PathBuf;

fn replay(target: &str) -> usize {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fuzz-regressions")
        .join(target);
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd.map(|e| e.expect("dir entry").path()).collect(),
        Err(e) => panic!("{}: {e}", dir.display()),
    };
    files.retain(|p| p.is_file() && p.file_name().is_some_and(|n| n != ".gitkeep"));
    files.sort();
    let mut failed = vec![];
    for f in &files {
        let data = std::fs::read(f).expect("read regression input");
        let r = std::panic::catch_unwind(|| kiln::fuzzing::run_target(target, &data));
        if r.is_err() {
            failed.push(f.display().to_string());
        }
    }
    assert!(
        failed.is_empty(),
        "{target}: these inputs fail again: {failed:?}"
    );
    files.len()
}

#[test]
fn onnx_load_regressions() {
    let n = replay("onnx_load");
    eprintln!("onnx_load: {n} inputs");
}

#[test]
fn mutate_compile_regressions() {
    let n = replay("mutate_compile");
    eprintln!("mutate_compile: {n} inputs");
}

#[test]
fn jit_vs_interp_regressions() {
    let n = replay("jit_vs_interp");
    eprintln!("jit_vs_interp: {n} inputs");
}

/// The differential target's generator builds graphs that import and compile for any bytes
/// (a failure there would be a generator bug and hide real ones).
#[test]
fn jit_vs_interp_generator_compiles() {
    for seed in 0u32..64 {
        let data: Vec<u8> = (0..256u32)
            .map(|i| (i.wrapping_mul(2654435761).wrapping_add(seed * 7919) >> 13) as u8)
            .collect();
        kiln::fuzzing::jit_vs_interp(&data);
    }
}
