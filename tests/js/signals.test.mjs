// Outside abort signals: `signal` on create/track (abort cancels; already aborted returns the
// execution cancelled; the manager stops listening once the execution is terminal, by every
// path) and `wait(id, { signal })` (rejects with the signal's reason, the execution goes on).
// Listener counts are read with node:events' getEventListeners, which sees every listener of an
// EventTarget whoever added it.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { getEventListeners } from "node:events";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ExecutionManager } from "execman";
import fc from "fast-check";
import { deferred, flush, gateTarget, rejectsExec, test, throwsExec, until } from "./helpers.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const listeners = (signal) => getEventListeners(signal, "abort").length;

/** A handler that must never run: it fails the test loudly if it does. */
function never(m, targetId = "never") {
  const calls = [];
  m.register(targetId, (inputs, ctx) => {
    calls.push(ctx.id);
    throw new Error(`the handler of ${ctx.id} ran`);
  });
  return calls;
}

/** The contract's cancel reason for an abort reason. */
function expectedReason(reason) {
  try {
    if (reason !== null && reason !== undefined && typeof reason.message === "string") return reason.message;
    return String(reason);
  } catch {
    return undefined; // String() threw: cancelled without a reason
  }
}

// ---- abort cancels -----------------------------------------------------------------------------

test("abort while pending (waiting for a slot): cancelled with the reason's message, the handler never runs", async () => {
  const m = new ExecutionManager({ concurrency: 1 });
  const gate = gateTarget(m, "gate");
  const calls = never(m, "queued");
  m.create({ targetId: "gate", id: "busy" });
  const c = new AbortController();
  const x = m.create({ targetId: "queued", id: "q", signal: c.signal });
  assert.equal(x.status, "pending");
  await flush();
  assert.equal(m.status("q").status, "pending", "waits for the slot");
  assert.equal(listeners(c.signal), 1);
  c.abort(new Error("user left"));
  const s = m.status("q");
  assert.equal(s.status, "cancelled", "cancelled before abort() returned");
  assert.equal(s.cancelReason, "user left");
  assert.equal(listeners(c.signal), 0, "no listener once terminal");
  gate.release("busy", 1);
  await m.wait("busy");
  await flush(20);
  assert.deepEqual(calls, [], "the cancelled execution never ran");
  assert.equal(m.status("q").status, "cancelled");
});

test("abort while running: cancelled as by cancel(id, reason), ctx.signal aborted before abort() returns", async () => {
  const m = new ExecutionManager();
  const gate = gateTarget(m, "gate");
  const c = new AbortController();
  m.create({ targetId: "gate", id: "r", signal: c.signal });
  await until(() => gate.started.includes("r"), "the handler to start");
  const ctx = gate.ctx.get("r");
  const inner = ctx.signal;
  assert.equal(inner.aborted, false);
  const events = [];
  m.subscribe((e) => events.push(`${e.type}:${e.execution.status}:${e.execution.cancelReason}`));
  c.abort("shutting down");
  assert.equal(inner.aborted, true, "the handler's signal aborted at once");
  const s = m.status("r");
  assert.equal(s.status, "cancelled");
  assert.equal(s.cancelReason, "shutting down");
  assert.deepEqual(events, ["status:cancelled:shutting down"]);
  assert.equal(listeners(c.signal), 0);
  // The handler's late result changes nothing.
  gate.release("r", "late");
  await flush();
  assert.equal(m.status("r").status, "cancelled");
});

