/**
 * The job record and the closed set of job states: what a stored job holds ({@linkcode JobRecord}),
 * the one canonical list of states ({@linkcode JOB_STATES}) with what moves a job out of each, and
 * {@linkcode createJob}. The rules that change a record live in `job.ts` ({@linkcode transition}
 * there), which re-exports this module.
 *
 * @module
 */

import type { BackoffOptions } from "./backoff.ts";

/**
 * Every job state, in lifecycle order. This is the one canonical list; {@linkcode JobState} is
 * derived from it.
 *
 * - `scheduled`: waiting for its `runAt` time. Left by promotion (due → `ready`) or cancel.
 * - `ready`: claimable now. Left by a claim (→ `active`) or cancel.
 * - `active`: leased to a worker (or to a caller of `Queue.claim()`). Left by complete (→ `completed`),
 *   fail (→ `failed` or `dead`), lease expiry (→ `ready` or `dead`), release (→ `ready`, attempt not
 *   counted), or, when a cancel was requested, by any of these (→ `canceled`); an external lease
 *   (`Queue.claim()`) also by cancel (→ `canceled`).
 * - `completed`: the handler returned. Terminal; left only by removal (retention).
 * - `failed`: an attempt failed and another remains; waits for its backoff (`runAt`). Left by
 *   promotion (→ `ready`) or cancel.
 * - `dead`: retries exhausted, a permanent failure, a failed integrity check or an overflow.
 *   Left by redrive (→ `ready`, attempts reset) or removal.
 * - `canceled`: canceled by a caller. Terminal; left only by removal.
 *
 * @example List the states
 * ```ts
 * import { JOB_STATES } from "./job_record.ts";
 * console.log(JOB_STATES.join(" ")); // "scheduled ready active completed failed dead canceled"
 * ```
 */
export const JOB_STATES: readonly [
  "scheduled",
  "ready",
  "active",
  "completed",
  "failed",
  "dead",
  "canceled",
] = Object.freeze(["scheduled", "ready", "active", "completed", "failed", "dead", "canceled"] as const);

/** A job state: one of {@linkcode JOB_STATES}. */
export type JobState = (typeof JOB_STATES)[number];

/** States a job never leaves except by removal or redrive. */
export const TERMINAL_STATES: readonly JobState[] = Object.freeze(["completed", "dead", "canceled"]);

/**
 * Tells whether a state is terminal (`completed`, `dead`, `canceled`).
 *
 * @example
 * ```ts
 * import { isTerminal } from "./job.ts";
 * console.log(isTerminal("dead"), isTerminal("failed")); // true false
 * ```
 */
export function isTerminal(state: JobState): boolean {
  return state === "completed" || state === "dead" || state === "canceled";
}

/** Why a job ended `dead` or `canceled`. */
export type EndReason =
  /** Every allowed attempt failed. */
  | "exhausted"
  /** The handler threw a `PermanentError` (or failed with `retry: false`). */
  | "permanent"
  /** The last attempt's lease expired (its worker stopped) and no attempt remained. */
  | "stalled"
  /** The payload signature did not verify. */
  | "integrity"
  /** The queue was full (`maxQueued`) and overflow is set to `"dead"`. */
  | "overflow"
  /** A caller canceled the job. */
  | "canceled";

/** A serializable description of an error, as kept in a job's history. */
export interface ErrorInfo {
  /** The error's `name` (`"Error"`, `"TypeError"`, ...). */
  readonly name: string;
  /** The error's message. */
  readonly message: string;
  /** The stack trace, when there was one. */
  readonly stack?: string;
}

/** What ended one attempt. */
export type AttemptOutcome = "completed" | "failed" | "stalled" | "released" | "canceled";

/** One attempt in a job's history. */
export interface AttemptRecord {
  /** The attempt number (1-based). */
  readonly attempt: number;
  /** When the attempt started (ms since the epoch). */
  readonly startedAt: number;
  /** When it ended. */
  readonly endedAt: number;
  /** How it ended. */
  readonly outcome: AttemptOutcome;
  /** The error it failed with, if any. */
  readonly error?: ErrorInfo;
}

/**
 * Where a stored value (payload or result) lives: inline in the record as JSON (`json`) or base64
 * (`b64`), or split into `chunks` separate keys (`bytes` long; `binary` for a `Uint8Array`).
 */
export type ValueRef =
  | { readonly json: unknown }
  | { readonly b64: string }
  | { readonly chunks: number; readonly bytes: number; readonly binary: boolean }
  // In the queue's blob store (src/blobs.ts): key, size, chunk count, SHA-256, binary or JSON.
  | {
    readonly blob: string;
    readonly bytes: number;
    readonly parts: number;
    readonly sha256: string;
    readonly binary: boolean;
  };

