/**
 * The default store: `openStore(path)` opens the best embedded durable store for the runtime it
 * runs on, loading only that store's driver. `openStore("postgres://...")` opens the PostgreSQL
 * store instead (`kvq/postgres`), on every runtime: the one store shared by processes on several
 * machines. Its table is `kvq` in schema `public` unless the URL's `table` and `schema` query
 * parameters (`postgres://app@db/jobs?table=emails`) or `options.postgres` name others.
 *
 * | runtime | store | why |
 * | --- | --- | --- |
 * | Deno | Deno KV (`Deno.openKv`, or `@deno/kv` without `--unstable-kv`) | the runtime's own store |
 * | Bun | SQLite over `bun:sqlite` | built in, multi-process safe |
 * | Node | SQLite over `node:sqlite` (the file store where `node:sqlite` is missing) | measured faster than the file store, multi-process safe |
 *
 * On Node, `node:sqlite` measured faster than the file store on the machine this was built on
 * (8 concurrent committers, fsync on: about 21,000 against 14,000 commits/s), is safe for
 * several processes on one file where the file store admits one, and writes the same format as
 * Bun, so a database moves between Node and Bun. Deno KV writes its own format: a path opened
 * on Deno is not readable by the SQLite store and the other way round. A store already on disk is
 * detected ({@link detectStoreFormat}) and opened by the adapter that wrote it, whatever the
 * runtime's default; one that no adapter here can open is refused with `StorageError` code
 * `"FORMAT"` naming what was found, and left unchanged.
 *
 * The returned store's `info.name` says which adapter runs (`"deno-kv"`, `"sqlite"`, `"file"`),
 * and its `choice` says which driver and why.
 *
 * @example Open the default store for this runtime
 * ```ts
 * import { openStore } from "@kvq/kvq/store";
 * const dir = await Deno.makeTempDir();
 * const kv = await openStore(`${dir}/jobs.db`);
 * console.log(kv.info.name, kv.choice.driver, kv.info.durable);
 * await kv.close();
 * ```
 *
 * @module
 */

import { open as openFile } from "node:fs/promises";
import { StorageError } from "../../src/errors.ts";
import type { AtomicKv } from "../../src/kv.ts";
import type { DenoKvOptions } from "../deno-kv/mod.ts";
import type { FileKvOptions } from "../file/mod.ts";
import type { PostgresKvOptions } from "../postgres/mod.ts";
import type { SqliteKvOptions } from "../sqlite/mod.ts";

/** A JavaScript runtime kvq runs on. */
export type Runtime = "deno" | "bun" | "node";

/** An embedded durable adapter {@link openStore} can choose. */
export type EmbeddedAdapter = "deno-kv" | "sqlite" | "file";

/** An adapter {@link openStore} opens: an embedded one for a path, `"postgres"` for a `postgres://` URL. */
export type StoreAdapter = EmbeddedAdapter | "postgres";

/** What {@link openStore} chose, and why. */
export interface StoreChoice {
  /** The runtime detected. */
  readonly runtime: Runtime;
  /** The adapter (equal to the store's `info.name`). */
  readonly adapter: StoreAdapter;
  /**
   * The driver under it: `"Deno.openKv"`, `"@deno/kv"`, `"bun:sqlite"`, `"node:sqlite"`, `"node:fs"`
   * or `"postgres"` (the Postgres.js client).
   */
  readonly driver: string;
  /** Why this adapter, in words (including a fallback and its cause). */
  readonly reason: string;
}

/** A store opened by {@link openStore}: the adapter itself, plus what was chosen. */
export type OpenedStore = AtomicKv & { readonly choice: StoreChoice };

/** Options of {@link openStore}. */
export interface OpenStoreOptions {
  /**
   * Force an adapter instead of the runtime's default. `"auto"` opens PostgreSQL for a
   * `postgres://` or `postgresql://` URL and the runtime's embedded store for a path. @default "auto"
   */
  adapter?: StoreAdapter | "auto";
  /** Options for the sqlite adapter, when it is chosen. */
  sqlite?: SqliteKvOptions;
  /** Options for the file store, when it is chosen. */
  file?: FileKvOptions;
  /** Options for the deno-kv adapter, when it is chosen. */
  denoKv?: DenoKvOptions;
  /** Options for the PostgreSQL adapter (table, schema, pool size, ...), for a `postgres://` URL. */
  postgres?: PostgresKvOptions;
}

