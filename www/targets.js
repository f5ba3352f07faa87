// The simulated targets of the browser examples: the dashboard's (TARGETS), the Web Worker's
// (WORKER_TARGETS, registered by worker.js) and the Service Worker's (SW_TARGETS, sw/sw.js).
// Plain async handlers that sleep (or count primes, or hash) instead of working, report progress
// through ctx.progress and stop as soon as ctx.signal aborts (cancel or timeout).
//
// Every handler reads its inputs first, through inputs.js: a missing field gets the default
// documented next to the handler, a wrong type or an out-of-range value makes the handler throw
// an Error naming the field (the execution fails with it at once). The bounds keep every run
// under MAX_RUN_MS (60 s) whatever the inputs; the page's own `config.timeoutMs` may cut it
// shorter.
//
// The dashboard's targets take inputs { name, durationMs, failureChance } (failureChance 0..1: 1
// always fails, 0 never does) plus a size of their own, so runs are reproducible from their
// snapshot. Their input errors carry `retryable: false`: a retry policy would read the same
// inputs again. `sync` fails its first `failAttempts` attempts (ctx.attempt), so with a retry
// policy of one attempt more it completes on its last.

import { MAX_RUN_MS, inputsObject, numberField, stringField, stringListField } from "./inputs.js";

/** @typedef {{ id: string, type: string, label: string }} TargetInfo */
/** @typedef {{ signal: AbortSignal, attempt?: number, progress: (current: number, total?: number | null, message?: string | null) => void }} Ctx */
/** @typedef {(inputs: unknown, ctx: Ctx) => Promise<unknown>} Handler */

/** The dashboard's targets (www/app.js). @type {TargetInfo[]} */
export const TARGETS = [
  { id: "upload", type: "transfer", label: "Upload a file" },
  { id: "transcode", type: "media", label: "Transcode a video" },
  { id: "report", type: "analytics", label: "Build a report" },
  { id: "crawl", type: "scan", label: "Crawl a site (no total)" },
  { id: "sync", type: "network", label: "Sync (first 2 attempts fail)" },
];

/** The Web Worker example's targets (www/worker.js). @type {TargetInfo[]} */
export const WORKER_TARGETS = [
  { id: "primes", type: "cpu", label: "count primes (CPU-bound)" },
  { id: "checksum", type: "cpu", label: "SHA-256 chain" },
  { id: "download", type: "io", label: "simulated download" },
];

/** The Service Worker example's targets (www/sw/sw.js). @type {TargetInfo[]} */
export const SW_TARGETS = [
  { id: "countdown", type: "timer", label: "progress after each step" },
  { id: "hold", type: "manual", label: "until cancelled" },
  { id: "flaky", type: "timer", label: "fails after a while" },
];

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Lets the event loop run (so a cancel message gets through) between slices of CPU work. */
const yieldToLoop = () => new Promise((resolve) => setTimeout(resolve, 0));

/** Where (0..1 of the work) this run fails, or Infinity if it does not. */
function failurePoint(failureChance) {
  return Math.random() < failureChance ? 0.3 + Math.random() * 0.5 : Infinity;
}

class DecodeError extends Error {
  name = "DecodeError";
}

/** Runs `read` (reading inputs); an error there is final: no retry would read them differently. */
function final(read) {
  try {
    return read();
  } catch (err) {
    throw Object.assign(/** @type {Error} */ (err), { retryable: false });
  }
}

/**
 * The fields every dashboard target takes: `name` (default: the target's id), `durationMs`
 * (100..60,000, default 4,000) and `failureChance` (0..1, default 0). Refused inputs are final.
 */
function dashboardInputs(inputs, targetId) {
  return final(() => {
    const fields = inputsObject(inputs);
    return {
      fields,
      name: stringField(fields, "name", { fallback: targetId }),
      durationMs: numberField(fields, "durationMs", { min: 100, max: MAX_RUN_MS, fallback: 4000 }),
      failureChance: numberField(fields, "failureChance", { min: 0, max: 1, fallback: 0 }),
    };
  });
}

