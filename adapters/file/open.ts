/**
 * Opening the file store and recovery: checks the options, takes the single-writer lock, creates
 * the log (atomically) or replays it, cuts a torn tail, and holds the space reserve. What it found
 * is the store's {@link FileKvRecovery}.
 *
 * @module
 */

import { dirname, resolve } from "node:path";
import type { StorageError } from "../../src/errors.ts";
import { errorCode, storageError } from "../_kit/errors.ts";
import { KvState } from "../_kit/state.ts";
import { encodeHeader, encodeSnapshotEnd, FLAG_UNSYNCED, newSalt } from "./format.ts";
import { type FsLayer, nodeFs, unlinkIfPresent, writeFully } from "./fs.ts";
import { FileIndex } from "./index.ts";
import { acquireLock, type StoreLock } from "./lock.ts";
import { replayLog } from "./replay.ts";
import { DEFAULT_RESERVE_BYTES, DEFAULT_RESERVE_RETRY_MS, SpaceReserve } from "./reserve.ts";
import type { FileKvOptions, FileKvRecovery, LogFile } from "./types.ts";

/** A replayed, locked log, ready for the store to run on. */
export interface OpenedLog {
  /** The log file (absolute path), its descriptor, salt and valid length. */
  readonly log: LogFile;
  /** The single-writer lock, held. */
  readonly lock: StoreLock;
  /** The replayed state over the log's index. */
  readonly state: KvState<FileIndex>;
  /** What opening found and did. */
  readonly recovery: FileKvRecovery;
  /** The space reserve, held (or disabled). */
  readonly reserve: SpaceReserve;
}

/** Throws TypeError/RangeError for a bad path or option. */
function checkArguments(path: string, options: FileKvOptions): void {
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
}

/**
 * Opens (or creates) the log at `path`: lock, create or replay, cut a torn tail, hold the reserve.
 *
 * @throws {StoreLockedError} when another store has it open.
 * @throws {CorruptionError} when the log is damaged other than at its tail.
 * @throws {StorageError} on an I/O error.
 */
export async function openLog(path: string, options: FileKvOptions): Promise<OpenedLog> {
  checkArguments(path, options);
  const started = performance.now();
  // Absolute, so that two spellings of one path meet in the lock registry.
  path = resolve(path);
  const fs = options.fs ?? nodeFs;
  const fail = (what: string, e: unknown): StorageError => storageError("file", "open", `${what} ${path}`, e);
  const lock = await acquireLock(fs, path, "file");
  let fd = -1;
  try {
    // Leftovers of a crash during compaction or creation: never part of the store.
    for (const leftover of [path + ".compact", path + ".new"]) {
      await unlinkIfPresent(fs, leftover).catch((e) => Promise.reject(fail("cannot remove", e)));
    }
    let created = false;
    try {
      fd = await fs.open(path, "r+");
      // The log's name may not be durable yet: a create or a compaction whose directory fsync
      // failed left it renamed in the page cache only. Commits acknowledged from now on must not
      // vanish with it on a power loss, so the name is synced before anything is acknowledged.
      await fs.fsyncDir(dirname(path)).catch((e) => Promise.reject(fail("cannot sync the directory of", e)));
    } catch (e) {
      if (fd >= 0) throw e;
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
    // The header says how the log is written: FLAG_UNSYNCED is on disk before the first unsynced
    // write, and cleared (under "fsync") only now that the log is a clean, synced prefix.
    const flags = options.durability === "none" ? FLAG_UNSYNCED : 0;
    if (replay.flags !== flags) {
      try {
        await writeFully(fs, fd, encodeHeader(replay.salt, flags), 0);
        await fs.fdatasync(fd);
      } catch (e) {
        throw fail("cannot write the header of", e);
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
    const log: LogFile = {
      fs,
      path,
      dir: dirname(path),
      fd,
      salt: replay.salt,
      flags,
      size: replay.validBytes,
      broken: null,
    };
    return { log, lock, state, recovery, reserve };
  } catch (e) {
    if (fd >= 0) await fs.close(fd).catch(() => {});
    await lock.release();
    throw e;
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
