// The package as a browser app gets it: tests/bundlers/app imports `execman` by name; it is
// installed from the packed tarball, built by Vite, webpack 5, esbuild and Rollup with the
// configuration tests/bundlers/README.md lists (none for Vite and webpack, one option for esbuild
// and Rollup), served on 127.0.0.1 and loaded in headless Chromium. On the page and in a module
// worker an execution must run to completion with its progress shown, `ExecutionError` must be a
// class, and the page must have no error. Each output's size is printed.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import zlib from "node:zlib";
import { startServer } from "../../scripts/serve.mjs";
import { checkPrerequisites, launchChromium, ROOT } from "./helpers.mjs";

const FIXTURE = path.join(ROOT, "tests", "bundlers");
const WORK = path.join(ROOT, "target", "bundlers");
const BIN = path.join(ROOT, "node_modules", ".bin");

const BUNDLERS = {
  vite: { command: [path.join(BIN, "vite"), "build", "--logLevel", "warn"], html: null },
  webpack: { command: [path.join(BIN, "webpack")], html: '<script src="./main.js"></script>' },
  esbuild: {
    command: [
      path.join(BIN, "esbuild"),
      "src/index.js",
      "src/worker.js",
      "--bundle",
      "--format=esm",
      "--outdir=dist",
      "--log-level=warning",
      "--conditions=execman-inline",
    ],
    html: '<script type="module" src="./index.js"></script>',
  },
  rollup: {
    command: [path.join(BIN, "rollup"), "-c", "--silent"],
    html: '<script type="module" src="./index.js"></script>',
  },
};

function run(cmd, args, cwd) {
  const res = spawnSync(cmd, args, { cwd, encoding: "utf8", timeout: 180_000 });
  const output = `${res.stdout ?? ""}${res.stderr ?? ""}`;
  assert.equal(
    res.status,
    0,
    `${[cmd, ...args].join(" ")} failed (${res.error?.message ?? res.signal ?? res.status}):\n${output}`,
  );
  return output;
}

/** The tarball scripts/test.sh packed, or a fresh one. */
function tarball() {
  const packed = fs.readdirSync(path.join(ROOT, "target")).find((f) => /^execman-.*\.tgz$/.test(f));
  if (packed) return path.join(ROOT, "target", packed);
  const name = run("npm", ["pack", "./pkg", "--pack-destination", "target", "--loglevel=error"], ROOT)
    .trim()
    .split("\n")
    .pop();
  return path.join(ROOT, "target", name);
}

let browser;

before(async () => {
  checkPrerequisites();
  fs.rmSync(WORK, { recursive: true, force: true });
  fs.mkdirSync(WORK, { recursive: true });
  fs.writeFileSync(path.join(WORK, "package.json"), `${JSON.stringify({ name: "bundled-apps", private: true })}\n`);
  run("npm", ["install", "--no-audit", "--no-fund", "--no-package-lock", "--loglevel=error", tarball()], WORK);
  browser = await launchChromium(30_000);
});

after(async () => {
  await browser?.close().catch(() => {});
});

function sizes(dist) {
  let raw = 0;
  let gz = 0;
  const files = fs.readdirSync(dist, { recursive: true, withFileTypes: true }).filter((d) => d.isFile());
  for (const d of files) {
    const bytes = fs.readFileSync(path.join(d.parentPath, d.name));
    raw += bytes.length;
    gz += zlib.gzipSync(bytes, { level: 9 }).length;
  }
  return { files: files.length, raw, gz };
}

for (const [name, { command, html }] of Object.entries(BUNDLERS)) {
  test(`${name}: the app and its module worker run an execution from "execman" in Chromium`, async () => {
    const dir = path.join(WORK, name);
    fs.cpSync(path.join(FIXTURE, "app"), dir, { recursive: true });
    if (name === "rollup")
      fs.copyFileSync(path.join(FIXTURE, "rollup.config.mjs"), path.join(dir, "rollup.config.mjs"));
    run(command[0], command.slice(1), dir);
    const dist = path.join(dir, "dist");
    if (html) {
      const page = fs.readFileSync(path.join(dir, "index.html"), "utf8");
      const tag = '<script type="module" src="./src/index.js"></script>';
      assert.ok(page.includes(tag));
      fs.writeFileSync(path.join(dist, "index.html"), page.replace(tag, html));
    }
    const size = sizes(dist);
    console.log(`${name}: dist/ ${size.files} files, ${size.raw} B raw, ${size.gz} B gzip -9`);

    // Each output at the root of its own server, as an app is deployed (Vite's default base is "/").
    const server = await startServer({ port: 0, roots: { www: dist, pkg: path.join(dir, "no-pkg") } });
    const context = await browser.newContext();
    const page = await context.newPage();
    const problems = [];
    page.on("pageerror", (err) => problems.push(`pageerror: ${err.message}`));
    page.on("console", (msg) => {
      if (msg.type() === "error") problems.push(`console.error: ${msg.text()}`);
    });
    page.on("response", (res) => {
      if (res.status() >= 400) problems.push(`HTTP ${res.status()}: ${res.url()}`);
    });
    try {
      await page.goto(server.url);
      const outcome = await page.evaluate(() => window.outcome);
      for (const [where, run] of Object.entries({ page: outcome.page, worker: outcome.worker })) {
        assert.equal(run.status, "completed", where);
        assert.deepEqual(run.result, { counted: 4 }, where);
        assert.deepEqual(run.percentages, [25, 50, 75, 100], `${where}: every progress report`);
        assert.equal(run.progress.percentage, 100, where);
        assert.deepEqual(run.notFound, { isClass: true, isError: true, code: "NOT_FOUND" }, where);
      }
      assert.deepEqual(outcome.worker.seenByPage, [25, 50, 75, 100], "the worker's progress reached the page");
      assert.equal(await page.textContent("#page-status"), "completed");
      assert.equal(await page.textContent("#page-percent"), "100%");
      assert.equal(await page.evaluate(() => document.getElementById("page-progress").value), 100);
      assert.equal(await page.textContent("#worker-status"), "completed");
      assert.equal(await page.textContent("#worker-percent"), "100%");
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
      await server.close();
    }
  });
}
