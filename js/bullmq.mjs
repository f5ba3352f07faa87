// ESM entry of execman/bullmq.
import bullmq from "./bullmq.cjs";

export const enqueue = bullmq.enqueue;
export const work = bullmq.work;
export const mirror = bullmq.mirror;
