// The `ExecutionManager` users get. It owns every JS thing of a manager, once: handlers and their
// ctx, AbortControllers, the one timer, listeners and waiters. The engine (src/wasm/engine.rs)
// holds the executions, statuses, indexes, progress numbers and texts, and is addressed by
// creation sequence. The path of every call (ARCHITECTURE.md):
//
//   method -> engine call (numbers in, numbers out through the scratch array in wasm memory)
//          -> the engine queued what the call caused (events, terminal executions, starts, the
//             time the timer must fire, removals) and says so in the WORK slot
//          -> #work drains those queues here: waiters resolved, signals aborted, listeners
//             called, the pump scheduled for a later microtask, the timer re-armed.
//
// The engine never calls into JS during a call. Per execution this side caches what never
// changes (id, targetId, type, inputs, config, priority, maxAttempts: parsed once) and its texts (progress message,
// result, failure, cancel reason) at the version the engine bumps when they change. Removed
// executions leave the cache when the engine says so (WORK_REMOVED); a cached execution that is
// gone meanwhile is answered GONE by the engine, and the id is looked up again.
//
// Built into pkg/node (as CommonJS) and pkg/web by scripts/build.mjs; `wrap` is called once with
// the engine class. Everything here must stay one self-contained file (no imports): the
// wasm-bindgen test suites load it as a snippet.

// wire:begin — src/wire.rs defines these; tests/wire.rs fails when a number here differs.
const SLOT_CREATED = 0;
const SLOT_STARTED = 1;
const SLOT_FINISHED = 2;
const SLOT_UPDATED = 3;
const SLOT_HAS_PROGRESS = 4;
const SLOT_CURRENT = 5;
const SLOT_TOTAL = 6;
const SLOT_PROGRESS_UPDATED = 7;
const SLOT_TEXT_VERSION = 8;
const SLOT_HAS_TEXTS = 9;
const SLOT_STATUS = 10;
const SLOT_SEQ = 11;
const SLOT_ATTEMPT = 12;
const SLOT_RUN_AT = 13;
const SLOT_WORK = 14;
const SLOT_WAKE = 15;
const SLOT_DELAY = 16;
const SLOT_NOW = 17;
const SLOTS = 18;
const STATUS_PENDING = 1;
const STATUS_RUNNING = 2;
const STATUS_COMPLETED = 3;
const STATUS_FAILED = 4;
const STATUS_CANCELLED = 5;
const GONE = 0;
const ERROR = -1;
const EVENT_CREATED = 1;
const EVENT_STATUS = 2;
const EVENT_PROGRESS = 3;
const EVENT_REMOVED = 4;
const WORK_EVENTS = 1;
const WORK_FINISHED = 2;
const WORK_STARTS = 4;
const WORK_TIMER = 8;
const WORK_REMOVED = 16;
const WORK_SUBMITS = 32;
const WORK_STORE = 64;
const MAX_STRING = 33554432;
// wire:end

/** The constants above by name, for the test that compares them with the engine's. */
export const WIRE = {
  SLOT_CREATED,
  SLOT_STARTED,
  SLOT_FINISHED,
  SLOT_UPDATED,
  SLOT_HAS_PROGRESS,
  SLOT_CURRENT,
  SLOT_TOTAL,
  SLOT_PROGRESS_UPDATED,
  SLOT_TEXT_VERSION,
  SLOT_HAS_TEXTS,
  SLOT_STATUS,
  SLOT_SEQ,
  SLOT_ATTEMPT,
  SLOT_RUN_AT,
  SLOT_WORK,
  SLOT_WAKE,
  SLOT_DELAY,
  SLOT_NOW,
  SLOTS,
  STATUS_PENDING,
  STATUS_RUNNING,
  STATUS_COMPLETED,
  STATUS_FAILED,
  STATUS_CANCELLED,
  GONE,
  ERROR,
  EVENT_CREATED,
  EVENT_STATUS,
  EVENT_PROGRESS,
  EVENT_REMOVED,
  WORK_EVENTS,
  WORK_FINISHED,
  WORK_STARTS,
  WORK_TIMER,
  WORK_REMOVED,
  WORK_SUBMITS,
  WORK_STORE,
  MAX_STRING,
};

/** @typedef {import("./types.js").Execution} Execution */
/** @typedef {import("./types.js").Progress} Progress */
/** @typedef {import("./types.js").Page} Page */
/** @typedef {import("./types.js").Counts} Counts */
/** @typedef {import("./types.js").Listener} Listener */

/** Status names by status code - 1. */
const STATUS = ["pending", "running", "completed", "failed", "cancelled"];
/** Event names by event kind - 1. @type {import("./types.js").ExecutionEvent["type"][]} */
const KINDS = ["created", "status", "progress", "removed"];
/** The longest delay `setTimeout` honours (longer ones fire at once). */
const MAX_TIMER_DELAY = 2147483647;
/** The key of the method tests reach the manager's internal counts through (not part of the API). */
const INTERNALS = Symbol.for("execman.internals");

/**
 * Every error of the contract: an `Error` named `"ExecutionError"` with a `code`. Exported, so that
 * `err instanceof ExecutionError` tells the contract's errors from others.
 */
export class ExecutionError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   */
  constructor(code, message) {
    super(message);
    /** @type {"ExecutionError"} */
    this.name = "ExecutionError";
    this.code = /** @type {import("./types.js").ErrorCode} */ (code);
  }
}

/**
 * The error the engine left, `"CODE\tmessage"`, as an `ExecutionError`: the one place errors are
 * made.
 * @param {string} text
 */
function errorOf(text) {
  const tab = text.indexOf("\t");
  if (tab < 0) return new ExecutionError("INVALID_ARGUMENT", "the call failed");
  return new ExecutionError(text.slice(0, tab), text.slice(tab + 1));
}

/** What a freed manager throws for every method, and rejects its pending waits with. */
const freed = () => new ExecutionError("INVALID_TRANSITION", "the manager was freed");

/**
 * A store's failure as `STORE_ERROR`, naming the store: an I/O error of the store, or the engine's
 * error about the store's bytes (damage and where it is).
 * @param {string} name  e.g. `file store "/data/jobs.store"`
 * @param {unknown} err
 */
function storeError(name, err) {
  /** @type {unknown} */
  let message;
  try {
    message = /** @type {any} */ (err)?.message;
  } catch {
    message = undefined;
  }
  return new ExecutionError("STORE_ERROR", `${name}: ${typeof message === "string" ? message : String(err)}`);
}

// What Engine.stage converts (src/wasm/engine.rs).
const STAGE_RESULT = 0;
const STAGE_FAILURE = 1;
const STAGE_REASON = 2;

/**
 * A deep copy of a value parsed from JSON (plain objects, arrays, primitives).
 * @param {unknown} value
 * @returns {any}
 */
function copy(value) {
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) {
    const n = value.length;
    const out = new Array(n);
    for (let i = 0; i < n; i++) out[i] = copy(value[i]);
    return out;
  }
  /** @type {Record<string, unknown>} */
  const out = {};
  const keys = Object.keys(value);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    const v = copy(/** @type {Record<string, unknown>} */ (value)[k]);
    if (k === "__proto__") {
      Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    } else {
      out[k] = v;
    }
  }
  return out;
}

// One shared `{}` for the (default) empty inputs and config: `copy` makes a fresh one per snapshot.
const EMPTY = Object.freeze({});
/** @param {unknown} v */
const shared = (v) =>
  typeof v === "object" && v !== null && !Array.isArray(v) && Object.keys(v).length === 0 ? EMPTY : v;

/**
 * A `Progress` object (`total` NaN: none).
 * @param {number} current
 * @param {number} total
 * @param {string | null} message
 * @param {number} updatedAt
 * @returns {Progress}
 */
function progressOf(current, total, message, updatedAt) {
  return Number.isNaN(total)
    ? { current, total: null, message, percentage: null, updatedAt }
    : { current, total, message, percentage: Math.min(100, (current / total) * 100), updatedAt };
}

/** @param {number} n  NaN: null */
const orNull = (n) => (Number.isNaN(n) ? null : n);

/** What never changes about an execution, plus its texts at version `tv`. */
class Entry {
  /**
   * @param {number} seq
   * @param {string} fixed  `[id, targetId, type, inputs, config, priority, maxAttempts]` as JSON
   */
  constructor(seq, fixed) {
    const a = JSON.parse(fixed);
    this.seq = seq;
    /** @type {string} */
    this.id = a[0];
    /** @type {string} */
    this.targetId = a[1];
    /** @type {string} */
    this.type = a[2];
    this.inputs = shared(a[3]);
    this.config = shared(a[4]);
    /** @type {number} */
    this.priority = a[5];
    /** @type {number} */
    this.maxAttempts = a[6];
    this.tv = -1;
    /** @type {string | null} */
    this.msg = null;
    /** @type {{ result?: unknown, error?: Execution["error"], cancelReason?: string } | null} */
    this.out = null;
  }
}

/**
 * One attempt of a running handler, and its AbortController, made when `ctx.signal` is first read
 * (most handlers never read it): `abort()` on cancel, `abort(TimeoutError)` on timeout (also when
 * the attempt is retried), nothing on completion or failure.
 */
class Run {
  /** @param {number} attempt  which attempt (1-based) */
  constructor(attempt) {
    this.attempt = attempt;
    /** @type {AbortController | null} */
    this.controller = null;
    this.aborted = false;
    /** @type {Error | undefined} undefined: abort() with the default AbortError */
    this.reason = undefined;
  }

  signal() {
    if (this.controller === null) {
      this.controller = new AbortController();
      if (this.aborted) this.#abort(this.controller);
    }
    return this.controller.signal;
  }

  /**
   * The attempt ended: the execution became terminal with status code `code`, or (`code` pending)
   * waits for a retry; `failure` is the failure it holds, if any.
   * @param {number} code
   * @param {Execution["error"] | undefined} failure
   */
  finish(code, failure) {
    if ((code === STATUS_FAILED || code === STATUS_PENDING) && failure?.code === "TIMEOUT") {
      this.reason = new Error(failure.message);
      this.reason.name = "TimeoutError";
    } else if (code !== STATUS_CANCELLED) {
      return;
    }
    this.aborted = true;
    if (this.controller !== null) this.#abort(this.controller);
  }

  /** @param {AbortController} controller */
  #abort(controller) {
    if (this.reason === undefined) controller.abort();
    else controller.abort(this.reason);
  }
}

// ---- outside signals ---------------------------------------------------------------------------
//
// The engine checks that a `signal` argument is an AbortSignal (the host's own `aborted` getter
// accepts it) and hands it over; from then on the manager uses the host's own getters and
// EventTarget methods, taken here once, so nothing a signal object overrides is ever called.

/**
 * @param {any} proto
 * @param {string} name
 * @returns {(this: AbortSignal) => any}
 */
function getterOf(proto, name) {
  const get = proto === null ? undefined : Object.getOwnPropertyDescriptor(proto, name)?.get;
  return get ?? (() => undefined);
}
const SIGNAL_PROTO = typeof AbortSignal === "function" ? AbortSignal.prototype : null;
const abortedGetter = getterOf(SIGNAL_PROTO, "aborted");
const reasonGetter = getterOf(SIGNAL_PROTO, "reason");
const listenTo = typeof EventTarget === "function" ? EventTarget.prototype.addEventListener : () => {};
const stopListening = typeof EventTarget === "function" ? EventTarget.prototype.removeEventListener : () => {};

/** @param {AbortSignal} signal */
const isAborted = (signal) => Reflect.apply(abortedGetter, signal, []) === true;
/** @param {AbortSignal} signal */
const reasonOf = (signal) => Reflect.apply(reasonGetter, signal, []);
/**
 * @param {AbortSignal} signal
 * @param {() => void} listener
 */
function onAbort(signal, listener) {
  try {
    Reflect.apply(listenTo, signal, ["abort", listener]);
  } catch {
    // Only a Proxy that passed the host's brand check and throws from a trap gets here.
  }
}
/**
 * @param {AbortSignal} signal
 * @param {() => void} listener
 */
function offAbort(signal, listener) {
  try {
    Reflect.apply(stopListening, signal, ["abort", listener]);
  } catch {
    // As in onAbort.
  }
}

/**
 * The cancel reason for an aborted signal: its reason's `message` when that is a string, else
 * `String(reason)`; undefined when reading either threw.
 * @param {AbortSignal} signal
 * @returns {string | undefined}
 */
function abortText(signal) {
  try {
    const reason = reasonOf(signal);
    if (reason !== null && reason !== undefined) {
      const message = /** @type {any} */ (reason).message;
      if (typeof message === "string") return message;
    }
    return String(reason);
  } catch {
    return undefined;
  }
}

