#!/usr/bin/env bash
# Runs every execman check, in order, stopping at the first failure:
#   setup, rustfmt, Biome (JS lint + format check), tsc --checkJs over js/, clippy (native + wasm32),
#   native cargo test, wasm-bindgen-test suites under `wasm-pack test --node` and
#   `wasm-pack test --headless --chrome`, the package build, the JS tests (node:test) against the
#   installed package, publint and arethetypeswrong on the packed tarball, `tsc --noEmit` on the
#   typed usage files (moduleResolution node16, nodenext and bundler, and the bundler entries'
#   conditions), and the browser tests (among them the four bundler apps).
# Ends with a per-suite table and a line "summary: N passed, N failed".
# Logs of each step: target/test-logs/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$ROOT/node_modules/.bin:$PATH"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# Give the wasm-bindgen-test runner room on a busy 2-core machine (its default is 20 s per suite).
export WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-120}"

LOGDIR="$ROOT/target/test-logs"
mkdir -p "$LOGDIR"
START=$SECONDS
TOTAL_PASSED=0
TOTAL_FAILED=0
TOTAL_IGNORED=0
ROWS=()

summary() {
  echo
  echo "==================== execman test summary ($((SECONDS - START))s) ===================="
  local row
  for row in "${ROWS[@]}"; do echo "  $row"; done
  echo "summary: $TOTAL_PASSED passed, $TOTAL_FAILED failed, $TOTAL_IGNORED skipped"
}

