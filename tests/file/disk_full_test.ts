import { test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileKv } from "../../adapters/file/mod.ts";
import { nodeFs } from "../../adapters/file/fs.ts";
import { LimitError, StorageError } from "../../src/errors.ts";
import { dec, dump, enc, faulty, fsError, tempDir } from "./helpers.ts";
import { SimFs } from "./sim_fs.ts";

function isStorageError(code: string) {
  return (e: unknown) => {
    assert.ok(e instanceof StorageError, `expected StorageError, got ${e}`);
    assert.equal(e.code, code);
    assert.equal(e.adapter, "file");
    return true;
  };
}

test("FileKv disk full: commits fail with StorageError ENOSPC, reads go on, commits work again when space returns", async () => {
  const t = tempDir();
  try {
    const fs = faulty(nodeFs);
    const kv = await FileKv.open(t.path, { fs });
    for (let i = 0; i < 10; i++) await kv.atomic().set(["done", i], enc(`acked ${i}`)).commit();
    const acked = await dump(kv);
    fs.faults.before = (op) => (op === "write" ? fsError("ENOSPC", "no space left on device") : undefined);
    // A burst of submits while the disk is full: every one fails, none is half-applied.
    const failing = Array.from({ length: 8 }, (_, i) => kv.atomic().set(["new", i], enc("x")).commit());
    for (const p of failing) await assert.rejects(p, isStorageError("ENOSPC"));
    await assert.rejects(kv.atomic().delete(["done", 0]).commit(), isStorageError("ENOSPC"));
    // Reads still work and show exactly the acknowledged data.
    assert.deepEqual(await dump(kv), acked);
    assert.equal(dec((await kv.get(["done", 3]))?.value), "acked 3");
    // Space returns: the same store (no restart) accepts commits again.
    fs.faults.before = null;
    const r = await kv.atomic().set(["new", "after"], enc("space is back")).commit();
    assert.ok(r.ok);
    await kv.close();
    const again = await FileKv.open(t.path);
    assert.equal(again.recovery.truncatedBytes, 0);
    assert.deepEqual(await dump(again), [...acked, `["new","after"]=space is back@${r.versionstamp}`].sort());
    await again.close();
  } finally {
    t.cleanup();
  }
});

test("FileKv disk full: a partial write is cut away before the next commit (simulated disk)", async () => {
  const sim = new SimFs();
  const path = "/data/store.kvq";
  const kv = await FileKv.open(path, { fs: sim });
  await kv.atomic().set(["a"], enc("small")).commit();
  const before = sim.file(path).length;
  sim.capacity = before + 100; // room for 100 more bytes
  // A 500-byte value: the write lands 100 bytes, then ENOSPC.
  await assert.rejects(kv.atomic().set(["big"], new Uint8Array(500)).commit(), isStorageError("ENOSPC"));
  assert.equal(sim.file(path).length, before, "the partial write was not cut");
  // A commit that fits still succeeds, and its record starts where the partial one did.
  assert.ok((await kv.atomic().set(["b"], enc("fits")).commit()).ok);
  sim.capacity = Infinity;
  assert.ok((await kv.atomic().set(["big"], new Uint8Array(500)).commit()).ok);
  const expected = await dump(kv);
  await kv.close();
  const reopened = await FileKv.open(path, { fs: sim.crash() });
  assert.equal(reopened.recovery.truncatedBytes, 0);
  assert.deepEqual(await dump(reopened), expected);
  await reopened.close();
});

test("FileKv disk full: queued commits are re-checked without the failed write's effects (no reserve)", async () => {
  const t = tempDir();
  try {
    const fs = faulty(nodeFs);
    // Without a reserve a write that fails for lack of space fails its commits at once.
    const kv = await FileKv.open(t.path, { fs, reserveBytes: 0 });
    assert.ok((await kv.atomic().set(["k"], enc("v1")).commit()).ok);
    await new Promise((r) => setTimeout(r, 0)); // the writer is idle: the next commit is written alone
    let writes = 0;
    fs.faults.before = (op) => (op === "write" && writes++ === 0 ? fsError("ENOSPC") : undefined);
    // The delete is written first and fails; the commit queued behind it had checked "k is
    // absent" against the pending delete: it must not go through on a state that never existed.
    const del = kv.atomic().delete(["k"]).commit();
    const recreate = kv.atomic().check(["k"], null).set(["k"], enc("v2")).commit();
    const unrelated = kv.atomic().set(["other"], enc("o")).commit();
    await assert.rejects(del, isStorageError("ENOSPC"));
    assert.deepEqual(await recreate, { ok: false });
    assert.ok((await unrelated).ok);
    assert.equal(dec((await kv.get(["k"]))?.value), "v1");
    await kv.close();
  } finally {
    t.cleanup();
  }
});

