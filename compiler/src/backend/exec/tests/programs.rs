//! Whole programs: control flow with symbolic dims and every status, weights and scratch,
//! awkward names; also used by the API tests of the C and Rust backends.

use super::ops::{cast_case, fixed, op_case};
use super::*;

// ---------------------------------------------------------------- control flow, dims, statuses

/// Rows summed with symbolic loop bounds, a gather with an index check, a counter kept with
/// `Set`, `Len` values, `If` with and without `else`, and `Fail` statuses.
pub(crate) fn flow_program() -> Program {
    let mut pb = Pb::new("flow");
    let n = pb.sym("N", 50);
    let m = pb.sym("M", 8);
    let (dn, dm) = (Expr::Dim(n), Expr::Dim(m));
    let x = pb.input("x.in", Scalar::F32, vec![IoDim::Sym(n), IoDim::Sym(m)]);
    let idx = pb.input("idx", Scalar::I32, vec![IoDim::Sym(n)]);
    let rows = pb.output("rows", Scalar::F32, vec![IoDim::Sym(n)]);
    let gathered = pb.output("gathered", Scalar::F32, vec![IoDim::Sym(n)]);
    let count = pb.output("count", Scalar::I64, vec![IoDim::Fixed(3)]);
    let tri = pb.output(
        "tri",
        Scalar::I32,
        vec![IoDim::Expr(kb::mul(dn.clone(), dn.clone()), "N*N".into())],
    );
    pb.kernel("rows", |k| {
        k.loop_(Expr::i64(0), dn.clone(), |k, i| {
            let acc = k.let_mut(Scalar::F32, Expr::imm(Scalar::F32, 0.0));
            k.loop_(Expr::i64(0), dm.clone(), |k, j| {
                let v = kb::load(x, kb::add(kb::mul(i.clone(), dm.clone()), j));
                k.set(acc, kb::binary(BinOp::Add, Expr::Var(acc), v));
            });
            let pos = kb::cmp(CmpOp::Gt, Expr::Var(acc), Expr::imm(Scalar::F32, 0.0));
            k.if_(
                pos,
                |k| k.store(rows, i.clone(), Expr::Var(acc)),
                |k| k.store(rows, i.clone(), kb::unary(UnOp::Neg, Expr::Var(acc))),
            );
        });
    });
    pb.kernel("gather", |k| {
        k.loop_(Expr::i64(0), dn.clone(), |k, i| {
            let j = k.let_(Scalar::I64, kb::cast(Scalar::I64, kb::load(idx, i.clone())));
            let bad = kb::or(
                kb::cmp(CmpOp::Lt, j.clone(), Expr::i64(0)),
                kb::cmp(CmpOp::Ge, j.clone(), dn.clone()),
            );
            k.if_(bad, |k| k.fail(Status::BadIndex), |_| {});
            let v = kb::load(rows, j);
            let nan = kb::cmp(CmpOp::Ne, v.clone(), v.clone());
            k.if_(nan, |k| k.fail(Status::BadValue), |_| {});
            k.store(gathered, i, v);
        });
    });
    pb.kernel("count", |k| {
        let c = k.let_mut(Scalar::I64, Expr::i64(0));
        // A loop starting above zero whose end is evaluated once although the body
        // changes what it reads.
        k.loop_(Expr::i64(1), kb::sub(dn.clone(), Expr::i64(1)), |k, i| {
            let big = kb::cmp(CmpOp::Gt, kb::load(rows, i), Expr::imm(Scalar::F32, 1.0));
            k.if_(
                big,
                |k| k.set(c, kb::add(Expr::Var(c), Expr::i64(1))),
                |_| {},
            );
        });
        k.store(count, Expr::i64(0), Expr::Var(c));
        k.store(
            count,
            Expr::i64(1),
            kb::add(Expr::Len(0), kb::mul(Expr::Len(4), Expr::i64(1000))),
        );
        k.store(
            count,
            Expr::i64(2),
            kb::add(dn.clone(), kb::mul(dm.clone(), Expr::i64(100))),
        );
    });
    pb.kernel("triangle", |k| {
        k.loop_(Expr::i64(0), dn.clone(), |k, i| {
            k.loop_(Expr::i64(0), dn.clone(), |k, j| {
                let below = kb::cmp(CmpOp::Le, j.clone(), i.clone());
                let v = kb::select(
                    below,
                    Expr::Imm(Scalar::I32, Lit::Int(1)),
                    Expr::Imm(Scalar::I32, Lit::Int(-1)),
                );
                k.store(tri, kb::add(kb::mul(i.clone(), dn.clone()), j), v);
            });
        });
    });
    pb.finish()
}

