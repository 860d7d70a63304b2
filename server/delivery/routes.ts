/**
 * The HTTP routes of app-to-app delivery, defined like every route (`../routes/_route.ts`):
 * `POST /send/{app}/{queue}` ({@linkcode sendRoutes}: this app's own callers, behind the bearer
 * token like the rest of the API) and `POST /deliver/{queue}` ({@linkcode deliverRoutes}: peers,
 * registered before the token check and authenticated by each message's HMAC instead, `security:
 * []` in the document). Both exist only when the server has `delivery` options.
 *
 * @module
 */

import { createRoute, z } from "@hono/zod-openapi";
import type { AtomicKv, KvKey, Queue } from "../../mod.ts";
import { HttpError } from "../_errors.ts";
import { define, json, type RouteModule } from "../routes/_route.ts";
import { bool, closedObject, errors, jsonAnswer, MAX_KEY, QueueParams } from "../routes/schemas.ts";
import { Delivery } from "./delivery.ts";
import { DeliveryRefusedError } from "./errors.ts";
import { APP_ID } from "./resolver.ts";
import type { DeliveryOptions } from "./types.ts";

/** What the delivery needs from the server. */
export interface DeliveryDeps {
  /** `ServerOptions.appId`. */
  appId: string | undefined;
  /** `ServerOptions.delivery`. */
  options: DeliveryOptions | undefined;
  /** The server's store (the durable outbox lives there). */
  store: AtomicKv | undefined;
  /** The root prefix of the server's queues. */
  root?: KvKey;
  /** The server's queue `name`, opened. */
  queue: (name: string) => Queue;
  /** Largest request body. */
  maxBodyBytes: number;
}

/**
 * The server's delivery when `delivery` options are given (its routes need it in the route
 * context).
 *
 * @param deps What the delivery needs.
 * @returns The delivery, or `undefined` when the server has no `delivery` options.
 * @throws {TypeError} For `delivery` without `appId`, or malformed delivery options.
 */
export function createDelivery(deps: DeliveryDeps): Delivery | undefined {
  if (deps.options === undefined) return undefined;
  if (deps.appId === undefined) {
    throw new TypeError(
      "Invalid server options: `delivery` needs `appId` (the id this sidecar sends and receives as)",
    );
  }
  return new Delivery(deps.options, {
    appId: deps.appId,
    store: deps.store,
    root: deps.root,
    queue: deps.queue,
    maxBodyBytes: deps.maxBodyBytes,
  });
}

const KEY_ERROR = `expected a string of at most ${MAX_KEY} characters`;

/** The body of `POST /send/{app}/{queue}`. */
const Message = closedObject({
  data: z.unknown().refine((v) => v !== undefined, { error: 'the "data" field (the payload) is missing' })
    .openapi({ description: "The payload (any JSON)" }),
  transient: bool().nullish().openapi({
    description: "Keep the message only in memory until delivered (lost if this sidecar dies)",
    default: false,
  }),
  key: z.string({ error: KEY_ERROR }).max(MAX_KEY, { error: KEY_ERROR }).nullish()
    .openapi({ description: "Idempotency key: a second send with the same key is the first message" }),
}).openapi("Message");

const SendParams = QueueParams.extend({
  app: z.string().regex(APP_ID, {
    error: (issue) =>
      `expected an app id of 1 to 63 ASCII letters, digits, "-" or "_", starting with a letter or digit, ` +
      `got ${JSON.stringify(issue.input)}`,
  }).openapi({ param: { name: "app", in: "path" }, example: "billing" }),
});

const Sent = z.object({
  message: z.object({
    id: z.string(),
    transient: z.boolean(),
    created: z.boolean(),
    app: z.string(),
    queue: z.string(),
  }),
}).openapi("SentMessage");

/** `POST /send/{app}/{queue}` (behind the token, in `ROUTES`), when the server has a delivery. */
export const sendRoutes: RouteModule = (app, ctx) => {
  const delivery = ctx.delivery;
  if (!delivery) return;
  define(
    app,
    createRoute({
      method: "post",
      path: "/send/{app}/{queue}",
      tags: ["delivery"],
      summary: "Send a message to queue `queue` of app `app`: 202 once it is in the outbox",
      middleware: [ctx.body],
      request: {
        params: SendParams,
        body: { required: true, content: { "application/json": { schema: Message } } },
      },
      responses: {
        202: jsonAnswer(Sent, "In the outbox (durable, or in memory with transient)"),
        ...errors(400, 401, 403, 413, 415, 429),
      },
    }),
    async (_c, { params, body }) => {
      const b = body as z.infer<typeof Message>;
      const sent = await delivery.send(params.app, params.queue, b.data, {
        transient: b.transient ?? false,
        ...(typeof b.key === "string" ? { key: b.key } : {}),
      });
      return json({ message: { ...sent, app: params.app, queue: params.queue } }, 202);
    },
  );
};

/**
 * `POST /deliver/{queue}` (in `OPEN_ROUTES`: a peer's message is authenticated by its HMAC
 * signature, not by the token), when the server has a delivery. The body is read by the delivery
 * itself (the signature covers its bytes), so the route declares no body schema; the queue name is
 * checked there too, where a refusal is also reported as a `rejected` event.
 */
export const deliverRoutes: RouteModule = (app, ctx) => {
  const delivery = ctx.delivery;
  if (!delivery) return;
  define(
    app,
    createRoute({
      method: "post",
      path: "/deliver/{queue}",
      tags: ["delivery"],
      summary: "A peer's signed message (x-kvq-* headers, HMAC over id, source, target, queue, " +
        "timestamp and body): 201 stored, 200 a duplicate",
      security: [],
      request: {
        params: z.object({
          queue: z.string().openapi({ param: { name: "queue", in: "path" }, example: "inbox" }),
        }),
      },
      responses: {
        201: jsonAnswer(z.looseObject({}), "Stored as a job"),
        200: jsonAnswer(z.looseObject({}), "Already stored (the same message id)"),
        ...errors(400, 401, 403, 413, 415, 429),
      },
    }),
    async (c, { params }) => {
      try {
        return await delivery.receive(c.req.raw, params.queue);
      } catch (err) {
        if (err instanceof DeliveryRefusedError) throw new HttpError(err.status, err.name, err.message);
        throw err;
      }
    },
  );
};
