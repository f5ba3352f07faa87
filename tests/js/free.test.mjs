// free(): afterwards every method throws INVALID_TRANSITION, pending waits reject with it, running
// handlers' outcomes are ignored, and nothing reaches the freed engine — also when free() is
// called from a handler, a listener, an abort listener or a getter of an argument.
import assert from "node:assert/strict";
import { ExecutionManager } from "execman";
import { flush, test } from "./helpers.mjs";

const codeOf = (fn) => {
  try {
    fn();
  } catch (e) {
    return e.code;
  }
  return "no error";
};

const uncaught = [];
process.on("uncaughtException", (e) => uncaught.push(e));

test("after free(): every method throws INVALID_TRANSITION and pending waits reject with it", async () => {
  const m = new ExecutionManager();
  m.register("t", () => new Promise(() => {}));
  m.create({ targetId: "t", id: "a" });
  m.track({ targetId: "x", id: "b" });
  const waits = [m.wait("a"), m.wait("b"), m.wait("b")].map((p) =>
    p.then(
      () => "resolved",
      (e) => e.code,
    ),
  );
  await flush();
  m.free();
  assert.deepEqual(await Promise.all(waits), ["INVALID_TRANSITION", "INVALID_TRANSITION", "INVALID_TRANSITION"]);
  const calls = {
    register: () => m.register("u", () => 1),
    create: () => m.create({ targetId: "t" }),
    track: () => m.track({ targetId: "x" }),
    start: () => m.start("b"),
    reportProgress: () => m.reportProgress("b", 1),
    complete: () => m.complete("b"),
    fail: () => m.fail("b", "no"),
    status: () => m.status("a"),
    progress: () => m.progress("a"),
    list: () => m.list(),
    counts: () => m.counts(),
    cancel: () => m.cancel("a"),
    remove: () => m.remove("a"),
    clear: () => m.clear(),
    subscribe: () => m.subscribe(() => {}),
    handle: () => m.handle({ method: "GET", path: "/api/v1/executions" }),
  };
  for (const [name, call] of Object.entries(calls)) assert.equal(codeOf(call), "INVALID_TRANSITION", name);
  await assert.rejects(m.wait("a"), { code: "INVALID_TRANSITION" });
  await assert.rejects(m.fetch(new Request("http://x/api/v1/executions")), { code: "INVALID_TRANSITION" });
  m.free(); // a second free does nothing
  await flush();
  assert.deepEqual(uncaught, []);
});

test("free() from a handler, a listener, an abort listener and a getter: no stray error, the call returns", async () => {
  const a = new ExecutionManager();
  a.register("t", () => a.free());
  a.create({ targetId: "t" });
  await flush();

  const b = new ExecutionManager();
  b.subscribe((ev) => {
    if (ev.type === "status") b.free();
  });
  b.track({ targetId: "x", id: "s" });
  assert.equal(b.start("s").status, "running", "the change returns its snapshot");
  assert.equal(
    codeOf(() => b.status("s")),
    "INVALID_TRANSITION",
  );

  const c = new ExecutionManager();
  c.register("t", (inputs, ctx) => {
    ctx.signal.addEventListener("abort", () => c.free());
    return new Promise(() => {});
  });
  c.create({ targetId: "t", id: "h" });
  await flush();
  assert.equal(c.cancel("h").status, "cancelled");

  const d = new ExecutionManager();
  const created = d.create.bind(d);
  d.register("t", () => 1);
  assert.equal(
    codeOf(() =>
      created({
        targetId: "t",
        get inputs() {
          d.free();
          return {};
        },
      }),
    ),
    "no error",
    "the create under way completes",
  );
  assert.equal(
    codeOf(() => d.counts()),
    "INVALID_TRANSITION",
  );
  await flush();
  await flush();
  assert.deepEqual(uncaught, []);
});
