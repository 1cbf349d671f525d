//! Backends: each one an exhaustive visitor over kir that prints it as Cranelift IR (JIT or
//! object file), C source or Rust source, plus the C header. Backends never see an ONNX op.

pub mod c;
pub mod cranelift;
pub mod exec;
pub mod header;
pub mod rust;
pub mod shim;
pub mod strings;

/// An ONNX name made into a C/Rust identifier: characters outside `[A-Za-z0-9_]` become `_`,
/// a leading digit (or an empty name) gets a `_` prefix.
pub fn ident(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    s
}

/// Identifiers for a list of names, made unique by suffixes `_2`, `_3`, ... in order.
pub fn unique_idents(names: &[String]) -> Vec<String> {
    let mut out: Vec<String> = vec![];
    for n in names {
        let base = ident(n);
        let mut cand = base.clone();
        let mut k = 2;
        while out.contains(&cand) {
            cand = format!("{base}_{k}");
            k += 1;
        }
        out.push(cand);
    }
    out
}
