// execman/server's checks and limits over real HTTP on 127.0.0.1 ephemeral ports: media types
// (no "simple" cross-site request reaches the routes), Host (no DNS rebinding), token and
// authorize(), CORS, body limits, timeouts, and memory under 300 stalled bodies (the server in a
// child process, server-child.mjs). The contract: "The Node server (v2)".
import assert from "node:assert/strict";
import { fork } from "node:child_process";
import http from "node:http";
import net from "node:net";
import { createRequire } from "node:module";
import { after, before } from "node:test";
import { fileURLToPath } from "node:url";
import { ExecutionManager } from "execman";
import { createListener, serve } from "execman/server";
import { sleep, test, until } from "./helpers.mjs";

const require = createRequire(import.meta.url);
const CHILD = fileURLToPath(new URL("./server-child.mjs", import.meta.url));
const MiB = 1024 * 1024;
const API = "/api/v1/executions";

/** Servers started by a test, closed after the file (and by the test itself when it can). */
const opened = [];
after(async () => {
  await Promise.all(opened.map((s) => s.close().catch(() => {})));
});

/** A manager with "echo" (returns its inputs) and "gated" (runs until cancelled). */
function newManager() {
  const manager = new ExecutionManager({ concurrency: Infinity });
  manager.register("echo", async (inputs) => inputs);
  manager.register(
    "gated",
    (inputs, ctx) =>
      new Promise((resolve, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason))),
  );
  return manager;
}

async function start(options = {}) {
  const manager = options.manager ?? newManager();
  const served = await serve({ ...options, manager });
  opened.push(served);
  return { manager, served, port: served.port, url: served.url };
}

/**
 * One request over its own connection, with any headers (Host included, which fetch cannot set).
 * Resolves with { status, headers, body } (body parsed when JSON).
 */
function request(port, { method = "GET", path = API, headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, method, path, headers, agent: false }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        const json = (res.headers["content-type"] ?? "").startsWith("application/json") && text !== "";
        resolve({ status: res.statusCode, headers: res.headers, body: json ? JSON.parse(text) : text });
      });
      res.on("error", reject);
    });
    req.setTimeout(5000, () => req.destroy(new Error(`${method} ${path}: no answer within 5 s`)));
    req.on("error", reject);
    req.end(body);
  });
}

const json = (value) => ({ "content-type": "application/json", body: JSON.stringify(value) });

/** POST JSON with the right media type. */
function postJson(port, path, value, headers = {}) {
  const { body, ...type } = json(value);
  return request(port, { method: "POST", path, headers: { ...type, ...headers }, body });
}

function assertError(res, status, code) {
  assert.equal(res.status, status, `status (body: ${JSON.stringify(res.body)})`);
  assert.equal(res.headers["content-type"], "application/json");
  assert.equal(res.body?.error?.code, code, `code (body: ${JSON.stringify(res.body)})`);
  assert.equal(typeof res.body.error.message, "string");
  assert.ok(res.body.error.message.length > 0);
}

/** A running "gated" execution, created through the manager (not over HTTP). */
async function running(manager, id) {
  manager.create({ targetId: "gated", id });
  await until(() => manager.status(id)?.status === "running", `${id} running`);
}

/** Opens a raw connection, writes `text`, and collects what comes back until the socket closes. */
function rawSocket(port, text) {
  const socket = net.connect(port, "127.0.0.1");
  const state = { socket, data: "", closed: false, closedAt: 0, error: null };
  socket.on("data", (d) => {
    state.data += d.toString("latin1");
  });
  socket.on("error", (e) => {
    state.error = e.code;
  });
  socket.on("close", () => {
    state.closed = true;
    state.closedAt = Date.now();
  });
  if (text !== undefined) socket.write(text);
  return state;
}

// ---- media types ---------------------------------------------------------------------------------

let shared;
before(async () => {
  shared = await start();
});

