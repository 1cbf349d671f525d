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

/// Concat in place: the inputs of a Concat along a contiguous axis become slices of its
/// output (their producers write there, the Concat runs no kernel), also nested (a Concat
/// output that is itself a slice of a later Concat), while an input read again after the
/// Concat keeps its value; a Concat whose inputs are not contiguous slices (axis 2 under a
/// dim of 4), or whose input is already a slice of another Concat, still copies. The result
/// is checked against values computed here, not against interp (which runs the same plan).
#[test]
fn concat_in_place() {
    use kiln::passes::plan::Storage;
    let cat = |name: &str, ins: &[&str], out: &str, axis: i64| {
        node("Concat", name, ins, &[out], vec![("axis", A::I(axis))])
    };
    let nodes = vec![
        node("Relu", "relu", &["x"], &["a"], vec![]),
        node("Neg", "neg", &["x"], &["b"], vec![]),
        cat("cat_ab", &["a", "b"], "c", 1),
        node("Abs", "abs", &["x"], &["n"], vec![]),
        cat("cat_cn", &["c", "n"], "e", 1),
        // `a` is already a slice of `c`: this Concat copies.
        cat("cat_an", &["a", "x"], "d", 1),
        // Not contiguous: dims before axis 2 are [1, 4].
        cat("cat_axis2", &["b", "n"], "g", 2),
        // Reads `a` (in `c`, in `e`) after both Concats ran.
        node("Add", "add_a", &["a", "a"], &["f"], vec![]),
        node("Add", "add_e", &["e", "e"], &["e2"], vec![]),
    ];
    let m = model(
        13,
        vec![vi("x", DType::F32, &[D::K(1), D::K(4), D::K(16)])],
        vec![
            vi("e2", DType::F32, &[]),
            vi("d", DType::F32, &[]),
            vi("g", DType::F32, &[]),
            vi("f", DType::F32, &[]),
        ],
        nodes,
        vec![],
    );
    let c = compile(&m).unwrap();
    let g = &c.model.graph;
    let id = |name: &str| {
        (0..g.values.len() as u32)
            .map(kiln::ir::ValueId)
            .find(|v| g.value(*v).name == name)
            .unwrap_or_else(|| panic!("no value {name}"))
    };
    let slice = |name: &str| match c.plan.storage.get(&id(name)) {
        Some(Storage::Slice {
            of, byte_offset, ..
        }) => Some((g.value(*of).name.clone(), *byte_offset)),
        _ => None,
    };
    assert_eq!(slice("a"), Some(("c".into(), 0)));
    assert_eq!(slice("b"), Some(("c".into(), 256)));
    assert_eq!(slice("c"), Some(("e".into(), 0)));
    assert_eq!(slice("n"), Some(("e".into(), 512)));
    assert!(matches!(
        c.plan.storage.get(&id("e")),
        Some(Storage::Scratch { .. })
    ));
    assert_eq!(slice("x"), None);
    check_no_overlap(&c.plan, &|_| 1).unwrap();
    // The two in-place Concats run no kernel; the other two do.
    let names: Vec<&str> = c.program.kernels.iter().map(|k| k.name.as_str()).collect();
    assert!(
        !names
            .iter()
            .any(|k| k.contains("cat_ab") || k.contains("cat_cn")),
        "{names:?}"
    );
    assert!(names.iter().any(|k| k.contains("cat_an")), "{names:?}");
    assert!(names.iter().any(|k| k.contains("cat_axis2")), "{names:?}");

    let xv: Vec<f32> = (0..64).map(rnd).collect();
    let out = run_all(&c, &[f32s(&[1, 4, 16], |i| xv[i])]);
    let a: Vec<f32> = xv.iter().map(|v| v.max(0.0)).collect();
    let b: Vec<f32> = xv.iter().map(|v| -v).collect();
    let n: Vec<f32> = xv.iter().map(|v| v.abs()).collect();
    let e: Vec<f32> = a.iter().chain(&b).chain(&n).map(|v| v + v).collect();
    let d: Vec<f32> = a.iter().chain(&xv).copied().collect();
    let mut gv = vec![];
    for r in 0..4 {
        gv.extend_from_slice(&b[r * 16..r * 16 + 16]);
        gv.extend_from_slice(&n[r * 16..r * 16 + 16]);
    }
    let f: Vec<f32> = a.iter().map(|v| v + v).collect();
    assert_eq!(out[0].shape, vec![1, 12, 16]);
    assert_eq!(to_f32(&out[0]), e);
    assert_eq!(to_f32(&out[1]), d);
    assert_eq!(out[2].shape, vec![1, 4, 32]);
    assert_eq!(to_f32(&out[2]), gv);
    assert_eq!(to_f32(&out[3]), f);
}

/// `passes::views`: a Transpose that moves only dims of size 1 aliases its input (no
/// kernel); one that reorders dims of other sizes, or a view that is a graph output, copies.
/// Values checked against a transpose computed here, on every backend.
#[test]
fn size_one_transposes_are_views() {
    use kiln::passes::plan::Storage;
    let tr = |name: &str, i: &str, o: &str, perm: &[i64]| {
        node(
            "Transpose",
            name,
            &[i],
            &[o],
            vec![("perm", A::Is(perm.to_vec()))],
        )
    };
    let nodes = vec![
        node("Relu", "relu", &["x"], &["a"], vec![]),
        // (1, 3, 4) -> (3, 1, 4): a view.
        tr("t_view", "a", "b", &[1, 0, 2]),
        node("Neg", "neg", &["b"], &["c"], vec![]),
        // (3, 1, 4) -> (4, 1, 3): a real transpose.
        tr("t_copy", "c", "d", &[2, 1, 0]),
        // (3, 1, 4) -> (1, 3, 4), a graph output: copied linearly.
        tr("t_out", "c", "e", &[1, 0, 2]),
    ];
    let m = model(
        13,
        vec![vi("x", DType::F32, &[D::K(1), D::K(3), D::K(4)])],
        vec![vi("d", DType::F32, &[]), vi("e", DType::F32, &[])],
        nodes,
        vec![],
    );
    let c = compile(&m).unwrap();
    let g = &c.model.graph;
    let id = |name: &str| {
        (0..g.values.len() as u32)
            .map(kiln::ir::ValueId)
            .find(|v| g.value(*v).name == name)
            .unwrap_or_else(|| panic!("no value {name}"))
    };
    assert!(
        matches!(c.plan.storage.get(&id("b")), Some(Storage::View(r)) if *r == id("a")),
        "{:?}",
        c.plan.storage.get(&id("b"))
    );
    let names: Vec<&str> = c.program.kernels.iter().map(|k| k.name.as_str()).collect();
    assert!(!names.iter().any(|k| k.contains("t_view")), "{names:?}");
    assert!(names.iter().any(|k| k.contains("t_copy")), "{names:?}");
    check_no_overlap(&c.plan, &|_| 1).unwrap();

    let xv: Vec<f32> = (0..12).map(rnd).collect();
    let out = run_all(&c, &[f32s(&[1, 3, 4], |i| xv[i])]);
    let cv: Vec<f32> = xv.iter().map(|v| -v.max(0.0)).collect();
    // d[k, 0, i] = c[i, 0, k]
    let mut dv = vec![0f32; 12];
    for i in 0..3 {
        for k in 0..4 {
            dv[k * 3 + i] = cv[i * 4 + k];
        }
    }
    assert_eq!(out[0].shape, vec![4, 1, 3]);
    assert_eq!(to_f32(&out[0]), dv);
    assert_eq!(out[1].shape, vec![1, 3, 4]);
    assert_eq!(to_f32(&out[1]), cv);
}
