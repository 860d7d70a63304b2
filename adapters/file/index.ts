/**
 * The file store's in-memory index (Bitcask-style): per key, the versionstamp of the commit that
 * wrote it and where its value lives in the log (byte offset and length). Values stay on disk and
 * are read back with a synchronous positional read when a read needs them; an empty value needs
 * no read. Keys are packed: each chunk of the ordered map (up to 512 entries) stores the prefix
 * its keys share once and the rest of the keys in one byte buffer with an end-offset array, and
 * the numbers in typed arrays, so an entry costs its key bytes beyond the chunk's prefix plus 24
 * bytes, instead of a string, an object, a Uint8Array and a bigint.
 *
 * Keys are binary strings at the API (one char per byte, as in {@link KvState}); inside they are
 * bytes, compared bytewise.
 *
 * @module
 */

import { StorageError } from "../../src/errors.ts";
import { binaryToBytes, bytesToBinary } from "../_kit/bytes.ts";
import { storageError } from "../_kit/errors.ts";
import type { EntryStore, StoredValue } from "../_kit/state.ts";
import type { FsLayer } from "./fs.ts";

/** Most entries in a chunk before it splits. */
const MAX_ENTRIES = 512;
/** Most key bytes in a chunk before it splits (keys are at most 2048 bytes). */
const MAX_KEY_BYTES = 32 * 1024;
/** A chunk with fewer entries than this after a delete is merged with a neighbour when they fit. */
const MIN_ENTRIES = MAX_ENTRIES >>> 2;
/** Bytes read at once when scanning values in log order (compaction). */
const SCAN_WINDOW = 64 * 1024;

/**
 * One sorted run of entries. The keys share the prefix `pre` (stored once); entry i's key is
 * `pre` followed by the suffix `keys[i ? u32[2i-2] : 0 .. u32[2i])`.
 */
class Chunk {
  n = 0;
  /** Suffix bytes in use. */
  used = 0;
  /** The prefix every key of the chunk starts with (a binary string). */
  pre = "";
  keys: Uint8Array;
  /** Per entry: suffix end offset (2i), value length (2i+1). */
  u32: Uint32Array;
  /** Per entry: seq (2i), value offset in the log (2i+1). */
  f64: Float64Array;

  constructor(entries: number, keyBytes: number) {
    this.keys = new Uint8Array(keyBytes);
    this.u32 = new Uint32Array(2 * entries);
    this.f64 = new Float64Array(2 * entries);
  }

  start(i: number): number {
    return i === 0 ? 0 : this.u32[2 * i - 2];
  }

  /** 0 when `key` starts with the prefix; else negative (key sorts before) or positive. */
  pcmp(key: string): number {
    const pre = this.pre, pl = pre.length;
    const n = Math.min(pl, key.length);
    for (let j = 0; j < n; j++) {
      const d = key.charCodeAt(j) - pre.charCodeAt(j);
      if (d !== 0) return d;
    }
    return key.length < pl ? -1 : 0;
  }

  /** Compares `key` (which starts with the prefix) with entry i's key. */
  scmp(key: string, i: number): number {
    const s = this.start(i), e = this.u32[2 * i];
    const pl = this.pre.length, kl = key.length - pl, n = Math.min(kl, e - s);
    const b = this.keys;
    for (let j = 0; j < n; j++) {
      const d = key.charCodeAt(pl + j) - b[s + j];
      if (d !== 0) return d;
    }
    return kl - (e - s);
  }

  /** Compares `key` with entry i's key: negative when `key` sorts first. */
  cmp(key: string, i: number): number {
    return this.pcmp(key) || this.scmp(key, i);
  }

