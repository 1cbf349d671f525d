//! Convolution, pooling and normalisation ops (CNN family).

crate::ops_table! { pub OPS: }
