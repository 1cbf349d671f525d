//! Shape and data-movement ops, reductions and indexing ops.

crate::ops_table! { pub OPS: }
