// The ESM entry (`import` condition: index.d.mts) under node16/nodenext, checked like the CommonJS
// one (cjs.cts): the class, the error class as a value, and a typed handler, with top-level await.
import { ExecutionError, ExecutionManager } from "execman";
import type { ErrorCode, Execution } from "execman";

const manager = new ExecutionManager({ concurrency: 1 });
manager.register("square", (inputs: { n: number }) => ({ square: inputs.n * inputs.n }));
const { id } = manager.create<{ n: number }>({ targetId: "square", inputs: { n: 3 } });
const done: Execution<{ n: number }, { square: number }> = await manager.wait(id);
const square: number | undefined = done.result?.square;

try {
  manager.remove("nope");
} catch (e) {
  if (e instanceof ExecutionError) {
    const code: ErrorCode = e.code;
    void code;
  }
}

// @ts-expect-error n is a number
manager.create<{ n: number }>({ targetId: "square", inputs: { n: "3" } });
// @ts-expect-error a Date is not JSON-compatible
manager.register("when", async () => new Date());

export { square };
