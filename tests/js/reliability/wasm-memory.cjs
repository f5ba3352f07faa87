"use strict";
// The package with its wasm memory in reach, for the tests that measure it (fill, leak): the
// package does not expose its memory, so its instance is captured while it instantiates.
//   const { execman, memory } = loadWithMemory();   // memory: the WebAssembly.Memory

/** `require("execman")`, and the memory of the wasm instance it made. */
function loadWithMemory() {
  const instances = [];
  const RealInstance = WebAssembly.Instance;
  WebAssembly.Instance = function Instance(module, imports) {
    const instance = new RealInstance(module, imports);
    instances.push(instance);
    return instance;
  };
  let execman;
  try {
    execman = require("execman");
  } finally {
    WebAssembly.Instance = RealInstance;
  }
  const memory = Object.values(instances[0]?.exports ?? {}).find((x) => x instanceof WebAssembly.Memory);
  return { execman, memory };
}

module.exports = { loadWithMemory };
