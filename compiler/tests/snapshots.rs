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

/// Which shim GEMM kernel the C output calls under gcc/clang's and MSVC's target macros
/// (MSVC itself is not on the test machines: `cc -E` stands in for its preprocessor, with
/// gcc's own ISA macros removed and MSVC's defined). On x86_64 hosts: the gcc cases use
/// x86 flags and expect the host compiler's x86 macros.
#[cfg(target_arch = "x86_64")]
#[test]
fn c_output_chooses_the_kernel_from_gcc_and_msvc_macros() {
    let c = compiled("linreg", "linreg");
    let src: String = kiln::backend::c::emit_c(&c.program)
        .lines()
        .filter(|l| !l.starts_with("#include"))
        .map(|l| format!("{l}\n"))
        .collect();
    let dir = std::env::temp_dir().join(format!("kiln-cguard-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("linreg.c");
    std::fs::write(&file, src).unwrap();
    let msvc = ["-U__x86_64__", "-U__AVX2__", "-U__AVX512F__", "-U__FMA__"];
    let cases: [(&[&str], &str); 7] = [
        (&[], "x86_any"),
        (&["-mavx2", "-mfma"], "avx2"),
        (&["-mavx512f"], "avx512"),
        (&["-D_M_X64"], "x86_any"),
        (&["-D_M_X64", "-D__AVX512F__"], "avx512"),
        (&["-D_M_ARM64"], "neon"),
        (&["-D_M_X64", "-D_M_ARM64EC"], "loops"),
    ];
    for (flags, want) in cases {
        let mut cmd = std::process::Command::new("cc");
        cmd.args(["-E", "-P"]);
        if flags.first().is_some_and(|f| f.starts_with("-D_M_")) {
            cmd.args(msvc);
        }
        let out = cmd.args(flags).arg(&file).output().expect("cc -E");
        assert!(
            out.status.success(),
            "cc -E {flags:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let called: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with("void"))
            .flat_map(|l| l.split("kiln_shim_sgemm_").skip(1))
            .map(|rest| rest.split('(').next().unwrap())
            .collect();
        let got = called.first().copied().unwrap_or("loops");
        assert!(
            called.iter().all(|c| *c == got) && got == want,
            "{flags:?}: calls {called:?}, want {want}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}
