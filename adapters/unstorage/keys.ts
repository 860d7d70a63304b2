/**
 * Where the unstorage adapter keeps things under its base key, and how an encoded kvq key becomes
 * an unstorage key and back. unstorage keys are strings with `:` separators, and drivers may
 * rewrite them (the fs driver turns every `:` into a directory), so a key's bytes (the core's
 * {@link encodeKey} encoding) are written as lowercase hex, two characters per byte, cut into
 * segments of 128 characters (a file name stays far below 255 bytes) and ended with `-`, so a key
 * never names a directory of a longer one. Hex has no `:`, `/`, `.` or upper case, so no driver
 * rewrites it, and `-` sorts before every hex digit, so the text without its `:` sorts as the
 * bytes do. Drivers do not order keys, so the adapter sorts the decoded bytes itself.
 *
 * @module
 */

import { CorruptionError } from "../../src/errors.ts";

const SEGMENT = 128;
const END = "-";
const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** The unstorage keys of one store under `base`. */
export interface StoreLayout {
  /** The store's base key (what `UnstorageKvOptions.base` names). */
  readonly base: string;
  /** The lock with the owner's id and lease: beside the store, `<base>.lock`. */
  readonly lock: string;
  /** The store-wide commit counter (8 bytes, big-endian). */
  readonly seq: string;
  /** The write-ahead record of the commit group being applied. */
  readonly journal: string;
  /** The base of the entries (`<base>:d`). */
  readonly data: string;
}

/**
 * The keys of a store under `base`.
 *
 * @example
 * ```ts
 * import { storeLayout } from "./keys.ts";
 * console.log(storeLayout("kvq").journal); // "kvq:journal"
 * ```
 */
export function storeLayout(base: string): StoreLayout {
  return { base, lock: `${base}.lock`, seq: `${base}:seq`, journal: `${base}:journal`, data: `${base}:d` };
}

/**
 * The unstorage key of an entry: `<data>:` then the hex of `keyBytes` in segments, ended by `-`.
 *
 * @example
 * ```ts
 * import { entryKey } from "./keys.ts";
 * console.log(entryKey("kvq:d", new Uint8Array([2, 97, 0]))); // "kvq:d:026100-"
 * ```
 */
export function entryKey(data: string, keyBytes: Uint8Array): string {
  let hex = "";
  for (let i = 0; i < keyBytes.length; i++) {
    if (i > 0 && (i * 2) % SEGMENT === 0) hex += ":";
    hex += HEX[keyBytes[i]];
  }
  return `${data}:${hex}${END}`;
}

/**
 * The encoded key bytes of an entry's unstorage key (as `getKeys` returns it), or a
 * {@link CorruptionError} for a key under the data base that this adapter did not write.
 *
 * @example
 * ```ts
 * import { entryKey, keyBytesOf } from "./keys.ts";
 * console.log(keyBytesOf("kvq:d", entryKey("kvq:d", new Uint8Array([1, 255])))); // Uint8Array [1, 255]
 * ```
 */
export function keyBytesOf(data: string, key: string): Uint8Array {
  const hex = key.startsWith(data + ":") && key.endsWith(END)
    ? key.slice(data.length + 1, -1).replaceAll(":", "")
    : "";
  if (hex.length % 2 !== 0 || !/^[0-9a-f]*$/.test(hex) || !key.endsWith(END)) {
    throw new CorruptionError(
      "unstorage",
      "open",
      `${JSON.stringify(key)} is not an entry key of this store`,
    );
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
  return out;
}
