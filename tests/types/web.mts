// The web entry (`execman/web`, for pages without a bundler): the same declarations, after
// `await init()`.
import init, { ExecutionError, ExecutionManager, indexedDBStore, memoryStore } from "execman/web";

await init();
const manager = new ExecutionManager();
manager.register("double", (inputs: { n: number }) => ({ n: inputs.n * 2 }));
const { id } = manager.create<{ n: number }>({ targetId: "double", inputs: { n: 2 } });
const done = await manager.wait<{ n: number }, { n: number }>(id);
const n: number | undefined = done.result?.n;

function isMissing(e: unknown): boolean {
  return e instanceof ExecutionError && e.code === "NOT_FOUND";
}

// @ts-expect-error a function is not JSON-compatible
manager.register("callback", () => ({ onDone: () => 1 }));

// Durable managers in the browser: an IndexedDB database, or memory.
const durable = await ExecutionManager.open({ store: indexedDBStore("jobs"), flushMs: 0 });
await durable.flush();
await durable.close();
await (await ExecutionManager.open({ store: memoryStore() })).close();
// @ts-expect-error the database's name is a string
indexedDBStore(42);

export { isMissing, n };
