//! RNN, GRU and LSTM: import (attributes) and shape inference. The lowering is in `cell.rs`.
//!
//! Specs: <https://onnx.ai/onnx/operators/onnx__RNN.html>,
//! <https://onnx.ai/onnx/operators/onnx__GRU.html>,
//! <https://onnx.ai/onnx/operators/onnx__LSTM.html>.
//!
//! Opset versions: 1 (LSTM/RNN/GRU with `output_sequence`, which only says whether `Y` is
//! wanted and is ignored: an output is computed when the node lists it), GRU 3 adds
//! `linear_before_reset`, 7 is the modern form (no `output_sequence`), 14 adds `layout`
//! (0: `X` is `[seq, batch, input]`, `Y` is `[seq, dirs, batch, hidden]`, states are
//! `[dirs, batch, hidden]`; 1: batch first: `[batch, seq, input]`, `[batch, seq, dirs,
//! hidden]`, `[batch, dirs, hidden]`), 22 adds bfloat16 (not computed by Kiln).
//!
//! Inputs: `X, W, R` required; `B` (default zeros), `sequence_lens` (int32 or int64, per
//! batch entry; default: the full length), `initial_h`, `initial_c` (LSTM), `P` (LSTM
//! peepholes `[dirs, 3*hidden]` in the order i, o, f; default zeros). Gate order in `W`/`R`/`B`:
//! RNN `i`; GRU `z, r, h`; LSTM `i, o, f, c`.
//!
//! `hidden_size` is read from the attribute (or, when absent, from `R`'s last dim, which must
//! then be known). The sequence length and batch may be symbolic. `clip` bounds the gate
//! pre-activations (the inputs of `f` and `g`, not the `h(C)` of LSTM — as onnxruntime does).
//! `sequence_lens`: steps at or beyond a batch entry's length give zeros in `Y`; `Y_h`/`Y_c`
//! hold the state after the entry's last valid step (the initial state for length 0); the
//! reverse direction runs from position `len-1` down to 0. A length outside `[0, seq]` fails
//! the run with `BadValue`.

use super::act::{self, Act};
use crate::error::Result;
use crate::ir::{Dim, TensorType};
use crate::lower::LowerCx;
use crate::ops::{tt, Attrs, InferCx, Op, FLOATS};
use crate::tensor::DType;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Rnn,
    Gru,
    Lstm,
}

impl Kind {
    /// Gates per direction (rows of `W` per hidden unit).
    pub fn gates(self) -> i64 {
        match self {
            Kind::Rnn => 1,
            Kind::Gru => 3,
            Kind::Lstm => 4,
        }
    }
    pub fn outputs(self) -> usize {
        match self {
            Kind::Lstm => 3,
            _ => 2,
        }
    }
}

#[derive(Debug)]
pub struct Recurrent {
    pub kind: Kind,
    /// From the attribute; None: taken from `R`.
    pub hidden: Option<i64>,
    pub reverse: bool,
    pub num_directions: usize,
    /// `acts.len() / num_directions` functions per direction, direction-major.
    pub acts: Vec<Act>,
    pub clip: Option<f64>,
    pub batch_first: bool,
    pub linear_before_reset: bool,
    pub input_forget: bool,
}

pub fn import(a: &Attrs) -> Result<Box<dyn Op>> {
    let n = a.node();
    let kind = match n.op_type.as_str() {
        "RNN" => Kind::Rnn,
        "GRU" => Kind::Gru,
        _ => Kind::Lstm,
    };
    if n.opset < 7 {
        a.ignore("output_sequence");
    }
    let hidden = a.int_opt("hidden_size")?;
    if let Some(h) = hidden {
        if h <= 0 {
            return Err(a.err("hidden_size", format!("must be positive, got {h}")));
        }
    }
    let direction = a.string("direction", "forward")?;
    let (reverse, num_directions) = match direction.as_str() {
        "forward" => (false, 1),
        "reverse" => (true, 1),
        "bidirectional" => (false, 2),
        d => {
            return Err(a.err(
                "direction",
                format!("must be forward, reverse or bidirectional, got '{d}'"),
            ))
        }
    };
    let defaults: &[Act] = match kind {
        Kind::Rnn => &[Act::Tanh],
        Kind::Gru => &[Act::Sigmoid, Act::Tanh],
        Kind::Lstm => &[Act::Sigmoid, Act::Tanh, Act::Tanh],
    };
    let acts = act::parse(a, defaults, num_directions)?;
    let clip = match a.float_opt("clip")? {
        Some(c) if c.is_nan() || c <= 0.0 => {
            return Err(a.err("clip", format!("must be positive, got {c}")))
        }
        c => c.map(|c| c as f64),
    };
    let layout = if n.opset >= 14 {
        a.int("layout", 0)?
    } else {
        0
    };
    if layout != 0 && layout != 1 {
        return Err(a.err("layout", format!("must be 0 or 1, got {layout}")));
    }
    let linear_before_reset = if kind == Kind::Gru && n.opset >= 3 {
        a.int("linear_before_reset", 0)? != 0
    } else {
        false
    };
    let input_forget = if kind == Kind::Lstm {
        a.int("input_forget", 0)? != 0
    } else {
        false
    };
    Ok(Box::new(Recurrent {
        kind,
        hidden,
        reverse,
        num_directions,
        acts,
        clip,
        batch_first: layout == 1,
        linear_before_reset,
        input_forget,
    }))
}

