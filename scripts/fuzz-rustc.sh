#!/usr/bin/env bash
# RUSTC_WRAPPER for the fuzz build (scripts/fuzz.sh): keeps libFuzzer's coverage
# instrumentation (sancov) for Kiln's own crates and the fuzz targets, and drops it for
# dependencies (cranelift, prost, clap, ...). They still link and run, and the build is much
# faster: instrumenting cranelift's generated instruction selectors is most of the cost.
# Overflow checks and debug assertions stay on everywhere.
rustc=$1
shift
name=
prev=
for a in "$@"; do
  if [ "$prev" = --crate-name ]; then name=$a; fi
  prev=$a
done
case "$name" in
  kiln | kiln_shim | kiln_targets | kiln_fuzz | onnx_load | mutate_compile | jit_vs_interp | "")
    exec "$rustc" "$@" ;;
esac
args=()
skip=0
for a in "$@"; do
  if [ $skip = 1 ]; then
    skip=0
    case "$a" in
      passes=sancov-module | llvm-args=-sanitizer-coverage*) continue ;;
      *) args+=(-C "$a"); continue ;;
    esac
  fi
  case "$a" in
    -Cpasses=sancov-module | -Cllvm-args=-sanitizer-coverage*) ;;
    -C) skip=1 ;;
    *) args+=("$a") ;;
  esac
done
exec "$rustc" "${args[@]}"
