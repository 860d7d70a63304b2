import { test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { readFileSync, writeFileSync } from "node:fs";
import { FileKv } from "../../adapters/file/mod.ts";
import type { FsLayer } from "../../adapters/file/fs.ts";
import { CorruptionError } from "../../src/errors.ts";
import { mulberry } from "./random.ts";
import { dump, enc, tempDir } from "./helpers.ts";
import { SimFs } from "./sim_fs.ts";

const HEADER = 16;

/**
 * A closed store with every kind of record: header, a compacted snapshot (two SNAPSHOT records
 * and SNAPSHOT_END), then five COMMITS records (one of them a group of three commits).
 * Returns the file, the record boundaries (starting with 0 and the header end), and the content
 * as of each boundary after the snapshot.
 */
async function buildStore(path: string, fs?: FsLayer) {
  let kv = await FileKv.open(path, { fs });
  for (let i = 0; i < 6; i++) await kv.atomic().set(["snap", i], enc(`entry ${i}`)).commit();
  await kv.atomic().set(["snap", "big"], enc("s".repeat(200))).commit();
  await kv.atomic().delete(["snap", 0]).commit();
  await kv.compact();
  await kv.close();
  kv = await FileKv.open(path, { fs });
  const snapshotEnd = kv.stats().fileBytes;
  const bounds = [snapshotEnd];
  const states = [await dump(kv)];
  const mark = async () => {
    bounds.push(kv.stats().fileBytes);
    states.push(await dump(kv));
  };
  await kv.atomic().set(["c", 1], enc("one")).commit();
  await mark();
  const first = kv.atomic().set(["c", 2], enc("two")).commit();
  const group = [3, 4, 5].map((i) => kv.atomic().check(["c", i], null).set(["c", i], enc(`#${i}`)).commit());
  await first;
  await mark();
  await Promise.all(group);
  await mark();
  await kv.atomic().set(["c", 1], enc("one again")).delete(["snap", 1]).commit();
  await mark();
  await kv.atomic().set(["c", 6], enc("last")).commit();
  await mark();
  await kv.close();
  return { bounds, states };
}

/** The index k such that byte `pos` lies in the commit record [bounds[k-1], bounds[k]). */
function recordOf(bounds: number[], pos: number): number {
  let k = 1;
  while (bounds[k] <= pos) k++;
  return k;
}

/** Opens a damaged copy and checks the rule; returns "corrupt" or "torn". */
async function checkDamaged(
  path: string,
  fs: FsLayer | undefined,
  firstDamaged: number,
  bounds: number[],
  states: string[][],
  what: string,
): Promise<"corrupt" | "torn"> {
  const last = bounds.length - 1;
  let kv: FileKv;
  try {
    kv = await FileKv.open(path, { fs });
  } catch (e) {
    assert.ok(e instanceof CorruptionError, `${what}: ${e}`);
    // The error points at the damaged record (the header and snapshot section count as records
    // starting at 0 and at the header's end).
    const expected = firstDamaged < HEADER
      ? 0
      : firstDamaged < bounds[0]
      ? undefined
      : bounds[recordOf(bounds, firstDamaged) - 1];
    if (expected !== undefined) assert.equal(e.offset, expected, `${what}: ${e.message}`);
    else assert.ok(e.offset! >= HEADER && e.offset! <= firstDamaged, `${what}: ${e.message}`);
    assert.ok(
      firstDamaged < bounds[last - 1] || firstDamaged < bounds[0],
      `${what}: the last record was reported corrupt`,
    );
    return "corrupt";
  }
  // Not an error: only damage reaching the last record may be taken for a torn tail, and then
  // the store lost exactly the records from the first damaged one on, and said so.
  const k = recordOf(bounds, firstDamaged);
  assert.ok(firstDamaged >= bounds[0], `${what}: snapshot damage was not detected`);
  assert.equal(kv.recovery.truncatedAt, bounds[k - 1], what);
  assert.deepEqual(await dump(kv), states[k - 1], what);
  await kv.close();
  return "torn";
}

test("FileKv corruption: one flipped bit at every byte of a closed store is always detected (real files)", async () => {
  const t = tempDir();
  try {
    const { bounds, states } = await buildStore(t.path);
    const bytes = readFileSync(t.path);
    const last = bounds.length - 1;
    const seen = { corrupt: 0, torn: 0 };
    for (let pos = 0; pos < bytes.length; pos++) {
      const damaged = new Uint8Array(bytes);
      damaged[pos] ^= 1 << (pos % 8);
      writeFileSync(t.path, damaged);
      seen[await checkDamaged(t.path, undefined, pos, bounds, states, `bit ${pos % 8} of byte ${pos}`)]++;
    }
    if (process.env.KVQ_FIGURES) {
      console.log(
        `corruption (real files): ${bytes.length} flips, ${seen.corrupt} CorruptionError, ${seen.torn} torn tail (last record ${
          bounds[last] - bounds[last - 1]
        } bytes)`,
      );
    }
    // Every byte before the last record is reported as corruption; the last record's as torn.
    assert.equal(seen.torn, bounds[last] - bounds[last - 1]);
    assert.equal(seen.corrupt, bounds[last - 1]);
  } finally {
    t.cleanup();
  }
});

test("FileKv corruption: every single-bit flip of a closed store is detected (simulated disk, all 8 bits)", async () => {
  const sim = new SimFs();
  const path = "/data/store.kvq";
  const { bounds, states } = await buildStore(path, sim);
  const bytes = sim.file(path);
  const last = bounds.length - 1;
  const seen = { corrupt: 0, torn: 0 };
  for (let pos = 0; pos < bytes.length; pos++) {
    for (let bit = 0; bit < 8; bit++) {
      const damaged = bytes.slice();
      damaged[pos] ^= 1 << bit;
      sim.setFile(path, damaged);
      seen[await checkDamaged(path, sim, pos, bounds, states, `bit ${bit} of byte ${pos}`)]++;
    }
  }
  if (process.env.KVQ_FIGURES) {
    console.log(
      `corruption (all bits): ${
        8 * bytes.length
      } flips, ${seen.corrupt} CorruptionError, ${seen.torn} torn tail`,
    );
  }
  assert.equal(seen.torn, 8 * (bounds[last] - bounds[last - 1]));
  assert.equal(seen.corrupt, 8 * bounds[last - 1]);
});

test("FileKv corruption: random bursts of damage are detected or cut as a reported torn tail", async () => {
  const sim = new SimFs();
  const path = "/data/store.kvq";
  const { bounds, states } = await buildStore(path, sim);
  const bytes = sim.file(path);
  const random = mulberry(20240601);
  const seen = { corrupt: 0, torn: 0 };
  for (let i = 0; i < 2000; i++) {
    const damaged = bytes.slice();
    const len = 1 + Math.floor(random() * 32);
    const at = Math.floor(random() * (bytes.length - 1));
    let first = -1;
    for (let j = at; j < Math.min(at + len, bytes.length); j++) {
      const before = damaged[j];
      damaged[j] = Math.floor(random() * 256);
      if (first < 0 && damaged[j] !== before) first = j;
    }
    if (first < 0) continue;
    sim.setFile(path, damaged);
    seen[await checkDamaged(path, sim, first, bounds, states, `burst of ${len} at ${at}`)]++;
  }
  if (process.env.KVQ_FIGURES) {
    console.log(
      `corruption (bursts): ${
        seen.corrupt + seen.torn
      } bursts, ${seen.corrupt} CorruptionError, ${seen.torn} torn tail`,
    );
  }
  assert.ok(seen.corrupt > 1000 && seen.torn > 10, JSON.stringify(seen));
});
