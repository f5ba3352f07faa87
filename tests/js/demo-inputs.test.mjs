// A property of every simulated target of the demos (scripts/demo-targets.mjs, www/targets.js):
// whatever JSON a client sends as inputs (over `--serve`, the Service Worker, the dashboard), the
// handler either accepts it or fails with an error that names the input it refused — never a
// TypeError of its own code ("Cannot read properties of undefined (reading 'length')"); for the
// targets a retry policy may run again (the terminal demo's, the dashboard's), an error marked
// `retryable: false`. Each handler is called with an already aborted signal: accepted inputs end
// at the first wait with the abort's reason, refused ones before it.

import assert from "node:assert/strict";
import fc from "fast-check";
import { DEMO_TARGETS, registerDemoTargets } from "../../scripts/demo-targets.mjs";
import { SW_TARGETS, TARGETS, WORKER_TARGETS, registerTargets } from "../../www/targets.js";
import { test } from "./helpers.mjs";

/** @type {Map<string, Function>} handlers by "set/target" */
const handlers = new Map();
const collect = (/** @type {string} */ set) => ({
  register(/** @type {string} */ id, /** @type {Function} */ handler) {
    handlers.set(`${set}/${id}`, handler);
  },
});
registerDemoTargets(collect("demo"));
registerTargets(collect("dashboard"), { targets: TARGETS });
registerTargets(collect("worker"), { targets: WORKER_TARGETS });
registerTargets(collect("sw"), { targets: SW_TARGETS });

const FIELDS = [
  "name",
  "sizeMb",
  "frames",
  "corruptAt",
  "sections",
  "durationMs",
  "failureChance",
  "limit",
  "rounds",
  "failAt",
  "steps",
  "stepMs",
  "maxMs",
  "ms",
  "failAttempts",
];

/** Inputs a client could send: any JSON, or objects of the targets' own fields with any JSON. */
const inputs = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.dictionary(fc.constantFrom(...FIELDS), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 }),
  fc.dictionary(
    fc.constantFrom(...FIELDS),
    fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.string(), fc.constant(null)),
    { maxKeys: 5 },
  ),
);

test("every demo target accepts its inputs or refuses them naming the input, for any JSON", async () => {
  assert.equal(handlers.size, DEMO_TARGETS.length + TARGETS.length + WORKER_TARGETS.length + SW_TARGETS.length);
  const stop = new Error("stop: the inputs were accepted");
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...handlers.keys()), inputs, async (key, given) => {
      const controller = new AbortController();
      controller.abort(stop);
      const ctx = { id: "x", signal: controller.signal, config: {}, attempt: 1, progress() {} };
      let thrown;
      try {
        await /** @type {Function} */ (handlers.get(key))(structuredClone(given), ctx);
      } catch (error) {
        thrown = error;
      }
      if (thrown === stop || thrown === undefined) return;
      assert.ok(thrown instanceof TypeError || thrown instanceof RangeError, `${key}: ${thrown}`);
      assert.match(thrown.message, /^inputs(\.\w+)? must be /, `${key} ${JSON.stringify(given)}`);
      // The terminal demo's and the dashboard's targets are retried by policy: a refusal is final.
      if (/^(demo|dashboard)\//.test(key)) assert.equal(thrown.retryable, false, `${key}: retryable`);
    }),
    { numRuns: 3000 },
  );
});
