/**
 * The in-memory state of an AtomicKv store: ordered entries, versionstamps, check evaluation and
 * watch notification. The memory adapter is this state alone; the file store is this state plus
 * a durable log. Kept in one place so the two cannot drift.
 *
 * @module
 */

import {
  type AtomicBatch,
  decodeKey,
  encodeKey,
  formatVersionstamp,
  type KvEntry,
  type KvKey,
  type KvListOptions,
  type KvListSelector,
  selectorRange,
} from "../../src/kv.ts";
import { binaryToBytes, bytesToBinary, SortedMap } from "./sorted_map.ts";

/** A stored value with the versionstamp of the commit that wrote it. */
export interface StoredValue {
  /** The bytes. */
  value: Uint8Array;
  /** Commit sequence number that wrote it. */
  seq: bigint;
}

const LIST_BATCH = 256;

/** A mutation resolved to binary-string keys, as applied to (and logged by) a store. */
export type AppliedMutation = { key: string; value: Uint8Array } | { key: string; value: null };

/** The ordered in-memory state. */
export class KvState {
  readonly map: SortedMap<StoredValue> = new SortedMap();
  /** Sequence number of the last applied commit. */
  seq = 0n;
  #watchers = new Set<{ prefix: string; wake: () => void }>();

  /** Reads one key. */
  get(key: KvKey): KvEntry | null {
    return this.#entry(bytesToBinary(encodeKey(key)), key);
  }

  #entry(k: string, key?: KvKey): KvEntry | null {
    const v = this.map.get(k);
    if (!v) return null;
    return {
      key: key ? [...key] : decodeKey(binaryToBytes(k)),
      value: v.value.slice(),
      versionstamp: formatVersionstamp(v.seq),
    };
  }

  /** True when every check of the batch holds. */
  checksHold(batch: AtomicBatch): boolean {
    for (const c of batch.checks) {
      const v = this.map.get(bytesToBinary(c.keyBytes));
      const current = v ? formatVersionstamp(v.seq) : null;
      if (current !== c.versionstamp) return false;
    }
    return true;
  }

  /** Resolves a batch's mutations to binary-string keys (later writes to one key win). */
  resolve(batch: AtomicBatch): AppliedMutation[] {
    return batch.mutations.map((m) => ({
      key: bytesToBinary(m.keyBytes),
      value: m.type === "set" ? m.value : null,
    }));
  }

  /** Applies resolved mutations as commit `seq` and wakes watchers. */
  apply(mutations: readonly AppliedMutation[], seq: bigint): void {
    this.seq = seq;
    for (const m of mutations) {
      if (m.value === null) this.map.delete(m.key);
      else this.map.set(m.key, { value: m.value, seq });
    }
    if (this.#watchers.size === 0) return;
    for (const w of this.#watchers) {
      if (mutations.some((m) => m.key.startsWith(w.prefix))) w.wake();
    }
  }

  /** Lists entries in batches, so concurrent commits never invalidate the iteration. */
  async *list(selector: KvListSelector, options: KvListOptions = {}): AsyncGenerator<KvEntry> {
    const range = selectorRange(selector);
    let start = bytesToBinary(range.start);
    let end = bytesToBinary(range.end);
    let remaining = options.limit ?? Infinity;
    if (!(remaining >= 0)) throw new RangeError(`Invalid list limit: ${options.limit}`);
    while (remaining > 0) {
      const batch: [string, StoredValue][] = [];
      for (const e of this.map.range(start, end, options.reverse)) {
        batch.push(e);
        if (batch.length >= Math.min(LIST_BATCH, remaining)) break;
      }
      if (batch.length === 0) return;
      for (const [k, v] of batch) {
        yield {
          key: decodeKey(binaryToBytes(k)),
          value: v.value.slice(),
          versionstamp: formatVersionstamp(v.seq),
        };
      }
      remaining -= batch.length;
      const last = batch[batch.length - 1][0];
      if (options.reverse) end = last;
      else start = last + "\0";
    }
  }

  /** Yields after commits touching `prefix` (coalesced) until `signal` aborts. */
  async *watch(prefix: KvKey, signal: AbortSignal): AsyncGenerator<void> {
    let pending = false;
    let wake: (() => void) | null = null;
    const watcher = {
      prefix: bytesToBinary(encodeKey(prefix)),
      wake: () => {
        pending = true;
        wake?.();
      },
    };
    const onAbort = () => wake?.();
    this.#watchers.add(watcher);
    signal.addEventListener("abort", onAbort);
    try {
      while (!signal.aborted) {
        if (!pending) await new Promise<void>((r) => (wake = r));
        wake = null;
        if (signal.aborted) return;
        pending = false;
        yield;
      }
    } finally {
      this.#watchers.delete(watcher);
      signal.removeEventListener("abort", onAbort);
    }
  }
}
