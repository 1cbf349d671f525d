//! Relocatable object files (`--emit obj`) through cranelift-object: ELF, Mach-O or COFF as
//! the target triple says.
//!
//! Invariants:
//! - targets Cranelift cannot serve are refused with an error pointing at `--emit c` /
//!   `--emit rust`, before any Cranelift code runs (Cranelift panics on some triples);
//! - the output depends only on the program and the target: byte-identical across runs;
//! - Mach-O objects carry an `LC_BUILD_VERSION` (cranelift-object derives it from the
//!   triple); when the triple names no OS version, rustc's default minimum is used, so
//!   linkers do not warn about a 0.0 deployment target;
//! - objects carry no unwind tables: cranelift-object 0.135 writes ELF `.eh_frame` with
//!   absolute addresses, which makes a PIE link emit text relocations (DT_TEXTREL, refused by
//!   Android's loader), and cannot write them for COFF or Mach-O. Generated code never unwinds
//!   (it calls only the shim, which never panics).

use cranelift_module::default_libcall_names;
use cranelift_object::{ObjectBuilder, ObjectModule};
use kiln_targets::{ObjectFormat, Target};
use target_lexicon::{
    Aarch64Architecture, Architecture, DeploymentTarget, Environment, OperatingSystem,
};

use super::{define_program, err, isa::isa_for, module_err};
use crate::error::Error;
use crate::kir::Program;

/// rustc's default minimum OS version for an Apple triple without one.
fn default_apple_version(t: &target_lexicon::Triple) -> Option<DeploymentTarget> {
    let v = |major, minor| {
        Some(DeploymentTarget {
            major,
            minor,
            patch: 0,
        })
    };
    let arm = matches!(
        t.architecture,
        Architecture::Aarch64(Aarch64Architecture::Aarch64)
    );
    match (t.operating_system, t.environment) {
        (OperatingSystem::Darwin(None) | OperatingSystem::MacOSX(None), _) => {
            if arm {
                v(11, 0)
            } else {
                v(10, 12)
            }
        }
        (OperatingSystem::IOS(None), Environment::Macabi) => v(14, 0),
        (OperatingSystem::IOS(None), Environment::Sim) if arm => v(14, 0),
        (OperatingSystem::IOS(None), _) => v(10, 0),
        (OperatingSystem::TvOS(None), _) => v(10, 0),
        (OperatingSystem::WatchOS(None), _) => v(5, 0),
        (OperatingSystem::VisionOS(None) | OperatingSystem::XROS(None), _) => v(1, 0),
        _ => None,
    }
}

/// `t` with the default Apple deployment target filled in, if it has none (and x86_64 iOS
/// marked as the simulator, which it always is, so the platform is right).
fn with_apple_version(t: &Target) -> Target {
    let mut t = t.clone();
    if t.triple.architecture == Architecture::X86_64
        && matches!(t.triple.operating_system, OperatingSystem::IOS(_))
        && t.triple.environment != Environment::Macabi
    {
        t.triple.environment = Environment::Sim;
    }
    if let Some(v) = default_apple_version(&t.triple) {
        t.triple.operating_system = match t.triple.operating_system {
            OperatingSystem::Darwin(_) => OperatingSystem::Darwin(Some(v)),
            OperatingSystem::MacOSX(_) => OperatingSystem::MacOSX(Some(v)),
            OperatingSystem::IOS(_) => OperatingSystem::IOS(Some(v)),
            OperatingSystem::TvOS(_) => OperatingSystem::TvOS(Some(v)),
            OperatingSystem::WatchOS(_) => OperatingSystem::WatchOS(Some(v)),
            OperatingSystem::VisionOS(_) => OperatingSystem::VisionOS(Some(v)),
            OperatingSystem::XROS(_) => OperatingSystem::XROS(Some(v)),
            os => os,
        };
    }
    t
}

/// Compile `p` into a relocatable object for `target`.
pub fn emit_object(p: &Program, target: &Target) -> Result<Vec<u8>, Error> {
    if !target.cranelift || target.object_format == ObjectFormat::None {
        return Err(err(format!(
            "target {} ({}) is not supported by the Cranelift backend; use --emit c or --emit rust",
            target.name, target.triple
        )));
    }
    let t = with_apple_version(target);
    let isa = isa_for(&t)?;
    let mut ob = ObjectBuilder::new(isa, format!("{}.o", p.name), default_libcall_names())
        .map_err(|e| module_err(&format!("object for {}", target.triple), e))?;
    ob.unwind_info(false);
    let mut m = ObjectModule::new(ob);
    define_program(&mut m, p)?;
    m.finish()
        .emit()
        .map_err(|e| err(format!("writing the object for {}: {e}", target.triple)))
}
