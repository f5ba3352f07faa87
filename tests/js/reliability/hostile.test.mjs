// Never trap: every method of the Node build, with a corpus of hostile arguments in every
// argument position (see hostile-corpus.mjs, shared with tests/browser/hostile.test.mjs).
import assert from "node:assert/strict";
import { ExecutionManager } from "execman";
import { runNeverTrap } from "./hostile-corpus.mjs";
import { captureConsoleError, test } from "./lib.mjs";

test(
  "never trap: every method × every argument position × the hostile corpus",
  async () => {
    // Listeners in the corpus (a Proxy of a function whose apply trap throws…) may be reported.
    const [report] = await captureConsoleError(() => runNeverTrap(ExecutionManager));
    console.log(
      `never-trap (node): ${report.corpus} hostile values × ${report.positions} positions + handle/fetch/handler probes: ` +
        `${report.calls} calls, ${report.succeeded} succeeded, errors ${JSON.stringify(report.errors)}, ` +
        `${report.traps} traps, ${report.failures.length} failures, ${report.ms} ms`,
    );
    assert.equal(report.traps, 0, "no call trapped the instance");
    assert.deepEqual(report.failures, [], "every call succeeded or threw the contract's ExecutionError");
  },
  { timeout: 120_000 },
);

test("getters that change the manager while their object is being read: no 'busy' error, both changes land", async () => {
  const m = new ExecutionManager();
  m.register("t", (inputs) => inputs);
  const seen = [];
  m.subscribe((ev) => seen.push(`${ev.type}:${ev.execution.id}`));
  const request = {
    targetId: "t",
    id: "outer",
    get inputs() {
      m.track({ targetId: "x", id: "from-getter" });
      m.cancel("from-getter", "inside a getter");
      return { n: 1 };
    },
  };
  const created = m.create(request);
  assert.equal(created.id, "outer");
  assert.equal(m.status("from-getter").status, "cancelled");
  assert.deepEqual(seen, ["created:from-getter", "status:from-getter", "created:outer"]);
  const query = {
    get status() {
      m.remove("from-getter");
      return "cancelled";
    },
  };
  assert.equal(m.list(query).total, 0, "the removal made inside the getter is seen by the query");
  const failArg = {
    message: "m",
    get code() {
      m.complete("x1", 1);
      return "E";
    },
  };
  m.track({ targetId: "x", id: "x1" });
  m.start("x1");
  m.track({ targetId: "x", id: "x2" });
  m.start("x2");
  assert.equal(m.fail("x2", failArg).error.code, "E");
  assert.equal(m.status("x1").status, "completed");
  assert.equal((await m.wait("outer")).status, "completed");
});

test("a getter that makes its own call invalid (removes the execution it targets): the call reports NOT_FOUND, nothing else changes", () => {
  const m = new ExecutionManager();
  m.track({ targetId: "x", id: "a" });
  m.start("a");
  const result = {
    get value() {
      m.cancel("a");
      m.remove("a");
      return 1;
    },
  };
  let err;
  try {
    m.complete("a", result);
  } catch (e) {
    err = e;
  }
  assert.equal(err?.name, "ExecutionError");
  assert.equal(err?.code, "NOT_FOUND");
  assert.equal(m.counts().total, 0);
});

test("outside the contract: a method called on a wrong receiver or after free() throws (wasm-bindgen's plain Error), without trapping the instance", async () => {
  const EM = ExecutionManager;
  const m = new EM();
  const other = new EM();
  other.track({ targetId: "x", id: "kept" });
  const outcomes = [];
  for (const [what, fn] of [
    ["status.call({})", () => EM.prototype.status.call({}, "x")],
    ["counts.call(Object.create(prototype))", () => EM.prototype.counts.call(Object.create(EM.prototype))],
    [
      "free() then counts()",
      () => {
        m.free();
        return m.counts();
      },
    ],
    ["free() twice", () => m.free()],
  ]) {
    try {
      fn();
      outcomes.push(`${what}: returned`);
    } catch (e) {
      assert.ok(!(e instanceof WebAssembly.RuntimeError), `${what} trapped: ${e.message}`);
      outcomes.push(`${what}: ${e.name}: ${e.message}`);
    }
  }
  console.log(`wrong receivers: ${outcomes.join("; ")}`);
  assert.equal(other.status("kept").status, "pending", "other managers keep working");
  const fresh = new EM();
  fresh.register("t", () => 1);
  const { id } = fresh.create({ targetId: "t" });
  assert.equal((await fresh.wait(id)).status, "completed");
});
