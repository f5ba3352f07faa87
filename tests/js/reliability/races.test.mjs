// Races, each with its outcome asserted (the outcomes are listed in the README):
//   cancel vs completion in the same microtask, cancel inside a progress listener, timeout vs
//   completion, remove inside a 'removed' listener, unsubscribe during delivery, wait()
//   registered after completion.
// Timers are made deterministic by capturing the manager's own setTimeout calls (the binding
// calls the global setTimeout(callback, ms, seq) at the moment it arms a timeout) and firing
// them by hand.
import assert from "node:assert/strict";
import { describe } from "node:test";
import { ExecutionManager } from "execman";
import { deferred, quiesce, test, track } from "./lib.mjs";

/** A manager whose target "t" hands each call a deferred; every event is logged. */
function gated(options) {
  const m = new ExecutionManager(options);
  const calls = new Map(); // id → { d, ctx, inputs }
  m.register("t", (inputs, ctx) => {
    const d = deferred();
    calls.set(ctx.id, { d, ctx, inputs });
    return d.promise;
  });
  const log = [];
  m.subscribe((ev) => log.push(`${ev.type}:${ev.execution.id}:${ev.execution.status}`));
  return { m, calls, log };
}

function finished(m, id) {
  m.track({ targetId: "x", id });
  m.start(id);
  m.complete(id, id);
}

function code(fn) {
  try {
    fn();
    return "ok";
  } catch (e) {
    return e.code ?? e.name;
  }
}

/**
 * Runs `fn` while capturing the manager's timeout timers (setTimeout calls with one extra
 * numeric argument); other timers pass through. Returns the captured timers and a way to fire one.
 */
async function captureTimers(fn) {
  const realSet = globalThis.setTimeout;
  const realClear = globalThis.clearTimeout;
  const timers = [];
  const cleared = [];
  globalThis.setTimeout = (cb, ms, ...args) => {
    if (args.length === 1 && typeof args[0] === "number") {
      const t = { cb, ms, arg: args[0], handle: { captured: timers.length } };
      timers.push(t);
      return t.handle;
    }
    return realSet(cb, ms, ...args);
  };
  globalThis.clearTimeout = (handle) => {
    if (handle && typeof handle === "object" && "captured" in handle) cleared.push(handle);
    else realClear(handle);
  };
  try {
    await fn();
  } finally {
    globalThis.setTimeout = realSet;
    globalThis.clearTimeout = realClear;
  }
  return { timers, cleared, fire: (t) => t.cb(t.arg) };
}

