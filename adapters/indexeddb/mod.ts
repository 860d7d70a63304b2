/**
 * The IndexedDB adapter: an AtomicKv store in one object store of a browser's IndexedDB, reached
 * through an `idb-keyval` custom store (`createStore(dbName, storeName)`, its `UseStore`
 * function). `idb-keyval` is an optional peer dependency, loaded only by {@link IndexedDbKv.open}
 * when no store is passed.
 *
 * Storage: one record per key, keyed by the core's encoded key bytes (IndexedDB orders binary
 * keys bytewise, which is the contract's key order), holding `{ v: bytes, s: seq }`; and one
 * record under the string key `"kvq:seq"` holding the store-wide commit sequence (string keys
 * sort before binary keys, so no list range ever reaches it). Each commit is one `readwrite`
 * transaction (with the `durability: "strict"` hint; `"relaxed"` for commits marked `relaxed()`,
 * the engine's claims and heartbeats) that reads the checked keys and the
 * sequence, then writes the mutations and the next sequence, all or nothing. IndexedDB runs
 * `readwrite` transactions on one object store one at a time, across every tab and worker of the
 * origin, so check-then-set is exclusive between tabs.
 *
 * Watch: commits of this store wake its watchers at once, and every commit posts one
 * `BroadcastChannel` message (coalesced per tick) with the keys it touched, so stores on the same
 * database in other tabs, workers or instances wake theirs.
 *
 * @example A store over fake-indexeddb (in a browser, leave out the first import)
 * ```ts
 * import "fake-indexeddb/auto";
 * import { IndexedDbKv } from "@kvq/kvq/indexeddb";
 * const kv = await IndexedDbKv.open({ dbName: "kvq-doc", durable: false, scope: "process" });
 * const res = await kv.atomic().check(["job", 1], null).set(["job", 1], new Uint8Array([1])).commit();
 * console.log(res.ok, (await kv.get(["job", 1]))?.value); // true Uint8Array [1]
 * await kv.close();
 * ```
 *
 * @module
 */

import { CorruptionError, StorageError, StoreClosedError } from "../../src/errors.ts";
import {
  type AtomicBatch,
  type AtomicKv,
  type AtomicOp,
  BufferedAtomicOp,
  compareBytes,
  encodeKey,
  formatVersionstamp,
  type KvCommitResult,
  type KvEntry,
  type KvInfo,
  type KvKey,
  type KvListOptions,
  type KvListSelector,
  type KvScope,
} from "../../src/kv.ts";
import { plainBytes, startsWith } from "../_kit/bytes.ts";
import { pagedList } from "../_kit/paged_list.ts";
import { storageError } from "../_kit/errors.ts";
import { WatchHub } from "../_kit/watch_hub.ts";
import type {
  Channel,
  IdbDatabase,
  IdbKeyRangeStatic,
  IdbObjectStore,
  IdbRequest,
  IdbTransaction,
  UseStore,
} from "./idb_types.ts";

export type {
  IdbCursor,
  IdbDatabase,
  IdbKey,
  IdbKeyRange,
  IdbObjectStore,
  IdbRequest,
  IdbTransaction,
  IdbTransactionMode,
  UseStore,
} from "./idb_types.ts";

