// subscribe(listener, { id, targetId, type, throttleMs }): filters (every given field must match;
// `type` is the execution's type, one or an array) and the per-execution progress throttle (the
// first at once, then at most one per window with the latest snapshot; a held one goes out right
// before that execution's next other event; created/status/removed never held or dropped). Without
// options, v1 exactly. Times are measured with margins; nothing asserts a speed.
import assert from "node:assert/strict";
import { ExecutionManager } from "execman";
import fc from "fast-check";
import { sleep, test, throwsExec, until } from "./helpers.mjs";

/** Records `type:id:status:progress` of every event a listener gets, and when. */
function recorder() {
  const events = [];
  const fn = (e) => events.push({ e, at: performance.now() });
  const lines = () =>
    events.map(({ e }) => `${e.type}:${e.execution.id}:${e.execution.status}:${e.execution.progress?.current ?? "-"}`);
  return { fn, events, lines };
}

/** A tracked execution of `targetId`/`type` taken through created, status, progress ×2, status, removed. */
function lifecycle(m, id, targetId = "x", type = undefined) {
  m.track({ targetId, id, type });
  m.start(id);
  m.reportProgress(id, 1);
  m.reportProgress(id, 2);
  m.complete(id);
  m.remove(id);
}

// ---- filters ------------------------------------------------------------------------------------

test("filters: id, targetId, type (one or an array), all together; without options or with {} every event", () => {
  const m = new ExecutionManager();
  const all = recorder();
  const none = recorder();
  const empty = recorder();
  const byId = recorder();
  const byTarget = recorder();
  const byType = recorder();
  const byTypes = recorder();
  const noTypes = recorder();
  const both = recorder();
  m.subscribe(all.fn);
  m.subscribe(none.fn, undefined);
  m.subscribe(empty.fn, {});
  m.subscribe(byId.fn, { id: "b" });
  m.subscribe(byTarget.fn, { targetId: "upload" });
  m.subscribe(byType.fn, { type: "batch" });
  m.subscribe(byTypes.fn, { type: ["batch", "job"] });
  m.subscribe(noTypes.fn, { type: [] });
  m.subscribe(both.fn, { targetId: "upload", type: "job" });
  lifecycle(m, "a", "upload", "batch");
  lifecycle(m, "b", "upload", "job");
  lifecycle(m, "c", "export", "job");
  lifecycle(m, "d", "export");
  const ids = (r) => [...new Set(r.events.map(({ e }) => e.execution.id))];
  assert.equal(all.events.length, 4 * 6);
  assert.deepEqual(none.lines(), all.lines(), "undefined options: v1");
  assert.deepEqual(empty.lines(), all.lines(), "{}: v1");
  assert.deepEqual(ids(byId), ["b"]);
  assert.deepEqual(ids(byTarget), ["a", "b"]);
  assert.deepEqual(ids(byType), ["a"]);
  assert.deepEqual(ids(byTypes), ["a", "b", "c"]);
  assert.deepEqual(ids(noTypes), [], "an empty array matches nothing");
  assert.deepEqual(ids(both), ["b"]);
  for (const r of [byId, byTarget, byType, byTypes, both]) {
    const kept = new Set(ids(r));
    assert.deepEqual(
      r.lines(),
      all.lines().filter((l) => kept.has(l.split(":")[1])),
      "every event of a matching execution, in order",
    );
  }
});

test("property: a filtered listener gets exactly the events of the matching executions, in order", () => {
  const targets = ["t1", "t2", "t3"];
  const types = ["a", "b", "c"];
  const filter = fc.record(
    {
      id: fc.constantFrom("e0", "e1", "e2", "e9"),
      targetId: fc.constantFrom(...targets),
      type: fc.oneof(fc.constantFrom(...types), fc.subarray(types)),
    },
    { requiredKeys: [] },
  );
  const exec = fc.record({ targetId: fc.constantFrom(...targets), type: fc.constantFrom(...types) });
  fc.assert(
    fc.property(
      fc.array(exec, { minLength: 1, maxLength: 6 }),
      fc.array(filter, { maxLength: 4 }),
      (execs, filters) => {
        const m = new ExecutionManager();
        const all = recorder();
        m.subscribe(all.fn);
        const recs = filters.map((f) => {
          const r = recorder();
          m.subscribe(r.fn, f);
          return r;
        });
        for (const [i, x] of execs.entries()) lifecycle(m, `e${i}`, x.targetId, x.type);
        const byId = new Map(execs.map((x, i) => [`e${i}`, x]));
        filters.forEach((f, k) => {
          const match = (id) => {
            const x = byId.get(id);
            if (f.id !== undefined && f.id !== id) return false;
            if (f.targetId !== undefined && f.targetId !== x.targetId) return false;
            if (f.type !== undefined && ![f.type].flat().includes(x.type)) return false;
            return true;
          };
          assert.deepEqual(
            recs[k].lines(),
            all.lines().filter((l) => match(l.split(":")[1])),
          );
        });
        m.free();
      },
    ),
    { numRuns: 200 },
  );
});

