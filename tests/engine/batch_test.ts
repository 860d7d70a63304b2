// Batch handlers: up to `size` jobs per handler call, a result or an error per job, each job acked,
// retried or dead-lettered on its own — on the memory store and the runtime's default durable store.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryKv } from "../../adapters/memory/mod.ts";
import { openStore } from "../../adapters/store/mod.ts";
import type { AtomicKv } from "../../src/kv.ts";
import { Queue } from "../../src/queue.ts";
import { FakeClock } from "../../src/clock.ts";
import { RateLimitedError } from "../../src/errors.ts";

const dir = mkdtempSync(join(tmpdir(), "kvq-batch-"));
let n = 0;
const stores: [string, () => Promise<AtomicKv> | AtomicKv][] = [
  ["memory", () => new MemoryKv()],
  ["default store", () => openStore(join(dir, `s-${++n}.db`))],
];

for (const [name, open] of stores) {
  test(`${name}: a batch handler gets up to size jobs per call; each job completes, retries or dies on its own`, async () => {
    const kv = await open();
    const queue = new Queue<number, number>(kv, "batch", { maxAttempts: 2, backoff: 1 });
    const calls: number[][] = [];
    const jobs = await queue.addBulk(Array.from({ length: 25 }, (_, i) => ({ data: i })));
    const worker = queue.process((batch, contexts) => {
      assert.equal(contexts.length, batch.length);
      calls.push(batch.map((j) => j.data));
      // Job 3 fails once (then succeeds); job 7 always fails: dead after two attempts.
      return batch.map((j, i) =>
        j.data === 7 || (j.data === 3 && contexts[i].attempt === 1) ? new Error(`row ${j.data}`) : j.data * 10
      );
    }, { batch: { size: 10 } });
    for (const j of jobs) {
      if (j.data === 7) await assert.rejects(queue.result(j.id));
      else assert.equal(await queue.result(j.id), j.data * 10);
    }
    assert.ok(calls.every((c) => c.length >= 1 && c.length <= 10), JSON.stringify(calls));
    assert.ok(calls.length < 25, `${calls.length} handler calls for 25 jobs`);
    assert.equal((await queue.getJob(jobs[3].id))?.attempt, 2);
    assert.equal((await queue.getJob(jobs[7].id))?.state, "dead");
    const c = await queue.counts();
    assert.equal(c.completed, 24);
    assert.equal(c.dead, 1);
    await worker.close();
    await queue.close();
    await kv.close();
  });

  test(`${name}: a batch handler that throws, or returns the wrong number of results, fails every job of the batch`, async () => {
    const kv = await open();
    const queue = new Queue<number, number>(kv, "batch-bad", { maxAttempts: 1 });
    const [a, b] = await queue.addBulk([{ data: 1 }, { data: 2 }]);
    let call = 0;
    const worker = queue.process((batch) => {
      call++;
      if (batch.some((j) => j.data === 1)) throw new Error("the whole batch");
      return [];
    }, { batch: { size: 1 } });
    await assert.rejects(queue.result(a.id), /the whole batch/);
    await assert.rejects(queue.result(b.id), /one result or Error per job/);
    assert.equal(call, 2);
    await worker.close();
    await queue.close();
    await kv.close();
  });
}

test("maxWaitMs holds an unfilled batch for more jobs, then sends what it has", async () => {
  const clock = new FakeClock(0);
  const queue = new Queue<number, number>(new MemoryKv(), "batch-wait", { clock });
  const calls: number[][] = [];
  const worker = queue.process((batch) => {
    calls.push(batch.map((j) => j.data));
    return batch.map((j) => j.data);
  }, { batch: { size: 4, maxWaitMs: 1000 } });
  const first = await queue.add(1);
  await clock.advance(10);
  const second = await queue.add(2);
  await clock.advance(10);
  assert.deepEqual(calls, [], "the batch waits for more jobs");
  await clock.advance(1000);
  assert.equal(await queue.result(first.id), 1);
  assert.equal(await queue.result(second.id), 2);
  assert.deepEqual(calls, [[1, 2]]);
  await worker.close();
  await queue.close();
});

test("batch options are checked: size an integer >= 1, maxWaitMs a number >= 0", () => {
  const queue = new Queue<number, number>(new MemoryKv(), "batch-opts");
  const h = (jobs: unknown[]) => jobs.map(() => 0);
  for (const batch of [{ size: 0 }, { size: 1.5 }, { size: 2, maxWaitMs: -1 }, { size: 2, maxWaitMs: NaN }]) {
    assert.throws(() => queue.process(h, { batch }), RangeError, JSON.stringify(batch));
  }
  assert.throws(() => queue.process(h, { batch: null as never }), TypeError);
});

after(() => rmSync(dir, { recursive: true, force: true }));

test("a handler that throws RateLimitedError runs again after retryAfterMs, the attempt not counted, no failed event", async () => {
  const clock = new FakeClock(0);
  const queue = new Queue<number, string>(new MemoryKv(), "limited", { clock, maxAttempts: 1 });
  const events: string[] = [];
  for (const t of ["failed", "retrying", "dead", "completed"] as const) queue.on(t, () => events.push(t));
  const attempts: number[] = [];
  const worker = queue.process((_job, ctx) => {
    attempts.push(ctx.attempt);
    if (attempts.length < 3) throw new RateLimitedError(500, "429 from the API");
    return "sent";
  });
  const { id } = await queue.add(1);
  for (let i = 0; i < 30 && attempts.length < 1; i++) await clock.advance(1);
  const waiting = await queue.getJob(id);
  assert.equal(waiting?.state, "scheduled");
  assert.equal(waiting?.attempt, 0);
  assert.equal(waiting?.history.at(-1)?.outcome, "released");
  assert.equal(waiting?.history.at(-1)?.error?.name, "RateLimitedError");
  await clock.advance(400);
  assert.equal(attempts.length, 1, "not before retryAfterMs");
  for (let i = 0; i < 10; i++) await clock.advance(500);
  assert.equal(await queue.result(id), "sent");
  // maxAttempts 1, yet three runs: the rate-limited ones did not count.
  assert.deepEqual(attempts, [1, 1, 1]);
  assert.deepEqual(events, ["completed"]);
  assert.throws(() => new RateLimitedError(-1), RangeError);
  await worker.close();
  await queue.close();
});
