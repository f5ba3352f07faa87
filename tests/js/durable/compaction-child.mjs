// Runs n tracked executions to the end on a durable manager with a small maxFinished, flushing as
// it goes, and prints the largest size the store file reached, its final size, and the JSON size
// of what is held at the end (durable.test.mjs).
//   node compaction-child.mjs <file> <n> <maxFinished>
import fs from "node:fs";
import { ExecutionManager, fileStore } from "execman";

const [file, n, maxFinished] = process.argv.slice(2);
const m = await ExecutionManager.open({ store: fileStore(file), maxFinished: Number(maxFinished) });
let largest = 0;
for (let i = 0; i < Number(n); i++) {
  const { id } = m.track({ targetId: "remote", inputs: { i, text: `item ${i}` } });
  m.start(id);
  m.reportProgress(id, 1, 2, "half");
  m.complete(id, { i });
  if (i % 100 === 99) {
    await m.flush();
    largest = Math.max(largest, fs.statSync(file).size);
  }
}
const json = JSON.stringify(m.list({ pageSize: 1000 }).items).length;
const held = m.counts().total;
await m.close();
const final = fs.statSync(file).size;
process.stdout.write(JSON.stringify({ largest: Math.max(largest, final), final, json, held }));
