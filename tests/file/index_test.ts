// The file store's packed index (adapters/file/index.ts) against the memory adapter's SortedMap:
// random sets and deletes, then every range in both directions must agree; values read back
// through readSync from a simulated log, with the length-prefix check.
import { test } from "node:test";
import assert from "node:assert/strict";
import { FileIndex, ValueScanner } from "../../adapters/file/index.ts";
import { FileKv } from "../../adapters/file/mod.ts";
import { SortedMap } from "../../adapters/_kit/sorted_map.ts";
import { StorageError } from "../../src/errors.ts";
import { SimFs } from "./sim_fs.ts";
import { dec, enc, tempDir } from "./helpers.ts";
import { mulberry } from "./random.ts";

/** A log whose values are `[u32 len][value]` at known offsets. */
async function logWith(values: Uint8Array[]): Promise<{ fs: SimFs; fd: number; at: number[] }> {
  const fs = new SimFs();
  const fd = await fs.open("/log", "w+");
  let pos = 16;
  const at: number[] = [];
  for (const v of values) {
    const rec = new Uint8Array(4 + v.length);
    new DataView(rec.buffer).setUint32(0, v.length, true);
    rec.set(v, 4);
    await fs.write(fd, rec, 0, rec.length, pos);
    at.push(pos + 4);
    pos += rec.length;
  }
  return { fs, fd, at };
}

function randomKey(rand: () => number): string {
  // Short keys with shared prefixes and bytes across the whole range, incl. 0x00 and 0xff.
  const n = 1 + Math.floor(rand() * 6);
  let s = rand() < 0.5 ? "job\x00" : "ready\x00\x02";
  for (let i = 0; i < n; i++) {
    s += String.fromCharCode(rand() < 0.2 ? (rand() < 0.5 ? 0 : 255) : Math.floor(rand() * 256));
  }
  return s;
}

function checkSame(index: FileIndex, ref: SortedMap<number>, rand: () => number): void {
  assert.equal(index.size, ref.size);
  const all = [...ref.range("", "\u0100")].map(([k]) => k);
  for (let t = 0; t < 20; t++) {
    const a = rand() < 0.3 ? "" : randomKey(rand);
    const b = rand() < 0.3 ? "\u0100" : randomKey(rand);
    for (const reverse of [false, true]) {
      const got = [...index.range(a, b, reverse)].map(([k, v]) => [k, Number(v.seq)]);
      const want = [...ref.range(a, b, reverse)];
      assert.deepEqual(got, want, `range ${JSON.stringify(a)}..${JSON.stringify(b)} reverse=${reverse}`);
    }
  }
  for (const k of all) assert.equal(index.seqOf(k), BigInt(ref.get(k)!));
  const scanned = [...index.scan()].length;
  assert.equal(scanned, ref.size);
}

for (const order of ["random", "ascending", "descending"] as const) {
  test(`FileIndex: ${order} inserts and deletes agree with SortedMap in both directions`, () => {
    const rand = mulberry(order.length * 7919);
    const index = new FileIndex(new SimFs());
    const ref = new SortedMap<number>();
    let counter = 0;
    const nextKey = () => {
      counter++;
      if (order === "random") return randomKey(rand);
      const n = order === "ascending" ? counter : 1e7 - counter;
      return "job\x00" + String(n).padStart(8, "0");
    };
    for (let round = 0; round < 6; round++) {
      for (let i = 0; i < 1500; i++) {
        const k = nextKey();
        const seq = round * 10000 + i + 1;
        index.set(k, seq, 0, 0);
        ref.set(k, seq);
      }
      // Delete about two thirds, in order or at random, so chunks empty and merge.
      const keys = [...ref.range("", "\u0100")].map(([k]) => k);
      for (const k of keys) {
        if (rand() < 0.66) {
          assert.equal(index.delete(k), true);
          ref.delete(k);
        }
      }
      assert.equal(index.delete("absent"), false);
      checkSame(index, ref, rand);
    }
    for (const [k] of [...ref.range("", "\u0100")]) index.delete(k);
    assert.equal(index.size, 0);
    assert.deepEqual([...index.range("", "\u0100")], []);
  });
}

