#![no_main]
// See kiln::fuzzing::jit_vs_interp.
libfuzzer_sys::fuzz_target!(|data: &[u8]| kiln::fuzzing::jit_vs_interp(data));
