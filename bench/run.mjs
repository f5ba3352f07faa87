#!/usr/bin/env node
// `npm run bench`: execman against a plain-JS baseline (bench/baseline/manager.cjs) and, for W1,
// p-queue, side by side. Every workload runs in a fresh Node process
// (`node --expose-gc bench/workloads/<w>.mjs --impl=...`), several times, implementations
// interleaved; medians are printed with the ratio execman/baseline and the targets of issue 17, and
// written to target/bench/latest.json (+ latest.md). Builds pkg/ first if it is missing.
//
// Usage: node bench/run.mjs [--runs N] [--quick] [--scale F] [--only W1,W4] [--w4-sizes a,b,c]
//                           [--w4-large-runs N] [--w7-sizes a,b,c] [--out FILE] [--pkg DIR]
//   --runs N           runs per workload and implementation (default 5; W0 runs 3N, they are cheap)
//   --quick            smoke run: every size / 10 and 3 runs (unless --runs is given)
//   --scale F          multiply every size by F (after --quick)
//   --only LIST        only the cases whose id starts with one of LIST (e.g. W1,W4/1M,Size)
//   --w4-sizes LIST    held executions for W4 (default 10000,100000,1000000)
//   --w4-large-runs N  runs for the largest W4 size (default min(runs, 3): populating 1M
//                      executions takes ~20 s per process and each query is already repeated
//                      and median-ed within the process; also the largest W7 held size)
//   --w7-sizes LIST    executions held pending for W7's dispatch figure (default 10000,100000,1000000)
//   --out FILE         JSON output (default target/bench/latest.json)
//   --pkg DIR          load execman from DIR instead of pkg/ (e.g. a build kept for comparison)
//   (W10, durable managers: W2 on a fileStore, open() of 1,000,000 executions, bytes, flush())
//   --http-runs N      runs of W8 (the HTTP server: autocannon, 1,000 SSE clients; default 1,
//                      about 30 s a run)

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { packageSizes } from "../scripts/build.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const WORKLOADS = path.join(ROOT, "bench", "workloads");

// ---------------------------------------------------------------------------------------------
// options

function parseOptions(argv) {
  const o = {
    runs: undefined,
    quick: false,
    scale: 1,
    only: null,
    w4Sizes: [10_000, 100_000, 1_000_000],
    w4LargeRuns: undefined,
    w7Sizes: [10_000, 100_000, 1_000_000],
    out: path.join(ROOT, "target", "bench", "latest.json"),
    pkg: undefined,
    httpRuns: 1,
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    const value = () => (inline !== undefined ? inline : argv[++i]);
    switch (flag) {
      case "--runs":
        o.runs = Number(value());
        break;
      case "--quick":
        o.quick = true;
        break;
      case "--scale":
        o.scale = Number(value());
        break;
      case "--only":
        o.only = value()
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean);
        break;
      case "--w4-sizes":
        o.w4Sizes = value().split(",").map(Number);
        break;
      case "--w7-sizes":
        o.w7Sizes = value().split(",").map(Number);
        break;
      case "--w4-large-runs":
        o.w4LargeRuns = Number(value());
        break;
      case "--out":
        o.out = path.resolve(value());
        break;
      case "--pkg":
        o.pkg = value();
        break;
      case "--http-runs":
        o.httpRuns = Number(value());
        break;
      case "-h":
      // biome-ignore lint/suspicious/noFallthroughSwitchClause: process.exit() does not return
      case "--help":
        console.log(
          fs
            .readFileSync(fileURLToPath(import.meta.url), "utf8")
            .split("\n")
            .filter((l) => l.startsWith("//"))
            .map((l) => l.slice(3))
            .join("\n"),
        );
        process.exit(0);
      default:
        console.error(`bench: unknown option ${argv[i]} (try --help)`);
        process.exit(2);
    }
  }
  if (o.runs === undefined) o.runs = o.quick ? 3 : 5;
  if (!(Number.isInteger(o.runs) && o.runs > 0)) throw new Error("--runs must be a positive integer");
  if (!(o.scale > 0)) throw new Error("--scale must be > 0");
  const factor = (o.quick ? 0.1 : 1) * o.scale;
  o.size = (n) => Math.max(1, Math.round(n * factor));
  o.w4Sizes = o.w4Sizes.map(o.size);
  o.w7Sizes = o.w7Sizes.map(o.size);
  if (o.w4LargeRuns === undefined) o.w4LargeRuns = Math.min(o.runs, 3);
  return o;
}

