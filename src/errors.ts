/**
 * Typed errors. A class exists only for what callers catch; bad arguments throw
 * `TypeError` or `RangeError`. Every message says what failed and why.
 *
 * @module
 */

/** Options shared by every kvq error. */
export interface KvqErrorOptions {
  /** The underlying error, if any. */
  cause?: unknown;
}

/**
 * Base class of every error kvq throws on purpose.
 *
 * @example Catch any kvq error
 * ```ts
 * import { KvqError } from "./errors.ts";
 * try {
 *   throw new KvqError("boom");
 * } catch (e) {
 *   if (e instanceof KvqError) console.log(e.name, e.message);
 * }
 * ```
 */
export class KvqError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: KvqErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * A storage backend failed (I/O error, disk full, connection lost, store closed).
 * The commit that raised it changed nothing; the store stays usable for reads.
 *
 * @example
 * ```ts
 * import { StorageError } from "./errors.ts";
 * const e = new StorageError("memory", "commit", "store is closed");
 * console.log(e.message); // "memory: commit failed: store is closed"
 * ```
 */
export class StorageError extends KvqError {
  /** The adapter that failed, e.g. `"file"`. */
  readonly adapter: string;
  /** The operation that failed, e.g. `"commit"`. */
  readonly operation: string;
  /** A machine-readable code such as `"ENOSPC"`, when known. */
  readonly code: string | undefined;
  /** Creates the error. */
  constructor(
    adapter: string,
    operation: string,
    reason: string,
    options?: KvqErrorOptions & { code?: string },
  ) {
    super(`${adapter}: ${operation} failed: ${reason}`, options);
    this.adapter = adapter;
    this.operation = operation;
    this.code = options?.code;
  }
}

/**
 * The store was closed; no operation can run on it any more.
 *
 * @example
 * ```ts
 * import { StoreClosedError } from "./errors.ts";
 * console.log(new StoreClosedError("memory", "get").message);
 * ```
 */
export class StoreClosedError extends StorageError {
  /** Creates the error. */
  constructor(adapter: string, operation: string) {
    super(adapter, operation, "the store is closed", { code: "CLOSED" });
  }
}

/**
 * Stored data failed an integrity check (bad checksum, impossible length) somewhere other than
 * a torn tail. kvq never skips such data silently.
 *
 * @example
 * ```ts
 * import { CorruptionError } from "./errors.ts";
 * const e = new CorruptionError("file", "open", "record 12 at offset 4096 has a bad CRC", { offset: 4096 });
 * console.log(e.offset); // 4096
 * ```
 */
export class CorruptionError extends StorageError {
  /** Byte offset of the damage, when known. */
  readonly offset: number | undefined;
  /** Creates the error. */
  constructor(
    adapter: string,
    operation: string,
    reason: string,
    options?: KvqErrorOptions & { offset?: number },
  ) {
    super(adapter, operation, reason, { ...options, code: "CORRUPT" });
    this.offset = options?.offset;
  }
}

/** What a {@link LimitError} measured. */
export type LimitKind = "keyBytes" | "valueBytes" | "mutations" | "checks" | "payloadBytes";

/**
 * A declared limit was exceeded. Nothing was stored.
 *
 * @example
 * ```ts
 * import { LimitError } from "./errors.ts";
 * const e = new LimitError("memory", "valueBytes", 70000, 65536);
 * console.log(e.message); // "memory: value is 70000 bytes, the limit is 65536"
 * ```
 */
export class LimitError extends KvqError {
  /** The adapter (or `"queue"`) whose limit was hit. */
  readonly adapter: string;
  /** What was measured. */
  readonly kind: LimitKind;
  /** The measured amount. */
  readonly actual: number;
  /** The declared limit. */
  readonly limit: number;
  /** Creates the error. */
  constructor(adapter: string, kind: LimitKind, actual: number, limit: number, options?: KvqErrorOptions) {
    super(`${adapter}: ${LIMIT_WORDS[kind](actual)}, the limit is ${limit}`, options);
    this.adapter = adapter;
    this.kind = kind;
    this.actual = actual;
    this.limit = limit;
  }
}

const LIMIT_WORDS: Record<LimitKind, (n: number) => string> = {
  keyBytes: (n) => `key is ${n} bytes`,
  valueBytes: (n) => `value is ${n} bytes`,
  mutations: (n) => `atomic operation has ${n} mutations`,
  checks: (n) => `atomic operation has ${n} checks`,
  payloadBytes: (n) => `payload is ${n} bytes`,
};

