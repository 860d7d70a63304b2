/**
 * The AtomicKv contract: the one narrow seam between kvq's queue logic and a storage backend,
 * modelled on Deno KV. Also the order-preserving key codec and the shared atomic-operation
 * buffer and argument checks that byte-storing adapters build on.
 *
 * Key order follows Deno KV exactly: by type first, `Uint8Array < string < bigint < number <
 * boolean` (this is what `Deno.openKv` does; bigints sort before numbers), then bytewise for
 * `Uint8Array` and UTF-8 strings (code point order, not UTF-16 order), numerically for bigints of
 * any width and for numbers (`-0` before `0`, `NaN` last), `false < true`; a key sorts before
 * every key it is a prefix of.
 *
 * Every promise the contract's JSDoc makes (the types from {@link KvKeyPart} to
 * {@link AtomicKv}) is checked by the conformance suite (`testAdapter` from `kvq/testing`, one
 * file per concern under `conformance/`), and the suite checks nothing the contract does not
 * state. What an adapter does with a bad argument is part of the contract: a key part that is
 * not a key part, or a value that is not a `Uint8Array`, is a `TypeError`; a list limit that is
 * not a non-negative integer is a `RangeError`. A store that is closed rejects everything with
 * `StoreClosedError`.
 *
 * @module
 */

import { LimitError, StorageError } from "./errors.ts";

/**
 * One part of a key: a `Uint8Array`, a string (well-formed: a lone surrogate is a `TypeError`),
 * a number (any, including `NaN`, `±Infinity`, and `-0`, which is a key part distinct from `0`),
 * a bigint of any width, or a boolean. Anything else (`undefined`, `null`, an object, a symbol)
 * is a `TypeError` wherever a key is passed.
 */
export type KvKeyPart = Uint8Array | string | number | bigint | boolean;

/**
 * A key: an array of parts, ordered as Deno KV orders them (see the module overview). Parts that
 * differ only in type make different keys: `[1]`, `[1n]`, `["1"]` and `[Uint8Array.of(0x31)]`
 * are four keys. A key that is not an array is a `TypeError`.
 */
export type KvKey = readonly KvKeyPart[];

/** A stored entry, as {@link AtomicKv.get}, {@link AtomicKv.getMany} and {@link AtomicKv.list} return it. */
export interface KvEntry {
  /** The entry's key, every part with its type and value intact (`-0` keeps its sign). */
  readonly key: KvKey;
  /** The stored bytes, exactly as written; a copy: changing it changes nothing stored. */
  readonly value: Uint8Array;
  /** The versionstamp of the commit that last wrote this key. */
  readonly versionstamp: string;
}

/**
 * A list selector: every key strictly under `prefix` (the prefix key itself is never listed,
 * also when `start` is the prefix key), optionally narrowed to `[start, end)`; or a plain range
 * `[start, end)`. `start` is inclusive and `end` exclusive. Under a prefix, `start` and `end`
 * must be the prefix key or keys under it. A selector that breaks these rules (a bound outside
 * the prefix, a range without both `start` and `end`, a selector that is not an object) is a
 * `TypeError`; a range whose start is at or after its end is no error and lists nothing.
 */
export type KvListSelector =
  | { readonly prefix: KvKey; readonly start?: KvKey; readonly end?: KvKey }
  | { readonly start: KvKey; readonly end: KvKey };

/** Options of {@link AtomicKv.list}; {@link checkListOptions} checks them. */
export interface KvListOptions {
  /**
   * At most this many entries: the first ones in key order, or the last ones with `reverse`.
   * A non-negative integer; `0` lists nothing. Anything else (a fraction, a negative number,
   * `NaN`, `Infinity`, a value that is not a number) is a `RangeError`.
   * @default no limit
   */
  readonly limit?: number;
  /** Descending key order. `true` or `false`; anything else is a `TypeError`. @default false */
  readonly reverse?: boolean;
}

/** Where a store's data can be seen from. */
export type KvScope = "process" | "machine" | "cluster";

/**
 * What a store declares about itself. The core adapts to it; nothing is probed. The limits are
 * positive integers. Reaching a limit is accepted; exceeding one makes the commit reject with a
 * {@link LimitError} whose `kind` names the limit, whose `limit` is the declared value and whose
 * `adapter` is `name`; nothing of that operation is applied and the store stays usable.
 */
