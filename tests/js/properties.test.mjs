// fast-check properties of the built package, checked against a tiny JS model.
import assert from "node:assert/strict";
import fc from "fast-check";
import { ExecutionManager } from "execman";
import { STATUSES, TERMINAL, test } from "./helpers.mjs";

/** fast-check runs many cases: a longer per-test timeout. */
const SLOW = { timeout: 60_000 };

const IDS = ["a", "b", "c", "d", "e"];
const TYPES = ["task", "import", "export"];
const TARGETS = ["t1", "t2"];

// ---------------------------------------------------------------------------------------
// (a) random operation sequences against a model of statuses

const opArb = fc.oneof(
  fc.record({ op: fc.constant("track"), id: fc.constantFrom(...IDS), type: fc.constantFrom(...TYPES) }),
  fc.record({ op: fc.constant("start"), id: fc.constantFrom(...IDS) }),
  fc.record({
    op: fc.constant("reportProgress"),
    id: fc.constantFrom(...IDS),
    current: fc.nat(100),
    total: fc.option(fc.integer({ min: 1, max: 100 }), { nil: undefined }),
  }),
  fc.record({ op: fc.constant("complete"), id: fc.constantFrom(...IDS), result: fc.jsonValue({ maxDepth: 2 }) }),
  fc.record({ op: fc.constant("fail"), id: fc.constantFrom(...IDS), message: fc.string() }),
  fc.record({
    op: fc.constant("cancel"),
    id: fc.constantFrom(...IDS),
    reason: fc.option(fc.string(), { nil: undefined }),
  }),
  fc.record({ op: fc.constant("remove"), id: fc.constantFrom(...IDS) }),
  fc.record({ op: fc.constant("clear") }),
);

/** What the model expects: the error code, or null for success (and the new status). */
function expectation(model, step) {
  const e = model.get(step.id);
  switch (step.op) {
    case "track":
      return e ? { code: "ALREADY_EXISTS" } : { status: "pending" };
    case "clear":
      return { status: null };
  }
  if (!e) return { code: "NOT_FOUND" };
  const s = e.status;
  switch (step.op) {
    case "start":
      return s === "pending" ? { status: "running" } : { code: "INVALID_TRANSITION" };
    case "reportProgress":
      return s === "running" ? { status: "running" } : { code: "INVALID_TRANSITION" };
    case "complete":
      return s === "running" ? { status: "completed" } : { code: "INVALID_TRANSITION" };
    case "fail":
      if (s === "running") return { status: "failed" };
      // the contract does not say whether a pending tracked execution may fail directly: accept either.
      if (s === "pending") return { either: true, status: "failed", code: "INVALID_TRANSITION" };
      return { code: "INVALID_TRANSITION" };
    case "cancel":
      return TERMINAL.has(s) ? { code: "INVALID_TRANSITION" } : { status: "cancelled" };
    case "remove":
      return TERMINAL.has(s) ? { status: null } : { code: "INVALID_TRANSITION" };
  }
  throw new Error(`unknown op ${step.op}`);
}

function apply(m, step) {
  switch (step.op) {
    case "track":
      return m.track({ targetId: "ext", id: step.id, type: step.type });
    case "start":
      return m.start(step.id);
    case "reportProgress":
      return m.reportProgress(step.id, step.current, step.total);
    case "complete":
      return m.complete(step.id, step.result);
    case "fail":
      return m.fail(step.id, step.message);
    case "cancel":
      return m.cancel(step.id, step.reason);
    case "remove":
      return m.remove(step.id);
    case "clear":
      return m.clear();
  }
  throw new Error(`unknown op ${step.op}`);
}

function recount(m) {
  const all = m.list({ pageSize: 1000 });
  const counts = { pending: 0, running: 0, completed: 0, failed: 0, cancelled: 0, total: all.total };
  for (const e of all.items) counts[e.status]++;
  assert.equal(all.items.length, all.total);
  for (const s of STATUSES) assert.equal(m.list({ status: s, pageSize: 1000 }).total, counts[s], `list total for ${s}`);
  return counts;
}

