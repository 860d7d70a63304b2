/**
 * Argument checks shared by every service: a bad number is a `TypeError` (not a finite number, or
 * not an integer where one is needed) or a `RangeError` (below its minimum).
 *
 * @module
 */

/**
 * Checks that `v` is a finite number (an integer with `integer`) of at least `min`.
 *
 * @param what What the number is, for the message (`"maxAttempts"`).
 * @param v The value.
 * @param min The smallest value allowed.
 * @param integer Whether it must be an integer. @default false
 * @throws {TypeError} When `v` is not a finite number (or not an integer).
 * @throws {RangeError} When `v` is below `min`.
 *
 * @example
 * ```ts
 * import { checkNumber } from "./validate.ts";
 * checkNumber("limit", 10, 1, true); // a valid one: no error
 * try {
 *   checkNumber("limit", 2.5, 1, true);
 * } catch (e) {
 *   console.log((e as TypeError).message); // "Invalid limit: expected a finite integer, got 2.5"
 * }
 * ```
 */
export function checkNumber(what: string, v: unknown, min: number, integer = false): void {
  if (typeof v !== "number" || !Number.isFinite(v) || (integer && !Number.isInteger(v))) {
    throw new TypeError(
      `Invalid ${what}: expected a finite ${integer ? "integer" : "number"}, got ${String(v)}`,
    );
  }
  if (v < min) throw new RangeError(`Invalid ${what}: must be >= ${min}, got ${v}`);
}
