// No leak without subscribers: executions created from outside the JS class's own calls (handle(),
// the Node server) and later evicted (maxFinished 10,000) must leave the JS class's cache too.
// Before the engine's removals were swept by the work it reports, 1,000,000 handle() POSTs grew the
// JS heap from 2.8 to 234.7 MiB. Each run happens in a child process with --expose-gc; samples are
// taken after full GCs at 20,000 creations, half way and at the end, and printed.
import assert from "node:assert/strict";
import { fork, spawn } from "node:child_process";
import http from "node:http";
import { fileURLToPath } from "node:url";
import { test } from "./lib.mjs";

const CHILD = fileURLToPath(new URL("./leak-child.cjs", import.meta.url));

/** The samples plateau: the end is no more than a small margin above the middle. */
function assertPlateau(samples, what) {
  const [, middle, end] = samples;
  assert.ok(end.heapMiB <= middle.heapMiB * 1.2 + 2, `${what}: JS heap ${middle.heapMiB} → ${end.heapMiB} MiB`);
  assert.ok(end.wasmMiB <= middle.wasmMiB * 1.1 + 1, `${what}: wasm memory ${middle.wasmMiB} → ${end.wasmMiB} MiB`);
  assert.equal(end.held, 10_000, `${what}: maxFinished holds`);
}

const show = (samples) => samples.map((s) => `${s.at}: heap ${s.heapMiB} MiB, wasm ${s.wasmMiB} MiB`).join("; ");

test(
  "1,000,000 handle() POSTs with no subscriber: the JS heap and the wasm memory plateau",
  async () => {
    const n = 1_000_000;
    const child = spawn(process.execPath, ["--expose-gc", CHILD, "handle", String(n)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    const code = await new Promise((resolve) => child.on("exit", resolve));
    assert.equal(code, 0);
    const samples = JSON.parse(out);
    console.log(`leak (handle): ${show(samples)}`);
    assertPlateau(samples, "handle()");
  },
  { timeout: 300_000 },
);

test(
  "200,000 POSTs over HTTP to the Node server with no subscriber: memory plateaus",
  async () => {
    const n = 200_000;
    const child = fork(CHILD, ["http"], { execArgv: ["--expose-gc"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
    const next = () => new Promise((resolve) => child.once("message", resolve));
    const { url } = await next();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    const body = JSON.stringify({ targetId: "noop" });
    const post = () =>
      new Promise((resolve, reject) => {
        const req = http.request(
          `${url}/api/v1/executions`,
          { method: "POST", agent, headers: { "content-type": "application/json", "content-length": body.length } },
          (res) => {
            res.resume();
            res.on("end", () => (res.statusCode === 201 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
          },
        );
        req.on("error", reject);
        req.end(body);
      });
    const samples = [];
    let sent = 0;
    try {
      for (const [from, to] of [
        [0, 20_000],
        [20_000, n / 2],
        [n / 2, n],
      ]) {
        sent = from;
        const target = to;
        const runUntil = async () => {
          while (sent < target) {
            sent++;
            await post();
          }
        };
        await Promise.all(Array.from({ length: 8 }, runUntil));
        child.send("sample");
        const { sample } = await next();
        samples.push({ at: to, ...sample });
      }
    } finally {
      agent.destroy();
      child.send("exit");
    }
    console.log(`leak (http): ${show(samples)}`);
    assertPlateau(samples, "HTTP");
  },
  { timeout: 300_000 },
);
