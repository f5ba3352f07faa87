// The dashboard's simulated targets: plain async handlers that sleep instead of working, report
// progress through ctx.progress and stop as soon as ctx.signal aborts (cancel or timeout).
//
// Every one takes inputs { name, durationMs, failureChance } (failureChance 0..1: 1 always fails,
// 0 never does) plus a size of its own, so runs are reproducible from their snapshot.

/** @typedef {{ name: string, durationMs: number, failureChance: number, [k: string]: unknown }} SimInputs */

export const TARGETS = [
  { id: "upload", type: "transfer", label: "Upload a file" },
  { id: "transcode", type: "media", label: "Transcode a video" },
  { id: "report", type: "analytics", label: "Build a report" },
  { id: "crawl", type: "scan", label: "Crawl a site (no total)" },
];

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts (also used by
 * worker.js and sw/sw.js). */
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

/** Where (0..1 of the work) this run fails, or Infinity if it does not. */
function failurePoint(failureChance) {
  return Math.random() < failureChance ? 0.3 + Math.random() * 0.5 : Infinity;
}

class DecodeError extends Error {
  name = "DecodeError";
}

const HANDLERS = {
  /** 1 MB chunks; progress in MB. */
  async upload({ name, durationMs, failureChance, sizeMb }, { signal, progress }) {
    const failAt = failurePoint(failureChance);
    for (let mb = 1; mb <= sizeMb; mb++) {
      await sleep(durationMs / sizeMb, signal);
      if (mb / sizeMb >= failAt) throw new Error(`connection reset by peer after ${mb} MB`);
      progress(mb, sizeMb, `${mb} / ${sizeMb} MB sent`);
    }
    return { url: `https://cdn.example.com/${name}`, bytes: sizeMb * 1_048_576 };
  },

  /** Batches of 12 frames. */
  async transcode({ durationMs, failureChance, frames }, { signal, progress }) {
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

  /** One section after the other; progress reported as each begins. */
  async report({ durationMs, failureChance, sections }, { signal, progress }) {
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
  async crawl({ durationMs, failureChance }, { signal, progress }) {
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
};

/** Registers the four targets on `manager`. */
export function registerTargets(manager) {
  for (const t of TARGETS) manager.register(t.id, HANDLERS[t.id], { type: t.type });
}

let serial = 0;
const SECTIONS = ["orders", "refunds", "taxes", "totals", "charts", "export"];
const NAMES = {
  upload: ["photos", "backup", "invoices", "dataset", "logs"],
  transcode: ["intro", "keynote", "trailer", "interview", "b-roll"],
  report: ["daily-sales", "weekly-usage", "churn", "kpis", "inventory"],
  crawl: ["docs.example.com", "shop.example.com", "blog.example.com", "example.org"],
};
const EXT = { upload: ".zip", transcode: ".mp4", report: "", crawl: "" };

/**
 * The inputs of a new run of `targetId`: a readable name and a size of its own.
 * @returns {SimInputs}
 */
export function makeInputs(targetId, { durationMs, failureChance }) {
  const n = ++serial;
  const names = NAMES[targetId] ?? [targetId];
  const name = `${names[n % names.length]}-${String(n).padStart(3, "0")}${EXT[targetId] ?? ""}`;
  const base = { name, durationMs, failureChance };
  switch (targetId) {
    case "upload":
      return { ...base, sizeMb: 8 + (n % 5) * 8 };
    case "transcode":
      return { ...base, frames: 120 + (n % 4) * 60 };
    case "report":
      return { ...base, sections: SECTIONS.slice(0, 3 + (n % 4)) };
    default:
      return base;
  }
}
