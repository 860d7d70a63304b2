/**
 * Large payloads and results through a {@linkcode BlobStore}: values above the queue's threshold (and
 * every `ReadableStream` or `Blob` given to `add()`) are written as chunk items before the commit that
 * references them, and the job record keeps a {@linkcode BlobRef}: the key, the size, and a SHA-256
 * checksum (WebCrypto). A stream is never in memory whole: it is cut into chunks of `chunkBytes`, each
 * stored with its own SHA-256 in front, and the record's checksum is the SHA-256 of those digests in
 * order. Reads verify every chunk before handing it on and the whole at the end
 * ({@linkcode BlobChecksumError}). Blobs go with their job (removal, retention, `removeOnComplete`), and
 * {@linkcode sweepBlobs} deletes, after a grace period, any blob no job references (a crash between
 * the blob write and the commit, an add that lost its commit, a removal whose deletes did not run).
 *
 * Blob keys: `<prefix>:<queue>:<job id>:<p|r>-<write time, base 36>-<random>:<chunk, 6 digits>`.
 *
 * @module
 */

import type { BlobStore } from "./blob_store.ts";
import type { QueueContext } from "./context.ts";
import type { JobRecord, ValueRef } from "./job_record.ts";
import { BlobChecksumError, LimitError, PayloadTooLargeError } from "./errors.ts";
import { decodeRecord, valueBytes } from "./payload.ts";
import { checkNumber } from "./validate.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const MiB = 1024 * 1024;
const DIGEST = 32;

/** A queue's blob store and when values go to it (`QueueOptions.blobs`). */
export interface BlobOptions {
  /** The store, e.g. `new UnstorageBlobStore(createStorage({ driver: fsDriver({ base }) }))`. */
  store: BlobStore;
  /** Payloads and results whose encoded size is above this go to the store, in bytes. @default 256 KiB */
  threshold?: number;
  /** The largest payload or result the store takes, in bytes (also capped by `store.info.maxBytes`). @default 4 GiB */
  maxBytes?: number;
  /** The size of one chunk item, in bytes. @default 4 MiB */
  chunkBytes?: number;
  /** Blob payloads up to this size are read whole into `job.data`; larger ones only through `ctx.stream()`. @default 16 MiB */
  loadBytes?: number;
  /** How old an unreferenced blob must be before the sweep deletes it, in ms. @default 600000 (10 min) */
  grace?: number;
  /** The first segment of every key, to share one store between queues of different roots. @default "kvq" */
  prefix?: string;
}

/** The checked blob options of a queue, and when its sweep next runs. */
export interface BlobSettings {
  /** The store. */
  readonly store: BlobStore;
  /** See {@linkcode BlobOptions}. */
  readonly threshold: number;
  /** The effective limit (the option and the store's own, whichever is lower). */
  readonly maxBytes: number;
  /** See {@linkcode BlobOptions}. */
  readonly chunkBytes: number;
  /** See {@linkcode BlobOptions}. */
  readonly loadBytes: number;
  /** See {@linkcode BlobOptions}. */
  readonly grace: number;
  /** See {@linkcode BlobOptions}. */
  readonly prefix: string;
  /** When the sweep may run next (the worker's maintenance runs it at most once a minute). */
  nextSweep: number;
}

/** The reference a job record keeps to a value in the blob store. */
export interface BlobRef {
  /** The blob's key prefix (its chunks are `<blob>:<i>`). */
  readonly blob: string;
  /** Its size, in bytes. */
  readonly bytes: number;
  /** How many chunk items. */
  readonly parts: number;
  /** SHA-256 (hex) of the chunks' SHA-256 digests, in order. */
  readonly sha256: string;
  /** Bytes (`true`) or UTF-8 JSON (`false`). */
  readonly binary: boolean;
}

/** What `add()` takes besides JSON values and `Uint8Array`s: read as bytes, never whole. */
export type ByteSource = ReadableStream<Uint8Array> | Blob;

/**
 * Checks `QueueOptions.blobs`.
 *
 * @example
 * ```ts
 * import { createStorage } from "unstorage";
 * import { UnstorageBlobStore } from "../adapters/unstorage/mod.ts";
 * import { blobSettings } from "./blobs.ts";
 * const store = new UnstorageBlobStore(createStorage(), { maxBytes: 2 ** 20 });
 * console.log(blobSettings({ store })!.maxBytes); // 1048576
 * ```
 */
