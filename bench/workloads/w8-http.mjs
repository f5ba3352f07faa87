// W8 HTTP: execman's Node server over real HTTP on 127.0.0.1, the server in a child process
// (_http-server.mjs) and the load from this one, so each has a core. execman only (there is no
// baseline server).
//
// --mode=rest  autocannon, 32 connections, after a 1 s warm-up of each:
//   create  POST /api/v1/executions {"targetId":"bench","inputs":{"n":1}} (a handler that returns
//           at once, so finished executions are evicted past maxFinished as in real use)
//   status  GET /api/v1/executions/status-1 (a running execution with progress)
//   → requests/s and p99 latency (ms) of each, for `--seconds` (default 3) each.
// --mode=sse   1,000 concurrent Server-Sent-Events clients (one socket each) following 100
//   running executions that each report progress every 50 ms (2,000 changes/s):
//   one     each client follows one execution's stream (10 clients per execution: 100 shared
//           subscriptions) → 20,000 messages/s to deliver
//   all     each client follows /api/v1/events?throttle_ms=1000 (one shared subscription; at
//           most one progress per execution per second per client) → 100,000 messages/s
//   → messages/s received by the clients (counted as they arrive, over `--seconds`, default 4,
//   after the clients are connected and 1 s has passed), the share of what was sent, and the
//   server's heap and RSS with the 1,000 streams open (after a GC) against before.

import { fork } from "node:child_process";
import http from "node:http";
import path from "node:path";
import autocannon from "autocannon";
import { ROOT, intArg, main, parseArgs, report } from "./_harness.mjs";

const args = parseArgs();
const mode = args.mode ?? "rest";
const seconds = intArg(args, "seconds", mode === "rest" ? 3 : 4);
const CLIENTS = intArg(args, "clients", 1000);
const EXECUTIONS = intArg(args, "executions", 100);
const EVERY_MS = 50;

