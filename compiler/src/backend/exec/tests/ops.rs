//! Operators, casts, literals and shim math on edge values of every scalar type, run through
//! the C and Rust backends and compared with `kir::interp`.

use super::*;

// ---------------------------------------------------------------- values

fn int_values(t: Scalar) -> Vec<i128> {
    let (lo, hi) = t.int_range().expect("int type");
    let mut v: Vec<i128> = vec![
        lo,
        lo + 1,
        lo / 2,
        -100,
        -33,
        -32,
        -9,
        -8,
        -7,
        -2,
        -1,
        0,
        1,
        2,
        3,
        5,
        7,
        8,
        9,
        15,
        16,
        31,
        32,
        33,
        63,
        64,
        65,
        127,
        128,
        255,
        256,
        hi / 2,
        hi - 1,
        hi,
    ];
    v.retain(|x| (lo..=hi).contains(x));
    v.sort();
    v.dedup();
    v
}

fn f32_values() -> Vec<u64> {
    let mut v: Vec<u64> = [
        0x7fc0_0000u32,
        0xffc0_0000,
        0x7fc0_0123,
        0x7f80_0001,
        0x7f80_0000,
        0xff80_0000,
        0x0000_0001,
        0x8000_0003,
        0x0080_0000,
        0x7f7f_ffff,
        0xff7f_ffff,
    ]
    .iter()
    .map(|&b| b as u64)
    .collect();
    for x in [
        0.0f32,
        -0.0,
        1.0,
        -1.0,
        0.5,
        -0.5,
        1.5,
        -1.5,
        2.5,
        -2.5,
        3.5,
        1.0 / 3.0,
        -7.25,
        0.499_999_97,
        1e10,
        -1e10,
        2147483648.0,
        -2147483648.0,
        2147483520.0,
        -2147483904.0,
        4294967296.0,
        4294967040.0,
        9.223372e18,
        -9.223372e18,
        1.8446744e19,
        65535.5,
        65536.0,
        255.5,
        256.0,
        -128.5,
        -129.0,
        127.5,
        -32768.5,
        32767.5,
        4194304.5,
        8388607.5,
        16777215.0,
    ] {
        v.push(x.to_bits() as u64);
    }
    v
}

fn f64_values() -> Vec<u64> {
    let mut v: Vec<u64> = vec![
        0x7ff8_0000_0000_0000,
        0xfff8_0000_0000_0000,
        0x7ff8_0000_0000_0123,
        0x7ff0_0000_0000_0001,
        0x7ff0_0000_0000_0000,
        0xfff0_0000_0000_0000,
        1,
        0x8000_0000_0000_0003,
        0x0010_0000_0000_0000,
        0x7fef_ffff_ffff_ffff,
    ];
    for x in [
        0.0f64,
        -0.0,
        1.0,
        -1.0,
        0.5,
        -0.5,
        1.5,
        -1.5,
        2.5,
        -2.5,
        3.5,
        1.0 / 3.0,
        -7.25,
        0.499_999_999_999_999_94,
        1e300,
        -1e300,
        2147483648.0,
        2147483647.5,
        -2147483648.5,
        -2147483649.0,
        4294967296.0,
        4294967295.5,
        9223372036854775808.0,
        9223372036854774784.0,
        -9223372036854775808.0,
        -9223372036854777856.0,
        18446744073709551616.0,
        18446744073709549568.0,
        65535.9,
        255.9,
        -128.9,
        127.9,
        4503599627370497.0,
        4503599627370495.5,
        1e-310,
    ] {
        v.push(x.to_bits());
    }
    v
}

/// Bit patterns of interesting values of `t` (bool: also bytes that are not 0/1).
fn values(t: Scalar) -> Vec<u64> {
    let mut v = match t {
        Scalar::Bool => return vec![0, 1, 2, 255],
        Scalar::F32 => f32_values(),
        Scalar::F64 => f64_values(),
        _ => int_values(t).into_iter().map(|x| x as u64).collect(),
    };
    // Pseudo-random values too: random bit patterns (sign-extended for signed types), and
    // for floats random moderate numbers with fractions.
    let mut s = 0x2545_f491_4f6c_dd1d_u64 ^ t.bits() as u64;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    for _ in 0..24 {
        let r = next();
        v.push(match t {
            Scalar::F32 => r as u32 as u64,
            Scalar::F64 => r,
            _ if t.is_signed() => (((r << (64 - t.bits())) as i64) >> (64 - t.bits())) as u64,
            _ => r >> (64 - t.bits()),
        });
        if t == Scalar::F32 {
            v.push(((next() as i32 as f32) / (1u32 << (r % 31)) as f32).to_bits() as u64);
        } else if t == Scalar::F64 {
            v.push(((next() as i64 as f64) / (1u64 << (r % 63)) as f64).to_bits());
        }
    }
    v
}

