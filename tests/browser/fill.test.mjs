// The memory budget (maxBytes) in Chromium: every case of tests/js/reliability/fill-cases.mjs (no
// Node API in it) against the web build (pkg/web/execman.js after `await init()`), in a blank page
// served by scripts/serve.mjs's startServer; the cases module is served through a Playwright route.
//
// Run: node --test tests/browser/fill.test.mjs   (needs pkg/ built and /usr/bin/chromium)
import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import { ROOT, openBlankPage, useServerAndBrowser } from "./helpers.mjs";

const CASES = path.join(ROOT, "tests/js/reliability/fill-cases.mjs");

const env = useServerAndBrowser();

test("fill until RESOURCE_EXHAUSTED in Chromium: every case; no trap, every method answers, room again", {
  timeout: 300_000,
}, async () => {
  const { browser, server } = env;
  const { page, pageErrors } = await openBlankPage(browser, server.url, {
    prefix: "__reliability",
    html: "<!doctype html><title>execman fill</title>",
    modules: { "fill-cases.mjs": CASES },
  });
  const report = await page.evaluate(async () => {
    const { runFill } = await import("/__reliability/fill-cases.mjs");
    const { default: init, ExecutionManager } = await import("/pkg/web/execman.js");
    const wasm = await init();
    const lines = [];
    const result = await runFill(ExecutionManager, { log: (line) => lines.push(line) });
    return { ...result, lines, memoryMiB: (wasm.memory.buffer.byteLength / 2 ** 20).toFixed(1) };
  });
  for (const line of report.lines) console.log(`${line} (chromium)`);
  console.log(`fill (chromium ${browser.version()}): wasm memory at the end ${report.memoryMiB} MiB, ${report.ms} ms`);
  assert.deepEqual(pageErrors, [], "no uncaught error in the page");
  assert.deepEqual(report.failures, []);
  await page.close();
});
