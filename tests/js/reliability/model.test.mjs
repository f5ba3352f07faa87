// Model-based test of the whole JS API (the contract) with fast-check commands:
// random sequences of register/create/track/start/reportProgress/complete/fail/cancel/remove/
// clear/list (pages and cursor walks)/counts/subscribe/unsubscribe/wait, with handlers that
// resolve, reject, throw non-Errors synchronously, return synchronously, hang until cancelled
// (reject on abort), or ignore their signal (keep their slot until the test settles them),
// and ctx.progress calls from running and finished handlers. After every command the manager
// is left to quiesce (all microtasks run) and every observable is compared with a plain JS
// model: status(id) and progress(id) of every id ever used, counts(), the full list in both
// orders, a paged walk and a cursor walk with a filter, every event each subscriber received
// (per execution, in order), the promises of wait(), and which handlers were called.
//
// The v2 commands: creates with a random priority, delayMs or runAt (past or ahead), a retry
// policy (1..3 attempts, fixed or exponential backoff, a cap) or the target's default one, and
// config.timeoutMs; handlers that fail with retryable and non-retryable values (`retryable:
// false`), fail until an attempt then succeed, or time out; `advance`, which moves the clock;
// outside AbortControllers (one per command group) whose signals go to create/track/wait/watch
// and whose `abort` cancels their executions; `watch` consumers; filtered (id/targetId/type) and
// throttled subscribers. The model orders starts by (priority desc, due time, creation sequence)
// under the concurrency limit, makes the `running → pending` retry move, and also checks
// priority/attempt/maxAttempts/runAt/error on every snapshot, ctx.attempt and each attempt's
// signal, the exact createdAt/startedAt/finishedAt, the one timer (armed for the earliest runAt
// or deadline, none when nothing is due), each watch's snapshots (the current one first, then a
// subsequence of the model's, caught up after every command, ending after the terminal one or
// on its signal), each subscriber's filtered events and the abort listeners on every signal.
//
// The clock is the test's: while the suite runs, Date.now() returns `clock.now` and the
// manager's one timer (its setTimeout call with one numeric extra argument, the due time) is
// captured and fired by `advance`, so every delay, backoff and deadline is exact and nothing
// sleeps. Throttled subscribers use a window far longer than a run (their windows are measured on
// performance.now(), which is not faked), so what they hold back is deterministic too.
//
// Default: 1000 runs of ≤ 40 commands. EXECMAN_LONG=1: 20,000 runs of ≤ 100 commands.
// Replay: EXECMAN_SEED=<seed printed below> [EXECMAN_RUNS=n].
import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import fs from "node:fs";
import { isDeepStrictEqual } from "node:util";
import fc from "fast-check";
import { ExecutionManager } from "execman";
import {
  LONG,
  checkExecError,
  checkTimes,
  deferred,
  fcParams,
  jsonCompatible,
  quiesce,
  stripTimes,
  test,
  track,
} from "./lib.mjs";

const TERMINAL = new Set(["completed", "failed", "cancelled"]);
const STATUSES = ["pending", "running", "completed", "failed", "cancelled"];
const ID_POOL = ["a", "b", "c", "d"];
// target → its register options: a default type, and t3 a default retry policy
const TARGETS = {
  t1: undefined,
  t2: { type: "batch" },
  t3: { type: "import", retry: { attempts: 2, backoff: { delayMs: 1 } } },
};
const TYPES = ["task", "batch", "import", "export"];
const GROUPS = 2; // outside AbortControllers per run
const THROTTLE = 1e9; // ms: a throttled subscriber's window never ends within a run

// ---------------------------------------------------------------------------------------
// The clock: Date.now() and the manager's one timer, both the test's while it runs

const CLOCK_START = 1_700_000_000_000;
const clock = { now: CLOCK_START, timers: [], installed: null };

/**
 * Replaces Date.now and captures the manager's timer: its setTimeout(callback, ms, due) is the
 * only call with one numeric extra argument (tests/js/reliability/races.test.mjs does the same);
 * every other timer is a real one. Returns the function that puts the originals back.
 */
function installClock() {
  const realNow = Date.now;
  const realSet = globalThis.setTimeout;
  const realClear = globalThis.clearTimeout;
  Date.now = () => clock.now;
  globalThis.setTimeout = (cb, ms, ...args) => {
    if (args.length === 1 && typeof args[0] === "number") {
      const t = { cb, ms, due: args[0], live: true, handle: { captured: true } };
      t.handle.timer = t;
      clock.timers.push(t);
      return t.handle;
    }
    return realSet(cb, ms, ...args);
  };
  globalThis.clearTimeout = (handle) => {
    if (handle && typeof handle === "object" && handle.captured === true) handle.timer.live = false;
    else realClear(handle);
  };
  return () => {
    Date.now = realNow;
    globalThis.setTimeout = realSet;
    globalThis.clearTimeout = realClear;
  };
}

/** The manager's armed timers (captured, neither fired nor cleared). */
const liveTimers = () => clock.timers.filter((t) => t.live);

// ---------------------------------------------------------------------------------------
// Arbitraries

const jsonArb = fc.jsonValue({ maxDepth: 3 });
const badJsonArb = fc.constantFrom(
  { x: undefined },
  [1, Number.NaN],
  { f() {} },
  "\uDC00 lone",
  [Infinity],
  { d: new Date(0) },
  [10n],
  { deep: nest(128) }, // 129 levels with the outer object
);
function nest(levels) {
  let v = 0;
  for (let i = 0; i < levels; i++) v = [v];
  return v;
}
const valueArb = fc.oneof({ weight: 25, arbitrary: jsonArb }, { weight: 1, arbitrary: badJsonArb });

const configArb = fc.oneof(
  {
    weight: 20,
    arbitrary: fc.dictionary(fc.constantFrom("retries", "label", "__proto__", "x"), jsonArb, { maxKeys: 2 }),
  },
  {
    weight: 4,
    arbitrary: fc.record({ timeoutMs: fc.constantFrom(1e9, 2 ** 31 + 7, null), label: fc.string({ maxLength: 4 }) }),
  },
  // deadlines within reach of `advance`: attempts time out (and are retried)
  { weight: 6, arbitrary: fc.record({ timeoutMs: fc.integer({ min: 1, max: 4 }) }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      [],
      "cfg",
      null,
      { timeoutMs: 0 },
      { timeoutMs: -1 },
      { timeoutMs: "5" },
      { a: undefined },
    ),
  },
);

/**
 * An id argument: mostly a held execution in the state the command needs (`want`), else an id
 * from the pool, one used before (maybe removed since), or something that is no id at all.
 */
const idRefArb = (want) =>
  fc.oneof(
    { weight: 16, arbitrary: fc.nat(30).map((i) => ({ want, i })) },
    { weight: 2, arbitrary: fc.constantFrom(...ID_POOL).map((v) => ({ pool: v })) },
    { weight: 2, arbitrary: fc.nat(30).map((i) => ({ known: i })) },
    { weight: 1, arbitrary: fc.constantFrom("zz", 42, null, undefined, ["a"], "\uD800").map((v) => ({ weird: v })) },
  );
const WANT = {
  pendingTracked: (E) => E.status === "pending" && E.driver === "external",
  runningTracked: (E) => E.status === "running" && E.driver === "external",
  active: (E) => !TERMINAL.has(E.status),
  terminal: (E) => TERMINAL.has(E.status),
  any: () => true,
};

const requestIdArb = fc.oneof(
  { weight: 12, arbitrary: fc.constant(undefined) },
  { weight: 12, arbitrary: fc.constantFrom(...ID_POOL) },
  { weight: 1, arbitrary: fc.constantFrom("", null, 7, "\uDFFF") },
);

// v2 request fields. `runAtOffset` becomes `runAt: now + offset` and `signal: { group }` that
// group's signal when the command runs (see buildRequest).
const priorityArb = fc.oneof(
  { weight: 120, arbitrary: fc.integer({ min: -2, max: 2 }) },
  { weight: 4, arbitrary: fc.constantFrom(2 ** 53 - 1, -(2 ** 53 - 1)) },
  { weight: 1, arbitrary: fc.constantFrom(1.5, "1", null, Number.NaN, 2 ** 53) },
);
const scheduleArb = fc.oneof(
  { weight: 60, arbitrary: fc.constant({}) },
  { weight: 32, arbitrary: fc.record({ delayMs: fc.integer({ min: 0, max: 5 }) }) },
  { weight: 24, arbitrary: fc.record({ runAtOffset: fc.integer({ min: -3, max: 5 }) }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      { delayMs: -1 },
      { delayMs: "2" },
      { delayMs: Infinity },
      { delayMs: 2, runAtOffset: 1 },
      { runAt: null },
      { runAt: Number.NaN },
    ),
  },
);
const backoffArb = fc.record(
  {
    type: fc.constantFrom("fixed", "exponential"),
    delayMs: fc.integer({ min: 0, max: 3 }),
    maxDelayMs: fc.integer({ min: 0, max: 4 }),
    jitter: fc.constant(0),
  },
  { requiredKeys: [] },
);
const retryArb = fc.oneof(
  {
    weight: 48,
    arbitrary: fc.record(
      { attempts: fc.integer({ min: 1, max: 3 }), backoff: backoffArb },
      { requiredKeys: ["attempts"] },
    ),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      null,
      {},
      { attempts: 0 },
      { attempts: 1.5 },
      { attempts: 2, backoff: { delayMs: -1 } },
      { attempts: 2, backoff: { type: "linear" } },
      { attempts: 2, backoff: { jitter: 2 } },
    ),
  },
);
const signalArb = fc.oneof(
  { weight: 48, arbitrary: fc.nat(GROUPS - 1).map((group) => ({ group })) },
  { weight: 1, arbitrary: fc.constantFrom(null, { aborted: false }, "signal").map((bad) => ({ bad })) },
);

