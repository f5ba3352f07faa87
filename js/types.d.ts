// The TypeScript declarations of the package (pkg/node/execman.d.ts and pkg/web/execman.d.ts are
// this file, the web one followed by wasm-bindgen's declarations of `init` and `initSync`), and the
// types js/manager.js is checked against (`tsc -p js`).

/** The status of an execution; the last three are terminal. */
export type Status = "pending" | "running" | "completed" | "failed" | "cancelled";

/** A JSON-compatible value: what `inputs`, `config`, results and failure details may hold. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

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

/** A snapshot of an execution: a copy, mutating it never changes the manager. */
export interface Execution {
  id: string;
  targetId: string;
  type: string;
  status: Status;
  inputs: JsonValue;
  config: { [key: string]: JsonValue };
  progress: Progress | null;
  /** completed only */
  result?: JsonValue;
  /** failed only */
  error?: ExecutionFailure;
  /** cancelled with a reason only */
  cancelReason?: string;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  updatedAt: number;
}

/** Options of `new ExecutionManager(options)`: positive integers or `Infinity`. */
export interface ManagerOptions {
  /** Handler calls in flight at once; default `Infinity`. */
  concurrency?: number;
  /** Terminal executions kept; default `10000`. */
  maxFinished?: number;
  /**
   * A budget for everything the manager holds (2 bytes per UTF-16 unit of ids, inputs, config,
   * progress messages, results and failure details, plus 640 bytes per execution); default
   * 268435456 (256 MiB), at most 1 GiB. A change that would pass it evicts finished executions
   * first; if active ones alone would, it throws `RESOURCE_EXHAUSTED`.
   */
  maxBytes?: number;
}

/** Options of `register`. */
export interface TargetOptions {
  /** Default `type` of the target's executions (default `"task"`). */
  type?: string;
}

/** `config` of a request: JSON-compatible; `timeoutMs` fails a running execution after that many ms. */
export interface ExecutionConfig {
  timeoutMs?: number;
  [key: string]: JsonValue | undefined;
}

/** A `create` or `track` request. */
export interface ExecutionRequest {
  targetId: string;
  inputs?: JsonValue;
  config?: ExecutionConfig;
  /** Default: a UUID v4. */
  id?: string;
  type?: string;
}

/** The second argument of a handler. */
export interface HandlerContext {
  id: string;
  /** Aborts when the execution is cancelled or times out. */
  signal: AbortSignal;
  config: { [key: string]: JsonValue };
  /** Reports progress; ignored once the execution is terminal. */
  progress(current: number, total?: number | null, message?: string | null): void;
}

/** A handler: sync or async; its (awaited) return value becomes the result. */
export type Handler = {
  bivarianceHack(inputs: JsonValue, ctx: HandlerContext): unknown;
}["bivarianceHack"];

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

/** One page of `list`. */
export interface Page {
  items: Execution[];
  total: number;
  /** `null` when the page was read with a cursor. */
  page: number | null;
  pageSize: number;
  totalPages: number;
  hasNext: boolean;
  nextCursor: string | null;
}

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
export interface ExecutionEvent {
  type: "created" | "status" | "progress" | "removed";
  execution: Execution;
}

/** A `subscribe` listener. */
export type Listener = (event: ExecutionEvent) => void;

/** The `code` of an `ExecutionError`. */
export type ExecutionErrorCode =
  | "NOT_FOUND"
  | "ALREADY_EXISTS"
  | "INVALID_ARGUMENT"
  | "INVALID_TRANSITION"
  | "UNKNOWN_TARGET"
  | "RESOURCE_EXHAUSTED";

