//! The runtime shim (`runtime-shim/`, crate `kiln_shim`) for artifacts that need linking:
//! its sources are embedded in the compiler, and `build_shim` compiles them with `rustc`
//! into `libkiln_shim.a` (for C and object artifacts) and `libkiln_shim.rlib` (for Rust
//! drivers), next to `kiln_shim.h`.
//!
//! Invariants: `shim_sources` embeds every file of `runtime-shim/src` (a unit test lists the
//! directory and checks); `cached_shim` returns libraries built from exactly the embedded
//! sources by exactly the `rustc` in use, for exactly the target (the cache key hashes all
//! three), and is safe against concurrent processes (each builds in a private directory and
//! renames it into place; the loser of a race uses the winner's). The `rustc` run is
//! `$RUSTC` or `rustc`.

use crate::{Error, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// The shim's sources: (path relative to `runtime-shim/src`, contents).
pub fn shim_sources() -> Vec<(&'static str, &'static str)> {
    vec![
        (
            "coeffs.rs",
            include_str!("../../../runtime-shim/src/coeffs.rs"),
        ),
        ("cpu.rs", include_str!("../../../runtime-shim/src/cpu.rs")),
        ("erf.rs", include_str!("../../../runtime-shim/src/erf.rs")),
        (
            "exp_log.rs",
            include_str!("../../../runtime-shim/src/exp_log.rs"),
        ),
        ("fma.rs", include_str!("../../../runtime-shim/src/fma.rs")),
        ("fmod.rs", include_str!("../../../runtime-shim/src/fmod.rs")),
        ("fp.rs", include_str!("../../../runtime-shim/src/fp.rs")),
        ("gemm.rs", include_str!("../../../runtime-shim/src/gemm.rs")),
        (
            "gemm_nchwc.rs",
            include_str!("../../../runtime-shim/src/gemm_nchwc.rs"),
        ),
        (
            "gemm_neon.rs",
            include_str!("../../../runtime-shim/src/gemm_neon.rs"),
        ),
        (
            "hyperbolic.rs",
            include_str!("../../../runtime-shim/src/hyperbolic.rs"),
        ),
        (
            "invtrig.rs",
            include_str!("../../../runtime-shim/src/invtrig.rs"),
        ),
        ("lib.rs", include_str!("../../../runtime-shim/src/lib.rs")),
        (
            "math32.rs",
            include_str!("../../../runtime-shim/src/math32.rs"),
        ),
        (
            "parallel.rs",
            include_str!("../../../runtime-shim/src/parallel.rs"),
        ),
        ("trig.rs", include_str!("../../../runtime-shim/src/trig.rs")),
        (
            "vmath.rs",
            include_str!("../../../runtime-shim/src/vmath.rs"),
        ),
    ]
}

/// The shim's C header.
pub const SHIM_HEADER: &str = include_str!("../../../runtime-shim/include/kiln_shim.h");

/// Built shim libraries (all in `dir`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShimLibs {
    pub dir: PathBuf,
    /// `libkiln_shim.a`: C ABI (`kiln_shim_*`), no_std, panic=abort.
    pub staticlib: PathBuf,
    /// `libkiln_shim.rlib`: for `--extern kiln_shim=...`.
    pub rlib: PathBuf,
    /// `kiln_shim.h`.
    pub header: PathBuf,
}

impl ShimLibs {
    fn in_dir(dir: &Path) -> ShimLibs {
        ShimLibs {
            dir: dir.to_path_buf(),
            staticlib: dir.join("libkiln_shim.a"),
            rlib: dir.join("libkiln_shim.rlib"),
            header: dir.join("kiln_shim.h"),
        }
    }
    fn complete(&self) -> bool {
        self.staticlib.is_file() && self.rlib.is_file() && self.header.is_file()
    }
}

fn backend_err(msg: impl Into<String>) -> Error {
    Error::Backend {
        backend: "shim",
        msg: msg.into(),
    }
}

/// The `rustc` to run: `$RUSTC` or `rustc`.
pub fn rustc() -> String {
    std::env::var("RUSTC")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "rustc".into())
}

/// At most `max` bytes of a compiler's output, cut at a character boundary.
pub fn truncate_output(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}\n... ({} more bytes)", &s[..end], s.len() - end)
}

/// Runs `cmd`; an error carries the command's stderr.
pub(crate) fn run_tool(cmd: &mut Command, what: &str) -> Result<()> {
    let out = cmd
        .output()
        .map_err(|e| backend_err(format!("{what}: cannot run {:?}: {e}", cmd.get_program())))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(backend_err(format!(
            "{what} failed ({}):\n{}",
            out.status,
            truncate_output(&err, 8000)
        )));
    }
    Ok(())
}

