// The package loads with require() — both by name and from the repo's pkg/ dir — with no
// init call, and works straight away.
const { test } = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");

const sources = {
  'require("execman")': () => require("execman"),
  'require("<repo>/pkg")': () => require(path.join(__dirname, "..", "..", "pkg")),
};

for (const [label, load] of Object.entries(sources)) {
  test(`${label} exports ExecutionManager and runs a create + wait round trip`, async () => {
    const mod = load();
    assert.equal(typeof mod.ExecutionManager, "function");
    const { ExecutionManager } = mod;
    const m = new ExecutionManager({ concurrency: 2 });
    for (const method of [
      "register",
      "create",
      "track",
      "start",
      "reportProgress",
      "complete",
      "fail",
      "status",
      "progress",
      "list",
      "counts",
      "cancel",
      "wait",
      "remove",
      "clear",
      "subscribe",
    ]) {
      assert.equal(typeof m[method], "function", `ExecutionManager.prototype.${method}`);
    }
    m.register("double", async (inputs, ctx) => {
      ctx.progress(1, 1);
      return { doubled: inputs.n * 2, id: ctx.id };
    });
    const created = m.create({ targetId: "double", id: "r1", inputs: { n: 21 } });
    assert.equal(created.status, "pending");
    const done = await m.wait("r1");
    assert.equal(done.status, "completed");
    assert.deepEqual(done.result, { doubled: 42, id: "r1" });
    assert.equal(done.progress.percentage, 100);
    assert.deepEqual(m.counts(), { pending: 0, running: 0, completed: 1, failed: 0, cancelled: 0, total: 1 });
    // Errors are ExecutionErrors here too.
    try {
      m.create({ targetId: "nope" });
      assert.fail("expected UNKNOWN_TARGET");
    } catch (e) {
      assert.ok(e instanceof Error);
      assert.equal(e.name, "ExecutionError");
      assert.equal(e.code, "UNKNOWN_TARGET");
    }
  });
}