/** Every error the API throws: an `Error` named `"ExecutionError"` with a `code`. */
export class ExecutionError extends Error {
  constructor(code: ExecutionErrorCode, message: string);
  name: "ExecutionError";
  code: ExecutionErrorCode;
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
  error: { code: ExecutionErrorCode | "METHOD_NOT_ALLOWED" | "NOT_IMPLEMENTED"; message: string };
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
 * @example
 * const manager = new ExecutionManager({ concurrency: 4 });
 * manager.register("upload", async (inputs, ctx) => {
 *   ctx.progress(1, 2, "half way");
 *   return { ok: true };
 * });
 * const exec = manager.create({ targetId: "upload", inputs: { file: "a.txt" } });
 * const done = await manager.wait(exec.id);
 */
export class ExecutionManager {
  /**
   * A new manager. `options.concurrency` (default `Infinity`) bounds handler calls in flight;
   * `options.maxFinished` (default 10000) bounds terminal executions kept.
   *
   * @example
   * const manager = new ExecutionManager({ concurrency: 2, maxFinished: 1000 });
   */
  constructor(options?: ManagerOptions);
  /**
   * Registers the handler of a target. Throws `ALREADY_EXISTS` if taken.
   *
   * @example
   * manager.register("export", async (inputs, { signal, progress }) => {
   *   progress(0, 10);
   *   return "done";
   * }, { type: "batch" });
   */
  register(targetId: string, handler: Handler, options?: TargetOptions): void;
  /**
   * Creates an execution of a registered target; returns its `pending` snapshot. The handler
   * starts in a later microtask, when a slot is free.
   *
   * @example
   * const { id } = manager.create({ targetId: "export", inputs: { rows: 10 }, config: { timeoutMs: 5000 } });
   */
  create(request: ExecutionRequest): Execution;
  /**
   * Tracks work that runs elsewhere; returns its `pending` snapshot.
   *
   * @example
   * const job = manager.track({ targetId: "server-job" });
   * manager.start(job.id);
   * manager.reportProgress(job.id, 3, 10, "rows");
   * manager.complete(job.id, { rows: 10 });
   */
  track(request: ExecutionRequest): Execution;
  /** Starts a tracked execution; returns its `running` snapshot. */
  start(id: string): Execution;
  /** Reports progress of a running tracked execution. */
  reportProgress(id: string, current: number, total?: number | null, message?: string | null): void;
  /** Completes a running tracked execution with `result` (default `null`). */
  complete(id: string, result?: JsonValue): Execution;
  /** Fails a running tracked execution. */
  fail(id: string, error: FailureInput): Execution;
  /** The snapshot of an execution, or `undefined` if no such id. */
  status(id: string): Execution | undefined;
  /** The progress of an execution: `null` if none reported, `undefined` if no such id. */
  progress(id: string): Progress | null | undefined;
  /**
   * One page of executions matching the query.
   *
   * @example
   * let page = manager.list({ status: ["running", "pending"], pageSize: 50 });
   * while (page.hasNext) page = manager.list({ status: ["running", "pending"], pageSize: 50, cursor: page.nextCursor });
   */
  list(query?: ListQuery): Page;
  /** Executions held per status, and in all. */
  counts(): Counts;
  /**
   * Cancels a pending or running execution; its signal aborts before this returns.
   *
   * @example
   * manager.cancel(id, "user pressed stop");
   */
  cancel(id: string, reason?: string): Execution;
  /**
   * Resolves with the terminal snapshot (whatever the terminal status); rejects `NOT_FOUND`
   * for an unknown id.
   *
   * @example
   * const { status, result, error } = await manager.wait(id);
   */
  wait(id: string): Promise<Execution>;
  /** Removes a terminal execution; returns its snapshot. */
  remove(id: string): Execution;
  /** Removes every terminal execution; returns how many. */
  clear(): number;
  /**
   * Calls `listener({ type, execution })` after each change; returns a function that
   * unsubscribes it (calling it again does nothing).
   *
   * @example
   * const off = manager.subscribe(({ type, execution }) => console.log(type, execution.status));
   * off();
   */
  subscribe(listener: Listener): () => void;
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
