// The JS layer (js/manager.js) caches what never changes about an execution and reads the
// rest from wasm as numbers. These tests aim at the ways such a cache could go wrong: a stale
// entry after an id is freed and reused behind its back, the shared scratch array overwritten by
// a re-entrant call, texts read at the wrong version, and the lazily made AbortController.
import assert from "node:assert/strict";
import { ExecutionManager } from "execman";
import { deferred, flush, test } from "./helpers.mjs";

test("an id removed and reused through REST (behind the cache's back) reads the new execution", () => {
  const m = new ExecutionManager();
  m.register("r", () => new Promise(() => {}), { type: "rest" });
  m.track({ targetId: "old", id: "x", inputs: { v: 1 } });
  assert.equal(m.status("x").targetId, "old"); // cached now
  m.cancel("x");
  m.remove("x");
  const created = m.handle({
    method: "POST",
    path: "/api/v1/executions",
    body: { targetId: "r", id: "x", inputs: { v: 2 } },
  });
  assert.equal(created.status, 201);
  const x = m.status("x");
  assert.equal(x.targetId, "r");
  assert.equal(x.type, "rest");
  assert.deepEqual(x.inputs, { v: 2 });
  assert.equal(m.progress("x"), null);
  assert.equal(m.list({ pageSize: 5 }).items[0].targetId, "r");
  assert.equal(m.cancel("x").status, "cancelled");
});

test("a freed id reused by track reads the new execution; the old one's snapshot is unchanged", () => {
  const m = new ExecutionManager({ maxFinished: 1 });
  m.track({ targetId: "a", id: "x" });
  m.start("x");
  const done = m.complete("x", { n: 1 });
  m.track({ targetId: "b", id: "y" });
  m.start("y");
  m.complete("y"); // evicts x
  assert.equal(m.status("x"), undefined);
  m.track({ targetId: "c", id: "x" });
  assert.equal(m.status("x").targetId, "c");
  assert.equal(m.status("x").status, "pending");
  assert.deepEqual(done.result, { n: 1 });
});

test("a listener that queries other executions during a change does not corrupt the change's snapshot", () => {
  const m = new ExecutionManager();
  m.track({ targetId: "other", id: "o", inputs: { other: true } });
  m.start("o");
  m.reportProgress("o", 7, 9, "other message");
  m.track({ targetId: "t", id: "a" });
  const seen = [];
  m.subscribe(({ execution }) => {
    if (execution.id === "a") seen.push(m.status("o").progress.message, m.list({ pageSize: 2 }).items.length);
  });
  const started = m.start("a");
  assert.equal(started.id, "a");
  assert.equal(started.status, "running");
  assert.equal(started.progress, null);
  const completed = m.complete("a", ["r"]);
  assert.equal(completed.status, "completed");
  assert.deepEqual(completed.result, ["r"]);
  assert.deepEqual(seen, ["other message", 2, "other message", 2]);
});

test("each event carries the message and outcome of its own moment, even when delivered later", () => {
  const m = new ExecutionManager();
  m.track({ targetId: "t", id: "a" });
  m.start("a");
  const got = [];
  let nested = false;
  m.subscribe(({ type, execution }) => {
    got.push(
      `${type}:${execution.status}:${execution.progress?.message ?? "-"}:${JSON.stringify(execution.result ?? null)}`,
    );
    if (!nested) {
      nested = true;
      // Queued behind the current event: the listener sees "one" first, then "two", then the result.
      m.reportProgress("a", 2, 4, "two");
      m.complete("a", { ok: 1 });
    }
  });
  m.reportProgress("a", 1, 4, "one");
  assert.deepEqual(got, ["progress:running:one:null", "progress:running:two:null", 'status:completed:two:{"ok":1}']);
  assert.equal(m.status("a").progress.current, 4);
  assert.equal(m.progress("a").message, "two");
});

test("snapshots are copies: mutating inputs, config, result or error of one never shows in the next", () => {
  const m = new ExecutionManager();
  m.track({ targetId: "t", id: "a", inputs: { deep: { list: [1, { k: "v" }] } }, config: { c: [1] } });
  const s1 = m.status("a");
  s1.inputs.deep.list[1].k = "changed";
  s1.config.c.push(2);
  assert.deepEqual(m.status("a").inputs, { deep: { list: [1, { k: "v" }] } });
  assert.deepEqual(m.status("a").config, { c: [1] });
  m.start("a");
  m.fail("a", { message: "m", code: "C" });
  const f1 = m.status("a");
  f1.error.message = "changed";
  assert.equal(m.status("a").error.message, "m");
  const empty = new ExecutionManager();
  empty.track({ targetId: "t", id: "e" });
  const e1 = empty.status("e");
  e1.inputs.added = 1;
  e1.config.added = 1;
  assert.deepEqual(empty.status("e").inputs, {});
  assert.deepEqual(empty.status("e").config, {});
});

