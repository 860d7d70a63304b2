// The exported conformance suite against the IndexedDB adapter over fake-indexeddb (Node, Bun,
// Deno). Every case gets its own database, named by the case id, so the durability cases reopen
// it; fake-indexeddb keeps it in this process's memory, so the store declares durable: false and
// scope: "process", and the durability cases run in real Chromium (chromium_test.ts).
import "fake-indexeddb/auto";
import { testAdapter } from "../../conformance/mod.ts";
import { IndexedDbKv } from "../../adapters/indexeddb/mod.ts";
import { deleteDatabase } from "./_idb.ts";

await testAdapter({
  name: "indexeddb (fake-indexeddb)",
  open: (ctx) => IndexedDbKv.open({ dbName: ctx.id, durable: false, scope: "process" }),
  destroy: (ctx) => deleteDatabase(ctx.id),
  capabilities: { durable: false, watch: true },
});
