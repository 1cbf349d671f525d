//! The library's error type. Every error names what it is about (file, node, op, attribute);
//! the CLI prints it on one line and exits with status 2.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {msg}")]
    Io { path: PathBuf, msg: String },
    /// The file is not a valid ONNX model (truncated, garbage, inconsistent).
    #[error("invalid model: {0}")]
    Model(String),
    /// One or more ops Kiln does not support (all listed).
    #[error("unsupported ops: {0}")]
    Unsupported(String),
    /// A problem with a node: its attributes, inputs or shapes. The message starts with
    /// `node NAME (OP, opset V)`.
    #[error("{0}")]
    Node(String),
    /// A node needs the value of one of its inputs at compile time (a Reshape's shape fed as
    /// a graph input): binding that input (`--bind`) would let it compile.
    #[error("{msg}")]
    NeedsValue {
        node: String,
        input: usize,
        msg: String,
    },
    /// Invalid user options (--dim, --bind, --target, ...).
    #[error("{0}")]
    Usage(String),
    /// A limit (tensor size, graph depth) was exceeded.
    #[error("limit exceeded: {0}")]
    Limit(String),
    /// A bug in Kiln found by a verifier.
    #[error("internal error: {0}")]
    Internal(String),
    /// A backend failed (code generation, external compiler).
    #[error("backend {backend}: {msg}")]
    Backend { backend: &'static str, msg: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn io(path: impl Into<PathBuf>, e: impl std::fmt::Display) -> Error {
        Error::Io {
            path: path.into(),
            msg: e.to_string(),
        }
    }
}
