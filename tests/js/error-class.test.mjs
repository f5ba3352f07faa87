// The runtime ExecutionError class: exported by every entry (import, require, the web build), the
// same class everywhere, and every error of the contract is an instance of it (and of Error).
import assert from "node:assert/strict";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { ExecutionError, ExecutionManager } from "execman";
import { test } from "./helpers.mjs";

const require = createRequire(import.meta.url);

test("ExecutionError is exported by import and require, one class", () => {
  assert.equal(typeof ExecutionError, "function");
  assert.equal(require("execman").ExecutionError, ExecutionError);
  assert.equal(require("execman").ExecutionManager, ExecutionManager);
});

test("every error of the contract is an instance of ExecutionError and of Error", async () => {
  const m = new ExecutionManager({ maxBytes: 4096 });
  const errors = [];
  const grab = (fn) => {
    try {
      fn();
    } catch (e) {
      errors.push(e);
    }
  };
  grab(() => new ExecutionManager({ concurrency: 0 }));
  grab(() => m.register("", () => 1));
  grab(() => m.create({ targetId: "missing" }));
  grab(() => m.start("nope"));
  m.track({ targetId: "x", id: "a" });
  grab(() => m.track({ targetId: "x", id: "a" }));
  grab(() => m.complete("a"));
  grab(() => m.track({ targetId: "x", inputs: "y".repeat(10_000) }));
  await m.wait("nope").catch((e) => errors.push(e));
  m.free();
  grab(() => m.counts());
  const codes = errors.map((e) => e.code);
  assert.deepEqual(codes, [
    "INVALID_ARGUMENT",
    "INVALID_ARGUMENT",
    "UNKNOWN_TARGET",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "INVALID_TRANSITION",
    "RESOURCE_EXHAUSTED",
    "NOT_FOUND",
    "INVALID_TRANSITION",
  ]);
  for (const e of errors) {
    assert.ok(e instanceof ExecutionError, `${e.code} is an ExecutionError`);
    assert.ok(e instanceof Error);
    assert.equal(e.name, "ExecutionError");
  }
});

test("the web build exports ExecutionError too", async () => {
  const pkg = path.dirname(require.resolve("execman/package.json"));
  const web = await import(path.join(pkg, "web", "execman.js"));
  web.initSync({ module: fs.readFileSync(path.join(pkg, "execman_bg.wasm")) });
  assert.equal(typeof web.ExecutionError, "function");
  const m = new web.ExecutionManager();
  assert.throws(
    () => m.start("nope"),
    (e) => e instanceof web.ExecutionError && e.code === "NOT_FOUND",
  );
});
