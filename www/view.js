// Rendering shared by the dashboard (index.html) and the Web Worker example (worker.html).
//
// ExecutionTable keeps one <tr> per execution id and, on each render, rewrites only the cells
// whose text changed, so a repaint costs O(rows on screen) whatever the number of executions
// the manager holds. All text goes through textContent: ids, names and error messages are data.

export const STATUSES = /** @type {const} */ (["pending", "running", "completed", "failed", "cancelled"]);

/** @param {string} status */
export const isActive = (status) => status === "pending" || status === "running";

/** `h("button", { type: "button", class: "btn" }, "Go")` → an element. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v == null) continue;
    el.setAttribute(k, v === true ? "" : String(v));
  }
  el.append(...children);
  return el;
}

const NUM = new Intl.NumberFormat("en-US");
/** 5000 → "5,000" */
export const formatCount = (n) => NUM.format(n);

/** 3240 → "3.2 s", 65000 → "1 m 05 s", 3725000 → "1 h 02 m". */
export function formatDuration(ms) {
  if (ms < 0) ms = 0;
  if (ms < 60_000) return `${(Math.floor(ms / 100) / 10).toFixed(1)} s`;
  const s = Math.floor(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} m ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor(s / 60) % 60).padStart(2, "0")} m`;
}

/**
 * How long an execution's latest attempt has run (or ran): startedAt → finishedAt or now; null
 * while it is pending (not started yet, or waiting for a retry).
 */
export function elapsedMs(e, now = Date.now()) {
  return e.startedAt == null || e.status === "pending" ? null : (e.finishedAt ?? now) - e.startedAt;
}

/** A wait until a due time, in whole seconds rounded up: 2300 → "3 s", 65000 → "1 m 05 s". */
export function formatWait(ms) {
  const s = Math.max(1, Math.ceil(ms / 1000));
  return s < 60 ? `${s} s` : formatDuration(s * 1000);
}

/**
 * What a pending execution waits for: its delay or its retry's backoff (`runAt` ahead: "due in
 * 3 s"), else a free slot; a retry also shows the failure of the attempt before it.
 * Returns [detail, detailKind].
 */
function pendingDetail(e, now) {
  const wait = e.runAt != null && e.runAt > now ? `due in ${formatWait(e.runAt - now)}` : null;
  if (!(e.attempt > 0)) return [wait ? `Delayed: ${wait}` : "Queued: waiting for a free slot", "muted"];
  const failed = e.error ? ` · attempt ${e.attempt} failed: ${e.error.code} · ${e.error.name}: ${e.error.message}` : "";
  return [`${wait ? `Retry ${wait}` : "Retry queued: waiting for a free slot"}${failed}`, "retry"];
}

/** What an error looks like to the user: { title, message }. ExecutionError shows its code. */
export function describeError(err) {
  if (err && typeof err === "object" && err.name === "ExecutionError") {
    return { title: `ExecutionError · ${err.code}`, message: String(err.message) };
  }
  if (err instanceof Error || (err && typeof err === "object" && "message" in err)) {
    return { title: String(err.name || "Error"), message: String(err.message) };
  }
  return { title: "Error", message: String(err) };
}

/** The label of an execution: its `inputs.name` when there is one, else its target. */
export function labelOf(e) {
  const name = e.inputs && typeof e.inputs === "object" && !Array.isArray(e.inputs) ? e.inputs.name : undefined;
  return typeof name === "string" && name !== "" ? name : e.targetId;
}

/**
 * The cells an execution shows, as plain values (what `ExecutionTable` compares between renders).
 * percentText: "42%" when the total is known, "done" for a completed one without a total, "—" otherwise.
 * bar: a number 0..100, or null for an indeterminate (animated) bar, which only a running
 * execution without a total gets.
 * attempt: "attempt / maxAttempts" (attempts started so far: "0 / 3" before the first).
 * meta: target and type, and the priority when it is not the default 0.
 */
export function viewOf(e, now = Date.now()) {
  const pct = e.progress?.percentage ?? null;
  let bar;
  let percentText;
  if (pct != null) {
    bar = pct;
    percentText = `${Math.floor(pct)}%`;
  } else if (e.status === "completed") {
    bar = 100;
    percentText = "done";
  } else {
    bar = e.status === "running" ? null : 0;
    percentText = "—";
  }
  let detail;
  let detailKind = "message";
  if (e.status === "failed" && e.error) {
    detail = `${e.error.code} · ${e.error.name}: ${e.error.message}`;
    detailKind = "error";
  } else if (e.status === "cancelled") {
    detail = e.cancelReason ? `Cancelled: ${e.cancelReason}` : "Cancelled";
    detailKind = "muted";
  } else if (e.status === "pending") {
    [detail, detailKind] = pendingDetail(e, now);
  } else {
    detail = e.progress?.message ?? (e.status === "running" ? "Starting…" : "Done");
  }
  const elapsed = elapsedMs(e, now);
  return {
    label: labelOf(e),
    meta: `${e.targetId} · ${e.type}${e.priority ? ` · priority ${e.priority}` : ""}`,
    attempt: e.maxAttempts == null ? "—" : `${e.attempt} / ${e.maxAttempts}`,
    shortId: e.id.length > 12 ? `${e.id.slice(0, 8)}…` : e.id,
    id: e.id,
    status: e.status,
    bar,
    percentText,
    detail,
    detailKind,
    elapsed: elapsed == null ? "—" : formatDuration(elapsed),
    active: isActive(e.status),
  };
}

/**
 * A keyed table body of executions.
 *
 *   const table = new ExecutionTable(tbody, { onCancel: (id) => ..., columns: 6 });
 *   table.render(page.items);
 */
export class ExecutionTable {
  /**
   * @param {HTMLTableSectionElement} tbody
   * @param {{ onCancel?: (id: string, button: HTMLButtonElement) => void, columns?: number }} options
   */
  constructor(tbody, { onCancel, columns = 6 } = {}) {
    this.tbody = tbody;
    this.columns = columns;
    /** @type {Map<string, Row>} */
    this.rows = new Map();
    this.order = [];
    this.emptyRow = null;
    this.hasActive = false;
    tbody.addEventListener("click", (event) => {
      const button = /** @type {HTMLElement} */ (event.target).closest?.("button[data-action=cancel]");
      if (!button || !onCancel) return;
      const id = button.closest("tr")?.dataset.id;
      if (id !== undefined) onCancel(id, /** @type {HTMLButtonElement} */ (button));
    });
  }

  /** The ids on screen, in order. */
  get visibleIds() {
    return this.order;
  }

  /**
   * Shows exactly `items` (execution snapshots), in that order.
   * @param {Array<object>} items
   * @param {{ now?: number, force?: boolean, emptyText?: string }} [options] force rewrites every cell.
   */
  render(items, { now = Date.now(), force = false, emptyText = "No executions." } = {}) {
    const seen = new Set();
    const order = [];
    let hasActive = false;
    for (const e of items) {
      let row = this.rows.get(e.id);
      if (!row) {
        row = new Row();
        this.rows.set(e.id, row);
      }
      row.update(viewOf(e, now), force);
      seen.add(e.id);
      order.push(e.id);
      hasActive ||= isActive(e.status);
    }
    for (const [id, row] of this.rows) {
      if (!seen.has(id)) {
        row.tr.remove();
        this.rows.delete(id);
      }
    }
    const sameOrder = order.length === this.order.length && order.every((id, i) => id === this.order[i]);
    if (!sameOrder || force) {
      this.tbody.replaceChildren(...order.map((id) => /** @type {Row} */ (this.rows.get(id)).tr));
    }
    if (order.length === 0) {
      if (!this.emptyRow) {
        this.emptyRow = h("tr", { class: "empty-row" }, h("td", { colspan: this.columns, "data-testid": "empty" }));
      }
      this.emptyRow.firstChild.textContent = emptyText;
      if (this.emptyRow.parentNode !== this.tbody || this.tbody.childNodes.length !== 1)
        this.tbody.replaceChildren(this.emptyRow);
    }
    this.order = order;
    this.hasActive = hasActive;
  }
}

/** One execution's <tr>; remembers what it shows to touch the DOM only on change. */
class Row {
  constructor() {
    this.name = h("div", { class: "exec-name", "data-testid": "name" });
    this.meta = h("span", { class: "exec-meta" });
    this.idCode = h("code", { class: "exec-id", "data-testid": "id" });
    this.badge = h("span", { class: "badge", "data-testid": "status" });
    this.bar = h("progress", { max: "100" });
    this.pct = h("span", { class: "pct", "data-testid": "percentage" });
    this.detail = h("div", { class: "detail", "data-testid": "detail" });
    this.attempt = h("td", { class: "col-attempt", "data-testid": "attempt" });
    this.elapsed = h("td", { class: "col-elapsed", "data-testid": "elapsed" });
    this.cancel = h(
      "button",
      { type: "button", class: "btn btn-sm btn-danger-ghost", "data-action": "cancel" },
      "Cancel",
    );
    this.tr = h(
      "tr",
      { "data-testid": "row" },
      h("td", { class: "col-exec" }, this.name, h("div", { class: "exec-sub" }, this.meta, this.idCode)),
      h("td", { class: "col-status" }, this.badge),
      this.attempt,
      h("td", { class: "col-progress" }, h("div", { class: "bar-line" }, this.bar, this.pct), this.detail),
      this.elapsed,
      h("td", { class: "col-actions" }, this.cancel),
    );
    this.shown = {};
  }

  update(v, force) {
    const old = force ? {} : this.shown;
    if (old.id !== v.id) {
      this.tr.dataset.id = v.id;
      this.idCode.textContent = v.shortId;
      this.idCode.title = v.id;
    }
    if (old.label !== v.label) {
      this.name.textContent = v.label;
      this.bar.setAttribute("aria-label", `Progress of ${v.label}`);
      this.cancel.setAttribute("aria-label", `Cancel ${v.label}`);
    }
    if (old.meta !== v.meta) this.meta.textContent = v.meta;
    if (old.status !== v.status) {
      this.tr.dataset.status = v.status;
      this.badge.dataset.status = v.status;
      this.badge.textContent = v.status;
    }
    if (old.bar !== v.bar) {
      if (v.bar == null) this.bar.removeAttribute("value");
      else this.bar.value = v.bar;
    }
    if (old.percentText !== v.percentText) this.pct.textContent = v.percentText;
    if (old.detail !== v.detail) this.detail.textContent = v.detail;
    if (old.detailKind !== v.detailKind) {
      this.detail.className = `detail detail-${v.detailKind}`;
      this.detail.dataset.testid = v.detailKind === "error" ? "error" : "detail";
    }
    if (old.attempt !== v.attempt) this.attempt.textContent = v.attempt;
    if (old.elapsed !== v.elapsed) this.elapsed.textContent = v.elapsed;
    if (old.active !== v.active) this.cancel.hidden = !v.active;
    this.shown = v;
  }
}

/**
 * An alert region: `alerts.show(err)` adds a dismissible message (the newest first, at most
 * `max`); the container should have role="alert".
 */
export class Alerts {
  constructor(container, { max = 3 } = {}) {
    this.container = container;
    this.max = max;
  }

  /** @param {unknown} err @param {string} [context] what the user was doing, e.g. "Cancel failed" */
  show(err, context) {
    const { title, message } = describeError(err);
    const close = h("button", { type: "button", class: "alert-close", "aria-label": "Dismiss" }, "×");
    const item = h(
      "div",
      { class: "alert", "data-testid": "alert" },
      h(
        "div",
        { class: "alert-body" },
        h("strong", { class: "alert-title" }, context ? `${context} — ${title}` : title),
        h("div", { class: "alert-message" }, message),
      ),
      close,
    );
    close.addEventListener("click", () => item.remove());
    this.container.prepend(item);
    while (this.container.children.length > this.max) this.container.lastElementChild?.remove();
    console.error(context ?? "error", err);
  }

  clear() {
    this.container.replaceChildren();
  }
}
