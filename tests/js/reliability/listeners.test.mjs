// Listener isolation: a throwing listener is reported with console.error (the README's choice)
// and never breaks delivery to the others, whatever it throws and wherever it throws from.
import assert from "node:assert/strict";
import { ExecutionManager } from "execman";
import { captureConsoleError, quiesce, test } from "./lib.mjs";

const THROWN = {
  "an Error": () => new Error("listener failed"),
  "a TypeError subclass": () => new (class MyError extends TypeError {})("typed"),
  "a string": () => "plain string",
  undefined: () => undefined,
  null: () => null,
  "a number": () => 42,
  "a symbol": () => Symbol("thrown"),
  "a BigInt": () => 10n,
  "a Proxy whose traps throw": () =>
    new Proxy(
      {},
      {
        get() {
          throw new Error("trap");
        },
        getPrototypeOf() {
          throw new Error("trap");
        },
        ownKeys() {
          throw new Error("trap");
        },
      },
    ),
  "an object whose toString throws": () => ({
    toString() {
      throw new Error("toString");
    },
  }),
  "a frozen object": () => Object.freeze({ frozen: true }),
};

/** A tracked execution taken through every event: created, status ×2, progress, removed. */
function lifecycle(m, id) {
  m.track({ targetId: "x", id });
  m.start(id);
  m.reportProgress(id, 1, 2);
  m.complete(id, { id });
  m.remove(id);
}
const LIFECYCLE = ["created", "status", "progress", "status", "removed"];

for (const [what, make] of Object.entries(THROWN)) {
  test(`a listener throwing ${what}: reported with console.error, the change happens, the others get every event`, async () => {
    const m = new ExecutionManager();
    const before = [];
    const after = [];
    const thrown = [];
    m.subscribe((ev) => before.push(ev.type));
    m.subscribe(() => {
      const v = make();
      thrown.push(v);
      throw v;
    });
    m.subscribe((ev) => after.push(ev.type));
    const [, calls] = await captureConsoleError(() => lifecycle(m, "a"));
    assert.deepEqual(before, LIFECYCLE);
    assert.deepEqual(after, LIFECYCLE, "listeners after the throwing one still get every event");
    assert.equal(m.status("a"), undefined, "the changes happened");
    assert.equal(calls.length, LIFECYCLE.length, "one console.error per thrown event");
    calls.forEach((args, i) => {
      assert.equal(typeof args[0], "string");
      assert.match(args[0], /listener/);
      assert.ok(Object.is(args[1], thrown[i]), "console.error gets the very value thrown");
    });
  });
}

test("a throwing listener in nested deliveries: the nested change happens, every listener gets every event in order", async () => {
  const m = new ExecutionManager();
  const seen = [];
  m.subscribe((ev) => {
    if (ev.type === "created" && ev.execution.id === "a") m.track({ targetId: "x", id: "b" });
    throw new Error(`after ${ev.type}`);
  });
  m.subscribe((ev) => seen.push(`${ev.type}:${ev.execution.id}`));
  const [, calls] = await captureConsoleError(() => m.track({ targetId: "x", id: "a" }));
  assert.deepEqual(seen, ["created:a", "created:b"]);
  assert.equal(calls.length, 2);
  assert.equal(m.counts().total, 2);
});

test("a listener throwing on 'removed' during clear() and eviction: everything is removed, the others get every event", async () => {
  const m = new ExecutionManager({ maxFinished: 3 });
  const removed = [];
  m.subscribe((ev) => {
    if (ev.type === "removed") throw new Error(`removed ${ev.execution.id}`);
  });
  m.subscribe((ev) => ev.type === "removed" && removed.push(ev.execution.id));
  const [n, calls] = await captureConsoleError(() => {
    for (const id of ["a", "b", "c", "d", "e"]) {
      m.track({ targetId: "x", id });
      m.start(id);
      m.complete(id);
    }
    return m.clear();
  });
  assert.equal(n, 3);
  assert.deepEqual(removed.slice(0, 2), ["a", "b"], "evicted first");
  assert.deepEqual(removed.slice(2).sort(), ["c", "d", "e"]);
  assert.equal(calls.length, 5);
  assert.equal(m.counts().total, 0);
});

test("a listener throwing on 'running' of a handler-driven execution: the handler still runs and completes", async () => {
  const m = new ExecutionManager();
  let called = 0;
  m.register("t", () => {
    called++;
    return "ok";
  });
  m.subscribe((ev) => {
    if (ev.execution.status === "running") throw new Error("running");
  });
  const [done, calls] = await captureConsoleError(async () => {
    m.create({ targetId: "t", id: "a" });
    return m.wait("a");
  });
  assert.equal(called, 1);
  assert.equal(done.status, "completed");
  assert.equal(calls.length, 1);
});

test("a listener throwing on every one of 2,000 events: 2,000 reports, the other listener misses none", async () => {
  const m = new ExecutionManager({ maxFinished: 10 });
  let got = 0;
  m.subscribe(() => {
    throw new Error("always");
  });
  m.subscribe(() => got++);
  const [, calls] = await captureConsoleError(() => {
    for (let i = 0; i < 500; i++) {
      m.track({ targetId: "x", id: `e${i}` });
      m.start(`e${i}`);
      m.complete(`e${i}`);
    }
    m.clear();
  });
  assert.equal(got, 2000);
  assert.equal(calls.length, 2000);
});

test("console.error that re-enters the manager while a listener's error is reported: no 'busy' error, delivery goes on", async () => {
  const m = new ExecutionManager();
  const seen = [];
  const reentered = [];
  m.subscribe(() => {
    throw new Error("listener");
  });
  m.subscribe((ev) => seen.push(`${ev.type}:${ev.execution.id}`));
  const original = console.error;
  console.error = () => {
    reentered.push(m.counts().total);
    if (!m.status("side")) m.track({ targetId: "x", id: "side" });
  };
  try {
    m.track({ targetId: "x", id: "a" });
  } finally {
    console.error = original;
  }
  assert.deepEqual(seen, ["created:a", "created:side"]);
  assert.deepEqual(reentered, [1, 2]);
});

test("console.error itself throws (as test setups that fail on console.error do): the call still succeeds, the others still get the event, later events are still delivered", async () => {
  // the contract: "A listener that throws is isolated (the change still happens, other listeners
  // still run)". A console.error that throws must not turn that into an exception through the
  // wasm frames (which would also leave the manager's delivery flag set forever).
  const m = new ExecutionManager();
  const seen = [];
  m.subscribe(() => {
    throw new Error("listener");
  });
  m.subscribe((ev) => seen.push(`${ev.type}:${ev.execution.status}`));
  const original = console.error;
  console.error = () => {
    throw new Error("console.error must not be called");
  };
  let trackError;
  try {
    m.track({ targetId: "x", id: "a" });
  } catch (e) {
    trackError = e;
  } finally {
    console.error = original;
  }
  // Whatever happened above, later events must flow again (console.error works now).
  const [, calls] = await captureConsoleError(() => m.start("a"));
  await quiesce();
  const problems = [];
  if (trackError) problems.push(`track() threw ${trackError.name} ${trackError.code ?? ""}: ${trackError.message}`);
  if (!seen.includes("created:pending")) problems.push("the other listener did not get 'created'");
  if (!seen.includes("status:running"))
    problems.push(
      `no listener gets events any more (later 'running' missing; seen: ${JSON.stringify(seen)}; console.error calls afterwards: ${calls.length})`,
    );
  assert.deepEqual(problems, []);
  assert.equal(m.status("a").status, "running");
});
