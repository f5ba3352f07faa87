// Typed usage of durable managers (ExecutionManager.open, flush, close, memoryStore, OpenOptions,
// Store), checked by `tsc --noEmit -p tests/types` under every resolution; each `@ts-expect-error`
// line proves a mistake is caught. (fileStore is Node's and indexedDBStore the web build's: the
// web one is used in web.mts.)
import { ExecutionManager, memoryStore } from "execman";
import type { OpenOptions, Store } from "execman";

async function durable(): Promise<number> {
  const store: Store = memoryStore();
  const options: OpenOptions = { store, concurrency: 4, maxFinished: 1000, flushMs: 50 };
  const manager: ExecutionManager = await ExecutionManager.open(options);
  manager.register("export", async (inputs: { rows: number }) => ({ rows: inputs.rows }));
  manager.create<{ rows: number }>({ targetId: "export", inputs: { rows: 3 } });
  const flushed: Promise<void> = manager.flush();
  await flushed;
  const closed: Promise<void> = manager.close();
  await closed;
  // @ts-expect-error a store is required
  await ExecutionManager.open({ concurrency: 2 });
  // @ts-expect-error flushMs is a number
  await ExecutionManager.open({ store, flushMs: "10" });
  // @ts-expect-error a plain object is not a store
  const notAStore: Store = { path: "jobs.store" };
  return notAStore === store ? 1 : 0;
}

export { durable };
