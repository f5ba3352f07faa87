// execman/bullmq across processes, on a real redis-server of this file's own (scripts/
// redis-server.mjs): this process is the API process (a manager whose targets are `enqueue(queue)`), the
// workers are child processes (worker-child.mjs: `work()` over a manager with the test targets),
// each test on a queue of its own. Checked: results, failures, retries, delays and priorities
// carried over; progress seen here; a cancel here aborting the handler there within one second; a
// worker killed with SIGKILL mid-job and the job run again on the other worker (the execution shows
// the new attempt and its outcome); Redis killed and restarted mid-run (nothing lost, nothing shown
// twice); a queue fed by plain BullMQ mirrored.

import assert from "node:assert/strict";
import { fork } from "node:child_process";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { Queue, Worker } from "bullmq";
import { ExecutionManager } from "execman";
import { enqueue, mirror, work } from "execman/bullmq";
import { startRedis } from "../../../scripts/redis-server.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CHILD = path.join(HERE, "worker-child.mjs");
const TEST_TIMEOUT = 60_000;

const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `check` until it returns something truthy (or the deadline passes: then it fails).
 * @template T
 * @param {() => T | Promise<T>} check
 * @param {string} what
 * @param {number} [ms]
 * @returns {Promise<T>}
 */
async function until(check, what, ms = 20_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** @type {Awaited<ReturnType<typeof startRedis>>} */
let redis;
let queues = 0;

/**
 * A worker child process on `queue`.
 * @param {string} queue
 * @param {number} concurrency
 * @param {{ lockDuration?: number, stalledInterval?: number }} [opts]
 */
async function spawnWorker(queue, concurrency, opts = {}, port = redis.port) {
  const args = [String(port), queue, String(concurrency)];
  if (opts.lockDuration) args.push(String(opts.lockDuration), String(opts.stalledInterval));
  const child = fork(CHILD, args, { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  /** @type {any[]} */
  const messages = [];
  child.on("message", (m) => messages.push(m));
  await until(() => messages.some((m) => m.type === "ready"), "a worker process to be ready");
  return {
    child,
    messages,
    pid: /** @type {number} */ (child.pid),
    /** @param {(m: any) => boolean} pred */
    waitFor: (pred, what = "a message", ms = 20_000) => until(() => messages.find(pred), what, ms),
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.send({ type: "close" });
      await Promise.race([exited, sleep(5000).then(() => child.kill("SIGKILL"))]);
    },
    kill() {
      child.kill("SIGKILL");
    },
  };
}

/**
 * The API side: a manager whose `targets` are enqueued on a fresh queue, and every event it emits.
 * @param {string[]} targets
 * @param {Record<string, any>} [options]  register options per target
 */
async function apiSide(targets, options = {}, connection = redis.connection) {
  const name = `q${++queues}-${process.pid}`;
  const manager = new ExecutionManager();
  const queue = new Queue(name, { connection });
  const handler = enqueue(queue);
  for (const t of targets) manager.register(t, handler, options[t]);
  /** @type {{ type: string, execution: any, at: number }[]} */
  const events = [];
  manager.subscribe((e) => events.push({ ...e, at: Date.now() }));
  await handler.ready();
  return {
    name,
    manager,
    queue,
    events,
    /** @param {string} id */
    of: (id) => events.filter((e) => e.execution.id === id),
    async close() {
      await handler.close();
      await queue.close();
      manager.free();
    },
  };
}

before(async () => {
  redis = await startRedis();
});

after(async () => {
  await redis?.stop();
});

describe("enqueue + work across processes", { timeout: TEST_TIMEOUT * 4 }, () => {
  test("results, failures and retries are carried over", { timeout: TEST_TIMEOUT }, async () => {
    const api = await apiSide(["add", "fail", "flaky", "bad-result", "not-there"], {
      fail: { retry: { attempts: 2 } },
      flaky: { retry: { attempts: 3, backoff: { type: "exponential", delayMs: 150 } } },
    });
    const w = await spawnWorker(api.name, 4);
    try {
      const { manager } = api;
      const add = manager.create({ targetId: "add", inputs: { a: 2, b: 40 }, type: "math" });
      const fail = manager.create({ targetId: "fail", inputs: {} });
      const final = manager.create({ targetId: "fail", inputs: { final: true } });
      const flaky = manager.create({ targetId: "flaky", inputs: { succeedAt: 3 } });
      const bad = manager.create({ targetId: "bad-result" });
      const missing = manager.create({ targetId: "not-there" });
      assert.equal(add.status, "pending");
      const [a, f, fin, fl, b, m] = await Promise.all(
        [add, fail, final, flaky, bad, missing].map((x) => manager.wait(x.id)),
      );
      assert.equal(a.status, "completed");
      assert.deepEqual(a.result, { sum: 42 });
      assert.equal(a.type, "math");
      assert.equal(a.attempt, 1);
      // Retried once (attempts: 2), then failed with the handler's error, name and all.
      assert.equal(f.status, "failed");
      assert.equal(f.attempt, 2);
      assert.equal(f.maxAttempts, 2);
      assert.equal(f.error.code, "HANDLER_ERROR");
      assert.equal(f.error.name, "TypeError");
      assert.equal(f.error.message, "boom");
      assert.match(f.error.stack, /TypeError: boom/);
      // retryable: false is never retried, whatever the attempts left.
      assert.equal(fin.status, "failed");
      assert.equal(fin.attempt, 1);
      // Two failures, each a `running → pending` with its failure and the backoff's runAt, then done.
      assert.equal(fl.status, "completed");
      assert.deepEqual(fl.result, { attempt: 3 });
      assert.equal(fl.attempt, 3);
      const waits = api.of(flaky.id).filter((e) => e.type === "status" && e.execution.status === "pending");
      assert.equal(waits.length, 2, "two retries");
      assert.equal(waits[0].execution.error.message, "attempt 1 failed");
      assert.equal(waits[0].execution.error.name, "RangeError");
      assert.equal(waits[1].execution.error.message, "attempt 2 failed");
      // Exponential: 150 ms after the first failure, 300 ms after the second.
      const gap1 = waits[0].execution.runAt - waits[0].execution.updatedAt;
      const gap2 = waits[1].execution.runAt - waits[1].execution.updatedAt;
      assert.ok(gap1 > 50 && gap1 <= 200, `first backoff ${gap1}`);
      assert.ok(gap2 > 200 && gap2 <= 350, `second backoff ${gap2}`);
      const startsOf = () => w.messages.filter((x) => x.type === "started" && x.id === flaky.id);
      await until(() => startsOf().length >= 3, "the worker's three starts");
      const starts = startsOf().map((x) => x.attempt);
      assert.deepEqual(starts, [1, 2, 3], "ctx.attempt in the worker");
      assert.equal(b.status, "failed");
      assert.equal(b.error.code, "INVALID_RESULT");
      assert.equal(m.status, "failed");
      assert.equal(m.error.code, "UNKNOWN_TARGET");
      // Each terminal status shown once.
      for (const x of [add, fail, final, flaky, bad, missing]) {
        const ends = api.of(x.id).filter((e) => e.type === "status" && e.execution.finishedAt !== null);
        assert.equal(ends.length, 1, `${x.targetId}: one terminal event`);
      }
      // The public moves of tracked work are refused for them.
      assert.throws(() => manager.start(add.id), { code: "INVALID_TRANSITION" });
    } finally {
      await w.close();
      await api.close();
    }
  });

  test("delays and priorities are the jobs' options", { timeout: TEST_TIMEOUT }, async () => {
    const api = await apiSide(["sleep", "add"]);
    const w = await spawnWorker(api.name, 1);
    try {
      const { manager } = api;
      const delayed = manager.create({ targetId: "add", inputs: { a: 1, b: 1 }, delayMs: 600 });
      assert.equal(delayed.status, "pending");
      assert.ok(delayed.runAt >= delayed.createdAt + 600);
      const job = await until(() => api.queue.getJob(delayed.id), "the delayed job");
      assert.equal(job.opts.delay > 0, true);
      const d = await manager.wait(delayed.id);
      assert.equal(d.status, "completed");
      assert.ok(d.startedAt >= delayed.runAt - 5, `started ${d.startedAt - delayed.runAt} ms after runAt`);
      // With the one slot taken, jobs of higher priority start first.
      const blocker = manager.create({ targetId: "sleep", inputs: { ms: 400 } });
      await until(() => manager.status(blocker.id).status === "running", "the blocker to run");
      const low = manager.create({ targetId: "add", inputs: { a: 0, b: 1 }, priority: -5 });
      const mid = manager.create({ targetId: "add", inputs: { a: 0, b: 2 } });
      const high = manager.create({ targetId: "add", inputs: { a: 0, b: 3 }, priority: 10 });
      await Promise.all([low, mid, high].map((x) => manager.wait(x.id)));
      const order = w.messages.filter((m) => m.type === "started" && [low.id, mid.id, high.id].includes(m.id));
      assert.deepEqual(
        order.map((m) => m.id),
        [high.id, mid.id, low.id],
      );
      assert.equal(manager.status(high.id).priority, 10);
    } finally {
      await w.close();
      await api.close();
    }
  });

  test("progress reported in the worker process is seen here", { timeout: TEST_TIMEOUT }, async () => {
    const api = await apiSide(["steps"]);
    const w = await spawnWorker(api.name, 2);
    try {
      const x = api.manager.create({ targetId: "steps", inputs: { steps: 5, ms: 40 } });
      const done = await api.manager.wait(x.id);
      assert.equal(done.status, "completed");
      const progress = api.of(x.id).filter((e) => e.type === "progress");
      assert.deepEqual(
        progress.map((e) => e.execution.progress.current),
        [1, 2, 3, 4, 5],
      );
      assert.ok(progress.every((e) => e.execution.progress.total === 5));
      assert.equal(progress[2].execution.progress.message, "step 3");
      assert.equal(done.progress.percentage, 100);
      assert.equal(w.messages.filter((m) => m.type === "started").length, 1);
    } finally {
      await w.close();
      await api.close();
    }
  });

  test("a cancel here aborts the handler in the worker process within one second", {
    timeout: TEST_TIMEOUT,
  }, async (t) => {
    const api = await apiSide(["sleep", "add"], { sleep: { retry: { attempts: 3 } } });
    const w = await spawnWorker(api.name, 2);
    try {
      const { manager } = api;
      const x = manager.create({ targetId: "sleep", inputs: { ms: 30_000 } });
      await w.waitFor((m) => m.type === "started" && m.id === x.id, "the job to start");
      await until(() => manager.status(x.id).status === "running", "running here");
      const t0 = Date.now();
      const c = manager.cancel(x.id, "stop it");
      assert.equal(c.status, "cancelled");
      assert.equal(c.cancelReason, "stop it");
      const aborted = await w.waitFor((m) => m.type === "aborted" && m.id === x.id, "the abort", 5000);
      assert.ok(aborted.at - t0 < 1000, `aborted ${aborted.at - t0} ms after the cancel`);
      // The job ends failed in BullMQ, not retried (attempts: 3), and nothing changes here.
      const job = await until(async () => {
        const j = await api.queue.getJob(x.id);
        return j?.finishedOn ? j : null;
      }, "the job to end");
      assert.equal(await job.getState(), "failed");
      await sleep(300);
      assert.equal(w.messages.filter((m) => m.type === "started" && m.id === x.id).length, 1);
      assert.equal(manager.status(x.id).status, "cancelled");
      // A waiting (here delayed) job is removed from the queue.
      const later = manager.create({ targetId: "add", inputs: { a: 1, b: 2 }, delayMs: 60_000 });
      await until(() => api.queue.getJob(later.id), "the delayed job");
      manager.cancel(later.id);
      await until(async () => (await api.queue.getJob(later.id)) === undefined, "the job to be removed");
      // REST reaches the same cancel.
      const y = manager.create({ targetId: "sleep", inputs: { ms: 30_000 } });
      await w.waitFor((m) => m.type === "started" && m.id === y.id, "the second job to start");
      await until(() => manager.status(y.id).status === "running", "running here");
      const t1 = Date.now();
      const res = manager.handle({
        method: "POST",
        path: `/api/v1/executions/${y.id}/cancel`,
        body: { reason: "rest" },
      });
      assert.equal(res.status, 200);
      const ab = await w.waitFor((m) => m.type === "aborted" && m.id === y.id, "the abort", 5000);
      assert.ok(ab.at - t1 < 1000, `aborted ${ab.at - t1} ms after the REST cancel`);
      t.diagnostic(
        `handler aborted in the worker process ${aborted.at - t0} ms after cancel(), ${ab.at - t1} ms after the REST cancel`,
      );
    } finally {
      await w.close();
      await api.close();
    }
  });

  test("a worker killed mid-job: the job runs again on the other worker", { timeout: TEST_TIMEOUT }, async (t) => {
    const api = await apiSide(["pid"]);
    const stall = { lockDuration: 1000, stalledInterval: 500 };
    const workers = [await spawnWorker(api.name, 1, stall), await spawnWorker(api.name, 1, stall)];
    try {
      const { manager } = api;
      const x = manager.create({ targetId: "pid", inputs: { ms: 1500 } });
      const started = await until(
        () => workers.find((w) => w.messages.some((m) => m.type === "started" && m.id === x.id)),
        "the job to start",
      );
      const other = workers.find((w) => w !== started);
      await until(() => manager.status(x.id).status === "running", "running here");
      const killedAt = Date.now();
      started.kill();
      const done = await manager.wait(x.id);
      assert.equal(done.status, "completed");
      assert.equal(done.attempt, 2);
      assert.deepEqual(done.result, { pid: other?.pid });
      const restarted = other?.messages.find((m) => m.type === "started" && m.id === x.id);
      assert.equal(restarted.attempt, 2);
      const statuses = api.of(x.id).filter((e) => e.type !== "progress");
      assert.deepEqual(
        statuses.map((e) => `${e.execution.status}/${e.execution.attempt}`),
        ["pending/0", "running/1", "pending/1", "running/2", "completed/2"],
      );
      const interrupted = statuses[2].execution;
      assert.equal(interrupted.error.code, "INTERRUPTED");
      const t0 = statuses[0].at;
      t.diagnostic(
        `timeline (ms from create): started on pid ${started.pid} at ${statuses[1].at - t0}, ` +
          `SIGKILL at ${killedAt - t0}, back to pending (stalled) at ${statuses[2].at - t0}, ` +
          `running on pid ${other?.pid} at ${statuses[3].at - t0}, completed at ${statuses[4].at - t0}`,
      );
    } finally {
      for (const w of workers) await w.close();
      await api.close();
    }
  });
});

test("another API process's executions show here with their progress, and a cancel here reaches them", {
  timeout: TEST_TIMEOUT,
}, async () => {
  const a = await apiSide(["steps", "sleep"], { sleep: { retry: { attempts: 2 } } });
  // A second API side (another manager, as another process would have) on the same queue.
  const b = new ExecutionManager();
  const bQueue = new Queue(a.name, { connection: redis.connection });
  const bHandler = enqueue(bQueue);
  b.register("steps", bHandler);
  b.register("sleep", bHandler, { retry: { attempts: 2 } });
  /** @type {any[]} */
  const seen = [];
  b.subscribe((e) => seen.push(e));
  await bHandler.ready();
  const w = await spawnWorker(a.name, 2);
  try {
    const x = a.manager.create({ targetId: "steps", inputs: { steps: 4, ms: 60 }, priority: 3 });
    const there = await until(() => b.status(x.id), "the execution in the other manager");
    assert.equal(there.targetId, "steps");
    assert.deepEqual(there.inputs, { steps: 4, ms: 60 });
    assert.equal(there.priority, 3);
    const done = await b.wait(x.id);
    assert.equal(done.status, "completed");
    assert.equal(done.result, "done");
    const progress = seen.filter((e) => e.type === "progress" && e.execution.id === x.id);
    assert.ok(progress.length >= 3, `${progress.length} progress events seen in the other manager`);
    assert.equal((await a.manager.wait(x.id)).status, "completed");
    // A cancel in the other manager stops the job and the first manager shows it cancelled.
    const y = a.manager.create({ targetId: "sleep", inputs: { ms: 30_000 } });
    await w.waitFor((m) => m.type === "started" && m.id === y.id, "the job to start");
    await until(() => b.status(y.id)?.status === "running", "running in the other manager");
    b.cancel(y.id, "from b");
    await w.waitFor((m) => m.type === "aborted" && m.id === y.id, "the abort", 5000);
    const ya = await a.manager.wait(y.id);
    assert.equal(ya.status, "cancelled");
    assert.equal(ya.cancelReason, "from b");
  } finally {
    await w.close();
    await bHandler.close();
    await bQueue.close();
    b.free();
    await a.close();
  }
});

test("Redis killed and restarted mid-run: nothing lost, nothing shown twice", { timeout: TEST_TIMEOUT }, async (t) => {
  const own = await startRedis({ durable: true });
  const api = await apiSide(["sleep"], {}, own.connection);
  const w = await spawnWorker(api.name, 3, {}, own.port);
  try {
    const { manager } = api;
    const before = Array.from({ length: 12 }, () => manager.create({ targetId: "sleep", inputs: { ms: 150 } }));
    await until(() => manager.counts().completed >= 2, "some to complete");
    await own.kill();
    // Created while Redis is down: added once it is back.
    const during = Array.from({ length: 4 }, () => manager.create({ targetId: "sleep", inputs: { ms: 50 } }));
    await sleep(800);
    await own.restart();
    const all = [...before, ...during];
    // Not ended after 45 s (the test's limit is 60 s): fail with what each unfinished execution
    // and its job are, so that a rare hang says where it is.
    let timer;
    const stuck = new Promise((_, reject) => {
      timer = setTimeout(async () => {
        const open = all.filter((x) => !["completed", "failed", "cancelled"].includes(manager.status(x.id)?.status));
        const states = await Promise.all(
          open.map(
            async (x) =>
              `${x.id}: ${manager.status(x.id)?.status}, job ${await (await api.queue.getJob(x.id))?.getState()}`,
          ),
        );
        reject(new Error(`not ended after 45 s: ${states.join("; ")}`));
      }, 45_000);
    });
    const ends = await Promise.race([Promise.all(all.map((x) => manager.wait(x.id))), stuck]).finally(() =>
      clearTimeout(timer),
    );
    assert.deepEqual(
      ends.map((x) => x.status),
      all.map(() => "completed"),
    );
    for (const x of all) {
      const evs = api.of(x.id).filter((e) => e.type === "status" || e.type === "created");
      const shown = evs.map((e) => e.execution.status);
      assert.equal(shown.filter((s) => s === "completed").length, 1, `${x.id}: ${shown}`);
      assert.equal(shown.filter((s) => s === "pending").length, 1, `${x.id}: ${shown}`);
    }
    // Each job ran to its end once: one completion in the worker's queue per job.
    const counts = await api.queue.getJobCounts("completed", "failed");
    assert.equal(counts.completed, all.length);
    assert.equal(counts.failed, 0);
    t.diagnostic(`${all.length} jobs completed across a Redis SIGKILL and restart (4 created while it was down)`);
  } finally {
    await w.close();
    await api.close();
    await own.stop();
  }
});

test("a queue fed by a plain BullMQ producer is mirrored", { timeout: TEST_TIMEOUT }, async () => {
  const name = `mirror-${process.pid}`;
  const connection = redis.connection;
  const producer = new Queue(name, { connection });
  const manager = new ExecutionManager();
  /** @type {Worker | null} */
  let worker = null;
  /** @type {{ close(): Promise<void> } | null} */
  let m = null;
  const other = new ExecutionManager();
  const otherQueue = new Queue(name, { connection });
  const otherHandler = enqueue(otherQueue);
  try {
    // Before the mirror: one job done, one waiting.
    const plain = (/** @type {any} */ job) => {
      if (job.name === "explode") throw new Error("no such mailbox");
      return job.updateProgress(50).then(() => ({ sent: job.data.to }));
    };
    const first = new Worker(name, plain, { connection });
    await producer.add("email", { to: "a@example.test" }, { jobId: "j1" });
    await until(async () => (await producer.getJob("j1"))?.finishedOn, "j1 to finish");
    await first.close();
    await producer.add("email", { to: "b@example.test" }, { jobId: "j2" });
    // A job execman enqueued on the same queue is not mirrored.
    other.register("email", otherHandler);
    await otherHandler.ready();
    const mine = other.create({ targetId: "email", inputs: { to: "c@example.test" } });
    await until(() => producer.getJob(mine.id), "execman's job");

    m = await mirror(manager, producer, { idPrefix: "m:" });
    const j1 = manager.status("m:j1");
    assert.equal(j1.status, "completed");
    assert.equal(j1.targetId, name);
    assert.equal(j1.type, "email");
    assert.deepEqual(j1.inputs, { to: "a@example.test" });
    assert.deepEqual(j1.result, { sent: "a@example.test" });
    assert.equal(manager.status("m:j2").status, "pending");
    assert.equal(manager.status(`m:${mine.id}`), undefined);

    /** @type {any[]} */
    const seen = [];
    manager.subscribe((e) => seen.push(e));
    worker = new Worker(name, plain, { connection });
    await producer.add("explode", { to: "x" }, { jobId: "j3" });
    const j2 = await manager.wait("m:j2");
    assert.equal(j2.status, "completed");
    const p = seen.find((e) => e.type === "progress" && e.execution.id === "m:j2");
    assert.equal(p.execution.progress.current, 50);
    assert.equal(p.execution.progress.total, 100);
    const j3 = await manager.wait("m:j3");
    assert.equal(j3.status, "failed");
    assert.equal(j3.error.message, "no such mailbox");
    assert.equal(j3.type, "explode");
    // execman's own job stays out of the mirror, and is followed by its own manager.
    const done = await other.wait(mine.id);
    assert.equal(done.status, "completed");
    assert.equal(manager.status(`m:${mine.id}`), undefined);
    assert.equal(manager.counts().total, 3);
  } finally {
    await m?.close();
    await worker?.close();
    await otherHandler.close();
    await otherQueue.close();
    await producer.close();
    manager.free();
    other.free();
  }
});

test("work() and mirror() refuse what is not a manager or a queue", async () => {
  const manager = new ExecutionManager();
  assert.throws(() => work({}, "q", { connection: redis.connection }), TypeError);
  assert.throws(() => work(manager, "", { connection: redis.connection }), { code: "INVALID_ARGUMENT" });
  assert.throws(() => work(manager, "q", /** @type {any} */ ({})), { code: "INVALID_ARGUMENT" });
  await assert.rejects(() => mirror(manager, /** @type {any} */ ({})), { code: "INVALID_ARGUMENT" });
  assert.throws(() => enqueue(/** @type {any} */ ({})), TypeError);
  manager.free();
});
