import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CorruptionError, LimitError, StorageError, StoreClosedError } from "../../src/errors.ts";
import { compareKeys, type KvKeyPart } from "../../src/kv.ts";
import { defaultSqliteDriver, SqliteKv } from "../../adapters/sqlite/mod.ts";
import { openSqliteDatabase } from "../../adapters/sqlite/driver.ts";

const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";
const u8 = (...b: number[]) => Uint8Array.from(b);

async function inTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "kvq-sqlite-"));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

test("SqliteKv.open uses bun:sqlite on Bun and node:sqlite on Node and Deno", async () => {
  assert.equal(defaultSqliteDriver(), isBun ? "bun:sqlite" : "node:sqlite");
  const kv = await SqliteKv.open(":memory:");
  assert.equal(kv.driver, isBun ? "bun:sqlite" : "node:sqlite");
  await kv.close();
});

test("SqliteKv.info declares a durable machine-scope store for a file and a transient one for :memory:", async () => {
  await inTempDir(async (dir) => {
    const file = await SqliteKv.open(join(dir, "a.db"));
    assert.deepEqual(
      { ...file.info },
      {
        name: "sqlite",
        maxValueBytes: 1048576,
        maxKeyBytes: 2048,
        maxMutations: 10000,
        maxChecks: 10000,
        scope: "machine",
        durable: true,
        watch: true,
      },
    );
    await file.close();
    const normal = await SqliteKv.open(join(dir, "b.db"), { synchronous: "normal" });
    assert.equal(normal.info.durable, false);
    await normal.close();
    const mem = await SqliteKv.open(":memory:");
    assert.equal(mem.info.durable, false);
    assert.equal(mem.info.scope, "process");
    await mem.close();
  });
});

test("SqliteKv.open rejects bad options with TypeError and RangeError", async () => {
  await assert.rejects(SqliteKv.open(""), TypeError);
  await assert.rejects(SqliteKv.open(":memory:", { synchronous: "off" as "full" }), TypeError);
  await assert.rejects(SqliteKv.open(":memory:", { busyTimeoutMs: -1 }), RangeError);
});

test("SqliteKv lists keys of every part type in the codec's order, forward and reverse", async () => {
  const kv = await SqliteKv.open(":memory:");
  const parts: KvKeyPart[] = [
    u8(),
    u8(0),
    u8(0, 0),
    u8(1),
    u8(255),
    "",
    "\0",
    "a",
    "a\0",
    "b",
    "é",
    -(2n ** 70n),
    -256n,
    -1n,
    0n,
    1n,
    255n,
    256n,
    2n ** 64n,
    2n ** 70n,
    -Infinity,
    -1e300,
    -1,
    -0,
    0,
    Number.MIN_VALUE,
    1,
    1.5,
    Infinity,
    NaN,
    false,
    true,
  ];
  const shuffled = [...parts].sort(() => Math.random() - 0.5);
  for (const p of shuffled) await kv.atomic().set(["o", p], u8(1)).commit();
  const expected = [...parts].sort((a, b) => compareKeys([a], [b]));
  const listed = (await collect(kv.list({ prefix: ["o"] }))).map((e) => e.key[1]);
  assert.deepEqual(listed, expected);
  const reversed = (await collect(kv.list({ prefix: ["o"] }, { reverse: true }))).map((e) => e.key[1]);
  assert.deepEqual(reversed, [...expected].reverse());
  assert.ok(Object.is(listed[expected.indexOf(-0)], -0));
  await kv.close();
});

test("SqliteKv.list pages through more entries than one batch with limit, start and end", async () => {
  const kv = await SqliteKv.open(":memory:");
  const op = kv.atomic();
  for (let i = 0; i < 700; i++) op.set(["n", i], u8(i & 0xff));
  await op.commit();
  assert.equal((await collect(kv.list({ prefix: ["n"] }))).length, 700);
  const limited = await collect(kv.list({ prefix: ["n"] }, { limit: 300 }));
  assert.deepEqual(limited.map((e) => e.key[1]), Array.from({ length: 300 }, (_, i) => i));
  const window = await collect(
    kv.list({ prefix: ["n"], start: ["n", 100], end: ["n", 400] }, { reverse: true }),
  );
  assert.deepEqual(window.map((e) => e.key[1]), Array.from({ length: 300 }, (_, i) => 399 - i));
  assert.deepEqual(await collect(kv.list({ prefix: ["n"] }, { limit: 0 })), []);
  assert.deepEqual(
    await collect(kv.list({ start: ["n", 5], end: ["n", 7] })).then((r) => r.map((e) => e.key)),
    [
      ["n", 5],
      ["n", 6],
    ],
  );
  await kv.close();
});

