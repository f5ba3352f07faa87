// execman with its .wasm inlined: the package's "execman-inline" export condition, for bundlers that
// do not copy assets named by `new URL(..., import.meta.url)` (esbuild, Rollup). One option selects
// it (esbuild `--conditions=execman-inline`, Rollup `nodeResolve({ exportConditions: ["execman-inline"] })`)
// and the app needs no init call and no copied file (pkg/web/inline.js).
//
// The bytes travel as base64 in wasm_inline.js and are compiled synchronously, so this module has
// no top-level await either (see browser.js).

import { Engine, initSync } from "./execman_core.js";
import { wrap } from "./manager.js";
import base64 from "./wasm_inline.js";

export { ExecutionError, memoryStore } from "./manager.js";
export { indexedDBStore } from "./indexeddb-store.js";

initSync({ module: decode(base64) });

export const ExecutionManager = wrap(Engine);

/**
 * @param {string} text base64
 * @returns {Uint8Array}
 */
function decode(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
