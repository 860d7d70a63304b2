// What the IndexedDB adapter does beyond the contract, over fake-indexeddb: IndexedDB's binary key
// order is the codec's byte order, versionstamps continue across a reopen, watch reaches other
// stores on the same database through one coalesced BroadcastChannel message per tick, a store
// the caller made stays open, and a record that is not kvq's is a CorruptionError.
import "fake-indexeddb/auto";
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createStore, get, set } from "idb-keyval";
import { IndexedDbKv } from "../../adapters/indexeddb/mod.ts";
import { CorruptionError } from "../../src/errors.ts";
import { compareBytes, encodeKey, type KvKey } from "../../src/kv.ts";
import { seededRandom } from "../../mod.ts";
import { deleteDatabase } from "./_idb.ts";

let n = 0;
const fresh = () => `kvq-idb-test-${Date.now()}-${++n}`;
const u8 = (...b: number[]) => new Uint8Array(b);
const factory = (globalThis as unknown as { indexedDB: { cmp(a: unknown, b: unknown): number } }).indexedDB;

async function opened(dbName = fresh()): Promise<IndexedDbKv> {
  return await IndexedDbKv.open({ dbName, durable: false, scope: "process" });
}

describe("indexeddb adapter", () => {
  test("IndexedDB orders encoded keys exactly as compareBytes does", () => {
    const random = seededRandom(7);
    const keys: KvKey[] = [[""], ["a"], ["a\0"], [0], [-0], [1n], [-1n], [2n ** 70n], [true], [u8(0, 255)], [
      NaN,
    ]];
    for (let i = 0; i < 300; i++) {
      const bytes = Uint8Array.from({ length: Math.floor(random() * 6) }, () => Math.floor(random() * 256));
      keys.push([bytes, Math.floor(random() * 1000) - 500]);
    }
    const encoded = keys.map((k) => encodeKey(k));
    for (let i = 0; i < encoded.length; i++) {
      const a = encoded[i], b = encoded[(i * 7 + 3) % encoded.length];
      assert.equal(factory.cmp(a, b), Math.sign(compareBytes(a, b)), `${keys[i]} vs the other key`);
    }
  });

  test("versionstamps continue after close() and a reopen of the same database", async () => {
    const dbName = fresh();
    const a = await opened(dbName);
    const first = await a.atomic().set(["k"], u8(1)).commit();
    await a.close();
    const b = await opened(dbName);
    const second = await b.atomic().set(["j"], u8(2)).commit();
    assert.ok(first.ok && second.ok);
    assert.ok(second.versionstamp > first.versionstamp);
    assert.equal((await b.get(["k"]))?.versionstamp, first.versionstamp);
    const all = [];
    for await (const e of b.list({ start: [], end: [true, true] })) all.push(e.key);
    assert.deepEqual(all, [["j"], ["k"]], "the sequence record is never listed");
    const back = [];
    for await (const e of b.list({ start: [], end: [true, true] }, { reverse: true })) back.push(e.key);
    assert.deepEqual(back, [["k"], ["j"]], "nor listed in reverse");
    await b.close();
    await deleteDatabase(dbName);
  });

  test("a commit on one store wakes a watcher of another store on the same database", async () => {
    const dbName = fresh();
    const [a, b] = [await opened(dbName), await opened(dbName)];
    const stop = new AbortController();
    const it = b.watch(["jobs"], stop.signal)[Symbol.asyncIterator]();
    const woken = it.next();
    await a.atomic().set(["jobs", 1], u8(1)).commit();
    const result = await Promise.race([woken, new Promise((r) => setTimeout(() => r("timeout"), 2000))]);
    assert.deepEqual(result, { value: undefined, done: false });
    stop.abort();
    await a.close();
    await b.close();
    await deleteDatabase(dbName);
  });

  test("the commits of one tick post one BroadcastChannel message with every touched key", async () => {
    const dbName = fresh();
    const kv = await opened(dbName);
    const listener = new BroadcastChannel(`kvq-idb:${dbName}/kv`);
    const messages: { keys: Uint8Array[] }[] = [];
    listener.onmessage = (e) => messages.push(e.data);
    await Promise.all([1, 2, 3].map((i) => kv.atomic().set(["k", i], u8(i)).commit()));
    await new Promise((r) => setTimeout(r, 100));
    listener.close();
    assert.ok(messages.length >= 1 && messages.length <= 3, `${messages.length} messages`);
    const keys = messages.flatMap((m) => m.keys).map((k) => [...k].join(","));
    assert.deepEqual(keys.sort(), [1, 2, 3].map((i) => [...encodeKey(["k", i])].join(",")).sort());
    await kv.close();
    await deleteDatabase(dbName);
  });

  test("a store the caller made stays open after close()", async () => {
    const dbName = fresh();
    const store = createStore(dbName, "jobs");
    const kv = await IndexedDbKv.open({ store, dbName, storeName: "jobs", durable: false });
    await kv.atomic().set(["k"], u8(1)).commit();
    await kv.close();
    await set("mine", 42, store);
    assert.equal(await get("mine", store), 42);
  });

  test("a record that is not kvq's reads as a CorruptionError", async () => {
    const dbName = fresh();
    const store = createStore(dbName, "kv");
    const kv = await IndexedDbKv.open({ store, dbName, durable: false });
    await set(encodeKey(["x"]), "not a kvq record", store);
    await assert.rejects(kv.get(["x"]), CorruptionError);
    await kv.close();
  });

  test("open() rejects a bad dbName, store or scope with TypeError", async () => {
    await assert.rejects(IndexedDbKv.open({ dbName: "" }), TypeError);
    await assert.rejects(IndexedDbKv.open({ store: 1 as never }), TypeError);
    await assert.rejects(IndexedDbKv.open({ dbName: fresh(), scope: "cluster" }), TypeError);
  });
});
