// The engine suite (every job-engine behaviour) on the PostgreSQL adapter. Every case opens its
// own store on one table of this run (each case works under its own root prefix), dropped after.
// Skips only when the server is unreachable (see _pg.ts for KVQ_POSTGRES_URL).
import { after, test } from "node:test";
import { PostgresKv } from "../../adapters/postgres/mod.ts";
import { testEngine } from "../../conformance/mod.ts";
import { dropStore, POSTGRES_URL, tableName, unreachable } from "./_pg.ts";

const skip = await unreachable();
if (skip) {
  test("postgres: engine suite", { skip }, () => {});
} else {
  const table = tableName("engine");
  after(() => dropStore(table));
  await testEngine({ name: "postgres", open: () => PostgresKv.open(POSTGRES_URL, { table }), watch: true });
}
