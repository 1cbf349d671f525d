//! `kiln bench PATH...`: latency of Kiln's compiled code against onnxruntime and tract, side by
//! side on the same inputs, plus Kiln's compile time and footprint.
//!
//! For each model folder (ONNX backend-test layout: `model.onnx` and
//! `test_data_set_0/input_*.pb`): the model is compiled as a user would (`compile_file`, then
//! the object backend for the host; the compile time covers both), its object file and header
//! are linked with the runtime shim into a small C driver (`driver.c`, `-O2`), and onnxruntime
//! and tract run from the pinned Python environment (`engines.py`, made by
//! `scripts/bench-env.sh`). Every engine is a long-lived process; the rounds interleave them
//! (round r: Kiln, onnxruntime, tract, each for `--round-ms`), so a change in machine load hits
//! all of them alike. A sample is the mean time of a few back-to-back calls (each engine picks
//! the count so that a sample lasts about 20 us, which keeps timer overhead out of
//! sub-microsecond models); median, p10 and p90 are over all samples of all rounds.
//!
//! `--threads N` (default 1) links the driver with `pool.h`, a POSIX-threads parallel-for,
//! and times `NAME_run_parallel` on N threads, against onnxruntime with
//! `intra_op_num_threads=N` (tract stays on one thread).
//!
//! `--batch B` tiles every input along dim 0 to B rows when that dim is symbolic in the
//! compiled model (rows repeat cyclically); other inputs are used as they are.
//!
//! Footprint: code = object file size minus the weight blob (so it includes symbol tables and
//! relocations), weights = the blob, scratch = bytes the caller provides at the run's dims,
//! lower bound = the largest total of tensors live at once (from the memory plan of the
//! model compiled with its symbolic dims fixed to the run's values).
//!
//! Python: `$KILN_BENCH_PYTHON`, else `target/bench-venv/bin/python` of this workspace.

use crate::backend::shim::cached_shim;
use crate::compile::{self, Emit, Options};
use crate::error::{Error, Result};
use crate::kir::IoDim;
use crate::tensor::Tensor;
use crate::testdata;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;

const DRIVER_C: &str = include_str!("driver.c");
/// The thread pool of `--threads` (a `kiln_parallel` implementation), beside the driver.
pub const POOL_H: &str = include_str!("pool.h");
const ENGINES_PY: &str = include_str!("engines.py");

/// What `kiln bench` was asked for.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// Rows along a symbolic dim 0 (None: the test data as it is).
    pub batch: Option<u64>,
    pub rounds: usize,
    pub round_ms: f64,
    pub tract: bool,
    /// Graph passes turned off in Kiln's compiles (`--disable-pass`).
    pub disabled: Vec<String>,
    /// Compile for this target instead of the host's own (`--target`): a preset of the
    /// host's triple whose features this CPU has (e.g. x86_64-v3 on an AVX-512 machine, to
    /// measure the code an AVX2 machine would run).
    pub target: Option<String>,
    /// Threads: Kiln runs `NAME_run_parallel` with a pool of this many (`pool.h`),
    /// onnxruntime gets as many intra-op threads; tract stays on one.
    pub threads: u32,
}

/// One engine's latency samples (ns per call) or why it could not run.
#[derive(Clone, Debug)]
pub enum Timing {
    Samples(Vec<f64>),
    Failed(String),
}

/// Median, p10 and p90 of samples (ns).
pub fn quantiles(v: &[f64]) -> Option<(f64, f64, f64)> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let q = |p: f64| s[((s.len() - 1) as f64 * p).round() as usize];
    Some((q(0.5), q(0.1), q(0.9)))
}

