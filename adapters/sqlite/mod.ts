/**
 * The SQLite adapter: one SQL layer over two drivers, `bun:sqlite` on Bun and `node:sqlite` on
 * Node (>= 22.5) and Deno. The driver is picked at open time by the runtime and loaded lazily,
 * so importing this entry point loads no driver.
 *
 * Storage: one table `kv(k BLOB PRIMARY KEY, v BLOB NOT NULL, vs INTEGER NOT NULL) WITHOUT ROWID`
 * keyed by the core's encoded key bytes (SQLite orders BLOBs with memcmp, which is the contract's
 * key order), and a one-row `kv_meta` table holding the store-wide commit sequence. The database
 * runs in WAL mode with `synchronous=FULL` (a resolved commit is fsynced) and a busy timeout, so
 * several processes can share one file: each commit is `BEGIN IMMEDIATE`, checks, writes, `COMMIT`,
 * and SQLite's write lock makes check-then-set exclusive across processes.
 *
 * Commits issued in the same tick of one process are applied in one transaction (group commit:
 * one fsync for all of them), each with its own versionstamp; none resolves before the shared
 * `COMMIT` has returned.
 *
 * Both drivers are synchronous: a commit runs on the JavaScript thread, including its fsync and,
 * when another process holds the write lock, its wait of up to `busyTimeoutMs`.
 *
 * @example Open a durable store on any runtime
 * ```ts
 * import { SqliteKv } from "@kvq/kvq/sqlite";
 * const kv = await SqliteKv.open(":memory:");
 * const res = await kv.atomic().check(["job", 1], null).set(["job", 1], new Uint8Array([1])).commit();
 * console.log(res.ok, kv.driver);
 * await kv.close();
 * ```
 *
 * @module
 */

import { CorruptionError, StorageError, StoreClosedError } from "../../src/errors.ts";
import {
  type AtomicBatch,
  type AtomicKv,
  type AtomicOp,
  BufferedAtomicOp,
  encodeKey,
  formatVersionstamp,
  type KvCommitResult,
  type KvEntry,
  type KvInfo,
  type KvKey,
  type KvListOptions,
  type KvListSelector,
} from "../../src/kv.ts";
import { plainBytes, startsWith } from "../_kit/bytes.ts";
import { pagedList } from "../_kit/paged_list.ts";
import { errorMessage, storageError } from "../_kit/errors.ts";
import { WatchHub } from "../_kit/watch_hub.ts";
import { type Queued, WriteQueue } from "../_kit/write_queue.ts";
import {
  classifySqliteError,
  defaultSqliteDriver,
  openSqliteDatabase,
  type SqliteDatabase,
  type SqliteDriverName,
  type SqliteStatement,
} from "./driver.ts";

export {
  defaultSqliteDriver,
  type SqliteDatabase,
  type SqliteDriverName,
  type SqliteStatement,
  type SqlRow,
  type SqlValue,
} from "./driver.ts";

/** Options of {@link SqliteKv}. */
export interface SqliteKvOptions {
  /**
   * `"full"`: every resolved commit is fsynced (durable). `"normal"`: faster; in WAL mode a
   * power loss may drop the last commits (a process crash does not), so `info.durable` is false.
   * @default "full"
   */
  synchronous?: "full" | "normal";
  /** How long a commit waits for another process's write lock before failing, in ms. @default 5000 */
  busyTimeoutMs?: number;
  /** Largest value in bytes. @default 1048576 */
  maxValueBytes?: number;
  /** Largest encoded key in bytes. @default 2048 */
  maxKeyBytes?: number;
  /** Most mutations per atomic operation. @default 10000 */
  maxMutations?: number;
  /** Most checks per atomic operation. @default 10000 */
  maxChecks?: number;
  /**
   * How often `watch` polls for commits made by other processes (`PRAGMA data_version`), in ms.
   * Commits of this process wake watchers at once.
   * @default 100
   */
  watchPollMs?: number;
  /** The driver to open with; only for {@link SqliteKv.open}. @default defaultSqliteDriver() */
  driver?: SqliteDriverName;
  /**
   * Whether `close()` closes the database handle. {@link SqliteKv.open} owns its handle; a handle
   * passed to {@link SqliteKv.fromDatabase} stays open unless this is true.
   * @default false for fromDatabase
   */
  closeDatabase?: boolean;
}

const NAME = "sqlite";