/** Starts the server child; resolves with { port, ask(message), close() }. */
async function startServer() {
  const child = fork(path.join(ROOT, "bench", "workloads", "_http-server.mjs"), args.pkg ? [`--pkg=${args.pkg}`] : [], {
    execArgv: ["--expose-gc"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const first = await new Promise((resolve, reject) => {
    child.once("message", resolve);
    child.once("exit", (code) => reject(new Error(`the server exited with ${code}`)));
  });
  /** @param {object} message */
  const ask = (message) =>
    new Promise((resolve) => {
      child.once("message", resolve);
      child.send(message);
    });
  const close = () =>
    new Promise((resolve) => {
      child.once("exit", resolve);
      child.disconnect();
    });
  return { port: /** @type {any} */ (first).port, ask, close };
}

/** One autocannon run. */
function cannon(options) {
  return new Promise((resolve, reject) => {
    autocannon({ connections: 32, ...options }, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

async function rest() {
  const server = await startServer();
  const base = `http://127.0.0.1:${server.port}`;
  const create = {
    url: `${base}/api/v1/executions`,
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ targetId: "bench", inputs: { n: 1 } }),
  };
  const status = { url: `${base}/api/v1/executions/status-1` };
  const metrics = {};
  const info = {};
  for (const [name, options] of [
    ["create", create],
    ["status", status],
  ]) {
    await cannon({ ...options, duration: 1 }); // warm-up
    const r = /** @type {any} */ (await cannon({ ...options, duration: seconds }));
    if (r.errors > 0 || r.non2xx > 0) throw new Error(`${name}: ${r.errors} errors, ${r.non2xx} non-2xx answers`);
    metrics[`W8 HTTP ${name} req/s`] = { value: r.requests.average, unit: "req/s" };
    metrics[`W8 HTTP ${name} p99`] = { value: r.latency.p99, unit: "ms" };
    info[name] = { requests: r.requests.total, p50: r.latency.p50, p99: r.latency.p99, max: r.latency.max };
  }
  await server.close();
  report(metrics, { ...info, seconds, connections: 32 });
}

/**
 * Opens `CLIENTS` streams (`pathOf(i)`), counting the messages each receives.
 * @param {number} port
 * @param {(i: number) => string} pathOf
 */
async function openClients(port, pathOf) {
  const state = { messages: 0, bytes: 0, ended: 0, requests: /** @type {http.ClientRequest[]} */ ([]) };
  const opened = [];
  for (let i = 0; i < CLIENTS; i++) {
    opened.push(
      new Promise((resolve, reject) => {
        const req = http.get({ host: "127.0.0.1", port, path: pathOf(i), agent: false }, (res) => {
          if (res.statusCode !== 200) return reject(new Error(`${pathOf(i)}: ${res.statusCode}`));
          res.setEncoding("utf8");
          res.on("data", (/** @type {string} */ text) => {
            state.bytes += text.length;
            // One message per "event: " line (heartbeats are comments).
            for (let at = text.indexOf("event: "); at !== -1; at = text.indexOf("event: ", at + 7)) state.messages++;
          });
          res.on("end", () => state.ended++);
          resolve(undefined);
        });
        req.on("error", (err) => (/** @type {any} */ (err).code === "ECONNRESET" ? undefined : reject(err)));
        state.requests.push(req);
      }),
    );
    if (i % 100 === 99) await Promise.all(opened.slice(i - 99));
  }
  await Promise.all(opened);
  return state;
}

async function sse() {
  const server = await startServer();
  const before = /** @type {any} */ (await server.ask({ cmd: "stats" }));
  await server.ask({ cmd: "follow", executions: EXECUTIONS, everyMs: EVERY_MS });
  const metrics = {};
  const info = { before: before.memory };
  const cases = [
    ["one", (/** @type {number} */ i) => `/api/v1/executions/run-${i % EXECUTIONS}/events`, 1000 / EVERY_MS],
    ["all", () => "/api/v1/events?throttle_ms=1000", 1],
  ];
  for (const [name, pathOf, perSecond] of /** @type {[string, (i: number) => string, number][]} */ (cases)) {
    const t0 = performance.now();
    const clients = await openClients(server.port, pathOf);
    const connectMs = performance.now() - t0;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const s0 = /** @type {any} */ (await server.ask({ cmd: "stats" }));
    const m0 = clients.messages;
    const t1 = performance.now();
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    const received = clients.messages - m0;
    const elapsed = (performance.now() - t1) / 1000;
    const s1 = /** @type {any} */ (await server.ask({ cmd: "stats" }));
    // What the server had to send: each change it made goes to each client that follows it
    // (throttled: at most `perSecond` progress per execution per client).
    const changesPerExecution = (s1.changes - s0.changes) / EXECUTIONS;
    const offered =
      name === "one"
        ? changesPerExecution * CLIENTS
        : Math.min(changesPerExecution, perSecond * elapsed) * EXECUTIONS * CLIENTS;
    const cpu = (s1.cpu.user + s1.cpu.system - s0.cpu.user - s0.cpu.system) / 1e6 / elapsed;
    metrics[`W8 SSE ${name}: messages/s`] = { value: received / elapsed, unit: "msg/s" };
    metrics[`W8 SSE ${name}: server heap, streams open`] = {
      value: (s1.memory.heapUsed - before.memory.heapUsed) / 2 ** 20,
      unit: "MiB",
    };
    info[name] = {
      connectMs,
      received,
      offered: Math.round(offered),
      share: received / offered,
      serverCpuCores: cpu,
      counts: s1.counts,
      heapUsedMiB: s1.memory.heapUsed / 2 ** 20,
      rssMiB: s1.memory.rss / 2 ** 20,
      rssGrowthMiB: (s1.memory.rss - before.memory.rss) / 2 ** 20,
      ended: clients.ended,
    };
    for (const req of clients.requests) req.destroy();
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  await server.ask({ cmd: "stop" });
  const after = /** @type {any} */ (await server.ask({ cmd: "stats" }));
  info.afterClientsLeft = { counts: after.counts, heapUsedMiB: after.memory.heapUsed / 2 ** 20 };
  await server.close();
  report(metrics, { ...info, clients: CLIENTS, executions: EXECUTIONS, everyMs: EVERY_MS, seconds });
}

main(() => (mode === "rest" ? rest() : sse()));
