// The scenarios of issue 5, each a function of an opened system. Every scenario runs in a fresh child
// process on a fresh, empty queue; sizes scale with `--scale` (1 = the sizes).
import { collectGarbage, type Instance, now, type Payload, percentile, rss, sleep, wallNow } from "./lib.ts";
import { type ScenarioContext, startWorkers } from "./procs.ts";

/** Sizes and knobs of one scenario run, derived from the scale. */
export interface ScenarioParams {
  /** Jobs measured (adds, drained jobs, latency samples, fsync ops, queued jobs). */
  n: number;
  /** Jobs already queued before the measured part starts (backlog scenarios). */
  backlog: number;
  /** Handlers running at once (drain and backlog scenarios); 0 when not applicable. */
  concurrency: number;
  /** Wall-clock budget of the measured loop in ms (latency, fsync): it stops early past this. */
  budgetMs: number;
  /** Largest addBulk call. */
  bulkChunk: number;
}

/** One measured run's values, by metric name. */
export type Values = Record<string, number>;

/** A scenario of the benchmark. */
export interface Scenario {
  /** Identifier used on the command line and in results. */
  readonly id: string;
  /** Issue 5's letter. */
  readonly letter: string;
  /** What it measures, in words (used as the table title). */
  readonly title: string;
  /** The metric the tables lead with, and its unit. */
  readonly headline: {
    metric: string;
    unit: string;
    better: "higher" | "lower";
  };
  /**
   * True when the harness keeps one core busy (a spinning process it starts before the child and
   * stops after it) while this scenario runs: the busy-machine scenario.
   */
  readonly busy?: boolean;
  /**
   * True when the scenario consumes in separate worker processes on one shared store (bench/worker.ts):
   * only systems whose store processes can share (`Variant.processes`) run it.
   */
  readonly processes?: boolean;
  /** Sizes at a scale, for a system whose best concurrency is `best`. */
  params(scale: number, best: number): Omit<ScenarioParams, "bulkChunk">;
  /** Runs the measured part on a freshly opened instance (`ctx` starts worker processes). */
  run(inst: Instance, p: ScenarioParams, ctx: ScenarioContext): Promise<Values>;
}

const scaled = (base: number, scale: number, min: number): number => Math.max(min, Math.round(base * scale));

/** Longest a drain runs before it stops and reports the rate so far: 60 s at scale 1, at least 10 s. */
const drainBudget = (scale: number): number => Math.max(10_000, 60_000 * Math.min(1, scale));

/** Adds `n` jobs numbered from `from` with addBulk calls of at most `chunk` jobs. */
export async function fill(
  inst: Instance,
  n: number,
  chunk: number,
  from = 0,
): Promise<void> {
  for (let at = 0; at < n; at += chunk) {
    const items: Payload[] = [];
    for (let i = at; i < Math.min(n, at + chunk); i++) {
      items.push({ i: from + i });
    }
    await inst.addBulk(items);
  }
}

/** A promise with its resolve function. */
function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Resolves when `count()` reaches `n`, checked by the handler itself (no polling delay). */
function counter(
  n: number,
): { handler: () => void; done: Promise<void>; count: () => number } {
  let seen = 0;
  const d = deferred<void>();
  if (n <= 0) d.resolve();
  return {
    handler: () => {
      if (++seen === n) d.resolve();
    },
    done: d.promise,
    count: () => seen,
  };
}

/** Waits until the system reports no unfinished jobs (when it can tell), polling every 2 ms. */
async function settle(inst: Instance): Promise<void> {
  if (!inst.pending) return;
  for (let i = 0; i < 1_000_000; i++) {
    if ((await inst.pending()) === 0) return;
    await sleep(2);
  }
}

/**
 * Consumes `n` jobs at `concurrency` and returns the jobs/s from start to the last finished job.
 * With a budget, a slow system stops early: the rate is then over the jobs done within it
 * (`drained` < `n`, `complete` 0).
 */
