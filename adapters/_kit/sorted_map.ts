/**
 * An ordered map from binary strings (one char per byte, so `<` is bytewise order) to values,
 * kept as a list of sorted chunks: inserts and deletes touch one chunk, so appending millions
 * of keys in the middle of the keyspace stays cheap.
 *
 * @module
 */

const MAX_CHUNK = 512;

interface Chunk<V> {
  keys: string[];
  vals: V[];
}

function lowerBound(keys: readonly string[], key: string): number {
  let lo = 0, hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid] < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The ordered map.
 *
 * @example
 * ```ts
 * import { SortedMap } from "@kvq/kvq/kv";
 * const map = new SortedMap<number>();
 * map.set("b", 2);
 * map.set("a", 1);
 * console.log([...map.range("a", "z")]); // [["a", 1], ["b", 2]]
 * ```
 */
export class SortedMap<V> {
  #chunks: Chunk<V>[] = [{ keys: [], vals: [] }];
  #size = 0;

  /** Number of keys. */
  get size(): number {
    return this.#size;
  }

  #chunkIndex(key: string): number {
    const chunks = this.#chunks;
    let lo = 0, hi = chunks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const keys = chunks[mid].keys;
      if (keys.length > 0 && keys[keys.length - 1] < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The value at `key`, or undefined. */
  get(key: string): V | undefined {
    const c = this.#chunks[this.#chunkIndex(key)];
    const i = lowerBound(c.keys, key);
    return c.keys[i] === key ? c.vals[i] : undefined;
  }

  /** Inserts or replaces. */
  set(key: string, value: V): void {
    const ci = this.#chunkIndex(key);
    const c = this.#chunks[ci];
    const i = lowerBound(c.keys, key);
    if (c.keys[i] === key) {
      c.vals[i] = value;
      return;
    }
    c.keys.splice(i, 0, key);
    c.vals.splice(i, 0, value);
    this.#size++;
    if (c.keys.length > MAX_CHUNK) {
      const half = c.keys.length >>> 1;
      this.#chunks.splice(ci + 1, 0, { keys: c.keys.splice(half), vals: c.vals.splice(half) });
    }
  }

  /** Removes `key`; returns whether it was present. */
  delete(key: string): boolean {
    const ci = this.#chunkIndex(key);
    const c = this.#chunks[ci];
    const i = lowerBound(c.keys, key);
    if (c.keys[i] !== key) return false;
    c.keys.splice(i, 1);
    c.vals.splice(i, 1);
    this.#size--;
    if (c.keys.length === 0 && this.#chunks.length > 1) this.#chunks.splice(ci, 1);
    return true;
  }

  /** Entries with `start <= key < end`, ascending or descending. */
  *range(start: string, end: string, reverse = false): Generator<[string, V]> {
    if (!(start < end)) return;
    const chunks = this.#chunks;
    if (!reverse) {
      for (let ci = this.#chunkIndex(start); ci < chunks.length; ci++) {
        const c = chunks[ci];
        for (let i = ci === 0 || c.keys[0] < start ? lowerBound(c.keys, start) : 0; i < c.keys.length; i++) {
          if (c.keys[i] >= end) return;
          yield [c.keys[i], c.vals[i]];
        }
      }
    } else {
      for (let ci = this.#chunkIndex(end); ci >= 0; ci--) {
        const c = chunks[ci];
        for (let i = lowerBound(c.keys, end) - 1; i >= 0; i--) {
          if (c.keys[i] < start) return;
          yield [c.keys[i], c.vals[i]];
        }
      }
    }
  }
}
