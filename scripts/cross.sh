#!/usr/bin/env bash
# Cross-compilation checks (issue 5; a scripts/test.sh step):
#  1. installs Debian's cross toolchains, qemu-user, arm-none-eabi-gcc, llvm and file (pinned
#     to the versions below, falling back to the release's current ones) and the rust-std of
#     every listed triple (idempotent: only what is missing);
#  2. builds runtime-shim with cargo for every listed triple (no_std microcontrollers too),
#     builds the shim with `kiln shim` for each, and checks that its C header and a model's
#     generated header are byte-identical for every triple;
#  3. runs tests/cross.rs (object architecture/format per triple, reproducibility, qemu),
#     and runtime-shim/tests/gemm.rs and vmath.rs for aarch64 under qemu (the NEON GEMM
#     kernel against the contract's plain loops, the NEON exp/sigmoid/tanh/erf against the
#     scalar functions, bit for bit);
#  4. runs linreg_seed, mlp_mnist, squeezenet1_1 and transformer_tiny (../shared/models or
#     KILN_MODELS) for aarch64 and riscv64 on the object, C and Rust backends under qemu-user,
#     checks the outputs against the reference and that they are byte-identical to the host's;
#  5. builds examples/embedded for thumbv7em-none-eabihf (arm-none-eabi-gcc, size report);
#  6. cross-builds examples/build-rs with `cargo build --target aarch64-unknown-linux-gnu`
#     and runs it under qemu-aarch64.
# Prints what it did and `cross: OK` at the end; exits non-zero on the first failure.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
models=${KILN_MODELS:-$root/../shared/models}
t0=$SECONDS
say() { echo "cross [$((SECONDS - t0)) s]: $*"; }

# ---- 1. tools ----------------------------------------------------------------------------
apt_pins=(
  gcc-aarch64-linux-gnu=4:12.2.0-3
  libc6-dev-arm64-cross=2.36-8cross1
  gcc-riscv64-linux-gnu=4:12.2.0-5
  libc6-dev-riscv64-cross=2.36-8cross1
  qemu-user=1:7.2+dfsg-7+deb12u18+b3
  gcc-arm-none-eabi=15:12.2.rel1-1
  libnewlib-arm-none-eabi=3.3.0-1.3+deb12u1
  llvm=1:14.0-55.7~deb12u1
  file=1:5.44-3
)
missing=()
for p in "${apt_pins[@]}"; do
  name=${p%%=*}
  dpkg-query -W -f='${Status}' "$name" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  say "apt-get install ${missing[*]}"
  $sudo apt-get update -qq
  if ! DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null; then
    say "pinned versions unavailable; installing the release's current ones"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]%%=*}" >/dev/null
  fi
fi
dpkg-query -W -f='  ${Package} ${Version}\n' "${apt_pins[@]%%=*}"

