/**
 * The file store's space reserve: a preallocated file next to the log (`<log>.reserve`), written
 * with real (random, so incompressible) bytes and fdatasync'd, that the store gives back to the
 * file system when a log write fails for lack of space. With that room the store goes on
 * accepting commits that move, finish or remove stored data (so queued and in-flight jobs still
 * complete) while it refuses new data ("low-space mode"). It leaves low-space mode once it can
 * write the reserve again, with as much headroom to spare.
 *
 * @module
 */

import { errorCode } from "../_kit/errors.ts";
import { type FsLayer, unlinkIfPresent, writeFully } from "./fs.ts";

/** Default size of the reserve file: 4 MiB. */
export const DEFAULT_RESERVE_BYTES: number = 4 * 1024 * 1024;
/** Default least time between two attempts to re-create a released reserve: 1 second. */
export const DEFAULT_RESERVE_RETRY_MS: number = 1000;

/** Bytes written per call while filling the reserve. */
const FILL_CHUNK = 1024 * 1024;

/**
 * True for the error codes of a full disk or an exhausted quota.
 *
 * @param code A Node-style error code.
 * @returns Whether it means "no space left".
 *
 * @example
 * ```ts
 * import { isSpaceError } from "./reserve.ts";
 * console.log(isSpaceError("ENOSPC"), isSpaceError("EIO")); // true false
 * ```
 */
export function isSpaceError(code: string | undefined): boolean {
  return code === "ENOSPC" || code === "EDQUOT";
}

/** What a {@link SpaceReserve} reports about itself. */
export interface SpaceReserveState {
  /** Configured size of the reserve in bytes (0: disabled). */
  readonly bytes: number;
  /** Least milliseconds between two attempts to re-create a released reserve. */
  readonly retryMs: number;
  /** True while the reserve file is in place at full size. */
  readonly held: boolean;
  /** True in low-space mode: the reserve was released (or could not be written) and not re-created yet. */
  readonly low: boolean;
  /** Times the reserve was released since open. */
  readonly releases: number;
  /** Times the reserve was re-created after a release since open. */
  readonly restores: number;
}

/**
 * A preallocated reserve file and the low-space mode it drives. The file store owns one; every
 * method is called from the store's commit pipeline, one at a time, never concurrently with a log
 * write.
 *
 * @example Hold a 64 KiB reserve next to a log, release it, re-create it
 * ```ts
 * import { nodeFs } from "./fs.ts";
 * import { SpaceReserve } from "./reserve.ts";
 * const dir = await Deno.makeTempDir();
 * const reserve = await SpaceReserve.open(nodeFs, `${dir}/jobs.kvq.reserve`, 64 * 1024, 0);
 * console.log(reserve.state().held); // true
 * await reserve.release();
 * console.log(reserve.low); // true
 * await reserve.restore();
 * console.log(reserve.low); // false
 * ```
 */
export class SpaceReserve {
  /** Path of the reserve file. */
  readonly path: string;
  readonly #fs: FsLayer;
  readonly #bytes: number;
  readonly #retryMs: number;
  #held = false;
  #low = false;
  #lastTry = -Infinity;
  #releases = 0;
  #restores = 0;

  private constructor(fs: FsLayer, path: string, bytes: number, retryMs: number) {
    this.#fs = fs;
    this.path = path;
    this.#bytes = bytes;
    this.#retryMs = retryMs;
  }

