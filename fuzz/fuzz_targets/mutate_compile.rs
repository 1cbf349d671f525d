#![no_main]
// See kiln::fuzzing::mutate_compile.
libfuzzer_sys::fuzz_target!(|data: &[u8]| kiln::fuzzing::mutate_compile(data));
