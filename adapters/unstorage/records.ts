/**
 * The bytes the unstorage adapter stores: an entry (its commit sequence number beside its value,
 * written as one item so the two never part), the commit counter, and the write-ahead record of a
 * commit group (every final mutation with its key, value and sequence number, behind a SHA-256
 * of the rest, so a record cut short by a crash is recognised and dropped).
 *
 * @module
 */

import { CorruptionError } from "../../src/errors.ts";

const ENTRY_FORMAT = 1;
const JOURNAL_MAGIC = [0x6b, 0x76, 0x71, 0x4a]; // "kvqJ"
const DIGEST = 32;
const HEADER = JOURNAL_MAGIC.length + DIGEST;

/** One final mutation of a commit group, as the write-ahead record keeps it. */
export interface JournalMutation {
  /** The encoded key. */
  readonly keyBytes: Uint8Array;
  /** The new value, or `null` for a delete. */
  readonly value: Uint8Array | null;
  /** The sequence number of the commit that wrote it last. */
  readonly seq: bigint;
}

/** A decoded write-ahead record. */
export interface Journal {
  /** The sequence number of the group's last commit: the counter after it. */
  readonly seq: bigint;
  /** The group's final mutations, one per key. */
  readonly mutations: readonly JournalMutation[];
}

/**
 * An entry's item: format byte, the sequence number (8 bytes, big-endian), the value.
 *
 * @example
 * ```ts
 * import { decodeEntry, encodeEntry } from "./records.ts";
 * console.log(decodeEntry(encodeEntry(new Uint8Array([7]), 3n))); // { seq: 3n, value: Uint8Array [7] }
 * ```
 */
export function encodeEntry(value: Uint8Array, seq: bigint): Uint8Array {
  const out = new Uint8Array(9 + value.length);
  out[0] = ENTRY_FORMAT;
  new DataView(out.buffer).setBigUint64(1, seq);
  out.set(value, 9);
  return out;
}

/**
 * Decodes an entry's item (a copy of the value); a {@link CorruptionError} when it is not one.
 *
 * @example
 * ```ts
 * import { decodeEntry } from "./records.ts";
 * try {
 *   decodeEntry(new Uint8Array([9]));
 * } catch (e) {
 *   console.log((e as Error).name); // "CorruptionError"
 * }
 * ```
 */
export function decodeEntry(item: Uint8Array): { seq: bigint; value: Uint8Array } {
  if (item.length < 9 || item[0] !== ENTRY_FORMAT) {
    throw new CorruptionError(
      "unstorage",
      "read",
      `an entry item of ${item.length} bytes is not in format 1`,
    );
  }
  return {
    seq: new DataView(item.buffer, item.byteOffset, item.byteLength).getBigUint64(1),
    value: item.slice(9),
  };
}

/**
 * The commit counter's item: 8 bytes, big-endian.
 *
 * @example
 * ```ts
 * import { decodeSeq, encodeSeq } from "./records.ts";
 * console.log(decodeSeq(encodeSeq(42n))); // 42n
 * ```
 */
export function encodeSeq(seq: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, seq);
  return out;
}

/**
 * Decodes the commit counter's item; a {@link CorruptionError} when it is not 8 bytes.
 *
 * @example
 * ```ts
 * import { decodeSeq } from "./records.ts";
 * console.log(decodeSeq(new Uint8Array([0, 0, 0, 0, 0, 0, 1, 0]))); // 256n
 * ```
 */
export function decodeSeq(item: Uint8Array): bigint {
  if (item.length !== 8) {
    throw new CorruptionError("unstorage", "open", `the commit counter is ${item.length} bytes, expected 8`);
  }
  return new DataView(item.buffer, item.byteOffset, 8).getBigUint64(0);
}

async function digest(body: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", body as Uint8Array<ArrayBuffer>));
}

/**
 * Encodes a write-ahead record: magic, SHA-256 of the body, then the body (the counter, the
 * mutation count, and per mutation its kind, sequence number, key and value).
 *
 * @example
 * ```ts
 * import { decodeJournal, encodeJournal } from "./records.ts";
 * const bytes = await encodeJournal({ seq: 2n, mutations: [{ keyBytes: new Uint8Array([1]), value: null, seq: 2n }] });
 * console.log((await decodeJournal(bytes))?.mutations.length); // 1
 * ```
 */
export async function encodeJournal(journal: Journal): Promise<Uint8Array> {
  let size = 12;
  for (const m of journal.mutations) size += 17 + m.keyBytes.length + (m.value?.length ?? 0);
  const body = new Uint8Array(size);
  const view = new DataView(body.buffer);
  view.setBigUint64(0, journal.seq);
  view.setUint32(8, journal.mutations.length);
  let pos = 12;
  for (const m of journal.mutations) {
    body[pos] = m.value === null ? 0 : 1;
    view.setBigUint64(pos + 1, m.seq);
    view.setUint32(pos + 9, m.keyBytes.length);
    body.set(m.keyBytes, pos + 13);
    pos += 13 + m.keyBytes.length;
    view.setUint32(pos, m.value?.length ?? 0);
    if (m.value) body.set(m.value, pos + 4);
    pos += 4 + (m.value?.length ?? 0);
  }
  const out = new Uint8Array(HEADER + size);
  out.set(JOURNAL_MAGIC);
  out.set(await digest(body), JOURNAL_MAGIC.length);
  out.set(body, HEADER);
  return out;
}

/**
 * Decodes a write-ahead record, or `null` when it is incomplete (cut short or empty: the crash
 * came while it was written, so none of its group was applied). Something that is not a record
 * at all is a {@link CorruptionError}.
 *
 * @example A record cut short
 * ```ts
 * import { decodeJournal, encodeJournal } from "./records.ts";
 * const bytes = await encodeJournal({ seq: 1n, mutations: [] });
 * console.log(await decodeJournal(bytes.subarray(0, bytes.length - 1))); // null
 * ```
 */
export async function decodeJournal(bytes: Uint8Array): Promise<Journal | null> {
  if (bytes.length < HEADER + 12) return null;
  if (JOURNAL_MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new CorruptionError("unstorage", "open", "the write-ahead record does not start with kvqJ");
  }
  const body = bytes.slice(HEADER);
  const sum = await digest(body);
  if (sum.some((b, i) => bytes[JOURNAL_MAGIC.length + i] !== b)) return null;
  const view = new DataView(body.buffer);
  const count = view.getUint32(8);
  const mutations: JournalMutation[] = [];
  let pos = 12;
  for (let i = 0; i < count; i++) {
    const set = body[pos] === 1;
    const seq = view.getBigUint64(pos + 1);
    const keyLength = view.getUint32(pos + 9);
    const keyBytes = body.slice(pos + 13, pos + 13 + keyLength);
    pos += 13 + keyLength;
    const valueLength = view.getUint32(pos);
    const value = set ? body.slice(pos + 4, pos + 4 + valueLength) : null;
    pos += 4 + valueLength;
    mutations.push({ keyBytes, value, seq });
  }
  return { seq: view.getBigUint64(0), mutations };
}