test("filtered listeners get the same event objects an unfiltered one gets; a removed execution's events still match", () => {
  const m = new ExecutionManager({ maxFinished: 1 });
  const all = recorder();
  const mine = recorder();
  m.subscribe(all.fn);
  m.subscribe(mine.fn, { targetId: "x", type: "task" });
  m.track({ targetId: "x", id: "old" });
  m.start("old");
  m.complete("old");
  lifecycle(m, "new"); // evicts "old" on completion
  assert.ok(mine.lines().includes("removed:old:completed:-"));
  for (const { e } of mine.events) assert.ok(all.events.some((x) => x.e === e));
});

test("malformed options: INVALID_ARGUMENT naming the field, and no listener is added", () => {
  const m = new ExecutionManager();
  const calls = [];
  const fn = () => calls.push(1);
  const cases = [
    [5, "options"],
    ["x", "options"],
    [[], "options"],
    [new (class O {})(), "options"],
    [{ id: 5 }, "options.id"],
    [{ id: null }, "options.id"],
    [{ id: "\uD800" }, "options.id"],
    [{ targetId: {} }, "options.targetId"],
    [{ type: 1 }, "options.type"],
    [{ type: ["a", 1] }, "options.type"],
    [{ type: null }, "options.type"],
    [{ throttleMs: -1 }, "options.throttleMs"],
    [{ throttleMs: Number.NaN }, "options.throttleMs"],
    [{ throttleMs: Number.POSITIVE_INFINITY }, "options.throttleMs"],
    [{ throttleMs: "10" }, "options.throttleMs"],
    [{ throttleMs: null }, "options.throttleMs"],
    [{ throttleMs: 10n }, "options.throttleMs"],
    [
      {
        get targetId() {
          throw new Error("getter");
        },
      },
      "options.targetId",
    ],
  ];
  for (const [options, field] of cases) throwsExec(m, () => m.subscribe(fn, options), "INVALID_ARGUMENT", field);
  // The listener is checked first.
  throwsExec(m, () => m.subscribe(5, { throttleMs: -1 }), "INVALID_ARGUMENT", "listener");
  lifecycle(m, "a");
  assert.deepEqual(calls, [], "no failed subscribe left a listener");
  // null options are none; unknown fields are ignored; throttleMs 0 is no throttle.
  const ok = [recorder(), recorder(), recorder()];
  m.subscribe(ok[0].fn, null);
  m.subscribe(ok[1].fn, { other: 1 });
  m.subscribe(ok[2].fn, { throttleMs: 0 });
  lifecycle(m, "b");
  for (const r of ok) assert.equal(r.events.length, 6);
});

// ---- throttle -----------------------------------------------------------------------------------

test("throttle: the first progress goes at once, later ones in the window are held, the latest goes out when it ends", async () => {
  const m = new ExecutionManager();
  const T = 200;
  const r = recorder();
  m.track({ targetId: "x", id: "j" });
  m.start("j");
  m.subscribe(r.fn, { throttleMs: T });
  const t0 = performance.now();
  m.reportProgress("j", 1);
  assert.deepEqual(r.lines(), ["progress:j:running:1"], "the first at once, synchronously");
  for (let i = 2; i <= 50; i++) m.reportProgress("j", i);
  assert.equal(r.events.length, 1, "the rest of the window is held");
  await until(() => r.events.length === 2, "the held progress after the window", 5000);
  assert.deepEqual(r.lines()[1], "progress:j:running:50", "only the latest");
  assert.ok(r.events[1].at - t0 >= T - 2, `not before the window ended (${(r.events[1].at - t0).toFixed(1)} ms)`);
  await sleep(T + 50);
  assert.equal(r.events.length, 2, "nothing more: nothing was held since");
  // A report after a quiet window goes out at once again.
  m.reportProgress("j", 51);
  assert.equal(r.events.length, 3);
});

test("throttle: a held progress goes out right before the execution's next other event; status events are never held", () => {
  const m = new ExecutionManager();
  const r = recorder();
  m.subscribe(r.fn, { throttleMs: 60_000 });
  m.track({ targetId: "x", id: "j" });
  m.start("j");
  m.reportProgress("j", 1);
  m.reportProgress("j", 2);
  m.reportProgress("j", 3);
  m.complete("j", "ok");
  m.remove("j");
  assert.deepEqual(r.lines(), [
    "created:j:pending:-",
    "status:j:running:-",
    "progress:j:running:1",
    "progress:j:running:3",
    "status:j:completed:3",
    "removed:j:completed:3",
  ]);
});

