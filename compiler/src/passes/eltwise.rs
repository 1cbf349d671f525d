//! `fuse-elementwise`: a chain of element-wise nodes (Relu, Sigmoid, Tanh, Exp, Log, Sqrt,
//! Neg, Abs, Erf of floats; Add, Sub, Mul, Div from opset 7) in which each value is read only by the next
//! node of the chain, is not a graph output, and has the chain's output type, becomes one
//! node (`EltChain`) whose kernel computes the whole chain per output element: one loop nest,
//! no intermediate tensors written or read, no scratch for them. The other operand of a
//! binary step (a "side" input) keeps its numpy broadcasting.
//!
//! Exact: the fused expression applies the same kir operations (`apply_unary`,
//! `apply_binary`) in the same order on values of the same type; only where each result
//! lives changes (a register instead of memory). Each of those operations reads its operand
//! once, so no subexpression is computed twice. Pow (whose exponent may have another type)
//! and the legacy `broadcast` attribute (before opset 7) end a chain. Runs after `fuse`, so
//! a Relu or Add that a Conv/MatMul/Gemm epilogue can absorb goes there first.

use super::{only_reader, Model};
use crate::error::Result;
use crate::ir::{Graph, Node, TensorType, ValueId};
use crate::kir::build;
use crate::lower::LowerCx;
use crate::ops::broadcast;
use crate::ops::elementwise::{apply_binary, apply_unary, Binary, Unary};
use crate::ops::{InferCx, Op};

pub const NAME: &str = "fuse-elementwise";

/// The element-wise function of a node, if it is one a chain can take.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Unary(Unary),
    Binary(Binary),
}

fn kind(n: &Node) -> Option<Kind> {
    if !n.domain.is_empty() {
        return None;
    }
    let u = |u| Some(Kind::Unary(u));
    let b = |b| (n.opset >= 7).then_some(Kind::Binary(b));
    match n.op_type.as_str() {
        "Relu" => u(Unary::Relu),
        "Sigmoid" => u(Unary::Sigmoid),
        "Tanh" => u(Unary::Tanh),
        "Exp" => u(Unary::Exp),
        "Log" => u(Unary::Log),
        "Sqrt" => u(Unary::Sqrt),
        "Neg" => u(Unary::Neg),
        "Abs" => u(Unary::Abs),
        // floats only (`fuse` checks): opset 9's integer Erf is computed in f64
        "Erf" => u(Unary::Erf),
        "Add" => b(Binary::Add),
        "Sub" => b(Binary::Sub),
        "Mul" => b(Binary::Mul),
        "Div" => b(Binary::Div),
        _ => None,
    }
}

/// A step after the chain's first node: a unary function of the chain value, or a binary
/// one with the side input `side` (a fused-node input index) on the right (`chain_left`) or
/// on the left.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Step {
    Unary(Unary),
    Binary {
        op: Binary,
        side: usize,
        chain_left: bool,
    },
}

/// A fused chain: the first node's function on inputs 0 (and 1), then `steps`.
#[derive(Debug)]
pub struct EltChain {
    head: Kind,
    steps: Vec<Step>,
    out: TensorType,
}

