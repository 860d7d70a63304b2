import { test } from "node:test";
import assert from "node:assert/strict";
import { MemoryKv } from "../../adapters/memory/mod.ts";
import { Committer, decodeCounts, keyId, type WriteUnit } from "../../src/committer.ts";
import { CountingKv } from "./_helpers.ts";

const one = new Uint8Array([1]);
const set = (k: string, delta?: WriteUnit["delta"]): WriteUnit => ({
  checks: [[["x", k], null]],
  sets: [[["x", k], one]],
  deletes: [],
  delta,
});

test("Committer packs concurrent writes into one commit and keeps the counts", async () => {
  const kv = new CountingKv(new MemoryKv());
  const c = new Committer(kv, ["counts"], ["delta"]);
  const res = await Promise.all(["a", "b", "c"].map((k) => c.write(set(k, { ready: 1 }))));
  assert.ok(res.every((r) => r.ok));
  assert.equal(kv.commits, 1);
  assert.equal((await c.readCounts()).ready, 3);
});

test("Committer fails only the unit whose own check fails", async () => {
  const kv = new MemoryKv();
  await kv.atomic().set(["x", "b"], one).commit();
  const c = new Committer(kv, ["counts"], ["delta"]);
  const res = await Promise.all(["a", "b", "c"].map((k) => c.write(set(k, { ready: 1 }))));
  assert.deepEqual(res.map((r) => r.ok), [true, false, true]);
  assert.equal((await c.readCounts()).ready, 2);
});

test("Committer puts two units touching one key in separate commits, in order", async () => {
  const kv = new CountingKv(new MemoryKv());
  const c = new Committer(kv, ["counts"], ["delta"]);
  const res = await Promise.all([c.write(set("k")), c.write(set("k"))]);
  assert.deepEqual(res.map((r) => r.ok), [true, false], "the second sees the first's write");
  assert.equal(kv.commits, 2);
});

test("Committer counts stay exact with two writers on one store, each on its own delta key", async () => {
  const kv = new MemoryKv();
  const a = new Committer(kv, ["counts"], ["delta"]);
  const b = new Committer(kv, ["counts"], ["delta"]);
  await a.write(set("1", { ready: 1 }));
  await b.write(set("2", { ready: 1 }));
  assert.equal((await a.write(set("3", { ready: 1 }))).ok, true);
  assert.equal((await a.readCounts()).ready, 3);
  assert.equal((await b.readCounts()).ready, 3);
});

test("Committer refuses a unit past maxQueued, or writes its overflow instead", async () => {
  const kv = new MemoryKv();
  const c = new Committer(kv, ["counts"], ["delta"], 2);
  const add = (k: string, overflow?: WriteUnit): WriteUnit => ({
    ...set(k, { ready: 1 }),
    room: 1,
    overflow,
  });
  const res = await Promise.all([c.write(add("a")), c.write(add("b")), c.write(add("c"))]);
  assert.deepEqual(res.map((r) => r.ok || r.full), [true, true, true]);
  assert.equal(res[2].ok, false);
  const dead = { ...set("d", { dead: 1 }) };
  const r = await c.write(add("d", dead));
  assert.ok(r.ok && r.overflowed);
  const counts = await c.readCounts();
  assert.deepEqual([counts.ready, counts.dead], [2, 1]);
});

test("Committer packs batches within the store's maxMutations", async () => {
  const kv = new MemoryKv({ maxMutations: 5 });
  const c = new Committer(kv, ["counts"], ["delta"]);
  const res = await Promise.all(["a", "b", "c", "d", "e", "f"].map((k) => c.write(set(k, { ready: 1 }))));
  assert.ok(res.every((r) => r.ok));
  assert.equal((await c.readCounts()).ready, 6);
});

test("Committer.foldDeltas moves transactional deltas into the counts once", async () => {
  const kv = new MemoryKv();
  const c = new Committer(kv, ["counts"], ["delta"]);
  const enc = new TextEncoder();
  await kv.atomic().set(["delta", "1"], enc.encode('{"ready":1}')).set(
    ["delta", "2"],
    enc.encode('{"ready":1}'),
  )
    .commit();
  assert.equal((await c.readCounts()).ready, 2);
  assert.equal(await c.foldDeltas(), 2);
  assert.equal(await c.foldDeltas(), 0);
  assert.equal((await c.readCounts()).ready, 2);
  assert.equal(decodeCounts((await kv.get(["counts"]))?.value).ready, 2, "folded into the base");
});

test("keyId is injective across part types", () => {
  const keys = [["a", 1], ["a", "1"], ["a", 1n], ["a", true], ["a1"], ["a", 0], ["a", -0], [
    new Uint8Array([97]),
  ]];
  const ids = new Set(keys.map((k) => keyId(k)));
  assert.equal(ids.size, keys.length);
  assert.equal(keyId(["a", 1]), keyId(["a", 1]));
});
