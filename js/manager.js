// The `ExecutionManager` users get. It owns every JS thing of a manager, once: handlers and their
// ctx, AbortControllers, the one timer, listeners and waiters. The engine (src/wasm/engine.rs)
// holds the executions, statuses, indexes, progress numbers and texts, and is addressed by
// creation sequence. The path of every call (ARCHITECTURE.md):
//
//   method -> engine call (numbers in, numbers out through the scratch array in wasm memory)
//          -> the engine queued what the call caused (events, terminal executions, starts, the
//             earliest deadline, removals) and says so in the WORK slot
//          -> #work drains those queues here: waiters resolved, signals aborted, listeners
//             called, the pump scheduled for a later microtask, the timer re-armed.
//
// The engine never calls into JS during a call. Per execution this side caches what never
// changes (id, targetId, type, inputs, config: parsed once) and its texts (progress message,
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
const SLOT_WORK = 12;
const SLOT_DEADLINE = 13;
const SLOT_DELAY = 14;
const SLOTS = 15;
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
  SLOT_WORK,
  SLOT_DEADLINE,
  SLOT_DELAY,
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
    this.code = /** @type {import("./types.js").ExecutionErrorCode} */ (code);
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
   * @param {string} fixed  `[id, targetId, type, inputs, config]` as JSON
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
    this.tv = -1;
    /** @type {string | null} */
    this.msg = null;
    /** @type {{ result?: unknown, error?: Execution["error"], cancelReason?: string } | null} */
    this.out = null;
  }
}

/**
 * The AbortController of a running handler, made when `ctx.signal` is first read (most handlers
 * never read it): `abort()` on cancel, `abort(TimeoutError)` on timeout, nothing on completion
 * or failure.
 */
