// The REST routes of the second round through each layer that serves them: handle(), fetch() and
// the Node server over real HTTP (execman/server on 127.0.0.1). The same scenarios run through
// the three: a tracked execution created (`"tracked": true`, its `Location`), started, given
// progress (204), completed, failed and removed (DELETE), counts, the OpenAPI document, the
// checks of the two stream routes (then a stream from fetch() and the Node server, 501 from
// handle()), and a 405 with `Allow` for every method a path does not take
// (TRACE, PATCH, PROPFIND… over HTTP). Every answer any of them receives is checked against the
// OpenAPI document (tests/js/openapi-schemas.mjs: the status listed for its operation, the body
// valid against its JSON Schema under ajv's draft 2020-12), and each layer must have reached every
// operation of the document. The document itself passes a standard OpenAPI 3.1 validator.

import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe } from "node:test";
import { Validator } from "@seriousme/openapi-schema-validator";
import { ExecutionManager } from "execman";
import { serve } from "execman/server";
import { test } from "./helpers.mjs";
import { conformance, documentOf } from "./openapi-schemas.mjs";

const API = "/api/v1/executions";
const DOC = documentOf(new ExecutionManager());

/**
 * @typedef {{ status: number, body: any, headers: Record<string, string | undefined>, contentType?: string | null }} Reply
 * @typedef {{ method: string, path: string, body?: unknown, raw?: string, contentType?: string | null }} Call
 */

/** A manager with the target "double" (returns inputs.n × 2) and "hold" (until cancelled). */
function newManager() {
  const manager = new ExecutionManager();
  manager.register("double", async (inputs) => ({ doubled: inputs.n * 2 }), { type: "math" });
  manager.register(
    "hold",
    (inputs, ctx) =>
      new Promise((resolve, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason))),
  );
  return manager;
}

/** The three layers: each makes a manager and a `send(call)` through its own path. */
const LAYERS = [
  {
    name: "handle()",
    async open() {
      const manager = newManager();
      /** @param {Call} c @returns {Promise<Reply>} */
      const send = async (c) => {
        const body = c.raw !== undefined ? JSON.parse(c.raw) : c.body;
        const r = manager.handle({ method: c.method, path: c.path, ...(body === undefined ? {} : { body }) });
        return { status: r.status, body: r.body, headers: r.headers ?? {} };
      };
      return { manager, send, close: async () => {} };
    },
  },
  {
    name: "fetch()",
    async open() {
      const manager = newManager();
      /** @param {Call} c @returns {Promise<Reply>} */
      const send = async (c) => {
        const text = c.raw ?? (c.body === undefined ? undefined : JSON.stringify(c.body));
        const response = await manager.fetch(
          new Request(`http://in-process${c.path}`, {
            method: c.method,
            body: text,
            headers: text === undefined ? {} : { "content-type": "application/json" },
          }),
        );
        return read(response);
      };
      return { manager, send, close: async () => {} };
    },
  },
  {
    name: "Node server (HTTP)",
    async open() {
      const manager = newManager();
      const served = await serve({ manager });
      /** @param {Call} c @returns {Promise<Reply>} */
      const send = (c) => {
        const text = c.raw ?? (c.body === undefined ? undefined : JSON.stringify(c.body));
        const contentType = c.contentType === undefined ? "application/json" : c.contentType;
        return raw(served.port, c.method, c.path, text, contentType);
      };
      return { manager, send, close: () => served.close(), port: served.port };
    },
  },
];

/**
 * Whether a content type is an event stream's (its body is text, not JSON).
 * @param {string | null | undefined} type
 */
const isStream = (type) => /^text\/event-stream\b/.test(type ?? "");

/**
 * A fetch Response as a Reply.
 * @param {Response} response
 * @returns {Promise<Reply>}
 */
async function read(response) {
  const text = await response.text();
  return {
    status: response.status,
    body: text === "" ? null : isStream(response.headers.get("content-type")) ? text : JSON.parse(text),
    headers: Object.fromEntries(response.headers),
    contentType: response.headers.get("content-type"),
  };
}

/**
 * One request with node:http (any method Node's parser takes, TRACE included).
 * @param {number} port
 * @param {string} method
 * @param {string} path
 * @param {string | undefined} text
 * @param {string | null} contentType
 * @returns {Promise<Reply>}
 */
function raw(port, method, path, text, contentType) {
  return new Promise((resolve, reject) => {
    /** @type {Record<string, string>} */
    const headers = {};
    if (contentType !== null) headers["content-type"] = contentType;
    if (text !== undefined) headers["content-length"] = String(Buffer.byteLength(text));
    const req = http.request({ host: "127.0.0.1", port, method, path, headers, agent: false }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        const h = /** @type {Record<string, string>} */ (res.headers);
        resolve({
          status: res.statusCode ?? 0,
          body: body === "" ? null : isStream(h["content-type"]) ? body : JSON.parse(body),
          headers: h,
          contentType: h["content-type"] ?? null,
        });
      });
    });
    req.on("error", reject);
    req.end(text);
  });
}

