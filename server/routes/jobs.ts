/**
 * The routes about jobs: add one or many, list a state page by page, get, cancel and redrive a job
 * (by queue and id, or by id alone).
 *
 * @module
 */

import { createRoute, z } from "@hono/zod-openapi";
import { JobNotFoundError, type JobState, type Queue } from "../../mod.ts";
import { HttpError } from "../_errors.ts";
import { define, json, type RouteContext, type RouteModule } from "./_route.ts";
import {
  type AddBody,
  AddJob,
  addOptions,
  closedObject,
  errors,
  intIn,
  JobBody,
  JobParams,
  JobSchema,
  JobStateSchema,
  jsonAnswer,
  QueueJobParams,
  QueueParams,
} from "./schemas.ts";

const Bulk = z.preprocess(
  (v) => Array.isArray(v) ? { jobs: v } : v,
  closedObject({ jobs: z.array(AddJob, { error: 'expected {"jobs": [{"data": ...}, ...]}' }) }),
).openapi({ description: 'The jobs to add: `{"jobs": [...]}` (a bare array is accepted too)' });

const ListQuery = z.object({
  state: JobStateSchema.optional().openapi({ description: "The state to list", default: "ready" }),
  limit: z.preprocess(
    (v) => v === "" ? undefined : v,
    z.coerce.number({ error: (i) => `expected an integer from 1 to 1000, got ${JSON.stringify(i.input)}` })
      .pipe(intIn(1, 1000)).optional(),
  ).openapi({ description: "Jobs per page", default: 50, type: "integer", minimum: 1, maximum: 1000 }),
  cursor: z.string().optional().openapi({ description: "The `cursor` of the previous page" }),
  order: z.enum(["oldest", "newest"], {
    error: (i) => `expected "oldest" or "newest", got ${JSON.stringify(i.input)}`,
  }).optional().openapi({ default: "oldest" }),
  payloads: z.enum(["true", "false"], {
    error: (i) => `expected "true" or "false", got ${JSON.stringify(i.input)}`,
  }).optional().openapi({ description: "Include data, result and progress", default: "false" }),
});

const Page = z.object({ jobs: z.array(JobSchema), cursor: z.string().nullable() }).openapi("JobPage");
const Canceled = z.object({ canceled: z.boolean(), job: JobSchema.nullable() }).openapi("Canceled");

/** Add, bulk add, list, get, cancel, redrive. */
export const jobRoutes: RouteModule = (app, ctx) => {
  const tags = ["jobs"];
  const body = (schema: z.ZodType) => ({
    required: true,
    content: { "application/json": { schema } },
  });
  define(
    app,
    createRoute({
      method: "post",
      path: "/queues/{queue}/jobs",
      tags,
      summary: "Add a job (200 instead of 201 when its key names a job already added)",
      middleware: [ctx.body],
      request: { params: QueueParams, body: body(AddJob) },
      responses: {
        201: jsonAnswer(JobBody, "Added"),
        200: jsonAnswer(JobBody, "Already added under this key"),
        ...errors(400, 401, 403, 413, 415, 429),
      },
    }),
    async (_c, { params, body }) => {
      // The body was read and checked before the queue is opened: a refused add opens nothing.
      const { data, options } = addOptions(body as unknown as AddBody);
      const q = ctx.registry.get(params.queue);
      const job = await q.add(data, options);
      return json({ job }, job.created ? 201 : 200);
    },
  );
  define(
    app,
    createRoute({
      method: "post",
      path: "/queues/{queue}/jobs/bulk",
      tags,
      summary: "Add many jobs in order, in one commit",
      middleware: [ctx.body],
      request: { params: QueueParams, body: body(Bulk) },
      responses: {
        201: jsonAnswer(z.object({ jobs: z.array(JobSchema) }), "Added"),
        ...errors(400, 401, 403, 413, 415, 429),
      },
    }),
    async (_c, { params, body }) => {
      const items = (body.jobs as AddBody[]).map(addOptions);
      const q = ctx.registry.get(params.queue);
      const jobs = await q.addBulk(items);
      return json({ jobs }, 201);
    },
  );
  define(
    app,
    createRoute({
      method: "get",
      path: "/queues/{queue}/jobs",
      tags,
      summary: "One page of the jobs in a state, without data, result and progress unless payloads=true",
      request: { params: QueueParams, query: ListQuery },
      responses: { 200: jsonAnswer(Page, "A page"), ...errors(400, 401, 404) },
    }),
    async (_c, { params, query }) => {
      const q = await ctx.registry.existing(params.queue);
      const page = await q.list((query.state ?? "ready") as JobState, {
        limit: (query.limit as number | undefined) ?? 50,
        cursor: query.cursor || null,
        reverse: query.order === "newest",
      });
      // A page carries no payloads, results or progress values (they can be large, and the
      // dashboard refreshes its list every 2 s): `payloads=true` asks for them.
      if (query.payloads === "true") return json(page);
      const jobs = page.jobs.map(({ data: _d, result: _r, progress: _p, ...rest }) => rest);
      return json({ ...page, jobs });
    },
  );
  jobActions(app, ctx, "/queues/{queue}/jobs/{id}", QueueJobParams);
  jobActions(app, ctx, "/jobs/{id}", JobParams);
};

/** Get, cancel and redrive one job, under `prefix` (by queue and id, or by id in any queue). */
function jobActions(app: Parameters<RouteModule>[0], ctx: RouteContext, prefix: string, params: z.ZodObject) {
  const tags = ["jobs"];
  const queueOf = async (p: Record<string, string>): Promise<Queue> => {
    if (p.queue !== undefined) return await ctx.registry.existing(p.queue);
    const q = await ctx.registry.find(p.id);
    if (!q) throw new HttpError(404, "JobNotFoundError", `Job ${p.id} was not found in any queue`);
    return q;
  };
  const where = prefix.startsWith("/queues") ? "" : " (in any queue)";
  define(
    app,
    createRoute({
      method: "get",
      path: prefix,
      tags,
      summary: `One job${where}`,
      request: { params },
      responses: { 200: jsonAnswer(JobBody, "The job"), ...errors(400, 401, 404) },
    }),
    async (_c, { params: p }) => {
      const q = await queueOf(p);
      const job = await q.getJob(p.id);
      if (!job) throw new JobNotFoundError(p.id, q.name);
      return json({ job });
    },
  );
  const cancel = async (p: Record<string, string>) => {
    const q = await queueOf(p);
    const canceled = await q.cancel(p.id);
    return json({ canceled, job: await q.getJob(p.id) });
  };
  for (const [method, path] of [["delete", prefix], ["post", `${prefix}/cancel`]] as const) {
    define(
      app,
      createRoute({
        method,
        path,
        tags,
        summary: `Cancel a job${where}: waiting jobs end at once, an active one when its worker sees it`,
        request: { params },
        responses: {
          200: jsonAnswer(Canceled, "Canceled (false: it had ended)"),
          ...errors(400, 401, 403, 404),
        },
      }),
      async (_c, { params: p }) => await cancel(p),
    );
  }
  define(
    app,
    createRoute({
      method: "post",
      path: `${prefix}/redrive`,
      tags,
      summary: `A dead job back to ready${where}`,
      request: { params },
      responses: { 200: jsonAnswer(JobBody, "Redriven"), ...errors(400, 401, 403, 404, 409) },
    }),
    async (_c, { params: p }) => json({ job: await (await queueOf(p)).redrive(p.id) }),
  );
}
