/**
 * The PostgreSQL adapter: one store in one PostgreSQL table, shared by every process on every
 * machine that opens it, over the `postgres` (Postgres.js) client on Node, Bun and Deno. Pass a
 * connection string (the `postgres` package is then loaded lazily, so importing this entry point
 * loads no client) or a client you made with `postgres(url, options)`.
 *
 * Storage: table `kvq (k bytea PRIMARY KEY, v bytea NOT NULL, vs int8 NOT NULL)` keyed by the
 * core's key encoding (bytea compares bytewise, which is the codec's order), a sequence for
 * versionstamps, a commit-id table, a meta table with the schema version and a PL/pgSQL commit
 * function, all created on the first open (schema and table names are options; a version-1 store
 * gets the function on open). See `./sql.ts` for every statement.
 *
 * Commits: the operations of one process that wait together are sent as ONE statement, a call of
 * the commit function, in one round trip and one transaction; each operation gets its own
 * versionstamp and sees what the operations before it wrote (checks, then all upserts, then all
 * deletes, each a multi-row statement). Keys and values go packed into one `bytea` parameter
 * (`./pack.ts`), so the client writes one hex string instead of an escaped array per column.
 * Every transaction first takes one transaction-scoped advisory lock per store, then draws its
 * versionstamps from the sequence. So versionstamps are assigned in commit order: a transaction
 * that draws a stamp after another one holds the lock until it has committed, and the next one
 * draws only after that. The price: commits to one store are serialized cluster-wide, each
 * holding the lock for its statements and its WAL flush (about one fsync); commits from one
 * process share one transaction, which is how the store keeps its throughput. Checks read the
 * rows after the lock is taken (each statement sees every commit made before it), so check-then-set
 * is exclusive across connections without row locks or serializable isolation.
 *
 * Durability: `info.durable` is true when the server runs with `fsync = on` and
 * `synchronous_commit` other than `off`: a resolved commit then survives a crash of the server.
 * A group of only relaxed commits (`op.relaxed()`) runs with `synchronous_commit = off`: it
 * resolves before its WAL flush, and the next durable commit's flush covers it.
 *
 * Wake-ups: `watch` LISTENs on the store's channel. Every transaction that applies a commit sends
 * one NOTIFY, delivered at commit, whose payload lists the touched key prefixes (the first
 * `notifyDepth` parts of each mutated key, each once), so a commit in one process wakes watchers in
 * every other one. After the listening connection reconnects, every watcher wakes once (a
 * notification sent while it was down is lost).
 *
 * Faults: a lost connection (server restart, `pg_terminate_backend`, network) rejects the reads
 * in flight with `StorageError` code `"CONNECTION"`; the client reconnects on the next query.
 * A commit whose reply was lost is never reported as failed when it committed: every applied
 * operation writes its random commit id in its own transaction, and after a connection error the
 * adapter reconnects, fences the ids (so a transaction still in flight can no longer commit) and
 * reads them back: found, the commit resolves `{ ok: true }` with its versionstamp; fenced, it
 * applied nothing and rejects with `StorageError` code `"CONNECTION"`. If the server cannot be
 * reached within `outcomeTimeoutMs`, the commit rejects with {@link CommitOutcomeUnknownError}:
 * it may or may not have applied.
 *
 * @example Open a store on a database
 * ```ts
 * import { PostgresKv } from "@kvq/kvq/postgres";
 * const kv = await PostgresKv.open("postgres://postgres@127.0.0.1:5432/test", { table: "jobs" });
 * const res = await kv.atomic().check(["job", 1], null).set(["job", 1], new Uint8Array([1])).commit();
 * console.log(res.ok); // true
 * await kv.atomic().delete(["job", 1]).commit();
 * await kv.close();
 * ```
 *
 * @module
 */

import { StorageError, StoreClosedError } from "../../src/errors.ts";
import {
  type AtomicBatch,
  type AtomicKv,
  type AtomicOp,
  BufferedAtomicOp,
  encodeKey,
  encodeKeyBinary,
  formatVersionstamp,
  type KvCommitResult,
  type KvEntry,
  type KvInfo,
  type KvKey,
  type KvListOptions,
  type KvListSelector,
} from "../../src/kv.ts";
import {
  createPostgresClient,
  isConnectionError,
  neverSent,
  type PostgresClient,
  type PostgresClientOptions,
  postgresError,
  type PostgresQuery,
} from "./client.ts";
import { bytesToBinary, startsWith } from "../_kit/bytes.ts";
import { pagedList } from "../_kit/paged_list.ts";
import { hex, notifyPayload, parseNotification, wakes } from "./notify.ts";
import { int8Array, Packer } from "./pack.ts";
import { checkName, type PostgresSql, postgresSql, SCHEMA_VERSION } from "./sql.ts";

