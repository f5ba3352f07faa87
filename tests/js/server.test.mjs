// REST over real HTTP: execman/server on an ephemeral 127.0.0.1 port, driven with fetch().
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { ExecutionManager } from "execman";
import { serve } from "execman/server";

const require = createRequire(import.meta.url);

let manager;
let served;
let base;
const gates = new Map(); // id -> resolve(), to finish a "gated" execution on demand

before(async () => {
  manager = new ExecutionManager({ concurrency: Infinity });
  manager.register(
    "gated",
    (inputs, ctx) =>
      new Promise((resolve, reject) => {
        ctx.signal.addEventListener("abort", () => reject(new Error("aborted")));
        gates.set(ctx.id, (result) => resolve(result));
      }),
    { type: "job" },
  );
  manager.register(
    "stepper",
    async (inputs, ctx) => {
      // Waits before its first report so a client can see 204 first.
      await new Promise((r) => setTimeout(r, 60));
      for (let i = 1; i <= 3; i++) {
        ctx.progress(i, 3, `step ${i}`);
        await new Promise((r) => setTimeout(r, 40));
      }
      return { steps: 3 };
    },
    { type: "batch" },
  );
  served = await serve(manager);
  base = `${served.url}/api/v1/executions`;
});

after(async () => {
  for (const open of gates.values()) open(null);
  await served.close();
});

async function call(method, path, body, raw) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { "content-type": "application/json" },
    body: raw !== undefined ? raw : body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text === "" ? null : JSON.parse(text), headers: res.headers };
}

async function until(what, fn, ms = 3000) {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - t0 > ms) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test("serve() listens on 127.0.0.1 and the CommonJS entry is the same module", () => {
  assert.match(served.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(typeof require("execman/server").serve, "function");
});

test("create, 204 before any progress, poll progress until 200, then completion", async () => {
  const created = await call("POST", "", { targetId: "stepper", inputs: { n: 3 } });
  assert.equal(created.status, 201);
  assert.equal(created.body.status, "pending");
  assert.equal(created.body.type, "batch");
  assert.equal(created.headers.get("content-type"), "application/json");
  const id = created.body.id;

  const early = await call("GET", `/${id}/progress`);
  assert.equal(early.status, 204);
  assert.equal(early.body, null);

  const progress = await until("progress", async () => {
    const r = await call("GET", `/${id}/progress`);
    return r.status === 200 ? r : null;
  });
  assert.ok(progress.body.current >= 1 && progress.body.total === 3);
  assert.equal(progress.body.percentage, (progress.body.current / 3) * 100);

  const done = await until("completion", async () => {
    const r = await call("GET", `/${id}`);
    return r.body.status === "completed" ? r : null;
  });
  assert.equal(done.status, 200);
  assert.deepEqual(done.body.result, { steps: 3 });
  assert.equal(done.body.progress.percentage, 100);
});

test("list with filters and paging (page and cursor)", async () => {
  const ids = [];
  for (let i = 0; i < 5; i++) {
    const r = await call("POST", "", { targetId: "gated", id: `list-${i}`, inputs: { i } });
    assert.equal(r.status, 201);
    ids.push(r.body.id);
  }
  await until("running", async () => (await call("GET", `/${ids[4]}`)).body.status === "running");
  const page1 = await call("GET", "?status=running&type=job&page_size=2&order=asc");
  assert.equal(page1.status, 200);
  assert.equal(page1.body.total, 5);
  assert.equal(page1.body.totalPages, 3);
  assert.deepEqual(
    page1.body.items.map((e) => e.id),
    ["list-0", "list-1"],
  );
  assert.equal(page1.body.hasNext, true);

  const page3 = await call("GET", "?status=running&type=job&page_size=2&order=asc&page=3");
  assert.deepEqual(
    page3.body.items.map((e) => e.id),
    ["list-4"],
  );
  assert.equal(page3.body.hasNext, false);
  assert.equal(page3.body.nextCursor, null);

  const viaCursor = await call(
    "GET",
    `?status=running,pending&type=job&page_size=2&order=asc&cursor=${encodeURIComponent(page1.body.nextCursor)}`,
  );
  assert.equal(viaCursor.body.page, null);
  assert.deepEqual(
    viaCursor.body.items.map((e) => e.id),
    ["list-2", "list-3"],
  );

  const none = await call("GET", "?status=completed&type=job");
  assert.equal(none.body.total, 0);
  assert.equal(none.body.totalPages, 0);

  const bad = await call("GET", "?page_size=0");
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.code, "INVALID_ARGUMENT");
  for (const id of ids) gates.get(id)?.(null);
});

test("cancel: 200 then 409, and the handler's signal aborts", async () => {
  const r = await call("POST", "", { targetId: "gated", id: "to-cancel" });
  await until("running", async () => (await call("GET", "/to-cancel")).body.status === "running");
  const cancelled = await call("POST", "/to-cancel/cancel", { reason: "user" });
  assert.equal(cancelled.status, 200);
  assert.equal(cancelled.body.status, "cancelled");
  assert.equal(cancelled.body.cancelReason, "user");
  assert.equal(r.status, 201);
  const again = await call("POST", "/to-cancel/cancel");
  assert.equal(again.status, 409);
  assert.equal(again.body.error.code, "INVALID_TRANSITION");
  assert.equal(manager.status("to-cancel").status, "cancelled");
});

test("unknown id 404, unknown path 404, wrong method 405, malformed JSON 400", async () => {
  const missing = await call("GET", "/no-such-id");
  assert.equal(missing.status, 404);
  assert.equal(missing.body.error.code, "NOT_FOUND");
  assert.match(missing.body.error.message, /no-such-id/);

  const unknownPath = await fetch(`${served.url}/api/v2/elsewhere`);
  assert.equal(unknownPath.status, 404);
  assert.equal((await unknownPath.json()).error.code, "NOT_FOUND");

  const wrongMethod = await call("DELETE", "");
  assert.equal(wrongMethod.status, 405);
  assert.equal(wrongMethod.body.error.code, "METHOD_NOT_ALLOWED");

  const malformed = await call("POST", "", undefined, "{ not json");
  assert.equal(malformed.status, 400);
  assert.equal(malformed.body.error.code, "INVALID_ARGUMENT");

  const unknownTarget = await call("POST", "", { targetId: "nope" });
  assert.equal(unknownTarget.status, 404);
  assert.equal(unknownTarget.body.error.code, "UNKNOWN_TARGET");

  await call("POST", "", { targetId: "gated", id: "dup" });
  const dup = await call("POST", "", { targetId: "gated", id: "dup" });
  assert.equal(dup.status, 409);
  assert.equal(dup.body.error.code, "ALREADY_EXISTS");
  await until("dup running", async () => gates.has("dup"));
  gates.get("dup")(null);
});

test("a percent-encoded unicode id", async () => {
  const id = "résumé/€ 😀";
  const created = await call("POST", "", { targetId: "gated", id });
  assert.equal(created.status, 201);
  const got = await call("GET", `/${encodeURIComponent(id)}`);
  assert.equal(got.status, 200);
  assert.equal(got.body.id, id);
  const cancelled = await call("POST", `/${encodeURIComponent(id)}/cancel`);
  assert.equal(cancelled.status, 200);
  assert.equal(manager.status(id).status, "cancelled");
});
