import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LimitError, StoreClosedError } from "../../src/errors.ts";
import { compareBytes, compareKeys, encodeKey, type KvKey, type KvKeyPart } from "../../src/kv.ts";
import { DenoKv, type DenoKvHandle } from "../../adapters/deno-kv/mod.ts";

const deno = (globalThis as { Deno?: { openKv?: (path: string) => Promise<DenoKvHandle> } }).Deno;
const native = typeof deno?.openKv === "function";
const u8 = (...b: number[]) => Uint8Array.from(b);
/** The implementations this runtime has: Deno.openKv (Deno only) and @deno/kv (everywhere). */
const implementations = native ? (["deno", "npm"] as const) : (["npm"] as const);

/** A raw Deno KV handle of one implementation, for looking under the adapter. */
async function openHandle(implementation: "deno" | "npm"): Promise<DenoKvHandle> {
  if (implementation === "deno") return await deno!.openKv!(":memory:");
  const { openKv } = await import("@deno/kv");
  return await openKv(":memory:", {
    ...(typeof (globalThis as { Bun?: unknown }).Bun !== "undefined"
      ? { encodeV8: () => new Uint8Array(), decodeV8: () => null }
      : {}),
  }) as unknown as DenoKvHandle;
}

/** The handle, with a count of the atomic operations started on it. */
function counting(handle: DenoKvHandle): { handle: DenoKvHandle; atomics: () => number } {
  let n = 0;
  const wrapped: DenoKvHandle = {
    get: (k) => handle.get(k),
    getMany: (k) => handle.getMany(k),
    list: (s, o) => handle.list(s, o),
    atomic: () => {
      n++;
      return handle.atomic();
    },
    close: () => handle.close(),
  };
  return { handle: wrapped, atomics: () => n };
}

/** A key of exactly `bytes` encoded bytes (260..65539), as dense in 0x00 bytes as kvq keys get. */
function denseKey(bytes: number): KvKey {
  // A negative bigint whose magnitude is all 0xff bytes encodes as 0x0b, 0xfe, its 2-byte length
  // complemented, then only 0x00 bytes.
  const key = [-(2n ** BigInt(8 * (bytes - 4)) - 1n)];
  assert.equal(encodeKey(key).length, bytes);
  return key;
}

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
    maxKeyBytes: 1023,
    maxMutations: 1000,
    maxChecks: native ? 100 : 10,
    scope: "process",
    durable: false,
    watch: false,
    readKeys: 10,
  });
  await kv.close();
});

