#!/usr/bin/env node
// CPU profiles of the execman side of the benchmark workloads, summarised by self time, plus a
// size breakdown of the .wasm by crate. For the lead: where does the time (and the size) go?
//
//   node bench/profile.mjs [--only W1,W3] [--quick] [--top N]
//
// 1. Builds a profiling copy of the package in target/bench/prof-pkg/: the cargo output
//    (target/wasm32-unknown-unknown/release/execman.wasm, as left by the last `npm run build`)
//    through wasm-bindgen --target nodejs and wasm-opt with the build's flags plus -g, which keeps
//    the name section so wasm functions show up by their Rust names instead of wasm-function[N].
//    (The shipped pkg/ has no name section.) Cached by the input's hash.
// 2. Runs the chosen workloads with --impl=execman --pkg=target/bench/prof-pkg and
//    EXECMAN_BENCH_PROFILE_DIR set: each timed section (not the set-up) is recorded with the V8
//    CPU profiler (the sampler behind `node --cpu-prof`, 100 µs interval) into
//    target/bench/profiles/<case>/*.cpuprofile (open them in Chrome DevTools or speedscope).
// 3. Prints, per section: self time by category (wasm / JS glue pkg/node/execman_core.js / JS layer pkg/node/manager.js / workload /
//    GC / V8 & Node internals), the top functions by self time, and wasm self time by crate.
//    Written to target/bench/profiles/summary.md as well.
//
// Default cases: those whose target is not met in target/bench/latest.json (all if there is none).

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const OUT = path.join(ROOT, "target", "bench");
const PROF_PKG = path.join(OUT, "prof-pkg");
const PROFILES = path.join(OUT, "profiles");

// The flags scripts/build.mjs passes to wasm-opt (kept in step by hand), plus -g.
const WASM_OPT_ARGS = [
  "-Oz",
  "--enable-bulk-memory",
  "--enable-bulk-memory-opt",
  "--enable-nontrapping-float-to-int",
  "--enable-sign-ext",
  "--enable-mutable-globals",
  "--enable-reference-types",
  "--enable-multivalue",
  "--enable-call-indirect-overlong",
  "--strip-producers",
  "-g",
];

const argv = process.argv.slice(2);
const opt = (name) => {
  const i = argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i === -1) return undefined;
  return argv[i].includes("=")
    ? argv[i].split("=").slice(1).join("=")
    : argv[i + 1] && !argv[i + 1].startsWith("--")
      ? argv[i + 1]
      : "true";
};
const quick = opt("quick") === "true";
const topN = Number(opt("top") ?? 12);
const factor = quick ? 0.1 : 1;
const sz = (n) => Math.max(1, Math.round(n * factor));

