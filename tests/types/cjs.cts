// The CommonJS entry (`require` condition: node/execman.d.ts), as `import x = require()` and as
// named imports (which a CommonJS file compiles to `require`).
import execman = require("execman");
import { ExecutionError, ExecutionManager } from "execman";

const manager = new execman.ExecutionManager();
manager.register("square", (inputs: { n: number }) => ({ square: inputs.n * inputs.n }));
const other = new ExecutionManager({ maxFinished: 10 });

async function run(): Promise<number | undefined> {
  const { id } = manager.create<{ n: number }>({ targetId: "square", inputs: { n: 3 } });
  const done: execman.Execution<{ n: number }, { square: number }> = await manager.wait(id);
  return done.result?.square;
}

function codeOf(e: unknown): execman.ErrorCode | undefined {
  if (e instanceof execman.ExecutionError) return e.code;
  if (e instanceof ExecutionError && e.code === "NOT_FOUND") return e.code;
  return undefined;
}

// @ts-expect-error n is a number
manager.create<{ n: number }>({ targetId: "square", inputs: { n: "3" } });
// @ts-expect-error a Map is not JSON-compatible
manager.register("map", () => new Map());
// @ts-expect-error "MISSING" is not an ErrorCode
const wrong: execman.ErrorCode = "MISSING";

export = { run, codeOf, other, wrong };
