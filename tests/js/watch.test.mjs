// watch(id, { signal }): an async iterable of one execution's snapshots — the current one at
// once, then the latest after changes (coalesced while the consumer is busy), always the terminal
// one, then the end; NOT_FOUND on the first next() for an unknown id; break, return() and the
// signal stop it and leave no listener; free() ends it with INVALID_TRANSITION.
import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { ExecutionManager } from "execman";
import fc from "fast-check";
import { TERMINAL, checkExecutionShape, deferred, flush, rejectsExec, sleep, test, throwsExec } from "./helpers.mjs";

const listeners = (signal) => getEventListeners(signal, "abort").length;
const DONE = { value: undefined, done: true };

/** A tracked execution, started. */
function running(m, id = "j") {
  m.track({ targetId: "x", id });
  m.start(id);
  return id;
}

test("the first next() yields the current snapshot at once", async () => {
  const m = new ExecutionManager();
  running(m);
  m.reportProgress("j", 3, 10, "three");
  const it = m.watch("j");
  const first = await it.next();
  assert.equal(first.done, false);
  assert.deepEqual(first.value, m.status("j"));
  checkExecutionShape(first.value);
  assert.equal(first.value.progress.current, 3);
  await it.return();
});

test("changes made while the consumer is busy are coalesced: only the latest is yielded, then the terminal one, then the end", async () => {
  const m = new ExecutionManager();
  running(m);
  const it = m.watch("j");
  assert.equal((await it.next()).value.progress, null);
  for (let i = 1; i <= 100; i++) m.reportProgress("j", i, 100);
  const latest = await it.next();
  assert.equal(latest.value.progress.current, 100, "only the latest of 100 changes");
  m.reportProgress("j", 100, 100, "almost");
  m.complete("j", { ok: true });
  const end = await it.next();
  assert.equal(end.value.status, "completed", "the progress before it is coalesced into the terminal snapshot");
  assert.deepEqual(end.value.result, { ok: true });
  assert.deepEqual(await it.next(), DONE);
  assert.deepEqual(await it.next(), DONE);
});

test("a consumer waiting for the next change gets each change as it happens", async () => {
  const m = new ExecutionManager();
  m.track({ targetId: "x", id: "j" });
  const seen = [];
  const consumer = (async () => {
    for await (const e of m.watch("j")) seen.push(`${e.status}:${e.progress?.current ?? "-"}`);
  })();
  await flush();
  m.start("j");
  await flush();
  m.reportProgress("j", 1);
  await flush();
  m.reportProgress("j", 2);
  await flush();
  m.fail("j", "broken");
  await consumer;
  assert.deepEqual(seen, ["pending:-", "running:-", "running:1", "running:2", "failed:2"]);
});

test("the terminal snapshot is always yielded, even when the execution is removed or evicted before the consumer takes it", async () => {
  const m = new ExecutionManager({ maxFinished: 1 });
  running(m, "a");
  const it = m.watch("a");
  await it.next();
  m.complete("a", "kept");
  m.remove("a");
  assert.equal(m.status("a"), undefined);
  const end = await it.next();
  assert.equal(end.value.status, "completed");
  assert.equal(end.value.result, "kept");
  assert.deepEqual(await it.next(), DONE);

  running(m, "b");
  const jt = m.watch("b");
  await jt.next();
  m.cancel("b", "why");
  for (let i = 0; i < 3; i++) m.complete(m.start(m.track({ targetId: "x" }).id).id); // evicts b
  assert.equal(m.status("b"), undefined);
  const cancelled = await jt.next();
  assert.equal(cancelled.value.cancelReason, "why");
  assert.deepEqual(await jt.next(), DONE);
});

test("an execution already terminal: its snapshot once, then the end", async () => {
  const m = new ExecutionManager();
  m.track({ targetId: "x", id: "c" });
  m.cancel("c", "done before");
  const all = [];
  for await (const e of m.watch("c")) all.push(e);
  assert.deepEqual(all, [m.status("c")]);
});

test("handler-driven: the dashboard row is rendered from pending to completed, with the result", async () => {
  const m = new ExecutionManager();
  const go = deferred();
  m.register("upload", async (inputs, ctx) => {
    await go.promise;
    for (let i = 1; i <= 4; i++) {
      ctx.progress(i, 4, `chunk ${i}`);
      await sleep(2);
    }
    return { bytes: 4096 };
  });
  const { id } = m.create({ targetId: "upload" });
  const rows = [];
  const render = (e) => rows.push(`${e.status} ${e.progress ? `${e.progress.percentage}%` : ""}`.trim());
  const done = (async () => {
    for await (const e of m.watch(id)) render(e);
  })();
  await flush();
  go.resolve();
  await done;
  assert.equal(rows[0], "pending");
  assert.equal(rows.at(-1), "completed 100%");
  for (const r of rows.slice(1, -1)) assert.match(r, /^running/);
  assert.ok(rows.length >= 3);
  assert.equal(new Set(rows).size, rows.length, "no snapshot twice");
});

