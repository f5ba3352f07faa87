// The memory budget (maxBytes) in Node: every case of fill-cases.mjs (shared with
// tests/browser/fill.test.mjs), with the wasm memory sampled before and after each (read from the
// instance, captured when the package instantiates its module).
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { FILL_CASES, runFill } from "./fill-cases.mjs";
import { test } from "./lib.mjs";

const { loadWithMemory } = createRequire(import.meta.url)("./wasm-memory.cjs");
const {
  execman: { ExecutionManager },
  memory,
} = loadWithMemory();
const memoryMiB = () => (memory ? (memory.buffer.byteLength / 2 ** 20).toFixed(1) : "?");

for (const name of FILL_CASES) {
  test(
    `fill until RESOURCE_EXHAUSTED: ${name}; no trap, every method answers, room again, a fresh execution completes`,
    async () => {
      const before = memoryMiB();
      const report = await runFill(ExecutionManager, { only: [name] });
      console.log(
        `fill ${name} (node): ${JSON.stringify(report.cases[name])}, wasm memory ${before} → ${memoryMiB()} MiB, ${report.ms} ms`,
      );
      assert.deepEqual(report.failures, []);
    },
    { timeout: 120_000 },
  );
}
