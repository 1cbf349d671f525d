//! The shim's vector functions (`kiln_shim_v*_avx512`, `_avx2`, `_neon`, `_x86_any`) against the
//! scalar functions, bit for bit, for each ISA this CPU has: every 97th f32 bit pattern (44
//! million values: both signs, NaNs, infinities, subnormals), dense runs where the
//! functions branch, the reduction's rounding boundaries, the cut-offs, and run lengths
//! 0..=20 (the padded tail; for exp with a non-zero `m`: the f32 subtraction).

use kiln_shim::*;

/// A vector function `(x, y, n)`.
type Vf = unsafe extern "C" fn(*const f32, *mut f32, i64);
/// The vector exp `(x, y, n, m)`.
type Ve = unsafe extern "C" fn(*const f32, *mut f32, i64, f32);

/// The ISAs this CPU has, with their functions: (name, exp, sigmoid, tanh, erf).
// One push per cfg'd ISA (clippy sees only aarch64's on aarch64).
#[allow(clippy::vec_init_then_push)]
fn isas() -> Vec<(&'static str, Ve, Vf, Vf, Vf)> {
    let mut v: Vec<(&'static str, Ve, Vf, Vf, Vf)> = vec![];
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            v.push((
                "avx512",
                kiln_shim_vexpf_sub_avx512,
                kiln_shim_vsigmoidf_avx512,
                kiln_shim_vtanhf_avx512,
                kiln_shim_verff_avx512,
            ));
        }
        if std::is_x86_feature_detected!("avx2") {
            v.push((
                "avx2",
                kiln_shim_vexpf_sub_avx2,
                kiln_shim_vsigmoidf_avx2,
                kiln_shim_vtanhf_avx2,
                kiln_shim_verff_avx2,
            ));
        }
        if v.len() < 2 {
            eprintln!("this CPU lacks AVX-512F or AVX2: those kernels are not run here");
        }
        // Whichever of the above (or the plain loops) CPUID selects at run time.
        v.push((
            "x86_any",
            kiln_shim_vexpf_sub_x86_any,
            kiln_shim_vsigmoidf_x86_any,
            kiln_shim_vtanhf_x86_any,
            kiln_shim_verff_x86_any,
        ));
    }
    #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
    v.push((
        "neon",
        kiln_shim_vexpf_sub_neon,
        kiln_shim_vsigmoidf_neon,
        kiln_shim_vtanhf_neon,
        kiln_shim_verff_neon,
    ));
    #[cfg(not(any(
        target_arch = "x86_64",
        all(target_arch = "aarch64", target_feature = "neon")
    )))]
    {
        // the plain loops
        v.push((
            "portable",
            kiln_shim_vexpf_sub_avx512,
            kiln_shim_vsigmoidf_avx512,
            kiln_shim_vtanhf_avx512,
            kiln_shim_verff_avx512,
        ));
    }
    #[cfg(not(all(target_arch = "aarch64", target_feature = "neon")))]
    v.push((
        "neon (the plain loops here)",
        kiln_shim_vexpf_sub_neon,
        kiln_shim_vsigmoidf_neon,
        kiln_shim_vtanhf_neon,
        kiln_shim_verff_neon,
    ));
    v
}

fn check(vexp: Ve, xs: &[f32], m: f32) {
    let mut y = vec![0f32; xs.len()];
    unsafe { vexp(xs.as_ptr(), y.as_mut_ptr(), xs.len() as i64, m) };
    for (i, (&x, &got)) in xs.iter().zip(&y).enumerate() {
        let want = expf(x - m);
        assert_eq!(
            got.to_bits(),
            want.to_bits(),
            "x[{i}] = {x:e} ({:#010x}), m = {m}: {got:e} vs expf {want:e}",
            x.to_bits()
        );
    }
}

/// The 16 bit patterns on either side of each of `centres`, then NaNs of both signs (one
/// signalling), the infinities and the largest finite values.
fn near_and_special(centres: &[f32]) -> Vec<f32> {
    let mut v = vec![];
    for c in centres {
        for d in 0..16u32 {
            v.push(f32::from_bits(c.to_bits().wrapping_add(d)));
            v.push(f32::from_bits(c.to_bits().wrapping_sub(d)));
        }
    }
    v.extend([
        f32::NAN,
        -f32::NAN,
        f32::from_bits(0x7fa0_0001),
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::MAX,
        f32::MIN,
    ]);
    v
}

