//! Direct convolution on the blocked NCHWc16 layout with AVX-512F (`gemm` module's contract
//! with `blocked` = 16).
//!
//! The image is read in place: one register tile is up to 12 output pixels of one output
//! row by 32 output channels (two blocks of 16, 24 zmm accumulators). Per k step it
//! broadcasts one input value per pixel (channel `l` of the pixel's 16-channel vector, at a
//! constant offset of 64 bytes per pixel) and multiplies it with two vectors of packed
//! weights (`a_panel` = 32: the k step's 32 output channels are contiguous). Nothing is
//! packed at run time, except where a tap's pixels are not 16 floats apart inside the
//! image (a tap in the padding, a stride other than 1): those pixels' 16-channel vectors are
//! copied into a small buffer on the stack first (+0 for the padding), one copy per 16 k
//! steps. The results are stored as whole 16-lane vectors of C's blocked layout.
//!
//! Every output is the contract's own chain (`p` in order, one fused multiply-add each,
//! then the epilogue), so the result is the plain loops' bit for bit.

use super::{portable_one, Call, Conv2d};
use core::arch::x86_64::*;

/// Channels per block.
const L: usize = 16;
/// Output channels per panel of the packed weights (two blocks).
const P: usize = 32;
/// Most output pixels per tile.
const MAXR: usize = 12;
/// Bytes of packed weights one pass over the image's tiles uses (a part of L1: 32 KiB on
/// older Intel cores, 48 KiB on newer ones).
const KBLOCK_BYTES: usize = 16 * 1024;

/// The contract for a blocked call of 16 channels.
///
/// # Safety
/// As `sgemm_portable`, and the CPU must have AVX-512F.
#[target_feature(enable = "avx512f")]
pub unsafe fn conv16(t: &Call) {
    for gi in 0..t.groups {
        let s = t.group(gi);
        let Some(g) = s.conv else {
            portable_one(&s);
            continue;
        };
        let taps = (g.kh * g.kw).max(1) as usize;
        let ok = s.a_panel == P
            && g.blocked == L as isize
            && !s.max
            && g.ow > 0
            && s.n.is_multiple_of(g.ow as usize)
            && s.m.is_multiple_of(L)
            && s.k.is_multiple_of(taps * L);
        if ok {
            one(&s, &g);
        } else {
            portable_one(&s);
        }
    }
}

/// What a tile needs besides its position.
struct Tile {
    a: *const f32,
    x: *const f32,
    g: Conv2d,
    /// Channel blocks of the image.
    cb: usize,
    c: *mut f32,
    c_rs: isize,
    bias: *const f32,
    res: *const f32,
    res_rs: isize,
    lo: f32,
    hi: f32,
    accumulate: bool,
    /// The channel blocks of this pass over the tiles (`cb0..cb1` of `cb`); `a` points at
    /// the panel's weights of block `cb0`. A pass that does not start at block 0 continues
    /// the sums C holds; one that does not end at `cb` stores them without the epilogue.
    cb0: usize,
    cb1: usize,
    /// Output row, first output column, output pixel index of that column.
    oh: isize,
    ow0: isize,
    j0: usize,
}

#[target_feature(enable = "avx512f")]
unsafe fn one(t: &Call, g: &Conv2d) {
    let rows = t.n / g.ow as usize;
    let ow = g.ow as usize;
    // Output columns per tile: near-equal parts of at most MAXR.
    let parts = ow.div_ceil(MAXR);
    let taps = (g.kh * g.kw) as usize;
    let cbs = t.k / (taps * L);
    // Channel blocks per pass: the panel's weights for a pass stay in L1 while every tile
    // of the image uses them (at least one block: 18 KiB for 3x3).
    let step = (KBLOCK_BYTES / (taps * L * P * 4)).clamp(1, cbs.max(1));
    for panel in (0..t.m).step_by(P) {
        let wide = t.m - panel >= P;
        let blk = panel / L;
        let mut tl = Tile {
            a: t.a.wrapping_add(panel * t.k),
            x: t.b,
            g: *g,
            cb: cbs,
            c: t.c.wrapping_offset((blk as isize).wrapping_mul(t.c_rs)),
            c_rs: t.c_rs,
            bias: if t.bias.is_null() {
                t.bias
            } else {
                t.bias.add(panel)
            },
            res: if t.res.is_null() {
                t.res
            } else {
                t.res.wrapping_offset((blk as isize).wrapping_mul(t.res_rs))
            },
            res_rs: t.res_rs,
            lo: t.lo,
            hi: t.hi,
            accumulate: t.accumulate,
            cb0: 0,
            cb1: 0,
            oh: 0,
            ow0: 0,
            j0: 0,
        };
        let a = tl.a;
        for cb0 in (0..cbs.max(1)).step_by(step) {
            tl.cb0 = cb0;
            tl.cb1 = (cb0 + step).min(cbs);
            tl.a = a.wrapping_add(cb0 * taps * L * P);
            for oh in 0..rows {
                for q in 0..parts {
                    let (x0, x1) = (ow * q / parts, ow * (q + 1) / parts);
                    tl.oh = oh as isize;
                    tl.ow0 = x0 as isize;
                    tl.j0 = oh * ow + x0;
                    let r = x1 - x0;
                    if wide {
                        dispatch::<true>(&tl, r);
                    } else {
                        dispatch::<false>(&tl, r);
                    }
                }
            }
        }
    }
}