export interface KvInfo {
  /** Adapter name, non-empty; the `adapter` of the errors the store raises (`"memory"`, `"file"`, ...). */
  readonly name: string;
  /** Largest value accepted by `set`, in bytes (`LimitError` kind `"valueBytes"` beyond). */
  readonly maxValueBytes: number;
  /**
   * Largest key, in bytes of its {@link encodeKey} encoding, for the keys of `set`, `delete` and
   * `check` alike (`LimitError` kind `"keyBytes"` beyond).
   */
  readonly maxKeyBytes: number;
  /** Most mutations (`set` + `delete`) in one atomic operation (`LimitError` kind `"mutations"` beyond). */
  readonly maxMutations: number;
  /** Most checks in one atomic operation (`LimitError` kind `"checks"` beyond). */
  readonly maxChecks: number;
  /** Who sees the data: one process, processes on one machine, or many machines. */
  readonly scope: KvScope;
  /**
   * True when a resolved commit survives SIGKILL and power loss: after `close()` and opening the
   * same store again, every committed entry is there with its versionstamp (a commit started
   * before `close()` included), nothing deleted comes back, and the first commit after the
   * reopen gets a greater versionstamp than the last one before it.
   */
  readonly durable: boolean;
  /** True when the store implements {@link AtomicKv.watch} (the method must then exist). */
  readonly watch: boolean;
  /**
   * True when the store keeps a space reserve and honours {@link AtomicOp.growth} (it then has
   * the method): when it runs out of disk space it refuses operations marked as growth with
   * `StorageError` code `"ENOSPC"` while it still accepts the others (which move, finish or remove
   * data already stored), so stored work can finish. Absent or false: the store treats every
   * operation alike.
   * @default false
   */
  readonly spaceReserve?: boolean;
}

/**
 * Result of {@link AtomicOp.commit}: `ok` with the commit's versionstamp, or not `ok` when a
 * check failed and nothing was applied.
 */
export type KvCommitResult = { readonly ok: true; readonly versionstamp: string } | { readonly ok: false };

/**
 * An atomic operation: checks, then mutations, applied all together or not at all. The builder
 * methods return the operation, for chaining. A bad argument (an invalid key part, a key that is
 * not an array, a value that is not a `Uint8Array`, a versionstamp that is neither a string nor
 * `null`) is a `TypeError`, thrown by the call or, at the latest, rejected by `commit()`.
 */
export interface AtomicOp {
  /**
   * Require `key` to have this versionstamp (`null`: the key must not exist), else the commit
   * resolves `{ ok: false }`. A stale versionstamp, another key's versionstamp, or any
   * versionstamp for an absent or deleted key fails the check. A check writes nothing: the
   * checked key keeps its versionstamp, and an operation with only checks (or with nothing at
   * all) commits and changes nothing.
   */
  check(key: KvKey, versionstamp: string | null): this;
  /**
   * Write `value` at `key`. The store keeps a copy taken when `set()` is called: changing the
   * caller's buffer afterwards (before or after `commit()`) changes nothing stored, and a view
   * into a larger buffer stores only the view's bytes. Any length from 0 to
   * `info.maxValueBytes` round-trips byte-exact. When one operation writes a key several times,
   * the last mutation of that key wins (a `set` then a `delete` leaves it absent).
   */
  set(key: KvKey, value: Uint8Array): this;
  /** Remove `key` (no error if absent). The last mutation of a key in one operation wins. */
  delete(key: KvKey): this;
  /**
   * Optional hint: this operation adds new data (a new job) rather than moving, finishing or
   * removing data already stored. It never changes the outcome of a commit, except that a store
   * declaring `info.spaceReserve` may refuse a marked commit with `StorageError` code `"ENOSPC"`
   * while it is low on disk space (and still accept unmarked ones). Returns the operation. Stores
   * may omit the method (not when they declare `info.spaceReserve`) or ignore the mark; callers
   * use `op.growth?.()`.
   */
  growth?(): this;
  /**
   * Optional hint: this operation may be acknowledged before it is durable. It changes nothing
   * about what the commit does or whom it is visible to; a store with `info.durable` may resolve a
   * marked commit before it reaches stable storage, so a power loss (never a process crash) can
   * undo it, together with later marked commits, but never an unmarked commit that resolved
   * after it (stores apply commits in order, and syncing a later commit syncs the earlier ones).
   * The engine marks claims and heartbeats, whose loss only makes a job run again (at-least-once),
   * and nothing a caller was told is stored. Returns the operation. Stores may omit the method or
   * ignore the mark (every commit durable); callers use `op.relaxed?.()`.
   */
  relaxed?(): this;
  /**
   * Apply everything: every check, then every mutation, all or nothing.
   *
   * - Resolves `{ ok: true, versionstamp }` when every check held; every key the operation wrote
   *   then carries `versionstamp`. Versionstamps are non-empty strings that strictly increase
   *   with every commit, store-wide, and compare as strings in commit order: a commit gets a
   *   greater versionstamp than every commit that resolved before it, concurrent commits get
   *   distinct ones, and rewriting a key with the same bytes still gives it a new, greater one.
   * - Resolves `{ ok: false }` when a check failed; nothing is applied. Of concurrent commits that
   *   check the same versionstamp of one key (or `null` for one absent key), exactly one succeeds.
   * - Rejects with {@link LimitError} when the operation exceeds a limit declared in
   *   {@link KvInfo}, with `StoreClosedError` after {@link AtomicKv.close}, with `TypeError` for a
   *   bad argument not thrown earlier, or with {@link StorageError} on a real fault; nothing is
   *   applied in each case.
   *
   * When the store is durable, resolving means the commit is durable (see {@link relaxed}).
   */
  commit(): Promise<KvCommitResult>;
}