/**
 * Whether `location` is a PostgreSQL connection string (`postgres://` or `postgresql://`), which
 * {@link openStore} opens with the PostgreSQL adapter.
 *
 * @param location A store path or URL.
 *
 * @example
 * ```ts
 * import { isPostgresUrl } from "@kvq/kvq/store";
 * console.log(isPostgresUrl("postgres://app@db.internal/jobs"), isPostgresUrl("./kvq-data/sqlite.db")); // true false
 * ```
 */
export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}

/**
 * The runtime this code runs on.
 *
 * @example
 * ```ts
 * import { detectRuntime } from "@kvq/kvq/store";
 * console.log(detectRuntime()); // "deno" here
 * ```
 */
export function detectRuntime(): Runtime {
  const g = globalThis as { Deno?: unknown; Bun?: unknown };
  if (typeof g.Deno !== "undefined") return "deno";
  if (typeof g.Bun !== "undefined") return "bun";
  return "node";
}

/**
 * The adapters {@link openStore} tries on a runtime, best first.
 *
 * @param runtime The runtime. @default detectRuntime()
 *
 * @example
 * ```ts
 * import { storePreference } from "@kvq/kvq/store";
 * console.log(storePreference("node")); // ["sqlite", "file"]
 * ```
 */
export function storePreference(runtime: Runtime = detectRuntime()): EmbeddedAdapter[] {
  if (runtime === "deno") return ["deno-kv", "sqlite"];
  if (runtime === "bun") return ["sqlite"];
  return ["sqlite", "file"];
}

const REASONS: Record<Runtime, Partial<Record<EmbeddedAdapter, string>>> = {
  deno: { "deno-kv": "Deno KV is Deno's own durable store", sqlite: "node:sqlite, built into Deno" },
  bun: { sqlite: "bun:sqlite is built into Bun and safe for several processes on one file" },
  node: {
    sqlite:
      "node:sqlite measured faster than the file store (8 committers, fsync on) and is multi-process safe",
    file: "the file store (node:fs), durable with group commit",
  },
};

/** What {@link detectStoreFormat} found at a path. */
export type StoreFormat =
  /** An adapter's own format. */
  | StoreAdapter
  /** An SQLite database that is neither kvq's sqlite store nor a Deno KV database. */
  | "other-sqlite"
  /** A file that is none of the formats above. */
  | "unknown";

/** The first `n` bytes of a file as latin1 text, or null when it is missing or empty. */
async function head(path: string, n: number): Promise<string | null> {
  let f;
  try {
    f = await openFile(path, "r");
  } catch (e) {
    if ((e as { code?: string }).code === "ENOENT") return null;
    throw new StorageError("store", "open", `cannot read ${path} to detect its format`, { cause: e });
  }
  try {
    const buf = new Uint8Array(n);
    const { bytesRead } = await f.read(buf, 0, n, 0);
    return bytesRead === 0 ? null : new TextDecoder("latin1").decode(buf.subarray(0, bytesRead));
  } finally {
    await f.close();
  }
}

/**
 * The format of the store at `path`, read from its first bytes (never written): `null` when there
 * is no file yet (or it is empty, or an SQLite database without a single table: a store whose
 * creation was cut short; it opens as a new store). The file store starts with `KVQF`; an SQLite file with
 * `SQLite format 3`, and its schema (in the file or, while a writer has it open, in its `-wal`)
 * tells kvq's sqlite store (table `kv_meta`) from Deno KV (table `migration_state`).
 *
 * @example
 * ```ts
 * import { detectStoreFormat } from "@kvq/kvq/store";
 * console.log(await detectStoreFormat("/surely/not/there.db")); // null
 * ```
 */
