/**
 * Typed errors. A class exists only for what callers catch; bad arguments throw
 * `TypeError` or `RangeError`. Every message says what failed and why.
 *
 * @module
 */

/** Options shared by every kvq error. */
export interface KvqErrorOptions {
  /** The underlying error, if any. */
  cause?: unknown;
}

/**
 * Base class of every error kvq throws on purpose.
 *
 * @example Catch any kvq error
 * ```ts
 * import { KvqError } from "./errors.ts";
 * try {
 *   throw new KvqError("boom");
 * } catch (e) {
 *   if (e instanceof KvqError) console.log(e.name, e.message);
 * }
 * ```
 */
export class KvqError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: KvqErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * A storage backend failed (I/O error, disk full, connection lost, store closed).
 * The commit that raised it changed nothing; the store stays usable for reads.
 *
 * @example
 * ```ts
 * import { StorageError } from "./errors.ts";
 * const e = new StorageError("memory", "commit", "store is closed");
 * console.log(e.message); // "memory: commit failed: store is closed"
 * ```
 */
export class StorageError extends KvqError {
  /** The adapter that failed, e.g. `"file"`. */
  readonly adapter: string;
  /** The operation that failed, e.g. `"commit"`. */
  readonly operation: string;
  /** A machine-readable code such as `"ENOSPC"`, when known. */
  readonly code: string | undefined;
  /** Creates the error. */
  constructor(
    adapter: string,
    operation: string,
    reason: string,
    options?: KvqErrorOptions & { code?: string },
  ) {
    super(`${adapter}: ${operation} failed: ${reason}`, options);
    this.adapter = adapter;
    this.operation = operation;
    this.code = options?.code;
  }
}

/**
 * The store was closed; no operation can run on it any more.
 *
 * @example
 * ```ts
 * import { StoreClosedError } from "./errors.ts";
 * console.log(new StoreClosedError("memory", "get").message);
 * ```
 */
export class StoreClosedError extends StorageError {
  /** Creates the error. */
  constructor(adapter: string, operation: string) {
    super(adapter, operation, "the store is closed", { code: "CLOSED" });
  }
}

/**
 * Stored data failed an integrity check (bad checksum, impossible length) somewhere other than
 * a torn tail. kvq never skips such data silently.
 *
 * @example
 * ```ts
 * import { CorruptionError } from "./errors.ts";
 * const e = new CorruptionError("file", "open", "record 12 at offset 4096 has a bad CRC", { offset: 4096 });
 * console.log(e.offset); // 4096
 * ```
 */
export class CorruptionError extends StorageError {
  /** Byte offset of the damage, when known. */
  readonly offset: number | undefined;
  /** Creates the error. */
  constructor(
    adapter: string,
    operation: string,
    reason: string,
    options?: KvqErrorOptions & { offset?: number },
  ) {
    super(adapter, operation, reason, { ...options, code: "CORRUPT" });
    this.offset = options?.offset;
  }
}

/** What a {@link LimitError} measured. */
export type LimitKind = "keyBytes" | "valueBytes" | "mutations" | "checks" | "payloadBytes";

/**
 * A declared limit was exceeded. Nothing was stored.
 *
 * @example
 * ```ts
 * import { LimitError } from "./errors.ts";
 * const e = new LimitError("memory", "valueBytes", 70000, 65536);
 * console.log(e.message); // "memory: value is 70000 bytes, the limit is 65536"
 * ```
 */
export class LimitError extends KvqError {
  /** The adapter (or `"queue"`) whose limit was hit. */
  readonly adapter: string;
  /** What was measured. */
  readonly kind: LimitKind;
  /** The measured amount. */
  readonly actual: number;
  /** The declared limit. */
  readonly limit: number;
  /** Creates the error. */
  constructor(adapter: string, kind: LimitKind, actual: number, limit: number, options?: KvqErrorOptions) {
    super(`${adapter}: ${LIMIT_WORDS[kind](actual)}, the limit is ${limit}`, options);
    this.adapter = adapter;
    this.kind = kind;
    this.actual = actual;
    this.limit = limit;
  }
}

const LIMIT_WORDS: Record<LimitKind, (n: number) => string> = {
  keyBytes: (n) => `key is ${n} bytes`,
  valueBytes: (n) => `value is ${n} bytes`,
  mutations: (n) => `atomic operation has ${n} mutations`,
  checks: (n) => `atomic operation has ${n} checks`,
  payloadBytes: (n) => `payload is ${n} bytes`,
};

/**
 * The store is already open by another writer (in this process or another one). Stores that
 * allow one writer (the file store) raise it on open; close the other store first.
 *
 * @example
 * ```ts
 * import { StoreLockedError } from "./errors.ts";
 * const e = new StoreLockedError("file", "/data/jobs.kvq", 4242);
 * console.log(e.code, e.pid); // "LOCKED" 4242
 * ```
 */
export class StoreLockedError extends StorageError {
  /** The store's path. */
  readonly path: string;
  /** The process holding the lock, when known. */
  readonly pid: number | undefined;
  /** Creates the error. */
  constructor(adapter: string, path: string, pid: number | undefined, options?: KvqErrorOptions) {
    super(
      adapter,
      "open",
      `${path} is already open for writing by ${
        pid === undefined ? "another store" : `process ${pid}`
      } (lock file ${path}.lock); close that store first, or delete the lock file if that process is gone`,
      { ...options, code: "LOCKED" },
    );
    this.path = path;
    this.pid = pid;
  }
}

/**
 * An operation did not finish in time. Thrown by `deadline()` when the promise it watches has not
 * settled after the given number of ms.
 *
 * @example
 * ```ts
 * import { TimeoutError } from "./errors.ts";
 * const e = new TimeoutError("Job handler timed out", 30_000);
 * console.log(e.name, e.ms); // "TimeoutError" 30000
 * ```
 */
export class TimeoutError extends KvqError {
  /** The time limit that was exceeded, in ms. */
  readonly ms: number;
  /** Creates the error; the message gains " after <ms> ms". */
  constructor(message: string, ms: number, options?: KvqErrorOptions) {
    super(`${message} after ${ms} ms`, options);
    this.ms = ms;
  }
}