/**
 * The atomic key-value contract every storage adapter implements. Reads return copies; a bad
 * key is a `TypeError`. After {@link close}, every operation (get, getMany, list, commit, watch)
 * rejects with `StoreClosedError` (a {@link StorageError} with code `"CLOSED"`).
 *
 * @example Use the memory adapter through the contract
 * ```ts
 * import { MemoryKv } from "../adapters/memory/mod.ts";
 * const kv = new MemoryKv();
 * const res = await kv.atomic().check(["a"], null).set(["a"], new Uint8Array([1])).commit();
 * console.log(res.ok, (await kv.get(["a"]))?.value);
 * await kv.close();
 * ```
 */
export interface AtomicKv {
  /** Declared limits and capabilities. */
  readonly info: KvInfo;
  /** Read one key: its entry, or `null` when it does not exist. */
  get(key: KvKey): Promise<KvEntry | null>;
  /**
   * Read several keys at one consistent point: one result per requested key, in request order
   * (`null` for an absent key; a key may be asked for twice), and no result mixes two commits.
   * `getMany([])` resolves `[]`.
   */
  getMany(keys: readonly KvKey[]): Promise<(KvEntry | null)[]>;
  /**
   * List the entries a selector covers, in key order (or reverse), at most `limit`; each entry
   * carries the same value and versionstamp {@link get} returns. Lists of any length page
   * through the store in both directions. A list need not read one consistent point: a commit
   * made while it iterates may or may not be seen. A bad selector (`TypeError`, see
   * {@link KvListSelector}), a bad limit (`RangeError`) or reverse (`TypeError`), and a closed
   * store (`StoreClosedError`) are thrown by `list()` itself or by the first step of the
   * iteration, so a `for await` over it throws either way.
   */
  list(selector: KvListSelector, options?: KvListOptions): AsyncIterable<KvEntry>;
  /** Start an atomic operation. */
  atomic(): AtomicOp;
  /**
   * Optional wake-up hint: yields (possibly coalesced, possibly without a new commit) after
   * commits that touch keys under `prefix`, until `signal` aborts. A watcher may subscribe
   * asynchronously, so the first commit after the call may pass unseen; a later one wakes it.
   * Aborting the signal ends the iteration, also while it waits; an already aborted signal ends
   * it without waiting. Present when `info.watch` is true; callers use it only then.
   */
  watch?(prefix: KvKey, signal: AbortSignal): AsyncIterable<void>;
  /**
   * Release resources. Commits started before `close()` settle before it resolves (on a durable
   * store they are kept). Afterwards every operation rejects with `StoreClosedError`.
   */
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Key codec: an order-preserving tuple encoding (FoundationDB tuple layer, as Deno KV uses).

const BYTES = 0x01;
const STRING = 0x02;
const NEG_INT_BIG = 0x0b; // negative bigint wider than 8 bytes
const INT_ZERO = 0x14; // 0x0c..0x13 negative (8..1 bytes), 0x15..0x1c positive (1..8 bytes)
const POS_INT_BIG = 0x1d; // positive bigint wider than 8 bytes
const DOUBLE = 0x21;
const FALSE = 0x26;
const TRUE = 0x27;

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

class ByteWriter {
  buf: Uint8Array = new Uint8Array(256);
  len = 0;
  ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }
  push(b: number): void {
    this.ensure(1);
    this.buf[this.len++] = b;
  }
  /** Writes bytes with 0x00 escaped as 0x00 0xff, then the 0x00 terminator. */
  escaped(bytes: Uint8Array): void {
    this.ensure(bytes.length * 2 + 1);
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i];
      this.buf[this.len++] = b;
      if (b === 0) this.buf[this.len++] = 0xff;
    }
    this.buf[this.len++] = 0;
  }
  bytes(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
  }
}

