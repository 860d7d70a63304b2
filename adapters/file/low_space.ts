/**
 * The file store's low-space mode, over its {@link SpaceReserve}: when a log write fails for lack
 * of space the reserve is freed and the store refuses new data (commits marked `growth()`) with
 * `StorageError` code `"ENOSPC"`, while it goes on writing the others (claims, completions,
 * retries, removals) so stored work can finish; it ends when the reserve can be written again.
 *
 * @module
 */

import { StorageError } from "../../src/errors.ts";
import type { AtomicBatch } from "../../src/kv.ts";
import { isSpaceError, type SpaceReserve, type SpaceReserveState } from "./reserve.ts";

/** The commit pipeline's view of the space reserve. */
export class LowSpaceMode {
  readonly #reserve: SpaceReserve;
  readonly #name: string;
  readonly #path: string;

  /** Low-space mode of the store `name` at `path`, over its reserve. */
  constructor(reserve: SpaceReserve, name: string, path: string) {
    this.#reserve = reserve;
    this.#name = name;
    this.#path = path;
  }

  /** True in low-space mode. */
  get low(): boolean {
    return this.#reserve.low;
  }

  /** The reserve's state. */
  state(): SpaceReserveState {
    return this.#reserve.state();
  }

  /**
   * True when `batch` is refused at once: new data in low-space mode, unless an attempt to end the
   * mode is due (the pipeline makes it before it writes the commit, and refuses it there if it failed).
   */
  refusesNow(batch: AtomicBatch): boolean {
    return batch.growth === true && this.#reserve.low && !this.#reserve.due();
  }

  /** The error of a refused growth commit. */
  error(): StorageError {
    const r = this.#reserve.state();
    return new StorageError(
      this.#name,
      "commit",
      `the store is low on disk space: it refuses new data (operations marked growth) and still writes ` +
        `changes to stored data, until its ${r.bytes}-byte reserve ${this.#path}.reserve can be written again ` +
        `(free disk space; it retries at most every ${r.retryMs} ms and after a compaction)`,
      { code: "ENOSPC" },
    );
  }

  /**
   * Before a group write: in low-space mode, tries to end it when an attempt is due. Returns true
   * when the mode still holds and the group has growth commits (the caller refuses them).
   */
  async refusesGroup(group: readonly { readonly batch: AtomicBatch }[]): Promise<boolean> {
    if (!this.#reserve.low) return false;
    if (this.#reserve.due()) await this.#restore();
    return this.#reserve.low && group.some((p) => p.batch.growth);
  }

  /**
   * After a log write failed with `code`: when it means a full disk and the reserve is held, frees
   * it (entering low-space mode) and returns true (the caller retries without the growth commits).
   */
  async enterOnFull(code: string | undefined): Promise<boolean> {
    return isSpaceError(code) && await this.#reserve.release();
  }

  /** After a compaction (which may have freed space): tries to end low-space mode. */
  async afterCompaction(): Promise<void> {
    if (this.#reserve.due(true)) await this.#restore();
  }

  /** Tries to end low-space mode; an I/O error other than a full disk leaves it on. */
  async #restore(): Promise<void> {
    await this.#reserve.restore().catch(() => false);
  }
}