test("abort of tracked executions, pending and running; the same as cancel(id, reason) gives", () => {
  const m = new ExecutionManager();
  const c = new AbortController();
  m.track({ targetId: "x", id: "p", signal: c.signal });
  m.track({ targetId: "x", id: "r", signal: c.signal });
  m.start("r");
  m.reportProgress("r", 1, 4, "a quarter");
  m.track({ targetId: "x", id: "twin-p" });
  m.track({ targetId: "x", id: "twin-r" });
  m.start("twin-r");
  m.reportProgress("twin-r", 1, 4, "a quarter");
  assert.equal(listeners(c.signal), 1, "one listener for every execution of a signal");
  c.abort(new Error("why"));
  const byCancel = { p: m.cancel("twin-p", "why"), r: m.cancel("twin-r", "why") };
  for (const id of ["p", "r"]) {
    const s = m.status(id);
    const t = byCancel[id];
    assert.equal(s.status, "cancelled");
    assert.equal(s.cancelReason, "why");
    assert.deepEqual(s.progress === null, t.progress === null);
    assert.equal(s.startedAt === null, t.startedAt === null);
    assert.equal(typeof s.finishedAt, "number");
  }
  assert.equal(listeners(c.signal), 0);
  // Nothing can be done to them any more, as after cancel.
  throwsExec(m, () => m.complete("r"), "INVALID_TRANSITION", "r");
});

test("one abort cancels every following execution in creation order; each listener sees its own status event", () => {
  const m = new ExecutionManager();
  const c = new AbortController();
  for (let i = 0; i < 5; i++) m.track({ targetId: "x", id: `e${i}`, signal: c.signal });
  const other = new AbortController();
  m.track({ targetId: "x", id: "other", signal: other.signal });
  const order = [];
  m.subscribe((e) => order.push(e.execution.id));
  c.abort();
  assert.deepEqual(order, ["e0", "e1", "e2", "e3", "e4"]);
  assert.equal(m.status("other").status, "pending", "another signal's execution goes on");
  assert.equal(listeners(c.signal), 0);
  assert.equal(listeners(other.signal), 1);
  m.cancel("other");
  assert.equal(listeners(other.signal), 0);
});

test("the reason: its message when that is a string, else String(reason); the default abort() and AbortSignal.timeout", async () => {
  const m = new ExecutionManager();
  const cases = [
    [new Error("boom"), "boom"],
    [new TypeError(""), ""],
    ["plain", "plain"],
    [42, "42"],
    [null, "null"],
    [{ message: 5, toString: () => "custom" }, "custom"],
    [{ message: "from a plain object" }, "from a plain object"],
    [Symbol("s"), "Symbol(s)"],
  ];
  for (const [reason, text] of cases) {
    const c = new AbortController();
    const { id } = m.track({ targetId: "x", signal: c.signal });
    c.abort(reason);
    assert.equal(m.status(id).cancelReason, text, `reason ${String(text)}`);
  }
  const c = new AbortController();
  const { id } = m.track({ targetId: "x", signal: c.signal });
  c.abort();
  assert.equal(m.status(id).cancelReason, "This operation was aborted");
  const t = m.track({ targetId: "x", signal: AbortSignal.timeout(5) });
  await until(() => m.status(t.id).status === "cancelled", "the timeout signal to cancel it");
  assert.equal(m.status(t.id).cancelReason, "The operation was aborted due to timeout");
});

test("a reason whose String() throws, or that is not a well-formed string, still cancels (without a reason)", () => {
  const m = new ExecutionManager();
  const odd = [Object.create(null), { toString: () => "\uD800" }, { message: "a\uDC00b" }];
  for (const reason of odd) {
    const c = new AbortController();
    const { id } = m.track({ targetId: "x", signal: c.signal });
    c.abort(reason);
    const s = m.status(id);
    assert.equal(s.status, "cancelled");
    assert.equal(s.cancelReason, undefined);
    assert.equal(listeners(c.signal), 0);
  }
});

