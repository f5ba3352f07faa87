// For signals.test.mjs (a child process: a long hot JS↔wasm loop): N executions, in batches of
// 10,000, all following one long-lived AbortSignal, each batch ended by another path (complete,
// cancel, fail, a handler's result; finished ones are evicted past maxFinished as they go).
// EventTarget's add/removeEventListener are counted (patched before the package loads, which takes
// them once), and getEventListeners reads the signal's listeners after each batch is created and
// after it ended. Run with --expose-gc: the JS heap is measured after a full GC once 10 % of the
// executions ran and at the end. Prints one JSON line:
//   { executions, batches, maxListeners, endListeners, addCalls, removeCalls, freedListeners,
//     held, heapMiB: [at 10 %, at the end] }
import { getEventListeners } from "node:events";

const counts = { add: 0, remove: 0 };
const add = EventTarget.prototype.addEventListener;
const remove = EventTarget.prototype.removeEventListener;
EventTarget.prototype.addEventListener = function (type, ...rest) {
  if (type === "abort") counts.add++;
  return Reflect.apply(add, this, [type, ...rest]);
};
EventTarget.prototype.removeEventListener = function (type, ...rest) {
  if (type === "abort") counts.remove++;
  return Reflect.apply(remove, this, [type, ...rest]);
};
const { ExecutionManager } = await import("execman");

const n = Number(process.argv[2] ?? 1_000_000);
const BATCH = 10_000;
const m = new ExecutionManager();
m.register("ok", () => 1);
const controller = new AbortController();
const signal = controller.signal;
const listeners = () => getEventListeners(signal, "abort").length;

let maxListeners = 0;
let batches = 0;
const heapMiB = [];
const heap = () => {
  globalThis.gc?.();
  globalThis.gc?.();
  return +(process.memoryUsage().heapUsed / 2 ** 20).toFixed(2);
};
for (let done = 0; done < n; done += BATCH) {
  const size = Math.min(BATCH, n - done);
  const path = batches % 4;
  const ids = new Array(size);
  for (let i = 0; i < size; i++) {
    ids[i] = path === 3 ? m.create({ targetId: "ok", signal }).id : m.track({ targetId: "x", signal }).id;
  }
  maxListeners = Math.max(maxListeners, listeners());
  if (path === 3) {
    await m.wait(ids[size - 1]);
  } else {
    for (let i = 0; i < size; i++) {
      const id = ids[i];
      if (path === 1) {
        m.cancel(id);
      } else {
        m.start(id);
        if (path === 0) m.complete(id);
        else m.fail(id, "no");
      }
    }
  }
  const left = listeners();
  if (left !== 0) throw new Error(`batch ${batches}: ${left} listeners left after every execution ended`);
  batches++;
  await new Promise((resolve) => setImmediate(resolve));
  if (done + size === Math.round(n / 10)) heapMiB.push(heap());
}
heapMiB.push(heap());

// free() with executions still following a signal removes the listener.
const f = new ExecutionManager();
const other = new AbortController();
for (let i = 0; i < 1000; i++) f.track({ targetId: "x", signal: other.signal });
f.free();
const freedListeners = getEventListeners(other.signal, "abort").length;

controller.abort(); // nothing follows it: nothing happens
console.log(
  JSON.stringify({
    executions: n,
    batches,
    maxListeners,
    endListeners: listeners(),
    addCalls: counts.add - 1, // the free() case's one
    removeCalls: counts.remove - 1,
    freedListeners,
    held: m.counts().total,
    heapMiB,
  }),
);
