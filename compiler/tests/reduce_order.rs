//! The summation order of `KernelBuilder::reduce` (eight interleaved partial sums, the rest
//! into partial 0, a balanced tree at the end), which LayerNormalization, Softmax and the
//! global pools use: the outputs are compared bit for bit with that order computed here, on
//! inputs where a plain left-to-right sum gives a different answer, on every backend.

mod common;
use common::*;
use kiln::tensor::DType;

/// The documented order, in f32.
fn split_sum(x: &[f32]) -> f32 {
    let full = x.len() / 8 * 8;
    let mut p = [0f32; 8];
    if x.len() < 16 {
        return x.iter().fold(0.0, |a, v| a + v);
    }
    for (i, v) in x[..full].iter().enumerate() {
        p[i % 8] += v;
    }
    for v in &x[full..] {
        p[0] += v;
    }
    ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]))
}

fn plane(n: usize, seed: usize) -> Vec<f32> {
    // Large values that cancel, so that the order shows in the result.
    (0..n)
        .map(|i| match (i + seed) % 5 {
            0 => 3.0e7,
            1 => -3.0e7,
            _ => rnd(i * 31 + seed),
        })
        .collect()
}

#[test]
fn global_average_pool_and_softmax_sum_in_split_order() {
    let mut discriminates = false;
    for n in [7usize, 16, 20, 37] {
        let x: Vec<f32> = (0..3).flat_map(|c| plane(n, c)).collect();
        let gap = model(
            13,
            vec![vi(
                "x",
                DType::F32,
                &[D::K(1), D::K(3), D::K(1), D::K(n as i64)],
            )],
            vec![vi("y", DType::F32, &[])],
            vec![node("GlobalAveragePool", "gap", &["x"], &["y"], vec![])],
            vec![],
        );
        let c = compile(&gap).unwrap();
        let out = run_all(&c, &[f32s(&[1, 3, 1, n as u64], |i| x[i])]);
        let got = to_f32(&out[0]);
        for ch in 0..3 {
            let want = split_sum(&x[ch * n..ch * n + n]) / n as f32;
            let seq = x[ch * n..ch * n + n].iter().fold(0f32, |a, v| a + v) / n as f32;
            assert_eq!(
                got[ch].to_bits(),
                want.to_bits(),
                "n={n} channel {ch}: sequential {seq}"
            );
            discriminates |= seq.to_bits() != want.to_bits();
        }
    }
    assert!(discriminates, "the inputs do not tell the two orders apart");
    // Softmax: the denominator is the split-order sum of the exps (each exp as Kiln
    // computes it, read back from an Exp node), then each exp is divided by it.
    let n = 37usize;
    let x: Vec<f32> = (0..n).map(|i| rnd(i) * 4.0).collect();
    let m = model(
        13,
        vec![vi("x", DType::F32, &[D::K(1), D::K(n as i64)])],
        vec![vi("y", DType::F32, &[]), vi("e", DType::F32, &[])],
        vec![
            node("Softmax", "sm", &["x"], &["y"], vec![("axis", A::I(1))]),
            node(
                "ReduceMax",
                "mx",
                &["x"],
                &["m"],
                vec![("axes", A::Is(vec![1]))],
            ),
            node("Sub", "sub", &["x", "m"], &["d"], vec![]),
            node("Exp", "exp", &["d"], &["e"], vec![]),
        ],
        vec![],
    );
    let c = compile(&m).unwrap();
    let out = run_all(&c, &[f32s(&[1, n as u64], |i| x[i])]);
    let e = to_f32(&out[1]);
    let s = split_sum(&e);
    for (i, y) in to_f32(&out[0]).iter().enumerate() {
        assert_eq!(y.to_bits(), (e[i] / s).to_bits(), "softmax element {i}");
    }
}
