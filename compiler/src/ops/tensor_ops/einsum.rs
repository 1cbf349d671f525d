//! Einsum (opset 12): <https://onnx.ai/onnx/operators/onnx__Einsum.html>. The equation is parsed
//! into one label per axis of each input (`...` stands for the leading/broadcast dims, aligned
//! to the right across inputs). Explicit mode (`->`) names the output labels; implicit mode
//! outputs the ellipsis dims then the letters that appear once, in alphabetical (ASCII) order.
//! Every label not in the output is summed over. A repeated label within one input takes the
//! diagonal. Dims of size 1 broadcast against the label's size (numpy). Lowering: nested loops
//! over the output labels, then over the summed labels in order of first appearance,
//! accumulating the product of the inputs in index order in the element type.

use crate::error::Result;
use crate::ir::{Dim, TensorType};
use crate::kir::build;
use crate::kir::{BinOp, Expr};
use crate::lower::LowerCx;
use crate::ops::{tt, Attrs, InferCx, Op, NUMERIC};

#[derive(Debug)]
pub struct Einsum {
    pub equation: String,
}

pub fn import(a: &Attrs) -> Result<Box<dyn Op>> {
    let eq = a
        .string_opt("equation")?
        .ok_or_else(|| a.err("equation", "required attribute missing"))?;
    let eq: String = eq.chars().filter(|c| !c.is_whitespace()).collect();
    // Syntax check now, so a bad equation is an attribute error.
    parse_terms(&eq).map_err(|m| a.err("equation", format!("'{eq}': {m}")))?;
    Ok(Box::new(Einsum { equation: eq }))
}

/// A term: its labels, with `None` for the position of `...`.
type Term = Vec<Option<char>>;

fn parse_term(s: &str) -> std::result::Result<Term, String> {
    let mut out = vec![];
    let mut rest = s;
    let mut ell = false;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("...") {
            if ell {
                return Err("more than one ellipsis in a term".into());
            }
            ell = true;
            out.push(None);
            rest = r;
            continue;
        }
        let c = rest.chars().next().unwrap_or(' ');
        if !c.is_ascii_alphabetic() {
            return Err(format!("unexpected character '{c}'"));
        }
        out.push(Some(c));
        rest = &rest[1..];
    }
    Ok(out)
}

fn parse_terms(eq: &str) -> std::result::Result<(Vec<Term>, Option<Term>), String> {
    let (lhs, rhs) = match eq.split_once("->") {
        Some((l, r)) => (l, Some(r)),
        None => (eq, None),
    };
    let ins = lhs
        .split(',')
        .map(parse_term)
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let out = rhs.map(parse_term).transpose()?;
    Ok((ins, out))
}

/// Labels: letters as their code, ellipsis dim k as 1000 + k.
type Label = u32;

struct Plan {
    /// Per input: the label of each axis.
    in_labels: Vec<Vec<Label>>,
    out_labels: Vec<Label>,
    sum_labels: Vec<Label>,
    size: std::collections::BTreeMap<Label, Dim>,
}

