// A dedicated module worker that owns an ExecutionManager (see worker.html / worker-page.js).
//
// The page creates it with `new Worker(new URL("./worker.js", import.meta.url), { type: "module" })`.
// Protocol (all messages are structured-clone friendly plain objects):
//
//   page → worker  { type: "start",  requestId, request: { targetId, inputs?, config?, id? } }
//                  { type: "cancel", requestId, id, reason? }
//                  { type: "clear",  requestId }
//   worker → page  { type: "ready", targets: [{ id, type, label }] }
//                  { type: "reply", requestId, ok: true, value } | { type: "reply", requestId, ok: false, error }
//                  { type: "events", updates: Execution[], removed: string[], counts }
//                  { type: "fatal", error }
//
// `error` is { name, code?, message }: an ExecutionError keeps its name and code across the boundary.
// Events are batched: the latest snapshot per execution, at most one message every 50 ms, so a
// handler reporting progress thousands of times a second does not flood the page.

import init, { ExecutionManager } from "../pkg/web/execman.js";
import { sleep } from "./targets.js";

/** An Error (or anything thrown) as a plain object that survives postMessage. */
const toPlainError = (err) =>
  err instanceof Error || (err && typeof err === "object" && "message" in err)
    ? {
        name: String(err.name ?? "Error"),
        message: String(err.message),
        ...(typeof err.code === "string" ? { code: err.code } : {}),
      }
    : { name: "Error", message: String(err) };

const TARGETS = [
  { id: "primes", type: "cpu", label: "count primes (CPU-bound)" },
  { id: "checksum", type: "cpu", label: "SHA-256 chain" },
  { id: "download", type: "io", label: "simulated download" },
];

/** Lets the worker's event loop run (so "cancel" messages get through) between slices of work. */
const yieldToLoop = () => new Promise((resolve) => setTimeout(resolve, 0));

const HANDLERS = {
  /** Counts primes below `limit` by trial division, 20,000 numbers per slice. `failAt` (0..1) throws there. */
  async primes({ limit, failAt }, { signal, progress }) {
    let count = 0;
    const slice = 20_000;
    for (let start = 2; start < limit; start += slice) {
      signal.throwIfAborted();
      const end = Math.min(limit, start + slice);
      for (let n = start; n < end; n++) {
        let prime = n > 1;
        for (let d = 2; d * d <= n; d++) {
          if (n % d === 0) {
            prime = false;
            break;
          }
        }
        if (prime) count++;
      }
      if (failAt != null && end / limit >= failAt) throw new RangeError(`gave up at n = ${end}: simulated failure`);
      progress(end, limit, `${count.toLocaleString("en-US")} primes below ${end.toLocaleString("en-US")}`);
      await yieldToLoop();
    }
    return { limit, primes: count };
  },

  /** Hashes a 64 KiB block `rounds` times, feeding each digest into the next. */
  async checksum({ rounds, failAt }, { signal, progress }) {
    const block = new Uint8Array(65_536).map((_, i) => i & 255);
    let digest = new Uint8Array(32);
    for (let r = 1; r <= rounds; r++) {
      signal.throwIfAborted();
      block.set(digest);
      digest = new Uint8Array(await crypto.subtle.digest("SHA-256", block));
      if (failAt != null && r / rounds >= failAt) throw new Error(`checksum mismatch at round ${r}`);
      if (r % 25 === 0 || r === rounds) progress(r, rounds, `round ${r} / ${rounds}`);
    }
    return { sha256: [...digest].map((b) => b.toString(16).padStart(2, "0")).join("") };
  },

  /** Waits `durationMs` in 20 steps. */
  async download({ durationMs, failAt }, { signal, progress }) {
    const steps = 20;
    for (let i = 1; i <= steps; i++) {
      await sleep(durationMs / steps, signal);
      if (failAt != null && i / steps >= failAt) throw new Error(`HTTP 502 from mirror after ${i * 5}%`);
      progress(i, steps, `${i * 5} MB / ${steps * 5} MB`);
    }
    return { bytes: steps * 5 * 1_048_576 };
  },
};

// ── Batching events to the page ────────────────────────────────────────────

/** @type {Map<string, object>} the latest snapshot per execution since the last flush */
const updates = new Map();
const removed = new Set();
let flushTimer = 0;
let manager;

function flush() {
  flushTimer = 0;
  postMessage({ type: "events", updates: [...updates.values()], removed: [...removed], counts: manager.counts() });
  updates.clear();
  removed.clear();
}

function onEvent({ type, execution }) {
  if (type === "removed") {
    updates.delete(execution.id);
    removed.add(execution.id);
  } else {
    removed.delete(execution.id);
    updates.set(execution.id, execution);
  }
  if (flushTimer === 0) flushTimer = setTimeout(flush, 50);
}

// ── Requests from the page ─────────────────────────────────────────────────

const OPERATIONS = {
  start: ({ request }) => manager.create(request),
  cancel: ({ id, reason }) => manager.cancel(id, reason),
  clear: () => manager.clear(),
};

function onMessage({ data }) {
  const { type, requestId } = data ?? {};
  const op = OPERATIONS[type];
  if (!op) {
    postMessage({
      type: "reply",
      requestId,
      ok: false,
      error: { name: "Error", message: `unknown message type ${JSON.stringify(type)}` },
    });
    return;
  }
  try {
    postMessage({ type: "reply", requestId, ok: true, value: op(data) });
  } catch (err) {
    postMessage({ type: "reply", requestId, ok: false, error: toPlainError(err) });
  }
}

// Messages that arrive while the wasm module loads are queued, then handled in order.
const early = [];
self.addEventListener("message", (event) => (manager ? onMessage(event) : early.push(event)));

try {
  await init();
  manager = new ExecutionManager({ concurrency: 4 });
  for (const t of TARGETS) manager.register(t.id, HANDLERS[t.id], { type: t.type });
  manager.subscribe(onEvent);
  postMessage({ type: "ready", targets: TARGETS, concurrency: 4 });
  for (const event of early.splice(0)) onMessage(event);
} catch (err) {
  postMessage({ type: "fatal", error: toPlainError(err) });
}
