"use strict";
// A manager that nothing subscribes to, fed creations from outside the JS class's own calls, for
// leak.test.mjs (run with --expose-gc):
//   node --expose-gc leak-child.cjs handle N   N handle() POSTs in this process
//   node --expose-gc leak-child.cjs http       execman/server on 127.0.0.1; the parent sends the
//                                              POSTs and asks for samples over IPC ("sample")
// A sample is { heapMiB, wasmMiB, held } after a full GC. The wasm instance is captured when the
// package instantiates its module, to read the size of its memory.
const { loadWithMemory } = require("./wasm-memory.cjs");
const {
  execman: { ExecutionManager },
  memory,
} = loadWithMemory();
const { serve } = require("execman/server");

const manager = new ExecutionManager(); // maxFinished 10,000
manager.register("noop", () => 1);

async function sample() {
  await new Promise((resolve) => setImmediate(resolve));
  global.gc();
  global.gc();
  return {
    heapMiB: +(process.memoryUsage().heapUsed / 2 ** 20).toFixed(2),
    wasmMiB: +(memory.buffer.byteLength / 2 ** 20).toFixed(2),
    held: manager.counts().total,
  };
}

const [mode, count] = process.argv.slice(2);
if (mode === "handle") {
  (async () => {
    const n = Number(count);
    const samples = [];
    for (let i = 1; i <= n; i++) {
      const r = manager.handle({ method: "POST", path: "/api/v1/executions", body: { targetId: "noop" } });
      if (r.status !== 201) throw new Error(`POST ${i}: ${r.status}`);
      if (i % 1000 === 0) await new Promise((resolve) => setImmediate(resolve));
      if (i === 20_000 || i === n / 2 || i === n) samples.push({ at: i, ...(await sample()) });
    }
    process.stdout.write(`${JSON.stringify(samples)}\n`);
  })();
} else {
  serve({ manager, port: 0 }).then(({ url }) => {
    process.on("message", async (m) => {
      if (m === "sample") process.send({ sample: await sample() });
      if (m === "exit") process.exit(0);
    });
    process.send({ url });
  });
}
