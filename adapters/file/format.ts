/**
 * The file store's on-disk format: a 16-byte header, then records. See docs/RELIABILITY.md
 * ("The file format") for the layout in words; this module encodes and decodes it.
 *
 * ```
 * header  0 "KVQF"  4 u16 version (1)  6 u16 flags (bit 0: FLAG_UNSYNCED)  8 u32 salt  12 u32 CRC-32C of 0..12
 * record  0 u32 body length  4 u32 CRC-32C(seed salt; length field, body)  8 body:
 *         body = u64 seq, u8 type, payload          (all integers little-endian)
 * ```
 *
 * Record types: COMMITS (one group-commit write: `u32 count`, then per commit `u32 mutations`,
 * then per mutation `u8 op (1 set, 2 delete)`, `u32 key length`, key, and for a set `u32 value
 * length`, value; the commits get sequence numbers `seq, seq+1, ...`); SNAPSHOT (`u32 count`,
 * then per entry `u64 seq`, `u32 key length`, key, `u32 value length`, value); SNAPSHOT_END
 * (`u64 entries`, `u32 snapshot records`; its seq is the store's sequence number at the
 * snapshot). Every file starts with a snapshot section (possibly just SNAPSHOT_END).
 *
 * @module
 */

import { crc32c } from "./crc32c.ts";

/** Format version written in the header. */
export const FORMAT_VERSION = 1;
/** Bytes in the file header. */
export const HEADER_BYTES = 16;
/** Bytes before a record's body: length and CRC. */
export const RECORD_PREFIX = 8;
/** Smallest valid body: seq and type. */
export const MIN_BODY = 9;
/** Largest valid body (a sanity bound checked before allocating). */
export const MAX_BODY: number = 64 * 1024 * 1024;
/** Largest key the format accepts (the store's own limit is lower). */
export const MAX_KEY_BYTES: number = 64 * 1024;
/** Largest encoded commit accepted, so that a commit always fits one record. */
export const MAX_COMMIT_BYTES: number = MAX_BODY - 64;

/** A group of commits. */
export const COMMITS = 1;
/** Live entries written by compaction. */
export const SNAPSHOT = 2;
/** End of the snapshot section. */
export const SNAPSHOT_END = 3;

const MAGIC = [0x4b, 0x56, 0x51, 0x46]; // "KVQF"

/**
 * Header flag: the log is being written with `durability: "none"`, so after a power loss any of its
 * unsynced records may be lost or damaged, not only the last ones. Replay then recovers to the
 * prefix before the first bad record instead of calling later valid records proof of corruption.
 * Set before the first unsynced write; cleared by an open with `"fsync"` once the log is a clean
 * prefix again. Readers that do not know it ignore it.
 */
export const FLAG_UNSYNCED = 1;

/** Encodes the 16-byte header. */
export function encodeHeader(salt: number, flags = 0): Uint8Array {
  const h = new Uint8Array(HEADER_BYTES);
  const dv = new DataView(h.buffer);
  h.set(MAGIC, 0);
  dv.setUint16(4, FORMAT_VERSION, true);
  dv.setUint16(6, flags, true);
  dv.setUint32(8, salt, true);
  dv.setUint32(12, crc32c(0, h, 0, 12), true);
  return h;
}

/** A decoded header, or why it is not one. */
export type HeaderResult =
  | { ok: true; salt: number; version: number; flags: number }
  | { ok: false; reason: string; version?: number };

/** Decodes and verifies the header. */
export function decodeHeader(h: Uint8Array): HeaderResult {
  if (h.length < HEADER_BYTES) {
    return { ok: false, reason: `file is ${h.length} bytes, shorter than the header` };
  }
  for (let i = 0; i < 4; i++) {
    if (h[i] !== MAGIC[i]) return { ok: false, reason: "bad magic: not a kvq file store" };
  }
  const dv = new DataView(h.buffer, h.byteOffset, HEADER_BYTES);
  if (dv.getUint32(12, true) !== crc32c(0, h, 0, 12)) return { ok: false, reason: "header CRC mismatch" };
  const version = dv.getUint16(4, true);
  if (version !== FORMAT_VERSION) {
    return { ok: false, reason: `unsupported format version ${version}`, version };
  }
  return { ok: true, salt: dv.getUint32(8, true), version, flags: dv.getUint16(6, true) };
}

