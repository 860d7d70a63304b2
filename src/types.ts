/**
 * The public types of the job engine: jobs as callers see them, and the options of queues, adds,
 * workers, schedules and retention.
 *
 * @module
 */

import type { RateLimit } from "./rate_limit.ts";
import type { AtomicOp, KvKey } from "./kv.ts";
import type { Clock } from "./clock.ts";
import type { IdFactory } from "./ids.ts";
import type { Backoff, BackoffOptions } from "./backoff.ts";
import type { AttemptRecord, EndReason, ErrorInfo, JobState } from "./job.ts";
import type { SigningKey } from "./signing.ts";
import type { BlobOptions } from "./blobs.ts";

/**
 * A job as read from the store, with its payload decoded.
 *
 * @typeParam T The payload type.
 * @typeParam R The handler's result type.
 */
export interface Job<T = unknown, R = unknown> {
  /** The id: a ULID, so ids sort in submission order. */
  readonly id: string;
  /** The queue. */
  readonly queue: string;
  /** The state. */
  readonly state: JobState;
  /** The payload. */
  readonly data: T;
  /** Higher runs first. */
  readonly priority: number;
  /** Attempts started and counted so far (1 while the first attempt runs). */
  readonly attempt: number;
  /** Most attempts. */
  readonly maxAttempts: number;
  /** Earliest start (for `scheduled` and `failed` jobs, when it becomes ready). */
  readonly runAt: number;
  /** When it was added (ms since the epoch). */
  readonly createdAt: number;
  /** When it last changed. */
  readonly updatedAt: number;
  /** When the current or last attempt started. */
  readonly startedAt?: number;
  /** When it ended. */
  readonly finishedAt?: number;
  /** The last reported progress. */
  readonly progress?: unknown;
  /** The handler's return value, once `completed`. */
  readonly result?: R;
  /** The last error. */
  readonly error?: ErrorInfo;
  /** Why it is `dead` or `canceled`. */
  readonly reason?: EndReason;
  /** Every ended attempt, oldest first, with its error. */
  readonly history: readonly AttemptRecord[];
  /** The idempotency key / external id, if given. */
  readonly key?: string;
  /** Per-attempt time limit in ms. */
  readonly timeout?: number;
  /** A cancel was requested while it was active. */
  readonly cancelRequested?: boolean;
  /**
   * While `active`: who holds the lease and until when (ms since the epoch) unless renewed. The
   * lease token is not shown here: only `claim()` hands it out.
   */
  readonly lease?: { readonly owner: string; readonly expiresAt: number };
  /** The repeating schedule that enqueued it. */
  readonly schedule?: string;
  /**
   * The versionstamp of the record as read (for an active job: of its lease entry, which holds what
   * the attempt changed; `null` for a transactional add not yet committed).
   */
  readonly versionstamp: string | null;
}

/** What `add` returns: the job, and whether this call created it (false: the key already existed). */
export type AddedJob<T = unknown, R = unknown> = Job<T, R> & {
  /** True when this call stored the job; false when a job with the same `key` already existed. */
  readonly created: boolean;
};

/** Options of one job. */
export interface AddOptions {
  /** Higher runs first; an integer or any finite number. @default 0 */
  priority?: number;
  /** Run no earlier than this many ms from now. */
  delay?: number;
  /** Run no earlier than this time (ms since the epoch or a `Date`). Wins over `delay`. */
  runAt?: number | Date;
  /** Most attempts (first run included). @default the queue's, 3 */
  maxAttempts?: number;
  /** Backoff between attempts (a number of ms or options; functions only as the queue's default). */
  backoff?: number | BackoffOptions;
  /** Per-attempt time limit in ms: the handler's signal aborts and the attempt fails. */
  timeout?: number;
  /**
   * Idempotency key / external id: a second add with the same key returns the existing job (with
   * `created: false`) and stores nothing, for as long as the first job is kept.
   */
  key?: string;
  /** Delete the job when it completes instead of keeping it `completed`. @default the queue's */
  removeOnComplete?: boolean;
  /**
   * Add the job inside the caller's own atomic operation on the same store: the job exists if and
   * only if that operation commits. `add` resolves once the mutations are in `atomic` (before it
   * commits); commit it yourself.
   */
  atomic?: AtomicOp;
}

/** Age and count limits of one terminal state (the cleaner removes jobs past either). */
export interface RetentionRule {
  /** Remove jobs that ended more than this many ms ago. */
  age?: number;
  /** Keep at most this many (the newest). */
  count?: number;
}

/** Retention per terminal state. */
export interface RetentionOptions {
  /** Completed jobs. */
  completed?: RetentionRule;
  /** Dead jobs. */
  dead?: RetentionRule;
  /** Canceled jobs. */
  canceled?: RetentionRule;
}

/**
 * Options of a queue.
 *
 * @typeParam R The handler's result type.
 */
