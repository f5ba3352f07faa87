// execman for browser apps and workers built by a bundler: the package's "browser" export
// condition, so `import { ExecutionManager } from "execman"` needs no init call (pkg/web/browser.js).
//
// The .wasm is named by `new URL("../execman_bg.wasm", import.meta.url)`, the form Vite and webpack 5
// turn into an emitted asset with no configuration. It is fetched and compiled synchronously, so this
// module has no top-level await: a module that awaits at its top level cannot be bundled into Vite's
// default worker format (a classic script), and makes every module that imports it asynchronous.
// The cost is one blocking request for the (cached) .wasm while the app's modules are evaluated.
// Pages that would rather load it asynchronously use `execman/web` and `await init()`.

import { Engine, initSync } from "./execman_core.js";
import { wrap } from "./manager.js";

export { ExecutionError, memoryStore } from "./manager.js";
export { indexedDBStore } from "./indexeddb-store.js";

initSync({ module: loadWasm(new URL("../execman_bg.wasm", import.meta.url)) });

export const ExecutionManager = wrap(Engine);

/**
 * The bytes at `url`, read synchronously.
 * @param {URL} url
 * @returns {Uint8Array}
 */
function loadWasm(url) {
  if (typeof XMLHttpRequest !== "function") {
    throw new Error(
      'execman: this runtime has no XMLHttpRequest to load execman_bg.wasm synchronously (a Service Worker?): import from "execman/web" and call `await init()` instead',
    );
  }
  const request = new XMLHttpRequest();
  request.open("GET", url.href, false);
  // A document may not set a responseType on a synchronous request: read the body as text with a
  // one-byte charset and take each char code's low byte.
  request.overrideMimeType("text/plain; charset=x-user-defined");
  request.send();
  if (request.status !== 0 && (request.status < 200 || request.status > 299)) {
    throw new Error(`execman: could not load ${url.href}: HTTP ${request.status}`);
  }
  const text = request.responseText;
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i) & 0xff;
  return bytes;
}