/** Options of {@link IndexedDbKv.open}. */
export interface IndexedDbKvOptions {
  /**
   * A store made by the caller with `idb-keyval`'s `createStore(dbName, storeName)`; then
   * `dbName` and `storeName` must name the same database and object store (they name the
   * `BroadcastChannel`), and `close()` leaves the database connection open.
   * @default a store the adapter creates with idb-keyval from dbName and storeName
   */
  store?: UseStore;
  /** The IndexedDB database. @default "kvq" */
  dbName?: string;
  /**
   * The object store in it. `idb-keyval` creates the object store only when it creates the
   * database, so give each store its own database: opening a second object store name in an
   * existing database fails (a StorageError naming the database).
   * @default "kv"
   */
  storeName?: string;
  /**
   * What `info.durable` declares. A browser's IndexedDB keeps committed transactions on disk
   * (the adapter asks for `durability: "strict"`); declare false for a factory that keeps
   * nothing on disk, such as fake-indexeddb.
   * @default true
   */
  durable?: boolean;
  /**
   * What `info.scope` declares. `"machine"`: the tabs and workers of one origin in one browser
   * profile, separate processes on one machine, share the database. Declare `"process"` for a
   * factory whose data lives in this JavaScript realm only, such as fake-indexeddb.
   * @default "machine"
   */
  scope?: KvScope;
  /** Largest value in bytes. @default 1048576 */
  maxValueBytes?: number;
  /** Largest encoded key in bytes. @default 2048 */
  maxKeyBytes?: number;
  /** Most mutations per atomic operation. @default 10000 */
  maxMutations?: number;
  /** Most checks per atomic operation. @default 10000 */
  maxChecks?: number;
}

const NAME = "indexeddb";
const SEQ_KEY = "kvq:seq";

interface StoredRecord {
  readonly v: Uint8Array;
  readonly s: number;
}

/** The message one commit group posts on the store's BroadcastChannel. */
interface CommitMessage {
  readonly kvq: 1;
  readonly keys: readonly Uint8Array[];
}

function requestValue<T>(request: IdbRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function transactionDone(tx: IdbTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error("transaction aborted"));
  });
}

/** An IndexedDB failure as a StorageError; a full quota becomes code `"ENOSPC"`. */
function idbError(operation: string, doing: string, e: unknown): StorageError {
  if ((e as { name?: unknown } | null)?.name === "QuotaExceededError") {
    return new StorageError(NAME, operation, `${doing}: ${(e as Error).message}`, {
      cause: e,
      code: "ENOSPC",
    });
  }
  return storageError(NAME, operation, doing, e);
}

function record(value: unknown): StoredRecord {
  const r = value as { v?: unknown; s?: unknown } | null;
  if (r === null || typeof r !== "object" || typeof r.s !== "number") {
    throw new CorruptionError(NAME, "read", "stored record is not a kvq record { v, s }");
  }
  return { v: plainBytes(r.v, NAME), s: r.s };
}

/**
 * An AtomicKv store in one IndexedDB object store, shared safely by every tab and worker of the
 * origin that opens the same database.
 *
 * @example Two stores on one database never both claim a key
 * ```ts
 * import "fake-indexeddb/auto";
 * import { IndexedDbKv } from "@kvq/kvq/indexeddb";
 * const options = { dbName: "kvq-doc-two", durable: false, scope: "process" } as const;
 * const a = await IndexedDbKv.open(options);
 * const b = await IndexedDbKv.open(options);
 * const [x, y] = await Promise.all([
 *   a.atomic().check(["lock"], null).set(["lock"], new Uint8Array([1])).commit(),
 *   b.atomic().check(["lock"], null).set(["lock"], new Uint8Array([2])).commit(),
 * ]);
 * console.log(x.ok !== y.ok); // true
 * await a.close();
 * await b.close();
 * ```
 */
export class IndexedDbKv implements AtomicKv {
  /** {@inheritDoc AtomicKv.info} */
  readonly info: KvInfo;
  /** The IndexedDB database name. */
  readonly dbName: string;
  /** The object store name. */
  readonly storeName: string;
  readonly #db: IdbDatabase;
  readonly #ownsDb: boolean;
  readonly #hub = new WatchHub();
  readonly #pending = new Set<Promise<unknown>>();
  #channel: Channel | undefined;
  #outbox: Uint8Array[] | null = null;
  #closed = false;

