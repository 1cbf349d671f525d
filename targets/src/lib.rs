//! kiln-targets: what Kiln knows about the machines it compiles for.
//!
//! A [`Target`] is a target-lexicon triple plus the CPU features code may assume, the vector
//! width the lowering may use, the object format, and whether the Cranelift backend can emit
//! objects for it (targets it cannot serve are compiled through the C or Rust backends).
//!
//! Invariants:
//! - `features` is sorted, deduplicated and closed under implication (`avx2` brings `avx`,
//!   `sse4.2`, ...; `dotprod` brings `neon`), using rustc/LLVM feature names;
//! - `cranelift` is true only for triples Cranelift 0.135 handles without panicking: 64-bit
//!   little-endian x86_64 (ELF, Mach-O, COFF on Windows), aarch64 (ELF, Mach-O; not Windows),
//!   riscv64 with the G extensions (ELF) and s390x (ELF);
//! - everything is deterministic: no hash-map iteration, presets in a fixed order.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

pub use target_lexicon;
use target_lexicon::{
    Aarch64Architecture, Architecture, BinaryFormat, Endianness, OperatingSystem, PointerWidth,
    Riscv64Architecture, Triple,
};

/// The object file format of a target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ObjectFormat {
    Elf,
    MachO,
    Coff,
    /// No object format Kiln can write (e.g. wasm, unknown).
    None,
}

impl ObjectFormat {
    pub fn name(self) -> &'static str {
        match self {
            ObjectFormat::Elf => "elf",
            ObjectFormat::MachO => "macho",
            ObjectFormat::Coff => "coff",
            ObjectFormat::None => "none",
        }
    }
}

/// A compilation target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The preset name or the string given to [`Target::parse`] (with its feature suffix).
    pub name: String,
    pub triple: Triple,
    /// CPU features code may use (rustc/LLVM names: "sse4.2", "avx2", "fma", "avx512f",
    /// "neon", "dotprod", ...). Sorted, deduplicated, closed under implication.
    pub features: Vec<String>,
    /// Widest vector register the lowering may assume, in bits.
    pub vector_bits: u32,
    pub object_format: ObjectFormat,
    /// Whether the Cranelift backend can emit objects for this target.
    pub cranelift: bool,
}

/// x86_64 psABI feature levels (beyond the x86_64 baseline of sse, sse2, fxsr).
const X86_V2: &[&str] = &[
    "cmpxchg16b",
    "lahfsahf",
    "popcnt",
    "sse3",
    "sse4.1",
    "sse4.2",
    "ssse3",
];
const X86_V3: &[&str] = &[
    "avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "lzcnt", "movbe", "xsave",
];
const X86_V4: &[&str] = &["avx512bw", "avx512cd", "avx512dq", "avx512f", "avx512vl"];

/// Feature names accepted for x86_64 targets (rustc's list).
const X86_FEATURES: &[&str] = &[
    "adx",
    "aes",
    "avx",
    "avx2",
    "avx512bf16",
    "avx512bitalg",
    "avx512bw",
    "avx512cd",
    "avx512dq",
    "avx512f",
    "avx512fp16",
    "avx512ifma",
    "avx512vbmi",
    "avx512vbmi2",
    "avx512vl",
    "avx512vnni",
    "avx512vp2intersect",
    "avx512vpopcntdq",
    "avxifma",
    "avxneconvert",
    "avxvnni",
    "avxvnniint16",
    "avxvnniint8",
    "bmi1",
    "bmi2",
    "cmpxchg16b",
    "ermsb",
    "f16c",
    "fma",
    "fxsr",
    "gfni",
    "lahfsahf",
    "lzcnt",
    "movbe",
    "pclmulqdq",
    "popcnt",
    "prfchw",
    "rdrand",
    "rdseed",
    "rtm",
    "sha",
    "sha512",
    "sm3",
    "sm4",
    "sse",
    "sse2",
    "sse3",
    "sse4.1",
    "sse4.2",
    "sse4a",
    "ssse3",
    "tbm",
    "vaes",
    "vpclmulqdq",
    "x87",
    "xop",
    "xsave",
    "xsavec",
    "xsaveopt",
    "xsaves",
];

