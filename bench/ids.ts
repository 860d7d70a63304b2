// Id generation: kvq's previous own monotonic ULID factory (bench/ids_own.ts), the `ulid` package's
// monotonicFactory as it comes (its default random source), and src/ids.ts (the package's factory over a
// pooled crypto random source, what the engine uses), alone (ids per second, same ms and advancing ms, crypto and seeded random) and on
// the add path (Queue.addBulk, and add() awaited one at a time, on the memory store with each factory injected as `ids`). Interleaved
// rounds, median reported. Not a test:
//   node bench/ids.ts [rounds]      bun bench/ids.ts      deno run -A bench/ids.ts
import { monotonicFactory } from "ulid";
import { MemoryKv } from "../adapters/memory/mod.ts";
import { type IdFactory, monotonicUlid, seededRandom } from "../src/ids.ts";
import { monotonicUlid as ownUlid } from "./ids_own.ts";
import { Queue } from "../src/queue.ts";

const args = (globalThis as { process?: { argv: string[] } }).process?.argv.slice(2) ??
  (globalThis as { Deno?: { args: string[] } }).Deno?.args ?? [];
const ROUNDS = Number(args[0] ?? 7);
const T = 1_700_000_000_000;

/** The `ulid` package's monotonic factory behind kvq's IdFactory signature. */
function packageUlid(random?: () => number): IdFactory {
  const f = monotonicFactory(random);
  return (now) => f(now);
}

const factories: Record<string, (random?: () => number) => IdFactory> = {
  own: (r) => ownUlid(r),
  "ulid package": (r) => packageUlid(r),
  "src/ids.ts (ulid)": (r) => monotonicUlid(r),
};

function idsPerSec(make: IdFactory, n: number, advance: boolean): number {
  const t0 = performance.now();
  let s = 0;
  for (let i = 0; i < n; i++) s += make(advance ? T + i : T).length;
  if (s !== n * 26) throw new Error("bad ids");
  return n / ((performance.now() - t0) / 1000);
}

async function addsPerSec(make: IdFactory, n: number): Promise<number> {
  const kv = new MemoryKv();
  const q = new Queue(kv, "bench", { ids: make });
  const batch = Array.from({ length: 1000 }, (_, i) => ({ data: { i } }));
  const t0 = performance.now();
  for (let i = 0; i < n; i += 1000) await q.addBulk(batch);
  const rate = n / ((performance.now() - t0) / 1000);
  await q.close();
  await kv.close();
  return rate;
}

async function singleAddsPerSec(make: IdFactory, n: number): Promise<number> {
  const kv = new MemoryKv();
  const q = new Queue(kv, "bench", { ids: make });
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await q.add({ i });
  const rate = n / ((performance.now() - t0) / 1000);
  await q.close();
  await kv.close();
  return rate;
}

const rotate = <T>(xs: T[], r: number): T[] => xs.map((_, i) => xs[(i + r) % xs.length]!);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const rows: Record<string, number[]> = {};
const put = (k: string, v: number) => (rows[k] ??= []).push(v);
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, f] of rotate(Object.entries(factories), r)) {
    put(
      `${name} ids/s, same ms, crypto random`,
      idsPerSec(f(), 300_000, false),
    );
    put(
      `${name} ids/s, new ms each, crypto random`,
      idsPerSec(f(), 300_000, true),
    );
    put(
      `${name} ids/s, new ms each, seeded random`,
      idsPerSec(f(seededRandom(1)), 300_000, true),
    );
    put(`${name} addBulk jobs/s (memory store)`, await addsPerSec(f(), 20_000));
    put(
      `${name} add() one at a time, jobs/s (memory store)`,
      await singleAddsPerSec(f(), 5_000),
    );
  }
}
const runtime = (globalThis as { Bun?: unknown }).Bun
  ? "bun"
  : (globalThis as { Deno?: unknown }).Deno
  ? "deno"
  : "node";
for (const [k, v] of Object.entries(rows)) {
  console.log(`${runtime}\t${k}\t${Math.round(median(v))}`);
}