const requestArb = (targets, extra = {}) =>
  fc.record(
    {
      targetId: fc.constantFrom(...targets),
      id: requestIdArb,
      type: fc.oneof(
        { weight: 25, arbitrary: fc.constantFrom(...TYPES) },
        { weight: 1, arbitrary: fc.constantFrom("", 3) },
      ),
      inputs: valueArb,
      config: configArb,
      signal: signalArb,
      ...extra,
    },
    { requiredKeys: ["targetId"] },
  );
const createRequestArb = fc
  .tuple(requestArb(["t1", "t1", "t2", "t2", "t3"], { priority: priorityArb, retry: retryArb }), scheduleArb)
  .map(([req, schedule]) => ({ ...req, ...schedule }));
// track takes none of the scheduling fields: rarely one, refused
const trackRequestArb = fc
  .tuple(
    requestArb(["ext", "t1", "elsewhere"]),
    fc.oneof(
      { weight: 20, arbitrary: fc.constant({}) },
      {
        weight: 1,
        arbitrary: fc.constantFrom({ priority: 1 }, { delayMs: 0 }, { runAtOffset: 0 }, { retry: { attempts: 2 } }),
      },
    ),
  )
  .map(([req, extra]) => ({ ...req, ...extra }));

const thrownArb = fc.constantFrom(
  "a string",
  42,
  null,
  undefined,
  { plain: "object" },
  [1, 2],
  Symbol("sym"),
  7n,
  () => new TypeError("a type error"),
  () => new RangeError("out of range"),
  () => Object.assign(new Error("named"), { name: "CustomError" }),
  // final: never retried, whatever the policy
  () => Object.assign(new Error("final"), { retryable: false }),
  () => ({ message: "plain", retryable: false }),
  () => Object.assign(new Error("again"), { retryable: true }),
);
const materialize = (v) => (typeof v === "function" ? v() : v);

const modeArb = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ mode: "deferred" }) },
  { weight: 2, arbitrary: fc.constant({ mode: "abortable" }) },
  { weight: 2, arbitrary: jsonArb.map((value) => ({ mode: "syncReturn", value })) },
  { weight: 1, arbitrary: fc.constant({ mode: "syncReturn", value: undefined }) },
  { weight: 2, arbitrary: thrownArb.map((thrown) => ({ mode: "syncThrow", thrown })) },
  // throws (synchronously) on every attempt before `until`, returns `value` from then on
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.integer({ min: 2, max: 3 }), thrownArb, jsonArb)
      .map(([until, thrown, value]) => ({ mode: "flaky", until, thrown, value })),
  },
);

const settleArb = fc.oneof(
  { weight: 4, arbitrary: jsonArb.map((value) => ({ how: "resolve", value })) },
  { weight: 1, arbitrary: fc.constant({ how: "resolve", value: undefined }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom({ f: () => 1 }, [Number.NaN], new Map()).map((value) => ({ how: "resolveBad", value })),
  },
  { weight: 2, arbitrary: thrownArb.map((thrown) => ({ how: "reject", thrown })) },
);

const progressArgsArb = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.tuple(
      fc.oneof(fc.nat(1000), fc.double({ min: 0, max: 1e6, noNaN: true }), fc.constant(-0)),
      fc.option(fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.double({ min: 0.001, max: 1e6, noNaN: true })), {
        nil: undefined,
      }),
      fc.option(fc.string({ maxLength: 6 }), { nil: undefined }),
    ),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.constant(null), fc.constant(null), fc.constant(null)).map(() => [3, null, null]),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      [-1, undefined, undefined],
      [Number.NaN],
      ["5"],
      [1, 0],
      [1, -3],
      [1, Infinity],
      [1, 2, 5],
      [1, "2"],
      [1, 2, "\uD800"],
    ),
  },
);

const failArgArb = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.constant(() => new Error("boom")),
  fc.constant(() => Object.assign(new Error("disk"), { code: "ENOSPC" })),
  fc.constant(() => new TypeError("typed")),
  fc.record(
    {
      message: fc.string({ maxLength: 5 }),
      code: fc.constantFrom("E1", "E2"),
      name: fc.constantFrom("N1", "N2"),
      stack: fc.constant("at x"),
    },
    { requiredKeys: ["message"] },
  ),
  fc.constantFrom(42, null, { code: "NO_MESSAGE" }, { message: 5 }, { message: "m", code: 5 }, "\uD800"),
);

const reasonArb = fc.oneof(
  { weight: 2, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 3, arbitrary: fc.string({ maxLength: 6 }) },
  { weight: 1, arbitrary: fc.constantFrom(5, {}, "\uDBFF") },
);

const abortReasonArb = fc.constantFrom(
  undefined, // the platform's AbortError: "This operation was aborted"
  "bye",
  () => new Error("left the page"),
  7,
  { message: 5 },
  "\uD800 lone", // no cancelReason: the text cannot be stored
);

// subscribe options: filters by id/targetId/type, throttled or not; rarely malformed
const subscribeOptionsArb = fc.oneof(
  { weight: 4, arbitrary: fc.constant(undefined) },
  {
    weight: 8,
    arbitrary: fc.record(
      {
        id: fc.constantFrom(...ID_POOL),
        targetId: fc.constantFrom("t1", "t2", "t3", "ext"),
        type: fc.oneof(fc.constantFrom(...TYPES), fc.subarray(TYPES)),
        throttleMs: fc.constantFrom(0, THROTTLE, THROTTLE),
      },
      { requiredKeys: [] },
    ),
  },
  { weight: 1, arbitrary: fc.constantFrom({ throttleMs: -1 }, { id: 5 }, { type: [1] }, { targetId: null }, 3) },
);

// wait/watch options: a group's signal or none
const waitSignalArb = fc.option(fc.nat(GROUPS - 1), { nil: undefined, freq: 2 });

const statusFilterArb = fc.oneof(fc.constantFrom(...STATUSES), fc.subarray(STATUSES));
const badStatusFilterArb = fc.constantFrom("done", ["running", 3], 5, null);
const queryArb = fc.record(
  {
    status: fc.oneof({ weight: 20, arbitrary: statusFilterArb }, { weight: 1, arbitrary: badStatusFilterArb }),
    type: fc.oneof(
      { weight: 20, arbitrary: fc.oneof(fc.constantFrom(...TYPES), fc.subarray(TYPES)) },
      { weight: 1, arbitrary: fc.constantFrom(null, [1]) },
    ),
    targetId: fc.oneof(
      { weight: 20, arbitrary: fc.constantFrom("t1", "t2", "t3", "ext", "nope") },
      { weight: 1, arbitrary: fc.constant(5) },
    ),
    pageSize: fc.oneof(
      { weight: 20, arbitrary: fc.integer({ min: 1, max: 6 }) },
      { weight: 1, arbitrary: fc.constantFrom(0, 1001, 2.5, "3") },
    ),
    order: fc.oneof(
      { weight: 20, arbitrary: fc.constantFrom("asc", "desc") },
      { weight: 1, arbitrary: fc.constantFrom("up", null) },
    ),
    page: fc.oneof(
      { weight: 20, arbitrary: fc.integer({ min: 1, max: 8 }) },
      { weight: 1, arbitrary: fc.constantFrom(0, -1, 1.5, null) },
    ),
    unknownField: fc.constant(true),
  },
  { requiredKeys: [] },
);

// ---------------------------------------------------------------------------------------
// The model

/** How often the model saw each v2 situation (printed at the end: the commands reach them). */
const cover = {};
const seen = (what) => {
  cover[what] = (cover[what] ?? 0) + 1;
};

class Model {
  constructor({ concurrency, maxFinished }) {
    this.concurrency = concurrency;
    this.maxFinished = maxFinished;
    this.targets = new Map(); // targetId → { type, retry } (its defaults)
    this.held = new Map(); // id → E
    this.knownIds = []; // every string id ever used, for queries after removal
    this.seq = 0;
    this.finishSeq = 0;
    this.inFlight = 0; // handler calls whose promise has not settled: each holds a slot
    this.calls = []; // in-flight calls that settle only by a `settle` command (or on abort)
    this.releasing = []; // aborted calls of handlers that reject on abort: their slots come back in pump()
    this.everCalled = []; // every handler call: { E, attempt, mode, aborted, settled }
    this.subscribers = []; // { active, filter, throttled, holds, expected: [{ type, id, snap }] }
    this.waits = []; // { E, rejectCodes, group, pending, terminalSnap, rejectReason }
    this.watches = []; // { E, group, start, open, stopAfter, abortedAt, rejectCodes, early }
    this.groups = Array.from({ length: GROUPS }, () => ({ aborted: false, reason: undefined })); // per outside AbortController
    this.walk = null; // open cursor walk
  }

  get now() {
    return clock.now;
  }

  emit(type, E) {
    const snap = this.snapshot(E);
    if (type !== "removed") {
      E.history.push(snap);
      E.changed = true;
    }
    for (const s of this.subscribers) if (s.active && matchesFilter(s.filter, E)) deliver(s, type, E, snap);
    if (type !== "removed" && TERMINAL.has(E.status)) {
      for (const w of this.waits) {
        if (w.E === E && w.pending) {
          w.pending = false;
          w.terminalSnap = snap;
        }
      }
      for (const w of this.watches) {
        if (w.E === E && w.open) {
          seen("watch ended by the terminal snapshot");
          w.open = false;
        }
      }
    }
  }

  snapshot(E) {
    const out = {
      id: E.id,
      targetId: E.targetId,
      type: E.type,
      status: E.status,
      inputs: E.inputs,
      config: E.config,
      progress: E.progress && { ...E.progress },
      priority: E.priority,
      attempt: E.attempt,
      maxAttempts: E.maxAttempts,
      runAt: E.runAt,
    };
    if (E.status === "completed") out.result = E.result;
    // a retry's wait holds the failure of the attempt before it
    if (E.status === "failed" || (E.status === "pending" && E.error)) out.error = { ...E.error };
    if (E.status === "cancelled" && E.cancelReason !== undefined) out.cancelReason = E.cancelReason;
    return out;
  }

