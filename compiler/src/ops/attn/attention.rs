//! Attention (opset 23, 24, 25): https://onnx.ai/onnx/operators/onnx__Attention.html
//!
//! - 23: Q, K, V as 3-D `(batch, seq, heads * head_size)` (with `q_num_heads` /
//!   `kv_num_heads`) or 4-D `(batch, heads, seq, head_size)`; optional `attn_mask` (bool: false
//!   masks with -inf; float: added), `past_key` / `past_value` (concatenated before K / V along
//!   the sequence; outputs `present_key` / `present_value`), `is_causal`, `scale`, `softcap`,
//!   `softmax_precision`, `qk_matmul_output_mode` (output 3: 0 = QK after softcap, 1 = the
//!   same, 2 = plus the bias, 3 = after softmax).
//! - 24: input 6 `nonpad_kv_seqlen` (int64, per batch): keys at `j >= nonpad[b]` are masked and
//!   the causal frontier moves to `nonpad[b] - q_len` (bottom-right alignment).
//! - 25: `left_window_size` / `right_window_size` (sliding window, -1 = unbounded); the head
//!   count attributes are rejected for 4-D inputs.
//!
//! Semantics follow `onnx.reference.ops.op_attention` step by step: `scale` defaults to
//! `1/sqrt(head_size)` and both Q and K are multiplied by `sqrt(scale)` (computed in f64, cast
//! to T); QK dot products accumulate with `Fma` in head-dim order; softcap is
//! `tanh(x / c) * c` when `c > 0`; the additive bias is built exactly as the reference does
//! (mask padded with -inf / false up to the total kv length; causal `j <= i + offset` with
//! offset = past length, `nonpad[b] - q_len` or 0; window; padding), added after softcap;
//! softmax (in `softmax_precision`, f32 or f64) uses `max = 0` for all -inf rows and divides
//! by 1 when the sum is 0; rows whose bias is all -inf give probabilities 0 (so Y rows are 0).
//! GQA: query head `h` reads kv head `h / (q_heads / kv_heads)`. Y accumulates over keys in
//! order with `Fma`. The QK row is recomputed for each softmax pass (no scratch).

use super::super::{tt, Attrs, InferCx, Op, FLOATS};
use crate::error::Result;
use crate::ir::{Dim, TensorType};
use crate::kir::build::{self, call, cast, cmp, fma, select, KernelBuilder};
use crate::kir::{BinOp, CmpOp, Expr, MathFn, Scalar, UnOp};
use crate::lower::{LowerCx, TensorRef};
use crate::tensor::DType;

#[derive(Debug)]
pub struct Attention {
    opset: i64,
    q_heads: Option<i64>,
    kv_heads: Option<i64>,
    causal: bool,
    scale: Option<f32>,
    softcap: f32,
    precision: Option<Scalar>,
    mode: i64,
    left: i64,
    right: i64,
}

pub fn import(a: &Attrs) -> Result<Box<dyn Op>> {
    let opset = a.node().opset;
    let mode = a.int("qk_matmul_output_mode", 0)?;
    if !(0..=3).contains(&mode) {
        return Err(a.err("qk_matmul_output_mode", format!("must be 0..3, got {mode}")));
    }
    let causal = a.int("is_causal", 0)?;
    if causal != 0 && causal != 1 {
        return Err(a.err("is_causal", format!("must be 0 or 1, got {causal}")));
    }
    let precision = match a.int_opt("softmax_precision")? {
        None => None,
        Some(1) => Some(Scalar::F32),
        Some(11) => Some(Scalar::F64),
        Some(p @ (10 | 16)) => {
            return Err(a.err(
                "softmax_precision",
                format!("element type {p} (float16/bfloat16) is not supported"),
            ))
        }
        Some(p) => {
            return Err(a.err(
                "softmax_precision",
                format!("must be a float type (1, 10, 11 or 16), got {p}"),
            ))
        }
    };
    let (left, right) = if opset >= 25 {
        (
            a.int("left_window_size", -1)?,
            a.int("right_window_size", -1)?,
        )
    } else {
        (-1, -1)
    };
    for (n, v) in [("left_window_size", left), ("right_window_size", right)] {
        if v < -1 {
            return Err(a.err(n, format!("must be -1 or non-negative, got {v}")));
        }
    }
    let heads = |n: &str| -> Result<Option<i64>> {
        match a.int_opt(n)? {
            Some(h) if h <= 0 => Err(a.err(n, format!("must be positive, got {h}"))),
            h => Ok(h),
        }
    };
    Ok(Box::new(Attention {
        opset,
        q_heads: heads("q_num_heads")?,
        kv_heads: heads("kv_num_heads")?,
        causal: causal == 1,
        scale: a.float_opt("scale")?,
        softcap: a.float("softcap", 0.0)?,
        precision,
        mode,
        left,
        right,
    }))
}

