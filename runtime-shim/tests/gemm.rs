//! The f32 GEMM kernel (`kiln_shim_sgemm_avx2`) against the plain loops of its contract
//! (`gemm::sgemm_portable`), bit for bit: sizes around the 6 x 16 tile and 256-deep k block
//! edges, zero sizes, transposed and padded strides, accumulation, and special values.

use kiln_shim::gemm::sgemm_portable;
use kiln_shim::{kiln_shim_sgemm_avx2, kiln_shim_sgemm_avx512};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn f(&mut self) -> f32 {
        match self.next() % 64 {
            0 => f32::NAN,
            1 => f32::INFINITY,
            2 => -0.0,
            3 => 1e-40,
            _ => (self.next() % 2000) as f32 / 250.0 - 4.0,
        }
    }
}

type Kernel = unsafe extern "C" fn(
    i64,
    i64,
    i64,
    *const f32,
    i64,
    i64,
    *const f32,
    i64,
    i64,
    *mut f32,
    i64,
    i32,
);

/// The kernels this CPU can run (on other architectures both names are the plain loops).
fn kernels() -> Vec<(&'static str, Kernel)> {
    let mut out: Vec<(&'static str, Kernel)> = vec![];
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            out.push(("avx2", kiln_shim_sgemm_avx2));
        }
        if std::is_x86_feature_detected!("avx512f") {
            out.push(("avx512", kiln_shim_sgemm_avx512));
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        out.push(("avx2", kiln_shim_sgemm_avx2));
        out.push(("avx512", kiln_shim_sgemm_avx512));
    }
    out
}

#[test]
fn kernel_equals_contract_loops() {
    let kernels = kernels();
    if kernels.is_empty() {
        eprintln!("skipped: this CPU has neither AVX2 + FMA nor AVX-512F (the kernels are only called on such CPUs)");
        return;
    }
    let mut rng = Rng(7);
    let sizes = [
        0usize, 1, 2, 5, 6, 7, 11, 12, 13, 15, 16, 17, 25, 31, 32, 33, 65,
    ];
    let ks = [0usize, 1, 3, 16, 127, 128, 129, 255, 256, 257, 600];
    let mut cases = 0;
    for (ci, &m) in sizes.iter().enumerate() {
        for (cj, &n) in sizes.iter().enumerate() {
            let k = ks[(ci * 5 + cj * 3) % ks.len()];
            for variant in 0..4 {
                let (ta, tb) = (variant & 1 == 1, variant & 2 == 2);
                let accumulate = (ci + cj + variant) % 2 == 1;
                let pad = 3;
                // A: m x k, row-major with padding, or stored transposed.
                let (a_rs, a_cs) = if ta { (1, m + pad) } else { (k + pad, 1) };
                let (b_rs, b_cs) = if tb { (1, k + pad) } else { (n + pad, 1) };
                let alen = if ta { k * (m + pad) } else { m * (k + pad) };
                let blen = if tb { n * (k + pad) } else { k * (n + pad) };
                let c_rs = n + pad;
                let a: Vec<f32> = (0..alen.max(1)).map(|_| rng.f()).collect();
                let b: Vec<f32> = (0..blen.max(1)).map(|_| rng.f()).collect();
                let c0: Vec<f32> = (0..(m * c_rs).max(1)).map(|_| rng.f()).collect();
                let mut want = c0.clone();
                unsafe {
                    sgemm_portable(
                        m,
                        n,
                        k,
                        a.as_ptr(),
                        a_rs as isize,
                        a_cs as isize,
                        b.as_ptr(),
                        b_rs as isize,
                        b_cs as isize,
                        want.as_mut_ptr(),
                        c_rs as isize,
                        accumulate,
                    );
                }
                for (name, kernel) in &kernels {
                    let mut got = c0.clone();
                    unsafe {
                        kernel(
                            m as i64,
                            n as i64,
                            k as i64,
                            a.as_ptr(),
                            a_rs as i64,
                            a_cs as i64,
                            b.as_ptr(),
                            b_rs as i64,
                            b_cs as i64,
                            got.as_mut_ptr(),
                            c_rs as i64,
                            accumulate as i32,
                        );
                    }
                    for (i, (w, g)) in want.iter().zip(&got).enumerate() {
                        assert!(
                            w.to_bits() == g.to_bits() || (w.is_nan() && g.is_nan()),
                            "{name}: m={m} n={n} k={k} ta={ta} tb={tb} acc={accumulate} [{i}]: {w} vs {g}"
                        );
                    }
                }
                cases += 1;
            }
        }
    }
    assert_eq!(cases, sizes.len() * sizes.len() * 4);
}
