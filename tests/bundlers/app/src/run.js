// What the app does with execman, on the page and in the worker alike: run one execution that
// reports progress, render each progress report, and check ExecutionError.
import { ExecutionError, ExecutionManager } from "execman";

/**
 * @param {(percent: number) => void} onProgress called with each progress percentage
 * @returns {Promise<object>} what the test checks
 */
export function runOnce(onProgress) {
  const manager = new ExecutionManager({ concurrency: 2 });
  manager.register("count", async (inputs, ctx) => {
    for (let i = 1; i <= inputs.steps; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      ctx.progress(i, inputs.steps, `step ${i}`);
    }
    return { counted: inputs.steps };
  });
  const percentages = [];
  manager.subscribe((event) => {
    if (event.type === "progress") {
      percentages.push(event.execution.progress.percentage);
      onProgress(event.execution.progress.percentage);
    }
  });
  let notFound = null;
  try {
    manager.start("no-such-execution");
  } catch (err) {
    notFound = { isClass: err instanceof ExecutionError, isError: err instanceof Error, code: err.code };
  }
  const { id } = manager.create({ targetId: "count", inputs: { steps: 4 } });
  return manager.wait(id).then((done) => ({
    status: done.status,
    result: done.result,
    progress: done.progress,
    percentages,
    notFound,
  }));
}
