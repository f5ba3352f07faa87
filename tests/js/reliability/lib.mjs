// Shared helpers of the reliability suites (tests/js/reliability/*.test.mjs). Not a test file.
//
// Environment:
//   EXECMAN_LONG=1          long runs (more fast-check cases, a bigger soak, the 4 GiB OOM probe)
//   EXECMAN_SEED=<int>      replay one fast-check seed (printed on every run)
//   EXECMAN_RUNS=<int>      override the number of fast-check runs
//   EXECMAN_NO_SHRINK=1     report the model's first failure without shrinking it
//   EXECMAN_TRACE=<file>    write every model command to <file> before it runs
import { test as nodeTest } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
// The JSON-compatibility model lives with the hostile corpus (which has no Node imports, so the
// browser test can load it too); re-exported here for the other suites.
export { jsonCompatible } from "./hostile-corpus.mjs";

export const LONG = process.env.EXECMAN_LONG === "1";

/** fast-check settings shared by the model-based suites: a printed seed, replayable. */
export function fcParams(defaultRuns, longRuns) {
  const seed =
    process.env.EXECMAN_SEED !== undefined
      ? Number(process.env.EXECMAN_SEED)
      : Date.now() ^ (Math.random() * 0x7fffffff);
  const numRuns =
    process.env.EXECMAN_RUNS !== undefined ? Number(process.env.EXECMAN_RUNS) : LONG ? longRuns : defaultRuns;
  return { seed, numRuns };
}

/**
 * node:test's `test` with a timeout, and a timer that keeps the event loop alive meanwhile: a
 * promise the implementation never settles then fails that one test instead of the whole file.
 */
export function test(name, fn, options = {}) {
  if (typeof fn !== "function") [fn, options] = [options, fn]; // test(name, options, fn) too
  const { timeout = 20_000, skip = false } = options;
  return nodeTest(name, { timeout, skip }, async (t) => {
    const keepAlive = setTimeout(() => {}, timeout + 500);
    try {
      return await fn(t);
    } finally {
      clearTimeout(keepAlive);
    }
  });
}

/** A promise with its resolve/reject exposed, and whether it settled. */
export function deferred() {
  const d = { settled: false };
  d.promise = new Promise((resolve, reject) => {
    d.resolve = (v) => {
      d.settled = true;
      resolve(v);
    };
    d.reject = (e) => {
      d.settled = true;
      reject(e);
    };
  });
  return d;
}

/** Lets every queued microtask run (handler starts, settles, pumps): two macrotask turns. */
export async function quiesce() {
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Follows a promise's state without awaiting it. */
export function track(promise) {
  const state = { status: "pending", value: undefined };
  promise.then(
    (value) => Object.assign(state, { status: "fulfilled", value }),
    (value) => Object.assign(state, { status: "rejected", value }),
  );
  return state;
}

/** Checks that `err` is the contract's ExecutionError, with a code among `codes`. */
export function checkExecError(err, codes, context = "") {
  const allowed = [codes].flat();
  assert.ok(err instanceof Error, `${context}: expected an Error, got ${safeInspect(err)}`);
  assert.equal(err.name, "ExecutionError", `${context}: error name (message: ${safeMessage(err)})`);
  assert.ok(
    allowed.includes(err.code),
    `${context}: code ${err.code} not in [${allowed}] (message: ${safeMessage(err)})`,
  );
  assert.equal(typeof err.message, "string");
}

export function safeMessage(err) {
  try {
    return String(err?.message).slice(0, 300);
  } catch {
    return "<unprintable>";
  }
}

export function safeInspect(v) {
  try {
    const s = inspect(v, { depth: 2, breakLength: Infinity, maxStringLength: 80, maxArrayLength: 8 });
    return s.length > 300 ? `${s.slice(0, 300)}…` : s;
  } catch {
    return `<uninspectable ${typeof v}>`;
  }
}

const TIME_KEYS = ["createdAt", "startedAt", "finishedAt", "updatedAt"];

/** A snapshot without its clock fields (and progress.updatedAt), for comparing with a model. */
export function stripTimes(e) {
  if (e === undefined || e === null || typeof e !== "object") return e;
  const out = { ...e };
  for (const k of TIME_KEYS) delete out[k];
  if (out.progress && typeof out.progress === "object") {
    const { updatedAt, ...p } = out.progress;
    out.progress = p;
  }
  return out;
}

/** The clock fields of a snapshot agree with its status. */
export function checkTimes(e, context = "") {
  const where = `${context} ${e.id} (${e.status})`;
  for (const k of ["createdAt", "updatedAt"]) assert.equal(typeof e[k], "number", `${where}: ${k}`);
  assert.ok(e.updatedAt >= e.createdAt, `${where}: updatedAt >= createdAt`);
  if (e.startedAt !== null) {
    assert.equal(typeof e.startedAt, "number", `${where}: startedAt`);
    assert.ok(e.startedAt >= e.createdAt, `${where}: startedAt >= createdAt`);
  }
  if (["completed", "failed", "cancelled"].includes(e.status)) {
    assert.equal(typeof e.finishedAt, "number", `${where}: finishedAt`);
    assert.ok(e.finishedAt >= (e.startedAt ?? e.createdAt), `${where}: finishedAt after start`);
  } else {
    assert.equal(e.finishedAt, null, `${where}: finishedAt`);
  }
  // a retry's wait keeps the start of the attempt that failed; before any start there is none
  if (e.status === "pending" && !(e.attempt >= 1))
    assert.equal(e.startedAt, null, `${where}: startedAt of a pending one`);
  if (e.status === "pending" && e.attempt >= 1) assert.equal(typeof e.startedAt, "number", `${where}: startedAt`);
  if (e.status === "running" || e.status === "completed")
    assert.equal(typeof e.startedAt, "number", `${where}: startedAt`);
  if (e.progress) assert.equal(typeof e.progress.updatedAt, "number", `${where}: progress.updatedAt`);
}

/**
 * Captures console.error calls while `fn` runs (sync or async); returns [result, calls].
 * The captured calls are not printed.
 */
export async function captureConsoleError(fn) {
  const calls = [];
  const original = console.error;
  console.error = (...args) => calls.push(args);
  try {
    const result = await fn();
    return [result, calls];
  } finally {
    console.error = original;
  }
}

// The nesting helpers are the API suites' own.
export { nestArrays, nestObjects } from "../helpers.mjs";
