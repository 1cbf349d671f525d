//! Running compiled programs natively (for `kiln check`, `kiln run` and tests): writes the
//! artifact (object file, C source, or Rust source) and a generic driver into a temporary
//! directory, compiles and links them with the runtime shim into one executable, runs it on
//! request files and reads back statuses and outputs.
//!
//! Batching: `run_native_batch` compiles many programs into ONE executable (one compiler
//! invocation; C and Rust programs are renamed `kiln_x<i>`, object files keep their names and
//! are split into groups of distinct names) and runs it once per program. If the build fails,
//! the batch is bisected so that one bad program does not fail the others; a crash or time-out
//! only fails the program that caused it.
//!
//! The driver's files (native endianness: written and read on the same host):
//! - request: `"KILNRQ01"`, u32 entry index, u32 request count, then per request: u32 n_dims,
//!   u32 n_inputs, u32 n_outputs, u32 n_lens, i64 dims[n_dims], u64 lens[n_lens], per input
//!   u64 byte count and the bytes, per output u64 byte count;
//! - response: `"KILNRS01"`, then per request: i32 status, u32 n_outputs, per output u64 byte
//!   count and the bytes (flushed after each request).
//!
//! The driver passes `dims` as NULL when there are none, gives every buffer its own exact-size
//! 64-byte aligned allocation (so sanitizers see overruns), zero-fills outputs and scratch, and
//! allocates as many scratch bytes as the request's last `lens` entry claims.
//!
//! Environment: `CC` (default `cc`), `RUSTC` (default `rustc`), `KILN_EXEC_CFLAGS` and
//! `KILN_EXEC_RUSTFLAGS` (extra flags, split at whitespace, e.g. `-fsanitize=address,undefined`),
//! `KILN_RUN_TIMEOUT` (seconds per program run, default 300), `KILN_KEEP_TEMP` (keep the
//! temporary directory and print where it is).
//!
//! Cross execution: `KILN_EXEC_TARGET` (a triple or preset; `kiln check/run --target` set it)
//! makes the object backend emit for that target, links the driver with a cross C compiler
//! (`KILN_EXEC_CC`, default `<gnu triple>-gcc`, e.g. `aarch64-linux-gnu-gcc`) or with
//! `rustc --target T -C linker=<that compiler>`, against the shim built for the triple, and
//! runs the executable through `KILN_EXEC_RUNNER` (split at whitespace; default
//! `qemu-<arch> -L /usr/<gnu triple>`, Debian's qemu-user and cross sysroots). Only
//! little-endian targets: the request and response files, and tensor bytes, are little-endian.

use super::shim::{cached_shim, rustc, truncate_output, unique_suffix, ShimLibs};
use super::{c, header, rust};
use crate::kir::Program;
use crate::{Error, Result};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod driver;
#[cfg(test)]
pub(crate) mod tests;

use driver::{decode_responses, encode_requests, C_DRIVER_MAIN, RUST_DRIVER_MAIN};

/// Which artifact to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NativeBackend {
    /// The Cranelift object file (given as bytes), linked with a C driver.
    Object,
    /// The C backend's source.
    C,
    /// The Rust backend's source.
    Rust,
}

impl NativeBackend {
    pub fn name(self) -> &'static str {
        match self {
            NativeBackend::Object => "object",
            NativeBackend::C => "c",
            NativeBackend::Rust => "rust",
        }
    }
}

/// How to compile and run (defaults from the environment, see the module documentation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecOptions {
    /// Extra C compiler flags (after the defaults), e.g. sanitizers.
    pub cflags: Vec<String>,
    /// Extra `rustc` flags.
    pub rustflags: Vec<String>,
    /// Limit for one program's run, in seconds.
    pub timeout_secs: u64,
    /// Build for and run on another target (`KILN_EXEC_TARGET`); `None`: the host.
    pub cross: Option<CrossExec>,
    /// Threads the drivers run the programs with (`KILN_EXEC_THREADS`, default 1): above 1
    /// they call `NAME_run_parallel` (`run_parallel_raw`) with a pool of that many.
    pub threads: u32,
}