describe("race: cancel vs completion", () => {
  test("handler resolves, then cancel in the same microtask: cancelled; the result is never stored", async () => {
    const { m, calls, log } = gated();
    m.create({ targetId: "t", id: "a" });
    await quiesce();
    const w = track(m.wait("a"));
    calls.get("a").d.resolve(42);
    const cancelled = m.cancel("a", "race");
    assert.equal(cancelled.status, "cancelled");
    assert.equal(calls.get("a").ctx.signal.aborted, true, "aborted before cancel returned");
    await quiesce();
    const s = m.status("a");
    assert.equal(s.status, "cancelled");
    assert.equal(s.result, undefined);
    assert.equal(s.cancelReason, "race");
    assert.deepEqual(
      log,
      ["created:a:pending", "status:a:running", "status:a:cancelled"],
      "exactly one terminal event",
    );
    assert.equal(w.status, "fulfilled");
    assert.deepEqual(w.value, s);
  });

  test("cancel, then the handler resolves in the same microtask: cancelled; the late result changes nothing", async () => {
    const { m, calls, log } = gated({ concurrency: 1 });
    m.create({ targetId: "t", id: "a" });
    m.create({ targetId: "t", id: "b" });
    await quiesce();
    m.cancel("a");
    calls.get("a").d.resolve(42);
    await quiesce();
    assert.equal(m.status("a").status, "cancelled");
    assert.equal(m.status("a").result, undefined);
    // Its slot was held until the handler settled, then "b" started.
    assert.equal(m.status("b").status, "running");
    assert.deepEqual(
      log.filter((l) => l.includes(":a:")),
      ["created:a:pending", "status:a:running", "status:a:cancelled"],
    );
  });

  test("handler resolves, cancel queued as a microtask right after: still cancelled (the result is seen microtasks later)", async () => {
    const { m, calls } = gated();
    m.create({ targetId: "t", id: "a" });
    await quiesce();
    let outcome;
    calls.get("a").d.resolve(42);
    queueMicrotask(() => (outcome = code(() => m.cancel("a"))));
    await quiesce();
    assert.equal(outcome, "ok");
    assert.equal(m.status("a").status, "cancelled");
  });

  test("handler resolves and the manager has seen it (a macrotask later): cancel throws INVALID_TRANSITION, completed stays", async () => {
    const { m, calls } = gated();
    m.create({ targetId: "t", id: "a" });
    await quiesce();
    calls.get("a").d.resolve(42);
    await quiesce();
    assert.equal(
      code(() => m.cancel("a")),
      "INVALID_TRANSITION",
    );
    assert.equal(m.status("a").status, "completed");
    assert.equal(m.status("a").result, 42);
  });

  test("a handler rejects and is cancelled in the same microtask: cancelled, no error stored", async () => {
    const { m, calls } = gated();
    m.create({ targetId: "t", id: "a" });
    await quiesce();
    calls.get("a").d.reject(new Error("boom"));
    m.cancel("a");
    await quiesce();
    assert.equal(m.status("a").status, "cancelled");
    assert.equal(m.status("a").error, undefined);
  });

  test("tracked: complete then cancel in the same microtask: completed; cancel throws INVALID_TRANSITION", () => {
    const m = new ExecutionManager();
    m.track({ targetId: "x", id: "a" });
    m.start("a");
    m.complete("a", 1);
    assert.equal(
      code(() => m.cancel("a")),
      "INVALID_TRANSITION",
    );
    assert.equal(m.status("a").status, "completed");
  });

  test("cancel queued right after create (handler not started yet): the pump runs first, so the handler is called, then cancelled", async () => {
    const m = new ExecutionManager();
    let called = 0;
    m.register("s", () => {
      called++;
      return 7;
    });
    m.create({ targetId: "s", id: "a" });
    let outcome;
    queueMicrotask(() => (outcome = code(() => m.cancel("a"))));
    await quiesce();
    assert.equal(called, 1);
    assert.equal(outcome, "ok");
    assert.equal(m.status("a").status, "cancelled");
  });

  test("cancel in the 'running' listener: the handler is never called; cancel in 'created': never started", async () => {
    const m = new ExecutionManager();
    let called = 0;
    m.register("s", () => {
      called++;
      return 7;
    });
    m.subscribe((ev) => {
      if (ev.type === "status" && ev.execution.status === "running" && ev.execution.id === "a") m.cancel("a");
      if (ev.type === "created" && ev.execution.id === "b") m.cancel("b");
    });
    m.create({ targetId: "s", id: "a" });
    m.create({ targetId: "s", id: "b" });
    await quiesce();
    assert.equal(called, 0);
    assert.equal(m.status("a").status, "cancelled");
    assert.equal(typeof m.status("a").startedAt, "number");
    assert.equal(m.status("b").status, "cancelled");
    assert.equal(m.status("b").startedAt, null);
  });
});