test("property: any abort reason cancels with the contract's text (or none for a malformed one)", () => {
  const m = new ExecutionManager({ maxFinished: 10 });
  const reason = fc.oneof(
    fc.string({ unit: "grapheme" }),
    fc.string({ unit: "binary" }),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(undefined),
    fc.constant(null),
    fc.string().map((s) => new Error(s)),
    fc.record({ message: fc.oneof(fc.string(), fc.integer(), fc.constant(null)) }),
  );
  fc.assert(
    fc.property(reason, fc.boolean(), (r, running) => {
      const c = new AbortController();
      const { id } = m.track({ targetId: "x", signal: c.signal });
      if (running) m.start(id);
      c.abort(r);
      const s = m.status(id);
      assert.equal(s.status, "cancelled");
      const text = expectedReason(c.signal.reason);
      assert.equal(s.cancelReason, text?.isWellFormed() ? text : undefined);
      assert.equal(listeners(c.signal), 0);
    }),
    { numRuns: 300 },
  );
});

// ---- already aborted ---------------------------------------------------------------------------

test("already aborted at create: returned cancelled, events created then status, the handler never runs", async () => {
  const m = new ExecutionManager();
  const calls = never(m, "t");
  const events = [];
  m.subscribe((e) => events.push([e.type, e.execution.status, e.execution.cancelReason]));
  const signal = AbortSignal.abort(new Error("too late"));
  const x = m.create({ targetId: "t", id: "a", signal });
  assert.equal(x.status, "cancelled");
  assert.equal(x.cancelReason, "too late");
  assert.equal(typeof x.finishedAt, "number");
  assert.equal(x.startedAt, null);
  assert.deepEqual(events, [
    ["created", "pending", undefined],
    ["status", "cancelled", "too late"],
  ]);
  assert.deepEqual(m.status("a"), x);
  assert.equal(listeners(signal), 0, "an aborted signal is never listened to");
  await flush(20);
  assert.deepEqual(calls, []);
  assert.deepEqual(await m.wait("a"), x);
});

test("already aborted at track: returned cancelled with the same two events", () => {
  const m = new ExecutionManager();
  const events = [];
  m.subscribe((e) => events.push(`${e.type}:${e.execution.status}`));
  const x = m.track({ targetId: "x", signal: AbortSignal.abort() });
  assert.equal(x.status, "cancelled");
  assert.equal(x.cancelReason, "This operation was aborted");
  assert.deepEqual(events, ["created:pending", "status:cancelled"]);
  throwsExec(m, () => m.start(x.id), "INVALID_TRANSITION");
});

test("already aborted, with concurrency 1 and a queue: the cancelled one takes no slot", async () => {
  const m = new ExecutionManager({ concurrency: 1 });
  const calls = never(m, "never");
  m.register("ok", () => "done");
  m.create({ targetId: "never", signal: AbortSignal.abort() });
  const ok = m.create({ targetId: "ok" });
  assert.equal((await m.wait(ok.id)).status, "completed");
  assert.deepEqual(calls, []);
});

// ---- validation --------------------------------------------------------------------------------

test("a signal that is not an AbortSignal: INVALID_ARGUMENT naming request.signal, nothing created", () => {
  const m = new ExecutionManager();
  m.register("t", () => 1);
  const c = new AbortController();
  const fakes = {
    null: null,
    "an object": {},
    "a look-alike": { aborted: false, reason: undefined, addEventListener() {}, removeEventListener() {} },
    "an object inheriting from AbortSignal.prototype": Object.create(AbortSignal.prototype),
    "the AbortController": c,
    "an EventTarget": new EventTarget(),
    "a string": "signal",
    true: true,
    "a number": 1,
    "a function": () => {},
    "a Proxy of a signal whose traps throw": new Proxy(c.signal, {
      get() {
        throw new Error("trap");
      },
      getPrototypeOf() {
        throw new Error("trap");
      },
    }),
  };
  for (const [what, signal] of Object.entries(fakes)) {
    for (const call of ["create", "track"]) {
      const err = throwsExec(
        m,
        () => m[call]({ targetId: "t", id: "v", signal }),
        "INVALID_ARGUMENT",
        "request.signal",
      );
      assert.match(err.message, /AbortSignal/, what);
    }
  }
  assert.equal(m.status("v"), undefined);
  // A throwing getter for signal is INVALID_ARGUMENT too, and nothing is created.
  throwsExec(
    m,
    () =>
      m.create({
        targetId: "t",
        id: "v",
        get signal() {
          throw new Error("getter");
        },
      }),
    "INVALID_ARGUMENT",
    "request.signal",
  );
  // Earlier fields are checked first; `undefined` is no signal.
  throwsExec(m, () => m.create({ targetId: "", signal: 5 }), "INVALID_ARGUMENT", "request.targetId");
  assert.equal(m.create({ targetId: "t", id: "ok", signal: undefined }).status, "pending");
});

