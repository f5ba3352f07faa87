#!/usr/bin/env node
// execman demo — `npm run demo`.
//
// A short, self-contained tour of the execution manager from Node.js:
//
//   1. prepares what it needs (Rust target, wasm-bindgen, npm packages, pkg/),
//   2. registers three simulated targets (scripts/demo-targets.mjs) whose
//      handlers check their inputs, report progress and honour their AbortSignal,
//   3. runs twelve executions under a concurrency limit of 3 (the rest wait
//      "pending", by priority then in FIFO order), plus one externally driven
//      ("tracked") execution reported by hand,
//   4. cancels one mid-run, lets one throw, lets one hit its timeoutMs, retries
//      an upload whose connection drops until it succeeds on its third attempt
//      (exponential backoff), and delays a report by 1.5 s,
//   5. draws live progress bars from subscribe() events (plain log lines when
//      stdout is not a terminal),
//   6. waits for everything with wait() and prints list() and counts().
//
// Other modes: `npm run demo -- --web` serves the browser dashboard, `npm run demo -- --serve`
// serves the REST routes with these targets and the dashboard pointed at them,
// `npm run demo -- --cluster` runs a batch on BullMQ across a redis-server and two worker
// processes, one of them killed mid-job, and `npm run demo -- --durable` runs a durable manager
// that kills itself with SIGKILL and reopens its store (top of main()).
//
// It takes about five seconds once pkg/ is built. Exit code 0 means every
// execution ended the way the demo planned; anything unexpected prints the
// error and exits with 1.
//
// The targets (upload, transcode, report), their inputs' defaults and bounds are in
// scripts/demo-targets.mjs.
//
// Note: no npm package is imported statically. node_modules/ and pkg/ may not
// exist yet when this file starts; they are loaded only after step 1.

import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { DEMO_TARGETS, registerDemoTargets } from "./demo-targets.mjs";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CONCURRENCY = 3;
const IS_TTY = Boolean(process.stdout.isTTY);
let t0 = Date.now(); // reset once the build is done: log times count from the demo's start