fn encode(t: Scalar, vals: &[u64]) -> Vec<u8> {
    vals.iter()
        .flat_map(|v| v.to_le_bytes()[..t.size()].to_vec())
        .collect()
}

pub(super) fn fixed(n: usize) -> Vec<IoDim> {
    vec![IoDim::Fixed(n as u64)]
}

fn load_i(b: BufId, i: &Expr) -> Expr {
    kb::load(b, i.clone())
}

// ---------------------------------------------------------------- operators

type Op = (String, Box<dyn Fn(Expr, Expr) -> Expr>);

fn ops_for(t: Scalar) -> Vec<Op> {
    let mut ops: Vec<Op> = vec![];
    let bin = |op: BinOp| -> Box<dyn Fn(Expr, Expr) -> Expr> {
        Box::new(move |a, b| Expr::Binary(op, Box::new(a), Box::new(b)))
    };
    let mut binops = vec![];
    if t != Scalar::Bool {
        binops.extend([
            BinOp::Add,
            BinOp::Sub,
            BinOp::Mul,
            BinOp::Div,
            BinOp::Min,
            BinOp::Max,
        ]);
    }
    if t.is_int() {
        binops.extend([BinOp::Rem, BinOp::Shl, BinOp::Shr]);
    }
    if !t.is_float() {
        binops.extend([BinOp::And, BinOp::Or, BinOp::Xor]);
    }
    for op in binops {
        ops.push((format!("{op:?}"), bin(op)));
    }
    for op in [
        CmpOp::Eq,
        CmpOp::Ne,
        CmpOp::Lt,
        CmpOp::Le,
        CmpOp::Gt,
        CmpOp::Ge,
    ] {
        ops.push((format!("{op:?}"), Box::new(move |a, b| kb::cmp(op, a, b))));
    }
    let mut unops = vec![];
    if t != Scalar::Bool {
        unops.extend([UnOp::Neg, UnOp::Abs]);
    }
    if !t.is_float() {
        unops.push(UnOp::Not);
    }
    if t.is_float() {
        unops.extend([
            UnOp::Sqrt,
            UnOp::Floor,
            UnOp::Ceil,
            UnOp::Trunc,
            UnOp::Round,
        ]);
    }
    for op in unops {
        ops.push((format!("{op:?}"), Box::new(move |a, _| kb::unary(op, a))));
    }
    ops.push((
        "select".into(),
        Box::new(|a: Expr, b: Expr| kb::select(kb::cmp(CmpOp::Lt, a.clone(), b.clone()), a, b)),
    ));
    if t.is_int() {
        // Chains that stay in the unsigned domain, then leave it.
        ops.push((
            "chain".into(),
            Box::new(move |a: Expr, b: Expr| {
                let m = Expr::Binary(BinOp::Mul, Box::new(a.clone()), Box::new(b.clone()));
                let s = Expr::Binary(
                    BinOp::Add,
                    Box::new(m),
                    Box::new(kb::unary(UnOp::Neg, a.clone())),
                );
                let sh = Expr::Binary(BinOp::Shl, Box::new(s), Box::new(b.clone()));
                let x = Expr::Binary(
                    BinOp::Xor,
                    Box::new(sh),
                    Box::new(kb::unary(UnOp::Not, b.clone())),
                );
                Expr::Binary(BinOp::Shr, Box::new(x), Box::new(a))
            }),
        ));
        let (lo, hi) = t.int_range().unwrap_or((0, 0));
        for (name, c) in [
            ("min", lo),
            ("max", hi),
            ("m1", if t.is_signed() { -1 } else { 3 }),
            ("zero", 0),
        ] {
            let imm = Expr::Imm(t, Lit::Int(c as i64));
            let imm2 = imm.clone();
            ops.push((
                format!("div_imm_{name}"),
                Box::new(move |a, _| kb::binary(BinOp::Div, a, imm.clone())),
            ));
            ops.push((
                format!("imm_{name}_rem"),
                Box::new(move |_, b| Expr::Binary(BinOp::Rem, Box::new(imm2.clone()), Box::new(b))),
            ));
        }
        let i5 = Expr::Imm(t, Lit::Int(5));
        ops.push((
            "add_imm".into(),
            Box::new(move |a, _| Expr::Binary(BinOp::Add, Box::new(a), Box::new(i5.clone()))),
        ));
        ops.push((
            "ge_zero".into(),
            Box::new(move |a, _| kb::cmp(CmpOp::Ge, a, Expr::Imm(t, Lit::Int(0)))),
        ));
    }
    if t.is_float() {
        let h = Expr::imm(t, 0.5);
        ops.push((
            "mul_add_unfused".into(),
            Box::new(move |a: Expr, b: Expr| {
                let m = Expr::Binary(BinOp::Mul, Box::new(a), Box::new(b.clone()));
                Expr::Binary(
                    BinOp::Add,
                    Box::new(m),
                    Box::new(Expr::Binary(BinOp::Mul, Box::new(b), Box::new(h.clone()))),
                )
            }),
        ));
    }
    ops
}

