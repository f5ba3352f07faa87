import type { IncomingMessage, Server, ServerResponse } from "node:http";

/** What `serve` and `createListener` need of a manager: its REST entry points. */
export interface RestHost {
  fetch(request: Request): Promise<Response>;
  handle(request: { method: string; path: string; query?: string }): { status: number; body: unknown };
}

export interface ServeOptions {
  /** Default 0: an ephemeral port. */
  port?: number;
  /** Default "127.0.0.1". */
  host?: string;
  /** Requests with larger bodies get 413; default 10 MiB. */
  maxBodyBytes?: number;
}

export interface Served {
  /** e.g. "http://127.0.0.1:41234" */
  url: string;
  port: number;
  server: Server;
  /** Stops listening and closes open connections. */
  close(): Promise<void>;
}

/** Serves the manager's REST routes over node:http. */
export function serve(manager: RestHost, options?: ServeOptions): Promise<Served>;

/** A `(req, res)` listener answering with the manager's REST routes, for your own server. */
export function createListener(
  manager: RestHost,
  options?: { maxBodyBytes?: number },
): (req: IncomingMessage, res: ServerResponse) => Promise<void>;
