/**
 * The gRPC service of a sidecar: `kvq.v1.QueueService` (`proto/kvq/v1/queue.proto`) implemented
 * with Connect over the same queues, leases, metrics and auth as the server's HTTP API. One
 * registration serves gRPC, gRPC-Web and Connect.
 *
 * Nothing about leases is redone here: claims and reports go through the server's `Consumers`
 * (`_consumer.ts`), so tokens carry the same HMAC tag (`_lease.ts`), a token handed out over gRPC
 * is accepted by the HTTP API and the other way round, and a lost lease is refused the same way
 * (FAILED_PRECONDITION here, 409 there). Field checks reuse the HTTP routes' schemas (`routes/schemas.ts`); errors map to codes in
 * `_status.ts`.
 *
 * @module
 */

import { type ConnectRouter, createConnectRouter, type HandlerContext } from "@connectrpc/connect";
import { createFetchHandler } from "@connectrpc/connect/protocol";
import { type AddOptions, JobNotFoundError, type Queue } from "../../mod.ts";
import type { KvqServer } from "../server.ts";
import type { FailureReport } from "../_consumer.ts";
import { HttpError } from "../_errors.ts";
import { checkHost } from "../_guard.ts";
import { addArgs, boolField, intField, MAX_ATTEMPTS, MAX_MS, MAX_RUN_AT } from "../routes/schemas.ts";
import { SERVER_INTERNALS, type ServerInternals } from "../_internals.ts";
import { fromValue, ms, stateOf, toCounts, toJob, toLease } from "./_convert.ts";
import { toConnectError } from "./_status.ts";
import { type JobSpec, QueueService } from "./gen/kvq/v1/queue_pb.ts";

/** How often a claim stream at its credit checks whether its jobs were reported elsewhere, in ms. */
const RECHECK_MS = 1000;
/** The longest lease a claim may ask for: one day, as over HTTP. */
const MAX_LEASE_MS = 24 * 3600_000;

/**
 * A Connect router (`ConnectRouter` of `@connectrpc/connect`), as far as kvq's signatures need to
 * name it: any `ConnectRouter` is one.
 */
export interface GrpcRouter {
  /** Registers a service implementation (see `ConnectRouter.service`). */
  service(...args: never[]): unknown;
}

/** The gRPC service of one sidecar (see {@linkcode createGrpcService}). */
export interface GrpcService {
  /**
   * Registers `kvq.v1.QueueService` on a Connect router: pass it as `routes` to connect-node's
   * `connectNodeAdapter`, Fastify's or Express's Connect plugin, or use {@linkcode serveGrpc}.
   */
  readonly routes: (router: GrpcRouter) => void;
  /**
   * A fetch handler that answers Connect and gRPC-Web (HTTP/1.1 or HTTP/2) under
   * `/kvq.v1.QueueService/`, for `Deno.serve`, `Bun.serve` or any fetch-style server; other paths
   * are 404. gRPC itself needs HTTP/2 trailers, which fetch-style servers do not send: serve it
   * with {@linkcode serveGrpc}.
   */
  fetch(request: Request): Promise<Response>;
  /** True when callers need a token (the server was created with `auth`). */
  readonly authenticated: boolean;
  /** Ends open claim streams (with UNAVAILABLE) and refuses new calls. The server stays open. */
  close(): void;
}

/** A request-shaped view of a call, for the server's auth function and host check. */
function requestOf(ctx: HandlerContext): Request {
  const headers = new Headers();
  ctx.requestHeader.forEach((v, k) => {
    if (!k.startsWith(":")) headers.set(k, v);
  });
  return new Request(ctx.url, { method: "POST", headers });
}

/** An int64 field in ms as a number in `[min, max]`, or `fallback`; the message names `field`. */
function msField(v: bigint | undefined, field: string, min: number, max: number, fallback?: number) {
  return intField(ms(v), field, min, max, fallback as number);
}

