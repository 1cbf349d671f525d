//! f32 matrix multiply kernels that generated code calls for MatMul, Gemm and convolutions
//! (`kir::Stmt::Gemm`).
//!
//! Contract (every variant, bit for bit): for `i < m`, `j < n`,
//! `acc = accumulate ? C[i, j] : +0.0`, then `acc = fma(A[i, p], B[p, j], acc)` for
//! `p = 0, 1, ..., k - 1` in that order, then the epilogue
//! `acc = acc + bias[i]` (when `bias` is given), `acc = acc + R[i, j]` (when `res` is given),
//! `acc = lo > acc ? lo : acc`, `acc = hi < acc ? hi : acc` (so NaN stays NaN), and
//! `C[i, j] = acc`, where `A[i, p] = a[i * a_rs + p * a_cs]`, `C[i, j] = c[i * c_rs + j]`,
//! `R[i, j] = res[i * res_rs + j]` (`res_rs` = `c_rs`: a residual laid out as C; 0: one row
//! vector added to every row, the per-column bias of MatMul and Gemm), and `B[p, j]` is either
//! - a strided matrix, `b[p * b_rs + j * b_cs]`, or
//! - with a convolution geometry `g` (`Conv2d`), the image patch element ("implicit
//!   im2col"): `p = (ci * kh + ti) * kw + tj`, `j = oh * ow + oj`, `ih = oh * sh - ph + ti * dh`,
//!   `iw = oj * sw - pw + tj * dw`, and `B[p, j] = b[(ci * h + ih) * w + iw]` when
//!   `0 <= ih < h` and `0 <= iw < w`, else `+0.0` (the padding is never read).
//!
//! With a geometry whose `blocked` is L > 0 the image, C and R are in the blocked NCHWc
//! layout of L channels (`gemm_nchwc.rs`): `p = ((cb * kh + ti) * kw + tj) * L + l` with
//! channel `ci = cb * L + l`, `B[p, j] = b[((cb * h + ih) * w + iw) * L + l]` (+0 outside),
//! `C[i, j] = c[(i / L) * c_rs + j * L + i % L]` and
//! `R[i, j] = res[(i / L) * res_rs + j * L + i % L]` (`c_rs`, `res_rs`: the stride of one
//! block of L rows). `m` and the channels are multiples of L.
//!
//! With `a_panel` = P > 0, A is stored packed in panels of P rows (the weights of a
//! convolution, packed at compile time so the kernel reads each k step's P values
//! contiguously): `A[i, p] = a[(i / P) * P * k + p * P + i % P]` (`a_rs`, `a_cs` unused).
//!
//! With `max` set the call is a max-reduction over the same B instead (max pooling): `A`
//! is not read, `acc` starts from `C[i, j]` or -inf, `acc = kmax(acc, B[p, j])` in order of
//! `p`, with -inf (not +0) outside a convolution's image, and the same epilogue; `kmax` is
//! NaN when either operand is, else the larger, ordering -0 below +0 (kir's `Max`).
//!
//! With `groups` > 1 the call is that many independent products: product `g` uses `a`,
//! `b`, `c` and `res` advanced by `g * a_gs`, `g * b_gs`, `g * c_gs` and `g * c_gs` elements,
//! and `bias` by `g * m` (grouped and depthwise convolutions: one call for all groups). The
//! residual advances by C's group stride whatever its `res_rs`: a grouped call's residual is
//! laid out as C (a row vector shared by all groups needs `groups` = 1).
//!
//! Each step is one correctly rounded fused multiply-add and the epilogue is two plain
//! additions and two comparisons, so the result is exactly that of the plain loops every Kiln
//! backend emits when it does not call a kernel (`Stmt::Gemm`'s fallback): choosing the
//! kernel never changes a bit. `C` must not overlap `A`, `B`, `bias` or `res`.
//!
//! Variants:
//! - `sgemm_avx2` (x86_64 with AVX2 and FMA, `#[target_feature]`): register-blocked
//!   6 x 16 micro-kernel (12 ymm accumulators, two B vectors and one broadcast A value per
//!   step), B packed four 256 x 16 panels at a time on the stack (64 KiB, 64-byte aligned)
//!   so the inner loop reads it contiguously and each A tile serves four panels from L1, or
//!   read in place when it is already contiguous and few rows use it (a contiguous B that
//!   many rows use is packed with vector loads, `pack_rows`). A packed A
//!   (`a_panel`, compile-time packed weights) is read with unit stride. A convolution's B is packed straight from the image (runs of one output row
//!   are copies, clipped at the borders), so no im2col buffer exists; the runs' offsets and
//!   lane masks for every tap are tabulated once per column block (`conv_tab`), so a row of
//!   B costs a few masked loads. A packed A (large weights stream from memory once per
//!   column block) is prefetched a tile ahead: each tile of the first panel prefetches the
//!   A of the next tile. Vectorised across
//!   columns, so every lane still runs its own k-ordered chain of FMAs: the contract holds
//!   exactly. The epilogue runs on the registers after the last k block. A convolution
//!   with one output channel per group (depthwise) and max pooling skip the packing: each
//!   output row block is computed directly with masked loads (gathers for strides), four
//!   independent accumulators at a time; for one input channel and the common kernels
//!   (3 x 3 and 5 x 5 convolutions, 3 x 3 and 2 x 2 pools, stride 1 or 2) by `dw_fast`:
//!   weights in registers, groups of output rows reading each input row once.
//!   The right edge of C: a last panel of at most one vector of columns runs a one-vector
//!   tile; with a packed A, up to 4 columns past a vector multiple (49 = 32 + 16 + 1,
//!   196 = 6 x 32 + 4) are computed down the rows instead (`col_tail`, each column's rows of
//!   one A panel in one vector), right after the tiles of the same rows. A single row of
//!   C over four full panels (a matrix-vector product) runs them together (`row_panels`),
//!   eight independent chains instead of two.
//!   Stack use: about 70 KiB (AVX2 and AVX-512 alike).
//! - `sgemm_avx512` (x86_64 with AVX-512F): the same with zmm registers, a 12 x 32 tile
//!   (24 accumulators of 32) and 128 x 32 panels.
//! - `sgemm_neon` (aarch64; `gemm_neon.rs`): 12 x 8 and 4 x 8 tiles with FMAs by lane, B
//!   packed four 256 x 8 panels at a time, compile-time packed A read in place.
//! - `sgemm_portable`: the plain loops, with the crate's exact software `fmaf`. Exported on
//!   every target under the x86 names too, so the C header is the same everywhere; Kiln only
//!   calls those symbols for targets with the features.
//!
//! Safety: the caller guarantees that every element the contract names is inside its
//! buffer (Kiln's lowering checks shapes; the interpreter runs the fallback with every
//! access bounds-checked). No allocation, no panics (offsets use wrapping arithmetic).

use crate::fma::fmaf;

/// A convolution's input geometry (`B` of the contract): the plane `h` x `w`, the kernel
/// `kh` x `kw`, strides, leading pads, dilations and the output row length `ow`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2d {
    pub h: isize,
    pub w: isize,
    pub kh: isize,
    pub kw: isize,
    pub sh: isize,
    pub sw: isize,
    pub ph: isize,
    pub pw: isize,
    pub dh: isize,
    pub dw: isize,
    pub ow: isize,
    /// Channels per block of the blocked NCHWc layout (see the module), or 0 (NCHW).
    pub blocked: isize,
}

/// Number of i64 values of a `Conv2d` as the C ABI passes it (`Conv2d::from_abi`).
pub const CONV2D_ABI_LEN: usize = 12;

impl Conv2d {
    /// From the C ABI's array `[h, w, kh, kw, sh, sw, ph, pw, dh, dw, ow, blocked]`.
    ///
    /// # Safety
    /// `g` points to `CONV2D_ABI_LEN` readable values.
    pub unsafe fn from_abi(g: *const i64) -> Conv2d {
        let v = |i: usize| *g.add(i) as isize;
        Conv2d {
            h: v(0),
            w: v(1),
            kh: v(2),
            kw: v(3),
            sh: v(4),
            sw: v(5),
            ph: v(6),
            pw: v(7),
            dh: v(8),
            dw: v(9),
            ow: v(10),
            blocked: v(11),
        }
    }
}

/// One call of the contract.
#[derive(Clone, Copy, Debug)]
pub struct Call {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub a: *const f32,
    pub a_rs: isize,
    pub a_cs: isize,
    pub b: *const f32,
    pub b_rs: isize,
    pub b_cs: isize,
    /// `Some`: B is the image patch matrix of this geometry (`b_rs`, `b_cs` unused).
    pub conv: Option<Conv2d>,
    pub c: *mut f32,
    pub c_rs: isize,
    pub accumulate: bool,
    /// Per row of C, or null.
    pub bias: *const f32,
    /// `R[i, j] = res[i * res_rs + j]`, or null.
    pub res: *const f32,
    /// Row stride of the residual: `c_rs` for one laid out as C, 0 for a row vector.
    pub res_rs: isize,
    pub lo: f32,
    pub hi: f32,
    /// Max-reduction instead of a product (see the module).
    pub max: bool,
    /// Rows per panel of a packed A, or 0 (see the module).
    pub a_panel: usize,
    pub groups: usize,
    pub a_gs: isize,
    pub b_gs: isize,
    pub c_gs: isize,
}

impl Call {
    /// Product `g` of a grouped call, as a call of one group.
    #[inline]
    pub fn group(&self, g: usize) -> Call {
        let g = g as isize;
        let mut t = *self;
        t.groups = 1;
        t.a = self.a.wrapping_offset(g.wrapping_mul(self.a_gs));
        t.b = self.b.wrapping_offset(g.wrapping_mul(self.b_gs));
        t.c = self.c.wrapping_offset(g.wrapping_mul(self.c_gs));
        if !self.bias.is_null() {
            t.bias = self.bias.wrapping_offset(g.wrapping_mul(self.m as isize));
        }
        if !self.res.is_null() {
            t.res = self.res.wrapping_offset(g.wrapping_mul(self.c_gs));
        }
        t
    }

    /// A plain product `C = A B` (or `C += A B`) with no epilogue (`res_rs` = `c_rs`, for a
    /// residual laid out as C once `res` is set).
    #[allow(clippy::too_many_arguments)]
    pub fn plain(
        (m, n, k): (usize, usize, usize),
        (a, a_rs, a_cs): (*const f32, isize, isize),
        (b, b_rs, b_cs): (*const f32, isize, isize),
        (c, c_rs): (*mut f32, isize),
        accumulate: bool,
    ) -> Call {
        Call {
            m,
            n,
            k,
            a,
            a_rs,
            a_cs,
            b,
            b_rs,
            b_cs,
            conv: None,
            c,
            c_rs,
            accumulate,
            bias: core::ptr::null(),
            res: core::ptr::null(),
            res_rs: c_rs,
            lo: f32::NEG_INFINITY,
            hi: f32::INFINITY,
            max: false,
            a_panel: 0,
            groups: 1,
            a_gs: 0,
            b_gs: 0,
            c_gs: 0,
        }
    }

    /// `A[i, p]` of the contract.
    ///
    /// # Safety
    /// As the module.
    #[inline]
    pub unsafe fn a_at(&self, i: usize, p: usize) -> f32 {
        if self.a_panel > 0 {
            let pn = self.a_panel;
            *self
                .a
                .wrapping_add((i / pn) * pn * self.k + p * pn + i % pn)
        } else {
            *self.a.wrapping_offset(
                (i as isize)
                    .wrapping_mul(self.a_rs)
                    .wrapping_add((p as isize).wrapping_mul(self.a_cs)),
            )
        }
    }

    /// `B[p, j]` of the contract.
    ///
    /// # Safety
    /// As the module.
    #[inline]
    pub unsafe fn b_at(&self, p: usize, j: usize) -> f32 {
        let (p, j) = (p as isize, j as isize);
        match &self.conv {
            None => *self.b.wrapping_offset(
                p.wrapping_mul(self.b_rs)
                    .wrapping_add(j.wrapping_mul(self.b_cs)),
            ),
            Some(g) => {
                let taps = g.kh * g.kw;
                let lb = g.blocked.max(1);
                // Channel (block when blocked), tap, lane in the block.
                let (q, l) = (p / lb, p % lb);
                let (ci, t) = (q / taps, q % taps);
                let (ti, tj) = (t / g.kw, t % g.kw);
                let (oh, oj) = (j / g.ow, j % g.ow);
                let ih = oh * g.sh - g.ph + ti * g.dh;
                let iw = oj * g.sw - g.pw + tj * g.dw;
                if ih >= 0 && ih < g.h && iw >= 0 && iw < g.w {
                    *self
                        .b
                        .wrapping_offset(((ci * g.h + ih) * g.w + iw) * lb + l)
                } else if self.max {
                    f32::NEG_INFINITY
                } else {
                    0.0
                }
            }
        }
    }