const CASES = [
  {
    id: "W1/Inf",
    figures: ["W1 lifecycle c=Inf"],
    script: "w1-lifecycle.mjs",
    args: [`--size=${sz(100_000)}`, "--concurrency=Infinity"],
  },
  {
    id: "W1/64",
    figures: ["W1 lifecycle c=64"],
    script: "w1-lifecycle.mjs",
    args: [`--size=${sz(100_000)}`, "--concurrency=64"],
  },
  { id: "W2", figures: ["W2 tracked lifecycle"], script: "w2-tracked.mjs", args: [`--size=${sz(100_000)}`] },
  {
    id: "W3",
    figures: ["W3 status(id)", "W3 progress(id)"],
    script: "w3-lookups.mjs",
    args: [`--size=${sz(100_000)}`, `--lookups=${sz(1_000_000)}`],
  },
  // Per-page cost is flat in the number held, so 100k shows the same profile as 1M without the 20 s populate.
  { id: "W4", figures: ["W4"], script: "w4-listing.mjs", args: [`--size=${sz(100_000)}`, "--min-ms=300"] },
  {
    id: "W5",
    figures: ["W5 reportProgress, no subscriber", "W5 reportProgress, 1 subscriber", "W5 ctx.progress"],
    script: "w5-progress.mjs",
    args: [`--size=${sz(1_000_000)}`],
  },
];

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: "utf8", maxBuffer: 64 * 1024 * 1024, ...opts });
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(" ")} failed (${r.status ?? r.signal}):\n${r.stderr || r.error}`);
  return r.stdout;
}

function toolPath() {
  return [path.join(process.env.CARGO_HOME || path.join(os.homedir(), ".cargo"), "bin"), process.env.PATH || ""].join(
    path.delimiter,
  );
}

/** target/bench/prof-pkg: the nodejs build of the current cargo output, wasm-opt'ed with names kept. */
function buildProfilingPackage() {
  const src = path.join(ROOT, "target", "wasm32-unknown-unknown", "release", "execman.wasm");
  if (!fs.existsSync(src)) throw new Error(`${path.relative(ROOT, src)} is missing: run npm run build first`);
  const input = fs.readFileSync(src);
  const layer = path.join(ROOT, "pkg", "node", "manager.js");
  if (!fs.existsSync(layer)) throw new Error("pkg/node/manager.js is missing: run npm run build first");
  const key = createHash("sha256")
    .update(input)
    .update(WASM_OPT_ARGS.join(" "))
    .update(fs.readFileSync(layer))
    .digest("hex")
    .slice(0, 16);
  const stamp = path.join(PROF_PKG, ".key");
  const nodeDir = path.join(PROF_PKG, "node");
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, "utf8") === key) return { key, cached: true };
  fs.rmSync(PROF_PKG, { recursive: true, force: true });
  fs.mkdirSync(nodeDir, { recursive: true });
  const env = { ...process.env, PATH: toolPath() };
  run("wasm-bindgen", [src, "--target", "nodejs", "--out-dir", nodeDir, "--out-name", "execman"], { env });
  const wasm = path.join(nodeDir, "execman_bg.wasm");
  run(path.join(ROOT, "node_modules", ".bin", "wasm-opt"), [...WASM_OPT_ARGS, wasm, "-o", `${wasm}.opt`]);
  fs.renameSync(`${wasm}.opt`, wasm);
  if (fs.existsSync(path.join(nodeDir, "snippets"))) {
    // scripts/build.mjs rewrites the nodejs snippets to CommonJS; reuse its output when it matches.
    fs.rmSync(path.join(nodeDir, "snippets"), { recursive: true, force: true });
    fs.cpSync(path.join(ROOT, "pkg", "node", "snippets"), path.join(nodeDir, "snippets"), { recursive: true });
  }
  // The JS layer, as scripts/build.mjs packs it: wasm-bindgen's module becomes execman_core.js.
  fs.renameSync(path.join(nodeDir, "execman.js"), path.join(nodeDir, "execman_core.js"));
  // Every other module of the JS layer (manager.js, file-store.js, …) as pkg/node has it.
  for (const f of fs.readdirSync(path.join(ROOT, "pkg", "node"))) {
    if (f.endsWith(".js") && f !== "execman_core.js") {
      fs.copyFileSync(path.join(ROOT, "pkg", "node", f), path.join(nodeDir, f));
    }
  }
  fs.writeFileSync(path.join(nodeDir, "package.json"), '{ "type": "commonjs" }\n');
  fs.writeFileSync(
    path.join(PROF_PKG, "package.json"),
    '{ "name": "execman-profiling", "main": "./node/execman.js" }\n',
  );
  fs.writeFileSync(stamp, key);
  return { key, cached: false };
}

// --- .cpuprofile analysis ------------------------------------------------------------------

function category(frame) {
  const { url, functionName } = frame;
  if (url.startsWith("wasm://") || /\.wasm$/.test(url)) return "wasm";
  if (/\/node\/execman_core\.js$/.test(url)) return "JS glue";
  if (/\/node\/manager\.js$/.test(url)) return "JS layer";
  if (url.includes("/bench/")) return "workload";
  if (functionName === "(garbage collector)") return "GC";
  if (functionName === "(idle)") return "idle";
  if (functionName === "(program)") return "V8 (program)";
  if (url === "") return "V8 builtins/native";
  return "Node internals";
}

/**
 * The Rust crate a (demangled) wasm function belongs to: `execman::core::json::write_str` ->
 * execman, `<alloc[..]::string::String as core[..]::fmt::Write>::write_str` -> alloc,
 * `<u64 as itoa::Unsigned>::fmt` -> itoa; wasm-bindgen's generated export shims and V8's
 * JS<->wasm call stubs get their own groups.
 */
function crateOf(name) {
  const n = name.replace(/^\$/, "").replace(/\[[0-9a-f]{8,}\]/g, "");
  if (/^(wasm-to-js|js-to-wasm)/.test(n)) return "(JS<->wasm call stubs)";
  if (/ shim/.test(n)) return "(exported methods: wasm-bindgen shims, bodies inlined)";
  if (/^(__wbg|__wbindgen|__externref)/.test(n)) return "wasm_bindgen";
  if (/^(dlmalloc|malloc|free|realloc|calloc|memcpy|memmove|memset|memcmp|compiler_builtins)/.test(n))
    return "libc/alloc";
  const inner = n
    .replace(/^<+/, "")
    .replace(/^&(mut )?/, "")
    .replace(/^(dyn|impl) /, "");
  let m = /^([A-Za-z_][A-Za-z0-9_]*)::/.exec(inner);
  if (m) return m[1] === "dlmalloc" ? "libc/alloc" : m[1];
  m = / as ([A-Za-z_][A-Za-z0-9_]*)::/.exec(n);
  if (m) return m[1];
  return n.length > 40 ? `${n.slice(0, 40)}…` : n;
}

const sources = new Map();
/** For an anonymous function of the JS glue: the wasm-bindgen import it belongs to (`__wbg_parse_…` -> `import parse`). */
function glueContext(frame) {
  const file = frame.url.replace(/^file:\/\//, "");
  if (!sources.has(file)) sources.set(file, fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n") : []);
  const lines = sources.get(file);
  for (let i = Math.min(frame.lineNumber, lines.length - 1); i >= 0 && i > frame.lineNumber - 8; i--) {
    const m = /^\s*(__wbg_?\w+?)(?:_[0-9a-f]{16})?\s*:/.exec(lines[i]);
    if (m) return `import ${m[1].replace(/^__wbg_+/, "").replace(/^wbindgen_/, "wbindgen_")}`;
  }
  return null;
}

function shortName(frame, parentFrame) {
  let n = frame.functionName || "(anonymous)";
  n = n.replace(/::h[0-9a-f]{16}$/, "").replace(/\[[0-9a-f]{8,}\]/g, "");
  if (n.length > 90) n = `${n.slice(0, 87)}...`;
  if (frame.url === "" && parentFrame && !n.startsWith("(")) {
    // A V8 builtin / native function: say who called it.
    return `${n} [native, called by ${shortName(parentFrame).slice(0, 70)}]`;
  }
  if (/\/node\/execman\.js$/.test(frame.url) && (n === "(anonymous)" || n === "")) {
    const ctx = glueContext(frame);
    if (ctx) n = `(anonymous in ${ctx})`;
  }
  const file = frame.url ? frame.url.split("/").pop() : "";
  return file && !file.endsWith(".wasm") && !frame.url.startsWith("wasm://")
    ? `${n} (${file}:${frame.lineNumber + 1})`
    : n;
}

function analyse(file) {
  const p = JSON.parse(fs.readFileSync(file, "utf8"));
  const nodes = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of p.nodes) for (const c of n.children || []) parent.set(c, n);
  const self = new Map();
  const cats = new Map();
  const crates = new Map();
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const node = nodes.get(p.samples[i]);
    const dt = p.timeDeltas[i] ?? 0;
    if (!node || dt <= 0) continue;
    const f = node.callFrame;
    const cat = category(f);
    if (cat === "idle") continue;
    total += dt;
    const key = `${cat}\u0000${shortName(f, parent.get(node.id)?.callFrame)}`;
    self.set(key, (self.get(key) || 0) + dt);
    cats.set(cat, (cats.get(cat) || 0) + dt);
    if (cat === "wasm") {
      const c = crateOf(f.functionName);
      crates.set(c, (crates.get(c) || 0) + dt);
    }
  }
  const sorted = (m) => [...m].sort((a, b) => b[1] - a[1]);
  return { total, categories: sorted(cats), top: sorted(self), crates: sorted(crates) };
}

function pct(x, total) {
  return `${((x / total) * 100).toFixed(1).padStart(5)}%`;
}

function summarise(name, a) {
  const out = [];
  out.push(`#### ${name} — ${(a.total / 1000).toFixed(0)} ms sampled`);
  out.push("");
  out.push(`by category: ${a.categories.map(([c, t]) => `${c} ${pct(t, a.total).trim()}`).join(", ")}`);
  if (a.crates.length)
    out.push(
      `wasm by crate: ${a.crates
        .slice(0, 8)
        .map(([c, t]) => `${c} ${pct(t, a.total).trim()}`)
        .join(", ")}`,
    );
  out.push("");
  out.push("```");
  out.push(`${"self ms".padStart(8)} ${"%".padStart(6)}  category     function`);
  for (const [key, t] of a.top.slice(0, topN)) {
    const [cat, fn] = key.split("\u0000");
    out.push(`${(t / 1000).toFixed(1).padStart(8)} ${pct(t, a.total)}  ${cat.padEnd(12)} ${fn}`);
  }
  out.push("```");
  out.push("");
  return out.join("\n");
}

