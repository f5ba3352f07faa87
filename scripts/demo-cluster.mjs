// `npm run demo -- --cluster`: execman over BullMQ, on one machine standing for several.
//
//   - a redis-server of its own on a free 127.0.0.1 port (scripts/redis-server.mjs), stopped at exit;
//   - two worker processes, A and B (this file with `--worker`): each a manager with a "render"
//     target registered, run by execman/bullmq's work() with 2 jobs at a time, a short lock (2 s)
//     and stalled check (1 s) so that a dead worker's jobs come back quickly;
//   - this process as the API process: "render" registered as enqueue(queue), a batch of 8
//     executions created, live progress bars from subscribe();
//   - once worker A runs two jobs, it is killed with SIGKILL: BullMQ's stalled-job check moves
//     its jobs back to waiting, execman shows them pending again (attempt 1 interrupted), and
//     worker B runs them (attempt 2).
//
// Exit code 0 when every execution completed, the killed worker's jobs on B at their second
// attempt; anything else prints why and exits with 1.

import { fork } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const QUEUE = "render";
const JOBS = 8;
const FRAMES = 16;
const FRAME_MS = 150;
const IS_TTY = Boolean(process.stdout.isTTY);

/** A worker process: `node demo-cluster.mjs --worker <name> <port>`. */
async function worker(name, port) {
  const { ExecutionManager } = require("../pkg");
  const { work } = require("../pkg/bullmq.cjs");
  const manager = new ExecutionManager();
  manager.register("render", async ({ clip, frames }, { progress, signal, attempt }) => {
    process.send?.({ type: "started", clip, attempt });
    for (let f = 1; f <= frames; f++) {
      await new Promise((resolve, reject) => {
        const abort = () => {
          clearTimeout(t);
          reject(signal.reason);
        };
        const t = setTimeout(() => {
          signal.removeEventListener("abort", abort);
          resolve(undefined);
        }, FRAME_MS);
        signal.addEventListener("abort", abort, { once: true });
      });
      progress(f, frames, `frame ${f}/${frames} on worker ${name}`);
    }
    return { clip, worker: name, pid: process.pid };
  });
  const w = work(manager, QUEUE, {
    connection: { host: "127.0.0.1", port: Number(port) },
    concurrency: 2,
    lockDuration: 2000,
    stalledInterval: 1000,
  });
  w.on("error", () => {});
  await w.waitUntilReady();
  process.send?.({ type: "ready" });
  process.on("message", async (m) => {
    if (m?.type === "close") {
      await w.close();
      process.exit(0);
    }
  });
}