    /// Channels per block of a blocked call (0: not blocked).
    #[inline]
    pub fn blocked(&self) -> usize {
        self.conv.map_or(0, |g| g.blocked.max(0) as usize)
    }

    /// The offset of element `(i, j)` of C (or of R, with `rs` = `res_rs`).
    #[inline]
    pub fn at(&self, i: usize, j: usize, rs: isize) -> isize {
        let lb = self.blocked();
        match i.checked_div(lb) {
            Some(blk) => (blk as isize)
                .wrapping_mul(rs)
                .wrapping_add((j * lb + i % lb) as isize),
            None => (i as isize).wrapping_mul(rs).wrapping_add(j as isize),
        }
    }

    /// The epilogue of the contract on one finished sum.
    ///
    /// # Safety
    /// As the module.
    #[inline]
    pub unsafe fn finish(&self, i: usize, j: usize, mut acc: f32) -> f32 {
        if !self.bias.is_null() {
            acc += *self.bias.add(i);
        }
        if !self.res.is_null() {
            acc += *self.res.wrapping_offset(self.at(i, j, self.res_rs));
        }
        if self.lo > acc {
            acc = self.lo;
        }
        if self.hi < acc {
            acc = self.hi;
        }
        acc
    }
}

/// The contract above with plain loops (any target).
///
/// # Safety
/// Every element named by the contract must be valid to read (A, B, bias, res, and C when
/// `accumulate`) and write (C), and C must not overlap the others.
pub unsafe fn sgemm_portable(t: &Call) {
    for g in 0..t.groups {
        portable_one(&t.group(g));
    }
}

pub(crate) unsafe fn portable_one(t: &Call) {
    for i in 0..t.m {
        for j in 0..t.n {
            let cp = t.c.wrapping_offset(t.at(i, j, t.c_rs));
            let mut acc = if t.accumulate {
                *cp
            } else if t.max {
                f32::NEG_INFINITY
            } else {
                0.0
            };
            if t.max {
                for p in 0..t.k {
                    acc = kmax(acc, t.b_at(p, j));
                }
                *cp = t.finish(i, j, acc);
                continue;
            }
            for p in 0..t.k {
                acc = fmaf(t.a_at(i, p), t.b_at(p, j), acc);
            }
            *cp = t.finish(i, j, acc);
        }
    }
}

/// Bit `l` of `b` (below 32) moved to bit `2 l`: the input lanes a stride-2 row reads.
#[inline]
pub fn spread2(b: u64) -> u64 {
    let mut x = b & 0xffff_ffff;
    x = (x | (x << 16)) & 0x0000_ffff_0000_ffff;
    x = (x | (x << 8)) & 0x00ff_00ff_00ff_00ff;
    x = (x | (x << 4)) & 0x0f0f_0f0f_0f0f_0f0f;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    (x | (x << 1)) & 0x5555_5555_5555_5555
}

/// kir's float `Max`: NaN when either operand is NaN, else the larger, with -0 < +0.
#[inline]
pub fn kmax(a: f32, b: f32) -> f32 {
    if a.is_nan() || b.is_nan() {
        f32::NAN
    } else if a == b {
        f32::from_bits(a.to_bits() & b.to_bits())
    } else if a > b {
        a
    } else {
        b
    }
}

/// Rows of the padding value read by the depthwise kernels (`dw_fast`) for the input rows
/// outside the image: +0 for products, -inf for max pooling (at most `DW_FILL` columns).
#[cfg(target_arch = "x86_64")]
const DW_FILL: usize = 1024;
#[cfg(target_arch = "x86_64")]
static DW_ZERO: [f32; DW_FILL] = [0.0; DW_FILL];
#[cfg(target_arch = "x86_64")]
static DW_NEG_INF: [f32; DW_FILL] = [f32::NEG_INFINITY; DW_FILL];

/// Packs the `kc` x `nr` block of a convolution's B at rows `k0..`, columns `j0..` into
/// `panel` (row stride `NR`, columns past `nr` zero). The block's columns split into runs
/// of one output row; for each row of B a run is a (strided) copy of one input row segment,
/// clipped to the image, with zeros outside it.
///
/// # Safety
/// As the module; `panel` holds `kc * NR` values.
#[inline(always)]
#[cfg_attr(
    not(any(
        target_arch = "x86_64",
        all(target_arch = "aarch64", target_feature = "neon")
    )),
    allow(dead_code)
)]
unsafe fn pack_conv<const NR: usize>(
    g: &Conv2d,
    x: *const f32,
    (k0, kc): (usize, usize),
    (j0, nr): (usize, usize),
    panel: *mut f32,
) {
    // Runs: (first column, length, input row base, input column base).
    let mut runs = [(0usize, 0usize, 0isize, 0isize); NR];
    let mut nruns = 0;
    let (mut oh, mut oj) = ((j0 as isize) / g.ow, (j0 as isize) % g.ow);
    let mut jj = 0;
    while jj < nr {
        let len = ((g.ow - oj) as usize).min(nr - jj);
        runs[nruns] = (jj, len, oh * g.sh - g.ph, oj * g.sw - g.pw);
        nruns += 1;
        jj += len;
        oj = 0;
        oh += 1;
    }
    let taps = g.kh * g.kw;
    let k0 = k0 as isize;
    let (mut ci, mut ti, mut tj) = (k0 / taps, (k0 % taps) / g.kw, k0 % g.kw);
    let plane = g.h * g.w;
    for p in 0..kc {
        let dst = panel.add(p * NR);
        let xc = x.wrapping_offset(ci * plane);
        let (ioff, joff) = (ti * g.dh, tj * g.dw);
        for &(c0, len, ih0, iw0) in &runs[..nruns] {
            let d = dst.add(c0);
            let ih = ih0 + ioff;
            if ih < 0 || ih >= g.h {
                for t in 0..len {
                    *d.add(t) = 0.0;
                }
                continue;
            }
            let row = xc.wrapping_offset(ih * g.w);
            let iw = iw0 + joff;
            // Columns t with 0 <= iw + t * sw < w.
            let lo = if iw >= 0 {
                0
            } else {
                (((-iw) + g.sw - 1) / g.sw) as usize
            };
            let hi = if iw >= g.w {
                0
            } else {
                (((g.w - 1 - iw) / g.sw + 1) as usize).min(len)
            };
            let lo = lo.min(hi);
            for t in 0..lo {
                *d.add(t) = 0.0;
            }
            if g.sw == 1 {
                let s = row.wrapping_offset(iw);
                for t in lo..hi {
                    *d.add(t) = *s.add(t);
                }
            } else {
                for t in lo..hi {
                    *d.add(t) = *row.wrapping_offset(iw + t as isize * g.sw);
                }
            }
            for t in hi..len {
                *d.add(t) = 0.0;
            }
        }
        for t in nr..NR {
            *dst.add(t) = 0.0;
        }
        tj += 1;
        if tj == g.kw {
            tj = 0;
            ti += 1;
            if ti == g.kh {
                ti = 0;
                ci += 1;
            }
        }
    }
}

/// Packs the `kc` x `nr` block of a strided B at rows `k0..`, columns `j0..`.
///
/// # Safety
/// As `pack_conv`.
#[inline(always)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
unsafe fn pack_matrix<const NR: usize>(
    t: &Call,
    (k0, kc): (usize, usize),
    (j0, nr): (usize, usize),
    panel: *mut f32,
) {
    for p in 0..kc {
        let row = ((k0 + p) as isize).wrapping_mul(t.b_rs);
        for jj in 0..NR {
            let v = if jj < nr {
                *t.b.wrapping_offset(row.wrapping_add(((j0 + jj) as isize).wrapping_mul(t.b_cs)))
            } else {
                0.0
            };
            *panel.add(p * NR + jj) = v;
        }
    }
}

#[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
#[path = "gemm_neon.rs"]
mod neon;
#[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
pub use neon::sgemm as sgemm_neon;

#[cfg(target_arch = "x86_64")]
#[path = "gemm_nchwc.rs"]
mod nchwc;

#[cfg(target_arch = "x86_64")]
pub use avx2::sgemm as sgemm_avx2;
#[cfg(target_arch = "x86_64")]
pub use avx512::sgemm as sgemm_avx512;

/// `body` once for each `i` in `0..n` (`n` at most the number of literals given), as
/// straight-line code with `i` a constant: full unrolling that does not depend on LLVM's
/// heuristics (`dw_acc`).
#[cfg(target_arch = "x86_64")]
macro_rules! unroll {
    ($i:ident < $n:expr; $($k:literal)* => $body:block) => {
        $(
            if $k < $n {
                let $i: usize = $k;
                $body
            }
        )*
    };
}

