import { test } from "node:test";
import assert from "node:assert/strict";
import {
  type Backoff,
  backoffDelay,
  backoffSchedule,
  DEFAULT_BACKOFF,
  MAX_BACKOFF_DELAY,
  validateBackoff,
} from "../../src/backoff.ts";
import { seededRandom } from "../../src/ids.ts";

const HOUR = 3_600_000;

test("DEFAULT_BACKOFF doubles from 1 s and caps at 1 h", () => {
  assert.deepEqual(backoffSchedule(DEFAULT_BACKOFF, 14), [
    1000,
    2000,
    4000,
    8000,
    16_000,
    32_000,
    64_000,
    128_000,
    256_000,
    512_000,
    1_024_000,
    2_048_000,
    HOUR,
    HOUR,
  ]);
  assert.equal(backoffDelay(DEFAULT_BACKOFF, 10_000), HOUR);
  assert.ok(Object.isFrozen(DEFAULT_BACKOFF));
});

test("backoffDelay with a number is a fixed delay", () => {
  assert.deepEqual(backoffSchedule(5000, 3), [5000, 5000, 5000]);
  assert.equal(backoffDelay(0, 7), 0);
});

test("backoffDelay fixed returns the same delay for every attempt", () => {
  assert.deepEqual(backoffSchedule({ type: "fixed", delay: 5000 }, 3), [5000, 5000, 5000]);
});

test("backoffDelay linear grows by delay per attempt up to max", () => {
  assert.deepEqual(backoffSchedule({ type: "linear", delay: 1000, max: 3500 }, 5), [
    1000,
    2000,
    3000,
    3500,
    3500,
  ]);
  assert.equal(backoffDelay({ type: "linear", delay: 1000 }, 10_000), 10_000_000);
});

test("backoffDelay exponential uses factor and max", () => {
  assert.deepEqual(backoffSchedule({ type: "exponential", delay: 100, factor: 3, max: 2000 }, 5), [
    100,
    300,
    900,
    2000,
    2000,
  ]);
  assert.deepEqual(backoffSchedule({ type: "exponential", delay: 100, factor: 1 }, 3), [100, 100, 100]);
});

test("backoffDelay never overflows: huge attempts stay finite integers at the cap", () => {
  const cases: Backoff[] = [
    { type: "exponential", delay: 1000 },
    { type: "exponential", delay: 1, factor: 10 },
    { type: "exponential", delay: 0 },
    { type: "linear", delay: MAX_BACKOFF_DELAY },
    { type: "exponential", delay: 1000, jitter: 1 },
  ];
  const random = seededRandom(3);
  for (const b of cases) {
    for (const attempt of [1, 50, 1024, 10_000, Number.MAX_SAFE_INTEGER]) {
      const ms = backoffDelay(b, attempt, { random });
      assert.ok(Number.isInteger(ms) && ms >= 0 && ms <= MAX_BACKOFF_DELAY, `${JSON.stringify(b)} ${ms}`);
    }
  }
  assert.equal(backoffDelay({ type: "exponential", delay: 1000 }, 10_000), MAX_BACKOFF_DELAY);
  assert.equal(backoffDelay({ type: "exponential", delay: 0 }, 10_000), 0);
});

test("backoffDelay applies jitter only when asked, within [1 - jitter, 1] of the delay", () => {
  const b = { type: "fixed", delay: 10_000, jitter: 0.2 } as const;
  const random = seededRandom(9);
  const seen = Array.from({ length: 500 }, () => backoffDelay(b, 1, { random }));
  assert.ok(seen.every((ms) => ms >= 8000 && ms <= 10_000));
  assert.ok(new Set(seen).size > 100);
  assert.ok(Math.min(...seen) < 8200 && Math.max(...seen) > 9800);
  // Same seed, same delays.
  const again = seededRandom(9);
  assert.deepEqual(Array.from({ length: 500 }, () => backoffDelay(b, 1, { random: again })), seen);
  // No jitter: random is never called.
  let calls = 0;
  assert.equal(backoffDelay({ type: "fixed", delay: 10 }, 1, { random: () => (calls++, 0.5) }), 10);
  assert.equal(calls, 0);
  // Exact scaling.
  assert.equal(
    backoffDelay({ type: "exponential", delay: 1000, jitter: 0.5 }, 2, { random: () => 0.5 }),
    1500,
  );
});