for (const implementation of implementations) {
  test(`DenoKv (${implementation}) stores keys in kvq's codec order for every part type, huge bigints and -0 included`, async () => {
    const kv = await DenoKv.open(":memory:", { implementation });
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
      -(2n ** 4000n),
      -(2n ** 2041n), // 256 bytes: wider than a native Deno KV key part may be
      -(2n ** 2040n),
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
      2n ** 2040n - 1n,
      2n ** 2040n,
      2n ** 4000n,
      -Infinity,
      -1e300,
      -1,
      -Number.MIN_VALUE,
      -0,
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
    for (const p of [...parts].reverse()) assert.ok((await kv.atomic().set(["o", p], u8(1)).commit()).ok);
    const expected = [...parts].sort((a, b) => compareKeys([a], [b]));
    const listed = (await collect(kv.list({ prefix: ["o"] }))).map((e) => e.key[1]);
    assert.deepEqual(listed, expected);
    assert.ok(
      Object.is(listed[listed.findIndex((p) => Object.is(p, 0)) - 1], -0),
      "-0 is listed as -0, just before 0",
    );
    const reversed = (await collect(kv.list({ prefix: ["o"] }, { reverse: true }))).map((e) => e.key[1]);
    assert.deepEqual(reversed, [...expected].reverse());
    for (const p of listed) {
      if (p instanceof Uint8Array) assert.equal(p.constructor, Uint8Array, "key parts are plain Uint8Arrays");
    }
    for (const p of parts) assert.ok(await kv.get(["o", p]), `get() finds ${String(p)}`);
    await kv.close();
  });

  test(`DenoKv (${implementation}) keeps -0 and 0 apart`, async () => {
    const kv = await DenoKv.open(":memory:", { implementation });
    await kv.atomic().set(["z", -0], u8(1)).set(["z", 0], u8(2)).commit();
    const entries = await collect(kv.list({ prefix: ["z"] }));
    assert.equal(entries.length, 2);
    assert.ok(Object.is(entries[0].key[1], -0));
    assert.deepEqual(entries.map((e) => e.value[0]), [1, 2]);
    assert.equal((await kv.get(["z", -0]))?.value[0], 1);
    await kv.close();
  });

  test(`DenoKv (${implementation}) stores each key as one bytes part holding encodeKey(key) and lists only those`, async () => {
    const handle = await openHandle(implementation);
    const kv = DenoKv.fromHandle(handle, { scope: "process", durable: false });
    await kv.atomic().set(["kvq", "job", 7n], u8(1)).commit();
    const raw = await collect(handle.list({ start: [u8()], end: [u8(255)] }));
    assert.equal(raw.length, 1);
    assert.equal(raw[0].key.length, 1);
    assert.deepEqual(raw[0].key[0], encodeKey(["kvq", "job", 7n]));
    // Keys other programs write in the same database are not kvq's: list() skips them.
    await handle.atomic().set([encodeKey(["kvq", "job"]), "foreign"] as never, u8(2)).commit();
    await handle.atomic().set(["kvq", "job", 7n] as never, u8(3)).commit();
    assert.deepEqual((await collect(kv.list({ prefix: ["kvq"] }))).map((e) => e.key), [["kvq", "job", 7n]]);
    await kv.close();
    handle.close();
  });

  test(`DenoKv (${implementation}) accepts keys of maxKeyBytes even when dense in 0x00, and rejects one byte more before Deno KV sees it`, async () => {
    const raw = await openHandle(implementation);
    // The engine's own limit that maxKeyBytes derives from: 2048 bytes of Deno KV key.
    assert.equal((await raw.atomic().set([new Uint8Array(1023)], u8(1)).commit()).ok, true); // 2 + 2 * 1023
    await assert.rejects(raw.atomic().set([new Uint8Array(1024)], u8(1)).commit()); // 2 + 2 * 1024
    raw.close();

    const { handle, atomics } = counting(await openHandle(implementation));
    const kv = DenoKv.fromHandle(handle, { scope: "process", durable: false });
    const max = kv.info.maxKeyBytes;
    assert.equal(max, 1023);
    const keys: KvKey[] = [denseKey(max), ["s", "k".repeat(max - 5)], [u8(...new Array(510).fill(0)), true]];
    for (const key of keys) {
      assert.equal(encodeKey(key).length, max);
      const res = await kv.atomic().check(key, null).set(key, u8(9)).commit();
      assert.equal(res.ok, true);
      assert.equal((await kv.get(key))?.value[0], 9);
      assert.deepEqual((await collect(kv.list({ start: key, end: [true] }))).map((e) => e.key), [key]);
      assert.ok((await kv.atomic().delete(key).commit()).ok);
    }
    const before = atomics();
    const over = denseKey(max + 1);
    for (
      const op of [
        () => kv.atomic().set(over, u8(1)).commit(),
        () => kv.atomic().check(over, null).set(["x"], u8(1)).commit(),
        () => kv.atomic().delete(over).commit(),
      ]
    ) {
      await assert.rejects(op(), (e) => e instanceof LimitError && e.kind === "keyBytes" && e.limit === max);
    }
    assert.equal(atomics(), before, "Deno KV saw an oversized key");
    assert.equal(await kv.get(over), null);
    assert.deepEqual(await kv.getMany([over, ["x"]]), [null, null]);
    await kv.close();
    handle.close();
  });
}

test("DenoKv lists with bounds longer than maxKeyBytes as if Deno KV took them", async () => {
  const kv = await DenoKv.open(":memory:");
  const max = kv.info.maxKeyBytes;
  const long = "k".repeat(max - 10);
  const keys: KvKey[] = [["l"], ["l", long], ["l", long + "a"], ["l", long + "b"], ["m"]];
  const op = kv.atomic();
  for (const k of keys) op.set(k, u8(1));
  assert.ok((await op.commit()).ok);
  const tooLong = ["l", long + "a".repeat(20)]; // longer than maxKeyBytes: after ["l", long + "a"]
  assert.ok(encodeKey(tooLong).length > max);
  const from = keys.filter((k) => compareBytes(encodeKey(k), encodeKey(tooLong)) >= 0);
  const to = keys.filter((k) => compareBytes(encodeKey(k), encodeKey(tooLong)) < 0);
  assert.equal(from.length, 2);
  for (const reverse of [false, true]) {
    const keysOf = (sel: Parameters<typeof kv.list>[0]) =>
      collect(kv.list(sel, { reverse })).then((es) => es.map((e) => e.key));
    const order = (ks: KvKey[]) => (reverse ? [...ks].reverse() : ks);
    assert.deepEqual(await keysOf({ start: tooLong, end: ["n"] }), order(from));
    assert.deepEqual(await keysOf({ start: [""], end: tooLong }), order(to));
    assert.deepEqual(await keysOf({ prefix: tooLong }), []);
    assert.deepEqual(await keysOf({ prefix: ["l"], start: tooLong }), order(from.slice(0, -1)));
    assert.deepEqual(await keysOf({ prefix: ["l"], end: tooLong }), order(to.slice(1)));
  }
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

test("DenoKv stores the empty key, and a prefix [] lists every other key but not it", async () => {
  const kv = await DenoKv.open(":memory:");
  assert.equal((await kv.atomic().check([], null).set([], u8(1)).set(["x"], u8(2)).commit()).ok, true);
  assert.equal((await kv.get([]))?.value[0], 1);
  assert.deepEqual((await collect(kv.list({ prefix: [] }))).map((e) => e.key), [["x"]]);
  assert.deepEqual((await collect(kv.list({ start: [], end: ["y"] }))).map((e) => e.key), [[], ["x"]]);
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