/// One x86_64 variant: the blocking below with the given vector type and intrinsics. `MR`
/// rows x `NR` columns (two vectors) of C live in registers; B is packed into a `KC` x `NR`
/// panel, or read in place when it is a contiguous matrix and at most `DIRECT_ROWS` rows
/// use it.
#[cfg(target_arch = "x86_64")]
macro_rules! x86_variant {
    ($module:ident, $feature:literal, $vec:ty, $lanes:literal, $mr:literal, $kc:literal,
     $zero:ident, $load:ident, $store:ident, $set1:ident, $fma:ident, $add:ident,
     $max:ident, $min:ident, $mload:path, $mstore:path, $mask:ty, $mk:path, $mloadm:path,
     $mgatherm:path, $kmax:path, $bits:path, $tap:ty, $tapm:path, $tapld:path,
     $kmaxs:path, $nanacc:path, $kmaxf:path, $rowm:ty, $rowmasks:path, $rowld:path,
     $even:path, $or:path) => {
        mod $module {
            use super::{pack_conv, pack_matrix, spread2, Call, Conv2d};
            use core::arch::x86_64::*;

            const MR: usize = $mr;
            const LANES: usize = $lanes;
            const NR: usize = 2 * LANES;
            const KC: usize = $kc;
            const DIRECT_ROWS: usize = 2 * MR;
            /// Panels of B packed per k block (`one`): 4 x 16 KiB of stack.
            const NP: usize = 4;
            /// Most panels per block when k is short (the block's stack holds `NP` panels
            /// of `KC` rows, or more panels of fewer rows).
            const NPX: usize = 16;
            /// Bytes of A prefetched per k step of a tile (a packed A tile reads at most
            /// MR * 4 <= 64 bytes per step).
            const PF_STEP: usize = 64;
            /// Most columns `col_tail` computes.
            const CT: usize = 4;

            /// The contract of the module.
            ///
            /// # Safety
            /// As `sgemm_portable`, and the CPU must have the variant's features.
            #[target_feature(enable = $feature)]
            pub unsafe fn sgemm(t: &Call) {
                if t.blocked() > 0 {
                    // The blocked layout: the direct NCHWc16 kernel, else the loops.
                    if LANES == 16 && t.blocked() == 16 && !t.max {
                        return super::nchwc::conv16(t);
                    }
                    return super::sgemm_portable(t);
                }
                let dw = match &t.conv {
                    // One row of A read with unit stride (a packed A's one row is strided by
                    // its panel height).
                    Some(g)
                        if t.m == 1
                            && !t.accumulate
                            && ((t.a_cs == 1 && t.a_panel == 0) || t.max) =>
                    {
                        DwCols::of(g)
                    }
                    _ => None,
                };
                for gi in 0..t.groups {
                    let s = t.group(gi);
                    match (&s.conv, &dw) {
                        (Some(g), Some(cols)) if s.max => depthwise::<true>(&s, g, cols),
                        (Some(g), Some(cols)) => depthwise::<false>(&s, g, cols),
                        _ if s.max => super::portable_one(&s),
                        _ => one(&s),
                    }
                }
            }

            /// Most tap columns and column blocks of an output row `depthwise` handles.
            const DW_KW: usize = 8;
            const DW_BLOCKS: usize = 16;

            /// For each block of `LANES` output columns and each tap column: the input
            /// column of lane 0 and the mask of the lanes inside the image.
            struct DwCols {
                per_row: usize,
                cols: [[(isize, $mask); DW_KW]; DW_BLOCKS],
            }

            impl DwCols {
                #[target_feature(enable = $feature)]
                unsafe fn of(g: &Conv2d) -> Option<DwCols> {
                    let ow = g.ow.max(0) as usize;
                    let per_row = ow.div_ceil(LANES);
                    if g.kw as usize > DW_KW || per_row > DW_BLOCKS || g.sw < 1 {
                        return None;
                    }
                    let mut d = DwCols {
                        per_row,
                        cols: [[(0, $mk(0, 0)); DW_KW]; DW_BLOCKS],
                    };
                    for b in 0..per_row {
                        let o0 = b * LANES;
                        let len = if ow - o0 < LANES { ow - o0 } else { LANES };
                        for tj in 0..g.kw as usize {
                            let iw = o0 as isize * g.sw - g.pw + tj as isize * g.dw;
                            // Lanes l < len with 0 <= iw + l * sw < w.
                            let lo = if iw >= 0 {
                                0
                            } else {
                                ((-iw + g.sw - 1) / g.sw) as usize
                            };
                            let hi = if iw >= g.w {
                                0
                            } else {
                                (((g.w - 1 - iw) / g.sw + 1) as usize).min(len)
                            };
                            d.cols[b][tj] = (iw, $mk(lo.min(hi), hi));
                        }
                    }
                    Some(d)
                }
            }

            /// One output channel of a convolution (a depthwise one's group) computed
            /// directly. The output plane splits into units of one row and up to `LANES`
            /// columns; 4 units at a time each keep one accumulator vector through the
            /// k-ordered chain over the taps (independent chains hide the FMA latency),
            /// reading input rows with masked loads, or masked gathers for a horizontal
            /// stride (zeros outside the image, as the contract's +0).
            #[target_feature(enable = $feature)]
            unsafe fn depthwise<const MAX: bool>(t: &Call, g: &Conv2d, cols: &DwCols) {
                let ow = g.ow as usize;
                if ow == 0 {
                    return;
                }
                // One input channel (the chain is just the taps), a common kernel shape and
                // at least `DW_U2` output rows: the specialised path.
                if t.k as isize == g.kh * g.kw
                    && g.sh == g.sw
                    && g.dh == 1
                    && g.w <= super::DW_FILL as isize
                    && t.n / ow >= DW_U2
                    && (g.sw == 1 || g.dw == 1)
                {
                    // The shapes of depthwise convolutions and of max pools in common
                    // networks (each instance is sizeable code).
                    let done = match (MAX, g.kh, g.kw, g.sw) {
                        (false, 3, 3, 1) => dw_fast::<3, 3, 1, false>(t, g, cols),
                        (false, 3, 3, 2) => dw_fast::<3, 3, 2, false>(t, g, cols),
                        (false, 5, 5, 1) => dw_fast::<5, 5, 1, false>(t, g, cols),
                        (false, 5, 5, 2) => dw_fast::<5, 5, 2, false>(t, g, cols),
                        (true, 3, 3, 1) => dw_fast::<3, 3, 1, true>(t, g, cols),
                        (true, 3, 3, 2) => dw_fast::<3, 3, 2, true>(t, g, cols),
                        (true, 2, 2, 2) => dw_fast::<2, 2, 2, true>(t, g, cols),
                        _ => false,
                    };
                    if done {
                        return;
                    }
                }
                let units = (t.n / ow) * cols.per_row;
                let (mut r, mut b) = (0usize, 0usize);
                let mut next = || {
                    let u = (r, b);
                    b += 1;
                    if b == cols.per_row {
                        b = 0;
                        r += 1;
                    }
                    u
                };
                let mut u0 = 0;
                while u0 + 4 <= units {
                    let un = [next(), next(), next(), next()];
                    dw_units::<4, MAX>(t, g, cols, un);
                    u0 += 4;
                }
                while u0 < units {
                    dw_units::<1, MAX>(t, g, cols, [next()]);
                    u0 += 1;
                }
            }

            /// The units (output row, column block) of `depthwise` (a const count, so that
            /// the accumulators stay in registers).
            #[inline]
            #[target_feature(enable = $feature)]
            unsafe fn dw_units<const U: usize, const MAX: bool>(
                t: &Call,
                g: &Conv2d,
                cols: &DwCols,
                un: [(usize, usize); U],
            ) {
                let ow = g.ow as usize;
                let taps = (g.kh * g.kw) as usize;
                let chans = if taps == 0 { 0 } else { t.k / taps };
                let plane = g.h * g.w;
                let kw = g.kw as usize;
                // The padding value and the accumulators' start: +0 for products, -inf
                // for max pooling.
                let fill = if MAX {
                    $set1(f32::NEG_INFINITY)
                } else {
                    $zero()
                };
                let mut acc = [fill; U];
                let mut ap = t.a;
                for ci in 0..chans as isize {
                    let xc = t.b.wrapping_offset(ci * plane);
                    for ti in 0..g.kh {
                        let mut rows = [core::ptr::null::<f32>(); U];
                        for d in 0..U {
                            let ih = un[d].0 as isize * g.sh - g.ph + ti * g.dh;
                            if ih >= 0 && ih < g.h {
                                rows[d] = xc.wrapping_offset(ih * g.w);
                            }
                        }
                        for tj in 0..kw {
                            let wv = if MAX { fill } else { $set1(*ap) };
                            ap = ap.wrapping_add(1);
                            for d in 0..U {
                                let xv = if rows[d].is_null() {
                                    fill
                                } else {
                                    let (iw, mask) =
                                        *cols.cols.get_unchecked(un[d].1).get_unchecked(tj);
                                    let p = rows[d].wrapping_offset(iw);
                                    if g.sw == 1 {
                                        $mloadm(p, mask, fill)
                                    } else {
                                        $mgatherm(p, g.sw, mask, fill)
                                    }
                                };
                                acc[d] = if MAX {
                                    $kmax(acc[d], xv)
                                } else {
                                    $fma(wv, xv, acc[d])
                                };
                            }
                        }
                    }
                }
                for d in 0..U {
                    let (r, b) = un[d];
                    let o0 = b * LANES;
                    let len = if ow - o0 < LANES { ow - o0 } else { LANES };
                    dw_store(t, r * ow + o0, len, acc[d]);
                }
            }

            /// The epilogue of the contract on the finished sums of `len` output columns at
            /// `at` (one channel: `bias[0]`; one row, `m` = 1, so the residual's row stride
            /// never applies), and their masked store.
            #[inline]
            #[target_feature(enable = $feature)]
            unsafe fn dw_store(t: &Call, at: usize, len: usize, v: $vec) {
                let bias = (!t.bias.is_null()).then(|| $set1(*t.bias));
                let res = (!t.res.is_null()).then(|| $mload(t.res.add(at), 0, len));
                $mstore(t.c.add(at), len, epilogue(t, v, bias, res));
            }

            /// The contract's epilogue on one vector of finished sums: `+ bias`, `+ res`
            /// (each when given), then the `lo`/`hi` clamp.
            #[inline]
            #[target_feature(enable = $feature)]
            unsafe fn epilogue(t: &Call, mut v: $vec, bias: Option<$vec>, res: Option<$vec>) -> $vec {
                if let Some(b) = bias {
                    v = $add(v, b);
                }
                if let Some(r) = res {
                    v = $add(v, r);
                }
                if t.lo != f32::NEG_INFINITY {
                    v = $max($set1(t.lo), v);
                }
                if t.hi != f32::INFINITY {
                    v = $min($set1(t.hi), v);
                }
                v
            }

            /// Output rows per group of the specialised depthwise path (independent
            /// accumulators hiding the FMA latency), and the smaller group for the ends.
            const DW_U: usize = if LANES == 16 { 8 } else { 4 };
            const DW_U2: usize = DW_U / 2;
            /// `DW_U` for stride 1 with 16 lanes: 7 rows (most planes are multiples of 7).
            const DW_U7: usize = if LANES == 16 { 7 } else { DW_U };

            /// What `dw_fast` needs of the geometry for its row groups.
            struct DwRows {
                /// The channel's input plane.
                x: *const f32,
                h: isize,
                w: isize,
                ph: isize,
                ow: usize,
                /// Output rows `r_lo..r_hi` read only input rows inside the image.
                r_lo: usize,
                r_hi: usize,
            }

            /// `depthwise` for one input channel (`k == KH * KW`), a `KH` x `KW` kernel,
            /// stride `S` both ways and no vertical dilation. The weights stay in registers
            /// (broadcast once per channel); per block of `LANES` output columns the `KW`
            /// (input column, lane mask) pairs are prepared once; the block's output rows
            /// then go by groups of `DW_U` rows, one accumulator each (`dw_acc`). The last
            /// group of a block is moved back to end at the last row (recomputing a few rows,
            /// identically) instead of running singly.
            #[target_feature(enable = $feature)]
            unsafe fn dw_fast<const KH: usize, const KW: usize, const S: usize, const MAX: bool>(
                t: &Call,
                g: &Conv2d,
                cols: &DwCols,
            ) -> bool {
                let ow = g.ow as usize;
                let oh = t.n / ow;
                let mut wv = [[$zero(); KW]; KH];
                if !MAX {
                    for (ti, row) in wv.iter_mut().enumerate() {
                        for (tj, v) in row.iter_mut().enumerate() {
                            *v = $set1(*t.a.add(ti * KW + tj));
                        }
                    }
                }
                // r * S - ph >= 0 and r * S - ph + KH - 1 <= h - 1.
                let si = S as isize;
                let r_lo = if g.ph <= 0 {
                    0
                } else {
                    ((g.ph + si - 1) / si) as usize
                };
                let top = g.h - 1 + g.ph - (KH as isize - 1);
                let r_hi = if top < 0 { 0 } else { (top / si + 1) as usize };
                let r_lo = r_lo.min(oh);
                let rows = DwRows {
                    x: t.b,
                    h: g.h,
                    w: g.w,
                    ph: g.ph,
                    ow,
                    r_lo,
                    r_hi: r_hi.clamp(r_lo, oh),
                };
                for b in 0..cols.per_row {
                    let mut taps = [$tapm($mk(0, 0)); KW];
                    let mut iws = [0isize; KW];
                    for tj in 0..KW {
                        let (iw, mask) = *cols.cols.get_unchecked(b).get_unchecked(tj);
                        iws[tj] = iw;
                        taps[tj] = $tapm(mask);
                    }
                    let o0 = b * LANES;
                    let len = if ow - o0 < LANES { ow - o0 } else { LANES };
                    let pm = $rowmasks(iws[0], g.w);
                    let cb = (&wv, &taps, &iws, &pm, o0, len);
                    let mut r0 = 0;
                    while r0 < oh {
                        r0 = if S == 1 && oh >= DW_U7 {
                            let s = r0.min(oh - DW_U7);
                            dw_group::<DW_U7, KH, KW, S, MAX>(t, &rows, s, cb);
                            s + DW_U7
                        } else if oh >= DW_U {
                            let s = r0.min(oh - DW_U);
                            dw_group::<DW_U, KH, KW, S, MAX>(t, &rows, s, cb);
                            s + DW_U
                        } else {
                            let s = r0.min(oh - DW_U2);
                            dw_group::<DW_U2, KH, KW, S, MAX>(t, &rows, s, cb);
                            s + DW_U2
                        };
                    }
                }
                true
            }

            /// A column block of `dw_fast`: the weights, the taps, their input columns, the
            /// lanes of an input row segment (`$rowld`), the first output column and the
            /// number of columns.
            type DwBlock<'a, const KH: usize, const KW: usize> = (
                &'a [[$vec; KW]; KH],
                &'a [$tap; KW],
                &'a [isize; KW],
                &'a $rowm,
                usize,
                usize,
            );

            /// Output rows `r0..r0 + U` of one column block of `dw_fast`, stored.
            #[inline]
            #[target_feature(enable = $feature)]
            unsafe fn dw_group<
                const U: usize,
                const KH: usize,
                const KW: usize,
                const S: usize,
                const MAX: bool,
            >(
                t: &Call,
                rows: &DwRows,
                r0: usize,
                cb: DwBlock<'_, KH, KW>,
            ) {
                let acc = if r0 < rows.r_lo || r0 + U > rows.r_hi {
                    dw_acc::<U, KH, KW, S, MAX, true>(rows, r0, cb)
                } else {
                    dw_acc::<U, KH, KW, S, MAX, false>(rows, r0, cb)
                };
                let (_, _, _, _, o0, len) = cb;
                for (d, &v) in acc.iter().enumerate() {
                    dw_store(t, (r0 + d) * rows.ow + o0, len, v);
                }
            }

            /// The accumulators of `dw_group`. The group's input rows are read once each, in
            /// order: the `KW` tap vectors of a row (a masked load each for stride 1,
            /// `$rowld` for stride 2), then one FMA (or max) per tap into each output row
            /// whose window holds the row.
            /// An output row meets its input rows in order, so each chain is still the
            /// contract's: taps in (ti, tj) order from +0 (-inf). With `EDGE` set (some
            /// row of the group has taps outside the image), input rows outside the image
            /// read a row of the padding value instead.
            #[inline]
            #[target_feature(enable = $feature)]
            unsafe fn dw_acc<
                const U: usize,
                const KH: usize,
                const KW: usize,
                const S: usize,
                const MAX: bool,
                const EDGE: bool,
            >(
                rows: &DwRows,
                r0: usize,
                (wv, taps, iws, pm, _, _): DwBlock<'_, KH, KW>,
            ) -> [$vec; U] {
                let mut acc = [if MAX {
                    $set1(f32::NEG_INFINITY)
                } else {
                    $zero()
                }; U];
                // Max pooling: a sum of |x| per lane, NaN exactly when some x was NaN.
                let mut nan = [$zero(); U];
                let fill = if MAX {
                    super::DW_NEG_INF.as_ptr()
                } else {
                    super::DW_ZERO.as_ptr()
                };
                let ih0 = (r0 * S) as isize - rows.ph;
                let mut rp = rows.x.wrapping_offset(ih0.wrapping_mul(rows.w));
                // Straight-line code: the tap rows below are then constants.
                // At most 7 * 2 + 5 rows (AVX-512, stride 2, 5 x 5).
                unroll!(i < (U - 1) * S + KH; 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 => {
                    let ih = ih0 + i as isize;
                    let p = if EDGE && (ih < 0 || ih >= rows.h) {
                        fill
                    } else {
                        rp
                    };
                    #[allow(unused_assignments)]
                    {
                        rp = rp.wrapping_offset(rows.w);
                    }
                    let xs = if S == 2 {
                        $rowld(p, taps, iws, pm)
                    } else {
                        let mut xs = [$zero(); KW];
                        for tj in 0..KW {
                            xs[tj] = $tapld(p.wrapping_offset(iws[tj]), taps[tj]);
                        }
                        xs
                    };
                    let mut xn = $zero();
                    if MAX {
                        for &x in xs.iter() {
                            xn = $nanacc(xn, x);
                        }
                    }
                    unroll!(d < U; 0 1 2 3 4 5 6 7 => {
                        // The tap row of input row i for output row d.
                        let ti = i.wrapping_sub(d * S);
                        if ti < KH {
                            if MAX {
                                nan[d] = $add(nan[d], xn);
                                for tj in 0..KW {
                                    acc[d] = $kmaxs(acc[d], xs[tj], taps[tj]);
                                }
                            } else {
                                for tj in 0..KW {
                                    acc[d] = $fma(wv[ti][tj], xs[tj], acc[d]);
                                }
                            }
                        }
                    });
                });
                if MAX {
                    for d in 0..U {
                        acc[d] = $kmaxf(acc[d], nan[d]);
                    }
                }
                acc
            }

            /// One group's product, register-blocked.
            #[target_feature(enable = $feature)]
            unsafe fn one(t: &Call) {
                let (m, n, k) = (t.m, t.n, t.k);
                // B is packed a k block and up to NP panels (NP * NR columns) at a time; each
                // tile of A then runs over all the block's panels while it sits in L1, so A
                // (the weights) streams from memory once per NP panels, not once per panel.
                // Written before it is read (packing fills every row it uses); not
                // zero-initialised (a memset per call). 64-byte aligned so that no vector
                // load of it splits a cache line.
                #[repr(align(64))]
                struct Block([f32; KC * NR * NP]);
                let mut block = core::mem::MaybeUninit::<Block>::uninit();
                let block = core::ptr::addr_of_mut!((*block.as_mut_ptr()).0) as *mut f32;
                // Written by `conv_tab` before `pack_conv_tab` reads it.
                let mut tab = core::mem::MaybeUninit::<[(isize, u64); NP * PACK_TAB]>::uninit();
                let tab = tab.as_mut_ptr() as *mut (isize, u64);
                // Panels per block: a short k leaves room for more of them, so that C is
                // written in longer runs per row.
                let np = if k >= KC { NP } else { (KC * NP / k.max(1)).min(NPX) };
                let pstride = KC * NP / np * NR;
                // Each panel's share of the packing tables.
                let cap = NP * PACK_TAB / np;
                let mut j0 = 0usize;
                while j0 < n {
                    let nb = if n - j0 < NR * np { n - j0 } else { NR * np };
                    let panels = nb.div_ceil(NR);
                    // A convolution's packing tables of the block's panels (`conv_tab`).
                    let mut tabs = [None; NPX];
                    if let Some(g) = &t.conv {
                        if g.kw as usize <= PACK_KW && g.sw >= 1 {
                            for (q, tq) in tabs.iter_mut().enumerate().take(panels) {
                                let jq = j0 + q * NR;
                                let nr = if n - jq < NR { n - jq } else { NR };
                                *tq = conv_tab(g, (jq, nr), tab.add(q * cap), (cap, g.sw == 2));
                            }
                        }
                    }
                    // One row of C from NP panels of B read in place (a matrix-vector
                    // product with the weights as B: a batch-1 Linear layer): nothing is
                    // packed, so nothing needs k blocks, and one pass over the whole k
                    // (`row_panels`) saves the work around each block (mlp_mnist at batch
                    // 1: 7.16 -> 6.7 us).
                    let whole_k =
                        m == 1 && t.conv.is_none() && t.b_cs == 1 && np == NP && nb == NR * NP;
                    let mut k0 = 0usize;
                    // At least once, so that k == 0 still writes C (zeros, or C itself).
                    loop {
                        let kc = if k - k0 < KC || whole_k { k - k0 } else { KC };
                        // Each panel's B: (pointer, row stride, columns).
                        let mut bps = [(core::ptr::null::<f32>(), 0isize, 0usize); NPX];
                        for (q, bq) in bps.iter_mut().enumerate().take(panels) {
                            let jq = j0 + q * NR;
                            let nr = if n - jq < NR { n - jq } else { NR };
                            let direct =
                                t.conv.is_none() && t.b_cs == 1 && nr == NR && m <= DIRECT_ROWS;
                            *bq = if direct {
                                let off =
                                    (k0 as isize).wrapping_mul(t.b_rs).wrapping_add(jq as isize);
                                (t.b.wrapping_offset(off), t.b_rs, nr)
                            } else {
                                let panel = block.add(q * pstride);
                                match &t.conv {
                                    Some(g) if g.kw as usize <= PACK_KW && g.sw >= 1 => {
                                        let tq = tab.add(q * cap) as *const _;
                                        match tabs[q] {
                                            Some(1) if g.sw == 1 => {
                                                pack_tab_s1::<1>(g, t.b, (k0, kc), tq, panel)
                                            }
                                            Some(2) if g.sw == 1 => {
                                                pack_tab_s1::<2>(g, t.b, (k0, kc), tq, panel)
                                            }
                                            Some(3) if g.sw == 1 => {
                                                pack_tab_s1::<3>(g, t.b, (k0, kc), tq, panel)
                                            }
                                            Some(1) if g.sw == 2 => pack_tab_s2::<1>(
                                                g,
                                                t.b,
                                                (k0, kc),
                                                (tab.add(q * cap) as *const _, 1),
                                                panel,
                                            ),
                                            Some(2) if g.sw == 2 => pack_tab_s2::<2>(
                                                g,
                                                t.b,
                                                (k0, kc),
                                                (tab.add(q * cap) as *const _, 2),
                                                panel,
                                            ),
                                            Some(nruns) if g.sw == 2 => pack_tab_s2::<0>(
                                                g,
                                                t.b,
                                                (k0, kc),
                                                (tab.add(q * cap) as *const _, nruns),
                                                panel,
                                            ),
                                            Some(nruns) => pack_conv_tab(
                                                g,
                                                t.b,
                                                (k0, kc),
                                                (tab.add(q * cap) as *const _, nruns),
                                                panel,
                                            ),
                                            None => pack_conv_vec(g, t.b, (k0, kc), (jq, nr), panel),
                                        }
                                    }
                                    Some(g) => pack_conv::<NR>(g, t.b, (k0, kc), (jq, nr), panel),
                                    None if t.b_cs == 1 => {
                                        pack_rows(t, (k0, kc), (jq, nr), panel)
                                    }
                                    None => pack_matrix::<NR>(t, (k0, kc), (jq, nr), panel),
                                }
                                (panel as *const f32, NR as isize, nr)
                            };
                        }
                        // The right edge of C: when the last panel's columns past a vector
                        // multiple are few (at most CT) and A is packed in panels of at most
                        // LANES rows, those columns go down the rows (`col_tail`) and the
                        // panel's tiles cover only the whole vectors.
                        let mut tail = (0usize, 0usize);
                        if t.a_panel > 0 && t.a_panel <= LANES && t.a_panel <= MR {
                            let nr = bps[panels - 1].2;
                            let vec_cols = if nr > LANES { LANES } else { 0 };
                            if nr < NR && nr - vec_cols <= CT {
                                bps[panels - 1].2 = vec_cols;
                                tail = (vec_cols, nr - vec_cols);
                            }
                        }
                        let first = k0 == 0 && !t.accumulate;
                        let last = k0 + kc >= k;
                        // Panels whose right edge `col_tail` has yet to compute: it takes
                        // several at once (independent chains), from row `tail_i0`.
                        let (mut tail_i0, mut tail_np) = (0usize, 0usize);
                        let mut i0 = 0usize;
                        while i0 < m {
                            let mut mr = if m - i0 < MR { m - i0 } else { MR };
                            // A packed A: the tile's rows within one panel, read with unit
                            // row stride and the panel height as k stride.
                            let (a_tile, a_rs, a_cs) = if t.a_panel > 0 {
                                let pn = t.a_panel;
                                mr = mr.min(pn - i0 % pn);
                                let off = (i0 / pn) * pn * k + i0 % pn + k0 * pn;
                                (t.a.wrapping_add(off), 1, pn as isize)
                            } else {
                                let off = (i0 as isize)
                                    .wrapping_mul(t.a_rs)
                                    .wrapping_add((k0 as isize).wrapping_mul(t.a_cs));
                                (t.a.wrapping_offset(off), t.a_rs, t.a_cs)
                            };
                            // A packed A streams from memory (large weights): while the
                            // first panel's tile runs, the next tile's A is prefetched.
                            // (After the last row tile: the next k block's first.)
                            let pf_next = if t.a_panel > 0 && (i0 + mr < m || k0 + kc < k) {
                                let pn = t.a_panel;
                                let (i1, k1) = if i0 + mr < m { (i0 + mr, k0) } else { (0, k0 + kc) };
                                let off = (i1 / pn) * pn * k + i1 % pn + k1 * pn;
                                t.a.wrapping_add(off)
                            } else {
                                core::ptr::null()
                            };
                            // One row of C (a matrix-vector product): one tile row over
                            // all NP full panels at once, so 2 * NP independent chains hide
                            // the FMA latency instead of 2.
                            let one_row = mr == 1
                                && panels == NP
                                && np == NP
                                && bps[..NP].iter().all(|&(_, _, nr)| nr == NR);
                            if one_row {
                                let c_off = (i0 as isize)
                                    .wrapping_mul(t.c_rs)
                                    .wrapping_add(j0 as isize);
                                let r_off = (i0 as isize)
                                    .wrapping_mul(t.res_rs)
                                    .wrapping_add(j0 as isize);
                                row_panels(
                                    t,
                                    (a_tile, a_cs),
                                    &*(bps.as_ptr() as *const [(*const f32, isize, usize); NP]),
                                    kc,
                                    (i0, c_off, r_off),
                                    (first, last),
                                );
                            }
                            for (q, &(bp, bstride, nr)) in bps.iter().enumerate().take(panels) {
                                if nr == 0 || one_row {
                                    continue;
                                }
                                let jq = (j0 + q * NR) as isize;
                                let c_off = (i0 as isize).wrapping_mul(t.c_rs).wrapping_add(jq);
                                let tl = Tile {
                                    kc,
                                    a: a_tile,
                                    a_rs,
                                    a_cs,
                                    b: bp,
                                    b_stride: bstride,
                                    c: t.c.wrapping_offset(c_off),
                                    c_rs: t.c_rs,
                                    nr,
                                    first,
                                    last,
                                    bias: if t.bias.is_null() {
                                        t.bias
                                    } else {
                                        t.bias.add(i0)
                                    },
                                    res: if t.res.is_null() {
                                        t.res
                                    } else {
                                        t.res.wrapping_offset(
                                            (i0 as isize).wrapping_mul(t.res_rs).wrapping_add(jq),
                                        )
                                    },
                                    res_rs: t.res_rs,
                                    lo: t.lo,
                                    hi: t.hi,
                                    pf: if q == 0 { pf_next } else { core::ptr::null() },
                                };
                                macro_rules! by_rows {
                                    ($unit:literal, $w2:literal) => {
                                        match mr {
                                            12 => tile::<12, $unit, $w2>(&tl),
                                            11 => tile::<11, $unit, $w2>(&tl),
                                            10 => tile::<10, $unit, $w2>(&tl),
                                            9 => tile::<9, $unit, $w2>(&tl),
                                            8 => tile::<8, $unit, $w2>(&tl),
                                            7 => tile::<7, $unit, $w2>(&tl),
                                            6 => tile::<6, $unit, $w2>(&tl),
                                            5 => tile::<5, $unit, $w2>(&tl),
                                            4 => tile::<4, $unit, $w2>(&tl),
                                            3 => tile::<3, $unit, $w2>(&tl),
                                            2 => tile::<2, $unit, $w2>(&tl),
                                            _ => tile::<1, $unit, $w2>(&tl),
                                        }
                                    };
                                }
                                // One vector per row when the panel's columns fit in one.
                                match (tl.a_rs == 1, nr > LANES) {
                                    (true, true) => by_rows!(true, true),
                                    (true, false) => by_rows!(true, false),
                                    (false, true) => by_rows!(false, true),
                                    (false, false) => by_rows!(false, false),
                                }
                            }
                            // Each row tile is one panel here (a_panel <= MR).
                            if tail.1 > 0 {
                                tail_np += 1;
                                if tail_np == col_tail_group(tail.1) || i0 + mr >= m {
                                    let (bp, bstride, _) = bps[panels - 1];
                                    col_tail(
                                        t,
                                        (k0, kc),
                                        (bp.wrapping_add(tail.0), bstride),
                                        j0 + (panels - 1) * NR + tail.0,
                                        tail.1,
                                        (tail_i0, tail_np),
                                        (first, last),
                                    );
                                    (tail_i0, tail_np) = (i0 + mr, 0);
                                }
                            }
                            i0 += mr;
                        }
                        k0 += kc;
                        if k0 >= k {
                            break;
                        }
                    }
                    j0 += nb;
                }
            }

            /// Most tap columns `pack_conv_vec` handles.
            const PACK_KW: usize = 8;

            /// `pack_conv` with vectors: the block's columns split into runs of one output
            /// row; for each run and tap column the lanes whose input is inside the image are
            /// a bit mask (computed once per block), and each row of B is two vectors built
            /// by masked loads (masked gathers for a horizontal stride) of the runs.
            ///
            /// # Safety
            /// As `pack_conv`; `g.kw <= PACK_KW` and `g.sw >= 1`.
            #[inline]
            #[target_feature(enable = $feature)]
            unsafe fn pack_conv_vec(
                g: &Conv2d,
                x: *const f32,
                (k0, kc): (usize, usize),
                (j0, nr): (usize, usize),
                panel: *mut f32,
            ) {
                // Runs: (first column, input row base, input column base of the first
                // column); per run and tap column, the lanes inside the image.
                let mut runs = [(0isize, 0isize, 0isize); NR];
                let mut bits = [[0u64; PACK_KW]; NR];
                let mut nruns = 0;
                let (mut oh, mut oj) = ((j0 as isize) / g.ow, (j0 as isize) % g.ow);
                let mut jj = 0usize;
                while jj < nr {
                    let len = ((g.ow - oj) as usize).min(nr - jj);
                    let iw0 = oj * g.sw - g.pw;
                    runs[nruns] = (jj as isize, oh * g.sh - g.ph, iw0);
                    for tj in 0..g.kw as usize {
                        let iw = iw0 + tj as isize * g.dw;
                        let lo = if iw >= 0 {
                            0
                        } else {
                            ((-iw + g.sw - 1) / g.sw) as usize
                        };
                        let hi = if iw >= g.w {
                            0
                        } else {
                            (((g.w - 1 - iw) / g.sw + 1) as usize).min(len)
                        };
                        if lo < hi {
                            let upto = |n: usize| if n >= 64 { u64::MAX } else { (1u64 << n) - 1 };
                            bits[nruns][tj] = (upto(hi) & !upto(lo)) << jj;
                        }
                    }
                    nruns += 1;
                    jj += len;
                    oj = 0;
                    oh += 1;
                }
                let taps = g.kh * g.kw;
                let k0 = k0 as isize;
                let (mut ci, mut ti, mut tj) = (k0 / taps, (k0 % taps) / g.kw, k0 % g.kw);
                let plane = g.h * g.w;
                let half = (1u64 << LANES) - 1;
                for p in 0..kc {
                    let xc = x.wrapping_offset(ci * plane);
                    let (ioff, joff) = (ti * g.dh, tj * g.dw);
                    let mut v0 = $zero();
                    let mut v1 = $zero();
                    for (r, &(c0, ih0, iw0)) in runs[..nruns].iter().enumerate() {
                        let ih = ih0 + ioff;
                        if ih < 0 || ih >= g.h {
                            continue;
                        }
                        let b = *bits.get_unchecked(r).get_unchecked(tj as usize);
                        // Lane jj of the block reads iw0 + joff + (jj - c0) * sw of the row.
                        let base = xc.wrapping_offset(ih * g.w + iw0 + joff - c0 * g.sw);
                        let (b0, b1) = (b & half, (b >> LANES) & half);
                        if g.sw == 1 {
                            if b0 != 0 {
                                v0 = $mloadm(base, $bits(b0), v0);
                            }
                            if b1 != 0 {
                                v1 = $mloadm(base.wrapping_add(LANES), $bits(b1), v1);
                            }
                        } else {
                            if b0 != 0 {
                                v0 = $mgatherm(base, g.sw, $bits(b0), v0);
                            }
                            if b1 != 0 {
                                let b_hi = base.wrapping_offset(LANES as isize * g.sw);
                                v1 = $mgatherm(b_hi, g.sw, $bits(b1), v1);
                            }
                        }
                    }
                    let dst = panel.add(p * NR);
                    $store(dst, v0);
                    $store(dst.add(LANES), v1);
                    tj += 1;
                    if tj == g.kw {
                        tj = 0;
                        ti += 1;
                        if ti == g.kh {
                            ti = 0;
                            ci += 1;
                        }
                    }
                }
            }

            /// `pack_matrix` for a B with unit column stride (the image of a 1 x 1
            /// convolution, a MatMul's B): each row is two vector loads (masked past `nr`).
            ///
            /// # Safety
            /// As `pack_matrix`; `t.b_cs == 1`.
            #[inline]
            #[target_feature(enable = $feature)]
            unsafe fn pack_rows(
                t: &Call,
                (k0, kc): (usize, usize),
                (j0, nr): (usize, usize),
                panel: *mut f32,
            ) {
                let mut src = t
                    .b
                    .wrapping_offset((k0 as isize).wrapping_mul(t.b_rs).wrapping_add(j0 as isize));
                for p in 0..kc {
                    let (v0, v1) = if nr == NR {
                        ($load(src), $load(src.add(LANES)))
                    } else if nr > LANES {
                        ($load(src), $mload(src.add(LANES), 0, nr - LANES))
                    } else {
                        ($mload(src, 0, nr), $zero())
                    };
                    let dst = panel.add(p * NR);
                    $store(dst, v0);
                    $store(dst.add(LANES), v1);
                    src = src.wrapping_offset(t.b_rs);
                }
            }

            /// Most (tap, run) entries of a `conv_tab` table when a block has `NP` panels
            /// (with more panels, each gets its share of `NP * PACK_TAB`).
            const PACK_TAB: usize = 96;

            /// What `pack_conv_tab` reads for one panel of a convolution's B, built once per
            /// column block (`one`) and used by every k block: the columns split into runs
            /// of one output row, and for each tap (kernel row and column) and run, the
            /// offset within a channel plane that lane 0 of the panel would read and the
            /// bits of the run's lanes inside the image (none when the run's input row is
            /// outside it). Returns the number of runs, or None (writing nothing useful) when
            /// the table would have more than `cap` entries. With `spread` (stride 2) the
            /// bits are those of the input lanes, `spread2` of the panel's.
            ///
            /// # Safety
            /// `tab` holds `cap` entries.
            #[inline]
            unsafe fn conv_tab(
                g: &Conv2d,
                (j0, nr): (usize, usize),
                tab: *mut (isize, u64),
                (cap, spread): (usize, bool),
            ) -> Option<usize> {
                let taps = (g.kh * g.kw) as usize;
                let (mut oh, mut oj) = ((j0 as isize) / g.ow, (j0 as isize) % g.ow);
                // Runs: (first column, length, input row, input column of the first column).
                let mut runs = [(0usize, 0usize, 0isize, 0isize); NR];
                let mut nruns = 0;
                let mut jj = 0usize;
                while jj < nr {
                    let len = ((g.ow - oj) as usize).min(nr - jj);
                    runs[nruns] = (jj, len, oh * g.sh - g.ph, oj * g.sw - g.pw);
                    nruns += 1;
                    jj += len;
                    oj = 0;
                    oh += 1;
                }
                if taps == 0 || taps * nruns > cap {
                    return None;
                }
                let upto = |n: usize| if n >= 64 { u64::MAX } else { (1u64 << n) - 1 };
                for ti in 0..g.kh {
                    for tj in 0..g.kw {
                        let tap = (ti * g.kw + tj) as usize;
                        for (r, &(c0, len, ih0, iw0)) in runs[..nruns].iter().enumerate() {
                            let ih = ih0 + ti * g.dh;
                            let iw = iw0 + tj * g.dw;
                            let lo = if iw >= 0 {
                                0
                            } else {
                                ((-iw + g.sw - 1) / g.sw) as usize
                            };
                            let hi = if iw >= g.w {
                                0
                            } else {
                                (((g.w - 1 - iw) / g.sw + 1) as usize).min(len)
                            };
                            let mut b = if ih < 0 || ih >= g.h || lo >= hi {
                                0
                            } else {
                                (upto(hi) & !upto(lo)) << c0
                            };
                            if spread {
                                b = spread2(b);
                            }
                            // Lane jj of the panel reads iw + (jj - c0) * sw of the row.
                            *tab.add(tap * nruns + r) = (ih * g.w + iw - c0 as isize * g.sw, b);
                        }
                    }
                }
                Some(nruns)
            }

            /// `pack_conv_tab` for stride 2, from a table of input lanes (`conv_tab` with
            /// `spread`): per run, the 2 * NR input values from the run's offset are four
            /// masked loads (masked-off lanes read nothing and are +0), whose even lanes
            /// are the panel row's lanes; the runs' lanes are disjoint, so they combine
            /// with a bitwise or (+0 elsewhere, so every value keeps its bits, -0 too).
            /// Replaces two 16-lane gathers per run.
            ///
            /// # Safety
            /// As `pack_conv_tab`, with `g.sw == 2` and a table built with `spread`.
            #[inline]
            #[target_feature(enable = $feature)]
            unsafe fn pack_tab_s2<const R: usize>(
                g: &Conv2d,
                x: *const f32,
                (k0, kc): (usize, usize),
                (tab, nruns): (*const (isize, u64), usize),
                panel: *mut f32,
            ) {
                let taps = (g.kh * g.kw) as usize;
                let plane = g.h * g.w;
                let half = (1u64 << LANES) - 1;
                let (mut ci, mut tap) = (k0 / taps, k0 % taps);
                for p in 0..kc {
                    let xc = x.wrapping_offset(ci as isize * plane);
                    let row = tab.add(tap * nruns);
                    let mut v0 = $zero();
                    let mut v1 = $zero();
                    // R runs (unrolled), or `nruns` when R is 0.
                    for r in 0..if R == 0 { nruns } else { R } {
                        let (off, b) = *row.add(r);
                        let base = xc.wrapping_offset(off);
                        let ld = |c: usize| {
                            $mloadm(
                                base.wrapping_add(c * LANES),
                                $bits((b >> (c * LANES)) & half),
                                $zero(),
                            )
                        };
                        v0 = $or(v0, $even(ld(0), ld(1)));
                        v1 = $or(v1, $even(ld(2), ld(3)));
                    }
                    let dst = panel.add(p * NR);
                    $store(dst, v0);
                    $store(dst.add(LANES), v1);
                    tap += 1;
                    if tap == taps {
                        tap = 0;
                        ci += 1;
                    }
                }
            }

            /// `pack_conv_vec` from a `conv_tab` table of the panel: each row of B is, per
            /// run, two masked loads (gathers for a horizontal stride) at the table's offset
            /// from its channel's plane.
            ///
            /// # Safety
            /// As `pack_conv_vec`; `tab` is the panel's table with `nruns` runs.
            #[inline]
            #[target_feature(enable = $feature)]
            unsafe fn pack_conv_tab(
                g: &Conv2d,
                x: *const f32,
                (k0, kc): (usize, usize),
                (tab, nruns): (*const (isize, u64), usize),
                panel: *mut f32,
            ) {
                let taps = (g.kh * g.kw) as usize;
                let plane = g.h * g.w;
                let half = (1u64 << LANES) - 1;
                let hi_off = LANES as isize * g.sw;
                let (mut ci, mut tap) = (k0 / taps, k0 % taps);
                for p in 0..kc {
                    let xc = x.wrapping_offset(ci as isize * plane);
                    let row = tab.add(tap * nruns);
                    let mut v0 = $zero();
                    let mut v1 = $zero();
                    for r in 0..nruns {
                        let (off, b) = *row.add(r);
                        let base = xc.wrapping_offset(off);
                        let (b0, b1) = (b & half, (b >> LANES) & half);
                        if g.sw == 1 {
                            // A masked load of no lanes reads nothing.
                            v0 = $mloadm(base, $bits(b0), v0);
                            v1 = $mloadm(base.wrapping_add(LANES), $bits(b1), v1);
                        } else {
                            // Gathers are dear: skip empty ones.
                            if b0 != 0 {
                                v0 = $mgatherm(base, g.sw, $bits(b0), v0);
                            }
                            if b1 != 0 {
                                v1 = $mgatherm(base.wrapping_offset(hi_off), g.sw, $bits(b1), v1);
                            }
                        }
                    }
                    let dst = panel.add(p * NR);
                    $store(dst, v0);
                    $store(dst.add(LANES), v1);
                    tap += 1;
                    if tap == taps {
                        tap = 0;
                        ci += 1;
                    }
                }
            }

            /// `pack_conv_tab` for stride 1 and exactly `R` runs (the common panels: one
            /// output row, or the end of one and the start of the next): the runs unrolled
            /// and the rows of one channel in one loop.
            ///
            /// # Safety
            /// As `pack_conv_tab`, with `g.sw == 1` and `R` runs in the table.
            #[inline]
            #[target_feature(enable = $feature)]
            unsafe fn pack_tab_s1<const R: usize>(
                g: &Conv2d,
                x: *const f32,
                (k0, kc): (usize, usize),
                tab: *const (isize, u64),
                panel: *mut f32,
            ) {
                let taps = (g.kh * g.kw) as usize;
                let plane = g.h * g.w;
                let half = (1u64 << LANES) - 1;
                let (mut ci, mut tap) = (k0 / taps, k0 % taps);
                let mut p = 0;
                let mut dst = panel;
                while p < kc {
                    let xc = x.wrapping_offset(ci as isize * plane);
                    let end = if taps - tap < kc - p { taps } else { tap + (kc - p) };
                    let mut row = tab.add(tap * R);
                    for _ in tap..end {
                        let mut v0 = $zero();
                        let mut v1 = $zero();
                        for r in 0..R {
                            let (off, b) = *row.add(r);
                            let base = xc.wrapping_offset(off);
                            // A masked load of no lanes reads nothing.
                            v0 = $mloadm(base, $bits(b & half), v0);
                            v1 = $mloadm(base.wrapping_add(LANES), $bits((b >> LANES) & half), v1);
                        }
                        $store(dst, v0);
                        $store(dst.add(LANES), v1);
                        row = row.add(R);
                        dst = dst.add(NR);
                    }
                    p += end - tap;
                    tap = 0;
                    ci += 1;
                }
            }

            struct Tile {
                kc: usize,
                a: *const f32,
                a_rs: isize,
                a_cs: isize,
                /// B rows of this k block and column block: `b[p * b_stride + jj]`.
                b: *const f32,
                b_stride: isize,
                c: *mut f32,
                c_rs: isize,
                /// Valid columns (the rest are computed from zero padding and dropped).
                nr: usize,
                /// Start from +0 instead of loading C.
                first: bool,
                /// The last k block: apply the epilogue.
                last: bool,
                bias: *const f32,
                /// Row `r` of the tile's residual: `res[r * res_rs ..]`.
                res: *const f32,
                res_rs: isize,
                lo: f32,
                hi: f32,
                /// The A values the next tile will read (`kc` steps of `PF_STEP` bytes),
                /// prefetched one step ahead of this tile's reads, or null.
                pf: *const f32,
            }

            /// Loads `nr` (≤ NR) values of a row as two vectors, zero past `nr`.
            #[inline]
            #[target_feature(enable = $feature)]
            unsafe fn load_row(row: *const f32, nr: usize) -> ($vec, $vec) {
                if nr == NR {
                    ($load(row), $load(row.add(LANES)))
                } else {
                    let mut tmp = [0f32; NR];
                    for (jj, v) in tmp.iter_mut().enumerate().take(nr) {
                        *v = *row.add(jj);
                    }
                    ($load(tmp.as_ptr()), $load(tmp.as_ptr().add(LANES)))
                }
            }

            /// R rows x NR columns of C over one k block. Never inlined: inside the large
            /// driver LLVM kept the accumulator arrays in memory (a store per FMA); on its
            /// own they live in registers.
            #[inline(never)]
            #[target_feature(enable = $feature)]
            unsafe fn tile<const R: usize, const UNIT: bool, const W2: bool>(t: &Tile) {
                // W2: two vectors (NR columns) per row; else one (at most LANES columns).
                let mut lo: [$vec; R] = [$zero(); R];
                let mut hi: [$vec; R] = [$zero(); R];
                if !t.first {
                    for r in 0..R {
                        let row = t.c.wrapping_offset((r as isize).wrapping_mul(t.c_rs));
                        if W2 {
                            (lo[r], hi[r]) = load_row(row, t.nr);
                        } else {
                            lo[r] = $mload(row, 0, t.nr);
                        }
                    }
                }
                let mut ap = t.a;
                let mut bp = t.b;
                let mut pf = t.pf as *const i8;
                for _ in 0..t.kc {
                    if !t.pf.is_null() {
                        _mm_prefetch::<_MM_HINT_T0>(pf);
                        pf = pf.wrapping_add(PF_STEP);
                    }
                    let b0 = $load(bp);
                    let b1 = if W2 { $load(bp.add(LANES)) } else { b0 };
                    for r in 0..R {
                        let off = if UNIT {
                            r as isize
                        } else {
                            (r as isize).wrapping_mul(t.a_rs)
                        };
                        let av = $set1(*ap.wrapping_offset(off));
                        lo[r] = $fma(av, b0, lo[r]);
                        if W2 {
                            hi[r] = $fma(av, b1, hi[r]);
                        }
                    }
                    ap = ap.wrapping_offset(t.a_cs);
                    bp = bp.wrapping_offset(t.b_stride);
                }
                if t.last {
                    if !t.bias.is_null() {
                        for r in 0..R {
                            let bv = $set1(*t.bias.add(r));
                            lo[r] = $add(lo[r], bv);
                            if W2 {
                                hi[r] = $add(hi[r], bv);
                            }
                        }
                    }
                    if !t.res.is_null() {
                        for r in 0..R {
                            let row = t.res.wrapping_offset((r as isize).wrapping_mul(t.res_rs));
                            if W2 {
                                let (r0, r1) = load_row(row, t.nr);
                                lo[r] = $add(lo[r], r0);
                                hi[r] = $add(hi[r], r1);
                            } else {
                                lo[r] = $add(lo[r], $mload(row, 0, t.nr));
                            }
                        }
                    }
                    if t.lo != f32::NEG_INFINITY {
                        let v = $set1(t.lo);
                        for r in 0..R {
                            lo[r] = $max(v, lo[r]);
                            if W2 {
                                hi[r] = $max(v, hi[r]);
                            }
                        }
                    }
                    if t.hi != f32::INFINITY {
                        let v = $set1(t.hi);
                        for r in 0..R {
                            lo[r] = $min(v, lo[r]);
                            if W2 {
                                hi[r] = $min(v, hi[r]);
                            }
                        }
                    }
                }
                for r in 0..R {
                    let row = t.c.wrapping_offset((r as isize).wrapping_mul(t.c_rs));
                    if !W2 {
                        $mstore(row, t.nr, lo[r]);
                    } else if t.nr == NR {
                        $store(row, lo[r]);
                        $store(row.add(LANES), hi[r]);
                    } else {
                        let mut tmp = [0f32; NR];
                        $store(tmp.as_mut_ptr(), lo[r]);
                        $store(tmp.as_mut_ptr().add(LANES), hi[r]);
                        for (jj, v) in tmp.iter().enumerate().take(t.nr) {
                            *row.add(jj) = *v;
                        }
                    }
                }
            }

            /// Row `i0` of C over the `NP` full panels of one k block (`one`'s `bps`), two
            /// vectors per panel: the same chains as `tile::<1, _, true>` for each panel,
            /// interleaved.
            #[inline(never)]
            #[target_feature(enable = $feature)]
            unsafe fn row_panels(
                t: &Call,
                (a, a_cs): (*const f32, isize),
                bps: &[(*const f32, isize, usize); NP],
                kc: usize,
                (i0, c_off, r_off): (usize, isize, isize),
                (first, last): (bool, bool),
            ) {
                let c = t.c.wrapping_offset(c_off);
                let mut acc = [[$zero(); 2]; NP];
                if !first {
                    for (q, v) in acc.iter_mut().enumerate() {
                        v[0] = $load(c.add(q * NR));
                        v[1] = $load(c.add(q * NR + LANES));
                    }
                }
                let mut bp = [core::ptr::null::<f32>(); NP];
                for q in 0..NP {
                    bp[q] = bps[q].0;
                }
                let mut ap = a;
                for _ in 0..kc {
                    let av = $set1(*ap);
                    for q in 0..NP {
                        acc[q][0] = $fma(av, $load(bp[q]), acc[q][0]);
                        acc[q][1] = $fma(av, $load(bp[q].add(LANES)), acc[q][1]);
                        bp[q] = bp[q].wrapping_offset(bps[q].1);
                    }
                    ap = ap.wrapping_offset(a_cs);
                }
                for (q, v) in acc.iter_mut().enumerate() {
                    for (h, x) in v.iter_mut().enumerate() {
                        let at = q * NR + h * LANES;
                        if last {
                            let bias = (!t.bias.is_null()).then(|| $set1(*t.bias.add(i0)));
                            let res = (!t.res.is_null())
                                .then(|| $load(t.res.wrapping_offset(r_off).add(at)));
                            *x = epilogue(t, *x, bias, res);
                        }
                        $store(c.add(at), *x);
                    }
                }
            }

            /// Panels `col_tail` takes at once for `cols` columns: at least 8 accumulator
            /// chains (one per panel and column), so that the FMA latency is hidden. One
            /// column over one panel is a single chain, an FMA every 4 cycles: that was 7%
            /// of resnet18 (its 7 x 7 outputs, 49 = 32 + 16 + 1 columns, k = 4608).
            #[inline(always)]
            fn col_tail_group(cols: usize) -> usize {
                match cols {
                    1 => 8,
                    2 => 4,
                    _ => 2,
                }
            }

            /// Columns `j` (1 to `CT` of them) of C for the `np` panels of rows from `i0`
            /// over one k block, vectorised down the rows instead of across columns: A must
            /// be packed in panels (`a_panel`) of at most `LANES` rows, whose rows of one k
            /// step are contiguous, and each column's rows in a panel are one accumulator
            /// vector. Called right after the tiles of the same rows (at most
            /// `col_tail_group(cols)` panels), while their A is in L1 or L2. The narrow right
            /// edge of a convolution's output (7 x 7 = 49 = 32 + 16 + 1 columns, 14 x 14 =
            /// 196 = 6 x 32 + 4) otherwise costs a whole vector tile per row block. Each
            /// element is still the contract's chain: from C or +0, one FMA per k in order,
            /// then the epilogue.
            #[inline(never)]
            #[target_feature(enable = $feature)]
            unsafe fn col_tail(
                t: &Call,
                kb: (usize, usize),
                b: (*const f32, isize),
                j: usize,
                cols: usize,
                (i0, np): (usize, usize),
                fl: (bool, bool),
            ) {
                let (mut i, mut left) = (i0, np);
                while left > 0 {
                    // Groups of a power of two panels, the largest that fits.
                    let n = [8usize, 4, 2, 1]
                        .into_iter()
                        .find(|&g| g <= left && g <= col_tail_group(cols))
                        .unwrap_or(1);
                    match (cols, n) {
                        (1, 8) => col_group::<8, 1>(t, kb, b, j, i, fl),
                        (1, 4) => col_group::<4, 1>(t, kb, b, j, i, fl),
                        (1, 2) => col_group::<2, 1>(t, kb, b, j, i, fl),
                        (1, _) => col_group::<1, 1>(t, kb, b, j, i, fl),
                        (2, 4) => col_group::<4, 2>(t, kb, b, j, i, fl),
                        (2, 2) => col_group::<2, 2>(t, kb, b, j, i, fl),
                        (2, _) => col_group::<1, 2>(t, kb, b, j, i, fl),
                        (3, 2) => col_group::<2, 3>(t, kb, b, j, i, fl),
                        (3, _) => col_group::<1, 3>(t, kb, b, j, i, fl),
                        (_, 2) => col_group::<2, 4>(t, kb, b, j, i, fl),
                        _ => col_group::<1, 4>(t, kb, b, j, i, fl),
                    }
                    i += n * t.a_panel;
                    left -= n;
                }
            }

            /// `col_tail` for the `NPQ` panels from row `i0` and `C` columns (constant
            /// counts, so that the accumulators stay in registers).
            #[inline]
            #[target_feature(enable = $feature)]
            unsafe fn col_group<const NPQ: usize, const C: usize>(
                t: &Call,
                (k0, kc): (usize, usize),
                (b, b_stride): (*const f32, isize),
                j: usize,
                i0: usize,
                (first, last): (bool, bool),
            ) {
                let pn = t.a_panel;
                let mut rows = [0usize; NPQ];
                for (q, r) in rows.iter_mut().enumerate() {
                    *r = (t.m - (i0 + q * pn)).min(pn);
                }
                let at = |i: usize, c: usize| {
                    (i as isize).wrapping_mul(t.c_rs).wrapping_add((j + c) as isize)
                };
                let res_at = |i: usize, c: usize| {
                    (i as isize).wrapping_mul(t.res_rs).wrapping_add((j + c) as isize)
                };
                let mut acc = [[$zero(); C]; NPQ];
                if !first {
                    for q in 0..NPQ {
                        for c in 0..C {
                            let mut tmp = [0f32; LANES];
                            for (r, v) in tmp.iter_mut().enumerate().take(rows[q]) {
                                *v = *t.c.wrapping_offset(at(i0 + q * pn + r, c));
                            }
                            acc[q][c] = $load(tmp.as_ptr());
                        }
                    }
                }
                // One pointer moves; the panels are at constant offsets from it.
                let mut ap = t.a.wrapping_add((i0 / pn) * pn * t.k + k0 * pn);
                let mut off = [0usize; NPQ];
                for (q, o) in off.iter_mut().enumerate() {
                    *o = q * pn * t.k;
                }
                let mut bp = b;
                for _ in 0..kc {
                    let mut av = [$zero(); NPQ];
                    for q in 0..NPQ {
                        av[q] = $mload(ap.wrapping_add(off[q]), 0, rows[q]);
                    }
                    ap = ap.wrapping_add(pn);
                    for c in 0..C {
                        let bv = $set1(*bp.add(c));
                        for q in 0..NPQ {
                            acc[q][c] = $fma(av[q], bv, acc[q][c]);
                        }
                    }
                    bp = bp.wrapping_offset(b_stride);
                }
                for q in 0..NPQ {
                    let r0 = i0 + q * pn;
                    for c in 0..C {
                        let mut v = acc[q][c];
                        if last {
                            let bias =
                                (!t.bias.is_null()).then(|| $mload(t.bias.add(r0), 0, rows[q]));
                            let res = (!t.res.is_null()).then(|| {
                                let mut tmp = [0f32; LANES];
                                for (r, x) in tmp.iter_mut().enumerate().take(rows[q]) {
                                    *x = *t.res.wrapping_offset(res_at(r0 + r, c));
                                }
                                $load(tmp.as_ptr())
                            });
                            v = epilogue(t, v, bias, res);
                        }
                        let mut tmp = [0f32; LANES];
                        $store(tmp.as_mut_ptr(), v);
                        for (r, x) in tmp.iter().enumerate().take(rows[q]) {
                            *t.c.wrapping_offset(at(r0 + r, c)) = *x;
                        }
                    }
                }
            }
        }
    };
}