  /** First i with key(i) >= key. */
  lowerBound(key: string): number {
    const p = this.pcmp(key);
    if (p !== 0) return p < 0 ? 0 : this.n;
    let lo = 0, hi = this.n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.scmp(key, mid) > 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Index of `key`, or -1. */
  indexOf(key: string): number {
    const i = this.lowerBound(key);
    return i < this.n && this.cmp(key, i) === 0 ? i : -1;
  }

  key(i: number): string {
    return this.pre + bytesToBinary(this.keys, this.start(i), this.u32[2 * i]);
  }

  /** Makes room for `entries` entries and `keyBytes` suffix bytes. */
  reserve(entries: number, keyBytes: number): void {
    if (entries * 2 > this.u32.length) {
      // Grow straight to a full chunk's size: fewer reallocations leave fewer holes in the heap.
      const cap = Math.max(entries, this.n < 32 ? 64 : MAX_ENTRIES + 1);
      const u32 = new Uint32Array(2 * cap);
      u32.set(this.u32.subarray(0, 2 * this.n));
      const f64 = new Float64Array(2 * cap);
      f64.set(this.f64.subarray(0, 2 * this.n));
      this.u32 = u32;
      this.f64 = f64;
    }
    if (keyBytes > this.keys.length) {
      const keys = new Uint8Array(Math.max(keyBytes, this.used * 2, 256));
      keys.set(this.keys.subarray(0, this.used));
      this.keys = keys;
    }
  }

  /** Shortens the prefix to its first `len` chars, moving the rest into every suffix. */
  rebase(len: number): void {
    const extra = this.pre.length - len;
    if (extra <= 0) return;
    const add = binaryToBytes(this.pre.slice(len));
    const old = this.keys;
    const keys = new Uint8Array(Math.max(old.length, this.used + this.n * extra));
    let p = 0;
    for (let i = 0, s = 0; i < this.n; i++) {
      const e = this.u32[2 * i];
      keys.set(add, p);
      keys.set(old.subarray(s, e), p + extra);
      p += extra + e - s;
      this.u32[2 * i] = p;
      s = e;
    }
    this.keys = keys;
    this.used = p;
    this.pre = this.pre.slice(0, len);
  }

  /** Inserts at i (the caller checked the order). */
  insert(i: number, key: string, seq: number, at: number, len: number): void {
    if (this.n === 0) {
      this.pre = key;
      this.used = 0;
    } else if (this.pcmp(key) !== 0) {
      this.rebase(commonPrefix(this.pre, key));
    }
    const pl = this.pre.length, kl = key.length - pl;
    this.reserve(this.n + 1, this.used + kl);
    const s = this.start(i);
    const { keys, u32, f64 } = this;
    keys.copyWithin(s + kl, s, this.used);
    for (let j = 0; j < kl; j++) keys[s + j] = key.charCodeAt(pl + j);
    u32.copyWithin(2 * i + 2, 2 * i, 2 * this.n);
    f64.copyWithin(2 * i + 2, 2 * i, 2 * this.n);
    for (let j = i + 1; j <= this.n; j++) u32[2 * j] += kl;
    u32[2 * i] = s + kl;
    u32[2 * i + 1] = len;
    f64[2 * i] = seq;
    f64[2 * i + 1] = at;
    this.n++;
    this.used += kl;
  }

  /** Removes entries [0, k), keeping the buffers. */
  dropFront(k: number): void {
    const s = this.u32[2 * k - 2];
    const { keys, u32, f64 } = this;
    keys.copyWithin(0, s, this.used);
    u32.copyWithin(0, 2 * k, 2 * this.n);
    f64.copyWithin(0, 2 * k, 2 * this.n);
    this.n -= k;
    this.used -= s;
    for (let j = 0; j < this.n; j++) u32[2 * j] -= s;
  }

  /** Removes entry i. */
  remove(i: number): void {
    const s = this.start(i), e = this.u32[2 * i], kl = e - s;
    const { keys, u32, f64 } = this;
    keys.copyWithin(s, e, this.used);
    u32.copyWithin(2 * i, 2 * i + 2, 2 * this.n);
    f64.copyWithin(2 * i, 2 * i + 2, 2 * this.n);
    this.n--;
    this.used -= kl;
    for (let j = i; j < this.n; j++) u32[2 * j] -= kl;
  }

  /**
   * A new chunk holding entries [from, to) (at least one), with room for `spare` more entries;
   * its prefix is as long as its keys allow.
   */
  slice(from: number, to: number, spare: number): Chunk {
    const n = to - from;
    const s = this.start(from), e = this.u32[2 * to - 2];
    // Sorted keys: what the first and last share, all share.
    const ls = this.start(to - 1);
    const lim = Math.min(this.u32[2 * from] - s, e - ls);
    let cp = 0;
    while (cp < lim && this.keys[s + cp] === this.keys[ls + cp]) cp++;
    const bytes = e - s - n * cp;
    const c = new Chunk(n + spare, bytes + Math.ceil(spare * (bytes / n)));
    c.pre = this.pre + bytesToBinary(this.keys, s, s + cp);
    c.f64.set(this.f64.subarray(2 * from, 2 * to));
    let p = 0;
    for (let j = 0; j < n; j++) {
      const ks = this.start(from + j) + cp, ke = this.u32[2 * (from + j)];
      c.keys.set(this.keys.subarray(ks, ke), p);
      p += ke - ks;
      c.u32[2 * j] = p;
      c.u32[2 * j + 1] = this.u32[2 * (from + j) + 1];
    }
    c.n = n;
    c.used = p;
    return c;
  }

  /** Appends all entries of `other` (whose keys all sort after this chunk's). */
  append(other: Chunk): void {
    if (other.n === 0) return;
    this.rebase(commonPrefix(this.pre, other.pre));
    const add = binaryToBytes(other.pre.slice(this.pre.length));
    const extra = add.length;
    this.reserve(this.n + other.n, this.used + other.used + other.n * extra);
    let p = this.used;
    for (let j = 0; j < other.n; j++) {
      const s = other.start(j), e = other.u32[2 * j];
      this.keys.set(add, p);
      this.keys.set(other.keys.subarray(s, e), p + extra);
      p += extra + e - s;
      this.u32[2 * (this.n + j)] = p;
      this.u32[2 * (this.n + j) + 1] = other.u32[2 * j + 1];
    }
    this.f64.set(other.f64.subarray(0, 2 * other.n), 2 * this.n);
    this.n += other.n;
    this.used = p;
  }
}

function commonPrefix(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

/** One entry as seen by {@link FileIndex.scan} (the object is reused between entries). */
export interface IndexCursor {
  /** The key's bytes (a fresh array). */
  key: Uint8Array;
  /** Sequence number of the commit that wrote the entry. */
  seq: number;
  /** Offset of the value in the log. */
  at: number;
  /** Length of the value. */
  len: number;
}

/** The error of a failed positional read of the value at byte `at`. */
function readError(at: number, e: unknown): StorageError {
  return storageError("file", "read", `cannot read a value at byte ${at}`, e);
}

/**
 * The ordered index of a file store: key → (seq, value offset, value length), with values read
 * from the log file `fd` through `fs.readSync`. Every value in the log is preceded by its u32
 * length (format.ts), and a read checks that prefix, so an offset that went stale reads as a
 * {@link StorageError}, never as another value.
 *
 * @example Index a value written at offset 4 of a log
 * ```ts
 * import { FileIndex } from "./index.ts";
 * import { nodeFs } from "./fs.ts";
 * const index = new FileIndex(nodeFs);
 * index.set("k", 1, 4, 0); // an empty value needs no read
 * console.log(index.get("k")?.value.length, index.size); // 0 1
 * ```
 */
export class FileIndex implements EntryStore {
  #chunks: Chunk[] = [new Chunk(8, 256)];
  #size = 0;
  readonly #fs: FsLayer;
  /** Descriptor of the log values are read from; -1 when closed. */
  fd: number = -1;

  /** An empty index reading values through `fs`. */
  constructor(fs: FsLayer) {
    this.#fs = fs;
  }

  /** Number of keys. */
  get size(): number {
    return this.#size;
  }

  /** Index of the last chunk whose first key is <= key (0 when none). */
  #chunkIndex(key: string): number {
    const chunks = this.#chunks;
    let lo = 0, hi = chunks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (chunks[mid].cmp(key, 0) >= 0) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  #find(key: string): [Chunk, number] | null {
    const c = this.#chunks[this.#chunkIndex(key)];
    const i = c.indexOf(key);
    return i >= 0 ? [c, i] : null;
  }

  /** Sequence number of `key`'s entry, or undefined (no disk read). */
  seqOf(key: string): bigint | undefined {
    const f = this.#find(key);
    return f ? BigInt(f[0].f64[2 * f[1]]) : undefined;
  }

  /** `key`'s value (read from the log) and seq, or undefined. */
  get(key: string): StoredValue | undefined {
    const f = this.#find(key);
    return f ? this.#stored(f[0], f[1]) : undefined;
  }

  #stored(c: Chunk, i: number): StoredValue {
    return { value: this.read(c.f64[2 * i + 1], c.u32[2 * i + 1]), seq: BigInt(c.f64[2 * i]) };
  }

