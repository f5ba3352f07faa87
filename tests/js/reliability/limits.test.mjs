// The size limits the README documents (so that no input can exhaust the 4 GiB wasm heap or
// V8's string limit on the way back), checked at their boundaries: a string may have at most
// 32 Mi UTF-16 units; a whole JSON value at most a budget of 32 Mi units (string lengths plus 16
// per value); past them INVALID_ARGUMENT (a handler's result: failed INVALID_RESULT); an id past
// the limit cannot exist (NOT_FOUND / undefined); messages quote at most 200 characters of an id.
import assert from "node:assert/strict";
import { ExecutionManager } from "execman";
import { test } from "./lib.mjs";

const Mi = 1 << 20;
const MAX = 32 * Mi;

function code(fn) {
  try {
    fn();
    return "ok";
  } catch (e) {
    assert.equal(e.name, "ExecutionError", `${e.name}: ${e.message}`);
    return e.code;
  }
}

/** track() with these inputs: "ok" (then removed again) or the error code; counts unchanged on error. */
function trackInputs(m, inputs) {
  const before = m.counts();
  let id;
  const c = code(() => {
    id = m.track({ targetId: "x", inputs }).id;
  });
  if (c === "ok") {
    m.cancel(id);
    m.remove(id);
  } else {
    assert.deepEqual(m.counts(), before, "a refused track changes nothing");
  }
  return c;
}

test("ids: 32 Mi units are accepted and queryable; one more is INVALID_ARGUMENT to create and simply unknown to look up", async () => {
  const m = new ExecutionManager();
  const id = "i".repeat(MAX);
  assert.equal(m.track({ targetId: "x", id }).id.length, MAX);
  assert.equal(m.status(id).status, "pending");
  m.cancel(id);
  assert.equal(m.remove(id).id, id);
  const tooLong = "i".repeat(MAX + 1);
  assert.equal(
    code(() => m.track({ targetId: "x", id: tooLong })),
    "INVALID_ARGUMENT",
  );
  assert.equal(m.status(tooLong), undefined);
  assert.equal(m.progress(tooLong), undefined);
  assert.equal(
    code(() => m.cancel(tooLong)),
    "NOT_FOUND",
  );
  await assert.rejects(m.wait(tooLong), (e) => e.name === "ExecutionError" && e.code === "NOT_FOUND");
  assert.equal(m.counts().total, 0);
});

test("error messages quote at most 200 characters of an id", () => {
  const m = new ExecutionManager();
  for (const n of [199, 200, 201, 1000, MAX + 1]) {
    try {
      m.cancel("x".repeat(n));
      assert.fail("cancel of an unknown id");
    } catch (e) {
      assert.equal(e.code, "NOT_FOUND");
      const quoted = Math.max(...(e.message.match(/x+/g) ?? [""]).map((s) => s.length));
      assert.ok(quoted <= 200, `${n}-char id: the message quotes ${quoted} characters: ${e.message.slice(0, 120)}…`);
      assert.ok(quoted >= Math.min(n, 50), `${n}-char id: the message still names it`);
      assert.ok(e.message.length < 400, `${n}-char id: message of ${e.message.length} characters`);
    }
  }
});

test("a string inside inputs: 32 Mi − 16 units fit the budget, one more does not", () => {
  const m = new ExecutionManager();
  assert.equal(trackInputs(m, "x".repeat(MAX - 16)), "ok");
  assert.equal(trackInputs(m, "x".repeat(MAX - 15)), "INVALID_ARGUMENT");
});

test("the budget counts UTF-16 units, as documented: 20 Mi units of 'é' (40 MiB of UTF-8) fit", () => {
  // README: "a whole JSON value … at most a budget of 32 Mi units (string lengths plus 16 per value)",
  // and a string "at most 32 Mi UTF-16 units".
  const m = new ExecutionManager();
  assert.equal(trackInputs(m, "é".repeat(20 * Mi)), "ok", "20 Mi UTF-16 units + 16 are within the 32 Mi budget");
  assert.equal(trackInputs(m, { a: "€".repeat(16 * Mi), b: "é".repeat(15 * Mi) }), "ok");
});

test("about 2 million values: an array of 2 Mi − 1 numbers fits, 2 Mi do not", () => {
  const m = new ExecutionManager();
  assert.equal(trackInputs(m, new Array(2 * Mi - 1).fill(0)), "ok");
  assert.equal(trackInputs(m, new Array(2 * Mi).fill(0)), "INVALID_ARGUMENT");
});

test("results: a handler's result past the budget fails INVALID_RESULT; complete() with one throws INVALID_ARGUMENT", async () => {
  const m = new ExecutionManager();
  let result;
  m.register("ret", () => result);
  result = "x".repeat(MAX - 16);
  const ok = await m.wait(m.create({ targetId: "ret" }).id);
  assert.equal(ok.status, "completed");
  assert.equal(ok.result.length, MAX - 16);
  result = "x".repeat(MAX - 15);
  const bad = await m.wait(m.create({ targetId: "ret" }).id);
  assert.equal(bad.status, "failed");
  assert.equal(bad.error.code, "INVALID_RESULT");
  m.track({ targetId: "x", id: "t" });
  m.start("t");
  assert.equal(
    code(() => m.complete("t", "x".repeat(MAX - 15))),
    "INVALID_ARGUMENT",
  );
  assert.equal(m.status("t").status, "running");
});

test("other strings: reason and progress message of 32 Mi + 1 units are INVALID_ARGUMENT, 32 Mi accepted; a failure message past 65,536 units is INVALID_ARGUMENT, 65,536 accepted", () => {
  const m = new ExecutionManager();
  m.track({ targetId: "x", id: "a" });
  m.start("a");
  assert.equal(
    code(() => m.cancel("a", "r".repeat(MAX + 1))),
    "INVALID_ARGUMENT",
  );
  assert.equal(
    code(() => m.reportProgress("a", 1, 2, "m".repeat(MAX + 1))),
    "INVALID_ARGUMENT",
  );
  assert.equal(
    code(() => m.fail("a", "f".repeat(MAX + 1))),
    "INVALID_ARGUMENT",
  );
  assert.equal(m.status("a").status, "running");
  assert.equal(
    code(() => m.reportProgress("a", 1, 2, "m".repeat(MAX))),
    "ok",
  );
  // The contract's (v2) limit on failure details: 65,536 units.
  assert.equal(
    code(() => m.fail("a", "f".repeat(65_537))),
    "INVALID_ARGUMENT",
  );
  assert.equal(m.fail("a", "f".repeat(65_536)).error.message.length, 65_536);
});

test("REST: an oversize method, body value or body text is a 400/405 with an error body", async () => {
  const m = new ExecutionManager();
  m.register("t", () => 1);
  const method = m.handle({ method: "x".repeat(MAX + 1), path: "/api/v1/executions" });
  assert.ok([400, 405].includes(method.status), `status ${method.status}`);
  assert.equal(typeof method.body?.error?.code, "string");
  const body = m.handle({
    method: "POST",
    path: "/api/v1/executions",
    body: { targetId: "t", inputs: "x".repeat(MAX - 15) },
  });
  assert.equal(body.status, 400);
  assert.equal(body.body.error.code, "INVALID_ARGUMENT");
  const res = await m.fetch(
    new Request("http://execman.test/api/v1/executions", {
      method: "POST",
      body: JSON.stringify({ targetId: "t", inputs: "x".repeat(MAX - 15) }),
    }),
  );
  assert.equal(res.status, 400);
  assert.equal((await res.json()).error.code, "INVALID_ARGUMENT");
  assert.equal(m.counts().total, 0);
});