// ---------------------------------------------------------------------------------------------
// what runs, and what it is compared against

const HIGHER = new Set(["exec/s", "calls/s", "req/s", "msg/s"]);

/**
 * Targets on the ratio execman/baseline (or /p-queue), per metric (issue 17, against the careful
 * baseline). `max`: ratio ≤ max; `min`: ratio ≥ min.
 */
const TARGETS = {
  "W0 start-up (process start -> constructed)": { baseline: { max: 2 } },
  "W1 lifecycle c=Inf": { baseline: { min: 1.5 }, pqueue: { min: 0.5 } },
  "W1 lifecycle c=64": { baseline: { min: 1.5 }, pqueue: { min: 0.5 } },
  "W2 tracked lifecycle": { baseline: { min: 1.5 } },
  "W3 status(id)": { baseline: { max: 0.7 } },
  "W3 progress(id)": { baseline: { max: 1.0 } },
  "W4 fill @1M": { baseline: { max: 1.5 } },
  "W5 reportProgress, no subscriber": { baseline: { min: 1.5 } },
  "W5 reportProgress, 1 subscriber": { baseline: { min: 1.5 } },
  "W5 ctx.progress": { baseline: { min: 1.5 } },
  "W6 memory (tracked)": { baseline: { max: 0.5 } },
  "W6 memory (handler)": { baseline: { max: 0.5 } },
  "W9 BullMQ jobs/s c=16": { baseline: { min: 0.8 } },
};
/** Targets of W10 (durable managers, execman alone): value ≤ max. */
const W10_TARGETS = {
  "W10 W2 file/memory time": 1.5,
  "W10 open": 2000,
  "W10 store bytes / JSON bytes": 1.2,
};
const W4_MAX_US = 50;
const W4_MAX_GROWTH = 1.5;
const W7_MAX_GROWTH = 1.5;
const WASM_MAX_GZ = 64 * 1024;

