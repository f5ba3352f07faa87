// W5 progress: M reportProgress(id, i, M) calls on one running tracked execution, first with no
// subscriber, then (on a fresh manager) with one subscriber that counts events; then M
// ctx.progress(i, M) calls from inside one handler (timed inside the handler, no subscriber).
// Each phase is preceded by a warm-up of M/100 calls on its own manager.
import { intArg, loadManager, main, now, parseArgs, report, section } from "./_harness.mjs";

const args = parseArgs();
const impl = args.impl || "execman";
const calls = intArg(args, "size", 1_000_000);

function reportLoop(ExecutionManager, n, subscribe) {
  const manager = new ExecutionManager();
  let events = 0;
  if (subscribe)
    manager.subscribe(() => {
      events++;
    });
  const id = manager.track({ targetId: "job" }).id;
  manager.start(id);
  const before = events;
  const t0 = now();
  for (let i = 0; i < n; i++) manager.reportProgress(id, i, n);
  const ms = now() - t0;
  if (subscribe && events - before !== n) throw new Error(`expected ${n} events, got ${events - before}`);
  return ms;
}

async function ctxLoop(ExecutionManager, n) {
  const manager = new ExecutionManager();
  let ms = 0;
  manager.register("loop", (inputs, ctx) => {
    const t0 = now();
    for (let i = 0; i < n; i++) ctx.progress(i, n);
    ms = now() - t0;
    return null;
  });
  const exec = manager.create({ targetId: "loop" });
  const done = await manager.wait(exec.id);
  if (done.status !== "completed") throw new Error(`handler ended ${done.status}`);
  return ms;
}

main(async () => {
  const ExecutionManager = loadManager(impl, args.pkg);
  const warm = Math.max(1, Math.floor(calls / 100));
  reportLoop(ExecutionManager, warm, false);
  const noSubMs = await section("W5 reportProgress, no subscriber", () => reportLoop(ExecutionManager, calls, false));
  reportLoop(ExecutionManager, warm, true);
  const subMs = await section("W5 reportProgress, 1 subscriber", () => reportLoop(ExecutionManager, calls, true));
  await ctxLoop(ExecutionManager, warm);
  const ctxMs = await section("W5 ctx.progress", () => ctxLoop(ExecutionManager, calls));
  report(
    {
      "W5 reportProgress, no subscriber": { value: (calls * 1000) / noSubMs, unit: "calls/s" },
      "W5 reportProgress, 1 subscriber": { value: (calls * 1000) / subMs, unit: "calls/s" },
      "W5 ctx.progress": { value: (calls * 1000) / ctxMs, unit: "calls/s" },
    },
    { calls, noSubMs, subMs, ctxMs },
  );
});
