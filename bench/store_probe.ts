// The memory store's own cost per job, without the engine: commits shaped like the engine's drain.
// Fill N jobs (record + ready key, 250 a commit), then in rounds of B jobs: list the ready prefix
// (limit B), getMany their records, one claim commit (per job: check record, delete ready, set lease,
// set record) and one complete commit (per job: delete lease, set done, set record), plus the counts
// key once per commit. Prints jobs/s, KV ops/s (checks + mutations + keys read + entries listed) and
// the process CPU time per job of the drain (steadier than wall time on a shared machine).
// Not a test:
//   node bench/store_probe.ts [N] [B]        bun bench/store_probe.ts        deno run -A bench/store_probe.ts
//   node --cpu-prof --cpu-prof-dir=/tmp/prof bench/store_probe.ts
import { MemoryKv } from "../adapters/memory/mod.ts";
import type { KvKey } from "../src/kv.ts";

const args = (globalThis as { process?: { argv: string[] } }).process?.argv.slice(2) ??
  (globalThis as { Deno?: { args: string[] } }).Deno?.args ?? [];
const N = Number(args[0] ?? 100_000);
const B = Number(args[1] ?? 100);

const root = ["kvq"];
const Q = "probe";
const enc = new TextEncoder();
const id = (i: number) => "01J" + i.toString(36).padStart(23, "0");
const record = (i: number, state: string) =>
  enc.encode(
    JSON.stringify({ id: id(i), queue: Q, state, data: i, attempts: 1, createdAt: 1_700_000_000_000 + i }),
  );
const counts = [...root, "meta", Q, "counts"];
const empty = new Uint8Array(0);

const kv = new MemoryKv();
const t0 = performance.now();
for (let i = 0; i < N; i += 250) {
  const op = kv.atomic();
  for (let j = i; j < Math.min(N, i + 250); j++) {
    op.check([...root, "job", Q, id(j)], null);
    op.set([...root, "job", Q, id(j)], record(j, "waiting"));
    op.set([...root, "ready", Q, -0, id(j)], empty);
  }
  op.set(counts, enc.encode(`{"waiting":${i}}`));
  await op.commit();
}
const t1 = performance.now();
const cpu = (globalThis as { process?: { cpuUsage(): { user: number; system: number } } }).process?.cpuUsage;
const c1 = cpu?.();
let ops = 0;
let done = 0;
let now = 1_700_000_000_000;
for (;;) {
  const ready: KvKey[] = [];
  for await (const e of kv.list({ prefix: [...root, "ready", Q] }, { limit: B })) ready.push(e.key);
  if (ready.length === 0) break;
  const ids = ready.map((k) => k[k.length - 1] as string);
  const recs = await kv.getMany(ids.map((j) => [...root, "job", Q, j]));
  const claim = kv.atomic();
  claim.relaxed?.();
  ids.forEach((j, n) => {
    claim.check([...root, "job", Q, j], recs[n]!.versionstamp);
    claim.delete(ready[n]);
    claim.set([...root, "lease", Q, now + 30_000, j], empty);
    claim.set([...root, "job", Q, j], recs[n]!.value);
  });
  claim.set(counts, enc.encode(`{"active":${ids.length}}`));
  if (!(await claim.commit()).ok) throw new Error("claim failed");
  const complete = kv.atomic();
  ids.forEach((j, n) => {
    complete.delete([...root, "lease", Q, now + 30_000, j]);
    complete.set([...root, "done", Q, now, j], empty);
    complete.set([...root, "job", Q, j], recs[n]!.value);
  });
  complete.set(counts, enc.encode(`{"completed":${done}}`));
  if (!(await complete.commit()).ok) throw new Error("complete failed");
  ops += ready.length * 9 + 2;
  done += ids.length;
  now++;
}
const t2 = performance.now();
const c2 = cpu?.();
if (done !== N) throw new Error(`drained ${done} of ${N}`);
await kv.close();
const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";
console.log(
  `${runtime} store: fill ${N} in ${(t1 - t0).toFixed(0)} ms, drain in ${(t2 - t1).toFixed(0)} ms: ` +
    `${(N / (t2 - t1) * 1000).toFixed(0)} jobs/s, ${(ops / (t2 - t1) * 1000).toFixed(0)} ops/s` +
    (c1 && c2 ? `, CPU ${((c2.user + c2.system - c1.user - c1.system) / N).toFixed(2)} us/job` : ""),
);
