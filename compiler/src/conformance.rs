//! The conformance runner (`kiln conformance`): every case of a suite in the ONNX backend-test
//! layout, on every backend, against a manifest that says which cases are expected not to pass
//! and why.
//!
//! - A case passes on a backend when its outputs match the reference within the case's
//!   tolerance AND (for jit, object, c, rust) are bit-identical to kir::interp's (NaN payloads
//!   aside): the backends are checked against the oracle, the oracle against the reference.
//! - A case tagged `skip: reason` is run on jit only; if it passes there the run fails
//!   ("unexpected pass"), so the manifest cannot rot.
//! - A case tagged `bind` is compiled with its integer inputs bound to each data set's values
//!   (`kiln compile --bind`); an untagged case is compiled with every input free. A `bind` case
//!   that compiles with its inputs free is also reported, so the tag cannot rot either.
//! - The object, C and Rust backends are batched: many cases per compiler invocation.

use crate::backend::exec::{self, NativeBackend, RunRequest};
use crate::check::{compare, Tolerance};
use crate::compile::{self, Compiled, Options};
use crate::error::{Error, Result};
use crate::run::{self, Backend, Prepared};
use crate::tensor::Tensor;
use crate::testdata::{self, Case, TestValue};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

/// Tags of a case, merged from every manifest line whose pattern matches it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tags {
    pub skip: Option<String>,
    pub bind: bool,
    pub rtol: Option<f64>,
    pub atol: Option<f64>,
}

#[derive(Clone, Debug, Default)]
pub struct Manifest {
    rules: Vec<(String, Tags)>,
}

/// `*` matches any run of characters.
pub fn glob(pat: &str, s: &str) -> bool {
    match pat.split_once('*') {
        None => pat == s,
        Some((head, rest)) => {
            if !s.starts_with(head) {
                return false;
            }
            let s = &s[head.len()..];
            (0..=s.len()).any(|i| s.is_char_boundary(i) && glob(rest, &s[i..]))
        }
    }
}

