// The engine suite (every job-engine behaviour) on the Deno KV adapter: Deno.openKv on Deno, the
// @deno/kv package on Node and Bun. Each case gets its own database file. The store declares no
// watch, so workers poll; its commits take real time, so nothing may assume I/O within a flush.
import { after } from "node:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DenoKv } from "../../adapters/deno-kv/mod.ts";
import { testEngine } from "../../conformance/mod.ts";

const dir = mkdtempSync(join(tmpdir(), "kvq-denokv-engine-"));
let n = 0;
after(() => rmSync(dir, { recursive: true, force: true }));

await testEngine({ name: "deno-kv", open: () => DenoKv.open(join(dir, `case-${++n}.sqlite3`)) });