# Every object and source-only triple of issue 5 but aarch64-apple-ios-sim, whose rust-std
# rustup could not download here (HTTP 404 from static.rust-lang.org for rustc 1.95.0):
# its objects are still produced and checked (tests/cross.rs), but no shim is built for it.
triples=(
  x86_64-unknown-linux-gnu x86_64-apple-darwin x86_64-pc-windows-msvc x86_64-linux-android
  aarch64-unknown-linux-gnu aarch64-linux-android aarch64-apple-ios aarch64-apple-darwin
  riscv64gc-unknown-linux-gnu s390x-unknown-linux-gnu
  armv7-unknown-linux-gnueabihf armv7-linux-androideabi thumbv6m-none-eabi
  thumbv7em-none-eabihf thumbv8m.main-none-eabihf i686-unknown-linux-gnu
  riscv32imac-unknown-none-elf wasm32-unknown-unknown aarch64-pc-windows-msvc
)
installed=$(rustup target list --installed)
need=()
for t in "${triples[@]}"; do grep -qx "$t" <<<"$installed" || need+=("$t"); done
if [ ${#need[@]} -gt 0 ]; then
  say "rustup target add ${need[*]}"
  rustup target add "${need[@]}"
fi

cargo build -q -p kiln --bin kiln
kiln=$root/target/debug/kiln
work=$root/target/cross
rm -rf "$work"
mkdir -p "$work"

# ---- 2. the shim for every triple ----------------------------------------------------------
say "cargo build -p kiln-shim for ${#triples[@]} triples"
cargo build -q -p kiln-shim "${triples[@]/#/--target=}"
for t in "${triples[@]}"; do
  lib=target/$t/debug/libkiln_shim.rlib
  [ -f "$lib" ] || { echo "cross: no $lib" >&2; exit 1; }
  "$kiln" shim --target "$t" -o "$work/shim/$t" >/dev/null
  "$kiln" compile examples/models/tiny_mlp/model.onnx --emit c --target "$t" -o "$work/hdr/$t" >/dev/null
  cmp "$work/shim/$t/kiln_shim.h" runtime-shim/include/kiln_shim.h
  cmp "$work/hdr/$t/tiny_mlp.h" "$work/hdr/${triples[0]}/tiny_mlp.h"
  echo "  $t: $lib, $(stat -c %s "$work/shim/$t/libkiln_shim.a") byte staticlib; headers identical"
done

# ---- 3. tests/cross.rs ---------------------------------------------------------------------
say "cargo test -p kiln --test cross"
if ! cargo test -q -p kiln --test cross -- --nocapture --test-threads=1 >"$work/tests.log" 2>&1; then
  cat "$work/tests.log"
  exit 1
fi
grep -E "^\.*(test result|[a-z0-9_.-]+: |skipped)" "$work/tests.log" | sed -e "s/^\\.*/  /"
# The tools are installed by now: a skipped check here is a failure.
if grep -qE "^\.*skipped" "$work/tests.log"; then echo "cross: tests/cross.rs skipped checks" >&2; exit 1; fi

# ---- 3b. the shim's NEON GEMM kernel and vector math on aarch64 under qemu-user -------------
for t in gemm vmath; do
  say "cargo test -p kiln-shim --test $t --target aarch64-unknown-linux-gnu (qemu)"
  if ! CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
    CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu" \
    cargo test -q -p kiln-shim --test $t --target aarch64-unknown-linux-gnu >"$work/$t-aarch64.log" 2>&1; then
    cat "$work/$t-aarch64.log"
    exit 1
  fi
  grep -E "^test result" "$work/$t-aarch64.log" | sed -e "s/^/  /"
done

# ---- 4. shared models under qemu-user ------------------------------------------------------
if [ -d "$models/squeezenet1_1" ]; then
  compare() { # got.npy want.npy: within check's default tolerance (rtol 1e-3, atol 1e-7)
    python3 - "$1" "$2" <<'PY'
import struct, sys
def npy(p):
    b = open(p, "rb").read()
    hlen = b[8] | (b[9] << 8)
    assert "'<f4'" in b[10:10 + hlen].decode(), p
    d = b[10 + hlen:]
    return struct.unpack("<%df" % (len(d) // 4), d)
got, want = npy(sys.argv[1]), npy(sys.argv[2])
assert len(got) == len(want), (len(got), len(want))
worst = max(abs(g - w) for g, w in zip(got, want))
bad = [i for i, (g, w) in enumerate(zip(got, want)) if not abs(g - w) <= 1e-7 + 1e-3 * abs(w)]
print("%d values, max abs diff from the reference %.3g" % (len(got), worst))
sys.exit(1 if bad else 0)
PY
  }
  for m in linreg_seed mlp_mnist squeezenet1_1 transformer_tiny; do
    d=$work/run/$m
    mkdir -p "$d"
    "$kiln" convert "$models/$m/test_data_set_0/input_0.pb" "$d/input.npy"
    "$kiln" convert "$models/$m/test_data_set_0/output_0.pb" "$d/reference.npy"
    "$kiln" run "$models/$m/model.onnx" -i "$d/input.npy" --backend object -o "$d/host" >/dev/null
    echo "  $m host object: $(compare "$d"/host/*.npy "$d/reference.npy")"
    for t in aarch64-unknown-linux-gnu riscv64gc-unknown-linux-gnu; do
      for b in object c rust; do
        s0=$SECONDS
        "$kiln" run "$models/$m/model.onnx" -i "$d/input.npy" --backend $b --target $t \
          -o "$d/$t-$b" >/dev/null
        r=$(compare "$d"/$t-$b/*.npy "$d/reference.npy") || { echo "cross: $m $t $b: $r" >&2; exit 1; }
        cmp "$d"/host/*.npy "$d"/$t-$b/*.npy
        echo "  $m $t $b (qemu): $r; byte-identical to the host's ($((SECONDS - s0)) s)"
      done
    done
  done
else
  say "shared models: skipped: $models/squeezenet1_1 is absent"
fi

# ---- 5. the embedded path ------------------------------------------------------------------
if [ -d "$models/mlp_mnist" ]; then
  say "examples/embedded (thumbv7em-none-eabihf)"
  OUT=$work/embedded KILN=$kiln examples/embedded/build.sh
fi

# ---- 6. build.rs cross-compiled ------------------------------------------------------------
say "cargo build -p kiln-example-build-rs --target aarch64-unknown-linux-gnu"
CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
  cargo build -q -p kiln-example-build-rs --target aarch64-unknown-linux-gnu
bin=target/aarch64-unknown-linux-gnu/debug/kiln-example-build-rs
file "$bin" | grep -q "ARM aarch64" || { file "$bin"; exit 1; }
qemu-aarch64 -L /usr/aarch64-linux-gnu "$bin" | tee "$work/build-rs.txt"
grep -qx "build-rs: OK" "$work/build-rs.txt"
say "OK"
echo "cross: OK"
