import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LimitError, StoreClosedError } from "../../src/errors.ts";
import { compareKeys, type KvKeyPart } from "../../src/kv.ts";
import { DenoKv, type DenoKvHandle } from "../../adapters/deno-kv/mod.ts";

const deno = (globalThis as { Deno?: { openKv?: (path: string) => Promise<DenoKvHandle> } }).Deno;
const native = typeof deno?.openKv === "function";
const u8 = (...b: number[]) => Uint8Array.from(b);

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function inTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "kvq-denokv-"));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("DenoKv.open uses Deno.openKv on Deno and @deno/kv on Node and Bun", async () => {
  const kv = await DenoKv.open(":memory:");
  assert.equal(kv.implementation, native ? "Deno.openKv" : "@deno/kv");
  await kv.close();
  if (!native) {
    await assert.rejects(DenoKv.open(":memory:", { implementation: "deno" }), TypeError);
  }
  const npm = await DenoKv.open(":memory:", { implementation: "npm" });
  assert.equal(npm.implementation, "@deno/kv");
  await npm.close();
});

test("DenoKv.info declares Deno KV's measured limits", async () => {
  const kv = await DenoKv.open(":memory:");
  assert.deepEqual({ ...kv.info }, {
    name: "deno-kv",
    maxValueBytes: 65536,
    maxKeyBytes: 2048,
    maxMutations: 1000,
    maxChecks: native ? 100 : 10,
    scope: "process",
    durable: false,
    watch: false,
  });
  await kv.close();
});

test("DenoKv native key order agrees with kvq's key codec for every part type", async () => {
  const kv = await DenoKv.open(":memory:");
  const parts: KvKeyPart[] = [
    u8(),
    u8(0),
    u8(0, 0),
    u8(0, 255),
    u8(1),
    u8(255),
    "",
    "\0",
    "a",
    "a\0",
    "ab",
    "b",
    "é",
    "😀",
    -(2n ** 70n),
    -(2n ** 64n),
    -256n,
    -255n,
    -1n,
    0n,
    1n,
    255n,
    256n,
    2n ** 63n,
    2n ** 64n,
    2n ** 70n,
    -Infinity,
    -1e300,
    -1,
    -Number.MIN_VALUE,
    0,
    Number.MIN_VALUE,
    1,
    1.5,
    2 ** 53,
    1e300,
    Infinity,
    NaN,
    false,
    true,
  ];
  if (native) parts.push(-0); // @deno/kv stores -0 as 0 (tested below)
  for (const p of [...parts].reverse()) await kv.atomic().set(["o", p], u8(1)).commit();
  const expected = [...parts].sort((a, b) => compareKeys([a], [b]));
  const listed = (await collect(kv.list({ prefix: ["o"] }))).map((e) => e.key[1]);
  assert.deepEqual(listed, expected);
  const reversed = (await collect(kv.list({ prefix: ["o"] }, { reverse: true }))).map((e) => e.key[1]);
  assert.deepEqual(reversed, [...expected].reverse());
  for (const p of listed) {
    if (p instanceof Uint8Array) assert.equal(p.constructor, Uint8Array, "key parts are plain Uint8Arrays");
  }
  await kv.close();
});

test("DenoKv keeps -0 and 0 apart with Deno.openKv, and as one key with @deno/kv", async () => {
  const kv = await DenoKv.open(":memory:");
  await kv.atomic().set(["z", -0], u8(1)).set(["z", 0], u8(2)).commit();
  const keys = (await collect(kv.list({ prefix: ["z"] }))).map((e) => e.key[1]);
  assert.equal(keys.length, native ? 2 : 1);
  await kv.close();
});

test("DenoKv commit with a null check creates a key exactly once among concurrent commits", async () => {
  const kv = await DenoKv.open(":memory:");
  const results = await Promise.all(
    Array.from({ length: 10 }, (_, i) => kv.atomic().check(["k"], null).set(["k"], u8(i)).commit()),
  );
  assert.equal(results.filter((r) => r.ok).length, 1);
  const won = results.findIndex((r) => r.ok);
  const entry = await kv.get(["k"]);
  assert.deepEqual(entry?.value, u8(won));
  assert.equal(entry?.value.constructor, Uint8Array, "values are plain Uint8Arrays");
  assert.equal(entry?.versionstamp, (results[won] as { versionstamp: string }).versionstamp);
  await kv.close();
});

test("DenoKv versionstamps are 20 hex digits that increase with every commit", async () => {
  const kv = await DenoKv.open(":memory:");
  const stamps: string[] = [];
  for (let i = 0; i < 5; i++) {
    const r = await kv.atomic().set(["v", i], u8(i)).commit();
    assert.ok(r.ok);
    stamps.push(r.versionstamp);
  }
  for (const s of stamps) assert.match(s, /^[0-9a-f]{20}$/);
  assert.deepEqual([...stamps].sort(), stamps);
  assert.equal(new Set(stamps).size, 5);
  await kv.close();
});

