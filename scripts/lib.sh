# Shared by scripts/*: paths, tool versions, and the environment for the wasm build.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_CACHE="${TRIPLINE_TOOLS_CACHE:-$HOME/.cache/tripline/tools}"
WORKER_BUILD_VERSION="0.8.7"
TWIGGY_VERSION="0.8.0"
export WRANGLER_SEND_METRICS=false
export PATH="$HOME/.cargo/bin:$ROOT/node_modules/.bin:$PATH"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# The wasm-bindgen version pinned in Cargo.lock: wasm-bindgen-cli must match it exactly.
wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$ROOT/Cargo.lock"
}

worker_build_bin() { echo "$TOOLS_CACHE/worker-build-$WORKER_BUILD_VERSION/bin/worker-build"; }
twiggy_bin() { echo "$TOOLS_CACHE/twiggy-$TWIGGY_VERSION/bin/twiggy"; }
wasm_bindgen_bin() { echo "$TOOLS_CACHE/wasm-bindgen-cli-$(wasm_bindgen_version)/bin/wasm-bindgen"; }

# How wasm32 is built here: "rustup" when rustup has the target, else "debian" (rustc-web + build-std).
wasm_mode_file() { echo "$TOOLS_CACHE/wasm-mode"; }

# Exports what worker-build needs to compile for wasm32 on this machine.
wasm_build_env() {
  export WASM_BINDGEN_BIN; WASM_BINDGEN_BIN="$(wasm_bindgen_bin)"
  export WASM_OPT_BIN="$ROOT/node_modules/.bin/wasm-opt"
  export ESBUILD_BIN="$ROOT/node_modules/.bin/esbuild"
  if [ "$(cat "$(wasm_mode_file)" 2>/dev/null)" = "debian" ]; then
    export PATH="/usr/bin:$PATH"
    export RUSTC_BOOTSTRAP=1
    export CARGO_UNSTABLE_BUILD_STD="std,panic_abort"
    # A separate target dir: build-std artefacts must not mix with the native (rustup) ones.
    export CARGO_TARGET_DIR="$ROOT/target/wasm-debian"
  fi
  # Panics abort at once, without formatting a message (docs/size.md): std is built from source
  # with `-Cpanic=immediate-abort`, which drops the panic machinery and its strings (~35 KiB
  # gzip). Needs std's sources (rustup's rust-src, or Debian's rust-web-src).
  # `-Zlocation-detail=none` also drops the file/line/column of `#[track_caller]` locations
  # (the absolute `.rs` paths of std and the registry in the data section; ~1.9 KiB gzip).
  # TRIPLINE_PANIC_MESSAGES=1 builds with the prebuilt std, whose panics log their message.
  if [ "${TRIPLINE_PANIC_MESSAGES:-}" != 1 ] \
    && [ -d "$(rustc --print sysroot)/lib/rustlib/src/rust/library/std" ]; then
    export RUSTC_BOOTSTRAP=1
    export CARGO_UNSTABLE_BUILD_STD="std,panic_abort"
    export RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none"
  fi
}

# The main Worker's size budget: `wrangler deploy --dry-run`'s gzip upload (docs/size.md).
MAIN_WORKER_BUDGET_KIB=600

# Fails unless the gzip upload in `wrangler deploy --dry-run`'s output (on stdin: its
# `Total Upload: … / gzip: … KiB` line, what Cloudflare counts) is within BUDGET_KIB.
# Usage: … | check_upload_budget TITLE BUDGET_KIB   (scripts/bench size, scripts/test)
check_upload_budget() {
  local title="$1" budget="$2" kib
  kib=$(sed -n 's/.*Total Upload:.*gzip: \([0-9.]*\) KiB.*/\1/p' | head -n 1)
  [ -n "$kib" ] || die "$title: no 'Total Upload: … / gzip: … KiB' in wrangler's output"
  awk -v k="$kib" -v b="$budget" 'BEGIN { exit !(k <= b) }' \
    || die "$title: $kib KiB gzip upload, over its $budget KiB budget (docs/size.md)"
  echo "$title: $kib KiB gzip upload of a $budget KiB budget"
}

# A free TCP port on loopback.
# A free port below the kernel's ephemeral range (32768-60999), which the kernel hands to every
# bind(0) and outgoing connection: a port probed there could be taken before our server binds it.
free_port() {
  python3 -c '
import random, socket
for port in random.sample(range(16000, 32000), 16000):
    try:
        s = socket.socket(); s.bind(("127.0.0.1", port)); s.close(); print(port); break
    except OSError:
        pass'
}

# The native `tripline` CLI built by `cargo build -p tripline-cli` (scripts/setup does it).
tripline_bin() { echo "${CARGO_TARGET_DIR:-$ROOT/target}/debug/tripline"; }