  /**
   * Takes the reserve at open: keeps a reserve file of the right size, else (re)writes it. When
   * the disk has no room for it, opening still succeeds, in low-space mode (a store must open on
   * a full disk, or it could never drain). With `bytes` 0 the reserve is disabled and a leftover
   * reserve file is removed.
   *
   * @param fs The file-system layer.
   * @param path The reserve file, `<log>.reserve`.
   * @param bytes Its size (0 disables the reserve).
   * @param retryMs Least time between two attempts to re-create it once released.
   * @returns The reserve.
   * @throws {Error} an I/O error other than a full disk (the caller wraps it).
   *
   * @example
   * ```ts
   * import { nodeFs } from "./fs.ts";
   * import { SpaceReserve } from "./reserve.ts";
   * const dir = await Deno.makeTempDir();
   * const r = await SpaceReserve.open(nodeFs, `${dir}/x.reserve`, 0, 1000);
   * console.log(r.state().bytes); // 0: disabled
   * ```
   */
  static async open(fs: FsLayer, path: string, bytes: number, retryMs: number): Promise<SpaceReserve> {
    const r = new SpaceReserve(fs, path, bytes, retryMs);
    if (bytes === 0) {
      await unlinkIfPresent(fs, path);
      return r;
    }
    let fd = -1;
    try {
      fd = await fs.open(path, "r+");
      if ((await fs.size(fd)) === bytes) r.#held = true;
    } catch (e) {
      if (errorCode(e) !== "ENOENT") throw e;
    } finally {
      if (fd >= 0) await fs.close(fd).catch(() => {});
    }
    if (!r.#held) {
      r.#held = await r.#fill(0);
      r.#low = !r.#held;
      if (r.#low) r.#lastTry = performance.now();
    }
    return r;
  }

  /** True in low-space mode (only while the reserve is enabled). */
  get low(): boolean {
    return this.#low;
  }

  /**
   * A snapshot of the reserve's state.
   *
   * @returns Size, whether it is held, low-space mode, releases and restores.
   *
   * @example
   * ```ts
   * import { nodeFs } from "./fs.ts";
   * import { SpaceReserve } from "./reserve.ts";
   * const dir = await Deno.makeTempDir();
   * const r = await SpaceReserve.open(nodeFs, `${dir}/x.reserve`, 4096, 1000);
   * console.log(r.state()); // { bytes: 4096, retryMs: 1000, held: true, low: false, releases: 0, restores: 0 }
   * ```
   */
  state(): SpaceReserveState {
    return {
      bytes: this.#bytes,
      retryMs: this.#retryMs,
      held: this.#held,
      low: this.#low,
      releases: this.#releases,
      restores: this.#restores,
    };
  }

  /**
   * Called when a log write failed for lack of space: enters low-space mode and gives the
   * reserve's space back to the file system.
   *
   * @returns True when space was freed (so the failed write is worth retrying).
   *
   * @example
   * ```ts
   * import { nodeFs } from "./fs.ts";
   * import { SpaceReserve } from "./reserve.ts";
   * const dir = await Deno.makeTempDir();
   * const r = await SpaceReserve.open(nodeFs, `${dir}/x.reserve`, 4096, 1000);
   * console.log(await r.release(), await r.release()); // true false
   * ```
   */
  async release(): Promise<boolean> {
    if (this.#bytes === 0) return false;
    this.#low = true;
    this.#lastTry = performance.now();
    if (!this.#held) return false;
    this.#held = false;
    this.#releases++;
    try {
      await this.#fs.unlink(this.path);
      return true;
    } catch {
      // Unlinking failed: cut the file to nothing instead, which frees its blocks as well.
      let fd = -1;
      try {
        fd = await this.#fs.open(this.path, "r+");
        await this.#fs.ftruncate(fd, 0);
        return true;
      } catch {
        return false;
      } finally {
        if (fd >= 0) await this.#fs.close(fd).catch(() => {});
      }
    }
  }

  /**
   * True when low-space mode should try to end: the reserve is released and the last attempt
   * (or the release) was at least `retryMs` ago, or `force` (after a compaction freed space).
   *
   * @param force Ignore the retry interval.
   * @returns Whether to call {@link SpaceReserve.restore} now.
   *
   * @example
   * ```ts
   * import { nodeFs } from "./fs.ts";
   * import { SpaceReserve } from "./reserve.ts";
   * const dir = await Deno.makeTempDir();
   * const r = await SpaceReserve.open(nodeFs, `${dir}/x.reserve`, 4096, 0);
   * console.log(r.due()); // false: not in low-space mode
   * ```
   */
  due(force = false): boolean {
    return this.#low && (force || performance.now() - this.#lastTry >= this.#retryMs);
  }

  /**
   * Tries to write the reserve again, with headroom: it needs room for twice its size, and keeps
   * one. On success low-space mode ends; on a full disk the attempt is undone and the mode stays.
   *
   * @returns True when the reserve is back (low-space mode ended).
   * @throws {Error} an I/O error other than a full disk.
   *
   * @example
   * ```ts
   * import { nodeFs } from "./fs.ts";
   * import { SpaceReserve } from "./reserve.ts";
   * const dir = await Deno.makeTempDir();
   * const r = await SpaceReserve.open(nodeFs, `${dir}/x.reserve`, 4096, 0);
   * await r.release();
   * console.log(await r.restore()); // true
   * ```
   */
  async restore(): Promise<boolean> {
    if (!this.#low) return true;
    this.#lastTry = performance.now();
    if (!(await this.#fill(this.#bytes))) return false;
    this.#held = true;
    this.#low = false;
    this.#restores++;
    return true;
  }

  /**
   * Writes the reserve file: `bytes + headroom` random bytes, then cuts it to `bytes` and
   * fdatasyncs it. False (and no file left behind) when the disk is full.
   */
  async #fill(headroom: number): Promise<boolean> {
    const fs = this.#fs;
    const total = this.#bytes + headroom;
    const chunk = new Uint8Array(Math.min(FILL_CHUNK, total));
    const fd = await fs.open(this.path, "w+");
    let ok = false;
    try {
      let at = 0;
      while (at < total) {
        const n = Math.min(chunk.length, total - at);
        // Random bytes: a file system that compresses or deduplicates cannot store them in less.
        for (let i = 0; i < n; i += 65536) crypto.getRandomValues(chunk.subarray(i, Math.min(i + 65536, n)));
        await writeFully(fs, fd, chunk.subarray(0, n), at);
        at += n;
      }
      if (headroom > 0) await fs.ftruncate(fd, this.#bytes);
      await fs.fdatasync(fd);
      ok = true;
    } catch (e) {
      if (!isSpaceError(errorCode(e))) throw e;
    } finally {
      await fs.close(fd).catch(() => {});
      if (!ok) await unlinkIfPresent(fs, this.path).catch(() => {});
    }
    return ok;
  }
}
