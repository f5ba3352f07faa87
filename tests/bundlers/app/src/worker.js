// The module worker: the same execution, its progress posted to the page.
import { runOnce } from "./run.js";

runOnce((percent) => postMessage({ type: "progress", percent })).then((outcome) =>
  postMessage({ type: "done", outcome }),
);
