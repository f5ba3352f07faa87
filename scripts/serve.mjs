#!/usr/bin/env node
// A small static server for the browser demo: www/ at "/" and the built package at "/pkg/".
//
//   node scripts/serve.mjs [--port N]      (default 8080; 0 picks a free port)
//   npm run demo -- --web [--port N]       (builds pkg/ first, then serves)
//
// It listens on 127.0.0.1 only, answers GET and HEAD, sends `application/wasm` for .wasm (so
// `WebAssembly.instantiateStreaming` works) and `Cache-Control: no-store` (pkg/ is rebuilt often).
// It serves only what really lies in www/ or pkg/: a path with "..", "%2e%2e", a NUL byte or a
// backslash is refused (400), and a symlink whose target (fs.realpath) is outside the real folder
// is not found (404), as is a directory whose index.html is such a symlink.
// There is no server-side code: the dashboard is plain files. Built on node:http, no dependencies.
//
// As a module (the browser tests use it):
//   import { startServer } from "./serve.mjs";
//   const { url, close } = await startServer({ port: 0 });   // url: "http://127.0.0.1:PORT/"
//   ...
//   await close();
// `startServer({ roots: { www, pkg } })` serves other folders (tests/js/static-server.test.mjs
// serves temporary ones holding symlinks).

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
 * Maps a URL path to a file, lexically: "/pkg/..." → pkg/..., anything else → www/...
 * ("/" → www/). Returns null for a path that cannot be decoded or holds a NUL byte, a backslash
 * or a ".." segment (after decoding: "%2e%2e" and "..%2f" are refused too).
 * @param {string} urlPath
 * @param {{ www: string, pkg: string }} roots
 * @returns {{ base: string, file: string } | null}
 */
function resolveFile(urlPath, roots) {
  let decoded;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes("\0") || decoded.includes("\\") || decoded.split("/").includes("..")) return null;
  const [base, rest] =
    decoded === "/pkg" || decoded.startsWith("/pkg/") ? [roots.pkg, decoded.slice(4)] : [roots.www, decoded];
  const file = path.join(base, path.normalize(`/${rest}`)); // normalize under "/" first: no way above base
  if (file !== base && !file.startsWith(base + path.sep)) return null;
  return { base, file };
}

/**
 * The real path of `file` (symlinks resolved) if it is `realBase` or inside it, else null (also
 * when it does not exist). A symlink in www/ or pkg/ that points out of its folder is not served.
 * @param {string} file
 * @param {string} realBase
 * @returns {Promise<string | null>}
 */
async function realInside(file, realBase) {
  let real;
  try {
    real = await fs.promises.realpath(file);
  } catch {
    return null;
  }
  return real === realBase || real.startsWith(realBase + path.sep) ? real : null;
}

/**
 * The file to send for a lexically resolved path: its real path, inside the real base folder
 * (a directory gives its index.html, checked the same way), the name its type is read from, and
 * its stats; `redirect` for a directory asked without its trailing slash; or null (404).
 * @param {{ base: string, file: string }} resolved
 * @param {string} pathname
 * @returns {Promise<{ real: string, name: string, stat: fs.Stats } | { redirect: true } | null>}
 */
async function locate({ base, file }, pathname) {
  let realBase;
  try {
    realBase = await fs.promises.realpath(base);
  } catch {
    return null; // pkg/ not built yet
  }
  let name = file;
  let real = await realInside(name, realBase);
  if (real === null) return null;
  let stat = await fs.promises.stat(real);
  if (stat.isDirectory()) {
    if (!pathname.endsWith("/")) return { redirect: true };
    name = path.join(real, "index.html");
    real = await realInside(name, realBase);
    if (real === null) return null;
    stat = await fs.promises.stat(real);
  }
  return stat.isFile() ? { real, name, stat } : null;
}

function send(res, status, body, headers = {}) {
  res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store", ...headers });
  res.end(res.req.method === "HEAD" ? undefined : body);
}

/** The request listener over `roots`. */
function listener(roots) {
  return (req, res) => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      send(res, 405, "method not allowed\n", { Allow: "GET, HEAD" });
      return;
    }
    // The path as sent, before any normalization (new URL() would remove ".." segments and
    // read "//host/…" as a host), so that resolveFile sees and refuses them.
    const pathname = (req.url ?? "").split(/[?#]/, 1)[0];
    const resolved = pathname.startsWith("/") ? resolveFile(pathname, roots) : null;
    if (resolved === null) {
      send(res, 400, "bad path\n");
      return;
    }
    locate(resolved, pathname)
      .catch(() => null)
      .then((found) => {
        if (found !== null && "redirect" in found) {
          // One leading slash: "//name" would be read as another host.
          send(res, 301, "", { Location: `/${pathname.replace(/^\/+/, "")}/` });
          return;
        }
        if (found === null) {
          const hint = pathname.startsWith("/pkg/") ? " (is pkg/ built? run `node scripts/build.mjs`)" : "";
          send(res, 404, `not found: ${pathname}${hint}\n`);
          return;
        }
        const { real, name, stat } = found;
        res.writeHead(200, {
          "Content-Type": MIME[path.extname(name).toLowerCase()] ?? "application/octet-stream",
          "Content-Length": stat.size,
          "Cache-Control": "no-store",
          "X-Content-Type-Options": "nosniff",
        });
        if (req.method === "HEAD") {
          res.end();
          return;
        }
        fs.createReadStream(real)
          .on("error", () => res.destroy())
          .pipe(res);
      })
      .catch(() => res.destroy());
  };
}

/**
 * Starts the server on 127.0.0.1.
 * @param {{ port?: number, host?: string, roots?: { www?: string, pkg?: string } }} [options]
 *   port 0 (the default) picks a free port; `roots` replaces the folders served at "/" (www/)
 *   and "/pkg/" (pkg/), e.g. temporary ones in a test.
 * @returns {Promise<{ url: string, port: number, server: http.Server, close: () => Promise<void> }>}
 */
export function startServer({ port = 0, host = "127.0.0.1", roots = {} } = {}) {
  const server = http.createServer(
    listener({ www: path.resolve(roots.www ?? WWW), pkg: path.resolve(roots.pkg ?? PKG) }),
  );
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

/**
 * "--port N" / "--port=N" (or another `flag`, e.g. "--web-port") from argv, else `fallback`.
 * Throws on a malformed value.
 */
export function portFromArgs(argv, fallback = 8080, flag = "--port") {
  const i = argv.findIndex((a) => a === flag || a.startsWith(`${flag}=`));
  if (i === -1) return fallback;
  const raw = argv[i].includes("=") ? argv[i].slice(flag.length + 1) : argv[i + 1];
  const port = Number(raw);
  if (raw === undefined || raw === "" || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`${flag} expects an integer 0..65535, got ${JSON.stringify(raw ?? null)}`);
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
