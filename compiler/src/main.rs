//! The `kiln` command line. Every error is one line on stderr and exit status 2; `kiln check`
//! exits 1 when a case failed.

use clap::{Parser, Subcommand};
use kiln::check::{self, Outcome, Tolerance};
use kiln::compile::{self, Emit, Options};
use kiln::run::{self, Backend};
use kiln::{npy, Error, Result};
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(
    name = "kiln",
    version,
    about = "Ahead-of-time compiler from ONNX models to native code"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(clap::Args, Clone, Default)]
struct Spec {
    /// Fix a symbolic dim: NAME=VALUE (repeatable).
    #[arg(long = "dim", value_name = "NAME=VALUE")]
    dims: Vec<String>,
    /// Fix a graph input's value at compile time: NAME=FILE.npy (repeatable).
    #[arg(long = "bind", value_name = "NAME=FILE.npy")]
    binds: Vec<String>,
    /// Turn a graph pass off (const-fold, dce, fold-bn, fuse, fuse-elementwise, transpose-views,
    /// layout).
    #[arg(long = "disable-pass", value_name = "PASS")]
    disabled: Vec<String>,
    /// Keep inputs that have an initializer (a default value) as inputs; by default the
    /// initializer is used as a constant.
    #[arg(long)]
    keep_default_inputs: bool,
    /// Largest tensor the model may declare or compute, in bytes (K/M/G/T suffixes).
    #[arg(long, value_name = "BYTES", default_value = "16G")]
    max_tensor_bytes: String,
    /// Most nodes after inlining functions and unrolling control flow.
    #[arg(long, value_name = "N", default_value_t = 4 << 20)]
    max_nodes: usize,
    /// Deepest nesting of subgraphs (If/Loop/Scan bodies).
    #[arg(long, value_name = "N", default_value_t = 64)]
    max_depth: usize,
    /// Largest value constant folding computes at compile time, in bytes (bigger ones are
    /// computed at run time).
    #[arg(long, value_name = "BYTES", default_value = "256M")]
    max_fold_bytes: String,
    /// Leave this many unused bytes after every scratch tensor, and have the C output poison
    /// the scratch it is not using for AddressSanitizer (a testing aid; see docs/fuzzing.md).
    #[arg(long, value_name = "BYTES", default_value = "0")]
    scratch_guard: String,
}

