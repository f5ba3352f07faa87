// The memory budget (maxBytes) in Chromium: every case of tests/js/reliability/fill-cases.mjs (no
// Node API in it) against the web build (pkg/web/execman.js after `await init()`), in a blank page
// served by scripts/serve.mjs's startServer; the cases module is served through a Playwright route.
//
// Run: node --test tests/browser/fill.test.mjs   (needs pkg/ built and /usr/bin/chromium)
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { startServer } from "../../scripts/serve.mjs";
import { ROOT, checkPrerequisites, launchChromium } from "./helpers.mjs";

const CASES = path.join(ROOT, "tests/js/reliability/fill-cases.mjs");

let server;
let browser;
before(async () => {
  checkPrerequisites();
  server = await startServer({ port: 0 });
  browser = await launchChromium(60_000);
});
after(async () => {
  await browser?.close().catch(() => {});
  await server?.close();
});

test("fill until RESOURCE_EXHAUSTED in Chromium: every case; no trap, every method answers, room again", {
  timeout: 300_000,
}, async () => {
  const page = await browser.newPage();
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(e.message));
  await page.route("**/__reliability/**", (route) => {
    const name = new URL(route.request().url()).pathname.split("/").pop();
    if (name === "fill-cases.mjs")
      return route.fulfill({ status: 200, contentType: "text/javascript", body: fs.readFileSync(CASES, "utf8") });
    return route.fulfill({ status: 200, contentType: "text/html", body: "<!doctype html><title>execman fill</title>" });
  });
  await page.goto(`${server.url}__reliability/blank.html`);
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
