// The key codec: decode(encode(k)) returns k, and the bytewise order of encodings equals the key
// order of Deno KV, checked by property tests against a reference comparator written from the
// rules (not from the encoding), plus examples of exact orderings.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  binaryKeyBytes,
  compareBytes,
  compareKeys,
  decodeKey,
  decodeKeyBinary,
  encodeKey,
  encodeKeyBinary,
  formatVersionstamp,
  type KvKey,
  type KvKeyPart,
  selectorRange,
} from "../../src/kv.ts";

const RUNS = 10_000;

// ---------------------------------------------------------------------------------------------
// Reference order, from Deno KV's rules: by type (Uint8Array < string < bigint < number <
// boolean); bytes bytewise; strings by Unicode code point (= UTF-8 bytewise); bigints and numbers
// numerically with -0 < 0 and NaN after everything; false < true; a key before its extensions.

function rank(p: KvKeyPart): number {
  if (p instanceof Uint8Array) return 0;
  switch (typeof p) {
    case "string":
      return 1;
    case "bigint":
      return 2;
    case "number":
      return 3;
    case "boolean":
      return 4;
  }
  throw new TypeError(`not a key part: ${typeof p}`);
}

function compareSequences(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  return Math.sign(a.length - b.length);
}

function codePoints(s: string): number[] {
  return Array.from(s, (c) => c.codePointAt(0)!);
}

function compareNumbers(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) ? (Number.isNaN(b) ? 0 : 1) : -1;
  if (a !== b) return a < b ? -1 : 1;
  if (Object.is(a, -0) && Object.is(b, 0)) return -1;
  if (Object.is(a, 0) && Object.is(b, -0)) return 1;
  return 0;
}

function comparePart(a: KvKeyPart, b: KvKeyPart): number {
  const ra = rank(a), rb = rank(b);
  if (ra !== rb) return ra < rb ? -1 : 1;
  if (a instanceof Uint8Array) return compareSequences(a, b as Uint8Array);
  if (typeof a === "string") return compareSequences(codePoints(a), codePoints(b as string));
  if (typeof a === "bigint") return a === b ? 0 : a < (b as bigint) ? -1 : 1;
  if (typeof a === "number") return compareNumbers(a, b as number);
  return a === b ? 0 : a ? 1 : -1;
}

function referenceCompare(a: KvKey, b: KvKey): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = comparePart(a[i], b[i]);
    if (c !== 0) return c;
  }
  return Math.sign(a.length - b.length);
}

// ---------------------------------------------------------------------------------------------
// Arbitraries covering every part type and its edges.

const bytesArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ maxLength: 8 }),
  fc.array(fc.constantFrom(0x00, 0xff, 0x01, 0xfe), { maxLength: 6 }).map((a) => Uint8Array.from(a)),
);

const EDGE_CHARS = [
  "\0",
  "\x01",
  "a",
  "b",
  "\x7f",
  "\x80",
  "é",
  "\u07ff",
  "\u0800",
  "\ud7ff",
  "\ue000",
  "\uffff",
  "😀",
  "\u{10ffff}",
];
const stringArb: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: "binary", maxLength: 8 }), // any code point, surrogate pairs included, well-formed
  fc.string({ maxLength: 8 }),
  fc.array(fc.constantFrom(...EDGE_CHARS), { maxLength: 6 }).map((a) => a.join("")),
);

const BIG_EDGES = [
  0n,
  1n,
  -1n,
  255n,
  256n,
  -255n,
  -256n,
  2n ** 63n,
  2n ** 64n - 1n,
  2n ** 64n,
  2n ** 2040n - 1n,
  2n ** 2040n,
];
const bigintArb: fc.Arbitrary<bigint> = fc.oneof(
  fc.bigInt({ min: -1000n, max: 1000n }),
  fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }),
  // any width up to 2200 bits (> 255 bytes): pick the width first so every size is likely
  fc.integer({ min: 0, max: 2200 }).chain((bits) =>
    fc.bigInt({ min: -(1n << BigInt(bits)), max: 1n << BigInt(bits) })
  ),
  fc.tuple(fc.constantFrom(...BIG_EDGES), fc.bigInt({ min: -2n, max: 2n }), fc.boolean())
    .map(([edge, delta, neg]) => (neg ? -1n : 1n) * (edge + delta)),
);

const numberArb: fc.Arbitrary<number> = fc.oneof(
  fc.double(), // includes -0, NaN and ±Infinity
  fc.integer({ min: -5, max: 5 }),
  fc.constantFrom(
    0,
    -0,
    NaN,
    Infinity,
    -Infinity,
    Number.MIN_VALUE,
    -Number.MIN_VALUE,
    Number.MAX_VALUE,
    -Number.MAX_VALUE,
  ),
);

const partArb: fc.Arbitrary<KvKeyPart> = fc.oneof(bytesArb, stringArb, bigintArb, numberArb, fc.boolean());
const keyArb: fc.Arbitrary<KvKeyPart[]> = fc.array(partArb, { maxLength: 4 });

