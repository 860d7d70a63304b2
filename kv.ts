/**
 * kvq for backend authors (`kvq/kv`, `jsr:@kvq/kvq/kv`): everything needed to write a storage
 * adapter, and nothing of the job engine. It loads no queue, no worker and no cron library.
 *
 * - The contract: `AtomicKv`, `AtomicOp`, `KvInfo`, `KvEntry`, `KvKey`, the list selectors, and
 *   `BufferedAtomicOp` (validates checks and mutations against `info`, hands the store one batch).
 * - The key codec: `encodeKey` / `decodeKey` (order-preserving), `compareKeys`, `compareBytes`,
 *   `selectorRange`, `formatVersionstamp`.
 * - The typed errors a store throws: `StorageError`, `StoreClosedError`, `CorruptionError`,
 *   `LimitError`, `StoreLockedError`.
 * - The adapter kit: an in-memory ordered state with reads, checks, list and watch (`KvState`,
 *   `StateKv`, `SortedMap`), the watch hub, the write queue for group commit, error wrapping and
 *   byte helpers.
 *
 * Prove a new adapter with the conformance suite in `kvq/testing`.
 *
 * @example A minimal in-memory store on the kit (the memory adapter is this, plus options)
 * ```ts
 * import { BufferedAtomicOp, formatVersionstamp, KvState, StateKv } from "@kvq/kvq/kv";
 * import type { AtomicOp, KvInfo } from "@kvq/kvq/kv";
 *
 * class TinyKv extends StateKv {
 *   readonly info: KvInfo = {
 *     name: "tiny", maxValueBytes: 65536, maxKeyBytes: 2048, maxMutations: 100, maxChecks: 100,
 *     scope: "process", durable: false, watch: true,
 *   };
 *   constructor() {
 *     super(new KvState());
 *   }
 *   atomic(): AtomicOp {
 *     return new BufferedAtomicOp(this.info, (batch) => {
 *       this.assertOpen("commit");
 *       if (!this.state.checksHold(batch)) return Promise.resolve({ ok: false });
 *       const seq = this.state.seq + 1n;
 *       this.state.apply(this.state.resolve(batch), seq);
 *       return Promise.resolve({ ok: true, versionstamp: formatVersionstamp(seq) });
 *     });
 *   }
 *   close(): Promise<void> {
 *     this.closed = true;
 *     return Promise.resolve();
 *   }
 * }
 * const kv = new TinyKv();
 * console.log((await kv.atomic().set(["a"], new Uint8Array([1])).commit()).ok); // true
 * ```
 *
 * @module
 */

// Listed name by name (tests/packaging/surface_test.ts pins the list): a new export is a decision.
export type {
  AtomicBatch,
  AtomicKv,
  AtomicOp,
  BatchCheck,
  BatchMutation,
  CheckedListOptions,
  KvCommitResult,
  KvEntry,
  KvInfo,
  KvKey,
  KvKeyPart,
  KvListOptions,
  KvListSelector,
  KvScope,
} from "./src/kv.ts";
export {
  BufferedAtomicOp,
  checkListOptions,
  compareBytes,
  compareKeys,
  decodeKey,
  encodeKey,
  formatVersionstamp,
  selectorRange,
} from "./src/kv.ts";
export {
  CorruptionError,
  KvqError,
  type KvqErrorOptions,
  LimitError,
  type LimitKind,
  StorageError,
  StoreClosedError,
  StoreLockedError,
} from "./src/errors.ts";
export {
  afterBytes,
  type AppliedMutation,
  binaryToBytes,
  bytesToBinary,
  copyBytes,
  type EntryStore,
  errorCode,
  errorMessage,
  KvState,
  LIST_PAGE,
  MemoryEntries,
  pagedList,
  type PageSource,
  plainBytes,
  type Queued,
  SortedMap,
  startsWith,
  StateKv,
  storageError,
  type StoredValue,
  type WatchedPrefix,
  type WatchHooks,
  WatchHub,
  WriteQueue,
} from "./adapters/_kit/mod.ts";
