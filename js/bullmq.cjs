"use strict";
// execman/bullmq: an ExecutionManager as the registry, progress and REST face of BullMQ jobs, on
// any number of machines (Node; `bullmq` is a peer dependency).
//
//   API process:     manager.register("render", enqueue(queue));   // create() adds a job
//   worker process:  manager.register("render", handler); work(manager, "render-queue", { connection });
//   any process:     await mirror(manager, queue);                  // jobs other producers add
//
// enqueue(queue) is what `register` takes in place of a handler. Its target is a remote target of
// the manager (ARCHITECTURE.md, "Remote targets"): the manager creates its executions as any others
// and hands each one, still pending, to `submit` below, which adds a job (job id = execution id,
// data = inputs, name = targetId, the options of `jobOptions`). From then on the job's events, read
// from the queue's event stream (QueueEvents), move the execution along through the manager's
// bridge: active -> start (one more attempt), progress -> progress, completed -> complete, failed ->
// fail, an attempt that ends with the job waiting or delayed again -> retry (running -> pending,
// with that attempt's failure and the time it is due). A cancel of the execution (from any call of
// the manager, REST included) reaches `ended`: a waiting or delayed job is removed; a running one is
// told to its worker on a Redis channel, and `work()` aborts the handler's signal.
//
// work() runs jobs through the handlers a manager registered (by job name) with the usual ctx. What
// a job's attempt ended with is written next to the job (the `execman:error` field of its hash:
// code, name, message, stack, and the attempt), so that every process following the queue shows the
// same failure, whatever BullMQ itself keeps of it (a message and stacks).
//
// mirror() tracks the jobs that execman did not enqueue (other producers, other languages): each
// job as a tracked execution (targetId = queue name, type = job name, inputs = job data), existing
// ones loaded first, then followed live from the events that came after the load.

const { QueueEvents, Worker, UnrecoverableError } = require("bullmq");

/** @import { Queue, Job, WorkerOptions, ConnectionOptions } from "bullmq" */
/** @import { Execution, ExecutionRequest, RetryPolicy, Backoff, HandlerContext } from "./types.js" */
/** @import { EnqueueHandler, WorkOptions, MirrorOptions, Mirror } from "./bullmq.js" */

/**
 * What the manager hands a remote target (js/manager.js, `Bridge`).
 * @typedef {{
 *   start(id: string): boolean,
 *   progress(id: string, current: number, total?: number | null, message?: string | null): boolean,
 *   complete(id: string, result?: unknown): boolean,
 *   fail(id: string, error: unknown): boolean,
 *   retry(id: string, error: unknown, runAt?: number | null): boolean,
 *   cancel(id: string, reason?: string): boolean,
 *   status(id: string): Execution | undefined,
 *   policy(id: string): RetryPolicy | null,
 *   create(request: ExecutionRequest): Execution,
 *   handler(targetId: string): Function | undefined,
 *   live(): boolean,
 *   ExecutionError: new (code: string, message: string) => Error,
 * }} Bridge
 * A failure as the manager takes it (`fail(id, error)`).
 * @typedef {{ code: string, name: string, message: string, stack?: string }} Failure
 */

const REMOTE = Symbol.for("execman.remote");
const BRIDGE = Symbol.for("execman.bridge");

/** BullMQ's priorities: 1 (first) .. 2^21 - 1 (last); 0 is "none", which BullMQ runs before all. */
const PRIORITY_LIMIT = 2 ** 21 - 1;
/** The BullMQ priority of execman's priority 0: execman's p is BullMQ's PRIORITY_ZERO - p. */
const PRIORITY_ZERO = 2 ** 20;
/** The field of a job's hash that holds what its last failed attempt failed with. */
const ERROR_FIELD = "execman:error";
/** How long a cancel stays readable for a worker that takes the job afterwards (seconds). */
const CANCEL_TTL = 86400;
/** The longest message or stack kept of a thrown value (as the manager cuts them). */
const MAX_DETAIL = 65536;

/**
 * The manager's bridge; INVALID_ARGUMENT (a TypeError before any manager is known) when `manager`
 * is not an ExecutionManager.
 * @param {unknown} manager
 * @returns {Bridge}
 */
function bridgeOf(manager) {
  const open = manager !== null && typeof manager === "object" ? /** @type {any} */ (manager)[BRIDGE] : undefined;
  if (typeof open !== "function") throw new TypeError("manager must be an execman ExecutionManager");
  return open.call(manager);
}

/**
 * An `INVALID_ARGUMENT` ExecutionError of the manager's package.
 * @param {Bridge} bridge
 * @param {string} field
 * @param {string} what
 */
