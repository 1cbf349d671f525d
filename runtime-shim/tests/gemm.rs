//! The f32 GEMM kernels (`kiln_shim_sgemm_avx2`, `kiln_shim_sgemm_avx512`, `kiln_shim_sgemm_neon`) against the plain
//! loops of their contract (`gemm::sgemm_portable`), bit for bit: sizes around the tile and
//! k block edges, zero sizes, transposed and padded strides, accumulation, special values,
//! every epilogue (bias, residual laid out as C, a row-vector residual (`res_rs` = 0, the
//! per-column bias of MatMul and Gemm) or one with its own row stride, clamp), and
//! convolution-patch B operands over strides, padding and dilation. The patch indexing itself
//! is checked against a direct convolution.

use kiln_shim::gemm::{sgemm_portable, Call, Conv2d};
use kiln_shim::parallel::{self, Parallel};
use kiln_shim::{kiln_shim_sgemm_avx2, kiln_shim_sgemm_avx512, kiln_shim_sgemm_neon};

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
    fn plain(&mut self) -> f32 {
        (self.next() % 2000) as f32 / 250.0 - 4.0
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
    *const i64,
    *mut f32,
    i64,
    i32,
    *const f32,
    *const f32,
    i64,
    f32,
    f32,
    i64,
    i64,
    i64,
    i64,
    i32,
    i64,
    *const Parallel,
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
        // Whichever of the above (or the plain loops) CPUID selects at run time.
        out.push(("x86_any", kiln_shim::kiln_shim_sgemm_x86_any));
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        out.push(("avx2", kiln_shim_sgemm_avx2));
        out.push(("avx512", kiln_shim_sgemm_avx512));
    }
    // NEON code on aarch64, the plain loops elsewhere.
    out.push(("neon", kiln_shim_sgemm_neon));
    out
}

/// `kiln_shim_sgemm_x86_any` selects the kernel std's feature detection would: AVX-512F,
/// else AVX2 + FMA, else the plain loops (`kernels()` checks its results with the others).
#[cfg(target_arch = "x86_64")]
#[test]
fn x86_any_selects_the_detected_kernel() {
    use kiln_shim::cpu::{x86_level, X86Level};
    let want = if std::is_x86_feature_detected!("avx512f") {
        X86Level::Avx512
    } else if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        X86Level::Avx2
    } else {
        X86Level::Base
    };
    assert_eq!(x86_level(), want);
    // Cached: the same answer from any thread.
    let others: Vec<_> = (0..4).map(|_| std::thread::spawn(x86_level)).collect();
    for t in others {
        assert_eq!(t.join().unwrap(), want);
    }
}

/// Runs `t` through the portable loops and every kernel, starting from `c0`, and compares
/// the bits of C.
fn check(t: &Call, c0: &[f32], what: &str) {
    let mut want = c0.to_vec();
    let mut r = *t;
    r.c = want.as_mut_ptr();
    unsafe { sgemm_portable(&r) };
    let geo: Vec<i64> = t
        .conv
        .map(|g| {
            vec![
                g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.ow, g.blocked,
            ]
            .into_iter()
            .map(|v| v as i64)
            .collect()
        })
        .unwrap_or_default();
    for (name, kernel) in &kernels() {
        let mut got = c0.to_vec();
        unsafe {
            kernel(
                t.m as i64,
                t.n as i64,
                t.k as i64,
                t.a,
                t.a_rs as i64,
                t.a_cs as i64,
                t.b,
                t.b_rs as i64,
                t.b_cs as i64,
                if t.conv.is_some() {
                    geo.as_ptr()
                } else {
                    std::ptr::null()
                },
                got.as_mut_ptr(),
                t.c_rs as i64,
                t.accumulate as i32,
                t.bias,
                t.res,
                t.res_rs as i64,
                t.lo,
                t.hi,
                t.groups as i64,
                t.a_gs as i64,
                t.b_gs as i64,
                t.c_gs as i64,
                t.max as i32,
                t.a_panel as i64,
                std::ptr::null(),
            );
        }
        for (i, (w, g)) in want.iter().zip(&got).enumerate() {
            assert!(
                w.to_bits() == g.to_bits() || (w.is_nan() && g.is_nan()),
                "{name}: {what} [{i}]: {w} vs {g}"
            );
        }
    }
    check_splits(t, c0, &want, what);
}

/// The vector kernel variants this CPU runs, as Rust functions, with the tile rows and panel columns their
/// wrappers give `parallel::run`.
type Variant = (&'static str, unsafe fn(&Call), usize, usize);

// One push per cfg'd variant (clippy sees only aarch64's on aarch64).
#[allow(clippy::vec_init_then_push)]
fn variants() -> Vec<Variant> {
    // Not the portable loops: a part is an ordinary call of the contract whatever kernel
    // runs it, and their software fmaf would make the test slow (under qemu above all).
    let mut out: Vec<Variant> = vec![];
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            out.push(("avx2", kiln_shim::gemm::sgemm_avx2, 6, 16));
        }
        if std::is_x86_feature_detected!("avx512f") {
            out.push(("avx512", kiln_shim::gemm::sgemm_avx512, 12, 32));
        }
    }
    #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
    out.push(("neon", kiln_shim::gemm::sgemm_neon, 12, 8));
    out
}

