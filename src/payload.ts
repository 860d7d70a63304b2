/**
 * Encoding of job records and of the values they carry (payloads and results). A value is any
 * JSON value or a `Uint8Array`; it is kept inline in the job record when the record still fits the
 * store's `maxValueBytes`, and otherwise split into chunks stored under their own keys in the same
 * atomic commit. Records are JSON, readable in any store.
 *
 * @module
 */

import { type ErrorInfo, JOB_STATES, type JobRecord, type ValueRef } from "./job.ts";
import { CorruptionError, LimitError } from "./errors.ts";
import { encodeUtf8 } from "./utf8.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * The bytes of a value: `Uint8Array`s as they are, anything else as UTF-8 JSON (`undefined` as
 * `null`); for JSON also the text, so a record can embed it without encoding the value again.
 *
 * @example
 * ```ts
 * import { valueBytes } from "./payload.ts";
 * console.log(valueBytes({ a: 1 }).bytes.length, valueBytes(new Uint8Array(3)).binary); // 7 true
 * ```
 */
export function valueBytes(value: unknown): { bytes: Uint8Array; binary: boolean; text?: string } {
  if (value instanceof Uint8Array) return { bytes: value, binary: true };
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (e) {
    throw new TypeError(`Invalid job value: it cannot be encoded as JSON (${(e as Error).message})`, {
      cause: e,
    });
  }
  text ??= "null";
  return { bytes: encodeUtf8(text), binary: false, text };
}

/**
 * Base64 (standard alphabet, padded) of bytes.
 *
 * @example
 * ```ts
 * import { toBase64 } from "./payload.ts";
 * console.log(toBase64(new Uint8Array([1, 2, 3]))); // "AQID"
 * ```
 */
export function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000) as unknown as number[]);
  }
  return btoa(s);
}

/**
 * Bytes of a base64 string.
 *
 * @example
 * ```ts
 * import { fromBase64 } from "./payload.ts";
 * console.log(fromBase64("AQID")); // Uint8Array [1, 2, 3]
 * ```
 */