test("FileIndex: long keys split chunks by bytes; replacing a key keeps one entry", () => {
  const index = new FileIndex(new SimFs());
  const ref = new SortedMap<number>();
  for (let i = 0; i < 300; i++) {
    const k = String(i % 97).padStart(3, "0") + "x".repeat(2000) + i;
    index.set(k, i + 1, 0, 0);
    ref.set(k, i + 1);
  }
  index.set(String(5).padStart(3, "0") + "x".repeat(2000) + 5, 999, 0, 0);
  ref.set(String(5).padStart(3, "0") + "x".repeat(2000) + 5, 999);
  checkSame(index, ref, mulberry(3));
});

test("FileIndex: values are read back from the log; a stale offset is a StorageError, not another value", async () => {
  const values = [
    new Uint8Array([1, 2, 3]),
    new Uint8Array(0),
    new TextEncoder().encode("hello"),
    new Uint8Array(300),
  ];
  const { fs, fd, at } = await logWith(values);
  const index = new FileIndex(fs);
  index.fd = fd;
  values.forEach((v, i) => index.set("k" + i, i + 1, at[i], v.length));
  for (let i = 0; i < values.length; i++) {
    const got = index.get("k" + i)!;
    assert.deepEqual([...got.value], [...values[i]]);
    assert.equal(got.seq, BigInt(i + 1));
  }
  assert.equal(index.get("nope"), undefined);
  assert.deepEqual([...index.range("k", "l")].map(([k, v]) => [k, v.value.length]), [
    ["k0", 3],
    ["k1", 0],
    ["k2", 5],
    ["k3", 300],
  ]);
  index.set("bad", 9, at[2] + 1, 5);
  assert.throws(() => index.get("bad"), StorageError);
  index.set("past", 9, at[3] + 1000, 5);
  assert.throws(() => index.get("past"), StorageError);
  index.fd = -1;
  assert.throws(() => index.get("k0"), StorageError);
  assert.equal(index.get("k1")!.value.length, 0, "an empty value needs no read");

  const scanner = new ValueScanner(fs, fd);
  for (let i = values.length - 1; i >= 0; i--) {
    assert.deepEqual([...scanner.read(at[i], values[i].length)], [...values[i]]);
  }
  assert.throws(() => scanner.read(at[2] + 1, 5), StorageError);
});

test("FileIndex: relocate switches every offset and the descriptor at once", async () => {
  const a = await logWith([new Uint8Array([1]), new Uint8Array([2])]);
  const index = new FileIndex(a.fs);
  index.fd = a.fd;
  index.set("a", 1, a.at[0], 1);
  index.set("b", 2, a.at[1], 1);
  const b = await a.fs.open("/log2", "w+");
  const rec = new Uint8Array([0, 0, 0, 0, 1, 0, 0, 0, 2, 1, 0, 0, 0, 1]);
  await a.fs.write(b, rec, 0, rec.length, 0);
  index.relocate(b, new Float64Array([13, 8]));
  assert.deepEqual([...index.get("a")!.value], [1]);
  assert.deepEqual([...index.get("b")!.value], [2]);
  assert.throws(() => index.relocate(b, new Float64Array(1)), RangeError);
});

