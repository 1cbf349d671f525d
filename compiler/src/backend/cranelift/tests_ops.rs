//! Operator coverage of the Cranelift backend against `kir::interp`, bit for bit: every
//! UnOp, BinOp (run-time and constant divisors), CmpOp, Cast pair, Bitcast pair, Select, Fma,
//! MathFn and literal, on every Scalar type, with edge values (NaN, ±0, ±inf, subnormals,
//! MIN/MAX, out-of-range casts, shifts ≥ width, division by 0 and MIN / -1). Also checks that
//! a program using all of them compiles for every Cranelift target.

use kiln_targets::Target;

use super::object::emit_object;
use super::tests::{check, enc, Prog};
use crate::kir::build::{self, KernelBuilder};
use crate::kir::interp::V;
use crate::kir::*;

/// Interesting values of type `t`.
fn samples(t: Scalar) -> Vec<V> {
    if t == Scalar::Bool {
        return vec![V::bool(false), V::bool(true)];
    }
    if t.is_float() {
        let mut f: Vec<f64> = vec![
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.5,
            -0.5,
            1.5,
            2.5,
            -2.5,
            3.5,
            3.0,
            -7.25,
            0.49999997,
            1e10,
            -1e10,
            1e-10,
            1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            -f64::NAN,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            1e-45,
            2147483647.0,
            2147483648.0,
            -2147483649.0,
            4294967295.5,
            4294967296.0,
            9223372036854775807.0,
            -9223372036854775808.0,
            18446744073709551615.0,
            65535.5,
            65536.0,
            255.5,
            256.0,
            127.5,
            -128.5,
            -129.0,
            32767.9,
            -32768.9,
            300.7,
        ];
        f.push(f64::from_bits(0x7ff4_0000_0000_0001)); // signalling NaN
        f.push(f64::from_bits(0xfff8_0000_dead_beef)); // negative NaN with payload
        return f
            .into_iter()
            .map(|x| {
                if t == Scalar::F32 {
                    V::f32(x as f32)
                } else {
                    V::f64(x)
                }
            })
            .chain(if t == Scalar::F32 {
                vec![
                    V::f32(f32::from_bits(0x7fa0_0001)),
                    V::f32(f32::from_bits(0xffc0_1234)),
                    V::f32(1.0 + f32::EPSILON),
                    V::f32(f32::MAX),
                    V::f32(-f32::MAX),
                ]
            } else {
                vec![V::f64(1.0 + f64::EPSILON), V::f64(f64::MIN)]
            })
            .collect();
    }
    let (lo, hi) = t.int_range().unwrap();
    let raw: Vec<i128> = vec![
        0,
        1,
        -1,
        2,
        -2,
        3,
        -3,
        7,
        8,
        15,
        16,
        31,
        32,
        33,
        63,
        64,
        65,
        100,
        -100,
        127,
        -128,
        255,
        256,
        lo,
        hi,
        lo + 1,
        hi - 1,
        0x5a5a_5a5a_5a5a_5a5a,
    ];
    let mut out: Vec<V> = vec![];
    for r in raw {
        let v = V::wrap(t, r);
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

fn bin_ok(op: BinOp, t: Scalar) -> bool {
    match op {
        BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Min | BinOp::Max => {
            t != Scalar::Bool
        }
        BinOp::Rem | BinOp::Shl | BinOp::Shr => t.is_int(),
        BinOp::And | BinOp::Or | BinOp::Xor => !t.is_float(),
    }
}

fn un_ok(op: UnOp, t: Scalar) -> bool {
    match op {
        UnOp::Neg | UnOp::Abs => t != Scalar::Bool,
        UnOp::Not => !t.is_float(),
        _ => t.is_float(),
    }
}

const BINOPS: [BinOp; 12] = [
    BinOp::Add,
    BinOp::Sub,
    BinOp::Mul,
    BinOp::Div,
    BinOp::Rem,
    BinOp::Min,
    BinOp::Max,
    BinOp::And,
    BinOp::Or,
    BinOp::Xor,
    BinOp::Shl,
    BinOp::Shr,
];
const UNOPS: [UnOp; 8] = [
    UnOp::Neg,
    UnOp::Abs,
    UnOp::Not,
    UnOp::Sqrt,
    UnOp::Floor,
    UnOp::Ceil,
    UnOp::Trunc,
    UnOp::Round,
];
const CMPOPS: [CmpOp; 6] = [
    CmpOp::Eq,
    CmpOp::Ne,
    CmpOp::Lt,
    CmpOp::Le,
    CmpOp::Gt,
    CmpOp::Ge,
];

/// One program with its inputs, to run through the interpreter and a backend.
pub(super) struct Case {
    pub what: String,
    pub p: Program,
    pub dims: Vec<i64>,
    pub inputs: Vec<Vec<u8>>,
    pub out_elems: Vec<usize>,
}

/// Builds one output expression from the loaded inputs.
type OutFn = Box<dyn Fn(&[Expr]) -> Expr>;
/// An output: its type and expression.
type Out = (Scalar, OutFn);

/// Where cases go: checked against the JIT right away, or collected (for native runs).
type Sink<'a> = &'a mut dyn FnMut(Case);

fn check_case(c: Case) {
    let o = check(&c.p, &c.dims, &c.inputs, &c.out_elems, 0, &c.what);
    assert_eq!(o.status, 0, "{}", c.what);
}

/// A program with inputs `ins` (element type, values) and one output per expression built
/// by `outs` from element `i` of the inputs.
fn elementwise(sink: Sink<'_>, what: &str, ins: &[(Scalar, Vec<V>)], outs: &[Out]) {
    let n = ins[0].1.len();
    let mut pb = Prog::new("ops");
    let bufs: Vec<BufId> = ins
        .iter()
        .map(|(t, _)| pb.input(*t, Expr::i64(n as i64)))
        .collect();
    let obufs: Vec<BufId> = outs
        .iter()
        .map(|(t, _)| pb.output(*t, Expr::i64(n as i64)))
        .collect();
    let mut kb = KernelBuilder::new();
    kb.loop_(Expr::i64(0), Expr::i64(n as i64), |kb, i| {
        let args: Vec<Expr> = bufs.iter().map(|b| build::load(*b, i.clone())).collect();
        for ((_, f), ob) in outs.iter().zip(&obufs) {
            kb.store(*ob, i.clone(), f(&args));
        }
    });
    pb.kernel(kb);
    sink(Case {
        what: what.to_string(),
        p: pb.finish(Expr::i64(0)),
        dims: vec![],
        inputs: ins.iter().map(|(_, v)| enc(v)).collect(),
        out_elems: vec![n; outs.len()],
    });
}

/// All pairs of samples of `t`, as two columns.
fn pairs(t: Scalar) -> (Vec<V>, Vec<V>) {
    let s = samples(t);
    let mut a = vec![];
    let mut b = vec![];
    for x in &s {
        for y in &s {
            a.push(*x);
            b.push(*y);
        }
    }
    (a, b)
}

fn binary_ops(sink: Sink<'_>) {
    for t in Scalar::ALL {
        let (a, b) = pairs(t);
        let outs: Vec<Out> = BINOPS
            .iter()
            .filter(|op| bin_ok(**op, t))
            .map(|op| {
                let op = *op;
                let f: OutFn = Box::new(move |x: &[Expr]| {
                    Expr::Binary(op, Box::new(x[0].clone()), Box::new(x[1].clone()))
                });
                (t, f)
            })
            .collect();
        elementwise(sink, &format!("binary {t}"), &[(t, a), (t, b)], &outs);
    }
}

fn constant_operands(sink: Sink<'_>) {
    for t in Scalar::ALL.into_iter().filter(|t| t.is_int()) {
        let s = samples(t);
        let mut outs: Vec<Out> = vec![];
        for d in &s {
            for op in [BinOp::Div, BinOp::Rem] {
                let lit = Expr::Imm(t, Lit::Int(d.bits as i64));
                outs.push((
                    t,
                    Box::new(move |x: &[Expr]| {
                        Expr::Binary(op, Box::new(x[0].clone()), Box::new(lit.clone()))
                    }),
                ));
            }
            // Constant shift amounts too (including ≥ width and negative).
            for op in [BinOp::Shl, BinOp::Shr] {
                let lit = Expr::Imm(t, Lit::Int(d.bits as i64));
                outs.push((
                    t,
                    Box::new(move |x: &[Expr]| {
                        Expr::Binary(op, Box::new(x[0].clone()), Box::new(lit.clone()))
                    }),
                ));
            }
        }
        elementwise(sink, &format!("constant divisors {t}"), &[(t, s)], &outs);
    }
}

fn unary_ops(sink: Sink<'_>) {
    for t in Scalar::ALL {
        let outs: Vec<Out> = UNOPS
            .iter()
            .filter(|op| un_ok(**op, t))
            .map(|op| {
                let op = *op;
                let f: OutFn = Box::new(move |x: &[Expr]| build::unary(op, x[0].clone()));
                (t, f)
            })
            .collect();
        elementwise(sink, &format!("unary {t}"), &[(t, samples(t))], &outs);
    }
}

fn comparisons(sink: Sink<'_>) {
    for t in Scalar::ALL {
        let (a, b) = pairs(t);
        let outs: Vec<Out> = CMPOPS
            .iter()
            .map(|op| {
                let op = *op;
                let f: OutFn =
                    Box::new(move |x: &[Expr]| build::cmp(op, x[0].clone(), x[1].clone()));
                (Scalar::Bool, f)
            })
            .collect();
        elementwise(sink, &format!("compare {t}"), &[(t, a), (t, b)], &outs);
    }
}

fn casts(sink: Sink<'_>) {
    for from in Scalar::ALL {
        let outs: Vec<Out> = Scalar::ALL
            .iter()
            .map(|to| {
                let to = *to;
                let f: OutFn = Box::new(move |x: &[Expr]| build::cast(to, x[0].clone()));
                (to, f)
            })
            .collect();
        elementwise(
            sink,
            &format!("cast from {from}"),
            &[(from, samples(from))],
            &outs,
        );
    }
}

fn bitcasts(sink: Sink<'_>) {
    for from in Scalar::ALL.into_iter().filter(|t| *t != Scalar::Bool) {
        let outs: Vec<Out> = Scalar::ALL
            .iter()
            .filter(|to| **to != Scalar::Bool && to.size() == from.size())
            .map(|to| {
                let to = *to;
                let f: OutFn = Box::new(move |x: &[Expr]| build::bitcast(to, x[0].clone()));
                (to, f)
            })
            .collect();
        elementwise(
            sink,
            &format!("bitcast from {from}"),
            &[(from, samples(from))],
            &outs,
        );
    }
}

fn selects(sink: Sink<'_>) {
    // Bool inputs hold arbitrary bytes: a load reads them as `!= 0`.
    let conds: Vec<V> = [0u64, 1, 2, 255, 0, 128]
        .iter()
        .map(|b| V {
            t: Scalar::Bool,
            bits: *b,
        })
        .collect();
    for t in Scalar::ALL {
        let s = samples(t);
        let n = conds.len();
        let a: Vec<V> = (0..n).map(|i| s[i % s.len()]).collect();
        let b: Vec<V> = (0..n).map(|i| s[(i * 7 + 3) % s.len()]).collect();
        let outs: Vec<Out> = vec![
            (
                t,
                Box::new(|x: &[Expr]| build::select(x[0].clone(), x[1].clone(), x[2].clone())),
            ),
            (
                Scalar::U8,
                Box::new(|x: &[Expr]| build::cast(Scalar::U8, x[0].clone())),
            ),
            (Scalar::Bool, Box::new(|x: &[Expr]| x[0].clone())),
            (
                Scalar::Bool,
                Box::new(|x: &[Expr]| build::unary(UnOp::Not, x[0].clone())),
            ),
        ];
        elementwise(
            sink,
            &format!("select {t}"),
            &[(Scalar::Bool, conds.clone()), (t, a), (t, b)],
            &outs,
        );
    }
}

fn fmas(sink: Sink<'_>) {
    for t in [Scalar::F32, Scalar::F64] {
        let s = samples(t);
        let mut a = vec![];
        let mut b = vec![];
        let mut c = vec![];
        for (i, x) in s.iter().enumerate() {
            for (j, y) in s.iter().enumerate().step_by(3) {
                a.push(*x);
                b.push(*y);
                c.push(s[(i * 5 + j) % s.len()]);
            }
        }
        // A case where fusing changes the result: (1+e)(1-e) - 1.
        if t == Scalar::F32 {
            a.push(V::f32(1.0 + f32::EPSILON));
            b.push(V::f32(1.0 - f32::EPSILON));
            c.push(V::f32(-1.0));
        } else {
            a.push(V::f64(1.0 + f64::EPSILON));
            b.push(V::f64(1.0 - f64::EPSILON));
            c.push(V::f64(-1.0));
        }
        let outs: Vec<Out> = vec![(
            t,
            Box::new(|x: &[Expr]| build::fma(x[0].clone(), x[1].clone(), x[2].clone())),
        )];
        elementwise(sink, &format!("fma {t}"), &[(t, a), (t, b), (t, c)], &outs);
    }
}

fn math_calls(sink: Sink<'_>) {
    for t in [Scalar::F32, Scalar::F64] {
        let (a, b) = pairs(t);
        let outs: Vec<Out> = MathFn::ALL
            .iter()
            .map(|f| {
                let f = *f;
                let g: OutFn = Box::new(move |x: &[Expr]| build::call(f, x[..f.arity()].to_vec()));
                (t, g)
            })
            .collect();
        elementwise(sink, &format!("math {t}"), &[(t, a), (t, b)], &outs);
    }
}

fn literals(sink: Sink<'_>) {
    for t in Scalar::ALL {
        let mut pb = Prog::new("lits");
        let mut lits: Vec<Expr> = samples(t)
            .iter()
            .map(|v| {
                if t.is_float() {
                    let x = if t == Scalar::F32 {
                        v.as_f32() as f64
                    } else {
                        v.as_f64()
                    };
                    Expr::Imm(t, Lit::Float(x.to_bits()))
                } else {
                    Expr::Imm(t, Lit::Int(v.bits as i64))
                }
            })
            .collect();
        if !t.is_float() {
            // Literals outside the type's range wrap.
            lits.push(Expr::Imm(t, Lit::Int(300)));
            lits.push(Expr::Imm(t, Lit::Int(-1)));
            lits.push(Expr::Imm(t, Lit::Int(i64::MIN + 5)));
        }
        let out = pb.output(t, Expr::i64(lits.len() as i64));
        let mut kb = KernelBuilder::new();
        for (i, l) in lits.iter().enumerate() {
            kb.store(out, Expr::i64(i as i64), l.clone());
        }
        pb.kernel(kb);
        sink(Case {
            what: format!("literals {t}"),
            p: pb.finish(Expr::i64(0)),
            dims: vec![],
            inputs: vec![],
            out_elems: vec![lits.len()],
        });
    }
}

/// One kernel using every operator on every type (stored to per-type outputs).
fn everything_program() -> crate::kir::Program {
    let mut pb = Prog::new("everything");
    let n = pb.sym("n", 1 << 20);
    let mut kb = KernelBuilder::new();
    let mut ins = vec![];
    for t in Scalar::ALL {
        ins.push((t, pb.input(t, n.clone()), pb.output(t, n.clone())));
    }
    let bools = pb.output(Scalar::Bool, n.clone());
    kb.loop_(Expr::i64(0), n.clone(), |kb, i| {
        for (t, ib, ob) in &ins {
            let t = *t;
            let x = build::load(*ib, i.clone());
            let acc = kb.let_mut(t, x.clone());
            for op in BINOPS.into_iter().filter(|op| bin_ok(*op, t)) {
                kb.set(
                    acc,
                    Expr::Binary(op, Box::new(Expr::Var(acc)), Box::new(x.clone())),
                );
            }
            for op in UNOPS.into_iter().filter(|op| un_ok(*op, t)) {
                kb.set(acc, build::unary(op, Expr::Var(acc)));
            }
            for to in Scalar::ALL {
                let c = build::cast(to, Expr::Var(acc));
                kb.set(acc, build::cast(t, c));
            }
            for op in CMPOPS {
                let c = build::cmp(op, Expr::Var(acc), x.clone());
                kb.set(acc, build::select(c, Expr::Var(acc), x.clone()));
            }
            if t.is_float() {
                kb.set(acc, build::fma(Expr::Var(acc), x.clone(), x.clone()));
                for f in MathFn::ALL {
                    let args = vec![Expr::Var(acc); f.arity()];
                    kb.set(acc, build::call(f, args));
                }
                let bits = if t == Scalar::F32 {
                    Scalar::U32
                } else {
                    Scalar::I64
                };
                kb.set(acc, build::bitcast(t, build::bitcast(bits, Expr::Var(acc))));
            }
            kb.store(*ob, i.clone(), Expr::Var(acc));
            kb.store(bools, i.clone(), build::cast(Scalar::Bool, Expr::Var(acc)));
        }
    });
    pb.kernel(kb);
    pb.finish(Expr::i64(0))
}

#[test]
fn everything_compiles_for_every_cranelift_target() {
    let p = everything_program();
    let mut names: Vec<String> = kiln_targets::presets()
        .into_iter()
        .filter(|t| t.cranelift)
        .map(|t| t.name)
        .collect();
    for extra in [
        "x86_64-unknown-linux-gnu+sse4.1",
        "x86_64-unknown-linux-gnu+avx512f,+avx512vl,+avx512dq,+avx512bitalg,+avx512vbmi",
        "riscv64gc-unknown-linux-gnu+zba,+zbb,+zbs,+zicond,+zfa,+zcb",
        "aarch64-unknown-linux-gnu+lse,+fp16,+dotprod,+i8mm,+paca",
        "x86_64-unknown-none",
        "aarch64-unknown-none",
        "x86_64-unknown-freebsd",
        "x86_64-unknown-netbsd",
        "x86_64-pc-windows-gnu",
        "x86_64-apple-ios",
        "aarch64-apple-ios-macabi",
        "aarch64-apple-tvos",
        "aarch64-apple-visionos",
        "aarch64-unknown-fuchsia",
        "riscv64gc-unknown-freebsd",
        "riscv64-linux-android",
        "x86_64-linux-android",
    ] {
        if Target::parse(extra).is_ok_and(|t| t.cranelift) {
            names.push(extra.to_string());
        }
    }
    assert!(names.len() > 20);
    for name in names {
        let t = Target::parse(&name).unwrap();
        // A Cranelift panic would be a Kiln bug: report which target caused it.
        let r = std::panic::catch_unwind(|| emit_object(&p, &t));
        match r {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => panic!("{name}: {e}"),
            Err(_) => panic!("{name}: Cranelift panicked"),
        }
    }
}

fn everything(sink: Sink<'_>) {
    let p = everything_program();
    let n = 8usize;
    let data: Vec<Vec<u8>> = Scalar::ALL
        .iter()
        .map(|t| {
            let s = samples(*t);
            enc(&(0..n).map(|i| s[(i * 5 + 1) % s.len()]).collect::<Vec<_>>())
        })
        .collect();
    sink(Case {
        what: "everything".into(),
        p,
        dims: vec![n as i64],
        inputs: data,
        out_elems: vec![n; 12],
    });
}

/// Every operator case above (for running natively).
pub(super) fn all_cases() -> Vec<Case> {
    let mut out = vec![];
    let mut sink = |c: Case| out.push(c);
    for group in [
        binary_ops as fn(Sink<'_>),
        constant_operands as fn(Sink<'_>),
        unary_ops as fn(Sink<'_>),
        comparisons as fn(Sink<'_>),
        casts as fn(Sink<'_>),
        bitcasts as fn(Sink<'_>),
        selects as fn(Sink<'_>),
        fmas as fn(Sink<'_>),
        math_calls as fn(Sink<'_>),
        literals as fn(Sink<'_>),
        everything as fn(Sink<'_>),
    ] {
        group(&mut sink);
    }
    for (i, c) in out.iter_mut().enumerate() {
        c.p.name = format!("ops{i}");
    }
    out
}

#[test]
fn binary_ops_every_type() {
    binary_ops(&mut check_case);
}

#[test]
fn division_by_constants() {
    constant_operands(&mut check_case);
}

#[test]
fn unary_ops_every_type() {
    unary_ops(&mut check_case);
}

#[test]
fn comparisons_every_type() {
    comparisons(&mut check_case);
}

#[test]
fn casts_between_every_pair() {
    casts(&mut check_case);
}

#[test]
fn bitcasts_between_same_sizes() {
    bitcasts(&mut check_case);
}

#[test]
fn select_every_type_and_bool_normalisation() {
    selects(&mut check_case);
}

#[test]
fn fused_multiply_add() {
    fmas(&mut check_case);
}

#[test]
fn math_functions() {
    math_calls(&mut check_case);
}

/// The Cranelift backend computes f32 `exp` inline (`Cx::expf`) instead of calling the
/// shim: it must give the shim's bits for every input. Every 2039th f32 bit pattern (about
/// 2.1 million values, positive and negative, NaNs and subnormals included), every f32 in
/// [-1, 1] near the points where the reduction's rounding of `x / ln 2` changes (k + 0.5),
/// the cut-offs (-104, 89) and their neighbours, and the edge samples.
#[test]
fn inline_expf_equals_shim() {
    let mut v: Vec<V> = (0..=u32::MAX / 2039)
        .map(|i| V::f32(f32::from_bits(i * 2039)))
        .collect();
    for k in -151i32..=130 {
        let mid = ((k as f64 + 0.5) * std::f64::consts::LN_2) as f32;
        let b = mid.to_bits();
        for d in 0..64u32 {
            v.push(V::f32(f32::from_bits(b.wrapping_add(d))));
            v.push(V::f32(f32::from_bits(b.wrapping_sub(d))));
        }
    }
    for c in [-104.0f32, 89.0, -103.97208, 88.72284, 88.7, -87.33655] {
        for d in 0..16u32 {
            v.push(V::f32(f32::from_bits(c.to_bits().wrapping_add(d))));
            v.push(V::f32(f32::from_bits(c.to_bits().wrapping_sub(d))));
        }
    }
    v.extend(samples(Scalar::F32));
    let outs: Vec<Out> = vec![(
        Scalar::F32,
        Box::new(|x: &[Expr]| build::call(MathFn::Exp, vec![x[0].clone()])),
    )];
    elementwise(&mut check_case, "inline expf", &[(Scalar::F32, v)], &outs);
}

#[test]
fn literals_every_type() {
    literals(&mut check_case);
}

#[test]
fn everything_runs() {
    everything(&mut check_case);
}
