// W9 BullMQ: jobs through a redis-server of this process's own (scripts/redis-server.mjs), one
// producer and one worker in this process, at --concurrency (default 16).
//
//   --impl=execman   an API manager with "noop" registered as enqueue(queue), each job made by
//                    create() and awaited with wait(id); a worker manager with a noop handler run
//                    by work(manager, queue, { concurrency })
//   --impl=baseline  bare BullMQ: queue.add() per job and its result awaited with
//                    job.waitUntilFinished(queueEvents) (what create() + wait(id) stand for), a
//                    Worker with a noop processor
//
// Metrics: jobs/s from the first add to the last completion seen by the producer side; and the
// latency from a progress report in the worker (ctx.progress, or job.updateProgress for bare
// BullMQ) to the producer side seeing it (the manager's snapshot through subscribe(), or the
// QueueEvents 'progress' event), p50 and p99 over --reports reports.

import { createRequire } from "node:module";
import path from "node:path";
import { startRedis } from "../../scripts/redis-server.mjs";
import { intArg, main, now, parseArgs, ROOT, report } from "./_harness.mjs";

const require = createRequire(import.meta.url);
const args = parseArgs();
const impl = args.impl || "execman";
const size = intArg(args, "size", 5000);
const concurrency = intArg(args, "concurrency", 16);
const reports = intArg(args, "reports", 400);
const { Queue, QueueEvents, Worker } = require("bullmq");

/** @param {number[]} values @param {number} q */
function quantile(values, q) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}
const stamp = () => performance.timeOrigin + performance.now();

async function execman(connection) {
  const pkg = args.pkg ? path.resolve(ROOT, args.pkg) : path.join(ROOT, "pkg");
  const { ExecutionManager } = require(pkg);
  const { enqueue, work } = require(path.join(pkg, "bullmq.cjs"));
  const queue = new Queue("w8", { connection });
  const api = new ExecutionManager();
  const handler = enqueue(queue);
  api.register("noop", handler);
  api.register("ticker", handler);
  await handler.ready();
  const wm = new ExecutionManager();
  wm.register("noop", async () => ({ ok: 1 }));
  wm.register("ticker", async ({ n }, ctx) => {
    for (let i = 1; i <= n; i++) {
      ctx.progress(i, n, String(stamp()));
      await new Promise((r) => setTimeout(r, 2));
    }
  });
  const worker = work(wm, "w8", { connection, concurrency });
  await worker.waitUntilReady();
  const batch = async (/** @type {number} */ n) => {
    const waits = new Array(n);
    for (let i = 0; i < n; i++) waits[i] = api.wait(api.create({ targetId: "noop", inputs: { i } }).id);
    const done = await Promise.all(waits);
    if (done.some((x) => x.status !== "completed")) throw new Error("a job did not complete");
  };
  await batch(Math.ceil(size / 20)); // warm-up
  const t0 = now();
  await batch(size);
  const ms = now() - t0;
  /** @type {number[]} */
  const lat = [];
  api.subscribe(
    ({ type, execution }) => {
      if (type === "progress") lat.push(stamp() - Number(execution.progress.message));
    },
    { targetId: "ticker" },
  );
  const t = api.create({ targetId: "ticker", inputs: { n: reports } });
  await api.wait(t.id);
  await worker.close();
  await handler.close();
  await queue.close();
  return { ms, lat };
}

async function baseline(connection) {
  const queue = new Queue("w8", { connection });
  const events = new QueueEvents("w8", { connection });
  await events.waitUntilReady();
  const worker = new Worker(
    "w8",
    async (job) => {
      if (job.name === "ticker") {
        for (let i = 1; i <= job.data.n; i++) {
          await job.updateProgress({ current: i, total: job.data.n, message: String(stamp()) });
          await new Promise((r) => setTimeout(r, 2));
        }
        return null;
      }
      return { ok: 1 };
    },
    { connection, concurrency },
  );
  await worker.waitUntilReady();
  let completed = 0;
  /** @type {(() => void) | null} */
  let onDone = null;
  let want = 0;
  events.on("completed", () => {
    completed++;
    if (completed === want) onDone?.();
  });
  // Each job's result awaited by the producer, as create() + wait(id) does: queue.add, then
  // job.waitUntilFinished(queueEvents) (BullMQ's way for a producer to get a job's outcome).
  const batch = async (/** @type {number} */ n) => {
    const waits = new Array(n);
    for (let i = 0; i < n; i++) waits[i] = queue.add("noop", { i }).then((job) => job.waitUntilFinished(events));
    const done = await Promise.all(waits);
    if (done.some((r) => r?.ok !== 1)) throw new Error("a job did not complete");
  };
  await batch(Math.ceil(size / 20)); // warm-up
  const t0 = now();
  await batch(size);
  const ms = now() - t0;
  /** @type {number[]} */
  const lat = [];
  events.on("progress", ({ data }) => lat.push(stamp() - Number(/** @type {any} */ (data).message)));
  want = 1;
  completed = 0;
  const done = new Promise((r) => {
    onDone = () => r(undefined);
  });
  await queue.add("ticker", { n: reports });
  await done;
  await worker.close();
  await events.close();
  await queue.close();
  return { ms, lat };
}

main(async () => {
  const redis = await startRedis();
  try {
    const { ms, lat } = impl === "execman" ? await execman(redis.connection) : await baseline(redis.connection);
    if (lat.length < reports * 0.9) throw new Error(`only ${lat.length} of ${reports} progress reports seen`);
    report(
      {
        [`W9 BullMQ jobs/s c=${concurrency}`]: { value: (size * 1000) / ms, unit: "exec/s" },
        "W9 progress -> producer p50": { value: quantile(lat, 0.5), unit: "ms" },
        "W9 progress -> producer p99": { value: quantile(lat, 0.99), unit: "ms" },
      },
      { size, concurrency, reports: lat.length },
    );
  } finally {
    await redis.stop();
  }
  process.exit(0);
});
