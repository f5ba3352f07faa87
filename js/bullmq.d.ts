import type { ConnectionOptions, Queue, Worker, WorkerOptions } from "bullmq";

/** What `work` and `mirror` need of a manager (an `ExecutionManager` of execman). */
export interface ManagerLike {
  register(targetId: string, handler: never, options?: never): void;
}

/**
 * What `enqueue(queue)` returns: a handler for `manager.register(targetId, …)` whose executions
 * run as jobs of `queue` on BullMQ workers (it is never called here).
 */
export interface EnqueueHandler {
  (inputs: unknown, ctx: unknown): never;
  /** The queue its jobs are added to. */
  readonly queue: Queue;
  /** Resolves once every manager it is registered on follows the queue's events. */
  ready(): Promise<void>;
  /** Stops following the queue's events (the jobs go on). */
  close(): Promise<void>;
}

/** `work()`'s options: BullMQ `WorkerOptions` (`connection` required; `concurrency` default 1). */
export type WorkOptions = WorkerOptions & { connection: ConnectionOptions };

/** `mirror()`'s options. */
export interface MirrorOptions {
  /** Put before each job id to make the execution's id; default "". */
  idPrefix?: string;
}

/** A queue being mirrored. */
export interface Mirror {
  /** Stops following the queue (the executions stay). */
  close(): Promise<void>;
}

/**
 * A target whose executions run as BullMQ jobs of `queue`: `create` adds a job (job id = execution
 * id, data = inputs, name = targetId; priority, delay and retry policy as its options) and the
 * execution follows it wherever it runs; `cancel` removes a waiting or delayed job and aborts the
 * handler of a running one whose worker is `work()`.
 * @example
 * manager.register("render", enqueue(new Queue("render", { connection })));
 */
export function enqueue(queue: Queue): EnqueueHandler;

/**
 * A BullMQ Worker of `queueName` running each job through the handler `manager` registered for the
 * job's name, with the usual ctx; a cancel made on any machine aborts the handler's signal.
 * @example
 * const worker = work(manager, "render", { connection, concurrency: 4 });
 */
export function work(manager: ManagerLike, queueName: string, options: WorkOptions): Worker;

/**
 * Tracks the jobs of `queue` that execman did not enqueue as tracked executions (targetId = queue
 * name, type = job name, inputs = job data), the existing ones first, then live.
 * @example
 * const m = await mirror(manager, new Queue("emails", { connection }), { idPrefix: "emails:" });
 */
export function mirror(manager: ManagerLike, queue: Queue, options?: MirrorOptions): Promise<Mirror>;
