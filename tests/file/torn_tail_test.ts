import { test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { readFileSync, writeFileSync } from "node:fs";
import { FileKv } from "../../adapters/file/mod.ts";
import { dump, enc, tempDir } from "./helpers.ts";

/**
 * Builds a closed store whose last three records are: a group of three concurrent commits (one record), a
 * commit with a 1000-byte value, and a delete. Returns the file, the record boundaries and the
 * store's content as of each boundary.
 */
async function buildStore(path: string) {
  const kv = await FileKv.open(path);
  const bounds = [kv.stats().fileBytes];
  const states = [await dump(kv)];
  const mark = async () => {
    bounds.push(kv.stats().fileBytes);
    states.push(await dump(kv));
  };
  for (let i = 0; i < 5; i++) {
    await kv.atomic().set(["job", i], enc(`payload ${i}`)).commit();
    await mark();
  }
  // g0 is written alone; g1..g3 queue behind its fsync and go out as one record (one write).
  const g0 = kv.atomic().set(["g", 0], enc("zero")).commit();
  const group = [1, 2, 3].map((i) => kv.atomic().set(["g", i], enc(`g${i}`)).commit());
  assert.ok((await g0).ok);
  await mark(); // reads and fileBytes only ever show synced data, so this is g0's boundary
  assert.ok((await Promise.all(group)).every((r) => r.ok));
  await mark();
  assert.equal(kv.stats().writes, 7, "g1..g3 were not one write");
  await kv.atomic().set(["big"], enc("b".repeat(1000))).commit();
  await mark();
  await kv.atomic().delete(["job", 0]).set(["job", 1], enc("changed")).commit();
  await mark();
  await kv.close();
  return { bytes: readFileSync(path), bounds, states };
}

test("FileKv torn tail: a log cut at every byte offset of its last 3 records opens and loses only the cut records", async () => {
  const t = tempDir();
  try {
    const { bytes, bounds, states } = await buildStore(t.path);
    const last = bounds.length - 1;
    const from = bounds[last - 3];
    assert.equal(bytes.length, bounds[last]);
    let opened = 0;
    for (let cut = from; cut < bytes.length; cut++) {
      writeFileSync(t.path, bytes.subarray(0, cut));
      const kv = await FileKv.open(t.path);
      // The last boundary at or before the cut: everything up to it survives, nothing after it.
      let k = last;
      while (bounds[k] > cut) k--;
      assert.deepEqual(await dump(kv), states[k], `cut at ${cut}`);
      assert.equal(kv.recovery.truncatedBytes, cut - bounds[k], `cut at ${cut}`);
      assert.equal(kv.recovery.truncatedAt, cut === bounds[k] ? null : bounds[k]);
      assert.equal(kv.stats().fileBytes, bounds[k]);
      await kv.close();
      opened++;
    }
    if (process.env.KVQ_FIGURES) {
      console.log(
        `torn tail: ${opened} cut offsets over the last 3 records (bytes ${from}..${
          bytes.length - 1
        } of ${bytes.length}; records ${
          bounds.slice(-4).map((b, i, a) => i ? b - a[i - 1] : 0).slice(1).join(", ")
        } bytes)`,
      );
    }
    assert.equal(opened, bytes.length - from);
    assert.ok(opened > 1000, `only ${opened} offsets`);
  } finally {
    t.cleanup();
  }
});

test("FileKv torn tail: after a cut the store accepts commits and reopens cleanly", async () => {
  const t = tempDir();
  try {
    const { bytes, bounds, states } = await buildStore(t.path);
    const cut = bounds[bounds.length - 2] + 7;
    writeFileSync(t.path, bytes.subarray(0, cut));
    let kv = await FileKv.open(t.path);
    assert.equal(kv.recovery.truncatedBytes, 7);
    const r = await kv.atomic().set(["new"], enc("after recovery")).commit();
    assert.ok(r.ok);
    await kv.close();
    kv = await FileKv.open(t.path);
    assert.equal(kv.recovery.truncatedBytes, 0);
    const expected = [...states[states.length - 2], `["new"]=after recovery@${r.versionstamp}`].sort();
    assert.deepEqual(await dump(kv), expected);
    await kv.close();
  } finally {
    t.cleanup();
  }
});

test("FileKv torn tail: zeros or garbage after the last record are cut, nothing is lost", async () => {
  const t = tempDir();
  try {
    const { bytes, states } = await buildStore(t.path);
    const tails: [string, Uint8Array][] = [
      ["4096 zero bytes (size extended, data never written)", new Uint8Array(4096)],
      ["1 zero byte", new Uint8Array(1)],
      ["100 bytes of 0xff", new Uint8Array(100).fill(0xff)],
      ["seeded random bytes", Uint8Array.from({ length: 3000 }, (_, i) => (i * 2654435761) >>> 24)],
    ];
    for (const [name, tail] of tails) {
      const file = new Uint8Array(bytes.length + tail.length);
      file.set(bytes);
      file.set(tail, bytes.length);
      writeFileSync(t.path, file);
      const kv = await FileKv.open(t.path);
      assert.equal(kv.recovery.truncatedBytes, tail.length, name);
      assert.deepEqual(await dump(kv), states[states.length - 1], name);
      await kv.close();
      assert.equal(readFileSync(t.path).length, bytes.length, name);
    }
  } finally {
    t.cleanup();
  }
});
