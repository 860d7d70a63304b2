/**
 * The pure transition function and every rule of the job lifecycle: attempt counting, backoff,
 * dead-lettering, cancellation, lease expiry, release on shutdown, redrive (all in
 * {@linkcode transition}), and the rules beside it that the services ask (which errors are
 * permanent, what a change emits, the capacity rule). Storage code only moves index entries to
 * match the record `transition` returns. The record and the states are in `job_record.ts`
 * (re-exported here).
 *
 * @module
 */

import { type Backoff, backoffDelay, DEFAULT_BACKOFF } from "./backoff.ts";
import { IntegrityError, JobStateError, PermanentError, RateLimitedError } from "./errors.ts";
import type {
  AttemptOutcome,
  AttemptRecord,
  EndReason,
  ErrorInfo,
  JobRecord,
  JobState,
  ValueRef,
} from "./job_record.ts";

export * from "./job_record.ts";

/**
 * An event that moves a job. See {@linkcode transition} for the rules.
 */
export type JobEvent =
  /**
   * A `scheduled` or `failed` job whose `runAt` has come becomes `ready`. `early`: a caller runs it
   * now, before its `runAt` (`Queue.promote()`).
   */
  | { readonly type: "promote"; readonly early?: boolean }
  /** A worker claims a `ready` job: `active`, attempt + 1, a lease of `leaseMs`. */
  | {
    readonly type: "claim";
    readonly token: string;
    readonly owner: string;
    readonly leaseMs: number;
    /** Claimed through `Queue.claim()` (see {@linkcode Lease.external}). */
    readonly external?: boolean;
  }
  /**
   * The lease holder renews the lease for `leaseMs` from now. `canceled` is given by a holder with
   * no handler to abort (an external lease): a requested cancel then ends the job with that error.
   */
  | {
    readonly type: "heartbeat";
    readonly token: string;
    readonly leaseMs: number;
    readonly canceled?: ErrorInfo;
  }
  /** The lease holder reports progress. */
  | { readonly type: "progress"; readonly token: string; readonly value: unknown }
  /**
   * The handler returned. `unstorable` is set when its result cannot be stored (too large, not
   * serializable): the attempt then fails permanently with that error.
   */
  | {
    readonly type: "complete";
    readonly token: string;
    readonly result?: ValueRef;
    readonly unstorable?: ErrorInfo;
  }
  /**
   * The handler threw. `permanent` skips retries. `backoff` is the queue's default (used when the
   * job has none), `random` the generator for jitter. `reason` overrides the dead reason.
   */
  | {
    readonly type: "fail";
    readonly token: string;
    readonly error: ErrorInfo;
    readonly permanent?: boolean;
    readonly reason?: EndReason;
    /** `false`: never retry (`Queue.fail(..., { retry: false })`). */
    readonly retry?: boolean;
    readonly backoff?: Backoff;
    readonly cause?: unknown;
    readonly random?: () => number;
  }
  /** The lease expired without a heartbeat (the healer found it). */
  | { readonly type: "expire" }
  /** The worker gives the job back on shutdown: `ready`, the attempt is not counted. */
  | { readonly type: "release"; readonly token: string }
  /** A caller cancels the job. */
  | { readonly type: "cancel" }
  /** A caller redrives a dead job: `ready` with fresh attempts. */
  | { readonly type: "redrive" }
  /** A caller removes a job (with its payload and key); an active job cannot be removed. */
  | { readonly type: "remove" }
  /** The queue was full: a just-created job goes straight to `dead` with reason `overflow`. */
  | { readonly type: "overflow" };

/** The type name of a {@linkcode JobEvent}. */
export type JobEventType = JobEvent["type"];

/**
 * Turns anything thrown into an {@linkcode ErrorInfo} (message and stack capped at 4 KiB each).
 *
 * @example
 * ```ts
 * import { errorInfo } from "./job.ts";
 * console.log(errorInfo(new TypeError("bad")).name); // "TypeError"
 * ```
 */
export function errorInfo(error: unknown): ErrorInfo {
  const cap = (s: string) => (s.length > 4096 ? s.slice(0, 4096) + "…" : s);
  if (error instanceof Error) {
    const info: { name: string; message: string; stack?: string } = {
      name: cap(String(error.name || "Error")),
      message: cap(String(error.message)),
    };
    if (typeof error.stack === "string") info.stack = cap(error.stack);
    return info;
  }
  let message: string;
  try {
    message = typeof error === "string" ? error : JSON.stringify(error) ?? String(error);
  } catch {
    message = String(error);
  }
  return { name: "Error", message: cap(message) };
}

