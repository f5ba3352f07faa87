// Fill tests of the memory budget (`maxBytes`): every way text reaches the engine, repeated until
// RESOURCE_EXHAUSTED, then checks that no call trapped, the manager answers every method, making
// room (cancel, remove, eviction) lets work in again, and a fresh create + wait succeeds. Huge
// thrown messages, stacks and results are cut or refused, never stored whole.
//
// No Node API here: tests/js/reliability/fill.test.mjs runs it in Node, tests/browser/fill.test.mjs
// in Chromium (web build). `runFill(ExecutionManager)` returns a report; it throws nothing.

const MiB = 1 << 20;

/** A string of `units` UTF-16 units. */
const text = (units, ch = "x") => ch.repeat(units);

class CaseFailure extends Error {}

function check(cond, what) {
  if (!cond) throw new CaseFailure(what);
}

/** The contract's error of `fn()`, or null when it did not throw; a non-contract error fails. */
function errorOf(fn, what) {
  try {
    fn();
    return null;
  } catch (e) {
    check(
      e instanceof Error && e.name === "ExecutionError" && typeof e.code === "string",
      `${what}: threw a non-contract error: ${e?.constructor?.name} ${e?.message?.slice?.(0, 200)}`,
    );
    return e;
  }
}

/** Repeats `step(i)` until it throws RESOURCE_EXHAUSTED; returns how many succeeded. */
function fillUntilExhausted(step, what, max = 10_000) {
  for (let i = 0; i < max; i++) {
    const e = errorOf(() => step(i), `${what} #${i}`);
    if (e !== null) {
      check(e.code === "RESOURCE_EXHAUSTED", `${what} #${i}: ${e.code} ${e.message.slice(0, 200)}`);
      check(/maxBytes/.test(e.message), `${what}: the message names maxBytes: ${e.message}`);
      return i;
    }
  }
  throw new CaseFailure(`${what}: never exhausted after ${max} calls`);
}

/** Every method answers; a fresh handler-driven execution runs to completion. */
async function usable(m, what) {
  check(typeof m.counts().total === "number", `${what}: counts`);
  const page = m.list({ pageSize: 5 });
  check(Array.isArray(page.items), `${what}: list`);
  for (const x of page.items) {
    check(m.status(x.id)?.id === x.id, `${what}: status`);
    m.progress(x.id);
  }
  check(m.handle({ method: "GET", path: "/api/v1/executions" }).status === 200, `${what}: handle`);
  const target = `fresh-${Math.random()}`;
  m.register(target, (inputs) => ({ echoed: inputs.n }));
  const e = errorOf(() => m.create({ targetId: target, inputs: { n: 7 } }), `${what}: fresh create`);
  check(e === null, `${what}: a fresh create after the fill: ${e?.code} ${e?.message}`);
  const last = m.list({ targetId: target, pageSize: 1 }).items[0];
  const done = await m.wait(last.id);
  check(done.status === "completed" && done.result.echoed === 7, `${what}: a fresh execution completes`);
}

/** Frees room by cancelling and removing the oldest `n` active executions. */
function makeRoom(m, n) {
  const active = m.list({ status: ["pending", "running"], order: "asc", pageSize: n }).items;
  for (const x of active) {
    m.cancel(x.id, "making room");
    m.remove(x.id);
  }
  return active.length;
}

