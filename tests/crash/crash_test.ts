// The CI slice of the crash tests: every durable adapter, SIGKILLed (and now and then SIGSTOPped
// past its lease) at random moments again and again by tests/crash/driver.ts, loses no
// acknowledged job and runs no job twice without a kill or a lease expiry to explain it; and the
// stores several processes share (SQLite, Deno KV, PostgreSQL) do the same with a fleet of worker
// processes (tests/crash/fleet.ts). The heavy tier is `npm run test:crash`.
//
// The children run on the runtime each adapter is native to, whichever runtime runs this file;
// so the whole matrix (4 x 50 cycles and 20 on PostgreSQL, about 3.5 minutes) runs once, under Node. Under Bun and Deno
// this file runs a short slice of its own runtime's adapter (10 cycles), which proves the driver
// itself works there without spending CI minutes on the same children again.
// KVQ_CRASH_CYCLES overrides the cycle count of every run.
import { test } from "node:test";
import assert from "node:assert/strict";
import { type CrashAdapter, type CrashRuntime, formatReport, runCrash } from "./driver.ts";
import { type FleetAdapter, formatFleetReport, runFleet } from "./fleet.ts";
import { unreachable } from "../postgres/_pg.ts";
import { startThrowaway, throwawayUnavailable } from "../postgres/_server.ts";

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
      // A few cycles also SIGSTOP the child past its lease before the kill.
      const report = await runCrash({ adapter, runtime, cycles, seed: 20240601 + cycles, stopShare: 0.04 });
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

// The multi-process fleets (tests/crash/fleet.ts): 4 workers and 2 producers on one store, random
// SIGKILLs, SIGSTOPs past the lease; PostgreSQL on a throwaway server of the test's own, crashed.
const fleets: [FleetAdapter, number][] = here === "node"
  ? [["sqlite", 15], ["deno-kv", 15], ["postgres", 15]]
  : here === "bun"
  ? [["sqlite", 8]]
  : [["deno-kv", 8]];
const throwawaySkip = throwawayUnavailable();

for (const [adapter, defaultCycles] of fleets) {
  const cycles = override || defaultCycles;
  const pg = adapter === "postgres";
  test(
    `crash: a fleet on ${
      NAMES[adapter]
    } loses nothing and never holds a job twice through ${cycles} SIGKILLs ` +
      `of random workers, SIGSTOPs past the lease${pg ? " and server crashes" : ""}`,
    { timeout: 600_000, skip: pg ? throwawaySkip : false },
    async () => {
      const server = pg ? await startThrowaway() : undefined;
      try {
        const report = await runFleet({
          adapter,
          cycles,
          seed: 20261204 + cycles,
          stopShare: 0.5,
          server,
          serverCrashEvery: 5,
        });
        const text = formatFleetReport(report);
        assert.equal(report.kills, cycles, text);
        assert.ok(report.jobs > cycles * 5, `too few jobs to mean anything\n${text}`);
        assert.ok(report.stops > 0, `no worker was SIGSTOPped\n${text}`);
        if (pg) assert.ok(report.serverCrashes > 0, text);
        assert.equal(report.lost, 0, text);
        assert.equal(report.notCompleted, 0, text);
        assert.equal(report.overlaps, 0, text);
        assert.equal(report.unexplained, 0, text);
        assert.deepEqual(report.problems, [], text);
      } finally {
        await server?.destroy();
      }
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
