//! Element-wise math, comparison, logical, bitwise and activation ops.

crate::ops_table! { pub OPS: }
