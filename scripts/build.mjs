#!/usr/bin/env node
// Builds the `execman` npm package into pkg/:
//
//   cargo build --release --target wasm32-unknown-unknown --lib
//   wasm-bindgen --target nodejs -> pkg/node   (CommonJS, loads the wasm synchronously: no init call)
//   wasm-bindgen --target web    -> pkg/web    (ES module glue: `init()`, the browser entries)
//   wasm-opt -Oz (npm's binaryen), cached by input hash under target/
//   one pkg/execman_bg.wasm that both builds load (wasm-bindgen's two copies are byte-identical)
//   pkg/web/browser.js (the "browser" condition: no init call), pkg/web/inline.js (the
//   "execman-inline" condition: the .wasm inlined, for bundlers that do not emit assets)
//   pkg/package.json (exports map), pkg/index.mjs + index.d.mts (ESM entry for Node),
//   pkg/README.md, pkg/LICENSE
//
// and prints the .wasm size raw and gzipped. Uses only Node builtins; wasm-opt comes from
// node_modules/binaryen. Unless --no-setup is given (scripts/test.sh passes it after running the
// full setup itself), it first runs `scripts/setup.sh --minimal` so that `npm run build` and
// `npm run demo` work on a fresh clone.
//
// Usage: node scripts/build.mjs [--no-setup] [--no-opt] [--quiet]
// As a module: `import { build } from "./build.mjs"; await build({ quiet: true })`.

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import zlib from "node:zlib";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const PKG_DIR = path.join(ROOT, "pkg");
const CRATE = "execman";
const TARGET = "wasm32-unknown-unknown";

// Features that rustc (1.95) enables by default for wasm32-unknown-unknown and that wasm-bindgen
// 0.2.130 output therefore uses; every one of them is supported by Node 20 and current browsers.
const WASM_OPT_FEATURES = [
  "--enable-bulk-memory",
  "--enable-bulk-memory-opt",
  "--enable-nontrapping-float-to-int",
  "--enable-sign-ext",
  "--enable-mutable-globals",
  "--enable-reference-types",
  "--enable-multivalue",
  "--enable-call-indirect-overlong",
];
const WASM_OPT_ARGS = ["-Oz", ...WASM_OPT_FEATURES, "--strip-producers"];

class BuildError extends Error {}

function toolPath() {
  const cargoBin = path.join(process.env.CARGO_HOME || path.join(os.homedir(), ".cargo"), "bin");
  return [cargoBin, process.env.PATH || ""].join(path.delimiter);
}

