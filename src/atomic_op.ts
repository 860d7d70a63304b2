/**
 * The shared atomic-operation buffer: {@link BufferedAtomicOp} validates and buffers checks and
 * mutations against a store's declared limits and hands the adapter one {@link AtomicBatch} to
 * apply; {@link formatVersionstamp} formats commit sequence numbers as versionstamps. Part of the
 * AtomicKv contract's toolkit (`src/kv.ts` re-exports it).
 *
 * @module
 */

import { LimitError, StorageError } from "./errors.ts";
import type { AtomicOp, KvCommitResult, KvInfo, KvKey } from "./kv.ts";
import { binaryKeyBytes, encodeKeyBinary } from "./key_codec.ts";

/**
 * Formats a commit sequence number as a versionstamp: 20 hex digits, so versionstamps compare
 * as strings in commit order.
 *
 * @example
 * ```ts
 * import { formatVersionstamp } from "./kv.ts";
 * console.log(formatVersionstamp(1n)); // "00000000000000000001"
 * ```
 */
export function formatVersionstamp(seq: bigint | number): string {
  // Stores format the same few recent seqs over and over (a check and a read of each key a
  // commit wrote): the last two are kept.
  if (seq === lastSeq[0]) return lastStamp[0];
  if (seq === lastSeq[1]) return lastStamp[1];
  const stamp = BigInt(seq).toString(16).padStart(20, "0");
  lastSeq[1] = lastSeq[0];
  lastStamp[1] = lastStamp[0];
  lastSeq[0] = seq;
  lastStamp[0] = stamp;
  return stamp;
}

const lastSeq: (bigint | number | undefined)[] = [undefined, undefined];
const lastStamp: string[] = ["", ""];

// ---------------------------------------------------------------------------------------------
// The shared atomic-operation buffer.

/** A check in an {@link AtomicBatch}. */
export interface BatchCheck {
  /** The key. */
  readonly key: KvKey;
  /** Its encoded bytes. */
  readonly keyBytes: Uint8Array;
  /**
   * Its encoded bytes as a binary string ({@link encodeKeyBinary}), when the batch carries it
   * ({@link BufferedAtomicOp} always does; it then builds `keyBytes` only when an adapter reads it).
   */
  readonly keyBinary?: string;
  /** Required versionstamp, `null` for "must not exist". */
  readonly versionstamp: string | null;
}

/** A mutation in an {@link AtomicBatch}. */
export type BatchMutation =
  | {
    readonly type: "set";
    readonly key: KvKey;
    readonly keyBytes: Uint8Array;
    /** As in {@link BatchCheck.keyBinary}. */
    readonly keyBinary?: string;
    readonly value: Uint8Array;
  }
  | {
    readonly type: "delete";
    readonly key: KvKey;
    readonly keyBytes: Uint8Array;
    /** As in {@link BatchCheck.keyBinary}. */
    readonly keyBinary?: string;
  };

/** Values up to this size share slabs ({@link BufferedAtomicOp}); larger ones get their own buffer. */
const SLAB_MAX = 16384;

/** The copy of every empty value: nothing in it can change, so one serves all. */
const EMPTY: Uint8Array = Object.freeze(new Uint8Array(0)) as Uint8Array;

/**
 * A buffered check or mutation: the key encoded once, as a binary string; the bytes are built on
 * first read (byte-storing adapters read them, in-memory ones never do).
 */
class BufferedEntry {
  readonly type: "set" | "delete" | "check";
  readonly key: KvKey;
  readonly keyBinary: string;
  readonly value: Uint8Array | undefined;
  readonly versionstamp: string | null;
  #bytes: Uint8Array | undefined = undefined;
  constructor(
    type: "set" | "delete" | "check",
    key: KvKey,
    keyBinary: string,
    value: Uint8Array | undefined,
    versionstamp: string | null,
  ) {
    this.type = type;
    this.key = key;
    this.keyBinary = keyBinary;
    this.value = value;
    this.versionstamp = versionstamp;
  }
  get keyBytes(): Uint8Array {
    return this.#bytes ??= binaryKeyBytes(this.keyBinary);
  }
}

/** A validated atomic operation, handed to an adapter's commit function. */
export interface AtomicBatch {
  /** The checks, in call order. */
  readonly checks: readonly BatchCheck[];
  /** The mutations, in call order (a later one on the same key wins). */
  readonly mutations: readonly BatchMutation[];
  /** True when the operation was marked with {@link AtomicOp.growth}. */
  readonly growth?: boolean;
  /** True when the operation was marked with {@link AtomicOp.relaxed}. */
  readonly relaxed?: boolean;
}