test("throttle: per execution — each execution has its own window; another execution's events release nothing", async () => {
  const m = new ExecutionManager();
  const r = recorder();
  m.subscribe(r.fn, { throttleMs: 60_000 });
  for (const id of ["a", "b"]) {
    m.track({ targetId: "x", id });
    m.start(id);
  }
  r.events.length = 0;
  m.reportProgress("a", 1);
  m.reportProgress("b", 1);
  m.reportProgress("a", 2);
  m.reportProgress("b", 2);
  m.complete("b");
  assert.deepEqual(r.lines(), [
    "progress:a:running:1",
    "progress:b:running:1",
    "progress:b:running:2",
    "status:b:completed:2",
  ]);
  m.cancel("a", "stop");
  assert.deepEqual(r.lines().slice(4), ["progress:a:running:2", "status:a:cancelled:2"]);
});

test("throttle: unthrottled listeners beside it get every event; a throttled listener that unsubscribes gets nothing more", async () => {
  const m = new ExecutionManager();
  const all = recorder();
  const slow = recorder();
  let off;
  m.subscribe(all.fn);
  off = m.subscribe(slow.fn, { throttleMs: 30 });
  m.track({ targetId: "x", id: "j" });
  m.start("j");
  for (let i = 1; i <= 10; i++) m.reportProgress("j", i);
  assert.equal(all.events.filter(({ e }) => e.type === "progress").length, 10);
  off();
  const n = slow.events.length;
  await sleep(80);
  assert.equal(slow.events.length, n, "the held one is dropped with the subscription");
  off = null;
});

test("throttle: a listener may call the manager from a flush; its changes are delivered after", async () => {
  const m = new ExecutionManager();
  const r = recorder();
  m.track({ targetId: "x", id: "j" });
  m.start("j");
  m.subscribe(
    (e) => {
      r.fn(e);
      if (e.type === "progress" && e.execution.progress.current === 3) m.complete("j", "from the flush");
    },
    { throttleMs: 20 },
  );
  m.reportProgress("j", 1);
  m.reportProgress("j", 2);
  m.reportProgress("j", 3);
  await until(() => r.events.length === 3, "the flush and the completion");
  assert.deepEqual(r.lines(), ["progress:j:running:1", "progress:j:running:3", "status:j:completed:3"]);
  assert.equal(m.status("j").result, "from the flush");
});

test("throttle: one timer for every held progress, not one per execution", async () => {
  const timers = () => process.getActiveResourcesInfo().filter((x) => x === "Timeout").length;
  await sleep(5);
  const before = timers();
  const m = new ExecutionManager();
  const r = recorder();
  m.subscribe(r.fn, { throttleMs: 100 });
  m.subscribe(() => {}, { throttleMs: 150 });
  const ids = [];
  for (let i = 0; i < 1000; i++) {
    const { id } = m.track({ targetId: "x" });
    m.start(id);
    ids.push(id);
  }
  r.events.length = 0;
  for (const id of ids) {
    m.reportProgress(id, 1);
    m.reportProgress(id, 2); // held
  }
  assert.equal(r.events.length, 1000);
  assert.ok(timers() - before <= 1, `${timers() - before} timers for 2,000 held progress events`);
  await until(() => r.events.length === 2000, "every held progress", 5000);
  assert.ok(
    r.events.slice(1000).every(({ e }) => e.execution.progress.current === 2),
    "the latest of each",
  );
  await sleep(200);
  assert.equal(timers(), before, "no timer once nothing is held");
  m.free();
});

test("free() with progress held: no delivery afterwards, no timer left", async () => {
  const m = new ExecutionManager();
  let calls = 0;
  m.subscribe(
    () => {
      calls++;
    },
    { throttleMs: 20 },
  );
  m.track({ targetId: "x", id: "j" });
  m.start("j");
  m.reportProgress("j", 1);
  m.reportProgress("j", 2);
  const n = calls;
  m.free();
  await sleep(60);
  assert.equal(calls, n, "a freed manager delivers nothing");
});

/**
 * Checks the throttle's rules on what an unthrottled listener (`all`) and a throttled one
 * (`slow`, throttle `T`) received from the same changes.
 */
