// The TypeScript declarations of the package (pkg/node/execman.d.ts and pkg/web/execman.d.ts are
// this file, the web one followed by wasm-bindgen's declarations of `init` and `initSync`), and the
// types js/manager.js is checked against (`tsc -p js`).

/** The status of an execution; the last three are terminal. */
export type Status = "pending" | "running" | "completed" | "failed" | "cancelled";

/** A JSON-compatible value: what `inputs`, `config`, results and failure details may hold. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

declare const notJson: unique symbol;

/**
 * What a part of a type that is not JSON-compatible becomes in `JsonCompatible<T>`, so that a
 * type error ends by naming it: ``Type '() => string' is not assignable to type 'NotJsonCompatible'``.
 * No value has this type.
 */
export interface NotJsonCompatible {
  readonly [notJson]: "not JSON-compatible";
}

/**
 * `T` itself when every value of type `T` is JSON-compatible, else a type that `T` is not
 * assignable to, its offending parts replaced by `NotJsonCompatible`. The generic methods check
 * inputs and results with it (`R extends JsonCompatible<R>`): interfaces and type aliases of JSON
 * shapes pass alike; `Date`, `Map`, `Set`, typed arrays, functions, class instances with methods,
 * `bigint`, `symbol` and `undefined` (in a required property of type `string | undefined` too) do
 * not. An optional property (`name?: string`) passes: leave the key out, as a key present with
 * the value `undefined` is refused at run time. `unknown` does not pass (it proves nothing).
 * NaN and ±Infinity are numbers to TypeScript: only the run-time check refuses them.
 *
 * @example
 * interface Report { url: string; pages: number[] }
 * type Yes = Report extends JsonCompatible<Report> ? true : false; // true
 * type No = Date extends JsonCompatible<Date> ? true : false;      // false
 */
export type JsonCompatible<T> = [T] extends [infer U] ? JsonCheck<U> : never;

/**
 * `JsonCompatible` itself, distributed over unions. (`JsonCompatible<T>` wraps it so that a type
 * parameter may be bounded by itself, `R extends JsonCompatible<R>`.)
 */
export type JsonCheck<T> = T extends JsonValue
  ? T
  : T extends undefined | bigint | symbol | ((...args: never) => unknown) | (abstract new (...args: never) => unknown)
    ? NotJsonCompatible
    : T extends object
      ? { [K in keyof T]: JsonCheck<T[K]> }
      : NotJsonCompatible;

/** What a handler that returns nothing returns: `undefined`, or `void` (a function without `return`). */
// biome-ignore lint/suspicious/noConfusingVoidType: `async () => {}` returns Promise<void>, which must be accepted
export type Nothing = undefined | void;

/**
 * What a handler may return (once awaited): a JSON-compatible value, or nothing, which is stored
 * as `null`.
 */
export type HandlerReturn<R> = [R] extends [infer U] ? JsonCheck<Exclude<U, Nothing>> | Nothing : never;

/**
 * What a handler's inputs may be typed as: `unknown` (a handler that checks its inputs itself),
 * else a JSON-compatible type, as inputs reach the handler as copies of JSON values.
 */
export type HandlerInputs<I> = [I] extends [infer U] ? (unknown extends U ? unknown : JsonCheck<U>) : never;

/** The `result` stored for a handler that returned `R`: `R`, with `undefined` as `null`. */
export type Stored<R> = R extends Nothing ? null : R;

/** The latest progress report of an execution. */
export interface Progress {
  current: number;
  total: number | null;
  message: string | null;
  /** `min(100, current / total * 100)` when `total` is set, else `null`. */
  percentage: number | null;
  /** ms since epoch */
  updatedAt: number;
}

/** Failure details of a failed execution. */
export interface ExecutionFailure {
  /** `HANDLER_ERROR`, `TIMEOUT`, `INVALID_RESULT`, or an external code (default `EXTERNAL_ERROR`). */
  code: string;
  name: string;
  message: string;
  stack?: string;
}

/**
 * A snapshot of an execution: a copy, mutating it never changes the manager. `I` is the type of
 * its inputs, `R` what its handler returns (or what `complete` was given); both default to
 * `JsonValue`. The manager does not know your types: `Execution<I, R>` is what you say they are
 * (`manager.wait<Inputs, Result>(id)`), as with `JSON.parse`.
 *
 * @example
 * const done: Execution<{ pages: number }, { url: string }> = await manager.wait(id);
 * if (done.status === "completed") console.log(done.result?.url);
 */
