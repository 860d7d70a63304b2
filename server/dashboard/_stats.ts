/**
 * The dashboard's chart data: per queue, the attempts that ended in this process in fixed time
 * buckets (completed and failed counts, run time and wait time percentiles), kept for the last
 * `buckets × bucketMs` (10 minutes by default) in memory. Like the counters of `/metrics`, it sees
 * what this server's queues report (their workers, and remote consumers through this server), not
 * other processes on the same store.
 *
 * @module
 */

import type { Job, Queue, QueueEvent } from "../../mod.ts";

/** Samples kept per bucket for the percentiles (the rest are counted, not sampled). */
const SAMPLES = 256;

interface Bucket {
  /** Start of the bucket, ms since the epoch. */
  t: number;
  completed: number;
  failed: number;
  /** Run time of ended attempts, ms. */
  run: number[];
  /** Time from due (`runAt`) to start of ended attempts, ms. */
  wait: number[];
}

/** One queue's series, oldest bucket first; `null` where a bucket has no sample. */
export interface ChartSeries {
  /** The bucket width in ms. */
  bucketMs: number;
  /** Bucket start times, seconds since the epoch (uPlot's x axis). */
  t: number[];
  /** Completed jobs per second in each bucket. */
  completed: number[];
  /** Failed attempts per second in each bucket. */
  failed: number[];
  /** Median run time of the bucket's attempts, ms. */
  runP50: (number | null)[];
  /** 95th percentile run time, ms. */
  runP95: (number | null)[];
  /** 95th percentile wait (due to started), ms. */
  waitP95: (number | null)[];
}

function quantile(sorted: number[], p: number): number | null {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/** Collects chart data from the events of a server's queues. */
export class ChartStats {
  readonly #bucketMs: number;
  readonly #buckets: number;
  readonly #now: () => number;
  readonly #series = new Map<string, Bucket[]>();
  readonly #detach: (() => void)[] = [];

  /**
   * @param options `bucketMs` (default 5000), `buckets` kept (default 120), `now` (default `Date.now`).
   */
  constructor(options: { bucketMs?: number; buckets?: number; now?: () => number } = {}) {
    this.#bucketMs = options.bucketMs ?? 5000;
    this.#buckets = options.buckets ?? 120;
    this.#now = options.now ?? Date.now;
  }

  #bucket(queue: string): Bucket {
    let list = this.#series.get(queue);
    if (!list) this.#series.set(queue, list = []);
    const t = Math.floor(this.#now() / this.#bucketMs) * this.#bucketMs;
    let last = list[list.length - 1];
    if (!last || last.t !== t) {
      last = { t, completed: 0, failed: 0, run: [], wait: [] };
      list.push(last);
      const oldest = t - (this.#buckets - 1) * this.#bucketMs;
      while (list.length && list[0].t < oldest) list.shift();
    }
    return last;
  }

  #record(queue: string, type: "completed" | "failed", job: Job | undefined): void {
    const b = this.#bucket(queue);
    b[type]++;
    if (!job || job.startedAt === undefined) return;
    const ended = type === "completed" ? job.finishedAt ?? this.#now() : job.history.at(-1)?.endedAt;
    if (ended === undefined) return;
    if (b.run.length < SAMPLES) b.run.push(Math.max(0, ended - job.startedAt));
    if (b.wait.length < SAMPLES) b.wait.push(Math.max(0, job.startedAt - job.runAt));
  }

  /** Listens to a queue's `completed` and `failed` events. */
  attach(queue: Queue): void {
    for (const type of ["completed", "failed"] as const) {
      const listener = (e: Event) => this.#record(queue.name, type, (e as QueueEvent).job);
      queue.addEventListener(type, listener);
      this.#detach.push(() => queue.removeEventListener(type, listener));
    }
  }

  /** Stops listening. */
  close(): void {
    for (const d of this.#detach.splice(0)) d();
  }

  /** The series of `queue` over the kept window, one point per bucket (empty buckets are zeros). */
  read(queue: string): ChartSeries {
    const ms = this.#bucketMs;
    const end = Math.floor(this.#now() / ms) * ms;
    const byT = new Map((this.#series.get(queue) ?? []).map((b) => [b.t, b]));
    const out: ChartSeries = {
      bucketMs: ms,
      t: [],
      completed: [],
      failed: [],
      runP50: [],
      runP95: [],
      waitP95: [],
    };
    for (let t = end - (this.#buckets - 1) * ms; t <= end; t += ms) {
      const b = byT.get(t);
      const run = b ? [...b.run].sort((x, y) => x - y) : [];
      const wait = b ? [...b.wait].sort((x, y) => x - y) : [];
      // The current bucket is still filling: its rate is over the time elapsed so far.
      const secs = (t === end ? Math.max(1000, this.#now() - t) : ms) / 1000;
      out.t.push(t / 1000);
      out.completed.push(b ? b.completed / secs : 0);
      out.failed.push(b ? b.failed / secs : 0);
      out.runP50.push(quantile(run, 0.5));
      out.runP95.push(quantile(run, 0.95));
      out.waitP95.push(quantile(wait, 0.95));
    }
    return out;
  }
}
