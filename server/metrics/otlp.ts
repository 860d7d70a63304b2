/**
 * The OpenTelemetry sink: each snapshot is pushed as OTLP (JSON over HTTP) through the SDK's
 * exporter, `@opentelemetry/exporter-metrics-otlp-http`. The SDK packages are optional peer
 * dependencies, loaded on the first export: a server without this sink never loads them.
 *
 * @module
 */

import type { MetricsSink } from "./sinks.ts";
import { ATTEMPT_OUTCOMES, type Histogram, type MetricsSnapshot } from "./snapshot.ts";
import { JOB_STATES } from "../../mod.ts";
import type {
  DataPoint,
  Histogram as OtelHistogram,
  MetricData,
  ResourceMetrics,
} from "@opentelemetry/sdk-metrics";

/** Options of {@linkcode otlpSink}. */
export interface OtlpSinkOptions {
  /** The OTLP/HTTP metrics endpoint, e.g. `http://localhost:4318/v1/metrics`. */
  url: string;
  /** Extra request headers (an API key, ...). */
  headers?: Record<string, string>;
  /** `service.name` of the resource. @default "kvq" */
  serviceName?: string;
  /** Time limit of one export in ms. @default 10000 */
  timeoutMs?: number;
}

/**
 * The OpenTelemetry SDK could not be loaded: install `@opentelemetry/sdk-metrics`,
 * `@opentelemetry/resources`, `@opentelemetry/api` and `@opentelemetry/exporter-metrics-otlp-http`.
 */
export class OtlpUnavailableError extends Error {
  /** Always `"OtlpUnavailableError"`. */
  override name = "OtlpUnavailableError";
}

/** An OTLP export that the receiver refused or that did not arrive. */
export class OtlpExportError extends Error {
  /** Always `"OtlpExportError"`. */
  override name = "OtlpExportError";
}

type HrTime = [number, number];
const hr = (ms: number): HrTime => [Math.floor(ms / 1000), Math.round((ms % 1000) * 1e6)];

interface Exporter {
  export(metrics: ResourceMetrics, done: (result: { code: number; error?: Error }) => void): void;
  shutdown(): Promise<void>;
}

interface Sdk {
  exporter: Exporter;
  resource: ResourceMetrics["resource"];
  SUM: number;
  GAUGE: number;
  HISTOGRAM: number;
  CUMULATIVE: number;
}

async function load(options: OtlpSinkOptions): Promise<Sdk> {
  try {
    const [sdk, resources, exporter] = await Promise.all([
      import("@opentelemetry/sdk-metrics"),
      import("@opentelemetry/resources"),
      import("@opentelemetry/exporter-metrics-otlp-http"),
    ]);
    return {
      exporter: new exporter.OTLPMetricExporter({
        url: options.url,
        headers: options.headers,
        timeoutMillis: options.timeoutMs ?? 10_000,
      }) as unknown as Exporter,
      resource: resources.resourceFromAttributes({ "service.name": options.serviceName ?? "kvq" }),
      SUM: sdk.DataPointType.SUM,
      GAUGE: sdk.DataPointType.GAUGE,
      HISTOGRAM: sdk.DataPointType.HISTOGRAM,
      CUMULATIVE: sdk.AggregationTemporality.CUMULATIVE,
    };
  } catch (err) {
    throw new OtlpUnavailableError(
      "Cannot push metrics over OTLP: the OpenTelemetry SDK is not installed (npm install " +
        "@opentelemetry/api @opentelemetry/sdk-metrics @opentelemetry/resources " +
        "@opentelemetry/exporter-metrics-otlp-http)",
      { cause: err },
    );
  }
}