/// Input positions.
pub const X: usize = 0;
pub const W: usize = 1;
pub const R: usize = 2;
pub const B: usize = 3;
pub const SEQ_LENS: usize = 4;
pub const INIT_H: usize = 5;
pub const INIT_C: usize = 6;
pub const P: usize = 7;

impl Recurrent {
    /// hidden_size from the attribute or `R`'s shape.
    pub fn hidden_size(&self, r: &[Dim]) -> Option<i64> {
        self.hidden.or_else(|| r.get(2).and_then(|d| d.as_known()))
    }
    /// Shape of a state tensor (`initial_h`, `Y_h`...).
    fn state_shape(&self, batch: &Dim, h: i64) -> Vec<Dim> {
        let nd = Dim::known(self.num_directions as i64);
        if self.batch_first {
            vec![batch.clone(), nd, Dim::known(h)]
        } else {
            vec![nd, batch.clone(), Dim::known(h)]
        }
    }
}

impl Op for Recurrent {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let d = cx.expect_dtype(X, FLOATS)?;
        for i in [W, R, B, INIT_H, INIT_C, P] {
            if cx.has(i) && cx.ty(i)?.dtype != d {
                return Err(cx.err(format!(
                    "input {i} has element type {}; X has {d}",
                    cx.ty(i)?.dtype
                )));
            }
        }
        if self.kind != Kind::Lstm && (cx.has(INIT_C) || cx.has(P)) {
            return Err(cx.err("only LSTM takes initial_c and P (inputs 6 and 7)"));
        }
        let x = &cx.ty(X)?.shape;
        if x.len() != 3 {
            return Err(cx.err(format!("X must have rank 3, got {}", cx.shape_str(x))));
        }
        let (seq, batch) = if self.batch_first {
            (&x[1], &x[0])
        } else {
            (&x[0], &x[1])
        };
        let input = &x[2];
        let r = &cx.ty(R)?.shape;
        let h = self.hidden_size(r).ok_or_else(|| {
            cx.err("hidden_size is not given and R's last dim is not known (use --dim)")
        })?;
        let nd = Dim::known(self.num_directions as i64);
        let g = self.kind.gates();
        let k = Dim::known;
        let expect = |i: usize, what: &str, want: Vec<Dim>| -> Result<()> {
            if !cx.has(i) {
                return Ok(());
            }
            let s = &cx.ty(i)?.shape;
            if *s != want {
                return Err(cx.err(format!(
                    "{what} (input {i}) must have shape {}, got {}",
                    cx.shape_str(&want),
                    cx.shape_str(s)
                )));
            }
            Ok(())
        };
        expect(W, "W", vec![nd.clone(), k(g * h), input.clone()])?;
        expect(R, "R", vec![nd.clone(), k(g * h), k(h)])?;
        expect(B, "B", vec![nd.clone(), k(2 * g * h)])?;
        expect(INIT_H, "initial_h", self.state_shape(batch, h))?;
        expect(INIT_C, "initial_c", self.state_shape(batch, h))?;
        expect(P, "P", vec![nd.clone(), k(3 * h)])?;
        if cx.has(SEQ_LENS) {
            cx.expect_dtype(SEQ_LENS, &[DType::I32, DType::I64])?;
            expect(SEQ_LENS, "sequence_lens", vec![batch.clone()])?;
        }
        let y = if self.batch_first {
            vec![batch.clone(), seq.clone(), nd, k(h)]
        } else {
            vec![seq.clone(), nd, batch.clone(), k(h)]
        };
        let mut out = vec![tt(d, y), tt(d, self.state_shape(batch, h))];
        if self.kind == Kind::Lstm {
            out.push(tt(d, self.state_shape(batch, h)));
        }
        if cx.node.outputs.len() > out.len() {
            return Err(cx.err(format!(
                "has {} outputs; {} produces at most {}",
                cx.node.outputs.len(),
                cx.node.op_type,
                out.len()
            )));
        }
        Ok(out)
    }
    fn flops(&self, inputs: &[Option<&TensorType>], outputs: &[&TensorType]) -> Dim {
        // 2 * (input + hidden) multiply-adds per gate row and step, per direction and batch.
        let (Some(x), Some(y)) = (inputs.first().copied().flatten(), outputs.first()) else {
            return Dim::known(0);
        };
        let Some(h) = y.shape.last().and_then(|d| d.as_known()) else {
            return Dim::known(0);
        };
        let per = x.shape[2].add(&Dim::known(h)).scale(2 * self.kind.gates());
        crate::ir::dim::numel(&y.shape).mul(&per)
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        super::cell::lower(self, cx)
    }
}