/// Sizes shared by `infer` and `lower`.
struct Geo {
    rank4: bool,
    batch: Dim,
    qh: Dim,
    kvh: Dim,
    /// Query heads per kv head.
    group: i64,
    qs: Dim,
    past: Dim,
    total: Dim,
    hs: Dim,
    vhs: Dim,
}

impl Attention {
    fn geo(&self, q: &[Dim], k: &[Dim], v: &[Dim], past: Option<&[Dim]>) -> Result<Geo, String> {
        if q.len() != k.len() || q.len() != v.len() || !(q.len() == 3 || q.len() == 4) {
            return Err(format!(
                "Q, K and V must all be 3-D or all 4-D, got ranks {}, {}, {}",
                q.len(),
                k.len(),
                v.len()
            ));
        }
        let rank4 = q.len() == 4;
        let (qh, kvh, qs, kvs, hs, khs, vhs);
        if rank4 {
            if self.opset >= 25 && (self.q_heads.is_some() || self.kv_heads.is_some()) {
                return Err("q_num_heads and kv_num_heads must not be given for 4-D inputs".into());
            }
            (qh, qs, hs) = (q[1].clone(), q[2].clone(), q[3].clone());
            (kvh, kvs, khs) = (k[1].clone(), k[2].clone(), k[3].clone());
            if v[1] != kvh || v[2] != kvs {
                return Err("K and V must have the same heads and sequence length".into());
            }
            vhs = v[3].clone();
            for (a, d, n) in [
                (self.q_heads, &qh, "q_num_heads"),
                (self.kv_heads, &kvh, "kv_num_heads"),
            ] {
                if let (Some(a), Some(d)) = (a, d.as_known()) {
                    if a != d {
                        return Err(format!("{n} = {a} differs from the input's heads {d}"));
                    }
                }
            }
        } else {
            let (Some(qn), Some(kn)) = (self.q_heads, self.kv_heads) else {
                return Err("3-D inputs need the q_num_heads and kv_num_heads attributes".into());
            };
            let split = |hidden: &Dim, h: i64, what: &str| -> Result<Dim, String> {
                hidden.div_exact(&Dim::known(h)).ok_or_else(|| {
                    format!("{what} hidden size is not a multiple of the head count {h}")
                })
            };
            (qh, kvh) = (Dim::known(qn), Dim::known(kn));
            (qs, kvs) = (q[1].clone(), k[1].clone());
            if v[1] != kvs {
                return Err("K and V must have the same sequence length".into());
            }
            hs = split(&q[2], qn, "Q")?;
            khs = split(&k[2], kn, "K")?;
            vhs = split(&v[2], kn, "V")?;
        }
        if k[0] != q[0] || v[0] != q[0] {
            return Err("Q, K and V must have the same batch size".into());
        }
        if hs != khs {
            return Err("Q and K must have the same head size".into());
        }
        let group = if qh == kvh {
            1
        } else {
            match (qh.as_known(), kvh.as_known()) {
                (Some(a), Some(b)) if b > 0 && a % b == 0 => a / b,
                (Some(a), Some(b)) => {
                    return Err(format!(
                        "q heads ({a}) must be a multiple of kv heads ({b})"
                    ))
                }
                _ => {
                    return Err(
                        "q and kv head counts differ and need their values (use --dim)".into(),
                    )
                }
            }
        };
        let past_len = match past {
            Some(p) => {
                if p.len() != 4 || p[0] != q[0] || p[1] != kvh || p[3] != hs {
                    return Err("past_key must be (batch, kv_heads, past_seq, head_size)".into());
                }
                p[2].clone()
            }
            None => Dim::known(0),
        };
        Ok(Geo {
            rank4,
            batch: q[0].clone(),
            qh,
            kvh,
            group,
            qs,
            total: past_len.add(&kvs),

            past: past_len,
            hs,
            vhs,
        })
    }
}