function requireState(job: JobRecord, event: JobEventType, ...states: JobState[]): void {
  if (!states.includes(job.state)) {
    throw new JobStateError(job.id, job.state, event, `it is ${job.state}, expected ${states.join(" or ")}`);
  }
}

function requireToken(job: JobRecord, event: JobEventType, token: string): void {
  requireState(job, event, "active");
  if (job.lease?.token !== token) {
    throw new JobStateError(job.id, job.state, event, "the lease token does not match (the lease was lost)");
  }
}

/** A copy of `job` without the fields named (one copy, no rest destructuring: it runs per job). */
function without(job: JobRecord, a: keyof JobRecord, b?: keyof JobRecord): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k in job) {
    if (k !== a && k !== b) out[k] = job[k as keyof JobRecord];
  }
  return out;
}

/**
 * Ends the current attempt: a history entry and the fields every ending clears (the lease), and,
 * with `terminal`, the terminal state (`finishedAt`, `reason`, no cancel request) in the same copy.
 */
function endAttempt(
  job: JobRecord,
  now: number,
  outcome: AttemptOutcome,
  error?: ErrorInfo,
  terminal?: { state: "completed" | "dead" | "canceled"; reason?: EndReason },
): JobRecord {
  const entry: { -readonly [K in keyof AttemptRecord]: AttemptRecord[K] } = {
    attempt: job.attempt,
    startedAt: job.startedAt ?? now,
    endedAt: now,
    outcome,
  };
  if (error) entry.error = error;
  const next = terminal ? without(job, "lease", "cancelRequested") : without(job, "lease");
  next.history = [...job.history, entry];
  next.updatedAt = now;
  if (error) next.error = error;
  if (terminal) {
    next.state = terminal.state;
    next.finishedAt = now;
    if (terminal.reason) next.reason = terminal.reason;
  }
  return next as unknown as JobRecord;
}

function toTerminal(
  job: JobRecord,
  state: "completed" | "dead" | "canceled",
  now: number,
  reason?: EndReason,
): JobRecord {
  const { cancelRequested: _c, ...rest } = job;
  const next: JobRecord = { ...rest, state, finishedAt: now, updatedAt: now };
  return reason ? { ...next, reason } : next;
}

/**
 * Applies one event to a job and returns the new record; the input is not changed. Pure: the
 * result depends only on the arguments (jitter uses the generator the event carries).
 *
 * Rules:
 * - `promote`: `scheduled`/`failed` with `runAt <= now` (any `runAt` when `early`) → `ready`,
 *   `runAt = now`; the attempt count stays.
 * - `claim`: `ready` → `active`; `attempt + 1`; a lease `{ token, owner, expiresAt: now + leaseMs }`
 *   (`external` when claimed through `Queue.claim()`).
 * - `heartbeat` / `progress`: `active` with the matching token; extends the lease / stores progress.
 *   A heartbeat carrying `canceled` (an external holder's) on a job whose cancel was requested ends
 *   it `canceled` instead, that error in the history.
 * - `complete`: `active` → `completed` (stores the result; history "completed").
 * - `complete` with `unstorable` (the result cannot be stored): as `fail`, permanent, with that error.
 * - `fail`: `active` → `canceled` when a cancel was requested; else `dead` (reason `permanent`) when
 *   the failure is permanent (see {@linkcode isPermanent}; reason `integrity` for an
 *   `IntegrityError`); else `dead` (reason `exhausted`) when `attempt >= maxAttempts`; else
 *   `failed` with `runAt = now + backoff(attempt)`. The error goes to the history. A
 *   `RateLimitedError` cause is not a failure: `scheduled` at `now + retryAfterMs`, `attempt - 1`
 *   (the history says `released`), no event.
 * - `expire`: `active` whose lease expired → `canceled` when a cancel was requested; `dead` (reason
 *   `stalled`) when no attempt remains; else `ready` at once. The attempt counts.
 * - `release`: `active` → `ready` with `attempt - 1` (shutdown does not use up an attempt), or
 *   `canceled` when a cancel was requested.
 * - `cancel`: `scheduled`/`ready`/`failed` → `canceled`; `active` → stays `active` with
 *   `cancelRequested` (its worker aborts the handler and ends it `canceled`), except under an
 *   external lease (`Queue.claim()`: no handler here to abort), which ends `canceled` at once.
 * - `redrive`: `dead` → `ready`, `attempt = 0`, reason cleared; the history stays.
 * - `remove`: any state but `active` (cancel it first); the record is returned as it was and
 *   storage deletes it (see {@linkcode disposition}).
 * - `overflow`: a new `ready`/`scheduled` job (attempt 0) → `dead` with reason `overflow`.
 *
 * @param job The current record.
 * @param event What happened.
 * @param now The current time in ms.
 * @returns The new record.
 * @throws {JobStateError} When the job cannot take the event in its state, or the token is stale.
 *
 * @example Fail, retry after backoff, then die
 * ```ts
 * import { createJob, transition } from "./job.ts";
 * let job = createJob({ id: "a", queue: "q", payload: { json: 1 }, maxAttempts: 2, backoff: 1000 }, 0);
 * job = transition(job, { type: "claim", token: "t1", owner: "w", leaseMs: 30_000 }, 0);
 * job = transition(job, { type: "fail", token: "t1", error: { name: "Error", message: "x" } }, 10);
 * console.log(job.state, job.runAt); // "failed" 1010
 * job = transition(transition(job, { type: "promote" }, 1010), { type: "claim", token: "t2", owner: "w", leaseMs: 30_000 }, 1010);
 * job = transition(job, { type: "fail", token: "t2", error: { name: "Error", message: "y" } }, 1020);
 * console.log(job.state, job.reason, job.history.length); // "dead" "exhausted" 2
 * ```
 */
