// Model-based test of a durable manager with close/reopen as a command (fast-check): random
// sequences of track/start/reportProgress/complete/fail/cancel/remove/clear, creates of
// handler-driven executions (whose handlers never end: they are running or pending at a reopen),
// registers, cursor walks begun before a reopen and continued after it, and reopen itself (close,
// then open the same memoryStore). The model is a manager made with `new` that gets the same calls,
// and at each reopen the restart rules applied by hand (a running handler-driven execution is failed
// with INTERRUPTED; targets are registered again by later commands). After every command both answer
// the same: every snapshot (times aside), counts, the full list in both orders, and the pages of the
// open cursor walk. With a small maxFinished, the eviction order must survive the reopens too.
//
// Default: 150 runs of ≤ 40 commands. EXECMAN_LONG=1: 2,000 runs of ≤ 80 commands.
import assert from "node:assert/strict";
import fc from "fast-check";
import { ExecutionManager, memoryStore } from "execman";
import { fcParams, LONG, quiesce, stripTimes, test } from "./lib.mjs";

const IDS = ["a", "b", "c", "d", "e", "f"];
const TARGETS = ["t1", "t2"];
const never = () => new Promise(() => {});

const cmdArb = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant("track"), id: fc.constantFrom(...IDS) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("create"),
      id: fc.constantFrom(...IDS),
      target: fc.constantFrom(...TARGETS),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("register"), target: fc.constantFrom(...TARGETS) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("start"), id: fc.constantFrom(...IDS) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("progress"),
      id: fc.constantFrom(...IDS),
      current: fc.nat(100),
      message: fc.option(fc.string({ maxLength: 5 }), { nil: undefined }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("complete"),
      id: fc.constantFrom(...IDS),
      result: fc.jsonValue({ maxDepth: 2 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("fail"), id: fc.constantFrom(...IDS) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("cancel"),
      id: fc.constantFrom(...IDS),
      reason: fc.option(fc.string({ maxLength: 4 }), { nil: undefined }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("remove"), id: fc.constantFrom(...IDS) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("clear") }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("walk"), order: fc.constantFrom("asc", "desc") }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("reopen") }) },
);

/** Every execution, in `order`. */
function all(m, order) {
  const out = [];
  let page = m.list({ order, pageSize: 1000 });
  for (;;) {
    out.push(...page.items);
    if (!page.hasNext) return out;
    page = m.list({ order, pageSize: 1000, cursor: page.nextCursor });
  }
}

/** The outcome of a call: its value (times aside) or its error code. */
function outcome(fn) {
  try {
    const v = fn();
    return { ok: v === undefined ? null : typeof v === "number" ? v : stripTimes(v) };
  } catch (e) {
    assert.equal(e?.name, "ExecutionError", `a non-contract error: ${e?.stack ?? e}`);
    return { code: e.code };
  }
}

/** The error of INTERRUPTED as the model's `fail` gives it (the message aside). */
const interrupted = { code: "INTERRUPTED", name: "InterruptedError" };