test("POST bodies that are not application/json are refused 415 and change nothing", async () => {
  const { manager, port, url } = shared;
  const before = manager.counts();
  const create = JSON.stringify({ targetId: "echo", id: "smuggled", inputs: {} });
  const refusedTypes = [
    "text/plain",
    "text/plain;charset=UTF-8", // what fetch sends for a string body
    "application/x-www-form-urlencoded",
    "application/jsonp",
    "application/json-patch+json",
    "application/vnd.api+json",
    "json",
  ];
  for (const type of refusedTypes) {
    const res = await request(port, { method: "POST", headers: { "content-type": type }, body: create });
    assertError(res, 415, "UNSUPPORTED_MEDIA_TYPE");
  }
  // No content-type at all, with a body.
  assertError(await request(port, { method: "POST", body: create }), 415, "UNSUPPORTED_MEDIA_TYPE");
  // What a cross-site page would send: fetch's text/plain default, a form, a multipart form.
  const plain = await fetch(`${url}${API}`, { method: "POST", body: create });
  assert.equal(plain.status, 415);
  const form = await fetch(`${url}${API}`, { method: "POST", body: new URLSearchParams({ [create]: "" }) });
  assert.equal(form.status, 415);
  const multipart = new FormData();
  multipart.set("targetId", "echo");
  const multi = await fetch(`${url}${API}`, { method: "POST", body: multipart });
  assert.equal(multi.status, 415);
  assert.equal((await multi.json()).error.code, "UNSUPPORTED_MEDIA_TYPE");
  assert.deepEqual(manager.counts(), before, "nothing was created");
  assert.equal(manager.status("smuggled"), undefined);

  // application/json with any case and parameters is accepted.
  for (const [i, type] of [
    "application/json",
    "Application/JSON; charset=UTF-8",
    "application/json;charset=utf-8 ",
  ].entries()) {
    const body = JSON.stringify({ targetId: "echo", id: `typed-${i}` });
    const res = await request(port, { method: "POST", headers: { "content-type": type }, body });
    assert.equal(res.status, 201, `${type}: ${JSON.stringify(res.body)}`);
  }
});

test("every POST needs application/json, even without a body: a bodiless cancel without it is refused", async () => {
  const { manager, port, url } = shared;
  await running(manager, "keep-running");
  const path = `${API}/keep-running/cancel`;
  assertError(await request(port, { method: "POST", path }), 415, "UNSUPPORTED_MEDIA_TYPE");
  assertError(
    await request(port, { method: "POST", path, headers: { "content-length": "0" } }),
    415,
    "UNSUPPORTED_MEDIA_TYPE",
  );
  // What `fetch(url, { method: "POST", mode: "no-cors" })` sends from a page: no body, no type.
  const bare = await fetch(`${url}${path}`, { method: "POST" });
  assert.equal(bare.status, 415);
  assertError(
    await request(port, { method: "POST", path, headers: { "content-type": "text/plain" } }),
    415,
    "UNSUPPORTED_MEDIA_TYPE",
  );
  // A DELETE with a body that is not JSON too (one without a body needs no media type: no page can
  // send a DELETE to another origin without a preflight; here it is 409, the execution is active).
  assertError(
    await request(port, {
      method: "DELETE",
      path: `${API}/keep-running`,
      headers: { "content-length": "1" },
      body: "x",
    }),
    415,
    "UNSUPPORTED_MEDIA_TYPE",
  );
  assertError(await request(port, { method: "DELETE", path: `${API}/keep-running` }), 409, "INVALID_TRANSITION");
  // A POST where no route takes one is the router's 405, whatever its media type.
  const notTaken = await request(port, {
    method: "POST",
    path: "/api/v1/counts",
    headers: { "content-length": "1" },
    body: "x",
  });
  assertError(notTaken, 405, "METHOD_NOT_ALLOWED");
  assert.equal(notTaken.headers.allow, "GET");
  assert.equal(manager.status("keep-running").status, "running", "still running");

  // With the media type and no body, the cancel goes through (the router treats it as no body).
  const ok = await request(port, { method: "POST", path, headers: { "content-type": "application/json" } });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.equal(manager.status("keep-running").status, "cancelled");
  // GET needs no media type.
  assert.equal((await request(port, { path: `${API}/keep-running` })).status, 200);
});