export interface QueueOptions {
  /** Root prefix of every key kvq writes. @default ["kvq"] */
  root?: KvKey;
  /** Time source. @default systemClock */
  clock?: Clock;
  /** Id factory (must return strictly increasing ids). @default one monotonic ULID factory per process */
  ids?: IdFactory;
  /** Random generator for backoff jitter (only used when a backoff asks for jitter). @default Math.random */
  random?: () => number;
  /** Default most attempts. @default 3 */
  maxAttempts?: number;
  /** Default backoff; may be a function. @default exponential 1 s, 2 s, 4 s, ... capped at 1 h */
  backoff?: Backoff;
  /** Default per-attempt timeout in ms. @default none */
  timeout?: number;
  /** Most unfinished jobs (scheduled, ready, active, failed). @default Infinity */
  maxQueued?: number;
  /**
   * A rate limit on job starts, shared by every worker and consumer of this queue on the store (a
   * token bucket: `max` starts per `per` ms, at most `burst` at once, default `max`).
   * @default none
   */
  rateLimit?: RateLimit;
  /** What `add` does when the queue is full: reject with `QueueFullError`, or store it `dead` (reason `overflow`). @default "reject" */
  overflow?: "reject" | "dead";
  /** Largest payload (and result) in bytes. @default 4 MiB */
  maxPayloadBytes?: number;
  /** Sign payloads with HMAC-SHA256 at add, verify before the handler runs. */
  signingKey?: SigningKey;
  /**
   * A blob store for payloads and results above `blobs.threshold` and for `ReadableStream`/`Blob`
   * payloads (see `BlobOptions`). Without one, streams are read into memory up to `maxPayloadBytes`.
   */
  blobs?: BlobOptions;
  /** Retention of ended jobs, applied by workers' maintenance. @default keep everything */
  retention?: RetentionOptions;
  /** Default of `removeOnComplete`. @default false */
  removeOnComplete?: boolean;
  /** How often workers and `result()` look at the store for changes made elsewhere, in ms. @default 1000 */
  pollInterval?: number;
}

/** What a handler gets besides its job. */
export interface JobContext {
  /** Aborts on timeout (`TimeoutError`), cancellation (`CanceledError`), lost lease or shutdown (`ShutdownError`). */
  readonly signal: AbortSignal;
  /** The attempt number, 1-based. */
  readonly attempt: number;
  /** Renews the lease now (it is also renewed automatically). Rejects with `LeaseLostError`. */
  heartbeat(): Promise<void>;
  /** Stores a progress value with the job (and renews the lease). Rejects with `LeaseLostError`. */
  progress(value: unknown): Promise<void>;
  /**
   * The payload as a stream of bytes (a new stream per call): a blob payload chunk by chunk, each
   * verified against its SHA-256 (`BlobChecksumError` errors the stream), else the value's bytes
   * (`Uint8Array` as is, anything else as UTF-8 JSON). For blob payloads above `blobs.loadBytes`,
   * `job.data` is `undefined` and this is the way to read them.
   */
  stream(): ReadableStream<Uint8Array>;
  /**
   * Transactional completion: stages the job's completion with `result` in `options.atomic`, an
   * atomic op of the queue's own store that holds the handler's writes. When that op commits, the
   * writes and the completion are stored together, in one commit (both or neither); the handler
   * commits it itself before it returns, and its return value is then ignored. If the op does not
   * commit (a failed check of the handler's, a lease that moved on: heartbeats wait for the commit,
   * but a cancel request or an expired lease fails it), nothing of it is stored and the attempt
   * fails with `CompletionNotCommittedError` when the handler returns. The result is stored inline
   * (at most what fits in one store value, else `LimitError` here). Stage it once per attempt.
   *
   * @example
   * ```ts
   * import { MemoryKv } from "../adapters/memory/mod.ts";
   * import { Queue } from "./queue.ts";
   * const kv = new MemoryKv();
   * const queue = new Queue<{ order: string }>(kv, "orders");
   * const { id } = await queue.add({ order: "A-1" });
   * const worker = queue.process(async (job, ctx) => {
   *   const op = kv.atomic().set(["app", "shipped", job.data.order], new Uint8Array([1]));
   *   ctx.complete("shipped", { atomic: op });
   *   await op.commit(); // the order row and the job's completion, together
   * });
   * console.log(await queue.result(id)); // "shipped"
   * console.log((await kv.get(["app", "shipped", "A-1"])) !== null); // true
   * await worker.close();
   * await queue.close();
   * ```
   */
  complete(result: unknown, options: { atomic: AtomicOp }): void;
}

/**
 * A job handler: its return value is stored as the job's result. Throw to fail the attempt (retried
 * while attempts remain), throw a `PermanentError` to send the job straight to `dead`.
 */
export type Handler<T = unknown, R = unknown> = (job: Job<T, R>, ctx: JobContext) => R | Promise<R>;

/**
 * A batch handler (`process(handler, { batch })`): gets up to `batch.size` jobs (and each job's
 * context, in the same order) and returns one entry per job: its result, or an `Error` to fail that
 * job alone. A throw fails every job of the batch. Each job is then completed, retried or
 * dead-lettered on its own.
 */
export type BatchHandler<T = unknown, R = unknown> = (
  jobs: Job<T, R>[],
  contexts: JobContext[],
) => readonly (R | Error)[] | Promise<readonly (R | Error)[]>;