/// The results for one model.
#[derive(Clone, Debug)]
pub struct ModelResult {
    pub name: String,
    pub batch: String,
    pub compile_s: f64,
    pub code_bytes: usize,
    pub weight_bytes: usize,
    pub scratch_bytes: usize,
    pub lower_bound: Option<i64>,
    /// (engine, timing) for kiln, ort, tract.
    pub engines: Vec<(&'static str, Timing)>,
}

fn bench_err(msg: impl Into<String>) -> Error {
    Error::Backend {
        backend: "bench",
        msg: msg.into(),
    }
}

/// The Python interpreter of the bench environment.
pub fn python() -> Result<PathBuf> {
    if let Ok(p) = std::env::var("KILN_BENCH_PYTHON") {
        return Ok(PathBuf::from(p));
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-venv/bin/python");
    if p.is_file() {
        return Ok(p);
    }
    Err(bench_err(format!(
        "no Python environment for onnxruntime and tract at {}: run scripts/bench-env.sh (or \
         set KILN_BENCH_PYTHON)",
        p.display()
    )))
}

/// Inputs tiled to `rows` along dim 0 (cyclically).
fn tile(t: &Tensor, rows: u64) -> Tensor {
    let n0 = t.shape.first().copied().unwrap_or(1).max(1);
    let bytes = t.bytes();
    let row = bytes.len() / n0 as usize;
    let mut out = Vec::with_capacity(row * rows as usize);
    for r in 0..rows as usize {
        let k = r % n0 as usize;
        out.extend_from_slice(&bytes[k * row..(k + 1) * row]);
    }
    let mut shape = t.shape.clone();
    shape[0] = rows;
    Tensor::from_bytes(t.dtype, shape, out)
}

/// A running engine process speaking the driver protocol.
struct Engine {
    child: Child,
    stdin: ChildStdin,
    out: BufReader<ChildStdout>,
}

impl Engine {
    /// Start and wait for `ready`; Err(message) if it reports an error or dies.
    fn start(mut cmd: Command) -> std::result::Result<Engine, String> {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start: {e}"))?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let out = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        let mut e = Engine { child, stdin, out };
        let line = e.line()?;
        if line.starts_with("ready") {
            Ok(e)
        } else {
            let _ = e.child.kill();
            let _ = e.child.wait();
            Err(line.trim_start_matches("error: ").to_string())
        }
    }
    fn line(&mut self) -> std::result::Result<String, String> {
        let mut s = String::new();
        match self.out.read_line(&mut s) {
            Ok(0) | Err(_) => Err("the engine exited".into()),
            Ok(_) => Ok(s.trim().to_string()),
        }
    }
    fn round(&mut self, ms: f64) -> std::result::Result<Vec<f64>, String> {
        writeln!(self.stdin, "{ms}").map_err(|e| e.to_string())?;
        self.stdin.flush().map_err(|e| e.to_string())?;
        let l = self.line()?;
        if let Some(m) = l.strip_prefix("error: ") {
            return Err(m.to_string());
        }
        l.split_whitespace()
            .map(|v| v.parse::<f64>().map_err(|_| format!("bad sample '{v}'")))
            .collect()
    }
    fn stop(mut self) {
        drop(self.stdin);
        let _ = self.child.wait();
    }
}

/// The target to compile for: the host, or `name` if its code runs on this CPU.
fn bench_target(name: Option<&str>) -> Result<kiln_targets::Target> {
    let host = kiln_targets::Target::host();
    let Some(name) = name else {
        return Ok(host);
    };
    let t =
        kiln_targets::Target::parse(name).map_err(|e| Error::Usage(format!("--target: {e}")))?;
    if t.triple != host.triple {
        return Err(Error::Usage(format!(
            "--target {name}: the benchmark runs the code here, on {}; {} is another triple",
            host.triple, t.triple
        )));
    }
    let missing: Vec<&str> = t
        .features
        .iter()
        .filter(|f| !host.has_feature(f))
        .map(|f| f.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(Error::Usage(format!(
            "--target {name}: this CPU lacks {}",
            missing.join(", ")
        )));
    }
    Ok(t)
}

/// Compile, link and benchmark one model folder.
pub fn bench_model(dir: &Path, o: &BenchOptions, py: &Path, tmp: &Path) -> Result<ModelResult> {
    let cases = testdata::find_cases(dir)?;
    let case = match cases.as_slice() {
        [c] => c,
        _ => {
            return Err(bench_err(format!(
                "{}: expected one model folder (model.onnx), found {}",
                dir.display(),
                cases.len()
            )))
        }
    };
    let ds = case
        .data_sets
        .first()
        .ok_or_else(|| bench_err(format!("{}: no test_data_set_* folder", dir.display())))?;
    let folder = dir
        .file_name()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "model".into());
    let name = format!("bench_{}", crate::backend::ident(&folder));
    let target = bench_target(o.target.as_deref())?;

    // Compile as a user would: model file to object file.
    let t0 = Instant::now();
    let mut opts = Options::new(&name).for_target(&target);
    opts.disabled = o.disabled.clone();
    let c = compile::compile_file(&case.model, &opts)?;
    let files = compile::emit(&c.program, Emit::Object, &target)?;
    let compile_s = t0.elapsed().as_secs_f64();
    let obj_len = files
        .iter()
        .find(|(n, _)| n.ends_with(".o"))
        .map(|(_, b)| b.len())
        .unwrap_or(0);
    let weight_bytes = c.program.weights.len();

    // Inputs, tiled along a symbolic dim 0.
    let mut ins: Vec<Tensor> = ds
        .inputs
        .iter()
        .map(|p| testdata::load_tensor_pb(p))
        .collect::<Result<_>>()?;
    let mut tiled = false;
    if let Some(b) = o.batch {
        for (t, io) in ins.iter_mut().zip(&c.program.inputs) {
            if matches!(io.shape.first(), Some(IoDim::Sym(_))) && !t.shape.is_empty() {
                *t = tile(t, b);
                tiled = true;
            }
        }
    }
    let rows = ins
        .first()
        .and_then(|t| t.shape.first())
        .copied()
        .unwrap_or(1);
    let batch = match (o.batch, tiled) {
        (Some(b), true) => b.to_string(),
        (Some(_), false) => format!("{rows} (fixed)"),
        (None, _) => rows.to_string(),
    };
    let prep = crate::run::prepare_compiled(&c, &ins)?;

    // Footprint at the run's dims.
    let mut fixed = opts.clone();
    for (s, v) in c.program.syms.iter().zip(&prep.req.dims) {
        fixed.dims.push((s.name.clone(), *v));
    }
    let lower_bound = compile::compile_file(&case.model, &fixed)
        .ok()
        .and_then(|f| f.plan.lower_bound);

    // Link the driver.
    let work = tmp.join(&name);
    std::fs::create_dir_all(&work).map_err(|e| Error::io(&work, e))?;
    compile::write_files(&work, &files)?;
    let shim = cached_shim(None)?;
    let drv_c = work.join("driver.c");
    std::fs::write(&drv_c, DRIVER_C).map_err(|e| Error::io(&drv_c, e))?;
    let pool_h = work.join("pool.h");
    std::fs::write(&pool_h, POOL_H).map_err(|e| Error::io(&pool_h, e))?;
    let exe = work.join("driver");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let st = Command::new(&cc)
        .arg("-O2")
        .arg("-std=c11")
        .arg(format!("-DKILN_BENCH_HEADER=\"{name}.h\""))
        .arg(format!("-DKILN_BENCH_RUN={name}_run"))
        .arg(format!("-DKILN_BENCH_RUN_PARALLEL={name}_run_parallel"))
        .arg(format!("-DKILN_BENCH_THREADS={}", o.threads.max(1)))
        .arg("-pthread")
        .arg("-I")
        .arg(&work)
        .arg(&drv_c)
        .arg(work.join(format!("{name}.o")))
        .arg(&shim.staticlib)
        .arg("-lm")
        .arg("-o")
        .arg(&exe)
        .output()
        .map_err(|e| bench_err(format!("{cc}: {e}")))?;
    if !st.status.success() {
        return Err(bench_err(format!(
            "linking the driver failed: {}",
            String::from_utf8_lossy(&st.stderr)
        )));
    }
    // The request file and the .npy inputs.
    let mut req = vec![];
    let r = &prep.req;
    for n in [
        r.dims.len(),
        r.inputs.len(),
        r.output_bytes.len(),
        r.lens.len(),
    ] {
        req.extend((n as u32).to_ne_bytes());
    }
    r.dims.iter().for_each(|d| req.extend(d.to_ne_bytes()));
    r.lens.iter().for_each(|l| req.extend(l.to_ne_bytes()));
    for x in &r.inputs {
        req.extend((x.len() as u64).to_ne_bytes());
        req.extend(x);
    }
    for n in &r.output_bytes {
        req.extend((*n as u64).to_ne_bytes());
    }
    let req_path = work.join("request.bin");
    std::fs::write(&req_path, req).map_err(|e| Error::io(&req_path, e))?;
    let mut npys = vec![];
    for (k, t) in ins.iter().enumerate() {
        let p = work.join(format!("input_{k}.npy"));
        crate::npy::write_npy(&p, t)?;
        npys.push(p);
    }
    let engines_py = work.join("engines.py");
    std::fs::write(&engines_py, ENGINES_PY).map_err(|e| Error::io(&engines_py, e))?;

    // Start the engines, then interleave the rounds.
    let mut names: Vec<&'static str> = vec!["kiln", "onnxruntime"];
    if o.tract {
        names.push("tract");
    }
    let mut running: Vec<std::result::Result<Engine, String>> = vec![];
    for n in &names {
        let cmd = match *n {
            "kiln" => {
                let mut c = Command::new(&exe);
                c.arg(&req_path);
                c
            }
            e => {
                let mut c = Command::new(py);
                c.arg(&engines_py)
                    .arg(if e == "onnxruntime" { "ort" } else { "tract" })
                    .arg(&case.model)
                    .args(&npys)
                    .env("OMP_NUM_THREADS", "1")
                    .env("KILN_BENCH_THREADS", o.threads.max(1).to_string());
                c
            }
        };
        running.push(Engine::start(cmd));
    }
    let mut samples: Vec<std::result::Result<Vec<f64>, String>> =
        names.iter().map(|_| Ok(vec![])).collect();
    for _ in 0..o.rounds {
        for (k, e) in running.iter_mut().enumerate() {
            let Ok(eng) = e else { continue };
            if samples[k].is_err() {
                continue;
            }
            match eng.round(o.round_ms) {
                Ok(v) => samples[k].as_mut().expect("checked").extend(v),
                Err(m) => samples[k] = Err(m),
            }
        }
    }
    let mut engines = vec![];
    for ((n, e), s) in names.iter().zip(running).zip(samples) {
        let t = match (e, s) {
            (Err(m), _) => Timing::Failed(m),
            (Ok(eng), s) => {
                eng.stop();
                match s {
                    Ok(v) => Timing::Samples(v),
                    Err(m) => Timing::Failed(m),
                }
            }
        };
        engines.push((*n, t));
    }
    Ok(ModelResult {
        name: folder,
        batch,
        compile_s,
        code_bytes: obj_len.saturating_sub(weight_bytes),
        weight_bytes,
        scratch_bytes: prep.scratch_bytes,
        lower_bound,
        engines,
    })
}

/// Nanoseconds as text with a unit.
pub fn show_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} us", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

