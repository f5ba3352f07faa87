// Rollup finds npm packages through its resolve plugin; its one option here picks execman's
// "execman-inline" entry (the .wasm inlined), since Rollup does not copy assets named by
// `new URL(..., import.meta.url)`.
import { nodeResolve } from "@rollup/plugin-node-resolve";

export default {
  input: { index: "src/index.js", worker: "src/worker.js" },
  output: { dir: "dist", format: "es", entryFileNames: "[name].js" },
  plugins: [nodeResolve({ exportConditions: ["execman-inline"] })],
};
