// A typed usage of the package, checked by `tsc --noEmit -p tests/types`. It compiles only
// if the shipped declarations type the API precisely; each `@ts-expect-error` line proves a
// mistake is caught (tsc fails if the line is NOT an error).
import { ExecutionManager } from "execman";
import type { Execution, JsonValue, ListQuery, Page, Progress, Status } from "execman";

const manager = new ExecutionManager({ concurrency: 2, maxFinished: 100 });
const unbounded = new ExecutionManager({ concurrency: Infinity });
const defaults = new ExecutionManager();

manager.register(
  "resize",
  async (inputs, ctx) => {
    const id: string = ctx.id;
    const aborted: boolean = ctx.signal.aborted;
    ctx.signal.addEventListener("abort", () => undefined);
    const timeout: JsonValue | undefined = ctx.config.timeoutMs;
    ctx.progress(1);
    ctx.progress(1, 4);
    ctx.progress(2, 4, "halfway");
    return { id, aborted, timeout: timeout ?? null, inputs };
  },
  { type: "workflow" },
);
manager.register("sync", () => 42);

const created: Execution = manager.create({
  targetId: "resize",
  inputs: { width: 100, tags: ["a", "b"], nested: { ok: true, none: null } },
  config: { timeoutMs: 5000, label: "x" },
  id: "job-1",
  type: "image",
});
const minimal: Execution = manager.create({ targetId: "sync" });

const id: string = created.id;
const targetId: string = created.targetId;
const type: string = created.type;
const status: Status = created.status;
const config: Record<string, unknown> = created.config;
const inputs: unknown = created.inputs;
const createdAt: number = created.createdAt;
const startedAt: number | null = created.startedAt;
const finishedAt: number | null = created.finishedAt;
const updatedAt: number = created.updatedAt;
const progressOrNull: Progress | null = created.progress;
const result: unknown = created.result;
const cancelReason: string | undefined = created.cancelReason;
if (created.error) {
  const code: string = created.error.code;
  const name: string = created.error.name;
  const message: string = created.error.message;
  const stack: string | undefined = created.error.stack;
  void [code, name, message, stack];
}

function describeStatus(s: Status): string {
  switch (s) {
    case "pending":
    case "running":
      return "active";
    case "completed":
    case "failed":
    case "cancelled":
      return "terminal";
  }
}

const tracked: Execution = manager.track({ targetId: "remote", inputs: null, config: {} });
const started: Execution = manager.start(tracked.id);
// biome-ignore lint/suspicious/noConfusingVoidType: checks that reportProgress returns nothing
const reported: void = manager.reportProgress(tracked.id, 3, 10, "three");
manager.reportProgress(tracked.id, 4);
manager.reportProgress(tracked.id, 5, null, null);
const completed: Execution = manager.complete(tracked.id, { ok: true });
manager.complete(manager.start(manager.track({ targetId: "r" }).id).id);
const failed1: Execution = manager.fail(manager.start(manager.track({ targetId: "r" }).id).id, "text");
const failed2: Execution = manager.fail(manager.start(manager.track({ targetId: "r" }).id).id, new Error("e"));
const failed3: Execution = manager.fail(manager.start(manager.track({ targetId: "r" }).id).id, {
  message: "m",
  code: "E_REMOTE",
  name: "RemoteError",
  stack: "at x",
});

const maybe: Execution | undefined = manager.status("job-1");
const prog: Progress | null | undefined = manager.progress("job-1");
if (prog) {
  const current: number = prog.current;
  const total: number | null = prog.total;
  const message: string | null = prog.message;
  const percentage: number | null = prog.percentage;
  const at: number = prog.updatedAt;
  void [current, total, message, percentage, at];
}

