#!/usr/bin/env bash
# Kiln's fuzzing (cargo fuzz / libFuzzer; targets in fuzz/, entry points in kiln::fuzzing).
#
#   scripts/fuzz.sh ci SECONDS        build every target, replay the kept crash inputs
#                                     (tests/fuzz-regressions/TARGET), run each for SECONDS
#   scripts/fuzz.sh run TARGET SECONDS [libFuzzer args...]   one long run (one core)
#   scripts/fuzz.sh build             just build
#   scripts/fuzz.sh seeds             (re)write the seed corpora
#
# Installs a pinned cargo-fuzz into target/tools. The toolchain is stable Rust: cargo fuzz
# needs nightly flags, which RUSTC_BOOTSTRAP=1 allows. No sanitizer (Kiln is safe Rust; the
# JIT's code is checked against the interpreter instead); overflow checks and debug
# assertions are on. Only Kiln's crates are coverage-instrumented (scripts/fuzz-rustc.sh).
# Working corpora live in target/fuzz-corpus/TARGET, seeded with every model.onnx of the
# conformance data (scripts/conformance-data.sh) and examples/models. A crash leaves its input
# in target/fuzz-artifacts/TARGET: keep it in tests/fuzz-regressions/TARGET once fixed
# (compiler/tests/fuzz_regressions.rs replays them in `cargo test`).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
CARGO_FUZZ_VERSION=0.13.1
TARGETS="onnx_load mutate_compile jit_vs_interp"
tools=$root/target/tools
fuzz_target_dir=$root/target/fuzz
corpus=$root/target/fuzz-corpus
artifacts=$root/target/fuzz-artifacts
export RUSTC_BOOTSTRAP=1
export RUSTC_WRAPPER=$root/scripts/fuzz-rustc.sh

install() {
  if ! "$tools/bin/cargo-fuzz" --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
    cargo install --quiet --locked --root "$tools" cargo-fuzz --version "$CARGO_FUZZ_VERSION"
  fi
}

cargo_fuzz() {
  (cd "$root/fuzz" && "$tools/bin/cargo-fuzz" "$@")
}

build() {
  install
  # --debug-assertions: overflow checks and debug_assert!s, as in `cargo test`.
  cargo_fuzz build --sanitizer none --debug-assertions --target-dir "$fuzz_target_dir"
}

bin() {
  echo "$fuzz_target_dir/$(rustc -vV | sed -n 's/^host: //p')/release/$1"
}

seeds() {
  local models=()
  if [ -d target/conformance ]; then
    while IFS= read -r m; do models+=("$m"); done < <(find target/conformance -name model.onnx -size -200k | sort)
  else
    echo "fuzz: no target/conformance (run scripts/conformance-data.sh): seeding from examples/models only"
  fi
  while IFS= read -r m; do models+=("$m"); done < <(find examples/models -name '*.onnx' -size -200k | sort)
  mkdir -p "$corpus/onnx_load" "$corpus/mutate_compile" "$corpus/jit_vs_interp"
  python3 - "$corpus" "${models[@]}" <<'PY'
import hashlib, os, struct, sys
out, models = sys.argv[1], sys.argv[2:]
for m in models:
    data = open(m, "rb").read()
    h = hashlib.sha256(data).hexdigest()[:16]
    open(os.path.join(out, "onnx_load", "seed-" + h), "wb").write(data)
    # mutate_compile: [script length u16 LE][script][model]; a few scripts per model.
    for k in range(2):
        script = hashlib.sha256(data + bytes([k])).digest()[:24]
        open(os.path.join(out, "mutate_compile", f"seed-{h}-{k}"), "wb").write(
            struct.pack("<H", len(script)) + script + data)
# jit_vs_interp builds graphs from any bytes: a few fixed seeds.
for k in range(16):
    open(os.path.join(out, "jit_vs_interp", f"seed-{k}"), "wb").write(
        hashlib.sha256(bytes([k])).digest() * (1 + k % 4))
print(f"fuzz: seeds from {len(models)} models")
PY
}

# Runs TARGET for SECONDS on one core, logging libFuzzer's output to target/fuzz-logs.
run() {
  local t=$1 secs=$2
  shift 2
  mkdir -p "$corpus/$t" "$artifacts/$t" target/fuzz-logs
  local log=target/fuzz-logs/$t-$(date -u +%Y%m%dT%H%M%S).log
  echo "fuzz: $t for ${secs}s (log $log)"
  local rc=0
  # From target/fuzz-logs: -fork and -jobs write their workers' fuzz-N.log to the directory.
  local b
  b=$(bin "$t")
  (cd target/fuzz-logs && "$b" "$corpus/$t" -max_total_time="$secs" -timeout=30 \
    -rss_limit_mb=3072 -max_len=262144 -print_final_stats=1 \
    -artifact_prefix="$artifacts/$t/" "$@") >"$log" 2>&1 || rc=$?
  grep -E '^(#[0-9]+.*(DONE|pulse|NEW)|stat::number_of_executed_units|stat::average_exec_per_sec)' "$log" | tail -3 || true
  if [ $rc -ne 0 ]; then
    echo "fuzz: $t FAILED (exit $rc); its end:"
    tail -30 "$log"
    return 1
  fi
}

# Replays every kept crash input of TARGET (they must all pass now).
replay() {
  local t=$1 dir=tests/fuzz-regressions/$1
  [ -d "$dir" ] || return 0
  local files=("$dir"/*)
  [ -e "${files[0]}" ] || return 0
  echo "fuzz: $t: replaying ${#files[@]} regression inputs"
  "$(bin "$t")" -runs=1 "${files[@]}" >target/fuzz-logs/$t-replay.log 2>&1 || {
    tail -30 target/fuzz-logs/$t-replay.log
    return 1
  }
}

case "${1:-}" in
  build) build ;;
  seeds) seeds ;;
  ci)
    secs=${2:?usage: scripts/fuzz.sh ci SECONDS}
    t0=$SECONDS
    build
    echo "fuzz: build took $((SECONDS - t0)) s"
    seeds
    mkdir -p target/fuzz-logs
    status=0
    for t in $TARGETS; do
      replay "$t" || status=1
      run "$t" "$secs" || status=1
    done
    exit $status
    ;;
  run)
    t=${2:?usage: scripts/fuzz.sh run TARGET SECONDS}
    secs=${3:?usage: scripts/fuzz.sh run TARGET SECONDS}
    shift 3
    build
    [ -d "$corpus/$t" ] || seeds
    run "$t" "$secs" "$@"
    ;;
  *)
    sed -n '2,17p' "$0"
    exit 2
    ;;
esac
