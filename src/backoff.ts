/**
 * Retry backoff: how long a failed job waits before its next attempt. A pure function of the
 * attempt number and the options; overflow-safe; random jitter only when asked for, from a
 * generator the caller passes (seeded in tests).
 *
 * Schedules, for the delay after failed attempt 1, 2, 3, ...:
 * - `5000` or `{ type: "fixed", delay: 5000 }`: 5 s, 5 s, 5 s, ...
 * - `{ type: "linear", delay: 1000, max: 10_000 }`: 1 s, 2 s, 3 s, ... 10 s, 10 s, ...
 * - `{ type: "exponential", delay: 1000, factor: 2, max: 3_600_000 }` (the default): 1 s, 2 s, 4 s,
 *   8 s, ... 34 min 8 s, then 1 h for every later attempt.
 * - a function `(attempt, error) => ms`: whatever it returns, checked to be a number >= 0.
 *
 * Every delay is an integer number of ms in [0, {@linkcode MAX_BACKOFF_DELAY}].
 *
 * @module
 */

/**
 * Backoff options. `delay`, `max` are in ms; `jitter` is a fraction in [0, 1]: each delay is scaled
 * by a factor drawn from [1 - jitter, 1], so `jitter: 0.2` spreads a 10 s delay over 8 s to 10 s.
 */
export type BackoffOptions =
  /** Fixed: the same delay every time. `delay: 5000` → 5 s, 5 s, 5 s, ... */
  | { type: "fixed"; delay: number; jitter?: number }
  /** Linear: `delay × attempt`, capped at `max`. `delay: 1000` → 1 s, 2 s, 3 s, ... up to `max`. */
  | { type: "linear"; delay: number; max?: number; jitter?: number }
  /**
   * Exponential: `delay × factor^(attempt - 1)`, capped at `max`. `factor` defaults to 2:
   * `delay: 1000` → 1 s, 2 s, 4 s, 8 s, ... up to `max`.
   */
  | { type: "exponential"; delay: number; factor?: number; max?: number; jitter?: number };

/**
 * A custom backoff: the delay in ms after failed attempt `attempt` (1-based), given the error that
 * attempt threw. Must return a finite number >= 0.
 */
export type BackoffFunction = (attempt: number, error: unknown) => number;

/** A backoff: a number (a fixed delay in ms), {@linkcode BackoffOptions}, or a {@linkcode BackoffFunction}. */
export type Backoff = number | BackoffOptions | BackoffFunction;

/**
 * The upper bound of every backoff delay: 365 days in ms. Strategies without a `max` (and custom
 * functions) are capped here, so delays never overflow to `Infinity`.
 */
export const MAX_BACKOFF_DELAY: number = 365 * 24 * 60 * 60 * 1000;

/**
 * The default backoff: exponential from 1 s, factor 2, capped at 1 h, no jitter:
 * "1 s, 2 s, 4 s, 8 s, 16 s, 32 s, 1 min 4 s, ... 34 min 8 s, 1 h, 1 h, ...".
 *
 * @example
 * ```ts
 * import { backoffDelay, DEFAULT_BACKOFF } from "./backoff.ts";
 * console.log(backoffDelay(DEFAULT_BACKOFF, 3)); // 4000
 * ```
 */
export const DEFAULT_BACKOFF: BackoffOptions = Object.freeze({
  type: "exponential",
  delay: 1000,
  factor: 2,
  max: 60 * 60 * 1000,
});

const TYPES = ["fixed", "linear", "exponential"];

function checkMs(what: string, value: unknown): void {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new TypeError(`Invalid backoff: ${what} must be a finite number of ms, got ${String(value)}`);
  }
  if (value < 0) throw new RangeError(`Invalid backoff: ${what} must be >= 0 ms, got ${value}`);
  if (value > MAX_BACKOFF_DELAY) {
    throw new RangeError(
      `Invalid backoff: ${what} is ${value} ms, more than the limit of ${MAX_BACKOFF_DELAY} ms (365 days)`,
    );
  }
}

