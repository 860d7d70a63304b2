/**
 * Conformance cases: key order across every key part type, as Deno KV orders keys. By type first,
 * `Uint8Array < string < bigint < number < boolean`; then bytewise for bytes and UTF-8 strings
 * (code point order, not UTF-16 order), numerically for bigints of any size and for numbers
 * (`-0` before `0`, `NaN` last), `false < true`; a key sorts before every key it is a prefix of.
 *
 * @module
 */

import type { KvKey, KvKeyPart } from "../src/kv.ts";
import {
  assertBytes,
  assertKey,
  assertKeyList,
  type CaseDef,
  collect,
  shuffled,
  u8,
  writeAll,
} from "./_harness.ts";

/** Single key parts in store order (written here by hand, not computed by the codec). */
const ORDERED_PARTS: readonly KvKeyPart[] = [
  // Uint8Array: bytewise, shorter first when one is a prefix of the other.
  u8(),
  u8(0x00),
  u8(0x00, 0x00),
  u8(0x00, 0xff),
  u8(0x01),
  u8(0x7f),
  u8(0x80),
  u8(0xff),
  u8(0xff, 0x00),
  u8(0xff, 0xff),
  // string: UTF-8 bytewise, that is code point order. "\ue000" sorts before "😀" although
  // JavaScript's < (UTF-16 code units) puts it after.
  "",
  "\0",
  "\0\0",
  "\0\x01",
  "\x01",
  "A",
  "Z",
  "a",
  "a\0",
  "a\0\0",
  "a\x01",
  "ab",
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
  "😀\0",
  "\u{10ffff}",
  // bigint: numerically, across the 8-byte boundary, up to 255 bytes (> 255: a case of its own).
  -(2n ** 2040n) + 1n, // 255 bytes, the widest Deno KV stores
  -(2n ** 1000n),
  -(2n ** 64n) - 1n,
  -(2n ** 64n),
  -(2n ** 64n) + 1n,
  -(2n ** 63n),
  -65536n,
  -256n,
  -255n,
  -2n,
  -1n,
  0n,
  1n,
  2n,
  255n,
  256n,
  65536n,
  2n ** 53n,
  2n ** 63n,
  2n ** 64n - 1n,
  2n ** 64n,
  2n ** 64n + 1n,
  2n ** 1000n,
  2n ** 2040n - 1n,
  // number: numerically, -0 before 0, NaN last.
  -Infinity,
  -Number.MAX_VALUE,
  -1e300,
  -(2 ** 53),
  -2,
  -1.5,
  -1,
  -Number.MIN_VALUE,
  0, // -0 has a case of its own
  Number.MIN_VALUE,
  0.5,
  1,
  1.5,
  2,
  2 ** 53,
  1e300,
  Number.MAX_VALUE,
  Infinity,
  NaN,
  // boolean
  false,
  true,
];

/** Multi-part keys in store order: a key sorts before the keys it is a prefix of. */
const ORDERED_TUPLES: readonly KvKey[] = [
  [u8(1)],
  [u8(1), u8(1)],
  [u8(1), true],
  [u8(1, 0)],
  ["a"],
  ["a", u8()],
  ["a", ""],
  ["a", "", ""],
  ["a", "b"],
  ["a", -1n],
  ["a", 0n],
  ["a", 0],
  ["a", false],
  ["a", true],
  ["a\0"],
  ["a\0", "a"],
  ["a\x01"],
  ["ab"],
  [1n],
  [1n, 1n],
  [1n, 1],
  [1],
  [1, "x"],
  [1, "x", 1],
  [2],
  [false, true],
  [true],
  [true, false],
  [true, true],
];

