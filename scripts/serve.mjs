#!/usr/bin/env node
// A small static server for the browser demo: www/ at "/" and the built package at "/pkg/".
//
//   node scripts/serve.mjs [--port N]      (default 8080; 0 picks a free port)
//   npm run demo -- --web [--port N]       (builds pkg/ first, then serves)
//
// It listens on 127.0.0.1 only, answers GET and HEAD, sends `application/wasm` for .wasm (so
// `WebAssembly.instantiateStreaming` works) and `Cache-Control: no-store` (pkg/ is rebuilt often).
// There is no server-side code: the dashboard is plain files. Built on node:http, no dependencies.
//
// As a module (the browser tests use it):
//   import { startServer } from "./serve.mjs";
//   const { url, close } = await startServer({ port: 0 });   // url: "http://127.0.0.1:PORT/"
//   ...
//   await close();

import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const WWW = path.join(ROOT, "www");
const PKG = path.join(ROOT, "pkg");

const MIME = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".wasm": "application/wasm",
  ".ts": "text/plain; charset=utf-8", // the .d.ts files, readable in the browser
  ".mts": "text/plain; charset=utf-8",
  ".md": "text/plain; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
};

/**
 * Maps a URL path to a file: "/pkg/..." → pkg/..., anything else → www/... ("/" → www/index.html).
 * Returns null for a path that leaves its folder (after decoding) or cannot be decoded.
 */
function resolveFile(urlPath) {
  let decoded;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes("\0")) return null;
  const [base, rest] = decoded === "/pkg" || decoded.startsWith("/pkg/") ? [PKG, decoded.slice(4)] : [WWW, decoded];
  const file = path.join(base, path.normalize(`/${rest}`)); // normalize under "/" first: no way above base
  if (file !== base && !file.startsWith(base + path.sep)) return null;
  return file;
}

function send(res, status, body, headers = {}) {
  res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store", ...headers });
  res.end(res.req.method === "HEAD" ? undefined : body);
}

function onRequest(req, res) {
  if (req.method !== "GET" && req.method !== "HEAD") {
    send(res, 405, "method not allowed\n", { Allow: "GET, HEAD" });
    return;
  }
  const { pathname } = new URL(req.url ?? "/", "http://127.0.0.1");
  let file = resolveFile(pathname);
  if (file === null) {
    send(res, 400, "bad path\n");
    return;
  }
  fs.stat(file, (err, stat) => {
    if (!err && stat.isDirectory()) {
      if (!pathname.endsWith("/")) {
        send(res, 301, "", { Location: `${pathname}/` });
        return;
      }
      file = path.join(file, "index.html");
      stat = fs.existsSync(file) ? fs.statSync(file) : null;
    }
    if (err || !stat || !stat.isFile()) {
      const hint = pathname.startsWith("/pkg/") ? " (is pkg/ built? run `node scripts/build.mjs`)" : "";
      send(res, 404, `not found: ${pathname}${hint}\n`);
      return;
    }
    res.writeHead(200, {
      "Content-Type": MIME[path.extname(file).toLowerCase()] ?? "application/octet-stream",
      "Content-Length": stat.size,
      "Cache-Control": "no-store",
      "X-Content-Type-Options": "nosniff",
    });
    if (req.method === "HEAD") {
      res.end();
      return;
    }
    fs.createReadStream(file)
      .on("error", () => res.destroy())
      .pipe(res);
  });
}

/**
 * Starts the server on 127.0.0.1.
 * @param {{ port?: number, host?: string }} [options] port 0 (the default) picks a free port.
 * @returns {Promise<{ url: string, port: number, server: http.Server, close: () => Promise<void> }>}
 */
export function startServer({ port = 0, host = "127.0.0.1" } = {}) {
  const server = http.createServer(onRequest);
  // Keep-alive sockets would make close() wait for idle browser connections.
  server.keepAliveTimeout = 1000;
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      const { port: actual } = /** @type {import("node:net").AddressInfo} */ (server.address());
      resolve({
        url: `http://${host}:${actual}/`,
        port: actual,
        server,
        close: () =>
          new Promise((done) => {
            server.close(() => done());
            server.closeAllConnections?.();
          }),
      });
    });
  });
}

/** "--port N" / "--port=N" from argv, else `fallback`. Throws on a malformed value. */
export function portFromArgs(argv, fallback = 8080) {
  const i = argv.findIndex((a) => a === "--port" || a.startsWith("--port="));
  if (i === -1) return fallback;
  const raw = argv[i].includes("=") ? argv[i].slice("--port=".length) : argv[i + 1];
  const port = Number(raw);
  if (raw === undefined || raw === "" || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--port expects an integer 0..65535, got ${JSON.stringify(raw ?? null)}`);
  }
  return port;
}

/**
 * The command line: serve until Ctrl-C, printing the URLs. Resolves once the server is closed.
 * Used by `node scripts/serve.mjs` and by `npm run demo -- --web`.
 */
export async function serveCli(argv = process.argv.slice(2), { defaultPort = 8080 } = {}) {
  const port = portFromArgs(argv, defaultPort);
  if (!fs.existsSync(path.join(PKG, "web", "execman.js"))) {
    console.warn("serve: pkg/web/execman.js is missing; build it with `node scripts/build.mjs` (or `npm run build`).");
  }
  let handle;
  try {
    handle = await startServer({ port });
  } catch (err) {
    if (err?.code === "EADDRINUSE")
      throw new Error(`port ${port} is already in use; pass --port N (or --port 0 for any free port)`);
    throw err;
  }
  console.log(`\nexecman dashboard:      ${handle.url}`);
  console.log(`Web Worker example:     ${handle.url}worker.html`);
  console.log(`\nServing www/ and pkg/ on 127.0.0.1. Press Ctrl-C to stop.`);
  await new Promise((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      handle.close().then(resolve);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  console.log("\nserver stopped");
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  serveCli().catch((err) => {
    console.error(`serve: ${err.message}`);
    process.exit(1);
  });
}
