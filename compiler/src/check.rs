//! `kiln check`: run test cases in the ONNX backend-test layout on chosen backends and compare
//! with the expected outputs. A case's model is compiled once; each backend runs every data
//! set. Float outputs pass when `|got - want| <= atol + rtol * |want| + stol * max|want|` for
//! every element (NaN matches NaN); integer and bool outputs must be equal. The last term
//! scales with the output's range: float32 rounding in a deep network (resnet18's 1.8 GFLOP)
//! leaves absolute errors of a few ulp of the largest activations even on elements near 0,
//! where a purely relative test would flag the reference runtime's own rounding.

use crate::compile::{self, Options};
use crate::error::{Error, Result};
use crate::run::{self, Backend};
use crate::tensor::{DType, Tensor, TensorData};
use crate::testdata::{self, Case, TestValue};
use std::path::Path;

#[derive(Clone, Copy, Debug)]
pub struct Tolerance {
    pub rtol: f64,
    pub atol: f64,
    /// Relative to the largest reference magnitude of the output.
    pub stol: f64,
}

impl Default for Tolerance {
    /// The ONNX backend tests' defaults.
    fn default() -> Self {
        Tolerance {
            rtol: 1e-3,
            atol: 1e-7,
            stol: 0.0,
        }
    }
}

#[derive(Clone, Debug)]
pub enum Outcome {
    Pass { max_abs: f64, max_rel: f64 },
    Fail(String),
    Skip(String),
}

#[derive(Clone, Debug)]
pub struct CaseResult {
    pub case: String,
    pub backend: Backend,
    pub outcome: Outcome,
}

impl CaseResult {
    pub fn line(&self) -> String {
        match &self.outcome {
            Outcome::Pass { max_abs, max_rel } => format!(
                "PASS {} [{}] max_abs={max_abs:.3e} max_rel={max_rel:.3e}",
                self.case, self.backend
            ),
            Outcome::Fail(m) => format!("FAIL {} [{}] {}", self.case, self.backend, one_line(m)),
            Outcome::Skip(m) => format!("SKIP {} [{}] {}", self.case, self.backend, one_line(m)),
        }
    }
}

fn one_line(s: &str) -> String {
    let s = s.replace('\n', " | ");
    if s.len() > 400 {
        format!(
            "{}...",
            &s[..s.char_indices().nth(400).map_or(s.len(), |c| c.0)]
        )
    } else {
        s
    }
}

/// A data set's input values as the program takes them: a map becomes two inputs, its keys
/// and its values (`onnx::graph`, map inputs).
pub fn flatten_inputs(vals: Vec<TestValue>) -> Result<Vec<Tensor>> {
    let mut out = vec![];
    for v in vals {
        match v {
            TestValue::Tensor(t) => out.push(t),
            TestValue::Map { keys, values } => {
                out.push(keys);
                out.push(values);
            }
            o => {
                return Err(crate::Error::Usage(format!(
                    "a {} input is not supported",
                    o.kind()
                )))
            }
        }
    }
    Ok(out)
}

/// The reference of output `k` as a tensor: a sequence of maps (ZipMap) becomes the [N, C]
/// array of its values in the order of the output's class labels.
pub fn reference_tensor(
    p: &crate::kir::Program,
    k: usize,
    got: &Tensor,
    want: &TestValue,
) -> Result<Tensor, String> {
    let maps = match want {
        TestValue::Tensor(t) => return Ok(t.clone()),
        TestValue::Seq(v) => v,
        o => return Err(format!("a {} reference is not supported", o.kind())),
    };
    let Some(labels) = p.strings.labels_of(k) else {
        return Err("a sequence reference for an output that is not a ZipMap".into());
    };
    let keys: Vec<Vec<u8>> = match labels {
        crate::kir::Labels::Strings(ids) => ids
            .iter()
            .map(|i| p.strings.table[*i as usize].clone())
            .collect(),
        crate::kir::Labels::Ints(v) => v.iter().map(|i| i.to_string().into_bytes()).collect(),
    };
    let c = keys.len();
    let mut vals = vec![];
    let mut dtype = got.dtype;
    for (r, m) in maps.iter().enumerate() {
        let TestValue::Map { keys: mk, values } = m else {
            return Err(format!("element {r} of the reference is not a map"));
        };
        if mk.numel() as usize != c {
            return Err(format!(
                "row {r}: the reference map has {} keys, the model {c} labels",
                mk.numel()
            ));
        }
        dtype = values.dtype;
        let key_text = |i: usize| match &mk.data {
            TensorData::Strings(s) => s[i].clone(),
            _ => mk.get_i64(i).to_string().into_bytes(),
        };
        for key in &keys {
            let Some(i) = (0..c).find(|i| key_text(*i) == *key) else {
                return Err(format!(
                    "row {r}: label '{}' is not a key of the reference map",
                    String::from_utf8_lossy(key)
                ));
            };
            vals.push(values.get_f64(i));
        }
    }
    let n = maps.len() as u64;
    let shape = if got.shape.len() == 2 || maps.len() != 1 {
        vec![n, c as u64]
    } else {
        vec![c as u64]
    };
    Ok(match dtype {
        DType::F64 => {
            let b: Vec<u8> = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
            Tensor::from_bytes(DType::F64, shape, b)
        }
        DType::I64 => {
            let v: Vec<i64> = vals.iter().map(|v| *v as i64).collect();
            Tensor::from_i64(shape, &v)
        }
        _ => {
            let v: Vec<f32> = vals.iter().map(|v| *v as f32).collect();
            Tensor::from_f32(shape, &v)
        }
    })
}

