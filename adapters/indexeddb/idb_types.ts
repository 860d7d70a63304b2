/**
 * The few IndexedDB and BroadcastChannel shapes the adapter uses, declared here so that the
 * adapter type-checks on every runtime without the DOM library (Node's and Deno's type
 * environments have no IndexedDB types). The browser's own objects satisfy them.
 *
 * @module
 */

/** A transaction mode. */
export type IdbTransactionMode = "readonly" | "readwrite" | "versionchange";

/** A key IndexedDB accepts: the adapter uses binary keys and one string key. */
export type IdbKey = Uint8Array | ArrayBuffer | string;

/** An `IDBRequest`. */
export interface IdbRequest<T = unknown> {
  /** The result once `onsuccess` fired. */
  readonly result: T;
  /** The error once `onerror` fired. */
  readonly error: unknown;
  /** Success handler. */
  onsuccess: ((this: unknown, event: unknown) => unknown) | null;
  /** Error handler. */
  onerror: ((this: unknown, event: unknown) => unknown) | null;
}

/** An `IDBCursorWithValue`. */
export interface IdbCursor {
  /** The record's key (an `ArrayBuffer` for a binary key). */
  readonly key: unknown;
  /** The record's value. */
  readonly value: unknown;
  /** Moves to the next record. */
  continue(): void;
}

/** An `IDBKeyRange` (opaque to the adapter). */
export type IdbKeyRange = object;

/** An `IDBObjectStore`. */
export interface IdbObjectStore {
  /** The transaction the store was opened in. */
  readonly transaction: IdbTransaction;
  /** Reads one record. */
  get(key: IdbKey): IdbRequest<unknown>;
  /** Writes one record. */
  put(value: unknown, key: IdbKey): IdbRequest<unknown>;
  /** Deletes one record. */
  delete(key: IdbKey): IdbRequest<unknown>;
  /** Opens a cursor over a range. */
  openCursor(range: IdbKeyRange, direction: "next" | "prev"): IdbRequest<IdbCursor | null>;
}

/** An `IDBTransaction`. */
export interface IdbTransaction {
  /** The database connection. */
  readonly db: IdbDatabase;
  /** The transaction's error, once it failed. */
  readonly error: unknown;
  /** Completion handler. */
  oncomplete: ((this: unknown, event: unknown) => unknown) | null;
  /** Error handler. */
  onerror: ((this: unknown, event: unknown) => unknown) | null;
  /** Abort handler. */
  onabort: ((this: unknown, event: unknown) => unknown) | null;
  /** The object store `name` in this transaction. */
  objectStore(name: string): IdbObjectStore;
}

/** An `IDBDatabase` connection. */
export interface IdbDatabase {
  /** Starts a transaction on one object store. */
  transaction(
    name: string,
    mode: IdbTransactionMode,
    options?: { durability?: "default" | "strict" | "relaxed" },
  ): IdbTransaction;
  /** Closes the connection once its transactions finished. */
  close(): void;
}

/** The `IDBKeyRange` constructor's static side. */
export interface IdbKeyRangeStatic {
  /** A range between two keys. */
  bound(lower: IdbKey, upper: IdbKey, lowerOpen?: boolean, upperOpen?: boolean): IdbKeyRange;
  /** The keys below one key. */
  upperBound(upper: IdbKey, open?: boolean): IdbKeyRange;
}

/** A `BroadcastChannel`. */
export interface Channel {
  /** Posts a structured-cloneable message to the other channels of the same name. */
  postMessage(message: unknown): void;
  /** Message handler. */
  onmessage: ((event: { readonly data: unknown }) => unknown) | null;
  /** Closes the channel. */
  close(): void;
}

/**
 * `idb-keyval`'s custom store: runs `callback` on the object store inside a new transaction of
 * `mode` (the type of `createStore(dbName, storeName)` from `idb-keyval`).
 */
export type UseStore = <T>(
  mode: "readonly" | "readwrite",
  callback: (store: IdbObjectStore) => T | PromiseLike<T>,
) => Promise<T>;
