// Durable managers against the built package: ExecutionManager.open, flush, close, memoryStore and
// fileStore. Restore of every field, the restart rules, STORE_ERROR (damage, a newer version, a
// second open, a real failed write), torn tails, compaction bounds, `new` managers.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ExecutionManager, fileStore, memoryStore } from "execman";
import { checkError, deferred, healthy, rejectsExec, sleep, test, throwsExec, until } from "../helpers.mjs";

const DIR = path.dirname(fileURLToPath(import.meta.url));

function tempDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), "execman-durable-"));
}

/** Every execution of a manager, in creation order. */
function all(m) {
  const out = [];
  let page = m.list({ order: "asc", pageSize: 1000 });
  for (;;) {
    out.push(...page.items);
    if (!page.hasNext) return out;
    page = m.list({ order: "asc", pageSize: 1000, cursor: page.nextCursor });
  }
}

/** Fills a manager with executions in every state and shape; returns the ids by what they are. */
async function populate(m) {
  let release;
  const hold = new Promise((resolve) => {
    release = resolve;
  });
  m.register("ok", async (inputs, ctx) => {
    ctx.progress(2, 4, "half");
    return { echo: inputs, attempt: ctx.attempt };
  });
  m.register("bad", () => {
    const e = new TypeError("bad input é\u0000");
    throw e;
  });
  m.register("flaky", () => {
    throw new Error("try again");
  });
  m.register("held", () => hold, { type: "held-type" });
  const ids = {
    completed: m.create({
      targetId: "ok",
      id: "done-1",
      inputs: { nested: [1, JSON.parse('{"__proto__":"x","é":"ü"}')], n: null },
      config: { timeoutMs: 60000, extra: true },
      type: "custom",
      priority: -3,
    }).id,
    failed: m.create({ targetId: "bad", id: "failed-1", inputs: "text" }).id,
    retrying: m.create({
      targetId: "flaky",
      id: "retry-1",
      retry: { attempts: 4, backoff: { type: "exponential", delayMs: 60000, maxDelayMs: 120000, jitter: 0 } },
    }).id,
    cancelledPending: m.create({ targetId: "ok", id: "cp", delayMs: 60000 }).id,
    delayed: m.create({ targetId: "ok", id: "later", priority: 7, runAt: Date.now() + 3_600_000 }).id,
    running: m.create({ targetId: "held", id: "held-1", inputs: [1, 2, 3] }).id,
    trackedPending: m.track({ targetId: "remote", id: "tp", inputs: { a: 1 } }).id,
    trackedRunning: m.track({ targetId: "remote", id: "tr", config: { timeoutMs: 3_600_000 } }).id,
    trackedCompleted: m.track({ targetId: "remote", id: "tc" }).id,
    trackedFailed: m.track({ targetId: "remote", id: "tf" }).id,
    trackedCancelled: m.track({ targetId: "remote", id: "tx" }).id,
  };
  m.cancel("cp", "not needed");
  m.start("tr");
  m.reportProgress("tr", 3, 9, "a third");
  m.start("tc");
  m.reportProgress("tc", 1, 2);
  m.complete("tc", { big: "x".repeat(1000), list: [true, false] });
  m.start("tf");
  m.fail("tf", { code: "REMOTE", name: "RemoteError", message: "it broke", stack: "at remote:1" });
  m.cancel("tx");
  await m.wait("done-1");
  await m.wait("failed-1");
  await until(() => m.status("retry-1").error !== undefined, "the first attempt of retry-1 failed");
  await until(() => m.status("held-1").status === "running", "held-1 running");
  return { ids, release };
}

