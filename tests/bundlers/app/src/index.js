// The page: runs an execution here and another one in a module worker, and shows both.
import { runOnce } from "./run.js";

const text = (id, value) => {
  document.getElementById(id).textContent = value;
};

const page = runOnce((percent) => {
  document.getElementById("page-progress").value = percent;
  text("page-percent", `${percent}%`);
}).then((outcome) => {
  text("page-status", outcome.status);
  return outcome;
});

const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
const inWorker = new Promise((resolve, reject) => {
  const percentages = [];
  worker.onmessage = ({ data }) => {
    if (data.type === "progress") {
      percentages.push(data.percent);
      text("worker-percent", `${data.percent}%`);
    } else {
      text("worker-status", data.outcome.status);
      resolve({ ...data.outcome, seenByPage: percentages });
    }
  };
  worker.onerror = (event) => reject(new Error(`worker error: ${event.message}`));
});

window.outcome = Promise.all([page, inWorker]).then(([onPage, onWorker]) => ({ page: onPage, worker: onWorker }));