impl Manifest {
    /// Lines: `PATTERN TAG...`, tags `bind`, `rtol=X`, `atol=X`, `skip: reason` (the rest of
    /// the line). `#` starts a comment line.
    pub fn parse(text: &str) -> Result<Manifest> {
        let mut rules = vec![];
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (pat, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            let mut tags = Tags::default();
            let mut rest = rest.trim();
            while !rest.is_empty() {
                if let Some(reason) = rest.strip_prefix("skip:") {
                    tags.skip = Some(reason.trim().to_string());
                    break;
                }
                let (tok, tail) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
                rest = tail.trim();
                let bad = || Error::Usage(format!("manifest line {}: bad tag '{tok}'", n + 1));
                if tok == "bind" {
                    tags.bind = true;
                } else if let Some(v) = tok.strip_prefix("rtol=") {
                    tags.rtol = Some(v.parse().map_err(|_| bad())?);
                } else if let Some(v) = tok.strip_prefix("atol=") {
                    tags.atol = Some(v.parse().map_err(|_| bad())?);
                } else {
                    return Err(bad());
                }
            }
            rules.push((pat.to_string(), tags));
        }
        Ok(Manifest { rules })
    }
    /// The same rules with only their tolerances (for a run that rewrites the manifest).
    pub fn tolerances_only(&self) -> Manifest {
        Manifest {
            rules: self
                .rules
                .iter()
                .filter(|(_, t)| t.rtol.is_some() || t.atol.is_some())
                .map(|(p, t)| {
                    (
                        p.clone(),
                        Tags {
                            rtol: t.rtol,
                            atol: t.atol,
                            ..Tags::default()
                        },
                    )
                })
                .collect(),
        }
    }
    pub fn tags(&self, case: &str) -> Tags {
        let mut t = Tags::default();
        for (p, r) in &self.rules {
            if glob(p, case) {
                if r.skip.is_some() {
                    t.skip = r.skip.clone();
                }
                t.bind |= r.bind;
                t.rtol = r.rtol.or(t.rtol);
                t.atol = r.atol.or(t.atol);
            }
        }
        t
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    Pass,
    Fail(String),
    Skip(String),
}

/// One case's results.
pub struct CaseReport {
    /// `suite/name`, e.g. `node/test_relu`.
    pub name: String,
    /// The op it tests (for the report).
    pub op: String,
    pub bound: bool,
    pub verdicts: BTreeMap<Backend, Verdict>,
}

struct Unit {
    compiled: Compiled,
    /// Prepared requests and the reference outputs of each.
    reqs: Vec<(Prepared, Vec<TestValue>)>,
}

struct Loaded {
    units: Vec<Unit>,
    tol: Tolerance,
    bound: bool,
}

/// The op a case tests: the last node's op type that is not a Constant.
fn case_op(case: &Case) -> String {
    match compile::load_graph(&case.model) {
        Ok(g) => g
            .nodes
            .iter()
            .rev()
            .map(|n| n.op_type.clone())
            .find(|o| o != "Constant")
            .unwrap_or_else(|| "Constant".into()),
        Err(_) => "(unloadable)".into(),
    }
}

fn load_case(case: &Case, tags: &Tags, auto_bind: bool, scratch_guard: u64) -> Result<Loaded> {
    let options = || {
        let mut o = Options::new("model").for_target(&crate::check::exec_layout_target());
        o.scratch_guard = scratch_guard;
        o
    };
    let mut sets = vec![];
    for ds in &case.data_sets {
        let ins: Vec<TestValue> = ds
            .inputs
            .iter()
            .map(|p| testdata::load_value_pb(p))
            .collect::<Result<_>>()?;
        let ins: Vec<Tensor> = crate::check::flatten_inputs(ins)?;
        let outs: Vec<TestValue> = ds
            .outputs
            .iter()
            .map(|p| testdata::load_value_pb(p))
            .collect::<Result<_>>()?;
        sets.push((ins, outs));
    }
    if sets.is_empty() {
        return Err(Error::Usage("no test_data_set_* folder".into()));
    }
    let d = Tolerance::default();
    let tol = Tolerance {
        rtol: tags.rtol.unwrap_or(d.rtol),
        atol: tags.atol.unwrap_or(d.atol),
        stol: 0.0,
    };
    let graph = compile::load_graph(&case.model)?;
    let mut units = vec![];
    let free = compile::compile_graph(graph.clone(), &options());
    let bind = tags.bind || (auto_bind && matches!(free, Err(Error::NeedsValue { .. })));
    if bind {
        if free.is_ok() {
            return Err(Error::Usage(
                "the manifest tags this case `bind`, but it compiles with its inputs free".into(),
            ));
        }
        for (ins, outs) in sets {
            let (compiled, mask) = compile::compile_binding(&graph, &ins, &options())?;
            let mask = mask.unwrap_or_default();
            let free: Vec<Tensor> = ins
                .iter()
                .enumerate()
                .filter(|(k, _)| !mask.get(*k).copied().unwrap_or(false))
                .map(|(_, t)| t.clone())
                .collect();
            let prep = run::prepare_compiled(&compiled, &free)?;
            units.push(Unit {
                compiled,
                reqs: vec![(prep, outs)],
            });
        }
    } else {
        let compiled = free?;
        let mut reqs = vec![];
        for (ins, outs) in sets {
            reqs.push((run::prepare_compiled(&compiled, &ins)?, outs));
        }
        units.push(Unit { compiled, reqs });
    }
    Ok(Loaded {
        units,
        tol,
        bound: bind,
    })
}

/// Compare one unit's results with the references (and, when given, with interp's bytes).
fn judge(
    unit: &Unit,
    results: Vec<exec::RunResult>,
    tol: Tolerance,
    interp: Option<&[Vec<Vec<u8>>]>,
) -> Verdict {
    let p = &unit.compiled.program;
    for (k, (r, (prep, want))) in results.into_iter().zip(&unit.reqs).enumerate() {
        if let Some(ib) = interp {
            if let Some(ref_outs) = ib.get(k) {
                for (i, (g, w)) in r.outputs.iter().zip(ref_outs).enumerate() {
                    if g != w && !p.outputs[i].elem.same_up_to_nan(g, w) {
                        return Verdict::Fail(format!("output {i} is not bit-identical to interp"));
                    }
                }
            }
        }
        let got = match run::outputs_compiled(&unit.compiled, prep, r) {
            Ok(g) => g,
            Err(e) => return Verdict::Fail(e.to_string()),
        };
        if got.len() != want.len() {
            return Verdict::Fail(format!("{} outputs, {} expected", got.len(), want.len()));
        }
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            let w = match crate::check::reference_tensor(p, i, g, w) {
                Ok(w) => w,
                Err(m) => return Verdict::Fail(format!("output {i}: {m}")),
            };
            if let Err(m) = compare(g, &w, tol) {
                return Verdict::Fail(format!("output {i}: {m}"));
            }
        }
    }
    Verdict::Pass
}

