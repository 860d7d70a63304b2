import { test } from "node:test";
import assert from "node:assert/strict";
import { postgresSection } from "../../bench/report.ts";
import type { ResultLine } from "../../bench/run.ts";
import { scenarios } from "../../bench/scenarios.ts";
import { variant, variants } from "../../bench/systems.ts";

function result(id: string, scenario: string, runId: string, values: Record<string, number>[]): ResultLine {
  const v = variant(id);
  return {
    kind: "result",
    runId,
    date: `${runId}T00:00:00.000Z`,
    scale: 0.2,
    variant: id,
    system: v.system,
    group: v.group,
    tuning: v.tuning,
    config: v.config,
    runtime: `${v.runtime} 1`,
    version: "1",
    backend: "PostgreSQL 15",
    durability: "fsync per commit",
    scenario,
    params: { n: 20000, backlog: 0, concurrency: v.best, budgetMs: 12000, bulkChunk: 1000 },
    runs: values,
    median: values[0],
    errors: [],
    command: "npm run bench",
  };
}

test("only systems that share a store across processes run the multi-process scenarios", () => {
  const multi = scenarios.filter((s) => s.processes).map((s) => s.id);
  assert.deepEqual(multi, ["d-drain-p1", "d-drain-p4", "e-latency-xproc"]);
  const shared = variants.filter((v) => v.processes).map((v) => v.id).sort();
  assert.deepEqual(shared, [
    "graphile-worker",
    "graphile-worker-best",
    "kvq-pg-bun",
    "kvq-pg-node",
    "pg-boss",
    "pg-boss-best",
  ]);
  assert.ok(shared.every((id) => variant(id).needs.includes("postgres")));
});

test("the PostgreSQL section shows one run and judges the targets against the fastest peer row", () => {
  const drain = (n: number) => [{ jobsPerSec: n, complete: 1, drained: 20000 }];
  const old = "2026-01-01";
  const run = "2026-01-02";
  const rows = [
    // An older run's kvq row must not be mixed into the newest run's table.
    result("kvq-pg-node", "d-drain-p1", old, drain(99_999)),
    result("kvq-pg-node", "d-drain-p1", run, drain(3000)),
    result("kvq-pg-bun", "d-drain-p1", run, drain(4000)),
    result("pg-boss-best", "d-drain-p1", run, drain(2000)),
    result("graphile-worker-best", "d-drain-p1", run, drain(1000)),
    result("kvq-pg-node", "d-drain-p4", run, drain(1000)),
    result("pg-boss-best", "d-drain-p4", run, drain(2000)),
    result("kvq-pg-node", "e-latency-xproc", run, [{ p50Ms: 0.8, p99Ms: 7, samples: 200 }]),
  ];
  const text = postgresSection(rows);
  assert.match(text, /## PostgreSQL/);
  assert.doesNotMatch(text, /99,999/);
  // 3000 / 2000 = 1.5×: met with one process; 1000 / 2000 = 0.5×: not met with four.
  assert.match(
    text,
    /drain, 1 worker process ≥ 1\.5× the fastest peer row \| 3,000 jobs\/s = 1\.50× \| 4,000 jobs\/s = 2\.00× \| `pg-boss-best` 2,000 jobs\/s \| met \|/,
  );
  assert.match(text, /drain, 4 worker processes[^\n]*\| \*\*NOT met\*\*/);
  assert.match(text, /p50 ≤ 1 ms \| 0\.800 ms \| – ms \| – \| met \|/);
  assert.match(text, /p99 ≤ 5 ms \| 7\.00 ms[^\n]*\*\*NOT met\*\*/);
  assert.equal(postgresSection([]), "");
});