function checkThrottle(all, slow, T) {
  const full = all.events.map(({ e }) => e);
  const got = slow.events.map(({ e }) => e);
  // 1. Per execution, a subsequence of the full stream (the very same event objects), in order.
  //    (Across executions a held progress goes out later than others' events: not in order.)
  for (const id of new Set(full.map((e) => e.execution.id))) {
    const mine = full.filter((e) => e.execution.id === id);
    let at = -1;
    for (const e of got.filter((x) => x.execution.id === id)) {
      const i = mine.indexOf(e, at + 1);
      assert.ok(i > at, `event ${e.type} of ${id} out of order or not a real event`);
      at = i;
    }
  }
  // 2. Every created/status/removed event is there, in the order they happened.
  const others = (list) => list.filter((e) => e.type !== "progress");
  assert.deepEqual(others(got), others(full));
  // 3. The last progress of an execution before each of its other events, and its last of all,
  //    is delivered before that event (or at all).
  const ids = new Set(full.map((e) => e.execution.id));
  for (const id of ids) {
    const mine = full.filter((e) => e.execution.id === id);
    const gotMine = got.filter((e) => e.execution.id === id);
    for (let i = 0; i < mine.length; i++) {
      const next = mine[i + 1];
      if (mine[i].type !== "progress" || (next !== undefined && next.type === "progress")) continue;
      // mine[i] is the last progress before `next` (or the last of all).
      const p = gotMine.indexOf(mine[i]);
      assert.ok(p >= 0, `the last progress of ${id} before ${next?.type ?? "the end"} was lost`);
      if (next !== undefined) assert.equal(gotMine[p + 1], next, "right before the next other event");
    }
    // 4. At most one progress per window: two progress events delivered one after the other
    //    (with no other event of the execution between) are a window apart, unless the second
    //    went out early, right before an other event.
    const times = slow.events.filter(({ e }) => e.execution.id === id);
    for (let i = 1; i < times.length; i++) {
      const [a, b] = [times[i - 1], times[i]];
      const after = times[i + 1];
      if (a.e.type !== "progress" || b.e.type !== "progress") continue;
      if (after !== undefined && after.e.type !== "progress" && after.at - b.at < 1) continue; // released early
      assert.ok(b.at - a.at >= T - 3, `two progress events of ${id} ${(b.at - a.at).toFixed(1)} ms apart, window ${T}`);
    }
  }
}

test(
  "property: the last progress is never lost, order is kept, nothing but progress is held, one progress per window",
  async () => {
    const step = fc.oneof(
      { weight: 6, arbitrary: fc.record({ op: fc.constant("report"), who: fc.nat(2), current: fc.nat(100) }) },
      { weight: 3, arbitrary: fc.record({ op: fc.constant("pause"), ms: fc.integer({ min: 0, max: 25 }) }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constantFrom("end", "restart"), who: fc.nat(2) }) },
    );
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 40 }), fc.array(step, { maxLength: 30 }), async (T, steps) => {
        const m = new ExecutionManager();
        const all = recorder();
        const slow = recorder();
        m.subscribe(all.fn);
        m.subscribe(slow.fn, { throttleMs: T });
        const live = [];
        let n = 0;
        const fresh = (k) => {
          live[k] = `e${n++}`;
          m.track({ targetId: "x", id: live[k] });
          m.start(live[k]);
        };
        for (let k = 0; k < 3; k++) fresh(k);
        for (const s of steps) {
          if (s.op === "report") m.reportProgress(live[s.who], s.current);
          else if (s.op === "pause") await sleep(s.ms);
          else {
            const id = live[s.who];
            if (s.op === "end") m.complete(id);
            else m.cancel(id, "restart");
            m.remove(id);
            fresh(s.who);
          }
        }
        await sleep(T + 30); // every held progress goes out within its window (plus a margin)
        checkThrottle(all, slow, T);
        m.free();
      }),
      { numRuns: 40 },
    );
  },
  { timeout: 120_000 },
);

test("no throttle timer outlives what it held: a Node process exits once the held progress went out or its listener left", async () => {
  const { spawnSync } = await import("node:child_process");
  const script = `
    const { ExecutionManager } = require("execman");
    const m = new ExecutionManager();
    const seen = [];
    const off = m.subscribe((e) => seen.push(e.type), { throttleMs: 600000 });
    const a = m.track({ targetId: "t" });
    m.start(a.id);
    m.reportProgress(a.id, 1);
    m.reportProgress(a.id, 2); // held for ten minutes
    m.complete(a.id); // the held one goes out right before the status event
    const b = m.track({ targetId: "t" });
    m.start(b.id);
    m.reportProgress(b.id, 1);
    m.reportProgress(b.id, 2); // held, then dropped with its listener
    off();
    console.log(seen.join(","));
  `;
  const t0 = Date.now();
  const res = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", timeout: 60_000 });
  assert.equal(res.status, 0, res.stderr);
  assert.equal(res.stdout.trim(), "created,status,progress,progress,status,created,status,progress");
  // A timer left armed would keep the process alive for ten minutes (the spawn's 60 s bound kills it first).
  assert.ok(Date.now() - t0 < 60_000);
});