export type { PostgresClient, PostgresClientOptions, PostgresQuery } from "./client.ts";

/** Options of {@link PostgresKv.open}. */
export interface PostgresKvOptions {
  /** The schema holding the store's tables (created if missing). @default "public" */
  schema?: string;
  /** The store's table; its sequence and side tables take it as a prefix. @default "kvq" */
  table?: string;
  /** Largest value in bytes. @default 1048576 */
  maxValueBytes?: number;
  /** Largest encoded key in bytes (a btree entry must fit a third of a page). @default 2048 */
  maxKeyBytes?: number;
  /** Most mutations per atomic operation. @default 10000 */
  maxMutations?: number;
  /** Most checks per atomic operation. @default 10000 */
  maxChecks?: number;
  /**
   * Whether commits NOTIFY and `watch` is offered. Without it, workers in other processes find
   * new jobs by polling. @default true
   */
  watch?: boolean;
  /** How many leading key parts a notification names per mutated key. @default 3 */
  notifyDepth?: number;
  /**
   * How long a commit whose reply was lost keeps trying to learn its outcome before it rejects
   * with {@link CommitOutcomeUnknownError}, in ms. @default 30000
   */
  outcomeTimeoutMs?: number;
  /**
   * Whether the adapter's statements are prepared on each connection (faster). Turn it off behind
   * a pooler that cannot keep prepared statements (PgBouncer in transaction mode before 1.21).
   * @default true
   */
  prepare?: boolean;
  /**
   * Options for `postgres(url, options)` when a connection string is given. The adapter's
   * connections always run at `default_transaction_isolation` `read committed` unless
   * `connection` says otherwise (then open() refuses them: commits need read committed).
   * @default { max: 4, onnotice: false }
   */
  clientOptions?: PostgresClientOptions;
  /**
   * Whether `close()` ends the client. A client the adapter created is always ended; a client
   * passed in stays open unless this is true. @default false
   */
  closeClient?: boolean;
}

/**
 * A commit's connection was lost after it was sent, and the adapter could not reach the server
 * within `outcomeTimeoutMs` to learn whether it applied. Unlike a plain `StorageError`, it does
 * NOT mean that nothing changed: the commit may have applied. `commitId` is the hex id it was
 * written with (table `<table>_commits`).
 *
 * @example
 * ```ts
 * import { CommitOutcomeUnknownError } from "@kvq/kvq/postgres";
 * const e = new CommitOutcomeUnknownError("0a1b", new Error("ECONNREFUSED"));
 * console.log(e.code, e.commitId); // "OUTCOME_UNKNOWN" "0a1b"
 * ```
 */
export class CommitOutcomeUnknownError extends StorageError {
  /** The commit id, hex. */
  readonly commitId: string;
  /** Creates the error. */
  constructor(commitId: string, cause: unknown) {
    super(
      NAME,
      "commit",
      `the connection was lost after commit ${commitId} was sent and the server could not be reached ` +
        "to learn its outcome: it may or may not have applied",
      { cause, code: "OUTCOME_UNKNOWN" },
    );
    this.commitId = commitId;
  }
}

const NAME = "postgres";
/** Most checks + mutations in one transaction of grouped commits. */
const GROUP_BUDGET = 20000;
const PRUNE_EVERY_MS = 60_000;

interface Pending {
  batch: AtomicBatch;
  id: Uint8Array;
  resolve: (r: KvCommitResult) => void;
  reject: (e: unknown) => void;
}

interface Watcher {
  prefix: Uint8Array;
  wake: () => void;
}

type Row = Record<string, unknown>;

/** A plain copy: the client may hand out views of a buffer it reuses. */
function bytes(v: unknown): Uint8Array {
  if (v instanceof Uint8Array) return new Uint8Array(v);
  throw new StorageError(NAME, "read", `stored value is a ${typeof v}, expected bytea`);
}

const STAMP = /^[0-9a-f]{20}$/;
const INT8_MAX = (1n << 63n) - 1n;