const f64 = new DataView(new ArrayBuffer(8));
/** The 8 order-preserving bytes of the last number {@link doubleBytes} encoded. */
const dbl = new Uint8Array(8);

/** Encodes `n` into {@link dbl}: IEEE 754 big-endian, sign bit flipped (all bits when negative). */
function doubleBytes(n: number): void {
  f64.setFloat64(0, Number.isNaN(n) ? NaN : n);
  const negative = (f64.getUint8(0) & 0x80) !== 0;
  for (let i = 0; i < 8; i++) {
    const b = f64.getUint8(i);
    dbl[i] = negative ? 0xff - b : i === 0 ? b ^ 0x80 : b;
  }
}

function magnitudeBytes(n: bigint): Uint8Array {
  let hex = n.toString(16);
  if (hex.length % 2) hex = "0" + hex;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
  return out;
}

function writeBigInt(w: ByteWriter, n: bigint): void {
  if (n === 0n) return w.push(INT_ZERO);
  const neg = n < 0n;
  const mag = magnitudeBytes(neg ? -n : n);
  if (mag.length <= 8) {
    w.push(neg ? INT_ZERO - mag.length : INT_ZERO + mag.length);
  } else {
    // Wider than 8 bytes: tag, then the length as [count of length bytes][length bytes],
    // so a longer magnitude sorts after (positive) or before (negative) a shorter one.
    const len = magnitudeBytes(BigInt(mag.length));
    w.push(neg ? NEG_INT_BIG : POS_INT_BIG);
    w.push(neg ? 0xff - len.length : len.length);
    for (const b of len) w.push(neg ? 0xff - b : b);
  }
  if (neg) { for (let i = 0; i < mag.length; i++) mag[i] = 0xff - mag[i]; }
  w.bytes(mag);
}

/** Writes an ASCII string escaped and terminated (its UTF-8 is itself); false if not ASCII. */
function asciiEscaped(w: ByteWriter, s: string): boolean {
  const n = s.length;
  for (let i = 0; i < n; i++) if (s.charCodeAt(i) > 0x7f) return false;
  w.ensure(n * 2 + 1);
  const buf = w.buf;
  let len = w.len;
  for (let i = 0; i < n; i++) {
    const b = s.charCodeAt(i);
    buf[len++] = b;
    if (b === 0) buf[len++] = 0xff;
  }
  buf[len++] = 0;
  w.len = len;
  return true;
}

function writePart(w: ByteWriter, part: KvKeyPart): void {
  if (part instanceof Uint8Array) {
    w.push(BYTES);
    w.escaped(part);
  } else if (typeof part === "string") {
    w.push(STRING);
    if (!asciiEscaped(w, part)) {
      if (!part.isWellFormed()) throw new TypeError("Invalid key part: string contains a lone surrogate");
      w.escaped(utf8.encode(part));
    }
  } else if (typeof part === "bigint") {
    writeBigInt(w, part);
  } else if (typeof part === "number") {
    doubleBytes(part);
    w.ensure(9);
    w.buf[w.len++] = DOUBLE;
    w.buf.set(dbl, w.len);
    w.len += 8;
  } else if (typeof part === "boolean") {
    w.push(part ? TRUE : FALSE);
  } else {
    throw new TypeError(
      `Invalid key part: ${typeof part} is not a Uint8Array, string, number, bigint or boolean`,
    );
  }
}

/**
 * Encodes a key into bytes whose bytewise order equals the key order.
 *
 * @example
 * ```ts
 * import { compareBytes, encodeKey } from "./kv.ts";
 * console.log(compareBytes(encodeKey(["a", 1n]), encodeKey(["a", 1])) < 0); // true: bigint < number
 * ```
 */
