//! Convolution, pooling and normalisation ops (CNN family).

pub mod batchnorm;
pub mod conv;
pub mod conv_transpose;
pub mod depth_space;
pub mod global_pool;
pub mod maxunpool;
pub mod norm;
pub mod pool;
pub mod reorder;
pub mod window;

#[cfg(test)]
mod tests;

crate::ops_table! { pub OPS:
    "" "AveragePool" since 1 => pool::import_avg,
    "" "BatchNormalization" since 1 => batchnorm::import,
    "" "Conv" since 1 => conv::import,
    "" "ConvTranspose" since 1 => conv_transpose::import,
    "" "DepthToSpace" since 1 => depth_space::import_d2s,
    "" "GlobalAveragePool" since 1 => global_pool::import_avg,
    "" "GlobalMaxPool" since 1 => global_pool::import_max,
    "" "GroupNormalization" since 18 => norm::import_group,
    "" "InstanceNormalization" since 1 => norm::import_instance,
    "" "LRN" since 1 => norm::import_lrn,
    "" "LpNormalization" since 1 => norm::import_lp,
    "" "LpPool" since 1 => pool::import_lp,
    "" "MaxPool" since 1 => pool::import_max,
    "" "MaxUnpool" since 9 => maxunpool::import,
    "" "SpaceToDepth" since 1 => depth_space::import_s2d,
}
