/**
 * The kvq sidecar: an HTTP API over your queues so any language can enqueue, inspect, manage and
 * consume jobs, with a web dashboard at `/` and Prometheus metrics at `/metrics`.
 *
 * `createServer` returns a web-standard fetch handler (built with Hono): hand it to `Deno.serve`,
 * `Bun.serve`, or to {@linkcode serve}, which picks the runtime's own HTTP server (`node:http` on
 * Node).
 *
 * | method and path | what it does |
 * | --- | --- |
 * | `GET /`, `GET /assets/*` | the dashboard page, its script and styles, uPlot (no auth; no data in them) |
 * | `GET /healthz` | `{ "ok": true }` (no auth) |
 * | `GET /openapi.json`, `GET /docs`, `GET /docs/scalar.js` | this API as OpenAPI 3.1, its interactive reference, that page's script (no auth; the script needs `@scalar/api-reference` installed) |
 * | `GET /metrics` | Prometheus text: jobs per state, oldest ready age, totals and histograms from the store, deliveries per peer |
 * | `GET /queues` | every queue with its counts and paused flag |
 * | `GET /queues/:queue` | one queue: its name, counts and paused flag (404 when it does not exist) |
 * | `GET /queues/:queue/counts` | jobs per state |
 * | `POST /queues/:queue/jobs` | add: `{ data, priority?, delay?, runAt?, maxAttempts?, backoff?, key?, timeout?, removeOnComplete? }` |
 * | `POST /queues/:queue/jobs/bulk` | add many: `{ jobs: [{ data, ... }] }` |
 * | `GET /queues/:queue/jobs?state=&limit=&cursor=&order=&payloads=` | one page of jobs in a state (`order=newest`: newest first), without `data`, `result` and `progress` unless `payloads=true` |
 * | `GET /queues/:queue/jobs/:id`, `GET /jobs/:id` | one job |
 * | `DELETE /queues/:queue/jobs/:id`, `DELETE /jobs/:id` (or `POST .../cancel`) | cancel → `{ canceled, job }` |
 * | `POST /queues/:queue/jobs/:id/redrive`, `POST /jobs/:id/redrive` | a dead job back to ready |
 * | `POST /queues/:queue/pause`, `POST /queues/:queue/resume` | stop / restart claiming |
 * | `POST /queues/:queue/dead/redrive` | every dead job back to ready |
 * | `POST /queues/:queue/jobs/:id/promote` | run now: a delayed job, or a failed one waiting for its retry, becomes ready → `{ job }` (409 in another state) |
 * | `POST /queues/:queue/jobs/:id/remove` | delete a job that is not active, with its payload and key → `{ removed: true }` |
 * | `POST /queues/:queue/clean` | remove ended jobs: `{ state: "completed" \| "dead" \| "canceled", age?: ms, count?: newest kept }` → `{ removed }` |
 * | `GET /search?q=&queue=` | the job with id `q` and the jobs holding idempotency key `q` (in `queue`, or every queue) → `{ jobs }` without payloads |
 * | `GET /queues/:queue/stats` | the dashboard's chart series: completed/failed per second, run p50/p95 and wait p95 per 5 s, last 10 min (this process) |
 * | `POST /queues/:queue/claim` | lease one job: `{ leaseMs?, wait? }` → `{ job, token, leaseMs, expiresAt }` or `{ job: null }`; with `limit` (1-100), up to that many in one commit → `{ jobs: [{ job, token, leaseMs, expiresAt }, ...] }` |
 * | `POST /jobs/:id/heartbeat` | renew the lease: `{ token, progress? }` |
 * | `POST /jobs/:id/complete` | `{ token, result? }` |
 * | `POST /jobs/:id/fail` | `{ token, error: "message" \| { name, message, stack }, retry? }` |
 * | `POST /jobs/:id/release` | give the job back without counting the attempt: `{ token }` |
 * | `POST /send/:app/:queue` | app-to-app: `{ data, transient?, key? }` → 202 `{ message: { id, transient, ... } }` once in the outbox (with `appId` and `delivery`) |
 * | `POST /deliver/:queue` | peer-to-peer receiving end: HMAC-signed `x-kvq-*` headers, no bearer token (`security: []` in the document); 201 stored, 200 duplicate, 401 refused |
 *
 * @example Run the sidecar on the default store
 * ```ts
 * import { openStore } from "@kvq/kvq/store";
 * import { createServer, serve } from "@kvq/kvq/server";
 * const dir = await Deno.makeTempDir();
 * const store = await openStore(`${dir}/jobs.db`);
 * const app = createServer({ store, auth: Deno.env.get("KVQ_TOKEN") ?? "dev-token" });
 * const http = await serve(app, { port: 0 });
 * console.log(`dashboard on ${http.url}/`);
 * await http.close();
 * await app.close();
 * await store.close();
 * ```
 *
 * @module
 */

export { createServer, type KvqServer, type ServerOptions } from "./server.ts";
export { Delivery, outboxName, type SendOptions, type SentMessage } from "./delivery/delivery.ts";
export {
  DeliveryRefusedError,
  PeerUnavailableError,
  PoisonedError,
  type RefusalReason,
  UnknownPeerError,
} from "./delivery/errors.ts";
export { APP_ID, type PeersOption, type PeerTemplate, resolverOf } from "./delivery/resolver.ts";
export {
  HEADERS as DELIVERY_HEADERS,
  signDelivery,
  type SignedFields,
  verifyDelivery,
} from "./delivery/signature.ts";
export type {
  DeliveryEvent,
  DeliveryEventType,
  DeliveryOptions,
  PeerCounters,
  PoisonedMessage,
  PoisonReason,
  PoisonSink,
  Resolver,
  RetryPolicy,
} from "./delivery/types.ts";
export { type FetchHandler, InsecureBindError, serve, type Served, type ServeOptions } from "./serve.ts";
export { type MetricsOptions, type ServerMetrics } from "./metrics/collector.ts";
export { callbackSink, type MetricsSink } from "./metrics/sinks.ts";
export { OtlpExportError, otlpSink, type OtlpSinkOptions, OtlpUnavailableError } from "./metrics/otlp.ts";
export { renderPrometheus } from "./metrics/prometheus.ts";
export type {
  Histogram,
  MetricsSnapshot,
  PeerMetrics,
  QueueMetrics,
  QueueTotals,
} from "./metrics/snapshot.ts";
