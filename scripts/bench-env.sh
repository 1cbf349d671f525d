#!/usr/bin/env bash
# Makes the virtualenv target/bench-venv with the pinned engines `kiln bench` compares Kiln
# with (scripts/bench-requirements.txt: onnxruntime, tract, numpy, onnx). Idempotent: a
# second run only checks the pins. Prints the python path.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=$root/target/bench-venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$root/scripts/bench-requirements.txt" >&2
echo "$venv/bin/python"
