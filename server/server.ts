/**
 * The HTTP sidecar: a web-standard `(Request) => Promise<Response>` handler (built with Hono) that
 * lets any language enqueue, inspect, manage and consume jobs, with a dashboard, Prometheus
 * metrics and an OpenAPI 3.1 document generated from the routes' own schemas. The routes live in
 * `routes/` (one module per concern); this file applies the checks every request passes, in order.
 *
 * @module
 */

import { OpenAPIHono } from "@hono/zod-openapi";
import { type AtomicKv, DEFAULT_ROOT, type Queue, type QueueOptions } from "../mod.ts";
import { bearerAuth } from "./_auth.ts";
import { errorResponse, HttpError } from "./_errors.ts";
import { Registry } from "./_registry.ts";
import { type MetricsOptions, ServerMetrics } from "./metrics/collector.ts";
import { Consumers } from "./_consumer.ts";
import { ChartStats } from "./dashboard/_stats.ts";
import { checkHost, checkMutation, hostName, LOOPBACK_HOSTS, undeclaredBody } from "./_guard.ts";
import { LeaseTags } from "./_lease.ts";
import { SERVER_INTERNALS } from "./_internals.ts";
import type { Delivery } from "./delivery/delivery.ts";
import type { DeliveryOptions } from "./delivery/types.ts";
import { jsonBody, type RouteContext, type RouteModule, validationHook } from "./routes/_route.ts";
import { metricsRoutes, systemRoutes } from "./routes/system.ts";
import { queueRoutes } from "./routes/queues.ts";
import { jobRoutes } from "./routes/jobs.ts";
import { consumerRoutes } from "./routes/consumer.ts";
import { dashboardPageRoutes, dashboardRoutes } from "./dashboard/_routes.ts";
import { createDelivery, deliverRoutes, sendRoutes } from "./delivery/routes.ts";

/**
 * Route modules that answer without a token (registered before the token check). A module here
 * must serve no data: the dashboard page and its assets, `/healthz`, `/openapi.json`, `/docs` and its
 * script, and `/deliver` (a peer's message is authenticated by its HMAC signature instead).
 */
const OPEN_ROUTES: readonly RouteModule[] = [dashboardPageRoutes, systemRoutes, deliverRoutes];
/** Route modules behind the token, one line each (see server/routes/_route.ts for the pattern). */
const ROUTES: readonly RouteModule[] = [
  metricsRoutes,
  queueRoutes,
  dashboardRoutes,
  jobRoutes,
  consumerRoutes,
  sendRoutes,
];

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
   * `GET /assets/*` (the dashboard page and its scripts, which hold no data), `GET /healthz`,
   * `GET /openapi.json` (the API's OpenAPI 3.1 document), `GET /docs` (its reference page) and
   * `GET /docs/scalar.js` (that page's script) are always open, and so is `POST /deliver/:queue`
   * (authenticated by each message's signature).
   * @default open to all
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

/**
 * Creates the sidecar: a fetch handler for the JSON API, the consumer API for other languages,
 * `GET /metrics` (Prometheus), `GET /healthz`, the dashboard at `GET /`, the OpenAPI 3.1
 * document at `GET /openapi.json` and its interactive reference at `GET /docs`.
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

  // Its flush timer starts only once no option but `delivery`'s (next) can throw any more.
  const metrics = new ServerMetrics(
    async () => (await registry.names()).map((n) => registry.open(n)),
    options.metrics,
  );

  // Deliveries and poisonings per peer also go to the metrics (kvq_deliveries_total,
  // kvq_delivery_poison_total).
  const userOnEvent = options.delivery?.onEvent;
  const delivery = createDelivery({
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
  });

  const ctx: RouteContext = {
    registry,
    metrics,
    consumers,
    stats,
    delivery,
    body: jsonBody(maxBody),
    limits: { maxBodyBytes: maxBody, maxWaitMs: maxWait, minLeaseMs: minLease, defaultLeaseMs: defaultLease },
    dashboard: options.dashboard !== false,
    authenticated: allowed !== undefined,
  };
  const app = new OpenAPIHono({ defaultHook: validationHook });
  app.onError((err) => errorResponse(err));
  app.notFound((c) =>
    errorResponse(
      new HttpError(404, "NotFoundError", `No route for ${c.req.method} ${new URL(c.req.url).pathname}`),
    )
  );
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    description: allowed
      ? "Every route but the open ones (`security: []`) needs `Authorization: Bearer <token>`" +
        (options.publicMetrics ? "; `/metrics` is open on this server" : "")
      : "This server was started without auth: no token is needed",
  });

  for (const routes of OPEN_ROUTES) routes(app, ctx);
  // The token is checked here, before any route below reads a body.
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
  for (const routes of ROUTES) routes(app, ctx);

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
        return await app.fetch(await undeclaredBody(request));
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
  // Hono lists a route once per handler (its middleware, validators and handler): once is enough.
  const routes = new Map(
    app.routes.filter((r) => r.method !== "ALL").map((r) => [`${r.method} ${r.path}`, r]),
  );
  served.set(server, [...routes.values()].map(({ method, path }) => ({ method, path })));
  return server;
}

const served = new WeakMap<KvqServer, { method: string; path: string }[]>();

/**
 * The routes a server answers (method and Hono path, `:param` style), middleware left out: what
 * `tests/server/openapi_test.ts` compares with the document. Not part of the public API.
 *
 * @param server A server made by {@linkcode createServer}.
 * @returns Its routes, in registration order.
 */
export function routesOf(server: KvqServer): { method: string; path: string }[] {
  return [...(served.get(server) ?? [])];
}
