// The two Server-Sent Events routes, read by `fetch` body reading in Node: through `fetch()` in
// the process and over real HTTP from the Node server (execman/server on 127.0.0.1). The same
// scenarios run through both: an execution's stream starts with its snapshot, carries each change
// and ends after the terminal snapshot (only the snapshot for an execution already terminal);
// `/api/v1/events` carries every change of matching executions and stays open; `throttle_ms`
// windows; the heartbeat; 404 for an unknown id is a JSON error, not a stream. Then what holds
// across clients: one subscription per stream asked for, whatever the number of clients, and one
// JSON.stringify per change; clients that go leave no listener (1,000 connect/disconnect cycles
// each way, counted through the manager's internal counts); a reader that falls 4 MiB behind is
// cut off; free() ends open streams; handle() still answers 501. The memory of those cycles is
// measured in a child process (tests/js/stream-cycles-child.mjs).
//
// The counts come from `manager[Symbol.for("execman.internals")]()` (not part of the API):
// `{ listeners, watches, streams, clients }`, where `streams` are the shared subscriptions of open
// event streams and `clients` the streams reading them.

import assert from "node:assert/strict";
import { fork } from "node:child_process";
import http from "node:http";
import { after, before, describe } from "node:test";
import { fileURLToPath } from "node:url";
import { ExecutionManager } from "execman";
import { serve } from "execman/server";
import { sleep, test, until } from "./helpers.mjs";
import { conformance, documentOf } from "./openapi-schemas.mjs";
import { messages, next, nextEvent, rest } from "./sse.mjs";

const INTERNALS = Symbol.for("execman.internals");
const API = "/api/v1";
const DOC = documentOf(new ExecutionManager());

/** @param {ExecutionManager} m */
const counts = (m) => /** @type {any} */ (m)[INTERNALS]();
/** @param {ExecutionManager} m @param {number} ms */
const heartbeat = (m, ms) => /** @type {any} */ (m)[INTERNALS]({ heartbeatMs: ms });

/** The two layers that serve streams: each opens a path of its manager as a `Response`. */
const LAYERS = [
  {
    name: "fetch()",
    /** @param {ExecutionManager} manager */
    async open(manager) {
      return {
        /** @param {string} path @param {AbortSignal} [signal] */
        get: (path, signal) => manager.fetch(new Request(`http://in-process${path}`, { signal })),
        close: async () => {},
      };
    },
  },
  {
    name: "Node server (HTTP)",
    /** @param {ExecutionManager} manager */
    async open(manager) {
      const served = await serve({ manager });
      return {
        /** @param {string} path @param {AbortSignal} [signal] */
        get: (path, signal) => fetch(`${served.url}${path}`, { signal }),
        close: () => served.close(),
      };
    },
  },
];

