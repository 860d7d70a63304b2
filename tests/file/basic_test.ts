import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { FileKv } from "../../adapters/file/mod.ts";
import { crc32c } from "../../adapters/file/crc32c.ts";
import { CorruptionError, LimitError, StorageError, StoreClosedError } from "../../src/errors.ts";
import { dec, dump, enc, openOrError, tempDir } from "./helpers.ts";

test("crc32c matches the RFC 3720 and check-value test vectors", () => {
  assert.equal(crc32c(0, enc("123456789")), 0xe3069283);
  assert.equal(crc32c(0, new Uint8Array(32)), 0x8a9136aa);
  assert.equal(crc32c(0, new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  assert.equal(crc32c(0, Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
  assert.equal(crc32c(0, Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c);
  assert.equal(crc32c(0, new Uint8Array(0)), 0);
});

test("crc32c gives the same result fed in pieces as at once", () => {
  const data = Uint8Array.from({ length: 10007 }, (_, i) => (i * 131) & 0xff);
  const whole = crc32c(0, data);
  for (const step of [1, 3, 7, 8, 9, 64, 1000]) {
    let c = 0;
    for (let i = 0; i < data.length; i += step) c = crc32c(c, data, i, Math.min(i + step, data.length));
    assert.equal(c, whole, `step ${step}`);
  }
});

test("FileKv persists commits, deletes and versionstamps across reopen", async () => {
  const t = tempDir();
  try {
    let kv = await FileKv.open(t.path);
    assert.equal(kv.recovery.created, true);
    assert.deepEqual(
      { name: kv.info.name, durable: kv.info.durable, scope: kv.info.scope, watch: kv.info.watch },
      { name: "file", durable: true, scope: "process", watch: true },
    );
    for (let i = 0; i < 10; i++) await kv.atomic().set(["k", i], enc(`v${i}`)).commit();
    await kv.atomic().delete(["k", 3]).set(["k", 4], enc("four")).commit();
    const before = await dump(kv);
    await kv.close();
    kv = await FileKv.open(t.path);
    assert.equal(kv.recovery.created, false);
    assert.equal(kv.recovery.commits, 11);
    assert.equal(kv.recovery.truncatedBytes, 0);
    assert.deepEqual(await dump(kv), before);
    assert.equal(dec((await kv.get(["k", 4]))?.value), "four");
    assert.equal(await kv.get(["k", 3]), null);
    // Versionstamps keep increasing after a reopen.
    const r = await kv.atomic().set(["k", 99], enc("x")).commit();
    assert.ok(r.ok && r.versionstamp > (await kv.get(["k", 4]))!.versionstamp);
    await kv.close();
  } finally {
    t.cleanup();
  }
});

test("FileKv compact() keeps every entry and versionstamp and shrinks the log", async () => {
  const t = tempDir();
  try {
    let kv = await FileKv.open(t.path);
    for (let i = 0; i < 200; i++) await kv.atomic().set(["hot", i % 5], enc(`v${i}`)).commit();
    await kv.atomic().set(["bin", new Uint8Array([0, 1, 0xff])], new Uint8Array([0, 0, 0])).commit();
    const before = await dump(kv);
    const big = kv.stats().fileBytes;
    await kv.compact();
    assert.ok(kv.stats().fileBytes < big / 10, `${kv.stats().fileBytes} vs ${big}`);
    assert.deepEqual(await dump(kv), before);
    const r = await kv.atomic().set(["after"], enc("compaction")).commit();
    assert.equal(r.ok, true);
    await kv.close();
    kv = await FileKv.open(t.path);
    assert.deepEqual(await dump(kv), [...before, `["after"]=compaction@${r.ok && r.versionstamp}`].sort());
    await kv.close();
  } finally {
    t.cleanup();
  }
});

test("FileKv compacts automatically when the log outgrows the live data", async () => {
  const t = tempDir();
  try {
    const kv = await FileKv.open(t.path, { compactMinBytes: 4096, compactRatio: 2, durability: "none" });
    for (let i = 0; i < 300; i++) await kv.atomic().set(["same"], enc(`value ${i}`)).commit();
    assert.ok(kv.stats().compactions >= 1);
    assert.ok(kv.stats().fileBytes < 4096 + 200);
    assert.equal(dec((await kv.get(["same"]))?.value), "value 299");
    await kv.close();
    const again = await FileKv.open(t.path);
    assert.equal(dec((await again.get(["same"]))?.value), "value 299");
    await again.close();
  } finally {
    t.cleanup();
  }
});

test("FileKv with durability none declares itself not durable and skips fsync", async () => {
  const t = tempDir();
  try {
    const kv = await FileKv.open(t.path, { durability: "none" });
    assert.equal(kv.info.durable, false);
    await kv.atomic().set(["a"], enc("1")).commit();
    assert.equal(kv.stats().syncs, 0);
    await kv.close();
  } finally {
    t.cleanup();
  }
});

test("FileKv rejects values and commits over its limits with LimitError", async () => {
  const t = tempDir();
  try {
    const kv = await FileKv.open(t.path, { maxValueBytes: 100, maxMutations: 3 });
    await assert.rejects(kv.atomic().set(["a"], new Uint8Array(101)).commit(), LimitError);
    const op = kv.atomic();
    for (let i = 0; i < 4; i++) op.set(["m", i], new Uint8Array(1));
    await assert.rejects(op.commit(), LimitError);
    assert.equal(kv.stats().fileBytes, kv.recovery.fileBytes || kv.stats().fileBytes);
    await kv.close();
  } finally {
    t.cleanup();
  }
});

test("FileKv open rejects bad arguments with TypeError and RangeError", async () => {
  await assert.rejects(FileKv.open(""), TypeError);
  await assert.rejects(FileKv.open("/tmp/x.kvq", { maxValueBytes: -1 }), RangeError);
  await assert.rejects(FileKv.open("/tmp/x.kvq", { compactRatio: 1 }), RangeError);
});

test("FileKv operations after close() reject with StoreClosedError", async () => {
  const t = tempDir();
  try {
    const kv = await FileKv.open(t.path);
    await kv.close();
    await assert.rejects(kv.get(["a"]), StoreClosedError);
    await assert.rejects(kv.atomic().set(["a"], enc("1")).commit(), StoreClosedError);
    await assert.rejects(kv.compact(), StoreClosedError);
    await kv.close(); // idempotent
  } finally {
    t.cleanup();
  }
});

test("FileKv close() waits for queued commits to settle", async () => {
  const t = tempDir();
  try {
    const kv = await FileKv.open(t.path);
    const commits = Array.from({ length: 20 }, (_, i) => kv.atomic().set(["c", i], enc("x")).commit());
    await kv.close();
    const results = await Promise.all(commits);
    assert.ok(results.every((r) => r.ok));
    const again = await FileKv.open(t.path);
    assert.equal(again.recovery.entries, 20);
    await again.close();
  } finally {
    t.cleanup();
  }
});

test("FileKv turns an empty existing file into an empty store", async () => {
  const t = tempDir();
  try {
    writeFileSync(t.path, new Uint8Array(0));
    const kv = await FileKv.open(t.path);
    assert.equal(kv.recovery.created, true);
    await kv.atomic().set(["a"], enc("1")).commit();
    await kv.close();
    const again = await FileKv.open(t.path);
    assert.equal(dec((await again.get(["a"]))?.value), "1");
    await again.close();
  } finally {
    t.cleanup();
  }
});

test("FileKv refuses a file that is not a kvq log with CorruptionError at offset 0", async () => {
  const t = tempDir();
  try {
    writeFileSync(t.path, enc("this is a text file, not a kvq store\n"));
    const e = await openOrError(t.path);
    assert.ok(e instanceof CorruptionError, String(e));
    assert.equal(e.offset, 0);
    writeFileSync(t.path, enc("KVQ"));
    assert.ok((await openOrError(t.path)) instanceof CorruptionError);
  } finally {
    t.cleanup();
  }
});

test("FileKv refuses a log of an unknown format version with a StorageError", async () => {
  const t = tempDir();
  try {
    const kv = await FileKv.open(t.path);
    await kv.close();
    const bytes = readFileSync(t.path);
    bytes[4] = 9; // version
    const dv = new DataView(bytes.buffer, bytes.byteOffset);
    dv.setUint32(12, crc32c(0, bytes, 0, 12), true);
    writeFileSync(t.path, bytes);
    const e = await openOrError(t.path);
    assert.ok(e instanceof StorageError && !(e instanceof CorruptionError), String(e));
    assert.equal((e as StorageError).code, "VERSION");
  } finally {
    t.cleanup();
  }
});

test("FileKv watch() wakes after a durable commit under the prefix", async () => {
  const t = tempDir();
  try {
    const kv = await FileKv.open(t.path);
    const ac = new AbortController();
    const it = kv.watch(["q"], ac.signal)[Symbol.asyncIterator]();
    const next = it.next();
    await kv.atomic().set(["q", 1], enc("job")).commit();
    assert.deepEqual(await next, { value: undefined, done: false });
    ac.abort();
    await it.return?.();
    await kv.close();
  } finally {
    t.cleanup();
  }
});
