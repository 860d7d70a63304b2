import { test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { FileKv } from "../../adapters/file/mod.ts";
import { nodeFs } from "../../adapters/file/fs.ts";
import type { KvCommitResult } from "../../src/kv.ts";
import { dec, enc, faulty, tempDir } from "./helpers.ts";

/** An FsLayer whose fdatasync calls wait until the test releases them, one at a time. */
function gatedFs() {
  const fs = faulty(nodeFs);
  const waiting: (() => Promise<void>)[] = [];
  // Open while the store opens (creating a log fsyncs); tests call hold() to start gating.
  let open = true;
  const inner = fs.fdatasync;
  fs.fdatasync = (fd) =>
    open ? inner(fd) : new Promise<void>((resolve, reject) => {
      waiting.push(() => inner(fd).then(resolve, reject));
    });
  const settle = () => new Promise((r) => setTimeout(r, 5));
  return {
    fs,
    waiting,
    /** Lets the oldest waiting fdatasync run, waits for it to finish (a busy disk is slow), then for its effects. */
    async releaseOne() {
      for (let i = 0; i < 100 && waiting.length === 0; i++) await settle();
      assert.ok(waiting.length > 0, "no fdatasync is waiting");
      await waiting.shift()!().catch(() => {});
      await settle();
    },
    hold() {
      open = false;
    },
    async openGate() {
      open = true;
      while (waiting.length) waiting.shift()!();
      await settle();
    },
    async untilWaiting() {
      for (let i = 0; i < 100 && waiting.length === 0; i++) await settle();
    },
  };
}

test("FileKv group commit: 64 concurrent commits share far fewer fsyncs than commits", async () => {
  const t = tempDir();
  try {
    const fs = faulty(nodeFs);
    const kv = await FileKv.open(t.path, { fs });
    const syncsBefore = fs.faults.counts.fdatasync ?? 0;
    const n = 64;
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) => kv.atomic().set(["job", i], enc(`payload ${i}`)).commit()),
    );
    assert.ok(results.every((r) => r.ok));
    const syncs = (fs.faults.counts.fdatasync ?? 0) - syncsBefore;
    if (process.env.KVQ_FIGURES) {
      console.log(`group commit: ${n} concurrent commits, ${syncs} fsyncs, ${kv.stats().writes} writes`);
    }
    assert.ok(syncs >= 1 && syncs < n / 4, `${syncs} fsyncs for ${n} commits`);
    assert.equal(kv.stats().commits, n);
    assert.equal(kv.stats().syncs, syncs);
    // Versionstamps are distinct and follow submission order.
    const stamps = results.map((r) => r.ok ? r.versionstamp : "");
    assert.deepEqual([...stamps].sort(), stamps);
    assert.equal(new Set(stamps).size, n);
    await kv.close();
  } finally {
    t.cleanup();
  }
});

test("FileKv group commit: no commit resolves, and no read sees it, before its fsync", async () => {
  const t = tempDir();
  try {
    const g = gatedFs();
    const kv = await FileKv.open(t.path, { fs: g.fs });
    g.hold();
    const resolved = new Set<number>();
    const track = (i: number, p: Promise<KvCommitResult>) => p.then((r) => (resolved.add(i), r));
    // Commit 0 starts a write and waits in its fsync; 1..9 queue behind it meanwhile.
    const first = track(0, kv.atomic().set(["k", 0], enc("0")).commit());
    await g.untilWaiting();
    const rest = Array.from(
      { length: 9 },
      (_, i) => track(i + 1, kv.atomic().set(["k", i + 1], enc("x")).commit()),
    );
    assert.equal(resolved.size, 0);
    assert.equal(await kv.get(["k", 0]), null, "a read saw data that is not synced");
    await g.releaseOne(); // fsync of group 1 = commit 0
    assert.deepEqual([...resolved], [0]);
    assert.equal(dec((await kv.get(["k", 0]))?.value), "0");
    assert.equal(await kv.get(["k", 5]), null);
    await g.releaseOne(); // fsync of group 2 = commits 1..9, one write
    assert.equal(resolved.size, 10);
    assert.equal(kv.stats().writes, 2);
    await Promise.all([first, ...rest]);
    await g.openGate();
    await kv.close();
  } finally {
    t.cleanup();
  }
});

test("FileKv group commit: of 10 concurrent commits checking the same key absent, exactly one wins", async () => {
  const t = tempDir();
  try {
    const kv = await FileKv.open(t.path);
    const results = await Promise.all(
      Array.from(
        { length: 10 },
        (_, i) => kv.atomic().check(["lock"], null).set(["lock"], enc(`${i}`)).commit(),
      ),
    );
    assert.equal(results.filter((r) => r.ok).length, 1);
    const winner = results.findIndex((r) => r.ok);
    assert.equal(dec((await kv.get(["lock"]))?.value), `${winner}`);
    await kv.close();
  } finally {
    t.cleanup();
  }
});

test("FileKv group commit: a queued commit's check sees an earlier queued delete and set", async () => {
  const t = tempDir();
  try {
    const g2 = gatedFs();
    const kv2 = await FileKv.open(t.path, { fs: g2.fs });
    assert.ok((await kv2.atomic().set(["a"], enc("1")).commit()).ok);
    g2.hold();
    const stampA = (await kv2.get(["a"]))!.versionstamp;
    const blocker = kv2.atomic().set(["other"], enc("x")).commit(); // occupies the writer
    await g2.untilWaiting();
    const del = kv2.atomic().check(["a"], stampA).delete(["a"]).commit(); // queued
    const recreate = kv2.atomic().check(["a"], null).set(["a"], enc("2")).commit(); // sees the delete
    const stale = kv2.atomic().check(["a"], stampA).set(["a"], enc("3")).commit(); // sees it too: fails
    const absent = kv2.atomic().check(["a"], null).set(["a"], enc("4")).commit(); // sees the re-create: fails
    await g2.openGate();
    const [r0, r1, r2, r3, r4] = await Promise.all([blocker, del, recreate, stale, absent]);
    assert.deepEqual([r0.ok, r1.ok, r2.ok, r3.ok, r4.ok], [true, true, true, false, false]);
    assert.equal(dec((await kv2.get(["a"]))?.value), "2");
    await kv2.close();
  } finally {
    t.cleanup();
  }
});

test("FileKv group commit: a failed check is answered only after the queued commits settle", async () => {
  const t = tempDir();
  try {
    const g = gatedFs();
    const kv = await FileKv.open(t.path, { fs: g.fs });
    g.hold();
    const first = kv.atomic().check(["k"], null).set(["k"], enc("1")).commit();
    await g.untilWaiting();
    let answered = false;
    const second = kv.atomic().check(["k"], null).set(["k"], enc("2")).commit().then((r) => {
      answered = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(answered, false);
    await g.openGate();
    assert.deepEqual([(await first).ok, (await second).ok], [true, false]);
    await kv.close();
  } finally {
    t.cleanup();
  }
});