/** The snapshot as OTLP resource metrics (cumulative, since `start`). */
function toResourceMetrics(sdk: Sdk, s: MetricsSnapshot, start: number): ResourceMetrics {
  const startTime = hr(start);
  const endTime = hr(s.at);
  const point = <V>(attributes: Record<string, string>, value: V): DataPoint<V> => ({
    startTime,
    endTime,
    attributes,
    value,
  });
  const descriptor = (name: string, description: string, unit = "") => ({
    name,
    description,
    unit,
    valueType: 1,
  });
  const gauge = (name: string, description: string, unit: string, points: DataPoint<number>[]): MetricData =>
    ({
      descriptor: descriptor(name, description, unit),
      aggregationTemporality: sdk.CUMULATIVE,
      dataPointType: sdk.GAUGE,
      dataPoints: points,
    }) as MetricData;
  const sum = (name: string, description: string, points: DataPoint<number>[]): MetricData =>
    ({
      descriptor: descriptor(name, description),
      aggregationTemporality: sdk.CUMULATIVE,
      dataPointType: sdk.SUM,
      isMonotonic: true,
      dataPoints: points,
    }) as MetricData;
  const histo = (h: Histogram): OtelHistogram => ({
    buckets: { boundaries: [...h.bounds], counts: [...h.buckets] },
    sum: h.sum,
    count: h.count,
  });
  const histogram = (name: string, description: string, points: DataPoint<OtelHistogram>[]): MetricData =>
    ({
      descriptor: descriptor(name, description, "s"),
      aggregationTemporality: sdk.CUMULATIVE,
      dataPointType: sdk.HISTOGRAM,
      dataPoints: points,
    }) as MetricData;
  const qs = s.queues;
  const metrics: MetricData[] = [
    gauge(
      "kvq.jobs",
      "Jobs per queue and state, as stored.",
      "{job}",
      qs.flatMap((r) => JOB_STATES.map((state) => point({ queue: r.queue, state }, r.counts[state] ?? 0))),
    ),
    gauge(
      "kvq.queue.paused",
      "1 while the queue is paused.",
      "",
      qs.map((r) => point({ queue: r.queue }, r.paused ? 1 : 0)),
    ),
    gauge(
      "kvq.oldest_ready.age",
      "How long the longest-waiting head of the ready index has been ready.",
      "s",
      qs.map((r) => point({ queue: r.queue }, r.oldestReadyAgeMs / 1000)),
    ),
    sum(
      "kvq.jobs.ended",
      "Jobs that reached a terminal state, counted from the store.",
      qs.flatMap((r) =>
        (["completed", "dead", "canceled"] as const).map((state) =>
          point({ queue: r.queue, state }, r[state])
        )
      ),
    ),
    sum(
      "kvq.attempts",
      "Attempts of the jobs that ended, per outcome, counted from the store.",
      qs.flatMap((r) =>
        ATTEMPT_OUTCOMES.map((outcome) => point({ queue: r.queue, outcome }, r.attempts[outcome]))
      ),
    ),
    histogram(
      "kvq.job.wait",
      "Time from a job becoming ready to the start of its last attempt.",
      qs.map((r) => point({ queue: r.queue }, histo(r.wait))),
    ),
    histogram(
      "kvq.attempt.duration",
      "Run time of each attempt.",
      qs.map((r) => point({ queue: r.queue }, histo(r.run))),
    ),
    sum(
      "kvq.deliveries",
      "Jobs delivered to a peer by this process.",
      s.peers.map((p) => point({ peer: p.peer }, p.deliveries)),
    ),
    sum(
      "kvq.delivery.poison",
      "Deliveries a peer refused for good, seen by this process.",
      s.peers.map((p) => point({ peer: p.peer }, p.poison)),
    ),
  ];
  return { resource: sdk.resource, scopeMetrics: [{ scope: { name: "kvq" }, metrics }] };
}

/**
 * A sink that pushes every snapshot to an OTLP/HTTP metrics endpoint (an OpenTelemetry Collector,
 * Grafana, Honeycomb, ...) through the OpenTelemetry SDK's exporter. Cumulative temporality: counters
 * and histograms carry their totals, which come from the store. The SDK is loaded on the first
 * export; without it, each export fails with {@linkcode OtlpUnavailableError}.
 *
 * Metric names: `kvq.jobs{queue,state}`, `kvq.queue.paused`, `kvq.oldest_ready.age` (gauges);
 * `kvq.jobs.ended{queue,state}`, `kvq.attempts{queue,outcome}`, `kvq.deliveries{peer}`,
 * `kvq.delivery.poison{peer}` (sums); `kvq.job.wait`, `kvq.attempt.duration` (histograms, seconds).
 *
 * @param options The endpoint and headers: see {@linkcode OtlpSinkOptions}.
 * @returns The sink.
 * @throws {TypeError} When `url` is not an http(s) URL.
 *
 * @example Push to a collector every 30 s (here a stand-in that accepts anything)
 * ```ts
 * import { MemoryKv } from "@kvq/kvq/memory";
 * import { createServer, otlpSink, serve } from "@kvq/kvq/server";
 * let pushes = 0;
 * const collector = await serve(() => (pushes++, Response.json({})), { port: 0 });
 * const app = createServer({
 *   store: new MemoryKv(),
 *   metrics: { intervalMs: 30_000, sinks: [otlpSink({ url: `${collector.url}/v1/metrics` })] },
 * });
 * await app.metrics.flush();
 * await app.close(); // pushes once more, then shuts the exporter down
 * await collector.close();
 * console.log(pushes); // 2
 * ```
 */
export function otlpSink(options: OtlpSinkOptions): MetricsSink {
  let url: URL;
  try {
    url = new URL(options?.url);
  } catch {
    throw new TypeError(
      `Invalid OTLP endpoint: expected an http(s) URL, got ${JSON.stringify(options?.url)}`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(`Invalid OTLP endpoint: expected an http(s) URL, got ${JSON.stringify(options.url)}`);
  }
  const start = Date.now();
  let sdk: Promise<Sdk> | undefined;
  return {
    async export(snapshot) {
      const loaded = await (sdk ??= load(options));
      const metrics = toResourceMetrics(loaded, snapshot, start);
      await new Promise<void>((resolve, reject) => {
        loaded.exporter.export(metrics, (result) => {
          if (result.code === 0) resolve();
          else {
            reject(
              new OtlpExportError(
                `Cannot push metrics to ${url.href}: ${result.error?.message ?? "export failed"}`,
                {
                  cause: result.error,
                },
              ),
            );
          }
        });
      });
    },
    async close() {
      if (sdk) await (await sdk.catch(() => undefined))?.exporter.shutdown();
    },
  };
}
