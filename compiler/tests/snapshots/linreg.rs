// linreg.rs: model "linreg" compiled by Kiln. Generated: do not edit.
// Use with `include!(concat!(env!("OUT_DIR"), "/linreg.rs"));` in a crate depending on
// `kiln_shim`; linreg.weights.bin (if any) must be in the same directory as this file.

/// Model `linreg` compiled by Kiln: `run` computes it (`no_std`, no allocation).
#[allow(unused, dead_code, unreachable_code, unused_parens, unused_braces, unused_unsafe, unused_mut, unused_comparisons, non_snake_case, non_upper_case_globals, non_camel_case_types, missing_docs, unsafe_op_in_unsafe_fn, unexpected_cfgs, clippy::all, clippy::pedantic, clippy::nursery, clippy::restriction, clippy::cargo)]
pub mod linreg {
    #[cfg(target_endian = "big")]
    compile_error!("Kiln-generated Rust stores weights little-endian: big-endian targets are not supported");

    /// Number of inputs.
    pub const NUM_INPUTS: usize = 1;
    /// Number of outputs.
    pub const NUM_OUTPUTS: usize = 1;
    /// Number of symbolic dimensions.
    pub const NUM_DIMS: usize = 1;
    /// Alignment of the scratch area (the size of a `ScratchBlock`).
    pub const SCRATCH_ALIGN: usize = 64;
    /// Largest accepted value of symbolic dimension "N".
    pub const DIM_MAX_N: usize = 2147483647;

    /// One 64-byte aligned block of scratch memory; `scratch_blocks` says how many `run` needs.
    #[repr(C, align(64))]
    #[derive(Clone, Copy, Debug)]
    pub struct ScratchBlock(pub [u8; 64]);

    impl ScratchBlock {
        /// A zeroed block.
        pub const ZERO: ScratchBlock = ScratchBlock([0; 64]);
    }