test("signals are not stored: no signal field in snapshots, list, REST; a signal subclass works by the host's brand", async () => {
  const m = new ExecutionManager();
  const c = new AbortController();
  // A signal whose own methods lie: the manager uses the host's methods, never these.
  const lying = c.signal;
  Object.defineProperty(lying, "aborted", { get: () => true });
  Object.defineProperty(lying, "addEventListener", { value: () => assert.fail("the signal's own method was called") });
  const x = m.track({ targetId: "x", id: "s", signal: lying });
  assert.equal(x.status, "pending", "the host's aborted getter says not aborted");
  assert.ok(!("signal" in x));
  assert.ok(!JSON.stringify(m.list()).includes("signal"));
  assert.ok(!JSON.stringify(m.handle({ method: "GET", path: "/api/v1/executions/s" }).body).includes("signal"));
  assert.equal(listeners(c.signal), 1);
  c.abort();
  assert.equal(m.status("s").status, "cancelled");
  assert.equal(listeners(c.signal), 0);
});

// ---- the listener goes once terminal, by every path ---------------------------------------------

test("the abort listener is removed once the execution is terminal, by every path", async () => {
  const paths = {
    "complete (tracked)": (m, id) => {
      m.start(id);
      m.complete(id, 1);
    },
    "fail (tracked)": (m, id) => {
      m.start(id);
      m.fail(id, "no");
    },
    cancel: (m, id) => m.cancel(id, "stop"),
    "cancel while running": (m, id) => {
      m.start(id);
      m.cancel(id);
    },
    "REST cancel": (m, id) => {
      assert.equal(m.handle({ method: "POST", path: `/api/v1/executions/${id}/cancel` }).status, 200);
    },
    "complete then remove": (m, id) => {
      m.start(id);
      m.complete(id);
      m.remove(id);
    },
  };
  for (const [what, end] of Object.entries(paths)) {
    const m = new ExecutionManager();
    const c = new AbortController();
    const { id } = m.track({ targetId: "x", signal: c.signal });
    assert.equal(listeners(c.signal), 1, what);
    end(m, id);
    assert.equal(listeners(c.signal), 0, `${what}: no listener left`);
    c.abort();
    const s = m.status(id);
    if (s) assert.notEqual(s.cancelReason, "This operation was aborted", `${what}: a late abort changes nothing`);
  }
});

test("handler-driven: completion, failure, timeout, a throw all remove the listener; a late abort changes nothing", async () => {
  const m = new ExecutionManager();
  m.register("ok", () => "fine");
  m.register("throws", () => {
    throw new Error("bad");
  });
  m.register("hangs", () => new Promise(() => {}));
  m.register("bad-result", () => () => {});
  const c = new AbortController();
  const ids = [
    m.create({ targetId: "ok", signal: c.signal }).id,
    m.create({ targetId: "throws", signal: c.signal }).id,
    m.create({ targetId: "hangs", signal: c.signal, config: { timeoutMs: 20 } }).id,
    m.create({ targetId: "bad-result", signal: c.signal }).id,
  ];
  assert.equal(listeners(c.signal), 1);
  const ends = await Promise.all(ids.map((id) => m.wait(id)));
  assert.deepEqual(
    ends.map((e) => e.status),
    ["completed", "failed", "failed", "failed"],
  );
  assert.deepEqual(
    ends.slice(1).map((e) => e.error.code),
    ["HANDLER_ERROR", "TIMEOUT", "INVALID_RESULT"],
  );
  assert.equal(listeners(c.signal), 0);
  c.abort();
  assert.deepEqual(
    ids.map((id) => m.status(id)),
    ends,
    "terminal executions never change",
  );
});