impl Op for Attention {
    fn infer(&self, cx: &InferCx) -> Result<Vec<TensorType>> {
        let d = cx.expect_dtype(0, FLOATS)?;
        for i in [1, 2] {
            if cx.ty(i)?.dtype != d {
                return Err(cx.err(format!("input {i} must have Q's element type {d}")));
            }
        }
        let (q, k, v) = (&cx.ty(0)?.shape, &cx.ty(1)?.shape, &cx.ty(2)?.shape);
        if cx.has(4) != cx.has(5) {
            return Err(cx.err("past_key and past_value must be given together"));
        }
        let past = if cx.has(4) {
            for i in [4, 5] {
                if cx.ty(i)?.dtype != d {
                    return Err(cx.err(format!("input {i} must have Q's element type {d}")));
                }
            }
            Some(cx.ty(4)?.shape.as_slice())
        } else {
            None
        };
        let g = self.geo(q, k, v, past).map_err(|e| cx.err(e))?;
        if let Some(_p) = past {
            let pv = &cx.ty(5)?.shape;
            if pv.len() != 4
                || pv[0] != g.batch
                || pv[1] != g.kvh
                || pv[2] != g.past
                || pv[3] != g.vhs
            {
                return Err(cx.err(
                    "past_value must be (batch, kv_heads, past_seq, v_head_size) matching past_key",
                ));
            }
        }
        if cx.has(6) {
            if cx.node.opset < 24 {
                return Err(cx.err("nonpad_kv_seqlen (input 6) needs opset 24"));
            }
            cx.expect_dtype(6, &[DType::I64])?;
            let n = &cx.ty(6)?.shape;
            if n.len() != 1 || n[0] != g.batch {
                return Err(cx.err("nonpad_kv_seqlen (input 6) must have shape (batch)"));
            }
            if past.is_some() {
                return Err(cx.err("nonpad_kv_seqlen cannot be combined with past_key/past_value"));
            }
        }
        if cx.has(3) {
            let mt = cx.ty(3)?;
            if mt.dtype != DType::Bool && mt.dtype != d {
                return Err(cx.err(format!(
                    "attn_mask (input 3) must be bool or {d}, got {}",
                    mt.dtype
                )));
            }
            let m = &mt.shape;
            if m.is_empty() || m.len() > 4 {
                return Err(cx.err("attn_mask (input 3) must have rank 1 to 4"));
            }
            let last = &m[m.len() - 1];
            let ok_last = *last == g.total
                || matches!((last.as_known(), g.total.as_known()), (Some(a), Some(t)) if a <= t);
            if !ok_last {
                return Err(cx.err(format!(
                    "attn_mask last dim {} exceeds the total kv length {} (or needs its value, \
                     use --dim)",
                    last.show(cx.syms),
                    g.total.show(cx.syms)
                )));
            }
            let full = [g.batch.clone(), g.qh.clone(), g.qs.clone()];
            let off = 4 - m.len();
            for (i, dm) in m[..m.len() - 1].iter().enumerate() {
                let want = &full[off + i];
                if dm != want && dm.as_known() != Some(1) {
                    return Err(cx.err(format!(
                        "attn_mask shape {} does not broadcast to (batch, q_heads, q_seq, kv_seq) \
                         = {}",
                        cx.shape_str(m),
                        cx.shape_str(&[
                            g.batch.clone(),
                            g.qh.clone(),
                            g.qs.clone(),
                            g.total.clone()
                        ])
                    )));
                }
            }
        }
        let y = if g.rank4 {
            vec![g.batch.clone(), g.qh.clone(), g.qs.clone(), g.vhs.clone()]
        } else {
            vec![g.batch.clone(), g.qs.clone(), g.qh.mul(&g.vhs)]
        };
        Ok(vec![
            tt(d, y),
            tt(
                d,
                vec![
                    g.batch.clone(),
                    g.kvh.clone(),
                    g.total.clone(),
                    g.hs.clone(),
                ],
            ),
            tt(
                d,
                vec![
                    g.batch.clone(),
                    g.kvh.clone(),
                    g.total.clone(),
                    g.vhs.clone(),
                ],
            ),
            tt(
                d,
                vec![g.batch.clone(), g.qh.clone(), g.qs.clone(), g.total.clone()],
            ),
        ])
    }

