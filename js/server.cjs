"use strict";
// execman/server: serves an ExecutionManager's REST routes (/api/v1/executions…) over node:http.
//
//   const { ExecutionManager } = require("execman");
//   const { serve } = require("execman/server");
//   const { url, close } = await serve(new ExecutionManager(), { port: 8080 });
//
// Each request becomes a standard `Request` and is answered by `manager.fetch()`, so the
// routes, status codes and error bodies are exactly the router's (see API.md, "REST").

const http = require("node:http");

/** @import { IncomingMessage, ServerResponse } from "node:http" */
/** @import { AddressInfo } from "node:net" */
/** @import { RestHost, ServeOptions, Served } from "./server.js" */

const DEFAULT_MAX_BODY = 10 * 1024 * 1024;

/**
 * The JSON body of an error answered here rather than by the router (same shape as the router's).
 * @param {string} code
 * @param {string} message
 */
function errorBody(code, message) {
  return JSON.stringify({ error: { code, message } });
}

/**
 * The message of a thrown value: its `message` when it has a non-empty one, else the value itself.
 * @param {unknown} error
 */
function messageOf(error) {
  const message = /** @type {{ message?: unknown } | null | undefined} */ (error)?.message;
  return String(message ? message : error);
}

/**
 * The whole request body, or null as soon as it exceeds `limit` bytes.
 * @param {IncomingMessage} req
 * @param {number} limit
 * @returns {Promise<Buffer | null>}
 */
async function readBody(req, limit) {
  /** @type {Buffer[]} */
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > limit) return null;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * A `(req, res)` listener for `http.createServer` that answers every request with the
 * manager's REST routes.
 * @param {RestHost} manager
 * @param {{ maxBodyBytes?: number }} [options]
 * @returns {(req: IncomingMessage, res: ServerResponse) => Promise<void>}
 * @example
 * http.createServer(createListener(new ExecutionManager())).listen(8080);
 */
function createListener(manager, { maxBodyBytes = DEFAULT_MAX_BODY } = {}) {
  return async function execmanListener(req, res) {
    try {
      const body = await readBody(req, maxBodyBytes);
      if (body === null) {
        res.writeHead(413, { "content-type": "application/json", connection: "close" });
        res.end(errorBody("INVALID_ARGUMENT", `request body larger than ${maxBodyBytes} bytes`));
        return;
      }
      const method = req.method || "GET";
      const url = new URL(req.url || "/", "http://127.0.0.1");
      let response;
      let request;
      try {
        request = new Request(url, {
          method,
          // Buffer.concat allocates from a plain (never shared) ArrayBuffer, which `BodyInit` asks for.
          body:
            body.length > 0 && method !== "GET" && method !== "HEAD"
              ? /** @type {Uint8Array<ArrayBuffer>} */ (body)
              : undefined,
          headers: { "content-type": req.headers["content-type"] || "application/json" },
        });
      } catch {
        // Methods the Fetch standard forbids (CONNECT, TRACE…): the router still answers.
        request = null;
      }
      if (request) {
        response = await manager.fetch(request);
        const headers = Object.fromEntries(response.headers);
        const payload = Buffer.from(await response.arrayBuffer());
        res.writeHead(response.status, headers);
        res.end(payload.length > 0 ? payload : undefined);
      } else {
        const { status, body: answer } = manager.handle({ method, path: url.pathname, query: url.search });
        const text = answer === null ? undefined : JSON.stringify(answer);
        res.writeHead(status, text === undefined ? {} : { "content-type": "application/json" });
        res.end(text);
      }
    } catch (error) {
      if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
      res.end(errorBody("INTERNAL", messageOf(error)));
    }
  };
}

/**
 * Serves the manager on `host:port` (default 127.0.0.1, an ephemeral port).
 * Resolves with `{ url, port, server, close }`; `close()` stops the server.
 * @param {RestHost} manager
 * @param {ServeOptions} [options]
 * @returns {Promise<Served>}
 * @example
 * const { url, close } = await serve(new ExecutionManager(), { port: 8080 });
 */
function serve(manager, { port = 0, host = "127.0.0.1", maxBodyBytes } = {}) {
  const server = http.createServer(createListener(manager, { maxBodyBytes }));
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      // Listening on a TCP host and port: an AddressInfo, never a pipe name or null.
      const address = /** @type {AddressInfo} */ (server.address());
      const shown = address.family === "IPv6" ? `[${address.address}]` : address.address;
      /** @returns {Promise<void>} */
      const close = () =>
        new Promise((done, fail) => {
          server.close((err) => (err ? fail(err) : done()));
          if (typeof server.closeAllConnections === "function") server.closeAllConnections();
        });
      resolve({ url: `http://${shown}:${address.port}`, port: address.port, server, close });
    });
  });
}

module.exports = { serve, createListener };