/** A check's versionstamp as the int8 stored; `"-1"` (never stored) when it cannot be ours. */
function stampParam(vs: string | null): string | null {
  if (vs === null) return null;
  if (!STAMP.test(vs)) return "-1";
  const n = BigInt("0x" + vs);
  return n <= INT8_MAX ? n.toString() : "-1";
}

function positiveInt(what: string, v: unknown, fallback: number): number {
  const n = v ?? fallback;
  if (!(Number.isSafeInteger(n) && (n as number) > 0)) {
    throw new RangeError(`Invalid postgres option ${what}: ${n} is not a positive integer`);
  }
  return n as number;
}

/** The checked options a store runs with. */
interface Settings {
  limits: Pick<KvInfo, "maxValueBytes" | "maxKeyBytes" | "maxMutations" | "maxChecks">;
  watch: boolean;
  notifyDepth: number;
  outcomeTimeoutMs: number;
  prepare: boolean;
}

function bool(what: string, v: unknown, fallback: boolean): boolean {
  if (v === undefined) return fallback;
  if (typeof v !== "boolean") throw new TypeError(`Invalid postgres option ${what}: ${v} is not a boolean`);
  return v;
}

/** Checks the options before anything connects: `RangeError` / `TypeError` on a bad one. */
function settingsOf(options: PostgresKvOptions): Settings {
  return {
    limits: {
      maxValueBytes: positiveInt("maxValueBytes", options.maxValueBytes, 1048576),
      maxKeyBytes: positiveInt("maxKeyBytes", options.maxKeyBytes, 2048),
      maxMutations: positiveInt("maxMutations", options.maxMutations, 10000),
      maxChecks: positiveInt("maxChecks", options.maxChecks, 10000),
    },
    watch: bool("watch", options.watch, true),
    notifyDepth: positiveInt("notifyDepth", options.notifyDepth, 3),
    outcomeTimeoutMs: positiveInt("outcomeTimeoutMs", options.outcomeTimeoutMs, 30_000),
    prepare: bool("prepare", options.prepare, true),
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * An AtomicKv store in one PostgreSQL table, shared by every process that opens it.
 *
 * @example Two stores (two processes, in effect) never both create a key
 * ```ts
 * import { PostgresKv } from "@kvq/kvq/postgres";
 * const url = "postgres://postgres@127.0.0.1:5432/test";
 * const [a, b] = await Promise.all([PostgresKv.open(url), PostgresKv.open(url)]);
 * const [x, y] = await Promise.all([
 *   a.atomic().check(["lock"], null).set(["lock"], new Uint8Array([1])).commit(),
 *   b.atomic().check(["lock"], null).set(["lock"], new Uint8Array([2])).commit(),
 * ]);
 * console.log(x.ok !== y.ok); // true
 * await a.atomic().delete(["lock"]).commit();
 * await Promise.all([a.close(), b.close()]);
 * ```
 */
export class PostgresKv implements AtomicKv {
  /** {@inheritDoc AtomicKv.info} */
  readonly info: KvInfo;
  /** The schema-qualified table, e.g. `"public"."kvq"`. */
  readonly table: string;
  readonly #client: PostgresClient;
  readonly #sql: PostgresSql;
  readonly #ownsClient: boolean;
  readonly #notifyDepth: number;
  readonly #outcomeTimeoutMs: number;
  readonly #prepare: boolean;
  /** Marks this store's own notifications, which it has already delivered locally. */
  readonly #token = hex(crypto.getRandomValues(new Uint8Array(6)));
  #queue: Pending[] = [];
  #flushing: Promise<void> | null = null;
  #closed = false;
  #closing: Promise<void> | null = null;
  #watchers = new Set<Watcher>();
  #subscription: { active: boolean; handle: Promise<{ unlisten(): Promise<void> } | null> } | null = null;
  #lastPrune = Date.now();

  /**
   * Opens a store: connects (lazily loading `postgres` for a connection string), creates the
   * schema when it is missing and checks its version. Rejects with `StorageError` when the server
   * cannot be reached or the table is not a kvq store.
   *
   * @param connection A `postgres://` connection string, or a Postgres.js client.
   * @param options Schema and table names, limits, wake-ups.
   *
   * @example
   * ```ts
   * import postgres from "postgres";
   * import { PostgresKv } from "@kvq/kvq/postgres";
   * const sql = postgres("postgres://postgres@127.0.0.1:5432/test", { max: 8, onnotice: () => {} });
   * const kv = await PostgresKv.open(sql, { schema: "app", table: "jobs" });
   * console.log(kv.info.name, kv.info.scope); // postgres cluster
   * await kv.close();
   * await sql.end();
   * ```
   */
  static async open(
    connection: string | PostgresClient,
    options: PostgresKvOptions = {},
  ): Promise<PostgresKv> {
    const schema = checkName("schema", options.schema ?? "public");
    const table = checkName("table", options.table ?? "kvq");
    const owned = typeof connection === "string";
    if (!owned && (typeof connection?.unsafe !== "function" || typeof connection.batch !== "function")) {
      throw new TypeError("Cannot open postgres store: expected a connection string or a postgres client");
    }
    const settings = settingsOf(options);
    const sql = postgresSql(schema, table);
    // Commits rely on read committed: each statement sees what committed before it started.
    const connectionParams = {
      default_transaction_isolation: "read committed",
      ...(options.clientOptions?.connection as Record<string, unknown> | undefined),
    };
    const client = owned
      ? await createPostgresClient(connection, {
        max: 4,
        onnotice: false,
        ...options.clientOptions,
        connection: connectionParams,
      })
      : connection;
    try {
      const setup = await prepareSchema(client, sql, schema);
      return new PostgresKv(client, sql, setup, settings, owned || options.closeClient === true);
    } catch (e) {
      if (owned) await client.end({ timeout: 1 }).catch(() => {});
      throw e;
    }
  }

  /** Use {@link PostgresKv.open}. */
  private constructor(
    client: PostgresClient,
    sql: PostgresSql,
    setup: { durable: boolean },
    settings: Settings,
    ownsClient: boolean,
  ) {
    this.#client = client;
    this.#sql = sql;
    this.#ownsClient = ownsClient;
    this.#notifyDepth = settings.notifyDepth;
    this.#outcomeTimeoutMs = settings.outcomeTimeoutMs;
    this.#prepare = settings.prepare;
    this.table = sql.table;
    this.info = {
      name: NAME,
      ...settings.limits,
      scope: "cluster",
      durable: setup.durable,
      watch: settings.watch,
    };
  }

  #open(operation: string): void {
    if (this.#closed) throw new StoreClosedError(NAME, operation);
  }

  #query(text: string, params: unknown[]): PostgresQuery {
    return this.#client.unsafe(text, params, { prepare: this.#prepare });
  }

  #entry(key: KvKey, row: Row): KvEntry {
    return { key, value: bytes(row.v), versionstamp: formatVersionstamp(BigInt(row.vs as string)) };
  }

  /** {@inheritDoc AtomicKv.get} */
  async get(key: KvKey): Promise<KvEntry | null> {
    this.#open("get");
    const k = encodeKey(key);
    let rows: readonly Row[];
    try {
      rows = await this.#query(this.#sql.get, [k]);
    } catch (e) {
      throw postgresError("get", e);
    }
    return rows.length ? this.#entry([...key], rows[0]) : null;
  }

  /** {@inheritDoc AtomicKv.getMany} */
  async getMany(keys: readonly KvKey[]): Promise<(KvEntry | null)[]> {
    this.#open("getMany");
    if (keys.length === 0) return [];
    const packer = new Packer();
    for (const k of keys) packer.add(encodeKeyBinary(k));
    const { blob, lens } = packer.pack();
    let rows: readonly Row[];
    try {
      // One statement: every key is read at the same snapshot.
      rows = await this.#query(this.#sql.getMany, [blob, lens]);
    } catch (e) {
      throw postgresError("getMany", e);
    }
    const out: (KvEntry | null)[] = new Array(keys.length).fill(null);
    for (const row of rows) {
      const i = (row.i as number) - 1;
      out[i] = this.#entry([...keys[i]], row);
    }
    return out;
  }

  /** {@inheritDoc AtomicKv.list} */
  list(selector: KvListSelector, options: KvListOptions = {}): AsyncIterable<KvEntry> {
    this.#open("list");
    return this.#list(selector, options);
  }

  #list(selector: KvListSelector, options: KvListOptions): AsyncGenerator<KvEntry> {
    return pagedList<Row>(
      {
        page: async (start, end, n, reverse) => {
          this.#open("list");
          try {
            return await this.#query(reverse ? this.#sql.rangeReverse : this.#sql.range, [start, end, n]);
          } catch (e) {
            throw postgresError("list", e);
          }
        },
        keyOf: (row) => bytes(row.k),
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
    return new Promise<KvCommitResult>((resolve, reject) => {
      this.#queue.push({ batch, id: crypto.getRandomValues(new Uint8Array(16)), resolve, reject });
      this.#flushing ??= this.#drain();
    });
  }

  /** Sends queued commits, one transaction at a time; commits queued meanwhile form the next one. */
  async #drain(): Promise<void> {
    try {
      await Promise.resolve(); // commits made in the same tick join the first transaction
      while (this.#queue.length > 0) await this.#run(this.#take());
    } finally {
      this.#flushing = null;
    }
  }

  #take(): Pending[] {
    let budget = 0, n = 0;
    while (n < this.#queue.length) {
      const b = this.#queue[n].batch;
      budget += b.checks.length + b.mutations.length + 1;
      if (n > 0 && budget > GROUP_BUDGET) break;
      n++;
    }
    return this.#queue.splice(0, n);
  }

  async #run(group: Pending[]): Promise<void> {
    let results: KvCommitResult[];
    try {
      results = await this.#apply(group);
    } catch (e) {
      if (isConnectionError(e)) {
        if (!neverSent(e)) return this.#settleUnknown(group, e);
        const err = postgresError("commit", e);
        for (const p of group) p.reject(err);
        return;
      }
      if (group.length === 1) return group[0].reject(postgresError("commit", e));
      // The shared transaction failed: run each commit alone, so one bad commit fails alone.
      for (const p of group) await this.#run([p]);
      return;
    }
    group.forEach((p, i) => p.resolve(results[i]));
    this.#wakeLocal(group, results);
    this.#maybePrune();
  }

  /**
   * Applies a group in one statement (one round trip, one transaction); each commit gets its own
   * versionstamp.
   */
  async #apply(group: readonly Pending[]): Promise<KvCommitResult[]> {
    const relax = this.info.durable && group.every((p) => p.batch.relaxed);
    const payload = this.info.watch
      ? notifyPayload(this.#token, group.flatMap((p) => p.batch.mutations), this.#notifyDepth)
      : null;
    const { blob, lens, shape, stamps } = packGroup(group);
    // A batch of one: every commit transaction goes through the client's batch() (the seam the
    // tests script faults at).
    const [rows] = await this.#client.batch([
      this.#query(this.#sql.commit, [relax, payload, blob, lens, shape, stamps]),
    ]) as readonly (readonly Row[])[];
    const r = rows[0]?.r;
    if (!Array.isArray(r) || r.length !== group.length) {
      throw new StorageError(NAME, "commit", `the commit function returned ${JSON.stringify(r)}`);
    }
    return group.map((_, i) =>
      r[i] === null ? { ok: false } : { ok: true, versionstamp: formatVersionstamp(BigInt(r[i])) }
    );
  }

  /**
   * The connection was lost after a group was sent. Fences the group's commit ids and reads them
   * back, retrying until `outcomeTimeoutMs`: an id found applied resolves its commit, a fenced one
   * rejects (nothing applied), and no answer in time rejects with CommitOutcomeUnknownError.
   */
  async #settleUnknown(group: readonly Pending[], cause: unknown): Promise<void> {
    const ids = group.map((p) => p.id);
    const deadline = Date.now() + this.#outcomeTimeoutMs;
    for (let attempt = 0;; attempt++) {
      let rows: readonly Row[];
      try {
        const res = await this.#client.batch([
          this.#query(this.#sql.fence, [ids]),
          this.#query(this.#sql.outcome, [ids]),
        ]) as readonly (readonly Row[])[];
        rows = res[1];
      } catch (e) {
        if (Date.now() >= deadline) {
          for (const p of group) p.reject(new CommitOutcomeUnknownError(hex(p.id), e));
          return;
        }
        await sleep(Math.min(1000, 20 * 2 ** attempt));
        continue;
      }
      const stamps = new Map<string, unknown>();
      for (const row of rows) stamps.set(hex(bytes(row.id)), row.vs);
      const results: KvCommitResult[] = [];
      for (const p of group) {
        const vs = stamps.get(hex(p.id));
        if (typeof vs === "string") {
          const result = { ok: true, versionstamp: formatVersionstamp(BigInt(vs)) } as const;
          results.push(result);
          p.resolve(result);
        } else {
          results.push({ ok: false });
          p.reject(
            new StorageError(
              NAME,
              "commit",
              `${String((cause as Error)?.message ?? cause)} (connection lost; the commit did not apply)`,
              { cause, code: "CONNECTION" },
            ),
          );
        }
      }
      this.#wakeLocal(group, results);
      return;
    }
  }

  #maybePrune(): void {
    const now = Date.now();
    if (now - this.#lastPrune < PRUNE_EVERY_MS) return;
    this.#lastPrune = now;
    // Off the commit path; a failure only leaves old ids for the next round.
    Promise.resolve(this.#client.unsafe(this.#sql.prune)).catch(() => {});
  }

  #wakeLocal(group: readonly Pending[], results: readonly KvCommitResult[]): void {
    if (this.#watchers.size === 0) return;
    for (const w of this.#watchers) {
      const hit = group.some((p, i) =>
        results[i].ok && p.batch.mutations.some((m) => startsWith(m.keyBytes, w.prefix))
      );
      if (hit) w.wake();
    }
  }

  #onNotify(payload: string): void {
    const n = parseNotification(payload);
    if (n === null || n.token === this.#token) return;
    for (const w of this.#watchers) if (wakes(n, w.prefix)) w.wake();
  }

  #wakeAll(): void {
    for (const w of this.#watchers) w.wake();
  }

  /**
   * {@inheritDoc AtomicKv.watch}
   *
   * Commits of this store wake matching watchers at once; commits of other stores and processes
   * wake them through LISTEN/NOTIFY. Every watcher also wakes once when the listening connection
   * is (re)established, since notifications sent while it was down are lost.
   */
  watch(prefix: KvKey, signal: AbortSignal): AsyncIterable<void> {
    this.#open("watch");
    if (!this.info.watch) throw new StorageError(NAME, "watch", "the store was opened with watch: false");
    return this.#watch(encodeKey(prefix), signal);
  }

  async *#watch(prefix: Uint8Array, signal: AbortSignal): AsyncGenerator<void> {
    let pending = false;
    let wake: (() => void) | null = null;
    const watcher: Watcher = {
      prefix,
      wake: () => {
        pending = true;
        wake?.();
      },
    };
    const onAbort = () => wake?.();
    if (signal.aborted) return;
    this.#watchers.add(watcher);
    this.#subscribe();
    signal.addEventListener("abort", onAbort);
    try {
      while (!signal.aborted && !this.#closed) {
        if (!pending) await new Promise<void>((r) => (wake = r));
        wake = null;
        if (signal.aborted || this.#closed) return;
        pending = false;
        yield;
      }
    } finally {
      this.#watchers.delete(watcher);
      signal.removeEventListener("abort", onAbort);
      if (this.#watchers.size === 0) this.#unsubscribe();
    }
  }

  /** LISTENs while there are watchers, retrying while the server cannot be reached. */
  #subscribe(): void {
    if (this.#subscription) return;
    const sub = {
      active: true,
      handle: Promise.resolve(null) as Promise<{ unlisten(): Promise<void> } | null>,
    };
    this.#subscription = sub;
    sub.handle = (async () => {
      for (let attempt = 0; sub.active; attempt++) {
        try {
          return await this.#client.listen(
            this.#sql.channel,
            (p) => this.#onNotify(p),
            () => this.#wakeAll(),
          );
        } catch {
          await sleep(Math.min(1000, 50 * 2 ** attempt));
        }
      }
      return null;
    })();
  }

  #unsubscribe(): Promise<void> {
    const sub = this.#subscription;
    if (!sub) return Promise.resolve();
    this.#subscription = null;
    sub.active = false;
    return sub.handle.then((h) => h?.unlisten()).catch(() => {});
  }

  /** {@inheritDoc AtomicKv.close} */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    this.#closing = (async () => {
      while (this.#flushing) await this.#flushing;
      this.#wakeAll();
      await this.#unsubscribe();
      if (this.#ownsClient) {
        try {
          await this.#client.end({ timeout: 5 });
        } catch (e) {
          throw postgresError("close", e);
        }
      }
    })();
    return this.#closing;
  }
}

