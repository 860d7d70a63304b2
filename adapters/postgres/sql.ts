/**
 * The SQL the PostgreSQL adapter runs, built once per store from its schema and table names: the
 * schema (version 1), the reads, the one statement that applies one atomic operation, and the
 * look-up of a commit whose outcome a lost connection hid.
 *
 * Objects, for table `kvq` in schema `public`:
 * - `kvq (k bytea PRIMARY KEY, v bytea NOT NULL, vs int8 NOT NULL)`: the entries, keyed by the
 *   core's key encoding (bytea compares bytewise, which is the codec's order);
 * - `kvq_seq`: the sequence versionstamps are drawn from;
 * - `kvq_commits (id bytea PRIMARY KEY, vs int8, at timestamptz)`: one row per applied atomic
 *   operation (its commit id and versionstamp), pruned after an hour, so a commit whose reply was
 *   lost can be looked up;
 * - `kvq_meta (id int PRIMARY KEY CHECK (id = 0), schema_version int NOT NULL)`: the schema version.
 *
 * @module
 */

/** The schema version this adapter writes; {@link PostgresSql.schema} creates it. */
export const SCHEMA_VERSION = 1;

/** A valid unquoted name for a schema or a table: lower case, digits and `_`, at most 50 bytes. */
const NAME = /^[a-z_][a-z0-9_]{0,49}$/;

/**
 * Checks a schema or table name; throws `TypeError` when it is not a plain lower-case identifier.
 *
 * @example
 * ```ts
 * import { checkName } from "./sql.ts";
 * console.log(checkName("table", "jobs")); // "jobs"
 * ```
 */
export function checkName(what: "schema" | "table", name: unknown): string {
  if (typeof name !== "string" || !NAME.test(name)) {
    throw new TypeError(
      `Invalid postgres option ${what}: ${JSON.stringify(name)} is not a lower-case identifier ` +
        "(letters a-z, digits and _, not starting with a digit, at most 50 characters)",
    );
  }
  return name;
}

/** The SQL text of one store, for one schema and table. */
export interface PostgresSql {
  /** Schema-qualified, quoted table name, e.g. `"public"."kvq"`. */
  readonly table: string;
  /** The NOTIFY channel commits announce themselves on. */
  readonly channel: string;
  /** The key of the advisory lock every commit takes (a decimal int8 literal is computed from it). */
  readonly lockName: string;
  /** Statements that create the schema when missing; run under the schema lock. */
  readonly schema: readonly string[];
  /** Reads the stored schema version: one row `{ schema_version }`, or none. */
  readonly version: string;
  /** `$1` key: one row `{ v, vs }` or none. */
  readonly get: string;
  /** `$1` keys (bytea[]): rows `{ k, v, vs }`. */
  readonly getMany: string;
  /** `$1` start, `$2` end, `$3` limit: rows `{ k, v, vs }` in key order. */
  readonly range: string;
  /** As {@link PostgresSql.range}, in descending key order. */
  readonly rangeReverse: string;
  /** The commit lock: every commit takes it first, so commits (and stamps) are serialized. */
  lock(key: string): string;
  /** Marks the transaction as not waiting for its WAL flush (a group of relaxed commits). */
  readonly relax: string;
  /**
   * Applies one atomic operation: `$1` check keys, `$2` their versionstamps (int8, null for absent),
   * `$3` keys to set, `$4` their values, `$5` keys to delete, `$6` the commit id. Returns one row
   * `{ vs }` when every check held (and the mutations applied), none when a check failed.
   */
  readonly apply: string;
  /** `$1` channel, `$2` payload, `$3` commit ids: notifies when one of them applied. */
  readonly notify: string;
  /** `$1` commit ids: fences them, so a transaction still carrying one of them can no longer commit. */
  readonly fence: string;
  /** `$1` commit ids: rows `{ id, vs }`, `vs` null for a fenced id that never applied. */
  readonly outcome: string;
  /** Removes commit ids older than an hour. */
  readonly prune: string;
}