  insert(E) {
    E.seq = ++this.seq;
    E.createdAt = this.now;
    this.held.set(E.id, E);
    if (!this.knownIds.includes(E.id)) this.knownIds.push(E.id);
    this.emit("created", E);
  }

  setStatus(E, status) {
    E.status = status;
    this.emit("status", E);
  }

  /** A deadline for the attempt starting now (config.timeoutMs), or null. */
  deadlineOf(E) {
    const t = E.config?.timeoutMs;
    return typeof t === "number" && t > 0 ? this.now + t : null;
  }

  /** start(id) of a tracked execution. */
  startTracked(E) {
    E.attempt = 1;
    E.startedAt = this.now;
    E.deadline = this.deadlineOf(E);
    this.setStatus(E, "running");
  }

  finish(E, status, outcome) {
    Object.assign(E, outcome);
    E.queued = false;
    E.deadline = null;
    E.finishedAt = this.now;
    if (status === "completed" && E.progress && E.progress.total !== null) {
      E.progress = { ...E.progress, current: E.progress.total, percentage: 100 };
    }
    E.finishSeq = ++this.finishSeq;
    this.setStatus(E, status);
    const finished = [...this.held.values()].filter((x) => TERMINAL.has(x.status));
    if (finished.length > this.maxFinished) {
      finished.sort((x, y) => x.finishSeq - y.finishSeq);
      for (const x of finished.slice(0, finished.length - this.maxFinished)) this.takeOut(x);
    }
  }

  takeOut(E) {
    this.held.delete(E.id);
    E.removed = true;
    this.emit("removed", E);
  }

  setProgress(E, current, total, message) {
    const t = total ?? null;
    const c = current + 0; // -0 is stored as 0
    E.progress = {
      current: c,
      total: t,
      message: message ?? null,
      percentage: t === null ? null : Math.min(100, (c / t) * 100),
    };
    this.emit("progress", E);
  }

  /** A pending handler-driven execution joins the run queue, due at its runAt or now. */
  enqueue(E) {
    E.queued = true;
    E.due = E.runAt ?? this.now;
  }

  /** The queued execution that starts next: due by now, by (priority desc, due time, sequence). */
  nextReady() {
    let best = null;
    let oldest = null;
    for (const E of this.held.values()) {
      if (!E.queued || E.status !== "pending" || (E.runAt !== null && E.runAt > this.now)) continue;
      if (oldest === null || E.seq < oldest.seq) oldest = E;
      if (
        best === null ||
        E.priority > best.priority ||
        (E.priority === best.priority && (E.due < best.due || (E.due === best.due && E.seq < best.seq)))
      )
        best = E;
    }
    if (best !== null && best !== oldest) seen("start out of creation order");
    return best;
  }

  /** Starts queued handler-driven executions while slots are free (see the header comment). */
  pump() {
    for (;;) {
      const batch = [];
      while (this.inFlight < this.concurrency) {
        const E = this.nextReady();
        if (E === null) break;
        const call = this.startAttempt(E);
        switch (call.mode) {
          case "syncThrow":
            this.settleCall(call, { how: "reject", thrown: E.ctl.thrown });
            break;
          case "syncReturn":
            batch.push(call); // settles one microtask later, in start order
            break;
          default:
            this.calls.push(call);
        }
      }
      // A handler that rejects on abort gives its slot back a few microtasks after the abort: the
      // starts above (a timeout's retry may be among them) come first, the results of synchronous
      // handlers after.
      const released = this.releasing.splice(0);
      for (const call of released) this.settleCall(call, { how: "reject", thrown: "aborted" });
      if (batch.length === 0 && released.length === 0) return;
      for (const call of batch) this.settleCall(call, { how: "resolve", value: call.E.ctl.value });
    }
  }

  startAttempt(E) {
    if (E.runAt !== null) seen(E.attempt > 0 ? "retry start" : "delayed start");
    E.queued = false;
    this.inFlight++;
    E.attempt++;
    E.runAt = null;
    E.error = undefined;
    E.startedAt = this.now;
    E.deadline = this.deadlineOf(E);
    this.setStatus(E, "running");
    const call = { E, attempt: E.attempt, mode: behaviour(E.ctl, E.attempt), aborted: false, settled: false };
    E.calls.push(call);
    this.everCalled.push(call);
    return call;
  }

  /** A handler's promise settled: frees its slot; counts only for the attempt still running. */
  settleCall(call, s) {
    call.settled = true;
    this.inFlight--;
    const { E } = call;
    if (E.status !== "running" || E.attempt !== call.attempt) return;
    if (s.how === "resolve") {
      this.finish(E, "completed", { result: s.value === undefined ? null : structuredClone(s.value) });
    } else if (s.how === "resolveBad") {
      this.finish(E, "failed", { error: { code: "INVALID_RESULT", name: "TypeError", message: ANY_STRING } });
    } else {
      this.failAttempt(E, handlerFailure(s.thrown), !isFinal(s.thrown));
    }
  }

  /** A failed attempt: the `running → pending` retry move when it may, else `failed`. */
  failAttempt(E, error, retryable) {
    if (retryable && E.attempt < E.maxAttempts) {
      seen("retry move");
      E.deadline = null;
      E.error = error;
      E.progress = null;
      E.runAt = this.now + backoffDelay(E.backoff, E.attempt);
      this.enqueue(E);
      this.setStatus(E, "pending");
    } else {
      this.finish(E, "failed", { error });
    }
  }

  /** The clock moved (and the timer fired): every attempt due by now times out, in deadline order. */
  expire() {
    const due = [...this.held.values()]
      .filter((E) => E.status === "running" && E.deadline !== null && E.deadline <= this.now)
      .sort((x, y) => x.deadline - y.deadline || x.seq - y.seq);
    for (const E of due) {
      seen("timeout");
      const error = { code: "TIMEOUT", name: "TimeoutError", message: ANY_STRING };
      if (E.driver === "external") {
        this.finish(E, "failed", { error });
        continue;
      }
      const call = E.calls[E.calls.length - 1];
      this.failAttempt(E, error, true);
      this.abortCall(call);
    }
  }

  /** An attempt's signal aborted (cancel, timeout): an abortable handler rejects, freeing its slot (in pump). */
  abortCall(call) {
    call.aborted = true;
    if (call.mode === "abortable" && !call.settled) {
      const k = this.calls.indexOf(call);
      if (k >= 0) this.calls.splice(k, 1);
      call.settled = true; // it is no longer the test's to settle
      this.releasing.push(call);
    }
  }

  /** cancel(id, reason) and outside aborts: cancelled at once; a running attempt's signal aborts. */
  cancelExec(E, cancelReason) {
    const call = E.driver === "handler" && E.status === "running" ? E.calls[E.calls.length - 1] : null;
    this.finish(E, "cancelled", { cancelReason });
    if (call) this.abortCall(call);
  }

  /** An outside signal aborted: its waits and watches stop first, then its executions are cancelled in creation order. */
  abortGroup(g) {
    g.aborted = true;
    for (const w of this.waits) {
      if (w.group === g && w.pending) {
        seen("wait stopped by its signal");
        w.pending = false;
        w.rejectReason = g;
      }
    }
    for (const w of this.watches) {
      if (w.group === g && w.open) {
        seen("watch stopped by its signal");
        w.open = false;
        w.abortedAt = w.E.history.length;
      }
    }
    const text = abortText(g.reason);
    const victims = [...this.held.values()]
      .filter((E) => E.group === g && !TERMINAL.has(E.status))
      .sort((x, y) => x.seq - y.seq);
    for (const E of victims) {
      if (TERMINAL.has(E.status) || E.removed) continue;
      seen("cancelled by its signal");
      this.cancelExec(E, text);
    }
  }

  /** Whether anything still follows the group's signal (its one abort listener is then on). */
  following(g) {
    if (g.aborted) return false;
    for (const E of this.held.values()) if (E.group === g && !TERMINAL.has(E.status)) return true;
    return this.waits.some((w) => w.group === g && w.pending) || this.watches.some((w) => w.group === g && w.open);
  }

  /** When the manager's one timer must fire: the earliest runAt ahead or deadline; null if none. */
  nextWake() {
    let wake = null;
    for (const E of this.held.values()) {
      let t = null;
      if (E.status === "pending" && E.queued && E.runAt !== null && E.runAt > this.now) t = E.runAt;
      if (E.status === "running" && E.deadline !== null) t = E.deadline;
      if (t !== null && (wake === null || t < wake)) wake = t;
    }
    return wake;
  }

  counts() {
    const c = { pending: 0, running: 0, completed: 0, failed: 0, cancelled: 0, total: 0 };
    for (const E of this.held.values()) {
      c[E.status]++;
      c.total++;
    }
    return c;
  }

  matching({ status, type, targetId, order }) {
    const statuses = status === undefined ? null : [status].flat();
    const types = type === undefined ? null : [type].flat();
    const items = [...this.held.values()].filter(
      (E) =>
        (statuses === null || statuses.includes(E.status)) &&
        (types === null || types.includes(E.type)) &&
        (targetId === undefined || E.targetId === targetId),
    );
    items.sort((x, y) => (order === "asc" ? x.seq - y.seq : y.seq - x.seq));
    return items;
  }
}

/** What the handler does on attempt `attempt`: "syncThrow", "syncReturn", "deferred" or "abortable". */
function behaviour(ctl, attempt) {
  if (ctl.mode === "flaky") return attempt < ctl.until ? "syncThrow" : "syncReturn";
  return ctl.mode;
}

/** The delay after the n-th failed attempt (no jitter here). */
function backoffDelay(backoff, n) {
  const { type = "fixed", delayMs = 0, maxDelayMs = Infinity } = backoff ?? {};
  return Math.min(type === "exponential" ? delayMs * 2 ** (n - 1) : delayMs, maxDelayMs);
}

/** A thrown value whose `retryable` property is false is never retried. */
function isFinal(thrown) {
  return thrown !== null && typeof thrown === "object" && thrown.retryable === false;
}

