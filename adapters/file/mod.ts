/**
 * The file store: a durable AtomicKv in one append-only log file, over `node:fs` (so it runs on
 * Node, Bun and Deno). Every commit is a CRC-32C-checked record; a commit resolves only after
 * `fdatasync`, and concurrent commits share one write and one fsync (group commit). On open the
 * log is replayed into memory: a torn tail (an incomplete last write) is truncated and reported
 * in {@link FileKv.recovery}; damage anywhere else raises `CorruptionError`. The log is compacted
 * (live entries written to a new file, fsynced, renamed over the old one, directory fsynced)
 * when it grows well past the live data, or on {@link FileKv.compact}. One writer at a time: a
 * second open, in this process or another, fails with `StoreLockedError`.
 *
 * The keys live in memory, in an index that also holds each entry's versionstamp and where its
 * value lies in the log; values stay on disk and are read back when a read needs them (an empty
 * value needs no read). About the key bytes plus 24 bytes per entry, so it suits queues and
 * state up to tens of millions of entries.
 *
 * @example Open, write, reopen
 * ```ts
 * import { FileKv } from "@kvq/kvq/file";
 * const dir = await Deno.makeTempDir();
 * let kv = await FileKv.open(`${dir}/jobs.kvq`);
 * await kv.atomic().set(["job", 1], new TextEncoder().encode("hello")).commit();
 * await kv.close();
 * kv = await FileKv.open(`${dir}/jobs.kvq`);
 * console.log(new TextDecoder().decode((await kv.get(["job", 1]))!.value)); // "hello"
 * await kv.close();
 * ```
 *
 * @module
 */

import { type AtomicOp, BufferedAtomicOp, type KvInfo } from "../../src/kv.ts";
import { StateKv } from "../_kit/state_kv.ts";
import { Compactor } from "./compaction.ts";
import type { FileIndex } from "./index.ts";
import type { StoreLock } from "./lock.ts";
import { LowSpaceMode } from "./low_space.ts";
import { type OpenedLog, openLog } from "./open.ts";
import { CommitPipeline } from "./pipeline.ts";
import { DEFAULT_RESERVE_BYTES, type SpaceReserveState } from "./reserve.ts";
import type { FileKvOptions, FileKvRecovery, FileKvStats, LogFile } from "./types.ts";

export { type FsLayer, nodeFs, type OpenMode } from "./fs.ts";
export type { SpaceReserveState } from "./reserve.ts";
export type { FileKvOptions, FileKvRecovery, FileKvStats } from "./types.ts";
// FileKv is a StateKv over this index; a type only, for its docs (the index is not for direct use).
export type { FileIndex, IndexCursor } from "./index.ts";

/**
 * A durable AtomicKv in one append-only log file. Open it with {@link FileKv.open}.
 *
 * Reads are served from memory and see only durable commits. Checks of a commit see the
 * commits queued before it (written or not), so concurrent commits are serialized exactly as if
 * they ran one by one, while sharing fsyncs.
 *
 * @example Group commit: eight concurrent commits share fsyncs
 * ```ts
 * import { FileKv } from "@kvq/kvq/file";
 * const dir = await Deno.makeTempDir();
 * const kv = await FileKv.open(`${dir}/store.kvq`);
 * await Promise.all(
 *   Array.from({ length: 8 }, (_, i) => kv.atomic().set(["n", i], new Uint8Array([i])).commit()),
 * );
 * console.log(kv.stats().commits, kv.stats().syncs); // 8, and at most 8 fsyncs
 * await kv.close();
 * ```
 */
export class FileKv extends StateKv<FileIndex> {
  /** {@inheritDoc AtomicKv.info} */
  readonly info: KvInfo;
  /** Path of the log file. */
  readonly path: string;
  /** What opening the store found: records replayed, bytes cut from a torn tail. */
  readonly recovery: FileKvRecovery;

  readonly #log: LogFile;
  readonly #lock: StoreLock;
  readonly #lowSpace: LowSpaceMode;
  readonly #compactor: Compactor;
  readonly #pipeline: CommitPipeline;
  #closing: Promise<void> | null = null;