async function main() {
  // `npm run demo -- --web [--port N]`: build, then serve the browser dashboard (www/ + pkg/,
  // default port 8080) until Ctrl-C, instead of the terminal demo below.
  if (process.argv.includes("--web")) {
    prepare();
    const { serveCli } = await import("./serve.mjs");
    return serveCli(process.argv.slice(2), { defaultPort: 8080 });
  }

  // `npm run demo -- --serve [--port N] [--web-port M]`: build, then serve the REST routes
  // (/api/v1/executions…, the event streams) of a manager with the demo's targets on 127.0.0.1
  // (default port 8080), and the dashboard (www/, default port 8081) in its remote mode, allowed
  // by CORS, until Ctrl-C.
  if (process.argv.includes("--serve")) {
    prepare();
    return serveRest(process.argv.slice(2));
  }

  // `npm run demo -- --cluster`: build, then execman over BullMQ with a redis-server, two worker
  // processes and this one as the API process; one worker is killed mid-job (scripts/demo-cluster.mjs).
  if (process.argv.includes("--cluster")) {
    prepare();
    const { cluster } = await import("./demo-cluster.mjs");
    return cluster();
  }
  // `npm run demo -- --durable`: build, then a durable manager on a file that kills itself with
  // SIGKILL mid-run, and a second process that reopens the store (scripts/demo-durable.mjs).
  if (process.argv.includes("--durable")) {
    prepare();
    const { runDurableDemo } = await import("./demo-durable.mjs");
    return runDurableDemo();
  }

  // ── 1. Prepare ──────────────────────────────────────────────────────────────
  prepare();
  const { ExecutionManager } = createRequire(import.meta.url)("../pkg");
  t0 = Date.now();

  // ── 2. The manager and its targets ──────────────────────────────────────────
  // At most CONCURRENCY handler calls are in flight; later executions queue.
  const manager = new ExecutionManager({ concurrency: CONCURRENCY });

  // Count handler calls really in flight, to show the limit holds.
  let inFlight = 0;
  let peakInFlight = 0;
  const counted = (handler) => async (inputs, ctx) => {
    peakInFlight = Math.max(peakInFlight, ++inFlight);
    try {
      return await handler(inputs, ctx);
    } finally {
      inFlight--;
    }
  };

  registerDemoTargets(manager, counted);

  // ── 3. Display: progress bars (TTY) or plain log lines (pipe) ───────────────
  const display = IS_TTY ? await barDisplay() : lineDisplay();
  // A listener that throws is isolated by the manager (the change still
  // happens); keep the first error so the demo still fails loudly.
  let listenerError;
  const guarded = (listener) => (event) => {
    try {
      listener(event);
    } catch (err) {
      listenerError ??= err;
    }
  };
  const unsubscribe = manager.subscribe(guarded((event) => display.onEvent(event)));

  // ── 4. Twelve handler-driven executions ─────────────────────────────────────
  // `expect` is what each one should end as (and `attempts`, how many attempts it took); it is
  // checked at the end.
  const plan = [
    { targetId: "upload", inputs: { name: "photos.zip", sizeMb: 12 }, expect: "completed" },
    { targetId: "upload", inputs: { name: "holiday.mp4", sizeMb: 40 }, expect: "cancelled" },
    { targetId: "transcode", inputs: { name: "intro.mp4", frames: 120 }, expect: "completed" },
    {
      targetId: "report",
      inputs: { name: "daily-sales", sections: ["orders", "refunds", "totals", "charts"] },
      expect: "completed",
    },
    {
      targetId: "transcode",
      inputs: { name: "broken.mov", frames: 150, corruptAt: 90 },
      expect: "failed",
      code: "HANDLER_ERROR",
    },
    { targetId: "upload", inputs: { name: "backup.tar", sizeMb: 16 }, expect: "completed" },
    {
      targetId: "transcode",
      inputs: { name: "outro.mp4", frames: 240 },
      config: { timeoutMs: 800 },
      expect: "failed",
      code: "TIMEOUT",
    },
    {
      targetId: "report",
      inputs: { name: "weekly-usage", sections: ["users", "sessions", "errors", "latency", "costs"] },
      expect: "completed",
    },
    { targetId: "upload", inputs: { name: "logs.gz", sizeMb: 8 }, expect: "completed" },
    {
      targetId: "report",
      inputs: { name: "monthly-kpis", sections: ["growth", "churn", "revenue"] },
      expect: "completed",
    },
    // Its connection drops on attempts 1 and 2; up to 3 attempts, 200 ms then 400 ms apart, and
    // priority 5: each attempt starts before the queued executions of priority 0.
    {
      targetId: "upload",
      inputs: { name: "flaky.bin", sizeMb: 3, dropsBefore: 2 },
      priority: 5,
      retry: { attempts: 3, backoff: { type: "exponential", delayMs: 200 } },
      expect: "completed",
      attempts: 3,
    },
    // Pending for 1.5 s before it may start.
    {
      targetId: "report",
      inputs: { name: "nightly", sections: ["jobs", "alerts"] },
      delayMs: 1500,
      expect: "completed",
    },
  ];
  const executions = plan.map(({ expect, code, attempts, ...request }) => manager.create(request));

  // Cancel the big upload once it is 40% through, as a user pressing "cancel"
  // would. cancel() aborts the handler's ctx.signal before it returns.
  // (A listener may call the manager; the resulting events are delivered
  // after the current one has reached every listener.)
  const victim = executions[1].id;
  const stopWatching = manager.subscribe(
    guarded(({ type, execution }) => {
      if (type === "progress" && execution.id === victim && execution.progress.percentage >= 40) {
        stopWatching();
        display.note(`cancelling ${execution.inputs.name} at ${Math.round(execution.progress.percentage)}%`);
        manager.cancel(victim, "user pressed cancel");
      }
    }),
  );

  // ── 5. One externally driven execution ─────────────────────────────────────
  // The work happens "elsewhere" (here: a timer loop standing in for a render
  // farm); execman only tracks it. It needs no registered target.
  const tracked = manager.track({ targetId: "render-farm", type: "remote", inputs: { name: "scene-42" } });
  const remoteJob = (async () => {
    await sleep(500);
    manager.start(tracked.id);
    for (let tile = 1; tile <= 16; tile++) {
      await sleep(250);
      manager.reportProgress(tracked.id, tile, 16, `tile ${tile}/16`);
    }
    manager.complete(tracked.id, { frames: 1, url: "https://render.example.com/scene-42.png" });
  })();

  // ── 6. Wait for everything ──────────────────────────────────────────────────
  // wait() resolves with the terminal snapshot whatever the outcome: it does
  // not reject for a failed or cancelled execution.
  const finals = await Promise.all([...executions.map((e) => manager.wait(e.id)), manager.wait(tracked.id), remoteJob]);
  unsubscribe();
  display.stop();
  if (listenerError) throw listenerError;

  // ── 7. Summary: list() and counts() ─────────────────────────────────────────
  const page = manager.list({ order: "asc", pageSize: 100 });
  console.log(`\nlist({ order: "asc" }) — ${page.total} executions\n`);
  printTable(page.items.map(summaryRow));
  const counts = manager.counts();
  console.log(
    `\ncounts(): ${Object.entries(counts)
      .map(([status, n]) => `${status} ${n}`)
      .join(", ")}`,
  );
  console.log(`peak handler calls in flight: ${peakInFlight} (concurrency limit ${CONCURRENCY})`);
  console.log(`finished in ${seconds(Date.now() - t0)}`);

  // ── 8. Check the run went as planned ────────────────────────────────────────
  const problems = [];
  plan.forEach((p, i) => {
    const e = finals[i];
    if (e.status !== p.expect) problems.push(`${e.inputs.name}: expected ${p.expect}, got ${e.status}`);
    else if (p.code && e.error?.code !== p.code)
      problems.push(`${e.inputs.name}: expected error ${p.code}, got ${e.error?.code}`);
    else if (e.attempt !== (p.attempts ?? 1))
      problems.push(`${e.inputs.name}: expected ${p.attempts ?? 1} attempt(s), got ${e.attempt}`);
    if (p.delayMs !== undefined && !(e.startedAt >= executions[i].runAt))
      problems.push(`${e.inputs.name}: started at ${e.startedAt}, before its runAt ${executions[i].runAt}`);
  });
  if (finals[plan.length].status !== "completed")
    problems.push(`scene-42: expected completed, got ${finals[plan.length].status}`);
  if (peakInFlight > CONCURRENCY) problems.push(`${peakInFlight} handler calls ran at once (limit ${CONCURRENCY})`);
  if (counts.total !== plan.length + 1 || counts.pending + counts.running !== 0) {
    problems.push(`counts() looks wrong: ${JSON.stringify(counts)}`);
  }
  if (problems.length > 0) throw new Error(`the run did not go as planned:\n  - ${problems.join("\n  - ")}`);
}