function invalid(bridge, field, what) {
  return new bridge.ExecutionError("INVALID_ARGUMENT", `${field} ${what}`);
}

/**
 * Whether `queue` looks like a BullMQ `Queue` (what enqueue and mirror need of one).
 * @param {unknown} queue
 * @returns {queue is Queue}
 */
function isQueue(queue) {
  const q = /** @type {any} */ (queue);
  return q !== null && typeof q === "object" && typeof q.add === "function" && typeof q.name === "string";
}

/**
 * A connection for a component of its own (QueueEvents, a subscriber): options are used as they
 * are (BullMQ connects once per component), an ioredis instance is duplicated.
 * @param {any} connection
 */
function dedicated(connection) {
  return connection !== null && typeof connection === "object" && typeof connection.duplicate === "function"
    ? connection.duplicate()
    : connection;
}

/**
 * The raw Redis client of a BullMQ queue, worker or QueueEvents (ioredis by default).
 * @param {any} component
 * @returns {Promise<any>}
 */
function clientOf(component) {
  return component.backend.client;
}

/**
 * The BullMQ priority for an execman priority (higher first): `2^20 - p`, within 1 .. 2^21 - 1
 * (execman priorities beyond ±(2^20 - 1) share the end of the range).
 * @param {number} p
 */
function bullPriority(p) {
  return Math.min(PRIORITY_LIMIT, Math.max(1, PRIORITY_ZERO - p));
}

/**
 * The BullMQ backoff for an execman one: fixed and exponential map to BullMQ's own (same formulas,
 * same jitter); a `maxDelayMs` cap, which BullMQ has no option for, makes it the custom type
 * "execman" that `work()`'s workers compute (`execmanDelay`).
 * @param {Backoff | undefined} b
 */
function bullBackoff(b) {
  const type = b?.type ?? "fixed";
  const delay = b?.delayMs ?? 0;
  const jitter = b?.jitter ?? 0;
  if (b?.maxDelayMs !== undefined) return { type: "execman", delay, jitter, kind: type, maxDelayMs: b.maxDelayMs };
  return jitter > 0 ? { type, delay, jitter } : { type, delay };
}

/**
 * The delay of the custom backoff "execman" after the `failed`-th failed attempt: as the manager's
 * (`delayMs` or `delayMs × 2^(n−1)`, capped, then a random part of `jitter` taken off).
 * @param {any} backoff
 * @param {number} failed
 */
function execmanDelay(backoff, failed) {
  const base = Number(backoff?.delay) || 0;
  let delay = backoff?.kind === "exponential" ? base * 2 ** Math.max(0, failed - 1) : base;
  if (typeof backoff?.maxDelayMs === "number") delay = Math.min(delay, backoff.maxDelayMs);
  const jitter = Number(backoff?.jitter) || 0;
  return Math.round(delay * (1 - jitter * Math.random()));
}

/**
 * The options of the job of a remote execution: job id = execution id, priority (mapped), delay
 * (its `runAt`), attempts (`maxAttempts`) and backoff (its retry policy), and `execman` (its type,
 * config and policy, for workers and for other managers that follow the queue).
 * @param {Execution} x
 * @param {RetryPolicy | null} policy
 */
function jobOptions(x, policy) {
  /** @type {Record<string, unknown>} */
  const opts = {
    jobId: x.id,
    priority: bullPriority(x.priority),
    attempts: x.maxAttempts,
    execman: { type: x.type, config: x.config, retry: policy },
  };
  if (x.runAt !== null) {
    const delay = Math.ceil(x.runAt - Date.now());
    if (delay > 0) opts.delay = delay;
  }
  if (policy !== null && policy.attempts > 1) opts.backoff = bullBackoff(policy.backoff);
  return opts;
}

/**
 * The progress of a job as the manager takes it: `{ current, total?, message? }` as it is, a number
 * p as `current = p, total = 100`; null for anything else.
 * @param {unknown} data
 * @returns {[number, number | null, string | null] | null}
 */
function progressOf(data) {
  if (typeof data === "number") return [data, 100, null];
  if (data !== null && typeof data === "object" && typeof (/** @type {any} */ (data).current) === "number") {
    const d = /** @type {any} */ (data);
    return [d.current, typeof d.total === "number" ? d.total : null, typeof d.message === "string" ? d.message : null];
  }
  return null;
}

/**
 * What a failure record of a job's hash says, if it is the failure of attempt `attempt` or later.
 * @param {string | null} text
 * @param {number} attempt
 * @returns {Failure | null}
 */
