import { test } from "node:test";
import assert from "node:assert/strict";
import { nextCronRun, nextIntervalRun, validateCron } from "../../src/cron.ts";

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function runs(expression: string, from: number, n: number, timezone?: string): (string | null)[] {
  const out: (string | null)[] = [];
  let t: number | null = from;
  for (let i = 0; i < n && t !== null; i++) {
    t = nextCronRun(expression, t, timezone);
    out.push(iso(t));
  }
  return out;
}

test("nextCronRun reads the expression in UTC by default", () => {
  assert.deepEqual(runs("0 2 * * *", Date.UTC(2025, 0, 1), 2), [
    "2025-01-01T02:00:00.000Z",
    "2025-01-02T02:00:00.000Z",
  ]);
  assert.equal(iso(nextCronRun("*/15 * * * *", Date.UTC(2025, 0, 1, 10, 7, 30))), "2025-01-01T10:15:00.000Z");
});

test("nextCronRun is strictly after the given time", () => {
  const t = Date.UTC(2025, 0, 1, 10, 15);
  assert.equal(iso(nextCronRun("*/15 * * * *", t)), "2025-01-01T10:30:00.000Z");
  assert.equal(iso(nextCronRun("* * * * *", t - 1)), "2025-01-01T10:15:00.000Z");
  assert.equal(iso(nextCronRun("* * * * *", t + 0.5)), "2025-01-01T10:16:00.000Z");
});

test("nextCronRun in Europe/Berlin moves a run in the spring-forward gap to the first valid time", () => {
  // 2025-03-30: 02:00 CET jumps to 03:00 CEST; 02:00 does not exist that day.
  assert.deepEqual(runs("0 2 * * *", Date.UTC(2025, 2, 28, 12), 4, "Europe/Berlin"), [
    "2025-03-29T01:00:00.000Z", // 02:00 CET (UTC+1)
    "2025-03-30T01:00:00.000Z", // 03:00 CEST, right after the gap
    "2025-03-31T00:00:00.000Z", // 02:00 CEST (UTC+2)
    "2025-04-01T00:00:00.000Z",
  ]);
});

test("nextCronRun in Europe/Berlin runs once when a wall-clock time repeats in autumn", () => {
  // 2025-10-26: 03:00 CEST falls back to 02:00 CET; 02:30 occurs twice.
  assert.deepEqual(runs("30 2 * * *", Date.UTC(2025, 9, 24, 12), 4, "Europe/Berlin"), [
    "2025-10-25T00:30:00.000Z",
    "2025-10-26T00:30:00.000Z",
    "2025-10-27T01:30:00.000Z",
    "2025-10-28T01:30:00.000Z",
  ]);
});

test("nextCronRun supports ranges, lists, steps and names", () => {
  // 2025-01-03 is a Friday.
  assert.deepEqual(runs("0 9,17 * * MON-FRI", Date.UTC(2025, 0, 3, 12), 3), [
    "2025-01-03T17:00:00.000Z",
    "2025-01-06T09:00:00.000Z",
    "2025-01-06T17:00:00.000Z",
  ]);
  assert.equal(iso(nextCronRun("0 0 1 JAN *", Date.UTC(2025, 5, 1))), "2026-01-01T00:00:00.000Z");
  assert.equal(iso(nextCronRun("@daily", Date.UTC(2025, 5, 1, 5))), "2025-06-02T00:00:00.000Z");
});

test("nextCronRun returns null when the expression never matches", () => {
  assert.equal(nextCronRun("0 0 30 2 *", Date.UTC(2025, 0, 1)), null);
});

test("validateCron accepts 5-field expressions and rejects others with a TypeError saying why", () => {
  validateCron("*/5 * * * *");
  validateCron("0 2 * * *", "America/New_York");
  const bad: [string, RegExp][] = [
    ["0 0 2 * * *", /expected 5 fields .*got 6/],
    ["0 2 * *", /expected 5 fields .*got 4/],
    ["", /got 0/],
    ["61 2 * * *", /Invalid cron expression "61 2 \* \* \*": .*minute/i],
    ["0 2 * * NOPE", /Invalid cron expression/],
  ];
  for (const [expression, message] of bad) {
    assert.throws(() => validateCron(expression), (e: unknown) => {
      assert.ok(e instanceof TypeError, String(e));
      assert.match((e as Error).message, message);
      return true;
    });
    assert.throws(() => nextCronRun(expression, 0), TypeError);
  }
});

test("validateCron rejects unknown time zones with a TypeError", () => {
  for (const timezone of ["Mars/Olympus", ""]) {
    assert.throws(() => validateCron("0 2 * * *", timezone), (e: unknown) => {
      return e instanceof TypeError && /time zone/.test(e.message);
    });
  }
  assert.throws(() => nextCronRun("0 2 * * *", 0, "Not/AZone"), /unknown time zone "Not\/AZone"/);
});

test("nextCronRun rejects a non-finite after", () => {
  assert.throws(() => nextCronRun("* * * * *", NaN), RangeError);
});

test("nextIntervalRun returns the first aligned tick at or after the given time", () => {
  assert.equal(nextIntervalRun(1000, 500, 0), 500);
  assert.equal(nextIntervalRun(1000, 500, 500), 500);
  assert.equal(nextIntervalRun(1000, 500, 501), 1500);
  assert.equal(nextIntervalRun(1000, 500, 1500), 1500);
  assert.equal(nextIntervalRun(1000, 500, 1_000_000_499), 1_000_000_500);
  assert.equal(
    nextIntervalRun(60_000, Date.UTC(2025, 0, 1), Date.UTC(2025, 0, 1, 0, 5, 1)),
    Date.UTC(2025, 0, 1, 0, 6),
  );
});

test("nextIntervalRun rejects a non-positive interval and non-finite times", () => {
  for (const every of [0, -1, NaN, Infinity]) assert.throws(() => nextIntervalRun(every, 0, 0), RangeError);
  assert.throws(() => nextIntervalRun(1, NaN, 0), RangeError);
  assert.throws(() => nextIntervalRun(1, 0, Infinity), RangeError);
});