/// Feature names accepted for aarch64 targets (rustc's list).
const AARCH64_FEATURES: &[&str] = &[
    "aes",
    "bf16",
    "bti",
    "crc",
    "dit",
    "dotprod",
    "dpb",
    "dpb2",
    "f32mm",
    "f64mm",
    "fcma",
    "fhm",
    "flagm",
    "fp16",
    "frintts",
    "i8mm",
    "jsconv",
    "lor",
    "lse",
    "lse2",
    "mte",
    "neon",
    "paca",
    "pacg",
    "pan",
    "pmuv3",
    "rand",
    "ras",
    "rcpc",
    "rcpc2",
    "rcpc3",
    "rdm",
    "sb",
    "sha2",
    "sha3",
    "sm4",
    "spe",
    "ssbs",
    "sve",
    "sve2",
    "sve2-aes",
    "sve2-bitperm",
    "sve2-sha3",
    "sve2-sm4",
    "tme",
    "v8.1a",
    "v8.2a",
    "v8.3a",
    "v8.4a",
    "v8.5a",
    "v8.6a",
    "v8.7a",
    "vh",
];

/// `feature` implies each of these (applied transitively).
fn implied(feature: &str) -> &'static [&'static str] {
    match feature {
        // x86
        "sse3" => &["sse2"],
        "sse2" => &["sse"],
        "ssse3" => &["sse3"],
        "sse4.1" => &["ssse3"],
        "sse4.2" => &["sse4.1"],
        "avx" => &["sse4.2"],
        "avx2" | "fma" | "f16c" | "vaes" | "vpclmulqdq" | "avxvnni" | "avxifma" => &["avx"],
        "avx512f" => &["avx2", "fma", "f16c"],
        "avx512bw" | "avx512cd" | "avx512dq" | "avx512vl" | "avx512ifma" | "avx512vbmi"
        | "avx512vnni" | "avx512bitalg" | "avx512vpopcntdq" | "avx512bf16" | "avx512fp16"
        | "avx512vbmi2" | "avx512vp2intersect" => &["avx512f"],
        "aes" | "pclmulqdq" | "sha" => &["sse2"],
        // aarch64 (also harmless names elsewhere: only applied to aarch64 targets)
        _ => &[],
    }
}

fn implied_aarch64(feature: &str) -> &'static [&'static str] {
    match feature {
        "dotprod" | "fp16" | "i8mm" | "rdm" | "fhm" | "bf16" | "fcma" | "aes" | "sha2" | "sha3"
        | "sm4" | "f32mm" | "f64mm" | "jsconv" | "frintts" => &["neon"],
        "sve" => &["fp16"],
        "sve2" => &["sve"],
        "sve2-aes" | "sve2-bitperm" | "sve2-sha3" | "sve2-sm4" => &["sve2"],
        _ => &[],
    }
}