test("open on a memoryStore: a restart restores every field of every execution, order, cursors and counts", async () => {
  const store = memoryStore();
  const m = await ExecutionManager.open({ store });
  const { release } = await populate(m);
  const before = all(m);
  const desc = m.list({ pageSize: 4 });
  const next = m.list({ pageSize: 4, cursor: desc.nextCursor });
  const counts = m.counts();
  await m.close();
  release();

  const r = await ExecutionManager.open({ store });
  const after = all(r);
  assert.equal(after.length, before.length);
  for (const [i, x] of before.entries()) {
    const y = after[i];
    if (x.id === "held-1") {
      // Handler-driven and running: interrupted (no retry policy: failed).
      assert.equal(y.status, "failed");
      assert.equal(y.error.code, "INTERRUPTED");
      assert.equal(y.error.name, "InterruptedError");
      assert.match(y.error.message, /held-1/);
      assert.deepEqual(
        { ...y, status: x.status, error: undefined, finishedAt: null, updatedAt: x.updatedAt },
        {
          ...x,
          error: undefined,
        },
      );
      assert.ok(y.finishedAt >= x.startedAt);
    } else {
      assert.deepEqual(y, x, `${x.id} restored as it was`);
    }
  }
  const ids = (page) => ({ ...page, items: page.items.map((x) => x.id) });
  assert.deepEqual(ids(r.list({ pageSize: 4 })), ids(desc), "the first page");
  assert.deepEqual(
    ids(r.list({ pageSize: 4, cursor: desc.nextCursor })),
    ids(next),
    "a cursor from before the restart",
  );
  assert.deepEqual(r.counts(), { ...counts, running: counts.running - 1, failed: counts.failed + 1 });
  // The restored manager is a manager.
  await healthy(r);
  r.complete("tr", "finished remotely");
  assert.equal(r.status("tr").status, "completed");
  await r.close();
});

test("the restart rules: tracked stay, running handlers are interrupted or retried, pending ones wait for their target", async () => {
  const store = memoryStore();
  const m = await ExecutionManager.open({ store, concurrency: 2 });
  const never = new Promise(() => {});
  m.register("slow", () => never);
  m.register("retried", () => never, { retry: { attempts: 3, backoff: { delayMs: 30 } } });
  m.create({ targetId: "slow", id: "interrupted" });
  m.create({ targetId: "retried", id: "again" });
  await until(() => m.counts().running === 2, "both handlers running");
  // Concurrency 2: these wait for a slot.
  m.create({ targetId: "slow", id: "low", priority: 1 });
  m.create({ targetId: "slow", id: "high", priority: 5 });
  m.track({ targetId: "remote", id: "soon-late", config: { timeoutMs: 40 } });
  m.start("soon-late");
  m.track({ targetId: "remote", id: "in-time", config: { timeoutMs: 3_600_000 } });
  m.start("in-time");
  await until(() => m.counts().running === 4, "two handlers and two tracked running");
  const startedAgain = m.status("again").startedAt;
  await m.close();
  await sleep(60); // soon-late's timeoutMs runs out meanwhile

  const r = await ExecutionManager.open({ store, concurrency: 2 });
  const events = [];
  r.subscribe((e) => events.push(`${e.type} ${e.execution.id} ${e.execution.status}`));
  const x = r.status("interrupted");
  assert.equal(x.status, "failed");
  assert.equal(x.error.code, "INTERRUPTED");
  const again = r.status("again");
  assert.equal(again.status, "pending");
  assert.equal(again.error.code, "INTERRUPTED");
  assert.equal(again.attempt, 1);
  assert.equal(again.startedAt, startedAgain);
  assert.ok(again.runAt !== null && again.runAt >= again.updatedAt);
  assert.equal(r.status("soon-late").status, "failed");
  assert.equal(r.status("soon-late").error.code, "TIMEOUT");
  assert.equal(r.status("in-time").status, "running");
  assert.equal(r.status("low").status, "pending");
  assert.equal(r.status("high").status, "pending");
  await sleep(50);
  // No events for restored executions, and nothing starts before its target is registered.
  assert.deepEqual(events, []);
  assert.equal(r.status("low").status, "pending");

  const calls = [];
  r.register("slow", (inputs, ctx) => {
    calls.push(ctx.id);
    return new Promise((resolve, reject) => ctx.signal.addEventListener("abort", () => reject(new Error("stop"))));
  });
  await until(() => calls.length === 2, "both slow ones started");
  assert.deepEqual(calls, ["high", "low"], "by priority");
  r.register("retried", (inputs, ctx) => {
    calls.push(`${ctx.id}#${ctx.attempt}`);
    return "second time";
  });
  // The slots are taken: "again" waits for one (a cancelled handler gives its slot back when it settles).
  r.cancel("high");
  await until(() => calls.length === 3, "the retry started");
  assert.equal(calls[2], "again#2");
  assert.equal((await r.wait("again")).result, "second time");
  await r.close();
});

