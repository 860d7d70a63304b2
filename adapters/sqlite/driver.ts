/**
 * The few SQLite driver calls the sqlite adapter makes, over `bun:sqlite` (Bun) and
 * `node:sqlite` (Node >= 22.5, Deno). The driver module is loaded lazily through a non-literal
 * specifier, so importing this file never loads a driver and type checkers never resolve
 * `bun:sqlite`.
 *
 * @module
 */

/** A value bound to or read from SQLite by this adapter. */
export type SqlValue = Uint8Array | number | bigint | string | null;

/** A row as the drivers return it: column name to value. */
export type SqlRow = Record<string, unknown>;

/**
 * The subset of a prepared statement the adapter uses. Both `bun:sqlite`'s `Statement` and
 * `node:sqlite`'s `StatementSync` have it.
 */
export interface SqliteStatement {
  /** Runs the statement, ignoring rows. */
  run(...params: SqlValue[]): unknown;
  /** The first row, or `null`/`undefined` when there is none. */
  get(...params: SqlValue[]): unknown;
  /** Every row. */
  all(...params: SqlValue[]): unknown[];
}

/**
 * The subset of a database handle the adapter uses. Both `bun:sqlite`'s `Database` and
 * `node:sqlite`'s `DatabaseSync` have it, so either can be passed to
 * {@link SqliteKv.fromDatabase}.
 */
export interface SqliteDatabase {
  /** Runs SQL without results. */
  exec(sql: string): unknown;
  /** Compiles a statement. */
  prepare(sql: string): SqliteStatement;
  /** Closes the handle. */
  close(): unknown;
}

/** Which driver runs a database. */
export type SqliteDriverName = "bun:sqlite" | "node:sqlite";

/**
 * The driver this runtime provides: `bun:sqlite` on Bun, `node:sqlite` elsewhere (Node, Deno).
 *
 * @example
 * ```ts
 * import { defaultSqliteDriver } from "./driver.ts";
 * console.log(defaultSqliteDriver()); // "node:sqlite" on Node and Deno
 * ```
 */
export function defaultSqliteDriver(): SqliteDriverName {
  return typeof (globalThis as { Bun?: unknown }).Bun !== "undefined" ? "bun:sqlite" : "node:sqlite";
}

// A non-literal specifier: bundlers and type checkers leave it alone.
function load(name: SqliteDriverName): Promise<Record<string, unknown>> {
  const specifier: string = name;
  return import(specifier);
}

type DatabaseConstructor = new (path: string, options?: Record<string, unknown>) => SqliteDatabase;

/**
 * Opens a database file (or `":memory:"`) with the given driver (default: this runtime's).
 *
 * @param path File path, or `":memory:"`.
 * @param driver `"bun:sqlite"` or `"node:sqlite"`. @default defaultSqliteDriver()
 *
 * @example
 * ```ts
 * import { openSqliteDatabase } from "./driver.ts";
 * const db = await openSqliteDatabase(":memory:");
 * console.log(db.prepare("select 1 as one").get());
 * db.close();
 * ```
 */
export async function openSqliteDatabase(
  path: string,
  driver: SqliteDriverName = defaultSqliteDriver(),
): Promise<SqliteDatabase> {
  const mod = await load(driver);
  if (driver === "bun:sqlite") {
    const Database = mod.Database as DatabaseConstructor;
    return new Database(path, { create: true, readwrite: true });
  }
  const DatabaseSync = mod.DatabaseSync as DatabaseConstructor;
  return new DatabaseSync(path);
}

/** What a driver error means, reduced to what the adapter acts on. */
export type SqliteErrorKind = "busy" | "full" | "io" | "corrupt" | "readonly" | "other";

const PRIMARY_CODES: Record<number, SqliteErrorKind> = {
  5: "busy", // SQLITE_BUSY
  6: "busy", // SQLITE_LOCKED
  8: "readonly", // SQLITE_READONLY
  10: "io", // SQLITE_IOERR
  11: "corrupt", // SQLITE_CORRUPT
  13: "full", // SQLITE_FULL
  26: "corrupt", // SQLITE_NOTADB
};

const NAMED_CODES: Record<string, SqliteErrorKind> = {
  SQLITE_BUSY: "busy",
  SQLITE_LOCKED: "busy",
  SQLITE_READONLY: "readonly",
  SQLITE_IOERR: "io",
  SQLITE_CORRUPT: "corrupt",
  SQLITE_FULL: "full",
  SQLITE_NOTADB: "corrupt",
};

/**
 * Classifies a driver error. `node:sqlite` on Node sets `errcode`, `bun:sqlite` sets `errno` and
 * `code` (`"SQLITE_BUSY"`), `node:sqlite` on Deno sets only the message; all three are read.
 *
 * @example
 * ```ts
 * import { classifySqliteError } from "./driver.ts";
 * console.log(classifySqliteError(new Error("database is locked"))); // "busy"
 * ```
 */
export function classifySqliteError(e: unknown): SqliteErrorKind {
  const err = e as { errcode?: unknown; errno?: unknown; code?: unknown; message?: unknown } | null;
  const num = typeof err?.errcode === "number"
    ? err.errcode
    : typeof err?.errno === "number"
    ? err.errno
    : NaN;
  if (!Number.isNaN(num) && PRIMARY_CODES[num & 0xff]) return PRIMARY_CODES[num & 0xff];
  if (typeof err?.code === "string") {
    const base = /^SQLITE_[A-Z]+/.exec(err.code)?.[0];
    if (base && NAMED_CODES[base]) return NAMED_CODES[base];
  }
  const message = String(err?.message ?? e);
  if (/database (table )?is locked|database is busy/i.test(message)) return "busy";
  if (/database or disk is full|disk is full/i.test(message)) return "full";
  if (/disk I\/O error/i.test(message)) return "io";
  if (/malformed|not a database/i.test(message)) return "corrupt";
  if (/readonly database/i.test(message)) return "readonly";
  return "other";
}