/// Writes the shim sources under `dir` (as `dir/src/...`) and the header; returns the
/// crate root.
fn write_sources(dir: &Path) -> Result<PathBuf> {
    let src = dir.join("src");
    for (rel, text) in shim_sources() {
        let path = src.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        std::fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
    }
    Ok(src.join("lib.rs"))
}

/// Builds the shim for `target_triple` (the host if `None`) into `out_dir` (created if
/// needed): `libkiln_shim.a`, `libkiln_shim.rlib` and `kiln_shim.h`.
pub fn build_shim(target_triple: Option<&str>, out_dir: &Path) -> Result<ShimLibs> {
    std::fs::create_dir_all(out_dir).map_err(|e| Error::io(out_dir, e))?;
    let work = out_dir.join("shim-src");
    let lib_rs = write_sources(&work)?;
    let libs = ShimLibs::in_dir(out_dir);
    let base = |cmd: &mut Command| {
        cmd.args([
            "--edition",
            "2021",
            "--crate-name",
            "kiln_shim",
            "-C",
            "opt-level=3",
            "-C",
            "debuginfo=0",
        ]);
        if let Some(t) = target_triple {
            cmd.args(["--target", t]);
        }
    };
    let mut st = Command::new(rustc());
    base(&mut st);
    st.args([
        "--crate-type",
        "staticlib",
        "-C",
        "panic=abort",
        "--cfg",
        "kiln_shim_staticlib",
        "-o",
    ])
    .arg(&libs.staticlib)
    .arg(&lib_rs);
    run_tool(&mut st, "building the kiln_shim staticlib")?;
    let mut rl = Command::new(rustc());
    base(&mut rl);
    rl.args(["--crate-type", "rlib", "-o"])
        .arg(&libs.rlib)
        .arg(&lib_rs);
    run_tool(&mut rl, "building the kiln_shim rlib")?;
    crate::compile::write_atomic(&libs.header, SHIM_HEADER.as_bytes())?;
    let _ = std::fs::remove_dir_all(&work);
    Ok(libs)
}