/**
 * An {@link AtomicOp} that buffers and validates checks and mutations against the store's
 * declared limits, then hands the batch to the adapter. Adapters share it so that limits and
 * key validation behave the same everywhere.
 *
 * @example
 * ```ts
 * import { BufferedAtomicOp } from "./kv.ts";
 * const info = { name: "demo", maxValueBytes: 16, maxKeyBytes: 64, maxMutations: 10, maxChecks: 10,
 *   scope: "process", durable: false, watch: false } as const;
 * const op = new BufferedAtomicOp(info, (batch) => Promise.resolve({ ok: true, versionstamp: String(batch.mutations.length) }));
 * console.log(await op.set(["k"], new Uint8Array(1)).commit());
 * ```
 */
export class BufferedAtomicOp implements AtomicOp {
  readonly #info: KvInfo;
  readonly #apply: (batch: AtomicBatch) => Promise<KvCommitResult>;
  readonly #checks: BatchCheck[] = [];
  readonly #mutations: BatchMutation[] = [];
  #error: unknown = undefined;
  #committed = false;
  #growth = false;
  #relaxed = false;
  #slab: Uint8Array | undefined = undefined;
  #slabUsed = 0;

  /** Creates the buffer; `apply` runs the validated batch. */
  constructor(info: KvInfo, apply: (batch: AtomicBatch) => Promise<KvCommitResult>) {
    this.#info = info;
    this.#apply = apply;
  }

  #key(key: KvKey): string {
    const s = encodeKeyBinary(key);
    if (s.length > this.#info.maxKeyBytes) {
      this.#error ??= new LimitError(this.#info.name, "keyBytes", s.length, this.#info.maxKeyBytes);
    }
    return s;
  }

  /** {@inheritDoc AtomicOp.check} */
  check(key: KvKey, versionstamp: string | null): this {
    if (versionstamp !== null && typeof versionstamp !== "string") {
      throw new TypeError("Invalid check: versionstamp must be a string or null");
    }
    this.#checks.push(new BufferedEntry("check", key, this.#key(key), undefined, versionstamp));
    return this;
  }

  /**
   * A copy of `value` carved from this operation's slab: one ArrayBuffer serves many small values
   * (a new ArrayBuffer per value is what makes copies slow on Node). Slabs grow geometrically from
   * 512 bytes, so a store that keeps a value keeps at most about twice the operation's bytes.
   */
  #copy(value: Uint8Array): Uint8Array {
    const n = value.length;
    if (n === 0) return EMPTY;
    if (n > SLAB_MAX) {
      const own = new Uint8Array(n);
      own.set(value);
      return own;
    }
    let slab = this.#slab;
    if (slab === undefined || this.#slabUsed + n > slab.length) {
      slab = this.#slab = new Uint8Array(Math.min(SLAB_MAX, Math.max(n, 2 * (slab?.length ?? 256))));
      this.#slabUsed = 0;
    }
    const copy = slab.subarray(this.#slabUsed, this.#slabUsed + n);
    copy.set(value);
    this.#slabUsed += n;
    return copy;
  }

  /** {@inheritDoc AtomicOp.set} */
  set(key: KvKey, value: Uint8Array): this {
    if (!(value instanceof Uint8Array)) throw new TypeError("Invalid value: expected a Uint8Array");
    if (value.length > this.#info.maxValueBytes) {
      this.#error ??= new LimitError(this.#info.name, "valueBytes", value.length, this.#info.maxValueBytes);
    }
    const copy = this.#copy(value);
    const entry = new BufferedEntry("set", key, this.#key(key), copy, null);
    this.#mutations.push(entry as BatchMutation);
    return this;
  }

  /** {@inheritDoc AtomicOp.delete} */
  delete(key: KvKey): this {
    this.#mutations.push(new BufferedEntry("delete", key, this.#key(key), undefined, null) as BatchMutation);
    return this;
  }

  /** {@inheritDoc AtomicOp.growth} */
  growth(): this {
    this.#growth = true;
    return this;
  }

  /** {@inheritDoc AtomicOp.relaxed} */
  relaxed(): this {
    this.#relaxed = true;
    return this;
  }

  /** {@inheritDoc AtomicOp.commit} */
  commit(): Promise<KvCommitResult> {
    if (this.#committed) {
      return Promise.reject(new TypeError("Invalid atomic operation: commit() was already called"));
    }
    this.#committed = true;
    const info = this.#info;
    if (this.#error) return Promise.reject(this.#error);
    if (this.#mutations.length > info.maxMutations) {
      return Promise.reject(
        new LimitError(info.name, "mutations", this.#mutations.length, info.maxMutations),
      );
    }
    if (this.#checks.length > info.maxChecks) {
      return Promise.reject(new LimitError(info.name, "checks", this.#checks.length, info.maxChecks));
    }
    try {
      const batch: { -readonly [K in keyof AtomicBatch]: AtomicBatch[K] } = {
        checks: this.#checks,
        mutations: this.#mutations,
      };
      if (this.#growth) batch.growth = true;
      if (this.#relaxed) batch.relaxed = true;
      return this.#apply(batch);
    } catch (e) {
      return Promise.reject(
        e instanceof StorageError ? e : new StorageError(info.name, "commit", String(e), { cause: e }),
      );
    }
  }
}