/** The optional `failAt` of the worker's targets: 0..1 of the work, where the run throws. */
const failAtOf = (fields) => numberField(fields, "failAt", { min: 0, max: 1 }) ?? Infinity;

/** @type {Record<string, Handler>} */
const HANDLERS = {
  // ── The dashboard's ──────────────────────────────────────────────────────

  /** 1 MB chunks over `durationMs`; progress in MB. `sizeMb`: 0.1..1,000, default 16. */
  async upload(inputs, { signal, progress }) {
    const { fields, name, durationMs, failureChance } = dashboardInputs(inputs, "upload");
    const sizeMb = final(() => numberField(fields, "sizeMb", { min: 0.1, max: 1000, fallback: 16 }));
    const chunks = Math.ceil(sizeMb);
    const failAt = failurePoint(failureChance);
    for (let chunk = 1; chunk <= chunks; chunk++) {
      await sleep(durationMs / chunks, signal);
      const mb = Math.min(chunk, sizeMb);
      if (chunk / chunks >= failAt) throw new Error(`connection reset by peer after ${mb} MB`);
      progress(mb, sizeMb, `${mb} / ${sizeMb} MB sent`);
    }
    return { url: `https://cdn.example.com/${name}`, bytes: Math.round(sizeMb * 1_048_576) };
  },

  /** Batches of 12 frames over `durationMs`. `frames`: a whole number 1..10,000, default 120. */
  async transcode(inputs, { signal, progress }) {
    const { fields, durationMs, failureChance } = dashboardInputs(inputs, "transcode");
    const frames = final(() => numberField(fields, "frames", { min: 1, max: 10_000, fallback: 120, integer: true }));
    const failAt = failurePoint(failureChance);
    const steps = Math.ceil(frames / 12);
    for (let frame = 0; frame < frames; ) {
      await sleep(durationMs / steps, signal);
      frame = Math.min(frames, frame + 12);
      if (frame / frames >= failAt) throw new DecodeError(`corrupt frame ${frame} (h264: invalid NAL unit)`);
      progress(frame, frames, `frame ${frame} / ${frames}`);
    }
    return { frames, codec: "av1" };
  },

  /**
   * One section after the other over `durationMs`; progress reported as each begins.
   * `sections`: 1..50 strings, default ["summary", "details", "totals"].
   */
  async report(inputs, { signal, progress }) {
    const { fields, durationMs, failureChance } = dashboardInputs(inputs, "report");
    const sections = final(() =>
      stringListField(fields, "sections", { fallback: ["summary", "details", "totals"], maxItems: 50 }),
    );
    const failAt = failurePoint(failureChance);
    for (let i = 0; i < sections.length; i++) {
      progress(i, sections.length, `section “${sections[i]}”`);
      await sleep(durationMs / sections.length, signal);
      if ((i + 1) / sections.length >= failAt) throw new Error(`query timed out in section “${sections[i]}”`);
    }
    progress(sections.length, sections.length, `${sections.length} sections, ${sections.length * 3} pages`);
    return { pages: sections.length * 3 };
  },

  /** No total: progress is a running count of pages found (an indeterminate bar). */
  async crawl(inputs, { signal, progress }) {
    const { durationMs, failureChance } = dashboardInputs(inputs, "crawl");
    const failAt = failurePoint(failureChance);
    const ticks = Math.max(1, Math.round(durationMs / 120));
    let pages = 0;
    for (let t = 1; t <= ticks; t++) {
      await sleep(durationMs / ticks, signal);
      if (t / ticks >= failAt) throw new TypeError(`robots.txt fetch failed: 503 after ${pages} pages`);
      pages += 1 + Math.floor(Math.random() * 7);
      progress(pages, null, `${pages} pages found`);
    }
    return { pages };
  },

  /**
   * Sends 100 records in 10 batches over `durationMs`. Attempts 1..`failAttempts` (a whole
   * number 0..5, default 2) fail after the fourth batch, as a server answering 503 would; a later
   * attempt fails only by `failureChance`. With `retry: { attempts: failAttempts + 1 }` it
   * completes on its last attempt.
   */
  async sync(inputs, { signal, progress, attempt = 1 }) {
    const { fields, name, durationMs, failureChance } = dashboardInputs(inputs, "sync");
    const failAttempts = final(() =>
      numberField(fields, "failAttempts", { min: 0, max: 5, fallback: 2, integer: true }),
    );
    const failAt = attempt <= failAttempts ? 0.4 : failurePoint(failureChance);
    const batches = 10;
    for (let batch = 1; batch <= batches; batch++) {
      await sleep(durationMs / batches, signal);
      if (batch / batches >= failAt) {
        throw new Error(`${name}: server answered 503 Service Unavailable`);
      }
      progress(batch * 10, 100, `${batch * 10} / 100 records (attempt ${attempt})`);
    }
    return { records: 100, attempt };
  },

  // ── The Web Worker's (every one takes an optional `name` and `failAt`, 0..1) ──

  /**
   * Counts primes below `limit` by trial division, 20,000 numbers per slice, yielding between
   * slices. `limit`: a whole number 2..10,000,000 (≈ 4 s in V8), default 300,000.
   */
  async primes(inputs, { signal, progress }) {
    const fields = inputsObject(inputs);
    stringField(fields, "name", { fallback: "primes" });
    const limit = numberField(fields, "limit", { min: 2, max: 10_000_000, fallback: 300_000, integer: true });
    const failAt = failAtOf(fields);
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
      if (end / limit >= failAt) throw new RangeError(`gave up at n = ${end}: simulated failure`);
      progress(end, limit, `${count.toLocaleString("en-US")} primes below ${end.toLocaleString("en-US")}`);
      await yieldToLoop();
    }
    signal.throwIfAborted();
    return { limit, primes: count };
  },

  /**
   * Hashes a 64 KiB block `rounds` times, feeding each digest into the next. `rounds`: a whole
   * number 1..20,000 (≈ 3 s), default 500.
   */
  async checksum(inputs, { signal, progress }) {
    const fields = inputsObject(inputs);
    stringField(fields, "name", { fallback: "checksum" });
    const rounds = numberField(fields, "rounds", { min: 1, max: 20_000, fallback: 500, integer: true });
    const failAt = failAtOf(fields);
    const block = new Uint8Array(65_536).map((_, i) => i & 255);
    let digest = new Uint8Array(32);
    for (let r = 1; r <= rounds; r++) {
      signal.throwIfAborted();
      block.set(digest);
      digest = new Uint8Array(await crypto.subtle.digest("SHA-256", block));
      signal.throwIfAborted(); // aborted during the digest: no progress after that
      if (r / rounds >= failAt) throw new Error(`checksum mismatch at round ${r}`);
      if (r % 25 === 0 || r === rounds) progress(r, rounds, `round ${r} / ${rounds}`);
    }
    return { sha256: [...digest].map((b) => b.toString(16).padStart(2, "0")).join("") };
  },

  /** Waits `durationMs` (100..60,000, default 5,000) in 20 steps. */
  async download(inputs, { signal, progress }) {
    const fields = inputsObject(inputs);
    stringField(fields, "name", { fallback: "download" });
    const durationMs = numberField(fields, "durationMs", { min: 100, max: MAX_RUN_MS, fallback: 5000 });
    const failAt = failAtOf(fields);
    const steps = 20;
    for (let i = 1; i <= steps; i++) {
      await sleep(durationMs / steps, signal);
      if (i / steps >= failAt) throw new Error(`HTTP 502 from mirror after ${i * 5}%`);
      progress(i, steps, `${i * 5} MB / ${steps * 5} MB`);
    }
    return { bytes: steps * 5 * 1_048_576 };
  },

  // ── The Service Worker's ─────────────────────────────────────────────────

  /**
   * `steps` steps of `stepMs` each, progress after every one. `steps`: a whole number 1..100,
   * default 8; `stepMs`: 0..600, default 200 (≈ 1.6 s; at most 60 s).
   */
  async countdown(inputs, { signal, progress }) {
    const fields = inputsObject(inputs);
    const steps = numberField(fields, "steps", { min: 1, max: 100, fallback: 8, integer: true });
    const stepMs = numberField(fields, "stepMs", { min: 0, max: 600, fallback: 200 });
    for (let i = 1; i <= steps; i++) {
      await sleep(stepMs, signal);
      progress(i, steps, `step ${i} of ${steps}`);
    }
    return { steps, ms: steps * stepMs };
  },

  /**
   * Runs until it is cancelled or times out (config.timeoutMs), reporting no progress; fails
   * after `maxMs` (0..60,000, default 60,000) if neither happened.
   */
  async hold(inputs, { signal }) {
    const maxMs = numberField(inputsObject(inputs), "maxMs", { min: 0, max: MAX_RUN_MS, fallback: MAX_RUN_MS });
    await sleep(maxMs, signal);
    throw new Error(`hold: not cancelled within ${maxMs} ms`);
  },

  /** Fails after `ms` (0..60,000, default 500): error.code HANDLER_ERROR, "simulated failure". */
  async flaky(inputs, { signal, progress }) {
    const ms = numberField(inputsObject(inputs), "ms", { min: 0, max: MAX_RUN_MS, fallback: 500 });
    progress(0, 1, "about to fail");
    await sleep(ms, signal);
    throw new Error("simulated failure");
  },
};