/// Every split of `t` into 2, 3 and 7 parts (no minimum size), the parts run one after the
/// other in reverse order, gives `want`'s bits.
fn check_splits(t: &Call, c0: &[f32], want: &[f32], what: &str) {
    for (name, kernel, mr, nr) in variants() {
        for threads in [2, 3, 7] {
            let mut got = c0.to_vec();
            let mut r = *t;
            r.c = got.as_mut_ptr();
            let s = parallel::split_with(&r, threads, mr, nr, 1);
            assert!(s.n >= 1 && s.n <= threads, "{what}: {} parts", s.n);
            for part in s.parts[..s.n].iter().rev() {
                unsafe { kernel(part) };
            }
            for (i, (w, g)) in want.iter().zip(&got).enumerate() {
                assert!(
                    w.to_bits() == g.to_bits() || (w.is_nan() && g.is_nan()),
                    "{name} in {} parts of {threads}: {what} [{i}]: {w} vs {g}",
                    s.n
                );
            }
        }
    }
}

/// A short k leaves room for more panels per column block (`one`'s `np`): wide C over
/// several such blocks, B in place or transposed.
#[test]
fn short_k_wide_blocks_equal_contract_loops() {
    if kernels().is_empty() {
        eprintln!("skipped: this CPU has neither AVX2 + FMA nor AVX-512F");
        return;
    }
    let mut rng = Rng(5);
    for &(m, n, k) in &[(5, 1100, 3), (13, 1100, 16), (25, 2100, 40), (1, 1300, 8)] {
        for tb in [false, true] {
            let (b_rs, b_cs) = if tb { (1, k + 1) } else { (n + 1, 1) };
            let a: Vec<f32> = (0..m * k).map(|_| rng.f()).collect();
            let b: Vec<f32> = (0..(k * (n + 1)).max(n * (k + 1)))
                .map(|_| rng.f())
                .collect();
            let c0: Vec<f32> = (0..m * n).map(|_| rng.f()).collect();
            let bias: Vec<f32> = (0..m).map(|_| rng.f()).collect();
            let mut t = Call::plain(
                (m, n, k),
                (a.as_ptr(), k as isize, 1),
                (b.as_ptr(), b_rs as isize, b_cs as isize),
                (std::ptr::null_mut(), n as isize),
                false,
            );
            t.bias = bias.as_ptr();
            t.lo = 0.0;
            check(&t, &c0, &format!("m={m} n={n} k={k} tb={tb}"));
        }
    }
}

#[test]
fn kernel_equals_contract_loops() {
    if kernels().is_empty() {
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
            for variant in 0..8 {
                let (ta, tb, epi) = (variant & 1 == 1, variant & 2 == 2, variant & 4 == 4);
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
                let bias: Vec<f32> = (0..m.max(1)).map(|_| rng.f()).collect();
                // The residual laid out as C, one row vector for every row, or rows of
                // their own stride.
                let res_rs = [c_rs, 0, n + 5][(ci * 7 + cj + variant) % 3];
                let res: Vec<f32> = (0..(m * (n + 5)).max(1)).map(|_| rng.f()).collect();
                let mut t = Call::plain(
                    (m, n, k),
                    (a.as_ptr(), a_rs as isize, a_cs as isize),
                    (b.as_ptr(), b_rs as isize, b_cs as isize),
                    (std::ptr::null_mut(), c_rs as isize),
                    accumulate,
                );
                if epi {
                    if variant & 1 == 0 {
                        t.bias = bias.as_ptr();
                    }
                    if (ci + cj) % 2 == 0 || res_rs != c_rs {
                        t.res = res.as_ptr();
                        t.res_rs = res_rs as isize;
                    }
                    t.lo = if ci % 3 == 0 { f32::NEG_INFINITY } else { 0.0 };
                    t.hi = if cj % 2 == 0 { 6.0 } else { f32::INFINITY };
                }
                check(
                    &t,
                    &c0,
                    &format!(
                        "m={m} n={n} k={k} ta={ta} tb={tb} acc={accumulate} epi={epi} \
                         res_rs={}",
                        t.res_rs
                    ),
                );
                cases += 1;
            }
        }
    }
    assert_eq!(cases, sizes.len() * sizes.len() * 8);
}

