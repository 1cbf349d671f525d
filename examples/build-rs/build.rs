//! Compiles the example models with Kiln's library API into OUT_DIR (for cargo's TARGET), and
//! writes their test inputs and expected outputs there as raw little-endian bytes, so main.rs
//! can check the generated code against the reference without parsing protobuf.

use std::path::Path;

fn main() {
    let out = std::env::var("OUT_DIR").expect("OUT_DIR");
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models");
    for (dir, name) in [("linreg", "linreg"), ("tiny_mlp", "tiny_mlp")] {
        let case = models.join(dir);
        kiln::Builder::new(case.join("model.onnx"), name)
            .build()
            .unwrap_or_else(|e| panic!("kiln: {e}"));
        for (file, as_name) in [("input_0.pb", "input"), ("output_0.pb", "expected")] {
            let path = case.join("test_data_set_0").join(file);
            println!("cargo:rerun-if-changed={}", path.display());
            let t = kiln::testdata::load_tensor_pb(&path).unwrap_or_else(|e| panic!("{e}"));
            std::fs::write(
                Path::new(&out).join(format!("{name}.{as_name}.bin")),
                t.bytes(),
            )
            .expect("write test data");
        }
    }
}
