#!/usr/bin/env bash
# Checks Kiln against the generated ai.onnx.ml models (scripts/ml-models.sh must have run):
# every case of target/mlmodels on every backend against tests/ml/manifest.txt, then the
# 500-tree forest of target/mlmodels-large against onnxruntime's outputs.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
kiln=${KILN:-$root/target/debug/kiln}
"$kiln" conformance target/mlmodels --backend all --manifest tests/ml/manifest.txt \
  --report target/mlmodels-report.md
t0=$SECONDS
"$kiln" check target/mlmodels-large/* --backend interp,jit,object
echo "large forest (500 trees, depth 8): $((SECONDS - t0)) s"