/** The ordering cases. */
export const orderingCases: readonly CaseDef[] = [
  {
    name: "list() orders single-part keys by type, then by value, as Deno KV does",
    async run(s) {
      const kv = await s.open();
      const keys = ORDERED_PARTS.map((p) => s.key(p));
      await writeAll(kv, shuffled(keys).map((k) => [k, u8(1)] as const));
      const listed = (await collect(kv.list({ prefix: s.key() }))).map((e) => e.key);
      assertKeyList(listed, keys, "ascending");
      const reversed = (await collect(kv.list({ prefix: s.key() }, { reverse: true }))).map((e) => e.key);
      assertKeyList(reversed, [...keys].reverse(), "descending");
      for (const k of keys) assertKey((await kv.get(k))?.key, k, "get() of an ordering key");
    },
  },
  {
    name: "list() orders a key before the keys it is a prefix of",
    async run(s) {
      const kv = await s.open();
      const keys = ORDERED_TUPLES.map((t) => s.key(...t));
      await writeAll(kv, shuffled(keys, 7).map((k) => [k, u8(1)] as const));
      const listed = (await collect(kv.list({ prefix: s.key() }))).map((e) => e.key);
      assertKeyList(listed, keys, "ascending");
      const reversed = (await collect(kv.list({ prefix: s.key() }, { reverse: true }))).map((e) => e.key);
      assertKeyList(reversed, [...keys].reverse(), "descending");
    },
  },
  {
    name: "list() ranges that cross type boundaries select whole types",
    async run(s) {
      const kv = await s.open();
      const keys = ORDERED_PARTS.map((p) => s.key(p));
      await writeAll(kv, keys.map((k) => [k, u8(1)] as const));
      const select = async (start: KvKeyPart, end: KvKeyPart): Promise<KvKey[]> =>
        (await collect(kv.list({ start: s.key(start), end: s.key(end) }))).map((e) => e.key);
      const ofType = (pred: (p: KvKeyPart) => boolean): KvKey[] =>
        ORDERED_PARTS.filter(pred).map((p) => s.key(p));
      assertKeyList(await select(u8(), ""), ofType((p) => p instanceof Uint8Array), '[u8(), "")');
      assertKeyList(
        await select("", -Infinity),
        ofType((p) => typeof p === "string" || typeof p === "bigint"),
        '["", -Infinity)',
      );
      assertKeyList(
        await select(-Infinity, false),
        ofType((p) => typeof p === "number"),
        "[-Infinity, false)",
      );
      assertKeyList(await select(0, 0.5), [s.key(0), s.key(Number.MIN_VALUE)], "[0, 0.5)");
      assertKeyList(
        await select(0n, -Infinity),
        ofType((p) => typeof p === "bigint" && p >= 0n),
        "[0n, -Infinity)",
      );
    },
  },
  {
    name: "-0 and 0 are different keys and -0 sorts first",
    async run(s) {
      const kv = await s.open();
      const keys = [s.key(-Number.MIN_VALUE), s.key(-0), s.key(0), s.key(Number.MIN_VALUE)];
      await writeAll(kv, shuffled(keys).map((k) => [k, u8(keys.indexOf(k))] as const));
      const listed = await collect(kv.list({ prefix: s.key() }));
      assertKeyList(listed.map((e) => e.key), keys, "ascending");
      listed.forEach((e, i) => assertBytes(e.value, u8(i), `value of ${i}`));
      assertKey((await kv.get(s.key(-0)))?.key, s.key(-0), "get([-0]).key keeps the sign");
      const range = await collect(kv.list({ start: s.key(-0), end: s.key(Number.MIN_VALUE) }));
      assertKeyList(range.map((e) => e.key), [s.key(-0), s.key(0)], "[-0, MIN_VALUE)");
    },
  },
  {
    name: "list() orders bigints wider than 255 bytes by value",
    async run(s) {
      const kv = await s.open();
      const parts: KvKeyPart[] = [
        "",
        -(2n ** 2100n),
        -(2n ** 2040n) - 1n,
        -(2n ** 2040n),
        -(2n ** 2040n) + 1n,
        -(2n ** 64n),
        0n,
        2n ** 64n,
        2n ** 2040n - 1n,
        2n ** 2040n,
        2n ** 2040n + 1n,
        2n ** 2100n,
        2n ** 4000n,
        -Infinity,
      ];
      const keys = parts.map((p) => s.key(p));
      await writeAll(kv, shuffled(keys, 3).map((k) => [k, u8(1)] as const));
      assertKeyList((await collect(kv.list({ prefix: s.key() }))).map((e) => e.key), keys, "ascending");
      for (const k of keys) assertKey((await kv.get(k))?.key, k, "get() of a wide bigint key");
    },
  },
];
