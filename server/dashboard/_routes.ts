/**
 * The dashboard's routes, defined like every route (`../routes/_route.ts`). Open ones
 * ({@linkcode dashboardPageRoutes}, registered before the token check; they hold no data): the page
 * at `GET /`, its script and styles, and uPlot's at `/assets/*`. Behind the token
 * ({@linkcode dashboardRoutes}): run a delayed job or a waiting retry now (`promote`), delete a
 * job, clean ended jobs by age or count, search by id or idempotency key, and the chart series of a
 * queue.
 *
 * @module
 */

import { createRoute, z } from "@hono/zod-openapi";
import type { Job } from "../../mod.ts";
import { assetResponse } from "../_asset.ts";
import { HttpError } from "../_errors.ts";
import { define, json, type RouteModule } from "../routes/_route.ts";
import {
  closedObject,
  errors,
  intIn,
  jsonAnswer,
  MAX_KEY,
  MAX_MS,
  QueueJobParams,
  QueueParams,
} from "../routes/schemas.ts";
import { DASHBOARD_CSS, DASHBOARD_HTML } from "./_page.ts";
import { DASHBOARD_JS } from "./_script.ts";
import { UPLOT_CSS, UPLOT_JS } from "./_uplot.ts";

/** The page's scripts and styles come only from this server; `fetch` only to it. */
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const ASSETS: readonly (readonly [path: string, body: string, type: string, what: string])[] = [
  [
    "/",
    DASHBOARD_HTML,
    "text/html; charset=utf-8",
    "The dashboard page (no data: it calls the API with your token)",
  ],
  ["/assets/dashboard.js", DASHBOARD_JS, "text/javascript; charset=utf-8", "The dashboard's script"],
  ["/assets/dashboard.css", DASHBOARD_CSS, "text/css; charset=utf-8", "The dashboard's styles"],
  ["/assets/uplot.js", UPLOT_JS, "text/javascript; charset=utf-8", "uPlot (the charts), served offline"],
  ["/assets/uplot.css", UPLOT_CSS, "text/css; charset=utf-8", "uPlot's styles"],
];

/**
 * Serves the page and its assets: `GET /`, `/assets/dashboard.js`, `/assets/dashboard.css`,
 * `/assets/uplot.js`, `/assets/uplot.css` (open, `security: []`), unless the server has
 * `dashboard: false`. In `OPEN_ROUTES`.
 */
export const dashboardPageRoutes: RouteModule = (app, ctx) => {
  if (!ctx.dashboard) return;
  for (const [path, body, type, what] of ASSETS) {
    define(
      app,
      createRoute({
        method: "get",
        path,
        tags: ["dashboard"],
        summary: what,
        security: [],
        responses: { 200: { description: what, content: { [type.split(";")[0]]: { schema: z.string() } } } },
      }),
      (c) => assetResponse(c.req.raw, body, type, { csp: CSP }),
    );
  }
};

/** A job without its payload, result and progress (they can be large; opening a job fetches them). */
function summary(job: Job): Omit<Job, "data" | "result" | "progress"> {
  const { data: _d, result: _r, progress: _p, ...rest } = job;
  return rest;
}

const CLEAN_STATES = ["completed", "dead", "canceled"] as const;
type CleanState = (typeof CLEAN_STATES)[number];

/**
 * The body of `POST /queues/{queue}/clean`: `{ "state": "completed" | "dead" | "canceled", "age"?:
 * ms, "count"?: n }`, at least one of `age` and `count`.
 */
const CleanBody = closedObject({
  state: z.enum(CLEAN_STATES, {
    error: (i) => `expected ${CLEAN_STATES.join(", ")} (jobs that ended), got ${JSON.stringify(i.input)}`,
  }).nullish().openapi({ description: "The ended state to clean", default: "completed" }),
  age: intIn(0, MAX_MS).nullish().openapi({
    description: "Remove jobs that ended more than this many ms ago",
  }),
  count: intIn(0, 1_000_000_000).nullish().openapi({ description: "Keep only the newest `count` jobs" }),
}).refine((b) => (b.age ?? undefined) !== undefined || (b.count ?? undefined) !== undefined, {
  error: 'give "age" (ms since the job ended), "count" (newest kept), or both',
}).openapi("CleanBody");

const SearchQuery = z.object({
  q: z.string({ error: "expected a job id or idempotency key" }).trim()
    .min(1, { error: `expected a job id or idempotency key of 1 to ${MAX_KEY} characters` })
    .max(MAX_KEY, { error: `expected a job id or idempotency key of 1 to ${MAX_KEY} characters` })
    .openapi({ description: "A job id or an idempotency key" }),
  queue: z.preprocess((v) => v === "" ? undefined : v, QueueParams.shape.queue.optional()).openapi({
    param: { name: "queue", in: "query" },
    description: "Search only this queue (404 when it does not exist; empty: every queue)",
  }),
});

