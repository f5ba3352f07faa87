// W4 listing: N held executions (maxFinished and maxBytes Infinity) in mixed statuses and four types, then
// list() queries with pageSize 50; only the list calls are timed. Execution i has type
// "abcd"[i % 4] and, by i % 5: pending (track), running (start), completed (complete),
// failed (fail) or cancelled (cancel while pending). Each query is repeated until it has taken
// --min-ms (default 300 ms) and at least 5 times; the per-call median is reported, in µs. The
// time to fill the manager ("W4 fill", ms) is reported too, timed apart from the queries.
import { intArg, loadManager, main, now, parseArgs, report, median, consume, section } from "./_harness.mjs";

const args = parseArgs();
const impl = args.impl || "execman";
const held = intArg(args, "size", 1_000_000);
const minMs = intArg(args, "min-ms", 300);
const PAGE = 50;
const TYPES = ["a", "b", "c", "d"];

function populate(manager, n) {
  for (let i = 0; i < n; i++) {
    const id = manager.track({ targetId: "job", type: TYPES[i % 4], inputs: { n: i } }).id;
    switch (i % 5) {
      case 0:
        break;
      case 1:
        manager.start(id);
        break;
      case 2:
        manager.start(id);
        manager.complete(id, { ok: true });
        break;
      case 3:
        manager.start(id);
        manager.fail(id, "boom");
        break;
      case 4:
        manager.cancel(id);
        break;
    }
  }
}

function measure(manager, query, check) {
  const first = manager.list(query);
  check(first);
  const samples = [];
  const t0 = now();
  while (samples.length < 5 || now() - t0 < minMs) {
    const s = now();
    const page = manager.list(query);
    samples.push(now() - s);
    consume(page);
    if (samples.length >= 100_000) break;
  }
  return median(samples) * 1000; // µs
}

main(async () => {
  const ExecutionManager = loadManager(impl, args.pkg);
  const manager = new ExecutionManager({ maxFinished: Infinity, maxBytes: Infinity });
  const tp = now();
  populate(manager, held);
  const populateMs = now() - tp;

  const completed = { status: "completed", pageSize: PAGE };
  const probe = manager.list(completed);
  const pages = probe.totalPages;
  const mid = Math.max(1, Math.ceil(pages / 2));
  const midPage = manager.list({ ...completed, page: mid });
  const typeStatus = { type: "b", status: "running", pageSize: PAGE };
  const typeStatuses = { type: "b", status: ["running", "pending"], pageSize: PAGE };
  const tsPages = manager.list(typeStatuses).totalPages;
  const all = { pageSize: PAGE };
  const allPages = manager.list(all).totalPages;

  const full = (p) => {
    if (p.items.length !== PAGE) throw new Error(`expected a full page, got ${p.items.length}`);
  };
  const any = (p) => {
    if (p.items.length === 0) throw new Error("expected items");
  };
  const queries = [
    ["status, first page", { ...completed, page: 1 }, full],
    ["status, middle page", { ...completed, page: mid }, full],
    ["status, last page", { ...completed, page: pages }, any],
    ["status, next page via cursor", { ...completed, cursor: midPage.nextCursor }, full],
    ["type+status, first page", { ...typeStatus, page: 1 }, full],
    ["type+status[2], middle page", { ...typeStatuses, page: Math.max(1, Math.ceil(tsPages / 2)) }, full],
    ["unfiltered, first page", { ...all, page: 1 }, full],
    ["unfiltered, middle page", { ...all, page: Math.max(1, Math.ceil(allPages / 2)) }, full],
  ];
  const metrics = { "W4 fill": { value: populateMs, unit: "ms" } };
  await section(`W4 list (all queries) @${held}`, () => {
    for (const [name, query, check] of queries) {
      metrics[`W4 list ${name}`] = { value: measure(manager, query, check), unit: "µs/page" };
    }
  });
  report(metrics, { held, populateMs, completedPages: pages });
});