/// Convolution geometries: (channels per group, h, w, out channels per group, kh, kw,
/// stride, pad, dilation, groups).
type Geo = (
    usize,
    isize,
    isize,
    usize,
    isize,
    isize,
    (isize, isize),
    (isize, isize),
    (isize, isize),
    usize,
);
const CONVS: &[Geo] = &[
    (3, 9, 9, 8, 3, 3, (1, 1), (1, 1), (1, 1), 1),
    (3, 17, 13, 13, 7, 7, (2, 2), (3, 3), (1, 1), 1),
    (5, 7, 7, 33, 3, 3, (1, 1), (1, 1), (1, 1), 1),
    (2, 11, 20, 7, 3, 2, (2, 3), (0, 1), (2, 1), 1),
    (4, 40, 40, 12, 3, 3, (2, 2), (1, 1), (1, 1), 1),
    (1, 5, 5, 3, 5, 5, (1, 1), (2, 2), (1, 1), 1),
    (6, 6, 33, 14, 1, 1, (1, 2), (0, 0), (1, 1), 1),
    (40, 6, 6, 16, 3, 3, (1, 1), (1, 1), (1, 1), 1),
    (2, 4, 4, 2, 3, 3, (1, 1), (4, 4), (1, 1), 1),
    (2, 9, 9, 3, 3, 3, (1, 1), (1, 1), (1, 1), 4),
    // Several column blocks and k blocks through the packing tables (`conv_tab`), with
    // runs split across output rows, for stride 1 and 2.
    (16, 30, 30, 20, 3, 3, (1, 1), (1, 1), (1, 1), 1),
    (20, 23, 29, 13, 3, 3, (2, 2), (1, 1), (1, 1), 1),
    // A short k (more panels per column block) over several blocks, stride 1 and 2
    // (`pack_tab_s2`: even lanes of masked loads).
    (2, 40, 40, 20, 3, 3, (1, 1), (1, 1), (1, 1), 1),
    (3, 60, 61, 8, 3, 3, (2, 2), (1, 1), (1, 1), 1),
    (2, 5, 131, 4, 3, 3, (2, 2), (1, 1), (1, 1), 1),
    // Stride-1 panels of one, two and three runs (`pack_tab_s1`).
    (3, 6, 70, 5, 3, 3, (1, 1), (1, 1), (1, 1), 1),
    (2, 14, 12, 3, 3, 3, (1, 1), (1, 1), (1, 1), 1),
    // Wider than the vector packing's 8 tap columns: the scalar packing.
    (2, 12, 30, 5, 2, 9, (1, 2), (0, 4), (1, 1), 1),
    // Depthwise: one input and one output channel per group.
    (1, 9, 9, 1, 3, 3, (1, 1), (1, 1), (1, 1), 5),
    (1, 7, 7, 1, 3, 3, (1, 1), (1, 1), (1, 1), 3),
    (1, 40, 37, 1, 3, 3, (1, 1), (1, 1), (1, 1), 2),
    (1, 40, 37, 1, 3, 3, (2, 2), (1, 1), (1, 1), 2),
    (1, 12, 35, 1, 5, 5, (1, 1), (2, 2), (1, 1), 3),
    (1, 12, 35, 1, 3, 3, (1, 2), (3, 0), (2, 3), 2),
    (3, 10, 10, 1, 3, 3, (1, 1), (1, 1), (1, 1), 2),
];

#[test]
fn convolution_patches_equal_contract_loops_and_direct_convolution() {
    let mut rng = Rng(11);
    for (case, &(c, h, w, m, kh, kw, (sh, sw), (ph, pw), (dh, dw), groups)) in
        CONVS.iter().enumerate()
    {
        let oh = ((h + 2 * ph - dh * (kh - 1) - 1) / sh + 1) as usize;
        let ow = ((w + 2 * pw - dw * (kw - 1) - 1) / sw + 1) as usize;
        let k = c * (kh * kw) as usize;
        let n = oh * ow;
        let plane = (h * w) as usize;
        let x: Vec<f32> = (0..groups * c * plane).map(|_| rng.plain()).collect();
        let wt: Vec<f32> = (0..groups * m * k).map(|_| rng.plain()).collect();
        let bias: Vec<f32> = (0..groups * m).map(|_| rng.plain()).collect();
        let res: Vec<f32> = (0..groups * m * n).map(|_| rng.plain()).collect();
        let g = Conv2d {
            h,
            w,
            kh,
            kw,
            sh,
            sw,
            ph,
            pw,
            dh,
            dw,
            ow: ow as isize,
            blocked: 0,
        };
        let call = |c_ptr: *mut f32| {
            let mut t = Call::plain(
                (m, n, k),
                (wt.as_ptr(), k as isize, 1),
                (x.as_ptr(), 0, 0),
                (c_ptr, n as isize),
                false,
            );
            t.conv = Some(g);
            t.groups = groups;
            t.a_gs = (m * k) as isize;
            t.b_gs = (c * plane) as isize;
            t.c_gs = (m * n) as isize;
            t
        };
        let c0 = vec![f32::NAN; groups * m * n];
        let mut t = call(std::ptr::null_mut());
        check(&t, &c0, &format!("conv case {case}"));
        t.bias = bias.as_ptr();
        t.res = res.as_ptr();
        t.lo = 0.0;
        t.hi = 6.0;
        check(&t, &c0, &format!("conv case {case} with epilogue"));
        for pn in [12usize, 6, 5] {
            // The weights packed in panels of pn rows (zero rows past m).
            let panels = (m * groups).div_ceil(pn);
            let mut packed = vec![0f32; panels * pn * k];
            for i in 0..m * groups {
                for p in 0..k {
                    packed[(i / pn) * pn * k + p * pn + i % pn] = wt[i * k + p];
                }
            }
            let mut q = call(std::ptr::null_mut());
            q.groups = 1;
            q.m = m * groups;
            if groups == 1 {
                q.a = packed.as_ptr();
                q.a_panel = pn;
                q.bias = bias.as_ptr();
                check(
                    &q,
                    &c0,
                    &format!("conv case {case} with A in panels of {pn}"),
                );
            }
        }
        if c == 1 && m == 1 {
            // The same windows as max pooling, with special values in the image.
            let mut xs = x.clone();
            for (i, v) in xs.iter_mut().enumerate() {
                match i % 37 {
                    0 => *v = f32::NAN,
                    5 => *v = -0.0,
                    9 => *v = 0.0,
                    17 => *v = f32::NEG_INFINITY,
                    _ => {}
                }
            }
            let mut p = call(std::ptr::null_mut());
            p.b = xs.as_ptr();
            p.max = true;
            check(&p, &c0, &format!("max pool case {case}"));
            p.lo = 0.0;
            p.hi = 6.0;
            p.res = res.as_ptr();
            check(&p, &c0, &format!("max pool case {case} with epilogue"));
        }
        // The patch indexing against a direct convolution (f64 sums, loose tolerance: the
        // order of the sums differs).
        let mut y = c0.clone();
        unsafe { sgemm_portable(&call(y.as_mut_ptr())) };
        for gi in 0..groups {
            for mi in 0..m {
                for o in 0..n {
                    let (oy, ox) = ((o / ow) as isize, (o % ow) as isize);
                    let mut s = 0f64;
                    for ci in 0..c {
                        for i in 0..kh {
                            for j in 0..kw {
                                let (iy, ix) = (oy * sh - ph + i * dh, ox * sw - pw + j * dw);
                                if iy >= 0 && iy < h && ix >= 0 && ix < w {
                                    let xv = x[(gi * c + ci) * plane + (iy * w + ix) as usize];
                                    let wv = wt[(gi * m + mi) * k
                                        + ci * (kh * kw) as usize
                                        + (i * kw + j) as usize];
                                    s += xv as f64 * wv as f64;
                                }
                            }
                        }
                    }
                    let got = y[(gi * m + mi) * n + o] as f64;
                    assert!(
                        (got - s).abs() <= 1e-3 * (1.0 + s.abs()),
                        "case {case} [{gi}, {mi}, {o}]: {got} vs {s}"
                    );
                }
            }
        }
    }
}

