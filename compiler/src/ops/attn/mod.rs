//! Attention and transformer-block ops: Attention, RotaryEmbedding, Swish, SwiGLU.

pub mod attention;
pub mod rotary;
pub mod swish;

crate::ops_table! { pub OPS:
    "" "Attention" since 23 => attention::import,
    "" "RotaryEmbedding" since 23 => rotary::import,
    "" "SwiGLU" since 28 => swish::import,
    "" "Swish" since 24 => swish::import,
}
