// Shared by the PostgreSQL tests: where the server is, whether it is up, and a table name of
// this run's own (dropped after). Point the tests elsewhere with KVQ_POSTGRES_URL.
import { createPostgresClient, type PostgresClient } from "../../adapters/postgres/client.ts";

/** The database the tests use. */
export const POSTGRES_URL: string =
  (globalThis as { process?: { env: Record<string, string | undefined> } }).process
    ?.env.KVQ_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** Why the PostgreSQL tests skip, or false when the server answers. */
export async function unreachable(): Promise<string | false> {
  let sql: PostgresClient | undefined;
  try {
    sql = await createPostgresClient(POSTGRES_URL, { max: 1, connect_timeout: 3, onnotice: false });
    await sql.unsafe("SELECT 1");
    return false;
  } catch (e) {
    return `PostgreSQL is not reachable at ${POSTGRES_URL} (${(e as Error)?.message ?? e}); ` +
      "start it, or set KVQ_POSTGRES_URL to a database the tests may create tables in";
  } finally {
    await sql?.end({ timeout: 1 }).catch(() => {});
  }
}

/** A table name unique to this run. */
export function tableName(what: string): string {
  const bytes = crypto.getRandomValues(new Uint8Array(4));
  return `kvq_test_${what}_${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** Drops a store's table, sequence, side tables and commit function. */
export async function dropStore(table: string, schema = "public"): Promise<void> {
  const sql = await createPostgresClient(POSTGRES_URL, { max: 1, onnotice: false });
  try {
    await sql.unsafe(
      ["", "_commits", "_meta"].map((s) => `DROP TABLE IF EXISTS "${schema}"."${table}${s}";`).join(" ") +
        ` DROP SEQUENCE IF EXISTS "${schema}"."${table}_seq";` +
        ` DROP FUNCTION IF EXISTS "${schema}"."${table}_commit"`,
    );
  } finally {
    await sql.end({ timeout: 1 });
  }
}

/** Runs SQL on a connection of its own. */
export async function withClient<T>(fn: (sql: PostgresClient) => PromiseLike<T>): Promise<T> {
  const sql = await createPostgresClient(POSTGRES_URL, { max: 1, onnotice: false });
  try {
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 1 });
  }
}
