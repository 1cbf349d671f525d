//! The one place that turns a `kiln_targets::Target` into a Cranelift `TargetIsa`: shared
//! flags (opt level, verifier, PIC) and per-architecture feature flags.
//!
//! Invariants:
//! - never hands Cranelift a triple it would panic on: targets are re-checked with
//!   `kiln_targets::cranelift_supports` first and refused with `Error::Backend`;
//! - the ISA's pointer type is 64-bit (the kernels' address arithmetic assumes it);
//! - objects are PIC on ELF and Mach-O; the JIT ISA is never PIC and uses no colocated
//!   libcalls (cranelift-jit requires both);
//! - features are only ever enabled, in the target's (sorted) order, so the ISA, and hence the
//!   emitted code, depends only on the `Target`.

use std::sync::Arc;

use cranelift_codegen::ir::types;
use cranelift_codegen::isa::{self, TargetIsa};
use cranelift_codegen::settings::{self, Configurable};
use kiln_targets::{ObjectFormat, Target};
use target_lexicon::Architecture;

use crate::error::Error;

fn err(msg: impl Into<String>) -> Error {
    Error::Backend {
        backend: "cranelift",
        msg: msg.into(),
    }
}

/// What the ISA is for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum IsaUse {
    /// Relocatable object files (cranelift-object).
    Object,
    /// In-process code (cranelift-jit).
    Jit,
}

/// The ISA for emitting object files for `t`.
pub fn isa_for(t: &Target) -> Result<Arc<dyn TargetIsa>, Error> {
    build(t, IsaUse::Object)
}

/// The ISA for JIT-compiling on `t` (normally `Target::host()`).
pub(crate) fn isa_for_jit(t: &Target) -> Result<Arc<dyn TargetIsa>, Error> {
    build(t, IsaUse::Jit)
}

/// Cranelift ISA flag names for the target's features (unknown features are ignored: they
/// matter to the C/Rust backends, not to Cranelift).
fn isa_flags(t: &Target) -> Vec<&'static str> {
    let mut out = vec![];
    for f in &t.features {
        let flags: &[&'static str] = match (t.triple.architecture, f.as_str()) {
            (Architecture::X86_64, f) => match f {
                "sse3" => &["has_sse3"],
                "ssse3" => &["has_ssse3"],
                "cmpxchg16b" => &["has_cmpxchg16b"],
                "sse4.1" => &["has_sse41"],
                "sse4.2" => &["has_sse42"],
                "popcnt" => &["has_popcnt"],
                "avx" => &["has_avx"],
                "avx2" => &["has_avx2"],
                "fma" => &["has_fma"],
                "bmi1" => &["has_bmi1"],
                "bmi2" => &["has_bmi2"],
                "lzcnt" => &["has_lzcnt"],
                "avxvnni" => &["has_avx_vnni"],
                "avx512f" => &["has_avx512f"],
                "avx512dq" => &["has_avx512dq"],
                "avx512vl" => &["has_avx512vl"],
                "avx512vbmi" => &["has_avx512vbmi"],
                "avx512bitalg" => &["has_avx512bitalg"],
                "avx512vnni" => &["has_avx512vnni"],
                _ => &[],
            },
            (Architecture::Aarch64(_), f) => match f {
                "lse" => &["has_lse"],
                "fp16" => &["has_fp16"],
                "dotprod" => &["has_dotprod"],
                "i8mm" => &["has_i8mm"],
                "paca" => &["has_pauth"],
                _ => &[],
            },
            (Architecture::Riscv64(_), f) => match f {
                // M, A, F, D are on by default in Cranelift (targets without them are refused).
                "c" => &["has_zca", "has_zcd"],
                "zca" => &["has_zca"],
                "zcd" => &["has_zcd"],
                "zcb" => &["has_zcb"],
                "zba" => &["has_zba"],
                "zbb" => &["has_zbb"],
                "zbc" => &["has_zbc"],
                "zbs" => &["has_zbs"],
                "zbkb" => &["has_zbkb"],
                "zicond" => &["has_zicond"],
                "zfa" => &["has_zfa"],
                "zfhmin" => &["has_zfhmin"],
                "zfh" => &["has_zfh"],
                // "v" is deliberately not passed on: kernels are scalar, and Cranelift panics
                // on vectors wider than the declared VLEN.
                _ => &[],
            },
            (Architecture::S390x, f) => match f {
                "miscellaneous-extensions-3" => &["has_mie3"],
                "miscellaneous-extensions-4" => &["has_mie4"],
                "vector-enhancements-2" => &["has_vxrs_ext2"],
                "vector-enhancements-3" => &["has_vxrs_ext3"],
                _ => &[],
            },
            _ => &[],
        };
        out.extend_from_slice(flags);
    }
    out
}

