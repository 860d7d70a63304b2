// A queue's rate limit: a token bucket in the store that every worker and consumer draws from.
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
import { tokensAt } from "../../src/rate_limit.ts";

const dir = mkdtempSync(join(tmpdir(), "kvq-rate-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const stores: [string, () => Promise<AtomicKv> | AtomicKv][] = [
  ["memory", () => new MemoryKv()],
  ["default store", () => openStore(join(dir, `s-${++n}.db`))],
];

test("tokensAt refills at max per per, up to burst, and never from a clock that went back", () => {
  const limit = { max: 10, per: 1000, burst: 15 };
  assert.equal(tokensAt(null, limit, 0), 15);
  assert.equal(tokensAt({ tokens: 0, at: 1000 }, limit, 1500), 5);
  assert.equal(tokensAt({ tokens: 12, at: 0 }, limit, 10_000), 15);
  assert.equal(tokensAt({ tokens: 2, at: 1000 }, limit, 500), 2);
});

for (const [name, open] of stores) {
  test(`${name}: two workers on two Queue objects start at most burst + max per interval, together`, async () => {
    const kv = await open();
    const clock = new FakeClock(1_000_000);
    const rateLimit = { max: 5, per: 1000 };
    const a = new Queue<number>(kv, "rated", { clock, rateLimit });
    const b = new Queue<number>(kv, "rated", { clock, rateLimit });
    const starts: number[] = [];
    const jobs = await a.addBulk(Array.from({ length: 20 }, (_, i) => ({ data: i })));
    const handler = () => void starts.push(clock.now());
    const wa = a.process(handler, { concurrency: 20 });
    const wb = b.process(handler, { concurrency: 20 });
    const t0 = clock.now();
    for (let i = 0; i < 400 && starts.length < 20; i++) {
      // Real time for the store's own I/O (Deno KV answers asynchronously), then fake time.
      await new Promise((r) => setTimeout(r, 2));
      await clock.advance(20);
      // By any time t, at most burst (5) + 5 per second since t0 have started.
      const allowed = 5 + Math.floor((clock.now() - t0) * 5 / 1000);
      assert.ok(
        starts.length <= allowed,
        `${starts.length} starts by +${clock.now() - t0} ms (at most ${allowed})`,
      );
    }
    for (const j of jobs) await a.result(j.id);
    assert.equal(starts.length, 20);
    // 20 jobs at 5 per second after a burst of 5: not all before 3 s had passed.
    assert.ok(Math.max(...starts) - t0 >= 2900, `last start at +${Math.max(...starts) - t0} ms`);
    await wa.close();
    await wb.close();
    await a.close();
    await b.close();
    await kv.close();
  });
}

test("external claims draw from the same bucket; unused tokens are given back", async () => {
  const clock = new FakeClock(0);
  const queue = new Queue<number>(new MemoryKv(), "rated-ext", { clock, rateLimit: { max: 3, per: 1000 } });
  await queue.addBulk([{ data: 1 }, { data: 2 }]);
  assert.equal((await queue.claim({ limit: 10 })).length, 2, "2 jobs: 2 tokens used, 1 given back");
  await queue.addBulk([{ data: 3 }, { data: 4 }]);
  assert.equal((await queue.claim({ limit: 10 })).length, 1, "the token given back");
  assert.equal((await queue.claim({ limit: 10 })).length, 0, "the bucket is empty");
  await clock.advance(334);
  assert.equal((await queue.claim({ limit: 10 })).length, 1, "one token refilled");
  await queue.close();
});

test("a bad rateLimit is a TypeError or RangeError naming the field", () => {
  const kv = new MemoryKv();
  for (
    const rateLimit of [{ max: 0, per: 1000 }, { max: 1.5, per: 1000 }, { max: 1, per: 0 }, {
      max: 1,
      per: 10,
      burst: 0,
    }]
  ) {
    assert.throws(
      () => new Queue(kv, "bad", { rateLimit }),
      (e) =>
        (e instanceof RangeError || e instanceof TypeError) && /rateLimit\.(max|per|burst)/.test(e.message),
      JSON.stringify(rateLimit),
    );
  }
  assert.throws(() => new Queue(kv, "bad", { rateLimit: "fast" as never }), TypeError);
});
