"use strict";
// One hot loop of one call shape against the package, for v8-loops.test.mjs:
//   node v8-loops-child.cjs VARIANT ITERATIONS
// Exits 0 when the loop ran to its end. On Node 20.20.2 the shape "handle-post" made V8 abort in
// its deoptimizer (exit 133) within ~10,000 iterations when the package's ExecutionManager was
// wasm-bindgen's class itself; it must not with js/manager.js in front of the engine.
const { ExecutionManager } = require("execman");

const [variant, iterationsArg] = process.argv.slice(2);
const iterations = Number(iterationsArg);
const m = new ExecutionManager();
m.register("noop", () => 1);
m.track({ targetId: "x", id: "t" });

const shapes = {
  "handle-post": () => m.handle({ method: "POST", path: "/api/v1/executions", body: { targetId: "noop" } }).body.id,
  "handle-get": () => m.handle({ method: "GET", path: "/api/v1/executions/t" }).body.id,
  "handle-list": () => m.handle({ method: "GET", path: "/api/v1/executions", query: "page_size=2" }).body.total,
  status: () => m.status("t").id,
  list: () => m.list({ pageSize: 2 }).total,
  "create-cancel": () => m.cancel(m.create({ targetId: "noop" }).id).status,
  fetch: async () => (await (await m.fetch(new Request("http://x/api/v1/executions/t"))).json()).id,
};

const shape = shapes[variant];
if (shape === undefined) {
  console.error(`unknown variant ${variant}`);
  process.exit(2);
}
(async () => {
  for (let i = 1; i <= iterations; i++) {
    const r = shape();
    if (r instanceof Promise) await r;
    if (i % 1000 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  console.log(`${variant}: ${iterations} iterations`);
})();