/// The depthwise / max-pool direct path (one input and one output channel per group) over
/// the kernel shapes it specialises (3x3 and 5x5 convolutions, 3x3 and 2x2 pools, stride 1
/// or 2 both ways) and the general code it falls back to (2x2 convolutions, 5x5 pools, 7x7,
/// 3x5, unequal strides, dilation, very wide rows, fewer output rows than a group):
/// paddings 0 to 2, floor and ceil output sizes (the bottom and right windows then run
/// past the image), planes narrower and wider than a vector, heights below, at and above
/// the row groups, every epilogue, max pooling, and inputs full of signed zeros and
/// special values.
#[test]
fn depthwise_and_pooling_equal_contract_loops() {
    if kernels().is_empty() {
        eprintln!("skipped: this CPU has neither AVX2 + FMA nor AVX-512F");
        return;
    }
    let mut rng = Rng(23);
    let shapes: &[(isize, isize, isize, isize, isize)] = &[
        // (kh, kw, sh, sw, dilation)
        (3, 3, 1, 1, 1),
        (3, 3, 2, 2, 1),
        (5, 5, 1, 1, 1),
        (5, 5, 2, 2, 1),
        (2, 2, 1, 1, 1),
        (2, 2, 2, 2, 1),
        (7, 7, 1, 1, 1),
        (3, 5, 2, 2, 1),
        (3, 3, 2, 1, 1),
        (3, 3, 1, 1, 2),
    ];
    let planes: &[(isize, isize)] = &[
        (1, 1),
        (2, 3),
        (3, 7),
        (5, 8),
        (7, 7),
        (9, 16),
        (12, 17),
        (14, 14),
        (16, 32),
        (19, 33),
        (23, 40),
        (6, 200),
        (4, 1030),
    ];
    let mut cases = 0;
    for &(kh, kw, sh, sw, dil) in shapes {
        for &(h, w) in planes {
            if w > 256 && (kh, sw) != (3, 1) {
                continue;
            }
            for pad in 0..3isize {
                for ceil in [false, true] {
                    let out = |len: isize, k: isize, s: isize| {
                        let span = len + 2 * pad - dil * (k - 1) - 1;
                        if span < 0 {
                            return 0;
                        }
                        let mut o = if ceil { (span + s - 1) / s } else { span / s } + 1;
                        // ONNX ceil mode: no window starting in the bottom / right padding.
                        while ceil && o > 1 && (o - 1) * s - pad >= len {
                            o -= 1;
                        }
                        o
                    };
                    let (oh, ow) = (out(h, kh, sh), out(w, kw, sw));
                    if oh == 0 || ow == 0 {
                        continue;
                    }
                    let groups = 3;
                    let plane = (h * w) as usize;
                    let (n, k) = ((oh * ow) as usize, (kh * kw) as usize);
                    let zeros = cases % 3 == 0;
                    let x: Vec<f32> = (0..groups * plane)
                        .map(|i| match (zeros, i % 5) {
                            (true, 0 | 2) => -0.0,
                            (true, 1) => 0.0,
                            (true, _) => -rng.plain().abs(),
                            _ => rng.f(),
                        })
                        .collect();
                    let wt: Vec<f32> = (0..groups * k)
                        .map(|i| if zeros && i % 4 == 0 { -0.0 } else { rng.f() })
                        .collect();
                    let bias: Vec<f32> = (0..groups).map(|_| rng.plain()).collect();
                    let res: Vec<f32> = (0..groups * n).map(|_| rng.f()).collect();
                    let c0 = vec![f32::NAN; groups * n];
                    let g = Conv2d {
                        h,
                        w,
                        kh,
                        kw,
                        sh,
                        sw,
                        ph: pad,
                        pw: pad,
                        dh: dil,
                        dw: dil,
                        ow,
                        blocked: 0,
                    };
                    for max in [false, true] {
                        for epi in 0..3 {
                            let mut t = Call::plain(
                                (1, n, k),
                                (wt.as_ptr(), k as isize, 1),
                                (x.as_ptr(), 0, 0),
                                (std::ptr::null_mut(), n as isize),
                                false,
                            );
                            t.conv = Some(g);
                            t.groups = groups;
                            t.a_gs = k as isize;
                            t.b_gs = plane as isize;
                            t.c_gs = n as isize;
                            t.max = max;
                            if epi >= 1 {
                                t.bias = bias.as_ptr();
                                t.lo = 0.0;
                                t.hi = 6.0;
                            }
                            if epi == 2 {
                                t.res = res.as_ptr();
                                t.lo = -1.0;
                                // One row (m = 1): its row stride is never applied.
                                if cases % 2 == 0 {
                                    t.res_rs = 0;
                                }
                            }
                            check(
                                &t,
                                &c0,
                                &format!(
                                    "{kh}x{kw} s{sh},{sw} d{dil} pad {pad} ceil {ceil} \
                                     {h}x{w} max {max} epilogue {epi}"
                                ),
                            );
                            cases += 1;
                        }
                    }
                }
            }
        }
    }
    assert!(cases > 1000, "{cases}");
}

