//! Kiln: an ahead-of-time compiler from ONNX models to native code.
//!
//! Pipeline: `onnx` (load + import) → `ir::Graph` → `ops` (import, infer) → `passes`
//! (const-fold, dce, fold-bn, transpose-views, fuse, fuse-elementwise, layout, memory plan) → `lower` → `kir::Program` → `backend::{cranelift, c,
//! rust}`; `kir::interp` runs the same program and is the oracle.

pub mod backend;
pub mod bench;
pub mod check;
pub mod compile;
pub mod conformance;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod inspect;
pub mod ir;
pub mod kir;
pub mod limits;
pub mod lower;
pub mod npy;
pub mod onnx;
pub mod ops;
pub mod passes;
pub mod run;
pub mod tensor;
pub mod testdata;

pub use compile::{Builder, Emit, Options};
pub use error::{Error, Result};
pub use limits::Limits;
