#!/usr/bin/env bash
# Writes the ONNX node test cases (and the wheel's simple/pytorch-* data cases) into
# target/conformance, from the pinned onnx package in a virtualenv under target/venv.
# Cached: does nothing when the data for the pinned version is already there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=$root/target/venv
out=${1:-$root/target/conformance}
want="onnx $(grep '^onnx==' "$root/scripts/requirements.txt" | cut -d= -f3)"
if [ -f "$out/VERSION" ] && [ "$(cat "$out/VERSION")" = "$want" ]; then
  echo "conformance data: cached in $out ($want)"
  exit 0
fi
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$root/scripts/requirements.txt"
rm -rf "$out.tmp"
"$venv/bin/python" -W ignore "$root/scripts/gen_conformance.py" "$out.tmp"
rm -rf "$out"
mv "$out.tmp" "$out"
