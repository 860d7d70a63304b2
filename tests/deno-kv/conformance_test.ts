// The exported conformance suite against the deno-kv adapter: Deno.openKv on Deno, the @deno/kv
// package on Node and Bun (the same file). Every case gets its own database file, so the
// durability cases can reopen it. Cases are skipped only by declared capability (the store does
// not declare watch), exactly as testAdapter does.
import { after } from "node:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { testAdapter } from "../../conformance/mod.ts";
import { DenoKv } from "../../adapters/deno-kv/mod.ts";

const dir = mkdtempSync(join(tmpdir(), "kvq-denokv-conformance-"));
const file = (id: string) => join(dir, `${id}.sqlite3`);
const native = typeof (globalThis as { Deno?: { openKv?: unknown } }).Deno?.openKv === "function";
after(() => rmSync(dir, { recursive: true, force: true }));

await testAdapter({
  name: `deno-kv (${native ? "Deno.openKv" : "@deno/kv"})`,
  open: (ctx) => DenoKv.open(file(ctx.id)),
  destroy: (ctx) => {
    for (const suffix of ["", "-wal", "-shm"]) rmSync(file(ctx.id) + suffix, { force: true });
  },
  capabilities: { durable: true, watch: false },
});
