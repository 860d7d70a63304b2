/**
 * Batch handlers: `queue.process(batchHandler, { batch: { size, maxWaitMs } })` hands up to `size`
 * jobs to one handler call and takes a result or an error per job back. Every job still runs
 * through the executor on its own (its lease, heartbeats, timeout, cancellation, and its own
 * complete or fail), so each is acked, retried or dead-lettered on its own; only the handler call
 * is shared. The collector here turns the batch handler into a per-job handler: a job waits until
 * `size` jobs wait or `maxWaitMs` passed since the first of them, then the batch goes out.
 *
 * @module
 */

import type { Clock, TimerHandle } from "./clock.ts";
import type { BatchHandler, BatchOptions, Handler, Job, JobContext } from "./types.ts";

/** One job waiting for its batch: what the handler gets, and how its own outcome is told. */
interface Waiting<T, R> {
  readonly job: Job<T, R>;
  readonly ctx: JobContext;
  readonly resolve: (value: R) => void;
  readonly reject: (error: unknown) => void;
}

/** Checks batch options; returns them with their defaults. */
export function batchOptions(options: BatchOptions): Required<BatchOptions> {
  if (options === null || typeof options !== "object") {
    throw new TypeError("Invalid worker option batch: expected { size, maxWaitMs }");
  }
  const size = options.size;
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`Invalid worker option batch.size: expected an integer >= 1, got ${size}`);
  }
  const maxWaitMs = options.maxWaitMs ?? 0;
  if (!Number.isFinite(maxWaitMs) || maxWaitMs < 0) {
    throw new RangeError(`Invalid worker option batch.maxWaitMs: expected a number >= 0, got ${maxWaitMs}`);
  }
  return { size, maxWaitMs };
}

/**
 * The per-job handler that collects jobs into batches for `handler`. Each element of what the
 * batch handler returns is that job's result, or, when it is an `Error`, that job's failure; a
 * throw fails every job of the batch; an array of the wrong length fails them with a `TypeError`.
 *
 * @example
 * ```ts
 * import { batching } from "./batch.ts";
 * import { systemClock } from "./clock.ts";
 * const perJob = batching<number, number>((jobs) => jobs.map((j) => j.data * 2), { size: 2, maxWaitMs: 0 }, systemClock);
 * const ctx = {} as never;
 * const job = (n: number) => ({ data: n }) as never;
 * console.log(await Promise.all([perJob(job(1), ctx), perJob(job(2), ctx)])); // [2, 4]
 * ```
 */
export function batching<T, R>(
  handler: BatchHandler<T, R>,
  options: Required<BatchOptions>,
  clock: Clock,
): Handler<T, R> {
  let waiting: Waiting<T, R>[] = [];
  let timer: TimerHandle | undefined;
  const flush = () => {
    if (timer !== undefined) clock.clearTimer(timer);
    timer = undefined;
    const batch = waiting;
    waiting = [];
    if (batch.length) void run(batch);
  };
  const run = async (batch: Waiting<T, R>[]) => {
    let out: readonly (R | Error)[];
    try {
      out = await handler(batch.map((w) => w.job), batch.map((w) => w.ctx));
    } catch (e) {
      for (const w of batch) w.reject(e);
      return;
    }
    if (!Array.isArray(out) || out.length !== batch.length) {
      const got = Array.isArray(out) ? `${out.length} results` : typeof out;
      const e = new TypeError(
        `A batch handler must return one result or Error per job: ${batch.length} jobs, got ${got}`,
      );
      for (const w of batch) w.reject(e);
      return;
    }
    batch.forEach((w, i) => {
      const r = out[i];
      if (r instanceof Error) w.reject(r);
      else w.resolve(r);
    });
  };
  return (job, ctx) =>
    new Promise<R>((resolve, reject) => {
      waiting.push({ job, ctx, resolve, reject });
      if (waiting.length >= options.size) flush();
      else if (timer === undefined) timer = clock.setTimer(flush, options.maxWaitMs);
    });
}