test("an unknown id rejects the first next() with NOT_FOUND, then the iterator is done; a malformed id with INVALID_ARGUMENT", async () => {
  const m = new ExecutionManager();
  const it = m.watch("nope");
  await rejectsExec(it.next(), "NOT_FOUND", "nope");
  assert.deepEqual(await it.next(), DONE);
  await rejectsExec(m.watch(42).next(), "NOT_FOUND");
  await rejectsExec(m.watch("\uD800").next(), "INVALID_ARGUMENT", "id");
  // for await throws it.
  await rejectsExec(
    (async () => {
      for await (const e of m.watch("missing")) assert.fail(`yielded ${e}`);
    })(),
    "NOT_FOUND",
  );
  // Nothing is looked up before the first next(): an id created in between is found.
  const later = m.watch("later");
  m.track({ targetId: "x", id: "later" });
  assert.equal((await later.next()).value.id, "later");
  await later.return();
});

test("break stops it: return() resolves done, later changes yield nothing, the signal's listener is gone", async () => {
  const m = new ExecutionManager();
  running(m);
  const c = new AbortController();
  let n = 0;
  const it = m.watch("j", { signal: c.signal });
  for await (const e of it) {
    n++;
    assert.equal(e.status, "running");
    assert.equal(listeners(c.signal), 1);
    break;
  }
  assert.equal(n, 1);
  assert.equal(listeners(c.signal), 0, "no listener left after break");
  m.reportProgress("j", 1);
  m.complete("j");
  assert.deepEqual(await it.next(), DONE);
  // return() before any next(): nothing is ever looked up.
  const idle = m.watch("whatever");
  assert.deepEqual(await idle.return(), DONE);
  assert.deepEqual(await idle.next(), DONE);
  // return() while a next() is pending: that next() resolves done.
  const p = running(m, "p");
  const jt = m.watch(p);
  await jt.next();
  const pending = jt.next();
  await jt.return();
  assert.deepEqual(await pending, DONE);
});

test("the signal stops it: a pending next() rejects with the reason, the execution goes on, no listener left", async () => {
  const m = new ExecutionManager();
  running(m);
  const c = new AbortController();
  const it = m.watch("j", { signal: c.signal });
  await it.next();
  const pending = it.next();
  const reason = new Error("page closed");
  c.abort(reason);
  await assert.rejects(pending, (err) => err === reason);
  assert.deepEqual(await it.next(), DONE);
  assert.equal(listeners(c.signal), 0);
  assert.equal(m.status("j").status, "running", "not cancelled");

  // Aborted while the consumer is busy with a change buffered: the next next() rejects.
  const d = new AbortController();
  const jt = m.watch("j", { signal: d.signal });
  await jt.next();
  m.reportProgress("j", 5);
  d.abort("stop");
  await assert.rejects(jt.next(), (err) => err === "stop");
  assert.deepEqual(await jt.next(), DONE);

  // Already aborted: the first next() rejects with its reason (after the id is found).
  const e = AbortSignal.abort("before");
  await assert.rejects(m.watch("j", { signal: e }).next(), (err) => err === "before");
  await rejectsExec(m.watch("nope", { signal: e }).next(), "NOT_FOUND");
  assert.equal(listeners(e), 0);
});

test("the signal's listener is removed when the watch ends at the terminal snapshot", async () => {
  const m = new ExecutionManager();
  running(m);
  const c = new AbortController();
  const seen = [];
  const consumer = (async () => {
    for await (const e of m.watch("j", { signal: c.signal })) seen.push(e.status);
  })();
  await flush();
  assert.equal(listeners(c.signal), 1);
  m.complete("j");
  await consumer;
  assert.deepEqual(seen, ["running", "completed"]);
  assert.equal(listeners(c.signal), 0);
  c.abort(); // nothing left to stop
});

test("malformed options throw INVALID_ARGUMENT at once, naming the field; after free() watch throws INVALID_TRANSITION", () => {
  const m = new ExecutionManager();
  running(m);
  for (const options of [5, "x", [], () => {}])
    throwsExec(m, () => m.watch("j", options), "INVALID_ARGUMENT", "options");
  for (const signal of [null, {}, "s", new AbortController()])
    throwsExec(m, () => m.watch("j", { signal }), "INVALID_ARGUMENT", "options.signal");
  m.free();
  throwsExec(null, () => m.watch("j"), "INVALID_TRANSITION");
});

test("free(): a pending next() rejects INVALID_TRANSITION, then done; an iterator not started rejects its first next()", async () => {
  const m = new ExecutionManager();
  running(m, "a");
  running(m, "b");
  running(m, "c");
  const c = new AbortController();
  const waiting = m.watch("a", { signal: c.signal });
  await waiting.next();
  const pending = waiting.next();
  const idle = m.watch("b");
  const ended = m.watch("c");
  await ended.next();
  m.complete("c", "before free");
  m.free();
  await rejectsExec(pending, "INVALID_TRANSITION");
  assert.deepEqual(await waiting.next(), DONE);
  assert.equal(listeners(c.signal), 0);
  await rejectsExec(idle.next(), "INVALID_TRANSITION");
  // The terminal snapshot came before free(): it is still yielded.
  assert.equal((await ended.next()).value.result, "before free");
  assert.deepEqual(await ended.next(), DONE);
});

