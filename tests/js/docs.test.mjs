// The reference documentation in docs/ cannot drift from the package:
//   - every ```js fence whose info string says `run` (```js run, or ```js run commonjs) is written to
//     target/docs-examples/ and run with Node against the installed package (`import … from
//     "execman"`); its `assert` lines are the documented outcomes, and it must exit 0;
//   - every export of the package's entries, every method of ExecutionManager, every exported type,
//     field and error code of the declarations (js/types.d.ts, js/server.d.ts, js/bullmq.d.ts) is
//     named in docs/;
//   - every link of the repository's Markdown is relative and resolves to a file (and, with a
//     #fragment, to a heading) inside the repository; no text points at an outside address.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const DOCS = path.join(ROOT, "docs");
const OUT = path.join(ROOT, "target", "docs-examples");
const require = createRequire(import.meta.url);

/** The pages of docs/, by name. */
const pages = fs
  .readdirSync(DOCS)
  .filter((f) => f.endsWith(".md"))
  .sort();
const text = Object.fromEntries(pages.map((f) => [f, fs.readFileSync(path.join(DOCS, f), "utf8")]));
const allDocs = Object.values(text).join("\n");

// ---- Markdown, read just enough ------------------------------------------------------------------

/**
 * The fenced code blocks of a Markdown text (fences at the start of a line, ``` or ~~~).
 * @param {string} source
 * @returns {{ line: number, info: string[], code: string }[]}
 */
function fences(source) {
  const lines = source.split("\n");
  const out = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(`{3,}|~{3,})\s*(.*)$/.exec(lines[i]);
    if (!open) continue;
    const [, marker, info] = open;
    const body = [];
    let j = i + 1;
    const close = new RegExp(`^${marker[0]}{${marker.length},}\\s*$`);
    while (j < lines.length && !close.test(lines[j])) {
      body.push(lines[j]);
      j++;
    }
    assert.ok(j < lines.length, `unclosed code fence at line ${i + 1}`);
    out.push({ line: i + 1, info: info.trim().split(/\s+/).filter(Boolean), code: body.join("\n") });
    i = j;
  }
  return out;
}

/**
 * The text outside fenced blocks, with each block's lines blanked (line numbers stay).
 * @param {string} source
 */
function prose(source) {
  const lines = source.split("\n");
  for (const f of fences(source)) {
    const n = f.code === "" ? 0 : f.code.split("\n").length;
    for (let k = f.line - 1; k <= f.line + n; k++) lines[k] = "";
  }
  return lines.join("\n");
}

/**
 * The anchor a heading gets (as GitHub makes them): lowercase, punctuation dropped, spaces to
 * hyphens; a repeated one gets -1, -2, ….
 * @param {string} source
 * @returns {Set<string>}
 */
function anchors(source) {
  const seen = new Map();
  const out = new Set();
  for (const line of prose(source).split("\n")) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const textOnly = m[1].replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1").replace(/<[^>]+>/g, "");
    const base = textOnly
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
      .replace(/ /g, "-");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/**
 * The link destinations of a Markdown text, outside code: inline links and images, reference
 * definitions and autolinks.
 * @param {string} source
 * @returns {{ line: number, target: string }[]}
 */
function links(source) {
  const out = [];
  const lines = prose(source).split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/(`+)[^`]*?\1/g, ""); // code spans
    for (const m of line.matchAll(/\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)/g))
      out.push({ line: i + 1, target: m[1] });
    for (const m of line.matchAll(/<([a-z][a-z0-9+.-]*:[^>\s]*)>/gi)) out.push({ line: i + 1, target: m[1] });
    const def = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(\s|$)/.exec(line);
    if (def) out.push({ line: i + 1, target: def[1] });
  }
  return out;
}

/** The repository's Markdown files (what is tracked, roughly: not dependencies or build output). */
function markdownFiles(dir = ROOT) {
  const skip = new Set(["node_modules", "target", "pkg", ".git"]);
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (skip.has(entry.name) || (dir === path.join(ROOT, "tests") && entry.name === "artifacts")) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...markdownFiles(full));
    else if (entry.name.endsWith(".md")) out.push(full);
  }
  return out;
}

/** Host names that reach nothing outside: loopback and the names reserved for examples. */
const INSIDE_HOST =
  /^(localhost|127\.\d+\.\d+\.\d+|\[::1\]|[\w.-]+\.(example|test|invalid|localhost)|example\.(com|org|net))$/i;

// ---- the examples -----------------------------------------------------------------------------------

/**
 * Runs a file with Node; resolves with its exit code and output.
 * @param {string} file
 * @param {string[]} [args]
 * @returns {Promise<{ code: number | null, signal: string | null, output: string }>}
 */
function runNode(file, args = []) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => {
      output += d;
    });
    child.stderr.on("data", (d) => {
      output += d;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output });
    });
  });
}

const examples = pages.flatMap((page) =>
  fences(text[page])
    .filter((f) => f.info[0] === "js" && f.info.includes("run"))
    .map((f) => ({ page, ...f, commonjs: f.info.includes("commonjs") })),
);

/** Pages with no runnable example by nature: the index, and a byte-level file-format specification. */
const NO_EXAMPLES = new Set(["README.md", "durable-format.md"]);

test("docs/ has runnable examples on every page but the index and the format specification", () => {
  for (const page of pages) {
    if (NO_EXAMPLES.has(page)) continue;
    assert.ok(
      examples.some((e) => e.page === page),
      `docs/${page} has no \`\`\`js run example`,
    );
  }
  assert.ok(examples.length >= 40, `only ${examples.length} runnable examples`);
});

