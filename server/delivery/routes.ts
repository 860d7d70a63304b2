/**
 * The HTTP routes of app-to-app delivery: `POST /send/:app/:queue` (this app's own callers, bearer
 * auth like the rest of the API) and `POST /deliver/:queue` (peers, authenticated by each message's
 * HMAC instead of a token).
 *
 * @module
 */

import type { Context, Hono } from "hono";
import type { AtomicKv, KvKey, Queue } from "../../mod.ts";
import { HttpError } from "../_errors.ts";
import { boolField, MAX_KEY } from "../_input.ts";
import { Delivery } from "./delivery.ts";
import { DeliveryRefusedError } from "./errors.ts";
import type { DeliveryOptions } from "./types.ts";

/** What the routes need from the server. */
export interface DeliveryRouteDeps {
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
  /** The server's bearer check (`undefined`: open to all). */
  authorize: ((request: Request) => Promise<boolean>) | undefined;
  /** Reads a request's JSON body under the server's limit. */
  readJson: (c: Context) => Promise<unknown>;
}

const SEND_FIELDS = new Set(["data", "transient", "key"]);

/**
 * Registers the delivery routes on `app` when `appId` and `delivery` are given. Call it before the
 * server's bearer middleware: `/deliver` is authenticated by signatures, `/send` checks the bearer
 * token here.
 *
 * @param app The server's Hono app.
 * @param deps What the routes need.
 * @returns The delivery, or `undefined` when the server has no `delivery` options.
 * @throws {TypeError} For `delivery` without `appId`, or malformed delivery options.
 */
export function registerDeliveryRoutes(app: Hono, deps: DeliveryRouteDeps): Delivery | undefined {
  if (deps.options === undefined) return undefined;
  if (deps.appId === undefined) {
    throw new TypeError(
      "Invalid server options: `delivery` needs `appId` (the id this sidecar sends and receives as)",
    );
  }
  const delivery = new Delivery(deps.options, {
    appId: deps.appId,
    store: deps.store,
    root: deps.root,
    queue: deps.queue,
    maxBodyBytes: deps.maxBodyBytes,
  });
  app.post("/send/:app/:queue", async (c) => {
    if (deps.authorize && !(await deps.authorize(c.req.raw))) {
      throw new HttpError(
        401,
        "UnauthorizedError",
        "Missing or invalid bearer token (Authorization: Bearer <token>)",
      );
    }
    const body = await deps.readJson(c);
    if (body === null || typeof body !== "object" || Array.isArray(body)) {
      throw new TypeError('Invalid message: expected a JSON object like {"data": ...}');
    }
    const b = body as Record<string, unknown>;
    for (const k of Object.keys(b)) {
      if (!SEND_FIELDS.has(k)) {
        throw new TypeError(
          `Invalid message: unknown field "${k}" (expected ${[...SEND_FIELDS].join(", ")})`,
        );
      }
    }
    if (!("data" in b)) throw new TypeError('Invalid message: the "data" field (the payload) is missing');
    if (b.key !== undefined && b.key !== null && (typeof b.key !== "string" || b.key.length > MAX_KEY)) {
      throw new TypeError(`Invalid key: expected a string of at most ${MAX_KEY} characters`);
    }
    const transient = boolField(b.transient, "transient") ?? false;
    const target = c.req.param("app");
    const queue = c.req.param("queue");
    const sent = await delivery.send(target, queue, b.data, {
      transient,
      ...(typeof b.key === "string" ? { key: b.key } : {}),
    });
    return c.json({ message: { ...sent, app: target, queue } }, 202);
  });
  app.post("/deliver/:queue", async (c) => {
    try {
      return await delivery.receive(c.req.raw, c.req.param("queue"));
    } catch (err) {
      if (err instanceof DeliveryRefusedError) throw new HttpError(err.status, err.name, err.message);
      throw err;
    }
  });
  return delivery;
}