test("snapshots are copies: two watches and a listener each get their own", async () => {
  const m = new ExecutionManager();
  running(m);
  const got = [];
  m.subscribe(({ execution }) => {
    execution.status = "mutated by a listener";
    got.push(execution);
  });
  const a = m.watch("j");
  const b = m.watch("j");
  await a.next();
  await b.next();
  m.reportProgress("j", 7);
  const [x, y] = [(await a.next()).value, (await b.next()).value];
  assert.equal(x.status, "running");
  assert.equal(y.status, "running");
  assert.notEqual(x, y);
  x.progress.current = -1;
  assert.equal(y.progress.current, 7);
  assert.equal(m.status("j").progress.current, 7);
  await a.return();
  await b.return();
});

test("two next() calls at once: the first gets the current snapshot, the second the next change", async () => {
  const m = new ExecutionManager();
  running(m);
  const it = m.watch("j");
  const p1 = it.next();
  const p2 = it.next();
  m.reportProgress("j", 1);
  assert.equal((await p1).value.progress, null);
  assert.equal((await p2).value.progress.current, 1);
  await it.return();
});

test("started inside a listener while older events are still queued: never an older snapshot after a newer one", async () => {
  const m = new ExecutionManager();
  const seen = [];
  let watcher;
  m.subscribe((e) => {
    if (e.execution.id !== "trigger" || e.type !== "created") return;
    // Changes made in a listener are delivered after it: their events are queued behind this one.
    m.track({ targetId: "x", id: "w" });
    m.start("w");
    m.reportProgress("w", 1);
    m.reportProgress("w", 2);
  });
  m.subscribe((e) => {
    if (e.execution.id !== "trigger" || e.type !== "created") return;
    watcher = (async () => {
      for await (const x of m.watch("w")) seen.push(x.progress?.current ?? 0);
    })();
  });
  m.track({ targetId: "x", id: "trigger" });
  await flush();
  m.reportProgress("w", 3);
  await flush();
  m.complete("w");
  await watcher;
  assert.deepEqual(seen, [2, 3, 3]);
});

test(
  "property: yielded snapshots are the current one first, then states in order (no going back, none twice), the terminal one last",
  async () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant("progress"), current: fc.nat(1000) }),
      fc.record({ kind: fc.constant("pause"), ms: fc.integer({ min: 0, max: 4 }) }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(op, { maxLength: 25 }),
        fc.array(fc.integer({ min: 0, max: 6 }), { maxLength: 30 }),
        fc.constantFrom("complete", "fail", "cancel"),
        fc.boolean(),
        async (ops, busy, end, startFirst) => {
          const m = new ExecutionManager();
          m.track({ targetId: "x", id: "p" });
          if (startFirst) m.start("p");
          const history = [JSON.stringify(m.status("p"))];
          m.subscribe(({ type, execution }) => {
            if (type !== "removed") history.push(JSON.stringify(execution));
          });
          const yielded = [];
          const first = JSON.stringify(m.status("p"));
          const consumer = (async () => {
            let i = 0;
            for await (const x of m.watch("p")) {
              yielded.push(JSON.stringify(x));
              const ms = busy[i++ % Math.max(1, busy.length)] ?? 0;
              if (ms > 0) await sleep(ms);
            }
          })();
          if (!startFirst) {
            await Promise.resolve();
            m.start("p");
          }
          for (const o of ops) {
            if (o.kind === "progress") m.reportProgress("p", o.current);
            else if (o.ms === 0) await Promise.resolve();
            else await sleep(o.ms);
          }
          if (end === "complete") m.complete("p", "r");
          else if (end === "fail") m.fail("p", "f");
          else m.cancel("p", "c");
          await consumer;
          assert.equal(yielded[0], first, "the first is the current snapshot");
          let at = 0;
          for (const y of yielded.slice(1)) {
            const i = history.indexOf(y, at + 1);
            assert.ok(i > at, `a snapshot out of order or twice: ${y}`);
            at = i;
          }
          const last = JSON.parse(yielded.at(-1));
          assert.ok(TERMINAL.has(last.status));
          assert.equal(yielded.at(-1), JSON.stringify(m.status("p")));
          m.free();
        },
      ),
      { numRuns: 60 },
    );
  },
  { timeout: 60_000 },
);

test("many watches of many executions end with their executions and leave the manager clean", async () => {
  const m = new ExecutionManager();
  const ids = [];
  for (let i = 0; i < 200; i++) ids.push(running(m, `e${i}`));
  const c = new AbortController();
  const ends = ids.map(async (id) => {
    let last;
    for await (const e of m.watch(id, { signal: c.signal })) last = e;
    return last;
  });
  await flush();
  assert.equal(listeners(c.signal), 1, "one listener on the signal for every watch");
  for (const id of ids) m.reportProgress(id, 1);
  for (const id of ids) m.complete(id, id);
  const lasts = await Promise.all(ends);
  assert.deepEqual(
    lasts.map((e) => e.result),
    ids,
  );
  assert.equal(listeners(c.signal), 0);
});
