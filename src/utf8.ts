/**
 * UTF-8 encoding of the engine's hot strings (job records, count deltas) into a shared slab: one
 * ArrayBuffer serves many encodings, where `TextEncoder.encode` allocates one per call (a large part
 * of the per-job cost on Node, in allocation and garbage collection). The bytes are only ever handed
 * to `AtomicOp.set`, which copies its value when called (the contract), or read at once (HMAC),
 * so a slab is never written twice where anything still reads it: each call takes fresh room.
 *
 * @module
 */

const enc = new TextEncoder();
/** Strings longer than this get an ArrayBuffer of their own. */
const SLAB_MAX = 16 * 1024;
const SLAB_BYTES = 256 * 1024;
let slab = new Uint8Array(SLAB_BYTES);
let used = 0;

/**
 * The UTF-8 bytes of `s`, carved from a shared slab (see the module doc: hand them to `set()`, which
 * copies, or read them at once; never keep them).
 *
 * @example
 * ```ts
 * import { encodeUtf8 } from "./utf8.ts";
 * console.log(encodeUtf8("héllo").length); // 6
 * ```
 */
export function encodeUtf8(s: string): Uint8Array {
  // A UTF-16 code unit is at most 3 UTF-8 bytes.
  const most = s.length * 3;
  if (most > SLAB_MAX) return enc.encode(s);
  if (used + most > slab.length) {
    slab = new Uint8Array(SLAB_BYTES);
    used = 0;
  }
  const { written } = enc.encodeInto(s, slab.subarray(used));
  const out = slab.subarray(used, used + written);
  used += written;
  return out;
}