/** How a worker batches jobs for a {@linkcode BatchHandler}. */
export interface BatchOptions {
  /** Most jobs per handler call. */
  size: number;
  /**
   * How long the first job of an unfilled batch waits for more before the batch goes out, in ms.
   * @default 0 (the jobs of one claim go together; nothing waits for the next claim)
   */
  maxWaitMs?: number;
}

/** Middleware around every handler call: call `next()` to run the rest of the chain. */
export type Middleware<T = unknown, R = unknown> = (
  job: Job<T, R>,
  next: () => Promise<R>,
  ctx: JobContext,
) => Promise<R>;

/** Options of a worker. */
export interface WorkerOptions {
  /** Jobs run at once. @default 1, or `batch.size` with `batch` */
  concurrency?: number;
  /**
   * Hand jobs to the handler in batches: the handler is then a {@linkcode BatchHandler}. Each job
   * keeps its own lease, heartbeats, timeout and outcome; only the handler call is shared.
   */
  batch?: BatchOptions;
  /** Lease length in ms; renewed every `heartbeatInterval` while the handler runs. @default 30000 */
  leaseMs?: number;
  /** How often the lease is renewed, in ms. @default leaseMs / 3 */
  heartbeatInterval?: number;
  /** Most jobs claimed per commit. @default concurrency (at most 256) */
  batchSize?: number;
  /** Poll interval for changes from other processes, in ms. @default the queue's pollInterval */
  pollInterval?: number;
  /** Run maintenance (delayed promotion, healer, scheduler, cleaner). @default true */
  maintenance?: boolean;
  /** How often the cleaner runs when retention is set, in ms. @default 60000 */
  cleanInterval?: number;
}

/** A repeating schedule: a cron expression or a fixed interval. */
export interface ScheduleOptions<T = unknown> {
  /** 5-field cron expression ("minute hour day-of-month month day-of-week"). */
  cron?: string;
  /** IANA time zone of `cron`. @default "UTC" */
  timezone?: string;
  /** Interval in ms (instead of `cron`). */
  every?: number;
  /** First tick of an interval schedule. @default now + every */
  startAt?: number;
  /** The payload of every tick's job. */
  data?: T;
  /** Options of every tick's job (no `key`, `delay`, `runAt` or `atomic`). */
  job?: Omit<AddOptions, "key" | "delay" | "runAt" | "atomic">;
}

/** A stored schedule. */
export interface ScheduleInfo {
  /** Its name (unique in the queue). */
  readonly name: string;
  /** Cron expression, if any. */
  readonly cron?: string;
  /** Time zone of the cron expression. */
  readonly timezone?: string;
  /** Interval, if any. */
  readonly every?: number;
  /** The next tick (ms since the epoch), `null` when the cron expression never matches again. */
  readonly next: number | null;
}

/** Options of `list`. */
export interface ListOptions {
  /** Most jobs returned. @default 100 */
  limit?: number;
  /** Where the previous page ended (its `cursor`, from a call with the same `reverse`). */
  cursor?: string | null;
  /**
   * Walk the index backwards: `completed`, `dead` and `canceled` newest first, `ready` last to be
   * claimed first, `scheduled`/`failed` latest run time first. @default false
   */
  reverse?: boolean;
}

/** A page of `list`. */
export interface JobPage<T = unknown, R = unknown> {
  /** The jobs, in index order (claim order for `ready`, time order for the others). */
  readonly jobs: Job<T, R>[];
  /** Pass to the next call; `null` when there is no more. */
  readonly cursor: string | null;
}

/** Options of `Queue.claim()`. */
export interface ClaimOptions {
  /** Who holds the lease (shown in `job.lease.owner` and in a stalled attempt's error). @default "consumer" */
  owner?: string;
  /** Lease length in ms; renew it with `heartbeat()` before it runs out. @default 30000 */
  leaseMs?: number;
  /** Most jobs to claim (in one commit, as the store's limits allow). @default 1 */
  limit?: number;
  /**
   * When no job is claimable: how long to wait for one, in ms (woken at once by adds in this
   * process, else by polling every `pollInterval`). @default 0
   */
  wait?: number;
  /** Stops waiting (resolves with what was claimed: nothing). */
  signal?: AbortSignal;
}

/** A job claimed with `Queue.claim()`, and the lease token to report back with. */
export interface ClaimedJob<T = unknown, R = unknown> {
  /** The job, `active`, with its lease's owner and expiry. */
  readonly job: Job<T, R>;
  /** The lease token: pass it to `heartbeat`, `complete`, `fail` and `release`. */
  readonly token: string;
}

/** Options of `Queue.heartbeat()`. */
export interface HeartbeatOptions {
  /** The renewed lease's length in ms. @default the lease's current length */
  leaseMs?: number;
  /** Progress to store with the job (any JSON value). */
  progress?: unknown;
}

/** Options of `Queue.fail()`. */
export interface FailOptions {
  /** `false`: no retry, the job goes straight to `dead` (reason `permanent`). @default true */
  retry?: boolean;
}
