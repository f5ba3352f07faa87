// The dashboard (www/index.html) in its remote mode, in headless Chromium: pointed at an execman
// server (execman/server on 127.0.0.1 with the dashboard's targets, CORS granted to the page's
// origin, as `npm run demo -- --serve` sets it up) by ?server=URL. It lists over REST and follows
// changes with one EventSource instead of polling. What the page shows is asserted against what
// the server's manager holds; the server's request log shows what the page asked for.
//
// - The wasm is not loaded; the chip says the stream is live; one GET /api/v1/events.
// - Three executions started from the form (POST), one cancelled from its row: badges, live
//   percentages and counts as the manager has them.
// - An execution created on the server by someone else appears by itself (the stream).
// - Idle: no request for the page or the counts while nothing changes (elapsed times still tick).
// - A taken id shows the server's ALREADY_EXISTS; "Clear finished" DELETEs the finished ones.
// - The Server field: an address that is not a URL is refused with an alert.
//
// Run: node --test tests/browser/dashboard-remote.test.mjs   (needs pkg/ built, the package
// installed in node_modules as scripts/test.sh does, and /usr/bin/chromium)

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ExecutionManager } from "execman";
import { serve } from "execman/server";
import { startServer } from "../../scripts/serve.mjs";
import { registerTargets } from "../../www/targets.js";
import { checkPrerequisites, launchChromium, screenshot } from "./helpers.mjs";

/** @type {ExecutionManager} */
let manager;
/** @type {Awaited<ReturnType<typeof serve>>} */
let api;
/** @type {Awaited<ReturnType<typeof startServer>>} */
let web;
/** @type {import("playwright-core").Browser} */
let browser;
/** Requests the API server received: "METHOD /path?query". */
const log = [];
const problems = [];

before(async () => {
  checkPrerequisites();
  manager = new ExecutionManager({ concurrency: 10 });
  registerTargets(manager);
  web = await startServer({ port: 0 });
  api = await serve({ manager, cors: { origin: new URL(web.url).origin } });
  api.server.on("request", (req) => log.push(`${req.method} ${req.url}`));
  browser = await launchChromium(30_000);
});

after(async () => {
  await browser?.close().catch(() => {});
  await api?.close();
  await web?.close();
  manager?.free();
});

async function startFromForm(page, { target, duration, failure, id }) {
  await page.selectOption("[data-testid=target]", target);
  await page.fill("[data-testid=duration]", String(duration));
  await page.fill("[data-testid=failure]", String(failure));
  await page.fill("[data-testid=count]", "1");
  await page.fill("[data-testid=custom-id]", id ?? "");
  await page.click("[data-testid=start]");
}

const rowStatus = (page, id) =>
  page.evaluate((id) => document.querySelector(`tr[data-id="${CSS.escape(id)}"]`)?.dataset.status ?? null, id);
const pageCounts = (page) =>
  page.evaluate(() =>
    Object.fromEntries(
      ["pending", "running", "completed", "failed", "cancelled", "total"].map((s) => [
        s,
        Number(document.querySelector(`[data-testid=count-${s}]`)?.textContent?.replace(/,/g, "")),
      ]),
    ),
  );
/** How many requests for the page or the counts the server has had. */
const reads = () => log.filter((l) => /^GET \/api\/v1\/(executions\?|counts)/.test(l)).length;