# count_tests LOG KIND -> "passed failed ignored"
count_tests() {
  local log=$1 kind=$2
  case "$kind" in
    cargo)
      # "test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s"
      # (cargo test and wasm-bindgen-test-runner print the same line per test binary)
      sed -E 's/\x1b\[[0-9;]*m//g' "$log" | awk '
        /^test result: / {
          for (i = 1; i <= NF; i++) {
            if ($(i+1) ~ /^passed/) p += $i
            if ($(i+1) ~ /^failed/) f += $i
            if ($(i+1) ~ /^ignored/) g += $i
          }
        }
        END { printf "%d %d %d\n", p, f, g }'
      ;;
    node)
      # spec reporter: "ℹ pass 12" / "ℹ fail 0" / "ℹ skipped 0" / "ℹ todo 0"
      sed -E 's/\x1b\[[0-9;]*m//g' "$log" | awk '
        /^(ℹ|#) pass [0-9]+$/ { p = $3 }
        /^(ℹ|#) fail [0-9]+$/ { f = $3 }
        /^(ℹ|#) (skipped|todo) [0-9]+$/ { g += $3 }
        END { printf "%d %d %d\n", p, f, g }'
      ;;
    *) echo "0 0 0" ;;
  esac
}

# step NAME KIND CMD... : runs CMD with a header, tees its output to a log, records counts.
# KIND is cargo|node (test output to count; running no test at all is a failure) or check
# (one pass/fail check).
step() {
  local name=$1 kind=$2
  shift 2
  local slug log t0 rc p f g
  slug=$(echo "$name" | tr -c 'A-Za-z0-9\n' '-' | tr -s '-' | sed 's/-$//')
  log="$LOGDIR/$slug.log"
  t0=$SECONDS
  echo
  echo "==================== $name ===================="
  echo "\$ $*"
  set +e
  "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  set -e
  read -r p f g < <(count_tests "$log" "$kind")
  if [[ $kind == check ]]; then
    # a check is not a test: it only adds to the failed count when it fails
    p=0 g=0 f=$((rc == 0 ? 0 : 1))
  elif [[ $rc -ne 0 && $f -eq 0 ]]; then
    f=1 # failed before or outside any test (build error, crash, timeout)
  elif [[ $rc -eq 0 && $p -eq 0 ]]; then
    echo "test.sh: '$name' ran no test" >&2
    rc=1 f=1
  fi
  TOTAL_PASSED=$((TOTAL_PASSED + p))
  TOTAL_FAILED=$((TOTAL_FAILED + f))
  TOTAL_IGNORED=$((TOTAL_IGNORED + g))
  local status=ok
  [[ $rc -ne 0 ]] && status="FAILED (exit $rc, log: ${log#"$ROOT"/})"
  if [[ $kind == check ]]; then
    ROWS+=("$(printf '%-34s %-6s %4ss' "$name" "$status" $((SECONDS - t0)))")
  else
    ROWS+=("$(printf '%-34s %-6s %4ss  %d passed, %d failed, %d skipped' "$name" "$status" $((SECONDS - t0)) "$p" "$f" "$g")")
  fi
  if [[ $rc -ne 0 ]]; then
    summary
    exit "$rc"
  fi
}

# The package the JS tests import: pack pkg/ as npm would publish it and install that tarball.
install_pkg() {
  local tgz
  rm -f target/execman-*.tgz
  tgz=$(npm pack ./pkg --pack-destination target --loglevel=error | tail -n 1)
  echo "packed target/$tgz"
  npm install --no-save --no-audit --no-fund --loglevel=error "./target/$tgz"
  node -e 'const m = require("execman"); if (typeof m.ExecutionManager !== "function") process.exit(1)'
  node --input-type=module -e 'import { ExecutionManager } from "execman"; if (typeof ExecutionManager !== "function") process.exit(1)'
  echo "installed execman from target/$tgz (require and import resolve)"
}

# The packed tarball as registries and users see it: publint (the package.json, exports map and
# files; warnings fail) and arethetypeswrong (the declarations each entry resolves to under node10,
# node16 from CJS and ESM, and bundler resolution). execman/web is an ES module for browsers by
# design (it loads the .wasm from import.meta.url), so it is checked with attw's ESM-only profile;
# execman/execman_bg.wasm is a binary asset, not a module.
package_lint() {
  local tgz
  tgz=$(find target -maxdepth 1 -name 'execman-*.tgz' | head -n 1)
  publint ./pkg --strict
  attw "$tgz" --exclude-entrypoints ./web ./execman_bg.wasm --format table-flipped
  attw "$tgz" --entrypoints ./web --profile esm-only --format table-flipped
}

js_tests() {
  local files=()
  mapfile -t files < <(find tests/js -maxdepth 2 -type f \( -name '*.test.mjs' -o -name '*.test.cjs' -o -name '*.test.js' \) | sort)
  if [[ ${#files[@]} -eq 0 ]]; then
    echo "no JS test files (tests/js/*.test.mjs|cjs) found" >&2
    return 1
  fi
  node --test --test-reporter=spec "${files[@]}"
}

step "setup" check bash scripts/setup.sh
step "cargo fmt --check" check cargo fmt --all --check
# The JS: Biome lints and checks the formatting of the files biome.jsonc lists (warnings fail, as
# clippy's do), then tsc checks the JSDoc types of js/ (js/tsconfig.json). Both from node_modules/.bin.
step "biome ci (JS lint + format)" check biome ci --error-on-warnings --colors=off
step "tsc --checkJs -p js" check tsc -p js
step "clippy (native)" check cargo clippy --all-targets -- -D warnings
step "clippy (wasm32)" check cargo clippy --target wasm32-unknown-unknown --all-targets -- -D warnings
step "cargo test (native)" cargo cargo test
# The plain commands users run. A wasm-bindgen-test binary runs in Node unless it says
# `wasm_bindgen_test_configure!(run_in_browser)` (then only in the browser); --node and --chrome each
# skip the other kind, so the suites are compiled twice (tests/wasm_in_browser.rs re-includes them).
step "wasm-pack test --node" cargo wasm-pack test --node
step "wasm-pack test --chrome" cargo wasm-pack test --headless --chrome --chromedriver /usr/bin/chromedriver
step "build pkg/" check node scripts/build.mjs --no-setup
step "install pkg/ tarball" check install_pkg
step "publint + attw (package)" check package_lint
step "node --test tests/js" node js_tests
# The typed usage files of tests/types/ against the installed package, with `strict`, under each
# moduleResolution users pick: node16 and nodenext (CommonJS and ES module files, so both the
# `require` and the `import` entries) and bundler, plus bundler with the "browser" and
# "execman-inline" conditions (the entries Vite/webpack and esbuild/Rollup resolve).
for resolution in node16 nodenext bundler browser execman-inline; do
  step "tsc tests/types ($resolution)" check tsc --noEmit -p "tests/types/tsconfig.$resolution.json"
done
step "browser tests (Chromium)" node node --test --test-reporter=spec tests/browser/*.test.mjs

summary
