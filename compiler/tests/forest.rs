//! Tree ensembles in both layouts: random ensembles built here in Rust (TreeEnsembleRegressor,
//! TreeEnsembleClassifier, and ml-opset-5 TreeEnsemble with BRANCH_MEMBER), each compiled with
//! the nested-`If` layout and with the flat node-array layout, run on every backend (bit-equal
//! to kir::interp) and the two layouts compared bit for bit. Inputs sit on the threshold grid
//! and hold NaNs, so EQ/NEQ/member tests and missing-value tracking are taken both ways.
//! `forest_compile_time` prints (does not assert) the compile time of a 500-tree depth-8
//! forest to an object file.

mod common;
use common::*;
use kiln::onnx::proto::{attribute_proto::AttributeType, AttributeProto, OperatorSetIdProto};
use kiln::ops::ml::tree_flat::with_layout;
use kiln::tensor::{DType, Tensor};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, pct: u64) -> bool {
        self.next() % 100 < pct
    }
    /// A value on the grid {-2, -1.5, ..., 2}.
    fn grid(&mut self) -> f32 {
        self.below(9) as f32 * 0.5 - 2.0
    }
    fn weight(&mut self) -> f32 {
        (self.below(2001) as f32 - 1000.0) / 997.0
    }
}

enum T {
    Branch {
        feat: usize,
        mode: usize,
        val: f32,
        members: Vec<f32>,
        nan: bool,
        t: Box<T>,
        f: Box<T>,
    },
    Leaf(Vec<(usize, f32)>),
}

const MODES: [&str; 7] = [
    "BRANCH_LEQ",
    "BRANCH_LT",
    "BRANCH_GTE",
    "BRANCH_GT",
    "BRANCH_EQ",
    "BRANCH_NEQ",
    "BRANCH_MEMBER",
];

/// What a generated ensemble may contain.
#[derive(Clone, Copy)]
struct Spec {
    trees: usize,
    depth: usize,
    features: usize,
    targets: usize,
    /// Modes drawn from `MODES[..n_modes]` (1: LEQ only).
    n_modes: usize,
    nan: bool,
    /// Leaves hold 0..=max_weights weights with random (possibly repeated) targets; 0 means
    /// exactly one weight per leaf.
    max_weights: usize,
    /// Only this target gets weights (binary classifiers).
    one_target: Option<usize>,
    positive: bool,
    /// Chance (percent) that a node below the top is a leaf before the depth is reached.
    early: u64,
}

fn gen_tree(r: &mut Rng, s: &Spec, depth: usize) -> T {
    if depth == 0 || (depth < s.depth && r.chance(s.early)) {
        let n = if s.max_weights == 0 {
            1
        } else {
            r.below(s.max_weights + 1)
        };
        let ws = (0..n)
            .map(|_| {
                let t = s.one_target.unwrap_or_else(|| r.below(s.targets));
                let w = r.weight();
                (t, if s.positive { w.abs() } else { w })
            })
            .collect();
        return T::Leaf(ws);
    }
    let mode = r.below(s.n_modes);
    let members = if mode == 6 {
        (0..1 + r.below(3)).map(|_| r.grid()).collect()
    } else {
        vec![]
    };
    T::Branch {
        feat: r.below(s.features),
        mode,
        val: r.grid(),
        members,
        nan: s.nan && r.chance(40),
        t: Box::new(gen_tree(r, s, depth - 1)),
        f: Box::new(gen_tree(r, s, depth - 1)),
    }
}

fn strings(name: &str, v: Vec<&str>) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Strings as i32),
        strings: v.into_iter().map(|s| s.as_bytes().to_vec()).collect(),
        ..Default::default()
    }
}

/// Classic (ml opset 1/3) node arrays.
#[derive(Default)]
struct Classic {
    tree: Vec<i64>,
    id: Vec<i64>,
    feat: Vec<i64>,
    mode: Vec<&'static str>,
    val: Vec<f32>,
    tr: Vec<i64>,
    fa: Vec<i64>,
    miss: Vec<i64>,
    wt: Vec<i64>,
    wn: Vec<i64>,
    wi: Vec<i64>,
    ww: Vec<f32>,
}

