// Reading Server-Sent Events in the Node tests (not a test file: node --test picks up *.test.*
// only). A stream's bytes are parsed as the HTML standard's event-stream format says: lines end
// with LF, CR or CRLF; a blank line ends a message; `field: value` (one optional space after the
// colon); a line starting with ":" is a comment. `messages(body)` yields each message as it
// arrives, `{ event, id, data }` (the data lines joined with LF), or `{ comment }` for a comment.
//
//   for await (const m of messages(response.body)) if (m.event === "status") …
//
// `next(iterator, ms)` takes the next one or fails after `ms`; `rest(iterator)` reads until the
// stream ends.

import assert from "node:assert/strict";

/**
 * @typedef {{ event: string, id: string | undefined, data: string } | { comment: string }} Message
 */

/**
 * The messages of an event stream, as they arrive.
 * @param {ReadableStream<Uint8Array>} body
 * @returns {AsyncGenerator<Message, void, undefined>}
 */
export async function* messages(body) {
  const decoder = new TextDecoder();
  const reader = body.getReader();
  let buffer = "";
  /** @type {{ event: string, id: string | undefined, data: string[] } | null} */
  let pending = null;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      for (;;) {
        const m = /\r\n|\r|\n/.exec(buffer);
        if (m === null) break;
        const line = buffer.slice(0, m.index);
        buffer = buffer.slice(m.index + m[0].length);
        if (line === "") {
          if (pending !== null) yield { event: pending.event, id: pending.id, data: pending.data.join("\n") };
          pending = null;
          continue;
        }
        if (line.startsWith(":")) {
          yield { comment: line.slice(1).trimStart() };
          continue;
        }
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        pending ??= { event: "message", id: undefined, data: [] };
        if (field === "event") pending.event = value;
        else if (field === "id") pending.id = value;
        else if (field === "data") pending.data.push(value);
        else assert.fail(`an unexpected field ${JSON.stringify(field)} in the stream`);
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

/**
 * The next message, or a failure after `ms`; `null` when the stream ended.
 * @param {AsyncIterator<Message>} it
 * @param {number} [ms]
 * @returns {Promise<Message | null>}
 */
export async function next(it, ms = 3000) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no message from the stream within ${ms} ms`)), ms);
  });
  try {
    const r = await Promise.race([it.next(), late]);
    return r.done ? null : r.value;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The next message that is not a comment (heartbeats are skipped).
 * @param {AsyncIterator<Message>} it
 * @param {number} [ms]
 * @returns {Promise<{ event: string, id: string | undefined, data: string } | null>}
 */
export async function nextEvent(it, ms = 3000) {
  for (;;) {
    const m = await next(it, ms);
    if (m === null || !("comment" in m)) return m;
  }
}

/**
 * Every message until the stream ends (comments left out), or a failure after `ms`.
 * @param {AsyncIterator<Message>} it
 * @param {number} [ms]
 */
export async function rest(it, ms = 5000) {
  const out = [];
  for (;;) {
    const m = await nextEvent(it, ms);
    if (m === null) return out;
    out.push(m);
  }
}
