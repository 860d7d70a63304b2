/**
 * The unstorage adapter: any [unstorage](https://unstorage.unjs.io) driver (memory, fs, Redis,
 * S3, Cloudflare KV, ...) as a kvq store. Pass a `Storage` made with unstorage's
 * `createStorage({ driver })`; this entry point imports nothing from unstorage itself.
 *
 * Drivers have no transactions and do not order keys, so the adapter does what they lack, in one
 * process:
 *
 * - **One writer.** Commits are serialized in this process (the kit's `WriteQueue`; commits that
 *   arrive while a group is written form the next group), and a lock item with an owner id and a
 *   lease (`<base>.lock`) refuses a second store on the same base, in this process or another one:
 *   `open()` rejects with `StoreLockedError`, and a store whose lock was taken over refuses to
 *   commit. `info.scope` is `"process"`.
 * - **Atomic commits.** A group is first written whole as one write-ahead record (`<base>:journal`,
 *   with a SHA-256), then applied, then the record is removed. Opening replays a complete record
 *   (the group is applied in full) and drops one cut short (none of it was applied): a crash at
 *   any point leaves every commit all or nothing.
 * - **Versionstamps beside values.** Each entry is one item: its commit's sequence number, then
 *   its value. The store-wide counter is the item `<base>:seq`.
 * - **Order.** Keys are stored as the hex of their {@link encodeKey} bytes. `open()` reads the
 *   key list once (`getKeys(base)`: the cost of one full key listing, O(n) in the store's keys)
 *   into an ordered in-memory index (the kit's `SortedMap`: about 80 bytes plus the encoded key
 *   per key, 128 bytes for a 47-byte job key on Node 24); `list()` then walks the index and reads
 *   values with one driver read per entry, in batches of 256. Checks read the checked item unless
 *   its sequence number is already known from a read.
 * - **Reads.** get, getMany and list wait while a group is applied, so they never see half of one.
 * - **Faults.** A driver error before the write-ahead record is in place rejects the group with
 *   `StorageError` and applies nothing. A driver error while the group is applied (after one
 *   retry), or one that leaves the record's presence unknown, rejects it with `StorageError` code
 *   `"OUTCOME_UNKNOWN"` and stops the store (every operation rejects); reopening applies the whole
 *   group from its record, so such a commit is applied in full or not at all, never in part.
 *
 * Durability is the driver's: `info.durable` is false unless the caller declares it with
 * `durable: true` (only for a backend that has every write on stable storage before the write
 * resolves, e.g. Redis with `appendfsync always`). The memory driver keeps nothing; the fs
 * driver does not fsync, so a power loss can lose or tear recent writes; a Redis server keeps
 * what its persistence settings keep.
 *
 * @example A store over the memory driver
 * ```ts
 * import { createStorage } from "unstorage";
 * import { UnstorageKv } from "@kvq/kvq/unstorage";
 * const kv = await UnstorageKv.open(createStorage());
 * const res = await kv.atomic().check(["job", 1], null).set(["job", 1], new Uint8Array([1])).commit();
 * console.log(res.ok, kv.driver); // true "memory"
 * await kv.close();
 * ```
 *
 * @module
 */

import { StorageError, StoreClosedError } from "../../src/errors.ts";
import {
  type AtomicBatch,
  type AtomicKv,
  type AtomicOp,
  BufferedAtomicOp,
  checkListOptions,
  decodeKey,
  encodeKey,
  formatVersionstamp,
  type KvCommitResult,
  type KvEntry,
  type KvInfo,
  type KvKey,
  type KvListOptions,
  type KvListSelector,
  selectorRange,
} from "../../src/kv.ts";
import { binaryToBytes, bytesToBinary, plainBytes, startsWith } from "../_kit/bytes.ts";
import { errorMessage, storageError } from "../_kit/errors.ts";
import { SortedMap } from "../_kit/sorted_map.ts";
import { WatchHub } from "../_kit/watch_hub.ts";
import { type Queued, WriteQueue } from "../_kit/write_queue.ts";
import { ReadWriteGate } from "./gate.ts";
import { entryKey, keyBytesOf, type StoreLayout, storeLayout } from "./keys.ts";
import { Lease } from "./lease.ts";
import {
  decodeEntry,
  decodeJournal,
  decodeSeq,
  encodeEntry,
  encodeJournal,
  encodeSeq,
  type JournalMutation,
} from "./records.ts";
import type { UnstorageStorage } from "./types.ts";

