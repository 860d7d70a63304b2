/**
 * The routes that are not about one queue: `/healthz`, the OpenAPI document and its reference page
 * (all open), and `/metrics` (behind the token unless `publicMetrics`). The dashboard page is in
 * `../dashboard/_routes.ts`.
 *
 * @module
 */

import { createRoute, z } from "@hono/zod-openapi";
import { Scalar } from "@scalar/hono-api-reference";
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
  const reference = Scalar({ url: "/openapi.json", pageTitle: "kvq sidecar API" });
  define(
    app,
    createRoute({
      method: "get",
      path: "/docs",
      tags: ["system"],
      summary: "An interactive reference of this API (Scalar; loads its script from a CDN)",
      security: [],
      responses: { 200: html("The reference page") },
    }),
    (c) => reference(c, () => Promise.resolve()) as Promise<Response>,
  );
};

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
