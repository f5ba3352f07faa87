// A worker process of the BullMQ tests: a manager with the test targets registered, and `work()` on
// the queue named in argv, reporting to its parent over IPC what it does (each start with its
// attempt and pid, each abort of a handler's signal with the time it saw it).
//
//   node worker-child.mjs <port> <queue> <concurrency> [lockDuration stalledInterval]

import { ExecutionManager } from "execman";
import { work } from "execman/bullmq";

const [port, queue, concurrency, lockDuration, stalledInterval] = process.argv.slice(2);
const send = (/** @type {object} */ m) => process.send?.({ pid: process.pid, at: Date.now(), ...m });
const sleep = (/** @type {number} */ ms, /** @type {AbortSignal} */ signal) =>
  new Promise((resolve, reject) => {
    const abort = () => {
      clearTimeout(t);
      reject(signal.reason ?? new Error("aborted"));
    };
    const t = setTimeout(() => {
      signal.removeEventListener("abort", abort);
      resolve(undefined);
    }, ms);
    signal.addEventListener("abort", abort, { once: true });
  });

const manager = new ExecutionManager();
/** @param {string} name @param {(inputs: any, ctx: any) => unknown} fn */
const target = (name, fn) =>
  manager.register(name, async (inputs, ctx) => {
    send({ type: "started", name, id: ctx.id, attempt: ctx.attempt });
    ctx.signal.addEventListener("abort", () =>
      send({ type: "aborted", id: ctx.id, reason: String(ctx.signal.reason) }),
    );
    return fn(inputs, ctx);
  });

target("add", ({ a, b }) => ({ sum: a + b }));
target("fail", ({ final }) => {
  const err = Object.assign(new TypeError("boom"), final ? { retryable: false } : {});
  throw err;
});
target("flaky", ({ succeedAt }, { attempt }) => {
  if (attempt < succeedAt) throw new RangeError(`attempt ${attempt} failed`);
  return { attempt };
});
target("steps", async ({ steps, ms }, { progress, signal }) => {
  for (let i = 1; i <= steps; i++) {
    await sleep(ms, signal);
    progress(i, steps, `step ${i}`);
  }
  return "done";
});
target("sleep", async ({ ms }, { signal }) => {
  await sleep(ms, signal);
  return { slept: ms };
});
target("ignore-signal", async ({ ms }) => {
  await new Promise((r) => setTimeout(r, ms));
  return "late";
});
target("pid", async ({ ms }, { signal }) => {
  await sleep(ms, signal);
  return { pid: process.pid };
});
target("bad-result", () => () => 1);

const options = {
  connection: { host: "127.0.0.1", port: Number(port) },
  concurrency: Number(concurrency),
  ...(lockDuration
    ? { lockDuration: Number(lockDuration), stalledInterval: Number(stalledInterval), maxStalledCount: 3 }
    : {}),
};
const worker = work(manager, queue, options);
worker.on("error", () => {});
worker.waitUntilReady().then(() => send({ type: "ready" }));
process.on("message", async (m) => {
  if (/** @type {any} */ (m)?.type === "close") {
    await worker.close();
    process.exit(0);
  }
});
