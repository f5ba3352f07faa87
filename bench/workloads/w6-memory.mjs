// W6 memory: bytes per retained completed execution. N executions with inputs {n: i} are
// taken to "completed" and kept (maxFinished Infinity); nothing else is retained by the script.
// --mode=tracked: track, start, complete(id) (result null)
// --mode=handler: create on a registered async handler returning null, all awaited with wait()
// Bytes = growth of the wasm linear memory (execman; read from the captured WebAssembly
// instance, see captureWasmInstances) + growth of the JS heap (heapUsed), both after
// global.gc(). rss growth is reported as information.
import { captureWasmInstances, gc, intArg, loadManager, main, parseArgs, report } from "./_harness.mjs";

const args = parseArgs();
const impl = args.impl || "execman";
const size = intArg(args, "size", 100_000);
const mode = args.mode || "tracked";
const instances = captureWasmInstances();

function wasmBytes() {
  let total = 0;
  for (const inst of instances) {
    for (const value of Object.values(inst.exports)) {
      if (value instanceof WebAssembly.Memory) total += value.buffer.byteLength;
    }
  }
  return total;
}

function sample() {
  gc();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, wasm: wasmBytes(), rss: m.rss, external: m.external, arrayBuffers: m.arrayBuffers };
}

async function fill(manager, n) {
  if (mode === "tracked") {
    for (let i = 0; i < n; i++) {
      const id = manager.track({ targetId: "job", inputs: { n: i } }).id;
      manager.start(id);
      manager.complete(id);
    }
  } else {
    const waits = new Array(n);
    for (let i = 0; i < n; i++) waits[i] = manager.wait(manager.create({ targetId: "work", inputs: { n: i } }).id);
    const done = await Promise.all(waits);
    if (done[n - 1].status !== "completed") throw new Error("not completed");
  }
}

main(async () => {
  const ExecutionManager = loadManager(impl, args.pkg);
  const manager = new ExecutionManager({ maxFinished: Infinity, maxBytes: Infinity });
  manager.register("work", async () => null);
  await fill(manager, 100); // warm-up: lazily allocated state exists before the first sample
  await new Promise((r) => setTimeout(r, 10));
  const before = sample();
  await fill(manager, size);
  await new Promise((r) => setTimeout(r, 10));
  const after = sample();
  const counts = manager.counts();
  if (counts.completed !== size + 100) throw new Error(`expected ${size + 100} completed, got ${counts.completed}`);
  const wasm = after.wasm - before.wasm;
  const heap = after.heap - before.heap;
  report(
    {
      [`W6 memory (${mode})`]: { value: (wasm + heap) / size, unit: "B/exec" },
    },
    {
      size,
      mode,
      wasmMemoryFound: instances.length > 0,
      wasmBytesPerExec: wasm / size,
      heapBytesPerExec: heap / size,
      rssBytesPerExec: (after.rss - before.rss) / size,
      externalBytesPerExec: (after.external - before.external) / size,
      wasmMemoryAfter: after.wasm,
    },
  );
});