function cases(o) {
  const list = [
    { id: "W0", script: "w0-startup.mjs", impls: ["execman", "baseline"], args: [], runs: o.runs * 3 },
    {
      id: "W1/Inf",
      script: "w1-lifecycle.mjs",
      impls: ["execman", "baseline", "pqueue"],
      args: [`--size=${o.size(100_000)}`, "--concurrency=Infinity"],
    },
    {
      id: "W1/64",
      script: "w1-lifecycle.mjs",
      impls: ["execman", "baseline", "pqueue"],
      args: [`--size=${o.size(100_000)}`, "--concurrency=64"],
    },
    { id: "W2", script: "w2-tracked.mjs", impls: ["execman", "baseline"], args: [`--size=${o.size(100_000)}`] },
    {
      id: "W3",
      script: "w3-lookups.mjs",
      impls: ["execman", "baseline"],
      args: [`--size=${o.size(100_000)}`, `--lookups=${o.size(1_000_000)}`],
    },
    ...o.w4Sizes.map((n, i) => ({
      id: `W4/${human(n)}`,
      w4Size: n,
      sizeKey: n,
      script: "w4-listing.mjs",
      impls: ["execman", "baseline"],
      args: [`--size=${n}`, `--min-ms=${o.quick ? 100 : 200}`],
      runs: i === o.w4Sizes.length - 1 ? o.w4LargeRuns : o.runs,
    })),
    { id: "W5", script: "w5-progress.mjs", impls: ["execman", "baseline"], args: [`--size=${o.size(1_000_000)}`] },
    {
      id: "W7",
      script: "w7-scheduling.mjs",
      impls: ["execman", "baseline"],
      args: ["--mode=mixed", `--size=${o.size(100_000)}`],
    },
    ...o.w7Sizes.map((n, i) => ({
      id: `W7/held-${human(n)}`,
      sizeKey: n,
      script: "w7-scheduling.mjs",
      impls: ["execman", "baseline"],
      args: ["--mode=held", `--size=${n}`, `--dispatch=${o.size(10_000)}`],
      runs: i === o.w7Sizes.length - 1 ? o.w4LargeRuns : o.runs,
    })),
    // BullMQ on a redis-server of each run's own: enqueue + work against bare BullMQ (the
    // "baseline" column is bare BullMQ here), and progress -> producer latency.
    {
      id: "W9",
      script: "w9-bullmq.mjs",
      impls: ["execman", "baseline"],
      args: [`--size=${o.size(5000)}`, "--concurrency=16", `--reports=${Math.max(50, o.size(400))}`],
    },
    {
      id: "W6/tracked",
      script: "w6-memory.mjs",
      impls: ["execman", "baseline"],
      args: [`--size=${o.size(100_000)}`, "--mode=tracked"],
    },
    {
      id: "W6/handler",
      script: "w6-memory.mjs",
      impls: ["execman", "baseline"],
      args: [`--size=${o.size(100_000)}`, "--mode=handler"],
    },
    // W10, durable managers (execman only): W2 on a fileStore against memory, open() of a store of
    // 1,000,000 executions, store bytes per execution against its JSON, flush() latency.
    {
      id: "W10",
      script: "w10-durable.mjs",
      impls: ["execman"],
      args: [`--size=${o.size(100_000)}`, `--open-size=${o.size(1_000_000)}`, `--flushes=${o.size(1000)}`],
      runs: Math.min(o.runs, 3),
    },
    // W8, the HTTP server (execman only): requests/s and p99 with autocannon, then 1,000 SSE clients.
    {
      id: "W8/rest",
      script: "w8-http.mjs",
      impls: ["execman"],
      args: [`--seconds=${o.quick ? 1 : 3}`, "--mode=rest"],
      runs: o.httpRuns,
    },
    {
      id: "W8/sse",
      script: "w8-http.mjs",
      impls: ["execman"],
      args: ["--mode=sse", `--seconds=${o.quick ? 2 : 4}`, `--clients=${o.size(1000)}`, `--executions=${o.size(100)}`],
      runs: o.httpRuns,
    },
  ];
  for (const c of list) c.runs ??= o.runs;
  return o.only ? list.filter((c) => o.only.some((p) => c.id.toLowerCase().startsWith(p.toLowerCase()))) : list;
}

function human(n) {
  if (n >= 1e6 && n % 1e6 === 0) return `${n / 1e6}M`;
  if (n >= 1e3 && n % 1e3 === 0) return `${n / 1e3}k`;
  return String(n);
}

// ---------------------------------------------------------------------------------------------
// machine, package, sizes

function machine() {
  let cpu = os.cpus()[0]?.model ?? "unknown";
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync("/proc/cpuinfo", "utf8"));
    if (m) cpu = m[1].trim();
  } catch {}
  const git = (args) => {
    const r = spawnSync("git", args, { cwd: ROOT, encoding: "utf8" });
    return r.status === 0 ? r.stdout.trim() : null;
  };
  const dirty = git(["status", "--porcelain", "--", "src", "Cargo.toml", "Cargo.lock"]);
  return {
    cpu,
    cores: os.cpus().length,
    memoryGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
    node: process.version,
    v8: process.versions.v8,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    loadavgAtStart: os.loadavg().map((x) => +x.toFixed(2)),
    commit: git(["rev-parse", "--short", "HEAD"]),
    srcDirty: dirty === null ? null : dirty.length > 0,
  };
}

function pkgDir(o) {
  return o.pkg ? path.resolve(ROOT, o.pkg) : path.join(ROOT, "pkg");
}

function wasmHash(o) {
  // One .wasm at the package root; packages built before that kept one under node/.
  const f = [path.join(pkgDir(o), "execman_bg.wasm"), path.join(pkgDir(o), "node", "execman_bg.wasm")].find((p) =>
    fs.existsSync(p),
  );
  return f ? createHash("sha256").update(fs.readFileSync(f)).digest("hex").slice(0, 16) : null;
}

