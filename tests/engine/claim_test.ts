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