function recorded(text, attempt) {
  if (text === null) return null;
  try {
    const r = JSON.parse(text);
    if (typeof r.ats !== "number" || r.ats < attempt) return null;
    /** @type {Failure} */
    const f = { code: String(r.code), name: String(r.name), message: String(r.message) };
    if (typeof r.stack === "string") f.stack = r.stack;
    return f;
  } catch {
    return null;
  }
}

/**
 * The failure of an attempt that ended with no record of its own: its worker stopped (or lost the
 * job's lock) before it could say anything.
 * @param {number} attempt
 * @returns {Failure}
 */
function interrupted(attempt) {
  return {
    code: "INTERRUPTED",
    name: "Error",
    message: `attempt ${attempt} ended without an outcome: its worker stopped or lost the job's lock`,
  };
}

/**
 * Runs `fn` after everything queued before for the same key (events of one job are applied in
 * order, each possibly reading Redis first): at once when nothing of that key is pending, else
 * after it.
 */
class Serial {
  /** @type {Map<string, Promise<void>>} */
  #chains = new Map();

  /**
   * @param {string} key
   * @param {() => unknown} fn
   */
  run(key, fn) {
    const prev = this.#chains.get(key);
    if (prev === undefined) {
      let out;
      try {
        out = fn();
      } catch (err) {
        report(err);
        return;
      }
      if (out instanceof Promise) this.#chain(key, out);
      return;
    }
    this.#chain(key, prev.then(fn));
  }

  /**
   * @param {string} key
   * @param {Promise<unknown>} p
   */
  #chain(key, p) {
    const next = p.then(
      () => {},
      (err) => report(err),
    );
    this.#chains.set(key, next);
    next.then(() => {
      if (this.#chains.get(key) === next) this.#chains.delete(key);
    });
  }

  /** Resolves when everything queued so far has run. */
  async idle() {
    while (this.#chains.size > 0) await Promise.all([...this.#chains.values()]);
  }
}

/** @param {unknown} err */
function report(err) {
  try {
    console.error("execman/bullmq:", err);
  } catch {
    // ignored
  }
}

/**
 * Starts a QueueEvents that reads the queue's events from the current end of its stream (so no
 * event between now and its first read is lost, however late that read is).
 * @param {Queue} queue
 */
async function eventsFromNow(queue) {
  const client = await clientOf(queue);
  const last = await client.xrevrange(queue.keys.events, "+", "-", "COUNT", 1);
  const lastEventId = Array.isArray(last) && last.length > 0 ? last[0][0] : "0-0";
  const events = new QueueEvents(queue.name, {
    connection: dedicated(queue.opts.connection),
    prefix: queue.opts.prefix,
    autorun: false,
    lastEventId,
  });
  // Connection errors: QueueEvents and ioredis reconnect by themselves, and it reads on from the
  // last event it had.
  events.on("error", () => {});
  return events;
}

// ---- enqueue ------------------------------------------------------------------------------------

/**
 * The remote targets of one manager on one queue (one `enqueue(queue)` registered for one or more
 * targets): it adds the jobs of their executions and moves them along from the queue's events (one
 * QueueEvents for them all).
 */
class Follower {
  /**
   * @param {Bridge} bridge
   * @param {Queue} queue
   */
  constructor(bridge, queue) {
    this.bridge = bridge;
    this.queue = queue;
    /** @type {Set<string>} the targets registered with it (job names) */
    this.targets = new Set();
    /** @type {Set<string>} ids of the active executions followed */
    this.known = new Set();
    /** @type {Set<string>} ids of jobs other managers added, being made executions here */
    this.adopting = new Set();
    /** @type {Set<string>} ids this follower cancels itself (their `ended` is its own doing) */
    this.quiet = new Set();
    this.serial = new Serial();
    /** @type {QueueEvents | null} */
    this.events = null;
    this.closed = false;
    this.started = this.#start();
    this.started.catch(report);
  }