/** The API process. */
export async function cluster() {
  const { ExecutionManager } = require("../pkg");
  const { enqueue } = require("../pkg/bullmq.cjs");
  const { Queue } = require("bullmq");
  const { startRedis } = await import("./redis-server.mjs");
  const t0 = Date.now();
  const redis = await startRedis();
  const say = (text) => {
    if (!IS_TTY) console.log(`[${((Date.now() - t0) / 1000).toFixed(2).padStart(6)}s] ${text}`);
  };
  console.log(`\nexecman cluster demo: redis-server on 127.0.0.1:${redis.port}, workers A and B, this API process\n`);
  const workers = {};
  for (const name of ["A", "B"]) {
    const child = fork(fileURLToPath(import.meta.url), ["--worker", name, String(redis.port)], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const w = { name, child, started: [], pid: child.pid };
    child.on("message", (m) => {
      if (m.type === "started") w.started.push(m);
    });
    await new Promise((resolve, reject) => {
      child.once("exit", (code) => reject(new Error(`worker ${name} exited (${code})`)));
      child.on("message", (m) => m.type === "ready" && resolve());
    });
    child.removeAllListeners("exit");
    workers[name] = w;
    say(`worker ${name} ready (pid ${child.pid})`);
  }
  const manager = new ExecutionManager();
  const queue = new Queue(QUEUE, { connection: redis.connection });
  const render = enqueue(queue);
  manager.register("render", render, { type: "video", retry: { attempts: 3, backoff: { delayMs: 500 } } });
  await render.ready();

  const display = await bars(say);
  manager.subscribe(display.onEvent);
  const ids = [];
  for (let i = 1; i <= JOBS; i++) {
    ids.push(manager.create({ targetId: "render", inputs: { clip: `clip-${i}.mp4`, frames: FRAMES } }).id);
  }

  // Kill worker A once it runs two jobs and they are a third done.
  while (workers.A.started.length < 2) await sleep(20);
  await sleep(FRAMES * FRAME_MS * 0.35);
  const victims = workers.A.started.map((s) => s.clip);
  workers.A.child.kill("SIGKILL");
  display.note(`SIGKILL worker A (pid ${workers.A.pid}) while it runs ${victims.join(", ")}`);

  const done = await Promise.all(ids.map((id) => manager.wait(id)));
  display.stop();
  workers.B.child.send({ type: "close" });
  await new Promise((r) => workers.B.child.once("exit", r));
  await render.close();
  await queue.close();
  await redis.stop();

  console.log("\n  clip          status     worker  attempts  time");
  for (const x of done) {
    const time = x.finishedAt && x.startedAt ? `${((x.finishedAt - x.startedAt) / 1000).toFixed(2)}s` : "-";
    console.log(
      `  ${x.inputs.clip.padEnd(12)}  ${x.status.padEnd(9)}  ${String(x.result?.worker ?? "-").padEnd(6)}  ` +
        `${`${x.attempt}/${x.maxAttempts}`.padEnd(8)}  ${time}`,
    );
  }
  const problems = [];
  for (const x of done) {
    if (x.status !== "completed") problems.push(`${x.inputs.clip} ended ${x.status}`);
    else if (victims.includes(x.inputs.clip) && (x.result.worker !== "B" || x.attempt !== 2)) {
      problems.push(`${x.inputs.clip} was on A when it died: expected B at attempt 2`);
    }
  }
  console.log(
    `\n${victims.length} jobs of the killed worker ran again on B (attempt 2); counts: ${JSON.stringify(manager.counts())}`,
  );
  manager.free();
  if (problems.length > 0) throw new Error(problems.join("; "));
}

/** Bars (cli-progress) on a terminal, plain lines otherwise. */
async function bars(say) {
  const label = (e) => `${e.inputs.clip.padEnd(12)}`;
  const text = (e) => {
    if (e.status === "pending" && e.attempt > 0) return `attempt ${e.attempt} ${e.error.code}: retrying`;
    if (e.status === "completed") return `done on worker ${e.result.worker}, attempt ${e.attempt}`;
    return e.progress?.message ?? e.status;
  };
  let cliProgress = null;
  if (IS_TTY) {
    try {
      ({ default: cliProgress } = await import("cli-progress"));
    } catch {
      cliProgress = null;
    }
  }
  if (cliProgress === null) {
    const last = new Map();
    return {
      onEvent({ type, execution: e }) {
        if (type === "status" || type === "created") say(`${label(e)} ${e.status.padEnd(9)} ${text(e)}`);
        else if (type === "progress") {
          const q = Math.floor((e.progress.percentage ?? 0) / 25);
          if (q > (last.get(`${e.id}/${e.attempt}`) ?? 0)) {
            last.set(`${e.id}/${e.attempt}`, q);
            say(`${label(e)} ${String(Math.round(e.progress.percentage)).padStart(3)}%      ${text(e)}`);
          }
        }
      },
      note: (t) => say(`→ ${t}`),
      stop() {},
    };
  }
  const multibar = new cliProgress.MultiBar(
    { format: " {label} {bar} {pct} {status} {text}", barsize: 24, hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  const all = new Map();
  const payload = (e) => ({
    label: label(e),
    pct: `${Math.round(e.progress?.percentage ?? (e.status === "completed" ? 100 : 0))}%`.padStart(4),
    status: e.status.padEnd(9),
    text: text(e),
  });
  return {
    onEvent({ type, execution: e }) {
      if (type === "created") all.set(e.id, multibar.create(100, 0, payload(e)));
      all.get(e.id)?.update(e.progress?.percentage ?? (e.status === "completed" ? 100 : 0), payload(e));
    },
    note: (t) => multibar.log(`→ ${t}\n`),
    stop: () => multibar.stop(),
  };
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

if (process.argv[2] === "--worker") {
  worker(process.argv[3], process.argv[4]).catch((err) => {
    console.error(`worker ${process.argv[3]}:`, err);
    process.exit(1);
  });
}