/// How to build for and run on a target other than the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrossExec {
    /// The Rust target triple (for the shim and `rustc --target`).
    pub triple: String,
    /// The C compiler and linker for the triple.
    pub cc: String,
    /// The command that runs one of the triple's executables (the executable and its
    /// arguments are appended), e.g. `qemu-aarch64 -L /usr/aarch64-linux-gnu`.
    pub runner: Vec<String>,
}

/// The target native programs are built for: `KILN_EXEC_TARGET`, or the host.
pub fn exec_target() -> Result<kiln_targets::Target> {
    match std::env::var("KILN_EXEC_TARGET") {
        Ok(s) if !s.trim().is_empty() && s.trim() != "host" => kiln_targets::Target::parse(&s)
            .map_err(|e| Error::Usage(format!("KILN_EXEC_TARGET: {e}"))),
        _ => Ok(kiln_targets::Target::host()),
    }
}

/// Debian's GNU triple and qemu-user name for a Rust triple's architecture.
fn gnu_triple(t: &kiln_targets::Target) -> Option<(&'static str, &'static str)> {
    use target_lexicon::Architecture as A;
    let gnueabihf = t.triple.to_string().ends_with("gnueabihf");
    Some(match t.triple.architecture {
        A::Aarch64(_) => ("aarch64-linux-gnu", "aarch64"),
        A::Riscv64(_) => ("riscv64-linux-gnu", "riscv64"),
        A::X86_64 => ("x86_64-linux-gnu", "x86_64"),
        A::X86_32(_) => ("i686-linux-gnu", "i386"),
        A::Arm(_) if gnueabihf => ("arm-linux-gnueabihf", "arm"),
        _ => return None,
    })
}

impl CrossExec {
    /// The cross set-up for `t` from `KILN_EXEC_CC` and `KILN_EXEC_RUNNER` or the Debian
    /// defaults; `None` for the host's own triple.
    pub fn for_target(t: &kiln_targets::Target) -> Result<Option<CrossExec>> {
        if t.is_host_triple() {
            return Ok(None);
        }
        let triple = t.triple.to_string();
        if t.triple.endianness() != Ok(target_lexicon::Endianness::Little)
            || t.triple.pointer_width() != Ok(target_lexicon::PointerWidth::U64)
        {
            return Err(Error::Usage(format!(
                "running programs for {triple} is not supported: the native runner needs a \
                 64-bit little-endian target (compile with `kiln compile --target {triple}` instead)"
            )));
        }
        let gnu = gnu_triple(t);
        let cc = match std::env::var("KILN_EXEC_CC").ok().filter(|s| !s.trim().is_empty()) {
            Some(cc) => cc,
            None => match gnu {
                Some((g, _)) => format!("{g}-gcc"),
                None => {
                    return Err(Error::Usage(format!(
                        "no default C cross compiler for {triple}: set KILN_EXEC_CC and KILN_EXEC_RUNNER"
                    )))
                }
            },
        };
        let runner = match std::env::var("KILN_EXEC_RUNNER").ok() {
            Some(r) => r.split_whitespace().map(str::to_string).collect(),
            None => match gnu {
                Some((g, q)) => vec![format!("qemu-{q}"), "-L".into(), format!("/usr/{g}")],
                None => vec![],
            },
        };
        Ok(Some(CrossExec { triple, cc, runner }))
    }
}

impl ExecOptions {
    /// `KILN_EXEC_CFLAGS`, `KILN_EXEC_RUSTFLAGS`, `KILN_RUN_TIMEOUT` (default 300 s),
    /// `KILN_EXEC_THREADS` (default 1).
    pub fn from_env() -> ExecOptions {
        ExecOptions {
            cflags: env_flags("KILN_EXEC_CFLAGS"),
            rustflags: env_flags("KILN_EXEC_RUSTFLAGS"),
            timeout_secs: std::env::var("KILN_RUN_TIMEOUT")
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(300),
            threads: std::env::var("KILN_EXEC_THREADS")
                .ok()
                .and_then(|s| s.trim().parse::<u32>().ok())
                .unwrap_or(1)
                .max(1),
            cross: exec_target()
                .and_then(|t| CrossExec::for_target(&t))
                .unwrap_or_else(|e| {
                    eprintln!("kiln: {e}");
                    None
                }),
        }
    }
}