// ---- Host ----------------------------------------------------------------------------------------

test("a Host that names neither the server nor an allowed host is refused 421 (no DNS rebinding)", async () => {
  const { manager, port } = shared;
  const before = manager.counts();
  for (const host of [
    "attacker.example",
    `attacker.example:${port}`,
    "127.0.0.2",
    "localhost.attacker.example",
    "[::2]",
    "bad host",
    "a:b:c",
  ]) {
    assertError(await request(port, { headers: { host } }), 421, "MISDIRECTED_REQUEST");
    const create = await postJson(port, API, { targetId: "echo", id: "rebound" }, { host });
    assertError(create, 421, "MISDIRECTED_REQUEST");
  }
  assert.deepEqual(manager.counts(), before, "nothing was created");
  // The loopback names, with any port, are this server's on a loopback address.
  for (const host of [
    "localhost",
    `localhost:${port}`,
    "LOCALHOST:1",
    "127.0.0.1",
    `127.0.0.1:${port}`,
    "[::1]",
    "[::1]:8080",
  ]) {
    const res = await request(port, { headers: { host } });
    assert.equal(res.status, 200, `${host}: ${JSON.stringify(res.body)}`);
  }
  // HTTP/1.0 without a Host header.
  const bare = rawSocket(port, "GET /api/v1/executions HTTP/1.0\r\n\r\n");
  await until(() => bare.closed, "the HTTP/1.0 answer", 3000);
  assert.match(bare.data, /^HTTP\/1\.1 421 /);
});

test("allowedHosts: names with any port, name:port pairs, .suffixes; true accepts any Host", async () => {
  const { port } = await start({ allowedHosts: ["api.example", "Pinned.example:8443", ".corp.example", "::1"] });
  const status = async (host) => (await request(port, { headers: { host } })).status;
  for (const host of [
    "api.example",
    "api.example:1",
    "pinned.example:8443",
    "corp.example",
    "a.b.corp.example:9",
    "localhost",
    "[::1]:3",
  ]) {
    assert.equal(await status(host), 200, host);
  }
  for (const host of ["pinned.example", "pinned.example:8444", "xcorp.example", "api.example.evil", "evil.example"]) {
    assert.equal(await status(host), 421, host);
  }
  const open = await start({ allowedHosts: true });
  assert.equal((await request(open.port, { headers: { host: "anything.example" } })).status, 200);
});

// ---- token and authorize() -----------------------------------------------------------------------

test("token: missing or wrong → 401 UNAUTHORIZED with WWW-Authenticate, and nothing changes; right → through", async () => {
  const token = "s3cret-token-0123456789";
  const { manager, port } = await start({ token });
  await running(manager, "guarded");
  const before = manager.counts();
  const wrong = [
    {},
    { authorization: "" },
    { authorization: "Bearer" },
    { authorization: "Bearer " },
    { authorization: `Bearer ${token}x` },
    { authorization: `Bearer ${token.slice(0, -1)}` },
    { authorization: `Bearer ${"x".repeat(token.length)}` },
    { authorization: `Basic ${Buffer.from(`user:${token}`).toString("base64")}` },
    { authorization: token },
    { authorization: `Bearer ${token} extra` },
  ];
  for (const headers of wrong) {
    const get = await request(port, { headers });
    assertError(get, 401, "UNAUTHORIZED");
    assert.match(get.headers["www-authenticate"], /^Bearer/);
    assertError(await postJson(port, API, { targetId: "echo", id: "sneaky" }, headers), 401, "UNAUTHORIZED");
    assertError(await postJson(port, `${API}/guarded/cancel`, {}, headers), 401, "UNAUTHORIZED");
  }
  assert.deepEqual(manager.counts(), before);
  assert.equal(manager.status("guarded").status, "running");

  for (const authorization of [`Bearer ${token}`, `bearer ${token}`, `Bearer  ${token}`]) {
    assert.equal((await request(port, { headers: { authorization } })).status, 200, authorization);
  }
  const cancelled = await postJson(port, `${API}/guarded/cancel`, {}, { authorization: `Bearer ${token}` });
  assert.equal(cancelled.status, 200);
  assert.equal(manager.status("guarded").status, "cancelled");
});

