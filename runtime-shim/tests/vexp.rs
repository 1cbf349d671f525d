//! `kiln_shim_vexpf_sub_avx512` against the scalar `expf`, bit for bit: every 97th f32 bit
//! pattern (44 million values: both signs, NaNs, infinities, subnormals), the reduction's
//! rounding boundaries, the cut-offs, and run lengths 0..=20 with a non-zero `m` (the
//! masked tail and the f32 subtraction).

use kiln_shim::{expf, kiln_shim_vexpf_sub_avx512, kiln_shim_vsigmoidf_avx512};

fn check(xs: &[f32], m: f32) {
    let mut y = vec![0f32; xs.len()];
    unsafe { kiln_shim_vexpf_sub_avx512(xs.as_ptr(), y.as_mut_ptr(), xs.len() as i64, m) };
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
    #[cfg(target_arch = "x86_64")]
    if !std::is_x86_feature_detected!("avx512f") {
        eprintln!("skipped: this CPU has no AVX-512F (Kiln only calls the kernel on such CPUs)");
        return;
    }
    let all: Vec<f32> = (0..=u32::MAX / 97)
        .map(|i| f32::from_bits(i * 97))
        .collect();
    for chunk in all.chunks(1 << 16) {
        check(chunk, 0.0);
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
    check(&edge, 0.0);
    for n in 0..=20 {
        let xs: Vec<f32> = (0..n).map(|i| i as f32 * 0.37 - 3.0).collect();
        check(&xs, 1.25);
        check(&xs, f32::NAN);
    }
}

/// `kiln_shim_vsigmoidf_avx512` against `1 / (1 + expf(-x))`, bit for bit: every 97th f32
/// bit pattern, the values around expf's cut-offs (as -x), NaNs of both signs and run
/// lengths 0..=20 (the masked tail).
#[test]
fn vector_sigmoid_equals_scalar() {
    #[cfg(target_arch = "x86_64")]
    if !std::is_x86_feature_detected!("avx512f") {
        eprintln!("skipped: this CPU has no AVX-512F (Kiln only calls the kernel on such CPUs)");
        return;
    }
    let check = |xs: &[f32]| {
        let mut y = vec![0f32; xs.len()];
        unsafe { kiln_shim_vsigmoidf_avx512(xs.as_ptr(), y.as_mut_ptr(), xs.len() as i64) };
        for (i, (&x, &got)) in xs.iter().zip(&y).enumerate() {
            let want = 1.0 / (1.0 + expf(-x));
            assert_eq!(
                got.to_bits(),
                want.to_bits(),
                "x[{i}] = {x:e} ({:#010x}): {got:e} vs {want:e}",
                x.to_bits()
            );
        }
    };
    let all: Vec<f32> = (0..=u32::MAX / 97)
        .map(|i| f32::from_bits(i * 97))
        .collect();
    for chunk in all.chunks(1 << 16) {
        check(chunk);
    }
    check(&near_and_special(&[
        104.0, -89.0, 103.97208, -88.72284, 87.33655, 0.0, -0.0, 16.6, -16.6,
    ]));
    for n in 0..=20 {
        let xs: Vec<f32> = (0..n).map(|i| i as f32 * 0.37 - 3.0).collect();
        check(&xs);
    }
}
