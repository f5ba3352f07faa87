// W3 lookups: M status(id) and M progress(id) on ids drawn (seeded, the same for both
// implementations) among N held executions. Each held execution is tracked with small inputs,
// started and has reported progress, so status() returns a running snapshot with a Progress and
// progress() returns a Progress. The id array is generated before timing.
// A warm-up of M/100 lookups of each kind precedes the timed loops.
import { consume, intArg, loadManager, main, now, parseArgs, report, rng, section } from "./_harness.mjs";

const args = parseArgs();
const impl = args.impl || "execman";
const held = intArg(args, "size", 100_000);
const lookups = intArg(args, "lookups", held * 10);

main(async () => {
  const ExecutionManager = loadManager(impl, args.pkg);
  const manager = new ExecutionManager();
  const ids = new Array(held);
  for (let i = 0; i < held; i++) {
    const id = manager.track({ targetId: "job", inputs: { n: i } }).id;
    manager.start(id);
    manager.reportProgress(id, i % 100, 100, "step");
    ids[i] = id;
  }
  const random = rng(12345);
  const queries = new Array(lookups);
  for (let i = 0; i < lookups; i++) queries[i] = ids[Math.floor(random() * held)];

  const time = (fn, n) => {
    const t0 = now();
    for (let i = 0; i < n; i++) consume(fn(queries[i]));
    return now() - t0;
  };
  const status = (id) => manager.status(id);
  const progress = (id) => manager.progress(id);
  time(status, Math.floor(lookups / 100));
  time(progress, Math.floor(lookups / 100));
  const statusMs = await section("W3 status(id)", () => time(status, lookups));
  const progressMs = await section("W3 progress(id)", () => time(progress, lookups));
  report(
    {
      "W3 status(id)": { value: (statusMs * 1e6) / lookups, unit: "ns/op" },
      "W3 progress(id)": { value: (progressMs * 1e6) / lookups, unit: "ns/op" },
    },
    { held, lookups, statusMs, progressMs },
  );
});