test("eviction and free(): no listener left; free() with executions still pending removes every listener", () => {
  const m = new ExecutionManager({ maxFinished: 1 });
  const c = new AbortController();
  for (let i = 0; i < 5; i++) {
    const { id } = m.track({ targetId: "x", signal: c.signal });
    m.start(id);
    m.complete(id);
  }
  assert.equal(m.counts().total, 1, "the others were evicted");
  assert.equal(listeners(c.signal), 0);

  const f = new ExecutionManager();
  const a = new AbortController();
  const b = new AbortController();
  f.track({ targetId: "x", signal: a.signal });
  f.track({ targetId: "x", signal: a.signal });
  f.track({ targetId: "x", signal: b.signal });
  assert.equal(listeners(a.signal) + listeners(b.signal), 2);
  f.free();
  assert.equal(listeners(a.signal) + listeners(b.signal), 0);
  a.abort(); // nothing to cancel, nothing thrown
  b.abort();
});

test("two managers sharing a signal: each listens once, each cancels its own", () => {
  const m1 = new ExecutionManager();
  const m2 = new ExecutionManager();
  const c = new AbortController();
  m1.track({ targetId: "x", id: "a", signal: c.signal });
  m2.track({ targetId: "x", id: "a", signal: c.signal });
  assert.equal(listeners(c.signal), 2);
  c.abort("both");
  assert.equal(m1.status("a").cancelReason, "both");
  assert.equal(m2.status("a").cancelReason, "both");
  assert.equal(listeners(c.signal), 0);
});

test("abort from inside a listener, a handler and a request getter: the cancel happens, events stay in order", async () => {
  const m = new ExecutionManager();
  const c = new AbortController();
  const events = [];
  m.subscribe((e) => {
    events.push(`${e.execution.id}:${e.type}:${e.execution.status}`);
    if (e.execution.id === "trigger" && e.type === "created") c.abort("from a listener");
  });
  m.track({ targetId: "x", id: "victim", signal: c.signal });
  m.track({ targetId: "x", id: "trigger" });
  assert.equal(m.status("victim").status, "cancelled");
  assert.deepEqual(events, ["victim:created:pending", "trigger:created:pending", "victim:status:cancelled"]);

  const h = new AbortController();
  m.register("self-abort", async () => {
    h.abort("from the handler");
    return "ignored";
  });
  const x = m.create({ targetId: "self-abort", signal: h.signal });
  const end = await m.wait(x.id);
  assert.equal(end.status, "cancelled");
  assert.equal(end.cancelReason, "from the handler");

  // A getter of the request aborts its own signal while the engine reads it: the call returns the
  // execution already cancelled.
  const g = new AbortController();
  const y = m.track({
    targetId: "x",
    get inputs() {
      g.abort("from a getter");
      return {};
    },
    signal: g.signal,
  });
  assert.equal(y.status, "cancelled");
  assert.equal(y.cancelReason, "from a getter");
});

test("an abort reason whose message getter calls the manager: the cancel still happens", () => {
  const m = new ExecutionManager();
  m.track({ targetId: "x", id: "other" });
  const c = new AbortController();
  const x = m.track({ targetId: "x", id: "me", signal: c.signal });
  c.abort({
    get message() {
      m.cancel("other", "nested");
      return "outer";
    },
  });
  assert.equal(m.status("other").cancelReason, "nested");
  assert.equal(m.status(x.id).cancelReason, "outer");
  assert.equal(listeners(c.signal), 0);
  const y = m.track({
    targetId: "x",
    id: "me2",
    signal: AbortSignal.abort({
      get message() {
        m.cancel("me2", "from the reason");
        return "outer";
      },
    }),
  });
  assert.equal(y.status, "cancelled");
  assert.equal(y.cancelReason, "from the reason", "the first cancel wins, the second finds it terminal");
});

