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

use super::shim::{cached_shim, rustc, truncate_output, unique_suffix, ShimLibs};
use super::{c, header, rust};
use crate::kir::Program;
use crate::{Error, Result};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[cfg(test)]
mod tests;

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
}

impl ExecOptions {
    /// `KILN_EXEC_CFLAGS`, `KILN_EXEC_RUSTFLAGS`, `KILN_RUN_TIMEOUT` (default 300 s).
    pub fn from_env() -> ExecOptions {
        ExecOptions {
            cflags: env_flags("KILN_EXEC_CFLAGS"),
            rustflags: env_flags("KILN_EXEC_RUSTFLAGS"),
            timeout_secs: std::env::var("KILN_RUN_TIMEOUT")
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(300),
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
pub fn run_native_batch(backend: NativeBackend, items: &[BatchItem<'_>]) -> Result<Vec<Result<Vec<RunResult>>>> {
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
        let shim = cached_shim(None)?;
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

fn check_requests(backend: NativeBackend, p: &Program, obj: Option<&[u8]>, reqs: &[RunRequest]) -> Result<()> {
    if backend == NativeBackend::Object && obj.is_none() {
        return Err(err(backend, "the object backend needs the object file's bytes"));
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
        let path = std::env::temp_dir().join(format!("kiln-exec-{}-{}", backend.name(), unique_suffix()));
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
                    write(&self.dir.join(format!("item{i}.o")), obj.unwrap_or_default())?;
                    write(&self.dir.join(format!("item{i}.h")), header::emit_header(p).as_bytes())?;
                }
                NativeBackend::C => {
                    let name = format!("kiln_x{i}");
                    let q = Program { name: name.clone(), ..p.clone() };
                    write(&self.dir.join(format!("{name}.c")), c::emit_c(&q).as_bytes())?;
                    write(&self.dir.join(format!("{name}.h")), header::emit_header(&q).as_bytes())?;
                    self.names[i] = name;
                }
                NativeBackend::Rust => {
                    let name = format!("kiln_x{i}");
                    let q = Program { name: name.clone(), ..p.clone() };
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
    fn build(&mut self, idxs: &[usize]) -> Result<Vec<(Vec<usize>, std::result::Result<PathBuf, String>)>> {
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
                let cc = std::env::var("CC").ok().filter(|s| !s.is_empty()).unwrap_or_else(|| "cc".into());
                let mut cmd = Command::new(cc);
                cmd.args(["-O2", "-std=c11", "-Wall", "-Wextra", "-Werror", "-ffp-contract=off"]);
                cmd.args(&self.opts.cflags);
                cmd.arg("-o").arg(&bin).arg(&driver);
                for &i in idxs {
                    if self.backend == NativeBackend::C {
                        cmd.arg(self.dir.join(format!("{}.c", self.names[i])));
                    } else {
                        cmd.arg(self.dir.join(format!("item{i}.o")));
                    }
                }
                cmd.arg(&self.shim.staticlib).arg("-lm");
                cmd
            }
            NativeBackend::Rust => {
                let driver = self.dir.join(format!("driver{id}.rs"));
                write(&driver, self.rust_driver(idxs).as_bytes())?;
                let mut cmd = Command::new(rustc());
                cmd.args(["--edition", "2021", "-O", "-D", "warnings", "--crate-type", "bin"])
                    .args(["--crate-name", "kiln_driver", "--extern"])
                    .arg(format!("kiln_shim={}", self.shim.rlib.display()));
                cmd.args(&self.opts.rustflags);
                cmd.arg("-o").arg(&bin).arg(&driver);
                cmd
            }
        };
        cmd.current_dir(&self.dir);
        let out = cmd.output().map_err(|e| {
            err(self.backend, format!("cannot run the compiler {:?}: {e}", cmd.get_program()))
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
        s.push_str(
            "typedef int32_t (*kiln_entry_fn)(const int64_t *, const void *const *, void *const *, void *, const uint64_t *);\n\
             static const kiln_entry_fn kiln_entries[] = {",
        );
        let entries: Vec<String> = idxs.iter().map(|&i| format!("{}_run", self.names[i])).collect();
        let _ = writeln!(s, "{}}};\nstatic const uint32_t kiln_n_entries = {};", entries.join(", "), idxs.len());
        s.push_str(C_DRIVER_MAIN);
        s
    }

    fn rust_driver(&self, idxs: &[usize]) -> String {
        let mut s = String::from("// Kiln exec driver: runs NAME::run_raw on request files (see backend/exec.rs).\n");
        for &i in idxs {
            let _ = writeln!(s, "include!(\"{}.rs\");", self.names[i]);
        }
        let entries: Vec<String> = idxs.iter().map(|&i| format!("{}::run_raw", self.names[i])).collect();
        let _ = writeln!(
            s,
            "type Entry = unsafe fn(*const i64, *const *const u8, *const *mut u8, *mut u8, *const u64) -> i32;\n\
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
        let mut child = Command::new(bin)
            .arg(&req_path)
            .arg(&res_path)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| err(self.backend, format!("cannot run {}: {e}", bin.display())))?;
        let limit = self.opts.timeout_secs;
        let start = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(st)) => break st,
                Ok(None) if start.elapsed() > Duration::from_secs(limit) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(err(self.backend, format!("{}: timed out after {limit} s", self.items[i].0.name)));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(2)),
                Err(e) => return Err(err(self.backend, format!("waiting for {}: {e}", bin.display()))),
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

/// The request file for `entry`.
fn encode_requests(entry: u32, reqs: &[RunRequest]) -> Vec<u8> {
    let mut b = b"KILNRQ01".to_vec();
    b.extend(entry.to_ne_bytes());
    b.extend((reqs.len() as u32).to_ne_bytes());
    for r in reqs {
        for n in [r.dims.len(), r.inputs.len(), r.output_bytes.len(), r.lens.len()] {
            b.extend((n as u32).to_ne_bytes());
        }
        for d in &r.dims {
            b.extend(d.to_ne_bytes());
        }
        for l in &r.lens {
            b.extend(l.to_ne_bytes());
        }
        for x in &r.inputs {
            b.extend((x.len() as u64).to_ne_bytes());
            b.extend(x);
        }
        for n in &r.output_bytes {
            b.extend((*n as u64).to_ne_bytes());
        }
    }
    b
}

/// Results in a response file, and whether it holds one for every request.
fn decode_responses(data: &[u8], reqs: &[RunRequest]) -> (Vec<RunResult>, bool) {
    let mut out = vec![];
    if data.len() < 8 || &data[..8] != b"KILNRS01" {
        return (out, false);
    }
    let mut pos: usize = 8;
    let mut take = |n: usize| -> Option<&[u8]> {
        let s = data.get(pos..usize::checked_add(pos, n)?)?;
        pos += n;
        Some(s)
    };
    for r in reqs {
        let parsed = (|| {
            let status = i32::from_ne_bytes(take(4)?.try_into().ok()?);
            let n = u32::from_ne_bytes(take(4)?.try_into().ok()?) as usize;
            if n != r.output_bytes.len() {
                return None;
            }
            let mut outputs = vec![];
            for _ in 0..n {
                let len = u64::from_ne_bytes(take(8)?.try_into().ok()?) as usize;
                outputs.push(take(len)?.to_vec());
            }
            Some(RunResult { status, outputs })
        })();
        match parsed {
            Some(res) => out.push(res),
            None => return (out, false),
        }
    }
    (out, true)
}

const C_DRIVER_MAIN: &str = r#"
static void kiln_die(const char *msg) {
    fprintf(stderr, "kiln driver: %s\n", msg);
    exit(3);
}
static void kiln_rd(void *p, size_t n, FILE *f) {
    if (n != 0 && fread(p, 1, n, f) != n) kiln_die("truncated request file");
}
static void kiln_wr(const void *p, size_t n, FILE *f) {
    if (n != 0 && fwrite(p, 1, n, f) != n) kiln_die("cannot write the response file");
}
static uint32_t kiln_rd_u32(FILE *f) {
    uint32_t v;
    kiln_rd(&v, sizeof v, f);
    return v;
}
static uint64_t kiln_rd_u64(FILE *f) {
    uint64_t v;
    kiln_rd(&v, sizeof v, f);
    return v;
}
/* Exactly n bytes (at least 1), 64-byte aligned, zeroed. */
static void *kiln_alloc(uint64_t n) {
    void *p = NULL;
    if (n > (uint64_t)SIZE_MAX - 64) kiln_die("allocation too large");
    if (posix_memalign(&p, 64, n == 0 ? 1 : (size_t)n) != 0 || p == NULL) kiln_die("out of memory");
    memset(p, 0, n == 0 ? 1 : (size_t)n);
    return p;
}

int main(int argc, char **argv) {
    char magic[8];
    FILE *in, *out;
    uint32_t entry, count, r, k;
    if (argc != 3) kiln_die("usage: driver REQUEST RESPONSE");
    in = fopen(argv[1], "rb");
    if (in == NULL) kiln_die("cannot open the request file");
    out = fopen(argv[2], "wb");
    if (out == NULL) kiln_die("cannot create the response file");
    kiln_rd(magic, 8, in);
    if (memcmp(magic, "KILNRQ01", 8) != 0) kiln_die("bad request file");
    kiln_wr("KILNRS01", 8, out);
    entry = kiln_rd_u32(in);
    count = kiln_rd_u32(in);
    if (entry >= kiln_n_entries) kiln_die("bad entry index");
    for (r = 0; r < count; r++) {
        uint32_t nd = kiln_rd_u32(in), ni = kiln_rd_u32(in), no = kiln_rd_u32(in), nl = kiln_rd_u32(in);
        int64_t *dims = (int64_t *)kiln_alloc((uint64_t)nd * 8);
        uint64_t *lens = (uint64_t *)kiln_alloc((uint64_t)nl * 8);
        void **ins = (void **)kiln_alloc(((uint64_t)ni + 1) * sizeof(void *));
        void **outs = (void **)kiln_alloc(((uint64_t)no + 1) * sizeof(void *));
        uint64_t *osz = (uint64_t *)kiln_alloc(((uint64_t)no + 1) * 8);
        void *scratch;
        int32_t status;
        kiln_rd(dims, (size_t)nd * 8, in);
        kiln_rd(lens, (size_t)nl * 8, in);
        for (k = 0; k < ni; k++) {
            uint64_t n = kiln_rd_u64(in);
            ins[k] = kiln_alloc(n);
            kiln_rd(ins[k], (size_t)n, in);
        }
        for (k = 0; k < no; k++) {
            osz[k] = kiln_rd_u64(in);
            outs[k] = kiln_alloc(osz[k]);
        }
        scratch = kiln_alloc((uint64_t)ni + no < nl ? lens[ni + no] : 0);
        status = kiln_entries[entry](nd == 0 ? NULL : dims, (const void *const *)ins, (void *const *)outs, scratch, lens);
        kiln_wr(&status, sizeof status, out);
        kiln_wr(&no, sizeof no, out);
        for (k = 0; k < no; k++) {
            kiln_wr(&osz[k], sizeof osz[k], out);
            kiln_wr(outs[k], (size_t)osz[k], out);
        }
        if (fflush(out) != 0) kiln_die("cannot write the response file");
        for (k = 0; k < ni; k++) free(ins[k]);
        for (k = 0; k < no; k++) free(outs[k]);
        free(scratch);
        free(osz);
        free(outs);
        free(ins);
        free(lens);
        free(dims);
    }
    fclose(in);
    if (fclose(out) != 0) kiln_die("cannot write the response file");
    return 0;
}
"#;

const RUST_DRIVER_MAIN: &str = r#"
use std::io::Write;

/// Exactly `n` bytes (at least 1), 64-byte aligned, zeroed.
struct Buf {
    ptr: *mut u8,
    layout: std::alloc::Layout,
}

impl Buf {
    fn new(n: u64) -> Buf {
        let n = usize::try_from(n).unwrap_or_else(|_| die("allocation too large")).max(1);
        let layout = std::alloc::Layout::from_size_align(n, 64).unwrap_or_else(|_| die("allocation too large"));
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        if ptr.is_null() {
            die("out of memory");
        }
        Buf { ptr, layout }
    }
    fn bytes(&self, n: usize) -> &[u8] {
        // SAFETY: `n` is at most the allocation's size, all initialized (zeroed or written).
        unsafe { std::slice::from_raw_parts(self.ptr, n.min(self.layout.size())) }
    }
    fn fill(&mut self, data: &[u8]) {
        let n = data.len().min(self.layout.size());
        // SAFETY: within the allocation.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr, n) }
    }
}

impl Drop for Buf {
    fn drop(&mut self) {
        // SAFETY: allocated with this layout.
        unsafe { std::alloc::dealloc(self.ptr, self.layout) }
    }
}

fn die(msg: &str) -> ! {
    eprintln!("kiln driver: {msg}");
    std::process::exit(3)
}

struct Reader {
    data: Vec<u8>,
    pos: usize,
}

impl Reader {
    fn take(&mut self, n: usize) -> &[u8] {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        let end = end.unwrap_or_else(|| die("truncated request file"));
        let s = &self.data[self.pos..end];
        self.pos = end;
        s
    }
    fn u32(&mut self) -> u32 {
        u32::from_ne_bytes(self.take(4).try_into().unwrap_or([0; 4]))
    }
    fn u64(&mut self) -> u64 {
        u64::from_ne_bytes(self.take(8).try_into().unwrap_or([0; 8]))
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        die("usage: driver REQUEST RESPONSE");
    }
    let data = std::fs::read(&args[1]).unwrap_or_else(|_| die("cannot read the request file"));
    let mut out = std::fs::File::create(&args[2]).unwrap_or_else(|_| die("cannot create the response file"));
    let mut rd = Reader { data, pos: 0 };
    if rd.take(8) != b"KILNRQ01" {
        die("bad request file");
    }
    let put = |out: &mut std::fs::File, b: &[u8]| {
        if out.write_all(b).is_err() {
            die("cannot write the response file");
        }
    };
    put(&mut out, b"KILNRS01");
    let entry = rd.u32() as usize;
    let count = rd.u32();
    let run = *ENTRIES.get(entry).unwrap_or_else(|| die("bad entry index"));
    for _ in 0..count {
        let (nd, ni, no, nl) = (rd.u32() as usize, rd.u32() as usize, rd.u32() as usize, rd.u32() as usize);
        let dims: Vec<i64> = (0..nd).map(|_| rd.u64() as i64).collect();
        let lens: Vec<u64> = (0..nl).map(|_| rd.u64()).collect();
        let mut ins = vec![];
        for _ in 0..ni {
            let n = rd.u64();
            let mut b = Buf::new(n);
            b.fill(rd.take(n as usize));
            ins.push(b);
        }
        let osz: Vec<u64> = (0..no).map(|_| rd.u64()).collect();
        let outs: Vec<Buf> = osz.iter().map(|&n| Buf::new(n)).collect();
        let scratch = Buf::new(if ni + no < nl { lens[ni + no] } else { 0 });
        let in_ptrs: Vec<*const u8> = ins.iter().map(|b| b.ptr as *const u8).collect();
        let out_ptrs: Vec<*mut u8> = outs.iter().map(|b| b.ptr).collect();
        let dims_ptr = if nd == 0 { std::ptr::null() } else { dims.as_ptr() };
        // SAFETY: buffers as the request describes them; the program validates the lengths.
        let status = unsafe { run(dims_ptr, in_ptrs.as_ptr(), out_ptrs.as_ptr(), scratch.ptr, lens.as_ptr()) };
        put(&mut out, &status.to_ne_bytes());
        put(&mut out, &(no as u32).to_ne_bytes());
        for (b, &n) in outs.iter().zip(&osz) {
            put(&mut out, &n.to_ne_bytes());
            put(&mut out, b.bytes(n as usize));
        }
        if out.flush().is_err() {
            die("cannot write the response file");
        }
    }
}
"#;
