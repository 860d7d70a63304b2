// The engine suite (every job-engine behaviour) on the sqlite adapter: bun:sqlite on Bun,
// node:sqlite on Node and Deno. Each case gets its own durable database file.
import { after } from "node:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteKv } from "../../adapters/sqlite/mod.ts";
import { testEngine } from "../../conformance/mod.ts";

const dir = mkdtempSync(join(tmpdir(), "kvq-sqlite-engine-"));
let n = 0;
after(() => rmSync(dir, { recursive: true, force: true }));

await testEngine({
  name: "sqlite",
  open: () => SqliteKv.open(join(dir, `${++n}.db`), { watchPollMs: 20 }),
  watch: true,
});