/// Compare one output. Returns (max abs error, max rel error) or why it differs.
pub fn compare(got: &Tensor, want: &Tensor, tol: Tolerance) -> Result<(f64, f64), String> {
    if got.dtype != want.dtype {
        return Err(format!("dtype {} but expected {}", got.dtype, want.dtype));
    }
    if got.shape != want.shape {
        return Err(format!(
            "shape {:?} but expected {:?}",
            got.shape, want.shape
        ));
    }
    if let (TensorData::Strings(g), TensorData::Strings(w)) = (&got.data, &want.data) {
        return match g.iter().zip(w).position(|(a, b)| a != b) {
            None => Ok((0.0, 0.0)),
            Some(i) => Err(format!(
                "element {i}: got '{}' expected '{}'",
                String::from_utf8_lossy(&g[i]),
                String::from_utf8_lossy(&w[i])
            )),
        };
    }
    let n = want.numel() as usize;
    let float = want.dtype.is_float();
    let (mut max_abs, mut max_rel) = (0f64, 0f64);
    let mut worst: Option<(usize, f64, f64)> = None;
    let scale = if float {
        (0..n)
            .map(|i| want.get_f64(i).abs())
            .filter(|x| x.is_finite())
            .fold(0.0, f64::max)
    } else {
        0.0
    };
    for i in 0..n {
        let (g, w) = if float {
            (got.get_f64(i), want.get_f64(i))
        } else {
            (got.get_i64(i) as f64, want.get_i64(i) as f64)
        };
        if g.is_nan() && w.is_nan() || g == w {
            continue;
        }
        let abs = (g - w).abs();
        let rel = if w != 0.0 { abs / w.abs() } else { abs };
        let ok = if float {
            abs <= tol.atol + tol.rtol * w.abs() + tol.stol * scale
        } else {
            got.get_i64(i) == want.get_i64(i)
        };
        if (abs.is_nan() || !ok) && worst.is_none() {
            worst = Some((i, g, w));
        }
        max_abs = max_abs.max(if abs.is_nan() { f64::INFINITY } else { abs });
        max_rel = max_rel.max(if rel.is_nan() { f64::INFINITY } else { rel });
    }
    match worst {
        None => Ok((max_abs, max_rel)),
        Some((i, g, w)) => Err(format!(
            "element {i}: got {g} expected {w} (max abs {max_abs:.3e}, max rel {max_rel:.3e})"
        )),
    }
}

