/**
 * The HTTP sidecar: a web-standard `(Request) => Promise<Response>` handler (built with Hono) that
 * lets any language enqueue, inspect, manage and consume jobs, with a dashboard and Prometheus
 * metrics.
 *
 * @module
 */

import { Hono } from "hono";
import type { Context } from "hono";
import {
  type AtomicKv,
  DEFAULT_ROOT,
  JobNotFoundError,
  type JobState,
  type Queue,
  type QueueOptions,
} from "../mod.ts";
import { bearerAuth } from "./_auth.ts";
import { errorResponse, HttpError } from "./_errors.ts";
import { Registry } from "./_registry.ts";
import { type MetricsOptions, ServerMetrics } from "./metrics/collector.ts";
import { PROMETHEUS_CONTENT_TYPE, renderPrometheus } from "./metrics/prometheus.ts";
import { Consumers, type FailureReport } from "./_consumer.ts";
import { registerDashboardPage, registerDashboardRoutes } from "./dashboard/_routes.ts";
import { ChartStats } from "./dashboard/_stats.ts";
import { readLimited } from "./_body.ts";
import { checkHost, checkMutation, hostName, LOOPBACK_HOSTS } from "./_guard.ts";
import { addArgs, boolField, intField } from "./_input.ts";
import { LeaseTags } from "./_lease.ts";
import { SERVER_INTERNALS } from "./_internals.ts";
import { registerDeliveryRoutes } from "./delivery/routes.ts";
import type { Delivery } from "./delivery/delivery.ts";
import type { DeliveryOptions } from "./delivery/types.ts";

/** Options of {@linkcode createServer}. */
export interface ServerOptions {
  /**
   * The store: queues named in requests are opened on it on demand, and the queues already in it
   * are listed (dashboard, metrics). Give `store`, `queues`, or both.
   */
  store?: AtomicKv;
  /**
   * Queues to serve (your own instances, with their options, middleware and events). Without
   * `store`, only these are served and other names answer 404.
   */
  queues?: readonly Queue[];
  /** Options of queues opened from `store`. @default {} */
  queueOptions?: QueueOptions;
  /**
   * HMAC key for queues opened from `store`: payloads are signed when added and verified before a
   * job is handed to a worker or remote consumer (shorthand for `queueOptions.signingKey`).
   */
  signingKey?: QueueOptions["signingKey"];
  /**
   * Who may call the API: a bearer token, several, or a function of the request. `GET /` and
   * `GET /assets/*` (the dashboard page and its scripts, which hold no data) and `GET /healthz` are
   * always open. @default open to all
   */
  auth?: string | readonly string[] | ((request: Request) => boolean | Promise<boolean>);
  /** Serve `GET /metrics` without auth. @default false */
  publicMetrics?: boolean;
  /** Serve the dashboard at `GET /`. @default true */
  dashboard?: boolean;
  /** Largest request body in bytes. @default 8 MiB */
  maxBodyBytes?: number;
  /** Lease of a remote consumer's claim when it does not ask for one, in ms. @default 30000 */
  defaultLeaseMs?: number;
  /** Longest `wait` a claim may ask for (long polling), in ms. @default 20000 */
  maxWaitMs?: number;
  /** Shortest lease a claim may ask for, in ms. @default 1000 */
  minLeaseMs?: number;
  /**
   * Without `auth`, the host names the server answers to besides `localhost`, `127.0.0.1` and
   * `[::1]` (any other `Host` is answered 421, against DNS rebinding). With `auth`, every host is
   * answered. Names without port, lower case, IPv6 in brackets.
   */
  allowedHosts?: readonly string[];
  /**
   * The key of the tags that make lease tokens unguessable (at least 16 bytes). Without it, a key
   * kept in `store` (shared by every server on that store), or a random one per server without a
   * store: then tokens are accepted only by the server that handed them out.
   */
  leaseKey?: string | Uint8Array;
  /**
   * Periodic flushes of the metrics to sinks (`otlpSink`, `callbackSink`, your own), besides the
   * Prometheus endpoint: `{ sinks, intervalMs, settleMs }`. @default no sinks
   */
  metrics?: MetricsOptions;
  /**
   * The id this sidecar sends and receives app-to-app messages as (`POST /send/:app/:queue`,
   * `POST /deliver/:queue`); needed with `delivery`.
   */
  appId?: string;
  /** App-to-app delivery: peers, keys, retry policies, poison sink (see `DeliveryOptions`). @default off */
  delivery?: DeliveryOptions;
}

