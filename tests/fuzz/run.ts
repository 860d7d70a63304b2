// The heavy tier of the fuzzers: `npm run test:fuzz` (or node tests/fuzz/run.ts [options]).
//
//   --target log|keys|records|http|all   which target (default all): a decoder, or the HTTP sidecar
//   --iterations N                  per target (default 1,000,000 for log, 10x for the decoders,
//                                   100,000 requests for http)
//   --concurrency C                 http: requests in flight (default 16)
//   --seed S                        the run's seed (default 1)
//   --only I                        replay just iteration I (what a failure message names)
//
// Prints one line per target with its counts and time, and exits 1 at the first failure, whose
// message names the seed and the iteration.
import process from "node:process";
import { parseArgs } from "node:util";
import { fuzzKeys, fuzzRecords } from "./codec_fuzz.ts";
import { fuzzLog } from "./log_fuzz.ts";
import { fuzzHttp } from "./http_fuzz.ts";

const { values } = parseArgs({
  options: {
    target: { type: "string", default: "all" },
    iterations: { type: "string" },
    seed: { type: "string", default: "1" },
    only: { type: "string" },
    concurrency: { type: "string", default: "16" },
  },
});
const seed = Number(values.seed);
const only = values.only === undefined ? undefined : Number(values.only);
const TARGETS = ["log", "keys", "records", "http"];
const targets = values.target === "all" ? TARGETS : [values.target!];
for (const t of targets) {
  if (!TARGETS.includes(t)) throw new RangeError(`unknown target ${t}`);
}
const DEFAULT_ITERATIONS: Record<string, number> = {
  log: 1_000_000,
  keys: 10_000_000,
  records: 10_000_000,
  http: 100_000,
};

for (const target of targets) {
  const n = only !== undefined ? 1 : Number(values.iterations ?? DEFAULT_ITERATIONS[target]);
  const from = only ?? 0;
  const started = performance.now();
  const progress = (done: number) => {
    if (done % 100_000 === 0) {
      console.error(`  ${target}: ${done} (${((performance.now() - started) / 1000).toFixed(0)} s)`);
    }
  };
  if (target === "http") {
    const stats = await fuzzHttp(seed, n, {
      concurrency: Number(values.concurrency),
      progress: (done) => {
        if (done % 10_000 === 0) {
          console.error(`  http: ${done} (${((performance.now() - started) / 1000).toFixed(0)} s)`);
        }
      },
    });
    console.log(
      `http: seed ${seed}, ${stats.requests} requests in ${(stats.durationMs / 1000).toFixed(1)} s: ${
        JSON.stringify(stats)
      }`,
    );
    if (stats.failures.length > 0) {
      console.error(stats.failures.join("\n"));
      process.exit(1);
    }
    continue;
  }
  const stats = target === "log"
    ? await fuzzLog(seed, n, from, progress)
    : target === "keys"
    ? fuzzKeys(seed, n, from)
    : fuzzRecords(seed, n, from);
  const s = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`${target}: seed ${seed}, ${stats.iterations} iterations in ${s} s: ${JSON.stringify(stats)}`);
}
process.exit(0);
