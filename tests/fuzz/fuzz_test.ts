// The CI slice of the fuzzers (tests/fuzz/run.ts is the heavy tier): a fixed seed and a few
// thousand iterations per decoder, and 1,500 requests against the sidecar, on each runtime. A
// failure names its seed and iteration (or request).
import { test } from "node:test";
import assert from "node:assert/strict";
import { fuzzKeys, fuzzRecords } from "./codec_fuzz.ts";
import { fuzzLog } from "./log_fuzz.ts";
import { fuzzHttp } from "./http_fuzz.ts";

test("file store log reader under 3,000 structured mutations: a prefix of the acknowledged commits or a typed error", async () => {
  const stats = await fuzzLog(20261203, 3000);
  assert.equal(stats.iterations, 3000);
  // Both outcomes happen: the fuzzer reaches the torn-tail path and the corruption path.
  const [opened, refused] = Object.values(stats.byMutation).reduce(([a, b], [o, f]) => [a + o, b + f], [
    0,
    0,
  ]);
  assert.ok(opened > 300 && refused > 300, `opened ${opened}, refused ${refused}`);
  assert.ok(stats.tailsCut > 100, `only ${stats.tailsCut} torn tails cut`);
});

test("decodeKey on 30,000 random and mutated encodings: a key that encodes again, or a TypeError", () => {
  const stats = fuzzKeys(20261203, 30_000);
  assert.ok(stats.decoded > 1000 && stats.refused > 1000, JSON.stringify(stats));
});

test("decodeRecord on 30,000 random, mutated and reshaped records: a job record, or a CorruptionError", () => {
  const stats = fuzzRecords(20261203, 30_000);
  assert.ok(stats.decoded > 1000 && stats.refused > 1000, JSON.stringify(stats));
});

test("the sidecar on a real port under 1,500 generated requests: no unauthenticated mutation, no undocumented 5xx, the store unchanged by refused requests, memory bounded", async () => {
  const stats = await fuzzHttp(20261203, 1500, { concurrency: 8, round: 150 });
  assert.deepEqual(stats.failures, []);
  assert.equal(stats.requests, 1500);
  assert.ok(stats.snapshots >= 3, `only ${stats.snapshots} hostile rounds`);
  for (const status of ["200", "201", "400", "401", "413", "415"]) {
    assert.ok((stats.byStatus[status] ?? 0) > 10, `few ${status}: ${JSON.stringify(stats.byStatus)}`);
  }
  for (
    const kind of ["unauth", "violation", "malformed", "oversize", "slow-body", "framing", "add", "claim"]
  ) {
    assert.ok((stats.byKind[kind] ?? 0) > 5, `few ${kind}: ${JSON.stringify(stats.byKind)}`);
  }
});
