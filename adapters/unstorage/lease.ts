/**
 * The unstorage adapter's single-owner lock: drivers have no transactions, so only one open store
 * may write a base. The lock is an item beside the base (`<base>.lock`) holding the owner's random
 * id, its process id and when its lease ends. Opening refuses a lock whose lease has not ended;
 * the owner renews the lease (every third of it, and on a commit past half of it) and reads the
 * lock before each commit group, so a store whose lock was taken over refuses to commit instead
 * of writing over the new owner. Closing removes the lock; a crashed owner's lock ends with its
 * lease. Drivers cannot compare-and-set, so two stores opening in the same instant both write the
 * lock; each reads it back and only the last writer keeps it.
 *
 * @module
 */

import { StoreLockedError } from "../../src/errors.ts";
import type { UnstorageStorage } from "./types.ts";

/** What the lock item holds. */
export interface LockRecord {
  /** The owning store's random id. */
  readonly owner: string;
  /** The owner's process id, when it has one. */
  readonly pid?: number;
  /** When the lease ends, in ms since the epoch (the owner's clock). */
  readonly expiresAt: number;
}

function isLock(v: unknown): v is LockRecord {
  const r = v as LockRecord | null;
  return typeof r === "object" && r !== null && typeof r.owner === "string" &&
    typeof r.expiresAt === "number";
}

function processId(): number | undefined {
  return (globalThis as { process?: { pid?: number } }).process?.pid;
}

/**
 * The lock of one store.
 *
 * @example Two stores on one base: the second is refused
 * ```ts
 * import { createStorage } from "unstorage";
 * import { Lease } from "./lease.ts";
 * const storage = createStorage();
 * await new Lease(storage, "kvq.lock", 10_000).acquire("kvq");
 * try {
 *   await new Lease(storage, "kvq.lock", 10_000).acquire("kvq");
 * } catch (e) {
 *   console.log((e as Error).name); // "StoreLockedError"
 * }
 * ```
 */
export class Lease {
  /** This store's random id. */
  readonly owner: string = crypto.randomUUID();
  readonly #storage: UnstorageStorage;
  readonly #key: string;
  readonly #leaseMs: number;
  #expiresAt = 0;

  /** The lock at `key` with leases of `leaseMs`. */
  constructor(storage: UnstorageStorage, key: string, leaseMs: number) {
    this.#storage = storage;
    this.#key = key;
    this.#leaseMs = leaseMs;
  }

  async #read(): Promise<LockRecord | null> {
    const v = await this.#storage.getItem(this.#key);
    return isLock(v) ? v : null;
  }

  async #write(): Promise<void> {
    const expiresAt = Date.now() + this.#leaseMs;
    await this.#storage.setItem(this.#key, { owner: this.owner, pid: processId(), expiresAt });
    this.#expiresAt = expiresAt;
  }

  /** Takes the lock, or throws {@link StoreLockedError} (naming `path`) while another holds it. */
  async acquire(path: string): Promise<void> {
    const held = await this.#read();
    if (held && held.owner !== this.owner && held.expiresAt > Date.now()) {
      throw new StoreLockedError("unstorage", path, held.pid);
    }
    await this.#write();
    const now = await this.#read();
    if (now?.owner !== this.owner) throw new StoreLockedError("unstorage", path, now?.pid);
  }

  /**
   * True while the lock is this store's (renewing the lease when past half of it); false when
   * another store took it over.
   */
  async verify(): Promise<boolean> {
    const now = await this.#read();
    if (now?.owner !== this.owner) return false;
    if (this.#expiresAt - Date.now() < this.#leaseMs / 2) await this.#write();
    return true;
  }

  /** Renews the lease; false when another store took the lock over. */
  async renew(): Promise<boolean> {
    const now = await this.#read();
    if (now?.owner !== this.owner) return false;
    await this.#write();
    return true;
  }

  /** Removes the lock when it is still this store's. */
  async release(): Promise<void> {
    const now = await this.#read();
    if (now?.owner === this.owner) await this.#storage.removeItem(this.#key);
  }
}
