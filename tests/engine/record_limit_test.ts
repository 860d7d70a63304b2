/**
 * Records that outgrow the store's value limit after they were added, found by the deterministic
 * simulation (tests/sim, seeds 64, 66, 114, 138, 152 at 200 steps): a payload that nearly filled a
 * store value when added (the claim's lease no longer fits), and a history that grows past the limit
 * (each failed attempt adds an entry). Before the fix, the first blocked the head of the queue (every
 * claim round failed with LimitError) and the second stayed active forever.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { Queue } from "../../src/queue.ts";
import { MemoryKv } from "../../adapters/memory/mod.ts";
import { FakeClock } from "../../src/clock.ts";

/** The largest string payload whose new job record is still stored inline (not in chunks). */
async function largestInline(kv: MemoryKv, q: Queue<string>): Promise<number> {
  let lo = 1, hi = kv.info.maxValueBytes;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    const job = await q.add("x".repeat(mid));
    const e = await kv.get(["kvq", "job", q.name, job.id]);
    await q.remove(job.id);
    const inline = !new TextDecoder().decode(e!.value).includes('"chunks"');
    if (inline) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

test("a job whose payload nearly fills a store value runs, and the jobs behind it run too", async () => {
  const clock = new FakeClock(1_700_000_000_000);
  const kv = new MemoryKv();
  const q = new Queue<string>(kv, "big", { clock });
  const errors: unknown[] = [];
  q.on("error", (e) => errors.push(e.error));
  const size = await largestInline(kv, q);
  const big = await q.add("x".repeat(size));
  const small = await q.add("y");
  const worker = q.process(() => {});
  for (let i = 0; i < 50; i++) await clock.advance(200);
  const states = [(await q.getJob(big.id))?.state, (await q.getJob(small.id))?.state];
  await worker.close({ timeout: 0 });
  // Today: both stay "ready" and every claim round emits LimitError ("value is 65693 bytes,
  // the limit is 65536"): the claim's new record (lease, startedAt) no longer fits, and the claim batch
  // fails as a whole, so the job blocks the head of the queue.
  assert.deepEqual(states, ["completed", "completed"], `errors: ${String(errors[0])}`);
});

test("a job whose history outgrows the store's value limit still ends", async () => {
  const clock = new FakeClock(1_700_000_000_000);
  const kv = new MemoryKv({ maxValueBytes: 1024 });
  const q = new Queue<number>(kv, "long", { clock, backoff: 10, maxAttempts: 30 });
  const errors: unknown[] = [];
  q.on("error", (e) => errors.push(e.error));
  const job = await q.add(1);
  const worker = q.process(() => {
    throw new Error("x".repeat(190));
  }, { leaseMs: 1000 });
  for (let i = 0; i < 200; i++) await clock.advance(500);
  const state = (await q.getJob(job.id))?.state;
  await worker.close({ timeout: 0 });
  // Today: "active" forever after 3 attempts: the failure's record (one more history entry) is
  // over the limit even with errors shortened, so neither the worker's fail nor the healer's
  // stall can be written, and the healer emits LimitError every round.
  assert.equal(state, "dead", `errors: ${String(errors[0])}`);
});

test("a payload moved out into chunks at claim reaches the handler whole, and goes with the job", async () => {
  const clock = new FakeClock(1_700_000_000_000);
  const kv = new MemoryKv();
  const q = new Queue<string>(kv, "moved", { clock });
  const size = await largestInline(kv, q);
  const payload = "z".repeat(size);
  const big = await q.add(payload);
  const seen: string[] = [];
  const worker = q.process((job) => void seen.push(job.data));
  for (let i = 0; i < 20 && seen.length === 0; i++) await clock.advance(200);
  for (let i = 0; i < 5; i++) await clock.advance(200);
  await worker.close();
  assert.deepEqual(seen.map((s) => s.length), [payload.length]);
  const done = await q.getJob(big.id);
  assert.equal(done?.state, "completed");
  assert.equal(done?.data, payload);
  const blobs = async () => {
    let n = 0;
    for await (const _ of kv.list({ prefix: ["kvq", "blob", "moved"] })) n++;
    return n;
  };
  assert.ok(await blobs() > 0, "the payload lives in chunks now");
  assert.equal(await q.remove(big.id), true);
  assert.equal(await blobs(), 0);
});
