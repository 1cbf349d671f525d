//! Attention and transformer-block ops (Attention, RotaryEmbedding, Swish, SwiGLU), plus
//! CenterCropPad and ReverseSequence.

pub mod attention;
pub mod crop_reverse;
pub mod rotary;
pub mod swish;
#[cfg(test)]
mod tests;

crate::ops_table! { pub OPS:
    "" "Attention" since 23 => attention::import,
    "" "CenterCropPad" since 18 => crop_reverse::import_crop,
    "" "ReverseSequence" since 10 => crop_reverse::import_reverse,
    "" "RotaryEmbedding" since 23 => rotary::import,
    "" "SwiGLU" since 28 => swish::import,
    "" "Swish" since 24 => swish::import,
}