export function encodeKey(key: KvKey): Uint8Array {
  if (!Array.isArray(key)) throw new TypeError("Invalid key: expected an array of key parts");
  // encodeKey is synchronous and not reentrant: one scratch writer serves every call.
  const w = scratch;
  w.len = 0;
  try {
    for (const part of key) writePart(w, part);
    return w.buf.slice(0, w.len);
  } finally {
    if (w.buf.length > 4096) w.buf = new Uint8Array(256);
  }
}

const scratch = new ByteWriter();

/** True when `s` is ASCII without NUL: its encoding is then the tag, `s` itself and the terminator. */
function plainAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0 || c > 0x7f) return false;
  }
  return true;
}

/** `bytes[0, len)` as a binary string (one char per byte), for the short runs of the codec. */
function binaryRun(bytes: Uint8Array, len: number): string {
  let s = "";
  for (let i = 0; i < len; i += 1024) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, Math.min(len, i + 1024)) as unknown as number[]);
  }
  return s;
}

/**
 * Encodes a key as a binary string (one char per byte of {@link encodeKey}'s encoding, so `<` on
 * the strings is the key order and `length` is the encoded size), without building the bytes:
 * ASCII string parts are copied as they are and numbers take one string of 9 chars, the common
 * parts of a queue's keys. Throws exactly what {@link encodeKey} throws. In-memory stores key
 * their maps with it.
 *
 * @example
 * ```ts
 * import { encodeKey, encodeKeyBinary } from "./kv.ts";
 * const s = encodeKeyBinary(["job", 7]);
 * console.log(s.length === encodeKey(["job", 7]).length, s.charCodeAt(0)); // true 2
 * ```
 */
export function encodeKeyBinary(key: KvKey): string {
  if (!Array.isArray(key)) throw new TypeError("Invalid key: expected an array of key parts");
  let s = "";
  for (let i = 0; i < key.length; i++) {
    const part: KvKeyPart = key[i];
    if (typeof part === "string" && plainAscii(part)) {
      s += "\x02" + part + "\0";
    } else if (typeof part === "number") {
      doubleBytes(part);
      s += String.fromCharCode(DOUBLE, dbl[0], dbl[1], dbl[2], dbl[3], dbl[4], dbl[5], dbl[6], dbl[7]);
    } else {
      const w = scratch;
      w.len = 0;
      try {
        writePart(w, part);
        s += binaryRun(w.buf, w.len);
      } finally {
        if (w.buf.length > 4096) w.buf = new Uint8Array(256);
      }
    }
  }
  return s;
}

/**
 * The bytes of a binary string from {@link encodeKeyBinary} (one byte per char): its
 * {@link encodeKey} encoding.
 *
 * @example
 * ```ts
 * import { binaryKeyBytes, encodeKey, encodeKeyBinary } from "./kv.ts";
 * console.log(binaryKeyBytes(encodeKeyBinary(["a"])).join() === encodeKey(["a"]).join()); // true
 * ```
 */
export function binaryKeyBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function readEscaped(bytes: Uint8Array, pos: number): [Uint8Array, number] {
  const out: number[] = [];
  for (;;) {
    if (pos >= bytes.length) throw new TypeError("Invalid encoded key: unterminated byte string");
    const b = bytes[pos++];
    if (b !== 0) {
      out.push(b);
      continue;
    }
    if (bytes[pos] === 0xff) {
      out.push(0);
      pos++;
      continue;
    }
    return [Uint8Array.from(out), pos];
  }
}

function readMagnitude(bytes: Uint8Array, pos: number, len: number, neg: boolean): bigint {
  if (pos + len > bytes.length) throw new TypeError("Invalid encoded key: truncated integer");
  let hex = "";
  for (let i = 0; i < len; i++) {
    const b = neg ? 0xff - bytes[pos + i] : bytes[pos + i];
    hex += b.toString(16).padStart(2, "0");
  }
  return len === 0 ? 0n : BigInt("0x" + hex);
}

/**
 * Decodes bytes produced by {@link encodeKey}. Throws `TypeError` on malformed input.
 *
 * @example
 * ```ts
 * import { decodeKey, encodeKey } from "./kv.ts";
 * console.log(decodeKey(encodeKey(["job", 42n, true]))); // ["job", 42n, true]
 * ```
 */
export function decodeKey(bytes: Uint8Array): KvKeyPart[] {
  const key: KvKeyPart[] = [];
  let pos = 0;
  while (pos < bytes.length) pos = readPart(bytes, pos, key);
  return key;
}

