// Typed use of outside signals, watch() and subscribe options: `tsc --noEmit -p tests/types` must
// accept every line here, and each `@ts-expect-error` line must be an error.
import { ExecutionManager } from "execman";
import type { Execution, ExecutionWatch, SubscribeOptions, WaitOptions } from "execman";

const manager = new ExecutionManager();
const controller = new AbortController();

const created: Execution = manager.create({ targetId: "export", signal: controller.signal });
const tracked: Execution = manager.track({ targetId: "job", signal: AbortSignal.timeout(1000) });

const options: WaitOptions = { signal: controller.signal };
const waited: Promise<Execution> = manager.wait(created.id, options);

async function row(id: string, signal?: AbortSignal): Promise<string | undefined> {
  let last: string | undefined;
  for await (const e of manager.watch(id, { signal })) {
    const status: Execution["status"] = e.status;
    const percent: number | null | undefined = e.progress?.percentage;
    last = `${status} ${percent ?? 0}`;
  }
  return last;
}

async function manual(): Promise<void> {
  const it: ExecutionWatch = manager.watch(tracked.id);
  const first = await it.next();
  if (!first.done) {
    const snapshot: Execution = first.value;
    void snapshot;
  }
  const ended: IteratorReturnResult<undefined> = await it.return();
  void ended;
}

const filter: SubscribeOptions = { id: created.id, targetId: "export", type: ["batch", "task"], throttleMs: 100 };
const off: () => void = manager.subscribe(({ type, execution }) => void [type, execution.progress], filter);
manager.subscribe(() => {}, { type: "batch" });
off();

// @ts-expect-error a signal is an AbortSignal, not an AbortController
manager.create({ targetId: "export", signal: controller });

// @ts-expect-error wait options take a signal only as an AbortSignal
manager.wait(created.id, { signal: "soon" });

// @ts-expect-error throttleMs is a number
manager.subscribe(() => {}, { throttleMs: "100" });

// @ts-expect-error type is a string or an array of strings
manager.subscribe(() => {}, { type: 5 });

async function wrong(): Promise<void> {
  for await (const text of manager.watch("x")) {
    // @ts-expect-error watch yields Executions, not strings
    const s: string = text;
    void s;
  }
}

void [waited, row, manual, wrong];
