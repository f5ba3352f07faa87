// Never trap, at the size limits: arguments so big that an error message, a snapshot or the
// wasm heap no longer fits. the contract: "After any error the manager is unchanged and fully usable;
// no input, however malformed, may trap the wasm instance", and every error is an ExecutionError.
//
// Each case runs in its own Node process (oversize-child.mjs): 1–5 s and up to ~3 GB of RAM
// each. The 4 GiB case and the slower variants run only with EXECMAN_LONG=1.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { LONG, test } from "./lib.mjs";

const CHILD = fileURLToPath(new URL("./oversize-child.mjs", import.meta.url));

function runCase(name) {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [CHILD, name], { encoding: "utf8", timeout: 280_000 });
  const ms = Date.now() - t0;
  const why = (r.stderr || r.stdout || "").trim().split("\n").slice(0, 12).join("\n");
  assert.ok(r.error === undefined, `${name}: could not run: ${r.error}`);
  assert.equal(r.status, 0, `${name} (${ms} ms, exit ${r.status ?? r.signal}):\n${why}`);
}

const DEFAULT = [
  "cancel(unknown id of 2^29-24 chars)",
  "list({ pageSize: string of 2^29-24 chars })",
  "track(inputs: 52 × the same 10 MiB string)",
];
const LONG_ONLY = [
  "fail(id, message of 2^29-24 chars)",
  "create({ targetId: unknown, 2^29-24 chars })",
  "handle({ method of 2^29-24 chars })",
  "track(inputs: 450 × the same 10 MiB string)",
];

for (const name of DEFAULT) test(`oversize: ${name}`, () => runCase(name), { timeout: 300_000 });
for (const name of LONG_ONLY)
  test(`oversize: ${name}`, () => runCase(name), { timeout: 300_000, skip: !LONG && "EXECMAN_LONG=1" });
