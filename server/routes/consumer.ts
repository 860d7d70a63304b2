/**
 * The consumer API for other languages: claim leases jobs with a token; heartbeat, complete, fail
 * and release act on a leased job with that token (see `server/_consumer.ts`).
 *
 * @module
 */

import { createRoute, z } from "@hono/zod-openapi";
import type { FailureReport } from "../_consumer.ts";
import { define, json, type RouteModule } from "./_route.ts";
import {
  bool,
  closedObject,
  errors,
  intIn,
  JobBody,
  JobParams,
  JobSchema,
  jsonAnswer,
  MAX_LEASE_MS,
  QueueParams,
} from "./schemas.ts";

const Token = z.string({ error: 'expected the lease "token" from the claim' })
  .min(1, { error: 'expected the lease "token" from the claim' })
  .openapi({ description: "The lease token the claim handed out" });

const Claimed = z.object({
  job: JobSchema,
  token: z.string(),
  leaseMs: z.int(),
  expiresAt: z.int().openapi({ description: "When the lease ends unless renewed, ms since the epoch" }),
}).openapi("Claimed");

/** Claim, heartbeat, complete, fail, release. */
export const consumerRoutes: RouteModule = (app, ctx) => {
  const tags = ["consumer"];
  const { minLeaseMs, maxWaitMs, defaultLeaseMs } = ctx.limits;
  const body = (schema: z.ZodType, required: boolean) => ({
    required,
    content: { "application/json": { schema } },
  });
  const ClaimBody = closedObject({
    leaseMs: intIn(minLeaseMs, MAX_LEASE_MS).nullish()
      .openapi({ description: "The lease's length in ms", default: defaultLeaseMs }),
    wait: intIn(0, maxWaitMs).nullish()
      .openapi({ description: "How long to wait for a job when none is ready, in ms", default: 0 }),
    limit: intIn(1, 100).nullish()
      .openapi({ description: "With it, up to this many jobs in one commit, as a list" }),
  }).openapi("ClaimBody");
  define(
    app,
    createRoute({
      method: "post",
      path: "/queues/{queue}/claim",
      tags,
      summary: "Lease a job (or, with limit, up to limit jobs); {job: null} / {jobs: []} when none came",
      middleware: [ctx.body],
      request: { params: QueueParams, body: body(ClaimBody, false) },
      responses: {
        200: jsonAnswer(
          z.union([Claimed, z.object({ job: z.null() }), z.object({ jobs: z.array(Claimed) })]),
          "The claimed job(s)",
        ),
        ...errors(400, 401, 403, 413, 415, 503),
      },
    }),
    async (c, { params, body }) => {
      const b = body as z.infer<typeof ClaimBody>;
      // A claim may wait for a queue's first job, so it opens the queue (reads do not).
      const q = ctx.registry.get(params.queue);
      const claimed = await ctx.consumers.claim(q, {
        leaseMs: b.leaseMs ?? defaultLeaseMs,
        wait: b.wait ?? 0,
        limit: b.limit ?? 1,
        signal: c.req.raw.signal,
      });
      // With `limit`, a list; without, the single-job answer.
      if (b.limit !== undefined && b.limit !== null) return json({ jobs: claimed });
      return json(claimed[0] ?? { job: null });
    },
  );

  const Heartbeat = closedObject({ token: Token, progress: z.unknown().optional() }).openapi("Heartbeat");
  const Complete = closedObject({ token: Token, result: z.unknown().optional() }).openapi("Complete");
  const Fail = closedObject({
    token: Token,
    error: z.union([
      z.string(),
      z.looseObject({
        name: z.string({ error: "expected a string" }).optional(),
        message: z.string({ error: "expected a string" }).optional(),
        stack: z.string({ error: "expected a string" }).optional(),
      }),
    ], { error: 'expected a message or {"name", "message", "stack"}' }).nullish(),
    retry: bool().nullish().openapi({ description: "false: no retry, the job goes to dead" }),
  }).openapi("Fail");
  const Release = closedObject({ token: Token }).openapi("Release");
  const lease = (action: string, summary: string, schema: z.ZodType, answer: z.ZodType) =>
    createRoute({
      method: "post",
      path: `/jobs/{id}/${action}`,
      tags,
      summary,
      middleware: [ctx.body],
      request: { params: JobParams, body: body(schema, true) },
      responses: { 200: jsonAnswer(answer, "Done"), ...errors(400, 401, 403, 409, 413, 415) },
    });

  define(
    app,
    lease("heartbeat", "Renew the lease (and store progress)", Heartbeat, z.object({ expiresAt: z.int() })),
    async (_c, { params, body }) => json(await ctx.consumers.heartbeat(params.id, body.token, body.progress)),
  );
  define(
    app,
    lease("complete", "Complete the job with its result", Complete, JobBody),
    async (_c, { params, body }) =>
      json({ job: await ctx.consumers.complete(params.id, body.token, body.result) }),
  );
  define(
    app,
    lease("fail", "Fail the attempt (retried with backoff unless retry is false)", Fail, JobBody),
    async (_c, { params, body }) => {
      const b = body as z.infer<typeof Fail>;
      const e = b.error;
      const report: FailureReport = typeof e === "string" ? { message: e } : { message: "", ...e };
      if (b.retry !== undefined && b.retry !== null) report.retry = b.retry;
      return json({ job: await ctx.consumers.fail(params.id, b.token, report) });
    },
  );
  define(
    app,
    lease("release", "Give the job back to ready without counting the attempt", Release, JobBody),
    async (_c, { params, body }) => json({ job: await ctx.consumers.release(params.id, body.token) }),
  );
};
