// The server side of W8 (bench/workloads/w8-http.mjs), in its own process so that the load
// generator and the server each have a core: execman's Node server (pkg/server.cjs, what
// `require("execman/server")` gives) over a manager with the target "bench" (a handler that
// returns at once) and one tracked execution "status-1" for the status requests.
//
//   fork("_http-server.mjs", ["--pkg=DIR"?], { execArgv: ["--expose-gc"] })
//
// Sends { port } once listening, then answers IPC messages:
//   { cmd: "follow", executions: N, everyMs: T }  N tracked running executions ("run-0" …), each
//                                                  given a progress report every T ms from now
//   { cmd: "stop" }                                stops those reports
//   { cmd: "stats" }                               { memory (after a GC), cpu: process.cpuUsage(),
//                                                    counts: the manager's internal counts, changes }
// and exits when its parent disconnects.

import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const require = createRequire(import.meta.url);
const pkgArg = process.argv.find((a) => a.startsWith("--pkg="));
const pkg = pkgArg ? path.resolve(ROOT, pkgArg.slice(6)) : path.join(ROOT, "pkg");
const { ExecutionManager } = require(pkg);
const { serve } = require(path.join(pkg, "server.cjs"));

const INTERNALS = Symbol.for("execman.internals");
const manager = new ExecutionManager();
manager.register("bench", async () => null);
manager.track({ targetId: "bench", id: "status-1", inputs: { n: 1 } });
manager.start("status-1");
manager.reportProgress("status-1", 1, 2, "half way");
const served = await serve({ manager });

let timer;
let changes = 0;
process.on("message", async (/** @type {any} */ m) => {
  if (m.cmd === "follow") {
    const ids = [];
    for (let i = 0; i < m.executions; i++) {
      const id = `run-${i}`;
      if (manager.status(id) === undefined) {
        manager.track({ targetId: "bench", id, inputs: { i } });
        manager.start(id);
      }
      ids.push(id);
    }
    let k = 0;
    timer = setInterval(() => {
      k++;
      for (const id of ids) manager.reportProgress(id, k, 1e9, `step ${k}`);
      changes += ids.length;
    }, m.everyMs);
    process.send?.({ ok: true });
  } else if (m.cmd === "stop") {
    clearInterval(timer);
    process.send?.({ ok: true });
  } else if (m.cmd === "stats") {
    globalThis.gc?.();
    await new Promise((resolve) => setTimeout(resolve, 20));
    globalThis.gc?.();
    process.send?.({
      memory: process.memoryUsage(),
      cpu: process.cpuUsage(),
      counts: /** @type {any} */ (manager)[INTERNALS](),
      changes,
    });
  }
});
process.on("disconnect", () => {
  clearInterval(timer);
  served.close().finally(() => process.exit(0));
});
process.send?.({ port: served.port });