/** `add` arguments from a `JobSpec`, checked as the HTTP API checks a body; messages name proto fields. */
function addArgsOf(spec: JobSpec | undefined, where: string): { data: unknown; options: AddOptions } {
  if (!spec) throw new TypeError(`Invalid ${where}: the request has no job (a JobSpec with its data)`);
  if (!spec.data) throw new TypeError(`Invalid ${where}: the "data" field (the payload) is missing`);
  const body: Record<string, unknown> = {
    data: fromValue(spec.data),
    priority: spec.priority,
    delay: msField(spec.delayMs, "delay_ms", 0, MAX_MS),
    runAt: msField(spec.runAtMs, "run_at_ms", 0, MAX_RUN_AT),
    maxAttempts: intField(spec.maxAttempts, "max_attempts", 1, MAX_ATTEMPTS),
    key: spec.key,
    timeout: msField(spec.timeoutMs, "timeout_ms", 1, MAX_MS),
    removeOnComplete: spec.removeOnComplete,
  };
  const b = spec.backoff;
  if (b.case === "backoffMs") body.backoff = msField(b.value, "backoff_ms", 0, MAX_MS);
  if (b.case === "backoffStrategy") {
    const s = b.value;
    if (!["fixed", "linear", "exponential"].includes(s.type)) {
      throw new TypeError(
        `Invalid backoff_strategy.type: expected "fixed", "linear" or "exponential", got ${
          JSON.stringify(s.type)
        }`,
      );
    }
    body.backoff = {
      type: s.type,
      delay: msField(s.delayMs, "backoff_strategy.delay_ms", 0, MAX_MS),
      ...(s.factor !== undefined && { factor: s.factor }),
      ...(s.maxMs !== undefined && { max: msField(s.maxMs, "backoff_strategy.max_ms", 0, MAX_MS) }),
      ...(s.jitter !== undefined && { jitter: s.jitter }),
    };
  }
  for (const k of Object.keys(body)) if (body[k] === undefined) delete body[k];
  return addArgs(body, where);
}

/**
 * Creates the gRPC service of a sidecar made by `createServer`: the same operations as its HTTP
 * API, on the same queues, leases, metrics and auth (bearer token in the `authorization`
 * metadata). Errors are gRPC status codes: INVALID_ARGUMENT naming the field, UNAUTHENTICATED,
 * NOT_FOUND, FAILED_PRECONDITION for a lost lease or a wrong state, RESOURCE_EXHAUSTED,
 * UNAVAILABLE; the kvq error name is in the `kvq-error-name` trailer.
 *
 * `ClaimStream` pushes leased jobs as they become ready, at most `max_in_flight` unreported at a
 * time: a slot frees when the job is completed, failed or released (through any server on the
 * store) or its lease ends.
 *
 * @param server A server from `createServer`.
 * @returns The service: `routes` for a Connect router, `fetch` for Connect and gRPC-Web, `close()`.
 * @throws {TypeError} When `server` was not made by `createServer`.
 *
 * @example Serve gRPC beside the HTTP API, and Connect and gRPC-Web on a fetch-style server
 * ```ts
 * import { MemoryKv } from "@kvq/kvq/memory";
 * import { createServer, serve } from "@kvq/kvq/server";
 * import { createGrpcService, serveGrpc } from "@kvq/kvq/grpc";
 * const app = createServer({ store: new MemoryKv(), auth: "s3cret" });
 * const grpc = createGrpcService(app);
 * const h2 = await serveGrpc(grpc, { port: 0 }); // gRPC, gRPC-Web, Connect over HTTP/2
 * const h1 = await serve(grpc.fetch, { port: 0 }); // Connect, gRPC-Web over HTTP/1.1 (or Deno.serve, Bun.serve)
 * const res = await fetch(`${h1.url}/kvq.v1.QueueService/ListQueues`, {
 *   method: "POST",
 *   headers: { "content-type": "application/json", authorization: "Bearer s3cret" },
 *   body: "{}",
 * });
 * console.log(h2.url, res.status); // http://127.0.0.1:… 200
 * await res.body?.cancel();
 * await h1.close();
 * await h2.close();
 * grpc.close();
 * await app.close();
 * ```
 */