  async #start() {
    const events = await eventsFromNow(this.queue);
    if (this.closed) {
      await events.close();
      return;
    }
    this.events = events;
    const on = (/** @type {string} */ name, /** @type {(a: any) => unknown} */ fn) =>
      events.on(/** @type {any} */ (name), (/** @type {any} */ a) => {
        if (this.known.has(a.jobId)) this.serial.run(a.jobId, () => fn(a));
      });
    on("active", ({ jobId }) => this.bridge.start(jobId));
    on("progress", ({ jobId, data }) => {
      const p = progressOf(data);
      if (p !== null) this.#quietly(() => this.bridge.progress(jobId, p[0], p[1], p[2]));
    });
    on("completed", ({ jobId, returnvalue }) => {
      this.known.delete(jobId);
      this.bridge.complete(jobId, returnvalue ?? null);
    });
    on("failed", async ({ jobId, failedReason }) => {
      const x = this.bridge.status(jobId);
      if (x?.status !== "running") return;
      const f = (await this.#failure(jobId, x.attempt)) ?? {
        code: "HANDLER_ERROR",
        name: "Error",
        message: String(failedReason),
      };
      if (f.code === "CANCELLED") {
        this.#cancel(jobId, f.message);
      } else {
        this.known.delete(jobId);
        this.bridge.fail(jobId, f);
      }
    });
    // An attempt that ended with the job waiting (retried at once, or moved back by the stalled
    // check) or delayed (retried after its backoff) again.
    on("waiting", ({ jobId, prev }) => (prev === "active" ? this.#retried(jobId, null) : undefined));
    on("delayed", ({ jobId, delay }) => this.#retried(jobId, Number(delay)));
    on("stalled", ({ jobId }) => this.#retried(jobId, null));
    on("removed", ({ jobId }) => this.#removed(jobId));
    on("duplicated", ({ jobId }) => {
      if (this.bridge.status(jobId)?.status === "pending") {
        this.#cancel(jobId, `the queue holds a job with the id ${JSON.stringify(jobId)} already`);
      }
    });
    // Jobs of this target that other managers add: executions here too.
    events.on("added", ({ jobId, name }) => {
      if (!this.targets.has(name) || this.known.has(jobId) || this.bridge.status(jobId) !== undefined) return;
      this.known.add(jobId);
      this.serial.run(jobId, () => this.#adopt(jobId));
    });
    events.run().catch(report);
    await events.waitUntilReady();
  }

  /**
   * A new execution of the target (pending): its job is added.
   * @param {Execution} x
   */
  submit(x) {
    if (this.adopting.delete(x.id)) return;
    this.known.add(x.id);
    const opts = /** @type {any} */ (jobOptions(x, this.bridge.policy(x.id)));
    const add = () => this.queue.add(x.targetId, x.inputs, opts);
    (this.events !== null ? add() : this.started.then(add)).catch((/** @type {any} */ err) => {
      this.#cancel(x.id, `the queue refused the job: ${err?.message ?? String(err)}`);
    });
  }

  /**
   * An execution of a target was cancelled (by any caller: a cancel here removes its waiting or
   * delayed job, or tells the worker running it), unless the cancel was this follower's own.
   * @param {Execution} x
   */
  ended(x) {
    this.known.delete(x.id);
    if (this.quiet.delete(x.id)) return;
    this.cancelJob(x.id, x.cancelReason).catch(report);
  }

  /**
   * Cancels the job `id` on every machine: the reason is kept next to it (a worker that takes it
   * later reads it before running anything), a waiting or delayed job is removed, and a running one
   * is told to its worker on the queue's cancel channel.
   * @param {string} id
   * @param {string | undefined} reason
   */
  async cancelJob(id, reason) {
    await this.started;
    const client = await clientOf(this.queue);
    const text = reason ?? "";
    await client.set(this.queue.toKey(`execman:cancel:${id}`), text, "EX", CANCEL_TTL);
    const removed = await this.queue.remove(id);
    if (removed !== 1) await client.publish(this.queue.toKey("execman:cancel"), JSON.stringify({ id, reason: text }));
  }

  /**
   * Cancels an execution for a reason of the queue's (its job was removed, refused, or cancelled
   * by another machine), without telling the queue back.
   * @param {string} id
   * @param {string} reason
   */
  #cancel(id, reason) {
    this.quiet.add(id);
    if (!this.bridge.cancel(id, reason)) this.quiet.delete(id);
  }

  /** @param {() => unknown} fn */
  #quietly(fn) {
    try {
      fn();
    } catch {
      // A report the manager refuses (a foreign worker's odd progress) changes nothing.
    }
  }

  /**
   * The failure recorded for attempt `attempt` of job `id` (or a later one), if any.
   * @param {string} id
   * @param {number} attempt
   */
  async #failure(id, attempt) {
    const client = await clientOf(this.queue);
    return recorded(await client.hget(this.queue.toKey(id), ERROR_FIELD), attempt);
  }

  /**
   * The running attempt of `id` ended and its job waits to run again (at `runAt`, null: now).
   * @param {string} id
   * @param {number | null} runAt
   */
  async #retried(id, runAt) {
    const x = this.bridge.status(id);
    if (x?.status !== "running") return;
    const f = (await this.#failure(id, x.attempt)) ?? interrupted(x.attempt);
    this.bridge.retry(id, f, runAt);
  }

  /** @param {string} id */
  async #removed(id) {
    const x = this.bridge.status(id);
    if (x === undefined || x.status === "completed" || x.status === "failed" || x.status === "cancelled") return;
    const client = await clientOf(this.queue);
    const reason = await client.get(this.queue.toKey(`execman:cancel:${id}`));
    this.#cancel(id, reason === null || reason === "" ? "its job was removed from the queue" : reason);
  }

  /**
   * A job of this target that another manager added: an execution here too (when it is execman's).
   * @param {string} id
   */
  async #adopt(id) {
    const job = await this.queue.getJob(id);
    const meta = /** @type {any} */ (job?.opts)?.execman;
    if (job === undefined || meta === undefined || meta === null) {
      this.known.delete(id);
      return;
    }
    /** @type {ExecutionRequest} */
    const request = { id, targetId: job.name, inputs: job.data, config: meta.config ?? {}, type: meta.type };
    const p = job.opts.priority;
    if (typeof p === "number" && p > 0) request.priority = PRIORITY_ZERO - p;
    if (typeof job.opts.delay === "number" && job.opts.delay > 0) request.runAt = job.timestamp + job.opts.delay;
    if (meta.retry !== null && meta.retry !== undefined) request.retry = meta.retry;
    this.adopting.add(id);
    try {
      this.bridge.create(request);
    } catch (err) {
      this.adopting.delete(id);
      this.known.delete(id);
      throw err;
    }
    // What happened to the job before now (its events came before it was adopted).
    const state = await job.getState();
    if (state === "active") this.bridge.start(id);
  }