#[derive(Subcommand)]
enum Cmd {
    /// Compile a model into an object file, C or Rust source, plus a C header.
    Compile {
        model: PathBuf,
        /// object, c or rust
        #[arg(long, default_value = "object")]
        emit: String,
        /// Prefix of every exported symbol (default: the model file's stem).
        #[arg(long)]
        name: Option<String>,
        /// Output directory.
        #[arg(short = 'o', long = "out", default_value = ".")]
        out: PathBuf,
        /// Target triple or preset (see `kiln targets`); default host.
        #[arg(long, default_value = "host")]
        target: String,
        #[command(flatten)]
        spec: Spec,
    },
    /// Run test cases (ONNX backend-test layout) and compare with their expected outputs.
    Check {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// interp, jit, object, c, rust or all (comma-separated).
        #[arg(long, default_value = "jit")]
        backend: String,
        #[arg(long, default_value_t = 1e-3)]
        rtol: f64,
        #[arg(long, default_value_t = 1e-7)]
        atol: f64,
        /// Tolerance relative to the largest reference magnitude of each output.
        #[arg(long, default_value_t = 1e-6)]
        stol: f64,
        /// When a case needs an input's value at compile time (a Reshape's shape fed as a
        /// graph input), bind its integer inputs from each data set (`kiln compile --bind`).
        #[arg(long)]
        bind_inputs: bool,
        /// Build object/c/rust programs for this target (triple or preset) and run them through
        /// an emulator: KILN_EXEC_CC, KILN_EXEC_RUNNER (default qemu-user; see docs/cross.md).
        #[arg(long)]
        target: Option<String>,
        /// Unused bytes after every scratch tensor, poisoned for AddressSanitizer in the C
        /// output (with `KILN_EXEC_CFLAGS=-fsanitize=address`; see docs/fuzzing.md).
        #[arg(long, value_name = "BYTES", default_value = "0")]
        scratch_guard: String,
    },
    /// Run a conformance suite (ONNX backend-test layout) against a manifest on every backend.
    Conformance {
        /// The suite's root (e.g. target/conformance, holding node/, simple/, ...).
        root: PathBuf,
        /// The manifest of expected failures and tags.
        #[arg(long, default_value = "tests/conformance/manifest.txt")]
        manifest: PathBuf,
        #[arg(long, default_value = "all")]
        backend: String,
        /// Programs per C/Rust/object compiler invocation.
        #[arg(long, default_value_t = 200)]
        batch: usize,
        /// Write the markdown report here (e.g. docs/conformance.md).
        #[arg(long)]
        report: Option<PathBuf>,
        /// Print every case's line, not only the failures.
        #[arg(long)]
        verbose: bool,
        /// Bind inputs of untagged cases that need them and write a manifest describing the
        /// results (bind tags, skip reasons) to this path, for review.
        #[arg(long)]
        write_manifest: Option<PathBuf>,
        /// `--scratch-guard` for every case (with `KILN_EXEC_CFLAGS=-fsanitize=address`).
        #[arg(long, value_name = "BYTES", default_value = "0")]
        scratch_guard: String,
    },
    /// Run a model on .npy inputs and write .npy outputs.
    Run {
        model: PathBuf,
        /// NAME=FILE.npy for each input (or just FILE.npy, in input order).
        #[arg(long = "input", short = 'i', value_name = "NAME=FILE.npy")]
        inputs: Vec<String>,
        #[arg(short = 'o', long = "out", default_value = ".")]
        out: PathBuf,
        #[arg(long, default_value = "jit")]
        backend: String,
        /// Run on this target through an emulator (see `kiln check --target`).
        #[arg(long)]
        target: Option<String>,
        #[command(flatten)]
        spec: Spec,
    },
    /// Print the graph after optimisation, FLOPs and the memory plan.
    Inspect {
        model: PathBuf,
        /// Write a Graphviz picture of the graph.
        #[arg(long)]
        dot: Option<PathBuf>,
        /// Also print the kir program.
        #[arg(long)]
        kir: bool,
        #[command(flatten)]
        spec: Spec,
    },
    /// Convert a tensor file: ONNX TensorProto (.pb) or NumPy (.npy) to .npy or .pb.
    Convert { input: PathBuf, output: PathBuf },
    /// List the supported ops with their opset ranges.
    Ops,
    /// List target presets and what each emits.
    Targets,
    /// Latency of Kiln's object code against onnxruntime and tract (pinned, from
    /// scripts/bench-env.sh) on model folders (model.onnx + test_data_set_0), interleaved in
    /// rounds; also compile time, code, weight and scratch sizes.
    Bench {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Tile the inputs to B rows along a symbolic dim 0.
        #[arg(long)]
        batch: Option<u64>,
        /// Rounds per engine (interleaved).
        #[arg(long, default_value_t = 10)]
        rounds: usize,
        /// Length of one engine's round, in milliseconds.
        #[arg(long = "round-ms", default_value_t = 200.0)]
        round_ms: f64,
        /// Leave tract out.
        #[arg(long = "no-tract")]
        no_tract: bool,
        /// Turn a graph pass off in Kiln's compiles (repeatable; see `compile --help`).
        #[arg(long = "disable-pass", value_name = "PASS")]
        disabled: Vec<String>,
        /// Compile for this target preset instead of the host (same triple, features this
        /// CPU has; e.g. x86_64-v3 to measure AVX2 code on an AVX-512 machine).
        #[arg(long)]
        target: Option<String>,
        /// Threads for Kiln (NAME_run_parallel with a pool) and onnxruntime (intra-op);
        /// tract stays on one.
        #[arg(long, default_value_t = 1)]
        threads: u32,
    },
    /// Build the runtime shim (libkiln_shim.a, .rlib and kiln_shim.h) for a target.
    Shim {
        #[arg(short = 'o', long = "out", default_value = ".")]
        out: PathBuf,
        /// Target triple (default: host).
        #[arg(long)]
        target: Option<String>,
    },
}

fn main() {
    let cli = Cli::parse();
    let code = match real_main(cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kiln: error: {}", e.to_string().replace('\n', " "));
            2
        }
    };
    std::process::exit(code);
}

