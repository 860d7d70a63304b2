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

import { dirname, resolve } from "node:path";
import { LimitError, StorageError, StoreClosedError } from "../../src/errors.ts";
import {
  type AtomicBatch,
  type AtomicOp,
  BufferedAtomicOp,
  formatVersionstamp,
  type KvCommitResult,
  type KvInfo,
} from "../../src/kv.ts";
import { bytesToBinary } from "../_kit/bytes.ts";
import { type AppliedMutation, KvState } from "../_kit/state.ts";
import { StateKv } from "../_kit/state_kv.ts";
import {
  COMMITS_HEADER_BYTES,
  commitValueOffsets,
  encodeCommit,
  encodeCommitsRecord,
  encodeHeader,
  encodeSnapshotEnd,
  HEADER_BYTES,
  MAX_COMMIT_BYTES,
  newSalt,
  SnapshotWriter,
} from "./format.ts";
import { type FsLayer, nodeFs } from "./fs.ts";
import { FileIndex, ValueScanner } from "./index.ts";
import { acquireLock, type StoreLock } from "./lock.ts";
import { replayLog } from "./replay.ts";
import {
  DEFAULT_RESERVE_BYTES,
  DEFAULT_RESERVE_RETRY_MS,
  isSpaceError,
  SpaceReserve,
  type SpaceReserveState,
} from "./reserve.ts";

export { crc32c } from "./crc32c.ts";
export { type FsLayer, nodeFs, type OpenMode } from "./fs.ts";
export type { SpaceReserveState } from "./reserve.ts";

