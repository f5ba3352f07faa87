// The page side of the Service Worker example. No wasm here, and no execman import: the page
// registers sw.js, waits until it controls the page, and from then on only calls fetch() on
// /api/v1/executions… — the worker answers with manager.fetch(request).
//
// Test hook: window.__swDemo = { ready, error } (ready once the worker controls the page).

const API = "/api/v1/executions";
const TERMINAL = new Set(["completed", "failed", "cancelled"]);
/** The inputs each create button sends (the targets are registered in sw.js). */
const INPUTS = {
  countdown: { steps: 8, stepMs: 200 },
  hold: {},
  flaky: { ms: 500 },
};

const $ = (selector) => /** @type {HTMLElement} */ (document.querySelector(selector));
const say = (text) => {
  $("#status-line").textContent = text;
};
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const itemUrl = (id, tail = "") => `${API}/${encodeURIComponent(id)}${tail}`;

/** Creates an element: h("td", { class: "x" }, child, "text"). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, value);
  el.append(...children);
  return el;
}

window.__swDemo = { ready: false, error: null };

// ── The Service Worker ───────────────────────────────────────────────────────

/** Registers sw.js and resolves once it controls this page. */
async function connect() {
  const sw = navigator.serviceWorker;
  if (!sw)
    throw new Error(
      "navigator.serviceWorker is missing: Service Workers need a secure context (https, or http://127.0.0.1 / localhost)",
    );
  const controlled = sw.controller
    ? Promise.resolve()
    : new Promise((resolve) => sw.addEventListener("controllerchange", resolve, { once: true }));
  await sw.register("./sw.js", { type: "module", scope: "./" });
  const registration = await sw.ready;
  // First visit: the worker's `activate` claims the page. After a hard reload (Shift+Reload) the
  // page starts uncontrolled and activate has already run, so ask the worker to claim it.
  if (!sw.controller) registration.active?.postMessage({ type: "claim" });
  const timeout = sleep(10_000).then(() => {
    throw new Error("the service worker did not take control of this page within 10 s");
  });
  await Promise.race([controlled, timeout]);
}

// ── Requests, and the last raw answer of each route ─────────────────────────

const rawBoxes = new Map();
for (const [slot, title] of [
  ["create", "POST /api/v1/executions"],
  ["list", "GET /api/v1/executions?…"],
  ["execution", "GET …/{id}"],
  ["progress", "GET …/{id}/progress"],
  ["cancel", "POST …/{id}/cancel"],
]) {
  const line = h("span", { class: "line" }, title);
  const code = h("span", { class: "code" }, "");
  const pre = h("pre", { "data-testid": `raw-${slot}` }, "(nothing yet)");
  $("#raw").append(h("div", { class: "raw-box" }, h("div", { class: "raw-head" }, line, code), pre));
  rawBoxes.set(slot, { line, code, pre });
}

/**
 * fetch() with an optional JSON body; shows the answer in the `slot` box.
 * @returns {Promise<{ status: number, body: any }>} body: the parsed JSON, or null (204)
 */
