// What the unstorage adapter adds to the contract: the key mapping (sortable hex, short path
// segments), the single-owner lock with its lease, the write-ahead record replayed on open, and
// the reopen cases of the conformance suite on the drivers that keep data across a reopen.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createStorage } from "unstorage";
import { conformanceCases } from "../../conformance/mod.ts";
import { UnstorageKv, type UnstorageStorage } from "../../adapters/unstorage/mod.ts";
import { entryKey, keyBytesOf } from "../../adapters/unstorage/keys.ts";
import { encodeJournal } from "../../adapters/unstorage/records.ts";
import { compareBytes, encodeKey } from "../../src/kv.ts";
import { StorageError, StoreLockedError } from "../../src/errors.ts";
import { openBackend, redisUnavailable } from "./_backends.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

describe("unstorage keys", () => {
  test("entryKey() round-trips through keyBytesOf() and sorts like the encoded bytes", () => {
    const keys = [[""], ["a"], ["a", 1], ["a", 1n], ["a\0"], [new Uint8Array(300)], [true], ["é"]];
    const encoded = keys.map((k) => encodeKey(k));
    for (const e of encoded) assert.deepEqual(keyBytesOf("b:d", entryKey("b:d", e)), e);
    const byText = [...encoded].sort((x, y) => {
      const [a, b] = [entryKey("b:d", x).replaceAll(":", ""), entryKey("b:d", y).replaceAll(":", "")];
      return a < b ? -1 : a > b ? 1 : 0;
    });
    assert.deepEqual(byText, [...encoded].sort(compareBytes));
  });

  test("entryKey() cuts long keys into segments of 128 characters and never names a key's directory", () => {
    const long = entryKey("b:d", new Uint8Array(200).fill(0xab));
    assert.ok(long.split(":").slice(2).every((s) => s.length <= 129));
    const exact = entryKey("b:d", new Uint8Array(64).fill(1));
    const longer = entryKey("b:d", new Uint8Array(65).fill(1));
    assert.notEqual(longer.split(":")[2], exact.split(":")[2]);
  });

  test("keyBytesOf() rejects a key under the data base that the adapter did not write", () => {
    assert.throws(() => keyBytesOf("b:d", "b:d:-x"), { name: "CorruptionError" });
    assert.throws(() => keyBytesOf("b:d", "b:d:abc"), { name: "CorruptionError" });
  });
});

describe("unstorage lock", () => {
  test("a second store on one base is refused with StoreLockedError until the first closes", async () => {
    const storage = createStorage();
    const kv = await UnstorageKv.open(storage, { base: "one" });
    await assert.rejects(UnstorageKv.open(storage, { base: "one" }), StoreLockedError);
    const other = await UnstorageKv.open(storage, { base: "two" });
    await other.close();
    await kv.close();
    const again = await UnstorageKv.open(storage, { base: "one" });
    await again.close();
    assert.equal(await storage.getItem("one.lock"), null);
  });

  test("a lock whose lease ran out (its owner crashed) is taken over on open", async () => {
    const storage = createStorage();
    await storage.setItem("b.lock", { owner: "dead", pid: 1, expiresAt: Date.now() - 1 });
    const kv = await UnstorageKv.open(storage, { base: "b" });
    assert.notEqual((await storage.getItem<{ owner: string }>("b.lock"))?.owner, "dead");
    await kv.close();
  });

  test("a store whose lock was taken over refuses every commit after it with code LOCKED", async () => {
    const storage = createStorage();
    const kv = await UnstorageKv.open(storage, { base: "b" });
    assert.equal((await kv.atomic().set(["k"], bytes("1")).commit()).ok, true);
    await storage.setItem("b.lock", { owner: "thief", expiresAt: Date.now() + 60_000 });
    await assert.rejects(kv.atomic().set(["k"], bytes("2")).commit(), (e) => {
      return e instanceof StorageError && e.code === "LOCKED";
    });
    await assert.rejects(kv.get(["k"]), (e) => e instanceof StorageError && e.code === "LOCKED");
    await kv.close();
    assert.equal((await storage.getItem<{ owner: string }>("b.lock"))?.owner, "thief");
  });

  test("the lease is renewed while the store is open", async () => {
    const storage = createStorage();
    const kv = await UnstorageKv.open(storage, { base: "b", leaseMs: 60 });
    const before = (await storage.getItem<{ expiresAt: number }>("b.lock"))!.expiresAt;
    await new Promise((r) => setTimeout(r, 150));
    const later = (await storage.getItem<{ expiresAt: number }>("b.lock"))!.expiresAt;
    assert.ok(later > before);
    await kv.close();
  });
});

describe("unstorage write-ahead record", () => {
  test("open() applies a complete record left by a crash, with its versionstamps and counter", async () => {
    const storage = createStorage();
    const kv = await UnstorageKv.open(storage, { base: "b" });
    await kv.atomic().set(["gone"], bytes("x")).commit();
    await kv.close();
    const mutations = [
      { keyBytes: encodeKey(["a"]), value: bytes("A"), seq: 7n },
      { keyBytes: encodeKey(["gone"]), value: null, seq: 7n },
    ];
    await storage.setItemRaw("b:journal", await encodeJournal({ seq: 7n, mutations }));
    const reopened = await UnstorageKv.open(storage, { base: "b" });
    assert.deepEqual(await reopened.get(["a"]), {
      key: ["a"],
      value: bytes("A"),
      versionstamp: "00000000000000000007",
    });
    assert.equal(await reopened.get(["gone"]), null);
    const next = await reopened.atomic().set(["n"], bytes("n")).commit();
    assert.ok(next.ok && next.versionstamp > "00000000000000000007");
    assert.equal(await storage.getItemRaw("b:journal"), null);
    await reopened.close();
  });

  test("open() drops a record cut short and applies none of it", async () => {
    const storage = createStorage();
    const record = await encodeJournal({
      seq: 1n,
      mutations: [{ keyBytes: encodeKey(["a"]), value: bytes("A"), seq: 1n }],
    });
    await storage.setItemRaw("b:journal", record.subarray(0, record.length - 1));
    const kv = await UnstorageKv.open(storage, { base: "b" });
    assert.equal(await kv.get(["a"]), null);
    assert.equal(await storage.getItemRaw("b:journal"), null);
    await kv.close();
  });
});

