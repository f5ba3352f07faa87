#!/usr/bin/env node
// Bounded-memory soak of the built package.
//
//   node --expose-gc scripts/soak.mjs [--total 1000000] [--max-finished 1000] [--samples 20]
//                                     [--held 100000] [--rounds 20] [--listeners 10000]
//                                     [--pkg <specifier or path>] [--json]
//
// Phase 1 pushes --total executions through one manager with maxFinished --max-finished: half
// handler-driven (an async handler that reports progress and resolves, throws, or is cancelled),
// half tracked (track → start → reportProgress → complete | fail | cancel), with a listener
// subscribed throughout. At --samples evenly spaced points it forces a GC and records the
// WebAssembly memory (the instance's memory.buffer.byteLength: wasm memory never shrinks, so
// this is the heap's high-water mark) and the JS heap (process.memoryUsage().heapUsed).
// Both must plateau: the value at the end may not exceed the value at 20% by more than the slack.
//
// Phase 2 holds --held tracked executions, then --rounds times subscribes --listeners listeners,
// delivers events to them, and unsubscribes them all; after each round the number of listeners
// still called (one probe event) must be 0 and the memory must return to the baseline (+ slack).
//
// The wasm memory is read by capturing the WebAssembly.Instance the package creates when it is
// loaded (wasm-bindgen's nodejs output does not export it); so the package must not have been
// loaded before in this process. Exits 1 if a plateau check fails.
//
// As a module: `import { runSoak, loadPackage } from "./soak.mjs"` (tests/js/reliability/soak.test.mjs).

import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import v8 from "node:v8";
import vm from "node:vm";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const MiB = 1024 * 1024;

/** `global.gc`, also without --expose-gc. */
export function getGc() {
  if (typeof globalThis.gc === "function") return globalThis.gc;
  v8.setFlagsFromString("--expose-gc");
  return vm.runInNewContext("gc");
}

/**
 * Imports the package, capturing the WebAssembly instance it creates so its memory can be read.
 * @returns {Promise<{ ExecutionManager: any, memory: WebAssembly.Memory }>}
 */
export async function loadPackage(specifier = pathToFileURL(path.join(ROOT, "pkg", "index.mjs")).href) {
  const Original = WebAssembly.Instance;
  let instance;
  function Capturing(module, imports) {
    instance = new Original(module, imports);
    return instance;
  }
  Capturing.prototype = Original.prototype;
  WebAssembly.Instance = Capturing;
  let mod;
  try {
    mod = await import(specifier);
  } finally {
    WebAssembly.Instance = Original;
  }
  const memory = instance?.exports?.memory;
  if (!(memory instanceof WebAssembly.Memory)) {
    throw new Error(
      `could not capture the wasm instance of ${specifier}: was the package already loaded in this process? ` +
        "(an export of the instance's memory, e.g. `__wasm.memory`, would make this unnecessary)",
    );
  }
  return { ExecutionManager: mod.ExecutionManager ?? mod.default?.ExecutionManager, memory };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

function sample(gc, memory, extra) {
  gc();
  gc();
  return { wasm: memory.buffer.byteLength, heap: process.memoryUsage().heapUsed, ...extra };
}

const fmtMiB = (b) => `${(b / MiB).toFixed(2)} MiB`;

/**
 * Phase 1. Returns `{ samples, events, counts, ms }`; samples are `{ done, wasm, heap, held }`.
 */
export async function soakExecutions(
  ExecutionManager,
  memory,
  { total = 1_000_000, maxFinished = 1000, samples = 20, batch = 1000, log = () => {} } = {},
) {
  const gc = getGc();
  const m = new ExecutionManager({ maxFinished });
  let events = 0;
  const off = m.subscribe(() => {
    events++;
  });
  m.register("work", async (inputs, ctx) => {
    ctx.progress(1, 2, "half");
    if (inputs.k === 1) throw new Error(`failure ${inputs.n}`);
    if (inputs.k === 2) await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve, { once: true }));
    return { n: inputs.n, text: "result" };
  });
  const every = Math.max(batch, Math.floor(total / samples / batch) * batch);
  const out = [];
  const started = Date.now();
  out.push(sample(gc, memory, { done: 0, held: m.counts().total, ms: 0 }));
  let done = 0;
  while (done < total) {
    const n = Math.min(batch, total - done);
    const toCancel = [];
    for (let i = 0; i < n; i++) {
      const seq = done + i;
      const k = seq % 3; // 0 completes, 1 fails, 2 is cancelled
      if (seq % 2 === 0) {
        const e = m.create({ targetId: "work", inputs: { n: seq, k }, config: { label: "soak" } });
        if (k === 2) toCancel.push(e.id);
      } else {
        const { id } = m.track({ targetId: "ext", inputs: { n: seq }, type: "tracked" });
        m.start(id);
        m.reportProgress(id, 1, 2, "half");
        if (k === 0) m.complete(id, { n: seq });
        else if (k === 1) m.fail(id, { message: `failure ${seq}`, code: "SOAK" });
        else m.cancel(id, "soak");
      }
    }
    await turn(); // handlers start and settle
    for (const id of toCancel) m.cancel(id, "soak");
    await turn();
    done += n;
    if (done % every === 0 || done === total) {
      const s = sample(gc, memory, { done, held: m.counts().total, ms: Date.now() - started });
      out.push(s);
      log(
        `${String(done).padStart(9)} executions  wasm ${fmtMiB(s.wasm).padStart(11)}  JS heap ${fmtMiB(s.heap).padStart(11)}  held ${s.held}  ${s.ms} ms`,
      );
    }
  }
  const counts = m.counts();
  off();
  return { samples: out, events, counts, ms: Date.now() - started };
}

