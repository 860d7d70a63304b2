/**
 * Prometheus metrics: jobs per state per queue (read from the store's exact counts at scrape time),
 * counters of what this process saw happen (from queue events), and a summary of attempt durations.
 *
 * @module
 */

import { type Job, JOB_STATES, type Queue, type QueueEvent } from "../mod.ts";

/** Counter names kept per queue, with their help text. */
const COUNTERS = {
  added: "Jobs added through this server since it started.",
  completed: "Jobs completed by workers of this process since it started.",
  failed: "Failed attempts seen by this process since it started (each may be retried).",
  retrying: "Failed attempts that were scheduled for a retry.",
  dead: "Jobs that went to the dead-letter state in this process.",
  canceled: "Jobs canceled through this process.",
  stalled: "Jobs whose lease expired and were recovered by the healer in this process.",
} as const;

type CounterName = keyof typeof COUNTERS;

/** Samples kept per queue for the duration quantiles. */
const WINDOW = 1024;
const QUANTILES = [0.5, 0.9, 0.99];

interface QueueStats {
  counters: Record<CounterName, number>;
  durations: number[];
  next: number;
  sum: number;
  count: number;
}

/** Escapes a label value for the text format. */
export function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function attemptSeconds(job: Job | undefined, type: string): number | undefined {
  if (!job) return undefined;
  if (type === "completed") {
    if (job.startedAt === undefined) return undefined;
    // The event is dispatched right after the commit; finishedAt may be absent from its job.
    return Math.max(0, (job.finishedAt ?? Date.now()) - job.startedAt) / 1000;
  }
  const last = job.history[job.history.length - 1];
  return last ? Math.max(0, last.endedAt - last.startedAt) / 1000 : undefined;
}

/** Collects metrics for a server's queues. */
export class Metrics {
  readonly #stats = new Map<string, QueueStats>();
  readonly #detach: (() => void)[] = [];

  #of(queue: string): QueueStats {
    let s = this.#stats.get(queue);
    if (!s) {
      const counters = Object.fromEntries(Object.keys(COUNTERS).map((k) => [k, 0])) as Record<
        CounterName,
        number
      >;
      s = { counters, durations: [], next: 0, sum: 0, count: 0 };
      this.#stats.set(queue, s);
    }
    return s;
  }

  /** Listens to a queue's events. */
  attach(queue: Queue): void {
    this.#of(queue.name);
    const on = (type: CounterName) => (e: Event) => {
      const s = this.#of(queue.name);
      s.counters[type]++;
      if (type === "completed" || type === "failed") {
        const secs = attemptSeconds((e as QueueEvent).job, type);
        if (secs !== undefined) {
          s.sum += secs;
          s.count++;
          if (s.durations.length < WINDOW) s.durations.push(secs);
          else s.durations[s.next] = secs;
          s.next = (s.next + 1) % WINDOW;
        }
      }
    };
    for (const type of ["completed", "failed", "retrying", "dead", "canceled", "stalled"] as const) {
      const listener = on(type);
      queue.addEventListener(type, listener);
      this.#detach.push(() => queue.removeEventListener(type, listener));
    }
  }

  /** Counts `n` jobs added to `queue`. */
  added(queue: string, n = 1): void {
    this.#of(queue).counters.added += n;
  }

  /** Stops listening. */
  close(): void {
    for (const d of this.#detach.splice(0)) d();
  }

  /** The text exposition (format 0.0.4). */
  async render(queues: Queue[]): Promise<string> {
    const out: string[] = [];
    const q = (name: string) => `queue="${escapeLabel(name)}"`;
    const rows = await Promise.all(queues.map(async (queue) => ({
      queue,
      counts: await queue.counts(),
      paused: await queue.isPaused(),
    })));
    out.push("# HELP kvq_jobs Jobs per queue and state, as stored (exact).", "# TYPE kvq_jobs gauge");
    for (const r of rows) {
      for (const state of JOB_STATES) {
        out.push(`kvq_jobs{${q(r.queue.name)},state="${state}"} ${r.counts[state] ?? 0}`);
      }
    }
    out.push("# HELP kvq_queue_paused 1 while the queue is paused.", "# TYPE kvq_queue_paused gauge");
    for (const r of rows) out.push(`kvq_queue_paused{${q(r.queue.name)}} ${r.paused ? 1 : 0}`);
    for (const [name, help] of Object.entries(COUNTERS)) {
      out.push(`# HELP kvq_jobs_${name}_total ${help}`, `# TYPE kvq_jobs_${name}_total counter`);
      for (const r of rows) {
        out.push(
          `kvq_jobs_${name}_total{${q(r.queue.name)}} ${
            this.#of(r.queue.name).counters[name as CounterName]
          }`,
        );
      }
    }
    out.push(
      "# HELP kvq_attempt_duration_seconds Duration of attempts that ended in this process (last 1024 per queue for quantiles).",
      "# TYPE kvq_attempt_duration_seconds summary",
    );
    for (const r of rows) {
      const s = this.#of(r.queue.name);
      const sorted = [...s.durations].sort((a, b) => a - b);
      for (const p of QUANTILES) {
        const v = sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : NaN;
        out.push(`kvq_attempt_duration_seconds{${q(r.queue.name)},quantile="${p}"} ${v}`);
      }
      out.push(`kvq_attempt_duration_seconds_sum{${q(r.queue.name)}} ${s.sum}`);
      out.push(`kvq_attempt_duration_seconds_count{${q(r.queue.name)}} ${s.count}`);
    }
    return out.join("\n") + "\n";
  }
}
