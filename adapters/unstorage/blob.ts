/**
 * UnstorageBlobStore: a queue's blob store (large payloads and results) over any unstorage `Storage`
 * (fs, S3-compatible, Redis, memory, ...). One unstorage item per chunk, written with `setItemRaw`.
 *
 * @module
 */

import type { BlobStore, BlobStoreInfo } from "../../src/kv.ts";
import { plainBytes, storageError } from "../_kit/mod.ts";
import type { UnstorageStorage } from "./types.ts";

/** Options of {@linkcode UnstorageBlobStore}. */
export interface UnstorageBlobStoreOptions {
  /** A base every key goes under (a mount point or a prefix in a shared storage). @default "" */
  base?: string;
  /** Whether a resolved write survives a crash (fs, S3, Redis with persistence: `true`). @default true */
  durable?: boolean;
  /** The largest blob the backend should take, in bytes. @default Infinity */
  maxBytes?: number;
}

/**
 * A {@linkcode BlobStore} over an unstorage `Storage`: give it to a queue's `blobs.store`.
 *
 * @example Large payloads in a directory
 * ```ts
 * import { createStorage } from "unstorage";
 * import fsDriver from "unstorage/drivers/fs";
 * import { MemoryKv } from "@kvq/kvq/memory";
 * import { UnstorageBlobStore } from "@kvq/kvq/unstorage";
 * import { Queue } from "@kvq/kvq";
 * const dir = await Deno.makeTempDir();
 * const store = new UnstorageBlobStore(createStorage({ driver: fsDriver({ base: dir }) }));
 * const queue = new Queue(new MemoryKv(), "videos", { blobs: { store, threshold: 1024 } });
 * const job = await queue.add(new Blob([new Uint8Array(100_000)]));
 * console.log((await store.keys("kvq:videos:")).length > 0, job.state); // true "ready"
 * await queue.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class UnstorageBlobStore implements BlobStore {
  readonly info: BlobStoreInfo;
  readonly #storage: UnstorageStorage;
  readonly #base: string;

  /**
   * Creates the store.
   *
   * @param storage An unstorage `Storage` (from `createStorage`).
   * @param options See {@linkcode UnstorageBlobStoreOptions}.
   */
  constructor(storage: UnstorageStorage, options: UnstorageBlobStoreOptions = {}) {
    if (!storage || typeof storage.getItemRaw !== "function") {
      throw new TypeError("Cannot create UnstorageBlobStore: storage is not an unstorage Storage");
    }
    this.#storage = storage;
    this.#base = options.base ? options.base.replace(/:+$/, "") + ":" : "";
    const driver = storage.getMount?.(this.#base).driver.name ?? "storage";
    this.info = {
      name: `unstorage-blob(${driver})`,
      maxBytes: options.maxBytes ?? Infinity,
      durable: options.durable ?? driver !== "memory",
    };
  }

  /** The bytes under `key`, or `null`. */
  async get(key: string): Promise<Uint8Array | null> {
    let v: unknown;
    try {
      v = await this.#storage.getItemRaw(this.#base + key);
    } catch (e) {
      throw storageError(this.info.name, "get", `cannot read blob ${key}`, e);
    }
    if (v === null || v === undefined) return null;
    // A Node Buffer is a view of the bytes read: viewed, not copied (a chunk is MiBs).
    if (v instanceof Uint8Array) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    return plainBytes(v, this.info.name);
  }

  /** Stores `bytes` under `key`. */
  async set(key: string, bytes: Uint8Array): Promise<void> {
    try {
      await this.#storage.setItemRaw(this.#base + key, bytes);
    } catch (e) {
      throw storageError(this.info.name, "set", `cannot write blob ${key}`, e);
    }
  }

  /** Deletes `key`. */
  async delete(key: string): Promise<void> {
    try {
      await this.#storage.removeItem(this.#base + key);
    } catch (e) {
      throw storageError(this.info.name, "delete", `cannot delete blob ${key}`, e);
    }
  }

  /** Every key starting with `prefix`. */
  async keys(prefix: string): Promise<string[]> {
    let all: string[];
    try {
      all = await this.#storage.getKeys(this.#base + prefix);
    } catch (e) {
      throw storageError(this.info.name, "keys", `cannot list blobs under ${prefix}`, e);
    }
    const out: string[] = [];
    for (const k of all) {
      const rel = this.#base ? (k.startsWith(this.#base) ? k.slice(this.#base.length) : null) : k;
      if (rel !== null && rel.startsWith(prefix)) out.push(rel);
    }
    return out;
  }
}