test("authorize(req): true lets through; false, other values and async false → 401; a throw → 500", async () => {
  let decide = () => true;
  const seen = [];
  const { manager, port } = await start({
    authorize: (req) => {
      seen.push({ method: req.method, url: req.url, who: req.headers["x-user"], read: req.readableEnded });
      return decide(req);
    },
  });
  const create = (id) => postJson(port, API, { targetId: "echo", id }, { "x-user": "ann" });

  assert.equal((await create("auth-sync-true")).status, 201);
  assert.deepEqual(
    seen.at(-1),
    { method: "POST", url: API, who: "ann", read: false },
    "a node IncomingMessage, body unread",
  );
  decide = async () => {
    await sleep(5);
    return true;
  };
  assert.equal((await create("auth-async-true")).status, 201);

  const before = manager.counts();
  for (const [what, fn] of [
    ["false", () => false],
    ["async false", async () => false],
    ["undefined", () => undefined],
    ["a truthy non-boolean", () => "yes"],
    ["1", () => 1],
  ]) {
    decide = fn;
    assertError(await create(`auth-${what}`), 401, "UNAUTHORIZED");
    assertError(await request(port), 401, "UNAUTHORIZED");
  }
  const reported = [];
  const originalError = console.error;
  console.error = (...args) => reported.push(args);
  try {
    for (const fn of [
      () => {
        throw new Error("directory down: secret detail");
      },
      async () => Promise.reject(new Error("directory down: secret detail")),
    ]) {
      decide = fn;
      const res = await create("auth-throws");
      assertError(res, 500, "INTERNAL");
      assert.doesNotMatch(res.body.error.message, /secret/, "the thrown message stays on the server");
    }
  } finally {
    console.error = originalError;
  }
  assert.equal(reported.length, 2, "each throw is reported with console.error");
  assert.deepEqual(manager.counts(), before, "no refused request created anything");

  // With a token too, authorize() is not even asked without the token.
  let asked = 0;
  const both = await start({
    token: "t0k3n",
    authorize: () => {
      asked++;
      return true;
    },
  });
  assert.equal((await request(both.port)).status, 401);
  assert.equal(asked, 0);
  assert.equal((await request(both.port, { headers: { authorization: "Bearer t0k3n" } })).status, 200);
  assert.equal(asked, 1);
});

// ---- CORS ----------------------------------------------------------------------------------------

const APP = "http://app.example:3000";
const preflight = (origin, method = "POST") => ({
  method: "OPTIONS",
  headers: {
    origin,
    "access-control-request-method": method,
    "access-control-request-headers": "content-type,authorization",
  },
});
const corsHeadersOf = (res) => Object.keys(res.headers).filter((h) => h.startsWith("access-control-"));

test("CORS off by default: no CORS header on any answer, and a preflight is not granted", async () => {
  const { port } = shared;
  const pre = await request(port, preflight(APP));
  assert.notEqual(pre.status, 204);
  assert.deepEqual(corsHeadersOf(pre), []);
  const get = await request(port, { headers: { origin: APP } });
  assert.equal(get.status, 200);
  assert.deepEqual(corsHeadersOf(get), []);
  assert.equal(get.headers.vary, undefined);
});