/// A preset: (name, triple, features).
const PRESETS: &[(&str, &str, &[&str])] = &[
    ("x86_64-v2", "x86_64-unknown-linux-gnu", &[]),
    ("x86_64-v3", "x86_64-unknown-linux-gnu", &[]),
    ("x86_64-v4", "x86_64-unknown-linux-gnu", &[]),
    ("x86_64-unknown-linux-gnu", "x86_64-unknown-linux-gnu", &[]),
    (
        "x86_64-apple-darwin",
        "x86_64-apple-darwin",
        &["cmpxchg16b", "sse3", "sse4.1", "ssse3"],
    ),
    ("x86_64-pc-windows-msvc", "x86_64-pc-windows-msvc", &[]),
    (
        "x86_64-linux-android",
        "x86_64-linux-android",
        // The Android x86_64 ABI requires SSE4.2 and POPCNT.
        &["popcnt", "sse3", "sse4.1", "sse4.2", "ssse3"],
    ),
    (
        "aarch64-unknown-linux-gnu",
        "aarch64-unknown-linux-gnu",
        &["neon"],
    ),
    // aarch64 feature levels (Linux): ARMv8.2-A with the dot product (Cortex-A55/A75/A76 and
    // later phones and boards), ARMv8.6-A adding the int8 matrix multiply (Cortex-A78C, X2,
    // Neoverse V1/N2). Any other combination: a triple plus `+dotprod,+fp16,+i8mm`.
    (
        "aarch64-v8.2-dotprod",
        "aarch64-unknown-linux-gnu",
        &["crc", "dotprod", "fp16", "lse", "neon", "rdm"],
    ),
    (
        "aarch64-v8.6-i8mm",
        "aarch64-unknown-linux-gnu",
        &[
            "bf16", "crc", "dotprod", "fp16", "i8mm", "lse", "neon", "rcpc", "rdm",
        ],
    ),
    ("aarch64-linux-android", "aarch64-linux-android", &["neon"]),
    (
        "aarch64-apple-darwin",
        "aarch64-apple-darwin",
        &[
            "aes", "crc", "dotprod", "fhm", "fp16", "lse", "neon", "rcpc", "rdm", "sha2", "sha3",
        ],
    ),
    (
        "aarch64-apple-ios",
        "aarch64-apple-ios",
        &["aes", "neon", "sha2"],
    ),
    (
        "aarch64-apple-ios-sim",
        "aarch64-apple-ios-sim",
        &["aes", "neon", "sha2"],
    ),
    (
        "riscv64gc-unknown-linux-gnu",
        "riscv64gc-unknown-linux-gnu",
        &["a", "c", "d", "f", "m"],
    ),
    ("s390x-unknown-linux-gnu", "s390x-unknown-linux-gnu", &[]),
    (
        "armv7-unknown-linux-gnueabihf",
        "armv7-unknown-linux-gnueabihf",
        &[],
    ),
    ("armv7-linux-androideabi", "armv7-linux-androideabi", &[]),
    ("thumbv6m-none-eabi", "thumbv6m-none-eabi", &[]),
    ("thumbv7em-none-eabihf", "thumbv7em-none-eabihf", &[]),
    (
        "thumbv8m.main-none-eabihf",
        "thumbv8m.main-none-eabihf",
        &[],
    ),
    ("i686-unknown-linux-gnu", "i686-unknown-linux-gnu", &[]),
    (
        "riscv32imac-unknown-none-elf",
        "riscv32imac-unknown-none-elf",
        &[],
    ),
    ("wasm32-unknown-unknown", "wasm32-unknown-unknown", &[]),
    ("aarch64-pc-windows-msvc", "aarch64-pc-windows-msvc", &[]),
];

/// Features of the x86_64 psABI level presets.
fn preset_levels(name: &str) -> Vec<&'static str> {
    match name {
        "x86_64-v2" => X86_V2.to_vec(),
        "x86_64-v3" => [X86_V2, X86_V3].concat(),
        "x86_64-v4" => [X86_V2, X86_V3, X86_V4].concat(),
        _ => vec![],
    }
}