test("SqliteKv commit with a null check creates a key exactly once among concurrent commits", async () => {
  const kv = await SqliteKv.open(":memory:");
  const results = await Promise.all(
    Array.from({ length: 10 }, (_, i) => kv.atomic().check(["k"], null).set(["k"], u8(i)).commit()),
  );
  assert.equal(results.filter((r) => r.ok).length, 1);
  assert.deepEqual((await kv.get(["k"]))?.value, u8(0));
  await kv.close();
});

test("SqliteKv gives every commit of one group its own increasing versionstamp", async () => {
  const kv = await SqliteKv.open(":memory:");
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) => kv.atomic().set(["g", i], u8(i)).commit()),
  );
  const stamps = results.map((r) => (r.ok ? r.versionstamp : ""));
  assert.deepEqual([...stamps].sort(), stamps);
  assert.equal(new Set(stamps).size, 20);
  for (let i = 0; i < 20; i++) assert.equal((await kv.get(["g", i]))?.versionstamp, stamps[i]);
  await kv.close();
});

test("SqliteKv applies nothing of a commit whose check fails, even inside a group", async () => {
  const kv = await SqliteKv.open(":memory:");
  const first = await kv.atomic().set(["a"], u8(1)).commit();
  assert.ok(first.ok);
  const [bad, good] = await Promise.all([
    kv.atomic().check(["a"], "00000000000000000000").set(["b"], u8(2)).delete(["a"]).commit(),
    kv.atomic().check(["a"], first.versionstamp).set(["c"], u8(3)).commit(),
  ]);
  assert.deepEqual(bad, { ok: false });
  assert.equal(good.ok, true);
  assert.equal(await kv.get(["b"]), null);
  assert.deepEqual((await kv.get(["a"]))?.value, u8(1));
  assert.deepEqual((await kv.get(["c"]))?.value, u8(3));
  assert.deepEqual(await kv.atomic().check(["a"], "not-a-versionstamp").commit(), { ok: false });
  await kv.close();
});

test("SqliteKv keeps the last of several mutations on one key and deletes absent keys quietly", async () => {
  const kv = await SqliteKv.open(":memory:");
  await kv.atomic().set(["d"], u8(1)).set(["d"], u8(2)).delete(["nothing"]).commit();
  assert.deepEqual((await kv.get(["d"]))?.value, u8(2));
  await kv.atomic().set(["d"], u8(3)).delete(["d"]).commit();
  assert.equal(await kv.get(["d"]), null);
  await kv.atomic().set([], u8(9)).commit();
  assert.deepEqual((await kv.get([]))?.value, u8(9));
  await kv.close();
});

test("SqliteKv.getMany reads present and absent keys in order", async () => {
  const kv = await SqliteKv.open(":memory:");
  await kv.atomic().set(["x", 1], u8(1)).set(["x", 3], u8(3)).commit();
  const got = await kv.getMany([["x", 1], ["x", 2], ["x", 3]]);
  assert.deepEqual(got.map((e) => e?.value ?? null), [u8(1), null, u8(3)]);
  await kv.close();
});

test("SqliteKv keeps committed data across close and reopen of the file", async () => {
  await inTempDir(async (dir) => {
    const path = join(dir, "durable.db");
    const a = await SqliteKv.open(path);
    const res = await a.atomic().set(["keep"], u8(7, 7)).commit();
    await a.close();
    const b = await SqliteKv.open(path);
    const entry = await b.get(["keep"]);
    assert.deepEqual(entry?.value, u8(7, 7));
    assert.equal(entry?.versionstamp, res.ok ? res.versionstamp : "");
    const next = await b.atomic().set(["more"], u8()).commit();
    assert.ok(next.ok && res.ok && next.versionstamp > res.versionstamp);
    await b.close();
  });
});

test("SqliteKv rejects values over maxValueBytes with LimitError and stores nothing", async () => {
  const kv = await SqliteKv.open(":memory:", { maxValueBytes: 10 });
  await assert.rejects(kv.atomic().set(["big"], new Uint8Array(11)).commit(), LimitError);
  assert.equal(await kv.get(["big"]), null);
  await kv.close();
});

test("SqliteKv rejects every operation after close with StoreClosedError", async () => {
  const kv = await SqliteKv.open(":memory:");
  const pending = kv.atomic().set(["p"], u8(1)).commit();
  await kv.close();
  assert.equal((await pending).ok, true, "a commit issued before close settles");
  await assert.rejects(kv.get(["p"]), StoreClosedError);
  await assert.rejects(kv.atomic().set(["p"], u8(2)).commit(), StoreClosedError);
  assert.throws(() => kv.list({ prefix: [] }), StoreClosedError);
});

