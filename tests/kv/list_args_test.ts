// The list() argument checks every adapter shares (src/kv.ts): selectorRange() and
// checkListOptions(). The conformance suite checks the same rules through each adapter.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  checkListOptions,
  compareBytes,
  encodeKey,
  type KvListOptions,
  selectorRange,
} from "../../src/kv.ts";

test("checkListOptions() fills in no limit and ascending order", () => {
  assert.deepEqual(checkListOptions(undefined), { limit: Infinity, reverse: false });
  assert.deepEqual(checkListOptions({}), { limit: Infinity, reverse: false });
  assert.deepEqual(checkListOptions({ limit: 0, reverse: true }), { limit: 0, reverse: true });
  assert.deepEqual(checkListOptions({ limit: 7, reverse: false }), { limit: 7, reverse: false });
});

test("checkListOptions() rejects a limit that is not a non-negative integer with a RangeError naming it", () => {
  const bad: [unknown, RegExp][] = [
    [2.3, /got 2\.3/],
    [-1, /got -1/],
    [NaN, /got NaN/],
    [Infinity, /got Infinity/],
    ["3", /got "3"/],
    [3n, /got 3n/],
    [null, /got null/],
    [{}, /got object/],
  ];
  for (const [limit, message] of bad) {
    assert.throws(
      () => checkListOptions({ limit } as unknown as KvListOptions),
      (e: unknown) =>
        e instanceof RangeError && /non-negative integer/.test(e.message) && message.test(e.message),
      `limit ${String(limit)}`,
    );
  }
});

test("checkListOptions() rejects a reverse that is not a boolean, and options that are not an object, with TypeError", () => {
  for (const reverse of ["yes", 1, 0, null]) {
    assert.throws(() => checkListOptions({ reverse } as unknown as KvListOptions), TypeError);
  }
  for (const options of [null, 5, "x"]) {
    assert.throws(() => checkListOptions(options as unknown as KvListOptions), TypeError);
  }
});

test("selectorRange() starts a prefix range after the prefix key, also when start is the prefix key", () => {
  const prefix = encodeKey(["a"]);
  for (const selector of [{ prefix: ["a"] }, { prefix: ["a"], start: ["a"] }]) {
    const { start, end } = selectorRange(selector);
    assert.ok(compareBytes(start, prefix) > 0, "the prefix key is before the range");
    assert.ok(
      compareBytes(start, encodeKey(["a", new Uint8Array()])) <= 0,
      "the first key under it is inside",
    );
    assert.ok(compareBytes(end, encodeKey(["a", true, true])) > 0, "the last keys under it are inside");
  }
  const later = selectorRange({ prefix: ["a"], start: ["a", 2] });
  assert.equal(compareBytes(later.start, encodeKey(["a", 2])), 0, "a start under the prefix is kept");
});

test("selectorRange() rejects malformed selectors with TypeError", () => {
  const bad: unknown[] = [
    null,
    "a",
    {},
    { start: ["a"] },
    { prefix: ["a"], start: ["b"] },
    { prefix: ["a"], end: ["b"] },
    { prefix: "a" },
    { prefix: ["a"], start: ["a\0"] }, // starts with ["a"]'s bytes, but is not under ["a"]
    { prefix: [new Uint8Array([1])], end: [new Uint8Array([1, 0])] },
  ];
  for (const selector of bad) {
    assert.throws(() => selectorRange(selector as never), TypeError, JSON.stringify(selector));
  }
});