/** A sidecar server: a fetch handler plus its lifecycle. */
export interface KvqServer {
  /** Answers one request (pass it to `Deno.serve`, `Bun.serve`, or {@linkcode serve}). */
  fetch(request: Request): Promise<Response>;
  /** The server's instance of queue `name` (opened on demand with a store). */
  queue(name: string): Queue;
  /** True when callers need a token (`auth` was given): {@linkcode serve} binds beyond loopback only then. */
  readonly authenticated: boolean;
  /** The metrics: `snapshot()`, `flush()`, and `recordDelivery` / `recordPoison` for app-to-app delivery. */
  readonly metrics: ServerMetrics;
  /** App-to-app delivery (`send`, counters, outboxes), when `delivery` was given. */
  readonly delivery: Delivery | undefined;
  /**
   * Stops serving remote consumers (claims still waiting answer with nothing), stops the metrics
   * timer and flushes the metrics to their sinks once more (when there are sinks). Leases already
   * handed out stay in the store: their consumers may report to
   * another, or a restarted, server on the same store. The store and your queues' own workers stay
   * open.
   */
  close(): Promise<void>;
}

const JSON_TYPE = "application/json; charset=utf-8";
function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/** JSON with `Uint8Array` values as `{ "$bytes": "<base64>" }`. */
function json(body: unknown, status = 200): Response {
  const text = JSON.stringify(
    body,
    (_k, v) => v instanceof Uint8Array ? { $bytes: toBase64(v) } : v,
  );
  return new Response(text, { status, headers: { "content-type": JSON_TYPE } });
}

function optionalNumber(
  query: string | undefined,
  what: string,
  min: number,
  max: number,
): number | undefined {
  if (query === undefined || query === "") return undefined;
  const n = Number(query);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new RangeError(
      `Invalid ${what}: expected an integer from ${min} to ${max}, got ${JSON.stringify(query)}`,
    );
  }
  return n;
}

/**
 * Creates the sidecar: a fetch handler for the JSON API, the consumer API for other languages,
 * `GET /metrics` (Prometheus), `GET /healthz` and the dashboard at `GET /`.
 *
 * Errors are answered as `{ "error": { "name", "message" } }`: bad input 400, missing or wrong
 * token 401, cross-site mutation 403, unknown job or queue 404, wrong state or lost lease 409, too
 * large 413, body not JSON 415, foreign `Host` without auth 421, queue full 429, store unavailable
 * 503.
 *
 * Hardened by default: the token is checked before a body is read, and a body is counted as it
 * arrives and abandoned past `maxBodyBytes`; mutations must not come from another site and their
 * bodies must be `application/json`; without `auth`, only loopback host names are answered. Reads
 * of a queue that does not exist are 404 and open nothing.
 *
 * @param options See {@linkcode ServerOptions}.
 * @returns The server: `fetch`, `queue(name)` and `close()`.
 * @throws {TypeError} When neither `store` nor `queues` is given, or a token is empty.
 *
 * @example Serve a store with a token on Deno, Bun or Node
 * ```ts
 * import { MemoryKv } from "@kvq/kvq/memory";
 * import { createServer, serve } from "@kvq/kvq/server";
 * const app = createServer({ store: new MemoryKv(), auth: "s3cret" });
 * const res = await app.fetch(
 *   new Request("http://kvq/queues/mail/jobs", {
 *     method: "POST",
 *     headers: { authorization: "Bearer s3cret", "content-type": "application/json" },
 *     body: JSON.stringify({ data: { to: "a@example.com" }, delay: 1000 }),
 *   }),
 * );
 * console.log(res.status, (await res.json()).job.state); // 201 "scheduled"
 * const http = await serve(app, { port: 0 });
 * console.log(`listening on ${http.url}`);
 * await http.close();
 * await app.close();
 * ```
 */
