/**
 * The read side shared by stores whose reads come from an in-memory {@link KvState}: the memory
 * adapter (nothing else) and the file store (plus its log). Subclasses supply `info`, `atomic()`
 * and `close()`; reads, listing and watch live here once.
 *
 * @module
 */

import { StoreClosedError } from "../../src/errors.ts";
import type {
  AtomicKv,
  AtomicOp,
  KvEntry,
  KvInfo,
  KvKey,
  KvListOptions,
  KvListSelector,
} from "../../src/kv.ts";
import type { EntryStore, KvState, MemoryEntries } from "./state.ts";

/**
 * Base class of the stores that read from a {@link KvState}.
 *
 * @example A store that never accepts a commit (for illustration)
 * ```ts
 * import { KvState, StateKv } from "@kvq/kvq/kv";
 * import { StorageError } from "@kvq/kvq/kv";
 * class ReadOnlyKv extends StateKv {
 *   readonly info = { name: "read-only", maxValueBytes: 0, maxKeyBytes: 2048, maxMutations: 0, maxChecks: 0,
 *     scope: "process", durable: false, watch: true } as const;
 *   atomic(): never { throw new StorageError("read-only", "atomic", "this store is read-only"); }
 *   close(): Promise<void> { this.closed = true; return Promise.resolve(); }
 * }
 * console.log(await new ReadOnlyKv(new KvState()).get(["x"])); // null
 * ```
 */
export abstract class StateKv<S extends EntryStore = MemoryEntries> implements AtomicKv {
  /** {@inheritDoc AtomicKv.info} */
  abstract readonly info: KvInfo;
  /** The ordered in-memory state reads come from. */
  protected readonly state: KvState<S>;
  /** True once the store is closed: every operation then rejects with StoreClosedError. */
  protected closed = false;

  /** Wraps `state`. */
  constructor(state: KvState<S>) {
    this.state = state;
  }

  /** Throws StoreClosedError when the store is closed. */
  protected assertOpen(operation: string): void {
    if (this.closed) throw new StoreClosedError(this.info.name, operation);
  }

  /** {@inheritDoc AtomicKv.get} */
  get(key: KvKey): Promise<KvEntry | null> {
    try {
      this.assertOpen("get");
      return Promise.resolve(this.state.get(key));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** {@inheritDoc AtomicKv.getMany} */
  getMany(keys: readonly KvKey[]): Promise<(KvEntry | null)[]> {
    try {
      this.assertOpen("getMany");
      return Promise.resolve(this.state.getMany(keys));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** {@inheritDoc AtomicKv.list} */
  list(selector: KvListSelector, options?: KvListOptions): AsyncIterable<KvEntry> {
    this.assertOpen("list");
    return this.state.list(selector, options);
  }

  /** {@inheritDoc AtomicKv.watch} */
  watch(prefix: KvKey, signal: AbortSignal): AsyncIterable<void> {
    this.assertOpen("watch");
    return this.state.watch(prefix, signal);
  }

  /** {@inheritDoc AtomicKv.atomic} */
  abstract atomic(): AtomicOp;

  /** {@inheritDoc AtomicKv.close} */
  abstract close(): Promise<void>;
}
