// The Service Worker example (www/sw/) in headless Chromium: sw.js owns an ExecutionManager and
// answers /api/v1/* with manager.fetch(); the page drives the REST routes with plain fetch():
// create, progress (204 then 200), polling to completion, list with filters and cursor paging,
// cancel (200 then 409), 404 / 405 / 400 errors, tracked work driven over REST (create with
// Location, start, progress, complete, fail, DELETE, counts, the OpenAPI document, each answer
// judged against the document), a percent-encoded unicode id; then what a stopped
// worker means (its executions are gone). The static server has no /api/v1 routes, so every JSON
// answer below can only come from the worker (which also tags it `x-served-by: execman-sw`).
//
// Run: node --test tests/browser/service-worker.test.mjs   (needs pkg/ built and /usr/bin/chromium)

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ExecutionManager } from "execman";
import { conformance, documentOf } from "../js/openapi-schemas.mjs";
import { openBrowser, screenshot } from "./helpers.mjs";

const API = "/api/v1/executions";

/** @type {Awaited<ReturnType<typeof openBrowser>>} */
let b;
before(async () => {
  b = await openBrowser();
});
after(async () => {
  await b?.close();
});

/**
 * One fetch() from the page. `body`: a value sent as JSON, or a string sent as is.
 * @returns {Promise<{ status: number, body: any, servedBy: string | null, contentType: string | null, allow: string | null, location: string | null }>}
 */
const call = (method, path, body = null) =>
  b.page.evaluate(
    async ([method, path, body]) => {
      const init = { method };
      if (body !== null) {
        init.body = typeof body === "string" ? body : JSON.stringify(body);
        init.headers = { "content-type": "application/json" };
      }
      const response = await fetch(path, init);
      const text = await response.text();
      return {
        status: response.status,
        body: text === "" ? null : JSON.parse(text),
        servedBy: response.headers.get("x-served-by"),
        contentType: response.headers.get("content-type"),
        allow: response.headers.get("allow"),
        location: response.headers.get("location"),
      };
    },
    [method, path, body],
  );

/** Calls `fn` until it returns something truthy (every 50 ms, at most `ms`). */
async function until(fn, what, ms = 5_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await fn();
    if (value) return value;
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const create = async (request) => {
  const r = await call("POST", API, request);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body;
};
const get = (id, tail = "") => call("GET", `${API}/${encodeURIComponent(id)}${tail}`);
const list = (query) => call("GET", `${API}?${query}`);

test("without the worker, the static server has no /api/v1 routes", async () => {
  const response = await fetch(new URL(API.slice(1), b.url));
  assert.equal(response.status, 404);
  assert.match(response.headers.get("content-type"), /^text\/plain/);
  assert.equal(response.headers.get("x-served-by"), null);
  assert.match(await response.text(), /^not found: \/api\/v1\/executions/);
});

test("the worker registers and takes control of the page on first load", async () => {
  const { page, url } = b;
  const fromWorker = [];
  page.on("response", (r) => {
    if (new URL(r.url()).pathname.startsWith("/api/v1/")) fromWorker.push(r.fromServiceWorker());
  });
  await page.goto(`${url}sw/index.html`);
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null && window.__swDemo?.ready === true);
  const sw = await page.evaluate(async () => {
    const registration = await navigator.serviceWorker.getRegistration();
    return { script: navigator.serviceWorker.controller.scriptURL, scope: registration.scope };
  });
  assert.deepEqual(sw, { script: `${url}sw/sw.js`, scope: `${url}sw/` });
  assert.equal(await page.textContent("[data-testid=sw-state]"), "service worker in control");
  // The page's own polling of the list is answered by the worker.
  await until(() => fromWorker.length > 0, "the page's first list request");
  assert.ok(fromWorker.every(Boolean), "every /api/v1 response came from the service worker");
});

test("after a hard reload (uncontrolled page), the page asks the worker to claim it", async () => {
  const { page } = b;
  await page.addInitScript(() => {
    window.__controlledAtStart = navigator.serviceWorker.controller !== null;
  });
  const cdp = await page.context().newCDPSession(page);
  const loaded = page.waitForEvent("load");
  await cdp.send("Page.reload", { ignoreCache: true }); // Shift+Reload: bypasses the worker
  await loaded;
  await page.waitForFunction(() => window.__swDemo?.ready === true);
  assert.deepEqual(
    await page.evaluate(() => [window.__controlledAtStart, navigator.serviceWorker.controller !== null]),
    [false, true],
  );
  await cdp.detach();
});

