// Several Queue instances on ONE memory store, as separate machines would have them (separate Queue
// objects, each behind its own store handle, so no in-process signal or state is shared), draining one
// queue concurrently through a store that adds 1-2 ms to every commit. Prints the commits that failed
// their checks per completed job, and asserts it stays small, every job ran exactly once and the
// counts are exact at the end.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MemoryKv } from "../../adapters/memory/mod.ts";
import type { AtomicKv, AtomicOp, KvEntry, KvKey, KvListOptions, KvListSelector } from "../../src/kv.ts";
import { Queue } from "../../src/queue.ts";
import { zeroCounts } from "../../src/job.ts";

/** Commits made and commits whose checks failed, over every handle of one store. */
interface CommitStats {
  commits: number;
  failed: number;
  /** Per key written: which instances' commits wrote it. */
  writers: Map<string, Set<number>>;
}

/** One machine's handle on a shared store: every commit takes 1-2 ms more; failed checks are counted. */
class RemoteKv implements AtomicKv {
  readonly info: AtomicKv["info"];
  readonly #inner: AtomicKv;
  readonly #stats: CommitStats;
  readonly #instance: number;
  constructor(inner: AtomicKv, stats: CommitStats, instance: number) {
    this.#inner = inner;
    this.#stats = stats;
    this.#instance = instance;
    // Another machine: no in-process wake-ups, no watch.
    this.info = { ...inner.info, scope: "cluster", watch: false };
  }
  get(key: KvKey): Promise<KvEntry | null> {
    return this.#inner.get(key);
  }
  getMany(keys: readonly KvKey[]): Promise<(KvEntry | null)[]> {
    return this.#inner.getMany(keys);
  }
  list(selector: KvListSelector, options?: KvListOptions): AsyncIterable<KvEntry> {
    return this.#inner.list(selector, options);
  }
  atomic(): AtomicOp {
    const op = this.#inner.atomic();
    const commit = op.commit.bind(op);
    const set = op.set.bind(op);
    const keys = new Set<string>();
    op.set = (key, value) => {
      keys.add(JSON.stringify(key));
      return set(key, value);
    };
    op.commit = async () => {
      await new Promise((r) => setTimeout(r, 1 + Math.random()));
      const res = await commit();
      this.#stats.commits++;
      if (!res.ok) this.#stats.failed++;
      else {
        for (const k of keys) {
          const w = this.#stats.writers.get(k) ?? new Set();
          this.#stats.writers.set(k, w.add(this.#instance));
        }
      }
      return res;
    };
    return op;
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

async function drain(instances: number, jobs: number): Promise<number> {
  const store = new MemoryKv();
  const stats: CommitStats = { commits: 0, failed: 0, writers: new Map() };
  const queues = Array.from(
    { length: instances },
    (_, i) => new Queue<number, number>(new RemoteKv(store, stats, i), "drain", { pollInterval: 20 }),
  );
  for (let i = 0; i < jobs; i += 500) {
    await queues[0].addBulk(Array.from({ length: Math.min(500, jobs - i) }, (_, j) => ({ data: i + j })));
  }
  const before = { ...stats };
  stats.writers.clear();
  const runs = new Map<number, number>();
  const share = queues.map(() => 0);
  const workers = queues.map((q, i) =>
    q.process((job) => {
      runs.set(job.data, (runs.get(job.data) ?? 0) + 1);
      share[i]++;
      return job.data;
    }, { concurrency: 64 })
  );
  const end = Date.now() + 60_000;
  while ((await queues[0].counts()).completed < jobs) {
    if (Date.now() > end) throw new Error(`drain timed out: ${JSON.stringify(await queues[0].counts())}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  await Promise.all(workers.map((w) => w.close()));
  const failed = stats.failed - before.failed;
  const ratio = failed / jobs;
  console.log(
    `${instances} instances, ${jobs} jobs: ${stats.commits - before.commits} commits, ${failed} failed ` +
      `their checks: ${ratio.toFixed(4)} failed commits per completed job; jobs per instance ${
        share.join(", ")
      }`,
  );
  // Every instance got work (none starved by the others' commits).
  for (const [i, n] of share.entries()) assert.ok(n > 0, `instance ${i} ran no job`);
  // No hot key: while draining, every key written (by a commit that went through) was written by one instance only (each job by the
  // instance that claimed it, each count delta by its writer); a shared counts key would be written by all.
  const shared = [...stats.writers].filter(([, w]) => w.size > 1).map(([k, w]) => `${k} by ${w.size}`);
  assert.deepEqual(shared.slice(0, 5), [], `${shared.length} keys written by several instances`);
  assert.equal(runs.size, jobs, "every job ran");
  for (const [id, n] of runs) assert.equal(n, 1, `job ${id} ran ${n} times`);
  for (const q of queues) assert.deepEqual(await q.counts(), { ...zeroCounts(), completed: jobs });
  return ratio;
}

test("two Queue instances on one store drain it concurrently, each job once, counts exact", async () => {
  const ratio = await drain(2, 2000);
  assert.ok(ratio <= 0.05, `${ratio} failed commits per job`);
});

test("four Queue instances on one store drain it with at most 0.05 failed commits per job", async () => {
  const ratio = await drain(4, 4000);
  assert.ok(ratio <= 0.05, `${ratio} failed commits per job`);
});
