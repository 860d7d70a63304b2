/**
 * Repeating schedules: 5-field cron expressions (in UTC or an IANA time zone, evaluated by
 * `croner`) and fixed intervals. Pure functions of the expression and a time; no timers.
 *
 * @module
 */

import { Cron } from "croner";

/** Parsed expressions, keyed by time zone and expression; bounded so untrusted input cannot grow it. */
const cache = new Map<string, Cron>();
const CACHE_LIMIT = 256;

function checkTimeZone(expression: string, timezone: string): void {
  if (typeof timezone !== "string" || timezone === "") {
    throw new TypeError(
      `Invalid cron schedule ${JSON.stringify(expression)}: time zone must be a non-empty IANA name ` +
        `such as "Europe/Berlin", got ${JSON.stringify(timezone)}`,
    );
  }
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: timezone });
  } catch {
    throw new TypeError(
      `Invalid cron schedule ${JSON.stringify(expression)}: unknown time zone ${JSON.stringify(timezone)}, ` +
        `expected an IANA name such as "Europe/Berlin" or "UTC"`,
    );
  }
}

function compile(expression: string, timezone: string = "UTC"): Cron {
  const cacheKey = `${timezone}\u0000${expression}`;
  const hit = cache.get(cacheKey);
  if (hit) return hit;
  if (typeof expression !== "string") {
    throw new TypeError(`Invalid cron expression: expected a string, got ${typeof expression}`);
  }
  const fields = expression.trim().split(/\s+/).filter((f) => f !== "");
  if (fields.length !== 5 && !(fields.length === 1 && fields[0]!.startsWith("@"))) {
    throw new TypeError(
      `Invalid cron expression ${JSON.stringify(expression)}: expected 5 fields ` +
        `"minute hour day-of-month month day-of-week", got ${fields.length}`,
    );
  }
  checkTimeZone(expression, timezone);
  let cron: Cron;
  try {
    cron = new Cron(expression, { timezone, mode: "5-part", paused: true });
  } catch (e) {
    const reason = (e instanceof Error ? e.message : String(e)).replace(/^Cron\w*:\s*/, "");
    throw new TypeError(`Invalid cron expression ${JSON.stringify(expression)}: ${reason}`, { cause: e });
  }
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
  cache.set(cacheKey, cron);
  return cron;
}

/**
 * Checks a cron expression (and time zone) and throws if it is not valid.
 *
 * @param expression A 5-field cron expression "minute hour day-of-month month day-of-week"
 *   (ranges, lists, steps, names like `MON`/`JAN`, and nicknames like `@daily` are accepted;
 *   6-field expressions with seconds are not).
 * @param timezone An IANA time zone name. @default "UTC"
 * @throws {TypeError} Saying why the expression or time zone is invalid.
 *
 * @example Reject a 6-field expression
 * ```ts
 * import { validateCron } from "./cron.ts";
 * validateCron("*\/15 9-17 * * MON-FRI", "Europe/Berlin"); // fine
 * try {
 *   validateCron("0 0 2 * * *");
 * } catch (e) {
 *   console.log((e as Error).message); // '... expected 5 fields ..., got 6'
 * }
 * ```
 */
export function validateCron(expression: string, timezone?: string): void {
  compile(expression, timezone);
}

/**
 * The next run time of a cron expression strictly after `after`, in ms since the epoch.
 *
 * Fields are read in `timezone`. Across daylight-saving changes, a run at a wall-clock time that
 * does not exist (the spring-forward gap) happens at the first valid time after the gap, and a run
 * at a time that occurs twice (fall back) happens once. Day-of-month and day-of-week combine with
 * OR when both are restricted, as in Vixie cron.
 *
 * @param expression A 5-field cron expression "minute hour day-of-month month day-of-week".
 * @param after A time in ms since the epoch; the result is strictly later.
 * @param timezone An IANA time zone name. @default "UTC"
 * @returns The next run in ms, or `null` when the expression never matches again (e.g. `0 0 30 2 *`).
 * @throws {TypeError} When the expression or time zone is invalid.
 * @throws {RangeError} When `after` is not a finite number.
 *
 * @example Daily at 02:00 in Berlin
 * ```ts
 * import { nextCronRun } from "./cron.ts";
 * const next = nextCronRun("0 2 * * *", Date.UTC(2025, 0, 1), "Europe/Berlin");
 * console.log(new Date(next!).toISOString()); // 2025-01-01T01:00:00.000Z
 * ```
 */
export function nextCronRun(expression: string, after: number, timezone?: string): number | null {
  if (typeof after !== "number" || !Number.isFinite(after)) {
    throw new RangeError(`Cannot compute next cron run: after must be a finite time in ms, got ${after}`);
  }
  const next = compile(expression, timezone).nextRun(new Date(after));
  if (next === null) return null;
  const ms = next.getTime();
  return ms > after ? ms : null;
}

/**
 * The next tick of an interval schedule at or after `after`: the smallest `start + k × every`
 * (k an integer >= 0) that is >= `after`. Before `start`, that is `start` itself.
 *
 * @param every The interval in ms, > 0.
 * @param start The first tick, in ms since the epoch.
 * @param after The earliest acceptable time, in ms since the epoch.
 * @returns The next tick in ms.
 * @throws {RangeError} When `every` is not a finite number > 0, or a time is not finite.
 *
 * @example Every 5 minutes from midnight
 * ```ts
 * import { nextIntervalRun } from "./cron.ts";
 * console.log(nextIntervalRun(300_000, 0, 301_000)); // 600000
 * console.log(nextIntervalRun(300_000, 0, 300_000)); // 300000
 * ```
 */
export function nextIntervalRun(every: number, start: number, after: number): number {
  if (typeof every !== "number" || !Number.isFinite(every) || every <= 0) {
    throw new RangeError(
      `Cannot compute next interval run: every must be a finite number of ms > 0, got ${every}`,
    );
  }
  if (!Number.isFinite(start) || !Number.isFinite(after)) {
    throw new RangeError(
      `Cannot compute next interval run: start and after must be finite times in ms, got ${start} and ${after}`,
    );
  }
  if (after <= start) return start;
  return start + Math.ceil((after - start) / every) * every;
}
