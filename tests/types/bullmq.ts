// Typed usage of execman/bullmq (checked by tsc --noEmit).
import { ExecutionManager } from "execman";
import { enqueue, work, mirror, type EnqueueHandler, type Mirror, type WorkOptions } from "execman/bullmq";
import { Queue, type Worker } from "bullmq";

export async function cluster(): Promise<Mirror> {
  const connection = { host: "127.0.0.1", port: 6379 };
  const api = new ExecutionManager();
  const render: EnqueueHandler = enqueue(new Queue("render", { connection }));
  api.register("render", render, {
    type: "video",
    retry: { attempts: 3, backoff: { type: "exponential", delayMs: 100 } },
  });
  await render.ready();
  const queue: Queue = render.queue;
  void queue;

  const local = new ExecutionManager();
  local.register("render", async (inputs: { clip: string }, { progress, attempt, signal }) => {
    progress(1, 2, inputs.clip);
    signal.throwIfAborted();
    return { ok: attempt > 0 };
  });
  const options: WorkOptions = { connection, concurrency: 4, lockDuration: 2000 };
  const worker: Worker = work(local, "render", options);
  // @ts-expect-error a connection is required
  work(local, "render", { concurrency: 4 });
  await worker.close();
  await render.close();
  return mirror(api, new Queue("emails", { connection }), { idPrefix: "emails:" });
}