    fn flops(&self, inputs: &[Option<&TensorType>], outputs: &[&TensorType]) -> Dim {
        // 3 QK passes plus the PV product, per (batch, head, query, key).
        let Some(q) = inputs.first().copied().flatten() else {
            return Dim::known(0);
        };
        let Some(qk) = outputs.get(3) else {
            return Dim::known(0);
        };
        let hs = q.shape.last().cloned().unwrap_or(Dim::known(1));
        crate::ir::dim::numel(&qk.shape).mul(&hs).scale(8)
    }

    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let q = cx.input(0)?;
        let k = cx.input(1)?;
        let v = cx.input(2)?;
        let opt_in = |i: usize| cx.ins.get(i).cloned().flatten();
        let opt_out = |i: usize| cx.outs.get(i).cloned().flatten();
        let (mask, past_k, past_v, nonpad) = (opt_in(3), opt_in(4), opt_in(5), opt_in(6));
        let (pres_k, pres_v, qk_out) = (opt_out(1), opt_out(2), opt_out(3));
        let y = cx.output(0)?;
        let g = self
            .geo(
                &q.shape,
                &k.shape,
                &v.shape,
                past_k.as_ref().map(|p| p.shape.as_slice()),
            )
            .map_err(|e| cx.err(e))?;
        let t = q.elem;
        let p = self.precision.unwrap_or(t);
        let kb = &mut cx.kb;

        let qa = Heads::new(q, g.rank4, &g.hs);
        let ka = Heads::new(k, g.rank4, &g.hs);
        let va = Heads::new(v, g.rank4, &g.vhs);
        let past_e = g.past.to_expr();
        let has_past = past_k.is_some() && g.past.as_known() != Some(0);

        // present_key / present_value: past then new along the sequence.
        for (pres, past, new, hsz) in [
            (&pres_k, &past_k, &ka, &g.hs),
            (&pres_v, &past_v, &va, &g.vhs),
        ] {
            if let Some(pr) = pres {
                let dims = [
                    g.batch.to_expr(),
                    g.kvh.to_expr(),
                    g.total.to_expr(),
                    hsz.to_expr(),
                ];
                kb.loops(&dims, |kb, ix| {
                    let (b, h, j, d) = (&ix[0], &ix[1], &ix[2], &ix[3]);
                    let dst = build::linear(ix, &pr.strides());
                    load_kv(
                        kb,
                        past.as_ref(),
                        new,
                        &past_e,
                        has_past,
                        [b, h, j, d],
                        |kb, e| kb.store(pr.buf, dst.clone(), e),
                    );
                });
            }
        }
        // Key / value sources for the attention itself.
        let k_src = match &pres_k {
            Some(pr) => Src::Full(pr.clone()),
            None => Src::Split(past_k.clone(), ka),
        };
        let v_src = match &pres_v {
            Some(pr) => Src::Full(pr.clone()),
            None => Src::Split(past_v.clone(), va),
        };

        // sqrt(scale) as T.
        let sq = match (self.scale, g.hs.as_known()) {
            (Some(s), _) => Expr::imm(t, (s as f64).sqrt()),
            (None, Some(h)) => Expr::imm(t, (1.0 / (h as f64).sqrt()).sqrt()),
            (None, None) => cast(
                t,
                build::unary(
                    UnOp::Sqrt,
                    build::binary(
                        BinOp::Div,
                        Expr::imm(Scalar::F64, 1.0),
                        build::unary(UnOp::Sqrt, cast(Scalar::F64, g.hs.to_expr())),
                    ),
                ),
            ),
        };
        let sq = kb.let_(t, sq);
        let neg_inf = Expr::imm(t, f64::NEG_INFINITY);
        let zero = Expr::imm(t, 0.0);
        let has_bias =
            mask.is_some() || self.causal || nonpad.is_some() || self.left >= 0 || self.right >= 0;
        let qs_e = g.qs.to_expr();
        let hs_e = g.hs.to_expr();
        let total_e = g.total.to_expr();
        let vhs_e = g.vhs.to_expr();
        let group = g.group;
        let softcap = self.softcap;
        let (causal, left, right, mode) = (self.causal, self.left, self.right, self.mode);
        let yrank4 = g.rank4;

