/**
 * Byte helpers every adapter needs: binary strings (one char per byte, so `<` is bytewise order)
 * for in-memory keys, prefix tests on encoded keys, and plain `Uint8Array`s from driver values.
 *
 * @module
 */

import { CorruptionError } from "../../src/errors.ts";

/**
 * Converts `bytes[start, end)` to a binary string (char code = byte), preserving bytewise order.
 *
 * @example
 * ```ts
 * import { bytesToBinary } from "@kvq/kvq/kv";
 * console.log(bytesToBinary(new Uint8Array([104, 105]))); // "hi"
 * ```
 */
export function bytesToBinary(bytes: Uint8Array, start = 0, end: number = bytes.length): string {
  let s = "";
  for (let i = start; i < end; i += 4096) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, Math.min(end, i + 4096)) as unknown as number[]);
  }
  return s;
}

/**
 * Converts a binary string back to bytes.
 *
 * @example
 * ```ts
 * import { binaryToBytes } from "@kvq/kvq/kv";
 * console.log(binaryToBytes("hi")); // Uint8Array [104, 105]
 * ```
 */
export function binaryToBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/**
 * A copy of `bytes` in a new plain `Uint8Array` of its own: what a store hands out on a read. Faster
 * than `slice()` on Node and Bun (no species lookup).
 *
 * @example
 * ```ts
 * import { copyBytes } from "@kvq/kvq/kv";
 * const stored = new Uint8Array([1, 2]);
 * const out = copyBytes(stored);
 * out[0] = 9;
 * console.log(stored[0]); // 1
 * ```
 */
export function copyBytes(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length);
  if (bytes.length > 0) out.set(bytes);
  return out;
}

/**
 * True when `bytes` begins with `prefix` (an encoded key under an encoded prefix).
 *
 * @example
 * ```ts
 * import { encodeKey, startsWith } from "@kvq/kvq/kv";
 * console.log(startsWith(encodeKey(["job", 1]), encodeKey(["job"]))); // true
 * ```
 */
export function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (bytes.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}

/**
 * The smallest encoded key after `bytes` (its bytes and one 0x00): the exclusive start that continues
 * an ascending scan of encoded keys after the last key read.
 *
 * @example Continuing a paged scan
 * ```ts
 * import { afterBytes } from "@kvq/kvq/kv";
 * console.log(afterBytes(new Uint8Array([1, 2]))); // Uint8Array(3) [ 1, 2, 0 ]
 * ```
 */
export function afterBytes(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}

/**
 * A plain `Uint8Array` of a value a driver returned: a subclass (Node's `Buffer`) is copied into a
 * plain array, an `ArrayBuffer` is wrapped, anything else is a {@link CorruptionError} of `adapter`
 * (the store holds something that is not bytes).
 *
 * @example
 * ```ts
 * import { plainBytes } from "@kvq/kvq/kv";
 * console.log(plainBytes(new Uint8Array([1]).buffer, "my-store").constructor.name); // "Uint8Array"
 * ```
 */
export function plainBytes(value: unknown, adapter: string): Uint8Array {
  if (value instanceof Uint8Array) return value.constructor === Uint8Array ? value : new Uint8Array(value);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  throw new CorruptionError(adapter, "read", `stored value is a ${typeof value}, expected bytes`);
}
