// The cases of oversize.test.mjs, each run in its own Node process: they allocate GiBs, and a
// failing one can leave the wasm heap full of leaked memory, which would change the next case.
//
//   node tests/js/reliability/oversize-child.mjs <case>     exit 0: the case passed
//
// V8 strings hold at most 2^29 − 24 UTF-16 units; the wasm32 heap at most 4 GiB.
import assert from "node:assert/strict";
import { ExecutionManager } from "execman";
import { safeMessage } from "./lib.mjs";

const MAX_STRING = 2 ** 29 - 24; // V8's String::kMaxLength on 64-bit
const MB10 = 10 * 2 ** 20;
const hugeString = () => "x".repeat(MAX_STRING);

function outcome(fn) {
  try {
    return { value: fn() };
  } catch (error) {
    return { error };
  }
}

function assertExecError(error, codes, what) {
  assert.ok(error !== undefined, `${what}: did not throw`);
  assert.ok(error instanceof Error, `${what}: threw a non-Error`);
  assert.equal(
    error.name,
    "ExecutionError",
    `${what}: threw ${error.constructor?.name} ${error.name} ${error.code ?? ""}: ${safeMessage(error)}`,
  );
  assert.ok(codes.includes(error.code), `${what}: code ${error.code}, expected ${codes}`);
}

/** Runs every check, then fails with all their messages (a wrong error and a dead manager both show). */
async function checks(...fns) {
  const problems = [];
  for (const fn of fns) {
    try {
      await fn();
    } catch (e) {
      problems.push(e.message.split("\n")[0]);
    }
  }
  assert.ok(problems.length === 0, problems.join("\n"));
}

/** The manager still answers, is unchanged, and runs a fresh create + wait. */
async function assertUsable(m, countsBefore, what) {
  let counts;
  try {
    counts = m.counts();
  } catch (e) {
    assert.fail(
      `${what}: the manager is unusable afterwards: counts() threw ${e.name} ${e.code ?? ""}: ${safeMessage(e)}`,
    );
  }
  if (countsBefore) assert.deepEqual(counts, countsBefore, `${what}: counts() changed although the call failed`);
  const page = m.list({ pageSize: 1 });
  assert.ok(page !== null && typeof page === "object", `${what}: list() answers a Page`);
  const target = `probe-${Math.random()}`;
  m.register(target, () => "ok");
  const { id } = m.create({ targetId: target });
  const done = await m.wait(id);
  assert.equal(done.status, "completed", `${what}: a fresh create + wait completes`);
}

export const CASES = {
  // NOT_FOUND's message quotes the id: for an unknown id of 2^29−24 chars it cannot be a JS string.
  async "cancel(unknown id of 2^29-24 chars)"() {
    const m = new ExecutionManager();
    m.track({ targetId: "x", id: "held" });
    const before = m.counts();
    const { error } = outcome(() => m.cancel(hugeString()));
    await checks(
      () => assertExecError(error, ["NOT_FOUND"], "cancel(<2^29−24 chars>)"),
      () => assertUsable(m, before, "after cancel(<2^29−24 chars>)"),
    );
  },

  async "list({ pageSize: string of 2^29-24 chars })"() {
    const m = new ExecutionManager();
    const before = m.counts();
    const { error } = outcome(() => m.list({ pageSize: hugeString() }));
    await checks(
      () => assertExecError(error, ["INVALID_ARGUMENT"], "list({ pageSize: <2^29−24 chars> })"),
      () => assertUsable(m, before, "after list({ pageSize: <huge> })"),
    );
  },

  // 52 references to one 10 MiB string: ~520 MiB of JSON, more than one JS string holds.
  async "track(inputs: 52 × the same 10 MiB string)"() {
    const m = new ExecutionManager();
    const before = m.counts();
    const big = "x".repeat(MB10);
    const { value, error } = outcome(() => m.track({ targetId: "x", id: "big", inputs: Array(52).fill(big) }));
    if (error) {
      assertExecError(error, ["INVALID_ARGUMENT"], "track(<520 MiB of inputs>)");
      await assertUsable(m, before, "after a refused oversize track");
      return;
    }
    await checks(
      () =>
        assert.ok(
          value !== null && typeof value === "object",
          `track(<520 MiB of inputs>) returned ${value} (and the execution was created nonetheless: counts ${JSON.stringify(m.counts())})`,
        ),
      () => assert.ok(m.list() !== null, "then list() answers null (while the oversize execution is held)"),
      () => assert.ok(m.status("big") !== null, "then status(id) answers null"),
    );
  },

  async "fail(id, message of 2^29-24 chars)"() {
    const m = new ExecutionManager();
    m.track({ targetId: "x", id: "a" });
    m.start("a");
    const before = m.counts();
    const { value, error } = outcome(() => m.fail("a", hugeString()));
    if (error) {
      assertExecError(error, ["INVALID_ARGUMENT"], "fail(id, <2^29−24 chars>)");
      await assertUsable(m, before, "after a refused fail");
      return;
    }
    assert.ok(
      value !== null,
      `fail(id, <2^29−24 chars>) returned null (and the execution failed nonetheless: counts ${JSON.stringify(m.counts())})`,
    );
  },

  async "create({ targetId: unknown, 2^29-24 chars })"() {
    const m = new ExecutionManager();
    const before = m.counts();
    const { error } = outcome(() => m.create({ targetId: hugeString() }));
    await checks(
      () => assertExecError(error, ["UNKNOWN_TARGET", "INVALID_ARGUMENT"], "create({ targetId: <huge> })"),
      () => assertUsable(m, before, "after create({ targetId: <huge> })"),
    );
  },

  async "handle({ method of 2^29-24 chars })"() {
    const m = new ExecutionManager();
    const res = m.handle({ method: hugeString(), path: "/api/v1/executions" });
    assert.ok([400, 405].includes(res.status), `status ${res.status}`);
    assert.equal(
      typeof res.body?.error?.code,
      "string",
      `the error body is { error: { code, message } }, got ${JSON.stringify(res.body)}`,
    );
  },

  // 450 references to one 10 MiB string cost JS nothing, and the wasm heap 4.5 GiB.
  async "track(inputs: 450 × the same 10 MiB string)"() {
    const m = new ExecutionManager();
    const before = m.counts();
    const big = "x".repeat(MB10);
    const { error } = outcome(() => m.track({ targetId: "x", inputs: Array(450).fill(big) }));
    await checks(
      () =>
        assert.ok(
          !(error instanceof WebAssembly.RuntimeError),
          `the instance trapped: RuntimeError: ${error?.message}`,
        ),
      () => assertExecError(error, ["INVALID_ARGUMENT"], "track(<4.5 GiB of inputs>)"),
      () => assertUsable(m, before, "after track(<4.5 GiB of inputs>)"),
    );
  },
};

const name = process.argv[2];
if (name !== undefined) {
  const c = CASES[name];
  if (!c) {
    console.error(`no case named ${JSON.stringify(name)}; cases: ${Object.keys(CASES).join(" | ")}`);
    process.exit(2);
  }
  try {
    await c();
    process.exit(0);
  } catch (e) {
    console.error(e?.message ?? String(e));
    process.exit(1);
  }
}