/** The cancel reason of an abort: the reason's message when a string, else String(reason); none if not well formed. */
function abortText(reason) {
  const text =
    reason !== null && typeof reason === "object" && typeof reason.message === "string"
      ? reason.message
      : String(reason);
  return text.isWellFormed() ? text : undefined;
}

function matchesFilter(f, E) {
  if (f === undefined || f === null) return true;
  if (f.id !== undefined && E.id !== f.id) return false;
  if (f.targetId !== undefined && E.targetId !== f.targetId) return false;
  if (f.type !== undefined && ![f.type].flat().includes(E.type)) return false;
  return true;
}

/**
 * One event to one subscriber. Throttled (a window longer than the run): an execution's first
 * progress event goes at once; later ones are held (the latest replaces the one held) until the
 * execution's next other event, which the held one then precedes; terminal and removed close it.
 */
function deliver(s, type, E, snap) {
  const ev = { type, id: E.id, snap };
  if (!s.throttled) {
    s.expected.push(ev);
    return;
  }
  const h = s.holds.get(E);
  if (type === "progress") {
    if (h === undefined) {
      s.holds.set(E, { held: null });
      s.expected.push(ev);
    } else {
      seen("progress held back");
      h.held = ev;
    }
    return;
  }
  if (h !== undefined) {
    if (h.held !== null) {
      seen("held progress delivered");
      s.expected.push(h.held);
    }
    h.held = null;
    if (type === "removed" || TERMINAL.has(E.status)) s.holds.delete(E);
  }
  s.expected.push(ev);
}

/** Stands for "any string" in a model snapshot (messages the contract does not spell out). */
const ANY_STRING = Symbol("any string");

function handlerFailure(thrownSpec) {
  const thrown = thrownSpec;
  if (thrown instanceof Error) {
    const out = { code: "HANDLER_ERROR", name: thrown.name || "Error", message: thrown.message };
    if (typeof thrown.stack === "string") out.stack = thrown.stack;
    return out;
  }
  return { code: "HANDLER_ERROR", name: "Error", message: String(thrown) };
}

function externalFailure(arg) {
  if (typeof arg === "string") return { code: "EXTERNAL_ERROR", name: "Error", message: arg };
  if (arg instanceof Error) {
    const out = {
      code: typeof arg.code === "string" && arg.code !== "" ? arg.code : "EXTERNAL_ERROR",
      name: arg.name || "Error",
      message: arg.message,
    };
    if (typeof arg.stack === "string") out.stack = arg.stack;
    return out;
  }
  const out = { code: arg.code ?? "EXTERNAL_ERROR", name: arg.name ?? "Error", message: arg.message };
  if (arg.stack !== undefined) out.stack = arg.stack;
  return out;
}

function validFailArg(arg) {
  if (typeof arg === "string") return arg.isWellFormed();
  if (arg instanceof Error) return true;
  if (arg === null || typeof arg !== "object" || ![Object.prototype, null].includes(Object.getPrototypeOf(arg)))
    return false;
  if (typeof arg.message !== "string") return false;
  return ["code", "name", "stack"].every((k) => arg[k] === undefined || typeof arg[k] === "string");
}

function validProgress([current, total, message]) {
  return (
    typeof current === "number" &&
    Number.isFinite(current) &&
    current >= 0 &&
    (total === undefined || total === null || (typeof total === "number" && Number.isFinite(total) && total > 0)) &&
    (message === undefined || message === null || (typeof message === "string" && message.isWellFormed()))
  );
}

/** What an id argument resolves to: its model execution, and the error codes it implies. */
function lookup(model, idValue) {
  if (typeof idValue !== "string") return { E: undefined, codes: ["NOT_FOUND"] };
  if (!idValue.isWellFormed()) return { E: undefined, codes: ["INVALID_ARGUMENT"] };
  const E = model.held.get(idValue);
  return { E, codes: E ? [] : ["NOT_FOUND"] };
}

function resolveId(model, ref) {
  if ("want" in ref) {
    const candidates = [...model.held.values()].filter(WANT[ref.want]);
    if (candidates.length > 0) return candidates[ref.i % candidates.length].id;
    return model.knownIds.length ? model.knownIds[ref.i % model.knownIds.length] : "zz";
  }
  if ("pool" in ref) return ref.pool;
  if ("known" in ref) return model.knownIds.length ? model.knownIds[ref.known % model.knownIds.length] : "zz";
  return ref.weird;
}

// ---------------------------------------------------------------------------------------
// The system under test, and the comparison of every observable

/** EXECMAN_TRACE=<file>: every command is written there before it runs (to find a hang). */
const TRACE = process.env.EXECMAN_TRACE ? fs.openSync(process.env.EXECMAN_TRACE, "w") : 0;
let commandsRun = 0;
const stats = {};
let currentStat = { run: 0, threw: 0 };
let verifications = 0;

function makeReal(options) {
  const m = new ExecutionManager(options);
  const real = {
    m,
    controls: new Map(), // id → the handler's control of the execution that has it now
    allControls: [],
    subscribers: [],
    waits: [],
    watches: [],
    controllers: Array.from({ length: GROUPS }, () => new AbortController()),
    walk: null,
  };
  // Each call (attempt) behaves as its execution's mode says for that attempt, and is recorded.
  real.handler = (inputs, ctx) => {
    const ctl = real.controls.get(ctx.id);
    assert.ok(ctl, `handler called for an id the test never created: ${ctx.id}`);
    const call = { ctx, inputs, attempt: ctx.attempt, d: null };
    ctl.calls.push(call);
    switch (behaviour(ctl, ctx.attempt)) {
      case "syncThrow":
        throw ctl.thrown;
      case "syncReturn":
        return ctl.value;
      case "abortable":
        call.d = deferred();
        ctx.signal.addEventListener("abort", () => call.d.reject(ctx.signal.reason));
        return call.d.promise;
      default:
        call.d = deferred();
        return call.d.promise;
    }
  };
  return real;
}

function registerTarget(model, real, targetId) {
  real.m.register(targetId, real.handler, TARGETS[targetId]);
  model.targets.set(targetId, { type: TARGETS[targetId]?.type ?? "task", retry: TARGETS[targetId]?.retry });
}

/** Calls `fn`; if `codes` is non-empty it must throw one of them, else it must not throw. */
function expectOutcome(fn, codes, context) {
  let value;
  let error;
  let threw = false;
  try {
    value = fn();
  } catch (e) {
    threw = true;
    error = e;
  }
  if (threw) {
    currentStat.threw++;
    currentStat[error?.code] = (currentStat[error?.code] ?? 0) + 1;
  }
  if (codes.length > 0) {
    assert.ok(
      threw,
      `${context}: expected ${codes.join("|")}, but it returned ${JSON.stringify(value)?.slice(0, 200)}`,
    );
    checkExecError(error, codes, context);
    return { threw: true };
  }
  if (threw) assert.fail(`${context}: expected success, but it threw ${error?.name} ${error?.code}: ${error?.message}`);
  return { threw: false, value };
}

function sameSnapshot(actual, expected, context) {
  const a = stripTimes(actual);
  if (expected.error && expected.error.message === ANY_STRING) {
    assert.equal(typeof a?.error?.message, "string", `${context}: error.message`);
    expected = { ...expected, error: { ...expected.error, message: a.error.message } };
  }
  assert.deepStrictEqual(a, expected, context);
}

function checkPage(page, expectedItems, { total, pageSize, pageNo, hasNext }, model, context) {
  assert.equal(page.total, total, `${context}: total`);
  assert.equal(page.pageSize, pageSize, `${context}: pageSize`);
  assert.equal(page.page, pageNo, `${context}: page`);
  assert.equal(page.totalPages, Math.ceil(total / pageSize), `${context}: totalPages`);
  assert.equal(page.hasNext, hasNext, `${context}: hasNext`);
  if (hasNext) assert.equal(typeof page.nextCursor, "string", `${context}: nextCursor`);
  else assert.equal(page.nextCursor, null, `${context}: nextCursor`);
  assert.deepEqual(
    page.items.map((e) => e.id),
    expectedItems.map((E) => E.id),
    `${context}: ids`,
  );
  page.items.forEach((e, i) => {
    sameSnapshot(e, model.snapshot(expectedItems[i]), `${context}: item ${i}`);
  });
}

/** Walks every page of a filter, by page number and by cursor, and compares with the model. */
function checkWalk(m, model, filter, pageSize, context) {
  const expected = model.matching(filter);
  const total = expected.length;
  const pages = Math.ceil(total / pageSize);
  for (let p = 1; p <= pages + 1; p++) {
    const page = m.list({ ...filter, pageSize, page: p });
    const items = expected.slice((p - 1) * pageSize, p * pageSize);
    checkPage(page, items, { total, pageSize, pageNo: p, hasNext: p < pages }, model, `${context} page ${p}`);
  }
  let page = m.list({ ...filter, pageSize });
  let seen = page.items.length;
  let guard = 0;
  while (page.hasNext) {
    assert.ok(guard++ < 1000, `${context}: cursor walk does not end`);
    page = m.list({ ...filter, pageSize, cursor: page.nextCursor });
    const items = expected.slice(seen, seen + pageSize);
    checkPage(
      page,
      items,
      { total, pageSize, pageNo: null, hasNext: seen + pageSize < total },
      model,
      `${context} cursor`,
    );
    seen += page.items.length;
  }
  assert.equal(seen, total, `${context}: the cursor walk saw every item once`);
}

/** sameSnapshot as a predicate (without building an assertion's diff). */
function snapMatches(actual, expected) {
  const a = stripTimes(actual);
  if (expected.error && expected.error.message === ANY_STRING) {
    if (typeof a?.error?.message !== "string") return false;
    expected = { ...expected, error: { ...expected.error, message: a.error.message } };
  }
  return isDeepStrictEqual(a, expected);
}

const RANK = { pending: 0, running: 1, completed: 2, failed: 2, cancelled: 2 };