/** The lease of an active job. */
export interface Lease {
  /** A fresh token per claim; a worker's writes are valid only while the record holds its token. */
  readonly token: string;
  /** The worker holding it. */
  readonly owner: string;
  /** When it expires (ms since the epoch) unless renewed by a heartbeat. */
  readonly expiresAt: number;
  /** Its length in ms (the last heartbeat's); absent in records written before it was kept. */
  readonly ms?: number;
  /**
   * Taken through `Queue.claim()` by a caller that reports back with the token (a remote
   * consumer), not by a worker of this library: no handler runs here to be aborted, so a cancel
   * ends the job at once.
   */
  readonly external?: boolean;
}

/** The stored job record (JSON-encoded in the store). */
export interface JobRecord {
  /** The job id (a ULID: ids sort in submission order). */
  readonly id: string;
  /** The queue name. */
  readonly queue: string;
  /** The state. */
  readonly state: JobState;
  /** Higher runs first. @default 0 */
  readonly priority: number;
  /** Attempts started and counted so far. */
  readonly attempt: number;
  /** Most attempts in total (first run included). */
  readonly maxAttempts: number;
  /** Per-job backoff; absent: the queue's. */
  readonly backoff?: number | BackoffOptions;
  /** Per-attempt time limit in ms. */
  readonly timeout?: number;
  /** Earliest start (scheduled, failed); for others the time it last became ready. */
  readonly runAt: number;
  /** When it was added. */
  readonly createdAt: number;
  /** When it last changed. */
  readonly updatedAt: number;
  /** When its current or last attempt started. */
  readonly startedAt?: number;
  /** When it reached a terminal state. */
  readonly finishedAt?: number;
  /** Idempotency key / external id. */
  readonly key?: string;
  /** The lease, while active. */
  readonly lease?: Lease;
  /** A cancel was requested while active. */
  readonly cancelRequested?: boolean;
  /** The last reported progress. */
  readonly progress?: unknown;
  /** The handler's return value, once completed. */
  readonly result?: ValueRef;
  /** The last error. */
  readonly error?: ErrorInfo;
  /** Why it is dead or canceled. */
  readonly reason?: EndReason;
  /** Every attempt that ended, oldest first. */
  readonly history: readonly AttemptRecord[];
  /** The payload. */
  readonly payload: ValueRef;
  /** HMAC-SHA256 signature of the payload (base64url), when the queue signs payloads. */
  readonly signature?: string;
  /** Delete the job instead of keeping it `completed`. */
  readonly removeOnComplete?: boolean;
  /** The repeating schedule that enqueued it. */
  readonly schedule?: string;
}

/** What {@linkcode createJob} needs. */
export interface JobInit {
  /** The id. */
  id: string;
  /** The queue. */
  queue: string;
  /** The encoded payload. */
  payload: ValueRef;
  /** Earliest start; a time after `now` makes the job `scheduled`. @default now */
  runAt?: number;
  /** Higher runs first. @default 0 */
  priority?: number;
  /** Most attempts. @default 3 */
  maxAttempts?: number;
  /** Per-job backoff. */
  backoff?: number | BackoffOptions;
  /** Per-attempt timeout in ms. */
  timeout?: number;
  /** Idempotency key. */
  key?: string;
  /** Payload signature. */
  signature?: string;
  /** Delete when completed. */
  removeOnComplete?: boolean;
  /** Creating schedule. */
  schedule?: string;
}

/** Default {@linkcode JobRecord.maxAttempts}. */
export const DEFAULT_MAX_ATTEMPTS = 3;

/**
 * Creates a new job record: `scheduled` when `runAt` is after `now`, else `ready`.
 *
 * @param init The job's fields.
 * @param now The current time in ms.
 * @returns The record.
 *
 * @example
 * ```ts
 * import { createJob } from "./job_record.ts";
 * const job = createJob({ id: "01J0000000000000000000000A", queue: "mail", payload: { json: 1 }, runAt: 5000 }, 1000);
 * console.log(job.state); // "scheduled"
 * ```
 */
export function createJob(init: JobInit, now: number): JobRecord {
  const runAt = init.runAt ?? now;
  const record: { -readonly [K in keyof JobRecord]: JobRecord[K] } = {
    id: init.id,
    queue: init.queue,
    state: runAt > now ? "scheduled" : "ready",
    priority: init.priority ?? 0,
    attempt: 0,
    maxAttempts: init.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    runAt,
    createdAt: now,
    updatedAt: now,
    history: [],
    payload: init.payload,
  };
  if (init.backoff !== undefined) record.backoff = init.backoff;
  if (init.timeout !== undefined) record.timeout = init.timeout;
  if (init.key !== undefined) record.key = init.key;
  if (init.signature !== undefined) record.signature = init.signature;
  if (init.removeOnComplete) record.removeOnComplete = true;
  if (init.schedule !== undefined) record.schedule = init.schedule;
  return record;
}