const query: ListQuery = {
  status: ["completed", "failed"],
  type: "workflow",
  targetId: "resize",
  pageSize: 50,
  order: "asc",
};
const single: ListQuery = { status: "running", page: 2 };
const page: Page = manager.list(query);
const firstPage: Page = manager.list();
const items: Execution[] = page.items;
const total: number = page.total;
const pageNo: number | null = page.page;
const pageSize: number = page.pageSize;
const totalPages: number = page.totalPages;
const hasNext: boolean = page.hasNext;
const nextCursor: string | null = page.nextCursor;
if (nextCursor !== null) manager.list({ ...query, cursor: nextCursor });

const counts = manager.counts();
const countValues: number[] = [
  counts.pending,
  counts.running,
  counts.completed,
  counts.failed,
  counts.cancelled,
  counts.total,
];

const cancelled: Execution = manager.cancel("job-1", "no longer needed");
manager.cancel(minimal.id);
const waited: Promise<Execution> = manager.wait(minimal.id);
async function finish(): Promise<void> {
  const done: Execution = await manager.wait("job-1");
  const removed: Execution = manager.remove(done.id);
  const cleared: number = manager.clear();
  void [removed, cleared];
}

const unsubscribe: () => void = manager.subscribe((event) => {
  const kind: "created" | "status" | "progress" | "removed" = event.type;
  const execution: Execution = event.execution;
  void [kind, execution];
});
unsubscribe();

// ---- precision: each of these must be a type error ----

// @ts-expect-error a targetId is a string, not a number
manager.register(42, async () => null, { type: "t" });

// @ts-expect-error the handler must be a function
manager.register("bad", "not a function", { type: "t" });

// @ts-expect-error Execution has no such field
created.nonexistent;

// @ts-expect-error "bogus" is not a Status
const bogus: Status = "bogus";

// @ts-expect-error order is "asc" | "desc"
const badOrder: ListQuery = { order: "sideways" };

// @ts-expect-error a status filter takes Status values only
const badStatusFilter: ListQuery = { status: ["done"] };

// @ts-expect-error create needs a targetId
manager.create({ inputs: {} });

// @ts-expect-error percentage may be null
const pct: number = (prog as Progress).percentage;

// @ts-expect-error counts are numbers
const countText: string = counts.total;

// @ts-expect-error status() may return undefined
const surely: Execution = manager.status("job-1");

// @ts-expect-error wait resolves to an Execution, not a string
const waitedText: Promise<string> = manager.wait("job-1");

// @ts-expect-error the subscribe listener's event type is a closed union
manager.subscribe((event) => event.type === "deleted");

// @ts-expect-error fail needs a message in an error object
manager.fail("job-1", { code: "E_NO_MESSAGE" });

// @ts-expect-error pageSize is a number
manager.list({ pageSize: "10" });

// @ts-expect-error concurrency is a number
new ExecutionManager({ concurrency: "3" });

void [unbounded, defaults, minimal, id, targetId, type, status, config, inputs, createdAt, startedAt, finishedAt];
void [updatedAt, progressOrNull, result, cancelReason, describeStatus, started, reported, completed, failed1];
void [failed2, failed3, maybe, single, firstPage, items, total, pageNo, pageSize, totalPages, hasNext, countValues];
void [cancelled, waited, finish, bogus, badOrder, badStatusFilter, pct, countText, surely, waitedText];

// REST answers: a 201 carries its Location, a 405 its Allow.
const restAnswer = manager.handle({
  method: "POST",
  path: "/api/v1/executions",
  body: { targetId: "t", tracked: true },
});
if (restAnswer.status === 201) {
  const location: string = restAnswer.headers.location;
  const createdId: string = restAnswer.body.id;
  void [location, createdId];
} else if (restAnswer.status === 405) {
  const allow: string = restAnswer.headers.allow;
  const code: string = restAnswer.body.error.code;
  void [allow, code];
}
// @ts-expect-error only a 201 or a 405 has headers
void manager.handle({ method: "GET", path: "/api/v1/counts" }).headers.location;
