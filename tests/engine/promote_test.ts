// Queue.promote() (run a delayed job or a waiting retry now) and Queue.getJobByKey(), on the
// memory store with a fake clock: nothing waits for real time.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MemoryKv } from "../../adapters/memory/mod.ts";
import { FakeClock } from "../../src/clock.ts";
import { JobNotFoundError, JobStateError } from "../../src/errors.ts";
import { Queue } from "../../src/queue.ts";

function open(): { queue: Queue<string>; clock: FakeClock; close(): Promise<void> } {
  const kv = new MemoryKv();
  const clock = new FakeClock(1_000_000);
  const queue = new Queue<string>(kv, "promote", { clock, maxAttempts: 3, backoff: 3_600_000 });
  return {
    queue,
    clock,
    async close() {
      await queue.close();
      await kv.close();
    },
  };
}

test("promote() makes a delayed job ready now and a claim gets it before its runAt", async () => {
  const { queue, clock, close } = open();
  try {
    const job = await queue.add("later", { delay: 3_600_000 });
    assert.equal(job.state, "scheduled");
    const promoted = await queue.promote(job.id);
    assert.deepEqual([promoted.state, promoted.runAt, promoted.attempt], ["ready", clock.now(), 0]);
    const counts = await queue.counts();
    assert.deepEqual([counts.scheduled, counts.ready], [0, 1]);
    const [claimed] = await queue.claim({ leaseMs: 10_000 });
    assert.equal(claimed?.job.id, job.id);
  } finally {
    await close();
  }
});

test("promote() retries a failed job now; its failed attempt still counts", async () => {
  const { queue, close } = open();
  try {
    const job = await queue.add("flaky");
    const [{ token }] = await queue.claim({ leaseMs: 10_000 });
    const failed = await queue.fail(job.id, token, new Error("down"));
    assert.equal(failed.state, "failed");
    const retry = await queue.promote(job.id);
    assert.deepEqual([retry.state, retry.attempt, retry.history.length], ["ready", 1, 1]);
    assert.equal((await queue.counts()).failed, 0);
    const [again] = await queue.claim({ leaseMs: 10_000 });
    assert.equal(again.job.attempt, 2);
  } finally {
    await close();
  }
});

test("promote() refuses a job that is neither scheduled nor failed, and an unknown id", async () => {
  const { queue, close } = open();
  try {
    const job = await queue.add("now");
    await assert.rejects(queue.promote(job.id), JobStateError);
    await assert.rejects(queue.promote("no-such-job"), JobNotFoundError);
    assert.equal((await queue.getJob(job.id))?.state, "ready");
  } finally {
    await close();
  }
});

test("getJobByKey() finds the job holding an idempotency key, and null once it is removed", async () => {
  const { queue, close } = open();
  try {
    const job = await queue.add("mail", { key: "welcome:42" });
    assert.equal((await queue.getJobByKey("welcome:42"))?.id, job.id);
    assert.equal(await queue.getJobByKey("welcome:43"), null);
    await queue.remove(job.id);
    assert.equal(await queue.getJobByKey("welcome:42"), null);
    assert.throws(() => queue.getJobByKey(""), TypeError);
  } finally {
    await close();
  }
});