test(
  "a durable manager reopened at random answers as a manager that was never closed (restart rules aside)",
  async () => {
    const { numRuns, maxCommands } = LONG ? { numRuns: 2000, maxCommands: 80 } : { numRuns: 150, maxCommands: 40 };
    let reopens = 0;
    let walksAcross = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(cmdArb, { minLength: 5, maxLength: maxCommands, size: "max" }),
        fc.constantFrom(2, 4, 1000),
        async (cmds, maxFinished) => {
          const store = memoryStore();
          let real = await ExecutionManager.open({ store, maxFinished });
          const model = new ExecutionManager({ maxFinished });
          // Handler-driven executions of the model are tracked ones, started when the real one starts.
          const handlerDriven = new Set();
          const registered = new Set();
          /** @type {{ order: string, cursor: string | null } | null} */
          let walk = null;
          try {
            for (const c of cmds) {
              let a;
              let b;
              switch (c.op) {
                case "track":
                  a = outcome(() => real.track({ targetId: "remote", id: c.id, inputs: { id: c.id } }));
                  b = outcome(() => model.track({ targetId: "remote", id: c.id, inputs: { id: c.id } }));
                  // The id may be one a handler-driven execution had before clear() or eviction took
                  // it: the new one is tracked.
                  if (b.ok) handlerDriven.delete(c.id);
                  break;
                case "create": {
                  a = outcome(() => real.create({ targetId: c.target, id: c.id, inputs: { id: c.id } }));
                  if (registered.has(c.target)) {
                    b = outcome(() => model.track({ targetId: c.target, id: c.id, inputs: { id: c.id } }));
                    if (b.ok) handlerDriven.add(c.id);
                  } else {
                    b = { code: "UNKNOWN_TARGET" };
                  }
                  break;
                }
                case "register":
                  a = outcome(() => real.register(c.target, never));
                  b = registered.has(c.target) ? { code: "ALREADY_EXISTS" } : { ok: null };
                  registered.add(c.target);
                  break;
                case "start":
                case "progress":
                case "complete":
                case "fail": {
                  const call = (m) =>
                    c.op === "start"
                      ? m.start(c.id)
                      : c.op === "progress"
                        ? m.reportProgress(c.id, c.current, 100, c.message)
                        : c.op === "complete"
                          ? m.complete(c.id, c.result)
                          : m.fail(c.id, { code: "REMOTE", message: "it broke" });
                  a = outcome(() => call(real));
                  b =
                    handlerDriven.has(c.id) && model.status(c.id)
                      ? { code: "INVALID_TRANSITION" }
                      : outcome(() => call(model));
                  break;
                }
                case "cancel":
                  a = outcome(() => real.cancel(c.id, c.reason));
                  b = outcome(() => model.cancel(c.id, c.reason));
                  break;
                case "remove":
                  a = outcome(() => real.remove(c.id));
                  b = outcome(() => model.remove(c.id));
                  if (b.ok) handlerDriven.delete(c.id);
                  break;
                case "clear":
                  a = outcome(() => real.clear());
                  b = outcome(() => model.clear());
                  break;
                case "walk": {
                  const first = real.list({ order: c.order, pageSize: 2 });
                  walk = { order: c.order, cursor: first.nextCursor };
                  break;
                }
                case "reopen": {
                  await real.close();
                  real = await ExecutionManager.open({ store, maxFinished });
                  reopens++;
                  if (walk !== null) walksAcross++;
                  registered.clear();
                  // The restart rules, by hand: running handler-driven executions were interrupted.
                  for (const x of all(model, "asc")) {
                    if (handlerDriven.has(x.id) && x.status === "running") {
                      model.fail(x.id, { ...interrupted, message: "interrupted" });
                    }
                  }
                  break;
                }
              }
              await quiesce();
              // Handler-driven executions start in the real manager when their target is registered:
              // the model starts its tracked stand-ins the same way.
              for (const id of handlerDriven) {
                const x = real.status(id);
                if (x?.status === "running" && model.status(id)?.status === "pending") model.start(id);
              }
              if (a !== undefined) assert.deepEqual(norm(a.ok ?? a), norm(b.ok ?? b), JSON.stringify(c));
              compare(real, model);
              if (walk !== null && walk.cursor !== null) {
                // The cursor walk goes on from where it was, across reopens.
                const pr = real.list({ order: walk.order, pageSize: 2, cursor: walk.cursor });
                const pm = model.list({ order: walk.order, pageSize: 2, cursor: walk.cursor });
                assert.deepEqual(
                  pr.items.map((x) => x.id),
                  pm.items.map((x) => x.id),
                  "a cursor walk across reopens",
                );
                walk.cursor = pr.nextCursor;
              }
            }
          } finally {
            await real.close().catch(() => {});
            model.free();
          }
        },
      ),
      fcParams(numRuns, numRuns),
    );
    console.log(`durable model: ${numRuns} runs, ${reopens} reopens, ${walksAcross} cursor walks across a reopen`);
    assert.ok(reopens > numRuns && walksAcross > 0);
  },
  { timeout: 600_000 },
);

/** A snapshot with the message of INTERRUPTED left out (the model words it its own way). */
function norm(x) {
  if (x === null || typeof x !== "object" || x.error?.code !== "INTERRUPTED") return x;
  return { ...x, error: { ...x.error, message: "*" } };
}

/** Both managers hold the same executions, in the same states and order, and count them alike. */
function compare(real, model) {
  for (const order of ["asc", "desc"]) {
    assert.deepEqual(
      all(real, order).map(stripTimes).map(norm),
      all(model, order).map(stripTimes).map(norm),
      `list ${order}`,
    );
  }
  assert.deepEqual(real.counts(), model.counts());
}