export interface Execution<I = JsonValue, R = JsonValue> {
  id: string;
  targetId: string;
  type: string;
  status: Status;
  inputs: I;
  config: { [key: string]: JsonValue };
  progress: Progress | null;
  /** completed only; a handler's `undefined` is stored as `null` */
  result?: Stored<R>;
  /** failed only, or pending for a retry (the failure of the attempt that failed) */
  error?: ExecutionFailure;
  /** cancelled with a reason only */
  cancelReason?: string;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  updatedAt: number;
  /** 0 unless given. */
  priority: number;
  /** Attempts started so far: 0 before the first start. */
  attempt: number;
  /** 1 unless a retry policy allows more (1 for tracked executions). */
  maxAttempts: number;
  /** While pending after a delay or for a retry: when it is (or was) due; `null` otherwise and once it starts. */
  runAt: number | null;
}

/** Options of `new ExecutionManager(options)`: positive integers or `Infinity`. */
export interface ManagerOptions {
  /** Handler calls in flight at once; default `Infinity`. */
  concurrency?: number;
  /** Terminal executions kept; default `10000`. */
  maxFinished?: number;
  /**
   * A budget for everything the manager holds (2 bytes per UTF-16 unit of ids, inputs, config,
   * progress messages, results and failure details, plus 704 bytes per execution); default
   * 268435456 (256 MiB), at most 1 GiB. A change that would pass it evicts finished executions
   * first; if active ones alone would, it throws `RESOURCE_EXHAUSTED`.
   */
  maxBytes?: number;
}

/**
 * A durable store for `ExecutionManager.open`: `memoryStore()` (everywhere), `fileStore(path)`
 * (Node, from `execman`) or `indexedDBStore(name)` (browsers and workers, from the web build).
 * Opaque: only the manager uses it. One open manager at a time.
 */
export interface Store {
  readonly [store: symbol]: unknown;
}

/** Options of `ExecutionManager.open(options)`: those of `new ExecutionManager`, and the store. */
export interface OpenOptions extends ManagerOptions {
  /** Where the executions are kept. */
  store: Store;
  /**
   * How long a batch of changes may wait before it is written, in ms; default 0: at the end of
   * the current task. A process killed (or a tab closed) loses no change made before the last
   * batch write began.
   */
  flushMs?: number;
}

/**
 * A store that keeps its bytes in memory: reopening it after `close()` is a restart (tests, and
 * managers closed and opened again in one process).
 */
export declare function memoryStore(): Store;

/** The delays between attempts of a retry policy. */
export interface Backoff {
  /** `"fixed"` (default): `delayMs` each time; `"exponential"`: `delayMs × 2^(n−1)` after the n-th failure. */
  type?: "fixed" | "exponential";
  /** Finite, ≥ 0; default 0. */
  delayMs?: number;
  /** A cap on the delay: finite, ≥ 0; default none. */
  maxDelayMs?: number;
  /** In [0, 1]; default 0: each delay is then uniformly random in [(1 − jitter) × delay, delay]. */
  jitter?: number;
}

/**
 * A retry policy: a handler that throws (`HANDLER_ERROR`) or times out (`TIMEOUT`) is called again
 * after the backoff, up to `attempts` calls in all. A thrown value with `retryable: false` and an
 * `INVALID_RESULT` are not retried.
 */
export interface RetryPolicy {
  /** Attempts in all, an integer 1..1000 (1: no retry). */
  attempts: number;
  backoff?: Backoff;
}

/** Options of `register`. */
export interface TargetOptions {
  /** Default `type` of the target's executions (default `"task"`). */
  type?: string;
  /** Default retry policy of the target's executions (a request's own `retry` replaces it whole). */
  retry?: RetryPolicy;
}

/** `config` of a request: JSON-compatible; `timeoutMs` fails a running execution after that many ms. */
export interface ExecutionConfig {
  timeoutMs?: number;
  [key: string]: JsonValue | undefined;
}