/** Options of {@link FileKv.open}. */
export interface FileKvOptions {
  /**
   * `"fsync"`: a commit resolves after `fdatasync` (durable). `"none"`: after the write reaches
   * the OS (survives a process crash, not power loss; `info.durable` is false; after a power loss
   * several unsynced records may be damaged, and the next open may raise `CorruptionError`).
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

/** What {@link FileKv.open} found and did. */
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

/** Counters of a {@link FileKv}, for tests and benchmarks. */
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

/** Estimated snapshot bytes of one entry besides its key and value. */
const ENTRY_OVERHEAD = 16;
/** A group write stops taking commits past this size (one commit is always taken). */
const GROUP_BYTES = 4 * 1024 * 1024;
/** Size of compaction's snapshot records. */
const SNAPSHOT_CHUNK = 1024 * 1024;

interface Pending {
  readonly batch: AtomicBatch;
  readonly mutations: AppliedMutation[];
  readonly encoded: Uint8Array;
  readonly resolve: (r: KvCommitResult) => void;
  readonly reject: (e: unknown) => void;
}

interface OverlayEntry {
  /** Pending commits writing this key. */
  n: number;
  /** Whether the latest pending write deletes it. */
  deleted: boolean;
}

function errorCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

async function writeFully(fs: FsLayer, fd: number, bytes: Uint8Array, at: number): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const n = await fs.write(fd, bytes, done, bytes.length - done, at + done);
    if (!(n > 0)) throw Object.assign(new Error(`write returned ${n}`), { code: "EIO" });
    done += n;
  }
}

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

  readonly #fs: FsLayer;
  readonly #dir: string;
  readonly #lock: StoreLock;
  readonly #sync: boolean;
  readonly #autoCompact: boolean;
  readonly #compactMinBytes: number;
  readonly #compactRatio: number;
  #fd: number;
  #salt: number;
  /** Length of the log's valid, written prefix: the next record goes here. */
  #size: number;
  #liveBytes = 0;
  #nextSeq: bigint;
  #queue: Pending[] = [];
  #overlay = new Map<string, OverlayEntry>();
  /** A promise settled when every commit queued so far has settled. */
  #tail: Promise<void> = Promise.resolve();
  #running: Promise<void> | null = null;
  #broken: StorageError | null = null;
  #closing: Promise<void> | null = null;
  #compactWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  #autoCompactDue = false;
  #autoCompactNotBefore = 0;
  #stats = { commits: 0, writes: 0, syncs: 0, compactions: 0 };
  /** The space reserve (set by open). */
  #reserve: SpaceReserve | null = null;

  private constructor(
    path: string,
    options: FileKvOptions,
    fs: FsLayer,
    lock: StoreLock,
    fd: number,
    salt: number,
    size: number,
    state: KvState<FileIndex>,
    recovery: FileKvRecovery,
  ) {
    super(state);
    this.path = path;
    this.#fs = fs;
    this.#dir = dirname(path);
    this.#lock = lock;
    this.#fd = fd;
    this.#salt = salt;
    this.#size = size;
    this.#nextSeq = state.seq + 1n;
    this.#sync = (options.durability ?? "fsync") === "fsync";
    this.#autoCompact = options.autoCompact ?? true;
    this.#compactMinBytes = options.compactMinBytes ?? 8 * 1024 * 1024;
    this.#compactRatio = options.compactRatio ?? 4;
    this.recovery = recovery;
    this.info = {
      name: "file",
      maxValueBytes: options.maxValueBytes ?? 65536,
      maxKeyBytes: 2048,
      maxMutations: options.maxMutations ?? 10000,
      maxChecks: 10000,
      scope: "process",
      durable: this.#sync,
      watch: true,
      spaceReserve: (options.reserveBytes ?? DEFAULT_RESERVE_BYTES) > 0,
    };
    this.#liveBytes = state.map.bytes() + state.map.size * ENTRY_OVERHEAD;
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
    if (typeof path !== "string" || path === "") {
      throw new TypeError("Cannot open file store: path must be a non-empty string");
    }
    for (const name of ["reserveBytes", "reserveRetryMs"] as const) {
      const v = options[name];
      if (v !== undefined && !(typeof v === "number" && Number.isSafeInteger(v) && v >= 0)) {
        throw new RangeError(`Cannot open file store: ${name} must be an integer of 0 or more, got ${v}`);
      }
    }
    for (const name of ["maxValueBytes", "maxMutations", "compactMinBytes", "compactRatio"] as const) {
      const v = options[name];
      if (v !== undefined && !(typeof v === "number" && v > 0)) {
        throw new RangeError(`Cannot open file store: ${name} must be a positive number, got ${v}`);
      }
    }
    if (options.compactRatio !== undefined && !(options.compactRatio > 1)) {
      throw new RangeError(
        `Cannot open file store: compactRatio must be above 1 (a compacted log is about the live size), got ${options.compactRatio}`,
      );
    }
    const started = performance.now();
    // Absolute, so that two spellings of one path meet in the lock registry.
    path = resolve(path);
    const fs = options.fs ?? nodeFs;
    const fail = (what: string, e: unknown): StorageError =>
      e instanceof StorageError
        ? e
        : new StorageError("file", "open", `${what} ${path}: ${(e as Error)?.message ?? e}`, {
          cause: e,
          code: errorCode(e),
        });
    const lock = await acquireLock(fs, path, "file");
    let fd = -1;
    try {
      // Leftovers of a crash during compaction or creation: never part of the store.
      await unlinkIfPresent(fs, path + ".compact");
      await unlinkIfPresent(fs, path + ".new");
      let created = false;
      try {
        fd = await fs.open(path, "r+");
      } catch (e) {
        if (errorCode(e) !== "ENOENT") throw fail("cannot open", e);
        fd = await createLog(fs, path).catch((c) => Promise.reject(fail("cannot create", c)));
        created = true;
      }
      let size = await fs.size(fd).catch((e) => Promise.reject(fail("cannot stat", e)));
      if (size === 0 && !created) {
        // An empty file (touched by hand, or created outside kvq): make it an empty store.
        const init = initialBytes(newSalt());
        await writeFully(fs, fd, init, 0).catch((e) => Promise.reject(fail("cannot initialize", e)));
        await fs.fdatasync(fd).catch((e) => Promise.reject(fail("cannot initialize", e)));
        size = init.length;
        created = true;
      }
      const state = new KvState(new FileIndex(fs));
      const replay = await replayLog(fs, fd, size, state, "file", path).catch((e) =>
        Promise.reject(fail("cannot read", e))
      );
      if (replay.validBytes < size) {
        try {
          await fs.ftruncate(fd, replay.validBytes);
          await fs.fdatasync(fd);
        } catch (e) {
          throw fail("cannot truncate the torn tail of", e);
        }
      }
      const recovery: FileKvRecovery = {
        fileBytes: created ? 0 : size,
        records: replay.records,
        commits: replay.commits,
        entries: state.map.size,
        truncatedBytes: size - replay.validBytes,
        truncatedAt: replay.validBytes < size ? replay.validBytes : null,
        tornReason: replay.tornReason,
        created,
        ms: performance.now() - started,
      };
      state.map.fd = fd;
      const reserve = await SpaceReserve.open(
        fs,
        path + ".reserve",
        options.reserveBytes ?? DEFAULT_RESERVE_BYTES,
        options.reserveRetryMs ?? DEFAULT_RESERVE_RETRY_MS,
      ).catch((e) => Promise.reject(fail("cannot write the space reserve", e)));
      const kv = new FileKv(path, options, fs, lock, fd, replay.salt, replay.validBytes, state, recovery);
      kv.#reserve = reserve;
      return kv;
    } catch (e) {
      if (fd >= 0) await fs.close(fd).catch(() => {});
      await lock.release();
      throw e;
    }
  }

  /** {@inheritDoc AtomicKv.atomic} */
  atomic(): AtomicOp {
    return new BufferedAtomicOp(this.info, (batch) => this.#commit(batch));
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
    if (this.closed) return Promise.reject(new StoreClosedError(this.info.name, "compact"));
    if (this.#broken) return Promise.reject(this.#brokenError("compact"));
    return new Promise((resolve, reject) => {
      this.#compactWaiters.push({ resolve, reject });
      this.#kick();
    });
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
    return this.#reserve!.state();
  }

  stats(): FileKvStats {
    return {
      fileBytes: this.#size,
      liveBytes: this.#liveBytes,
      entries: this.state.map.size,
      commits: this.#stats.commits,
      writes: this.#stats.writes,
      syncs: this.#stats.syncs,
      compactions: this.#stats.compactions,
      queued: this.#queue.length,
    };
  }

  /** {@inheritDoc AtomicKv.close} */
  close(): Promise<void> {
    this.#closing ??= this.#doClose();
    return this.#closing;
  }

  async #doClose(): Promise<void> {
    this.closed = true;
    await this.#tail;
    while (this.#running) await this.#running;
    for (const w of this.#compactWaiters.splice(0)) w.reject(new StoreClosedError(this.info.name, "compact"));
    // A list still iterating must not read a descriptor number the OS may hand out again.
    this.state.map.fd = -1;
    try {
      await this.#fs.close(this.#fd);
    } catch {
      // The descriptor is gone either way; the log's durable content does not depend on close.
    } finally {
      await this.#lock.release();
    }
  }

  // -------------------------------------------------------------------------------------------
  // Commit pipeline

  #brokenError(operation: string): StorageError {
    const b = this.#broken!;
    return new StorageError(
      this.info.name,
      operation,
      `the store stopped accepting commits after a failed sync (${b.message}); reopen it to recover`,
      { cause: b, code: b.code },
    );
  }

  /** True when every check holds against the durable state plus the commits queued so far. */
  #checksHold(batch: AtomicBatch): boolean {
    for (const c of batch.checks) {
      const k = bytesToBinary(c.keyBytes);
      const o = this.#overlay.get(k);
      if (o) {
        // A queued write's versionstamp is not known to anyone yet, so only "absent" can match.
        if (!(o.deleted && c.versionstamp === null)) return false;
        continue;
      }
      const seq = this.state.map.seqOf(k);
      if ((seq === undefined ? null : formatVersionstamp(seq)) !== c.versionstamp) return false;
    }
    return true;
  }

  #addOverlay(mutations: readonly AppliedMutation[]): void {
    for (const m of mutations) {
      const o = this.#overlay.get(m.key);
      if (o) {
        o.n++;
        o.deleted = m.value === null;
      } else {
        this.#overlay.set(m.key, { n: 1, deleted: m.value === null });
      }
    }
  }

  #removeOverlay(mutations: readonly AppliedMutation[]): void {
    for (const m of mutations) {
      const o = this.#overlay.get(m.key);
      if (o && --o.n === 0) this.#overlay.delete(m.key);
    }
  }

  #commit(batch: AtomicBatch): Promise<KvCommitResult> {
    if (this.closed) return Promise.reject(new StoreClosedError(this.info.name, "commit"));
    if (this.#broken) return Promise.reject(this.#brokenError("commit"));
    // Low on space: refuse new data at once, unless an attempt to end low-space mode is due (the
    // pipeline makes it before it writes this commit, and refuses it there if it failed).
    if (batch.growth && this.#reserve?.low && !this.#reserve.due()) {
      return Promise.reject(this.#lowSpaceError());
    }
    if (!this.#checksHold(batch)) {
      // Answer after the queued commits settle, so a caller retrying on { ok: false } does not
      // spin while the write that made its check fail is in flight.
      const idle = this.#queue.length === 0 && this.#running === null;
      return idle ? Promise.resolve({ ok: false }) : this.#tail.then(() => ({ ok: false }));
    }
    const mutations = this.state.resolve(batch);
    const encoded = encodeCommit(
      batch.mutations.map((m) => ({ keyBytes: m.keyBytes, value: m.type === "set" ? m.value : null })),
    );
    if (encoded.length > MAX_COMMIT_BYTES) {
      return Promise.reject(new LimitError(this.info.name, "payloadBytes", encoded.length, MAX_COMMIT_BYTES));
    }
    this.#addOverlay(mutations);
    const promise = new Promise<KvCommitResult>((resolve, reject) => {
      this.#queue.push({ batch, mutations, encoded, resolve, reject });
    });
    this.#tail = promise.then(() => {}, () => {});
    this.#kick();
    return promise;
  }

  #kick(): void {
    if (this.#running) return;
    if (this.#queue.length === 0 && this.#compactWaiters.length === 0 && !this.#autoCompactDue) return;
    this.#running = this.#run().finally(() => {
      this.#running = null;
      // Work that arrived while the loop was finishing.
      if (!this.#broken && (this.#queue.length > 0 || this.#compactWaiters.length > 0)) this.#kick();
    });
  }

  async #run(): Promise<void> {
    while (!this.#broken) {
      if (this.#compactWaiters.length > 0 || (this.#autoCompactDue && !this.closed)) {
        await this.#compactStep();
        continue;
      }
      if (this.#queue.length === 0) return;
      await this.#writeGroup(this.#takeGroup());
    }
    // Broken: fail everything that is still waiting.
    for (const p of this.#queue.splice(0)) p.reject(this.#brokenError("commit"));
    this.#overlay.clear();
    for (const w of this.#compactWaiters.splice(0)) w.reject(this.#brokenError("compact"));
  }

  #takeGroup(): Pending[] {
    let bytes = 0;
    let n = 0;
    const q = this.#queue;
    while (n < q.length && (n === 0 || bytes + q[n].encoded.length <= GROUP_BYTES)) {
      bytes += q[n].encoded.length;
      n++;
    }
    return q.splice(0, n);
  }

  async #writeGroup(group: Pending[]): Promise<void> {
    if (this.#reserve?.low) {
      if (this.#reserve.due()) await this.#restoreReserve();
      if (this.#reserve.low && group.some((p) => p.batch.growth)) return this.#refuseGrowth(group);
    }
    const firstSeq = this.#nextSeq;
    this.#nextSeq += BigInt(group.length);
    const record = encodeCommitsRecord(this.#salt, firstSeq, group.map((p) => p.encoded));
    const at = this.#size;
    const fs = this.#fs;
    try {
      await writeFully(fs, this.#fd, record, at);
    } catch (e) {
      // Disk full or an I/O error: cut any partial write so the next record starts clean.
      const error = new StorageError(
        this.info.name,
        "commit",
        `cannot write ${record.length} bytes to ${this.path}: ${(e as Error)?.message ?? e}`,
        { cause: e, code: errorCode(e) },
      );
      try {
        await fs.ftruncate(this.#fd, at);
      } catch (t) {
        this.#broken = new StorageError(
          this.info.name,
          "commit",
          `cannot cut a failed write from ${this.path}: ${(t as Error)?.message ?? t}`,
          { cause: t, code: errorCode(t) },
        );
      }
      // Out of space with the reserve still held: free it (low-space mode) and retry this group,
      // without its new data.
      if (!this.#broken && isSpaceError(error.code) && (await this.#reserve?.release())) {
        return this.#refuseGrowth(group);
      }
      for (const p of group) p.reject(error);
      this.#requeue();
      return;
    }
    if (this.#sync) {
      this.#stats.syncs++;
      try {
        await fs.fdatasync(this.#fd);
      } catch (e) {
        // fsyncgate: after a failed fsync the kernel may have dropped the dirty pages, so nothing
        // written since the last good sync can be trusted. Stop acknowledging until reopened.
        this.#broken = new StorageError(
          this.info.name,
          "commit",
          `fdatasync of ${this.path} failed: ${(e as Error)?.message ?? e}`,
          { cause: e, code: errorCode(e) },
        );
        // Best effort, so that a reopen in this boot does not replay what was reported failed.
        await fs.ftruncate(this.#fd, at).catch(() => {});
        for (const p of group) p.reject(this.#broken);
        return;
      }
    }
    this.#size = at + record.length;
    this.#stats.writes++;
    this.#stats.commits += group.length;
    const index = this.state.map;
    let base = at + COMMITS_HEADER_BYTES;
    for (let i = 0; i < group.length; i++) {
      const { mutations: muts, encoded } = group[i];
      const seq = firstSeq + BigInt(i);
      const offsets = commitValueOffsets(encoded);
      let delta = 0;
      for (let j = 0; j < muts.length; j++) {
        const m = muts[j];
        // One lookup per mutation: put/remove return the replaced value's length (-1: absent).
        const old = m.value
          ? index.put(m.key, Number(seq), base + offsets[j], m.value.length)
          : index.remove(m.key);
        if (old >= 0) delta -= m.key.length + old + ENTRY_OVERHEAD;
        if (m.value) delta += m.key.length + m.value.length + ENTRY_OVERHEAD;
      }
      base += encoded.length;
      this.#liveBytes += delta;
      this.state.seq = seq;
      this.state.notify(muts);
      this.#removeOverlay(muts);
    }
    for (let i = 0; i < group.length; i++) {
      group[i].resolve({ ok: true, versionstamp: formatVersionstamp(firstSeq + BigInt(i)) });
    }
    if (
      this.#autoCompact && this.#size >= this.#compactMinBytes && this.#size >= this.#autoCompactNotBefore &&
      this.#size > this.#compactRatio * (this.#liveBytes + HEADER_BYTES)
    ) {
      this.#autoCompactDue = true;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Low-space mode (adapters/file/reserve.ts)

  #lowSpaceError(): StorageError {
    const r = this.#reserve!.state();
    return new StorageError(
      this.info.name,
      "commit",
      `the store is low on disk space: it refuses new data (operations marked growth) and still writes ` +
        `changes to stored data, until its ${r.bytes}-byte reserve ${this.path}.reserve can be written again ` +
        `(free disk space; it retries at most every ${r.retryMs} ms and after a compaction)`,
      { code: "ENOSPC" },
    );
  }

  /** Refuses the group's growth commits; puts the others back at the head of the queue. */
  #refuseGrowth(group: Pending[]): void {
    const error = this.#lowSpaceError();
    const kept: Pending[] = [];
    for (const p of group) {
      if (p.batch.growth) p.reject(error);
      else kept.push(p);
    }
    this.#queue.unshift(...kept);
    this.#requeue();
  }

  /** Tries to end low-space mode; an I/O error other than a full disk leaves it on. */
  async #restoreReserve(): Promise<void> {
    await this.#reserve!.restore().catch(() => false);
  }

  /** After a failed write: re-evaluate the queued commits' checks without the failed group. */
  #requeue(): void {
    this.#overlay.clear();
    const kept: Pending[] = [];
    for (const p of this.#queue) {
      if (this.#checksHold(p.batch)) {
        this.#addOverlay(p.mutations);
        kept.push(p);
      } else {
        p.resolve({ ok: false });
      }
    }
    this.#queue = kept;
  }

  // -------------------------------------------------------------------------------------------
  // Compaction

  async #compactStep(): Promise<void> {
    const waiters = this.#compactWaiters.splice(0);
    const auto = this.#autoCompactDue;
    this.#autoCompactDue = false;
    try {
      await this.#rewrite();
      this.#stats.compactions++;
      if (this.#reserve?.due(true)) await this.#restoreReserve();
      for (const w of waiters) w.resolve();
    } catch (e) {
      // An automatic compaction that failed is retried once the log grew by compactMinBytes.
      if (auto) this.#autoCompactNotBefore = this.#size + this.#compactMinBytes;
      for (const w of waiters) w.reject(e);
    }
  }

  async #rewrite(): Promise<void> {
    const fs = this.#fs;
    const tmp = this.path + ".compact";
    const wrap = (step: string, e: unknown) =>
      e instanceof StorageError ? e : new StorageError(
        this.info.name,
        "compact",
        `${step} ${tmp}: ${(e as Error)?.message ?? e}`,
        { cause: e, code: errorCode(e) },
      );
    const salt = newSalt();
    let fd: number;
    try {
      fd = await fs.open(tmp, "w+");
    } catch (e) {
      throw wrap("cannot create", e);
    }
    let size = 0;
    let offsets: Float64Array;
    try {
      const seq = this.state.seq;
      const writer = new SnapshotWriter(salt, seq, SNAPSHOT_CHUNK);
      const put = async (bytes: Uint8Array) => {
        await writeFully(fs, fd, bytes, size);
        size += bytes.length;
      };
      await put(encodeHeader(salt));
      // No commit applies while this runs (the pipeline is here), so the index is stable; reads
      // go on meanwhile, from the old log.
      const index = this.state.map;
      offsets = new Float64Array(index.size);
      let k = 0;
      const putSnapshot = async (rec: Uint8Array) => {
        for (const o of writer.valueOffsets) offsets[k++] = size + o;
        await put(rec);
      };
      const values = new ValueScanner(fs, this.#fd);
      for (const e of index.scan()) {
        const rec = writer.add(e.key, BigInt(e.seq), values.read(e.at, e.len));
        if (rec) await putSnapshot(rec);
      }
      const last = writer.flush();
      if (last) await putSnapshot(last);
      if (k !== offsets.length) throw new Error(`wrote ${k} entries of ${offsets.length}`);
      await put(writer.end());
      await fs.fdatasync(fd);
    } catch (e) {
      await fs.close(fd).catch(() => {});
      await unlinkIfPresent(fs, tmp).catch(() => {});
      throw wrap("cannot write", e);
    }
    try {
      await fs.rename(tmp, this.path);
    } catch (e) {
      await fs.close(fd).catch(() => {});
      await unlinkIfPresent(fs, tmp).catch(() => {});
      throw wrap("cannot rename", e);
    }
    // The new log is in place: from here on every write must go to it.
    const old = this.#fd;
    this.#fd = fd;
    this.state.map.relocate(fd, offsets);
    this.#salt = salt;
    this.#size = size;
    await fs.close(old).catch(() => {});
    try {
      await fs.fsyncDir(this.#dir);
    } catch (e) {
      // The rename may not survive a power loss, and commits written to the new log would then
      // be lost with it: stop acknowledging, as after a failed fdatasync.
      this.#broken = wrap("cannot fsync the directory of", e);
      throw this.#broken;
    }
  }
}

async function unlinkIfPresent(fs: FsLayer, path: string): Promise<void> {
  try {
    await fs.unlink(path);
  } catch (e) {
    if (errorCode(e) !== "ENOENT") throw e;
  }
}

/** Header plus an empty snapshot section: the content of a new log. */
function initialBytes(salt: number): Uint8Array {
  const header = encodeHeader(salt);
  const end = encodeSnapshotEnd(salt, 0n, 0, 0);
  const out = new Uint8Array(header.length + end.length);
  out.set(header);
  out.set(end, header.length);
  return out;
}

/** Creates a new log atomically: write a temporary file, fsync, rename, fsync the directory. */
async function createLog(fs: FsLayer, path: string): Promise<number> {
  const tmp = path + ".new";
  const fd = await fs.open(tmp, "w+");
  try {
    await writeFully(fs, fd, initialBytes(newSalt()), 0);
    await fs.fdatasync(fd);
    await fs.rename(tmp, path);
    await fs.fsyncDir(dirname(path));
    return fd;
  } catch (e) {
    await fs.close(fd).catch(() => {});
    await unlinkIfPresent(fs, tmp).catch(() => {});
    throw e;
  }
}
