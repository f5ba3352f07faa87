// Durable managers in Chromium: indexedDBStore on the web build (pkg/web/execman.js after
// `await init()`), in blank pages served by scripts/serve.mjs's startServer.
// - executions survive a reload of the page (every field);
// - a page closed while handlers run: the next page finds them INTERRUPTED (or retried);
// - two tabs: the second open rejects STORE_ERROR (Web Locks), and succeeds once the first closed;
// - a full quota (lowered through the DevTools protocol): flush() rejects STORE_ERROR, the manager
//   goes on.
//
// Run: node --test tests/browser/durable.test.mjs   (needs pkg/ built and /usr/bin/chromium)
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { chromium } from "playwright-core";
import { CHROMIUM, openBlankPage, useServerAndBrowser } from "./helpers.mjs";

const env = useServerAndBrowser();

/** A blank page of the server's origin with `execman` (the web build, initialised) on `window`. */
async function blankPage(context) {
  const { page, pageErrors: errors } = await openBlankPage(context, env.server.url, {
    prefix: "__durable",
    html: "<!doctype html><title>execman durable</title>",
  });
  await load(page);
  return { page, errors };
}

async function load(page) {
  await page.evaluate(async () => {
    const m = await import("/pkg/web/execman.js");
    await m.default();
    window.execman = m;
  });
}

/** Every execution of the page's `window.manager`, in creation order. */
const listAll = (page) =>
  page.evaluate(() => {
    const out = [];
    let p = window.manager.list({ order: "asc", pageSize: 1000 });
    for (;;) {
      out.push(...p.items);
      if (!p.hasNext) return out;
      p = window.manager.list({ order: "asc", pageSize: 1000, cursor: p.nextCursor });
    }
  });

test("IndexedDB: executions survive a reload of the page", { timeout: 60_000 }, async () => {
  const context = await env.browser.newContext();
  const { page, errors } = await blankPage(context);
  await page.evaluate(async () => {
    const { ExecutionManager, indexedDBStore } = window.execman;
    const m = await ExecutionManager.open({ store: indexedDBStore("reload") });
    window.manager = m;
    m.register("ok", async (inputs, ctx) => {
      ctx.progress(1, 2, "half");
      return { echo: inputs };
    });
    m.register("later", () => "ran after the reload");
    m.create({ targetId: "ok", id: "done", inputs: { a: [1, "é"] }, priority: 3 });
    m.create({ targetId: "later", id: "delayed", delayMs: 400, priority: 2 });
    m.track({ targetId: "remote", id: "tracked", config: { timeoutMs: 600000 } });
    m.start("tracked");
    m.reportProgress("tracked", 3, 9, "a third");
    m.track({ targetId: "remote", id: "failed" });
    m.start("failed");
    m.fail("failed", { code: "REMOTE", message: "broke" });
    await m.wait("done");
    await m.flush();
  });
  const before = await listAll(page);
  assert.equal(before.length, 4);
  await page.reload();
  await load(page);
  await page.evaluate(async () => {
    const { ExecutionManager, indexedDBStore } = window.execman;
    window.manager = await ExecutionManager.open({ store: indexedDBStore("reload") });
  });
  assert.deepEqual(await listAll(page), before, "every execution as it was");
  // The pending one runs once its target is registered again.
  const result = await page.evaluate(async () => {
    window.manager.register("later", () => "ran after the reload");
    return (await window.manager.wait("delayed")).result;
  });
  assert.equal(result, "ran after the reload");
  await page.evaluate(() => window.manager.close());
  assert.deepEqual(errors, []);
  await context.close();
});

