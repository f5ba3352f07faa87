// Shared helpers for the JS tests against the built `execman` package.
// Not a test file itself (node --test only picks up *.test.* files).
import { test as nodeTest } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";

export const STATUSES = ["pending", "running", "completed", "failed", "cancelled"];
export const TERMINAL = new Set(["completed", "failed", "cancelled"]);
export const COUNT_KEYS = [...STATUSES, "total"].sort();

/**
 * node:test's `test` with a timeout, and a timer that keeps the event loop alive meanwhile:
 * a promise the implementation never settles then fails that one test (after `timeout` ms)
 * instead of cancelling the rest of the file.
 */
export function test(name, fn, { timeout = 5000 } = {}) {
  return nodeTest(name, { timeout }, async (t) => {
    const keepAlive = setTimeout(() => {}, timeout + 500);
    try {
      return await fn(t);
    } finally {
      clearTimeout(keepAlive);
    }
  });
}

export const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/** A promise with its resolve/reject exposed. */
export function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Let pending microtasks and a few macrotask turns run. */
export function flush(ms = 5) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Poll until `pred()` holds; fail loudly after `ms`. */
export async function until(pred, what, ms = 2000) {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** Checks that `err` is the contract's ExecutionError with `code`, mentioning `mention`. */
export function checkError(err, code, mention) {
  assert.ok(err instanceof Error, `expected an Error instance, got ${inspect(err)}`);
  assert.equal(err.name, "ExecutionError", `error name (message: ${err.message})`);
  assert.equal(typeof err.code, "string", "error code is a string");
  assert.equal(err.code, code, `error code (message: ${JSON.stringify(err.message)})`);
  assert.equal(typeof err.message, "string");
  assert.ok(err.message.length > 0, "error message is not empty");
  if (mention !== undefined) {
    const options = [mention].flat();
    assert.ok(
      options.some((m) => err.message.includes(m)),
      `message ${JSON.stringify(err.message)} should name ${options.map((m) => JSON.stringify(m)).join(" or ")}`,
    );
  }
}

/**
 * Calls `fn`, which must throw the contract's error synchronously, and checks that the
 * manager's counts are unchanged by the failed call. Returns the error.
 */
export function throwsExec(m, fn, code, mention) {
  const before = m ? m.counts() : null;
  let threw = false;
  let err;
  let value;
  try {
    value = fn();
  } catch (e) {
    threw = true;
    err = e;
  }
  assert.ok(threw, `expected ${code}${mention ? ` naming ${mention}` : ""}, but the call returned ${inspect(value)}`);
  checkError(err, code, mention);
  if (m) assert.deepEqual(m.counts(), before, "counts unchanged after an error");
  return err;
}

const probes = new WeakSet();
let probeSeq = 0;

/**
 * The manager still works: a fresh create + wait completes (and is removed again,
 * so the manager is left as it was apart from the probe target's registration).
 */
export async function healthy(m) {
  if (!probes.has(m)) {
    m.register("__probe__", (inputs) => ({ echo: inputs }));
    probes.add(m);
  }
  // Other executions may move on while we wait, so only the total is compared.
  const before = m.counts().total;
  const id = `__probe-${++probeSeq}`;
  const created = m.create({ targetId: "__probe__", id, inputs: { n: probeSeq } });
  assert.equal(created.status, "pending");
  const done = await m.wait(id);
  assert.equal(done.status, "completed", `probe completes: ${inspect(done)}`);
  assert.deepEqual(done.result, { echo: { n: probeSeq } });
  assert.deepEqual(m.remove(id), done);
  assert.equal(m.status(id), undefined);
  assert.equal(m.counts().total, before);
}

/** throwsExec followed by a health probe. */
export async function expectError(m, fn, code, mention) {
  const err = throwsExec(m, fn, code, mention);
  await healthy(m);
  return err;
}

/** Awaits a promise that must reject with the contract's error. */
export async function rejectsExec(promiseOrFn, code, mention) {
  let p;
  if (typeof promiseOrFn === "function") {
    try {
      p = promiseOrFn();
    } catch (e) {
      assert.fail(`expected a rejected promise, but the call threw synchronously: ${inspect(e)}`);
    }
  } else {
    p = promiseOrFn;
  }
  assert.ok(p && typeof p.then === "function", "returns a promise");
  let rejected = false;
  let err;
  try {
    await p;
  } catch (e) {
    rejected = true;
    err = e;
  }
  assert.ok(rejected, `expected the promise to reject with ${code}`);
  checkError(err, code, mention);
  return err;
}

/** Nests `leaf` inside `levels` arrays (the outermost array is level 1). */
export function nestArrays(levels, leaf = 0) {
  let v = leaf;
  for (let i = 0; i < levels; i++) v = [v];
  return v;
}

/** Nests `leaf` inside `levels` objects `{ a: ... }`. */
export function nestObjects(levels, leaf = 0) {
  let v = leaf;
  for (let i = 0; i < levels; i++) v = { a: v };
  return v;
}

/** Checks the documented shape of an Execution snapshot. */
export function checkExecutionShape(e) {
  assert.equal(typeof e, "object");
  assert.notEqual(e, null);
  const allowed = new Set([
    "id",
    "targetId",
    "type",
    "status",
    "inputs",
    "config",
    "progress",
    "result",
    "error",
    "cancelReason",
    "createdAt",
    "startedAt",
    "finishedAt",
    "updatedAt",
    "priority",
    "attempt",
    "maxAttempts",
    "runAt",
  ]);
  for (const k of Object.keys(e)) assert.ok(allowed.has(k), `unexpected field ${k} on an Execution`);
  assert.equal(typeof e.id, "string");
  assert.equal(typeof e.targetId, "string");
  assert.equal(typeof e.type, "string");
  assert.ok(STATUSES.includes(e.status), `status ${e.status}`);
  assert.ok("inputs" in e, "inputs present");
  assert.equal(typeof e.config, "object");
  assert.notEqual(e.config, null);
  assert.ok(!Array.isArray(e.config));
  assert.ok(e.progress === null || typeof e.progress === "object");
  assert.equal(typeof e.createdAt, "number");
  assert.equal(typeof e.updatedAt, "number");
  assert.ok(e.startedAt === null || typeof e.startedAt === "number", "startedAt");
  assert.ok(e.finishedAt === null || typeof e.finishedAt === "number", "finishedAt");
  if (e.status !== "completed") assert.equal(e.result, undefined, "result only when completed");
  // error: when failed, or pending for a retry (it holds the failed attempt's failure)
  if (e.status !== "failed" && !(e.status === "pending" && e.attempt > 0)) {
    assert.equal(e.error, undefined, "error only when failed or waiting for a retry");
  }
  assert.ok(Number.isSafeInteger(e.priority), "priority");
  assert.ok(Number.isInteger(e.attempt) && e.attempt >= 0, "attempt");
  assert.ok(Number.isInteger(e.maxAttempts) && e.maxAttempts >= 1 && e.maxAttempts <= 1000, "maxAttempts");
  assert.ok(e.attempt <= e.maxAttempts, "attempt <= maxAttempts");
  assert.ok(e.runAt === null || Number.isFinite(e.runAt), "runAt");
  if (e.status === "running") assert.equal(e.runAt, null, "runAt is null once it starts");
  if (e.status !== "cancelled") assert.equal(e.cancelReason, undefined, "cancelReason only when cancelled");
  if (e.status === "pending") assert.equal(e.startedAt, null);
  if (TERMINAL.has(e.status)) assert.equal(typeof e.finishedAt, "number");
  else assert.equal(e.finishedAt, null);
  if (e.status === "running") assert.equal(typeof e.startedAt, "number");
}

/** Handler whose executions block until released by id. */
export function gateTarget(m, targetId = "gate", extra = {}) {
  const gates = new Map();
  const state = { started: [], calls: 0, inFlight: 0, maxInFlight: 0, ctx: new Map(), settled: [] };
  const gate = (id) => {
    if (!gates.has(id)) gates.set(id, deferred());
    return gates.get(id);
  };
  m.register(
    targetId,
    async (inputs, ctx) => {
      state.calls++;
      state.started.push(ctx.id);
      state.ctx.set(ctx.id, ctx);
      state.inFlight++;
      state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
      try {
        return await gate(ctx.id).promise;
      } finally {
        state.inFlight--;
        state.settled.push(ctx.id);
      }
    },
    extra.options,
  );
  state.release = (id, value) => gate(id).resolve(value);
  state.reject = (id, err) => gate(id).reject(err);
  return state;
}
