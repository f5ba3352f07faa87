// The Web Worker example (www/worker.html) in headless Chromium: a dedicated module worker owns
// the ExecutionManager; the page starts executions there from its form, cancels one, and shows
// the progress and final statuses the worker posts back.
//
// Run: node --test tests/browser/      (needs pkg/ built and /usr/bin/chromium)

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { openBrowser, screenshot } from "./helpers.mjs";

/** @type {Awaited<ReturnType<typeof openBrowser>>} */
let b;
before(async () => {
  b = await openBrowser();
});
after(async () => {
  await b?.close();
});

/** What the row named `name` shows. */
const readRow = (page, name) =>
  page.evaluate((name) => {
    const tr = [...document.querySelectorAll("tr[data-testid=row]")].find(
      (r) => r.querySelector("[data-testid=name]")?.textContent === name,
    );
    if (!tr) return null;
    const text = (sel) => tr.querySelector(sel)?.textContent ?? null;
    return {
      id: tr.dataset.id,
      status: text("[data-testid=status]"),
      percentage: text("[data-testid=percentage]"),
      detail: text("[data-testid=detail]"),
      error: text("[data-testid=error]"),
      attempt: text("[data-testid=attempt]"),
      cancelVisible: /** @type {HTMLElement} */ (tr.querySelector("button[data-action=cancel]")).checkVisibility(),
    };
  }, name);

async function startFromForm(page, { target, size, fail = false }) {
  await page.selectOption("[data-testid=target]", target);
  await page.selectOption("[data-testid=size]", size);
  await page.setChecked("[data-testid=fail]", fail);
  await page.click("[data-testid=start]");
}

