import { test } from "node:test";
import assert from "node:assert/strict";
import { MemoryKv } from "../../adapters/memory/mod.ts";
import { Queue } from "../../src/queue.ts";

test("claim gives every job of one batch and of the next batch its own lease token, without a dot", async () => {
  const queue = new Queue<number>(new MemoryKv(), "tokens");
  await queue.addBulk(Array.from({ length: 30 }, (_, i) => ({ data: i })));
  const first = await queue.claim({ limit: 20 });
  const second = await queue.claim({ limit: 20 });
  assert.equal(first.length, 20);
  assert.equal(second.length, 10);
  const tokens = [...first, ...second].map((c) => c.token);
  assert.equal(new Set(tokens).size, 30);
  for (const t of tokens) assert.ok(t.length > 0 && !t.includes("."), t);
  // Each token is the lease: the job completes with its own token only.
  await assert.rejects(queue.complete(first[0].job.id, first[1].token, 1));
  const done = await queue.complete(first[0].job.id, first[0].token, 1);
  assert.equal(done.state, "completed");
  await queue.close();
});

/** A memory store that counts the mutations and checks of every commit (of jobs: count deltas aside). */
function countingStore(): { kv: MemoryKv; ops: { mutations: number; checks: number; jobSets: number } } {
  const kv = new MemoryKv();
  const ops = { mutations: 0, checks: 0, jobSets: 0 };
  const atomic = kv.atomic.bind(kv);
  kv.atomic = () => {
    const op = atomic();
    const check = op.check.bind(op), set = op.set.bind(op), del = op.delete.bind(op);
    const counted = (k: readonly unknown[]) => k[1] !== "meta";
    op.check = (k, v) => (counted(k) && ops.checks++, check(k, v), op);
    op.set = (k, v) => (counted(k) && ops.mutations++, k[1] === "job" && ops.jobSets++, set(k, v), op);
    op.delete = (k) => (counted(k) && ops.mutations++, del(k), op);
    return op;
  };
  return { kv, ops };
}

test("a claim leaves the job record as it is: a lease entry holds the attempt, and a job costs 5 mutations and 2 checks from ready to done", async () => {
  const { kv, ops } = countingStore();
  const queue = new Queue<number>(kv, "lean");
  const jobs = await queue.addBulk(Array.from({ length: 200 }, (_, i) => ({ data: i })));
  const before = await kv.get(["kvq", "job", "lean", jobs[0].id]);
  ops.mutations = ops.checks = ops.jobSets = 0;
  const claimed = await queue.claim({ limit: 200, leaseMs: 60_000 });
  assert.equal(claimed.length, 200);
  assert.equal(ops.jobSets, 0, "a claim writes no job record");
  const after = await kv.get(["kvq", "job", "lean", jobs[0].id]);
  assert.equal(after?.versionstamp, before?.versionstamp);
  // Every read sees the job as active, with its lease and attempt.
  const seen = await queue.getJob(jobs[0].id);
  assert.equal(seen?.state, "active");
  assert.equal(seen?.attempt, 1);
  assert.equal(seen?.lease?.expiresAt, claimed[0].job.lease?.expiresAt);
  assert.equal((await queue.list("active", { limit: 500 })).jobs.length, 200);
  for (const c of claimed) await queue.complete(c.job.id, c.token, c.job.data);
  assert.equal(ops.jobSets, 200, "the attempt's end writes each record once");
  // Per job: claim = delete the ready entry + write the lease entry, checked by the ready entry;
  // end = delete the lease entry + write the done entry and the record, checked by the lease entry.
  // (The claim batch's paused check and the writer's count delta come on top, once per commit.)
  assert.equal(ops.mutations, 5 * 200);
  assert.equal(ops.checks, 2 * 200);
  const done = await queue.getJob(jobs[0].id);
  assert.equal(done?.state, "completed");
  assert.equal(done?.attempt, 1);
  assert.equal(done?.history.length, 1);
  assert.deepEqual(await queue.counts(), { ...(await queue.counts()), active: 0, ready: 0, completed: 200 });
  await queue.close();
});

test("a heartbeat, progress and a cancel request rewrite only the lease entry; two claimers never both win a job", async () => {
  const { kv, ops } = countingStore();
  const a = new Queue<number>(kv, "fence");
  const b = new Queue<number>(kv, "fence");
  const [job] = await a.addBulk([{ data: 1 }]);
  const [x, y] = await Promise.all([a.claim({ limit: 1 }), b.claim({ limit: 1 })]);
  assert.equal(x.length + y.length, 1, "exactly one claimer wins");
  const held = x[0] ?? y[0];
  const q = x.length ? a : b;
  ops.jobSets = 0;
  await q.heartbeat(job.id, held.token, { progress: { pct: 50 } });
  await q.heartbeat(job.id, held.token, { leaseMs: 90_000 });
  assert.equal(ops.jobSets, 0, "heartbeats write no job record");
  const seen = await q.getJob(job.id);
  assert.deepEqual(seen?.progress, { pct: 50 });
  assert.equal(seen?.state, "active");
  // A cancel of a job under an external lease ends it at once (no handler to abort).
  assert.equal(await q.cancel(job.id), true);
  assert.equal((await q.getJob(job.id))?.state, "canceled");
  await assert.rejects(q.complete(job.id, held.token, 1));
  await a.close();
  await b.close();
});