fn run_direct(unit: &Unit, b: Backend) -> Result<Vec<exec::RunResult>> {
    let p = &unit.compiled.program;
    let loaded = run::load(p, b)?;
    let refs: Vec<&Prepared> = unit.reqs.iter().map(|r| &r.0).collect();
    run::execute(p, &loaded, &refs)
}

/// Run every case under `root` on `backends`; `progress` gets a line per finished stage.
/// `scratch_guard`: `Options::scratch_guard` for every compile.
#[allow(clippy::too_many_arguments)]
pub fn run_suite(
    root: &Path,
    manifest: &Manifest,
    backends: &[Backend],
    batch: usize,
    auto_bind: bool,
    scratch_guard: u64,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<CaseReport>> {
    let cases = testdata::find_cases(root)?;
    let mut reports = vec![];
    let mut loaded: Vec<Option<Loaded>> = vec![];
    for c in &cases {
        let name = c
            .dir
            .strip_prefix(root)
            .unwrap_or(&c.dir)
            .display()
            .to_string();
        let short = name.rsplit('/').next().unwrap_or(&name).to_string();
        let tags = manifest.tags(&short);
        let mut rep = CaseReport {
            name,
            op: case_op(c),
            bound: tags.bind,
            verdicts: BTreeMap::new(),
        };
        let l = load_case(c, &tags, auto_bind, scratch_guard);
        if let Ok(l) = &l {
            rep.bound = l.bound;
        }
        match (&tags.skip, l) {
            (Some(reason), Ok(l)) => {
                // Must not pass on jit.
                let passes = l.units.iter().all(|u| {
                    run_direct(u, Backend::Jit)
                        .map(|r| judge(u, r, l.tol, None) == Verdict::Pass)
                        .unwrap_or(false)
                });
                for b in backends {
                    rep.verdicts.insert(
                        *b,
                        if passes {
                            Verdict::Fail(format!("unexpected pass (manifest: skip: {reason})"))
                        } else {
                            Verdict::Skip(reason.clone())
                        },
                    );
                }
                loaded.push(None);
            }
            (Some(reason), Err(_)) => {
                for b in backends {
                    rep.verdicts.insert(*b, Verdict::Skip(reason.clone()));
                }
                loaded.push(None);
            }
            (None, Err(e)) => {
                for b in backends {
                    rep.verdicts.insert(*b, Verdict::Fail(e.to_string()));
                }
                loaded.push(None);
            }
            (None, Ok(l)) => loaded.push(Some(l)),
        }
        reports.push(rep);
    }
    progress(&format!("{} cases loaded and compiled", cases.len()));
    // interp first: its bytes are the reference for the other backends.
    let mut interp_bytes: Vec<Vec<Vec<Vec<Vec<u8>>>>> = vec![vec![]; cases.len()];
    for (i, l) in loaded.iter().enumerate() {
        let Some(l) = l else { continue };
        let mut verdict = Verdict::Pass;
        for u in &l.units {
            match run_direct(u, Backend::Interp) {
                Ok(r) => {
                    interp_bytes[i].push(r.iter().map(|x| x.outputs.clone()).collect());
                    let v = judge(u, r, l.tol, None);
                    if verdict == Verdict::Pass {
                        verdict = v;
                    }
                }
                Err(e) => {
                    interp_bytes[i].push(vec![]);
                    verdict = Verdict::Fail(e.to_string());
                }
            }
        }
        if backends.contains(&Backend::Interp) {
            reports[i].verdicts.insert(Backend::Interp, verdict);
        }
    }
    progress("interp done");
    if backends.contains(&Backend::Jit) {
        for (i, l) in loaded.iter().enumerate() {
            let Some(l) = l else { continue };
            let mut verdict = Verdict::Pass;
            for (k, u) in l.units.iter().enumerate() {
                let v = match run_direct(u, Backend::Jit) {
                    Ok(r) => judge(u, r, l.tol, Some(&interp_bytes[i][k])),
                    Err(e) => Verdict::Fail(e.to_string()),
                };
                if verdict == Verdict::Pass {
                    verdict = v;
                }
            }
            reports[i].verdicts.insert(Backend::Jit, verdict);
        }
        progress("jit done");
    }
    for (b, nb) in [
        (Backend::Object, NativeBackend::Object),
        (Backend::C, NativeBackend::C),
        (Backend::Rust, NativeBackend::Rust),
    ] {
        if !backends.contains(&b) {
            continue;
        }
        // (case, unit) pairs, batched.
        let mut work: Vec<(usize, usize)> = vec![];
        for (i, l) in loaded.iter().enumerate() {
            if let Some(l) = l {
                work.extend((0..l.units.len()).map(|k| (i, k)));
            }
        }
        let mut verdicts: Vec<Verdict> = vec![Verdict::Pass; cases.len()];
        for chunk in work.chunks(batch.max(1)) {
            let mut objects: Vec<Option<Vec<u8>>> = vec![];
            let mut obj_err: Vec<Option<String>> = vec![];
            let reqs: Vec<Vec<RunRequest>> = chunk
                .iter()
                .map(|(i, k)| {
                    let u = &loaded[*i].as_ref().expect("loaded").units[*k];
                    u.reqs.iter().map(|r| r.0.req.clone()).collect()
                })
                .collect();
            for (i, k) in chunk {
                let u = &loaded[*i].as_ref().expect("loaded").units[*k];
                if b == Backend::Object {
                    match crate::backend::cranelift::object::emit_object(
                        &u.compiled.program,
                        &kiln_targets::Target::host(),
                    ) {
                        Ok(o) => {
                            objects.push(Some(o));
                            obj_err.push(None);
                        }
                        Err(e) => {
                            objects.push(None);
                            obj_err.push(Some(e.to_string()));
                        }
                    }
                } else {
                    objects.push(None);
                    obj_err.push(None);
                }
            }
            let items: Vec<exec::BatchItem> = chunk
                .iter()
                .enumerate()
                .filter(|(j, _)| obj_err[*j].is_none())
                .map(|(j, (i, k))| {
                    let u = &loaded[*i].as_ref().expect("loaded").units[*k];
                    (
                        &u.compiled.program,
                        objects[j].as_deref(),
                        reqs[j].as_slice(),
                    )
                })
                .collect();
            let results = exec::run_native_batch(nb, &items)?;
            let mut it = results.into_iter();
            for (j, (i, k)) in chunk.iter().enumerate() {
                let l = loaded[*i].as_ref().expect("loaded");
                let v = match &obj_err[j] {
                    Some(e) => Verdict::Fail(e.clone()),
                    None => match it.next() {
                        Some(Ok(r)) => judge(&l.units[*k], r, l.tol, Some(&interp_bytes[*i][*k])),
                        Some(Err(e)) => Verdict::Fail(e.to_string()),
                        None => Verdict::Fail("no result".into()),
                    },
                };
                if verdicts[*i] == Verdict::Pass {
                    verdicts[*i] = v;
                }
            }
            progress(&format!("{b}: {} of {} programs", chunk.len(), work.len()));
        }
        for (i, l) in loaded.iter().enumerate() {
            if l.is_some() {
                reports[i].verdicts.insert(b, verdicts[i].clone());
            }
        }
    }
    Ok(reports)
}

/// Counts per backend: (passed, failed, skipped).
pub fn counts(reports: &[CaseReport], b: Backend) -> (usize, usize, usize) {
    let mut c = (0, 0, 0);
    for r in reports {
        match r.verdicts.get(&b) {
            Some(Verdict::Pass) => c.0 += 1,
            Some(Verdict::Fail(_)) => c.1 += 1,
            Some(Verdict::Skip(_)) => c.2 += 1,
            None => {}
        }
    }
    c
}

/// The markdown report: totals per backend and suite, then per op.
pub fn report_markdown(
    reports: &[CaseReport],
    backends: &[Backend],
    seconds: f64,
    source: &str,
) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Conformance\n");
    let _ = writeln!(
        s,
        "Generated by `kiln conformance` ({source}); wall time {seconds:.0} s on this machine. \
         A case passes on a backend when its outputs match the ONNX reference within the \
         case's tolerance and, for jit, object, c and rust, are bit-identical to kir::interp. \
         `bound` cases need a shape-determining input's value at compile time and run with \
         their integer inputs bound (`kiln compile --bind`); they are counted separately. \
         Every case that does not pass is in `tests/conformance/manifest.txt` with a reason.\n"
    );
    let suites: Vec<String> = {
        let mut v: Vec<String> = reports
            .iter()
            .map(|r| r.name.split('/').next().unwrap_or("").to_string())
            .collect();
        v.sort();
        v.dedup();
        v
    };
    let _ = write!(s, "| suite | cases | inputs |");
    for b in backends {
        let _ = write!(s, " {b} |");
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "|---|---:|---|{}", "---:|".repeat(backends.len()));
    for suite in &suites {
        for bound in [false, true] {
            let rs: Vec<&CaseReport> = reports
                .iter()
                .filter(|r| r.name.split('/').next() == Some(suite) && r.bound == bound)
                .collect();
            if rs.is_empty() {
                continue;
            }
            let _ = write!(
                s,
                "| {suite} | {} | {} |",
                rs.len(),
                if bound { "bound" } else { "free" }
            );
            for b in backends {
                let p = rs
                    .iter()
                    .filter(|r| r.verdicts.get(b) == Some(&Verdict::Pass))
                    .count();
                let _ = write!(s, " {p} |");
            }
            let _ = writeln!(s);
        }
    }
    let _ = writeln!(
        s,
        "\n## Data-dependent shapes\n\n\
         NonZero, Unique, NonMaxSuppression, Compress, StringSplit and TfIdfVectorizer produce \
         outputs whose shape depends on input values, and Loop with a data-dependent trip count \
         produces outputs whose length does. Kiln's artifact has a static memory plan and an \
         entry whose output sizes follow from the dims alone, so these get a clear compile-time \
         error naming the node. A sound design exists but is not built: a compile-time upper \
         bound (NonZero: the input's element count; Unique: the same; NonMaxSuppression: \
         max_output_boxes_per_class x classes x batches) sizes the buffers, and the entry \
         returns the actual length in an extra `int64_t` output per such tensor, which every \
         consumer reads as a run-time dim. It needs run-time dims inside the graph (not only \
         at the inputs), which the IR does not have yet.\n"
    );
    let _ = writeln!(s, "\n## Per op\n");
    let _ = write!(s, "| op | cases |");
    for b in backends {
        let _ = write!(s, " {b} |");
    }
    let _ = writeln!(s, " not passing (first reason) |");
    let _ = writeln!(s, "|---|---:|{}---|", "---:|".repeat(backends.len()));
    let mut ops: BTreeMap<String, Vec<&CaseReport>> = BTreeMap::new();
    for r in reports {
        let key = if r.name.ends_with("_expanded") {
            format!("{} (function body)", r.op)
        } else {
            r.op.clone()
        };
        ops.entry(key).or_default().push(r);
    }
    for (op, rs) in ops {
        let _ = write!(s, "| {op} | {} |", rs.len());
        for b in backends {
            let p = rs
                .iter()
                .filter(|r| r.verdicts.get(b) == Some(&Verdict::Pass))
                .count();
            let _ = write!(s, " {p} |");
        }
        let why = rs
            .iter()
            .find_map(|r| {
                r.verdicts.values().find_map(|v| match v {
                    Verdict::Skip(m) | Verdict::Fail(m) => Some(m.clone()),
                    Verdict::Pass => None,
                })
            })
            .unwrap_or_default();
        let why: String = why.replace('|', "/").chars().take(120).collect();
        let _ = writeln!(s, " {why} |");
    }
    s
}

