// Scheduling (priority, delayMs/runAt, retries with backoff) against the built package in Node:
// the cases of scheduling-cases.mjs (no Node API in them; tests/browser/scheduling.test.mjs runs
// them in Chromium), with their parameters drawn by fast-check.
import assert from "node:assert/strict";
import fc from "fast-check";
import { ExecutionManager } from "execman";
import { test } from "./helpers.mjs";
import {
  backoffWithinBounds,
  cancelInEveryWait,
  neverBeforeRunAt,
  oneTimer,
  restCreate,
  retryRules,
  startOrder,
  validation,
} from "./scheduling-cases.mjs";

const SLOW = { timeout: 120_000 };

/** Runs an async case over fast-check's parameters (shrunk to a small failing one). */
function property(arb, run, numRuns) {
  return fc.assert(
    fc.asyncProperty(arb, (params) => run(ExecutionManager, params)),
    { numRuns },
  );
}

test(
  "order of starts under a concurrency limit: priority (highest first), then creation order; FIFO without priorities",
  () =>
    property(
      fc.record({
        concurrency: fc.integer({ min: 1, max: 4 }),
        priorities: fc.array(fc.option(fc.integer({ min: -3, max: 3 }), { nil: undefined }), { maxLength: 24 }),
      }),
      startOrder,
      60,
    ),
  SLOW,
);

test(
  "never before runAt: delayMs and runAt (past ones at once); runAt on the snapshot, null once started",
  () =>
    property(
      fc.record({
        concurrency: fc.constantFrom(1, 2, Number.POSITIVE_INFINITY),
        delays: fc.array(
          fc.oneof(
            fc.record({ delayMs: fc.integer({ min: 0, max: 40 }) }),
            fc.record({ runAtOffset: fc.double({ min: -50, max: 40, noNaN: true }) }),
          ),
          { minLength: 1, maxLength: 10 },
        ),
      }),
      neverBeforeRunAt,
      20,
    ),
  SLOW,
);

test(
  "backoff delays within their bounds (fixed, exponential, cap, jitter); ctx.attempt; one status event per move",
  () =>
    property(
      fc.record({
        attempts: fc.integer({ min: 1, max: 4 }),
        succeedAt: fc.integer({ min: 1, max: 5 }),
        backoff: fc.record(
          {
            type: fc.constantFrom("fixed", "exponential"),
            delayMs: fc.integer({ min: 0, max: 20 }),
            maxDelayMs: fc.integer({ min: 0, max: 40 }),
            jitter: fc.constantFrom(0, 0.3, 1),
          },
          { requiredKeys: [] },
        ),
      }),
      backoffWithinBounds,
      25,
    ),
  SLOW,
);

test(
  "cancel in every kind of wait: a slot, a delay, a runAt, a retry after an error, a retry after a timeout",
  () => cancelInEveryWait(ExecutionManager),
  SLOW,
);

test(
  "retry rules: retryable: false and INVALID_RESULT are final, TIMEOUT is retried per attempt, target defaults",
  () => retryRules(ExecutionManager),
  SLOW,
);

test(
  "one timer for every due time, re-armed for the earliest; none once nothing is due",
  () =>
    property(
      fc.record({ delays: fc.array(fc.integer({ min: 1, max: 60 }), { minLength: 1, maxLength: 40 }) }),
      oneTimer,
      8,
    ),
  SLOW,
);

test("validation: malformed scheduling fields are INVALID_ARGUMENT naming the field; track takes none", () =>
  validation(ExecutionManager));

test("REST: POST /api/v1/executions takes priority, delayMs, runAt, retry (handle and fetch)", () =>
  restCreate(ExecutionManager));

test("what is due still happens on a manager nothing else references: its delayed start and retry run, its wait resolves", async () => {
  const v8 = await import("node:v8");
  const vm = await import("node:vm");
  v8.setFlagsFromString("--expose-gc");
  const gc = vm.runInNewContext("gc");
  // Only the returned promise leads back to the manager (through its waiter list): a cycle that
  // nothing outside holds, but for the one timer armed for the due times.
  const detached = () => {
    const m = new ExecutionManager();
    m.register("t", (inputs, ctx) => {
      if (ctx.attempt === 1) throw new Error("once");
      return ctx.attempt;
    });
    const { id } = m.create({ targetId: "t", delayMs: 40, retry: { attempts: 2, backoff: { delayMs: 40 } } });
    return m.wait(id);
  };
  const waits = [detached(), detached()];
  for (let i = 0; i < 5; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const done = await Promise.race([
    Promise.all(waits),
    new Promise((resolve) => setTimeout(() => resolve("hung"), 5000)),
  ]);
  assert.notEqual(done, "hung", "the waits resolved");
  for (const x of done) assert.deepEqual([x.status, x.result, x.attempt], ["completed", 2, 2]);
});