test("DenoKv applies nothing when a check fails, including a check with a foreign versionstamp", async () => {
  const kv = await DenoKv.open(":memory:");
  const first = await kv.atomic().set(["a"], u8(1)).commit();
  assert.ok(first.ok);
  assert.deepEqual(
    await kv.atomic().check(["a"], "00000000000000000000").set(["b"], u8(2)).delete(["a"]).commit(),
    { ok: false },
  );
  assert.deepEqual(await kv.atomic().check(["a"], "not-a-versionstamp").set(["b"], u8(2)).commit(), {
    ok: false,
  });
  assert.equal(await kv.get(["b"]), null);
  assert.equal((await kv.atomic().check(["a"], first.versionstamp).delete(["a"]).commit()).ok, true);
  assert.equal(await kv.get(["a"]), null);
  await kv.close();
});

test("DenoKv.list honours limit, reverse, start and end, and getMany reads more than 10 keys", async () => {
  const kv = await DenoKv.open(":memory:");
  const op = kv.atomic();
  for (let i = 0; i < 30; i++) op.set(["n", i], u8(i));
  await op.commit();
  assert.deepEqual((await collect(kv.list({ prefix: ["n"] }, { limit: 3 }))).map((e) => e.key[1]), [0, 1, 2]);
  assert.deepEqual(
    (await collect(kv.list({ prefix: ["n"], start: ["n", 10], end: ["n", 13] }, { reverse: true }))).map((
      e,
    ) => e.key[1]),
    [12, 11, 10],
  );
  assert.deepEqual((await collect(kv.list({ prefix: ["n"], start: ["n", 28] }))).map((e) => e.key[1]), [
    28,
    29,
  ]);
  assert.deepEqual((await collect(kv.list({ prefix: ["n"], end: ["n", 2] }))).map((e) => e.key[1]), [0, 1]);
  assert.deepEqual((await collect(kv.list({ start: ["n", 5], end: ["n", 7] }))).map((e) => e.key[1]), [5, 6]);
  assert.deepEqual(await collect(kv.list({ prefix: ["n"] }, { limit: 0 })), []);
  const many = await kv.getMany(Array.from({ length: 25 }, (_, i) => ["n", i * 2]));
  assert.deepEqual(
    many.map((e) => (e ? e.value[0] : null)),
    Array.from({ length: 25 }, (_, i) => i * 2 < 30 ? i * 2 : null),
  );
  await kv.close();
});

test("DenoKv turns Deno KV's limits into LimitError and stores nothing", async () => {
  const kv = await DenoKv.open(":memory:");
  await assert.rejects(kv.atomic().set(["big"], new Uint8Array(65537)).commit(), LimitError);
  const tooMany = kv.atomic();
  for (let i = 0; i < 1001; i++) tooMany.set(["m", i], u8());
  await assert.rejects(tooMany.commit(), LimitError);
  const heavy = kv.atomic();
  for (let i = 0; i < 13; i++) heavy.set(["h", i], new Uint8Array(65536));
  await assert.rejects(heavy.commit(), (e) => e instanceof LimitError && e.kind === "payloadBytes");
  assert.deepEqual(await collect(kv.list({ prefix: [] })), []);
  await kv.close();
});

test("DenoKv maps the engine's own limit errors to LimitError", async () => {
  const handle = native
    ? await deno!.openKv!(":memory:")
    : await (await import("@deno/kv")).openKv(":memory:", {
      ...(typeof (globalThis as { Bun?: unknown }).Bun !== "undefined"
        ? { encodeV8: () => new Uint8Array(), decodeV8: () => null }
        : {}),
    }) as unknown as DenoKvHandle;
  // Declare more checks than the engine takes, so the engine itself refuses the commit.
  const kv = DenoKv.fromHandle(handle, { maxChecks: 1000, scope: "process", durable: false });
  const op = kv.atomic();
  for (let i = 0; i < 101; i++) op.check(["c", i], null);
  await assert.rejects(op.commit(), (e) => e instanceof LimitError && e.kind === "checks");
  await kv.close();
  handle.close();
});

test("DenoKv rejects the empty key for writes and reads it as absent", async () => {
  const kv = await DenoKv.open(":memory:");
  await assert.rejects(kv.atomic().set([], u8(1)).commit(), TypeError);
  assert.equal(await kv.get([]), null);
  assert.deepEqual(await kv.atomic().check([], null).set(["x"], u8(1)).commit().then((r) => r.ok), true);
  await kv.close();
});

test("DenoKv keeps committed data across close and reopen of a file", async () => {
  await inTempDir(async (dir) => {
    const path = join(dir, "kv.sqlite3");
    const a = await DenoKv.open(path);
    assert.equal(a.info.durable, true);
    assert.equal(a.info.scope, "machine");
    const res = await a.atomic().set(["keep"], u8(4, 2)).commit();
    await a.close();
    const b = await DenoKv.open(path);
    const entry = await b.get(["keep"]);
    assert.deepEqual(entry?.value, u8(4, 2));
    assert.equal(entry?.versionstamp, res.ok ? res.versionstamp : "");
    await b.close();
  });
});

test("DenoKv rejects every operation after close with StoreClosedError, after pending commits settle", async () => {
  const kv = await DenoKv.open(":memory:");
  const pending = kv.atomic().set(["p"], u8(1)).commit();
  await kv.close();
  assert.equal((await pending).ok, true);
  await assert.rejects(kv.get(["p"]), StoreClosedError);
  await assert.rejects(kv.getMany([["p"]]), StoreClosedError);
  await assert.rejects(kv.atomic().set(["p"], u8(2)).commit(), StoreClosedError);
  assert.throws(() => kv.list({ prefix: [] }), StoreClosedError);
});