test("SqliteKv.fromDatabase wraps a caller's handle and leaves it open", async () => {
  await inTempDir(async (dir) => {
    const db = await openSqliteDatabase(join(dir, "own.db"));
    const kv = SqliteKv.fromDatabase(db);
    assert.equal(kv.driver, "custom");
    await kv.atomic().set(["mine"], u8(1)).commit();
    await kv.close();
    assert.equal((db.prepare("SELECT count(*) AS n FROM kv").get() as { n: number }).n, 1);
    db.close();
  });
});

test("SqliteKv.open of a file that is not a database rejects with CorruptionError", async () => {
  await inTempDir(async (dir) => {
    const path = join(dir, "junk.db");
    writeFileSync(path, new Uint8Array(4096).fill(0x41));
    await assert.rejects(SqliteKv.open(path), CorruptionError);
  });
});

test("SqliteKv commit fails with StorageError BUSY after busyTimeoutMs while another connection writes", async () => {
  await inTempDir(async (dir) => {
    const path = join(dir, "busy.db");
    const kv = await SqliteKv.open(path, { busyTimeoutMs: 100 });
    await kv.atomic().set(["before"], u8(1)).commit();
    const other = await openSqliteDatabase(path);
    other.exec("BEGIN IMMEDIATE");
    const started = performance.now();
    const err = await kv.atomic().set(["during"], u8(2)).commit().then(() => null, (e) => e);
    const waited = performance.now() - started;
    assert.ok(err instanceof StorageError, `expected StorageError, got ${err}`);
    assert.equal(err.code, "BUSY");
    assert.ok(waited >= 80, `waited only ${waited.toFixed(0)} ms before giving up`);
    assert.deepEqual((await kv.get(["before"]))?.value, u8(1), "reads go on while another connection writes");
    other.exec("ROLLBACK");
    other.close();
    assert.equal((await kv.atomic().set(["after"], u8(3)).commit()).ok, true);
    assert.equal(await kv.get(["during"]), null);
    await kv.close();
  });
});

test("SqliteKv.watch wakes on commits under the prefix from this handle and from another connection", async () => {
  await inTempDir(async (dir) => {
    const path = join(dir, "watch.db");
    const kv = await SqliteKv.open(path, { watchPollMs: 10 });
    const other = await SqliteKv.open(path);
    const ac = new AbortController();
    const it = kv.watch(["q"], ac.signal)[Symbol.asyncIterator]();
    const first = it.next();
    await kv.atomic().set(["elsewhere"], u8(1)).commit();
    await kv.atomic().set(["q", 1], u8(1)).commit();
    assert.deepEqual(await first, { value: undefined, done: false });
    const second = it.next();
    await other.atomic().set(["q", 2], u8(2)).commit();
    assert.deepEqual(await second, { value: undefined, done: false });
    const third = it.next();
    ac.abort();
    assert.equal((await third).done, true);
    await other.close();
    await kv.close();
  });
});

test("SqliteKv fails only the faulty commit of a group, and applies nothing of it", async () => {
  const db = await openSqliteDatabase(":memory:");
  const kv = SqliteKv.fromDatabase(db);
  // A fault injected at the SQL level: writing the bytes DE AD aborts the statement.
  db.exec(
    "CREATE TRIGGER fault BEFORE INSERT ON kv WHEN NEW.v = x'dead' BEGIN SELECT RAISE(ABORT, 'injected fault'); END",
  );
  const [a, b, c] = await Promise.allSettled([
    kv.atomic().set(["a"], u8(1)).commit(),
    kv.atomic().set(["b1"], u8(2)).set(["b2"], u8(0xde, 0xad)).commit(),
    kv.atomic().set(["c"], u8(3)).commit(),
  ]);
  assert.equal(a.status === "fulfilled" && a.value.ok, true);
  assert.equal(c.status === "fulfilled" && c.value.ok, true);
  assert.equal(b.status, "rejected");
  assert.ok((b as PromiseRejectedResult).reason instanceof StorageError);
  assert.match(String((b as PromiseRejectedResult).reason.message), /injected fault/);
  assert.equal(await kv.get(["b1"]), null, "nothing of the failed commit is applied");
  assert.deepEqual((await kv.get(["a"]))?.value, u8(1));
  assert.deepEqual((await kv.get(["c"]))?.value, u8(3));
  const next = await kv.atomic().set(["d"], u8(4)).commit();
  assert.equal(next.ok, true, "the store goes on after a failed commit");
  await kv.close();
  db.close();
});