fn options(name: &str, spec: &Spec) -> Result<Options> {
    let mut o = Options::new(name);
    for d in &spec.dims {
        let (n, v) = d
            .split_once('=')
            .ok_or_else(|| Error::Usage(format!("--dim {d}: expected NAME=VALUE")))?;
        let v: i64 = v
            .parse()
            .map_err(|_| Error::Usage(format!("--dim {d}: '{v}' is not an integer")))?;
        o.dims.push((n.to_string(), v));
    }
    for b in &spec.binds {
        let (n, f) = b
            .split_once('=')
            .ok_or_else(|| Error::Usage(format!("--bind {b}: expected NAME=FILE.npy")))?;
        o.binds.push((n.to_string(), npy::read_npy(Path::new(f))?));
    }
    o.disabled = spec.disabled.clone();
    o.keep_default_inputs = spec.keep_default_inputs;
    let bytes = |flag: &str, v: &str| {
        kiln::limits::parse_bytes(v).map_err(|e| Error::Usage(format!("--{flag}: {e}")))
    };
    o.limits = kiln::Limits {
        max_tensor_bytes: bytes("max-tensor-bytes", &spec.max_tensor_bytes)?,
        max_nodes: spec.max_nodes,
        max_depth: spec.max_depth,
        max_fold_bytes: bytes("max-fold-bytes", &spec.max_fold_bytes)?,
    };
    o.scratch_guard = bytes("scratch-guard", &spec.scratch_guard)?;
    Ok(o)
}

fn default_name(model: &Path) -> String {
    let stem = model
        .parent()
        .filter(|_| model.file_stem().is_some_and(|s| s == "model"))
        .and_then(|p| p.file_name())
        .or(model.file_stem())
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    kiln::backend::ident(&stem)
}

/// `--target` of `kiln check` and `kiln run`: validated, then handed to the native runner
/// through `KILN_EXEC_TARGET` (set before any thread starts).
fn set_exec_target(target: Option<&str>) -> Result<()> {
    if let Some(t) = target {
        let parsed = kiln_targets::Target::parse(t).map_err(Error::Usage)?;
        kiln::backend::exec::CrossExec::for_target(&parsed)?;
        std::env::set_var("KILN_EXEC_TARGET", t);
    }
    Ok(())
}