/**
 * Builds the SQL of one store.
 *
 * @param schema The schema (checked with {@link checkName}).
 * @param table The table (checked with {@link checkName}).
 *
 * @example
 * ```ts
 * import { postgresSql } from "./sql.ts";
 * console.log(postgresSql("public", "kvq").table); // "public"."kvq"
 * ```
 */
export function postgresSql(schema: string, table: string): PostgresSql {
  checkName("schema", schema);
  checkName("table", table);
  const q = (suffix: string) => `"${schema}"."${table}${suffix}"`;
  const kv = q(""), seq = q("_seq"), commits = q("_commits"), meta = q("_meta");
  const seqName = `'"${schema}"."${table}_seq"'`;
  return {
    table: kv,
    channel: `kvq:${schema}.${table}`,
    lockName: `kvq:${schema}.${table}`,
    schema: [
      `CREATE SCHEMA IF NOT EXISTS "${schema}"`,
      `CREATE TABLE IF NOT EXISTS ${meta} (id int PRIMARY KEY CHECK (id = 0), schema_version int NOT NULL)`,
      `CREATE TABLE IF NOT EXISTS ${kv} (k bytea PRIMARY KEY, v bytea NOT NULL, vs int8 NOT NULL)`,
      `CREATE SEQUENCE IF NOT EXISTS ${seq} AS int8 MINVALUE 1`,
      `CREATE TABLE IF NOT EXISTS ${commits} (id bytea PRIMARY KEY, vs int8, ` +
      "at timestamptz NOT NULL DEFAULT now())",
      `INSERT INTO ${meta} (id, schema_version) VALUES (0, ${SCHEMA_VERSION}) ON CONFLICT (id) DO NOTHING`,
    ],
    version: `SELECT schema_version FROM ${meta} WHERE id = 0`,
    get: `SELECT v, vs::text AS vs FROM ${kv} WHERE k = $1`,
    getMany: `SELECT k, v, vs::text AS vs FROM ${kv} WHERE k = ANY($1::bytea[])`,
    range: `SELECT k, v, vs::text AS vs FROM ${kv} WHERE k >= $1 AND k < $2 ORDER BY k ASC LIMIT $3`,
    rangeReverse: `SELECT k, v, vs::text AS vs FROM ${kv} WHERE k >= $1 AND k < $2 ORDER BY k DESC LIMIT $3`,
    lock: (key) => `SELECT pg_advisory_xact_lock(${BigInt(key)})`,
    relax: "SELECT set_config('synchronous_commit', 'off', true)",
    apply: [
      "WITH c(k, vs) AS (SELECT * FROM unnest($1::bytea[], $2::int8[])),",
      ` ok AS (SELECT NOT EXISTS (SELECT 1 FROM c LEFT JOIN ${kv} t ON t.k = c.k`,
      "   WHERE t.vs IS DISTINCT FROM c.vs) AS ok),",
      ` stamp AS (SELECT nextval(${seqName}) AS vs FROM ok WHERE ok.ok),`,
      ` log AS (INSERT INTO ${commits} (id, vs) SELECT $6::bytea, vs FROM stamp),`,
      ` ins AS (INSERT INTO ${kv} (k, v, vs) SELECT u.k, u.v, stamp.vs`,
      "   FROM unnest($3::bytea[], $4::bytea[]) AS u(k, v), stamp",
      "   ON CONFLICT (k) DO UPDATE SET v = excluded.v, vs = excluded.vs),",
      ` del AS (DELETE FROM ${kv} WHERE k = ANY($5::bytea[]) AND EXISTS (SELECT 1 FROM stamp))`,
      "SELECT vs::text AS vs FROM stamp",
    ].join("\n"),
    notify: `SELECT pg_notify($1, $2) FROM ${commits} WHERE id = ANY($3::bytea[]) LIMIT 1`,
    fence: `INSERT INTO ${commits} (id, vs) SELECT unnest($1::bytea[]), NULL ON CONFLICT (id) DO NOTHING`,
    outcome: `SELECT id, vs::text AS vs FROM ${commits} WHERE id = ANY($1::bytea[])`,
    prune: `DELETE FROM ${commits} WHERE at < now() - interval '1 hour'`,
  };
}