for (const layer of LAYERS) {
  describe(layer.name, () => {
    /** @type {Awaited<ReturnType<typeof layer.open>>} */
    let l;
    const judge = conformance(DOC);
    before(async () => {
      l = await layer.open();
    });
    after(async () => {
      await l.close();
      l.manager.free();
    });

    /**
     * Sends a call and checks the answer against the document.
     * @param {string} method
     * @param {string} path
     * @param {unknown} [body]
     * @param {Partial<Call>} [more]
     */
    const call = async (method, path, body, more = {}) => {
      const reply = await l.send({ method, path, body, ...more });
      judge.check({ method, path, ...reply });
      return reply;
    };
    const at = (/** @type {string} */ id, tail = "") => `${API}/${encodeURIComponent(id)}${tail}`;
    const expectError = (/** @type {Reply} */ r, /** @type {number} */ status, /** @type {string} */ code) => {
      assert.equal(r.status, status, JSON.stringify(r.body));
      assert.equal(r.body.error.code, code, JSON.stringify(r.body));
      return r.body.error.message;
    };

    test("a tracked execution: created with Location, started, progress, completed, removed", async () => {
      const id = "upload 1/é";
      const created = await call("POST", API, { targetId: "elsewhere", id, tracked: true, inputs: { size: 4 } });
      assert.equal(created.status, 201);
      assert.equal(created.body.status, "pending");
      assert.equal(created.headers.location, `${API}/upload%201%2F%C3%A9`);
      const viaLocation = await call("GET", created.headers.location ?? "");
      assert.deepEqual(viaLocation.body, created.body);

      const started = await call("POST", at(id, "/start"));
      assert.equal(started.status, 200);
      assert.equal(started.body.status, "running");
      assert.equal(typeof started.body.startedAt, "number");
      expectError(await call("POST", at(id, "/start")), 409, "INVALID_TRANSITION");

      const none = await call("GET", at(id, "/progress"));
      assert.equal(none.status, 204);
      const reported = await call("POST", at(id, "/progress"), { current: 1, total: 4, message: "one of four" });
      assert.equal(reported.status, 204);
      assert.equal(reported.body, null);
      const progress = await call("GET", at(id, "/progress"));
      assert.equal(progress.status, 200);
      assert.equal(progress.body.current, 1);
      assert.equal(progress.body.percentage, 25);
      assert.equal(progress.body.message, "one of four");
      assert.deepEqual(l.manager.progress(id), progress.body, "the manager sees what REST reported");

      const done = await call("POST", at(id, "/complete"), { result: { url: "/files/1" } });
      assert.equal(done.status, 200);
      assert.equal(done.body.status, "completed");
      assert.deepEqual(done.body.result, { url: "/files/1" });
      assert.equal(done.body.progress.percentage, 100);
      expectError(await call("POST", at(id, "/complete")), 409, "INVALID_TRANSITION");

      const removed = await call("DELETE", at(id));
      assert.equal(removed.status, 200);
      assert.deepEqual(removed.body, done.body);
      expectError(await call("GET", at(id)), 404, "NOT_FOUND");
      expectError(await call("DELETE", at(id)), 404, "NOT_FOUND");
      assert.equal(l.manager.status(id), undefined);
    });

    test("fail: a message, or { message, code, name }; only a running tracked execution", async () => {
      await call("POST", API, { targetId: "w", id: "f1", tracked: true });
      expectError(await call("POST", at("f1", "/fail"), { error: "x" }), 409, "INVALID_TRANSITION");
      await call("POST", at("f1", "/start"));
      const failed = await call("POST", at("f1", "/fail"), { error: { message: "disk full", code: "E_DISK" } });
      assert.equal(failed.status, 200);
      assert.deepEqual(failed.body.error, { code: "E_DISK", name: "Error", message: "disk full" });

      await call("POST", API, { targetId: "w", id: "f2", tracked: true });
      await call("POST", at("f2", "/start"));
      const plain = await call("POST", at("f2", "/fail"), { error: "lost the worker" });
      assert.deepEqual(plain.body.error, { code: "EXTERNAL_ERROR", name: "Error", message: "lost the worker" });

      const msg = expectError(await call("POST", at("f2", "/fail"), { error: { code: "E" } }), 400, "INVALID_ARGUMENT");
      assert.match(msg, /error\.message/);
    });

    test("bad bodies are 400 naming the field; a handler's execution is not the caller's to drive", async () => {
      await call("POST", API, { targetId: "w", id: "b1", tracked: true });
      await call("POST", at("b1", "/start"));
      for (const [body, field] of [
        [{}, "current"],
        [{ current: "3" }, "current"],
        [{ current: -1 }, "current"],
        [{ current: 1, total: 0 }, "total"],
        [{ current: 1, message: 7 }, "message"],
      ]) {
        const msg = expectError(await call("POST", at("b1", "/progress"), body), 400, "INVALID_ARGUMENT");
        assert.match(msg, new RegExp(`\`${field}\``), msg);
      }
      if (layer.name !== "handle()") {
        // Body text that is not JSON (handle() takes parsed bodies only).
        expectError(await call("POST", at("b1", "/progress"), undefined, { raw: "{ nope" }), 400, "INVALID_ARGUMENT");
      }
      expectError(await call("POST", API, { targetId: "w", tracked: "yes" }), 400, "INVALID_ARGUMENT");
      expectError(await call("POST", API, { targetId: "nope", tracked: false }), 404, "UNKNOWN_TARGET");

      const handled = await call("POST", API, { targetId: "hold", id: "h1" });
      assert.equal(handled.status, 201);
      for (const tail of ["/start", "/complete"]) {
        expectError(await call("POST", at("h1", tail)), 409, "INVALID_TRANSITION");
      }
      expectError(await call("POST", at("h1", "/progress"), { current: 1 }), 409, "INVALID_TRANSITION");
      expectError(await call("DELETE", at("h1")), 409, "INVALID_TRANSITION");
      await call("POST", at("h1", "/cancel"), { reason: "done testing" });
      assert.equal((await call("DELETE", at("h1"))).status, 200);
    });

    test("REST changes reach waiters, listeners and the timeout timer", async () => {
      /** @type {string[]} */
      const events = [];
      const off = l.manager.subscribe(({ type, execution }) => {
        if (execution.id === "w1") events.push(`${type}:${execution.status}`);
      });
      await call("POST", API, { targetId: "w", id: "w1", tracked: true });
      const waited = l.manager.wait("w1");
      await call("POST", at("w1", "/start"));
      await call("POST", at("w1", "/progress"), { current: 1 });
      await call("POST", at("w1", "/complete"), { result: 7 });
      assert.equal((await waited).result, 7);
      await call("DELETE", at("w1"));
      off();
      assert.deepEqual(events, [
        "created:pending",
        "status:running",
        "progress:running",
        "status:completed",
        "removed:completed",
      ]);

      await call("POST", API, { targetId: "w", id: "t1", tracked: true, config: { timeoutMs: 30 } });
      await call("POST", at("t1", "/start"));
      const timedOut = await l.manager.wait("t1");
      assert.equal(timedOut.error.code, "TIMEOUT");
      assert.equal((await call("GET", at("t1"))).body.status, "failed");

      // A handler-driven create over REST still runs its handler.
      const created = await call("POST", API, { targetId: "double", id: "d1", inputs: { n: 21 } });
      assert.equal(created.headers.location, `${API}/d1`);
      assert.deepEqual((await l.manager.wait("d1")).result, { doubled: 42 });
    });

    test("list: an empty query parameter means absent, as the document says", async () => {
      const plain = await call("GET", API);
      assert.equal(plain.status, 200);
      const emptied = await call("GET", `${API}?status=&type=&targetId=&page=&page_size=&order=&cursor=`);
      assert.deepEqual(emptied.body, plain.body);
      const filtered = await call("GET", `${API}?status=completed,failed&page_size=2&order=asc&page=`);
      assert.equal(filtered.status, 200);
      assert.ok(filtered.body.items.every((/** @type {any} */ e) => ["completed", "failed"].includes(e.status)));
      expectError(await call("GET", `${API}?page_size=0`), 400, "INVALID_ARGUMENT");
    });

    test("counts and the OpenAPI document", async () => {
      const counts = await call("GET", "/api/v1/counts");
      assert.equal(counts.status, 200);
      assert.deepEqual(counts.body, l.manager.counts());
      assert.ok(counts.body.total > 0);
      const doc = await call("GET", "/api/v1/openapi.json");
      assert.equal(doc.status, 200);
      assert.deepEqual(doc.body, DOC);
    });

    test("stream routes: 404 for an unknown id, 400 for a bad query; a stream, or 501 from handle()", async () => {
      expectError(await call("GET", at("no-such", "/events")), 404, "NOT_FOUND");
      expectError(await call("GET", "/api/v1/events?throttle_ms=soon"), 400, "INVALID_ARGUMENT");
      await call("POST", API, { targetId: "w", id: "s1", tracked: true });
      expectError(await call("GET", `${at("s1", "/events")}?throttle_ms=-5`), 400, "INVALID_ARGUMENT");
      if (layer.name === "handle()") {
        const msg = expectError(await call("GET", at("s1", "/events")), 501, "NOT_IMPLEMENTED");
        assert.match(msg, /fetch\(\)/);
        expectError(await call("GET", "/api/v1/events?type=a,b&throttle_ms="), 501, "NOT_IMPLEMENTED");
      } else {
        // A terminal execution's stream is its snapshot, then the end (tests/js/streams.test.mjs
        // follows live ones and /api/v1/events through both layers).
        await call("POST", at("s1", "/cancel"), {});
        const stream = await call("GET", `${at("s1", "/events")}?throttle_ms=10`);
        assert.equal(stream.status, 200);
        assert.equal(stream.contentType, "text/event-stream");
        assert.equal(stream.body, `event: snapshot\nid: 1\ndata: ${JSON.stringify(l.manager.status("s1"))}\n\n`);
      }
    });

    test("every method a path does not take is 405 with Allow naming its methods", async () => {
      // fetch() and handle() take any method token but CONNECT, TRACE and TRACK (forbidden by the
      // Fetch standard, so no Request has them); the Node server takes every method Node parses.
      const methods =
        layer.name === "Node server (HTTP)"
          ? http.METHODS.filter((m) => m !== "CONNECT")
          : ["GET", "POST", "DELETE", "PUT", "PATCH", "OPTIONS", "HEAD", "PROPFIND", "MKCOL", "X-CUSTOM"];
      await call("POST", API, { targetId: "w", id: "m1", tracked: true });
      let checked = 0;
      for (const template of Object.keys(DOC.paths)) {
        const path = template.replace("{id}", "m1");
        for (const method of methods) {
          if (DOC.paths[template][method.toLowerCase()]) continue;
          // Over HTTP, with and without a JSON media type: no route reads the body of a method it
          // does not take, so a missing media type is no reason for a 415.
          for (const contentType of layer.name === "Node server (HTTP)" ? ["application/json", null] : [undefined]) {
            const r = await call(method, path, undefined, { contentType });
            assert.equal(r.status, 405, `${method} ${path} (${contentType})`);
            checked++;
          }
        }
      }
      assert.ok(checked > 50, `${checked} checked`);
      assert.equal(l.manager.status("m1")?.status, "pending", "no 405 changed anything");
    });

    test("this layer reached every operation of the document", () => {
      assert.deepEqual(judge.missing(), []);
    });
  });
}

