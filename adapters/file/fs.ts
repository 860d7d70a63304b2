/**
 * The file store's file-system layer: the few operations it needs, as an interface, so tests can
 * inject faults (ENOSPC, EIO, a failing fsync, a crash between two steps) and simulate power loss.
 * {@link nodeFs} implements it over `node:fs`, which Node, Bun and Deno all provide.
 *
 * @module
 */

import * as fs from "node:fs";
import process from "node:process";

/** How {@link FsLayer.open} opens a file. */
export type OpenMode =
  /** Read only; the file must exist. */
  | "r"
  /** Read and write; the file must exist. */
  | "r+"
  /** Read and write; created or truncated. */
  | "w+"
  /** Read and write; created, and fails with `EEXIST` if it exists. */
  | "wx+";

/**
 * The file-system operations the file store uses. Errors are thrown as Node-style errors with a
 * string `code` (`"ENOENT"`, `"EEXIST"`, `"ENOSPC"`, `"EIO"`, ...).
 *
 * @example Count fsyncs by wrapping the default layer
 * ```ts
 * import { type FsLayer, nodeFs } from "./fs.ts";
 * let syncs = 0;
 * const counting: FsLayer = { ...nodeFs, fdatasync: (fd) => (syncs++, nodeFs.fdatasync(fd)) };
 * console.log(typeof counting.fdatasync, syncs);
 * ```
 */
export interface FsLayer {
  /** Opens a file and returns its descriptor. */
  open(path: string, mode: OpenMode): Promise<number>;
  /** Closes a descriptor. */
  close(fd: number): Promise<void>;
  /** Reads up to `length` bytes at `position` into `buffer[offset..]`; returns the count read. */
  read(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): Promise<number>;
  /**
   * Reads synchronously (a positional read that does not move the file position): the file
   * store's index reads values back with it. Returns the count read.
   */
  readSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number;
  /** Writes up to `length` bytes of `buffer[offset..]` at `position`; returns the count written. */
  write(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): Promise<number>;
  /** Flushes the file's data (and the metadata needed to read it) to stable storage. */
  fdatasync(fd: number): Promise<void>;
  /** Sets the file's length. */
  ftruncate(fd: number, length: number): Promise<void>;
  /** The file's current length in bytes. */
  size(fd: number): Promise<number>;
  /** Atomically renames `from` to `to`, replacing `to`. */
  rename(from: string, to: string): Promise<void>;
  /**
   * Makes `to` a second name of the file `from`; fails with `EEXIST` when `to` exists (atomically:
   * of two links to one name exactly one succeeds). The single-writer lock is taken with it.
   */
  link(from: string, to: string): Promise<void>;
  /** Removes a file. */
  unlink(path: string): Promise<void>;
  /** Flushes a directory's entries (creations, renames, removals) to stable storage. */
  fsyncDir(path: string): Promise<void>;
  /** True when a process with this id is running (used to detect stale lock files). */
  processAlive(pid: number): boolean;
  /** This process's id (written into the lock file). */
  readonly pid: number;
}

function call<T>(f: (cb: (err: NodeJS.ErrnoException | null, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => f((err, value) => (err ? reject(err) : resolve(value))));
}

function done(f: (cb: (err: NodeJS.ErrnoException | null) => void) => void): Promise<void> {
  return new Promise((resolve, reject) => f((err) => (err ? reject(err) : resolve())));
}

/**
 * The default {@link FsLayer}, over `node:fs` callbacks (which run on a thread pool, so an
 * fdatasync never blocks the event loop).
 *
 * @example
 * ```ts
 * import { nodeFs } from "./fs.ts";
 * console.log(nodeFs.processAlive(nodeFs.pid)); // true
 * ```
 */
export const nodeFs: FsLayer = {
  open: (path, mode) => call<number>((cb) => fs.open(path, mode, 0o644, cb)),
  close: (fd) => done((cb) => fs.close(fd, cb)),
  read: (fd, buffer, offset, length, position) =>
    call<number>((cb) => fs.read(fd, buffer, offset, length, position, cb)),
  readSync: (fd, buffer, offset, length, position) => fs.readSync(fd, buffer, offset, length, position),
  write: (fd, buffer, offset, length, position) =>
    call<number>((cb) => fs.write(fd, buffer, offset, length, position, cb)),
  fdatasync: (fd) => done((cb) => fs.fdatasync(fd, cb)),
  ftruncate: (fd, length) => done((cb) => fs.ftruncate(fd, length, cb)),
  size: (fd) => call<fs.Stats>((cb) => fs.fstat(fd, cb)).then((st) => st.size),
  rename: (from, to) => done((cb) => fs.rename(from, to, cb)),
  link: (from, to) => done((cb) => fs.link(from, to, cb)),
  unlink: (path) => done((cb) => fs.unlink(path, cb)),
  fsyncDir: async (path) => {
    const fd = await call<number>((cb) => fs.open(path, "r", cb));
    try {
      await done((cb) => fs.fsync(fd, cb));
    } finally {
      await done((cb) => fs.close(fd, cb));
    }
  },
  processAlive: (pid) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch (e) {
      // EPERM: the process exists but belongs to another user.
      return (e as NodeJS.ErrnoException).code === "EPERM";
    }
  },
  pid: process.pid,
};

/**
 * Writes all of `bytes` at `at` (a write may write less than asked); a write that makes no progress
 * fails with code `"EIO"`.
 *
 * @example
 * ```ts
 * import { nodeFs, writeFully } from "./fs.ts";
 * const dir = await Deno.makeTempDir();
 * const fd = await nodeFs.open(`${dir}/f`, "w+");
 * await writeFully(nodeFs, fd, new Uint8Array([1, 2, 3]), 0);
 * console.log(await nodeFs.size(fd)); // 3
 * await nodeFs.close(fd);
 * ```
 */
export async function writeFully(fs: FsLayer, fd: number, bytes: Uint8Array, at: number): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const n = await fs.write(fd, bytes, done, bytes.length - done, at + done);
    if (!(n > 0)) throw Object.assign(new Error(`write returned ${n}`), { code: "EIO" });
    done += n;
  }
}

/**
 * Removes a file; a file that is not there is fine.
 *
 * @example
 * ```ts
 * import { nodeFs, unlinkIfPresent } from "./fs.ts";
 * console.log(await unlinkIfPresent(nodeFs, "/tmp/kvq-surely-not-there")); // undefined: no error
 * ```
 */
export async function unlinkIfPresent(fs: FsLayer, path: string): Promise<void> {
  try {
    await fs.unlink(path);
  } catch (e) {
    if ((e as { code?: unknown } | null)?.code !== "ENOENT") throw e;
  }
}
