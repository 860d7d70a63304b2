// Claims from several processes on one PostgreSQL store do not collide much: 4 worker processes
// draining 2,000 no-op jobs together each run a share of them, every job runs exactly once, and
// few commits fail their checks (tests/postgres/_claims.ts; claims_probe.ts reports 1-8 processes).
// No timing is asserted. Skips only when the server is unreachable (see _pg.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { runClaims } from "./_claims.ts";
import { unreachable } from "./_pg.ts";

const skip = await unreachable();

test(
  "4 worker processes draining one store each run jobs, run every job once, and rarely lose a claim race",
  { skip, timeout: 180_000 },
  async () => {
    const jobs = 2000;
    const r = await runClaims(4, jobs, 8, "node");
    const text = JSON.stringify(r);
    console.log(`claims across 4 processes: ${text}`);
    assert.equal(r.ranPerProcess.reduce((a, b) => a + b, 0), jobs, `a job ran twice or never: ${text}`);
    for (const ran of r.ranPerProcess) assert.ok(ran > jobs / 20, `a process starved: ${text}`);
    assert.ok(r.failedPerJob < 0.25, `too many failed commits per job: ${text}`);
  },
);
