import { test } from "node:test";
import assert from "node:assert/strict";
import { FileKv } from "../../adapters/file/mod.ts";
import { nodeFs } from "../../adapters/file/fs.ts";
import { StorageError } from "../../src/errors.ts";
import { dec, dump, enc, faulty, fsError, tempDir } from "./helpers.ts";

test("FileKv fsync failure: every pending commit fails, later commits fail until reopen, reopen recovers", async () => {
  const t = tempDir();
  try {
    const fs = faulty(nodeFs);
    const kv = await FileKv.open(t.path, { fs });
    for (let i = 0; i < 5; i++) await kv.atomic().set(["acked", i], enc(`${i}`)).commit();
    const acked = await dump(kv);
    await new Promise((r) => setTimeout(r, 0)); // idle writer: the first commit below is written alone
    let syncs = 0;
    fs.faults.before = (
      op,
    ) => (op === "fdatasync" && syncs++ === 0 ? fsError("EIO", "fsync failed") : undefined);
    // Commit 0 is in its write+fsync; 1..9 are queued behind it. The fsync fails: all ten fail.
    const pending = Array.from({ length: 10 }, (_, i) => kv.atomic().set(["lost", i], enc("x")).commit());
    const results = await Promise.allSettled(pending);
    for (const r of results) {
      assert.equal(r.status, "rejected");
      assert.ok(r.reason instanceof StorageError && r.reason.code === "EIO", String(r.reason));
    }
    // The fsync works again, but the store no longer acknowledges anything (fsyncgate).
    for (let i = 0; i < 3; i++) {
      await assert.rejects(
        kv.atomic().set(["later", i], enc("y")).commit(),
        (e) => e instanceof StorageError && e.code === "EIO" && /reopen/.test(e.message),
      );
    }
    await assert.rejects(kv.compact(), StorageError);
    // Reads go on and show the acknowledged state only.
    assert.deepEqual(await dump(kv), acked);
    await kv.close();
    // Reopen: the acknowledged commits, none of the failed ones, and commits work again.
    const again = await FileKv.open(t.path);
    assert.deepEqual(await dump(again), acked);
    assert.ok((await again.atomic().set(["after"], enc("reopen")).commit()).ok);
    assert.equal(dec((await again.get(["after"]))?.value), "reopen");
    await again.close();
  } finally {
    t.cleanup();
  }
});

test("FileKv fsync failure: when the failed write cannot even be cut, reopen still opens with every acked commit", async () => {
  const t = tempDir();
  try {
    const fs = faulty(nodeFs);
    const kv = await FileKv.open(t.path, { fs });
    await kv.atomic().set(["acked"], enc("1")).commit();
    fs.faults.before = (op) =>
      op === "fdatasync" ? fsError("EIO") : op === "ftruncate" ? fsError("EIO") : undefined;
    await assert.rejects(kv.atomic().set(["unknown"], enc("?")).commit(), StorageError);
    await kv.close();
    // The failed commit's record is still in the file (page cache): its fate is unknown, as with
    // a timeout; what matters is that the store opens and every acknowledged commit is there.
    const again = await FileKv.open(t.path);
    assert.equal(dec((await again.get(["acked"]))?.value), "1");
    await again.close();
  } finally {
    t.cleanup();
  }
});