  /**
   * Reads the value of `len` bytes at offset `at` of the log. Throws StorageError when the read
   * fails, comes back short, or the length prefix before the value does not match.
   */
  read(at: number, len: number): Uint8Array {
    if (len === 0) return new Uint8Array(0);
    const buf = new Uint8Array(len + 4);
    let got: number;
    try {
      if (this.fd < 0) throw new Error("the log is closed");
      got = this.#fs.readSync(this.fd, buf, 0, len + 4, at - 4);
    } catch (e) {
      throw readError(at, e);
    }
    checkValue(buf, 0, got, at, len);
    return buf.subarray(4);
  }

  /** Inserts or replaces `key`'s entry. */
  set(key: string, seq: number, at: number, len: number): void {
    this.put(key, seq, at, len);
  }

  /**
   * Inserts or replaces `key`'s entry in one lookup; returns the value length it replaced, or -1
   * when the key was absent (the commit path keeps its live-bytes count with it).
   */
  put(key: string, seq: number, at: number, len: number): number {
    const chunks = this.#chunks;
    const ci = this.#chunkIndex(key);
    const c = chunks[ci];
    const i = c.lowerBound(key);
    if (i < c.n && c.pcmp(key) === 0 && c.scmp(key, i) === 0) {
      const old = c.u32[2 * i + 1];
      c.u32[2 * i + 1] = len;
      c.f64[2 * i] = seq;
      c.f64[2 * i + 1] = at;
      return old;
    }
    c.insert(i, key, seq, at, len);
    this.#size++;
    if (c.n > MAX_ENTRIES || (c.used > MAX_KEY_BYTES && c.n > 1)) {
      if (i === c.n - 1) {
        // Appending in key order (ids, timestamps): seal the full entries into an exact-size
        // chunk, and go on appending in this one, whose buffers are reused (no allocator churn).
        const sealed = c.slice(0, i, 0);
        c.dropFront(i);
        chunks.splice(ci, 0, sealed);
      } else if (i === 0) {
        chunks.splice(ci, 1, c.slice(0, 1, 16), c.slice(1, c.n, 0));
      } else {
        const half = c.n >>> 1;
        const spare = MAX_ENTRIES >>> 3;
        chunks.splice(ci, 1, c.slice(0, half, spare), c.slice(half, c.n, spare));
      }
    }
    return -1;
  }