/**
 * Registers `targets` (default: the dashboard's) on `manager`; `wrap` decorates each handler
 * (the tests time them).
 * @param {{ register: (id: string, handler: Handler, options: { type: string }) => void }} manager
 * @param {{ targets?: TargetInfo[], wrap?: (handler: Handler, target: TargetInfo) => Handler }} [options]
 */
export function registerTargets(manager, { targets = TARGETS, wrap = (handler) => handler } = {}) {
  for (const t of targets) manager.register(t.id, wrap(HANDLERS[t.id], t), { type: t.type });
}

let serial = 0;
const SECTIONS = ["orders", "refunds", "taxes", "totals", "charts", "export"];
const NAMES = {
  upload: ["photos", "backup", "invoices", "dataset", "logs"],
  transcode: ["intro", "keynote", "trailer", "interview", "b-roll"],
  report: ["daily-sales", "weekly-usage", "churn", "kpis", "inventory"],
  crawl: ["docs.example.com", "shop.example.com", "blog.example.com", "example.org"],
  sync: ["contacts", "calendar", "ledger", "orders"],
};
const EXT = { upload: ".zip", transcode: ".mp4", report: "", crawl: "", sync: "" };

/**
 * The inputs of a new dashboard run of `targetId`: a readable name and a size of its own.
 * `durationMs` is clamped to the targets' bounds (100..60,000).
 * @returns {{ name: string, durationMs: number, failureChance: number, [k: string]: unknown }}
 */
export function makeInputs(targetId, { durationMs, failureChance }) {
  const n = ++serial;
  const names = NAMES[targetId] ?? [targetId];
  const name = `${names[n % names.length]}-${String(n).padStart(3, "0")}${EXT[targetId] ?? ""}`;
  const base = { name, durationMs: Math.min(MAX_RUN_MS, Math.max(100, durationMs)), failureChance };
  switch (targetId) {
    case "upload":
      return { ...base, sizeMb: 8 + (n % 5) * 8 };
    case "transcode":
      return { ...base, frames: 120 + (n % 4) * 60 };
    case "report":
      return { ...base, sections: SECTIONS.slice(0, 3 + (n % 4)) };
    case "sync":
      return { ...base, failAttempts: 2 };
    default:
      return base;
  }
}
