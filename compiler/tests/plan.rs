//! Memory plan property test: in random graphs (with symbolic and known dims), values live at
//! the same time never overlap in scratch, for several run-time dim values, and the planned
//! program computes the same as interp on every backend.

mod common;
use common::*;
use kiln::passes::plan::check_no_overlap;
use kiln::tensor::DType;

/// A small deterministic generator.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn random_model(seed: u64) -> kiln::onnx::proto::ModelProto {
    let mut r = Rng(seed.wrapping_mul(0x2545F4914F6CDD1D) | 1);
    // Values: each (N, w) with w from a small set; ops combine values of the same width or
    // broadcast a (1, w) constant-free value.
    let widths = [1i64, 3, 8, 17];
    let w = widths[r.below(4) as usize];
    let mut names = vec!["x".to_string()];
    let mut nodes = vec![];
    let n_nodes = 3 + r.below(12) as usize;
    for i in 0..n_nodes {
        let a = names[r.below(names.len() as u64) as usize].clone();
        let out = format!("v{i}");
        let node_ = match r.below(5) {
            0 => node("Relu", &format!("n{i}"), &[&a], &[&out], vec![]),
            1 => node("Tanh", &format!("n{i}"), &[&a], &[&out], vec![]),
            _ => {
                let b = names[r.below(names.len() as u64) as usize].clone();
                let op = ["Add", "Mul", "Sub"][r.below(3) as usize];
                node(op, &format!("n{i}"), &[&a, &b], &[&out], vec![])
            }
        };
        nodes.push(node_);
        names.push(out);
    }
    // Outputs: the last value and one random earlier one.
    let o1 = names.last().unwrap().clone();
    let o2 = names[1 + r.below(names.len() as u64 - 1) as usize].clone();
    let mut outs = vec![vi(&o1, DType::F32, &[])];
    if o2 != o1 {
        outs.push(vi(&o2, DType::F32, &[]));
    }
    model(
        17,
        vec![vi("x", DType::F32, &[D::S("N"), D::K(w)])],
        outs,
        nodes,
        vec![],
    )
}

#[test]
fn random_graphs_never_overlap_and_agree() {
    for seed in 0..40u64 {
        let m = random_model(seed);
        let c = compile(&m).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        for n in [0i64, 1, 2, 7, 1000] {
            check_no_overlap(&c.plan, &|_| n).unwrap_or_else(|e| panic!("seed {seed} N={n}: {e}"));
        }
        if seed % 8 == 0 {
            let w = c.program.inputs[0].shape.len();
            assert_eq!(w, 2);
            let width = match &c.program.inputs[0].shape[1] {
                kiln::kir::IoDim::Fixed(v) => *v,
                _ => unreachable!(),
            };
            let x = f32s(&[5, width], rnd);
            run_all(&c, &[x]);
        }
    }
}

#[test]
fn shared_models_plans_do_not_overlap() {
    let dir = std::env::var("KILN_MODELS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/models")
        });
    if !dir.exists() {
        eprintln!("skipped: {} is absent", dir.display());
        return;
    }
    for name in ["linreg_seed", "mlp_mnist"] {
        let c = kiln::compile::compile_file(
            &dir.join(name).join("model.onnx"),
            &kiln::Options::new("m"),
        )
        .unwrap();
        for n in [1, 4, 64] {
            check_no_overlap(&c.plan, &|_| n).unwrap();
        }
    }
}
