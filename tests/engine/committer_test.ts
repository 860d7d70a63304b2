import { test } from "node:test";
import assert from "node:assert/strict";
import { MemoryKv } from "../../adapters/memory/mod.ts";
import { Committer, decodeCounts, keyId, type WriteUnit } from "../../src/committer.ts";
import { CountingKv } from "../../conformance/engine/_helpers.ts";
import type { AtomicKv } from "../../src/kv.ts";

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

test("Committer.foldDeltas run twice at once folds each delta once", async () => {
  const kv = new MemoryKv();
  const a = new Committer(kv, ["counts"], ["delta"]);
  const b = new Committer(kv, ["counts"], ["delta"]);
  const enc = new TextEncoder();
  const op = kv.atomic();
  for (let i = 0; i < 20; i++) op.set(["delta", `tx${i}`], enc.encode('{"ready":1}'));
  // A writer that stopped long ago: its delta is stale, so any fold takes it.
  op.set(["delta", "w", "gone"], enc.encode(`{"ready":5,"at":${Date.now() - 3_600_000}}`));
  await op.commit();
  const [x, y] = await Promise.all([a.foldDeltas(), b.foldDeltas()]);
  assert.equal(x + y, 21, `folded ${x} + ${y}`);
  assert.equal((await a.readCounts()).ready, 25);
  assert.equal(decodeCounts((await kv.get(["counts"]))?.value).ready, 25, "all in the base");
});

test("Committer keeps its counts exact after a fold took its live delta", async () => {
  const kv = new CountingKv(new MemoryKv());
  const c = new Committer(kv, ["counts"], ["delta"], Infinity, "me");
  await c.write(set("a", { ready: 1 }));
  // Another process folds this writer's delta (as a fold of a writer it thought stopped would).
  const mine = (await kv.get(["delta", "w", "me"]))!;
  await kv.atomic().check(["delta", "w", "me"], mine.versionstamp).delete(["delta", "w", "me"])
    .set(["counts"], mine.value).commit();
  const before = kv.commits;
  assert.equal((await c.write(set("b", { ready: 1 }))).ok, true);
  assert.equal(kv.commits - before, 2, "one commit failed its check on the delta, the retry went through");
  assert.equal((await c.readCounts()).ready, 2);
});

test("Committer writes no shared key for state changes: two writers touch disjoint delta keys", async () => {
  const kv = new MemoryKv();
  const a = new Committer(kv, ["counts"], ["delta"], Infinity, "a");
  const b = new Committer(kv, ["counts"], ["delta"], Infinity, "b");
  await Promise.all([a.write(set("1", { ready: 1 })), b.write(set("2", { ready: 1 }))]);
  assert.equal(await kv.get(["counts"]), null, "the base is written only by folds");
  assert.equal(decodeCounts((await kv.get(["delta", "w", "a"]))?.value).ready, 1);
  assert.equal(decodeCounts((await kv.get(["delta", "w", "b"]))?.value).ready, 1);
});

test("Committer.readCounts is exact when a fold commits between its reads", async () => {
  const inner = new MemoryKv();
  const enc = new TextEncoder();
  await inner.atomic().set(["delta", "tx1"], enc.encode('{"ready":3}')).commit();
  const folder = new Committer(inner, ["counts"], ["delta"]);
  let raced = false;
  // A store whose first listing of the deltas waits for a fold to commit first.
  const kv: AtomicKv = {
    info: inner.info,
    get: (k) => inner.get(k),
    getMany: (ks) => inner.getMany(ks),
    atomic: () => inner.atomic(),
    close: () => inner.close(),
    list(sel, o) {
      if (raced) return inner.list(sel, o);
      raced = true;
      return (async function* () {
        assert.equal(await folder.foldDeltas(), 1);
        yield* inner.list(sel, o);
      })();
    },
  };
  const reader = new Committer(kv, ["counts"], ["delta"]);
  assert.equal((await reader.readCounts()).ready, 3, "not 0 (the delta gone, the old base read)");
  assert.ok(raced);
});
