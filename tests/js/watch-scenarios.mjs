// A representative subset of the rules of outside signals, watch() and filtered, throttled
// subscribe(), written with no Node API so that the same file runs in Node
// (tests/js/scenarios.test.mjs) and in headless Chromium against the web build
// (tests/browser/watch.test.mjs). `runWatchScenarios` returns a plain JSON report
// `{ checks, failures, ms }`; the callers assert on it. `listenerCount(signal)` counts the abort
// listeners on a signal (node:events' getEventListeners in Node, a patched EventTarget in the page).

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const tick = () => sleep(0);

/**
 * @param {any} ExecutionManager
 * @param {{ listenerCount: (signal: AbortSignal) => number }} options
 */
export async function runWatchScenarios(ExecutionManager, { listenerCount }) {
  const started = Date.now();
  const report = { checks: 0, failures: [], ms: 0 };
  let scenario = "";
  const check = (ok, what) => {
    report.checks++;
    if (!ok) report.failures.push(`${scenario}: ${what}`);
  };
  const codeOf = (fn) => {
    try {
      fn();
      return "no error";
    } catch (e) {
      return e?.name === "ExecutionError" ? `${e.code} ${e.message}` : `not an ExecutionError: ${e}`;
    }
  };
  const until = async (pred, ms = 3000) => {
    const end = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > end) return false;
      await sleep(2);
    }
    return true;
  };

  // ---- signal on create --------------------------------------------------------------------------
  scenario = "abort while pending and running";
  {
    const m = new ExecutionManager({ concurrency: 1 });
    const ran = [];
    let inner;
    m.register("hang", (inputs, ctx) => {
      ran.push(ctx.id);
      inner = ctx.signal;
      return new Promise(() => {});
    });
    const c = new AbortController();
    m.create({ targetId: "hang", id: "run", signal: c.signal });
    m.create({ targetId: "hang", id: "queued", signal: c.signal });
    await tick();
    check(m.status("run").status === "running" && m.status("queued").status === "pending", "one runs, one waits");
    check(listenerCount(c.signal) === 1, `one listener for both (${listenerCount(c.signal)})`);
    c.abort(new Error("left the page"));
    check(inner.aborted === true, "the handler's signal aborted before abort() returned");
    for (const id of ["run", "queued"]) {
      const s = m.status(id);
      check(s.status === "cancelled" && s.cancelReason === "left the page", `${id}: ${s.status} ${s.cancelReason}`);
    }
    check(listenerCount(c.signal) === 0, "no listener once terminal");
    await sleep(10);
    check(ran.length === 1 && ran[0] === "run", `the queued one never ran (${ran})`);
    m.free();
  }

  scenario = "already aborted at create";
  {
    const m = new ExecutionManager();
    let calls = 0;
    m.register("t", () => calls++);
    const events = [];
    m.subscribe((e) => events.push(`${e.type}:${e.execution.status}`));
    const signal = AbortSignal.abort("too late");
    const x = m.create({ targetId: "t", signal });
    check(x.status === "cancelled" && x.cancelReason === "too late", `returned ${x.status} ${x.cancelReason}`);
    check(events.join() === "created:pending,status:cancelled", `events ${events}`);
    await sleep(10);
    check(calls === 0, "no handler ran");
    check(listenerCount(signal) === 0, "an aborted signal is not listened to");
    m.free();
  }

  scenario = "one signal, 10,000 executions";
  {
    const m = new ExecutionManager();
    const c = new AbortController();
    let most = 0;
    for (let round = 0; round < 10; round++) {
      const ids = [];
      for (let i = 0; i < 1000; i++) ids.push(m.track({ targetId: "x", signal: c.signal }).id);
      most = Math.max(most, listenerCount(c.signal));
      for (const id of ids) m.complete(m.start(id).id);
      check(listenerCount(c.signal) === 0, `round ${round}: no listener left`);
    }
    check(most === 1, `at most one listener (${most})`);
    m.free();
  }

  scenario = "invalid signals";
  {
    const m = new ExecutionManager();
    for (const signal of [null, {}, new AbortController(), Object.create(AbortSignal.prototype)]) {
      const err = codeOf(() => m.track({ targetId: "x", signal }));
      check(err.startsWith("INVALID_ARGUMENT") && err.includes("request.signal"), err);
    }
    check(m.counts().total === 0, "nothing created");
    m.free();
  }

  // ---- wait(id, { signal }) ------------------------------------------------------------------------
  scenario = "wait with a signal";
  {
    const m = new ExecutionManager();
    m.track({ targetId: "x", id: "j" });
    const c = new AbortController();
    const p = m.wait("j", { signal: c.signal }).then(
      () => "resolved",
      (e) => e,
    );
    const reason = new Error("gave up");
    c.abort(reason);
    check((await p) === reason, "rejects with the signal's reason");
    check(m.status("j").status === "pending", "the execution goes on");
    check(listenerCount(c.signal) === 0, "no listener once the wait settled");
    m.free();
  }

  // ---- watch ---------------------------------------------------------------------------------------
  scenario = "watch: current, coalesced, terminal, end";
  {
    const m = new ExecutionManager();
    m.track({ targetId: "x", id: "j" });
    m.start("j");
    const it = m.watch("j");
    const first = await it.next();
    check(first.value.status === "running" && first.value.progress === null, "the current snapshot first");
    for (let i = 1; i <= 50; i++) m.reportProgress("j", i, 50);
    const latest = await it.next();
    check(latest.value.progress.current === 50, `coalesced to the latest (${latest.value.progress?.current})`);
    m.complete("j", "ok");
    const end = await it.next();
    check(end.value.status === "completed" && end.value.result === "ok", "the terminal snapshot");
    check((await it.next()).done === true, "then the end");
    m.free();
  }

  scenario = "watch: for await renders a row";
  {
    const m = new ExecutionManager();
    m.register("work", async (inputs, ctx) => {
      for (let i = 1; i <= 3; i++) {
        await sleep(2);
        ctx.progress(i, 3);
      }
      return "done";
    });
    const { id } = m.create({ targetId: "work" });
    const rows = [];
    for await (const e of m.watch(id)) rows.push(e.status);
    check(rows[0] === "pending" && rows.at(-1) === "completed", `rows ${rows}`);
    m.free();
  }

  scenario = "watch: unknown id, break, signal, free";
  {
    const m = new ExecutionManager();
    const nf = await m
      .watch("nope")
      .next()
      .then(
        () => "resolved",
        (e) => e.code,
      );
    check(nf === "NOT_FOUND", `unknown id: ${nf}`);
    m.track({ targetId: "x", id: "j" });
    const c = new AbortController();
    for await (const e of m.watch("j", { signal: c.signal })) {
      check(e.id === "j" && listenerCount(c.signal) === 1, "one listener while watching");
      break;
    }
    check(listenerCount(c.signal) === 0, "break leaves no listener");
    const d = new AbortController();
    const it = m.watch("j", { signal: d.signal });
    await it.next();
    const pending = it.next().then(
      () => "resolved",
      (e) => e,
    );
    d.abort("stop");
    check((await pending) === "stop", "the signal rejects the pending next() with its reason");
    check(listenerCount(d.signal) === 0 && m.status("j").status === "pending", "no listener, not cancelled");
    const last = m.watch("j");
    await last.next();
    const hanging = last.next().then(
      () => "resolved",
      (e) => e.code,
    );
    m.free();
    check((await hanging) === "INVALID_TRANSITION", "free() ends it with INVALID_TRANSITION");
  }

  // ---- subscribe options -----------------------------------------------------------------------------
  scenario = "filters";
  {
    const m = new ExecutionManager();
    const got = { id: [], target: [], types: [] };
    m.subscribe((e) => got.id.push(e.execution.id), { id: "b" });
    m.subscribe((e) => got.target.push(e.execution.id), { targetId: "upload" });
    m.subscribe((e) => got.types.push(e.execution.id), { type: ["batch", "job"] });
    m.track({ targetId: "upload", id: "a", type: "batch" });
    m.track({ targetId: "export", id: "b", type: "job" });
    m.track({ targetId: "export", id: "c" });
    check(got.id.join() === "b", `id: ${got.id}`);
    check(got.target.join() === "a", `targetId: ${got.target}`);
    check(got.types.join() === "a,b", `type: ${got.types}`);
    const bad = codeOf(() => m.subscribe(() => {}, { throttleMs: -1 }));
    check(bad.startsWith("INVALID_ARGUMENT") && bad.includes("options.throttleMs"), bad);
    m.free();
  }

  scenario = "throttle";
  {
    const m = new ExecutionManager();
    const T = 100;
    const got = [];
    m.track({ targetId: "x", id: "j" });
    m.start("j");
    m.subscribe((e) => got.push(`${e.type}:${e.execution.progress?.current ?? "-"}`), { throttleMs: T });
    const t0 = performance.now();
    m.reportProgress("j", 1);
    check(got.join() === "progress:1", "the first at once");
    for (let i = 2; i <= 20; i++) m.reportProgress("j", i);
    check(got.length === 1, "the rest held");
    const flushed = await until(() => got.length === 2);
    const waited = performance.now() - t0;
    check(flushed && got[1] === "progress:20", `the latest after the window (${got})`);
    check(waited >= T - 2, `not before the window ended (${waited.toFixed(1)} ms)`);
    m.reportProgress("j", 21);
    m.reportProgress("j", 22); // held
    m.complete("j");
    check(got.slice(2).join() === "progress:22,status:22", `held one right before the status: ${got.slice(2)}`);
    m.free();
  }

  report.ms = Date.now() - started;
  return report;
}