async function drain(
  inst: Instance,
  n: number,
  concurrency: number,
  wait: boolean,
  budgetMs = 0,
): Promise<Values> {
  const c = counter(n);
  const t0 = now();
  await inst.work(c.handler, concurrency);
  let complete = 1;
  if (budgetMs > 0) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const over = new Promise<void>((
      resolve,
    ) => (timer = setTimeout(resolve, budgetMs)));
    await Promise.race([c.done, over]);
    clearTimeout(timer);
    if (c.count() < n) complete = 0;
  } else {
    await c.done;
  }
  if (wait && complete) await settle(inst);
  const ms = now() - t0;
  const drained = Math.min(n, c.count());
  await inst.stopWork();
  return { jobsPerSec: (drained / ms) * 1000, ms, drained, complete };
}

/** Scenario (b): 10,000 awaited single adds from `k` concurrent producers (10,240 for 64). */
function producers(k: number): Scenario {
  return {
    id: k === 8 ? "b-add8" : `b-add${k}`,
    letter: "b",
    title: `single add(), awaited, ${k} concurrent producers`,
    headline: { metric: "opsPerSec", unit: "jobs/s", better: "higher" },
    params: (s) => ({
      n: Math.ceil(scaled(10_000, s, 2 * k) / k) * k,
      backlog: 0,
      concurrency: 0,
      budgetMs: 0,
    }),
    async run(inst, p) {
      const per = p.n / k;
      const t0 = now();
      await Promise.all(
        Array.from({ length: k }, async (_, w) => {
          for (let i = 0; i < per; i++) await inst.add({ i: w * per + i });
        }),
      );
      const ms = now() - t0;
      return { opsPerSec: (p.n / ms) * 1000, ms };
    },
  };
}

/** Fills `p.n` jobs, lets the system prepare (not timed), then drains them all (the drain scenarios). */
async function drainQueued(inst: Instance, p: ScenarioParams): Promise<Values> {
  await fill(inst, p.n, p.bulkChunk);
  await inst.afterFill?.();
  return await drain(inst, p.n, p.concurrency, true, p.budgetMs);
}

/**
 * Fills `p.n` jobs, lets the system prepare (not timed), opens `procs` worker processes on the same
 * queue (not timed), then tells them all to start and measures until the parent has counted `p.n`
 * jobs run and the system reports none unfinished.
 */
async function drainInProcesses(
  procs: number,
  inst: Instance,
  p: ScenarioParams,
  ctx: ScenarioContext,
): Promise<Values> {
  await fill(inst, p.n, p.bulkChunk);
  await inst.afterFill?.();
  const c = counter(p.n);
  const group = await startWorkers(ctx, procs, p.concurrency, "drain", {
    onJobs: (k) => {
      for (let i = 0; i < k; i++) c.handler();
    },
  });
  let t0 = 0;
  let ms = 0;
  let complete = 1;
  try {
    t0 = now();
    await group.go();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const over = new Promise<void>((
      resolve,
    ) => (timer = setTimeout(resolve, p.budgetMs)));
    await Promise.race([c.done, over]);
    clearTimeout(timer);
    if (c.count() < p.n) complete = 0;
    else await settle(inst);
  } finally {
    ms = now() - t0;
    await group.stop();
  }
  const drained = Math.min(p.n, c.count());
  return {
    jobsPerSec: (drained / ms) * 1000,
    ms,
    drained,
    complete,
    processes: procs,
  };
}

/** Scenario (d) in `procs` worker processes. */
function drainProcs(procs: number): Scenario {
  return {
    id: `d-drain-p${procs}`,
    letter: "d",
    title: `drain queued jobs in ${procs} worker process${procs === 1 ? "" : "es"} on one store, ` +
      "best concurrency in each",
    headline: { metric: "jobsPerSec", unit: "jobs/s", better: "higher" },
    processes: true,
    params: (s, best) => ({
      n: scaled(100_000, s, 100),
      backlog: 0,
      concurrency: best,
      budgetMs: drainBudget(s),
    }),
    run: (inst, p, ctx) => drainInProcesses(procs, inst, p, ctx),
  };
}

