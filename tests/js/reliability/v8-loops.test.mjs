// Hot loops that made V8 (Node 20.20.2) abort the process in its deoptimizer ("Fatal error …
// unreachable code" in Deoptimizer::DoComputeBuiltinContinuation, exit 133) when the package's
// class was wasm-bindgen's own: 300,000 handle() POSTs aborted within ~10,000 iterations. Each
// call shape runs in a child process (an abort cannot take the test runner down) and must exit 0.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { LONG, test } from "./lib.mjs";

const CHILD = fileURLToPath(new URL("./v8-loops-child.cjs", import.meta.url));
const ITERATIONS = LONG ? 300_000 : 50_000;
const VARIANTS = ["handle-post", "handle-get", "handle-list", "status", "list", "create-cancel", "fetch"];

function run(variant) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CHILD, variant, String(ITERATIONS)], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      out += d;
    });
    child.on("exit", (code, signal) => resolve({ code, signal, out }));
  });
}

for (const variant of VARIANTS) {
  test(
    `V8 loop: ${ITERATIONS} × ${variant} in a child process exits 0`,
    async () => {
      const { code, signal, out } = await run(variant);
      assert.equal(code, 0, `exit ${code} ${signal ?? ""}\n${out.slice(-2000)}`);
      assert.match(out, new RegExp(`${variant}: ${ITERATIONS} iterations`));
    },
    { timeout: 120_000 },
  );
}
