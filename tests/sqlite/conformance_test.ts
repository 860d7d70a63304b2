// The exported conformance suite against the sqlite adapter: bun:sqlite on Bun, node:sqlite on
// Node and Deno (the same file; each runtime picks its own driver). Every case gets its own
// database file, so the durability cases can reopen it.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { testAdapter } from "../../conformance/mod.ts";
import { SqliteKv } from "../../adapters/sqlite/mod.ts";

const dir = mkdtempSync(join(tmpdir(), "kvq-sqlite-conformance-"));
const file = (id: string) => join(dir, `${id}.db`);

await testAdapter({
  name: `sqlite (${
    typeof (globalThis as { Bun?: unknown }).Bun !== "undefined" ? "bun:sqlite" : "node:sqlite"
  })`,
  open: (ctx) => SqliteKv.open(file(ctx.id), { watchPollMs: 20 }),
  destroy: (ctx) => {
    for (const suffix of ["", "-wal", "-shm"]) rmSync(file(ctx.id) + suffix, { force: true });
  },
  capabilities: { durable: true, watch: true },
});
