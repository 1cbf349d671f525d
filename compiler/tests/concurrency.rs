//! Re-entrancy: generated code keeps no global mutable state, so one compiled model runs
//! from many threads at once, each with its own inputs, outputs and scratch, and every result
//! equals the interpreter's for the same inputs.

mod common;
use common::*;
use kiln::run::{self, Backend};
use std::path::Path;

#[test]
fn one_jit_program_many_threads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/models/tiny_mlp/model.onnx");
    let c = kiln::compile::compile_file(&path, &kiln::Options::new("m")).unwrap();
    let p = &c.program;
    let jit = run::load(p, Backend::Jit).unwrap();
    let interp = run::load(p, Backend::Interp).unwrap();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let (jit, interp) = (&jit, &interp);
                s.spawn(move || {
                    for round in 0..50 {
                        let batch = 1 + (t + round) % 7;
                        let x = f32s(&[batch as u64, 8], |i| rnd(i + 1000 * t + 7 * round));
                        let prep = run::prepare(p, std::slice::from_ref(&x)).unwrap();
                        let got = run::execute(p, jit, &[&prep]).unwrap().pop().unwrap();
                        let got = run::outputs(p, &prep, got).unwrap();
                        let want = run::execute(p, interp, &[&prep]).unwrap().pop().unwrap();
                        let want = run::outputs(p, &prep, want).unwrap();
                        assert_eq!(got[0].bytes(), want[0].bytes(), "thread {t} round {round}");
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    });
}
