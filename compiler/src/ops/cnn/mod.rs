//! Convolution, pooling and normalisation ops (CNN family).

pub mod conv;
pub mod window;

crate::ops_table! { pub OPS:
    "" "Conv" since 1 => conv::import,
}
