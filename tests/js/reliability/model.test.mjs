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
// Default: 1000 runs of ≤ 40 commands. EXECMAN_LONG=1: 20,000 runs of ≤ 100 commands.
// Replay: EXECMAN_SEED=<seed printed below> [EXECMAN_RUNS=n].
import assert from "node:assert/strict";
import fs from "node:fs";
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
const TARGETS = { t1: undefined, t2: "batch", t3: "import" }; // target → options.type on register
const TYPES = ["task", "batch", "import", "export"];

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

const requestArb = (targets) =>
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
    },
    { requiredKeys: ["targetId"] },
  );

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
);
const materialize = (v) => (typeof v === "function" ? v() : v);

const modeArb = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ mode: "deferred" }) },
  { weight: 2, arbitrary: fc.constant({ mode: "abortable" }) },
  { weight: 2, arbitrary: jsonArb.map((value) => ({ mode: "syncReturn", value })) },
  { weight: 1, arbitrary: fc.constant({ mode: "syncReturn", value: undefined }) },
  { weight: 2, arbitrary: thrownArb.map((thrown) => ({ mode: "syncThrow", thrown })) },
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

class Model {
  constructor({ concurrency, maxFinished }) {
    this.concurrency = concurrency;
    this.maxFinished = maxFinished;
    this.targets = new Map(); // targetId → default type
    this.held = new Map(); // id → E
    this.knownIds = []; // every string id ever used, for queries after removal
    this.seq = 0;
    this.finishSeq = 0;
    this.queue = []; // handler-driven Es waiting for a slot, FIFO
    this.inFlight = 0;
    this.calls = []; // handler calls that have not settled: { E, ctl }
    this.everCalled = []; // every handler call: { E, ctl }
    this.subscribers = []; // { active, expected: [{ type, id, snap }] }
    this.waits = []; // { E, state, terminalSnap }
    this.walk = null; // open cursor walk
  }

  emit(type, E) {
    const snap = this.snapshot(E);
    for (const s of this.subscribers) if (s.active) s.expected.push({ type, id: E.id, snap });
    if (TERMINAL.has(E.status)) {
      for (const w of this.waits) if (w.E === E && !w.terminalSnap) w.terminalSnap = snap;
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
    };
    if (E.status === "completed") out.result = E.result;
    if (E.status === "failed") out.error = { ...E.error };
    if (E.status === "cancelled" && E.cancelReason !== undefined) out.cancelReason = E.cancelReason;
    // No priorities, delays or retries here (tests/js/scheduling.test.mjs has them).
    out.priority = 0;
    out.attempt = E.attempt ?? 0;
    out.maxAttempts = 1;
    out.runAt = null;
    return out;
  }

  insert(E) {
    E.seq = ++this.seq;
    this.held.set(E.id, E);
    if (!this.knownIds.includes(E.id)) this.knownIds.push(E.id);
    E.changed = true;
    this.emit("created", E);
  }

  setStatus(E, status) {
    E.status = status;
    if (status === "running") E.attempt = 1;
    E.changed = true;
    this.emit("status", E);
  }

  finish(E, status, outcome) {
    Object.assign(E, outcome);
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
    E.changed = true;
    this.emit("progress", E);
  }

  /** Starts queued handler-driven executions while slots are free (see the header comment). */
  pump() {
    for (;;) {
      const batch = [];
      while (this.inFlight < this.concurrency && this.queue.length > 0) {
        const E = this.queue.shift();
        if (E.removed || E.status !== "pending") continue;
        this.inFlight++;
        E.handlerCalled = true;
        this.setStatus(E, "running");
        const call = { E, ctl: E.ctl };
        this.everCalled.push(call);
        switch (E.ctl.mode) {
          case "syncThrow":
            this.settleHandler(E, { how: "reject", thrown: E.ctl.thrown });
            break;
          case "syncReturn":
            batch.push(E); // settles one microtask later, in start order
            break;
          default:
            this.calls.push(call);
        }
      }
      if (batch.length === 0) return;
      for (const E of batch) this.settleHandler(E, { how: "resolve", value: E.ctl.value });
    }
  }