// AVX2 + FMA: 16 ymm registers, 6 x 16 tile (12 accumulators), 256 x 16 panel (16 KiB).
#[cfg(target_arch = "x86_64")]
x86_variant!(
    avx2,
    "avx2,fma",
    __m256,
    8,
    6,
    256,
    _mm256_setzero_ps,
    _mm256_loadu_ps,
    _mm256_storeu_ps,
    _mm256_set1_ps,
    _mm256_fmadd_ps,
    _mm256_add_ps,
    _mm256_max_ps,
    _mm256_min_ps,
    super::masked::load8,
    super::masked::store8,
    __m256i,
    super::masked::mask8,
    super::masked::load8m,
    super::masked::gather8m,
    super::masked::kmax8,
    super::masked::bits8,
    super::masked::Tap8,
    super::masked::tap8,
    super::masked::tap8_load,
    super::masked::tap8_kmax,
    super::masked::nan8_acc,
    super::masked::kmax8_nan,
    (),
    super::masked::row8_masks,
    super::masked::row8,
    super::masked::even8,
    super::masked::or8
);

// AVX-512F: 32 zmm registers, 12 x 32 tile (24 accumulators), 128 x 32 panel (16 KiB).
#[cfg(target_arch = "x86_64")]
x86_variant!(
    avx512,
    "avx512f",
    __m512,
    16,
    12,
    128,
    _mm512_setzero_ps,
    _mm512_loadu_ps,
    _mm512_storeu_ps,
    _mm512_set1_ps,
    _mm512_fmadd_ps,
    _mm512_add_ps,
    _mm512_max_ps,
    _mm512_min_ps,
    super::masked::load16,
    super::masked::store16,
    __mmask16,
    super::masked::mask16,
    super::masked::load16m,
    super::masked::gather16m,
    super::masked::kmax16,
    super::masked::bits16,
    super::masked::Tap16,
    super::masked::tap16,
    super::masked::tap16_load,
    super::masked::tap16_kmax,
    super::masked::nan16_acc,
    super::masked::kmax16_nan,
    [__mmask16; 3],
    super::masked::row16_masks,
    super::masked::row16,
    super::masked::even16,
    super::masked::or16
);