test("IndexedDB: a page closed while handlers run; the next page finds them interrupted or retried", {
  timeout: 60_000,
}, async () => {
  const context = await env.browser.newContext();
  const first = await blankPage(context);
  await first.page.evaluate(async () => {
    const { ExecutionManager, indexedDBStore } = window.execman;
    const m = await ExecutionManager.open({ store: indexedDBStore("closed") });
    window.manager = m;
    m.register("forever", () => new Promise(() => {}));
    m.register("retried", () => new Promise(() => {}), { retry: { attempts: 2 } });
    m.create({ targetId: "forever", id: "a" });
    m.create({ targetId: "retried", id: "b" });
    while (m.counts().running < 2) await new Promise((r) => setTimeout(r, 5));
    // No flush: the batches are written at the end of each task by themselves.
    await new Promise((r) => setTimeout(r, 100));
  });
  await first.page.close();
  const second = await blankPage(context);
  const restored = await second.page.evaluate(async () => {
    const { ExecutionManager, indexedDBStore } = window.execman;
    // The first page's lock goes with it; the browser may take a moment to release it.
    for (let i = 0; ; i++) {
      try {
        window.manager = await ExecutionManager.open({ store: indexedDBStore("closed") });
        break;
      } catch (e) {
        if (e.code !== "STORE_ERROR" || i > 100) throw e;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    const x = (id) => {
      const e = window.manager.status(id);
      return { status: e.status, code: e.error?.code, attempt: e.attempt };
    };
    return { a: x("a"), b: x("b") };
  });
  assert.deepEqual(restored.a, { status: "failed", code: "INTERRUPTED", attempt: 1 });
  assert.deepEqual(restored.b, { status: "pending", code: "INTERRUPTED", attempt: 1 });
  await second.page.evaluate(() => window.manager.close());
  assert.deepEqual(second.errors, []);
  await context.close();
});

test("IndexedDB: a second tab gets STORE_ERROR while the first has the store open", { timeout: 60_000 }, async () => {
  const context = await env.browser.newContext();
  const one = await blankPage(context);
  const two = await blankPage(context);
  await one.page.evaluate(async () => {
    const { ExecutionManager, indexedDBStore } = window.execman;
    window.manager = await ExecutionManager.open({ store: indexedDBStore("tabs") });
    window.manager.track({ targetId: "remote", id: "from-tab-one" });
    await window.manager.flush();
  });
  const refused = await two.page.evaluate(async () => {
    const { ExecutionManager, indexedDBStore } = window.execman;
    try {
      await ExecutionManager.open({ store: indexedDBStore("tabs") });
      return null;
    } catch (e) {
      return { name: e.name, code: e.code, message: e.message };
    }
  });
  assert.equal(refused?.code, "STORE_ERROR");
  assert.equal(refused.name, "ExecutionError");
  assert.match(refused.message, /in use/);
  await one.page.evaluate(() => window.manager.close());
  const ids = await two.page.evaluate(async () => {
    const { ExecutionManager, indexedDBStore } = window.execman;
    const m = await ExecutionManager.open({ store: indexedDBStore("tabs") });
    const ids = m.list().items.map((x) => x.id);
    await m.close();
    return ids;
  });
  assert.deepEqual(ids, ["from-tab-one"]);
  await context.close();
});

test("IndexedDB: a full quota makes flush() reject STORE_ERROR, and the manager goes on", {
  timeout: 60_000,
}, async () => {
  // A profile on disk: Chromium enforces an overridden quota there (not in an incognito context).
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "execman-quota-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu"],
    timeout: 60_000,
  });
  const { page } = await blankPage(context);
  const cdp = await context.newCDPSession(page);
  const origin = new URL(env.server.url).origin;
  await cdp.send("Storage.overrideQuotaForOrigin", { origin, quotaSize: 512 * 1024 });
  const report = await page.evaluate(async () => {
    const { ExecutionManager, indexedDBStore } = window.execman;
    const m = await ExecutionManager.open({ store: indexedDBStore("quota"), maxFinished: 1_000_000 });
    let error = null;
    let flushed = 0;
    let i = 0;
    while (error === null && i < 5000) {
      m.track({ targetId: "remote", id: `x${i}`, inputs: { pad: "p".repeat(4000) } });
      i++;
      if (i % 10 === 0) {
        try {
          await m.flush();
          flushed = i;
        } catch (e) {
          error = { name: e.name, code: e.code, message: e.message };
        }
      }
    }
    const works = m.counts().total === i && m.status("x0") !== undefined;
    await m.close().catch(() => {});
    return { error, flushed, held: i, works };
  });
  assert.equal(report.error?.code, "STORE_ERROR", JSON.stringify(report));
  assert.match(report.error.message, /IndexedDB store "quota"/);
  assert.ok(report.flushed > 0 && report.held > report.flushed, JSON.stringify(report));
  assert.equal(report.works, true);
  // Everything flushed before is there.
  await cdp.send("Storage.overrideQuotaForOrigin", { origin });
  const kept = await page.evaluate(async (flushed) => {
    const { ExecutionManager, indexedDBStore } = window.execman;
    const m = await ExecutionManager.open({ store: indexedDBStore("quota") });
    let ok = true;
    for (let i = 0; i < flushed; i++) ok &&= m.status(`x${i}`) !== undefined;
    await m.close();
    return ok;
  }, report.flushed);
  assert.equal(kept, true);
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
});

test("the dashboard keeps its executions across a reload and shows the interrupted ones", {
  timeout: 90_000,
}, async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${env.server.url}?concurrency=3`);
  await page.waitForFunction(() => window.__execman?.ready === true);
  assert.equal(await page.textContent("[data-testid=engine]"), "wasm ready · concurrency 3 · kept in IndexedDB");
  // Six executions of 3–10 s: three run, three wait.
  await page.evaluate(() => window.__execman.startMany(6));
  await page.waitForFunction(() => window.__execman.manager.counts().running === 3);
  const before = await page.evaluate(() =>
    window.__execman.manager.list({ order: "asc", pageSize: 100 }).items.map((x) => ({ id: x.id, status: x.status })),
  );
  await page.evaluate(() => window.__execman.manager.flush());
  await page.reload();
  await page.waitForFunction(() => window.__execman?.ready === true);
  const chip = await page.textContent("[data-testid=engine]");
  assert.match(chip, /kept in IndexedDB · 6 restored, \d interrupted/);
  const after = await page.evaluate(() =>
    window.__execman.manager
      .list({ order: "asc", pageSize: 100 })
      .items.map((x) => ({ id: x.id, status: x.status, code: x.error?.code ?? null })),
  );
  assert.deepEqual(
    after.map((x) => x.id),
    before.map((x) => x.id),
  );
  for (const [i, x] of after.entries()) {
    if (before[i].status === "running") assert.equal(x.code, "INTERRUPTED", JSON.stringify(x));
  }
  // The interrupted ones are on screen as such.
  await page.waitForFunction(() => document.querySelector("#rows")?.textContent.includes("INTERRUPTED"));
  // A tab that opens the dashboard meanwhile gets a manager that keeps nothing, and says why.
  const other = await context.newPage();
  await other.goto(`${env.server.url}?concurrency=3`);
  await other.waitForFunction(() => window.__execman?.ready === true);
  assert.equal(await other.textContent("[data-testid=engine]"), "wasm ready · concurrency 3");
  assert.match(await other.textContent("[data-testid=alert]"), /STORE_ERROR|in use/);
  assert.deepEqual(errors, []);
  await context.close();
});