function run(cmd, args, { quiet = false, capture = false, env = {} } = {}) {
  if (!quiet) console.log(`build: $ ${[cmd, ...args].join(" ")}`);
  const res = spawnSync(cmd, args, {
    cwd: ROOT,
    env: { ...process.env, PATH: toolPath(), ...env },
    stdio: capture ? ["ignore", "pipe", "pipe"] : ["ignore", quiet ? "pipe" : "inherit", quiet ? "pipe" : "inherit"],
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (res.error) throw new BuildError(`could not run ${cmd}: ${res.error.message}`);
  if (res.status !== 0) {
    if (quiet || capture) process.stderr.write(`${res.stdout || ""}${res.stderr || ""}`);
    throw new BuildError(`${cmd} ${args.join(" ")} exited with ${res.status ?? res.signal}`);
  }
  return res.stdout || "";
}

function sha256(...parts) {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest("hex");
}

function cargoVersion() {
  const toml = fs.readFileSync(path.join(ROOT, "Cargo.toml"), "utf8");
  const pkgSection = toml.split(/^\[/m).find((s) => s.startsWith("package]"));
  const m = pkgSection?.match(/^version\s*=\s*"([^"]+)"/m);
  if (!m) throw new BuildError("no [package] version in Cargo.toml");
  return m[1];
}

function lockedWasmBindgenVersion() {
  const lock = fs.readFileSync(path.join(ROOT, "Cargo.lock"), "utf8");
  const m = lock.match(/\[\[package\]\]\nname = "wasm-bindgen"\nversion = "([^"]+)"/);
  if (!m) throw new BuildError("wasm-bindgen is not in Cargo.lock");
  return m[1];
}

function targetDir() {
  const meta = JSON.parse(
    run("cargo", ["metadata", "--format-version", "1", "--no-deps"], { capture: true, quiet: true }),
  );
  return meta.target_directory;
}

function checkWasmBindgen(expected) {
  let out = "";
  try {
    out = run("wasm-bindgen", ["--version"], { capture: true, quiet: true });
  } catch {
    throw new BuildError(`wasm-bindgen CLI not found; run: bash scripts/setup.sh --minimal`);
  }
  const have = out.trim().split(/\s+/)[1];
  if (have !== expected) {
    throw new BuildError(
      `wasm-bindgen CLI is ${have}, Cargo.lock has ${expected}; run: cargo install wasm-bindgen-cli --version ${expected}`,
    );
  }
}

// The nodejs target is CommonJS and `require`s the inline_js snippets, which wasm-bindgen writes as
// ES modules. Node >= 20.19 can require() those by syntax detection, older Node 20 cannot, and a
// "type": "commonjs" scope forbids it. So rewrite each snippet of the node build to CommonJS. Snippets
// must stay self-contained (no `import`), which inline_js snippets are by nature.
function snippetToCommonJs(src, file) {
  if (/^\s*import\s/m.test(src) || /\bimport\.meta\b/.test(src)) {
    throw new BuildError(`${file}: inline_js snippets must not use import / import.meta`);
  }
  const names = [];
  let out = src.replace(
    /^(\s*)export\s+(async\s+function\s*\*?|function\s*\*?|class|const|let|var)\s+([A-Za-z_$][\w$]*)/gm,
    (_, ws, kind, name) => {
      names.push(name);
      return `${ws}${kind} ${name}`;
    },
  );
  out = out.replace(/^\s*export\s*\{([^}]*)\}\s*;?/gm, (_, list) => {
    const entries = list
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    return entries
      .map((e) => {
        const [local, exported = local] = e.split(/\s+as\s+/).map((s) => s.trim());
        return `exports[${JSON.stringify(exported)}] = ${local};`;
      })
      .join("\n");
  });
  if (/^\s*export\s/m.test(out)) throw new BuildError(`${file}: unsupported export form in inline_js snippet`);
  const tail = names.map((n) => `exports[${JSON.stringify(n)}] = ${n};`).join("\n");
  return `"use strict";\n${out}\n${tail}\n`;
}

function listFiles(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => path.join(d.parentPath ?? d.path, d.name));
}

function wasmOptBin() {
  const bin = path.join(ROOT, "node_modules", ".bin", process.platform === "win32" ? "wasm-opt.cmd" : "wasm-opt");
  if (!fs.existsSync(bin))
    throw new BuildError(
      "node_modules/.bin/wasm-opt missing (npm package binaryen); run: bash scripts/setup.sh --minimal",
    );
  return bin;
}

// wasm-opt -Oz with a cache keyed by the input bytes, the flags and the binaryen version.
function optimize(wasmFile, cacheDir, { quiet }) {
  const bin = wasmOptBin();
  const binaryenVersion = JSON.parse(
    fs.readFileSync(path.join(ROOT, "node_modules", "binaryen", "package.json"), "utf8"),
  ).version;
  const input = fs.readFileSync(wasmFile);
  const key = sha256(input, "\0", WASM_OPT_ARGS.join(" "), "\0", binaryenVersion);
  const cached = path.join(cacheDir, `${key}.wasm`);
  const rel = path.relative(ROOT, wasmFile);
  if (fs.existsSync(cached)) {
    fs.copyFileSync(cached, wasmFile);
    if (!quiet) console.log(`build: wasm-opt ${rel}: cached`);
    return { before: input.length, cached: true };
  }
  fs.mkdirSync(cacheDir, { recursive: true });
  const tmp = `${cached}.${process.pid}.tmp`;
  const t0 = Date.now();
  run(bin, [...WASM_OPT_ARGS, wasmFile, "-o", tmp], { quiet: true });
  const optimized = fs.readFileSync(tmp);
  if (!WebAssembly.validate(optimized)) throw new BuildError(`wasm-opt produced an invalid module for ${rel}`);
  fs.renameSync(tmp, cached);
  fs.copyFileSync(cached, wasmFile);
  if (!quiet)
    console.log(
      `build: wasm-opt ${rel}: ${input.length} -> ${optimized.length} bytes in ${((Date.now() - t0) / 1000).toFixed(1)}s`,
    );
  // Keep the cache small: the newest 8 entries.
  const entries = fs
    .readdirSync(cacheDir)
    .filter((f) => f.endsWith(".wasm"))
    .map((f) => ({ f, t: fs.statSync(path.join(cacheDir, f)).mtimeMs }))
    .sort((a, b) => b.t - a.t);
  for (const { f } of entries.slice(8)) fs.rmSync(path.join(cacheDir, f), { force: true });
  return { before: input.length, cached: false };
}