test("a __proto__ key survives the cache as an ordinary key", () => {
  const m = new ExecutionManager();
  const inputs = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}');
  m.track({ targetId: "t", id: "p", inputs });
  for (const x of [m.status("p"), m.list().items[0]]) {
    assert.deepEqual(Object.keys(x.inputs), ["__proto__", "a"]);
    assert.equal(Object.getPrototypeOf(x.inputs), Object.prototype);
    assert.equal(x.inputs.polluted, undefined);
  }
});

test("ctx.signal read only after a cancel is already aborted; read after a timeout, aborted with a TimeoutError", async () => {
  const m = new ExecutionManager();
  const gate = deferred();
  const signals = {};
  m.register("late", async (inputs, ctx) => {
    await gate.promise;
    signals[ctx.id] = ctx.signal;
    return "late";
  });
  m.create({ targetId: "late", id: "c" });
  m.create({ targetId: "late", id: "t", config: { timeoutMs: 5 } });
  m.create({ targetId: "late", id: "ok" });
  await flush();
  m.cancel("c");
  await m.wait("t");
  gate.resolve();
  await m.wait("ok");
  await flush();
  assert.equal(signals.c.aborted, true);
  assert.equal(signals.c.reason.name, "AbortError");
  assert.equal(signals.t.aborted, true);
  assert.equal(signals.t.reason.name, "TimeoutError");
  assert.match(signals.t.reason.message, /timed out after 5 ms/);
  assert.equal(signals.ok.aborted, false);
  assert.equal(m.status("ok").result, "late");
});

test("ctx.signal read before a cancel aborts before cancel() returns, once; the same signal each read", async () => {
  const m = new ExecutionManager();
  const order = [];
  let ctxSeen;
  m.register("t", (inputs, ctx) => {
    ctxSeen = ctx;
    assert.equal(ctx.signal, ctx.signal);
    ctx.signal.addEventListener("abort", () => order.push("aborted"));
    return new Promise(() => {});
  });
  m.create({ targetId: "t", id: "a" });
  await flush();
  m.cancel("a", "stop");
  order.push("cancel returned");
  assert.deepEqual(order, ["aborted", "cancel returned"]);
  assert.equal(ctxSeen.signal.aborted, true);
  assert.deepEqual(Object.keys(ctxSeen).sort(), ["attempt", "config", "id", "progress", "signal"]);
});

test("wait() from several callers each get their own copy; wait after the end resolves at once", async () => {
  const m = new ExecutionManager();
  const d = deferred();
  m.register("t", () => d.promise);
  m.create({ targetId: "t", id: "a" });
  const w1 = m.wait("a");
  const w2 = m.wait("a");
  d.resolve({ r: [1] });
  const [a, b] = await Promise.all([w1, w2]);
  assert.notEqual(a, b);
  assert.notEqual(a.result, b.result);
  assert.deepEqual(a, b);
  a.result.r.push(2);
  assert.deepEqual((await m.wait("a")).result, { r: [1] });
});

test("many executions created and evicted: every lookup still answers from the manager, not the cache", () => {
  const m = new ExecutionManager({ maxFinished: 10 });
  for (let i = 0; i < 2000; i++) {
    m.track({ targetId: "t", id: `e${i}` });
    m.start(`e${i}`);
    m.reportProgress(`e${i}`, 1, 2);
    m.complete(`e${i}`, i);
  }
  assert.equal(m.counts().total, 10);
  assert.equal(m.status("e0"), undefined);
  assert.equal(m.progress("e1000"), undefined);
  assert.equal(m.status("e1999").result, 1999);
  assert.equal(m.list({ pageSize: 1000 }).items.length, 10);
  m.track({ targetId: "t", id: "e0" });
  assert.equal(m.status("e0").status, "pending");
});

test("the time JS hands to a change is used by that change only: a later change reads the clock again", () => {
  const m = new ExecutionManager();
  const realNow = Date.now;
  let clock = 1_000_000;
  Date.now = () => clock;
  try {
    m.track({ targetId: "t", id: "a" });
    clock = 2_000_000;
    assert.equal(m.start("a").startedAt, 2_000_000);
    clock = 3_000_000;
    m.reportProgress("a", 1, 2);
    assert.equal(m.progress("a")?.updatedAt, 3_000_000);
    // A bad report throws before any time is handed over; cancel hands none itself.
    assert.throws(() => m.reportProgress("a", "x"), { code: "INVALID_ARGUMENT" });
    clock = 4_000_000;
    const cancelled = m.cancel("a");
    assert.equal(cancelled.finishedAt, 4_000_000);
    assert.equal(cancelled.progress?.updatedAt, 3_000_000);
    m.track({ targetId: "t", id: "b" });
    clock = 5_000_000;
    m.start("b");
    clock = 6_000_000;
    assert.equal(m.complete("b").finishedAt, 6_000_000);
    clock = 7_000_000;
    assert.equal(m.track({ targetId: "t", id: "c" }).createdAt, 7_000_000);
  } finally {
    Date.now = realNow;
  }
});
