// Real crashes: a durable Node manager on a fileStore (crash-child.mjs) makes changes and is killed
// with SIGKILL at a random moment, 20 times in a row on the same store; each next process reopens
// it. After every kill, what the next process restored is checked against everything the killed
// one logged (every state each execution had, and how far its flushes had got):
// - every change logged before the last flush that resolved is there (the execution exists, in
//   that state or a later one it really had);
// - every restored execution is in a state it really had, or what the restart rules make of one:
//   a handler-driven running one is INTERRUPTED (failed, or pending for a retry), never running;
// - while a process holds the store, another open gets STORE_ERROR; once it is killed, the next
//   open succeeds (its lock is taken over).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual } from "node:util";
import { ExecutionManager, fileStore } from "execman";
import { checkError, test } from "../helpers.mjs";

const CHILD = fileURLToPath(new URL("./crash-child.mjs", import.meta.url));
const KILLS = 20;
/** The child's maxFinished. */
const MAX_FINISHED = 300;

/**
 * Runs the child; resolves with its lines once it exited. `kill(child, ready)` is called when it
 * printed READY (run mode).
 */
function runChild(file, args, onReady) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, file, ...args], {
      cwd: path.dirname(CHILD),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let text = "";
    let err = "";
    let ready = false;
    child.stdout.on("data", (d) => {
      text += d;
      if (!ready && text.includes("\nREADY\n")) {
        ready = true;
        onReady?.(child);
      }
    });
    child.stderr.on("data", (d) => {
      err += d;
    });
    child.on("error", reject);
    // "close": the process exited (and was reaped) and its output is all read.
    child.on("close", (code, signal) => {
      const lines = text.split("\n");
      lines.pop(); // the part after the last newline: a line cut by the kill, or ""
      resolve({ lines, code, signal, stderr: err });
    });
  });
}

/** The parsed log of one process. */
function parse(lines) {
  const restored = new Map();
  const removed = new Set();
  /** Every state each id had, in order: { at: line index, x } */
  const states = new Map();
  let durable = 0;
  lines.forEach((line, at) => {
    const kind = line[0];
    if (kind === "S" || kind === "E") {
      const x = JSON.parse(line.slice(2));
      if (kind === "S") restored.set(x.id, x);
      if (!states.has(x.id)) states.set(x.id, []);
      states.get(x.id).push({ at, x });
    } else if (kind === "R") {
      removed.add(line.slice(2));
    } else if (kind === "D") {
      durable = Math.max(durable, Number(line.slice(2)));
    } else if (kind === "X") {
      assert.fail(`the child's flush failed: ${line}`);
    }
  });
  return { restored, states, removed, durable };
}

const handlerDriven = (x) => x.targetId === "work" || x.targetId === "slow";

/**
 * Whether `r` (restored) is the state `p` (logged), or what a restart makes of it.
 * @returns {"same" | "interrupted" | false}
 */
function matches(r, p) {
  if (isDeepStrictEqual(r, p)) return "same";
  if (!(handlerDriven(p) && p.status === "running")) return false;
  const same = ["id", "targetId", "type", "inputs", "config", "createdAt", "startedAt", "priority", "attempt"].every(
    (k) => isDeepStrictEqual(r[k], p[k]),
  );
  if (!same || r.error?.code !== "INTERRUPTED") return false;
  if (r.status === "failed") return r.finishedAt !== null ? "interrupted" : false;
  if (r.status === "pending")
    return r.runAt !== null && r.progress === null && r.attempt < r.maxAttempts ? "interrupted" : false;
  return false;
}

