/**
 * The CI tier of the deterministic simulation: 500 seeds (`tests/sim/sim.ts` says what a seed
 * does). A failing seed prints the command that replays it: `SIM_SEED=<n> npm run test:sim`.
 * The heavy tier is `npm run test:sim` (10,000 seeds).
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_STEPS, runSeed, type SimResult } from "./sim.ts";

const SEEDS = 500;
/** Steps of each seed's fault phase (as in the heavy tier, so a seed replays there as it ran here). */
const STEPS = DEFAULT_STEPS;

// Five tests of 100 seeds, so each stays far inside a runner's per-test timeout on a busy machine.
for (let from = 1; from <= SEEDS; from += 100) {
  const to = from + 99;
  test(`the engine keeps every invariant over simulated seeds ${from}-${to} with faults at any step`, async () => {
    const failed: SimResult[] = [];
    let checks = 0, faults = 0;
    for (let seed = from; seed <= to; seed++) {
      const r = await runSeed(seed, { steps: STEPS });
      checks += r.stats.checks;
      faults += Object.values(r.stats.faults).reduce((a, b) => a + b, 0);
      if (!r.ok) failed.push(r);
    }
    const report = failed.slice(0, 5).map((r) =>
      `seed ${r.seed}: ${r.error}\n  reproduce: SIM_SEED=${r.seed} npm run test:sim\n` +
      r.trace!.slice(-12).map((t) => `    ${t}`).join("\n")
    ).join("\n");
    assert.equal(failed.length, 0, `${failed.length} of 100 seeds failed:\n${report}`);
    assert.ok(checks > 100 * 10, `only ${checks} invariant checks ran`);
    assert.ok(faults > 100, `only ${faults} faults were injected`);
  });
}

test("a seed replays exactly: the same seed gives the same trace and stats", async () => {
  for (const seed of [3, 42, 4242]) {
    const a = await runSeed(seed, { steps: STEPS });
    const b = await runSeed(seed, { steps: STEPS });
    assert.equal(a.digest, b.digest, `seed ${seed} ran differently twice`);
    assert.deepEqual(a.stats, b.stats);
  }
});
