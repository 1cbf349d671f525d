//! Snapshots of what the compiler produces for the example models: kir text, the C header,
//! emitted C and Rust. A change to lowering or a backend shows up here as a diff to review.
//! `KILN_UPDATE_SNAPSHOTS=1 cargo test --test snapshots` rewrites them.

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn check(name: &str, got: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name);
    if std::env::var_os("KILN_UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "missing snapshot {}: run with KILN_UPDATE_SNAPSHOTS=1",
            path.display()
        )
    });
    if want != got {
        let first = want
            .lines()
            .zip(got.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(want.lines().count().min(got.lines().count()));
        panic!(
            "snapshot {name} differs at line {} (run with KILN_UPDATE_SNAPSHOTS=1 and review the diff):\n  want: {:?}\n  got:  {:?}",
            first + 1,
            want.lines().nth(first),
            got.lines().nth(first)
        );
    }
}

fn compiled(model: &str, name: &str) -> kiln::compile::Compiled {
    let path = repo()
        .join("examples/models")
        .join(model)
        .join("model.onnx");
    kiln::compile::compile_file(&path, &kiln::Options::new(name)).unwrap()
}

#[test]
fn linreg_kir_header_c_rust() {
    let c = compiled("linreg", "linreg");
    check("linreg.kir", &kiln::kir::print::program(&c.program));
    check("linreg.h", &kiln::backend::header::emit_header(&c.program));
    check("linreg.c", &kiln::backend::c::emit_c(&c.program));
    check("linreg.rs", &kiln::backend::rust::emit_rust(&c.program).0);
}

#[test]
fn tiny_mlp_kir_and_inspect() {
    let c = compiled("tiny_mlp", "tiny_mlp");
    check("tiny_mlp.kir", &kiln::kir::print::program(&c.program));
    check("tiny_mlp.inspect", &kiln::inspect::report(&c));
}
