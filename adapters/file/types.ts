/**
 * The file store's public option and report types, and the log handle its modules share.
 *
 * @module
 */

import type { StorageError } from "../../src/errors.ts";
import type { FsLayer } from "./fs.ts";

/** Options of `FileKv.open`. */
export interface FileKvOptions {
  /**
   * `"fsync"`: a commit resolves after `fdatasync` (durable). `"none"`: after the write reaches
   * the OS (survives a process crash, not power loss; `info.durable` is false; after a power loss
   * any unsynced record may be lost, and the next open keeps the prefix before the first lost one; the
   * header says so, whichever durability the next open asks for).
   * For benchmarks.
   * @default "fsync"
   */
  durability?: "fsync" | "none";
  /** Largest value in bytes. @default 65536 */
  maxValueBytes?: number;
  /** Most mutations per atomic operation. @default 10000 */
  maxMutations?: number;
  /** Compact automatically when the log outgrows the live data. @default true */
  autoCompact?: boolean;
  /** Automatic compaction waits until the log is at least this large. @default 8388608 (8 MiB) */
  compactMinBytes?: number;
  /** Automatic compaction runs when the log is more than this many times the live data (above 1). @default 4 */
  compactRatio?: number;
  /** The file-system layer; tests inject faults through it. @default nodeFs */
  fs?: FsLayer;
  /**
   * Size of the space reserve, a preallocated file `<path>.reserve` next to the log. When a log
   * write fails for lack of space the store frees the reserve and enters low-space mode: it
   * refuses operations marked with `growth()` (new jobs) with `StorageError` code `"ENOSPC"` and
   * goes on writing the others (claims, completions, retries, removals), so stored work can
   * finish. 0 disables the reserve (every commit then fails alike on a full disk).
   * @default 4194304 (4 MiB)
   */
  reserveBytes?: number;
  /**
   * In low-space mode, least milliseconds between two attempts to re-create the reserve (each
   * needs room for twice its size); a compaction also triggers one. Low-space mode ends when one
   * succeeds. @default 1000
   */
  reserveRetryMs?: number;
}

/** What `FileKv.open` found and did. */
export interface FileKvRecovery {
  /** Length of the log file when opened (0 when it was created). */
  readonly fileBytes: number;
  /** Records replayed. */
  readonly records: number;
  /** Commits replayed from the log (entries restored from the compacted snapshot not counted). */
  readonly commits: number;
  /** Live entries after replay. */
  readonly entries: number;
  /** Bytes cut from a torn tail (0 when the log ended cleanly). */
  readonly truncatedBytes: number;
  /** Offset where the torn tail was cut, or null. */
  readonly truncatedAt: number | null;
  /** Why the tail was judged torn, or null. */
  readonly tornReason: string | null;
  /** True when the log file did not exist and was created. */
  readonly created: boolean;
  /** Milliseconds the open took. */
  readonly ms: number;
}

/** Counters of a `FileKv`, for tests and benchmarks. */
export interface FileKvStats {
  /** Log file length in bytes. */
  readonly fileBytes: number;
  /** Estimated bytes the live entries need in a compacted log. */
  readonly liveBytes: number;
  /** Live entries. */
  readonly entries: number;
  /** Commits acknowledged since open. */
  readonly commits: number;
  /** Group writes (records appended) since open. */
  readonly writes: number;
  /** fdatasync calls on the log since open. */
  readonly syncs: number;
  /** Compactions completed since open. */
  readonly compactions: number;
  /** Commits waiting to be written. */
  readonly queued: number;
}

/**
 * The open log file, shared by the commit pipeline (which appends to it) and compaction (which
 * replaces it). Internal to the file store.
 */
export interface LogFile {
  /** The file-system layer. */
  readonly fs: FsLayer;
  /** Path of the log file. */
  readonly path: string;
  /** Its directory (fsynced after a rename). */
  readonly dir: string;
  /** Descriptor of the current log. */
  fd: number;
  /** The current log's salt (every record carries it). */
  salt: number;
  /** The header flags this store writes (FLAG_UNSYNCED under `durability: "none"`). */
  readonly flags: number;
  /** Length of the log's valid, written prefix: the next record goes here. */
  size: number;
  /** Set when a failed sync (or directory fsync) means no further commit may be acknowledged. */
  broken: StorageError | null;
}

/** Estimated snapshot bytes of one entry besides its key and value. */
export const ENTRY_OVERHEAD = 16;