describe("race: cancel inside a progress listener", () => {
  test("handler-driven: the progress event reaches every listener first, then 'cancelled'; ctx.progress returns normally with the signal aborted", async () => {
    const m = new ExecutionManager();
    const log = [];
    let aborted;
    let progressThrew = null;
    m.register("t", async (inputs, ctx) => {
      try {
        ctx.progress(1, 10, "one");
      } catch (e) {
        progressThrew = e;
      }
      aborted = ctx.signal.aborted;
      ctx.progress(2, 10, "ignored"); // terminal by now: silently ignored
      return "result";
    });
    m.subscribe((ev) => {
      log.push(`L1 ${ev.type}:${ev.execution.status}`);
      if (ev.type === "progress") log.push(`L1 cancel() -> ${m.cancel(ev.execution.id, "from a listener").status}`);
    });
    m.subscribe((ev) => log.push(`L2 ${ev.type}:${ev.execution.status}`));
    m.create({ targetId: "t", id: "a" });
    const done = await m.wait("a");
    assert.equal(progressThrew, null, "ctx.progress does not throw");
    assert.equal(aborted, true, "the signal aborted during ctx.progress");
    assert.equal(done.status, "cancelled");
    assert.equal(done.cancelReason, "from a listener");
    assert.equal(done.result, undefined);
    assert.deepEqual(
      {
        current: done.progress.current,
        total: done.progress.total,
        message: done.progress.message,
        percentage: done.progress.percentage,
      },
      { current: 1, total: 10, message: "one", percentage: 10 },
      "the progress before the cancel is kept; the later report is ignored",
    );
    assert.deepEqual(log, [
      "L1 created:pending",
      "L2 created:pending",
      "L1 status:running",
      "L2 status:running",
      "L1 progress:running",
      "L1 cancel() -> cancelled",
      "L2 progress:running",
      "L1 status:cancelled",
      "L2 status:cancelled",
    ]);
  });

  test("tracked: reportProgress returns undefined, the execution is cancelled with that progress; later reports are INVALID_TRANSITION", () => {
    const m = new ExecutionManager();
    const log = [];
    m.track({ targetId: "x", id: "a" });
    m.start("a");
    m.subscribe((ev) => {
      log.push(`${ev.type}:${ev.execution.status}`);
      if (ev.type === "progress") m.cancel("a");
    });
    assert.equal(m.reportProgress("a", 5, 10), undefined);
    const s = m.status("a");
    assert.equal(s.status, "cancelled");
    assert.equal(s.progress.current, 5);
    assert.equal(s.progress.percentage, 50);
    assert.deepEqual(log, ["progress:running", "status:cancelled"]);
    assert.equal(
      code(() => m.reportProgress("a", 6)),
      "INVALID_TRANSITION",
    );
  });
});

describe("race: timeout vs completion", () => {
  test("tracked: the timeout fires, then complete in the same microtask: failed TIMEOUT; complete throws INVALID_TRANSITION", async () => {
    const m = new ExecutionManager();
    m.track({ targetId: "x", id: "a", config: { timeoutMs: 50 } });
    const { timers, fire } = await captureTimers(() => m.start("a"));
    assert.equal(timers.length, 1, "start arms one timer");
    assert.equal(timers[0].ms, 50);
    fire(timers[0]);
    assert.equal(
      code(() => m.complete("a", 1)),
      "INVALID_TRANSITION",
    );
    const s = m.status("a");
    assert.equal(s.status, "failed");
    assert.equal(s.error.code, "TIMEOUT");
    assert.equal(s.error.name, "TimeoutError");
  });

  test("tracked: complete, then the stale timer fires: completed stays; complete cleared the timer", async () => {
    const m = new ExecutionManager();
    m.track({ targetId: "x", id: "a", config: { timeoutMs: 50 } });
    const { timers, cleared, fire } = await captureTimers(() => {
      m.start("a");
      m.complete("a", 1);
    });
    assert.deepEqual(cleared, [timers[0].handle], "the timer is cleared on completion");
    fire(timers[0]);
    assert.equal(m.status("a").status, "completed");
    assert.equal(m.status("a").result, 1);
  });

  test("handler: it resolves and the timeout fires in the same microtask: failed TIMEOUT, the signal aborts with a TimeoutError", async () => {
    const { m, calls, log } = gated();
    const { timers, fire } = await captureTimers(async () => {
      m.create({ targetId: "t", id: "a", config: { timeoutMs: 50 } });
      await quiesce();
    });
    assert.equal(timers.length, 1);
    calls.get("a").d.resolve("late");
    fire(timers[0]);
    await quiesce();
    const s = m.status("a");
    assert.equal(s.status, "failed");
    assert.equal(s.error.code, "TIMEOUT");
    assert.equal(s.result, undefined);
    const { signal } = calls.get("a").ctx;
    assert.equal(signal.aborted, true);
    assert.equal(signal.reason?.name, "TimeoutError");
    assert.deepEqual(log, ["created:a:pending", "status:a:running", "status:a:failed"]);
  });

  test("handler: it resolves and the manager sees it; the stale timer then fires: completed stays", async () => {
    const { m, calls } = gated();
    const { timers, fire } = await captureTimers(async () => {
      m.create({ targetId: "t", id: "a", config: { timeoutMs: 50 } });
      await quiesce();
    });
    calls.get("a").d.resolve("in time");
    await quiesce();
    fire(timers[0]);
    await quiesce();
    assert.equal(m.status("a").status, "completed");
    assert.equal(m.status("a").result, "in time");
  });

  test("real timers: a handler that resolves on its own timer of the same delay loses (the manager's timer was armed first)", async () => {
    const m = new ExecutionManager();
    m.register("t", () => new Promise((resolve) => setTimeout(() => resolve("done"), 30)));
    m.create({ targetId: "t", id: "a", config: { timeoutMs: 30 } });
    const done = await m.wait("a");
    assert.equal(done.status, "failed");
    assert.equal(done.error.code, "TIMEOUT");
  });
});