const CASES = {
  async track(ExecutionManager) {
    const m = new ExecutionManager({ maxBytes: 32 * MiB });
    const n = fillUntilExhausted((i) => m.track({ targetId: "t", id: `t${i}`, inputs: text(MiB) }), "track");
    check(n >= 12 && n <= 16, `track: ${n} executions of 2 MiB fit 32 MiB`);
    makeRoom(m, 3);
    check(errorOf(() => m.track({ targetId: "t", inputs: text(MiB) }), "track after room") === null, "room again");
    await usable(m, "track");
    return { filled: n };
  },

  async create(ExecutionManager) {
    const m = new ExecutionManager({ maxBytes: 32 * MiB, concurrency: 1 });
    // Runs until cancelled: its slot is freed when its promise settles.
    m.register("hang", (inputs, ctx) => new Promise((resolve) => ctx.signal.addEventListener("abort", resolve)));
    const n = fillUntilExhausted((i) => m.create({ targetId: "hang", id: `c${i}`, inputs: text(MiB) }), "create");
    check(n >= 12, `create: ${n}`);
    makeRoom(m, 1000); // every one: with concurrency 1, one left would hold the slot
    await usable(m, "create");
    return { filled: n };
  },

  async rest(ExecutionManager) {
    const m = new ExecutionManager({ maxBytes: 32 * MiB });
    m.register("hang", () => new Promise(() => {}));
    let n = 0;
    for (; n < 100; n++) {
      const r = m.handle({
        method: "POST",
        path: "/api/v1/executions",
        body: { targetId: "hang", id: `r${n}`, inputs: text(MiB) },
      });
      if (r.status !== 201) {
        check(
          r.status === 503 && r.body.error.code === "RESOURCE_EXHAUSTED",
          `rest: ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`,
        );
        break;
      }
    }
    check(n >= 12 && n < 100, `rest: ${n} POSTs before 503`);
    const res = await m.fetch(
      new Request("http://execman.test/api/v1/executions", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ targetId: "hang", inputs: text(MiB) }),
      }),
    );
    check(res.status === 503, `rest: fetch answers ${res.status}`);
    check((await res.json()).error.code === "RESOURCE_EXHAUSTED", "rest: fetch's error code");
    makeRoom(m, 14);
    await usable(m, "rest");
    return { filled: n };
  },

  async complete(ExecutionManager) {
    const m = new ExecutionManager({ maxBytes: 32 * MiB });
    const n = fillUntilExhausted((i) => {
      m.track({ targetId: "t", id: `k${i}`, inputs: text(MiB / 2) });
      m.start(`k${i}`);
    }, "track for complete");
    const e = errorOf(() => m.complete("k0", text(4 * MiB)), "complete");
    check(e?.code === "RESOURCE_EXHAUSTED", `complete with a result past the room: ${e?.code}`);
    check(m.status("k0").status === "running", "complete: refused changes nothing");
    check(errorOf(() => m.complete("k0", { small: true }), "small complete") === null, "complete: a small result fits");
    // Completed ones are evictable: completing every other one with 1 MiB results goes on by eviction.
    for (let i = 1; i < n; i++) m.complete(`k${i}`, text(MiB / 4));
    await usable(m, "complete");
    return { filled: n };
  },

  async progress(ExecutionManager) {
    const m = new ExecutionManager({ maxBytes: 32 * MiB });
    for (let i = 0; i < 20; i++) {
      m.track({ targetId: "t", id: `p${i}` });
      m.start(`p${i}`);
    }
    const n = fillUntilExhausted((i) => m.reportProgress(`p${i % 20}`, i, 100, text(MiB, String(i % 10))), "progress");
    check(n >= 12 && n <= 20, `progress: ${n} messages of 2 MiB`);
    check(
      errorOf(() => m.reportProgress("p0", 1, 100, "short"), "short progress") === null,
      "a short message replaces a long one",
    );
    await usable(m, "progress");
    return { filled: n };
  },

  async fail(ExecutionManager) {
    const m = new ExecutionManager({ maxBytes: 32 * MiB });
    m.track({ targetId: "t", id: "f0" });
    m.start("f0");
    const tooLong = errorOf(() => m.fail("f0", { message: text(65_537) }), "fail 65,537");
    check(
      tooLong?.code === "INVALID_ARGUMENT" && /error\.message/.test(tooLong.message),
      `fail over the detail limit: ${tooLong?.message}`,
    );
    const stackTooLong = errorOf(() => m.fail("f0", { message: "m", stack: text(65_537) }), "fail stack");
    check(stackTooLong?.code === "INVALID_ARGUMENT", "fail: a stack over the limit");
    check(
      m.fail("f0", { message: text(65_536), stack: text(65_536) }).error.message.length === 65_536,
      "fail at the limit",
    );
    const n = fillUntilExhausted((i) => {
      m.track({ targetId: "t", id: `g${i}`, inputs: text(MiB / 2) });
      m.start(`g${i}`);
    }, "fill before fail");
    const e = errorOf(() => m.fail("g0", { message: text(65_536), stack: text(65_536) }), "fail with room left");
    check(e === null || e.code === "RESOURCE_EXHAUSTED", `fail in a full budget: ${e?.code}`);
    await usable(m, "fail");
    return { filled: n };
  },

  async thrown(ExecutionManager) {
    const m = new ExecutionManager({ maxBytes: 32 * MiB });
    const huge = text(2 ** 27);
    m.register("throws", () => {
      throw new Error(huge);
    });
    m.register("rejects", async () => {
      const e = new Error("short");
      e.stack = huge;
      e.name = huge;
      throw e;
    });
    m.register("throws-string", () => {
      throw huge;
    });
    const out = {};
    for (const target of ["throws", "rejects", "throws-string"]) {
      const x = await m.wait(m.create({ targetId: target }).id);
      check(x.status === "failed" && x.error.code === "HANDLER_ERROR", `${target}: failed with HANDLER_ERROR`);
      for (const k of ["message", "stack", "name"]) {
        const v = x.error[k];
        if (v === undefined) continue;
        check(v.length <= 65_536, `${target}: ${k} cut to 65,536 units (${v.length})`);
        if (v.length === 65_536) check(v.endsWith("…"), `${target}: a cut ${k} ends with …`);
      }
      out[target] = x.error.message.length;
    }
    await usable(m, "thrown");
    return out;
  },

  async results(ExecutionManager) {
    const m = new ExecutionManager({ maxBytes: 32 * MiB });
    m.register("huge", () => text(2 ** 26));
    m.register("big", () => text(20 * MiB));
    m.register("many", () => Array.from({ length: 3_000_000 }, (_, i) => i));
    const out = {};
    for (const target of ["huge", "big", "many"]) {
      const x = await m.wait(m.create({ targetId: target }).id);
      check(x.status === "failed" && x.error.code === "INVALID_RESULT", `${target}: ${x.status} ${x.error?.code}`);
      out[target] = x.error.name;
    }
    await usable(m, "results");
    return out;
  },

  async calls(ExecutionManager) {
    // The room is for a whole call: many values each below it, together past it, are refused too.
    const m = new ExecutionManager({ maxBytes: 4 * MiB });
    const half = text(MiB / 2);
    const body = Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`k${i}`, half]));
    const r = m.handle({ method: "POST", path: "/api/v1/executions", body: { targetId: "t", ...body } });
    check(r.status === 503 && r.body.error.code === "RESOURCE_EXHAUSTED", `many keys: ${r.status}`);
    const e = errorOf(() => m.list({ type: Array.from({ length: 12 }, () => text(MiB)) }), "list with big types");
    check(e?.code === "RESOURCE_EXHAUSTED", `list: ${e?.code}`);
    // Events queued while a listener runs count too: a listener cannot pile them up without bound.
    m.track({ targetId: "t", id: "q" });
    m.start("q");
    let inner = 0;
    let refused = null;
    const off = m.subscribe(() => {
      if (inner > 0) return;
      inner++;
      for (let i = 0; i < 400 && refused === null; i++) {
        const x = errorOf(() => m.reportProgress("q", i, 400, text(MiB / 4, String(i % 10))), "queued");
        if (x !== null) refused = x.code;
      }
    });
    m.reportProgress("q", 0, 400);
    off();
    check(refused === "RESOURCE_EXHAUSTED", `events queued inside a listener: ${refused}`);
    // A getter of one manager's call may use another manager with its own room.
    const big = new ExecutionManager();
    big.track({ targetId: "t", id: "y".repeat(40_000) });
    let seen;
    errorOf(
      () =>
        m.track({
          targetId: "t",
          get inputs() {
            seen = big.status("y".repeat(40_000))?.id.length;
            big.list({ targetId: "z".repeat(40_000) });
            return {};
          },
        }),
      "re-entrant",
    );
    check(seen === 40_000, "a nested call to another manager is not limited by this one's room");
    await usable(m, "calls");
    return { ok: true };
  },

  async defaults(ExecutionManager) {
    // The review's case: 30 Mi-unit inputs with the default budget (256 MiB).
    const m = new ExecutionManager();
    const big = text(30 * MiB);
    const n = fillUntilExhausted((i) => m.track({ targetId: "t", id: `d${i}`, inputs: big }), "defaults");
    check(n === 4, `defaults: ${n} executions of 60 MiB fit 256 MiB`);
    makeRoom(m, 2);
    await usable(m, "defaults");
    return { filled: n };
  },
};

/**
 * Runs every case on fresh managers. Returns `{ cases: { name: figures }, failures: string[], ms }`.
 * @param {Function} ExecutionManager
 * @param {{ only?: string[], log?: (line: string) => void }} [options]
 */
export async function runFill(ExecutionManager, { only, log = () => {} } = {}) {
  const started = Date.now();
  const report = { cases: {}, failures: [], ms: 0 };
  for (const [name, run] of Object.entries(CASES)) {
    if (only && !only.includes(name)) continue;
    const t0 = Date.now();
    try {
      report.cases[name] = await run(ExecutionManager);
      log(`fill ${name}: ${JSON.stringify(report.cases[name])} in ${Date.now() - t0} ms`);
    } catch (e) {
      report.failures.push(
        `${name}: ${e instanceof CaseFailure ? e.message : `${e?.constructor?.name}: ${e?.message}`}`,
      );
    }
  }
  report.ms = Date.now() - started;
  return report;
}

export const FILL_CASES = Object.keys(CASES);