/// One call of `NAME_run`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunRequest {
    /// Values of the symbolic dims (exactly one per dim of the program).
    pub dims: Vec<i64>,
    /// Bytes of every input (little-endian elements).
    pub inputs: Vec<Vec<u8>>,
    /// Byte size of every output buffer to allocate.
    pub output_bytes: Vec<usize>,
    /// The `lens` argument: element counts of inputs then outputs, then scratch bytes (the
    /// driver allocates that many scratch bytes).
    pub lens: Vec<u64>,
}

/// What one call returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunResult {
    pub status: i32,
    /// Every output buffer after the call (zero-filled before it).
    pub outputs: Vec<Vec<u8>>,
}

fn err(backend: NativeBackend, msg: impl Into<String>) -> Error {
    Error::Backend {
        backend: match backend {
            NativeBackend::Object => "exec/object",
            NativeBackend::C => "exec/c",
            NativeBackend::Rust => "exec/rust",
        },
        msg: msg.into(),
    }
}

/// Runs `p` on every request (see `run_native_batch`).
pub fn run_native(
    backend: NativeBackend,
    p: &Program,
    object_bytes: Option<&[u8]>,
    runs: &[RunRequest],
) -> Result<Vec<RunResult>> {
    let mut all = run_native_batch(backend, &[(p, object_bytes, runs)])?;
    all.pop().unwrap_or_else(|| Err(err(backend, "no result")))
}

/// One item of a batch: the program, its object file (for `Object`), its requests.
pub type BatchItem<'a> = (&'a Program, Option<&'a [u8]>, &'a [RunRequest]);

/// Runs many programs, each on its requests, compiling them together. The outer error is
/// for problems with the environment (no temporary directory, shim build failed, compiler
/// missing); the inner ones are per program (bad requests, compile error, crash, time-out).
pub fn run_native_batch(
    backend: NativeBackend,
    items: &[BatchItem<'_>],
) -> Result<Vec<Result<Vec<RunResult>>>> {
    run_native_batch_with(backend, items, &ExecOptions::from_env())
}

/// `run_native_batch` with explicit options.
pub fn run_native_batch_with(
    backend: NativeBackend,
    items: &[BatchItem<'_>],
    opts: &ExecOptions,
) -> Result<Vec<Result<Vec<RunResult>>>> {
    let mut results: Vec<Option<Result<Vec<RunResult>>>> = (0..items.len()).map(|_| None).collect();
    let mut valid = vec![];
    for (i, (p, obj, reqs)) in items.iter().enumerate() {
        match check_requests(backend, p, *obj, reqs) {
            Ok(()) => valid.push(i),
            Err(e) => results[i] = Some(Err(e)),
        }
    }
    if !valid.is_empty() {
        let shim = cached_shim(opts.cross.as_ref().map(|c| c.triple.as_str()))?;
        let tmp = TempDir::new(backend)?;
        let mut ex = Exec {
            backend,
            items,
            dir: tmp.path.clone(),
            shim,
            opts,
            names: vec![String::new(); items.len()],
            builds: 0,
        };
        ex.write_artifacts(&valid)?;
        for group in ex.groups(&valid) {
            for (idxs, built) in ex.build(&group)? {
                match built {
                    Ok(bin) => {
                        for (entry, &i) in idxs.iter().enumerate() {
                            results[i] = Some(ex.run(&bin, entry, i));
                        }
                    }
                    Err(e) => {
                        for &i in &idxs {
                            results[i] = Some(Err(err(backend, e.clone())));
                        }
                    }
                }
            }
        }
    }
    Ok(results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(err(backend, "not run"))))
        .collect())
}