impl Classic {
    fn add(&mut self, tree: i64, t: &T) -> i64 {
        let me = self
            .id
            .iter()
            .zip(&self.tree)
            .filter(|(_, &tr)| tr == tree)
            .count() as i64;
        let k = self.tree.len();
        self.tree.push(tree);
        self.id.push(me);
        match t {
            T::Leaf(ws) => {
                self.feat.push(0);
                self.mode.push("LEAF");
                self.val.push(0.0);
                self.tr.push(0);
                self.fa.push(0);
                self.miss.push(0);
                for &(c, w) in ws {
                    self.wt.push(tree);
                    self.wn.push(me);
                    self.wi.push(c as i64);
                    self.ww.push(w);
                }
            }
            T::Branch {
                feat,
                mode,
                val,
                nan,
                t,
                f,
                ..
            } => {
                self.feat.push(*feat as i64);
                self.mode.push(MODES[*mode]);
                self.val.push(*val);
                self.tr.push(0);
                self.fa.push(0);
                self.miss.push(*nan as i64);
                let ti = self.add(tree, t);
                let fi = self.add(tree, f);
                self.tr[k] = ti;
                self.fa[k] = fi;
            }
        }
        me
    }
}

fn ml_model(
    ml_opset: i64,
    x_dtype: DType,
    features: usize,
    outs: Vec<kiln::onnx::proto::ValueInfoProto>,
    n: kiln::onnx::proto::NodeProto,
) -> kiln::onnx::proto::ModelProto {
    let mut m = model(
        17,
        vec![vi("x", x_dtype, &[D::S("N"), D::K(features as i64)])],
        outs,
        vec![n],
        vec![],
    );
    m.opset_import.push(OperatorSetIdProto {
        domain: Some("ai.onnx.ml".into()),
        version: Some(ml_opset),
    });
    m
}

