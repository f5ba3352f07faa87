// W0 start-up: load the module and construct a manager in a fresh process.
//
// performance.now() counts from the process's time origin (its start), so the value read right
// after `new ExecutionManager()` is "process start -> constructed". The part spent in this
// script (require + construct, without Node's own bootstrap) is reported too.
// Deliberately no import of ./_harness.mjs: nothing but node:module is loaded before t0.
const t0 = performance.now();
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const impl = (process.argv.find((a) => a.startsWith("--impl=")) || "--impl=execman").slice(7);
const pkgArg = process.argv.find((a) => a.startsWith("--pkg="));
const modulePath =
  impl === "execman"
    ? new URL(pkgArg ? `../../${pkgArg.slice(6)}/` : "../../pkg/", import.meta.url).pathname
    : new URL("../baseline/manager.cjs", import.meta.url).pathname;

const t1 = performance.now();
const { ExecutionManager } = require(modulePath);
const t2 = performance.now();
const manager = new ExecutionManager();
const t3 = performance.now();
if (typeof manager.status !== "function") throw new Error("no manager");

process.stdout.write(
  `BENCH_RESULT ${JSON.stringify({
    metrics: {
      "W0 start-up (process start -> constructed)": { value: t3, unit: "ms" },
      "W0 require + construct (info)": { value: t3 - t1, unit: "ms" },
    },
    info: { bootstrapMs: t0, requireMs: t2 - t1, constructMs: t3 - t2 },
  })}\n`,
);
