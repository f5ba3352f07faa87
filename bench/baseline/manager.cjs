"use strict";
// The plain-JS baseline for `npm run bench`: the subset of the contract that the
// workloads use, written the way a JS developer would write it by hand, without tricks:
//
// - a Map of records keyed by id; each record holds the public `Execution` object plus the
//   internals (creation sequence, AbortController, waiters, handler);
// - values coming in (inputs, config, results) are validated and copied in one structural walk
//   (`copyIn`: plain objects, arrays, strings without lone surrogates, finite numbers, booleans,
//   null, at most 128 levels; anything else is INVALID_ARGUMENT naming the field, as the contract
//   says); values going out (snapshots, progress, event payloads, a handler's inputs and config)
//   are plain structural copies (`clone`) of what was validated on the way in, and a snapshot is
//   one object literal of a fixed shape. No JSON round trips anywhere;
// - one AbortController per handler-driven execution, dropped when its handler settles;
// - a FIFO queue of pending handler-driven executions for the concurrency limit (an array with
//   a head index: Array#shift on a 100k-element array copies the rest every time in V8, which
//   made this baseline quadratic and 10x slower in W1; any careful JS developer avoids it), one
//   per priority, the priorities kept in a sorted array (few distinct priorities in practice);
// - `delayMs`/`runAt`: one setTimeout per delayed execution, which queues it when it fires;
// - list() scans every record, filters, sorts by creation sequence and slices a page;
// - subscribe() keeps an array of listeners; events raised by a listener are queued and
//   delivered after the current event reached every listener;
// - eviction past maxFinished via a FIFO of finished records in finish order.
//
// It is CommonJS so that W0 loads it exactly as it loads execman (one synchronous require).
// Errors mirror execman's shape (name "ExecutionError" + code) so workloads can treat both alike.

const TERMINAL = new Set(["completed", "failed", "cancelled"]);

/** Array-backed FIFO: push at the tail, take from a moving head, compact when half is dead. */
class Fifo {
  constructor() {
    this.items = [];
    this.head = 0;
  }

  get length() {
    return this.items.length - this.head;
  }

  push(value) {
    this.items.push(value);
  }

  shift() {
    const value = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return value;
  }
}

class ExecutionError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "ExecutionError";
    this.code = code;
  }
}

const MAX_DEPTH = 128;

function invalid(field) {
  return new ExecutionError("INVALID_ARGUMENT", `invalid argument \`${field}\`: not a JSON-compatible value`);
}

/** Sets `out[key] = value`, with `"__proto__"` an ordinary own key as the contract says. */
function put(out, key, value) {
  if (key === "__proto__") {
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    out[key] = value;
  }
}

/**
 * Validates a value coming in and copies it in the same walk: what the contract calls
 * JSON-compatible, or INVALID_ARGUMENT naming `field`. A cycle ends at the depth limit.
 */
function copyIn(value, field, depth = 1) {
  switch (typeof value) {
    case "string":
      if (!value.isWellFormed()) throw invalid(field);
      return value;
    case "number":
      if (!Number.isFinite(value)) throw invalid(field);
      return value;
    case "boolean":
      return value;
    case "object": {
      if (value === null) return null;
      if (depth > MAX_DEPTH) throw invalid(field);
      if (Array.isArray(value)) {
        const n = value.length;
        const out = new Array(n);
        for (let i = 0; i < n; i++) out[i] = copyIn(value[i], field, depth + 1);
        return out;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) throw invalid(field);
      const out = {};
      for (const key of Object.keys(value)) {
        if (!key.isWellFormed()) throw invalid(field);
        put(out, key, copyIn(value[key], field, depth + 1));
      }
      return out;
    }
    default:
      throw invalid(field);
  }
}

/** A structural copy of a value that `copyIn` already checked: nothing left to validate. */
function clone(value) {
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) {
    const n = value.length;
    const out = new Array(n);
    for (let i = 0; i < n; i++) out[i] = clone(value[i]);
    return out;
  }
  const out = {};
  for (const key of Object.keys(value)) put(out, key, clone(value[key]));
  return out;
}

function cloneProgress(p) {
  return p === null
    ? null
    : { current: p.current, total: p.total, message: p.message, percentage: p.percentage, updatedAt: p.updatedAt };
}