fs.rmSync(OUT, { recursive: true, force: true });
fs.mkdirSync(OUT, { recursive: true });
for (const ex of examples) {
  const where = `docs/${ex.page}:${ex.line}`;
  test(`example ${where} runs`, async () => {
    assert.ok(
      ex.commonjs ? /\brequire\("execman/.test(ex.code) : /\bfrom "execman/.test(ex.code),
      `${where} must load the package by name`,
    );
    const file = path.join(OUT, `${ex.page.replace(/\.md$/, "")}-${ex.line}.${ex.commonjs ? "cjs" : "mjs"}`);
    fs.writeFileSync(file, `${ex.code}\n`);
    const { code, signal, output } = await runNode(file);
    assert.equal(code, 0, `${where} (${path.relative(ROOT, file)}) exited ${code ?? signal}:\n${output}`);
  });
}

test("the TypeScript examples type-check under strict", async () => {
  const blocks = pages.flatMap((page) =>
    fences(text[page])
      .filter((f) => f.info[0] === "ts")
      .map((f) => ({ page, ...f })),
  );
  assert.ok(blocks.length >= 5, `only ${blocks.length} ts examples`);
  const dir = path.join(OUT, "ts");
  fs.mkdirSync(dir, { recursive: true });
  for (const b of blocks) {
    // `export {}` makes every block a module of its own, whatever it imports.
    fs.writeFileSync(path.join(dir, `${b.page.replace(/\.md$/, "")}-${b.line}.ts`), `${b.code}\nexport {};\n`);
  }
  const compilerOptions = {
    strict: true,
    noEmit: true,
    target: "es2022",
    module: "nodenext",
    moduleResolution: "nodenext",
    lib: ["es2022", "dom"],
    types: ["node"],
    skipLibCheck: true, // the package's own declarations are checked by tests/types
  };
  fs.writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions, include: ["./*.ts"] }));
  const tsc = path.join(ROOT, "node_modules", "typescript", "bin", "tsc");
  const { code, output } = await runNode(tsc, ["-p", dir]);
  assert.equal(code, 0, `tsc over the ts examples of docs/ (${path.relative(ROOT, dir)}):\n${output}`);
});

// ---- what the docs name --------------------------------------------------------------------------

/**
 * Whether the docs name `name` in code (`name`, `name(…)`, `name.x`, …).
 * @param {string} name
 */