test("remote dashboard: lists over REST, follows the server with EventSource, never polls", {
  timeout: 90_000,
}, async () => {
  const page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
  page.setDefaultTimeout(15_000);
  const requested = [];
  page.on("request", (req) => requested.push(req.url()));
  page.on("pageerror", (err) => problems.push(`pageerror: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error") problems.push(`console.error: ${msg.text()}`);
  });

  await page.goto(`${web.url}?server=${api.url}`);
  await page.waitForFunction(() => window.__execman?.ready === true);
  await page.waitForFunction(() => /· live$/.test(document.querySelector("[data-testid=engine]")?.textContent ?? ""));
  assert.equal(await page.textContent("[data-testid=engine]"), `remote · ${api.url} · live`);
  assert.equal(await page.inputValue("[data-testid=server-url]"), api.url);
  assert.equal(await page.textContent("[data-testid=empty]"), "No executions yet. Start one with the form.");
  assert.ok(!requested.some((u) => u.endsWith(".wasm")), "remote mode does not load the wasm");
  assert.deepEqual(
    log.filter((l) => l.startsWith("GET /api/v1/events")),
    ["GET /api/v1/events?throttle_ms=250"],
  );

  // ── Three executions from the form, one cancelled from its row ─────────────
  await startFromForm(page, { id: "r-upload", target: "upload", duration: 1.2, failure: 0 });
  await startFromForm(page, { id: "r-fail", target: "transcode", duration: 1.2, failure: 100 });
  await startFromForm(page, { id: "r-cancel", target: "upload", duration: 10, failure: 0 });
  await page.waitForFunction(() => document.querySelector("[data-testid=count-total]")?.textContent === "3");
  assert.equal(manager.counts().total, 3);
  assert.deepEqual(
    log.filter((l) => l.startsWith("POST")),
    ["POST /api/v1/executions", "POST /api/v1/executions", "POST /api/v1/executions"],
  );
  // Live progress from the stream: a percentage below 100 while it runs.
  await page.waitForFunction(() => {
    const tr = document.querySelector('tr[data-id="r-cancel"]');
    return (
      tr?.dataset.status === "running" &&
      /^[1-9]\d?%$/.test(tr.querySelector("[data-testid=percentage]")?.textContent ?? "")
    );
  });
  await page
    .locator('tr[data-id="r-cancel"]')
    .getByRole("button", { name: /^Cancel / })
    .click();
  await page.waitForFunction(() => {
    const n = (s) => Number(document.querySelector(`[data-testid=count-${s}]`)?.textContent);
    return n("total") === 3 && n("pending") === 0 && n("running") === 0;
  });
  await page.waitForTimeout(100); // a frame more, so the rows are painted too
  assert.deepEqual(await pageCounts(page), { ...manager.counts() });
  assert.deepEqual(await pageCounts(page), { pending: 0, running: 0, completed: 1, failed: 1, cancelled: 1, total: 3 });
  assert.equal(await rowStatus(page, "r-upload"), "completed");
  assert.equal(await rowStatus(page, "r-fail"), "failed");
  assert.equal(await rowStatus(page, "r-cancel"), "cancelled");
  assert.equal(manager.status("r-cancel")?.cancelReason, "user pressed Cancel");
  const failure = manager.status("r-fail")?.error;
  assert.equal(
    await page.textContent('tr[data-id="r-fail"] [data-testid=error]'),
    `${failure?.code} · ${failure?.name}: ${failure?.message}`,
  );
  assert.equal(
    await page.textContent('tr[data-id="r-cancel"] [data-testid=percentage]'),
    `${Math.floor(manager.status("r-cancel")?.progress?.percentage ?? 0)}%`,
    "the page shows the server's percentage",
  );
  console.log(`screenshot (remote): ${await screenshot(page, "dashboard-remote.png")}`);

  // ── Someone else's execution appears by itself ─────────────────────────────
  manager.create({ targetId: "report", id: "from-elsewhere", inputs: { durationMs: 600 } });
  await page.waitForFunction(
    () => document.querySelector('tr[data-id="from-elsewhere"]')?.dataset.status === "completed",
  );

  // ── Idle: nothing is asked for while nothing changes ────────────────────────
  await page.waitForTimeout(300);
  const before = reads();
  await page.waitForTimeout(1500);
  assert.equal(reads(), before, "no request for the page or the counts while idle");

  // ── The server's errors are shown; Clear finished DELETEs ───────────────────
  await startFromForm(page, { id: "r-upload", target: "upload", duration: 1, failure: 0 });
  const alert = page.locator("[data-testid=alert]").first();
  await alert.waitFor();
  assert.match(await alert.textContent(), /ExecutionError · ALREADY_EXISTS.*r-upload/);
  await page.click("[data-testid=alert] .alert-close");
  await page.click("[data-testid=clear]");
  await page.waitForFunction(
    () => document.querySelector("[data-testid=status-line]")?.textContent === "Removed 4 finished executions.",
  );
  await page.waitForSelector("[data-testid=empty]");
  assert.equal(manager.counts().total, 0);
  assert.equal(log.filter((l) => l.startsWith("DELETE")).length, 4);

  // ── The Server field refuses what is not an address ─────────────────────────
  await page.fill("[data-testid=server-url]", "not a server");
  await page.click("[data-testid=connect]");
  await alert.waitFor();
  assert.match(await alert.textContent(), /Cannot connect — TypeError.*not a URL/);
  assert.equal(new URL(page.url()).searchParams.get("server"), api.url, "the page stayed");

  const expected = ["already exists", "not a URL", "409 (Conflict)"];
  assert.deepEqual(
    problems.filter((p) => !expected.some((e) => p.includes(e))),
    [],
    "no other console error or page error",
  );
  await page.close();
  // The page's stream went with it.
  const INTERNALS = Symbol.for("execman.internals");
  const deadline = Date.now() + 5000;
  while (/** @type {any} */ (manager)[INTERNALS]().clients > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.equal(/** @type {any} */ (manager)[INTERNALS]().clients, 0);
});
