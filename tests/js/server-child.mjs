// The server of the stalled-bodies test in tests/js/server-hardening.test.mjs, in its own process
// so that its memory is its own (not a test file: node --test picks up *.test.* only).
//
//   fork("server-child.mjs", [JSON.stringify(serveOptions)])
//
// Sends { port } once listening. Over IPC, "memory" answers { memory: process.memoryUsage(),
// maxRss: the peak RSS so far in bytes, counts: manager.counts() } (after a full GC when run with
// --expose-gc); the process ends when its parent disconnects.
import { ExecutionManager } from "execman";
import { serve } from "execman/server";

const options = JSON.parse(process.argv[2] ?? "{}");
const manager = new ExecutionManager();
manager.register("echo", async (inputs) => inputs);
const served = await serve({ manager, ...options });

process.on("message", async (message) => {
  if (message !== "memory") return;
  // Two full GCs a moment apart: V8 frees the memory of dead ArrayBuffers after a GC, not in it.
  globalThis.gc?.();
  await new Promise((resolve) => setTimeout(resolve, 50));
  globalThis.gc?.();
  const maxRss = process.resourceUsage().maxRSS * 1024;
  process.send({ memory: process.memoryUsage(), maxRss, counts: manager.counts() });
});
process.on("disconnect", () => {
  served.close().finally(() => process.exit(0));
});
process.send({ port: served.port });