/**
 * One watch consumer against the model: its first snapshot is the one current when it began, the
 * rest a subsequence of the execution's snapshots since (coalescing drops, never reorders or
 * invents), statuses never go back but for the running → pending retry move, and after every
 * command it has caught up with the latest snapshot; it ends after the terminal one, after its
 * first snapshot when it breaks, or (its signal aborted) with one rejection carrying the reason.
 */
function checkWatch(model, real, w, rw, context) {
  const where = `${context}: watch #${rw.index} of ${String(w.id)}`;
  if (w.rejectCodes) {
    assert.equal(rw.yielded.length, 0, `${where}: yields nothing`);
    assert.ok(rw.done, `${where}: ended`);
    checkExecError(rw.error, w.rejectCodes, where);
    return;
  }
  if (w.early) {
    // the signal was aborted before the watch began: its first next() rejects with the reason
    assert.equal(rw.yielded.length, 0, `${where}: yields nothing`);
    assert.ok(rw.done, `${where}: ended`);
    assert.equal(rw.error, w.group.reason, `${where}: rejects with the signal's reason`);
    return;
  }
  const { history } = w.E;
  const end = w.abortedAt ?? history.length;
  const got = rw.yielded;
  assert.ok(got.length >= 1, `${where}: yields the current snapshot at once`);
  sameSnapshot(got[0], history[w.start], `${where}: its first snapshot is the one current when it began`);
  let j = w.start;
  for (let k = 1; k < got.length; k++) {
    j++;
    while (j < end && !snapMatches(got[k], history[j])) j++;
    assert.ok(j < end, `${where}: snapshot ${k} (${got[k].status}, attempt ${got[k].attempt}) is not a later change`);
    const [a, b] = [got[k - 1], got[k]];
    assert.ok(!TERMINAL.has(a.status), `${where}: nothing after the terminal snapshot`);
    assert.ok(
      RANK[b.status] >= RANK[a.status] || (a.status === "running" && b.status === "pending" && b.error !== undefined),
      `${where}: ${a.status} → ${b.status} goes back`,
    );
    assert.ok(b.attempt >= a.attempt, `${where}: attempt goes back`);
  }
  if (w.stopAfter !== undefined) {
    assert.equal(got.length, w.stopAfter, `${where}: broke after ${w.stopAfter}`);
    assert.ok(rw.done && rw.error === undefined, `${where}: ended by break`);
    return;
  }
  sameSnapshot(got[got.length - 1], history[end - 1], `${where}: caught up with the latest snapshot`);
  if (w.abortedAt !== undefined) {
    assert.ok(rw.done, `${where}: ended by its signal`);
    assert.equal(rw.error, w.group.reason, `${where}: rejected with the signal's reason`);
  } else if (TERMINAL.has(history[end - 1].status)) {
    assert.ok(rw.done, `${where}: ended after the terminal snapshot`);
    assert.equal(rw.error, undefined, `${where}: ended without an error`);
  } else {
    assert.ok(!rw.done, `${where}: still open`);
  }
}

function verify(model, real, context) {
  verifications++;
  const { m } = real;
  assert.deepEqual(m.counts(), model.counts(), `${context}: counts()`);
  // Every id ever used: status() and progress() agree; unchanged executions are byte-identical.
  for (const id of model.knownIds) {
    const E = model.held.get(id);
    const s = m.status(id);
    const p = m.progress(id);
    if (!E) {
      assert.equal(s, undefined, `${context}: status(${id}) of a removed/unknown id`);
      assert.equal(p, undefined, `${context}: progress(${id}) of a removed/unknown id`);
      continue;
    }
    sameSnapshot(s, model.snapshot(E), `${context}: status(${id})`);
    checkTimes(s, context);
    // the clock is the test's: the times are exact
    assert.deepEqual(
      [s.createdAt, s.startedAt, s.finishedAt],
      [E.createdAt, E.startedAt, E.finishedAt],
      `${context}: createdAt/startedAt/finishedAt of ${id}`,
    );
    if (E.progress === null) assert.equal(p, null, `${context}: progress(${id})`);
    else assert.deepStrictEqual(stripTimes({ progress: p }).progress, E.progress, `${context}: progress(${id})`);
    if (!E.changed && E.lastSeen) {
      assert.deepStrictEqual(s, E.lastSeen, `${context}: ${id} did not change, its snapshot must not either`);
    } else if (E.lastSeen) {
      assert.equal(s.createdAt, E.lastSeen.createdAt, `${context}: createdAt of ${id} is stable`);
      assert.ok(s.updatedAt >= E.lastSeen.updatedAt, `${context}: updatedAt of ${id} never goes back`);
    }
    if (TERMINAL.has(E.status) && E.terminalSeen) {
      assert.deepStrictEqual(s, E.terminalSeen, `${context}: terminal ${id} never changes`);
    }
    E.lastSeen = s;
    if (TERMINAL.has(E.status) && !E.terminalSeen) E.terminalSeen = s;
    E.changed = false;
    // Handler calls: one per attempt the model started, never inside create, never once
    // cancelled; inputs and ctx are copies of what was given; ctx.attempt counts 1, 2, …; an
    // attempt's signal aborted exactly when it was cancelled or timed out.
    if (E.ctl) {
      assert.equal(E.ctl.calls.length, E.calls.length, `${context}: handler calls of ${id}`);
      E.calls.forEach((mc, k) => {
        const c = E.ctl.calls[k];
        assert.deepStrictEqual(c.inputs, E.inputs, `${context}: handler inputs of ${id}`);
        assert.equal(c.ctx.id, id);
        assert.equal(c.ctx.attempt, k + 1, `${context}: ctx.attempt of call ${k + 1} of ${id}`);
        assert.deepStrictEqual(c.ctx.config, E.config, `${context}: ctx.config of ${id}`);
        assert.ok(c.ctx.signal instanceof AbortSignal);
        assert.equal(
          c.ctx.signal.aborted,
          mc.aborted,
          `${context}: signal of attempt ${k + 1} of ${id} aborted iff cancelled or timed out`,
        );
      });
    }
  }
  // The one timer: armed for the earliest runAt ahead or deadline, none when nothing is due.
  const timers = liveTimers();
  const wake = model.nextWake();
  assert.ok(timers.length <= 1, `${context}: ${timers.length} timers armed at once`);
  if (wake === null) assert.equal(timers.length, 0, `${context}: a timer armed with nothing due`);
  else {
    assert.equal(timers.length, 1, `${context}: no timer armed for ${wake}`);
    assert.equal(timers[0].due, wake, `${context}: the timer is armed for the earliest due time`);
  }
  // The whole store, both orders.
  const all = m.list({ pageSize: 1000, order: "asc" });
  checkPage(
    all,
    model.matching({ order: "asc" }),
    { total: model.held.size, pageSize: 1000, pageNo: 1, hasNext: false },
    model,
    `${context}: list asc`,
  );
  const first = m.list();
  const desc = model.matching({ order: "desc" });
  checkPage(
    first,
    desc.slice(0, 20),
    { total: desc.length, pageSize: 20, pageNo: 1, hasNext: desc.length > 20 },
    model,
    `${context}: list()`,
  );
  // A rotating filter, walked by page number and by cursor.
  const filters = [
    { status: ["pending", "running"] },
    { status: "completed", order: "asc" },
    { type: ["batch", "task"], order: "desc" },
    { targetId: "ext", order: "asc" },
    { status: [], order: "asc" },
    { status: ["failed", "cancelled", "completed"], type: "task" },
  ];
  checkWalk(
    m,
    model,
    filters[verifications % filters.length],
    1 + (verifications % 3),
    `${context}: walk ${verifications % filters.length}`,
  );
  // Events, per subscriber (filtered, maybe throttled) and per execution, in order.
  real.subscribers.forEach((sub, i) => {
    const expected = model.subscribers[i].expected;
    const received = sub.received;
    const byId = (list) => {
      const map = new Map();
      for (const ev of list) {
        if (!map.has(ev.id)) map.set(ev.id, []);
        map.get(ev.id).push(ev);
      }
      return map;
    };
    const exp = byId(expected.slice(sub.checked));
    const got = byId(received.slice(sub.checked));
    assert.deepEqual(
      [...got.keys()].sort(),
      [...exp.keys()].sort(),
      `${context}: subscriber ${i}: executions with events`,
    );
    for (const [id, evs] of exp) {
      const g = got.get(id);
      assert.deepEqual(
        g.map((e) => e.type),
        evs.map((e) => e.type),
        `${context}: subscriber ${i}: event types of ${id}`,
      );
      evs.forEach((ev, k) => {
        sameSnapshot(g[k].execution, ev.snap, `${context}: subscriber ${i}: event ${k} (${ev.type}) of ${id}`);
      });
    }
    assert.equal(received.length, expected.length, `${context}: subscriber ${i}: number of events`);
    sub.checked = received.length;
  });
  // wait() promises: resolved with the terminal snapshot exactly when the model says terminal;
  // rejected with the signal's reason when their signal aborted first.
  real.waits.forEach((w, i) => {
    const mw = model.waits[i];
    if (mw.rejectCodes) {
      assert.equal(w.state.status, "rejected", `${context}: wait #${i} rejects`);
      checkExecError(w.state.value, mw.rejectCodes, `${context}: wait #${i}`);
    } else if (mw.rejectReason) {
      assert.equal(w.state.status, "rejected", `${context}: wait #${i} on ${mw.E.id} rejects (its signal aborted)`);
      assert.equal(w.state.value, mw.rejectReason.reason, `${context}: wait #${i} rejects with the signal's reason`);
    } else if (mw.terminalSnap) {
      assert.equal(w.state.status, "fulfilled", `${context}: wait #${i} on ${mw.E.id} resolved once terminal`);
      sameSnapshot(w.state.value, mw.terminalSnap, `${context}: wait #${i} value`);
    } else {
      assert.equal(w.state.status, "pending", `${context}: wait #${i} on ${mw.E.id} still pending`);
    }
  });
  // watch() consumers.
  real.watches.forEach((rw, i) => {
    checkWatch(model, real, model.watches[i], rw, context);
  });
  // One abort listener per outside signal while anything follows it, none after.
  real.controllers.forEach((c, k) => {
    assert.equal(
      getEventListeners(c.signal, "abort").length,
      model.following(model.groups[k]) ? 1 : 0,
      `${context}: abort listeners on the signal of group ${k}`,
    );
  });
}