class Run {
  constructor() {
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
   * The execution became terminal with status code `code` (and, when failed, `failure`).
   * @param {number} code
   * @param {Execution["error"] | undefined} failure
   */
  finish(code, failure) {
    if (code === STATUS_FAILED && failure?.code === "TIMEOUT") {
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

/**
 * @typedef {{ fn: Listener, active: boolean }} ListenerRecord
 * @typedef {{ e: Entry, list: { resolve: (x: Execution) => void, reject: (e: Error) => void }[] }} Waiters
 */

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
      if (v.byteLength !== 0) return v;
      this.#view = new Float64Array(/** @type {WebAssembly.Memory} */ (memory).buffer, this.#ptr, SLOTS);
      return this.#view;
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
        this.#arm(f[SLOT_DEADLINE], f[SLOT_DELAY]);
      }
      if ((w & WORK_STARTS) !== 0 && !this.#pumpQueued) {
        this.#pumpQueued = true;
        queueMicrotask(() => this.#pump());
      }
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
      if (this.#live().register(targetId, options, typeof handler === "function") === ERROR) throw this.#error();
      this.#handlers.set(targetId, handler);
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
      return this.#created(this.#live().create(request));
    }

    /**
     * Tracks work that runs elsewhere; returns its `pending` snapshot.
     * @example
     * const job = manager.track({ targetId: "server-job" });
     * @param {import("./types.js").ExecutionRequest} request
     * @returns {Execution}
     */
    track(request) {
      return this.#created(this.#live().track(request));
    }

    /** @param {string | undefined} fixed */
    #created(fixed) {
      if (fixed === undefined) throw this.#error();
      const f = this.#f();
      const seq = f[SLOT_SEQ];
      const w = f[SLOT_WORK];
      const x = this.#snapshot(this.#bySeq.get(seq) ?? this.#remember(seq, fixed), undefined);
      if (w !== 0) this.#work(w);
      return x;
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
        const w = this.#f()[SLOT_WORK] & ~WORK_STARTS;
        if (w !== 0) this.#work(w);
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
     * Calls the handler of the started execution `seq`.
     * @param {number} seq
     */
    #call(seq) {
      const e = /** @type {Entry} */ (this.#entryOf(seq));
      const handler = /** @type {Function} */ (this.#handlers.get(e.targetId));
      const run = new Run();
      this.#running.set(seq, run);
      const ctx = {
        id: e.id,
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
          if (this.#report(seq, current, total, message, true) === ERROR) throw this.#error();
          this.#after();
        },
      };
      /** @type {Promise<unknown>} */
      let promise;
      try {
        promise = Promise.resolve(Reflect.apply(handler, undefined, [copy(e.inputs), ctx]));
      } catch (err) {
        this.#settle(seq, err, true);
        return;
      }
      // One microtask later: a cancel queued right after the handler resolved still wins
      // (README, "Races and their outcomes").
      promise.then(
        (value) => queueMicrotask(() => this.#settle(seq, value, false)),
        (err) => queueMicrotask(() => this.#settle(seq, err, true)),
      );
    }

    /**
     * A handler's promise settled (or its call threw).
     * @param {number} seq
     * @param {unknown} value
     * @param {boolean} threw
     */
    #settle(seq, value, threw) {
      this.#running.delete(seq);
      const engine = this.#engine;
      if (engine === null) return;
      engine.settle(seq, value, threw);
      this.#after();
    }

    /**
     * A progress report of `seq` (`handler`: from `ctx.progress`) whose arguments `#checked`
     * accepted; the reply code (1, GONE, ERROR).
     * @param {number} seq
     * @param {number} current
     * @param {unknown} total
     * @param {unknown} message
     * @param {boolean} handler
     * @returns {number}
     */
    #progress(seq, current, total, message, handler) {
      const engine = this.#live();
      if (message == null) {
        return total != null
          ? engine.progress(seq, current, total, true, undefined, handler)
          : engine.progress(seq, current, 0, false, undefined, handler);
      }
      return engine.progress(seq, current, total ?? 0, total != null, message, handler);
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

    /**
     * `ctx.progress` of `seq`.
     * @param {number} seq
     * @param {unknown} current
     * @param {unknown} total
     * @param {unknown} message
     * @returns {number}
     */
    #report(seq, current, total, message, handler = true) {
      this.#checked(current, total, message);
      return this.#progress(seq, /** @type {number} */ (current), total, message, handler);
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
      let x = this.#changed(e, this.#live().start(e.seq));
      if (x === null) {
        e = this.#must(id, e);
        x = /** @type {Execution} */ (this.#changed(e, this.#live().start(e.seq)));
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
      let code = this.#progress(e.seq, current, total, message, false);
      if (code === GONE) {
        e = this.#must(id, e);
        code = this.#progress(e.seq, current, total, message, false);
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
      let x = this.#changed(e, this.#live().complete(e.seq, staged));
      if (x === null) {
        e = this.#must(id, e);
        x = /** @type {Execution} */ (this.#changed(e, this.#live().complete(e.seq, staged)));
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
      let x = this.#changed(e, this.#live().fail(e.seq));
      if (x === null) {
        e = this.#must(id, e);
        x = /** @type {Execution} */ (this.#changed(e, this.#live().fail(e.seq)));
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
     * an unknown id, and `INVALID_TRANSITION` if the manager is freed first.
     * @example
     * const { status, result, error } = await manager.wait(id);
     * @param {string} id
     * @returns {Promise<Execution>}
     */
    wait(id) {
      try {
        let e = this.#lookup(id) ?? this.#must(id, null);
        if (this.#live().fill(e.seq) === GONE) {
          e = this.#must(id, e); // filled by find
        }
        if (this.#f()[SLOT_STATUS] >= STATUS_COMPLETED) return Promise.resolve(this.#snapshot(e, undefined));
        let w = this.#waiters.get(e.seq);
        if (w === undefined) {
          this.#live().watch(e.seq);
          w = { e, list: [] };
          this.#waiters.set(e.seq, w);
        }
        const list = w.list;
        return new Promise((resolve, reject) => list.push({ resolve, reject }));
      } catch (err) {
        return Promise.reject(err);
      }
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
     * unsubscribes it (calling it again does nothing).
     * @example
     * const off = manager.subscribe(({ type, execution }) => console.log(type, execution.status));
     * @param {Listener} listener
     * @returns {() => void}
     */
    subscribe(listener) {
      const engine = this.#live();
      if (typeof listener !== "function") {
        engine.invalid("listener", "a function", listener);
        throw this.#error();
      }
      /** @type {ListenerRecord} */
      const rec = { fn: listener, active: true };
      this.#listeners = [...this.#listeners, rec];
      if (this.#listeners.length === 1) engine.listen(true);
      return () => {
        if (!rec.active) return;
        rec.active = false;
        this.#listeners = this.#listeners.filter((r) => r !== rec);
        if (this.#listeners.length === 0 && this.#engine !== null) this.#engine.listen(false);
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
      if (this.#delivering) return;
      this.#delivering = true;
      try {
        for (;;) {
          const engine = this.#engine;
          if (engine === null) return;
          const kind = engine.next_event();
          if (kind === 0) return;
          this.#deliver(kind);
        }
      } finally {
        this.#delivering = false;
      }
    }

    /**
     * A watched execution became terminal; its numbers at the end are in the scratch.
     * @param {number} seq
     */
    #finished(seq) {
      const f = this.#f();
      const code = f[SLOT_STATUS];
      const texts = f[SLOT_HAS_TEXTS] === 1 ? this.#live().finished_texts() : undefined;
      const w = this.#waiters.get(seq);
      const run = this.#running.get(seq);
      /** @type {Execution[]} */
      let snapshots = [];
      if (w !== undefined) {
        this.#waiters.delete(seq);
        snapshots = w.list.map(() => this.#snapshot(w.e, texts));
      }
      if (run !== undefined) {
        this.#running.delete(seq);
        const error =
          snapshots.length > 0 ? snapshots[0].error : texts !== undefined ? JSON.parse(texts)[1]?.error : undefined;
        run.finish(code, error);
      }
      if (w !== undefined) for (let i = 0; i < w.list.length; i++) w.list[i].resolve(snapshots[i]);
    }

    /**
     * Delivers the change event of kind `kind` whose numbers are in the scratch.
     * @param {number} kind
     */
    #deliver(kind) {
      const listeners = this.#listeners;
      if (listeners.length === 0) return;
      const engine = this.#live();
      const f = this.#f();
      const seq = f[SLOT_SEQ];
      const hasTexts = f[SLOT_HAS_TEXTS] === 1;
      const version = f[SLOT_TEXT_VERSION];
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
      const texts = hasTexts && e.tv !== version ? engine.event_texts() : undefined;
      const event = { type: KINDS[kind - 1], execution: this.#snapshot(e, texts) };
      for (let i = 0; i < listeners.length; i++) {
        const rec = listeners[i];
        if (!rec.active) continue;
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
    }

    // ---- the one timer ------------------------------------------------------------------------

    /**
     * (Re-)arms the one timer for the earliest deadline `due` (NaN: none), `delay` ms from now.
     * @param {number} due
     * @param {number} delay
     */
    #arm(due, delay) {
      if (this.#timer !== undefined) clearTimeout(this.#timer);
      this.#timer = undefined;
      if (Number.isNaN(due)) return;
      // The timer reaches the manager through a WeakRef: a manager nobody holds can be collected.
      const self = new WeakRef(this);
      this.#capped = delay > MAX_TIMER_DELAY;
      const fire = (/** @type {number} */ d) => {
        const m = self.deref();
        if (m !== undefined) m.#expire(d);
      };
      this.#timer = setTimeout(fire, Math.min(delay, MAX_TIMER_DELAY), due);
    }

    /**
     * The timer armed for `due` fired: every attempt due by then (or by now, if later) times out.
     * A deadline further than a timer can hold is armed again.
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
      return /** @type {any} */ (this.#answered(this.#live().handle(request)));
    }

    /**
     * The answer the engine just gave: `{ status, body }`, and `headers` when it has some (a 201's
     * `location`, a 405's `allow`), read before the work the call caused runs.
     * @param {string | undefined} text
     * @returns {{ status: number, body: unknown, headers?: Record<string, string> }}
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
      if (w !== 0) this.#work(w);
      return headers === undefined ? { status, body } : { status, body, headers };
    }

    /**
     * Answers a fetch `Request` with a `Response` (JSON bodies; a 201 has a `Location` header, a
     * 405 an `Allow` header).
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
      /** @type {Record<string, string>} */
      const headers = { ...answer.headers };
      if (out !== undefined) headers["content-type"] = "application/json";
      return new Response(out ?? null, { status: answer.status, headers });
    }

    /**
     * Frees the manager's memory in wasm. Afterwards every method throws `INVALID_TRANSITION`,
     * pending `wait()` promises reject with it, and running handlers' outcomes are ignored.
     */
    free() {
      const engine = this.#engine;
      if (engine === null) return;
      this.#engine = null;
      if (this.#timer !== undefined) clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#byId.clear();
      this.#bySeq.clear();
      this.#running.clear();
      const waiters = [...this.#waiters.values()];
      this.#waiters.clear();
      // In a microtask: free() may be called from inside one of the engine's own calls (a getter
      // of an argument, a listener), which must return first.
      queueMicrotask(() => engine.free());
      const error = freed();
      for (const w of waiters) for (const { reject } of w.list) reject(error);
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
