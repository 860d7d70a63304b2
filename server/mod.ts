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
 * | `GET /` | the dashboard (one self-contained page) |
 * | `GET /healthz` | `{ "ok": true }` (no auth) |
 * | `GET /openapi.json`, `GET /docs` | this API as OpenAPI 3.1, and its interactive reference (no auth) |
 * | `GET /metrics` | Prometheus text: jobs per state per queue, counters, attempt durations |
 * | `GET /queues` | every queue with its counts and paused flag |
 * | `GET /queues/:queue/counts` | jobs per state |
 * | `POST /queues/:queue/jobs` | add: `{ data, priority?, delay?, runAt?, maxAttempts?, backoff?, key?, timeout?, removeOnComplete? }` |
 * | `POST /queues/:queue/jobs/bulk` | add many: `{ jobs: [{ data, ... }] }` |
 * | `GET /queues/:queue/jobs?state=&limit=&cursor=&order=&payloads=` | one page of jobs in a state (`order=newest`: newest first), without `data`, `result` and `progress` unless `payloads=true` |
 * | `GET /queues/:queue/jobs/:id`, `GET /jobs/:id` | one job |
 * | `DELETE /queues/:queue/jobs/:id`, `DELETE /jobs/:id` | cancel |
 * | `POST /queues/:queue/jobs/:id/redrive`, `POST /jobs/:id/redrive` | a dead job back to ready |
 * | `POST /queues/:queue/pause`, `POST /queues/:queue/resume` | stop / restart claiming |
 * | `POST /queues/:queue/dead/redrive` | every dead job back to ready |
 * | `POST /queues/:queue/claim` | lease one job: `{ leaseMs?, wait? }` → `{ job, token, leaseMs, expiresAt }` or `{ job: null }`; with `limit` (1-100), up to that many in one commit → `{ jobs: [{ job, token, leaseMs, expiresAt }, ...] }` |
 * | `POST /jobs/:id/heartbeat` | renew the lease: `{ token, progress? }` |
 * | `POST /jobs/:id/complete` | `{ token, result? }` |
 * | `POST /jobs/:id/fail` | `{ token, error: "message" \| { name, message, stack }, retry? }` |
 * | `POST /jobs/:id/release` | give the job back without counting the attempt: `{ token }` |
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
export { type FetchHandler, InsecureBindError, serve, type Served, type ServeOptions } from "./serve.ts";