        // One query row: (b, h, i).
        let row_dims = [g.batch.to_expr(), g.qh.to_expr(), qs_e.clone()];
        kb.loops(&row_dims, |kb, ix| {
            let (b, h, i) = (ix[0].clone(), ix[1].clone(), ix[2].clone());
            let hk = kb.let_(Scalar::I64, build::div(h.clone(), Expr::i64(group)));
            // Causal / window offset.
            let offset = if has_past {
                past_e.clone()
            } else if let Some(np) = &nonpad {
                build::sub(np.load(b.clone()), qs_e.clone())
            } else {
                Expr::i64(0)
            };
            let offset = kb.let_(Scalar::I64, offset);
            // QK score (after softcap) for key j.
            let score = |kb: &mut KernelBuilder, j: &Expr| -> Expr {
                let acc = kb.let_mut(t, Expr::imm(t, 0.0));
                kb.loop_(Expr::i64(0), hs_e.clone(), |kb, d| {
                    let qv = build::binary(BinOp::Mul, qa.at(&b, &h, &i, &d), sq.clone());
                    let kv = k_src.load(kb, &past_e, has_past, [&b, &hk, j, &d]);
                    let kv = build::binary(BinOp::Mul, kv, sq.clone());
                    kb.set(acc, fma(qv, kv, Expr::Var(acc)));
                });
                let mut x = Expr::Var(acc);
                if softcap > 0.0 {
                    let c = Expr::imm(t, softcap as f64);
                    let th = call(MathFn::Tanh, vec![build::binary(BinOp::Div, x, c.clone())]);
                    x = build::binary(BinOp::Mul, th, c);
                }
                kb.let_(t, x)
            };
            // Additive bias for key j.
            let bias = |kb: &mut KernelBuilder, j: &Expr| -> Option<Expr> {
                if !has_bias {
                    return None;
                }
                let mut acc: Option<Expr> = None;
                if let Some(m) = &mask {
                    let last = m.shape[m.rank() - 1].clone();
                    let idx = build_mask_index(m, [&b, &h, &i, j]);
                    let val = |e: Expr| {
                        if m.elem == Scalar::Bool {
                            select(e, zero.clone(), neg_inf.clone())
                        } else {
                            e
                        }
                    };
                    let mv = if last == g.total {
                        kb.let_(t, val(m.load(idx)))
                    } else {
                        let var = kb.let_mut(t, neg_inf.clone());
                        let c = cmp(CmpOp::Lt, j.clone(), last.to_expr());
                        kb.if_(c, |kb| kb.set(var, val(m.load(idx))), |_| {});
                        Expr::Var(var)
                    };
                    acc = Some(mv);
                }
                let add = |acc: Option<Expr>, e: Expr| -> Option<Expr> {
                    Some(match acc {
                        None => e,
                        Some(a) => build::binary(BinOp::Add, a, e),
                    })
                };
                let ioff = build::add(i.clone(), offset.clone());
                if causal {
                    let ok = cmp(CmpOp::Le, j.clone(), ioff.clone());
                    let c = select(ok, zero.clone(), neg_inf.clone());
                    acc = add(acc.or(Some(zero.clone())), c);
                }
                if left >= 0 || right >= 0 {
                    let diff = build::sub(ioff.clone(), j.clone());
                    let mut ok = Expr::Imm(Scalar::Bool, crate::kir::Lit::Int(1));
                    if left >= 0 {
                        ok = build::and(ok, cmp(CmpOp::Le, diff.clone(), Expr::i64(left)));
                    }
                    if right >= 0 {
                        let nd = build::sub(Expr::i64(0), diff);
                        ok = build::and(ok, cmp(CmpOp::Le, nd, Expr::i64(right)));
                    }
                    let w = select(ok, zero.clone(), neg_inf.clone());
                    acc = add(acc.or(Some(zero.clone())), w);
                }
                if let Some(np) = &nonpad {
                    let ok = cmp(CmpOp::Lt, j.clone(), np.load(b.clone()));
                    let w = select(ok, zero.clone(), neg_inf.clone());
                    acc = add(acc.or(Some(zero.clone())), w);
                }
                Some(kb.let_(t, acc.unwrap_or(zero.clone())))
            };
            let qk_idx = |j: &Expr| {
                build::linear(
                    &[b.clone(), h.clone(), i.clone(), j.clone()],
                    &build::strides(&[
                        g.batch.to_expr(),
                        g.qh.to_expr(),
                        qs_e.clone(),
                        total_e.clone(),
                    ]),
                )
            };
            // Pass 1: max of the (biased) scores and of the bias; qk output modes 0-2.
            let mx = kb.let_mut(p, Expr::imm(p, f64::NEG_INFINITY));
            let bmx = kb.let_mut(t, neg_inf.clone());
            let biased = |kb: &mut KernelBuilder, j: &Expr, first: bool| -> (Expr, Option<Expr>) {
                let x = score(kb, j);
                let bv = bias(kb, j);
                let xb = match &bv {
                    Some(bv) => kb.let_(t, build::binary(BinOp::Add, x.clone(), bv.clone())),
                    None => x.clone(),
                };
                if first {
                    if let Some(o) = &qk_out {
                        match mode {
                            0 | 1 => kb.store(o.buf, qk_idx(j), x),
                            2 => kb.store(o.buf, qk_idx(j), xb.clone()),
                            _ => {}
                        }
                    }
                }
                let xp = if p != t { cast(p, xb) } else { xb };
                (kb.let_(p, xp), bv)
            };
            kb.loop_(Expr::i64(0), total_e.clone(), |kb, j| {
                let (xp, bv) = biased(kb, &j, true);
                kb.set(mx, build::max(Expr::Var(mx), xp));
                if let Some(bv) = bv {
                    kb.set(bmx, build::max(Expr::Var(bmx), bv));
                }
            });
            let pz = Expr::imm(p, 0.0);
            let safe = kb.let_(
                p,
                select(
                    cmp(CmpOp::Eq, Expr::Var(mx), Expr::imm(p, f64::NEG_INFINITY)),
                    pz.clone(),
                    Expr::Var(mx),
                ),
            );
            // Pass 2: the sum of exponentials.
            let s = kb.let_mut(p, pz.clone());
            kb.loop_(Expr::i64(0), total_e.clone(), |kb, j| {
                let (xp, _) = biased(kb, &j, false);
                let e = call(
                    MathFn::Exp,
                    vec![build::binary(BinOp::Sub, xp, safe.clone())],
                );
                kb.set(s, build::binary(BinOp::Add, Expr::Var(s), e));
            });
            let s = kb.let_(
                p,
                select(
                    cmp(CmpOp::Eq, Expr::Var(s), pz.clone()),
                    Expr::imm(p, 1.0),
                    Expr::Var(s),
                ),
            );
            let masked = kb.let_(
                Scalar::Bool,
                if has_bias {
                    cmp(CmpOp::Eq, Expr::Var(bmx), neg_inf.clone())
                } else {
                    Expr::Imm(Scalar::Bool, crate::kir::Lit::Int(0))
                },
            );
            // Pass 3: probabilities times V into Y.
            let y_idx = |vv: &Expr| {
                if yrank4 {
                    build::linear(&[b.clone(), h.clone(), i.clone(), vv.clone()], &y.strides())
                } else {
                    let col = build::add(build::mul(h.clone(), vhs_e.clone()), vv.clone());
                    build::linear(&[b.clone(), i.clone(), col], &y.strides())
                }
            };
            kb.loop_(Expr::i64(0), vhs_e.clone(), |kb, vv| {
                kb.store(y.buf, y_idx(&vv), Expr::imm(t, 0.0));
            });
            kb.loop_(Expr::i64(0), total_e.clone(), |kb, j| {
                let (xp, _) = biased(kb, &j, false);
                let e = call(
                    MathFn::Exp,
                    vec![build::binary(BinOp::Sub, xp, safe.clone())],
                );
                let pr = select(
                    masked.clone(),
                    pz.clone(),
                    build::binary(BinOp::Div, e, s.clone()),
                );
                let pr = if p != t { cast(t, pr) } else { pr };
                let pr = kb.let_(t, pr);
                if mode == 3 {
                    if let Some(o) = &qk_out {
                        kb.store(o.buf, qk_idx(&j), pr.clone());
                    }
                }
                kb.loop_(Expr::i64(0), vhs_e.clone(), |kb, vv| {
                    let vval = v_src.load(kb, &past_e, has_past, [&b, &hk, &j, &vv]);
                    let yi = y_idx(&vv);
                    let acc = fma(pr.clone(), vval, y.load(yi.clone()));
                    kb.store(y.buf, yi, acc);
                });
            });
        });
        Ok(())
    }
}

