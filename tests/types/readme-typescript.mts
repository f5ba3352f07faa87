// The TypeScript example of README.md, verbatim (tests/js/readme-types.test.mjs checks), compiled
// under `strict`: it must need no cast.

import { ExecutionError, ExecutionManager } from "execman";
import type { HandlerContext } from "execman";

interface ReportInputs { month: string; pages?: number }
interface Report { url: string; pages: number }

async function report(inputs: ReportInputs, ctx: HandlerContext): Promise<Report> {
  const pages = inputs.pages ?? 12;
  ctx.progress(0, pages, inputs.month);
  return { url: `/reports/${inputs.month}.pdf`, pages };
}

const manager = new ExecutionManager();
manager.register("report", report);           // ReportInputs and Report, from the handler

const exec = manager.create<ReportInputs>({ targetId: "report", inputs: { month: "2026-05" } });
const done = await manager.wait<ReportInputs, Report>(exec.id);
if (done.status === "completed") console.log(done.result?.url, done.inputs.month);

try {
  manager.cancel(exec.id);
} catch (e) {
  if (!(e instanceof ExecutionError)) throw e;
  if (e.code !== "INVALID_TRANSITION") throw e; // e.code is ErrorCode: "INVALID_TRANSITON" would not compile
}

export { done };