test("FileKv disk full: the reserve is released, the growth commit refused, the rest retried and re-checked", async () => {
  const t = tempDir();
  try {
    const fs = faulty(nodeFs);
    const kv = await FileKv.open(t.path, { fs, reserveBytes: 64 * 1024 });
    assert.deepEqual(kv.spaceReserve(), {
      bytes: 65536,
      retryMs: 1000,
      held: true,
      low: false,
      releases: 0,
      restores: 0,
    });
    assert.ok((await kv.atomic().set(["k"], enc("v1")).commit()).ok);
    await new Promise((r) => setTimeout(r, 0)); // the writer is idle: the next commit is written alone
    let writes = 0;
    fs.faults.before = (op) => (op === "write" && writes++ === 0 ? fsError("ENOSPC") : undefined);
    // The growth commit (a delete, to make its effect visible to the next check) is written first
    // and fails; the store frees its reserve, refuses the growth commit, and retries the others.
    const grow = kv.atomic().delete(["k"]).growth!().commit();
    const recreate = kv.atomic().check(["k"], null).set(["k"], enc("v2")).commit();
    const progress = kv.atomic().set(["other"], enc("o")).commit();
    await assert.rejects(
      grow,
      (e) => isStorageError("ENOSPC")(e) && /low on disk space/.test((e as Error).message),
    );
    assert.deepEqual(await recreate, { ok: false });
    assert.ok((await progress).ok);
    assert.equal(dec((await kv.get(["k"]))?.value), "v1");
    const state = kv.spaceReserve();
    assert.equal(state.low, true);
    assert.equal(state.releases, 1);
    assert.equal(existsSync(t.path + ".reserve"), false);
    // Low-space mode: growth is refused at once (no write), other commits go on.
    const before = fs.faults.counts.write;
    await assert.rejects(kv.atomic().set(["n"], enc("x")).growth!().commit(), isStorageError("ENOSPC"));
    assert.equal(fs.faults.counts.write, before);
    assert.ok((await kv.atomic().set(["other"], enc("o2")).commit()).ok);
    await kv.close();
  } finally {
    t.cleanup();
  }
});

test("FileKv low-space mode: a compaction that does not fit fails with ENOSPC and leaves the old log; one that fits frees space and ends the mode", async () => {
  const sim = new SimFs();
  const path = "/data/store.kvq";
  const kv = await FileKv.open(path, { fs: sim, reserveBytes: 64 * 1024, autoCompact: false });
  const kib = new Uint8Array(1024).fill(1);
  for (let i = 0; i < 100; i++) await kv.atomic().set(["live", i], kib).commit(); // ~100 KiB live
  for (let i = 0; i < 300; i++) await kv.atomic().set(["churn"], kib).commit(); // ~300 KiB garbage
  sim.capacity = sim.usedBytes(); // full
  assert.ok((await kv.atomic().set(["churn"], enc("small")).commit()).ok, "written on the reserve's room");
  assert.equal(kv.spaceReserve().low, true);
  // The compacted copy (~100 KiB) does not fit in the room left (~64 KiB): it fails, the
  // temporary file is gone, the old log is intact and the store goes on.
  const used = sim.usedBytes();
  const before = await dump(kv);
  await assert.rejects(kv.compact(), isStorageError("ENOSPC"));
  assert.equal(sim.exists(path + ".compact"), false);
  assert.equal(sim.usedBytes(), used, "the failed compaction left nothing behind");
  assert.deepEqual(await dump(kv), before);
  assert.ok((await kv.atomic().delete(["live", 0]).commit()).ok);
  assert.equal(kv.spaceReserve().low, true);
  // With 64 KiB more the copy fits: the compaction frees the garbage, and the store re-creates
  // its reserve at once (a compaction does not wait for the retry interval).
  sim.capacity += 64 * 1024;
  await kv.compact();
  assert.equal(kv.spaceReserve().low, false);
  assert.equal(kv.spaceReserve().restores, 1);
  const expected = await dump(kv);
  await kv.close();
  const reopened = await FileKv.open(path, { fs: sim.crash() });
  assert.deepEqual(await dump(reopened), expected);
  await reopened.close();
});

