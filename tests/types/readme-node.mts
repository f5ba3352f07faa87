// The Node.js, "Work that runs elsewhere" and "Listing" examples of README.md, verbatim (so
// tests/js/readme-types.test.mjs checks), compiled under `strict`: they must need no cast.
// What the README leaves to the reader is declared first.
declare function renderPage(page: number): Promise<void>;

import { ExecutionManager } from "execman";   // no init call
// CommonJS: const { ExecutionManager } = require("execman");   (or require("<repo>/pkg"))

const manager = new ExecutionManager({ concurrency: 4, maxFinished: 1000 });

manager.register("export", async (inputs: { pages: number }, { signal, progress }) => {
  for (let i = 1; i <= inputs.pages; i++) {
    signal.throwIfAborted();
    await renderPage(i);
    progress(i, inputs.pages, `page ${i}`);
  }
  return { url: "/exports/42.pdf" };
}, { type: "batch" });

const exec = manager.create({ targetId: "export", inputs: { pages: 10 }, config: { timeoutMs: 60_000 } });
manager.status(exec.id)?.status;          // "pending" (the handler starts in a later microtask)
const off = manager.subscribe(({ type, execution }) => console.log(type, execution.status));
const done = await manager.wait(exec.id); // resolves for completed, failed and cancelled alike
off();

const job = manager.track({ targetId: "server-job", inputs: { table: "users" } });
manager.start(job.id);
manager.reportProgress(job.id, 300, 1000, "rows copied");
manager.complete(job.id, { rows: 1000 });        // or manager.fail(job.id, new Error("disk full"))

let page = manager.list({ status: ["running", "pending"], type: "batch", pageSize: 50 });
while (page.hasNext) {
  page = manager.list({ status: ["running", "pending"], type: "batch", pageSize: 50, cursor: page.nextCursor });
}
manager.counts(); // { pending, running, completed, failed, cancelled, total }

export { done };