/**
 * The store is already open by another writer (in this process or another one). Stores that
 * allow one writer (the file store) raise it on open; close the other store first.
 *
 * @example
 * ```ts
 * import { StoreLockedError } from "./errors.ts";
 * const e = new StoreLockedError("file", "/data/jobs.kvq", 4242);
 * console.log(e.code, e.pid); // "LOCKED" 4242
 * ```
 */
export class StoreLockedError extends StorageError {
  /** The store's path. */
  readonly path: string;
  /** The process holding the lock, when known. */
  readonly pid: number | undefined;
  /** Creates the error. */
  constructor(adapter: string, path: string, pid: number | undefined, options?: KvqErrorOptions) {
    super(
      adapter,
      "open",
      `${path} is already open for writing by ${
        pid === undefined ? "another store" : `process ${pid}`
      } (lock file ${path}.lock); close that store first, or delete the lock file if that process is gone`,
      { ...options, code: "LOCKED" },
    );
    this.path = path;
    this.pid = pid;
  }
}

/**
 * An operation did not finish in time. Thrown by `deadline()` when the promise it watches has not
 * settled after the given number of ms.
 *
 * @example
 * ```ts
 * import { TimeoutError } from "./errors.ts";
 * const e = new TimeoutError("Job handler timed out", 30_000);
 * console.log(e.name, e.ms); // "TimeoutError" 30000
 * ```
 */
export class TimeoutError extends KvqError {
  /** The time limit that was exceeded, in ms. */
  readonly ms: number;
  /** Creates the error; the message gains " after <ms> ms". */
  constructor(message: string, ms: number, options?: KvqErrorOptions) {
    super(`${message} after ${ms} ms`, options);
    this.ms = ms;
  }
}

/**
 * A job cannot take an action in its current state: completing a job that is not active,
 * redriving one that is not dead, or writing with a lease token the job no longer holds.
 *
 * @example Redrive only dead jobs
 * ```ts
 * import { JobStateError } from "./errors.ts";
 * const e = new JobStateError("01J0", "ready", "redrive", "it is ready, expected dead");
 * console.log(e.message); // "Cannot redrive job 01J0: it is ready, expected dead"
 * ```
 */
export class JobStateError extends KvqError {
  /** The job id. */
  readonly jobId: string;
  /** The job's state when the action was refused. */
  readonly state: string;
  /** The refused action (a transition event name such as `"complete"`). */
  readonly action: string;
  /** Creates the error. */
  constructor(jobId: string, state: string, action: string, reason: string, options?: KvqErrorOptions) {
    super(`Cannot ${action} job ${jobId}: ${reason}`, options);
    this.jobId = jobId;
    this.state = state;
    this.action = action;
  }
}

/**
 * Thrown by a job handler to fail the job for good: it goes straight to `dead`, with no retry.
 * Anything else a handler throws is retried while attempts remain.
 *
 * @example Give up on a bad address
 * ```ts
 * import { PermanentError } from "./errors.ts";
 * function send(to: string): void {
 *   if (!to.includes("@")) throw new PermanentError(`not an email address: ${to}`);
 * }
 * try {
 *   send("nobody");
 * } catch (e) {
 *   console.log(e instanceof PermanentError); // true
 * }
 * ```
 */
export class PermanentError extends KvqError {
  /** Creates the error. */
  constructor(message: string, options?: KvqErrorOptions) {
    super(message, options);
  }
}

/**
 * `add` was refused because the queue holds `limit` unfinished jobs (`maxQueued`). Nothing was
 * stored.
 *
 * @example
 * ```ts
 * import { QueueFullError } from "./errors.ts";
 * const e = new QueueFullError("mail", 1000);
 * console.log(e.message); // "Cannot enqueue job: queue mail is full (maxQueued 1000)"
 * ```
 */
export class QueueFullError extends KvqError {
  /** The queue. */
  readonly queue: string;
  /** Its `maxQueued`. */
  readonly limit: number;
  /** Creates the error. */
  constructor(queue: string, limit: number, options?: KvqErrorOptions) {
    super(`Cannot enqueue job: queue ${queue} is full (maxQueued ${limit})`, options);
    this.queue = queue;
    this.limit = limit;
  }
}