test("CORS with cors: { origin }: preflight 204 and headers for that origin only", async () => {
  const { port } = await start({ cors: { origin: [APP, "https://other.example"] }, token: "t" });
  // A preflight carries no credentials: it is answered before the token check.
  const pre = await request(port, preflight(APP));
  assert.equal(pre.status, 204);
  assert.equal(pre.headers["access-control-allow-origin"], APP);
  assert.match(pre.headers["access-control-allow-methods"], /\bPOST\b/);
  assert.match(pre.headers["access-control-allow-methods"], /\bGET\b/);
  assert.match(pre.headers["access-control-allow-methods"], /\bDELETE\b/);
  assert.match(pre.headers["access-control-allow-headers"], /content-type/);
  assert.match(pre.headers["access-control-allow-headers"], /authorization/);
  assert.equal(pre.headers["access-control-max-age"], "600");
  assert.equal(pre.headers.vary, "Origin");

  const get = await request(port, { headers: { origin: APP, authorization: "Bearer t" } });
  assert.equal(get.status, 200);
  assert.equal(get.headers["access-control-allow-origin"], APP);
  assert.equal(get.headers.vary, "Origin");
  // Refusals carry them too, so the page can read why.
  const denied = await request(port, { headers: { origin: APP } });
  assert.equal(denied.status, 401);
  assert.equal(denied.headers["access-control-allow-origin"], APP);
  const second = await request(port, { headers: { origin: "https://other.example", authorization: "Bearer t" } });
  assert.equal(second.headers["access-control-allow-origin"], "https://other.example");

  // Any other origin (or none) gets no CORS header, only Vary.
  for (const origin of [
    "http://evil.example",
    "http://app.example:3001",
    "https://app.example:3000",
    "null",
    undefined,
  ]) {
    const headers = origin === undefined ? {} : { origin };
    const otherPre = await request(port, preflight(origin ?? ""));
    assert.notEqual(otherPre.status, 204, `${origin}`);
    assert.deepEqual(corsHeadersOf(otherPre), [], `${origin}`);
    const otherGet = await request(port, { headers: { ...headers, authorization: "Bearer t" } });
    assert.equal(otherGet.status, 200);
    assert.deepEqual(corsHeadersOf(otherGet), [], `${origin}`);
    assert.equal(otherGet.headers.vary, "Origin");
  }
});

// ---- limits, timeouts ----------------------------------------------------------------------------

/** A JSON create request of exactly `size` bytes. */
function createOfSize(size, id) {
  const head = JSON.stringify({ targetId: "echo", id, inputs: { pad: "" } });
  return head.replace('"pad":""', `"pad":"${"x".repeat(size - head.length)}"`);
}

