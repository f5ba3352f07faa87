// `npx execman serve` (js/cli.mjs, the package's bin) started as a child process of the installed
// package: it serves the routes with the targets of --targets modules (ES modules with named
// handlers, CommonJS with a setup function or named handlers), applies --token (or
// EXECMAN_TOKEN), --cors-origin and --allowed-host, prints --help and --version, refuses a bad
// command line with exit code 2 and a targets module that fails (to load, to set up, to export
// anything usable, to register) with exit code 1, and stops cleanly on SIGTERM and SIGINT (exit
// 0, the port closed). Every answer of the served routes is judged against the OpenAPI document.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { after, before, describe } from "node:test";
import { ExecutionManager } from "execman";
import { test } from "./helpers.mjs";
import { conformance, documentOf } from "./openapi-schemas.mjs";

const require = createRequire(import.meta.url);
const PACKAGE = require("execman/package.json");
const PACKAGE_DIR = path.dirname(require.resolve("execman/package.json"));
const BIN = path.join(PACKAGE_DIR, PACKAGE.bin.execman);
/** The link npm made for the bin, as `npx execman` runs it. */
const LINK = path.resolve("node_modules/.bin/execman");
const judge = conformance(documentOf(new ExecutionManager()));

/** Target modules, written to a temporary folder (the current directory of every child). */
const FIXTURES = {
  "named.mjs": `
    export async function double(inputs, ctx) {
      ctx.progress(1, 2, "half way");
      return { doubled: inputs.n * 2 };
    }
    export const notAHandler = 42;`,
  "setup.cjs": `
    module.exports = (manager) => {
      manager.register("greet", async (inputs) => "hello " + inputs.name, { type: "greeting" });
    };`,
  "named.cjs": `module.exports = { shout: async (inputs) => String(inputs.text).toUpperCase() };`,
  "syntax.mjs": "export function (",
  "throws.mjs": `throw new Error("no configuration file here");`,
  "setup-throws.mjs": `export default () => { throw new RangeError("the setup broke"); };`,
  "nothing.mjs": "export const answer = 42;",
  "missing-import.mjs": `import "no-such-package-for-execman-tests"; export const f = () => 1;`,
  "also-double.mjs": "export const double = async () => 0;",
};
let dir = "";

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "execman-cli-"));
  for (const [name, text] of Object.entries(FIXTURES)) fs.writeFileSync(path.join(dir, name), text);
});
after(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/**
 * Runs the CLI to its end.
 * @param {string[]} args
 * @param {{ env?: Record<string, string>, bin?: string }} [options]
 * @returns {Promise<{ code: number | null, signal: string | null, stdout: string, stderr: string }>}
 */
function run(args, { env = {}, bin = BIN } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: dir, env: { ...process.env, ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/**
 * Starts `execman serve …` and waits until it listens.
 * @param {string[]} args
 * @param {Record<string, string>} [env]
 */
function start(args, env = {}) {
  const child = spawn(process.execPath, [BIN, "serve", "--port", "0", ...args], {
    cwd: dir,
    env: { ...process.env, ...env },
  });
  let stdout = "";
  let stderr = "";
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  /** @type {Promise<{ code: number | null, signal: string | null }>} */
  const exited = new Promise((resolve) => child.on("close", (code, signal) => resolve({ code, signal })));
  /** @type {Promise<string>} */
  const listening = new Promise((resolve, reject) => {
    child.stdout.on("data", (d) => {
      stdout += d;
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout);
      if (m?.[1]) resolve(m[1]);
    });
    exited.then(({ code }) => reject(new Error(`exited ${code} before listening: ${stderr}`)));
  });
  return {
    child,
    listening,
    exited,
    output: () => ({ stdout, stderr }),
    /** @param {NodeJS.Signals} signal */
    async stop(signal = "SIGTERM") {
      child.kill(signal);
      return exited;
    },
  };
}

/**
 * A request to a served CLI, judged against the document.
 * @param {string} url
 * @param {string} method
 * @param {string} p
 * @param {unknown} [body]
 * @param {Record<string, string>} [headers]
 */
async function call(url, method, p, body, headers = {}) {
  const response = await fetch(`${url}${p}`, {
    method,
    headers: { "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const reply = {
    status: response.status,
    body: text === "" ? null : JSON.parse(text),
    headers: Object.fromEntries(response.headers),
    contentType: response.headers.get("content-type"),
  };
  if (reply.status !== 401) judge.check({ method, path: p, ...reply });
  return reply;
}

/** Polls an execution until it is terminal. */
async function settled(url, id) {
  for (;;) {
    const r = await call(url, "GET", `/api/v1/executions/${encodeURIComponent(id)}`);
    if (["completed", "failed", "cancelled"].includes(r.body.status)) return r.body;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Whether something accepts connections on the port. */
function accepts(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

describe("help, version and bad command lines", () => {
  test("--help lists every option and exits 0", async () => {
    for (const args of [["--help"], ["serve", "--help"], ["-h"]]) {
      const r = await run(args);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, "");
      assert.match(r.stdout, /^Usage: execman serve \[options\]/);
      for (const flag of ["--port", "--host", "--targets", "--token", "--cors-origin", "--allowed-host", "--help"]) {
        assert.ok(r.stdout.includes(flag), `${args.join(" ")}: ${flag}`);
      }
      assert.match(r.stdout, /EXECMAN_TOKEN/);
      assert.match(r.stdout, /SIGTERM/);
    }
  });

  test("--version prints the package's version, also through the bin link npx runs", async () => {
    const r = await run(["--version"]);
    assert.equal(r.code, 0);
    assert.equal(r.stdout.trim(), PACKAGE.version);
    const viaLink = await run(["--version"], { bin: LINK });
    assert.equal(viaLink.stdout.trim(), PACKAGE.version);
  });

  test("a bad command line is refused with exit code 2 and says why", async () => {
    const cases = [
      [[], /missing command/],
      [["frobnicate"], /unknown command "frobnicate"/],
      [["serve", "--bogus"], /Unknown option '--bogus'/],
      [["serve", "--store", ""], /--store must name a file/],
      [["serve", "--port"], /--port/],
      [["serve", "--port", "http"], /--port must be a whole number from 0 to 65535, got "http"/],
      [["serve", "--port", "65536"], /--port must be a whole number/],
      [["serve", "--port", "8.5"], /--port must be a whole number/],
      [["serve", "extra"], /unexpected argument "extra"/],
      [["serve", "--cors-origin", "not an origin"], /cors\.origin "not an origin" is not an origin/],
      [["serve", "--token", ""], /--token must not be empty/],
      [["serve", "--allowed-host", "bad host!"], /is not a host name/],
    ];
    for (const [args, message] of cases) {
      const r = await run(/** @type {string[]} */ (args));
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, /^execman: /);
      assert.match(r.stderr, message, args.join(" "));
      assert.match(r.stderr, /execman serve --help/);
      assert.equal(r.stdout, "", "nothing was served");
    }
  });
});

describe("targets modules that fail", () => {
  test("each is refused with exit code 1 naming the module and the cause, before listening", async () => {
    const cases = [
      ["./no-such-file.mjs", /no such file/],
      ["./syntax.mjs", /the module failed to load: SyntaxError/],
      ["./throws.mjs", /failed to load: Error: no configuration file here/],
      ["./missing-import.mjs", /failed to load: .*no-such-package-for-execman-tests/],
      ["./setup-throws.mjs", /its default export threw: RangeError: the setup broke/],
      ["./nothing.mjs", /exports no function/],
    ];
    for (const [spec, message] of cases) {
      const r = await run(["serve", "--port", "0", "--targets", /** @type {string} */ (spec)]);
      assert.equal(r.code, 1, `${spec}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`^execman: --targets ${String(spec).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
      assert.match(r.stderr, /** @type {RegExp} */ (message), String(spec));
      assert.doesNotMatch(r.stdout, /listening/);
    }
  });

  test("two modules with the same target: exit 1, could not register", async () => {
    const r = await run(["serve", "--port", "0", "--targets", "./named.mjs", "--targets", "./also-double.mjs"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /could not register "double": ExecutionError: .*double/);
  });

  test("a port already taken: exit 1", async () => {
    const blocker = net.createServer();
    await new Promise((resolve) => blocker.listen(0, "127.0.0.1", () => resolve(undefined)));
    const port = /** @type {net.AddressInfo} */ (blocker.address()).port;
    try {
      const r = await run(["serve", "--port", String(port)]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: the address is already in use`));
    } finally {
      blocker.close();
    }
  });
});

describe("serving", () => {
  test(
    "runs the targets of ES and CommonJS modules, tracks work over HTTP, and stops on SIGTERM",
    async () => {
      const server = start(["--targets", "./named.mjs", "--targets", "./setup.cjs", "--targets", "named.cjs"]);
      const url = await server.listening;
      const { stdout } = server.output();
      assert.match(stdout, /targets from \.\/named\.mjs: double\n/);
      assert.match(stdout, /targets from \.\/setup\.cjs \(registered by its default export\)/);
      assert.match(stdout, /targets from named\.cjs: shout\n/);

      const created = await call(url, "POST", "/api/v1/executions", {
        targetId: "double",
        id: "d 1",
        inputs: { n: 4 },
      });
      assert.equal(created.status, 201);
      assert.equal(created.headers.location, "/api/v1/executions/d%201");
      assert.deepEqual((await settled(url, "d 1")).result, { doubled: 8 });
      await call(url, "POST", "/api/v1/executions", { targetId: "greet", id: "g", inputs: { name: "Ada" } });
      const greeted = await settled(url, "g");
      assert.equal(greeted.result, "hello Ada");
      assert.equal(greeted.type, "greeting");
      await call(url, "POST", "/api/v1/executions", { targetId: "shout", id: "s", inputs: { text: "hi" } });
      assert.equal((await settled(url, "s")).result, "HI");
      const unknown = await call(url, "POST", "/api/v1/executions", { targetId: "notAHandler" });
      assert.equal(unknown.status, 404);

      // A remote worker's execution.
      await call(url, "POST", "/api/v1/executions", { targetId: "render", id: "r", tracked: true });
      await call(url, "POST", "/api/v1/executions/r/start");
      assert.equal((await call(url, "POST", "/api/v1/executions/r/progress", { current: 1, total: 2 })).status, 204);
      assert.equal(
        (await call(url, "POST", "/api/v1/executions/r/complete", { result: "ok" })).body.status,
        "completed",
      );
      assert.equal((await call(url, "DELETE", "/api/v1/executions/r")).status, 200);
      const counts = await call(url, "GET", "/api/v1/counts");
      assert.deepEqual(counts.body, { pending: 0, running: 0, completed: 3, failed: 0, cancelled: 0, total: 3 });
      assert.equal((await call(url, "GET", "/api/v1/openapi.json")).body.openapi, "3.1.0");

      const port = Number(new URL(url).port);
      const { code, signal } = await server.stop("SIGTERM");
      assert.equal(signal, null);
      assert.equal(code, 0);
      assert.match(server.output().stdout, /SIGTERM: stopping\nexecman serve: stopped\n$/);
      assert.equal(server.output().stderr, "");
      assert.equal(await accepts(port), false, "the port is closed");
    },
    { timeout: 30_000 },
  );

  test("without --targets it tracks only; SIGINT stops it too, with an idle connection open", async () => {
    const server = start([]);
    const url = await server.listening;
    assert.match(server.output().stdout, /no --targets: it tracks work that runs elsewhere/);
    // A keep-alive connection left open (undici keeps one after this request).
    const r = await call(url, "POST", "/api/v1/executions", { targetId: "x", tracked: true });
    assert.equal(r.status, 201);
    const { code } = await server.stop("SIGINT");
    assert.equal(code, 0);
    assert.match(server.output().stdout, /SIGINT: stopping/);
  });

  test("--store keeps the executions across a restart; a second server on the same file exits 1", async () => {
    const first = start(["--store", "jobs.store"]);
    const url = await first.listening;
    assert.match(first.output().stdout, /store jobs\.store: 0 executions restored/);
    const created = await call(url, "POST", "/api/v1/executions", { targetId: "remote", id: "kept", tracked: true });
    assert.equal(created.status, 201);
    assert.equal((await call(url, "POST", "/api/v1/executions/kept/start")).status, 200);
    // The file is in use: another server refuses to start.
    const second = await run(["serve", "--port", "0", "--store", "jobs.store"]);
    assert.equal(second.code, 1);
    assert.match(second.stderr, /--store jobs\.store: ExecutionError: .*in use/);
    assert.equal((await first.stop()).code, 0);
    const again = start(["--store", "jobs.store"]);
    const url2 = await again.listening;
    assert.match(again.output().stdout, /store jobs\.store: 1 execution restored/);
    const kept = await call(url2, "GET", "/api/v1/executions/kept");
    assert.equal(kept.body.status, "running");
    assert.equal((await again.stop()).code, 0);
    const bad = await run(["serve", "--store", ""]);
    assert.equal(bad.code, 2);
    fs.rmSync(path.join(dir, "jobs.store"), { force: true });
  });

  test("--token and EXECMAN_TOKEN require the bearer token", async () => {
    for (const [args, env] of [
      [["--token", "s3cret"], {}],
      [[], { EXECMAN_TOKEN: "s3cret" }],
    ]) {
      const server = start(/** @type {string[]} */ (args), /** @type {Record<string, string>} */ (env));
      const url = await server.listening;
      const refused = await call(url, "GET", "/api/v1/counts");
      assert.equal(refused.status, 401);
      assert.equal(refused.body.error.code, "UNAUTHORIZED");
      const allowed = await call(url, "GET", "/api/v1/counts", undefined, { authorization: "Bearer s3cret" });
      assert.equal(allowed.status, 200);
      assert.equal((await server.stop()).code, 0);
    }
  });

  test("--cors-origin answers that origin's preflight; --allowed-host adds a Host name", async () => {
    const server = start(["--cors-origin", "http://localhost:5173", "--allowed-host", "jobs.internal"]);
    const url = await server.listening;
    const preflight = await fetch(`${url}/api/v1/executions`, {
      method: "OPTIONS",
      headers: { origin: "http://localhost:5173", "access-control-request-method": "POST" },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get("access-control-allow-origin"), "http://localhost:5173");
    const other = await fetch(`${url}/api/v1/counts`, { headers: { origin: "http://elsewhere.test" } });
    assert.equal(other.headers.get("access-control-allow-origin"), null);

    const port = new URL(url).port;
    const withHost = (/** @type {string} */ host) =>
      new Promise((resolve, reject) => {
        const socket = net.connect({ host: "127.0.0.1", port: Number(port) }, () =>
          socket.end(`GET /api/v1/counts HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`),
        );
        let text = "";
        socket.on("data", (d) => {
          text += d;
        });
        socket.on("end", () => resolve(Number(text.split(" ")[1])));
        socket.on("error", reject);
      });
    assert.equal(await withHost(`jobs.internal:${port}`), 200);
    assert.equal(await withHost("attacker.test"), 421);
    assert.equal((await server.stop()).code, 0);
  });
});
