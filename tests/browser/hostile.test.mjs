// Never trap, in the browser: the same hostile-input corpus as tests/js/reliability/hostile.test.mjs
// (tests/js/reliability/hostile-corpus.mjs, which uses no Node API), run in headless Debian
// Chromium against the web build (pkg/web/execman.js after `await init()`), served by
// scripts/serve.mjs's startServer.
// The corpus module and a blank page are served through Playwright routes from this process.
//
// Run: node --test tests/browser/hostile.test.mjs   (needs pkg/ built and /usr/bin/chromium)
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { startServer } from "../../scripts/serve.mjs";
import { ROOT, checkPrerequisites, launchChromium } from "./helpers.mjs";

const CORPUS = path.join(ROOT, "tests/js/reliability/hostile-corpus.mjs");

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

test("never trap in Chromium: every method × every argument position × the hostile corpus, on the web build", {
  timeout: 300_000,
}, async () => {
  const page = await browser.newPage();
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(e.message));
  await page.route("**/__reliability/**", (route) => {
    const name = new URL(route.request().url()).pathname.split("/").pop();
    if (name === "hostile-corpus.mjs")
      return route.fulfill({ status: 200, contentType: "text/javascript", body: fs.readFileSync(CORPUS, "utf8") });
    return route.fulfill({
      status: 200,
      contentType: "text/html",
      body: "<!doctype html><title>execman never-trap</title><p>running</p>",
    });
  });
  await page.goto(`${server.url}__reliability/blank.html`);
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