export function blobSettings(o: BlobOptions | undefined): BlobSettings | undefined {
  if (o === undefined) return undefined;
  const s = o.store;
  if (!s || typeof s.get !== "function" || typeof s.keys !== "function" || !s.info) {
    throw new TypeError("Invalid blobs option: store is not a BlobStore");
  }
  const threshold = o.threshold ?? 256 * 1024;
  const maxBytes = o.maxBytes ?? 4 * 1024 * MiB;
  const chunkBytes = o.chunkBytes ?? 4 * MiB;
  const loadBytes = o.loadBytes ?? 16 * MiB;
  const grace = o.grace ?? 600_000;
  checkNumber("blobs.threshold", threshold, 0, true);
  checkNumber("blobs.maxBytes", maxBytes, 0, true);
  checkNumber("blobs.chunkBytes", chunkBytes, 1, true);
  checkNumber("blobs.loadBytes", loadBytes, 0, true);
  checkNumber("blobs.grace", grace, 0);
  const prefix = o.prefix ?? "kvq";
  if (!/^[A-Za-z0-9_.-]+$/.test(prefix)) {
    throw new TypeError(`Invalid blobs.prefix: ${JSON.stringify(prefix)} (letters, digits, - _ . only)`);
  }
  const cap = Math.min(maxBytes, s.info.maxBytes);
  return { store: s, threshold, maxBytes: cap, chunkBytes, loadBytes, grace, prefix, nextSweep: -Infinity };
}

/**
 * Whether a stored value reference points into the blob store.
 *
 * @example
 * ```ts
 * import { isBlobRef } from "./blobs.ts";
 * console.log(isBlobRef({ json: 1 }), isBlobRef({ blob: "k", bytes: 0, parts: 0, sha256: "", binary: true }));
 * // false true
 * ```
 */
export function isBlobRef(ref: ValueRef | undefined): ref is BlobRef {
  return ref !== undefined && "blob" in ref;
}

/**
 * Whether a value is a `ReadableStream` or a `Blob`.
 *
 * @example
 * ```ts
 * import { isByteSource } from "./blobs.ts";
 * console.log(isByteSource(new Blob(["a"])), isByteSource("a")); // true false
 * ```
 */
export function isByteSource(v: unknown): v is ByteSource {
  return (typeof ReadableStream !== "undefined" && v instanceof ReadableStream) ||
    (typeof Blob !== "undefined" && v instanceof Blob);
}

/** A key segment: only `A-Za-z0-9-_.%`. */
function seg(s: string): string {
  return encodeURIComponent(s).replace(/[!~*'()]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
}

/** The key prefix of every blob of queue `ctx.name` (with the trailing `:`). */
function queuePrefix(ctx: QueueContext<unknown, unknown>, b: BlobSettings): string {
  return `${b.prefix}:${seg(ctx.name)}:`;
}

const chunkKey = (blob: string, i: number) => `${blob}:${String(i).padStart(6, "0")}`;

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
}

/** The checksum of a blob: SHA-256 of its chunk digests in order. */
async function rootOf(digests: readonly Uint8Array[]): Promise<string> {
  const all = new Uint8Array(digests.length * DIGEST);
  digests.forEach((d, i) => all.set(d, i * DIGEST));
  return hex(await sha256(all));
}

/** Reads a byte source into memory (no blob store), refusing more than `max` bytes. */
async function collect(src: ByteSource, max: number): Promise<Uint8Array> {
  const reader = (src instanceof Blob ? src.stream() : src).getReader();
  const parts: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.length;
    if (n > max) {
      await reader.cancel();
      throw new LimitError("queue", "payloadBytes", n, max);
    }
    parts.push(value);
  }
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) (out.set(p, off), off += p.length);
  return out;
}

/**
 * Writes `src` to the blob store as job `id`'s payload (`"p"`) or result (`"r"`) and returns its
 * reference. Over the limit: {@linkcode PayloadTooLargeError}, and nothing stays stored.
 */