  /**
   * Opens (creating if needed) the database and object store, through the `store` given or one
   * made with `idb-keyval`'s `createStore(dbName, storeName)`.
   *
   * @param options The database, declared capabilities and limits.
   *
   * @example
   * ```ts
   * import "fake-indexeddb/auto";
   * import { createStore } from "idb-keyval";
   * import { IndexedDbKv } from "@kvq/kvq/indexeddb";
   * const store = createStore("kvq-doc-own", "jobs");
   * const kv = await IndexedDbKv.open({ store, dbName: "kvq-doc-own", storeName: "jobs", durable: false });
   * console.log(kv.info.name, kv.info.scope); // "indexeddb" "machine"
   * await kv.close();
   * ```
   */
  static async open(options: IndexedDbKvOptions = {}): Promise<IndexedDbKv> {
    const dbName = options.dbName ?? "kvq";
    const storeName = options.storeName ?? "kv";
    for (const [what, v] of [["dbName", dbName], ["storeName", storeName]] as const) {
      if (typeof v !== "string" || v === "") {
        throw new TypeError(`Invalid indexeddb option ${what}: expected a non-empty string`);
      }
    }
    if (options.store !== undefined && typeof options.store !== "function") {
      throw new TypeError("Invalid indexeddb option store: expected idb-keyval's createStore() function");
    }
    let useStore = options.store;
    if (useStore === undefined) {
      try {
        const idb = await import("idb-keyval");
        useStore = idb.createStore(dbName, storeName) as unknown as UseStore;
      } catch (e) {
        throw storageError(NAME, "open", "cannot load idb-keyval (an optional peer dependency)", e);
      }
    }
    let db: IdbDatabase;
    try {
      db = await useStore("readonly", (store) => store.transaction.db);
    } catch (e) {
      throw idbError("open", `cannot open IndexedDB database "${dbName}", object store "${storeName}"`, e);
    }
    return new IndexedDbKv(db, dbName, storeName, options);
  }

  /** Use {@link IndexedDbKv.open}. */
  private constructor(db: IdbDatabase, dbName: string, storeName: string, options: IndexedDbKvOptions) {
    const scope = options.scope ?? "machine";
    if (scope !== "process" && scope !== "machine") {
      throw new TypeError(`Invalid indexeddb option scope: "${scope}" is not "process" or "machine"`);
    }
    this.#db = db;
    this.#ownsDb = options.store === undefined;
    this.dbName = dbName;
    this.storeName = storeName;
    this.info = {
      name: NAME,
      maxValueBytes: options.maxValueBytes ?? 1048576,
      maxKeyBytes: options.maxKeyBytes ?? 2048,
      maxMutations: options.maxMutations ?? 10000,
      maxChecks: options.maxChecks ?? 10000,
      scope,
      durable: options.durable ?? true,
      watch: true,
    };
    const BroadcastChannelClass =
      (globalThis as unknown as { BroadcastChannel?: new (name: string) => Channel })
        .BroadcastChannel;
    if (BroadcastChannelClass !== undefined) {
      const channel = new BroadcastChannelClass(`kvq-idb:${dbName}/${storeName}`);
      (channel as { unref?: () => void }).unref?.(); // Node: an open channel keeps no process alive
      channel.onmessage = (event) => this.#onMessage(event.data);
      this.#channel = channel;
    }
  }

  #open(operation: string): void {
    if (this.#closed) throw new StoreClosedError(NAME, operation);
  }