fn f32s(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn i32s(v: &[i32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub(crate) fn flow_requests(p: &Program) -> Vec<RunRequest> {
    let x: Vec<f32> = (0..15).map(|i| (i as f32 - 6.0) * 0.75).collect();
    let ok = request(p, &[5, 3], vec![f32s(&x), i32s(&[4, 0, 2, 2, 1])]);
    let mut reqs = vec![ok.clone()];
    reqs.push(request(p, &[0, 3], vec![vec![], vec![]]));
    reqs.push(request(p, &[1, 0], vec![vec![], i32s(&[0])]));
    let mut big = ok.clone();
    big.dims = vec![51, 3];
    reqs.push(big);
    let mut neg = ok.clone();
    neg.dims = vec![5, -1];
    reqs.push(neg);
    let mut short = ok.clone();
    short.lens[3] -= 1;
    reqs.push(short);
    let mut short_scratch = ok.clone();
    short_scratch.lens[1] = 4;
    reqs.push(short_scratch);
    reqs.push(request(p, &[5, 3], vec![f32s(&x), i32s(&[4, 0, 5, 2, 1])]));
    reqs.push(request(p, &[5, 3], vec![f32s(&x), i32s(&[4, 0, -1, 2, 1])]));
    let mut xn = x.clone();
    xn[4] = f32::NAN;
    reqs.push(request(p, &[5, 3], vec![f32s(&xn), i32s(&[4, 0, 1, 2, 1])]));
    reqs
}

#[test]
fn control_flow_dims_and_statuses() {
    let p = flow_program();
    let reqs = flow_requests(&p);
    // The statuses themselves, not only agreement with interp.
    let want: Vec<i32> = vec![0, 0, 0, 1, 1, 2, 2, 3, 3, 4];
    let got: Vec<i32> = reqs.iter().map(|r| interp_run(&p, r).status).collect();
    assert_eq!(got, want);
    check(&[(p, reqs)]);
}

#[test]
fn object_path_links_and_runs() {
    let p = flow_program();
    let reqs = flow_requests(&p);
    check_cases(
        &[(p, reqs)],
        &[NativeBackend::Object],
        &ExecOptions::from_env(),
    );
}

// ---------------------------------------------------------------- weights and scratch

pub(crate) fn memory_program() -> Program {
    let mut pb = Pb::new("memory");
    let n = pb.sym("n", 64);
    let dn = Expr::Dim(n);
    // Every byte value, and sequences that trip naive string literals: an escape followed
    // by digits, trigraphs, quotes, backslashes.
    let mut bytes: Vec<u8> = (0..=255u8).collect();
    bytes.extend_from_slice(b"\x01234\x007\"\\??=??/??'\x1b[0m\r\n\t7\xff");
    let wb = pb.weight("bytes", Scalar::U8, &bytes);
    let wf: Vec<u8> = [1.5f32, -2.0, f32::NAN, 0.1, -0.0, f32::INFINITY, 3.0, 1e-40]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let wf = pb.weight("floats", Scalar::F32, &wf);
    let wi: Vec<u8> = [-32768i16, -1, 0, 1, 32767, 1234]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let wi = pb.weight("shorts", Scalar::I16, &wi);
    let wbool = pb.weight("flags", Scalar::Bool, &[0, 1, 1, 0, 2]);
    let x = pb.input("x", Scalar::F64, vec![IoDim::Sym(n)]);
    let t1 = pb.scratch("t1", Scalar::F64, dn.clone());
    let t2 = pb.scratch("t2", Scalar::I16, kb::mul(dn.clone(), Expr::i64(3)));
    let t3 = pb.scratch("t3", Scalar::Bool, dn.clone());
    let ob = pb.output("bytes_out", Scalar::U8, fixed(bytes.len()));
    let of = pb.output("floats_out", Scalar::F32, fixed(8));
    let oi = pb.output("shorts_out", Scalar::I16, fixed(6));
    let obool = pb.output("flags_out", Scalar::Bool, fixed(5));
    let y = pb.output("y", Scalar::F64, vec![IoDim::Sym(n)]);
    let z = pb.output("z", Scalar::I16, vec![IoDim::Sym(n)]);
    let zb = pb.output("zb", Scalar::Bool, vec![IoDim::Sym(n)]);
    pb.kernel("copy_weights", |k| {
        k.loop_(Expr::i64(0), Expr::i64(bytes.len() as i64), |k, i| {
            k.store(ob, i.clone(), kb::load(wb, i))
        });
        k.loop_(Expr::i64(0), Expr::i64(8), |k, i| {
            k.store(of, i.clone(), kb::load(wf, i))
        });
        k.loop_(Expr::i64(0), Expr::i64(6), |k, i| {
            k.store(oi, i.clone(), kb::load(wi, i))
        });
        k.loop_(Expr::i64(0), Expr::i64(5), |k, i| {
            k.store(obool, i.clone(), kb::load(wbool, i))
        });
    });
    pb.kernel("fill_scratch", |k| {
        k.loop_(Expr::i64(0), dn.clone(), |k, i| {
            let w = kb::cast(Scalar::F64, kb::load(wf, kb::rem(i.clone(), Expr::i64(8))));
            k.store(
                t1,
                i.clone(),
                kb::binary(BinOp::Mul, kb::load(x, i.clone()), w),
            );
            for c in 0..3 {
                let at = kb::add(kb::mul(i.clone(), Expr::i64(3)), Expr::i64(c));
                let v = kb::binary(
                    BinOp::Mul,
                    kb::load(wi, kb::rem(kb::add(i.clone(), Expr::i64(c)), Expr::i64(6))),
                    kb::cast(Scalar::I16, i.clone()),
                );
                k.store(t2, at, v);
            }
            k.store(
                t3,
                i.clone(),
                kb::cmp(
                    CmpOp::Gt,
                    kb::load(x, i.clone()),
                    Expr::imm(Scalar::F64, 0.0),
                ),
            );
        });
    });
    pb.kernel("read_scratch", |k| {
        k.loop_(Expr::i64(0), dn.clone(), |k, i| {
            let s = kb::binary(
                BinOp::Add,
                kb::load(t1, i.clone()),
                Expr::imm(Scalar::F64, 0.25),
            );
            k.store(y, i.clone(), s);
            let acc = k.let_mut(Scalar::I16, Expr::Imm(Scalar::I16, Lit::Int(0)));
            k.loop_(Expr::i64(0), Expr::i64(3), |k, c| {
                let v = kb::load(t2, kb::add(kb::mul(i.clone(), Expr::i64(3)), c));
                k.set(acc, kb::binary(BinOp::Add, Expr::Var(acc), v));
            });
            k.store(z, i.clone(), Expr::Var(acc));
            k.store(zb, i.clone(), kb::unary(UnOp::Not, kb::load(t3, i)));
        });
    });
    pb.finish()
}

pub(crate) fn memory_requests(p: &Program) -> Vec<RunRequest> {
    let x: Vec<u8> = (0..20)
        .flat_map(|i| ((i as f64 - 7.5) * 1.25).to_le_bytes())
        .collect();
    vec![request(p, &[20], vec![x]), request(p, &[0], vec![vec![]])]
}

#[test]
fn weights_and_scratch() {
    let p = memory_program();
    let reqs = memory_requests(&p);
    check(&[(p, reqs)]);
}

#[test]
fn sanitizers_find_nothing() {
    if !have_tools() {
        return;
    }
    let mut opts = ExecOptions::from_env();
    opts.cflags.extend(
        [
            "-fsanitize=address,undefined",
            "-fno-sanitize-recover=all",
            "-g",
        ]
        .map(String::from),
    );
    let cases = vec![
        (memory_program(), memory_requests(&memory_program())),
        (flow_program(), flow_requests(&flow_program())),
        op_case(Scalar::I32),
        op_case(Scalar::I8),
        cast_case(Scalar::F32),
        cast_case(Scalar::F64),
    ];
    check_cases(&cases, &[NativeBackend::C], &opts);
}

// ---------------------------------------------------------------- names

/// Names that are C, C++ or Rust keywords, collide with generated names, or are not
/// identifiers at all.
pub(crate) fn weird_program() -> Program {
    let mut pb = Pb::new("weird");
    let n = pb.sym("batch size", 4);
    let m = pb.sym("float", 3);
    let k = pb.sym("N-1", 2);
    let names_in = [
        "float",
        "x.in",
        "X_len",
        "kiln_dims",
        "scratch",
        "1st",
        "",
        "run",
        "NUM_INPUTS",
    ];
    let types_in = [
        Scalar::F32,
        Scalar::Bool,
        Scalar::I8,
        Scalar::U64,
        Scalar::F64,
        Scalar::I16,
        Scalar::U8,
        Scalar::U16,
        Scalar::I32,
    ];
    let mut ins = vec![];
    for (name, t) in names_in.iter().zip(types_in) {
        ins.push(pb.input(name, t, vec![IoDim::Sym(n), IoDim::Sym(m), IoDim::Fixed(2)]));
    }
    let names_out = [
        "X",
        "NULL",
        "weird_NUM_INPUTS",
        "class",
        "self",
        "Ok",
        "type",
        "x.in",
        "scratch_len",
        "_",
        "DIM_MAX_float",
    ];
    let mut outs = vec![];
    for (j, name) in names_out.iter().enumerate() {
        let i = ins[j % ins.len()];
        let t = pb.p.buffers[i.0 as usize].elem;
        let shape = vec![
            IoDim::Sym(n),
            IoDim::Sym(m),
            IoDim::Expr(kb::add(Expr::Dim(k), Expr::i64(2)), "N-1 + 2".into()),
        ];
        outs.push((pb.output(name, t, shape), i));
    }
    pb.kernel("copy", |kb_| {
        let (dn, dm, dk) = (Expr::Dim(n), Expr::Dim(m), Expr::Dim(k));
        kb_.loops(&[dn, dm.clone()], |kb_, ix| {
            let row = kb::add(kb::mul(ix[0].clone(), dm.clone()), ix[1].clone());
            for (o, i) in &outs {
                let src = kb::load(
                    *i,
                    kb::add(kb::mul(row.clone(), Expr::i64(2)), Expr::i64(1)),
                );
                let w = kb::add(dk.clone(), Expr::i64(2));
                kb_.loop_(Expr::i64(0), w.clone(), |kb_, c| {
                    kb_.store(*o, kb::add(kb::mul(row.clone(), w.clone()), c), src.clone());
                });
            }
        });
    });
    pb.finish()
}

pub(crate) fn weird_requests(p: &Program) -> Vec<RunRequest> {
    let (n, m) = (3i64, 2i64);
    let inputs: Vec<Vec<u8>> = p
        .inputs
        .iter()
        .enumerate()
        .map(|(j, io)| {
            (0..(n * m * 2) as usize * io.elem.size())
                .map(|b| (b * 7 + j * 13) as u8 % 200)
                .collect()
        })
        .collect();
    vec![request(p, &[n, m, 1], inputs)]
}

#[test]
fn awkward_names() {
    let p = weird_program();
    let reqs = weird_requests(&p);
    check(&[(p, reqs)]);
}
