// The engine's own cost per job: drains N no-op jobs on the memory store (no I/O at all) and prints
// jobs/s. addBulk 1,000 per call, then process(noop, { concurrency }) until counts().completed === N.
// Not a test; run with a profiler to see where the time goes:
//   node bench/engine_probe.ts [N] [concurrency]
//   node --cpu-prof --cpu-prof-dir=/tmp/prof bench/engine_probe.ts
//   bun bench/engine_probe.ts        deno run -A bench/engine_probe.ts
import { MemoryKv } from "../adapters/memory/mod.ts";
import { Queue } from "../src/queue.ts";

const args = (globalThis as { process?: { argv: string[] } }).process?.argv.slice(2) ??
  (globalThis as { Deno?: { args: string[] } }).Deno?.args ?? [];
const N = Number(args[0] ?? 100_000);
const CONCURRENCY = Number(args[1] ?? 256);

const queue = new Queue<number>(new MemoryKv(), "probe");
const t0 = performance.now();
for (let i = 0; i < N; i += 1000) {
  await queue.addBulk(Array.from({ length: Math.min(1000, N - i) }, (_, j) => ({ data: i + j })));
}
const t1 = performance.now();
let done = 0;
const finished = new Promise<void>((resolve) => {
  queue.on("completed", () => {
    if (++done === N) resolve();
  });
});
const worker = queue.process(() => {}, { concurrency: CONCURRENCY });
await finished;
while ((await queue.counts()).completed < N) await new Promise((r) => setTimeout(r, 1));
const t2 = performance.now();
await worker.close();
const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";
console.log(
  `${runtime}: add ${N} in ${(t1 - t0).toFixed(0)} ms (${(N / (t1 - t0) * 1000).toFixed(0)}/s), ` +
    `drain in ${(t2 - t1).toFixed(0)} ms: ${(N / (t2 - t1) * 1000).toFixed(0)} jobs/s`,
);
