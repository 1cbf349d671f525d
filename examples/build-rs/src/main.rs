//! Calls two models compiled by build.rs through their generated, typed Rust API, checks the
//! results against the reference outputs shipped with the models, and prints them.

include!(concat!(env!("OUT_DIR"), "/linreg.rs"));
include!(concat!(env!("OUT_DIR"), "/tiny_mlp.rs"));

fn floats(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn check(name: &str, got: &[f32], want: &[f32]) -> bool {
    let ok = got.len() == want.len()
        && got
            .iter()
            .zip(want)
            .all(|(g, w)| (g - w).abs() <= 1e-6 + 1e-4 * w.abs());
    println!(
        "{name}: {got:?} {}",
        if ok {
            "(matches reference)"
        } else {
            "MISMATCH"
        }
    );
    ok
}

fn main() {
    // linreg: X is (N, 2) with N chosen at run time.
    let x = floats(include_bytes!(concat!(
        env!("OUT_DIR"),
        "/linreg.input.bin"
    )));
    let want = floats(include_bytes!(concat!(
        env!("OUT_DIR"),
        "/linreg.expected.bin"
    )));
    let n = x.len() / 2;
    let mut y = vec![0f32; n];
    let mut scratch = vec![linreg::ScratchBlock::ZERO; linreg::scratch_blocks(n)];
    linreg::run(n, &x, &mut y, &mut scratch).expect("linreg runs");
    let ok1 = check("linreg", &y, &want);

    // tiny_mlp: x is (batch, 8), probs (batch, 4).
    let x = floats(include_bytes!(concat!(
        env!("OUT_DIR"),
        "/tiny_mlp.input.bin"
    )));
    let want = floats(include_bytes!(concat!(
        env!("OUT_DIR"),
        "/tiny_mlp.expected.bin"
    )));
    let batch = x.len() / 8;
    let mut probs = vec![0f32; batch * 4];
    let mut scratch = vec![tiny_mlp::ScratchBlock::ZERO; tiny_mlp::scratch_blocks(batch)];
    tiny_mlp::run(batch, &x, &mut probs, &mut scratch).expect("tiny_mlp runs");
    let ok2 = check("tiny_mlp", &probs, &want);

    // A wrong input length is an error value, not a crash.
    let err = linreg::run(n, &x[..1], &mut y, &mut scratch_for(n));
    println!("short input -> {err:?}");
    let ok3 = err.is_err();

    if ok1 && ok2 && ok3 {
        println!("build-rs: OK");
    } else {
        std::process::exit(1);
    }
}

fn scratch_for(n: usize) -> Vec<linreg::ScratchBlock> {
    vec![linreg::ScratchBlock::ZERO; linreg::scratch_blocks(n)]
}