// ---------------------------------------------------------------------------------------
// Commands

class Cmd {
  constructor(name, args, apply) {
    this.name = name;
    this.args = args;
    this.apply = apply;
  }
  check() {
    return true;
  }
  async run(model, real) {
    commandsRun++;
    if (TRACE) fs.writeSync(TRACE, `${this.toString().slice(0, 400)}\n`);
    currentStat = stats[this.name] ??= { run: 0, threw: 0 };
    currentStat.run++;
    this.apply(model, real);
    model.pump();
    await quiesce();
    verify(model, real, `after ${this.toString()}`);
  }
  toString() {
    const show = (v) => {
      try {
        if (typeof v === "symbol") return v.toString();
        if (typeof v === "bigint") return `${v}n`;
        if (typeof v === "function") return "<fn>";
        return JSON.stringify(v, (k, x) =>
          typeof x === "bigint" ? `${x}n` : typeof x === "symbol" ? x.toString() : x === undefined ? "<undefined>" : x,
        );
      } catch {
        return "<?>";
      }
    };
    return `${this.name}(${this.args.map(show).join(", ")})`;
  }
}

/** Whether `v` is a plain object (the shape of retry policies and options). */
function plainObject(v) {
  return v !== null && typeof v === "object" && [Object.prototype, null].includes(Object.getPrototypeOf(v));
}

const finiteAtLeast0 = (v) => typeof v === "number" && Number.isFinite(v) && v >= 0;

function validRetry(r) {
  if (!plainObject(r)) return false;
  if (!(Number.isInteger(r.attempts) && r.attempts >= 1 && r.attempts <= 1000)) return false;
  if (r.backoff === undefined) return true;
  const b = r.backoff;
  return (
    plainObject(b) &&
    (b.type === undefined || b.type === "fixed" || b.type === "exponential") &&
    (b.delayMs === undefined || finiteAtLeast0(b.delayMs)) &&
    (b.maxDelayMs === undefined || finiteAtLeast0(b.maxDelayMs)) &&
    (b.jitter === undefined || (typeof b.jitter === "number" && b.jitter >= 0 && b.jitter <= 1))
  );
}

function requestErrors(model, req, { handler }) {
  const codes = [];
  const bad = (c) => codes.push(c);
  if ("id" in req && req.id !== undefined && (typeof req.id !== "string" || req.id === "" || !req.id.isWellFormed()))
    bad("INVALID_ARGUMENT");
  if ("type" in req && req.type !== undefined && (typeof req.type !== "string" || req.type === ""))
    bad("INVALID_ARGUMENT");
  if ("inputs" in req && req.inputs !== undefined && !jsonCompatible(req.inputs)) bad("INVALID_ARGUMENT");
  if ("config" in req && req.config !== undefined) {
    const c = req.config;
    if (c === null || typeof c !== "object" || Array.isArray(c) || !jsonCompatible(c)) bad("INVALID_ARGUMENT");
    else if ("timeoutMs" in c && c.timeoutMs !== null && !(typeof c.timeoutMs === "number" && c.timeoutMs > 0))
      bad("INVALID_ARGUMENT");
  }
  // scheduling: create only (track takes none of the fields)
  const given = (k) => k in req && req[k] !== undefined;
  if (!handler) {
    if (["priority", "delayMs", "runAt", "retry"].some(given)) bad("INVALID_ARGUMENT");
  } else {
    if (given("priority") && !Number.isSafeInteger(req.priority)) bad("INVALID_ARGUMENT");
    if (given("delayMs") && !finiteAtLeast0(req.delayMs)) bad("INVALID_ARGUMENT");
    if (given("runAt") && !(typeof req.runAt === "number" && Number.isFinite(req.runAt))) bad("INVALID_ARGUMENT");
    if (given("delayMs") && given("runAt")) bad("INVALID_ARGUMENT");
    if (given("retry") && !validRetry(req.retry)) bad("INVALID_ARGUMENT");
  }
  if (given("signal") && !(req.signal instanceof AbortSignal)) bad("INVALID_ARGUMENT");
  if (handler && !model.targets.has(req.targetId)) bad("UNKNOWN_TARGET");
  if (typeof req.id === "string" && model.held.has(req.id)) bad("ALREADY_EXISTS");
  return codes;
}

/** The request of a create/track spec: runAt from the clock, the signal of its group. */
function buildRequest(spec, real) {
  const { runAtOffset, signal, ...req } = spec;
  if (runAtOffset !== undefined) req.runAt = clock.now + runAtOffset;
  if (signal !== undefined) req.signal = "group" in signal ? real.controllers[signal.group].signal : signal.bad;
  return req;
}

function newExecution(model, spec, req, returned, driver) {
  const target = model.targets.get(req.targetId);
  const policy = driver === "handler" ? (req.retry ?? target.retry) : undefined;
  const E = {
    id: returned.id,
    targetId: req.targetId,
    type: req.type ?? (driver === "handler" ? target.type : "task"),
    status: "pending",
    inputs: req.inputs === undefined ? {} : structuredClone(req.inputs),
    config: req.config === undefined ? {} : structuredClone(req.config),
    progress: null,
    driver,
    priority: req.priority ?? 0,
    attempt: 0,
    maxAttempts: policy?.attempts ?? 1,
    backoff: policy?.backoff,
    runAt: req.delayMs !== undefined ? clock.now + req.delayMs : (req.runAt ?? null),
    error: undefined,
    calls: [],
    group: null,
    deadline: null,
    startedAt: null,
    finishedAt: null,
    queued: false,
    history: [],
  };
  return E;
}

/** A new execution's outside signal: already aborted → cancelled at once, else followed. */
function follow(model, spec, E) {
  if (spec.signal === undefined || !("group" in spec.signal)) return false;
  const g = model.groups[spec.signal.group];
  if (g.aborted) {
    seen("created with an aborted signal");
    model.cancelExec(E, abortText(g.reason));
    return true;
  }
  E.group = g;
  return false;
}