/**
 * `--serve`: execman/server's serve() with the demo's targets registered (and the dashboard's
 * others, `crawl` and `sync`, so that every target of the dashboard's form exists), plus the static server of the
 * dashboard, whose origin the API grants CORS; until Ctrl-C.
 */
async function serveRest(argv) {
  const require = createRequire(import.meta.url);
  const { ExecutionManager } = require("../pkg");
  const { serve } = require("../pkg/server.cjs"); // what `require("execman/server")` gives
  const { portFromArgs, startServer } = await import("./serve.mjs");
  const { TARGETS, registerTargets } = await import("../www/targets.js");
  const port = portFromArgs(argv, 8080);
  const webPort = portFromArgs(argv, port === 0 ? 0 : port + 1, "--web-port");

  const manager = new ExecutionManager({ concurrency: CONCURRENCY });
  registerDemoTargets(manager);
  registerTargets(manager, { targets: TARGETS.filter((t) => !DEMO_TARGETS.some((d) => d.id === t.id)) });
  manager.subscribe(({ type, execution: e }) => {
    if (type === "created" || type === "status")
      console.log(
        `${new Date().toISOString().slice(11, 23)}  ${e.targetId.padEnd(9)} ${e.id}  ${ICON[e.status]} ${e.status}`,
      );
  });

  const taken = (flag, p) => (err) => {
    throw err?.code === "EADDRINUSE"
      ? new Error(`port ${p} is already in use; pass ${flag} N (or ${flag} 0 for any free port)`)
      : err;
  };
  const web = await startServer({ port: webPort }).catch(taken("--web-port", webPort));
  // The dashboard's origin as the browser names it, by address or by name.
  const origin = new URL(web.url).origin;
  const cors = { origin: [origin, origin.replace("127.0.0.1", "localhost")] };
  const server = await serve({ manager, port, host: "127.0.0.1", cors }).catch(async (err) => {
    await web.close();
    taken("--port", port)(err);
  });
  const api = `${server.url}/api/v1/executions`;
  const dashboard = `${web.url}?server=${server.url}`;
  console.log(`
execman REST API: ${api}
targets: ${[...DEMO_TARGETS, ...TARGETS.filter((t) => !DEMO_TARGETS.some((d) => d.id === t.id))].map((t) => `${t.id} (${t.type})`).join(", ")}; concurrency ${CONCURRENCY}
(inputs are checked: see scripts/demo-targets.mjs for their defaults and bounds)

The dashboard, following this server live (REST + EventSource; CORS is granted to its origin):
  ${dashboard}
(or open ${web.url} and type ${server.url} in its Server field)

Every POST needs -H 'content-type: application/json' (even without a body); only requests for
localhost, 127.0.0.1 or [::1] are answered. Try:
  curl -s -X POST ${api} -H 'content-type: application/json' \\
       -d '{"id":"job-1","targetId":"upload","inputs":{"name":"big.iso","sizeMb":100}}'
  curl -s ${api}/job-1/progress
  curl -s '${api}?status=running,pending&type=transfer&page_size=5'
  curl -s -X POST ${api}/job-1/cancel -H 'content-type: application/json' -d '{"reason":"changed my mind"}'
  curl -sN ${api}/job-1/events                   # its Server-Sent Events, until it ends
  curl -sN '${server.url}/api/v1/events?throttle_ms=500'   # every change, until Ctrl-C

Press Ctrl-C to stop.
`);
  await new Promise((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  await Promise.all([server.close(), web.close()]);
  console.log("\nservers stopped");
}

// ── Preparation ─────────────────────────────────────────────────────────────

/** Install the toolchain and npm packages, then build pkg/. */
function prepare() {
  const setup = new URL("./setup.sh", import.meta.url);
  if (existsSync(setup)) run("bash", [fileURLToPath(setup), "--minimal"]);
  const build = new URL("./build.mjs", import.meta.url);
  if (existsSync(build)) run(process.execPath, [fileURLToPath(build)]);
  if (!existsSync(new URL("../pkg/package.json", import.meta.url))) {
    throw new Error("pkg/ is missing: build it with `npm run build` (scripts/build.mjs)");
  }
}

/** Run a command synchronously in the repository root, output shown as is. */
function run(command, args) {
  console.log(
    `\n> ${[command === process.execPath ? "node" : command, ...args.map((a) => a.replace(ROOT, ""))].join(" ")}`,
  );
  const { status, signal, error } = spawnSync(command, args, { cwd: ROOT, stdio: "inherit" });
  if (error) throw error;
  if (status !== 0) throw new Error(`${command} ${args.join(" ")} exited with ${signal ?? status}`);
}

// ── Displays ────────────────────────────────────────────────────────────────
// Both displays take the manager's events: { type: "created" | "status" |
// "progress" | "removed", execution }.

const ICON = { pending: "…", running: "▶", completed: "✔", failed: "✖", cancelled: "⊘" };

/** Live bars, one per execution, with cli-progress. */
async function barDisplay() {
  let cliProgress;
  try {
    ({ default: cliProgress } = await import("cli-progress"));
  } catch (err) {
    // setup.sh installs it (a devDependency); without it, still run the demo.
    console.warn(`cli-progress is not available (${err.message}); showing plain lines instead.`);
    return lineDisplay("cli-progress missing");
  }
  console.log(`\nexecman demo: 12 executions at concurrency ${CONCURRENCY}, plus 1 tracked\n`);
  const multibar = new cliProgress.MultiBar(
    {
      format: " {icon} {label} {bar} {pct} {status} {message}",
      barsize: 24,
      hideCursor: true,
      clearOnComplete: false,
      autopadding: true,
    },
    cliProgress.Presets.shades_classic,
  );
  // Ctrl-C: stop drawing first, so the cursor comes back and the bars stay.
  process.once("SIGINT", () => {
    multibar.stop();
    process.exit(130);
  });
  const bars = new Map();
  const payload = (e) => ({
    icon: ICON[e.status],
    label: label(e),
    pct: e.progress?.percentage == null ? "  --" : `${Math.round(e.progress.percentage)}%`.padStart(4),
    status: e.status.padEnd(9),
    message: outcome(e) ?? e.progress?.message ?? "",
  });
  return {
    onEvent({ type, execution: e }) {
      if (type === "created") bars.set(e.id, multibar.create(100, 0, payload(e)));
      const bar = bars.get(e.id);
      if (!bar) return;
      bar.update(e.progress?.percentage ?? (e.status === "completed" ? 100 : bar.value), payload(e));
    },
    // The bars already show what happened (e.g. "⊘ cancelled <reason>"), and
    // printing between redraws would garble them, so notes are not shown here.
    note() {},
    stop() {
      multibar.stop();
    },
  };
}

/** Plain lines: every status change, and progress every 25%. */
function lineDisplay(why = "stdout is not a terminal") {
  console.log(`\nexecman demo: 12 executions at concurrency ${CONCURRENCY}, plus 1 tracked (plain log: ${why})\n`);
  const lastQuarter = new Map();
  const log = (e, text) => console.log(`[${seconds(Date.now() - t0).padStart(6)}] ${label(e)} ${text}`);
  return {
    onEvent({ type, execution: e }) {
      if (type === "created" || type === "status") {
        const detail = outcome(e);
        log(e, `${ICON[e.status]} ${e.status}${detail ? `: ${detail}` : ""}`);
      } else if (type === "progress" && e.progress?.percentage != null) {
        const quarter = Math.floor(e.progress.percentage / 25);
        if (quarter > (lastQuarter.get(e.id) ?? 0)) {
          lastQuarter.set(e.id, quarter);
          log(e, `  ${String(Math.round(e.progress.percentage)).padStart(3)}%  ${e.progress.message ?? ""}`);
        }
      }
    },
    note(text) {
      console.log(`[${seconds(Date.now() - t0).padStart(6)}] → ${text}`);
    },
    stop() {},
  };
}

// ── Formatting helpers ──────────────────────────────────────────────────────

/** "upload      photos.zip  " — target and input name, fixed width. */
function label(e) {
  return `${e.targetId.padEnd(11)} ${String(e.inputs?.name ?? "").padEnd(12)}`;
}

/** What a terminal execution ended with, or what a pending one waits for, in words. */
function outcome(e) {
  if (e.status === "failed") return `${e.error.code}: ${e.error.message}`;
  if (e.status === "cancelled") return e.cancelReason ?? "";
  if (e.status === "pending" && e.attempt > 0)
    return `attempt ${e.attempt}/${e.maxAttempts} failed (${e.error.message}); retry in ${seconds(e.runAt - e.updatedAt)}`;
  if (e.status === "pending" && e.runAt !== null && e.runAt > e.updatedAt)
    return `due in ${seconds(e.runAt - e.updatedAt)}`;
  return undefined;
}

/** One row of the final table. */
function summaryRow(e) {
  return {
    id: e.id.slice(0, 8),
    target: e.targetId,
    type: e.type,
    status: e.status,
    "%": e.progress?.percentage == null ? "-" : `${Math.round(e.progress.percentage)}%`,
    // How long it ran: startedAt → finishedAt ("-" if it never started).
    time: e.startedAt == null || e.finishedAt == null ? "-" : seconds(e.finishedAt - e.startedAt),
    attempts: `${e.attempt}/${e.maxAttempts}`,
    "error / reason": e.status === "failed" ? `${e.error.code}: ${e.error.message}` : (e.cancelReason ?? ""),
  };
}

/** Print rows of equal keys as aligned columns; on a terminal, the last
 *  column is shortened so that lines do not wrap. */
function printTable(rows) {
  const keys = Object.keys(rows[0] ?? {});
  const width = Object.fromEntries(keys.map((k) => [k, Math.max(k.length, ...rows.map((r) => String(r[k]).length))]));
  const last = keys.at(-1);
  const room = (process.stdout.columns ?? Infinity) - 1 - keys.slice(0, -1).reduce((sum, k) => sum + 2 + width[k], 2);
  width[last] = Math.min(width[last], Math.max(8, room));
  const cell = (k, v) => (k === last ? clip(String(v), width[k]) : String(v)).padEnd(width[k]);
  const line = (cells) =>
    "  " +
    keys
      .map((k) => cell(k, cells[k]))
      .join("  ")
      .trimEnd();
  console.log(line(Object.fromEntries(keys.map((k) => [k, k]))));
  console.log(line(Object.fromEntries(keys.map((k) => [k, "─".repeat(width[k])]))));
  for (const r of rows) console.log(line(r));
}

/** Shorten `text` to at most `max` characters. */
function clip(text, max) {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** 1234 → "1.23s" */
function seconds(ms) {
  return `${(ms / 1000).toFixed(2)}s`;
}

/** Resolve after `ms`. */
function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ── Run ─────────────────────────────────────────────────────────────────────
// Last in the file, so every constant above is initialised before main() runs.
main().then(
  () => process.exit(0),
  (err) => {
    console.error("\ndemo failed:", err instanceof Error ? (err.stack ?? err.message) : err);
    if (err && typeof err === "object" && "code" in err) console.error("error code:", err.code);
    process.exit(1);
  },
);