    /// Why `run` failed (the outputs are then unspecified).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub enum Error {
        /// a dimension value is out of the supported range (status 1).
        BadDim,
        /// a buffer is shorter than the model needs (status 2).
        BadLength,
        /// an index from the data is out of range (status 3).
        BadIndex,
        /// a run-time value is invalid (status 4).
        BadValue,
    }

    impl Error {
        /// The C ABI status code.
        pub fn code(self) -> i32 {
            match self {
                Error::BadDim => 1,
                Error::BadLength => 2,
                Error::BadIndex => 3,
                Error::BadValue => 4,
            }
        }
        /// The error of a non-zero status code (an unknown code is `BadValue`), `None` for 0.
        pub fn from_code(code: i32) -> Option<Error> {
            match code {
                0 => None,
                1 => Some(Error::BadDim),
                2 => Some(Error::BadLength),
                3 => Some(Error::BadIndex),
                4 => Some(Error::BadValue),
                _ => Some(Error::BadValue),
            }
        }
    }

    impl core::fmt::Display for Error {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.write_str(match self {
                Error::BadDim => "a dimension value is out of the supported range",
                Error::BadLength => "a buffer is shorter than the model needs",
                Error::BadIndex => "an index from the data is out of range",
                Error::BadValue => "a run-time value is invalid",
            })
        }
    }

    impl core::error::Error for Error {}

    /// A dimension value as the ABI's `i64` (-1, always rejected, if it does not fit).
    fn kiln_dim(d: usize) -> i64 {
        if d > i64::MAX as usize { -1 } else { d as i64 }
    }

    /// Element count of input "X" (f32, shape [N, 2]).
    pub fn X_len(N: usize) -> usize {
        let kiln_dims: [i64; 1] = [kiln_dim(N)];
        2i64.wrapping_mul(kiln_dims[0]) as usize
    }

    /// Element count of output "y" (f32, shape [N]).
    pub fn y_len(N: usize) -> usize {
        let kiln_dims: [i64; 1] = [kiln_dim(N)];
        kiln_dims[0] as usize
    }

    /// Number of `ScratchBlock`s `run` needs (0 if a dim is out of range: `run` rejects it).
    pub fn scratch_blocks(N: usize) -> usize {
        let kiln_dims: [i64; 1] = [kiln_dim(N)];
        if kiln_dims[0] < 0 || kiln_dims[0] > DIM_MAX_N as i64 {
            return 0;
        }
        let kiln_bytes: i64 = 64i64.wrapping_mul(kiln_dims[0]);
        if kiln_bytes <= 0 { 0 } else { (kiln_bytes as u64).div_ceil(64) as usize }
    }

    /// Runs the model: dims, then inputs, then outputs (row-major), then scratch (at least
    /// `scratch_blocks(dims)` blocks). Validates everything before computing.
    /// - `X`: input "X", f32, shape [N, 2]
    /// - `y`: output "y", f32, shape [N]
    pub fn run(N: usize, X: &[f32], y: &mut [f32], scratch: &mut [ScratchBlock]) -> Result<(), Error> {
        // SAFETY: a null parallel-for runs everything on this thread.
        unsafe { kiln_run(core::ptr::null(), N, X, y, scratch) }
    }

    /// `run` with the caller's parallel-for (`kiln_shim::parallel::Parallel`): large matrix
    /// products and convolutions are split into at most `par.threads` parts that
    /// `par.run` may run on other threads (each needs about 70 KiB of stack). The
    /// results are the same bits for every thread count.
    ///
    /// # Safety
    /// `par.run` calls `task(arg, i)` exactly once for every `i` in `0..n`, and returns
    /// only when every call has returned; `par.ctx` is what it expects.
    pub unsafe fn run_parallel(N: usize, X: &[f32], y: &mut [f32], scratch: &mut [ScratchBlock], par: &kiln_shim::parallel::Parallel) -> Result<(), Error> {
        // SAFETY: as the caller promises.
        unsafe { kiln_run(par, N, X, y, scratch) }
    }

    unsafe fn kiln_run(par: *const kiln_shim::parallel::Parallel, N: usize, X: &[f32], y: &mut [f32], scratch: &mut [ScratchBlock]) -> Result<(), Error> {
        let kiln_dims: [i64; 1] = [kiln_dim(N)];
        let kiln_inputs: [*const u8; 1] = [X.as_ptr() as *const u8];
        let kiln_outputs: [*mut u8; 1] = [y.as_mut_ptr() as *mut u8];
        let kiln_lens: [u64; 3] = [X.len() as u64, y.len() as u64, (scratch.len() as u64).saturating_mul(64)];
        // SAFETY: every pointer comes from a live slice whose length is in `kiln_lens`; the
        // first kernel validates dims and lengths before anything is read or written.
        let kiln_status = unsafe {
            run_parallel_raw(kiln_dims.as_ptr(), kiln_inputs.as_ptr(), kiln_outputs.as_ptr(), scratch.as_mut_ptr() as *mut u8, kiln_lens.as_ptr(), par)
        };
        match Error::from_code(kiln_status) {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }

    /// Runs the model with the C ABI's semantics (docs/abi.md): returns 0 or a status code.
    ///
    /// # Safety
    /// `dims` points to `NUM_DIMS` values (may dangle if there are none); `inputs` and
    /// `outputs` to `NUM_INPUTS` and `NUM_OUTPUTS` pointers to buffers aligned to their element
    /// type and at least as long as `lens` says (element counts of every input then every
    /// output, then the scratch size in bytes); `scratch` is 64-byte aligned; outputs and
    /// scratch do not overlap anything else.
    pub unsafe fn run_raw(dims: *const i64, inputs: *const *const u8, outputs: *const *mut u8, scratch: *mut u8, lens: *const u64) -> i32 {
        unsafe { run_parallel_raw(dims, inputs, outputs, scratch, lens, core::ptr::null()) }
    }

    /// `run_raw` with the caller's parallel-for, or null (as `run_parallel`).
    ///
    /// # Safety
    /// As `run_raw` and `run_parallel`.
    pub unsafe fn run_parallel_raw(dims: *const i64, inputs: *const *const u8, outputs: *const *mut u8, scratch: *mut u8, lens: *const u64, par: *const kiln_shim::parallel::Parallel) -> i32 {
        unsafe {
            let kiln_status = kiln_k0(dims, inputs, outputs, scratch, lens, par);
            if kiln_status != 0 {
                return kiln_status;
            }
            let kiln_status = kiln_k1(dims, inputs, outputs, scratch, lens, par);
            if kiln_status != 0 {
                return kiln_status;
            }
            let kiln_status = kiln_k2(dims, inputs, outputs, scratch, lens, par);
            if kiln_status != 0 {
                return kiln_status;
            }
            0
        }
    }

    #[repr(C, align(64))]
    struct KilnAligned<T: ?Sized>(T);
    /// 128 bytes of weights, little-endian.
    static KILN_WEIGHTS: KilnAligned<[u8; 128]> = KilnAligned(*include_bytes!("linreg.weights.bin"));

    // kernel 0: linreg_check
    unsafe fn kiln_k0(dims: *const i64, inputs: *const *const u8, outputs: *const *mut u8, scratch: *mut u8, lens: *const u64, par: *const kiln_shim::parallel::Parallel) -> i32 {
        unsafe {
            if (((*dims.add(0)) < 0i64) | ((*dims.add(0)) > 2147483647i64)) {
                return 1;
            }
            if ((*lens.add(0) as i64) < 2i64.wrapping_mul((*dims.add(0)))) {
                return 2;
            }
            if ((*lens.add(1) as i64) < (*dims.add(0))) {
                return 2;
            }
            if ((*lens.add(2) as i64) < 64i64.wrapping_mul((*dims.add(0)))) {
                return 2;
            }
            0
        }
    }

    // kernel 1: 0_matmul
    unsafe fn kiln_k1(dims: *const i64, inputs: *const *const u8, outputs: *const *mut u8, scratch: *mut u8, lens: *const u64, par: *const kiln_shim::parallel::Parallel) -> i32 {
        unsafe {
            let b0 = (*inputs.add(0)) as *const f32; // X
            let b1 = KILN_WEIGHTS.0.as_ptr().add(0) as *const f32; // w
            let b3 = scratch.add(0i64 as usize) as *mut f32; // xw
            if cfg!(all(target_arch = "x86_64", target_feature = "avx512f", not(kiln_no_sgemm_kernel))) {
                kiln_shim::kiln_shim_sgemm_avx512((*dims.add(0)), 1i64, 2i64, (b0 as *const f32).wrapping_offset((0i64) as isize), 2i64, 1i64, (b1 as *const f32).wrapping_offset((0i64) as isize), 1i64, 1i64, core::ptr::null(), (b3 as *mut f32).wrapping_offset((0i64) as isize), 1i64, 0i32, core::ptr::null(), core::ptr::null(), 1i64, f32::NEG_INFINITY, f32::INFINITY, 1i64, 0i64, 0i64, 0i64, 0i32, 0i64, par);
            } else if cfg!(all(target_arch = "x86_64", target_feature = "avx2", target_feature = "fma", not(kiln_no_sgemm_kernel))) {
                kiln_shim::kiln_shim_sgemm_avx2((*dims.add(0)), 1i64, 2i64, (b0 as *const f32).wrapping_offset((0i64) as isize), 2i64, 1i64, (b1 as *const f32).wrapping_offset((0i64) as isize), 1i64, 1i64, core::ptr::null(), (b3 as *mut f32).wrapping_offset((0i64) as isize), 1i64, 0i32, core::ptr::null(), core::ptr::null(), 1i64, f32::NEG_INFINITY, f32::INFINITY, 1i64, 0i64, 0i64, 0i64, 0i32, 0i64, par);
            } else if cfg!(all(target_arch = "aarch64", target_feature = "neon", not(kiln_no_sgemm_kernel))) {
                kiln_shim::kiln_shim_sgemm_neon((*dims.add(0)), 1i64, 2i64, (b0 as *const f32).wrapping_offset((0i64) as isize), 2i64, 1i64, (b1 as *const f32).wrapping_offset((0i64) as isize), 1i64, 1i64, core::ptr::null(), (b3 as *mut f32).wrapping_offset((0i64) as isize), 1i64, 0i32, core::ptr::null(), core::ptr::null(), 1i64, f32::NEG_INFINITY, f32::INFINITY, 1i64, 0i64, 0i64, 0i64, 0i32, 0i64, par);
            } else if cfg!(all(target_arch = "x86_64", not(kiln_no_sgemm_kernel))) {
                kiln_shim::kiln_shim_sgemm_x86_any((*dims.add(0)), 1i64, 2i64, (b0 as *const f32).wrapping_offset((0i64) as isize), 2i64, 1i64, (b1 as *const f32).wrapping_offset((0i64) as isize), 1i64, 1i64, core::ptr::null(), (b3 as *mut f32).wrapping_offset((0i64) as isize), 1i64, 0i32, core::ptr::null(), core::ptr::null(), 1i64, f32::NEG_INFINITY, f32::INFINITY, 1i64, 0i64, 0i64, 0i64, 0i32, 0i64, par);
            } else {
                for v0 in 0i64..(*dims.add(0)) {
                    let mut v2: i64 = v0;
                    let mut v3: f32 = 0.0f32;
                    let mut v4: i64 = v0.wrapping_mul(2i64);
                    for v5 in 0i64..2i64 {
                        v3 = kiln_shim::fmaf((*b0.add(v4.wrapping_add(v5) as usize)), (*b1.add(v5 as usize)), v3);
                    }
                    *b3.add(v2 as usize) = v3;
                }
            }
            0
        }
    }

    // kernel 2: 1_add
    unsafe fn kiln_k2(dims: *const i64, inputs: *const *const u8, outputs: *const *mut u8, scratch: *mut u8, lens: *const u64, par: *const kiln_shim::parallel::Parallel) -> i32 {
        unsafe {
            let b2 = KILN_WEIGHTS.0.as_ptr().add(64) as *const f32; // b
            let b3 = scratch.add(0i64 as usize) as *mut f32; // xw
            let b4 = (*outputs.add(0)) as *mut f32; // y
            for v0 in 0i64..(*dims.add(0)) {
                *b4.add(v0 as usize) = ((*b3.add(v0 as usize)) + (*b2.add(0i64 as usize)));
            }
            0
        }
    }
}