fn build(t: &Target, usage: IsaUse) -> Result<Arc<dyn TargetIsa>, Error> {
    if !t.cranelift || !kiln_targets::cranelift_supports(&t.triple) {
        return Err(err(format!(
            "cannot generate code for target {} ({}) with Cranelift; use --emit c or --emit rust",
            t.name, t.triple
        )));
    }
    let mut shared = settings::builder();
    let set = |b: &mut settings::Builder, k: &str, v: &str| {
        b.set(k, v)
            .map_err(|e| err(format!("setting {k}={v}: {e}")))
    };
    set(&mut shared, "opt_level", "speed")?;
    set(
        &mut shared,
        "enable_verifier",
        if cfg!(debug_assertions) {
            "true"
        } else {
            "false"
        },
    )?;
    let pic = match usage {
        IsaUse::Jit => false,
        IsaUse::Object => matches!(t.object_format, ObjectFormat::Elf | ObjectFormat::MachO),
    };
    set(&mut shared, "is_pic", if pic { "true" } else { "false" })?;
    if usage == IsaUse::Jit {
        set(&mut shared, "use_colocated_libcalls", "false")?;
    }
    // Apple's arm64 ABI requires a valid frame pointer chain.
    if t.triple.operating_system.is_like_darwin() {
        set(&mut shared, "preserve_frame_pointers", "true")?;
    }
    let mut builder =
        isa::lookup(t.triple.clone()).map_err(|e| err(format!("target {}: {e}", t.triple)))?;
    for flag in isa_flags(t) {
        builder
            .enable(flag)
            .map_err(|e| err(format!("target {}: ISA flag {flag}: {e}", t.triple)))?;
    }
    let isa = builder
        .finish(settings::Flags::new(shared))
        .map_err(|e| err(format!("target {}: {e}", t.triple)))?;
    if isa.pointer_type() != types::I64 {
        return Err(err(format!(
            "target {}: only 64-bit targets are supported by the Cranelift backend",
            t.triple
        )));
    }
    Ok(isa)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flag(isa: &dyn TargetIsa, name: &str) -> Option<bool> {
        isa.isa_flags()
            .iter()
            .find(|v| v.name == name)
            .and_then(|v| v.as_bool())
    }

    #[test]
    fn x86_levels() {
        let v3 = isa_for(&Target::parse("x86_64-v3").unwrap()).unwrap();
        assert_eq!(flag(&*v3, "has_fma"), Some(true));
        assert_eq!(flag(&*v3, "has_avx2"), Some(true));
        assert_eq!(flag(&*v3, "has_avx512f"), Some(false));
        assert!(v3.flags().is_pic());
        let v2 = isa_for(&Target::parse("x86_64-v2").unwrap()).unwrap();
        assert_eq!(flag(&*v2, "has_sse42"), Some(true));
        assert_eq!(flag(&*v2, "has_fma"), Some(false));
        let v4 = isa_for(&Target::parse("x86_64-v4").unwrap()).unwrap();
        assert_eq!(flag(&*v4, "has_avx512vl"), Some(true));
        let win = isa_for(&Target::parse("x86_64-pc-windows-msvc").unwrap()).unwrap();
        assert!(!win.flags().is_pic());
    }

    #[test]
    fn other_arches() {
        let a = isa_for(&Target::parse("aarch64-unknown-linux-gnu+dotprod,+lse").unwrap()).unwrap();
        assert_eq!(flag(&*a, "has_dotprod"), Some(true));
        assert_eq!(flag(&*a, "has_lse"), Some(true));
        let r = isa_for(&Target::parse("riscv64gc-unknown-linux-gnu").unwrap()).unwrap();
        assert_eq!(flag(&*r, "has_zca"), Some(true));
        assert_eq!(flag(&*r, "has_v"), Some(false));
        isa_for(&Target::parse("s390x-unknown-linux-gnu").unwrap()).unwrap();
        isa_for(&Target::parse("aarch64-apple-ios").unwrap()).unwrap();
    }

    #[test]
    fn unsupported_targets_are_errors() {
        for s in [
            "armv7-unknown-linux-gnueabihf",
            "thumbv7em-none-eabihf",
            "i686-unknown-linux-gnu",
            "riscv32imac-unknown-none-elf",
            "wasm32-unknown-unknown",
            "aarch64-pc-windows-msvc",
            "aarch64_be-unknown-linux-gnu",
            "powerpc64le-unknown-linux-gnu",
        ] {
            let t = Target::parse(s).unwrap();
            let e = isa_for(&t).err().unwrap_or_else(|| panic!("{s} accepted"));
            assert!(e.to_string().contains("--emit c"), "{e}");
        }
        // A hand-made Target claiming support is re-checked.
        let mut t = Target::parse("aarch64-pc-windows-msvc").unwrap();
        t.cranelift = true;
        assert!(isa_for(&t).is_err());
    }

    #[test]
    fn jit_isa_is_not_pic() {
        let h = Target::host();
        if h.cranelift {
            let isa = isa_for_jit(&h).unwrap();
            assert!(!isa.flags().is_pic());
        }
    }
}
