//! Resource limits at compile time: a hostile or broken model gets a clear `Error::Limit`
//! naming what is too big before memory runs out. `kiln compile` sets them with
//! `--max-tensor-bytes`, `--max-nodes`, `--max-depth` and `--max-fold-bytes`; the library
//! takes them in `Options::limits` and `onnx::import_with`.
//!
//! What each bounds:
//! - `max_tensor_bytes`: every tensor the model declares or Kiln infers (initializers,
//!   attribute tensors, graph inputs, every node output), in bytes. Initializer data must also
//!   be present in the file (inline) or in the external file it names: a tensor claiming more
//!   data than its file holds is rejected before anything is allocated.
//! - `max_nodes`: nodes of the graph after inlining model-local functions and after unrolling
//!   static control flow.
//! - `max_depth`: nesting of subgraphs (If / Loop / Scan bodies inside each other).
//! - `max_fold_bytes`: the largest value constant folding may compute at compile time (a
//!   bigger one is computed at run time instead, so this limit never rejects a model).

use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest tensor, in bytes (default 16 GiB).
    pub max_tensor_bytes: u64,
    /// Most nodes (default 4Mi).
    pub max_nodes: usize,
    /// Deepest subgraph nesting (default 64).
    pub max_depth: usize,
    /// Largest constant-folded value, in bytes (default 256 MiB).
    pub max_fold_bytes: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_tensor_bytes: 16 << 30,
            max_nodes: 4 << 20,
            max_depth: 64,
            max_fold_bytes: 256 << 20,
        }
    }
}

impl Limits {
    /// Checks a tensor of `numel` elements of `elem_bytes` each (strings count 1 byte per
    /// element here; their data is checked against the file). `what` names it in the error.
    pub fn check_tensor(&self, what: &str, numel: u64, elem_bytes: u64) -> Result<()> {
        match numel.checked_mul(elem_bytes.max(1)) {
            Some(n) if n <= self.max_tensor_bytes => Ok(()),
            n => Err(Error::Limit(format!(
                "{what}: {} bytes is more than --max-tensor-bytes {}",
                n.map_or_else(|| format!("{numel} x {elem_bytes}"), |n| n.to_string()),
                self.max_tensor_bytes
            ))),
        }
    }
}

/// Parses a byte count: a number with an optional K, M, G or T suffix (powers of 1024,
/// optionally followed by `i`, `B` or `iB`): `16G`, `256MiB`, `1048576`.
pub fn parse_bytes(s: &str) -> std::result::Result<u64, String> {
    let t = s.trim();
    let t = t
        .strip_suffix("iB")
        .or_else(|| t.strip_suffix('B'))
        .or_else(|| t.strip_suffix('i'))
        .unwrap_or(t);
    let (num, shift) = match t.char_indices().last() {
        Some((k, c)) if c.is_ascii_alphabetic() => {
            let shift = match c.to_ascii_uppercase() {
                'K' => 10,
                'M' => 20,
                'G' => 30,
                'T' => 40,
                _ => return Err(format!("'{s}': unknown unit '{c}' (K, M, G or T)")),
            };
            (&t[..k], shift)
        }
        _ => (t, 0),
    };
    let n: u64 = num
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a byte count (like 16G or 1048576)"))?;
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("'{s}' is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_bytes_units() {
        assert_eq!(parse_bytes("1024"), Ok(1024));
        assert_eq!(parse_bytes("16G"), Ok(16 << 30));
        assert_eq!(parse_bytes("256MiB"), Ok(256 << 20));
        assert_eq!(parse_bytes("3k"), Ok(3 << 10));
        assert!(parse_bytes("12Q").is_err());
        assert!(parse_bytes("x").is_err());
        assert!(parse_bytes("99999999999T").is_err());
    }

    #[test]
    fn check_tensor_bounds() {
        let l = Limits {
            max_tensor_bytes: 100,
            ..Limits::default()
        };
        assert!(l.check_tensor("t", 25, 4).is_ok());
        let e = l.check_tensor("tensor 'w'", 26, 4).unwrap_err();
        assert!(
            matches!(&e, Error::Limit(m) if m.contains("'w'") && m.contains("104")),
            "{e}"
        );
        assert!(l.check_tensor("t", u64::MAX, 8).is_err());
    }
}
