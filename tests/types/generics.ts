// Typed handlers and snapshots: inputs and results keep their types from `register` to `wait`,
// `status`, `list`, events and the control methods, with no cast under `strict`. Checked by tsc
// under moduleResolution node16, nodenext (this file is CommonJS there: the `require` entry) and
// bundler (the `import` entry); each `@ts-expect-error` line must be an error.
import { ExecutionManager } from "execman";
import type {
  Execution,
  ExecutionEvent,
  Handler,
  HandlerContext,
  HandlerInputs,
  HandlerReturn,
  JsonCompatible,
  JsonValue,
  Listener,
  Page,
  Stored,
} from "execman";

const manager = new ExecutionManager({ concurrency: 2 });

// ---- handlers: the inputs' type comes from the annotation, the result's from the return -------

interface PdfInputs {
  pages: number;
  title?: string;
}
interface PdfResult {
  url: string;
  pages: number;
  sizes: number[];
}

// The brief's own example: an inline annotation, ctx typed by context.
manager.register("pdf", async (inputs: { pages: number }, ctx) => ({ url: "x", pages: inputs.pages }));

// Interfaces (which have no index signature) pass as inputs and results.
manager.register(
  "pdf-interface",
  async (inputs: PdfInputs, ctx): Promise<PdfResult> => {
    const pages: number = inputs.pages;
    const title: string | undefined = inputs.title;
    ctx.progress(0, pages, title ?? null);
    ctx.signal.throwIfAborted();
    return { url: `/exports/${ctx.id}.pdf`, pages, sizes: [1, 2] };
  },
  { type: "batch" },
);

// A handler declared apart, typed with Handler<I, R>.
const render: Handler<PdfInputs, PdfResult> = async (inputs, ctx) => {
  const context: HandlerContext = ctx;
  void context;
  return { url: "/r.pdf", pages: inputs.pages, sizes: [] };
};
manager.register("render", render);

// A function declaration with both parameters annotated.
async function thumbnail(inputs: { width: number; height: number }, ctx: HandlerContext) {
  ctx.progress(1, 1);
  return { width: inputs.width, height: inputs.height, format: "png" as const };
}
manager.register("thumbnail", thumbnail);

// Sync handlers, handlers returning nothing (stored as null), unions, nested arrays and nulls,
// recursive interfaces, readonly arrays and tuples, string and number literal unions.
manager.register("sync", (inputs: { n: number }) => inputs.n * 2);
manager.register("nothing", async (inputs, ctx) => {
  ctx.progress(1);
});
manager.register("maybe", async (inputs: { ok: boolean }) => (inputs.ok ? { value: 1 } : undefined));
interface Tree {
  name: string;
  children: Tree[];
}
manager.register("tree", (inputs: Tree): Tree => ({ name: inputs.name, children: inputs.children }));
manager.register("tuple", (): readonly [string, number, null] => ["a", 1, null]);
manager.register("literal", (): { state: "ok" | "degraded"; code: 200 | 503 } => ({ state: "ok", code: 200 }));
manager.register("nested", () => ({ a: [[{ b: null }]], c: { d: { e: "f" } } }));

// Without an annotation, inputs are any JSON value; `unknown` is accepted too (a handler that
// validates its inputs itself).
manager.register("untyped", (inputs, ctx) => {
  const value: JsonValue = inputs;
  return value;
});
manager.register("validating", (inputs: unknown) => (typeof inputs === "object" ? "object" : "other"));

// ---- create: inputs inferred, or checked against the type given ------------------------------

const inferred = manager.create({ targetId: "pdf", inputs: { pages: 3 } });
const inferredPages: number = inferred.inputs.pages;
const typed = manager.create<PdfInputs, PdfResult>({ targetId: "pdf-interface", inputs: { pages: 3, title: "t" } });
const typedInputs: PdfInputs = typed.inputs;
const typedResult: PdfResult | undefined = typed.result;
const plain: Execution = manager.create({ targetId: "untyped" });

// @ts-expect-error pages is a number in PdfInputs
manager.create<PdfInputs>({ targetId: "pdf-interface", inputs: { pages: "3" } });
// @ts-expect-error PdfInputs requires pages
manager.create<PdfInputs>({ targetId: "pdf-interface", inputs: { title: "t" } });
// @ts-expect-error PdfInputs has no field `page`
manager.create<PdfInputs>({ targetId: "pdf-interface", inputs: { pages: 1, page: 1 } });
// @ts-expect-error inputs are JSON: a Date is not
manager.create({ targetId: "pdf", inputs: { at: new Date() } });

// ---- reading snapshots back with the handler's types -----------------------------------------