export function transition(job: JobRecord, event: JobEvent, now: number): JobRecord {
  switch (event.type) {
    case "promote": {
      requireState(job, "promote", "scheduled", "failed");
      if (job.runAt > now && !event.early) {
        throw new JobStateError(
          job.id,
          job.state,
          "promote",
          `it is not due before ${job.runAt} (now ${now})`,
        );
      }
      return { ...job, state: "ready", runAt: now, updatedAt: now };
    }
    case "claim": {
      requireState(job, "claim", "ready");
      if (!(event.leaseMs > 0)) throw new RangeError(`Cannot claim job ${job.id}: leaseMs must be > 0`);
      return {
        ...job,
        state: "active",
        attempt: job.attempt + 1,
        startedAt: now,
        updatedAt: now,
        lease: {
          token: event.token,
          owner: event.owner,
          expiresAt: now + event.leaseMs,
          ms: event.leaseMs,
          ...(event.external ? { external: true } : {}),
        },
      };
    }
    case "heartbeat": {
      requireToken(job, "heartbeat", event.token);
      if (job.cancelRequested && event.canceled) {
        return toTerminal(endAttempt(job, now, "canceled", event.canceled), "canceled", now, "canceled");
      }
      return {
        ...job,
        updatedAt: now,
        lease: { ...job.lease!, expiresAt: now + event.leaseMs, ms: event.leaseMs },
      };
    }
    case "progress": {
      requireToken(job, "progress", event.token);
      return { ...job, updatedAt: now, progress: event.value };
    }
    case "complete": {
      requireToken(job, "complete", event.token);
      if (event.unstorable) {
        return transition(
          job,
          { type: "fail", token: event.token, error: event.unstorable, permanent: true },
          now,
        );
      }
      const done = endAttempt(job, now, "completed", undefined, { state: "completed" });
      if (event.result !== undefined) (done as { result?: ValueRef }).result = event.result;
      return done;
    }
    case "fail": {
      requireToken(job, "fail", event.token);
      if (job.cancelRequested) {
        return toTerminal(endAttempt(job, now, "canceled", event.error), "canceled", now, "canceled");
      }
      if (event.cause instanceof RateLimitedError && !event.permanent && event.retry !== false) {
        // Rate-limited: not a failure; the attempt does not count, the job waits and runs again.
        const released = endAttempt(job, now, "released", event.error);
        return {
          ...released,
          state: "scheduled",
          attempt: job.attempt - 1,
          runAt: now + event.cause.retryAfterMs,
        };
      }
      const ended = endAttempt(job, now, "failed", event.error);
      if (event.permanent || event.retry === false || isPermanent(event.cause)) {
        const integrity = event.cause instanceof IntegrityError;
        return toTerminal(ended, "dead", now, event.reason ?? (integrity ? "integrity" : "permanent"));
      }
      if (job.attempt >= job.maxAttempts) return toTerminal(ended, "dead", now, event.reason ?? "exhausted");
      const backoff: Backoff = job.backoff ?? event.backoff ?? DEFAULT_BACKOFF;
      const delay = backoffDelay(backoff, job.attempt, { random: event.random, error: event.cause });
      return { ...ended, state: "failed", runAt: now + delay };
    }
    case "expire": {
      requireState(job, "expire", "active");
      const expiresAt = job.lease?.expiresAt ?? 0;
      if (expiresAt > now) {
        throw new JobStateError(
          job.id,
          job.state,
          "expire",
          `its lease runs until ${expiresAt} (now ${now})`,
        );
      }
      const error: ErrorInfo = {
        name: "LeaseExpiredError",
        message: `the lease of worker ${job.lease?.owner ?? "?"} expired at ${expiresAt} without a heartbeat`,
      };
      if (job.cancelRequested) {
        return toTerminal(endAttempt(job, now, "canceled", error), "canceled", now, "canceled");
      }
      const ended = endAttempt(job, now, "stalled", error);
      if (job.attempt >= job.maxAttempts) return toTerminal(ended, "dead", now, "stalled");
      return { ...ended, state: "ready", runAt: now };
    }
    case "release": {
      requireToken(job, "release", event.token);
      if (job.cancelRequested) {
        return toTerminal(endAttempt(job, now, "canceled"), "canceled", now, "canceled");
      }
      const ended = endAttempt(job, now, "released");
      return { ...ended, state: "ready", attempt: job.attempt - 1, runAt: now };
    }
    case "cancel": {
      if (job.state === "active" && job.lease?.external) {
        return toTerminal(endAttempt(job, now, "canceled"), "canceled", now, "canceled");
      }
      if (job.state === "active") return { ...job, cancelRequested: true, updatedAt: now };
      requireState(job, "cancel", "scheduled", "ready", "failed");
      return toTerminal({ ...job }, "canceled", now, "canceled");
    }
    case "redrive": {
      requireState(job, "redrive", "dead");
      const { reason: _r, finishedAt: _f, ...rest } = job;
      return { ...rest, state: "ready", attempt: 0, runAt: now, updatedAt: now };
    }
    case "remove": {
      if (job.state === "active") {
        throw new JobStateError(job.id, "active", "remove", "it is active; cancel it first");
      }
      return job;
    }
    case "overflow": {
      requireState(job, "overflow", "ready", "scheduled");
      if (job.attempt !== 0) throw new JobStateError(job.id, job.state, "overflow", "it has already run");
      return toTerminal({ ...job }, "dead", now, "overflow");
    }
    default: {
      const never: never = event;
      throw new TypeError(`Unknown job event: ${JSON.stringify(never)}`);
    }
  }
}