  /** Removes `key`; returns whether it was present. */
  delete(key: string): boolean {
    return this.remove(key) >= 0;
  }

  /** Removes `key` in one lookup; returns the value length it had, or -1 when it was absent. */
  remove(key: string): number {
    const chunks = this.#chunks;
    const ci = this.#chunkIndex(key);
    const c = chunks[ci];
    const i = c.indexOf(key);
    if (i < 0) return -1;
    const old = c.u32[2 * i + 1];
    c.remove(i);
    this.#size--;
    if (c.n < MIN_ENTRIES && chunks.length > 1) {
      if (c.n === 0) {
        chunks.splice(ci, 1);
      } else {
        // Merge with a neighbour when both fit in a chunk that still has room to grow.
        const j = ci + 1 < chunks.length ? ci + 1 : ci - 1;
        const [a, b] = j > ci ? [c, chunks[j]] : [chunks[j], c];
        if (a.n + b.n <= (MAX_ENTRIES * 3) >>> 2 && a.used + b.used <= (MAX_KEY_BYTES * 3) >>> 2) {
          const merged = a.slice(0, a.n, MAX_ENTRIES >>> 3);
          merged.append(b);
          chunks.splice(Math.min(ci, j), 2, merged);
        }
      }
    }
    return old;
  }