/// A packed in panels (`a_panel`, as Kiln packs convolution weights) with column counts whose
/// right edge goes to the one-vector tile or down the rows (`col_tail`: 1 to 4 columns past
/// a multiple of the vector width, e.g. 49 = 32 + 16 + 1 and 196 = 6 x 32 + 4, in groups of
/// up to 8 panels: 200 rows in panels of 6 are 34 panels, 8 + 8 + 8 + 8 + 2), over
/// several k blocks, with and without accumulation and every epilogue, from a C full of
/// special values, bit for bit against the contract loops.
#[test]
fn packed_a_right_edges_equal_contract_loops() {
    if kernels().is_empty() {
        eprintln!("skipped: this CPU has neither AVX2 + FMA nor AVX-512F");
        return;
    }
    let mut rng = Rng(11);
    let mut cases = 0;
    for &m in &[1usize, 5, 12, 13, 30, 50, 64, 100, 200] {
        for &n in &[1usize, 3, 4, 5, 8, 9, 16, 17, 20, 21, 33, 36, 49, 52, 196] {
            for &k in &[1usize, 7, 130, 300] {
                for pn in [12usize, 8, 6] {
                    let a: Vec<f32> = (0..m * k).map(|_| rng.f()).collect();
                    let panels = m.div_ceil(pn);
                    let mut packed = vec![0f32; panels * pn * k];
                    for i in 0..m {
                        for p in 0..k {
                            packed[(i / pn) * pn * k + p * pn + i % pn] = a[i * k + p];
                        }
                    }
                    let c_rs = n + 2;
                    let b: Vec<f32> = (0..k * n).map(|_| rng.f()).collect();
                    let c0: Vec<f32> = (0..m * c_rs).map(|_| rng.f()).collect();
                    let bias: Vec<f32> = (0..m).map(|_| rng.plain()).collect();
                    let res: Vec<f32> = (0..m * (n + 3)).map(|_| rng.f()).collect();
                    for variant in 0..4 {
                        let mut t = Call::plain(
                            (m, n, k),
                            (packed.as_ptr(), 0, 0),
                            (b.as_ptr(), n as isize, 1),
                            (std::ptr::null_mut(), c_rs as isize),
                            variant & 1 == 1,
                        );
                        t.a_panel = pn;
                        if variant & 2 == 2 {
                            t.bias = bias.as_ptr();
                            t.res = res.as_ptr();
                            t.res_rs = [c_rs, 0, n + 3][cases % 3] as isize;
                            t.lo = -1.0;
                            t.hi = 6.0;
                        }
                        check(
                            &t,
                            &c0,
                            &format!(
                                "m={m} n={n} k={k} panel={pn} v={variant} res_rs={}",
                                t.res_rs
                            ),
                        );
                        cases += 1;
                    }
                }
            }
        }
    }
    assert_eq!(cases, 9 * 15 * 4 * 3 * 4);
}