#[target_feature(enable = "avx512f")]
unsafe fn dispatch<const W2: bool>(t: &Tile, r: usize) {
    match r {
        1 => tile::<1, W2>(t),
        2 => tile::<2, W2>(t),
        3 => tile::<3, W2>(t),
        4 => tile::<4, W2>(t),
        5 => tile::<5, W2>(t),
        6 => tile::<6, W2>(t),
        7 => tile::<7, W2>(t),
        8 => tile::<8, W2>(t),
        9 => tile::<9, W2>(t),
        10 => tile::<10, W2>(t),
        11 => tile::<11, W2>(t),
        _ => tile::<12, W2>(t),
    }
}

/// A 64-byte aligned buffer of `MAXR` pixel vectors.
#[repr(C, align(64))]
struct Pixels([f32; MAXR * L]);

/// The `R` pixels' 16-channel vectors of channel block `cb`, input row `ih`, input
/// columns `iw0 + r * sw`: a pointer to them 16 floats apart, in the image when they are
/// all inside it with stride 1, else copied into `buf` (+0 outside the image).
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn pixels<const R: usize>(
    t: &Tile,
    cb: usize,
    (ih, iw0): (isize, isize),
    buf: &mut Pixels,
) -> *const f32 {
    let g = &t.g;
    let row_in = ih >= 0 && ih < g.h;
    let last = iw0 + (R as isize - 1) * g.sw;
    let base = |iw: isize| {
        t.x.wrapping_offset(
            ((cb as isize * g.h + ih).wrapping_mul(g.w).wrapping_add(iw)).wrapping_mul(L as isize),
        )
    };
    if row_in && g.sw == 1 && iw0 >= 0 && last < g.w {
        return base(iw0);
    }
    for r in 0..R {
        let iw = iw0 + r as isize * g.sw;
        let v = if row_in && iw >= 0 && iw < g.w {
            _mm512_loadu_ps(base(iw))
        } else {
            _mm512_setzero_ps()
        };
        _mm512_store_ps(buf.0.as_mut_ptr().add(r * L), v);
    }
    buf.0.as_ptr()
}

/// `R` output pixels by 32 (`W2`) or 16 output channels over the whole k. Never inlined:
/// on its own LLVM keeps the accumulators in registers.
#[inline(never)]
#[target_feature(enable = "avx512f")]
unsafe fn tile<const R: usize, const W2: bool>(t: &Tile) {
    let g = &t.g;
    let mut lo = [_mm512_setzero_ps(); R];
    let mut hi = [_mm512_setzero_ps(); R];
    let at = |r: usize, h: usize| ((h as isize) * t.c_rs) + ((t.j0 + r) * L) as isize;
    if t.accumulate || t.cb0 > 0 {
        for r in 0..R {
            lo[r] = _mm512_loadu_ps(t.c.wrapping_offset(at(r, 0)));
            if W2 {
                hi[r] = _mm512_loadu_ps(t.c.wrapping_offset(at(r, 1)));
            }
        }
    }
    let mut buf = Pixels([0.0; MAXR * L]);
    let mut ap = t.a;
    for cb in t.cb0..t.cb1 {
        for ti in 0..g.kh {
            let ih = t.oh * g.sh - g.ph + ti * g.dh;
            for tj in 0..g.kw {
                let iw0 = t.ow0 * g.sw - g.pw + tj * g.dw;
                let src = pixels::<R>(t, cb, (ih, iw0), &mut buf);
                for l in 0..L {
                    let w0 = _mm512_loadu_ps(ap);
                    let w1 = if W2 { _mm512_loadu_ps(ap.add(L)) } else { w0 };
                    for r in 0..R {
                        let v = _mm512_set1_ps(*src.add(r * L + l));
                        lo[r] = _mm512_fmadd_ps(v, w0, lo[r]);
                        if W2 {
                            hi[r] = _mm512_fmadd_ps(v, w1, hi[r]);
                        }
                    }
                    ap = ap.add(P);
                }
            }
        }
    }
    // The epilogue on the last pass; earlier passes store partial sums the next continues.
    let last = t.cb1 >= t.cb;
    if last && !t.bias.is_null() {
        let b0 = _mm512_loadu_ps(t.bias);
        let b1 = if W2 {
            _mm512_loadu_ps(t.bias.add(L))
        } else {
            b0
        };
        for r in 0..R {
            lo[r] = _mm512_add_ps(lo[r], b0);
            if W2 {
                hi[r] = _mm512_add_ps(hi[r], b1);
            }
        }
    }
    if last && !t.res.is_null() {
        let rat = |r: usize, h: usize| ((h as isize) * t.res_rs) + ((t.j0 + r) * L) as isize;
        for r in 0..R {
            lo[r] = _mm512_add_ps(lo[r], _mm512_loadu_ps(t.res.wrapping_offset(rat(r, 0))));
            if W2 {
                hi[r] = _mm512_add_ps(hi[r], _mm512_loadu_ps(t.res.wrapping_offset(rat(r, 1))));
            }
        }
    }
    // `lo > v ? lo : v` and `hi < v ? hi : v` are maxps(lo, v) and minps(hi, v).
    if last && t.lo != f32::NEG_INFINITY {
        let v = _mm512_set1_ps(t.lo);
        for r in 0..R {
            lo[r] = _mm512_max_ps(v, lo[r]);
            hi[r] = _mm512_max_ps(v, hi[r]);
        }
    }
    if last && t.hi != f32::INFINITY {
        let v = _mm512_set1_ps(t.hi);
        for r in 0..R {
            lo[r] = _mm512_min_ps(v, lo[r]);
            hi[r] = _mm512_min_ps(v, hi[r]);
        }
    }
    for r in 0..R {
        _mm512_storeu_ps(t.c.wrapping_offset(at(r, 0)), lo[r]);
        if W2 {
            _mm512_storeu_ps(t.c.wrapping_offset(at(r, 1)), hi[r]);
        }
    }
}