test("FileIndex: keys that are prefixes of each other, bounds equal to keys, chunk prefixes that shrink", () => {
  const rand = mulberry(11);
  const index = new FileIndex(new SimFs());
  const ref = new SortedMap<number>();
  const base = ["a", "a\x00", "a\x00\x00", "a\x00\x01", "ab", "abc", "abd", "b", "\xff", "\xff\xff", "\x00"];
  const keys: string[] = [];
  // Long shared prefixes first, so chunks start with a long prefix that later keys shrink.
  for (let i = 0; i < 2000; i++) keys.push("pre\x00fix\x00" + String(i).padStart(5, "0"));
  for (const b of base) keys.push(b, "pre\x00fix\x00" + b, "pre\x00" + b);
  keys.forEach((k, i) => {
    index.set(k, i + 1, 0, 0);
    ref.set(k, i + 1);
  });
  checkSame(index, ref, rand);
  for (const a of keys.slice(-30)) {
    for (const b of keys.slice(-30)) {
      for (const reverse of [false, true]) {
        assert.deepEqual(
          [...index.range(a, b, reverse)].map(([k]) => k),
          [...ref.range(a, b, reverse)].map(([k]) => k),
        );
      }
    }
  }
  assert.equal(index.bytes(), keys.reduce((n, k) => n + k.length, 0));
});

test("FileKv values on disk: a list running across a compaction, reads after it, reopen, and a closed store", async () => {
  const t = tempDir();
  try {
    let kv = await FileKv.open(t.path, { autoCompact: false });
    for (let i = 0; i < 600; i++) {
      await kv.atomic().set(["k", i], enc(`value ${i} `.repeat(i % 7))).set(["e", i], new Uint8Array(0))
        .commit();
    }
    for (let i = 0; i < 600; i += 3) await kv.atomic().set(["k", i], enc(`new ${i}`)).commit();
    const want = (i: number) => (i % 3 === 0 ? `new ${i}` : `value ${i} `.repeat(i % 7));
    const seen: string[] = [];
    let n = 0;
    for await (const e of kv.list({ prefix: ["k"] })) {
      seen.push(dec(e.value)!);
      // Compact while the list is between its batches: later batches must read the new log.
      if (++n === 300) await kv.compact();
    }
    assert.equal(kv.stats().compactions, 1);
    assert.deepEqual(seen, Array.from({ length: 600 }, (_, i) => want(i)));
    for (let i = 0; i < 600; i += 37) assert.equal(dec((await kv.get(["k", i]))!.value), want(i));
    assert.equal((await kv.get(["e", 5]))!.value.length, 0);
    const many = await kv.getMany([["k", 1], ["k", 3], ["nope"]]);
    assert.deepEqual(many.map((e) => e && dec(e.value)), [want(1), want(3), null]);
    const iter = kv.list({ prefix: ["k"] })[Symbol.asyncIterator]();
    await iter.next();
    await kv.close();
    // A list still running after close must not read from a closed (maybe reused) descriptor.
    await assert.rejects(async () => {
      for (let r = await iter.next(); !r.done; r = await iter.next());
    }, StorageError);
    kv = await FileKv.open(t.path);
    for (let i = 0; i < 600; i += 29) assert.equal(dec((await kv.get(["k", i]))!.value), want(i));
    await kv.close();
  } finally {
    t.cleanup();
  }
});

test("FileIndex lookup of an absent key outside a chunk's shared prefix: get finds nothing, delete removes nothing", async () => {
  // A chunk of one entry shares its whole key as prefix; a key of the same length that does not
  // start with it used to match entry 0 (found by tests/fuzz: set ["k", 2] + delete ["k", 0]
  // in one commit lost ["k", 2]).
  const sim = new SimFs();
  const kv = await FileKv.open("/data/store.kvq", { fs: sim, reserveBytes: 0 });
  await kv.atomic().set(["k", 2], enc("two")).commit();
  assert.equal(await kv.get(["k", 0]).then((e) => e?.value), undefined);
  await kv.atomic().set(["k", 7], enc("seven")).delete(["k", 0]).commit();
  await kv.atomic().delete(["k", 1]).commit();
  assert.equal(dec((await kv.get(["k", 2]))?.value), "two");
  assert.equal(dec((await kv.get(["k", 7]))?.value), "seven");
  await kv.close();
  const again = await FileKv.open("/data/store.kvq", { fs: sim, reserveBytes: 0 });
  assert.equal(dec((await again.get(["k", 2]))?.value), "two");
  assert.equal(again.stats().entries, 2);
  await again.close();
});