/**
 * Checks a backoff and throws if it is malformed.
 *
 * @param backoff The backoff to check.
 * @throws {TypeError} When it is not a number, function or options object, or a field has the wrong
 *   type or an unknown `type`.
 * @throws {RangeError} When a delay or `max` is negative or above {@linkcode MAX_BACKOFF_DELAY},
 *   `max` is below `delay`, `factor` is below 1, or `jitter` lies outside [0, 1].
 *
 * @example Reject a shrinking exponential
 * ```ts
 * import { validateBackoff } from "./backoff.ts";
 * try {
 *   validateBackoff({ type: "exponential", delay: 1000, factor: 0.5 });
 * } catch (e) {
 *   console.log((e as Error).message); // "Invalid backoff: factor must be >= 1, got 0.5"
 * }
 * ```
 */
export function validateBackoff(backoff: Backoff): void {
  if (typeof backoff === "function") return;
  if (typeof backoff === "number") return checkMs("delay", backoff);
  if (typeof backoff !== "object" || backoff === null) {
    throw new TypeError(
      `Invalid backoff: expected a number of ms, an options object or a function, got ${
        backoff === null ? "null" : typeof backoff
      }`,
    );
  }
  const type = (backoff as { type?: unknown }).type;
  if (typeof type !== "string" || !TYPES.includes(type)) {
    throw new TypeError(
      `Invalid backoff: type must be "fixed", "linear" or "exponential", got ${JSON.stringify(type)}`,
    );
  }
  checkMs("delay", backoff.delay);
  if ("max" in backoff && backoff.max !== undefined) {
    checkMs("max", backoff.max);
    if (backoff.max < backoff.delay) {
      throw new RangeError(
        `Invalid backoff: max (${backoff.max} ms) must be >= delay (${backoff.delay} ms)`,
      );
    }
  }
  if ("factor" in backoff && backoff.factor !== undefined) {
    const factor = backoff.factor;
    if (typeof factor !== "number" || !Number.isFinite(factor)) {
      throw new TypeError(`Invalid backoff: factor must be a finite number, got ${String(factor)}`);
    }
    if (factor < 1) throw new RangeError(`Invalid backoff: factor must be >= 1, got ${factor}`);
  }
  if (backoff.jitter !== undefined) {
    const jitter = backoff.jitter;
    if (typeof jitter !== "number" || Number.isNaN(jitter)) {
      throw new TypeError(`Invalid backoff: jitter must be a number in [0, 1], got ${String(jitter)}`);
    }
    if (jitter < 0 || jitter > 1) {
      throw new RangeError(`Invalid backoff: jitter must be in [0, 1], got ${jitter}`);
    }
  }
}

/**
 * The delay in ms before the retry that follows failed attempt `attempt` (1-based).
 *
 * - number `d` / fixed: `d` every time ("fixed 5 s: 5 s, 5 s, 5 s, ...").
 * - linear: `delay × attempt`, capped at `max` ("linear 1 s: 1 s, 2 s, 3 s, ... up to max").
 * - exponential: `delay × factor^(attempt - 1)`, capped at `max` ("exponential 1 s, factor 2:
 *   1 s, 2 s, 4 s, ... up to max").
 * - function: its result, checked (negative, `NaN`, infinite or non-number → `RangeError`).
 *
 * Every result is capped at {@linkcode MAX_BACKOFF_DELAY}, then scaled by a jitter factor drawn from
 * [1 - jitter, 1] when `jitter` > 0, then rounded to an integer. It is never `NaN` or `Infinity`,
 * even for attempt 10 000.
 *
 * @param backoff The backoff (validated with {@linkcode validateBackoff}).
 * @param attempt The attempt that failed, an integer >= 1.
 * @param options `random`: a generator of numbers in [0, 1), required when jitter > 0;
 *   `error`: the error the attempt threw, passed to a backoff function.
 * @returns The delay in ms, an integer in [0, {@linkcode MAX_BACKOFF_DELAY}].
 * @throws {TypeError} When the backoff is malformed, or jitter is asked for without `random`.
 * @throws {RangeError} When `attempt` is not an integer >= 1, or a function returns a bad delay.
 *
 * @example The default schedule
 * ```ts
 * import { backoffDelay, DEFAULT_BACKOFF } from "./backoff.ts";
 * console.log([1, 2, 3, 20].map((n) => backoffDelay(DEFAULT_BACKOFF, n))); // [1000, 2000, 4000, 3600000]
 * ```
 *
 * @example Jitter from a seeded generator
 * ```ts
 * import { backoffDelay } from "./backoff.ts";
 * import { seededRandom } from "./ids.ts";
 * const random = seededRandom(1);
 * const ms = backoffDelay({ type: "fixed", delay: 10_000, jitter: 0.2 }, 1, { random }); // 8000..10000
 * console.log(ms);
 * ```
 */
