/**
 * The file store's compaction: rewriting the log with only the live entries (write a new file,
 * fsync it, rename it over the log, fsync the directory), and deciding when to run it (on
 * request, or automatically when the log outgrows the live data). The commit pipeline runs it
 * between group writes, so no commit applies meanwhile; reads go on from the old log.
 *
 * @module
 */

import { StoreClosedError } from "../../src/errors.ts";
import { storageError } from "../_kit/errors.ts";
import type { KvState } from "../_kit/state.ts";
import { encodeHeader, HEADER_BYTES, newSalt, SnapshotWriter } from "./format.ts";
import { unlinkIfPresent, writeFully } from "./fs.ts";
import { type FileIndex, ValueScanner } from "./index.ts";
import type { LogFile } from "./types.ts";

/** Size of compaction's snapshot records. */
const SNAPSHOT_CHUNK = 1024 * 1024;

/** When to compact automatically. */
export interface CompactionPolicy {
  /** Compact automatically at all. */
  readonly auto: boolean;
  /** The log must be at least this large. */
  readonly minBytes: number;
  /** ... and more than this many times the live data. */
  readonly ratio: number;
}

/**
 * Compaction requests and the automatic trigger. The pipeline asks {@link Compactor.wanted}
 * between group writes and then runs {@link Compactor.run}.
 */
export class Compactor {
  readonly #policy: CompactionPolicy;
  readonly #name: string;
  #waiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  #due = false;
  #notBefore = 0;
  /** Compactions completed. */
  completed = 0;

  /** A compactor for the store `name` with `policy`. */
  constructor(name: string, policy: CompactionPolicy) {
    this.#name = name;
    this.#policy = policy;
  }

  /** A compaction promise for a caller of `compact()`; the pipeline must be kicked after it. */
  request(): Promise<void> {
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** True when someone waits for a compaction. */
  get requested(): boolean {
    return this.#waiters.length > 0;
  }

  /** True when a compaction should run now (an automatic one not once the store is closing). */
  wanted(closing: boolean): boolean {
    return this.#waiters.length > 0 || (this.#due && !closing);
  }

  /** True when there is work for the pipeline (requested, or automatically due). */
  get pending(): boolean {
    return this.#waiters.length > 0 || this.#due;
  }

  /** After a group write: marks an automatic compaction due when the log outgrew the live data. */
  afterWrite(size: number, liveBytes: number): void {
    const p = this.#policy;
    if (
      p.auto && size >= p.minBytes && size >= this.#notBefore && size > p.ratio * (liveBytes + HEADER_BYTES)
    ) {
      this.#due = true;
    }
  }

  /**
   * Runs one compaction for the current requests (and the automatic trigger) with `rewrite`, then
   * `after` on success; settles the requests. A failed automatic compaction is retried once the log
   * grew by `minBytes`.
   */
  async run(log: LogFile, rewrite: () => Promise<void>, after: () => Promise<void>): Promise<void> {
    const waiters = this.#waiters.splice(0);
    const auto = this.#due;
    this.#due = false;
    try {
      await rewrite();
      this.completed++;
      await after();
      for (const w of waiters) w.resolve();
    } catch (e) {
      if (auto) this.#notBefore = log.size + this.#policy.minBytes;
      for (const w of waiters) w.reject(e);
    }
  }

  /** Rejects every waiting request with `error` (the store closed or broke). */
  rejectAll(error: unknown): void {
    for (const w of this.#waiters.splice(0)) w.reject(error);
  }

  /** Rejects every waiting request because the store closed. */
  closed(): void {
    this.rejectAll(new StoreClosedError(this.#name, "compact"));
  }
}

/**
 * Rewrites the log with the live entries of `state` and switches `log` and the index to it. A
 * crash at any step leaves either the old or the new log, both holding the same data.
 *
 * @throws {StorageError} when a step fails: before the rename the old log stays in use; after it
 *   (the directory fsync) `log.broken` is set, as after a failed fdatasync.
 */
export async function rewriteLog(name: string, log: LogFile, state: KvState<FileIndex>): Promise<void> {
  const fs = log.fs;
  const tmp = log.path + ".compact";
  const wrap = (step: string, e: unknown) => storageError(name, "compact", `${step} ${tmp}`, e);
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
    const writer = new SnapshotWriter(salt, state.seq, SNAPSHOT_CHUNK);
    const put = async (bytes: Uint8Array) => {
      await writeFully(fs, fd, bytes, size);
      size += bytes.length;
    };
    await put(encodeHeader(salt, log.flags));
    // No commit applies while this runs (the pipeline is here), so the index is stable; reads
    // go on meanwhile, from the old log.
    const index = state.map;
    offsets = new Float64Array(index.size);
    let k = 0;
    const putSnapshot = async (rec: Uint8Array) => {
      for (const o of writer.valueOffsets) offsets[k++] = size + o;
      await put(rec);
    };
    const values = new ValueScanner(fs, log.fd);
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
    await fs.rename(tmp, log.path);
  } catch (e) {
    await fs.close(fd).catch(() => {});
    await unlinkIfPresent(fs, tmp).catch(() => {});
    throw wrap("cannot rename", e);
  }
  // The new log is in place: from here on every write must go to it.
  const old = log.fd;
  log.fd = fd;
  state.map.relocate(fd, offsets);
  log.salt = salt;
  log.size = size;
  await fs.close(old).catch(() => {});
  try {
    await fs.fsyncDir(log.dir);
  } catch (e) {
    // The rename may not survive a power loss, and commits written to the new log would then
    // be lost with it: stop acknowledging, as after a failed fdatasync.
    log.broken = wrap("cannot fsync the directory of", e);
    throw log.broken;
  }
}
