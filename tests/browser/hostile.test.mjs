// Never trap, in the browser: the same hostile-input corpus as tests/js/reliability/hostile.test.mjs
// (tests/js/reliability/hostile-corpus.mjs, which uses no Node API), run in headless Debian
// Chromium against the web build (pkg/web/execman.js after `await init()`), served by
// scripts/serve.mjs's startServer.
// The corpus module and a blank page are served through Playwright routes from this process.
//
// Run: node --test tests/browser/hostile.test.mjs   (needs pkg/ built and /usr/bin/chromium)
import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import { ROOT, openBlankPage, useServerAndBrowser } from "./helpers.mjs";

const CORPUS = path.join(ROOT, "tests/js/reliability/hostile-corpus.mjs");

const env = useServerAndBrowser();

test("never trap in Chromium: every method × every argument position × the hostile corpus, on the web build", {
  timeout: 300_000,
}, async () => {
  const { browser, server } = env;
  const { page, pageErrors } = await openBlankPage(browser, server.url, {
    prefix: "__reliability",
    html: "<!doctype html><title>execman never-trap</title><p>running</p>",
    modules: { "hostile-corpus.mjs": CORPUS },
  });
  const report = await page.evaluate(async () => {
    const { runNeverTrap } = await import("/__reliability/hostile-corpus.mjs");
    const { default: init, ExecutionManager } = await import("/pkg/web/execman.js");
    await init();
    const originalError = console.error;
    console.error = () => {}; // listeners in the corpus may throw; they are reported here
    try {
      return await runNeverTrap(ExecutionManager);
    } finally {
      console.error = originalError;
    }
  });
  console.log(
    `never-trap (chromium ${browser.version()}): ${report.corpus} hostile values × ${report.positions} positions + handle/fetch/handler probes: ` +
      `${report.calls} calls, ${report.succeeded} succeeded, errors ${JSON.stringify(report.errors)}, ${report.traps} traps, ` +
      `${report.failures.length} failures, ${report.ms} ms`,
  );
  assert.deepEqual(pageErrors, [], "no uncaught error in the page");
  assert.equal(report.traps, 0, "no call trapped the instance");
  assert.deepEqual(report.failures, [], "every call succeeded or threw the contract's ExecutionError");
  await page.close();
});
