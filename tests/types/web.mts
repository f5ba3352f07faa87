// The web entry (`execman/web`, for pages without a bundler): the same declarations, after
// `await init()`.
import init, { ExecutionError, ExecutionManager } from "execman/web";

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

export { isMissing, n };
