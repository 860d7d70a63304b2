// The engine's own cost per job: drains N no-op jobs on the memory store (no I/O at all) and prints
// jobs/s. addBulk 1,000 per call, then process(noop, { concurrency }) until counts().completed === N.
// Also prints the process's CPU time per drained job (Node, Bun): on a shared machine it moves
// less with load than jobs/s. Not a test; run with a profiler to see where the time goes:
//   node bench/engine_probe.ts [N] [concurrency]
//   node --cpu-prof --cpu-prof-dir=/tmp/prof bench/engine_probe.ts
//   bun bench/engine_probe.ts        deno run -A bench/engine_probe.ts
//   node bench/engine_probe.ts 10000 256 count     also counts KV operations per job during the drain
//   node bench/engine_probe.ts 100000 256 - store  the same drain on the runtime's default durable store
//                                                  (openStore in a temporary directory), fsync and all
import { MemoryKv } from "../adapters/memory/mod.ts";
import type { AtomicKv, KvKey } from "../src/kv.ts";
import { Queue } from "../src/queue.ts";
import { openStore } from "../adapters/store/mod.ts";

async function makeTempDir(): Promise<string> {
  const { mkdtempSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  return mkdtempSync(`${tmpdir()}/kvq-probe-`);
}

const args = (globalThis as { process?: { argv: string[] } }).process?.argv.slice(2) ??
  (globalThis as { Deno?: { args: string[] } }).Deno?.args ?? [];
const N = Number(args[0] ?? 100_000);
const CONCURRENCY = Number(args[1] ?? 256);
const COUNT = args[2] === "count";
const STORE = args[3] === "store";

/** KV operations made through the store (counted only with `count`). */
const ops = { commits: 0, mutations: 0, checks: 0, keysRead: 0 };

/** The memory store, with every operation counted. */
function counted(kv: AtomicKv): AtomicKv {
  return {
    info: kv.info,
    get: (key: KvKey) => (ops.keysRead++, kv.get(key)),
    getMany: (
      keys: readonly KvKey[],
    ) => (ops.keysRead += keys.length, kv.getMany(keys)),
    list: (sel, o) => kv.list(sel, o),
    watch: kv.watch?.bind(kv),
    close: () => kv.close(),
    atomic() {
      const op = kv.atomic();
      const check = op.check.bind(op),
        set = op.set.bind(op),
        del = op.delete.bind(op);
      const commit = op.commit.bind(op);
      op.check = (k, v) => (ops.checks++, check(k, v), op);
      op.set = (k, v) => (ops.mutations++, set(k, v), op);
      op.delete = (k) => (ops.mutations++, del(k), op);
      op.commit = () => (ops.commits++, commit());
      return op;
    },
  } as AtomicKv;
}

const tmp = STORE ? await makeTempDir() : "";
const store: AtomicKv = STORE ? await openStore(`${tmp}/probe.db`) : new MemoryKv();
const queue = new Queue<number>(COUNT ? counted(store) : store, "probe");
const t0 = performance.now();
for (let i = 0; i < N; i += 1000) {
  await queue.addBulk(
    Array.from({ length: Math.min(1000, N - i) }, (_, j) => ({ data: i + j })),
  );
}
const t1 = performance.now();
const cpu = (globalThis as { process?: { cpuUsage?: () => { user: number; system: number } } }).process
  ?.cpuUsage;
const c1 = cpu?.();
const filled = { ...ops };
let done = 0;
const finished = new Promise<void>((resolve) => {
  queue.on("completed", () => {
    if (++done === N) resolve();
  });
});
const worker = queue.process(() => {}, { concurrency: CONCURRENCY });
await finished;
while ((await queue.counts()).completed < N) {
  await new Promise((r) => setTimeout(r, 1));
}
const t2 = performance.now();
const c2 = cpu?.();
const drained = { ...ops };
await worker.close();
if (STORE) {
  await queue.close();
  await store.close();
  const { rmSync } = await import("node:fs");
  rmSync(tmp, { recursive: true, force: true });
}
const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";
console.log(
  `${runtime}: add ${N} in ${(t1 - t0).toFixed(0)} ms (${(N / (t1 - t0) * 1000).toFixed(0)}/s), ` +
    `drain in ${(t2 - t1).toFixed(0)} ms: ${(N / (t2 - t1) * 1000).toFixed(0)} jobs/s` +
    // CPU time of this process per drained job: less sensitive to a busy machine than wall time.
    (c1 && c2 ? `, ${((c2.user + c2.system - c1.user - c1.system) / N).toFixed(1)} µs CPU/job` : ""),
);
if (COUNT) {
  const per = (k: keyof typeof ops) => ((drained[k] - filled[k]) / N).toFixed(3);
  console.log(
    `drain, per job: ${per("mutations")} mutations, ${per("checks")} checks, ${per("keysRead")} keys read, ` +
      `${per("commits")} commits`,
  );
}