// --- .wasm size by crate (from the name section of the profiling build) ---------------------

function readLeb(buf, pos) {
  let result = 0;
  let shift = 0;
  let byte;
  do {
    byte = buf[pos++];
    result += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  } while (byte & 0x80);
  return [result, pos];
}

function wasmSizeByCrate(file) {
  const buf = fs.readFileSync(file);
  let pos = 8;
  let imported = 0;
  const bodies = [];
  const names = new Map();
  const sections = {};
  while (pos < buf.length) {
    const id = buf[pos++];
    let size;
    [size, pos] = readLeb(buf, pos);
    const end = pos + size;
    if (id === 2) {
      // imports: count function imports (they take the first function indices)
      let p = pos;
      let count;
      [count, p] = readLeb(buf, p);
      for (let i = 0; i < count; i++) {
        let len;
        [len, p] = readLeb(buf, p);
        p += len;
        [len, p] = readLeb(buf, p);
        p += len;
        const kind = buf[p++];
        if (kind === 0) {
          [, p] = readLeb(buf, p);
          imported++;
        } else if (kind === 1) {
          p++;
          const flags = buf[p++];
          [, p] = readLeb(buf, p);
          if (flags & 1) [, p] = readLeb(buf, p);
        } else if (kind === 2) {
          const flags = buf[p++];
          [, p] = readLeb(buf, p);
          if (flags & 1) [, p] = readLeb(buf, p);
        } else if (kind === 3) {
          p += 2;
        } else if (kind === 4) {
          p++;
          [, p] = readLeb(buf, p);
        }
      }
    } else if (id === 10) {
      let p = pos;
      let count;
      [count, p] = readLeb(buf, p);
      for (let i = 0; i < count; i++) {
        let len;
        const start = p;
        [len, p] = readLeb(buf, p);
        bodies.push(p + len - start);
        p += len;
      }
    } else if (id === 0) {
      const [len, nameStart] = readLeb(buf, pos);
      const secName = buf.subarray(nameStart, nameStart + len).toString("utf8");
      let p = nameStart + len;
      sections[`custom:${secName}`] = size;
      if (secName === "name") {
        while (p < end) {
          const sub = buf[p++];
          let subSize;
          [subSize, p] = readLeb(buf, p);
          const subEnd = p + subSize;
          if (sub === 1) {
            let count;
            let q = p;
            [count, q] = readLeb(buf, q);
            for (let i = 0; i < count; i++) {
              let idx;
              let nlen;
              [idx, q] = readLeb(buf, q);
              [nlen, q] = readLeb(buf, q);
              names.set(idx, buf.subarray(q, q + nlen).toString("utf8"));
              q += nlen;
            }
          }
          p = subEnd;
        }
      }
    }
    if (id !== 0)
      sections[
        [
          "custom",
          "type",
          "import",
          "function",
          "table",
          "memory",
          "global",
          "export",
          "start",
          "element",
          "code",
          "data",
          "datacount",
        ][id] ?? `id${id}`
      ] = size;
    pos = end;
  }
  const byCrate = new Map();
  const byModule = new Map();
  const fns = [];
  bodies.forEach((b, i) => {
    const name = names.get(i + imported) ?? `func${i + imported}`;
    const c = crateOf(name);
    byCrate.set(c, (byCrate.get(c) || 0) + b);
    // execman's own code by module (execman::core::rest, execman::wasm::convert, …); exported
    // methods by name (their shims have the method bodies inlined).
    const m = /^<*(execman::\w+::\w+)/.exec(name) || /^(executionmanager_\w+)/.exec(name);
    if (m) byModule.set(m[1], (byModule.get(m[1]) || 0) + b);
    fns.push([name.replace(/::h[0-9a-f]{16}$/, ""), b]);
  });
  const codeTotal = bodies.reduce((a, b) => a + b, 0);
  return {
    sections,
    codeTotal,
    byCrate: [...byCrate].sort((a, b) => b[1] - a[1]),
    byModule: [...byModule].sort((a, b) => b[1] - a[1]),
    topFunctions: fns.sort((a, b) => b[1] - a[1]).slice(0, 15),
  };
}

