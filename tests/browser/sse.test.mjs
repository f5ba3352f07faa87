// The two Server-Sent Events routes parsed by a real `EventSource` in Chromium, against the Node
// server (execman/server on 127.0.0.1) from a page of another origin it grants CORS to, as the
// remote dashboard uses them. Node drives the manager; the page records every message
// (`type`, `lastEventId`, `data`) and every `error` event.
//
// - An execution's stream: `snapshot`, then `status`/`progress` with increasing ids, each `data`
//   the snapshot at that change; after the terminal snapshot the server ends the stream (the
//   EventSource reports an error and would reconnect: the page closes it, as a client should
//   once it saw a terminal status). Heartbeat comments (every 50 ms here) are no messages.
// - `/api/v1/events?targetId=…&throttle_ms=…`: created, status and throttled progress of the
//   matching executions only; closing the EventSource leaves no listener on the server.
// - An unknown id is a JSON 404: the EventSource fails without reconnecting.
//
// Run: node --test tests/browser/sse.test.mjs   (needs pkg/ built, the package installed in
// node_modules as scripts/test.sh does, and /usr/bin/chromium)
import assert from "node:assert/strict";
import http from "node:http";
import { after, before, test } from "node:test";
import { ExecutionManager } from "execman";
import { serve } from "execman/server";
import { checkPrerequisites, launchChromium } from "./helpers.mjs";

const INTERNALS = Symbol.for("execman.internals");
const counts = () => /** @type {any} */ (manager)[INTERNALS]();

/** @type {ExecutionManager} */
let manager;
/** @type {Awaited<ReturnType<typeof serve>>} */
let api;
/** @type {{ port: number, close: () => Promise<void> }} */
let site;
/** @type {import("playwright-core").Browser} */
let browser;
/** @type {import("playwright-core").Page} */
let page;
const problems = [];

before(async () => {
  checkPrerequisites();
  const server = http.createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/html" });
    res.end(`<!doctype html><meta charset="utf-8"><title>a client</title><p>a client</p>`);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(undefined)));
  site = {
    port: /** @type {import("node:net").AddressInfo} */ (server.address()).port,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  manager = new ExecutionManager();
  /** @type {any} */ (manager)[INTERNALS]({ heartbeatMs: 50 });
  api = await serve({ manager, cors: { origin: `http://127.0.0.1:${site.port}` } });
  browser = await launchChromium(30_000);
  page = await browser.newPage();
  page.setDefaultTimeout(15_000);
  page.on("pageerror", (err) => problems.push(`pageerror: ${err.message}`));
  await page.goto(`http://127.0.0.1:${site.port}/`);
  // The page's recorder: one EventSource per name, what it received, its errors.
  await page.evaluate(() => {
    /** @type {any} */
    const w = window;
    w.streams = {};
    w.follow = (/** @type {string} */ name, /** @type {string} */ url, /** @type {string[]} */ types) => {
      const source = new EventSource(url);
      const s = { source, got: /** @type {any[]} */ ([]), errors: 0, opened: 0, states: /** @type {number[]} */ ([]) };
      for (const type of types) {
        source.addEventListener(type, (e) => {
          const m = /** @type {MessageEvent} */ (e);
          s.got.push({ type: m.type, id: m.lastEventId, data: JSON.parse(m.data) });
        });
      }
      source.onmessage = (e) => s.got.push({ type: "message", id: e.lastEventId, data: e.data });
      source.onopen = () => s.opened++;
      source.onerror = () => {
        s.errors++;
        s.states.push(source.readyState);
      };
      w.streams[name] = s;
    };
  });
});

after(async () => {
  await browser?.close().catch(() => {});
  await api?.close();
  await site?.close();
  manager?.free();
});

