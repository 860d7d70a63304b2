/**
 * The queue: enqueue jobs, start workers, inspect and manage jobs. Built only on the AtomicKv
 * contract, so the same code runs on every store: transient on the memory store (fast, lost when
 * the process ends), durable on a durable store (a resolved `add` survives a crash).
 *
 * @module
 */

import type { AtomicKv } from "./kv.ts";
import { attachContext, createContext, type QueueContext } from "./context.ts";
import { Worker } from "./worker.ts";
import type { Counts, JobState } from "./job.ts";
import { QUEUE_EVENTS, type QueueEvent, type QueueEventType } from "./events.ts";
import { getJob, list } from "./job_store.ts";
import { add, addBulk } from "./producer.ts";
import { cancel, getJobByKey, isPaused, promote, redrive, redriveAll, remove, setPaused } from "./admin.ts";
import {
  claimExternal,
  completeExternal,
  failExternal,
  heartbeatExternal,
  releaseExternal,
} from "./external.ts";
import { clean } from "./maintenance/cleaner.ts";
import { runDue } from "./maintenance/run_due.ts";
import { sweepBlobs } from "./blobs.ts";
import { schedule, schedules, unschedule } from "./maintenance/schedules.ts";
import { result } from "./result.ts";
import type {
  AddedJob,
  AddOptions,
  BatchHandler,
  BatchOptions,
  ClaimedJob,
  ClaimOptions,
  FailOptions,
  Handler,
  HeartbeatOptions,
  Job,
  JobPage,
  ListOptions,
  Middleware,
  QueueOptions,
  RetentionRule,
  ScheduleInfo,
  ScheduleOptions,
  WorkerOptions,
} from "./types.ts";

export type { Counts } from "./job.ts";

/**
 * A named job queue on an AtomicKv store. Events (`completed`, `failed`, `retrying`, `dead`,
 * `stalled`, `canceled`, `error`) are dispatched on it as {@linkcode QueueEvent}s by the process that
 * made the change.
 *
 * @typeParam T The payload type: any JSON value or a `Uint8Array`.
 * @typeParam R The handler's result type (stored with the job).
 *
 * @example Add, process with a retry, shut down
 * ```ts
 * import { MemoryKv } from "../adapters/memory/mod.ts";
 * import { Queue } from "./queue.ts";
 * const queue = new Queue<{ n: number }, number>(new MemoryKv(), "math", { backoff: 10 });
 * let calls = 0;
 * const worker = queue.process((job) => {
 *   if (++calls === 1) throw new Error("flaky");
 *   return job.data.n * 2;
 * });
 * const job = await queue.add({ n: 21 });
 * console.log(await queue.result(job.id)); // 42
 * await worker.close();
 * ```
 */
export class Queue<T = unknown, R = unknown> extends EventTarget {
  /** The queue name. */
  readonly name: string;
  /** The store. */
  readonly kv: AtomicKv;
  readonly #ctx: QueueContext<T, R>;

