// The drain: what an engine call caused is queued in wasm and acted on by js/manager.js after the
// call returned (ARCHITECTURE.md). These tests aim at the drain itself: listeners that re-enter,
// handlers started from a drained queue, the one timer, and the wasm memory growing while a drain
// is in progress (which detaches the scratch array's view).
import assert from "node:assert/strict";
import { ExecutionManager } from "execman";
import { deferred, flush, test } from "./helpers.mjs";

const tag = (ev) => `${ev.type}:${ev.execution.id}:${ev.execution.status}`;

test("a listener that re-enters: its changes reach every listener after the current event, in order", () => {
  const m = new ExecutionManager();
  const first = [];
  const second = [];
  m.subscribe((ev) => {
    first.push(tag(ev));
    if (ev.type === "created" && ev.execution.id === "a") {
      m.track({ targetId: "x", id: "b" });
      m.start("b");
      // What the nested calls return is already the new state, though its events wait.
      assert.equal(m.status("b").status, "running");
      assert.deepEqual(second, [], "the second listener has not seen a's creation yet");
    }
  });
  m.subscribe((ev) => second.push(tag(ev)));
  const a = m.track({ targetId: "x", id: "a" });
  assert.equal(a.status, "pending");
  const want = ["created:a:pending", "created:b:pending", "status:b:running"];
  assert.deepEqual(first, want);
  assert.deepEqual(second, want);
});

test("a cancel inside a listener aborts the handler's signal before the cancel returns", async () => {
  const m = new ExecutionManager();
  const gate = deferred();
  let signal;
  m.register("t", (inputs, ctx) => {
    signal = ctx.signal;
    return gate.promise;
  });
  m.create({ targetId: "t", id: "h" });
  await flush();
  let abortedInside;
  m.track({ targetId: "x", id: "trigger" });
  m.subscribe((ev) => {
    if (ev.execution.id === "trigger" && ev.execution.status === "running") {
      m.cancel("h", "from a listener");
      abortedInside = signal.aborted;
    }
  });
  m.start("trigger");
  assert.equal(abortedInside, true);
  assert.equal(m.status("h").cancelReason, "from a listener");
  gate.resolve("late");
  await flush();
  assert.equal(m.status("h").status, "cancelled", "the late result changes nothing");
});

test("a handler started from a drained queue: a listener creates work, its handler runs in a later microtask", async () => {
  const m = new ExecutionManager({ concurrency: 1 });
  const calls = [];
  m.register("t", (inputs) => {
    calls.push(inputs.n);
    return inputs.n;
  });
  m.subscribe((ev) => {
    const { id, status, inputs } = ev.execution;
    if (ev.type === "status" && status === "completed" && inputs.n < 3) {
      m.create({ targetId: "t", id: `n${inputs.n + 1}`, inputs: { n: inputs.n + 1 } });
      assert.equal(calls.length, inputs.n, `no handler call inside the listener of ${id}`);
    }
  });
  m.create({ targetId: "t", id: "n1", inputs: { n: 1 } });
  assert.deepEqual(calls, [], "never inside create");
  const done = await m.wait("n1");
  assert.equal(done.result, 1);
  for (let i = 0; i < 10 && m.status("n3")?.status !== "completed"; i++) await flush();
  assert.deepEqual(calls, [1, 2, 3]);
  assert.equal(m.status("n3").result, 3);
  assert.equal(m.counts().completed, 3);
});

test("the wasm memory grows while a drain is in progress: later events and returns still read the right numbers", async () => {
  const m = new ExecutionManager();
  m.track({ targetId: "x", id: "a" });
  m.start("a");
  const big = "y".repeat(4 << 20); // each copy is 4 MiB of UTF-16, more once in wasm
  const seen = [];
  let grown = 0;
  m.subscribe((ev) => {
    seen.push(`${tag(ev)}:${ev.execution.progress?.current ?? "-"}`);
    if (ev.type === "progress" && grown < 3) {
      grown++;
      // Large inputs make the engine grow its memory while the outer drain still has events queued.
      m.track({ targetId: "big", id: `big${grown}`, inputs: big });
    }
  });
  m.reportProgress("a", 1, 10);
  m.reportProgress("a", 2, 10);
  const completed = m.complete("a", { ok: true });
  assert.equal(completed.status, "completed");
  assert.equal(completed.progress.current, 10, "the completion brings progress to its total");
  assert.deepEqual(completed.result, { ok: true });
  assert.deepEqual(seen, [
    "progress:a:running:1",
    "created:big1:pending:-",
    "progress:a:running:2",
    "created:big2:pending:-",
    "status:a:completed:10",
  ]);
  assert.equal(m.status("big2").inputs.length, big.length);
  assert.equal(m.status("a").progress.current, 10);
});

