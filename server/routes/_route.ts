/**
 * How the sidecar's routes are written. Every route is defined once, with `createRoute` from
 * `@hono/zod-openapi`: its path, parameters, query, body and answers as zod schemas. The same
 * definition validates the request (a 400 naming the field, see {@linkcode validationHook}) and
 * is what `GET /openapi.json` documents. No route validates by hand what its schema can say.
 *
 * A route module is a {@linkcode RouteModule}: a function of the app and the
 * {@linkcode RouteContext} that registers its routes with {@linkcode define}. To add one:
 *
 * 1. write `server/routes/<concern>.ts` exporting `export const fooRoutes: RouteModule = (app, ctx) => { ... }`,
 *    each route `define(app, createRoute({ ..., middleware: [ctx.body] }), handler)` (the `body`
 *    middleware reads a JSON body under the size limit; routes without a body leave it out);
 * 2. add it to `ROUTES` in `server/server.ts` (one line), or to `OPEN_ROUTES` when it must answer
 *    without a token (it must then serve no data);
 * 3. list the file in docs/ARCHITECTURE.md; `tests/server/openapi_test.ts` checks that every route
 *    is documented and that every documented constraint is enforced.
 *
 * Order of checks on every request: Host and cross-site checks (server.ts, before routing), the
 * token (a middleware before every route of `ROUTES`), then the body (read under the limit), then
 * the schemas, then the handler.
 *
 * @module
 */

import type { Context, MiddlewareHandler } from "hono";
import type { OpenAPIHono, RouteConfig, z } from "@hono/zod-openapi";
import { readLimited } from "../_body.ts";
import { errorResponse, HttpError } from "../_errors.ts";
import type { Registry } from "../_registry.ts";
import type { ServerMetrics } from "../metrics/collector.ts";
import type { Consumers } from "../_consumer.ts";
import type { ChartStats } from "../dashboard/_stats.ts";
import type { Delivery } from "../delivery/delivery.ts";

/** What route modules share: the server's queues, metrics, consumers, delivery and limits. */
export interface RouteContext {
  /** The queues served. */
  readonly registry: Registry;
  /** The server's metrics (`GET /metrics` renders their snapshot). */
  readonly metrics: ServerMetrics;
  /** The leases of remote consumers. */
  readonly consumers: Consumers;
  /** The dashboard's chart series. */
  readonly stats: ChartStats;
  /** App-to-app delivery, when the server has `delivery` options (its routes exist only then). */
  readonly delivery: Delivery | undefined;
  /** Reads a JSON body under the server's size limit: put it in a route's `middleware`. */
  readonly body: MiddlewareHandler;
  /** The server's limits (they appear in the document as the schemas' bounds). */
  readonly limits: {
    readonly maxBodyBytes: number;
    readonly maxWaitMs: number;
    readonly minLeaseMs: number;
    readonly defaultLeaseMs: number;
  };
  /** Serve the dashboard at `GET /`. */
  readonly dashboard: boolean;
  /** True when callers need a token: the document then asks for it on every route not marked open. */
  readonly authenticated: boolean;
}

/** A module of routes: registers them on `app`. */
export type RouteModule = (app: OpenAPIHono, ctx: RouteContext) => void;

const JSON_TYPE = "application/json; charset=utf-8";

function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/** A JSON answer, with `Uint8Array` values as `{ "$bytes": "<base64>" }`. */
export function json(body: unknown, status = 200): Response {
  const text = JSON.stringify(
    body,
    (_k, v) => v instanceof Uint8Array ? { $bytes: toBase64(v) } : v,
  );
  return new Response(text, { status, headers: { "content-type": JSON_TYPE } });
}

/**
 * A middleware that reads the request's body under `limit` bytes and parses it as JSON (an empty
 * body is `{}`), before any schema sees it: past the limit a 413, not JSON a 400 `SyntaxError`.
 * The text is left in Hono's body cache, where the route's validator reads it.
 */
export function jsonBody(limit: number): MiddlewareHandler {
  return async (c, next) => {
    const bytes = await readLimited(c.req.raw, limit);
    let text = new TextDecoder().decode(bytes);
    if (text.trim() === "") text = "{}";
    try {
      JSON.parse(text);
    } catch (err) {
      throw new HttpError(400, "SyntaxError", `Invalid JSON body: ${(err as Error).message}`);
    }
    (c.req.bodyCache as Record<string, unknown>).text = Promise.resolve(text);
    await next();
  };
}

/** Issue codes that mean "a number out of its range": answered as a `RangeError`. */
const RANGE_CODES = new Set(["too_big", "too_small", "not_multiple_of"]);

/** `jobs.3.delay` for the path `["jobs", 3, "delay"]`; `body` / `query` / `path` for the root. */
function fieldName(path: readonly PropertyKey[], target: string): string {
  if (path.length === 0) return target === "json" ? "body" : target === "param" ? "path" : target;
  return path.map(String).join(".");
}

type Issue = z.ZodError["issues"][number];

/**
 * For a value that matches no branch of a union, the problem of the branch whose type it has (the
 * object whose `delay` is out of range, rather than "not a number or an object"); the union's own
 * message when it has the type of none.
 */
function innermost(issue: Issue): Issue {
  if (issue.code !== "invalid_union") return issue;
  for (const branch of issue.errors) {
    const first = branch[0];
    if (first && !(first.code === "invalid_type" && first.path.length === 0)) {
      return innermost({ ...first, path: [...issue.path, ...first.path] } as Issue);
    }
  }
  return issue;
}

/**
 * The first problem zod found, as the error the sidecar answers with: `Invalid <field>: <what was
 * expected>, got <value>`, a `RangeError` for a number out of range or not an integer, a
 * `TypeError` otherwise (both 400).
 */
export function validationError(error: z.ZodError, target: string): Error {
  const issue = innermost(error.issues[0]);
  const field = fieldName(issue.path, target);
  const message = `Invalid ${field}: ${issue.message}`;
  const numeric = RANGE_CODES.has(issue.code) ||
    (issue.code === "invalid_type" && ["number", "int"].includes(String(issue.expected)));
  return numeric ? new RangeError(message) : new TypeError(message);
}

/** The app's `defaultHook`: a failed validation becomes a 400 naming the field. */
export function validationHook(
  result: { success: boolean; error?: z.ZodError; target: string },
  _c: Context,
): Response | undefined {
  if (result.success || !result.error) return undefined;
  return errorResponse(validationError(result.error, result.target));
}

/** What a handler gets: the context and the request's validated parts. */
export interface Valid {
  /** The validated body (`{}` when the route has none). */
  body: Record<string, unknown>;
  /** The validated query. */
  query: Record<string, string | undefined>;
  /** The validated path parameters. */
  params: Record<string, string>;
}

/**
 * Registers `route` with `handler` on `app`: the route is documented, and its schemas validate the
 * request before `handler` runs. The handler answers a `Response` (see {@linkcode json}).
 */
export function define(
  app: OpenAPIHono,
  route: RouteConfig,
  handler: (c: Context, valid: Valid) => Promise<Response> | Response,
): void {
  app.openapi(
    route,
    ((c: Context) => {
      const req = c.req as unknown as { valid(target: string): unknown };
      const part = (target: string, present: unknown) => (present ? req.valid(target) : {}) ?? {};
      const body = route.request?.body ? part("json", true) : {};
      return handler(c, {
        body: body as Valid["body"],
        query: part("query", route.request?.query) as Valid["query"],
        params: part("param", route.request?.params) as Valid["params"],
      });
    }) as never,
  );
}
