/**
 * Queue events, dispatched on the `Queue` (an `EventTarget`) by the process that made the change.
 *
 * @module
 */

import type { Job } from "./types.ts";

/** Event names and what they mean. */
export const QUEUE_EVENTS: readonly [
  "completed",
  "failed",
  "retrying",
  "dead",
  "stalled",
  "canceled",
  "error",
] = Object.freeze(
  [
    /** A handler returned; `job.result` holds its value. */
    "completed",
    /** An attempt failed (`error` holds what it threw); followed by `retrying`, `dead` or `canceled`. */
    "failed",
    /** A failed job will run again at `job.runAt`. */
    "retrying",
    /** A job went to `dead` (exhausted, permanent, stalled, integrity, overflow). */
    "dead",
    /** The healer found a job whose lease expired (its worker stopped) and made it claimable again. */
    "stalled",
    /** A job ended `canceled`. */
    "canceled",
    /** A worker or maintenance pass hit an error it could not attribute to a job (storage failure, ...). */
    "error",
  ] as const,
);

/** One of {@linkcode QUEUE_EVENTS}. */
export type QueueEventType = (typeof QUEUE_EVENTS)[number];

/**
 * The event dispatched on a queue.
 *
 * @example Log completions
 * ```ts
 * import { QueueEvent } from "./events.ts";
 * const target = new EventTarget();
 * target.addEventListener("completed", (e) => console.log((e as QueueEvent).job?.id));
 * target.dispatchEvent(new QueueEvent("completed", { job: undefined }));
 * ```
 */
export class QueueEvent<T = unknown, R = unknown> extends Event {
  /** The job after the change (absent for `error` events not tied to a job). */
  readonly job: Job<T, R> | undefined;
  /** What the attempt threw (`failed`, `dead`, `error`). */
  readonly error: unknown;
  /** Creates the event. */
  constructor(type: QueueEventType, init: { job?: Job<T, R>; error?: unknown }) {
    super(type);
    this.job = init.job;
    this.error = init.error;
  }
}