const SCHEMA = [
  "CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL, vs INTEGER NOT NULL) WITHOUT ROWID",
  "CREATE TABLE IF NOT EXISTS kv_meta (id INTEGER PRIMARY KEY CHECK (id = 0), seq INTEGER NOT NULL, " +
  "format INTEGER NOT NULL)",
  "INSERT OR IGNORE INTO kv_meta (id, seq, format) VALUES (0, 0, 1)",
];

type Pending = Queued<{ readonly batch: AtomicBatch }>;

interface Statements {
  get: SqliteStatement;
  version: SqliteStatement;
  upsert: SqliteStatement;
  delete: SqliteStatement;
  seq: SqliteStatement;
  setSeq: SqliteStatement;
  range: SqliteStatement;
  rangeReverse: SqliteStatement;
  dataVersion: SqliteStatement;
}

/**
 * An AtomicKv store in one SQLite database, shared safely by every process that opens the file.
 *
 * @example Two processes (or two handles) on one file never both claim a key
 * ```ts
 * import { SqliteKv } from "@kvq/kvq/sqlite";
 * const path = await Deno.makeTempFile({ suffix: ".db" });
 * const a = await SqliteKv.open(path);
 * const b = await SqliteKv.open(path);
 * const [x, y] = await Promise.all([
 *   a.atomic().check(["lock"], null).set(["lock"], new Uint8Array([1])).commit(),
 *   b.atomic().check(["lock"], null).set(["lock"], new Uint8Array([2])).commit(),
 * ]);
 * console.log(x.ok !== y.ok); // true
 * await a.close();
 * await b.close();
 * ```
 */
export class SqliteKv implements AtomicKv {
  /** {@inheritDoc AtomicKv.info} */
  readonly info: KvInfo;
  /** The driver running the database (`"custom"` for a handle passed to {@link SqliteKv.fromDatabase}). */
  readonly driver: SqliteDriverName | "custom";
  /** The database file, or `""` for an in-memory database. */
  readonly path: string;
  readonly #db: SqliteDatabase;
  readonly #st: Statements;
  readonly #closeDatabase: boolean;
  readonly #watchPollMs: number;
  readonly #queue = new WriteQueue<{ readonly batch: AtomicBatch }>();
  #scheduled = false;
  #closed = false;
  /** True while the connection runs at synchronous=NORMAL for a group of relaxed commits. */
  #relaxed = false;
  readonly #hub = new WatchHub();
  #pollTimer: ReturnType<typeof setInterval> | undefined;
  #dataVersion = 0;

  /**
   * Opens (creating if needed) a database file, or `":memory:"`, with this runtime's driver.
   *
   * @param path The database file, or `":memory:"` for a transient store.
   * @param options Durability, timeouts and limits.
   *
   * @example
   * ```ts
   * import { SqliteKv } from "@kvq/kvq/sqlite";
   * const kv = await SqliteKv.open(":memory:", { busyTimeoutMs: 1000 });
   * console.log(kv.info.durable); // false: in memory
   * await kv.close();
   * ```
   */
  static async open(path: string, options: SqliteKvOptions = {}): Promise<SqliteKv> {
    if (typeof path !== "string" || path === "") {
      throw new TypeError('Cannot open sqlite store: path must be a file path or ":memory:"');
    }
    const driver = options.driver ?? defaultSqliteDriver();
    let db: SqliteDatabase;
    try {
      db = await openSqliteDatabase(path, driver);
    } catch (e) {
      throw storageError(NAME, "open", `cannot open ${path} with ${driver}`, e);
    }
    try {
      return new SqliteKv(db, { ...options, closeDatabase: options.closeDatabase ?? true }, driver);
    } catch (e) {
      db.close();
      throw e;
    }
  }

  /**
   * Wraps a database handle opened by the caller (`new Database(path)` from `bun:sqlite`, or
   * `new DatabaseSync(path)` from `node:sqlite`). The adapter sets its pragmas on the handle and
   * creates its tables if missing.
   *
   * @param db The open handle.
   * @param options As for {@link SqliteKv.open}; `closeDatabase` defaults to false.
   *
   * @example
   * ```ts
   * import { DatabaseSync } from "node:sqlite";
   * import { SqliteKv } from "@kvq/kvq/sqlite";
   * const db = new DatabaseSync(":memory:");
   * const kv = SqliteKv.fromDatabase(db);
   * console.log((await kv.atomic().set(["k"], new Uint8Array([1])).commit()).ok); // true
   * await kv.close();
   * db.close();
   * ```
   */
  static fromDatabase(db: SqliteDatabase, options: SqliteKvOptions = {}): SqliteKv {
    return new SqliteKv(db, options, "custom");
  }