// The one .wasm of the package, beside node/ and web/.
const WASM_NAME = `${CRATE}_bg.wasm`;

// wasm-bindgen writes the same .wasm for both targets; the package keeps one, at its root, and the
// glue of each build is pointed at it. The text replaced is checked, so a change in wasm-bindgen's
// output stops the build instead of shipping a glue that looks for a missing file.
function shareWasm() {
  const node = fs.readFileSync(path.join(PKG_DIR, "node", WASM_NAME));
  const web = fs.readFileSync(path.join(PKG_DIR, "web", WASM_NAME));
  if (!node.equals(web)) throw new BuildError("wasm-bindgen's nodejs and web .wasm differ: cannot ship one");
  fs.writeFileSync(path.join(PKG_DIR, WASM_NAME), web);
  for (const dir of ["node", "web"]) {
    fs.rmSync(path.join(PKG_DIR, dir, WASM_NAME));
    fs.rmSync(path.join(PKG_DIR, dir, `${CRATE}_bg.wasm.d.ts`), { force: true });
  }
  replaceOnce(
    path.join(PKG_DIR, "node", `${CRATE}.js`),
    `\`\${__dirname}/${WASM_NAME}\``,
    `\`\${__dirname}/../${WASM_NAME}\``,
  );
  replaceOnce(
    path.join(PKG_DIR, "web", `${CRATE}.js`),
    `new URL('${WASM_NAME}', import.meta.url)`,
    `new URL('../${WASM_NAME}', import.meta.url)`,
  );
}

function replaceOnce(file, from, to) {
  const text = fs.readFileSync(file, "utf8");
  const at = text.indexOf(from);
  if (at < 0 || text.indexOf(from, at + 1) >= 0) {
    throw new BuildError(`${path.relative(ROOT, file)}: expected exactly one ${from}`);
  }
  fs.writeFileSync(file, text.slice(0, at) + to + text.slice(at + from.length));
}

// js/manager.js is the ExecutionManager users get: it wraps the engine class that wasm-bindgen
// exports. wasm-bindgen's execman.js becomes execman_core.js, and each entry exports the wrapped
// class (the engine class itself stays internal). The .d.ts files come from js/types.d.ts.
function writeLayer(wasm) {
  writeTypes();
  const source = fs.readFileSync(path.join(ROOT, "js", "manager.js"), "utf8");
  for (const dir of ["node", "web"]) {
    const out = path.join(PKG_DIR, dir);
    fs.renameSync(path.join(out, `${CRATE}.js`), path.join(out, `${CRATE}_core.js`));
    fs.writeFileSync(
      path.join(out, "manager.js"),
      dir === "node" ? snippetToCommonJs(source, "js/manager.js") : source,
    );
  }
  fs.writeFileSync(
    path.join(PKG_DIR, "node", `${CRATE}.js`),
    [
      '"use strict";',
      "// execman for Node (CommonJS): the ExecutionManager of manager.js around the engine of execman_core.js.",
      `const { Engine } = require("./${CRATE}_core.js");`,
      'const { wrap, ExecutionError, memoryStore } = require("./manager.js");',
      'const { fileStoreWith } = require("./file-store.js");',
      "module.exports = { ExecutionManager: wrap(Engine), ExecutionError, memoryStore, fileStore: fileStoreWith(ExecutionError) };",
      "",
    ].join("\n"),
  );
  fs.writeFileSync(
    path.join(PKG_DIR, "web", `${CRATE}.js`),
    [
      "// execman for pages without a bundler (ES module): the ExecutionManager of manager.js around the",
      "// engine of execman_core.js; `await init()` (or initSync) loads ../execman_bg.wasm first.",
      `import init, { Engine, initSync } from "./${CRATE}_core.js";`,
      'import { wrap } from "./manager.js";',
      "",
      'export { ExecutionError, memoryStore } from "./manager.js";',
      'export { indexedDBStore } from "./indexeddb-store.js";',
      "export const ExecutionManager = wrap(Engine);",
      "export { initSync };",
      "export default init;",
      "",
    ].join("\n"),
  );
  // The stores that do I/O: the file store for Node, the IndexedDB store for the web build.
  fs.copyFileSync(path.join(ROOT, "js", "file-store.cjs"), path.join(PKG_DIR, "node", "file-store.js"));
  fs.copyFileSync(path.join(ROOT, "js", "indexeddb-store.js"), path.join(PKG_DIR, "web", "indexeddb-store.js"));
  fs.copyFileSync(path.join(ROOT, "js", "browser.js"), path.join(PKG_DIR, "web", "browser.js"));
  fs.copyFileSync(path.join(ROOT, "js", "inline.js"), path.join(PKG_DIR, "web", "inline.js"));
  fs.writeFileSync(
    path.join(PKG_DIR, "web", "wasm_inline.js"),
    [
      "// The bytes of ../execman_bg.wasm in base64, for inline.js (written by the build).",
      `export default "${wasm.toString("base64")}";`,
      "",
    ].join("\n"),
  );
}