describe("the OpenAPI document", () => {
  test("passes a standard OpenAPI 3.1 validator, as the Node server serves it", async () => {
    const manager = new ExecutionManager();
    const served = await serve({ manager });
    try {
      const response = await fetch(`${served.url}/api/v1/openapi.json`);
      assert.equal(response.status, 200);
      const doc = await response.json();
      const validator = new Validator();
      const result = await validator.validate(doc);
      assert.deepEqual(result.errors ?? [], [], JSON.stringify(result.errors, null, 1));
      assert.equal(result.valid, true);
      assert.equal(validator.version, "3.1");
    } finally {
      await served.close();
      manager.free();
    }
  });

  test("a document that lies is caught: the judge refuses a wrong body, status or Allow", () => {
    const judge = conformance(DOC);
    const execution = {
      id: "x",
      targetId: "t",
      type: "task",
      status: "pending",
      inputs: {},
      config: {},
      progress: null,
      createdAt: 1,
      startedAt: null,
      finishedAt: null,
      updatedAt: 1,
      priority: 0,
      attempt: 0,
      maxAttempts: 1,
      runAt: null,
    };
    judge.check({ method: "GET", path: `${API}/x`, status: 200, body: execution });
    const { runAt, ...withoutRunAt } = execution; // every execution carries the scheduling fields
    assert.throws(() => judge.check({ method: "GET", path: `${API}/x`, status: 200, body: withoutRunAt }));
    assert.throws(() =>
      judge.check({ method: "GET", path: `${API}/x`, status: 200, body: { ...execution, extra: 1 } }),
    );
    assert.throws(() =>
      judge.check({ method: "GET", path: `${API}/x`, status: 200, body: { ...execution, result: 1 } }),
    );
    assert.throws(() =>
      judge.check({ method: "GET", path: `${API}/x`, status: 200, body: { ...execution, status: "done" } }),
    );
    assert.throws(() => judge.check({ method: "GET", path: "/api/v1/counts", status: 201, body: {} }));
    assert.throws(() =>
      judge.check({
        method: "PUT",
        path: `${API}/x`,
        status: 405,
        headers: { allow: "GET" },
        body: { error: { code: "METHOD_NOT_ALLOWED", message: "m" } },
      }),
    );
    assert.throws(() =>
      judge.check({ method: "POST", path: API, status: 201, headers: { location: `${API}/y` }, body: execution }),
    );
  });
});
