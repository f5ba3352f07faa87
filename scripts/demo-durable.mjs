// `npm run demo -- --durable`: a durable Node manager that kills itself with SIGKILL mid-run.
//
//   1. A child process opens a manager on a fileStore (a file in a temporary folder), registers
//      three targets and starts nine executions under concurrency 3 (an export that retries an
//      interrupted attempt, reports that do not, quick notes), tracks a remote job, and after
//      ~1.2 s, with work running and waiting, prints what it holds and kills itself with SIGKILL:
//      no close(), no flush(), no exit handler.
//   2. A second process opens the same store: every execution is back (ids, progress, results,
//      order); those whose handler was running are INTERRUPTED — failed, or pending for a retry
//      when their policy has attempts left; pending ones wait for their target; the tracked job is
//      as it was. It registers the targets again, everything left runs to its end, and it closes.
//
// Exit code 0 when the second process found what the first one left (checked, not just shown).
//
//   node scripts/demo-durable.mjs <store file> first|second     (the two processes)

import { spawnSync } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const SELF = fileURLToPath(import.meta.url);
const CONCURRENCY = 3;
const ICON = { pending: "…", running: "▶", completed: "✔", failed: "✖", cancelled: "⊘" };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The handlers: the same in both processes (handlers are not stored: each process registers them). */
function register(manager) {
  // Long enough to be running when the first process dies.
  const work = (ms) => async (inputs, ctx) => {
    const steps = 10;
    for (let i = 1; i <= steps; i++) {
      await sleep(ms / steps);
      if (ctx.signal.aborted) throw ctx.signal.reason;
      ctx.progress(i, steps, `step ${i} of ${steps}`);
    }
    return { done: inputs.name, attempt: ctx.attempt };
  };
  manager.register("export", work(1500), { retry: { attempts: 3, backoff: { delayMs: 200 } } });
  manager.register("report", work(1000));
  manager.register("note", async (inputs) => `noted: ${inputs.name}`);
}

function row(x) {
  const p = x.progress ? `${String(Math.round(x.progress.percentage ?? 0)).padStart(3)}%` : "    ";
  const what =
    x.error !== undefined
      ? `${x.error.code}${x.status === "pending" ? `, retry at attempt ${x.attempt + 1}/${x.maxAttempts}` : ""}`
      : x.result !== undefined
        ? JSON.stringify(x.result)
        : (x.progress?.message ?? "");
  return `  ${ICON[x.status]} ${x.id.padEnd(10)} ${x.targetId.padEnd(7)} ${x.status.padEnd(10)} ${p}  ${what}`;
}

function show(title, manager) {
  console.log(`\n${title}`);
  for (const x of manager.list({ order: "asc", pageSize: 100 }).items) console.log(row(x));
  const c = manager.counts();
  console.log(
    `  counts: ${c.pending} pending, ${c.running} running, ${c.completed} completed, ${c.failed} failed (${c.total} in all)`,
  );
}

async function first(ExecutionManager, fileStore, file) {
  const manager = await ExecutionManager.open({ store: fileStore(file), concurrency: CONCURRENCY });
  register(manager);
  for (const name of ["note-1", "note-2"]) manager.create({ targetId: "note", id: name, inputs: { name } });
  for (const name of ["export-1", "export-2"])
    manager.create({ targetId: "export", id: name, inputs: { name }, priority: 1 });
  for (const name of ["report-1", "report-2", "report-3"])
    manager.create({ targetId: "report", id: name, inputs: { name } });
  manager.create({ targetId: "note", id: "note-3", inputs: { name: "note-3" }, delayMs: 60_000 });
  manager.track({ targetId: "remote", id: "remote-1", inputs: { host: "build-server" } });
  manager.start("remote-1");
  manager.reportProgress("remote-1", 40, 100, "compiling");
  await sleep(1200);
  show(`process ${process.pid}: what it holds 1.2 s in, just before SIGKILL`, manager);
  console.log(`\nprocess ${process.pid}: kill -KILL ${process.pid} (no close, no flush)`);
  process.kill(process.pid, "SIGKILL");
}

async function second(ExecutionManager, fileStore, file) {
  const manager = await ExecutionManager.open({ store: fileStore(file), concurrency: CONCURRENCY });
  show(`process ${process.pid}: opened the store (${fs.statSync(file).size} bytes) — restored`, manager);
  const items = manager.list({ order: "asc", pageSize: 100 }).items;
  const interrupted = items.filter((x) => x.error?.code === "INTERRUPTED");
  const failed = interrupted.filter((x) => x.status === "failed").map((x) => x.id);
  const retried = interrupted.filter((x) => x.status === "pending").map((x) => x.id);
  const waiting = items.filter((x) => x.status === "pending" && x.error === undefined).map((x) => x.id);
  console.log(`\n  interrupted, failed:           ${failed.join(", ") || "none"}`);
  console.log(`  interrupted, pending a retry:  ${retried.join(", ") || "none"}`);
  console.log(`  pending, waiting for a target: ${waiting.join(", ") || "none"}`);
  console.log(`  tracked, as it was:            remote-1 ${manager.status("remote-1")?.status}`);
  const problems = [];
  if (items.length !== 9) problems.push(`${items.length} executions restored, 9 expected`);
  if (interrupted.length === 0) problems.push("nothing was interrupted");
  if (items.some((x) => x.targetId !== "remote" && x.status === "running"))
    problems.push("a handler-driven execution is running");
  if (manager.status("remote-1")?.progress?.message !== "compiling") problems.push("the tracked job lost its progress");
  if (!items.some((x) => x.status === "completed")) problems.push("nothing completed before the kill");

  console.log(`\nprocess ${process.pid}: registers the targets again; what waits runs now`);
  register(manager);
  manager.cancel("note-3", "not needed after all");
  manager.complete("remote-1", { artifact: "build-42.tar" });
  await Promise.all(items.map((x) => manager.wait(x.id)));
  show(`process ${process.pid}: everything ended`, manager);
  for (const id of retried) {
    const x = manager.status(id);
    if (x.status !== "completed" || x.attempt < 2) problems.push(`${id} was not retried to completion`);
  }
  await manager.close();
  if (problems.length > 0) {
    console.error(`\ndurable demo: unexpected: ${problems.join("; ")}`);
    process.exitCode = 1;
  } else {
    console.log("\ndurable demo: the store kept everything the killed process had; interrupted work was retried.");
  }
}

/** The demo from the top: two processes, the first one killed. */
export function runDurableDemo() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "execman-durable-demo-"));
  const file = path.join(dir, "jobs.store");
  try {
    console.log(`execman durable demo: the store is ${file}`);
    const one = spawnSync(process.execPath, [SELF, file, "first"], { stdio: "inherit" });
    if (one.signal !== "SIGKILL")
      throw new Error(`the first process ended with ${one.signal ?? one.status}, not SIGKILL`);
    console.log(`\nthe first process was killed (${one.signal}); a new one opens the store`);
    const two = spawnSync(process.execPath, [SELF, file, "second"], { stdio: "inherit" });
    if (two.status !== 0) throw new Error(`the second process exited with ${two.signal ?? two.status}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === SELF) {
  const [file, phase] = process.argv.slice(2);
  const { ExecutionManager, fileStore } = createRequire(import.meta.url)("../pkg");
  const run = phase === "first" ? first : phase === "second" ? second : null;
  if (run === null) {
    console.error("usage: node scripts/demo-durable.mjs <store file> first|second (or: npm run demo -- --durable)");
    process.exit(2);
  }
  await run(ExecutionManager, fileStore, file);
}