#[test]
fn vector_exp_equals_scalar() {
    for (isa, vexp, ..) in isas() {
        eprintln!("{isa}");
        let all: Vec<f32> = (0..=u32::MAX / 97)
            .map(|i| f32::from_bits(i * 97))
            .collect();
        for chunk in all.chunks(1 << 16) {
            check(vexp, chunk, 0.0);
        }
        let mut edge = vec![];
        for k in -151i32..=130 {
            let mid = ((k as f64 + 0.5) * std::f64::consts::LN_2) as f32;
            for d in 0..64u32 {
                edge.push(f32::from_bits(mid.to_bits().wrapping_add(d)));
                edge.push(f32::from_bits(mid.to_bits().wrapping_sub(d)));
            }
        }
        edge.extend(near_and_special(&[
            -104.0, 89.0, -103.97208, 88.72284, -87.33655, 0.0, -0.0,
        ]));
        check(vexp, &edge, 0.0);
        for n in 0..=20 {
            let xs: Vec<f32> = (0..n).map(|i| i as f32 * 0.37 - 3.0).collect();
            check(vexp, &xs, 1.25);
            check(vexp, &xs, f32::NAN);
        }
    }
}

/// `vecf` over `xs` against `scalar` on each value, bit for bit.
fn check_unary(
    vecf: unsafe extern "C" fn(*const f32, *mut f32, i64),
    scalar: impl Fn(f32) -> f32,
    xs: &[f32],
) {
    let mut y = vec![0f32; xs.len()];
    unsafe { vecf(xs.as_ptr(), y.as_mut_ptr(), xs.len() as i64) };
    for (i, (&x, &got)) in xs.iter().zip(&y).enumerate() {
        let want = scalar(x);
        assert_eq!(
            got.to_bits(),
            want.to_bits(),
            "x[{i}] = {x:e} ({:#010x}): {got:e} vs {want:e}",
            x.to_bits()
        );
    }
}

/// `vecf` against `scalar`: every 97th f32 bit pattern, every `step`-th one of either sign
/// between 2^-28 and 32 (where the functions have their branches), the values around
/// `centres`, NaNs of both signs, and run lengths 0..=20 (the masked tail).
fn check_all(
    vecf: unsafe extern "C" fn(*const f32, *mut f32, i64),
    scalar: impl Fn(f32) -> f32 + Copy,
    step: u32,
    centres: &[f32],
) {
    let all: Vec<f32> = (0..=u32::MAX / 97)
        .map(|i| f32::from_bits(i * 97))
        .collect();
    for chunk in all.chunks(1 << 16) {
        check_unary(vecf, scalar, chunk);
    }
    let (lo, hi) = ((2f32).powi(-28).to_bits(), 32f32.to_bits());
    let dense: Vec<f32> = (lo..hi)
        .step_by(step as usize)
        .flat_map(|b| [f32::from_bits(b), -f32::from_bits(b)])
        .collect();
    for chunk in dense.chunks(1 << 16) {
        check_unary(vecf, scalar, chunk);
    }
    check_unary(vecf, scalar, &near_and_special(centres));
    for n in 0..=20 {
        let xs: Vec<f32> = (0..n).map(|i| i as f32 * 0.37 - 3.0).collect();
        check_unary(vecf, scalar, &xs);
    }
}

/// The vector sigmoid against `1 / (1 + expf(-x))`, bit for bit: every 97th f32
/// bit pattern, the values around expf's cut-offs (as -x), NaNs of both signs and run
/// lengths 0..=20 (the masked tail).
#[test]
fn vector_sigmoid_equals_scalar() {
    for (_, _, vsig, ..) in isas() {
        check_all(
            vsig,
            |x| 1.0 / (1.0 + expf(-x)),
            997,
            &[
                104.0, -89.0, 103.97208, -88.72284, 87.33655, 0.0, -0.0, 16.6, -16.6,
            ],
        );
    }
}

/// The vector tanh against `tanhf`, bit for bit; the centres are the branch points of
/// `math32::tanhf` (0.625, 22) and where its f32 results reach 2^-27 and 1.
#[test]
fn vector_tanh_equals_scalar() {
    for (_, _, _, vtanh, _) in isas() {
        check_all(
            vtanh,
            tanhf,
            31,
            &[
                0.0,
                -0.0,
                7.450581e-9,
                0.625,
                -0.625,
                22.0,
                -22.0,
                9.01,
                -9.01,
            ],
        );
    }
}

/// The vector erf against `erff`, bit for bit; the centres are the interval
/// boundaries of `erf::erf` (0.5, 1, ..., 6).
#[test]
fn vector_erf_equals_scalar() {
    let mut centres = vec![0.0, -0.0, 3.9];
    for i in 1..=12 {
        centres.push(i as f32 * 0.5);
        centres.push(-(i as f32) * 0.5);
    }
    for (.., verf) in isas() {
        check_all(verf, erff, 31, &centres);
    }
}
