// The simulated targets of the demos, run by the real package: the terminal demo's and
// `--serve`'s (scripts/demo-targets.mjs), and the browser examples' (www/targets.js: the
// dashboard's, the Web Worker's, the Service Worker's). What they must do whatever their inputs:
//   - a wrong type or an out-of-range value fails the execution at once, with a message naming
//     the field (never "Cannot read properties of undefined", never a run that does not end);
//   - a missing field takes its documented default;
//   - an aborted signal (cancel, timeoutMs) ends the handler within a second, with no progress
//     reported after the abort.
import assert from "node:assert/strict";
import { ExecutionManager } from "execman";
import { serve } from "execman/server";
import { DEMO_TARGETS, registerDemoTargets } from "../../scripts/demo-targets.mjs";
import { MAX_RUN_MS } from "../../www/inputs.js";
import { SW_TARGETS, TARGETS, WORKER_TARGETS, makeInputs, registerTargets } from "../../www/targets.js";
import { sleep, test, until } from "./helpers.mjs";

/** Each set of targets and how to register it with a `wrap`. */
const SETS = {
  demo: { targets: DEMO_TARGETS, register: (m, wrap) => registerDemoTargets(m, wrap) },
  dashboard: { targets: TARGETS, register: (m, wrap) => registerTargets(m, { targets: TARGETS, wrap }) },
  worker: { targets: WORKER_TARGETS, register: (m, wrap) => registerTargets(m, { targets: WORKER_TARGETS, wrap }) },
  sw: { targets: SW_TARGETS, register: (m, wrap) => registerTargets(m, { targets: SW_TARGETS, wrap }) },
};

/**
 * Cancels whatever still runs or waits (so that a failing test leaves no simulated work behind),
 * then frees the manager.
 */
function close(manager) {
  for (;;) {
    const { items } = manager.list({ status: ["pending", "running"], pageSize: 100 });
    if (items.length === 0) break;
    for (const e of items) manager.cancel(e.id, "test over");
  }
}

/**
 * A manager (no concurrency limit) with the targets of `set`, each handler call recorded by id:
 * when its promise settled and how many progress reports it made after its signal aborted.
 * Closed when the test `t` ends.
 */
function managerWith(t, set) {
  const manager = new ExecutionManager({ concurrency: Infinity });
  t.after(() => close(manager));
  /** @type {Map<string, { settled: Promise<number>, late: number }>} */
  const runs = new Map();
  SETS[set].register(manager, (handler) => (inputs, ctx) => {
    const run = { settled: undefined, late: 0 };
    const view = {
      id: ctx.id,
      signal: ctx.signal,
      config: ctx.config,
      progress: (...args) => {
        if (ctx.signal.aborted) run.late++;
        return ctx.progress(...args);
      },
    };
    const promise = (async () => handler(inputs, view))();
    run.settled = promise.then(
      () => performance.now(),
      () => performance.now(),
    );
    runs.set(ctx.id, run);
    return promise;
  });
  return { manager, runs };
}

/** `promise`, or a failure naming `what` if it has not settled within `ms`. */
async function within(promise, ms, what) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not settled within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

// ── Bad inputs fail at once, naming the field ──────────────────────────────

const FIFTY_ONE = Array.from({ length: 51 }, (_, i) => `s${i}`);