test("a body over 1 MiB is 413 PAYLOAD_TOO_LARGE (declared or chunked) and its connection is closed", async () => {
  const { manager, port } = shared;
  const exact = await request(port, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: createOfSize(MiB, "exactly-1-MiB"),
  });
  assert.equal(exact.status, 201, "a body of exactly 1 MiB is accepted");
  const before = manager.counts();

  const declared = rawSocket(
    port,
    `POST ${API} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${MiB + 1}\r\n\r\n{`,
  );
  const chunked = rawSocket(
    port,
    `POST ${API} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`,
  );
  const chunk = "x".repeat(64 * 1024);
  for (let i = 0; i < 17; i++) chunked.socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
  await until(() => declared.closed && chunked.closed, "both connections closed", 4000);
  for (const s of [declared, chunked]) {
    assert.match(s.data, /^HTTP\/1\.1 413 /);
    assert.match(s.data, /connection: close/i);
    assert.match(s.data, /"PAYLOAD_TOO_LARGE"/);
  }
  // Through fetch too: the client reads the 413.
  const res = await fetch(`${shared.url}${API}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: createOfSize(MiB + 1, "too-big"),
  });
  assert.equal(res.status, 413);
  assert.equal((await res.json()).error.code, "PAYLOAD_TOO_LARGE");
  assert.deepEqual(manager.counts(), before);

  const small = await start({ limits: { maxBodyBytes: 100 } });
  assertError(
    await postJson(small.port, API, { targetId: "echo", inputs: { pad: "x".repeat(100) } }),
    413,
    "PAYLOAD_TOO_LARGE",
  );
  assert.equal((await postJson(small.port, API, { targetId: "echo" })).status, 201);
});

test("timeouts default to 10 s (headers) and 30 s (request), and slow headers are closed in time", async () => {
  assert.equal(shared.served.server.headersTimeout, 10_000);
  assert.equal(shared.served.server.requestTimeout, 30_000);

  const { port } = await start({ limits: { headersTimeout: 500, requestTimeout: 1000 } });
  const t0 = Date.now();
  const idle = rawSocket(port);
  const halfLine = rawSocket(port, `GET ${API} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaa`);
  const slowBody = rawSocket(
    port,
    `POST ${API} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"target`,
  );
  await until(() => idle.closed && halfLine.closed && slowBody.closed, "the slow connections closed", 4000);
  console.log(
    `slow clients closed after: idle ${idle.closedAt - t0} ms, half a header line ${halfLine.closedAt - t0} ms, ` +
      `a stalled body ${slowBody.closedAt - t0} ms (headersTimeout 500 ms, requestTimeout 1000 ms)`,
  );
  assert.ok(halfLine.closedAt - t0 < 2000, "half a header line: closed within 2 s");
  assert.ok(slowBody.closedAt - t0 >= 900, "a stalled body lives until requestTimeout");
  for (const s of [halfLine, slowBody]) assert.match(s.data, /^HTTP\/1\.1 408 /);
});

test("a stalled body's bytes are given back when it times out or its client goes", async () => {
  // Room for one 600-byte body in flight at a time.
  const { manager, port } = await start({
    limits: { maxInFlightBytes: 1000, headersTimeout: 400, requestTimeout: 800 },
  });
  const head = `POST ${API} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 600\r\n\r\n`;
  const holder = rawSocket(port, `${head}${"x".repeat(500)}`);
  await sleep(100);
  const second = rawSocket(port, `${head}${"x".repeat(10)}`);
  await until(() => second.closed, "the second body refused", 3000);
  assert.match(second.data, /^HTTP\/1\.1 503 /);
  assert.match(second.data, /"RESOURCE_EXHAUSTED"/);
  await until(() => holder.closed, "the holder timed out", 3000);
  assert.match(holder.data, /^HTTP\/1\.1 408 /);
  assert.equal((await postJson(port, API, { targetId: "echo", id: "after-timeout" })).status, 201);

  const goes = rawSocket(port, `${head}${"x".repeat(500)}`);
  await sleep(100);
  goes.socket.destroy();
  await sleep(100);
  assert.equal((await postJson(port, API, { targetId: "echo", id: "after-abort" })).status, 201);
  assert.equal(manager.counts().total, 2);
});

