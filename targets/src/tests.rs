//! Unit tests of kiln-targets: parsing, presets, features, Cranelift support.

use super::*;

#[test]
fn presets_parse_and_are_stable() {
    let a = presets();
    let b = presets();
    assert_eq!(a, b);
    assert!(a.len() >= 15);
    for p in &a {
        let q = Target::parse(&p.name).unwrap();
        assert_eq!(&q, p, "{}", p.name);
        let mut sorted = p.features.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, p.features);
        assert_eq!(p.vector_bits, 128);
    }
}

#[test]
fn psabi_levels() {
    let v2 = Target::parse("x86_64-v2").unwrap();
    let v3 = Target::parse("x86_64-v3").unwrap();
    let v4 = Target::parse("x86_64-v4").unwrap();
    for t in [&v2, &v3, &v4] {
        assert_eq!(t.triple.to_string(), "x86_64-unknown-linux-gnu");
        assert!(t.cranelift);
        assert_eq!(t.object_format, ObjectFormat::Elf);
        assert!(t.has_feature("sse4.2") && t.has_feature("popcnt"));
    }
    assert!(!v2.has_feature("avx"));
    assert!(v3.has_feature("avx2") && v3.has_feature("fma") && v3.has_feature("bmi2"));
    assert!(!v3.has_feature("avx512f"));
    assert!(v4.has_feature("avx512f") && v4.has_feature("avx512vl"));
    assert_eq!(v2.name, "x86_64-v2");
}

#[test]
fn feature_suffix() {
    let t = Target::parse("aarch64-unknown-linux-gnu+dotprod,+fp16").unwrap();
    assert_eq!(t.name, "aarch64-unknown-linux-gnu+dotprod,+fp16");
    assert_eq!(t.features, vec!["dotprod", "fp16", "neon"]);
    assert!(t.cranelift);
    let t = Target::parse("x86_64-v3+avx512f").unwrap();
    assert!(t.has_feature("avx512f") && t.has_feature("avx2"));
    assert!(Target::parse("x86_64-v3,-avx").is_err());
    let t = Target::parse("x86_64-v3+fma,-avx").unwrap();
    assert!(!t.has_feature("avx") && !t.has_feature("avx2") && !t.has_feature("fma"));
    assert!(t.has_feature("sse4.2"));
    let t = Target::parse("x86_64-unknown-linux-gnu+avx2").unwrap();
    assert!(t.has_feature("avx") && t.has_feature("sse4.1") && t.has_feature("ssse3"));
    assert!(!t.has_feature("sse2"), "baseline is implicit");
    assert!(Target::parse("x86_64-v3+avx9000").is_err());
    assert!(Target::parse("aarch64-apple-darwin+bogus").is_err());
    assert!(Target::parse("x86_64-v3+").is_err());
    assert!(Target::parse("x86_64-v3+avx2,fma").is_err());
    // Unvalidated architectures accept any well-formed name.
    assert!(Target::parse("riscv64gc-unknown-linux-gnu+zba,+zbb").is_ok());
}

#[test]
fn cranelift_support() {
    let yes = [
        "x86_64-unknown-linux-gnu",
        "x86_64-apple-darwin",
        "x86_64-pc-windows-msvc",
        "x86_64-pc-windows-gnu",
        "aarch64-unknown-linux-gnu",
        "aarch64-linux-android",
        "aarch64-apple-darwin",
        "aarch64-apple-ios",
        "aarch64-apple-ios-sim",
        "riscv64gc-unknown-linux-gnu",
        "s390x-unknown-linux-gnu",
        "x86_64-unknown-freebsd",
        "x86_64-v4",
    ];
    for s in yes {
        assert!(Target::parse(s).unwrap().cranelift, "{s}");
    }
    let no = [
        "armv7-unknown-linux-gnueabihf",
        "thumbv7em-none-eabihf",
        "thumbv6m-none-eabi",
        "i686-unknown-linux-gnu",
        "i586-unknown-linux-gnu",
        "riscv32imac-unknown-none-elf",
        "riscv64imac-unknown-none-elf",
        "wasm32-unknown-unknown",
        "aarch64-pc-windows-msvc",
        "aarch64_be-unknown-linux-gnu",
        "powerpc64le-unknown-linux-gnu",
        "mips64-unknown-linux-gnuabi64",
        "x86_64-unknown-uefi",
        "x86_64h-apple-darwin",
    ];
    for s in no {
        let t = Target::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert!(!t.cranelift, "{s}");
    }
}