export function createServer(options: ServerOptions): KvqServer {
  if (options === null || typeof options !== "object") {
    throw new TypeError("Cannot create server: expected an options object");
  }
  const stats = new ChartStats();
  const queueOptions: QueueOptions = { ...options.queueOptions };
  if (options.signingKey !== undefined) queueOptions.signingKey = options.signingKey;
  const registry = new Registry(options.queues ?? [], options.store, queueOptions, (q) => stats.attach(q));
  const tags = new LeaseTags(options.leaseKey, options.store, queueOptions.root ?? DEFAULT_ROOT);
  const consumers = new Consumers((name) => registry.open(name), tags);
  const maxBody = options.maxBodyBytes ?? 8 * 1024 * 1024;
  const maxWait = options.maxWaitMs ?? 20_000;
  const minLease = options.minLeaseMs ?? 1000;
  const defaultLease = options.defaultLeaseMs ?? 30_000;
  const hosts = new Set([...LOOPBACK_HOSTS, ...(options.allowedHosts ?? []).map((h) => hostName(h))]);
  const auth = options.auth;
  let allowed: ((req: Request) => Promise<boolean>) | undefined;
  if (typeof auth === "function") allowed = async (req) => (await auth(req)) === true;
  else if (auth !== undefined) {
    const tokens = typeof auth === "string" ? [auth] : [...auth];
    if (!tokens.length) throw new TypeError("Invalid auth: expected at least one token");
    const bearer = bearerAuth(tokens);
    allowed = (req) => bearer.check(req.headers.get("authorization"));
  }

  const readBody = async (c: Context): Promise<unknown> => {
    const bytes = await readLimited(c.req.raw, maxBody);
    if (bytes.length === 0) return {};
    const text = new TextDecoder().decode(bytes);
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new HttpError(400, "SyntaxError", `Invalid JSON body: ${(err as Error).message}`);
    }
  };
  const object = (v: unknown, where: string): Record<string, unknown> => {
    if (v === null || typeof v !== "object" || Array.isArray(v)) {
      throw new TypeError(`Invalid ${where}: expected a JSON object`);
    }
    return v as Record<string, unknown>;
  };
  /** The queue named in the path, opened (for adds and pause/resume). */
  const queueOf = (c: Context): Queue => registry.get(c.req.param("queue") ?? "");
  /** The queue named in the path when it exists; 404 (and nothing opened) otherwise. */
  const existing = (c: Context): Promise<Queue> => registry.existing(c.req.param("queue") ?? "");
  const jobOr404 = async (q: Queue, id: string) => {
    const job = await q.getJob(id);
    if (!job) throw new JobNotFoundError(id, q.name);
    return job;
  };
  const findQueue = async (id: string): Promise<Queue> => {
    const q = await registry.find(id);
    if (!q) throw new HttpError(404, "JobNotFoundError", `Job ${id} was not found in any queue`);
    return q;
  };
  const queueInfo = async (q: Queue) => ({
    name: q.name,
    counts: await q.counts(),
    paused: await q.isPaused(),
  });

  // Last before the routes: its flush timer starts only once no option can throw any more.
  const metrics = new ServerMetrics(
    async () => (await registry.names()).map((n) => registry.open(n)),
    options.metrics,
  );

  const app = new Hono();
  app.onError((err) => errorResponse(err));
  app.notFound((c) =>
    errorResponse(
      new HttpError(404, "NotFoundError", `No route for ${c.req.method} ${new URL(c.req.url).pathname}`),
    )
  );

  if (options.dashboard !== false) registerDashboardPage(app);
  app.get("/healthz", () => json({ ok: true }));
  // Before the bearer middleware: peers' deliveries are authenticated by their signatures.
  // Deliveries and poisonings per peer also go to the metrics (kvq_deliveries_total, kvq_delivery_poison_total).
  const userOnEvent = options.delivery?.onEvent;
  const delivery = registerDeliveryRoutes(app, {
    appId: options.appId,
    options: options.delivery && {
      ...options.delivery,
      onEvent: (e) => {
        if (e.type === "delivered") metrics.recordDelivery(e.peer);
        else if (e.type === "poisoned") metrics.recordPoison(e.peer);
        userOnEvent?.(e);
      },
    },
    store: options.store,
    root: queueOptions.root,
    queue: (name) => registry.get(name),
    maxBodyBytes: maxBody,
    authorize: allowed,
    readJson: readBody,
  });

  app.use("*", async (c, next) => {
    if (!allowed) return await next();
    if (options.publicMetrics && c.req.path === "/metrics") return await next();
    if (!(await allowed(c.req.raw))) {
      return errorResponse(
        new HttpError(
          401,
          "UnauthorizedError",
          "Missing or invalid bearer token (Authorization: Bearer <token>)",
        ),
      );
    }
    await next();
  });

  app.get("/metrics", async () => {
    const text = renderPrometheus(await metrics.snapshot());
    return new Response(text, { headers: { "content-type": PROMETHEUS_CONTENT_TYPE } });
  });

  // ---------------------------------------------------------------- queues
  app.get("/queues", async () => {
    const names = await registry.names();
    return json({ queues: await Promise.all(names.map((n) => queueInfo(registry.open(n)))) });
  });
  app.get("/queues/:queue", async (c) => json(await queueInfo(await existing(c))));
  app.get("/queues/:queue/counts", async (c) => json(await (await existing(c)).counts()));
  app.post("/queues/:queue/pause", async (c) => {
    const q = queueOf(c);
    await q.pause();
    return json({ paused: true });
  });
  app.post("/queues/:queue/resume", async (c) => {
    const q = queueOf(c);
    await q.resume();
    return json({ paused: false });
  });
  app.post(
    "/queues/:queue/dead/redrive",
    async (c) => json({ redriven: await (await existing(c)).redriveAll() }),
  );

  // Promote, remove, clean, search and chart series (server/dashboard/_routes.ts).
  registerDashboardRoutes(app, { registry, stats, maxBodyBytes: maxBody });

  // ---------------------------------------------------------------- jobs
  app.post("/queues/:queue/jobs", async (c) => {
    // The body is read and checked before the queue is opened: a refused add opens nothing.
    const { data, options } = addArgs(await readBody(c), "job");
    const q = queueOf(c);
    const job = await q.add(data, options);
    return json({ job }, job.created ? 201 : 200);
  });
  app.post("/queues/:queue/jobs/bulk", async (c) => {
    const body = await readBody(c);
    const list = Array.isArray(body) ? body : (body as { jobs?: unknown })?.jobs;
    if (!Array.isArray(list)) {
      throw new TypeError('Invalid bulk body: expected {"jobs": [{"data": ...}, ...]}');
    }
    const items = list.map((item, i) => addArgs(item, `job ${i}`));
    const q = queueOf(c);
    const jobs = await q.addBulk(items);
    return json({ jobs }, 201);
  });
  app.get("/queues/:queue/jobs", async (c) => {
    const q = await existing(c);
    const state = (c.req.query("state") ?? "ready") as JobState;
    const limit = optionalNumber(c.req.query("limit"), "limit", 1, 1000) ?? 50;
    const order = c.req.query("order") ?? "oldest";
    if (order !== "oldest" && order !== "newest") {
      throw new TypeError(`Invalid order: expected "oldest" or "newest", got ${JSON.stringify(order)}`);
    }
    const page = await q.list(state, {
      limit,
      cursor: c.req.query("cursor") || null,
      reverse: order === "newest",
    });
    // A page carries no payloads, results or progress values (they can be large, and the dashboard
    // refreshes its list every 2 s): `payloads=true` asks for them, `GET .../jobs/:id` has them.
    if (c.req.query("payloads") === "true") return json(page);
    const jobs = page.jobs.map(({ data: _d, result: _r, progress: _p, ...rest }) => rest);
    return json({ ...page, jobs });
  });
  app.get("/queues/:queue/jobs/:id", async (c) => {
    const q = await existing(c);
    return json({ job: await jobOr404(q, c.req.param("id")) });
  });
  const cancel = async (q: Queue, id: string) => {
    const canceled = await q.cancel(id);
    return json({ canceled, job: await q.getJob(id) });
  };
  const redrive = async (q: Queue, id: string) => json({ job: await q.redrive(id) });
  app.delete("/queues/:queue/jobs/:id", async (c) => await cancel(await existing(c), c.req.param("id")));
  app.post(
    "/queues/:queue/jobs/:id/cancel",
    async (c) => await cancel(await existing(c), c.req.param("id")),
  );
  app.post(
    "/queues/:queue/jobs/:id/redrive",
    async (c) => await redrive(await existing(c), c.req.param("id")),
  );
  app.get("/jobs/:id", async (c) => {
    const id = c.req.param("id");
    return json({ job: await jobOr404(await findQueue(id), id) });
  });
  app.delete("/jobs/:id", async (c) => await cancel(await findQueue(c.req.param("id")), c.req.param("id")));
  app.post(
    "/jobs/:id/cancel",
    async (c) => await cancel(await findQueue(c.req.param("id")), c.req.param("id")),
  );
  app.post(
    "/jobs/:id/redrive",
    async (c) => await redrive(await findQueue(c.req.param("id")), c.req.param("id")),
  );

  // ---------------------------------------------------------------- remote consumers
  app.post("/queues/:queue/claim", async (c) => {
    const body = object(await readBody(c), "claim body");
    const leaseMs = intField(body.leaseMs, "leaseMs", minLease, 24 * 3600_000, defaultLease);
    const wait = intField(body.wait, "wait", 0, maxWait, 0);
    const limit = intField(body.limit, "limit", 1, 100, 1);
    // A claim may wait for a queue's first job, so it opens the queue (reads do not).
    const q = queueOf(c);
    const claimed = await consumers.claim(q, { leaseMs, wait, limit, signal: c.req.raw.signal });
    // With `limit`, a list; without, the single-job answer.
    if (body.limit !== undefined) return json({ jobs: claimed });
    return json(claimed[0] ?? { job: null });
  });
  app.post("/jobs/:id/heartbeat", async (c) => {
    const body = object(await readBody(c), "heartbeat body");
    return json(await consumers.heartbeat(c.req.param("id"), body.token, body.progress));
  });
  app.post("/jobs/:id/complete", async (c) => {
    const body = object(await readBody(c), "complete body");
    return json({ job: await consumers.complete(c.req.param("id"), body.token, body.result) });
  });
  app.post("/jobs/:id/fail", async (c) => {
    const body = object(await readBody(c), "fail body");
    const e = body.error;
    const report: FailureReport = typeof e === "string"
      ? { message: e }
      : e !== null && typeof e === "object"
      ? { ...(e as FailureReport) }
      : { message: "" };
    const retry = boolField(body.retry, "retry");
    if (retry !== undefined) report.retry = retry;
    return json({ job: await consumers.fail(c.req.param("id"), body.token, report) });
  });
  app.post("/jobs/:id/release", async (c) => {
    const body = object(await readBody(c), "release body");
    return json({ job: await consumers.release(c.req.param("id"), body.token) });
  });

  let closed: Promise<void> | undefined;
  const server: KvqServer = {
    authenticated: allowed !== undefined,
    metrics,
    delivery,
    fetch: async (request: Request): Promise<Response> => {
      try {
        // Before routing, so no route (not even the dashboard) answers a foreign host or a
        // cross-site mutation.
        if (!allowed) checkHost(request, hosts);
        checkMutation(request);
        return await app.fetch(request);
      } catch (err) {
        return errorResponse(err);
      }
    },
    queue: (name: string): Queue => registry.open(name),
    close: (): Promise<void> => {
      closed ??= Promise.all([consumers.close(), delivery?.close()]).then(() => {}).finally(() => {
        stats.close();
        return metrics.close();
      });
      return closed;
    },
  };
  // gRPC (server/grpc/) serves the same queues, leases, metrics and auth: see _internals.ts.
  SERVER_INTERNALS.set(server, {
    registry,
    consumers,
    metrics,
    allowed,
    hosts,
    maxBodyBytes: maxBody,
    claim: { defaultLeaseMs: defaultLease, minLeaseMs: minLease, maxWaitMs: maxWait },
  });
  return server;
}
