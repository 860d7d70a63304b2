/**
 * The SQL the PostgreSQL adapter runs, built once per store from its schema and table names: the
 * schema (version 2) and its migration from version 1, the reads, the one call that applies a
 * group of atomic operations, and the look-up of a commit whose outcome a lost connection hid.
 *
 * Keys and values travel packed (see `./pack.ts`): one `bytea` parameter holding the parts end to
 * end and one `int4[]` of their lengths, split on the server, instead of a `bytea[]` the client
 * would have to write as an escaped text array, element by element.
 *
 * Objects, for table `kvq` in schema `public`:
 * - `kvq (k bytea PRIMARY KEY, v bytea NOT NULL, vs int8 NOT NULL)`: the entries, keyed by the
 *   core's key encoding (bytea compares bytewise, which is the codec's order);
 * - `kvq_seq`: the sequence versionstamps are drawn from;
 * - `kvq_commits (id bytea PRIMARY KEY, vs int8, at timestamptz)`: one row per applied atomic
 *   operation (its commit id and versionstamp), pruned after an hour, so a commit whose reply was
 *   lost can be looked up;
 * - `kvq_meta (id int PRIMARY KEY CHECK (id = 0), schema_version int NOT NULL)`: the schema version;
 * - `kvq_commit(...)` (PL/pgSQL, version 2): applies a group of atomic operations in the calling
 *   transaction: takes the commit lock, runs each operation's checks and, when they hold, draws its
 *   versionstamp, logs its commit id and applies its upserts and deletes, then sends one NOTIFY.
 *
 * @module
 */

/**
 * The schema version this adapter writes; {@link PostgresSql.schema} creates it and
 * {@link PostgresSql.migrate} brings a version-1 store to it. Version 2 added the commit function
 * (the tables are version 1's, so a version-1 process still reads and writes a version-2 store).
 */
export const SCHEMA_VERSION = 2;

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
  /** The name the commit lock's key is hashed from (`hashtextextended(lockName, 0)`). */
  readonly lockName: string;
  /** Statements that create the schema when missing; run under the schema lock. */
  readonly schema: readonly string[];
  /** Statements that bring a version-1 store to {@link SCHEMA_VERSION}; run under the schema lock. */
  readonly migrate: readonly string[];
  /** Reads the stored schema version: one row `{ schema_version }`, or none. */
  readonly version: string;
  /** `$1` key: one row `{ v, vs }` or none. */
  readonly get: string;
  /**
   * `$1` packed keys, `$2` their lengths: rows `{ i, v, vs }` for the keys found, `i` the key's
   * 1-based place in the list (one index look-up per key, whatever the planner's estimates).
   */
  readonly getMany: string;
  /** `$1` start, `$2` end, `$3` limit: rows `{ k, v, vs }` in key order. */
  readonly range: string;
  /** As {@link PostgresSql.range}, in descending key order. */
  readonly rangeReverse: string;
  /**
   * Applies a group of atomic operations, each in turn (a later one sees what an earlier one
   * wrote): `$1` relaxed (true: the transaction does not wait for its WAL flush), `$2` the NOTIFY
   * payload (null: none), `$3` the packed parts and `$4` their lengths (per operation: its commit
   * id, its check keys, the keys to set, their values, the keys to delete), `$5` the shape (per
   * operation: how many checks, sets and deletes), `$6` the checks' versionstamps (int8, null for
   * absent). One row `{ r }`: per operation its versionstamp, or null when a check failed.
   */
  readonly commit: string;
  /** `$1` commit ids: fences them, so a transaction still carrying one of them can no longer commit. */
  readonly fence: string;
  /** `$1` commit ids: rows `{ id, vs }`, `vs` null for a fenced id that never applied. */
  readonly outcome: string;
  /** Removes commit ids older than an hour. */
  readonly prune: string;
}

/**
 * Splits packed parts on the server: rows `(i, part)` of `blob` (a `bytea` expression) cut at the
 * lengths `lens` (an `int4[]` expression), `i` from 1.
 */
