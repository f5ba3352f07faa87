// W10 durable managers (execman only), in one process, on a fileStore in a temporary folder:
// - "W10 W2 in memory" and "W10 W2 on a fileStore": W2's tracked lifecycle (track, start, 10
//   reportProgress, complete) N times, on `new ExecutionManager()` and on a durable manager, the
//   durable one's time including the flush() that makes it all durable (target: ≤ 1.5× memory);
// - "W10 open": `ExecutionManager.open` of a store holding --open-size executions (default
//   1,000,000 completed tracked ones; target ≤ 2 s);
// - "W10 store bytes / JSON bytes": a store holding only puts (pending tracked executions, as an
//   image holds them) against the JSON of their snapshots (target ≤ 1.2);
// - "W10 flush p50" / "W10 flush p99": one change then `await flush()` (write + fsync), --flushes
//   times.
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { ROOT, consume, intArg, main, now, parseArgs, report, section } from "./_harness.mjs";

const args = parseArgs();
const size = intArg(args, "size", 100_000);
const openSize = intArg(args, "open-size", 1_000_000);
const flushes = intArg(args, "flushes", 1000);
const pkg = args.pkg ? path.resolve(ROOT, args.pkg) : path.join(ROOT, "pkg");
const { ExecutionManager, fileStore } = createRequire(import.meta.url)(pkg);

function lifecycles(manager, n) {
  for (let i = 0; i < n; i++) {
    const id = manager.track({ targetId: "job", inputs: { n: i } }).id;
    manager.start(id);
    for (let k = 1; k <= 10; k++) manager.reportProgress(id, k, 10);
    consume(manager.complete(id));
  }
}

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

main(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "execman-w9-"));
  try {
    // W2 in memory, then on a file (a warm-up of each first).
    lifecycles(new ExecutionManager(), Math.max(1, size / 100));
    const memory = new ExecutionManager();
    const memoryMs = await section("W10 W2 in memory", () => {
      const t0 = now();
      lifecycles(memory, size);
      return now() - t0;
    });
    memory.free();
    const durable = await ExecutionManager.open({ store: fileStore(path.join(dir, "w2.store")) });
    const fileMs = await section("W10 W2 on a fileStore", async () => {
      const t0 = now();
      lifecycles(durable, size);
      await durable.flush();
      return now() - t0;
    });
    await durable.close();

    // open() of a store holding openSize executions. maxBytes Infinity: with the default budget
    // (256 MiB) the filling manager evicted down to ~319,000 executions, and so did open().
    const big = path.join(dir, "big.store");
    const fill = await ExecutionManager.open({ store: fileStore(big), maxFinished: openSize, maxBytes: Infinity });
    for (let i = 0; i < openSize; i += 10_000) {
      for (let j = i; j < Math.min(openSize, i + 10_000); j++) {
        const id = fill.track({ targetId: "job", inputs: { n: j } }).id;
        fill.start(id);
        fill.complete(id, { n: j });
      }
      await fill.flush();
    }
    await fill.close();
    const bigBytes = fs.statSync(big).size;
    const t0 = now();
    const opened = await ExecutionManager.open({ store: fileStore(big), maxFinished: openSize, maxBytes: Infinity });
    const openMs = now() - t0;
    const held = opened.counts().total;
    await opened.close();

    // Store bytes per execution against its JSON: a store of puts only.
    const puts = path.join(dir, "puts.store");
    const p = await ExecutionManager.open({ store: fileStore(puts), maxFinished: size });
    let json = 0;
    for (let i = 0; i < 10_000; i++) {
      json += JSON.stringify(p.track({ targetId: "job", inputs: { n: i, name: `item ${i}` } })).length;
    }
    await p.close();
    const ratio = fs.statSync(puts).size / json;

    // flush() latency: one change, then flush.
    const f = await ExecutionManager.open({ store: fileStore(path.join(dir, "flush.store")) });
    const times = [];
    for (let i = 0; i < flushes; i++) {
      f.track({ targetId: "job", inputs: { n: i } });
      const s = now();
      await f.flush();
      times.push(now() - s);
    }
    await f.close();
    times.sort((a, b) => a - b);

    report(
      {
        "W10 W2 in memory": { value: (size * 13 * 1000) / memoryMs, unit: "calls/s" },
        "W10 W2 on a fileStore": { value: (size * 13 * 1000) / fileMs, unit: "calls/s" },
        "W10 W2 file/memory time": { value: fileMs / memoryMs, unit: "x" },
        "W10 open": { value: openMs, unit: "ms" },
        "W10 store bytes / JSON bytes": { value: ratio, unit: "x" },
        "W10 flush p50": { value: quantile(times, 0.5), unit: "ms" },
        "W10 flush p99": { value: quantile(times, 0.99), unit: "ms" },
      },
      { size, openSize, held, bigBytes, flushes },
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