export type { StoreLayout } from "./keys.ts";
export type { UnstorageStorage } from "./types.ts";
export { UnstorageBlobStore, type UnstorageBlobStoreOptions } from "./blob.ts";

/** Options of {@link UnstorageKv.open}. */
export interface UnstorageKvOptions {
  /**
   * The base key the store lives under (its entries, counter and write-ahead record), with the
   * lock beside it at `<base>.lock`. Letters, digits, `_`, `-`, and `:` between segments.
   * @default "kvq"
   */
  base?: string;
  /**
   * Declare the store durable: only when the backend has every write on stable storage before
   * the driver's write resolves (the adapter cannot see it).
   * @default false
   */
  durable?: boolean;
  /**
   * How long the lock holds without renewal, in ms: after a crash, the base can be opened again
   * once this has passed.
   * @default 10000
   */
  leaseMs?: number;
  /** Largest value in bytes. @default 65536 */
  maxValueBytes?: number;
  /**
   * Largest encoded key in bytes. A key is stored as two hex characters per byte, which must fit
   * a file path on the fs driver (PATH_MAX 4096).
   * @default 1024
   */
  maxKeyBytes?: number;
  /** Most mutations per atomic operation. @default 1000 */
  maxMutations?: number;
  /** Most checks per atomic operation. @default 1000 */
  maxChecks?: number;
}

const NAME = "unstorage";
const LIST_BATCH = 256;
const BASE_RE = /^[A-Za-z0-9_-]+(:[A-Za-z0-9_-]+)*$/;
/** An index entry whose sequence number is not known yet (sequence numbers start at 1). */
const UNKNOWN = 0n;

type Pending = Queued<{ readonly batch: AtomicBatch }>;
/** An entry's item, decoded. */
type Item = { seq: bigint; value: Uint8Array };

/**
 * The error of a commit group whose outcome is unknown: its write-ahead record may be in place, so
 * reopening the store applies the whole group (never a part of it). The store stops.
 */
function outcomeUnknown(what: string, e: unknown): StorageError {
  return new StorageError(
    NAME,
    "commit",
    `${what} (${errorMessage(e)}); the store stopped: reopen it, and it applies the whole group from its ` +
      "write-ahead record if the record is complete, or none of it",
    { cause: e, code: "OUTCOME_UNKNOWN" },
  );
}

function positiveInteger(name: string, v: number | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (!(Number.isInteger(v) && v > 0)) {
    throw new RangeError(`Invalid unstorage option ${name}: ${v} is not a positive integer`);
  }
  return v;
}

/**
 * An AtomicKv store over an unstorage `Storage`, for one process.
 *
 * @example A second store on the same base is refused
 * ```ts
 * import { createStorage } from "unstorage";
 * import { UnstorageKv } from "@kvq/kvq/unstorage";
 * const storage = createStorage();
 * const kv = await UnstorageKv.open(storage, { base: "jobs" });
 * try {
 *   await UnstorageKv.open(storage, { base: "jobs" });
 * } catch (e) {
 *   console.log((e as Error).name); // "StoreLockedError"
 * }
 * await kv.close();
 * ```
 */
export class UnstorageKv implements AtomicKv {
  /** {@inheritDoc AtomicKv.info} */
  readonly info: KvInfo;
  /** The driver's name (`"memory"`, `"fs"`, `"redis"`, ...), or `"unknown"`. */
  readonly driver: string;
  /** The unstorage keys the store uses. */
  readonly layout: StoreLayout;
  readonly #storage: UnstorageStorage;
  readonly #lease: Lease;
  readonly #leaseMs: number;
  /** Every key of the store (binary strings), with its sequence number when known. */
  readonly #index = new SortedMap<bigint>();
  readonly #queue = new WriteQueue<{ readonly batch: AtomicBatch }>();
  readonly #gate = new ReadWriteGate();
  readonly #hub = new WatchHub();
  /** The writer's tasks (commit groups, lease renewals, close), one after another. */
  #tail: Promise<void> = Promise.resolve();
  #draining = false;
  #seq = 0n;
  #closed = false;
  /** Set when a write failed halfway or the lock was lost: every operation rejects with it. */
  #failure: StorageError | null = null;
  #renewTimer: ReturnType<typeof setInterval> | undefined;

