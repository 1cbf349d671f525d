#!/usr/bin/env bash
# Builds examples/c-static: compiles linreg_seed and mlp_mnist to object files with Kiln,
# builds the runtime shim, links everything into a C program and runs it on the models' test
# inputs. Needs ../shared/models (or KILN_MODELS); prints a skip note when it is absent.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
models=${KILN_MODELS:-$root/../shared/models}
if [ -z "${KILN:-}" ]; then
  cargo build -q --manifest-path "$root/Cargo.toml" -p kiln --bin kiln
  KILN="$root/target/debug/kiln"
fi
if [ ! -d "$models/linreg_seed" ] || [ ! -d "$models/mlp_mnist" ]; then
  echo "c-static: skipped: $models (linreg_seed, mlp_mnist) is absent"
  exit 0
fi
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"
"$KILN" compile "$models/linreg_seed/model.onnx" --emit object --name linreg_seed -o "$out" >/dev/null
"$KILN" compile "$models/mlp_mnist/model.onnx" --emit object --name mlp_mnist -o "$out" >/dev/null
"$KILN" shim -o "$out" >/dev/null
"$KILN" convert "$models/linreg_seed/test_data_set_0/input_0.pb" "$out/linreg_x.npy"
"$KILN" convert "$models/linreg_seed/test_data_set_0/output_0.pb" "$out/linreg_y.npy"
"$KILN" convert "$models/mlp_mnist/test_data_set_0/input_0.pb" "$out/mlp_x.npy"
"$KILN" convert "$models/mlp_mnist/test_data_set_0/output_0.pb" "$out/mlp_y.npy"
${CC:-cc} -O2 -std=c11 -Wall -Wextra -Werror -I"$out" "$here/main.c" \
  "$out/linreg_seed.o" "$out/mlp_mnist.o" "$out/libkiln_shim.a" -lm -o "$out/c-static"
"$out/c-static" "$out"
echo "undefined symbols of linreg_seed.o (nm -u):"
nm -u "$out/linreg_seed.o" | sed 's/^/  /'
# Only shim functions and C library symbols may be undefined.
bad=$(nm -u "$out/linreg_seed.o" "$out/mlp_mnist.o" | awk 'NF==2 {print $2}' | grep -vE '^(kiln_shim_|memcpy$|memset$|memmove$)' || true)
if [ -n "$bad" ]; then
  echo "c-static: unexpected undefined symbols: $bad" >&2
  exit 1
fi
echo "c-static: OK"