/** All scenarios, in the order; `fsync` is the machine baseline. */
export const scenarios: readonly Scenario[] = [
  {
    id: "fsync",
    letter: "-",
    title: "machine baseline: 4 KiB write + fdatasync per op",
    headline: { metric: "opsPerSec", unit: "ops/s", better: "higher" },
    params: (s) => ({
      n: scaled(3000, s, 50),
      backlog: 0,
      concurrency: 0,
      budgetMs: 5000,
    }),
    run: () => Promise.reject(new Error("fsync is run by the machine system itself")),
  },
  {
    id: "a-add",
    letter: "a",
    title: "single add(), awaited, one producer",
    headline: { metric: "opsPerSec", unit: "jobs/s", better: "higher" },
    params: (s) => ({
      n: scaled(10_000, s, 20),
      backlog: 0,
      concurrency: 0,
      budgetMs: 0,
    }),
    async run(inst, p) {
      const t0 = now();
      for (let i = 0; i < p.n; i++) await inst.add({ i });
      const ms = now() - t0;
      return { opsPerSec: (p.n / ms) * 1000, ms };
    },
  },
  producers(8),
  producers(64),
  {
    id: "c-bulk",
    letter: "c",
    title: "jobs added in bulk",
    headline: { metric: "opsPerSec", unit: "jobs/s", better: "higher" },
    params: (s) => ({
      n: scaled(100_000, s, 100),
      backlog: 0,
      concurrency: 0,
      budgetMs: 0,
    }),
    async run(inst, p) {
      const t0 = now();
      await fill(inst, p.n, p.bulkChunk);
      const ms = now() - t0;
      return { opsPerSec: (p.n / ms) * 1000, ms };
    },
  },
  {
    id: "d-drain-1",
    letter: "d",
    title: "drain queued jobs, concurrency 1",
    headline: { metric: "jobsPerSec", unit: "jobs/s", better: "higher" },
    params: (s) => ({
      n: scaled(100_000, s, 100),
      backlog: 0,
      concurrency: 1,
      budgetMs: drainBudget(s),
    }),
    run: drainQueued,
  },
  {
    id: "d-drain-best",
    letter: "d",
    title: "drain queued jobs, best concurrency",
    headline: { metric: "jobsPerSec", unit: "jobs/s", better: "higher" },
    params: (s, best) => ({
      n: scaled(100_000, s, 100),
      backlog: 0,
      concurrency: best,
      budgetMs: drainBudget(s),
    }),
    run: drainQueued,
  },
  {
    id: "d-drain-busy",
    letter: "d",
    title: "drain queued jobs, best concurrency, one core kept busy by another process",
    headline: { metric: "jobsPerSec", unit: "jobs/s", better: "higher" },
    busy: true,
    params: (s, best) => ({
      n: scaled(100_000, s, 100),
      backlog: 0,
      concurrency: best,
      budgetMs: drainBudget(s),
    }),
    run: drainQueued,
  },
  {
    id: "e-latency",
    letter: "e",
    title: "enqueue → handler start latency into an idle worker",
    headline: { metric: "p50Ms", unit: "ms", better: "lower" },
    params: (s) => ({
      n: scaled(1000, s, 10),
      backlog: 0,
      concurrency: 1,
      budgetMs: Math.max(5000, 30_000 * Math.min(1, s)),
    }),
    async run(inst, p) {
      const waiting = new Map<number, (t: number) => void>();
      await inst.work((data) => {
        const at = now();
        waiting.get(data.i)?.(at);
      }, 1);
      await sleep(300); // let the worker go idle (blocked in its wait / poll)
      const samples: number[] = [];
      const t0 = now();
      for (let i = 0; i < p.n && now() - t0 < p.budgetMs; i++) {
        const started = startOf(waiting, i);
        const t = now();
        await inst.add({ i, t });
        samples.push((await started) - t);
        waiting.delete(i);
        await sleep(5); // let the completion commit land: the next job meets an idle worker
      }
      await inst.stopWork();
      return {
        p50Ms: percentile(samples, 50),
        p99Ms: percentile(samples, 99),
        maxMs: Math.max(...samples),
        samples: samples.length,
      };
    },
  },
  drainProcs(1),
  drainProcs(4),
  {
    id: "e-latency-xproc",
    letter: "e",
    title: "enqueue → handler start latency across processes (producer here, idle worker in another process)",
    headline: { metric: "p50Ms", unit: "ms", better: "lower" },
    processes: true,
    params: (s) => ({
      n: scaled(1000, s, 10),
      backlog: 0,
      concurrency: 1,
      budgetMs: Math.max(5000, 30_000 * Math.min(1, s)),
    }),
    async run(inst, p, ctx) {
      const waiting = new Map<number, (ms: number) => void>();
      const group = await startWorkers(ctx, 1, 1, "latency", {
        onLatency: (i, ms) => waiting.get(i)?.(ms),
      });
      const samples: number[] = [];
      const acks: number[] = []; // how long each add took to be acknowledged (part of its sample)
      try {
        await group.go();
        await sleep(300); // let the worker go idle (blocked in its wait / poll)
        const t0 = now();
        for (let i = 0; i < p.n && now() - t0 < p.budgetMs; i++) {
          const started = startOf(waiting, i);
          // The worker subtracts `t` from its own clock reading when the handler starts.
          const t = wallNow();
          await inst.add({ i, t });
          acks.push(wallNow() - t);
          samples.push(await started);
          waiting.delete(i);
          await sleep(5); // let the completion commit land: the next job meets an idle worker
        }
      } finally {
        await group.stop();
      }
      return {
        p50Ms: percentile(samples, 50),
        p99Ms: percentile(samples, 99),
        maxMs: Math.max(...samples),
        samples: samples.length,
        addP50Ms: percentile(acks, 50),
        addP99Ms: percentile(acks, 99),
      };
    },
  },
  {
    id: "f-backlog-1k",
    letter: "f",
    title: "claim+complete throughput with 1,000 jobs queued",
    headline: { metric: "jobsPerSec", unit: "jobs/s", better: "higher" },
    params: (s, best) => ({
      n: scaled(5000, s, 50),
      backlog: scaled(1000, s, 10),
      concurrency: best,
      budgetMs: drainBudget(s),
    }),
    async run(inst, p) {
      await fill(inst, p.backlog + p.n, p.bulkChunk);
      await inst.afterFill?.();
      return await drain(inst, p.n, p.concurrency, false, p.budgetMs);
    },
  },
  {
    id: "f-backlog-1m",
    letter: "f",
    title: "claim+complete throughput with 1,000,000 jobs queued",
    headline: { metric: "jobsPerSec", unit: "jobs/s", better: "higher" },
    params: (s, best) => ({
      n: scaled(5000, s, 50),
      backlog: scaled(1_000_000, s, 1000),
      concurrency: best,
      budgetMs: drainBudget(s),
    }),
    async run(inst, p) {
      await fill(inst, p.backlog + p.n, p.bulkChunk);
      await inst.afterFill?.();
      return await drain(inst, p.n, p.concurrency, false, p.budgetMs);
    },
  },
  {
    id: "g-memory",
    letter: "g",
    title: "memory with 1,000,000 jobs queued",
    headline: {
      metric: "bytesPerJob",
      unit: "bytes/job (process RSS)",
      better: "lower",
    },
    params: (s) => ({
      n: scaled(1_000_000, s, 1000),
      backlog: 0,
      concurrency: 0,
      budgetMs: 0,
    }),
    async run(inst, p) {
      collectGarbage();
      await sleep(100);
      const before = rss();
      const server0 = inst.serverBytes ? await inst.serverBytes() : 0;
      const t0 = now();
      await fill(inst, p.n, p.bulkChunk);
      const fillMs = now() - t0;
      collectGarbage();
      await sleep(300);
      collectGarbage();
      const after = rss();
      const values: Values = {
        bytesPerJob: (after - before) / p.n,
        rssMiB: after / 2 ** 20,
        fillJobsPerSec: (p.n / fillMs) * 1000,
      };
      if (inst.serverBytes) {
        values.serverBytesPerJob = ((await inst.serverBytes()) - server0) / p.n;
      }
      return values;
    },
  },
];

/** The scenario with this id. */
export function scenario(id: string): Scenario {
  const s = scenarios.find((x) => x.id === id);
  if (!s) {
    throw new RangeError(
      `Unknown scenario "${id}" (known: ${scenarios.map((x) => x.id).join(", ")})`,
    );
  }
  return s;
}

/** A promise of job `i`'s start (its time or latency), registered in `waiting`; rejects after 30 s. */
function startOf(waiting: Map<number, (v: number) => void>, i: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`job ${i} did not start within 30 s`)), 30_000);
    waiting.set(i, (v) => {
      clearTimeout(timer);
      resolve(v);
    });
  });
}
