// W1 lifecycle: N create() of a trivial async handler, every one awaited with wait(id)
// (the same way for execman and the baseline), under --concurrency (Infinity or 64).
// p-queue (--impl=pqueue) tracks nothing: queue.add(async () => {}) N times, then onIdle().
// Default options otherwise (maxFinished 10000, so eviction runs as it would in an app).
// A warm-up of N/100 executions on a separate manager precedes the timed run.
import { consume, intArg, loadManager, main, now, parseArgs, report, section } from "./_harness.mjs";

const args = parseArgs();
const impl = args.impl || "execman";
const size = intArg(args, "size", 100_000);
const concurrency = intArg(args, "concurrency", Infinity);
const label = `W1 lifecycle c=${concurrency === Infinity ? "Inf" : concurrency}`;

async function runManager(ExecutionManager, n) {
  const manager = new ExecutionManager({ concurrency });
  manager.register("noop", async () => {});
  const t0 = now();
  const waits = new Array(n);
  for (let i = 0; i < n; i++) {
    const exec = manager.create({ targetId: "noop" });
    waits[i] = manager.wait(exec.id);
  }
  const done = await Promise.all(waits);
  const t1 = now();
  if (done.length !== n || done[n - 1].status !== "completed") throw new Error(`not completed: ${done[n - 1].status}`);
  consume(done[0]);
  return t1 - t0;
}

async function runPQueue(n) {
  const { default: PQueue } = await import("p-queue");
  const queue = new PQueue({ concurrency });
  let ran = 0;
  const t0 = now();
  for (let i = 0; i < n; i++)
    queue.add(async () => {
      ran++;
    });
  await queue.onIdle();
  const t1 = now();
  if (ran !== n) throw new Error(`ran ${ran}`);
  return t1 - t0;
}

main(async () => {
  let ms;
  if (impl === "pqueue") {
    await runPQueue(Math.max(1, Math.floor(size / 100)));
    ms = await section(label, () => runPQueue(size));
  } else {
    const ExecutionManager = loadManager(impl, args.pkg);
    await runManager(ExecutionManager, Math.max(1, Math.floor(size / 100)));
    ms = await section(label, () => runManager(ExecutionManager, size));
  }
  report({ [label]: { value: (size / ms) * 1000, unit: "exec/s" } }, { ms, size, concurrency: String(concurrency) });
});