// The declarations are js/types.d.ts (the ExecutionManager class of js/manager.js and its types):
// node/execman.d.ts for CommonJS, web/types.d.ts for the ES module entries, which re-export it; the
// web entry adds wasm-bindgen's declarations of `init` and `initSync`.
function writeTypes() {
  const types = fs.readFileSync(path.join(ROOT, "js", "types.d.ts"), "utf8");
  // Each build adds the store it has: a file in Node, an IndexedDB database in browsers and workers.
  const store = (doc, decl) => `${types}\n/** ${doc} */\nexport declare function ${decl}: Store;\n`;
  fs.writeFileSync(
    path.join(PKG_DIR, "node", `${CRATE}.d.ts`),
    store(
      "A durable store in the file `path` (and `path.lock` while it is open): Node only.",
      "fileStore(path: string)",
    ),
  );
  fs.writeFileSync(
    path.join(PKG_DIR, "web", "types.d.ts"),
    store("A durable store in the IndexedDB database `name`: browsers and workers.", "indexedDBStore(name: string)"),
  );
  const web = path.join(PKG_DIR, "web", `${CRATE}.d.ts`);
  const generated = fs.readFileSync(web, "utf8");
  const at = generated.indexOf("export type InitInput");
  if (at < 0) throw new BuildError("wasm-bindgen's web declarations have no InitInput");
  const reexport = 'export * from "./types.js";\n';
  fs.writeFileSync(web, `${reexport}\n${generated.slice(at)}`);
  for (const entry of ["browser", "inline"]) fs.writeFileSync(path.join(PKG_DIR, "web", `${entry}.d.ts`), reexport);
}