/** Waits in Node until `pred()` holds, failing after `ms`. */
async function until(/** @type {() => boolean | Promise<boolean>} */ pred, /** @type {string} */ what, ms = 10_000) {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** @param {string} name */
const stream = (name) =>
  page.evaluate((n) => {
    const s = /** @type {any} */ (window).streams[n];
    return { got: s.got, errors: s.errors, opened: s.opened, states: s.states, readyState: s.source.readyState };
  }, name);

test("an execution's stream in EventSource: snapshot, changes, the end after the terminal snapshot", {
  timeout: 60_000,
}, async () => {
  manager.track({ targetId: "render", id: "scene 7/é" });
  const url = `${api.url}/api/v1/executions/${encodeURIComponent("scene 7/é")}/events`;
  await page.evaluate(
    (u) => /** @type {any} */ (window).follow("one", u, ["snapshot", "status", "progress", "removed"]),
    url,
  );
  await until(async () => (await stream("one")).got.length === 1, "the snapshot");
  const snapshots = [manager.status("scene 7/é")];
  manager.start("scene 7/é");
  snapshots.push(manager.status("scene 7/é"));
  for (let i = 1; i <= 3; i++) {
    manager.reportProgress("scene 7/é", i, 4, `tile ${i}`);
    snapshots.push(manager.status("scene 7/é"));
  }
  // Idle for a few heartbeats: comments, not messages.
  await new Promise((resolve) => setTimeout(resolve, 250));
  manager.complete("scene 7/é", { frames: 1 });
  snapshots.push(manager.status("scene 7/é"));
  // The server ends the stream after the terminal snapshot: EventSource reports an error.
  await until(async () => (await stream("one")).errors > 0, "the end of the stream");
  const s = await stream("one");
  await page.evaluate(() => /** @type {any} */ (window).streams.one.source.close());
  assert.equal(s.opened, 1);
  assert.deepEqual(
    s.got.map((m) => `${m.id} ${m.type}`),
    ["1 snapshot", "2 status", "3 progress", "4 progress", "5 progress", "6 status"],
  );
  assert.deepEqual(
    s.got.map((m) => m.data),
    snapshots,
    "each message carries the execution as it was after that change",
  );
  assert.equal(s.got.at(-1).data.status, "completed");
  assert.equal(s.states[0], 0, "after the end the EventSource is CONNECTING again (a client closes it)");
  await until(() => counts().clients === 0, "no stream left on the server");
  assert.deepEqual(counts(), { listeners: 0, watches: 0, streams: 0, clients: 0 });
});

test("/api/v1/events in EventSource: the matching executions' changes, throttled; closing it leaves no listener", {
  timeout: 60_000,
}, async () => {
  const url = `${api.url}/api/v1/events?targetId=render&throttle_ms=200`;
  await page.evaluate(
    (u) => /** @type {any} */ (window).follow("all", u, ["created", "status", "progress", "removed"]),
    url,
  );
  await until(async () => (await stream("all")).opened === 1, "the stream open");
  assert.equal(counts().clients, 1);
  manager.track({ targetId: "render", id: "r1" });
  manager.track({ targetId: "encode", id: "e1" }); // another target: not on this stream
  manager.start("r1");
  for (let i = 1; i <= 10; i++) manager.reportProgress("r1", i, 10); // one window: the first, then the latest
  await until(async () => (await stream("all")).got.length === 4, "four messages");
  manager.complete("r1");
  manager.remove("r1");
  await until(async () => (await stream("all")).got.length === 6, "six messages");
  await new Promise((resolve) => setTimeout(resolve, 200)); // anything more would show now
  const s = await stream("all");
  assert.deepEqual(
    s.got.map((m) => `${m.id} ${m.type} ${m.data.id} ${m.data.status} ${m.data.progress?.current ?? "-"}`),
    [
      "1 created r1 pending -",
      "2 status r1 running -",
      "3 progress r1 running 1",
      "4 progress r1 running 10",
      "5 status r1 completed 10",
      "6 removed r1 completed 10",
    ],
  );
  assert.equal(s.errors, 0, "still open");
  await page.evaluate(() => /** @type {any} */ (window).streams.all.source.close());
  await until(() => counts().clients === 0, "the server saw the client go");
  assert.deepEqual(counts(), { listeners: 0, watches: 0, streams: 0, clients: 0 });
});

test("an unknown id is a JSON 404: the EventSource fails and does not reconnect", { timeout: 30_000 }, async () => {
  const url = `${api.url}/api/v1/executions/no-such/events`;
  const seen = await page.evaluate(
    (u) =>
      new Promise((resolve) => {
        const source = new EventSource(u);
        source.onerror = () => resolve({ readyState: source.readyState });
      }),
    url,
  );
  assert.deepEqual(seen, { readyState: 2 }, "CLOSED: a 404 is not a stream");
  const r = await fetch(url);
  assert.equal(r.status, 404);
  assert.equal((await r.json()).error.code, "NOT_FOUND");
  assert.deepEqual(problems, []);
});
