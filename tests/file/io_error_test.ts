// I/O errors at every operation (SQLite's method): tests/file/io_faults.ts runs a full workload with
// the k-th call of each file operation failing, once and from then on, for every k it reaches.
import { test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { FAULT_OPS, runEveryFault, runWithFault } from "./io_faults.ts";

test("FileKv with an I/O error at the k-th call of every operation, every k: typed errors, every acknowledged commit kept", async () => {
  const clean = await runWithFault(null);
  const totals = await runEveryFault();
  if (process.env.KVQ_FIGURES) console.log(`I/O error runs: ${JSON.stringify(totals)}`);
  // Each operation the workload uses was failed at each of its calls, once and sticky.
  for (const op of FAULT_OPS) assert.equal(totals.runs[op] ?? 0, 2 * (clean.counts[op] ?? 0), op);
  for (const op of ["write", "fdatasync", "rename", "read", "ftruncate", "fsyncDir", "open"]) {
    assert.ok((clean.counts[op] ?? 0) > 0, `the workload never calls ${op}`);
  }
  assert.ok(totals.failed > 100, `only ${totals.failed} commits failed`);
});
