/**
 * The BlobStore contract: where a queue keeps payloads and results too large for its job records.
 * Four calls over string keys, each item a few MiB at most (the engine writes large values as a
 * sequence of chunk items, so no item is ever a whole payload). Nothing here is atomic with the job
 * store: the engine writes a blob's chunks before the commit that references it, deletes them after
 * the commit that removes the job, and a sweep in maintenance collects what a crash left between the
 * two (every key carries its job id and write time).
 *
 * `kvq/unstorage` has `UnstorageBlobStore`, over any unstorage driver (fs, S3-compatible, Redis, ...).
 *
 * @module
 */

/** What a blob store declares about itself. */
export interface BlobStoreInfo {
  /** A name for messages. */
  readonly name: string;
  /** The largest blob (all its chunks) it takes, in bytes; `Infinity` when it sets no limit. */
  readonly maxBytes: number;
  /** Whether a resolved `set` survives a crash of the process (and of the machine). */
  readonly durable: boolean;
}

/**
 * A store of byte items under string keys. Keys are segments joined by `:` (each segment is made of
 * `A-Z a-z 0-9 - _ . %` only), so a store may map them onto paths or prefixes.
 *
 * @example A map-backed blob store
 * ```ts
 * import type { BlobStore } from "./blob_store.ts";
 * const items = new Map<string, Uint8Array>();
 * const store: BlobStore = {
 *   info: { name: "map", maxBytes: Infinity, durable: false },
 *   get: (key) => Promise.resolve(items.get(key) ?? null),
 *   set: (key, bytes) => Promise.resolve(void items.set(key, bytes.slice())),
 *   delete: (key) => Promise.resolve(void items.delete(key)),
 *   keys: (prefix) => Promise.resolve([...items.keys()].filter((k) => k.startsWith(prefix))),
 * };
 * await store.set("q:1:p:0", new Uint8Array([1]));
 * console.log(await store.keys("q:")); // ["q:1:p:0"]
 * ```
 */
export interface BlobStore {
  /** What the store declares. */
  readonly info: BlobStoreInfo;
  /** The bytes stored under `key`, or `null`. */
  get(key: string): Promise<Uint8Array | null>;
  /** Stores `bytes` under `key` (replacing what was there). The caller may reuse `bytes` afterwards. */
  set(key: string, bytes: Uint8Array): Promise<void>;
  /** Deletes `key` (nothing happens when it is absent). */
  delete(key: string): Promise<void>;
  /** Every key that starts with `prefix` (a prefix ends with `:`), in any order. */
  keys(prefix: string): Promise<string[]>;
}
