// The CI slice of the crash tests: every durable adapter, SIGKILLed at random moments again and
// again by tests/crash/driver.ts, loses no acknowledged job and runs no job twice without a kill
// or a lease expiry to explain it. The heavy tier is `npm run test:crash` (500 cycles each).
//
// The children run on the runtime each adapter is native to, whichever runtime runs this file;
// so the whole matrix (4 x 50 cycles and 20 on PostgreSQL, about 3.5 minutes) runs once, under Node. Under Bun and Deno
// this file runs a short slice of its own runtime's adapter (10 cycles), which proves the driver
// itself works there without spending CI minutes on the same children again.
// KVQ_CRASH_CYCLES overrides the cycle count of every run.
import { test } from "node:test";
import assert from "node:assert/strict";
import { type CrashAdapter, type CrashRuntime, formatReport, runCrash } from "./driver.ts";
import { unreachable } from "../postgres/_pg.ts";

const g = globalThis as { Deno?: unknown; Bun?: unknown };
const here: CrashRuntime = g.Deno !== undefined ? "deno" : g.Bun !== undefined ? "bun" : "node";
const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};
const override = Number(env.KVQ_CRASH_CYCLES ?? "") || 0;

const NAMES: Record<CrashAdapter, string> = {
  file: "file store",
  sqlite: "sqlite",
  "deno-kv": "deno-kv",
  postgres: "postgres",
};
const runs: [CrashAdapter, CrashRuntime, number][] = here === "node"
  ? [
    ["file", "node", 50],
    ["sqlite", "node", 50],
    ["sqlite", "bun", 50],
    ["deno-kv", "deno", 50],
    ["postgres", "node", 20],
  ]
  : here === "bun"
  ? [["sqlite", "bun", 10]]
  : [["deno-kv", "deno", 10]];

// The postgres run skips, saying why, when no server answers at KVQ_POSTGRES_URL.
const pgSkip = runs.some(([a]) => a === "postgres") ? await unreachable() : false;

for (const [adapter, runtime, defaultCycles] of runs) {
  const cycles = override || defaultCycles;
  test(
    `crash: ${NAMES[adapter]} on ${runtime} keeps every acknowledged job through ${cycles} SIGKILLs`,
    { timeout: 600_000, skip: adapter === "postgres" ? pgSkip : false },
    async () => {
      const report = await runCrash({ adapter, runtime, cycles, seed: 20240601 + cycles });
      const text = formatReport(report);
      assert.equal(report.cycles, cycles, text);
      assert.ok(report.jobs > cycles, `too few jobs to mean anything\n${text}`);
      assert.equal(report.lost, 0, text);
      assert.equal(report.lostCompletions, 0, text);
      assert.equal(report.inconsistent, 0, text);
      assert.equal(report.notCompleted, 0, text);
      assert.equal(report.openErrors, 0, text);
      assert.equal(report.unexplained, 0, text);
      assert.deepEqual(report.problems, [], text);
    },
  );
}

test("crash: the driver reports lost jobs when a store acknowledges commits before it makes them", {
  timeout: 120_000,
}, async () => {
  // The child wraps the file store so every commit resolves at once and lands 150 ms later;
  // producers add every 5-25 ms, so each kill drops acknowledged adds. The checks must see it.
  const report = await runCrash({
    adapter: "file",
    runtime: "node",
    cycles: 3,
    earlyKill: 0,
    fault: "ack-early",
    final: false,
  });
  assert.ok(report.lost > 0, formatReport(report));
  assert.ok(
    report.problems.some((p) => /acknowledged in cycle \d+, is missing/.test(p)),
    formatReport(report),
  );
});
