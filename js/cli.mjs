#!/usr/bin/env node
// `npx execman serve`: an ExecutionManager served over HTTP by execman/server, from a shell.
//
//   npx execman serve --port 8080 --targets ./targets.mjs --token "$TOKEN"
//
// The targets module (ES module or CommonJS, a path from the current directory or a package name)
// registers the targets the server runs, in one of two shapes:
//   - a default export that is a function: called as `await setup(manager)` with the server's
//     manager, it registers what it likes (`manager.register(id, handler, { type })`);
//   - otherwise every exported function is a handler, registered under its export name
//     (`export async function upload(inputs, ctx) {…}` is the target "upload"; CommonJS:
//     `module.exports = { upload }`).
// Without --targets the server tracks work that runs elsewhere (POST with "tracked": true) and
// runs nothing itself.
//
// Exit codes: 0 after --help, --version or a clean stop (SIGTERM, SIGINT); 2 for a bad command
// line; 1 when the server cannot start (a targets module that fails to load or to register, a port
// that cannot be bound). This file is the package's `bin`; it loads the package by its own name.

import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

/** @import { Server } from "node:http" */
/** @import { ServeOptions, Served } from "./server.js" */
/** @typedef {import("./types.js").ExecutionManager} Manager */

const NAME = "execman";
/** A grace period for requests in progress at a stop; connections still open then are closed. */
const STOP_GRACE_MS = 5000;

const USAGE = `Usage: execman serve [options]

Serves an execution manager's REST routes (/api/v1/…) over HTTP.

Options:
  --port <n>            port to listen on, 0..65535 (0: any free port)       default 8080
  --host <address>      address or name to listen on                        default 127.0.0.1
  --targets <module>    a module that registers the targets to run (repeatable): a default
                        export (manager) => void, or handler functions exported by name
  --token <token>       require "Authorization: Bearer <token>" on every request
                        (or set EXECMAN_TOKEN, which keeps it out of the process list)
  --cors-origin <url>   let pages of this origin call the server (repeatable)
  --allowed-host <name> also answer requests whose Host header names it (repeatable; the
                        loopback names and the listening address are always answered)
  --store <file>        keep the executions in this file: a restart finds them again (those
                        that were running interrupted or retried); one server per file
  --help                show this help
  --version             show the version

The OpenAPI document of the routes is served at /api/v1/openapi.json.
SIGTERM or SIGINT stops the server: it stops accepting connections, lets requests in
progress finish (at most ${STOP_GRACE_MS / 1000} s), then exits.
`;

/** A problem with the command line (exit 2) or with starting the server (exit 1). */
class CliError extends Error {
  /**
   * @param {string} message
   * @param {number} exitCode
   */
  constructor(message, exitCode) {
    super(message);
    this.exitCode = exitCode;
  }
}

const usageError = (/** @type {string} */ message) =>
  new CliError(`${message}\nRun "execman serve --help" for the options.`, 2);

/**
 * The command line, checked.
 * @param {string[]} argv
 */
function parse(argv) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        port: { type: "string" },
        host: { type: "string" },
        targets: { type: "string", multiple: true },
        token: { type: "string" },
        "cors-origin": { type: "string", multiple: true },
        "allowed-host": { type: "string", multiple: true },
        store: { type: "string" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean" },
      },
    });
  } catch (error) {
    // parseArgs words its errors for positionals at length; the first sentence is the point.
    const message = error instanceof Error ? error.message.split(". To specify")[0] : String(error);
    throw usageError(message ?? "bad command line");
  }
  const { values, positionals } = parsed;
  return { values, positionals };
}

/**
 * `--port`: a whole number 0..65535.
 * @param {string | undefined} text
 */
function port(text) {
  if (text === undefined) return 8080;
  if (!/^[0-9]{1,5}$/.test(text) || Number(text) > 65535) {
    throw usageError(`--port must be a whole number from 0 to 65535, got ${JSON.stringify(text)}`);
  }
  return Number(text);
}

/**
 * The file URL of a targets module: a path from `cwd`, else a package name resolved from `cwd`.
 * @param {string} spec
 * @param {string} cwd
 */
function locate(spec, cwd) {
  const file = path.resolve(cwd, spec);
  if (fs.existsSync(file)) return pathToFileURL(file).href;
  const looksLikePath = spec.startsWith(".") || path.isAbsolute(spec) || /\.[cm]?js$/.test(spec);
  if (!looksLikePath) {
    try {
      return pathToFileURL(createRequire(path.join(cwd, "index.js")).resolve(spec)).href;
    } catch {}
  }
  throw new CliError(`--targets ${spec}: no such file (looked for ${file})`, 1);
}

/**
 * Loads a targets module and registers its targets on `manager`; returns what to print.
 * @param {Manager} manager
 * @param {string} spec
 * @param {string} cwd
 */
async function registerTargets(manager, spec, cwd) {
  const url = locate(spec, cwd);
  /** @type {Record<string, unknown>} */
  let module;
  try {
    module = await import(url);
  } catch (error) {
    throw new CliError(`--targets ${spec}: the module failed to load: ${describe(error)}`, 1);
  }
  const setup = module.default;
  if (typeof setup === "function") {
    try {
      await setup(manager);
    } catch (error) {
      throw new CliError(`--targets ${spec}: its default export threw: ${describe(error)}`, 1);
    }
    return `${spec} (registered by its default export)`;
  }
  // Named exports; a CommonJS module's are the properties of its `module.exports` object.
  const exported =
    setup !== null && typeof setup === "object" ? { ...setup, ...module } : /** @type {object} */ ({ ...module });
  const handlers = Object.entries(exported).filter(
    ([name, value]) => name !== "default" && typeof value === "function",
  );
  if (handlers.length === 0) {
    throw new CliError(
      `--targets ${spec}: the module exports no function: export a default function (manager) => { manager.register(…) }, or handler functions by name`,
      1,
    );
  }
  for (const [name, handler] of handlers) {
    try {
      manager.register(name, handler);
    } catch (error) {
      throw new CliError(`--targets ${spec}: could not register "${name}": ${describe(error)}`, 1);
    }
  }
  return `${spec}: ${handlers.map(([name]) => name).join(", ")}`;
}