export function backoffDelay(
  backoff: Backoff,
  attempt: number,
  options: { random?: () => number; error?: unknown } = {},
): number {
  if (!Number.isSafeInteger(attempt) || attempt < 1) {
    throw new RangeError(`Cannot compute backoff: attempt must be an integer >= 1, got ${attempt}`);
  }
  validateBackoff(backoff);
  if (typeof backoff === "number") return Math.round(backoff);
  if (typeof backoff === "function") {
    const ms = backoff(attempt, options.error);
    if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0) {
      throw new RangeError(
        `Cannot compute backoff: the backoff function returned ${String(ms)} for attempt ${attempt}, ` +
          `expected a finite number of ms >= 0`,
      );
    }
    return Math.round(Math.min(ms, MAX_BACKOFF_DELAY));
  }
  const cap = "max" in backoff && backoff.max !== undefined ? backoff.max : MAX_BACKOFF_DELAY;
  let ms: number;
  switch (backoff.type) {
    case "fixed":
      ms = backoff.delay;
      break;
    case "linear":
      ms = Math.min(backoff.delay * attempt, cap);
      break;
    case "exponential": {
      const factor = backoff.factor ?? 2;
      // delay 0 would give 0 × Infinity = NaN for huge attempts; `raw < cap` also catches Infinity.
      const raw = backoff.delay === 0 ? 0 : backoff.delay * factor ** (attempt - 1);
      ms = raw < cap ? raw : cap;
      break;
    }
  }
  const jitter = backoff.jitter ?? 0;
  if (jitter > 0) {
    const random = options.random;
    if (typeof random !== "function") {
      throw new TypeError(
        `Cannot compute backoff: jitter ${jitter} needs a random generator (options.random), none was given`,
      );
    }
    const r = random();
    if (!(r >= 0 && r < 1)) {
      throw new RangeError(`Cannot compute backoff: random() must return a number in [0, 1), got ${r}`);
    }
    ms *= 1 - jitter * r;
  }
  return Math.round(ms);
}

/**
 * The delays after attempts 1 to `attempts`, for showing a schedule (no jitter is applied).
 *
 * @param backoff The backoff; must not use jitter.
 * @param attempts How many delays to list.
 * @returns The delays in ms.
 *
 * @example
 * ```ts
 * import { backoffSchedule } from "./backoff.ts";
 * console.log(backoffSchedule({ type: "linear", delay: 1000, max: 2500 }, 4)); // [1000, 2000, 2500, 2500]
 * ```
 */
export function backoffSchedule(backoff: Backoff, attempts: number): number[] {
  if (!Number.isSafeInteger(attempts) || attempts < 0) {
    throw new RangeError(`Cannot list backoff schedule: attempts must be an integer >= 0, got ${attempts}`);
  }
  return Array.from({ length: attempts }, (_, i) => backoffDelay(backoff, i + 1));
}
