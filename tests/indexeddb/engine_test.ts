// The engine suite (every job-engine behaviour) on the IndexedDB adapter over fake-indexeddb.
// Each case gets its own database.
import "fake-indexeddb/auto";
import { IndexedDbKv } from "../../adapters/indexeddb/mod.ts";
import { testEngine } from "../../conformance/mod.ts";
import { deleteDatabase } from "./_idb.ts";

await testEngine({
  name: "indexeddb (fake-indexeddb)",
  open: (ctx) => IndexedDbKv.open({ dbName: ctx.id, durable: false, scope: "process" }),
  destroy: (ctx) => deleteDatabase(ctx.id),
  watch: true,
});