impl Einsum {
    fn plan(&self, cx: &InferCx) -> Result<Plan> {
        let (terms, out) = parse_terms(&self.equation).map_err(|m| cx.err(m))?;
        let n = cx.inputs.len();
        if terms.len() != n {
            return Err(cx.err(format!(
                "equation '{}' has {} operands but the node has {n} inputs",
                self.equation,
                terms.len()
            )));
        }
        // Ellipsis ranks.
        let mut ell_ranks = vec![];
        for (i, t) in terms.iter().enumerate() {
            let r = cx.ty(i)?.shape.len();
            let letters = t.iter().filter(|l| l.is_some()).count();
            let has_ell = t.len() != letters;
            if (!has_ell && r != letters) || r < letters {
                return Err(cx.err(format!(
                    "term {i} of '{}' has {letters} labels for an input of rank {r}",
                    self.equation
                )));
            }
            ell_ranks.push(r - letters);
        }
        let er = ell_ranks.iter().copied().max().unwrap_or(0);
        let mut in_labels = vec![];
        let mut size: std::collections::BTreeMap<Label, Dim> = Default::default();
        let mut order: Vec<Label> = vec![];
        for (i, t) in terms.iter().enumerate() {
            let shape = &cx.ty(i)?.shape;
            let mut labels = vec![];
            for l in t {
                match l {
                    Some(c) => labels.push(*c as u32),
                    None => {
                        for k in er - ell_ranks[i]..er {
                            labels.push(1000 + k as u32);
                        }
                    }
                }
            }
            for (l, d) in labels.iter().zip(shape) {
                if !order.contains(l) {
                    order.push(*l);
                }
                match size.get(l) {
                    None => {
                        size.insert(*l, d.clone());
                    }
                    Some(s) if s == d || d.as_known() == Some(1) => {}
                    Some(s) if s.as_known() == Some(1) => {
                        size.insert(*l, d.clone());
                    }
                    Some(s) => {
                        return Err(cx.err(format!(
                            "label '{}' has sizes {} and {}",
                            label_name(*l),
                            s.show(cx.syms),
                            d.show(cx.syms)
                        )))
                    }
                }
            }
            in_labels.push(labels);
        }
        for k in 0..er {
            size.entry(1000 + k as u32).or_insert(Dim::known(1));
        }
        let out_labels: Vec<Label> = match out {
            Some(t) => {
                let mut v = vec![];
                for l in t {
                    match l {
                        Some(c) => {
                            let c = c as u32;
                            if !size.contains_key(&c) {
                                return Err(cx.err(format!(
                                    "output label '{}' is not in any input",
                                    label_name(c)
                                )));
                            }
                            if v.contains(&c) {
                                return Err(
                                    cx.err(format!("output label '{}' repeated", label_name(c)))
                                );
                            }
                            v.push(c);
                        }
                        None => v.extend((0..er).map(|k| 1000 + k as u32)),
                    }
                }
                v
            }
            None => {
                let mut v: Vec<Label> = (0..er).map(|k| 1000 + k as u32).collect();
                let mut once: Vec<Label> = order
                    .iter()
                    .copied()
                    .filter(|l| {
                        *l < 1000 && in_labels.iter().flatten().filter(|x| *x == l).count() == 1
                    })
                    .collect();
                once.sort();
                v.extend(once);
                v
            }
        };
        let sum_labels = order
            .into_iter()
            .filter(|l| !out_labels.contains(l))
            .collect();
        Ok(Plan {
            in_labels,
            out_labels,
            sum_labels,
            size,
        })
    }
}

fn label_name(l: Label) -> String {
    if l >= 1000 {
        format!("...[{}]", l - 1000)
    } else {
        char::from_u32(l).map(String::from).unwrap_or_default()
    }
}

impl Op for Einsum {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let d = cx.expect_dtype(0, NUMERIC)?;
        for i in 1..cx.inputs.len() {
            if cx.ty(i)?.dtype != d {
                return Err(cx.err(format!(
                    "input {i} has element type {}, input 0 {d}",
                    cx.ty(i)?.dtype
                )));
            }
        }
        let p = self.plan(cx)?;
        Ok(vec![tt(
            d,
            p.out_labels.iter().map(|l| p.size[l].clone()).collect(),
        )])
    }
    fn flops(&self, inputs: &[Option<&TensorType>], outputs: &[&TensorType]) -> Dim {
        let _ = inputs;
        outputs
            .first()
            .map_or(Dim::known(0), |t| crate::ir::dim::numel(&t.shape))
    }
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let p = super::with_infer(cx, |icx| self.plan(icx))?;
        let ins: Vec<_> = (0..cx.ins.len())
            .map(|i| cx.input(i))
            .collect::<Result<_>>()?;
        let y = cx.output(0)?;
        let t = y.elem;
        let odims: Vec<Expr> = p.out_labels.iter().map(|l| p.size[l].to_expr()).collect();
        let sdims: Vec<Expr> = p.sum_labels.iter().map(|l| p.size[l].to_expr()).collect();
        let ys = y.strides();
        cx.kb.loops(&odims, |kb, oidx| {
            let acc = kb.let_mut(t, Expr::imm(t, 0.0));
            kb.loops(&sdims, |kb, sidx| {
                let var_of = |l: &Label| -> Expr {
                    if let Some(k) = p.out_labels.iter().position(|x| x == l) {
                        oidx[k].clone()
                    } else {
                        let k = p.sum_labels.iter().position(|x| x == l).unwrap_or(0);
                        sidx[k].clone()
                    }
                };
                let mut prod: Option<Expr> = None;
                for (x, labels) in ins.iter().zip(&p.in_labels) {
                    let idx: Vec<Expr> = labels
                        .iter()
                        .zip(&x.shape)
                        .map(|(l, d)| {
                            if d.as_known() == Some(1) {
                                Expr::i64(0)
                            } else {
                                var_of(l)
                            }
                        })
                        .collect();
                    let v = x.at(&idx);
                    prod = Some(match prod {
                        None => v,
                        Some(a) => build::binary(BinOp::Mul, a, v),
                    });
                }
                let v = prod.unwrap_or(Expr::imm(t, 1.0));
                kb.set(acc, build::binary(BinOp::Add, Expr::Var(acc), v));
            });
            kb.store(y.buf, build::linear(oidx, &ys), Expr::Var(acc));
        });
        Ok(())
    }
}
