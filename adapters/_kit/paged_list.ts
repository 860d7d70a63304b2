/**
 * `list()` for stores that read a range page by page (SQL, IndexedDB cursors): the selector and
 * options checked once, pages of at most {@linkcode LIST_PAGE} entries, each page fetched after the
 * previous one was consumed and starting right after its last key, so a long listing never holds a
 * statement, a transaction or the whole range, and commits between pages are never in conflict.
 *
 * @module
 */

import {
  checkListOptions,
  decodeKey,
  type KvEntry,
  type KvKey,
  type KvListOptions,
  type KvListSelector,
  selectorRange,
} from "../../src/kv.ts";
import { afterBytes } from "./bytes.ts";

/** Most entries one page reads. */
export const LIST_PAGE = 256;

/** How a store reads one page of a listing. */
export interface PageSource<R> {
  /**
   * Up to `n` rows with keys in `[start, end)`, in ascending key order, or descending with
   * `reverse`. Also checks that the store is still open (it runs before every page) and maps
   * driver errors to `StorageError`.
   */
  page(start: Uint8Array, end: Uint8Array, n: number, reverse: boolean): Promise<readonly R[]> | readonly R[];
  /** A row's encoded key. */
  keyOf(row: R): Uint8Array;
  /** A row as an entry, its key already decoded. */
  entryOf(key: KvKey, row: R): KvEntry;
}

/**
 * The entries `selector` and `options` ask for, read page by page from `source`.
 *
 * @example A store over a sorted array of rows
 * ```ts
 * import { compareBytes, encodeKey, type KvKey } from "@kvq/kvq/kv";
 * import { pagedList, type PageSource } from "./paged_list.ts";
 * type Row = { k: Uint8Array; v: Uint8Array };
 * const rows: Row[] = [["a"], ["b"], ["c"]].map((k) => ({ k: encodeKey(k), v: new Uint8Array() }));
 * const source: PageSource<Row> = {
 *   page: (start, end, n) =>
 *     rows.filter((r) => compareBytes(r.k, start) >= 0 && compareBytes(r.k, end) < 0).slice(0, n),
 *   keyOf: (r) => r.k,
 *   entryOf: (key: KvKey, r) => ({ key, value: r.v, versionstamp: "1" }),
 * };
 * const keys = [];
 * for await (const e of pagedList(source, { prefix: [] })) keys.push(e.key[0]);
 * console.log(keys); // ["a", "b", "c"]
 * ```
 */
export async function* pagedList<R>(
  source: PageSource<R>,
  selector: KvListSelector,
  options?: KvListOptions,
): AsyncGenerator<KvEntry> {
  let { start, end } = selectorRange(selector);
  const { limit, reverse } = checkListOptions(options);
  let remaining = limit;
  while (remaining > 0) {
    const n = Math.min(LIST_PAGE, remaining);
    const rows = await source.page(start, end, n, reverse);
    for (const row of rows) yield source.entryOf(decodeKey(source.keyOf(row)), row);
    if (rows.length < n) return;
    remaining -= rows.length;
    const last = source.keyOf(rows[rows.length - 1]);
    if (reverse) end = last;
    else start = afterBytes(last);
  }
}
