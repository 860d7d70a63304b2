import { test } from "node:test";
import assert from "node:assert/strict";
import { load1, loadFlags, runLoad } from "../../bench/load.ts";

test("runLoad is the mean of the readings before and after the run", () => {
  assert.equal(runLoad({ before: 1, after: 3 }), 2);
});

test("loadFlags flags a run whose load differs by more than 1 from the run before or after it", () => {
  const flags = loadFlags([
    { before: 1, after: 1 },
    { before: 1.5, after: 1.5 },
    { before: 3, after: 3 },
    { before: 3.2, after: 3.4 },
  ]);
  assert.deepEqual(flags, [false, true, true, false]);
});

test("loadFlags flags nothing when every neighbour is within 1, and handles one run", () => {
  assert.deepEqual(
    loadFlags([{ before: 0.5, after: 1.4 }, { before: 1.9, after: 1.9 }]),
    [false, false],
  );
  assert.deepEqual(loadFlags([{ before: 7, after: 9 }]), [false]);
  assert.deepEqual(loadFlags([]), []);
});

test("load1 reads a finite, non-negative 1-minute load average", () => {
  const l = load1();
  assert.ok(Number.isFinite(l) && l >= 0, String(l));
});