/** @param {unknown} error */
function describe(error) {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/**
 * Stops accepting connections, lets requests in progress finish for a while, then closes the
 * rest; resolves once the server is closed.
 * @param {Server} server
 */
function stop(server) {
  return new Promise((resolve) => {
    const force = setTimeout(() => server.closeAllConnections(), STOP_GRACE_MS);
    force.unref();
    server.close(() => {
      clearTimeout(force);
      resolve(undefined);
    });
    server.closeIdleConnections();
  });
}

/**
 * `execman serve …`.
 * @param {ReturnType<typeof parse>["values"]} values
 */
async function serveCommand(values) {
  const token = values.token ?? process.env.EXECMAN_TOKEN;
  if (token === "") throw usageError("--token must not be empty");
  const cwd = process.cwd();
  // The package by its own name (a package may import itself through its `exports`), so this file
  // needs to know nothing of the package's layout.
  const packageName = /** @type {string} */ (NAME);
  /** @type {{ ExecutionManager: typeof import("./types.js").ExecutionManager, fileStore: (path: string) => import("./types.js").Store }} */
  const { ExecutionManager, fileStore } = await import(packageName);
  /** @type {{ serve: (options: ServeOptions & { manager: Manager }) => Promise<Served> }} */
  const { serve } = await import(`${packageName}/server`);

  /** @type {Manager} */
  let manager;
  if (values.store === undefined) {
    manager = new ExecutionManager();
  } else {
    if (values.store === "") throw usageError("--store must name a file");
    const file = path.resolve(cwd, values.store);
    try {
      manager = await ExecutionManager.open({ store: fileStore(file) });
    } catch (error) {
      throw new CliError(`--store ${values.store}: ${describe(error)}`, 1);
    }
  }
  const restored = values.store === undefined ? null : manager.counts().total;
  const loaded = [];
  for (const spec of values.targets ?? []) loaded.push(await registerTargets(manager, spec, cwd));

  const host = values.host ?? "127.0.0.1";
  /** @type {ServeOptions & { manager: Manager }} */
  const options = { manager, port: port(values.port), host };
  if (token !== undefined) options.token = token;
  const origins = values["cors-origin"];
  if (origins !== undefined) options.cors = { origin: origins };
  if (values["allowed-host"] !== undefined) options.allowedHosts = values["allowed-host"];
  let served;
  try {
    served = await serve(options);
  } catch (error) {
    await manager.close().catch(() => {});
    const code = /** @type {{ code?: unknown }} */ (error)?.code;
    if (error instanceof TypeError) throw usageError(error.message.replace(/^execman\/server: /, ""));
    const why = code === "EADDRINUSE" ? "the address is already in use" : describe(error);
    throw new CliError(`cannot listen on ${host}:${options.port}: ${why}`, 1);
  }

  const out = (/** @type {string[]} */ ...lines) =>
    process.stdout.write(lines.map((l) => `execman serve: ${l}\n`).join(""));
  // One write, so that whoever reads the first line has the rest.
  out(
    `listening on ${served.url} (routes under /api/v1/, the OpenAPI document at /api/v1/openapi.json)`,
    ...loaded.map((line) => `targets from ${line}`),
    ...(loaded.length === 0 ? ['no --targets: it tracks work that runs elsewhere (POST with "tracked": true)'] : []),
    ...(restored === null ? [] : [`store ${values.store}: ${restored} execution${restored === 1 ? "" : "s"} restored`]),
  );
  if (token === undefined && !["127.0.0.1", "localhost", "::1"].includes(host)) {
    process.stderr.write(
      `execman serve: warning: listening on ${host} without a token: anyone who can reach this port can create and cancel executions\n`,
    );
  }

  let stopping = false;
  /** @param {NodeJS.Signals} signal */
  const onSignal = async (signal) => {
    if (stopping) {
      served.server.closeAllConnections(); // a second signal: do not wait any longer
      return;
    }
    stopping = true;
    out(`${signal}: stopping`);
    await stop(served.server);
    // A durable manager writes its last changes and releases its store.
    await manager.close().catch((/** @type {unknown} */ error) => out(`the store: ${describe(error)}`));
    out("stopped");
    process.exit(0);
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}

async function main() {
  const { values, positionals } = parse(process.argv.slice(2));
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (values.version) {
    const packageName = /** @type {string} */ (NAME);
    const require = createRequire(import.meta.url);
    process.stdout.write(`${require(`${packageName}/package.json`).version}\n`);
    return;
  }
  const [command, ...rest] = positionals;
  if (command === undefined) throw usageError("missing command: execman serve [options]");
  if (command !== "serve") throw usageError(`unknown command ${JSON.stringify(command)}: the one command is "serve"`);
  if (rest.length > 0) throw usageError(`unexpected argument ${JSON.stringify(rest[0])}`);
  await serveCommand(values);
}

main().catch((error) => {
  if (error instanceof CliError) {
    process.stderr.write(`execman: ${error.message}\n`);
    process.exit(error.exitCode);
  }
  process.stderr.write(`execman: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