  async close() {
    this.closed = true;
    await this.started.catch(() => {});
    await this.serial.idle();
    await this.events?.close();
  }
}

/**
 * What `register` takes in place of a handler: a target whose executions run as BullMQ jobs of
 * `queue` (see the top of this file). `close()` stops following the queue's events.
 * @example
 * const render = enqueue(new Queue("render", { connection }));
 * manager.register("render", render);
 * @param {Queue} queue
 * @returns {EnqueueHandler}
 */
function enqueue(queue) {
  if (!isQueue(queue)) throw new TypeError("queue must be a BullMQ Queue");
  /** @type {Set<Follower>} */
  const followers = new Set();
  /** @type {WeakMap<Bridge, Follower>} one per manager it is registered on */
  const byBridge = new WeakMap();
  const handler = /** @type {any} */ (
    () => {
      throw new TypeError("an enqueue() target runs on its queue's workers, not here");
    }
  );
  handler[REMOTE] = {
    /**
     * @param {Bridge} bridge
     * @param {string} targetId
     */
    attach(bridge, targetId) {
      let f = byBridge.get(bridge);
      if (f === undefined) {
        f = new Follower(bridge, queue);
        byBridge.set(bridge, f);
        followers.add(f);
      }
      f.targets.add(targetId);
      return f;
    },
  };
  handler.queue = queue;
  handler.ready = () => Promise.all([...followers].map((f) => f.started)).then(() => {});
  handler.close = async () => {
    await Promise.all([...followers].map((f) => f.close()));
  };
  return handler;
}

// ---- work ---------------------------------------------------------------------------------------

/**
 * Checks `ctx.progress` arguments as the manager does.
 * @param {Bridge} bridge
 * @param {unknown} current
 * @param {unknown} total
 * @param {unknown} message
 */
function checkProgress(bridge, current, total, message) {
  if (typeof current !== "number" || !Number.isFinite(current) || current < 0) {
    throw invalid(bridge, "current", `must be a finite number >= 0, got ${String(current)}`);
  }
  if (total != null && (typeof total !== "number" || !Number.isFinite(total) || total <= 0)) {
    throw invalid(bridge, "total", `must be a finite number > 0, got ${String(total)}`);
  }
  if (message != null && (typeof message !== "string" || !message.isWellFormed())) {
    throw invalid(bridge, "message", "must be a well-formed string");
  }
}

/**
 * Why `value` is not JSON-compatible (the contract's rules), or null when it is.
 * @param {unknown} value
 * @param {string} at
 * @param {number} depth
 * @param {Set<object>} seen
 * @returns {string | null}
 */
function jsonProblem(value, at = "result", depth = 0, seen = new Set()) {
  if (value === null || typeof value === "string" || typeof value === "boolean") return null;
  if (typeof value === "number") return Number.isFinite(value) ? null : `${at} is not a finite number`;
  if (typeof value !== "object") return `${at} is ${typeof value === "undefined" ? "undefined" : `a ${typeof value}`}`;
  if (depth >= 128) return `${at} is nested deeper than 128 levels`;
  if (seen.has(value)) return `${at} is a cycle`;
  const array = Array.isArray(value);
  const proto = Object.getPrototypeOf(value);
  if (!array && proto !== Object.prototype && proto !== null) return `${at} is not a plain object`;
  seen.add(value);
  const entries = array
    ? value.map((v, i) => [`${at}[${i}]`, v])
    : Object.entries(value).map(([k, v]) => [`${at}.${k}`, v]);
  for (const [p, v] of entries) {
    const problem = jsonProblem(v, p, depth + 1, seen);
    if (problem !== null) return problem;
  }
  seen.delete(value);
  return null;
}

/**
 * @param {string} text
 */
function cut(text) {
  return text.length <= MAX_DETAIL ? text : `${text.slice(0, MAX_DETAIL - 1)}…`;
}

/**
 * The failure of a thrown value, as the manager records a handler's.
 * @param {unknown} thrown
 * @returns {Failure}
 */
function thrownFailure(thrown) {
  if (thrown instanceof Error) {
    /** @type {Failure} */
    const f = { code: "HANDLER_ERROR", name: cut(String(thrown.name)), message: cut(String(thrown.message)) };
    if (typeof thrown.stack === "string") f.stack = cut(thrown.stack);
    return f;
  }
  return { code: "HANDLER_ERROR", name: "Error", message: cut(String(thrown)) };
}

/**
 * The BullMQ worker side of `work()`: runs one job through the manager's handler for its name.
 * @param {Bridge} bridge
 * @param {Worker} worker
 * @param {Job} job
 * @param {AbortSignal | undefined} signal  BullMQ's: aborted by `worker.cancelJob`
 * @param {Map<string, string>} early  cancels heard for jobs this worker did not run yet
 */
async function runJob(bridge, worker, job, signal, early) {
  const id = /** @type {string} */ (job.id);
  const attempt = job.attemptsStarted;
  /**
   * Records the attempt's failure next to the job, then fails the job with it (`final`: no retry).
   * @param {Failure} f
   * @param {boolean} final
   * @returns {Promise<never>}
   */
  const failWith = async (f, final) => {
    const client = await clientOf(worker);
    await client.hset(worker.toKey(id), ERROR_FIELD, JSON.stringify({ ats: attempt, ...f }));
    const err = final ? new UnrecoverableError(f.message) : new Error(f.message);
    if (!final) err.name = f.name;
    if (f.stack !== undefined) err.stack = f.stack;
    throw err;
  };
  const cancelled = early.get(id);
  if (cancelled !== undefined) {
    early.delete(id);
    return failWith({ code: "CANCELLED", name: "AbortError", message: cancelled }, true);
  }
  const handler = bridge.handler(job.name);
  if (typeof handler !== "function") {
    return failWith(
      { code: "UNKNOWN_TARGET", name: "Error", message: `no handler is registered for ${JSON.stringify(job.name)}` },
      true,
    );
  }
  const meta = /** @type {any} */ (job.opts).execman ?? {};
  const config = meta.config !== null && typeof meta.config === "object" ? meta.config : {};
  const timeoutMs = typeof config.timeoutMs === "number" && config.timeoutMs > 0 ? config.timeoutMs : undefined;
  const controller = new AbortController();
  let over = false;
  /** @type {HandlerContext} */
  const ctx = {
    id,
    attempt,
    signal: controller.signal,
    // Parsed from the job for this attempt alone: the handler's own copies.
    config,
    progress(current, total, message) {
      checkProgress(bridge, current, total, message);
      if (over) return;
      job.updateProgress({ current, total: total ?? null, message: message ?? null }).catch(() => {});
    },
  };
  /** @type {{ kind: "ok", value: unknown } | { kind: "threw", error: unknown } | { kind: "timeout", error: Error } | { kind: "cancel", reason: string }} */
  const outcome = await new Promise((resolve) => {
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    let timer;
    const onAbort = () => {
      const r = signal?.reason;
      controller.abort();
      done({ kind: "cancel", reason: typeof r === "string" ? r : r instanceof Error ? r.message : "" });
    };
    /** @param {any} o */
    const done = (o) => {
      if (over) return;
      over = true;
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      resolve(o);
    };
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => {
        const error = new Error(`execution ${JSON.stringify(id)} timed out after ${timeoutMs} ms`);
        error.name = "TimeoutError";
        controller.abort(error);
        done({ kind: "timeout", error });
      }, timeoutMs);
    }
    if (signal !== undefined) {
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort);
    }
    if (over) return;
    /** @type {Promise<unknown>} */
    let p;
    try {
      p = Promise.resolve(handler(job.data, ctx));
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(
      (value) => done({ kind: "ok", value }),
      (error) => done({ kind: "threw", error }),
    );
  });
  switch (outcome.kind) {
    case "ok": {
      const value = outcome.value === undefined ? null : outcome.value;
      const problem = jsonProblem(value);
      if (problem !== null) return failWith({ code: "INVALID_RESULT", name: "TypeError", message: problem }, true);
      return value;
    }
    case "threw":
      return failWith(thrownFailure(outcome.error), /** @type {any} */ (outcome.error)?.retryable === false);
    case "timeout":
      return failWith({ code: "TIMEOUT", name: "TimeoutError", message: outcome.error.message }, false);
    default:
      return failWith({ code: "CANCELLED", name: "AbortError", message: outcome.reason }, true);
  }
}