describe("unstorage options", () => {
  test("open() rejects a bad base, durable or limit with TypeError or RangeError", async () => {
    const storage = createStorage();
    await assert.rejects(UnstorageKv.open(storage, { base: "a::b" }), TypeError);
    await assert.rejects(UnstorageKv.open(storage, { base: "a/b" }), TypeError);
    await assert.rejects(UnstorageKv.open(storage, { durable: "yes" as never }), TypeError);
    await assert.rejects(UnstorageKv.open(storage, { leaseMs: 0 }), RangeError);
    await assert.rejects(UnstorageKv.open({} as never), TypeError);
  });

  test("info declares process scope, durable only when asked, and the driver's name", async () => {
    const storage = createStorage();
    const kv = await UnstorageKv.open(storage);
    assert.deepEqual([kv.info.scope, kv.info.durable, kv.info.watch, kv.driver], [
      "process",
      false,
      true,
      "memory",
    ]);
    await kv.close();
    const declared = await UnstorageKv.open(storage, { durable: true });
    assert.equal(declared.info.durable, true);
    await declared.close();
  });
});

// The durability cases of the conformance suite check what a reopen keeps: every entry with its
// versionstamp, and greater versionstamps after it. The fs and Redis drivers keep data across a
// reopen, so the cases run on them here with `durable: true` declared for this test only: they
// check the reopen, not power loss (the fs driver does not fsync; see info.durable).
for (const driver of ["fs", "redis"] as const) {
  const skip = driver === "redis" ? await redisUnavailable() : false;
  if (skip) {
    test(`unstorage (${driver}) across close and reopen`, { skip }, () => {});
    continue;
  }
  const backend = await openBackend(driver);
  after(() => backend.cleanup());
  const cases = conformanceCases({
    name: `unstorage (${driver})`,
    open: (ctx) => UnstorageKv.open(backend.storage, { base: `${backend.base}:${ctx.id}`, durable: true }),
  }).filter((c) => c.concern === "durability");
  describe(`unstorage (${driver}) across close and reopen`, () => {
    test("the suite has durability cases", () => assert.ok(cases.length > 0));
    for (const c of cases) test(c.name, () => c.run());
  });
}

/** A memory Storage whose raw writes fail while `failing(key)` says so. */
function faulty(
  failing: (key: string) => boolean,
): { storage: ReturnType<typeof createStorage>; wrapped: UnstorageStorage } {
  const storage = createStorage();
  const wrapped: UnstorageStorage = {
    getItem: (k) => storage.getItem(k),
    setItem: (k, v) => storage.setItem(k, v as string),
    getItemRaw: (k) => storage.getItemRaw(k),
    removeItem: (k) => storage.removeItem(k),
    getKeys: (b) => storage.getKeys(b),
    setItemRaw: (k, v) => failing(k) ? Promise.reject(new Error("disk on fire")) : storage.setItemRaw(k, v),
  };
  return { storage, wrapped };
}

describe("unstorage faults", () => {
  test("a failed write-ahead record rejects with StorageError, applies nothing, and the store goes on", async () => {
    let fail = true;
    const { wrapped } = faulty((k) => fail && k.endsWith(":journal"));
    const kv = await UnstorageKv.open(wrapped, { base: "b" });
    await assert.rejects(kv.atomic().set(["a"], bytes("A")).commit(), (e) => {
      return e instanceof StorageError && e.code !== "OUTCOME_UNKNOWN" && /disk on fire/.test(e.message);
    });
    assert.equal(await kv.get(["a"]), null);
    fail = false;
    assert.equal((await kv.atomic().set(["a"], bytes("A")).commit()).ok, true);
    await kv.close();
  });

  test("a group that fails while applied rejects with OUTCOME_UNKNOWN, stops the store, and a reopen applies all of it", async () => {
    let fail = false;
    const { storage, wrapped } = faulty((k) => fail && k.endsWith(":seq"));
    const kv = await UnstorageKv.open(wrapped, { base: "b" });
    fail = true;
    await assert.rejects(
      kv.atomic().set(["a"], bytes("A")).set(["b"], bytes("B")).commit(),
      (e) => e instanceof StorageError && e.code === "OUTCOME_UNKNOWN",
    );
    await assert.rejects(kv.get(["a"]), (e) => e instanceof StorageError && e.code === "OUTCOME_UNKNOWN");
    await kv.close();
    const reopened = await UnstorageKv.open(storage, { base: "b" });
    const [a, b] = await reopened.getMany([["a"], ["b"]]);
    assert.deepEqual([a?.value, b?.value], [bytes("A"), bytes("B")]);
    assert.equal(a?.versionstamp, b?.versionstamp);
    await reopened.close();
  });
});
