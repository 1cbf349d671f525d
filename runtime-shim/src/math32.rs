//! The f32 functions (`expf`, `logf`, ..., `fmodf`).
//!
//! Each one widens its arguments to f64 (exact), calls the f64 implementation of this
//! crate and rounds the result to f32 once. The f64 algorithms are accurate to about one
//! f64 ulp (2^-52 relative), 2^29 times finer than an f32 ulp, so the f32 results are the
//! correctly rounded ones except in astronomically rare double-rounding cases (then 1 ulp
//! off); fmodf is exact because the f64 remainder of two f32 values is representable in
//! f32. Overflow, underflow (to f32 subnormals or zero), NaN and signed-zero behaviour
//! follow from the f64 functions and the IEEE f64 -> f32 conversion.
//!
//! Invariants: `no_std`, no allocation, no panics, IEEE arithmetic only, so results are
//! bit-identical on every target and for every Kiln backend.
//!
//! Accuracy (measured against the host libm, see tests/accuracy.rs): every function within
//! 1 ulp of the correctly rounded result (0 ulp for fmodf).

/// e^x.
pub fn expf(x: f32) -> f32 {
    crate::exp(x as f64) as f32
}
/// Natural logarithm.
pub fn logf(x: f32) -> f32 {
    crate::log(x as f64) as f32
}
/// Hyperbolic tangent.
pub fn tanhf(x: f32) -> f32 {
    crate::tanh(x as f64) as f32
}
/// x^y (C99 special cases).
pub fn powf(x: f32, y: f32) -> f32 {
    crate::pow(x as f64, y as f64) as f32
}
/// Error function.
pub fn erff(x: f32) -> f32 {
    crate::erf(x as f64) as f32
}
/// Sine.
pub fn sinf(x: f32) -> f32 {
    crate::sin(x as f64) as f32
}
/// Cosine.
pub fn cosf(x: f32) -> f32 {
    crate::cos(x as f64) as f32
}
/// Tangent.
pub fn tanf(x: f32) -> f32 {
    crate::tan(x as f64) as f32
}
/// Arc sine.
pub fn asinf(x: f32) -> f32 {
    crate::asin(x as f64) as f32
}
/// Arc cosine.
pub fn acosf(x: f32) -> f32 {
    crate::acos(x as f64) as f32
}
/// Arc tangent.
pub fn atanf(x: f32) -> f32 {
    crate::atan(x as f64) as f32
}
/// Hyperbolic sine.
pub fn sinhf(x: f32) -> f32 {
    crate::sinh(x as f64) as f32
}
/// Hyperbolic cosine.
pub fn coshf(x: f32) -> f32 {
    crate::cosh(x as f64) as f32
}
/// Inverse hyperbolic sine.
pub fn asinhf(x: f32) -> f32 {
    crate::asinh(x as f64) as f32
}
/// Inverse hyperbolic cosine.
pub fn acoshf(x: f32) -> f32 {
    crate::acosh(x as f64) as f32
}
/// Inverse hyperbolic tangent.
pub fn atanhf(x: f32) -> f32 {
    crate::atanh(x as f64) as f32
}
/// Floating-point remainder with the sign of x (exact).
pub fn fmodf(x: f32, y: f32) -> f32 {
    crate::fmod(x as f64, y as f64) as f32
}