/// Single rows of C over four full panels (`row_panels`: matrix-vector products such as an
/// MLP at batch 1, and the last row of a 13-row product), with B contiguous (read in place)
/// or transposed (packed), several k blocks, accumulation and every epilogue.
#[test]
fn single_rows_over_full_panels_equal_contract_loops() {
    if kernels().is_empty() {
        eprintln!("skipped: this CPU has neither AVX2 + FMA nor AVX-512F");
        return;
    }
    let mut rng = Rng(23);
    let mut cases = 0;
    for &m in &[1usize, 13, 25] {
        for &n in &[64usize, 128, 200, 256, 300] {
            for &k in &[1usize, 130, 784] {
                for variant in 0..8 {
                    let (tb, epi, acc) = (variant & 1 == 1, variant & 2 == 2, variant & 4 == 4);
                    let a: Vec<f32> = (0..m * k).map(|_| rng.f()).collect();
                    let b: Vec<f32> = (0..k * n).map(|_| rng.f()).collect();
                    let c_rs = n + 1;
                    let c0: Vec<f32> = (0..m * c_rs).map(|_| rng.f()).collect();
                    let bias: Vec<f32> = (0..m).map(|_| rng.plain()).collect();
                    let res: Vec<f32> = (0..m * (n + 3)).map(|_| rng.f()).collect();
                    let (b_rs, b_cs) = if tb { (1, k) } else { (n, 1) };
                    let mut t = Call::plain(
                        (m, n, k),
                        (a.as_ptr(), k as isize, 1),
                        (b.as_ptr(), b_rs as isize, b_cs as isize),
                        (std::ptr::null_mut(), c_rs as isize),
                        acc,
                    );
                    if epi {
                        t.bias = bias.as_ptr();
                        t.res = res.as_ptr();
                        t.res_rs = [c_rs, 0, n + 3][cases % 3] as isize;
                        t.lo = 0.0;
                        t.hi = 6.0;
                    }
                    check(
                        &t,
                        &c0,
                        &format!("m={m} n={n} k={k} v={variant} res_rs={}", t.res_rs),
                    );
                    cases += 1;
                }
            }
        }
    }
    assert_eq!(cases, 3 * 5 * 3 * 8);
}

/// A MatMul's or Gemm's fused per-column bias (a row vector, `res_rs` = 0) then Relu or
/// Clip, without a per-row bias, over the shapes of transformer and MLP layers: the matrix
/// vector product (m = 1, `row_panels` when n covers four panels), B read in place (few
/// rows, contiguous) or packed (many rows, or transposed), right edges of one vector or
/// less, several k blocks, and sums, biases and clamps meeting signed zeros, infinities and
/// NaN (the bias is the only addition, so a -0 sum plus a -0 bias stays -0 under the clamp).
#[test]
fn column_bias_equals_contract_loops() {
    if kernels().is_empty() {
        eprintln!("skipped: this CPU has neither AVX2 + FMA nor AVX-512F");
        return;
    }
    let mut rng = Rng(31);
    let mut cases = 0;
    for &m in &[1usize, 2, 7, 12, 13, 24, 40, 100] {
        for &n in &[1usize, 8, 15, 16, 17, 33, 64, 96, 128, 130, 256, 300] {
            for &k in &[1usize, 64, 129, 300] {
                for variant in 0..4 {
                    let (tb, accumulate) = (variant & 1 == 1, variant & 2 == 2);
                    let a: Vec<f32> = (0..m * k).map(|_| rng.f()).collect();
                    let b: Vec<f32> = (0..k * n).map(|_| rng.f()).collect();
                    let c0: Vec<f32> = (0..m * n).map(|_| rng.f()).collect();
                    let col: Vec<f32> = (0..n).map(|_| rng.f()).collect();
                    let (b_rs, b_cs) = if tb { (1, k) } else { (n, 1) };
                    let mut t = Call::plain(
                        (m, n, k),
                        (a.as_ptr(), k as isize, 1),
                        (b.as_ptr(), b_rs as isize, b_cs as isize),
                        (std::ptr::null_mut(), n as isize),
                        accumulate,
                    );
                    t.res = col.as_ptr();
                    t.res_rs = 0;
                    (t.lo, t.hi) = [
                        (f32::NEG_INFINITY, f32::INFINITY),
                        (0.0, f32::INFINITY),
                        (0.0, 6.0),
                        (-1.5, 0.0),
                    ][cases % 4];
                    check(
                        &t,
                        &c0,
                        &format!(
                            "m={m} n={n} k={k} tb={tb} acc={accumulate} clamp={}..{}",
                            t.lo, t.hi
                        ),
                    );
                    cases += 1;
                }
            }
        }
    }
    assert_eq!(cases, 8 * 12 * 4 * 4);
}

/// A parallel-for on `std::thread::scope`: task 0 on the calling thread, the others on
/// threads of their own; counts the calls it gets.
unsafe extern "C" fn scoped_run(
    ctx: *mut std::ffi::c_void,
    n: u32,
    task: parallel::Task,
    arg: *mut std::ffi::c_void,
) {
    let calls = &*(ctx as *const std::sync::atomic::AtomicUsize);
    calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let arg = arg as usize;
    std::thread::scope(|s| {
        for i in 1..n {
            s.spawn(move || unsafe { task(arg as *mut std::ffi::c_void, i) });
        }
        task(arg as *mut std::ffi::c_void, 0);
    });
}