test(
  "300 stalled bodies: at most 64 MiB in flight, the rest 503, and the server's RSS stays bounded",
  async () => {
    const child = fork(CHILD, [JSON.stringify({ limits: { requestTimeout: 25_000 } })], {
      execArgv: ["--expose-gc"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const sockets = [];
    try {
      const { port } = await new Promise((resolve, reject) => {
        child.once("message", resolve);
        child.once("error", reject);
        child.once("exit", (code) => reject(new Error(`the server child exited (${code})`)));
      });
      const memory = () =>
        new Promise((resolve) => {
          child.once("message", resolve);
          child.send("memory");
        });
      // Warm up the paths a body takes, then measure.
      for (let i = 0; i < 20; i++)
        assert.equal((await postJson(port, API, { targetId: "echo", inputs: { i } })).status, 201);
      const before = await memory();

      const PART = 768 * 1024; // of a declared 1 MiB - 1
      const part = Buffer.alloc(PART, "x");
      const head = `POST ${API} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${MiB - 1}\r\n\r\n`;
      const t0 = Date.now();
      for (let i = 0; i < 300; i++) {
        const s = rawSocket(port);
        s.flushed = false;
        s.socket.write(head);
        s.socket.write(part, () => {
          s.flushed = true;
        });
        sockets.push(s);
        if (i % 25 === 24) await sleep(10);
      }
      // Settled: every connection either answered, closed, or had its whole part taken by the server.
      let last = "";
      let stableSince = Date.now();
      await until(
        () => {
          const now = sockets
            .map((s) => `${s.data.length > 0 ? "a" : ""}${s.closed ? "c" : ""}${s.flushed ? "f" : ""}`)
            .join();
          if (now !== last) {
            last = now;
            stableSince = Date.now();
          }
          return sockets.every((s) => s.data.length > 0 || s.closed || s.flushed) && Date.now() - stableSince > 500;
        },
        "300 connections settled",
        15_000,
      );
      const settledMs = Date.now() - t0;
      const held = await memory();
      const answered503 = sockets.filter((s) => /^HTTP\/1\.1 503 /.test(s.data)).length;
      const other = sockets.filter((s) => s.data.length > 0 && !/^HTTP\/1\.1 503 /.test(s.data));
      const closedSilently = sockets.filter((s) => s.data.length === 0 && s.closed).length;
      const stalled = sockets.filter((s) => s.data.length === 0 && !s.closed).length;

      // With the bodies held, a new large body is refused up front; GETs still work.
      const more = rawSocket(port, `${head}${"x".repeat(10)}`);
      await until(() => more.closed, "a new body refused", 3000);
      assert.match(more.data, /^HTTP\/1\.1 503 /);
      assert.equal((await request(port)).status, 200);

      for (const s of sockets) s.socket.destroy();
      await until(() => sockets.every((s) => s.closed), "sockets closed", 3000);
      await sleep(200);
      const released = await memory();
      const accepted = await request(port, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: createOfSize(MiB - 1, "after-release"),
      });
      assert.equal(accepted.status, 201, "the bytes held were given back when the clients went");
      assert.equal(released.counts.total, 20, "no stalled body created anything");

      const mb = (n) => `${(n / MiB).toFixed(1)} MiB`;
      const growth = held.memory.rss - before.memory.rss;
      const peakGrowth = held.maxRss - before.memory.rss;
      console.log(
        `300 stalled bodies (declared ${MiB - 1} B, ${PART} B sent each) settled in ${settledMs} ms: ` +
          `${stalled} held by the server (${mb(stalled * PART)}), ${answered503} answered 503, ${closedSilently} closed without an answer\n` +
          `server RSS: before ${mb(before.memory.rss)}, with the bodies held ${mb(held.memory.rss)} (+${mb(growth)}), ` +
          `peak ${mb(held.maxRss)} (+${mb(peakGrowth)}), after the clients left ${mb(released.memory.rss)}; ` +
          `ArrayBuffers (Buffers) before ${mb(before.memory.arrayBuffers)}, held ${mb(held.memory.arrayBuffers)}`,
      );
      assert.deepEqual(
        other.map((s) => s.data.slice(0, 40)),
        [],
        "no other answer",
      );
      assert.ok(stalled * PART <= 64 * MiB, `${stalled} bodies of ${PART} B held: more than 64 MiB`);
      assert.ok(stalled >= Math.floor((63 * MiB) / PART), `only ${stalled} bodies held: the bound refused too early`);
      assert.equal(stalled + answered503 + closedSilently, 300);
      assert.ok(answered503 >= 150, `${answered503} answered 503`);
      // 64 MiB of bodies, Node's read buffers and the allocator's slack: ~128 MiB, + a 32 MiB margin.
      assert.ok(growth < 160 * MiB, `RSS grew by ${mb(growth)}`);
      assert.ok(peakGrowth < 160 * MiB, `the peak RSS was ${mb(peakGrowth)} over the start`);
    } finally {
      for (const s of sockets) s.socket.destroy();
      child.disconnect();
      await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once("exit", resolve)));
    }
  },
  { timeout: 30_000 },
);

