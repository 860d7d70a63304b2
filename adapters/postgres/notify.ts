/**
 * The NOTIFY payload the PostgreSQL adapter sends once per transaction that applied a commit, and
 * how a listener reads it. Format: `<token> <item>,<item>,...` where the token names the sending
 * store (so it can skip its own notifications, already delivered locally) and each item is the hex
 * encoding of a mutated key, or of its first `depth` parts followed by `+` when the key is longer;
 * `<token> *` when the list would pass {@link MAX_PAYLOAD} bytes (PostgreSQL's limit is 8000).
 *
 * @module
 */

import { encodeKeyBinary, type KvKey } from "../../src/kv.ts";
import { startsWith } from "../_kit/bytes.ts";

/** Largest payload sent; a longer list of prefixes becomes `*` (wake every watcher). */
export const MAX_PAYLOAD = 7000;

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/**
 * Lower-case hex of bytes.
 *
 * @example
 * ```ts
 * import { hex } from "./notify.ts";
 * console.log(hex(Uint8Array.of(0, 255))); // "00ff"
 * ```
 */
export function hex(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i]];
  return s;
}

function unhex(s: string): Uint8Array | null {
  if (s.length % 2 !== 0 || !/^[0-9a-f]*$/.test(s)) return null;
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(i * 2, 2), 16);
  return out;
}

/** Lower-case hex of a binary string (one char per byte). */
function hexBinary(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) out += HEX[s.charCodeAt(i)];
  return out;
}

/** A mutated key as the payload needs it. */
export interface NotifiedKey {
  /** The key. */
  readonly key: KvKey;
  /** Its encoding. */
  readonly keyBytes: Uint8Array;
  /** Its encoding as a binary string, when the batch carries it (then `keyBytes` is not read). */
  readonly keyBinary?: string;
}

/** How many distinct truncated prefixes {@link notifyPayload} remembers to skip re-encoding. */
const KNOWN_PREFIXES = 16;

/**
 * Builds the payload for the keys a transaction mutated, each prefix once.
 *
 * @param token The sending store's token (no spaces).
 * @param keys The mutated keys.
 * @param depth How many leading parts of a longer key are named.
 *
 * @example
 * ```ts
 * import { encodeKey } from "../../src/kv.ts";
 * import { notifyPayload } from "./notify.ts";
 * const key = ["kvq", "ready", "mail", 1];
 * console.log(notifyPayload("t1", [{ key, keyBytes: encodeKey(key) }], 3)); // "t1 026b767100...+"
 * ```
 */
export function notifyPayload(token: string, keys: Iterable<NotifiedKey>, depth: number): string {
  const items = new Set<string>();
  // The binary prefixes of `depth` parts already named. A key's parts encode self-delimited, so a
  // key that starts with one of them has those first parts: its item is already in the list.
  const known: string[] = [];
  let size = token.length + 1;
  for (const k of keys) {
    const { key } = k, binary = k.keyBinary;
    let item: string;
    if (key.length > depth) {
      if (binary !== undefined && known.some((p) => binary.startsWith(p))) continue;
      const prefix = encodeKeyBinary(key.slice(0, depth));
      if (known.length < KNOWN_PREFIXES) known.push(prefix);
      item = hexBinary(prefix) + "+";
    } else item = binary !== undefined ? hexBinary(binary) : hex(k.keyBytes);
    if (items.has(item)) continue;
    items.add(item);
    size += item.length + 1;
    if (size > MAX_PAYLOAD) return `${token} *`;
  }
  return `${token} ${[...items].join(",")}`;
}

/** A payload as read by a listener. */
export interface Notification {
  /** The sending store's token. */
  readonly token: string;
  /** True for `*`: every watcher wakes. */
  readonly all: boolean;
  /** Whole mutated keys. */
  readonly keys: readonly Uint8Array[];
  /** First parts of longer mutated keys. */
  readonly truncated: readonly Uint8Array[];
}

/**
 * Reads a payload made by {@link notifyPayload}; `null` when it is not one (another program's
 * NOTIFY on the channel), which wakes nobody.
 *
 * @example
 * ```ts
 * import { parseNotification } from "./notify.ts";
 * console.log(parseNotification("t1 *")?.all); // true
 * ```
 */
export function parseNotification(payload: string): Notification | null {
  const space = payload.indexOf(" ");
  if (space <= 0) return null;
  const token = payload.slice(0, space), rest = payload.slice(space + 1);
  if (rest === "*") return { token, all: true, keys: [], truncated: [] };
  const keys: Uint8Array[] = [], truncated: Uint8Array[] = [];
  for (const item of rest === "" ? [] : rest.split(",")) {
    const cut = item.endsWith("+");
    const bytes = unhex(cut ? item.slice(0, -1) : item);
    if (bytes === null) return null;
    (cut ? truncated : keys).push(bytes);
  }
  return { token, all: false, keys, truncated };
}

/**
 * Whether a notification concerns a watcher of `prefix` (encoded): a whole key under it, or a
 * truncated key that is under it or above it (it may hide a key under it: a hint, never a miss).
 *
 * @example
 * ```ts
 * import { encodeKey } from "../../src/kv.ts";
 * import { notifyPayload, parseNotification, wakes } from "./notify.ts";
 * const key = ["jobs", "ready", 1];
 * const n = parseNotification(notifyPayload("t", [{ key, keyBytes: encodeKey(key) }], 3))!;
 * console.log(wakes(n, encodeKey(["jobs", "ready"])), wakes(n, encodeKey(["jobs", "done"]))); // true false
 * ```
 */
export function wakes(n: Notification, prefix: Uint8Array): boolean {
  return n.all || n.keys.some((k) => startsWith(k, prefix)) ||
    n.truncated.some((t) => startsWith(t, prefix) || startsWith(prefix, t));
}