const named = (name) => new RegExp(`\`[^\`\\n]*\\b${name.replace(/[$.]/g, "\\$&")}\\b[^\`\\n]*\``).test(allDocs);

/**
 * Whether a page has a heading that contains `pattern`.
 * @param {string} page
 * @param {string} pattern
 */
const heading = (page, pattern) =>
  prose(text[page])
    .split("\n")
    .some((line) => /^#{1,6}\s/.test(line) && line.includes(pattern));

/**
 * Whether a heading line names `name` in code: `name`, `name(…)` or `name<…>`.
 * @param {string} line
 * @param {string} name
 */
const headingNames = (line, name) => /^#{1,6}\s/.test(line) && new RegExp(`\`${name}[\`(<]`).test(line);

test("every export of every entry is documented", async () => {
  const entries = {
    execman: Object.keys(require("execman")),
    "execman/web": Object.keys(await import("execman/web")).map((n) => (n === "default" ? "init" : n)),
    "execman/server": Object.keys(require("execman/server")),
    "execman/bullmq": Object.keys(require("execman/bullmq")),
  };
  for (const [entry, names] of Object.entries(entries)) {
    assert.ok(names.length > 0, `${entry} exports nothing`);
    for (const name of names) assert.ok(named(name), `${entry}'s export ${name} is not named in docs/`);
    assert.ok(heading("loading.md", `\`${entry}\``), `docs/loading.md has no heading for ${entry}`);
  }
});

test("every method of ExecutionManager has its heading in docs/manager.md", () => {
  const { ExecutionManager } = require("execman");
  const methods = Object.getOwnPropertyNames(ExecutionManager.prototype).filter((n) => n !== "constructor");
  assert.ok(methods.length >= 19, `only ${methods.length} methods`);
  for (const name of methods)
    assert.ok(heading("manager.md", `\`${name}(`), `docs/manager.md has no heading for ${name}()`);
  assert.ok(heading("manager.md", "`[Symbol.dispose]()`"), "docs/manager.md has no heading for [Symbol.dispose]()");
  assert.ok(heading("manager.md", "`new ExecutionManager("), "docs/manager.md has no heading for the constructor");
});

/**
 * The exported names of a declaration file, and the members of its interfaces.
 * @param {string} file
 */
function declarations(file) {
  const source = fs.readFileSync(path.join(ROOT, file), "utf8");
  const names = [...source.matchAll(/^export (?:declare )?(?:interface|type|class|function) (\w+)/gm)].map((m) => m[1]);
  const members = [];
  for (const m of source.matchAll(/^export (?:interface|class) (\w+)[^{]*\{\n([\s\S]*?)^\}/gm)) {
    for (const f of m[2].matchAll(/^ {2}(?:readonly )?(\w+)\??[(:<]/gm)) members.push(`${m[1]}.${f[1]}`);
  }
  return { source, names, members };
}

test("every type, field and error code of the declarations is documented", () => {
  for (const [file, page] of [
    ["js/types.d.ts", "types.md"],
    ["js/server.d.ts", "rest.md"],
    ["js/bullmq.d.ts", "bullmq.md"],
  ]) {
    const { source, names, members } = declarations(file);
    assert.ok(names.length > 5 && members.length > (file === "js/bullmq.d.ts" ? 4 : 10), `${file}: too little found`);
    for (const name of names) {
      const where = name === "ExecutionManager" ? "manager.md" : page;
      assert.ok(
        prose(text[where])
          .split("\n")
          .some((line) => headingNames(line, name)),
        `docs/${where} has no heading for ${name} (${file})`,
      );
    }
    for (const member of members) {
      const [owner, field] = member.split(".");
      if (field === "constructor") continue; // the class's heading, `new X(…)`, says it
      const section = sectionOf(owner === "ExecutionManager" ? "manager.md" : page, owner);
      assert.ok(
        new RegExp(`\`[^\`\\n]*\\b${field}\\b`).test(section),
        `the section of ${owner} in docs/ does not name ${field} (${file})`,
      );
    }
    if (file === "js/types.d.ts") {
      const union = /export type ErrorCode =([^;]*);/.exec(source);
      assert.ok(union, "no ErrorCode union");
      const codes = [...union[1].matchAll(/"(\w+)"/g)].map((m) => m[1]);
      assert.ok(codes.length >= 6);
      for (const code of codes)
        assert.ok(heading("types.md", `\`${code}\``), `docs/types.md has no heading for ${code}`);
    }
  }
});

/**
 * The text of a page from the heading naming `name` to the next heading of the same or a higher
 * level (the whole page for the class of manager.md).
 * @param {string} page
 * @param {string} name
 */
function sectionOf(page, name) {
  const lines = text[page].split("\n");
  const start = lines.findIndex((l) => headingNames(l, name));
  if (start < 0) return "";
  if (page === "manager.md" && name === "ExecutionManager") return text[page];
  const level = /^#+/.exec(lines[start])[0].length;
  let end = start + 1;
  while (end < lines.length && !(/^#{1,6}\s/.test(lines[end]) && /^#+/.exec(lines[end])[0].length <= level)) end++;
  return lines.slice(start, end).join("\n");
}

// ---- links ---------------------------------------------------------------------------------------

test("README.md links the reference", () => {
  const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
  assert.ok(
    links(readme).some((l) => l.target === "docs/README.md"),
    "README.md does not link docs/README.md",
  );
});

test("every link of the repository's Markdown stays inside it and resolves", () => {
  const files = markdownFiles();
  assert.ok(files.includes(path.join(DOCS, "README.md")), "docs/README.md not found");
  let checked = 0;
  for (const file of files) {
    const source = fs.readFileSync(file, "utf8");
    const rel = path.relative(ROOT, file);
    for (const { line, target } of links(source)) {
      const where = `${rel}:${line} → ${target}`;
      assert.ok(!/^[a-z][a-z0-9+.-]*:/i.test(target) && !target.startsWith("//"), `${where}: not a relative link`);
      const [file2, fragment] = target.split("#");
      const dest = file2 === "" ? file : path.resolve(path.dirname(file), decodeURIComponent(file2));
      assert.ok(dest === ROOT || dest.startsWith(ROOT + path.sep), `${where}: points outside the repository`);
      assert.ok(fs.existsSync(dest), `${where}: no such file`);
      if (fragment !== undefined) {
        assert.ok(dest.endsWith(".md"), `${where}: a fragment into a file that is not Markdown`);
        const known = anchors(fs.readFileSync(dest, "utf8"));
        assert.ok(known.has(decodeURIComponent(fragment)), `${where}: no heading with that anchor`);
      }
      checked++;
    }
    // Addresses written out (in text or code) name no outside host either.
    for (const m of source.matchAll(/\bhttps?:\/\/(\[[^\]]*\]|[^/:\s`'")>]+)/g)) {
      if (/^(<|\$\{)/.test(m[1])) continue; // a placeholder: http://<address>, http://${host}
      assert.match(m[1], INSIDE_HOST, `${rel}: ${m[0]} points outside the repository`);
    }
  }
  assert.ok(checked > 30, `only ${checked} links checked`);
});

test("the Markdown reader finds what it should", () => {
  const sample = [
    "# A `b(c)` d",
    "## A `b(c)` d",
    "[x](other.md#a-bc-d) and `[y](not-a-link.md)`",
    "```js run",
    "[z](inside-code.md)",
    "```",
    "<https://outside.example.com>",
  ].join("\n");
  assert.deepEqual([...anchors(sample)], ["a-bc-d", "a-bc-d-1"]);
  assert.deepEqual(
    links(sample).map((l) => l.target),
    ["other.md#a-bc-d", "https://outside.example.com"],
  );
  assert.deepEqual(fences(sample), [{ line: 4, info: ["js", "run"], code: "[z](inside-code.md)" }]);
});
