// Bounded memory, short version of scripts/soak.mjs (run that for the 1,000,000-execution soak):
// 50,000 executions through a manager with maxFinished 1,000, then 20,000 held executions with
// listeners subscribed and unsubscribed repeatedly. No timing is asserted, only plateaus:
// the value at the end may not exceed the value at 20% (+ slack).
// EXECMAN_LONG=1: 300,000 executions and 100,000 held executions.
import assert from "node:assert/strict";
import { loadPackage, plateau, soakExecutions, soakListeners } from "../../../scripts/soak.mjs";
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
    const wasm = plateau(r.samples, "wasm", { ratio: 0, bytes: 1 * MiB });
    const heap = plateau(r.samples, "heap", { ratio: 0.1, bytes: 2 * MiB });
    console.log(
      `soak (${total} executions, ${(r.ms / 1000).toFixed(1)} s): ` +
        `wasm MiB ${r.samples.map((s) => mib(s.wasm)).join(" ")}; JS heap MiB ${r.samples.map((s) => mib(s.heap)).join(" ")}`,
    );
    assert.equal(r.counts.total, 1000, "maxFinished bounds what is held");
    assert.equal(r.counts.pending + r.counts.running, 0);
    for (const k of ["completed", "failed", "cancelled"]) assert.ok(r.counts[k] >= 300, `${k}: ${r.counts[k]}`);
    assert.ok(r.samples.every((s, i) => i === 0 || s.held === 1000), "1,000 held at every sample");
    assert.ok(wasm.ok, `wasm memory grows: ${mib(wasm.at20)} MiB at 20%, ${mib(wasm.end)} MiB at the end`);
    assert.ok(heap.ok, `JS heap grows: ${mib(heap.at20)} MiB at 20%, ${mib(heap.end)} MiB at the end`);
  },
  { timeout: 600_000 },
);

test(
  `soak: ${LONG ? "100,000" : "20,000"} held executions, listeners subscribed and unsubscribed repeatedly: none left, memory back to baseline`,
  async () => {
    const held = LONG ? 100_000 : 20_000;
    const r = await soakListeners(pkg.ExecutionManager, pkg.memory, { held, rounds: LONG ? 20 : 8, listeners: LONG ? 10_000 : 2_000 });
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