  /**
   * Opens a queue (nothing is written until the first change).
   *
   * @param kv The store; several queues (and your own data) may share it.
   * @param name The queue name.
   * @param options See {@linkcode QueueOptions}.
   */
  constructor(kv: AtomicKv, name: string, options: QueueOptions = {}) {
    super();
    this.#ctx = createContext<T, R>(kv, name, options, this);
    attachContext(this, this.#ctx);
    this.name = name;
    this.kv = kv;
  }

  /**
   * Listens to one kind of event, typed; returns a function that stops listening. The same events are
   * dispatched through `addEventListener`.
   *
   * @param type `completed`, `failed`, `retrying`, `dead`, `stalled`, `canceled` or `error`.
   * @param listener Called with the {@linkcode QueueEvent}.
   * @returns A function that removes the listener.
   *
   * @example Log dead letters
   * ```ts
   * import { MemoryKv } from "../adapters/memory/mod.ts";
   * import { Queue } from "./queue.ts";
   * const queue = new Queue(new MemoryKv(), "q", { maxAttempts: 1 });
   * const dead = new Promise<string | undefined>((resolve) => {
   *   const off = queue.on("dead", (e) => {
   *     off();
   *     resolve(e.job?.reason);
   *   });
   * });
   * const worker = queue.process(() => {
   *   throw new Error("no");
   * });
   * await queue.add("x");
   * console.log(await dead); // "exhausted"
   * await worker.close();
   * ```
   */
  on(type: QueueEventType, listener: (event: QueueEvent<T, R>) => void): () => void {
    if (!QUEUE_EVENTS.includes(type)) {
      throw new TypeError(
        `Unknown queue event ${JSON.stringify(type)}, expected one of ${QUEUE_EVENTS.join(", ")}`,
      );
    }
    const wrapped = (e: Event) => listener(e as QueueEvent<T, R>);
    this.addEventListener(type, wrapped);
    return () => this.removeEventListener(type, wrapped);
  }

  /** True when the store is not durable (the memory store): jobs are lost when the process ends. */
  get transient(): boolean {
    return !this.kv.info.durable;
  }

  /**
   * Adds a job. Resolves once the store's commit resolved (durable when the store is). With `key`,
   * a second add returns the existing job with `created: false` and stores nothing. Concurrent adds
   * in one process share commits.
   *
   * @param data The payload: any JSON value or a `Uint8Array`; or a `ReadableStream` of bytes or a
   *   `Blob`, which go to the queue's blob store (`blobs` option) chunk by chunk, never whole in memory.
   *   Values above `blobs.threshold` go there too.
   * @param options See {@linkcode AddOptions}.
   * @returns The job, with `created`.
   * @throws {QueueFullError} When `maxQueued` is reached and overflow is `"reject"`.
   * @throws {LimitError} When the payload is over `maxPayloadBytes` (kind `"payloadBytes"`).
   * @throws {PayloadTooLargeError} When a payload for the blob store is over `blobs.maxBytes`.
   *
   * @example Delayed, prioritized, idempotent
   * ```ts
   * import { MemoryKv } from "../adapters/memory/mod.ts";
   * import { Queue } from "./queue.ts";
   * const queue = new Queue(new MemoryKv(), "mail");
   * const a = await queue.add({ to: "x@y.z" }, { key: "welcome:42", delay: 60_000, priority: 5 });
   * const b = await queue.add({ to: "x@y.z" }, { key: "welcome:42" });
   * console.log(a.state, a.id === b.id, b.created); // "scheduled" true false
   * ```
   */
  add(data: T | ReadableStream<Uint8Array> | Blob, options?: AddOptions): Promise<AddedJob<T, R>> {
    return add(this.#ctx, data as T, options);
  }

  /**
   * Adds many jobs in as few commits as the store's limits allow. Each commit is atomic; if one
   * fails, jobs of earlier commits stay stored.
   *
   * @param items The jobs.
   * @returns The jobs, in order.
   *
   * @example
   * ```ts
   * import { MemoryKv } from "../adapters/memory/mod.ts";
   * import { Queue } from "./queue.ts";
   * const queue = new Queue<number>(new MemoryKv(), "n");
   * const jobs = await queue.addBulk([1, 2, 3].map((data) => ({ data })));
   * console.log(jobs.length); // 3
   * ```
   */
  addBulk(items: readonly { data: T; options?: AddOptions }[]): Promise<AddedJob<T, R>[]> {
    return addBulk(this.#ctx, items);
  }

  /**
   * Starts a worker whose handler takes jobs in batches (see {@linkcode BatchHandler}).
   *
   * @param handler `(jobs, contexts) => results`: one result, or an `Error`, per job.
   * @param options Worker options with `batch: { size, maxWaitMs }`.
   * @returns The running worker.
   *
   * @example Write a batch of rows in one call, each job acked on its own
   * ```ts
   * import { MemoryKv } from "../adapters/memory/mod.ts";
   * import { Queue } from "./queue.ts";
   * const queue = new Queue<number, number>(new MemoryKv(), "rows");
   * const jobs = await queue.addBulk([1, 2, 3].map((data) => ({ data })));
   * const worker = queue.process((batch) => batch.map((j) => (j.data === 2 ? new Error("bad row") : j.data * 10)), {
   *   batch: { size: 3 },
   * });
   * console.log(await queue.result(jobs[0].id)); // 10
   * await worker.close();
   * ```
   */
  process(handler: BatchHandler<T, R>, options: WorkerOptions & { batch: BatchOptions }): Worker<T, R>;
  /**
   * Starts a worker that runs `handler` for each job.
   *
   * @param handler Returns the result (stored with the job) or throws (retry; `PermanentError`: dead).
   * @param options See {@linkcode WorkerOptions}.
   * @returns The running worker; `close()` it to stop.
   *
   * @example
   * ```ts
   * import { MemoryKv } from "../adapters/memory/mod.ts";
   * import { Queue } from "./queue.ts";
   * const queue = new Queue<string, string>(new MemoryKv(), "echo");
   * const worker = queue.process((job, ctx) => `${job.data} (attempt ${ctx.attempt})`, { concurrency: 8 });
   * const job = await queue.add("hi");
   * console.log(await queue.result(job.id)); // "hi (attempt 1)"
   * await worker.close();
   * ```
   */
  process(handler: Handler<T, R>, options?: WorkerOptions & { batch?: undefined }): Worker<T, R>;
  process(handler: Handler<T, R> | BatchHandler<T, R>, options?: WorkerOptions): Worker<T, R> {
    return new Worker<T, R>(this, handler as Handler<T, R>, options);
  }

  /**
   * Adds middleware around every handler call (first added runs outermost).
   *
   * @param middleware `(job, next, ctx) => Promise<result>`; call `next()` to go on.
   * @returns This queue.
   *
   * @example Time every job
   * ```ts
   * import { MemoryKv } from "../adapters/memory/mod.ts";
   * import { Queue } from "./queue.ts";
   * const queue = new Queue(new MemoryKv(), "timed");
   * queue.use(async (job, next) => {
   *   const started = Date.now();
   *   try {
   *     return await next();
   *   } finally {
   *     console.log(job.data, "took", Date.now() - started, "ms"); // "a took 0 ms" (or a few)
   *   }
   * });
   * const worker = queue.process(() => "done");
   * console.log(await queue.result((await queue.add("a")).id)); // "done"
   * await worker.close();
   * ```
   */
  use(middleware: Middleware<T, R>): this {
    if (typeof middleware !== "function") throw new TypeError("Invalid middleware: expected a function");
    this.#ctx.middleware.push(middleware);
    return this;
  }

  /**
   * Reads a job.
   *
   * @param id The job id.
   * @returns The job, or `null` when there is none.
   *
   * @example
   * ```ts
   * import { MemoryKv } from "../adapters/memory/mod.ts";
   * import { Queue } from "./queue.ts";
   * const queue = new Queue(new MemoryKv(), "q");
   * const { id } = await queue.add("hi");
   * console.log((await queue.getJob(id))?.state); // "ready"
   * ```
   */
  getJob(id: string): Promise<Job<T, R> | null> {
    return getJob(this.#ctx, id);
  }

  /**
   * Jobs per state: exact when no change is in flight. Read as the folded base plus one delta per
   * writer (each `Queue` object writes its own, in the same commits as its state changes), so no
   * key is written by every writer of the queue.
   *
   * @example
   * ```ts
   * import { MemoryKv } from "../adapters/memory/mod.ts";
   * import { Queue } from "./queue.ts";
   * const queue = new Queue(new MemoryKv(), "q");
   * await queue.add(1);
   * console.log((await queue.counts()).ready); // 1
   * ```
   */
  counts(): Promise<Counts> {
    return this.#ctx.committer.readCounts();
  }

  /**
   * Lists jobs in one state, a page at a time: `ready` in claim order, `active` by id (submission
   * order), the others by time (`runAt`, or when they ended). A job whose
   * payload chunks are damaged is listed with `data: undefined` (`getJob` throws `IntegrityError` for it).
   *
   * @param state The state.
   * @param options `limit` (default 100), `cursor` from the previous page, `reverse` for newest first.
   *
   * @example Page through dead letters
   * ```ts
   * import { MemoryKv } from "../adapters/memory/mod.ts";
   * import { Queue } from "./queue.ts";
   * const queue = new Queue(new MemoryKv(), "q");
   * await queue.addBulk([{ data: 1 }, { data: 2 }, { data: 3 }]);
   * let cursor: string | null = null;
   * const seen: unknown[] = [];
   * do {
   *   const page = await queue.list("ready", { limit: 2, cursor });
   *   for (const job of page.jobs) seen.push(job.data);
   *   cursor = page.cursor;
   * } while (cursor);
   * console.log(seen); // [1, 2, 3], two pages
   * ```
   */
  list(state: JobState, options?: ListOptions): Promise<JobPage<T, R>> {
    return list(this.#ctx, state, options);
  }

  /**
   * Claims jobs for a consumer that is not a `Worker` of this library (another process, another
   * language behind the HTTP sidecar, your own loop): each job is leased and returned with its lease
   * token. Nothing is kept in memory: the lease lives in the store, so any process (or a restarted
   * one) accepts the token. Renew the lease with {@linkcode Queue.heartbeat} before `leaseMs`
   * passes, then report with {@linkcode Queue.complete}, {@linkcode Queue.fail} or
   * {@linkcode Queue.release}. A lease that runs out is recovered by the healer (the attempt counts)
   * and its token stops working. Claims go through the same checked, batched commit as a worker's:
   * up to `limit` jobs in one commit (as the store's limits allow), in priority order, never one
   * job to two claimers, none while the queue is paused. Due delayed jobs are promoted and expired
   * leases healed (at most once per `pollInterval`) on the way, so no worker has to run. Payloads
   * are verified as for workers: a job that fails the check goes to `dead` and is not handed out.
   * Canceling a job under such a lease ends it `canceled` at once (no handler here to abort); its
   * holder learns it from the `LeaseLostError` of its next call.
   *
   * @param options `owner`, `leaseMs` (default 30 000), `limit` (default 1), `wait` and `signal`.
   * @returns The claimed jobs (`active`) with their tokens; empty when none was claimable in time.
   *
   * @example A consumer loop without a worker
   * ```ts
   * import { MemoryKv } from "../adapters/memory/mod.ts";
   * import { Queue } from "./queue.ts";
   * const queue = new Queue<number, number>(new MemoryKv(), "remote");
   * await queue.addBulk([1, 2, 3].map((data) => ({ data })));
   * for (const { job, token } of await queue.claim({ owner: "py-1", leaseMs: 10_000, limit: 10 })) {
   *   await queue.heartbeat(job.id, token, { progress: { step: 1 } });
   *   await queue.complete(job.id, token, job.data * 2);
   * }
   * console.log((await queue.counts()).completed); // 3
   * ```
   */
  claim(options: ClaimOptions = {}): Promise<ClaimedJob<T, R>[]> {
    return claimExternal(this.#ctx, options);
  }

  /**
   * Renews the lease of a job taken with {@linkcode Queue.claim} (and stores `progress` if given).
   *
   * @param id The job id.
   * @param token The lease token from `claim()`.
   * @param options `leaseMs` (default: the lease's length) and `progress`.
   * @returns The job, with its new lease expiry in `job.lease.expiresAt`.
   * @throws {LeaseLostError} When `token` is not the job's lease token any more (the lease expired
   *   and the job was recovered, it was canceled — `cause` is then a `CanceledError` — or it ended).
   *
   * @example
   * ```ts
   * import { MemoryKv } from "../adapters/memory/mod.ts";
   * import { Queue } from "./queue.ts";
   * const queue = new Queue(new MemoryKv(), "q");
   * await queue.add("x");
   * const [{ job, token }] = await queue.claim({ leaseMs: 5_000 });
   * const renewed = await queue.heartbeat(job.id, token, { leaseMs: 60_000, progress: 50 });
   * console.log(renewed.lease!.expiresAt > job.lease!.expiresAt, renewed.progress); // true 50
   * ```
   */
  heartbeat(id: string, token: string, options?: HeartbeatOptions): Promise<Job<T, R>> {
    return heartbeatExternal(this.#ctx, id, token, options);
  }

  /**
   * Completes a job taken with {@linkcode Queue.claim}, storing `result`.
   *
   * @param id The job id.
   * @param token The lease token from `claim()`.
   * @param result The result (any JSON value or a `Uint8Array`), as a handler's return value.
   * @returns The job as committed (`completed`).
   * @throws {LeaseLostError} When `token` is not the job's lease token any more; nothing changes.
   *
   * @example
   * ```ts
   * import { MemoryKv } from "../adapters/memory/mod.ts";
   * import { Queue } from "./queue.ts";
   * const queue = new Queue<string, string>(new MemoryKv(), "q");
   * await queue.add("hi");
   * const [{ job, token }] = await queue.claim();
   * console.log((await queue.complete(job.id, token, "HI")).state); // "completed"
   * ```
   */
  complete(id: string, token: string, result?: R): Promise<Job<T, R>> {
    return completeExternal(this.#ctx, id, token, result as R);
  }

  /**
   * Fails the attempt of a job taken with {@linkcode Queue.claim}: retried after its backoff while
   * attempts remain, else `dead`; the error goes to the job's history. With `retry: false` (or a
   * `PermanentError`) it goes straight to `dead`.
   *
   * @param id The job id.
   * @param token The lease token from `claim()`.
   * @param error What went wrong (its name, message and stack are kept).
   * @param options `retry: false` for a permanent failure.
   * @returns The job as committed (`failed`, `dead`, or `canceled` if a cancel was requested).
   * @throws {LeaseLostError} When `token` is not the job's lease token any more; nothing changes.
   *
   * @example
   * ```ts
   * import { MemoryKv } from "../adapters/memory/mod.ts";
   * import { Queue } from "./queue.ts";
   * const queue = new Queue(new MemoryKv(), "q");
   * await queue.add("x");
   * const [{ job, token }] = await queue.claim();
   * const dead = await queue.fail(job.id, token, new Error("bad input"), { retry: false });
   * console.log(dead.state, dead.reason); // "dead" "permanent"
   * ```
   */
  fail(id: string, token: string, error: unknown, options?: FailOptions): Promise<Job<T, R>> {
    return failExternal(this.#ctx, id, token, error, options);
  }

  /**
   * Gives back a job taken with {@linkcode Queue.claim}: `ready` again at once, the attempt not
   * counted (as a worker's graceful shutdown does).
   *
   * @param id The job id.
   * @param token The lease token from `claim()`.
   * @returns The job as committed (`ready`).
   * @throws {LeaseLostError} When `token` is not the job's lease token any more; nothing changes.
   *
   * @example
   * ```ts
   * import { MemoryKv } from "../adapters/memory/mod.ts";
   * import { Queue } from "./queue.ts";
   * const queue = new Queue(new MemoryKv(), "q");
   * await queue.add("x");
   * const [{ job, token }] = await queue.claim();
   * console.log((await queue.release(job.id, token)).attempt); // 0
   * ```
   */
  release(id: string, token: string): Promise<Job<T, R>> {
    return releaseExternal(this.#ctx, id, token);
  }

  /**
   * Pauses the queue: no worker (in any process) claims a job until `resume()`. Running jobs go on.
   *
   * @example
   * ```ts
   * import { MemoryKv } from "../adapters/memory/mod.ts";
   * import { Queue } from "./queue.ts";
   * const queue = new Queue(new MemoryKv(), "q");
   * await queue.pause();
   * console.log(await queue.isPaused()); // true
   * await queue.resume();
   * ```
   */
  pause(): Promise<void> {
    return setPaused(this.#ctx, true);
  }

  /**
   * Resumes a paused queue.
   *
   * @example
   * ```ts
   * import { MemoryKv } from "../adapters/memory/mod.ts";
   * import { Queue } from "./queue.ts";
   * const queue = new Queue(new MemoryKv(), "q");
   * await queue.pause();
   * await queue.resume();
   * console.log(await queue.isPaused()); // false
   * ```
   */
  resume(): Promise<void> {
    return setPaused(this.#ctx, false);
  }

  /**
   * Whether the queue is paused (as stored).
   *
   * @example
   * ```ts
   * import { MemoryKv } from "../adapters/memory/mod.ts";
   * import { Queue } from "./queue.ts";
   * console.log(await new Queue(new MemoryKv(), "q").isPaused()); // false
   * ```
   */
  isPaused(): Promise<boolean> {
    return isPaused(this.#ctx);
  }

  /**
   * Cancels a job: a scheduled, ready or failed job ends `canceled` at once; an active job has its
   * handler's signal aborted (`CanceledError`) and ends `canceled`, not retried (if its handler
   * returns before the abort takes effect, it ends `completed`).
   *
   * @param id The job id.
   * @returns `true` when canceled (or requested), `false` when it had already ended.
   * @throws {JobNotFoundError} When there is no such job.
   *
   * @example
   * ```ts
   * import { MemoryKv } from "../adapters/memory/mod.ts";
   * import { Queue } from "./queue.ts";
   * const queue = new Queue(new MemoryKv(), "q");
   * const job = await queue.add("x", { delay: 1000 });
   * console.log(await queue.cancel(job.id)); // true
   * ```
   */
  cancel(id: string): Promise<boolean> {
    return cancel(this.#ctx, id);
  }

  /**
   * Runs a job now: a `scheduled` (delayed) job, or a `failed` one waiting for its retry, becomes
   * `ready` at once instead of at its `runAt`. Its attempt count and history stay (a waiting retry
   * still counts the attempt that failed). A cron schedule's next run is not changed.
   *
   * @param id The job id.
   * @returns The job after the change (`ready`).
   * @throws {JobNotFoundError} When there is no such job.
   * @throws {JobStateError} When the job is neither scheduled nor failed.
   *
   * @example Run a delayed job now
   * ```ts
   * import { MemoryKv } from "../adapters/memory/mod.ts";
   * import { Queue } from "./queue.ts";
   * const queue = new Queue(new MemoryKv(), "q");
   * const job = await queue.add("report", { delay: 3_600_000 });
   * console.log((await queue.promote(job.id)).state); // "ready"
   * ```
   */
  promote(id: string): Promise<Job<T, R>> {
    return promote(this.#ctx, id);
  }

  /**
   * The job holding an idempotency key (the `key` it was added with), in any state.
   *
   * @param key The idempotency key.
   * @returns The job, or `null` when no job holds the key (never added, or removed).
   * @throws {TypeError} When `key` is not a non-empty string.
   *
   * @example
   * ```ts
   * import { MemoryKv } from "../adapters/memory/mod.ts";
   * import { Queue } from "./queue.ts";
   * const queue = new Queue(new MemoryKv(), "q");
   * const job = await queue.add({ to: "a@example.com" }, { key: "welcome:42" });
   * console.log((await queue.getJobByKey("welcome:42"))?.id === job.id); // true
   * ```
   */
  getJobByKey(key: string): Promise<Job<T, R> | null> {
    return getJobByKey(this.#ctx, key);
  }

  /**
   * Moves a dead job back to `ready` with fresh attempts; its history is kept.
   *
   * @param id The job id.
   * @returns The job after the change.
   * @throws {JobNotFoundError} When there is no such job.
   * @throws {JobStateError} When the job is not dead.
   *
   * @example
   * ```ts
   * import { MemoryKv } from "../adapters/memory/mod.ts";
   * import { Queue } from "./queue.ts";
   * const queue = new Queue(new MemoryKv(), "q", { maxAttempts: 1 });
   * const worker = queue.process(() => {
   *   throw new Error("down");
   * });
   * const job = await queue.add("x");
   * await queue.result(job.id).catch(() => {}); // it ends dead
   * await worker.close();
   * for (const dead of (await queue.list("dead")).jobs) await queue.redrive(dead.id);
   * console.log((await queue.getJob(job.id))?.state); // "ready"
   * ```
   */
  redrive(id: string): Promise<Job<T, R>> {
    return redrive(this.#ctx, id);
  }

  /**
   * Redrives every dead job of the queue.
   *
   * @returns How many were redriven.
   *
   * @example
   * ```ts
   * import { MemoryKv } from "../adapters/memory/mod.ts";
   * import { Queue } from "./queue.ts";
   * console.log(await new Queue(new MemoryKv(), "q").redriveAll()); // 0
   * ```
   */
  redriveAll(): Promise<number> {
    return redriveAll(this.#ctx);
  }

  /**
   * Deletes a job that is not active, with its payload and idempotency key.
   *
   * @param id The job id.
   * @returns `false` when there was no such job.
   *
   * @example
   * ```ts
   * import { MemoryKv } from "../adapters/memory/mod.ts";
   * import { Queue } from "./queue.ts";
   * const queue = new Queue(new MemoryKv(), "q");
   * const { id } = await queue.add(1);
   * console.log(await queue.remove(id)); // true
   * ```
   */
  remove(id: string): Promise<boolean> {
    return remove(this.#ctx, id);
  }

  /**
   * The cleaner: removes ended jobs of one state that ended more than `age` ms ago, or beyond the
   * newest `count`. Workers apply the queue's `retention` option this way periodically.
   *
   * @param state `completed`, `dead` or `canceled`.
   * @param rule `age` and/or `count`.
   * @returns How many jobs were removed.
   *
   * @example Keep the last 1000 completed jobs
   * ```ts
   * import { MemoryKv } from "../adapters/memory/mod.ts";
   * import { Queue } from "./queue.ts";
   * const queue = new Queue(new MemoryKv(), "q");
   * const worker = queue.process(() => "ok");
   * for (let i = 0; i < 3; i++) await queue.result((await queue.add(i)).id);
   * await worker.close();
   * console.log(await queue.clean("completed", { count: 1 })); // 2 (the newest one is kept)
   * ```
   */
  clean(state: "completed" | "dead" | "canceled", rule: RetentionRule): Promise<number> {
    return clean(this.#ctx, state, rule);
  }

  /**
   * The healer, run once: every active job whose lease expired becomes claimable again (its attempt
   * counted) or dead when none remains. Workers run it periodically; it is idempotent and safe to run
   * in several processes at once.
   *
   * @returns How many jobs it recovered.
   *
   * @example
   * ```ts
   * import { MemoryKv } from "../adapters/memory/mod.ts";
   * import { Queue } from "./queue.ts";
   * console.log(await new Queue(new MemoryKv(), "q").heal()); // 0
   * ```
   */
  heal(): Promise<number> {
    return runDue(this.#ctx, this.#ctx.clock.now(), { heal: true }).then((r) => r.healed);
  }

  /**
   * Deletes, now, the blobs no job references that are older than `blobs.grace` (what a crash between
   * a blob write and its commit leaves). Workers' maintenance runs the same sweep at most once a minute.
   *
   * @returns How many blobs it deleted (0 without a blob store).
   *
   * @example
   * ```ts
   * import { MemoryKv } from "../adapters/memory/mod.ts";
   * import { Queue } from "./queue.ts";
   * console.log(await new Queue(new MemoryKv(), "q").sweepBlobs()); // 0
   * ```
   */
  sweepBlobs(): Promise<number> {
    return sweepBlobs(this.#ctx, this.#ctx.clock.now(), true);
  }

  /**
   * Waits for a job to end. Cannot miss an ending that happened before the call.
   *
   * @param id The job id.
   * @param options `signal` to stop waiting.
   * @returns The handler's return value.
   * @throws {JobFailedError} When the job ended `dead`.
   * @throws {CanceledError} When it was canceled.
   * @throws {JobNotFoundError} When there is no such job (or it was removed, e.g. `removeOnComplete`).
   *
   * @example
   * ```ts
   * import { MemoryKv } from "../adapters/memory/mod.ts";
   * import { Queue } from "./queue.ts";
   * const queue = new Queue<number, number>(new MemoryKv(), "sq");
   * const worker = queue.process((job) => job.data ** 2);
   * console.log(await queue.result((await queue.add(7)).id)); // 49
   * await worker.close();
   * ```
   */
  result(id: string, options: { signal?: AbortSignal } = {}): Promise<R> {
    return result(this.#ctx, id, options.signal);
  }

  /**
   * Creates or replaces a repeating schedule (cron or interval). Workers' maintenance enqueues each
   * tick once, as a job with key `<name>@<tick time>`.
   *
   * @param name The schedule's name, unique in the queue.
   * @param options See {@linkcode ScheduleOptions}.
   * @returns The stored schedule with its next tick.
   *
   * @example Every day at 02:00 Berlin time
   * ```ts
   * import { MemoryKv } from "../adapters/memory/mod.ts";
   * import { Queue } from "./queue.ts";
   * const queue = new Queue(new MemoryKv(), "reports");
   * const s = await queue.schedule("nightly", { cron: "0 2 * * *", timezone: "Europe/Berlin", data: { kind: "daily" } });
   * console.log(new Date(s.next!).toISOString());
   * ```
   */
  schedule(name: string, options: ScheduleOptions<T>): Promise<ScheduleInfo> {
    return schedule(this.#ctx, name, options);
  }

  /**
   * Deletes a schedule (jobs it already enqueued stay).
   *
   * @returns `false` when there was none.
   *
   * @example
   * ```ts
   * import { MemoryKv } from "../adapters/memory/mod.ts";
   * import { Queue } from "./queue.ts";
   * console.log(await new Queue(new MemoryKv(), "q").unschedule("nightly")); // false
   * ```
   */
  unschedule(name: string): Promise<boolean> {
    return unschedule(this.#ctx, name);
  }

  /**
   * Lists the schedules.
   *
   * @example
   * ```ts
   * import { MemoryKv } from "../adapters/memory/mod.ts";
   * import { Queue } from "./queue.ts";
   * console.log(await new Queue(new MemoryKv(), "q").schedules()); // []
   * ```
   */
  schedules(): Promise<ScheduleInfo[]> {
    return schedules(this.#ctx);
  }

  /**
   * Closes every worker started from this queue (see `Worker.close`). The store stays open.
   *
   * @param options `timeout` for running jobs, in ms. @default Infinity
   *
   * @example
   * ```ts
   * import { MemoryKv } from "../adapters/memory/mod.ts";
   * import { Queue } from "./queue.ts";
   * const queue = new Queue(new MemoryKv(), "q");
   * const worker = queue.process(() => {});
   * await queue.close({ timeout: 1000 });
   * console.log(worker.closing, worker.running); // true 0
   * ```
   */
  async close(options: { timeout?: number } = {}): Promise<void> {
    await Promise.all([...this.#ctx.workers].map((w) => w.close(options)));
  }
}
