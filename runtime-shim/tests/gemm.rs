//! The f32 GEMM kernel (`kiln_shim_sgemm_avx2`) against the plain loops of its contract
//! (`gemm::sgemm_portable`), bit for bit: sizes around the 6 x 16 tile and 256-deep k block
//! edges, zero sizes, transposed and padded strides, accumulation, and special values.

use kiln_shim::gemm::sgemm_portable;
use kiln_shim::kiln_shim_sgemm_avx2;

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

fn has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        true
    }
}

#[test]
fn kernel_equals_contract_loops() {
    if !has_avx2_fma() {
        eprintln!("skipped: this CPU has no AVX2 + FMA (the kernel is only called on such CPUs)");
        return;
    }
    let mut rng = Rng(7);
    let sizes = [0usize, 1, 2, 5, 6, 7, 12, 13, 15, 16, 17, 31, 33];
    let ks = [0usize, 1, 3, 16, 255, 256, 257, 600];
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
                let (mut want, mut got) = (c0.clone(), c0.clone());
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
                    kiln_shim_sgemm_avx2(
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
                        "m={m} n={n} k={k} ta={ta} tb={tb} acc={accumulate} [{i}]: {w} vs {g}"
                    );
                }
                cases += 1;
            }
        }
    }
    assert_eq!(cases, sizes.len() * sizes.len() * 4);
}