/**
 * Which failures are permanent (no retry, straight to `dead`): a `PermanentError`, an
 * `IntegrityError` (the payload is damaged or its signature does not match: running it again
 * cannot help), or any error object with `retry: false`.
 *
 * @param error What the handler threw (or the caller reported).
 * @returns Whether the failure is permanent.
 *
 * @example
 * ```ts
 * import { isPermanent } from "./job.ts";
 * console.log(isPermanent(new Error("x")), isPermanent({ retry: false })); // false true
 * ```
 */
export function isPermanent(error: unknown): boolean {
  return error instanceof PermanentError || error instanceof IntegrityError ||
    (typeof error === "object" && error !== null && (error as { retry?: unknown }).retry === false);
}

/**
 * What storage does with the record {@linkcode transition} returned for `event`: `"remove"` deletes
 * the job and everything it owns — a `remove` event, or a `complete` of a job added with
 * `removeOnComplete` —, `"write"` stores the new record.
 *
 * @param event The event applied.
 * @param next The record transition returned.
 * @returns `"remove"` or `"write"`.
 *
 * @example
 * ```ts
 * import { createJob, disposition } from "./job.ts";
 * const job = createJob({ id: "a", queue: "q", payload: { json: 1 } }, 0);
 * console.log(disposition("remove", job), disposition("promote", job)); // "remove" "write"
 * ```
 */