enum Kind {
    Regressor { agg: &'static str, base: bool },
    Classifier { classes: usize, base: bool },
}

fn classic_model(
    seed: u64,
    s: &Spec,
    kind: &Kind,
    post: &'static str,
) -> kiln::onnx::proto::ModelProto {
    let mut r = Rng(seed);
    let mut c = Classic::default();
    for t in 0..s.trees {
        let tree = gen_tree(&mut r, s, s.depth);
        c.add(t as i64 * 3 + 1, &tree);
    }
    let prefix = match kind {
        Kind::Regressor { .. } => "target",
        Kind::Classifier { .. } => "class",
    };
    let mut attrs = vec![
        ("nodes_treeids", A::Is(c.tree)),
        ("nodes_nodeids", A::Is(c.id)),
        ("nodes_featureids", A::Is(c.feat)),
        ("nodes_values", A::Fs(c.val)),
        ("nodes_truenodeids", A::Is(c.tr)),
        ("nodes_falsenodeids", A::Is(c.fa)),
        ("nodes_missing_value_tracks_true", A::Is(c.miss)),
        ("post_transform", A::S(post)),
    ];
    let wnames = [
        format!("{prefix}_treeids"),
        format!("{prefix}_nodeids"),
        format!("{prefix}_ids"),
        format!("{prefix}_weights"),
    ];
    let (op, outs) = match kind {
        Kind::Regressor { agg, base } => {
            attrs.push(("n_targets", A::I(s.targets as i64)));
            attrs.push(("aggregate_function", A::S(agg)));
            if *base {
                attrs.push((
                    "base_values",
                    A::Fs((0..s.targets).map(|i| 0.25 * i as f32 - 0.5).collect()),
                ));
            }
            (
                "TreeEnsembleRegressor",
                vec![vi("y", DType::F32, &[D::S("N"), D::K(s.targets as i64)])],
            )
        }
        Kind::Classifier { classes, base } => {
            attrs.push((
                "classlabels_int64s",
                A::Is((0..*classes as i64).map(|c| c * 10 + 3).collect()),
            ));
            if *base {
                attrs.push((
                    "base_values",
                    A::Fs((0..*classes).map(|i| 0.125 * i as f32 - 0.25).collect()),
                ));
            }
            (
                "TreeEnsembleClassifier",
                vec![
                    vi("label", DType::I64, &[D::S("N")]),
                    vi("scores", DType::F32, &[D::S("N"), D::K(*classes as i64)]),
                ],
            )
        }
    };
    let onames: Vec<String> = outs.iter().map(|o| o.name.clone().unwrap()).collect();
    let orefs: Vec<&str> = onames.iter().map(|s| s.as_str()).collect();
    let mut n = node(op, "forest", &["x"], &orefs, attrs);
    n.domain = Some("ai.onnx.ml".into());
    n.attribute.push(strings("nodes_modes", c.mode));
    n.attribute.push(AttributeProto {
        name: Some(wnames[0].clone()),
        r#type: Some(AttributeType::Ints as i32),
        ints: c.wt,
        ..Default::default()
    });
    n.attribute.push(AttributeProto {
        name: Some(wnames[1].clone()),
        r#type: Some(AttributeType::Ints as i32),
        ints: c.wn,
        ..Default::default()
    });
    n.attribute.push(AttributeProto {
        name: Some(wnames[2].clone()),
        r#type: Some(AttributeType::Ints as i32),
        ints: c.wi,
        ..Default::default()
    });
    n.attribute.push(AttributeProto {
        name: Some(wnames[3].clone()),
        r#type: Some(AttributeType::Floats as i32),
        floats: c.ww,
        ..Default::default()
    });
    ml_model(3, DType::F32, s.features, outs, n)
}

/// ml opset 5 TreeEnsemble: node arrays with leaf flags, one weight per leaf.
fn ensemble5_model(
    seed: u64,
    s: &Spec,
    x_dtype: DType,
    agg: i64,
    post: i64,
) -> kiln::onnx::proto::ModelProto {
    #[derive(Default)]
    struct E {
        feat: Vec<i64>,
        split: Vec<f64>,
        mode: Vec<i64>,
        tr: Vec<i64>,
        tl: Vec<i64>,
        fa: Vec<i64>,
        fl: Vec<i64>,
        miss: Vec<i64>,
        members: Vec<f64>,
        lt: Vec<i64>,
        lw: Vec<f64>,
    }
    // Returns (index, is_leaf).
    fn add(e: &mut E, t: &T) -> (i64, bool) {
        match t {
            T::Leaf(ws) => {
                let (c, w) = ws[0];
                e.lt.push(c as i64);
                e.lw.push(w as f64);
                (e.lt.len() as i64 - 1, true)
            }
            T::Branch {
                feat,
                mode,
                val,
                members,
                nan,
                t,
                f,
            } => {
                let k = e.feat.len();
                e.feat.push(*feat as i64);
                e.split.push(*val as f64);
                e.mode.push(*mode as i64);
                e.miss.push(*nan as i64);
                if *mode == 6 {
                    e.members.extend(members.iter().map(|&m| m as f64));
                    e.members.push(f64::NAN);
                }
                e.tr.push(0);
                e.tl.push(0);
                e.fa.push(0);
                e.fl.push(0);
                let (ti, tlf) = add(e, t);
                let (fi, flf) = add(e, f);
                e.tr[k] = ti;
                e.tl[k] = tlf as i64;
                e.fa[k] = fi;
                e.fl[k] = flf as i64;
                (k as i64, false)
            }
        }
    }
    let mut r = Rng(seed);
    let mut e = E::default();
    let mut roots = vec![];
    for _ in 0..s.trees {
        // Opset 5 roots are nodes: regenerate until the root is a branch.
        let tree = loop {
            let t = gen_tree(&mut r, s, s.depth);
            if matches!(t, T::Branch { .. }) {
                break t;
            }
        };
        roots.push(add(&mut e, &tree).0);
    }
    let ft = |v: &[f64]| -> Tensor {
        if x_dtype == DType::F64 {
            let b: Vec<u8> = v.iter().flat_map(|x| x.to_ne_bytes()).collect();
            Tensor::from_bytes(DType::F64, vec![v.len() as u64], b)
        } else {
            let f: Vec<f32> = v.iter().map(|&x| x as f32).collect();
            Tensor::from_f32(vec![v.len() as u64], &f)
        }
    };
    let modes = Tensor::from_bytes(
        DType::U8,
        vec![e.mode.len() as u64],
        e.mode.iter().map(|&m| m as u8).collect(),
    );
    let mut attrs = vec![
        ("nodes_featureids", A::Is(e.feat)),
        ("nodes_splits", A::T(ft(&e.split))),
        ("nodes_modes", A::T(modes)),
        ("nodes_truenodeids", A::Is(e.tr)),
        ("nodes_trueleafs", A::Is(e.tl)),
        ("nodes_falsenodeids", A::Is(e.fa)),
        ("nodes_falseleafs", A::Is(e.fl)),
        ("nodes_missing_value_tracks_true", A::Is(e.miss)),
        ("leaf_targetids", A::Is(e.lt)),
        ("leaf_weights", A::T(ft(&e.lw))),
        ("tree_roots", A::Is(roots)),
        ("n_targets", A::I(s.targets as i64)),
        ("aggregate_function", A::I(agg)),
        ("post_transform", A::I(post)),
    ];
    if !e.members.is_empty() {
        attrs.push(("membership_values", A::T(ft(&e.members))));
    }
    let mut n = node("TreeEnsemble", "forest", &["x"], &["y"], attrs);
    n.domain = Some("ai.onnx.ml".into());
    ml_model(
        5,
        x_dtype,
        s.features,
        vec![vi("y", x_dtype, &[D::S("N"), D::K(s.targets as i64)])],
        n,
    )
}

fn input(seed: u64, rows: usize, features: usize, dtype: DType) -> Tensor {
    let mut r = Rng(seed ^ 0xabcdef);
    let v: Vec<f64> = (0..rows * features)
        .map(|_| {
            if r.chance(6) {
                f64::NAN
            } else if r.chance(70) {
                r.grid() as f64
            } else {
                r.grid() as f64 + 0.25
            }
        })
        .collect();
    let shape = vec![rows as u64, features as u64];
    if dtype == DType::F64 {
        Tensor::from_bytes(
            dtype,
            shape,
            v.iter().flat_map(|x| x.to_ne_bytes()).collect(),
        )
    } else {
        let f: Vec<f32> = v.iter().map(|&x| x as f32).collect();
        Tensor::from_f32(shape, &f)
    }
}

/// Compile with each layout, run on every backend, compare the layouts bit for bit.
fn both_layouts(what: &str, m: &kiln::onnx::proto::ModelProto, x: &Tensor) {
    let run = |flat: bool| {
        let c = with_layout(Some(flat), || compile(m))
            .unwrap_or_else(|e| panic!("{what} (flat={flat}): {e}"));
        let flat_arrays = c
            .program
            .buffers
            .iter()
            .any(|b| b.name.ends_with("tree_roots"));
        assert_eq!(flat_arrays, flat, "{what}: layout not as forced");
        run_all(&c, std::slice::from_ref(x))
    };
    let nested = run(false);
    let flat = run(true);
    assert_eq!(nested.len(), flat.len());
    for (k, (a, b)) in nested.iter().zip(&flat).enumerate() {
        assert_eq!(a.shape, b.shape, "{what} output {k}");
        for i in 0..a.numel() as usize {
            let (p, q) = (a.get_f64(i), b.get_f64(i));
            assert!(
                p.to_bits() == q.to_bits() || (p.is_nan() && q.is_nan()),
                "{what} output {k} element {i}: nested {p} vs flat {q}"
            );
        }
    }
    // The inputs reach more than one leaf value: the comparison is not vacuous.
    let last = nested.last().unwrap();
    let distinct: std::collections::BTreeSet<u64> = (0..last.numel() as usize)
        .map(|i| last.get_f64(i).to_bits())
        .collect();
    assert!(
        distinct.len() > 1,
        "{what}: every output is the same: {:?}",
        (0..last.numel().min(8) as usize)
            .map(|i| last.get_f64(i))
            .collect::<Vec<_>>()
    );
}

const ROWS: usize = 64;

#[test]
fn regressors_both_layouts() {
    let aggs = ["SUM", "AVERAGE", "MIN", "MAX"];
    let posts = ["NONE", "SOFTMAX", "LOGISTIC", "SOFTMAX_ZERO", "PROBIT"];
    // One target, LEQ only, one weight per leaf (the common GBDT shape).
    let s1 = Spec {
        trees: 12,
        depth: 5,
        features: 6,
        targets: 1,
        n_modes: 1,
        nan: false,
        max_weights: 0,
        one_target: None,
        positive: false,
        early: 15,
    };
    let m = classic_model(
        1,
        &s1,
        &Kind::Regressor {
            agg: "SUM",
            base: true,
        },
        "NONE",
    );
    both_layouts("regressor sum 1 target", &m, &input(1, ROWS, 6, DType::F32));
    // Every mode, NaN tracking, leaves with 0..=3 weights (repeated targets), every aggregate
    // and post transform.
    for (i, agg) in aggs.iter().enumerate() {
        for targets in [1, 3] {
            let s = Spec {
                trees: 9,
                depth: 4,
                features: 5,
                targets,
                n_modes: 6,
                nan: true,
                max_weights: 3,
                one_target: None,
                positive: false,
                early: 15,
            };
            let post = posts[(i + targets) % posts.len()];
            let seed = 10 + i as u64 * 7 + targets as u64;
            let m = classic_model(
                seed,
                &s,
                &Kind::Regressor {
                    agg,
                    base: i % 2 == 0,
                },
                post,
            );
            both_layouts(
                &format!("regressor {agg} {targets} targets {post}"),
                &m,
                &input(seed, ROWS, 5, DType::F32),
            );
        }
    }
}

#[test]
fn classifiers_both_layouts() {
    let posts = ["NONE", "SOFTMAX", "LOGISTIC", "SOFTMAX_ZERO", "PROBIT"];
    for (i, post) in posts.iter().enumerate() {
        // Three classes, leaves with weights for several classes.
        let s = Spec {
            trees: 8,
            depth: 4,
            features: 4,
            targets: 3,
            n_modes: 6,
            nan: true,
            max_weights: 3,
            one_target: None,
            positive: false,
            early: 15,
        };
        let seed = 100 + i as u64;
        let m = classic_model(
            seed,
            &s,
            &Kind::Classifier {
                classes: 3,
                base: i % 2 == 1,
            },
            post,
        );
        both_layouts(
            &format!("classifier 3 classes {post}"),
            &m,
            &input(seed, ROWS, 4, DType::F32),
        );
    }
    // Two classes: the binary case (weights for class 1 only, positive or mixed sign) and
    // weights for both classes; with and without base values.
    for (i, (one, positive, base, post)) in [
        (Some(1), true, false, "NONE"),
        (Some(1), true, false, "LOGISTIC"),
        (Some(1), false, false, "LOGISTIC"),
        (Some(1), false, true, "NONE"),
        (None, false, false, "SOFTMAX"),
        (None, false, true, "NONE"),
        (None, true, false, "SOFTMAX_ZERO"),
    ]
    .into_iter()
    .enumerate()
    {
        let s = Spec {
            trees: 10,
            depth: 4,
            features: 4,
            targets: 2,
            n_modes: 2,
            nan: true,
            max_weights: 0,
            one_target: one,
            positive,
            early: 15,
        };
        let seed = 200 + i as u64;
        let m = classic_model(seed, &s, &Kind::Classifier { classes: 2, base }, post);
        both_layouts(
            &format!("classifier 2 classes #{i} {post}"),
            &m,
            &input(seed, ROWS, 4, DType::F32),
        );
    }
}

#[test]
fn ensemble5_both_layouts() {
    // Every aggregate (0 AVERAGE, 1 SUM, 2 MIN, 3 MAX), every post transform, all seven modes
    // including BRANCH_MEMBER, float and double.
    for (i, dtype) in [DType::F32, DType::F64, DType::F32, DType::F64]
        .into_iter()
        .enumerate()
    {
        for targets in [1, 2] {
            let s = Spec {
                trees: 8,
                depth: 4,
                features: 5,
                targets,
                n_modes: 7,
                nan: true,
                max_weights: 0,
                one_target: None,
                positive: false,
                early: 15,
            };
            let seed = 300 + i as u64 * 3 + targets as u64;
            let agg = i as i64;
            let post = ((i + targets) % 5) as i64;
            let m = ensemble5_model(seed, &s, dtype, agg, post);
            both_layouts(
                &format!("TreeEnsemble {dtype} agg {agg} post {post} {targets} targets"),
                &m,
                &input(seed, ROWS, 5, dtype),
            );
        }
    }
}

/// Prints the compile time of a 500-tree depth-8 forest (127,500 branch nodes) to an object
/// file with the flat layout, and of a 50-tree forest of the same depth with both layouts.
/// Timings are printed, not asserted (debug builds and a loaded machine).
#[test]
fn forest_compile_time() {
    let target = kiln_targets::Target::host();
    let spec = |trees| Spec {
        trees,
        depth: 8,
        features: 20,
        targets: 1,
        n_modes: 1,
        nan: false,
        max_weights: 0,
        one_target: None,
        positive: false,
        early: 0,
    };
    let full = |s: &Spec| {
        // Full trees (early: 0): 255 branch nodes each.
        classic_model(
            7,
            s,
            &Kind::Regressor {
                agg: "SUM",
                base: false,
            },
            "NONE",
        )
    };
    let time = |m: &kiln::onnx::proto::ModelProto, flat: bool| {
        let t0 = std::time::Instant::now();
        let c = with_layout(Some(flat), || compile(m)).expect("compiles");
        let obj =
            kiln::compile::emit(&c.program, kiln::compile::Emit::Object, &target).expect("object");
        let size: usize = obj.iter().map(|(_, b)| b.len()).sum();
        (t0.elapsed().as_secs_f64(), size)
    };
    let big = full(&spec(500));
    let (t, sz) = time(&big, true);
    println!("forest 500 trees depth 8, flat: compiled to an object in {t:.2} s ({sz} bytes)");
    let small = full(&spec(50));
    for flat in [false, true] {
        let (t, sz) = time(&small, flat);
        println!(
            "forest 50 trees depth 8, {}: compiled to an object in {t:.2} s ({sz} bytes)",
            if flat { "flat" } else { "nested" }
        );
    }
}

/// Run by hand (`cargo test -p kiln --test forest layout_timings -- --ignored --nocapture`):
/// compile time (to JIT code) and run time per call of full forests of several sizes in both
/// layouts, 1 row and 1000 rows; the figures behind `FLAT_ABOVE_NODES` (docs/decisions.md).
/// The nested layout is skipped above 1000 tree-levels (it takes seconds to compile).
#[test]
#[ignore = "timings, run by hand"]
fn layout_timings() {
    use kiln::run::{self, Backend};
    for (trees, depth) in [
        (5, 4),
        (10, 5),
        (8, 8),
        (20, 6),
        (16, 8),
        (40, 6),
        (100, 6),
        (50, 8),
        (500, 8),
    ] {
        let s = Spec {
            trees,
            depth,
            features: 20,
            targets: 1,
            n_modes: 1,
            nan: false,
            max_weights: 0,
            one_target: None,
            positive: false,
            early: 0,
        };
        let m = classic_model(
            7,
            &s,
            &Kind::Regressor {
                agg: "SUM",
                base: false,
            },
            "NONE",
        );
        for rows in [1usize, 1000] {
            let x = input(3, rows, 20, DType::F32);
            let mut line = format!(
                "trees {trees} depth {depth} nodes {} rows {rows}:",
                trees * ((1 << depth) - 1)
            );
            for flat in [false, true] {
                if !flat && trees * depth > 1000 {
                    continue;
                }
                let t0 = std::time::Instant::now();
                let c = with_layout(Some(flat), || compile(&m)).unwrap();
                let l = run::load(&c.program, Backend::Jit).unwrap();
                let ct = t0.elapsed().as_secs_f64();
                let prep = run::prepare_compiled(&c, std::slice::from_ref(&x)).unwrap();
                let reqs: Vec<&run::Prepared> = (0..if rows == 1 { 2000 } else { 20 })
                    .map(|_| &prep)
                    .collect();
                let _ = run::execute(&c.program, &l, &reqs[..2]).unwrap();
                let t1 = std::time::Instant::now();
                let _ = run::execute(&c.program, &l, &reqs).unwrap();
                let per = t1.elapsed().as_secs_f64() / reqs.len() as f64;
                line += &format!(
                    " {} compile {ct:.3}s run {:.1}us;",
                    if flat { "flat" } else { "nested" },
                    per * 1e6
                );
            }
            println!("{line}");
        }
    }
}

/// Run by hand: writes the 500-tree depth-8 forest and 1000 distinct rows as a model folder
/// (ONNX backend-test layout) into `$KILN_FOREST_DUMP`, for `kiln bench` against onnxruntime.
#[test]
#[ignore = "writes a benchmark model, run by hand"]
fn dump_big_forest() {
    use prost::Message;
    let Ok(dir) = std::env::var("KILN_FOREST_DUMP") else {
        panic!("set KILN_FOREST_DUMP to the folder to write");
    };
    let s = Spec {
        trees: 500,
        depth: 8,
        features: 20,
        targets: 1,
        n_modes: 1,
        nan: false,
        max_weights: 0,
        one_target: None,
        positive: false,
        early: 0,
    };
    let m = classic_model(
        7,
        &s,
        &Kind::Regressor {
            agg: "SUM",
            base: false,
        },
        "NONE",
    );
    let d = std::path::Path::new(&dir);
    std::fs::create_dir_all(d.join("test_data_set_0")).unwrap();
    std::fs::write(d.join("model.onnx"), bytes(&m)).unwrap();
    let x = f32s(&[1000, 20], |i| rnd(i * 7 + 3));
    let p = init("x", &x);
    std::fs::write(d.join("test_data_set_0/input_0.pb"), p.encode_to_vec()).unwrap();
}