for (const layer of LAYERS) {
  describe(`streams through ${layer.name}`, () => {
    /** @type {ExecutionManager} */
    let m;
    /** @type {Awaited<ReturnType<typeof layer.open>>} */
    let l;
    const judge = conformance(DOC);
    before(async () => {
      m = new ExecutionManager();
      heartbeat(m, 40);
      l = await layer.open(m);
    });
    after(async () => {
      await l.close();
      m.free();
    });

    /**
     * Opens a stream and checks its head against the OpenAPI document.
     * @param {string} path
     */
    const open = async (path) => {
      const response = await l.get(path);
      judge.check({
        method: "GET",
        path,
        status: response.status,
        contentType: response.headers.get("content-type"),
        body: "",
      });
      return response;
    };
    const one = (/** @type {string} */ id) => `${API}/executions/${encodeURIComponent(id)}/events`;
    /** The stream's clients are all gone (over HTTP, once the server saw the socket close). */
    const settled = () => until(() => counts(m).clients === 0 && counts(m).listeners === 0, "no stream left", 3000);

    test("an execution's stream: its snapshot, each change, and the end after the terminal snapshot", async () => {
      const id = "one/é 1";
      m.track({ targetId: "remote", id, inputs: { n: 1 } });
      const response = await open(one(id));
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("content-type"), "text/event-stream");
      assert.equal(response.headers.get("cache-control"), "no-store");
      const it = messages(/** @type {any} */ (response.body));
      const first = await nextEvent(it);
      assert.deepEqual(first, { event: "snapshot", id: "1", data: JSON.stringify(m.status(id)) });
      assert.deepEqual(counts(m), { listeners: 1, watches: 0, streams: 1, clients: 1 });

      m.start(id);
      const running = /** @type {any} */ (await nextEvent(it));
      assert.equal(running.event, "status");
      assert.equal(running.id, "2");
      assert.equal(JSON.parse(running.data).status, "running");
      m.reportProgress(id, 3, 4, "three");
      const progress = /** @type {any} */ (await nextEvent(it));
      assert.equal(progress.event, "progress");
      assert.equal(progress.id, "3");
      assert.deepEqual(JSON.parse(progress.data), m.status(id));
      assert.doesNotMatch(progress.data, /\n/, "one line of JSON");
      m.complete(id, { url: "/files/1" });
      const end = await rest(it);
      assert.deepEqual(
        end.map((e) => [e.event, e.id]),
        [["status", "4"]],
      );
      assert.deepEqual(JSON.parse(end[0].data), m.status(id), "the terminal snapshot, then the end");
      await settled();
      assert.deepEqual(counts(m), { listeners: 0, watches: 0, streams: 0, clients: 0 });
    });

    test("an execution already terminal: its snapshot only; an unknown id is a JSON 404, not a stream", async () => {
      m.track({ targetId: "remote", id: "done" });
      m.cancel("done", "no longer needed");
      const response = await open(one("done"));
      assert.equal(response.status, 200);
      const all = await rest(messages(/** @type {any} */ (response.body)));
      assert.deepEqual(all, [{ event: "snapshot", id: "1", data: JSON.stringify(m.status("done")) }]);

      for (const path of [one("no-such"), `${one("done")}?throttle_ms=soon`, `${API}/events?throttle_ms=-1`]) {
        const refused = await l.get(path);
        const body = await refused.json();
        judge.check({
          method: "GET",
          path,
          status: refused.status,
          contentType: refused.headers.get("content-type"),
          body,
        });
        assert.equal(refused.status, path.includes("no-such") ? 404 : 400, path);
        assert.equal(refused.headers.get("content-type"), "application/json");
        assert.equal(body.error.code, path.includes("no-such") ? "NOT_FOUND" : "INVALID_ARGUMENT");
      }
      await settled();
    });

    test("/api/v1/events: every change of matching executions, open after they end", async () => {
      const all = messages(/** @type {any} */ ((await open(`${API}/events`)).body));
      const filtered = messages(/** @type {any} */ ((await open(`${API}/events?targetId=render&type=gpu,cpu`)).body));
      assert.equal(counts(m).streams, 2, "two filters, two subscriptions");
      m.track({ targetId: "render", type: "gpu", id: "r1" });
      m.track({ targetId: "render", type: "io", id: "r2" }); // not a type the filter takes
      m.track({ targetId: "other", type: "gpu", id: "o1" }); // not the target
      m.start("r1");
      m.reportProgress("r1", 1, 2);
      m.complete("r1");
      m.remove("r1");
      const seen = [];
      for (let i = 0; i < 7; i++) {
        const e = /** @type {any} */ (await nextEvent(all));
        seen.push(`${e.id} ${e.event} ${JSON.parse(e.data).id}`);
      }
      assert.deepEqual(seen, [
        "1 created r1",
        "2 created r2",
        "3 created o1",
        "4 status r1",
        "5 progress r1",
        "6 status r1",
        "7 removed r1",
      ]);
      const mine = [];
      for (let i = 0; i < 5; i++) {
        const e = /** @type {any} */ (await nextEvent(filtered));
        mine.push(`${e.id} ${e.event} ${JSON.parse(e.data).status}`);
      }
      assert.deepEqual(mine, [
        "1 created pending",
        "2 status running",
        "3 progress running",
        "4 status completed",
        "5 removed completed",
      ]);
      // Still open: the next thing on it is a heartbeat (40 ms here), then a later change.
      assert.deepEqual(await next(filtered), { comment: "heartbeat" });
      m.track({ targetId: "render", type: "cpu", id: "r3" });
      const later = /** @type {any} */ (await nextEvent(filtered));
      assert.equal(later.event, "created");
      assert.equal(later.id, "6");
      await all.return();
      await filtered.return();
      await settled();
    });

    test("throttle_ms: the first progress at once, then the latest of each window, held ones before the next change", async () => {
      m.track({ targetId: "slow", id: "t1" });
      m.start("t1");
      const it = messages(/** @type {any} */ ((await open(`${one("t1")}?throttle_ms=150`)).body));
      assert.equal(JSON.parse(/** @type {any} */ (await nextEvent(it)).data).status, "running");
      for (let i = 1; i <= 20; i++) m.reportProgress("t1", i, 100);
      const firstWindow = /** @type {any} */ (await nextEvent(it));
      assert.equal(firstWindow.event, "progress");
      assert.equal(JSON.parse(firstWindow.data).progress.current, 1, "the first goes at once");
      const latest = /** @type {any} */ (await nextEvent(it));
      assert.equal(latest.event, "progress");
      assert.equal(JSON.parse(latest.data).progress.current, 20, "the window's latest, when it ends");
      // Held in a window that has not ended: sent right before the terminal status.
      for (let i = 21; i <= 30; i++) m.reportProgress("t1", i, 100);
      m.complete("t1");
      const end = await rest(it);
      assert.deepEqual(
        end.map((e) => `${e.event} ${JSON.parse(e.data).progress.current} ${JSON.parse(e.data).status}`),
        ["progress 30 running", "status 100 completed"], // (complete() fills a known total)
      );
      // Without throttle_ms (and with an empty one), every report is a message.
      m.track({ targetId: "slow", id: "t2" });
      m.start("t2");
      const every = messages(/** @type {any} */ ((await open(`${one("t2")}?throttle_ms=`)).body));
      await nextEvent(every);
      for (let i = 1; i <= 5; i++) m.reportProgress("t2", i, 5);
      m.complete("t2");
      assert.deepEqual(
        (await rest(every)).map((e) => e.event),
        ["progress", "progress", "progress", "progress", "progress", "status"],
      );
      await settled();
    });

    test("the heartbeat: a comment line while idle, none while messages flow", async () => {
      m.track({ targetId: "beat", id: "b1" });
      m.start("b1");
      const it = messages(/** @type {any} */ ((await open(one("b1"))).body));
      await nextEvent(it); // the snapshot
      assert.deepEqual(await next(it), { comment: "heartbeat" });
      assert.deepEqual(await next(it), { comment: "heartbeat" });
      // Busy: a change every 10 ms for 200 ms (five intervals) gives no heartbeat.
      const reader = (async () => {
        const got = [];
        for (;;) {
          const msg = await next(it);
          if (msg === null) return got;
          got.push("comment" in msg ? "heartbeat" : msg.event);
        }
      })();
      await sleep(0);
      for (let i = 1; i <= 20; i++) {
        m.reportProgress("b1", i, 20);
        await sleep(10);
      }
      m.complete("b1");
      const got = await reader;
      const busy = got.slice(got.indexOf("progress"));
      assert.deepEqual(busy, [...Array(20).fill("progress"), "status"], got.join(" "));
      await settled();
    });
  });
}