fn check_requests(
    backend: NativeBackend,
    p: &Program,
    obj: Option<&[u8]>,
    reqs: &[RunRequest],
) -> Result<()> {
    if backend == NativeBackend::Object && obj.is_none() {
        return Err(err(
            backend,
            "the object backend needs the object file's bytes",
        ));
    }
    let (ni, no) = (p.inputs.len(), p.outputs.len());
    for (k, r) in reqs.iter().enumerate() {
        if r.dims.len() != p.syms.len()
            || r.inputs.len() != ni
            || r.output_bytes.len() != no
            || r.lens.len() != ni + no + 1
        {
            return Err(Error::Internal(format!(
                "run request {k} for {}: {} dims, {} inputs, {} outputs, {} lens; the program has {} dims, \
                 {ni} inputs, {no} outputs (and needs {} lens)",
                p.name,
                r.dims.len(),
                r.inputs.len(),
                r.output_bytes.len(),
                r.lens.len(),
                p.syms.len(),
                ni + no + 1
            )));
        }
    }
    Ok(())
}

/// A temporary directory, removed on drop unless `KILN_KEEP_TEMP` is set.
struct TempDir {
    path: PathBuf,
}

impl TempDir {
    fn new(backend: NativeBackend) -> Result<TempDir> {
        let path =
            std::env::temp_dir().join(format!("kiln-exec-{}-{}", backend.name(), unique_suffix()));
        std::fs::create_dir_all(&path).map_err(|e| Error::io(&path, e))?;
        Ok(TempDir { path })
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("KILN_KEEP_TEMP").is_some() {
            eprintln!("kiln: keeping temporary directory {}", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

struct Exec<'a, 'b> {
    backend: NativeBackend,
    items: &'a [BatchItem<'b>],
    dir: PathBuf,
    shim: ShimLibs,
    opts: &'a ExecOptions,
    /// Symbol prefix of every item in the executables.
    names: Vec<String>,
    /// Builds so far (names executables and drivers).
    builds: usize,
}

fn write(path: &Path, data: &[u8]) -> Result<()> {
    std::fs::write(path, data).map_err(|e| Error::io(path, e))
}

fn env_flags(var: &str) -> Vec<String> {
    std::env::var(var)
        .map(|s| s.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

impl Exec<'_, '_> {
    /// Writes every valid item's artifact (renamed for C and Rust).
    fn write_artifacts(&mut self, valid: &[usize]) -> Result<()> {
        for &i in valid {
            let (p, obj, _) = self.items[i];
            match self.backend {
                NativeBackend::Object => {
                    self.names[i] = p.name.clone();
                    write(
                        &self.dir.join(format!("item{i}.o")),
                        obj.unwrap_or_default(),
                    )?;
                    write(
                        &self.dir.join(format!("item{i}.h")),
                        header::emit_header(p).as_bytes(),
                    )?;
                }
                NativeBackend::C => {
                    let name = format!("kiln_x{i}");
                    let q = Program {
                        name: name.clone(),
                        ..p.clone()
                    };
                    write(
                        &self.dir.join(format!("{name}.c")),
                        c::emit_c(&q).as_bytes(),
                    )?;
                    write(
                        &self.dir.join(format!("{name}.h")),
                        header::emit_header(&q).as_bytes(),
                    )?;
                    self.names[i] = name;
                }
                NativeBackend::Rust => {
                    let name = format!("kiln_x{i}");
                    let q = Program {
                        name: name.clone(),
                        ..p.clone()
                    };
                    let (src, weights) = rust::emit_rust(&q);
                    write(&self.dir.join(format!("{name}.rs")), src.as_bytes())?;
                    if let Some(w) = weights {
                        write(&self.dir.join(format!("{name}.weights.bin")), &w)?;
                    }
                    self.names[i] = name;
                }
            }
        }
        Ok(())
    }

    /// Groups of items that can share an executable (distinct symbol prefixes).
    fn groups(&self, valid: &[usize]) -> Vec<Vec<usize>> {
        let mut groups: Vec<Vec<usize>> = vec![];
        for &i in valid {
            match groups
                .iter_mut()
                .find(|g| g.iter().all(|&j| self.names[j] != self.names[i]))
            {
                Some(g) => g.push(i),
                None => groups.push(vec![i]),
            }
        }
        groups
    }

    /// Builds executables for `idxs`, bisecting on failure: (items, executable or the
    /// compiler's message).
    #[allow(clippy::type_complexity)]
    fn build(
        &mut self,
        idxs: &[usize],
    ) -> Result<Vec<(Vec<usize>, std::result::Result<PathBuf, String>)>> {
        match self.build_one(idxs)? {
            Ok(bin) => Ok(vec![(idxs.to_vec(), Ok(bin))]),
            Err(msg) if idxs.len() == 1 => Ok(vec![(idxs.to_vec(), Err(msg))]),
            Err(_) => {
                let (a, b) = idxs.split_at(idxs.len() / 2);
                let mut out = self.build(a)?;
                out.extend(self.build(b)?);
                Ok(out)
            }
        }
    }

    /// One compiler invocation. Outer error: the compiler could not be started.
    fn build_one(&mut self, idxs: &[usize]) -> Result<std::result::Result<PathBuf, String>> {
        let id = self.builds;
        self.builds += 1;
        let bin = self.dir.join(format!("prog{id}"));
        let mut cmd = match self.backend {
            NativeBackend::Object | NativeBackend::C => {
                let driver = self.dir.join(format!("driver{id}.c"));
                write(&driver, self.c_driver(idxs).as_bytes())?;
                let cc = match &self.opts.cross {
                    Some(x) => x.cc.clone(),
                    None => std::env::var("CC")
                        .ok()
                        .filter(|s| !s.is_empty())
                        .unwrap_or_else(|| "cc".into()),
                };
                let mut cmd = Command::new(cc);
                cmd.args([
                    "-O2",
                    "-std=c11",
                    "-Wall",
                    "-Wextra",
                    "-Werror",
                    "-ffp-contract=off",
                ]);
                cmd.args(&self.opts.cflags);
                cmd.arg("-o").arg(&bin).arg(&driver);
                for &i in idxs {
                    if self.backend == NativeBackend::C {
                        cmd.arg(self.dir.join(format!("{}.c", self.names[i])));
                    } else {
                        cmd.arg(self.dir.join(format!("item{i}.o")));
                    }
                }
                // `-lm` first: the staticlib carries Rust's compiler-builtins, whose copies
                // of libm functions (fmaf, floorf, ...) must not shadow the C library's.
                cmd.arg("-lm")
                    .arg(&self.shim.staticlib)
                    .arg("-lm")
                    .arg("-pthread");
                cmd
            }
            NativeBackend::Rust => {
                let driver = self.dir.join(format!("driver{id}.rs"));
                write(&driver, self.rust_driver(idxs).as_bytes())?;
                let mut cmd = Command::new(rustc());
                cmd.args([
                    "--edition",
                    "2021",
                    "-O",
                    "-D",
                    "warnings",
                    "--crate-type",
                    "bin",
                ])
                .args(["--crate-name", "kiln_driver", "--extern"])
                .arg(format!("kiln_shim={}", self.shim.rlib.display()));
                if let Some(x) = &self.opts.cross {
                    cmd.args(["--target", &x.triple])
                        .arg(format!("-Clinker={}", x.cc));
                }
                cmd.args(&self.opts.rustflags);
                cmd.arg("-o").arg(&bin).arg(&driver);
                cmd
            }
        };
        cmd.current_dir(&self.dir);
        let out = cmd.output().map_err(|e| {
            err(
                self.backend,
                format!("cannot run the compiler {:?}: {e}", cmd.get_program()),
            )
        })?;
        if out.status.success() && bin.is_file() {
            Ok(Ok(bin))
        } else {
            let mut msg = String::from_utf8_lossy(&out.stderr).into_owned();
            msg.push_str(&String::from_utf8_lossy(&out.stdout));
            Ok(Err(format!(
                "compiling failed ({}):\n{}",
                out.status,
                truncate_output(&msg, 6000)
            )))
        }
    }

    fn c_driver(&self, idxs: &[usize]) -> String {
        let mut s = String::from(
            "/* Kiln exec driver: runs NAME_run on request files (see backend/exec.rs). */\n\
             #define _POSIX_C_SOURCE 200112L\n#include <stdint.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n",
        );
        for &i in idxs {
            let h = match self.backend {
                NativeBackend::Object => format!("item{i}.h"),
                _ => format!("{}.h", self.names[i]),
            };
            let _ = writeln!(s, "#include \"{h}\"");
        }
        s.push_str(crate::bench::POOL_H);
        s.push_str(
            "typedef int32_t (*kiln_entry_fn)(const int64_t *, const void *const *, void *const *, void *, const uint64_t *, const kiln_parallel *);\n\
             static const kiln_entry_fn kiln_entries[] = {",
        );
        let entries: Vec<String> = idxs
            .iter()
            .map(|&i| format!("{}_run_parallel", self.names[i]))
            .collect();
        let _ = writeln!(
            s,
            "{}}};\nstatic const uint32_t kiln_n_entries = {};",
            entries.join(", "),
            idxs.len()
        );
        s.push_str(C_DRIVER_MAIN);
        s
    }

    fn rust_driver(&self, idxs: &[usize]) -> String {
        let mut s = String::from(
            "// Kiln exec driver: runs NAME::run_raw on request files (see backend/exec.rs).\n",
        );
        for &i in idxs {
            let _ = writeln!(s, "include!(\"{}.rs\");", self.names[i]);
        }
        let entries: Vec<String> = idxs
            .iter()
            .map(|&i| format!("{}::run_parallel_raw", self.names[i]))
            .collect();
        let _ = writeln!(
            s,
            "type Entry = unsafe fn(*const i64, *const *const u8, *const *mut u8, *mut u8, *const u64, *const kiln_shim::parallel::Parallel) -> i32;\n\
             const ENTRIES: [Entry; {}] = [{}];",
            idxs.len(),
            entries.join(", ")
        );
        s.push_str(RUST_DRIVER_MAIN);
        s
    }

    /// Runs item `i` (entry `entry` of `bin`) on its requests.
    fn run(&self, bin: &Path, entry: usize, i: usize) -> Result<Vec<RunResult>> {
        let reqs = self.items[i].2;
        let req_path = self.dir.join(format!("req{i}.bin"));
        let res_path = self.dir.join(format!("res{i}.bin"));
        let log_path = self.dir.join(format!("log{i}.txt"));
        write(&req_path, &encode_requests(entry as u32, reqs))?;
        let log = std::fs::File::create(&log_path).map_err(|e| Error::io(&log_path, e))?;
        let mut cmd = match self
            .opts
            .cross
            .as_ref()
            .and_then(|x| x.runner.split_first())
        {
            Some((prog, args)) => {
                let mut c = Command::new(prog);
                c.args(args).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        let mut child = cmd
            .arg(&req_path)
            .arg(&res_path)
            .current_dir(&self.dir)
            .env("KILN_EXEC_THREADS", self.opts.threads.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| {
                err(
                    self.backend,
                    format!(
                        "cannot run {:?} ({}): {e}",
                        cmd.get_program(),
                        bin.display()
                    ),
                )
            })?;
        let limit = self.opts.timeout_secs;
        let start = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(st)) => break st,
                Ok(None) if start.elapsed() > Duration::from_secs(limit) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(err(
                        self.backend,
                        format!("{}: timed out after {limit} s", self.items[i].0.name),
                    ));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(2)),
                Err(e) => {
                    return Err(err(
                        self.backend,
                        format!("waiting for {}: {e}", bin.display()),
                    ))
                }
            }
        };
        let data = std::fs::read(&res_path).unwrap_or_default();
        let (results, complete) = decode_responses(&data, reqs);
        if status.success() && complete {
            return Ok(results);
        }
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        Err(err(
            self.backend,
            format!(
                "{}: the native run failed ({status}) on request {} of {}:\n{}",
                self.items[i].0.name,
                results.len(),
                reqs.len(),
                truncate_output(&log, 4000)
            ),
        ))
    }
}