/// Run one case on the given backends, compiled with `Options::scratch_guard` set to
/// `scratch_guard`.
pub fn run_case(
    case: &Case,
    name: &str,
    backends: &[Backend],
    tol: Tolerance,
    bind: bool,
    scratch_guard: u64,
) -> Vec<CaseResult> {
    let options = || {
        let mut o = Options::new("model").for_target(&exec_layout_target());
        o.scratch_guard = scratch_guard;
        o
    };
    let fail_all = |msg: String| -> Vec<CaseResult> {
        backends
            .iter()
            .map(|b| CaseResult {
                case: name.to_string(),
                backend: *b,
                outcome: Outcome::Fail(msg.clone()),
            })
            .collect()
    };
    // Load every data set first.
    let mut sets = vec![];
    for ds in &case.data_sets {
        let ins: Result<Vec<Tensor>> = ds
            .inputs
            .iter()
            .map(|p| testdata::load_value_pb(p))
            .collect::<Result<Vec<_>>>()
            .and_then(flatten_inputs);
        let outs: Result<Vec<TestValue>> = ds
            .outputs
            .iter()
            .map(|p| testdata::load_value_pb(p))
            .collect();
        match (ins, outs) {
            (Ok(i), Ok(o)) => sets.push((i, o)),
            (Err(e), _) | (_, Err(e)) => return fail_all(format!("test data: {e}")),
        }
    }
    if sets.is_empty() {
        return fail_all("no test_data_set_* folder".into());
    }
    // Compile with every input free; when a shape-determining input must be known at compile
    // time, compile once per data set with its integer inputs bound to that set's values (the
    // case is then reported as "bound").
    let mut units: Vec<(compile::Compiled, Vec<usize>, Vec<bool>)> = vec![];
    let mut bound = false;
    match compile::compile_file(&case.model, &options()) {
        Ok(c) => units.push((c, (0..sets.len()).collect(), vec![])),
        Err(crate::Error::NeedsValue { .. }) if bind => {
            bound = true;
            let graph = match compile::load_graph(&case.model) {
                Ok(g) => g,
                Err(e) => return fail_all(e.to_string()),
            };
            for (k, (ins, _)) in sets.iter().enumerate() {
                match compile::compile_binding(&graph, ins, &options()) {
                    Ok((c, mask)) => units.push((c, vec![k], mask.unwrap_or_default())),
                    Err(e) => return fail_all(format!("{e} (with inputs bound)")),
                }
            }
        }
        Err(e) => return fail_all(e.to_string()),
    }
    let name = if bound {
        format!("{name} (bound)")
    } else {
        name.to_string()
    };
    let mut results = vec![];
    for b in backends {
        let outcome = (|| -> Result<Outcome> {
            let (mut ma, mut mr) = (0f64, 0f64);
            for (compiled, set_ids, mask) in &units {
                let p = &compiled.program;
                let mut prepared = vec![];
                for k in set_ids {
                    // Bound inputs are no longer inputs of the program.
                    let ins: Vec<Tensor> = sets[*k]
                        .0
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| !mask.get(*i).copied().unwrap_or(false))
                        .map(|(_, t)| t.clone())
                        .collect();
                    prepared.push(run::prepare_compiled(compiled, &ins)?);
                }
                let loaded = run::load(p, *b)?;
                let refs: Vec<&run::Prepared> = prepared.iter().collect();
                let rs = run::execute(p, &loaded, &refs)?;
                for ((r, prep), k) in rs.into_iter().zip(&prepared).zip(set_ids) {
                    let want = &sets[*k].1;
                    let got = run::outputs_compiled(compiled, prep, r)?;
                    if got.len() != want.len() {
                        return Ok(Outcome::Fail(format!(
                            "{} outputs but {} expected",
                            got.len(),
                            want.len()
                        )));
                    }
                    for (i, (g, w)) in got.iter().zip(want).enumerate() {
                        let w = match reference_tensor(p, i, g, w) {
                            Ok(w) => w,
                            Err(m) => return Ok(Outcome::Fail(format!("output {i}: {m}"))),
                        };
                        match compare(g, &w, tol) {
                            Ok((a, r)) => {
                                ma = ma.max(a);
                                mr = mr.max(r);
                            }
                            Err(m) => {
                                return Ok(Outcome::Fail(format!(
                                    "output {i} ({}): {m}",
                                    p.outputs[i].name
                                )))
                            }
                        }
                    }
                }
            }
            Ok(Outcome::Pass {
                max_abs: ma,
                max_rel: mr,
            })
        })();
        results.push(CaseResult {
            case: name.clone(),
            backend: *b,
            outcome: outcome.unwrap_or_else(|e| Outcome::Fail(e.to_string())),
        });
    }
    results
}

/// Find and run every case under the given paths, printing a line per case and backend.
/// Returns all results.
pub fn check_paths(
    paths: &[&Path],
    backends: &[Backend],
    tol: Tolerance,
    bind: bool,
    scratch_guard: u64,
    print: &mut dyn FnMut(&CaseResult),
) -> Result<Vec<CaseResult>> {
    let mut all = vec![];
    for root in paths {
        if !root.exists() {
            return Err(Error::io(*root, "no such file or directory"));
        }
        let cases = testdata::find_cases(root)?;
        if cases.is_empty() {
            return Err(Error::io(
                *root,
                "no test cases (folders with model.onnx) found",
            ));
        }
        for c in cases {
            let name = c
                .dir
                .strip_prefix(root.parent().unwrap_or(root))
                .unwrap_or(&c.dir)
                .display()
                .to_string();
            for r in run_case(&c, &name, backends, tol, bind, scratch_guard) {
                print(&r);
                all.push(r);
            }
        }
    }
    Ok(all)
}

/// The closing line: `N passed, M failed` (`, K skipped`).
pub fn summary(results: &[CaseResult]) -> String {
    let p = results
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Pass { .. }))
        .count();
    let f = results
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Fail(_)))
        .count();
    let s = results
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Skip(_)))
        .count();
    if s > 0 {
        format!("{p} passed, {f} failed, {s} skipped")
    } else {
        format!("{p} passed, {f} failed")
    }
}

/// The target whose layout choices checked programs are compiled with: the one they run
/// on (`KILN_EXEC_TARGET`, else the host).
pub(crate) fn exec_layout_target() -> kiln_targets::Target {
    crate::backend::exec::exec_target().unwrap_or_else(|_| kiln_targets::Target::host())
}
