import { test } from "node:test";
import assert from "node:assert/strict";
import { MemoryKv } from "../../adapters/memory/mod.ts";
import type { AtomicOp, KvKey } from "../../src/kv.ts";
import { Queue } from "../../src/queue.ts";

/** A memory store that records, per commit, whether it was relaxed and which indexes it wrote. */
class RecordingKv extends MemoryKv {
  readonly commits: { relaxed: boolean; indexes: string[] }[] = [];
  override atomic(): AtomicOp {
    const op = super.atomic();
    let relaxed = false;
    const indexes: string[] = [];
    const markRelaxed = op.relaxed!.bind(op);
    const set = op.set.bind(op);
    const commit = op.commit.bind(op);
    op.relaxed = () => {
      relaxed = true;
      return markRelaxed();
    };
    op.set = (key: KvKey, value: Uint8Array) => {
      if (key[0] === "kvq" && key[1] !== "job" && key[1] !== "meta") indexes.push(String(key[1]));
      return set(key, value);
    };
    op.commit = () => {
      this.commits.push({ relaxed, indexes });
      return commit();
    };
    return op;
  }
}

test("claims and heartbeats are relaxed commits; adds, progress and completions are not", async () => {
  const kv = new RecordingKv();
  const queue = new Queue<number, number>(kv, "relaxed");
  await queue.add(1);
  await queue.addBulk([{ data: 2 }, { data: 3 }]);
  const claimed = await queue.claim({ owner: "t", limit: 3 });
  assert.equal(claimed.length, 3);
  const [first, second, third] = claimed;
  await queue.heartbeat(first.job.id, first.token);
  await queue.heartbeat(second.job.id, second.token, { progress: { step: 1 } });
  await queue.complete(first.job.id, first.token, 10);
  await queue.fail(second.job.id, second.token, new Error("boom"));
  await queue.release(third.job.id, third.token);
  await queue.close();

  const byIndex = (index: string) => kv.commits.filter((c) => c.indexes.includes(index));
  assert.ok(byIndex("ready").length >= 2, "adds (and the release) were recorded");
  const leases = byIndex("lease");
  // Commits writing a lease entry: the claim, the plain heartbeat, and the progress heartbeat.
  assert.equal(leases.length, 3, JSON.stringify(kv.commits));
  assert.deepEqual(
    leases.map((c) => c.relaxed),
    [true, true, false],
    "claim and heartbeat relaxed, progress not",
  );
  for (const index of ["ready", "done", "delayed", "dead"]) {
    for (const c of byIndex(index)) assert.equal(c.relaxed, false, `a commit writing "${index}" was relaxed`);
  }
});
