#![no_main]
// See kiln::fuzzing::onnx_load.
libfuzzer_sys::fuzz_target!(|data: &[u8]| kiln::fuzzing::onnx_load(data));
