// A fleet on one PostgreSQL store: 4 worker processes (Node, Bun, Deno, Node) and 2 producer
// processes (Bun, Deno), with 20 SIGKILLs of random workers, each replaced by a new process
// (tests/crash/fleet.ts). No job is held by two live workers at once, none is lost, and every
// repeated run is explained by a kill or an expired lease. `npm run test:crash` runs 500 kills.
// KVQ_FLEET_CYCLES overrides the kill count. Skips only when the server is unreachable (_pg.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { formatFleetReport, runFleet } from "../crash/fleet.ts";
import { unreachable } from "./_pg.ts";

const skip = await unreachable();
const cycles = Number(process.env.KVQ_FLEET_CYCLES ?? "") || 20;

test(
  `a fleet of 4 workers and 2 producers on Node, Bun and Deno through ${cycles} SIGKILLs of random workers loses nothing and never holds a job twice`,
  { skip, timeout: 600_000 },
  async () => {
    const report = await runFleet({ cycles, seed: 20261203 });
    const text = formatFleetReport(report);
    console.log(text);
    assert.equal(report.kills, cycles, text);
    assert.ok(report.jobs > cycles * 5, `too few jobs to mean anything\n${text}`);
    for (const rt of ["node", "bun", "deno"]) {
      assert.ok(report.startsByRuntime[rt] > 0, `no job ran on ${rt}\n${text}`);
    }
    assert.equal(report.lost, 0, text);
    assert.equal(report.notCompleted, 0, text);
    assert.equal(report.overlaps, 0, text);
    assert.equal(report.unexplained, 0, text);
    assert.deepEqual(report.problems, [], text);
  },
);

test(
  "the fleet's checks report a job held by two workers at once when a worker reports runs it does not hold",
  { skip, timeout: 120_000 },
  async () => {
    const report = await runFleet({ cycles: 2, seed: 7, fault: "double-hold" });
    const text = formatFleetReport(report);
    assert.ok(report.overlaps > 0, text);
    assert.ok(report.problems.some((p) => /while .* held attempt/.test(p)), text);
  },
);