test(
  "property: random track/start/reportProgress/complete/fail/cancel/remove sequences follow the model",
  () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 40 }), (steps) => {
        const m = new ExecutionManager();
        /** id → { status, snapshot (kept once terminal) } */
        const model = new Map();
        for (const step of steps) {
          const exp = expectation(model, step);
          let value;
          let err = null;
          try {
            value = apply(m, step);
          } catch (e) {
            err = e;
          }
          const label = `${JSON.stringify(step)} → ${err ? err.code : "ok"}`;
          if (err) {
            assert.ok(err instanceof Error, label);
            assert.equal(err.name, "ExecutionError", label);
            if (!exp.code) assert.fail(`unexpected error: ${label}: ${err.message}`);
            assert.equal(err.code, exp.code, label);
          } else {
            if (exp.code && !exp.either) assert.fail(`expected ${exp.code}: ${label}`);
            if (step.op === "clear") {
              let n = 0;
              for (const [id, e] of model) {
                if (TERMINAL.has(e.status)) {
                  model.delete(id);
                  n++;
                }
              }
              assert.equal(value, n, "clear count");
            } else if (exp.status === null) {
              assert.deepEqual(value, model.get(step.id).snapshot, "remove returns the last snapshot");
              model.delete(step.id);
            } else {
              const entry = model.get(step.id) ?? {};
              entry.status = exp.status;
              model.set(step.id, entry);
              if (step.op === "reportProgress") {
                assert.equal(value, undefined);
              } else {
                assert.equal(value.status, exp.status, label);
                assert.equal(value.id, step.id);
              }
              if (TERMINAL.has(exp.status)) entry.snapshot = value;
              if (step.op === "complete") assert.deepEqual(value.result, step.result ?? null);
              if (step.op === "cancel" && step.reason !== undefined) assert.equal(value.cancelReason, step.reason);
            }
          }
          // The whole state matches the model after every step.
          for (const id of IDS) {
            const real = m.status(id);
            const e = model.get(id);
            if (!e) {
              assert.equal(real, undefined, `${id} absent after ${label}`);
              continue;
            }
            assert.equal(real.status, e.status, `${id} after ${label}`);
            // Terminal immutability: a terminal snapshot never changes again.
            if (e.snapshot) assert.deepEqual(real, e.snapshot, `${id} unchanged since it became terminal`);
          }
          const expected = { pending: 0, running: 0, completed: 0, failed: 0, cancelled: 0, total: model.size };
          for (const e of model.values()) expected[e.status]++;
          const counts = m.counts();
          assert.deepEqual(counts, expected, `counts after ${label}`);
          assert.deepEqual(recount(m), counts, "counts() equals a recount of list()");
        }
      }),
      { numRuns: 150 },
    );
  },
  SLOW,
);

// ---------------------------------------------------------------------------------------
// (b) list paging against the model's filtered, ordered list

const specArb = fc.record({
  type: fc.constantFrom(...TYPES),
  targetId: fc.constantFrom(...TARGETS),
  status: fc.constantFrom(...STATUSES),
});

/** A filter value: absent, one value, or an array (possibly empty) of values. */
const filterValueArb = (values) =>
  fc.oneof(
    fc.constant(undefined),
    fc.constantFrom(...values),
    fc.uniqueArray(fc.constantFrom(...values), { maxLength: values.length }),
  );

const queryArb = fc.record(
  {
    status: filterValueArb(STATUSES),
    type: filterValueArb(TYPES),
    targetId: fc.constantFrom(...TARGETS),
    order: fc.constantFrom("asc", "desc"),
    pageSize: fc.integer({ min: 1, max: 8 }),
  },
  { requiredKeys: ["pageSize"] },
);

