/**
 * The routes that are not about one queue: `/healthz`, the OpenAPI document, its reference page and
 * that page's script (all open), and `/metrics` (behind the token unless `publicMetrics`). The
 * dashboard page is in `../dashboard/_routes.ts`.
 *
 * @module
 */

import { createRoute, z } from "@hono/zod-openapi";
import { Scalar } from "@scalar/hono-api-reference";
import { assetResponse } from "../_asset.ts";
import { HttpError } from "../_errors.ts";
import { SCALAR_PACKAGE, scalarBundle } from "../_scalar.ts";
import { PROMETHEUS_CONTENT_TYPE, renderPrometheus } from "../metrics/prometheus.ts";
import { define, json, type RouteModule } from "./_route.ts";
import { errors, jsonAnswer } from "./schemas.ts";

const html = (description: string) => ({
  description,
  content: { "text/html": { schema: z.string() } },
});

/** Open routes (registered before the token check): none of them serves data. */
export const systemRoutes: RouteModule = (app, ctx) => {
  define(
    app,
    createRoute({
      method: "get",
      path: "/healthz",
      tags: ["system"],
      summary: "Liveness",
      security: [],
      responses: { 200: jsonAnswer(z.object({ ok: z.literal(true) }), "The server answers") },
    }),
    () => json({ ok: true }),
  );
  define(
    app,
    createRoute({
      method: "get",
      path: "/openapi.json",
      tags: ["system"],
      summary: "This document (OpenAPI 3.1), generated from the routes' own schemas",
      security: [],
      responses: { 200: jsonAnswer(z.looseObject({ openapi: z.string() }), "The document") },
    }),
    () => json(document(app, ctx.authenticated)),
  );
  // Everything the page loads comes from this server: the bundle (UMD, styles included) from
  // /docs/scalar.js, the document from /openapi.json; no web fonts, no telemetry, no developer
  // tools, no AI agent (it would send the document to Scalar's servers). REFERENCE_CSP holds the
  // browser to that.
  const reference = Scalar({
    url: "/openapi.json",
    pageTitle: "kvq sidecar API",
    cdn: SCALAR_PATH,
    withDefaultFonts: false,
    telemetry: false,
    showDeveloperTools: "never",
    agent: { disabled: true },
  });
  define(
    app,
    createRoute({
      method: "get",
      path: "/docs",
      tags: ["system"],
      summary:
        `An interactive reference of this API (Scalar, served by this server from the npm package ${SCALAR_PACKAGE}; ` +
        "without it, a page that says how to get it)",
      security: [],
      responses: { 200: html("The reference page") },
    }),
    async (c) => {
      if (await scalarBundle() === undefined) {
        return assetResponse(c.req.raw, NO_REFERENCE_HTML, "text/html; charset=utf-8", { csp: FALLBACK_CSP });
      }
      const page = await (reference(c, () => Promise.resolve()) as Promise<Response>);
      page.headers.set("content-security-policy", REFERENCE_CSP);
      page.headers.set("referrer-policy", "no-referrer");
      return page;
    },
  );
  define(
    app,
    createRoute({
      method: "get",
      path: SCALAR_PATH,
      tags: ["system"],
      summary: `The reference page's script: the standalone bundle of the installed ${SCALAR_PACKAGE}`,
      security: [],
      responses: {
        200: { description: "The script", content: { "text/javascript": { schema: z.string() } } },
        ...errors(404),
      },
    }),
    async (c) => {
      const bundle = await scalarBundle();
      if (bundle === undefined) {
        throw new HttpError(
          404,
          "NotFoundError",
          `${SCALAR_PACKAGE} is not installed (npm install ${SCALAR_PACKAGE})`,
        );
      }
      return assetResponse(c.req.raw, bundle.body, "text/javascript; charset=utf-8", {
        etag: `scalar-${bundle.version}`,
      });
    },
  );
};

/** Where the reference page loads its script from. */
const SCALAR_PATH = "/docs/scalar.js";

/** The reference page: scripts, styles, fonts, images and requests from this server only. */
const REFERENCE_CSP =
  "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; " +
  "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
const FALLBACK_CSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** `/docs` when the reference's bundle is not installed: what to do, and the document itself. */
const NO_REFERENCE_HTML = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>kvq sidecar API</title></head>
<body>
<h1>kvq sidecar API</h1>
<p>The interactive reference needs the npm package <code>${SCALAR_PACKAGE}</code>, which is not installed
beside this server: <code>npm install ${SCALAR_PACKAGE}</code>, then restart it.</p>
<p>The API's OpenAPI 3.1 document: <a href="/openapi.json">/openapi.json</a>.</p>
</body>
</html>
`;

/** `GET /metrics`: Prometheus text. */
export const metricsRoutes: RouteModule = (app, ctx) => {
  define(
    app,
    createRoute({
      method: "get",
      path: "/metrics",
      tags: ["system"],
      summary:
        "Prometheus metrics: jobs per state per queue, totals from the store, wait and run times, deliveries",
      responses: {
        200: {
          description: "Prometheus text format 0.0.4",
          content: { "text/plain": { schema: z.string() } },
        },
        ...errors(401),
      },
    }),
    async () => {
      const text = renderPrometheus(await ctx.metrics.snapshot());
      return new Response(text, { headers: { "content-type": PROMETHEUS_CONTENT_TYPE } });
    },
  );
};

const documents = new WeakMap<object, unknown>();

/** The app's OpenAPI 3.1 document (made once: the routes do not change after start). */
export function document(app: Parameters<RouteModule>[0], authenticated: boolean): unknown {
  let doc = documents.get(app);
  if (doc === undefined) {
    doc = app.getOpenAPI31Document({
      openapi: "3.1.0",
      security: authenticated ? [{ bearer: [] }] : [],
      info: {
        title: "kvq sidecar",
        version: "0.1.0",
        description: "Enqueue, inspect, manage and consume kvq jobs over HTTP. Errors are " +
          '`{ "error": { "name", "message" } }`; a 400 names the field.',
      },
    });
    documents.set(app, doc);
  }
  return doc;
}
