// Helpers of the IndexedDB tests: removing a test database from the global factory.

import type { IdbRequest } from "../../adapters/indexeddb/idb_types.ts";

/** Deletes the IndexedDB database `name` from `globalThis.indexedDB`; resolves when it is gone. */
export function deleteDatabase(name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const factory =
      (globalThis as unknown as { indexedDB: { deleteDatabase(name: string): IdbRequest } }).indexedDB;
    const request = factory.deleteDatabase(name);
    request.onsuccess = () => resolve();
    request.onerror = () => reject(request.error);
  });
}
