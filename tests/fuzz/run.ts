// The heavy tier of the fuzzers: `npm run test:fuzz` (or node tests/fuzz/run.ts [options]).
//
//   --target log|keys|records|all   which decoder (default all)
//   --iterations N                  mutations per target (default 1,000,000 for log, 10x for the others)
//   --seed S                        the run's seed (default 1)
//   --only I                        replay just iteration I (what a failure message names)
//
// Prints one line per target with its counts and time, and exits 1 at the first failure, whose
// message names the seed and the iteration.
import process from "node:process";
import { parseArgs } from "node:util";
import { fuzzKeys, fuzzRecords } from "./codec_fuzz.ts";
import { fuzzLog } from "./log_fuzz.ts";

const { values } = parseArgs({
  options: {
    target: { type: "string", default: "all" },
    iterations: { type: "string" },
    seed: { type: "string", default: "1" },
    only: { type: "string" },
  },
});
const seed = Number(values.seed);
const only = values.only === undefined ? undefined : Number(values.only);
const targets = values.target === "all" ? ["log", "keys", "records"] : [values.target!];
for (const t of targets) {
  if (!["log", "keys", "records"].includes(t)) throw new RangeError(`unknown target ${t}`);
}

for (const target of targets) {
  const n = only !== undefined ? 1 : Number(values.iterations ?? (target === "log" ? 1_000_000 : 10_000_000));
  const from = only ?? 0;
  const started = performance.now();
  const progress = (done: number) => {
    if (done % 100_000 === 0) {
      console.error(`  ${target}: ${done} (${((performance.now() - started) / 1000).toFixed(0)} s)`);
    }
  };
  const stats = target === "log"
    ? await fuzzLog(seed, n, from, progress)
    : target === "keys"
    ? fuzzKeys(seed, n, from)
    : fuzzRecords(seed, n, from);
  const s = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`${target}: seed ${seed}, ${stats.iterations} iterations in ${s} s: ${JSON.stringify(stats)}`);
}
process.exit(0);