test("FileKv write errors: EIO on write rejects with StorageError EIO and the store goes on", async () => {
  const t = tempDir();
  try {
    const fs = faulty(nodeFs);
    const kv = await FileKv.open(t.path, { fs });
    fs.faults.before = (op) => (op === "write" ? fsError("EIO", "i/o error") : undefined);
    await assert.rejects(kv.atomic().set(["a"], enc("1")).commit(), isStorageError("EIO"));
    fs.faults.before = null;
    assert.ok((await kv.atomic().set(["a"], enc("2")).commit()).ok);
    assert.equal(dec((await kv.get(["a"]))?.value), "2");
    await kv.close();
  } finally {
    t.cleanup();
  }
});

test("FileKv limits: a commit too large for one record is a LimitError, not a write", async () => {
  const t = tempDir();
  try {
    const kv = await FileKv.open(t.path, { maxValueBytes: 1 << 20, maxMutations: 100 });
    const op = kv.atomic();
    for (let i = 0; i < 70; i++) op.set(["big", i], new Uint8Array(1 << 20));
    await assert.rejects(op.commit(), (e) => e instanceof LimitError && e.kind === "payloadBytes");
    assert.equal(kv.stats().writes, 0);
    await kv.close();
  } finally {
    t.cleanup();
  }
});

/** Mounts a 1 MiB tmpfs, or returns why it cannot (not root, no mount, sandboxed). */
function mountTmpfs(): { dir: string; unmount: () => void } | string {
  const dir = mkdtempSync(join(tmpdir(), "kvq-tmpfs-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", dir], { stdio: "pipe" });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    return `cannot mount a tmpfs here (${String((e as Error).message).split("\n")[0]})`;
  }
  return {
    dir,
    unmount: () => {
      execFileSync("umount", [dir], { stdio: "pipe" });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const probe = mountTmpfs();
if (typeof probe !== "string") probe.unmount();

test(
  "FileKv disk full on a real 1 MiB tmpfs: commits fail with ENOSPC, then work again once space is freed",
  { skip: typeof probe === "string" ? probe : false },
  async () => {
    const m = mountTmpfs();
    if (typeof m === "string") throw new Error(m);
    try {
      const path = join(m.dir, "store.kvq");
      const filler = join(m.dir, "filler.bin");
      writeFileSync(filler, new Uint8Array(512 * 1024));
      // No reserve: this test is about the log itself on a full disk (disk_full_engine_test.ts has the reserve).
      const kv = await FileKv.open(path, { autoCompact: false, reserveBytes: 0 });
      const value = new Uint8Array(8000).fill(7);
      let acked = 0;
      let error: unknown = null;
      for (let i = 0; i < 200 && !error; i++) {
        try {
          await kv.atomic().set(["job", i], value).commit();
          acked++;
        } catch (e) {
          error = e;
        }
      }
      if (process.env.KVQ_FIGURES) console.log(`tmpfs: ${acked} commits of 8000 bytes fit before ENOSPC`);
      assert.ok(acked > 10, `only ${acked} commits fit`);
      assert.ok(error instanceof StorageError && error.code === "ENOSPC", `expected ENOSPC, got ${error}`);
      await assert.rejects(kv.atomic().set(["job", "more"], value).commit(), isStorageError("ENOSPC"));
      // Reads go on; every acknowledged commit is there.
      assert.equal((await dump(kv)).length, acked);
      // Space returns (the filler goes): the same store commits again, no restart.
      rmSync(filler);
      for (let i = 0; i < 10; i++) assert.ok((await kv.atomic().set(["after", i], value).commit()).ok);
      await kv.close();
      const again = await FileKv.open(path);
      assert.equal(again.recovery.truncatedBytes, 0);
      assert.equal(again.recovery.entries, acked + 10);
      await again.close();
    } finally {
      m.unmount();
    }
  },
);