/**
 * The parameters of a group's call of the commit function: per operation its commit id, its check
 * keys, its set keys, their values and its delete keys, packed (a later mutation of a key wins over
 * an earlier one, so sets and deletes are disjoint), with its counts in `shape` and its checks'
 * versionstamps in `stamps`.
 */
function packGroup(
  group: readonly Pending[],
): { blob: Uint8Array; lens: string; shape: string; stamps: string } {
  const packer = new Packer();
  const shape: number[] = [], stamps: (string | null)[] = [];
  for (const p of group) {
    const { checks, mutations } = p.batch;
    const last = new Map<string, AtomicBatch["mutations"][number]>();
    for (const m of mutations) last.set(binaryOf(m), m);
    packer.add(p.id);
    for (const c of checks) {
      packer.add(c.keyBinary ?? c.keyBytes);
      stamps.push(stampParam(c.versionstamp));
    }
    let sets = 0;
    for (const [k, m] of last) if (m.type === "set") (packer.add(k), sets++);
    for (const m of last.values()) if (m.type === "set") packer.add(m.value);
    for (const [k, m] of last) if (m.type === "delete") packer.add(k);
    shape.push(checks.length, sets, last.size - sets);
  }
  return { ...packer.pack(), shape: `{${shape.join(",")}}`, stamps: int8Array(stamps) };
}