fn median(t: &Timing) -> Option<f64> {
    match t {
        Timing::Samples(v) => quantiles(v).map(|q| q.0),
        Timing::Failed(_) => None,
    }
}

/// The report: a latency table, ratios, geometric mean, and the compile/footprint table.
pub fn report(results: &[ModelResult], o: &BenchOptions) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "latency per call ({} rounds of {} ms per engine, interleaved; samples = mean of \
         back-to-back calls)",
        o.rounds, o.round_ms
    );
    if !o.disabled.is_empty() {
        let _ = writeln!(
            s,
            "kiln compiled with --disable-pass {}",
            o.disabled.join(",")
        );
    }
    if let Some(t) = &o.target {
        let _ = writeln!(
            s,
            "kiln compiled for --target {t} (not the host's own features)"
        );
    }
    if o.threads > 1 {
        let _ = writeln!(
            s,
            "{} threads: kiln with a pool of {} (NAME_run_parallel), onnxruntime with \
             intra_op_num_threads={}; tract on one",
            o.threads, o.threads, o.threads
        );
    }
    let _ = writeln!(
        s,
        "{:<26} {:>12} {:<12} {:>11} {:>11} {:>11} {:>8}",
        "model", "batch", "engine", "median", "p10", "p90", "samples"
    );
    let mut ratios = vec![];
    let mut tract_ratios = vec![];
    for r in results {
        for (e, t) in &r.engines {
            match t {
                Timing::Samples(v) if !v.is_empty() => {
                    let (m, p10, p90) = quantiles(v).expect("non-empty");
                    let _ = writeln!(
                        s,
                        "{:<26} {:>12} {:<12} {:>11} {:>11} {:>11} {:>8}",
                        r.name,
                        r.batch,
                        e,
                        show_ns(m),
                        show_ns(p10),
                        show_ns(p90),
                        v.len()
                    );
                }
                Timing::Samples(_) => {
                    let _ = writeln!(s, "{:<26} {:>12} {:<12} no samples", r.name, r.batch, e);
                }
                Timing::Failed(m) => {
                    let m: String = m.chars().take(90).collect();
                    let _ = writeln!(s, "{:<26} {:>12} {:<12} failed: {m}", r.name, r.batch, e);
                }
            }
        }
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "ratio of medians (lower is faster than onnxruntime)");
    for r in results {
        let get = |n: &str| {
            r.engines
                .iter()
                .find(|(e, _)| *e == n)
                .and_then(|(_, t)| median(t))
        };
        let ort = get("onnxruntime");
        let kr = match (get("kiln"), ort) {
            (Some(k), Some(o)) if o > 0.0 => {
                ratios.push(k / o);
                if k <= o {
                    format!("{:.3} ({:.1}x faster)", k / o, o / k)
                } else {
                    format!("{:.3} ({:.1}x slower)", k / o, k / o)
                }
            }
            _ => "n/a".into(),
        };
        let tr = match (get("tract"), ort) {
            (Some(t), Some(o)) if o > 0.0 => {
                tract_ratios.push(t / o);
                format!("{:.3}", t / o)
            }
            _ => "n/a".into(),
        };
        let _ = writeln!(
            s,
            "{:<26} {:>12} kiln/onnxruntime {:<24} tract/onnxruntime {}",
            r.name, r.batch, kr, tr
        );
    }
    let geo = |v: &[f64]| (v.iter().map(|x| x.ln()).sum::<f64>() / v.len() as f64).exp();
    if !ratios.is_empty() {
        let _ = writeln!(
            s,
            "geometric mean kiln/onnxruntime: {:.3} over {} models",
            geo(&ratios),
            ratios.len()
        );
    }
    if !tract_ratios.is_empty() {
        let _ = writeln!(
            s,
            "geometric mean tract/onnxruntime: {:.3} over {} models",
            geo(&tract_ratios),
            tract_ratios.len()
        );
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "{:<26} {:>12} {:>11} {:>12} {:>12} {:>12} {:>12}",
        "kiln: model", "batch", "compile", "code B", "weights B", "scratch B", "lower bnd B"
    );
    for r in results {
        let _ = writeln!(
            s,
            "{:<26} {:>12} {:>9.3} s {:>12} {:>12} {:>12} {:>12}",
            r.name,
            r.batch,
            r.compile_s,
            r.code_bytes,
            r.weight_bytes,
            r.scratch_bytes,
            r.lower_bound
                .map(|b| b.to_string())
                .unwrap_or_else(|| "n/a".into())
        );
    }
    s
}

