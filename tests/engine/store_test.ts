// The engine suite on the runtime's default durable store (openStore: Deno KV on Deno,
// bun:sqlite on Bun, node:sqlite on Node), each case in a fresh database file.
import { after } from "node:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore } from "../../adapters/store/mod.ts";
import { testEngine } from "../../conformance/mod.ts";

const dir = mkdtempSync(join(tmpdir(), "kvq-engine-"));
let n = 0;
after(() => rmSync(dir, { recursive: true, force: true }));

await testEngine({ name: "store", open: () => openStore(join(dir, `case-${++n}.db`)) });
