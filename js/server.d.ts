import type { IncomingMessage, Server, ServerResponse } from "node:http";

/** What `serve` and `createListener` need of a manager: its REST entry points. */
export interface RestHost {
  fetch(request: Request): Promise<Response>;
  handle(request: { method: string; path: string; query?: string }): {
    status: number;
    body: unknown;
    headers?: Record<string, string>;
  };
}

/**
 * Decides whether a request may reach the routes, after the Host and `token` checks and before
 * its body is read (do not read it here). Only `true` (or a promise of `true`) lets it through;
 * anything else answers 401 `UNAUTHORIZED`. A throw or a rejection answers 500 `INTERNAL` (the
 * error is reported with `console.error`): the request is refused either way.
 * @example
 * const authorize = (req) => req.socket.remoteAddress === "127.0.0.1";
 */
export type Authorize = (request: IncomingMessage) => boolean | Promise<boolean>;

/** CORS for pages of other origins. Without it, no response carries a CORS header. */
export interface CorsOptions {
  /**
   * The origin (e.g. "http://localhost:3000") or origins whose pages may call the server.
   * Compared exactly with the request's `Origin`; "*" and opaque origins are refused.
   */
  origin: string | readonly string[];
  /** `Access-Control-Max-Age` of preflight answers, in seconds; default 600. */
  maxAge?: number;
}

/** Bounds on what requests in progress may hold. Every field is optional. */
export interface ServerLimits {
  /** One request body at most this many bytes, else 413 `PAYLOAD_TOO_LARGE`; default 1 MiB. */
  maxBodyBytes?: number;
  /**
   * All bodies being received at once at most this many bytes (counted as bytes arrive, and a
   * declared Content-Length is checked up front), else 503 `RESOURCE_EXHAUSTED`; default 64 MiB.
   */
  maxInFlightBytes?: number;
  /** Milliseconds for a request's headers to arrive, else 408 and the socket closes; default 10 000. `serve()` only. */
  headersTimeout?: number;
  /**
   * Milliseconds for a whole request (headers and body) to arrive, else 408 and the socket
   * closes; default 30 000; not shorter than `headersTimeout`. A response (an event stream) may
   * last longer. `serve()` only.
   */
  requestTimeout?: number;
}

/** The checks both `serve` and `createListener` make. */
export interface ListenerOptions {
  /**
   * The address or name the server listens on; default "127.0.0.1". A name given here is also
   * accepted in the Host header.
   */
  host?: string;
  /** Requests must carry `Authorization: Bearer <token>`, else 401 `UNAUTHORIZED`. */
  token?: string;
  /** A further check of each request (see `Authorize`). */
  authorize?: Authorize;
  /** No CORS headers without it. */
  cors?: CorsOptions;
  /**
   * Host names (with or without a port; ".example.com" for that name and every name under it)
   * the Host header may name, besides the address the connection arrived on (the loopback names
   * "localhost", "127.0.0.1", "[::1]", any port, when that is a loopback address). Anything else
   * is 421 `MISDIRECTED_REQUEST`. `true` accepts every Host (behind a proxy that checks it).
   */
  allowedHosts?: readonly string[] | true;
  limits?: ServerLimits;
  /** @deprecated Use `limits.maxBodyBytes`. */
  maxBodyBytes?: number;
}

export interface ServeOptions extends ListenerOptions {
  /** Default 0: an ephemeral port. */
  port?: number;
}

/** `serve`'s single-argument form. */
export interface ServeConfig extends ServeOptions {
  manager: RestHost;
}

/** What `serve` resolves with once the server is listening. */
export interface Served {
  /** e.g. "http://127.0.0.1:41234" */
  url: string;
  port: number;
  /** The started node:http server. */
  server: Server;
  /** Stops listening and closes open connections. */
  close(): Promise<void>;
}

/** A node:http request listener. */
export type Listener = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/**
 * Serves the manager's REST routes over node:http, with the Host, authentication, media type
 * and size checks and the timeouts. Rejects with a TypeError for invalid options.
 * @example
 * const { url, close } = await serve({ manager, port: 8080, token: process.env.EXECMAN_TOKEN });
 */
export function serve(options: ServeConfig): Promise<Served>;
export function serve(manager: RestHost, options?: ServeOptions): Promise<Served>;

/**
 * A `(req, res)` listener answering with the manager's REST routes and the checks of `serve`, for
 * your own server (whose `headersTimeout` and `requestTimeout` are yours to set). Throws a
 * TypeError for invalid options.
 */
export function createListener(options: ListenerOptions & { manager: RestHost }): Listener;
export function createListener(manager: RestHost, options?: ListenerOptions): Listener;