/**
 * The user's own backoff strategy for a type that is not BullMQ's nor execman's.
 * @param {Function | undefined} custom
 * @param {number} made
 * @param {string} type
 * @param {unknown} err
 * @param {unknown} job
 */
function strategy(custom, made, type, err, job) {
  if (typeof custom !== "function") throw new Error(`unknown backoff strategy ${type}`);
  return custom(made, type, err, job);
}

/**
 * A BullMQ Worker of `queueName` that runs each job through the handler `manager` registered for
 * the job's name, with the usual ctx (`id`, `attempt`, `signal`, `config`, `progress`). Progress goes
 * to the job (`{ current, total, message }`), the result is its return value, a thrown error its
 * failure (retried under the job's attempts and backoff; never when it says `retryable: false`); a
 * cancel made on any machine aborts the handler's signal (the queue's cancel channel, then BullMQ's
 * own `cancelJob`). `close()` closes the worker and its channel. Other Worker options pass through.
 * @example
 * manager.register("render", async (inputs, { progress }) => { progress(1, 2); return "done"; });
 * const worker = work(manager, "render", { connection: { host: "127.0.0.1", port: 6379 }, concurrency: 4 });
 * @param {unknown} manager
 * @param {string} queueName
 * @param {WorkOptions} options
 * @returns {Worker}
 */