function ensureBuilt(o) {
  if (o.pkg) {
    if (!fs.existsSync(path.join(pkgDir(o), "node", "execman.js")))
      throw new Error(`--pkg ${o.pkg}: no node/execman.js`);
  } else if (!fs.existsSync(path.join(ROOT, "pkg", "node", "execman.js"))) {
    console.log("bench: pkg/ is missing; building it (node scripts/build.mjs)");
    const r = spawnSync(process.execPath, [path.join(ROOT, "scripts", "build.mjs")], { cwd: ROOT, stdio: "inherit" });
    if (r.status !== 0) throw new Error("bench: the build failed");
  }
  if (!fs.existsSync(path.join(ROOT, "node_modules", "p-queue", "package.json"))) {
    console.log("bench: p-queue is not installed; installing npm packages (bash scripts/setup.sh --minimal)");
    const r = spawnSync("bash", [path.join(ROOT, "scripts", "setup.sh"), "--minimal"], { cwd: ROOT, stdio: "inherit" });
    if (r.status !== 0) throw new Error("bench: setup failed");
  }
}

function sizes(o) {
  return packageSizes(pkgDir(o));
}

// ---------------------------------------------------------------------------------------------
// running

function runOne(c, impl, o) {
  const args = ["--expose-gc", path.join(WORKLOADS, c.script), `--impl=${impl}`, ...c.args];
  if (o.pkg && impl === "execman") args.push(`--pkg=${o.pkg}`);
  const t0 = Date.now();
  const r = spawnSync(process.execPath, args, {
    cwd: ROOT,
    encoding: "utf8",
    maxBuffer: 16 * 1024 * 1024,
    timeout: 15 * 60 * 1000,
  });
  const line = (r.stdout || "")
    .split("\n")
    .reverse()
    .find((l) => l.startsWith("BENCH_RESULT "));
  if (r.status !== 0 || !line) {
    const why = r.error ? r.error.message : `exit ${r.status ?? r.signal}`;
    return {
      error: `${c.id} ${impl}: ${why}\n${(r.stderr || "").trim().split("\n").slice(-8).join("\n")}`,
      seconds: (Date.now() - t0) / 1000,
    };
  }
  return { ...JSON.parse(line.slice("BENCH_RESULT ".length)), seconds: (Date.now() - t0) / 1000 };
}

/** Appends `value` to `table[key][impl]`, creating the levels it lacks. */
function append(table, key, impl, value) {
  table[key] ??= {};
  table[key][impl] ??= [];
  table[key][impl].push(value);
}

function median(values) {
  const s = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return NaN;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

// ---------------------------------------------------------------------------------------------
// formatting

function fmt(v, unit) {
  if (!Number.isFinite(v)) return "—";
  if (HIGHER.has(unit)) {
    if (v >= 1e6) return `${(v / 1e6).toFixed(2)} M`;
    if (v >= 1e3) return `${(v / 1e3).toFixed(1)} k`;
    return v.toFixed(0);
  }
  if (v >= 1000) return v.toFixed(0);
  if (v >= 100) return v.toFixed(1);
  if (v >= 10) return v.toFixed(2);
  return v.toFixed(3);
}

const fmtRatio = (r) => (!Number.isFinite(r) ? "—" : r >= 0.1 ? `${r.toFixed(2)}×` : `${r.toPrecision(2)}×`);

function judge(ratio, t) {
  if (!t || !Number.isFinite(ratio)) return null;
  if (t.max !== undefined) return { text: `≤ ${t.max}×`, met: ratio <= t.max };
  return { text: `≥ ${t.min}×`, met: ratio >= t.min };
}

function table(headers, rows, align) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) =>
    `| ${cells.map((c, i) => (align[i] === "r" ? String(c).padStart(widths[i]) : String(c).padEnd(widths[i]))).join(" | ")} |`;
  return [
    line(headers),
    `|${widths.map((w, i) => (align[i] === "r" ? `${"-".repeat(w + 1)}:` : `${"-".repeat(w + 2)}`)).join("|")}|`,
    ...rows.map(line),
  ].join("\n");
}

// ---------------------------------------------------------------------------------------------