/// 64-bit FNV-1a.
pub fn fnv1a(data: &[u8], mut h: u64) -> u64 {
    for &b in data {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// Where built shims are cached: `$KILN_CACHE_DIR`; else, when the running executable is
/// inside this source tree's target directory (tests, `cargo run`), `<target>/kiln-cache`;
/// else `$XDG_CACHE_HOME/kiln` or `~/.cache/kiln`; else `<tmp>/kiln-cache`.
pub fn cache_root() -> PathBuf {
    if let Some(d) = std::env::var_os("KILN_CACHE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf);
    if let (Some(ws), Ok(exe)) = (workspace, std::env::current_exe()) {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| ws.join("target"));
        let target = target.canonicalize().unwrap_or(target);
        let exe = exe.canonicalize().unwrap_or(exe);
        if exe.starts_with(&target) {
            return target.join("kiln-cache");
        }
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("kiln");
    }
    if let Some(h) = std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(h).join(".cache").join("kiln");
    }
    std::env::temp_dir().join("kiln-cache")
}

/// `rustc -vV` (identifies the compiler exactly).
fn rustc_version() -> Result<String> {
    let out = Command::new(rustc())
        .arg("-vV")
        .output()
        .map_err(|e| backend_err(format!("cannot run {}: {e}", rustc())))?;
    if !out.status.success() {
        return Err(backend_err(format!("{} -vV failed", rustc())));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A unique suffix for private directories: pid, time, counter.
pub(crate) fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{}-{t:x}-{n}", std::process::id())
}

/// The shim built for `target` (the host if `None`), from the cache or built into it.
pub fn cached_shim(target: Option<&str>) -> Result<ShimLibs> {
    static MEMO: OnceLock<Mutex<HashMap<Option<String>, ShimLibs>>> = OnceLock::new();
    let memo = MEMO.get_or_init(|| Mutex::new(HashMap::new()));
    // Holding the lock while building keeps threads of one process from building twice.
    let mut memo = memo.lock().unwrap_or_else(|e| e.into_inner());
    let key = target.map(str::to_string);
    if let Some(l) = memo.get(&key) {
        if l.complete() {
            return Ok(l.clone());
        }
    }
    let mut h = FNV_OFFSET;
    for (rel, text) in shim_sources() {
        h = fnv1a(rel.as_bytes(), h);
        h = fnv1a(&[0], h);
        h = fnv1a(text.as_bytes(), h);
        h = fnv1a(&[0], h);
    }
    h = fnv1a(SHIM_HEADER.as_bytes(), h);
    h = fnv1a(rustc_version()?.as_bytes(), h);
    h = fnv1a(target.unwrap_or("host").as_bytes(), h);
    h = fnv1a(b"kiln-shim-build-v1", h);
    let root = cache_root();
    let dir = root.join(format!("shim-{h:016x}"));
    let libs = ShimLibs::in_dir(&dir);
    if !libs.complete() {
        std::fs::create_dir_all(&root).map_err(|e| Error::io(&root, e))?;
        let tmp = root.join(format!("tmp-shim-{h:016x}-{}", unique_suffix()));
        let built = build_shim(target, &tmp);
        if let Err(e) = built {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
        if std::fs::rename(&tmp, &dir).is_err() {
            // Another process won the race (or a stale incomplete directory is in the way).
            let _ = std::fs::remove_dir_all(&tmp);
            if !libs.complete() {
                let _ = std::fs::remove_dir_all(&dir);
                let tmp = root.join(format!("tmp-shim-{h:016x}-{}", unique_suffix()));
                build_shim(target, &tmp)?;
                if std::fs::rename(&tmp, &dir).is_err() {
                    let _ = std::fs::remove_dir_all(&tmp);
                }
            }
        }
        if !libs.complete() {
            return Err(backend_err(format!(
                "shim cache {} is incomplete",
                dir.display()
            )));
        }
    }
    memo.insert(key, libs.clone());
    Ok(libs)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The embedded sources are every file of `runtime-shim/src` (a file left out fails
    /// only when `kiln shim` builds the library).
    #[test]
    fn shim_sources_are_the_whole_crate() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtime-shim/src");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".rs"))
            .collect();
        on_disk.sort();
        let mut embedded: Vec<String> = shim_sources().iter().map(|(n, _)| n.to_string()).collect();
        embedded.sort();
        assert_eq!(embedded, on_disk);
    }

    /// `kiln_parallel` is defined (guarded by `KILN_PARALLEL_TYPE`) in the shim's header,
    /// every model header and `.c`, and the bench pool, so each stands alone: the copies must
    /// be one text, or whichever is included first would win silently.
    #[test]
    fn parallel_typedef_is_one_text() {
        let t = crate::backend::c::PARALLEL_TYPEDEF;
        assert!(SHIM_HEADER.contains(t), "kiln_shim.h differs");
        assert!(crate::bench::POOL_H.contains(t), "bench/pool.h differs");
    }

    fn list(dir: &Path, rel: &str, out: &mut Vec<String>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .expect("read runtime-shim/src")
            .flatten()
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name().to_string_lossy().into_owned();
            let r = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            if e.path().is_dir() {
                list(&e.path(), &r, out);
            } else {
                out.push(r);
            }
        }
    }

    #[test]
    fn every_shim_source_is_embedded() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtime-shim/src");
        let mut on_disk = vec![];
        list(&src, "", &mut on_disk);
        let embedded = shim_sources();
        for f in &on_disk {
            let e = embedded.iter().find(|(r, _)| r == f);
            assert!(
                e.is_some(),
                "runtime-shim/src/{f} is not embedded in backend/shim.rs"
            );
            let disk = std::fs::read_to_string(src.join(f)).unwrap_or_default();
            assert_eq!(
                e.map(|x| x.1),
                Some(disk.as_str()),
                "stale embedding of {f}"
            );
        }
        for (r, _) in &embedded {
            assert!(
                on_disk.iter().any(|f| f == r),
                "embedded {r} is no longer in runtime-shim/src"
            );
        }
    }

    #[test]
    fn fnv_is_stable() {
        assert_eq!(fnv1a(b"", FNV_OFFSET), FNV_OFFSET);
        assert_eq!(fnv1a(b"a", FNV_OFFSET), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn truncates_at_char_boundary() {
        let s = "é".repeat(10);
        let t = truncate_output(&s, 3);
        assert!(t.starts_with('é') && t.contains("more bytes"));
    }

    #[test]
    fn builds_and_caches_the_shim() {
        if Command::new(rustc()).arg("-V").output().is_err() {
            eprintln!("note: rustc not found; skipping");
            return;
        }
        let a = cached_shim(None).expect("build shim");
        assert!(a.complete());
        let b = cached_shim(None).expect("cached shim");
        assert_eq!(a, b);
        let header = std::fs::read_to_string(&a.header).unwrap_or_default();
        assert!(header.contains("kiln_shim_expf"));
    }
}
