// Typed usage of the scheduling fields (priority, delayMs/runAt, retry, ctx.attempt and the
// snapshot fields), checked by `tsc --noEmit -p tests/types`; each `@ts-expect-error` line proves
// a mistake is caught.
import { ExecutionManager } from "execman";
import type { Backoff, Execution, RetryPolicy } from "execman";

const manager = new ExecutionManager({ concurrency: 4 });
const policy: RetryPolicy = {
  attempts: 5,
  backoff: { type: "exponential", delayMs: 500, maxDelayMs: 10_000, jitter: 0.2 },
};
const fixed: Backoff = { delayMs: 100 };

manager.register(
  "upload",
  async (inputs, ctx) => {
    const attempt: number = ctx.attempt;
    if (attempt < 3) throw Object.assign(new Error("again"), { retryable: true });
    return { attempt };
  },
  { type: "io", retry: policy },
);

const first: Execution = manager.create({ targetId: "upload", priority: 10, retry: { attempts: 2, backoff: fixed } });
const later: Execution = manager.create({ targetId: "upload", delayMs: 60_000 });
const at: Execution = manager.create({ targetId: "upload", runAt: Date.now() + 1000 });
const priority: number = first.priority;
const attempts: [number, number] = [first.attempt, first.maxAttempts];
const runAt: number | null = later.runAt;

// @ts-expect-error priority is a number
manager.create({ targetId: "upload", priority: "high" });

// @ts-expect-error the backoff type is "fixed" or "exponential"
manager.create({ targetId: "upload", retry: { attempts: 3, backoff: { type: "linear" } } });

// @ts-expect-error a retry policy needs its attempts
manager.register("x", () => null, { retry: { backoff: { delayMs: 1 } } });

// @ts-expect-error runAt may be null
const notNull: number = at.runAt;

void [priority, attempts, runAt, notNull];
