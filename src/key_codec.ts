/**
 * The order-preserving key codec (the FoundationDB tuple layer, as Deno KV uses): keys to bytes
 * and back, with byte order equal to the contract's key order ({@link compareKeys}), and the same
 * encoding as a binary string for in-memory stores. Part of the AtomicKv contract (`src/kv.ts`
 * re-exports it).
 *
 * @module
 */

import type { KvKey, KvKeyPart } from "./kv.ts";

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
