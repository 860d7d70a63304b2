/**
 * The argument checks and byte ranges of `AtomicKv.list`, shared by every adapter that stores
 * encoded keys: {@link selectorRange} (a selector to a byte range) and {@link checkListOptions}
 * (limit and reverse). Part of the AtomicKv contract (`src/kv.ts` re-exports it).
 *
 * @module
 */

import type { KvKey, KvListOptions, KvListSelector } from "./kv.ts";
import { compareBytes, encodeKey } from "./key_codec.ts";

function concatBytes(a: Uint8Array, b: number): Uint8Array {
  const out = new Uint8Array(a.length + 1);
  out.set(a);
  out[a.length] = b;
  return out;
}

/**
 * The byte range `[start, end)` a selector covers, for adapters that store encoded keys. Under a
 * prefix the range never includes the prefix key itself, also when `start` is the prefix key.
 * Throws `TypeError` for a malformed selector: not an object, a prefix, start or end that is not a
 * key, a `start` or `end` outside the prefix, a range without both `start` and `end`. A range
 * whose start is after its end is no error: it is empty (`start >= end`).
 *
 * @example The range under a prefix
 * ```ts
 * import { compareBytes, encodeKey, selectorRange } from "./kv.ts";
 * const { start, end } = selectorRange({ prefix: ["ready"], start: ["ready"] });
 * console.log(compareBytes(start, encodeKey(["ready"])) > 0, compareBytes(start, end) < 0); // true true
 * ```
 */
export function selectorRange(selector: KvListSelector): { start: Uint8Array; end: Uint8Array } {
  if (selector === null || typeof selector !== "object") {
    throw new TypeError("Invalid list selector: expected an object with prefix, or start and end");
  }
  if ("prefix" in selector && selector.prefix !== undefined) {
    const prefix = encodeKey(selector.prefix);
    const first = concatBytes(prefix, 0x00); // every key strictly under the prefix is >= this
    const start = selector.start ? encodeKey(selector.start) : first;
    const end = selector.end ? encodeKey(selector.end) : concatBytes(prefix, 0xff);
    if (selector.start && !within(start, prefix)) {
      throw new TypeError("Invalid list selector: start is not within prefix");
    }
    if (selector.end && !within(end, prefix)) {
      throw new TypeError("Invalid list selector: end is not within prefix");
    }
    // A start equal to the prefix key would list the prefix key, which is not under the prefix.
    return { start: compareBytes(start, first) < 0 ? first : start, end };
  }
  const sel = selector as { start?: KvKey; end?: KvKey };
  if (!sel.start || !sel.end) throw new TypeError("Invalid list selector: expected prefix, or start and end");
  return { start: encodeKey(sel.start), end: encodeKey(sel.end) };
}

/**
 * The checked options of a list, as {@link checkListOptions} returns them.
 */
export interface CheckedListOptions {
  /** At most this many entries; `Infinity` when no limit was given. */
  readonly limit: number;
  /** Descending key order. */
  readonly reverse: boolean;
}

/**
 * Checks the options of {@link AtomicKv.list} the way every adapter must, and fills in the
 * defaults. Adapters call it, so that a bad argument fails alike everywhere.
 *
 * @param options The options passed to `list()`, possibly undefined.
 * @returns The limit (`Infinity` when absent) and the direction.
 * @throws {RangeError} When `limit` is given and is not a non-negative integer (a fraction,
 *   a negative number, `NaN`, `Infinity`, or not a number at all).
 * @throws {TypeError} When `options` is not an object, or `reverse` is given and is not a boolean.
 *
 * @example Defaults and a bad limit
 * ```ts
 * import { checkListOptions } from "./kv.ts";
 * console.log(checkListOptions(undefined)); // { limit: Infinity, reverse: false }
 * try {
 *   checkListOptions({ limit: 2.5 });
 * } catch (e) {
 *   console.log(e instanceof RangeError); // true
 * }
 * ```
 */
export function checkListOptions(options: KvListOptions | undefined): CheckedListOptions {
  if (options === undefined) return { limit: Infinity, reverse: false };
  if (options === null || typeof options !== "object") {
    throw new TypeError(`Invalid list options: expected an object, got ${describeArg(options)}`);
  }
  const { limit, reverse } = options;
  if (limit !== undefined && !(typeof limit === "number" && Number.isInteger(limit) && limit >= 0)) {
    throw new RangeError(`Invalid list limit: expected a non-negative integer, got ${describeArg(limit)}`);
  }
  if (reverse !== undefined && typeof reverse !== "boolean") {
    throw new TypeError(`Invalid list option reverse: expected true or false, got ${describeArg(reverse)}`);
  }
  return { limit: limit ?? Infinity, reverse: reverse ?? false };
}

function describeArg(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "bigint") return `${v}n`;
  if (typeof v === "number" || typeof v === "boolean" || v === null || v === undefined) return String(v);
  return typeof v;
}

/**
 * True when the encoded key `bytes` is the key `prefix` or a key under it. Starting with the
 * prefix's bytes is not enough: `["a\0"]` encodes as `["a"]`'s bytes then 0xff 0x00 (the
 * escaped NUL), while a key under `["a"]` continues with a type tag, never 0xff.
 */
function within(bytes: Uint8Array, prefix: Uint8Array): boolean {
  return startsWith(bytes, prefix) && (bytes.length === prefix.length || bytes[prefix.length] !== 0xff);
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (bytes.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}