/// Large calls through the C ABI with a real parallel-for of 2 and 4 threads: a 3 x 3
/// convolution split by output rows, a wide matrix product split by columns, a tall one with
/// packed A split by rows, and a depthwise convolution split by groups, each the serial
/// call's bits, and each actually handed to the parallel-for.
#[test]
fn threaded_calls_equal_serial() {
    let mut rng = Rng(41);
    let mut fill = |n: usize| (0..n).map(|_| rng.plain()).collect::<Vec<f32>>();
    // (m, n, k, conv geometry, groups, a_panel)
    let conv = |h: isize, w: isize, s: isize| Conv2d {
        h,
        w,
        kh: 3,
        kw: 3,
        sh: s,
        sw: s,
        ph: 1,
        pw: 1,
        dh: 1,
        dw: 1,
        ow: (w + 2 - 3) / s + 1,
        blocked: 0,
    };
    let g1 = conv(30, 30, 1);
    let g2 = conv(31, 29, 2);
    let dw = conv(28, 28, 1);
    type Case = (
        &'static str,
        usize,
        usize,
        usize,
        Option<Conv2d>,
        usize,
        usize,
    );
    let cases: Vec<Case> = vec![
        ("conv 3x3 s1", 64, 900, 16 * 9, Some(g1), 1, 12),
        ("conv 3x3 s2", 40, 16 * 15, 8 * 9, Some(g2), 1, 0),
        ("wide matrix", 24, 1000, 96, None, 1, 0),
        ("tall packed", 600, 20, 256, None, 1, 12),
        ("depthwise", 1, 784, 9, Some(dw), 64, 0),
        (
            "blocked conv 3x3 s1",
            64,
            900,
            32 * 9,
            Some(Conv2d { blocked: 16, ..g1 }),
            1,
            32,
        ),
    ];
    for (what, m, n, k, geo, groups, a_panel) in cases {
        let (h, w) = geo.map_or((0, 0), |g| (g.h as usize, g.w as usize));
        let b_len = match geo {
            Some(_) => (k / 9) * h * w * groups,
            None => k * n,
        };
        // A packed in panels holds whole panels (the last one's rows past m read, unused).
        let a_rows = if a_panel > 0 {
            m.div_ceil(a_panel) * a_panel
        } else {
            m
        };
        let a = fill(a_rows * k * groups);
        let b = fill(b_len);
        let bias = fill(m * groups);
        let res = fill(m * n * groups);
        let geo_abi: Vec<i64> = geo
            .map(|g| {
                [
                    g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.ow, g.blocked,
                ]
                .iter()
                .map(|&v| v as i64)
                .collect()
            })
            .unwrap_or_default();
        // A blocked C's row stride is that of a block of 16 rows.
        let crs = match geo {
            Some(g) if g.blocked > 0 => n * g.blocked as usize,
            _ => n,
        } as i64;
        let run = |kernel: Kernel, par: *const Parallel| {
            let mut c = vec![0.0f32; m * n * groups];
            unsafe {
                kernel(
                    m as i64,
                    n as i64,
                    k as i64,
                    a.as_ptr(),
                    k as i64,
                    1,
                    b.as_ptr(),
                    n as i64,
                    1,
                    if geo.is_some() {
                        geo_abi.as_ptr()
                    } else {
                        std::ptr::null()
                    },
                    c.as_mut_ptr(),
                    crs,
                    0,
                    bias.as_ptr(),
                    res.as_ptr(),
                    crs,
                    0.0,
                    f32::INFINITY,
                    groups as i64,
                    (m * k) as i64,
                    ((k / 9) * h * w) as i64,
                    (m * n) as i64,
                    0,
                    a_panel as i64,
                    par,
                )
            };
            c
        };
        // The vector kernels only (elsewhere the x86 names are the portable loops, whose
        // software fmaf would make this slow under qemu; a split does not depend on them).
        let vector = kernels()
            .into_iter()
            .filter(|(name, _)| cfg!(target_arch = "x86_64") || *name == "neon");
        for (name, kernel) in vector {
            let want = run(kernel, std::ptr::null());
            for threads in [2u32, 4] {
                let calls = std::sync::atomic::AtomicUsize::new(0);
                let par = Parallel {
                    run: Some(scoped_run),
                    ctx: &calls as *const _ as *mut std::ffi::c_void,
                    threads,
                };
                let got = run(kernel, &par);
                assert_eq!(
                    calls.load(std::sync::atomic::Ordering::Relaxed),
                    1,
                    "{name} {what}: not split over {threads} threads"
                );
                for (i, (w, g)) in want.iter().zip(&got).enumerate() {
                    assert_eq!(w.to_bits(), g.to_bits(), "{name} {what} x{threads} [{i}]");
                }
            }
        }
    }
}

