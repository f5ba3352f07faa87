// Signals, watch() and filtered, throttled subscribe() in Chromium: the scenarios of
// tests/js/watch-scenarios.mjs (no Node API in it) against the web build (pkg/web/execman.js after
// `await init()`), in a blank page served by scripts/serve.mjs's startServer; the scenarios module
// is served through a Playwright route. Abort listeners are counted by wrapping EventTarget's
// add/removeEventListener before the package loads (it takes them once, when it loads).
//
// Run: node --test tests/browser/watch.test.mjs   (needs pkg/ built and /usr/bin/chromium)
import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import { ROOT, openBlankPage, useServerAndBrowser } from "./helpers.mjs";

const SCENARIOS = path.join(ROOT, "tests/js/watch-scenarios.mjs");

const env = useServerAndBrowser();

test("signals, watch and subscribe options in Chromium: the shared scenarios on the web build", {
  timeout: 120_000,
}, async () => {
  const { browser, server } = env;
  const { page, pageErrors } = await openBlankPage(browser, server.url, {
    prefix: "__watch",
    html: "<!doctype html><title>execman watch</title>",
    modules: { "watch-scenarios.mjs": SCENARIOS },
  });
  const report = await page.evaluate(async () => {
    // Count abort listeners per target, before the package takes EventTarget's methods.
    const add = EventTarget.prototype.addEventListener;
    const remove = EventTarget.prototype.removeEventListener;
    const seen = new WeakMap(); // target -> Set of listeners
    EventTarget.prototype.addEventListener = function (type, listener, ...rest) {
      if (type === "abort") {
        if (!seen.has(this)) seen.set(this, new Set());
        seen.get(this).add(listener);
      }
      return Reflect.apply(add, this, [type, listener, ...rest]);
    };
    EventTarget.prototype.removeEventListener = function (type, listener, ...rest) {
      if (type === "abort") seen.get(this)?.delete(listener);
      return Reflect.apply(remove, this, [type, listener, ...rest]);
    };
    const { runWatchScenarios } = await import("/__watch/watch-scenarios.mjs");
    const { default: init, ExecutionManager } = await import("/pkg/web/execman.js");
    await init();
    return runWatchScenarios(ExecutionManager, { listenerCount: (signal) => seen.get(signal)?.size ?? 0 });
  });
  console.log(
    `watch scenarios (chromium ${browser.version()}): ${report.checks} checks, ${report.failures.length} failures, ${report.ms} ms`,
  );
  assert.deepEqual(pageErrors, [], "no uncaught error in the page");
  assert.deepEqual(report.failures, []);
  assert.ok(report.checks >= 40, `${report.checks} checks ran`);
  await page.close();
});