export async function detectStoreFormat(path: string): Promise<StoreFormat | null> {
  const start = await head(path, 1 << 16);
  if (start === null) {
    // A new SQLite database in WAL mode may have its first pages in the -wal only.
    const wal = await head(path + "-wal", 1 << 20);
    if (wal === null) return null;
    return /CREATE TABLE[^(]*kv_meta/i.test(wal)
      ? "sqlite"
      : /CREATE TABLE[^(]*migration_state/i.test(wal)
      ? "deno-kv"
      : null;
  }
  if (start.startsWith("KVQF")) return "file";
  if (!start.startsWith("SQLite format 3\0")) return "unknown";
  const wal = (await head(path + "-wal", 1 << 20)) ?? "";
  const schema = start + wal;
  if (/CREATE TABLE[^(]*kv_meta/i.test(schema)) return "sqlite";
  if (/CREATE TABLE[^(]*migration_state/i.test(schema)) return "deno-kv";
  // No table at all: a store whose creation was cut short (killed after SQLite wrote the file's
  // header, before the schema committed). Nothing is in it to lose: it opens as a new store.
  if (noTables(start) && !/CREATE /i.test(wal)) return null;
  return "other-sqlite";
}

/**
 * Whether an SQLite file's first page says its schema is empty: page 1 holds the schema table, a
 * leaf table b-tree page (type 13 at offset 100) with no cells (bytes 103-104).
 */
function noTables(start: string): boolean {
  return start.length >= 108 && start.charCodeAt(100) === 0x0d && start.charCodeAt(103) === 0 &&
    start.charCodeAt(104) === 0;
}

const FORMAT_NAMES: Record<StoreFormat, string> = {
  file: "a kvq file store",
  sqlite: "a kvq SQLite store",
  "deno-kv": "a Deno KV database",
  postgres: "a PostgreSQL server",
  "other-sqlite": "an SQLite database that is not a kvq store",
  unknown: "a file that is not a kvq store",
};

async function openAdapter(
  adapter: StoreAdapter,
  path: string,
  options: OpenStoreOptions,
): Promise<AtomicKv> {
  if (adapter === "deno-kv") {
    const { DenoKv } = await import("../deno-kv/mod.ts");
    return DenoKv.open(path, options.denoKv);
  }
  if (adapter === "postgres") {
    const { PostgresKv } = await import("../postgres/mod.ts");
    const { url, table, schema } = postgresLocation(path);
    return PostgresKv.open(url, { table, schema, ...options.postgres });
  }
  if (adapter === "sqlite") {
    const { SqliteKv } = await import("../sqlite/mod.ts");
    return SqliteKv.open(path, options.sqlite);
  }
  const { FileKv } = await import("../file/mod.ts");
  return FileKv.open(path, options.file);
}

/**
 * Splits kvq's own `table` and `schema` query parameters off a PostgreSQL URL (the server would
 * refuse them as unknown settings); every other parameter stays for the client.
 */
function postgresLocation(location: string): { url: string; table?: string; schema?: string } {
  const q = location.indexOf("?");
  if (q < 0) return { url: location };
  const params = new URLSearchParams(location.slice(q + 1));
  const table = params.get("table") ?? undefined, schema = params.get("schema") ?? undefined;
  params.delete("table");
  params.delete("schema");
  const rest = params.toString();
  return { url: location.slice(0, q) + (rest ? `?${rest}` : ""), table, schema };
}

function driverOf(kv: AtomicKv): string {
  if (kv.info.name === "postgres") return "postgres";
  const k = kv as { implementation?: string; driver?: string };
  return k.implementation ?? k.driver ?? "node:fs";
}

/**
 * Opens the best embedded durable store for this runtime (see the module docs for the table).
 * When the preferred driver is missing (e.g. `node:sqlite` on an old Node), the next one is
 * used and `choice.reason` says why. A `postgres://` (or `postgresql://`) URL opens the
 * PostgreSQL store on that server instead, whatever the runtime.
 *
 * @param path The store's file (its format depends on the adapter chosen), or a PostgreSQL URL.
 * @param options Force an adapter, or pass options to the one chosen.
 * @returns The adapter instance, with `choice` describing it.
 *
 * @example Force the file store
 * ```ts
 * import { openStore } from "@kvq/kvq/store";
 * const dir = await Deno.makeTempDir();
 * const kv = await openStore(`${dir}/jobs.kvq`, { adapter: "file" });
 * console.log(kv.info.name); // "file"
 * await kv.close();
 * ```
 */
export async function openStore(path: string, options: OpenStoreOptions = {}): Promise<OpenedStore> {
  if (typeof path !== "string" || path === "") {
    throw new TypeError("Cannot open store: path must be a non-empty file path or a postgres:// URL");
  }
  const runtime = detectRuntime();
  const wanted = options.adapter ?? "auto";
  if (wanted !== "auto" && !["deno-kv", "sqlite", "file", "postgres"].includes(wanted)) {
    throw new TypeError(
      `Cannot open store: unknown adapter "${wanted}" (expected deno-kv, sqlite, file or postgres)`,
    );
  }
  const url = isPostgresUrl(path);
  if (url && wanted !== "auto" && wanted !== "postgres") {
    throw new TypeError(
      `Cannot open store: a postgres:// URL is opened by the postgres adapter, not "${wanted}"`,
    );
  }
  if (!url && wanted === "postgres") {
    throw new TypeError("Cannot open store: the postgres adapter needs a postgres:// or postgresql:// URL");
  }
  // A store already on disk is opened by the adapter that wrote it, or refused: never opened by
  // another adapter, which would call it corrupt or change it.
  const found = url ? null : await detectStoreFormat(path);
  const refuse = (why: string, cause?: unknown) =>
    new StorageError("store", "open", `${path} is ${FORMAT_NAMES[found!]}: ${why}`, {
      cause,
      code: "FORMAT",
    });
  if (found === "other-sqlite" || found === "unknown") {
    throw refuse("kvq cannot open it and leaves it as it is");
  }
  if (found !== null && wanted !== "auto" && found !== wanted) {
    throw refuse(`adapter "${wanted}" was requested; open it with adapter "${found}"`);
  }
  const candidates: StoreAdapter[] = url
    ? ["postgres"]
    : found !== null
    ? [found]
    : wanted === "auto"
    ? storePreference(runtime)
    : [wanted];
  const failures: string[] = [];
  for (let i = 0; i < candidates.length; i++) {
    const adapter = candidates[i];
    let kv: AtomicKv;
    try {
      kv = await openAdapter(adapter, path, options);
    } catch (e) {
      if (found !== null && isMissingDriver(e)) {
        throw refuse(
          `its adapter "${found}" cannot run here (${String((e as Error)?.message ?? e).split("\n")[0]})`,
          e,
        );
      }
      // Fall back only when the driver itself is missing, never on a bad or busy file.
      if (i === candidates.length - 1 || !isMissingDriver(e)) throw e;
      failures.push(`${adapter} unavailable: ${String((e as Error)?.message ?? e).split("\n")[0]}`);
      continue;
    }
    const reason = found !== null && wanted === "auto"
      ? `${path} is ${FORMAT_NAMES[found]} already`
      : wanted !== "auto"
      ? `adapter "${adapter}" was requested`
      : adapter === "postgres"
      ? "a postgres:// URL names a PostgreSQL server"
      : [REASONS[runtime][adapter] ?? adapter, ...failures].join("; ");
    const choice: StoreChoice = { runtime, adapter, driver: driverOf(kv), reason };
    Object.defineProperty(kv, "choice", { value: choice, enumerable: true });
    return kv as OpenedStore;
  }
  throw new Error("unreachable");
}

function isMissingDriver(e: unknown): boolean {
  const text = `${(e as Error)?.message ?? e} ${((e as { cause?: Error })?.cause)?.message ?? ""}`;
  const code = (e as { code?: string })?.code ?? (e as { cause?: { code?: string } })?.cause?.code;
  return code === "ERR_UNKNOWN_BUILTIN_MODULE" || code === "ERR_MODULE_NOT_FOUND" ||
    /no such built-in module|cannot find (module|package)|not installed|is not available|unknown builtin/i
      .test(text);
}