function work(manager, queueName, options) {
  const bridge = bridgeOf(manager);
  if (typeof queueName !== "string" || queueName === "")
    throw invalid(bridge, "queueName", "must be a non-empty string");
  if (options === null || typeof options !== "object" || options.connection == null) {
    throw invalid(bridge, "options.connection", "must be a BullMQ connection (options or an ioredis instance)");
  }
  const { settings, autorun, ...rest } = /** @type {any} */ (options);
  const custom = settings?.backoffStrategy;
  /** @type {Worker} */
  const worker = new Worker(
    queueName,
    // Three parameters: BullMQ then passes the signal that `cancelJob` aborts.
    (job, token, signal) => runJob(bridge, worker, job, signal, early),
    {
      ...rest,
      autorun: false,
      settings: {
        ...settings,
        backoffStrategy: (
          /** @type {number} */ made,
          /** @type {string} */ type,
          /** @type {any} */ err,
          /** @type {any} */ job,
        ) => (type === "execman" ? execmanDelay(job?.opts?.backoff, made) : strategy(custom, made, type, err, job)),
      },
    },
  );
  // A cancel heard for a job this worker has not started yet (it was taking it from the queue just
  // then): kept a minute, read when the job starts.
  /** @type {Map<string, string>} */
  const early = new Map();
  // The cancel channel, subscribed before the first job is taken. ioredis resubscribes after a
  // reconnection.
  const channel = (async () => {
    const sub = (await clientOf(worker)).duplicate();
    sub.on("error", () => {});
    await sub.subscribe(worker.toKey("execman:cancel"));
    sub.on("message", (/** @type {string} */ _channel, /** @type {string} */ text) => {
      try {
        const { id, reason } = JSON.parse(text);
        const why = typeof reason === "string" ? reason : "";
        if (!worker.cancelJob(String(id), why)) {
          early.set(String(id), why);
          setTimeout(() => early.delete(String(id)), 60_000).unref();
        }
      } catch {
        // Not a message of ours.
      }
    });
    return sub;
  })();
  channel.then(
    () => {
      if (autorun !== false && !worker.closing) worker.run().catch(report);
    },
    (err) => worker.emit("error", err),
  );
  const close = worker.close.bind(worker);
  worker.close = async (force) => {
    await close(force);
    try {
      (await channel).disconnect();
    } catch {
      // Never subscribed.
    }
  };
  return worker;
}

// ---- mirror -------------------------------------------------------------------------------------

