//! `kiln bench` end to end on examples/models/linreg with tiny rounds: the pinned Python
//! engines come from scripts/bench-env.sh (run here; quick when the venv exists). Checks the
//! shape of the report (a latency row per engine, the ratio and geometric-mean lines, the
//! compile/footprint row) and that the numbers parse; no timing is asserted.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn bench_python() -> String {
    let o = Command::new("bash")
        .arg(repo().join("scripts/bench-env.sh"))
        .output()
        .expect("bash runs");
    assert!(
        o.status.success(),
        "scripts/bench-env.sh failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// The value in ns of a "12 ns" / "3.4 us" / "1.2 ms" cell.
fn ns(num: &str, unit: &str) -> f64 {
    let v: f64 = num
        .parse()
        .unwrap_or_else(|_| panic!("not a number: {num}"));
    match unit {
        "ns" => v,
        "us" => v * 1e3,
        "ms" => v * 1e6,
        u => panic!("unit {u}"),
    }
}

#[test]
fn bench_linreg_report() {
    let py = bench_python();
    let o = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .arg("bench")
        .arg(repo().join("examples/models/linreg"))
        .args(["--rounds", "2", "--round-ms", "5", "--batch", "8"])
        .env("KILN_BENCH_PYTHON", &py)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "kiln bench failed: {err}\n{out}");
    // One latency row each for kiln and onnxruntime with median <= p90 and p10 <= median.
    for engine in ["kiln", "onnxruntime"] {
        let row = out
            .lines()
            .find(|l| l.split_whitespace().take(3).collect::<Vec<_>>() == ["linreg", "8", engine])
            .unwrap_or_else(|| panic!("no row for {engine}:\n{out}"));
        let f: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(f.len(), 10, "row: {row}");
        let (m, p10, p90) = (ns(f[3], f[4]), ns(f[5], f[6]), ns(f[7], f[8]));
        assert!(p10 <= m && m <= p90 && m > 0.0, "row: {row}");
        let samples: usize = f[9].parse().unwrap();
        assert!(samples >= 2, "row: {row}");
    }
    // tract has a row too: timings or the reason it failed.
    assert!(
        out.lines()
            .any(|l| l.split_whitespace().take(3).collect::<Vec<_>>() == ["linreg", "8", "tract"]),
        "no tract row:\n{out}"
    );
    let ratio = out
        .lines()
        .find(|l| l.contains("kiln/onnxruntime") && l.starts_with("linreg"))
        .unwrap_or_else(|| panic!("no ratio line:\n{out}"));
    let r: f64 = ratio
        .split("kiln/onnxruntime")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("ratio: {ratio}"));
    assert!(r > 0.0 && r.is_finite(), "{ratio}");
    assert!(
        out.contains("geometric mean kiln/onnxruntime: ") && out.contains("over 1 models"),
        "{out}"
    );
    let foot = out
        .lines()
        .rev()
        .find(|l| l.starts_with("linreg"))
        .unwrap_or_else(|| panic!("no footprint row:\n{out}"));
    let f: Vec<&str> = foot.split_whitespace().collect();
    // linreg  8  0.003 s  code  weights  scratch  lower-bound
    assert_eq!(f.len(), 8, "footprint row: {foot}");
    let code: u64 = f[4].parse().unwrap();
    let weights: u64 = f[5].parse().unwrap();
    let scratch: u64 = f[6].parse().unwrap();
    assert!(code > 0 && weights > 0, "{foot}");
    if let Ok(lb) = f[7].parse::<u64>() {
        assert!(lb <= scratch, "lower bound above the scratch size: {foot}");
    }
}

#[test]
fn bench_rejects_bad_options() {
    for args in [&["--rounds", "0"][..], &["--batch", "0"][..]] {
        let o = Command::new(env!("CARGO_BIN_EXE_kiln"))
            .arg("bench")
            .arg(repo().join("examples/models/linreg"))
            .args(args)
            .env("KILN_BENCH_PYTHON", "/nonexistent-python")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("must be"), "{args:?}: {err}");
    }
    // --target: only code this CPU runs (the host's triple; features it has).
    let other = if cfg!(target_arch = "x86_64") {
        "aarch64-unknown-linux-gnu"
    } else {
        "x86_64-unknown-linux-gnu"
    };
    for (t, why) in [(other, "another triple"), ("no-such-target", "--target")] {
        let o = Command::new(env!("CARGO_BIN_EXE_kiln"))
            .arg("bench")
            .arg(repo().join("examples/models/linreg"))
            .args(["--target", t])
            .env("KILN_BENCH_PYTHON", "/nonexistent-python")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{t}: {err}");
        assert!(err.contains(why), "{t}: {err}");
    }
}