/** A `create` or `track` request; `I` is the type of its inputs. */
export interface ExecutionRequest<I = JsonValue> {
  targetId: string;
  /** Default `{}`. */
  inputs?: I;
  config?: ExecutionConfig;
  /** Default: a UUID v4. */
  id?: string;
  type?: string;
  /** `create` only: a safe integer, default 0; higher priorities start first. */
  priority?: number;
  /** `create` only: stays pending this many ms (finite, ≥ 0). Not with `runAt`. */
  delayMs?: number;
  /** `create` only: stays pending until this time (ms since epoch; a past time means at once). Not with `delayMs`. */
  runAt?: number;
  /** `create` only: the retry policy (default: the target's, from `register`). */
  retry?: RetryPolicy;
  /**
   * An outside signal: when it aborts while the execution is pending or running, the execution
   * is cancelled as by `cancel(id, reason)` (the reason's `message`, or `String(reason)`);
   * already aborted, the call returns the execution already `cancelled`. Never stored.
   */
  signal?: AbortSignal;
}

/** Options of `wait` and `watch`. */
export interface WaitOptions {
  /** Aborting it stops the wait (it rejects with the signal's reason); the execution goes on. */
  signal?: AbortSignal;
}

/**
 * What `watch(id)` returns: an async iterable of snapshots of one execution (the current one, then
 * the latest after changes, the terminal one last). `return()` (what `break` calls) stops it.
 */
export interface ExecutionWatch<I = JsonValue, R = JsonValue> extends AsyncIterableIterator<Execution<I, R>> {
  next(): Promise<IteratorResult<Execution<I, R>, undefined>>;
  return(): Promise<IteratorReturnResult<undefined>>;
  [Symbol.asyncIterator](): ExecutionWatch<I, R>;
}

/** Options of `subscribe`: filters (every given one must match) and a progress throttle. */
export interface SubscribeOptions {
  /** Only the events of the execution with this id. */
  id?: string;
  /** Only the events of executions of this target. */
  targetId?: string;
  /** Only the events of executions of this type (or of one of these types). */
  type?: string | string[];
  /**
   * At most one `progress` event per execution per this many ms (finite, >= 0; 0: no throttle):
   * the first at once, then the latest of each window; a held one goes out before that
   * execution's next other event. `created`, `status` and `removed` are never held or dropped.
   */
  throttleMs?: number;
}

/** The second argument of a handler. */
export interface HandlerContext {
  id: string;
  /** Which attempt this call is, 1-based. */
  attempt: number;
  /** Aborts when the execution is cancelled or times out. */
  signal: AbortSignal;
  config: { [key: string]: JsonValue };
  /** Reports progress; ignored once the execution is terminal. */
  progress(current: number, total?: number | null, message?: string | null): void;
}

/**
 * A handler: sync or async; its (awaited) return value becomes the result. `register` infers `I`
 * and `R` from the handler and checks that both are JSON-compatible.
 *
 * @example
 * const pdf: Handler<{ pages: number }, { url: string }> = async (inputs, ctx) => {
 *   ctx.progress(inputs.pages, inputs.pages);
 *   return { url: "/exports/42.pdf" };
 * };
 */
export type Handler<I = JsonValue, R = JsonValue> = (inputs: I, ctx: HandlerContext) => R | PromiseLike<R>;

/** What `fail` accepts. */
export type FailureInput = string | Error | { message: string; code?: string; name?: string; stack?: string };

/** A `list` query. */
export interface ListQuery {
  status?: Status | Status[];
  type?: string | string[];
  targetId?: string;
  /** 1-based; default 1. Not together with `cursor`. */
  page?: number;
  /** 1..1000; default 20. */
  pageSize?: number;
  /** By creation sequence; default `"desc"` (newest first). */
  order?: "asc" | "desc";
  /** The previous page's `nextCursor`. */
  cursor?: string;
}

/** What every page of `list` has; `Page` adds `hasNext` and `nextCursor`. */
export interface PageInfo<I = JsonValue, R = JsonValue> {
  items: Execution<I, R>[];
  /** Every execution matching the filter. */
  total: number;
  /** `null` when the page was read with a cursor. */
  page: number | null;
  pageSize: number;
  totalPages: number;
}

/**
 * One page of `list`. `hasNext` tells `nextCursor` apart: a string when more items follow, else
 * `null`, so a loop on `hasNext` passes `nextCursor` on with no check.
 *
 * @example
 * let page = manager.list({ type: "batch" });
 * while (page.hasNext) page = manager.list({ type: "batch", cursor: page.nextCursor });
 */
export type Page<I = JsonValue, R = JsonValue> = PageInfo<I, R> &
  ({ hasNext: true; nextCursor: string } | { hasNext: false; nextCursor: null });

/** `counts()`: executions held per status. */
export interface Counts {
  pending: number;
  running: number;
  completed: number;
  failed: number;
  cancelled: number;
  total: number;
}