// --- main ------------------------------------------------------------------------------------

function chooseCases() {
  const only = opt("only");
  if (only && only !== "true") {
    const wanted = only.split(",").map((s) => s.trim().toLowerCase());
    return CASES.filter((c) => wanted.some((w) => c.id.toLowerCase().startsWith(w)));
  }
  const latest = path.join(OUT, "latest.json");
  if (!fs.existsSync(latest)) return CASES;
  const j = JSON.parse(fs.readFileSync(latest, "utf8"));
  const missed = new Set();
  for (const [name, f] of Object.entries(j.figures || {})) {
    if ((f.target && !f.target.met) || (f.targetPqueue && !f.targetPqueue.met)) missed.add(name);
  }
  if ((j.w4?.queries || []).some((q) => !q.metMaxUs || q.metGrowth === false)) missed.add("W4");
  return CASES.filter((c) => c.figures.some((f) => missed.has(f)));
}

const prof = buildProfilingPackage();
// Same exports and shims as the shipped build? (Differs when pkg/ was built from other sources.)
const sameGlue =
  fs.existsSync(path.join(ROOT, "pkg", "node", "execman_core.js")) &&
  fs.readFileSync(path.join(ROOT, "pkg", "node", "execman_core.js"), "utf8") ===
    fs.readFileSync(path.join(PROF_PKG, "node", "execman_core.js"), "utf8");
