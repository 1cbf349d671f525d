//! Compiles model.onnx (written by train.py) with Kiln's library API into OUT_DIR as Rust
//! source, for cargo's TARGET.

fn main() {
    let model = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("model.onnx");
    println!("cargo:rerun-if-changed={}", model.display());
    kiln::Builder::new(&model, "iris")
        .build()
        .unwrap_or_else(|e| panic!("kiln: {e}"));
}