const JobSummary = z.looseObject({ id: z.string(), queue: z.string(), state: z.string() }).openapi(
  "JobSummary",
  {
    description: "A job without data, result and progress",
  },
);

/** The chart series of a queue, as `ChartStats.read` gives them. */
const Stats = z.looseObject({}).openapi("ChartStats", {
  description: "Throughput and latency series per time bucket (see ChartStats)",
});

/**
 * The dashboard's API routes (behind the token, in `ROUTES`):
 *
 * - `POST /queues/{queue}/jobs/{id}/promote`: a scheduled job, or a failed one waiting for its retry,
 *   becomes ready now (`Queue.promote`); `{ job }`, 409 in another state.
 * - `POST /queues/{queue}/jobs/{id}/remove`: deletes a job that is not active (`Queue.remove`);
 *   `{ removed }`, 409 when active, 404 when absent.
 * - `POST /queues/{queue}/clean` `{ state, age?, count? }`: removes ended jobs of `state` older than
 *   `age` ms or beyond the newest `count` (`Queue.clean`); `{ removed }`.
 * - `GET /search?q=&queue=`: the job with id `q` and the jobs holding idempotency key `q`, in
 *   `queue` or in every queue; `{ jobs }` without payloads.
 * - `GET /queues/{queue}/stats`: the chart series (see `ChartStats`).
 */
export const dashboardRoutes: RouteModule = (app, ctx) => {
  const { registry, stats } = ctx;
  const tags = ["dashboard"];
  define(
    app,
    createRoute({
      method: "post",
      path: "/queues/{queue}/jobs/{id}/promote",
      tags,
      summary: "Run a delayed job, or a failed one waiting for its retry, now",
      request: { params: QueueJobParams },
      responses: {
        200: jsonAnswer(z.object({ job: JobSummary }), "Promoted (without its payload)"),
        ...errors(400, 401, 403, 404, 409),
      },
    }),
    async (_c, { params }) => {
      const q = await registry.existing(params.queue);
      return json({ job: summary(await q.promote(params.id)) });
    },
  );
  define(
    app,
    createRoute({
      method: "post",
      path: "/queues/{queue}/jobs/{id}/remove",
      tags,
      summary: "Delete a job that is not active",
      request: { params: QueueJobParams },
      responses: {
        200: jsonAnswer(z.object({ removed: z.literal(true) }), "Removed"),
        ...errors(400, 401, 403, 404, 409),
      },
    }),
    async (_c, { params }) => {
      const q = await registry.existing(params.queue);
      if (!(await q.remove(params.id))) {
        throw new HttpError(404, "JobNotFoundError", `Job ${params.id} was not found in queue "${q.name}"`);
      }
      return json({ removed: true });
    },
  );
  define(
    app,
    createRoute({
      method: "post",
      path: "/queues/{queue}/clean",
      tags,
      summary: "Remove ended jobs of a state older than `age` ms or beyond the newest `count`",
      middleware: [ctx.body],
      request: {
        params: QueueParams,
        body: { required: true, content: { "application/json": { schema: CleanBody } } },
      },
      responses: {
        200: jsonAnswer(z.object({ removed: z.int() }), "How many were removed"),
        ...errors(400, 401, 403, 404, 413, 415),
      },
    }),
    async (_c, { params, body }) => {
      const b = body as z.infer<typeof CleanBody>;
      const rule: { age?: number; count?: number } = {};
      if (b.age !== undefined && b.age !== null) rule.age = b.age;
      if (b.count !== undefined && b.count !== null) rule.count = b.count;
      const q = await registry.existing(params.queue);
      return json({ removed: await q.clean(b.state ?? "completed", rule) });
    },
  );
  define(
    app,
    createRoute({
      method: "get",
      path: "/search",
      tags,
      summary: "The job with id `q` and the jobs holding idempotency key `q`, in one queue or all",
      request: { query: SearchQuery },
      responses: {
        200: jsonAnswer(z.object({ jobs: z.array(JobSummary) }), "The jobs found (without payloads)"),
        ...errors(400, 401, 404),
      },
    }),
    async (_c, { query }) => {
      const term = query.q as string;
      const only = query.queue;
      const queues = only
        ? [await registry.existing(only)]
        : (await registry.names()).map((n) => registry.open(n));
      const found = new Map<string, Job>();
      for (const q of queues) {
        const [byId, byKey] = await Promise.all([q.getJob(term), q.getJobByKey(term)]);
        for (const job of [byId, byKey]) if (job) found.set(`${q.name}\u0000${job.id}`, job);
      }
      return json({ jobs: [...found.values()].map(summary) });
    },
  );
  define(
    app,
    createRoute({
      method: "get",
      path: "/queues/{queue}/stats",
      tags,
      summary: "The queue's chart series: throughput and latency per time bucket",
      request: { params: QueueParams },
      responses: { 200: jsonAnswer(Stats, "The series"), ...errors(400, 401, 404) },
    }),
    async (_c, { params }) => {
      const q = await registry.existing(params.queue);
      return json(stats.read(q.name));
    },
  );
};
