// Run under `ulimit -f 64` (durable.test.mjs): writes past 64 KiB fail with EFBIG. Makes changes
// and flushes until a flush rejects, checks the manager still works, prints a report.
//   node full-child.mjs <file>
import { ExecutionManager, fileStore } from "execman";

// The kernel sends SIGXFSZ with the failed write; handled, the write just fails (EFBIG).
process.on("SIGXFSZ", () => {});
const [file] = process.argv.slice(2);
const m = await ExecutionManager.open({ store: fileStore(file), maxFinished: 1_000_000 });
let flushed = 0;
let error = null;
let i = 0;
while (error === null && i < 100_000) {
  m.track({ targetId: "remote", id: `x${i}`, inputs: { pad: "p".repeat(200) } });
  i++;
  if (i % 20 === 0) {
    try {
      await m.flush();
      flushed = i;
    } catch (err) {
      error = err;
    }
  }
}
// The manager goes on: it still holds every execution and takes changes.
let stillWorks = m.counts().total === i && m.status(`x${i - 1}`) !== undefined;
m.start("x0");
m.complete("x0", "done");
stillWorks &&= m.status("x0").status === "completed";
// The next flush tries again, and fails again (the limit is still there).
let again = null;
try {
  await m.flush();
} catch (err) {
  again = err.code;
}
stillWorks &&= again === "STORE_ERROR";
m.free();
process.stdout.write(JSON.stringify({ code: error?.code, message: error?.message, flushed, held: i, stillWorks }));