/** [set, targetId, inputs, the field the message must name ("" for inputs itself)] */
const BAD = [
  ["demo", "upload", { name: "big.iso", sizeMb: 1e9 }, "sizeMb"],
  ["demo", "upload", { sizeMb: "12" }, "sizeMb"],
  ["demo", "upload", { sizeMb: 0 }, "sizeMb"],
  ["demo", "upload", { sizeMb: -3 }, "sizeMb"],
  ["demo", "upload", { name: 42 }, "name"],
  ["demo", "upload", "big.iso", ""],
  ["demo", "transcode", { frames: 12.5 }, "frames"],
  ["demo", "transcode", { frames: 1e9 }, "frames"],
  ["demo", "transcode", { frames: 120, corruptAt: 500 }, "corruptAt"],
  ["demo", "transcode", { name: ["x.mp4"] }, "name"],
  ["demo", "report", { sections: "orders" }, "sections"],
  ["demo", "report", { sections: [] }, "sections"],
  ["demo", "report", { sections: [1, 2] }, "sections"],
  ["demo", "report", { sections: FIFTY_ONE }, "sections"],
  ["demo", "report", [1, 2], ""],
  ["dashboard", "upload", { sizeMb: 1e9 }, "sizeMb"],
  ["dashboard", "upload", { durationMs: 1e9 }, "durationMs"],
  ["dashboard", "upload", { durationMs: MAX_RUN_MS + 1 }, "durationMs"],
  ["dashboard", "transcode", { durationMs: "fast" }, "durationMs"],
  ["dashboard", "transcode", { frames: 0 }, "frames"],
  ["dashboard", "report", { failureChance: 2 }, "failureChance"],
  ["dashboard", "report", { sections: { a: 1 } }, "sections"],
  ["dashboard", "crawl", { durationMs: -5 }, "durationMs"],
  ["dashboard", "crawl", { name: { first: "x" } }, "name"],
  ["worker", "primes", { limit: 1e12 }, "limit"],
  ["worker", "primes", { limit: "big" }, "limit"],
  ["worker", "checksum", { rounds: 1e9 }, "rounds"],
  ["worker", "checksum", { failAt: 3 }, "failAt"],
  ["worker", "download", { durationMs: 1e9 }, "durationMs"],
  ["sw", "countdown", { steps: 1e9 }, "steps"],
  ["sw", "countdown", { stepMs: 1e9 }, "stepMs"],
  ["sw", "hold", { maxMs: 1e9 }, "maxMs"],
  ["sw", "flaky", { ms: -1 }, "ms"],
  ["sw", "flaky", { ms: "soon" }, "ms"],
];

for (const set of Object.keys(SETS)) {
  test(`${set}: bad inputs fail at once with an error naming the field`, async (t) => {
    const { manager, runs } = managerWith(t, set);
    const cases = BAD.filter(([s]) => s === set).map(([, targetId, inputs, field]) => ({
      targetId,
      inputs,
      field,
      id: manager.create({ targetId, inputs }).id,
    }));
    for (const { targetId, inputs, field, id } of cases) {
      const what = `${targetId} ${JSON.stringify(inputs)}`;
      const done = await within(manager.wait(id), 1000, what);
      assert.equal(done.status, "failed", what);
      assert.equal(done.error.code, "HANDLER_ERROR", what);
      assert.ok(["TypeError", "RangeError"].includes(done.error.name), `${what}: ${done.error.name}`);
      const subject = field === "" ? "inputs must be" : `inputs.${field} must be`;
      assert.ok(done.error.message.startsWith(subject), `${what}: "${done.error.message}" names ${subject}`);
      assert.doesNotMatch(done.error.message, /Cannot read properties/, what);
      assert.equal(done.progress, null, `${what}: no progress before the check`);
      await within(runs.get(id).settled, 100, `${what}: the handler`);
    }
  });
}

test("the error message states the bounds and the value received", async (t) => {
  const { manager } = managerWith(t, "demo");
  const { id } = manager.create({ targetId: "upload", inputs: { sizeMb: 1e9 } });
  const done = await within(manager.wait(id), 1000, "upload 1e9");
  assert.equal(done.error.name, "RangeError");
  assert.equal(done.error.message, "inputs.sizeMb must be a number between 0.1 and 100, got 1000000000");
  const typed = await within(
    manager.wait(manager.create({ targetId: "transcode", inputs: { frames: "9" } }).id),
    1000,
    "transcode frames: '9'",
  );
  assert.equal(typed.error.name, "TypeError");
  assert.equal(typed.error.message, 'inputs.frames must be a whole number between 1 and 2400, got "9"');
});

