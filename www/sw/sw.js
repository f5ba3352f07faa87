// The Service Worker that owns an ExecutionManager and answers /api/v1/* with manager.fetch().
// Registered by index.html as a module worker: register("./sw.js", { type: "module", scope: "./" }).
//
// A page it controls talks to it with plain fetch("/api/v1/executions", …): no server runs the
// routes. Everything that is not /api/v1/* on this origin goes to the network as usual.
//
// The manager lives in memory: when the browser stops an idle worker (Chromium: ~30 s without
// events), its executions are gone, and the next request starts a fresh, empty manager.

// "../../pkg" resolves to /pkg/ both when www/ is served at "/" (scripts/serve.mjs: /sw/sw.js)
// and when the repository is (/www/sw/sw.js): a URL cannot climb above the root.
import init, { ExecutionManager } from "../../pkg/web/execman.js";
import { SW_TARGETS, registerTargets } from "../targets.js";

const API_PREFIX = "/api/v1/";
/** Added to every answer, so a page (and the tests) can tell it came from this worker. */
const SERVED_BY = "execman-sw";

let manager;

// Service workers may not use top-level await: start loading the wasm now and keep the promise.
// A fetch event that arrives before it settles waits for it.
const ready = init().then(() => {
  manager = new ExecutionManager({ maxFinished: 1000 });
  // countdown, hold and flaky: simulated, with bounded inputs (../targets.js).
  registerTargets(manager, { targets: SW_TARGETS });
});
ready.catch((err) => console.error("execman service worker: init() failed", err));

self.addEventListener("install", (event) => {
  // Activate at once instead of waiting for every tab of the previous version to close, and
  // have the wasm loaded before we do.
  event.waitUntil(ready.then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  // Control the pages already open (the one that registered us included) without a reload.
  event.waitUntil(self.clients.claim());
});

// A page loaded with a hard reload (Shift+Reload) is not controlled, and `activate` has already
// run: the page asks to be claimed.
self.addEventListener("message", (event) => {
  if (event.data?.type === "claim") event.waitUntil(self.clients.claim());
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (url.origin !== self.location.origin || !url.pathname.startsWith(API_PREFIX)) return; // network
  event.respondWith(answer(event.request));
});

/** manager.fetch() once the wasm is ready, tagged with `x-served-by`; 503 if init() failed. */
async function answer(request) {
  let response;
  try {
    await ready;
    response = await manager.fetch(request);
  } catch (err) {
    const message = `the execman service worker could not start: ${err?.message ?? err}`;
    response = Response.json({ error: { code: "UNAVAILABLE", message } }, { status: 503 });
  }
  response.headers.set("x-served-by", SERVED_BY);
  return response;
}
