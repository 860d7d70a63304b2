// Transactional completion: `ctx.complete(result, { atomic })` joins a handler's own writes to its
// job's completion in one commit — both or neither — on the memory store and on the runtime's
// default durable store.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryKv } from "../../adapters/memory/mod.ts";
import { openStore } from "../../adapters/store/mod.ts";
import type { AtomicKv } from "../../src/kv.ts";
import { Queue } from "../../src/queue.ts";
import { CompletionNotCommittedError } from "../../src/errors.ts";

const dir = mkdtempSync(join(tmpdir(), "kvq-txc-"));
let n = 0;
const stores: [string, () => Promise<AtomicKv> | AtomicKv][] = [
  ["memory", () => new MemoryKv()],
  ["default store", () => openStore(join(dir, `s-${++n}.db`))],
];
const ONE = new Uint8Array([1]);

/** Waits until `f()` holds (real time: these queues run on the system clock). */
async function until(f: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await f()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`timed out waiting for ${what}`);
}

for (const [name, open] of stores) {
  test(`${name}: the handler's writes and the completion commit together`, async () => {
    const kv = await open();
    const queue = new Queue<{ order: string }, string>(kv, "orders");
    const { id } = await queue.add({ order: "A-1" });
    const worker = queue.process(async (job, ctx) => {
      const op = kv.atomic().check(["app", "shipped", job.data.order], null)
        .set(["app", "shipped", job.data.order], ONE);
      ctx.complete("shipped", { atomic: op });
      assert.equal((await op.commit()).ok, true);
      return "ignored: the op completed the job";
    });
    assert.equal(await queue.result(id), "shipped");
    const job = await queue.getJob(id);
    assert.equal(job?.state, "completed");
    assert.equal(job?.attempt, 1);
    assert.deepEqual((await kv.get(["app", "shipped", "A-1"]))?.value, ONE);
    await worker.close();
    await queue.heal(); // folds the completion's own count delta
    const c = await queue.counts();
    assert.equal(c.completed, 1);
    assert.equal(c.active, 0);
    await queue.close();
    await kv.close();
  });

  test(`${name}: an op that fails its own check stores neither; the attempt fails and the retry runs`, async () => {
    const kv = await open();
    const queue = new Queue<number, string>(kv, "neither", { backoff: 1 });
    const errors: unknown[] = [];
    queue.on("failed", (e) => errors.push(e.error));
    const { id } = await queue.add(1);
    const worker = queue.process(async (job, ctx) => {
      if (ctx.attempt === 1) {
        const op = kv.atomic().check(["app", "row"], "00000000000000000000") // never that versionstamp
          .set(["app", "row"], ONE);
        ctx.complete("first", { atomic: op });
        assert.equal((await op.commit()).ok, false);
        return "returned, but the op did not commit";
      }
      return `second ${job.data}`;
    });
    assert.equal(await queue.result(id), "second 1");
    assert.equal(await kv.get(["app", "row"]), null);
    assert.ok(errors[0] instanceof CompletionNotCommittedError, String(errors[0]));
    assert.equal((await queue.getJob(id))?.attempt, 2);
    await worker.close();
    await queue.close();
    await kv.close();
  });

  test(`${name}: a staged completion never committed fails the attempt; staging twice is a TypeError`, async () => {
    const kv = await open();
    const queue = new Queue<number, string>(kv, "never", { maxAttempts: 1 });
    const { id } = await queue.add(1);
    let twice: unknown;
    const worker = queue.process((_job, ctx) => {
      const op = kv.atomic().set(["app", "never"], ONE);
      ctx.complete("x", { atomic: op });
      try {
        ctx.complete("y", { atomic: kv.atomic() });
      } catch (e) {
        twice = e;
      }
      return "no commit";
    });
    await until(async () => (await queue.getJob(id))?.state === "dead", "the job to die");
    assert.ok(twice instanceof TypeError);
    const job = await queue.getJob(id);
    assert.equal(job?.error?.name, "CompletionNotCommittedError");
    assert.equal(await kv.get(["app", "never"]), null);
    await worker.close();
    await queue.close();
    await kv.close();
  });

  test(`${name}: a cancel requested before the commit makes the op fail; the job ends canceled, the writes absent`, async () => {
    const kv = await open();
    const queue = new Queue<number, string>(kv, "cancel");
    const { id } = await queue.add(1);
    let release!: () => void;
    const gate = new Promise<void>((r) => release = r);
    let committed: boolean | undefined;
    const worker = queue.process(async (_job, ctx) => {
      const op = kv.atomic().set(["app", "canceled-row"], ONE);
      ctx.complete("x", { atomic: op });
      await gate;
      committed = (await op.commit()).ok;
      return "x";
    });
    await until(async () => (await queue.getJob(id))?.state === "active", "the job to start");
    assert.equal(await queue.cancel(id), true); // requested: the lease entry changes under the op
    release();
    await until(async () => (await queue.getJob(id))?.state === "canceled", "the job to end canceled");
    assert.equal(committed, false);
    assert.equal(await kv.get(["app", "canceled-row"]), null);
    await worker.close();
    await queue.close();
    await kv.close();
  });
}

test("ctx.complete rejects bad options and results over the payload limit with typed errors", async () => {
  const kv = new MemoryKv();
  const queue = new Queue<number, string>(kv, "bad", { maxPayloadBytes: 64 });
  const { id } = await queue.add(1);
  const seen: unknown[] = [];
  const worker = queue.process(async (_job, ctx) => {
    for (const bad of [null, {}, { atomic: { commit: 1 } }]) {
      try {
        ctx.complete("x", bad as never);
      } catch (e) {
        seen.push(e);
      }
    }
    try {
      ctx.complete("x".repeat(1000), { atomic: kv.atomic() });
    } catch (e) {
      seen.push(e);
    }
    const op = kv.atomic();
    ctx.complete("ok", { atomic: op });
    await op.commit();
    return "ok";
  });
  assert.equal(await queue.result(id), "ok");
  assert.equal(seen.length, 4);
  assert.ok(seen.slice(0, 3).every((e) => e instanceof TypeError), String(seen));
  assert.equal((seen[3] as Error).name, "LimitError");
  await worker.close();
  await queue.close();
});

after(() => rmSync(dir, { recursive: true, force: true }));
