/**
 * The memory adapter: the reference implementation of the AtomicKv contract. Fast and
 * transient: everything is lost when the process ends. When two adapters disagree, the contract
 * decides, and this adapter shows the contract in the fewest lines.
 *
 * @example A transient store
 * ```ts
 * import { MemoryKv } from "@kvq/kvq/memory";
 * const kv = new MemoryKv();
 * await kv.atomic().set(["greeting"], new TextEncoder().encode("hi")).commit();
 * console.log((await kv.get(["greeting"]))?.versionstamp);
 * await kv.close();
 * ```
 *
 * @module
 */

import { StoreClosedError } from "../../src/errors.ts";
import {
  type AtomicKv,
  type AtomicOp,
  BufferedAtomicOp,
  formatVersionstamp,
  type KvCommitResult,
  type KvEntry,
  type KvInfo,
  type KvKey,
  type KvListOptions,
  type KvListSelector,
} from "../../src/kv.ts";
import { KvState } from "./state.ts";

export { KvState } from "./state.ts";
export type { AppliedMutation, StoredValue } from "./state.ts";
export { binaryToBytes, bytesToBinary, SortedMap } from "./sorted_map.ts";

/** Options of {@link MemoryKv}. */
export interface MemoryKvOptions {
  /** Largest value in bytes. @default 65536 */
  maxValueBytes?: number;
  /** Most mutations per atomic operation. @default 1000 */
  maxMutations?: number;
}

/**
 * An in-process AtomicKv store held in memory.
 *
 * @example
 * ```ts
 * import { MemoryKv } from "@kvq/kvq/memory";
 * const kv = new MemoryKv();
 * const first = await kv.atomic().check(["k"], null).set(["k"], new Uint8Array([1])).commit();
 * const second = await kv.atomic().check(["k"], null).set(["k"], new Uint8Array([2])).commit();
 * console.log(first.ok, second.ok); // true false
 * ```
 */
export class MemoryKv implements AtomicKv {
  /** {@inheritDoc AtomicKv.info} */
  readonly info: KvInfo;
  readonly #state = new KvState();
  #closed = false;

  /** Creates an empty store. */
  constructor(options: MemoryKvOptions = {}) {
    this.info = {
      name: "memory",
      maxValueBytes: options.maxValueBytes ?? 65536,
      maxKeyBytes: 2048,
      maxMutations: options.maxMutations ?? 1000,
      maxChecks: 1000,
      scope: "process",
      durable: false,
      watch: true,
    };
  }

  #open(operation: string): void {
    if (this.#closed) throw new StoreClosedError(this.info.name, operation);
  }

  /** {@inheritDoc AtomicKv.get} */
  get(key: KvKey): Promise<KvEntry | null> {
    try {
      this.#open("get");
      return Promise.resolve(this.#state.get(key));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** {@inheritDoc AtomicKv.getMany} */
  getMany(keys: readonly KvKey[]): Promise<(KvEntry | null)[]> {
    try {
      this.#open("getMany");
      return Promise.resolve(keys.map((k) => this.#state.get(k)));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** {@inheritDoc AtomicKv.list} */
  list(selector: KvListSelector, options?: KvListOptions): AsyncIterable<KvEntry> {
    this.#open("list");
    return this.#state.list(selector, options);
  }

  /** {@inheritDoc AtomicKv.atomic} */
  atomic(): AtomicOp {
    return new BufferedAtomicOp(this.info, (batch): Promise<KvCommitResult> => {
      this.#open("commit");
      if (!this.#state.checksHold(batch)) return Promise.resolve({ ok: false });
      const seq = this.#state.seq + 1n;
      this.#state.apply(this.#state.resolve(batch), seq);
      return Promise.resolve({ ok: true, versionstamp: formatVersionstamp(seq) });
    });
  }

  /** {@inheritDoc AtomicKv.watch} */
  watch(prefix: KvKey, signal: AbortSignal): AsyncIterable<void> {
    this.#open("watch");
    return this.#state.watch(prefix, signal);
  }

  /** {@inheritDoc AtomicKv.close} */
  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }
}