/**
 * What of one manager follows one outside signal — executions (cancelled when it aborts) and
 * waits and watches (stopped) — and the one abort listener the manager has on it for them all,
 * removed once nothing follows it any more (executions leave when they are terminal, waits when
 * they settle, watches when they end). So a signal shared by any number of calls carries at most
 * one listener per manager.
 */
class SignalGroup {
  /**
   * @param {AbortSignal} signal
   * @param {(g: SignalGroup) => void} aborted
   */
  constructor(signal, aborted) {
    this.signal = signal;
    /** @type {Set<number>} creation sequences of executions, in creation order */
    this.seqs = new Set();
    /** @type {Set<() => void>} how to stop each wait and watch */
    this.stops = new Set();
    this.listener = () => aborted(this);
  }
}

// ---- durable stores ------------------------------------------------------------------------------
//
// A store is an object with an opener under STORE (memoryStore() below; fileStore() in Node and
// indexedDBStore() in browsers live in their own files, which know the symbol by its name). Opening
// gives a handle that only moves bytes: the engine encodes every change, decides when the log is
// compacted, and reads the bytes back (src/core/durable/).

/** Where a store keeps its opener. */
const STORE = Symbol.for("execman.store");

/**
 * What an opened store does: read it whole (in chunks, in order; `feed` returns false to stop),
 * cut it to a length (a torn last write), append bytes, make what was written durable, replace it
 * whole atomically (a compaction; durable when it resolves), and release it.
 * @typedef {{
 *   read(feed: (chunk: Uint8Array) => boolean): Promise<number>,
 *   truncate(length: number): Promise<void>,
 *   append(bytes: Uint8Array): Promise<void>,
 *   sync(): Promise<void>,
 *   replace(bytes: Uint8Array): Promise<void>,
 *   close(): Promise<void>,
 * }} StoreHandle
 * @typedef {{ name: string, open(): Promise<StoreHandle> }} StoreOpener
 */

/** The store of a durable manager, and the bytes on their way to it. */
class Durable {
  /**
   * @param {string} name
   * @param {StoreHandle} handle
   * @param {number} flushMs
   */
  constructor(name, handle, flushMs) {
    this.name = name;
    this.handle = handle;
    this.flushMs = flushMs;
    /** Writes, one after the other. @type {Promise<void>} */
    this.chain = Promise.resolve();
    /** Batches taken from the engine and not yet appended (a failed write keeps them). @type {Uint8Array[]} */
    this.unwritten = [];
    /** An image to replace the store with before those batches. @type {Uint8Array | null} */
    this.image = null;
    /** A failed write that no `flush()` reported yet. @type {ExecutionError | null} */
    this.error = null;
    /** Whether a write is scheduled for the changes made since the last one. */
    this.scheduled = false;
    /** The last write and the release of the store, once the manager is closed. @type {Promise<void> | null} */
    this.released = null;
  }
}

const noop = () => {};

/** Runs `fn` at the end of the current task (after its microtasks and I/O callbacks). */
const soon =
  typeof setImmediate === "function"
    ? (/** @type {() => void} */ fn) => {
        setImmediate(fn);
      }
    : (/** @type {() => void} */ fn) => {
        setTimeout(fn, 0);
      };

/** @param {Uint8Array[]} parts */
function concat(parts) {
  if (parts.length === 1) return parts[0];
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * A store that keeps its bytes in memory, for tests and for managers that should survive a
 * `close()` and a later `open()` in the same process (reopening it after `close()` is a restart).
 * One open manager at a time: a second `open` while one is open rejects with `STORE_ERROR`.
 * @example
 * const store = memoryStore();
 * let manager = await ExecutionManager.open({ store });
 * await manager.close();
 * manager = await ExecutionManager.open({ store }); // the executions are back
 * @returns {import("./types.js").Store}
 */
export function memoryStore() {
  /** @type {Uint8Array[]} */
  let chunks = [];
  let open = false;
  /** @type {StoreOpener} */
  const opener = {
    name: "memory store",
    async open() {
      if (open) throw new Error("the store is in use by another open manager");
      open = true;
      let live = true;
      const check = () => {
        if (!live) throw new Error("the store was closed");
      };
      return {
        async read(feed) {
          let n = 0;
          for (const c of chunks) {
            n += c.length;
            if (!feed(c)) break;
          }
          return n;
        },
        async truncate(length) {
          check();
          chunks = [concat(chunks).slice(0, length)];
        },
        async append(bytes) {
          check();
          chunks.push(bytes.slice());
        },
        async sync() {
          check();
        },
        async replace(bytes) {
          check();
          chunks = [bytes.slice()];
        },
        async close() {
          if (live) {
            live = false;
            open = false;
          }
        },
      };
    },
  };
  return /** @type {any} */ (Object.freeze({ [STORE]: Object.freeze(opener) }));
}

// ---- watch() ------------------------------------------------------------------------------------

const WATCH_IDLE = 0; // next() not called yet
const WATCH_LIVE = 1; // following the execution
const WATCH_ENDING = 2; // no longer following: what is buffered (a snapshot or an error) is the last
const WATCH_DONE = 3;

/**
 * The async iterator of `watch(id)`. It starts following the execution at the first `next()`
 * (`begin`: look it up, take the current snapshot, register), keeps only the latest snapshot not
 * yet taken (so changes made while the consumer is busy are coalesced), ends after the terminal
 * snapshot, and stops following at once on `return()` (`break`), on the signal, or at the end
 * (`end`). An error of the first `next()` (NOT_FOUND, ...), the signal's reason or the freed
 * manager's INVALID_TRANSITION is the rejection of one `next()`, after which the iterator is done.
 * @implements {AsyncIterableIterator<Execution>}
 */
class Watch {
  /**
   * @param {unknown} id
   * @param {AbortSignal | undefined} signal
   * @param {(w: Watch) => void} begin  registers it (and pushes the current snapshot); may throw
   * @param {(w: Watch) => void} end  unregisters it
   * @param {(signal: AbortSignal, stop: () => void) => () => void} follow  calls `stop` when
   *   `signal` aborts, until the function it returns is called
   */
  constructor(id, signal, begin, end, follow) {
    this.id = id;
    this.signal = signal;
    this.begin = begin;
    this.end = end;
    this.follow = follow;
    /** Set by `begin` while registered. */
    this.registered = false;
    this.seq = 0;
    /** The index of the first change event that is newer than the first snapshot. */
    this.from = 0;
    this.state = WATCH_IDLE;
    /** @type {Execution | null} the latest snapshot not yet taken */
    this.latest = null;
    /** Whether `latest` is the terminal one. */
    this.last = false;
    this.failed = false;
    /** @type {unknown} */
    this.failure = undefined;
    /** @type {{ resolve: (r: IteratorResult<Execution, undefined>) => void, reject: (e: unknown) => void }[]} */
    this.requests = [];
    /** @type {(() => void) | null} stops following the signal */
    this.unfollow = null;
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  /** @returns {Promise<IteratorResult<Execution, undefined>>} */
  next() {
    if (this.state === WATCH_IDLE) this.#start();
    /** @type {Promise<IteratorResult<Execution, undefined>>} */
    const p = new Promise((resolve, reject) => this.requests.push({ resolve, reject }));
    this.#serve();
    return p;
  }

  /**
   * Stops following (what `break` calls); pending `next()` calls resolve done.
   * @returns {Promise<IteratorReturnResult<undefined>>}
   */
  return() {
    this.#detach();
    this.state = WATCH_DONE;
    this.latest = null;
    this.failed = false;
    this.failure = undefined;
    this.#serve();
    return Promise.resolve({ value: undefined, done: true });
  }

  #start() {
    this.state = WATCH_LIVE;
    const signal = this.signal;
    try {
      this.begin(this);
      if (signal !== undefined && isAborted(signal)) throw reasonOf(signal);
    } catch (err) {
      this.fail(err);
      return;
    }
    if (signal !== undefined && this.state === WATCH_LIVE) {
      this.unfollow = this.follow(signal, () => this.fail(reasonOf(signal)));
    }
  }

  /**
   * A snapshot newer than the last one (`terminal`: the last one of all).
   * @param {Execution} x
   * @param {boolean} terminal
   */
  push(x, terminal) {
    if (this.state !== WATCH_LIVE) return;
    this.latest = x;
    this.last = terminal;
    if (terminal) {
      this.#detach();
      this.state = WATCH_ENDING;
    }
    this.#serve();
  }

  /**
   * Ends the iterator with `err` (one `next()` rejects with it); anything buffered is dropped.
   * @param {unknown} err
   */
  fail(err) {
    if (this.state === WATCH_DONE) return;
    this.#detach();
    this.state = WATCH_ENDING;
    this.latest = null;
    this.failed = true;
    this.failure = err;
    this.#serve();
  }

  /** The manager was freed: a terminal snapshot already buffered is still yielded. */
  freed() {
    if (this.state === WATCH_ENDING) return;
    this.fail(freed());
  }

  #detach() {
    if (this.registered) this.end(this);
    const unfollow = this.unfollow;
    this.unfollow = null;
    if (unfollow !== null) unfollow();
  }

  /** Answers the pending `next()` calls with what there is. */
  #serve() {
    const requests = this.requests;
    while (requests.length > 0) {
      if (this.latest !== null) {
        const value = this.latest;
        this.latest = null;
        if (this.last) this.state = WATCH_DONE;
        /** @type {NonNullable<typeof requests[0]>} */ (requests.shift()).resolve({ value, done: false });
      } else if (this.failed) {
        const err = this.failure;
        this.failed = false;
        this.failure = undefined;
        this.state = WATCH_DONE;
        /** @type {NonNullable<typeof requests[0]>} */ (requests.shift()).reject(err);
      } else if (this.state === WATCH_DONE) {
        /** @type {NonNullable<typeof requests[0]>} */ (requests.shift()).resolve({ value: undefined, done: true });
      } else {
        return;
      }
    }
  }
}

// ---- Server-Sent Events: the two stream routes of fetch() ---------------------------------------
//
// A stream route's request becomes one client of a hub: the hub is one `subscribe()` for what that
// route asked to follow (one execution, or a filter over all of them, with its throttle), shared by
// every open stream that asked for the same thing. A change reaches the hub once: the snapshot is
// serialized to JSON and encoded to UTF-8 once, then each client's message is its own `event:` and
// `id:` lines followed by a copy of those shared bytes (one copy per client, the least a stream of
// its own needs). The messages of one burst of changes (one synchronous run of calls) go out as
// one chunk per client at the end of the burst (a microtask): one enqueue, and for the Node server
// one socket write, per client per burst rather than per message. The hub's one timer sends the
// heartbeat comment to its clients that sent nothing
// during the last interval. A client that goes (its stream cancelled) leaves its hub; the last one
// out unsubscribes and stops the timer, so nothing stays behind.

/** The heartbeat interval of streams, by default (ms). */
const SSE_HEARTBEAT_MS = 15_000;
/** A stream's reader more than this many bytes behind is disconnected (its stream errors). */
const SSE_MAX_BEHIND = 4 * 1024 * 1024;
/** What a stream queues before its reader is "behind" (backpressure reads this). */
const SSE_HIGH_WATER = 64 * 1024;
const utf8 = new TextEncoder();
const HEARTBEAT = utf8.encode(": heartbeat\n\n");
/** The statuses after which an execution's stream ends. */
const TERMINAL = new Set(["completed", "failed", "cancelled"]);
/** The headers of a stream's response. */
const SSE_HEADERS = Object.freeze({ "content-type": "text/event-stream", "cache-control": "no-store" });

/**
 * Messages as one chunk: for each, `event: <type>`, `id: <n>` (ASCII), then its shared `data:`
 * line bytes.
 * @param {(string | Uint8Array)[]} batch  type, data, type, data…  (data: `data: <json>\n\n`, UTF-8)
 * @param {number} n  the id of the first
 */
function messages(batch, n) {
  const heads = [];
  let size = 0;
  for (let i = 0; i < batch.length; i += 2) {
    const head = `event: ${batch[i]}\nid: ${n++}\n`;
    heads.push(head);
    size += head.length + /** @type {Uint8Array} */ (batch[i + 1]).length;
  }
  const chunk = new Uint8Array(size);
  let at = 0;
  for (let i = 0; i < heads.length; i++) {
    const head = heads[i];
    for (let k = 0; k < head.length; k++) chunk[at++] = head.charCodeAt(k);
    const data = /** @type {Uint8Array} */ (batch[2 * i + 1]);
    chunk.set(data, at);
    at += data.length;
  }
  return chunk;
}

/** @param {Execution} execution */
const dataLine = (execution) => utf8.encode(`data: ${JSON.stringify(execution)}\n\n`);