/**
 * Phase 2. Returns `{ baseline, rounds: [{ round, wasm, heap, called }], ms }`.
 */
export async function soakListeners(
  ExecutionManager,
  memory,
  { held = 100_000, rounds = 20, listeners = 10_000, log = () => {} } = {},
) {
  const gc = getGc();
  const m = new ExecutionManager();
  for (let i = 0; i < held; i++) m.track({ targetId: "held", id: `h${i}` });
  m.track({ targetId: "probe", id: "probe" });
  m.start("probe");
  const started = Date.now();
  // Warm-up round (first-time allocations), then the baseline.
  const round = (count) => {
    let calls = 0;
    const offs = [];
    for (let i = 0; i < count; i++) offs.push(m.subscribe(() => calls++));
    for (let k = 0; k < 5; k++) m.reportProgress("probe", k);
    for (const off of offs) off();
    return calls;
  };
  round(listeners);
  let probeCalls = 0;
  const probe = () => {
    const before = probeCalls;
    const off = m.subscribe(() => probeCalls++);
    m.reportProgress("probe", 0);
    off();
    return probeCalls - before; // only the probe's own listener may be called
  };
  const baseline = sample(gc, memory, { called: probe() });
  log(`baseline: ${held} held executions, wasm ${fmtMiB(baseline.wasm)}, JS heap ${fmtMiB(baseline.heap)}`);
  const out = [];
  for (let r = 1; r <= rounds; r++) {
    const calls = round(listeners);
    if (calls !== listeners * 5) throw new Error(`round ${r}: ${calls} listener calls, expected ${listeners * 5}`);
    const s = sample(gc, memory, { round: r, called: probe() });
    out.push(s);
    log(
      `round ${String(r).padStart(3)}: ${listeners} listeners subscribed, 5 events each, unsubscribed; listeners still called: ${s.called - 1}; wasm ${fmtMiB(s.wasm)}, JS heap ${fmtMiB(s.heap)}`,
    );
  }
  return { baseline, rounds: out, held: m.counts().total, ms: Date.now() - started };
}

/** The plateau rule: `end <= at20 * (1 + ratio) + bytes`. */
export function plateau(samplesList, key, { ratio = 0.1, bytes = 2 * MiB } = {}) {
  const at = (f) => samplesList[Math.min(samplesList.length - 1, Math.round((samplesList.length - 1) * f))][key];
  const at20 = at(0.2);
  const end = samplesList[samplesList.length - 1][key];
  return {
    ok: end <= at20 * (1 + ratio) + bytes,
    at20,
    end,
    limit: at20 * (1 + ratio) + bytes,
    start: samplesList[0][key],
    middle: at(0.5),
    max: Math.max(...samplesList.map((s) => s[key])),
  };
}