/** Two parts of one type, so comparisons inside a type are frequent. */
const sameTypePairArb: fc.Arbitrary<[KvKeyPart, KvKeyPart]> = fc.oneof(
  fc.tuple(bytesArb, bytesArb),
  fc.tuple(stringArb, stringArb),
  fc.tuple(bigintArb, bigintArb),
  fc.tuple(numberArb, numberArb),
  fc.tuple(fc.boolean(), fc.boolean()),
);

const copy = (k: KvKey): KvKeyPart[] => k.map((p) => (p instanceof Uint8Array ? p.slice() : p));

type Pair = [KvKeyPart[], KvKeyPart[]];
const pairArb: fc.Arbitrary<Pair> = fc.oneof(
  fc.tuple(keyArb, keyArb),
  fc.tuple(keyArb, keyArb, keyArb).map(([p, a, b]): Pair => [[...p, ...a], [...p, ...b]]),
  fc.tuple(keyArb, sameTypePairArb, keyArb, keyArb)
    .map(([p, [x, y], a, b]): Pair => [[...p, x, ...a], [...p, y, ...b]]),
  keyArb.map((k): Pair => [k, copy(k)]),
);

// ---------------------------------------------------------------------------------------------

describe("key codec", () => {
  test("decodeKey(encodeKey(k)) returns k for every key part type", () => {
    fc.assert(
      fc.property(keyArb, (key) => {
        assert.deepStrictEqual(decodeKey(encodeKey(key)), key); // Object.is: -0 stays -0, NaN equals NaN
      }),
      { numRuns: RUNS },
    );
  });

  test("bytewise order of encodings equals the reference key order", () => {
    fc.assert(
      fc.property(pairArb, ([a, b]) => {
        const expected = referenceCompare(a, b);
        assert.equal(Math.sign(compareBytes(encodeKey(a), encodeKey(b))), expected);
        assert.equal(Math.sign(compareKeys(a, b)), expected);
      }),
      { numRuns: RUNS },
    );
  });

  test("encodeKey() rejects strings with a lone surrogate with TypeError", () => {
    const loneArb = fc.tuple(
      fc.string({ unit: "binary", maxLength: 4 }),
      fc.oneof(
        fc.integer({ min: 0xd800, max: 0xdbff }).map((c) => String.fromCharCode(c) + "x"), // high, unpaired
        fc.integer({ min: 0xdc00, max: 0xdfff }).map((c) => "x" + String.fromCharCode(c)), // low, unpaired
        fc.integer({ min: 0xd800, max: 0xdbff }).map((c) => String.fromCharCode(c)), // high at the end
      ),
      fc.boolean(),
    ).map(([head, lone, atEnd]) => (atEnd ? head + lone : lone + head));
    fc.assert(
      fc.property(loneArb, keyArb, (s, rest) => {
        assert.throws(() => encodeKey([s]), TypeError);
        assert.throws(() => encodeKey([...rest, s]), TypeError);
      }),
      { numRuns: 2_000 },
    );
  });

  test("compareKeys() orders types as Uint8Array < string < bigint < number < boolean", () => {
    const ordered: KvKey[] = [
      [new Uint8Array([0xff])],
      ["\u{10ffff}"],
      [-(2n ** 3000n)],
      [2n ** 3000n],
      [-Infinity],
      [NaN],
      [
        false,
      ],
      [true],
    ];
    for (let i = 1; i < ordered.length; i++) assert.ok(compareKeys(ordered[i - 1], ordered[i]) < 0, `${i}`);
    assert.ok(compareKeys([1n], [1]) < 0, "bigint before number");
    assert.ok(compareKeys([""], [0n]) < 0, "string before bigint");
  });

  test("compareKeys() puts -0 before 0, NaN after Infinity, and big bigints by size", () => {
    assert.ok(compareKeys([-0], [0]) < 0);
    assert.ok(compareKeys([Infinity], [NaN]) < 0);
    assert.ok(compareKeys([-Number.MIN_VALUE], [-0]) < 0);
    assert.equal(compareKeys([NaN], [-NaN]), 0);
    assert.ok(compareKeys([2n ** 64n - 1n], [2n ** 64n]) < 0, "8 bytes before 9 bytes");
    assert.ok(compareKeys([2n ** 2040n - 1n], [2n ** 2040n]) < 0, "255 bytes before 256 bytes");
    assert.ok(compareKeys([-(2n ** 2040n)], [-(2n ** 2040n) + 1n]) < 0, "negative: 256 bytes before 255");
    assert.ok(compareKeys([-(2n ** 64n)], [-(2n ** 64n) + 1n]) < 0, "negative: 9 bytes before 8");
    assert.deepStrictEqual(decodeKey(encodeKey([-(2n ** 5000n), 2n ** 5000n])), [
      -(2n ** 5000n),
      2n ** 5000n,
    ]);
  });

  test("compareKeys() orders strings by code point and a key before its extensions", () => {
    assert.ok(compareKeys(["\ue000"], ["😀"]) < 0, "U+E000 before U+1F600 although UTF-16 says otherwise");
    assert.ok("\ue000" > "😀", "the JavaScript comparison really differs");
    assert.ok(compareKeys(["a"], ["a", new Uint8Array()]) < 0);
    assert.ok(compareKeys(["a", true], ["a\0"]) < 0, "[a, anything] before [a\\0]");
    assert.ok(compareKeys(["a\0"], ["a\x01"]) < 0);
    assert.ok(compareKeys([new Uint8Array([1])], [new Uint8Array([1, 0])]) < 0);
    assert.ok(compareKeys([new Uint8Array([1]), "z"], [new Uint8Array([1, 0])]) < 0);
    assert.equal(compareKeys([], []), 0);
    assert.ok(compareKeys([], [false]) < 0);
  });

  test("encodeKey() rejects values that are not key parts with TypeError", () => {
    for (const bad of [{}, null, undefined, Symbol("s"), [1], () => 1]) {
      assert.throws(() => encodeKey([bad as unknown as KvKeyPart]), TypeError);
    }
    assert.throws(() => encodeKey("abc" as unknown as KvKey), TypeError);
  });

  test("decodeKey() rejects malformed bytes with TypeError", () => {
    const bad = [
      [0x02, 0x61], // unterminated string
      [0x01, 0x00, 0xff], // unterminated escaped bytes
      [0x21, 0x80, 0], // truncated number
      [0x16, 0x01], // truncated 2-byte integer
      [0x1d], // truncated big integer
      [0x00], // unknown tag
      [0x02, 0xff, 0x00], // invalid UTF-8
    ];
    for (const b of bad) assert.throws(() => decodeKey(Uint8Array.from(b)), TypeError, `[${b.join(", ")}]`);
  });

  // Keys shaped like a queue's (ASCII names, ids, numbers), where encodeKeyBinary takes its fast paths.
  const queueKeyArb: fc.Arbitrary<KvKeyPart[]> = fc.array(
    fc.oneof(
      fc.string({ unit: fc.constantFrom("a", "0", "\0", "\x7f", "\x80", "\xff", "é") }),
      numberArb,
      partArb,
    ),
    { maxLength: 6 },
  );
  const binaryOf = (bytes: Uint8Array) => Array.from(bytes, (b) => String.fromCharCode(b)).join("");

  test("encodeKeyBinary() is encodeKey()'s bytes one char per byte, and binaryKeyBytes() inverts it", () => {
    fc.assert(
      fc.property(fc.oneof(keyArb, queueKeyArb), (key) => {
        const bytes = encodeKey(key);
        const s = encodeKeyBinary(key);
        assert.equal(s, binaryOf(bytes));
        assert.deepStrictEqual(binaryKeyBytes(s), bytes);
      }),
      { numRuns: RUNS },
    );
  });

  test("decodeKeyBinary(encodeKeyBinary(k)) returns k for every key part type", () => {
    fc.assert(
      fc.property(fc.oneof(keyArb, queueKeyArb), (key) => {
        assert.deepStrictEqual(decodeKeyBinary(encodeKeyBinary(key)), key);
      }),
      { numRuns: RUNS },
    );
  });

  test("encodeKeyBinary() rejects what encodeKey() rejects with TypeError", () => {
    for (const bad of [{}, null, undefined, Symbol("s"), [1], () => 1, "\ud800", "a\udc00"]) {
      assert.throws(() => encodeKeyBinary(["ok", bad as unknown as KvKeyPart]), TypeError);
    }
    assert.throws(() => encodeKeyBinary("abc" as unknown as KvKey), TypeError);
  });

  test("decodeKeyBinary() rejects malformed input with TypeError", () => {
    const bad = ["\x02a", "\x02a\0\x02b", "\x01\0\xff", "\x21\x80\0", "\x16\x01", "\x1d", "\0", "\x02\xff\0"];
    for (const s of bad) assert.throws(() => decodeKeyBinary(s), TypeError, JSON.stringify(s));
  });

  test("selectorRange() covers keys strictly under the prefix", () => {
    const { start, end } = selectorRange({ prefix: ["a"] });
    const inside = (k: KvKey) =>
      compareBytes(encodeKey(k), start) >= 0 && compareBytes(encodeKey(k), end) < 0;
    assert.equal(inside(["a"]), false, "the prefix key itself");
    assert.equal(inside(["a", new Uint8Array()]), true);
    assert.equal(inside(["a", true, "deep"]), true);
    assert.equal(inside(["a\0"]), false);
    assert.equal(inside(["ab"]), false);
    assert.throws(() => selectorRange({ prefix: ["a"], start: ["b"] }), TypeError);
    assert.throws(() => selectorRange({ prefix: ["a"], end: ["b"] }), TypeError);
  });

  test("formatVersionstamp() output compares as strings in sequence order", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 2n ** 80n - 1n }),
        fc.bigInt({ min: 0n, max: 2n ** 80n - 1n }),
        (a, b) => {
          const [x, y] = [formatVersionstamp(a), formatVersionstamp(b)];
          assert.equal(x.length, 20);
          assert.equal(x < y, a < b);
        },
      ),
      { numRuns: 1_000 },
    );
  });
});
