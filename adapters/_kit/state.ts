/**
 * The in-memory state of an AtomicKv store: ordered entries, versionstamps, check evaluation and
 * watch notification. The memory adapter is this state over a {@link SortedMap} of values; the
 * file store is this state over its own index (keys in memory, values in the log) plus the log.
 * Reads, listing and watch are kept in one place so the two cannot drift; a new adapter that
 * keeps its data in memory can reuse it too.
 *
 * @module
 */

import {
  type AtomicBatch,
  checkListOptions,
  decodeKeyBinary,
  encodeKey,
  encodeKeyBinary,
  formatVersionstamp,
  type KvEntry,
  type KvKey,
  type KvListOptions,
  type KvListSelector,
  selectorRange,
} from "../../src/kv.ts";
import { bytesToBinary, copyBytes } from "./bytes.ts";
import { SortedMap } from "./sorted_map.ts";
import { WatchHub } from "./watch_hub.ts";

/** A stored value with the versionstamp of the commit that wrote it. */
export interface StoredValue {
  /** The bytes. */
  value: Uint8Array;
  /** Commit sequence number that wrote it. */
  seq: bigint;
}

const LIST_BATCH = 256;

/**
 * The ordered entries a {@link KvState} reads from. Keys are binary strings (one char per byte).
 *
 * @example The memory adapter's store
 * ```ts
 * import { MemoryEntries } from "@kvq/kvq/kv";
 * const entries = new MemoryEntries();
 * entries.set("k", { value: new Uint8Array([1]), seq: 7n });
 * console.log(entries.seqOf("k"), entries.size); // 7n 1
 * ```
 */
export interface EntryStore {
  /** Number of keys. */
  readonly size: number;
  /** The entry at `key`, or undefined (the caller copies the value before handing it out). */
  get(key: string): StoredValue | undefined;
  /** The seq of the entry at `key`, or undefined; cheaper than {@link get}. */
  seqOf(key: string): bigint | undefined;
  /** Entries with `start <= key < end`, ascending or descending. */
  range(start: string, end: string, reverse?: boolean): Iterable<[string, StoredValue]>;
}

/**
 * The memory adapter's entries: a {@link SortedMap} of values with their seqs.
 *
 * @example
 * ```ts
 * import { MemoryEntries } from "@kvq/kvq/kv";
 * console.log(new MemoryEntries().seqOf("missing")); // undefined
 * ```
 */
export class MemoryEntries extends SortedMap<StoredValue> implements EntryStore {
  /** The seq of the entry at `key`, or undefined. */
  seqOf(key: string): bigint | undefined {
    return this.get(key)?.seq;
  }
}

/** A mutation resolved to binary-string keys, as applied to (and logged by) a store. */
export type AppliedMutation = { key: string; value: Uint8Array } | { key: string; value: null };

/**
 * Copies of the stored values (`undefined` for an absent entry), carved from one new buffer: one
 * allocation per read instead of one per value, and each copy still the caller's own.
 */
function copiesOf(stored: readonly (StoredValue | undefined)[]): (Uint8Array | undefined)[] {
  let total = 0;
  for (const v of stored) if (v) total += v.value.length;
  const slab = new Uint8Array(total);
  let off = 0;
  return stored.map((v) => {
    if (!v) return undefined;
    const copy = slab.subarray(off, off + v.value.length);
    copy.set(v.value);
    off += v.value.length;
    return copy;
  });
}

/**
 * The ordered in-memory state over the entry store `S` (by default the memory adapter's).
 *
 * @example
 * ```ts
 * import { encodeKey, KvState } from "@kvq/kvq/kv";
 * const state = new KvState();
 * const batch = { checks: [], mutations: [{ type: "set", key: ["k"], keyBytes: encodeKey(["k"]), value: new Uint8Array([1]) }] };
 * state.apply(state.resolve(batch as never), 1n);
 * console.log(state.get(["k"])?.versionstamp); // "00000000000000000001"
 * ```
 */
export class KvState<S extends EntryStore = MemoryEntries> {
  /** The entries. */
  readonly map: S;
  /** Sequence number of the last applied commit. */
  seq = 0n;
  readonly #hub = new WatchHub();

  /** State over `map`; without one, over a new {@link MemoryEntries}. */
  constructor(map?: S) {
    this.map = map ?? (new MemoryEntries() as EntryStore as S);
  }

  /** Reads one key. */
  get(key: KvKey): KvEntry | null {
    return this.#entry(encodeKeyBinary(key), key);
  }

