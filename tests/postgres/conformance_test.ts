// The exported conformance suite against the PostgreSQL adapter. Every case shares one table of
// this run (each works under its own key prefix; the durability cases reopen it), dropped after.
// Skips only when the server is unreachable (see _pg.ts for KVQ_POSTGRES_URL).
import { after, test } from "node:test";
import { testAdapter } from "../../conformance/mod.ts";
import { PostgresKv } from "../../adapters/postgres/mod.ts";
import { dropStore, POSTGRES_URL, tableName, unreachable } from "./_pg.ts";

const skip = await unreachable();
if (skip) {
  test("postgres: AtomicKv conformance", { skip }, () => {});
} else {
  const table = tableName("conformance");
  after(() => dropStore(table));
  await testAdapter({
    name: "postgres",
    open: () => PostgresKv.open(POSTGRES_URL, { table }),
    capabilities: { durable: true, watch: true },
  });
}
