#!/usr/bin/env bash
# Installs what building and testing execman needs, skipping whatever is already there:
#   - the wasm32-unknown-unknown Rust target (and rustfmt/clippy unless --minimal)
#   - wasm-bindgen-cli at the version Cargo.lock pins (wasm-bindgen + wasm-bindgen-test-runner)
#   - wasm-pack (unless --minimal)
#   - Debian's chromium + chromium-driver for headless browser tests (unless --minimal)
#   - Debian's redis-server for the execman/bullmq tests and `npm run demo -- --cluster` (started
#     by them as a plain process on a free port; no service is enabled or started here)
#   - node_modules from package-lock.json (reinstalled when the lock file changes)
#
# Usage: bash scripts/setup.sh [--minimal]
#   --minimal  only what `npm run build` / `npm run demo` need (Rust target, wasm-bindgen, npm packages)
# Idempotent; prints one line when everything is already in place.
set -euo pipefail
cd "$(dirname "$0")/.."

MINIMAL=0
for arg in "$@"; do
  case "$arg" in
    --minimal) MINIMAL=1 ;;
    *) echo "usage: bash scripts/setup.sh [--minimal]" >&2; exit 2 ;;
  esac
done

WASM_PACK_VERSION=0.15.1
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$CARGO_BIN:$PATH"
START=$SECONDS
DID=()

log() { echo "setup: $*"; }

# The wasm-bindgen CLI must match the wasm-bindgen crate exactly: read the version from Cargo.lock.
WB_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [[ -z "$WB_VERSION" ]]; then
  echo "setup: wasm-bindgen not found in Cargo.lock" >&2
  exit 1
fi

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

# 1. Rust target and components.
if ! command -v cargo >/dev/null; then
  echo "setup: cargo not found (install Rust with rustup first)" >&2
  exit 1
fi
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  log "adding Rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
  DID+=("rust target")
fi
if [[ $MINIMAL -eq 0 ]]; then
  for comp in rustfmt clippy; do
    if ! rustup component list --installed 2>/dev/null | grep -q "^$comp"; then
      log "adding Rust component $comp"
      rustup component add "$comp"
      DID+=("$comp")
    fi
  done
fi

# 2-4. The slow installs. wasm-pack and Chromium (not needed with --minimal) install in the
# background while wasm-bindgen-cli compiles in the foreground: on 2 cores this hides the serial
# tail of each cargo build and the apt download. Their output goes to target/setup-logs/.
LOGDIR=target/setup-logs
BG_PIDS=()
BG_NAMES=()
kill_background() {
  local pid
  for pid in "${BG_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
}
trap kill_background EXIT
in_background() { # NAME CMD...
  local name=$1
  shift
  mkdir -p "$LOGDIR"
  log "installing $name in the background (log: $LOGDIR/$name.log)"
  "$@" >"$LOGDIR/$name.log" 2>&1 &
  BG_PIDS+=($!)
  BG_NAMES+=("$name")
}

# One apt-get for every Debian package missing (two at once would fight over dpkg's lock).
APT_PACKAGES=()
install_debian() {
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${APT_PACKAGES[@]}"
}

if [[ $MINIMAL -eq 0 ]]; then
  # wasm-pack runs the wasm-bindgen-test suites the way users do.
  if ! command -v wasm-pack >/dev/null; then
    in_background wasm-pack cargo install wasm-pack --version "$WASM_PACK_VERSION" --locked
    DID+=("wasm-pack $WASM_PACK_VERSION")
  fi
  # Chromium and its WebDriver from Debian, for the headless browser suites.
  if [[ ! -x /usr/bin/chromium || ! -x /usr/bin/chromedriver ]]; then
    APT_PACKAGES+=(chromium chromium-driver)
    DID+=("chromium")
  fi
fi
# redis-server from Debian, for execman/bullmq's tests and the cluster demo.
if ! command -v redis-server >/dev/null; then
  APT_PACKAGES+=(redis-server)
  DID+=("redis-server")
fi
if [[ ${#APT_PACKAGES[@]} -gt 0 ]]; then
  in_background debian-packages install_debian
fi

# The wasm-bindgen CLI (with wasm-bindgen-test-runner, which wasm-pack test uses) must match the
# wasm-bindgen crate exactly.
have_wb=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [[ "$have_wb" != "$WB_VERSION" ]] || ! command -v wasm-bindgen-test-runner >/dev/null; then
  log "installing wasm-bindgen-cli $WB_VERSION (had: ${have_wb:-none}); this takes a few minutes"
  cargo install wasm-bindgen-cli --version "$WB_VERSION" --force
  DID+=("wasm-bindgen-cli $WB_VERSION")
fi

for i in "${!BG_PIDS[@]}"; do
  if ! wait "${BG_PIDS[$i]}"; then
    echo "setup: installing ${BG_NAMES[$i]} failed:" >&2
    tail -n 40 "$LOGDIR/${BG_NAMES[$i]}.log" >&2
    exit 1
  fi
  log "installed ${BG_NAMES[$i]}"
done
BG_PIDS=()
trap - EXIT

# 5. npm packages, reinstalled whenever package-lock.json (or package.json) changes.
STAMP=node_modules/.execman-setup-stamp
want_stamp="$(cat package.json package-lock.json 2>/dev/null | sha256sum | cut -d' ' -f1) node-$(node --version)"
if [[ ! -d node_modules || ! -f "$STAMP" || "$(cat "$STAMP")" != "$want_stamp" ]]; then
  if [[ -f package-lock.json ]]; then
    log "installing npm packages (npm ci)"
    npm ci --no-audit --no-fund --loglevel=error
  else
    log "installing npm packages (npm install)"
    npm install --no-audit --no-fund --loglevel=error
    want_stamp="$(cat package.json package-lock.json 2>/dev/null | sha256sum | cut -d' ' -f1) node-$(node --version)"
  fi
  echo "$want_stamp" >"$STAMP"
  DID+=("npm packages")
fi

what="rust target, wasm-bindgen $WB_VERSION, redis-server, npm packages"
[[ $MINIMAL -eq 0 ]] && what="rust target + rustfmt/clippy, wasm-bindgen $WB_VERSION, wasm-pack, chromium, redis-server, npm packages"
if [[ ${#DID[@]} -eq 0 ]]; then
  log "ok ($what already present, $((SECONDS - START))s)"
else
  log "ok (installed: $(IFS=,; echo "${DID[*]}"); $((SECONDS - START))s)"
fi