test("create, 204 before any progress, 200 while running, poll until completed", async () => {
  // The first progress comes 250 ms after the start; POST and GET run back to back in the page.
  const [created, before] = await b.page.evaluate(async (api) => {
    const post = await fetch(api, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ targetId: "countdown", inputs: { steps: 4, stepMs: 250 } }),
    });
    const execution = await post.json();
    const progress = await fetch(`${api}/${execution.id}/progress`);
    return [
      {
        status: post.status,
        servedBy: post.headers.get("x-served-by"),
        contentType: post.headers.get("content-type"),
        execution,
      },
      { status: progress.status, text: await progress.text(), servedBy: progress.headers.get("x-served-by") },
    ];
  }, API);
  assert.equal(created.status, 201);
  assert.equal(created.servedBy, "execman-sw");
  assert.equal(created.contentType, "application/json");
  const { id } = created.execution;
  assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(created.execution.status, "pending");
  assert.equal(created.execution.type, "timer");
  assert.deepEqual(created.execution.inputs, { steps: 4, stepMs: 250 });
  assert.deepEqual(before, { status: 204, text: "", servedBy: "execman-sw" });

  const running = await until(async () => {
    const r = await get(id, "/progress");
    return r.status === 200 && r;
  }, "a 200 progress");
  assert.equal(running.servedBy, "execman-sw");
  assert.equal(running.body.total, 4);
  assert.ok(running.body.current >= 1 && running.body.current <= 4);
  assert.equal(running.body.percentage, running.body.current * 25);
  assert.match(running.body.message, /^step \d of 4$/);

  const done = await until(async () => {
    const r = await get(id);
    assert.equal(r.status, 200);
    return r.body.status === "completed" && r.body;
  }, "completion");
  assert.deepEqual(done.result, { steps: 4, ms: 1000 });
  assert.equal(done.progress.percentage, 100);
  assert.ok(done.startedAt !== null && done.finishedAt >= done.startedAt);
});

test("list with status/type filters and page_size, then cursor paging", async () => {
  const holds = [];
  for (let i = 0; i < 3; i++) holds.push((await create({ targetId: "hold", inputs: { n: i } })).id);
  const flaky = [];
  for (let i = 0; i < 2; i++) flaky.push((await create({ targetId: "flaky", inputs: { ms: 20 } })).id);
  await until(async () => (await list("status=running&type=manual")).body.total === 3, "3 holds running");
  await until(async () => (await list("status=failed")).body.total === 2, "2 flaky failed");

  const first = await list("status=running&type=manual&page_size=2");
  assert.equal(first.status, 200);
  assert.equal(first.servedBy, "execman-sw");
  assert.deepEqual(
    {
      total: first.body.total,
      page: first.body.page,
      pageSize: first.body.pageSize,
      totalPages: first.body.totalPages,
      hasNext: first.body.hasNext,
      n: first.body.items.length,
    },
    { total: 3, page: 1, pageSize: 2, totalPages: 2, hasNext: true, n: 2 },
  );
  assert.ok(first.body.items.every((e) => e.status === "running" && e.type === "manual" && e.targetId === "hold"));
  assert.deepEqual(
    first.body.items.map((e) => e.id),
    [holds[2], holds[1]],
    "newest first",
  );
  assert.equal(typeof first.body.nextCursor, "string");

  const second = await list(
    `status=running&type=manual&page_size=2&cursor=${encodeURIComponent(first.body.nextCursor)}`,
  );
  assert.equal(second.status, 200);
  assert.equal(second.body.page, null, "a page read with a cursor has page null");
  assert.equal(second.body.hasNext, false);
  assert.equal(second.body.nextCursor, null);
  assert.deepEqual(
    second.body.items.map((e) => e.id),
    [holds[0]],
  );

  // Comma-separated and repeated statuses, order=asc, page numbers.
  const failed = await list("status=failed,cancelled&type=timer&order=asc");
  assert.deepEqual(
    failed.body.items.map((e) => [e.id, e.status, e.error.code, e.error.message]),
    flaky.map((id) => [id, "failed", "HANDLER_ERROR", "simulated failure"]),
  );
  const repeated = await list("status=failed&status=completed&type=timer&page_size=1&page=2&order=asc");
  assert.equal(repeated.body.total, 3, "the countdown of the previous test and the 2 flaky");
  assert.deepEqual(
    repeated.body.items.map((e) => e.id),
    [flaky[0]],
  );
  const bad = await list("status=bogus");
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.code, "INVALID_ARGUMENT");

  // Leave nothing running for the next tests' counts.
  for (const id of holds) assert.equal((await call("POST", `${API}/${id}/cancel`)).status, 200);
});