  /**
   * A transaction on the object store. A write asks for `durability: "strict"` (on disk before
   * it completes), or `"relaxed"` for a commit marked {@link AtomicOp.relaxed} (claims and
   * heartbeats: handed to the OS, so only a power loss can undo it, and a later strict
   * transaction flushes it too).
   */
  #tx(mode: "readonly" | "readwrite", relaxed = false): IdbObjectStore {
    const tx = mode === "readwrite"
      ? this.#db.transaction(this.storeName, mode, { durability: relaxed ? "relaxed" : "strict" })
      : this.#db.transaction(this.storeName, mode);
    return tx.objectStore(this.storeName);
  }

  /** Keeps `promise` until it settles, so `close()` can wait for it. */
  #track<T>(promise: Promise<T>): Promise<T> {
    this.#pending.add(promise);
    const done = () => this.#pending.delete(promise);
    promise.then(done, done);
    return promise;
  }

  /** {@inheritDoc AtomicKv.get} */
  async get(key: KvKey): Promise<KvEntry | null> {
    const [entry] = await this.#read("get", [key]);
    return entry;
  }

  /** {@inheritDoc AtomicKv.getMany} */
  getMany(keys: readonly KvKey[]): Promise<(KvEntry | null)[]> {
    return this.#read("getMany", keys);
  }

  /** Reads keys in one readonly transaction: one consistent point. */
  #read(operation: string, keys: readonly KvKey[]): Promise<(KvEntry | null)[]> {
    try {
      this.#open(operation);
      const encoded = keys.map((k) => encodeKey(k));
      if (encoded.length === 0) return Promise.resolve([]);
      const store = this.#tx("readonly");
      return this.#track(
        Promise.all(
          encoded.map((kb, i) =>
            requestValue(store.get(kb)).then((v) =>
              v === undefined ? null : this.#entry([...keys[i]], record(v))
            )
          ),
        ).catch((e) => {
          throw idbError(operation, `cannot read from "${this.dbName}"`, e);
        }),
      );
    } catch (e) {
      return Promise.reject(
        e instanceof TypeError ? e : idbError(operation, `cannot read "${this.dbName}"`, e),
      );
    }
  }

  #entry(key: KvKey, r: StoredRecord): KvEntry {
    return { key, value: r.v, versionstamp: formatVersionstamp(r.s) };
  }

  /** {@inheritDoc AtomicKv.list} */
  list(selector: KvListSelector, options?: KvListOptions): AsyncIterable<KvEntry> {
    this.#open("list");
    return this.#list(selector, options);
  }

  #list(selector: KvListSelector, options: KvListOptions | undefined): AsyncGenerator<KvEntry> {
    return pagedList<[Uint8Array, StoredRecord]>(
      {
        page: async (start, end, n, reverse) => {
          this.#open("list");
          // An empty range is no page (IDBKeyRange refuses lower > upper).
          if (compareBytes(start, end) >= 0) return [];
          try {
            return await this.#track(this.#page(start, end, n, reverse));
          } catch (e) {
            throw idbError("list", `cannot list "${this.dbName}"`, e);
          }
        },
        keyOf: (row) => row[0],
        entryOf: (key, row) => this.#entry(key, row[1]),
      },
      selector,
      options,
    );
  }

  /** Up to `n` records of `[start, end)` in one readonly transaction, through a cursor. */
  #page(
    start: Uint8Array,
    end: Uint8Array,
    n: number,
    reverse: boolean,
  ): Promise<[Uint8Array, StoredRecord][]> {
    const store = this.#tx("readonly");
    const KeyRange = (globalThis as unknown as { IDBKeyRange: IdbKeyRangeStatic }).IDBKeyRange;
    // An empty start (the range from the empty key) has no lower bound: some factories
    // (fake-indexeddb) refuse a zero-length binary key. The cursor then meets the one string
    // key, the sequence record, which sorts before every binary key, and passes it.
    const range = start.length === 0
      ? KeyRange.upperBound(end, true)
      : KeyRange.bound(start, end, false, true);
    const request = store.openCursor(range, reverse ? "prev" : "next");
    const out: [Uint8Array, StoredRecord][] = [];
    return new Promise((resolve, reject) => {
      request.onerror = () => reject(request.error);
      request.onsuccess = () => {
        const cursor = request.result;
        if (cursor === null) return resolve(out);
        if (typeof cursor.key === "string") return reverse ? resolve(out) : cursor.continue();
        try {
          out.push([plainBytes(cursor.key, NAME), record(cursor.value)]);
        } catch (e) {
          return reject(e);
        }
        if (out.length >= n) return resolve(out);
        cursor.continue();
      };
    });
  }

  /** {@inheritDoc AtomicKv.atomic} */
  atomic(): AtomicOp {
    return new BufferedAtomicOp(this.info, (batch) => {
      this.#open("commit");
      return this.#track(this.#commit(batch));
    });
  }

  /**
   * One commit, one readwrite transaction: read the checked keys and the sequence, then (when
   * every check holds) write the mutations and the next sequence. IndexedDB orders readwrite
   * transactions on one store by creation, in this tab and across tabs.
   */
  async #commit(batch: AtomicBatch): Promise<KvCommitResult> {
    let result: KvCommitResult = { ok: false };
    try {
      const store = this.#tx("readwrite", batch.relaxed === true);
      const done = transactionDone(store.transaction);
      done.catch(() => {}); // observed below; an early rejection is not unhandled
      const checks = batch.checks.map((c) => requestValue(store.get(c.keyBytes)));
      const seqRequest = requestValue(store.get(SEQ_KEY));
      // Requests on one transaction complete in order: when the sequence is read, every check is.
      const [versions, seqValue] = await Promise.all([Promise.all(checks), seqRequest]);
      const held = batch.checks.every((c, i) =>
        (versions[i] === undefined ? null : formatVersionstamp(record(versions[i]).s)) === c.versionstamp
      );
      if (held) {
        const seq = (typeof seqValue === "number" ? seqValue : 0) + 1;
        for (const m of batch.mutations) {
          if (m.type === "set") store.put({ v: m.value, s: seq } satisfies StoredRecord, m.keyBytes);
          else store.delete(m.keyBytes);
        }
        store.put(seq, SEQ_KEY);
        result = { ok: true, versionstamp: formatVersionstamp(seq) };
      }
      await done;
    } catch (e) {
      throw idbError("commit", `cannot commit to "${this.dbName}"`, e);
    }
    if (result.ok && batch.mutations.length > 0) this.#notify(batch.mutations.map((m) => m.keyBytes));
    return result;
  }

  /** Wakes local watchers of the touched keys and queues them for the other tabs. */
  #notify(keys: Uint8Array[]): void {
    this.#wake(keys);
    if (this.#channel === undefined) return;
    if (this.#outbox !== null) {
      this.#outbox.push(...keys);
      return;
    }
    this.#outbox = keys;
    queueMicrotask(() => {
      const message: CommitMessage = { kvq: 1, keys: this.#outbox ?? [] };
      this.#outbox = null;
      try {
        this.#channel?.postMessage(message);
      } catch { /* the channel closed with the store: nobody left to tell */ }
    });
  }

  #wake(keys: readonly Uint8Array[]): void {
    if (this.#hub.size === 0) return;
    this.#hub.wake((w) => keys.some((k) => startsWith(k, w.bytes)));
  }

  #onMessage(data: unknown): void {
    const message = data as Partial<CommitMessage> | null;
    if (message?.kvq !== 1 || !Array.isArray(message.keys)) return;
    const keys = message.keys.filter((k): k is Uint8Array => k instanceof Uint8Array);
    this.#wake(keys);
  }

  /**
   * {@inheritDoc AtomicKv.watch}
   *
   * Commits of this store wake matching watchers at once; commits of other stores on the same
   * database (other tabs, workers, instances) wake them through the BroadcastChannel.
   */
  watch(prefix: KvKey, signal: AbortSignal): AsyncIterable<void> {
    this.#open("watch");
    return this.#hub.watch(encodeKey(prefix), signal, { closed: () => this.#closed });
  }

  /** {@inheritDoc AtomicKv.close} */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#pending]);
    this.#hub.wakeAll();
    await Promise.resolve(); // let a queued BroadcastChannel message go out first
    this.#channel?.close();
    this.#channel = undefined;
    if (this.#ownsDb) this.#db.close();
  }
}

/**
 * Opens an IndexedDB-backed store: shorthand for {@link IndexedDbKv.open}.
 *
 * @param options The database, declared capabilities and limits.
 *
 * @example
 * ```ts
 * import "fake-indexeddb/auto";
 * import { openIndexedDbKv } from "@kvq/kvq/indexeddb";
 * const kv = await openIndexedDbKv({ dbName: "kvq-doc-short", durable: false, scope: "process" });
 * console.log(kv.info.durable, kv.info.scope); // false "process"
 * await kv.close();
 * ```
 */
export function openIndexedDbKv(options?: IndexedDbKvOptions): Promise<IndexedDbKv> {
  return IndexedDbKv.open(options);
}
