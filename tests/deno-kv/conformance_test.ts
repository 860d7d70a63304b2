// The exported conformance suite against the deno-kv adapter: Deno.openKv on Deno, the @deno/kv
// package on Node and Bun (the same file). Every case gets its own database file, so the
// durability cases can reopen it.
//
// Deno KV itself cannot hold two things the contract allows, so the cases that need them are
// registered as expected failures: each asserts that the case still fails, with the engine's
// reason in its name (if the engine learns them, the test fails and this list must shrink).
// Cases that need watch are skipped: the store does not declare it.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { conformanceCases } from "../../conformance/mod.ts";
import { DenoKv } from "../../adapters/deno-kv/mod.ts";

const dir = mkdtempSync(join(tmpdir(), "kvq-denokv-conformance-"));
const file = (id: string) => join(dir, `${id}.sqlite3`);
const native = typeof (globalThis as { Deno?: { openKv?: unknown } }).Deno?.openKv === "function";
const name = `deno-kv (${native ? "Deno.openKv" : "@deno/kv"})`;

/** Cases the engine cannot pass, and why. */
const knownFailures: Record<string, string> = {
  "list() orders bigints wider than 255 bytes by value":
    "Deno KV stores bigints of at most 255 bytes; wider ones reject with TypeError",
  ...(native
    ? {}
    : { "-0 and 0 are different keys and -0 sorts first": "@deno/kv encodes the key part -0 as 0" }),
};

const cases = conformanceCases({
  name,
  open: (ctx) => DenoKv.open(file(ctx.id)),
  destroy: (ctx) => {
    for (const suffix of ["", "-wal", "-shm"]) rmSync(file(ctx.id) + suffix, { force: true });
  },
  capabilities: { durable: true, watch: false },
});
const declared = { watch: false, durable: true };

describe(`${name}: AtomicKv conformance`, () => {
  for (const concern of [...new Set(cases.map((c) => c.concern))]) {
    describe(concern, () => {
      for (const c of cases.filter((c) => c.concern === concern)) {
        const why = knownFailures[c.name];
        if (why) {
          test(`${c.name} (known engine limit, expected to fail: ${why})`, async () => {
            await assert.rejects(c.run(), `"${c.name}" now passes: remove it from the known failures`);
          });
          continue;
        }
        const missing = c.requires.filter((cap) => !declared[cap]);
        const skip = missing.length > 0 ? `the store does not declare ${missing.join(", ")}` : false;
        test(c.name, { skip, timeout: 60_000 }, () => c.run());
      }
    });
  }
});

test("deno-kv conformance: every known failure names an existing case", () => {
  const names = new Set(cases.map((c) => c.name));
  for (const n of Object.keys(knownFailures)) assert.ok(names.has(n), `no conformance case named "${n}"`);
});