/** Computes a record's CRC: seeded with the file's salt, over the length field and the body. */
export function recordCrc(salt: number, rec: Uint8Array, start: number, bodyLength: number): number {
  const c = crc32c(salt, rec, start, start + 4);
  return crc32c(c, rec, start + RECORD_PREFIX, start + RECORD_PREFIX + bodyLength);
}

/** Fills in length and CRC of a record whose body is already at `rec[8..]`. */
export function sealRecord(salt: number, rec: Uint8Array, seq: bigint, type: number): Uint8Array {
  const dv = new DataView(rec.buffer, rec.byteOffset, rec.byteLength);
  const bodyLength = rec.length - RECORD_PREFIX;
  dv.setUint32(0, bodyLength, true);
  dv.setBigUint64(8, seq, true);
  rec[16] = type;
  dv.setUint32(4, recordCrc(salt, rec, 0, bodyLength), true);
  return rec;
}

/** A mutation as encoded: key bytes, and the value or `null` for a delete. */
export interface EncodableMutation {
  /** Encoded key. */
  readonly keyBytes: Uint8Array;
  /** Value, or null to delete. */
  readonly value: Uint8Array | null;
}

/** Encodes one commit's mutations (the unit copied into a COMMITS record). */
export function encodeCommit(mutations: readonly EncodableMutation[]): Uint8Array {
  let n = 4;
  for (const m of mutations) n += 5 + m.keyBytes.length + (m.value ? 4 + m.value.length : 0);
  const out = new Uint8Array(n);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, mutations.length, true);
  let p = 4;
  for (const m of mutations) {
    out[p] = m.value ? 1 : 2;
    dv.setUint32(p + 1, m.keyBytes.length, true);
    out.set(m.keyBytes, p + 5);
    p += 5 + m.keyBytes.length;
    if (m.value) {
      dv.setUint32(p, m.value.length, true);
      out.set(m.value, p + 4);
      p += 4 + m.value.length;
    }
  }
  return out;
}

/**
 * Where each mutation's value starts inside an encoded commit (as {@link encodeCommit} wrote it),
 * in mutation order; -1 for a delete. Every value is preceded by its u32 length.
 */
export function commitValueOffsets(encoded: Uint8Array): number[] {
  const dv = new DataView(encoded.buffer, encoded.byteOffset, encoded.byteLength);
  const n = dv.getUint32(0, true);
  const out = new Array<number>(n);
  let p = 4;
  for (let i = 0; i < n; i++) {
    const set = encoded[p] === 1;
    p += 5 + dv.getUint32(p + 1, true);
    if (set) {
      out[i] = p + 4;
      p += 4 + dv.getUint32(p, true);
    } else {
      out[i] = -1;
    }
  }
  return out;
}

/** Offset of the first encoded commit inside a COMMITS record. */
export const COMMITS_HEADER_BYTES: number = RECORD_PREFIX + MIN_BODY + 4;

/** Bytes of a COMMITS record holding commits of these encoded sizes. */
export function commitsRecordBytes(encodedBytes: number): number {
  return RECORD_PREFIX + MIN_BODY + 4 + encodedBytes;
}

/** Builds a COMMITS record from encoded commits; they get sequence numbers `seq, seq+1, ...`. */
export function encodeCommitsRecord(salt: number, seq: bigint, commits: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const c of commits) n += c.length;
  const rec = new Uint8Array(commitsRecordBytes(n));
  new DataView(rec.buffer).setUint32(RECORD_PREFIX + MIN_BODY, commits.length, true);
  let p = RECORD_PREFIX + MIN_BODY + 4;
  for (const c of commits) {
    rec.set(c, p);
    p += c.length;
  }
  return sealRecord(salt, rec, seq, COMMITS);
}

/** Thrown by the decoders when a payload that passed its CRC is still malformed. */
export class FormatError extends Error {}