  /** Entries with `start <= key < end`, ascending or descending, values read from the log. */
  *range(start: string, end: string, reverse = false): Generator<[string, StoredValue]> {
    if (!(start < end)) return;
    const chunks = this.#chunks;
    if (!reverse) {
      let ci = this.#chunkIndex(start);
      let i = chunks[ci].lowerBound(start);
      for (; ci < chunks.length; ci++, i = 0) {
        const c = chunks[ci];
        for (; i < c.n; i++) {
          if (c.cmp(end, i) <= 0) return;
          yield [c.key(i), this.#stored(c, i)];
        }
      }
    } else {
      let ci = this.#chunkIndex(end);
      let i = chunks[ci].lowerBound(end) - 1;
      for (; ci >= 0; ci--, i = ci >= 0 ? chunks[ci].n - 1 : 0) {
        const c = chunks[ci];
        for (; i >= 0; i--) {
          if (c.cmp(start, i) > 0) return;
          yield [c.key(i), this.#stored(c, i)];
        }
      }
    }
  }

  /** Total key and value bytes of the live entries. */
  bytes(): number {
    let n = 0;
    for (const c of this.#chunks) {
      n += c.used + c.n * c.pre.length;
      for (let i = 0; i < c.n; i++) n += c.u32[2 * i + 1];
    }
    return n;
  }

  /** Every entry in key order, without reading values (the cursor object is reused). */
  *scan(): Generator<IndexCursor> {
    const cur: IndexCursor = { key: new Uint8Array(0), seq: 0, at: 0, len: 0 };
    for (const c of this.#chunks) {
      const pre = binaryToBytes(c.pre);
      for (let i = 0; i < c.n; i++) {
        const s = c.start(i), e = c.u32[2 * i];
        cur.key = new Uint8Array(pre.length + e - s);
        cur.key.set(pre);
        cur.key.set(c.keys.subarray(s, e), pre.length);
        cur.seq = c.f64[2 * i];
        cur.at = c.f64[2 * i + 1];
        cur.len = c.u32[2 * i + 1];
        yield cur;
      }
    }
  }

  /**
   * Switches to another log: `fd`, with the entries' values at `offsets` (in key order, one per
   * entry, as {@link scan} yields them). Synchronous, so no read sees a mix of the two logs.
   */
  relocate(fd: number, offsets: Float64Array): void {
    if (offsets.length !== this.#size) {
      throw new RangeError(`relocate: ${offsets.length} offsets for ${this.#size} entries`);
    }
    let k = 0;
    for (const c of this.#chunks) {
      for (let i = 0; i < c.n; i++) c.f64[2 * i + 1] = offsets[k++];
    }
    this.fd = fd;
  }
}

function checkValue(buf: Uint8Array, off: number, got: number, at: number, len: number): void {
  if (got < len + 4) {
    throw new StorageError(
      "file",
      "read",
      `a value of ${len} bytes at byte ${at} runs past the end of the log`,
    );
  }
  const prefix = (buf[off] | (buf[off + 1] << 8) | (buf[off + 2] << 16) | (buf[off + 3] << 24)) >>> 0;
  if (prefix !== len) {
    throw new StorageError(
      "file",
      "read",
      `the value at byte ${at} has length ${prefix} in the log, ${len} in the index`,
    );
  }
}

/**
 * Reads values in roughly ascending log order through a window (compaction reads every live
 * value; consecutive keys were mostly written together). Checks each value's length prefix.
 *
 * @example
 * ```ts
 * import { ValueScanner } from "./index.ts";
 * import { nodeFs } from "./fs.ts";
 * const scanner = new ValueScanner(nodeFs, -1);
 * console.log(scanner.read(16, 0).length); // 0: an empty value needs no read
 * ```
 */
export class ValueScanner {
  readonly #fs: FsLayer;
  readonly #fd: number;
  #buf = new Uint8Array(0);
  #start = 0;
  #got = 0;

  /** Reads from `fd` through `fs`. */
  constructor(fs: FsLayer, fd: number) {
    this.#fs = fs;
    this.#fd = fd;
  }

  /**
   * The value of `len` bytes at `at`: a view into a window buffer that is never reused, so it stays
   * valid. Throws StorageError as {@link FileIndex.read}.
   */
  read(at: number, len: number): Uint8Array {
    if (len === 0) return new Uint8Array(0);
    const from = at - 4;
    if (from < this.#start || from + len + 4 > this.#start + this.#got) {
      // A new window each time: the values handed out are views into the previous ones.
      this.#buf = new Uint8Array(Math.max(SCAN_WINDOW, len + 4));
      try {
        this.#got = this.#fs.readSync(this.#fd, this.#buf, 0, this.#buf.length, from);
      } catch (e) {
        throw readError(at, e);
      }
      this.#start = from;
    }
    const off = from - this.#start;
    checkValue(this.#buf, off, this.#got - off, at, len);
    return this.#buf.subarray(off + 4, off + 4 + len);
  }
}
