/**
 * What the unstorage adapter calls on a `Storage` (made with unstorage's `createStorage`), so the
 * adapter needs no import of the package: a `Storage` has these members.
 *
 * @module
 */

/**
 * The subset of an unstorage `Storage` the adapter uses.
 *
 * @example A Storage fits
 * ```ts
 * import { createStorage } from "unstorage";
 * import type { UnstorageStorage } from "./types.ts";
 * const storage: UnstorageStorage = createStorage();
 * console.log(typeof storage.getKeys); // "function"
 * ```
 */
export interface UnstorageStorage {
  /** Reads a (JSON-decoded) value, `null` when absent. */
  getItem(key: string): Promise<unknown>;
  /** Writes a JSON-encodable value. */
  setItem(key: string, value: unknown): Promise<void>;
  /** Reads raw bytes, `null` when absent. */
  getItemRaw(key: string): Promise<unknown>;
  /** Writes raw bytes. */
  setItemRaw(key: string, value: Uint8Array): Promise<void>;
  /** Removes a key (no error when absent). */
  removeItem(key: string): Promise<void>;
  /** Every key under `base`, in no particular order. */
  getKeys(base?: string): Promise<string[]>;
  /** The mount serving `key`, with its driver (whose `name` says which driver it is). */
  getMount?(key?: string): { base: string; driver: { name?: string } };
}