test("cancel a running execution (200), then again (409)", async () => {
  const { id } = await create({ targetId: "hold" });
  await until(async () => (await get(id)).body.status === "running", "running");
  assert.equal((await get(id, "/progress")).status, 204, "hold reports no progress");

  const cancelled = await call("POST", `${API}/${id}/cancel`, { reason: "no longer needed" });
  assert.equal(cancelled.status, 200);
  assert.equal(cancelled.servedBy, "execman-sw");
  assert.equal(cancelled.body.status, "cancelled");
  assert.equal(cancelled.body.cancelReason, "no longer needed");
  assert.equal((await get(id)).body.status, "cancelled");

  const again = await call("POST", `${API}/${id}/cancel`);
  assert.equal(again.status, 409);
  assert.equal(again.body.error.code, "INVALID_TRANSITION");
  assert.match(again.body.error.message, new RegExp(id));
});

test("errors: unknown id 404, wrong method 405, malformed JSON 400, unknown target 404, taken id 409", async () => {
  for (const [method, path] of [
    ["GET", `${API}/no-such-id`],
    ["GET", `${API}/no-such-id/progress`],
    ["POST", `${API}/no-such-id/cancel`],
    ["GET", "/api/v1/nothing-here"],
  ]) {
    const r = await call(method, path);
    assert.equal(r.status, 404, `${method} ${path}`);
    assert.equal(r.body.error.code, "NOT_FOUND");
    assert.equal(r.servedBy, "execman-sw");
    assert.equal(r.contentType, "application/json");
  }

  const { id } = await create({ targetId: "countdown", inputs: { steps: 1, stepMs: 1 } });
  const patch = await call("PATCH", `${API}/${id}`);
  assert.equal(patch.status, 405);
  assert.equal(patch.body.error.code, "METHOD_NOT_ALLOWED");
  assert.equal(patch.allow, "GET, DELETE");
  const put = await call("PUT", API, { targetId: "countdown" });
  assert.equal(put.status, 405);
  assert.equal(put.allow, "GET, POST");
  assert.equal((await call("GET", `${API}/${id}/cancel`)).status, 405);

  for (const text of ["{not json", '{"targetId": "countdown",}', "[1, 2"]) {
    const r = await call("POST", API, text);
    assert.equal(r.status, 400, text);
    assert.equal(r.body.error.code, "INVALID_ARGUMENT");
  }
  const unknown = await call("POST", API, { targetId: "nope" });
  assert.equal(unknown.status, 404);
  assert.equal(unknown.body.error.code, "UNKNOWN_TARGET");
  const taken = await call("POST", API, { targetId: "countdown", id });
  assert.equal(taken.status, 409);
  assert.equal(taken.body.error.code, "ALREADY_EXISTS");
});