function createAll(m, specs, model, seqStart = 0) {
  specs.forEach((spec, i) => {
    const id = `x${seqStart + i}`;
    m.track({ id, targetId: spec.targetId, type: spec.type });
    if (spec.status === "cancelled") m.cancel(id);
    else if (spec.status !== "pending") {
      m.start(id);
      if (spec.status === "completed") m.complete(id);
      if (spec.status === "failed") m.fail(id, "f");
    }
    model.push({ id, seq: seqStart + i, ...spec });
  });
}

const matches = (q, e) =>
  (q.status === undefined || [q.status].flat().includes(e.status)) &&
  (q.type === undefined || [q.type].flat().includes(e.type)) &&
  (q.targetId === undefined || q.targetId === e.targetId);

function expectedList(model, q) {
  const rows = model.filter((e) => matches(q, e)).sort((x, y) => x.seq - y.seq);
  if ((q.order ?? "desc") === "desc") rows.reverse();
  return rows;
}

/** A query object without the keys that are undefined (undefined is not "absent" everywhere). */
const clean = (q) => Object.fromEntries(Object.entries(q).filter(([, v]) => v !== undefined));

test(
  "property: page mode and cursor mode both give exactly the filtered, ordered list",
  () => {
    fc.assert(
      fc.property(fc.array(specArb, { maxLength: 30 }), queryArb, (specs, query) => {
        const q = clean(query);
        const m = new ExecutionManager();
        const model = [];
        createAll(m, specs, model);
        const expected = expectedList(model, q).map((e) => e.id);
        const total = expected.length;
        const totalPages = Math.ceil(total / q.pageSize);

        // Page mode.
        const byPage = [];
        for (let page = 1; page <= totalPages + 1; page++) {
          const p = m.list({ ...q, page });
          assert.equal(p.total, total);
          assert.equal(p.totalPages, totalPages);
          assert.equal(p.page, page);
          assert.equal(p.pageSize, q.pageSize);
          const want = expected.slice((page - 1) * q.pageSize, page * q.pageSize);
          assert.deepEqual(
            p.items.map((e) => e.id),
            want,
            `page ${page}`,
          );
          assert.equal(p.hasNext, page < totalPages);
          assert.equal(typeof p.nextCursor, p.hasNext ? "string" : "object");
          if (!p.hasNext) assert.equal(p.nextCursor, null);
          byPage.push(...p.items.map((e) => e.id));
        }
        assert.deepEqual(byPage, expected, "pages concatenate to the list");

        // Cursor mode.
        const byCursor = [];
        let p = m.list(q);
        for (let guard = 0; ; guard++) {
          assert.ok(guard <= totalPages + 1, "cursor paging terminates");
          byCursor.push(...p.items.map((e) => e.id));
          assert.equal(p.total, total);
          assert.equal(p.totalPages, totalPages);
          if (!p.hasNext) {
            assert.equal(p.nextCursor, null);
            break;
          }
          assert.equal(typeof p.nextCursor, "string");
          p = m.list({ ...q, cursor: p.nextCursor });
          assert.equal(p.page, null);
        }
        assert.deepEqual(byCursor, expected, "cursor pages concatenate to the list");
        assert.equal(new Set(byCursor).size, byCursor.length, "no duplicates");
      }),
      { numRuns: 150 },
    );
  },
  SLOW,
);

const mutationArb = fc.oneof(
  fc.record({ kind: fc.constant("create"), specs: fc.array(specArb, { minLength: 1, maxLength: 3 }) }),
  fc.record({ kind: fc.constant("remove"), pick: fc.nat() }),
  fc.record({ kind: fc.constant("none") }),
);