describe("race: remove inside a 'removed' listener", () => {
  test("remove(b) inside remove(a)'s 'removed' event: both removed, events a then b to every listener; remove(a) again is NOT_FOUND", () => {
    const m = new ExecutionManager();
    for (const id of ["a", "b", "c"]) finished(m, id);
    const l1 = [];
    const l2 = [];
    let inner;
    m.subscribe((ev) => {
      l1.push(`${ev.type}:${ev.execution.id}`);
      if (ev.type === "removed" && ev.execution.id === "a") {
        inner = m.remove("b");
        l1.push(`remove(a) again: ${code(() => m.remove("a"))}`);
      }
    });
    m.subscribe((ev) => l2.push(`${ev.type}:${ev.execution.id}`));
    const removed = m.remove("a");
    assert.equal(removed.id, "a");
    assert.equal(inner.id, "b");
    assert.deepEqual(l1, ["removed:a", "remove(a) again: NOT_FOUND", "removed:b"]);
    assert.deepEqual(l2, ["removed:a", "removed:b"], "b's event comes after a's reached every listener");
    assert.deepEqual(
      m.list().items.map((e) => e.id),
      ["c"],
    );
  });

  test("clear() with a listener that removes and clears during clear's events: clear counts only its own; nothing removed twice", () => {
    const m = new ExecutionManager();
    finished(m, "a");
    finished(m, "b");
    m.track({ targetId: "x", id: "p" });
    const log = [];
    m.subscribe((ev) => {
      log.push(`${ev.type}:${ev.execution.id}`);
      if (ev.type === "removed" && ev.execution.id === "a") {
        log.push(`remove(b): ${code(() => m.remove("b"))}`);
        log.push(`clear(): ${m.clear()}`);
      }
    });
    assert.equal(m.clear(), 2);
    assert.deepEqual(log, ["removed:a", "remove(b): NOT_FOUND", "clear(): 0", "removed:b"]);
    assert.deepEqual(m.counts(), { pending: 1, running: 0, completed: 0, failed: 0, cancelled: 0, total: 1 });
  });

  test("eviction: a 'removed' listener of an evicted execution removes another terminal one", () => {
    const m = new ExecutionManager({ maxFinished: 2 });
    finished(m, "a");
    finished(m, "b");
    const log = [];
    m.subscribe((ev) => {
      log.push(`${ev.type}:${ev.execution.id}`);
      if (ev.type === "removed" && ev.execution.id === "a") log.push(`remove(b) -> ${m.remove("b").id}`);
    });
    finished(m, "c");
    assert.deepEqual(log, ["created:c", "status:c", "status:c", "removed:a", "remove(b) -> b", "removed:b"]);
    assert.deepEqual(
      m.list().items.map((e) => e.id),
      ["c"],
    );
  });
});