if (!sameGlue)
  console.error(
    "profile: WARNING: target/bench/prof-pkg/node/execman_core.js differs from pkg/node/execman_core.js: the cargo output is not what pkg/ was built from (run npm run build)",
  );
const out = [];
out.push(`## execman profiles — ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC`);
out.push("");
out.push(
  `Profiling build target/bench/prof-pkg (${prof.cached ? "cached" : "built"}, key ${prof.key}${sameGlue ? ", JS glue identical to pkg/" : ", JS glue DIFFERS from pkg/"}): the current cargo output through wasm-bindgen and wasm-opt -Oz -g (names kept). ` +
    "Self time per function from the V8 sampling profiler (100 µs) over each timed section only; 'JS glue' is pkg/node/execman_core.js (wasm-bindgen's), 'JS layer' pkg/node/manager.js, " +
    "'V8 builtins/native' is time in V8 builtins and runtime called from JS (JSON.parse, Promise machinery, WebAssembly entry/exit stubs, …) that the profiler does not attribute to a JS function.",
);
out.push("");
for (const c of chooseCases()) {
  const dir = path.join(PROFILES, c.id.replace(/\W+/g, "_"));
  fs.rmSync(dir, { recursive: true, force: true });
  process.stderr.write(`profile: ${c.id} ...\n`);
  const r = spawnSync(
    process.execPath,
    [
      "--expose-gc",
      path.join(ROOT, "bench", "workloads", c.script),
      "--impl=execman",
      `--pkg=${path.relative(ROOT, PROF_PKG)}`,
      ...c.args,
    ],
    {
      cwd: ROOT,
      encoding: "utf8",
      env: { ...process.env, EXECMAN_BENCH_PROFILE_DIR: dir },
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  if (r.status !== 0) {
    out.push(`### ${c.id}: FAILED\n\n\`\`\`\n${(r.stderr || "").slice(-2000)}\n\`\`\`\n`);
    continue;
  }
  const line = r.stdout.split("\n").find((l) => l.startsWith("BENCH_RESULT "));
  const metrics = line ? JSON.parse(line.slice(13)).metrics : {};
  out.push(
    `### ${c.id} (profiled run: ${Object.entries(metrics)
      .slice(0, 3)
      .map(([k, m]) => `${k.replace(/^W\d /, "")} ${m.value.toFixed(m.value < 100 ? 2 : 0)} ${m.unit}`)
      .join("; ")}${Object.keys(metrics).length > 3 ? "; …" : ""})`,
  );
  out.push("");
  for (const f of fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".cpuprofile"))
    .sort()) {
    out.push(summarise(f.replace(/\.cpuprofile$/, ""), analyse(path.join(dir, f))));
  }
}

const sizeInfo = wasmSizeByCrate(path.join(PROF_PKG, "node", "execman_bg.wasm"));
out.push(
  "### .wasm size by crate (code section bodies of the -Oz -g build; the shipped build differs only by the name section)",
);
out.push("");
out.push(
  `sections: ${Object.entries(sizeInfo.sections)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ")}`,
);
out.push("");
out.push("```");
for (const [c, b] of sizeInfo.byCrate.slice(0, 16))
  out.push(`${String(b).padStart(8)} B ${pct(b, sizeInfo.codeTotal)}  ${c}`);
out.push("--- execman modules and exported methods");
for (const [c, b] of sizeInfo.byModule.slice(0, 24))
  out.push(`${String(b).padStart(8)} B ${pct(b, sizeInfo.codeTotal)}  ${c}`);
out.push("--- largest functions");
for (const [n, b] of sizeInfo.topFunctions)
  out.push(`${String(b).padStart(8)} B  ${n.length > 110 ? `${n.slice(0, 107)}...` : n}`);
out.push("```");
const text = out.join("\n");
console.log(text);
fs.mkdirSync(PROFILES, { recursive: true });
fs.writeFileSync(path.join(PROFILES, "summary.md"), `${text}\n`);
console.log(`\nprofile: wrote target/bench/profiles/summary.md and the .cpuprofile files beside it`);