fn preset_features(name: &str, listed: &[&'static str]) -> Vec<&'static str> {
    let mut f = preset_levels(name);
    f.extend_from_slice(listed);
    f
}

/// Features a bare triple implies (when it is not a preset).
fn default_features(t: &Triple) -> Vec<String> {
    // A triple that is also a preset's triple gets that preset's features.
    for (name, triple, feats) in PRESETS {
        if name == triple && Triple::from_str(triple).ok().as_ref() == Some(t) {
            return preset_features(name, feats)
                .into_iter()
                .map(String::from)
                .collect();
        }
    }
    match t.architecture {
        Architecture::Aarch64(_) => vec!["neon".into()],
        Architecture::Riscv64(Riscv64Architecture::Riscv64gc)
        | Architecture::Riscv64(Riscv64Architecture::Riscv64a23) => ["a", "c", "d", "f", "m"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        Architecture::Riscv64(Riscv64Architecture::Riscv64) if riscv_hosted(t) => {
            ["a", "c", "d", "f", "m"]
                .iter()
                .map(|s| s.to_string())
                .collect()
        }
        _ => vec![],
    }
}

/// A plain `riscv64` triple on a hosted OS means RV64GC (the Linux/BSD ABI requires it).
fn riscv_hosted(t: &Triple) -> bool {
    matches!(
        t.operating_system,
        OperatingSystem::Linux
            | OperatingSystem::Freebsd
            | OperatingSystem::Openbsd
            | OperatingSystem::Netbsd
    )
}

/// Sorted, deduplicated, closed under implication.
fn close_features(arch: Architecture, feats: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut set: BTreeSet<String> = BTreeSet::new();
    let mut work: Vec<String> = feats.into_iter().collect();
    while let Some(f) = work.pop() {
        let imp = match arch {
            Architecture::X86_64 | Architecture::X86_64h | Architecture::X86_32(_) => implied(&f),
            Architecture::Aarch64(_) => implied_aarch64(&f),
            _ => &[],
        };
        for i in imp {
            if !set.contains(*i) {
                work.push(i.to_string());
            }
        }
        set.insert(f);
    }
    // The x86_64 baseline is implicit.
    if matches!(arch, Architecture::X86_64) {
        for b in ["fxsr", "sse", "sse2"] {
            set.remove(b);
        }
    }
    set.into_iter().collect()
}

/// Features that must be removed when `f` is removed (the reverse implication closure).
fn dependents(arch: Architecture, f: &str, all: &[String]) -> Vec<String> {
    let mut out = vec![f.to_string()];
    let mut changed = true;
    while changed {
        changed = false;
        for g in all {
            if out.contains(g) {
                continue;
            }
            let imp = match arch {
                Architecture::X86_64 | Architecture::X86_64h | Architecture::X86_32(_) => {
                    implied(g)
                }
                Architecture::Aarch64(_) => implied_aarch64(g),
                _ => &[],
            };
            if imp.iter().any(|i| out.iter().any(|o| o == i)) {
                out.push(g.clone());
                changed = true;
            }
        }
    }
    out
}

fn check_feature_name(arch: Architecture, f: &str) -> Result<(), String> {
    let known: Option<&[&str]> = match arch {
        Architecture::X86_64 | Architecture::X86_64h => Some(X86_FEATURES),
        Architecture::Aarch64(_) => Some(AARCH64_FEATURES),
        _ => None,
    };
    if f.is_empty()
        || !f
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
    {
        return Err(format!("invalid target feature name {f:?}"));
    }
    if let Some(k) = known {
        if !k.contains(&f) {
            return Err(format!(
                "unknown target feature {f:?} for {arch}; known: {}",
                k.join(", ")
            ));
        }
    }
    Ok(())
}

/// Whether Cranelift 0.135 can emit an object for `t` (without panicking). `Target::cranelift`
/// is this, computed once; backends re-check it before handing a triple to Cranelift.
pub fn cranelift_supports(t: &Triple) -> bool {
    if t.pointer_width() != Ok(PointerWidth::U64) || t.endianness().is_err() {
        return false;
    }
    let fmt = t.binary_format;
    // UEFI images are PE with the Microsoft calling convention, which the triple does not
    // give Cranelift: leave them to the C backend.
    if t.operating_system == OperatingSystem::Uefi {
        return false;
    }
    match t.architecture {
        Architecture::X86_64 => match fmt {
            BinaryFormat::Elf | BinaryFormat::Macho => {
                !matches!(t.operating_system, OperatingSystem::Windows)
            }
            // COFF: only where the calling convention is Windows x64 (UEFI would be
            // miscompiled with System V).
            BinaryFormat::Coff => matches!(t.operating_system, OperatingSystem::Windows),
            _ => false,
        },
        Architecture::Aarch64(Aarch64Architecture::Aarch64) => {
            !matches!(t.operating_system, OperatingSystem::Windows)
                && matches!(fmt, BinaryFormat::Elf | BinaryFormat::Macho)
        }
        Architecture::Riscv64(r) => {
            fmt == BinaryFormat::Elf
                && match r {
                    Riscv64Architecture::Riscv64gc | Riscv64Architecture::Riscv64a23 => true,
                    Riscv64Architecture::Riscv64 => riscv_hosted(t),
                    _ => false,
                }
        }
        Architecture::S390x => fmt == BinaryFormat::Elf && t.endianness() == Ok(Endianness::Big),
        _ => false,
    }
}

fn object_format(t: &Triple) -> ObjectFormat {
    match t.binary_format {
        BinaryFormat::Elf => ObjectFormat::Elf,
        BinaryFormat::Macho => ObjectFormat::MachO,
        BinaryFormat::Coff => ObjectFormat::Coff,
        _ => ObjectFormat::None,
    }
}

impl Target {
    /// A target from a triple and features (closed and sorted here).
    pub fn from_triple(name: impl Into<String>, triple: Triple, features: Vec<String>) -> Target {
        let features = close_features(triple.architecture, features);
        Target {
            name: name.into(),
            object_format: object_format(&triple),
            cranelift: cranelift_supports(&triple),
            vector_bits: 128,
            features,
            triple,
        }
    }

    /// The machine Kiln runs on, with the CPU features detected at run time.
    pub fn host() -> Target {
        Target::from_triple("host", target_lexicon::HOST, host_features())
    }

    /// "host", a preset name, or a triple, optionally followed by `+feat,+feat,-feat`.
    pub fn parse(s: &str) -> Result<Target, String> {
        let s = s.trim();
        let (base, spec) = match s.find('+') {
            Some(i) => (&s[..i], Some(&s[i..])),
            None => (s, None),
        };
        if base.is_empty() {
            return Err(format!(
                "invalid target {s:?}: missing triple or preset name"
            ));
        }
        let mut t = if base == "host" {
            Target::host()
        } else if let Some((name, triple, feats)) = PRESETS.iter().find(|p| p.0 == base) {
            let triple = Triple::from_str(triple).map_err(|e| format!("preset {name}: {e}"))?;
            let f = preset_features(name, feats)
                .into_iter()
                .map(String::from)
                .collect();
            Target::from_triple(*name, triple, f)
        } else {
            let triple = Triple::from_str(base).map_err(|e| {
                format!(
                    "unknown target {base:?} ({e}); use \"host\", a preset ({}) or a target triple",
                    PRESETS.iter().map(|p| p.0).collect::<Vec<_>>().join(", ")
                )
            })?;
            if triple.architecture == Architecture::Unknown {
                return Err(format!("unknown architecture in target {base:?}"));
            }
            let f = default_features(&triple);
            Target::from_triple(base, triple, f)
        };
        if let Some(spec) = spec {
            let arch = t.triple.architecture;
            let mut feats = t.features.clone();
            for item in spec.split(',') {
                let item = item.trim();
                let (add, name) = if let Some(n) = item.strip_prefix('+') {
                    (true, n)
                } else if let Some(n) = item.strip_prefix('-') {
                    (false, n)
                } else {
                    return Err(format!(
                        "invalid feature {item:?} in target {s:?}: write +feature or -feature"
                    ));
                };
                check_feature_name(arch, name)?;
                if add {
                    feats.push(name.to_string());
                    feats = close_features(arch, feats);
                } else {
                    let gone = dependents(arch, name, &feats);
                    feats.retain(|f| !gone.contains(f));
                }
            }
            t = Target::from_triple(s, t.triple, feats);
        }
        Ok(t)
    }

    /// What `kiln compile --emit` can produce for this target: `object` only where Cranelift
    /// can generate code; C and Rust source everywhere.
    pub fn emits(&self) -> &'static [&'static str] {
        if self.cranelift && self.object_format != ObjectFormat::None {
            &["object", "c", "rust"]
        } else {
            &["c", "rust"]
        }
    }

    pub fn has_feature(&self, f: &str) -> bool {
        self.features.iter().any(|x| x == f)
    }

    /// Whether this target's triple is the machine Kiln runs on.
    pub fn is_host_triple(&self) -> bool {
        self.triple == target_lexicon::HOST
    }

    /// One-line description for `kiln targets`.
    pub fn describe(&self) -> String {
        format!(
            "{:<28} {:<32} {:<6} emits={:<15} features={}",
            self.name,
            self.triple.to_string(),
            self.object_format.name(),
            self.emits().join(","),
            if self.features.is_empty() {
                "-".to_string()
            } else {
                self.features.join(",")
            }
        )
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl FromStr for Target {
    type Err = String;
    fn from_str(s: &str) -> Result<Target, String> {
        Target::parse(s)
    }
}

/// Every preset, in a fixed order (for `kiln targets`).
pub fn presets() -> Vec<Target> {
    PRESETS
        .iter()
        .map(|(name, triple, feats)| {
            let triple = Triple::from_str(triple).expect("preset triples parse");
            let f = preset_features(name, feats)
                .into_iter()
                .map(String::from)
                .collect();
            Target::from_triple(*name, triple, f)
        })
        .collect()
}

#[cfg(target_arch = "x86_64")]
fn host_features() -> Vec<String> {
    let mut f: Vec<&str> = vec![];
    macro_rules! detect {
        ($($name:tt),* $(,)?) => {
            $( if std::is_x86_feature_detected!($name) { f.push($name); } )*
        };
    }
    detect!(
        "sse3",
        "ssse3",
        "sse4.1",
        "sse4.2",
        "popcnt",
        "cmpxchg16b",
        "avx",
        "avx2",
        "fma",
        "f16c",
        "bmi1",
        "bmi2",
        "lzcnt",
        "movbe",
        "xsave",
        "aes",
        "pclmulqdq",
        "avx512f",
        "avx512bw",
        "avx512cd",
        "avx512dq",
        "avx512vl",
        "avx512vbmi",
        "avx512vnni",
        "avx512bitalg",
        "avxvnni",
    );
    // LAHF/SAHF in 64-bit mode (part of x86-64-v2), which std does not detect: CPUID leaf
    // 0x8000_0001, ECX bit 0, where the extended leaves reach that far.
    use std::arch::x86_64::__cpuid;
    if __cpuid(0x8000_0000).eax >= 0x8000_0001 && __cpuid(0x8000_0001).ecx & 1 != 0 {
        f.push("lahfsahf");
    }
    f.into_iter().map(String::from).collect()
}

#[cfg(target_arch = "aarch64")]
fn host_features() -> Vec<String> {
    let mut f: Vec<&str> = vec![];
    macro_rules! detect {
        ($($name:tt),* $(,)?) => {
            $( if std::arch::is_aarch64_feature_detected!($name) { f.push($name); } )*
        };
    }
    detect!(
        "neon", "aes", "sha2", "sha3", "crc", "lse", "rdm", "rcpc", "dotprod", "fp16", "fhm",
        "i8mm", "bf16", "sve", "sve2", "paca", "bti",
    );
    f.into_iter().map(String::from).collect()
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn host_features() -> Vec<String> {
    default_features(&target_lexicon::HOST)
}

#[cfg(test)]
mod tests;
