// The memory half of the connect/disconnect test in tests/js/streams.test.mjs, in its own
// process (run with --expose-gc, so that its heap is its own and can be collected at will; not a
// test file: node --test picks up *.test.* only).
//
// For each way a client comes and goes — fetch() with an execution's stream, fetch() with
// /api/v1/events, and over HTTP from the Node server — it runs 1,000 cycles to warm up (V8's and
// Node's caches fill), collects garbage and reads `heapUsed`, runs 1,000 more cycles, collects and
// reads it again. Then, as a control, it opens 1,000 streams and keeps them: about 2 MiB, the
// growth a leak of one stream per cycle would show. It sends the parent
// `{ cycles: { name: { before, after, counts } }, leak: { before, after }, bound }` and exits.

import http from "node:http";
import { ExecutionManager } from "execman";
import { serve } from "execman/server";

const INTERNALS = Symbol.for("execman.internals");
const API = "/api/v1";
/**
 * The growth allowed over 1,000 cycles. What is measured moves by ±300 KiB from run to run; 1,000
 * streams left open take about twice the bound (the parent checks that the control passes it).
 */
const BOUND = 1024 * 1024;

async function heap() {
  for (let i = 0; i < 3; i++) {
    globalThis.gc?.();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return process.memoryUsage().heapUsed;
}

const m = new ExecutionManager();
m.track({ targetId: "c", id: "c1" });
m.start("c1");
const served = await serve({ manager: m });
const agent = new http.Agent({ keepAlive: true, maxSockets: 10 });

/** @type {Record<string, (i: number) => Promise<void>>} */
const KINDS = {
  async "fetch() an execution's stream"(i) {
    const body = /** @type {ReadableStream<Uint8Array>} */ (
      (await m.fetch(new Request(`http://x${API}/executions/c1/events?throttle_ms=${i % 2}`))).body
    );
    const reader = body.getReader();
    await reader.read(); // the snapshot
    m.reportProgress("c1", i, 1e6);
    await reader.read();
    await reader.cancel();
  },
  async "fetch() /api/v1/events"(i) {
    const body = /** @type {ReadableStream<Uint8Array>} */ (
      (await m.fetch(new Request(`http://x${API}/events?targetId=c&n=${i}`))).body
    );
    const reader = body.getReader();
    m.reportProgress("c1", i, 1e6);
    await reader.read();
    await reader.cancel();
  },
  "over HTTP"(i) {
    return new Promise((resolve, reject) => {
      const path = i % 2 === 0 ? `${API}/executions/c1/events` : `${API}/events`;
      const req = http.get({ host: "127.0.0.1", port: served.port, path, agent }, (res) => {
        res.once("data", () => {
          req.destroy();
          resolve();
        });
        if (i % 2 === 1) m.reportProgress("c1", i, 1e6);
      });
      req.on("error", (err) => (/** @type {any} */ (err).code === "ECONNRESET" ? undefined : reject(err)));
    });
  },
};

const settle = async () => {
  const end = Date.now() + 5000;
  while (/** @type {any} */ (m)[INTERNALS]().clients > 0 && Date.now() < end) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};

const cycles = {};
for (const [name, run] of Object.entries(KINDS)) {
  for (let i = 0; i < 1000; i++) await run(i);
  await settle();
  const before = await heap();
  for (let i = 0; i < 1000; i++) await run(i);
  await settle();
  const after = await heap();
  cycles[name] = { before, after, counts: /** @type {any} */ (m)[INTERNALS]() };
}

// The control: 1,000 streams opened and kept.
const kept = [];
const leakBefore = await heap();
for (let i = 0; i < 1000; i++) kept.push((await m.fetch(new Request(`http://x${API}/events?n=${i % 7}`))).body);
const leakAfter = await heap();

agent.destroy();
await served.close();
/** @type {any} */ (process).send({
  cycles,
  leak: { before: leakBefore, after: leakAfter, kept: kept.length },
  bound: BOUND,
});
process.disconnect();
m.free();
