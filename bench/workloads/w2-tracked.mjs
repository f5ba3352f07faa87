// W2 tracked lifecycle: N x (track, start, 10 reportProgress, complete) = 13 calls each,
// default options (maxFinished 10000). Reports calls/second over all 13N calls.
// A warm-up of N/100 lifecycles on a separate manager precedes the timed run.
import { consume, intArg, loadManager, main, now, parseArgs, report, section } from "./_harness.mjs";

const args = parseArgs();
const impl = args.impl || "execman";
const size = intArg(args, "size", 100_000);

function run(ExecutionManager, n) {
  const manager = new ExecutionManager();
  const t0 = now();
  for (let i = 0; i < n; i++) {
    const exec = manager.track({ targetId: "job", inputs: { n: i } });
    const id = exec.id;
    manager.start(id);
    for (let k = 1; k <= 10; k++) manager.reportProgress(id, k, 10);
    consume(manager.complete(id));
  }
  return now() - t0;
}

main(async () => {
  const ExecutionManager = loadManager(impl, args.pkg);
  run(ExecutionManager, Math.max(1, Math.floor(size / 100)));
  const ms = await section("W2 tracked lifecycle", () => run(ExecutionManager, size));
  report({ "W2 tracked lifecycle": { value: (size * 13 * 1000) / ms, unit: "calls/s" } }, { ms, size });
});