export function disposition(event: JobEventType, next: JobRecord): "remove" | "write" {
  if (event === "remove") return "remove";
  return event === "complete" && next.state === "completed" && next.removeOnComplete ? "remove" : "write";
}

/** Jobs per state. */
export type Counts = Record<JobState, number>;

/**
 * The empty counts.
 *
 * @example
 * ```ts
 * import { zeroCounts } from "./job.ts";
 * console.log(zeroCounts().ready); // 0
 * ```
 */
export function zeroCounts(): Counts {
  return { scheduled: 0, ready: 0, active: 0, completed: 0, failed: 0, dead: 0, canceled: 0 };
}

/**
 * Unfinished jobs: scheduled, ready, active and failed (what `maxQueued` bounds).
 *
 * @example
 * ```ts
 * import { unfinished, zeroCounts } from "./job.ts";
 * console.log(unfinished({ ...zeroCounts(), ready: 2, dead: 5 })); // 2
 * ```
 */
export function unfinished(c: Counts): number {
  return c.scheduled + c.ready + c.active + c.failed;
}

/**
 * The capacity rule: a queue holding `used` unfinished jobs takes `room` more only while it stays
 * within `maxQueued`. A refused add is `QueueFullError`, or with overflow `"dead"` the job is stored
 * `dead` instead (the {@linkcode transition} event `overflow`).
 *
 * @param used Unfinished jobs stored (and already admitted in this commit).
 * @param room Unfinished jobs the add brings (1, or 0 for a job stored ended).
 * @param maxQueued The queue's limit.
 * @returns Whether the add fits.
 *
 * @example
 * ```ts
 * import { admits } from "./job.ts";
 * console.log(admits(9, 1, 10), admits(10, 1, 10), admits(10, 0, 10)); // true false true
 * ```
 */
export function admits(used: number, room: number, maxQueued: number): boolean {
  return room === 0 || used + room <= maxQueued;
}

/** A queue event a job change makes (see {@linkcode eventsOf}). */
export type JobOutcomeEvent = "completed" | "failed" | "retrying" | "dead" | "stalled" | "canceled";

/**
 * The one mapping from a change (the event applied, the state before, the record after) to the
 * queue events it emits, in order:
 *
 * - an attempt that failed (`fail`; a `complete` whose result could not be stored; an external
 *   heartbeat that found a cancel) emits `failed`, then `retrying` (→ `failed`), `dead` or `canceled`;
 * - a lease that expired (`expire`) emits `stalled`, then `dead` or `canceled` when it ended so;
 * - `complete` → `completed` emits `completed`;
 * - any other change that ends a job `canceled` (cancel, release) emits `canceled`, one that ends it
 *   `dead` (overflow) emits `dead`;
 * - everything else (promote, claim, heartbeat, progress, redrive, remove) emits nothing.
 *
 * @param event The event applied.
 * @param before The state before.
 * @param after The record after.
 * @returns The events, in order.
 *
 * @example
 * ```ts
 * import { createJob, eventsOf, transition } from "./job.ts";
 * const job = transition(createJob({ id: "a", queue: "q", payload: { json: 1 } }, 0), { type: "claim", token: "t", owner: "w", leaseMs: 10 }, 0);
 * const failed = transition(job, { type: "fail", token: "t", error: { name: "Error", message: "x" } }, 1);
 * console.log(eventsOf("fail", job.state, failed)); // ["failed", "retrying"]
 * ```
 */
export function eventsOf(event: JobEventType, before: JobState, after: JobRecord): JobOutcomeEvent[] {
  const ending = (): JobOutcomeEvent[] =>
    after.state === "dead" ? ["dead"] : after.state === "canceled" ? ["canceled"] : [];
  if (before === "active" && after.state !== "active") {
    if (event === "fail" && after.state === "scheduled") return []; // rate-limited: not a failure
    if (event === "fail" || (event === "complete" && after.state !== "completed") || event === "heartbeat") {
      return ["failed", after.state === "failed" ? "retrying" : (after.state as "dead" | "canceled")];
    }
    if (event === "expire") return ["stalled", ...ending()];
    if (event === "complete") return ["completed"];
  }
  if (event === "remove" || before === after.state) return [];
  return ending();
}
