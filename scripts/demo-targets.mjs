// The terminal demo's targets, shared by `npm run demo` and `npm run demo -- --serve`
// (scripts/demo.mjs) and imported by tests/js/demo.test.mjs.
//
// Simulated work: each handler sleeps instead of working, reports progress and stops as soon as
// its AbortSignal fires (cancel or timeout). It reads its inputs first (www/inputs.js): a missing
// field takes the default below, a wrong type or an out-of-range value throws an Error naming the
// field, so the execution fails at once, whoever sent the inputs (`--serve` takes them from any
// HTTP client), and is not retried (the error says `retryable: false`: the same inputs would fail
// again). The bounds keep every run well under a minute:
//
//   upload     { name = "file.bin", sizeMb = 10,          sizeMb 0.1..100: 130 ms per MB, ≤ 13 s;
//                dropsBefore = 0 }                        the connection drops after the first MB
//                                                         of attempts 1..dropsBefore (0..5), so
//                                                         with a retry policy attempt n+1 succeeds
//   transcode  { name = "video.mp4", frames = 120,        frames a whole number 1..2,400: 150 ms
//                corruptAt? }                             per 12 frames, ≤ 30 s; corruptAt 0..frames
//   report     { name = "report",                         1..50 sections: 300 ms each, ≤ 15 s
//                sections = ["summary", "details", "totals"] }
//
// `name` is a string of at most 200 characters; other fields are ignored.

import { inputsObject, numberField, stringField, stringListField } from "../www/inputs.js";
import { sleep } from "../www/targets.js";

/** The targets, their types and what each simulates. */
export const DEMO_TARGETS = [
  { id: "upload", type: "transfer", label: "sends a file in 1 MB chunks" },
  { id: "transcode", type: "media", label: "converts a video 12 frames at a time" },
  { id: "report", type: "analytics", label: "builds a report section by section" },
];

/** Reads inputs with `read`; an error there is final: no retry would read them differently. */
function final(read) {
  try {
    return read();
  } catch (err) {
    throw Object.assign(err, { retryable: false });
  }
}

const HANDLERS = {
  /** Sends a file in 1 MB chunks (the last one may be partial), 130 ms each. */
  async upload(inputs, ctx) {
    const { name, sizeMb, dropsBefore } = final(() => {
      const fields = inputsObject(inputs);
      return {
        name: stringField(fields, "name", { fallback: "file.bin" }),
        sizeMb: numberField(fields, "sizeMb", { min: 0.1, max: 100, fallback: 10 }),
        dropsBefore: numberField(fields, "dropsBefore", { min: 0, max: 5, fallback: 0, integer: true }),
      };
    });
    const chunks = Math.ceil(sizeMb);
    for (let chunk = 1; chunk <= chunks; chunk++) {
      await sleep(130, ctx.signal); // one chunk on the wire
      if (ctx.attempt <= dropsBefore) throw new Error(`connection reset after 1 MB (attempt ${ctx.attempt})`);
      const mb = Math.min(chunk, sizeMb);
      ctx.progress(mb, sizeMb, `${mb}/${sizeMb} MB`);
    }
    return { url: `https://cdn.example.com/${name}`, bytes: Math.round(sizeMb * 1024 * 1024) };
  },

  /** Converts a video 12 frames per 150 ms; a corrupt input makes it throw part-way. */
  async transcode(inputs, ctx) {
    const { name, frames, corruptAt } = final(() => {
      const fields = inputsObject(inputs);
      const name = stringField(fields, "name", { fallback: "video.mp4" });
      const frames = numberField(fields, "frames", { min: 1, max: 2400, fallback: 120, integer: true });
      return { name, frames, corruptAt: numberField(fields, "corruptAt", { min: 0, max: frames }) };
    });
    for (let frame = 0; frame < frames; ) {
      await sleep(150, ctx.signal);
      frame = Math.min(frames, frame + 12);
      if (corruptAt !== undefined && frame >= corruptAt) {
        throw new Error(`${name}: corrupt frame at ${corruptAt}`);
      }
      ctx.progress(frame, frames, `frame ${frame}/${frames}`);
    }
    return { output: name.replace(/\.\w+$/, ".webm") };
  },

  /** Builds a report section by section, 300 ms each. */
  async report(inputs, ctx) {
    const sections = final(() => {
      const fields = inputsObject(inputs);
      stringField(fields, "name", { fallback: "report" });
      return stringListField(fields, "sections", { fallback: ["summary", "details", "totals"], maxItems: 50 });
    });
    for (let i = 0; i < sections.length; i++) {
      ctx.progress(i, sections.length, `section "${sections[i]}"`);
      await sleep(300, ctx.signal);
    }
    return { pages: sections.length * 3 };
  },
};

/**
 * Registers the demo's targets on `manager`. `wrap` decorates every handler (the terminal demo
 * counts the calls in flight, the tests time them).
 * @param {{ register: Function }} manager
 * @param {(handler: Function, target: { id: string, type: string }) => Function} [wrap]
 */
export function registerDemoTargets(manager, wrap = (handler) => handler) {
  for (const t of DEMO_TARGETS) manager.register(t.id, wrap(HANDLERS[t.id], t), { type: t.type });
}
