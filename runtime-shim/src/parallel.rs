//! One GEMM call split over the caller's threads (ABI 7).
//!
//! The shim owns no threads and keeps no state: the caller of a model's `NAME_run_parallel`
//! passes a [`Parallel`], a parallel-for of its own (a thread pool, OpenMP, rayon, GCD...),
//! and every `kiln_shim_sgemm_*` call of the run receives it. A call large enough to be
//! worth it is cut into at most `threads` parts, each an ordinary call of the contract
//! (`gemm` module) on a disjoint block of C, and the parallel-for runs them:
//!
//! - a grouped call (depthwise convolution, pooling) splits its groups;
//! - a product with many columns splits its columns: a strided B at multiples of the
//!   kernel's panel width, a convolution at whole output rows (the part's geometry moves
//!   its leading pad up by the rows it skips, so it reads the same image rows: `ph` may go
//!   negative, which the contract's formula allows);
//! - otherwise a product with enough rows splits its rows, at multiples of the packed A's
//!   panel height (or of the register tile's).
//!
//! Every element of C is still computed by the contract's own chain, so the result is the
//! same bits for every thread count and every split (`tests/gemm.rs` checks parts against
//! the serial call). A part runs on the thread the parallel-for gives it, with that
//! thread's stack (the kernels use about 70 KiB of it).

use crate::gemm::Call;
use core::ffi::c_void;

/// A task of the parallel-for: `task(arg, i)` runs part `i`.
pub type Task = unsafe extern "C" fn(arg: *mut c_void, i: u32);

/// The caller's parallel-for (C: `kiln_parallel` in `kiln_shim.h` and every model header).
///
/// `run(ctx, n, task, arg)` must call `task(arg, i)` exactly once for every `i` in `0..n`,
/// on any threads, in any order, concurrently or not, and return only after every call has
/// returned (a plain loop is a valid `run`). `threads` is how many parts a call is cut into
/// at most: the threads that can run them at once, the calling one included. A null
/// pointer, a null `run` or `threads` <= 1 runs everything on the calling thread.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Parallel {
    pub run: Option<unsafe extern "C" fn(ctx: *mut c_void, n: u32, task: Task, arg: *mut c_void)>,
    pub ctx: *mut c_void,
    pub threads: u32,
}

/// Most parts of one call.
pub const MAX_PARTS: usize = 16;

/// Fewest multiply-adds (or max steps) per part: below this a call (or a part of it) is
/// not worth a hand-off to another thread (about 1 us of one core's work).
pub const MIN_PART_WORK: usize = 1 << 17;

/// The parts of one call: `parts[..n]`.
pub struct Split {
    pub parts: [Call; MAX_PARTS],
    pub n: usize,
}

/// How a call of a kernel with register tiles of `mr` rows and column panels of `nr`
/// columns is cut into at most `threads` parts (see the module). One part is the call
/// itself.
pub fn split(t: &Call, threads: usize, mr: usize, nr: usize) -> Split {
    split_with(t, threads, mr, nr, MIN_PART_WORK)
}