// ---- call forms, options, pass-through -----------------------------------------------------------

test("serve(manager, options) and createListener(manager | { manager }, options) keep working with the same checks", async () => {
  const manager = newManager();
  const legacy = await serve(manager, { token: "t" });
  opened.push(legacy);
  assert.match(legacy.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(typeof legacy.close, "function");
  assert.ok(legacy.server instanceof http.Server);
  assert.equal((await request(legacy.port)).status, 401);
  assert.equal((await request(legacy.port, { headers: { authorization: "Bearer t" } })).status, 200);

  for (const listener of [createListener(manager, { token: "t" }), createListener({ manager, token: "t" })]) {
    const server = http.createServer(listener);
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address();
    try {
      assert.equal((await request(port)).status, 401);
      assert.equal((await request(port, { headers: { authorization: "Bearer t", host: "evil.example" } })).status, 421);
      assertError(
        await request(port, {
          method: "POST",
          headers: { authorization: "Bearer t", "content-type": "text/plain" },
          body: "{}",
        }),
        415,
        "UNSUPPORTED_MEDIA_TYPE",
      );
      assert.equal((await request(port, { headers: { authorization: "Bearer t" } })).status, 200);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  }
  // The CommonJS entry is the same module.
  assert.equal(require("execman/server").serve, serve);
});

test("invalid options are TypeErrors: serve() rejects, createListener() throws", async () => {
  const manager = newManager();
  const bad = [
    {},
    { manager: {} },
    { manager, token: "" },
    { manager, token: 42 },
    { manager, authorize: true },
    { manager, cors: {} },
    { manager, cors: { origin: "*" } },
    { manager, cors: { origin: [] } },
    { manager, cors: { origin: "file:///tmp/x" } },
    { manager, allowedHosts: "localhost" },
    { manager, allowedHosts: ["not a host"] },
    { manager, limits: { maxBodyBytes: 0 } },
    { manager, limits: { maxInFlightBytes: -1 } },
    { manager, limits: { requestTimeout: Number.POSITIVE_INFINITY } },
    { manager, limits: { headersTimeout: 5000, requestTimeout: 1000 } },
  ];
  for (const options of bad) {
    await assert.rejects(serve(options), TypeError, JSON.stringify(options));
    assert.throws(() => createListener(options), TypeError, JSON.stringify(options));
  }
});

test("a manager's RESOURCE_EXHAUSTED passes through as 503 (answered by the router, or thrown)", async () => {
  const full = JSON.stringify({ error: { code: "RESOURCE_EXHAUSTED", message: "maxBytes is full of active work" } });
  let mode = "answer";
  const host = {
    async fetch() {
      if (mode === "throw")
        throw Object.assign(new Error("maxBytes is full"), { name: "ExecutionError", code: "RESOURCE_EXHAUSTED" });
      if (mode === "crash") throw new Error("freed");
      return new Response(full, { status: 503, headers: { "content-type": "application/json" } });
    },
    handle: () => ({ status: 503, body: JSON.parse(full) }),
  };
  const { port } = await start({ manager: host });
  const answered = await postJson(port, API, { targetId: "echo" });
  assertError(answered, 503, "RESOURCE_EXHAUSTED");
  assert.equal(answered.body.error.message, "maxBytes is full of active work");
  mode = "throw";
  assertError(await postJson(port, API, { targetId: "echo" }), 503, "RESOURCE_EXHAUSTED");
  mode = "crash";
  assertError(await request(port), 500, "INTERNAL");
});