/** Checks what `next` restored against what `prev` logged; returns figures. */
function check(prev, next, run) {
  const figures = { restored: next.restored.size, interrupted: 0, retried: 0, durableChecked: 0, evicted: 0 };
  for (const [id, r] of next.restored) {
    assert.notEqual(handlerDriven(r) && r.status, "running", `run ${run}: ${id} restored running`);
    const had = prev.states.get(id);
    assert.ok(had, `run ${run}: ${id} restored but never logged by the killed process`);
    const m = had.map(({ x }) => matches(r, x)).find((v) => v !== false);
    assert.ok(m, `run ${run}: ${id} restored in a state it never had: ${JSON.stringify(r)}`);
    if (m === "interrupted" && !had.some(({ x }) => isDeepStrictEqual(r, x))) {
      if (r.status === "failed") figures.interrupted++;
      else figures.retried++;
    }
  }
  for (const [id, had] of prev.states) {
    // The last state logged before the last resolved flush began.
    const before = had.filter(({ at }) => at < prev.durable);
    if (before.length === 0) continue;
    figures.durableChecked++;
    const r = next.restored.get(id);
    if (r === undefined) {
      // Only finished executions go: evicted (a `removed` event), or evicted by the restart when
      // the executions it interrupted took the place of the earliest finished ones.
      const full = [...next.restored.values()].filter((x) => x.finishedAt !== null).length >= MAX_FINISHED;
      const couldEnd = had.some(({ x }) => x.finishedAt !== null || x.status === "running");
      assert.ok(
        prev.removed.has(id) || (full && couldEnd),
        `run ${run}: ${id} was durable (line ${before.at(-1).at} < ${prev.durable}) and is gone`,
      );
      figures.evicted++;
      continue;
    }
    const from = had.indexOf(before.at(-1));
    assert.ok(
      had.slice(from).some(({ x }) => matches(r, x)),
      `run ${run}: ${id} restored as ${JSON.stringify(r)}, older than its durable state ${JSON.stringify(before.at(-1).x)}`,
    );
  }
  return figures;
}

test(
  `${KILLS} SIGKILLs at random moments: nothing durable is lost, every restored state is real, running handlers are interrupted`,
  async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "execman-crash-"));
    const file = path.join(dir, "jobs.store");
    const totals = { kills: 0, restored: 0, interrupted: 0, retried: 0, durableChecked: 0, evicted: 0, compactions: 0 };
    let prev = null;
    let lastInode = 0;
    try {
      for (let run = 1; run <= KILLS; run++) {
        const delay = 100 + Math.floor(Math.random() * 500);
        let contested = null;
        const result = await runChild(file, ["run", String(run)], (child) => {
          setTimeout(() => {
            // While it holds the store, nobody else opens it.
            if (run % 5 === 0) {
              contested = ExecutionManager.open({ store: fileStore(file) }).then(
                (m) => m.close().then(() => assert.fail("a second open of a store in use succeeded")),
                (err) => checkError(err, "STORE_ERROR", "in use"),
              );
            }
            setTimeout(() => child.kill("SIGKILL"), contested === null ? 0 : 20);
          }, delay);
        });
        await contested;
        assert.equal(result.signal, "SIGKILL", `run ${run} ended by itself (${result.code}): ${result.stderr}`);
        totals.kills++;
        const log = parse(result.lines);
        if (prev !== null) {
          const f = check(prev, log, run);
          for (const k of ["restored", "interrupted", "retried", "durableChecked", "evicted"]) totals[k] += f[k];
        }
        // A compaction renames a new file over the store: the inode changes.
        const inode = fs.statSync(file).ino;
        if (inode !== lastInode) totals.compactions++;
        lastInode = inode;
        prev = log;
      }
      // The last one, checked by a process that only opens and closes.
      const last = await runChild(file, ["check"]);
      assert.equal(last.code, 0, last.stderr);
      const f = check(prev, parse(last.lines), KILLS + 1);
      for (const k of ["restored", "interrupted", "retried", "durableChecked", "evicted"]) totals[k] += f[k];
      console.log(
        `crash: ${totals.kills} SIGKILLs; ${totals.restored} executions restored in all, ` +
          `${totals.durableChecked} durable ones checked (${totals.evicted} of them evicted since), ` +
          `${totals.interrupted} interrupted (failed), ${totals.retried} interrupted and retried; ` +
          `${totals.compactions} of the runs compacted the store; ` +
          `final size ${fs.statSync(file).size} B`,
      );
      assert.ok(totals.interrupted + totals.retried > 0, "no kill caught a handler running");
      assert.ok(totals.durableChecked > 0);
      assert.ok(totals.compactions > 1, "no run compacted the store");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
  { timeout: 240_000 },
);
