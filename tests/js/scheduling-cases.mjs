// Scheduling cases (priority, delayMs/runAt, retries with backoff) against the built package: the
// order of starts under a concurrency limit, never starting before runAt, backoff delays within
// their bounds, cancel in every kind of wait, the retry rules (ctx.attempt, retryable: false,
// INVALID_RESULT, TIMEOUT, per-target defaults), one timer for every due time, validation errors
// naming the field, and REST creates with the new fields.
//
// No Node API here: tests/js/scheduling.test.mjs runs the cases in Node (with parameters from
// fast-check), tests/browser/scheduling.test.mjs in Chromium (web build, fixed parameters). Each
// case is `async (ExecutionManager, params) => void` and throws a CaseFailure naming what failed.
// Times are compared with the engine's own clock (Date.now) and with margins: no case asserts
// how fast anything runs, only that nothing runs early and every delay is within its bounds.

export class CaseFailure extends Error {}

function check(cond, what) {
  if (!cond) throw new CaseFailure(what);
}

function same(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new CaseFailure(`${what}: expected ${e}, got ${a}`);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Polls until `pred()` holds; fails after `ms`. */
async function until(pred, what, ms = 5000) {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new CaseFailure(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(1);
  }
}

/** The contract's error thrown by `fn` (code and a field named in the message). */
function refused(fn, code, field, what) {
  try {
    fn();
  } catch (e) {
    check(e instanceof Error && e.name === "ExecutionError", `${what}: not an ExecutionError: ${e}`);
    same(e.code, code, `${what}: code (${e.message})`);
    check(e.message.includes(`\`${field}\``), `${what}: the message names \`${field}\`: ${e.message}`);
    return e;
  }
  throw new CaseFailure(`${what}: did not throw`);
}

/**
 * The order of starts under a concurrency limit: with every slot taken, executions of random
 * priorities are created; once the slots free up they start by priority (highest first), then in
 * creation order (`priorities[i]` undefined: no priority given, which is 0).
 * @param {any} ExecutionManager
 * @param {{ concurrency: number, priorities: (number | undefined)[] }} params
 */
export async function startOrder(ExecutionManager, { concurrency, priorities }) {
  const m = new ExecutionManager({ concurrency });
  try {
    const gates = [];
    m.register("blocker", () => {
      const d = deferred();
      gates.push(d);
      return d.promise;
    });
    const order = [];
    m.register("job", (inputs, ctx) => {
      order.push(ctx.id);
      return ctx.attempt;
    });
    for (let i = 0; i < concurrency; i++) m.create({ targetId: "blocker", priority: -1e9 });
    await until(() => gates.length === concurrency, "the blockers to run");
    const ids = priorities.map((priority, i) => {
      const x = m.create({ targetId: "job", id: `j${i}`, priority });
      same(x.priority, priority ?? 0, `j${i}: priority on the snapshot`);
      same([x.status, x.attempt, x.maxAttempts, x.runAt], ["pending", 0, 1, null], `j${i}: a fresh snapshot`);
      return x.id;
    });
    same(order, [], "nothing starts while every slot is taken");
    const expected = ids
      .map((id, i) => ({ id, i, p: priorities[i] ?? 0 }))
      .sort((a, b) => b.p - a.p || a.i - b.i)
      .map((x) => x.id);
    for (const g of gates) g.resolve("done");
    for (const id of ids) same((await m.wait(id)).result, 1, `${id}: completed on its first attempt`);
    same(order, expected, `start order under concurrency ${concurrency}`);
  } finally {
    m.free();
  }
}

/**
 * Never before runAt: executions delayed by `delayMs` or given a `runAt` (an offset from now;
 * negative: in the past, at once) start no earlier than their runAt, by the engine's clock and by
 * the handler's own `Date.now()`; their snapshots show runAt while pending and null once started.
 * @param {any} ExecutionManager
 * @param {{ concurrency: number, delays: ({ delayMs: number } | { runAtOffset: number })[] }} params
 */
export async function neverBeforeRunAt(ExecutionManager, { concurrency, delays }) {
  const m = new ExecutionManager({ concurrency });
  try {
    const calls = new Map();
    const running = new Map();
    m.register("t", (inputs, ctx) => {
      calls.set(ctx.id, Date.now());
      return null;
    });
    m.subscribe(({ type, execution: x }) => {
      if (type === "status" && x.status === "running") running.set(x.id, x);
    });
    const now = Date.now();
    const created = delays.map((d, i) => {
      const request =
        "delayMs" in d
          ? { targetId: "t", id: `d${i}`, delayMs: d.delayMs }
          : { targetId: "t", id: `d${i}`, runAt: now + d.runAtOffset };
      const x = m.create(request);
      const runAt = "delayMs" in d ? x.createdAt + d.delayMs : now + d.runAtOffset;
      same(x.runAt, runAt, `d${i}: runAt on the snapshot`);
      same(x.status, "pending", `d${i}: pending`);
      return x;
    });
    for (const x of created) {
      const done = await m.wait(x.id);
      same(done.status, "completed", `${x.id}: completed`);
      same(done.runAt, null, `${x.id}: runAt is null once it started`);
      check(done.startedAt >= x.runAt, `${x.id}: started at ${done.startedAt}, before its runAt ${x.runAt}`);
      check(calls.get(x.id) >= x.runAt, `${x.id}: handler called at ${calls.get(x.id)}, before ${x.runAt}`);
      const r = running.get(x.id);
      check(r !== undefined && r.runAt === null && r.startedAt >= x.runAt, `${x.id}: its running event`);
    }
  } finally {
    m.free();
  }
}

/**
 * Backoff within bounds: a handler that fails until attempt `succeedAt` (never, if past
 * `attempts`) is retried with the policy; each retry waits pending with runAt = the failure's time +
 * a delay within [(1 − jitter) × d, d] for d = delayMs (fixed) or delayMs × 2^(n−1)
 * (exponential), capped by maxDelayMs; it is called again no earlier than that runAt, with
 * ctx.attempt counting 1, 2, …; one status event per move; wait resolves only at the end.
 * @param {any} ExecutionManager
 * @param {{ attempts: number, succeedAt: number, backoff: { type?: string, delayMs?: number, maxDelayMs?: number, jitter?: number } }} params
 */
export async function backoffWithinBounds(ExecutionManager, { attempts, succeedAt, backoff }) {
  const m = new ExecutionManager();
  try {
    const calls = [];
    let ended = false;
    let late = 0;
    m.register("flaky", (inputs, ctx) => {
      if (ended) late++;
      calls.push({ attempt: ctx.attempt, at: Date.now() });
      ctx.progress(ctx.attempt, attempts, `attempt ${ctx.attempt}`);
      if (ctx.attempt < succeedAt) throw new Error(`attempt ${ctx.attempt} failed`);
      return { attempt: ctx.attempt };
    });
    const events = [];
    m.subscribe(({ type, execution }) => {
      if (type !== "progress") events.push({ type, x: execution });
    });
    const x = m.create({ targetId: "flaky", retry: { attempts, backoff } });
    same(x.maxAttempts, attempts, "maxAttempts");
    const done = await m.wait(x.id);
    ended = true;
    await sleep(1);
    same(late, 0, "handler calls after wait() resolved");
    const n = Math.min(succeedAt, attempts);
    same(
      calls.map((c) => c.attempt),
      Array.from({ length: n }, (_, i) => i + 1),
      "ctx.attempt of each call",
    );
    same(done.attempt, n, "attempt at the end");
    if (succeedAt <= attempts) {
      same([done.status, done.result], ["completed", { attempt: n }], "completed on the last attempt");
    } else {
      same(
        [done.status, done.error.code, done.error.message],
        ["failed", "HANDLER_ERROR", `attempt ${n} failed`],
        "the last failure is final",
      );
    }
    // created, running, then (pending, running) per retry, then the end: one status event per move
    const statuses = events.map((e) => (e.type === "created" ? "created" : e.x.status));
    const moves = ["created", "running"];
    for (let i = 1; i < n; i++) moves.push("pending", "running");
    moves.push(done.status);
    same(statuses, moves, "the events");
    const { type = "fixed", delayMs = 0, maxDelayMs = Infinity, jitter = 0 } = backoff;
    const waits = events.filter((e) => e.type === "status" && e.x.status === "pending").map((e) => e.x);
    waits.forEach((w, k) => {
      const failed = k + 1;
      same(w.attempt, failed, "a retry wait holds the attempt that failed");
      same([w.error?.code, w.error?.message], ["HANDLER_ERROR", `attempt ${failed} failed`], "its failure");
      same([w.progress, w.finishedAt], [null, null], "no progress, not finished");
      check(w.startedAt <= calls[k].at, "startedAt is the start of the attempt that failed");
      const d = Math.min(type === "exponential" ? delayMs * 2 ** (failed - 1) : delayMs, maxDelayMs);
      const delay = w.runAt - w.updatedAt;
      const eps = 1e-6 * Math.max(1, d);
      check(
        delay >= (1 - jitter) * d - eps && delay <= d + eps,
        `delay after failure ${failed}: ${delay} not in [${(1 - jitter) * d}, ${d}]`,
      );
      const next = calls[failed];
      check(next.at >= w.runAt, `attempt ${failed + 1} called at ${next.at}, before its runAt ${w.runAt}`);
    });
    same(waits.length, n - 1, "one wait per retry");
  } finally {
    m.free();
  }
}

/**
 * Cancel in every kind of wait: waiting for a slot, for a delay, for a retry (after an error, and
 * after a timeout whose attempt still runs): the execution is cancelled at once, wait resolves
 * cancelled, and nothing of it runs later (a handler call after the cancel fails the case).
 * @param {any} ExecutionManager
 */
export async function cancelInEveryWait(ExecutionManager) {
  const m = new ExecutionManager({ concurrency: 2 });
  try {
    const calls = [];
    const cancelled = new Set();
    const violations = []; // handler calls of cancelled executions (asserted empty at the end)
    const gate = deferred();
    m.register("t", (inputs, ctx) => {
      if (cancelled.has(ctx.id)) violations.push(`${ctx.id}#${ctx.attempt}`);
      calls.push(`${ctx.id}#${ctx.attempt}`);
      if (inputs.mode === "block") return gate.promise;
      if (inputs.mode === "fail") throw new Error("fails");
      if (inputs.mode === "hang") return new Promise(() => {}); // ignores its signal
      return "ok";
    });
    const cancel = (id, reason) => {
      cancelled.add(id);
      const x = m.cancel(id, reason);
      same([x.status, x.cancelReason, x.error], ["cancelled", reason, undefined], `${id}: cancelled at once`);
      return x;
    };
    // waiting for a slot: both slots are taken
    m.create({ targetId: "t", id: "b1", inputs: { mode: "block" } });
    m.create({ targetId: "t", id: "b2", inputs: { mode: "block" } });
    await until(() => calls.length === 2, "the blockers");
    const slot = m.create({ targetId: "t", id: "slot", priority: 5 });
    same(slot.status, "pending", "slot: pending");
    const slotWait = m.wait("slot");
    cancel("slot", "no slot");
    same((await slotWait).status, "cancelled", "slot: wait resolves cancelled");
    // waiting for a delay (and for a runAt); every due time below is long enough that the case
    // cancels before it even on a loaded machine, and the case waits past all of them at the end
    const WAIT = 300;
    m.create({ targetId: "t", id: "delay", delayMs: WAIT });
    m.create({ targetId: "t", id: "at", runAt: Date.now() + WAIT });
    const delayed = cancel("delay", "too late");
    check(delayed.runAt !== null, "delay: the runAt it had is kept");
    cancel("at", "too late");
    // waiting for a retry after an error
    m.create({
      targetId: "t",
      id: "retry",
      inputs: { mode: "fail" },
      retry: { attempts: 3, backoff: { delayMs: WAIT } },
    });
    // waiting for a retry after a timeout (the timed-out attempt ignores its signal and runs on)
    let timedOut = null;
    m.register("hang", (inputs, ctx) => {
      if (cancelled.has(ctx.id)) violations.push(`${ctx.id}#${ctx.attempt}`);
      calls.push(`${ctx.id}#${ctx.attempt}`);
      ctx.signal.addEventListener("abort", () => {
        timedOut = ctx.signal.reason;
      });
      return new Promise(() => {});
    });
    gate.resolve("released");
    await until(() => m.status("b1").status === "completed" && m.status("b2").status === "completed", "blockers done");
    m.create({
      targetId: "hang",
      id: "timeout",
      config: { timeoutMs: 15 },
      retry: { attempts: 2, backoff: { delayMs: WAIT } },
    });
    await until(() => m.status("retry").attempt === 1 && m.status("retry").status === "pending", "retry waiting");
    const retry = m.status("retry");
    same([retry.error.code, retry.maxAttempts], ["HANDLER_ERROR", 3], "retry: waits with its failure");
    cancel("retry", "stop retrying");
    await until(
      () => m.status("timeout").status === "pending" && m.status("timeout").attempt === 1,
      "timeout: retry wait",
    );
    const t = m.status("timeout");
    same(t.error.code, "TIMEOUT", "timeout: waits with TIMEOUT");
    check(timedOut instanceof Error && timedOut.name === "TimeoutError", "the timed-out attempt's signal aborted");
    cancel("timeout", "stop");
    const due = Math.max(...["delay", "at", "retry", "timeout"].map((id) => m.status(id).runAt));
    await until(() => Date.now() > due + 30, "past every due time");
    await sleep(5);
    same(violations, [], "handler calls of cancelled executions");
    same(calls.sort(), ["b1#1", "b2#1", "retry#1", "timeout#1"], "nothing cancelled ran again");
    for (const id of ["slot", "delay", "at", "retry", "timeout"]) {
      same((await m.wait(id)).status, "cancelled", `${id}: stays cancelled`);
    }
    same(m.counts().pending, 0, "nothing pending");
    same(m.counts().running, 0, "nothing running");
  } finally {
    m.free();
  }
}

/**
 * The retry rules: `retryable: false` and INVALID_RESULT are not retried; TIMEOUT is (counted per
 * attempt; the timed-out attempt keeps its slot until it settles, its late outcome and progress
 * change nothing); a target's default policy applies unless a request gives its own, whole.
 * @param {any} ExecutionManager
 */
export async function retryRules(ExecutionManager) {
  const m = new ExecutionManager({ concurrency: 1 });
  try {
    const calls = [];
    m.register(
      "rules",
      (inputs, ctx) => {
        calls.push(`${ctx.id}#${ctx.attempt}`);
        if (inputs.mode === "final") throw Object.assign(new Error("do not retry"), { retryable: false });
        if (inputs.mode === "thrown-object") throw { message: "plain", retryable: false };
        if (inputs.mode === "invalid") return () => {};
        if (inputs.mode === "retryable-true" && ctx.attempt === 1)
          throw Object.assign(new Error("again"), { retryable: true });
        return ctx.attempt;
      },
      { retry: { attempts: 4, backoff: { delayMs: 1 } } },
    );
    for (const [id, mode, code] of [
      ["final", "final", "HANDLER_ERROR"],
      ["thrown-object", "thrown-object", "HANDLER_ERROR"],
      ["invalid", "invalid", "INVALID_RESULT"],
    ]) {
      const x = m.create({ targetId: "rules", id, inputs: { mode } });
      same(x.maxAttempts, 4, `${id}: the target's default policy`);
      const done = await m.wait(id);
      same([done.status, done.error.code, done.attempt], ["failed", code, 1], `${id}: not retried`);
    }
    same(
      (await m.wait(m.create({ targetId: "rules", id: "again", inputs: { mode: "retryable-true" } }).id)).attempt,
      2,
      "retryable: true is retried",
    );
    const own = m.create({ targetId: "rules", id: "own", inputs: { mode: "final" }, retry: { attempts: 1 } });
    same(own.maxAttempts, 1, "a request's own policy replaces the target's whole");
    await m.wait("own");

    // TIMEOUT is retried; the slot stays with the timed-out attempt until it settles.
    const attempts = [];
    m.register("slow", (inputs, ctx) => {
      const d = deferred();
      attempts.push({ ctx, d, aborted: null });
      const a = attempts.at(-1);
      ctx.signal.addEventListener("abort", () => {
        a.aborted = ctx.signal.reason;
      });
      if (ctx.attempt === 2) d.resolve("second");
      return d.promise;
    });
    const slow = m.create({ targetId: "slow", id: "slow", config: { timeoutMs: 20 }, retry: { attempts: 2 } });
    same(slow.maxAttempts, 2, "slow: maxAttempts");
    await until(
      () => m.status("slow").status === "pending" && m.status("slow").attempt === 1,
      "slow: the timeout moves it back to pending",
    );
    const waiting = m.status("slow");
    same(
      [waiting.attempt, waiting.error.code, waiting.error.name],
      [1, "TIMEOUT", "TimeoutError"],
      "slow: waits with TIMEOUT",
    );
    const first = attempts[0];
    check(
      first.aborted instanceof Error && first.aborted.name === "TimeoutError",
      "attempt 1's signal aborted (TimeoutError)",
    );
    await sleep(30);
    same(
      [attempts.length, m.status("slow").status],
      [1, "pending"],
      "concurrency 1: attempt 2 waits for attempt 1's slot",
    );
    first.ctx.progress(5, 10, "late"); // attempt 1 is over: ignored
    same(m.status("slow").progress, null, "an ended attempt's progress is ignored");
    first.d.resolve("first, late");
    const done = await m.wait("slow");
    same([done.status, done.result, done.attempt], ["completed", "second", 2], "slow: completed by attempt 2");
    same(attempts.length, 2, "two attempts");
    same(attempts[1].aborted, null, "attempt 2's signal never aborted");
  } finally {
    m.free();
  }
}

/**
 * One timer for every due time: many delayed executions (and deadlines) arm one timer, re-armed
 * for the earliest; cancelling them all leaves none. `setTimeout` is wrapped while the case runs
 * (the manager's timer is the only one called with one numeric extra argument).
 * @param {any} ExecutionManager
 * @param {{ delays: number[] }} params
 */
export async function oneTimer(ExecutionManager, { delays }) {
  const realSet = globalThis.setTimeout;
  const realClear = globalThis.clearTimeout;
  const live = new Set();
  let most = 0;
  globalThis.setTimeout = (cb, ms, ...args) => {
    if (args.length !== 1 || typeof args[0] !== "number") return realSet(cb, ms, ...args);
    const h = realSet(
      (...a) => {
        live.delete(h);
        cb(...a);
      },
      ms,
      ...args,
    );
    live.add(h);
    most = Math.max(most, live.size);
    return h;
  };
  globalThis.clearTimeout = (h) => {
    live.delete(h);
    return realClear(h);
  };
  const m = new ExecutionManager({ concurrency: 4 });
  try {
    let ran = 0;
    m.register("t", () => {
      ran++;
    });
    const ids = delays.map((delayMs, i) => m.create({ targetId: "t", id: `o${i}`, delayMs }).id);
    check(live.size <= 1, `${live.size} timers armed at once`);
    for (const id of ids.slice(0, Math.floor(ids.length / 2))) await m.wait(id);
    for (const id of ids) if (m.status(id).status === "pending") m.cancel(id);
    await sleep(5);
    same(live.size, 0, "nothing due: no timer");
    same(most, 1, "never more than one timer");
    check(ran >= Math.floor(ids.length / 2), "the awaited ones ran");
  } finally {
    m.free();
    globalThis.setTimeout = realSet;
    globalThis.clearTimeout = realClear;
  }
}

/**
 * Validation: malformed priority, delayMs, runAt and retry fields are INVALID_ARGUMENT naming the
 * field (down to `request.retry.backoff.delayMs`), and change nothing; track takes none of them;
 * register checks `options.retry` the same way; undefined fields are absent.
 * @param {any} ExecutionManager
 */
export async function validation(ExecutionManager) {
  const m = new ExecutionManager();
  try {
    m.register("t", () => null);
    const bad = [
      [{ priority: 1.5 }, "request.priority"],
      [{ priority: "1" }, "request.priority"],
      [{ priority: 2 ** 53 }, "request.priority"],
      [{ priority: Number.NaN }, "request.priority"],
      [{ priority: null }, "request.priority"],
      [{ delayMs: -1 }, "request.delayMs"],
      [{ delayMs: Number.POSITIVE_INFINITY }, "request.delayMs"],
      [{ delayMs: "5" }, "request.delayMs"],
      [{ runAt: Number.NaN }, "request.runAt"],
      [{ runAt: new Date() }, "request.runAt"],
      [{ delayMs: 5, runAt: 5 }, "request.runAt"],
      [{ retry: 3 }, "request.retry"],
      [{ retry: [] }, "request.retry"],
      [{ retry: {} }, "request.retry.attempts"],
      [{ retry: { attempts: 0 } }, "request.retry.attempts"],
      [{ retry: { attempts: 1001 } }, "request.retry.attempts"],
      [{ retry: { attempts: 2.5 } }, "request.retry.attempts"],
      [{ retry: { attempts: 2, backoff: "fast" } }, "request.retry.backoff"],
      [{ retry: { attempts: 2, backoff: { type: "linear" } } }, "request.retry.backoff.type"],
      [{ retry: { attempts: 2, backoff: { delayMs: -1 } } }, "request.retry.backoff.delayMs"],
      [{ retry: { attempts: 2, backoff: { delayMs: Number.NaN } } }, "request.retry.backoff.delayMs"],
      [{ retry: { attempts: 2, backoff: { maxDelayMs: "1" } } }, "request.retry.backoff.maxDelayMs"],
      [{ retry: { attempts: 2, backoff: { jitter: 1.5 } } }, "request.retry.backoff.jitter"],
      [
        {
          retry: {
            get attempts() {
              throw new Error("getter");
            },
          },
        },
        "request.retry.attempts",
      ],
    ];
    for (const [fields, field] of bad) {
      refused(() => m.create({ targetId: "t", ...fields }), "INVALID_ARGUMENT", field, `create ${field}`);
    }
    same(m.counts().total, 0, "no refused create changed anything");
    for (const [fields, field] of [
      [{ priority: 1 }, "request.priority"],
      [{ delayMs: 1 }, "request.delayMs"],
      [{ runAt: 1 }, "request.runAt"],
      [{ retry: { attempts: 2 } }, "request.retry"],
    ]) {
      refused(() => m.track({ targetId: "x", ...fields }), "INVALID_ARGUMENT", field, `track ${field}`);
    }
    same(m.counts().total, 0, "no refused track changed anything");
    refused(
      () => m.register("r", () => null, { retry: { attempts: 2, backoff: { jitter: -0.5 } } }),
      "INVALID_ARGUMENT",
      "options.retry.backoff.jitter",
      "register options.retry",
    );
    m.register("r", () => null, { retry: { attempts: 2 } }); // the refused register took nothing
    const ok = m.create({
      targetId: "t",
      priority: undefined,
      delayMs: undefined,
      retry: { attempts: 2, backoff: undefined },
      runAt: undefined,
    });
    same([ok.priority, ok.maxAttempts, ok.runAt], [0, 2, null], "undefined fields are absent");
    const edge = m.create({ targetId: "t", priority: -(2 ** 53 - 1), runAt: -5, retry: { attempts: 1000 } });
    same([edge.priority, edge.maxAttempts, edge.runAt], [-(2 ** 53 - 1), 1000, -5], "the edges are accepted");
    same((await m.wait(edge.id)).status, "completed", "a runAt in the past means at once");
  } finally {
    m.free();
  }
}

/**
 * REST: `POST /api/v1/executions` takes priority, delayMs, runAt and retry (handle() and fetch());
 * the snapshots carry the new fields; malformed ones are 400 naming the field.
 * @param {any} ExecutionManager
 */
export async function restCreate(ExecutionManager) {
  const m = new ExecutionManager({ concurrency: 1 });
  try {
    const order = [];
    m.register("t", (inputs, ctx) => {
      order.push(ctx.id);
      if (ctx.attempt < 2 && inputs.flaky) throw new Error("once");
      return ctx.attempt;
    });
    const gate = deferred();
    m.register("block", () => gate.promise);
    m.create({ targetId: "block", id: "block" });
    await until(() => m.status("block").status === "running", "the one slot taken");
    const post = (body) => m.handle({ method: "POST", path: "/api/v1/executions", body });
    const low = post({ targetId: "t", id: "low", priority: 1 });
    const high = post({
      targetId: "t",
      id: "high",
      priority: 7,
      retry: { attempts: 2, backoff: { type: "exponential", delayMs: 5 } },
      inputs: { flaky: true },
    });
    same(low.status, 201, "low: created");
    same(
      [high.status, high.body.priority, high.body.maxAttempts, high.body.attempt, high.body.runAt],
      [201, 7, 2, 0, null],
      "high: created with its fields",
    );
    const later = post({ targetId: "t", id: "later", delayMs: 20 });
    same([later.status, later.body.runAt - later.body.createdAt], [201, 20], "later: runAt");
    const runAt = Date.now() + 10;
    same(post({ targetId: "t", id: "at", runAt }).body.runAt, runAt, "at: runAt");
    for (const [body, field] of [
      [{ targetId: "t", priority: 0.5 }, "request.priority"],
      [{ targetId: "t", delayMs: 1, runAt: 1 }, "request.runAt"],
      [{ targetId: "t", retry: { attempts: 2, backoff: { delayMs: -3 } } }, "request.retry.backoff.delayMs"],
      [{ targetId: "t", retry: null }, "request.retry"],
    ]) {
      const r = post(body);
      same([r.status, r.body.error.code], [400, "INVALID_ARGUMENT"], `400 for ${field}`);
      check(r.body.error.message.includes(`\`${field}\``), `the 400 names ${field}: ${r.body.error.message}`);
    }
    const response = await m.fetch(
      new Request("http://localhost/api/v1/executions", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ targetId: "t", id: "fetched", priority: 3, delayMs: 0 }),
      }),
    );
    same(response.status, 201, "fetch: created");
    const fetched = await response.json();
    same([fetched.priority, fetched.runAt - fetched.createdAt], [3, 0], "fetch: its fields");
    gate.resolve(null);
    for (const id of ["low", "high", "later", "at", "fetched"])
      same((await m.wait(id)).status, "completed", `${id}: completed`);
    same(order.slice(0, 3), ["high", "fetched", "low"], "started by priority");
    const got = m.handle({ method: "GET", path: "/api/v1/executions/high" });
    same(
      [got.body.attempt, got.body.maxAttempts, got.body.priority, got.body.runAt],
      [2, 2, 7, null],
      "GET: the fields",
    );
  } finally {
    m.free();
  }
}
