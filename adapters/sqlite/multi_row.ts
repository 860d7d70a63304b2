/**
 * Multi-row statements for one commit group: the versions of every checked key read in a few
 * `SELECT ... WHERE k IN (...)`, and the group's final writes in a few multi-row upserts and
 * deletes, instead of one statement per check and per mutation (each statement execution costs
 * the JavaScript thread a driver call; a claim batch of 256 jobs made ~770 of them).
 *
 * Statements are prepared per row count, in powers of two up to {@link MAX_ROWS}; a smaller count
 * is padded by repeating its last row (a repeated key changes nothing: the same read, the same
 * write, the same delete).
 *
 * @module
 */

import type { SqliteDatabase, SqliteStatement, SqlValue } from "./driver.ts";

/** Most rows in one statement (3 parameters per upserted row: 768, far below SQLite's limit). */
export const MAX_ROWS = 256;

/** The final state of a key after a commit group: a value and its versionstamp, or deleted. */
export interface FinalWrite {
  /** The encoded key. */
  readonly key: Uint8Array;
  /** The value; `null`: deleted. */
  readonly value: Uint8Array | null;
  /** The versionstamp sequence number of the commit that wrote it. */
  readonly seq: number;
}

/** Prepared multi-row statements of one database, by kind and row count. */
export class MultiRow {
  readonly #db: SqliteDatabase;
  readonly #cache = new Map<string, SqliteStatement>();

  /** Statements for `db` (prepared on first use). */
  constructor(db: SqliteDatabase) {
    this.#db = db;
  }

  #statement(kind: "versions" | "upsert" | "delete", rows: number): SqliteStatement {
    const id = kind + rows;
    let st = this.#cache.get(id);
    if (!st) {
      const marks = Array.from({ length: rows }, () => (kind === "upsert" ? "(?, ?, ?)" : "?")).join(", ");
      st = this.#db.prepare(
        kind === "versions"
          ? `SELECT k, vs FROM kv WHERE k IN (${marks})`
          : kind === "delete"
          ? `DELETE FROM kv WHERE k IN (${marks})`
          : `INSERT INTO kv (k, v, vs) VALUES ${marks} ON CONFLICT (k) DO UPDATE SET v = excluded.v, vs = excluded.vs`,
      );
      this.#cache.set(id, st);
    }
    return st;
  }

  /** Runs `kind` over `items` in chunks of at most MAX_ROWS rows, each padded to a power of two. */
  #each<I>(
    kind: "versions" | "upsert" | "delete",
    items: readonly I[],
    params: (item: I, out: SqlValue[]) => void,
    use: (st: SqliteStatement, args: SqlValue[]) => void,
  ): void {
    for (let at = 0; at < items.length; at += MAX_ROWS) {
      const n = Math.min(MAX_ROWS, items.length - at);
      let rows = 1;
      while (rows < n) rows *= 2;
      const args: SqlValue[] = [];
      for (let i = 0; i < rows; i++) params(items[at + Math.min(i, n - 1)], args);
      use(this.#statement(kind, rows), args);
    }
  }

  /** The stored versionstamp sequence number of each of `keys` that exists, by key (binary string). */
  versions(keys: readonly Uint8Array[], binary: (key: Uint8Array) => string): Map<string, number> {
    const out = new Map<string, number>();
    this.#each("versions", keys, (k, a) => a.push(k), (st, args) => {
      for (const row of st.all(...args) as { k: Uint8Array; vs: number | bigint }[]) {
        out.set(binary(row.k), Number(row.vs));
      }
    });
    return out;
  }

  /** Stores the final writes of a group: upserts first, then deletes (each key appears once). */
  write(writes: readonly FinalWrite[]): void {
    const sets = writes.filter((w) => w.value !== null);
    const deletes = writes.filter((w) => w.value === null);
    this.#each("upsert", sets, (w, a) => a.push(w.key, w.value, w.seq), (st, args) => st.run(...args));
    this.#each("delete", deletes, (w, a) => a.push(w.key), (st, args) => st.run(...args));
  }
}
