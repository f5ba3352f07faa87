// What the typed usage checks (tests/types/, compiled by scripts/test.sh) rely on staying true:
// the README's TypeScript examples are the ones compiled, verbatim, and the declared error codes
// are the engine's.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "./helpers.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const read = (rel) => fs.readFileSync(path.join(ROOT, rel), "utf8");

test("every ```ts example of README.md is compiled verbatim by a tests/types/readme-*.mts file", () => {
  const blocks = [...read("README.md").matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
  assert.ok(
    blocks.length >= 4,
    `README.md has ${blocks.length} \`\`\`ts blocks, expected the usage and TypeScript ones`,
  );
  const dir = path.join(ROOT, "tests", "types");
  const files = fs.readdirSync(dir).filter((f) => /^readme-.*\.mts$/.test(f));
  assert.ok(files.length > 0, "no tests/types/readme-*.mts");
  const compiled = files.map((f) => fs.readFileSync(path.join(dir, f), "utf8"));
  for (const block of blocks) {
    const first = block.split("\n", 1)[0];
    assert.ok(
      compiled.some((text) => text.includes(block)),
      `README.md's example starting \`${first}\` is not in tests/types/readme-*.mts as written`,
    );
  }
});

test("the declared ErrorCode union is the engine's codes, and STORE_ERROR", () => {
  const engine = new Set([...read("src/core/error.rs").matchAll(/=> "([A-Z_]+)",/g)].map((m) => m[1]));
  assert.ok(engine.has("NOT_FOUND") && engine.size >= 6, `codes read from src/core/error.rs: ${[...engine]}`);
  const union = /export type ErrorCode =([^;]*);/.exec(read("js/types.d.ts"));
  assert.ok(union, "js/types.d.ts declares ErrorCode");
  const declared = new Set([...union[1].matchAll(/"([A-Z_]+)"/g)].map((m) => m[1]));
  assert.deepEqual([...declared].sort(), [...new Set([...engine, "STORE_ERROR"])].sort());
});
