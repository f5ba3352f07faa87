// `npm run demo -- --durable` (scripts/demo-durable.mjs, without the build step): the first process
// kills itself with SIGKILL mid-run, the second one reopens the store, finds interrupted, retried,
// pending and tracked executions as the demo expects (it checks them itself), and runs the rest.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { test } from "../helpers.mjs";

const DEMO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../scripts/demo-durable.mjs");

test(
  "the durable demo: a process killed with SIGKILL, its store reopened by the next",
  () => {
    const run = spawnSync(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `import(${JSON.stringify(pathToFileURL(DEMO).href)}).then((m) => m.runDurableDemo())`,
      ],
      { encoding: "utf8" },
    );
    assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /kill -KILL \d+ \(no close, no flush\)/);
    assert.match(run.stdout, /the first process was killed \(SIGKILL\)/);
    assert.match(run.stdout, /interrupted, pending a retry: {2}export-1, export-2/);
    assert.match(run.stdout, /the store kept everything the killed process had/);
  },
  { timeout: 60_000 },
);