/**
 * A worker's write for a job was refused because the worker no longer holds the job's lease
 * (it expired and the job was recovered, possibly claimed by another worker). Nothing changed.
 *
 * @example
 * ```ts
 * import { LeaseLostError } from "./errors.ts";
 * const e = new LeaseLostError("01J0", "complete");
 * console.log(e.jobId, e.operation); // "01J0" "complete"
 * ```
 */
export class LeaseLostError extends KvqError {
  /** The job id. */
  readonly jobId: string;
  /** The refused write (`"heartbeat"`, `"progress"`, `"complete"`, `"fail"`, `"release"`). */
  readonly operation: string;
  /** Creates the error. */
  constructor(jobId: string, operation: string, options?: KvqErrorOptions) {
    super(
      `Cannot ${operation} job ${jobId}: the lease it was claimed with is no longer current ` +
        "(it expired and the job was reclaimed, or the job was canceled or removed)",
      options,
    );
    this.jobId = jobId;
    this.operation = operation;
  }
}

/**
 * Thrown by a handler to say "rate-limited: run me again in `retryAfterMs`": the attempt does not
 * count; the job waits (`scheduled`) until then and runs again. No `failed` event is emitted; the
 * history records the attempt as `released` with this error. A job rate-limited every time waits
 * every time (it never uses up an attempt).
 *
 * @example
 * ```ts
 * import { RateLimitedError } from "./errors.ts";
 * const e = new RateLimitedError(30_000, "the mail API said 429");
 * console.log(e.retryAfterMs); // 30000
 * ```
 */
