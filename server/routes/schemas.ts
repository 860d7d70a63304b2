/**
 * The schemas the routes share: path parameters, the job and error bodies, and the builders of
 * checked fields whose messages name what was expected and what came. Each route module keeps the
 * schemas only it uses; the OpenAPI document is generated from all of them.
 *
 * @module
 */

import { z } from "@hono/zod-openapi";
import { JOB_STATES } from "../../mod.ts";
import { QUEUE_NAME } from "../_registry.ts";

/** The longest delay, timeout or backoff a request may ask for: 100 years, in ms. */
export const MAX_MS: number = 100 * 365 * 24 * 3600_000;
/** The latest `runAt` a request may ask for: 9999-12-31T23:59:59.999Z. */
export const MAX_RUN_AT: number = 253_402_300_799_999;
/** The largest `maxAttempts` a request may ask for. */
export const MAX_ATTEMPTS = 1000;
/** The largest priority magnitude. */
export const MAX_PRIORITY: number = 2 ** 31;
/** The longest idempotency key, in characters. */
export const MAX_KEY = 512;
/** The longest lease a claim may ask for: one day, in ms. */
export const MAX_LEASE_MS: number = 24 * 3600_000;

/**
 * An integer in `[min, max]` (JSON `null` counts as absent when `nullish`); every failure says
 * `expected an integer from min to max, got <value>`.
 */
export function intIn(min: number, max: number): z.ZodInt {
  const error = (issue: { input?: unknown }) =>
    `expected an integer from ${min} to ${max}, got ${JSON.stringify(issue.input)}`;
  return z.int({ error }).min(min, { error }).max(max, { error });
}

/** `true` or `false`; a failure says what came. */
export function bool(): z.ZodBoolean {
  return z.boolean({ error: (issue) => `expected true or false, got ${JSON.stringify(issue.input)}` });
}

/**
 * An object that refuses fields it does not name (they are usually typos), saying which.
 */
export function closedObject<T extends z.core.$ZodLooseShape>(shape: T): z.ZodObject<T, z.core.$strict> {
  const names = Object.keys(shape).join(", ");
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === "unrecognized_keys"
        ? `unknown field ${issue.keys.map((k) => `"${k}"`).join(", ")} (expected ${names})`
        : `expected a JSON object with ${names}`,
  });
}

/** `{ queue }`: a queue name in the path. */
export const QueueParams: z.ZodObject<{ queue: z.ZodString }> = z.object({
  queue: z.string({ error: "expected a queue name" })
    .regex(QUEUE_NAME, {
      error: (issue) =>
        `expected a queue name of 1 to 128 ASCII letters, digits, ".", "_" or "-", starting with a ` +
        `letter or digit, got ${JSON.stringify(issue.input)}`,
    })
    .openapi({ param: { name: "queue", in: "path" }, example: "mail" }),
});

/** `{ id }`: a job id in the path. */
export const JobParams: z.ZodObject<{ id: z.ZodString }> = z.object({
  id: z.string().openapi({ param: { name: "id", in: "path" }, example: "01JDQ8Z5V2K3M4N5P6Q7R8S9T0" }),
});

/** `{ queue, id }`: a queue name and a job id in the path. */
export const QueueJobParams: z.ZodObject<{ queue: z.ZodString; id: z.ZodString }> = QueueParams.extend(
  JobParams.shape,
);

/** A job state. */
export const JobStateSchema: z.ZodEnum = z.enum(JOB_STATES, {
  error: (issue) => `unknown state ${JSON.stringify(issue.input)} (expected ${JOB_STATES.join(", ")})`,
}).openapi("JobState");

/** A job as the API answers it (`Uint8Array` values as `{ "$bytes": "<base64>" }`). */
export const JobSchema: z.ZodType = z.looseObject({
  id: z.string(),
  queue: z.string(),
  state: JobStateSchema,
  data: z.unknown().openapi({ description: "The payload" }),
  priority: z.int(),
  attempt: z.int(),
  maxAttempts: z.int(),
  runAt: z.int().openapi({ description: "When it may run, ms since the epoch" }),
  createdAt: z.int(),
  updatedAt: z.int(),
  startedAt: z.int().optional(),
  finishedAt: z.int().optional(),
  progress: z.unknown().optional(),
  result: z.unknown().optional(),
  error: z.object({ name: z.string(), message: z.string(), stack: z.string().optional() }).optional(),
  reason: z.string().optional(),
  history: z.array(z.looseObject({ attempt: z.int(), outcome: z.string() })),
  key: z.string().optional(),
  timeout: z.int().optional(),
  lease: z.object({ owner: z.string(), expiresAt: z.int() }).optional(),
  versionstamp: z.string().nullable(),
}).openapi("Job");

/** `{ job }`. */
export const JobBody: z.ZodType = z.object({ job: JobSchema }).openapi("JobBody");

/** The answer to every error: `{ error: { name, message } }`. */
export const ErrorBody: z.ZodType = z.object({
  error: z.object({
    name: z.string().openapi({ example: "RangeError" }),
    message: z.string().openapi({
      example: "Invalid delay: expected an integer from 0 to 3153600000000, got -5",
    }),
  }),
}).openapi("Error");

const ERROR_STATUS: Record<number, string> = {
  400: "Bad input: the message names the field (TypeError, RangeError, SyntaxError)",
  401: "Missing or invalid bearer token",
  403: "A cross-site mutation",
  404: "Unknown queue or job",
  409: "Wrong state, or a lost lease",
  413: "Body over the server's limit, or payload over the queue's",
  415: "A body not sent as application/json",
  421: "A foreign Host without auth (DNS rebinding)",
  429: "Queue full (Retry-After)",
  503: "Store unavailable or server shutting down (Retry-After)",
};

/** The error answers of a route, for its `responses`. */
export function errors(
  ...statuses: number[]
): Record<number, { description: string; content: { "application/json": { schema: z.ZodType } } }> {
  return Object.fromEntries(statuses.map((s) => [s, {
    description: ERROR_STATUS[s] ?? "Error",
    content: { "application/json": { schema: ErrorBody } },
  }]));
}

/** A JSON answer, for a route's `responses`. */
export function jsonAnswer(
  schema: z.ZodType,
  description: string,
): { description: string; content: { "application/json": { schema: z.ZodType } } } {
  return { description, content: { "application/json": { schema } } };
}
