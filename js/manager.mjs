// The `ExecutionManager` users get: a thin layer over the wasm class (src/wasm), which holds
// every execution, its state machine, indexes and events. This layer exists for speed only:
// a string crossing into wasm costs ~150-250 ns and a snapshot written as JSON and parsed
// ~1-2 µs, while a number crosses in ~10 ns. So it keeps, per execution it has seen, the parts
// that never change (id, targetId, type, inputs, config, parsed once) in a cache keyed by id
// and by creation sequence, calls the hidden by-sequence exports of src/wasm/fast.rs, reads
// the numbers of an execution from a scratch array in wasm memory, and builds snapshots here.
// Texts that can change (progress message, result, failure, cancel reason) are read again only
// when their version changed. The cache is never trusted: every use checks with wasm that the
// sequence is still held, and anything unusual (a non-string id, an unseen execution, an
// error to report) goes to the wasm method of the same name, whose behaviour is the contract.
// Removed executions are dropped from the cache in batches (`__drain`).
//
// Built into pkg/node (as CommonJS) and pkg/web by scripts/build.mjs; `wrap` is called once
// with the wasm-bindgen class.

const STATUS = ["pending", "running", "completed", "failed", "cancelled"];
const KINDS = ["created", "status", "progress", "removed"]; // core::EventKind, in order

// Scratch slots (src/wasm/fast.rs).
const CREATED = 0;
const STARTED = 1;
const FINISHED = 2;
const UPDATED = 3;
const HAS_PROGRESS = 4;
const CURRENT = 5;
const TOTAL = 6;
const PROGRESS_UPDATED = 7;
const TEXT_VERSION = 8;
const HAS_TEXTS = 9;
const REMOVED = 10;
const CODE = 11;
const SEQ = 12;
const SCRATCH_LEN = 13;

// Drop removed executions from the cache once this many are waiting.
const SWEEP_AT = 64;

/** A deep copy of a value parsed from JSON (plain objects, arrays, primitives). */
function copy(value) {
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) {
    const n = value.length;
    const out = new Array(n);
    for (let i = 0; i < n; i++) out[i] = copy(value[i]);
    return out;
  }
  const out = {};
  const keys = Object.keys(value);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    if (k === "__proto__") {
      Object.defineProperty(out, k, { value: copy(value[k]), enumerable: true, writable: true, configurable: true });
    } else {
      out[k] = copy(value[k]);
    }
  }
  return out;
}

// One shared `{}` for the (default) empty inputs and config: `copy` makes a fresh one per snapshot.
const EMPTY = Object.freeze({});
const shared = (v) => (typeof v === "object" && v !== null && !Array.isArray(v) && Object.keys(v).length === 0 ? EMPTY : v);

/** A `Progress` object. */
function progressOf(current, total, message, updatedAt) {
  return total === total // NaN: no total
    ? { current, total, message, percentage: Math.min(100, (current / total) * 100), updatedAt }
    : { current, total: null, message, percentage: null, updatedAt };
}

/** Whether progress arguments can take the numbers-only path (anything else goes as given). */
function numeric(current, total, message) {
  return typeof current === "number" && message == null &&
    (total == null || (typeof total === "number" && total === total));
}

/** What never changes about an execution, plus its last-read texts. */
class Entry {
  constructor(seq, fixed) {
    const a = JSON.parse(fixed);
    this.seq = seq;
    this.id = a[0];
    this.targetId = a[1];
    this.type = a[2];
    this.inputs = shared(a[3]);
    this.config = shared(a[4]);
    this.tv = -1; // text version of msg/out
    this.msg = null;
    this.out = null;
  }
}

/**
 * The AbortController of a handler run by the layer, made when `ctx.signal` is first read
 * (most handlers never read it); aborted as the wasm runtime would have: `abort()` on cancel,
 * `abort(TimeoutError)` on timeout, not on completion or failure.
 */
class Run {
  constructor() {
    this.controller = null;
    this.aborted = false;
    this.reason = undefined; // undefined: abort() with the default AbortError
  }

  signal() {
    if (this.controller === null) {
      this.controller = new AbortController();
      if (this.aborted) this.#abort();
    }
    return this.controller.signal;
  }