test(
  "1,000,000 executions share one signal: never more than one listener, none at the end (child process)",
  () => {
    const child = path.join(HERE, "reliability", "signal-listeners-child.mjs");
    const r = spawnSync(process.execPath, ["--expose-gc", child, "1000000"], { encoding: "utf8", timeout: 240_000 });
    assert.equal(r.status, 0, `child failed: ${r.stderr}\n${r.stdout}`);
    const report = JSON.parse(r.stdout.trim().split("\n").pop());
    console.log(`signal listeners: ${JSON.stringify(report)}`);
    assert.equal(report.executions, 1_000_000);
    assert.equal(report.maxListeners, 1, "one listener at most while executions follow the signal");
    assert.equal(report.endListeners, 0, "none once every execution is terminal");
    assert.equal(report.addCalls, report.removeCalls, "every listener added was removed");
    assert.ok(report.addCalls <= report.batches, "one listener per batch at most, not one per execution");
    assert.equal(report.freedListeners, 0, "free() removes the listener of pending executions");
    // Nothing grows with the executions that went through (10,000 finished ones are held throughout).
    const [early, end] = report.heapMiB;
    assert.ok(end - early < 4, `JS heap ${early} MiB at 100,000 executions, ${end} MiB at 1,000,000`);
  },
  { timeout: 250_000 },
);

// ---- wait(id, { signal }) ------------------------------------------------------------------------

test("wait(id, { signal }): the signal aborting first rejects with its reason; the execution goes on", async () => {
  const m = new ExecutionManager();
  m.track({ targetId: "x", id: "j" });
  const c = new AbortController();
  const p = m.wait("j", { signal: c.signal });
  assert.equal(listeners(c.signal), 1);
  const reason = new Error("stop waiting");
  c.abort(reason);
  await assert.rejects(p, (err) => err === reason);
  assert.equal(listeners(c.signal), 0, "the wait's listener is removed when it settles");
  assert.equal(m.status("j").status, "pending", "the execution is not cancelled");
  // Another wait still resolves at the end.
  const later = m.wait("j");
  m.start("j");
  m.complete("j", 7);
  assert.equal((await later).result, 7);
});

test("wait(id, { signal }) during each kind of wait: pending for a slot, running handler, tracked pending and running", async () => {
  const m = new ExecutionManager({ concurrency: 1 });
  const gate = gateTarget(m, "gate");
  m.create({ targetId: "gate", id: "running" });
  m.create({ targetId: "gate", id: "queued" });
  m.track({ targetId: "x", id: "t-pending" });
  m.track({ targetId: "x", id: "t-running" });
  m.start("t-running");
  await until(() => gate.started.includes("running"), "the first handler");
  for (const id of ["running", "queued", "t-pending", "t-running"]) {
    const before = m.status(id);
    const c = new AbortController();
    const p = m.wait(id, { signal: c.signal });
    c.abort(`stop ${id}`);
    await assert.rejects(p, (err) => err === `stop ${id}`);
    assert.deepEqual(m.status(id), before, `${id} unchanged`);
    assert.equal(listeners(c.signal), 0);
  }
  gate.release("running", 1);
  gate.release("queued", 2);
  assert.equal((await m.wait("queued")).result, 2);
});

test("wait(id, { signal }) resolving first removes its listener; an already aborted signal rejects at once", async () => {
  const m = new ExecutionManager();
  m.track({ targetId: "x", id: "j" });
  const c = new AbortController();
  const p = m.wait("j", { signal: c.signal });
  m.start("j");
  m.complete("j", "ok");
  assert.equal((await p).result, "ok");
  assert.equal(listeners(c.signal), 0);
  c.abort(); // after the wait settled: nothing happens

  const reason = new Error("already");
  await assert.rejects(m.wait("j", { signal: AbortSignal.abort(reason) }), (err) => err === reason);
  m.track({ targetId: "x", id: "k" });
  await assert.rejects(m.wait("k", { signal: AbortSignal.abort("gone") }), (err) => err === "gone");
  assert.equal(m.status("k").status, "pending");
  // An unknown id is NOT_FOUND before the signal is looked at.
  await rejectsExec(m.wait("nope", { signal: AbortSignal.abort() }), "NOT_FOUND", "nope");
});

