#!/usr/bin/env bash
# Generates Kiln's own ai.onnx.ml test models (tests/ml/gen_models.py) into target/mlmodels
# (and the 500-tree forest into target/mlmodels-large), with reference outputs from the pinned
# onnxruntime, and the coverage table docs/ml-models.md. The virtualenv target/venv-ml is made
# from scripts/requirements-ml.txt. Cached: does nothing when the models for the current pins
# and generator are already there (a stamp holds the hash of both).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=$root/target/venv-ml
out=$root/target/mlmodels
large=$root/target/mlmodels-large
req=$root/scripts/requirements-ml.txt
gen=$root/tests/ml/gen_models.py
want=$(cat "$req" "$gen" | sha256sum | cut -d' ' -f1)
if [ -f "$out/STAMP" ] && [ "$(cat "$out/STAMP")" = "$want" ] && [ -d "$large" ]; then
  echo "ml models: cached in $out"
  exit 0
fi
# The venv is rebuilt only when the pins change.
if [ ! -f "$venv/REQS" ] || ! cmp -s "$venv/REQS" "$req"; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req"
  cp "$req" "$venv/REQS"
fi
rm -rf "$out.tmp" "$large.tmp"
# One thread everywhere and a fixed hash seed: the same bytes on every run.
OMP_NUM_THREADS=1 PYTHONHASHSEED=0 "$venv/bin/python" -W ignore "$gen" "$out.tmp" "$large.tmp" "$root/docs/ml-models.md"
echo "$want" >"$out.tmp/STAMP"
rm -rf "$out" "$large"
mv "$out.tmp" "$out"
mv "$large.tmp" "$large"
echo "ml models: written to $out and $large"