/**
 * Decodes a binary string from {@link encodeKeyBinary} (or any binary string of an encoded key):
 * the same parts as {@link decodeKey} of its bytes, and the same `TypeError` on malformed input.
 * ASCII string parts come out as substrings, without decoding bytes.
 *
 * @example
 * ```ts
 * import { decodeKeyBinary, encodeKeyBinary } from "./kv.ts";
 * console.log(decodeKeyBinary(encodeKeyBinary(["job", 42n, true]))); // ["job", 42n, true]
 * ```
 */
export function decodeKeyBinary(s: string): KvKeyPart[] {
  const key: KvKeyPart[] = [];
  let bytes: Uint8Array | undefined;
  let pos = 0;
  while (pos < s.length) {
    if (s.charCodeAt(pos) === STRING) {
      const end = s.indexOf("\0", pos + 1);
      if (end >= 0 && s.charCodeAt(end + 1) !== 0xff) {
        const part = s.slice(pos + 1, end);
        if (ascii(part)) {
          key.push(part);
          pos = end + 1;
          continue;
        }
      }
    }
    bytes ??= binaryKeyBytes(s);
    pos = readPart(bytes, pos, key);
  }
  return key;
}

function ascii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** Decodes the part at `pos` of an encoded key onto `key`; returns the position after it. */
function readPart(bytes: Uint8Array, pos: number, key: KvKeyPart[]): number {
  const tag = bytes[pos++];
  if (tag === BYTES || tag === STRING) {
    const [raw, next] = readEscaped(bytes, pos);
    key.push(tag === BYTES ? raw : utf8Decoder.decode(raw));
    return next;
  } else if (tag > NEG_INT_BIG && tag < POS_INT_BIG) {
    const neg = tag < INT_ZERO;
    const len = neg ? INT_ZERO - tag : tag - INT_ZERO;
    const mag = readMagnitude(bytes, pos, len, neg);
    key.push(neg ? -mag : mag);
    return pos + len;
  } else if (tag === NEG_INT_BIG || tag === POS_INT_BIG) {
    const neg = tag === NEG_INT_BIG;
    if (pos >= bytes.length) throw new TypeError("Invalid encoded key: truncated integer");
    const lenLen = neg ? 0xff - bytes[pos] : bytes[pos];
    const len = Number(readMagnitude(bytes, pos + 1, lenLen, neg));
    pos += 1 + lenLen;
    const mag = readMagnitude(bytes, pos, len, neg);
    key.push(neg ? -mag : mag);
    return pos + len;
  } else if (tag === DOUBLE) {
    if (pos + 8 > bytes.length) throw new TypeError("Invalid encoded key: truncated number");
    const negative = (bytes[pos] & 0x80) === 0;
    for (let i = 0; i < 8; i++) {
      const b = bytes[pos + i];
      f64.setUint8(i, negative ? 0xff - b : i === 0 ? b ^ 0x80 : b);
    }
    key.push(f64.getFloat64(0));
    return pos + 8;
  } else if (tag === FALSE || tag === TRUE) {
    key.push(tag === TRUE);
    return pos;
  }
  throw new TypeError(`Invalid encoded key: unknown type tag 0x${tag.toString(16)} at byte ${pos - 1}`);
}

/**
 * Compares two byte strings lexicographically: negative, zero or positive.
 *
 * @example
 * ```ts
 * import { compareBytes } from "./kv.ts";
 * console.log(compareBytes(new Uint8Array([1]), new Uint8Array([1, 0]))); // -1
 * ```
 */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/**
 * Compares two keys in store order.
 *
 * @example
 * ```ts
 * import { compareKeys } from "./kv.ts";
 * console.log(compareKeys(["a", 2], ["a", 10]) < 0); // true
 * ```
 */
export function compareKeys(a: KvKey, b: KvKey): number {
  return compareBytes(encodeKey(a), encodeKey(b));
}

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

/**
 * Formats a commit sequence number as a versionstamp: 20 hex digits, so versionstamps compare
 * as strings in commit order.
 *
 * @example
 * ```ts
 * import { formatVersionstamp } from "./kv.ts";
 * console.log(formatVersionstamp(1n)); // "00000000000000000001"
 * ```
 */
