// A dedicated module worker that owns an ExecutionManager (see worker.html / worker-page.js).
//
// The page creates it with `new Worker(new URL("./worker.js", import.meta.url), { type: "module" })`.
// Protocol (all messages are structured-clone friendly plain objects):
//
//   page → worker  { type: "start",  requestId, request: { targetId, inputs?, config?, id?, priority?,
//                                                       delayMs?, runAt?, retry? } }
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
//
// The targets (primes, checksum, download) and the bounds of their inputs are in targets.js.

import init, { ExecutionManager } from "../pkg/web/execman.js";
import { WORKER_TARGETS, registerTargets } from "./targets.js";

/** An Error (or anything thrown) as a plain object that survives postMessage. */
const toPlainError = (err) =>
  err instanceof Error || (err && typeof err === "object" && "message" in err)
    ? {
        name: String(err.name ?? "Error"),
        message: String(err.message),
        ...(typeof err.code === "string" ? { code: err.code } : {}),
      }
    : { name: "Error", message: String(err) };

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
  registerTargets(manager, { targets: WORKER_TARGETS });
  manager.subscribe(onEvent);
  postMessage({ type: "ready", targets: WORKER_TARGETS, concurrency: 4 });
  for (const event of early.splice(0)) onMessage(event);
} catch (err) {
  postMessage({ type: "fatal", error: toPlainError(err) });
}