async function writeBlob(
  ctx: QueueContext<unknown, unknown>,
  b: BlobSettings,
  id: string,
  kind: "p" | "r",
  src: Uint8Array | ByteSource,
  binary: boolean,
): Promise<BlobRef> {
  const size = src instanceof Uint8Array ? src.length : src instanceof Blob ? src.size : undefined;
  if (size !== undefined && size > b.maxBytes) throw new PayloadTooLargeError(size, b.maxBytes);
  const rand = Math.floor(ctx.random() * 36 ** 6).toString(36);
  const blob = `${queuePrefix(ctx, b)}${seg(id)}:${kind}-${ctx.clock.now().toString(36)}-${rand}`;
  const digests: Uint8Array[] = [];
  let total = 0;
  const put = async (bytes: Uint8Array) => {
    const item = new Uint8Array(DIGEST + bytes.length);
    const d = await sha256(bytes);
    item.set(d);
    item.set(bytes, DIGEST);
    await b.store.set(chunkKey(blob, digests.length), item);
    digests.push(d);
    total += bytes.length;
  };
  try {
    if (src instanceof Uint8Array) {
      for (let i = 0; i < src.length; i += b.chunkBytes) await put(src.subarray(i, i + b.chunkBytes));
    } else {
      const reader = (src instanceof Blob ? src.stream() : src).getReader();
      const buf = new Uint8Array(b.chunkBytes);
      let fill = 0;
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          if (total + fill + value.length > b.maxBytes) {
            throw new PayloadTooLargeError(total + fill + value.length, b.maxBytes);
          }
          let off = 0;
          while (off < value.length) {
            const n = Math.min(value.length - off, buf.length - fill);
            buf.set(value.subarray(off, off + n), fill);
            fill += n;
            off += n;
            if (fill === buf.length) {
              await put(buf); // copied into its item, so the buffer is reused
              fill = 0;
            }
          }
        }
      } catch (e) {
        await reader.cancel(e).catch(() => {});
        throw e;
      }
      if (fill > 0) await put(buf.subarray(0, fill));
    }
  } catch (e) {
    await Promise.allSettled(digests.map((_, i) => b.store.delete(chunkKey(blob, i))));
    throw e;
  }
  return { blob, bytes: total, parts: digests.length, sha256: await rootOf(digests), binary };
}

/** A stored value: where it went, and what the record and the caller's view keep of it. */
export interface Placed {
  /** The blob reference, when the value went to the blob store. */
  readonly ref?: BlobRef;
  /** The value as the caller's view shows it (`undefined` for a stream, which is consumed). */
  readonly value: unknown;
  /** Its bytes when it stays inline (see `valueBytes`). */
  readonly inline?: ReturnType<typeof valueBytes>;
}

/**
 * Places a value inline (no blob store, not a stream): what {@linkcode place} returns then, without a
 * promise.
 *
 * @example
 * ```ts
 * import { placeInline } from "./blobs.ts";
 * console.log(placeInline({ a: 1 }).inline!.text); // '{"a":1}'
 * ```
 */
export function placeInline(value: unknown): Placed {
  return { value, inline: valueBytes(value) };
}

/**
 * Places job `id`'s payload (`"p"`) or result (`"r"`): into the blob store when the queue has one and
 * the value is a stream, a `Blob` or above the threshold; else inline as before (a stream is then read
 * into bytes, up to `maxPayloadBytes`).
 *
 * @example
 * ```ts
 * import { MemoryKv } from "../adapters/memory/mod.ts";
 * import { createContext } from "./context.ts";
 * import { place } from "./blobs.ts";
 * const ctx = createContext(new MemoryKv(), "q", {}, new EventTarget());
 * console.log((await place(ctx, "id", "p", { a: 1 })).ref); // undefined
 * ```
 */
export async function place<T, R>(
  ctx: QueueContext<T, R>,
  id: string,
  kind: "p" | "r",
  value: unknown,
): Promise<Placed> {
  const b = ctx.blobs;
  const c = ctx as QueueContext<unknown, unknown>;
  if (isByteSource(value)) {
    if (b) return { ref: await writeBlob(c, b, id, kind, value, true), value: undefined };
    const bytes = await collect(value, ctx.settings.maxPayloadBytes);
    return { value: bytes, inline: valueBytes(bytes) };
  }
  const placed = placeInline(value);
  const inline = placed.inline!;
  if (!b || inline.bytes.length <= b.threshold) return placed;
  return { ref: await writeBlob(c, b, id, kind, inline.bytes, inline.binary), value };
}

/**
 * Places a handler's result (see {@linkcode place}): its blob reference, or `undefined` when it stays
 * inline. A stream or `Blob` result needs a blob store (`TypeError` without one).
 *
 * @example
 * ```ts
 * import { MemoryKv } from "../adapters/memory/mod.ts";
 * import { createContext } from "./context.ts";
 * import { placeResult } from "./blobs.ts";
 * const ctx = createContext(new MemoryKv(), "q", {}, new EventTarget());
 * console.log(await placeResult(ctx, "id", "done")); // undefined
 * ```
 */