test(
  "the one timer: deadlines of many executions share one timer, re-armed for the earliest",
  async () => {
    const m = new ExecutionManager();
    const realSet = globalThis.setTimeout;
    const realClear = globalThis.clearTimeout;
    const armed = [];
    const pending = new Set(); // the manager's timers armed and neither fired nor cleared
    globalThis.setTimeout = (cb, ms, ...args) => {
      if (args.length !== 1 || typeof args[0] !== "number") return realSet(cb, ms, ...args);
      armed.push(ms);
      const h = realSet(
        (...a) => {
          pending.delete(h);
          cb(...a);
        },
        ms,
        ...args,
      );
      pending.add(h);
      return h;
    };
    globalThis.clearTimeout = (h) => {
      pending.delete(h);
      return realClear(h);
    };
    try {
      for (const [id, ms] of [
        ["late", 400],
        ["early", 30],
        ["middle", 200],
      ]) {
        m.track({ targetId: "x", id, config: { timeoutMs: ms } });
        m.start(id);
      }
      assert.equal(pending.size, 1, "one timer armed at a time");
      assert.deepEqual(armed.slice(0, 2), [400, 30], "re-armed only when the earliest deadline moved");
      const early = await m.wait("early");
      assert.equal(early.error.code, "TIMEOUT");
      assert.equal(m.status("middle").status, "running");
      m.complete("middle", null);
      m.complete("late", null);
      assert.equal(pending.size, 0, "no deadline left: no timer");
    } finally {
      globalThis.setTimeout = realSet;
      globalThis.clearTimeout = realClear;
    }
  },
  { timeout: 20_000 },
);

test("many deadlines due at once with eviction: every attempt times out, aborts its signal and resolves its wait", async () => {
  const m = new ExecutionManager({ maxFinished: 1 });
  let aborted = 0;
  m.register(
    "t",
    (inputs, ctx) =>
      new Promise((resolve) => {
        ctx.signal.addEventListener("abort", () => {
          aborted++;
          resolve();
        });
      }),
  );
  const seen = { failed: 0, removed: 0 };
  m.subscribe((ev) => {
    if (ev.type === "status" && ev.execution.status === "failed") seen.failed++;
    if (ev.type === "removed") seen.removed++;
  });
  const n = 50;
  const waits = [];
  for (let i = 0; i < n; i++) waits.push(m.wait(m.create({ targetId: "t", config: { timeoutMs: 20 } }).id));
  const done = await Promise.all(waits);
  assert.equal(done.length, n);
  assert.ok(done.every((x) => x.status === "failed" && x.error.code === "TIMEOUT"));
  assert.equal(aborted, n, "every signal aborted");
  assert.equal(seen.failed, n, "a status event for every timeout, also those evicted before delivery");
  assert.equal(seen.removed, n - 1);
  assert.equal(m.counts().running, 0);
});

test("a getter of complete()'s result that replaces the execution runs once; the new one completes", () => {
  const m = new ExecutionManager();
  m.track({ id: "x", targetId: "s" });
  m.start("x");
  let runs = 0;
  const result = {
    get v() {
      runs++;
      m.cancel("x");
      m.remove("x");
      m.track({ id: "x", targetId: "s2" });
      m.start("x");
      return 1;
    },
  };
  const x = m.complete("x", result);
  assert.equal(runs, 1);
  assert.equal(x.targetId, "s2");
  assert.deepEqual(x.result, { v: 1 });
});

test("argument errors come before NOT_FOUND, and name the argument", () => {
  const m = new ExecutionManager();
  const code = (fn) => {
    try {
      fn();
    } catch (e) {
      return `${e.code}: ${e.message}`;
    }
    return "no error";
  };
  assert.match(
    code(() => m.reportProgress("unknown", "x")),
    /^INVALID_ARGUMENT: .*current/,
  );
  assert.match(
    code(() => m.complete("unknown", () => 1)),
    /^INVALID_ARGUMENT: .*result/,
  );
  assert.match(
    code(() => m.cancel("unknown", 5)),
    /^INVALID_ARGUMENT: .*reason/,
  );
  assert.match(
    code(() => m.fail("unknown", 5)),
    /^INVALID_ARGUMENT: .*error/,
  );
  assert.match(
    code(() => m.reportProgress("unknown", 1)),
    /^NOT_FOUND/,
  );
  m.track({ id: "t", targetId: "x" });
  m.start("t");
  assert.match(
    code(() => m.reportProgress("t", 1, null, 42)),
    /^INVALID_ARGUMENT: .*message.* must be a string, got 42/,
  );
  assert.match(
    code(() => m.reportProgress("t", 1, null, "bad\uD800")),
    /^INVALID_ARGUMENT: .*message.*lone/,
  );
});

test("Date.now that calls the manager during a change: the nested calls work (the clock is read first)", () => {
  const m = new ExecutionManager();
  m.track({ id: "x", targetId: "s" });
  const real = Date.now;
  let inner;
  let depth = 0;
  Date.now = () => {
    if (depth++ === 0 && inner === undefined) {
      inner = m.status("x").status;
      m.track({ id: "y", targetId: "s" });
    }
    depth--;
    return real();
  };
  try {
    assert.equal(m.start("x").status, "running");
  } finally {
    Date.now = real;
  }
  assert.equal(inner, "pending");
  assert.equal(m.counts().total, 2);
});
