/**
 * The routes about a queue as a whole: list queues, one queue's counts and paused flag, pause,
 * resume, and redrive every dead job.
 *
 * @module
 */

import { createRoute, z } from "@hono/zod-openapi";
import type { Queue } from "../../mod.ts";
import { define, json, type RouteModule } from "./_route.ts";
import { errors, jsonAnswer, QueueParams } from "./schemas.ts";

const Counts = z.record(z.string(), z.int()).openapi("Counts", {
  description: "Jobs per state",
  example: { ready: 3, scheduled: 1, active: 0, completed: 12, failed: 0, dead: 0, canceled: 0 },
});
const QueueInfo = z.object({ name: z.string(), counts: Counts, paused: z.boolean() }).openapi("QueueInfo");

async function info(q: Queue) {
  return { name: q.name, counts: await q.counts(), paused: await q.isPaused() };
}

/** `/queues`, `/queues/{queue}`, counts, pause, resume, dead/redrive. */
export const queueRoutes: RouteModule = (app, ctx) => {
  const tags = ["queues"];
  define(
    app,
    createRoute({
      method: "get",
      path: "/queues",
      tags,
      summary: "Every queue, with its counts and paused flag",
      responses: { 200: jsonAnswer(z.object({ queues: z.array(QueueInfo) }), "The queues"), ...errors(401) },
    }),
    async () => {
      const names = await ctx.registry.names();
      return json({ queues: await Promise.all(names.map((n) => info(ctx.registry.open(n)))) });
    },
  );
  define(
    app,
    createRoute({
      method: "get",
      path: "/queues/{queue}",
      tags,
      summary: "One queue (404 when it does not exist; nothing is opened)",
      request: { params: QueueParams },
      responses: { 200: jsonAnswer(QueueInfo, "The queue"), ...errors(400, 401, 404) },
    }),
    async (_c, { params }) => json(await info(await ctx.registry.existing(params.queue))),
  );
  define(
    app,
    createRoute({
      method: "get",
      path: "/queues/{queue}/counts",
      tags,
      summary: "Jobs per state",
      request: { params: QueueParams },
      responses: { 200: jsonAnswer(Counts, "The counts"), ...errors(400, 401, 404) },
    }),
    async (_c, { params }) => json(await (await ctx.registry.existing(params.queue)).counts()),
  );
  for (const [action, paused] of [["pause", true], ["resume", false]] as const) {
    define(
      app,
      createRoute({
        method: "post",
        path: `/queues/{queue}/${action}`,
        tags,
        summary: paused ? "Stop handing out jobs (adds still work)" : "Hand out jobs again",
        request: { params: QueueParams },
        responses: {
          200: jsonAnswer(z.object({ paused: z.literal(paused) }), "Done"),
          ...errors(400, 401, 403, 415),
        },
      }),
      async (_c, { params }) => {
        const q = ctx.registry.get(params.queue);
        await (paused ? q.pause() : q.resume());
        return json({ paused });
      },
    );
  }
  define(
    app,
    createRoute({
      method: "post",
      path: "/queues/{queue}/dead/redrive",
      tags,
      summary: "Every dead job back to ready",
      request: { params: QueueParams },
      responses: {
        200: jsonAnswer(z.object({ redriven: z.int() }), "How many were moved"),
        ...errors(400, 401, 403, 404, 415),
      },
    }),
    async (_c, { params }) =>
      json({ redriven: await (await ctx.registry.existing(params.queue)).redriveAll() }),
  );
};