test("worker: executions run in a dedicated worker; the page shows their progress and final statuses", async () => {
  const { page, url, problems } = b;
  const workers = [];
  page.on("worker", (w) => workers.push(w.url()));
  await page.goto(`${url}worker.html`);
  await page.waitForFunction(() => window.__workerDemo?.ready === true);
  assert.deepEqual(workers, [`${url}worker.js`], "one dedicated worker, loaded as worker.js");
  assert.equal(await page.textContent("[data-testid=engine]"), "worker ready · concurrency 4");
  // The page itself never loads the wasm: only the worker does.
  assert.equal(
    await page.evaluate(() => performance.getEntriesByType("resource").some((r) => r.name.endsWith(".wasm"))),
    false,
  );

  await startFromForm(page, { target: "download", size: "small" }); // 2 s
  await startFromForm(page, { target: "download", size: "small", fail: true }); // fails at 50%
  await startFromForm(page, { target: "download", size: "large" }); // 12 s: cancelled below
  await startFromForm(page, { target: "primes", size: "medium" }); // CPU-bound, below 1,500,000
  await page.waitForFunction(() => document.querySelector("[data-testid=count-total]")?.textContent === "4");

  // Progress reaches the page while the executions run in the worker.
  const midway = await page.waitForFunction(() => {
    const tr = [...document.querySelectorAll("tr[data-testid=row]")].find(
      (r) => r.querySelector("[data-testid=name]")?.textContent === "download #1 · small",
    );
    const pct = tr?.querySelector("[data-testid=percentage]")?.textContent ?? "";
    return tr?.dataset.status === "running" && /^[1-9]\d?%$/.test(pct) ? pct : false;
  });
  console.log(`download #1 seen running at ${await midway.jsonValue()}`);
  await page.waitForFunction(() =>
    [...document.querySelectorAll("tr[data-testid=row]")].some(
      (r) =>
        r.querySelector("[data-testid=name]")?.textContent === "download #3 · large" &&
        /^[1-9]\d?%$/.test(r.querySelector("[data-testid=percentage]")?.textContent ?? ""),
    ),
  );
  const large = await readRow(page, "download #3 · large");
  assert.equal(large.status, "running");
  assert.equal(large.cancelVisible, true);
  assert.match(large.detail, /^\d+ MB \/ 100 MB$/);

  // Cancel from the page: a message to the worker, which cancels there.
  await page.locator(`tr[data-id="${large.id}"]`).getByRole("button", { name: "Cancel download #3 · large" }).click();

  await page.waitForFunction(
    () => {
      const n = (s) => document.querySelector(`[data-testid=count-${s}]`)?.textContent;
      return n("total") === "4" && n("pending") === "0" && n("running") === "0";
    },
    null,
    { timeout: 20_000 },
  );
  await page.waitForTimeout(50);

  const counts = await page.evaluate(() =>
    Object.fromEntries(
      ["total", "pending", "running", "completed", "failed", "cancelled"].map((s) => [
        s,
        document.querySelector(`[data-testid=count-${s}]`)?.textContent,
      ]),
    ),
  );
  assert.deepEqual(counts, { total: "4", pending: "0", running: "0", completed: "2", failed: "1", cancelled: "1" });

  const done = await readRow(page, "download #1 · small");
  assert.equal(done.status, "completed");
  assert.equal(done.percentage, "100%");
  assert.equal(done.detail, "100 MB / 100 MB");
  assert.equal(done.cancelVisible, false);

  const failed = await readRow(page, "download #2 · small");
  assert.equal(failed.status, "failed");
  assert.equal(failed.error, "HANDLER_ERROR · Error: HTTP 502 from mirror after 50%");
  assert.equal(failed.percentage, "45%", "the last progress before the failure");

  const cancelled = await readRow(page, "download #3 · large");
  assert.equal(cancelled.status, "cancelled");
  assert.equal(cancelled.detail, "Cancelled: user pressed Cancel");
  assert.equal(cancelled.cancelVisible, false);

  const primes = await readRow(page, "primes #4 · medium");
  assert.equal(primes.status, "completed");
  assert.equal(primes.percentage, "100%");
  assert.equal(primes.detail, "114,155 primes below 1,500,000", "π(1.5e6) = 114155, computed in the worker");

  // An ExecutionError raised in the worker crosses postMessage with its code, and is shown.
  await page.evaluate(() => window.__workerDemo.cancel("no-such-id"));
  const alert = await page.locator("[data-testid=alert]").first().textContent();
  assert.match(alert, /Cancel no-such-id — ExecutionError · NOT_FOUND/);
  assert.match(alert, /no-such-id/);
  await page.click("[data-testid=alert] .alert-close");

  // The main thread kept drawing frames while the worker computed.
  const gaps = await page.evaluate(() => window.__workerDemo.frames());
  const longest = Math.max(...gaps);
  console.log(`main thread: ${gaps.length} frames recorded, longest gap ${longest.toFixed(1)} ms`);

  const shot = await screenshot(page, "worker.png");
  console.log(`screenshot: ${shot}`);

  // Still usable: clear the finished ones in the worker.
  await page.click("[data-testid=clear]");
  await page.waitForFunction(() => document.querySelector("[data-testid=count-total]")?.textContent === "0");
  assert.equal(await page.textContent("[data-testid=status-line]"), "Removed 4 finished executions.");

  // The scheduling fields of a request cross postMessage as they are; the shared table shows them.
  const scheduled = await page.evaluate(() =>
    window.__workerDemo.call({
      type: "start",
      request: {
        targetId: "download",
        inputs: { name: "scheduled download", durationMs: 300 },
        priority: 4,
        delayMs: 1500,
        retry: { attempts: 2, backoff: { type: "exponential", delayMs: 100 } },
      },
    }),
  );
  assert.equal(scheduled.status, "pending");
  assert.deepEqual([scheduled.priority, scheduled.attempt, scheduled.maxAttempts], [4, 0, 2]);
  assert.equal(scheduled.runAt - scheduled.createdAt, 1500);
  await page.waitForFunction(() =>
    [...document.querySelectorAll("tr[data-testid=row]")].some((r) =>
      /^Delayed: due in [12] s$/.test(r.querySelector("[data-testid=detail]")?.textContent ?? ""),
    ),
  );
  const waiting = await readRow(page, "scheduled download");
  assert.equal(waiting.status, "pending");
  assert.equal(waiting.attempt, "0 / 2");
  await page.waitForFunction(
    (id) => document.querySelector(`tr[data-id="${id}"]`)?.dataset.status === "completed",
    scheduled.id,
  );
  const ran = await readRow(page, "scheduled download");
  assert.equal(ran.attempt, "1 / 2");
  assert.equal(ran.detail, "100 MB / 100 MB");

  const unexpected = problems.filter((p) => !p.includes("no-such-id"));
  assert.deepEqual(unexpected, [], "no console errors, page errors or failed requests");
});
