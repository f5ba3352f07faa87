// The README's remote worker example (the code block after `<!-- worker-example -->`), run as it
// is, as a plain Node script in a child process, against execman/server on 127.0.0.1: it tracks
// its job over HTTP and reports each file's progress, then completes it; cancelled from the
// server mid-way, it stops at its next report; with a token, it sends EXECMAN_TOKEN.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before } from "node:test";
import { ExecutionManager } from "execman";
import { serve } from "execman/server";
import { test } from "./helpers.mjs";

const README = fs.readFileSync(new URL("../../README.md", import.meta.url), "utf8");
const MARK = "<!-- worker-example -->\n```js\n";
const start = README.indexOf(MARK);
const SCRIPT = README.slice(start + MARK.length, README.indexOf("\n```", start + MARK.length) + 1);
let dir = "";
let file = "";

before(() => {
  assert.ok(start >= 0, "the README has the worker example");
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "execman-worker-"));
  file = path.join(dir, "worker.mjs");
  fs.writeFileSync(file, SCRIPT);
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/**
 * Runs the example against a server.
 * @param {Record<string, string>} env
 * @returns {Promise<{ code: number | null, stdout: string, stderr: string }>}
 */
function runWorker(env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file], { cwd: dir, env: { ...process.env, ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

test("tracks its job, reports the progress of each file, completes it", async () => {
  const manager = new ExecutionManager();
  const served = await serve({ manager });
  /** @type {string[]} */
  const seen = [];
  manager.subscribe(({ type, execution }) => {
    seen.push(type === "progress" ? `progress ${execution.progress?.current}/${execution.progress?.total}` : type);
  });
  try {
    const { code, stdout, stderr } = await runWorker({ EXECMAN_URL: served.url });
    assert.equal(code, 0, stderr);
    const id = /^tracking (.+)$/m.exec(stdout)?.[1] ?? "";
    const done = manager.status(id);
    assert.equal(done?.status, "completed");
    assert.equal(done?.targetId, "import");
    assert.deepEqual(done?.inputs, { files: ["jan.csv", "feb.csv", "mar.csv", "apr.csv"] });
    assert.deepEqual(done?.result, { imported: 4 });
    assert.equal(done?.progress?.message, "imported apr.csv");
    assert.deepEqual(seen, [
      "created",
      "status",
      "progress 1/4",
      "progress 2/4",
      "progress 3/4",
      "progress 4/4",
      "status",
    ]);
  } finally {
    await served.close();
    manager.free();
  }
});

test("cancelled on the server mid-way, it stops at its next report and reports nothing more", async () => {
  const manager = new ExecutionManager();
  const served = await serve({ manager });
  manager.subscribe(({ type, execution }) => {
    if (type === "progress" && execution.progress?.current === 2) manager.cancel(execution.id, "not needed");
  });
  try {
    const { code, stdout } = await runWorker({ EXECMAN_URL: served.url });
    assert.equal(code, 1);
    const id = /^tracking (.+)$/m.exec(stdout)?.[1] ?? "";
    const cancelled = manager.status(id);
    assert.equal(cancelled?.status, "cancelled");
    assert.equal(cancelled?.cancelReason, "not needed");
    assert.equal(cancelled?.progress?.current, 2, "no report after the cancel was taken");
  } finally {
    await served.close();
    manager.free();
  }
});

test("with a token, it sends EXECMAN_TOKEN", async () => {
  const manager = new ExecutionManager();
  const served = await serve({ manager, token: "worker-secret" });
  try {
    const refused = await runWorker({ EXECMAN_URL: served.url, EXECMAN_TOKEN: "" });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /Authorization: Bearer/);
    assert.equal(manager.counts().total, 0);
    const { code, stderr } = await runWorker({ EXECMAN_URL: served.url, EXECMAN_TOKEN: "worker-secret" });
    assert.equal(code, 0, stderr);
    assert.equal(manager.counts().completed, 1);
  } finally {
    await served.close();
    manager.free();
  }
});