/** A change delivered to `subscribe` listeners. */
export interface ExecutionEvent<I = JsonValue, R = JsonValue> {
  type: "created" | "status" | "progress" | "removed";
  execution: Execution<I, R>;
}

/** A `subscribe` listener. */
export type Listener<I = JsonValue, R = JsonValue> = (event: ExecutionEvent<I, R>) => void;

/**
 * The `code` of an `ExecutionError`. `STORE_ERROR`: a durable manager's store is in use, damaged,
 * or could not be read or written.
 */
export type ErrorCode =
  | "NOT_FOUND"
  | "ALREADY_EXISTS"
  | "INVALID_ARGUMENT"
  | "INVALID_TRANSITION"
  | "UNKNOWN_TARGET"
  | "STORE_ERROR"
  | "RESOURCE_EXHAUSTED";

/** The same as `ErrorCode` (its earlier name). */
export type ExecutionErrorCode = ErrorCode;

/**
 * Every error the API throws (or a promise it returns rejects with): an `Error` named
 * `"ExecutionError"` with a `code`. A class at run time, so `instanceof` tells these errors from
 * others and narrows them.
 *
 * @example
 * try {
 *   manager.cancel(id);
 * } catch (e) {
 *   if (e instanceof ExecutionError && e.code === "INVALID_TRANSITION") {
 *     // already finished
 *   } else throw e;
 * }
 */
export class ExecutionError extends Error {
  constructor(code: ErrorCode, message: string);
  name: "ExecutionError";
  code: ErrorCode;
}

/**
 * A request for `handle()`: one of the REST routes, without HTTP.
 * Routes: `POST /api/v1/executions` (`"tracked": true` tracks), `GET /api/v1/executions?…`,
 * `GET|DELETE /api/v1/executions/{id}`, `GET|POST /api/v1/executions/{id}/progress`,
 * `POST /api/v1/executions/{id}/cancel|start|complete|fail`, `GET /api/v1/counts`,
 * `GET /api/v1/openapi.json`; the two stream routes (`GET /api/v1/executions/{id}/events`,
 * `GET /api/v1/events`) answer 501 from `handle()`, which cannot stream.
 */
export interface RestRequest {
  /** `"GET"`, `"POST"` or `"DELETE"` (compared case-insensitively); other methods on a known path answer 405. */
  method: string;
  /** The URL path, percent-encoded per segment (`/api/v1/executions/job%201`); may end with `?query`. */
  path: string;
  /**
   * A query string (a leading `?` allowed; `+` is a space) or an object of already-decoded
   * strings (`undefined` values are skipped). `status` and `type` are comma-separated lists.
   */
  query?: string | { [name: string]: string | undefined } | null;
  /**
   * The parsed JSON body of a POST: a create request (with `tracked?: boolean`), `{ reason? }`
   * for a cancel, `{ current, total?, message? }` for a progress report, `{ result? }` for a
   * completion, `{ error }` for a failure.
   */
  body?: JsonValue;
}

/** The statuses the REST routes answer with. */
export type RestStatus = 200 | 201 | 204 | 400 | 404 | 405 | 409 | 501 | 503;

/** The body of an error answer. */
export interface RestErrorBody {
  error: { code: ErrorCode | "METHOD_NOT_ALLOWED" | "NOT_IMPLEMENTED"; message: string };
}

/**
 * What `handle()` answers: the status and the parsed JSON body (`null` for a 204),
 * discriminated by `status` (200 is an `Execution` for a get, a cancel, a start, a completion,
 * a failure or a removal, a `Page` for a list, a `Progress` for a progress read, the `Counts`,
 * or the OpenAPI document). A 201 has `headers.location` (the new execution's path), a 405
 * `headers.allow` (the path's methods), as `fetch()` sends them as HTTP headers.
 */
export type RestResponse =
  | { status: 200; body: Execution | Page | Progress | Counts | { openapi: string; [key: string]: JsonValue } }
  | { status: 201; body: Execution; headers: { location: string } }
  | { status: 204; body: null }
  | { status: 405; body: RestErrorBody; headers: { allow: string } }
  | { status: 400 | 404 | 409 | 501 | 503; body: RestErrorBody };