/// Masked vector loads and stores: lanes `lo..hi` of the vector at `p` (the others are
/// zero, and are not touched in memory: masked-off lanes never fault).
#[cfg(target_arch = "x86_64")]
mod masked {
    use core::arch::x86_64::*;

    /// The lanes `lo..hi` of 8.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn mask8(lo: usize, hi: usize) -> __m256i {
        let idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        let below = _mm256_cmpgt_epi32(_mm256_set1_epi32(hi as i32), idx);
        let above = _mm256_cmpgt_epi32(idx, _mm256_set1_epi32(lo as i32 - 1));
        _mm256_and_si256(below, above)
    }

    /// # Safety
    /// Lanes `lo..hi` (≤ 8) of `p` are readable.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn load8(p: *const f32, lo: usize, hi: usize) -> __m256 {
        if lo == 0 && hi == 8 {
            return _mm256_loadu_ps(p);
        }
        _mm256_maskload_ps(p, mask8(lo, hi))
    }

    /// # Safety
    /// Lanes `0..len` (≤ 8) of `p` are writable.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn store8(p: *mut f32, len: usize, v: __m256) {
        if len == 8 {
            return _mm256_storeu_ps(p, v);
        }
        _mm256_maskstore_ps(p, mask8(0, len), v)
    }

    /// The lanes of `mask` (from `mask8`) of `p`, `fill` elsewhere.
    ///
    /// # Safety
    /// Those elements are readable.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn load8m(p: *const f32, mask: __m256i, fill: __m256) -> __m256 {
        let m = _mm256_castsi256_ps(mask);
        _mm256_blendv_ps(fill, _mm256_maskload_ps(p, mask), m)
    }

    /// The lanes of `mask` of `p[l * stride]`, `fill` elsewhere.
    ///
    /// # Safety
    /// Those elements are readable.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn gather8m(p: *const f32, stride: isize, mask: __m256i, fill: __m256) -> __m256 {
        if stride == 2 {
            // Two masked loads of 8 consecutive values (even positions only: an odd one may
            // lie past the buffer) and a shuffle of the even positions: much cheaper than
            // an 8-element gather.
            let even = _mm256_setr_epi32(-1, 0, -1, 0, -1, 0, -1, 0);
            let m_lo = _mm256_and_si256(
                _mm256_permutevar8x32_epi32(mask, _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3)),
                even,
            );
            let m_hi = _mm256_and_si256(
                _mm256_permutevar8x32_epi32(mask, _mm256_setr_epi32(4, 4, 5, 5, 6, 6, 7, 7)),
                even,
            );
            let lo = _mm256_maskload_ps(p, m_lo);
            let hi = _mm256_maskload_ps(p.wrapping_add(8), m_hi);
            // [lo0 lo2 hi0 hi2 lo4 lo6 hi4 hi6] -> [lo0 lo2 lo4 lo6 hi0 hi2 hi4 hi6]
            let sh = _mm256_shuffle_ps::<0b10_00_10_00>(lo, hi);
            let v = _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_castps_pd(sh)));
            return _mm256_blendv_ps(fill, v, _mm256_castsi256_ps(mask));
        }
        let idx = _mm256_mullo_epi32(
            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
            _mm256_set1_epi32(stride as i32),
        );
        _mm256_mask_i32gather_ps::<4>(fill, p, idx, _mm256_castsi256_ps(mask))
    }

    /// kir's `Max` lane by lane (`gemm::kmax`).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn kmax8(a: __m256, b: __m256) -> __m256 {
        let r = _mm256_max_ps(a, b);
        let eq = _mm256_cmp_ps::<_CMP_EQ_OQ>(a, b);
        let r = _mm256_blendv_ps(r, _mm256_and_ps(a, b), eq);
        let nan = _mm256_cmp_ps::<_CMP_UNORD_Q>(a, b);
        _mm256_blendv_ps(r, _mm256_add_ps(a, b), nan)
    }

    /// The lanes of `mask` (from `mask16`) of `p`, `fill` elsewhere.
    ///
    /// # Safety
    /// Those elements are readable.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub unsafe fn load16m(p: *const f32, mask: __mmask16, fill: __m512) -> __m512 {
        _mm512_mask_loadu_ps(fill, mask, p)
    }

    /// The lanes of `mask` of `p[l * stride]`, `fill` elsewhere.
    ///
    /// # Safety
    /// Those elements are readable.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub unsafe fn gather16m(p: *const f32, stride: isize, mask: __mmask16, fill: __m512) -> __m512 {
        if stride == 2 {
            // Two masked loads of 16 consecutive values (the lanes' even positions only)
            // and a two-source permute of the even positions: much cheaper than a gather.
            let mut x = mask as u32;
            x = (x | (x << 8)) & 0x00ff_00ff;
            x = (x | (x << 4)) & 0x0f0f_0f0f;
            x = (x | (x << 2)) & 0x3333_3333;
            x = (x | (x << 1)) & 0x5555_5555;
            let lo = _mm512_maskz_loadu_ps(x as __mmask16, p);
            let hi = _mm512_maskz_loadu_ps((x >> 16) as __mmask16, p.wrapping_add(16));
            let idx = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
            let v = _mm512_permutex2var_ps(lo, idx, hi);
            return _mm512_mask_mov_ps(fill, mask, v);
        }
        let idx = _mm512_mullo_epi32(
            _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
            _mm512_set1_epi32(stride as i32),
        );
        _mm512_mask_i32gather_ps::<4>(fill, mask, idx, p)
    }

    /// kir's `Max` lane by lane (`gemm::kmax`).
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub unsafe fn kmax16(a: __m512, b: __m512) -> __m512 {
        let r = _mm512_max_ps(a, b);
        let eq = _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(a, b);
        let both = _mm512_castsi512_ps(_mm512_and_si512(
            _mm512_castps_si512(a),
            _mm512_castps_si512(b),
        ));
        let r = _mm512_mask_mov_ps(r, eq, both);
        let nan = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(a, b);
        _mm512_mask_mov_ps(r, nan, _mm512_add_ps(a, b))
    }

    /// One tap column of a column block (`dw_fast`): the lanes inside the image, and
    /// for stride 2 the lanes of the two loads of 8 consecutive values whose even
    /// positions they are.
    #[derive(Clone, Copy)]
    pub struct Tap8 {
        m: __m256i,
        lo: __m256i,
        hi: __m256i,
    }

    /// The tap of the lanes of `mask` (from `mask8`).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn tap8(mask: __m256i) -> Tap8 {
        let even = _mm256_setr_epi32(-1, 0, -1, 0, -1, 0, -1, 0);
        let lo = _mm256_and_si256(
            _mm256_permutevar8x32_epi32(mask, _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3)),
            even,
        );
        let hi = _mm256_and_si256(
            _mm256_permutevar8x32_epi32(mask, _mm256_setr_epi32(4, 4, 5, 5, 6, 6, 7, 7)),
            even,
        );
        Tap8 { m: mask, lo, hi }
    }

    /// The tap's lanes of `p`, +0 elsewhere (stride 1).
    ///
    /// # Safety
    /// Those elements are readable.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn tap8_load(p: *const f32, t: Tap8) -> __m256 {
        _mm256_maskload_ps(p, t.m)
    }

    /// The tap's lanes of `p[2 * l]`, +0 elsewhere (stride 2): two masked loads of 8
    /// consecutive values (even positions only) and a shuffle, as `gather8m`.
    ///
    /// # Safety
    /// Those elements are readable.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn tap8_load2(p: *const f32, t: Tap8) -> __m256 {
        let lo = _mm256_maskload_ps(p, t.lo);
        let hi = _mm256_maskload_ps(p.wrapping_add(8), t.hi);
        let sh = _mm256_shuffle_ps::<0b10_00_10_00>(lo, hi);
        _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_castps_pd(sh)))
    }

    /// One step of a max reduction (`gemm::kmax`) on the tap's lanes (`acc` elsewhere),
    /// except for NaN, which the caller tracks with `nan8_acc` and applies with `kmax8_nan`
    /// at the end: when neither is NaN, `kmax(a, b)` is the AND of `max_ps(a, b)` and
    /// `max_ps(b, a)` (they differ only for +0 and -0, both give the larger otherwise).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn tap8_kmax(acc: __m256, x: __m256, t: Tap8) -> __m256 {
        let r = _mm256_and_ps(_mm256_max_ps(acc, x), _mm256_max_ps(x, acc));
        _mm256_blendv_ps(acc, r, _mm256_castsi256_ps(t.m))
    }

    /// The AVX2 variant's `row16_masks`: nothing (`row8` loads tap by tap).
    #[inline]
    pub fn row8_masks(_iw0: isize, _w: isize) {}

    /// The `KW` tap vectors of one input row (`p`) for a column block with stride 2, a
    /// `tap8_load2` each.
    ///
    /// # Safety
    /// The lanes of the taps are readable.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn row8<const KW: usize>(
        p: *const f32,
        taps: &[Tap8; KW],
        iws: &[isize; KW],
        _pm: &(),
    ) -> [__m256; KW] {
        let mut xs = [_mm256_setzero_ps(); KW];
        for tj in 0..KW {
            xs[tj] = tap8_load2(p.wrapping_offset(iws[tj]), taps[tj]);
        }
        xs
    }

    /// `nan + |x|`: a sum that is NaN exactly when some `x` was.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn nan8_acc(nan: __m256, x: __m256) -> __m256 {
        let abs = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fff_ffff));
        _mm256_add_ps(nan, _mm256_and_ps(x, abs))
    }

    /// The end of a `tap8_kmax` chain: NaN where `nan` is.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn kmax8_nan(acc: __m256, nan: __m256) -> __m256 {
        _mm256_blendv_ps(acc, nan, _mm256_cmp_ps::<_CMP_UNORD_Q>(nan, nan))
    }

    /// One tap column of a column block (`dw_fast`): the lanes inside the image (stride 2
    /// reads go through `row16`).
    #[derive(Clone, Copy)]
    pub struct Tap16 {
        m: __mmask16,
    }

    /// The tap of the lanes of `mask`.
    #[inline]
    pub fn tap16(mask: __mmask16) -> Tap16 {
        Tap16 { m: mask }
    }

    /// The tap's lanes of `p`, +0 elsewhere (stride 1).
    ///
    /// # Safety
    /// Those elements are readable.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub unsafe fn tap16_load(p: *const f32, t: Tap16) -> __m512 {
        _mm512_maskz_loadu_ps(t.m, p)
    }

    /// The lanes of an input row segment that `row16` reads for stride 2: positions
    /// `iw0 + q`, `q < 48`, inside `0..w`, as three masks of 16.
    #[inline]
    pub fn row16_masks(iw0: isize, w: isize) -> [__mmask16; 3] {
        let lo = (-iw0).clamp(0, 48) as u32;
        let hi = (w - iw0).clamp(0, 48) as u32;
        let upto = |n: u32| if n >= 64 { u64::MAX } else { (1u64 << n) - 1 };
        let m = upto(hi) & !upto(lo);
        [
            m as __mmask16,
            (m >> 16) as __mmask16,
            (m >> 32) as __mmask16,
        ]
    }

    /// The `KW` tap vectors of one input row (`p`) for a column block with stride 2 and tap
    /// columns `iws[0] + tj`: the row segment from `iws[0]` (48 values at most, `pm` from
    /// `row16_masks`, +0 outside the image) is loaded once and each tap is a permute of its
    /// even or odd positions: three loads and `KW - 1` permutes for the row, instead of
    /// two loads and a permute per tap.
    ///
    /// # Safety
    /// The lanes of `pm` are readable.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub unsafe fn row16<const KW: usize>(
        p: *const f32,
        _taps: &[Tap16; KW],
        iws: &[isize; KW],
        pm: &[__mmask16; 3],
    ) -> [__m512; KW] {
        let mut xs = [_mm512_setzero_ps(); KW];
        let q = p.wrapping_offset(iws[0]);
        let a = _mm512_maskz_loadu_ps(pm[0], q);
        let b = _mm512_maskz_loadu_ps(pm[1], q.wrapping_add(16));
        let c = if KW > 2 {
            _mm512_maskz_loadu_ps(pm[2], q.wrapping_add(32))
        } else {
            _mm512_setzero_ps()
        };
        let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        let odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
        // Positions 2l and 2l + 1.
        let e = _mm512_permutex2var_ps(a, even, b);
        let o = _mm512_permutex2var_ps(a, odd, b);
        for (tj, x) in xs.iter_mut().enumerate() {
            *x = match tj {
                0 => e,
                1 => o,
                _ => {
                    // Position tj + 2l: lane tj / 2 + l of e or o below 32, else of c.
                    let mut ix = [0i32; 16];
                    for (l, v) in ix.iter_mut().enumerate() {
                        let pos = tj + 2 * l;
                        *v = if pos < 32 {
                            (tj / 2 + l) as i32
                        } else {
                            (16 + pos - 32) as i32
                        };
                    }
                    let idx = _mm512_loadu_si512(ix.as_ptr() as *const _);
                    _mm512_permutex2var_ps(if tj % 2 == 0 { e } else { o }, idx, c)
                }
            };
        }
        xs
    }

    /// `tap8_kmax` with 16 lanes.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub unsafe fn tap16_kmax(acc: __m512, x: __m512, t: Tap16) -> __m512 {
        let r = _mm512_mask_and_epi32(
            _mm512_castps_si512(acc),
            t.m,
            _mm512_castps_si512(_mm512_max_ps(acc, x)),
            _mm512_castps_si512(_mm512_max_ps(x, acc)),
        );
        _mm512_castsi512_ps(r)
    }

    /// `nan8_acc` with 16 lanes.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub unsafe fn nan16_acc(nan: __m512, x: __m512) -> __m512 {
        let abs = _mm512_set1_epi32(0x7fff_ffff);
        let xa = _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(x), abs));
        _mm512_add_ps(nan, xa)
    }

    /// `kmax8_nan` with 16 lanes.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub unsafe fn kmax16_nan(acc: __m512, nan: __m512) -> __m512 {
        _mm512_mask_mov_ps(acc, _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(nan, nan), nan)
    }

    /// The mask of the lanes whose bits are set in `b` (8 lanes).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn bits8(b: u64) -> __m256i {
        let lane = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
        _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(b as i32), lane), lane)
    }

    /// The even lanes of `a` then those of `b` (8 lanes).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn even8(a: __m256, b: __m256) -> __m256 {
        // [a0 a2 b0 b2 | a4 a6 b4 b6], then the 64-bit pairs in order 0 2 1 3.
        let s = _mm256_shuffle_ps::<0x88>(a, b);
        _mm256_castpd_ps(_mm256_permute4x64_pd::<0xd8>(_mm256_castps_pd(s)))
    }

    /// The bitwise or (8 lanes).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn or8(a: __m256, b: __m256) -> __m256 {
        _mm256_or_ps(a, b)
    }

    /// The even lanes of `a` then those of `b` (16 lanes).
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub unsafe fn even16(a: __m512, b: __m512) -> __m512 {
        let idx = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        _mm512_permutex2var_ps(a, idx, b)
    }

    /// The bitwise or (16 lanes).
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub unsafe fn or16(a: __m512, b: __m512) -> __m512 {
        _mm512_castsi512_ps(_mm512_or_si512(
            _mm512_castps_si512(a),
            _mm512_castps_si512(b),
        ))
    }

    /// The mask of the lanes whose bits are set in `b` (16 lanes).
    #[inline]
    pub fn bits16(b: u64) -> __mmask16 {
        b as __mmask16
    }

    /// The lanes `lo..hi` of 16.
    #[inline]
    pub fn mask16(lo: usize, hi: usize) -> __mmask16 {
        let upto = |n: usize| if n >= 16 { 0xffffu32 } else { (1u32 << n) - 1 };
        (upto(hi) & !upto(lo)) as __mmask16
    }

    /// # Safety
    /// Lanes `lo..hi` (≤ 16) of `p` are readable.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub unsafe fn load16(p: *const f32, lo: usize, hi: usize) -> __m512 {
        _mm512_maskz_loadu_ps(mask16(lo, hi), p)
    }

    /// # Safety
    /// Lanes `0..len` (≤ 16) of `p` are writable.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub unsafe fn store16(p: *mut f32, len: usize, v: __m512) {
        _mm512_mask_storeu_ps(p, mask16(0, len), v)
    }
}