  /**
   * Reads several keys at once. The values are copies carved from one new buffer per call (one
   * allocation instead of one per value: the engine reads its claimed records this way), so each
   * is still the caller's own and changing one changes nothing stored.
   */
  getMany(keys: readonly KvKey[]): (KvEntry | null)[] {
    const found = keys.map((k) => this.map.get(encodeKeyBinary(k)));
    const values = copiesOf(found);
    return found.map((v, i) =>
      v ? { key: [...keys[i]], value: values[i]!, versionstamp: formatVersionstamp(v.seq) } : null
    );
  }

  #entry(k: string, key?: KvKey): KvEntry | null {
    const v = this.map.get(k);
    if (!v) return null;
    return {
      key: key ? [...key] : decodeKeyBinary(k),
      value: copyBytes(v.value),
      versionstamp: formatVersionstamp(v.seq),
    };
  }

  /** True when every check of the batch holds. */
  checksHold(batch: AtomicBatch): boolean {
    for (const c of batch.checks) {
      const seq = this.map.seqOf(c.keyBinary ?? bytesToBinary(c.keyBytes));
      const current = seq === undefined ? null : formatVersionstamp(seq);
      if (current !== c.versionstamp) return false;
    }
    return true;
  }

  /** Resolves a batch's mutations to binary-string keys (later writes to one key win). */
  resolve(batch: AtomicBatch): AppliedMutation[] {
    return batch.mutations.map((m) => ({
      key: m.keyBinary ?? bytesToBinary(m.keyBytes),
      value: m.type === "set" ? m.value : null,
    }));
  }

  /** Applies resolved mutations as commit `seq` and wakes watchers (memory entries only). */
  apply(this: KvState<MemoryEntries>, mutations: readonly AppliedMutation[], seq: bigint): void {
    this.seq = seq;
    for (const m of mutations) {
      if (m.value === null) this.map.delete(m.key);
      else this.map.set(m.key, { value: m.value, seq });
    }
    this.notify(mutations);
  }

  /**
   * Applies a batch's mutations as commit `seq` and wakes watchers (memory entries only): what
   * `apply(resolve(batch), seq)` does, without building the resolved list.
   */
  applyBatch(this: KvState<MemoryEntries>, batch: AtomicBatch, seq: bigint): void {
    this.seq = seq;
    const map = this.map;
    const muts = batch.mutations;
    const watched = this.#hub.size > 0;
    const keys: string[] = [];
    for (let i = 0; i < muts.length; i++) {
      const m = muts[i];
      const key = m.keyBinary ?? bytesToBinary(m.keyBytes);
      if (m.type === "set") map.set(key, { value: m.value, seq });
      else map.delete(key);
      if (watched) keys.push(key);
    }
    if (watched) this.#wake(keys);
  }

  /** Wakes the watchers of prefixes these mutations touch (after the store applied them). */
  notify(mutations: readonly { key: string }[]): void {
    if (this.#hub.size > 0) this.#wake(mutations.map((m) => m.key));
  }

  #wake(keys: readonly string[]): void {
    this.#hub.wake((w) => keys.some((k) => k.startsWith(w.binary)));
  }

  /** Lists entries in batches, so concurrent commits never invalidate the iteration. */
  async *list(selector: KvListSelector, options?: KvListOptions): AsyncGenerator<KvEntry> {
    const range = selectorRange(selector);
    const { limit, reverse } = checkListOptions(options);
    let start = bytesToBinary(range.start);
    let end = bytesToBinary(range.end);
    let remaining = limit;
    while (remaining > 0) {
      const batch: [string, StoredValue][] = [];
      for (const e of this.map.range(start, end, reverse)) {
        batch.push(e);
        if (batch.length >= Math.min(LIST_BATCH, remaining)) break;
      }
      if (batch.length === 0) return;
      // The batch's values are copies carved from one new buffer (see getMany).
      const values = copiesOf(batch.map((e) => e[1]));
      for (let i = 0; i < batch.length; i++) {
        const [k, v] = batch[i];
        yield { key: decodeKeyBinary(k), value: values[i]!, versionstamp: formatVersionstamp(v.seq) };
      }
      remaining -= batch.length;
      const last = batch[batch.length - 1][0];
      if (reverse) end = last;
      else start = last + "\0";
    }
  }

  /** Yields after commits touching `prefix` (coalesced) until `signal` aborts. */
  watch(prefix: KvKey, signal: AbortSignal): AsyncGenerator<void> {
    return this.#hub.watch(encodeKey(prefix), signal);
  }
}