/// Benchmark every folder and return the report.
pub fn run(paths: &[PathBuf], o: &BenchOptions) -> Result<String> {
    if o.rounds == 0 || o.round_ms.is_nan() || o.round_ms <= 0.0 {
        return Err(Error::Usage(
            "--rounds and --round-ms must be positive".into(),
        ));
    }
    if o.batch == Some(0) {
        return Err(Error::Usage("--batch must be at least 1".into()));
    }
    bench_target(o.target.as_deref())?;
    let py = python()?;
    let tmp = std::env::temp_dir().join(format!(
        "kiln-bench-{}",
        crate::backend::shim::unique_suffix()
    ));
    std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let mut results = vec![];
    let mut errors = vec![];
    for p in paths {
        match bench_model(p, o, &py, &tmp) {
            Ok(r) => results.push(r),
            Err(e) => errors.push(format!("{}: {e}", p.display())),
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    if results.is_empty() {
        return Err(bench_err(errors.join("; ")));
    }
    let mut s = report(&results, o);
    for e in errors {
        s.push_str(&format!("not benchmarked: {e}\n"));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_of_samples() {
        let v: Vec<f64> = (1..=11).map(|x| x as f64).collect();
        assert_eq!(quantiles(&v), Some((6.0, 2.0, 10.0)));
        assert_eq!(quantiles(&[]), None);
    }

    #[test]
    fn tiling_repeats_rows() {
        let t = Tensor::from_f32(vec![2, 2], &[1.0, 2.0, 3.0, 4.0]);
        let u = tile(&t, 5);
        assert_eq!(u.shape, vec![5, 2]);
        let got: Vec<f64> = (0..10).map(|i| u.get_f64(i)).collect();
        assert_eq!(got, [1.0, 2.0, 3.0, 4.0, 1.0, 2.0, 3.0, 4.0, 1.0, 2.0]);
    }
}