test("wait(id, { signal }) many waits, one signal: one listener for them all, gone once every wait settled", async () => {
  const m = new ExecutionManager();
  const c = new AbortController();
  const ids = ["a", "b", "c"];
  for (const id of ids) m.track({ targetId: "x", id });
  const waits = ids.map((id) => m.wait(id, { signal: c.signal }));
  const plain = m.wait("a");
  assert.equal(listeners(c.signal), 1);
  m.start("a");
  m.complete("a");
  await waits[0];
  assert.equal(listeners(c.signal), 1, "two waits still follow it");
  c.abort("bye");
  const outcomes = await Promise.allSettled(waits.slice(1));
  assert.deepEqual(
    outcomes.map((o) => o.reason),
    ["bye", "bye"],
  );
  assert.equal(listeners(c.signal), 0);
  assert.equal((await plain).status, "completed", "a wait without the signal is untouched");
  // 1,000 waits on one signal: still one listener (no MaxListenersExceededWarning), none after.
  const many = [];
  for (let i = 0; i < 1000; i++) many.push(m.wait("b", { signal: c.signal }).catch((e) => e));
  const d = new AbortController();
  for (let i = 0; i < 1000; i++) many.push(m.wait("b", { signal: d.signal }));
  assert.equal(listeners(d.signal), 1);
  m.start("b");
  m.complete("b", "all");
  for (const r of await Promise.all(many.slice(1000))) assert.equal(r.result, "all");
  assert.equal(listeners(d.signal), 0);
});

test("the same signal on create and on wait: the wait rejects with the reason (the signal aborted first), the execution is cancelled", async () => {
  const m = new ExecutionManager();
  const c = new AbortController();
  m.track({ targetId: "x", id: "j", signal: c.signal });
  const p = m.wait("j", { signal: c.signal });
  const plain = m.wait("j");
  assert.equal(listeners(c.signal), 1, "one listener for the execution and the wait");
  c.abort("both");
  await assert.rejects(p, (err) => err === "both");
  assert.equal((await plain).cancelReason, "both");
  assert.equal(listeners(c.signal), 0);
});

test("wait options: malformed ones reject INVALID_ARGUMENT naming the field; free() rejects and removes the listener", async () => {
  const m = new ExecutionManager();
  m.track({ targetId: "x", id: "j" });
  for (const options of [5, "x", [], new (class Opts {})(), () => {}]) {
    await rejectsExec(() => m.wait("j", options), "INVALID_ARGUMENT", "options");
  }
  for (const signal of [null, {}, 1, new AbortController()]) {
    await rejectsExec(() => m.wait("j", { signal }), "INVALID_ARGUMENT", "options.signal");
  }
  await rejectsExec(
    () =>
      m.wait("j", {
        get signal() {
          throw new Error("getter");
        },
      }),
    "INVALID_ARGUMENT",
    "options.signal",
  );
  // `undefined`, `null` and `{}` options are no signal.
  const waits = [m.wait("j", undefined), m.wait("j", null), m.wait("j", {})];
  const c = new AbortController();
  const withSignal = m.wait("j", { signal: c.signal });
  m.free();
  for (const p of [...waits, withSignal]) await rejectsExec(p, "INVALID_TRANSITION");
  assert.equal(listeners(c.signal), 0);
});

