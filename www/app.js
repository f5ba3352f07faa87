// The execman dashboard: one ExecutionManager in this tab, shown live — or, with a server's
// address (the Server field, ?server=URL), the executions of an execman server (remote.js).
//
// How it stays smooth with thousands of executions:
//  - subscribe() only marks the page dirty (progress of an execution that is not on screen is
//    ignored); one requestAnimationFrame callback per frame repaints;
//  - a repaint asks the manager for the visible page only (list() with a cursor: O(log n + page
//    size)) and counts() (O(1)), and touches only the cells whose text changed.
//
// Remote mode: the same page and counts come from GET /api/v1/executions and /api/v1/counts, and
// one EventSource on /api/v1/events says when to ask again (at most once per frame; nothing
// polls). A progress event of a row on screen updates that row from the snapshot it carries,
// without asking the server. The wasm is not loaded.
//
// Every error the library throws (an ExecutionError with a `code`), or the server answers, is
// shown in the alert region.
//
// Query parameters: ?server=URL (remote mode), ?concurrency=N (default 100; "Infinity" allowed),
// ?pageSize=N (1..1000), ?stress=N (start N executions on load), ?store=none (a manager that keeps
// nothing; by default the executions are kept in the IndexedDB database "execman-dashboard", so a
// reload finds them again, those that were running interrupted or retried).
// Test hook: window.__execman = { manager, remote, measureRepaint(runs), repaintStats(), startMany(n) }.

import init, { ExecutionManager, indexedDBStore } from "../pkg/web/execman.js";
import { RemoteExecutions, serverBase } from "./remote.js";
import { TARGETS, makeInputs, registerTargets } from "./targets.js";
import { Alerts, ExecutionTable, STATUSES, formatCount } from "./view.js";

const $ = (selector) => /** @type {HTMLElement} */ (document.querySelector(selector));
const params = new URLSearchParams(location.search);
const PAGE_SIZES = [5, 10, 20, 50, 100];
const DEFAULT_CONCURRENCY = 100;
/** The IndexedDB database the dashboard keeps its executions in. */
const STORE_NAME = "execman-dashboard";

const alerts = new Alerts($("#alerts"));
// Nothing is swallowed: an error that escapes a handler of this page ends up on screen too.
window.addEventListener("error", (event) => alerts.show(event.error ?? event.message, "Unexpected error"));
window.addEventListener("unhandledrejection", (event) => alerts.show(event.reason, "Unhandled rejection"));

/** Runs `fn`; an error (ExecutionError or other) is shown to the user, and undefined returned. */
function attempt(context, fn) {
  try {
    return fn();
  } catch (err) {
    alerts.show(err, context);
    return undefined;
  }
}

const say = (text) => {
  $("#status-line").textContent = text;
};

/** The Server field: Connect reloads the page with ?server=URL (empty: back to this tab). */
function serverForm(current) {
  const form = /** @type {HTMLFormElement} */ ($("#server-form"));
  const input = /** @type {HTMLInputElement} */ ($("#f-server"));
  input.value = current ?? "";
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const next = new URLSearchParams(location.search);
    const text = input.value.trim();
    if (text === "") {
      next.delete("server");
    } else {
      const base = attempt("Cannot connect", () => serverBase(text));
      if (base === undefined) return;
      next.set("server", base);
    }
    location.search = next.toString();
  });
}