/** One open stream: its controller, its message count, and what it may skip. */
class StreamClient {
  /**
   * @param {StreamHub} hub
   * @param {number} from  the index of the first change event newer than the stream's start
   */
  constructor(hub, from) {
    this.hub = hub;
    this.from = from;
    /** Messages sent (the last `id:`). */
    this.n = 0;
    /** @type {(string | Uint8Array)[]} messages of this burst not yet sent: type, data, … */
    this.batch = [];
    /** Whether anything went out since the last heartbeat tick. */
    this.wrote = false;
    this.open = true;
    /** @type {ReadableStreamDefaultController<Uint8Array>} */
    this.controller = /** @type {any} */ (null);
    /** The stream the response reads, set up at once (its `start` runs in the constructor). */
    this.stream = new ReadableStream(
      {
        start: (controller) => {
          this.controller = controller;
        },
        cancel: () => this.leave(),
      },
      { highWaterMark: SSE_HIGH_WATER, size: (chunk) => chunk.byteLength },
    );
  }

  /**
   * Adds one message to this burst's (the hub sends them with `flush`).
   * @param {string} type
   * @param {Uint8Array} data
   */
  add(type, data) {
    this.batch.push(type, data);
    this.wrote = true;
  }

  /** Sends the messages of this burst as one chunk. */
  flush() {
    const batch = this.batch;
    if (batch.length === 0) return;
    this.batch = [];
    const n = this.n + 1;
    this.n += batch.length / 2;
    this.push(messages(batch, n));
  }

  /**
   * Queues a chunk on the stream; a reader too far behind is disconnected instead.
   * @param {Uint8Array} chunk
   */
  push(chunk) {
    if (!this.open) return;
    const c = this.controller;
    c.enqueue(chunk);
    this.wrote = true;
    if ((c.desiredSize ?? 0) < SSE_HIGH_WATER - SSE_MAX_BEHIND) {
      this.leave();
      c.error(new ExecutionError("RESOURCE_EXHAUSTED", "the stream's reader fell more than 4 MiB behind"));
    }
  }

  /** Ends the stream after what it queued (and this burst's messages). */
  close() {
    if (!this.open) return;
    this.flush();
    if (!this.open) return; // cut off by that flush
    this.leave();
    this.controller.close();
  }

  /** Leaves the hub (once). */
  leave() {
    if (!this.open) return;
    this.open = false;
    this.hub.remove(this);
  }
}

/**
 * One subscription shared by the streams that asked for the same thing (`key`): the changes it
 * hears go to each client, encoded once.
 */
class StreamHub {
  /**
   * @param {string} key
   * @param {boolean} ends  one execution's stream: it ends after the terminal snapshot
   * @param {(hub: StreamHub) => void} gone  called when the last client left
   */
  constructor(key, ends, gone) {
    this.key = key;
    this.ends = ends;
    this.gone = gone;
    /** @type {Set<StreamClient>} */
    this.clients = new Set();
    /** @type {() => void} unsubscribes */
    this.off = () => {};
    /** @type {ReturnType<typeof setInterval> | undefined} */
    this.timer = undefined;
    /** Whether a flush of this burst's messages is queued (a microtask). */
    this.flushing = false;
  }

  /**
   * Starts the heartbeat, every `ms` while a client is idle.
   * @param {number} ms
   */
  beatEvery(ms) {
    this.timer = setInterval(() => {
      for (const c of this.clients) {
        if (!c.wrote) c.push(HEARTBEAT.slice());
        c.wrote = false;
      }
    }, ms);
  }

  /**
   * One change heard by the hub's subscription, the `index`-th change event handed out.
   * @param {ExecutionEvent} event
   * @param {number} index
   */
  change({ type, execution }, index) {
    /** @type {Uint8Array | null} */
    let data = null;
    for (const c of this.clients) {
      if (index < c.from) continue; // older than the snapshot that stream started with
      data ??= dataLine(execution);
      c.add(type, data);
    }
    if (this.ends && (type === "removed" || (type === "status" && TERMINAL.has(execution.status)))) {
      for (const c of [...this.clients]) c.close();
      return;
    }
    if (data !== null && !this.flushing) {
      this.flushing = true;
      queueMicrotask(() => this.flush());
    }
  }

  /** The end of a burst: each client's messages go out as one chunk. */
  flush() {
    this.flushing = false;
    for (const c of [...this.clients]) c.flush();
  }

  /** @param {StreamClient} c */
  remove(c) {
    if (!this.clients.delete(c) || this.clients.size > 0) return;
    this.off();
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.gone(this);
  }
}

// ---- throttled listeners ------------------------------------------------------------------------

/**
 * A throttled listener's window for one execution: when its last `progress` event went out, and
 * the latest one held back since (null: none).
 * @typedef {{ last: number, event: ExecutionEvent | null, due: number }} Hold
 * @typedef {{ due: number, rec: ListenerRecord, hold: Hold }} Flush
 * @typedef {import("./types.js").ExecutionEvent} ExecutionEvent
 */

/**
 * @param {Flush[]} heap
 * @param {Flush} item
 */
function heapPush(heap, item) {
  let i = heap.length;
  heap.push(item);
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (heap[parent].due <= item.due) break;
    heap[i] = heap[parent];
    i = parent;
  }
  heap[i] = item;
}

/**
 * @param {Flush[]} heap
 * @returns {Flush}
 */
function heapPop(heap) {
  const top = heap[0];
  const item = /** @type {Flush} */ (heap.pop());
  const n = heap.length;
  if (n > 0) {
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && heap[child + 1].due < heap[child].due) child++;
      if (heap[child].due >= item.due) break;
      heap[i] = heap[child];
      i = child;
    }
    heap[i] = item;
  }
  return top;
}

/** A monotonic clock in ms for throttle windows. */
const monotonic = () => performance.now();

/**
 * A subscription: its listener, its filters (null: any) and its throttle (0: none) with the
 * windows it has open per execution.
 * @typedef {{
 *   fn: Listener, active: boolean, all: boolean,
 *   id: string | null, targetId: string | null, types: string[] | null,
 *   throttle: number, holds: Map<number, Hold> | null,
 * }} ListenerRecord
 * @typedef {{ resolve: (x: Execution) => void, reject: (e: unknown) => void, unfollow?: () => void }} Waiter
 * @typedef {{ e: Entry, list: Waiter[] }} Waiters
 */

/**
 * Whether the events of the execution `e` go to `rec`.
 * @param {ListenerRecord} rec
 * @param {Entry} e
 */
function matches(rec, e) {
  return (
    rec.all ||
    ((rec.id === null || rec.id === e.id) &&
      (rec.targetId === null || rec.targetId === e.targetId) &&
      (rec.types === null || rec.types.includes(e.type)))
  );
}

// ---- remote targets ------------------------------------------------------------------------------

/**
 * What a remote target's handler carries under `Symbol.for("execman.remote")` (execman/bullmq's
 * `enqueue`): `attach`, called by `register` with the manager's bridge, returns the target's port:
 * `submit` is called for each new execution of the target (still pending, a microtask after its
 * creation), `ended` for each that was cancelled (its other ends come from the queue itself).
 * @typedef {{ attach(bridge: Bridge, targetId: string): RemotePort }} Remote
 * @typedef {{ submit(execution: Execution): void, ended(execution: Execution): void }} RemotePort
 * What a remote target's queue (and a worker, `handler`) drives a manager through. The moves take
 * an id and return whether they were made (false when the id is unknown or the move is not legal
 * now); bad values throw INVALID_ARGUMENT.
 * @typedef {{
 *   start(id: string): boolean,
 *   progress(id: string, current: number, total?: number | null, message?: string | null): boolean,
 *   complete(id: string, result?: unknown): boolean,
 *   fail(id: string, error: unknown): boolean,
 *   retry(id: string, error: unknown, runAt?: number | null): boolean,
 *   cancel(id: string, reason?: string): boolean,
 *   status(id: string): Execution | undefined,
 *   policy(id: string): import("./types.js").RetryPolicy | null,
 *   create(request: import("./types.js").ExecutionRequest): Execution,
 *   handler(targetId: string): Function | undefined,
 *   live(): boolean,
 *   ExecutionError: typeof ExecutionError,
 * }} Bridge
 */

/**
 * The remote side of a handler, if it is a remote target's (see `Remote`).
 * @param {unknown} handler
 * @returns {Remote | undefined}
 */
