/**
 * The dashboard's routes. Open ones (registered before the auth check; they hold no data): the
 * page at `GET /`, its script and styles, and uPlot's at `/assets/*`. Authenticated ones: run a
 * delayed job or a waiting retry now (`promote`), delete a job, clean ended jobs by age or count,
 * search by id or idempotency key, and the chart series of a queue.
 *
 * @module
 */

import type { Hono } from "hono";
import type { Job, Queue } from "../../mod.ts";
import { readLimited } from "../_body.ts";
import { HttpError } from "../_errors.ts";
import { intField, MAX_KEY, MAX_MS } from "../_input.ts";
import type { Registry } from "../_registry.ts";
import { DASHBOARD_CSS, DASHBOARD_HTML } from "./_page.ts";
import { DASHBOARD_JS } from "./_script.ts";
import type { ChartStats } from "./_stats.ts";
import { UPLOT_CSS, UPLOT_JS } from "./_uplot.ts";

/** What the dashboard's routes use of the server. */
export interface DashboardDeps {
  /** The server's queues. */
  readonly registry: Registry;
  /** The chart data. */
  readonly stats: ChartStats;
  /** Largest request body in bytes. */
  readonly maxBodyBytes: number;
}

/** The page's scripts and styles come only from this server; `fetch` only to it. */
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

function asset(body: string, type: string): () => Response {
  return () =>
    new Response(body, {
      headers: {
        "content-type": type,
        "content-security-policy": CSP,
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
        "cache-control": type.startsWith("text/html") ? "no-cache" : "public, max-age=300",
      },
    });
}

/**
 * Serves the page and its assets: `GET /`, `/assets/dashboard.js`, `/assets/dashboard.css`,
 * `/assets/uplot.js`, `/assets/uplot.css`. Register before the auth check.
 */
export function registerDashboardPage(app: Hono): void {
  app.get("/", asset(DASHBOARD_HTML, "text/html; charset=utf-8"));
  app.get("/assets/dashboard.js", asset(DASHBOARD_JS, "text/javascript; charset=utf-8"));
  app.get("/assets/dashboard.css", asset(DASHBOARD_CSS, "text/css; charset=utf-8"));
  app.get("/assets/uplot.js", asset(UPLOT_JS, "text/javascript; charset=utf-8"));
  app.get("/assets/uplot.css", asset(UPLOT_CSS, "text/css; charset=utf-8"));
}

/** A job without its payload, result and progress (they can be large; opening a job fetches them). */
function summary(job: Job): Omit<Job, "data" | "result" | "progress"> {
  const { data: _d, result: _r, progress: _p, ...rest } = job;
  return rest;
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8" },
  });
}

const CLEAN_STATES = ["completed", "dead", "canceled"] as const;
type CleanState = (typeof CLEAN_STATES)[number];

/**
 * The body of `POST /queues/:queue/clean`: `{ "state": "completed" | "dead" | "canceled", "age"?:
 * ms, "count"?: n }`, at least one of `age` and `count`.
 *
 * @throws {TypeError | RangeError} For a bad body; the message names the field.
 */
export function cleanArgs(body: unknown): { state: CleanState; age?: number; count?: number } {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new TypeError(
      'Invalid clean body: expected a JSON object like {"state": "completed", "age": 3600000}',
    );
  }
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) {
    if (k !== "state" && k !== "age" && k !== "count") {
      throw new TypeError(`Invalid clean body: unknown field "${k}" (expected state, age, count)`);
    }
  }
  const state = b.state ?? "completed";
  if (!CLEAN_STATES.includes(state as CleanState)) {
    throw new TypeError(
      `Invalid state: expected ${CLEAN_STATES.join(", ")} (jobs that ended), got ${JSON.stringify(state)}`,
    );
  }
  const age = intField(b.age, "age", 0, MAX_MS);
  const count = intField(b.count, "count", 0, 1_000_000_000);
  if (age === undefined && count === undefined) {
    throw new TypeError(
      'Invalid clean body: give "age" (ms since the job ended), "count" (newest kept), or both',
    );
  }
  const out: { state: CleanState; age?: number; count?: number } = { state: state as CleanState };
  if (age !== undefined) out.age = age;
  if (count !== undefined) out.count = count;
  return out;
}

/**
 * Registers the dashboard's API routes (after the auth check):
 *
 * - `POST /queues/:queue/jobs/:id/promote`: a scheduled job, or a failed one waiting for its retry,
 *   becomes ready now (`Queue.promote`); `{ job }`, 409 in another state.
 * - `POST /queues/:queue/jobs/:id/remove`: deletes a job that is not active (`Queue.remove`);
 *   `{ removed }`, 409 when active, 404 when absent.
 * - `POST /queues/:queue/clean` `{ state, age?, count? }`: removes ended jobs of `state` older than
 *   `age` ms or beyond the newest `count` (`Queue.clean`); `{ removed }`.
 * - `GET /search?q=&queue=`: the job with id `q` and the jobs holding idempotency key `q`, in
 *   `queue` or in every queue; `{ jobs }` without payloads.
 * - `GET /queues/:queue/stats`: the chart series (see {@linkcode ChartStats}).
 */
export function registerDashboardRoutes(app: Hono, deps: DashboardDeps): void {
  const { registry, stats } = deps;
  const existing = (name: string | undefined): Promise<Queue> => registry.existing(name ?? "");
  const readJson = async (request: Request): Promise<unknown> => {
    const bytes = await readLimited(request, deps.maxBodyBytes);
    if (bytes.length === 0) return {};
    try {
      return JSON.parse(new TextDecoder().decode(bytes));
    } catch (err) {
      throw new HttpError(400, "SyntaxError", `Invalid JSON body: ${(err as Error).message}`);
    }
  };

  app.post("/queues/:queue/jobs/:id/promote", async (c) => {
    const q = await existing(c.req.param("queue"));
    return json({ job: summary(await q.promote(c.req.param("id"))) });
  });
  app.post("/queues/:queue/jobs/:id/remove", async (c) => {
    const q = await existing(c.req.param("queue"));
    const id = c.req.param("id");
    if (!(await q.remove(id))) {
      throw new HttpError(404, "JobNotFoundError", `Job ${id} was not found in queue "${q.name}"`);
    }
    return json({ removed: true });
  });
  app.post("/queues/:queue/clean", async (c) => {
    const { state, ...rule } = cleanArgs(await readJson(c.req.raw));
    const q = await existing(c.req.param("queue"));
    return json({ removed: await q.clean(state, rule) });
  });
  app.get("/search", async (c) => {
    const term = (c.req.query("q") ?? "").trim();
    if (term === "" || term.length > MAX_KEY) {
      throw new TypeError(`Invalid q: expected a job id or idempotency key of 1 to ${MAX_KEY} characters`);
    }
    const only = c.req.query("queue");
    const queues = only ? [await existing(only)] : (await registry.names()).map((n) => registry.open(n));
    const found = new Map<string, Job>();
    for (const q of queues) {
      const [byId, byKey] = await Promise.all([q.getJob(term), q.getJobByKey(term)]);
      for (const job of [byId, byKey]) if (job) found.set(`${q.name}\u0000${job.id}`, job);
    }
    return json({ jobs: [...found.values()].map(summary) });
  });
  app.get("/queues/:queue/stats", async (c) => {
    const q = await existing(c.req.param("queue"));
    return json(stats.read(q.name));
  });
}
