// Shared by every workload: argument parsing, loading an implementation, timing helpers and the
// one-line result protocol that bench/run.mjs reads.
//
// A workload is run as
//   node --expose-gc bench/workloads/<w>.mjs --impl=execman|baseline|pqueue [--size=N] [--pkg=DIR] [...]
// and prints, as its last stdout line, `BENCH_RESULT {"metrics":{...},"info":{...}}` where each
// metric is { value, unit }.

import fs from "node:fs";
import inspector from "node:inspector";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const require = createRequire(import.meta.url);

/** `--key=value` / `--flag` arguments as an object of strings (flags are "true"). */
export function parseArgs(argv = process.argv.slice(2)) {
  const args = {};
  for (const a of argv) {
    const m = /^--([^=]+)(?:=(.*))?$/.exec(a);
    if (!m) throw new Error(`bad argument ${a}`);
    args[m[1]] = m[2] === undefined ? "true" : m[2];
  }
  return args;
}

export function intArg(args, name, fallback) {
  if (args[name] === undefined) return fallback;
  if (args[name] === "Infinity") return Infinity;
  const n = Number(args[name]);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number`);
  return Math.round(n);
}

/**
 * The ExecutionManager class of `impl`: execman is `require`d from pkg/ (or `--pkg=DIR`, used
 * by bench/profile.mjs for a build that keeps wasm function names), the baseline from
 * bench/baseline/manager.cjs, the same way (one synchronous require).
 */
export function loadManager(impl, pkgDir) {
  if (impl === "execman") return require(pkgDir ? path.resolve(ROOT, pkgDir) : path.join(ROOT, "pkg")).ExecutionManager;
  if (impl === "baseline") return require(path.join(ROOT, "bench", "baseline", "manager.cjs")).ExecutionManager;
  throw new Error(`unknown --impl=${impl}`);
}

/**
 * Records every WebAssembly.Instance constructed from now on (the nodejs build of execman keeps
 * its instance in a module-local `wasm` variable and exports neither it nor its memory).
 * Call before loadManager; returns the array the instances are pushed into.
 */
export function captureWasmInstances() {
  const instances = [];
  const Original = WebAssembly.Instance;
  WebAssembly.Instance = new Proxy(Original, {
    construct(target, argsList, newTarget) {
      const inst = Reflect.construct(target, argsList, newTarget);
      instances.push(inst);
      return inst;
    },
  });
  return instances;
}

export const now = () => performance.now();

/** Seeded xorshift32 in [0, 1): the same pseudo-random sequence for both implementations. */
export function rng(seed = 0x9e3779b9) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}

export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return NaN;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

export function gc() {
  if (typeof globalThis.gc !== "function") throw new Error("run with node --expose-gc");
  globalThis.gc();
  globalThis.gc();
}

/** Keeps results observable so that no call can be optimised away. */
export let sink = 0;
export function consume(v) {
  if (v === undefined) sink += 1;
  else if (v === null) sink += 2;
  else if (typeof v === "object") sink += 3;
  else sink += 4;
}

export function report(metrics, info = {}) {
  process.stdout.write(`BENCH_RESULT ${JSON.stringify({ metrics, info: { ...info, sink } })}\n`);
}

// --- profiling of the timed sections (bench/profile.mjs) ----------------------------------
// With EXECMAN_BENCH_PROFILE_DIR set, section(name, fn) records a V8 CPU profile of fn alone
// (the same sampler and .cpuprofile format as `node --cpu-prof`, via node:inspector, 100 µs
// interval) into that directory, so set-up such as populating a million executions stays out
// of it. Without it, section just calls fn.
const PROFILE_DIR = process.env.EXECMAN_BENCH_PROFILE_DIR;
let session = null;
function post(method, params) {
  return new Promise((resolve, reject) =>
    session.post(method, params, (err, res) => (err ? reject(err) : resolve(res))),
  );
}
export async function section(name, fn) {
  if (!PROFILE_DIR) return fn();
  if (!session) {
    session = new inspector.Session();
    session.connect();
    await post("Profiler.enable");
    await post("Profiler.setSamplingInterval", { interval: 100 });
  }
  await post("Profiler.start");
  try {
    return await fn();
  } finally {
    const { profile } = await post("Profiler.stop");
    fs.mkdirSync(PROFILE_DIR, { recursive: true });
    const file = `${name.replace(/[^A-Za-z0-9.+-]+/g, "_")}.cpuprofile`;
    fs.writeFileSync(path.join(PROFILE_DIR, file), JSON.stringify(profile));
  }
}

/** Runs an async main and exits non-zero (with the stack on stderr) if it throws. */
export function main(fn) {
  fn().then(
    () => {},
    (err) => {
      console.error(err?.stack ? err.stack : err);
      process.exit(1);
    },
  );
}