export async function placeResult<T, R>(
  ctx: QueueContext<T, R>,
  id: string,
  result: unknown,
): Promise<BlobRef | undefined> {
  if (!ctx.blobs) {
    if (isByteSource(result)) {
      throw new TypeError("Cannot store a stream or Blob result: the queue has no blob store (blobs option)");
    }
    return undefined;
  }
  return (await place(ctx, id, "r", result)).ref;
}

/**
 * The bytes a payload signature covers for a blob payload: its checksum (which covers every byte).
 *
 * @example
 * ```ts
 * import { blobSignedBytes } from "./blobs.ts";
 * console.log(blobSignedBytes({ blob: "k", bytes: 1, parts: 1, sha256: "ab", binary: true }).length); // 2
 * ```
 */
export function blobSignedBytes(ref: BlobRef): Uint8Array {
  return enc.encode(ref.sha256);
}

/**
 * A verified stream of a blob's bytes: every chunk is checked against its digest before it is handed
 * on, and the chunk list against the record's checksum at the end; a mismatch errors the stream with
 * {@linkcode BlobChecksumError}.
 *
 * @example
 * ```ts
 * import { MemoryKv } from "../adapters/memory/mod.ts";
 * import { createContext } from "./context.ts";
 * import { blobStream } from "./blobs.ts";
 * const ctx = createContext(new MemoryKv(), "q", {}, new EventTarget());
 * const s = blobStream(ctx, "id", { blob: "k", bytes: 0, parts: 0, sha256: "", binary: true });
 * console.log(await s.getReader().read().catch((e) => e.name)); // "TypeError" (no blob store)
 * ```
 */
export function blobStream<T, R>(
  ctx: QueueContext<T, R>,
  jobId: string,
  ref: BlobRef,
): ReadableStream<Uint8Array> {
  const b = ctx.blobs;
  const digests: Uint8Array[] = [];
  let total = 0;
  const bad = (why: string) => new BlobChecksumError(jobId, ref.blob, why);
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!b) {
        throw new TypeError(`Cannot read job ${jobId}: its value is in a blob store and the queue has none`);
      }
      const i = digests.length;
      if (i === ref.parts) {
        if (total !== ref.bytes) throw bad(`it has ${total} bytes, the record says ${ref.bytes}`);
        if ((await rootOf(digests)) !== ref.sha256) throw bad("the chunk digests do not match the record");
        return controller.close();
      }
      const item = await b.store.get(chunkKey(ref.blob, i));
      if (!item || item.length < DIGEST) throw bad(`chunk ${i} of ${ref.parts} is missing`);
      const data = item.subarray(DIGEST);
      const d = await sha256(data);
      if (hex(d) !== hex(item.subarray(0, DIGEST))) throw bad(`chunk ${i} does not match its digest`);
      digests.push(d);
      total += data.length;
      controller.enqueue(data);
    },
  }, { highWaterMark: 0 });
}

/**
 * Reads a blob whole (verified) as its value, or `undefined` when it is larger than `loadBytes`.
 *
 * @example
 * ```ts
 * import { MemoryKv } from "../adapters/memory/mod.ts";
 * import { createContext } from "./context.ts";
 * import { loadBlob } from "./blobs.ts";
 * const ctx = createContext(new MemoryKv(), "q", {}, new EventTarget());
 * console.log(await loadBlob(ctx, "id", { blob: "k", bytes: 1e12, parts: 1, sha256: "", binary: true }));
 * // undefined
 * ```
 */
export async function loadBlob<T, R>(ctx: QueueContext<T, R>, jobId: string, ref: BlobRef): Promise<unknown> {
  if (ref.bytes > (ctx.blobs?.loadBytes ?? 16 * MiB)) return undefined;
  const out = new Uint8Array(ref.bytes);
  let off = 0;
  const reader = blobStream(ctx, jobId, ref).getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (off + value.length > out.length) throw new BlobChecksumError(jobId, ref.blob, "it is too long");
    out.set(value, off);
    off += value.length;
  }
  return ref.binary ? out : JSON.parse(dec.decode(out));
}

