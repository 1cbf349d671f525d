//! Cross-compilation (issue 5): objects for every Cranelift triple are the architecture and
//! format the triple names (checked with `file`, and `llvm-objdump` for Mach-O build
//! versions); triples Cranelift cannot serve refuse `--emit object` with a pointer to the C
//! path and still get C and Rust; artifacts are byte-identical across runs and working
//! directories; cross-built programs run under qemu-user with the reference outputs.
//!
//! The external tools (`file`, `llvm-objdump`, cross gcc, qemu-user) are installed by
//! scripts/cross.sh (a scripts/test.sh step); without them the tests that need them print why
//! they did not run and check nothing else.

use std::path::{Path, PathBuf};
use std::process::Command;

fn kiln() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kiln"))
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn tmp(name: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let k = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("kiln-cross-{}-{k}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn have(tool: &str, arg: &str) -> bool {
    Command::new(tool)
        .arg(arg)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn model() -> PathBuf {
    repo().join("examples/models/tiny_mlp/model.onnx")
}

/// `kiln compile` into `out`; panics with kiln's stderr on failure.
fn compile(model: &Path, emit: &str, target: &str, out: &Path, cwd: &Path) {
    let o = kiln()
        .current_dir(cwd)
        .arg("compile")
        .arg(model)
        .args([
            "--emit", emit, "--target", target, "--name", "tiny_mlp", "-o",
        ])
        .arg(out)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "kiln compile --emit {emit} --target {target}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Every object triple of the issue, with what `file` must say about its object.
const OBJECT_TRIPLES: &[(&str, &[&str])] = &[
    (
        "x86_64-unknown-linux-gnu",
        &["ELF 64-bit LSB relocatable", "x86-64"],
    ),
    ("x86_64-v3", &["ELF 64-bit LSB relocatable", "x86-64"]),
    (
        "x86_64-apple-darwin",
        &["Mach-O 64-bit", "x86_64", "object"],
    ),
    ("x86_64-pc-windows-msvc", &["COFF", "amd64"]),
    (
        "x86_64-linux-android",
        &["ELF 64-bit LSB relocatable", "x86-64"],
    ),
    (
        "aarch64-unknown-linux-gnu",
        &["ELF 64-bit LSB relocatable", "ARM aarch64"],
    ),
    (
        "aarch64-v8.6-i8mm",
        &["ELF 64-bit LSB relocatable", "ARM aarch64"],
    ),
    (
        "aarch64-linux-android",
        &["ELF 64-bit LSB relocatable", "ARM aarch64"],
    ),
    ("aarch64-apple-ios", &["Mach-O 64-bit", "arm64", "object"]),
    (
        "aarch64-apple-ios-sim",
        &["Mach-O 64-bit", "arm64", "object"],
    ),
    (
        "aarch64-apple-darwin",
        &["Mach-O 64-bit", "arm64", "object"],
    ),
    (
        "riscv64gc-unknown-linux-gnu",
        &["ELF 64-bit LSB relocatable", "RISC-V"],
    ),
    (
        "s390x-unknown-linux-gnu",
        &["ELF 64-bit MSB relocatable", "S/390"],
    ),
];

/// The Mach-O `LC_BUILD_VERSION` platform and minimum OS each Apple triple must carry
/// (llvm-objdump's spelling), the minimum being rustc's default for the triple.
const MACHO_PLATFORMS: &[(&str, &str, &str)] = &[
    ("aarch64-apple-ios", "ios", "10.0"),
    ("aarch64-apple-ios-sim", "iossimulator", "14.0"),
    ("aarch64-apple-darwin", "macos", "11.0"),
    ("x86_64-apple-darwin", "macos", "10.12"),
];

#[test]
fn objects_have_the_triples_architecture_and_format() {
    if !have("file", "--version") {
        eprintln!("skipped: `file` is not installed (scripts/cross.sh installs it)");
        return;
    }
    let dir = tmp("objects");
    for (t, want) in OBJECT_TRIPLES {
        let out = dir.join(t);
        compile(&model(), "object", t, &out, &dir);
        let o = Command::new("file")
            .arg(out.join("tiny_mlp.o"))
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&o.stdout).to_string();
        for w in *want {
            assert!(
                said.contains(w),
                "{t}: `file` says {said:?}, expected {w:?}"
            );
        }
        eprintln!("{t}: {}", said.trim());
        // The GEMM kernel for aarch64 is the shim's NEON one (every aarch64 target has NEON);
        // x86_64 without AVX2 (all but x86_64-v3 here) calls the one that chooses at run
        // time; riscv64 and s390x run the fallback loops.
        let obj = std::fs::read(out.join("tiny_mlp.o")).unwrap();
        let calls = |s: &[u8]| obj.windows(s.len()).any(|w| w == s);
        assert_eq!(
            calls(b"kiln_shim_sgemm_neon"),
            t.starts_with("aarch64"),
            "{t}: calls kiln_shim_sgemm_neon"
        );
        assert_eq!(
            calls(b"kiln_shim_sgemm_x86_any"),
            t.starts_with("x86_64") && *t != "x86_64-v3",
            "{t}: calls kiln_shim_sgemm_x86_any"
        );
        assert_eq!(
            calls(b"kiln_shim_sgemm_avx2"),
            *t == "x86_64-v3",
            "{t}: calls kiln_shim_sgemm_avx2"
        );
    }
    if !have("llvm-objdump", "--version") {
        eprintln!("skipped the Mach-O build-version check: llvm-objdump is not installed");
        return;
    }
    for (t, platform, minos) in MACHO_PLATFORMS {
        let obj = dir.join(t).join("tiny_mlp.o");
        let o = Command::new("llvm-objdump")
            .args(["--macho", "--private-headers"])
            .arg(&obj)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout).to_string();
        let cmd = text
            .split("Load command")
            .find(|c| c.contains("LC_BUILD_VERSION"))
            .unwrap_or_else(|| panic!("{t}: no LC_BUILD_VERSION in\n{text}"));
        let field = |k: &str| {
            cmd.lines()
                .map(str::trim)
                .find_map(|l| l.strip_prefix(k).map(|v| v.trim().to_string()))
                .unwrap_or_default()
        };
        assert_eq!(field("platform"), *platform, "{t}: {cmd}");
        assert_eq!(field("minos"), *minos, "{t}: {cmd}");
        eprintln!("{t}: LC_BUILD_VERSION platform {platform} minos {minos}");
    }
}

/// Triples Cranelift cannot emit: `--emit object` is a one-line error pointing at the C path,
/// with no panic and no files; C and Rust source are produced.
#[test]
fn source_only_triples() {
    let dir = tmp("source-only");
    for t in [
        "armv7-unknown-linux-gnueabihf",
        "armv7-linux-androideabi",
        "thumbv6m-none-eabi",
        "thumbv7em-none-eabihf",
        "thumbv8m.main-none-eabihf",
        "i686-unknown-linux-gnu",
        "riscv32imac-unknown-none-elf",
        "wasm32-unknown-unknown",
        "aarch64-pc-windows-msvc",
    ] {
        let out = dir.join(t);
        let o = kiln()
            .arg("compile")
            .arg(model())
            .args(["--emit", "object", "--target", t, "-o"])
            .arg(&out)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(o.status.code(), Some(2), "{t}: {err}");
        assert!(!err.contains("panicked"), "{t}: {err}");
        assert!(err.contains(t) && err.contains("--emit c"), "{t}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{t}: {err}");
        assert!(!out.join("tiny_mlp.o").exists(), "{t}");
        compile(&model(), "c", t, &out, &dir);
        compile(&model(), "rust", t, &out, &dir);
        for f in ["tiny_mlp.c", "tiny_mlp.h", "tiny_mlp.rs"] {
            assert!(out.join(f).is_file(), "{t}: {f}");
        }
    }
    // `kiln targets` says the same.
    let o = kiln().arg("targets").output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    let line = |name: &str| {
        text.lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("{name} not in `kiln targets`:\n{text}"))
            .to_string()
    };
    assert!(line("thumbv7em-none-eabihf").contains(" c, rust"));
    assert!(!line("thumbv7em-none-eabihf").contains("object"));
    assert!(line("aarch64-apple-ios").contains("object, c, rust"));
    assert!(line("aarch64-apple-ios").contains("macho"));
    assert!(line("x86_64-pc-windows-msvc").contains("coff"));
}

