/**
 * What one reading of the metrics holds ({@linkcode MetricsSnapshot}), the histogram shape and its
 * fixed bucket bounds. Every sink (Prometheus text, OTLP push, a callback) is fed the same snapshot.
 *
 * @module
 */

import type { AttemptOutcome, Counts } from "../../mod.ts";

/**
 * Upper bounds of the duration histograms' buckets, in seconds: 5 ms to 1 h. Values above the last
 * bound fall in the overflow bucket (`+Inf`).
 */
export const DURATION_BOUNDS: readonly number[] = Object.freeze([
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
  60,
  300,
  900,
  3600,
]);

/** A histogram of durations in seconds. */
export interface Histogram {
  /** Upper bounds of the buckets ({@linkcode DURATION_BOUNDS}). */
  readonly bounds: readonly number[];
  /** Observations per bucket, not cumulative: one more entry than `bounds` (the last is `+Inf`). */
  readonly buckets: readonly number[];
  /** Sum of every observation. */
  readonly sum: number;
  /** Number of observations. */
  readonly count: number;
}

/** The outcomes of attempts that are counted: each attempt of a job that ended is counted once. */
export const ATTEMPT_OUTCOMES: readonly AttemptOutcome[] = Object.freeze([
  "completed",
  "failed",
  "stalled",
  "released",
  "canceled",
]);

/** Totals kept in the store, read the same by every server on it (see `ledger.ts`). */
export interface QueueTotals {
  /** Jobs that reached `completed` (jobs with `removeOnComplete` leave no record and are not counted). */
  readonly completed: number;
  /** Times a job reached `dead`. */
  readonly dead: number;
  /** Jobs that reached `canceled`. */
  readonly canceled: number;
  /** Attempts of the counted jobs, per outcome. */
  readonly attempts: Readonly<Record<AttemptOutcome, number>>;
  /** Time from a job becoming ready (added, due or retried) to the start of its last attempt. */
  readonly wait: Histogram;
  /** Duration of every attempt of the counted jobs. */
  readonly run: Histogram;
}

/** One queue in a {@linkcode MetricsSnapshot}. */
export interface QueueMetrics extends QueueTotals {
  /** The queue name. */
  readonly queue: string;
  /** Jobs per state, as stored (exact). */
  readonly counts: Readonly<Counts>;
  /** Whether the queue is paused. */
  readonly paused: boolean;
  /**
   * How long the longest-waiting job at the head of the ready index has been ready, in ms (the
   * first job of each priority is looked at); `0` with no ready job.
   */
  readonly oldestReadyAgeMs: number;
}

/** Deliveries to one peer (app-to-app delivery), as recorded by this process. */
export interface PeerMetrics {
  /** The peer's name. */
  readonly peer: string;
  /** Jobs delivered to it. */
  readonly deliveries: number;
  /** Deliveries it refused for good (poison). */
  readonly poison: number;
}

/** One reading of every series. */
export interface MetricsSnapshot {
  /** When it was taken (ms since the epoch). */
  readonly at: number;
  /** Every queue served, by name. */
  readonly queues: readonly QueueMetrics[];
  /** Every peer recorded, by name. */
  readonly peers: readonly PeerMetrics[];
}

/** An empty histogram over {@linkcode DURATION_BOUNDS}. */
export function emptyHistogram(): Histogram {
  return {
    bounds: DURATION_BOUNDS,
    buckets: new Array(DURATION_BOUNDS.length + 1).fill(0),
    sum: 0,
    count: 0,
  };
}

/** `h` with one more observation of `seconds` (a new object; `h` is not changed). */
export function observe(h: Histogram, seconds: number): Histogram {
  const buckets = [...h.buckets];
  let i = h.bounds.findIndex((b) => seconds <= b);
  if (i < 0) i = h.bounds.length;
  buckets[i]++;
  return { bounds: h.bounds, buckets, sum: h.sum + seconds, count: h.count + 1 };
}