impl Op for EltChain {
    fn infer(&self, _cx: &InferCx) -> Result<Vec<TensorType>> {
        Ok(vec![self.out.clone()])
    }

    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let y = cx.output(0)?;
        let first = match self.head {
            Kind::Unary(_) => 1,
            Kind::Binary(_) => 2,
        };
        let sides = self
            .steps
            .iter()
            .filter(|s| matches!(s, Step::Binary { .. }))
            .count();
        let ins = (0..first + sides)
            .map(|i| cx.input(i))
            .collect::<Result<Vec<_>>>()?;
        let t = y.elem;
        let (head, steps) = (self.head, &self.steps);
        cx.kb.loops(&y.dims(), |kb, idx| {
            let mut v = match head {
                Kind::Unary(u) => apply_unary(u, t, broadcast::load(&ins[0], idx)),
                Kind::Binary(b) => apply_binary(
                    b,
                    t,
                    broadcast::load(&ins[0], idx),
                    broadcast::load(&ins[1], idx),
                ),
            };
            for s in steps {
                v = match *s {
                    Step::Unary(u) => apply_unary(u, t, v),
                    Step::Binary {
                        op,
                        side,
                        chain_left,
                    } => {
                        let w = broadcast::load(&ins[side], idx);
                        if chain_left {
                            apply_binary(op, t, v, w)
                        } else {
                            apply_binary(op, t, w, v)
                        }
                    }
                };
            }
            kb.store(y.buf, build::linear(idx, &y.strides()), v);
        });
        Ok(())
    }
}

fn out_type(g: &Graph, n: &Node) -> Option<TensorType> {
    let o = n.outputs.first().copied().flatten()?;
    g.value(o).ty.clone()
}

/// Fuse every chain of two or more element-wise nodes.
pub fn fuse(m: &mut Model) {
    let uses = m.graph.use_counts();
    let mut keep = vec![true; m.graph.nodes.len()];
    for hi in 0..m.graph.nodes.len() {
        if !keep[hi] {
            continue;
        }
        let g = &m.graph;
        let h = &g.nodes[hi];
        let Some(head) = kind(h) else { continue };
        let Some(ty) = out_type(g, h) else { continue };
        let erf_ok = ty.dtype.is_float();
        if head == Kind::Unary(Unary::Erf) && !erf_ok {
            continue;
        }
        let n_head = match head {
            Kind::Unary(_) => 1,
            Kind::Binary(_) => 2,
        };
        if h.outputs.len() != 1 || h.inputs.len() != n_head || h.inputs.iter().any(|i| i.is_none())
        {
            continue;
        }
        let mut inputs: Vec<Option<ValueId>> = h.inputs.clone();
        let mut steps = vec![];
        let mut chain = vec![hi];
        let mut cur = h.outputs[0].expect("checked");
        while let Some(ni) = only_reader(g, &uses, cur) {
            let n = &g.nodes[ni];
            if !keep[ni] || n.outputs.len() != 1 || out_type(g, n).as_ref() != Some(&ty) {
                break;
            }
            let ins: Vec<ValueId> = n.inputs.iter().flatten().copied().collect();
            let step = match kind(n) {
                Some(Kind::Unary(u))
                    if ins == [cur] && n.inputs.len() == 1 && (u != Unary::Erf || erf_ok) =>
                {
                    Step::Unary(u)
                }
                Some(Kind::Binary(op)) if ins.len() == 2 && n.inputs.len() == 2 => {
                    let (side, chain_left) = if ins[0] == cur {
                        (ins[1], true)
                    } else {
                        (ins[0], false)
                    };
                    inputs.push(Some(side));
                    Step::Binary {
                        op,
                        side: inputs.len() - 1,
                        chain_left,
                    }
                }
                _ => break,
            };
            steps.push(step);
            chain.push(ni);
            cur = n.outputs[0].expect("one output");
        }
        if steps.is_empty() {
            continue;
        }
        // The fused node takes the place of the chain's last node: a side input may be
        // computed after the head in node order.
        let last = *chain.last().expect("chain");
        let mut n = m.graph.nodes[hi].clone();
        n.op_type = chain
            .iter()
            .map(|&i| m.graph.nodes[i].op_type.as_str())
            .collect::<Vec<_>>()
            .join("+");
        n.inputs = inputs;
        n.outputs = vec![Some(cur)];
        m.graph.nodes[last] = n;
        m.ops[last] = Box::new(EltChain {
            head,
            steps,
            out: ty,
        });
        for &i in &chain[..chain.len() - 1] {
            keep[i] = false;
        }
    }
    super::retain_nodes(m, &keep);
}