fn real_main(cli: Cli) -> Result<i32> {
    match cli.cmd {
        Cmd::Compile {
            model,
            emit,
            name,
            out,
            target,
            spec,
        } => {
            let emit = Emit::parse(&emit)?;
            let target = kiln_targets::Target::parse(&target).map_err(Error::Usage)?;
            if emit == Emit::Object && !target.cranelift {
                return Err(Error::Usage(format!(
                    "--emit object is not available for {}: Cranelift cannot generate code for it; \
                     use --emit c or --emit rust and that target's compiler",
                    target.name
                )));
            }
            let name = name.unwrap_or_else(|| default_name(&model));
            let opts = options(&name, &spec)?.for_target(&target);
            let c = compile::compile_file(&model, &opts)?;
            let files = compile::emit(&c.program, emit, &target)?;
            for p in compile::write_files(&out, &files)? {
                println!("wrote {}", p.display());
            }
            Ok(0)
        }
        Cmd::Check {
            paths,
            backend,
            rtol,
            atol,
            stol,
            bind_inputs,
            target,
            scratch_guard,
        } => {
            set_exec_target(target.as_deref())?;
            let scratch_guard = kiln::limits::parse_bytes(&scratch_guard)
                .map_err(|e| Error::Usage(format!("--scratch-guard: {e}")))?;
            let backends = Backend::parse_list(&backend)?;
            let refs: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
            let results = check::check_paths(
                &refs,
                &backends,
                Tolerance { rtol, atol, stol },
                bind_inputs,
                scratch_guard,
                &mut |r| println!("{}", r.line()),
            )?;
            println!("{}", check::summary(&results));
            let failed = results
                .iter()
                .any(|r| matches!(r.outcome, Outcome::Fail(_)));
            Ok(if failed { 1 } else { 0 })
        }
        Cmd::Conformance {
            root,
            manifest,
            backend,
            batch,
            report,
            verbose,
            write_manifest,
            scratch_guard,
        } => {
            let scratch_guard = kiln::limits::parse_bytes(&scratch_guard)
                .map_err(|e| Error::Usage(format!("--scratch-guard: {e}")))?;
            use kiln::conformance::{self as conf, Verdict};
            let backends = Backend::parse_list(&backend)?;
            let text = std::fs::read_to_string(&manifest).map_err(|e| Error::io(&manifest, e))?;
            let m = conf::Manifest::parse(&text)?;
            let t0 = std::time::Instant::now();
            let m = if write_manifest.is_some() {
                m.tolerances_only()
            } else {
                m
            };
            let reports = conf::run_suite(
                &root,
                &m,
                &backends,
                batch,
                write_manifest.is_some(),
                scratch_guard,
                &mut |s| eprintln!("[{:6.1} s] {s}", t0.elapsed().as_secs_f64()),
            )?;
            let secs = t0.elapsed().as_secs_f64();
            let mut failed = 0;
            for r in &reports {
                for (b, v) in &r.verdicts {
                    match v {
                        Verdict::Fail(m) => {
                            failed += 1;
                            println!("FAIL {} [{b}] {}", r.name, m.replace('\n', " "));
                        }
                        Verdict::Pass if verbose => println!("PASS {} [{b}]", r.name),
                        Verdict::Skip(m) if verbose => println!("SKIP {} [{b}] {m}", r.name),
                        _ => {}
                    }
                }
            }
            let (mut p, mut f, mut s) = (0, 0, 0);
            for b in &backends {
                let (bp, bf, bs) = conf::counts(&reports, *b);
                println!("{b}: {bp} passed, {bf} failed, {bs} skipped");
                p += bp;
                f += bf;
                s += bs;
            }
            if let Some(path) = report {
                let md = conf::report_markdown(
                    &reports,
                    &backends,
                    secs,
                    &format!("{} cases", reports.len()),
                );
                let dir = path
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(Path::new("."));
                let name = path
                    .file_name()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or("conformance.md".into());
                compile::write_files(dir, &[(name, md.into_bytes())])?;
            }
            if let Some(path) = write_manifest {
                let header = "# Conformance manifest: one case per line, `NAME [bind] [rtol=X] [atol=X] [skip: reason]`.\n\
                              # `bind`: the case needs a shape-determining input's value at compile time; it runs with\n\
                              # that input bound from its data set. `skip`: expected not to pass, with the reason.\n\
                              # Written by `kiln conformance --write-manifest` and reviewed; the runner fails on a\n\
                              # skipped case that passes and on a `bind` case that compiles with its inputs free.\n";
                let text = conf::manifest_from(&reports, &m, header);
                compile::write_atomic(&path, text.as_bytes())?;
                println!("wrote {}", path.display());
            }
            println!("wall time {secs:.0} s");
            println!("{p} passed, {f} failed, {s} skipped");
            Ok(if failed > 0 { 1 } else { 0 })
        }
        Cmd::Run {
            model,
            inputs,
            out,
            backend,
            target,
            spec,
        } => {
            set_exec_target(target.as_deref())?;
            let backends = Backend::parse_list(&backend)?;
            let [b] = backends.as_slice() else {
                return Err(Error::Usage("kiln run takes one --backend".into()));
            };
            let exec = kiln::backend::exec::exec_target()?;
            let opts = options("model", &spec)?.for_target(&exec);
            let c = compile::compile_file(&model, &opts)?;
            let p = &c.program;
            let mut tensors = vec![None; p.inputs.len()];
            for (k, arg) in inputs.iter().enumerate() {
                let (name, file) = match arg.split_once('=') {
                    Some((n, f)) => (Some(n), f),
                    None => (None, arg.as_str()),
                };
                let idx = match name {
                    Some(n) => p.inputs.iter().position(|i| i.name == n).ok_or_else(|| {
                        let names: Vec<&str> = p.inputs.iter().map(|i| i.name.as_str()).collect();
                        Error::Usage(format!(
                            "the model has no input '{n}' (inputs: {})",
                            names.join(", ")
                        ))
                    })?,
                    None => k,
                };
                if idx >= tensors.len() {
                    return Err(Error::Usage(format!(
                        "too many inputs: the model takes {}",
                        p.inputs.len()
                    )));
                }
                tensors[idx] = Some(npy::read_npy(Path::new(file))?);
            }
            let tensors: Vec<_> = tensors
                .into_iter()
                .enumerate()
                .map(|(i, t)| {
                    t.ok_or_else(|| {
                        Error::Usage(format!(
                            "input '{}' is missing (--input {}=FILE.npy)",
                            p.inputs[i].name, p.inputs[i].name
                        ))
                    })
                })
                .collect::<Result<_>>()?;
            let prep = run::prepare_compiled(&c, &tensors)?;
            let loaded = run::load(p, *b)?;
            let r = run::execute(p, &loaded, &[&prep])?
                .pop()
                .ok_or_else(|| Error::Internal("no result".into()))?;
            let outs = run::outputs_compiled(&c, &prep, r)?;
            std::fs::create_dir_all(&out).map_err(|e| Error::io(&out, e))?;
            let names: Vec<String> = p.outputs.iter().map(|o| o.name.clone()).collect();
            let idents = kiln::backend::unique_idents(&names);
            let mut files = vec![];
            for (t, n) in outs.iter().zip(&idents) {
                files.push((format!("{n}.npy"), npy::to_npy_bytes(t)));
            }
            for p in compile::write_files(&out, &files)? {
                println!("wrote {}", p.display());
            }
            Ok(0)
        }
        Cmd::Inspect {
            model,
            dot,
            kir,
            spec,
        } => {
            let opts =
                options(&default_name(&model), &spec)?.for_target(&kiln_targets::Target::host());
            let c = compile::compile_file(&model, &opts)?;
            print!("{}", kiln::inspect::report(&c));
            if kir {
                print!("{}", kiln::kir::print::program(&c.program));
            }
            if let Some(d) = dot {
                let text = kiln::inspect::dot(&c);
                compile::write_files(
                    d.parent()
                        .filter(|p| !p.as_os_str().is_empty())
                        .unwrap_or(Path::new(".")),
                    &[(
                        d.file_name()
                            .map(|s| s.to_string_lossy().into_owned())
                            .unwrap_or("graph.dot".into()),
                        text.into_bytes(),
                    )],
                )?;
                println!("wrote {}", d.display());
            }
            Ok(0)
        }
        Cmd::Convert { input, output } => {
            let is_pb = |p: &Path| p.extension().is_some_and(|e| e == "pb");
            let t = if is_pb(&input) {
                kiln::testdata::load_tensor_pb(&input)?
            } else {
                npy::read_npy(&input)?
            };
            let bytes = if is_pb(&output) {
                use prost::Message;
                kiln::onnx::tensor_to_proto(&t).encode_to_vec()
            } else {
                npy::to_npy_bytes(&t)
            };
            let dir = output
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let name = output
                .file_name()
                .ok_or_else(|| Error::Usage(format!("{}: not a file name", output.display())))?
                .to_string_lossy()
                .into_owned();
            compile::write_files(dir, &[(name, bytes)])?;
            Ok(0)
        }
        Cmd::Ops => {
            for e in kiln::ops::registry() {
                let dom = if e.domain.is_empty() {
                    "ai.onnx"
                } else {
                    e.domain
                };
                println!("{dom}::{} opset {}+", e.name, e.since);
            }
            println!("{} ops", kiln::ops::registry().len());
            Ok(0)
        }
        Cmd::Targets => {
            println!(
                "{:<30} {:<32} {:<6} {:<16} features",
                "name", "triple", "format", "emits"
            );
            for t in kiln_targets::presets() {
                println!(
                    "{:<30} {:<32} {:<6} {:<16} {}",
                    t.name,
                    t.triple.to_string(),
                    t.object_format.name(),
                    t.emits().join(", "),
                    if t.features.is_empty() {
                        "-".to_string()
                    } else {
                        t.features.join(",")
                    }
                );
            }
            Ok(0)
        }
        Cmd::Bench {
            paths,
            batch,
            rounds,
            round_ms,
            no_tract,
            disabled,
            target,
            threads,
        } => {
            let o = kiln::bench::BenchOptions {
                batch,
                rounds,
                round_ms,
                tract: !no_tract,
                disabled,
                target,
                threads,
            };
            print!("{}", kiln::bench::run(&paths, &o)?);
            Ok(0)
        }
        Cmd::Shim { out, target } => {
            let libs = kiln::backend::shim::build_shim(target.as_deref(), &out)?;
            let _ = libs;
            println!("wrote the shim into {}", out.display());
            Ok(0)
        }
    }
}