function create(model, real, spec, ctlSpec) {
  const req = buildRequest(spec, real);
  const codes = requestErrors(model, req, { handler: true });
  const r = expectOutcome(() => real.m.create(req), codes, "create");
  if (r.threw) return;
  const e = r.value;
  if (req.id === undefined) assert.match(e.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  const ctl = { ...ctlSpec, thrown: materialize(ctlSpec.thrown), calls: [] };
  real.controls.set(e.id, ctl);
  real.allControls.push(ctl);
  const E = newExecution(model, spec, req, e, "handler");
  E.ctl = ctl;
  model.insert(E);
  if (!follow(model, spec, E)) model.enqueue(E);
  sameSnapshot(e, model.snapshot(E), "create's return value");
  if (!E.removed) sameSnapshot(real.m.status(e.id), model.snapshot(E), "status() right after create");
  assert.equal(ctl.calls.length, 0, "the handler is never called inside create");
}

function subscribe(model, real, options) {
  const valid =
    options === undefined ||
    (plainObject(options) &&
      (options.id === undefined || typeof options.id === "string") &&
      (options.targetId === undefined || typeof options.targetId === "string") &&
      (options.type === undefined ||
        typeof options.type === "string" ||
        (Array.isArray(options.type) && options.type.every((t) => typeof t === "string"))) &&
      (options.throttleMs === undefined || finiteAtLeast0(options.throttleMs)));
  const sub = { received: [], checked: 0 };
  const listener = (ev) => {
    assert.ok(["created", "status", "progress", "removed"].includes(ev.type), `event type ${ev.type}`);
    sub.received.push({ type: ev.type, id: ev.execution.id, execution: ev.execution });
  };
  const r = expectOutcome(
    () => (options === undefined ? real.m.subscribe(listener) : real.m.subscribe(listener, options)),
    valid ? [] : ["INVALID_ARGUMENT"],
    "subscribe",
  );
  if (r.threw) return;
  sub.off = r.value;
  assert.equal(typeof sub.off, "function");
  real.subscribers.push(sub);
  if ((options?.throttleMs ?? 0) > 0) seen("throttled subscriber");
  model.subscribers.push({
    active: true,
    filter: options,
    throttled: (options?.throttleMs ?? 0) > 0,
    holds: new Map(),
    expected: [],
  });
}

const commandList = [
  // register
  fc.constantFrom(...Object.keys(TARGETS)).map(
    (t) =>
      new Cmd("register", [t], (model, real) => {
        const codes = model.targets.has(t) ? ["ALREADY_EXISTS"] : [];
        const r = expectOutcome(() => real.m.register(t, real.handler, TARGETS[t]), codes, `register(${t})`);
        if (!r.threw) {
          assert.equal(r.value, undefined);
          model.targets.set(t, { type: TARGETS[t]?.type ?? "task", retry: TARGETS[t]?.retry });
        }
      }),
  ),
  // create
  fc
    .tuple(createRequestArb, modeArb)
    .map(([spec, ctlSpec]) => new Cmd("create", [spec, ctlSpec], (model, real) => create(model, real, spec, ctlSpec))),
  // a burst of creates in one command: they compete for the slots (priorities, due times)
  fc.array(fc.tuple(createRequestArb, modeArb), { minLength: 2, maxLength: 4 }).map(
    (list) =>
      new Cmd("burst", [list], (model, real) => {
        for (const [spec, ctlSpec] of list) create(model, real, spec, ctlSpec);
      }),
  ),
  // track
  trackRequestArb.map(
    (spec) =>
      new Cmd("track", [spec], (model, real) => {
        const req = buildRequest(spec, real);
        const codes = requestErrors(model, req, { handler: false });
        const r = expectOutcome(() => real.m.track(req), codes, "track");
        if (r.threw) return;
        const E = newExecution(model, spec, req, r.value, "external");
        model.insert(E);
        follow(model, spec, E);
        sameSnapshot(r.value, model.snapshot(E), "track's return value");
      }),
  ),
  // start
  idRefArb("pendingTracked").map(
    (ref) =>
      new Cmd("start", [ref], (model, real) => {
        const id = resolveId(model, ref);
        const { E, codes } = lookup(model, id);
        if (E && (E.driver === "handler" || E.status !== "pending")) codes.push("INVALID_TRANSITION");
        const r = expectOutcome(() => real.m.start(id), codes, `start(${String(id)})`);
        if (r.threw) return;
        model.startTracked(E);
        sameSnapshot(r.value, model.snapshot(E), "start's return value");
      }),
  ),
  // reportProgress
  fc.tuple(idRefArb("runningTracked"), progressArgsArb).map(
    ([ref, args]) =>
      new Cmd("reportProgress", [ref, args], (model, real) => {
        const id = resolveId(model, ref);
        const { E, codes } = lookup(model, id);
        if (!validProgress(args)) codes.push("INVALID_ARGUMENT");
        if (E && (E.driver === "handler" || E.status !== "running")) codes.push("INVALID_TRANSITION");
        const r = expectOutcome(() => real.m.reportProgress(id, ...args), codes, `reportProgress(${String(id)})`);
        if (r.threw) return;
        assert.equal(r.value, undefined);
        model.setProgress(E, ...args);
      }),
  ),
  // complete
  fc.tuple(idRefArb("runningTracked"), fc.option(valueArb, { nil: undefined })).map(
    ([ref, result]) =>
      new Cmd("complete", [ref, result], (model, real) => {
        const id = resolveId(model, ref);
        const { E, codes } = lookup(model, id);
        if (result !== undefined && !jsonCompatible(result)) codes.push("INVALID_ARGUMENT");
        if (E && (E.driver === "handler" || E.status !== "running")) codes.push("INVALID_TRANSITION");
        const r = expectOutcome(
          () => (result === undefined ? real.m.complete(id) : real.m.complete(id, result)),
          codes,
          `complete(${String(id)})`,
        );
        if (r.threw) return;
        model.finish(E, "completed", { result: result === undefined ? null : structuredClone(result) });
        sameSnapshot(r.value, model.snapshot(E), "complete's return value");
      }),
  ),
  // fail
  fc.tuple(idRefArb("runningTracked"), failArgArb).map(
    ([ref, argSpec]) =>
      new Cmd("fail", [ref, argSpec], (model, real) => {
        const id = resolveId(model, ref);
        const arg = materialize(argSpec);
        const { E, codes } = lookup(model, id);
        if (!validFailArg(arg)) codes.push("INVALID_ARGUMENT");
        if (E && (E.driver === "handler" || E.status !== "running")) codes.push("INVALID_TRANSITION");
        const r = expectOutcome(() => real.m.fail(id, arg), codes, `fail(${String(id)})`);
        if (r.threw) return;
        model.finish(E, "failed", { error: externalFailure(arg) });
        sameSnapshot(r.value, model.snapshot(E), "fail's return value");
      }),
  ),
  // cancel
  fc.tuple(idRefArb("active"), reasonArb).map(
    ([ref, reason]) =>
      new Cmd("cancel", [ref, reason], (model, real) => {
        const id = resolveId(model, ref);
        const { E, codes } = lookup(model, id);
        if (reason !== undefined && reason !== null && !(typeof reason === "string" && reason.isWellFormed()))
          codes.push("INVALID_ARGUMENT");
        if (E && TERMINAL.has(E.status)) codes.push("INVALID_TRANSITION");
        const r = expectOutcome(() => real.m.cancel(id, reason), codes, `cancel(${String(id)})`);
        if (r.threw) return;
        const wasRunning = E.status === "running";
        // an abortable handler rejects on abort: its slot is released a microtask later
        model.cancelExec(E, typeof reason === "string" ? reason : undefined);
        sameSnapshot(r.value, model.snapshot(E), "cancel's return value");
        if (E.driver === "handler" && wasRunning) {
          assert.equal(E.ctl.calls.at(-1).ctx.signal.aborted, true, "the signal aborted before cancel returned");
        }
      }),
  ),
  // remove
  idRefArb("terminal").map(
    (ref) =>
      new Cmd("remove", [ref], (model, real) => {
        const id = resolveId(model, ref);
        const { E, codes } = lookup(model, id);
        if (E && !TERMINAL.has(E.status)) codes.push("INVALID_TRANSITION");
        const r = expectOutcome(() => real.m.remove(id), codes, `remove(${String(id)})`);
        if (r.threw) return;
        sameSnapshot(r.value, model.snapshot(E), "remove's return value");
        model.takeOut(E);
      }),
  ),
  // clear
  fc.constant(null).map(
    () =>
      new Cmd("clear", [], (model, real) => {
        const finished = [...model.held.values()].filter((E) => TERMINAL.has(E.status));
        const n = real.m.clear();
        assert.equal(n, finished.length, "clear() returns how many it removed");
        for (const E of finished) model.takeOut(E);
      }),
  ),
  // list with a random query
  queryArb.map(
    (q) =>
      new Cmd("list", [q], (model, real) => {
        const valid =
          (q.status === undefined || [q.status].flat().every((s) => STATUSES.includes(s))) &&
          (q.type === undefined || [q.type].flat().every((t) => typeof t === "string")) &&
          (q.targetId === undefined || typeof q.targetId === "string") &&
          (q.pageSize === undefined || (Number.isInteger(q.pageSize) && q.pageSize >= 1 && q.pageSize <= 1000)) &&
          (q.order === undefined || q.order === "asc" || q.order === "desc") &&
          (q.page === undefined || (Number.isInteger(q.page) && q.page >= 1));
        const r = expectOutcome(() => real.m.list(q), valid ? [] : ["INVALID_ARGUMENT"], "list");
        if (r.threw) return;
        const pageSize = q.pageSize ?? 20;
        const page = q.page ?? 1;
        const all = model.matching({ ...q, order: q.order ?? "desc" });
        const items = all.slice((page - 1) * pageSize, page * pageSize);
        checkPage(
          r.value,
          items,
          { total: all.length, pageSize, pageNo: page, hasNext: page * pageSize < all.length },
          model,
          "list(query)",
        );
      }),
  ),
  // a cursor walk kept open across other commands: stable while executions come and go
  fc
    .record({
      status: fc.option(fc.subarray(STATUSES, { minLength: 1 }), { nil: undefined }),
      order: fc.constantFrom("asc", "desc"),
      pageSize: fc.integer({ min: 1, max: 3 }),
    })
    .map(
      (q) =>
        new Cmd("walk", [q], (model, real) => {
          const filter = Object.fromEntries(Object.entries(q).filter(([k, v]) => k !== "pageSize" && v !== undefined));
          const walk =
            model.walk && real.walk
              ? model.walk
              : { filter, pageSize: q.pageSize, lastSeq: null, cursor: null, seen: new Set() };
          const page = real.m.list(
            walk.cursor === null
              ? { ...walk.filter, pageSize: walk.pageSize }
              : { ...walk.filter, pageSize: walk.pageSize, cursor: walk.cursor },
          );
          const all = model.matching(walk.filter);
          const asc = (walk.filter.order ?? "desc") === "asc";
          const rest =
            walk.lastSeq === null ? all : all.filter((E) => (asc ? E.seq > walk.lastSeq : E.seq < walk.lastSeq));
          const items = rest.slice(0, walk.pageSize);
          checkPage(
            page,
            items,
            {
              total: all.length,
              pageSize: walk.pageSize,
              pageNo: walk.cursor === null ? 1 : null,
              hasNext: rest.length > walk.pageSize,
            },
            model,
            `walk ${JSON.stringify(walk.filter)}`,
          );
          for (const E of items) {
            assert.ok(!walk.seen.has(E.seq), `the cursor walk shows ${E.id} twice`);
            walk.seen.add(E.seq);
          }
          if (page.hasNext) {
            walk.lastSeq = items[items.length - 1].seq;
            walk.cursor = page.nextCursor;
            model.walk = walk;
            real.walk = true;
          } else {
            model.walk = null;
            real.walk = null;
          }
        }),
    ),
  // subscribe, maybe with filters and a throttle
  subscribeOptionsArb.map(
    (options) => new Cmd("subscribe", [options], (model, real) => subscribe(model, real, options)),
  ),
  // unsubscribe (twice is harmless)
  fc.nat(5).map(
    (k) =>
      new Cmd("unsubscribe", [k], (model, real) => {
        if (real.subscribers.length === 0) return;
        const i = k % real.subscribers.length;
        assert.equal(real.subscribers[i].off(), undefined);
        model.subscribers[i].active = false;
      }),
  ),
  // settle one handler call that is still in flight
  fc.tuple(fc.nat(10), settleArb).map(
    ([k, s]) =>
      new Cmd("settle", [k, s], (model, real) => {
        if (model.calls.length === 0) return;
        const [call] = model.calls.splice(k % model.calls.length, 1);
        const { d } = call.E.ctl.calls[call.attempt - 1];
        assert.ok(d && !d.settled, `the handler of ${call.E.id} (attempt ${call.attempt}) is still in flight`);
        if (s.how === "reject") {
          const thrown = materialize(s.thrown);
          d.reject(thrown);
          model.settleCall(call, { how: "reject", thrown });
        } else {
          d.resolve(s.value);
          model.settleCall(call, s);
        }
      }),
  ),
  // ctx.progress from a handler call: running, or of an attempt long over
  // (one to three reports in a row, so that a throttled subscriber holds some back)
  fc.tuple(fc.nat(20), fc.boolean(), fc.array(progressArgsArb, { minLength: 1, maxLength: 3 })).map(
    ([k, anyCall, argsList]) =>
      new Cmd("ctx.progress", [k, anyCall, argsList], (model, real) => {
        const running = model.everCalled.filter((c) => c.E.status === "running" && c.E.attempt === c.attempt);
        const pool = anyCall || running.length === 0 ? model.everCalled : running;
        if (pool.length === 0) return;
        const call = pool[k % pool.length];
        const { E } = call;
        const { ctx } = E.ctl.calls[call.attempt - 1];
        for (const args of argsList) {
          // only the attempt still running counts
          const current = E.status === "running" && E.attempt === call.attempt && !E.removed;
          const valid = validProgress(args);
          let threw = null;
          try {
            ctx.progress(...args);
          } catch (e) {
            threw = e;
          }
          if (!valid) {
            // the contract: invalid arguments throw INVALID_ARGUMENT; once terminal it may also be ignored.
            if (current || threw) {
              assert.ok(threw, `ctx.progress(${JSON.stringify(args)}) must throw INVALID_ARGUMENT`);
              checkExecError(threw, "INVALID_ARGUMENT", "ctx.progress");
            }
            continue;
          }
          assert.equal(threw, null, `ctx.progress with valid arguments never throws (${threw?.message})`);
          if (current) {
            seen("ctx.progress counted");
            model.setProgress(E, ...args);
          }
        }
      }),
  ),
  // wait, maybe with a group's signal
  fc.tuple(fc.oneof(idRefArb("active"), idRefArb("any")), waitSignalArb).map(
    ([ref, group]) =>
      new Cmd("wait", [ref, group], (model, real) => {
        const id = resolveId(model, ref);
        const { E, codes } = lookup(model, id);
        let promise;
        try {
          promise = group === undefined ? real.m.wait(id) : real.m.wait(id, { signal: real.controllers[group].signal });
        } catch (e) {
          assert.fail(`wait() threw synchronously instead of rejecting: ${e?.message}`);
        }
        assert.ok(promise instanceof Promise, "wait returns a Promise");
        real.waits.push({ state: track(promise) });
        const g = group === undefined ? null : model.groups[group];
        const w = { E, group: g, rejectCodes: null, pending: false, terminalSnap: null, rejectReason: null };
        if (codes.length) w.rejectCodes = codes;
        else if (g?.aborted)
          w.rejectReason = g; // an aborted signal rejects even a terminal one's wait
        else if (TERMINAL.has(E.status)) w.terminalSnap = model.snapshot(E);
        else w.pending = true;
        model.waits.push(w);
      }),
  ),
  // advance the clock; the manager's timer fires if it is due
  fc.integer({ min: 0, max: 6 }).map(
    (ms) =>
      new Cmd("advance", [ms], (model) => {
        clock.now += ms;
        for (const t of liveTimers()) {
          if (t.due > clock.now) continue;
          t.live = false;
          t.cb(t.due);
        }
        model.expire();
      }),
  ),
  // abort a group's AbortController (maybe replacing it with a fresh one afterwards)
  fc.tuple(fc.nat(GROUPS - 1), abortReasonArb, fc.boolean()).map(
    ([k, reasonSpec, renew]) =>
      new Cmd("abort", [k, reasonSpec, renew], (model, real) => {
        const g = model.groups[k];
        if (!g.aborted) {
          const c = real.controllers[k];
          c.abort(materialize(reasonSpec));
          g.reason = c.signal.reason;
          model.abortGroup(g);
        }
        if (renew) {
          real.controllers[k] = new AbortController();
          model.groups[k] = { aborted: false, reason: undefined };
        }
      }),
  ),
  // watch, maybe with a group's signal, maybe breaking after its first snapshot
  fc
    .tuple(
      fc.oneof({ weight: 3, arbitrary: idRefArb("active") }, { weight: 1, arbitrary: idRefArb("any") }),
      waitSignalArb,
      fc.option(fc.constant(1), { nil: undefined, freq: 4 }),
    )
    .map(
      ([ref, group, stopAfter]) =>
        new Cmd("watch", [ref, group, stopAfter], (model, real) => {
          const id = resolveId(model, ref);
          const { E, codes } = lookup(model, id);
          const g = group === undefined ? null : model.groups[group];
          const rw = { index: real.watches.length, yielded: [], done: false, error: undefined };
          const w = { id, E, group: g, stopAfter, open: false };
          if (codes.length) w.rejectCodes = codes;
          else if (g?.aborted) w.early = true;
          else {
            w.start = E.history.length - 1;
            w.open = !TERMINAL.has(E.status) && stopAfter === undefined;
          }
          let iterable;
          try {
            iterable =
              group === undefined ? real.m.watch(id) : real.m.watch(id, { signal: real.controllers[group].signal });
          } catch (e) {
            // a malformed id may be refused at the call rather than at the first next()
            assert.ok(codes.length, `watch(${String(id)}) threw: ${e?.message}`);
            rw.done = true;
            rw.error = e;
          }
          if (iterable !== undefined) consume(iterable, rw, stopAfter);
          real.watches.push(rw);
          model.watches.push(w);
        }),
    ),
];

/** A watch consumer: records every snapshot, breaks after `stopAfter` of them if given. */
async function consume(iterable, rw, stopAfter) {
  const it = iterable[Symbol.asyncIterator]();
  try {
    for (;;) {
      const r = await it.next(); // the first next() runs now, inside the command
      if (r.done) break;
      assert.ok(!rw.done, "a watch yields nothing after it ended");
      rw.yielded.push(r.value);
      if (stopAfter !== undefined && rw.yielded.length >= stopAfter) {
        await it.return();
        break;
      }
    }
  } catch (e) {
    rw.error = e;
  }
  rw.done = true;
}

// Weights: the commands that move executions along come up more often.
const WEIGHTS = {
  create: 4,
  track: 3,
  start: 3,
  settle: 3,
  complete: 2,
  fail: 2,
  reportProgress: 2,
  burst: 2,
  "ctx.progress": 2,
  advance: 3,
  abort: 2,
  watch: 2,
};
const COMMAND_NAMES = [
  "register",
  "create",
  "burst",
  "track",
  "start",
  "reportProgress",
  "complete",
  "fail",
  "cancel",
  "remove",
  "clear",
  "list",
  "walk",
  "subscribe",
  "unsubscribe",
  "settle",
  "ctx.progress",
  "wait",
  "advance",
  "abort",
  "watch",
];
assert.equal(COMMAND_NAMES.length, commandList.length);
const commands = commandList.flatMap((arb, i) => Array(WEIGHTS[COMMAND_NAMES[i]] ?? 1).fill(arb));

// ---------------------------------------------------------------------------------------

const optionsArb = fc.record({
  concurrency: fc.constantFrom(1, 2, 3, Infinity),
  maxFinished: fc.constantFrom(1, 2, 5, 10000),
});
// a subscriber from the start of the run (then the `subscribe` command adds more)
const firstSubscriberArb = fc.oneof(
  { weight: 2, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.constantFrom({ throttleMs: THROTTLE }, { targetId: "t1", throttleMs: THROTTLE }) },
);

test(
  "model: random command sequences agree with a plain JS model on every observable",
  async () => {
    const { seed, numRuns } = fcParams(1000, 20_000);
    const maxCommands = LONG ? 100 : 40;
    commandsRun = 0;
    verifications = 0;
    let runs = 0;
    const started = performance.now();
    const restoreClock = installClock();
    try {
      await fc.assert(
        fc.asyncProperty(
          optionsArb,
          firstSubscriberArb,
          fc.boolean(),
          fc.commands(commands, { maxCommands, size: "max" }),
          async (options, firstSubscriber, withT3, cmds) => {
            runs++;
            if (TRACE) fs.writeSync(TRACE, `--- run ${runs} (seed ${seed}) ${JSON.stringify(options)}\n`);
            const setup = () => {
              clock.now = CLOCK_START;
              clock.timers = [];
              const model = new Model(options);
              const real = makeReal(options);
              registerTarget(model, real, "t1");
              registerTarget(model, real, "t2");
              if (withT3) registerTarget(model, real, "t3"); // its default retry policy
              if (firstSubscriber) subscribe(model, real, firstSubscriber);
              return { model, real };
            };
            const s = setup();
            try {
              await fc.asyncModelRun(() => s, cmds);
            } finally {
              // Settle every handler still in flight and cancel what is active: no timers left.
              for (const ctl of s.real.allControls) for (const call of ctl.calls) call.d?.resolve(null);
              for (const e of s.real.m.list({ status: ["pending", "running"], pageSize: 1000 }).items)
                s.real.m.cancel(e.id);
              await quiesce();
              // The handler closes over the manager: a JS↔wasm cycle the GC cannot collect, so free it.
              s.real.m.free();
            }
          },
        ),
        // EXECMAN_NO_SHRINK=1: report the first failure as found (shrinking ≤ 100-command runs is slow).
        { seed, numRuns, endOnFailure: process.env.EXECMAN_NO_SHRINK === "1" },
      );
    } catch (e) {
      if (e?.cause) console.log(`model: the failing command said: ${e.cause?.stack ?? e.cause}`);
      throw e;
    } finally {
      restoreClock();
      console.log(
        `model: ${runs} runs (incl. shrinking), ${commandsRun} commands, ${verifications} full verifications in ${Math.round(performance.now() - started)} ms; ` +
          `commands run (of which threw as the model expected): ${Object.entries(stats)
            .map(([k, v]) => `${k} ${v.run} (${v.threw}${process.env.EXECMAN_DEBUG ? JSON.stringify(v) : ""})`)
            .join(", ")}; ` +
          `v2 situations reached: ${Object.entries(cover)
            .map(([k, v]) => `${k} ${v}`)
            .join(", ")}; ` +
          `seed ${seed} (replay: EXECMAN_SEED=${seed} node --test tests/js/reliability/model.test.mjs)`,
      );
    }
  },
  { timeout: LONG ? 3_600_000 : 120_000 },
);