fn result_type(t: Scalar, e: &Expr) -> Scalar {
    verify::type_of(&[t, t], &[], e).expect("op type")
}

/// Every operator on every pair of interesting values of `t`.
pub(super) fn op_case(t: Scalar) -> (Program, Vec<RunRequest>) {
    let vals = values(t);
    let n = vals.len() * vals.len();
    let mut pb = Pb::new(&format!("ops_{}", t.name()));
    let a = pb.input("a", t, fixed(n));
    let b = pb.input("b", t, fixed(n));
    let ops = ops_for(t);
    let mut outs = vec![];
    for (name, f) in &ops {
        let rt = result_type(t, &f(Expr::Var(VarId(0)), Expr::Var(VarId(1))));
        outs.push((pb.output(name, rt, fixed(n)), rt));
    }
    pb.kernel("ops", |k| {
        k.loop_(Expr::i64(0), Expr::i64(n as i64), |k, i| {
            let x = k.let_(t, load_i(a, &i));
            let y = k.let_(t, load_i(b, &i));
            for ((_, f), (o, _)) in ops.iter().zip(&outs) {
                k.store(*o, i.clone(), f(x.clone(), y.clone()));
            }
        });
    });
    let p = pb.finish();
    let mut xa = vec![];
    let mut xb = vec![];
    for &x in &vals {
        for &y in &vals {
            xa.push(x);
            xb.push(y);
        }
    }
    let r = request(&p, &[], vec![encode(t, &xa), encode(t, &xb)]);
    (p, vec![r])
}

#[test]
fn operators_int_types() {
    let cases: Vec<_> = [
        Scalar::I8,
        Scalar::I16,
        Scalar::I32,
        Scalar::I64,
        Scalar::U8,
        Scalar::U16,
        Scalar::U32,
        Scalar::U64,
    ]
    .into_iter()
    .map(op_case)
    .collect();
    check(&cases);
}

#[test]
fn operators_float_and_bool() {
    let cases: Vec<_> = [Scalar::Bool, Scalar::F32, Scalar::F64]
        .into_iter()
        .map(op_case)
        .collect();
    check(&cases);
}

// ---------------------------------------------------------------- casts

pub(super) fn cast_case(from: Scalar) -> (Program, Vec<RunRequest>) {
    let vals = values(from);
    let n = vals.len();
    let mut pb = Pb::new(&format!("cast_from_{}", from.name()));
    let a = pb.input("a", from, fixed(n));
    let mut outs = vec![];
    for to in Scalar::ALL {
        outs.push((
            pb.output(&format!("to_{}", to.name()), to, fixed(n)),
            to,
            false,
        ));
    }
    for to in Scalar::ALL {
        if to != Scalar::Bool && from != Scalar::Bool && to.size() == from.size() {
            outs.push((
                pb.output(&format!("bits_{}", to.name()), to, fixed(n)),
                to,
                true,
            ));
        }
    }
    pb.kernel("casts", |k| {
        k.loop_(Expr::i64(0), Expr::i64(n as i64), |k, i| {
            let x = k.let_(from, load_i(a, &i));
            for (o, to, bits) in &outs {
                let e = if *bits {
                    kb::bitcast(*to, x.clone())
                } else {
                    kb::cast(*to, x.clone())
                };
                k.store(*o, i.clone(), e);
            }
        });
    });
    let p = pb.finish();
    let r = request(&p, &[], vec![encode(from, &vals)]);
    (p, vec![r])
}

#[test]
fn casts_between_all_types() {
    let cases: Vec<_> = Scalar::ALL.into_iter().map(cast_case).collect();
    check(&cases);
}

// ---------------------------------------------------------------- literals