/// The same model and options give byte-identical artifacts across runs and working
/// directories (the model copied to two different places, compiled from two different
/// working directories, by absolute and relative path), for every backend and several
/// triples; no artifact mentions the directories.
#[test]
fn artifacts_are_reproducible() {
    let src = std::fs::read(model()).unwrap();
    let a = tmp("repro-a");
    let b = tmp("repro-b-longer-name");
    for d in [&a, &b] {
        std::fs::create_dir_all(d.join("m")).unwrap();
        std::fs::write(d.join("m/model.onnx"), &src).unwrap();
    }
    let cases: &[(&str, &[&str])] = &[
        ("host", &["object", "c", "rust"]),
        ("x86_64-pc-windows-msvc", &["object", "c", "rust"]),
        ("aarch64-apple-ios", &["object", "c", "rust"]),
        ("aarch64-linux-android", &["object", "c", "rust"]),
        ("riscv64gc-unknown-linux-gnu", &["object", "c", "rust"]),
        ("thumbv7em-none-eabihf", &["c", "rust"]),
    ];
    let mut compared = 0;
    for (t, emits) in cases {
        for e in *emits {
            let sub = format!("{}-{e}", t.replace('.', "_"));
            // a: absolute model path, output in a; b: relative paths from b, twice.
            compile(&a.join("m/model.onnx"), e, t, &a.join(&sub), &a);
            compile(Path::new("m/model.onnx"), e, t, Path::new(&sub), &b);
            let first = read_dir_files(&b.join(&sub));
            compile(Path::new("m/model.onnx"), e, t, Path::new(&sub), &b);
            let fa = read_dir_files(&a.join(&sub));
            let fb = read_dir_files(&b.join(&sub));
            assert!(!fa.is_empty(), "{t} {e}: no files");
            assert_eq!(
                fa.iter().map(|f| &f.0).collect::<Vec<_>>(),
                fb.iter().map(|f| &f.0).collect::<Vec<_>>(),
                "{t} {e}"
            );
            assert_eq!(first, fb, "{t} {e}: two runs differ");
            for ((name, x), (_, y)) in fa.iter().zip(&fb) {
                assert!(x == y, "{t} {e}: {name} differs between directories");
                for dir in [&a, &b] {
                    let needle = dir.to_string_lossy();
                    assert!(
                        !x.windows(needle.len()).any(|w| w == needle.as_bytes()),
                        "{t} {e}: {name} contains the path {needle}"
                    );
                }
                compared += 1;
            }
        }
    }
    // .o, .c, .rs and .h were all compared.
    assert!(compared >= 2 * 5 * 3 + 2 * 2, "{compared} files compared");
}