export function fromBase64(b64: string): Uint8Array {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/**
 * The inline reference of a value (JSON in the record, or base64 for bytes).
 *
 * @example
 * ```ts
 * import { inlineRef } from "./payload.ts";
 * console.log(inlineRef({ to: "a@b.c" })); // { json: { to: "a@b.c" } }
 * ```
 */
export function inlineRef(value: unknown): ValueRef {
  if (value instanceof Uint8Array) return { b64: toBase64(value) };
  return { json: value === undefined ? null : value };
}

/**
 * The stored form of a new record whose payload is inline JSON with text `payloadText` (from
 * {@linkcode valueBytes}): the same JSON as `JSON.stringify(record)`, without encoding the payload twice.
 *
 * @example
 * ```ts
 * import { encodeNewRecord } from "./payload.ts";
 * import { createJob } from "./job.ts";
 * const r = createJob({ id: "a", queue: "q", payload: { json: { n: 1 } } }, 0);
 * console.log(JSON.parse(new TextDecoder().decode(encodeNewRecord(r, '{"n":1}'))).payload.json.n); // 1
 * ```
 */
export function encodeNewRecord(record: JobRecord, payloadText: string): Uint8Array {
  const { payload: _payload, ...rest } = record;
  return encodeUtf8('{"payload":{"json":' + payloadText + "}," + JSON.stringify(rest).slice(1));
}

/**
 * Splits bytes into chunks of at most `size` bytes.
 *
 * @example
 * ```ts
 * import { chunk } from "./payload.ts";
 * console.log(chunk(new Uint8Array(5), 2).map((c) => c.length)); // [2, 2, 1]
 * ```
 */
export function chunk(bytes: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  if (out.length === 0) out.push(new Uint8Array(0));
  return out;
}

/**
 * Decodes a value from its reference; `chunks` are the stored chunks when the reference says so.
 *
 * @example
 * ```ts
 * import { decodeValue } from "./payload.ts";
 * console.log(decodeValue({ json: [1, 2] })); // [1, 2]
 * ```
 */
export function decodeValue(ref: ValueRef | undefined, chunks?: readonly Uint8Array[]): unknown {
  if (ref === undefined) return undefined;
  if ("json" in ref) return ref.json;
  if ("blob" in ref) return undefined; // read from the blob store (src/blobs.ts), not from the record

  if ("b64" in ref) return fromBase64(ref.b64);
  if (!chunks || chunks.length !== ref.chunks) {
    throw new TypeError(`Cannot decode value: expected ${ref.chunks} chunks, got ${chunks?.length ?? 0}`);
  }
  const bytes = new Uint8Array(ref.bytes);
  let off = 0;
  for (const c of chunks) {
    bytes.set(c, off);
    off += c.length;
  }
  return ref.binary ? bytes : JSON.parse(dec.decode(bytes));
}

/**
 * The canonical bytes of a stored value (what a signature covers): the same bytes for the value at
 * add time and for the value read back.
 *
 * @example
 * ```ts
 * import { canonicalBytes } from "./payload.ts";
 * console.log(canonicalBytes({ json: { a: 1 } }).length); // 7
 * ```
 */
export function canonicalBytes(ref: ValueRef, chunks?: readonly Uint8Array[]): Uint8Array {
  if ("json" in ref) return enc.encode(JSON.stringify(ref.json) ?? "null");
  if ("b64" in ref) return fromBase64(ref.b64);
  if ("blob" in ref) return enc.encode(ref.sha256); // its checksum covers every byte (blobSignedBytes)
  const value = decodeValue(ref, chunks);
  return value instanceof Uint8Array ? value : enc.encode(JSON.stringify(value) ?? "null");
}

/**
 * Encodes a job record as UTF-8 JSON, fitting it under `maxBytes` by dropping history stack traces
 * (oldest first), then shortening history messages, then dropping the oldest history entries (the
 * last attempt always stays). Throws {@linkcode LimitError} when it still does not fit (the caller,
 * `applyUnit` in job_store.ts, then moves an inline payload out into chunks).
 *
 * @example
 * ```ts
 * import { encodeRecord } from "./payload.ts";
 * import { createJob } from "./job.ts";
 * console.log(encodeRecord(createJob({ id: "a", queue: "q", payload: { json: 1 } }, 0), 65536).length > 0);
 * ```
 */
export function encodeRecord(record: JobRecord, maxBytes: number = Infinity, adapter = "queue"): Uint8Array {
  let bytes = encodeUtf8(JSON.stringify(record));
  if (bytes.length <= maxBytes) return bytes;
  const history = record.history.map((h) => ({ ...h }));
  const shrink = (f: (e: ErrorInfo) => ErrorInfo) => {
    for (let i = 0; i < history.length && bytes.length > maxBytes; i++) {
      const h = history[i];
      if (!h.error) continue;
      history[i] = { ...h, error: f(h.error) };
      bytes = encodeUtf8(JSON.stringify({ ...record, history }));
    }
  };
  shrink((e) => ({ name: e.name, message: e.message }));
  shrink((e) => ({ name: e.name, message: e.message.slice(0, 200) }));
  // Still too long: the oldest attempts go (each entry keeps its attempt number, so the stored
  // history shows where it starts); the last one always stays.
  let first = 0;
  while (bytes.length > maxBytes && first < history.length - 1) {
    first++;
    bytes = encodeUtf8(JSON.stringify({ ...record, history: history.slice(first) }));
  }
  if (bytes.length > maxBytes) throw new LimitError(adapter, "valueBytes", bytes.length, maxBytes);
  return bytes;
}

/**
 * Decodes a job record. Throws {@linkcode CorruptionError} (code `"CORRUPT"`) for bytes that are not
 * JSON or not a job record, so damaged stored bytes never reach the engine as a record.
 *
 * @example
 * ```ts
 * import { decodeRecord, encodeRecord } from "./payload.ts";
 * import { createJob } from "./job.ts";
 * const job = createJob({ id: "a", queue: "q", payload: { json: 1 } }, 0);
 * console.log(decodeRecord(encodeRecord(job)).id); // "a"
 * ```
 */
export function decodeRecord(bytes: Uint8Array): JobRecord {
  const record = parseStored(bytes, "a job record");
  const bad = recordFault(record);
  if (bad) throw new CorruptionError("queue", "decode", `a stored value is not a job record: ${bad}`);
  return record as JobRecord;
}

/** The JSON of a stored value; not JSON is a `CorruptionError` naming `what` it should have been. */
export function parseStored(bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(dec.decode(bytes));
  } catch (e) {
    throw new CorruptionError("queue", "decode", `${what} is not JSON (${(e as Error).message})`, {
      cause: e,
    });
  }
}

const RECORD_NUMBERS = ["priority", "attempt", "maxAttempts", "runAt", "createdAt", "updatedAt"] as const;

/** What makes a parsed value unusable as a job record (the fields the engine relies on), or null. */
function recordFault(r: unknown): string | null {
  if (typeof r !== "object" || r === null || Array.isArray(r)) return `a ${r === null ? "null" : typeof r}`;
  const o = r as Record<string, unknown>;
  if (typeof o.id !== "string" || typeof o.queue !== "string") return "no string id and queue";
  if (!(JOB_STATES as readonly unknown[]).includes(o.state)) return `state ${JSON.stringify(o.state)}`;
  for (const f of RECORD_NUMBERS) if (typeof o[f] !== "number") return `${f} is not a number`;
  if (!Array.isArray(o.history)) return "history is not an array";
  if (typeof o.payload !== "object" || o.payload === null) return "no payload reference";
  return null;
}