async function mainRun() {
  const o = parseOptions(process.argv.slice(2));
  ensureBuilt(o);
  const started = new Date();
  const info = machine();
  const hashAtStart = wasmHash(o);
  const size = sizes(o);
  const plan = cases(o);
  const totalProcs = plan.reduce((n, c) => n + c.runs * c.impls.length, 0);

  console.log(
    `bench: ${info.cpu}, ${info.cores} cores, ${info.memoryGiB} GiB, Node ${info.node}, load average ${info.loadavgAtStart.join(" ")}`,
  );
  console.log(
    `bench: execman ${o.pkg ?? "pkg/"} (wasm sha256 ${hashAtStart}, commit ${info.commit}${info.srcDirty ? " + uncommitted src/" : ""}); ` +
      `${plan.length} cases, ${totalProcs} processes, runs ${o.runs}${o.quick ? " (--quick: sizes / 10)" : ""}`,
  );

  // results[metric][impl] = [values per run]; units[metric] = unit; w4[size][query][impl] = [values]
  const results = {};
  const units = {};
  const infos = {};
  const errors = [];
  let done = 0;
  const tty = process.stderr.isTTY;
  for (const c of plan) {
    const t0 = Date.now();
    for (let r = 0; r < c.runs; r++) {
      // Rotate the order of implementations from run to run, so neither always goes first.
      const order = c.impls.map((_, i) => c.impls[(i + r) % c.impls.length]);
      for (const impl of order) {
        const res = runOne(c, impl, o);
        done++;
        if (tty)
          process.stderr.write(
            `\rbench: [${String(done).padStart(3)}/${totalProcs}] ${c.id.padEnd(11)} run ${r + 1}/${c.runs} ${impl.padEnd(8)} ${res.seconds.toFixed(1).padStart(5)} s   `,
          );
        if (res.error) {
          errors.push(res.error);
          process.stderr.write(`\nbench: FAILED ${res.error}\n`);
          continue;
        }
        for (const [name, m] of Object.entries(res.metrics)) {
          const key = c.sizeKey !== undefined ? `${name} @${human(c.sizeKey)}` : name;
          units[key] = m.unit;
          append(results, key, impl, m.value);
        }
        append(infos, c.id, impl, res.info);
      }
    }
    process.stderr.write(
      `${tty ? "\r" : ""}bench: ${c.id.padEnd(11)} ${c.runs} run(s) x ${c.impls.join(", ")} done in ${((Date.now() - t0) / 1000).toFixed(0)} s${tty ? " ".repeat(30) : ""}\n`,
    );
  }
  const hashAtEnd = wasmHash(o);
  info.loadavgAtEnd = os.loadavg().map((x) => +x.toFixed(2));

  // ---- aggregate
  const figures = {};
  for (const [name, byImpl] of Object.entries(results)) {
    const unit = units[name];
    const med = Object.fromEntries(Object.entries(byImpl).map(([impl, vals]) => [impl, median(vals)]));
    const ratio = med.execman / med.baseline;
    const ratioPq = med.execman / med.pqueue;
    const t = TARGETS[name] || {};
    figures[name] = {
      unit,
      better: HIGHER.has(unit) ? "higher" : "lower",
      runs: byImpl,
      median: med,
      ratio: Number.isFinite(ratio) ? ratio : null,
      // W10's targets are on execman's own figures (there is no baseline of a durable manager).
      target:
        W10_TARGETS[name] !== undefined
          ? { text: `≤ ${W10_TARGETS[name]} ${unit}`, met: med.execman <= W10_TARGETS[name] }
          : judge(ratio, t.baseline),
      ratioPqueue: Number.isFinite(ratioPq) ? ratioPq : null,
      targetPqueue: judge(ratioPq, t.pqueue),
    };
  }

  // ---- W4: per query, µs per page at each size, growth smallest -> largest
  const w4Sizes = o.w4Sizes.filter((n) => plan.some((c) => c.w4Size === n));
  const w4Queries = [
    ...new Set(
      Object.keys(results)
        .filter((k) => k.startsWith("W4 list "))
        .map((k) => k.replace(/^W4 list (.*) @\S+$/, "$1")),
    ),
  ];
  const w4 = [];
  for (const q of w4Queries) {
    const at = (impl, n) => figures[`W4 list ${q} @${human(n)}`]?.median[impl] ?? NaN;
    const small = w4Sizes[0];
    const large = w4Sizes[w4Sizes.length - 1];
    const row = {
      query: q,
      execman: Object.fromEntries(w4Sizes.map((n) => [human(n), at("execman", n)])),
      baseline: Object.fromEntries(w4Sizes.map((n) => [human(n), at("baseline", n)])),
      growthExecman: at("execman", large) / at("execman", small),
      growthBaseline: at("baseline", large) / at("baseline", small),
      ratioAtLargest: at("execman", large) / at("baseline", large),
    };
    row.metMaxUs = at("execman", large) <= W4_MAX_US;
    row.metGrowth = w4Sizes.length > 1 ? row.growthExecman <= W4_MAX_GROWTH : null;
    w4.push(row);
  }

  // ---- print
  const out = [];
  const yes = (m) => (m === null || m === undefined ? "" : m ? "met" : "NOT met");
  out.push(`## execman benchmark — ${started.toISOString().slice(0, 16).replace("T", " ")} UTC`);
  out.push("");
  out.push(
    `Machine: ${info.cpu}, ${info.cores} cores, ${info.memoryGiB} GiB RAM, ${info.os}; Node ${info.node} (V8 ${info.v8}).`,
  );
  out.push(
    `Load average at start ${info.loadavgAtStart.join(" ")}, at end ${info.loadavgAtEnd.join(" ")} (other work shares this machine: figures are noisy, ratios within one run are what matters).`,
  );
  out.push(
    `execman: commit ${info.commit}${info.srcDirty ? " with uncommitted src/ changes" : ""}, wasm sha256 ${hashAtStart}${hashAtEnd !== hashAtStart ? ` — WARNING: pkg/ changed during the run (now ${hashAtEnd}); figures mix builds` : ""}.`,
  );
  out.push(
    `Medians of ${o.runs} runs per implementation (W0: ${o.runs * 3}; W4 at ${human(w4Sizes[w4Sizes.length - 1] ?? 0)}: ${o.w4LargeRuns}), each in a fresh process${o.quick ? "; --quick: sizes / 10" : ""}. Ratio = execman / baseline (for rates higher is better, for times and bytes lower is better).`,
  );
  out.push("");
  const main = Object.keys(figures)
    .filter((k) => !k.startsWith("W4 list ") && !k.startsWith("W7 dispatch"))
    .sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
  const rows = main.map((name) => {
    const f = figures[name];
    const hasPq = f.median.pqueue !== undefined;
    return [
      name,
      f.unit,
      fmt(f.median.execman, f.unit),
      fmt(f.median.baseline, f.unit),
      fmtRatio(f.ratio),
      hasPq ? fmt(f.median.pqueue, f.unit) : "",
      hasPq ? fmtRatio(f.ratioPqueue) : "",
      [f.target?.text, f.targetPqueue ? `${f.targetPqueue.text} p-queue` : null].filter(Boolean).join(", "),
      [f.target ? yes(f.target.met) : "", f.targetPqueue ? `${yes(f.targetPqueue.met)} (p-queue)` : ""]
        .filter(Boolean)
        .join(", "),
    ];
  });
  out.push(
    table(["figure", "unit", "execman", "baseline", "ratio", "p-queue", "ratio", "target", "result"], rows, [
      "l",
      "l",
      "r",
      "r",
      "r",
      "r",
      "r",
      "l",
      "l",
    ]),
  );
  out.push("");
  if (w4.length) {
    out.push(
      `W4 listing, µs per page (pageSize 50), held executions ${w4Sizes.map(human).join(" / ")}; target: ≤ ${W4_MAX_US} µs at ${human(w4Sizes[w4Sizes.length - 1])} and growth ≤ ${W4_MAX_GROWTH}× ${human(w4Sizes[0])} → ${human(w4Sizes[w4Sizes.length - 1])}.`,
    );
    out.push("");
    const hdr = [
      "list query",
      ...w4Sizes.map((n) => `execman ${human(n)}`),
      "growth",
      ...w4Sizes.map((n) => `baseline ${human(n)}`),
      "growth",
      `ratio @${human(w4Sizes[w4Sizes.length - 1])}`,
      `≤ ${W4_MAX_US} µs`,
      `growth ≤ ${W4_MAX_GROWTH}×`,
    ];
    const w4rows = w4.map((r) => [
      r.query,
      ...w4Sizes.map((n) => fmt(r.execman[human(n)], "µs")),
      fmtRatio(r.growthExecman),
      ...w4Sizes.map((n) => fmt(r.baseline[human(n)], "µs")),
      fmtRatio(r.growthBaseline),
      fmtRatio(r.ratioAtLargest),
      yes(r.metMaxUs),
      yes(r.metGrowth),
    ]);
    out.push(table(hdr, w4rows, ["l", ...w4Sizes.map(() => "r"), "r", ...w4Sizes.map(() => "r"), "r", "r", "l", "l"]));
    const pop = (impl) =>
      w4Sizes
        .map((n) => {
          const runs = infos[`W4/${human(n)}`]?.[impl] ?? [];
          return `${human(n)} ${fmt(median(runs.map((i) => i.populateMs)) / 1000, "s")} s`;
        })
        .join(", ");
    out.push("");
    out.push(`(Populating, not timed in the figures: execman ${pop("execman")}; baseline ${pop("baseline")}.)`);
    out.push("");
  }
  // ---- W7: the dispatch cost with executions held pending, growth smallest -> largest
  const w7Sizes = o.w7Sizes.filter((n) => plan.some((c) => c.id === `W7/held-${human(n)}`));
  let w7 = null;
  if (w7Sizes.length) {
    const at = (impl, n) => figures[`W7 dispatch, held pending @${human(n)}`]?.median[impl] ?? NaN;
    const small = w7Sizes[0];
    const large = w7Sizes[w7Sizes.length - 1];
    w7 = {
      sizes: w7Sizes,
      maxGrowth: W7_MAX_GROWTH,
      execman: Object.fromEntries(w7Sizes.map((n) => [human(n), at("execman", n)])),
      baseline: Object.fromEntries(w7Sizes.map((n) => [human(n), at("baseline", n)])),
      growthExecman: at("execman", large) / at("execman", small),
      growthBaseline: at("baseline", large) / at("baseline", small),
    };
    w7.metGrowth = w7Sizes.length > 1 ? w7.growthExecman <= W7_MAX_GROWTH : null;
    out.push(
      `W7 dispatch cost, µs per execution (10,000 with random priorities through concurrency 16), executions held pending ${w7Sizes.map(human).join(" / ")} (half delayed, half due below them); target: growth ≤ ${W7_MAX_GROWTH}× ${human(small)} → ${human(large)}.`,
    );
    out.push("");
    out.push(
      table(
        ["", ...w7Sizes.map(human), "growth", `growth ≤ ${W7_MAX_GROWTH}×`],
        [
          [
            "execman",
            ...w7Sizes.map((n) => fmt(at("execman", n), "µs")),
            fmtRatio(w7.growthExecman),
            yes(w7.metGrowth),
          ],
          ["baseline", ...w7Sizes.map((n) => fmt(at("baseline", n), "µs")), fmtRatio(w7.growthBaseline), ""],
        ],
        ["l", ...w7Sizes.map(() => "r"), "r", "l"],
      ),
    );
    const pop = (impl) =>
      w7Sizes
        .map((n) => {
          const runs = infos[`W7/held-${human(n)}`]?.[impl] ?? [];
          return `${human(n)} ${fmt(median(runs.map((i) => i.populateMs)) / 1000, "s")} s`;
        })
        .join(", ");
    out.push("");
    out.push(`(Holding, not timed in the figures: execman ${pop("execman")}; baseline ${pop("baseline")}.)`);
    out.push("");
  }
  const sizeRows = Object.entries(size).map(([k, v]) => [
    k,
    String(v.raw),
    String(v.gz),
    k.endsWith(".wasm") ? `≤ ${WASM_MAX_GZ} gz` : "",
    k.endsWith(".wasm") ? yes(v.gz <= WASM_MAX_GZ) : "",
  ]);
  out.push(table(["size", "raw B", "gzip -9 B", "target", "result"], sizeRows, ["l", "r", "r", "l", "l"]));
  out.push("");
  const w6 = (mode) => {
    const e = infos[`W6/${mode}`]?.execman;
    if (!e?.length) return null;
    return `${mode}: wasm ${fmt(median(e.map((i) => i.wasmBytesPerExec)), "B")} + JS heap ${fmt(median(e.map((i) => i.heapBytesPerExec)), "B")} B/exec`;
  };
  const w6parts = [w6("tracked"), w6("handler")].filter(Boolean);
  if (w6parts.length)
    out.push(
      `W6 execman split — ${w6parts.join("; ")} (wasm memory read from the instance captured at WebAssembly.Instance construction).`,
    );
  const w8 = infos["W8/sse"]?.execman?.at(-1);
  if (w8) {
    const part = (name) => {
      const x = w8[name];
      if (!x) return null;
      return `${name}: ${Math.round(x.received)} messages received of ${Math.round(x.offered)} sent (${(100 * x.share).toFixed(0)}%), server CPU ${x.serverCpuCores.toFixed(2)} cores, RSS ${x.rssMiB.toFixed(0)} MiB (+${x.rssGrowthMiB.toFixed(0)}), heap ${x.heapUsedMiB.toFixed(1)} MiB, ${x.counts.streams} subscription(s) for ${x.counts.clients} streams, connected in ${(x.connectMs / 1000).toFixed(1)} s`;
    };
    out.push(
      `W8 SSE (${w8.clients} clients, ${w8.executions} executions reporting every ${w8.everyMs} ms, last run) — ${[part("one"), part("all")].filter(Boolean).join("; ")}; after they left: ${w8.afterClientsLeft.counts.clients} streams, heap ${w8.afterClientsLeft.heapUsedMiB.toFixed(1)} MiB.`,
    );
  }
  const w0 = infos.W0;
  if (w0) {
    const b = (impl) => fmt(median((w0[impl] ?? []).map((i) => i.bootstrapMs)), "ms");
    out.push(
      `W0: Node's own bootstrap before the script runs is ~${b("execman")} ms (execman runs) / ~${b("baseline")} ms (baseline runs) of the start-up figure; "require + construct" is the part the module controls.`,
    );
  }
  if (errors.length) {
    out.push("");
    out.push(`${errors.length} process(es) FAILED:`);
    for (const e of errors) out.push(`  ${e.split("\n").join("\n  ")}`);
  }
  const finished = new Date();
  out.push("");
  out.push(`Total ${((finished - started) / 1000).toFixed(0)} s.`);
  const text = out.join("\n");
  console.log(`\n${text}`);

  const json = {
    started: started.toISOString(),
    finished: finished.toISOString(),
    seconds: (finished - started) / 1000,
    machine: info,
    wasmSha256: { start: hashAtStart, end: hashAtEnd },
    options: {
      runs: o.runs,
      quick: o.quick,
      scale: o.scale,
      only: o.only,
      w4Sizes: o.w4Sizes,
      w4LargeRuns: o.w4LargeRuns,
      w7Sizes: o.w7Sizes,
      pkg: o.pkg ?? "pkg",
    },
    figures,
    w4: { sizes: w4Sizes, maxUs: W4_MAX_US, maxGrowth: W4_MAX_GROWTH, queries: w4 },
    w7,
    size: Object.fromEntries(
      Object.entries(size).map(([k, v]) => [
        k,
        { ...v, ...(k.endsWith(".wasm") ? { targetGz: WASM_MAX_GZ, met: v.gz <= WASM_MAX_GZ } : {}) },
      ]),
    ),
    info: infos,
    errors,
  };
  fs.mkdirSync(path.dirname(o.out), { recursive: true });
  fs.writeFileSync(o.out, `${JSON.stringify(json, null, 2)}\n`);
  const mdOut = `${o.out.replace(/\.json$/, "")}.md`;
  fs.writeFileSync(mdOut, `${text}\n`);
  console.log(`bench: wrote ${path.relative(ROOT, o.out)} and ${path.relative(ROOT, mdOut)}`);
  if (errors.length) process.exitCode = 1;
}

mainRun().catch((e) => {
  console.error(`bench: ${e?.stack ? e.stack : e}`);
  process.exit(1);
});