/// Linear index into the mask broadcast against (batch, heads, q, kv).
fn build_mask_index(m: &TensorRef, idx: [&Expr; 4]) -> Expr {
    let ix: Vec<Expr> = idx.iter().map(|e| (*e).clone()).collect();
    super::super::broadcast::index(m, &ix)
}

/// Q, K or V seen as (batch, heads, seq, head_size), whether stored 3-D or 4-D.
struct Heads {
    t: TensorRef,
    rank4: bool,
    hs: Expr,
}

impl Heads {
    fn new(t: TensorRef, rank4: bool, hs: &Dim) -> Heads {
        Heads {
            t,
            rank4,
            hs: hs.to_expr(),
        }
    }
    fn index(&self, b: &Expr, h: &Expr, s: &Expr, d: &Expr) -> Expr {
        if self.rank4 {
            build::linear(
                &[b.clone(), h.clone(), s.clone(), d.clone()],
                &self.t.strides(),
            )
        } else {
            let col = build::add(build::mul(h.clone(), self.hs.clone()), d.clone());
            build::linear(&[b.clone(), s.clone(), col], &self.t.strides())
        }
    }
    fn at(&self, b: &Expr, h: &Expr, s: &Expr, d: &Expr) -> Expr {
        self.t.load(self.index(b, h, s, d))
    }
}

