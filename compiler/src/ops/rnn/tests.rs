//! Unit tests of RNN/GRU/LSTM: attribute errors (naming node, op, opset and attribute), and
//! lowerings run through `lower::eval_node` (the interpreter) against a direct f64
//! computation of the spec's equations — covering what the conformance cases do not:
//! `linear_before_reset`, `sequence_lens` with reverse and bidirectional runs, `layout = 1`,
//! peepholes with `input_forget`, `clip` and parameterised activations.

use super::act::Act;
use crate::ir::{AttrValue, Dim, Node, TensorType, ValueId};
use crate::lower::eval_node;
use crate::ops::{import, InferCx};
use crate::tensor::{DType, Tensor};

fn node(
    op: &str,
    opset: i64,
    inputs: &[bool],
    n_out: usize,
    attrs: Vec<(&str, AttrValue)>,
) -> Node {
    Node {
        name: "n0".into(),
        op_type: op.into(),
        domain: String::new(),
        opset,
        inputs: inputs
            .iter()
            .enumerate()
            .map(|(i, p)| p.then_some(ValueId(i as u32)))
            .collect(),
        outputs: (0..n_out).map(|i| Some(ValueId(100 + i as u32))).collect(),
        attrs: attrs.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
    }
}

fn s(v: &str) -> AttrValue {
    AttrValue::String(v.as_bytes().to_vec())
}

fn import_err(n: &Node) -> String {
    match import(n) {
        Ok(op) => panic!("expected an error, got {op:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn attribute_errors_name_node_op_and_attribute() {
    let h = ("hidden_size", AttrValue::Int(3));
    let n = node(
        "LSTM",
        22,
        &[true; 3],
        2,
        vec![h.clone(), ("direction", s("sideways"))],
    );
    let e = import_err(&n);
    assert!(
        e.contains("node n0 (LSTM, opset 22)") && e.contains("'direction'"),
        "{e}"
    );
    let acts = AttrValue::Strings(vec![b"Sigmoid".to_vec(), b"Swish".to_vec()]);
    let n = node(
        "GRU",
        14,
        &[true; 3],
        2,
        vec![h.clone(), ("activations", acts)],
    );
    let e = import_err(&n);
    assert!(e.contains("(GRU, opset 14)") && e.contains("'activations'") && e.contains("swish"));
    let acts = AttrValue::Strings(vec![b"LeakyRelu".to_vec()]);
    let alphas = AttrValue::Floats(vec![0.1, 0.2, 0.3]);
    let n = node(
        "RNN",
        22,
        &[true; 3],
        2,
        vec![
            h.clone(),
            ("activations", acts),
            ("activation_alpha", alphas),
        ],
    );
    let e = import_err(&n);
    assert!(e.contains("'activation_alpha'"), "{e}");
    let n = node(
        "RNN",
        22,
        &[true; 3],
        2,
        vec![h.clone(), ("layout", AttrValue::Int(2))],
    );
    assert!(import_err(&n).contains("'layout'"));
    // layout does not exist before opset 14: rejected as unread.
    let n = node(
        "RNN",
        13,
        &[true; 3],
        2,
        vec![h.clone(), ("layout", AttrValue::Int(1))],
    );
    assert!(import_err(&n).contains("'layout'"));
    let n = node(
        "LSTM",
        22,
        &[true; 3],
        2,
        vec![h, ("clip", AttrValue::Float(-1.0))],
    );
    assert!(import_err(&n).contains("'clip'"));
}

#[test]
fn shape_errors_name_the_input() {
    let n = node(
        "GRU",
        22,
        &[true; 3],
        2,
        vec![("hidden_size", AttrValue::Int(4))],
    );
    let op = import(&n).unwrap();
    let t = |s: &[i64]| TensorType {
        dtype: DType::F32,
        shape: s.iter().map(|d| Dim::known(*d)).collect(),
    };
    let (x, w, r) = (t(&[5, 2, 3]), t(&[1, 12, 3]), t(&[1, 12, 5]));
    let cx = InferCx {
        node: &n,
        inputs: vec![Some(&x), Some(&w), Some(&r)],
        consts: vec![None; 3],
        syms: &[],
    };
    let e = op.infer(&cx).unwrap_err().to_string();
    assert!(
        e.contains("(GRU, opset 22)") && e.contains("R (input 2)"),
        "{e}"
    );
}

/// Deterministic pseudo-random values in [-1, 1).
fn vals(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        })
        .collect()
}