test("close(): methods throw INVALID_TRANSITION, waits reject, running handlers' outcomes are ignored", async () => {
  const store = memoryStore();
  const m = await ExecutionManager.open({ store });
  const gate = deferred();
  let started = 0;
  m.register("gated", async () => {
    started++;
    await gate.promise;
    return "late";
  });
  m.create({ targetId: "gated", id: "g" });
  m.create({ targetId: "gated", id: "h", delayMs: 30 });
  await until(() => started === 1, "g running");
  const waiting = m.wait("g");
  const closed = m.close();
  await rejectsExec(waiting, "INVALID_TRANSITION");
  await closed;
  for (const call of [() => m.counts(), () => m.create({ targetId: "gated" }), () => m.status("g"), () => m.list()]) {
    throwsExec(null, call, "INVALID_TRANSITION");
  }
  await rejectsExec(m.flush(), "INVALID_TRANSITION");
  await rejectsExec(m.close(), "INVALID_TRANSITION");
  gate.resolve();
  await sleep(50);
  assert.equal(started, 1, "no handler starts after close()");
  const r = await ExecutionManager.open({ store });
  assert.equal(r.status("g").error.code, "INTERRUPTED", "its late outcome was ignored");
  assert.equal(r.status("h").status, "pending");
  await r.close();
});

test("a manager made with new: flush() resolves at once, close() frees it", async () => {
  const m = new ExecutionManager();
  m.track({ targetId: "x", id: "a" });
  await m.flush();
  await m.close();
  throwsExec(null, () => m.status("a"), "INVALID_TRANSITION");
  await rejectsExec(m.flush(), "INVALID_TRANSITION");
  const n = new ExecutionManager();
  n.free();
  await rejectsExec(n.close(), "INVALID_TRANSITION");
});

test("open() refuses bad options, naming them", async () => {
  await rejectsExec(ExecutionManager.open({}), "INVALID_ARGUMENT", "options.store");
  await rejectsExec(ExecutionManager.open({ store: {} }), "INVALID_ARGUMENT", "options.store");
  await rejectsExec(ExecutionManager.open(), "INVALID_ARGUMENT", "options.store");
  for (const flushMs of [-1, Number.NaN, Number.POSITIVE_INFINITY, "5", 2 ** 40]) {
    await rejectsExec(ExecutionManager.open({ store: memoryStore(), flushMs }), "INVALID_ARGUMENT", "options.flushMs");
  }
  await rejectsExec(ExecutionManager.open({ store: memoryStore(), concurrency: 0 }), "INVALID_ARGUMENT", "concurrency");
  for (const bad of [undefined, "", 5, "a\0b"]) throwsExec(null, () => fileStore(bad), "INVALID_ARGUMENT", "path");
  // A store whose open failed is not left in use.
  const store = memoryStore();
  await (await ExecutionManager.open({ store })).close();
});