#[test]
fn literals_of_every_type() {
    let mut pb = Pb::new("literals");
    let mut lits: Vec<(Scalar, Vec<Lit>)> = vec![];
    for t in Scalar::ALL {
        let l: Vec<Lit> = match t {
            Scalar::F32 => f32_values()
                .into_iter()
                .map(|b| Lit::Float((f32::from_bits(b as u32) as f64).to_bits()))
                // Narrowing the widened NaN keeps its payload (quieted).
                .collect(),
            Scalar::F64 => f64_values().into_iter().map(Lit::Float).collect(),
            Scalar::Bool => vec![Lit::Int(0), Lit::Int(1)],
            _ => int_values(t)
                .into_iter()
                .map(|x| Lit::Int(x as i64))
                .collect(),
        };
        lits.push((t, l));
    }
    let outs: Vec<BufId> = lits
        .iter()
        .map(|(t, l)| pb.output(&format!("lit_{}", t.name()), *t, fixed(l.len())))
        .collect();
    pb.kernel("lits", |k| {
        for ((t, l), o) in lits.iter().zip(&outs) {
            for (i, lit) in l.iter().enumerate() {
                k.store(*o, Expr::i64(i as i64), Expr::Imm(*t, *lit));
            }
        }
    });
    let p = pb.finish();
    let r = request(&p, &[], vec![]);
    check(&[(p, vec![r])]);
}

// ---------------------------------------------------------------- math

pub(crate) fn math_case(t: Scalar) -> (Program, Vec<RunRequest>) {
    let mut vals = values(t);
    for x in [
        0.1f64, -0.3, 0.75, -0.99, 0.999, 1.0001, 2.0, 10.0, -10.0, 88.5, -100.0, 710.0, 1e-8,
    ] {
        vals.push(if t == Scalar::F32 {
            (x as f32).to_bits() as u64
        } else {
            x.to_bits()
        });
    }
    let n = vals.len();
    // Pairs for the binary functions: every value with a few others.
    let ys: Vec<u64> = vals.iter().rev().copied().collect();
    let mut pb = Pb::new(&format!("math_{}", t.name()));
    let a = pb.input("a", t, fixed(n));
    let b = pb.input("b", t, fixed(n));
    let outs: Vec<(MathFn, BufId)> = MathFn::ALL
        .iter()
        .map(|f| (*f, pb.output(f.name(), t, fixed(n))))
        .collect();
    pb.kernel("math", |k| {
        k.loop_(Expr::i64(0), Expr::i64(n as i64), |k, i| {
            let x = k.let_(t, load_i(a, &i));
            let y = k.let_(t, load_i(b, &i));
            for (f, o) in &outs {
                let args = if f.arity() == 2 {
                    vec![x.clone(), y.clone()]
                } else {
                    vec![x.clone()]
                };
                k.store(*o, i.clone(), kb::call(*f, args));
            }
        });
    });
    let p = pb.finish();
    let r = request(&p, &[], vec![encode(t, &vals), encode(t, &ys)]);
    (p, vec![r])
}

#[test]
fn shim_math_functions() {
    check(&[math_case(Scalar::F32), math_case(Scalar::F64)]);
}

fn fma_case(t: Scalar) -> (Program, Vec<RunRequest>) {
    let vals = values(t);
    let n = vals.len() * vals.len();
    let mut pb = Pb::new(&format!("fma_{}", t.name()));
    let a = pb.input("a", t, fixed(n));
    let b = pb.input("b", t, fixed(n));
    let o = pb.output("fma", t, fixed(n));
    let o2 = pb.output("fma_lit", t, fixed(n));
    pb.kernel("fma", |k| {
        k.loop_(Expr::i64(0), Expr::i64(n as i64), |k, i| {
            let x = k.let_(t, load_i(a, &i));
            let y = k.let_(t, load_i(b, &i));
            k.store(
                o,
                i.clone(),
                kb::fma(x.clone(), y.clone(), kb::unary(UnOp::Neg, x.clone())),
            );
            // 1/3 * 3 - 1 shows fusion: the unfused result is 0.
            let third = Expr::imm(t, 1.0 / 3.0);
            k.store(
                o2,
                i.clone(),
                kb::fma(
                    third,
                    Expr::imm(t, 3.0),
                    kb::binary(BinOp::Sub, y, Expr::imm(t, 1.0)),
                ),
            );
        });
    });
    let p = pb.finish();
    let (mut xa, mut xb) = (vec![], vec![]);
    for &x in &vals {
        for &y in &vals {
            xa.push(x);
            xb.push(y);
        }
    }
    let r = request(&p, &[], vec![encode(t, &xa), encode(t, &xb)]);
    (p, vec![r])
}

#[test]
fn fused_multiply_add() {
    let cases = [fma_case(Scalar::F32), fma_case(Scalar::F64)];
    if shim_has_fma() {
        check(&cases);
    } else {
        eprintln!("note: kiln_shim has no fmaf/fma yet: checking Fma on the C backend only");
        check_cases(&cases, &[NativeBackend::C], &ExecOptions::from_env());
    }
}