  private constructor(opened: OpenedLog, options: FileKvOptions) {
    super(opened.state);
    const { log, lock, reserve, recovery } = opened;
    this.path = log.path;
    this.#log = log;
    this.#lock = lock;
    this.recovery = recovery;
    const sync = (options.durability ?? "fsync") === "fsync";
    this.info = {
      name: "file",
      maxValueBytes: options.maxValueBytes ?? 65536,
      maxKeyBytes: 2048,
      maxMutations: options.maxMutations ?? 10000,
      maxChecks: 10000,
      scope: "process",
      durable: sync,
      watch: true,
      spaceReserve: (options.reserveBytes ?? DEFAULT_RESERVE_BYTES) > 0,
    };
    this.#lowSpace = new LowSpaceMode(reserve, this.info.name, log.path);
    this.#compactor = new Compactor(this.info.name, {
      auto: options.autoCompact ?? true,
      minBytes: options.compactMinBytes ?? 8 * 1024 * 1024,
      ratio: options.compactRatio ?? 4,
    });
    this.#pipeline = new CommitPipeline(
      this.info.name,
      log,
      opened.state,
      sync,
      this.#lowSpace,
      this.#compactor,
      () => this.closed,
    );
  }

  /**
   * Opens (or creates) the store whose log is the file at `path`. The directory must exist.
   * Takes the single-writer lock (`path + ".lock"`), replays the log, truncates a torn tail.
   *
   * @param path The log file, e.g. `"./data/jobs.kvq"`.
   * @param options Durability, limits, compaction, and the file-system layer.
   * @returns The open store.
   * @throws {StoreLockedError} when another store (in this process or another) has it open.
   * @throws {CorruptionError} when the log is damaged other than at its tail.
   * @throws {StorageError} on an I/O error.
   *
   * @example Open a store in a temporary directory
   * ```ts
   * import { FileKv } from "@kvq/kvq/file";
   * const dir = await Deno.makeTempDir();
   * const kv = await FileKv.open(`${dir}/jobs.kvq`);
   * console.log(kv.info.durable, kv.recovery.created); // true true
   * await kv.close();
   * ```
   */
  static async open(path: string, options: FileKvOptions = {}): Promise<FileKv> {
    return new FileKv(await openLog(path, options), options);
  }

  /** {@inheritDoc AtomicKv.atomic} */
  atomic(): AtomicOp {
    return new BufferedAtomicOp(this.info, (batch) => this.#pipeline.commit(batch));
  }

  /**
   * Rewrites the log with only the live entries (write a new file, fsync it, rename it over the
   * log, fsync the directory). Commits queue meanwhile. A crash at any step leaves either the old
   * or the new log, both holding the same data.
   *
   * @returns Resolves when the compacted log is in place.
   * @throws {StorageError} when a step fails (the store keeps the old log and stays usable,
   *   unless the failure came after the rename, which stops commits as a failed fsync does).
   *
   * @example
   * ```ts
   * import { FileKv } from "@kvq/kvq/file";
   * const dir = await Deno.makeTempDir();
   * const kv = await FileKv.open(`${dir}/store.kvq`);
   * for (let i = 0; i < 10; i++) await kv.atomic().set(["counter"], new Uint8Array([i])).commit();
   * await kv.compact();
   * console.log(kv.stats().fileBytes < 200); // true
   * await kv.close();
   * ```
   */
  compact(): Promise<void> {
    return this.#pipeline.compact();
  }

  /**
   * The space reserve: its size, whether it is held, and whether the store is in low-space mode
   * (refusing operations marked with `growth()`).
   *
   * @returns A snapshot of the reserve's state.
   *
   * @example
   * ```ts
   * import { FileKv } from "@kvq/kvq/file";
   * const dir = await Deno.makeTempDir();
   * const kv = await FileKv.open(`${dir}/store.kvq`, { reserveBytes: 65536 });
   * console.log(kv.spaceReserve().held, kv.spaceReserve().low); // true false
   * await kv.close();
   * ```
   */
  spaceReserve(): SpaceReserveState {
    return this.#lowSpace.state();
  }

  /**
   * Counters: file and live sizes, commits, group writes, fsyncs, compactions.
   *
   * @returns A snapshot of the counters.
   *
   * @example
   * ```ts
   * import { FileKv } from "@kvq/kvq/file";
   * const dir = await Deno.makeTempDir();
   * const kv = await FileKv.open(`${dir}/store.kvq`);
   * console.log(kv.stats().entries); // 0
   * await kv.close();
   * ```
   */
  stats(): FileKvStats {
    const c = this.#pipeline.counters;
    return {
      fileBytes: this.#log.size,
      liveBytes: this.#pipeline.liveBytes,
      entries: this.state.map.size,
      commits: c.commits,
      writes: c.writes,
      syncs: c.syncs,
      compactions: this.#compactor.completed,
      queued: this.#pipeline.queued,
    };
  }

  /** {@inheritDoc AtomicKv.close} */
  close(): Promise<void> {
    this.#closing ??= this.#doClose();
    return this.#closing;
  }

  async #doClose(): Promise<void> {
    this.closed = true;
    await this.#pipeline.drain();
    // A list still iterating must not read a descriptor number the OS may hand out again.
    this.state.map.fd = -1;
    try {
      await this.#log.fs.close(this.#log.fd);
    } catch {
      // The descriptor is gone either way; the log's durable content does not depend on close.
    } finally {
      await this.#lock.release();
    }
  }
}