  /**
   * Opens the store under `options.base` of `storage`: takes the lock, finishes or drops an
   * interrupted commit group, and reads the key list.
   *
   * @param storage A `Storage` from unstorage's `createStorage({ driver })`; it stays the caller's
   *   (`close()` does not dispose it).
   * @param options Base key, durability, lease and limits.
   * @throws {StoreLockedError} While another store holds the base's lock.
   *
   * @example Over the fs driver
   * ```ts
   * import { createStorage } from "unstorage";
   * import fsDriver from "unstorage/drivers/fs";
   * import { UnstorageKv } from "@kvq/kvq/unstorage";
   * const dir = await Deno.makeTempDir();
   * const kv = await UnstorageKv.open(createStorage({ driver: fsDriver({ base: dir }) }));
   * await kv.atomic().set(["greeting"], new TextEncoder().encode("hi")).commit();
   * console.log(kv.info.durable, (await kv.get(["greeting"]))?.value.length); // false 2
   * await kv.close();
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  static async open(storage: UnstorageStorage, options: UnstorageKvOptions = {}): Promise<UnstorageKv> {
    if (storage === null || typeof storage !== "object" || typeof storage.getItemRaw !== "function") {
      throw new TypeError("Cannot open unstorage store: expected a Storage from unstorage's createStorage()");
    }
    const kv = new UnstorageKv(storage, options);
    await kv.#open();
    return kv;
  }

  /** Use {@link UnstorageKv.open}. */
  private constructor(storage: UnstorageStorage, options: UnstorageKvOptions) {
    const base = options.base ?? "kvq";
    if (typeof base !== "string" || !BASE_RE.test(base)) {
      throw new TypeError(
        `Invalid unstorage option base: ${
          JSON.stringify(base)
        } is not letters, digits, _ and - in :-separated segments`,
      );
    }
    if (options.durable !== undefined && typeof options.durable !== "boolean") {
      throw new TypeError("Invalid unstorage option durable: expected true or false");
    }
    this.#storage = storage;
    this.#leaseMs = positiveInteger("leaseMs", options.leaseMs, 10_000);
    this.layout = storeLayout(base);
    this.#lease = new Lease(storage, this.layout.lock, this.#leaseMs);
    this.driver = storage.getMount?.(base)?.driver?.name ?? "unknown";
    this.info = {
      name: NAME,
      maxValueBytes: positiveInteger("maxValueBytes", options.maxValueBytes, 65536),
      maxKeyBytes: positiveInteger("maxKeyBytes", options.maxKeyBytes, 1024),
      maxMutations: positiveInteger("maxMutations", options.maxMutations, 1000),
      maxChecks: positiveInteger("maxChecks", options.maxChecks, 1000),
      scope: "process",
      durable: options.durable ?? false,
      watch: true,
    };
  }

