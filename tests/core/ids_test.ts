import { test } from "node:test";
import assert from "node:assert/strict";
import { isUlid, monotonicUlid, seededRandom, ulidTime } from "../../src/ids.ts";

const T = 1_700_000_000_000;

test("monotonicUlid makes 26-char Crockford ULIDs that carry their time", () => {
  const next = monotonicUlid();
  const id = next(T);
  assert.equal(id.length, 26);
  assert.ok(isUlid(id), id);
  assert.equal(ulidTime(id), T);
  assert.equal(
    ulidTime(monotonicUlid()(0)),
    1,
    "time 0 is taken as 1 ms (the package reads 0 as now)",
  );
  assert.equal(ulidTime(monotonicUlid()(2 ** 48 - 1)), 2 ** 48 - 1);
});

test("monotonicUlid is strictly increasing within the same millisecond", () => {
  const next = monotonicUlid();
  const ids = Array.from({ length: 1000 }, () => next(T));
  for (let i = 1; i < ids.length; i++) {
    assert.ok(ids[i - 1]! < ids[i]!, `${ids[i - 1]} < ${ids[i]}`);
  }
  assert.ok(ids.every((id) => ulidTime(id) === T));
});

test("monotonicUlid stays strictly increasing when the clock goes backwards", () => {
  const next = monotonicUlid();
  const a = next(T);
  const b = next(T - 5_000);
  const c = next(T - 10_000);
  const d = next(T + 1);
  assert.ok(a < b && b < c && c < d, [a, b, c, d].join(" "));
  assert.equal(ulidTime(b), T);
  assert.equal(ulidTime(d), T + 1);
});

test("monotonicUlid moves the time on by 1 ms when the random part is exhausted", () => {
  const next = monotonicUlid(() => 0.99999);
  const a = next(T);
  assert.ok(a.endsWith("Z".repeat(16)), a);
  const b = next(T);
  assert.ok(a < b);
  assert.equal(ulidTime(b), T + 1);
});

test("monotonicUlid with a seeded random is deterministic", () => {
  const run = () => {
    const next = monotonicUlid(seededRandom(42));
    return [next(T), next(T), next(T + 1), next(T - 1)];
  };
  assert.deepEqual(run(), run());
  const other = monotonicUlid(seededRandom(43))(T);
  assert.notEqual(other, run()[0]);
});

test("monotonicUlid floors fractional times and rejects invalid ones", () => {
  const next = monotonicUlid(seededRandom(1));
  assert.equal(ulidTime(next(T + 0.7)), T);
  assert.throws(() => next(-1), RangeError);
  assert.throws(() => next(NaN), /time must be/);
  assert.throws(() => next(2 ** 48), RangeError);
  assert.throws(() => monotonicUlid(() => 1)(T), /random\(\) must return/);
});

test("seededRandom is deterministic, in [0,1) and spread out", () => {
  const a = seededRandom(7), b = seededRandom(7);
  const xs = Array.from({ length: 10_000 }, () => a());
  assert.deepEqual(xs.slice(0, 5), Array.from({ length: 5 }, () => b()));
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  assert.ok(Math.abs(mean - 0.5) < 0.02, String(mean));
  assert.notEqual(seededRandom(8)(), seededRandom(7)());
});

test("ulidTime rejects strings that are not ULIDs", () => {
  assert.equal(ulidTime("01ARZ3NDEKTSV4RRFFQ69G5FAV"), 1469922850259);
  assert.throws(() => ulidTime("short"), TypeError);
  assert.throws(
    () => ulidTime("01ARZ3NDEKTSV4RRFFQ69G5FAU".replace("U", "I")),
    /not a 26-character ULID/,
  );
  assert.throws(() => ulidTime("81ARZ3NDEKTSV4RRFFQ69G5FAV"), TypeError);
  assert.equal(isUlid("01arz3ndektsv4rrffq69g5fav"), false);
});

test("monotonicUlid's default generator draws random parts from a pool, 16 ids per getRandomValues call", () => {
  const original = crypto.getRandomValues;
  let calls = 0;
  Object.defineProperty(crypto, "getRandomValues", {
    configurable: true,
    writable: true,
    value: <T extends ArrayBufferView | null>(array: T): T => {
      calls++;
      return original.call(crypto, array as Uint8Array) as unknown as T;
    },
  });
  try {
    const next = monotonicUlid();
    const ids = [next(T), next(T + 1), next(T + 2)];
    assert.ok(calls <= 1, `at most one refill for 3 fresh ids, got ${calls}`);
    const before = calls;
    for (let i = 0; i < 50; i++) next(T + 2); // same ms: incremented, no draw
    assert.equal(calls, before);
    const spread = new Set(
      Array.from({ length: 200 }, (_, i) => next(T + 10 + i).slice(10)),
    );
    assert.equal(spread.size, 200);
    assert.ok(
      calls - before <= Math.ceil((200 * 16) / 256) + 1,
      `${calls - before} refills for 200 ids`,
    );
    for (const id of ids) assert.ok(isUlid(id), id);
  } finally {
    delete (crypto as { getRandomValues?: unknown }).getRandomValues;
    if (crypto.getRandomValues !== original) {
      Object.defineProperty(crypto, "getRandomValues", {
        configurable: true,
        writable: true,
        value: original,
      });
    }
  }
});