test("backoffDelay jitter without a random generator is a TypeError", () => {
  assert.throws(
    () => backoffDelay({ type: "fixed", delay: 1000, jitter: 0.1 }, 1),
    (e: unknown) => e instanceof TypeError && /needs a random generator/.test(e.message),
  );
  assert.throws(
    () => backoffDelay({ type: "fixed", delay: 1, jitter: 0.1 }, 1, { random: () => 1 }),
    RangeError,
  );
});

test("backoffDelay calls a function with attempt and error, and validates its result", () => {
  const err = new Error("x");
  const calls: unknown[] = [];
  const fn = (attempt: number, error: unknown) => {
    calls.push([attempt, error]);
    return attempt * 10.4;
  };
  assert.equal(backoffDelay(fn, 3, { error: err }), 31);
  assert.deepEqual(calls, [[3, err]]);
  assert.equal(backoffDelay(() => 1e300, 1), MAX_BACKOFF_DELAY);
  for (const bad of [-1, NaN, Infinity, "5" as unknown as number]) {
    assert.throws(() => backoffDelay(() => bad, 2), (e: unknown) => {
      return e instanceof RangeError && /backoff function returned/.test(e.message);
    });
  }
});

test("backoffDelay rejects attempts that are not integers >= 1", () => {
  for (const attempt of [0, -1, 1.5, NaN, Infinity]) {
    assert.throws(() => backoffDelay(1000, attempt), /attempt must be an integer >= 1/);
  }
});

test("validateBackoff accepts well-formed backoffs", () => {
  for (
    const b of [
      0,
      1000,
      () => 1,
      DEFAULT_BACKOFF,
      { type: "fixed", delay: 0, jitter: 1 },
      { type: "linear", delay: 10, max: 10 },
      { type: "exponential", delay: 10, factor: 1.5, max: 100, jitter: 0 },
    ] satisfies Backoff[]
  ) validateBackoff(b);
});

test("validateBackoff rejects malformed backoffs with clear messages", () => {
  const bad: [unknown, ErrorConstructor, RegExp][] = [
    [-1, RangeError, /delay must be >= 0 ms, got -1/],
    [NaN, TypeError, /delay must be a finite number/],
    [MAX_BACKOFF_DELAY + 1, RangeError, /more than the limit/],
    [null, TypeError, /got null/],
    ["1s", TypeError, /got string/],
    [
      { type: "random", delay: 1 },
      TypeError,
      /type must be "fixed", "linear" or "exponential", got "random"/,
    ],
    [{ delay: 1 }, TypeError, /type must be/],
    [{ type: "fixed" }, TypeError, /delay must be a finite number of ms, got undefined/],
    [{ type: "fixed", delay: -5 }, RangeError, /delay must be >= 0/],
    [{ type: "linear", delay: 10, max: 5 }, RangeError, /max \(5 ms\) must be >= delay \(10 ms\)/],
    [{ type: "linear", delay: 10, max: -5 }, RangeError, /max must be >= 0/],
    [{ type: "exponential", delay: 10, factor: 0.5 }, RangeError, /factor must be >= 1, got 0.5/],
    [{ type: "exponential", delay: 10, factor: Infinity }, TypeError, /factor must be a finite number/],
    [{ type: "fixed", delay: 10, jitter: 1.5 }, RangeError, /jitter must be in \[0, 1\], got 1.5/],
    [{ type: "fixed", delay: 10, jitter: -0.1 }, RangeError, /jitter must be in \[0, 1\]/],
    [{ type: "fixed", delay: 10, jitter: NaN }, TypeError, /jitter must be a number/],
  ];
  for (const [b, type, message] of bad) {
    assert.throws(() => validateBackoff(b as Backoff), (e: unknown) => {
      assert.ok(e instanceof type, `${JSON.stringify(b)}: ${e}`);
      assert.match((e as Error).message, message);
      return true;
    });
    assert.throws(() => backoffDelay(b as Backoff, 1), type);
  }
});