describe("race: unsubscribe during delivery", () => {
  test("a listener unsubscribed by an earlier one gets nothing more, not even the event in progress; self-unsubscribe keeps the current event; a listener added during delivery gets only later events", () => {
    const m = new ExecutionManager();
    const l1 = [];
    const l2 = [];
    const l3 = [];
    const l4 = [];
    let off2;
    let off3;
    m.subscribe((ev) => {
      l1.push(ev.type);
      if (ev.type === "created") {
        off2();
        m.subscribe((e) => l4.push(`${e.type}:${e.execution.status}`));
        m.start("a");
      }
    });
    off2 = m.subscribe((ev) => l2.push(ev.type));
    off3 = m.subscribe((ev) => {
      l3.push(ev.type);
      off3();
    });
    m.track({ targetId: "x", id: "a" });
    m.complete("a");
    assert.deepEqual(l1, ["created", "status", "status"]);
    assert.deepEqual(l2, [], "unsubscribed before its turn for the first event");
    assert.deepEqual(l3, ["created"], "unsubscribed itself after the first event");
    assert.deepEqual(
      l4,
      ["status:running", "status:completed"],
      "subscribed during 'created': sees start's event (delivered after 'created') and later ones",
    );
    off2();
    off3(); // idempotent
  });

  test("every listener unsubscribes itself while a burst of nested changes is delivered: each sees exactly the first event", () => {
    const m = new ExecutionManager();
    const seen = [];
    const offs = [];
    for (let i = 0; i < 5; i++) {
      offs.push(
        m.subscribe((ev) => {
          seen.push(`${i}:${ev.type}:${ev.execution.id}`);
          offs[i]();
          if (i === 0 && ev.execution.id === "a") m.track({ targetId: "x", id: "b" });
        }),
      );
    }
    m.track({ targetId: "x", id: "a" });
    assert.deepEqual(seen, ["0:created:a", "1:created:a", "2:created:a", "3:created:a", "4:created:a"]);
  });
});

describe("race: wait() registered after completion", () => {
  test("after completion: resolves at once with the terminal snapshot, equal to status()", async () => {
    const m = new ExecutionManager();
    finished(m, "a");
    const done = await m.wait("a");
    assert.deepEqual(done, m.status("a"));
  });

  test("wait() before and after complete() in the same microtask: both resolve with the same terminal snapshot", async () => {
    const m = new ExecutionManager();
    m.track({ targetId: "x", id: "a" });
    m.start("a");
    const before = m.wait("a");
    m.complete("a", 1);
    const after = m.wait("a");
    assert.deepEqual(await before, await after);
    assert.equal((await after).status, "completed");
  });

  test("wait() inside the terminal 'status' listener resolves; after remove() it rejects NOT_FOUND; a waited execution evicted later still resolved", async () => {
    const m = new ExecutionManager({ maxFinished: 1 });
    let inListener;
    m.subscribe((ev) => {
      if (ev.type === "status" && ev.execution.status === "completed" && ev.execution.id === "a")
        inListener = m.wait("a");
    });
    m.track({ targetId: "x", id: "a" });
    m.start("a");
    const early = m.wait("a");
    m.complete("a", "A");
    assert.equal((await inListener).status, "completed");
    finished(m, "b"); // evicts a
    assert.equal(m.status("a"), undefined);
    assert.equal((await early).result, "A");
    await assert.rejects(m.wait("a"), (e) => e.name === "ExecutionError" && e.code === "NOT_FOUND");
  });

  test("a handler that waits on its own execution: resolves once it has finished", async () => {
    const m = new ExecutionManager();
    let own;
    m.register("t", (inputs, ctx) => {
      own = m.wait(ctx.id);
      return "x";
    });
    m.create({ targetId: "t", id: "a" });
    assert.equal((await m.wait("a")).status, "completed");
    assert.equal((await own).result, "x");
  });
});