  /** The execution became terminal with `status` (and, when failed, `failure`). */
  finish(status, failure) {
    if (status === "failed" && failure?.code === "TIMEOUT") {
      this.reason = new Error(failure.message);
      this.reason.name = "TimeoutError";
    } else if (status !== "cancelled") {
      return;
    }
    this.aborted = true;
    if (this.controller !== null) this.#abort();
  }

  #abort() {
    if (this.reason === undefined) this.controller.abort();
    else this.controller.abort(this.reason);
  }
}

export function wrap(Core) {
  let memory = null;

  class ExecutionManager {
    #core;
    #ptr;
    #view;
    #byId = new Map();
    #bySeq = new Map();
    #listeners = []; // { fn, active }, replaced (never mutated) on change
    #waiters = new Map(); // seq -> { e, list: resolve[] }
    #running = new Map(); // seq -> Run, for handlers this layer called

    constructor(options) {
      const core = (this.#core = new Core(options));
      if (memory === null) memory = Core.__memory();
      this.#ptr = core.__scratch();
      this.#view = new Float64Array(memory.buffer, this.#ptr, SCRATCH_LEN);
      // wasm holds these: they reach the manager (and so `core`) only through a WeakRef, so that
      // a manager nobody holds can still be collected, and wasm-bindgen's finalizer free it.
      const self = new WeakRef(this);
      core.__hooks(
        (kind, texts, fixed) => self.deref()?.#event(kind, texts, fixed),
        (seq, handler) => self.deref()?.#run(seq, handler),
        (seq, texts) => self.deref()?.#finished(seq, texts),
      );
    }

    /** The scratch array, re-made after the wasm memory grew (which detaches it). */
    #f() {
      const v = this.#view;
      if (v.byteLength !== 0) return v;
      return (this.#view = new Float64Array(memory.buffer, this.#ptr, SCRATCH_LEN));
    }

    #remember(seq, fixed) {
      const e = new Entry(seq, fixed);
      this.#bySeq.set(seq, e);
      this.#byId.set(e.id, e);
      return e;
    }

    #forget(e) {
      this.#bySeq.delete(e.seq);
      if (this.#byId.get(e.id) === e) this.#byId.delete(e.id);
    }

    #sweep() {
      const seqs = this.#core.__drain();
      for (let i = 0; i < seqs.length; i++) {
        const e = this.#bySeq.get(seqs[i]);
        if (e !== undefined) this.#forget(e);
      }
    }

    /** The cache entry of a string id, if the execution is still held. */
    #lookup(id) {
      if (typeof id !== "string") return undefined;
      return this.#byId.get(id);
    }

    /** The entry of a creation sequence, read from wasm if unseen. */
    #entry(seq) {
      const e = this.#bySeq.get(seq);
      if (e !== undefined) return e;
      const fixed = this.#core.__fixed(seq);
      return fixed === undefined ? undefined : this.#remember(seq, fixed);
    }

    /**
     * The snapshot of `e` from the numbers in the scratch (status code `code`); `texts` is
     * the texts JSON when the call that filled the scratch returned it.
     */
    #snapshot(e, code, texts) {
      // Every slot is read before anything below calls into wasm: an allocation there may grow
      // the memory, which detaches this view.
      const f = this.#f();
      const createdAt = f[CREATED];
      const startedAt = f[STARTED];
      const finishedAt = f[FINISHED];
      const updatedAt = f[UPDATED];
      const hasProgress = f[HAS_PROGRESS] === 1;
      const current = f[CURRENT];
      const total = f[TOTAL];
      const progressUpdatedAt = f[PROGRESS_UPDATED];
      const hasTexts = f[HAS_TEXTS] === 1;
      const version = f[TEXT_VERSION];
      if (f[REMOVED] >= SWEEP_AT) this.#sweep();
      this.#texts(e, hasTexts, version, texts);
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
      } else if (code === 3) {
        x.result = null;
      }
      x.createdAt = createdAt;
      x.startedAt = startedAt === startedAt ? startedAt : null;
      x.finishedAt = finishedAt === finishedAt ? finishedAt : null;
      x.updatedAt = updatedAt;
      return x;
    }

    /**
     * Brings `e.msg`/`e.out` to text version `version`: from `texts` (the texts JSON, when the
     * caller has it) or read from wasm, only when the version changed.
     */
    #texts(e, hasTexts, version, texts) {
      if (e.tv === version) return;
      if (hasTexts) {
        const a = JSON.parse(texts === undefined ? this.#core.__texts(e.seq) : texts);
        e.msg = a[0];
        e.out = a[1];
      } else {
        e.msg = null;
        e.out = null;
      }
      e.tv = version;
    }

    /** After a by-sequence change: the snapshot, or undefined if the sequence is gone. */
    #changed(e, texts) {
      const code = this.#f()[CODE];
      if (code !== 0) return this.#snapshot(e, code, texts);
      this.#forget(e);
      return undefined;
    }

    register(targetId, handler, options) {
      return this.#core.register(targetId, handler, options);
    }

    create(request) {
      return this.#created(this.#core.__create(request));
    }

    track(request) {
      return this.#created(this.#core.__track(request));
    }

    #created(fixed) {
      const f = this.#f();
      const seq = f[SEQ];
      const code = f[CODE];
      return this.#snapshot(this.#bySeq.get(seq) ?? this.#remember(seq, fixed), code);
    }

    start(id) {
      const e = this.#lookup(id);
      if (e !== undefined) {
        const x = this.#changed(e, this.#core.__start(e.seq));
        if (x !== undefined) return x;
      }
      return this.#core.start(id);
    }

    reportProgress(id, current, total, message) {
      const e = this.#lookup(id);
      if (e !== undefined) {
        if (numeric(current, total, message)) {
          this.#core.__progress(e.seq, current, total == null ? NaN : total);
        } else {
          this.#core.__report(e.seq, current, total, message);
        }
        if (this.#f()[CODE] !== 0) return undefined;
        this.#forget(e);
      }
      return this.#core.reportProgress(id, current, total, message);
    }

    complete(id, result) {
      const e = this.#lookup(id);
      if (e !== undefined) {
        const r = this.#core.__complete(e.seq, result, id);
        if (this.#f()[CODE] === -1) return r; // reading `result` removed it: done by id
        const x = this.#changed(e, r);
        if (x !== undefined) return x;
      }
      return this.#core.complete(id, result);
    }

    fail(id, error) {
      return this.#core.fail(id, error);
    }

    status(id) {
      const e = this.#lookup(id);
      if (e !== undefined) {
        const code = this.#core.__fill(e.seq);
        if (code !== 0) return this.#snapshot(e, code);
        this.#forget(e);
      }
      return this.#core.status(id);
    }

    progress(id) {
      const e = this.#lookup(id);
      if (e !== undefined) {
        const code = this.#core.__fill(e.seq);
        if (code !== 0) {
          const f = this.#f();
          if (f[HAS_PROGRESS] !== 1) return null;
          const current = f[CURRENT];
          const total = f[TOTAL];
          const updatedAt = f[PROGRESS_UPDATED];
          this.#texts(e, f[HAS_TEXTS] === 1, f[TEXT_VERSION]);
          return progressOf(current, total, e.msg, updatedAt);
        }
        this.#forget(e);
      }
      return this.#core.progress(id);
    }

    list(query) {
      const core = this.#core;
      const a = core.__list(query);
      const nextCursor = a[4] === 1 ? core.__cursor() ?? null : null;
      const n = a.length - 5;
      const items = new Array(n);
      let k = 0;
      for (let i = 0; i < n; i++) {
        const seq = a[5 + i];
        const e = this.#entry(seq);
        if (e === undefined) continue;
        const code = core.__fill(seq);
        if (code === 0) continue;
        items[k++] = this.#snapshot(e, code);
      }
      items.length = k;
      const page = a[1];
      return {
        items,
        total: a[0],
        page: page === page ? page : null,
        pageSize: a[2],
        totalPages: a[3],
        hasNext: a[4] === 1,
        nextCursor,
      };
    }

    counts() {
      return this.#core.counts();
    }

    cancel(id, reason) {
      return this.#core.cancel(id, reason);
    }

    wait(id) {
      const e = this.#lookup(id);
      if (e !== undefined) {
        let code;
        try {
          code = this.#core.__fill(e.seq);
        } catch (err) {
          return Promise.reject(err);
        }
        if (code >= 3) return Promise.resolve(this.#snapshot(e, code));
        if (code !== 0) {
          let w = this.#waiters.get(e.seq);
          if (w === undefined) {
            this.#core.__watch(e.seq);
            this.#waiters.set(e.seq, (w = { e, list: [] }));
          }
          const list = w.list;
          return new Promise((resolve) => list.push(resolve));
        }
        this.#forget(e);
      }
      return this.#core.wait(id);
    }

    remove(id) {
      return this.#core.remove(id);
    }

    clear() {
      return this.#core.clear();
    }

    subscribe(listener) {
      // Not a function: the wasm method throws the contract's error.
      if (typeof listener !== "function") return this.#core.subscribe(listener);
      const rec = { fn: listener, active: true };
      this.#listeners = [...this.#listeners, rec];
      if (this.#listeners.length === 1) this.#core.__listen(true);
      return () => {
        if (!rec.active) return;
        rec.active = false;
        this.#listeners = this.#listeners.filter((r) => r !== rec);
        if (this.#listeners.length === 0) this.#core.__listen(false);
      };
    }

    /** The `event` hook: one change, its numbers in the scratch (see runtime::Hooks). */
    #event(kind, texts, fixed) {
      const listeners = this.#listeners;
      if (listeners.length === 0) return;
      const f = this.#f();
      const seq = f[SEQ];
      const code = f[CODE]; // read before #entry, which may call into wasm (see #snapshot)
      let e = this.#bySeq.get(seq);
      if (e === undefined) e = fixed !== undefined ? new Entry(seq, fixed) : this.#entry(seq);
      if (e === undefined) return;
      const event = { type: KINDS[kind], execution: this.#snapshot(e, code, texts) };
      for (let i = 0; i < listeners.length; i++) {
        const rec = listeners[i];
        if (!rec.active) continue;
        try {
          rec.fn.call(undefined, event);
        } catch (err) {
          try {
            console.error("execman: a subscribe() listener threw; other listeners still ran:", err);
          } catch {
            // A throwing console.error is ignored too.
          }
        }
      }
    }

    /** The `run` hook: call the handler of a started execution (see runtime::Hooks). */
    #run(seq, handler) {
      const core = this.#core;
      const e = this.#entry(seq);
      if (e === undefined) {
        core.__settle(seq, undefined, false);
        return;
      }
      const run = new Run();
      this.#running.set(seq, run);
      const ctx = {
        id: e.id,
        get signal() {
          return run.signal();
        },
        config: copy(e.config),
        progress: (current, total, message) => {
          if (numeric(current, total, message)) {
            core.__hprogress(seq, current, total == null ? NaN : total);
          } else {
            core.__hreport(seq, current, total, message);
          }
        },
      };
      const settle = (value, threw) => {
        try {
          core.__settle(seq, value, threw);
        } catch {
          // The manager was freed meanwhile: nothing is left to settle.
        }
      };
      let promise;
      try {
        promise = Promise.resolve(handler.call(undefined, copy(e.inputs), ctx));
      } catch (err) {
        settle(err, true);
        return;
      }
      // One microtask later, as the wasm runtime's future did: a cancel queued right after the
      // handler resolved still wins (README, "Races and their outcomes").
      promise.then(
        (value) => queueMicrotask(() => settle(value, false)),
        (err) => queueMicrotask(() => settle(err, true)),
      );
    }

    /** The `finished` hook: a watched execution became terminal, its numbers in the scratch. */
    #finished(seq, texts) {
      const f = this.#f();
      const code = f[CODE];
      const w = this.#waiters.get(seq);
      const run = this.#running.get(seq);
      let snapshots;
      let x;
      if (w !== undefined) {
        this.#waiters.delete(seq);
        snapshots = w.list.map(() => this.#snapshot(w.e, code, texts));
        x = snapshots[0];
      }
      if (run !== undefined) {
        this.#running.delete(seq);
        // The failure details decide between a timeout and a handler error; they are in `texts`.
        const error = x !== undefined ? x.error : texts !== undefined ? JSON.parse(texts)[1]?.error : undefined;
        run.finish(STATUS[code - 1], error);
      }
      if (w !== undefined) for (let i = 0; i < w.list.length; i++) w.list[i](snapshots[i]);
    }

    handle(request) {
      return this.#core.handle(request);
    }

    fetch(request) {
      return this.#core.fetch(request);
    }

    free() {
      this.#byId.clear();
      this.#bySeq.clear();
      this.#core.free();
    }
  }
  if (Symbol.dispose) ExecutionManager.prototype[Symbol.dispose] = ExecutionManager.prototype.free;
  return ExecutionManager;
}
