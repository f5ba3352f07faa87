// The page side of the Web Worker example: no wasm here. It starts worker.js as a module worker,
// sends it requests, and draws the batched events it posts back (see worker.js for the protocol).
//
// Test hook: window.__workerDemo = { ready, call(message), cancel(id), executions, frames() }.

import { Alerts, ExecutionTable, STATUSES, formatCount } from "./view.js";

const $ = (selector) => /** @type {HTMLElement} */ (document.querySelector(selector));
const alerts = new Alerts($("#alerts"));
window.addEventListener("error", (event) => alerts.show(event.error ?? event.message, "Unexpected error"));
window.addEventListener("unhandledrejection", (event) => alerts.show(event.reason, "Unhandled rejection"));
const say = (text) => {
  $("#status-line").textContent = text;
};

const SIZES = {
  primes: { small: { limit: 300_000 }, medium: { limit: 1_500_000 }, large: { limit: 5_000_000 } },
  checksum: { small: { rounds: 500 }, medium: { rounds: 2_000 }, large: { rounds: 8_000 } },
  download: { small: { durationMs: 2_000 }, medium: { durationMs: 5_000 }, large: { durationMs: 12_000 } },
};

const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module", name: "execman" });

// ── Requests and replies ───────────────────────────────────────────────────
let nextRequestId = 1;
const pending = new Map();

/** Sends a request; resolves with the worker's value or rejects with its error ({ name, code?, message }). */
function call(message) {
  const requestId = nextRequestId++;
  return new Promise((resolve, reject) => {
    pending.set(requestId, { resolve, reject });
    worker.postMessage({ ...message, requestId });
  });
}

/** A plain { name, code, message } from the worker as an Error again (ExecutionError keeps its code). */
function toError({ name, code, message }) {
  const err = new Error(message);
  err.name = name;
  if (code !== undefined) err.code = code;
  return err;
}

// ── State drawn on screen ──────────────────────────────────────────────────
/** @type {Map<string, object>} every execution the worker told us about, in creation order */
const executions = new Map();
let counts = { total: 0, pending: 0, running: 0, completed: 0, failed: 0, cancelled: 0 };
const table = new ExecutionTable(/** @type {HTMLTableSectionElement} */ ($("#rows")), {
  onCancel: (id) => cancel(id),
});

async function cancel(id) {
  try {
    await call({ type: "cancel", id, reason: "user pressed Cancel" });
  } catch (err) {
    alerts.show(toError(err), `Cancel ${id}`);
  }
}

let frame = 0;
const invalidate = () => {
  if (frame === 0) frame = requestAnimationFrame(paint);
};
const countEls = Object.fromEntries(["total", ...STATUSES].map((s) => [s, $(`[data-testid=count-${s}]`)]));
function paint() {
  frame = 0;
  const newest = [...executions.values()].reverse().slice(0, 50);
  table.render(newest, { emptyText: "Nothing yet: start something in the worker." });
  for (const [key, el] of Object.entries(countEls)) el.textContent = formatCount(counts[key]);
}
setInterval(() => {
  if (table.hasActive) invalidate();
}, 100);

worker.addEventListener("message", ({ data }) => {
  switch (data.type) {
    case "ready": {
      const select = /** @type {HTMLSelectElement} */ ($("#f-target"));
      for (const t of data.targets) select.append(new Option(`${t.id} — ${t.label}`, t.id));
      select.value = "primes";
      $("#engine").textContent = `worker ready · concurrency ${data.concurrency}`;
      $("#engine").classList.add("chip-ok");
      document.documentElement.dataset.ready = "true";
      window.__workerDemo.ready = true;
      invalidate();
      break;
    }
    case "events":
      for (const e of data.updates) executions.set(e.id, e);
      for (const id of data.removed) executions.delete(id);
      counts = data.counts;
      invalidate();
      break;
    case "reply": {
      const entry = pending.get(data.requestId);
      pending.delete(data.requestId);
      if (data.ok) entry?.resolve(data.value);
      else entry?.reject(data.error);
      break;
    }
    case "fatal":
      $("#engine").textContent = "worker failed";
      alerts.show(toError(data.error), "The worker could not start");
      break;
    default:
      alerts.show(new Error(`unexpected message from the worker: ${JSON.stringify(data.type)}`));
  }
});
worker.addEventListener("error", (event) => {
  event.preventDefault();
  $("#engine").textContent = "worker failed";
  alerts.show(new Error(event.message || "the worker script failed to load (is pkg/ built?)"), "Worker error");
});

// ── Starting ───────────────────────────────────────────────────────────────
let serial = 0;
async function start(targetId, size, fail) {
  const inputs = {
    name: `${targetId} #${++serial} · ${size}`,
    ...SIZES[targetId][size],
    ...(fail ? { failAt: 0.5 } : {}),
  };
  try {
    const execution = await call({ type: "start", request: { targetId, inputs } });
    say(`Started ${inputs.name} in the worker.`);
    return execution;
  } catch (err) {
    alerts.show(toError(err), `Could not start ${targetId}`);
    return undefined;
  }
}

$("#start-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const targetId = /** @type {HTMLSelectElement} */ ($("#f-target")).value;
  const size = /** @type {HTMLSelectElement} */ ($("#f-size")).value;
  if (!(targetId in SIZES) || !(size in SIZES[targetId])) {
    alerts.show(
      new RangeError(`pick a target and a size (got ${JSON.stringify(targetId)}, ${JSON.stringify(size)})`),
      "Form",
    );
    return;
  }
  start(targetId, size, /** @type {HTMLInputElement} */ ($("#f-fail")).checked);
});
$("#btn-each").addEventListener("click", () => {
  for (const targetId of Object.keys(SIZES)) start(targetId, "medium", false);
});
$("#btn-clear").addEventListener("click", async () => {
  try {
    const removed = await call({ type: "clear" });
    say(`Removed ${removed} finished execution${removed === 1 ? "" : "s"}.`);
  } catch (err) {
    alerts.show(toError(err), "Clear");
  }
});

// ── Main-thread heartbeat: the work runs elsewhere, so frames keep coming ──
let longest = 0;
let frames = 0;
let last = performance.now();
const allFrames = [];
function beat(now) {
  const gap = now - last;
  last = now;
  frames++;
  longest = Math.max(longest, gap);
  allFrames.push(gap);
  if (allFrames.length > 600) allFrames.shift();
  requestAnimationFrame(beat);
}
requestAnimationFrame(beat);
setInterval(() => {
  $("#heartbeat").textContent = `Main thread: ${frames} frames/s, longest frame ${Math.round(longest)} ms`;
  frames = 0;
  longest = 0;
}, 1000);

window.__workerDemo = {
  ready: false,
  call,
  cancel,
  start,
  executions,
  /** Frame gaps (ms) of the last 600 frames of this page. */
  frames: () => [...allFrames],
};