test(
  "property: cursor paging stays exact while executions are created and removed between pages",
  () => {
    fc.assert(
      fc.property(
        fc.array(specArb, { maxLength: 25 }),
        queryArb,
        fc.array(mutationArb, { maxLength: 12 }),
        (specs, query, mutations) => {
          const q = clean(query);
          const m = new ExecutionManager();
          const model = [];
          createAll(m, specs, model);
          let seq = specs.length;
          const seen = [];
          let last = null; // seq of the last item returned
          let p = m.list(q);
          for (let round = 0; ; round++) {
            // The model's view of this page.
            const rows = expectedList(model, q);
            const after =
              last === null ? rows : rows.filter((e) => ((q.order ?? "desc") === "asc" ? e.seq > last : e.seq < last));
            const want = after.slice(0, q.pageSize);
            assert.deepEqual(
              p.items.map((e) => e.id),
              want.map((e) => e.id),
              `round ${round}`,
            );
            assert.equal(p.total, rows.length, "total counts current matches");
            assert.equal(p.hasNext, after.length > q.pageSize);
            for (const e of p.items) seen.push(e.id);
            if (want.length) last = want[want.length - 1].seq;
            if (!p.hasNext) break;
            assert.ok(round < 200, "terminates");
            // Mutate between pages.
            const mut = mutations[round] ?? { kind: "none" };
            if (mut.kind === "create") {
              createAll(m, mut.specs, model, seq);
              seq += mut.specs.length;
            } else if (mut.kind === "remove") {
              const terminal = model.filter((e) => TERMINAL.has(e.status));
              if (terminal.length) {
                const victim = terminal[mut.pick % terminal.length];
                m.remove(victim.id);
                model.splice(model.indexOf(victim), 1);
              }
            }
            p = m.list({ ...q, cursor: p.nextCursor });
          }
          assert.equal(new Set(seen).size, seen.length, "nothing shown twice");
        },
      ),
      { numRuns: 150 },
    );
  },
  SLOW,
);

// ---------------------------------------------------------------------------------------
// (c) percentage arithmetic

const nonNeg = fc
  .oneof(
    fc.nat(1000),
    fc.double({ min: 0, max: 1e12, noNaN: true, noDefaultInfinity: true }),
    fc.double({ min: 0, max: Number.MAX_VALUE, noNaN: true, noDefaultInfinity: true }),
  )
  .map((x) => (x === 0 ? 0 : x)); // no -0
const positive = fc.oneof(
  fc.integer({ min: 1, max: 1000 }),
  fc.double({ min: Number.MIN_VALUE, max: 1e12, noNaN: true, noDefaultInfinity: true }),
  fc.double({ min: Number.MIN_VALUE, max: Number.MAX_VALUE, noNaN: true, noDefaultInfinity: true }),
);

test(
  "property: percentage = min(100, current / total * 100), null without a total",
  () => {
    const m = new ExecutionManager();
    m.track({ targetId: "x", id: "p" });
    m.start("p");
    fc.assert(
      fc.property(
        nonNeg,
        fc.option(positive, { nil: null }),
        fc.option(fc.string(), { nil: null }),
        (current, total, message) => {
          m.reportProgress("p", current, total, message);
          const p = m.progress("p");
          assert.equal(p.current, current);
          assert.equal(p.total, total);
          assert.equal(p.message, message);
          if (total === null) assert.equal(p.percentage, null);
          else {
            assert.equal(p.percentage, Math.min(100, (current / total) * 100));
            assert.ok(p.percentage >= 0 && p.percentage <= 100);
          }
          assert.deepEqual(m.status("p").progress, p);
        },
      ),
      { numRuns: 500 },
    );
  },
  SLOW,
);

test(
  "property: ctx.progress computes the same percentage as reportProgress",
  async () => {
    await fc.assert(
      fc.asyncProperty(nonNeg, positive, async (current, total) => {
        const m = new ExecutionManager();
        m.register("t", (inputs, ctx) => {
          ctx.progress(current, total);
          return new Promise(() => {}); // stay running
        });
        const e = m.create({ targetId: "t" });
        await new Promise((resolve) => setImmediate(resolve));
        for (let i = 0; i < 100 && m.progress(e.id) === null; i++)
          await new Promise((resolve) => setTimeout(resolve, 1));
        const p = m.progress(e.id);
        assert.notEqual(p, null, "progress reported");
        assert.equal(p.percentage, Math.min(100, (current / total) * 100));
        m.cancel(e.id);
      }),
      { numRuns: 100 },
    );
  },
  SLOW,
);
