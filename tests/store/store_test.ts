import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  detectRuntime,
  detectStoreFormat,
  isPostgresUrl,
  openStore,
  storePreference,
} from "../../adapters/store/mod.ts";
import { CorruptionError, StorageError } from "../../src/errors.ts";

const g = globalThis as { Deno?: unknown; Bun?: unknown };
const runtime = typeof g.Deno !== "undefined" ? "deno" : typeof g.Bun !== "undefined" ? "bun" : "node";

async function inTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "kvq-store-"));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("detectRuntime names the runtime running the test", () => {
  assert.equal(detectRuntime(), runtime);
  assert.deepEqual(storePreference("deno"), ["deno-kv", "sqlite"]);
  assert.deepEqual(storePreference("bun"), ["sqlite"]);
  assert.deepEqual(storePreference("node"), ["sqlite", "file"]);
});

test("openStore opens Deno KV on Deno, bun:sqlite on Bun and node:sqlite on Node, durable", async () => {
  await inTempDir(async (dir) => {
    const kv = await openStore(join(dir, "jobs.db"));
    const expected = {
      deno: { adapter: "deno-kv", driver: "Deno.openKv" },
      bun: { adapter: "sqlite", driver: "bun:sqlite" },
      node: { adapter: "sqlite", driver: "node:sqlite" },
    }[runtime];
    assert.equal(kv.info.name, expected.adapter);
    assert.equal(kv.choice.adapter, expected.adapter);
    assert.equal(kv.choice.driver, expected.driver);
    assert.equal(kv.choice.runtime, runtime);
    assert.ok(kv.choice.reason.length > 0);
    assert.equal(kv.info.durable, true);
    await kv.close();
  });
});

test("openStore reopens the same data from the same path", async () => {
  await inTempDir(async (dir) => {
    const path = join(dir, "jobs.db");
    const a = await openStore(path);
    const res = await a.atomic().check(["job", 1], null).set(["job", 1], Uint8Array.of(1, 2)).commit();
    assert.equal(res.ok, true);
    await a.close();
    const b = await openStore(path);
    assert.deepEqual((await b.get(["job", 1]))?.value, Uint8Array.of(1, 2));
    await b.close();
  });
});

test("openStore with an adapter opens that adapter on any runtime", async () => {
  await inTempDir(async (dir) => {
    for (const adapter of ["sqlite", "file", "deno-kv"] as const) {
      const kv = await openStore(join(dir, `forced-${adapter}`), { adapter });
      assert.equal(kv.info.name, adapter);
      assert.equal(kv.choice.reason, `adapter "${adapter}" was requested`);
      assert.equal((await kv.atomic().set(["x"], Uint8Array.of(1)).commit()).ok, true);
      await kv.close();
    }
  });
});

test("openStore rejects an empty path and an unknown adapter with TypeError", async () => {
  await assert.rejects(openStore(""), TypeError);
  await assert.rejects(openStore("x.db", { adapter: "redis" as "file" }), TypeError);
});

test("openStore rejects a postgres URL with an embedded adapter and the postgres adapter with a path", async () => {
  await assert.rejects(openStore("postgres://db/jobs", { adapter: "sqlite" }), TypeError);
  await assert.rejects(openStore("jobs.db", { adapter: "postgres" }), TypeError);
  assert.equal(isPostgresUrl("postgresql://u@h:5432/db?table=t"), true);
  assert.equal(isPostgresUrl("./postgres/jobs.db"), false);
});

test("openStore opens a store already on disk with the adapter that wrote it, whatever the runtime's default", async () => {
  await inTempDir(async (dir) => {
    for (const adapter of ["file", "sqlite", "deno-kv"] as const) {
      const path = join(dir, `${adapter}.db`);
      const a = await openStore(path, { adapter });
      await a.atomic().set(["by"], new TextEncoder().encode(adapter)).commit();
      await a.close();
      assert.equal(await detectStoreFormat(path), adapter);
      const b = await openStore(path);
      assert.equal(b.info.name, adapter, `a ${adapter} store reopened by default`);
      assert.match(b.choice.reason, /already/);
      assert.equal(new TextDecoder().decode((await b.get(["by"]))?.value), adapter);
      await b.close();
    }
  });
});

test("openStore refuses a store of another format than the adapter requested, naming it, and leaves it unchanged", async () => {
  await inTempDir(async (dir) => {
    const path = join(dir, "sqlite.db");
    const a = await openStore(path, { adapter: "file" });
    await a.atomic().set(["x"], Uint8Array.of(1)).commit();
    await a.close();
    const before = readFileSync(path);
    for (const adapter of ["sqlite", "deno-kv"] as const) {
      await assert.rejects(
        openStore(path, { adapter }),
        (e) => e instanceof StorageError && e.code === "FORMAT" && /kvq file store/.test(e.message),
      );
    }
    assert.deepEqual(readFileSync(path), before);
  });
});

test("openStore refuses a file that is no kvq store with StorageError code FORMAT, never CorruptionError", async () => {
  await inTempDir(async (dir) => {
    const path = join(dir, "notes.db");
    writeFileSync(path, "just some notes, not a database\n");
    await assert.rejects(
      openStore(path),
      (e) => e instanceof StorageError && !(e instanceof CorruptionError) && e.code === "FORMAT",
    );
    assert.equal(readFileSync(path, "utf8"), "just some notes, not a database\n");
    assert.equal(await detectStoreFormat(join(dir, "missing.db")), null);
  });
});

/** An SQLite database file with no table: what a kill leaves between SQLite's header write and the schema. */
function sqliteWithoutTables(): Uint8Array {
  const page = new Uint8Array(4096);
  page.set(new TextEncoder().encode("SQLite format 3\0"), 0);
  page.set([0x10, 0x00, 2, 2, 0, 0x40, 0x20, 0x20], 16); // page size 4096, WAL, payload fractions
  page.set([0, 0, 0, 1, 0, 0, 0, 1], 24); // change counter 1, 1 page
  page.set([0, 0, 0, 4], 44); // schema format 4
  page.set([0, 0, 0, 1], 92); // version-valid-for
  page.set([0x0d, 0, 0, 0, 0, 0x10, 0, 0], 100); // page 1: a leaf table b-tree page with no cells
  return page;
}

test("openStore opens an SQLite file without a table (its creation was killed) as a new store, on every runtime", async () => {
  await inTempDir(async (dir) => {
    const path = join(dir, "store.db");
    writeFileSync(path, sqliteWithoutTables());
    assert.equal(await detectStoreFormat(path), null);
    const kv = await openStore(path);
    await kv.atomic().set(["k"], new Uint8Array([1])).commit();
    await kv.close();
    const again = await openStore(path);
    assert.deepEqual((await again.get(["k"]))?.value, new Uint8Array([1]));
    await again.close();
  });
});

test("an SQLite database with a table of its own is still refused, not taken for an empty one", async () => {
  await inTempDir(async (dir) => {
    const path = join(dir, "app.db");
    const bytes = sqliteWithoutTables();
    bytes.set([0, 1], 103); // one cell in the schema table
    writeFileSync(path, bytes);
    assert.equal(await detectStoreFormat(path), "other-sqlite");
    await assert.rejects(openStore(path), (e) => e instanceof StorageError && e.code === "FORMAT");
  });
});
