#!/usr/bin/env bash
# Kiln's whole test suite: lints, unit and integration tests, the shipped example models and
# the shared corpus on every backend, and the examples. Every step runs even if one fails;
# the last line is `N passed, M failed`. Needs only cargo and a C compiler (gcc); what else a
# step needs it installs itself.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export KILN_MODELS=${KILN_MODELS:-$root/../shared/models}
export CARGO_TERM_COLOR=never
passed=0
failed=0
failures=()

step() {
  local name=$1
  shift
  echo "=== $name"
  local t0=$SECONDS
  if "$@"; then
    passed=$((passed + 1))
    echo "=== $name: ok ($((SECONDS - t0)) s)"
  else
    failed=$((failed + 1))
    failures+=("$name")
    echo "=== $name: FAILED ($((SECONDS - t0)) s)"
  fi
}

kiln=$root/target/debug/kiln

step "cargo fmt --check" cargo fmt --all -- --check
step "cargo build" cargo build --workspace --all-targets
step "cargo clippy" cargo clippy --workspace --all-targets -- -D warnings
step "cargo test" cargo test --workspace
step "kiln check examples/models (all backends)" "$kiln" check examples/models --backend all
if [ -d "$KILN_MODELS" ]; then
  models=()
  for m in linreg_seed mlp_mnist resnet18 mobilenet_v2 squeezenet1_1 transformer_tiny \
    skl_logreg_pipeline skl_random_forest_clf skl_random_forest_reg xgb_clf; do
    if [ -d "$KILN_MODELS/$m" ]; then models+=("$KILN_MODELS/$m"); else echo "=== $m: skipped: absent"; fi
  done
  step "kiln check shared models (all backends)" "$kiln" check "${models[@]}" --backend all
  # Through the C backend under ASan + UBSan, with guard bytes between scratch tensors that
  # the generated code keeps poisoned (docs/fuzzing.md, "Items 2 and 5").
  step "kiln check shared models (C backend, ASan + UBSan, scratch guard)" env \
    KILN_EXEC_CFLAGS="-march=native -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
    "$kiln" check "${models[@]}" --backend c --scratch-guard 64
else
  echo "=== shared models: skipped: $KILN_MODELS is absent"
fi
step "conformance data (pinned onnx)" scripts/conformance-data.sh
# C output built with default flags calls the shim's GEMM kernel and vector math chosen at
# run time (kiln_shim_*_x86_any); the Rust output here runs its own loops (--cfg
# kiln_no_sgemm_kernel / kiln_no_vector_math; its shim calls share the C calls' arguments
# and run in the shared model and example steps).
step "kiln conformance (all backends)" env \
  KILN_EXEC_RUSTFLAGS="--cfg kiln_no_sgemm_kernel --cfg kiln_no_vector_math" \
  "$kiln" conformance target/conformance --backend all \
  --manifest tests/conformance/manifest.txt --report target/conformance-report.md
# Every passing case again through the C backend under AddressSanitizer and UBSan: generated
# code never reads or writes out of bounds and never hits undefined behaviour. With a scratch
# guard, an overrun from one tensor into its neighbour inside the scratch area is caught too.
# -DKILN_NO_SGEMM_KERNEL -DKILN_NO_VECTOR_MATH: the C output's own GEMM and math loops,
# which the sanitizers instrument (the step above calls the shim).
step "kiln conformance (C backend, ASan + UBSan, scratch guard)" env \
  KILN_EXEC_CFLAGS="-march=native -DKILN_NO_SGEMM_KERNEL -DKILN_NO_VECTOR_MATH -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
  "$kiln" conformance target/conformance --backend c --manifest tests/conformance/manifest.txt \
  --scratch-guard 64
# Kiln's own ai.onnx.ml models (pinned scikit-learn, skl2onnx, onnxmltools, xgboost, lightgbm,
# onnxruntime references) and the 500-tree forest; see tests/ml and docs/ml-models.md.
step "ml models (pinned converters, onnxruntime references)" scripts/ml-models.sh
step "kiln conformance ml models (all backends) + large forest" env KILN="$kiln" tests/ml/check.sh
# Cross-compilation (docs/cross.md): installs cross gcc, qemu-user, arm-none-eabi-gcc, llvm and
# the rust-std of every listed triple, then runs aarch64/riscv64 builds under qemu-user,
# the thumbv7em embedded build and build.rs cross-compiled (3.5-4.5 min warm, about 8 min fresh).
step "cross-compilation (scripts/cross.sh)" scripts/cross.sh
# Fuzzing (cargo fuzz, pinned, installed by the script): every kept crash input replayed, then
# each target (onnx_load, mutate_compile, jit_vs_interp) for 60 s on one core.
step "fuzz (60 s per target)" scripts/fuzz.sh ci 60
step "examples/sklearn-pipeline" cargo run -q -p kiln-example-sklearn-pipeline
step "examples/c-static" env KILN="$kiln" examples/c-static/run.sh
step "examples/build-rs" cargo run -q -p kiln-example-build-rs

echo "=== summary: ${failures[*]:-no failures}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