/// Where keys / values are read from: the present output (already past ++ new), or the past
/// input and the new input.
enum Src {
    Full(TensorRef),
    Split(Option<TensorRef>, Heads),
}

impl Src {
    fn load(
        &self,
        kb: &mut KernelBuilder,
        past_len: &Expr,
        has_past: bool,
        ix: [&Expr; 4],
    ) -> Expr {
        match self {
            Src::Full(t) => t.at(&[ix[0].clone(), ix[1].clone(), ix[2].clone(), ix[3].clone()]),
            Src::Split(past, new) => {
                let mut out = None;
                load_kv(kb, past.as_ref(), new, past_len, has_past, ix, |_, e| {
                    out = Some(e)
                });
                out.expect("load_kv emits a value")
            }
        }
    }
}

/// Element (b, h, j, d) of `past ++ new` along the sequence: `emit` gets the value (inside a
/// branch when a past exists, so no out-of-range load is evaluated).
fn load_kv(
    kb: &mut KernelBuilder,
    past: Option<&TensorRef>,
    new: &Heads,
    past_len: &Expr,
    has_past: bool,
    ix: [&Expr; 4],
    mut emit: impl FnMut(&mut KernelBuilder, Expr),
) {
    let (b, h, j, d) = (ix[0], ix[1], ix[2], ix[3]);
    match past {
        Some(pt) if has_past => {
            let t = new.t.elem;
            let var = kb.let_mut(t, Expr::imm(t, 0.0));
            let c = cmp(CmpOp::Lt, j.clone(), past_len.clone());
            kb.if_(
                c,
                |kb| kb.set(var, pt.at(&[b.clone(), h.clone(), j.clone(), d.clone()])),
                |kb| {
                    let jn = build::sub(j.clone(), past_len.clone());
                    kb.set(var, new.at(b, h, &jn, d))
                },
            );
            emit(kb, Expr::Var(var));
        }
        _ => {
            let jn = build::sub(j.clone(), past_len.clone());
            emit(kb, new.at(b, h, &jn, d))
        }
    }
}
