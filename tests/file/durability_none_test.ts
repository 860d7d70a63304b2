// durability: "none" and power loss: nothing unsynced was promised, but the store must open, to a
// prefix of its commits (issue 16: it could raise CorruptionError when a later record survived a
// lost one).
import { test } from "node:test";
import assert from "node:assert/strict";
import { FileKv } from "../../adapters/file/mod.ts";
import { FLAG_UNSYNCED, HEADER_BYTES } from "../../adapters/file/format.ts";
import { dec, enc } from "./helpers.ts";
import { mulberry } from "./random.ts";
import { SimFs } from "./sim_fs.ts";

const PATH = "/data/store.kvq";

/** Commits ["c", i] and ["last"] = i for i in [from, from + n), unsynced; acknowledged one by one. */
async function writeUnsynced(kv: FileKv, from: number, n: number): Promise<void> {
  for (let i = from; i < from + n; i++) {
    await kv.atomic().set(["c", i], enc(`${i}`.repeat(40))).set(["last"], enc(`${i}`)).commit();
  }
}

/** The store holds exactly commits 0..last for some last: a prefix. Returns last. */
async function assertPrefix(kv: FileKv, written: number, what: string): Promise<number> {
  const last = Number(dec((await kv.get(["last"]))?.value) ?? -1);
  assert.ok(last < written, `${what}: last ${last} of ${written}`);
  let n = 0;
  for await (const e of kv.list({ prefix: ["c"] })) {
    assert.equal(e.key[1], n, `${what}: commit ${n} missing below ${last}`);
    assert.equal(dec(e.value), `${n}`.repeat(40));
    n++;
  }
  assert.equal(n, last + 1, `${what}: ${n} commits for last ${last}`);
  return last;
}

function flags(sim: SimFs): number {
  return new DataView(sim.file(PATH).buffer).getUint16(6, true);
}

test('FileKv durability "none": after power losses that drop unsynced sectors anywhere, every open succeeds with a prefix', async () => {
  const random = mulberry(16);
  let holes = 0;
  for (let round = 0; round < 60; round++) {
    let sim = new SimFs();
    // A synced base (the open with "fsync" syncs), then unsynced commits on top.
    const kv = await FileKv.open(PATH, { fs: sim, durability: "none", reserveBytes: 0 });
    assert.equal(flags(sim) & FLAG_UNSYNCED, FLAG_UNSYNCED, "the header says unsynced before any write");
    await writeUnsynced(kv, 0, 30 + Math.floor(random() * 40));
    const written = Number(dec((await kv.get(["last"]))?.value)) + 1;
    // Power loss: a random part of the unsynced data reached the disk, with 512-byte sectors zeroed
    // in between (written out of order): later records survive lost ones.
    sim = sim.crash({ torn: true, random });
    const reopened = await FileKv.open(PATH, { fs: sim, durability: "none", reserveBytes: 0 });
    if (reopened.recovery.truncatedBytes > 0) holes++;
    const last = await assertPrefix(reopened, written, `round ${round}`);
    // It goes on working, and the next open with the default durability clears the flag.
    await writeUnsynced(reopened, last + 1, 3);
    await reopened.close();
    const synced = await FileKv.open(PATH, { fs: sim, reserveBytes: 0 });
    assert.equal(await assertPrefix(synced, last + 4, `round ${round}, fsync reopen`), last + 3);
    await synced.close();
    assert.equal(flags(sim) & FLAG_UNSYNCED, 0, "a synced open clears the flag");
  }
  assert.ok(holes > 20, `only ${holes} rounds lost a part of the tail`);
});

test('FileKv durability "none" then a power loss, reopened with "fsync": recovers to a prefix, not CorruptionError', async () => {
  const random = mulberry(99);
  for (let round = 0; round < 30; round++) {
    let sim = new SimFs();
    const kv = await FileKv.open(PATH, {
      fs: sim,
      durability: "none",
      reserveBytes: 0,
      compactMinBytes: 4096,
    });
    await writeUnsynced(kv, 0, 80);
    sim = sim.crash({ torn: true, random });
    const again = await FileKv.open(PATH, { fs: sim, reserveBytes: 0 });
    await assertPrefix(again, 80, `round ${round}`);
    await again.close();
  }
});

test("FileKv with the default durability: a lost record followed by a valid one is still CorruptionError", async () => {
  const sim = new SimFs();
  const kv = await FileKv.open(PATH, { fs: sim, reserveBytes: 0 });
  await writeUnsynced(kv, 0, 20);
  await kv.close();
  const bytes = sim.file(PATH);
  assert.equal(new DataView(bytes.buffer).getUint16(6, true), 0);
  bytes.fill(0, HEADER_BYTES + 200, HEADER_BYTES + 260); // a hole in the middle
  sim.setFile(PATH, bytes);
  await assert.rejects(FileKv.open(PATH, { fs: sim, reserveBytes: 0 }), { code: "CORRUPT" });
});