#[test]
fn object_formats() {
    let f = |s: &str| Target::parse(s).unwrap().object_format;
    assert_eq!(f("x86_64-unknown-linux-gnu"), ObjectFormat::Elf);
    assert_eq!(f("aarch64-apple-ios"), ObjectFormat::MachO);
    assert_eq!(f("aarch64-apple-darwin"), ObjectFormat::MachO);
    assert_eq!(f("x86_64-pc-windows-msvc"), ObjectFormat::Coff);
    assert_eq!(f("wasm32-unknown-unknown"), ObjectFormat::None);
    assert_eq!(f("thumbv7em-none-eabihf"), ObjectFormat::Elf);
}

#[test]
fn default_features_of_triples() {
    let t = Target::parse("aarch64-unknown-linux-musl").unwrap();
    assert_eq!(t.features, vec!["neon"]);
    let t = Target::parse("riscv64gc-unknown-linux-musl").unwrap();
    assert_eq!(t.features, vec!["a", "c", "d", "f", "m"]);
    // A preset's triple given as a triple gets the preset's features.
    let t = Target::parse("aarch64-apple-darwin").unwrap();
    assert!(t.has_feature("dotprod"));
}

#[test]
fn errors() {
    assert!(Target::parse("").is_err());
    assert!(Target::parse("not-a-triple-at-all-x").is_err());
    assert!(Target::parse("+avx").is_err());
}

#[test]
fn host() {
    let h = Target::host();
    assert_eq!(h.name, "host");
    assert_eq!(h.triple, target_lexicon::HOST);
    let p = Target::parse("host").unwrap();
    assert_eq!(p, h);
    assert!(h.is_host_triple());
    #[cfg(target_arch = "x86_64")]
    assert_eq!(
        h.has_feature("sse4.2"),
        std::is_x86_feature_detected!("sse4.2")
    );
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    assert!(h.cranelift);
}

/// The triples of issue 5: every one is a preset, and what it emits follows Cranelift support.
#[test]
fn issue_triples_are_presets_with_emits() {
    let object = [
        "x86_64-unknown-linux-gnu",
        "x86_64-apple-darwin",
        "x86_64-pc-windows-msvc",
        "x86_64-linux-android",
        "aarch64-unknown-linux-gnu",
        "aarch64-linux-android",
        "aarch64-apple-ios",
        "aarch64-apple-ios-sim",
        "aarch64-apple-darwin",
        "riscv64gc-unknown-linux-gnu",
        "s390x-unknown-linux-gnu",
        "x86_64-v2",
        "x86_64-v3",
        "x86_64-v4",
        "aarch64-v8.2-dotprod",
        "aarch64-v8.6-i8mm",
    ];
    let source_only = [
        "armv7-unknown-linux-gnueabihf",
        "armv7-linux-androideabi",
        "thumbv6m-none-eabi",
        "thumbv7em-none-eabihf",
        "thumbv8m.main-none-eabihf",
        "i686-unknown-linux-gnu",
        "riscv32imac-unknown-none-elf",
        "wasm32-unknown-unknown",
        "aarch64-pc-windows-msvc",
    ];
    let all = presets();
    for s in object.iter().chain(&source_only) {
        assert!(all.iter().any(|p| p.name == *s), "{s} is not a preset");
    }
    for s in object {
        let t = Target::parse(s).unwrap();
        assert_eq!(t.emits(), &["object", "c", "rust"], "{s}");
        assert!(t.cranelift && t.object_format != ObjectFormat::None, "{s}");
    }
    for s in source_only {
        let t = Target::parse(s).unwrap();
        assert_eq!(t.emits(), &["c", "rust"], "{s}");
        assert!(!t.cranelift, "{s}");
    }
    for p in &all {
        assert!(p.describe().contains(&p.emits().join(",")), "{}", p.name);
    }
}

#[test]
fn aarch64_levels() {
    let a = Target::parse("aarch64-v8.2-dotprod").unwrap();
    assert_eq!(a.triple.to_string(), "aarch64-unknown-linux-gnu");
    assert!(a.has_feature("dotprod") && a.has_feature("fp16") && !a.has_feature("i8mm"));
    let b = Target::parse("aarch64-v8.6-i8mm").unwrap();
    assert!(b.has_feature("i8mm") && b.has_feature("dotprod") && b.has_feature("bf16"));
    let c = Target::parse("aarch64-linux-android+dotprod,+fp16,+i8mm").unwrap();
    assert_eq!(c.features, vec!["dotprod", "fp16", "i8mm", "neon"]);
    let x = Target::parse("x86_64-linux-android").unwrap();
    assert!(x.has_feature("sse4.2") && x.has_feature("popcnt") && !x.has_feature("avx"));
}