/** A check's or mutation's key as a binary string (one char per byte). */
function binaryOf(e: { keyBinary?: string; keyBytes: Uint8Array }): string {
  return e.keyBinary ?? bytesToBinary(e.keyBytes);
}

/** Creates the schema when missing (under an advisory lock) and checks the stored version. */
async function prepareSchema(
  client: PostgresClient,
  sql: PostgresSql,
  schema: string,
): Promise<{ durable: boolean }> {
  const meta = sql.table.slice(0, -1) + '_meta"';
  let state: Row;
  try {
    [state] = await client.unsafe(
      "SELECT to_regclass($1)::text AS meta, to_regclass($2)::text AS kv, to_regnamespace($3)::text AS ns, " +
        "current_setting('synchronous_commit') AS sync, " +
        "current_setting('fsync') AS fsync, current_setting('transaction_isolation') AS isolation",
      [meta, sql.table, `"${schema}"`],
    );
    if (state.isolation !== "read committed") {
      throw new StorageError(
        NAME,
        "open",
        `the connection runs at isolation level ${state.isolation}; the adapter's commits need read committed ` +
          "(set default_transaction_isolation to 'read committed' for the client's connections)",
      );
    }
    if (state.meta === null) {
      if (state.kv !== null) {
        throw new StorageError(NAME, "open", `${sql.table} exists and is not a kvq store (no ${meta} table)`);
      }
      await underSchemaLock(client, sql, state.ns === null ? sql.schema : sql.schema.slice(1));
    }
    let [row] = await client.unsafe(sql.version);
    if (Number(row?.schema_version) === 1) {
      // A store made by an older kvq: add what version 2 has (every process that opens it may try).
      await underSchemaLock(client, sql, sql.migrate);
      [row] = await client.unsafe(sql.version);
    }
    const version = Number(row?.schema_version);
    if (version !== SCHEMA_VERSION) {
      throw new StorageError(
        NAME,
        "open",
        row === undefined
          ? `${meta} has no schema version row`
          : `${sql.table} has schema version ${version}; this kvq reads version ${SCHEMA_VERSION}` +
            (version > SCHEMA_VERSION ? " (it was created by a newer kvq)" : ""),
      );
    }
  } catch (e) {
    throw postgresError("open", e);
  }
  return { durable: state.sync !== "off" && state.fsync === "on" };
}

/** Runs statements in one transaction that first takes the store's schema lock. */
async function underSchemaLock(client: PostgresClient, sql: PostgresSql, statements: readonly string[]) {
  await client.batch([
    client.unsafe("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [sql.lockName + ":schema"]),
    ...statements.map((s) => client.unsafe(s)),
  ]);
}

/**
 * Opens a PostgreSQL-backed store: shorthand for {@link PostgresKv.open}.
 *
 * @param connection A `postgres://` connection string, or a Postgres.js client.
 * @param options Schema and table names, limits, wake-ups.
 *
 * @example
 * ```ts
 * import { openPostgresKv } from "@kvq/kvq/postgres";
 * const kv = await openPostgresKv("postgres://postgres@127.0.0.1:5432/test");
 * console.log(kv.info.scope); // "cluster"
 * await kv.close();
 * ```
 */
export function openPostgresKv(
  connection: string | PostgresClient,
  options?: PostgresKvOptions,
): Promise<PostgresKv> {
  return PostgresKv.open(connection, options);
}
