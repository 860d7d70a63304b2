/**
 * The AtomicKv contract: the one narrow seam between kvq's queue logic and a storage backend,
 * modelled on Deno KV. This module holds the contract's types; it re-exports the order-preserving
 * key codec (`key_codec.ts`), the list argument checks (`list_range.ts`) and the shared
 * atomic-operation buffer (`atomic_op.ts`) that byte-storing adapters build on.
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
  /**
   * Most keys one `getMany` reads in one native call. Longer lists are still answered at one
   * consistent point, but at a higher cost (Deno KV, which reads 10 keys at a time, reads them
   * twice and compares); a caller that needs no single point (the engine's claim and value reads,
   * which check versionstamps at commit) slices its reads to this size instead. A positive
   * integer; absent: no such limit, one call for any number of keys.
   */
  readonly readKeys?: number;
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

export {
  binaryKeyBytes,
  compareBytes,
  compareKeys,
  decodeKey,
  decodeKeyBinary,
  encodeKey,
  encodeKeyBinary,
} from "./key_codec.ts";
export { type CheckedListOptions, checkListOptions, selectorRange } from "./list_range.ts";
export type { BlobStore, BlobStoreInfo } from "./blob_store.ts";
export {
  type AtomicBatch,
  type BatchCheck,
  type BatchMutation,
  BufferedAtomicOp,
  formatVersionstamp,
} from "./atomic_op.ts";
