/**
 * The heavy tier of the deterministic simulation: `npm run test:sim` (10,000 seeds).
 *
 * Usage: node tests/sim/run.ts [--seeds N] [--from S] [--steps K]
 * `SIM_SEED=<n>` runs that one seed and prints its trace (`SIM_STEPS=<k>` when it failed with a
 * step count other than the default). Exits 1 when any seed fails.
 *
 * @module
 */

import process from "node:process";
import { DEFAULT_STEPS, FAULT_KINDS, runSeed, type SimResult } from "./sim.ts";

const args = process.argv.slice(2);
const flag = (name: string, def: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const single = process.env.SIM_SEED;
const seeds = single !== undefined ? [Number(single)] : Array.from(
  { length: flag("--seeds", 1000) },
  (_, i) => flag("--from", 1) + i,
);
const steps = flag("--steps", Number(process.env.SIM_STEPS ?? DEFAULT_STEPS));
const started = performance.now();
const faults = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<string, number>;
let checks = 0, totalSteps = 0, acked = 0, commits = 0, runs = 0, fencing = 0, skipped = 0;
const failures: SimResult[] = [];
for (const seed of seeds) {
  const r = await runSeed(seed, { steps });
  totalSteps += r.stats.steps;
  checks += r.stats.checks;
  acked += r.stats.acked;
  commits += r.stats.commits;
  runs += r.stats.runs;
  fencing += r.stats.fencingTests;
  skipped += r.stats.ticksSkippedFull;
  for (const k of FAULT_KINDS) faults[k]! += r.stats.faults[k];
  if (!r.ok) {
    failures.push(r);
    const more = steps === DEFAULT_STEPS ? "" : ` SIM_STEPS=${steps}`;
    console.log(`seed ${seed} FAILED: ${r.error}\n  reproduce: SIM_SEED=${seed}${more} npm run test:sim`);
    if (single !== undefined) console.log(r.trace!.map((t) => "  " + t).join("\n"));
  }
}
const seconds = (performance.now() - started) / 1000;
const summary = {
  seeds: seeds.length,
  stepsPerSeed: steps,
  steps: totalSteps,
  commits,
  handlerRuns: runs,
  staleRunsFenced: fencing,
  ticksSkippedQueueFull: skipped,
  ackedAdds: acked,
  invariantChecks: checks,
  faults,
  failures: failures.length,
  failedSeeds: failures.map((f) => f.seed).slice(0, 50),
  seconds: Math.round(seconds * 10) / 10,
};
console.log(JSON.stringify(summary, null, 2));
process.exitCode = failures.length ? 1 : 0;