/// A manifest that describes the results: `bind` for every bound case, `skip: reason` (the
/// first failure) for every case that did not pass on every backend. Used to write
/// `tests/conformance/manifest.txt`, which is then reviewed and committed.
pub fn manifest_from(reports: &[CaseReport], tolerances: &Manifest, header: &str) -> String {
    let mut s = String::from(header);
    // Tolerance rules are kept as they were written (they are reviewed by hand).
    for (p, t) in &tolerances.rules {
        let _ = write!(s, "{p}");
        if let Some(r) = t.rtol {
            let _ = write!(s, " rtol={r}");
        }
        if let Some(a) = t.atol {
            let _ = write!(s, " atol={a}");
        }
        let _ = writeln!(s);
    }
    for r in reports {
        let short = r.name.rsplit('/').next().unwrap_or(&r.name);
        let fail = r.verdicts.values().find_map(|v| match v {
            Verdict::Fail(m) | Verdict::Skip(m) => Some(m.clone()),
            Verdict::Pass => None,
        });
        if !r.bound && fail.is_none() {
            continue;
        }
        let _ = write!(s, "{short}");
        if r.bound {
            let _ = write!(s, " bind");
        }
        if let Some(m) = fail {
            let m = m
                .strip_prefix("unexpected pass (manifest: skip: ")
                .unwrap_or(&m);
            let one: String = m.replace(['\n', '\r'], " ").chars().take(160).collect();
            let _ = write!(s, " skip: {one}");
        }
        let _ = writeln!(s);
    }
    s
}