export function formatVersionstamp(seq: bigint | number): string {
  // Stores format the same few recent seqs over and over (a check and a read of each key a
  // commit wrote): the last two are kept.
  if (seq === lastSeq[0]) return lastStamp[0];
  if (seq === lastSeq[1]) return lastStamp[1];
  const stamp = BigInt(seq).toString(16).padStart(20, "0");
  lastSeq[1] = lastSeq[0];
  lastStamp[1] = lastStamp[0];
  lastSeq[0] = seq;
  lastStamp[0] = stamp;
  return stamp;
}

const lastSeq: (bigint | number | undefined)[] = [undefined, undefined];
const lastStamp: string[] = ["", ""];

// ---------------------------------------------------------------------------------------------
// The shared atomic-operation buffer.

/** A check in an {@link AtomicBatch}. */
export interface BatchCheck {
  /** The key. */
  readonly key: KvKey;
  /** Its encoded bytes. */
  readonly keyBytes: Uint8Array;
  /**
   * Its encoded bytes as a binary string ({@link encodeKeyBinary}), when the batch carries it
   * ({@link BufferedAtomicOp} always does; it then builds `keyBytes` only when an adapter reads it).
   */
  readonly keyBinary?: string;
  /** Required versionstamp, `null` for "must not exist". */
  readonly versionstamp: string | null;
}

/** A mutation in an {@link AtomicBatch}. */
export type BatchMutation =
  | {
    readonly type: "set";
    readonly key: KvKey;
    readonly keyBytes: Uint8Array;
    /** As in {@link BatchCheck.keyBinary}. */
    readonly keyBinary?: string;
    readonly value: Uint8Array;
  }
  | {
    readonly type: "delete";
    readonly key: KvKey;
    readonly keyBytes: Uint8Array;
    /** As in {@link BatchCheck.keyBinary}. */
    readonly keyBinary?: string;
  };

/** Values up to this size share slabs ({@link BufferedAtomicOp}); larger ones get their own buffer. */
const SLAB_MAX = 16384;

/** The copy of every empty value: nothing in it can change, so one serves all. */
const EMPTY: Uint8Array = Object.freeze(new Uint8Array(0)) as Uint8Array;

/**
 * A buffered check or mutation: the key encoded once, as a binary string; the bytes are built on
 * first read (byte-storing adapters read them, in-memory ones never do).
 */
class BufferedEntry {
  readonly type: "set" | "delete" | "check";
  readonly key: KvKey;
  readonly keyBinary: string;
  readonly value: Uint8Array | undefined;
  readonly versionstamp: string | null;
  #bytes: Uint8Array | undefined = undefined;
  constructor(
    type: "set" | "delete" | "check",
    key: KvKey,
    keyBinary: string,
    value: Uint8Array | undefined,
    versionstamp: string | null,
  ) {
    this.type = type;
    this.key = key;
    this.keyBinary = keyBinary;
    this.value = value;
    this.versionstamp = versionstamp;
  }
  get keyBytes(): Uint8Array {
    return this.#bytes ??= binaryKeyBytes(this.keyBinary);
  }
}

/** A validated atomic operation, handed to an adapter's commit function. */
export interface AtomicBatch {
  /** The checks, in call order. */
  readonly checks: readonly BatchCheck[];
  /** The mutations, in call order (a later one on the same key wins). */
  readonly mutations: readonly BatchMutation[];
  /** True when the operation was marked with {@link AtomicOp.growth}. */
  readonly growth?: boolean;
  /** True when the operation was marked with {@link AtomicOp.relaxed}. */
  readonly relaxed?: boolean;
}

/**
 * An {@link AtomicOp} that buffers and validates checks and mutations against the store's
 * declared limits, then hands the batch to the adapter. Adapters share it so that limits and
 * key validation behave the same everywhere.
 *
 * @example
 * ```ts
 * import { BufferedAtomicOp } from "./kv.ts";
 * const info = { name: "demo", maxValueBytes: 16, maxKeyBytes: 64, maxMutations: 10, maxChecks: 10,
 *   scope: "process", durable: false, watch: false } as const;
 * const op = new BufferedAtomicOp(info, (batch) => Promise.resolve({ ok: true, versionstamp: String(batch.mutations.length) }));
 * console.log(await op.set(["k"], new Uint8Array(1)).commit());
 * ```
 */