function remoteOf(handler) {
  if (typeof handler !== "function") return undefined;
  try {
    // A Proxy's traps may throw: such a handler is an ordinary one (its properties are never read
    // again).
    const r = /** @type {any} */ (handler)[Symbol.for("execman.remote")];
    if (typeof r !== "object" || r === null) return undefined;
    const attach = r.attach;
    return typeof attach === "function" ? { attach: (b, t) => Reflect.apply(attach, r, [b, t]) } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Calls a remote target's hook, isolating what it throws (as a listener's).
 * @param {() => void} fn
 */
function tell(fn) {
  try {
    fn();
  } catch (err) {
    try {
      console.error("execman: a remote target's queue threw:", err);
    } catch {
      // Ignored, as for listeners.
    }
  }
}

/**
 * The `ExecutionManager` class around the engine class `Engine` (wasm-bindgen's).
 * @param {any} Engine
 */
export function wrap(Engine) {
  /** @type {WebAssembly.Memory | null} */
  let memory = null;

  class ExecutionManager {
    /** @type {any} the engine; null once freed */
    #engine;
    /** @type {number} */
    #ptr;
    /** @type {Float64Array} */
    #view;
    /** @type {Map<string, Entry>} */
    #byId = new Map();
    /** @type {Map<number, Entry>} */
    #bySeq = new Map();
    /** @type {Map<string, Function>} */
    #handlers = new Map();
    /** @type {Map<string, RemotePort>} the queues of remote targets, by target */
    #remotes = new Map();
    /** @type {Bridge | null} what remote targets and workers drive this manager through */
    #bridged = null;
    #submitQueued = false;
    /** @type {ListenerRecord[]} replaced, never mutated, on change */
    #listeners = [];
    #delivering = false;
    /** @type {Map<number, Waiters>} */
    #waiters = new Map();
    /** @type {Map<number, Run>} handlers running, by sequence */
    #running = new Map();
    #pumpQueued = false;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    #timer = undefined;
    /** Whether the timer was armed for less than its delay (a timer holds at most ~24.8 days). */
    #capped = false;
    /** @type {Map<AbortSignal, SignalGroup>} outside signals followed, each with one listener */
    #groups = new Map();
    /** @type {Map<number, SignalGroup>} the signal group of an execution, by sequence */
    #groupOf = new Map();
    /** @type {Map<number, Set<Watch>>} watch() iterators following an execution, by sequence */
    #watches = new Map();
    /** Listeners plus registered watches: the engine queues change events while there are any. */
    #audience = 0;
    /** Change events handed out by the engine so far (a watch skips those older than it). */
    #delivered = 0;
    /** @type {Flush[]} held progress events of throttled listeners, earliest due first */
    #flushes = [];
    /** @type {ReturnType<typeof setTimeout> | undefined} the one timer for the earliest flush */
    #flushTimer = undefined;
    #flushAt = Number.POSITIVE_INFINITY;
    /** @type {Map<string, StreamHub>} the subscriptions of open event streams, by what they follow */
    #hubs = new Map();
    /** The heartbeat interval of event streams opened from now on (ms). */
    #heartbeatMs = SSE_HEARTBEAT_MS;
    /** How many progress events throttled listeners hold now: with none, the flush timer is stopped. */
    #held = 0;
    /** @type {Durable | null} the store of a manager made by `open()`, until it is closed */
    #durable = null;

    /** @param {import("./types.js").ManagerOptions} [options] */
    constructor(options) {
      const engine = new Engine(options);
      const error = engine.error();
      if (error !== "") {
        engine.free();
        throw errorOf(error);
      }
      this.#engine = engine;
      if (memory === null) memory = /** @type {WebAssembly.Memory} */ (Engine.memory());
      this.#ptr = engine.scratch();
      this.#view = new Float64Array(memory.buffer, this.#ptr, SLOTS);
    }

    /** The engine; INVALID_TRANSITION once the manager was freed. */
    #live() {
      const engine = this.#engine;
      if (engine === null) throw freed();
      return engine;
    }

    /** The scratch array, re-made after the wasm memory grew (which detaches it). */
    #f() {
      const v = this.#view;
      // `length` (0 once detached) is a cheaper read than `byteLength` in V8.
      if (v.length !== 0) return v;
      this.#view = new Float64Array(/** @type {WebAssembly.Memory} */ (memory).buffer, this.#ptr, SLOTS);
      return this.#view;
    }

    /**
     * Writes `Date.now()` for the engine call about to be made, which must read the time first
     * thing (SLOT_NOW: the engine takes it instead of calling back into JS for it).
     */
    #stamp() {
      this.#f()[SLOT_NOW] = Date.now();
    }

    /** The engine, with `Date.now()` written for its next call (`#stamp`). */
    #stampedLive() {
      const engine = this.#live();
      this.#stamp();
      return engine;
    }

    /** The engine's error of the call that just failed. */
    #error() {
      const engine = this.#engine;
      return engine === null ? freed() : errorOf(engine.error());
    }

    /** Acts on the work the last changing call left (its WORK slot). */
    #after() {
      const w = this.#f()[SLOT_WORK];
      if (w !== 0) this.#work(w);
    }

    /**
     * Acts on work flags: the timer, the pump, then terminal executions and events, then the
     * sweep of removed executions (after the events, whose listeners may still need them).
     * @param {number} w  WORK flags
     */
    #work(w) {
      if (this.#engine === null) return;
      if ((w & WORK_TIMER) !== 0) {
        const f = this.#f();
        this.#arm(f[SLOT_WAKE], f[SLOT_DELAY]);
      }
      if ((w & WORK_STARTS) !== 0 && !this.#pumpQueued) {
        this.#pumpQueued = true;
        queueMicrotask(() => this.#pump());
      }
      if ((w & WORK_SUBMITS) !== 0 && !this.#submitQueued) {
        this.#submitQueued = true;
        queueMicrotask(() => this.#submit());
      }
      if ((w & WORK_STORE) !== 0) this.#dirty();
      if ((w & (WORK_FINISHED | WORK_EVENTS)) !== 0) this.#drain();
      if ((w & WORK_REMOVED) !== 0 && this.#engine !== null) this.#sweep();
    }

    // ---- the cache --------------------------------------------------------------------------

    /**
     * @param {number} seq
     * @param {string} fixed
     */
    #remember(seq, fixed) {
      const e = new Entry(seq, fixed);
      this.#bySeq.set(seq, e);
      this.#byId.set(e.id, e);
      return e;
    }

    /** @param {Entry} e */
    #forget(e) {
      this.#bySeq.delete(e.seq);
      if (this.#byId.get(e.id) === e) this.#byId.delete(e.id);
    }

    #sweep() {
      const seqs = this.#live().drain_removed();
      for (let i = 0; i < seqs.length; i++) {
        const e = this.#bySeq.get(seqs[i]);
        if (e !== undefined) this.#forget(e);
      }
    }

    /**
     * The entry of the execution with id `id` (any value), from the cache or the engine; null
     * when unknown. An id with a lone surrogate throws INVALID_ARGUMENT.
     * @param {unknown} id
     * @returns {Entry | null}
     */
    #lookup(id) {
      if (typeof id === "string") {
        const e = this.#byId.get(id);
        if (e !== undefined) return e;
      }
      const seq = this.#live().find(id, false);
      if (seq > 0) return this.#entryOf(seq) ?? null;
      if (seq === ERROR) throw this.#error();
      return null;
    }

    /**
     * The entry of `id` as the engine holds it now; NOT_FOUND when unknown. For an entry that
     * was unknown, or that the engine answered GONE for (removed behind the cache's back).
     * @param {unknown} id
     * @param {Entry | null} stale  dropped from the cache first
     * @returns {Entry}
     */
    #must(id, stale) {
      if (stale !== null) {
        this.#sweep();
        this.#forget(stale);
      }
      const seq = this.#live().find(id, true);
      const e = seq > 0 ? this.#entryOf(seq) : undefined;
      if (e === undefined) throw this.#error();
      return e;
    }

    /**
     * The entry of a held creation sequence, read from the engine if unseen.
     * @param {number} seq
     * @returns {Entry | undefined}
     */
    #entryOf(seq) {
      const e = this.#bySeq.get(seq);
      if (e !== undefined) return e;
      const fixed = this.#live().fixed(seq);
      return fixed === undefined ? undefined : this.#remember(seq, fixed);
    }

    /**
     * The snapshot of `e` from the numbers in the scratch; `texts` is its texts JSON when the
     * call that filled the scratch returned it.
     * @param {Entry} e
     * @param {string | undefined} texts
     * @returns {Execution}
     */
    #snapshot(e, texts) {
      // Every slot is read before anything below may call into wasm: an allocation there may
      // grow the memory, which detaches this view.
      const f = this.#f();
      const code = f[SLOT_STATUS];
      const createdAt = f[SLOT_CREATED];
      const startedAt = f[SLOT_STARTED];
      const finishedAt = f[SLOT_FINISHED];
      const updatedAt = f[SLOT_UPDATED];
      const hasProgress = f[SLOT_HAS_PROGRESS] === 1;
      const current = f[SLOT_CURRENT];
      const total = f[SLOT_TOTAL];
      const progressUpdatedAt = f[SLOT_PROGRESS_UPDATED];
      const hasTexts = f[SLOT_HAS_TEXTS] === 1;
      const version = f[SLOT_TEXT_VERSION];
      const attempt = f[SLOT_ATTEMPT];
      const runAt = f[SLOT_RUN_AT];
      this.#texts(e, hasTexts, version, texts);
      // Keys in the contract's order: result, error or cancelReason before the timestamps. The
      // object is built by adding properties (never deleting them, which would slow it down).
      /** @type {any} */
      const x = {
        id: e.id,
        targetId: e.targetId,
        type: e.type,
        status: STATUS[code - 1],
        inputs: copy(e.inputs),
        config: copy(e.config),
        progress: hasProgress ? progressOf(current, total, e.msg, progressUpdatedAt) : null,
      };
      const out = e.out;
      if (out !== null) {
        if (out.result !== undefined) x.result = copy(out.result);
        else if (out.error !== undefined) x.error = { ...out.error };
        else x.cancelReason = out.cancelReason;
      } else if (code === STATUS_COMPLETED) {
        x.result = null;
      }
      x.createdAt = createdAt;
      x.startedAt = orNull(startedAt);
      x.finishedAt = orNull(finishedAt);
      x.updatedAt = updatedAt;
      x.priority = e.priority;
      x.attempt = attempt;
      x.maxAttempts = e.maxAttempts;
      x.runAt = orNull(runAt);
      return x;
    }

    /**
     * Brings `e.msg`/`e.out` to text version `version`: from `texts` (when the caller has them)
     * or read from the engine, only when the version changed.
     * @param {Entry} e
     * @param {boolean} hasTexts
     * @param {number} version
     * @param {string | undefined} texts
     */
    #texts(e, hasTexts, version, texts) {
      if (e.tv === version) return;
      if (hasTexts) {
        const a = JSON.parse(texts === undefined ? this.#live().texts(e.seq) : texts);
        e.msg = a[0];
        e.out = a[1];
      } else {
        e.msg = null;
        e.out = null;
      }
      e.tv = version;
    }

    /**
     * After a change by sequence that filled the scratch: the snapshot, or null when the engine
     * said GONE; throws its error.
     * @param {Entry} e
     * @param {string | undefined} texts
     * @returns {Execution | null}
     */
    #changed(e, texts) {
      const f = this.#f();
      const code = f[SLOT_STATUS];
      if (code === GONE) return null;
      if (code === ERROR) throw this.#error();
      const w = f[SLOT_WORK];
      const x = this.#snapshot(e, texts);
      if (w !== 0) this.#work(w);
      return x;
    }

    // ---- handler-driven executions ------------------------------------------------------------

    /**
     * Registers the handler of a target. Throws `ALREADY_EXISTS` if taken.
     * @example
     * manager.register("export", async (inputs, { signal, progress }) => "done", { type: "batch" });
     * @param {string} targetId
     * @param {Function} handler
     * @param {import("./types.js").TargetOptions} [options]
     */
    register(targetId, handler, options) {
      const remote = remoteOf(handler);
      const engine = this.#live();
      if (engine.register(targetId, options, typeof handler === "function", remote !== undefined) === ERROR) {
        throw this.#error();
      }
      this.#handlers.set(targetId, handler);
      if (remote !== undefined) this.#remotes.set(targetId, remote.attach(this.#bridge(), targetId));
      // A durable manager's restored pending executions of this target may start now.
      this.#after();
    }

    /**
     * Creates an execution of a registered target; returns its `pending` snapshot. The handler
     * starts in a later microtask, when a slot is free.
     * @example
     * const { id } = manager.create({ targetId: "export", inputs: { rows: 10 } });
     * @param {import("./types.js").ExecutionRequest} request
     * @returns {Execution}
     */
    create(request) {
      const engine = this.#live();
      return this.#created(engine, engine.create(request));
    }

    /**
     * Tracks work that runs elsewhere; returns its `pending` snapshot.
     * @example
     * const job = manager.track({ targetId: "server-job" });
     * @param {import("./types.js").ExecutionRequest} request
     * @returns {Execution}
     */
    track(request) {
      const engine = this.#live();
      return this.#created(engine, engine.track(request));
    }

    /**
     * The new execution of a `create`/`track` that returned `fixed`: its snapshot. With a
     * `signal`, the execution follows it; with one already aborted, it is cancelled before the
     * call returns (its `created` and `status` events are delivered together afterwards).
     * @param {any} engine  the engine that made it (a getter of the request may have freed it since)
     * @param {string | undefined} fixed
     */
    #created(engine, fixed) {
      if (fixed === undefined) throw this.#error();
      const signal = this.#engine === null ? undefined : engine.take_signal();
      const f = this.#f();
      const seq = f[SLOT_SEQ];
      let w = f[SLOT_WORK];
      const e = this.#bySeq.get(seq) ?? this.#remember(seq, fixed);
      let x = this.#snapshot(e, undefined);
      if (signal !== undefined) {
        if (isAborted(signal)) {
          // The reason's getters may call this manager: they run before the cancel.
          const text = abortText(signal);
          const now = this.#engine;
          if (now !== null && this.#cancelled(seq, text)) {
            w |= this.#f()[SLOT_WORK];
            x = this.#snapshot(e, this.#cancelTexts);
          } else if (now !== null && now.fill(seq) !== GONE) {
            x = this.#snapshot(e, undefined); // a getter of the reason ended it first
          }
          this.#cancelTexts = undefined;
        } else {
          this.#follow(seq, signal);
        }
      }
      if (w !== 0) this.#work(w);
      return x;
    }

    /** @type {string | undefined} the texts the last #cancelled returned */
    #cancelTexts = undefined;

    /**
     * Cancels `seq` for an aborted outside signal, with the reason `text` when the engine takes it
     * (a reason it refuses, or none, cancels without one). Whether it was cancelled now (its
     * numbers are in the scratch, its texts in #cancelTexts, its work not yet done).
     * @param {number} seq
     * @param {string | undefined} text
     */
    #cancelled(seq, text) {
      const engine = this.#live();
      let staged = false;
      if (text !== undefined) {
        staged = engine.stage(STAGE_REASON, text) !== ERROR;
        if (!staged) engine.error(); // forgotten: the execution is cancelled without a reason
      }
      this.#cancelTexts = engine.cancel(seq, staged);
      const code = this.#f()[SLOT_STATUS];
      if (code === ERROR) engine.error(); // terminal meanwhile: nothing to cancel
      return code === STATUS_CANCELLED;
    }

    /**
     * The execution `seq` follows the outside signal `signal` until it is terminal.
     * @param {number} seq
     * @param {AbortSignal} signal
     */
    #follow(seq, signal) {
      const g = this.#group(signal);
      g.seqs.add(seq);
      this.#groupOf.set(seq, g);
      this.#live().watch(seq);
    }

    /**
     * The group of `signal`, listened to from now on.
     * @param {AbortSignal} signal
     */
    #group(signal) {
      let g = this.#groups.get(signal);
      if (g === undefined) {
        g = new SignalGroup(signal, (group) => this.#abortGroup(group));
        this.#groups.set(signal, g);
        onAbort(signal, g.listener);
      }
      return g;
    }

    /**
     * Stops listening to the signal of `g` when nothing follows it any more.
     * @param {SignalGroup} g
     */
    #release(g) {
      if (g.seqs.size > 0 || g.stops.size > 0 || this.#groups.get(g.signal) !== g) return;
      this.#groups.delete(g.signal);
      offAbort(g.signal, g.listener);
    }

    /**
     * Calls `stop` when `signal` aborts, until the returned function is called (a wait or a
     * watch).
     * @param {AbortSignal} signal
     * @param {() => void} stop
     * @returns {() => void}
     */
    #onAbort(signal, stop) {
      const g = this.#group(signal);
      g.stops.add(stop);
      return () => {
        if (g.stops.delete(stop)) this.#release(g);
      };
    }

    /**
     * An outside signal aborted: the waits and watches following it stop (they reject with its
     * reason: it aborted before their execution ended), then every execution following it is
     * cancelled, in creation order.
     * @param {SignalGroup} g
     */
    #abortGroup(g) {
      if (this.#engine === null) return;
      const stops = [...g.stops];
      g.stops.clear();
      for (const stop of stops) stop();
      this.#release(g);
      if (this.#engine === null || g.seqs.size === 0) return;
      const text = abortText(g.signal);
      for (const seq of [...g.seqs]) {
        if (this.#engine === null) return;
        if (!g.seqs.has(seq)) continue; // ended meanwhile (a listener of an earlier cancel)
        const cancelled = this.#cancelled(seq, text);
        this.#cancelTexts = undefined;
        const code = this.#f()[SLOT_STATUS];
        if (cancelled || code === ERROR) this.#after();
      }
    }

    /**
     * The execution `seq` is terminal: it no longer follows its outside signal, and the manager
     * stops listening to a signal no execution follows any more.
     * @param {number} seq
     */
    #unfollow(seq) {
      const g = this.#groupOf.get(seq);
      if (g === undefined) return;
      this.#groupOf.delete(seq);
      g.seqs.delete(seq);
      this.#release(g);
    }

    /** Starts queued handler-driven executions while slots are free (a microtask). */
    #pump() {
      this.#pumpQueued = false;
      for (;;) {
        const engine = this.#engine;
        if (engine === null) return;
        const seq = engine.next_start();
        if (seq === 0) return;
        // Listeners see `running` before the handler runs; one of them may end the execution (or
        // free the manager), and then the handler is not called at all.
        // Its numbers are in the scratch: without work to do, no code ran since.
        const w = this.#f()[SLOT_WORK] & ~WORK_STARTS;
        if (w === 0) {
          this.#call(seq);
          continue;
        }
        this.#work(w);
        const after = this.#engine;
        if (after === null) return;
        if (after.fill(seq) === STATUS_RUNNING) {
          this.#call(seq);
        } else {
          after.release(seq);
          this.#after();
        }
      }
    }

    /**
     * Calls the handler of the started execution `seq` (its numbers are in the scratch).
     * @param {number} seq
     */
    #call(seq) {
      const run = new Run(this.#f()[SLOT_ATTEMPT]);
      const e = /** @type {Entry} */ (this.#entryOf(seq));
      const handler = /** @type {Function} */ (this.#handlers.get(e.targetId));
      this.#running.set(seq, run);
      const ctx = {
        id: e.id,
        attempt: run.attempt,
        get signal() {
          return run.signal();
        },
        config: copy(e.config),
        /**
         * @param {number} current
         * @param {number | null} [total]
         * @param {string | null} [message]
         */
        progress: (current, total, message) => {
          if (this.#engine === null) return;
          this.#checked(current, total, message);
          const code = this.#progress(seq, /** @type {number} */ (current), total, message, run.attempt);
          if (code === ERROR) throw this.#error();
          this.#after();
        },
      };
      /** @type {Promise<unknown>} */
      let promise;
      try {
        promise = Promise.resolve(Reflect.apply(handler, undefined, [copy(e.inputs), ctx]));
      } catch (err) {
        this.#settle(seq, run, err, true);
        return;
      }
      // One microtask later: a cancel queued right after the handler resolved still wins
      // (README, "Races and their outcomes").
      promise.then(
        (value) => queueMicrotask(() => this.#settle(seq, run, value, false)),
        (err) => queueMicrotask(() => this.#settle(seq, run, err, true)),
      );
    }

    /**
     * The handler of attempt `run` settled (or its call threw).
     * @param {number} seq
     * @param {Run} run
     * @param {unknown} value
     * @param {boolean} threw
     */
    #settle(seq, run, value, threw) {
      // A later attempt may be running already (this one timed out and was retried).
      if (this.#running.get(seq) === run) this.#running.delete(seq);
      const engine = this.#engine;
      if (engine === null) return;
      engine.settle(seq, run.attempt, value, threw);
      this.#after();
    }

    /**
     * A progress report of `seq` whose arguments `#checked` accepted: `ctx.progress` of attempt
     * `attempt`, or (`attempt` 0) `reportProgress`, or (`remote`) the report of a remote execution's
     * job; the reply code (1, GONE, ERROR).
     * @param {number} seq
     * @param {number} current
     * @param {unknown} total
     * @param {unknown} message
     * @param {number} attempt
     * @param {boolean} [remote]
     * @returns {number}
     */
    #progress(seq, current, total, message, attempt, remote = false) {
      const engine = this.#live();
      const handler = attempt > 0;
      this.#stamp();
      if (message == null) {
        return total != null
          ? engine.progress(seq, current, total, true, undefined, handler, attempt, remote)
          : engine.progress(seq, current, 0, false, undefined, handler, attempt, remote);
      }
      return engine.progress(seq, current, total ?? 0, total != null, message, handler, attempt, remote);
    }

    /**
     * Checks the types of progress arguments (the engine checks their values); throws the
     * engine's INVALID_ARGUMENT for the first wrong one.
     * @param {unknown} current
     * @param {unknown} total
     * @param {unknown} message
     */
    #checked(current, total, message) {
      const engine = this.#live();
      if (typeof current !== "number") {
        engine.invalid("current", "a number", current);
        throw this.#error();
      }
      if (total != null && typeof total !== "number") {
        engine.invalid("total", "a number", total);
        throw this.#error();
      }
      if (message != null && (typeof message !== "string" || message.length > MAX_STRING || !message.isWellFormed())) {
        engine.invalid_string("message", message);
        throw this.#error();
      }
    }

    // ---- externally driven executions ---------------------------------------------------------
    //
    // Each method: the id (a malformed one throws), then its other arguments (converted by the
    // engine before the change, so their errors come first and user getters run once), then
    // NOT_FOUND for an unknown id, then the change by sequence. A cached execution that is gone
    // meanwhile (the engine answers GONE) is looked up by id once more.

    /**
     * Starts a tracked execution; returns its `running` snapshot.
     * @param {string} id
     * @returns {Execution}
     */
    start(id) {
      let e = this.#lookup(id) ?? this.#must(id, null);
      let x = this.#changed(e, this.#stampedLive().start(e.seq, false));
      if (x === null) {
        e = this.#must(id, e);
        x = /** @type {Execution} */ (this.#changed(e, this.#stampedLive().start(e.seq, false)));
      }
      return x;
    }

    /**
     * Reports progress of a running tracked execution.
     * @param {string} id
     * @param {number} current
     * @param {number | null} [total]
     * @param {string | null} [message]
     */
    reportProgress(id, current, total, message) {
      let e = this.#lookup(id);
      this.#checked(current, total, message);
      if (e === null) e = this.#must(id, null);
      let code = this.#progress(e.seq, current, total, message, 0);
      if (code === GONE) {
        e = this.#must(id, e);
        code = this.#progress(e.seq, current, total, message, 0);
      }
      if (code === ERROR) throw this.#error();
      this.#after();
    }

    /**
     * Completes a running tracked execution with `result` (default `null`).
     * @param {string} id
     * @param {unknown} [result]
     * @returns {Execution}
     */
    complete(id, result) {
      let e = this.#lookup(id);
      const staged = result !== undefined;
      if (staged && this.#live().stage(STAGE_RESULT, result) === ERROR) throw this.#error();
      if (e === null) e = this.#must(id, null);
      let x = this.#changed(e, this.#stampedLive().complete(e.seq, staged, false));
      if (x === null) {
        e = this.#must(id, e);
        x = /** @type {Execution} */ (this.#changed(e, this.#stampedLive().complete(e.seq, staged, false)));
      }
      return x;
    }

    /**
     * Fails a running tracked execution.
     * @param {string} id
     * @param {unknown} error
     * @returns {Execution}
     */
    fail(id, error) {
      let e = this.#lookup(id);
      if (this.#live().stage(STAGE_FAILURE, error) === ERROR) throw this.#error();
      if (e === null) e = this.#must(id, null);
      let x = this.#changed(e, this.#stampedLive().fail(e.seq, false));
      if (x === null) {
        e = this.#must(id, e);
        x = /** @type {Execution} */ (this.#changed(e, this.#stampedLive().fail(e.seq, false)));
      }
      return x;
    }

    // ---- queries ------------------------------------------------------------------------------

    /**
     * The snapshot of an execution, or `undefined` if no such id.
     * @param {string} id
     * @returns {Execution | undefined}
     */
    status(id) {
      let e = this.#lookup(id);
      if (e !== null && this.#live().fill(e.seq) === GONE) {
        this.#forget(e);
        e = this.#lookup(id); // filled by find
      }
      return e === null ? undefined : this.#snapshot(e, undefined);
    }

    /**
     * The progress of an execution: `null` if none reported, `undefined` if no such id.
     * @param {string} id
     * @returns {Progress | null | undefined}
     */
    progress(id) {
      let e = this.#lookup(id);
      if (e !== null && this.#live().fill(e.seq) === GONE) {
        this.#forget(e);
        e = this.#lookup(id); // filled by find
      }
      if (e === null) return undefined;
      const f = this.#f();
      if (f[SLOT_HAS_PROGRESS] !== 1) return null;
      const current = f[SLOT_CURRENT];
      const total = f[SLOT_TOTAL];
      const updatedAt = f[SLOT_PROGRESS_UPDATED];
      this.#texts(e, f[SLOT_HAS_TEXTS] === 1, f[SLOT_TEXT_VERSION], undefined);
      return progressOf(current, total, e.msg, updatedAt);
    }

    /**
     * One page of executions matching the query.
     * @example
     * let page = manager.list({ status: ["running", "pending"], pageSize: 50 });
     * @param {import("./types.js").ListQuery} [query]
     * @returns {Page}
     */
    list(query) {
      const a = this.#live().list(query);
      if (a.length === 0) throw this.#error();
      const engine = this.#live(); // a getter of `query` may have freed the manager
      const hasNext = a[4] === 1;
      const nextCursor = hasNext ? (engine.cursor() ?? null) : null;
      const n = a.length - 5;
      const items = new Array(n);
      let k = 0;
      for (let i = 0; i < n; i++) {
        const seq = a[5 + i];
        const e = this.#entryOf(seq);
        if (e === undefined || engine.fill(seq) === GONE) continue;
        items[k++] = this.#snapshot(e, undefined);
      }
      items.length = k;
      return {
        items,
        total: a[0],
        page: orNull(a[1]),
        pageSize: a[2],
        totalPages: a[3],
        hasNext,
        nextCursor,
      };
    }

    /**
     * Executions held per status, and in all.
     * @returns {Counts}
     */
    counts() {
      const c = this.#live().counts();
      if (c.length === 0) throw this.#error();
      return { pending: c[0], running: c[1], completed: c[2], failed: c[3], cancelled: c[4], total: c[5] };
    }

    // ---- control ------------------------------------------------------------------------------

    /**
     * Cancels a pending or running execution; its signal aborts before this returns.
     * @example
     * manager.cancel(id, "user pressed stop");
     * @param {string} id
     * @param {string} [reason]
     * @returns {Execution}
     */
    cancel(id, reason) {
      let e = this.#lookup(id);
      const staged = reason != null;
      if (staged && this.#live().stage(STAGE_REASON, reason) === ERROR) throw this.#error();
      if (e === null) e = this.#must(id, null);
      let x = this.#changed(e, this.#live().cancel(e.seq, staged));
      if (x === null) {
        e = this.#must(id, e);
        x = /** @type {Execution} */ (this.#changed(e, this.#live().cancel(e.seq, staged)));
      }
      return x;
    }

    /**
     * Resolves with the terminal snapshot (whatever the terminal status); rejects `NOT_FOUND` for
     * an unknown id, and `INVALID_TRANSITION` if the manager is freed first. With
     * `options.signal`, rejects with the signal's reason when it aborts first (or was aborted at
     * the call); the execution goes on.
     * @example
     * const { status, result, error } = await manager.wait(id, { signal: AbortSignal.timeout(5000) });
     * @param {string} id
     * @param {import("./types.js").WaitOptions} [options]
     * @returns {Promise<Execution>}
     */
    wait(id, options) {
      try {
        let e = this.#lookup(id);
        const signal = options === undefined ? undefined : this.#signalOption(options);
        if (e === null) e = this.#must(id, null);
        // Without a signal, one call fills and (unless terminal) watches.
        let watched = signal === undefined;
        const engine = this.#live();
        if ((watched ? engine.wait(e.seq) : engine.fill(e.seq)) === GONE) {
          e = this.#must(id, e); // filled by find
          watched = false;
        }
        if (signal !== undefined && isAborted(signal)) return Promise.reject(reasonOf(signal));
        if (this.#f()[SLOT_STATUS] >= STATUS_COMPLETED) return Promise.resolve(this.#snapshot(e, undefined));
        let w = this.#waiters.get(e.seq);
        if (w === undefined) {
          if (!watched) this.#live().watch(e.seq);
          w = { e, list: [] };
          this.#waiters.set(e.seq, w);
        }
        const list = w.list;
        return new Promise((resolve, reject) => {
          /** @type {Waiter} */
          const waiter = { resolve, reject };
          if (signal !== undefined) {
            waiter.unfollow = this.#onAbort(signal, () => {
              const i = list.indexOf(waiter);
              if (i < 0) return;
              list.splice(i, 1);
              reject(reasonOf(signal));
            });
          }
          list.push(waiter);
        });
      } catch (err) {
        return Promise.reject(err);
      }
    }

    /**
     * The `signal` of `wait`/`watch` options (undefined: none); throws INVALID_ARGUMENT.
     * @param {unknown} options
     * @returns {AbortSignal | undefined}
     */
    #signalOption(options) {
      const engine = this.#live();
      const n = engine.options_signal(options);
      if (n === ERROR) throw this.#error();
      return n === 1 ? this.#live().take_signal() : undefined;
    }

    /**
     * An async iterable of the execution's snapshots: the current one at once, then the latest
     * after each change (changes made while the consumer is busy are coalesced), ending after the
     * terminal one. An unknown id rejects the first `next()` with `NOT_FOUND`; `break` or
     * `options.signal` stops it (the signal: one `next()` rejects with its reason).
     * @example
     * for await (const e of manager.watch(id)) render(e);
     * @param {string} id
     * @param {import("./types.js").WaitOptions} [options]
     * @returns {import("./types.js").ExecutionWatch}
     */
    watch(id, options) {
      this.#live();
      const signal = options === undefined ? undefined : this.#signalOption(options);
      return new Watch(
        id,
        signal,
        (w) => this.#watchBegin(w),
        (w) => this.#watchEnd(w),
        (sig, stop) => this.#onAbort(sig, stop),
      );
    }

    /**
     * The first `next()` of a watch: its current snapshot, and it follows the execution's change
     * events from here (unless that snapshot is terminal).
     * @param {Watch} w
     */
    #watchBegin(w) {
      let e = this.#lookup(w.id) ?? this.#must(w.id, null);
      if (this.#live().fill(e.seq) === GONE) {
        e = this.#must(w.id, e); // filled by find
      }
      const terminal = this.#f()[SLOT_STATUS] >= STATUS_COMPLETED;
      const x = this.#snapshot(e, undefined);
      if (!terminal) {
        let set = this.#watches.get(e.seq);
        if (set === undefined) {
          set = new Set();
          this.#watches.set(e.seq, set);
        }
        set.add(w);
        w.seq = e.seq;
        w.registered = true;
        this.#hear(1);
        // Events queued before now are older than `x`.
        w.from = this.#delivered + this.#live().queued_events();
      }
      w.push(x, terminal);
    }

    /** @param {Watch} w */
    #watchEnd(w) {
      if (!w.registered) return;
      w.registered = false;
      const set = this.#watches.get(w.seq);
      if (set?.delete(w) && set.size === 0) this.#watches.delete(w.seq);
      this.#hear(-1);
    }

    /**
     * One more (or one less) listener or watch; the engine queues change events while there are
     * any.
     * @param {number} delta
     */
    #hear(delta) {
      const before = this.#audience;
      this.#audience += delta;
      const engine = this.#engine;
      if (engine === null) return;
      if (before === 0 && this.#audience > 0) engine.listen(true);
      else if (before > 0 && this.#audience === 0) engine.listen(false);
    }

    /**
     * Removes a terminal execution; returns its snapshot.
     * @param {string} id
     * @returns {Execution}
     */
    remove(id) {
      let e = this.#lookup(id) ?? this.#must(id, null);
      let x = this.#changed(e, this.#live().remove(e.seq));
      if (x === null) {
        e = this.#must(id, e);
        x = /** @type {Execution} */ (this.#changed(e, this.#live().remove(e.seq)));
      }
      return x;
    }

    /**
     * Removes every terminal execution; returns how many.
     * @returns {number}
     */
    clear() {
      const n = this.#live().clear();
      if (n === ERROR) throw this.#error();
      this.#after();
      return n;
    }

    // ---- events -------------------------------------------------------------------------------

    /**
     * Calls `listener({ type, execution })` after each change; returns a function that
     * unsubscribes it (calling it again does nothing). `options` keeps only the events of
     * executions matching every given field (`id`, `targetId`, `type`: one or an array), and
     * `throttleMs` sends at most one `progress` event per execution per window (the latest; a
     * held one goes out before that execution's next other event).
     * @example
     * const off = manager.subscribe(({ type, execution }) => console.log(type, execution.status));
     * manager.subscribe(({ execution }) => bar(execution.progress), { id, throttleMs: 100 });
     * @param {Listener} listener
     * @param {import("./types.js").SubscribeOptions} [options]
     * @returns {() => void}
     */
    subscribe(listener, options) {
      const engine = this.#live();
      if (typeof listener !== "function") {
        engine.invalid("listener", "a function", listener);
        throw this.#error();
      }
      /** @type {ListenerRecord} */
      const rec = {
        fn: listener,
        active: true,
        all: true,
        id: null,
        targetId: null,
        types: null,
        throttle: 0,
        holds: null,
      };
      if (options !== undefined && options !== null) {
        const a = engine.subscription(options);
        if (a === undefined) throw this.#error();
        rec.id = a[0];
        rec.targetId = a[1];
        rec.types = a[2];
        rec.all = a[0] === null && a[1] === null && a[2] === null;
        if (a[3] > 0) {
          rec.throttle = a[3];
          rec.holds = new Map();
        }
        this.#live(); // a getter of `options` may have freed the manager
      }
      this.#listeners = [...this.#listeners, rec];
      this.#hear(1);
      return () => {
        if (!rec.active) return;
        rec.active = false;
        this.#listeners = this.#listeners.filter((r) => r !== rec);
        if (rec.holds !== null && rec.holds.size > 0) {
          let dropped = 0;
          for (const h of rec.holds.values()) if (h.event !== null) dropped++;
          rec.holds.clear();
          this.#flushes = this.#flushes.filter((x) => x.rec !== rec).sort((a, b) => a.due - b.due);
          if (dropped > 0) this.#heldGone(dropped);
        }
        this.#hear(-1);
      };
    }

    /**
     * Drains what the engine queued: terminal executions always (even inside a listener), then
     * change events unless they are being delivered already (a listener's changes are delivered
     * after the current event reached every listener).
     */
    #drain() {
      for (;;) {
        const engine = this.#engine;
        if (engine === null) return;
        const seq = engine.next_finished();
        if (seq === 0) break;
        this.#finished(seq);
      }
      // Without listeners or watches the engine queues no events (`listen(false)` dropped any).
      if (this.#delivering || this.#audience === 0) return;
      this.#delivering = true;
      try {
        for (;;) {
          const engine = this.#engine;
          if (engine === null) return;
          const kind = engine.next_event();
          if (kind === 0) return;
          this.#deliver(kind, this.#delivered++);
        }
      } finally {
        this.#delivering = false;
      }
    }

    /**
     * A watched execution became terminal, or the attempt its handler runs ended in a wait for a
     * retry (then only the run ends: waiters wait on); its numbers then are in the scratch.
     * @param {number} seq
     */
    #finished(seq) {
      const f = this.#f();
      const code = f[SLOT_STATUS];
      // Waiters wait for the terminal status: an attempt's end alone (a retry) leaves them waiting.
      const w = code >= STATUS_COMPLETED ? this.#waiters.get(seq) : undefined;
      const run = this.#running.get(seq);
      // A remote execution's queue hears of its cancels (its other ends are the queue's own doing).
      const re = code === STATUS_CANCELLED && this.#remotes.size > 0 ? this.#entryOf(seq) : undefined;
      const remote = re === undefined ? undefined : this.#remotes.get(re.targetId);
      // Texts are read for waiters, for a remote execution's queue, and for a failed attempt's run
      // (its TimeoutError reason), not for an execution followed only for its outside signal.
      const needed =
        w !== undefined ||
        remote !== undefined ||
        (run !== undefined && (code === STATUS_FAILED || code === STATUS_PENDING));
      const texts = needed && this.#f()[SLOT_HAS_TEXTS] === 1 ? this.#live().finished_texts() : undefined;
      /** @type {Execution[]} */
      let snapshots = [];
      if (w !== undefined) {
        this.#waiters.delete(seq);
        snapshots = w.list.map(() => this.#snapshot(w.e, texts));
      }
      // Before anything below runs user code (abort listeners, waiters), which may use the scratch.
      const ended = remote !== undefined ? this.#snapshot(/** @type {Entry} */ (re), texts) : undefined;
      if (run !== undefined) {
        this.#running.delete(seq);
        const error =
          snapshots.length > 0 ? snapshots[0].error : texts !== undefined ? JSON.parse(texts)[1]?.error : undefined;
        run.finish(code, error);
      }
      if (code >= STATUS_COMPLETED) this.#unfollow(seq); // (never for an attempt's end alone)
      if (w !== undefined) {
        for (let i = 0; i < w.list.length; i++) {
          const waiter = w.list[i];
          waiter.unfollow?.();
          waiter.resolve(snapshots[i]);
        }
      }
      if (remote !== undefined && ended !== undefined) tell(() => remote.ended(ended));
    }

    // ---- remote targets (execman/bullmq) ----------------------------------------------------------
    //
    // A handler with a `Symbol.for("execman.remote")` property (what `enqueue(queue)` returns) makes
    // its target remote: the engine creates its executions as any others but queues none of them to
    // start here; each new one, still pending a microtask after its creation (by `create` or REST),
    // goes to the queue's `submit`, each cancel to its `ended`, and
    // the queue moves them along through the bridge: the moves of tracked work (start, progress,
    // complete, fail) plus `retry` (running -> pending), refused to every other caller.

    /** Hands the remote executions created since to their queues (a microtask). */
    #submit() {
      this.#submitQueued = false;
      for (;;) {
        const engine = this.#engine;
        if (engine === null) return;
        const seq = engine.next_submit();
        if (seq === 0) return;
        if (this.#f()[SLOT_STATUS] !== STATUS_PENDING) continue; // cancelled (or removed) already
        const e = this.#entryOf(seq);
        if (e === undefined) continue;
        const x = this.#snapshot(e, undefined);
        const remote = this.#remotes.get(e.targetId);
        if (remote !== undefined) tell(() => remote.submit(x));
      }
    }

    /**
     * A change of a remote execution by its queue: `call(seq)` makes it; whether it was made
     * (false when the id is unknown or the move is not legal now: a late or repeated report). No
     * snapshot is built (the queue reads `status(id)` when it needs one). Bad values throw their
     * INVALID_ARGUMENT.
     * @param {string} id
     * @param {(seq: number) => string | undefined} call
     * @returns {boolean}
     */
    #driven(id, call) {
      for (let tries = 0; tries < 2; tries++) {
        const e = this.#lookup(id);
        if (e === null) return false;
        call(e.seq);
        const code = this.#f()[SLOT_STATUS];
        if (code === GONE) {
          this.#sweep();
          this.#forget(e);
          continue;
        }
        if (code === ERROR) {
          const err = this.#error();
          this.#after();
          if (err.code === "INVALID_TRANSITION") return false;
          throw err;
        }
        this.#after();
        return true;
      }
      return false;
    }

    /** The bridge of this manager (made once). */
    #bridge() {
      if (this.#bridged !== null) return this.#bridged;
      /** @type {Bridge} */
      const bridge = {
        start: (id) => this.#driven(id, (seq) => this.#live().start(seq, true)),
        progress: (id, current, total, message) => {
          const e = this.#lookup(id);
          this.#checked(current, total, message);
          if (e === null) return false;
          const code = this.#progress(e.seq, current, total, message, 0, true);
          if (code === ERROR) {
            const err = this.#error();
            if (err.code === "INVALID_TRANSITION") return false;
            throw err;
          }
          this.#after();
          return code === 1;
        },
        complete: (id, result) => {
          const staged = result !== undefined;
          if (staged && this.#live().stage(STAGE_RESULT, result) === ERROR) throw this.#error();
          return this.#driven(id, (seq) => this.#live().complete(seq, staged, true));
        },
        fail: (id, error) => {
          if (this.#live().stage(STAGE_FAILURE, error) === ERROR) throw this.#error();
          return this.#driven(id, (seq) => this.#live().fail(seq, true));
        },
        retry: (id, error, runAt) => {
          if (this.#live().stage(STAGE_FAILURE, error) === ERROR) throw this.#error();
          const at = typeof runAt === "number" && Number.isFinite(runAt) ? runAt : Number.NaN;
          return this.#driven(id, (seq) => this.#live().retry(seq, at));
        },
        cancel: (id, reason) => {
          const staged = reason != null;
          if (staged && this.#live().stage(STAGE_REASON, reason) === ERROR) throw this.#error();
          return this.#driven(id, (seq) => this.#live().cancel(seq, staged));
        },
        status: (id) => this.status(id),
        policy: (id) => {
          const e = this.#lookup(id);
          const text = e === null ? undefined : this.#live().policy(e.seq);
          return text === undefined ? null : JSON.parse(text);
        },
        create: (request) => this.create(request),
        handler: (targetId) => (this.#remotes.has(targetId) ? undefined : this.#handlers.get(targetId)),
        live: () => this.#engine !== null,
        ExecutionError,
      };
      this.#bridged = bridge;
      return bridge;
    }

    /**
     * What `execman/bullmq` drives this manager through (internal: see ARCHITECTURE.md, "Remote
     * targets").
     * @returns {Bridge}
     */
    [Symbol.for("execman.bridge")]() {
      this.#live();
      return this.#bridge();
    }

    /**
     * Delivers the change event of kind `kind` (the `index`-th handed out) whose numbers are in
     * the scratch: to the watches of its execution, then to each listener it matches (through the
     * listener's throttle, if it has one).
     * @param {number} kind
     * @param {number} index
     */
    #deliver(kind, index) {
      const listeners = this.#listeners;
      if (listeners.length === 0 && this.#watches.size === 0) return;
      const engine = this.#live();
      const f = this.#f();
      const seq = f[SLOT_SEQ];
      const hasTexts = f[SLOT_HAS_TEXTS] === 1;
      const version = f[SLOT_TEXT_VERSION];
      const ended = kind === EVENT_STATUS && f[SLOT_STATUS] >= STATUS_COMPLETED;
      const watches = this.#watches.get(seq);
      let e = this.#bySeq.get(seq);
      if (e === undefined) {
        // Not cached: the fixed parts the event carries when the execution was removed since,
        // else the engine's (it still holds the execution).
        const carried = engine.event_fixed();
        if (carried !== undefined) {
          e = new Entry(seq, carried);
        } else {
          const fixed = engine.fixed(seq);
          if (fixed === undefined) return;
          e = this.#remember(seq, fixed);
        }
      }
      let heard = false;
      for (let i = 0; i < listeners.length && !heard; i++) heard = listeners[i].active && matches(listeners[i], e);
      const watched = watches !== undefined && kind !== EVENT_CREATED && kind !== EVENT_REMOVED;
      if (!heard && !watched) return;
      const texts = hasTexts && e.tv !== version ? engine.event_texts() : undefined;
      const x = this.#snapshot(e, texts);
      if (watched) {
        // Each watch gets its own snapshot (listeners get `x`, and may change it).
        let fresh = !heard;
        for (const w of [...watches]) {
          if (index < w.from) continue;
          w.push(fresh ? x : copy(x), ended);
          fresh = false;
        }
      }
      if (!heard) return;
      /** @type {ExecutionEvent} */
      const event = { type: KINDS[kind - 1], execution: x };
      for (let i = 0; i < listeners.length; i++) {
        const rec = listeners[i];
        if (!rec.active || !matches(rec, e)) continue;
        if (rec.holds === null) this.#notify(rec, event);
        else this.#throttled(rec, kind, seq, event, ended);
      }
    }

    /**
     * Calls one listener with one event, isolating what it throws.
     * @param {ListenerRecord} rec
     * @param {ExecutionEvent} event
     */
    #notify(rec, event) {
      if (!rec.active) return;
      try {
        Reflect.apply(rec.fn, undefined, [event]);
      } catch (err) {
        try {
          console.error("execman: a subscribe() listener threw; other listeners still ran:", err);
        } catch {
          // A throwing console.error is ignored too.
        }
      }
    }

    /**
     * An event for a throttled listener. A `progress` event goes out at once when the execution
     * has no window open for it (then one opens, `throttle` ms long), else it is held, replacing
     * the one held before, until the window ends (the flush timer) or another event of the
     * execution comes (then the held one goes out first). A terminal `status` or a `removed`
     * event closes the execution's window.
     * @param {ListenerRecord} rec
     * @param {number} kind
     * @param {number} seq
     * @param {ExecutionEvent} event
     * @param {boolean} ended
     */
    #throttled(rec, kind, seq, event, ended) {
      const holds = /** @type {Map<number, Hold>} */ (rec.holds);
      const h = holds.get(seq);
      if (kind === EVENT_PROGRESS) {
        const now = monotonic();
        if (h === undefined) {
          holds.set(seq, { last: now, event: null, due: 0 });
          this.#notify(rec, event);
        } else if (now - h.last >= rec.throttle) {
          // The window is over (the flush timer may be late): this one is the latest.
          h.last = now;
          if (h.event !== null) {
            h.event = null;
            this.#heldGone(1);
          }
          this.#notify(rec, event);
        } else {
          if (h.event === null) {
            h.due = h.last + rec.throttle;
            this.#held++;
            this.#schedule({ due: h.due, rec, hold: h });
          }
          h.event = event;
        }
        return;
      }
      if (h !== undefined) {
        const held = h.event;
        if (ended || kind === EVENT_REMOVED) holds.delete(seq);
        if (held !== null) {
          h.event = null;
          h.last = monotonic();
          this.#heldGone(1);
          this.#notify(rec, held);
        }
      }
      this.#notify(rec, event);
    }

    // ---- the one flush timer of throttled listeners ---------------------------------------------

    /** @param {Flush} flush */
    #schedule(flush) {
      heapPush(this.#flushes, flush);
      if (flush.due < this.#flushAt) this.#armFlush(flush.due);
    }

    /**
     * (Re-)arms the flush timer for `due` (monotonic ms).
     * @param {number} due
     */
    #armFlush(due) {
      if (this.#flushTimer !== undefined) clearTimeout(this.#flushTimer);
      this.#flushAt = due;
      const self = new WeakRef(this);
      const delay = Math.min(Math.max(0, Math.ceil(due - monotonic())), MAX_TIMER_DELAY);
      this.#flushTimer = setTimeout(() => {
        const m = self.deref();
        if (m !== undefined) m.#flushDue();
      }, delay);
    }

    /**
     * `n` held progress events went out or were dropped. When none is held any more, the flush timer
     * and its queue (whose other entries are stale) go too, so no timer outlives what it was for
     * (in Node an armed timer keeps the process alive).
     * @param {number} n
     */
    #heldGone(n) {
      this.#held -= n;
      if (this.#held > 0) return;
      this.#held = 0;
      if (this.#flushTimer !== undefined) clearTimeout(this.#flushTimer);
      this.#flushTimer = undefined;
      this.#flushAt = Number.POSITIVE_INFINITY;
      this.#flushes = [];
    }

    /** The flush timer fired: held progress events whose window is over go out. */
    #flushDue() {
      this.#flushTimer = undefined;
      this.#flushAt = Number.POSITIVE_INFINITY;
      if (this.#engine === null) return;
      const heap = this.#flushes;
      this.#delivering = true;
      try {
        const now = monotonic();
        while (heap.length > 0 && heap[0].due <= now) {
          const { rec, hold, due } = heapPop(heap);
          const held = hold.event;
          if (held === null || hold.due !== due || !rec.active) continue;
          hold.event = null;
          hold.last = now;
          this.#heldGone(1);
          this.#notify(rec, held);
          if (this.#engine === null) return;
        }
      } finally {
        this.#delivering = false;
      }
      if (this.#flushes.length > 0) this.#armFlush(this.#flushes[0].due);
      this.#drain(); // what the listeners' calls changed
    }

    // ---- the one timer ------------------------------------------------------------------------

    /**
     * (Re-)arms the one timer for `due` (NaN: none), `delay` ms from now: the earliest deadline of
     * a running attempt or `runAt` of a waiting execution.
     * @param {number} due
     * @param {number} delay
     */
    #arm(due, delay) {
      if (this.#timer !== undefined) clearTimeout(this.#timer);
      this.#timer = undefined;
      if (Number.isNaN(due)) return;
      // While armed, the timer holds the manager: what is due (a delayed or retried execution's
      // start, a deadline) must happen, and a `wait()` must resolve, even when nothing else
      // references the manager. With nothing due, no timer holds it and it can be collected.
      this.#capped = delay > MAX_TIMER_DELAY;
      const fire = (/** @type {number} */ d) => this.#expire(d);
      this.#timer = setTimeout(fire, Math.min(delay, MAX_TIMER_DELAY), due);
    }

    /**
     * The timer armed for `due` fired: every attempt due by then (or by now, if later) times out,
     * and executions whose `runAt` has come become ready to start (the engine re-arms the timer
     * if it fired early). A time further than a timer can hold is armed again.
     * @param {number} due
     */
    #expire(due) {
      this.#timer = undefined;
      const engine = this.#engine;
      if (engine === null) return;
      const now = Date.now();
      if (this.#capped && due - now > 0) {
        this.#arm(due, due - now);
        return;
      }
      engine.expire(Math.max(due, now));
      this.#after();
    }

    // ---- REST ---------------------------------------------------------------------------------

    /**
     * Answers one REST request synchronously; never throws (but for a freed manager).
     * @example
     * const { status, body } = manager.handle({ method: "GET", path: "/api/v1/executions" });
     * @param {import("./types.js").RestRequest} request
     * @returns {import("./types.js").RestResponse}
     */
    handle(request) {
      const { status, body, headers } = this.#answered(this.#live().handle(request));
      return /** @type {any} */ (headers === undefined ? { status, body } : { status, body, headers });
    }

    /**
     * The answer the engine just gave: `{ status, body }`, and `headers` when it has some (a 201's
     * `location`, a 405's `allow`), and for the 501 of a stream route what it asked to follow
     * (`stream`, subscription options as `Engine.subscription` gives them), read before the work
     * the call caused runs.
     * @param {string | undefined} text
     * @returns {{ status: number, body: unknown, headers?: Record<string, string>, stream?: any[] }}
     */
    #answered(text) {
      const f = this.#f();
      const status = f[SLOT_STATUS];
      if (status === ERROR) throw this.#error();
      const w = f[SLOT_WORK];
      const body = text === undefined ? null : JSON.parse(text);
      /** @type {Record<string, string> | undefined} */
      let headers;
      if (status === 201 || status === 405) {
        const pairs = this.#live().headers();
        headers = {};
        for (let i = 0; i + 1 < pairs.length; i += 2) headers[pairs[i]] = pairs[i + 1];
      }
      const stream = status === 501 ? this.#live().stream() : undefined;
      if (w !== 0) this.#work(w);
      return { status, body, headers, stream };
    }

    /**
     * Answers a fetch `Request` with a `Response` (JSON bodies; a 201 has a `Location` header, a
     * 405 an `Allow` header). The two stream routes answer a `text/event-stream` whose body is a
     * `ReadableStream`: cancel it (or its reader) to stop following.
     * Everything but the body is read at once, before the caller can change the request.
     * @example
     * self.addEventListener("fetch", (event) => event.respondWith(manager.fetch(event.request)));
     * @param {Request} request
     * @returns {Promise<Response>}
     */
    async fetch(request) {
      const head = this.#live().head(request);
      let out;
      if (head.length === 0) {
        out = this.#live().answer_error();
      } else {
        const [method, path, search] = head;
        const upper = method.toUpperCase();
        /** @type {unknown} */
        let text;
        /** @type {string | undefined} */
        let bodyError;
        if (upper !== "GET" && upper !== "HEAD") {
          const started = startText(request);
          if (typeof started === "string") {
            bodyError = started;
          } else {
            try {
              text = await started;
            } catch {
              bodyError = "body could not be read";
            }
            if (bodyError === undefined && text === undefined) bodyError = "body could not be read as text";
          }
        }
        out = this.#live().fetch(method, path, search, text, bodyError);
      }
      const answer = this.#answered(out);
      if (answer.stream !== undefined) {
        const body = this.#stream(answer.stream);
        if (body !== null) return new Response(body, { status: 200, headers: SSE_HEADERS });
      }
      /** @type {Record<string, string>} */
      const headers = { ...answer.headers };
      if (out !== undefined) headers["content-type"] = "application/json";
      return new Response(out ?? null, { status: answer.status, headers });
    }

    // ---- durable managers ---------------------------------------------------------------------

    /**
     * Opens a durable manager on `options.store`: the executions it holds come back as they were
     * (then the restart rules apply: handler-driven running ones are `INTERRUPTED` or retried,
     * pending ones start once their target is registered), and every change is written to it, in
     * batches, at most `options.flushMs` (default 0: the end of the current task) after it is made.
     * Rejects `STORE_ERROR` when the store is in use, damaged, or cannot be read or written.
     * @example
     * const manager = await ExecutionManager.open({ store: fileStore("jobs.store"), concurrency: 4 });
     * manager.register("export", exportHandler); // restored pending exports start now
     * @param {import("./types.js").OpenOptions} options
     * @returns {Promise<ExecutionManager>}
     */
    static async open(options) {
      const manager = new ExecutionManager(options);
      const engine = manager.#live();
      /** @type {unknown} */
      let store;
      /** @type {unknown} */
      let flushMs;
      /** @type {StoreOpener | undefined} */
      let opener;
      try {
        store = options?.store;
        flushMs = options?.flushMs;
        opener = typeof store === "object" && store !== null ? /** @type {any} */ (store)[STORE] : undefined;
      } catch {
        opener = undefined;
      }
      /** @type {ExecutionError | undefined} */
      let invalid;
      if (typeof opener !== "object" || opener === null || typeof opener.open !== "function") {
        engine.invalid("options.store", "a store from memoryStore(), fileStore(path) or indexedDBStore(name)", store);
        invalid = manager.#error();
      } else if (
        flushMs !== undefined &&
        (typeof flushMs !== "number" || !Number.isFinite(flushMs) || flushMs < 0 || flushMs > MAX_TIMER_DELAY)
      ) {
        engine.invalid("options.flushMs", "a finite number of ms from 0 to 2147483647", flushMs);
        invalid = manager.#error();
      }
      if (invalid !== undefined || opener === undefined) {
        manager.free();
        throw invalid;
      }
      const name = String(opener.name);
      /** @type {StoreHandle} */
      let handle;
      try {
        handle = await opener.open();
      } catch (err) {
        manager.free();
        throw storeError(name, err);
      }
      try {
        await manager.#restore(name, handle, /** @type {number | undefined} */ (flushMs) ?? 0);
      } catch (err) {
        manager.#durable = null;
        manager.free();
        await handle.close().catch(noop);
        throw err instanceof ExecutionError && err.code === "STORE_ERROR" ? err : storeError(name, err);
      }
      return manager;
    }

    /**
     * Reads the store into the engine (which restores its executions and writes every change from
     * then on), cuts a torn last write, writes a new store's first image, then acts on what the
     * restore left (deadlines to arm, the restart's changes to write).
     * @param {string} name
     * @param {StoreHandle} handle
     * @param {number} flushMs
     */
    async #restore(name, handle, flushMs) {
      const engine = this.#live();
      if (engine.restore_begin() === ERROR) throw this.#error();
      /** @type {ExecutionError | null} */
      let damage = null;
      const total = await handle.read((chunk) => {
        if (engine.restore_feed(chunk) !== ERROR) return true;
        damage = this.#error();
        return false;
      });
      if (damage !== null) throw storeError(name, damage);
      const valid = engine.restore_finish();
      if (valid === ERROR) throw storeError(name, this.#error());
      const w = this.#f()[SLOT_WORK];
      const d = new Durable(name, handle, flushMs);
      if (valid < total) await handle.truncate(valid);
      if (valid === 0) {
        const image = engine.image();
        if (image === undefined) throw storeError(name, this.#error());
        d.image = image;
      }
      this.#durable = d;
      await this.#chainWrite(d, true);
      if (d.error !== null) throw d.error;
      if (w !== 0) this.#work(w);
    }

    /** Changes wait to be written: a write is scheduled, `flushMs` from the first of them. */
    #dirty() {
      const d = this.#durable;
      if (d === null || d.scheduled) return;
      d.scheduled = true;
      const fire = () => {
        d.scheduled = false;
        if (this.#durable === d) this.#chainWrite(d, false).catch(noop);
      };
      if (d.flushMs > 0) setTimeout(fire, d.flushMs);
      else soon(fire);
    }

    /**
     * Takes what the engine has for the store: the batch of changes since the last take, or an
     * image of the whole state when the log has outgrown it (the batches not yet written are in it).
     * @param {Durable} d
     */
    #take(d) {
      const engine = this.#engine;
      if (engine === null) return;
      if (engine.should_compact()) {
        const image = engine.image();
        if (image === undefined) throw this.#error();
        d.image = image;
        d.unwritten = [];
        return;
      }
      const batch = engine.take_batch();
      if (batch === undefined) throw this.#error();
      if (batch.length > 0) d.unwritten.push(batch);
    }

    /**
     * One write: what the engine has now, after what earlier writes left (an image, then batches
     * in order), made durable when `sync`. A failed write keeps its bytes for the next one.
     * @param {Durable} d
     * @param {boolean} sync
     */
    async #write(d, sync) {
      this.#take(d);
      const image = d.image;
      if (image !== null) {
        await d.handle.replace(image);
        if (d.image === image) d.image = null;
      }
      if (d.unwritten.length > 0) {
        const bytes = concat(d.unwritten);
        d.unwritten = [];
        try {
          await d.handle.append(bytes);
        } catch (err) {
          d.unwritten.unshift(bytes);
          throw err;
        }
      }
      if (sync) await d.handle.sync();
    }

    /**
     * Queues a write after the ones in progress; its failure is kept for the next `flush()`.
     * @param {Durable} d
     * @param {boolean} sync
     */
    #chainWrite(d, sync) {
      const run = async () => {
        try {
          await this.#write(d, sync);
        } catch (err) {
          const e = storeError(d.name, err);
          d.error = e;
          throw e;
        }
      };
      const p = d.chain.then(run, run);
      d.chain = p.then(noop, noop);
      return p;
    }

    /**
     * Resolves when every change made before the call is durable (a file: written and fsync'd;
     * IndexedDB: its transaction complete). Rejects `STORE_ERROR` when a write failed since the
     * last `flush()` (the manager keeps its executions and writes them again with the next batch).
     * On a manager made with `new`, resolves at once.
     * @example
     * manager.create({ targetId: "export" });
     * await manager.flush(); // survives a crash from here on
     * @returns {Promise<void>}
     */
    flush() {
      if (this.#engine === null) return Promise.reject(freed());
      const d = this.#durable;
      if (d === null) return Promise.resolve();
      return this.#chainWrite(d, true).then(
        () => {
          const e = d.error;
          d.error = null;
          if (e !== null) throw e;
        },
        (err) => {
          d.error = null;
          throw err;
        },
      );
    }

    /**
     * Writes the last changes, releases the store and frees the manager: afterwards every method
     * throws `INVALID_TRANSITION`, handlers still running are left to finish (their outcome is
     * ignored: the next `open` finds them interrupted) and no other handler starts. Rejects
     * `STORE_ERROR` when the last write failed (the store is released all the same). On a manager
     * made with `new`, the same as `free()`.
     * @example
     * process.on("SIGTERM", () => manager.close().then(() => process.exit(0)));
     * @returns {Promise<void>}
     */
    close() {
      if (this.#engine === null) return Promise.reject(freed());
      const d = this.#durable;
      this.free();
      return d?.released ?? Promise.resolve();
    }

    /**
     * The last write of a closed manager (what `free` took from the engine), then the release of
     * its store; rejects with the first failure, or a failed write no `flush()` reported.
     * @param {Durable} d
     */
    async #releaseStore(d) {
      /** @type {unknown} */
      let failure = null;
      try {
        await this.#chainWrite(d, true);
      } catch (err) {
        failure = err;
      }
      try {
        await d.handle.close();
      } catch (err) {
        failure ??= storeError(d.name, err);
      }
      failure ??= d.error;
      if (failure !== null) throw failure;
    }

    /**
     * The body of a stream route's answer: a client of the hub for what it asked to follow (`a`:
     * `[id, targetId, types, throttleMs]`), made if there is none yet. One execution's stream
     * starts with its snapshot, and is only that snapshot when the execution is already terminal.
     * Null when the execution is gone meanwhile (the router's 501 is answered then).
     * @param {any[]} a
     * @returns {ReadableStream<Uint8Array> | string | null}
     */
    #stream(a) {
      const [id, targetId, types, throttle] = a;
      const throttleMs = Number.isNaN(throttle) ? 0 : throttle;
      /** @type {Execution | undefined} */
      let first;
      if (id !== null) {
        first = this.status(id);
        if (first === undefined) return null;
        if (TERMINAL.has(first.status)) return `event: snapshot\nid: 1\ndata: ${JSON.stringify(first)}\n\n`;
      }
      const key = JSON.stringify([id, targetId, types, throttleMs]);
      let hub = this.#hubs.get(key);
      if (hub === undefined) {
        const made = new StreamHub(key, id !== null, (h) => this.#hubs.delete(h.key));
        /** @type {import("./types.js").SubscribeOptions} */
        const options = { throttleMs };
        if (id !== null) options.id = id;
        if (targetId !== null) options.targetId = targetId;
        if (types !== null) options.type = types;
        made.off = this.subscribe((event) => made.change(event, this.#delivered - 1), options);
        made.beatEvery(this.#heartbeatMs);
        this.#hubs.set(key, made);
        hub = made;
      }
      // Change events queued before now are older than this stream's start.
      const client = new StreamClient(hub, this.#delivered + this.#live().queued_events());
      hub.clients.add(client);
      if (first !== undefined) {
        client.add("snapshot", dataLine(first));
        client.flush();
      }
      return client.stream;
    }

    /**
     * Not part of the API: what tests count (listeners, watches, event streams and their
     * clients) and, with `{ heartbeatMs }`, the heartbeat interval of streams opened afterwards.
     * Reached as `manager[Symbol.for("execman.internals")](settings?)`.
     * @param {{ heartbeatMs?: number }} [settings]
     */
    [INTERNALS](settings) {
      const ms = settings?.heartbeatMs;
      if (ms !== undefined) {
        if (!(typeof ms === "number" && ms > 0 && ms <= MAX_TIMER_DELAY)) throw new RangeError("heartbeatMs");
        this.#heartbeatMs = ms;
      }
      let clients = 0;
      for (const hub of this.#hubs.values()) clients += hub.clients.size;
      let watches = 0;
      for (const set of this.#watches.values()) watches += set.size;
      return { listeners: this.#listeners.length, watches, streams: this.#hubs.size, clients };
    }

    /**
     * Frees the manager's memory in wasm. Afterwards every method throws `INVALID_TRANSITION`,
     * pending `wait()` promises reject with it, and running handlers' outcomes are ignored. A
     * durable manager writes its last changes and releases its store meanwhile (as `close()`,
     * whose promise says when that is done).
     */
    free() {
      const engine = this.#engine;
      if (engine === null) return;
      // A durable manager's last changes are taken now; they are written, and the store released,
      // after (see `close()`).
      const d = this.#durable;
      if (d !== null) {
        this.#durable = null;
        try {
          this.#take(d);
        } catch (err) {
          d.error = storeError(d.name, err);
        }
      }
      this.#engine = null;
      if (this.#timer !== undefined) clearTimeout(this.#timer);
      this.#timer = undefined;
      if (this.#flushTimer !== undefined) clearTimeout(this.#flushTimer);
      this.#flushTimer = undefined;
      this.#flushes = [];
      this.#held = 0;
      this.#byId.clear();
      this.#bySeq.clear();
      this.#running.clear();
      const waiters = [...this.#waiters.values()];
      this.#waiters.clear();
      for (const g of this.#groups.values()) offAbort(g.signal, g.listener);
      this.#groups.clear();
      this.#groupOf.clear();
      const watches = [...this.#watches.values()];
      this.#watches.clear();
      // Event streams end (after what they queued); their subscriptions go with their last client.
      for (const hub of [...this.#hubs.values()]) for (const c of [...hub.clients]) c.close();
      // In a microtask: free() may be called from inside one of the engine's own calls (a getter
      // of an argument, a listener), which must return first.
      queueMicrotask(() => engine.free());
      const error = freed();
      for (const w of waiters) {
        for (const waiter of w.list) waiter.reject(error);
      }
      for (const set of watches) for (const w of set) w.freed();
      if (d !== null) {
        d.released = this.#releaseStore(d);
        d.released.catch(noop);
      }
    }
  }
  if (Symbol.dispose) {
    /** @type {any} */ (ExecutionManager.prototype)[Symbol.dispose] = ExecutionManager.prototype.free;
  }
  return ExecutionManager;
}

/**
 * Starts reading a request's body text: the promise, or why it could not be started.
 * @param {any} request
 * @returns {Promise<unknown> | string}
 */
function startText(request) {
  let text;
  try {
    text = request.text;
  } catch {
    return "reading request.text threw";
  }
  if (typeof text !== "function") return "request has no text() method to read its body";
  let returned;
  try {
    returned = text.call(request);
  } catch {
    return "request.text() threw";
  }
  try {
    return Promise.resolve(returned);
  } catch {
    return "request.text() did not return a promise";
  }
}