/**
 * Registry and runner of executions: create, track, query, cancel, wait.
 *
 * The methods that return snapshots take the types of inputs and results as optional type
 * parameters `<I, R>` (default `JsonValue`); the manager does not link a target id to the types
 * of its handler, so pass them where you read (`wait<I, R>`, `status<I, R>`, `list<I, R>`) and
 * where you create (`create<I>` checks the request's inputs against `I`).
 *
 * @example
 * const manager = new ExecutionManager({ concurrency: 4 });
 * manager.register("upload", async (inputs: { file: string }, ctx) => {
 *   ctx.progress(1, 2, "half way");
 *   return { ok: true };
 * });
 * const exec = manager.create({ targetId: "upload", inputs: { file: "a.txt" } });
 * const done = await manager.wait<{ file: string }, { ok: boolean }>(exec.id);
 */
export class ExecutionManager {
  /**
   * A new manager. `options.concurrency` (default `Infinity`) bounds handler calls in flight;
   * `options.maxFinished` (default 10000) bounds terminal executions kept.
   *
   * @example
   * const manager = new ExecutionManager({ concurrency: 2, maxFinished: 1000 });
   */
  constructor(options?: ManagerOptions | null);
  /**
   * A durable manager on `options.store`: the executions it holds come back as they were (ids,
   * statuses, inputs, results, order, counts), then handler-driven `running` ones fail with
   * `INTERRUPTED` (or, with attempts left, wait for a retry), `pending` ones start once their target
   * is registered, tracked ones stay as they were. Every change is then written automatically.
   * Rejects `STORE_ERROR` when the store is in use, damaged, or cannot be read or written.
   *
   * @example
   * const manager = await ExecutionManager.open({ store: fileStore("jobs.store"), concurrency: 4 });
   * manager.register("export", exportHandler);
   */
  static open(options: OpenOptions): Promise<ExecutionManager>;
  /**
   * Resolves when every change made before the call is durable; rejects `STORE_ERROR` when a
   * write failed since the last `flush()`. Resolves at once on a manager made with `new`.
   */
  flush(): Promise<void>;
  /**
   * Writes the last changes, releases the store and frees the manager (every method then throws
   * `INVALID_TRANSITION`; handlers still running are left to finish, their outcome ignored). On a
   * manager made with `new`, the same as `free()`.
   */
  close(): Promise<void>;
  /**
   * Registers the handler of a target. Throws `ALREADY_EXISTS` if taken. The types of the
   * handler's inputs (`I`, from its first parameter's annotation; `JsonValue` without one) and of
   * its result (`R`, inferred from what it returns) must be JSON-compatible: a handler returning a
   * `Date`, a `Map` or a function is a type error (and would fail with `INVALID_RESULT`).
   *
   * @example
   * manager.register("export", async (inputs: { rows: number }, { signal, progress }) => {
   *   progress(0, inputs.rows);
   *   return { file: "export.csv" };
   * }, { type: "batch" });
   */
  register<I extends HandlerInputs<I> = JsonValue, R extends HandlerReturn<R> = JsonValue>(
    targetId: string,
    handler: Handler<I, R>,
    options?: TargetOptions | null,
  ): void;
  /**
   * Creates an execution of a registered target; returns its `pending` snapshot. The handler
   * starts in a later microtask, when a slot is free.
   *
   * `I` is inferred from `inputs`, or given to check them against the handler's inputs type.
   *
   * @example
   * const { id } = manager.create({ targetId: "export", inputs: { rows: 10 }, config: { timeoutMs: 5000 } });
   * manager.create<{ rows: number }>({ targetId: "export", inputs: { rows: 10 } });
   */
  create<I extends JsonCompatible<I> = JsonValue, R = JsonValue>(request: ExecutionRequest<I>): Execution<I, R>;
  /**
   * Tracks work that runs elsewhere; returns its `pending` snapshot.
   *
   * @example
   * const job = manager.track({ targetId: "server-job" });
   * manager.start(job.id);
   * manager.reportProgress(job.id, 3, 10, "rows");
   * manager.complete(job.id, { rows: 10 });
   */
  track<I extends JsonCompatible<I> = JsonValue, R = JsonValue>(request: ExecutionRequest<I>): Execution<I, R>;
  /** Starts a tracked execution; returns its `running` snapshot. */
  start<I = JsonValue, R = JsonValue>(id: string): Execution<I, R>;
  /** Reports progress of a running tracked execution. */
  reportProgress(id: string, current: number, total?: number | null, message?: string | null): void;
  /** Completes a running tracked execution with `result` (a JSON-compatible value, default `null`). */
  complete<I = JsonValue, R extends JsonCompatible<R> = JsonValue>(id: string, result?: R): Execution<I, R>;
  /** Fails a running tracked execution. */
  fail<I = JsonValue, R = JsonValue>(id: string, error: FailureInput): Execution<I, R>;
  /** The snapshot of an execution, or `undefined` if no such id. */
  status<I = JsonValue, R = JsonValue>(id: string): Execution<I, R> | undefined;
  /** The progress of an execution: `null` if none reported, `undefined` if no such id. */
  progress(id: string): Progress | null | undefined;
  /**
   * One page of executions matching the query.
   *
   * @example
   * let page = manager.list({ status: ["running", "pending"], pageSize: 50 });
   * while (page.hasNext) page = manager.list({ status: ["running", "pending"], pageSize: 50, cursor: page.nextCursor });
   */
  list<I = JsonValue, R = JsonValue>(query?: ListQuery | null): Page<I, R>;
  /** Executions held per status, and in all. */
  counts(): Counts;
  /**
   * Cancels a pending or running execution; its signal aborts before this returns.
   *
   * @example
   * manager.cancel(id, "user pressed stop");
   */
  cancel<I = JsonValue, R = JsonValue>(id: string, reason?: string | null): Execution<I, R>;
  /**
   * Resolves with the terminal snapshot (whatever the terminal status); rejects `NOT_FOUND`
   * for an unknown id. With `options.signal`, rejects with the signal's reason when it aborts
   * first (the execution goes on).
   *
   * @example
   * const { status, result, error } = await manager.wait<{ rows: number }, { file: string }>(id);
   * const done = await manager.wait(id, { signal: AbortSignal.timeout(5000) });
   */
  wait<I = JsonValue, R = JsonValue>(id: string, options?: WaitOptions | null): Promise<Execution<I, R>>;
  /**
   * An async iterable of the execution's snapshots: the current one at once, then the latest
   * after changes (changes made while the consumer is busy are coalesced), ending after the
   * terminal one. An unknown id rejects the first `next()` with `NOT_FOUND`; `break` or
   * `options.signal` (one `next()` then rejects with its reason) stops it.
   *
   * @example
   * for await (const e of manager.watch(id)) render(e);
   */
  watch<I = JsonValue, R = JsonValue>(id: string, options?: WaitOptions | null): ExecutionWatch<I, R>;
  /** Removes a terminal execution; returns its snapshot. */
  remove<I = JsonValue, R = JsonValue>(id: string): Execution<I, R>;
  /** Removes every terminal execution; returns how many. */
  clear(): number;
  /**
   * Calls `listener({ type, execution })` after each change; returns a function that
   * unsubscribes it (calling it again does nothing).
   *
   * @example
   * const off = manager.subscribe(({ type, execution }) => console.log(type, execution.status));
   * off();
   * // 10 progress updates a second at most, per execution, for one target:
   * manager.subscribe(({ execution }) => draw(execution), { targetId: "upload", throttleMs: 100 });
   */
  subscribe<I = JsonValue, R = JsonValue>(listener: Listener<I, R>, options?: SubscribeOptions | null): () => void;
  /**
   * Answers one REST request synchronously; never throws. A malformed request object (not an
   * object, `method`/`path` not strings, `query` neither a string nor an object of strings,
   * `body` not JSON-compatible) is answered 400.
   *
   * @example
   * const { status, body } = manager.handle({
   *   method: "POST", path: "/api/v1/executions", body: { targetId: "export", inputs: { rows: 10 } },
   * });
   * const page = manager.handle({ method: "GET", path: "/api/v1/executions", query: "?status=running,pending&page_size=50" });
   */
  handle(request: RestRequest): RestResponse;
  /**
   * Answers a fetch `Request` with a `Response` (JSON bodies, `content-type: application/json`;
   * a 204 has no body; a 201 has a `Location` header, a 405 an `Allow` header). Request bodies are read as text and parsed
   * as JSON (whatever the request's content-type); text that is not JSON, or not
   * JSON-compatible (a lone surrogate), is answered 400. Rejects only if the host has no
   * `Response` constructor.
   *
   * @example
   * // In a Service Worker:
   * self.addEventListener("fetch", (event) => {
   *   if (new URL(event.request.url).pathname.startsWith("/api/v1/")) {
   *     event.respondWith(manager.fetch(event.request));
   *   }
   * });
   */
  fetch(request: Request): Promise<Response>;
  /** Frees the manager's memory in wasm; it is unusable afterwards. */
  free(): void;
  [Symbol.dispose](): void;
}