async function main() {
  // ── Where the executions are: a server, or a manager in this tab ───────────
  const serverParam = params.get("server");
  /** @type {RemoteExecutions | null} */
  let remote = null;
  if (serverParam !== null && serverParam !== "") {
    const base = attempt(`Ignored ?server=${serverParam}`, () => serverBase(serverParam));
    if (base !== undefined) remote = new RemoteExecutions(base);
  }
  serverForm(remote?.base);
  const engineChip = $("#engine");
  /** @type {any} */
  let manager = null;
  if (remote !== null) {
    engineChip.textContent = `remote · ${remote.base} · connecting…`;
    $("#start-hint").textContent = `Each start is a POST to ${remote.api}/executions; the targets run on the server.`;
    $("#foot-note").textContent =
      "Rendered from GET /api/v1/executions and /api/v1/counts, asked again on each change that /api/v1/events (EventSource) reports.";
  } else {
    try {
      await init();
    } catch (err) {
      engineChip.textContent = "wasm failed to load";
      alerts.show(err, "Could not load ../pkg/web/execman.js (build it with `npm run build`)");
      return;
    }

    // ── The manager ──────────────────────────────────────────────────────────
    // The options come from the URL as typed: the library validates them (try ?concurrency=0).
    const concurrencyParam = params.get("concurrency");
    const concurrency = concurrencyParam === null ? DEFAULT_CONCURRENCY : Number(concurrencyParam);
    let limit = concurrency;
    manager = attempt(
      `Ignored ?concurrency=${concurrencyParam}`,
      () => new ExecutionManager({ concurrency, maxFinished: 10_000 }),
    );
    if (!manager) {
      limit = DEFAULT_CONCURRENCY;
      manager = new ExecutionManager({ concurrency: limit, maxFinished: 10_000 });
    }
    // Durable by default: the executions are kept in IndexedDB across reloads (another tab that has
    // the store open, or a browser without IndexedDB, leaves this tab with a manager that keeps nothing).
    let kept = "";
    if (params.get("store") !== "none") {
      try {
        const durable = await ExecutionManager.open({
          store: indexedDBStore(STORE_NAME),
          concurrency: limit,
          maxFinished: 10_000,
        });
        manager.free();
        manager = durable;
        const restored = manager.counts().total;
        const interrupted = manager
          .list({ pageSize: 1000 })
          .items.filter((x) => x.error?.code === "INTERRUPTED").length;
        kept = ` · kept in IndexedDB${restored > 0 ? ` · ${formatCount(restored)} restored${interrupted > 0 ? `, ${formatCount(interrupted)} interrupted` : ""}` : ""}`;
      } catch (err) {
        alerts.show(err, "Executions are not kept across reloads here");
      }
    }
    registerTargets(manager);
    engineChip.textContent = `wasm ready · concurrency ${limit === Infinity ? "∞" : formatCount(limit)}${kept}`;
    engineChip.classList.add("chip-ok");
  }

  // ── View state ─────────────────────────────────────────────────────────────
  const filter = { status: "", type: "" };
  let pageSize = 10;
  const sizeParam = params.get("pageSize");
  if (sizeParam !== null) {
    const n = Number(sizeParam);
    if (Number.isInteger(n) && n >= 1 && n <= 1000) pageSize = n;
    else
      alerts.show(
        new RangeError(`?pageSize must be a whole number from 1 to 1000, got "${sizeParam}"`),
        "Ignored a query parameter",
      );
  }
  /** Cursors of the pages before the current one; `cursor` is the current page's (undefined: first). */
  let cursorStack = [];
  let cursor;

  const table = new ExecutionTable(/** @type {HTMLTableSectionElement} */ ($("#rows")), {
    onCancel: (id, button) => {
      button.disabled = true; // re-enabled by the repaint if the execution is still active
      if (remote !== null) {
        remote
          .cancel(id, "user pressed Cancel")
          .catch((err) => alerts.show(err, `Cancel ${id}`))
          .finally(() => {
            button.disabled = false;
          });
        return; // the stream reports the change
      }
      attempt(`Cancel ${id}`, () => manager.cancel(id, "user pressed Cancel"));
      button.disabled = false;
      invalidate();
    },
  });

  // ── Controls ───────────────────────────────────────────────────────────────
  const targetSelect = /** @type {HTMLSelectElement} */ ($("#f-target"));
  for (const t of TARGETS) targetSelect.append(new Option(`${t.id} — ${t.label}`, t.id));
  const typeSelect = /** @type {HTMLSelectElement} */ ($("#filter-type"));
  for (const type of new Set(TARGETS.map((t) => t.type))) typeSelect.append(new Option(type, type));
  const sizeSelect = /** @type {HTMLSelectElement} */ ($("#page-size"));
  for (const n of [...new Set([...PAGE_SIZES, pageSize])].sort((a, b) => a - b))
    sizeSelect.append(new Option(String(n), String(n)));
  sizeSelect.value = String(pageSize);

  const firstPage = () => {
    cursorStack = [];
    cursor = undefined;
    invalidate();
  };
  typeSelect.addEventListener("change", () => {
    filter.type = typeSelect.value;
    firstPage();
  });
  sizeSelect.addEventListener("change", () => {
    pageSize = Number(sizeSelect.value);
    firstPage();
  });
  const statButtons = [...document.querySelectorAll("#stats .stat")];
  for (const button of statButtons) {
    button.addEventListener("click", () => {
      filter.status = button.dataset.status ?? "";
      for (const b of statButtons) b.setAttribute("aria-pressed", String(b === button));
      firstPage();
    });
  }
  let lastPage = null;
  $("#next").addEventListener("click", () => {
    if (!lastPage?.hasNext) return;
    cursorStack.push(cursor);
    cursor = lastPage.nextCursor;
    invalidate();
  });
  $("#prev").addEventListener("click", () => {
    if (cursorStack.length === 0) return;
    cursor = cursorStack.pop();
    invalidate();
  });

  // ── Starting executions ─────────────────────────────────────────────────────
  const form = /** @type {HTMLFormElement} */ ($("#start-form"));
  const fields = {
    duration: /** @type {HTMLInputElement} */ ($("#f-duration")),
    failure: /** @type {HTMLInputElement} */ ($("#f-failure")),
    count: /** @type {HTMLInputElement} */ ($("#f-count")),
    timeout: /** @type {HTMLInputElement} */ ($("#f-timeout")),
    priority: /** @type {HTMLInputElement} */ ($("#f-priority")),
    delay: /** @type {HTMLInputElement} */ ($("#f-delay")),
    attempts: /** @type {HTMLInputElement} */ ($("#f-attempts")),
    backoffDelay: /** @type {HTMLInputElement} */ ($("#f-backoff-delay")),
    backoffCap: /** @type {HTMLInputElement} */ ($("#f-backoff-cap")),
    jitter: /** @type {HTMLInputElement} */ ($("#f-jitter")),
    id: /** @type {HTMLInputElement} */ ($("#f-id")),
  };
  const delayUnit = /** @type {HTMLSelectElement} */ ($("#f-delay-unit"));
  const backoffType = /** @type {HTMLSelectElement} */ ($("#f-backoff"));
  /** The form field of each request field the library may refuse (its message names the field). */
  const REQUEST_FIELDS = {
    "request.priority": "priority",
    "request.delayMs": "delay",
    "request.retry.attempts": "attempts",
    "request.retry.backoff.delayMs": "backoffDelay",
    "request.retry.backoff.maxDelayMs": "backoffCap",
    "request.retry.backoff.jitter": "jitter",
    "request.id": "id",
  };

  /** Shows `errors` ({ field: message }) next to their fields, clears the others, focuses the first. */
  function showFieldErrors(errors) {
    for (const [name, input] of Object.entries(fields)) {
      const message = errors[name] ?? "";
      input.setAttribute("aria-invalid", String(message !== ""));
      /** @type {HTMLElement} */ (document.getElementById(`e-${name}`)).textContent = message;
    }
    const bad = Object.keys(fields).filter((name) => errors[name]);
    for (const name of bad) fields[name].closest("details")?.setAttribute("open", "");
    if (bad.length > 0) fields[bad[0]].focus();
  }

  /** Checks the form; shows a message next to each bad field. Returns the request or null. */
  function readForm() {
    const errors = {};
    const num = (input) => (input.value.trim() === "" ? NaN : Number(input.value));
    // An optional number: undefined when empty; NaN when the text is not a number (a number
    // input then reports "" as its value, and validity.badInput).
    const optional = (input) => (input.validity.badInput ? NaN : input.value.trim() === "" ? undefined : num(input));
    const duration = num(fields.duration);
    if (!(duration >= 0.1 && duration <= 60)) errors.duration = "Enter a duration from 0.1 to 60 seconds.";
    const failure = num(fields.failure);
    if (!(failure >= 0 && failure <= 100)) errors.failure = "Enter a percentage from 0 to 100.";
    const count = num(fields.count);
    if (!Number.isInteger(count) || count < 1 || count > 1000) errors.count = "Enter a whole number from 1 to 1,000.";
    let timeoutMs;
    if (fields.timeout.value.trim() !== "") {
      timeoutMs = num(fields.timeout);
      if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 86_400_000) {
        errors.timeout = "Whole milliseconds from 1 to 86,400,000, or empty.";
      }
    }
    const id = fields.id.value;
    if (id !== "") {
      if (id.trim() !== id) errors.id = "No spaces at the start or end.";
      else if (id.length > 200) errors.id = "At most 200 characters.";
      else if (!errors.count && count !== 1) errors.id = "A custom id names one execution: set How many to 1.";
    }
    // Scheduling. The form checks what it must convert (a number, seconds, a percentage); the
    // ranges are the library's call: a priority beyond a safe integer, 0 or 1,001 attempts, a
    // negative backoff go to create(), whose ExecutionError names the field (shown below).
    const priority = optional(fields.priority);
    if (priority !== undefined && !Number.isInteger(priority)) {
      errors.priority = "Enter a whole number (higher starts first), or leave it empty.";
    }
    let delayMs = optional(fields.delay);
    if (delayMs !== undefined && !(delayMs >= 0 && Number.isFinite(delayMs))) {
      errors.delay = "Enter a delay of 0 or more, or leave it empty.";
    } else if (delayMs !== undefined && delayUnit.value === "s") delayMs = Math.round(delayMs * 1000);
    const attempts = optional(fields.attempts) ?? 1;
    if (!Number.isInteger(attempts)) errors.attempts = "Enter a whole number of attempts (1: no retry).";
    const backoff = { type: backoffType.value };
    for (const [name, key] of [
      ["backoffDelay", "delayMs"],
      ["backoffCap", "maxDelayMs"],
    ]) {
      const ms = optional(fields[name]);
      if (ms !== undefined && !Number.isFinite(ms)) errors[name] = "Enter milliseconds, or leave it empty.";
      else if (ms !== undefined) backoff[key] = ms;
    }
    const jitter = optional(fields.jitter);
    if (jitter !== undefined && !(jitter >= 0 && jitter <= 100)) {
      errors.jitter = "Enter a percentage from 0 to 100, or leave it empty.";
    } else if (jitter !== undefined) backoff.jitter = jitter / 100;
    // Whether the id is already taken is the library's call: ALREADY_EXISTS shows in the alert.
    showFieldErrors(errors);
    if (Object.keys(errors).length > 0) return null;
    return {
      targetId: targetSelect.value,
      durationMs: Math.round(duration * 1000),
      failureChance: failure / 100,
      count,
      timeoutMs,
      id: id === "" ? undefined : id,
      priority,
      delayMs,
      // One attempt is no retry; anything else (0 and 1,001 included) goes to the library.
      retry: attempts === 1 ? undefined : { attempts, backoff },
    };
  }

  /** The create request of a run of the form. */
  const requestOf = (run) => {
    const request = {
      targetId: run.targetId,
      inputs: makeInputs(run.targetId, run),
      config: run.timeoutMs === undefined ? {} : { timeoutMs: run.timeoutMs },
    };
    if (run.id !== undefined) request.id = run.id;
    if (run.priority !== undefined) request.priority = run.priority;
    if (run.delayMs !== undefined) request.delayMs = run.delayMs;
    if (run.retry !== undefined) request.retry = run.retry;
    return request;
  };

  /**
   * Creates executions; stops at (and shows) the first error. Returns how many were created, and
   * the error if one stopped it (in remote mode a promise of that: POSTs, eight at a time).
   */
  function startRuns(runs) {
    if (remote !== null) return startRemote(runs);
    let created = 0;
    for (const run of runs) {
      try {
        manager.create(requestOf(run));
      } catch (error) {
        alerts.show(error, "Could not start the execution");
        return { created, error };
      }
      created++;
    }
    return { created };
  }

  /** @returns {Promise<{ created: number, error?: any }>} */
  async function startRemote(runs) {
    let created = 0;
    /** @type {any} */
    let error;
    let failed = false;
    let next = 0;
    const worker = async () => {
      while (!failed && next < runs.length) {
        const run = runs[next++];
        try {
          await remote.create(requestOf(run));
          created++;
        } catch (err) {
          if (!failed) {
            alerts.show(err, "Could not start the execution");
            error = err;
          }
          failed = true;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(8, runs.length) }, worker));
    return error === undefined ? { created } : { created, error };
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const run = readForm();
    if (!run) return;
    const { created, error } = await startRuns(Array.from({ length: run.count }, () => run));
    // A field the library refused (INVALID_ARGUMENT names it): its message goes next to it too.
    const refused = error?.code === "INVALID_ARGUMENT" ? /`(request\.[\w.]+)`/.exec(error.message)?.[1] : undefined;
    const field = refused === undefined ? undefined : REQUEST_FIELDS[refused];
    if (field !== undefined) showFieldErrors({ [field]: String(error.message) });
    if (created > 0) {
      say(`Started ${formatCount(created)} × ${run.targetId}.`);
      if (run.id !== undefined) fields.id.value = "";
    }
  });

  /** Three attempts, 1 s then 2 s apart: enough for `sync`, whose first two attempts fail. */
  const SYNC_RETRY = { attempts: 3, backoff: { type: "exponential", delayMs: 1000 } };

  $("#btn-mix").addEventListener("click", async () => {
    const { created } = await startRuns([
      { targetId: "upload", durationMs: 4000, failureChance: 0 },
      { targetId: "transcode", durationMs: 6000, failureChance: 0 },
      { targetId: "report", durationMs: 5000, failureChance: 1 },
      { targetId: "crawl", durationMs: 5000, failureChance: 0 },
      { targetId: "upload", durationMs: 8000, failureChance: 0, timeoutMs: 3000 },
      { targetId: "sync", durationMs: 2000, failureChance: 0, retry: SYNC_RETRY },
      { targetId: "report", durationMs: 3000, failureChance: 0, delayMs: 5000 },
    ]);
    say(
      `Started ${created} executions: one will fail, one will time out, one succeeds on its third attempt, ` +
        "one waits 5 s. Cancel one yourself.",
    );
  });

  /** Starts `n` executions of every target, 3–10 s each, 5% failing (`sync` retried as in the mix). */
  function startMany(n) {
    const t0 = performance.now();
    const runs = Array.from({ length: n }, (_, i) => {
      const targetId = TARGETS[i % TARGETS.length].id;
      const durationMs = 3000 + Math.round(Math.random() * 7000);
      return { targetId, durationMs, failureChance: 0.05, retry: targetId === "sync" ? SYNC_RETRY : undefined };
    });
    const done = (/** @type {{ created: number }} */ { created }) => {
      const ms = performance.now() - t0;
      say(`Started ${formatCount(created)} executions in ${Math.round(ms)} ms.`);
      return { created, ms };
    };
    const started = startRuns(runs);
    return started instanceof Promise ? started.then(done) : done(started);
  }
  $("#btn-stress").addEventListener("click", () => startMany(5000));

  $("#btn-clear").addEventListener("click", async () => {
    const removed =
      remote !== null
        ? await remote.clear().catch((err) => alerts.show(err, "Could not clear"))
        : attempt("Could not clear", () => manager.clear());
    if (removed !== undefined) say(`Removed ${formatCount(removed)} finished execution${removed === 1 ? "" : "s"}.`);
  });

  // ── Remote mode: the page and the counts as the server last answered ───────
  /** @type {any} */
  let remotePage = null;
  /** @type {any} */
  let remoteCounts = null;
  let reloadFrame = 0;
  let loading = false;
  let again = false;
  let failing = false;
  function reloadSoon() {
    if (reloadFrame === 0) {
      reloadFrame = requestAnimationFrame(() => {
        reloadFrame = 0;
        reload();
      });
    }
  }
  /** Asks the server for the page and the counts (one request of each at a time). */
  async function reload() {
    if (loading) {
      again = true;
      return;
    }
    loading = true;
    try {
      do {
        again = false;
        let page;
        let counts;
        try {
          [page, counts] = await Promise.all([remote.list(query()), remote.counts()]);
        } catch (err) {
          if (err?.status !== 400 || cursor === undefined) throw err;
          cursorStack = []; // a cursor the server no longer takes: back to the first page
          cursor = undefined;
          [page, counts] = await Promise.all([remote.list(query()), remote.counts()]);
        }
        // The current page emptied (its executions finished or were cleared): step back.
        while (page.items.length === 0 && cursorStack.length > 0) {
          cursor = cursorStack.pop();
          page = await remote.list(query());
        }
        remotePage = page;
        remoteCounts = counts;
        failing = false;
        repaint();
      } while (again);
    } catch (err) {
      if (!failing) alerts.show(err, `Could not read ${remote.api}`);
      failing = true;
    } finally {
      loading = false;
    }
  }

  // ── Repainting ─────────────────────────────────────────────────────────────
  let frame = 0;
  let events = 0;
  let visible = new Set();
  /** Repaints at the next frame (in remote mode from what the server last answered). */
  function repaint() {
    if (frame === 0) frame = requestAnimationFrame(onFrame);
  }
  /** What is shown may have changed: repaint (in remote mode, ask the server first). */
  function invalidate() {
    if (remote !== null) reloadSoon();
    else repaint();
  }
  if (remote === null) {
    manager.subscribe(({ type, execution }) => {
      events++;
      // Progress of an execution that is not on screen changes nothing on screen.
      if (type === "progress" && !visible.has(execution.id)) return;
      invalidate();
    });
  } else {
    remote.follow({
      onEvent(type, execution) {
        events++;
        if (type !== "progress") return invalidate();
        // A progress event carries the snapshot: a row on screen is updated from it (unless
        // what the server answered since is newer), no other changes.
        const items = remotePage?.items ?? [];
        const i = items.findIndex((e) => e.id === execution.id);
        if (i >= 0 && execution.updatedAt >= items[i].updatedAt) {
          items[i] = execution;
          repaint();
        }
      },
      onState(state) {
        const text = { open: "live", reconnecting: "reconnecting…", closed: "stream refused" }[state];
        engineChip.textContent = `remote · ${remote.base} · ${text}`;
        engineChip.classList.toggle("chip-ok", state === "open");
        if (state === "open") invalidate(); // changes may have been missed meanwhile
        if (state === "closed") alerts.show(new Error(`${remote.api}/events was refused`), "Live updates stopped");
      },
    });
  }
  // Elapsed times tick while something visible is active.
  setInterval(() => {
    if (table.hasActive) repaint();
  }, 100);

  const frameTimes = [];
  function onFrame() {
    frame = 0;
    const t0 = performance.now();
    paint();
    frameTimes.push(performance.now() - t0);
    if (frameTimes.length > 240) frameTimes.shift();
  }

  const countEls = Object.fromEntries(["total", ...STATUSES].map((s) => [s, $(`[data-testid=count-${s}]`)]));
  const pagerInfo = $("#pager-info");
  const prevButton = /** @type {HTMLButtonElement} */ ($("#prev"));
  const nextButton = /** @type {HTMLButtonElement} */ ($("#next"));

  function query() {
    const q = { pageSize };
    if (filter.status) q.status = filter.status;
    if (filter.type) q.type = filter.type;
    if (cursor !== undefined) q.cursor = cursor;
    return q;
  }

  /** The current page and the counts: the manager's, or what the server last answered. */
  function current() {
    if (remote !== null) return remotePage === null ? null : { page: remotePage, counts: remoteCounts };
    let page = attempt("Could not list executions", () => manager.list(query()));
    if (!page) {
      cursorStack = [];
      cursor = undefined;
      page = manager.list(query());
    }
    // The current page emptied (its executions finished or were cleared): step back.
    while (page.items.length === 0 && cursorStack.length > 0) {
      cursor = cursorStack.pop();
      page = manager.list(query());
    }
    return { page, counts: manager.counts() };
  }

  /** Shows the current page, the counts and the pager. `force` rewrites every cell. */
  function paint({ force = false } = {}) {
    const shown = current();
    if (shown === null) return; // remote: nothing answered yet
    const { page, counts } = shown;
    lastPage = page;
    for (const [key, el] of Object.entries(countEls)) {
      const text = formatCount(counts[key]);
      if (el.textContent !== text) el.textContent = text;
    }
    const filtered = filter.status !== "" || filter.type !== "";
    table.render(page.items, {
      force,
      emptyText:
        counts.total === 0
          ? "No executions yet. Start one with the form."
          : filtered
            ? "No execution matches these filters."
            : "Nothing here.",
    });
    visible = new Set(table.visibleIds);
    const index = cursorStack.length + 1;
    const info =
      page.total === 0
        ? "No executions"
        : `Page ${index} of ${Math.max(index, page.totalPages)} · ${formatCount(page.total)} ${filtered ? "matching" : "in all"}`;
    if (pagerInfo.textContent !== info) pagerInfo.textContent = info;
    prevButton.disabled = cursorStack.length === 0;
    nextButton.disabled = !page.hasNext;
  }

  // ── Measurements (shown in the footer, and used by the browser test) ────────
  const stats = (times) => {
    const sorted = [...times].sort((a, b) => a - b);
    const pick = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
    return {
      frames: times.length,
      mean: times.reduce((a, b) => a + b, 0) / Math.max(1, times.length),
      median: pick(0.5),
      p95: pick(0.95),
      max: sorted.at(-1) ?? 0,
      held: remote !== null ? (remoteCounts?.total ?? 0) : manager.counts().total,
    };
  };
  /** Repaints `runs` times synchronously, every cell rewritten and layout forced each time. */
  function measureRepaint(runs = 50) {
    const times = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      paint({ force: true });
      void document.body.offsetHeight; // include style and layout
      times.push(performance.now() - t0);
    }
    return stats(times);
  }
  /** The live repaints (one per animation frame with changes) of the last 240 frames. */
  const repaintStats = () => stats(frameTimes);

  let lastEvents = 0;
  let lastTick = performance.now();
  setInterval(() => {
    const now = performance.now();
    const rate = ((events - lastEvents) * 1000) / (now - lastTick);
    lastEvents = events;
    lastTick = now;
    const s = repaintStats();
    $("#perf").textContent =
      s.frames === 0
        ? `${formatCount(s.held)} held`
        : `Repaint ${s.mean.toFixed(2)} ms avg · ${s.max.toFixed(1)} ms max (last ${s.frames} frames) · ` +
          `${formatCount(s.held)} held · ${formatCount(Math.round(rate))} events/s`;
  }, 1000);

  if (remote !== null) reload();
  else paint();
  window.__execman = { manager, remote, measureRepaint, repaintStats, startMany, paint, ready: true };
  document.documentElement.dataset.ready = "true";

  const stress = params.get("stress");
  if (stress !== null) {
    const n = Number(stress);
    if (Number.isInteger(n) && n >= 1 && n <= 100_000) startMany(n);
    else
      alerts.show(
        new RangeError(`?stress must be a whole number from 1 to 100000, got "${stress}"`),
        "Ignored a query parameter",
      );
  }
}

main().catch((err) => alerts.show(err, "The dashboard failed to start"));