/// `split` with `min_work` multiply-adds at least per part (tests split small calls).
pub fn split_with(t: &Call, threads: usize, mr: usize, nr: usize, min_work: usize) -> Split {
    let mut s = Split {
        parts: [*t; MAX_PARTS],
        n: 1,
    };
    let work =
        t.m.saturating_mul(t.n)
            .saturating_mul(t.k.max(1))
            .saturating_mul(t.groups);
    let p = threads.min(MAX_PARTS).min(work / min_work.max(1));
    if p <= 1 {
        return s;
    }
    let (mr, nr) = (mr.max(1), nr.max(1));
    if t.groups >= p {
        // Groups g0..g1 per part.
        for i in 0..p {
            let (g0, g1) = (t.groups * i / p, t.groups * (i + 1) / p);
            let mut q = t.group(g0);
            q.groups = g1 - g0;
            s.parts[i] = q;
        }
        s.n = p;
        return s;
    }
    if t.groups != 1 {
        return s;
    }
    // Columns: whole output rows of a convolution, or panels of a strided B.
    let col_unit = match &t.conv {
        Some(g) if g.ow > 0 && t.n.is_multiple_of(g.ow as usize) => g.ow as usize,
        Some(_) => 0,
        None => nr,
    };
    if col_unit > 0 && t.n >= p * 4 * nr && t.n / col_unit >= p {
        // A blocked layout's column j is at j * L.
        let lb = t.blocked().max(1);
        return by_units(t, p, (col_unit, t.n), |j0, j1, u0| {
            let mut q = *t;
            q.n = j1 - j0;
            q.c = t.c.wrapping_add(j0 * lb);
            if !t.res.is_null() {
                q.res = t.res.wrapping_add(j0 * lb);
            }
            match &mut q.conv {
                Some(g) => g.ph -= u0 as isize * g.sh,
                None => q.b = t.b.wrapping_offset((j0 as isize).wrapping_mul(t.b_cs)),
            }
            q
        });
    }
    // Rows, at multiples of the packed panel (or the register tile), and of a blocked
    // layout's block.
    let mut unit = if t.a_panel > 0 { t.a_panel } else { mr };
    let lb = t.blocked();
    if lb > 0 && !unit.is_multiple_of(lb) {
        unit *= lb;
    }
    if t.m.div_ceil(unit) < p {
        return s;
    }
    by_units(t, p, (unit, t.m), |i0, i1, _| {
        let mut q = *t;
        q.m = i1 - i0;
        q.a = if t.a_panel > 0 {
            t.a.wrapping_add(i0 * t.k)
        } else {
            t.a.wrapping_offset((i0 as isize).wrapping_mul(t.a_rs))
        };
        q.c = t.c.wrapping_offset(t.at(i0, 0, t.c_rs));
        if !t.bias.is_null() {
            q.bias = t.bias.wrapping_add(i0);
        }
        if !t.res.is_null() {
            q.res = t.res.wrapping_offset(t.at(i0, 0, t.res_rs));
        }
        q
    })
}

/// `p` parts of `t` over `0..len` (columns or rows) cut at multiples of `unit`: part `i`
/// takes units `u0..u1` (an even share), i.e. `lo..hi` with `lo = u0 * unit` and `hi`
/// capped at `len`, and is `part(lo, hi, u0)`; empty shares are left out.
fn by_units(
    t: &Call,
    p: usize,
    (unit, len): (usize, usize),
    part: impl Fn(usize, usize, usize) -> Call,
) -> Split {
    let mut s = Split {
        parts: [*t; MAX_PARTS],
        n: 0,
    };
    let units = len.div_ceil(unit);
    for i in 0..p {
        let (u0, u1) = (units * i / p, units * (i + 1) / p);
        let (lo, hi) = (u0 * unit, (u1 * unit).min(len));
        if hi > lo {
            s.parts[s.n] = part(lo, hi, u0);
            s.n += 1;
        }
    }
    s
}

/// The parts and the kernel a task runs.
struct Job {
    split: Split,
    kernel: unsafe fn(&Call),
}

unsafe extern "C" fn task(arg: *mut c_void, i: u32) {
    let job = &*(arg as *const Job);
    if let Some(part) = job.split.parts[..job.split.n].get(i as usize) {
        (job.kernel)(part);
    }
}

/// Runs the call `t` with `kernel` (a variant of the contract), split over `par` when it
/// is given and the call is large enough.
///
/// # Safety
/// As the kernel's; `par` is null or points to a valid [`Parallel`] whose `run` keeps its
/// contract.
pub unsafe fn run(t: &Call, par: *const Parallel, kernel: unsafe fn(&Call), mr: usize, nr: usize) {
    let Some(p) = par.as_ref() else {
        return kernel(t);
    };
    let Some(run) = p.run else {
        return kernel(t);
    };
    if p.threads <= 1 {
        return kernel(t);
    }
    let split = split(t, p.threads as usize, mr, nr);
    if split.n <= 1 {
        return kernel(t);
    }
    let n = split.n as u32;
    let job = Job { split, kernel };
    run(p.ctx, n, task, &job as *const Job as *mut c_void);
}