test("an AbortSignal.timeout on wait: rejects with a TimeoutError, the execution still completes later", async () => {
  const m = new ExecutionManager();
  const d = deferred();
  m.register("slow", () => d.promise);
  const x = m.create({ targetId: "slow" });
  await assert.rejects(m.wait(x.id, { signal: AbortSignal.timeout(10) }), (err) => err.name === "TimeoutError");
  d.resolve("late but fine");
  const end = await m.wait(x.id);
  assert.equal(end.status, "completed");
  assert.equal(end.result, "late but fine");
});

// ---- the waits of scheduling: a delay, a retry's backoff -------------------------------------------
// These need `delayMs` and `retry` (the scheduling half of the same work); on a build without them
// (no `runAt` on a snapshot) they are skipped, and they run as soon as both are merged.

const scheduling = (() => {
  const m = new ExecutionManager();
  const x = m.track({ targetId: "x" });
  m.free();
  return "runAt" in x;
})();

test("abort while waiting for a delay: cancelled at once, nothing runs later, no listener left; a wait's signal leaves it be", async (t) => {
  if (!scheduling) return t.skip("scheduling (delayMs, runAt) is not built here");
  const m = new ExecutionManager();
  const calls = never(m, "later");
  const c = new AbortController();
  const x = m.create({ targetId: "later", id: "d", delayMs: 60_000, signal: c.signal });
  assert.equal(x.status, "pending");
  assert.equal(typeof x.runAt, "number");
  const w = new AbortController();
  const waited = m.wait("d", { signal: w.signal });
  w.abort("not waiting");
  await assert.rejects(waited, (err) => err === "not waiting");
  assert.equal(m.status("d").status, "pending", "the wait's signal cancels nothing");
  const seen = [];
  const watching = (async () => {
    for await (const e of m.watch("d")) seen.push(e.status);
  })();
  await flush();
  c.abort(new Error("changed my mind"));
  const s = m.status("d");
  assert.equal(s.status, "cancelled");
  assert.equal(s.cancelReason, "changed my mind");
  assert.equal(listeners(c.signal), 0);
  await watching;
  assert.deepEqual(seen, ["pending", "cancelled"]);
  await flush(20);
  assert.deepEqual(calls, []);
});

test("abort while waiting for a retry: cancelled, no further attempt, no listener left; the signal is followed across attempts", async (t) => {
  if (!scheduling) return t.skip("scheduling (retry, attempt) is not built here");
  const m = new ExecutionManager();
  let calls = 0;
  m.register("flaky", () => {
    calls++;
    throw new Error("try again");
  });
  const c = new AbortController();
  const x = m.create({
    targetId: "flaky",
    id: "r",
    retry: { attempts: 3, backoff: { delayMs: 60_000 } },
    signal: c.signal,
  });
  await until(() => m.status("r").attempt === 1 && m.status("r").status === "pending", "the first attempt to fail");
  assert.equal(listeners(c.signal), 1, "still followed while waiting for the retry");
  const seen = [];
  const watching = (async () => {
    for await (const e of m.watch(x.id)) seen.push(e.status);
  })();
  await flush();
  c.abort("enough");
  const s = m.status("r");
  assert.equal(s.status, "cancelled");
  assert.equal(s.cancelReason, "enough");
  assert.equal(listeners(c.signal), 0);
  await watching;
  assert.deepEqual(seen, ["pending", "cancelled"]);
  await flush(20);
  assert.equal(calls, 1, "no attempt after the cancel");
});

test("a retried execution that completes removes the listener once, at the end", async (t) => {
  if (!scheduling) return t.skip("scheduling (retry) is not built here");
  const m = new ExecutionManager();
  let calls = 0;
  m.register("third-time", () => {
    calls++;
    if (calls < 3) throw new Error(`attempt ${calls}`);
    return "ok";
  });
  const c = new AbortController();
  const x = m.create({ targetId: "third-time", retry: { attempts: 3 }, signal: c.signal });
  const end = await m.wait(x.id);
  assert.equal(end.status, "completed");
  assert.equal(end.attempt, 3);
  assert.equal(listeners(c.signal), 0);
});
