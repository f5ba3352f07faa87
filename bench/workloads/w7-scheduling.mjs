// W7 scheduling, two modes:
//   --mode=mixed: N executions of a trivial async handler with random priorities (0..9) and, one
//     in five, a random delayMs (1..20 ms), under concurrency 16, every one awaited with wait(id);
//     exec/s (the delays add the same few ms of waiting to both implementations).
//   --mode=held --size=H: H executions held pending, not timed to create — half delayed by an
//     hour, half due with priority -1, below every dispatched one — then K (--dispatch, default
//     10,000) executions with random priorities 0..9 created and awaited through concurrency 16;
//     µs per dispatched execution: the cost of the run queue with H held, whose growth over H
//     bench/run.mjs reports.
// Priorities and delays come from a seeded generator (the same for both implementations).
// maxBytes Infinity: 1,000,000 held executions are past the default budget.
import { consume, intArg, loadManager, main, now, parseArgs, report, rng, section } from "./_harness.mjs";

const args = parseArgs();
const impl = args.impl || "execman";
const mode = args.mode || "mixed";
const size = intArg(args, "size", 100_000);
const dispatch = intArg(args, "dispatch", 10_000);
const CONCURRENCY = 16;

/** Creates n executions with random priorities (and delays, with `delays`) and awaits them all; ms. */
async function run(manager, n, random, delays) {
  const t0 = now();
  const waits = new Array(n);
  for (let i = 0; i < n; i++) {
    const request = { targetId: "noop", priority: Math.floor(random() * 10) };
    if (delays && random() < 0.2) request.delayMs = 1 + Math.floor(random() * 20);
    waits[i] = manager.wait(manager.create(request).id);
  }
  const done = await Promise.all(waits);
  const t1 = now();
  if (done[n - 1].status !== "completed") throw new Error(`not completed: ${done[n - 1].status}`);
  consume(done[0]);
  return t1 - t0;
}

function fresh(ExecutionManager) {
  const manager = new ExecutionManager({ concurrency: CONCURRENCY, maxBytes: Infinity });
  manager.register("noop", async () => {});
  return manager;
}

main(async () => {
  const ExecutionManager = loadManager(impl, args.pkg);
  const random = rng(0x5eed);
  await run(fresh(ExecutionManager), Math.max(1, Math.floor(Math.min(size, dispatch) / 10)), random, true);
  if (mode === "mixed") {
    const manager = fresh(ExecutionManager);
    const label = "W7 priorities + delays c=16";
    const ms = await section(label, () => run(manager, size, random, true));
    report({ [label]: { value: (size / ms) * 1000, unit: "exec/s" } }, { ms, size });
  } else {
    const manager = fresh(ExecutionManager);
    const tp = now();
    for (let i = 0; i < size; i++) {
      manager.create(i % 2 === 0 ? { targetId: "noop", delayMs: 3_600_000 } : { targetId: "noop", priority: -1 });
    }
    const populateMs = now() - tp;
    const label = "W7 dispatch, held pending";
    const ms = await section(label, () => run(manager, dispatch, random, false));
    report({ [label]: { value: (ms * 1000) / dispatch, unit: "µs" } }, { ms, held: size, dispatch, populateMs });
  }
  // Held executions (and the baseline's timers of an hour) would keep the process alive.
  process.exit(0);
});
