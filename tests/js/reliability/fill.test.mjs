// The memory budget (maxBytes) in Node: every case of fill-cases.mjs (shared with
// tests/browser/fill.test.mjs), with the wasm memory sampled before and after each (read from the
// instance, captured when the package instantiates its module).
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { FILL_CASES, runFill } from "./fill-cases.mjs";
import { test } from "./lib.mjs";

// Capture the package's wasm instance to read its memory size (the package does not expose it).
const instances = [];
const RealInstance = WebAssembly.Instance;
WebAssembly.Instance = function Instance(module, imports) {
  const instance = new RealInstance(module, imports);
  instances.push(instance);
  return instance;
};
const { ExecutionManager } = createRequire(import.meta.url)("execman");
WebAssembly.Instance = RealInstance;
const memoryMiB = () => {
  const memory = Object.values(instances[0]?.exports ?? {}).find((x) => x instanceof WebAssembly.Memory);
  return memory ? (memory.buffer.byteLength / 2 ** 20).toFixed(1) : "?";
};

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