fn read_dir_files(d: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(d)
        .unwrap()
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

/// `kiln check --target` on the shipped example models: objects, C and Rust built for
/// aarch64 and riscv64 with Debian's cross gcc and the shim built for the triple, run under
/// qemu-user, compared with the reference outputs.
#[test]
fn check_under_qemu() {
    for (t, gcc, qemu) in [
        (
            "aarch64-unknown-linux-gnu",
            "aarch64-linux-gnu-gcc",
            "qemu-aarch64",
        ),
        (
            "riscv64gc-unknown-linux-gnu",
            "riscv64-linux-gnu-gcc",
            "qemu-riscv64",
        ),
    ] {
        if !have(gcc, "--version") || !have(qemu, "--version") {
            eprintln!(
                "skipped {t}: {gcc} or {qemu} is not installed (scripts/cross.sh installs them)"
            );
            continue;
        }
        let sysroot = Command::new("rustc")
            .args(["--print", "sysroot"])
            .output()
            .unwrap();
        let sysroot = String::from_utf8_lossy(&sysroot.stdout).trim().to_string();
        if !Path::new(&sysroot).join("lib/rustlib").join(t).is_dir() {
            eprintln!("skipped {t}: its rust-std is not installed (rustup target add {t})");
            continue;
        }
        let o = kiln()
            .args(["check", "--backend", "interp,object,c,rust", "--target", t])
            .arg(repo().join("examples/models"))
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout).to_string();
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert!(o.status.success(), "{t}:\n{out}\n{err}");
        assert!(
            !out.contains("SKIP ") && !out.contains("FAIL "),
            "{t}:\n{out}"
        );
        for case in ["linreg", "tiny_mlp"] {
            for b in ["object", "c", "rust"] {
                assert!(
                    out.lines().any(|l| l.starts_with("PASS ")
                        && l.contains(case)
                        && l.contains(&format!("[{b}]"))),
                    "{t}: no PASS of {case} on {b}:\n{out}"
                );
            }
        }
        eprintln!("{t}:\n{out}");
    }
}

/// `--target` that cannot run: the jit is host-only, and big-endian targets are refused.
#[test]
fn check_target_errors() {
    let o = kiln()
        .args([
            "check",
            "--backend",
            "jit",
            "--target",
            "aarch64-unknown-linux-gnu",
        ])
        .arg(repo().join("examples/models/linreg"))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!o.status.success(), "{text}");
    assert!(text.contains("only on the host"), "{text}");
    let o = kiln()
        .args([
            "check",
            "--backend",
            "c",
            "--target",
            "s390x-unknown-linux-gnu",
        ])
        .arg(repo().join("examples/models/linreg"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("little-endian"), "{err}");
}

/// The build-script API compiles for the target it is given (in a build script: cargo's
/// `TARGET`): a Mach-O arm64 object for iOS, an ELF RISC-V one for riscv64, and a clear
/// error (no panic) for an object on a triple Cranelift cannot serve.
#[test]
fn builder_follows_the_target() {
    let dir = tmp("builder");
    let build = |t: &str, sub: &str| {
        kiln::Builder::new(model(), "tiny_mlp")
            .emit(kiln::compile::Emit::Object)
            .target(t)
            .out_dir(dir.join(sub))
            .build()
    };
    build("aarch64-apple-ios", "ios").unwrap();
    let o = std::fs::read(dir.join("ios/tiny_mlp.o")).unwrap();
    // MH_MAGIC_64, CPU_TYPE_ARM64 (little-endian fields).
    assert_eq!(o[..4], 0xfeed_facf_u32.to_le_bytes());
    assert_eq!(o[4..8], 0x0100_000c_u32.to_le_bytes());
    build("riscv64gc-unknown-linux-gnu", "rv").unwrap();
    let o = std::fs::read(dir.join("rv/tiny_mlp.o")).unwrap();
    assert_eq!(&o[..4], b"\x7fELF");
    assert_eq!(u16::from_le_bytes([o[18], o[19]]), 243, "EM_RISCV");
    let e = build("thumbv7em-none-eabihf", "thumb")
        .unwrap_err()
        .to_string();
    assert!(e.contains("--emit c"), "{e}");
}
