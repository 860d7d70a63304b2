/**
 * The schemas the routes share: path parameters, the job and error bodies, and the builders of
 * checked fields whose messages name what was expected and what came. Each route module keeps the
 * schemas only it uses; the OpenAPI document is generated from all of them.
 *
 * @module
 */

import { z } from "@hono/zod-openapi";
import { type AddOptions, JOB_STATES } from "../../mod.ts";
import { QUEUE_NAME } from "../_registry.ts";
import { validationError } from "./_route.ts";

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

const isDate = (s: string) => {
  const t = Date.parse(s);
  return !Number.isNaN(t) && t >= 0 && t <= MAX_RUN_AT;
};

const Backoff = z.union([
  intIn(0, MAX_MS).openapi({ description: "A fixed delay in ms" }),
  z.looseObject({
    type: z.enum(["fixed", "linear", "exponential"], {
      error: (i) => `expected "fixed", "linear" or "exponential", got ${JSON.stringify(i.input)}`,
    }),
    delay: intIn(0, MAX_MS),
    max: intIn(0, MAX_MS).nullish(),
    factor: z.number({ error: "expected a number" }).nullish(),
    jitter: z.number({ error: "expected a number" }).nullish(),
  }),
], { error: 'expected a number of ms or an object like {"type": "exponential", "delay": 1000}' });

/** A checked add body (absent and `null` options are left to the queue's defaults). */
export interface AddBody {
  /** The payload. */
  data: unknown;
  /** Higher runs first. */
  priority?: number | null;
  /** Run after this many ms. */
  delay?: number | null;
  /** Run at this time: ms since the epoch, or an ISO 8601 date. */
  runAt?: number | string | null;
  /** Attempts before the job is dead. */
  maxAttempts?: number | null;
  /** A fixed delay in ms, or `{ type, delay, max?, factor?, jitter? }`. */
  backoff?: unknown;
  /** Idempotency key. */
  key?: string | null;
  /** An attempt's time limit in ms. */
  timeout?: number | null;
  /** Drop the job when it completes. */
  removeOnComplete?: boolean | null;
}

const AddJobSchema: z.ZodType<AddBody> = closedObject({
  data: z.unknown().refine((v) => v !== undefined, { error: 'the "data" field (the payload) is missing' })
    .openapi({ description: "The payload (any JSON)" }),
  priority: intIn(-MAX_PRIORITY, MAX_PRIORITY).nullish().openapi({ description: "Higher runs first" }),
  delay: intIn(0, MAX_MS).nullish().openapi({ description: "Run after this many ms" }),
  runAt: z.union([
    intIn(0, MAX_RUN_AT),
    z.string().refine(isDate, {
      error: (i) => `${JSON.stringify(i.input)} is not a date from 1970 to 9999`,
    }),
  ], { error: "expected ms since the epoch or an ISO 8601 date" }).nullish()
    .openapi({ description: "Run at this time: ms since the epoch, or an ISO 8601 date" }),
  maxAttempts: intIn(1, MAX_ATTEMPTS).nullish(),
  backoff: Backoff.nullish(),
  key: z.string({ error: `expected a string of at most ${MAX_KEY} characters` })
    .max(MAX_KEY, { error: `expected a string of at most ${MAX_KEY} characters` }).nullish()
    .openapi({ description: "Idempotency key: a second add with the same key returns the first job" }),
  timeout: intIn(1, MAX_MS).nullish().openapi({ description: "An attempt's time limit in ms" }),
  removeOnComplete: bool().nullish(),
}).openapi("AddJob");
/** The body of an add (and each of a bulk add's jobs). */
export const AddJob: z.ZodType = AddJobSchema;

/** The engine's options from a checked body (absent and `null` fields left out). */
export function addOptions(b: AddBody): { data: unknown; options: AddOptions } {
  const runAt = typeof b.runAt === "string" ? Date.parse(b.runAt) : b.runAt;
  const options: AddOptions = {
    priority: b.priority ?? undefined,
    delay: b.delay ?? undefined,
    runAt: runAt ?? undefined,
    maxAttempts: b.maxAttempts ?? undefined,
    backoff: (b.backoff ?? undefined) as AddOptions["backoff"],
    key: b.key ?? undefined,
    timeout: b.timeout ?? undefined,
    removeOnComplete: b.removeOnComplete ?? undefined,
  };
  for (const k of Object.keys(options) as (keyof AddOptions)[]) {
    if (options[k] === undefined) delete options[k];
  }
  return { data: b.data, options };
}

/**
 * `add` arguments from a body checked by {@linkcode AddJob}, for callers that are not HTTP routes
 * (gRPC): the same rules and messages as `POST /queues/{queue}/jobs`.
 *
 * @throws {TypeError | RangeError} For a bad body; the message names the field (`where` for the
 * body itself).
 */
export function addArgs(body: unknown, where: string): { data: unknown; options: AddOptions } {
  return addOptions(checked(AddJobSchema, body, where));
}

/**
 * `value` checked by `schema`; otherwise the error a route answers with (see `validationError`),
 * naming `field` when the problem is the value itself.
 *
 * @throws {TypeError | RangeError} When `value` does not match.
 */
export function checked<T>(schema: z.ZodType<T>, value: unknown, field: string): T {
  const r = schema.safeParse(value);
  if (!r.success) throw validationError(r.error, field);
  return r.data;
}

/**
 * An integer field in `[min, max]`, or `fallback` when absent (`undefined` or `null`), checked by
 * {@linkcode intIn} (for gRPC, whose fields are not a route's schema).
 *
 * @throws {RangeError} When present and not such an integer; the message names `field`.
 */
export function intField(v: unknown, field: string, min: number, max: number, fallback: number): number;
export function intField(v: unknown, field: string, min: number, max: number): number | undefined;
export function intField(v: unknown, field: string, min: number, max: number, fallback?: number) {
  if (v === undefined || v === null) return fallback;
  return checked(intIn(min, max), v, field);
}

/**
 * `true`, `false`, or `undefined` when absent, checked by {@linkcode bool}.
 *
 * @throws {TypeError} When present and not a boolean; the message names `field`.
 */
export function boolField(v: unknown, field: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  return checked(bool(), v, field);
}