async function api(slot, method, url, body) {
  const init =
    body === undefined
      ? { method }
      : { method, headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
  const response = await fetch(url, init);
  const text = await response.text();
  let json = null;
  try {
    json = text === "" ? null : JSON.parse(text);
  } catch {
    json = text;
  }
  const box = rawBoxes.get(slot);
  box.line.textContent = `${method} ${readable(url)}`;
  box.code.textContent = `${response.status} · ${response.headers.get("x-served-by") ?? "not from the worker"}`;
  box.code.dataset.ok = String(response.ok);
  box.pre.textContent = json === null ? "(no body)" : JSON.stringify(json, null, 2);
  return { status: response.status, body: json };
}

/** The URL with its percent-encoding undone where it can be, for display. */
function readable(url) {
  try {
    return decodeURI(url);
  } catch {
    return url;
  }
}

const errorText = ({ status, body }) =>
  `${status} ${body?.error?.code ?? ""}: ${body?.error?.message ?? JSON.stringify(body)}`;

// ── Create and cancel ──────────────────────────────────────────────────────

async function create(targetId) {
  const id = /** @type {HTMLInputElement} */ ($("#f-id")).value;
  const request = { targetId, inputs: INPUTS[targetId], ...(id === "" ? {} : { id }) };
  const answer = await api("create", "POST", API, request);
  if (answer.status !== 201) return say(`Create ${targetId}: ${errorText(answer)}`);
  say(`201 · created ${targetId} ${answer.body.id}`);
  /** @type {HTMLInputElement} */ ($("#f-id")).value = "";
  watch(answer.body.id);
  refreshList();
}

async function cancel(id) {
  const answer = await api("cancel", "POST", itemUrl(id, "/cancel"), { reason: "Cancel pressed on the page" });
  say(answer.status === 200 ? `200 · cancelled ${id}` : `Cancel ${id}: ${errorText(answer)}`);
  refreshList();
}

// ── The list: filters, cursor paging, polled every 500 ms ───────────────────

const paging = { cursor: /** @type {string | null} */ (null), nextCursor: /** @type {string | null} */ (null) };
const rows = new Map(); // id → { tr, ...cells }

function listUrl() {
  const params = new URLSearchParams();
  // One `status` per value: URLSearchParams would encode "pending,running" as pending%2Crunning,
  // which the router reads as a single status (it splits on "," before decoding).
  for (const status of /** @type {HTMLSelectElement} */ ($("#f-status")).value.split(",").filter(Boolean))
    params.append("status", status);
  const type = /** @type {HTMLSelectElement} */ ($("#f-type")).value;
  if (type) params.set("type", type);
  params.set("page_size", /** @type {HTMLSelectElement} */ ($("#f-size")).value);
  if (paging.cursor) params.set("cursor", paging.cursor);
  return `${API}?${params}`;
}

let listing = null;
let listAgain = false;
/** Fetches and draws the current page: one request at a time, and one more if asked meanwhile. */
function refreshList() {
  if (listing) {
    listAgain = true;
    return listing;
  }
  listing = (async () => {
    try {
      do {
        listAgain = false;
        const url = listUrl();
        $("#list-url").textContent = `GET ${url}`;
        const answer = await api("list", "GET", url);
        if (answer.status === 200) drawPage(answer.body);
        else say(`List: ${errorText(answer)}`);
      } while (listAgain);
    } finally {
      listing = null;
    }
  })();
  return listing;
}

function drawPage(page) {
  paging.nextCursor = page.nextCursor;
  const tbody = $("#rows");
  const seen = new Set();
  for (const e of page.items) {
    seen.add(e.id);
    let row = rows.get(e.id);
    if (!row) {
      row = makeRow(e.id);
      rows.set(e.id, row);
    }
    updateRow(row, e);
    tbody.append(row.tr); // in page order
  }
  for (const [id, row] of rows) {
    if (!seen.has(id)) {
      row.tr.remove();
      rows.delete(id);
    }
  }
  if (page.items.length === 0)
    tbody.replaceChildren(h("tr", { class: "empty-row" }, h("td", { colspan: "4" }, "No executions match.")));
  else tbody.querySelector(".empty-row")?.remove();
  const where = page.page === null ? "after a cursor" : `page ${page.page} of ${Math.max(1, page.totalPages)}`;
  $("#pager-info").textContent = `${page.items.length} shown · ${page.total} match · ${where}`;
  /** @type {HTMLButtonElement} */ ($("#btn-next")).disabled = !page.hasNext;
  /** @type {HTMLButtonElement} */ ($("#btn-first")).disabled = paging.cursor === null;
}

function makeRow(id) {
  const row = {
    name: h("div", { class: "exec-name", "data-testid": "row-id" }, id),
    sub: h("div", { class: "exec-sub" }),
    badge: h("span", { class: "badge", "data-testid": "row-status" }),
    bar: h("progress", { max: "100" }),
    pct: h("span", { class: "pct" }),
    detail: h("div", { class: "detail" }),
    watch: h("button", { type: "button", class: "btn btn-sm" }, "Watch"),
    cancel: h(
      "button",
      { type: "button", class: "btn btn-sm btn-danger-ghost", "data-testid": "row-cancel" },
      "Cancel",
    ),
  };
  row.watch.addEventListener("click", () => watch(id));
  row.cancel.addEventListener("click", () => cancel(id));
  row.tr = h(
    "tr",
    { "data-testid": "row" },
    h("td", { class: "col-exec" }, row.name, row.sub),
    h("td", { class: "col-status" }, row.badge),
    h("td", { class: "col-progress" }, h("div", { class: "bar-line" }, row.bar, row.pct), row.detail),
    h("td", { class: "col-actions2" }, row.watch, row.cancel),
  );
  return row;
}

function updateRow(row, e) {
  row.tr.dataset.id = e.id;
  row.tr.dataset.status = e.status;
  row.sub.textContent = `${e.targetId} · ${e.type}`;
  row.badge.dataset.status = e.status;
  row.badge.textContent = e.status;
  const pct = e.progress?.percentage ?? (e.status === "completed" ? 100 : null);
  // Running without a total: no `value`, an indeterminate bar.
  if (pct !== null) row.bar.value = pct;
  else if (e.status === "running") row.bar.removeAttribute("value");
  else row.bar.value = 0;
  row.pct.textContent = pct === null ? "–" : `${Math.round(pct)}%`;
  row.detail.textContent =
    e.status === "failed"
      ? `${e.error.code}: ${e.error.message}`
      : e.status === "cancelled"
        ? (e.cancelReason ?? "cancelled")
        : (e.progress?.message ?? "");
  row.detail.className = e.status === "failed" ? "detail detail-error" : "detail";
  row.cancel.hidden = TERMINAL.has(e.status);
}

$("#btn-next").addEventListener("click", () => {
  paging.cursor = paging.nextCursor;
  refreshList();
});
$("#btn-first").addEventListener("click", () => {
  paging.cursor = null;
  refreshList();
});
for (const id of ["#f-status", "#f-type", "#f-size"]) {
  $(id).addEventListener("change", () => {
    paging.cursor = null; // a cursor belongs to its filter
    refreshList();
  });
}

// ── The watched execution: GET …/{id} and …/progress every 250 ms ───────────

let watched = null;
let watching = false;

function watch(id) {
  watched = id;
  if (watching) return;
  watching = true;
  (async () => {
    try {
      while (watched !== null) {
        const id = watched;
        const execution = await api("execution", "GET", itemUrl(id));
        const progress = await api("progress", "GET", itemUrl(id, "/progress"));
        if (id !== watched) continue;
        const p =
          progress.status === 200
            ? `${progress.body.current}${progress.body.total === null ? "" : ` / ${progress.body.total}`} (${progress.body.message ?? "no message"})`
            : `${progress.status}: no progress yet`;
        $("#watch").replaceChildren(
          h("code", {}, id),
          h("br"),
          execution.status === 200 ? `status ${execution.body.status} · progress ${p}` : errorText(execution),
        );
        if (execution.status !== 200 || TERMINAL.has(execution.body.status)) {
          if (watched === id) watched = null;
        } else {
          await sleep(250);
        }
      }
    } finally {
      watching = false;
    }
  })().catch((err) => say(`Watch: ${err.message}`));
}

// ── Start ───────────────────────────────────────────────────────────────────

const createButtons = /** @type {NodeListOf<HTMLButtonElement>} */ (document.querySelectorAll("button[data-target]"));
for (const button of createButtons) {
  button.disabled = true; // until the worker controls the page: before that, fetch() goes to the network
  button.addEventListener("click", () =>
    create(/** @type {HTMLElement} */ (button).dataset.target).catch((err) => say(`Create: ${err.message}`)),
  );
}

try {
  await connect();
  $("#sw-state").textContent = "service worker in control";
  $("#sw-state").classList.add("chip-ok");
  for (const button of createButtons) button.disabled = false;
  window.__swDemo.ready = true;
  for (;;) {
    await refreshList().catch((err) => say(`List: ${err.message}`));
    await sleep(500);
  }
} catch (err) {
  window.__swDemo.error = String(err?.message ?? err);
  $("#sw-state").textContent = "no service worker";
  say(`Could not start: ${window.__swDemo.error}`);
}
