//! Object files from `emit_object`, linked with the C driver of `backend::exec` and run as
//! native executables on the host, compared bit for bit with `kir::interp`: checks the ABI
//! (entry signature, relocations, PIC, weights data, shim imports, libm libcalls on older
//! x86_64 levels), not just the code inside the kernels.

use kiln_targets::Target;

use super::object::emit_object;
use super::tests::{failing_program, lens_for, matrix_program, weights_program};
use super::tests_ops::{all_cases, Case};
use crate::backend::exec::{run_native_batch, NativeBackend, RunRequest, RunResult};
use crate::kir::interp::{self, Memory};

/// The interpreter with the driver's conventions (zero-filled outputs and scratch).
fn interp_run(c: &Case, scratch: usize) -> RunResult {
    let lens = lens_for(&c.p, &c.inputs, &c.out_elems, scratch);
    let mut outs: Vec<Vec<u8>> = c
        .out_elems
        .iter()
        .zip(&c.p.outputs)
        .map(|(n, io)| vec![0u8; n * io.elem.size()])
        .collect();
    let mut sc = vec![0u8; scratch];
    let mut mem = Memory {
        inputs: c.inputs.iter().map(|x| x.as_slice()).collect(),
        outputs: outs.iter_mut().map(|x| x.as_mut_slice()).collect(),
        scratch: &mut sc,
    };
    let st = interp::run(&c.p, &c.dims, &lens, &mut mem).unwrap_or_else(|f| panic!("{f}"));
    drop(mem);
    RunResult {
        status: st.code(),
        outputs: outs,
    }
}

fn structural_cases() -> Vec<(Case, usize)> {
    let f32s = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let mut out = vec![];
    for (n, m) in [(0i64, 3i64), (3, 5)] {
        let vals: Vec<f32> = (0..n * m).map(|k| k as f32 * 0.5 - 3.0).collect();
        out.push((
            Case {
                what: format!("matrix {n}x{m}"),
                p: matrix_program(),
                dims: vec![n, m],
                inputs: vec![f32s(&vals)],
                out_elems: vec![n as usize, n as usize, 4],
            },
            (n * 68) as usize,
        ));
    }
    for (n, v) in [
        (3i64, vec![5i32, -1, 2]),
        (2, vec![1, 2]),
        (2, vec![7, 600]),
    ] {
        out.push((
            Case {
                what: format!("failing {v:?}"),
                p: failing_program(),
                dims: vec![n],
                inputs: vec![v.iter().flat_map(|x| x.to_le_bytes()).collect()],
                out_elems: vec![n as usize, 1],
            },
            0,
        ));
    }
    out.push((
        Case {
            what: "weights".into(),
            p: weights_program(),
            dims: vec![],
            inputs: vec![],
            out_elems: vec![6, 5, 2],
        },
        128,
    ));
    out
}

#[test]
fn objects_run_natively_like_the_interpreter() {
    let host = Target::host();
    if !host.cranelift {
        eprintln!("skipped: Cranelift cannot target the host {}", host.triple);
        return;
    }
    let mut targets = vec![host.clone()];
    if let Ok(t) = Target::parse("x86_64-unknown-linux-gnu") {
        if t.triple == host.triple {
            targets.push(t); // no SSE4.1, no FMA: libm libcalls
        }
    }
    let mut cases: Vec<(Case, usize)> = structural_cases();
    cases.extend(all_cases().into_iter().map(|c| (c, 0)));
    for (i, (c, _)) in cases.iter_mut().enumerate() {
        c.p.name = format!("native{i}");
    }
    for t in &targets {
        let objs: Vec<Vec<u8>> = cases
            .iter()
            .map(|(c, _)| emit_object(&c.p, t).unwrap_or_else(|e| panic!("{}: {e}", c.what)))
            .collect();
        let reqs: Vec<Vec<RunRequest>> = cases
            .iter()
            .map(|(c, scratch)| {
                vec![RunRequest {
                    dims: c.dims.clone(),
                    inputs: c.inputs.clone(),
                    output_bytes: c
                        .out_elems
                        .iter()
                        .zip(&c.p.outputs)
                        .map(|(n, io)| n * io.elem.size())
                        .collect(),
                    lens: lens_for(&c.p, &c.inputs, &c.out_elems, *scratch),
                }]
            })
            .collect();
        let items: Vec<_> = cases
            .iter()
            .zip(&objs)
            .zip(&reqs)
            .map(|(((c, _), o), r)| (&c.p, Some(o.as_slice()), r.as_slice()))
            .collect();
        let results = match run_native_batch(NativeBackend::Object, &items) {
            Ok(r) => r,
            Err(e) => panic!("native toolchain unavailable: {e}"),
        };
        for ((c, scratch), r) in cases.iter().zip(results) {
            let what = format!("{} [object {}]", c.what, t.name);
            let got = r.unwrap_or_else(|e| panic!("{what}: {e}"));
            let want = interp_run(c, *scratch);
            assert_eq!(got.len(), 1, "{what}");
            assert_eq!(got[0].status, want.status, "{what}: status");
            for (k, (g, w)) in got[0].outputs.iter().zip(&want.outputs).enumerate() {
                let ty = c.p.outputs[k].elem;
                if !ty.same_up_to_nan(g, w) {
                    let n = ty.size();
                    let e = (0..g.len() / n)
                        .find(|e| {
                            !ty.same_up_to_nan(&g[e * n..(e + 1) * n], &w[e * n..(e + 1) * n])
                        })
                        .unwrap_or(0);
                    panic!(
                        "{what}: output {k} ({ty}) element {e}: native={:?} interp={:?}",
                        interp::read(ty, &g[e * n..]),
                        interp::read(ty, &w[e * n..])
                    );
                }
            }
        }
    }
}