function writeJson(file, value) {
  fs.writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

function writePackageFiles(version, exportNames) {
  writeJson(path.join(PKG_DIR, "node", "package.json"), { type: "commonjs" });
  writeJson(path.join(PKG_DIR, "web", "package.json"), { type: "module" });

  const esm = [
    "// ESM entry for Node: re-exports the CommonJS build, so `import` and `require` share one instance.",
    'import cjs from "./node/execman.js";',
    "",
    ...exportNames.map((n) => `export const ${n} = cjs.${n};`),
    "",
  ].join("\n");
  fs.writeFileSync(path.join(PKG_DIR, "index.mjs"), esm);
  fs.writeFileSync(path.join(PKG_DIR, "index.d.mts"), 'export * from "./node/execman.js";\n');
  // execman/server: the node:http adapter for the REST routes (hand-written JS in js/).
  for (const f of ["server.cjs", "server.mjs", "server.d.ts"]) {
    fs.copyFileSync(path.join(ROOT, "js", f), path.join(PKG_DIR, f));
  }
  fs.copyFileSync(path.join(ROOT, "js", "server.d.ts"), path.join(PKG_DIR, "server.d.mts"));
  // execman/bullmq: enqueue, work and mirror on BullMQ (hand-written JS in js/; bullmq a peer dependency).
  for (const f of ["bullmq.cjs", "bullmq.mjs", "bullmq.d.ts"]) {
    fs.copyFileSync(path.join(ROOT, "js", f), path.join(PKG_DIR, f));
  }
  fs.copyFileSync(path.join(ROOT, "js", "bullmq.d.ts"), path.join(PKG_DIR, "bullmq.d.mts"));
  // The command line, `npx execman serve` (js/cli.mjs): the package's `bin` (below).
  fs.copyFileSync(path.join(ROOT, "js", "cli.mjs"), path.join(PKG_DIR, "cli.mjs"));
  fs.copyFileSync(path.join(ROOT, "LICENSE"), path.join(PKG_DIR, "LICENSE"));
  copyDocs();

  const meta = cargoMetadata();
  writeJson(path.join(PKG_DIR, "package.json"), {
    name: CRATE,
    version,
    description: meta.description,
    keywords: KEYWORDS,
    license: meta.license,
    // Where the project is published: taken from Cargo.toml when it names one (see README, "The package").
    ...(meta.repository ? { repository: { type: "git", url: `git+${meta.repository}.git` } } : {}),
    ...(meta.homepage ? { homepage: meta.homepage } : {}),
    ...(meta.repository ? { bugs: { url: `${meta.repository}/issues` } } : {}),
    type: "commonjs",
    bin: { execman: "./cli.mjs" },
    main: "./node/execman.js",
    types: "./node/execman.d.ts",
    exports: {
      ".": {
        // Custom condition for bundlers that do not emit assets (esbuild, Rollup): the .wasm inlined.
        "execman-inline": { types: "./web/inline.d.ts", default: "./web/inline.js" },
        // Browser apps and workers built by a bundler (Vite, webpack): no init call.
        browser: { types: "./web/browser.d.ts", default: "./web/browser.js" },
        import: { types: "./index.d.mts", default: "./index.mjs" },
        require: { types: "./node/execman.d.ts", default: "./node/execman.js" },
        default: { types: "./node/execman.d.ts", default: "./node/execman.js" },
      },
      "./web": { types: "./web/execman.d.ts", default: "./web/execman.js" },
      "./server": {
        import: { types: "./server.d.mts", default: "./server.mjs" },
        require: { types: "./server.d.ts", default: "./server.cjs" },
      },
      "./bullmq": {
        import: { types: "./bullmq.d.mts", default: "./bullmq.mjs" },
        require: { types: "./bullmq.d.ts", default: "./bullmq.cjs" },
      },
      [`./${WASM_NAME}`]: `./${WASM_NAME}`,
      "./package.json": "./package.json",
    },
    files: [
      WASM_NAME,
      "index.mjs",
      "index.d.mts",
      "server.cjs",
      "server.mjs",
      "server.d.ts",
      "server.d.mts",
      "bullmq.cjs",
      "bullmq.mjs",
      "bullmq.d.ts",
      "bullmq.d.mts",
      "cli.mjs",
      "node/",
      "web/",
      "docs/",
    ],
    sideEffects: ["./index.mjs", "./node/**", "./web/browser.js", "./web/inline.js", "./web/snippets/**"],
    engines: { node: ">=20" },
    // Only execman/bullmq needs it.
    peerDependencies: { bullmq: "^6.7.0" },
    peerDependenciesMeta: { bullmq: { optional: true } },
  });

  fs.writeFileSync(path.join(PKG_DIR, "README.md"), packageReadme(version));
}

// docs/ (the reference) goes into the package as it is, except that a link to a file of the
// repository outside docs/ (the README, the demo's notes) becomes its plain text: the package holds
// no link to anything it does not contain.
function copyDocs() {
  const out = path.join(PKG_DIR, "docs");
  fs.mkdirSync(out, { recursive: true });
  for (const name of fs.readdirSync(path.join(ROOT, "docs")).filter((f) => f.endsWith(".md"))) {
    const text = fs.readFileSync(path.join(ROOT, "docs", name), "utf8");
    fs.writeFileSync(
      path.join(out, name),
      text.replace(/\[([^\]]*)\]\(\.\.\/[^)]*\)/g, (_, label) => label),
    );
  }
}

const KEYWORDS = [
  "execution",
  "jobs",
  "tasks",
  "queue",
  "progress",
  "cancel",
  "workflow",
  "background",
  "wasm",
  "webassembly",
  "rust",
  "rest",
];