function parts(blob: string, lens: string): string {
  return `SELECT i::int4 AS i, substring(${blob} FROM (o - l + 1)::int4 FOR l) AS part FROM ` +
    `(SELECT i, l, sum(l) OVER (ORDER BY i) AS o FROM unnest(${lens}) WITH ORDINALITY AS x(l, i)) s`;
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
  const kv = q(""), seq = q("_seq"), commits = q("_commits"), meta = q("_meta"), commit = q("_commit");
  const channel = `kvq:${schema}.${table}`, lockName = `kvq:${schema}.${table}`;
  // Names are checked identifiers, so they are safe inside the quoted literals below.
  // Part k of the packed parameters is `blob` bytes (ends[k] - lens[k], ends[k]]: cut where used, so
  // each operation's statements read their parts in time proportional to them.
  const cut = (a: string, b: string, alias: string) =>
    `SELECT substring(blob FROM ${alias}.e - ${alias}.l + 1 FOR ${alias}.l) FROM unnest(ends[${a} : ${b}], ` +
    `lens[${a} : ${b}]) AS ${alias}(e, l)`;
  const commitFunction = [
    `CREATE OR REPLACE FUNCTION ${commit}(relax bool, payload text, blob bytea, lens int4[], shape int4[],`,
    "  stamps int8[]) RETURNS int8[] LANGUAGE plpgsql AS $kvq$",
    "DECLARE",
    "  ends int4[]; res int8[] := '{}'; at int := 1; sat int := 1; nc int; ns int; nd int;",
    "  stamp int8; applied bool := false;",
    "BEGIN",
    // Commits and stamps are serialized: a stamp drawn after another one's is never visible first.
    `  PERFORM pg_advisory_xact_lock(hashtextextended('${lockName}', 0));`,
    "  IF relax THEN PERFORM set_config('synchronous_commit', 'off', true); END IF;",
    "  ends := ARRAY(SELECT (sum(l) OVER (ORDER BY i))::int4 FROM unnest(lens) WITH ORDINALITY AS x(l, i) ORDER BY i);",
    "  FOR j IN 0 .. coalesce(array_length(shape, 1), 0) / 3 - 1 LOOP",
    "    nc := shape[3 * j + 1]; ns := shape[3 * j + 2]; nd := shape[3 * j + 3];",
    // Each check reads its key through the primary key: read committed sees every earlier commit.
    "    IF nc > 0 AND EXISTS (SELECT 1 FROM unnest(ends[at + 1 : at + nc], lens[at + 1 : at + nc],",
    "        stamps[sat : sat + nc - 1]) AS c(e, l, s)",
    `        WHERE (SELECT t.vs FROM ${kv} t WHERE t.k = substring(blob FROM c.e - c.l + 1 FOR c.l))`,
    "          IS DISTINCT FROM c.s) THEN",
    "      stamp := NULL;",
    "    ELSE",
    `      stamp := nextval('${seq}');`,
    `      INSERT INTO ${commits} (id, vs) VALUES (substring(blob FROM ends[at] - lens[at] + 1 FOR lens[at]), stamp);`,
    "      IF ns > 0 THEN",
    `        INSERT INTO ${kv} (k, v, vs) SELECT substring(blob FROM u.ke - u.kl + 1 FOR u.kl),`,
    "          substring(blob FROM u.ve - u.vl + 1 FOR u.vl), stamp",
    "          FROM unnest(ends[at + nc + 1 : at + nc + ns], lens[at + nc + 1 : at + nc + ns],",
    "            ends[at + nc + ns + 1 : at + nc + 2 * ns], lens[at + nc + ns + 1 : at + nc + 2 * ns]) AS u(ke, kl, ve, vl)",
    "          ON CONFLICT (k) DO UPDATE SET v = excluded.v, vs = excluded.vs;",
    "      END IF;",
    "      IF nd > 0 THEN",
    `        DELETE FROM ${kv} WHERE k = ANY(ARRAY(${
      cut("at + nc + 2 * ns + 1", "at + nc + 2 * ns + nd", "d")
    }));`,
    "      END IF;",
    "      applied := true;",
    "    END IF;",
    "    at := at + 1 + nc + 2 * ns + nd; sat := sat + nc;",
    "    res := res || stamp;",
    "  END LOOP;",
    `  IF applied AND payload IS NOT NULL THEN PERFORM pg_notify('${channel}', payload); END IF;`,
    "  RETURN res;",
    "END",
    "$kvq$",
  ].join("\n");
  return {
    table: kv,
    channel,
    lockName,
    schema: [
      `CREATE SCHEMA IF NOT EXISTS "${schema}"`,
      `CREATE TABLE IF NOT EXISTS ${meta} (id int PRIMARY KEY CHECK (id = 0), schema_version int NOT NULL)`,
      `CREATE TABLE IF NOT EXISTS ${kv} (k bytea PRIMARY KEY, v bytea NOT NULL, vs int8 NOT NULL)`,
      `CREATE SEQUENCE IF NOT EXISTS ${seq} AS int8 MINVALUE 1`,
      `CREATE TABLE IF NOT EXISTS ${commits} (id bytea PRIMARY KEY, vs int8, ` +
      "at timestamptz NOT NULL DEFAULT now())",
      commitFunction,
      `INSERT INTO ${meta} (id, schema_version) VALUES (0, ${SCHEMA_VERSION}) ON CONFLICT (id) DO NOTHING`,
    ],
    migrate: [
      commitFunction,
      `UPDATE ${meta} SET schema_version = ${SCHEMA_VERSION} WHERE id = 0 AND schema_version = 1`,
    ],
    version: `SELECT schema_version FROM ${meta} WHERE id = 0`,
    get: `SELECT v, vs::text AS vs FROM ${kv} WHERE k = $1`,
    getMany: `SELECT x.i, t.v, t.vs::text AS vs FROM (${parts("$1::bytea", "$2::int4[]")}) x ` +
      `CROSS JOIN LATERAL (SELECT v, vs FROM ${kv} WHERE k = x.part LIMIT 1) t`,
    range: `SELECT k, v, vs::text AS vs FROM ${kv} WHERE k >= $1 AND k < $2 ORDER BY k ASC LIMIT $3`,
    rangeReverse: `SELECT k, v, vs::text AS vs FROM ${kv} WHERE k >= $1 AND k < $2 ORDER BY k DESC LIMIT $3`,
    commit: `SELECT ${commit}($1::bool, $2::text, $3::bytea, $4::int4[], $5::int4[], $6::int8[]) AS r`,
    fence: `INSERT INTO ${commits} (id, vs) SELECT unnest($1::bytea[]), NULL ON CONFLICT (id) DO NOTHING`,
    outcome: `SELECT id, vs::text AS vs FROM ${commits} WHERE id = ANY($1::bytea[])`,
    prune: `DELETE FROM ${commits} WHERE at < now() - interval '1 hour'`,
  };
}