async function reads(id: string): Promise<void> {
  // The brief's example.
  const e = await manager.wait<{ pages: number }, { url: string; pages: number }>(id);
  const url: string | undefined = e.result?.url;

  // Types taken from the handler itself.
  type In = Parameters<typeof thumbnail>[0];
  type Out = Awaited<ReturnType<typeof thumbnail>>;
  const t = await manager.wait<In, Out>(id);
  const format: "png" | undefined = t.result?.format;
  const width: number = t.inputs.width;

  // A handler that returned nothing has a null result.
  const n = await manager.wait<JsonValue, void>(id);
  const nothing: null | undefined = n.result;
  const stored: Stored<{ a: 1 } | undefined> = null;

  const status = manager.status<PdfInputs, PdfResult>(id);
  if (status?.status === "completed" && status.result) {
    const sizes: number[] = status.result.sizes;
    void sizes;
  }
  const cancelled: Execution<PdfInputs, PdfResult> = manager.cancel<PdfInputs, PdfResult>(id, "stop");
  const removed: Execution<PdfInputs, PdfResult> = manager.remove<PdfInputs, PdfResult>(id);
  const started: Execution<{ table: string }> = manager.start<{ table: string }>(id);
  const failed = manager.fail<{ table: string }>(id, "gone");
  const table: string = failed.inputs.table;

  // Untyped reads stay JSON values.
  const anyResult: JsonValue | undefined = (await manager.wait(id)).result;

  // @ts-expect-error the result may be absent (not completed)
  const surely: string = e.result.url;
  // @ts-expect-error the result has no field `size`
  e.result?.size;
  // @ts-expect-error inputs.pages is a number
  const pagesText: string = e.inputs.pages;
  // @ts-expect-error a plain snapshot's inputs are a JSON value, not an object with pages
  (await manager.wait(id)).inputs.pages;

  void [url, format, width, nothing, stored, cancelled, removed, started, table, anyResult, surely, pagesText];
}

// ---- list, pages and cursors ------------------------------------------------------------------

let page: Page<PdfInputs, PdfResult> = manager.list<PdfInputs, PdfResult>({ targetId: "pdf-interface" });
for (const item of page.items) {
  const pages: number = item.inputs.pages;
  const resultUrl: string | undefined = item.result?.url;
  void [pages, resultUrl];
}
while (page.hasNext) {
  const cursor: string = page.nextCursor;
  page = manager.list({ targetId: "pdf-interface", cursor });
}
const last: null = page.nextCursor;
const untypedPage: Page = manager.list();
const firstItem: Execution | undefined = untypedPage.items[0];

// @ts-expect-error nextCursor may be null when hasNext is not known
const cursorText: string = untypedPage.nextCursor;

// ---- tracked executions: complete checks its result -------------------------------------------

const job = manager.track({ targetId: "server-job", inputs: { table: "users" } });
const jobTable: string = job.inputs.table;
const completed = manager.complete(manager.start(job.id).id, { rows: 1000 });
const rows: number | undefined = completed.result?.rows;
const completedTyped = manager.complete<{ table: string }, { rows: number }>(job.id, { rows: 1 });
manager.complete(job.id);
manager.complete(job.id, null);

// @ts-expect-error complete takes JSON: a Map is not
manager.complete(job.id, new Map([["rows", 1]]));
// @ts-expect-error the result does not match the type given
manager.complete<JsonValue, { rows: number }>(job.id, { rows: "1" });

// ---- events -----------------------------------------------------------------------------------

const listener: Listener<PdfInputs, PdfResult> = (event: ExecutionEvent<PdfInputs, PdfResult>) => {
  if (event.type === "status" && event.execution.status === "completed") {
    const url: string | undefined = event.execution.result?.url;
    void url;
  }
};
const off: () => void = manager.subscribe(listener);
off();
manager.subscribe<PdfInputs, PdfResult>(({ execution }) => {
  const pages: number = execution.inputs.pages;
  void pages;
});
manager.subscribe(({ execution }) => {
  const inputs: JsonValue = execution.inputs;
  void inputs;
});

// ---- generic code of one's own declares the same bounds as the methods it calls ------------

function registerAll<I extends HandlerInputs<I>, R extends HandlerReturn<R>>(ids: string[], handler: Handler<I, R>) {
  for (const id of ids) manager.register(id, handler);
}
registerAll(["a", "b"], async (inputs: { n: number }) => ({ n: inputs.n }));
async function run<I extends JsonCompatible<I>, R>(targetId: string, inputs: I): Promise<Execution<I, R>> {
  const { id } = manager.create<I, R>({ targetId, inputs });
  return manager.wait<I, R>(id);
}
async function runSquare(): Promise<number | undefined> {
  const done = await run<{ n: number }, { square: number }>("square", { n: 3 });
  return done.result?.square;
}
// @ts-expect-error the bound carries through: a Date is not JSON-compatible
run("when", { at: new Date() });

// ---- JsonCompatible by itself -----------------------------------------------------------------

type Is<T, U extends T> = U;
type ResultOk = Is<JsonCompatible<PdfResult>, PdfResult>;
type TreeOk = Is<JsonCompatible<Tree>, Tree>;
type ValueOk = Is<JsonCompatible<JsonValue>, JsonValue>;
// @ts-expect-error a Date is not JSON-compatible
type DateNo = Is<JsonCompatible<Date>, Date>;

void [inferredPages, typedInputs, typedResult, plain, reads, last, firstItem, cursorText, jobTable, rows];
void [completedTyped, runSquare];
export type { DateNo, ResultOk, TreeOk, ValueOk };