export function createGrpcService(server: KvqServer): GrpcService {
  const internals: ServerInternals | undefined = SERVER_INTERNALS.get(server);
  if (!internals) throw new TypeError("Cannot create the gRPC service: expected a server from createServer");
  const { registry, consumers, allowed, hosts, claim: limits } = internals;
  const shutdown = new AbortController();
  /** Wakes claim streams waiting for a free slot (a job of theirs was reported here). */
  const wakers = new Set<() => void>();
  const wake = () => {
    for (const w of [...wakers]) w();
  };

  const requestGate = async (ctx: HandlerContext): Promise<void> => {
    try {
      if (shutdown.signal.aborted) {
        throw new HttpError(503, "ShutdownError", "The gRPC service is shutting down");
      }
      const request = requestOf(ctx);
      if (!allowed) checkHost(request, hosts);
      const site = request.headers.get("sec-fetch-site");
      if (site !== null && site !== "same-origin" && site !== "none") {
        throw new HttpError(403, "CrossOriginError", `Refused a ${site} request`);
      }
      if (allowed && !(await allowed(request))) {
        throw new HttpError(
          401,
          "UnauthorizedError",
          "Missing or invalid bearer token (metadata authorization: Bearer <token>)",
        );
      }
    } catch (err) {
      throw toConnectError(err);
    }
  };
  /** Runs a unary method body, its errors as gRPC statuses. */
  const unary =
    <I, O>(fn: (req: I, ctx: HandlerContext) => Promise<O>) => async (req: I, ctx: HandlerContext) => {
      try {
        return await fn(req, ctx);
      } catch (err) {
        throw toConnectError(err);
      }
    };
  const jobOr404 = async (q: Queue, id: string) => {
    const job = await q.getJob(id);
    if (!job) throw new JobNotFoundError(id, q.name);
    return job;
  };
  /** The queue named in a request for a job (checked, must exist), or the one holding it. */
  const queueOfJob = async (id: string, queue: string | undefined): Promise<Queue> => {
    if (queue !== undefined) return await registry.existing(queue);
    const q = await registry.find(id);
    if (!q) throw new HttpError(404, "JobNotFoundError", `Job ${id} was not found in any queue`);
    return q;
  };
  const leaseMsOf = (v: bigint | undefined) =>
    msField(v, "lease_ms", limits.minLeaseMs, MAX_LEASE_MS, limits.defaultLeaseMs);

  const routes = (target: GrpcRouter): void => {
    const router = target as unknown as ConnectRouter;
    router.service(QueueService, {
      listQueues: unary(async () => {
        const names = await registry.names();
        const queues = await Promise.all(names.map(async (name) => {
          const q = registry.open(name);
          return { name, counts: toCounts(await q.counts()), paused: await q.isPaused() };
        }));
        return { queues };
      }),
      counts: unary(async (req) => ({
        counts: toCounts(await (await registry.existing(req.queue)).counts()),
      })),
      pause: unary(async (req) => {
        await registry.get(req.queue).pause();
        return { paused: true };
      }),
      resume: unary(async (req) => {
        await registry.get(req.queue).resume();
        return { paused: false };
      }),

      add: unary(async (req) => {
        // Checked before the queue is opened: a refused add opens nothing.
        const { data, options } = addArgsOf(req.job, "job");
        const q = registry.get(req.queue);
        const job = await q.add(data, options);
        return { job: toJob(job), created: job.created };
      }),
      addBulk: unary(async (req) => {
        const items = req.jobs.map((spec, i) => addArgsOf(spec, `jobs[${i}]`));
        const q = registry.get(req.queue);
        const jobs = await q.addBulk(items);
        return { jobs: jobs.map((job) => ({ job: toJob(job), created: job.created })) };
      }),
      getJob: unary(async (req) => {
        const q = await queueOfJob(req.id, req.queue);
        return { job: toJob(await jobOr404(q, req.id)) };
      }),
      listJobs: unary(async (req) => {
        const q = await registry.existing(req.queue);
        const page = await q.list(stateOf(req.state) ?? "ready", {
          limit: intField(req.limit, "limit", 1, 1000, 50),
          cursor: req.cursor || null,
          reverse: req.newest,
        });
        return { jobs: page.jobs.map((j) => toJob(j, req.payloads)), cursor: page.cursor ?? undefined };
      }),
      cancelJob: unary(async (req) => {
        const q = await queueOfJob(req.id, req.queue);
        const canceled = await q.cancel(req.id);
        const job = await q.getJob(req.id);
        return { canceled, job: job ? toJob(job) : undefined };
      }),
      redriveJob: unary(async (req) => {
        const q = await queueOfJob(req.id, req.queue);
        return { job: toJob(await q.redrive(req.id)) };
      }),
      redriveDead: unary(async (req) => ({
        redriven: BigInt(await (await registry.existing(req.queue)).redriveAll()),
      })),
      removeJob: unary(async (req) => {
        const q = req.queue !== undefined ? await registry.existing(req.queue) : await registry.find(req.id);
        return { removed: q ? await q.remove(req.id) : false };
      }),

      claim: unary(async (req, ctx) => {
        const leaseMs = leaseMsOf(req.leaseMs);
        const wait = msField(req.waitMs, "wait_ms", 0, limits.maxWaitMs, 0);
        const limit = intField(req.limit, "limit", 1, 100, 1);
        // A claim may wait for a queue's first job, so it opens the queue (reads do not).
        const q = registry.get(req.queue);
        const claimed = await consumers.claim(q, { leaseMs, wait, limit, signal: ctx.signal });
        return { leases: claimed.map(toLease) };
      }),
      async *claimStream(req, ctx) {
        let q: Queue;
        let leaseMs: number, credit: number, maxJobs: number | undefined;
        try {
          leaseMs = leaseMsOf(req.leaseMs);
          credit = intField(req.maxInFlight, "max_in_flight", 1, 100, 1);
          maxJobs = intField(req.maxJobs, "max_jobs", 1, 2 ** 31 - 1);
          q = registry.get(req.queue);
        } catch (err) {
          throw toConnectError(err);
        }
        const signal = AbortSignal.any([ctx.signal, shutdown.signal]);
        /** Jobs handed out on this stream and not known to be reported: id -> start of the attempt. */
        const inFlight = new Map<string, number | undefined>();
        /** Drops the jobs no longer held by the lease this stream handed out. */
        const recheck = async () => {
          for (const [id, startedAt] of inFlight) {
            const job = await q.getJob(id);
            if (!job || job.state !== "active" || job.startedAt !== startedAt) inFlight.delete(id);
          }
        };
        /** Resolves on a report made here, after RECHECK_MS, or when the stream ends. */
        const nap = () =>
          new Promise<void>((resolve) => {
            const done = () => {
              clearTimeout(timer);
              wakers.delete(done);
              signal.removeEventListener("abort", done);
              resolve();
            };
            const timer = setTimeout(done, RECHECK_MS);
            wakers.add(done);
            signal.addEventListener("abort", done, { once: true });
          });
        let sent = 0;
        try {
          while (!signal.aborted && (maxJobs === undefined || sent < maxJobs)) {
            if (inFlight.size >= credit) {
              await nap();
              await recheck();
              continue;
            }
            const limit = Math.min(credit - inFlight.size, maxJobs === undefined ? 100 : maxJobs - sent);
            const claimed = await consumers.claim(q, { leaseMs, wait: limits.maxWaitMs, limit, signal });
            for (const c of claimed) {
              inFlight.set(c.job.id, c.job.startedAt);
              sent++;
              yield { lease: toLease(c) };
            }
          }
          if (shutdown.signal.aborted) {
            throw new HttpError(503, "ShutdownError", "The gRPC service is shutting down");
          }
        } catch (err) {
          // The client went away: nothing to answer (its leases stay; it may still report them).
          if (ctx.signal.aborted && !shutdown.signal.aborted) return;
          throw toConnectError(err);
        }
      },
      heartbeat: unary(async (req) => {
        const { expiresAt } = await consumers.heartbeat(req.id, req.token, fromValue(req.progress));
        return { expiresAtMs: BigInt(expiresAt) };
      }),
      complete: unary(async (req) => {
        const job = await consumers.complete(req.id, req.token, fromValue(req.result));
        wake();
        return { job: toJob(job) };
      }),
      fail: unary(async (req) => {
        const report: FailureReport = {
          name: req.error?.name,
          message: req.error?.message ?? "",
          stack: req.error?.stack,
        };
        const retry = boolField(req.retry, "retry");
        if (retry !== undefined) report.retry = retry;
        const job = await consumers.fail(req.id, req.token, report);
        wake();
        return { job: toJob(job) };
      }),
      release: unary(async (req) => {
        const job = await consumers.release(req.id, req.token);
        wake();
        return { job: toJob(job) };
      }),
    }, {
      requestGate,
      readMaxBytes: internals.maxBodyBytes,
      shutdownSignal: shutdown.signal,
    });
  };

  const router = createConnectRouter({ grpc: false });
  routes(router);
  const handlers = new Map(router.handlers.map((h) => [h.requestPath, createFetchHandler(h)]));
  return {
    routes,
    authenticated: allowed !== undefined,
    fetch: (request: Request): Promise<Response> => {
      const handler = handlers.get(new URL(request.url).pathname);
      if (handler) return handler(request);
      return Promise.resolve(
        new Response(
          JSON.stringify({ code: "not_found", message: `No RPC at ${new URL(request.url).pathname}` }),
          { status: 404, headers: { "content-type": "application/json" } },
        ),
      );
    },
    close: () => shutdown.abort(),
  };
}
