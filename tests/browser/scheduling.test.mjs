// Scheduling in Chromium: every case of tests/js/scheduling-cases.mjs (no Node API in it) against
// the web build (pkg/web/execman.js after `await init()`), in a blank page served by
// scripts/serve.mjs's startServer; the cases module is served through a Playwright route. The
// parameters are fixed here (Node draws them with fast-check): a few of each shape.
//
// Run: node --test tests/browser/scheduling.test.mjs   (needs pkg/ built and /usr/bin/chromium)
import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import { ROOT, openBlankPage, useServerAndBrowser } from "./helpers.mjs";

const CASES = path.join(ROOT, "tests/js/scheduling-cases.mjs");

/** [case name, parameters] run in the page, in order. */
const RUNS = [
  ["startOrder", { concurrency: 1, priorities: [undefined, 2, -1, 2, 0, 5, undefined, -3] }],
  ["startOrder", { concurrency: 3, priorities: [1, 1, 1, 9, undefined, -2, 4, 4, 0, 7] }],
  ["startOrder", { concurrency: 2, priorities: [] }],
  ["startOrder", { concurrency: 1, priorities: [undefined, undefined, undefined, undefined] }],
  [
    "neverBeforeRunAt",
    { concurrency: 1, delays: [{ delayMs: 30 }, { runAtOffset: -20 }, { delayMs: 0 }, { runAtOffset: 12.5 }] },
  ],
  ["neverBeforeRunAt", { concurrency: Number.POSITIVE_INFINITY, delays: [{ delayMs: 5 }, { runAtOffset: 25 }] }],
  ["backoffWithinBounds", { attempts: 4, succeedAt: 3, backoff: { type: "exponential", delayMs: 10, jitter: 0.3 } }],
  ["backoffWithinBounds", { attempts: 3, succeedAt: 9, backoff: { delayMs: 15, maxDelayMs: 5, jitter: 1 } }],
  ["backoffWithinBounds", { attempts: 1, succeedAt: 2, backoff: {} }],
  ["cancelInEveryWait", {}],
  ["retryRules", {}],
  ["oneTimer", { delays: [40, 5, 25, 60, 1, 33, 12] }],
  ["validation", {}],
  ["restCreate", {}],
];

const env = useServerAndBrowser();

test("scheduling in Chromium: every case of scheduling-cases.mjs on the web build", { timeout: 180_000 }, async () => {
  const { browser, server } = env;
  // The cases build absolute `Request`s to http://localhost; any origin works for fetch() here.
  const { page, pageErrors } = await openBlankPage(browser, server.url, {
    prefix: "__scheduling",
    html: "<!doctype html><title>execman scheduling</title>",
    modules: { "scheduling-cases.mjs": CASES },
  });
  const results = await page.evaluate(async (runs) => {
    const cases = await import("/__scheduling/scheduling-cases.mjs");
    const { default: init, ExecutionManager } = await import("/pkg/web/execman.js");
    await init();
    const out = [];
    for (const [name, params] of runs) {
      const t0 = performance.now();
      try {
        await cases[name](ExecutionManager, params);
        out.push({ name, ok: true, ms: Math.round(performance.now() - t0) });
      } catch (e) {
        out.push({ name, ok: false, error: `${e?.name}: ${e?.message}` });
      }
    }
    return out;
  }, RUNS);
  for (const r of results)
    console.log(`${r.ok ? "ok  " : "FAIL"} ${r.name} ${r.ok ? `${r.ms} ms` : r.error} (chromium)`);
  assert.deepEqual(pageErrors, [], "no uncaught error in the page");
  assert.deepEqual(
    results.filter((r) => !r.ok),
    [],
    "every case passed",
  );
  assert.equal(results.length, RUNS.length);
  await page.close();
});