  async #open(): Promise<void> {
    const { base } = this.layout;
    try {
      await this.#lease.acquire(base);
    } catch (e) {
      throw storageError(NAME, "open", `cannot take the lock ${this.layout.lock}`, e);
    }
    try {
      await this.#replay();
      const seq = await this.#storage.getItemRaw(this.layout.seq);
      this.#seq = seq === null || seq === undefined ? 0n : decodeSeq(plainBytes(seq, NAME));
      for (const key of await this.#storage.getKeys(this.layout.data)) {
        this.#index.set(bytesToBinary(keyBytesOf(this.layout.data, key)), UNKNOWN);
      }
    } catch (e) {
      await this.#lease.release().catch(() => {});
      throw storageError(NAME, "open", `cannot open the store under ${base}`, e);
    }
    this.#renewTimer = setInterval(() => this.#renew(), Math.max(1, Math.floor(this.#leaseMs / 3)));
    const timer = this.#renewTimer as unknown as { unref?: () => void } | number;
    if (typeof timer === "object") timer.unref?.();
    else (globalThis as { Deno?: { unrefTimer(id: number): void } }).Deno?.unrefTimer(timer);
  }

  /** Finishes the group of a complete write-ahead record, or drops one cut short. */
  async #replay(): Promise<void> {
    const raw = await this.#storage.getItemRaw(this.layout.journal);
    if (raw === null || raw === undefined) return;
    const journal = await decodeJournal(plainBytes(raw, NAME));
    if (journal) await this.#applyMutations(journal.mutations, journal.seq);
    await this.#storage.removeItem(this.layout.journal);
  }

  #applyMutations(mutations: readonly JournalMutation[], seq: bigint): Promise<unknown> {
    const s = this.#storage;
    return Promise.all([
      ...mutations.map((m) => {
        const key = entryKey(this.layout.data, m.keyBytes);
        return m.value === null ? s.removeItem(key) : s.setItemRaw(key, encodeEntry(m.value, m.seq));
      }),
      s.setItemRaw(this.layout.seq, encodeSeq(seq)),
    ]);
  }

  #assertUsable(operation: string): void {
    if (this.#closed) throw new StoreClosedError(NAME, operation);
    if (this.#failure) {
      throw new StorageError(NAME, operation, `the store stopped after a fault: ${this.#failure.message}`, {
        cause: this.#failure,
        code: this.#failure.code,
      });
    }
  }

  /** Reads an entry's item (inside the gate): its value and sequence number, or null. */
  async #readItem(k: string): Promise<Item | null> {
    const raw = await this.#storage.getItemRaw(entryKey(this.layout.data, binaryToBytes(k)));
    if (raw === null || raw === undefined) return null;
    const entry = decodeEntry(plainBytes(raw, NAME));
    if (this.#index.get(k) !== undefined) this.#index.set(k, entry.seq);
    return entry;
  }

  async #read(operation: string, keys: readonly KvKey[]): Promise<(KvEntry | null)[]> {
    this.#assertUsable(operation);
    const binary = keys.map((k) => bytesToBinary(encodeKey(k)));
    try {
      return await this.#gate.read(() =>
        Promise.all(binary.map(async (k, i): Promise<KvEntry | null> => {
          if (this.#index.get(k) === undefined) return null;
          const item = await this.#readItem(k);
          return item && { key: [...keys[i]], value: item.value, versionstamp: formatVersionstamp(item.seq) };
        }))
      );
    } catch (e) {
      throw storageError(NAME, operation, "cannot read", e);
    }
  }

  /** {@inheritDoc AtomicKv.get} */
  async get(key: KvKey): Promise<KvEntry | null> {
    return (await this.#read("get", [key]))[0];
  }

  /** {@inheritDoc AtomicKv.getMany} */
  getMany(keys: readonly KvKey[]): Promise<(KvEntry | null)[]> {
    return this.#read("getMany", keys);
  }

  /**
   * {@inheritDoc AtomicKv.list}
   *
   * Walks the in-memory key index (no driver listing) and reads the values of each batch of up
   * to 256 entries with one driver read per entry.
   */
  list(selector: KvListSelector, options?: KvListOptions): AsyncIterable<KvEntry> {
    this.#assertUsable("list");
    return this.#list(selector, options);
  }

  async *#list(selector: KvListSelector, options: KvListOptions | undefined): AsyncGenerator<KvEntry> {
    const range = selectorRange(selector);
    const { limit, reverse } = checkListOptions(options);
    let start = bytesToBinary(range.start);
    let end = bytesToBinary(range.end);
    let remaining = limit;
    while (remaining > 0) {
      this.#assertUsable("list");
      let batch: [string, Item | null][];
      try {
        batch = await this.#gate.read(() => {
          const keys: string[] = [];
          for (const [k] of this.#index.range(start, end, reverse)) {
            keys.push(k);
            if (keys.length >= Math.min(LIST_BATCH, remaining)) break;
          }
          return Promise.all(
            keys.map(async (k): Promise<[string, Item | null]> => [k, await this.#readItem(k)]),
          );
        });
      } catch (e) {
        throw storageError(NAME, "list", "cannot read", e);
      }
      if (batch.length === 0) return;
      for (const [k, item] of batch) {
        if (item) {
          yield {
            key: decodeKey(binaryToBytes(k)),
            value: item.value,
            versionstamp: formatVersionstamp(item.seq),
          };
        }
      }
      remaining -= batch.length;
      const last = batch[batch.length - 1][0];
      if (reverse) end = last;
      else start = last + "\0";
    }
  }

  /** {@inheritDoc AtomicKv.atomic} */
  atomic(): AtomicOp {
    return new BufferedAtomicOp(this.info, (batch) => this.#enqueue(batch));
  }

  #enqueue(batch: AtomicBatch): Promise<KvCommitResult> {
    this.#assertUsable("commit");
    const promise = this.#queue.push({ batch });
    this.#drain();
    return promise;
  }

  #serial(task: () => Promise<void>): Promise<void> {
    const run = this.#tail.then(task);
    this.#tail = run.catch(() => {});
    return run;
  }

  #drain(): void {
    if (this.#draining) return;
    this.#draining = true;
    this.#serial(async () => {
      while (this.#queue.length > 0) await this.#writeGroup(this.#queue.take());
    }).finally(() => {
      this.#draining = false;
      if (this.#queue.length > 0) this.#drain();
    });
  }

  #fail(error: StorageError): StorageError {
    this.#failure ??= error;
    this.#queue.rejectAll(error);
    this.#hub.wakeAll();
    return error;
  }

  /** The current sequence number of a key (`null`: absent), reading its item when not known. */
  async #seqOf(k: string): Promise<bigint | null> {
    const known = this.#index.get(k);
    if (known === undefined) return null;
    if (known !== UNKNOWN) return known;
    return (await this.#readItem(k))?.seq ?? null;
  }

  async #writeGroup(group: Pending[]): Promise<void> {
    if (this.#failure) {
      for (const p of group) p.reject(this.#failure);
      return;
    }
    // The lock and every checked key the cache does not know, read together.
    const checked = new Map<string, bigint | null>();
    for (const p of group) for (const c of p.batch.checks) checked.set(bytesToBinary(c.keyBytes), null);
    let ours: boolean;
    try {
      [ours] = await Promise.all([
        this.#lease.verify(),
        ...[...checked.keys()].map(async (k) => checked.set(k, await this.#seqOf(k))),
      ]);
    } catch (e) {
      const err = storageError(NAME, "commit", "cannot read the lock and the checked keys", e);
      for (const p of group) p.reject(err);
      return;
    }
    if (!ours) {
      const err = this.#fail(
        new StorageError(NAME, "commit", `another store took the lock ${this.layout.lock} over`, {
          code: "LOCKED",
        }),
      );
      for (const p of group) p.reject(err);
      return;
    }
    // Checks in commit order, each seeing the group's earlier commits.
    const current = new Map(checked);
    const final = new Map<string, JournalMutation>();
    const results: KvCommitResult[] = [];
    let seq = this.#seq;
    for (const p of group) {
      const ok = p.batch.checks.every((c) => {
        const s = current.get(bytesToBinary(c.keyBytes));
        return (s === null || s === undefined ? null : formatVersionstamp(s)) === c.versionstamp;
      });
      if (!ok) {
        results.push({ ok: false });
        continue;
      }
      seq++;
      for (const m of p.batch.mutations) {
        const k = bytesToBinary(m.keyBytes);
        final.set(k, { keyBytes: m.keyBytes, value: m.type === "set" ? m.value : null, seq });
        if (current.has(k)) current.set(k, m.type === "set" ? seq : null);
      }
      results.push({ ok: true, versionstamp: formatVersionstamp(seq) });
    }
    const applied = seq !== this.#seq;
    if (applied) {
      const mutations = [...final.values()];
      if (!await this.#journalOrReject(group, mutations, seq)) return;
      try {
        await this.#gate.write(async () => {
          // Applying is idempotent (the record holds the final state of every key): one retry.
          await this.#applyMutations(mutations, seq).catch(() => this.#applyMutations(mutations, seq));
          for (const [k, m] of final) {
            if (m.value === null) this.#index.delete(k);
            else this.#index.set(k, m.seq);
          }
        });
      } catch (e) {
        const err = this.#fail(outcomeUnknown("a commit group was applied only in part", e));
        for (const p of group) p.reject(err);
        return;
      }
      this.#seq = seq;
    }
    group.forEach((p, i) => p.resolve(results[i]));
    if (final.size > 0 && this.#hub.size > 0) {
      const touched = [...final.values()];
      this.#hub.wake((w) => touched.some((m) => startsWith(m.keyBytes, w.bytes)));
    }
    if (applied) {
      // The group is applied; its record only matters until then (a later group overwrites it).
      await this.#storage.removeItem(this.layout.journal).catch(() => {});
    }
  }

  /** Writes the group's write-ahead record; on a fault rejects the group and returns false. */
  async #journalOrReject(group: Pending[], mutations: JournalMutation[], seq: bigint): Promise<boolean> {
    try {
      await this.#storage.setItemRaw(this.layout.journal, await encodeJournal({ seq, mutations }));
      return true;
    } catch (e) {
      const err = storageError(
        NAME,
        "commit",
        `cannot write the write-ahead record ${this.layout.journal}`,
        e,
      );
      try {
        // The record may be in place anyway: remove it, or a reopen would apply the group.
        await this.#storage.removeItem(this.layout.journal);
      } catch {
        const unknown = this.#fail(outcomeUnknown("the write-ahead record may be in place", e));
        for (const p of group) p.reject(unknown);
        return false;
      }
      for (const p of group) p.reject(err);
      return false;
    }
  }

  #renew(): void {
    if (this.#closed || this.#failure) return;
    this.#serial(async () => {
      if (this.#closed || this.#failure) return;
      try {
        if (!await this.#lease.renew()) {
          this.#fail(
            new StorageError(NAME, "commit", `another store took the lock ${this.layout.lock} over`, {
              code: "LOCKED",
            }),
          );
        }
      } catch {
        // A failed renewal is retried at the next tick; each commit group verifies the lock itself.
      }
    });
  }

  /**
   * {@inheritDoc AtomicKv.watch}
   *
   * Every commit goes through this store (one writer per base), so a commit wakes the watchers of
   * the prefixes it touches at once.
   */
  watch(prefix: KvKey, signal: AbortSignal): AsyncIterable<void> {
    this.#assertUsable("watch");
    return this.#hub.watch(encodeKey(prefix), signal, {
      closed: () => this.#closed || this.#failure !== null,
    });
  }

  /**
   * {@inheritDoc AtomicKv.close}
   *
   * Removes the lock; the `Storage` stays open (dispose it when done with it).
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#renewTimer);
    this.#hub.wakeAll();
    await this.#queue.settled();
    await this.#serial(async () => {
      if (this.#failure?.code === "LOCKED") return;
      try {
        await this.#lease.release();
      } catch (e) {
        throw storageError(NAME, "close", `cannot remove the lock ${this.layout.lock}`, e);
      }
    });
  }
}

/**
 * Opens a store over an unstorage `Storage`: shorthand for {@link UnstorageKv.open}.
 *
 * @param storage A `Storage` from `createStorage({ driver })`.
 * @param options Base key, durability, lease and limits.
 *
 * @example
 * ```ts
 * import { createStorage } from "unstorage";
 * import { openUnstorageKv } from "@kvq/kvq/unstorage";
 * const kv = await openUnstorageKv(createStorage(), { base: "jobs" });
 * console.log(kv.info.scope, kv.layout.lock); // "process" "jobs.lock"
 * await kv.close();
 * ```
 */
export function openUnstorageKv(
  storage: UnstorageStorage,
  options?: UnstorageKvOptions,
): Promise<UnstorageKv> {
  return UnstorageKv.open(storage, options);
}