/// Convolutions on the blocked NCHWc16 layout (`blocked` = 16, A packed in panels of 32):
/// every kernel (the AVX-512 direct convolution, the others' loops) against the contract's
/// loops bit for bit, plain and with each epilogue, accumulation and special values; and
/// the blocked loops against the NCHW loops on the same convolution (the layouts' index
/// maps: equal up to the rounding of a different summation order).
#[test]
fn blocked_convolutions_equal_contract_loops_and_nchw() {
    // (channels, h, w, output channels, kh, kw, stride, pad, dilation)
    type Blocked = (
        usize,
        isize,
        isize,
        usize,
        isize,
        isize,
        isize,
        isize,
        isize,
    );
    const CASES: &[Blocked] = &[
        (16, 9, 9, 16, 3, 3, 1, 1, 1),
        (32, 14, 14, 48, 3, 3, 1, 1, 1),
        (16, 30, 29, 32, 3, 3, 1, 1, 1),
        (32, 15, 15, 32, 3, 3, 2, 1, 1),
        (16, 7, 7, 64, 1, 1, 1, 0, 1),
        (16, 8, 8, 32, 1, 1, 2, 0, 1),
        (16, 10, 12, 16, 5, 5, 1, 2, 1),
        (16, 9, 9, 32, 3, 3, 1, 2, 2),
        (48, 5, 5, 32, 3, 3, 1, 1, 1),
        (16, 3, 40, 32, 3, 3, 1, 0, 1),
        (32, 2, 2, 16, 3, 3, 1, 3, 1),
        // 1x1 over more channel blocks than one pass of the AVX-512 kernel takes (8).
        (160, 4, 5, 32, 1, 1, 1, 0, 1),
        (272, 3, 3, 48, 1, 1, 2, 0, 1),
    ];
    const L: usize = 16;
    let mut rng = Rng(53);
    for (case, &(c, h, w, m, kh, kw, s, pad, d)) in CASES.iter().enumerate() {
        let oh = ((h + 2 * pad - d * (kh - 1) - 1) / s + 1) as usize;
        let ow = ((w + 2 * pad - d * (kw - 1) - 1) / s + 1) as usize;
        let (taps, plane) = ((kh * kw) as usize, (h * w) as usize);
        let k = c * taps;
        let n = oh * ow;
        let wt: Vec<f32> = (0..m * k).map(|_| rng.plain()).collect();
        let x: Vec<f32> = (0..c * plane).map(|_| rng.plain()).collect();
        // The blocked image and the weights in panels of 32 rows, k in (block, tap, lane).
        let mut xb = vec![0f32; c * plane];
        for ci in 0..c {
            for q in 0..plane {
                xb[((ci / L) * plane + q) * L + ci % L] = x[ci * plane + q];
            }
        }
        let mut ab = vec![0f32; m.div_ceil(32) * 32 * k];
        for i in 0..m {
            for ci in 0..c {
                for tap in 0..taps {
                    let p = ((ci / L) * taps + tap) * L + ci % L;
                    ab[(i / 32) * 32 * k + p * 32 + i % 32] = wt[(i * c + ci) * taps + tap];
                }
            }
        }
        let g = Conv2d {
            h,
            w,
            kh,
            kw,
            sh: s,
            sw: s,
            ph: pad,
            pw: pad,
            dh: d,
            dw: d,
            ow: ow as isize,
            blocked: 0,
        };
        let crs = (n * L) as isize;
        let blocked = |a: &[f32], xb: &[f32]| {
            let mut t = Call::plain(
                (m, n, k),
                (a.as_ptr(), 0, 0),
                (xb.as_ptr(), 0, 0),
                (std::ptr::null_mut(), crs),
                false,
            );
            t.conv = Some(Conv2d {
                blocked: L as isize,
                ..g
            });
            t.a_panel = 32;
            t.res_rs = crs;
            t
        };
        // The index maps: blocked against NCHW through the loops.
        let mut nchw = vec![0f32; m * n];
        let mut t = Call::plain(
            (m, n, k),
            (wt.as_ptr(), k as isize, 1),
            (x.as_ptr(), 0, 0),
            (nchw.as_mut_ptr(), n as isize),
            false,
        );
        t.conv = Some(g);
        unsafe { sgemm_portable(&t) };
        let mut got = vec![0f32; m * n];
        let mut t = blocked(&ab, &xb);
        t.c = got.as_mut_ptr();
        unsafe { sgemm_portable(&t) };
        for i in 0..m {
            for j in 0..n {
                // Products are at most 16 in magnitude: the orders' rounding differs by far
                // less than k * 16 * 2^-20; a wrong index is off by whole products.
                let (want, v) = (nchw[i * n + j], got[(i / L) * n * L + j * L + i % L]);
                assert!(
                    (want - v).abs() <= k as f32 * 16.0 / (1 << 20) as f32,
                    "blocked case {case} ({i}, {j}): {v} vs NCHW {want}"
                );
            }
        }
        // Every kernel against the loops.
        let what = format!("blocked case {case}");
        let c0 = vec![f32::NAN; m * n];
        let bias: Vec<f32> = (0..m).map(|_| rng.plain()).collect();
        let res: Vec<f32> = (0..m * n).map(|_| rng.plain()).collect();
        let mut t = blocked(&ab, &xb);
        check(&t, &c0, &what);
        t.bias = bias.as_ptr();
        t.res = res.as_ptr();
        t.lo = 0.0;
        t.hi = 6.0;
        check(&t, &c0, &format!("{what} with epilogue"));
        let start: Vec<f32> = (0..m * n).map(|_| rng.plain()).collect();
        let mut t = blocked(&ab, &xb);
        t.accumulate = true;
        t.lo = -1.0;
        check(&t, &start, &format!("{what} accumulating"));
        let ax: Vec<f32> = ab.iter().map(|_| rng.f()).collect();
        let xx: Vec<f32> = xb.iter().map(|_| rng.f()).collect();
        check(&blocked(&ax, &xx), &c0, &format!("{what} special values"));
    }
}