/** Reads a payload with bounds checks: every length is checked against what is left. */
export class PayloadReader {
  readonly bytes: Uint8Array;
  readonly dv: DataView;
  pos: number;
  /** Reads `bytes[start..]`. */
  constructor(bytes: Uint8Array, start: number) {
    this.bytes = bytes;
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = start;
  }
  /** Bytes left. */
  get left(): number {
    return this.bytes.length - this.pos;
  }
  #need(n: number, what: string): void {
    if (n > this.left) throw new FormatError(`${what} needs ${n} bytes, ${this.left} left`);
  }
  /** Reads a byte. */
  u8(what: string): number {
    this.#need(1, what);
    return this.bytes[this.pos++];
  }
  /** Reads a u32. */
  u32(what: string): number {
    this.#need(4, what);
    const v = this.dv.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  /** Reads a u64. */
  u64(what: string): bigint {
    this.#need(8, what);
    const v = this.dv.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }
  /** Reads `n` bytes as a view (no copy). */
  view(n: number, what: string): Uint8Array {
    this.#need(n, what);
    const v = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
}

/** Writes snapshot entries into records of about `chunkBytes` each. */
export class SnapshotWriter {
  readonly #salt: number;
  readonly #seq: bigint;
  readonly #chunkBytes: number;
  #entries: { key: Uint8Array; seq: bigint; value: Uint8Array }[] = [];
  #bytes = 0;
  /** Number of SNAPSHOT records produced so far. */
  records = 0;
  /** Number of entries written so far. */
  count = 0;
  /** Offsets of the values inside the record the last {@link flush} returned, in entry order. */
  valueOffsets: number[] = [];
  /** Writes for a store whose sequence number is `seq`. */
  constructor(salt: number, seq: bigint, chunkBytes: number) {
    this.#salt = salt;
    this.#seq = seq;
    this.#chunkBytes = chunkBytes;
  }
  /** Adds an entry; returns a finished record when the chunk is full. */
  add(key: Uint8Array, seq: bigint, value: Uint8Array): Uint8Array | null {
    this.#entries.push({ key, seq, value });
    this.#bytes += 16 + key.length + value.length;
    this.count++;
    return this.#bytes >= this.#chunkBytes ? this.flush() : null;
  }
  /** The pending entries as a record, or null when there are none. */
  flush(): Uint8Array | null {
    if (this.#entries.length === 0) return null;
    const rec = new Uint8Array(RECORD_PREFIX + MIN_BODY + 4 + this.#bytes);
    const dv = new DataView(rec.buffer);
    let p = RECORD_PREFIX + MIN_BODY;
    dv.setUint32(p, this.#entries.length, true);
    p += 4;
    const offsets = new Array<number>(this.#entries.length);
    let i = 0;
    for (const e of this.#entries) {
      dv.setBigUint64(p, e.seq, true);
      dv.setUint32(p + 8, e.key.length, true);
      rec.set(e.key, p + 12);
      p += 12 + e.key.length;
      dv.setUint32(p, e.value.length, true);
      rec.set(e.value, p + 4);
      offsets[i++] = p + 4;
      p += 4 + e.value.length;
    }
    this.valueOffsets = offsets;
    this.#entries = [];
    this.#bytes = 0;
    this.records++;
    return sealRecord(this.#salt, rec, this.#seq, SNAPSHOT);
  }
  /** The SNAPSHOT_END record (call after the last flush). */
  end(): Uint8Array {
    return encodeSnapshotEnd(this.#salt, this.#seq, this.count, this.records);
  }
}

/** Encodes a SNAPSHOT_END record. */
export function encodeSnapshotEnd(salt: number, seq: bigint, entries: number, records: number): Uint8Array {
  const rec = new Uint8Array(RECORD_PREFIX + MIN_BODY + 12);
  const dv = new DataView(rec.buffer);
  dv.setBigUint64(RECORD_PREFIX + MIN_BODY, BigInt(entries), true);
  dv.setUint32(RECORD_PREFIX + MIN_BODY + 8, records, true);
  return sealRecord(salt, rec, seq, SNAPSHOT_END);
}

/** A fresh random salt. */
export function newSalt(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0];
}