fn f64t(shape: &[usize], v: &[f64]) -> Tensor {
    let bytes = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    Tensor::from_bytes(DType::F64, shape.iter().map(|d| *d as u64).collect(), bytes)
}

fn apply(a: Act, x: f64) -> f64 {
    match a {
        Act::Sigmoid => 1.0 / (1.0 + (-x).exp()),
        Act::Tanh => x.tanh(),
        Act::Relu => x.max(0.0),
        Act::Affine { alpha, beta } => alpha * x + beta,
        Act::LeakyRelu { alpha } => {
            if x < 0.0 {
                alpha * x
            } else {
                x
            }
        }
        Act::ThresholdedRelu { alpha } => {
            if x > alpha {
                x
            } else {
                0.0
            }
        }
        Act::ScaledTanh { alpha, beta } => alpha * (beta * x).tanh(),
        Act::HardSigmoid { alpha, beta } => (alpha * x + beta).clamp(0.0, 1.0),
        Act::Elu { alpha } => {
            if x < 0.0 {
                alpha * (x.exp() - 1.0)
            } else {
                x
            }
        }
        Act::Softsign => x / (1.0 + x.abs()),
        Act::Softplus => (1.0 + x.exp()).ln(),
    }
}

struct Case {
    op: &'static str,
    dirs: usize,
    reverse: bool,
    seq: usize,
    batch: usize,
    input: usize,
    hidden: usize,
    lens: Option<Vec<i32>>,
    acts: Vec<Act>,
    clip: Option<f64>,
    lbr: bool,
    input_forget: bool,
    peep: bool,
    batch_first: bool,
    attrs: Vec<(&'static str, AttrValue)>,
}

/// Run `c` through the interpreter and compare every output with the direct computation.
fn check(c: &Case) {
    let g = match c.op {
        "RNN" => 1,
        "GRU" => 3,
        _ => 4,
    };
    let (nd, l, nb, ni, h) = (c.dirs, c.seq, c.batch, c.input, c.hidden);
    let x = vals(l * nb * ni, 1); // logical [t][b][k]
    let w = vals(nd * g * h * ni, 2);
    let r = vals(nd * g * h * h, 3);
    let b = vals(nd * 2 * g * h, 4);
    let h0 = vals(nd * nb * h, 5); // logical [d][b][j]
    let c0 = vals(nd * nb * h, 6);
    let p = vals(nd * 3 * h, 7);
    let lens: Vec<usize> = match &c.lens {
        Some(v) => v.iter().map(|x| *x as usize).collect(),
        None => vec![l; nb],
    };
    // Reference.
    let mut y = vec![0.0; l * nd * nb * h]; // logical [t][d][b][j]
    let mut yh = vec![0.0; nd * nb * h];
    let mut yc = vec![0.0; nd * nb * h];
    let per = c.acts.len() / nd;
    let cl = |v: f64| c.clip.map_or(v, |k| v.clamp(-k, k));
    for d in 0..nd {
        let rev = c.reverse || d == 1;
        let act = |k: usize, v: f64| apply(c.acts[d * per + k], v);
        for bb in 0..nb {
            let mut hs: Vec<f64> = (0..h).map(|j| h0[(d * nb + bb) * h + j]).collect();
            let mut cs: Vec<f64> = (0..h).map(|j| c0[(d * nb + bb) * h + j]).collect();
            for s in 0..lens[bb] {
                let t = if rev { lens[bb] - 1 - s } else { s };
                let xw = |row: usize| -> f64 {
                    (0..ni)
                        .map(|k| x[(t * nb + bb) * ni + k] * w[(d * g * h + row) * ni + k])
                        .sum()
                };
                let hr = |row: usize, src: &[f64]| -> f64 {
                    (0..h).map(|k| src[k] * r[(d * g * h + row) * h + k]).sum()
                };
                let wb = |row: usize| b[d * 2 * g * h + row];
                let rb = |row: usize| b[d * 2 * g * h + g * h + row];
                let gate = |row: usize| xw(row) + hr(row, &hs) + wb(row) + rb(row);
                let new: Vec<f64> = match c.op {
                    "RNN" => (0..h).map(|j| act(0, cl(gate(j)))).collect(),
                    "GRU" => {
                        let rg: Vec<f64> = (0..h).map(|k| act(0, cl(gate(h + k)))).collect();
                        let rh: Vec<f64> = (0..h).map(|k| rg[k] * hs[k]).collect();
                        (0..h)
                            .map(|j| {
                                let z = act(0, cl(gate(j)));
                                let row = 2 * h + j;
                                let pre = if c.lbr {
                                    xw(row) + rg[j] * (hr(row, &hs) + rb(row)) + wb(row)
                                } else {
                                    xw(row) + hr(row, &rh) + rb(row) + wb(row)
                                };
                                let hh = act(1, cl(pre));
                                (1.0 - z) * hh + z * hs[j]
                            })
                            .collect()
                    }
                    _ => {
                        let pp = |k: usize, j: usize| {
                            if c.peep {
                                p[d * 3 * h + k * h + j]
                            } else {
                                0.0
                            }
                        };
                        let mut out = vec![0.0; h];
                        for j in 0..h {
                            let i = act(0, cl(gate(j) + pp(0, j) * cs[j]));
                            let f = if c.input_forget {
                                1.0 - i
                            } else {
                                act(0, cl(gate(2 * h + j) + pp(2, j) * cs[j]))
                            };
                            let cc = act(1, cl(gate(3 * h + j)));
                            let cn = f * cs[j] + i * cc;
                            let o = act(0, cl(gate(h + j) + pp(1, j) * cn));
                            out[j] = o * act(2, cn);
                            cs[j] = cn;
                        }
                        out
                    }
                };
                hs = new;
                for j in 0..h {
                    y[((t * nd + d) * nb + bb) * h + j] = hs[j];
                }
            }
            for j in 0..h {
                yh[(d * nb + bb) * h + j] = hs[j];
                yc[(d * nb + bb) * h + j] = cs[j];
            }
        }
    }
    // Physical layouts.
    let bf = c.batch_first;
    let xs = if bf {
        let mut v = vec![0.0; x.len()];
        for t in 0..l {
            for bb in 0..nb {
                for k in 0..ni {
                    v[(bb * l + t) * ni + k] = x[(t * nb + bb) * ni + k];
                }
            }
        }
        (v, vec![nb, l, ni])
    } else {
        (x.clone(), vec![l, nb, ni])
    };
    let state = |v: &[f64]| -> Vec<f64> {
        if !bf {
            return v.to_vec();
        }
        let mut o = vec![0.0; v.len()];
        for d in 0..nd {
            for bb in 0..nb {
                for j in 0..h {
                    o[(bb * nd + d) * h + j] = v[(d * nb + bb) * h + j];
                }
            }
        }
        o
    };
    let sshape = if bf { vec![nb, nd, h] } else { vec![nd, nb, h] };
    let lstm = c.op == "LSTM";
    let mut ins: Vec<Option<Tensor>> = vec![
        Some(f64t(&xs.1, &xs.0)),
        Some(f64t(&[nd, g * h, ni], &w)),
        Some(f64t(&[nd, g * h, h], &r)),
        Some(f64t(&[nd, 2 * g * h], &b)),
        c.lens.as_ref().map(|v| {
            let bytes = v.iter().flat_map(|x| x.to_le_bytes()).collect();
            Tensor::from_bytes(DType::I32, vec![nb as u64], bytes)
        }),
        Some(f64t(&sshape, &state(&h0))),
    ];
    if lstm {
        ins.push(Some(f64t(&sshape, &state(&c0))));
        ins.push(c.peep.then(|| f64t(&[nd, 3 * h], &p)));
    }
    let present: Vec<bool> = ins.iter().map(|t| t.is_some()).collect();
    let mut attrs = c.attrs.clone();
    attrs.push(("hidden_size", AttrValue::Int(h as i64)));
    if nd == 2 {
        attrs.push(("direction", s("bidirectional")));
    } else if c.reverse {
        attrs.push(("direction", s("reverse")));
    }
    if bf {
        attrs.push(("layout", AttrValue::Int(1)));
    }
    let n_out = if lstm { 3 } else { 2 };
    let n = node(c.op, 22, &present, n_out, attrs);
    let op = import(&n).unwrap();
    let types: Vec<Option<TensorType>> = ins
        .iter()
        .map(|t| {
            t.as_ref().map(|t| TensorType {
                dtype: t.dtype,
                shape: t.shape.iter().map(|d| Dim::known(*d as i64)).collect(),
            })
        })
        .collect();
    let refs: Vec<Option<&Tensor>> = ins.iter().map(|t| t.as_ref()).collect();
    let cx = InferCx {
        node: &n,
        inputs: types.iter().map(|t| t.as_ref()).collect(),
        consts: refs.clone(),
        syms: &[],
    };
    let out_types = op.infer(&cx).unwrap();
    let outs = eval_node(&n, op.as_ref(), &refs, &out_types).unwrap();
    let yp = if bf {
        let mut o = vec![0.0; y.len()];
        for t in 0..l {
            for d in 0..nd {
                for bb in 0..nb {
                    for j in 0..h {
                        o[((bb * l + t) * nd + d) * h + j] = y[((t * nd + d) * nb + bb) * h + j];
                    }
                }
            }
        }
        o
    } else {
        y
    };
    let mut want = vec![yp, state(&yh)];
    if lstm {
        want.push(state(&yc));
    }
    for (k, (got, want)) in outs.iter().zip(&want).enumerate() {
        assert_eq!(got.numel() as usize, want.len());
        for (i, wv) in want.iter().enumerate() {
            let gv = got.get_f64(i);
            assert!(
                (gv - wv).abs() <= 1e-12 * (1.0 + wv.abs()),
                "{} output {k} element {i}: got {gv}, want {wv}",
                c.op
            );
        }
    }
}

fn base(op: &'static str, acts: Vec<Act>) -> Case {
    Case {
        op,
        dirs: 1,
        reverse: false,
        seq: 4,
        batch: 3,
        input: 2,
        hidden: 3,
        lens: None,
        acts,
        clip: None,
        lbr: false,
        input_forget: false,
        peep: false,
        batch_first: false,
        attrs: vec![],
    }
}

#[test]
fn gru_linear_before_reset_bidirectional_with_sequence_lens() {
    let mut c = base(
        "GRU",
        vec![Act::Sigmoid, Act::Tanh, Act::Sigmoid, Act::Tanh],
    );
    c.dirs = 2;
    c.lbr = true;
    c.lens = Some(vec![4, 1, 0]);
    c.attrs.push(("linear_before_reset", AttrValue::Int(1)));
    check(&c);
    c.lbr = false;
    c.attrs.clear();
    c.batch_first = true;
    check(&c);
}

#[test]
fn lstm_peepholes_input_forget_clip_reverse_batch_first() {
    let mut c = base("LSTM", vec![Act::Sigmoid, Act::Tanh, Act::Tanh]);
    c.reverse = true;
    c.peep = true;
    c.input_forget = true;
    c.clip = Some(0.5);
    c.batch_first = true;
    c.lens = Some(vec![2, 4, 3]);
    c.attrs.push(("input_forget", AttrValue::Int(1)));
    c.attrs.push(("clip", AttrValue::Float(0.5)));
    check(&c);
}

#[test]
fn rnn_and_lstm_with_parameterised_activations() {
    let names = |v: &[&str]| AttrValue::Strings(v.iter().map(|s| s.as_bytes().to_vec()).collect());
    let mut c = base(
        "RNN",
        vec![
            Act::LeakyRelu { alpha: 0.25 },
            Act::ScaledTanh {
                alpha: 0.5,
                beta: 2.0,
            },
        ],
    );
    c.dirs = 2;
    c.attrs = vec![
        ("activations", names(&["LeakyRelu", "ScaledTanh"])),
        ("activation_alpha", AttrValue::Floats(vec![0.25, 0.5])),
        ("activation_beta", AttrValue::Floats(vec![0.0, 2.0])),
    ];
    check(&c);
    let mut c = base(
        "LSTM",
        vec![
            Act::HardSigmoid {
                alpha: 0.3f32 as f64,
                beta: 0.4f32 as f64,
            },
            Act::Softsign,
            Act::Elu { alpha: 1.0 },
        ],
    );
    // Consumed in order by the functions that take them (not one per function).
    c.attrs = vec![
        ("activations", names(&["hardsigmoid", "softsign", "elu"])),
        ("activation_alpha", AttrValue::Floats(vec![0.3])),
        ("activation_beta", AttrValue::Floats(vec![0.4])),
    ];
    check(&c);
}
