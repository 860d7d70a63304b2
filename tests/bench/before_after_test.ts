import { test } from "node:test";
import assert from "node:assert/strict";
import { beforeAfterSection, verdict } from "../../bench/before_after.ts";
import { baselineVariant } from "../../bench/baseline.ts";
import type { ResultLine, RunLine } from "../../bench/run.ts";
import { variant } from "../../bench/systems.ts";

test("verdict calls a change beyond noise only when the medians differ by > 5% and the runs do not overlap", () => {
  assert.equal(verdict([100, 110, 105], [150, 160, 155], "higher"), "faster");
  assert.equal(verdict([100, 110, 105], [60, 70, 65], "higher"), "slower");
  assert.equal(verdict([100, 200, 105], [90, 95, 150], "higher"), "within noise"); // overlapping runs
  assert.equal(verdict([100, 101, 102], [103, 104, 104], "higher"), "within noise"); // under 5%
  assert.equal(verdict([2, 2.1, 2.2], [1, 1.1, 1.2], "lower"), "faster");
  assert.equal(verdict([1, 1.1, 1.2], [2, 2.1, 2.2], "lower"), "slower");
  assert.equal(verdict([], [1], "lower"), "within noise");
});

test("baselineVariant names the old row <id>@<rev> and refuses a peer", () => {
  const b = baselineVariant(variant("kvq-store-node"), { rev: "abc1234", root: "/tmp/x" });
  assert.equal(b.id, "kvq-store-node@abc1234");
  assert.deepEqual(b.baseline, { of: "kvq-store-node", rev: "abc1234", root: "/tmp/x" });
  assert.equal(b.byDefault, false);
  assert.throws(() => baselineVariant(variant("plainjob"), { rev: "abc1234", root: "/tmp/x" }), TypeError);
});

function row(variantId: string, runId: string, runs: number[], baseline?: string): ResultLine {
  return {
    kind: "result",
    runId,
    date: `2026-01-01T00:00:0${runId}.000Z`,
    scale: 1,
    variant: baseline ? `${variantId}@${baseline}` : variantId,
    system: "kvq",
    group: "kvq",
    config: "",
    runtime: "node 24",
    version: "0.1.0",
    backend: "memory",
    durability: "none",
    scenario: "d-drain-best",
    params: {},
    runs: runs.map((jobsPerSec) => ({ jobsPerSec })),
    median: { jobsPerSec: runs[1] },
    errors: [],
    command: "",
    ...(baseline ? { baseline: { of: variantId, rev: baseline } } : {}),
  };
}

test("beforeAfterSection pairs each baseline row with the current row of the same run and says which is slower", () => {
  const runs = ["1", "2"].map((runId): RunLine => ({
    kind: "run",
    runId,
    date: `2026-01-01T00:00:0${runId}.000Z`,
    scale: 1,
    runs: 3,
    argv: [],
    host: { cpus: 2, model: "x", memGiB: 1, kernel: "k" },
    command: `npm run bench -- --baseline abc1234 #${runId}`,
    baseline: "abc1234",
  }));
  const results = [
    row("kvq-memory-node", "1", [1, 1, 1]), // an older run: not paired with run 2's baseline
    row("kvq-memory-node", "2", [50, 60, 70]),
    row("kvq-memory-node", "2", [100, 110, 120], "abc1234"),
  ];
  const text = beforeAfterSection(results, runs, []);
  assert.match(text, /## Engine v2: before and after/);
  assert.match(
    text,
    /\| \(d\) d-drain-best \| kvq-memory-node \| jobs\/s \| 110 \| 60.0 \| 0\.55× .*\*\*slower\*\* \|/,
  );
  assert.match(
    text,
    /Slower after than before, beyond noise: \(d\) d-drain-best on kvq-memory-node \(0\.55×\)/,
  );
  assert.match(text, /#2`/);
  assert.equal(beforeAfterSection([], [], []), "");
});