  /** A handler's promise settled: frees its slot; finishes the execution if still running. */
  settleHandler(E, s) {
    this.inFlight--;
    if (E.status !== "running") return;
    if (s.how === "resolve") {
      this.finish(E, "completed", { result: s.value === undefined ? null : structuredClone(s.value) });
    } else if (s.how === "resolveBad") {
      this.finish(E, "failed", { error: { code: "INVALID_RESULT", name: "TypeError", message: ANY_STRING } });
    } else {
      this.finish(E, "failed", { error: handlerFailure(s.thrown) });
    }
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
  const real = { m, controls: new Map(), subscribers: [], waits: [], walk: null };
  real.handler = (inputs, ctx) => {
    const ctl = real.controls.get(ctx.id);
    assert.ok(ctl, `handler called for an id the test never created: ${ctx.id}`);
    ctl.called++;
    ctl.ctx = ctx;
    ctl.inputsSeen = inputs;
    switch (ctl.mode) {
      case "syncThrow":
        throw ctl.thrown;
      case "syncReturn":
        return ctl.value;
      case "abortable":
        ctl.d = deferred();
        ctx.signal.addEventListener("abort", () => ctl.d.reject(ctx.signal.reason));
        return ctl.d.promise;
      default:
        ctl.d = deferred();
        return ctl.d.promise;
    }
  };
  return real;
}

function registerTarget(model, real, targetId) {
  const type = TARGETS[targetId];
  real.m.register(targetId, real.handler, type === undefined ? undefined : { type });
  model.targets.set(targetId, type ?? "task");
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
    // Handler calls: exactly once when the model started it, never inside create, never if
    // cancelled while pending; inputs and ctx are copies of what was given.
    if (E.ctl) {
      assert.equal(E.ctl.called, E.handlerCalled ? 1 : 0, `${context}: handler calls of ${id}`);
      if (E.handlerCalled) {
        assert.deepStrictEqual(E.ctl.inputsSeen, E.inputs, `${context}: handler inputs of ${id}`);
        assert.equal(E.ctl.ctx.id, id);
        assert.deepStrictEqual(E.ctl.ctx.config, E.config, `${context}: ctx.config of ${id}`);
        assert.ok(E.ctl.ctx.signal instanceof AbortSignal);
        assert.equal(
          E.ctl.ctx.signal.aborted,
          E.status === "cancelled",
          `${context}: signal of ${id} aborted iff cancelled`,
        );
      }
    }
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
  // Events, per subscriber and per execution, in order.
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
  // wait() promises: resolved with the terminal snapshot exactly when the model says terminal.
  real.waits.forEach((w, i) => {
    const mw = model.waits[i];
    if (mw.rejectCodes) {
      assert.equal(w.state.status, "rejected", `${context}: wait #${i} rejects`);
      checkExecError(w.state.value, mw.rejectCodes, `${context}: wait #${i}`);
    } else if (mw.terminalSnap) {
      assert.equal(w.state.status, "fulfilled", `${context}: wait #${i} on ${mw.E.id} resolved once terminal`);
      sameSnapshot(w.state.value, mw.terminalSnap, `${context}: wait #${i} value`);
    } else {
      assert.equal(w.state.status, "pending", `${context}: wait #${i} on ${mw.E.id} still pending`);
    }
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
  if (handler && !model.targets.has(req.targetId)) bad("UNKNOWN_TARGET");
  if (typeof req.id === "string" && model.held.has(req.id)) bad("ALREADY_EXISTS");
  return codes;
}

function newExecution(model, req, returned, driver) {
  const E = {
    id: returned.id,
    targetId: req.targetId,
    type: req.type ?? (driver === "handler" ? model.targets.get(req.targetId) : "task"),
    status: "pending",
    inputs: req.inputs === undefined ? {} : structuredClone(req.inputs),
    config: req.config === undefined ? {} : structuredClone(req.config),
    progress: null,
    driver,
  };
  return E;
}

const commandList = [
  // register
  fc.constantFrom(...Object.keys(TARGETS)).map(
    (t) =>
      new Cmd("register", [t], (model, real) => {
        const codes = model.targets.has(t) ? ["ALREADY_EXISTS"] : [];
        const r = expectOutcome(
          () => real.m.register(t, real.handler, TARGETS[t] === undefined ? undefined : { type: TARGETS[t] }),
          codes,
          `register(${t})`,
        );
        if (!r.threw) {
          assert.equal(r.value, undefined);
          model.targets.set(t, TARGETS[t] ?? "task");
        }
      }),
  ),
  // create
  fc.tuple(requestArb(["t1", "t1", "t2", "t2", "t3"]), modeArb).map(
    ([req, ctlSpec]) =>
      new Cmd("create", [req, ctlSpec], (model, real) => {
        const codes = requestErrors(model, req, { handler: true });
        const r = expectOutcome(() => real.m.create(req), codes, "create");
        if (r.threw) return;
        const e = r.value;
        assert.equal(e.status, "pending");
        if (req.id === undefined)
          assert.match(e.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
        const ctl = { ...ctlSpec, thrown: materialize(ctlSpec.thrown), called: 0 };
        real.controls.set(e.id, ctl);
        const E = newExecution(model, req, e, "handler");
        E.ctl = ctl;
        model.insert(E);
        model.queue.push(E);
        sameSnapshot(e, model.snapshot(E), "create's return value");
        sameSnapshot(real.m.status(e.id), model.snapshot(E), "status() right after create");
        assert.equal(ctl.called, 0, "the handler is never called inside create");
      }),
  ),
  // track
  requestArb(["ext", "t1", "elsewhere"]).map(
    (req) =>
      new Cmd("track", [req], (model, real) => {
        const codes = requestErrors(model, req, { handler: false });
        const r = expectOutcome(() => real.m.track(req), codes, "track");
        if (r.threw) return;
        const E = newExecution(model, req, r.value, "external");
        model.insert(E);
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
        model.setStatus(E, "running");
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
        const cancelled = { cancelReason: typeof reason === "string" ? reason : undefined };
        model.finish(E, "cancelled", cancelled);
        sameSnapshot(r.value, model.snapshot(E), "cancel's return value");
        if (E.driver === "handler" && wasRunning) {
          assert.equal(E.ctl.ctx.signal.aborted, true, "the signal aborted before cancel returned");
          if (E.ctl.mode === "abortable") {
            // It rejects on abort: its slot is released a microtask later.
            const k = model.calls.findIndex((c) => c.E === E);
            if (k >= 0) {
              model.calls.splice(k, 1);
              model.settleHandler(E, { how: "reject", thrown: "aborted" });
            }
          }
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
  // subscribe
  fc.constant(null).map(
    () =>
      new Cmd("subscribe", [], (model, real) => {
        const sub = { received: [], checked: 0 };
        sub.off = real.m.subscribe((ev) => {
          assert.ok(["created", "status", "progress", "removed"].includes(ev.type), `event type ${ev.type}`);
          sub.received.push({ type: ev.type, id: ev.execution.id, execution: ev.execution });
        });
        assert.equal(typeof sub.off, "function");
        real.subscribers.push(sub);
        model.subscribers.push({ active: true, expected: [] });
      }),
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
        const { d } = call.ctl;
        assert.ok(d && !d.settled, `the handler of ${call.E.id} is still in flight`);
        if (s.how === "reject") {
          const thrown = materialize(s.thrown);
          d.reject(thrown);
          model.settleHandler(call.E, { how: "reject", thrown });
        } else {
          d.resolve(s.value);
          model.settleHandler(call.E, s);
        }
      }),
  ),
  // ctx.progress from a handler, running or long finished
  fc.tuple(fc.nat(20), progressArgsArb).map(
    ([k, args]) =>
      new Cmd("ctx.progress", [k, args], (model, real) => {
        if (model.everCalled.length === 0) return;
        const { E, ctl } = model.everCalled[k % model.everCalled.length];
        const running = E.status === "running" && !E.removed;
        const valid = validProgress(args);
        let threw = null;
        try {
          ctl.ctx.progress(...args);
        } catch (e) {
          threw = e;
        }
        if (!valid) {
          // the contract: invalid arguments throw INVALID_ARGUMENT; once terminal it may also be ignored.
          if (running || threw) {
            assert.ok(threw, `ctx.progress(${JSON.stringify(args)}) must throw INVALID_ARGUMENT`);
            checkExecError(threw, "INVALID_ARGUMENT", "ctx.progress");
          }
          return;
        }
        assert.equal(threw, null, `ctx.progress with valid arguments never throws (${threw?.message})`);
        if (running) model.setProgress(E, ...args);
      }),
  ),
  // wait
  idRefArb("any").map(
    (ref) =>
      new Cmd("wait", [ref], (model, real) => {
        const id = resolveId(model, ref);
        const { E, codes } = lookup(model, id);
        let promise;
        try {
          promise = real.m.wait(id);
        } catch (e) {
          assert.fail(`wait() threw synchronously instead of rejecting: ${e?.message}`);
        }
        assert.ok(promise instanceof Promise, "wait returns a Promise");
        real.waits.push({ state: track(promise) });
        const w = {
          E,
          rejectCodes: codes.length ? codes : null,
          terminalSnap: E && TERMINAL.has(E.status) ? model.snapshot(E) : null,
        };
        model.waits.push(w);
      }),
  ),
];

// Weights: the commands that move executions along come up more often.
const WEIGHTS = { create: 3, track: 3, start: 3, settle: 3, complete: 2, fail: 2, reportProgress: 2 };
const COMMAND_NAMES = [
  "register",
  "create",
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
];
assert.equal(COMMAND_NAMES.length, commandList.length);
const commands = commandList.flatMap((arb, i) => Array(WEIGHTS[COMMAND_NAMES[i]] ?? 1).fill(arb));

// ---------------------------------------------------------------------------------------

const optionsArb = fc.record({
  concurrency: fc.constantFrom(1, 2, 3, Infinity),
  maxFinished: fc.constantFrom(1, 2, 5, 10000),
});

test(
  "model: random command sequences agree with a plain JS model on every observable",
  async () => {
    const { seed, numRuns } = fcParams(1000, 20_000);
    const maxCommands = LONG ? 100 : 40;
    commandsRun = 0;
    verifications = 0;
    let runs = 0;
    const started = Date.now();
    try {
      await fc.assert(
        fc.asyncProperty(optionsArb, fc.commands(commands, { maxCommands, size: "max" }), async (options, cmds) => {
          runs++;
          if (TRACE) fs.writeSync(TRACE, `--- run ${runs} (seed ${seed}) ${JSON.stringify(options)}\n`);
          const setup = () => {
            const model = new Model(options);
            const real = makeReal(options);
            registerTarget(model, real, "t1");
            registerTarget(model, real, "t2");
            return { model, real };
          };
          const s = setup();
          try {
            await fc.asyncModelRun(() => s, cmds);
          } finally {
            // Settle every handler still in flight and cancel what is active: no timers left.
            for (const ctl of s.real.controls.values()) ctl.d?.resolve(null);
            for (const e of s.real.m.list({ status: ["pending", "running"], pageSize: 1000 }).items)
              s.real.m.cancel(e.id);
            await quiesce();
            // The handler closes over the manager: a JS↔wasm cycle the GC cannot collect, so free it.
            s.real.m.free();
          }
        }),
        // EXECMAN_NO_SHRINK=1: report the first failure as found (shrinking ≤ 100-command runs is slow).
        { seed, numRuns, endOnFailure: process.env.EXECMAN_NO_SHRINK === "1" },
      );
    } catch (e) {
      if (e?.cause) console.log(`model: the failing command said: ${e.cause?.stack ?? e.cause}`);
      throw e;
    } finally {
      console.log(
        `model: ${runs} runs (incl. shrinking), ${commandsRun} commands, ${verifications} full verifications in ${Date.now() - started} ms; ` +
          `commands run (of which threw as the model expected): ${Object.entries(stats)
            .map(([k, v]) => `${k} ${v.run} (${v.threw}${process.env.EXECMAN_DEBUG ? JSON.stringify(v) : ""})`)
            .join(", ")}; ` +
          `seed ${seed} (replay: EXECMAN_SEED=${seed} node --test tests/js/reliability/model.test.mjs)`,
      );
    }
  },
  { timeout: LONG ? 3_600_000 : 120_000 },
);
