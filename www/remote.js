// The dashboard's remote mode: the executions of an execman server (execman/server,
// `npx execman serve`, `npm run demo -- --serve`) instead of a manager in the tab. Pages and
// counts are read over REST; changes arrive through one `EventSource` on `/api/v1/events`, so
// nothing polls: the page asks for a page again only when a change may have changed it.
//
//   const remote = new RemoteExecutions("http://127.0.0.1:8080");
//   const page = await remote.list({ status: "running", pageSize: 10 });
//   const stop = remote.follow({ onEvent: (type, execution) => …, onState: (state) => … });
//
// The server must grant this page's origin CORS (`cors: { origin }`, `--cors-origin`): every
// POST carries `Content-Type: application/json`, which a browser sends to another origin only
// after a preflight. An error answer becomes an Error named "ExecutionError" with the router's
// `code`, as the library's own errors are.

/** What an error answer of the server becomes: the router's code and message. */
export class RemoteError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   * @param {number} status
   */
  constructor(code, message, status) {
    super(message);
    this.name = "ExecutionError";
    this.code = code;
    this.status = status;
  }
}

/**
 * A server's base URL as typed (`http://127.0.0.1:8080`, with or without a trailing slash or
 * `/api/v1`): its origin and path without the API prefix, or a TypeError saying what is wrong.
 * @param {string} text
 * @returns {string}
 */
export function serverBase(text) {
  let url;
  try {
    url = new URL(text.trim());
  } catch {
    throw new TypeError(`"${text}" is not a URL: type the server's address, e.g. http://127.0.0.1:8080`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(`the server's address must start with http:// or https://, got ${url.protocol}`);
  }
  const path = url.pathname.replace(/\/+$/, "").replace(/\/api\/v1$/, "");
  return `${url.origin}${path}`;
}

export class RemoteExecutions {
  /** @param {string} base  from `serverBase` */
  constructor(base) {
    this.base = base;
    this.api = `${base}/api/v1`;
  }

  /**
   * One request; resolves with the parsed JSON body (null for none), rejects with a
   * RemoteError for an error answer.
   * @param {string} method
   * @param {string} path  under /api/v1
   * @param {unknown} [body]
   */
  async call(method, path, body) {
    const init = { method, headers: /** @type {Record<string, string>} */ ({}) };
    if (method === "POST") {
      init.headers["content-type"] = "application/json"; // also without a body: the server asks for it
      if (body !== undefined) init.body = JSON.stringify(body);
    }
    const response = await fetch(`${this.api}${path}`, init);
    const text = await response.text();
    let data = null;
    try {
      data = text === "" ? null : JSON.parse(text);
    } catch {
      throw new RemoteError("INTERNAL", `the server answered ${response.status} with a body that is not JSON`, 0);
    }
    if (!response.ok) {
      const error = data?.error;
      throw new RemoteError(
        typeof error?.code === "string" ? error.code : `HTTP_${response.status}`,
        typeof error?.message === "string" ? error.message : `the server answered ${response.status}`,
        response.status,
      );
    }
    return data;
  }

  /**
   * A page of executions, as `list()` would give it.
   * @param {{ status?: string, type?: string, pageSize?: number, cursor?: string }} q
   */
  list(q) {
    const params = new URLSearchParams();
    if (q.status) params.set("status", q.status);
    if (q.type) params.set("type", q.type);
    if (q.pageSize !== undefined) params.set("page_size", String(q.pageSize));
    if (q.cursor !== undefined) params.set("cursor", q.cursor);
    return this.call("GET", `/executions?${params}`);
  }

  counts() {
    return this.call("GET", "/counts");
  }

  /** @param {object} request  a `create` request */
  create(request) {
    return this.call("POST", "/executions", request);
  }

  /**
   * @param {string} id
   * @param {string} [reason]
   */
  cancel(id, reason) {
    return this.call("POST", `/executions/${encodeURIComponent(id)}/cancel`, reason === undefined ? {} : { reason });
  }

  /**
   * Removes every finished execution (DELETE each, a few at a time), as `clear()` does; resolves
   * with how many went.
   */
  async clear() {
    let removed = 0;
    for (let round = 0; round < 100; round++) {
      const page = await this.list({ status: "completed,failed,cancelled", pageSize: 500 });
      if (page.items.length === 0) break;
      const ids = page.items.map((/** @type {{ id: string }} */ e) => e.id);
      for (let i = 0; i < ids.length; i += 8) {
        const results = await Promise.allSettled(
          ids.slice(i, i + 8).map((id) => this.call("DELETE", `/executions/${encodeURIComponent(id)}`)),
        );
        for (const r of results) {
          if (r.status === "fulfilled") removed++;
          else if (r.reason?.status !== 404) throw r.reason; // gone meanwhile: someone else removed it
        }
      }
    }
    return removed;
  }

  /**
   * Follows every change with one EventSource on `/api/v1/events` (progress at most every
   * `throttleMs` per execution). `onState` gets "open", "reconnecting" or "closed" (the server
   * refused the stream: the EventSource gives up). Returns a function that closes it.
   * @param {{ onEvent: (type: string, execution: any) => void, onState: (state: string) => void, throttleMs?: number }} handlers
   */
  follow({ onEvent, onState, throttleMs = 250 }) {
    const source = new EventSource(`${this.api}/events?throttle_ms=${throttleMs}`);
    for (const type of ["created", "status", "progress", "removed"]) {
      source.addEventListener(type, (event) => onEvent(type, JSON.parse(/** @type {MessageEvent} */ (event).data)));
    }
    source.onopen = () => onState("open");
    source.onerror = () => onState(source.readyState === EventSource.CLOSED ? "closed" : "reconnecting");
    return () => source.close();
  }
}