function limit(value, name, fallback) {
  if (value === undefined) return fallback;
  if (value === Infinity || (Number.isInteger(value) && value > 0)) return value;
  throw new ExecutionError("INVALID_ARGUMENT", `invalid argument \`${name}\``);
}

function checkProgress(current, total, message) {
  if (typeof current !== "number" || !Number.isFinite(current) || current < 0) {
    throw new ExecutionError("INVALID_ARGUMENT", "invalid argument `current`");
  }
  if (total != null && (typeof total !== "number" || !Number.isFinite(total) || total <= 0)) {
    throw new ExecutionError("INVALID_ARGUMENT", "invalid argument `total`");
  }
  if (message != null && typeof message !== "string") {
    throw new ExecutionError("INVALID_ARGUMENT", "invalid argument `message`");
  }
}

function makeProgress(current, total, message) {
  const t = total == null ? null : total;
  return {
    current: current === 0 ? 0 : current,
    total: t,
    message: message == null ? null : message,
    percentage: t === null ? null : Math.min(100, (current / t) * 100),
    updatedAt: Date.now(),
  };
}

class ExecutionManager {
  constructor(options = {}) {
    const opts = options == null ? {} : options;
    this.concurrency = limit(opts.concurrency, "concurrency", Infinity);
    this.maxFinished = limit(opts.maxFinished, "maxFinished", 10000);
    this.records = new Map();
    this.targets = new Map();
    /** @type {Map<number, Fifo>} queued executions by priority */
    this.queues = new Map();
    /** the priorities of `queues`, highest first */
    this.priorities = [];
    this.queued = 0;
    this.running = 0;
    this.finished = new Fifo();
    this.listeners = [];
    this.events = new Fifo();
    this.delivering = false;
    this.seq = 0;
    this.pumpScheduled = false;
  }

  // --- registration and creation -------------------------------------------------------

  register(targetId, handler, options) {
    if (typeof targetId !== "string" || targetId === "")
      throw new ExecutionError("INVALID_ARGUMENT", "invalid argument `targetId`");
    if (typeof handler !== "function") throw new ExecutionError("INVALID_ARGUMENT", "invalid argument `handler`");
    if (this.targets.has(targetId)) throw new ExecutionError("ALREADY_EXISTS", `target \`${targetId}\` already exists`);
    const type = options != null && options.type !== undefined ? options.type : "task";
    this.targets.set(targetId, { handler, type });
  }

  create(request) {
    if (request == null || typeof request !== "object")
      throw new ExecutionError("INVALID_ARGUMENT", "invalid argument `request`");
    const target = this.targets.get(request.targetId);
    if (!target) throw new ExecutionError("UNKNOWN_TARGET", `unknown target \`${request.targetId}\``);
    const priority = request.priority === undefined ? 0 : request.priority;
    if (!Number.isSafeInteger(priority))
      throw new ExecutionError("INVALID_ARGUMENT", "invalid argument `request.priority`");
    const record = this.newRecord(request, target.type);
    record.handler = target.handler;
    record.priority = priority;
    const runAt = request.delayMs !== undefined ? record.exec.createdAt + request.delayMs : request.runAt;
    record.exec.priority = priority;
    record.exec.runAt = runAt === undefined ? null : runAt;
    if (runAt !== undefined && runAt > Date.now()) {
      record.timer = setTimeout(() => {
        record.timer = null;
        if (record.exec.status === "pending") this.enqueue(record);
      }, runAt - Date.now());
    } else {
      this.enqueue(record);
    }
    this.emit("created", record);
    return this.snapshot(record);
  }

