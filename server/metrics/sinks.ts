/**
 * Where metrics go besides the Prometheus endpoint: the {@linkcode MetricsSink} contract and the
 * callback sink. The OTLP sink lives in `otlp.ts` (it loads the OpenTelemetry SDK only when used).
 *
 * @module
 */

import type { MetricsSnapshot } from "./snapshot.ts";

/**
 * A destination for periodic metric flushes: `export` is called with each snapshot, every
 * `intervalMs` and once more when the server closes; `close` (optional) after the last one.
 */
export interface MetricsSink {
  /** Sends or stores one snapshot; a rejection is reported to `onError` and the next flush goes on. */
  export(snapshot: MetricsSnapshot): void | Promise<void>;
  /** Releases what the sink holds (connections, timers); called once, after the last export. */
  close?(): void | Promise<void>;
}

/**
 * A sink that calls `fn` with every snapshot: log it, forward it to your own metrics system, or
 * assert on it in a test.
 *
 * @param fn Called with each snapshot (awaited before the next flush).
 * @returns The sink.
 *
 * @example Keep the ready depth every 10 s
 * ```ts
 * import { MemoryKv } from "@kvq/kvq/memory";
 * import { callbackSink, createServer } from "@kvq/kvq/server";
 * const depths: number[] = [];
 * const app = createServer({
 *   store: new MemoryKv(),
 *   metrics: {
 *     intervalMs: 10_000,
 *     sinks: [callbackSink((s) => {
 *       depths.push(s.queues.find((q) => q.queue === "mail")?.counts.ready ?? 0);
 *     })],
 *   },
 * });
 * await app.queue("mail").add({ to: "a@example.com" });
 * await app.close(); // flushes once more
 * console.log(depths); // [1]
 * ```
 */
export function callbackSink(fn: (snapshot: MetricsSnapshot) => void | Promise<void>): MetricsSink {
  if (typeof fn !== "function") throw new TypeError("Invalid callback sink: expected a function");
  return { export: (snapshot) => fn(snapshot) };
}
