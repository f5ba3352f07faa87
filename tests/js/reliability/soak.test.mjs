// Bounded memory, short version of scripts/soak.mjs (run that for the 1,000,000-execution soak):
// 50,000 executions through a manager with maxFinished 1,000, then 20,000 held executions with
// listeners subscribed and unsubscribed repeatedly. No timing is asserted, only plateaus:
// the value at the end may not exceed the value at 20% (+ slack).
// EXECMAN_LONG=1: 300,000 executions and 100,000 held executions.
import assert from "node:assert/strict";
import { getGc, loadPackage, plateau, soakExecutions, soakListeners } from "../../../scripts/soak.mjs";
import { LONG, test } from "./lib.mjs";

const MiB = 1024 * 1024;
const mib = (b) => (b / MiB).toFixed(2);
// Loaded once, before anything else in this process, so that its wasm memory can be captured.
const pkg = await loadPackage("execman");

test(
  `soak: ${LONG ? "300,000" : "50,000"} executions with maxFinished 1,000: wasm memory and JS heap plateau`,
  async () => {
    const total = LONG ? 300_000 : 50_000;
    const r = await soakExecutions(pkg.ExecutionManager, pkg.memory, { total, maxFinished: 1000, samples: 10 });
    // The store keeps records inline in one hash table: its one doubling (to 4,096 buckets, about
    // 1 MiB since records carry the scheduling fields) may come after the 20% sample. A leak keeps
    // growing: the second half must be flat.
    const wasm = plateau(r.samples, "wasm", { ratio: 0, bytes: 1.5 * MiB });
    const half = r.samples[Math.round((r.samples.length - 1) / 2)].wasm;
    const heap = plateau(r.samples, "heap", { ratio: 0.1, bytes: 2 * MiB });
    console.log(
      `soak (${total} executions, ${(r.ms / 1000).toFixed(1)} s): ` +
        `wasm MiB ${r.samples.map((s) => mib(s.wasm)).join(" ")}; JS heap MiB ${r.samples.map((s) => mib(s.heap)).join(" ")}`,
    );
    assert.equal(r.counts.total, 1000, "maxFinished bounds what is held");
    assert.equal(r.counts.pending + r.counts.running, 0);
    for (const k of ["completed", "failed", "cancelled"]) assert.ok(r.counts[k] >= 300, `${k}: ${r.counts[k]}`);
    assert.ok(
      r.samples.every((s, i) => i === 0 || s.held === 1000),
      "1,000 held at every sample",
    );
    assert.ok(wasm.ok, `wasm memory grows: ${mib(wasm.at20)} MiB at 20%, ${mib(wasm.end)} MiB at the end`);
    assert.ok(
      wasm.end <= half + 0.25 * MiB,
      `wasm memory grows: ${mib(half)} MiB at 50%, ${mib(wasm.end)} MiB at the end`,
    );
    assert.ok(heap.ok, `JS heap grows: ${mib(heap.at20)} MiB at 20%, ${mib(heap.end)} MiB at the end`);
  },
  { timeout: 600_000 },
);

test(
  `soak: ${LONG ? "100,000" : "20,000"} held executions, listeners subscribed and unsubscribed repeatedly: none left, memory back to baseline`,
  async () => {
    const held = LONG ? 100_000 : 20_000;
    const r = await soakListeners(pkg.ExecutionManager, pkg.memory, {
      held,
      rounds: LONG ? 20 : 8,
      listeners: LONG ? 10_000 : 2_000,
    });
    console.log(
      `listener soak (${held} held): baseline wasm ${mib(r.baseline.wasm)} MiB, JS heap ${mib(r.baseline.heap)} MiB; ` +
        `rounds wasm ${r.rounds.map((s) => mib(s.wasm)).join(" ")}; JS heap ${r.rounds.map((s) => mib(s.heap)).join(" ")}`,
    );
    assert.equal(r.held, held + 1);
    for (const s of r.rounds) assert.equal(s.called, 1, `round ${s.round}: only the probe's own listener is called`);
    const last = r.rounds[r.rounds.length - 1];
    assert.ok(last.wasm <= r.baseline.wasm + 1 * MiB, `wasm memory ${mib(r.baseline.wasm)} -> ${mib(last.wasm)} MiB`);
    assert.ok(last.heap <= r.baseline.heap * 1.1 + 2 * MiB, `JS heap ${mib(r.baseline.heap)} -> ${mib(last.heap)} MiB`);
  },
  { timeout: 600_000 },
);

test("dropped managers are garbage-collected and their wasm memory reused; one that its own handler or listener references is released by free()", async () => {
  const { ExecutionManager, memory } = pkg;
  const gc = getGc();
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const collect = async () => {
    for (let i = 0; i < 6; i++) {
      gc();
      await sleep(10);
    }
  };
  let finalized = 0;
  const registry = new FinalizationRegistry(() => finalized++);
  const wirePlain = (m) => {
    m.register("t", () => 1);
    m.subscribe(() => {});
  };
  const wireSelfReferencing = (m) => {
    m.register("t", () => m.counts().total);
    m.subscribe(() => m.counts());
  };
  /** n managers, each with a handler, a listener and a few executions, then dropped. */
  const round = async (n, { selfReferencing, free }) => {
    for (let i = 0; i < n; i++) {
      const m = new ExecutionManager();
      registry.register(m, i);
      // (Built outside this scope: a closure created here would share V8's context holding m.)
      if (selfReferencing) wireSelfReferencing(m);
      else wirePlain(m);
      for (let k = 0; k < 3; k++) m.track({ targetId: "x", inputs: { pad: "p".repeat(200) } });
      const { id } = m.create({ targetId: "t" });
      await m.wait(id);
      if (free) m.free();
    }
  };
  await round(500, { selfReferencing: false, free: false });
  await collect();
  const afterFirst = memory.buffer.byteLength;
  await round(500, { selfReferencing: false, free: false });
  await collect();
  assert.equal(finalized, 1000, "every dropped manager was collected");
  assert.ok(
    memory.buffer.byteLength <= afterFirst + 1 * MiB,
    `wasm memory reused: ${mib(afterFirst)} -> ${mib(memory.buffer.byteLength)} MiB`,
  );

  await round(500, { selfReferencing: true, free: true });
  await collect();
  const afterFreed = memory.buffer.byteLength;
  await round(500, { selfReferencing: true, free: true });
  await collect();
  assert.ok(
    memory.buffer.byteLength <= afterFreed + 1 * MiB,
    `free() releases self-referencing managers: ${mib(afterFreed)} -> ${mib(memory.buffer.byteLength)} MiB`,
  );

  // Not asserted (the contract says nothing about it): without free(), a manager referenced by its own
  // handler or listener is never collected (Rust holds the JS function, which holds the manager).
  const before = finalized;
  const wasmBefore = memory.buffer.byteLength;
  await round(300, { selfReferencing: true, free: false });
  await collect();
  console.log(
    `managers referenced by their own handler/listener, dropped without free(): ${finalized - before} of 300 collected; ` +
      `wasm ${mib(wasmBefore)} -> ${mib(memory.buffer.byteLength)} MiB`,
  );
});