// [package] keys of Cargo.toml that the npm package repeats.
function cargoMetadata() {
  const toml = fs.readFileSync(path.join(ROOT, "Cargo.toml"), "utf8");
  const section = toml.split(/^\[/m).find((s) => s.startsWith("package]")) ?? "";
  const key = (k) => section.match(new RegExp(`^${k}\\s*=\\s*"([^"]*)"`, "m"))?.[1];
  return {
    description: key("description"),
    license: key("license"),
    repository: key("repository"),
    homepage: key("homepage"),
  };
}

function packageReadme(version) {
  return `# execman ${version}

An execution manager for JavaScript apps: a Rust core compiled to WebAssembly. Start long
asynchronous work, see its status and progress, list it, cancel it and wait for it, in a browser
tab, a worker or Node, and over REST. The reference of every export, option, error code and REST
route is in this package's docs/ folder (start at docs/README.md).

## Browser apps (Vite, webpack, esbuild, Rollup)

\`\`\`js
import { ExecutionManager, ExecutionError } from "execman"; // no init call
const manager = new ExecutionManager({ concurrency: 4 });
\`\`\`

Vite and webpack 5 need no configuration. esbuild: \`--conditions=execman-inline\`. Rollup:
\`nodeResolve({ exportConditions: ["execman-inline"] })\`.

## Pages without a bundler

\`\`\`js
import init, { ExecutionManager } from "./node_modules/execman/web/execman.js";
await init(); // fetches execman_bg.wasm
\`\`\`

## Node.js (20+)

\`\`\`js
const { ExecutionManager } = require("execman");    // CommonJS
import { ExecutionManager } from "execman";         // ES modules
\`\`\`

TypeScript declarations ship with every entry. License: MIT (see LICENSE).
`;
}

/**
 * The .wasm and the JS (entry, wasm-bindgen module, JS layer, snippets) of a built package in
 * `dir`, raw and gzip -9, by label. Used by the build's report and by bench/run.mjs.
 */
export function packageSizes(dir = PKG_DIR) {
  const measure = (files) => {
    let raw = 0;
    let gz = 0;
    for (const f of files) {
      const b = fs.readFileSync(f);
      raw += b.length;
      gz += zlib.gzipSync(b, { level: 9 }).length;
    }
    return { raw, gz };
  };
  const js = (sub, entry) =>
    [entry, `${CRATE}_core.js`, "manager.js"]
      .map((f) => path.join(dir, sub, f))
      .filter((f) => fs.existsSync(f))
      .concat(listFiles(path.join(dir, sub, "snippets")));
  // Packages built before the .wasm was shared keep one per build.
  const wasm = [path.join(dir, WASM_NAME), path.join(dir, "web", WASM_NAME)].find((f) => fs.existsSync(f));
  return {
    [`pkg/${path.relative(dir, wasm)}`]: measure([wasm]),
    "pkg/node JS (glue + layer)": measure(js("node", `${CRATE}.js`)),
    "pkg/web JS (glue + layer)": measure(js("web", `${CRATE}.js`)),
  };
}

// Loads every entry in a child Node process: the node build through require and through the ESM
// entry (with require(esm) disabled, as on Node < 20.19), the web build with initSync, and the
// inline entry (which compiles the .wasm it carries); each must export ExecutionManager and
// ExecutionError and construct a manager. (The browser entry needs XMLHttpRequest: it is loaded by
// the bundler tests in Chromium.)
function smokeTest() {
  const script = `
    const assert = require("node:assert");
    const fs = require("node:fs");
    const path = require("node:path");
    const { pathToFileURL } = require("node:url");
    const pkg = ${JSON.stringify(PKG_DIR)};
    const check = (m, label) => {
      assert.strictEqual(typeof m.ExecutionManager, "function", label + " ExecutionManager");
      assert.strictEqual(typeof m.ExecutionError, "function", label + " ExecutionError");
      new m.ExecutionManager().create;
    };
    (async () => {
      const cjs = require(pkg);
      check(cjs, "require(pkg)");
      const esm = await import(pathToFileURL(path.join(pkg, "index.mjs")).href);
      assert.strictEqual(esm.ExecutionManager, cjs.ExecutionManager, "ESM entry re-exports the CJS build");
      const web = await import(pathToFileURL(path.join(pkg, "web", "execman.js")).href);
      web.initSync({ module: fs.readFileSync(path.join(pkg, ${JSON.stringify(WASM_NAME)})) });
      check(web, "web");
      check(await import(pathToFileURL(path.join(pkg, "web", "inline.js")).href), "inline");
    })().catch((e) => { console.error(e); process.exit(1); });
  `;
  const flags = process.allowedNodeEnvironmentFlags.has("--no-experimental-require-module")
    ? ["--no-experimental-require-module"]
    : [];
  run(process.execPath, [...flags, "-e", script], { quiet: true });
}

/**
 * Builds pkg/. Options: setup (run scripts/setup.sh --minimal first; default true),
 * opt (run wasm-opt; default true), quiet (print only the size report; default false).
 * Returns { pkgDir, version, sizes }.
 */
export async function build({ setup = true, opt = true, quiet = false } = {}) {
  const t0 = Date.now();
  if (setup) run("bash", [path.join(ROOT, "scripts", "setup.sh"), "--minimal"], { quiet });
  const wbVersion = lockedWasmBindgenVersion();
  checkWasmBindgen(wbVersion);

  run("cargo", ["build", "--release", "--target", TARGET, "--lib"], { quiet });
  const tdir = targetDir();
  const wasm = path.join(tdir, TARGET, "release", `${CRATE}.wasm`);
  if (!fs.existsSync(wasm)) throw new BuildError(`${wasm} was not produced`);

  fs.rmSync(PKG_DIR, { recursive: true, force: true });
  fs.mkdirSync(PKG_DIR, { recursive: true });
  for (const [target, dir] of [
    ["nodejs", "node"],
    ["web", "web"],
  ]) {
    const out = path.join(PKG_DIR, dir);
    run("wasm-bindgen", [wasm, "--target", target, "--out-dir", out, "--out-name", CRATE], { quiet });
  }
  for (const f of listFiles(path.join(PKG_DIR, "node", "snippets"))) {
    if (f.endsWith(".js")) fs.writeFileSync(f, snippetToCommonJs(fs.readFileSync(f, "utf8"), path.relative(ROOT, f)));
  }
  shareWasm();
  const shared = path.join(PKG_DIR, WASM_NAME);
  const before = opt ? optimize(shared, path.join(tdir, "wasm-opt-cache"), { quiet }).before : null;
  writeLayer(fs.readFileSync(shared));

  const exportNames = Object.keys(createRequire(import.meta.url)(path.join(PKG_DIR, "node", `${CRATE}.js`)))
    .filter((n) => /^[A-Za-z_$][\w$]*$/.test(n) && n !== "default" && n !== "__esModule")
    .sort();
  if (!exportNames.includes("ExecutionManager"))
    throw new BuildError("the node build does not export ExecutionManager");
  const version = cargoVersion();
  writePackageFiles(version, exportNames);
  smokeTest();

  const sizes = Object.entries(packageSizes()).map(([label, { raw, gz }]) => ({
    label,
    raw,
    gz,
    line: `${label.padEnd(28)} ${String(raw).padStart(9)} B raw ${String(gz).padStart(9)} B gzip`,
  }));
  const snippetCount = listFiles(path.join(PKG_DIR, "web", "snippets")).length;
  console.log(
    `build: execman ${version} -> ${path.relative(process.cwd(), PKG_DIR) || "."}/ (wasm-bindgen ${wbVersion}` +
      `${opt ? ", wasm-opt -Oz" : ", no wasm-opt"}, ${snippetCount} inline_js snippet${snippetCount === 1 ? "" : "s"}, ` +
      `exports: ${exportNames.join(", ")}) in ${((Date.now() - t0) / 1000).toFixed(1)}s`,
  );
  if (before) console.log(`build: wasm before wasm-opt: ${before} B`);
  for (const s of sizes) console.log(`build: ${s.line}`);
  return { pkgDir: PKG_DIR, version, sizes };
}

const isMain = process.argv[1] && import.meta.url === pathToFileURL(fs.realpathSync(process.argv[1])).href;
if (isMain) {
  const args = new Set(process.argv.slice(2));
  for (const a of args) {
    if (!["--no-setup", "--no-opt", "--quiet"].includes(a)) {
      console.error(`usage: node scripts/build.mjs [--no-setup] [--no-opt] [--quiet] (unknown: ${a})`);
      process.exit(2);
    }
  }
  build({ setup: !args.has("--no-setup"), opt: !args.has("--no-opt"), quiet: args.has("--quiet") }).catch((e) => {
    console.error(`build: FAILED: ${e instanceof BuildError ? e.message : e.stack}`);
    process.exit(1);
  });
}