/**
 * Tracks the jobs of `queue` that execman did not enqueue: each as a tracked execution (id =
 * `idPrefix` + job id, targetId = queue name, type = job name, inputs = job data; a number progress
 * p as `current = p, total = 100`), the existing ones first, then live from the queue's events.
 * A tracked execution has one attempt: a job that BullMQ retries stays running until its last
 * attempt ends. `close()` stops following.
 * @example
 * const m = await mirror(manager, new Queue("emails", { connection }), { idPrefix: "emails:" });
 * @param {any} manager
 * @param {Queue} queue
 * @param {MirrorOptions} [options]
 * @returns {Promise<Mirror>}
 */
async function mirror(manager, queue, options) {
  const bridge = bridgeOf(manager);
  if (!isQueue(queue)) throw invalid(bridge, "queue", "must be a BullMQ Queue");
  const prefix = options?.idPrefix ?? "";
  if (typeof prefix !== "string") throw invalid(bridge, "options.idPrefix", "must be a string");
  const serial = new Serial();
  /** @param {string} jobId */
  const idOf = (jobId) => `${prefix}${jobId}`;
  /** @param {() => unknown} fn */
  const quietly = (fn) => {
    try {
      fn();
    } catch (err) {
      // A move that is not legal now (an event older than what was loaded) changes nothing.
      if (/** @type {any} */ (err)?.code !== "INVALID_TRANSITION") report(err);
    }
  };
  /** @param {string} jobId */
  const status = (jobId) => /** @type {Execution | undefined} */ (manager.status(idOf(jobId)))?.status;
  /**
   * Tracks a job (when execman did not enqueue it) and brings it to its state.
   * @param {Job} job
   * @param {string} state
   */
  const track = (job, state) => {
    if (/** @type {any} */ (job.opts).execman != null || job.id === undefined) return;
    const id = idOf(job.id);
    if (manager.status(id) === undefined) {
      manager.track({ id, targetId: queue.name, type: job.name || "task", inputs: job.data ?? null });
    }
    if (state === "waiting" || state === "delayed" || state === "prioritized" || state === "paused") return;
    if (status(job.id) === "pending") quietly(() => manager.start(id));
    const p = progressOf(job.progress);
    if (p !== null && status(job.id) === "running" && !(p[0] === 0 && p[1] === 100)) {
      quietly(() => manager.reportProgress(id, p[0], p[1], p[2]));
    }
    if (state === "completed") quietly(() => manager.complete(id, job.returnvalue ?? null));
    else if (state === "failed") quietly(() => manager.fail(id, { message: String(job.failedReason ?? "failed") }));
  };
  const events = await eventsFromNow(queue);
  // The jobs there are now, oldest first; events after this point are read from the stream.
  const jobs = await queue.getJobs(
    ["active", "waiting", "delayed", "prioritized", "waiting-children", "completed", "failed"],
    0,
    -1,
    true,
  );
  jobs.sort((a, b) => a.timestamp - b.timestamp);
  for (const job of jobs) {
    const state = await queue.getJobState(/** @type {string} */ (job.id));
    track(/** @type {Job} */ (job), state);
  }
  /**
   * @param {string} name
   * @param {(a: any) => unknown} fn
   */
  const on = (name, fn) =>
    events.on(/** @type {any} */ (name), (/** @type {any} */ a) => serial.run(a.jobId, () => fn(a)));
  on("added", async ({ jobId }) => {
    if (manager.status(idOf(jobId)) !== undefined) return;
    const job = await queue.getJob(jobId);
    if (job !== undefined) track(job, "waiting");
  });
  on("active", ({ jobId }) => {
    if (status(jobId) === "pending") quietly(() => manager.start(idOf(jobId)));
  });
  on("progress", ({ jobId, data }) => {
    const p = progressOf(data);
    if (p !== null && status(jobId) === "running") quietly(() => manager.reportProgress(idOf(jobId), p[0], p[1], p[2]));
  });
  on("completed", ({ jobId, returnvalue }) => {
    if (status(jobId) === "running") quietly(() => manager.complete(idOf(jobId), returnvalue ?? null));
  });
  on("failed", ({ jobId, failedReason }) => {
    const s = status(jobId);
    if (s === "pending") quietly(() => manager.start(idOf(jobId)));
    if (s === "pending" || s === "running") {
      quietly(() => manager.fail(idOf(jobId), { message: String(failedReason ?? "failed") }));
    }
  });
  on("removed", ({ jobId }) => {
    const s = status(jobId);
    if (s === "pending" || s === "running")
      quietly(() => manager.cancel(idOf(jobId), "its job was removed from the queue"));
  });
  events.run().catch(report);
  await events.waitUntilReady();
  return {
    async close() {
      await serial.idle();
      await events.close();
    },
  };
}

module.exports = { enqueue, work, mirror };