export class RateLimitedError extends KvqError {
  /** How long the job waits before it runs again, in ms. */
  readonly retryAfterMs: number;
  /** Creates the error; `retryAfterMs` must be a finite number >= 0 (`RangeError`). */
  constructor(retryAfterMs: number, message?: string, options?: KvqErrorOptions) {
    if (typeof retryAfterMs !== "number" || !Number.isFinite(retryAfterMs) || retryAfterMs < 0) {
      throw new RangeError(`Invalid retryAfterMs: expected a finite number >= 0, got ${retryAfterMs}`);
    }
    super(message ?? `Rate-limited: run again in ${retryAfterMs} ms`, options);
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * A handler staged its job's completion in an atomic op (`ctx.complete(result, { atomic })`) and
 * that op did not commit before the handler returned (its commit failed a check, threw, or was
 * never called). Neither the handler's writes nor the completion happened; the attempt fails with
 * this error (retried while attempts remain).
 *
 * @example
 * ```ts
 * import { CompletionNotCommittedError } from "./errors.ts";
 * console.log(new CompletionNotCommittedError("01J0", "its commit failed a check").jobId); // "01J0"
 * ```
 */
export class CompletionNotCommittedError extends KvqError {
  /** The job id. */
  readonly jobId: string;
  /** Creates the error. */
  constructor(jobId: string, why: string, options?: KvqErrorOptions) {
    super(`Job ${jobId} did not complete: the atomic op its completion was staged in ${why}`, options);
    this.jobId = jobId;
  }
}

/**
 * A job's payload failed its HMAC-SHA256 signature check (it was changed in the store, or signed
 * with another key). The handler never ran; the job is `dead` with reason `integrity`.
 *
 * @example
 * ```ts
 * import { IntegrityError } from "./errors.ts";
 * console.log(new IntegrityError("01J0", "signature mismatch").message);
 * ```
 */
export class IntegrityError extends KvqError {
  /** The job id. */
  readonly jobId: string;
  /** Creates the error. */
  constructor(jobId: string, reason: string, options?: KvqErrorOptions) {
    super(`Job ${jobId} failed its integrity check: ${reason}`, options);
    this.jobId = jobId;
  }
}

/**
 * No job with this id exists (it never did, or retention removed it).
 *
 * @example
 * ```ts
 * import { JobNotFoundError } from "./errors.ts";
 * console.log(new JobNotFoundError("01J0", "mail").message); // "Job 01J0 not found in queue mail"
 * ```
 */
export class JobNotFoundError extends KvqError {
  /** The job id. */
  readonly jobId: string;
  /** The queue searched. */
  readonly queue: string;
  /** Creates the error. */
  constructor(jobId: string, queue: string, options?: KvqErrorOptions) {
    super(`Job ${jobId} not found in queue ${queue}`, options);
    this.jobId = jobId;
    this.queue = queue;
  }
}

/**
 * The job was canceled. `queue.result(id)` rejects with it; it is also the abort reason of a
 * handler's `ctx.signal` when its job is canceled.
 *
 * @example
 * ```ts
 * import { CanceledError } from "./errors.ts";
 * console.log(new CanceledError("01J0").message); // "Job 01J0 was canceled"
 * ```
 */
export class CanceledError extends KvqError {
  /** The job id. */
  readonly jobId: string;
  /** Creates the error. */
  constructor(jobId: string, options?: KvqErrorOptions) {
    super(`Job ${jobId} was canceled`, options);
    this.jobId = jobId;
  }
}

/**
 * The job ended `dead`: `queue.result(id)` rejects with it. `reason` says why and `lastError`
 * holds the last attempt's error (message and stack as stored).
 *
 * @example
 * ```ts
 * import { JobFailedError } from "./errors.ts";
 * const e = new JobFailedError("01J0", "exhausted", { name: "Error", message: "smtp down" });
 * console.log(e.message); // "Job 01J0 is dead (exhausted): smtp down"
 * ```
 */
export class JobFailedError extends KvqError {
  /** The job id. */
  readonly jobId: string;
  /** Why it is dead: `"exhausted"`, `"permanent"`, `"stalled"`, `"integrity"` or `"overflow"`. */
  readonly reason: string;
  /** The last error, as stored in the job's history. */
  readonly lastError:
    | { readonly name: string; readonly message: string; readonly stack?: string }
    | undefined;
  /** Creates the error. */
  constructor(
    jobId: string,
    reason: string,
    lastError?: { readonly name: string; readonly message: string; readonly stack?: string },
    options?: KvqErrorOptions,
  ) {
    super(`Job ${jobId} is dead (${reason})${lastError ? `: ${lastError.message}` : ""}`, options);
    this.jobId = jobId;
    this.reason = reason;
    this.lastError = lastError;
  }
}

/**
 * The worker is shutting down: the abort reason of `ctx.signal` for jobs still running when
 * `worker.close({ timeout })` ran out of time. Those jobs go back to `ready`, the attempt not
 * counted.
 *
 * @example
 * ```ts
 * import { ShutdownError } from "./errors.ts";
 * console.log(new ShutdownError().message); // "The worker is shutting down"
 * ```
 */
export class ShutdownError extends KvqError {
  /** Creates the error. */
  constructor(options?: KvqErrorOptions) {
    super("The worker is shutting down", options);
  }
}

/**
 * A payload or result is larger than the blob store takes (the queue's `blobs.maxBytes`, or the
 * store's own `info.maxBytes`). Nothing is stored: a stream that runs over is cut and the chunks it
 * wrote are deleted. A {@linkcode LimitError} of kind `payloadBytes`, so existing handlers still match.
 *
 * @example
 * ```ts
 * import { LimitError, PayloadTooLargeError } from "./errors.ts";
 * const e = new PayloadTooLargeError(5_000_000_000, 4 * 2 ** 30);
 * console.log(e instanceof LimitError, e.message);
 * // true "blob: payload is 5000000000 bytes, the limit is 4294967296"
 * ```
 */
export class PayloadTooLargeError extends LimitError {
  /** Creates the error. */
  constructor(actual: number, limit: number, options?: KvqErrorOptions) {
    super("blob", "payloadBytes", actual, limit, options);
  }
}

/**
 * A payload or result read from the blob store does not match the SHA-256 checksum in its job record
 * (a damaged, truncated or missing chunk). Not permanent: the attempt fails and is retried per the
 * job's policy, so a transient read fault does not lose the job.
 *
 * @example
 * ```ts
 * import { BlobChecksumError } from "./errors.ts";
 * const e = new BlobChecksumError("01J0", "q:01J0:p-1", "chunk 3 does not match its digest");
 * console.log(e.message);
 * // "Blob q:01J0:p-1 of job 01J0 failed its checksum: chunk 3 does not match its digest"
 * ```
 */
export class BlobChecksumError extends KvqError {
  /** The job id. */
  readonly jobId: string;
  /** The blob's key prefix. */
  readonly blob: string;
  /** Creates the error. */
  constructor(jobId: string, blob: string, reason: string, options?: KvqErrorOptions) {
    super(`Blob ${blob} of job ${jobId} failed its checksum: ${reason}`, options);
    this.jobId = jobId;
    this.blob = blob;
  }
}
