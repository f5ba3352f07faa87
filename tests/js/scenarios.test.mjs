// The shared scenarios of signals, watch() and subscribe options (tests/js/watch-scenarios.mjs,
// no Node API in it) on the Node build; tests/browser/watch.test.mjs runs the same file in
// headless Chromium against the web build.
import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { ExecutionManager } from "execman";
import { test } from "./helpers.mjs";
import { runWatchScenarios } from "./watch-scenarios.mjs";

test(
  "signals, watch and subscribe options: the scenarios shared with Chromium",
  async () => {
    const report = await runWatchScenarios(ExecutionManager, {
      listenerCount: (signal) => getEventListeners(signal, "abort").length,
    });
    console.log(`watch scenarios (node): ${report.checks} checks, ${report.failures.length} failures, ${report.ms} ms`);
    assert.deepEqual(report.failures, []);
    assert.ok(report.checks >= 40, `${report.checks} checks ran`);
  },
  { timeout: 60_000 },
);