  /** Use {@link SqliteKv.open} or {@link SqliteKv.fromDatabase}. */
  private constructor(db: SqliteDatabase, options: SqliteKvOptions, driver: SqliteDriverName | "custom") {
    const synchronous = options.synchronous ?? "full";
    if (synchronous !== "full" && synchronous !== "normal") {
      throw new TypeError(`Invalid sqlite option synchronous: "${synchronous}" is not "full" or "normal"`);
    }
    const busy = options.busyTimeoutMs ?? 5000;
    if (!(Number.isInteger(busy) && busy >= 0)) {
      throw new RangeError(`Invalid sqlite option busyTimeoutMs: ${busy} is not a non-negative integer`);
    }
    this.#db = db;
    this.driver = driver;
    this.#closeDatabase = options.closeDatabase ?? false;
    this.#watchPollMs = options.watchPollMs ?? 100;
    let file = "";
    try {
      db.exec(`PRAGMA busy_timeout = ${busy}`);
      file = String(
        (db.prepare("PRAGMA database_list").all() as { name: string; file: string }[])
          .find((r) => r.name === "main")?.file ?? "",
      );
      if (file !== "") this.#retryBusy(() => db.exec("PRAGMA journal_mode = WAL"), busy);
      db.exec(`PRAGMA synchronous = ${synchronous.toUpperCase()}`);
      this.#retryBusy(() => this.#transaction(() => SCHEMA.forEach((sql) => db.exec(sql))), busy);
      const columns = (db.prepare("PRAGMA table_info(kv)").all() as { name: string }[]).map((c) => c.name);
      if (!["k", "v", "vs"].every((c) => columns.includes(c))) {
        throw new StorageError(
          NAME,
          "open",
          `${file || "the database"} has a table "kv" that is not kvq's (columns ${columns.join(", ")}; ` +
            "a Deno KV database?)",
        );
      }
      this.#st = {
        get: db.prepare("SELECT v, vs FROM kv WHERE k = ?"),
        version: db.prepare("SELECT vs FROM kv WHERE k = ?"),
        upsert: db.prepare(
          "INSERT INTO kv (k, v, vs) VALUES (?, ?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v, vs = excluded.vs",
        ),
        delete: db.prepare("DELETE FROM kv WHERE k = ?"),
        seq: db.prepare("SELECT seq FROM kv_meta WHERE id = 0"),
        setSeq: db.prepare("UPDATE kv_meta SET seq = ? WHERE id = 0"),
        range: db.prepare("SELECT k, v, vs FROM kv WHERE k >= ? AND k < ? ORDER BY k ASC LIMIT ?"),
        rangeReverse: db.prepare("SELECT k, v, vs FROM kv WHERE k >= ? AND k < ? ORDER BY k DESC LIMIT ?"),
        dataVersion: db.prepare("PRAGMA data_version"),
      };
    } catch (e) {
      throw this.#error("open", e);
    }
    this.path = file;
    this.info = {
      name: NAME,
      maxValueBytes: options.maxValueBytes ?? 1048576,
      maxKeyBytes: options.maxKeyBytes ?? 2048,
      maxMutations: options.maxMutations ?? 10000,
      maxChecks: options.maxChecks ?? 10000,
      scope: file === "" ? "process" : "machine",
      durable: file !== "" && synchronous === "full",
      watch: true,
    };
  }

  #retryBusy(fn: () => void, timeoutMs: number): void {
    // Schema setup and the WAL switch can meet SQLITE_BUSY without the busy handler being
    // consulted (e.g. while another process initialises the same file): retry until the timeout.
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        return fn();
      } catch (e) {
        if (classifySqliteError(e) !== "busy" || Date.now() >= deadline) throw e;
      }
    }
  }

  #transaction<T>(fn: () => T): T {
    this.#db.exec("BEGIN IMMEDIATE");
    let result: T;
    try {
      result = fn();
      this.#db.exec("COMMIT");
    } catch (e) {
      try {
        this.#db.exec("ROLLBACK");
      } catch { /* already rolled back by SQLite */ }
      throw e;
    }
    return result;
  }

  #error(operation: string, e: unknown): StorageError {
    if (e instanceof StorageError) return e;
    const reason = errorMessage(e);
    const kind = classifySqliteError(e);
    if (kind === "corrupt") return new CorruptionError(NAME, operation, reason, { cause: e });
    const code =
      { busy: "BUSY", full: "ENOSPC", io: "EIO", readonly: "EROFS", corrupt: "CORRUPT", other: undefined }[
        kind
      ];
    const why = kind === "busy"
      ? `${reason} (another connection held the write lock past busyTimeoutMs)`
      : reason;
    return new StorageError(NAME, operation, why, { cause: e, code });
  }

  #open(operation: string): void {
    if (this.#closed) throw new StoreClosedError(NAME, operation);
  }

  #entry(key: KvKey, row: { v: unknown; vs: unknown }): KvEntry {
    return { key, value: plainBytes(row.v, NAME), versionstamp: formatVersionstamp(row.vs as number) };
  }

  /** {@inheritDoc AtomicKv.get} */
  get(key: KvKey): Promise<KvEntry | null> {
    try {
      this.#open("get");
      const row = this.#st.get.get(encodeKey(key)) as { v: unknown; vs: unknown } | null | undefined;
      return Promise.resolve(row ? this.#entry([...key], row) : null);
    } catch (e) {
      return Promise.reject(e instanceof TypeError ? e : this.#error("get", e));
    }
  }

  /** {@inheritDoc AtomicKv.getMany} */
  getMany(keys: readonly KvKey[]): Promise<(KvEntry | null)[]> {
    try {
      this.#open("getMany");
      const encoded = keys.map((k) => encodeKey(k));
      // One read transaction: every key is read at the same point.
      this.#db.exec("BEGIN");
      try {
        return Promise.resolve(encoded.map((kb, i) => {
          const row = this.#st.get.get(kb) as { v: unknown; vs: unknown } | null | undefined;
          return row ? this.#entry([...keys[i]], row) : null;
        }));
      } finally {
        this.#db.exec("COMMIT");
      }
    } catch (e) {
      return Promise.reject(e instanceof TypeError ? e : this.#error("getMany", e));
    }
  }

  /** {@inheritDoc AtomicKv.list} */
  list(selector: KvListSelector, options?: KvListOptions): AsyncIterable<KvEntry> {
    this.#open("list");
    return this.#list(selector, options);
  }

  #list(selector: KvListSelector, options: KvListOptions | undefined): AsyncGenerator<KvEntry> {
    type Row = { k: unknown; v: unknown; vs: unknown };
    return pagedList<Row>(
      {
        page: (start, end, n, reverse) => {
          this.#open("list");
          try {
            return (reverse ? this.#st.rangeReverse : this.#st.range).all(start, end, n) as Row[];
          } catch (e) {
            throw this.#error("list", e);
          }
        },
        keyOf: (row) => plainBytes(row.k, NAME),
        entryOf: (key, row) => this.#entry(key, row),
      },
      selector,
      options,
    );
  }

  /** {@inheritDoc AtomicKv.atomic} */
  atomic(): AtomicOp {
    return new BufferedAtomicOp(this.info, (batch) => this.#enqueue(batch));
  }

  #enqueue(batch: AtomicBatch): Promise<KvCommitResult> {
    this.#open("commit");
    const promise = this.#queue.push({ batch });
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => this.#flush());
    }
    return promise;
  }

  #flush(): void {
    this.#scheduled = false;
    if (this.#queue.length === 0) return;
    const group = this.#queue.take();
    // A group of relaxed commits only (claims, heartbeats) skips the WAL fsync: the next FULL
    // commit's fsync of the WAL file makes it durable too, and a power loss before that only undoes it.
    // The connection's synchronous level is switched only when it has to change.
    const relax = this.info.durable && group.every((p) => p.batch.relaxed);
    if (relax !== this.#relaxed) {
      try {
        this.#db.exec(`PRAGMA synchronous = ${relax ? "NORMAL" : "FULL"}`);
        this.#relaxed = relax;
      } catch (e) {
        const err = this.#error("commit", e);
        for (const p of group) p.reject(err);
        return;
      }
    }
    this.#flushGroup(group);
  }

  #flushGroup(group: Pending[]): void {
    try {
      const results = this.#apply(group.map((p) => p.batch));
      group.forEach((p, i) => p.resolve(results[i]));
      this.#notify(group, results);
      return;
    } catch (e) {
      if (group.length === 1 || classifySqliteError(e) === "busy") {
        const err = this.#error("commit", e);
        for (const p of group) p.reject(err);
        return;
      }
    }
    // The shared transaction failed: run each commit alone, so one bad commit fails alone.
    for (const p of group) {
      try {
        const [result] = this.#apply([p.batch]);
        p.resolve(result);
        this.#notify([p], [result]);
      } catch (e) {
        p.reject(this.#error("commit", e));
      }
    }
  }

  /** Applies batches in order in one transaction; each gets its own versionstamp. */
  #apply(batches: readonly AtomicBatch[]): KvCommitResult[] {
    const st = this.#st;
    return this.#transaction(() => {
      const first = Number((st.seq.get() as { seq: number | bigint }).seq);
      let seq = first;
      const results: KvCommitResult[] = [];
      for (const batch of batches) {
        let ok = true;
        for (const c of batch.checks) {
          const row = st.version.get(c.keyBytes) as { vs: number } | null | undefined;
          if ((row ? formatVersionstamp(row.vs) : null) !== c.versionstamp) {
            ok = false;
            break;
          }
        }
        if (!ok) {
          results.push({ ok: false });
          continue;
        }
        seq++;
        for (const m of batch.mutations) {
          if (m.type === "set") st.upsert.run(m.keyBytes, m.value, seq);
          else st.delete.run(m.keyBytes);
        }
        results.push({ ok: true, versionstamp: formatVersionstamp(seq) });
      }
      if (seq !== first) st.setSeq.run(seq);
      return results;
    });
  }

  #notify(group: readonly Pending[], results: readonly KvCommitResult[]): void {
    if (this.#hub.size === 0) return;
    this.#hub.wake((w) =>
      group.some((p, i) => results[i].ok && p.batch.mutations.some((m) => startsWith(m.keyBytes, w.bytes)))
    );
  }

  /**
   * {@inheritDoc AtomicKv.watch}
   *
   * Commits of this process wake matching watchers at once; commits of other processes are
   * noticed within `watchPollMs` and wake every watcher (a hint, never a missed wake-up).
   */
  watch(prefix: KvKey, signal: AbortSignal): AsyncIterable<void> {
    this.#open("watch");
    return this.#hub.watch(encodeKey(prefix), signal, {
      closed: () => this.#closed,
      onFirst: () => this.#startPolling(),
      onLast: () => this.#stopPolling(),
    });
  }

  #readDataVersion(): number {
    return Number((this.#st.dataVersion.get() as { data_version: number }).data_version);
  }

  #startPolling(): void {
    if (this.#pollTimer !== undefined || this.path === "") return;
    this.#dataVersion = this.#readDataVersion();
    this.#pollTimer = setInterval(() => {
      if (this.#closed) return;
      let v: number;
      try {
        v = this.#readDataVersion();
      } catch {
        return; // a read failure is not a wake-up; the next poll tries again
      }
      if (v === this.#dataVersion) return;
      this.#dataVersion = v;
      this.#hub.wakeAll();
    }, this.#watchPollMs);
  }

  #stopPolling(): void {
    if (this.#pollTimer === undefined) return;
    clearInterval(this.#pollTimer);
    this.#pollTimer = undefined;
  }

  /** {@inheritDoc AtomicKv.close} */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (this.#queue.length > 0) this.#flush();
    this.#closed = true;
    this.#stopPolling();
    this.#hub.wakeAll();
    if (this.#closeDatabase) {
      try {
        this.#db.close();
      } catch (e) {
        return Promise.reject(this.#error("close", e));
      }
    }
    return Promise.resolve();
  }
}

/**
 * Opens a SQLite-backed store: shorthand for {@link SqliteKv.open}.
 *
 * @param path The database file, or `":memory:"`.
 * @param options Durability, timeouts and limits.
 *
 * @example
 * ```ts
 * import { openSqliteKv } from "@kvq/kvq/sqlite";
 * const kv = await openSqliteKv(":memory:");
 * console.log(kv.info.name); // "sqlite"
 * await kv.close();
 * ```
 */
export function openSqliteKv(path: string, options?: SqliteKvOptions): Promise<SqliteKv> {
  return SqliteKv.open(path, options);
}