  /** Queues a due execution behind the others of its priority. */
  enqueue(record) {
    let fifo = this.queues.get(record.priority);
    if (fifo === undefined) {
      fifo = new Fifo();
      this.queues.set(record.priority, fifo);
      // priorities, highest first: a binary search for the place of the new one
      const ps = this.priorities;
      let lo = 0;
      let hi = ps.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (ps[mid] > record.priority) lo = mid + 1;
        else hi = mid;
      }
      ps.splice(lo, 0, record.priority);
    }
    fifo.push(record);
    this.queued++;
    this.schedulePump();
  }

  /** The next queued execution: the first of the highest priority. */
  dequeue() {
    for (const p of this.priorities) {
      const fifo = this.queues.get(p);
      if (fifo.length > 0) {
        this.queued--;
        return fifo.shift();
      }
    }
    return undefined;
  }

  track(request) {
    if (request == null || typeof request !== "object")
      throw new ExecutionError("INVALID_ARGUMENT", "invalid argument `request`");
    if (typeof request.targetId !== "string" || request.targetId === "")
      throw new ExecutionError("INVALID_ARGUMENT", "invalid argument `request.targetId`");
    const record = this.newRecord(request, "task");
    this.emit("created", record);
    return this.snapshot(record);
  }

  newRecord(request, defaultType) {
    let id = request.id;
    if (id === undefined) {
      id = crypto.randomUUID();
    } else if (typeof id !== "string" || id === "") {
      throw new ExecutionError("INVALID_ARGUMENT", "invalid argument `request.id`");
    } else if (this.records.has(id)) {
      throw new ExecutionError("ALREADY_EXISTS", `execution \`${id}\` already exists`);
    }
    const config = request.config === undefined ? {} : copyIn(request.config, "request.config");
    if (
      config.timeoutMs != null &&
      !(typeof config.timeoutMs === "number" && config.timeoutMs > 0 && Number.isFinite(config.timeoutMs))
    ) {
      throw new ExecutionError("INVALID_ARGUMENT", "invalid argument `request.config.timeoutMs`");
    }
    const now = Date.now();
    const record = {
      exec: {
        id,
        targetId: request.targetId,
        type: request.type === undefined ? defaultType : request.type,
        status: "pending",
        inputs: request.inputs === undefined ? {} : copyIn(request.inputs, "request.inputs"),
        config,
        progress: null,
        createdAt: now,
        startedAt: null,
        finishedAt: null,
        updatedAt: now,
        priority: 0,
        attempt: 0,
        maxAttempts: 1,
        runAt: null,
      },
      seq: ++this.seq,
      handler: null,
      controller: null,
      timer: null,
      waiters: null,
    };
    this.records.set(id, record);
    return record;
  }

  // --- running handlers ----------------------------------------------------------------

  schedulePump() {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    queueMicrotask(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  pump() {
    while (this.running < this.concurrency && this.queued > 0) {
      const record = this.dequeue();
      if (record.exec.status !== "pending") continue; // cancelled while queued
      this.run(record);
    }
  }

  run(record) {
    this.running++;
    const controller = new AbortController();
    record.controller = controller;
    this.setRunning(record);
    const exec = record.exec;
    const ctx = {
      id: exec.id,
      signal: controller.signal,
      config: clone(exec.config),
      progress: (current, total, message) => {
        checkProgress(current, total, message);
        if (record.exec.status !== "running") return;
        this.setProgress(record, current, total, message);
      },
    };
    let promise;
    try {
      promise = Promise.resolve(record.handler(clone(exec.inputs), ctx));
    } catch (err) {
      promise = Promise.reject(err);
    }
    promise.then(
      (value) => {
        this.running--;
        record.controller = null;
        if (record.exec.status === "running") {
          let result;
          try {
            result = value === undefined ? null : copyIn(value, "result");
          } catch (err) {
            this.finish(record, "failed", { code: "INVALID_RESULT", name: "TypeError", message: String(err?.message) });
            this.pump();
            return;
          }
          this.finish(record, "completed", result);
        }
        this.pump();
      },
      (err) => {
        this.running--;
        record.controller = null;
        if (record.exec.status === "running") {
          const isError = err instanceof Error;
          const failure = {
            code: "HANDLER_ERROR",
            name: isError ? err.name : "Error",
            message: isError ? err.message : String(err),
          };
          if (isError && typeof err.stack === "string") failure.stack = err.stack;
          this.finish(record, "failed", failure);
        }
        this.pump();
      },
    );
  }

  // --- externally driven ---------------------------------------------------------------

  get(id) {
    const record = typeof id === "string" ? this.records.get(id) : undefined;
    if (!record) throw new ExecutionError("NOT_FOUND", `execution \`${id}\` not found`);
    return record;
  }

  start(id) {
    const record = this.get(id);
    if (record.handler || record.exec.status !== "pending") {
      throw new ExecutionError("INVALID_TRANSITION", `execution \`${id}\` is ${record.exec.status}`);
    }
    this.setRunning(record);
    return this.snapshot(record);
  }

  reportProgress(id, current, total, message) {
    checkProgress(current, total, message);
    const record = this.get(id);
    if (record.handler || record.exec.status !== "running") {
      throw new ExecutionError("INVALID_TRANSITION", `execution \`${id}\` is ${record.exec.status}`);
    }
    this.setProgress(record, current, total, message);
  }

  complete(id, result) {
    const record = this.get(id);
    if (record.handler || record.exec.status !== "running") {
      throw new ExecutionError("INVALID_TRANSITION", `execution \`${id}\` is ${record.exec.status}`);
    }
    const value = result === undefined ? null : copyIn(result, "result");
    this.finish(record, "completed", value);
    return this.snapshot(record);
  }

  fail(id, error) {
    const record = this.get(id);
    if (record.handler || record.exec.status !== "running") {
      throw new ExecutionError("INVALID_TRANSITION", `execution \`${id}\` is ${record.exec.status}`);
    }
    let failure;
    if (typeof error === "string") failure = { code: "EXTERNAL_ERROR", name: "Error", message: error };
    else if (error instanceof Error)
      failure = {
        code: typeof error.code === "string" && error.code ? error.code : "EXTERNAL_ERROR",
        name: error.name,
        message: error.message,
      };
    else if (error != null && typeof error.message === "string")
      failure = { code: error.code || "EXTERNAL_ERROR", name: error.name || "Error", message: error.message };
    else throw new ExecutionError("INVALID_ARGUMENT", "invalid argument `error`");
    this.finish(record, "failed", failure);
    return this.snapshot(record);
  }

  cancel(id, reason) {
    const record = this.get(id);
    if (TERMINAL.has(record.exec.status)) {
      throw new ExecutionError("INVALID_TRANSITION", `execution \`${id}\` is ${record.exec.status}`);
    }
    if (reason != null && typeof reason !== "string")
      throw new ExecutionError("INVALID_ARGUMENT", "invalid argument `reason`");
    if (reason != null) record.exec.cancelReason = reason;
    this.finish(record, "cancelled", undefined);
    if (record.controller) record.controller.abort();
    return this.snapshot(record);
  }

  // --- transitions ---------------------------------------------------------------------

  setRunning(record) {
    const now = Date.now();
    record.exec.status = "running";
    record.exec.attempt = 1;
    record.exec.startedAt = now;
    record.exec.updatedAt = now;
    const timeoutMs = record.exec.config.timeoutMs;
    if (timeoutMs != null) {
      record.timer = setTimeout(() => {
        if (record.exec.status !== "running") return;
        this.finish(record, "failed", {
          code: "TIMEOUT",
          name: "TimeoutError",
          message: `timed out after ${timeoutMs} ms`,
        });
        if (record.controller) record.controller.abort();
      }, timeoutMs);
    }
    this.emit("status", record);
  }

  setProgress(record, current, total, message) {
    record.exec.progress = makeProgress(current, total, message);
    record.exec.updatedAt = record.exec.progress.updatedAt;
    this.emit("progress", record);
  }

  finish(record, status, payload) {
    const exec = record.exec;
    const now = Date.now();
    exec.status = status;
    exec.finishedAt = now;
    exec.updatedAt = now;
    if (status === "completed") {
      exec.result = payload;
      if (exec.progress && exec.progress.total !== null) {
        exec.progress.current = exec.progress.total;
        exec.progress.percentage = 100;
      }
    } else if (status === "failed") {
      exec.error = payload;
    }
    if (record.timer !== null) {
      clearTimeout(record.timer);
      record.timer = null;
    }
    this.emit("status", record);
    if (record.waiters) {
      const snap = this.snapshot(record);
      for (const resolve of record.waiters) resolve(snap);
      record.waiters = null;
    }
    this.finished.push(record);
    while (this.finished.length > this.maxFinished) {
      const old = this.finished.shift();
      if (this.records.get(old.exec.id) === old) {
        this.records.delete(old.exec.id);
        this.emit("removed", old);
      }
    }
  }

  // --- queries -------------------------------------------------------------------------

  snapshot(record) {
    const e = record.exec;
    const snap = {
      id: e.id,
      targetId: e.targetId,
      type: e.type,
      status: e.status,
      inputs: clone(e.inputs),
      config: clone(e.config),
      progress: cloneProgress(e.progress),
      createdAt: e.createdAt,
      startedAt: e.startedAt,
      finishedAt: e.finishedAt,
      updatedAt: e.updatedAt,
      priority: e.priority,
      attempt: e.attempt,
      maxAttempts: e.maxAttempts,
      runAt: e.runAt,
    };
    if (e.result !== undefined) snap.result = clone(e.result);
    if (e.error !== undefined) snap.error = clone(e.error);
    if (e.cancelReason !== undefined) snap.cancelReason = e.cancelReason;
    return snap;
  }

  status(id) {
    const record = typeof id === "string" ? this.records.get(id) : undefined;
    return record ? this.snapshot(record) : undefined;
  }

  progress(id) {
    const record = typeof id === "string" ? this.records.get(id) : undefined;
    if (!record) return undefined;
    return cloneProgress(record.exec.progress);
  }

  wait(id) {
    const record = typeof id === "string" ? this.records.get(id) : undefined;
    if (!record) return Promise.reject(new ExecutionError("NOT_FOUND", `execution \`${id}\` not found`));
    if (TERMINAL.has(record.exec.status)) return Promise.resolve(this.snapshot(record));
    return new Promise((resolve) => {
      if (!record.waiters) record.waiters = [];
      record.waiters.push(resolve);
    });
  }

  list(query) {
    const q = query == null ? {} : query;
    const statuses = q.status === undefined ? null : Array.isArray(q.status) ? q.status : [q.status];
    const types = q.type === undefined ? null : Array.isArray(q.type) ? q.type : [q.type];
    const targetId = q.targetId;
    const pageSize = q.pageSize === undefined ? 20 : q.pageSize;
    const order = q.order === undefined ? "desc" : q.order;
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000)
      throw new ExecutionError("INVALID_ARGUMENT", "invalid argument `query.pageSize`");
    if (order !== "asc" && order !== "desc")
      throw new ExecutionError("INVALID_ARGUMENT", "invalid argument `query.order`");
    if (q.cursor !== undefined && q.page !== undefined)
      throw new ExecutionError("INVALID_ARGUMENT", "invalid argument `query.cursor`");

    const matching = [];
    for (const record of this.records.values()) {
      const exec = record.exec;
      if (statuses !== null && !statuses.includes(exec.status)) continue;
      if (types !== null && !types.includes(exec.type)) continue;
      if (targetId !== undefined && exec.targetId !== targetId) continue;
      matching.push(record);
    }
    matching.sort(order === "asc" ? (a, b) => a.seq - b.seq : (a, b) => b.seq - a.seq);
    const total = matching.length;

    let start;
    let page;
    if (q.cursor !== undefined) {
      const m = typeof q.cursor === "string" ? /^(asc|desc):(\d+)$/.exec(q.cursor) : null;
      if (!m || m[1] !== order) throw new ExecutionError("INVALID_ARGUMENT", "invalid argument `query.cursor`");
      const after = Number(m[2]);
      start = matching.findIndex(order === "asc" ? (r) => r.seq > after : (r) => r.seq < after);
      if (start === -1) start = total;
      page = null;
    } else {
      page = q.page === undefined ? 1 : q.page;
      if (!Number.isInteger(page) || page < 1)
        throw new ExecutionError("INVALID_ARGUMENT", "invalid argument `query.page`");
      start = (page - 1) * pageSize;
    }
    const slice = matching.slice(start, start + pageSize);
    const hasNext = start + slice.length < total;
    return {
      items: slice.map((r) => this.snapshot(r)),
      total,
      page,
      pageSize,
      totalPages: Math.ceil(total / pageSize),
      hasNext,
      nextCursor: hasNext ? `${order}:${slice[slice.length - 1].seq}` : null,
    };
  }

  counts() {
    const counts = { pending: 0, running: 0, completed: 0, failed: 0, cancelled: 0, total: 0 };
    for (const record of this.records.values()) {
      counts[record.exec.status]++;
      counts.total++;
    }
    return counts;
  }

  // --- events --------------------------------------------------------------------------

  subscribe(listener) {
    if (typeof listener !== "function") throw new ExecutionError("INVALID_ARGUMENT", "invalid argument `listener`");
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i !== -1) this.listeners.splice(i, 1);
    };
  }

  emit(type, record) {
    if (this.listeners.length === 0) return;
    this.events.push({ type, execution: this.snapshot(record) });
    if (this.delivering) return;
    this.delivering = true;
    try {
      while (this.events.length > 0) {
        const event = this.events.shift();
        for (const listener of this.listeners.slice()) {
          try {
            listener(event);
          } catch (err) {
            console.error(err);
          }
        }
      }
    } finally {
      this.delivering = false;
    }
  }
}

module.exports = { ExecutionManager, ExecutionError };