test("a second open of a store in use rejects STORE_ERROR; after close() it opens", async () => {
  const store = memoryStore();
  const m = await ExecutionManager.open({ store });
  await rejectsExec(ExecutionManager.open({ store }), "STORE_ERROR", "in use");
  await m.close();
  const dir = tempDir();
  try {
    const file = path.join(dir, "s.store");
    const f = await ExecutionManager.open({ store: fileStore(file) });
    await rejectsExec(ExecutionManager.open({ store: fileStore(file) }), "STORE_ERROR", String(process.pid));
    assert.ok(fs.existsSync(`${file}.lock`));
    await f.close();
    assert.ok(!fs.existsSync(`${file}.lock`), "the lock is released");
    await (await ExecutionManager.open({ store: fileStore(path.join(dir, ".", "s.store")) })).close();
    // A lock left by a process that is gone is taken over.
    fs.writeFileSync(`${file}.lock`, "999999999\nstale\n");
    await (await ExecutionManager.open({ store: fileStore(file) })).close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** A file store with a few changes in it; returns its path. */
async function written(dir) {
  const file = path.join(dir, "jobs.store");
  const m = await ExecutionManager.open({ store: fileStore(file) });
  for (let i = 0; i < 20; i++) {
    m.track({ targetId: "remote", id: `t${i}`, inputs: { i } });
    m.start(`t${i}`);
    m.reportProgress(`t${i}`, i, 20, `step ${i}`);
    if (i % 2 === 0) m.complete(`t${i}`, { i });
  }
  await m.close();
  return file;
}

test(
  "damage in the middle of a file, a newer version, not a store: STORE_ERROR naming where",
  async () => {
    const dir = tempDir();
    try {
      const file = await written(dir);
      const good = fs.readFileSync(file);
      const check = async (bytes, mention) => {
        fs.writeFileSync(file, bytes);
        const err = await rejectsExec(ExecutionManager.open({ store: fileStore(file) }), "STORE_ERROR", mention);
        assert.ok(err.message.includes(file), err.message);
        // Nothing was changed or left locked: the same bytes, and the next open gets the same error.
        assert.deepEqual(fs.readFileSync(file), bytes);
        await rejectsExec(ExecutionManager.open({ store: fileStore(file) }), "STORE_ERROR", mention);
      };
      for (const at of [good.length >> 2, good.length >> 1, good.length - 200]) {
        const bad = Buffer.from(good);
        bad[at] ^= 0x20;
        await check(bad, "damaged store at byte");
      }
      const newer = Buffer.from(good);
      newer.writeUInt16LE(2, 8);
      await check(newer, "format version 2 is newer");
      await check(Buffer.from('{"jobs": []}\n'), "not an execman store");
      fs.writeFileSync(file, good);
      const m = await ExecutionManager.open({ store: fileStore(file) });
      assert.equal(m.counts().total, 20);
      await m.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
  { timeout: 60_000 },
);

test(
  "a torn last write: every whole change before it is restored, and the store is cut there",
  async () => {
    const dir = tempDir();
    try {
      const file = await written(dir);
      const m = await ExecutionManager.open({ store: fileStore(file) });
      m.complete("t1", "the last change");
      await m.close();
      const whole = fs.readFileSync(file);
      for (const cut of [1, 7, 20]) {
        fs.writeFileSync(file, whole.subarray(0, whole.length - cut));
        const r = await ExecutionManager.open({ store: fileStore(file) });
        assert.equal(r.status("t1").status, "running", "the torn change is gone");
        assert.equal(r.status("t0").status, "completed");
        assert.equal(r.status("t19").progress.message, "step 19");
        await r.close();
        assert.ok(fs.statSync(file).size < whole.length - cut + 1, "cut to the last whole record");
        // Writes after the cut are read back.
        const again = await ExecutionManager.open({ store: fileStore(file) });
        again.complete("t3", "after the cut");
        await again.close();
        const last = await ExecutionManager.open({ store: fileStore(file) });
        assert.equal(last.status("t3").result, "after the cut");
        await last.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
  { timeout: 60_000 },
);

test(
  "batches: written flushMs after the first change, not before; flush() makes them durable",
  async () => {
    const dir = tempDir();
    try {
      const file = path.join(dir, "f.store");
      const m = await ExecutionManager.open({ store: fileStore(file), flushMs: 300 });
      const size = fs.statSync(file).size;
      m.track({ targetId: "remote", id: "a" });
      await sleep(20);
      assert.equal(fs.statSync(file).size, size, "not written before flushMs");
      await until(() => fs.statSync(file).size > size, "the batch written", 5000);
      const grown = fs.statSync(file).size;
      m.track({ targetId: "remote", id: "b" });
      await m.flush();
      assert.ok(fs.statSync(file).size > grown, "flush() wrote at once");
      m.free(); // as close(), without waiting: the last changes are written all the same
      await until(() => !fs.existsSync(`${file}.lock`), "the store released");
      const r = await ExecutionManager.open({ store: fileStore(file) });
      assert.deepEqual(
        all(r).map((x) => x.id),
        ["a", "b"],
      );
      await r.close();
      // Default flushMs: at the end of the current task.
      const d = await ExecutionManager.open({ store: fileStore(file) });
      const before = fs.statSync(file).size;
      d.track({ targetId: "remote", id: "c" });
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
      assert.ok(fs.statSync(file).size > before, "written by the end of the task");
      await d.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
  { timeout: 60_000 },
);

test(
  "a store stays proportional to what is held: 20,000 executions with maxFinished 50",
  async () => {
    const dir = tempDir();
    try {
      const file = path.join(dir, "c.store");
      // In a child process: a hot JS<->wasm loop (see the notes on V8 in the README).
      const run = spawnSync(process.execPath, [path.join(DIR, "compaction-child.mjs"), file, "20000", "50"], {
        encoding: "utf8",
      });
      assert.equal(run.status, 0, run.stderr);
      const { largest, final, json, held } = JSON.parse(run.stdout);
      console.log(
        `compaction: 20,000 executions, ${held} held (${json} B as JSON): largest store ${largest} B, final ${final} B`,
      );
      assert.equal(held, 50);
      // The policy keeps the log within 3 images plus 64 KiB (plus a batch); an image is smaller
      // than the JSON of what it holds. Without compaction the store would be megabytes.
      assert.ok(largest < 3 * json + (64 << 10) + 16_384, `largest ${largest} B`);
      const r = await ExecutionManager.open({ store: fileStore(file) });
      assert.equal(r.counts().total, 50);
      assert.equal(r.counts().completed, 50);
      await r.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
  { timeout: 60_000 },
);

test(
  "a real failed write (the file size limit): flush() rejects STORE_ERROR, the manager goes on, the store stays whole",
  async () => {
    const dir = tempDir();
    try {
      const file = path.join(dir, "full.store");
      // RLIMIT_FSIZE makes writes past 64 KiB fail with EFBIG: a real failing write, no mock.
      const run = spawnSync(
        "bash",
        ["-c", `ulimit -f 64 && exec "${process.execPath}" "${path.join(DIR, "full-child.mjs")}" "${file}"`],
        {
          encoding: "utf8",
        },
      );
      assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
      const report = JSON.parse(run.stdout);
      assert.equal(report.code, "STORE_ERROR");
      assert.match(report.message, /full\.store/);
      assert.ok(report.flushed > 0 && report.held > report.flushed, JSON.stringify(report));
      assert.equal(report.stillWorks, true);
      // Every change flushed before the failure is there; the store opens.
      const r = await ExecutionManager.open({ store: fileStore(file) });
      for (let i = 0; i < report.flushed; i++) assert.ok(r.status(`x${i}`), `x${i} kept`);
      await r.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
  { timeout: 60_000 },
);

test(
  "a failed write is retried with the next batch: a store path that cannot be written, then can",
  async () => {
    const dir = tempDir();
    try {
      const file = path.join(dir, "moving.store");
      const m = await ExecutionManager.open({ store: fileStore(file), maxFinished: 10 });
      m.track({ targetId: "remote", id: "first" });
      await m.flush();
      // The directory is replaced by a file: the compaction's temp file cannot be created.
      // (Appends go to the open file; a compaction comes once the log outgrows the 10 finished
      // executions held.)
      fs.renameSync(dir, `${dir}.away`);
      fs.writeFileSync(dir, "not a directory");
      let failed = null;
      for (let i = 0; i < 20_000 && failed === null; i++) {
        m.track({ targetId: "remote", id: `n${i}`, inputs: { pad: "x".repeat(100) } });
        m.start(`n${i}`);
        m.complete(`n${i}`);
        if (i % 200 === 199) {
          try {
            await m.flush();
          } catch (err) {
            failed = err;
          }
        }
      }
      assert.ok(failed !== null, "a compaction into a missing directory failed");
      checkError(failed, "STORE_ERROR", "moving.store");
      assert.equal(m.status("first").status, "pending", "the manager keeps its executions");
      fs.rmSync(dir);
      fs.renameSync(`${dir}.away`, dir);
      m.track({ targetId: "remote", id: "after" });
      await m.flush();
      await m.close();
      const r = await ExecutionManager.open({ store: fileStore(file) });
      assert.ok(r.status("after") && r.status("first"));
      assert.equal(r.counts().completed, 10);
      await r.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync(`${dir}.away`, { recursive: true, force: true });
    }
  },
  { timeout: 60_000 },
);