describe("streams across clients", () => {
  test("one subscription per stream asked for, one JSON.stringify per change, whatever the clients", async () => {
    const m = new ExecutionManager();
    m.track({ targetId: "fan", id: "f1" });
    m.start("f1");
    const opened = [];
    for (let i = 0; i < 50; i++) {
      opened.push(
        messages(/** @type {any} */ ((await m.fetch(new Request(`http://x${API}/executions/f1/events`))).body)),
      );
      opened.push(
        messages(/** @type {any} */ ((await m.fetch(new Request(`http://x${API}/events?targetId=fan`))).body)),
      );
    }
    assert.deepEqual(counts(m), { listeners: 2, watches: 0, streams: 2, clients: 100 });
    for (const it of opened.filter((_, i) => i % 2 === 0)) await nextEvent(it); // the snapshots
    const stringify = JSON.stringify;
    let calls = 0;
    JSON.stringify = /** @type {any} */ (
      (/** @type {any[]} */ ...args) => {
        calls++;
        return Reflect.apply(stringify, JSON, args);
      }
    );
    try {
      m.reportProgress("f1", 1, 2);
      assert.equal(calls, 2, "one per change per subscription (two filters), not one per client");
      calls = 0;
      m.reportProgress("f1", 2, 2);
      m.complete("f1");
      assert.equal(calls, 4);
    } finally {
      JSON.stringify = stringify;
    }
    for (let i = 0; i < opened.length; i++) {
      const got = [];
      for (let k = 0; k < 3; k++) got.push(/** @type {any} */ (await nextEvent(opened[i])).event);
      assert.deepEqual(got, ["progress", "progress", "status"]);
    }
    // The executions' streams ended with the terminal snapshot; the others are still open.
    for (const it of opened.filter((_, i) => i % 2 === 0)) assert.equal(await nextEvent(it), null);
    assert.deepEqual(counts(m), { listeners: 1, watches: 0, streams: 1, clients: 50 });
    for (const it of opened) await it.return();
    assert.deepEqual(counts(m), { listeners: 0, watches: 0, streams: 0, clients: 0 });
    m.free();
  });

  test("1,000 connect/disconnect cycles through fetch() leave no listener", async () => {
    const m = new ExecutionManager();
    m.track({ targetId: "c", id: "c1" });
    m.start("c1");
    const paths = [`${API}/executions/c1/events`, `${API}/events`, `${API}/events?type=task&throttle_ms=10`];
    for (let i = 0; i < 1000; i++) {
      const response = await m.fetch(new Request(`http://x${paths[i % 3]}`));
      const reader = /** @type {ReadableStream<Uint8Array>} */ (response.body).getReader();
      if (i % 2 === 0) {
        m.reportProgress("c1", i, 1000); // a message before it goes, for half of them
        await reader.read();
      }
      await reader.cancel();
      if (i % 100 === 0) assert.equal(counts(m).clients, 0, `after cycle ${i}`);
    }
    assert.deepEqual(counts(m), { listeners: 0, watches: 0, streams: 0, clients: 0 });
    // A subscription of the user's own is untouched by all that.
    const off = m.subscribe(() => {});
    assert.equal(counts(m).listeners, 1);
    off();
    m.free();
  });

  test(
    "1,000 connect/disconnect cycles over HTTP (the client aborts, or its socket closes) leave no listener",
    async () => {
      const m = new ExecutionManager();
      m.track({ targetId: "c", id: "c1" });
      m.start("c1");
      const served = await serve({ manager: m });
      try {
        const agent = new http.Agent({ keepAlive: true, maxSockets: 20 });
        let peak = 0;
        const cycle = (/** @type {number} */ i) =>
          new Promise((resolve, reject) => {
            const path = i % 2 === 0 ? `${API}/executions/c1/events` : `${API}/events?targetId=c`;
            const req = http.get({ host: "127.0.0.1", port: served.port, path, agent }, (res) => {
              assert.equal(res.statusCode, 200);
              res.once("data", () => {
                peak = Math.max(peak, counts(m).clients);
                req.destroy(); // the socket closes: the server sees the client go
                resolve(undefined);
              });
              if (i % 2 === 1) m.reportProgress("c1", i, 1000); // the events stream's first message
            });
            req.on("error", (err) => (/** @type {any} */ (err).code === "ECONNRESET" ? undefined : reject(err)));
          });
        for (let i = 0; i < 1000; i += 20) {
          await Promise.all(Array.from({ length: 20 }, (_, k) => cycle(i + k)));
        }
        assert.ok(peak >= 1, "streams were open");
        await until(() => counts(m).clients === 0, "every client gone", 5000);
        assert.deepEqual(counts(m), { listeners: 0, watches: 0, streams: 0, clients: 0 });
        // The server still answers, and the execution is untouched.
        const status = await fetch(`${served.url}${API}/executions/c1`);
        assert.equal((await status.json()).status, "running");
        agent.destroy();
      } finally {
        await served.close();
        m.free();
      }
    },
    { timeout: 60_000 },
  );

  test(
    "connect/disconnect cycles keep the heap bounded (a child process with --expose-gc)",
    async () => {
      const child = fork(fileURLToPath(new URL("./stream-cycles-child.mjs", import.meta.url)), [], {
        execArgv: ["--expose-gc"],
        stdio: ["ignore", "inherit", "inherit", "ipc"],
      });
      /** @type {any} */
      const result = await new Promise((resolve, reject) => {
        child.once("message", resolve);
        child.once("error", reject);
        child.once("exit", (code) => reject(new Error(`the child exited with ${code} before reporting`)));
      });
      child.kill();
      const kib = (/** @type {number} */ n) => `${(n / 1024).toFixed(0)} KiB`;
      for (const [name, r] of Object.entries(result.cycles)) {
        const { before: b, after: a, counts: c } = /** @type {any} */ (r);
        assert.deepEqual(c, { listeners: 0, watches: 0, streams: 0, clients: 0 }, name);
        assert.ok(
          a - b < result.bound,
          `${name}: the heap grew by ${kib(a - b)} over 1,000 cycles (bound ${kib(result.bound)})`,
        );
      }
      // The measure can see a leak of the kind it guards against: 1,000 streams left open.
      assert.ok(
        result.leak.after - result.leak.before > result.bound,
        `1,000 streams left open grew the heap by only ${kib(result.leak.after - result.leak.before)}`,
      );
    },
    { timeout: 90_000 },
  );

  test("a reader that falls 4 MiB behind is cut off, and its subscription goes", async () => {
    const m = new ExecutionManager();
    m.track({ targetId: "big", id: "big", inputs: { blob: "x".repeat(60_000) } });
    m.start("big");
    const slow = /** @type {ReadableStream<Uint8Array>} */ ((await m.fetch(new Request(`http://x${API}/events`))).body);
    const reader = slow.getReader();
    for (let i = 0; i < 100; i++) m.reportProgress("big", i, 100); // ~6 MB of messages, none read
    assert.equal(counts(m).clients, 1);
    await sleep(0); // the end of the burst: its messages are queued on the stream
    assert.deepEqual(counts(m), { listeners: 0, watches: 0, streams: 0, clients: 0 });
    await assert.rejects(reader.read(), (/** @type {any} */ err) => err.code === "RESOURCE_EXHAUSTED");
    m.free();
  });

  test("free() ends open streams; handle() answers the stream routes 501", async () => {
    const m = new ExecutionManager();
    m.track({ targetId: "f", id: "f1" });
    for (const path of [`${API}/executions/f1/events`, `${API}/events?throttle_ms=5`]) {
      const r = m.handle({ method: "GET", path });
      assert.equal(r.status, 501);
      assert.equal(/** @type {any} */ (r.body).error.code, "NOT_IMPLEMENTED");
    }
    const one = messages(/** @type {any} */ ((await m.fetch(new Request(`http://x${API}/executions/f1/events`))).body));
    const all = messages(/** @type {any} */ ((await m.fetch(new Request(`http://x${API}/events`))).body));
    assert.equal(/** @type {any} */ (await nextEvent(one)).event, "snapshot");
    m.free();
    assert.equal(await nextEvent(one), null);
    assert.equal(await nextEvent(all), null);
    assert.deepEqual(counts(m), { listeners: 0, watches: 0, streams: 0, clients: 0 });
  });
});