/** helpers.mjs's `until` for an async predicate. */
async function untilAsync(pred, what, ms) {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

// The reported defect: three uploads of 1e9 MB over `--serve` held every slot of concurrency 3.
test("--serve: three uploads of sizeMb 1e9 fail at once and free their slots", async () => {
  const manager = new ExecutionManager({ concurrency: 3 }); // as `npm run demo -- --serve`
  registerDemoTargets(manager);
  const served = await serve(manager, { port: 0, host: "127.0.0.1" });
  try {
    const api = `${served.url}/api/v1/executions`;
    const post = (body) =>
      fetch(api, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    for (let i = 1; i <= 3; i++) {
      const res = await post({ id: `huge-${i}`, targetId: "upload", inputs: { name: "big.iso", sizeMb: 1e9 } });
      assert.equal(res.status, 201);
    }
    for (let i = 1; i <= 3; i++) {
      let body;
      await untilAsync(
        async () => {
          body = await (await fetch(`${api}/huge-${i}`)).json();
          return body.status === "failed";
        },
        `huge-${i} to fail`,
        1000,
      );
      assert.equal(body.error.code, "HANDLER_ERROR");
      assert.match(body.error.message, /^inputs\.sizeMb must be a number between 0\.1 and 100/);
    }
    // The slots are free: a small upload runs and completes.
    assert.equal((await post({ id: "small", targetId: "upload", inputs: { name: "a.txt", sizeMb: 0.5 } })).status, 201);
    const small = await within(manager.wait("small"), 2000, "the small upload");
    assert.equal(small.status, "completed");
    assert.deepEqual(small.result, { url: "https://cdn.example.com/a.txt", bytes: 524_288 });
  } finally {
    await served.close();
    close(manager);
  }
});

// ── Missing fields take their documented defaults ─────────────────────────

/** The progress total each target reports first with no inputs (undefined: it reports none). */
const DEFAULT_TOTAL = {
  demo: { upload: 10, transcode: 120, report: 3 },
  dashboard: { upload: 16, transcode: 120, report: 3, crawl: null, sync: 100 },
  worker: { primes: 300_000, checksum: 500, download: 20 },
  sw: { countdown: 8, hold: undefined, flaky: 1 },
};

for (const set of Object.keys(SETS)) {
  test(`${set}: no inputs (absent, null or {}) run with the defaults`, async (t) => {
    const { manager } = managerWith(t, set);
    const ids = [];
    for (const { id: targetId } of SETS[set].targets) {
      for (const inputs of [undefined, null, {}]) {
        const request = inputs === undefined ? { targetId } : { targetId, inputs };
        ids.push([targetId, inputs, manager.create(request).id]);
      }
    }
    for (const [targetId, inputs, id] of ids) {
      const what = `${set} ${targetId} with inputs ${JSON.stringify(inputs)}`;
      const total = DEFAULT_TOTAL[set][targetId];
      if (total === undefined) {
        await sleep(100);
        assert.equal(manager.status(id).status, "running", what);
      } else {
        await until(() => manager.status(id).progress !== null, `${what}: a progress report`, 2000);
        const e = manager.status(id);
        // Only flaky fails by itself (after its default 500 ms), with its own message.
        if (e.status === "failed") assert.equal(e.error.message, "simulated failure", what);
        assert.equal(e.progress.total, total, what);
      }
      if (manager.status(id).status === "running") manager.cancel(id, "enough");
    }
  });
}

test("demo: the defaults run to completion", async (t) => {
  const { manager } = managerWith(t, "demo");
  const [upload, transcode, report] = ["upload", "transcode", "report"].map((targetId) =>
    manager.wait(manager.create({ targetId, inputs: {} }).id),
  );
  const done = await within(Promise.all([upload, transcode, report]), 4000, "the defaults");
  assert.deepEqual(
    done.map((e) => [e.status, e.result]),
    [
      ["completed", { url: "https://cdn.example.com/file.bin", bytes: 10 * 1_048_576 }],
      ["completed", { output: "video.webm" }],
      ["completed", { pages: 9 }],
    ],
  );
});

test("sw: hold fails once maxMs passed without a cancel", async (t) => {
  const { manager } = managerWith(t, "sw");
  const { id } = manager.create({ targetId: "hold", inputs: { maxMs: 50 } });
  const done = await within(manager.wait(id), 1000, "hold maxMs 50");
  assert.equal(done.status, "failed");
  assert.equal(done.error.message, "hold: not cancelled within 50 ms");
});

test("makeInputs clamps the dashboard's duration to the targets' bounds", () => {
  assert.equal(makeInputs("upload", { durationMs: 600_000, failureChance: 0 }).durationMs, MAX_RUN_MS);
  assert.equal(makeInputs("crawl", { durationMs: 1, failureChance: 0 }).durationMs, 100);
  assert.equal(makeInputs("report", { durationMs: 4000, failureChance: 0.5 }).durationMs, 4000);
});

// ── An aborted signal ends every target within a second ───────────────────

/** Inputs at the top of each target's bounds: without an abort, each would run for a while. */
const LONGEST = {
  demo: {
    upload: { sizeMb: 100 },
    transcode: { frames: 2400 },
    report: { sections: Array.from({ length: 50 }, (_, i) => `s${i}`) },
  },
  dashboard: {
    upload: { durationMs: MAX_RUN_MS, sizeMb: 1000 },
    transcode: { durationMs: MAX_RUN_MS, frames: 10_000 },
    report: { durationMs: MAX_RUN_MS, sections: Array.from({ length: 50 }, (_, i) => `s${i}`) },
    crawl: { durationMs: MAX_RUN_MS },
  },
  worker: {
    primes: { limit: 10_000_000 },
    checksum: { rounds: 20_000 },
    download: { durationMs: MAX_RUN_MS },
  },
  sw: { countdown: { steps: 100, stepMs: 600 }, hold: {}, flaky: { ms: MAX_RUN_MS } },
};

for (const set of Object.keys(SETS)) {
  test(`${set}: cancel ends every running target within 1 s, with no progress after it`, async (t) => {
    const { manager, runs } = managerWith(t, set);
    const started = SETS[set].targets.map(({ id: targetId }) => [
      targetId,
      manager.create({ targetId, inputs: LONGEST[set][targetId] }).id,
    ]);
    await until(() => started.every(([, id]) => runs.has(id)), "every handler called", 1000);
    await sleep(300); // let them work a little
    for (const [targetId, id] of started) {
      assert.equal(manager.status(id).status, "running", `${set} ${targetId} still running before the cancel`);
      const cancelledAt = performance.now();
      manager.cancel(id, "test cancel");
      const settledAt = await within(runs.get(id).settled, 1000, `${set} ${targetId} after cancel`);
      assert.ok(
        settledAt - cancelledAt < 1000,
        `${set} ${targetId} stopped ${settledAt - cancelledAt} ms after cancel`,
      );
    }
    await sleep(50);
    for (const [targetId, id] of started) {
      assert.equal(runs.get(id).late, 0, `${set} ${targetId}: progress reported after the abort`);
      assert.equal(manager.status(id).status, "cancelled");
    }
  });
}

test("dashboard: config.timeoutMs aborts a 60 s upload and its handler stops", async (t) => {
  const { manager, runs } = managerWith(t, "dashboard");
  const { id } = manager.create({
    targetId: "upload",
    inputs: { durationMs: MAX_RUN_MS, sizeMb: 100 },
    config: { timeoutMs: 200 },
  });
  const done = await within(manager.wait(id), 1500, "the timed-out upload");
  assert.equal(done.status, "failed");
  assert.equal(done.error.code, "TIMEOUT");
  await within(runs.get(id).settled, 1000, "the handler after its timeout");
  assert.equal(runs.get(id).late, 0);
});
