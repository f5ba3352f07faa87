// A durable Node manager that crash.test.mjs kills with SIGKILL at random moments.
//
//   node crash-child.mjs <store file> run <seed>    open, log, make changes until killed
//   node crash-child.mjs <store file> check         open, log what was restored, close
//
// What it writes to stdout (synchronously, one line each, so a kill loses none written before it):
//   S <snapshot JSON>   an execution as it was restored (each one, right after open, before any
//                       target is registered)
//   E <snapshot JSON>   an execution right after a change (a subscribe listener: every state it had)
//   R <id>              an execution was removed (evicted: maxFinished)
//   D <n>               everything in the first n lines is durable (written before `flush()` was
//                       called, and that flush resolved)
//   READY               the restore is logged; changes start
// Only `fs.writeSync(1, …)`: a line is in the pipe before the next statement runs.
import fs from "node:fs";
import { ExecutionManager, fileStore } from "execman";

const [file, mode, seedText] = process.argv.slice(2);
/** Small enough that finished executions are evicted, and the log compacted, during the runs. */
const MAX_FINISHED = 300;
let lines = 0;
const out = (line) => {
  fs.writeSync(1, `${line}\n`);
  lines++;
};

// A small deterministic generator (each run its own seed).
let seed = Number(seedText ?? 1) >>> 0 || 1;
const random = () => {
  seed ^= seed << 13;
  seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  seed >>>= 0;
  return seed / 2 ** 32;
};
const pick = (list) => list[Math.floor(random() * list.length)];

const manager = await ExecutionManager.open({ store: fileStore(file), maxFinished: MAX_FINISHED });
let page = manager.list({ order: "asc", pageSize: 1000 });
for (;;) {
  for (const x of page.items) out(`S ${JSON.stringify(x)}`);
  if (!page.hasNext) break;
  page = manager.list({ order: "asc", pageSize: 1000, cursor: page.nextCursor });
}
// Everything restored (and the restart's changes) was written before open resolved.
out(`D ${lines}`);
if (mode === "check") {
  await manager.close();
  process.exit(0);
}

manager.subscribe(({ type, execution }) => {
  out(type === "removed" ? `R ${execution.id}` : `E ${JSON.stringify(execution)}`);
});
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
manager.register("work", async (inputs, ctx) => {
  await sleep(inputs.ms);
  ctx.progress(1, 2, `half of ${ctx.id}`);
  await sleep(inputs.ms);
  if (inputs.fail) throw new Error(`failed on attempt ${ctx.attempt}`);
  return { done: ctx.id, attempt: ctx.attempt };
});
// Never ends by itself: running when the kill comes (or cancelled).
manager.register(
  "slow",
  (inputs, ctx) => new Promise((resolve, reject) => ctx.signal.addEventListener("abort", reject)),
);
out("READY");

const tracked = [];
let n = 0;
const step = () => {
  const r = random();
  n++;
  if (r < 0.35) {
    manager.create({
      targetId: "work",
      id: `w-${seedText}-${n}`,
      inputs: { ms: Math.floor(random() * 20), fail: random() < 0.3 },
      priority: Math.floor(random() * 3),
      ...(random() < 0.5 ? { retry: { attempts: 3, backoff: { delayMs: 5 } } } : {}),
      ...(random() < 0.2 ? { delayMs: Math.floor(random() * 50) } : {}),
    });
  } else if (r < 0.45) {
    manager.create({
      targetId: "slow",
      id: `s-${seedText}-${n}`,
      ...(random() < 0.5 ? { retry: { attempts: 2 } } : {}),
    });
  } else if (r < 0.6) {
    const x = manager.track({ targetId: "remote", id: `t-${seedText}-${n}`, inputs: { n } });
    tracked.push(x.id);
  } else if (r < 0.85 && tracked.length > 0) {
    const id = pick(tracked);
    const x = manager.status(id);
    if (x === undefined || x.finishedAt !== null) {
      tracked.splice(tracked.indexOf(id), 1);
    } else if (x.status === "pending") {
      manager.start(id);
    } else if (random() < 0.6) {
      manager.reportProgress(id, Math.floor(random() * 10), 10, random() < 0.5 ? "working" : null);
    } else if (random() < 0.5) {
      manager.complete(id, { n: x.inputs.n });
    } else {
      manager.fail(id, { code: "REMOTE", message: "remote failure" });
    }
  } else {
    const active = manager.list({ status: ["pending", "running"], pageSize: 20 }).items;
    if (active.length > 0) manager.cancel(pick(active).id, "changed my mind");
  }
};

let flushing = false;
const flushNow = () => {
  if (flushing) return;
  flushing = true;
  const upTo = lines;
  manager.flush().then(
    () => {
      out(`D ${upTo}`);
      flushing = false;
    },
    (err) => {
      out(`X ${err.code} ${err.message}`);
      process.exit(3);
    },
  );
};

// Changes in bursts, with tasks in between (so background batches are written too), and a flush now
// and then.
setInterval(() => {
  const burst = 1 + Math.floor(random() * 4);
  for (let i = 0; i < burst; i++) step();
  if (random() < 0.2) flushNow();
}, 1);