function parseArgs(argv) {
  const opts = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--json") opts.json = true;
    else if (a.startsWith("--")) opts[a.slice(2).replace(/-([a-z])/g, (_, c) => c.toUpperCase())] = argv[++i];
  }
  return opts;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const num = (v, d) => (v === undefined ? d : Number(String(v).replaceAll("_", "")));
  const total = num(o.total, 1_000_000);
  const maxFinished = num(o.maxFinished, 1000);
  const log = o.json ? () => {} : (s) => console.log(s);
  const { ExecutionManager, memory } = await loadPackage(
    o.pkg
      ? o.pkg.startsWith(".") || o.pkg.startsWith("/")
        ? pathToFileURL(path.resolve(o.pkg)).href
        : o.pkg
      : undefined,
  );
  log(
    `soak: ${total} executions through a manager with maxFinished ${maxFinished} (half handler-driven, half tracked; 1/3 each completed, failed, cancelled)`,
  );
  const phase1 = await soakExecutions(ExecutionManager, memory, {
    total,
    maxFinished,
    samples: num(o.samples, 20),
    log,
  });
  const wasm1 = plateau(phase1.samples, "wasm", { ratio: 0, bytes: 1 * MiB });
  const heap1 = plateau(phase1.samples, "heap", { ratio: 0.1, bytes: 2 * MiB });
  log(
    `phase 1 done in ${(phase1.ms / 1000).toFixed(1)} s: ${phase1.events} events, held at the end ${JSON.stringify(phase1.counts)}\n` +
      `  wasm memory: start ${fmtMiB(wasm1.start)}, 20% ${fmtMiB(wasm1.at20)}, middle ${fmtMiB(wasm1.middle)}, end ${fmtMiB(wasm1.end)} -> ${wasm1.ok ? "plateau" : `GROWING (limit ${fmtMiB(wasm1.limit)})`}\n` +
      `  JS heap:     start ${fmtMiB(heap1.start)}, 20% ${fmtMiB(heap1.at20)}, middle ${fmtMiB(heap1.middle)}, end ${fmtMiB(heap1.end)} -> ${heap1.ok ? "plateau" : `GROWING (limit ${fmtMiB(heap1.limit)})`}`,
  );
  const held = num(o.held, 100_000);
  log(
    `soak: ${held} held executions; ${num(o.rounds, 20)} rounds of ${num(o.listeners, 10_000)} listeners subscribed and unsubscribed`,
  );
  const phase2 = await soakListeners(ExecutionManager, memory, {
    held,
    rounds: num(o.rounds, 20),
    listeners: num(o.listeners, 10_000),
    log,
  });
  const last = phase2.rounds[phase2.rounds.length - 1];
  const wasm2ok = last.wasm <= phase2.baseline.wasm + 1 * MiB;
  const heap2ok = last.heap <= phase2.baseline.heap * 1.1 + 2 * MiB;
  const listenersOk = phase2.rounds.every((r) => r.called === 1);
  log(
    `phase 2 done in ${(phase2.ms / 1000).toFixed(1)} s: listeners still called after unsubscribing: ${listenersOk ? "none" : "SOME"}; ` +
      `wasm ${fmtMiB(phase2.baseline.wasm)} -> ${fmtMiB(last.wasm)} (${wasm2ok ? "back to baseline" : "GROWING"}), ` +
      `JS heap ${fmtMiB(phase2.baseline.heap)} -> ${fmtMiB(last.heap)} (${heap2ok ? "back to baseline" : "GROWING"})`,
  );
  const ok = wasm1.ok && heap1.ok && wasm2ok && heap2ok && listenersOk;
  if (o.json)
    console.log(JSON.stringify({ ok, phase1, phase2, checks: { wasm1, heap1, wasm2ok, heap2ok, listenersOk } }));
  log(ok ? "soak: OK (bounded)" : "soak: FAILED");
  process.exitCode = ok ? 0 : 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