export class BufferedAtomicOp implements AtomicOp {
  readonly #info: KvInfo;
  readonly #apply: (batch: AtomicBatch) => Promise<KvCommitResult>;
  readonly #checks: BatchCheck[] = [];
  readonly #mutations: BatchMutation[] = [];
  #error: unknown = undefined;
  #committed = false;
  #growth = false;
  #relaxed = false;
  #slab: Uint8Array | undefined = undefined;
  #slabUsed = 0;

  /** Creates the buffer; `apply` runs the validated batch. */
  constructor(info: KvInfo, apply: (batch: AtomicBatch) => Promise<KvCommitResult>) {
    this.#info = info;
    this.#apply = apply;
  }

  #key(key: KvKey): string {
    const s = encodeKeyBinary(key);
    if (s.length > this.#info.maxKeyBytes) {
      this.#error ??= new LimitError(this.#info.name, "keyBytes", s.length, this.#info.maxKeyBytes);
    }
    return s;
  }

  /** {@inheritDoc AtomicOp.check} */
  check(key: KvKey, versionstamp: string | null): this {
    if (versionstamp !== null && typeof versionstamp !== "string") {
      throw new TypeError("Invalid check: versionstamp must be a string or null");
    }
    this.#checks.push(new BufferedEntry("check", key, this.#key(key), undefined, versionstamp));
    return this;
  }

  /**
   * A copy of `value` carved from this operation's slab: one ArrayBuffer serves many small values
   * (a new ArrayBuffer per value is what makes copies slow on Node). Slabs grow geometrically from
   * 512 bytes, so a store that keeps a value keeps at most about twice the operation's bytes.
   */
  #copy(value: Uint8Array): Uint8Array {
    const n = value.length;
    if (n === 0) return EMPTY;
    if (n > SLAB_MAX) {
      const own = new Uint8Array(n);
      own.set(value);
      return own;
    }
    let slab = this.#slab;
    if (slab === undefined || this.#slabUsed + n > slab.length) {
      slab = this.#slab = new Uint8Array(Math.min(SLAB_MAX, Math.max(n, 2 * (slab?.length ?? 256))));
      this.#slabUsed = 0;
    }
    const copy = slab.subarray(this.#slabUsed, this.#slabUsed + n);
    copy.set(value);
    this.#slabUsed += n;
    return copy;
  }

  /** {@inheritDoc AtomicOp.set} */
  set(key: KvKey, value: Uint8Array): this {
    if (!(value instanceof Uint8Array)) throw new TypeError("Invalid value: expected a Uint8Array");
    if (value.length > this.#info.maxValueBytes) {
      this.#error ??= new LimitError(this.#info.name, "valueBytes", value.length, this.#info.maxValueBytes);
    }
    const copy = this.#copy(value);
    const entry = new BufferedEntry("set", key, this.#key(key), copy, null);
    this.#mutations.push(entry as BatchMutation);
    return this;
  }

  /** {@inheritDoc AtomicOp.delete} */
  delete(key: KvKey): this {
    this.#mutations.push(new BufferedEntry("delete", key, this.#key(key), undefined, null) as BatchMutation);
    return this;
  }

  /** {@inheritDoc AtomicOp.growth} */
  growth(): this {
    this.#growth = true;
    return this;
  }

  /** {@inheritDoc AtomicOp.relaxed} */
  relaxed(): this {
    this.#relaxed = true;
    return this;
  }

  /** {@inheritDoc AtomicOp.commit} */
  commit(): Promise<KvCommitResult> {
    if (this.#committed) {
      return Promise.reject(new TypeError("Invalid atomic operation: commit() was already called"));
    }
    this.#committed = true;
    const info = this.#info;
    if (this.#error) return Promise.reject(this.#error);
    if (this.#mutations.length > info.maxMutations) {
      return Promise.reject(
        new LimitError(info.name, "mutations", this.#mutations.length, info.maxMutations),
      );
    }
    if (this.#checks.length > info.maxChecks) {
      return Promise.reject(new LimitError(info.name, "checks", this.#checks.length, info.maxChecks));
    }
    try {
      const batch: { -readonly [K in keyof AtomicBatch]: AtomicBatch[K] } = {
        checks: this.#checks,
        mutations: this.#mutations,
      };
      if (this.#growth) batch.growth = true;
      if (this.#relaxed) batch.relaxed = true;
      return this.#apply(batch);
    } catch (e) {
      return Promise.reject(
        e instanceof StorageError ? e : new StorageError(info.name, "commit", String(e), { cause: e }),
      );
    }
  }
}
