/**
 * kvq: a durable background-job queue for TypeScript on Deno, Bun and Node, over one atomic
 * key-value contract.
 *
 * This entry point holds the stable, runtime-agnostic API: the job queue (`Queue`, `Worker`, their
 * options, jobs, states and events), the errors callers catch, the injectable clock and id
 * factories, the backoff helpers, and the types of the AtomicKv contract a store implements.
 * Storage adapters are their own entry points (`@kvq/kvq/memory`, ...); what a backend author
 * needs beyond the contract's types (key codec, `BufferedAtomicOp`, adapter kit) is
 * `@kvq/kvq/kv`, and the conformance and engine suites are `@kvq/kvq/testing`.
 *
 * @example Add a job, process it with a retry, shut down
 * ```ts
 * import { Queue } from "@kvq/kvq";
 * import { MemoryKv } from "@kvq/kvq/memory";
 * const emails = new Queue<{ to: string }, string>(new MemoryKv(), "emails", { backoff: 100 });
 * let tries = 0;
 * const worker = emails.process((job, ctx) => {
 *   if (++tries === 1) throw new Error("SMTP timeout"); // retried after 100 ms
 *   return `sent to ${job.data.to} on attempt ${ctx.attempt}`;
 * });
 * const job = await emails.add({ to: "ada@example.com" });
 * console.log(await emails.result(job.id)); // "sent to ada@example.com on attempt 2"
 * await worker.close({ timeout: 5_000 });
 * ```
 *
 * @example Store and read a key through the contract
 * ```ts
 * import { MemoryKv } from "@kvq/kvq/memory";
 * const kv = new MemoryKv();
 * await kv.atomic().set(["hello"], new Uint8Array([1, 2, 3])).commit();
 * console.log((await kv.get(["hello"]))?.value); // Uint8Array [1, 2, 3]
 * ```
 *
 * @module
 */

// The stable API, listed name by name: a new export is a decision (tests/packaging/surface_test.ts
// pins the list). Engine internals (keyspace, committer, job records and `transition`) stay in
// their src/ files; adapter-author tools live in kv.ts.

export { Queue } from "./src/queue.ts";
export type { RateLimit } from "./src/rate_limit.ts";
export { Worker } from "./src/worker.ts";
export type {
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
  JobContext,
  JobPage,
  ListOptions,
  Middleware,
  QueueOptions,
  RetentionOptions,
  RetentionRule,
  ScheduleInfo,
  ScheduleOptions,
  WorkerOptions,
} from "./src/types.ts";
export { isTerminal, JOB_STATES, TERMINAL_STATES } from "./src/job.ts";
export { DEFAULT_ROOT } from "./src/keys.ts";
export type { AttemptOutcome, AttemptRecord, Counts, EndReason, ErrorInfo, JobState } from "./src/job.ts";
export { QUEUE_EVENTS, QueueEvent, type QueueEventType } from "./src/events.ts";
export {
  BlobChecksumError,
  CanceledError,
  CompletionNotCommittedError,
  CorruptionError,
  IntegrityError,
  JobFailedError,
  JobNotFoundError,
  JobStateError,
  KvqError,
  type KvqErrorOptions,
  LeaseLostError,
  LimitError,
  type LimitKind,
  PayloadTooLargeError,
  PermanentError,
  QueueFullError,
  RateLimitedError,
  ShutdownError,
  StorageError,
  StoreClosedError,
  StoreLockedError,
  TimeoutError,
} from "./src/errors.ts";
export { type Clock, FakeClock, type FakeClockOptions, systemClock, type TimerHandle } from "./src/clock.ts";
export { type IdFactory, isUlid, monotonicUlid, seededRandom, ulidTime } from "./src/ids.ts";
export {
  type Backoff,
  backoffDelay,
  type BackoffFunction,
  type BackoffOptions,
  backoffSchedule,
  DEFAULT_BACKOFF,
} from "./src/backoff.ts";
export type { SigningKey } from "./src/signing.ts";
export type { BlobStore, BlobStoreInfo } from "./src/blob_store.ts";
export type { BlobOptions } from "./src/blobs.ts";
export type {
  AtomicKv,
  AtomicOp,
  KvCommitResult,
  KvEntry,
  KvInfo,
  KvKey,
  KvKeyPart,
  KvListOptions,
  KvListSelector,
  KvScope,
} from "./src/kv.ts";