/**
 * The payload of a job as a stream: verified chunks for a blob payload, else the bytes of the value
 * (`Uint8Array` as it is, anything else as UTF-8 JSON).
 *
 * @example
 * ```ts
 * import { MemoryKv } from "../adapters/memory/mod.ts";
 * import { createContext } from "./context.ts";
 * import { valueStream } from "./blobs.ts";
 * const ctx = createContext(new MemoryKv(), "q", {}, new EventTarget());
 * const { value } = await valueStream(ctx, "id", { json: 1 }, 1).getReader().read();
 * console.log(value); // Uint8Array [49]
 * ```
 */
export function valueStream<T, R>(
  ctx: QueueContext<T, R>,
  jobId: string,
  ref: ValueRef,
  value: unknown,
): ReadableStream<Uint8Array> {
  if (isBlobRef(ref)) return blobStream(ctx, jobId, ref);
  const bytes = valueBytes(value).bytes;
  return new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(bytes);
      c.close();
    },
  });
}

/** Deletes the chunks of one blob; failures are left to the sweep. */
async function dropRef(b: BlobSettings, ref: BlobRef): Promise<void> {
  await Promise.allSettled(
    Array.from({ length: ref.parts }, (_, i) => b.store.delete(chunkKey(ref.blob, i))),
  );
}

/**
 * Deletes the blobs of a job that was removed (removal, retention, `removeOnComplete`). Never throws:
 * what it cannot delete, the sweep does.
 *
 * @example
 * ```ts
 * import { MemoryKv } from "../adapters/memory/mod.ts";
 * import { createContext } from "./context.ts";
 * import { dropBlobs } from "./blobs.ts";
 * import { createJob } from "./job.ts";
 * const ctx = createContext(new MemoryKv(), "q", {}, new EventTarget());
 * await dropBlobs(ctx, createJob({ id: "a", queue: "q", payload: { json: 1 } }, 0));
 * console.log("nothing to drop");
 * ```
 */
export async function dropBlobs<T, R>(ctx: QueueContext<T, R>, record: JobRecord): Promise<void> {
  const b = ctx.blobs;
  if (!b) return;
  if (isBlobRef(record.payload)) await dropRef(b, record.payload);
  if (isBlobRef(record.result)) await dropRef(b, record.result);
}

/**
 * The sweep: deletes every blob of the queue that is older than `grace` and that no job references
 * (its job is gone, or the job's record names another blob). Returns how many blobs it deleted.
 * `force` runs it even when the last sweep was less than a minute ago.
 *
 * @example
 * ```ts
 * import { MemoryKv } from "../adapters/memory/mod.ts";
 * import { createContext } from "./context.ts";
 * import { sweepBlobs } from "./blobs.ts";
 * const ctx = createContext(new MemoryKv(), "q", {}, new EventTarget());
 * console.log(await sweepBlobs(ctx, Date.now())); // 0 (no blob store)
 * ```
 */
export async function sweepBlobs<T, R>(ctx: QueueContext<T, R>, now: number, force = false): Promise<number> {
  const b = ctx.blobs;
  if (!b || (!force && now < b.nextSweep)) return 0;
  b.nextSweep = now + Math.min(60_000, Math.max(b.grace, 1000));
  const prefix = queuePrefix(ctx as QueueContext<unknown, unknown>, b);
  const groups = new Map<string, string[]>();
  for (const key of await b.store.keys(prefix)) {
    const cut = key.lastIndexOf(":");
    const blob = key.slice(0, cut);
    const list = groups.get(blob);
    if (list) list.push(key);
    else groups.set(blob, [key]);
  }
  let deleted = 0;
  for (const [blob, keys] of groups) {
    const [idSeg, obj] = blob.slice(prefix.length).split(":");
    const written = parseInt(obj?.split("-")[1] ?? "", 36);
    if (!(now - written >= b.grace)) continue;
    const entry = await ctx.kv.get(ctx.ks.job(decodeURIComponent(idSeg ?? "")));
    if (entry) {
      let r: JobRecord;
      try {
        r = decodeRecord(entry.value);
      } catch {
        continue; // a damaged record: keep whatever it may reference
      }
      if (
        (isBlobRef(r.payload) && r.payload.blob === blob) || (isBlobRef(r.result) && r.result.blob === blob)
      ) {
        continue;
      }
    }
    await Promise.all(keys.map((k) => b.store.delete(k)));
    deleted++;
  }
  return deleted;
}
