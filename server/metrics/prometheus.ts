/**
 * The Prometheus text exposition (format 0.0.4) of a {@linkcode MetricsSnapshot}, served at
 * `GET /metrics`.
 *
 * @module
 */

import { JOB_STATES } from "../../mod.ts";
import { ATTEMPT_OUTCOMES, type Histogram, type MetricsSnapshot } from "./snapshot.ts";

/** The content type of {@linkcode renderPrometheus}'s text. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Escapes a label value for the text format. */
export function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function histogramLines(name: string, labels: string, h: Histogram): string[] {
  const out: string[] = [];
  let cumulative = 0;
  for (const [i, bound] of h.bounds.entries()) {
    cumulative += h.buckets[i];
    out.push(`${name}_bucket{${labels},le="${bound}"} ${cumulative}`);
  }
  out.push(`${name}_bucket{${labels},le="+Inf"} ${h.count}`);
  out.push(`${name}_sum{${labels}} ${h.sum}`, `${name}_count{${labels}} ${h.count}`);
  return out;
}

/**
 * Renders a snapshot as Prometheus text. Series (label `queue` unless said otherwise):
 *
 * - `kvq_jobs{state}` gauge: jobs per state, as stored.
 * - `kvq_queue_paused` gauge: 1 while paused.
 * - `kvq_oldest_ready_age_seconds` gauge: how long the longest-waiting head of the ready index has
 *   been ready.
 * - `kvq_jobs_completed_total`, `kvq_jobs_dead_total`, `kvq_jobs_canceled_total` counters: jobs that
 *   ended so, from the store (every server on a store reports the same).
 * - `kvq_attempts_total{outcome}` counter: attempts of those jobs per outcome.
 * - `kvq_job_wait_seconds` histogram: ready (added, due or retried) → start of the last attempt.
 * - `kvq_attempt_duration_seconds` histogram: the run time of each attempt.
 * - `kvq_deliveries_total{peer}`, `kvq_delivery_poison_total{peer}` counters: app-to-app deliveries
 *   recorded by this process.
 *
 * @param s The snapshot.
 * @returns The text, ending with a newline.
 *
 * @example
 * ```ts
 * import { renderPrometheus } from "./prometheus.ts";
 * console.log(renderPrometheus({ at: 0, queues: [], peers: [] }).startsWith("# HELP kvq_jobs ")); // true
 * ```
 */
export function renderPrometheus(s: MetricsSnapshot): string {
  const out: string[] = [];
  const q = (name: string) => `queue="${escapeLabel(name)}"`;
  const family = (name: string, type: string, help: string) =>
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);

  family("kvq_jobs", "gauge", "Jobs per queue and state, as stored (exact).");
  for (const r of s.queues) {
    for (const state of JOB_STATES) {
      out.push(`kvq_jobs{${q(r.queue)},state="${state}"} ${r.counts[state] ?? 0}`);
    }
  }
  family("kvq_queue_paused", "gauge", "1 while the queue is paused.");
  for (const r of s.queues) out.push(`kvq_queue_paused{${q(r.queue)}} ${r.paused ? 1 : 0}`);
  family(
    "kvq_oldest_ready_age_seconds",
    "gauge",
    "How long the longest-waiting job at the head of the ready index (per priority) has been ready.",
  );
  for (const r of s.queues) {
    out.push(`kvq_oldest_ready_age_seconds{${q(r.queue)}} ${r.oldestReadyAgeMs / 1000}`);
  }
  for (const state of ["completed", "dead", "canceled"] as const) {
    family(`kvq_jobs_${state}_total`, "counter", `Jobs that reached ${state}, counted from the store.`);
    for (const r of s.queues) out.push(`kvq_jobs_${state}_total{${q(r.queue)}} ${r[state]}`);
  }
  family(
    "kvq_attempts_total",
    "counter",
    "Attempts of the jobs that ended, per outcome, counted from the store.",
  );
  for (const r of s.queues) {
    for (const o of ATTEMPT_OUTCOMES) {
      out.push(`kvq_attempts_total{${q(r.queue)},outcome="${o}"} ${r.attempts[o]}`);
    }
  }
  family(
    "kvq_job_wait_seconds",
    "histogram",
    "Time from a job becoming ready (added, due or retried) to the start of its last attempt, from the store.",
  );
  for (const r of s.queues) out.push(...histogramLines("kvq_job_wait_seconds", q(r.queue), r.wait));
  family(
    "kvq_attempt_duration_seconds",
    "histogram",
    "Run time of each attempt of the jobs that ended, from the store.",
  );
  for (const r of s.queues) out.push(...histogramLines("kvq_attempt_duration_seconds", q(r.queue), r.run));
  family("kvq_deliveries_total", "counter", "Jobs delivered to a peer by this process.");
  for (const p of s.peers) out.push(`kvq_deliveries_total{peer="${escapeLabel(p.peer)}"} ${p.deliveries}`);
  family(
    "kvq_delivery_poison_total",
    "counter",
    "Deliveries a peer refused for good (poison), seen by this process.",
  );
  for (const p of s.peers) out.push(`kvq_delivery_poison_total{peer="${escapeLabel(p.peer)}"} ${p.poison}`);
  return out.join("\n") + "\n";
}