test("tracked work driven through the worker: create with Location, start, progress, complete, fail, DELETE, counts, the document", async () => {
  const judge = conformance(documentOf(new ExecutionManager()));
  /** A call whose answer is checked against the OpenAPI document. */
  const judged = async (method, path, body = null) => {
    const r = await call(method, path, body);
    assert.equal(r.servedBy, "execman-sw", `${method} ${path}`);
    /** @type {Record<string, string>} */
    const headers = {};
    if (r.allow !== null) headers.allow = r.allow;
    if (r.location !== null) headers.location = r.location;
    judge.check({ method, path, status: r.status, contentType: r.contentType, headers, body: r.body });
    return r;
  };
  const id = "remote job/1 ✓";
  const at = `${API}/${encodeURIComponent(id)}`;
  const created = await judged("POST", API, { targetId: "render-farm", id, tracked: true, inputs: { frames: 4 } });
  assert.equal(created.status, 201);
  assert.equal(created.body.status, "pending");
  assert.equal(created.location, at);
  assert.deepEqual((await judged("GET", created.location)).body, created.body);

  assert.equal((await judged("POST", `${at}/start`)).body.status, "running");
  assert.equal((await judged("POST", `${at}/start`)).status, 409);
  const reported = await judged("POST", `${at}/progress`, { current: 2, total: 4, message: "frame 2" });
  assert.equal(reported.status, 204);
  assert.equal(reported.body, null);
  const progress = await judged("GET", `${at}/progress`);
  assert.deepEqual([progress.body.current, progress.body.percentage, progress.body.message], [2, 50, "frame 2"]);
  assert.equal((await judged("POST", `${at}/progress`, { current: -1 })).status, 400);
  assert.equal((await judged("DELETE", at)).status, 409, "still running");
  const done = await judged("POST", `${at}/complete`, { result: { frames: 4 } });
  assert.equal(done.body.status, "completed");
  assert.deepEqual(done.body.result, { frames: 4 });
  const removed = await judged("DELETE", at);
  assert.equal(removed.status, 200);
  assert.deepEqual(removed.body, done.body);
  assert.equal((await judged("GET", at)).status, 404);

  await judged("POST", API, { targetId: "render-farm", id: "to-fail", tracked: true });
  await judged("POST", `${API}/to-fail/start`);
  const failed = await judged("POST", `${API}/to-fail/fail`, { error: { message: "node lost", code: "E_NODE" } });
  assert.deepEqual(failed.body.error, { code: "E_NODE", name: "Error", message: "node lost" });

  const counts = await judged("GET", "/api/v1/counts");
  assert.equal(counts.status, 200);
  for (const status of ["pending", "running", "completed", "failed", "cancelled"]) {
    assert.equal(counts.body[status], (await list(`status=${status}&page_size=1`)).body.total, status);
  }
  assert.equal(counts.body.total, (await list("page_size=1")).body.total);
  assert.ok(counts.body.failed >= 1);

  const doc = await judged("GET", "/api/v1/openapi.json");
  assert.equal(doc.body.openapi, "3.1.0");
  const patched = await judged("PATCH", `${API}/to-fail`);
  assert.equal(patched.allow, "GET, DELETE");
  assert.equal((await judged("GET", `${API}/no-such/events`)).status, 404);
  assert.equal((await judged("DELETE", `${API}/to-fail`)).status, 200);
});

test("an execution's event stream through the worker: snapshot, then each change, ending after the terminal one", async () => {
  const id = "streamed/1";
  const at = `${API}/${encodeURIComponent(id)}`;
  await create({ targetId: "render-farm", id, tracked: true });
  const got = await b.page.evaluate(async (at) => {
    const post = (path, body) =>
      fetch(path, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body ?? {}),
      });
    const response = await fetch(`${at}/events`);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    const first = await reader.read(); // the snapshot, before anything is driven
    text += first.value ?? "";
    await post(`${at}/start`);
    await post(`${at}/progress`, { current: 1, total: 2 });
    await post(`${at}/complete`, { result: { ok: true } });
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    return {
      status: response.status,
      contentType: response.headers.get("content-type"),
      servedBy: response.headers.get("x-served-by"),
      text,
    };
  }, at);
  assert.equal(got.status, 200);
  assert.match(got.contentType ?? "", /^text\/event-stream/);
  assert.equal(got.servedBy, "execman-sw");
  const messages = got.text
    .split("\n\n")
    .filter((block) => /^event: /m.test(block))
    .map((block) => ({
      event: /^event: (.*)$/m.exec(block)?.[1],
      data: JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? "null"),
    }));
  assert.deepEqual(
    messages.map((m) => [m.event, m.data.status]),
    [
      ["snapshot", "pending"],
      ["status", "running"],
      ["progress", "running"],
      ["status", "completed"],
    ],
  );
  assert.deepEqual(messages.at(-1)?.data.result, { ok: true });
});

