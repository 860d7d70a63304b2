/**
 * Checks of request fields: every number and boolean a client sends is type- and range-checked
 * here, and a bad one is refused with a `TypeError` / `RangeError` (a 400) that names the field.
 *
 * @module
 */

import type { AddOptions } from "../mod.ts";

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

/**
 * An integer field in `[min, max]`, or `fallback` when absent (`undefined` or `null`).
 *
 * @throws {RangeError} When present and not such an integer; the message names `field`.
 */
export function intField(v: unknown, field: string, min: number, max: number, fallback: number): number;
export function intField(v: unknown, field: string, min: number, max: number): number | undefined;
export function intField(v: unknown, field: string, min: number, max: number, fallback?: number) {
  if (v === undefined || v === null) return fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(
      `Invalid ${field}: expected an integer from ${min} to ${max}, got ${JSON.stringify(v)}`,
    );
  }
  return v;
}

/**
 * A boolean field, or `undefined` when absent.
 *
 * @throws {TypeError} When present and not `true` or `false`; the message names `field`.
 */
export function boolField(v: unknown, field: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "boolean") {
    throw new TypeError(`Invalid ${field}: expected true or false, got ${JSON.stringify(v)}`);
  }
  return v;
}

const ADD_FIELDS = [
  "data",
  "priority",
  "delay",
  "runAt",
  "maxAttempts",
  "backoff",
  "key",
  "timeout",
  "removeOnComplete",
] as const;
const ADD_SET: ReadonlySet<string> = new Set(ADD_FIELDS);

function runAtField(v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  const t = typeof v === "string" ? Date.parse(v) : v;
  if (typeof v === "string" && Number.isNaN(t)) {
    throw new TypeError(`Invalid runAt: ${JSON.stringify(v)} is not a date`);
  }
  return intField(t, "runAt", 0, MAX_RUN_AT);
}

function backoffField(v: unknown): AddOptions["backoff"] {
  if (v === undefined || v === null) return undefined;
  if (typeof v === "number") return intField(v, "backoff", 0, MAX_MS);
  if (typeof v !== "object" || Array.isArray(v)) {
    throw new TypeError(`Invalid backoff: expected a number of ms or an object, got ${JSON.stringify(v)}`);
  }
  const b = v as Record<string, unknown>;
  for (const k of ["delay", "max"]) if (k in b) intField(b[k], `backoff.${k}`, 0, MAX_MS);
  return v as AddOptions["backoff"];
}

/**
 * Turns a request body into `add` arguments. Unknown fields are refused (they are usually typos);
 * every option is type- and range-checked.
 *
 * @param body The parsed JSON body.
 * @param where What the body is, for messages ("job", "job 3").
 * @returns The payload and the options.
 * @throws {TypeError | RangeError} For a bad body; the message names the field.
 */
export function addArgs(body: unknown, where: string): { data: unknown; options: AddOptions } {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new TypeError(`Invalid ${where}: expected a JSON object like {"data": ...}`);
  }
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) {
    if (!ADD_SET.has(k)) {
      throw new TypeError(`Invalid ${where}: unknown field "${k}" (expected ${ADD_FIELDS.join(", ")})`);
    }
  }
  if (!("data" in b)) throw new TypeError(`Invalid ${where}: the "data" field (the payload) is missing`);
  if (b.key !== undefined && b.key !== null && (typeof b.key !== "string" || b.key.length > MAX_KEY)) {
    throw new TypeError(`Invalid key: expected a string of at most ${MAX_KEY} characters`);
  }
  const options: AddOptions = {
    priority: intField(b.priority, "priority", -MAX_PRIORITY, MAX_PRIORITY),
    delay: intField(b.delay, "delay", 0, MAX_MS),
    runAt: runAtField(b.runAt),
    maxAttempts: intField(b.maxAttempts, "maxAttempts", 1, MAX_ATTEMPTS),
    backoff: backoffField(b.backoff),
    key: (b.key ?? undefined) as string | undefined,
    timeout: intField(b.timeout, "timeout", 1, MAX_MS),
    removeOnComplete: boolField(b.removeOnComplete, "removeOnComplete"),
  };
  for (const k of Object.keys(options) as (keyof AddOptions)[]) {
    if (options[k] === undefined) delete options[k];
  }
  return { data: b.data, options };
}
