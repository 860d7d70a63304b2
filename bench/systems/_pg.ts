// PostgreSQL helpers shared by the pg-boss and graphile-worker systems and the harness's cleanup:
// the connection URL, server facts (version, durability settings), and dropping benchmark schemas.
import process from "node:process";
import { importPeer } from "../lib.ts";

/** A node-postgres client, as far as the benchmarks use it. */
export interface PgClient {
  connect(): Promise<void>;
  query(
    sql: string,
    params?: unknown[],
  ): Promise<{ rows: Record<string, unknown>[] }>;
  end(): Promise<void>;
}

/** The database the benchmarks use: `BENCH_PG_URL`, else trust auth on localhost, database `test`. */
export function pgUrl(): string {
  return process.env.BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";
}

/** Runs `fn` with a connected client, then closes it. */
export async function withPg<T>(fn: (c: PgClient) => Promise<T>): Promise<T> {
  const pg = await importPeer<
    { default: { Client: new (o: object) => PgClient } }
  >("pg");
  const client = new pg.default.Client({ connectionString: pgUrl() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Server version and the settings that decide durability. */
export function pgFacts(): Promise<{ version: string; durability: string }> {
  return withPg(async (c) => {
    const v = String((await c.query("SHOW server_version")).rows[0].server_version)
      .split(" ")[0];
    const sc = String(
      (await c.query("SHOW synchronous_commit")).rows[0].synchronous_commit,
    );
    const fsync = String((await c.query("SHOW fsync")).rows[0].fsync);
    const durable = sc !== "off" && fsync === "on";
    return {
      version: `PostgreSQL ${v}`,
      durability: durable
        ? `fsync per commit, server-side group commit (synchronous_commit=${sc}, fsync=${fsync})`
        : `none on power loss (synchronous_commit=${sc}, fsync=${fsync})`,
    };
  });
}

/** Drops a schema and everything in it. */
export function dropSchema(schema: string): Promise<void> {
  if (!/^kvqbench_[a-z0-9_]+$/.test(schema)) {
    throw new RangeError(`refusing to drop schema ${schema}`);
  }
  return withPg(async (c) => {
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  });
}

/**
 * Drops every schema named kvqbench_<base-36 ms>_<pid> made more than `olderThanMs` ago (left by a run
 * that was killed; a younger one may belong to another engineer's run on the same server); returns
 * how many.
 */
export function dropBenchSchemas(olderThanMs = 3_600_000): Promise<number> {
  return withPg(async (c) => {
    const rows = (await c.query(
      "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'kvqbench\\_%'",
    )).rows.filter((r) => {
      const made = parseInt(String(r.nspname).split("_")[1] ?? "", 36);
      return !(Date.now() - made < olderThanMs);
    });
    for (const r of rows) {
      await c.query(`DROP SCHEMA IF EXISTS "${String(r.nspname)}" CASCADE`);
    }
    return rows.length;
  });
}

/**
 * Runs ANALYZE on every table of a schema, so the planner has row counts after a fill (the benchmark
 * server runs with autovacuum off, which would otherwise gather them).
 */
export function analyzeSchema(schema: string): Promise<void> {
  if (!/^kvqbench_[a-z0-9_]+$/.test(schema)) {
    throw new RangeError(`refusing to analyze schema ${schema}`);
  }
  return withPg(async (c) => {
    const rows = (await c.query("SELECT tablename FROM pg_tables WHERE schemaname = $1", [
      schema,
    ])).rows;
    for (const r of rows) {
      await c.query(`ANALYZE "${schema}"."${String(r.tablename)}"`);
    }
  });
}

/** Bytes PostgreSQL stores for a schema's tables and indexes (on disk, not memory). */
export function schemaBytes(schema: string): Promise<number> {
  return withPg(async (c) => {
    const r = await c.query(
      "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)::bigint AS b FROM pg_class c " +
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')",
      [schema],
    );
    return Number(r.rows[0].b);
  });
}