test("a percent-encoded unicode id", async () => {
  const id = "résumé/ジョブ #1 + 100%?";
  const created = await create({ targetId: "hold", id });
  assert.equal(created.id, id);
  const path = `${API}/${encodeURIComponent(id)}`;
  assert.ok(path.includes("r%C3%A9sum%C3%A9%2F%E3%82%B8%E3%83%A7%E3%83%96%20%231%20%2B%20100%25%3F"));
  const got = await call("GET", path);
  assert.equal(got.status, 200);
  assert.equal(got.body.id, id);
  assert.equal((await call("GET", `${path}/progress`)).status, 204);
  const listed = await list("type=manual&status=pending,running");
  assert.deepEqual(
    listed.body.items.map((e) => e.id),
    [id],
  );
  const cancelled = await call("POST", `${path}/cancel`, { reason: "ünïcödé ✓" });
  assert.equal(cancelled.status, 200);
  assert.equal(cancelled.body.id, id);
  assert.equal(cancelled.body.cancelReason, "ünïcödé ✓");
});

test("the page: create, watch and cancel from the UI; other requests still reach the network", async () => {
  const { page, problems } = b;
  // Not /api/v1: the worker lets it through to the static server.
  const css = await page.evaluate(async () => {
    const r = await fetch("./sw.css");
    return { status: r.status, servedBy: r.headers.get("x-served-by") };
  });
  assert.deepEqual(css, { status: 200, servedBy: null });

  await page.selectOption("[data-testid=filter-status]", "");
  await page.click("[data-testid=create-countdown]");
  await page.waitForFunction(() =>
    /status completed/.test(document.querySelector("[data-testid=watch]")?.textContent ?? ""),
  );
  const watched = await page.textContent("[data-testid=raw-progress]");
  assert.equal(JSON.parse(watched).percentage, 100);

  await page.fill("[data-testid=id]", "ui hold ✋");
  await page.click("[data-testid=create-hold]");
  const row = page.locator('tr[data-testid=row][data-id="ui hold ✋"]');
  await row.locator("[data-testid=row-status]", { hasText: "running" }).waitFor();
  await row.locator("[data-testid=row-cancel]").click();
  await row.locator("[data-testid=row-status]", { hasText: "cancelled" }).waitFor();
  assert.equal(
    JSON.parse(await page.textContent("[data-testid=raw-cancel]")).cancelReason,
    "Cancel pressed on the page",
  );
  assert.match(await page.textContent("[data-testid=status-line]"), /^200 · cancelled ui hold ✋$/);

  // Filters go into the list URL (one `status` per value, see app.js).
  await page.selectOption("[data-testid=filter-status]", "pending,running");
  await page.selectOption("[data-testid=filter-type]", "manual");
  await page.waitForFunction(() =>
    document
      .querySelector("[data-testid=list-url]")
      ?.textContent.includes("status=pending&status=running&type=manual&page_size=10"),
  );
  await page.selectOption("[data-testid=filter-status]", "");
  await page.selectOption("[data-testid=filter-type]", "");
  await screenshot(page, "service-worker.png");

  // The 4xx answers above were on purpose (Chromium also logs each one as a console error, with
  // no URL in its text); nothing else went wrong.
  const expected =
    /^(HTTP (400|404|405|409): .*\/api\/v1\/|console\.error: Failed to load resource: the server responded with a status of (400|404|405|409) \(\))/;
  assert.deepEqual(
    problems.filter((p) => !expected.test(p)),
    [],
  );
});

test("when the browser stops the worker, its executions are lost; the next request starts a fresh one", async () => {
  const { id } = await create({ targetId: "hold", id: "lost-on-stop" });
  assert.equal((await get(id)).status, 200);
  // What Chromium does by itself to an idle worker (after ~30 s without events), right now.
  const cdp = await b.page.context().newCDPSession(b.page);
  await cdp.send("ServiceWorker.enable");
  await cdp.send("ServiceWorker.stopAllWorkers");
  await cdp.detach();
  const after = await get(id);
  assert.equal(after.status, 404);
  assert.equal(after.servedBy, "execman-sw", "a restarted worker answered");
  assert.equal((await list("")).body.total, 0, "with an empty manager");
  assert.equal(await b.page.evaluate(() => navigator.serviceWorker.controller !== null), true);
});
