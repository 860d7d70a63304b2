import { test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { FileKv } from "../../adapters/file/mod.ts";
import { dec, enc } from "./helpers.ts";
import { mulberry } from "./random.ts";
import { SimFs } from "./sim_fs.ts";

const PATH = "/data/store.kvq";
const WORKERS = 6;

/**
 * One crash cycle: WORKERS concurrent writers each commit ["w", w, i % 16] = i together with
 * ["last", w] = i, one commit after another (overwrites, so automatic compaction runs too), on a simulated disk that loses power after a random number of
 * operations, with a torn, partly zeroed tail. Returns what each writer had acknowledged.
 */
async function cycle(sim: SimFs, random: () => number) {
  const kv = await FileKv.open(PATH, { fs: sim, compactMinBytes: 2048, compactRatio: 2 });
  const start: number[] = [];
  for (let w = 0; w < WORKERS; w++) {
    const e = await kv.get(["last", w]);
    start.push(e ? Number(dec(e.value)) + 1 : 0);
  }
  const acked = start.map((s) => s - 1);
  let ops = 0;
  const crashAfter = 5 + Math.floor(random() * 120);
  sim.hook = () => {
    if (ops++ === crashAfter) throw sim.kill();
  };
  await Promise.all(start.map(async (first, w) => {
    for (let i = first; i < first + 1000; i++) {
      try {
        const r = await kv.atomic().set(["w", w, i % 16], enc(String(i))).set(["last", w], enc(String(i)))
          .commit();
        if (!r.ok) throw new Error("unexpected check failure");
        acked[w] = i;
      } catch {
        return; // the process died
      }
    }
  }));
  return { acked, compacted: kv.stats().compactions };
}

test("FileKv power loss at random moments (simulated torn writes): every acked commit survives, no commit is partial", async () => {
  const random = mulberry(7);
  let sim = new SimFs();
  let cycles = 0;
  let torn = 0;
  let compactions = 0;
  for (let round = 0; round < 400; round++) {
    const { acked, compacted } = await cycle(sim, random);
    compactions += compacted;
    sim = sim.crash({ torn: true, random });
    const kv = await FileKv.open(PATH, { fs: sim }); // must never be a CorruptionError
    if (kv.recovery.truncatedBytes > 0) torn++;
    for (let w = 0; w < WORKERS; w++) {
      const last = await kv.get(["last", w]);
      const n = last ? Number(dec(last.value)) : -1;
      // Every acknowledged commit is there; at most the one in flight beyond it.
      assert.ok(
        n >= acked[w] && n <= acked[w] + 1,
        `round ${round} worker ${w}: last ${n}, acked ${acked[w]}`,
      );
      // Atomicity: the two keys of each commit moved together.
      if (n >= 0) assert.equal(dec((await kv.get(["w", w, n % 16]))?.value), String(n));
      if (n >= 15) assert.equal(dec((await kv.get(["w", w, (n + 1) % 16]))?.value), String(n - 15));
    }
    await kv.close();
    cycles++;
  }
  if (process.env.KVQ_FIGURES) {
    console.log(`power-loss cycles: ${cycles}, torn tails cut: ${torn}, compactions: ${compactions}`);
  }
  assert.equal(cycles, 400);
  assert.ok(torn > 10, `only ${torn} cycles had a torn tail`);
  assert.ok(compactions > 5, `only ${compactions} compactions`);
});
